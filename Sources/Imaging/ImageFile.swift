import CCodecs
import Foundation

/// The image file formats mend reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
  case png, jpeg, webp

  /// Whether the format stores an alpha channel.
  public var hasAlpha: Bool { self != .jpeg }

  /// The usual file extension.
  public var fileExtension: String { self == .jpeg ? "jpg" : rawValue }

  /// The format a file name asks for, by extension (.png, .jpg, .jpeg, .webp; any case).
  public init(extension ext: String) throws {
    switch ext.lowercased() {
    case "png": self = .png
    case "jpg", "jpeg": self = .jpeg
    case "webp": self = .webp
    default:
      throw ImageError(ext.isEmpty ? "no file extension: name the output .png, .jpg, .jpeg or .webp"
                                   : "unknown image extension .\(ext): use .png, .jpg, .jpeg or .webp")
    }
  }

  public init(url: URL) throws {
    do { try self.init(extension: url.pathExtension) } catch let e as ImageError {
      throw ImageError("\(url.lastPathComponent): \(e.description)")
    }
  }

  /// The format of encoded bytes, by their magic number; nil when unknown.
  public static func sniff(_ data: Data) -> ImageFormat? {
    let b = [UInt8](data.prefix(12))
    if b.count >= 8 && b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
    if b.count >= 3 && b[0..<3] == [0xFF, 0xD8, 0xFF] { return .jpeg }
    if b.count >= 12 && b[0..<4] == Array("RIFF".utf8)[...] && b[8..<12] == Array("WEBP".utf8)[...] { return .webp }
    return nil
  }
}

/// One entry point for image files: the format is chosen by magic bytes on read and by the file
/// extension on write. Every image reads as RGB plus an optional alpha plane, in [0, 1].
public enum ImageFile {
  public static let defaultQuality = 92

  public static func read(_ url: URL, maxPixels: Int = PNG.defaultMaxPixels) throws -> (rgb: Image, alpha: Image?) {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw ImageError("\(url.path): cannot read (\(error.localizedDescription))")
    }
    return try decode(data, name: url.lastPathComponent, maxPixels: maxPixels)
  }

  public static func decode(_ data: Data, name: String = "image", maxPixels: Int = PNG.defaultMaxPixels) throws
    -> (rgb: Image, alpha: Image?) {
    switch ImageFormat.sniff(data) {
    case .png: return try PNG.decode(data, name: name, maxPixels: maxPixels)
    case .jpeg: return try JPEG.decode(data, name: name, maxPixels: maxPixels)
    case .webp: return try WebP.decode(data, name: name, maxPixels: maxPixels)
    case nil:
      throw ImageError("\(name): not a PNG, JPEG or WebP file" + (data.isEmpty ? " (empty)" : ""))
    }
  }

  /// Encodes `rgb` (1 or 3 channels) with an optional alpha plane; JPEG drops alpha (callers that
  /// want to tell the user check `ImageFormat.hasAlpha`). `quality` (1…100) applies to JPEG and WebP
  /// (WebP at 100 is lossless).
  public static func encode(_ rgb: Image, alpha: Image? = nil, format: ImageFormat, quality: Int = defaultQuality) throws -> Data {
    guard (1...100).contains(quality) else { throw ImageError("quality must be 1…100, got \(quality)") }
    guard rgb.channels == 1 || rgb.channels == 3 else { throw ImageError("cannot write a \(rgb.channels)-channel image") }
    if let alpha {
      guard alpha.width == rgb.width, alpha.height == rgb.height, alpha.channels == 1 else {
        throw ImageError("alpha is \(alpha.width)×\(alpha.height)×\(alpha.channels), the image \(rgb.width)×\(rgb.height)")
      }
    }
    switch format {
    case .png: return try PNG.encode(withAlpha(rgb, alpha))
    case .jpeg: return try JPEG.encode(rgb, quality: quality)
    case .webp: return try WebP.encode(withAlpha(rgb.channels == 1 ? gray3(rgb) : rgb, alpha), quality: quality)
    }
  }

  /// Writes atomically (temporary file in the same folder, then rename); the format follows the
  /// extension of `url`.
  public static func write(_ rgb: Image, alpha: Image? = nil, to url: URL, quality: Int = defaultQuality) throws {
    let format = try ImageFormat(url: url)
    try AtomicFile.write(try encode(rgb, alpha: alpha, format: format, quality: quality), to: url)
  }

  static func gray3(_ im: Image) -> Image {
    Image(width: im.width, height: im.height, channels: 3, data: im.data + im.data + im.data)
  }

  static func withAlpha(_ rgb: Image, _ alpha: Image?) -> Image {
    guard let alpha else { return rgb }
    let base = rgb.channels == 1 ? gray3(rgb) : rgb
    return Image(width: rgb.width, height: rgb.height, channels: 4, data: base.data + alpha.data)
  }

  /// Interleaved 8-bit samples (clamped, rounded) of a planar image.
  static func interleaved8(_ image: Image) -> [UInt8] {
    let c = image.channels, plane = image.width * image.height
    var buf = [UInt8](repeating: 0, count: plane * c)
    for k in 0..<c {
      for i in 0..<plane {
        let v = image.data[k * plane + i]
        buf[i * c + k] = UInt8(min(255, max(0, (v.isNaN ? 0 : v) * 255 + 0.5)))
      }
    }
    return buf
  }

  /// Planar float channels from interleaved 8-bit samples: the first `take` of `stride` channels.
  static func planar(_ p: UnsafePointer<UInt8>, width: Int, height: Int, stride: Int, channel: Int) -> [Float] {
    let plane = width * height
    var out = [Float](repeating: 0, count: plane)
    for i in 0..<plane { out[i] = Float(p[i * stride + channel]) / 255 }
    return out
  }
}

func codecError(_ err: [CChar]) -> String {
  err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// JPEG through libjpeg-turbo. EXIF orientation is applied on read; CMYK/YCCK files are converted to RGB.
public enum JPEG {
  public static func decode(_ file: Data, name: String = "image", maxPixels: Int = PNG.defaultMaxPixels) throws
    -> (rgb: Image, alpha: Image?) {
    var out: UnsafeMutablePointer<UInt8>? = nil
    var w: Int32 = 0, h: Int32 = 0
    var err = [CChar](repeating: 0, count: 256)
    let rc = file.withUnsafeBytes { raw in
      mend_jpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int64(maxPixels), &out, &w, &h, &err, err.count)
    }
    guard rc == 0, let out else {
      let m = codecError(err)
      if rc == 2 { throw ImageError("\(name): \(m)") }
      throw ImageError("\(name): corrupt or truncated JPEG (\(m))")
    }
    defer { mend_codecs_free(out) }
    let (W, H) = (Int(w), Int(h))
    var px: [Float] = []
    px.reserveCapacity(W * H * 3)
    for c in 0..<3 { px += ImageFile.planar(out, width: W, height: H, stride: 3, channel: c) }
    let im = Image(width: W, height: H, channels: 3, data: px)
    return (EXIF.orientation(jpeg: file).apply(to: im), nil)
  }

  /// Baseline JPEG at `quality` (1…100); 1-channel images are written as grayscale.
  public static func encode(_ image: Image, quality: Int = ImageFile.defaultQuality) throws -> Data {
    let buf = ImageFile.interleaved8(image)
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var err = [CChar](repeating: 0, count: 256)
    let rc = mend_jpeg_encode(buf, Int32(image.width), Int32(image.height), Int32(image.channels), Int32(quality),
                              &out, &size, &err, err.count)
    guard rc == 0, let out else { throw ImageError("JPEG encoding failed (\(codecError(err)))") }
    defer { mend_codecs_free(out) }
    return Data(bytes: out, count: size)
  }
}

/// WebP through libwebp (still images; lossy or lossless, with or without alpha).
public enum WebP {
  public static func decode(_ file: Data, name: String = "image", maxPixels: Int = PNG.defaultMaxPixels) throws
    -> (rgb: Image, alpha: Image?) {
    var out: UnsafeMutablePointer<UInt8>? = nil
    var w: Int32 = 0, h: Int32 = 0, hasAlpha: Int32 = 0
    var err = [CChar](repeating: 0, count: 256)
    let rc = file.withUnsafeBytes { raw in
      mend_webp_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int64(maxPixels), &out, &w, &h,
                       &hasAlpha, &err, err.count)
    }
    guard rc == 0, let out else {
      let m = codecError(err)
      if rc == 2 { throw ImageError("\(name): \(m)") }
      throw ImageError("\(name): corrupt or truncated WebP (\(m))")
    }
    defer { mend_codecs_free(out) }
    let (W, H) = (Int(w), Int(h))
    var px: [Float] = []
    px.reserveCapacity(W * H * 3)
    for c in 0..<3 { px += ImageFile.planar(out, width: W, height: H, stride: 4, channel: c) }
    let alpha = hasAlpha != 0
      ? Image(width: W, height: H, channels: 1, data: ImageFile.planar(out, width: W, height: H, stride: 4, channel: 3)) : nil
    return (Image(width: W, height: H, channels: 3, data: px), alpha)
  }

  /// 3 (RGB) or 4 (RGBA) channels; quality 100 is lossless, below it lossy (alpha stays lossless).
  public static func encode(_ image: Image, quality: Int = ImageFile.defaultQuality) throws -> Data {
    let buf = ImageFile.interleaved8(image)
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var err = [CChar](repeating: 0, count: 256)
    let rc = mend_webp_encode(buf, Int32(image.width), Int32(image.height), Int32(image.channels), Int32(quality),
                              &out, &size, &err, err.count)
    guard rc == 0, let out else { throw ImageError("WebP encoding failed (\(codecError(err)))") }
    defer { mend_codecs_free(out) }
    return Data(bytes: out, count: size)
  }
}

/// EXIF orientation (TIFF tag 0x0112): how the stored pixels must be turned to display upright.
public enum Orientation: Int, Sendable, CaseIterable {
  case up = 1, flipHorizontal, rotate180, flipVertical, transpose, rotate90CW, transverse, rotate90CCW

  /// The upright image. Sides swap for transpose, transverse and the quarter turns.
  public func apply(to im: Image) -> Image {
    if self == .up { return im }
    let (W, H) = (im.width, im.height)
    let swap = rawValue >= 5
    let (ow, oh) = swap ? (H, W) : (W, H)
    var out = Image(width: ow, height: oh, channels: im.channels)
    for c in 0..<im.channels {
      for y in 0..<oh {
        for x in 0..<ow {
          let (sx, sy): (Int, Int)
          switch self {
          case .up: (sx, sy) = (x, y)
          case .flipHorizontal: (sx, sy) = (W - 1 - x, y)
          case .rotate180: (sx, sy) = (W - 1 - x, H - 1 - y)
          case .flipVertical: (sx, sy) = (x, H - 1 - y)
          case .transpose: (sx, sy) = (y, x)
          case .rotate90CW: (sx, sy) = (y, H - 1 - x)
          case .transverse: (sx, sy) = (W - 1 - y, H - 1 - x)
          case .rotate90CCW: (sx, sy) = (W - 1 - y, x)
          }
          out[c, y, x] = im[c, sy, sx]
        }
      }
    }
    return out
  }
}

/// A minimal EXIF reader: just the orientation tag of IFD0 in a JPEG's APP1 segment.
public enum EXIF {
  /// The orientation stored in a JPEG file; `.up` when absent or unreadable (never throws: a broken
  /// EXIF block must not make a decodable photo unreadable).
  public static func orientation(jpeg: Data) -> Orientation {
    let b = [UInt8](jpeg)
    guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return .up }
    var i = 2
    while i + 4 <= b.count {
      guard b[i] == 0xFF else { return .up }
      let marker = b[i + 1]
      if marker == 0xFF { i += 1; continue }  // fill byte
      if marker == 0xDA || marker == 0xD9 { return .up }  // start of scan / end of image: no EXIF before it
      if (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
      let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
      guard len >= 2, i + 2 + len <= b.count else { return .up }
      let seg = i + 4, segEnd = i + 2 + len
      if marker == 0xE1, segEnd - seg >= 6, Array(b[seg..<(seg + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
        if let o = orientation(tiff: b[(seg + 6)..<segEnd]) { return o }
      }
      i = segEnd
    }
    return .up
  }

  /// The orientation tag of a TIFF structure (EXIF payload after "Exif\0\0").
  public static func orientation(tiff: ArraySlice<UInt8>) -> Orientation? {
    let t = Array(tiff)
    guard t.count >= 8 else { return nil }
    let little: Bool
    switch (t[0], t[1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ o: Int) -> Int? {
      guard o >= 0, o + 2 <= t.count else { return nil }
      return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
    }
    func u32(_ o: Int) -> Int? {
      guard let a = u16(o), let b = u16(o + 2) else { return nil }
      return little ? a | b << 16 : a << 16 | b
    }
    guard u16(2) == 42, let ifd = u32(4), let n = u16(ifd) else { return nil }
    for k in 0..<n {
      let e = ifd + 2 + 12 * k
      guard let tag = u16(e) else { return nil }
      if tag == 0x0112 {
        // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
        guard u16(e + 2) == 3, let v = u16(e + 8) else { return nil }
        return Orientation(rawValue: v)
      }
    }
    return nil
  }
}

/// Writes files atomically: a temporary file in the destination's folder, then a rename. A failure
/// (full disk, missing folder, a crash mid-write) never leaves a partial file under the final name,
/// and the temporary file is removed on every error this process sees.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    let tmp = try writeTemporary(data, for: url)
    if rename(tmp.path, url.path) != 0 {
      let code = errno
      unlink(tmp.path)
      throw ImageError("cannot write \(url.path): \(String(cString: strerror(code)))", code: code)
    }
  }

  /// Creates the folder `url` and its missing parents (mkdir(2) level by level, so a failure is the
  /// system's reason with its errno: "Read-only file system", "No space left on device"; what this
  /// call made is removed again). Returns the folders it created, innermost first.
  @discardableResult
  public static func createDirectories(_ url: URL) throws -> [URL] {
    var missing: [URL] = []
    var u = url.standardizedFileURL
    while !FileManager.default.fileExists(atPath: u.path) && u.path != "/" {
      missing.append(u)
      u = u.deletingLastPathComponent()
    }
    var made: [URL] = []
    for d in missing.reversed() {
      if mkdir(d.path, 0o755) == 0 { made.insert(d, at: 0); continue }
      let code = errno
      if code == EEXIST { continue }
      for m in made { rmdir(m.path) }
      throw ImageError("cannot create \(url.path): \(String(cString: strerror(code)))", code: code)
    }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
      throw ImageError("cannot create \(url.path): \(String(cString: strerror(ENOTDIR)))", code: ENOTDIR)
    }
    return made
  }

  /// Writes `data` (flushed to disk) to a new temporary file next to `url` and returns its name;
  /// nothing is left behind on failure.
  public static func writeTemporary(_ data: Data, for url: URL) throws -> URL {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).mend-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp")
    // The error names the final file and the system's reason (a full disk: "No space left on
    // device"; a read-only one: "Read-only file system"; over RLIMIT_FSIZE: "File too large" — mend
    // ignores SIGXFSZ so that the write fails instead of killing it) and keeps errno.
    func fail(_ code: Int32) -> ImageError { ImageError("cannot write \(url.path): \(String(cString: strerror(code)))", code: code) }
    let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw fail(errno) }
    var code: Int32 = 0
    data.withUnsafeBytes { raw in
      var off = 0
      while off < raw.count {
        let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
        if n < 0 {
          if errno == EINTR { continue }
          code = errno; return
        }
        if n == 0 { code = EIO; return }  // no progress and no error: never loop forever
        off += n
      }
    }
    if code == 0 && fsync(fd) != 0 { code = errno }
    if close(fd) != 0 && code == 0 { code = errno }
    if code != 0 {
      unlink(tmp.path)
      throw fail(code)
    }
    return tmp
  }
}

/// Files that appear together or not at all: each `add` writes a temporary file next to its
/// destination; `commit` renames them all into place. Until then nothing is visible under the final
/// names, and a failure (an error thrown before `commit`, a full disk, a read-only folder) removes the
/// temporary files and any folder `directory` created — so a run that fails after compute started
/// (writing --grid, intermediates or a latent before -o) leaves no partial output.
public final class StagedFiles {
  private var staged: [(tmp: URL, final: URL)] = []
  private var createdDirectories: [URL] = []

  public init() {}

  public func add(_ data: Data, to url: URL) throws {
    staged.append((try AtomicFile.writeTemporary(data, for: url), url))
  }

  /// Creates `url` (and missing parents) now; it is removed again on failure if it is still empty.
  public func directory(_ url: URL) throws {
    createdDirectories += try AtomicFile.createDirectories(url)
  }

  /// Renames every staged file into place, in the order added.
  public func commit() throws {
    for (i, s) in staged.enumerated() where rename(s.tmp.path, s.final.path) != 0 {
      let code = errno
      for rest in staged[i...] { unlink(rest.tmp.path) }
      staged = []
      throw ImageError("cannot write \(s.final.path): \(String(cString: strerror(code)))", code: code)
    }
    staged = []
    createdDirectories = []
  }

  /// Removes whatever was staged and not committed.
  public func discard() {
    for s in staged { unlink(s.tmp.path) }
    staged = []
    for d in createdDirectories { rmdir(d.path) }  // innermost first; fails harmlessly when not empty
    createdDirectories = []
  }

  deinit { discard() }
}
