import Compute
import FaceDetection
import Foundation
import Imaging
import XCTest

/// The detector against OpenCV's own `CascadeClassifier.detectMultiScale2` (4.x), whose rectangles
/// Tools/make-face-fixtures.py stored in Fixtures/faces.json.
///
/// Tolerance: the pyramid is built with OpenCV's bit-exact resize and the gray conversion, variance
/// normalisation and stage arithmetic are OpenCV's, so the rectangles are expected to be identical;
/// the comparison nonetheless allows ±2 px and ±2 neighbours per rectangle, because OpenCV has
/// changed those inputs between 4.x releases (BGR2GRAY went from 14- to 15-bit coefficients), which
/// moves a window by a pyramid step (≤ 2 px at these sizes) without changing what is found. The raw
/// windows on the astronaut are compared exactly.
final class FaceDetectionTests: XCTestCase {
  static let haarDirectory = "/usr/share/opencv4/haarcascades"
  static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// A cascade from opencv-data; skipped when absent, except under CI=true, where it fails.
  func cascade(_ name: String = "haarcascade_frontalface_default.xml") throws -> HaarCascade {
    let url = URL(fileURLWithPath: Self.haarDirectory).appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: url.path) else {
      if ProcessInfo.processInfo.environment["CI"] == "true" {
        XCTFail("CI=true but \(url.path) is missing (apt-get install opencv-data; Tools/setup.sh does)")
      }
      throw XCTSkip("\(url.path) not installed (Debian package opencv-data)")
    }
    return try HaarCascade(contentsOf: url)
  }

  struct Fixture: Decodable {
    struct Case: Decodable {
      var image: String, cascade: String?, width: Int, height: Int
      var scaleFactor: Float, minNeighbors: Int, minSize: Int
      var expected: [[Int]], rawCount: Int, raw: [[Int]]?
    }
    var opencv: String
    var cases: [Case]
  }

  func fixture() throws -> Fixture {
    let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/faces", withExtension: "json"))
    return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
  }

  func image(_ name: String) throws -> Image {
    let url =
      name.hasPrefix("docs/")
      ? Self.repoRoot.appendingPathComponent(name)
      : try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil))
    return try ImageFile.read(url).rgb
  }

  func testDetectionsMatchOpenCV() throws {
    let fx = try fixture()
    var cascades: [String: HaarCascade] = [:]
    var worst = 0
    for c in fx.cases {
      let name = c.cascade ?? "haarcascade_frontalface_default.xml"
      if cascades[name] == nil { cascades[name] = try cascade(name) }
      let img = try image(c.image)
      XCTAssertEqual([img.width, img.height], [c.width, c.height])
      let found = cascades[name]!.detect(in: img, scaleFactor: c.scaleFactor, minNeighbors: c.minNeighbors, minSize: c.minSize)
        .map { [$0.x, $0.y, $0.width, $0.height, $0.neighbors] }.sorted { $0.lexicographicallyPrecedes($1) }
      let label = "\(c.image) \(name) scale \(c.scaleFactor) neighbours \(c.minNeighbors)"
      XCTAssertEqual(found.count, c.expected.count, "\(label): \(found) vs OpenCV \(c.expected)")
      for (f, e) in zip(found, c.expected) {
        XCTAssert(zip(f, e).allSatisfy { abs($0 - $1) <= 2 }, "\(label): \(f) vs OpenCV \(e)")
        worst = max(worst, zip(f, e).map { abs($0 - $1) }.max() ?? 0)
      }
      let raw = cascades[name]!.rawDetections(
        gray: HaarCascade.gray8(img), width: img.width, height: img.height,
        scaleFactor: c.scaleFactor, minSize: c.minSize)
      XCTAssertEqual(raw.count, c.rawCount, "\(label): raw windows")
      if let expectedRaw = c.raw {
        XCTAssertEqual(
          raw.map { [$0.x, $0.y, $0.width, $0.height] }.sorted { $0.lexicographicallyPrecedes($1) },
          expectedRaw, "\(label): raw windows")
      }
    }
    print("FaceDetection: \(fx.cases.count) cases against OpenCV \(fx.opencv), largest difference \(worst) (px or neighbours)")
  }

  func testNoFaceOnBlankOrNoise() throws {
    let c = try cascade()
    XCTAssertEqual(c.detect(in: Image(width: 128, height: 128, channels: 3, fill: 0.5)), [])
    XCTAssertEqual(c.detect(in: Image(width: 128, height: 128, channels: 1, fill: 0)), [])
    var rng = SplitMix(seed: 1)
    let noise = Image(
      width: 160, height: 120, channels: 3, data: (0..<(160 * 120 * 3)).map { _ in Float(rng.next() % 256) / 255 })
    XCTAssertEqual(c.detect(in: noise), [])
    // Smaller than the window: nothing, no crash.
    XCTAssertEqual(c.detect(in: Image(width: 10, height: 40, channels: 3)), [])
  }

  func testEveryOpenCVHaarCascadeLoadsOrIsRefusedClearly() throws {
    _ = try cascade()
    let dir = URL(fileURLWithPath: Self.haarDirectory)
    for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".xml") {
      let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
      if text.contains("<stageType>") {
        let c = try HaarCascade(contentsOf: dir.appendingPathComponent(name))
        XCTAssertGreaterThan(c.stageCount, 0, name)
      } else {
        XCTAssertThrowsError(try HaarCascade(contentsOf: dir.appendingPathComponent(name)), name) { e in
          XCTAssert("\(e)".contains("old-format"), "\(name): \(e)")
        }
      }
    }
    let alt2 = try cascade("haarcascade_frontalface_alt2.xml"), eyes = try cascade("haarcascade_eye_tree_eyeglasses.xml")
    XCTAssertFalse(alt2.isStumps)
    XCTAssertTrue(eyes.hasTiltedFeatures)
    XCTAssertTrue(try cascade().isStumps)
  }

  func testMalformedCascadesThrowOneLineErrors() throws {
    func assertRefused(_ xml: String, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
      XCTAssertThrowsError(try HaarCascade(xml: Array(xml.utf8)), file: file, line: line) { e in
        let s = "\(e)"
        XCTAssert(s.contains(mentions), "\(s) should mention \(mentions)", file: file, line: line)
        XCTAssertFalse(s.contains("\n"), "not one line: \(s)", file: file, line: line)
      }
    }
    func cascadeXML(
      featureType: String = "HAAR", nodes: String = "0 -1 0 0.5", leaves: String = "1 -1",
      rect: String = "0 0 4 4 -1.", tilted: String = "0", more: String = ""
    ) -> String {
      """
      <?xml version="1.0"?>
      <opencv_storage><cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
      <featureType>\(featureType)</featureType><height>24</height><width>24</width>
      <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>-1.</stageThreshold><weakClassifiers>
      <_><internalNodes>\(nodes)</internalNodes><leafValues>\(leaves)</leafValues></_></weakClassifiers></_></stages>
      <features><_><rects><_>\(rect)</_><_>0 0 2 4 2.</_></rects><tilted>\(tilted)</tilted></_>\(more)</features>
      </cascade></opencv_storage>
      """
    }
    XCTAssertNoThrow(try HaarCascade(xml: Array(cascadeXML().utf8)))
    assertRefused("", mentions: "opencv_storage")
    assertRefused("not xml at all", mentions: "opencv_storage")
    assertRefused("<opencv_storage><cascade><stageType>BOOST", mentions: "unclosed")
    assertRefused("<opencv_storage><cascade></opencv_storage>", mentions: "does not match")
    assertRefused("<opencv_storage><!-- never closed", mentions: "unterminated comment")
    assertRefused(String(repeating: "<a>", count: 1000), mentions: "deeper")
    assertRefused(cascadeXML(featureType: "LBP"), mentions: "featureType")
    assertRefused(cascadeXML(nodes: "0 -1 7 0.5"), mentions: "feature index")
    assertRefused(cascadeXML(nodes: "0 -1 0 nan"), mentions: "threshold")
    assertRefused(cascadeXML(nodes: "0 -1 0"), mentions: "groups of 4")
    assertRefused(cascadeXML(leaves: "1"), mentions: "leaf values")
    assertRefused(cascadeXML(nodes: "1 -1 0 0.5 1 -2 0 0.5", leaves: "1 2 3"), mentions: "tree")  // node 1 points at itself
    assertRefused(cascadeXML(rect: "20 0 8 4 -1."), mentions: "outside")
    assertRefused(cascadeXML(rect: "2 0 4 4 -1.", tilted: "1"), mentions: "outside")  // x − h < 0
    assertRefused(cascadeXML(rect: "0 0 4 -1."), mentions: "x y w h weight")
    assertRefused(
      "<opencv_storage><haarcascade_frontalface_alt type_id=\"opencv-haar-classifier\"><size>20 20</size></haarcascade_frontalface_alt></opencv_storage>",
      mentions: "old-format")
    // A real cascade cut in half.
    let real = URL(fileURLWithPath: Self.haarDirectory).appendingPathComponent("haarcascade_frontalface_default.xml")
    if let bytes = try? [UInt8](Data(contentsOf: real)) {
      XCTAssertThrowsError(try HaarCascade(xml: Array(bytes[..<(bytes.count / 2)])))
    }
    // A missing file names itself.
    XCTAssertThrowsError(try HaarCascade(contentsOf: URL(fileURLWithPath: "/nonexistent/c.xml"))) { e in
      XCTAssert("\(e)".contains("/nonexistent/c.xml"))
    }
  }

  /// OpenCV's tilted integral: T[Y][X] = Σ over rows y' < Y of pixels |x' − (X−1)| ≤ Y−1−y'
  /// (checked against cv2.integral3 when this was written), here against the brute-force sum.
  func testTiltedIntegralMatchesDefinition() {
    var rng = SplitMix(seed: 7)
    for (w, h) in [(7, 5), (4, 9), (6, 1), (1, 6), (13, 13)] {
      let img = (0..<(w * h)).map { _ in UInt8(rng.next() % 256) }
      let t = Integral.rotated(img, width: w, height: h)
      for Y in 0...h {
        for X in 0...w {
          var s = 0
          for yp in 0..<Y {
            let r = Y - 1 - yp
            for xp in max(0, X - 1 - r)...max(0, min(w - 1, X - 1 + r)) where xp <= X - 1 + r && xp < w {
              s += Int(img[yp * w + xp])
            }
          }
          XCTAssertEqual(Int(t[Y * (w + 1) + X]), s, "\(w)×\(h) at \(X),\(Y)")
        }
      }
    }
  }

  func testGroupRectanglesDropsSmallClustersAndNestedOnes() {
    let r = { (x: Int, y: Int, s: Int) in Rect(x: x, y: y, width: s, height: s) }
    // Four similar rectangles → one of their mean; a lone one is dropped at groupThreshold 3.
    let g = HaarCascade.groupRectangles(
      [r(10, 10, 40), r(11, 10, 40), r(10, 12, 42), r(12, 11, 40), r(100, 100, 30)],
      groupThreshold: 3, eps: 0.2)
    XCTAssertEqual(g, [Detection(x: 11, y: 11, width: 40, height: 40, neighbors: 4)])
    XCTAssertEqual(HaarCascade.groupRectangles([r(1, 2, 3)], groupThreshold: 0, eps: 0.2).count, 1)
  }

  func testCascadeSearchOrder() throws {
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("facedetect-\(getpid())")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: tmp) }
    let weights = tmp.appendingPathComponent("weights")
    try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
    let inWeights = weights.appendingPathComponent(FaceDetector.cascadeFileName)
    try Data("x".utf8).write(to: inWeights)
    let other = tmp.appendingPathComponent("other.xml")
    try Data("x".utf8).write(to: other)

    XCTAssertEqual(try FaceDetector.locateCascade(other, environment: ["MEND_WEIGHTS": weights.path]).path, other.path)
    XCTAssertEqual(
      try FaceDetector.locateCascade(environment: ["MEND_FACE_CASCADE": other.path, "MEND_WEIGHTS": weights.path]).path,
      other.path)
    XCTAssertEqual(try FaceDetector.locateCascade(environment: ["MEND_WEIGHTS": weights.path]).path, inWeights.path)
    XCTAssertThrowsError(try FaceDetector.locateCascade(tmp.appendingPathComponent("missing.xml"))) { e in
      XCTAssert("\(e)".contains("missing.xml"))
    }
    XCTAssertThrowsError(try FaceDetector.locateCascade(environment: ["MEND_FACE_CASCADE": "/nope.xml"])) { e in
      XCTAssert("\(e)".contains("MEND_FACE_CASCADE"))
    }
    // A file that exists but is not a cascade: a clear error from the loader.
    XCTAssertThrowsError(try FaceDetector(cascade: other)) { e in XCTAssert("\(e)".contains("other.xml"), "\(e)") }
    // The mirrored weights folder agrees with MendPaths.
    for env in [["MEND_WEIGHTS": "/w"], ["XDG_DATA_HOME": "/x"], ["HOME": "/h"], ["HOME": "/h", "MEND_WEIGHTS": ""]] {
      XCTAssertEqual(FaceDetector.defaultWeightsDirectory(env).path, MendPaths.weights(env).path, "\(env)")
    }
  }

  func testFaceDetectorFindsTheAstronaut() throws {
    _ = try cascade()
    let d = try FaceDetector(environment: [:], weightsDirectory: URL(fileURLWithPath: "/nonexistent"))
    XCTAssertEqual(d.cascadeURL.path, Self.haarDirectory + "/haarcascade_frontalface_default.xml")
    let face = try XCTUnwrap(d.largestFace(in: try image("astronaut-canvas.png")))
    // The face was pasted at (120, 48) with side 102; the cascade's box is the inner face.
    XCTAssert((100...140).contains(face.x) && (48...90).contains(face.y) && (55...102).contains(face.width), "\(face)")
  }

  func testSpeedOn256() throws {
    let c = try cascade()
    let img = try image("astronaut-canvas.png")
    _ = c.detect(in: img)
    var best = Double.infinity
    for _ in 0..<5 {
      let t0 = DispatchTime.now().uptimeNanoseconds
      _ = c.detect(in: img)
      best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    print(String(format: "FaceDetection: 256×256 detect in %.1f ms (best of 5, one core)", best))
    #if !DEBUG
      XCTAssertLessThan(best, 500, "far slower than expected (target: well under 100 ms)")
    #endif
  }
}

/// A tiny deterministic generator for test images.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
