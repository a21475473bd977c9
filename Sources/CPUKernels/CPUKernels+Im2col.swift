import CPURuntime
import Compute
import Foundation

// Convolution lowering: im2col / col2im between NCHW images and patch matrices, and block transposes.
extension CPUKernels {
  static func im2col(_ c: ConvGeometry, _ t: PatchTile, x: P, col: MP, pool: ThreadSplitter) {
    let ow = c.outWidth, h = c.inHeight, w = c.inWidth
    let tw = t.rows * ow, ldCol = t.images * tw, images = t.images
    let xb = UnsafeSendable(value: x), cb = UnsafeSendable(value: col)
    // One task per input channel: writes rows [ci·kh·kw ..< (ci+1)·kh·kw] of col.
    pool.forRanges(c.inChannels, grain: max(1, 4096 / max(1, c.kernelH * c.kernelW * ldCol))) { chans in
      let x = xb.value, col = cb.value
      for ci in chans {
        for ky in 0..<c.kernelH {
          for kx in 0..<c.kernelW {
            let row = (ci * c.kernelH + ky) * c.kernelW + kx
            // Output columns whose input x stays inside the image, for this kx.
            let lo = min(ow, max(0, (c.padW - kx + c.strideW - 1) / c.strideW))
            let hi = max(lo, min(ow, (w + c.padW - kx + c.strideW - 1) / c.strideW))
            for img in 0..<images {
              let src = x + (img * c.inChannels + ci) * h * w
              let dst = col + row * ldCol + img * tw
              for oy in t.rowStart..<(t.rowStart + t.rows) {
                let iy = oy * c.strideH - c.padH + ky
                let d = dst + (oy - t.rowStart) * ow
                if iy < 0 || iy >= h {
                  d.update(repeating: 0, count: ow)
                  continue
                }
                let s = src + iy * w
                if lo > 0 { d.update(repeating: 0, count: lo) }
                if c.strideW == 1 {
                  if hi > lo { (d + lo).update(from: s + (lo - c.padW + kx), count: hi - lo) }
                } else {
                  var ix = lo * c.strideW - c.padW + kx
                  for ox in lo..<hi {
                    d[ox] = s[ix]
                    ix += c.strideW
                  }
                }
                if hi < ow { (d + hi).update(repeating: 0, count: ow - hi) }
              }
            }
          }
        }
      }
    }
  }

  /// One output row of col2im for kernel width 4, stride 2, padding 1: d[2ox] += s1[ox] + s3[ox−1],
  /// d[2ox+1] += s0[ox+1] + s2[ox], where s_k = s0 + k·ld is the col row of kx = k (terms outside
  /// 0..<ow are zero: the padding). ow is a multiple of 4; reads one element before s3 and after s0
  /// (inside the neighbouring col rows, and masked).
  @inline(__always)
  static func col2imPairs(s0: P, ld: Int, ow: Int, d: MP) {
    let s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld
    var ox = 0
    while ox + 8 <= ow {
      typealias V = SIMD8<Float>
      var a = UnsafeRawPointer(s3 + ox - 1).loadUnaligned(as: V.self)
      var b = UnsafeRawPointer(s0 + ox + 1).loadUnaligned(as: V.self)
      if ox == 0 { a[0] = 0 }
      if ox + 8 == ow { b[7] = 0 }
      let e = UnsafeRawPointer(s1 + ox).loadUnaligned(as: V.self) + a
      let o = UnsafeRawPointer(s2 + ox).loadUnaligned(as: V.self) + b
      let pairs = SIMD16<Float>(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3], e[4], o[4], e[5], o[5], e[6], o[6], e[7], o[7])
      let dp = UnsafeMutableRawPointer(d + 2 * ox)
      dp.storeBytes(of: dp.loadUnaligned(as: SIMD16<Float>.self) + pairs, as: SIMD16<Float>.self)
      ox += 8
    }
    while ox + 4 <= ow {
      typealias V = SIMD4<Float>
      var a = UnsafeRawPointer(s3 + ox - 1).loadUnaligned(as: V.self)
      var b = UnsafeRawPointer(s0 + ox + 1).loadUnaligned(as: V.self)
      if ox == 0 { a[0] = 0 }
      if ox + 4 == ow { b[3] = 0 }
      let e = UnsafeRawPointer(s1 + ox).loadUnaligned(as: V.self) + a
      let o = UnsafeRawPointer(s2 + ox).loadUnaligned(as: V.self) + b
      let pairs = SIMD8<Float>(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3])
      let dp = UnsafeMutableRawPointer(d + 2 * ox)
      dp.storeBytes(of: dp.loadUnaligned(as: SIMD8<Float>.self) + pairs, as: SIMD8<Float>.self)
      ox += 4
    }
  }

  static func col2im(_ c: ConvGeometry, _ t: PatchTile, col: P, x: MP, pool: ThreadSplitter) {
    let ow = c.outWidth, h = c.inHeight, w = c.inWidth
    let tw = t.rows * ow, ldCol = t.images * tw, images = t.images
    let xb = UnsafeSendable(value: x), cb = UnsafeSendable(value: col)
    let pairs = c.kernelW == 4 && c.strideW == 2 && c.padW == 1 && w == 2 * ow && ow % 4 == 0
    // Each input channel gathers only from its own col rows, so channels are independent.
    pool.forRanges(c.inChannels, grain: 1) { chans in
      let x = xb.value, col = cb.value
      for ci in chans {
        for img in 0..<images {
          let dst = x + (img * c.inChannels + ci) * h * w
          if !t.accumulate { dst.update(repeating: 0, count: h * w) }
          if pairs {
            // 4 wide, stride 2, padding 1 (every DCGAN layer): output pair (2ox, 2ox+1) of a row
            // receives kx = 1, 3 (from ox, ox−1) and kx = 0, 2 (from ox+1, ox): four contiguous
            // col rows, summed and interleaved 8 or 4 pairs at a time.
            for ky in 0..<c.kernelH {
              let row = (ci * c.kernelH + ky) * 4
              let base = col + row * ldCol + img * tw
              for oy in t.rowStart..<(t.rowStart + t.rows) {
                let iy = oy * c.strideH - c.padH + ky
                if iy < 0 || iy >= h { continue }
                let s0 = base + (oy - t.rowStart) * ow
                col2imPairs(s0: s0, ld: ldCol, ow: ow, d: dst + iy * w)
              }
            }
            continue
          }
          for ky in 0..<c.kernelH {
            for kx in 0..<c.kernelW {
              let row = (ci * c.kernelH + ky) * c.kernelW + kx
              let src = col + row * ldCol + img * tw
              let lo = min(ow, max(0, (c.padW - kx + c.strideW - 1) / c.strideW))
              let hi = max(lo, min(ow, (w + c.padW - kx + c.strideW - 1) / c.strideW))
              for oy in t.rowStart..<(t.rowStart + t.rows) {
                let iy = oy * c.strideH - c.padH + ky
                if iy < 0 || iy >= h { continue }
                let d = dst + iy * w
                let s = src + (oy - t.rowStart) * ow
                if c.strideW == 1 {
                  let dd = d + (lo - c.padW + kx)
                  for ox in 0..<(hi - lo) { dd[ox] += s[lo + ox] }
                } else {
                  var ix = lo * c.strideW - c.padW + kx
                  for ox in lo..<hi {
                    d[ix] += s[ox]
                    ix += c.strideW
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  static func transposeBlocks(a: Int, b: Int, inner: Int, x: P, y: MP, pool: ThreadSplitter) {
    let xb = UnsafeSendable(value: x), yb = UnsafeSendable(value: y)
    pool.forRanges(a * b, grain: max(1, 16384 / max(1, inner))) { r in
      for t in r {
        let i = t / b, j = t % b
        (yb.value + (j * a + i) * inner).update(from: xb.value + (i * b + j) * inner, count: inner)
      }
    }
  }
}
