import Compute
import Foundation

/// Naive float64 implementations of every op: the ground truth `CPUDevice` is checked against.
/// Written for clarity, straight from each op's definition, with no lowering, blocking or fusion.
public enum Reference {
  /// A convolution epilogue, straight from `ConvEpilogue`'s definition: pixel shuffle of the
  /// [n, c, h, w] result, then PReLU per shuffled channel, + residual, alpha·v + beta.
  static func epilogue(_ e: ConvEpilogue, _ v: [Double], _ s: [Int], _ extra: [[Double]]) -> [Double] {
    if e.isNone { return v }
    let r = e.shuffle, (n, c, h, w) = (s[0], s[1] / (r * r), s[2] * r, s[3] * r)
    var out = [Double](repeating: 0, count: v.count)
    for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
      let dst = ((b * c + ch) * h + y) * w + x
      let src = ((b * c * r * r + ch * r * r + (y % r) * r + (x % r)) * s[2] + y / r) * s[3] + x / r
      var t = v[src]
      if e.prelu && t <= 0 { t *= extra[0][ch] }
      if e.residual { t += extra[e.prelu ? 1 : 0][dst] }
      out[dst] = Double(e.alpha) * t + Double(e.beta)
    } } } }
    return out
  }

  /// Runs `op` on float64 copies of `inputs`; returns one array per output.
  public static func run(_ op: Op, _ inputs: [[Double]]) -> [[Double]] {
    var outs = op.outputCounts.map { [Double](repeating: 0, count: $0) }
    let i = inputs
    switch op {
    case .gemm(let g):
      outs[0] = g.beta != 0 ? i[2] : [Double](repeating: 0, count: g.extentC)
      for b in 0..<g.batch {
        for r in 0..<g.m {
          for c in 0..<g.n {
            var acc = 0.0
            for k in 0..<g.k {
              let a = g.transA ? i[0][b * g.strideA + k * g.lda + r] : i[0][b * g.strideA + r * g.lda + k]
              let bb = g.transB ? i[1][b * g.strideB + c * g.ldb + k] : i[1][b * g.strideB + k * g.ldb + c]
              acc += a * bb
            }
            let idx = b * g.strideC + r * g.ldc + c
            outs[0][idx] = Double(g.alpha) * acc + (g.beta != 0 ? Double(g.beta) * outs[0][idx] : 0)
          }
        }
      }
    case .conv2d(let c, let bias, let act, let e):
      outs[0] = conv(c, x: i[0], w: i[1])
      if bias || act != .identity {
        let l = ChannelLayout(batch: c.batch, channels: c.outChannels, spatial: c.outPixels)
        outs[0] = biasAct(l, outs[0], bias ? i[2] : nil, act)
      }
      outs[0] = epilogue(e, outs[0], [c.batch, c.outChannels, c.outHeight, c.outWidth], Array(i.dropFirst(bias ? 3 : 2)))
    case .conv2dBackwardData(let c, let bias, let act, let e):
      outs[0] = convBackwardData(c, dy: i[0], w: i[1])
      if bias || act != .identity {
        let l = ChannelLayout(batch: c.batch, channels: c.inChannels, spatial: c.inHeight * c.inWidth)
        outs[0] = biasAct(l, outs[0], bias ? i[2] : nil, act)
      }
      outs[0] = epilogue(e, outs[0], [c.batch, c.inChannels, c.inHeight, c.inWidth], Array(i.dropFirst(bias ? 3 : 2)))
    case .conv2dBackwardFilter(let c, let acc):
      outs[0] = convBackwardFilter(c, x: i[0], dy: i[1])
      if acc { for j in outs[0].indices { outs[0][j] += i[2][j] } }
    case .im2col(let c, let t):
      let images = t.images, tileCols = t.rows * c.outWidth
      for img in 0..<images {
        for ci in 0..<c.inChannels {
          for ky in 0..<c.kernelH {
            for kx in 0..<c.kernelW {
              let row = (ci * c.kernelH + ky) * c.kernelW + kx
              for oy in t.rowStart..<(t.rowStart + t.rows) {
                for ox in 0..<c.outWidth {
                  let iy = oy * c.strideH - c.padH + ky, ix = ox * c.strideW - c.padW + kx
                  let v = (iy >= 0 && iy < c.inHeight && ix >= 0 && ix < c.inWidth)
                    ? i[0][((img * c.inChannels + ci) * c.inHeight + iy) * c.inWidth + ix] : 0
                  outs[0][row * images * tileCols + img * tileCols + (oy - t.rowStart) * c.outWidth + ox] = v
                }
              }
            }
          }
        }
      }
    case .col2im(let c, let t):
      let images = t.images, tileCols = t.rows * c.outWidth
      if t.accumulate { outs[0] = i[1] }
      for img in 0..<images {
        for ci in 0..<c.inChannels {
          for ky in 0..<c.kernelH {
            for kx in 0..<c.kernelW {
              let row = (ci * c.kernelH + ky) * c.kernelW + kx
              for oy in t.rowStart..<(t.rowStart + t.rows) {
                for ox in 0..<c.outWidth {
                  let iy = oy * c.strideH - c.padH + ky, ix = ox * c.strideW - c.padW + kx
                  if iy >= 0 && iy < c.inHeight && ix >= 0 && ix < c.inWidth {
                    outs[0][((img * c.inChannels + ci) * c.inHeight + iy) * c.inWidth + ix] +=
                      i[0][row * images * tileCols + img * tileCols + (oy - t.rowStart) * c.outWidth + ox]
                  }
                }
              }
            }
          }
        }
      }
    case .transposeBlocks(let a, let b, let n):
      for x in 0..<a { for y in 0..<b { for k in 0..<n { outs[0][(y * a + x) * n + k] = i[0][(x * b + y) * n + k] } } }
    case .batchNorm(let l, let eps, let act):
      for t in 0..<(l.batch * l.channels) {
        let ch = t % l.channels
        for j in 0..<l.spatial {
          let v = (i[0][t * l.spatial + j] - i[3][ch]) / (i[4][ch] + Double(eps)).squareRoot() * i[1][ch] + i[2][ch]
          outs[0][t * l.spatial + j] = apply(act, v)
        }
      }
    case .batchNormTraining(let l, let eps, let momentum):
      let m = Double(l.batch * l.spatial)
      for ch in 0..<l.channels {
        var s = 0.0
        forChannel(l, ch) { s += i[0][$0] }
        let mu = s / m
        var q = 0.0
        forChannel(l, ch) { q += (i[0][$0] - mu) * (i[0][$0] - mu) }
        let v = q / m
        let inv = 1 / (v + Double(eps)).squareRoot()
        forChannel(l, ch) { outs[0][$0] = (i[0][$0] - mu) * inv * i[1][ch] + i[2][ch] }
        outs[1][ch] = mu
        outs[2][ch] = inv
        let mom = Double(momentum)
        outs[3][ch] = (1 - mom) * i[3][ch] + mom * mu
        outs[4][ch] = (1 - mom) * i[4][ch] + mom * (m > 1 ? v * m / (m - 1) : v)
      }
    case .batchNormBackward(let l):
      let m = Double(l.batch * l.spatial)
      for ch in 0..<l.channels {
        let mu = i[3][ch], inv = i[4][ch]
        var sdy = 0.0, sdyx = 0.0
        forChannel(l, ch) { sdy += i[0][$0]; sdyx += i[0][$0] * (i[1][$0] - mu) * inv }
        forChannel(l, ch) {
          let xhat = (i[1][$0] - mu) * inv
          outs[0][$0] = i[2][ch] * inv * (i[0][$0] - sdy / m - xhat * sdyx / m)
        }
        outs[1][ch] = sdyx
        outs[2][ch] = sdy
      }
    case .batchNormInferenceBackward(let l, let eps):
      for t in 0..<(l.batch * l.channels) {
        let ch = t % l.channels
        for j in 0..<l.spatial {
          outs[0][t * l.spatial + j] = i[0][t * l.spatial + j] * i[1][ch] / (i[2][ch] + Double(eps)).squareRoot()
        }
      }
    case .biasActivation(let l, let act):
      outs[0] = biasAct(l, i[0], i[1], act)
    case .channelSum(let l):
      for ch in 0..<l.channels { forChannel(l, ch) { outs[0][ch] += i[0][$0] } }
    case .activation(let act, let n):
      for j in 0..<n { outs[0][j] = apply(act, i[0][j]) }
    case .activationBackward(let act, let n):
      for j in 0..<n { outs[0][j] = i[1][j] * derivative(act, output: i[0][j]) }
    case .prelu(let l):
      for t in 0..<(l.batch * l.channels) {
        for j in 0..<l.spatial {
          let v = i[0][t * l.spatial + j]
          outs[0][t * l.spatial + j] = v > 0 ? v : i[1][t % l.channels] * v
        }
      }
    case .preluBackward(let l):
      for t in 0..<(l.batch * l.channels) {
        let ch = t % l.channels
        for j in 0..<l.spatial {
          let k = t * l.spatial + j, v = i[0][k], g = i[2][k]
          outs[0][k] = v > 0 ? g : i[1][ch] * g
          if v <= 0 { outs[1][ch] += v * g }
        }
      }
    case .maxPool(let c), .maxPoolBackward(let c):
      // Each (n, c) plane is a one-channel convolution's taps; the first maximum in tap order
      // (row-major within the window) wins.
      let planes = ConvGeometry(batch: c.batch * c.inChannels, inChannels: 1, inHeight: c.inHeight, inWidth: c.inWidth,
                                outChannels: 1, kernel: (c.kernelH, c.kernelW), stride: (c.strideH, c.strideW),
                                padding: (c.padH, c.padW), paddingEnd: (c.padBottom, c.padRight))
      var best = [Double](repeating: -.infinity, count: c.batch * c.outChannels * c.outPixels)
      var at = [Int](repeating: -1, count: best.count)
      forEachTap(planes) { xi, _, yi in
        if i[0][xi] > best[yi] { best[yi] = i[0][xi]; at[yi] = xi }
      }
      if case .maxPool = op {
        outs[0] = best
      } else {
        for (yi, xi) in at.enumerated() { outs[0][xi] += i[1][yi] }
      }
    case .depthToSpace(let n, let c, let h, let w, let r), .spaceToDepth(let n, let c, let h, let w, let r):
      let inverse: Bool
      if case .spaceToDepth = op { inverse = true } else { inverse = false }
      for b in 0..<n {
        for ch in 0..<c {
          for y in 0..<(h * r) {
            for x in 0..<(w * r) {
              let big = ((b * c + ch) * h * r + y) * w * r + x
              let small = ((b * c * r * r + ch * r * r + (y % r) * r + (x % r)) * h + y / r) * w + x / r
              if inverse { outs[0][small] = i[0][big] } else { outs[0][big] = i[0][small] }
            }
          }
        }
      }
    case .add(let n): for j in 0..<n { outs[0][j] = i[0][j] + i[1][j] }
    case .mul(let n): for j in 0..<n { outs[0][j] = i[0][j] * i[1][j] }
    case .scale(let n, let a, let b): for j in 0..<n { outs[0][j] = Double(a) * i[0][j] + Double(b) }
    case .axpy(let n, let a): for j in 0..<n { outs[0][j] = Double(a) * i[0][j] + i[1][j] }
    case .rowSum(let rows, let cols, let mean):
      for r in 0..<rows {
        let s = i[0][(r * cols)..<((r + 1) * cols)].reduce(0, +)
        outs[0][r] = mean && cols > 0 ? s / Double(cols) : s
      }
    case .adam(let n, let b1, let b2, let limit):
      let (a, e) = (i[4][0], i[4][1])
      for j in 0..<n {
        let g = i[1][j]
        let m = Double(b1) * i[2][j] + (1 - Double(b1)) * g
        let v = Double(b2) * i[3][j] + (1 - Double(b2)) * g * g
        let p = i[0][j] - a * m / (v.squareRoot() + e)
        outs[0][j] = min(Double(limit), max(-Double(limit), p))
        outs[1][j] = m
        outs[2][j] = v
      }
    case .weightedL1(let s, let n):
      for b in 0..<s { for j in 0..<n { let k = b * n + j; outs[0][b] += i[2][k] * abs(i[0][k] - i[1][k]) } }
    case .weightedL1Backward(let s, let n):
      for b in 0..<s {
        for j in 0..<n {
          let k = b * n + j, d = i[0][k] - i[1][k]
          outs[0][k] = i[3][b] * i[2][k] * (d > 0 ? 1 : (d < 0 ? -1 : 0))
        }
      }
    case .mse(let s, let n):
      for b in 0..<s { for j in 0..<n { let k = b * n + j; outs[0][b] += (i[0][k] - i[1][k]) * (i[0][k] - i[1][k]) / Double(n) } }
    case .mseBackward(let s, let n):
      for b in 0..<s { for j in 0..<n { let k = b * n + j; outs[0][k] = i[2][b] * 2 * (i[0][k] - i[1][k]) / Double(n) } }
    case .bceWithLogits(let s, let n):
      for b in 0..<s {
        for j in 0..<n {
          // −(t·log σ(l) + (1−t)·log(1−σ(l))), written in the overflow-free form (the naive one
          // loses all digits of 1 − σ(l) for |l| ≳ 30 even in double).
          let k = b * n + j, l = i[0][k], t = i[1][k]
          outs[0][b] += (max(l, 0) - t * l + log1p(exp(-abs(l)))) / Double(n)
        }
      }
    case .bceWithLogitsBackward(let s, let n):
      for b in 0..<s {
        for j in 0..<n {
          let k = b * n + j
          outs[0][k] = i[2][b] * (1 / (1 + exp(-i[0][k])) - i[1][k]) / Double(n)
        }
      }
    }
    return outs
  }

  static func forChannel(_ l: ChannelLayout, _ ch: Int, _ body: (Int) -> Void) {
    for n in 0..<l.batch { for j in 0..<l.spatial { body((n * l.channels + ch) * l.spatial + j) } }
  }

  public static func apply(_ a: Activation, _ x: Double) -> Double {
    switch a {
    case .identity: return x
    case .relu: return max(x, 0)
    case .leakyRelu(let s): return x > 0 ? x : Double(s) * x
    case .tanh: return Foundation.tanh(x)
    case .sigmoid: return 1 / (1 + exp(-x))
    }
  }

  static func derivative(_ a: Activation, output y: Double) -> Double {
    switch a {
    case .identity: return 1
    case .relu: return y > 0 ? 1 : 0
    case .leakyRelu(let s): return y > 0 ? 1 : Double(s)
    case .tanh: return 1 - y * y
    case .sigmoid: return y * (1 - y)
    }
  }

  static func biasAct(_ l: ChannelLayout, _ x: [Double], _ bias: [Double]?, _ act: Activation) -> [Double] {
    var y = x
    for t in 0..<(l.batch * l.channels) {
      let b = bias?[t % l.channels] ?? 0
      for j in 0..<l.spatial { y[t * l.spatial + j] = apply(act, x[t * l.spatial + j] + b) }
    }
    return y
  }

  /// Direct convolution: y[n, o, oy, ox] = Σ_{c, ky, kx} x[n, c, oy·s − p + ky, ox·s − p + kx] · w[o, c, ky, kx]
  static func conv(_ c: ConvGeometry, x: [Double], w: [Double]) -> [Double] {
    var y = [Double](repeating: 0, count: c.batch * c.outChannels * c.outPixels)
    forEachTap(c) { xi, wi, yi in y[yi] += x[xi] * w[wi] }
    return y
  }

  static func convBackwardData(_ c: ConvGeometry, dy: [Double], w: [Double]) -> [Double] {
    var dx = [Double](repeating: 0, count: c.batch * c.inChannels * c.inHeight * c.inWidth)
    forEachTap(c) { xi, wi, yi in dx[xi] += dy[yi] * w[wi] }
    return dx
  }

  static func convBackwardFilter(_ c: ConvGeometry, x: [Double], dy: [Double]) -> [Double] {
    var dw = [Double](repeating: 0, count: c.outChannels * c.patchSize)
    forEachTap(c) { xi, wi, yi in dw[wi] += dy[yi] * x[xi] }
    return dw
  }

  /// Calls body(x index, w index, y index) for every multiply of the convolution that lands inside
  /// the (unpadded) input.
  static func forEachTap(_ c: ConvGeometry, _ body: (Int, Int, Int) -> Void) {
    for n in 0..<c.batch {
      for o in 0..<c.outChannels {
        for oy in 0..<c.outHeight {
          for ox in 0..<c.outWidth {
            let yi = ((n * c.outChannels + o) * c.outHeight + oy) * c.outWidth + ox
            for ci in 0..<c.inChannels {
              for ky in 0..<c.kernelH {
                let iy = oy * c.strideH - c.padH + ky
                if iy < 0 || iy >= c.inHeight { continue }
                for kx in 0..<c.kernelW {
                  let ix = ox * c.strideW - c.padW + kx
                  if ix < 0 || ix >= c.inWidth { continue }
                  body(((n * c.inChannels + ci) * c.inHeight + iy) * c.inWidth + ix,
                       ((o * c.inChannels + ci) * c.kernelH + ky) * c.kernelW + kx, yi)
                }
              }
            }
          }
        }
      }
    }
  }
}
