import Foundation

/// The host side of the `.adam` op: the two per-step scalars it reads from its `hyper` input.
public enum Adam {
  /// `hyper` for step t ≥ 1: α_t = lr·√(1−β2ᵗ)/(1−β1ᵗ) and ε_t = ε·√(1−β2ᵗ), which fold PyTorch's
  /// bias corrections into the step so that the op itself needs no step count.
  @inlinable
  public static func hyper(step t: Int, learningRate lr: Float, beta1: Float, beta2: Float, eps: Float = 1e-8)
    -> (alpha: Float, eps: Float)
  {
    let b1t = 1 - pow(beta1, Float(t)), b2t = 1 - pow(beta2, Float(t))
    return (lr * b2t.squareRoot() / b1t, eps * b2t.squareRoot())
  }
}
