import CPURuntime
import Compute
import Foundation

// Batch normalisation (inference, training, backward), bias + activation, per-channel sums.
extension CPUKernels {
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
}
