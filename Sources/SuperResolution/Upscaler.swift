import Compute
import Foundation
import Graph
import Imaging
import Models

/// 4× super-resolution of any image size, exact: the output equals one forward pass over the whole
/// image, however it is run.
///
/// The whole image goes through one compiled SRResNet plan when its planned memory fits the
/// device's budget. Otherwise it runs in windows of `tile` × `tile` low-resolution pixels: each
/// window contributes only its core, the pixels at least `halo` away from any window edge that is
/// not an image edge, where `halo` is the model's receptive field derived from its graph
/// (`Graph.receptiveField`, 40 LR pixels for SRResNet-16). Cores are cropped, never blended, so
/// every output pixel is computed from exactly the input pixels the untiled pass would use.
public final class Upscaler {
  public let model: SRResNet
  public let device: Device
  /// Window side in LR pixels when tiling; nil: the largest window the memory budget allows.
  public let tile: Int?
  /// Bytes a plan may take (default: the device's `memoryBudget`).
  public let memoryBudget: Int
  /// The receptive field's reach in LR pixels, and the upscaling factor.
  public let halo: Int
  public let scale: Int
  /// Planned bytes (arena + inputs/outputs) ≈ fixedBytes + bytesPerPixel · H · W.
  let fixedBytes: Double, bytesPerPixel: Double
  private var plans: [String: (Plan, Value, Value)] = [:]

  /// `tile`: window side in LR pixels (must exceed twice the halo); nil derives it from memory.
  public init(model: SRResNet, device: Device, tile: Int? = nil, memoryBudget: Int? = nil) throws {
    self.model = model; self.device = device
    self.memoryBudget = memoryBudget ?? device.memoryBudget
    var sizes: [(Double, Double)] = []
    var rf: (halo: Int, scale: Int)?
    for side in [16, 32] {
      let (g, x, y) = try model.graph(batch: 1, height: side, width: side)
      let m = Planner.plan(g)
      sizes.append((Double(side * side), Double(m.arenaBytes + m.pinnedBytes)))
      rf = g.receptiveField(of: y, from: x)
    }
    guard let rf else { throw ComputeError.invalidArgument("SRResNet graph: receptive field not derivable") }
    halo = rf.halo; scale = rf.scale
    bytesPerPixel = (sizes[1].1 - sizes[0].1) / (sizes[1].0 - sizes[0].0)
    fixedBytes = max(0, sizes[0].1 - bytesPerPixel * sizes[0].0)
    if let tile {
      guard tile > 2 * halo else {
        throw ComputeError.invalidArgument("tile \(tile) must exceed twice the model's receptive field (\(2 * halo) LR pixels)")
      }
    }
    self.tile = tile
  }

  /// Planned bytes for an H × W input (the estimate used against the budget).
  public func plannedBytes(height: Int, width: Int) -> Int {
    Int(fixedBytes + bytesPerPixel * Double(height * width))
  }

  /// The window side used when the image does not fit at once: `tile`, or the largest even side
  /// whose plan fits the budget (at least 2·halo + 16).
  public var windowSide: Int {
    if let tile { return tile }
    let fit = Int(((Double(memoryBudget) - fixedBytes) / bytesPerPixel).squareRoot())
    return max(2 * halo + 16, fit & ~1)
  }

  func plan(_ h: Int, _ w: Int) throws -> (Plan, Value, Value) {
    let key = "\(h)x\(w)"
    if let p = plans[key] { return p }
    let (g, x, y) = try model.graph(batch: 1, height: h, width: w)
    let p = (try g.compile(on: device), x, y)
    plans[key] = p
    return p
  }

  /// Window placement along one axis of length n with window side t: (window start, core start,
  /// core end) triples whose cores tile 0..<n exactly.
  func windows(_ n: Int, _ t: Int) -> [(start: Int, core0: Int, core1: Int)] {
    if n <= t { return [(0, 0, n)] }
    let core = t - 2 * halo
    var out: [(Int, Int, Int)] = []
    var c0 = 0
    while c0 < n {
      let c1 = min(c0 + core, n)
      // Centred on the core when possible, slid inside the image otherwise; either way each core
      // pixel lies ≥ halo from every window edge that is not an image edge.
      let start = min(max(c0 - halo, 0), n - t)
      out.append((start, c0, c1))
      c0 = c1
    }
    return out
  }

  /// How the image will run: (windows across, windows down, window width, window height).
  public func layout(width W: Int, height H: Int) -> (columns: Int, rows: Int, width: Int, height: Int) {
    if tile == nil && plannedBytes(height: H, width: W) <= memoryBudget { return (1, 1, W, H) }
    let t = windowSide
    return (windows(W, t).count, windows(H, t).count, min(t, W), min(t, H))
  }

  /// Upscales `image` (3 channels, [0, 1]) `scale`×; `progress(done, total)` after each window.
  public func upscale(_ image: Image, progress: (Int, Int) -> Void = { _, _ in }) throws -> Image {
    guard image.channels == 3 else {
      throw ComputeError.invalidArgument("super-resolution takes 3-channel images, got \(image.channels)")
    }
    let W = image.width, H = image.height, s = scale
    let l = layout(width: W, height: H)
    if l.columns == 1 && l.rows == 1 && l.width == W && l.height == H {
      let (p, x, y) = try plan(H, W)
      try p.set(x, image.data)
      try p.run()
      progress(1, 1)
      return Image(width: W * s, height: H * s, channels: 3, data: try p.read(y))
    }
    let t = windowSide
    let xs = windows(W, t), ys = windows(H, t)
    let tw = l.width, th = l.height
    let (p, xv, yv) = try plan(th, tw)
    let OW = W * s, OH = H * s, ow = tw * s, oh = th * s
    var result = [Float](repeating: 0, count: 3 * OH * OW)
    var done = 0
    for wy in ys {
      for wx in xs {
        let crop = image.crop(x: wx.start, y: wy.start, width: tw, height: th)
        try p.set(xv, crop.data)
        try p.run()
        let out = try p.read(yv)
        let rowLen = (wx.core1 - wx.core0) * s
        out.withUnsafeBufferPointer { src in
          result.withUnsafeMutableBufferPointer { dst in
            for c in 0..<3 {
              for gy in (wy.core0 * s)..<(wy.core1 * s) {
                let ty = gy - wy.start * s
                let si = (c * oh + ty) * ow + (wx.core0 - wx.start) * s
                let di = (c * OH + gy) * OW + wx.core0 * s
                for i in 0..<rowLen { dst[di + i] = src[si + i] }
              }
            }
          }
        }
        done += 1
        progress(done, xs.count * ys.count)
      }
    }
    return Image(width: OW, height: OH, channels: 3, data: result)
  }
}
