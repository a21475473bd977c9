import CPURuntime
// exp, tanh and sigmoid for the element-wise kernels without libm calls, written as scalar code
// that LLVM vectorises in plain loops (scalar tanhf/expf cost ~8 ns per element and block
// vectorisation; Swift's generic SIMD rounding/select operations lower lane by lane, which is
// slower still). Cephes' single-precision polynomials: relative error below 3e-7 over the float
// range (checked against the float64 reference in the op table, saturating and tiny inputs too).
enum FastMath {
  /// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by a degree-7 polynomial,
  /// 2^n put into the exponent bits. Inputs are clamped to [−87.3, 88.3] (finite results).
  @inline(__always)
  static func exp(_ x: Float) -> Float {
    let xc = min(max(x, -87.3), 88.3)
    let n = (xc * 1.44269504088896341 + 0.5).rounded(.down)
    let r = xc - n * 0.693359375 + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    return p * Float(bitPattern: UInt32(bitPattern: (Int32(n) &+ 127) &<< 23))
  }

  /// tanh: x + x³·P(x²) for |x| < 0.625 (no cancellation near 0), else 1 − 2/(e^{2|x|} + 1) with
  /// the sign of x.
  @inline(__always)
  static func tanh(_ x: Float) -> Float {
    let a = abs(x), z = x * x
    var p: Float = -5.70498872745e-3
    p = p * z + 2.06390887954e-2
    p = p * z - 5.37397155531e-2
    p = p * z + 1.33314422036e-1
    p = p * z - 3.33332819422e-1
    let small = p * z * x + x
    let large = 1 - 2 / (exp(a + a) + 1)
    return a < 0.625 ? small : (x < 0 ? -large : large)
  }

  @inline(__always)
  static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
}
