import Compute

// MARK: - Directional finite-difference checks of whole models

extension Harness {
  /// A sparse direction for a directional finite-difference check: at most `entries` entries of the
  /// parameter (drawn at random, with replacement), each ±1 along the sign of its analytic gradient
  /// `grad`, the rest 0. Its directional derivative Σ|g_i| does not cancel (a dense Gaussian
  /// direction's ⟨g, u⟩ can be near zero and drown in float32 rounding of the loss), and moving few
  /// entries crosses few ReLU/LeakyReLU kinks. A wrong gradient still shows: the numeric derivative
  /// along u, Σ sign(g_i)·(true gradient)_i, differs from Σ|g_i| unless the entries agree.
  public static func sparseSignDirection(_ grad: [Float], entries: Int = 64, rng: inout SplitMix64) -> [Float] {
    var u = [Float](repeating: 0, count: grad.count)
    for _ in 0..<min(entries, grad.count) {
      let i = Int(rng.next() % UInt64(grad.count))
      u[i] = grad[i] >= 0 ? 1 : -1
    }
    return u
  }

  /// The same along every entry (u_i = sign(g_i), normalised to unit length), for small tensors
  /// such as a latent vector, where every entry moves the output anyway.
  public static func signDirection(_ grad: [Float]) -> [Float] {
    let s = 1 / Float(max(1, grad.count)).squareRoot()
    return grad.map { $0 >= 0 ? s : -s }
  }

  /// ⟨g, u⟩ in float64; NaN when the lengths differ (`zip` would truncate), so a check built on it
  /// fails through `directionalError`.
  public static func dot(_ g: [Float], _ u: [Float]) -> Double {
    guard g.count == u.count else { return .nan }
    var s = 0.0
    for (a, b) in zip(g, u) { s += Double(a) * Double(b) }
    return s
  }

  /// |numeric − analytic| / max(|analytic|, `floor`): +∞ when either is NaN or infinite or the
  /// denominator is 0 (a lost gradient, all zero, gives analytic 0). Never NaN, so `Swift.max` over
  /// these values cannot drop a failure.
  public static func directionalError(numeric: Double, analytic: Double, floor: Double = 0) -> Double {
    guard numeric.isFinite, analytic.isFinite else { return .infinity }
    let d = max(abs(analytic), floor)
    guard d > 0 else { return .infinity }
    let r = abs(numeric - analytic) / d
    return r.isFinite ? r : .infinity
  }
}
