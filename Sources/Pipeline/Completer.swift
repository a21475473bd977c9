import Compute
import Foundation
import Imaging
import Inpainting
import Models
import SuperResolution

public struct CompletionError: Error, CustomStringConvertible {
  public let description: String
  public init(_ d: String) { description = d }
}

/// The paper's pipeline (inpaint at the generator's 64×64, super-resolve 4×, merge) for images up
/// to 256×256, and for larger images whose hole fits a 256×256 window.
///
/// 1. image and mask are downscaled to 64×64 — the image by area averaging, the mask by the rule
///    "a low-resolution pixel is missing if any high-resolution pixel it covers is missing";
/// 2. the 64×64 image is inpainted (multi-start latent optimisation, prior, Poisson blend);
/// 3. the result is super-resolved 4× (SRResNet or SRGAN) and resized to the window's size;
/// 4. only hole pixels take new values — known pixels are returned bit-identical — and the seam is
///    blended (Poisson at full resolution by default).
public final class Completer {
  public static let generatorSize = 64
  public static let maxWindow = 256

  public let inpainter: Inpainter
  public let upscaler: Upscaler
  public let blend64: BlendMode
  public let merge: BlendMode

  public struct Stages: Sendable {
    public var window: (x: Int, y: Int, width: Int, height: Int)
    public var input64: Image
    public var mask64: Mask
    public var generated64: Image
    public var inpainted64: Image
    public var superResolved: Image
    public var merged: Image
    public var result: InpaintResult
  }

  public init(inpainter: Inpainter, upscaler: Upscaler, blend64: BlendMode = .poisson, merge: BlendMode = .poisson) {
    precondition(inpainter.images == 1)
    self.inpainter = inpainter; self.upscaler = upscaler; self.blend64 = blend64; self.merge = merge
  }

  /// Downscales a mask: output pixel (x, y) covers input [x·W/w, (x+1)·W/w) × [y·H/h, (y+1)·H/h)
  /// (every input pixel overlapping that rectangle) and is missing if any of them is missing.
  public static func downscale(_ m: Mask, width w: Int, height h: Int) -> Mask {
    var out = Mask(width: w, height: h)
    for y in 0..<h {
      let y0 = y * m.height / h, y1 = max(y0 + 1, ((y + 1) * m.height + h - 1) / h)
      for x in 0..<w {
        let x0 = x * m.width / w, x1 = max(x0 + 1, ((x + 1) * m.width + w - 1) / w)
        var any = false
        for yy in y0..<min(y1, m.height) where !any { for xx in x0..<min(x1, m.width) where m[xx, yy] { any = true; break } }
        out[x, y] = any
      }
    }
    return out
  }

  /// Chooses the region to complete: the whole image up to 256×256; otherwise a window of at most
  /// 256×256 centred on the hole and clamped to the image. Throws when the hole does not fit.
  public static func window(for m: Mask) throws -> (x: Int, y: Int, width: Int, height: Int) {
    if m.width <= maxWindow && m.height <= maxWindow { return (0, 0, m.width, m.height) }
    guard let b = m.holeBounds else { throw CompletionError("the mask has no missing pixels: nothing to complete") }
    let ww = min(maxWindow, m.width), wh = min(maxWindow, m.height)
    guard b.width <= ww - 8 && b.height <= wh - 8 else {
      throw CompletionError("the hole spans \(b.width)×\(b.height) pixels; mend completes holes that fit a \(maxWindow)×\(maxWindow) "
                            + "window with context (4× the generator's 64×64) — crop or downscale the image first")
    }
    let cx = b.x + b.width / 2, cy = b.y + b.height / 2
    let x = min(max(0, cx - ww / 2), m.width - ww), y = min(max(0, cy - wh / 2), m.height - wh)
    return (x, y, ww, wh)
  }

  /// Step 4: `upscaled` (any size) is resized to the window, blended into the window of `image`
  /// inside the hole, and pasted back. Pixels outside the hole are returned bit-identical.
  public static func merge(_ upscaled: Image, into image: Image, mask: Mask,
                           window win: (x: Int, y: Int, width: Int, height: Int), mode: BlendMode) -> Image {
    let crop = image.crop(x: win.x, y: win.y, width: win.width, height: win.height)
    var cmask = Mask(width: win.width, height: win.height)
    for y in 0..<win.height { for x in 0..<win.width { cmask[x, y] = mask[win.x + x, win.y + y] } }
    let resized = (upscaled.width == win.width && upscaled.height == win.height)
      ? upscaled : Resize.resize(upscaled, width: win.width, height: win.height, filter: .bicubic).clamped()
    let (mergedCrop, _) = Blend.blend(source: resized, into: crop, mask: cmask, mode: mode == .none ? .alpha : mode)
    var out = image
    let n = image.width * image.height
    for c in 0..<image.channels {
      for y in 0..<win.height {
        for x in 0..<win.width {
          let i = (win.y + y) * image.width + win.x + x
          if mask.missing[i] { out.data[c * n + i] = mergedCrop[c, y, x] }
        }
      }
    }
    return out
  }

  public func complete(_ image: Image, mask: Mask, progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Stages {
    guard image.channels == 3 else { throw CompletionError("expected an RGB image") }
    try mask.validate(for: image)
    let win = try Self.window(for: mask)
    let crop = image.crop(x: win.x, y: win.y, width: win.width, height: win.height)
    var cmask = Mask(width: win.width, height: win.height)
    for y in 0..<win.height { for x in 0..<win.width { cmask[x, y] = mask[win.x + x, win.y + y] } }
    let s = Self.generatorSize
    let small = Resize.resize(crop, width: s, height: s, filter: .area).clamped()
    let m64 = Self.downscale(cmask, width: s, height: s)
    guard m64.holeCount < s * s else {
      throw CompletionError("at 64×64 every pixel is missing: the hole leaves no context for the generator")
    }
    let r = try inpainter.run([small], masks: [m64]) { it, _ in progress("inpaint", it, inpainter.config.iterations) }[0]
    let (inp64, _) = Blend.blend(source: r.generated, into: small, mask: m64, mode: blend64 == .none ? .alpha : blend64)
    let sr = try upscaler.upscale(inp64) { d, t in progress("superres", d, t) }.clamped()
    progress("merge", 0, 1)
    let out = Self.merge(sr, into: image, mask: mask, window: win, mode: merge)
    progress("merge", 1, 1)
    return Stages(window: win, input64: small, mask64: m64, generated64: r.generated, inpainted64: inp64,
                  superResolved: sr, merged: out, result: r)
  }
}
