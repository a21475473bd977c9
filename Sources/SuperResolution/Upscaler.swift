import Compute
import Foundation
import Graph
import Imaging
import Models

/// 4× super-resolution of any image size: the image is cut into overlapping square tiles that run
/// through one compiled SRResNet plan (memory bounded by the tile size), and the upscaled tiles are
/// blended with linear ramps across the overlaps so no seam shows.
public final class Upscaler {
  public let model: SRResNet
  public let device: Device
  public let tile: Int
  public let overlap: Int
  private var plans: [String: (Plan, Value, Value)] = [:]

  /// `tile` and `overlap` in low-resolution pixels. SRResNet's receptive field reaches ~40 LR pixels;
  /// 16 pixels of overlap with blending keeps tile borders invisible (< 1 level, see tests).
  public init(model: SRResNet, device: Device, tile: Int = 96, overlap: Int = 16) {
    precondition(tile > 2 * overlap)
    self.model = model; self.device = device; self.tile = tile; self.overlap = overlap
  }

  func plan(_ h: Int, _ w: Int) throws -> (Plan, Value, Value) {
    let key = "\(h)x\(w)"
    if let p = plans[key] { return p }
    let (g, x, y) = try model.graph(batch: 1, height: h, width: w)
    let p = (try g.compile(on: device), x, y)
    plans[key] = p
    return p
  }

  /// Upscales `image` (3 channels, [0, 1]) 4×; `progress(done, total)` after each tile.
  public func upscale(_ image: Image, progress: (Int, Int) -> Void = { _, _ in }) throws -> Image {
    precondition(image.channels == 3)
    let W = image.width, H = image.height, s = 4
    if W <= tile && H <= tile {
      let (p, x, y) = try plan(H, W)
      try p.set(x, image.data)
      try p.run()
      progress(1, 1)
      return Image(width: W * s, height: H * s, channels: 3, data: try p.read(y))
    }
    let step = tile - overlap
    func starts(_ n: Int) -> [Int] {
      if n <= tile { return [0] }
      var v = Array(stride(from: 0, to: n - tile, by: step))
      v.append(n - tile)
      return v
    }
    let xs = starts(W), ys = starts(H)
    let th = min(tile, H), tw = min(tile, W)
    let (p, xv, yv) = try plan(th, tw)
    var acc = [Float](repeating: 0, count: 3 * H * s * W * s)
    var wsum = [Float](repeating: 0, count: H * s * W * s)
    // Weight ramps: 1 inside, falling linearly to ~0 across the overlap at interior tile edges.
    func ramp(_ i: Int, _ n: Int, lowEdge: Bool, highEdge: Bool) -> Float {
      let o = Float(overlap * s)
      var w: Float = 1
      if !lowEdge { w = min(w, (Float(i) + 0.5) / o) }
      if !highEdge { w = min(w, (Float(n - i) - 0.5) / o) }
      return max(w, 1e-3)
    }
    var done = 0
    for y0 in ys {
      for x0 in xs {
        let crop = image.crop(x: x0, y: y0, width: tw, height: th)
        try p.set(xv, crop.data)
        try p.run()
        let out = try p.read(yv)
        let oh = th * s, ow = tw * s
        for yy in 0..<oh {
          let wy = ramp(yy, oh, lowEdge: y0 == 0, highEdge: y0 + th == H)
          for xx in 0..<ow {
            let w = wy * ramp(xx, ow, lowEdge: x0 == 0, highEdge: x0 + tw == W)
            let gy = y0 * s + yy, gx = x0 * s + xx
            wsum[gy * W * s + gx] += w
            for c in 0..<3 { acc[(c * H * s + gy) * W * s + gx] += w * out[(c * oh + yy) * ow + xx] }
          }
        }
        done += 1
        progress(done, xs.count * ys.count)
      }
    }
    let plane = H * s * W * s
    for c in 0..<3 { for i in 0..<plane { acc[c * plane + i] /= wsum[i] } }
    return Image(width: W * s, height: H * s, channels: 3, data: acc)
  }
}
