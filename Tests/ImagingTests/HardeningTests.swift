import Foundation
import Imaging
import XCTest

/// Regression tests for what fuzzing (Fuzz/, Tools/fuzz.sh) and the hardening review found: sizes
/// taken from a file are checked before allocation and without overflow; every failure is one line.
final class HardeningTests: XCTestCase {
  func npy(shape: String, dataBytes: Int) -> Data {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    d.append(contentsOf: [UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
    d.append(contentsOf: Array(header.utf8))
    d.append(Data(count: dataBytes))
    return d
  }

  func assertOneLineError(_ body: @autoclosure () throws -> Any, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { e in
      let s = "\(e)"
      XCTAssert(s.contains(mentions), "\(s) should mention \(mentions)", file: file, line: line)
      XCTAssertFalse(s.contains("\n"), "not one line: \(s)", file: file, line: line)
    }
  }

  /// A shape whose element count overflows Int (2^62 · 4 wraps to 0) must not match an empty data
  /// section, nor trap in the multiplication; a huge honest shape is refused before allocation.
  func testNPYShapeOverflowAndHugeShapesAreRefused() throws {
    assertOneLineError(try NPY.parse(npy(shape: "4611686018427387904, 4", dataBytes: 0)), mentions: "too large")
    assertOneLineError(try NPY.parse(npy(shape: "9223372036854775807, 9223372036854775807", dataBytes: 8)), mentions: "too large")
    assertOneLineError(try NPY.parse(npy(shape: "4611686018427387904, 1", dataBytes: 8)), mentions: "data bytes")
    assertOneLineError(try NPY.parse(npy(shape: "1000000, 1000000", dataBytes: 16)), mentions: "data bytes")
    assertOneLineError(try NPY.parse(npy(shape: "-1,", dataBytes: 0)), mentions: "bad shape")
    // Found by Fuzz/fuzz-npy: zero elements, but the other dimensions overflow any shape product.
    assertOneLineError(try NPY.parse(npy(shape: "1, 27777777777777777, 277777777777777778, 0", dataBytes: 0)), mentions: "too large")
    let ok = try NPY.parse(npy(shape: "2, 0", dataBytes: 0))
    XCTAssertEqual(ok.shape, [2, 0])
    XCTAssertEqual(ok.values, [])
    let two = try NPY.parse(npy(shape: "2,", dataBytes: 8))
    XCTAssertEqual(two.values, [0, 0])
  }

  /// A header with a newline in it (NumPy ends headers with one; a crafted file may hold more) keeps
  /// errors on one line.
  func testNPYErrorsAreOneLine() {
    var d = npy(shape: "2,", dataBytes: 4)
    XCTAssertThrowsError(try NPY.parse(d)) { XCTAssertFalse("\($0)".contains("\n"), "\($0)") }
    d = Data([0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0, 0, 0])
    assertOneLineError(try NPY.parse(d), mentions: "unsupported version 9")
    assertOneLineError(try NPY.parse(Data()), mentions: "bad magic")
  }

  /// Every seed of the fuzz corpus decodes or fails with one line (the fuzz targets' property, run
  /// here on every test run without libFuzzer).
  func testFuzzSeedCorpusDecodesOrFailsOnOneLine() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var seen = 0
    for dir in ["png", "jpeg", "webp", "mask"] {
      let d = root.appendingPathComponent("Fuzz/corpus/\(dir)")
      for f in try FileManager.default.contentsOfDirectory(at: d, includingPropertiesForKeys: nil) {
        seen += 1
        do {
          let (rgb, alpha) = try ImageFile.decode(try Data(contentsOf: f), name: f.lastPathComponent, maxPixels: 1 << 22)
          XCTAssertEqual(rgb.data.count, rgb.width * rgb.height * 3)
          XCTAssert(rgb.data.allSatisfy { $0 >= 0 && $0 <= 1 }, f.lastPathComponent)
          if let alpha { XCTAssertEqual(alpha.data.count, rgb.width * rgb.height) }
        } catch {
          XCTAssertFalse("\(error)".contains("\n"), "\(f.lastPathComponent): \(error)")
        }
      }
    }
    for f in try FileManager.default.contentsOfDirectory(at: root.appendingPathComponent("Fuzz/corpus/npy"), includingPropertiesForKeys: nil) {
      seen += 1
      do { let r = try NPY.parse(try Data(contentsOf: f)); XCTAssertEqual(r.values.count, r.shape.reduce(1, *)) } catch {
        XCTAssertFalse("\(error)".contains("\n"), "\(f.lastPathComponent): \(error)")
      }
    }
    XCTAssertGreaterThan(seen, 40, "the seed corpus is missing")
  }
}
