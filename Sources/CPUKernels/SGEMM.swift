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
//
// This file holds the engine's state and the entry point that picks a driver; the drivers live in
//   SGEMM+Blocked.swift      the packed path above (matrices and implicit-im2col convolutions)
//   SGEMM+Skinny.swift       n ≤ 16 columns, without packing A
//   SGEMM+Batched.swift      many small products in one parallel region (the Winograd GEMMs)
//   SGEMM+Pack.swift         packing A and B panels, pre-packed weights, aligned allocation
//   SGEMM+MicroKernel.swift  the register-tile micro-kernel (and its AVX2 variant)

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
  var packedB: UnsafeMutablePointer<Float>
  /// Floats in packedB: two KC × NC blocks.
  let packedBCapacity: Int
  var packedA: [UnsafeMutablePointer<Float>]
  /// Per-thread scratch of the skinny kernels (`threadScratchFloats` each): no temporary
  /// allocation per call.
  var threadScratch: [UnsafeMutablePointer<Float>]
  static let threadScratchFloats = 2 * 8 * nr + nr * transposedChunk
  /// m × NC floats where `blocked` accumulates C tiles it scatters (grown on demand).
  var staging: UnsafeMutablePointer<Float> = .allocateAligned(count: 16)
  var stagingCount = 16
  /// The split-k driver's one-thread engines (one per thread, made on first use) and the partial
  /// products of threads 1 ..< threads (grown on demand).
  var splitEngines: [SGEMMEngine] = []
  var partials: UnsafeMutablePointer<Float> = .allocateAligned(count: 16)
  var partialsCount = 16

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
    partials.deallocate()
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
    // Long k against a small C (a convolution's backward-filter product: k = batch × pixels):
    // each thread reduces its own part of k.
    if prepacked == nil && Self.splitKApplies(threads: splitter.threads, m: m, n: n, k: k) {
      splitK(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
      return
    }
    blocked(m: m, n: n, k: k, alpha: alpha, beta: beta,
            a: prepacked.map { .prepacked($0) } ?? .matrix(a, lda: lda, transA: transA),
            b: .matrix(b, ldb: ldb, transB: transB), c: .matrix(c, ldc: ldc))
  }

  /// c[0..<n] = alpha · Σ_kk a[kk·inc] · b[kk·ldb ..< kk·ldb+n] + beta · c: each thread owns a
  /// range of columns (a multiple of 16) kept in L1 while B's rows stream past.
  func rowTimesMatrix(k: Int, alpha: Float, a: UnsafePointer<Float>, inc: Int, b: UnsafePointer<Float>,
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

  func scaleC(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
      let row = c + i * ldc
      if beta == 0 { row.update(repeating: 0, count: n) } else if beta != 1 {
        for j in 0..<n { row[j] *= beta }
      }
    }
  }
}
