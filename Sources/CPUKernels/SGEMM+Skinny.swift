import CPURuntime

// The skinny path: products with n ≤ 16 columns (batch-1 convolutions, GEMV), where packing A would
// cost more than the product.
extension SGEMMEngine {
  /// Largest n handled by the skinny path.
  public static let skinnyN = 16

  /// C = alpha·op(A)·op(B) + beta·C for n ≤ 16: op(B) is gathered once as n contiguous rows of
  /// length k, then each C row is n dot products (A rows contiguous) or each block of C rows is
  /// accumulated along k (A transposed, rows of Aᵀ contiguous). A is read exactly once.
  func skinny(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, prepacked: UnsafePointer<Float>?) {
    typealias V = SIMD16<Float>
    let work = Double(m) * Double(n) * Double(k)
    let pool = ThreadSplitter(threads: work < 262_144 ? 1 : splitter.threads)
    if let prepacked {
      transposedSkinny(m: m, n: n, k: k, alpha: alpha, b: b, ldb: ldb, transB: transB, beta: beta, c: c, ldc: ldc,
                       pool: pool, a: .prepacked(prepacked))
    } else if transA {
      transposedSkinny(m: m, n: n, k: k, alpha: alpha, b: b, ldb: ldb, transB: transB, beta: beta, c: c, ldc: ldc,
                       pool: pool, a: .strided(a, lda: lda))
    } else {
      let bt = packedB  // n·k floats: bt[j·k + kk] = op(B)(kk, j)
      for j in 0..<n {
        for kk in 0..<k { bt[j * k + kk] = transB ? b[j * ldb + kk] : b[kk * ldb + j] }
      }
      let box = UnsafeSendable(value: (a, UnsafePointer(bt), c))
      // 4 rows of A × 4 rows of Bᵀ per register tile: 16 SIMD16 accumulators, 8 loads per 16 FMAs.
      pool.forRanges((m + 3) / 4, grain: 2) { quads in
        let (a, bt, c) = box.value
        for q in quads {
          let i0 = q * 4, ni = min(4, m - i0)
          let ar0 = a + i0 * lda, ar1 = a + min(i0 + 1, m - 1) * lda
          let ar2 = a + min(i0 + 2, m - 1) * lda, ar3 = a + min(i0 + 3, m - 1) * lda
          var j = 0
          while j < n {
            let nj = min(4, n - j)
            let br0 = bt + j * k, br1 = bt + min(j + 1, n - 1) * k
            let br2 = bt + min(j + 2, n - 1) * k, br3 = bt + min(j + 3, n - 1) * k
            var acc = (V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V())
            var kk = 0
            while kk + 16 <= k {
              let a0 = UnsafeRawPointer(ar0 + kk).loadUnaligned(as: V.self)
              let a1 = UnsafeRawPointer(ar1 + kk).loadUnaligned(as: V.self)
              let a2 = UnsafeRawPointer(ar2 + kk).loadUnaligned(as: V.self)
              let a3 = UnsafeRawPointer(ar3 + kk).loadUnaligned(as: V.self)
              var bv = UnsafeRawPointer(br0 + kk).loadUnaligned(as: V.self)
              acc.0.madd(a0, bv); acc.1.madd(a1, bv); acc.2.madd(a2, bv); acc.3.madd(a3, bv)
              bv = UnsafeRawPointer(br1 + kk).loadUnaligned(as: V.self)
              acc.4.madd(a0, bv); acc.5.madd(a1, bv); acc.6.madd(a2, bv); acc.7.madd(a3, bv)
              bv = UnsafeRawPointer(br2 + kk).loadUnaligned(as: V.self)
              acc.8.madd(a0, bv); acc.9.madd(a1, bv); acc.10.madd(a2, bv); acc.11.madd(a3, bv)
              bv = UnsafeRawPointer(br3 + kk).loadUnaligned(as: V.self)
              acc.12.madd(a0, bv); acc.13.madd(a1, bv); acc.14.madd(a2, bv); acc.15.madd(a3, bv)
              kk += 16
            }
            let kTail = kk
            withUnsafeBytes(of: &acc) { raw in
              let sums = raw.bindMemory(to: V.self)
              for tj in 0..<nj {
                let brow = tj == 0 ? br0 : (tj == 1 ? br1 : (tj == 2 ? br2 : br3))
                for ti in 0..<ni {
                  let arow = ti == 0 ? ar0 : (ti == 1 ? ar1 : (ti == 2 ? ar2 : ar3))
                  var r = sums[tj * 4 + ti].sum()
                  for t in kTail..<k { r += arow[t] * brow[t] }
                  let dst = c + (i0 + ti) * ldc + j + tj
                  dst.pointee = beta == 0 ? alpha * r : beta * dst.pointee + alpha * r
                }
              }
            }
            j += 4
          }
        }
      }
    }
  }

  /// Where the transposed-A skinny kernel reads A: straight from a[kk·lda + i] (strided by a whole
  /// row per k step), or from a copy pre-packed by `prepackA` (32 rows interleaved per k,
  /// read contiguously).
  enum TransposedA {
    case strided(UnsafePointer<Float>, lda: Int)
    case prepacked(UnsafePointer<Float>)
  }

  /// Rows per block of the transposed-A skinny kernel, and its k chunk.
  public static let transposedBlock = nr  // the micro-kernel's wide side
  static let transposedChunk = 128

  /// Whether the skinny path (n ≤ 16) takes this shape: B re-laid out (8·⌈n/8⌉ × k floats for the
  /// transposed kernel, n × k for the other) fits the packed-B buffer.
  public static func skinnyApplies(n: Int, k: Int) -> Bool {
    n <= skinnyN && (n + 7) / 8 * 8 * k <= 2 * kc * nc
  }

  /// The transposed-A skinny kernel on the packed path's 8×32 micro-kernel with the roles turned
  /// round: per 32-row block of C, A's block (32 values per k step: the pre-packed layout, or
  /// copied into it chunk by chunk from a strided A) is the micro-kernel's 32-wide operand, and B,
  /// re-laid as 8-column panels (bk[panel][kk][8], zero-padded), its 8-tall one. The 8 × 32 results
  /// are Cᵀ tiles, accumulated over k chunks of 128 (the A chunk, 16 KB, stays in L1 across the
  /// panels) and stored transposed at the end.
  func transposedSkinny(m: Int, n: Int, k: Int, alpha: Float, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadSplitter,
                                a: TransposedA) {
    let bs = Self.transposedBlock, panels = (n + 7) / 8
    let bk = packedB  // 8·panels·k floats: skinnyApplies keeps that within the buffer
    // bk[p][kk][0 ..< 8] = op(B)(kk, 8p ..< 8p + 8): eight contiguous floats of a row of B (one
    // vector copy) unless B is transposed or the panel is the last, partial one. (A gather
    // float by float through an n × k transpose costs ~0.1 ms of a batch-1 discriminator's last
    // layer, k = 4096, on one thread.)
    for p in 0..<panels {
      let dst = bk + p * k * 8
      if !transB && p * 8 + 8 <= n {
        for kk in 0..<k {
          UnsafeMutableRawPointer(dst + kk * 8).storeBytes(
            of: UnsafeRawPointer(b + kk * ldb + p * 8).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        }
      } else {
        for kk in 0..<k {
          for j in 0..<8 {
            let col = p * 8 + j
            dst[kk * 8 + j] = col < n ? (transB ? b[col * ldb + kk] : b[kk * ldb + col]) : 0
          }
        }
      }
    }
    let box = UnsafeSendable(value: (UnsafePointer(bk), c, a, threadScratch))
    let blocks = (m + bs - 1) / bs
    let workers = min(pool.threads, blocks), perWorker = (blocks + workers - 1) / workers
    pool.forEach(workers) { w in
      let (bk, c, a, scratch) = box.value
      for blk in (w * perWorker)..<min(blocks, (w + 1) * perWorker) {
        Self.skinnyRowBlock(blk, m: m, n: n, k: k, a: a, bk: bk, alpha: alpha, beta: beta, c: c, ldc: ldc,
                            scratch: scratch[w])
      }
    }
  }

  /// Rows 32·blk ..< 32·blk + 32 of C = alpha·A·B + beta·C for n ≤ 16, B as 8-column panels
  /// (bk[p][kk][0 ..< 8], zero-padded past n): the Cᵀ tiles, accumulated per k chunk on the
  /// 8 × 32 micro-kernel (its 4-row half when a panel holds ≤ 4 columns), then stored
  /// transposed. `scratch`: `threadScratchFloats`.
  @inline(__always)
  static func skinnyRowBlock(_ blk: Int, m: Int, n: Int, k: Int, a: TransposedA, bk: UnsafePointer<Float>,
                             alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                             scratch: UnsafeMutablePointer<Float>) {
    let bs = transposedBlock, chunk = transposedChunk, panels = (n + 7) / 8
    // The Cᵀ tiles (≤ 2 panels × 8 × 32) and one staged A chunk (32 × 128), 64-byte aligned.
    let tiles = scratch, staged = scratch + 2 * 8 * bs
    let i0 = blk * bs, rows = min(bs, m - i0)
    var k0 = 0
    while k0 < k {
      let kn = min(chunk, k - k0)
      let achunk: UnsafePointer<Float>
      switch a {
      case .prepacked(let pa):
        achunk = pa + (blk * k + k0) * bs
      case .strided(let pa, let lda):
        for kk in 0..<kn {
          let src = pa + (k0 + kk) * lda + i0, dst = staged + kk * bs
          for t in 0..<bs { dst[t] = t < rows ? src[t] : 0 }
        }
        achunk = UnsafePointer(staged)
      }
      for p in 0..<panels {
        if n - p * 8 <= 4 {
          microKernel(kc: kn, a: bk + (p * k + k0) * 8, b: achunk, c: tiles + p * 8 * bs, ldc: bs,
                      rows: 4, cols: bs, alpha: 1, beta: k0 == 0 ? 0 : 1, half: true)
        } else {
          microKernel(kc: kn, a: bk + (p * k + k0) * 8, b: achunk, c: tiles + p * 8 * bs, ldc: bs,
                      rows: 8, cols: bs, alpha: 1, beta: k0 == 0 ? 0 : 1)
        }
      }
      k0 += kn
    }
    // tiles[j][t] = C(i0 + t, j) (panel p holds rows 8p..<8p+8).
    for t in 0..<rows {
      for j in 0..<n {
        let dst = c + (i0 + t) * ldc + j, v = alpha * tiles[j * bs + t]
        dst.pointee = beta == 0 ? v : beta * dst.pointee + v
      }
    }
  }
}
