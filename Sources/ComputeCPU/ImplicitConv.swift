import Compute

// Forward convolutions as implicit GEMMs on the CPU: the packed GEMM driver
// (SGEMMEngine.blocked) packs its B panels straight from the input tensor (im2col happens inside
// the packing, into a block that stays in cache, instead of a patch matrix written to and read
// back from memory) and stores its C tiles straight into the NCHW output with the bias and
// activation applied while the tile is still in L1 (no transpose back to NCHW, no separate
// epilogue pass):  C[outC, N·oH·oW] = W[outC, inC·kH·kW] · patches(x).
//
// Transposed convolutions stay on ConvLowering (GEMM + col2im) or, onto ≤ 4 channels, the direct
// kernel. Measured and dropped (this machine, batch 64): gathering their patches by output phase
// (s² stride-1 implicit GEMMs) reads outC·k²·N·oH·oW values where col2im writes inC·k²·N·oH·oW —
// 30–60 % slower on a DCGAN generator's layers, which halve the channels, and no faster at
// stride 1 with equal channels; fusing col2im into the C stores as scalar scatter-adds was
// no faster than the separate pass.

/// The B operand of a convolution's GEMM, read from the NCHW input while packing. Column j is
/// output position (n, qy, qx) of a qh × qw grid per image; k row r is (channel, ty, tx) with
/// ty < nty, tx < ntx; B(r, j) = x[n, channel, qy·sy + dy0 + ty, qx·sx + dx0 + tx], zero outside
/// the image.
struct PatchGather {
  var x: UnsafePointer<Float>
  /// One past the tensor's last float: vector reads never cross it.
  var xEnd: UnsafePointer<Float>
  var channels: Int, height: Int, width: Int
  var qh: Int, qw: Int
  var sy: Int, sx: Int
  var nty: Int, ntx: Int
  var dy0: Int, dx0: Int

  /// The forward convolution's patches.
  init(_ c: ConvGeometry, x: UnsafePointer<Float>) {
    self.x = x
    xEnd = x + c.batch * c.inChannels * c.inHeight * c.inWidth
    channels = c.inChannels; height = c.inHeight; width = c.inWidth
    qh = c.outHeight; qw = c.outWidth
    sy = c.strideH; sx = c.strideW
    nty = c.kernelH; ntx = c.kernelW
    dy0 = -c.padH; dx0 = -c.padW
  }

  /// Packs B[k0 ..< k0+kc, j0 ..< j0+cols] as one NR-wide panel (kc rows of NR floats, columns
  /// past `cols` zero). Columns are walked in runs of one output row; each run is copied k row by
  /// k row, 16 at a time with vector loads where the stride is 1 or 2. The bounds along x depend
  /// only on the run and tx, so they are computed once per run (no division per k row).
  func pack(k0: Int, kc: Int, j0: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
    let nr = SGEMMEngine.nr, taps = nty * ntx, qhw = qh * qw, plane = height * width
    if cols < nr {
      for r in 0..<kc { (dst + r * nr + cols).update(repeating: 0, count: nr - cols) }
    }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * ntx) { table in
      let off = table.baseAddress!, los = off + ntx, his = los + ntx
      var t0 = 0
      while t0 < cols {
        let j = j0 + t0
        let n = j / qhw, q = j - n * qhw, qy = q / qw, qx = q - qy * qw
        let len = min(qw - qx, cols - t0)
        for tx in 0..<ntx {
          // Outputs t in lo..<hi read inside the row: 0 ≤ ix0 + t·sx < width.
          let ix0 = qx * sx + dx0 + tx
          let lo = ix0 >= 0 ? 0 : min(len, (-ix0 + sx - 1) / sx)
          off[tx] = ix0
          los[tx] = lo
          his[tx] = ix0 >= width ? lo : max(lo, min(len, (width - ix0 + sx - 1) / sx))
        }
        let image = x + n * channels * plane
        var ch = k0 / taps, ty = (k0 - ch * taps) / ntx, tx = k0 - ch * taps - ty * ntx
        var r = 0
        while r < kc {
          let iy = qy * sy + dy0 + ty
          let inside = iy >= 0 && iy < height
          let rowStart = image + ch * plane + iy * width
          while tx < ntx && r < kc {
            let d = dst + r * nr + t0
            if !inside {
              d.update(repeating: 0, count: len)
            } else {
              copy(from: rowStart + off[tx], lo: los[tx], hi: his[tx], len: len, to: d)
            }
            tx += 1
            r += 1
          }
          if tx == ntx {
            tx = 0; ty += 1
            if ty == nty { ty = 0; ch += 1 }
          }
        }
        t0 += len
      }
    }
  }

  /// d[t] = src[t·sx] for lo ≤ t < hi, 0 for the rest of 0..<len. `src` is only pointer
  /// arithmetic: it is dereferenced inside lo..<hi, or by a vector load whose whole span lies in
  /// the tensor (lanes outside lo..<hi are zeroed after).
  @inline(__always)
  private func copy(from src: UnsafePointer<Float>, lo: Int, hi: Int, len: Int, to d: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    var t = 0
    if sx == 1 {
      while t + 16 <= len && src + t >= x && src + t + 16 <= xEnd {
        UnsafeMutableRawPointer(d + t).storeBytes(of: UnsafeRawPointer(src + t).loadUnaligned(as: V.self), as: V.self)
        t += 16
      }
    } else if sx == 2 {
      while t + 16 <= len && src + 2 * t >= x && src + 2 * t + 32 <= xEnd {
        let a = UnsafeRawPointer(src + 2 * t).loadUnaligned(as: V.self)
        let b = UnsafeRawPointer(src + 2 * t + 16).loadUnaligned(as: V.self)
        let v = V(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14], b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14])
        UnsafeMutableRawPointer(d + t).storeBytes(of: v, as: V.self)
        t += 16
      }
    }
    // Narrow rows (8 × 8 and 4 × 4 outputs at batch 64): 8, then 4 at a time.
    typealias V8 = SIMD8<Float>
    if sx == 1 {
      while t + 8 <= len && src + t >= x && src + t + 8 <= xEnd {
        UnsafeMutableRawPointer(d + t).storeBytes(of: UnsafeRawPointer(src + t).loadUnaligned(as: V8.self), as: V8.self)
        t += 8
      }
    } else if sx == 2 {
      while t + 8 <= len && src + 2 * t >= x && src + 2 * t + 16 <= xEnd {
        let a = UnsafeRawPointer(src + 2 * t).loadUnaligned(as: V.self)
        UnsafeMutableRawPointer(d + t).storeBytes(of: V8(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14]), as: V8.self)
        t += 8
      }
    }
    typealias V4 = SIMD4<Float>
    if sx == 1 {
      while t + 4 <= len && src + t >= x && src + t + 4 <= xEnd {
        UnsafeMutableRawPointer(d + t).storeBytes(of: UnsafeRawPointer(src + t).loadUnaligned(as: V4.self), as: V4.self)
        t += 4
      }
    } else if sx == 2 {
      while t + 4 <= len && src + 2 * t >= x && src + 2 * t + 8 <= xEnd {
        let a = UnsafeRawPointer(src + 2 * t).loadUnaligned(as: V8.self)
        UnsafeMutableRawPointer(d + t).storeBytes(of: V4(a[0], a[2], a[4], a[6]), as: V4.self)
        t += 4
      }
    }
    if t > 0 {
      var u = 0
      while u < lo && u < t { d[u] = 0; u += 1 }
      u = hi
      while u < t { d[u] = 0; u += 1 }
    }
    while t < len {
      d[t] = t >= lo && t < hi ? src[t * sx] : 0
      t += 1
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
