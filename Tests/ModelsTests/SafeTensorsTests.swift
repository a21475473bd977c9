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
    func header(_ json: String, data: Int) -> Data {
      var d = Data()
      var n = UInt64(json.utf8.count).littleEndian
      withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
      d.append(contentsOf: Array(json.utf8))
      d.append(Data(count: data))
      return d
    }
    let cases: [(String, Data, String)] = [
      ("too short", Data([1, 2, 3]), "only 3 bytes"),
      ("huge header", Data([0, 0, 0, 0, 1, 0, 0, 0]) + Data(count: 4), "exceeds the file"),
      ("not json", header("{nope", data: 0), "not a JSON object"),
      ("bad dtype", header(#"{"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: 1), "unsupported dtype"),
      ("size mismatch", header(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 8), "bytes for shape"),
      ("outside", header(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8), "outside the file"),
      ("overlap", header(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12), "overlap"),
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
}
