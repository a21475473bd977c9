import Compute
import ComputeCPU
import Foundation
import Imaging
import Models
import Training
import XCTest

final class SRTrainingRunTests: XCTestCase {
  func tempDir(_ name: String) -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("mend-sr-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: u)
    return u
  }

  func smooth(_ w: Int, _ h: Int, seed: UInt64) -> Image {
    var rng = SplitMix64(seed: seed)
    var im = Image(width: w, height: h, channels: 3)
    let f = (0..<6).map { _ in rng.nextFloat() * 0.3 + 0.05 }
    for c in 0..<3 { for y in 0..<h { for x in 0..<w {
      im[c, y, x] = 0.5 + 0.35 * sin(Float(x) * f[c] + Float(y) * f[c + 3]) * cos(Float(y) * f[c])
    } } }
    return im
  }

  func options(_ out: URL) -> SRTrainingRun.Options {
    var o = SRTrainingRun.Options(output: out, images: (0..<3).map { smooth(40, 36, seed: UInt64($0)) })
    o.validation = [smooth(48, 44, seed: 7)]
    o.config.batch = 2; o.config.crop = 32; o.config.lr = 1e-3
    o.steps = 4; o.checkpointEvery = 2; o.seed = 5
    return o
  }

  /// Stage 1: every file, the validation PSNR before training and at each checkpoint, and a run
  /// stopped at step 2 and resumed ends with the same weights as an uninterrupted one (the
  /// checkpoint keeps the optimizer state and the data-RNG state).
  func testStageOneRunStopResumeAndOutputs() throws {
    let device = CPUDevice(threads: 2)
    let weights = RandomWeights.srresnet(blocks: 2, seed: 4)
    let whole = tempDir("whole")
    var initial: [Double] = []
    var reports: [(Int, Int, Bool)] = []
    let run = try SRTrainingRun(options: options(whole), weights: weights, device: device)
    XCTAssertFalse(try run.run(initialPSNR: { initial.append($0) }) { done, total, _, psnr in
      reports.append((done, total, psnr != nil))
    })
    XCTAssertEqual(initial.count, 1)
    XCTAssert(initial[0].isFinite && initial[0] > 5, "\(initial)")
    XCTAssertEqual(reports.map(\.0), [1, 2, 3, 4])
    XCTAssertEqual(reports.map(\.1), [4, 4, 4, 4])
    XCTAssertEqual(reports.map(\.2), [false, true, false, true])
    for f in ["srresnet.safetensors", "checkpoint.safetensors", "samples-000000.png", "samples-000002.png",
              "samples-000004.png", "log.csv"] {
      XCTAssert(FileManager.default.fileExists(atPath: whole.appendingPathComponent(f).path), f)
    }
    let sample = try PNG.read(whole.appendingPathComponent("samples-000004.png")).rgb
    XCTAssertEqual(sample.width, 3 * 44 + 2 * 2, "bicubic, model, original with 2-pixel gaps")
    XCTAssertEqual(sample.height, 44)
    let lines = try String(contentsOf: whole.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 6, "header, the step-0 validation and four steps")
    XCTAssert(lines[1].hasPrefix("0,,,,,,"))

    let split = tempDir("split")
    var calls = 0
    let first = try SRTrainingRun(options: options(split), weights: weights, device: device)
    XCTAssertTrue(try first.run(shouldStop: { calls += 1; return calls > 2 }))
    XCTAssertEqual(first.trainer.step, 2)
    var resumed = options(split)
    resumed.resume = true
    let second = try SRTrainingRun(options: resumed, weights: weights, device: device)
    XCTAssertEqual(second.trainer.step, 2)
    var resumedInitial = 0
    XCTAssertFalse(try second.run(initialPSNR: { _ in resumedInitial += 1 }))
    XCTAssertEqual(resumedInitial, 0, "no step-0 validation when resuming")
    XCTAssertEqual(second.trainer.step, 4)
    XCTAssertEqual(try SafeTensors.read(whole.appendingPathComponent("srresnet.safetensors")).0,
                   try SafeTensors.read(split.appendingPathComponent("srresnet.safetensors")).0)
  }

  /// Stage 2 writes the SRGAN generator and the discriminator; options that cannot train are refused.
  func testStageTwoOutputsAndValidation() throws {
    let device = CPUDevice(threads: 2)
    let out = tempDir("stage2")
    var o = options(out)
    o.validation = []
    o.steps = 2
    try SRTrainingRun(options: o, weights: RandomWeights.srresnet(blocks: 1, seed: 4),
                      discriminator: RandomWeights.srganDiscriminator(size: 32, seed: 6), device: device).run()
    for f in ["srgan.safetensors", "discriminator.safetensors", "samples-000000.png", "samples-000002.png"] {
      XCTAssert(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("srresnet.safetensors").path))
    var none = o
    none.images = []
    XCTAssertThrowsError(try SRTrainingRun(options: none, weights: RandomWeights.srresnet(blocks: 1), device: device))
    var zero = o
    zero.checkpointEvery = 0
    XCTAssertThrowsError(try SRTrainingRun(options: zero, weights: RandomWeights.srresnet(blocks: 1), device: device))
  }
}
