import CPURuntime
import Compute
import Foundation

// Pixel shuffle (depth to space) and its inverse.
extension CPUKernels {
  /// Pixel shuffle (depth to space): y[b, ch, yy·r + i, xx·r + j] = x[b, ch·r² + i·r + j, yy, xx];
  /// `inverse`, space to depth (x and y in the same roles: the shuffled tensor is x). One output
  /// row at a time, interleaving the r source rows that make it (r = 2, SRResNet's: eight columns
  /// of each as one 16-wide store or load), planes split over the threads. (Sub-plane
  /// by sub-plane with stride-r scalar stores on one thread, SR_fwd_b1's 256 × 128 × 128 shuffle
  /// takes 4.6 ms.)
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
}
