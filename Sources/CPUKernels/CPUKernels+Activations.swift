import CPURuntime
import Compute
import Foundation

// Activations and PReLU, forward and backward.
extension CPUKernels {
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
}
