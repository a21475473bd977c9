// Vector exp, tanh and sigmoid for the element-wise kernels (scalar tanhf/expf cost ~5 ns per
// element; these run 16 lanes at a time). Cephes' single-precision polynomials: relative error
// below 3e-7 over the float range (checked against the float64 reference in the op table).
enum FastMath {
  typealias V = SIMD16<Float>

  /// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by a degree-7 polynomial,
  /// 2^n put into the exponent bits. Inputs are clamped to [−87.3, 88.3] (finite results).
  @inline(__always)
  static func exp(_ x: V) -> V {
    let xc = x.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.3))
    let n = (xc * 1.44269504088896341).rounded(.toNearestOrEven)
    let r = xc - n * 0.693359375 + n * 2.12194440e-4
    var p = V(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + V(repeating: 1)
    let bits = (SIMD16<Int32>(n, rounding: .toNearestOrEven) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: V.self)
  }

  /// tanh: x + x³·P(x²) for |x| < 0.625 (no cancellation near 0), else 1 − 2/(e^{2|x|} + 1) with
  /// the sign of x.
  @inline(__always)
  static func tanh(_ x: V) -> V {
    let a = x.replacing(with: -x, where: x .< 0)
    let z = x * x
    var p = V(repeating: -5.70498872745e-3)
    p = p * z + 2.06390887954e-2
    p = p * z - 5.37397155531e-2
    p = p * z + 1.33314422036e-1
    p = p * z - 3.33332819422e-1
    let small = p * z * x + x
    let e = exp(a + a)
    var large = V(repeating: 1) - V(repeating: 2) / (e + V(repeating: 1))
    large.replace(with: -large, where: x .< 0)
    return small.replacing(with: large, where: a .>= 0.625)
  }

  @inline(__always)
  static func sigmoid(_ x: V) -> V { V(repeating: 1) / (V(repeating: 1) + exp(-x)) }

  /// y[j] = f(x[j]) for j < n: 16 at a time, the tail through a zero-padded vector.
  @inline(__always)
  static func map(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ f: (V) -> V) {
    var j = 0
    while j + 16 <= n {
      let v = UnsafeRawPointer(x + j).loadUnaligned(as: V.self)
      UnsafeMutableRawPointer(y + j).storeBytes(of: f(v), as: V.self)
      j += 16
    }
    if j < n {
      var v = V()
      for t in 0..<(n - j) { v[t] = x[j + t] }
      let r = f(v)
      for t in 0..<(n - j) { y[j + t] = r[t] }
    }
  }
}
