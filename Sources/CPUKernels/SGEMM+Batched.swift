import CPURuntime

// Many independent small products in one parallel region: the Winograd convolutions' per-element
// GEMMs (packed panels for wide products, the skinny kernel for n ≤ 16).
extension SGEMMEngine {
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
                               rows: min(mr, mc - ii), cols: min(nr, n - j), alpha: 1, beta: sl == 0 ? 0 : 1,
                               prefetchC: true)
              ii += mr
            }
          }
        }
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
}
