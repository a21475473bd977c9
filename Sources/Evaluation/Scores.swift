import Foundation
import Imaging
import Inpainting

/// One method's quality on one image: PSNR in dB and SSIM (which ones — Y channel or masked
/// region — depends on the evaluation).
public struct Score: Sendable, Equatable {
  public var psnr: Double
  public var ssim: Double

  public init(psnr: Double, ssim: Double) {
    self.psnr = psnr
    self.ssim = ssim
  }

  /// PSNR and SSIM over the missing pixels of `mask` only.
  public static func masked(_ result: Image, _ original: Image, mask: Mask) -> Score {
    Score(psnr: Metrics.maskedPSNR(result, original, missing: mask.missing),
          ssim: Metrics.maskedSSIM(result, original, missing: mask.missing))
  }

  /// PSNR and SSIM on the luma (Y) channel, 4 pixels left out on each side.
  public static func luma(_ result: Image, _ original: Image) -> Score {
    Score(psnr: Metrics.psnrY(result, original), ssim: Metrics.ssimY(result, original))
  }
}

/// Running sums of one score per column (method), for the mean row of a table.
public struct ScoreSums: Sendable {
  public private(set) var psnr: [Double]
  public private(set) var ssim: [Double]

  public init(columns: Int) {
    psnr = [Double](repeating: 0, count: columns)
    ssim = [Double](repeating: 0, count: columns)
  }

  /// Adds one image's row (one score per column).
  public mutating func add(_ row: [Score]) {
    precondition(row.count == psnr.count, "a row has one score per column")
    for (i, s) in row.enumerated() {
      psnr[i] += s.psnr
      ssim[i] += s.ssim
    }
  }

  /// Each column's sums divided by `count`.
  public func means(count: Int) -> [Score] {
    let n = Double(count)
    return zip(psnr, ssim).map { Score(psnr: $0 / n, ssim: $1 / n) }
  }
}

/// The files an evaluation case leaves for Tools/opencv_baseline.py, which scores OpenCV on the
/// same images and masks with the same metrics.
public enum EvaluationCase {
  /// Writes `STEM.image.png`, `STEM.mask.png` and `STEM.METHOD.png` per result into `directory`
  /// (created if missing), STEM being `name` without its extension.
  public static func save(in directory: URL, name: String, image: Image, mask: Mask, results: [(String, Image)]) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let stem = (name as NSString).deletingPathExtension
    try PNG.write(image, to: directory.appendingPathComponent("\(stem).image.png"))
    try PNG.write(mask.image, to: directory.appendingPathComponent("\(stem).mask.png"))
    for (method, im) in results { try PNG.write(im, to: directory.appendingPathComponent("\(stem).\(method).png")) }
  }
}
