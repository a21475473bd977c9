import Compute
import ComputeCPU
import ComputeCheck
import Foundation
import Imaging
import Models
import Training
import XCTest

final class SRTrainingTests: XCTestCase {
  func smooth(_ w: Int, _ h: Int, seed: UInt64) -> Image {
    var rng = SplitMix64(seed: seed)
    var im = Image(width: w, height: h, channels: 3)
    let f = (0..<6).map { _ in rng.nextFloat() * 0.3 + 0.05 }
    for c in 0..<3 { for y in 0..<h { for x in 0..<w {
      im[c, y, x] = 0.5 + 0.35 * sin(Float(x) * f[c] + Float(y) * f[c + 3]) * cos(Float(y) * f[c])
    } } }
    return im
  }

  func testParameterGradientsAndLearning() throws {
    let cpu = CPUDevice(threads: 2)
    var cfg = SRTrainer.Config()
    cfg.batch = 2; cfg.crop = 32; cfg.lr = 1e-3
    let t = try SRTrainer(weights: RandomWeights.srresnet(blocks: 2), device: cpu, config: cfg)
    var rng = SplitMix64(seed: 1)
    let (lr, hr) = SRTrainer.batch(from: [smooth(80, 64, seed: 2)], count: 2, crop: 32, rng: &rng)
    func loss() throws -> Double {
      try t.plan.set(t.input, lr); try t.plan.set(t.target, hr); try t.plan.run()
      let l = try t.plan.read(t.loss)
      return Double(l.reduce(0, +)) / 2
    }
    var worst = 0.0
    var dir = SplitMix64(seed: 3)
    for name in ["head.conv.weight", "head.prelu.alpha", "blocks.0.conv1.weight", "blocks.1.bn2.weight",
                 "up.0.conv.bias", "tail.conv.weight"] {
      let e = try XCTUnwrap(t.store.entries[name], name)
      _ = try loss()
      let g = try cpu.values(t.plan.tensor(try XCTUnwrap(t.grads[name], name)))
      let w = try cpu.values(e.value)
      let u = w.map { _ in dir.nextGaussian() }
      let h: Float = 3e-4
      try cpu.write(zip(w, u).map { $0 + h * $1 }, to: e.value); let lp = try loss()
      try cpu.write(zip(w, u).map { $0 - h * $1 }, to: e.value); let lm = try loss()
      try cpu.write(w, to: e.value)
      let num = (lp - lm) / Double(2 * h), ana = zip(g, u).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      print("SR \(name): directional analytic \(ana), numeric \(num)")
      let rel = abs(num - ana) / max(1e-4, abs(ana))
      // Directional derivatives below 5e-3 sit close to the float32 rounding of the loss
      // (~2e-6 after dividing by 2h): 15 % there, 5 % for the rest.
      if abs(ana) < 5e-3 { XCTAssertLessThan(rel, 0.15, name) } else { worst = max(worst, rel) }
    }
    // MSE through PReLU kinks, float32, h = 3e-4 per entry: ≤ 3.2 % seen; wiring errors ≥ 30 %.
    XCTAssertLessThan(worst, 0.05)
    let first = try t.train(lr: lr, hr: hr)
    var last = first
    for _ in 0..<20 { last = try t.train(lr: lr, hr: hr) }
    print("SR MSE \(first) -> \(last)")
    XCTAssertLessThan(last, first * 0.5)
  }
}
