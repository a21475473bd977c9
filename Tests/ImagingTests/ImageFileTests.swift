import Foundation
import Imaging
import XCTest

final class ImageFileTests: XCTestCase {
  func fixture(_ file: String) -> URL {
    let u = URL(fileURLWithPath: file)
    return Bundle.module.url(forResource: u.deletingPathExtension().lastPathComponent, withExtension: u.pathExtension,
                             subdirectory: "Fixtures")!
  }

  func byte(_ v: Float) -> Int { Int((v * 255).rounded()) }
  func tmp(_ name: String) -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("mend-if-\(getpid())-\(name)") }

  /// The 32×16 quadrant picture: top-left red, top-right green, bottom-left blue, bottom-right white.
  func assertQuad(_ im: Image, _ name: String, tolerance: Int = 40, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual([im.width, im.height], [32, 16], "\(name) size", file: file, line: line)
    guard im.width == 32 && im.height == 16 else { return }
    let expect: [(Int, Int, [Int])] = [(4, 4, [255, 0, 0]), (27, 4, [0, 255, 0]), (4, 11, [0, 0, 255]), (27, 11, [255, 255, 255])]
    for (x, y, rgb) in expect {
      let got = (0..<3).map { byte(im[$0, y, x]) }
      XCTAssert(zip(got, rgb).allSatisfy { abs($0 - $1) <= tolerance }, "\(name) at \(x),\(y): \(got) vs \(rgb)", file: file, line: line)
    }
  }

  func testJPEGAndWebPDecode() throws {
    let (q, a) = try ImageFile.read(fixture("quad.jpg"))
    XCTAssertNil(a)
    assertQuad(q, "quad.jpg")
    assertQuad(try ImageFile.read(fixture("quad.webp")).rgb, "quad.webp")
    assertQuad(try ImageFile.read(fixture("cmyk.jpg")).rgb, "cmyk.jpg")
    let (g, _) = try ImageFile.read(fixture("gray.jpg"))
    XCTAssertEqual(g.channels, 3)
    XCTAssertEqual(g.channel(0), g.channel(1))
    let (w, alpha) = try ImageFile.read(fixture("alpha.webp"))
    XCTAssertEqual([w.width, w.height], [24, 24])
    let al = try XCTUnwrap(alpha)
    XCTAssertEqual(byte(al[0, 7, 0]), 0)
    for x in [5, 23] {  // (a lossless WebP need not keep the colour of fully transparent pixels)
      XCTAssertEqual(byte(al[0, 7, x]), x * 11)
      XCTAssertEqual(byte(w[0, 7, x]), x * 10)
      XCTAssertEqual(byte(w[1, 7, x]), 70)
    }
  }

  /// Each EXIF orientation (stored rotated/flipped; Pillow's exif_transpose made the files) reads upright.
  func testEXIFOrientationIsApplied() throws {
    for o in 2...8 {
      assertQuad(try ImageFile.read(fixture("orient\(o).jpg")).rgb, "orient\(o).jpg")
      XCTAssertEqual(EXIF.orientation(jpeg: try Data(contentsOf: fixture("orient\(o).jpg"))).rawValue, o)
    }
    XCTAssertEqual(EXIF.orientation(jpeg: try Data(contentsOf: fixture("quad.jpg"))), .up)
    XCTAssertEqual(EXIF.orientation(jpeg: Data([0xFF, 0xD8, 0xFF, 0xE1, 0x00])), .up)  // cut EXIF: ignored
  }

  func testEveryPNGVariantIncludingInterlaced() throws {
    for name in ["interlaced8", "rgba16", "interlaced-rgba16"] {
      let (im, alpha) = try ImageFile.read(fixture("\(name).png"))
      for y in 0..<3 {
        // x = 0 is fully transparent: libpng premultiplies 16-bit samples, so its colour is gone.
        for x in (alpha == nil ? 0 : 1)..<5 {
          XCTAssertEqual([byte(im[0, y, x]), byte(im[1, y, x]), byte(im[2, y, x])], [x * 50, y * 100, 255 - x * 40],
                         "\(name) at \(x),\(y)")
        }
      }
      XCTAssertEqual(alpha != nil, name != "interlaced8", name)
      if let alpha { XCTAssertEqual((0..<5).map { byte(alpha[0, 1, $0]) }, (0..<5).map { ($0 * 60) % 256 }, name) }
    }
    let (p, pa) = try ImageFile.read(fixture("palettea8.png"))
    let alpha = try XCTUnwrap(pa)
    XCTAssertEqual((0..<3).map { byte(alpha[0, 0, $0]) }, [0, 128, 255])
    XCTAssertEqual((0..<3).map { byte(p[$0, 0, 2]) }, [0, 0, 255])
  }

  func testBadFilesAreOneLineErrors() {
    for (name, expect) in [("truncated.jpg", "corrupt or truncated JPEG"), ("corrupt.jpg", "corrupt or truncated JPEG"),
                           ("huge.jpg", "60000×60000 exceeds the limit"), ("truncated.webp", "corrupt or truncated WebP"),
                           ("huge.webp", "16384×16384 exceeds the limit"), ("notpng.png", "not a PNG, JPEG or WebP")] {
      XCTAssertThrowsError(try ImageFile.read(fixture(name)), name) { e in
        let s = "\(e)"
        XCTAssert(s.contains(expect), "\(name): \(s)")
        XCTAssert(s.hasPrefix(name), "\(name): \(s) should name the file")
        XCTAssertFalse(s.contains("\n"), "\(name): error must be one line")
      }
    }
    XCTAssertThrowsError(try ImageFile.read(fixture("quad.jpg"), maxPixels: 100)) { XCTAssert("\($0)".contains("exceeds the limit")) }
    XCTAssertThrowsError(try ImageFile.decode(Data())) { XCTAssert("\($0)".contains("empty")) }
  }

  func testRoundTripsInEveryFormat() throws {
    var rgb = Image(width: 24, height: 16, channels: 3)
    for c in 0..<3 { for y in 0..<16 { for x in 0..<24 { rgb[c, y, x] = Float(x * 5 + y * 4 + c * 40) / 255 } } }
    var alpha = Image(width: 24, height: 16, channels: 1)
    for i in alpha.data.indices { alpha.data[i] = 0.2 + 0.8 * Float(i % 24) / 23 }
    for (ext, quality, tol, keepsAlpha) in [("png", 92, 0, true), ("webp", 100, 0, true), ("webp", 92, 30, true),
                                            ("jpg", 100, 8, false), ("JPEG", 80, 40, false)] {
      let url = tmp("rt.\(ext)")
      defer { try? FileManager.default.removeItem(at: url) }
      try ImageFile.write(rgb, alpha: alpha, to: url, quality: quality)
      let (back, ba) = try ImageFile.read(url)
      XCTAssertEqual([back.width, back.height], [24, 16], ext)
      XCTAssertEqual(back.data.count, rgb.data.count, "zip below must not truncate")
      let err = zip(back.data, rgb.data).map { abs(byte($0) - byte($1)) }.max()!
      XCTAssertLessThanOrEqual(err, tol, "\(ext) q\(quality)")
      XCTAssertEqual(ba != nil, keepsAlpha, ext)
      if let ba { XCTAssertEqual(ba.data.map(byte), alpha.data.map(byte), "\(ext) alpha is lossless") }
    }
    // Magic bytes, not the extension, choose the decoder.
    let disguised = tmp("really-a-png.jpg")
    defer { try? FileManager.default.removeItem(at: disguised) }
    try AtomicFile.write(try ImageFile.encode(rgb, format: .png), to: disguised)
    XCTAssertEqual(try ImageFile.read(disguised).rgb.data.map(byte), rgb.data.map(byte))
    // Unknown extension, bad quality: clear errors, nothing written.
    for (name, q, expect) in [("x.gif", 92, "unknown image extension .gif"), ("noext", 92, "no file extension"),
                              ("x.jpg", 0, "quality must be 1…100")] {
      let u = tmp(name)
      XCTAssertThrowsError(try ImageFile.write(rgb, to: u, quality: q)) { XCTAssert("\($0)".contains(expect), "\($0)") }
      XCTAssertFalse(FileManager.default.fileExists(atPath: u.path))
    }
  }

  /// A failed write leaves neither the output nor a temporary file; a successful one replaces the old file whole.
  func testAtomicWriteLeavesNoPartialFile() throws {
    let dir = tmp("atomic")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out.png")
    try AtomicFile.write(Data("old".utf8), to: out)
    try AtomicFile.write(Data("new".utf8), to: out)
    XCTAssertEqual(try Data(contentsOf: out), Data("new".utf8))
    // Renaming onto a folder fails: the temporary file must be gone afterwards.
    let blocker = dir.appendingPathComponent("blocker.png")
    try FileManager.default.createDirectory(at: blocker.appendingPathComponent("sub"), withIntermediateDirectories: true)
    XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: blocker)) { XCTAssert("\($0)".contains("cannot write")) }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["blocker.png", "out.png"])
    XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: URL(fileURLWithPath: "/nonexistent-dir/o.png")))
  }

  func testOrientationTransformsAreConsistent() {
    // 3×2 with distinct values: every orientation is a bijection and the quarter turns swap the sides.
    let im = Image(width: 3, height: 2, channels: 1, data: (0..<6).map(Float.init))
    XCTAssertEqual(Orientation.rotate90CW.apply(to: im).data, [3, 0, 4, 1, 5, 2])
    XCTAssertEqual(Orientation.rotate90CCW.apply(to: im).data, [2, 5, 1, 4, 0, 3])
    XCTAssertEqual(Orientation.transpose.apply(to: im).data, [0, 3, 1, 4, 2, 5])
    for o in Orientation.allCases { XCTAssertEqual(o.apply(to: im).data.sorted(), im.data, "\(o)") }
  }
}
