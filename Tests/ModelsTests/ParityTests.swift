import Compute
import ComputeCPU
import Foundation
import Graph
import Models
import NN
import XCTest

/// Our forward passes on the real pretrained weights against float64 numpy computed from the
/// original files (Tools/make-fixtures.py), on every device.
final class ParityTests: XCTestCase {
  func testFaceGeneratorMatchesReference() throws {
    let gen = try DCGANGenerator(weights: try pretrained(WeightStore.faceGenerator))
    let z = try Fixtures.npy("dcgan_z"), want = try Fixtures.npy("dcgan_out")
    for device in try allDevices() {
      for fold in [true, false] {
        let (g, zv, out) = try gen.graph(batch: z.shape[0], fold: fold)
        let plan = try g.compile(on: device)
        try plan.set(zv, z.values)
        try plan.run()
        let got = try plan.read(out)
        let err = maxAbsDiff(got, want.values)
        // float32 through five layers (K up to 8192) vs float64: ~1e-6 typical; 2e-5 bound.
        XCTAssertLessThan(err, 2e-5, "\(device.name) fold \(fold): max |Δ| \(err)")
      }
    }
  }

  func testSRResNetAndSRGANMatchReference() throws {
    let input = try Fixtures.npy("sr_in")
    for (file, fixture) in [(WeightStore.srresnet, "srresnet_out"), (WeightStore.srgan, "srgan_out")] {
      let sr = try SRResNet(weights: try pretrained(file))
      XCTAssertEqual(sr.blocks, 16)
      let want = try Fixtures.npy(fixture)
      for device in try allDevices() {
        let (g, x, y) = try sr.graph(batch: 1, height: input.shape[2], width: input.shape[3])
        let plan = try g.compile(on: device)
        try plan.set(x, input.values)
        try plan.run()
        let got = try plan.read(y)
        XCTAssertEqual(got.count, want.values.count)
        let err = maxAbsDiff(got, want.values)
        // Output in [0, 1]; one 8-bit level is 1/255 ≈ 3.9e-3. Float32 through 37 convolutions
        // stays far below that; 2e-4 (≈ 0.05 level) is the bound.
        XCTAssertLessThan(err, 2e-4, "\(file) on \(device.name): max |Δ| \(err)")
      }
    }
  }
}

extension ParityTests {
  /// krasserm's trained discriminator: Keras 'same' padding (stride-2 convolutions pad only the
  /// bottom/right) and the NHWC flatten before Dense(1024), against float64 numpy on the .h5.
  func testSRGANDiscriminatorMatchesReference() throws {
    let weights = try pretrained(WeightStore.srganDiscriminator)
    XCTAssertEqual(weights.metadata["padding"], "same")
    let input = try Fixtures.npy("srgan_d_in"), want = try Fixtures.npy("srgan_d_logits")
    let d = try SRGANDiscriminator(weights: weights, logits: true)
    XCTAssertTrue(d.tensorflowSame)
    for device in try allDevices() {
      for fold in [true, false] {
        let (g, x, y) = try d.graph(batch: input.shape[0], fold: fold)
        let plan = try g.compile(on: device)
        try plan.set(x, input.values)
        try plan.run()
        let got = try plan.read(y)
        XCTAssertEqual(got.count, want.values.count)
        // Logits of order 1–10 after ten layers with sums up to 18432 terms in float32. Measured
        // worst |error| / max(1, |logit|): 1.7e-6 (CPU, folded), 5.9e-6 (CPU, unfolded), 6.4e-5
        // (PoCL: im2col + CLBlast sum in another order). The bound, 3e-4 · max(1, |logit|), is ~5× the
        // worst measured; symmetric padding gives errors of order 1 here (checked below).
        XCTAssertEqual(got.count, want.values.count, "zip below must not truncate")
        for (a, b) in zip(got, want.values) {
          XCTAssertEqual(a, b, accuracy: 3e-4 * max(1, abs(b)), "\(device.name) fold \(fold)")
        }
      }
    }
    // The same weights with PyTorch's symmetric padding are a different function.
    var meta = weights.metadata
    meta["padding"] = "symmetric"
    let symmetric = WeightSet(tensors: weights.tensors, metadata: meta, source: weights.source)
    let ds = try SRGANDiscriminator(weights: symmetric, logits: true)
    let (g, x, y) = try ds.graph(batch: input.shape[0])
    let plan = try g.compile(on: CPUDevice())
    try plan.set(x, input.values)
    try plan.run()
    XCTAssertGreaterThan(maxAbsDiff(try plan.read(y), want.values), 0.05)
  }
}
