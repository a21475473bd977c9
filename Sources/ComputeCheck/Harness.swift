import Compute
import Foundation

/// Runs op cases on a device and compares results: the engine behind the conformance tests,
/// the gradient checks and `mend bench ops`.
public enum Harness {
  /// Floats of sentinel placed before and after every output to catch out-of-bounds writes.
  public static let guardCount = 16
  public static let sentinel: Float = -7.0e30

  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// Uploads `inputs`, runs the case's op, and returns its outputs. Every output lives in a larger
  /// buffer between sentinel guards, which are checked afterwards.
  /// With `constantInputs`, input buffers are declared constant (as a plan's weights are), so
  /// paths that cache derived copies of constant operands run.
  public static func run(_ c: OpCase, on device: Device, inputs: [[Float]], constantInputs: Bool = false) throws -> [[Float]] {
    let (ins, outs, guarded) = try prepare(c, on: device, inputs: inputs)
    if constantInputs {
      for (k, t) in ins.enumerated() where !c.inPlace.values.contains(k) { device.declareConstant(t.buffer) }
    }
    try device.run(c.op, inputs: ins, outputs: outs)
    try device.synchronize()
    var results: [[Float]] = []
    for (k, g) in guarded.enumerated() {
      let all = try device.values(g)
      let n = outs[k].count
      for j in 0..<guardCount where all[j] != sentinel || all[guardCount + n + j] != sentinel {
        throw Failure(description: "\(c.name) on \(device.name): output \(k) written out of bounds")
      }
      results.append(Array(all[guardCount..<(guardCount + n)]))
    }
    return results
  }

  /// Device tensors for a case: inputs, guarded outputs (in-place outputs start as their input).
  public static func prepare(_ c: OpCase, on device: Device, inputs: [[Float]])
    throws -> (inputs: [TensorRef], outputs: [TensorRef], guarded: [TensorRef]) {
    var ins = try zip(inputs, c.op.inputCounts).map { v, n in try device.tensor(v, shape: [n]) }
    var outs: [TensorRef] = [], guarded: [TensorRef] = []
    for (k, n) in c.op.outputCounts.enumerated() {
      var initial = [Float](repeating: sentinel, count: n + 2 * guardCount)
      for j in 0..<n { initial[guardCount + j] = 0 }
      if let src = c.inPlace[k] { for j in 0..<n { initial[guardCount + j] = inputs[src][j] } }
      let g = try device.tensor(initial, shape: [n + 2 * guardCount])
      let t = g.slice(start: guardCount, count: n)
      if let src = c.inPlace[k] { ins[src] = t }
      outs.append(t)
      guarded.append(g)
    }
    return (ins, outs, guarded)
  }

  /// Normalized mean squared error Σ(a − b)² / Σ b² (NaN counts as failure via the caller's ≤).
  public static func nmse(_ a: [Float], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
      let d = Double(x) - y
      num += d * d
      den += y * y
    }
    if !num.isFinite || !den.isFinite { return .infinity }
    return den == 0 ? num : num / den
  }

  public static func nmse(_ a: [Float], _ b: [Float]) -> Double { nmse(a, b.map(Double.init)) }

  /// Largest |a − b|; +∞ when the lengths differ or any difference is NaN or infinite. (Swift.max
  /// and `.max()` silently drop NaN, and `zip` silently truncates: an all-NaN or a half-length
  /// output would pass every bound.)
  public static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var m: Float = 0
    for i in a.indices {
      let d = abs(a[i] - b[i])
      guard d.isFinite else { return .infinity }
      m = max(m, d)
    }
    return m
  }

  /// Largest |a|; +∞ when any value is NaN or infinite.
  public static func maxAbs(_ a: [Float]) -> Float {
    var m: Float = 0
    for v in a {
      guard v.isFinite else { return .infinity }
      m = max(m, abs(v))
    }
    return m
  }

  // MARK: - Gradient checks

  /// Checks each gradient the case declares: the device's backward op against central finite
  /// differences of the float64 reference forward, on up to `samples` elements per input.
  /// Returns the worst relative error: max |analytic − numeric| / max |numeric|.
  public static func gradientError(_ c: OpCase, _ spec: GradSpec, on device: Device, samples: Int = 24) throws -> Double {
    let inputs = c.makeInputs()
    let forwardOut = try run(c, on: device, inputs: inputs)
    var rng = SplitMix64(seed: 7)
    let upstream = (0..<c.op.outputCounts[spec.lossOutput]).map { _ in InputSpec.uniform(-1, 1).draw(&rng) }
    let bInputs: [[Float]] = spec.sources.map {
      switch $0 {
      case .input(let j): return inputs[j]
      case .output(let k): return forwardOut[k]
      case .upstream: return upstream
      }
    }
    let bCase = OpCase(c.name + "_bwd", spec.backward, [])
    let analytic = try run(bCase, on: device, inputs: bInputs)

    let base = inputs.map { $0.map(Double.init) }
    let up = upstream.map(Double.init)
    func loss(_ x: [[Double]]) -> Double {
      let y = Reference.run(c.op, x)[spec.lossOutput]
      return zip(y, up).reduce(0) { $0 + $1.0 * $1.1 }
    }
    var worst = 0.0
    for (outIndex, inIndex) in spec.grads {
      let n = base[inIndex].count
      let picks = n <= samples ? Array(0..<n) : (0..<samples).map { _ in Int(rng.next() % UInt64(n)) }
      var maxErr = 0.0, maxNum = 0.0
      for e in picks {
        var xp = base, xm = base
        let h = 1e-4 * max(1, abs(base[inIndex][e]))
        xp[inIndex][e] += h
        xm[inIndex][e] -= h
        let num = (loss(xp) - loss(xm)) / (2 * h)
        let err = abs(Double(analytic[outIndex][e]) - num)
        // Swift.max drops NaN; a non-finite gradient is the worst possible answer.
        guard err.isFinite else { return .infinity }
        maxErr = max(maxErr, err)
        maxNum = max(maxNum, abs(num))
      }
      worst = max(worst, maxErr / max(maxNum, 1e-3))
    }
    return worst
  }
}
