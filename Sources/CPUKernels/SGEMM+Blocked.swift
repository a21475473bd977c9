import CPURuntime

// The packed path: cache-blocked GEMM over packed A and B panels, for matrices and for
// convolutions lowered on the fly (implicit im2col in, NCHW scatter with bias and activation out).
extension SGEMMEngine {
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
                                     rows: min(mr, mc - ii), cols: cols, alpha: alpha, beta: betaEff, prefetchC: true)
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
                                         rows: rows, cols: cols, alpha: 1, beta: pc == 0 ? 0 : 1, prefetchC: true)
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
      microKernel(kc: kc, a: a, b: b, c: dst, ldc: s.rowStride, rows: rows, cols: cols, alpha: 1, beta: first ? 0 : 1,
                  prefetchC: true)
    }
  }

  /// Whether `splitK` runs this product: several threads, k at least two KC slices per thread
  /// and longer than both sides of C, and C small enough that the partial products stay cheap
  /// (≤ 1 M floats each). On the packed path such a product (a backward-filter GEMM: m = output
  /// channels, n = input patch, k = batch × pixels — 64 × 48 × 65,536 in a DCGAN's first layer)
  /// is one or two tasks per KC slice and two parallel regions per slice, hundreds per call: each
  /// region waits for every thread, and with another process on the machine each wait is a
  /// scheduler time slice.
  /// The one statement of the rule: `sgemm` consults it after its single-row and skinny paths
  /// (so it excludes those shapes itself), and the backend's `gemmSplitsK` reports it.
  static func splitKApplies(threads: Int, m: Int, n: Int, k: Int) -> Bool {
    m > 1 && !skinnyApplies(n: n, k: k)
      && threads > 1 && k >= 2 * threads * kc && k >= 4 * max(m, n) && m * n <= 1 << 20
  }

  /// C = alpha · op(A) · op(B) + beta · C with k split into one range of whole KC slices per
  /// thread: thread t runs the packed path on its range with a one-thread engine of its own (its
  /// own packing buffers), thread 0 into C with beta, the others into partial products; then one
  /// parallel pass adds the partials into C. Two parallel regions per call.
  func splitK(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
              lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let threads = splitter.threads
    while splitEngines.count < threads { splitEngines.append(SGEMMEngine(threads: 1)) }
    let need = (threads - 1) * m * n
    if partialsCount < need {
      partials.deallocate()
      partials = .allocateAligned(count: need)
      partialsCount = need
    }
    let slices = (k + Self.kc - 1) / Self.kc
    let box = UnsafeSendable(value: (a, b, c, partials, splitEngines))
    splitter.forEach(threads) { t in
      let (a, b, c, partials, engines) = box.value
      let k0 = t * slices / threads * Self.kc, k1 = min(k, (t + 1) * slices / threads * Self.kc)
      let at = transA ? a + k0 * lda : a + k0, bt = transB ? b + k0 : b + k0 * ldb
      let dst = t == 0 ? c : partials + (t - 1) * m * n
      engines[t].blocked(m: m, n: n, k: k1 - k0, alpha: alpha, beta: t == 0 ? beta : 0,
                         a: .matrix(at, lda: lda, transA: transA), b: .matrix(bt, ldb: ldb, transB: transB),
                         c: .matrix(dst, ldc: t == 0 ? ldc : n))
    }
    splitter.forRanges(m, grain: 1) { rows in
      let (_, _, c, partials, _) = box.value
      for i in rows {
        let row = c + i * ldc
        for t in 1..<threads {
          let p = partials + (t - 1) * m * n + i * n
          for j in 0..<n { row[j] += p[j] }
        }
      }
    }
  }
}
