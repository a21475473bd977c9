import Compute
import ComputeCPU
import ComputeCheck
import XCTest

/// `CPUDevice` against the float64 reference, for every case of the op table.
final class CPUConformanceTests: XCTestCase {
  /// Every kernel level this CPU runs (the binary carries all of its architecture's).
  static var levels: [CPUISA] {
    let s = CPUISA.supported
    XCTAssert(s.contains(.generic) && s.first == CPUISA.best)
    return s
  }

  func testEveryOpCaseMatchesFloat64Reference() throws {
    // Also with the inputs declared constant (as a plan's weights): cached pre-packed operands.
    for isa in Self.levels {
    for (threads, constant) in [(1, false), (2, false), (2, true)] {
      let cpu = CPUDevice(threads: threads, isa: isa)
      XCTAssertEqual(cpu.isa, isa)
      var checked = 0
      for c in OpCases.all(.test) where c.referenceAffordable {
        // A pixel-shuffle epilogue is the one op the CPU declines (plans keep the shuffle apart).
        guard cpu.supports(c.op) else {
          XCTAssertEqual(c.op.epilogue.map { $0.shuffle > 1 }, true, "\(c.name): only shuffle epilogues may be unsupported")
          continue
        }
        let inputs = c.makeInputs()
        let got = try Harness.run(c, on: cpu, inputs: inputs, constantInputs: constant)
        let want = Reference.run(c.op, inputs.map { $0.map(Double.init) })
        for k in got.indices {
          let e = Harness.nmse(got[k], want[k])
          XCTAssert(e <= c.tolerance, "\(c.name) output \(k) on \(isa), \(threads) thread(s)\(constant ? ", constant inputs" : ""): nmse \(e) > \(c.tolerance)")
        }
        checked += 1
      }
      // The table is the contract: make sure it was not silently emptied or filtered away.
      XCTAssertGreaterThan(checked, 60)
    }
    }
  }

  func testGradientsMatchFiniteDifferences() throws {
    for isa in Self.levels {
    let cpu = CPUDevice(threads: 2, isa: isa)
    var checked = 0
    for c in OpCases.all(.test) {
      for g in c.gradients {
        let err = try Harness.gradientError(c, g, on: cpu)
        // Float32 device backward vs a float64 central difference: ~1e-6 relative rounding,
        // O(h²) truncation with h = 1e-4; 1e-3 leaves room for sums of many float32 terms.
        XCTAssert(err < 1e-3, "\(c.name) backward \(g.backward.kind) on \(isa): relative error \(err)")
        checked += 1
      }
    }
    XCTAssertGreaterThan(checked, 20)
    }
  }

  /// MEND_CPU_ISA picks a level; unknown or unsupported ones are clear errors.
  func testISASelection() throws {
    XCTAssertEqual(try CPUISA.fromEnvironment([:]), CPUISA.best)
    XCTAssertEqual(try CPUISA.fromEnvironment(["MEND_CPU_ISA": "generic"]), .generic)
    XCTAssertThrowsError(try CPUISA.fromEnvironment(["MEND_CPU_ISA": "sse9"])) { e in
      XCTAssert("\(e)".contains("not one of avx512, avx2, generic"), "\(e)")
    }
    for isa in CPUISA.allCases where !isa.isSupported {
      XCTAssertThrowsError(try CPUISA.fromEnvironment(["MEND_CPU_ISA": isa.rawValue]))
    }
    // The summary names the level in use.
    for isa in CPUISA.supported { XCTAssert(CPUDevice(threads: 1, isa: isa).summary.contains("\(isa) kernels")) }
  }

  func testHarnessDetectsAWrongResult() throws {
    // The comparison itself must be able to fail: perturb one value of a correct result.
    let c = OpCases.all(.test).first { $0.name == "gemm_7x7x7" }!
    let cpu = CPUDevice(threads: 1)
    let inputs = c.makeInputs()
    var got = try Harness.run(c, on: cpu, inputs: inputs)
    let want = Reference.run(c.op, inputs.map { $0.map(Double.init) })
    XCTAssertLessThanOrEqual(Harness.nmse(got[0], want[0]), c.tolerance)
    got[0][3] += 0.01
    XCTAssertGreaterThan(Harness.nmse(got[0], want[0]), c.tolerance)
  }

  func testOutOfBoundsArgumentsAreRejected() throws {
    let cpu = CPUDevice(threads: 1)
    let a = try cpu.zeros([6]), b = try cpu.zeros([6]), c = try cpu.zeros([3])
    XCTAssertThrowsError(try cpu.run(.gemm(GemmDesc(m: 2, n: 2, k: 3)), inputs: [a, b], outputs: [c]))
    XCTAssertThrowsError(try cpu.run(.add(count: 6), inputs: [a], outputs: [b]))
    let bad = ConvGeometry(batch: 1, inChannels: 1, inHeight: 2, inWidth: 2, outChannels: 1, kernel: (3, 3))
    XCTAssertThrowsError(try cpu.run(.conv2d(bad, bias: false, activation: .identity), inputs: [a, b], outputs: [c]))
  }

  func testConvolutionWorkspaceIsReusedAcrossCalls() throws {
    let cpu = CPUDevice(threads: 2)
    let c = OpCases.all(.test).first { $0.name == "dcgan_g3_convT_256_128_8to16" }!
    let (ins, outs, _) = try Harness.prepare(c, on: cpu, inputs: c.makeInputs())
    try cpu.run(c.op, inputs: ins, outputs: outs)
    let before = cpu.allocationCount
    for _ in 0..<5 { try cpu.run(c.op, inputs: ins, outputs: outs) }
    XCTAssertEqual(cpu.allocationCount, before, "steady-state convolutions must not allocate")
  }
}

/// The op table must exercise every lowering shape, or the conformance tests above prove less than
/// they claim.
final class ConvLoweringCoverageTests: XCTestCase {
  func testOpTableCoversEveryLoweringShape() {
    var shapes: Set<String> = []
    // Ops checked against the float64 reference, and backward ops checked by finite differences.
    let ops = OpCases.all(.test).filter(\.referenceAffordable).map(\.op)
      + OpCases.all(.test).flatMap { $0.gradients.map(\.backward) }
    for op in ops {
      switch op {
      case .conv2d(let g, _, _, _), .conv2dBackwardData(let g, _, _, _), .conv2dBackwardFilter(let g, _):
        switch ConvLowering.shape(g) {
        case .fullyConnected: shapes.insert("fc-\(op.kind)")
        case .pointwise: shapes.insert("pointwise-\(op.kind)")
        case .tiled(let images, let rows):
          if rows < g.outHeight { shapes.insert("banded-\(op.kind)") }
          else if images > 1 { shapes.insert("grouped-\(op.kind)") }
          else { shapes.insert("single-\(op.kind)") }
        }
      default: break
      }
    }
    for kind in ["conv2d", "conv2d_bwd_data", "conv2d_bwd_filter"] {
      for shape in ["fc", "pointwise", "banded", "grouped", "single"] {
        XCTAssert(shapes.contains("\(shape)-\(kind)"), "no test case lowers \(kind) as \(shape)")
      }
    }
  }

  /// Likewise every CPU convolution kernel (direct, direct flipped, implicit GEMM, lowered) must be
  /// reached by a reference-checked case or a finite-difference-checked backward.
  func testOpTableReachesEveryCPUConvolutionKernel() {
    let ops = OpCases.all(.test).filter(\.referenceAffordable).map(\.op)
      + OpCases.all(.test).flatMap { $0.gradients.map(\.backward) }
    var seen: Set<String> = [], lowered: Set<String> = []
    for op in ops {
      guard let p = CPUDevice.convPath(op) else { continue }
      seen.insert("\(p.rawValue)-\(op.kind)")
      // The lowering's tile shapes as the CPU takes them (its own, smaller tile budget).
      if p == .lowered, case .conv2dBackwardData(let g, _, _, _) = op {
        lowered.insert(Self.shapeName(ConvLowering.shape(g, budget: CPUDevice.loweringColumnBudget), g))
      }
      if p == .lowered, case .conv2dBackwardFilter(let g, _) = op {
        lowered.insert("filter-" + Self.shapeName(ConvLowering.shape(g, budget: CPUDevice.loweringColumnBudget), g))
      }
    }
    let expected = ["direct-conv2d", "implicitGEMM-conv2d", "winograd-conv2d", "winogradF4-conv2d", "winograd3x3-conv2d", "lowered-conv2d",
                    "directFlipped-conv2d_bwd_data", "direct-conv2d_bwd_data", "winograd-conv2d_bwd_data",
                    "winogradF4-conv2d_bwd_data", "lowered-conv2d_bwd_data", "direct-conv2d_bwd_filter", "lowered-conv2d_bwd_filter"]
    for e in expected { XCTAssert(seen.contains(e), "no test case runs \(e) on the CPU") }
    // Transposed convolutions (and backward-filter) onto > 4 channels stay on the lowering on the
    // CPU: every tile shape must be reached there too.
    for shape in ["fc", "pointwise", "banded", "grouped", "single"] {
      XCTAssert(lowered.contains(shape), "no test case lowers conv2d_bwd_data as \(shape) on the CPU")
      XCTAssert(lowered.contains("filter-" + shape), "no test case lowers conv2d_bwd_filter as \(shape) on the CPU")
    }
  }

  static func shapeName(_ s: ConvLowering.Shape, _ g: ConvGeometry) -> String {
    switch s {
    case .fullyConnected: return "fc"
    case .pointwise: return "pointwise"
    case .tiled(let images, let rows): return rows < g.outHeight ? "banded" : images > 1 ? "grouped" : "single"
    }
  }

  /// The op table (run above on 1 and 2 threads) reaches the split-k GEMM driver on every level at
  /// 2 threads and the ordinary one at 1, and a DCGAN discriminator's first backward-filter product
  /// at batch 64 (m 64 × n 48 × k 65,536) splits — the case the driver is for.
  func testOpTableReachesSplitKGEMM() {
    for isa in CPUConformanceTests.levels {
      var split: [String] = []
      for c in OpCases.all(.test) {
        guard case .gemm(let g) = c.op else { continue }
        XCTAssertFalse(CPUDevice.gemmSplitsK(g, threads: 1, isa: isa), "\(c.name): one thread never splits")
        if CPUDevice.gemmSplitsK(g, threads: 2, isa: isa) { split.append(c.name) }
      }
      XCTAssertEqual(split, ["gemm_splitk_tB_alpha_beta", "gemm_splitk_tA_ld"], "\(isa)")
      XCTAssert(CPUDevice.gemmSplitsK(GemmDesc(transB: true, m: 64, n: 48, k: 65_536), threads: 2, isa: isa))
      XCTAssertFalse(CPUDevice.gemmSplitsK(GemmDesc(m: 1024, n: 1024, k: 1024), threads: 2, isa: isa))
    }
  }

  /// A constant operand's pre-packed copy follows writes: after new values are written into the
  /// constant buffer, the product uses them.
  func testPrepackedConstantOperandFollowsWrites() throws {
    let cpu = CPUDevice(threads: 2)
    let g = GemmDesc(transA: true, m: 70, n: 5, k: 33)
    var rng = SplitMix64(seed: 3)
    let a1 = (0..<(33 * 70)).map { _ in rng.nextFloat() }, a2 = (0..<(33 * 70)).map { _ in rng.nextFloat() }
    let b = (0..<(33 * 5)).map { _ in rng.nextFloat() }
    let ta = try cpu.tensor(a1, shape: [33, 70]), tb = try cpu.tensor(b, shape: [33, 5]), tc = try cpu.zeros([70, 5])
    cpu.declareConstant(ta.buffer)
    for a in [a1, a2] {
      try cpu.write(a, to: ta)
      try cpu.run(.gemm(g), inputs: [ta, tb], outputs: [tc])
      let want = Reference.run(.gemm(g), [a.map(Double.init), b.map(Double.init)])[0]
      XCTAssertLessThan(Harness.nmse(try cpu.values(tc), want), 1e-10)
    }
  }

  /// Winograd filters pre-packed from constant weights follow writes too, and match the path that
  /// packs them on every call (weights not constant) — forward and transposed.
  /// Every filter layout — F(4×4, 2×2) (8 images of 16 × 16: 32 tiles of 4 × 4), F(2×2, 2×2) on
  /// 32-tile panels (4 images: 16 tiles of 4 × 4, too few; 64 of 2 × 2) and the narrow path's
  /// 8-tile panels (2 images of 8 × 8: 8 tiles) — with the same constant weight buffers, so the
  /// three layouts of one buffer's filters are cached side by side.
  func testWinogradConstantFiltersFollowWrites() throws {
    let cpu = CPUDevice(threads: 2)
    var rng = SplitMix64(seed: 5)
    let w1 = (0..<(24 * 16 * 16)).map { _ in rng.nextFloat() }, w2 = (0..<(24 * 16 * 16)).map { _ in rng.nextFloat() }
    let tw = try cpu.tensor(w1, shape: [24, 16, 4, 4]), free = try cpu.tensor(w1, shape: [24, 16, 4, 4])
    cpu.declareConstant(tw.buffer)
    // A large image would need a chunk (at least one image) of hundreds of MB: the GEMM paths
    // take it.
    let huge = ConvGeometry(batch: 1, inChannels: 16, inHeight: 1024, inWidth: 1024, outChannels: 16, kernel: (4, 4),
                            stride: (2, 2), padding: (1, 1))
    XCTAssertEqual(CPUDevice.convPath(.conv2d(huge, bias: false, activation: .identity)), .implicitGEMM)
    XCTAssertEqual(CPUDevice.convPath(.conv2dBackwardData(huge, bias: false, activation: .identity)), .lowered)
    for w in [w1, w2] {
      try cpu.write(w, to: tw)
      try cpu.write(w, to: free)
      for (n, side, path) in [(8, 16, CPUConvPath.winogradF4), (4, 16, .winograd), (2, 8, .winograd)] {
        let c = ConvGeometry(batch: n, inChannels: 16, inHeight: side, inWidth: side, outChannels: 24,
                             kernel: (4, 4), stride: (2, 2), padding: (1, 1))
        let o = side / 2
        let x = (0..<(n * 16 * side * side)).map { _ in rng.nextFloat() }
        let dy = (0..<(n * 24 * o * o)).map { _ in rng.nextFloat() }
        for op in [Op.conv2d(c, bias: false, activation: .identity),
                   Op.conv2dBackwardData(c, bias: false, activation: .identity)] {
          XCTAssertEqual(CPUDevice.convPath(op), path)
          let forward = op.kind == "conv2d"
          let input = forward ? x : dy
          let tin = try cpu.tensor(input, shape: forward ? [n, 16, side, side] : [n, 24, o, o])
          let outShape = forward ? [n, 24, o, o] : [n, 16, side, side]
          let ty = try cpu.zeros(outShape), tyFree = try cpu.zeros(outShape)
          try cpu.run(op, inputs: [tin, tw], outputs: [ty])
          try cpu.run(op, inputs: [tin, free], outputs: [tyFree])
          let want = Reference.run(op, [input.map(Double.init), w.map(Double.init)])[0]
          XCTAssertLessThan(Harness.nmse(try cpu.values(ty), want), 1e-10, "\(op.kind) N\(n)")
          XCTAssertEqual(try cpu.values(ty), try cpu.values(tyFree),
                         "\(op.kind) N\(n): pre-packed and per-call filters differ")
        }
      }
    }
  }
}
