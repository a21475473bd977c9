import Compute
import ComputeCPU
import Graph
import Models
import NN
import XCTest
#if OpenCL
import ComputeOpenCL
#endif

/// The plan folds the element-wise ops after a convolution into its epilogue
/// (`Graph.fusingEpilogues`) where the device supports it, and the result does not change.
final class EpilogueFusionTests: XCTestCase {
  static func input(_ n: Int) -> [Float] { (0..<n).map { 0.5 + 0.4 * sin(Float($0) * 0.37) } }

  func counts(_ g: Graph) -> [String: Int] {
    var c: [String: Int] = [:]
    for n in g.nodes { c[n.op.kind, default: 0] += 1 }
    return c
  }

  /// SRResNet with B blocks runs 4B + 12 ops unfused. The CPU declines the pixel shuffle, so its
  /// plan keeps each upsampling's conv, shuffle and PReLU (2B + 9 ops); fused the CPU result is
  /// bit-identical, since its epilogue runs the same kernels in place in the same order.
  func testSRResNetOnCPUFoldsPReLUResidualAndTail() throws {
    let blocks = 2
    let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: blocks))
    let (g, x, y) = try sr.graph(batch: 1, height: 12, width: 10)
    XCTAssertEqual(g.nodes.count, 4 * blocks + 12)
    let cpu = CPUDevice(threads: 2)
    let fused = try g.compile(on: cpu, fuse: true), plain = try g.compile(on: cpu, fuse: false)
    XCTAssertEqual(plain.executed.nodes.count, 4 * blocks + 12)
    XCTAssertEqual(fused.executed.nodes.count, 2 * blocks + 9)
    XCTAssertEqual(counts(fused.executed)["depth_to_space"], 2, "the CPU keeps the shuffle apart")
    XCTAssertNil(counts(fused.executed)["add"])
    XCTAssertEqual(counts(fused.executed)["prelu"], 2, "only the PReLUs after a shuffle stay")
    XCTAssertLessThanOrEqual(fused.memory.arenaBytes, plain.memory.arenaBytes)
    var outs: [[Float]] = []
    for p in [fused, plain] {
      try p.set(x, Self.input(3 * 12 * 10))
      try p.run()
      outs.append(try p.read(y))
    }
    XCTAssertEqual(outs[0].count, 3 * 48 * 40)
    XCTAssertEqual(maxAbsDiff(outs[0], outs[1]), 0, "same kernels, same order: identical results")
  }

  /// A value read by anything besides the op to fold (here a graph output) keeps its own op.
  func testNoFoldWhenTheIntermediateHasOtherReaders() throws {
    let g = Graph()
    let x = g.input([1, 2, 5, 5])
    let conv = Conv2D(inputChannels: 2, outputChannels: 4, kernelSize: (3, 3), padding: (1, 1),
                      weight: (0..<72).map { Float($0 % 7) * 0.1 - 0.3 }, bias: [0.1, -0.2, 0.3, 0])
    let c = try conv(x, in: g)
    let r = try Activate(.relu)(c, in: g)
    let s = try g.apply(.add(count: 100), [c, r], outputShapes: [[1, 4, 5, 5]])[0]
    g.output(s)
    let fused = g.fusingEpilogues { _ in true }
    XCTAssertEqual(fused.nodes.count, 3, "c is read twice: nothing folds into the conv")
    g.output(c)
    XCTAssertEqual(g.fusingEpilogues { _ in true }.nodes.count, 3)
  }

  #if OpenCL
  /// On the fused OpenCL kernels the whole SR forward folds: 2B + 5 launches (37 for the shipped
  /// 16 blocks, from 76), against the CPU's unfused plan.
  func testSRResNetOnOpenCLFoldsEveryEpilogue() throws {
    guard (try? OpenCLRuntime.devices().count) ?? 0 > 0 else { throw XCTSkip("no OpenCL device") }
    let dev = try OpenCLDevice(index: 0)
    dev.useFused = true
    let blocks = 2
    let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: blocks))
    let (g, x, y) = try sr.graph(batch: 2, height: 12, width: 10)
    let plan = try g.compile(on: dev, fuse: true)
    XCTAssertEqual(plan.executed.nodes.count, 2 * blocks + 5)
    XCTAssertEqual(Set(plan.executed.nodes.map(\.op.kind)), ["conv2d"])
    let ref = try g.compile(on: CPUDevice(threads: 2), fuse: false)
    var outs: [[Float]] = []
    for p in [plan, ref] {
      try p.set(x, Self.input(2 * 3 * 12 * 10))
      try p.run()
      outs.append(try p.read(y))
    }
    let before = try XCTUnwrap(dev.activity)
    try plan.run()
    _ = try plan.read(y)
    XCTAssertEqual((try XCTUnwrap(dev.activity) - before).launches, 2 * blocks + 5)
    // Output in [0, 1]: float32 sums in another order (tiled kernels vs the CPU's) through 2B + 5
    // convolutions; 2e-4 is the bound the full model's parity test uses.
    XCTAssertLessThan(maxAbsDiff(outs[0], outs[1]), 2e-4)
  }
  #endif
}
