import Compute
import ComputeCPU
import Foundation
import Imaging
import Models
import SuperResolution
import XCTest

final class UpscalerTests: XCTestCase {
  /// Tiling with blended overlaps matches running the whole image at once to within a fraction of
  /// an 8-bit level, so tile seams are invisible.
  func testTiledUpscaleMatchesWholeImage() throws {
    let sr = try SRResNet(weights: try pretrained(WeightStore.srresnet))
    var rng = SplitMix64(seed: 9)
    let w = 100, h = 70
    var im = Image(width: w, height: h, channels: 3)
    for c in 0..<3 {
      for y in 0..<h {
        for x in 0..<w {
          im[c, y, x] = 0.5 + 0.3 * sin(Float(x) / 7 + Float(c)) * cos(Float(y) / 5) + 0.05 * (rng.nextFloat() - 0.5)
        }
      }
    }
    let cpu = CPUDevice(threads: 2)
    let whole = try Upscaler(model: sr, device: cpu, tile: 128).upscale(im)
    var tiles = 0
    let tiled = try Upscaler(model: sr, device: cpu, tile: 48, overlap: 16).upscale(im) { _, total in tiles = total }
    XCTAssertGreaterThan(tiles, 4, "the tiled path must actually tile")
    XCTAssertEqual([tiled.width, tiled.height], [400, 280])
    let diffs = zip(whole.data, tiled.data).map { abs($0 - $1) }
    let mean = diffs.reduce(0, +) / Float(diffs.count)
    // Receptive field (~40 LR px) exceeds the 16 px overlap, so tiles differ slightly at their
    // centres' far edges; blending keeps the mean far below one level (1/255 ≈ 3.9e-3).
    XCTAssertLessThan(mean, 2e-4, "mean |Δ| \(mean)")
    XCTAssertLessThan(diffs.max()!, 2.0 / 255, "max |Δ| \(diffs.max()!)")
  }
}
