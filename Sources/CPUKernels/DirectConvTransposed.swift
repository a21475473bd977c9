import CPURuntime
import Compute

/// Transposed convolutions (conv backward-data) onto at most four channels, any stride: a DCGAN
/// generator's last layer (64 → 3, 4×4, stride 2) and, in the inpainting loop, the gradient
/// through the discriminator's first layer. As a GEMM their patch side is tiny (3·16 rows), so
/// GEMM + col2im is bound by memory (~25 GFLOP/s measured). Here each output row is accumulated
/// in registers instead, split by output phase: kernel row ky reaches output row iy only when
/// ky ≡ iy + padH (mod sH), so output row iy = sH·qy + ry meets kernel rows ky0 + ty·sH
/// (ky0 = (ry + padH) mod sH), i.e. dy rows qy + dy0 − ty; output column sW·qx + rx meets kernel
/// columns kx0 + tx·sW, dy columns qx + dx0 − tx. For each dy channel and kernel row, one zero-padded dy row is loaded once and
/// feeds, per 16 outputs of each column phase and each tap, four fused multiply-adds (one per
/// output channel).
extension DirectConv {
  static func transposedApplies(_ c: ConvGeometry) -> Bool {
    guard case .tiled = ConvLowering.shape(c) else { return false }
    return c.inChannels <= maxOutputs && c.padW < c.kernelW && c.padH < c.kernelH
  }

  /// Blocks of 16 covering the widest column phase.
  static func transposedBlocks(_ c: ConvGeometry) -> Int { ((c.inWidth + c.strideW - 1) / c.strideW + 15) / 16 }

  /// The dy rows' zero margin on each side: every tap offset lies within it.
  static func transposedMargin(_ c: ConvGeometry) -> Int { c.kernelW + 1 }

  /// Floats of one zero-margined dy row.
  static func transposedRowFloats(_ c: ConvGeometry) -> Int {
    2 * transposedMargin(c) + max(transposedBlocks(c) * 16, c.outWidth)
  }

  /// Workspace floats: re-laid weights, then per thread one image of dy with zero margins.
  static func transposedWorkspaceFloats(_ c: ConvGeometry, threads: Int) -> Int {
    c.outChannels * c.kernelH * c.kernelW * 4 + threads * c.outChannels * c.outHeight * transposedRowFloats(c)
  }

  static func transposed(_ c: ConvGeometry, dy: UnsafePointer<Float>, w: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, act: Activation, dx: UnsafeMutablePointer<Float>,
                         workspace: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    typealias V = SIMD16<Float>
    let kh = c.kernelH, kw = c.kernelW, cdy = c.outChannels, cdx = c.inChannels
    let sh = c.strideH, sw = c.strideW, h = c.inHeight, wd = c.inWidth, oh = c.outHeight, ow = c.outWidth
    let margin = transposedMargin(c), pw = transposedRowFloats(c)
    // wt[co][ky][kx][4]: the four output channels' weights side by side, zero for missing ones.
    let wt = workspace
    interleaveFour(w, groups: cdy, groupStride: cdx * kh * kw, outputs: cdx, outputStride: kh * kw, taps: kh * kw,
                   into: wt)
    let imageFloats = cdy * oh * pw
    let scratch = workspace + cdy * kh * kw * 4
    let box = UnsafeSendable(value: (dy, UnsafePointer(wt), bias, dx, scratch))
    // Work items: whole images when there are enough for every thread, else bands of rows.
    let bands = c.batch >= pool.threads ? 1 : pool.threads
    let items = c.batch * bands, bandRows = (h + bands - 1) / bands
    let chunk = (items + pool.threads - 1) / pool.threads
    pool.forEach(min(pool.threads, items)) { t in
      let (dy, wt, bias, dx, scratch) = box.value
      let padded = scratch + t * imageFloats
      var image = -1
      for item in (t * chunk)..<min(items, (t + 1) * chunk) {
        let n = item / bands, band = item % bands
        if n != image {
          // padded[(co·oh + oy)·pw + margin + ox] = dy[n, co, oy, ox], zero margins.
          image = n
          for row in 0..<(cdy * oh) {
            let d = padded + row * pw, src = dy + n * cdy * oh * ow + row * ow
            d.update(repeating: 0, count: margin)
            var j = 0
            while j + 16 <= ow {
              UnsafeMutableRawPointer(d + margin + j).storeBytes(of: UnsafeRawPointer(src + j).loadUnaligned(as: V.self),
                                                                 as: V.self)
              j += 16
            }
            while j < ow { d[margin + j] = src[j]; j += 1 }
            (d + margin + ow).update(repeating: 0, count: pw - margin - ow)
          }
        }
        for iy in (band * bandRows)..<min(h, (band + 1) * bandRows) {
          let ry = iy % sh, qy = iy / sh
          let ky0 = (ry + c.padH) % sh, dy0 = (ry + c.padH - ky0) / sh
          for rx in 0..<min(sw, wd) {
            let kx0 = (rx + c.padW) % sw, dx0 = (rx + c.padW - kx0) / sw
            let qw = (wd - 1 - rx) / sw + 1
            var b = 0
            while b < (qw + 15) / 16 {
              // Four output channels × 16 or 32 outputs (column phase rx) in registers over every
              // dy channel and tap.
              let two = b + 1 < (qw + 15) / 16, base = margin + b * 16 + dx0
              // Specialised on two blocks or one, and on three output channels (RGB) or four:
              // three skip the fourth channel's multiply-adds (a quarter of them).
              let acc = switch (two, cdx <= 3) {
              case (true, true):
                accumulate(two: true, three: true, padded: padded, wt: wt, c, ky0: ky0, qy: qy, dy0: dy0, kx0: kx0,
                           base: base, pw: pw)
              case (true, false):
                accumulate(two: true, three: false, padded: padded, wt: wt, c, ky0: ky0, qy: qy, dy0: dy0, kx0: kx0,
                           base: base, pw: pw)
              case (false, true):
                accumulate(two: false, three: true, padded: padded, wt: wt, c, ky0: ky0, qy: qy, dy0: dy0, kx0: kx0,
                           base: base, pw: pw)
              case (false, false):
                accumulate(two: false, three: false, padded: padded, wt: wt, c, ky0: ky0, qy: qy, dy0: dy0, kx0: kx0,
                           base: base, pw: pw)
              }
              // dx[n, o, iy, s·qx + rx] = act(acc + bias[o]) for the blocks' qx < qw.
              var accs = acc
              withUnsafeBytes(of: &accs) { raw in
                let f = UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: Float.self))
                for half in 0..<(two ? 2 : 1) {
                  let lanes = min(16, qw - (b + half) * 16)
                  for o in 0..<cdx {
                    let v = f + (half * 4 + o) * 16
                    CPUKernels.applyAffine(count: lanes, scale: 1, shift: bias?[o] ?? 0, act: act, x: UnsafePointer(v), y: v)
                    let dst = dx + ((n * cdx + o) * h + iy) * wd + (b + half) * 16 * sw + rx
                    for l in 0..<lanes { dst[l * sw] = v[l] }
                  }
                }
              }
              b += two ? 2 : 1
            }
          }
        }
      }
    }
  }

  /// Σ over dy channels and the taps of one phase of the dy rows feeding output row s·qy + ry, for
  /// 16 (two: 32) outputs from padded-row offset `base`: four accumulators per 16 outputs, one
  /// per output channel (three: the fourth stays zero).
  @inline(__always)
  static func accumulate(two: Bool, three: Bool, padded: UnsafePointer<Float>, wt: UnsafePointer<Float>, _ c: ConvGeometry,
                         ky0: Int, qy: Int, dy0: Int, kx0: Int, base: Int, pw: Int)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
        SIMD16<Float>) {
    typealias V = SIMD16<Float>
    let kh = c.kernelH, kw = c.kernelW, sh = c.strideH, sw = c.strideW, oh = c.outHeight
    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), b0 = V(), b1 = V(), b2 = V(), b3 = V()
    for co in 0..<c.outChannels {
      var ky = ky0, oy = qy + dy0
      while ky < kh {
        if oy >= 0 && oy < oh {
          let row = UnsafeRawPointer(padded + (co * oh + oy) * pw + base)
          let wr = wt + (co * kh + ky) * kw * 4
          var kx = kx0, off = 0
          while kx < kw {
            let wk = wr + kx * 4
            let w0 = V(repeating: wk[0]), w1 = V(repeating: wk[1]), w2 = V(repeating: wk[2])
            let v = row.loadUnaligned(fromByteOffset: off, as: V.self)
            a0.madd(w0, v); a1.madd(w1, v); a2.madd(w2, v)
            if !three { a3.madd(V(repeating: wk[3]), v) }
            if two {
              let u = row.loadUnaligned(fromByteOffset: off + 64, as: V.self)
              b0.madd(w0, u); b1.madd(w1, u); b2.madd(w2, u)
              if !three { b3.madd(V(repeating: wk[3]), u) }
            }
            kx += sw
            off -= 4
          }
        }
        ky += sh
        oy -= 1
      }
    }
    return (a0, a1, a2, a3, b0, b1, b2, b3)
  }
}
