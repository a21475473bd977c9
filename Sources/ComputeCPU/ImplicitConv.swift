import Compute

// Convolutions as implicit GEMMs on the CPU: the packed GEMM driver (SGEMMEngine.blocked) packs
// its B panels straight from the input tensor (im2col happens inside the packing, into a block
// that stays in cache, instead of a patch matrix written to and read back from memory) and stores
// its C tiles straight into the NCHW output with the bias and activation applied while the tile
// is still in L1 (no transpose back to NCHW, no separate epilogue pass).
//
//  * forward:    C[outC, N·oH·oW] = W[outC, inC·kH·kW] · patches(x)
//  * transposed (backward-data, a generator's ConvTranspose2d): split by output phase. For stride
//    s the output pixels (s·qy + ry, s·qx + rx) only meet the kernel taps ky ≡ ry + padH (mod s),
//    kx ≡ rx + padW (mod s), so each of the s² phases is an ordinary stride-1 convolution of dy
//    with a sub-kernel of ⌈k/s⌉² taps whose result is scattered to every s-th output pixel. The
//    FLOPs are those of GEMM + col2im, but nothing of patch size is ever written.

/// The B operand of a convolution's GEMM, read from an NCHW tensor while packing. Column j is
/// output position (n, qy, qx) of a qh × qw grid per image; k row r is (channel, ty, tx) with
/// ty < nty, tx < ntx; B(r, j) = x[n, channel, qy·sy + dy0 + ty·dyStep, qx·sx + dx0 + tx·dxStep],
/// zero outside the image.
struct PatchGather {
  var x: UnsafePointer<Float>
  /// One past the tensor's last float: vector reads never cross it.
  var xEnd: UnsafePointer<Float>
  var channels: Int, height: Int, width: Int
  var qh: Int, qw: Int
  var sy: Int, sx: Int
  var nty: Int, ntx: Int
  var dy0: Int, dyStep: Int, dx0: Int, dxStep: Int

  var rows: Int { channels * nty * ntx }

  init(x: UnsafePointer<Float>, xEnd: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
       qh: Int, qw: Int, sy: Int, sx: Int, nty: Int, ntx: Int, dy0: Int, dyStep: Int, dx0: Int, dxStep: Int) {
    self.x = x; self.xEnd = xEnd
    self.channels = channels; self.height = height; self.width = width
    self.qh = qh; self.qw = qw; self.sy = sy; self.sx = sx; self.nty = nty; self.ntx = ntx
    self.dy0 = dy0; self.dyStep = dyStep; self.dx0 = dx0; self.dxStep = dxStep
  }

  /// The forward convolution's patches.
  init(_ c: ConvGeometry, x: UnsafePointer<Float>) {
    self.x = x
    xEnd = x + c.batch * c.inChannels * c.inHeight * c.inWidth
    channels = c.inChannels; height = c.inHeight; width = c.inWidth
    qh = c.outHeight; qw = c.outWidth
    sy = c.strideH; sx = c.strideW
    nty = c.kernelH; ntx = c.kernelW
    dy0 = -c.padH; dyStep = 1; dx0 = -c.padW; dxStep = 1
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
          let ix0 = qx * sx + dx0 + tx * dxStep
          let lo = ix0 >= 0 ? 0 : min(len, (-ix0 + sx - 1) / sx)
          off[tx] = ix0
          los[tx] = lo
          his[tx] = ix0 >= width ? lo : max(lo, min(len, (width - ix0 + sx - 1) / sx))
        }
        let image = x + n * channels * plane
        var ch = k0 / taps, ty = (k0 - ch * taps) / ntx, tx = k0 - ch * taps - ty * ntx
        var r = 0
        while r < kc {
          let iy = qy * sy + dy0 + ty * dyStep
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

/// Where an implicit GEMM's C goes: row i (an output channel), column j (position (n, qy, qx)
/// of the gather's grid) → y[n, i, qy·osy + oy0, qx·osx + ox0] of an [N, M, oh, ow] tensor.
struct PatchScatter {
  var y: UnsafeMutablePointer<Float>
  var rowStride: Int, imageStride: Int
  var qh: Int, qw: Int, ow: Int
  var osy: Int, osx: Int, oy0: Int, ox0: Int
  /// Bias per row (may be nil) and activation, applied when a tile is finished.
  var bias: UnsafePointer<Float>?
  var activation: Activation

  /// The forward convolution's output.
  init(_ c: ConvGeometry, y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, activation: Activation) {
    self.y = y
    rowStride = c.outPixels; imageStride = c.outChannels * c.outPixels
    qh = c.outHeight; qw = c.outWidth; ow = c.outWidth
    osy = 1; osx = 1; oy0 = 0; ox0 = 0
    self.bias = bias; self.activation = activation
  }

  init(y: UnsafeMutablePointer<Float>, rowStride: Int, imageStride: Int, qh: Int, qw: Int, ow: Int,
       osy: Int, osx: Int, oy0: Int, ox0: Int, bias: UnsafePointer<Float>?, activation: Activation) {
    self.y = y; self.rowStride = rowStride; self.imageStride = imageStride
    self.qh = qh; self.qw = qw; self.ow = ow
    self.osy = osy; self.osx = osx; self.oy0 = oy0; self.ox0 = ox0
    self.bias = bias; self.activation = activation
  }

  var hasEpilogue: Bool { bias != nil || activation != .identity }

  /// Offset of column j in row 0.
  @inline(__always)
  func offset(_ j: Int) -> Int {
    let qhw = qh * qw, n = j / qhw, q = j - n * qhw, qy = q / qw, qx = q - qy * qw
    return n * imageStride + (qy * osy + oy0) * ow + qx * osx + ox0
  }

  /// Offset of column j when columns j ..< j+cols are consecutive in memory, else nil.
  func contiguousOffset(_ j: Int, cols: Int) -> Int? {
    let qhw = qh * qw
    let denseImage = osy == 1 && osx == 1 && oy0 == 0 && ox0 == 0 && ow == qw
    if denseImage {
      return j / qhw == (j + cols - 1) / qhw ? offset(j) : nil
    }
    return osx == 1 && j / qw == (j + cols - 1) / qw ? offset(j) : nil
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

  /// One output phase of a transposed convolution: output pixels (s·qy + ry, s·qx + rx) and the
  /// kernel taps ky0 + ty·sH (ty < nty), kx0 + tx·sW (tx < ntx) that reach them.
  struct Phase {
    var ry: Int, rx: Int, ky0: Int, kx0: Int, nty: Int, ntx: Int, qh: Int, qw: Int

    init(_ c: ConvGeometry, ry: Int, rx: Int) {
      self.ry = ry; self.rx = rx
      ky0 = (ry + c.padH) % c.strideH; kx0 = (rx + c.padW) % c.strideW
      nty = ky0 < c.kernelH ? (c.kernelH - 1 - ky0) / c.strideH + 1 : 0
      ntx = kx0 < c.kernelW ? (c.kernelW - 1 - kx0) / c.strideW + 1 : 0
      qh = ry < c.inHeight ? (c.inHeight - 1 - ry) / c.strideH + 1 : 0
      qw = rx < c.inWidth ? (c.inWidth - 1 - rx) / c.strideW + 1 : 0
    }
  }

  /// Transposed convolutions (backward-data) it takes: dy with no more channels than dx, and
  /// every phase wide enough for the packed path. The phases gather outC·k²·N·oH·oW values where
  /// GEMM + col2im scatters inC·k²·N·oH·oW, so when dy has more channels (a DCGAN generator's
  /// layers halve them: 30–60 % slower measured) the lowering moves less data.
  static func transposedApplies(_ c: ConvGeometry) -> Bool {
    guard case .tiled = ConvLowering.shape(c), c.outChannels <= c.inChannels else { return false }
    let qh = c.inHeight / c.strideH, qw = c.inWidth / c.strideW
    return c.batch * qh * qw > SGEMMEngine.skinnyN
  }

  /// Floats of scratch `transposed` needs: one phase's weights.
  static func transposedScratchFloats(_ c: ConvGeometry) -> Int { c.weightShape.reduce(1, *) }

  /// dx = act(conv2d_backward_data(dy, w) + bias), one implicit GEMM per output phase:
  /// dx[n, ci, s·qy+ry, s·qx+rx] = Σ_{co,ty,tx} W_phase[ci, (co,ty,tx)] · dy[n, co, qy+dy0−ty, qx+dx0−tx]
  /// with W_phase[ci, (co,ty,tx)] = w[co, ci, ky0+ty·sH, kx0+tx·sW], dy0 = (ry+padH−ky0)/sH.
  static func transposed(_ c: ConvGeometry, dy: UnsafePointer<Float>, w: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, act: Activation, dx: UnsafeMutablePointer<Float>,
                         engine: SGEMMEngine, scratch: UnsafeMutablePointer<Float>) {
    let cin = c.inChannels, cout = c.outChannels, kh = c.kernelH, kw = c.kernelW
    let h = c.inHeight, wd = c.inWidth, plane = h * wd
    for ry in 0..<c.strideH {
      for rx in 0..<c.strideW {
        let ph = Phase(c, ry: ry, rx: rx)
        if ph.qh == 0 || ph.qw == 0 { continue }
        let k = cout * ph.nty * ph.ntx
        if k == 0 {
          // No tap reaches these pixels: bias and activation only.
          for n in 0..<c.batch {
            for ci in 0..<cin {
              let zero: Float = 0
              var v: Float = 0
              withUnsafePointer(to: zero) { z in
                CPUKernels.applyAffine(count: 1, scale: 1, shift: bias?[ci] ?? 0, act: act, x: z, y: &v)
              }
              let base = dx + (n * cin + ci) * plane
              for qy in 0..<ph.qh { for qx in 0..<ph.qw { base[(qy * c.strideH + ry) * wd + qx * c.strideW + rx] = v } }
            }
          }
          continue
        }
        for ci in 0..<cin {
          var dst = scratch + ci * k
          for co in 0..<cout {
            let src = w + (co * cin + ci) * kh * kw
            for ty in 0..<ph.nty {
              for tx in 0..<ph.ntx {
                dst.pointee = src[(ph.ky0 + ty * c.strideH) * kw + ph.kx0 + tx * c.strideW]
                dst += 1
              }
            }
          }
        }
        let gather = PatchGather(
          x: dy, xEnd: dy + c.batch * cout * c.outPixels, channels: cout, height: c.outHeight, width: c.outWidth,
          qh: ph.qh, qw: ph.qw, sy: 1, sx: 1, nty: ph.nty, ntx: ph.ntx,
          dy0: (ry + c.padH - ph.ky0) / c.strideH, dyStep: -1, dx0: (rx + c.padW - ph.kx0) / c.strideW, dxStep: -1)
        let scatter = PatchScatter(
          y: dx, rowStride: plane, imageStride: cin * plane, qh: ph.qh, qw: ph.qw, ow: wd,
          osy: c.strideH, osx: c.strideW, oy0: ry, ox0: rx, bias: bias, activation: act)
        engine.blocked(m: cin, n: c.batch * ph.qh * ph.qw, k: k, alpha: 1, beta: 0,
                       a: .matrix(scratch, lda: k, transA: false), b: .patches(gather), c: .patches(scatter))
      }
    }
  }
}
