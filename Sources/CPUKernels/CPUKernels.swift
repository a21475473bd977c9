import CPURuntime
import Compute
import Foundation

typealias P = UnsafePointer<Float>
typealias MP = UnsafeMutablePointer<Float>

/// The CPU implementations of every op other than GEMM. Loops are written so LLVM vectorises them
/// (plain pointer arithmetic, no bounds checks under -Ounchecked) and split over threads where the
/// work is large enough to pay for it.
enum CPUKernels {
  // MARK: - Convolution lowering

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

  // MARK: - Normalisation

  static func batchNorm(_ l: ChannelLayout, eps: Float, act: Activation, x: P, gamma: P, beta: P, mean: P,
                        variance: P, y: MP, pool: ThreadSplitter) {
    let xb = UnsafeSendable(value: x), yb = UnsafeSendable(value: y)
    let pb = UnsafeSendable(value: (gamma, beta, mean, variance))
    pool.forRanges(l.batch * l.channels, grain: max(1, 16384 / max(1, l.spatial))) { r in
      let (gamma, beta, mean, variance) = pb.value
      for t in r {
        let ch = t % l.channels
        let s = gamma[ch] / (variance[ch] + eps).squareRoot()
        let sh = beta[ch] - mean[ch] * s
        let src = xb.value + t * l.spatial, dst = yb.value + t * l.spatial
        applyAffine(count: l.spatial, scale: s, shift: sh, act: act, x: src, y: dst)
      }
    }
  }

  @inline(__always)
  static func applyAffine(count: Int, scale s: Float, shift sh: Float, act: Activation, x: P, y: MP) {
    switch act {
    case .identity: for j in 0..<count { y[j] = x[j] * s + sh }
    case .relu: for j in 0..<count { y[j] = max(x[j] * s + sh, 0) }
    case .leakyRelu(let k):
      for j in 0..<count { let v = x[j] * s + sh; y[j] = v > 0 ? v : v * k }
    case .tanh: for j in 0..<count { y[j] = FastMath.tanh(x[j] * s + sh) }
    case .sigmoid: for j in 0..<count { y[j] = FastMath.sigmoid(x[j] * s + sh) }
    }
  }

  static func batchNormTraining(_ l: ChannelLayout, eps: Float, momentum: Float, x: P, gamma: P, beta: P,
                                runMean: P, runVar: P, y: MP, saveMean: MP, saveInvStd: MP, newMean: MP,
                                newVar: MP, pool: ThreadSplitter) {
    let m = l.batch * l.spatial
    let xb = UnsafeSendable(value: x), yb = UnsafeSendable(value: y)
    let pb = UnsafeSendable(value: (gamma, beta, runMean, runVar, saveMean, saveInvStd, newMean, newVar))
    pool.forRanges(l.channels, grain: max(1, 16384 / max(1, m))) { r in
      let (gamma, beta, runMean, runVar, saveMean, saveInvStd, newMean, newVar) = pb.value
      for ch in r {
        // Two passes in double for a stable variance.
        var sum = 0.0
        for n in 0..<l.batch {
          let s = xb.value + (n * l.channels + ch) * l.spatial
          var acc: Float = 0
          for j in 0..<l.spatial { acc += s[j] }
          sum += Double(acc)
        }
        let mu = sum / Double(m)
        var sq = 0.0
        for n in 0..<l.batch {
          let s = xb.value + (n * l.channels + ch) * l.spatial
          let muf = Float(mu)
          var acc: Float = 0
          for j in 0..<l.spatial { let d = s[j] - muf; acc += d * d }
          sq += Double(acc)
        }
        let variance = sq / Double(m)
        let invStd = Float(1 / (variance + Double(eps)).squareRoot())
        let sc = gamma[ch] * invStd, sh = beta[ch] - Float(mu) * sc
        for n in 0..<l.batch {
          let o = (n * l.channels + ch) * l.spatial
          applyAffine(count: l.spatial, scale: sc, shift: sh, act: .identity, x: xb.value + o, y: yb.value + o)
        }
        let unbiased = m > 1 ? variance * Double(m) / Double(m - 1) : variance
        let rm = runMean[ch], rv = runVar[ch]
        saveMean[ch] = Float(mu)
        saveInvStd[ch] = invStd
        newMean[ch] = (1 - momentum) * rm + momentum * Float(mu)
        newVar[ch] = (1 - momentum) * rv + momentum * Float(unbiased)
      }
    }
  }

  static func batchNormBackward(_ l: ChannelLayout, dy: P, x: P, gamma: P, saveMean: P, saveInvStd: P,
                                dx: MP, dgamma: MP, dbeta: MP, pool: ThreadSplitter) {
    let m = Float(l.batch * l.spatial)
    let b = UnsafeSendable(value: (dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta))
    pool.forRanges(l.channels, grain: max(1, 16384 / max(1, l.batch * l.spatial))) { r in
      let (dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta) = b.value
      for ch in r {
        let mu = saveMean[ch], inv = saveInvStd[ch]
        var sdy: Float = 0, sdyx: Float = 0
        for n in 0..<l.batch {
          let o = (n * l.channels + ch) * l.spatial
          for j in 0..<l.spatial {
            sdy += dy[o + j]
            sdyx += dy[o + j] * (x[o + j] - mu)
          }
        }
        let dbv = sdy, dgv = sdyx * inv
        let k = gamma[ch] * inv
        for n in 0..<l.batch {
          let o = (n * l.channels + ch) * l.spatial
          for j in 0..<l.spatial {
            let xhat = (x[o + j] - mu) * inv
            dx[o + j] = k * (dy[o + j] - dbv / m - xhat * dgv / m)
          }
        }
        dgamma[ch] = dgv
        dbeta[ch] = dbv
      }
    }
  }

  static func batchNormInferenceBackward(_ l: ChannelLayout, eps: Float, dy: P, gamma: P, variance: P, dx: MP,
                                         pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (dy, gamma, variance, dx))
    pool.forRanges(l.batch * l.channels, grain: max(1, 16384 / max(1, l.spatial))) { r in
      let (dy, gamma, variance, dx) = b.value
      for t in r {
        let ch = t % l.channels
        let s = gamma[ch] / (variance[ch] + eps).squareRoot()
        let o = t * l.spatial
        for j in 0..<l.spatial { dx[o + j] = dy[o + j] * s }
      }
    }
  }

  static func biasActivation(_ l: ChannelLayout, act: Activation, x: P, bias: P, y: MP, pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (x, bias, y))
    pool.forRanges(l.batch * l.channels, grain: max(1, 16384 / max(1, l.spatial))) { r in
      let (x, bias, y) = b.value
      for t in r {
        let o = t * l.spatial
        applyAffine(count: l.spatial, scale: 1, shift: bias[t % l.channels], act: act, x: x + o, y: y + o)
      }
    }
  }

  static func channelSum(_ l: ChannelLayout, x: P, out: MP) {
    for ch in 0..<l.channels {
      var acc: Double = 0
      for n in 0..<l.batch {
        let s = x + (n * l.channels + ch) * l.spatial
        var part: Float = 0
        for j in 0..<l.spatial { part += s[j] }
        acc += Double(part)
      }
      out[ch] = Float(acc)
    }
  }

  // MARK: - Activations

  static func activation(_ act: Activation, count: Int, x: P, y: MP, pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (x, y))
    pool.forRanges(count) { r in
      let (x, y) = b.value
      let n = r.count, xs = x + r.lowerBound, ys = y + r.lowerBound
      switch act {
      case .identity: if xs != UnsafePointer(ys) { ys.update(from: xs, count: n) }
      case .relu: for j in 0..<n { ys[j] = max(xs[j], 0) }
      case .leakyRelu(let k): for j in 0..<n { let v = xs[j]; ys[j] = v > 0 ? v : v * k }
      case .tanh: for j in 0..<n { ys[j] = FastMath.tanh(xs[j]) }
      case .sigmoid: for j in 0..<n { ys[j] = FastMath.sigmoid(xs[j]) }
      }
    }
  }

  static func activationBackward(_ act: Activation, count: Int, y: P, dy: P, dx: MP, pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (y, dy, dx))
    pool.forRanges(count) { r in
      let (y, dy, dx) = b.value
      let n = r.count, ys = y + r.lowerBound, gs = dy + r.lowerBound, ds = dx + r.lowerBound
      // One loop per activation so each vectorises (a switch per element does not).
      switch act {
      case .identity: ds.update(from: gs, count: n)
      case .relu: for j in 0..<n { ds[j] = ys[j] > 0 ? gs[j] : 0 }
      case .leakyRelu(let k): for j in 0..<n { ds[j] = ys[j] > 0 ? gs[j] : gs[j] * k }
      case .tanh: for j in 0..<n { ds[j] = gs[j] * (1 - ys[j] * ys[j]) }
      case .sigmoid: for j in 0..<n { ds[j] = gs[j] * ys[j] * (1 - ys[j]) }
      }
    }
  }

  static func prelu(_ l: ChannelLayout, x: P, alpha: P, y: MP, pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (x, alpha, y))
    pool.forRanges(l.batch * l.channels, grain: max(1, 16384 / max(1, l.spatial))) { r in
      let (x, alpha, y) = b.value
      for t in r {
        let a = alpha[t % l.channels], o = t * l.spatial
        for j in 0..<l.spatial { let v = x[o + j]; y[o + j] = v > 0 ? v : a * v }
      }
    }
  }

  static func preluBackward(_ l: ChannelLayout, x: P, alpha: P, dy: P, dx: MP, dalpha: MP, pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (x, alpha, dy, dx, dalpha))
    // By channel, so each thread owns its dalpha entries.
    pool.forRanges(l.channels, grain: max(1, 16384 / max(1, l.batch * l.spatial))) { r in
      let (x, alpha, dy, dx, dalpha) = b.value
      for ch in r {
        let a = alpha[ch]
        var da: Float = 0
        for n in 0..<l.batch {
          let o = (n * l.channels + ch) * l.spatial
          for j in 0..<l.spatial {
            let v = x[o + j], g = dy[o + j]
            let neg = v > 0 ? Float(0) : v
            dx[o + j] = v > 0 ? g : a * g
            da += neg * g
          }
        }
        dalpha[ch] = da
      }
    }
  }

  // MARK: - Pooling

  /// The first maximum (row-major) of one window of plane `x`: (index in the plane, value).
  @inline(__always)
  static func poolArgmax(_ c: ConvGeometry, _ x: P, oy: Int, ox: Int) -> (Int, Float) {
    var best = -Float.infinity, at = -1
    let y0 = oy * c.strideH - c.padH, x0 = ox * c.strideW - c.padW
    for iy in max(0, y0)..<min(c.inHeight, y0 + c.kernelH) {
      for ix in max(0, x0)..<min(c.inWidth, x0 + c.kernelW) {
        let v = x[iy * c.inWidth + ix]
        if v > best || at < 0 { best = v; at = iy * c.inWidth + ix }
      }
    }
    return (at, best)
  }

  static func maxPool(_ c: ConvGeometry, x: P, y: MP, pool: ThreadSplitter) {
    let planes = c.batch * c.inChannels, hw = c.inHeight * c.inWidth, ohw = c.outPixels
    let b = UnsafeSendable(value: (x, y))
    pool.forRanges(planes, grain: max(1, 4096 / max(1, hw))) { r in
      let (x, y) = b.value
      for p in r {
        for oy in 0..<c.outHeight {
          for ox in 0..<c.outWidth {
            y[p * ohw + oy * c.outWidth + ox] = poolArgmax(c, x + p * hw, oy: oy, ox: ox).1
          }
        }
      }
    }
  }

  /// dx = 0, then each window's dy added at its argmax (planes in parallel, windows in order).
  static func maxPoolBackward(_ c: ConvGeometry, x: P, dy: P, dx: MP, pool: ThreadSplitter) {
    let planes = c.batch * c.inChannels, hw = c.inHeight * c.inWidth, ohw = c.outPixels
    let b = UnsafeSendable(value: (x, dy, dx))
    pool.forRanges(planes, grain: max(1, 4096 / max(1, hw))) { r in
      let (x, dy, dx) = b.value
      for p in r {
        (dx + p * hw).update(repeating: 0, count: hw)
        for oy in 0..<c.outHeight {
          for ox in 0..<c.outWidth {
            let at = poolArgmax(c, x + p * hw, oy: oy, ox: ox).0
            dx[p * hw + at] += dy[p * ohw + oy * c.outWidth + ox]
          }
        }
      }
    }
  }

  // MARK: - Layout

  /// Pixel shuffle: y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w] (inverse swaps roles).
  /// Pixel shuffle (depth to space): y[b, ch, yy·r + i, xx·r + j] = x[b, ch·r² + i·r + j, yy, xx];
  /// `inverse`, space to depth (x and y in the same roles: the shuffled tensor is x). One output
  /// row at a time, interleaving the r source rows that make it (r = 2, SRResNet's: eight columns
  /// of each as one 16-wide store or load), planes split over the threads. (Written
  /// sub-plane by sub-plane with stride-r scalar stores and on one thread, SR_fwd_b1's
  /// 256 × 128 × 128 shuffle took 4.6 ms.)
  static func depthToSpace(n: Int, c: Int, h: Int, w: Int, r: Int, x: P, y: MP, inverse: Bool, pool: ThreadSplitter) {
    let oh = h * r, ow = w * r
    let box = UnsafeSendable(value: (x, y))
    pool.forRanges(n * c, grain: max(1, 4096 / max(1, oh * ow))) { planes in
      let (x, y) = box.value
      for p in planes {
        let packed = p * r * r * h * w, shuffled = p * oh * ow
        for yy in 0..<h {
          for i in 0..<r {
            let row = shuffled + (yy * r + i) * ow, src = packed + i * r * h * w + yy * w
            var xx = 0
            if r == 2 {
              let s0 = src, s1 = src + h * w
              while xx + 8 <= w {
                if inverse {
                  let v = UnsafeRawPointer(x + row + 2 * xx).loadUnaligned(as: SIMD16<Float>.self)
                  UnsafeMutableRawPointer(y + s0 + xx).storeBytes(
                    of: SIMD8(v[0], v[2], v[4], v[6], v[8], v[10], v[12], v[14]), as: SIMD8<Float>.self)
                  UnsafeMutableRawPointer(y + s1 + xx).storeBytes(
                    of: SIMD8(v[1], v[3], v[5], v[7], v[9], v[11], v[13], v[15]), as: SIMD8<Float>.self)
                } else {
                  let a = UnsafeRawPointer(x + s0 + xx).loadUnaligned(as: SIMD8<Float>.self)
                  let b = UnsafeRawPointer(x + s1 + xx).loadUnaligned(as: SIMD8<Float>.self)
                  UnsafeMutableRawPointer(y + row + 2 * xx).storeBytes(
                    of: SIMD16(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3],
                               a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7]), as: SIMD16<Float>.self)
                }
                xx += 8
              }
            }
            for x0 in xx..<w {
              for j in 0..<r {
                let d = row + x0 * r + j, sIdx = src + j * h * w + x0
                if inverse { y[sIdx] = x[d] } else { y[d] = x[sIdx] }
              }
            }
          }
        }
      }
    }
  }

  // MARK: - Element-wise and reductions

  enum Binary { case add, mul, axpy(Float) }

  static func scale(count: Int, alpha: Float, beta: Float, x: P, y: MP, pool: ThreadSplitter) {
    let b = UnsafeSendable(value: (x, y))
    pool.forRanges(count) { r in
      let (x, y) = b.value
      let n = r.count, xs = x + r.lowerBound, ys = y + r.lowerBound
      for j in 0..<n { ys[j] = alpha * xs[j] + beta }
    }
  }

  static func binary(_ op: Binary, count: Int, a: P, b: P, y: MP, pool: ThreadSplitter) {
    let bx = UnsafeSendable(value: (a, b, y))
    pool.forRanges(count) { r in
      let (a, b, y) = bx.value
      let n = r.count, as_ = a + r.lowerBound, bs = b + r.lowerBound, ys = y + r.lowerBound
      switch op {
      case .add: for j in 0..<n { ys[j] = as_[j] + bs[j] }
      case .mul: for j in 0..<n { ys[j] = as_[j] * bs[j] }
      case .axpy(let alpha): for j in 0..<n { ys[j] = alpha * as_[j] + bs[j] }
      }
    }
  }

  static func rowSum(rows: Int, cols: Int, mean: Bool, x: P, y: MP) {
    for r in 0..<rows {
      let s = x + r * cols
      var acc: Double = 0
      var j = 0
      while j < cols {
        let e = min(cols, j + 4096)
        var part: Float = 0
        for t in j..<e { part += s[t] }
        acc += Double(part)
        j = e
      }
      y[r] = Float(mean && cols > 0 ? acc / Double(cols) : acc)
    }
  }

  // MARK: - Optimisation

  static func adam(count: Int, beta1: Float, beta2: Float, limit: Float, param: P, grad: P, m: P, v: P, hyper: P,
                   outParam: MP, outM: MP, outV: MP) {
    let a = hyper[0], e = hyper[1]
    for j in 0..<count {
      let g = grad[j]
      let mj = beta1 * m[j] + (1 - beta1) * g
      let vj = beta2 * v[j] + (1 - beta2) * g * g
      let p = param[j] - a * mj / (vj.squareRoot() + e)
      outM[j] = mj
      outV[j] = vj
      outParam[j] = min(limit, max(-limit, p))
    }
  }

  // MARK: - Losses

  static func weightedL1(samples: Int, count: Int, pred: P, target: P, weight: P, loss: MP) {
    for s in 0..<samples {
      let o = s * count
      var acc: Float = 0
      for j in 0..<count { acc += weight[o + j] * abs(pred[o + j] - target[o + j]) }
      loss[s] = acc
    }
  }

  static func weightedL1Backward(samples: Int, count: Int, pred: P, target: P, weight: P, dloss: P, dpred: MP) {
    for s in 0..<samples {
      let o = s * count, g = dloss[s]
      for j in 0..<count {
        let d = pred[o + j] - target[o + j]
        dpred[o + j] = d > 0 ? g * weight[o + j] : (d < 0 ? -g * weight[o + j] : 0)
      }
    }
  }

  static func mse(samples: Int, count: Int, pred: P, target: P, loss: MP) {
    for s in 0..<samples {
      let o = s * count
      var acc: Float = 0
      for j in 0..<count { let d = pred[o + j] - target[o + j]; acc += d * d }
      loss[s] = count > 0 ? acc / Float(count) : 0
    }
  }

  static func mseBackward(samples: Int, count: Int, pred: P, target: P, dloss: P, dpred: MP) {
    for s in 0..<samples {
      let o = s * count, g = 2 * dloss[s] / Float(max(count, 1))
      for j in 0..<count { dpred[o + j] = g * (pred[o + j] - target[o + j]) }
    }
  }

  /// softplus(l) − t·l = max(l, 0) − t·l + log1p(exp(−|l|))
  static func bceWithLogits(samples: Int, count: Int, logits: P, target: P, loss: MP) {
    for s in 0..<samples {
      let o = s * count
      var acc: Float = 0
      for j in 0..<count {
        let l = logits[o + j], t = target[o + j]
        acc += max(l, 0) - t * l + log1pf(expf(-abs(l)))
      }
      loss[s] = count > 0 ? acc / Float(count) : 0
    }
  }

  static func bceWithLogitsBackward(samples: Int, count: Int, logits: P, target: P, dloss: P, dlogits: MP) {
    for s in 0..<samples {
      let o = s * count, g = dloss[s] / Float(max(count, 1))
      for j in 0..<count {
        let sig = 1 / (1 + expf(-logits[o + j]))
        dlogits[o + j] = g * (sig - target[o + j])
      }
    }
  }
}
