import Foundation
import Imaging

/// How the generated pixels enter the hole.
public enum BlendMode: String, Sendable, CaseIterable {
  /// Poisson (gradient-domain) blending: inside the hole, keep the generated image's gradients and
  /// match the known pixels on the hole's boundary.
  case poisson
  /// Generated pixels inside the hole, known pixels outside.
  case alpha
  /// The generated image as is.
  case none
}

public enum Blend {
  public struct Report: Sendable {
    public let iterations: Int
    public let residual: Float
  }

  /// Blends `source` into `target` inside `mask`. Known pixels are returned bit-identical.
  public static func blend(source: Image, into target: Image, mask: Mask, mode: BlendMode,
                           tolerance: Float = 1e-5, maxIterations: Int = 20000) -> (Image, Report?) {
    precondition(source.width == target.width && source.height == target.height && source.channels == target.channels)
    switch mode {
    case .none: return (source, nil)
    case .alpha:
      var out = target
      let n = target.width * target.height
      for c in 0..<target.channels { for i in 0..<n where mask.missing[i] { out.data[c * n + i] = source.data[c * n + i] } }
      return (out, nil)
    case .poisson: return poisson(source: source, target: target, mask: mask, tolerance: tolerance, maxIterations: maxIterations)
    }
  }

  /// Solves Δf = Δg on the hole Ω with f = target on ∂Ω (Pérez et al. 2003), by successive
  /// over-relaxation on the hole's bounding box. Neighbours outside the image are dropped
  /// (Neumann boundary), so holes touching the border are handled. Stops when the largest update
  /// in a sweep is below `tolerance`.
  static func poisson(source g: Image, target: Image, mask: Mask, tolerance: Float, maxIterations: Int) -> (Image, Report?) {
    guard let b = mask.holeBounds else { return (target, nil) }
    var out = target
    let w = g.width, h = g.height, n = w * h
    // Start from the alpha blend (a good initial guess).
    for c in 0..<g.channels { for i in 0..<n where mask.missing[i] { out.data[c * n + i] = g.data[c * n + i] } }
    let omega: Float = 1.9
    var iters = 0
    var worst: Float = 0
    repeat {
      worst = 0
      for c in 0..<g.channels {
        let base = c * n
        for y in b.y..<(b.y + b.height) {
          for x in b.x..<(b.x + b.width) where mask[x, y] {
            let p = y * w + x
            var sum: Float = 0, count: Float = 0
            for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
              let xx = x + dx, yy = y + dy
              guard xx >= 0 && xx < w && yy >= 0 && yy < h else { continue }
              let q = yy * w + xx
              count += 1
              sum += out.data[base + q] + (g.data[base + p] - g.data[base + q])
            }
            let new = sum / count
            let old = out.data[base + p]
            let upd = old + omega * (new - old)
            worst = max(worst, abs(upd - old))
            out.data[base + p] = upd
          }
        }
      }
      iters += 1
    } while worst > tolerance && iters < maxIterations
    // Clamp only the blended pixels; known pixels stay exactly as given.
    for c in 0..<g.channels { for i in 0..<n where mask.missing[i] { out.data[c * n + i] = min(1, max(0, out.data[c * n + i])) } }
    return (out, Report(iterations: iters, residual: worst))
  }
}
