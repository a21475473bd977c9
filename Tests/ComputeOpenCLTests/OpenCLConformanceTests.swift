#if OpenCL
import Compute
import ComputeCPU
import ComputeCheck
import ComputeOpenCL
import Foundation
import XCTest

/// Every OpenCL device against `CPUDevice`, for every case of the op table, plus gradient checks.
/// Under CI (CI=true) a machine without an OpenCL device fails the suite instead of skipping it.
final class OpenCLConformanceTests: XCTestCase {
  func openCLDevices() throws -> [OpenCLDevice] {
    let infos = (try? OpenCLRuntime.devices()) ?? []
    if infos.isEmpty {
      if ProcessInfo.processInfo.environment["CI"] == "true" {
        XCTFail("CI=true but no OpenCL device was found: install pocl-opencl-icd (the suite must not skip here)")
        return []
      }
      throw XCTSkip("no OpenCL device on this machine (not counted as a pass)")
    }
    return try infos.indices.map { try OpenCLDevice(index: $0) }
  }

  /// The convolution paths: the fused kernels unsplit, the fused kernels with every reduction of
  /// two or more steps split into up to 3 slices (the split a GPU takes for layers with few tiles;
  /// a 2-unit CPU driver never chooses it), and the im2col/col2im lowering — each GEMM (the op
  /// table's own and the lowering's) on mend's `gemm_tile` or on CLBlast, both on every device.
  static let paths: [(name: String, fused: Bool, split: Int?, tileGEMM: Bool)] = [
    ("fused, mend GEMM", true, 1, true), ("fused, split 3, CLBlast GEMM", true, 3, false),
    ("lowered, mend GEMM", false, nil, true), ("lowered, CLBlast GEMM", false, nil, false),
  ]

  func testEveryOpCaseMatchesCPU() throws {
    let cpu = CPUDevice(threads: 2)
    for dev in try openCLDevices() {
    for (path, fused, split, tileGEMM) in Self.paths {
      dev.useFused = fused
      dev.splitOverride = split
      dev.useTileGEMM = tileGEMM
      var rows: [String] = [], unsupported: [String] = []
      for c in OpCases.all(.test) {
        guard dev.supports(c.op) else {
          unsupported.append(c.name)
          continue
        }
        let inputs = c.makeInputs()
        // Ops the CPU declines (pixel-shuffle epilogues) are checked against the float64 reference.
        let want = cpu.supports(c.op) ? try Harness.run(c, on: cpu, inputs: inputs)
          : Reference.run(c.op, inputs.map { $0.map(Double.init) }).map { $0.map(Float.init) }
        let got: [[Float]]
        do { got = try Harness.run(c, on: dev, inputs: inputs) } catch {
          XCTFail("\(c.name) on \(dev.name): \(error)")
          continue
        }
        var worst = 0.0
        for k in got.indices {
          let e = Harness.nmse(got[k], want[k])
          worst = max(worst, e)
          // Same tolerance as CPU vs float64: both devices round float32 sums, in different orders.
          XCTAssert(e <= c.tolerance, "\(c.name) output \(k) on \(dev.name) (\(path)): nmse \(e) > \(c.tolerance)")
        }
        rows.append("\(c.name.padding(toLength: 40, withPad: " ", startingAt: 0)) nmse \(String(format: "%.2e", worst))")
      }
      print("coverage on \(dev.summary), \(path) convolutions: \(rows.count) cases checked, \(unsupported.count) unsupported")
      for u in unsupported { print("  UNSUPPORTED \(u)") }
      XCTAssertGreaterThan(rows.count, 60)
    }
    }
  }

  func testGradientsMatchFiniteDifferences() throws {
    for dev in try openCLDevices() {
    for (path, fused, split, tileGEMM) in Self.paths {
      dev.useFused = fused
      dev.splitOverride = split
      dev.useTileGEMM = tileGEMM
      var checked = 0
      for c in OpCases.all(.test) where dev.supports(c.op) {
        for g in c.gradients where dev.supports(g.backward) {
          let err = try Harness.gradientError(c, g, on: dev)
          // As on the CPU: float32 backward vs float64 central differences (h = 1e-4).
          XCTAssert(err < 1e-3, "\(c.name) backward \(g.backward.kind) on \(dev.name) (\(path)): relative error \(err)")
          checked += 1
        }
      }
      XCTAssertGreaterThan(checked, 20)
    }
    }
  }

  func testProgramCacheMakesSecondStartFast() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-cache-test-\(getpid())")
    defer { try? FileManager.default.removeItem(at: dir) }
    guard !(try openCLDevices()).isEmpty else { return }
    let first = try OpenCLDevice(index: 0, cacheDirectory: dir)
    XCTAssertFalse(first.programFromCache, "a fresh cache folder cannot hold the program")
    let second = try OpenCLDevice(index: 0, cacheDirectory: dir)
    XCTAssertTrue(second.programFromCache, "the second device must load the cached binary")
    print("OpenCL start: cold \(String(format: "%.3f", first.startupSeconds)) s, "
          + "warm \(String(format: "%.3f", second.startupSeconds)) s")
  }

  /// A truncated, garbled or foreign cache file is ignored (never handed to the driver), the
  /// program compiled and the file replaced, so the next start loads it.
  func testCorruptCacheFileIsIgnoredAndRebuilt() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mend-cache-corrupt-\(getpid())")
    defer { try? FileManager.default.removeItem(at: dir) }
    guard !(try openCLDevices()).isEmpty else { return }
    let first = try OpenCLDevice(index: 0, cacheDirectory: dir)
    XCTAssertFalse(first.programFromCache)
    let file = first.programCacheFile
    let good = try Data(contentsOf: file)
    var flipped = good
    flipped[flipped.count - 10] ^= 0x5a
    var wrongKey = good
    wrongKey[12] = wrongKey[12] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
    let bad: [(String, Data)] = [("empty", Data()), ("garbage", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) })),
                                 ("truncated", good.prefix(good.count / 2)), ("bit flip", flipped),
                                 ("other key", wrongKey), ("raw driver binary", good.dropFirst(45))]
    for (what, data) in bad {
      try data.write(to: file)
      let dev = try OpenCLDevice(index: 0, cacheDirectory: dir)
      XCTAssertFalse(dev.programFromCache, what)
      XCTAssert(dev.programOriginDescription.contains("cache file ignored"), "\(what): \(dev.programOriginDescription)")
      // The rebuilt program works and the file was replaced by a good one.
      let a = try dev.tensor([1, 2, 3], shape: [3]), c = try dev.zeros([3])
      try dev.run(.add(count: 3), inputs: [a, a], outputs: [c])
      XCTAssertEqual(try dev.values(c), [2, 4, 6], what)
      XCTAssertTrue(try OpenCLDevice(index: 0, cacheDirectory: dir).programFromCache, "\(what): not rewritten")
    }
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp") }
    XCTAssertEqual(leftovers, [], "temporary files are renamed into place")
  }

  func testBadDeviceIndexIsAClearError() throws {
    XCTAssertThrowsError(try OpenCLDevice(index: 999)) { e in
      XCTAssert("\(e)".contains("does not exist") || "\(e)".contains("no OpenCL devices"), "\(e)")
    }
  }

  /// Half-precision weights (`halfWeights`): every reference-checked fused forward and
  /// backward-data case against the CPU, the weights (input 1) read from their half copy. Rounding a
  /// weight to half moves it by at most 2⁻¹¹ of itself; for sums of uncorrelated products that is
  /// an nmse of about 2⁻²²/3 ≈ 8e-8; cases with cancellation reach more (measured on PoCL: worst
  /// 4.5e-7 over 73 cases), so the bound is 2e-6. The half kernels must have run (results differ
  /// from the float weights' in most cases).
  func testHalfWeightsStayWithinTheirRounding() throws {
    let cpu = CPUDevice(threads: 2)
    for dev in try openCLDevices() {
      dev.useFused = true
      dev.splitOverride = 1
      defer { dev.halfWeights = false }
      var worst = 0.0, checked = 0, differing = 0
      for c in OpCases.all(.test) where c.referenceAffordable {
        switch c.op {
        case .conv2d, .conv2dBackwardData: break
        default: continue
        }
        let inputs = c.makeInputs()
        dev.halfWeights = false
        let float = try Harness.run(c, on: dev, inputs: inputs, constantInputs: true)
        dev.halfWeights = true
        let got = try Harness.run(c, on: dev, inputs: inputs, constantInputs: true)
        let want = cpu.supports(c.op) ? try Harness.run(c, on: cpu, inputs: inputs)
          : Reference.run(c.op, inputs.map { $0.map(Double.init) }).map { $0.map(Float.init) }
        let e = Harness.nmse(got[0], want[0])
        worst = max(worst, e)
        XCTAssert(e <= 2e-6, "\(c.name) with half weights: nmse \(e)")
        checked += 1
        if got[0] != float[0] { differing += 1 }
      }
      print("half weights on \(dev.name): \(checked) cases, worst nmse \(String(format: "%.2e", worst)), "
            + "\(differing) differ from float weights")
      XCTAssertGreaterThan(checked, 20)
      XCTAssertGreaterThan(differing, checked / 2)
    }
  }

  /// The half copy follows every write into the weights: an op that writes them (as a training
  /// step's update does) and a host `write` — in a recorded plan step too. A stale copy would give
  /// the old result.
  func testHalfWeightsFollowWrites() throws {
    guard let dev = try openCLDevices().first else { return }
    dev.useFused = true
    dev.splitOverride = 1
    dev.halfWeights = true
    defer { dev.halfWeights = false }
    let g = ConvGeometry(batch: 2, inChannels: 8, inHeight: 6, inWidth: 6, outChannels: 16, kernel: (3, 3),
                         padding: (1, 1))
    var rng = SplitMix64(seed: 11)
    let xs = (0..<2 * 8 * 36).map { _ in Float.random(in: -1...1, using: &rng) }
    let ws = (0..<16 * g.patchSize).map { _ in Float.random(in: -1...1, using: &rng) }
    let x = try dev.tensor(xs, shape: [2, 8, 6, 6]), w = try dev.tensor(ws, shape: [16, 8, 3, 3])
    dev.declareConstant(w.buffer)
    let y = try dev.zeros([2, 16, 6, 6])
    let op = Op.conv2d(g, bias: false, activation: .identity)
    let step = try dev.prepare(op, inputs: [x, w], outputs: [y])
    try step.run()
    let y1 = try dev.values(y)
    // An op writes w (w = 3·w − 0): the next convolution sees 3·y1.
    try dev.run(.scale(count: ws.count, alpha: 3, beta: 0), inputs: [w], outputs: [w])
    try step.run()
    let y3 = try dev.values(y)
    XCTAssertEqual(y3.count, y1.count)
    XCTAssertLessThanOrEqual(Harness.nmse(y3, y1.map { 3 * $0 }), 2e-6, "after an op wrote the weights")
    // A host write: the negated weights give −y1.
    try dev.write(ws.map { -$0 }, to: w)
    try step.run()
    XCTAssertLessThanOrEqual(Harness.nmse(try dev.values(y), y1.map { -$0 }), 2e-6, "after a host write")
    // And the copy is half: the result differs from float weights'.
    dev.halfWeights = false
    let yf = try dev.zeros([2, 16, 6, 6])
    try dev.run(op, inputs: [x, w], outputs: [yf])
    XCTAssertNotEqual(try dev.values(yf), try dev.values(y))
  }

  /// A split convolution is two launches (the slices, then the reduction), recorded once into a
  /// plan step, and its partial sums need no allocation per call.
  func testSplitConvolutionLaunchesAndReusesItsBuffer() throws {
    guard let dev = try openCLDevices().first else { return }
    dev.useFused = true
    let g = ConvGeometry(batch: 1, inChannels: 64, inHeight: 4, inWidth: 4, outChannels: 8, kernel: (3, 3),
                         padding: (1, 1))
    var rng = SplitMix64(seed: 7)
    let xs = (0..<g.batch * 64 * 16).map { _ in Float.random(in: -1...1, using: &rng) }
    let ws = (0..<8 * g.patchSize).map { _ in Float.random(in: -1...1, using: &rng) }
    let x = try dev.tensor(xs, shape: [1, 64, 4, 4]), w = try dev.tensor(ws, shape: [8, 64, 3, 3])
    let y1 = try dev.zeros([1, 8, 4, 4]), y2 = try dev.zeros([1, 8, 4, 4])
    let op = Op.conv2d(g, bias: false, activation: .identity)
    dev.splitOverride = 1
    try dev.run(op, inputs: [x, w], outputs: [y1])
    dev.splitOverride = 4
    try dev.run(op, inputs: [x, w], outputs: [y2])  // creates the partial-sum buffer
    let before = dev.activity!
    try dev.run(op, inputs: [x, w], outputs: [y2])
    let d = dev.activity! - before
    XCTAssertEqual(d.launches, 2, "slices + reduction")
    XCTAssertEqual(d.bufferCreations, 0)
    let step = try dev.prepare(op, inputs: [x, w], outputs: [y2])
    let b2 = dev.activity!
    try step.run()
    XCTAssertEqual((dev.activity! - b2).launches, 2)
    XCTAssertEqual((dev.activity! - b2).kernelCreations, 0)
    let a = try dev.values(y1), b = try dev.values(y2)
    // 576 products summed in four slices instead of one run: float32 rounding of the order only.
    XCTAssertLessThanOrEqual(Harness.nmse(b, a), 1e-12)
    XCTAssertEqual(a.count, b.count)
  }
}
#endif

#if OpenCL
/// Device selection rules, on made-up device lists (no hardware needed).
final class OpenCLDeviceChoiceTests: XCTestCase {
  let list = [
    OpenCLDeviceTraits(name: "pthread-znver3", platform: "Portable Computing Language PoCL 3.1", vendor: "AMD",
                       isGPU: false, unifiedMemory: true, computeUnits: 16),
    OpenCLDeviceTraits(name: "Intel(R) UHD Graphics 770", platform: "Intel(R) OpenCL Graphics", vendor: "Intel(R) Corporation",
                       isGPU: true, unifiedMemory: true, computeUnits: 96),
    OpenCLDeviceTraits(name: "NVIDIA GeForce RTX 3060", platform: "NVIDIA CUDA", vendor: "NVIDIA Corporation",
                       isGPU: true, unifiedMemory: false, computeUnits: 28),
    OpenCLDeviceTraits(name: "NVIDIA RTX A6000", platform: "NVIDIA CUDA", vendor: "NVIDIA Corporation",
                       isGPU: true, unifiedMemory: false, computeUnits: 84),
  ]

  func testAutoPrefersTheLargestDiscreteGPUAndNeverACPUDevice() {
    XCTAssertEqual(OpenCLRuntime.preferredGPU(list), 3)
    XCTAssertEqual(OpenCLRuntime.preferredGPU(Array(list.prefix(3))), 2, "discrete before a larger integrated GPU")
    XCTAssertEqual(OpenCLRuntime.preferredGPU(Array(list.prefix(2))), 1, "an integrated GPU when it is the only GPU")
    XCTAssertNil(OpenCLRuntime.preferredGPU(Array(list.prefix(1))), "PoCL's CPU device is never auto")
  }

  /// The op table reaches every fused convolution kernel (wide and narrow tiles, forward,
  /// backward-data and backward-filter, stride 1 and strided), so the conformance test above checks each of them.
  func testOpTableReachesEveryFusedKernel() {
    var seen: Set<String> = []
    for c in OpCases.all(.test) where c.referenceAffordable {
      guard let k = OpenCLDevice.fusedKernel(for: c.op) else { continue }
      seen.insert(k)
      if case .conv2dBackwardData(let g, _, _, _) = c.op, g.strideH > 1 { seen.insert(k + "-strided") }
      // The "fused, split 3" path splits every reduction of two or more steps: each kernel must
      // meet such a case, with slices of unequal lengths somewhere (a last, partial slice).
      if let length = OpenCLDevice.reductionLength(for: c.op),
         OpenCLDevice.splitCount(groups: 1, length: length, computeUnits: 1, override: 3).split > 1 {
        seen.insert(k + "-split")
        if length % OpenCLDevice.splitCount(groups: 1, length: length, computeUnits: 1, override: 3).per != 0 {
          seen.insert(k + "-split-partial")
        }
      }
    }
    for k in ["conv2d_fused", "conv2d_fused_narrow", "conv2d_bwd_fused", "conv2d_bwd_fused_narrow",
              "conv2d_bwd_fused-strided", "conv2d_bwd_fused_narrow-strided", "conv2d_bwf_fused",
              "conv2d_bwf_fused_narrow"] {
      XCTAssert(seen.contains(k), "no reference-checked op case runs \(k)")
    }
    for k in ["conv2d_fused", "conv2d_fused_narrow", "conv2d_bwd_fused", "conv2d_bwd_fused_narrow", "conv2d_bwf_fused",
              "conv2d_bwf_fused_narrow"] {
      XCTAssert(seen.contains(k + "-split"), "no reference-checked op case splits \(k)'s reduction")
    }
    XCTAssert(seen.contains { $0.hasSuffix("-split-partial") }, "no split with a partial last slice")
  }

  /// When a fused convolution's reduction is split: only when its work-groups would fill at most
  /// half the compute units, into slices of whole 16-steps, at least 8 steps each, at most 64 slices; the
  /// override forces it wherever there are two steps.
  func testSplitRule() {
    typealias D = OpenCLDevice
    // A 512 × 16 × 8192 product at batch 1 (16 groups) on a 132-unit GPU: ⌈264 / 16⌉ = 17 slices of
    // 31 steps (496).
    XCTAssertEqual(D.splitCount(groups: 16, length: 8192, computeUnits: 132, override: nil).split, 17)
    XCTAssertEqual(D.splitCount(groups: 16, length: 8192, computeUnits: 132, override: nil).per, 496)
    // Backward-filter of D's first layer at batch 64 (2 groups, 65,536 pixels): the 64-slice cap.
    XCTAssertEqual(D.splitCount(groups: 2, length: 65_536, computeUnits: 132, override: nil).split, 64)
    // Enough groups, or a short reduction: no split.
    XCTAssertEqual(D.splitCount(groups: 132, length: 65_536, computeUnits: 132, override: nil).split, 1)
    XCTAssertEqual(D.splitCount(groups: 67, length: 65_536, computeUnits: 132, override: nil).split, 1, "over half")
    XCTAssertEqual(D.splitCount(groups: 66, length: 65_536, computeUnits: 132, override: nil).split, 4)
    XCTAssertEqual(D.splitCount(groups: 2, length: 48, computeUnits: 132, override: nil).split, 1)
    XCTAssertEqual(D.splitCount(groups: 1, length: 240, computeUnits: 132, override: nil).split, 1, "15 steps: no two slices of 8")
    XCTAssertEqual(D.splitCount(groups: 1, length: 256, computeUnits: 132, override: nil).split, 2)
    // The override: at most one slice per step, slices cover the length exactly once.
    XCTAssertEqual(D.splitCount(groups: 500, length: 40, computeUnits: 2, override: 3).split, 3)
    XCTAssertEqual(D.splitCount(groups: 500, length: 40, computeUnits: 2, override: 3).per, 16)
    XCTAssertEqual(D.splitCount(groups: 500, length: 16, computeUnits: 2, override: 3).split, 1)
    XCTAssertEqual(D.splitCount(groups: 500, length: 16, computeUnits: 2, override: 3).per, 16)
    for length in [17, 100, 1000, 4097] {
      for units in [1, 8, 132] {
        let (s, per) = D.splitCount(groups: 1, length: length, computeUnits: units, override: nil)
        XCTAssertEqual(per % 16 == 0 || s == 1, true)
        XCTAssertGreaterThanOrEqual(s * per, length, "slices cover \(length)")
        XCTAssertLessThan((s - 1) * per, length, "no empty slice for \(length) on \(units) units")
      }
    }
  }


  func testDevicesByIndexOrName() throws {
    XCTAssertEqual(try OpenCLRuntime.match("2", in: list), 2)
    XCTAssertEqual(try OpenCLRuntime.match("a6000", in: list), 3)
    XCTAssertEqual(try OpenCLRuntime.match("uhd", in: list), 1)
    XCTAssertEqual(try OpenCLRuntime.match("pocl", in: list), 0, "platform names match too")
    XCTAssertThrowsError(try OpenCLRuntime.match("nvidia", in: list)) { XCTAssert("\($0)".contains("matches 2")) }
    XCTAssertThrowsError(try OpenCLRuntime.match("radeon", in: list)) { XCTAssert("\($0)".contains("no OpenCL device matches")) }
    XCTAssertThrowsError(try OpenCLRuntime.match("7", in: list)) { XCTAssert("\($0)".contains("does not exist")) }
  }

  /// Benchmarks read per-iteration counts from the device: a GEMM is one library call (on CLBlast)
  /// or one launch (on mend's `gemm_tile`), a blocking read one host wait, steady state creates
  /// nothing.
  func testActivityCounts() throws {
    for tile in [false, true] {
    let dev = try OpenCLDevice(index: 0)
    dev.useTileGEMM = tile
    let a = try dev.tensor([Float](repeating: 1, count: 16), shape: [4, 4]), c = try dev.zeros([4, 4])
    func sequence() throws {
      try dev.run(.gemm(GemmDesc(m: 4, n: 4, k: 4)), inputs: [a, a], outputs: [c])
      try dev.run(.add(count: 16), inputs: [c, a], outputs: [c])
      _ = try dev.values(c)
    }
    // Warm-up: sizes CLBlast's temporary buffer and binds the add kernel's arguments once.
    let cold = try XCTUnwrap(dev.activity)
    try sequence()
    let warmup = try XCTUnwrap(dev.activity) - cold
    XCTAssertEqual(warmup.kernelCreations, tile ? 2 : 1)
    let before = try XCTUnwrap(dev.activity)
    try sequence()
    let d = try XCTUnwrap(dev.activity) - before
    XCTAssertEqual(d.libraryCalls, tile ? 0 : 1)
    XCTAssertEqual(d.launches, tile ? 2 : 1)
    XCTAssertEqual(d.hostWaits, 1)
    XCTAssertEqual(d.bufferCreations + d.kernelCreations, 0)
    }
  }
}
#endif
