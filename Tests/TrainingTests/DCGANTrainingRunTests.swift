import Compute
import ComputeCPU
import Foundation
import Imaging
import Models
import Training
import XCTest

final class DCGANTrainingRunTests: XCTestCase {
  func tempDir(_ name: String) -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("mend-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: u)
    return u
  }

  /// A short run from images and a teacher writes every file and is deterministic; a stop request
  /// ends a run early with a checkpoint, and a resumed run continues from its step. (Resuming
  /// reseeds the data stream from the step, so it is not bit-identical to an uninterrupted run.)
  func testRunStopResumeAndOutputs() throws {
    let device = CPUDevice(threads: 2)
    let teacherURL = tempDir("teacher.safetensors")
    try SafeTensors.write(RandomWeights.dcganGenerator(nz: 8, ngf: 8, seed: 5).tensors, to: teacherURL)
    var rng = SplitMix64(seed: 9)
    let images = (0..<3).map { _ in
      Image(width: 70, height: 66, channels: 3, data: (0..<(3 * 70 * 66)).map { _ in Float(rng.next() % 256) / 255 })
    }
    func options(_ out: URL) -> DCGANTrainingRun.Options {
      var o = DCGANTrainingRun.Options(output: out)
      o.images = images
      o.teacher = teacherURL
      o.flip = true
      o.steps = 4; o.batch = 2; o.nz = 8; o.ngf = 8; o.ndf = 8; o.checkpointEvery = 2; o.seed = 3
      return o
    }
    let whole = tempDir("whole")
    var reports: [Int] = []
    let stoppedWhole = try DCGANTrainingRun(options: options(whole), device: device).run(progress: { done, _, _ in reports.append(done) })
    XCTAssertFalse(stoppedWhole)
    XCTAssertEqual(reports, [4])
    for f in ["G.safetensors", "D.safetensors", "checkpoint.safetensors", "samples-000002.png", "samples-000004.png", "log.csv"] {
      XCTAssert(FileManager.default.fileExists(atPath: whole.appendingPathComponent(f).path), f)
    }

    let split = tempDir("split")
    var calls = 0
    let first = try DCGANTrainingRun(options: options(split), device: device)
    XCTAssertTrue(try first.run(shouldStop: { calls += 1; return calls > 2 }))
    XCTAssertEqual(first.trainer.step, 2)
    var resumed = options(split)
    resumed.resume = true
    let second = try DCGANTrainingRun(options: resumed, device: device)
    XCTAssertEqual(second.trainer.step, 2)
    XCTAssertFalse(try second.run())
    XCTAssertEqual(second.trainer.step, 4)
    let again = tempDir("again")
    try DCGANTrainingRun(options: options(again), device: device).run()
    let a = try Data(contentsOf: whole.appendingPathComponent("G.safetensors"))
    let b = try Data(contentsOf: again.appendingPathComponent("G.safetensors"))
    XCTAssertEqual(a, b, "same options, same weights")
    let lines = try String(contentsOf: split.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 5)  // header + 4 steps
  }
}
