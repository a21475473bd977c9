import Foundation
import Models
import XCTest

final class SafeTensorsTests: XCTestCase {
  func tmp(_ name: String) -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("mend-\(getpid())-\(name)") }

  func testRoundTrip() throws {
    let url = tmp("rt.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let t = ["a.weight": HostTensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), "b": HostTensor(shape: [1], data: [-7])]
    try SafeTensors.write(t, metadata: ["format": "test"], to: url)
    let r = try SafeTensors.read(url)
    XCTAssertEqual(r.tensors["a.weight"]?.data, [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(r.tensors["a.weight"]?.shape, [2, 3])
    XCTAssertEqual(r.tensors["b"]?.data, [-7])
    XCTAssertEqual(r.metadata["format"], "test")
  }

  func testBrokenFilesAreClearErrors() throws {
    let cases: [(String, Data, String)] = [
      ("too short", Data([1, 2, 3]), "only 3 bytes"),
      ("huge header", Data([0, 0, 0, 0, 1, 0, 0, 0]) + Data(count: 4), "exceeds the file"),
      ("not json", safetensorsFile("{nope", data: 0), "not a JSON object"),
      ("bad dtype", safetensorsFile(#"{"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: 1), "unsupported dtype"),
      ("size mismatch", safetensorsFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 8), "bytes for shape"),
      ("outside", safetensorsFile(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8), "outside the file"),
      ("overlap", safetensorsFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12), "overlap"),
    ]
    for (what, data, expect) in cases {
      XCTAssertThrowsError(try SafeTensors.parse(data, name: "w"), what) { e in
        XCTAssert("\(e)".contains(expect), "\(what): \(e)")
      }
    }
  }

  func testWrongShapeAndMissingKeyAreReported() throws {
    let w = WeightSet(tensors: ["main.0.weight": HostTensor(shape: [2], data: [0, 0])], source: "x")
    XCTAssertThrowsError(try w.take("main.0.weight", [3])) { XCTAssert("\($0)".contains("has shape [2], expected [3]")) }
    XCTAssertThrowsError(try w.take("nope", [1])) { XCTAssert("\($0)".contains("missing tensor nope")) }
    XCTAssertThrowsError(try DCGANGenerator(weights: w)) { XCTAssert("\($0)".contains("main.0.weight")) }
  }

  /// Found by fuzzing (Fuzz/fuzz-safetensors): a shape whose byte size overflows Int wrapped around to
  /// the size of a small data range (or trapped); offsets given as huge floats were truncated by
  /// NSNumber.intValue; a tensor name with a newline split the error over two lines.
  func testHostileHeadersAreOneLineErrors() throws {
    let cases: [(String, Int, String)] = [
      // (2^31-1)^2 · 4 bytes does not overflow, but needs far more bytes than the file holds.
      (#"{"w":{"dtype":"F32","shape":[2147483647,2147483647],"data_offsets":[0,0]}}"#, 0, "needs more bytes"),
      // (2^31-1)^3 overflows Int; 2^30 · 2^30 · 2^30 · 2^30 · 16 wraps to 0 in unchecked Int
      // arithmetic (-Ounchecked), where an empty data range would have matched it.
      (#"{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,0]}}"#, 0, "too large"),
      (#"{"w":{"dtype":"F32","shape":[1073741824,1073741824,1073741824,1073741824,16],"data_offsets":[0,0]}}"#, 0, "too large"),
      (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,1e30]}}"#, 4, "data_offsets"),
      // No elements, but the other dimensions overflow: HostTensor's shape product would trap.
      (#"{"w":{"dtype":"F32","shape":[0,2147483647,2147483647,2147483647],"data_offsets":[0,0]}}"#, 0, "too large"),
      (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, 4, "bad shape"),
      ("{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "a\\nb"),
      ("{\"w\":{\"dtype\":\"I\\n8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unsupported dtype"),
    ]
    for (json, bytes, says) in cases {
      XCTAssertThrowsError(try SafeTensors.parse(safetensorsFile(json, data: bytes), name: "x.safetensors"), json) { e in
        let s = "\(e)"
        XCTAssert(s.contains(says), "\(s) should mention \(says)")
        XCTAssertFalse(s.contains("\n"), "not one line: \(s)")
      }
    }
    // A valid name with a newline still loads under its real name.
    let ok = try SafeTensors.parse(safetensorsFile("{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: 4))
    XCTAssertEqual(ok.tensors["a\nb"]?.data, [0])
  }
}

/// A safetensors file: the header length (8 bytes, little-endian), the JSON header, `data` zero bytes.
private func safetensorsFile(_ json: String, data: Int) -> Data {
  var d = Data()
  var n = UInt64(json.utf8.count).littleEndian
  withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
  d.append(contentsOf: Array(json.utf8))
  d.append(Data(count: data))
  return d
}
