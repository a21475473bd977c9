import CPURuntime
import Compute

/// Direct convolution for layers with at most four output channels and stride 1 (SRResNet's last
/// 9×9 conv to RGB). Through im2col such a layer is memory-bound — its huge patch matrix is used
/// by only three GEMM rows — so here each output row is accumulated in registers instead: for
/// every (input channel, kernel row), one zero-padded input row is loaded once per 16 outputs and
/// kernel column, and feeds one fused multiply-add per output channel, four blocks of 16 outputs
/// per pass so that each broadcast weight feeds four (SRResNet's 9 × 9 conv to RGB at 256 × 256:
/// 31.6 → 20.7 ms, medians of four alternating runs' minimums, against one block and four channels
/// per pass).
enum DirectConv {
  static let maxOutputs = 4

  static func applies(_ c: ConvGeometry) -> Bool {
    c.outChannels <= maxOutputs && c.strideH == 1 && c.strideW == 1 && ConvLowering.shape(c) != .fullyConnected
      && ConvLowering.shape(c) != .pointwise
  }

  /// Workspace floats: re-laid weights plus one padded row and one accumulator row per thread.
  static func workspaceFloats(_ c: ConvGeometry, threads: Int) -> Int {
    let blocks = (c.outWidth + 15) / 16
    return c.inChannels * c.kernelH * c.kernelW * 4 + threads * (blocks * 16 + c.kernelW + 16 + 4 * blocks * 16)
  }

  /// wt[(g·taps + t)·4 + o] = w[g·groupStride + o·outputStride + t] for o < outputs, else 0:
  /// the (up to) four output channels' weights side by side, as the direct kernels broadcast them.
  static func interleaveFour(_ w: UnsafePointer<Float>, groups: Int, groupStride: Int, outputs: Int, outputStride: Int,
                             taps: Int, into wt: UnsafeMutablePointer<Float>) {
    for g in 0..<groups {
      for t in 0..<taps {
        for o in 0..<4 { wt[(g * taps + t) * 4 + o] = o < outputs ? w[g * groupStride + o * outputStride + t] : 0 }
      }
    }
  }

  static func run(_ c: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                  act: Activation, y: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>,
                  pool: ThreadSplitter) {
    typealias V = SIMD16<Float>
    let kh = c.kernelH, kw = c.kernelW, cin = c.inChannels, cout = c.outChannels
    let oh = c.outHeight, ow = c.outWidth, h = c.inHeight, wd = c.inWidth
    let blocks = (ow + 15) / 16
    // wt[ci][ky][kx][4], zero for missing output channels.
    let wt = workspace
    interleaveFour(w, groups: cin, groupStride: kh * kw, outputs: cout, outputStride: cin * kh * kw, taps: kh * kw,
                   into: wt)
    let rowLen = blocks * 16 + kw + 16
    let perThread = rowLen + 4 * blocks * 16
    let scratch = workspace + cin * kh * kw * 4
    let box = UnsafeSendable(value: (x, UnsafePointer(wt), bias, y, scratch))
    let rows = c.batch * oh
    let chunk = (rows + pool.threads - 1) / pool.threads
    pool.forEach(min(pool.threads, rows)) { t in
      let (x, wt, bias, y, scratch) = box.value
      let prow = scratch + t * perThread
      let acc = prow + rowLen
      for r in (t * chunk)..<min(rows, (t + 1) * chunk) {
        let n = r / oh, oy = r % oh
        acc.update(repeating: 0, count: 4 * blocks * 16)
        for ci in 0..<cin {
          let plane = x + (n * cin + ci) * h * wd
          for ky in 0..<kh {
            let iy = oy - c.padH + ky
            if iy < 0 || iy >= h { continue }
            // prow[j] = x[iy, j − padW] for j in 0..<rowLen, zero outside the image.
            prow.update(repeating: 0, count: rowLen)
            let lo = c.padW, n0 = min(wd, rowLen - lo)
            (prow + lo).update(from: plane + iy * wd, count: n0)
            let wr = wt + (ci * kh + ky) * kw * 4
            // Four blocks (64 outputs) per pass: each broadcast weight feeds four FMAs, and
            // three output channels (RGB) skip the fourth, zero one.
            var b = 0
            while b < blocks {
              let nb = min(4, blocks - b)
              let ar = UnsafeMutableRawPointer(acc + b * 16), src = UnsafeRawPointer(prow + b * 16)
              let stride = blocks * 64
              switch (nb, cout == 3) {
              case (4, true): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 4, outputs: 3)
              case (4, false): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 4, outputs: 4)
              case (3, true): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 3, outputs: 3)
              case (3, false): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 3, outputs: 4)
              case (2, true): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 2, outputs: 3)
              case (2, false): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 2, outputs: 4)
              case (_, true): pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 1, outputs: 3)
              default: pass(src: src, acc: ar, stride: stride, w: wr, kw: kw, blocks: 1, outputs: 4)
              }
              b += nb
            }
          }
        }
        for o in 0..<cout {
          let dst = y + ((n * cout + o) * oh + oy) * ow
          let src = acc + o * blocks * 16
          let bv = bias?[o] ?? 0
          CPUKernels.applyAffine(count: ow, scale: 1, shift: bv, act: act, x: UnsafePointer(src), y: dst)
        }
      }
    }
  }

  /// acc[o][j] += Σ_kx w[kx][o] · src[j·16 + kx ..< j·16 + kx + 16] for `blocks` (1–4) blocks of
  /// 16 outputs and `outputs` (3 or 4) channels, in registers (both literals at the call site, so
  /// each combination is its own loop). acc[o] rows are `stride` bytes apart.
  @inline(__always)
  static func pass(src: UnsafeRawPointer, acc: UnsafeMutableRawPointer, stride: Int, w: UnsafePointer<Float>, kw: Int,
                   blocks nb: Int, outputs: Int) {
    typealias V = SIMD16<Float>
    @inline(__always) func ld(_ o: Int, _ j: Int) -> V {
      o < outputs && j < nb ? acc.loadUnaligned(fromByteOffset: o * stride + j * 64, as: V.self) : V()
    }
    var a00 = ld(0, 0), a01 = ld(0, 1), a02 = ld(0, 2), a03 = ld(0, 3)
    var a10 = ld(1, 0), a11 = ld(1, 1), a12 = ld(1, 2), a13 = ld(1, 3)
    var a20 = ld(2, 0), a21 = ld(2, 1), a22 = ld(2, 2), a23 = ld(2, 3)
    var a30 = ld(3, 0), a31 = ld(3, 1), a32 = ld(3, 2), a33 = ld(3, 3)
    for kx in 0..<kw {
      let p = src + kx * 4, wk = w + kx * 4
      let v0 = p.loadUnaligned(as: V.self)
      let v1 = nb > 1 ? p.loadUnaligned(fromByteOffset: 64, as: V.self) : V()
      let v2 = nb > 2 ? p.loadUnaligned(fromByteOffset: 128, as: V.self) : V()
      let v3 = nb > 3 ? p.loadUnaligned(fromByteOffset: 192, as: V.self) : V()
      var c = V(repeating: wk[0])
      a00.madd(c, v0); if nb > 1 { a01.madd(c, v1) }; if nb > 2 { a02.madd(c, v2) }
      if nb > 3 { a03.madd(c, v3) }
      c = V(repeating: wk[1])
      a10.madd(c, v0); if nb > 1 { a11.madd(c, v1) }; if nb > 2 { a12.madd(c, v2) }
      if nb > 3 { a13.madd(c, v3) }
      c = V(repeating: wk[2])
      a20.madd(c, v0); if nb > 1 { a21.madd(c, v1) }; if nb > 2 { a22.madd(c, v2) }
      if nb > 3 { a23.madd(c, v3) }
      if outputs > 3 {
        c = V(repeating: wk[3])
        a30.madd(c, v0); if nb > 1 { a31.madd(c, v1) }; if nb > 2 { a32.madd(c, v2) }
        if nb > 3 { a33.madd(c, v3) }
      }
    }
    @inline(__always) func st(_ v: V, _ o: Int, _ j: Int) {
      if o < outputs && j < nb { acc.storeBytes(of: v, toByteOffset: o * stride + j * 64, as: V.self) }
    }
    st(a00, 0, 0); st(a01, 0, 1); st(a02, 0, 2); st(a03, 0, 3)
    st(a10, 1, 0); st(a11, 1, 1); st(a12, 1, 2); st(a13, 1, 3)
    st(a20, 2, 0); st(a21, 2, 1); st(a22, 2, 2); st(a23, 2, 3)
    st(a30, 3, 0); st(a31, 3, 1); st(a32, 3, 2); st(a33, 3, 3)
  }
}
