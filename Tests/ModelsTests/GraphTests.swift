import Compute
import ComputeCPU
import ComputeCheck
import Foundation
import Graph
import Models
import NN
import XCTest

final class GraphTests: XCTestCase {
  /// Planned memory is smaller than naive, and no two values that are live at the same time
  /// overlap in the arena.
  func testPlannerSharesMemoryOnlyBetweenDisjointLifetimes() throws {
    let gen = try DCGANGenerator(weights: try pretrained(WeightStore.faceGenerator))
    let (g, _, _) = try gen.graph(batch: 4, fold: false)
    let m = Planner.plan(g)
    XCTAssertLessThan(m.arenaBytes, m.naiveArenaBytes)
    var first = [Int: Int](), last = [Int: Int]()
    for (i, n) in g.nodes.enumerated() {
      for v in n.inputs + n.outputs { first[v.id] = min(first[v.id] ?? i, i); last[v.id] = max(last[v.id] ?? i, i) }
    }
    let arena = g.values.indices.filter { m.placements[$0].region == .arena }
    for a in arena {
      for b in arena where b > a {
        let live = !(last[a]! < first[b]! || last[b]! < first[a]!)
        let ra = m.placements[a].offset..<(m.placements[a].offset + g.values[a].count * 4)
        let rb = m.placements[b].offset..<(m.placements[b].offset + g.values[b].count * 4)
        if live { XCTAssertFalse(ra.overlaps(rb), "values \(a) and \(b) are live together but share memory") }
      }
    }
  }

  /// A compiled plan runs with no allocations after the first run.
  func testPlanRunsWithoutAllocating() throws {
    let gen = try DCGANGenerator(weights: try pretrained(WeightStore.faceGenerator))
    let cpu = CPUDevice(threads: 2)
    let (g, z, out) = try gen.graph(batch: 2)
    let plan = try g.compile(on: cpu)
    try plan.set(z, [Float](repeating: 0.1, count: 200))
    try plan.run()
    let before = cpu.allocationCount
    for _ in 0..<5 { try plan.run() }
    XCTAssertEqual(cpu.allocationCount, before)
    _ = try plan.read(out)
  }

  /// BN folding and activation fusion do not change results (random layers, both paths).
  func testFusionMatchesUnfusedLayers() throws {
    var rng = SplitMix64(seed: 3)
    func r(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] { (0..<n).map { _ in lo + (hi - lo) * rng.nextFloat() } }
    let bn = { (c: Int) in BatchNorm(gamma: r(c), beta: r(c), mean: r(c), variance: r(c, 0.5, 2), eps: 1e-3) }
    let net = Sequential([
      Conv2D(inputChannels: 3, outputChannels: 5, kernelSize: (3, 3), padding: (1, 1), weight: r(135), bias: r(5)),
      bn(5), Activate(.leakyRelu(0.2)),
      TransposedConv2D(inputChannels: 5, outputChannels: 4, kernelSize: (4, 4), stride: (2, 2), padding: (1, 1),
                       weight: r(320)),
      bn(4), Activate(.relu),
      Residual(Sequential([Conv2D(inputChannels: 4, outputChannels: 4, kernelSize: (1, 1), weight: r(16)), bn(4)])),
    ])
    let fused = net.fusedForInference()
    XCTAssertEqual(fused.layers.count, 3, "conv+bn+act, convT+bn+act and the residual")
    let cpu = CPUDevice(threads: 1)
    let xv = r(2 * 3 * 6 * 5)
    var outs: [[Float]] = []
    for n in [net, fused] {
      let g = Graph()
      let x = g.input([2, 3, 6, 5])
      let y = try n(x, in: g)
      g.output(y)
      let p = try g.compile(on: cpu)
      try p.set(x, xv)
      try p.run()
      outs.append(try p.read(y))
    }
    // Folding BN into the weights rounds w·γ/√(σ²+ε) once instead of per output: a few ulp of outputs
    // up to |1.7| (ulp 1.2e-7). Measured 4.8e-7 (AVX-512 kernels); the bound 2e-6 (~16 ulp) leaves
    // room for other kernel levels, and a wrongly folded mean, variance or ε is off by ≥ 1e-3.
    XCTAssertLessThan(maxAbsDiff(outs[0], outs[1]), 2e-6)
  }
}

final class SRGANDiscriminatorTests: XCTestCase {
  func testForwardShapesAndRange() throws {
    let d = try SRGANDiscriminator(weights: RandomWeights.srganDiscriminator(size: 32), size: 32)
    let (g, x, y) = try d.graph(batch: 2)
    XCTAssertEqual(g.shape(y), [2, 1, 1, 1])
    let p = try g.compile(on: CPUDevice(threads: 2))
    var rng = SplitMix64(seed: 1)
    try p.set(x, (0..<(2 * 3 * 32 * 32)).map { _ in rng.nextFloat() })
    try p.run()
    let out = try p.read(y)
    XCTAssert(out.allSatisfy { $0 > 0 && $0 < 1 }, "\(out)")
    XCTAssertThrowsError(try SRGANDiscriminator(weights: RandomWeights.srganDiscriminator(size: 32), size: 96)) {
      XCTAssert("\($0)".contains("dense1.weight"))
    }
  }
}
