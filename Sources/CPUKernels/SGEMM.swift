import CPURuntime
// Packed, cache-blocked single-precision GEMM (the BLIS/GotoBLAS scheme).
//
//   for each NC-wide column block of B
//     for each KC-deep slice of K:  pack B[kc × nc] into NR-wide panels (shared by all threads)
//       for each (MC-row block of A, column range) task, on every thread:
//         pack A[mc × kc] into MR-tall panels (per-thread buffer)
//         for each NR panel, for each MR panel:  8×32 register-tile micro-kernel
//
// The micro-kernel keeps a 8×32 tile of C in sixteen SIMD16<Float> accumulators (AVX-512: 16 zmm;
// AVX2 builds split each into two ymm). Packing handles transposes and leading dimensions, and pads
// edges with zeros so the micro-kernel never branches on size; edge tiles are written through a
// small stack tile.
//
// The packing buffers are owned by the engine and reused, so steady-state calls allocate nothing.
// An engine is not thread-safe: one GEMM at a time (it parallelises internally).

public final class SGEMMEngine: @unchecked Sendable {
  public static let mr = 8
  public static let nr = 32
  public static let kc = 256
  public static let mc = 128
  public static let nc = 2048
  /// Most floats of a task's B panels for which it goes row panel by row panel (128 KB).
  static let smallPanelsFloats = 32 * 1024
  /// Row stride of the staging block: NC plus a cache line, so that a tile's rows are not 8 KB
  /// apart (loads of one row after stores to the previous one stalled on 4K aliasing).
  static let stagingLd = nc + 16
  /// Floats between packed B panels.
  static let panelSlot = kc * nr

  let splitter: ThreadSplitter
  private var packedB: UnsafeMutablePointer<Float>
  /// Floats in packedB: two KC × NC blocks.
  private let packedBCapacity: Int
  private var packedA: [UnsafeMutablePointer<Float>]
  /// Per-thread scratch of the skinny kernels (`threadScratchFloats` each): no temporary
  /// allocation per call.
  private var threadScratch: [UnsafeMutablePointer<Float>]
  static let threadScratchFloats = 2 * 8 * nr + nr * transposedChunk
  /// m × NC floats where `blocked` accumulates C tiles it scatters (grown on demand).
  private var staging: UnsafeMutablePointer<Float> = .allocateAligned(count: 16)
  private var stagingCount = 16

  public init(threads: Int) {
    splitter = ThreadSplitter(threads: threads)
    let nPanels = (Self.nc + Self.nr - 1) / Self.nr
    // Twice a B block: the skinny path keeps two re-layouts of B there.
    packedBCapacity = 2 * nPanels * Self.panelSlot
    packedB = .allocateAligned(count: packedBCapacity)
    packedA = (0..<max(1, threads)).map { _ in .allocateAligned(count: Self.mc * Self.kc) }
    threadScratch = (0..<max(1, threads)).map { _ in .allocateAligned(count: Self.threadScratchFloats) }
  }

  deinit {
    packedB.deallocate()
    staging.deallocate()
    for p in packedA { p.deallocate() }
    for p in threadScratch { p.deallocate() }
  }

  /// C = alpha · op(A) · op(B) + beta · C for one matrix (row-major, leading dimensions in elements).
  /// `prepacked`: op(A) already laid out by `prepackA` for this shape (constant weights); `a` and
  /// `lda` are then not read.
  public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, prepacked: UnsafePointer<Float>? = nil) {
    if m == 0 || n == 0 { return }
    if k == 0 || alpha == 0 {
      scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
      return
    }
    // A single row of C from B stored by rows (a batch-1 fully connected layer's backward-data,
    // the generator's 100 → 512×4×4 input layer): stream B's rows once.
    if m == 1 && n > 1 && !transB && prepacked == nil {
      rowTimesMatrix(k: k, alpha: alpha, a: a, inc: transA ? lda : 1, b: b, ldb: ldb, beta: beta, c: c, n: n)
      return
    }
    // A single row of C from B stored by columns: the transposed problem has a single column
    // (dot products over B's rows).
    if m == 1 && n > 1 && prepacked == nil {
      sgemm(transA: !transB, transB: false, m: n, n: 1, k: k, alpha: alpha, a: b, lda: ldb, b: a,
            ldb: transA ? lda : 1, beta: beta, c: c, ldc: 1)
      return
    }
    // Few columns (batch-1 convolutions, GEMV): packing A would cost more than the product.
    if Self.skinnyApplies(n: n, k: k) {
      skinny(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc, prepacked: prepacked)
      return
    }
    blocked(m: m, n: n, k: k, alpha: alpha, beta: beta,
            a: prepacked.map { .prepacked($0) } ?? .matrix(a, lda: lda, transA: transA),
            b: .matrix(b, ldb: ldb, transB: transB), c: .matrix(c, ldc: ldc))
  }

  /// c[0..<n] = alpha · Σ_kk a[kk·inc] · b[kk·ldb ..< kk·ldb+n] + beta · c: each thread owns a
  /// range of columns (a multiple of 16) kept in L1 while B's rows stream past.
  private func rowTimesMatrix(k: Int, alpha: Float, a: UnsafePointer<Float>, inc: Int, b: UnsafePointer<Float>,
                              ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, n: Int) {
    typealias V = SIMD16<Float>
    let work = Double(n) * Double(k)
    let pool = ThreadSplitter(threads: work < 65_536 ? 1 : splitter.threads)
    let box = UnsafeSendable(value: (a, b, c, threadScratch))
    let chunk = ((n + pool.threads - 1) / pool.threads + 15) / 16 * 16
    pool.forEach((n + chunk - 1) / chunk) { t in
      let (a, b, c, scratch) = box.value
      let j0 = t * chunk, j1 = min(n, j0 + chunk)
      // 512 columns at a time in registers-and-L1 (32 KB of accumulators would spill L1).
      var jb = j0
      while jb < j1 {
        let je = min(j1, jb + 512)
        do {
          let f = scratch[t], acc = UnsafeMutableRawPointer(f).assumingMemoryBound(to: V.self)
          let width = je - jb, vecs = width / 16
          f.update(repeating: 0, count: 512)
          for kk in 0..<k {
            let s = V(repeating: a[kk * inc]), row = UnsafeRawPointer(b + kk * ldb + jb)
            for v in 0..<vecs {
              acc[v].madd(s, row.loadUnaligned(fromByteOffset: v * 64, as: V.self))
            }
            let sc = a[kk * inc], rowf = b + kk * ldb + jb
            for j in (vecs * 16)..<width { f[j] += sc * rowf[j] }
          }
          for j in 0..<width {
            let v = alpha * f[j]
            c[jb + j] = beta == 0 ? v : beta * c[jb + j] + v
          }
        }
        jb = je
      }
    }
  }

  /// Where the blocked driver reads op(A): a matrix, or `prepackA`'s layout of it.
  enum ASource {
    case matrix(UnsafePointer<Float>, lda: Int, transA: Bool)
    case prepacked(UnsafePointer<Float>)
  }

  /// Where it packs op(B) from: a matrix, or a convolution's input (implicit im2col).
  enum BSource {
    case matrix(UnsafePointer<Float>, ldb: Int, transB: Bool)
    case patches(PatchGather)
  }

  /// Where it stores C: a matrix, or a convolution's NCHW output (with bias and activation).
  enum CDest {
    case matrix(UnsafeMutablePointer<Float>, ldc: Int)
    case patches(PatchScatter)
  }

  /// C = alpha · op(A) · op(B) + beta · C on the packed path (m × n × k). A `.patches` C takes
  /// alpha 1 and beta 0 (a convolution's output); its tiles that are not consecutive in memory
  /// (columns crossing from one image into the next)
  /// accumulate in a staging block and are scattered, once, when their last k slice is done.
  func blocked(m: Int, n: Int, k: Int, alpha: Float, beta: Float, a: ASource, b: BSource, c: CDest) {
    let mr = Self.mr, nr = Self.nr, kcMax = Self.kc, mcMax = Self.mc, ncMax = Self.nc
    let threads = splitter.threads
    // Small problems are not worth waking a second thread for.
    let work = Double(m) * Double(n) * Double(k)
    let useThreads = work < 262_144 ? 1 : threads
    let pool = ThreadSplitter(threads: useThreads)
    if case .patches = c {
      precondition(alpha == 1 && beta == 0, "a convolution's output takes alpha 1, beta 0")
      let need = m * Self.stagingLd
      if stagingCount < need {
        staging.deallocate()
        staging = .allocateAligned(count: need)
        stagingCount = need
      }
    }
    let box = UnsafeSendable(value: (a, b, c, packedB, packedA, staging, threadScratch))
    let mBlocksAll = (m + mcMax - 1) / mcMax

    let slices = (k + kcMax - 1) / kcMax
    var jc = 0
    while jc < n {
      let nc = min(ncMax, n - jc)
      let nPanels = (nc + nr - 1) / nr
      // K slices packed per pass: all of them when the block's packed B fits the buffer (small
      // products, batch-1 convolutions: one barrier per block instead of two per slice), else one.
      let perPass = slices * nPanels * Self.panelSlot <= packedBCapacity ? slices : 1
      var s0 = 0
      while s0 < slices {
        let s1 = min(slices, s0 + perPass)
        // Pack B[slice s, panel p] into slot ((s − s0)·nPanels + p) of kcMax × nr floats. Items go
        // panel by panel, each thread taking a contiguous range: a thread packs whole panels, the
        // ones its own compute tasks read below whenever the columns are split between threads
        // (packed by one core and read by the other, every panel crossed between their caches).
        let passSlices = s1 - s0
        pool.forRanges(passSlices * nPanels, grain: 8) { items in
          let (_, b, _, pb, _, _, _) = box.value
          var item = items.lowerBound
          while item < items.upperBound {
            let p = item / passSlices, sl = s0 + item % passSlices
            let pc = sl * kcMax, kc = min(kcMax, k - pc)
            let dst = pb + ((sl - s0) * nPanels + p) * Self.panelSlot
            switch b {
            case .matrix(let bm, let ldb, let transB):
              Self.packB(b: bm, ldb: ldb, transB: transB, k0: pc, kc: kc, j0: jc + p * nr, cols: min(nr, nc - p * nr),
                         into: dst)
              item += 1
            case .patches(let g):
              // Up to panelsPerPack panels of this slice at once (consecutive items when a pass
              // is one slice).
              let panels = passSlices > 1 ? 1 : min(PatchGather.panelsPerPack, nPanels - p, items.upperBound - item)
              g.pack(k0: pc, kc: kc, j0: jc + p * nr, cols: min(panels * nr, nc - p * nr), into: dst,
                     slot: Self.panelSlot)
              item += panels
            }
          }
        }
        // Tasks: MC row blocks × column ranges (split columns only when rows alone can't feed
        // every thread); each task runs its slices of this pass in order. A worker takes a
        // contiguous range of tasks, column range by column range: its columns are then the ones
        // it packed.
        let mBlocks = (m + mcMax - 1) / mcMax
        let nSplit = mBlocks >= 2 * useThreads ? 1 : min(nPanels, max(1, (2 * useThreads + mBlocks - 1) / mBlocks))
        let panelsPerSplit = (nPanels + nSplit - 1) / nSplit
        let tasks = mBlocks * nSplit
        let workers = min(useThreads, tasks)
        pool.forEach(workers) { w in
          let (a, _, c, pb, paAll, staging, threadScratch) = box.value
          var pa = paAll[w]
          for t in (w * tasks / workers)..<((w + 1) * tasks / workers) {
            let js = t / mBlocks, ib = t % mBlocks
            let i0 = ib * mcMax, mc = min(mcMax, m - i0)
            let p0 = js * panelsPerSplit, p1 = min(nPanels, p0 + panelsPerSplit)
            for sl in s0..<s1 where p0 < p1 {
              let pc = sl * kcMax, kc = min(kcMax, k - pc)
              let betaEff: Float = pc == 0 ? beta : 1
              let last = pc + kc == k
              switch a {
              case .prepacked(let pre):
                pa = UnsafeMutablePointer(mutating: pre) + (sl * mBlocksAll + ib) * mcMax * kcMax
              case .matrix(let am, let lda, let transA):
                Self.packA(a: am, lda: lda, transA: transA, i0: i0, mc: mc, k0: pc, kc: kc, into: pa)
              }
              if case .patches(let s) = c, s.rowStride % nr == 0, k <= kcMax, (p1 - p0) * k * nr <= Self.smallPanelsFloats {
                // Short k (a first layer's 3·4·4) and every panel inside one image: the task's B
                // panels fit in L2 together, so go row panel by row panel over all of them — C is
                // then written along its rows (d1 of a batch-64 discriminator, bound by storing
                // its 16 MB output: 3.4 → 2.7 ms, median of alternating minimums).
                var ii = 0
                while ii < mc {
                  for p in p0..<p1 {
                    let j = jc + p * nr
                    Self.patchTile(s, off: s.offset(j), i0: i0, ii: ii, rows: min(mr, mc - ii), cols: min(nr, n - j),
                                   kc: kc, a: UnsafePointer(pa + ii * kc),
                                   b: UnsafePointer(pb + ((sl - s0) * nPanels + p) * Self.panelSlot),
                                   first: pc == 0, last: last, scratch: threadScratch[w])
                  }
                  ii += mr
                }
                continue
              }
              // A B panel (KC × NR, 32 KB) stays in L1 while A's row panels stream from L2.
              for p in p0..<p1 {
                let j = jc + p * nr, cols = min(nr, n - j)
                let bp = UnsafePointer(pb + ((sl - s0) * nPanels + p) * Self.panelSlot)
                switch c {
                case .matrix(let cm, let ldc):
                  var ii = 0
                  while ii < mc {
                    Self.microKernel(kc: kc, a: UnsafePointer(pa + ii * kc), b: bp, c: cm + (i0 + ii) * ldc + j, ldc: ldc,
                                     rows: min(mr, mc - ii), cols: cols, alpha: alpha, beta: betaEff)
                    ii += mr
                  }
                case .patches(let s):
                  if let off = s.contiguousOffset(j, cols: cols) {
                    var ii = 0
                    while ii < mc {
                      Self.patchTile(s, off: off, i0: i0, ii: ii, rows: min(mr, mc - ii), cols: cols, kc: kc,
                                     a: UnsafePointer(pa + ii * kc), b: bp, first: pc == 0, last: last,
                                     scratch: threadScratch[w])
                      ii += mr
                    }
                  } else {
                    withUnsafeTemporaryAllocation(of: Int.self, capacity: nr) { offsets in
                      if last { for u in 0..<cols { offsets[u] = s.offset(j + u) } }
                      var ii = 0
                      while ii < mc {
                        let rows = min(mr, mc - ii), st = staging + (i0 + ii) * Self.stagingLd + p * nr
                        Self.microKernel(kc: kc, a: UnsafePointer(pa + ii * kc), b: bp, c: st, ldc: Self.stagingLd,
                                         rows: rows, cols: cols, alpha: 1, beta: pc == 0 ? 0 : 1)
                        if last {
                          s.scatter(from: st, ld: Self.stagingLd, rows: rows, cols: cols, i0: i0 + ii,
                                    offsets: UnsafePointer(offsets.baseAddress!))
                        }
                        ii += mr
                      }
                    }
                  }
                }
              }
            }
          }
        }
        s0 = s1
      }
      jc += nc
    }
  }

  /// count independent products C_g = A_g · B_g (m × n × k each; g < count) whose B_g are
  /// already in NR-wide panels of all k rows (panel p at p·k·NR, read in place: Winograd's
  /// transformed input is written in this layout), in one parallel region: tasks are
  /// (g, MC row block, column range), handed out in contiguous runs, with no barrier between the
  /// products (Winograd's 9 or 36 per chunk of tiles, each too small to split well alone).
  /// A_g at a + g·aStride, pre-packed (`prepackA`'s layout); B_g at b + g·bStride; C_g (row-major,
  /// overwritten) at c + g·cStride.
  func panelsBatch(count: Int, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aStride: Int,
                   b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, cStride: Int, ldc: Int) {
    let mr = Self.mr, nr = Self.nr, kcMax = Self.kc, mcMax = Self.mc
    let threads = splitter.threads
    let mBlocks = (m + mcMax - 1) / mcMax, nPanels = (n + nr - 1) / nr, slices = (k + kcMax - 1) / kcMax
    // Enough tasks for every thread to get eight: runs of them then differ by at most 1/8.
    let nSplit = min(nPanels, max(1, (8 * threads + count * mBlocks - 1) / (count * mBlocks)))
    let panelsPerSplit = (nPanels + nSplit - 1) / nSplit
    let tasks = count * mBlocks * nSplit
    let workers = min(threads, tasks)
    let box = UnsafeSendable(value: (a, b, c))
    splitter.forEach(workers) { w in
      let (a, b, c) = box.value
      for t in (w * tasks / workers)..<((w + 1) * tasks / workers) {
        let g = t / (mBlocks * nSplit), r = t - g * mBlocks * nSplit, ib = r / nSplit, js = r - ib * nSplit
        let i0 = ib * mcMax, mc = min(mcMax, m - i0)
        let p0 = js * panelsPerSplit, p1 = min(nPanels, p0 + panelsPerSplit)
        if p0 >= p1 { continue }
        let ag = a + g * aStride, bg = b + g * bStride, cg = c + g * cStride
        for sl in 0..<slices {
          let pc = sl * kcMax, kc = min(kcMax, k - pc)
          let pa = ag + (sl * mBlocks + ib) * mcMax * kcMax
          for p in p0..<p1 {
            let j = p * nr, bp = bg + p * k * nr + pc * nr
            var ii = 0
            while ii < mc {
              Self.microKernel(kc: kc, a: pa + ii * kc, b: bp, c: cg + (i0 + ii) * ldc + j, ldc: ldc,
                               rows: min(mr, mc - ii), cols: min(nr, n - j), alpha: 1, beta: sl == 0 ? 0 : 1)
              ii += mr
            }
          }
        }
      }
    }
  }

  /// One MR × NR tile of a convolution's C whose columns are contiguous in the output (at `off`
  /// in row 0): accumulated in place, or — the last k slice of an output with an epilogue —
  /// through L1 scratch and stored once with it (re-reading C rows just stored, 4 KB apart for
  /// 32×32 outputs, stalled on 4K aliasing: 41 % of d1's time).
  @inline(__always)
  static func patchTile(_ s: PatchScatter, off: Int, i0: Int, ii: Int, rows: Int, cols: Int, kc: Int,
                        a: UnsafePointer<Float>, b: UnsafePointer<Float>, first: Bool, last: Bool,
                        scratch: UnsafeMutablePointer<Float>) {
    let dst = s.y + off + (i0 + ii) * s.rowStride
    if last && s.hasEpilogue {
      microKernel(kc: kc, a: a, b: b, c: scratch, ldc: nr, rows: rows, cols: cols, alpha: 1, beta: 0)
      s.finish(rows: rows, cols: cols, i0: i0 + ii, tile: scratch, ld: nr, into: dst, ldc: s.rowStride, accumulate: !first)
    } else {
      microKernel(kc: kc, a: a, b: b, c: dst, ldc: s.rowStride, rows: rows, cols: cols, alpha: 1, beta: first ? 0 : 1)
    }
  }

  /// Largest n handled by the skinny path.
  public static let skinnyN = 16

  /// C = alpha·op(A)·op(B) + beta·C for n ≤ 16: op(B) is gathered once as n contiguous rows of
  /// length k, then each C row is n dot products (A rows contiguous) or each block of C rows is
  /// accumulated along k (A transposed, rows of Aᵀ contiguous). A is read exactly once.
  private func skinny(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
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

  /// op(A) [m × k] laid out once for `sgemm(... prepacked:)` (constant weights: the layout every
  /// call would otherwise build): for skinny shapes (`skinnyApplies(n:k:)`), ⌈m/32⌉ blocks of
  /// k × 32 rows interleaved (zero-padded); otherwise the packed path's MR panels, one MC × KC
  /// block per (k slice, row block). The caller owns (and deallocates) the result.
  public static func prepackA(transA: Bool, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, skinny: Bool)
    -> UnsafeMutablePointer<Float> {
    if skinny {
      let bs = transposedBlock, blocks = (m + bs - 1) / bs
      let dst = UnsafeMutablePointer<Float>.allocateAligned(count: max(16, blocks * bs * k))
      for blk in 0..<blocks {
        let rows = min(bs, m - blk * bs), out = dst + blk * bs * k
        for kk in 0..<k {
          for t in 0..<rows {
            let i = blk * bs + t
            out[kk * bs + t] = transA ? a[kk * lda + i] : a[i * lda + kk]
          }
        }
      }
      return dst
    }
    let mBlocks = (m + mc - 1) / mc, kBlocks = (k + kc - 1) / kc
    let dst = UnsafeMutablePointer<Float>.allocateAligned(count: max(16, packedAFloats(m: m, k: k)))
    for pb in 0..<kBlocks {
      let k0 = pb * kc, kcs = min(kc, k - k0)
      for ib in 0..<mBlocks {
        let i0 = ib * mc
        packA(a: a, lda: lda, transA: transA, i0: i0, mc: min(mc, m - i0), k0: k0, kc: kcs,
              into: dst + (pb * mBlocks + ib) * mc * kc)
      }
    }
    return dst
  }

  /// Where op(A)(row, col) of an m × k operand sits in `prepackA`'s packed (non-skinny) layout:
  /// MR-row panels of each MC × KC block, blocks by (k slice, row block).
  @inline(__always)
  static func packedAIndex(row: Int, col: Int, m: Int, k: Int) -> Int {
    let mBlocks = (m + mc - 1) / mc
    let sl = col / kc, pc = sl * kc, kcs = min(kc, k - pc), ib = row / mc, r = row - ib * mc
    return (sl * mBlocks + ib) * mc * kc + (r / mr) * kcs * mr + (col - pc) * mr + r % mr
  }

  /// Floats of that layout for an m × k operand (whole blocks).
  static func packedAFloats(m: Int, k: Int) -> Int { (m + mc - 1) / mc * ((k + kc - 1) / kc) * mc * kc }

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
  private func transposedSkinny(m: Int, n: Int, k: Int, alpha: Float, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadSplitter,
                                a: TransposedA) {
    let bs = Self.transposedBlock, panels = (n + 7) / 8
    let bk = packedB  // 8·panels·k floats: skinnyApplies keeps that within the buffer
    // bk[p][kk][0 ..< 8] = op(B)(kk, 8p ..< 8p + 8): eight contiguous floats of a row of B (one
    // vector copy) unless B is transposed or the panel is the last, partial one. (Gathered one
    // float at a time through an n × k transpose, this was ~0.1 ms of a batch-1 discriminator's
    // last layer, k = 4096, on one thread.)
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

  /// `count` products C_g[m × n] = A_g · B_g (g < count) for n ≤ 16 — Winograd's GEMMs when a
  /// convolution has few tiles (a batch-1 discriminator's last layers): A_g at a + g·aStride in
  /// the skinny pre-packed layout (`prepackA(skinny: true)`: k × 32 rows per block), B_g at
  /// b + g·bStride as 8-column panels (b[p][kk][0 ..< 8]), C_g at c + g·cStride with rows ldc
  /// apart. One parallel region; tasks are (product, 32-row block).
  func narrowBatch(count: Int, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, aStride: Int,
                   b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, cStride: Int, ldc: Int) {
    precondition(n <= Self.skinnyN)
    let blocks = (m + Self.transposedBlock - 1) / Self.transposedBlock, tasks = count * blocks
    let workers = min(splitter.threads, tasks)
    let box = UnsafeSendable(value: (a, b, c, threadScratch))
    splitter.forEach(workers) { w in
      let (a, b, c, scratch) = box.value
      for t in (w * tasks / workers)..<((w + 1) * tasks / workers) {
        let g = t / blocks, blk = t - g * blocks
        Self.skinnyRowBlock(blk, m: m, n: n, k: k, a: .prepacked(a + g * aStride), bk: b + g * bStride,
                            alpha: 1, beta: 0, c: c + g * cStride, ldc: ldc, scratch: scratch[w])
      }
    }
  }

  private func scaleC(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
      let row = c + i * ldc
      if beta == 0 { row.update(repeating: 0, count: n) } else if beta != 1 {
        for j in 0..<n { row[j] *= beta }
      }
    }
  }

  /// Packs op(A)[i0..<i0+mc, k0..<k0+kc] as MR-row panels: panel p holds kc groups of MR values.
  @inline(__always)
  static func packA(a: UnsafePointer<Float>, lda: Int, transA: Bool, i0: Int, mc: Int, k0: Int, kc: Int,
                    into dst: UnsafeMutablePointer<Float>) {
    let mr = Self.mr
    var ii = 0
    var out = dst
    while ii < mc {
      let rows = min(mr, mc - ii)
      if !transA {
        // A(i, k) = a[i*lda + k]: read MR rows walking along k.
        if rows == mr {
          let r0 = a + (i0 + ii) * lda + k0
          for kk in 0..<kc {
            for r in 0..<mr { out[kk * mr + r] = r0[r * lda + kk] }
          }
        } else {
          for kk in 0..<kc {
            for r in 0..<mr {
              out[kk * mr + r] = r < rows ? a[(i0 + ii + r) * lda + k0 + kk] : 0
            }
          }
        }
      } else {
        // A(i, k) = a[k*lda + i]: MR contiguous values per k.
        for kk in 0..<kc {
          let src = a + (k0 + kk) * lda + i0 + ii
          for r in 0..<mr { out[kk * mr + r] = r < rows ? src[r] : 0 }
        }
      }
      out += kc * mr
      ii += mr
    }
  }

  /// Packs op(B)[k0..<k0+kc, j0..<j0+cols] as one NR-wide panel: kc rows of NR values.
  @inline(__always)
  static func packB(b: UnsafePointer<Float>, ldb: Int, transB: Bool, k0: Int, kc: Int, j0: Int, cols: Int,
                    into dst: UnsafeMutablePointer<Float>) {
    let nr = Self.nr
    if !transB {
      if cols == nr {
        for kk in 0..<kc {
          let src = UnsafeRawPointer(b + (k0 + kk) * ldb + j0)
          let d = UnsafeMutableRawPointer(dst + kk * nr)
          d.storeBytes(of: src.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
          (d + 64).storeBytes(of: (src + 64).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
        }
      } else {
        for kk in 0..<kc {
          let src = b + (k0 + kk) * ldb + j0
          for j in 0..<nr { dst[kk * nr + j] = j < cols ? src[j] : 0 }
        }
      }
    } else {
      // B(k, j) = b[j*ldb + k]
      for j in 0..<nr {
        if j < cols {
          let src = b + (j0 + j) * ldb + k0
          for kk in 0..<kc { dst[kk * nr + j] = src[kk] }
        } else {
          for kk in 0..<kc { dst[kk * nr + j] = 0 }
        }
      }
    }
  }

  /// C[rows × cols] = alpha · Apanel · Bpanel + beta · C, with an MR×NR register tile. `half`
  /// (a literal at the call site, so the loop is specialised): only rows 0 ..< 4 are computed
  /// (rows ≤ 4) — lanes 4 ..< 8 of the A panel are not read — for the skinny kernel's panels of
  /// ≤ 4 columns, where the full tile would spend half its multiplications on padding.
  @inline(__always)
  static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                          c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                          alpha: Float, beta: Float, half: Bool = false) {
    typealias V = SIMD16<Float>
    #if MEND_ISA_AVX2
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

    /// The 8 × 32 register tile for 16 ymm registers. The AVX-512 tile's 16 SIMD16 accumulators
    /// are 32 ymm here and would spill, so the same packed panels are swept in three passes that
    /// each fit: rows 0 ..< 6 × columns 0 ..< 16, rows 0 ..< 6 × columns 16 ..< 32 (6 accumulators
    /// of 2 ymm + the B vector + a broadcast = 15 registers, BLIS's Haswell 6 × 16), then rows 6, 7
    /// × all 32 columns (4 + 4 + 1). Result in the AVX-512 tile's layout: row r, half h at
    /// (2r + h) · 64 bytes. With `half`, rows 0 ..< 4 only.
    @inline(__always)
    static func avx2Tile(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, half: Bool) -> Tile8x32 {
      typealias V = SIMD16<Float>
      var tile: Tile8x32 = (V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V(), V())
      withUnsafeMutableBytes(of: &tile) { raw in
        let t = raw.baseAddress!
        for h in 0..<2 {
          var r0 = V(), r1 = V(), r2 = V(), r3 = V(), r4 = V(), r5 = V()
          var pa = a
          var pb = UnsafeRawPointer(b) + h * 64
          for _ in 0..<kc {
            let bv = pb.load(as: V.self)
            r0.madd(V(repeating: pa[0]), bv); r1.madd(V(repeating: pa[1]), bv)
            r2.madd(V(repeating: pa[2]), bv); r3.madd(V(repeating: pa[3]), bv)
            if !half { r4.madd(V(repeating: pa[4]), bv); r5.madd(V(repeating: pa[5]), bv) }
            pa += 8
            pb += 128
          }
          t.storeBytes(of: r0, toByteOffset: (0 + h) * 64, as: V.self)
          t.storeBytes(of: r1, toByteOffset: (2 + h) * 64, as: V.self)
          t.storeBytes(of: r2, toByteOffset: (4 + h) * 64, as: V.self)
          t.storeBytes(of: r3, toByteOffset: (6 + h) * 64, as: V.self)
          if !half {
            t.storeBytes(of: r4, toByteOffset: (8 + h) * 64, as: V.self)
            t.storeBytes(of: r5, toByteOffset: (10 + h) * 64, as: V.self)
          }
        }
        if !half {
          var s60 = V(), s61 = V(), s70 = V(), s71 = V()
          var pa = a
          var pb = UnsafeRawPointer(b)
          for _ in 0..<kc {
            let b0 = pb.load(as: V.self), b1 = pb.load(fromByteOffset: 64, as: V.self)
            let a6 = V(repeating: pa[6]), a7 = V(repeating: pa[7])
            s60.madd(a6, b0); s61.madd(a6, b1); s70.madd(a7, b0); s71.madd(a7, b1)
            pa += 8
            pb += 128
          }
          t.storeBytes(of: s60, toByteOffset: 12 * 64, as: V.self)
          t.storeBytes(of: s61, toByteOffset: 13 * 64, as: V.self)
          t.storeBytes(of: s70, toByteOffset: 14 * 64, as: V.self)
          t.storeBytes(of: s71, toByteOffset: 15 * 64, as: V.self)
        }
      }
      return tile
    }
  }
#endif

extension UnsafeMutablePointer where Pointee == Float {
  /// A 64-byte aligned, zero-filled allocation (`HostMemory.allocateZeroed`; free with `deallocate()`).
  static func allocateAligned(count: Int) -> UnsafeMutablePointer<Float> {
    let raw = HostMemory.allocateZeroed(byteCount: count * 4)
    return raw.bindMemory(to: Float.self, capacity: max(16, count))
  }
}
