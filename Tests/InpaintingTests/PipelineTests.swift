import Compute
import ComputeCPU
import Foundation
import Imaging
import Inpainting
import Models
import Pipeline
import SuperResolution
import XCTest

final class PipelineTests: XCTestCase {
  /// A completer with the face generator (no discriminator) and SRResNet on the CPU.
  func completer(iterations: Int, starts: Int, threads: Int = 2) throws -> Completer {
    let gen = try DCGANGenerator(weights: try WeightStore.load(WeightStore.faceGenerator))
    let sr = try SRResNet(weights: try WeightStore.load(WeightStore.srresnet))
    let cpu = CPUDevice(threads: threads)
    var cfg = InpaintConfig()
    cfg.iterations = iterations; cfg.starts = starts
    return Completer(inpainter: try Inpainter(generator: gen, discriminator: nil, device: cpu, images: 1, config: cfg),
                     upscaler: try Upscaler(model: sr, device: cpu))
  }

  func testMaskDownscaleRuleIsAny() {
    // 256 → 64: each low-res pixel covers a 4×4 block; one missing pixel marks the block.
    var m = Mask(width: 256, height: 256)
    m[5, 9] = true           // block (1, 2)
    m[255, 0] = true         // block (63, 0)
    let d = Completer.downscale(m, width: 64, height: 64)
    XCTAssertEqual(d.holeCount, 2)
    XCTAssertTrue(d[1, 2]); XCTAssertTrue(d[63, 0])
    // 100×80 → 64×64 (non-integer ratios): source pixel x = 64 spans [64, 65); low-res x = 40 covers
    // [62.5, 64.06) and x = 41 covers [64.06, 65.6), so both overlap it; source y = 40 lies only in
    // low-res y = 32, which covers [40, 41.25).
    var n = Mask(width: 100, height: 80)
    n[64, 40] = true
    let e = Completer.downscale(n, width: 64, height: 64)
    XCTAssertEqual(e.holeCount, 2)
    XCTAssertTrue(e[40, 32] && e[41, 32])
    for y in 0..<64 { for x in 0..<64 where e[x, y] {
      // every marked low-res pixel really overlaps (64, 40)
      let x0 = Double(x) * 100 / 64, x1 = Double(x + 1) * 100 / 64, y0 = Double(y) * 80 / 64, y1 = Double(y + 1) * 80 / 64
      XCTAssert(x1 > 64 && x0 < 65 && y1 > 40 && y0 < 41, "(\(x), \(y)) does not cover the missing pixel")
    } }
    // Upscaling a mask (image smaller than 64) keeps holes too.
    var s = Mask(width: 40, height: 40)
    s[0, 0] = true
    XCTAssertTrue(Completer.downscale(s, width: 64, height: 64)[0, 0])
  }

  func testWindowChoice() throws {
    var m = Mask(width: 600, height: 400)
    for y in 100..<130 { for x in 500..<540 { m[x, y] = true } }
    let w = try Completer.window(for: m)
    XCTAssertEqual([w.width, w.height], [256, 256])
    XCTAssert(w.x <= 500 && w.x + w.width >= 540 && w.y <= 100 && w.y + w.height >= 130)
    XCTAssertEqual(w.x + w.width, 600, "clamped to the image")
    var big = Mask(width: 600, height: 400)
    for y in 0..<300 { for x in 0..<300 { big[x, y] = true } }
    XCTAssertThrowsError(try Completer.window(for: big)) { XCTAssert("\($0)".contains("256×256")) }
  }

  /// Known pixels are bit-identical at every size, including a hole at the border and a large image
  /// with a small hole.
  func testKnownPixelsUntouchedAtEverySize() throws {
    let completer = try completer(iterations: 5, starts: 2)
    var rng = SplitMix64(seed: 8)
    for (w, h, border) in [(64, 64, false), (100, 80, false), (128, 128, true), (200, 200, false), (256, 256, false),
                           (600, 400, false), (40, 50, true)] {
      var im = Image(width: w, height: h, channels: 3)
      for i in im.data.indices { im.data[i] = rng.nextFloat() }
      var mask = Mask(width: w, height: h)
      let (x0, y0) = border ? (0, h / 3) : (w / 2 - w / 8, h / 2 - h / 8)
      for y in y0..<(y0 + max(2, h / 5)) { for x in x0..<(x0 + max(2, w / 5)) { mask[x, y] = true } }
      let st = try completer.complete(im, mask: mask)
      XCTAssertEqual([st.merged.width, st.merged.height], [w, h])
      var changed = 0
      for c in 0..<3 {
        for i in 0..<(w * h) {
          let a = st.merged.data[c * w * h + i], b = im.data[c * w * h + i]
          if mask.missing[i] { if a != b { changed += 1 } } else {
            XCTAssertEqual(a.bitPattern, b.bitPattern, "\(w)×\(h): known pixel \(i) changed")
          }
        }
      }
      XCTAssertGreaterThan(changed, 0, "\(w)×\(h): the hole was not filled")
    }
  }

  func testBadInputs() throws {
    let completer = try completer(iterations: 1, starts: 1, threads: 1)
    let im = Image(width: 100, height: 100, channels: 3)
    XCTAssertThrowsError(try completer.complete(im, mask: Mask(width: 90, height: 100))) { XCTAssert("\($0)".contains("90×100")) }
    XCTAssertThrowsError(try completer.complete(im, mask: Mask(width: 100, height: 100))) { XCTAssert("\($0)".contains("no missing")) }
    let all = Mask(width: 100, height: 100, missing: [Bool](repeating: true, count: 10000))
    XCTAssertThrowsError(try completer.complete(im, mask: all)) { XCTAssert("\($0)".contains("every pixel")) }
    XCTAssertThrowsError(try WeightStore.load("missing.safetensors")) { XCTAssert("\($0)".contains("fetch-weights")) }
  }

  /// After a first pass, the face is looked for on the first pass's result and on each start's own
  /// fill, and the median of the boxes that frame the hole gives the window (a scripted finder
  /// stands in for the cascade).
  func testFaceAfterFirstPassTakesTheMedianBoxOverTheStartsFills() throws {
    final class Scripted: FaceFinder {
      var answers: [[(x: Int, y: Int, width: Int, height: Int)]]
      var seen: [Image] = []
      init(_ a: [[(x: Int, y: Int, width: Int, height: Int)]]) { answers = a }
      func faces(in image: Image) -> [(x: Int, y: Int, width: Int, height: Int)] {
        seen.append(image)
        return seen.count <= answers.count ? answers[seen.count - 1] : []
      }
    }
    let completer = try completer(iterations: 2, starts: 3)
    var rng = SplitMix64(seed: 11)
    var im = Image(width: 200, height: 200, channels: 3)
    for i in im.data.indices { im.data[i] = rng.nextFloat() }
    var mask = Mask(width: 200, height: 200)
    for y in 85..<115 { for x in 85..<115 { mask[x, y] = true } }
    // Calls: the harmonic fill (no face), the first pass's result, then the 3 starts' fills; a
    // small box far from the hole frames nothing and is ignored.
    let finder = Scripted([[], [(60, 60, 80, 80)], [], [(70, 62, 84, 84)], [(0, 0, 10, 10), (64, 58, 78, 78)]])
    let (st, how) = try completer.completeFramed(im, mask: mask, finder: finder)
    XCTAssertEqual(finder.seen.count, 5)
    // Sides 80, 84, 78 → 80; doubled centres x 200, 224, 206 → 206, y 200, 208, 194 → 200.
    XCTAssertEqual(how, .faceAfterFirstPass(x: 63, y: 60, width: 80, height: 80))
    let w = try XCTUnwrap(Completer.faceWindow(face: (63, 60, 80, 80), mask: mask))
    XCTAssertEqual([st.window.x, st.window.y, st.window.width, st.window.height], [w.x, w.y, w.width, w.height])
    // Each start's fill is a different picture from the first pass's result.
    for k in 2..<5 { XCTAssertNotEqual(finder.seen[k].data, finder.seen[1].data, "call \(k)") }
    // No face on any fill: the default window's result, unframed.
    let none = Scripted([])
    let (st0, how0) = try completer.completeFramed(im, mask: mask, finder: none)
    XCTAssertEqual(how0, .none)
    XCTAssertEqual(none.seen.count, 5)
    XCTAssertEqual([st0.window.width, st0.window.height], [200, 200])
  }
}
