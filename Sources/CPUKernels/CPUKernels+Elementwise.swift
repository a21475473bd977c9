import CPURuntime
import Compute
import Foundation

// Element-wise arithmetic and row reductions.
extension CPUKernels {
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
}
