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

  /// Both convolution paths: the fused kernels and the im2col/col2im + CLBlast lowering.
  func testEveryOpCaseMatchesCPU() throws {
    let cpu = CPUDevice(threads: 2)
    for dev in try openCLDevices() {
    for fused in [true, false] {
      dev.useFused = fused
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
          XCTAssert(e <= c.tolerance, "\(c.name) output \(k) on \(dev.name) (\(fused ? "fused" : "lowered")): nmse \(e) > \(c.tolerance)")
        }
        rows.append("\(c.name.padding(toLength: 40, withPad: " ", startingAt: 0)) nmse \(String(format: "%.2e", worst))")
      }
      print("coverage on \(dev.summary), \(fused ? "fused" : "lowered") convolutions: \(rows.count) cases checked, \(unsupported.count) unsupported")
      for u in unsupported { print("  UNSUPPORTED \(u)") }
      XCTAssertGreaterThan(rows.count, 60)
    }
    }
  }

  func testGradientsMatchFiniteDifferences() throws {
    for dev in try openCLDevices() {
    for fused in [true, false] {
      dev.useFused = fused
      var checked = 0
      for c in OpCases.all(.test) where dev.supports(c.op) {
        for g in c.gradients where dev.supports(g.backward) {
          let err = try Harness.gradientError(c, g, on: dev)
          // As on the CPU: float32 backward vs float64 central differences (h = 1e-4).
          XCTAssert(err < 1e-3, "\(c.name) backward \(g.backward.kind) on \(dev.name) (\(fused ? "fused" : "lowered")): relative error \(err)")
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
    }
    for k in ["conv2d_fused", "conv2d_fused_narrow", "conv2d_bwd_fused", "conv2d_bwd_fused_narrow",
              "conv2d_bwd_fused-strided", "conv2d_bwd_fused_narrow-strided", "conv2d_bwf_fused",
              "conv2d_bwf_fused_narrow"] {
      XCTAssert(seen.contains(k), "no reference-checked op case runs \(k)")
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

  /// Benchmarks read per-iteration counts from the device: a GEMM is one library call, a
  /// blocking read one host wait, steady state creates nothing.
  func testActivityCounts() throws {
    let dev = try OpenCLDevice(index: 0)
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
    XCTAssertEqual(warmup.kernelCreations, 1)
    let before = try XCTUnwrap(dev.activity)
    try sequence()
    let d = try XCTUnwrap(dev.activity) - before
    XCTAssertEqual(d.libraryCalls, 1)
    XCTAssertEqual(d.launches, 1)
    XCTAssertEqual(d.hostWaits, 1)
    XCTAssertEqual(d.bufferCreations + d.kernelCreations, 0)
  }
}
#endif
