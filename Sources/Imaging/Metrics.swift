import Foundation

/// Image quality metrics as SR papers report them: on the luma (Y) channel of ITU-R BT.601
/// (MATLAB's rgb2ycbcr, Y in [16, 235]), ignoring a border of `crop` pixels.
public enum Metrics {
  /// Y in [0, 255] from RGB in [0, 1].
  public static func luma(_ im: Image) -> [Double] {
    precondition(im.channels == 3)
    let n = im.width * im.height
    var y = [Double](repeating: 0, count: n)
    for i in 0..<n {
      let r = Double(im.data[i]), g = Double(im.data[n + i]), b = Double(im.data[2 * n + i])
      y[i] = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    }
    return y
  }

  static func cropped(_ y: [Double], _ w: Int, _ h: Int, _ crop: Int) -> ([Double], Int, Int) {
    let cw = w - 2 * crop, ch = h - 2 * crop
    precondition(cw > 0 && ch > 0, "image too small for the border crop")
    var out = [Double](repeating: 0, count: cw * ch)
    for yy in 0..<ch { for xx in 0..<cw { out[yy * cw + xx] = y[(yy + crop) * w + xx + crop] } }
    return (out, cw, ch)
  }

  /// PSNR in dB on Y (peak 255). Values are rounded to 8 bits first, as saved images are.
  public static func psnrY(_ a: Image, _ b: Image, crop: Int = 4) -> Double {
    let (ya, _, _) = cropped(luma(quantized(a)), a.width, a.height, crop)
    let (yb, _, _) = cropped(luma(quantized(b)), b.width, b.height, crop)
    let mse = zip(ya, yb).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(ya.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
  }

  /// SSIM (Wang et al. 2004) on Y: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03.
  public static func ssimY(_ a: Image, _ b: Image, crop: Int = 4) -> Double {
    let (x, w, h) = cropped(luma(quantized(a)), a.width, a.height, crop)
    let (y, _, _) = cropped(luma(quantized(b)), b.width, b.height, crop)
    return ssim(x, y, w, h)
  }

  /// SSIM of two single-channel [0, 255] images (mean over valid 11×11 windows).
  public static func ssim(_ x: [Double], _ y: [Double], _ w: Int, _ h: Int) -> Double {
    guard w > 10, h > 10 else { return .nan }
    let (map, _, _) = ssimMap(x, y, w, h)
    return map.reduce(0, +) / Double(map.count)
  }

  public static func quantized(_ im: Image) -> Image {
    Image(width: im.width, height: im.height, channels: im.channels,
          data: im.data.map { (min(1, max(0, $0.isNaN ? 0 : $0)) * 255).rounded() / 255 })
  }
}

extension Metrics {
  /// PSNR over the masked pixels only (all channels, [0, 1] scale, after 8-bit rounding).
  public static func maskedPSNR(_ a: Image, _ b: Image, missing: [Bool]) -> Double {
    let qa = quantized(a), qb = quantized(b), n = a.width * a.height
    var se = 0.0, count = 0
    for c in 0..<a.channels {
      for i in 0..<n where missing[i] {
        let d = Double(qa.data[c * n + i] - qb.data[c * n + i])
        se += d * d
        count += 1
      }
    }
    return count == 0 || se == 0 ? .infinity : 10 * log10(Double(count) / se)
  }

  /// SSIM on Y averaged over the windows centred on masked pixels (11×11 Gaussian windows that fit
  /// inside the image; masked pixels within 5 of the border use the nearest full window).
  public static func maskedSSIM(_ a: Image, _ b: Image, missing: [Bool]) -> Double {
    let x = luma(quantized(a)), y = luma(quantized(b))
    let (map, mw, mh) = ssimMap(x, y, a.width, a.height)
    let r = 5
    var total = 0.0, count = 0
    for yy in 0..<a.height {
      for xx in 0..<a.width where missing[yy * a.width + xx] {
        let my = min(mh - 1, max(0, yy - r)), mx = min(mw - 1, max(0, xx - r))
        total += map[my * mw + mx]
        count += 1
      }
    }
    return count == 0 ? .nan : total / Double(count)
  }

  /// The SSIM map over valid 11×11 windows: (values, width, height), entry (x, y) for the window
  /// centred at (x + 5, y + 5).
  public static func ssimMap(_ x: [Double], _ y: [Double], _ w: Int, _ h: Int) -> ([Double], Int, Int) {
    let r = 5
    let g = (-r...r).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
    let gs = g.reduce(0, +)
    let k = g.map { $0 / gs }
    let vw = w - 2 * r, vh = h - 2 * r
    func blur(_ v: [Double]) -> [Double] {
      var t = [Double](repeating: 0, count: vw * h)
      for yy in 0..<h { for xx in 0..<vw { var s = 0.0; for i in 0...(2 * r) { s += k[i] * v[yy * w + xx + i] }; t[yy * vw + xx] = s } }
      var o = [Double](repeating: 0, count: vw * vh)
      for yy in 0..<vh { for xx in 0..<vw { var s = 0.0; for i in 0...(2 * r) { s += k[i] * t[(yy + i) * vw + xx] }; o[yy * vw + xx] = s } }
      return o
    }
    func prod(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map { $0.0 * $0.1 } }
    let mx = blur(x), my = blur(y), xx = blur(prod(x, x)), yy = blur(prod(y, y)), xy = blur(prod(x, y))
    let c1: Double = 6.5025, c2: Double = 58.5225
    var map = [Double](repeating: 0, count: vw * vh)
    for i in map.indices {
      let sx = xx[i] - mx[i] * mx[i], sy = yy[i] - my[i] * my[i], sxy = xy[i] - mx[i] * my[i]
      map[i] = ((2 * mx[i] * my[i] + c1) * (2 * sxy + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (sx + sy + c2))
    }
    return (map, vw, vh)
  }
}
