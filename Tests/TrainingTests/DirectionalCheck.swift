import Compute
import ComputeCheck
import Graph
import Training
import XCTest

extension XCTestCase {
  /// Directional finite-difference check of `grad` (a tensor of `plan`) for parameter `name` of
  /// `store` against `loss()` (float64); returns the relative error, +∞ on NaN, a length mismatch
  /// or an all-zero gradient (so `Swift.max` over results keeps a failure).
  func directional(_ store: ParameterStore, _ name: String, grad: TensorRef, loss: () throws -> Double,
                   rng: inout SplitMix64, h: Float = 1e-4, label: String = "") throws -> Double {
    let cpu = store.device
    let e = try XCTUnwrap(store.entries[name], name)
    _ = try loss()
    let g = try cpu.values(grad)
    let w = try cpu.values(e.value)
    // A sparse direction (at most 64 entries: perturbing all 2M entries of a dense layer at once
    // crosses many LeakyReLU kinks and measures curvature, not the gradient), each entry along the
    // sign of its analytic gradient, so the directional derivative Σ|g_i| does not cancel to a
    // value that float32 rounding of the loss swamps (Harness.sparseSignDirection).
    let u = Harness.sparseSignDirection(g, rng: &rng)
    try cpu.write(zip(w, u).map { $0 + h * $1 }, to: e.value); let lp = try loss()
    try cpu.write(zip(w, u).map { $0 - h * $1 }, to: e.value); let lm = try loss()
    try cpu.write(w, to: e.value)
    let num = (lp - lm) / Double(2 * h), ana = Harness.dot(g, u)
    print("\(label.isEmpty ? "" : label + " ")\(name): directional analytic \(ana), numeric \(num)")
    return Harness.directionalError(numeric: num, analytic: ana)
  }
}
