import Foundation
import Imaging
import SuperResolution

/// 4× super-resolution quality as `mend eval superres` measures it: each image is centre-cropped
/// to at most `maxSize` (sides a multiple of 4), downscaled 4× by bicubic, and brought back by
/// bicubic and by each upscaler; PSNR and SSIM on Y with a border of 4.
public struct SuperResolutionEvaluation {
  /// One image's outcome.
  public struct Row {
    /// The evaluated crop (the original).
    public var original: Image
    /// Its 4× bicubic downscale, the input of every method.
    public var lowResolution: Image
    /// Bicubic, then each upscaler's output, at the original's size.
    public var outputs: [Image]
    /// One score per entry of `outputs`.
    public var scores: [Score]

    /// Low resolution (nearest-neighbour 4×) | each output | original, side by side.
    public var picture: Image {
      Image.row([SuperResolutionEvaluation.nearestUpscale(lowResolution, 4)] + outputs + [original])
    }
  }

  public let upscalers: [Upscaler]
  public let maxSize: Int

  public init(upscalers: [Upscaler], maxSize: Int = 512) {
    self.upscalers = upscalers
    self.maxSize = maxSize
  }

  /// Scores one image; nil when its crop would be under 48×48.
  public func evaluate(_ image: Image) throws -> Row? {
    let w = min(maxSize, image.width) / 4 * 4, h = min(maxSize, image.height) / 4 * 4
    guard w >= 48 && h >= 48 else { return nil }
    let hr = image.crop(x: (image.width - w) / 2, y: (image.height - h) / 2, width: w, height: h)
    let lr = Resize.resize(hr, width: w / 4, height: h / 4, filter: .bicubic).clamped()
    let bic = Resize.resize(lr, width: w, height: h, filter: .bicubic).clamped()
    var outs = [bic]
    for m in upscalers { outs.append(try m.upscale(lr).clamped()) }
    return Row(original: hr, lowResolution: lr, outputs: outs, scores: outs.map { Score.luma($0, hr) })
  }

  /// Each pixel repeated `factor` × `factor` times.
  public static func nearestUpscale(_ im: Image, _ factor: Int) -> Image {
    var o = Image(width: im.width * factor, height: im.height * factor, channels: im.channels)
    for c in 0..<im.channels {
      for y in 0..<o.height { for x in 0..<o.width { o[c, y, x] = im[c, y / factor, x / factor] } }
    }
    return o
  }
}
