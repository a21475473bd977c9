import Foundation
import Imaging
import Inpainting

/// 64×64 inpainting quality as `mend eval inpaint` measures it: the inpainter's results blended
/// into the originals (Poisson and alpha), against a mean fill; PSNR and SSIM over the hole.
public enum InpaintingEvaluation {
  /// One image's outcome.
  public struct Row {
    /// Mean fill, ours (Poisson), ours (alpha), and with generator tuning the untuned result
    /// (Poisson).
    public var outputs: [Image]
    /// One masked score per entry of `outputs`.
    public var scores: [Score]
    /// What `EvaluationCase.save` writes for the OpenCV baseline: `mend` (Poisson), `meanfill`,
    /// and with generator tuning `mendz` (untuned, Poisson).
    public var saved: [(String, Image)]
  }

  /// Scores one image's inpainting result.
  public static func score(_ image: Image, mask: Mask, result: InpaintResult) -> Row {
    let pois = Blend.blend(source: result.generated, into: image, mask: mask, mode: .poisson).0
    let alpha = Blend.blend(source: result.generated, into: image, mask: mask, mode: .alpha).0
    let fill = meanFill(image, mask)
    var outputs = [fill, pois, alpha]
    var saved = [("mend", pois), ("meanfill", fill)]
    if let u = result.untunedGenerated {
      let up = Blend.blend(source: u, into: image, mask: mask, mode: .poisson).0
      outputs.append(up)
      saved.append(("mendz", up))
    }
    return Row(outputs: outputs, scores: outputs.map { Score.masked($0, image, mask: mask) }, saved: saved)
  }

  /// Known pixels kept, each hole pixel set to the mean of the known pixels (per channel).
  public static func meanFill(_ im: Image, _ m: Mask) -> Image {
    var o = im
    let n = im.width * im.height
    for c in 0..<im.channels {
      var s: Float = 0, k = 0
      for i in 0..<n where !m.missing[i] { s += im.data[c * n + i]; k += 1 }
      for i in 0..<n where m.missing[i] { o.data[c * n + i] = s / Float(max(1, k)) }
    }
    return o
  }

  /// Generator tuning from given latent-search results, one image at a time: the mean masked
  /// score of the Poisson-blended tuned results and the seconds per image. `each(index, blended)`
  /// sees every blended result (to save it).
  public static func tuned(_ tuner: GeneratorTuner, images: [Image], masks: [Mask], latents: [[Float]],
                           each: (Int, Image) throws -> Void = { _, _ in }) throws -> (mean: Score, secondsPerImage: Double) {
    precondition(images.count == masks.count && images.count == latents.count, "one mask and one latent per image")
    var sums = ScoreSums(columns: 1)
    let t0 = Date()
    for (k, im) in images.enumerated() {
      let r = try tuner.tune(im, mask: masks[k], latent: latents[k])
      let pois = Blend.blend(source: r.generated, into: im, mask: masks[k], mode: .poisson).0
      sums.add([Score.masked(pois, im, mask: masks[k])])
      try each(k, pois)
    }
    let n = images.count
    return (sums.means(count: n)[0], Date().timeIntervalSince(t0) / Double(n))
  }
}
