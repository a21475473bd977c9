import Compute
import ComputeCPU
import Foundation

/// Timing of one op case on one device: median and min of repeated runs after warm-up.
public struct BenchResult: Sendable {
  public let name: String
  public let kind: String
  public let device: String
  public let threads: Int
  public let runs: Int
  public let medianMs: Double
  public let minMs: Double
  public let gflops: Double
  public let gbps: Double
  /// The kernels' instruction-set level ("avx512", "avx2", "generic"), or "opencl".
  public let isa: String
  /// Register-only FMA peak of the device (GFLOP/s, same threads), when known (CPU).
  public let peakGflops: Double?
  /// Per-run device activity as JSON fields (OpenCL), or "".
  public let activityJSON: String

  /// One JSON object (a line of `--json` output).
  public var json: String {
    func f(_ x: Double) -> String { String(format: "%.4f", x) }
    return "{\"case\":\"\(name)\",\"op\":\"\(kind)\",\"device\":\"\(device)\",\"threads\":\(threads),"
      + "\"runs\":\(runs),\"median_ms\":\(f(medianMs)),\"min_ms\":\(f(minMs)),\"gflops\":\(f(gflops)),"
      + "\"gbps\":\(f(gbps)),\"isa\":\"\(isa)\"" + (peakGflops.map { ",\"peak_gflops\":\(f($0)),\"peak_fraction\":\(f(gflops / $0))" } ?? "") + activityJSON + "}"
  }
}

public enum Bench {
  // Benchmarks run on one thread; these hold the last `time(device:)` call's counts.
  nonisolated(unsafe) static var lastActivity: (DeviceActivity, runs: Int)?
  nonisolated(unsafe) static var samplesTaken = 0

  /// The device activity of one timed run of the last `time(device:)` call, as JSON fields
  /// ("launches": …), or "" when the device counts nothing.
  public static var lastActivityJSON: String {
    guard let (a, n) = lastActivity else { return "" }
    return "," + a.jsonFields(per: n)
  }

  public static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// Times `body` (which must finish its device work before returning): `warmup` untimed runs, then
  /// runs until `budget` seconds or `maxRuns`, at least `minRuns`. Returns (median, min) in ms.
  /// With `device`, also counts its activity over the timed runs: `lastActivityPerRun` holds the
  /// totals of one run (launches, creations, host waits) afterwards.
  public static func time(warmup: Int = 2, minRuns: Int = 5, maxRuns: Int = 200, budget: Double = 1.0,
                          device: Device? = nil,
                          _ body: () throws -> Void) rethrows -> (median: Double, min: Double, runs: Int) {
    for _ in 0..<warmup { try body() }
    let before = device?.activity
    defer {
      if let before, let after = device?.activity { lastActivity = (after - before, samplesTaken) } else { lastActivity = nil }
    }
    var samples: [Double] = []
    let start = now()
    while samples.count < minRuns || (samples.count < maxRuns && now() - start < budget) {
      let t0 = now()
      try body()
      samples.append((now() - t0) * 1e3)
    }
    samplesTaken = samples.count
    samples.sort()
    let mid = samples.count / 2
    let median = samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
    return (median, samples[0], samples.count)
  }

  /// The device's kernel level for reports: the CPU's ISA, or "opencl".
  public static func isa(of device: Device) -> String { (device as? CPUDevice)?.isa.rawValue ?? "opencl" }

  /// The CPU's register-only FMA peak for the device's level and threads (nil for other devices).
  public static func peak(of device: Device) -> Double? {
    guard let cpu = device as? CPUDevice else { return nil }
    return CPUDevice.fmaPeak(isa: cpu.isa, threads: cpu.threadCount)
  }

  public static func run(_ c: OpCase, on device: Device, budget: Double = 1.0, peak: Double? = nil) throws -> BenchResult {
    let (ins, outs, _) = try Harness.prepare(c, on: device, inputs: c.makeInputs())
    for k in c.benchConstants { device.declareConstant(ins[k].buffer) }
    let t = try time(budget: budget, device: device) {
      try device.run(c.op, inputs: ins, outputs: outs)
      try device.synchronize()
    }
    let s = t.median * 1e-3
    return BenchResult(name: c.name, kind: c.op.kind, device: device.name, threads: device.threadCount, runs: t.runs,
                       medianMs: t.median, minMs: t.min, gflops: c.op.flops / s / 1e9,
                       gbps: c.op.bytesMoved / s / 1e9, isa: isa(of: device), peakGflops: peak,
                       activityJSON: lastActivityJSON)
  }
}
