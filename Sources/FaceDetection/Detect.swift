import Foundation
import Imaging

/// One detected object: a rectangle in the input image's pixels and how many raw detections
/// (windows at neighbouring positions and scales) were grouped into it.
public struct Detection: Sendable, Equatable, CustomStringConvertible {
  public var x: Int, y: Int, width: Int, height: Int
  /// The group's size (OpenCV's `numDetections`): larger is more certain.
  public var neighbors: Int

  /// A detection from its rectangle and group size.
  public init(x: Int, y: Int, width: Int, height: Int, neighbors: Int) {
    self.x = x; self.y = y; self.width = width; self.height = height; self.neighbors = neighbors
  }

  /// "W×H at (x, y), n neighbours".
  public var description: String { "\(width)×\(height) at (\(x), \(y)), \(neighbors) neighbours" }
}

extension HaarCascade {
  /// Finds objects the way OpenCV's `CascadeClassifier::detectMultiScale` (4.x) does, and gives the
  /// same rectangles for the same 8-bit input:
  ///
  /// - gray = (9798 R + 19235 G + 3735 B + 2^14) >> 15 on 8-bit values (`cvtColor` BGR2GRAY);
  /// - scales 1, f, f², … while the scaled window fits the image, keeping those whose window is at
  ///   least `minSize`; at each the image is shrunk by the scale (bit-exact bilinear, as OpenCV) and
  ///   the fixed window slides in steps of 2 px (1 px from scale 2 on), skipping one extra step
  ///   after a window the first stage rejects;
  /// - each window is variance-normalised as `HaarEvaluator` does and run through the stages;
  ///   windows with almost no contrast are rejected outright;
  /// - the raw hits are clustered with `groupRectangles(minNeighbors, eps: 0.2)`; a cluster needs
  ///   more than `minNeighbors` members. `minNeighbors` 0 returns the raw hits.
  ///
  /// The image's values are taken as 8-bit (round(v·255), clamped). Channels: 1 (gray) or ≥ 3 (RGB;
  /// further channels ignored). Returns the groups in no particular order.
  public func detect(in image: Image, scaleFactor: Float = 1.1, minNeighbors: Int = 3, minSize: Int = 30) -> [Detection] {
    precondition(scaleFactor > 1 && scaleFactor.isFinite, "scaleFactor must be greater than 1")
    let gray = Self.gray8(image)
    let raw = rawDetections(
      gray: gray, width: image.width, height: image.height,
      scaleFactor: scaleFactor, minSize: minSize)
    return Self.groupRectangles(raw, groupThreshold: minNeighbors, eps: 0.2)
  }

  /// 8-bit luma as OpenCV's fixed-point BGR2GRAY.
  package static func gray8(_ image: Image) -> [UInt8] {
    let n = image.width * image.height
    func byte(_ v: Float) -> Int { v.isNaN ? 0 : Int(min(255, max(0, (v * 255).rounded()))) }
    var out = [UInt8](repeating: 0, count: n)
    image.data.withUnsafeBufferPointer { d in
      if image.channels < 3 {
        for i in 0..<n { out[i] = UInt8(byte(d[i])) }
      } else {
        for i in 0..<n {
          let r = byte(d[i]), g = byte(d[n + i]), b = byte(d[2 * n + i])
          out[i] = UInt8((r * 9798 + g * 19235 + b * 3735 + (1 << 14)) >> 15)
        }
      }
    }
    return out
  }

  /// The scales OpenCV searches: factor = scaleFactor^k (in double) while the rounded window fits
  /// the image, stored as Float; those whose window is smaller than minSize are skipped.
  func scales(imageWidth: Int, imageHeight: Int, scaleFactor: Float, minSize: Int) -> [Float] {
    // A Float argument such as 1.1 is widened through its shortest decimal form, so the factors are
    // those OpenCV computes from the double 1.1 (Double(Float(1.1)) is 1.100000024).
    let step = Double(scaleFactor.description) ?? Double(scaleFactor)
    var out: [Float] = []
    var factor = 1.0
    while true {
      let w = Int((Double(windowWidth) * factor).rounded(.toNearestOrEven))
      let h = Int((Double(windowHeight) * factor).rounded(.toNearestOrEven))
      if w > imageWidth || h > imageHeight { break }
      let f = Float(factor)
      let fw = Int((Float(windowWidth) * f).rounded(.toNearestOrEven))
      let fh = Int((Float(windowHeight) * f).rounded(.toNearestOrEven))
      if fw >= minSize && fh >= minSize { out.append(f) }
      factor *= step
      if out.count > 10_000 { break }  // unreachable for scaleFactor > 1 on a real image; a guard
    }
    return out
  }

  /// Every window the whole cascade accepts, in input-image pixels (before grouping).
  package func rawDetections(gray: [UInt8], width: Int, height: Int, scaleFactor: Float, minSize: Int) -> [Rect] {
    var found: [Rect] = []
    let ww = windowWidth, wh = windowHeight
    guard width >= ww && height >= wh else { return found }
    let tilted = hasTiltedFeatures
    for scale in scales(imageWidth: width, imageHeight: height, scaleFactor: scaleFactor, minSize: minSize) {
      let sw = Int((Float(width) / scale).rounded(.toNearestOrEven))
      let sh = Int((Float(height) / scale).rounded(.toNearestOrEven))
      guard sw >= ww + 1 && sh >= wh + 1 else { continue }  // no window position (OpenCV: x + W < sw + 1)
      let img = Resize8.resize(gray, width: width, height: height, toWidth: sw, height: sh)
      let integral = Integral(img, width: sw, height: sh, tilted: tilted)
      let step = scale >= 2 ? 1 : 2
      let winW = Int((Float(ww) * scale).rounded(.toNearestOrEven))
      let winH = Int((Float(wh) * scale).rounded(.toNearestOrEven))
      let eval = Evaluator(cascade: self, integral: integral)
      var y = 0
      while y + wh < sh + 1 {
        var x = 0
        while x + ww < sw + 1 {
          let result = eval.run(x: x, y: y)
          if result > 0 {
            found.append(
              Rect(
                x: Int((Float(x) * scale).rounded(.toNearestOrEven)),
                y: Int((Float(y) * scale).rounded(.toNearestOrEven)), width: winW, height: winH))
          }
          if result == 0 { x += step }  // rejected by the first stage: skip the next position too
          x += step
        }
        y += step
      }
    }
    return found
  }
}

package struct Rect: Equatable {
  package var x: Int, y: Int, width: Int, height: Int
  package init(x: Int, y: Int, width: Int, height: Int) { self.x = x; self.y = y; self.width = width; self.height = height }
}

/// Integral images of one pyramid level, (w+1)×(h+1) each, as OpenCV's `integral(…, CV_32S, CV_32S)`:
/// sums and squared sums in 32-bit wrapping arithmetic (a window's difference is exact modulo 2³²,
/// and a window's true sums fit), plus the 45°-rotated sums when the cascade has tilted features.
package struct Integral {
  let stride: Int
  var sum: [Int32]
  var sqsum: [UInt32]
  var tilted: [Int32]

  init(_ img: [UInt8], width w: Int, height h: Int, tilted wantTilted: Bool) {
    stride = w + 1
    sum = [Int32](repeating: 0, count: (w + 1) * (h + 1))
    sqsum = [UInt32](repeating: 0, count: (w + 1) * (h + 1))
    tilted = []
    let st = stride
    img.withUnsafeBufferPointer { p in
      sum.withUnsafeMutableBufferPointer { s in
        sqsum.withUnsafeMutableBufferPointer { q in
          for y in 0..<h {
            var rs: Int32 = 0
            var rq: UInt32 = 0
            let row = (y + 1) * st, prev = y * st
            for x in 0..<w {
              let v = p[y * w + x]
              rs &+= Int32(v)
              rq &+= UInt32(v) * UInt32(v)
              s[row + x + 1] = s[prev + x + 1] &+ rs
              q[row + x + 1] = q[prev + x + 1] &+ rq
            }
          }
        }
      }
    }
    if wantTilted { tilted = Self.rotated(img, width: w, height: h) }
  }

  /// T[Y][X] = Σ img(x', y') over y' < Y, |x' − (X−1)| ≤ Y−1−y': the triangle opening upwards
  /// from (X−1, Y−1), which is what OpenCV's tilted integral holds. Computed by the recurrence
  /// R(x,y) = R(x−1,y−1) + R(x+1,y−1) − R(x,y−2) + I(x,y) + I(x,y−1) on rows padded by h on each
  /// side, since the triangles reach past the image's edges.
  package static func rotated(_ img: [UInt8], width w: Int, height h: Int) -> [Int32] {
    let pad = h + 1, ew = w + 2 * pad
    // R rows: ry = y + 1 for image row y; R row 0 and the virtual row −1 are zero.
    var r = [Int32](repeating: 0, count: (h + 1) * ew)
    func pix(_ x: Int, _ y: Int) -> Int32 { x >= 0 && x < w && y >= 0 && y < h ? Int32(img[y * w + x]) : 0 }
    for y in 0..<h {
      let ry = y + 1
      for ex in 1..<(ew - 1) {
        let x = ex - pad
        let a = r[(ry - 1) * ew + ex - 1], b = r[(ry - 1) * ew + ex + 1]
        let c: Int32 = ry >= 2 ? r[(ry - 2) * ew + ex] : 0
        r[ry * ew + ex] = a &+ b &- c &+ pix(x, y) &+ pix(x, y - 1)
      }
    }
    // T[Y][X] = R(x = X − 1, row Y).
    var t = [Int32](repeating: 0, count: (h + 1) * (w + 1))
    for yy in 1...h { for xx in 0...w { t[yy * (w + 1) + xx] = r[yy * ew + xx - 1 + pad] } }
    return t
  }
}

/// Runs the cascade on windows of one pyramid level (OpenCV's `HaarEvaluator` + `predictOrdered*`).
struct Evaluator {
  let cascade: HaarCascade
  let integral: Integral
  /// Per feature, per rect (3): the four corner offsets relative to the window's top-left entry.
  let offsets: [Int32]
  let weights: [Float]
  let isTilted: [Bool]
  let normOffsets: (Int, Int, Int, Int)
  let normArea: Double

  init(cascade: HaarCascade, integral: Integral) {
    self.cascade = cascade
    self.integral = integral
    let st = integral.stride
    var offsets = [Int32](repeating: 0, count: cascade.features.count * 12)
    var weights = [Float](repeating: 0, count: cascade.features.count * 3)
    for (i, f) in cascade.features.enumerated() {
      for (k, r) in f.rects.enumerated() {
        let o: [Int]
        if f.tilted {
          // (x, y), (x − h, y + h), (x + w, y + w), (x + w − h, y + w + h): CV_TILTED_OFS.
          o = [
            r.x + st * r.y, r.x - r.height + st * (r.y + r.height), r.x + r.width + st * (r.y + r.width),
            r.x + r.width - r.height + st * (r.y + r.width + r.height),
          ]
        } else {
          o = [r.x + st * r.y, r.x + r.width + st * r.y, r.x + st * (r.y + r.height), r.x + r.width + st * (r.y + r.height)]
        }
        for j in 0..<4 { offsets[i * 12 + k * 4 + j] = Int32(o[j]) }
        weights[i * 3 + k] = r.weight
      }
    }
    self.offsets = offsets
    self.weights = weights
    self.isTilted = cascade.features.map(\.tilted)
    // The normalisation rectangle is the window inset by one pixel.
    let (nx, ny, nw, nh) = (1, 1, cascade.windowWidth - 2, cascade.windowHeight - 2)
    normOffsets = (nx + st * ny, nx + nw + st * ny, nx + st * (ny + nh), nx + nw + st * (ny + nh))
    normArea = Double(nw * nh)
  }

  /// 1 when every stage accepts the window at (x, y); −k when stage k rejects it (so 0 for the first
  /// stage); −1 also for a window without contrast, as OpenCV's `runAt`.
  func run(x: Int, y: Int) -> Int {
    let base = x + y * integral.stride
    return integral.sum.withUnsafeBufferPointer { sum in
      integral.sqsum.withUnsafeBufferPointer { sq in
        integral.tilted.withUnsafeBufferPointer { tl in
          offsets.withUnsafeBufferPointer { ofs in
            weights.withUnsafeBufferPointer { wts in
              let (a, b, c, d) = normOffsets
              let s = sum[base + a] &- sum[base + b] &- sum[base + c] &+ sum[base + d]
              let q = sq[base + a] &- sq[base + b] &- sq[base + c] &+ sq[base + d]
              // nf = area·Σv² − (Σv)², sqrt, as HaarEvaluator::setWindow; flat windows are rejected,
              // and so are those whose contrast is below area/nf < 0.1.
              var nf = normArea * Double(q) - Double(s) * Double(s)
              guard nf > 0 else { return -1 }
              nf = nf.squareRoot()
              let norm = Float(1 / nf)
              guard normArea * Double(norm) < 0.1 else { return -1 }

              @inline(__always) func feature(_ f: Int) -> Float {
                let o = f * 12
                let img = isTilted[f] ? tl : sum
                @inline(__always) func rect(_ k: Int) -> Int32 {
                  let p = o + 4 * k
                  return img[base + Int(ofs[p])] &- img[base + Int(ofs[p + 1])] &- img[base + Int(ofs[p + 2])]
                    &+ img[base + Int(ofs[p + 3])]
                }
                var v = wts[f * 3] * Float(rect(0)) + wts[f * 3 + 1] * Float(rect(1))
                if wts[f * 3 + 2] != 0 { v += wts[f * 3 + 2] * Float(rect(2)) }
                return v * norm
              }

              return cascade.nodes.withUnsafeBufferPointer { nodes in
                cascade.leaves.withUnsafeBufferPointer { leaves in
                  for (si, stage) in cascade.stages.enumerated() {
                    var total = 0.0
                    if cascade.isStumps {
                      // Tree t is node t with leaves 2t, 2t+1.
                      for t in stage.treeStart..<(stage.treeStart + stage.treeCount) {
                        let n = nodes[t]
                        total += Double(feature(Int(n.feature)) < n.threshold ? leaves[2 * t] : leaves[2 * t + 1])
                      }
                    } else {
                      for t in stage.treeStart..<(stage.treeStart + stage.treeCount) {
                        let tree = cascade.trees[t]
                        var idx: Int32 = 0
                        repeat {
                          let n = nodes[tree.nodeStart + Int(idx)]
                          idx = feature(Int(n.feature)) < n.threshold ? n.left : n.right
                        } while idx > 0
                        total += Double(leaves[tree.leafStart - Int(idx)])
                      }
                    }
                    if total < Double(stage.threshold) { return -si }
                  }
                  return 1
                }
              }
            }
          }
        }
      }
    }
  }
}
