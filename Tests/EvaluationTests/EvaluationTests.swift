import Compute
import ComputeCPU
import Evaluation
import Foundation
import Imaging
import Inpainting
import Models
import Pipeline
import SuperResolution
import XCTest

final class EvaluationTests: XCTestCase {
  func smooth(_ w: Int, _ h: Int, seed: UInt64) -> Image {
    var rng = SplitMix64(seed: seed)
    var im = Image(width: w, height: h, channels: 3)
    let f = (0..<6).map { _ in rng.nextFloat() * 0.3 + 0.05 }
    for c in 0..<3 { for y in 0..<h { for x in 0..<w {
      im[c, y, x] = 0.5 + 0.35 * sin(Float(x) * f[c] + Float(y) * f[c + 3]) * cos(Float(y) * f[c])
    } } }
    return im
  }

  func inpainter(_ device: Device, images: Int) throws -> Inpainter {
    var cfg = InpaintConfig()
    cfg.iterations = 2
    cfg.starts = 1
    return try Inpainter(generator: try DCGANGenerator(weights: RandomWeights.dcganGenerator(nz: 8, ngf: 8, seed: 2)),
                         discriminator: try DCGANDiscriminator(weights: RandomWeights.dcganDiscriminator(ndf: 8, seed: 3)),
                         device: device, images: images, config: cfg)
  }

  func testScoreSumsMeans() {
    var sums = ScoreSums(columns: 2)
    sums.add([Score(psnr: 10, ssim: 0.5), Score(psnr: 20, ssim: 0.25)])
    sums.add([Score(psnr: 30, ssim: 0.75), Score(psnr: 40, ssim: 0.75)])
    XCTAssertEqual(sums.means(count: 2), [Score(psnr: 20, ssim: 0.625), Score(psnr: 30, ssim: 0.5)])
    XCTAssertEqual(sums.means(count: 4)[1], Score(psnr: 15, ssim: 0.25), "the count may include skipped images")
    let im = smooth(32, 32, seed: 1)
    XCTAssertEqual(Score.luma(im, im).ssim, 1, accuracy: 1e-9)
  }

  /// Known pixels stay; each hole pixel is its channel's mean over the known pixels.
  func testMeanFill() {
    var im = Image(width: 4, height: 2, channels: 2)
    for i in 0..<8 { im.data[i] = Float(i); im.data[8 + i] = Float(10 * i) }
    let mask = Mask(width: 4, height: 2, missing: [false, true, false, false, true, false, false, true])
    let o = InpaintingEvaluation.meanFill(im, mask)
    let known = [0, 2, 3, 5, 6]
    let mean0 = Float(known.reduce(0, +)) / 5
    for i in 0..<8 {
      XCTAssertEqual(o.data[i], mask.missing[i] ? mean0 : im.data[i])
      XCTAssertEqual(o.data[8 + i], mask.missing[i] ? 10 * mean0 : im.data[8 + i], accuracy: 1e-4)
    }
  }

  /// Bicubic and one upscaler are scored on the centre crop; images whose crop is under 48×48 are skipped.
  func testSuperResolutionEvaluation() throws {
    let device = CPUDevice(threads: 2)
    let up = try Upscaler(model: try SRResNet(weights: RandomWeights.srresnet(blocks: 1)), device: device)
    let evaluation = SuperResolutionEvaluation(upscalers: [up], maxSize: 64)
    let row = try XCTUnwrap(try evaluation.evaluate(smooth(70, 58, seed: 2)))
    XCTAssertEqual(row.original.width, 64)
    XCTAssertEqual(row.original.height, 56)
    XCTAssertEqual(row.lowResolution.width, 16)
    XCTAssertEqual(row.outputs.count, 2)
    XCTAssertEqual(row.scores.count, 2)
    XCTAssertEqual(row.scores[0], Score.luma(row.outputs[0], row.original))
    XCTAssertGreaterThan(row.scores[0].psnr, 20, "bicubic on a smooth image")
    XCTAssertEqual(row.picture.width, 4 * 64 + 3 * 2, "four panels with 2-pixel gaps")
    XCTAssertEqual(row.picture.height, 56)
    XCTAssertNil(try evaluation.evaluate(smooth(47, 80, seed: 3)))
    let up3 = SuperResolutionEvaluation.nearestUpscale(row.lowResolution, 3)
    XCTAssertEqual(up3[1, 5, 7], row.lowResolution[1, 1, 2])
  }

  /// Rows of the inpainting evaluation, the generator-tuning column, and the baseline files.
  func testInpaintingEvaluation() throws {
    let device = CPUDevice(threads: 2)
    let images = [smooth(64, 64, seed: 4), smooth(64, 64, seed: 5)]
    let masks = images.map { _ in Mask.center(width: 64, height: 64) }
    let results = try inpainter(device, images: 2).run(images, masks: masks)
    let row = InpaintingEvaluation.score(images[0], mask: masks[0], result: results[0])
    XCTAssertEqual(row.outputs.count, 3)
    XCTAssertEqual(row.saved.map(\.0), ["mend", "meanfill"])
    XCTAssertEqual(row.scores[0], Score.masked(InpaintingEvaluation.meanFill(images[0], masks[0]), images[0], mask: masks[0]))

    var cfg = InpaintConfig()
    cfg.starts = 1
    cfg.tuning.steps = 1
    let tuner = try GeneratorTuner(generator: try DCGANGenerator(weights: RandomWeights.dcganGenerator(nz: 8, ngf: 8, seed: 2)),
                                   discriminator: nil, device: device, config: cfg)
    var seen: [Int] = []
    let (mean, perImage) = try InpaintingEvaluation.tuned(tuner, images: images, masks: masks,
                                                          latents: results.map(\.latent)) { k, _ in seen.append(k) }
    XCTAssertEqual(seen, [0, 1])
    XCTAssert(mean.psnr.isFinite && perImage >= 0)

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-evalcase-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try EvaluationCase.save(in: dir, name: "face.png", image: images[0], mask: masks[0], results: row.saved)
    for f in ["face.image.png", "face.mask.png", "face.mend.png", "face.meanfill.png"] {
      XCTAssert(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), f)
    }
  }

  /// Both completion variants keep every pixel outside the hole and are scored inside it.
  func testCompletionEvaluation() throws {
    let device = CPUDevice(threads: 2)
    let up = try Upscaler(model: try SRResNet(weights: RandomWeights.srresnet(blocks: 1)), device: device)
    let completer = Completer(inpainter: try inpainter(device, images: 1), upscaler: up)
    let image = smooth(96, 80, seed: 6)
    let mask = Mask.center(width: 96, height: 80, fraction: 0.3)
    let row = try CompletionEvaluation.evaluate(completer, image: image, mask: mask)
    XCTAssertEqual(row.scores, [Score.masked(row.bicubic, image, mask: mask), Score.masked(row.superResolved, image, mask: mask)])
    let n = 96 * 80
    for c in 0..<3 {
      for i in 0..<n where !mask.missing[i] {
        XCTAssertEqual(row.bicubic.data[c * n + i], image.data[c * n + i])
        XCTAssertEqual(row.superResolved.data[c * n + i], image.data[c * n + i])
      }
    }
  }
}
