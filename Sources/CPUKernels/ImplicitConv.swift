import CPURuntime
import Compute

// Forward convolutions as implicit GEMMs on the CPU: the packed GEMM driver
// (SGEMMEngine.blocked) packs its B panels straight from the input tensor (im2col happens inside
// the packing, into a block that stays in cache, instead of a patch matrix written to and read
// back from memory) and stores its C tiles straight into the NCHW output with the bias and
// activation applied while the tile is still in L1 (no transpose back to NCHW, no separate
// epilogue pass):  C[outC, N·oH·oW] = W[outC, inC·kH·kW] · patches(x).
//
// 4 × 4 stride-2 convolutions with enough channels and tiles go to WinogradConv instead (both
// directions). Other transposed convolutions stay on ConvLowering (GEMM + col2im) or, onto ≤ 4
// channels, the direct kernel. Measured and dropped (this machine, batch 64): gathering their patches by output phase
// (s² stride-1 implicit GEMMs) reads outC·k²·N·oH·oW values where col2im writes inC·k²·N·oH·oW —
// 30–60 % slower on a DCGAN generator's layers, which halve the channels, and no faster at
// stride 1 with equal channels; fusing col2im into the C stores as scalar scatter-adds is
// no faster than the separate pass.

/// The B operand of a convolution's GEMM, read from the NCHW input while packing. Column j is
/// output position (n, qy, qx) of a qh × qw grid per image; k row r is (channel, ty, tx) with
/// ty < nty, tx < ntx; B(r, j) = x[n, channel, qy·sy + dy0 + ty, qx·sx + dx0 + tx], zero outside
/// the image.
struct PatchGather {
  var x: UnsafePointer<Float>
  /// Floats in the tensor: vector reads stay inside 0 ..< count.
  var count: Int
  var channels: Int, height: Int, width: Int
  var qh: Int, qw: Int
  var sy: Int, sx: Int
  var nty: Int, ntx: Int
  var dy0: Int, dx0: Int

  /// The forward convolution's patches.
  init(_ c: ConvGeometry, x: UnsafePointer<Float>) {
    self.x = x
    count = c.batch * c.inChannels * c.inHeight * c.inWidth
    channels = c.inChannels; height = c.inHeight; width = c.inWidth
    qh = c.outHeight; qw = c.outWidth
    sy = c.strideH; sx = c.strideW
    nty = c.kernelH; ntx = c.kernelW
    dy0 = -c.padH; dx0 = -c.padW
  }

  /// Most panels one `pack` call fills.
  static let panelsPerPack = 8

  /// Packs B[k0 ..< k0+kc, j0 ..< j0+cols] (cols ≤ NR · `panelsPerPack`) as consecutive NR-wide
  /// panels `slot` floats apart (kc rows of NR floats each, columns past `cols` zero).
  ///
  /// The columns split into chunks of ≤ 16 outputs along one output row. For each chunk a table
  /// gives every tap's offset and lane masks once, then each k row is one vector load (two for
  /// stride 2, then a deinterleave), an AND with the mask (zero outside the image) and a store —
  /// no branches or bounds arithmetic per row. (The row-by-row copy this replaces tested and
  /// clipped every run against the padding; on a DCGAN discriminator's 8 × 8 and 4 × 4 outputs
  /// almost every run touches it, and packing took 16 % of D's time at batch 64.) A chunk stores
  /// a whole 4-, 8- or 16-lane vector when it fits in the panel row: lanes past its end land on
  /// the next chunk's columns, which that chunk writes after it, or past `cols`, zeroed last.
  func pack(k0: Int, kc: Int, j0: Int, cols: Int, into dst: UnsafeMutablePointer<Float>, slot: Int) {
    let nr = SGEMMEngine.nr, taps = nty * ntx, qhw = qh * qw, plane = height * width
    let imageFloats = channels * plane
    let ch0 = k0 / taps, chLast = (k0 + kc - 1) / taps
    // Per tap of the current chunk: the offset from its channel's plane, and the byte offset in
    // `laneMasks` of the mask keeping lanes lo ..< hi. Eight bytes a tap: a 9 × 9 kernel's table
    // stays on the stack (≤ 1 KB).
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * taps) { table in
      let tapOffset = table.baseAddress!, tapMasks = tapOffset + taps
      var t = 0
      while t < cols {
        let j = j0 + t
        let n = j / qhw, q = j - n * qhw, qy = q / qw, qx = q - qy * qw
        let column = t % nr, len = min(qw - qx, cols - t, 16, nr - column)
        let out = dst + (t / nr) * slot + column
        let iy0 = qy * sy + dy0, ix0 = qx * sx + dx0
        var minOffset = Int.max, maxOffset = Int.min
        for ty in 0..<nty {
          let iy = iy0 + ty
          let rowInside = iy >= 0 && iy < height
          for tx in 0..<ntx {
            let ix = ix0 + tx
            // Lanes lo ..< hi read inside the row (none when the row is outside the image).
            let lo = min(16, max(0, (sx - 1 - ix) / sx))
            let hi = rowInside ? min(16, max(0, (width - ix + sx - 1) / sx)) : 0
            let offset = (rowInside ? iy : 0) * width + ix
            tapOffset[ty * ntx + tx] = Int32(offset)
            tapMasks[ty * ntx + tx] = Int32(Self.maskOffset(lo, hi))
            minOffset = min(minOffset, offset); maxOffset = max(maxOffset, offset)
          }
        }
        let image = n * imageFloats
        let span = len <= 4 ? 4 : (len <= 8 ? 8 : 16)
        // Vector stores stay inside the panel row, and vector reads (span · sx floats) inside the
        // tensor for every row; else the chunk goes lane by lane.
        let vectors = sx <= 2 && column + span <= nr && image + ch0 * plane + minOffset >= 0
          && image + chLast * plane + maxOffset + span * sx <= count
        let rows = ChunkRows(x: x, tapOffset: tapOffset, tapMasks: tapMasks, taps: taps, plane: plane, nr: nr,
                             masks: Self.laneMasks, out: out, kc: kc,
                             tap: k0 - ch0 * taps, channel: image + ch0 * plane)
        if !vectors {
          rows.scalar(len: len, sx: sx)
        } else {
          switch (span, sx) {
          case (16, 2):
            rows.run(SIMD16<UInt32>.self) { s in
              let a = s.loadUnaligned(as: SIMD16<Float>.self), b = s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
              return unsafeBitCast(SIMD16<Float>(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14],
                                                 b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14]), to: SIMD16<UInt32>.self)
            }
          case (16, _): rows.run(SIMD16<UInt32>.self) { $0.loadUnaligned(as: SIMD16<UInt32>.self) }
          case (8, 2):
            rows.run(SIMD8<UInt32>.self) { s in
              let a = s.loadUnaligned(as: SIMD16<Float>.self)
              return unsafeBitCast(SIMD8<Float>(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14]), to: SIMD8<UInt32>.self)
            }
          case (8, _): rows.run(SIMD8<UInt32>.self) { $0.loadUnaligned(as: SIMD8<UInt32>.self) }
          case (_, 2):
            rows.run(SIMD4<UInt32>.self) { s in
              let a = s.loadUnaligned(as: SIMD8<Float>.self)
              return unsafeBitCast(SIMD4<Float>(a[0], a[2], a[4], a[6]), to: SIMD4<UInt32>.self)
            }
          default: rows.run(SIMD4<UInt32>.self) { $0.loadUnaligned(as: SIMD4<UInt32>.self) }
          }
        }
        t += len
      }
    }
    let last = (cols - 1) / nr, filled = cols - last * nr
    if filled < nr {
      let panel = dst + last * slot
      for r in 0..<kc { (panel + r * nr + filled).update(repeating: 0, count: nr - filled) }
    }
  }

  /// Lane masks keeping lanes lo ..< hi (lo, hi in 0 ... 16): 16 words each, the one for (lo, hi)
  /// at byte offset `maskOffset(lo, hi)`, 64-byte aligned. (Swift's lane-wise SIMD comparisons
  /// lower lane by lane here; one aligned load per row is cheaper than building the mask.)
  nonisolated(unsafe) private static let laneMasks: UnsafeRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: 17 * 17 * 64, alignment: 64)
    let words = p.bindMemory(to: UInt32.self, capacity: 17 * 17 * 16)
    for lo in 0...16 {
      for hi in 0...16 {
        for t in 0..<16 { words[(lo * 17 + hi) * 16 + t] = t >= lo && t < hi ? ~0 : 0 }
      }
    }
    return UnsafeRawPointer(p)
  }()

  @inline(__always)
  static func maskOffset(_ lo: Int, _ hi: Int) -> Int { (lo * 17 + hi) * 64 }
}

/// One chunk's k rows for `PatchGather.pack`: row r reads tap (k0 + r) mod taps of its channel.
private struct ChunkRows {
  let x: UnsafePointer<Float>
  let tapOffset: UnsafePointer<Int32>, tapMasks: UnsafePointer<Int32>
  let taps: Int, plane: Int, nr: Int
  let masks: UnsafeRawPointer
  let out: UnsafeMutablePointer<Float>
  let kc: Int
  /// The first row's tap, and its channel's offset in x.
  let tap: Int, channel: Int

  /// Each row: `load` from the tap's first input, AND with its lane mask, store.
  @inline(__always)
  func run<V: SIMD>(_: V.Type, load: (UnsafeRawPointer) -> V) where V.Scalar == UInt32 {
    var tap = tap, channel = channel
    let dst = UnsafeMutableRawPointer(out)
    for r in 0..<kc {
      let keep = masks.load(fromByteOffset: Int(tapMasks[tap]), as: V.self)
      dst.storeBytes(of: load(UnsafeRawPointer(x + channel + Int(tapOffset[tap]))) & keep, toByteOffset: 4 * r * nr,
                     as: V.self)
      tap += 1
      if tap == taps { tap = 0; channel += plane }
    }
  }

  /// Lane by lane: chunks whose vectors would leave the tensor or the panel row, strides > 2.
  func scalar(len: Int, sx: Int) {
    var tap = tap, channel = channel
    for r in 0..<kc {
      let lo = Int(tapMasks[tap]) / 64 / 17, hi = Int(tapMasks[tap]) / 64 % 17
      let src = channel + Int(tapOffset[tap]), d = out + r * nr
      for u in 0..<len { d[u] = u >= lo && u < hi ? x[src + u * sx] : 0 }
      tap += 1
      if tap == taps { tap = 0; channel += plane }
    }
  }
}

/// Where the GEMM's C goes: row i (an output channel), column j (output position (n, q)) →
/// y[n, i, q] of the NCHW output, then bias and activation.
struct PatchScatter {
  var y: UnsafeMutablePointer<Float>
  var rowStride: Int, imageStride: Int
  /// Bias per row (may be nil) and activation, applied when a tile is finished.
  var bias: UnsafePointer<Float>?
  var activation: Activation

  init(_ c: ConvGeometry, y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, activation: Activation) {
    self.y = y
    rowStride = c.outPixels; imageStride = c.outChannels * c.outPixels
    self.bias = bias; self.activation = activation
  }

  var hasEpilogue: Bool { bias != nil || activation != .identity }

  /// Offset of column j in row 0.
  @inline(__always)
  func offset(_ j: Int) -> Int {
    let n = j / rowStride
    return n * imageStride + j - n * rowStride
  }

  /// Offset of column j when columns j ..< j+cols are consecutive in memory (one image), else nil.
  func contiguousOffset(_ j: Int, cols: Int) -> Int? {
    j / rowStride == (j + cols - 1) / rowStride ? offset(j) : nil
  }

  /// Finishes rows i0 ..< i0+rows of columns j ..< j+cols accumulated in a staging tile (leading
  /// dimension ld): epilogue there, then each value to its place in y. `offsets` holds
  /// `offset(j + u)` for u < cols.
  @inline(__always)
  func scatter(from t: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int, i0: Int,
               offsets: UnsafePointer<Int>) {
    finish(rows: rows, cols: cols, i0: i0, c: t, ldc: ld)
    for r in 0..<rows {
      let dst = y + (i0 + r) * rowStride, src = t + r * ld
      for u in 0..<cols { dst[offsets[u]] = src[u] }
    }
  }

  /// Stores rows i0 ..< i0+rows of a finished tile held in scratch (leading dimension ld) into C at
  /// `dst` (leading dimension ldc) with bias + activation, adding C's partial sums first when
  /// earlier k slices left them there.
  @inline(__always)
  func finish(rows: Int, cols: Int, i0: Int, tile: UnsafeMutablePointer<Float>, ld: Int,
              into dst: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    for r in 0..<rows {
      let src = tile + r * ld, d = dst + r * ldc
      if accumulate { for j in 0..<cols { src[j] += d[j] } }
      CPUKernels.applyAffine(count: cols, scale: 1, shift: bias?[i0 + r] ?? 0, act: activation,
                             x: UnsafePointer(src), y: d)
    }
  }

  /// Applies bias + activation to rows i0 ..< i0+rows of a contiguous tile at c (leading dimension ldc).
  @inline(__always)
  func finish(rows: Int, cols: Int, i0: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard hasEpilogue else { return }
    for r in 0..<rows {
      let row = c + r * ldc
      CPUKernels.applyAffine(count: cols, scale: 1, shift: bias?[i0 + r] ?? 0, act: activation,
                             x: UnsafePointer(row), y: row)
    }
  }
}

enum ImplicitConv {
  /// Forward convolutions the implicit GEMM takes: those ConvLowering would tile through im2col
  /// (not 1×1 or fully connected, which are plain GEMMs), with more columns than the skinny GEMM
  /// path handles.
  static func applies(_ c: ConvGeometry) -> Bool {
    guard case .tiled = ConvLowering.shape(c) else { return false }
    return c.batch * c.outPixels > SGEMMEngine.skinnyN
  }

  /// y = act(conv(x, w) + bias). `prepacked`: w as `prepackA` lays it out (constant weights).
  static func forward(_ c: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                      act: Activation, y: UnsafeMutablePointer<Float>, engine: SGEMMEngine,
                      prepacked: UnsafePointer<Float>?) {
    let k = c.patchSize
    engine.blocked(m: c.outChannels, n: c.batch * c.outPixels, k: k, alpha: 1, beta: 0,
                   a: prepacked.map { .prepacked($0) } ?? .matrix(w, lda: k, transA: false),
                   b: .patches(PatchGather(c, x: x)),
                   c: .patches(PatchScatter(c, y: y, bias: bias, activation: act)))
  }
}
