import Foundation
import Imaging
import XCTest

final class PNGTests: XCTestCase {
  func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: name, withExtension: "png", subdirectory: "Fixtures")!
  }

  func byte(_ v: Float) -> Int { Int((v * 255).rounded()) }

  /// Every colour type and bit depth decodes to the same 8-bit pattern.
  func testEveryVariantDecodes() throws {
    for name in ["rgb8", "rgb16", "rgba8"] {
      let (im, alpha) = try PNG.read(fixture(name))
      XCTAssertEqual([im.width, im.height, im.channels], [5, 3, 3], name)
      for y in 0..<3 {
        for x in 0..<5 {
          XCTAssertEqual([byte(im[0, y, x]), byte(im[1, y, x]), byte(im[2, y, x])], [x * 50, y * 100, 255 - x * 40],
                         "\(name) at \(x),\(y)")
        }
      }
      XCTAssertEqual(alpha != nil, name == "rgba8", name)
      if let alpha { XCTAssertEqual(byte(alpha[0, 0, 3]), 180) }
    }
    for name in ["gray8", "gray16", "graya8"] {
      let (im, alpha) = try PNG.read(fixture(name))
      for x in 0..<5 { XCTAssertEqual((0..<3).map { byte(im[$0, 1, x]) }, [x * 50, x * 50, x * 50], name) }
      XCTAssertEqual(alpha != nil, name == "graya8")
      if let alpha { XCTAssertEqual(byte(alpha[0, 0, 0]), 255); XCTAssertEqual(byte(alpha[0, 2, 0]), 0) }
    }
    let (pal, _) = try PNG.read(fixture("palette8"))
    XCTAssertEqual((0..<3).map { byte(pal[$0, 0, 1]) }, [0, 255, 0])
    XCTAssertEqual((0..<3).map { byte(pal[$0, 2, 2]) }, [0, 0, 255])
  }

  func testBadFilesAreOneLineErrors() {
    for (name, expect) in [("truncated", "corrupt or truncated"), ("badcrc", "PNG"), ("notpng", "not a readable PNG"),
                           ("huge", "exceeds the limit")] {
      XCTAssertThrowsError(try PNG.read(fixture(name)), name) { e in
        let s = "\(e)"
        XCTAssert(s.contains(expect), "\(name): \(s)")
        XCTAssertFalse(s.contains("\n"), "\(name): error must be one line")
      }
    }
    XCTAssertThrowsError(try PNG.read(fixture("rgb8"), maxPixels: 10)) { XCTAssert("\($0)".contains("exceeds the limit")) }
    XCTAssertThrowsError(try PNG.read(URL(fileURLWithPath: "/nonexistent/x.png"))) { XCTAssert("\($0)".contains("cannot read")) }
  }

  func testWriteReadRoundTripAndAtomicWrite() throws {
    var im = Image(width: 7, height: 4, channels: 3)
    for i in im.data.indices { im.data[i] = Float(i % 256) / 255 }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mend-png-\(getpid()).png")
    defer { try? FileManager.default.removeItem(at: url) }
    try PNG.write(im, to: url)
    let (back, _) = try PNG.read(url)
    XCTAssertEqual(back.data.map(byte), im.data.map(byte))
    // A write into a missing folder fails cleanly and leaves nothing behind.
    let bad = URL(fileURLWithPath: "/nonexistent-dir/out.png")
    XCTAssertThrowsError(try PNG.write(im, to: bad))
    XCTAssertFalse(FileManager.default.fileExists(atPath: bad.path))
  }

  func testNPYRoundTrip() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mend-npy-\(getpid()).npy")
    defer { try? FileManager.default.removeItem(at: url) }
    let v: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
    try NPY.write(v, shape: [2, 3, 4], to: url)
    let r = try NPY.read(url)
    XCTAssertEqual(r.shape, [2, 3, 4])
    XCTAssertEqual(r.values, v)
  }

  func testResizeKeepsConstantsAndAreaAverages() {
    let c = Image(width: 9, height: 7, channels: 1, fill: 0.25)
    for f in [Resize.Filter.bicubic, .area] {
      let r = Resize.resize(c, width: 4, height: 3, filter: f)
      XCTAssert(r.data.allSatisfy { abs($0 - 0.25) < 1e-6 }, "\(f) changes a constant image")
      let u = Resize.resize(c, width: 20, height: 13, filter: f)
      XCTAssert(u.data.allSatisfy { abs($0 - 0.25) < 1e-6 }, "\(f) upscale changes a constant image")
    }
    // 4×4 → 2×2 area averaging is the mean of each 2×2 block.
    let im = Image(width: 4, height: 4, channels: 1, data: (0..<16).map(Float.init))
    let a = Resize.resize(im, width: 2, height: 2, filter: .area)
    XCTAssertEqual(a.data, [2.5, 4.5, 10.5, 12.5])
  }
}
