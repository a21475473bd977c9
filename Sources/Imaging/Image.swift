import Foundation

/// A planar float image: data[c][y][x] in [0, 1] (CHW, the layout tensors use).
public struct Image: Sendable, Equatable {
  public let width: Int, height: Int, channels: Int
  public var data: [Float]

  public init(width: Int, height: Int, channels: Int, data: [Float]) {
    precondition(data.count == width * height * channels, "image data count does not match \(channels)×\(height)×\(width)")
    self.width = width; self.height = height; self.channels = channels; self.data = data
  }

  public init(width: Int, height: Int, channels: Int, fill: Float = 0) {
    self.init(width: width, height: height, channels: channels,
              data: [Float](repeating: fill, count: width * height * channels))
  }

  @inlinable public subscript(c: Int, y: Int, x: Int) -> Float {
    get { data[(c * height + y) * width + x] }
    set { data[(c * height + y) * width + x] = newValue }
  }

  /// One channel as a 1-channel image.
  public func channel(_ c: Int) -> Image {
    Image(width: width, height: height, channels: 1, data: Array(data[(c * width * height)..<((c + 1) * width * height)]))
  }

  /// True for a 3-channel image whose red, green and blue agree within `tolerance` at every pixel
  /// `include` accepts (every pixel by default): a gray picture stored as RGB.
  public func isGray(tolerance: Float = 1.5 / 255, where include: (Int) -> Bool = { _ in true }) -> Bool {
    guard channels == 3 else { return false }
    let n = width * height
    for i in 0..<n where include(i) {
      let r = data[i], g = data[n + i], b = data[2 * n + i]
      if !(abs(r - g) <= tolerance && abs(g - b) <= tolerance) { return false }
    }
    return true
  }

  /// A 3-channel image with red, green and blue each set to the BT.601 luma (0.299 R + 0.587 G +
  /// 0.114 B); other channel counts are returned as they are.
  public func grayscaled() -> Image {
    guard channels == 3 else { return self }
    let n = width * height
    var out = self
    for i in 0..<n {
      let y = 0.299 * data[i] + 0.587 * data[n + i] + 0.114 * data[2 * n + i]
      out.data[i] = y; out.data[n + i] = y; out.data[2 * n + i] = y
    }
    return out
  }

  /// Values mapped to [-1, 1] (the DCGAN's range).
  public var signed: [Float] { data.map { $0 * 2 - 1 } }

  /// From [-1, 1] values (clamped).
  public static func fromSigned(_ v: [Float], width: Int, height: Int, channels: Int) -> Image {
    Image(width: width, height: height, channels: channels, data: v.map { min(1, max(0, ($0 + 1) / 2)) })
  }

  public func clamped() -> Image {
    Image(width: width, height: height, channels: channels, data: data.map { min(1, max(0, $0.isNaN ? 0 : $0)) })
  }

  public func crop(x: Int, y: Int, width w: Int, height h: Int) -> Image {
    precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the image")
    var out = Image(width: w, height: h, channels: channels)
    for c in 0..<channels { for yy in 0..<h { for xx in 0..<w { out[c, yy, xx] = self[c, y + yy, x + xx] } } }
    return out
  }

  /// Pads with edge replication to (w, h), the original at (x, y).
  public func padded(x: Int, y: Int, width w: Int, height h: Int) -> Image {
    var out = Image(width: w, height: h, channels: channels)
    for c in 0..<channels {
      for yy in 0..<h {
        let sy = min(height - 1, max(0, yy - y))
        for xx in 0..<w { out[c, yy, xx] = self[c, sy, min(width - 1, max(0, xx - x))] }
      }
    }
    return out
  }

  /// Side-by-side grid (same height; channels broadcast from 1 to 3), with a gap.
  public static func row(_ images: [Image], gap: Int = 2, background: Float = 1) -> Image {
    let h = images.map(\.height).max() ?? 0
    let w = images.map(\.width).reduce(0, +) + gap * max(0, images.count - 1)
    var out = Image(width: w, height: h, channels: 3, fill: background)
    var x0 = 0
    for im in images {
      for c in 0..<3 {
        let sc = im.channels == 1 ? 0 : c
        for y in 0..<im.height { for x in 0..<im.width { out[c, y, x0 + x] = im[sc, y, x] } }
      }
      x0 += im.width + gap
    }
    return out
  }

  /// Stacks rows of images vertically.
  public static func column(_ images: [Image], gap: Int = 2, background: Float = 1) -> Image {
    let w = images.map(\.width).max() ?? 0
    let h = images.map(\.height).reduce(0, +) + gap * max(0, images.count - 1)
    var out = Image(width: w, height: h, channels: 3, fill: background)
    var y0 = 0
    for im in images {
      for c in 0..<3 {
        let sc = im.channels == 1 ? 0 : c
        for y in 0..<im.height { for x in 0..<im.width { out[c, y0 + y, x] = im[sc, y, x] } }
      }
      y0 += im.height + gap
    }
    return out
  }
}
