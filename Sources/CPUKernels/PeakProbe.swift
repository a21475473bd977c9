import CPURuntime
import Foundation

extension CPUBackend {
  /// The FMA throughput this level's kernels can reach on this CPU, in GFLOP/s over `threads`
  /// threads: independent fused multiply-add chains in registers (enough to cover FMA latency ×
  /// ports; on the generic level a multiply and an add),
  /// no memory traffic. Benchmarks report each case's fraction of it, so a figure reads the same
  /// on any machine. Takes about `seconds` (best of several short rounds).
  public static func fmaPeak(threads: Int, seconds: Double = 0.2) -> Double {
    let splitter = ThreadSplitter(threads: threads)
    let iterations = 1 << 16
    var best = 0.0
    let start = Date()
    repeat {
      let t0 = Date()
      var sink = [Float](repeating: 0, count: max(1, threads))
      sink.withUnsafeMutableBufferPointer { out in
        let box = UnsafeSendable(value: out.baseAddress!)
        splitter.forEach(max(1, threads)) { t in box.value[t] = chains(iterations) }
      }
      let dt = Date().timeIntervalSince(t0)
      // Keep the result observable so the loop is not removed.
      if sink[0] == 12345 { print("") }
      best = max(best, Double(max(1, threads)) * Double(iterations) * flopsPerIteration / dt / 1e9)
    } while Date().timeIntervalSince(start) < seconds
    return best
  }

  #if MEND_ISA_AVX512
    // 12 zmm accumulators: 2 FMA ports × 4 cycles latency = 8 needed, 12 leaves slack.
    typealias ProbeVector = SIMD16<Float>
    static let probeChains = 12
  #elseif MEND_ISA_AVX2
    // 10 ymm accumulators of 16: 2 ports × 4–5 cycles latency.
    typealias ProbeVector = SIMD8<Float>
    static let probeChains = 10
  #else
    typealias ProbeVector = SIMD4<Float>
    static let probeChains = 8
  #endif
  static var flopsPerIteration: Double { Double(probeChains * ProbeVector.scalarCount * 2) }

  @inline(never)
  static func chains(_ n: Int) -> Float {
    typealias V = ProbeVector
    let m = V(repeating: 1e-7), a = V(repeating: 1e-7)
    var c0 = V(repeating: 1), c1 = V(repeating: 2), c2 = V(repeating: 3), c3 = V(repeating: 4)
    var c4 = V(repeating: 5), c5 = V(repeating: 6), c6 = V(repeating: 7), c7 = V(repeating: 8)
    #if MEND_ISA_AVX512 || MEND_ISA_AVX2
      var c8 = V(repeating: 9), c9 = V(repeating: 10)
    #endif
    #if MEND_ISA_AVX512
      var c10 = V(repeating: 11), c11 = V(repeating: 12)
    #endif
    for _ in 0..<n {
      c0.madd(m, a); c1.madd(m, a); c2.madd(m, a); c3.madd(m, a)
      c4.madd(m, a); c5.madd(m, a); c6.madd(m, a); c7.madd(m, a)
      #if MEND_ISA_AVX512 || MEND_ISA_AVX2
        c8.madd(m, a); c9.madd(m, a)
      #endif
      #if MEND_ISA_AVX512
        c10.madd(m, a); c11.madd(m, a)
      #endif
    }
    var s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7
    #if MEND_ISA_AVX512 || MEND_ISA_AVX2
      s += c8 + c9
    #endif
    #if MEND_ISA_AVX512
      s += c10 + c11
    #endif
    return s.sum()
  }
}
