import Foundation

/// Separable resampling. Downscaling widens the kernel by the scale factor (antialiasing, as PIL
/// and MATLAB's imresize do), so a 4× bicubic downscale is the standard SR degradation.
public enum Resize {
  public enum Filter: Sendable {
    /// Keys cubic, a = −0.5.
    case bicubic
    /// Box filter with exact fractional coverage (area averaging).
    case area
  }

  public static func resize(_ im: Image, width: Int, height: Int, filter: Filter = .bicubic) -> Image {
    precondition(width > 0 && height > 0)
    if width == im.width && height == im.height { return im }
    let wx = weights(from: im.width, to: width, filter)
    let wy = weights(from: im.height, to: height, filter)
    var tmp = Image(width: width, height: im.height, channels: im.channels)
    for c in 0..<im.channels {
      for y in 0..<im.height {
        for x in 0..<width {
          var acc: Float = 0
          for (i, w) in wx[x] { acc += w * im[c, y, i] }
          tmp[c, y, x] = acc
        }
      }
    }
    var out = Image(width: width, height: height, channels: im.channels)
    for c in 0..<im.channels {
      for y in 0..<height {
        for x in 0..<width {
          var acc: Float = 0
          for (i, w) in wy[y] { acc += w * tmp[c, i, x] }
          out[c, y, x] = acc
        }
      }
    }
    return out
  }

  static func cubic(_ x: Float) -> Float {
    let a: Float = -0.5, t = abs(x)
    if t <= 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
    if t < 2 { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
    return 0
  }

  /// For each output index, (input index, weight) pairs summing to 1; edges clamp.
  static func weights(from n: Int, to m: Int, _ f: Filter) -> [[(Int, Float)]] {
    let scale = Float(n) / Float(m)
    var out: [[(Int, Float)]] = []
    for j in 0..<m {
      var ws: [(Int, Float)] = []
      switch f {
      case .area:
        let lo = Float(j) * scale, hi = Float(j + 1) * scale
        var i = Int(lo.rounded(.down))
        while Float(i) < hi && i < n {
          let cover = min(hi, Float(i + 1)) - max(lo, Float(i))
          if cover > 0 { ws.append((i, cover / scale)) }
          i += 1
        }
      case .bicubic:
        let support: Float = scale > 1 ? 2 * scale : 2
        let center = (Float(j) + 0.5) * scale - 0.5
        let k = scale > 1 ? 1 / scale : 1
        let lo = Int((center - support).rounded(.down)), hi = Int((center + support).rounded(.up))
        var sum: Float = 0
        var raw: [(Int, Float)] = []
        for i in lo...hi {
          let w = cubic((Float(i) - center) * k)
          if w != 0 { raw.append((min(n - 1, max(0, i)), w)); sum += w }
        }
        ws = raw.map { ($0.0, $0.1 / sum) }
      }
      out.append(ws)
    }
    return out
  }
}
