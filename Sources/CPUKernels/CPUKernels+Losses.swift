import CPURuntime
import Compute
import Foundation

// Adam and the training losses (weighted L1, MSE, BCE with logits), forward and backward.
extension CPUKernels {
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
