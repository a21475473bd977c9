import Compute
import FaceDetection
import Foundation
import Imaging
import Inpainting
import Models
import SuperResolution

public struct CompletionError: Error, CustomStringConvertible {
  public let description: String
  public init(_ d: String) { description = d }
}

/// Finds faces in an image (e.g. a Haar cascade); boxes in the image's pixels.
public protocol FaceFinder {
  func faces(in image: Image) -> [(x: Int, y: Int, width: Int, height: Int)]
}

extension FaceDetector: FaceFinder {
  /// Faces with at least 2 neighbouring detections (OpenCV's default is 3): the images searched here
  /// have a filled hole, which costs the cascade detections, and a false face only counts when its
  /// window holds the hole.
  public func faces(in image: Image) -> [(x: Int, y: Int, width: Int, height: Int)] {
    detectFaces(in: image, minNeighbors: 2).map { ($0.x, $0.y, $0.width, $0.height) }
  }
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

  /// The square window that frames a face the way the face generators' training crops do, from a
  /// face detector's box (OpenCV's frontal-face Haar cascade): on the generators' own 64×64 samples
  /// and on the held-out CelebA crops that cascade's box is centred at (0.50, 0.51) of the crop and
  /// spans 0.80 (0.78) of its side (measured on 150 images of each, std 0.01–0.04), so the window's
  /// side is box / 0.80 and its centre 0.01 of a side below the box's centre. The window is moved
  /// inside the image (and shrunk to its shorter side if it is larger). Returns nil when the hole
  /// does not fit inside the window with a margin, so the caller keeps the hole-centred window.
  public static func faceWindow(face: (x: Int, y: Int, width: Int, height: Int), mask m: Mask)
    -> (x: Int, y: Int, width: Int, height: Int)?
  {
    guard let b = m.holeBounds else { return nil }
    let side = min(Int((Float(max(face.width, face.height)) / 0.80).rounded()), min(m.width, m.height))
    guard side >= generatorSize / 2 else { return nil }
    let cx = Float(face.x) + Float(face.width) / 2, cy = Float(face.y) + Float(face.height) / 2 - 0.01 * Float(side)
    let x = min(max(0, Int((cx - Float(side) / 2).rounded())), m.width - side)
    let y = min(max(0, Int((cy - Float(side) / 2).rounded())), m.height - side)
    // One generator pixel of known context on every side of the hole.
    let margin = (side + generatorSize - 1) / generatorSize
    guard b.x - margin >= x, b.y - margin >= y, b.x + b.width + margin <= x + side, b.y + b.height + margin <= y + side
    else { return nil }
    return (x, y, side, side)
  }

  /// Frames the face around the hole: the hole is first filled smoothly (a harmonic fill from its
  /// boundary, so a detector sees skin rather than a flat block), faces are searched in the result,
  /// and the largest face whose ``faceWindow(face:mask:)`` holds the hole gives the window.
  /// Returns nil when no such face is found.
  public static func framedWindow(_ image: Image, mask: Mask, finder: FaceFinder)
    -> (window: (x: Int, y: Int, width: Int, height: Int), face: (x: Int, y: Int, width: Int, height: Int))?
  {
    let flat = Image(width: image.width, height: image.height, channels: image.channels,
                     data: [Float](repeating: 0.5, count: image.data.count))
    let (filled, _) = Blend.blend(source: flat, into: image, mask: mask, mode: .poisson, tolerance: 1e-4, maxIterations: 5000)
    let faces = finder.faces(in: filled).sorted { $0.width * $0.height > $1.width * $1.height }
    for f in faces { if let w = faceWindow(face: f, mask: mask) { return (w, f) } }
    return nil
  }

  /// How ``completeFramed(_:mask:finder:progress:)`` chose its window.
  public enum Framing: Sendable, Equatable {
    /// A face was found with the hole filled smoothly; one pass on its window.
    case face(x: Int, y: Int, width: Int, height: Int)
    /// The hole hid the face: it was found on a first completion of the default window, and a
    /// second pass completed its window.
    case faceAfterFirstPass(x: Int, y: Int, width: Int, height: Int)
    /// No face around the hole: the default window (``window(for:)``).
    case none
  }

  /// ``complete(_:mask:window:progress:)`` on the window that frames the face around the hole the
  /// way the face generators' training crops do. The face is looked for on the image with the hole
  /// filled smoothly; when the hole hides too much of it (a detector needs the eyes), the default
  /// window is completed first, the face looked for on that result and on each start's own fill
  /// (``faceAfterFirstPass``), and, if found, completed again on its window (twice the time).
  /// Falls back to the default window's result.
  public func completeFramed(_ image: Image, mask: Mask, finder: FaceFinder,
                             progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> (Stages, Framing) {
    if let f = Self.framedWindow(image, mask: mask, finder: finder) {
      let st = try complete(image, mask: mask, window: f.window, progress: progress)
      return (st, .face(x: f.face.x, y: f.face.y, width: f.face.width, height: f.face.height))
    }
    let first = try complete(image, mask: mask, progress: progress)
    guard let f = Self.faceAfterFirstPass(first, image: image, mask: mask, finder: finder),
          let w = Self.faceWindow(face: f, mask: mask) else { return (first, .none) }
    if w == first.window { return (first, .faceAfterFirstPass(x: f.x, y: f.y, width: f.width, height: f.height)) }
    let st = try complete(image, mask: mask, window: w, progress: progress)
    return (st, .faceAfterFirstPass(x: f.x, y: f.y, width: f.width, height: f.height))
  }

  /// The face around the hole on a first completion of the default window. The hole is filled
  /// in turn with the first pass's result and with each start's own G(ẑ) (best first, upscaled
  /// bicubically: a detector needs the eyes, which a mean of several fills may blur); the face is
  /// the median box of every fill on which one frames the hole (each fill draws the eyes a little
  /// elsewhere, so one fill's box is off by a few pixels). Nil when no fill shows one.
  public static func faceAfterFirstPass(_ first: Stages, image: Image, mask: Mask, finder: FaceFinder)
    -> (x: Int, y: Int, width: Int, height: Int)?
  {
    var boxes: [(x: Int, y: Int, width: Int, height: Int)] = []
    func look(_ filled: Image) {
      let faces = finder.faces(in: filled).sorted { $0.width * $0.height > $1.width * $1.height }
      if let f = faces.first(where: { faceWindow(face: $0, mask: mask) != nil }) { boxes.append(f) }
    }
    look(first.merged)
    for c in first.result.candidates {
      let (inp64, _) = Blend.blend(source: c, into: first.input64, mask: first.mask64, mode: .poisson)
      look(merge(inp64, into: image, mask: mask, window: first.window, mode: .poisson))
    }
    guard !boxes.isEmpty else { return nil }
    func median(_ v: [Int]) -> Int { v.sorted()[v.count / 2] }
    let side = median(boxes.map { max($0.width, $0.height) })
    let cx = median(boxes.map { 2 * $0.x + $0.width }), cy = median(boxes.map { 2 * $0.y + $0.height })
    return ((cx - side) / 2, (cy - side) / 2, side, side)
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

  /// Completes `image` inside `mask`. `window` is the region to work in (e.g. ``faceWindow(face:mask:)``);
  /// nil means ``window(for:)``, the whole image up to 256×256 or a window centred on the hole.
  public func complete(_ image: Image, mask: Mask, window: (x: Int, y: Int, width: Int, height: Int)? = nil,
                       progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Stages {
    guard image.channels == 3 else { throw CompletionError("expected an RGB image") }
    try mask.validate(for: image)
    let win = try window ?? Self.window(for: mask)
    if let w = window {
      guard w.x >= 0, w.y >= 0, w.width > 0, w.height > 0, w.x + w.width <= image.width, w.y + w.height <= image.height
      else { throw CompletionError("the window \(w) lies outside the \(image.width)×\(image.height) image") }
      guard let b = mask.holeBounds, b.x >= w.x, b.y >= w.y, b.x + b.width <= w.x + w.width, b.y + b.height <= w.y + w.height
      else { throw CompletionError("the hole does not lie inside the window \(w)") }
    }
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
