import CPURuntime
import Compute
import Foundation

// Max pooling, forward and backward.
extension CPUKernels {
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
}
