import Compute

/// Direct convolution for layers with at most four output channels and stride 1 (SRResNet's last
/// 9×9 conv to RGB). Through im2col such a layer is memory-bound — its huge patch matrix is used
/// by only three GEMM rows — so here each output row is accumulated in registers instead: for
/// every (input channel, kernel row), one zero-padded input row is loaded once per 16 outputs and
/// kernel column, and feeds four fused multiply-adds.
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
            for b in 0..<blocks {
              let ar = UnsafeMutableRawPointer(acc + b * 16)
              var a0 = ar.loadUnaligned(as: V.self), a1 = ar.loadUnaligned(fromByteOffset: blocks * 64, as: V.self)
              var a2 = ar.loadUnaligned(fromByteOffset: 2 * blocks * 64, as: V.self)
              var a3 = ar.loadUnaligned(fromByteOffset: 3 * blocks * 64, as: V.self)
              let src = UnsafeRawPointer(prow + b * 16)
              for kx in 0..<kw {
                let v = src.loadUnaligned(fromByteOffset: kx * 4, as: V.self)
                let wk = wr + kx * 4
                a0.addProduct(V(repeating: wk[0]), v)
                a1.addProduct(V(repeating: wk[1]), v)
                a2.addProduct(V(repeating: wk[2]), v)
                a3.addProduct(V(repeating: wk[3]), v)
              }
              ar.storeBytes(of: a0, as: V.self)
              ar.storeBytes(of: a1, toByteOffset: blocks * 64, as: V.self)
              ar.storeBytes(of: a2, toByteOffset: 2 * blocks * 64, as: V.self)
              ar.storeBytes(of: a3, toByteOffset: 3 * blocks * 64, as: V.self)
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
}
