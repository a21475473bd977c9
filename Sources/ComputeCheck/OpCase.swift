import Compute
import Foundation

/// How a case's input values are drawn (seeded; never the global generator).
public enum InputSpec: Sendable {
  /// Uniform in [lo, hi).
  case uniform(Float, Float)
  /// Uniform magnitude in [0.05, a) with a random sign: keeps finite differences off the kinks of
  /// ReLU, PReLU and |·|.
  case awayFromZero(Float)
  /// 0 or 1 with equal probability (masks, BCE targets).
  case binary
  /// The constant value (e.g. a BCE target of 0 for log(1 − D)).
  case constant(Float)
}

/// Where a backward op's input comes from, in a gradient check.
public enum GradSource: Sendable {
  case input(Int)
  case output(Int)
  /// The upstream gradient dL/d(forward output `lossOutput`).
  case upstream
}

/// A backward op checked against finite differences of the forward op's float64 reference.
public struct GradSpec: Sendable {
  public let backward: Op
  public let sources: [GradSource]
  /// (backward output index, forward input index it is the gradient of)
  public let grads: [(Int, Int)]
  public let lossOutput: Int

  public init(_ backward: Op, _ sources: [GradSource], grads: [(Int, Int)], lossOutput: Int = 0) {
    self.backward = backward; self.sources = sources; self.grads = grads; self.lossOutput = lossOutput
  }
}

/// One row of the op table: drives conformance, gradient checks and the benchmark.
public struct OpCase: Sendable {
  public let name: String
  public let op: Op
  public let inputs: [InputSpec]
  /// Largest normalized MSE Σ(a−b)²/Σb² accepted against the reference.
  public let tolerance: Double
  /// Why the tolerance is what it is (required when looser than the default).
  public let toleranceReason: String
  public let gradients: [GradSpec]
  /// Output i starts as a copy of input j and the op updates it in place (GEMM with beta ≠ 0).
  public let inPlace: [Int: Int]
  /// Inputs the benchmark declares constant, as a compiled model's weights are (paths that cache
  /// derived copies of constant operands — pre-packed GEMM operands, Winograd filters — then run
  /// as they do in a model); the conformance test checks each case both ways.
  public var benchConstants: [Int] = []

  /// Float32 summation error for K-term dot products is ~1e-7·√K relative; squared, well under 1e-10.
  public static let defaultTolerance = 1e-10

  public init(_ name: String, _ op: Op, _ inputs: [InputSpec], tolerance: Double = OpCase.defaultTolerance,
              reason: String = "float32 rounding of short sums", gradients: [GradSpec] = [],
              inPlace: [Int: Int] = [:]) {
    self.name = name; self.op = op; self.inputs = inputs; self.tolerance = tolerance
    self.toleranceReason = reason; self.gradients = gradients; self.inPlace = inPlace
  }

  /// Whether the naive float64 reference is cheap enough to run in the test suite.
  public var referenceAffordable: Bool { op.flops <= 3e8 }

  /// Deterministic input values for this case.
  public func makeInputs(seed: UInt64 = 42) -> [[Float]] {
    var rng = SplitMix64(seed: seed ^ UInt64(truncatingIfNeeded: name.hashValueStable))
    return zip(inputs, op.inputCounts).map { spec, n in
      (0..<n).map { _ in spec.draw(&rng) }
    }
  }
}

extension InputSpec {
  func draw(_ rng: inout SplitMix64) -> Float {
    switch self {
    case .uniform(let lo, let hi): return lo + (hi - lo) * rng.nextFloat()
    case .awayFromZero(let a):
      let m = 0.05 + (a - 0.05) * rng.nextFloat()
      return rng.next() & 1 == 0 ? m : -m
    case .binary: return rng.next() & 1 == 0 ? 0 : 1
    case .constant(let v): return v
    }
  }
}

extension String {
  /// FNV-1a: a hash that, unlike `hashValue`, is the same in every process.
  var hashValueStable: UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
  }
}
