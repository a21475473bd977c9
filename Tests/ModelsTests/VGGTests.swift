import Compute
import ComputeCheck
import ComputeCPU
import Foundation
import Graph
import Models
import XCTest

/// The VGG19 converter (Tools/fetch-weights --convert-vgg19) on PyTorch checkpoints of both
/// formats, and our VGG19 features against PyTorch (Tools/make-vgg-fixtures.py), on every device.
final class VGGTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Runs the converter; returns (exit status, stderr).
  func convert(_ checkpoint: URL, into dir: URL, name: String) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = [Self.root.appendingPathComponent("Tools/fetch-weights").path, "--dir", dir.path,
                   "--convert-vgg19", checkpoint.path, "--name", name]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    try p.run()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
  }

  func fixture(_ name: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"), name)
  }

  func testConvertedVGG19MatchesPyTorch() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-vgg-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = try Fixtures.npy("tiny_vgg19_in")
    for (file, name) in [("tiny_vgg19.pth", "zip"), ("tiny_vgg19_legacy.pth", "legacy")] {
      let (status, err) = try convert(try fixture(file), into: dir, name: name)
      XCTAssertEqual(status, 0, err)
      let weights = try WeightSet(contentsOf: dir.appendingPathComponent("\(name).safetensors"))
      XCTAssertEqual(weights.metadata["format"], "mend-vgg19")
      XCTAssertNil(weights.shape("classifier.0.weight"), "the classifier is dropped")
      for (block, conv, fixtureName) in [(2, 2, "tiny_vgg19_relu22"), (5, 4, "tiny_vgg19_relu54")] {
        let vgg = try VGG19Features(weights: weights, block: block, conv: conv)
        let want = try Fixtures.npy(fixtureName)
        let (oh, ow) = vgg.outputSize(height: 32, width: 32)
        XCTAssertEqual(want.shape, [2, vgg.outputChannels, oh, ow])
        for device in try allDevices() {
          let (g, x, y) = try vgg.graph(batch: 2, height: 32, width: 32)
          let plan = try g.compile(on: device)
          try plan.set(x, input.values)
          try plan.run()
          let got = try plan.read(y)
          let scale = Harness.maxAbs(want.values)  // +∞ on a NaN fixture; then maxAbsDiff fails below
          // float32 vs PyTorch float64 through up to 16 convolutions of ≤ 72 terms. Measured
          // relative to the largest feature: 2.9e-7 (φ22), 3.2e-7 (φ54, CPU), 7.2e-7 (φ54, PoCL);
          // the bound 1e-5 is ~14× that (a wrong pool or padding is O(1)).
          XCTAssertLessThan(maxAbsDiff(got, want.values), 1e-5 * scale, "\(file) φ\(block)\(conv) on \(device.name)")
        }
      }
    }
    // Bad input: not a checkpoint, and a checkpoint that is not VGG19.
    let (s1, e1) = try convert(try fixture("tiny_vgg19_in.npy"), into: dir, name: "bad")
    XCTAssertNotEqual(s1, 0)
    XCTAssertTrue(e1.contains("not a PyTorch checkpoint"), e1)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.safetensors").path))
    XCTAssertThrowsError(try VGG19Features(weights: try WeightStore.load(WeightStore.srresnet)))
  }
}
