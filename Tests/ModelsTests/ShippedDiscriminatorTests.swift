import Compute
import ComputeCheck
import Foundation
import Models
import XCTest

/// The discriminator mend ships (weights/dcgan-face-D.safetensors, installed by Tools/fetch-weights):
/// the installed file is the repository's, it loads into `DCGANDiscriminator` with every shape
/// checked, and scores a batch of generated faces and of noise with finite probabilities that vary
/// with the input, the same on every device.
final class ShippedDiscriminatorTests: XCTestCase {
  func testShippedDiscriminatorLoadsAndScores() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let shipped = root.appendingPathComponent("weights/dcgan-face-D.safetensors")
    let installed = try WeightStore.url(WeightStore.faceDiscriminator)
    XCTAssertEqual(try Data(contentsOf: installed), try Data(contentsOf: shipped), "the installed discriminator is not the shipped one")
    let d = try DCGANDiscriminator(weights: try pretrained(WeightStore.faceDiscriminator))
    let g = try DCGANGenerator(weights: try pretrained(WeightStore.faceGenerator))
    var rng = SplitMix64(seed: 5)
    let z = (0..<(4 * 100)).map { _ in Float(rng.nextGaussian()) }
    let noise = (0..<(4 * 3 * 64 * 64)).map { _ in 2 * rng.nextFloat() - 1 }
    var scores: [[Float]] = []
    for device in try allDevices() {
      let (gg, zv, image) = try g.graph(batch: 4)
      let gp = try gg.compile(on: device)
      try gp.set(zv, z)
      try gp.run()
      let faces = try gp.read(image)
      let (dg, x, score) = try d.graph(batch: 8)
      let dp = try dg.compile(on: device)
      try dp.set(x, faces + noise)
      try dp.run()
      let s = try dp.read(score)
      XCTAssertEqual(s.count, 8)
      XCTAssert(s.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(device.name): \(s)")
      XCTAssertGreaterThan(Harness.maxAbs(s.map { $0 - s[0] }), 1e-4, "\(device.name): the score ignores its input: \(s)")
      scores.append(s)
    }
    // Probabilities after five layers of ≤ 8192-term float32 sums: devices agree to ~1e-5;
    // 1e-3 tells a wrong kernel (off by O(0.1)) from rounding.
    for s in scores.dropFirst() { XCTAssertLessThan(Harness.maxAbsDiff(s, scores[0]), 1e-3) }
  }
}
