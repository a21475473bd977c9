import CPNG
import Foundation

public struct ImageError: Error, CustomStringConvertible {
  public let description: String
  /// The `errno` of a failed file-system call (writing outputs), when there was one: callers tell a
  /// full or read-only disk (`ENOSPC`, `EDQUOT`, `EROFS`) from a failure of one file.
  public let code: Int32?
  public init(_ d: String, code: Int32? = nil) { description = d; self.code = code }

  /// The output disk cannot take more files: full, over quota or read-only. Every further write to
  /// it fails too, so a folder run stops instead of computing images it cannot save.
  public var isOutputDiskFailure: Bool { code.map { [ENOSPC, EDQUOT, EROFS].contains($0) } ?? false }
}

/// PNG through libpng's simplified API: 8- and 16-bit, gray, gray+alpha, RGB, RGBA and palette
/// images are all read (16-bit samples keep their precision as floats). Dimensions are checked against
/// a pixel limit before any pixel memory is allocated.
public enum PNG {
  /// Default limit: 64 megapixels (`MEND_MAX_PIXELS` overrides).
  public static var defaultMaxPixels: Int {
    if let s = ProcessInfo.processInfo.environment["MEND_MAX_PIXELS"], let n = Int(s), n > 0 { return n }
    return 64 << 20
  }

  static let formatGray: UInt32 = 0, formatRGB: UInt32 = 2, formatRGBA: UInt32 = 3, formatLinear: UInt32 = 4

  /// Reads a PNG: the RGB image and, when the file has an alpha channel, the alpha plane.
  public static func read(_ url: URL, maxPixels: Int = defaultMaxPixels) throws -> (rgb: Image, alpha: Image?) {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw ImageError("\(url.path): cannot read (\(error.localizedDescription))")
    }
    return try decode(data, name: url.lastPathComponent, maxPixels: maxPixels)
  }

  public static func decode(_ data: Data, name: String = "image", maxPixels: Int = defaultMaxPixels) throws
    -> (rgb: Image, alpha: Image?) {
    var img = png_image()
    img.version = UInt32(PNG_IMAGE_VERSION)
    let ok = data.withUnsafeBytes { raw in png_image_begin_read_from_memory(&img, raw.baseAddress, raw.count) }
    guard ok != 0 else { throw ImageError("\(name): not a readable PNG (\(message(&img)))") }
    let w = Int(img.width), h = Int(img.height)
    let hasAlpha = img.format & 1 != 0
    guard w > 0, h > 0, w <= maxPixels / max(1, h) else {
      png_image_free(&img)
      throw ImageError("\(name): \(w)×\(h) exceeds the limit of \(maxPixels) pixels (set MEND_MAX_PIXELS to raise it)")
    }
    // 16-bit files: the simplified API calls them "linear" and would gamma-encode them on the way
    // to 8 bits. Reading them as 16-bit linear keeps the stored samples untouched (no conversion
    // from linear to linear); only alpha is premultiplied there, which we undo.
    let sixteen = img.format & formatLinear != 0
    img.format = formatRGBA | (sixteen ? formatLinear : 0)
    let plane = w * h
    var samples = [Float](repeating: 0, count: plane * 4)
    let done: Int32
    if sixteen {
      var buf = [UInt16](repeating: 0, count: plane * 4)
      done = data.withUnsafeBytes { _ in
        buf.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, Int32(w * 4), nil) }
      }
      for i in buf.indices { samples[i] = Float(buf[i]) / 65535 }
      for i in 0..<plane where samples[4 * i + 3] > 0 && samples[4 * i + 3] < 1 {
        for k in 0..<3 { samples[4 * i + k] = min(1, samples[4 * i + k] / samples[4 * i + 3]) }
      }
    } else {
      var buf = [UInt8](repeating: 0, count: plane * 4)
      done = data.withUnsafeBytes { _ in
        buf.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, Int32(w * 4), nil) }
      }
      for i in buf.indices { samples[i] = Float(buf[i]) / 255 }
    }
    guard done != 0 else {
      let m = message(&img)
      png_image_free(&img)
      throw ImageError("\(name): corrupt or truncated PNG (\(m))")
    }
    var rgb = Image(width: w, height: h, channels: 3)
    var alpha = hasAlpha ? Image(width: w, height: h, channels: 1) : nil
    for i in 0..<plane {
      rgb.data[i] = samples[4 * i]
      rgb.data[plane + i] = samples[4 * i + 1]
      rgb.data[2 * plane + i] = samples[4 * i + 2]
      if hasAlpha { alpha!.data[i] = samples[4 * i + 3] }
    }
    return (rgb, alpha)
  }

  /// Encodes an image (1 = gray, 3 = RGB, 4 = RGBA channels) as 8-bit PNG; values are clamped to
  /// [0, 1] and rounded.
  public static func encode(_ image: Image) throws -> Data {
    guard [1, 3, 4].contains(image.channels) else { throw ImageError("cannot write a \(image.channels)-channel PNG") }
    var img = png_image()
    img.version = UInt32(PNG_IMAGE_VERSION)
    img.width = UInt32(image.width)
    img.height = UInt32(image.height)
    img.format = image.channels == 1 ? formatGray : (image.channels == 3 ? formatRGB : formatRGBA)
    let c = image.channels, plane = image.width * image.height
    var buf = [UInt8](repeating: 0, count: plane * c)
    for i in 0..<plane {
      for k in 0..<c {
        let v = image.data[k * plane + i]
        buf[i * c + k] = UInt8(min(255, max(0, (v.isNaN ? 0 : v) * 255 + 0.5)))
      }
    }
    var size = 0
    let stride = Int32(image.width * c)
    guard buf.withUnsafeBytes({ png_image_write_to_memory(&img, nil, &size, 0, $0.baseAddress, stride, nil) }) != 0,
          size > 0 else {
      throw ImageError("PNG encoding failed (\(message(&img)))")
    }
    var out = [UInt8](repeating: 0, count: size)
    let ok = out.withUnsafeMutableBytes { o in
      buf.withUnsafeBytes { png_image_write_to_memory(&img, o.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
    }
    guard ok != 0 else { throw ImageError("PNG encoding failed (\(message(&img)))") }
    return Data(out.prefix(size))
  }

  /// Writes atomically: a temporary file in the same folder, then rename, so a failure never
  /// leaves a partial PNG.
  public static func write(_ image: Image, to url: URL) throws {
    try AtomicFile.write(try encode(image), to: url)
  }

  static func message(_ img: inout png_image) -> String {
    withUnsafeBytes(of: &img.message) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }
}
