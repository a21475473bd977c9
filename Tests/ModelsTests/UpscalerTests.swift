import Compute
import ComputeCPU
import Foundation
import Graph
import Imaging
import Models
import SuperResolution
import XCTest

final class UpscalerTests: XCTestCase {
  static func testImage(width w: Int, height h: Int, seed: UInt64) -> Image {
    var rng = SplitMix64(seed: seed)
    var im = Image(width: w, height: h, channels: 3)
    for c in 0..<3 {
      for y in 0..<h {
        for x in 0..<w {
          im[c, y, x] = 0.5 + 0.3 * sin(Float(x) / 7 + Float(c)) * cos(Float(y) / 5) + 0.2 * (rng.nextFloat() - 0.5)
        }
      }
    }
    return im
  }

  /// The halo derived from the graph is SRResNet's receptive field: 4 (9×9 head) + 2 per residual
  /// block + 1 (trunk) + 1 + 1 (the two upsampling convs, at 1× and 2×) + 1 (9×9 tail at 4×).
  func testReceptiveFieldDerivedFromGraph() throws {
    for blocks in [1, 2, 16] {
      let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: blocks))
      let (g, x, y) = try sr.graph(batch: 1, height: 16, width: 16)
      let rf = try XCTUnwrap(g.receptiveField(of: y, from: x))
      XCTAssertEqual(rf.scale, 4)
      XCTAssertEqual(rf.halo, 4 + 2 * blocks + 1 + 3, "blocks \(blocks)")
    }
  }

  /// The halo is tight and sufficient: changing an input pixel exactly `halo` columns from the
  /// centre moves the centre's output, one column further does not move it at all.
  func testReceptiveFieldIsTight() throws {
    let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: 1))
    let (g, x, y) = try sr.graph(batch: 1, height: 40, width: 40)
    let halo = try XCTUnwrap(g.receptiveField(of: y, from: x)).halo
    let plan = try g.compile(on: CPUDevice(threads: 2))
    let base = Self.testImage(width: 40, height: 40, seed: 3)
    func centre(_ im: Image) throws -> [Float] {
      try plan.set(x, im.data)
      try plan.run()
      let out = try plan.read(y)
      // HR pixels of LR pixel (20, 20), all channels.
      return (0..<3).flatMap { c in (80..<84).flatMap { yy in (80..<84).map { xx in out[(c * 160 + yy) * 160 + xx] } } }
    }
    let ref = try centre(base)
    for (dx, moves) in [(halo, true), (halo + 1, false)] {
      var im = base
      for c in 0..<3 { im[c, 20, 20 + dx] += 0.5 }
      let d = maxAbsDiff(try centre(im), ref)
      if moves { XCTAssertGreaterThan(d, 0, "a pixel \(dx) away must reach the centre") }
      else { XCTAssertEqual(d, 0, "a pixel \(dx) away must not reach the centre") }
    }
  }

  /// Tiled = untiled. Windows crop their cores (≥ halo from any inner window edge), so each output
  /// pixel sees the same inputs as in the whole-image pass. Measured: bit-identical (0) on the CPU
  /// and PoCL. The bound 1e-6 (outputs in [0, 1]) leaves room only for float32 reordering where a
  /// window's convolutions take another algorithm than the whole image's; a halo one pixel short
  /// gives 1.1e-5 here (checked), so the bound catches it.
  func testTiledEqualsUntiledOnEveryDevice() throws {
    let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: 2))
    let im = Self.testImage(width: 70, height: 58, seed: 9)
    for device in try allDevices() {
      let whole = try Upscaler(model: sr, device: device).upscale(im)
      var windows = 0
      let up = try Upscaler(model: sr, device: device, tile: 2 * 12 + 16)
      XCTAssertEqual(up.halo, 12)
      let tiled = try up.upscale(im) { _, total in windows = total }
      XCTAssertGreaterThanOrEqual(windows, 9, "the image must need several windows in both directions")
      XCTAssertEqual([tiled.width, tiled.height], [280, 232])
      let d = maxAbsDiff(tiled.data, whole.data)
      XCTAssertLessThanOrEqual(d, 1e-6, "tiled vs untiled on \(device.name): max |Δ| \(d)")
    }
  }

  /// Real SRResNet-16 weights, a memory budget that forces windows: still exact.
  func testPretrainedTiledEqualsUntiled() throws {
    let sr = try SRResNet(weights: try pretrained(WeightStore.srresnet))
    let im = Self.testImage(width: 160, height: 60, seed: 5)
    let cpu = CPUDevice(threads: 2)
    let whole = try Upscaler(model: sr, device: cpu).upscale(im)
    let probe = try Upscaler(model: sr, device: cpu)
    XCTAssertEqual(probe.halo, 40)
    // A budget that admits a 96 × 96 window but not the whole 160 × 60 image.
    let budget = probe.plannedBytes(height: 96, width: 96)
    XCTAssertGreaterThan(probe.plannedBytes(height: 60, width: 160), budget)
    let up = try Upscaler(model: sr, device: cpu, memoryBudget: budget)
    let l = up.layout(width: 160, height: 60)
    XCTAssertGreaterThan(l.columns, 1)
    let tiled = try up.upscale(im)
    let d = maxAbsDiff(tiled.data, whole.data)
    // Same bound and reason as above.
    XCTAssertLessThanOrEqual(d, 1e-6, "max |Δ| \(d)")
  }

  func testTileSmallerThanTwiceTheHaloIsRefused() throws {
    let sr = try SRResNet(weights: RandomWeights.srresnet(blocks: 1))
    XCTAssertThrowsError(try Upscaler(model: sr, device: CPUDevice(threads: 1), tile: 20))
  }
}
