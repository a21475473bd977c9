import Compute
import Foundation
import Imaging

public struct MaskError: Error, CustomStringConvertible {
  public let description: String
  public init(_ d: String) { description = d }
}

/// Which pixels are missing: `missing[y·width + x]` is true for a hole pixel.
public struct Mask: Sendable, Equatable {
  public let width: Int, height: Int
  public var missing: [Bool]

  public init(width: Int, height: Int, missing: [Bool]) {
    precondition(missing.count == width * height)
    self.width = width; self.height = height; self.missing = missing
  }

  public init(width: Int, height: Int) { self.init(width: width, height: height, missing: [Bool](repeating: false, count: width * height)) }

  public subscript(x: Int, y: Int) -> Bool {
    get { missing[y * width + x] }
    set { missing[y * width + x] = newValue }
  }

  public var holeCount: Int { missing.reduce(0) { $0 + ($1 ? 1 : 0) } }

  /// The hole's bounding box (x, y, w, h), nil without a hole.
  public var holeBounds: (x: Int, y: Int, width: Int, height: Int)? {
    var x0 = width, y0 = height, x1 = -1, y1 = -1
    for y in 0..<height { for x in 0..<width where self[x, y] { x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y) } }
    return x1 < 0 ? nil : (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
  }

  /// Rejects masks that leave nothing to do or nothing to go on.
  public func validate(for image: Image, name: String = "mask") throws {
    guard width == image.width && height == image.height else {
      throw MaskError("\(name) is \(width)×\(height) but the image is \(image.width)×\(image.height)")
    }
    let holes = holeCount
    guard holes > 0 else { throw MaskError("\(name) has no missing pixels (white = missing): nothing to inpaint") }
    guard holes < width * height else { throw MaskError("\(name) marks every pixel missing: nothing to condition on") }
  }

  /// A PNG mask: white (luma ≥ 0.5) = missing.
  public static func fromImage(_ im: Image) -> Mask {
    let n = im.width * im.height
    var m = Mask(width: im.width, height: im.height)
    for i in 0..<n {
      let l = im.channels >= 3 ? 0.299 * im.data[i] + 0.587 * im.data[n + i] + 0.114 * im.data[2 * n + i] : im.data[i]
      m.missing[i] = l >= 0.5
    }
    return m
  }

  /// From an alpha plane: transparent (alpha < 0.5) = missing.
  public static func fromAlpha(_ alpha: Image) -> Mask {
    Mask(width: alpha.width, height: alpha.height, missing: alpha.data.map { $0 < 0.5 })
  }

  public enum Side: String, Sendable, CaseIterable { case left, right, top, bottom }

  /// A centred square hole covering `fraction` of each side.
  public static func center(width: Int, height: Int, fraction: Double = 0.5) -> Mask {
    var m = Mask(width: width, height: height)
    // The fraction is clamped to (0, 1] (NaN as 1): a larger hole than the image, or Int(NaN), would trap.
    let f = fraction.isNaN ? 1 : min(1, max(0, fraction))
    let hw = min(width, max(1, Int((Double(width) * f).rounded()))), hh = min(height, max(1, Int((Double(height) * f).rounded())))
    let x0 = (width - hw) / 2, y0 = (height - hh) / 2
    for y in y0..<(y0 + hh) { for x in x0..<(x0 + hw) { m[x, y] = true } }
    return m
  }

  public static func half(width: Int, height: Int, side: Side) -> Mask {
    var m = Mask(width: width, height: height)
    for y in 0..<height {
      for x in 0..<width {
        switch side {
        case .left: m[x, y] = x < width / 2
        case .right: m[x, y] = x >= width - width / 2
        case .top: m[x, y] = y < height / 2
        case .bottom: m[x, y] = y >= height - height / 2
        }
      }
    }
    return m
  }

  /// `fraction` of the pixels missing, chosen at random.
  public static func randomPixels(width: Int, height: Int, fraction: Double = 0.8, seed: UInt64 = 0) -> Mask {
    var rng = SplitMix64(seed: seed ^ 0x5eed)
    return Mask(width: width, height: height, missing: (0..<(width * height)).map { _ in Double(rng.nextFloat()) < fraction })
  }

  /// `count` random square blocks of side `size`.
  public static func randomBlocks(width: Int, height: Int, count: Int = 5, size: Int? = nil, seed: UInt64 = 0) -> Mask {
    var rng = SplitMix64(seed: seed ^ 0xb10c)
    var m = Mask(width: width, height: height)
    let s = max(1, min(size ?? max(1, min(width, height) / 6), min(width, height)))
    for _ in 0..<count {
      let x0 = Int(rng.next() % UInt64(width - s + 1)), y0 = Int(rng.next() % UInt64(height - s + 1))
      for y in y0..<(y0 + s) { for x in x0..<(x0 + s) { m[x, y] = true } }
    }
    return m
  }

  /// As a 1-channel image, white = missing.
  public var image: Image { Image(width: width, height: height, channels: 1, data: missing.map { $0 ? 1 : 0 }) }
}

/// Yeh et al.'s importance weights: W_i = K_i · Σ_{j∈N(i)} (1 − K_j) / |N(i)|, with K = 1 on known
/// pixels, N(i) the `window`×`window` neighbourhood of i clipped to the image and |N(i)| its pixel
/// count. Known pixels next to the hole weigh most, known pixels far from it nothing, missing
/// pixels nothing.
public enum ImportanceWeights {
  public static func compute(_ m: Mask, window: Int = 7) -> [Float] {
    precondition(window >= 1 && window % 2 == 1, "window must be odd")
    let r = window / 2
    var w = [Float](repeating: 0, count: m.width * m.height)
    for y in 0..<m.height {
      for x in 0..<m.width where !m[x, y] {
        var holes = 0, total = 0
        for yy in max(0, y - r)...min(m.height - 1, y + r) {
          for xx in max(0, x - r)...min(m.width - 1, x + r) {
            total += 1
            if m[xx, yy] { holes += 1 }
          }
        }
        w[y * m.width + x] = Float(holes) / Float(total)
      }
    }
    return w
  }
}
