import CCPUFeatures
import CPURuntime

// The register-tile micro-kernel: an MR × NR tile of C from one packed A panel and one packed
// B panel (AVX-512 and generic: sixteen SIMD16 accumulators; AVX2: `avx2Tile`'s three passes).
extension SGEMMEngine {
  /// C[rows × cols] = alpha · Apanel · Bpanel + beta · C, with an MR×NR register tile. `half`
  /// (a literal at the call site, so the loop is specialised): only rows 0 ..< 4 are computed
  /// (rows ≤ 4) — lanes 4 ..< 8 of the A panel are not read — for the skinny kernel's panels of
  /// ≤ 4 columns, where the full tile would spend half its multiplications on padding.
  @inline(__always)
  static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                          c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                          alpha: Float, beta: Float, half: Bool = false, prefetchC: Bool = false) {
    typealias V = SIMD16<Float>
    // `prefetchC` (a literal at the call site) where C is a matrix in memory: its tile's rows are
    // ldc apart — 4 KB in a 1024-wide C, all in one L1 set — and were last touched a whole k-slice
    // ago, so fetched when the tile is stored they stalled the update (18 % of AVX2 SGEMM 1024, one
    // thread). Asked for now, they arrive during the kc FMAs. Not for the skinny kernels' scratch
    // tiles, nor for narrow C (ldc < 256: the batch-1 models' small products, whose C stays in L1),
    // where the hints only cost time (batch-1 models 2–6 % slower with them).
    if prefetchC && ldc >= 256 {
      for r in 0..<rows {
        mend_prefetch_for_write(c + r * ldc)
        mend_prefetch_for_write(c + r * ldc + 16)
      }
    }
    #if MEND_ISA_AVX2
      if !half && rows == 8 && cols == 32 {
        // The full tile: each pass updates its part of C straight from its registers.
        avx2FullTile(kc: kc, a: a, b: b, c: c, ldc: ldc, alpha: alpha, beta: beta)
        return
      }
      let tile = avx2Tile(kc: kc, a: a, b: b, half: half)
    #else
      var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
      var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
      var pa = a
      var pb = UnsafeRawPointer(b)
      for _ in 0..<kc {
        let b0 = pb.load(as: V.self)
        let b1 = pb.load(fromByteOffset: 64, as: V.self)
        var av = V(repeating: pa[0]); c00.madd(av, b0); c01.madd(av, b1)
        av = V(repeating: pa[1]); c10.madd(av, b0); c11.madd(av, b1)
        av = V(repeating: pa[2]); c20.madd(av, b0); c21.madd(av, b1)
        av = V(repeating: pa[3]); c30.madd(av, b0); c31.madd(av, b1)
        if !half {
          av = V(repeating: pa[4]); c40.madd(av, b0); c41.madd(av, b1)
          av = V(repeating: pa[5]); c50.madd(av, b0); c51.madd(av, b1)
          av = V(repeating: pa[6]); c60.madd(av, b0); c61.madd(av, b1)
          av = V(repeating: pa[7]); c70.madd(av, b0); c71.madd(av, b1)
        }
        pa += 8
        pb += 128
      }
      let tile = (c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71)
    #endif
    withUnsafeBytes(of: tile) { raw in
      let acc = raw.baseAddress!
      if rows == (half ? 4 : 8) && cols == 32 {
        for r in 0..<rows {
          let dst = UnsafeMutableRawPointer(c + r * ldc)
          for h in 0..<2 {
            let v = acc.load(fromByteOffset: (r * 2 + h) * 64, as: V.self)
            let old: V = beta == 0 ? V() : dst.loadUnaligned(fromByteOffset: h * 64, as: V.self)
            let out = beta == 0 ? alpha * v : (beta == 1 ? old + alpha * v : beta * old + alpha * v)
            dst.storeBytes(of: out, toByteOffset: h * 64, as: V.self)
          }
        }
      } else {
        let f = acc.assumingMemoryBound(to: Float.self)
        for r in 0..<rows {
          let dst = c + r * ldc
          for j in 0..<cols {
            let v = alpha * f[r * 32 + j]
            dst[j] = beta == 0 ? v : beta * dst[j] + v
          }
        }
      }
    }
  }
}

#if MEND_ISA_AVX2
  extension SGEMMEngine {
    typealias Tile8x32 = (
      SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
      SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
      SIMD16<Float>, SIMD16<Float>
    )

    /// `avx2Tile`'s three passes for a full 8 × 32 tile, each storing its accumulators into C
    /// (alpha · acc + beta · C) as it finishes, instead of through a 1 KB stack tile that had to be
    /// zeroed, written and read back.
    @inline(__always)
    static func avx2FullTile(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
      typealias V = SIMD16<Float>
      typealias W = SIMD8<Float>
      @inline(__always) func put(_ v: V, _ r: Int, _ col: Int) {
        let dst = UnsafeMutableRawPointer(c + r * ldc + col)
        let out = beta == 0 ? alpha * v
          : (beta == 1 ? dst.loadUnaligned(as: V.self) + alpha * v : beta * dst.loadUnaligned(as: V.self) + alpha * v)
        dst.storeBytes(of: out, as: V.self)
      }
      @inline(__always) func put8(_ v: W, _ r: Int, _ col: Int) {
        let dst = UnsafeMutableRawPointer(c + r * ldc + col)
        let out = beta == 0 ? alpha * v
          : (beta == 1 ? dst.loadUnaligned(as: W.self) + alpha * v : beta * dst.loadUnaligned(as: W.self) + alpha * v)
        dst.storeBytes(of: out, as: W.self)
      }
      for h in 0..<2 {
        var r0 = V(), r1 = V(), r2 = V(), r3 = V(), r4 = V()
        var pa = a
        var pb = UnsafeRawPointer(b) + h * 64
        for _ in 0..<kc {
          let bv = pb.load(as: V.self)
          r0.madd(V(repeating: pa[0]), bv); r1.madd(V(repeating: pa[1]), bv)
          r2.madd(V(repeating: pa[2]), bv); r3.madd(V(repeating: pa[3]), bv)
          r4.madd(V(repeating: pa[4]), bv)
          pa += 8
          pb += 128
        }
        put(r0, 0, h * 16); put(r1, 1, h * 16); put(r2, 2, h * 16); put(r3, 3, h * 16); put(r4, 4, h * 16)
      }
      var s50 = W(), s51 = W(), s52 = W(), s53 = W(), s60 = W(), s61 = W(), s62 = W(), s63 = W()
      var s70 = W(), s71 = W(), s72 = W(), s73 = W()
      var pa = a
      var pb = UnsafeRawPointer(b)
      for _ in 0..<kc {
        let a5 = W(repeating: pa[5]), a6 = W(repeating: pa[6]), a7 = W(repeating: pa[7])
        var bv = pb.load(as: W.self)
        s50.madd(a5, bv); s60.madd(a6, bv); s70.madd(a7, bv)
        bv = pb.load(fromByteOffset: 32, as: W.self)
        s51.madd(a5, bv); s61.madd(a6, bv); s71.madd(a7, bv)
        bv = pb.load(fromByteOffset: 64, as: W.self)
        s52.madd(a5, bv); s62.madd(a6, bv); s72.madd(a7, bv)
        bv = pb.load(fromByteOffset: 96, as: W.self)
        s53.madd(a5, bv); s63.madd(a6, bv); s73.madd(a7, bv)
        pa += 8
        pb += 128
      }
      put8(s50, 5, 0); put8(s51, 5, 8); put8(s52, 5, 16); put8(s53, 5, 24)
      put8(s60, 6, 0); put8(s61, 6, 8); put8(s62, 6, 16); put8(s63, 6, 24)
      put8(s70, 7, 0); put8(s71, 7, 8); put8(s72, 7, 16); put8(s73, 7, 24)
    }

    /// The 8 × 32 register tile for 16 ymm registers. The AVX-512 tile's 16 SIMD16 accumulators
    /// are 32 ymm here and would spill, so the same packed panels are swept in three passes that
    /// each fit: rows 0 ..< 5 × columns 0 ..< 16, rows 0 ..< 5 × columns 16 ..< 32 (5 accumulators
    /// of 2 ymm + the B vector + a broadcast = 13 registers), then rows 5 ..< 8 × all 32 columns
    /// (12 ymm accumulators, three broadcasts, one B vector at a time). Every pass keeps at least
    /// 10 independent FMA chains, past the 8 that two FMA ports × 4 cycles of latency need: the
    /// earlier 6 × 16, 6 × 16, 2 × 32 split left the last pass 8 and SGEMM 1024 at ~82 % of the FMA
    /// peak. Result in the AVX-512 tile's layout: row r, half h at (2r + h) · 64 bytes. With `half`,
    /// rows 0 ..< 4 only.
    @inline(__always)
    static func avx2Tile(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, half: Bool) -> Tile8x32 {
      typealias V = SIMD16<Float>
      var tile: Tile8x32 = (V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V())
      withUnsafeMutableBytes(of: &tile) { raw in
        let t = raw.baseAddress!
        for h in 0..<2 {
          var r0 = V(), r1 = V(), r2 = V(), r3 = V(), r4 = V()
          var pa = a
          var pb = UnsafeRawPointer(b) + h * 64
          for _ in 0..<kc {
            let bv = pb.load(as: V.self)
            r0.madd(V(repeating: pa[0]), bv); r1.madd(V(repeating: pa[1]), bv)
            r2.madd(V(repeating: pa[2]), bv); r3.madd(V(repeating: pa[3]), bv)
            if !half { r4.madd(V(repeating: pa[4]), bv) }
            pa += 8
            pb += 128
          }
          t.storeBytes(of: r0, toByteOffset: (0 + h) * 64, as: V.self)
          t.storeBytes(of: r1, toByteOffset: (2 + h) * 64, as: V.self)
          t.storeBytes(of: r2, toByteOffset: (4 + h) * 64, as: V.self)
          t.storeBytes(of: r3, toByteOffset: (6 + h) * 64, as: V.self)
          if !half { t.storeBytes(of: r4, toByteOffset: (8 + h) * 64, as: V.self) }
        }
        if !half {
          typealias W = SIMD8<Float>
          var s50 = W(), s51 = W(), s52 = W(), s53 = W(), s60 = W(), s61 = W(), s62 = W(), s63 = W()
          var s70 = W(), s71 = W(), s72 = W(), s73 = W()
          var pa = a
          var pb = UnsafeRawPointer(b)
          for _ in 0..<kc {
            let a5 = W(repeating: pa[5]), a6 = W(repeating: pa[6]), a7 = W(repeating: pa[7])
            var bv = pb.load(as: W.self)
            s50.madd(a5, bv); s60.madd(a6, bv); s70.madd(a7, bv)
            bv = pb.load(fromByteOffset: 32, as: W.self)
            s51.madd(a5, bv); s61.madd(a6, bv); s71.madd(a7, bv)
            bv = pb.load(fromByteOffset: 64, as: W.self)
            s52.madd(a5, bv); s62.madd(a6, bv); s72.madd(a7, bv)
            bv = pb.load(fromByteOffset: 96, as: W.self)
            s53.madd(a5, bv); s63.madd(a6, bv); s73.madd(a7, bv)
            pa += 8
            pb += 128
          }
          @inline(__always) func row(_ r: Int, _ q0: W, _ q1: W, _ q2: W, _ q3: W) {
            t.storeBytes(of: q0, toByteOffset: r * 128, as: W.self)
            t.storeBytes(of: q1, toByteOffset: r * 128 + 32, as: W.self)
            t.storeBytes(of: q2, toByteOffset: r * 128 + 64, as: W.self)
            t.storeBytes(of: q3, toByteOffset: r * 128 + 96, as: W.self)
          }
          row(5, s50, s51, s52, s53); row(6, s60, s61, s62, s63); row(7, s70, s71, s72, s73)
        }
      }
      return tile
    }
  }
#endif
