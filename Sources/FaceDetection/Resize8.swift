/// OpenCV's bit-exact bilinear resize of an 8-bit single-channel image (`INTER_LINEAR_EXACT`,
/// `resize_bitExact` in imgproc/src/resize.cpp), which `CascadeClassifier` uses to build its image
/// pyramid. Reproducing it exactly, rather than any bilinear filter, keeps the pyramid's pixels, and
/// so the detections, identical to OpenCV's.
///
/// Per axis, destination pixel d samples the source at s = (d + 0.5)·(src/dst) − 0.5 (in double);
/// the weight of the right/lower neighbour is round-half-even(frac(s)·256), the other 256 minus it.
/// Positions left of pixel 0 or at/after the last pixel take that edge pixel. The horizontal pass
/// keeps 8 fractional bits (UInt16); the vertical one rounds the 16-bit-fraction sum to 8 bits.
/// An exact 2:1 reduction on both axes is a 2×2 box average, as in OpenCV.
enum Resize8 {
  struct Axis {
    var offset: [Int]
    var weight1: [UInt16]  // weight of offset+1; offset's weight is 256 − weight1
    var minIndex: Int  // destination indices below this take source pixel 0
    var maxIndex: Int  // destination indices from this on take the last source pixel
  }

  static func axis(src: Int, dst: Int) -> Axis {
    let scale = 1.0 / (Double(dst) / Double(src))
    var a = Axis(
      offset: [Int](repeating: 0, count: dst), weight1: [UInt16](repeating: 0, count: dst),
      minIndex: 0, maxIndex: dst)
    for d in 0..<dst {
      let f = scale * (Double(d) + 0.5) - 0.5
      let i = Int(f.rounded(.down))
      if i >= 0 && src > 1 {
        if i < src - 1 {
          a.offset[d] = i
          a.weight1[d] = UInt16(((f - Double(i)) * 256).rounded(.toNearestOrEven))
        } else {
          a.offset[d] = src - 1
          a.maxIndex = min(a.maxIndex, d)
        }
      } else {
        a.minIndex = max(a.minIndex, d + 1)
      }
    }
    return a
  }

  static func resize(_ src: [UInt8], width sw: Int, height sh: Int, toWidth dw: Int, height dh: Int) -> [UInt8] {
    if sw == dw && sh == dh { return src }
    var out = [UInt8](repeating: 0, count: dw * dh)
    if sw == 2 * dw && sh == 2 * dh {
      for y in 0..<dh {
        for x in 0..<dw {
          let p = 2 * y * sw + 2 * x
          out[y * dw + x] = UInt8((Int(src[p]) + Int(src[p + 1]) + Int(src[p + sw]) + Int(src[p + sw + 1]) + 2) >> 2)
        }
      }
      return out
    }
    let ax = axis(src: sw, dst: dw), ay = axis(src: sh, dst: dh)
    src.withUnsafeBufferPointer { s in
      out.withUnsafeMutableBufferPointer { o in
        // Horizontal pass of one source row into 8.8 fixed point.
        func hline(_ row: Int, into buf: inout [UInt16]) {
          let base = row * sw
          let first = UInt16(s[base]) << 8, last = UInt16(s[base + sw - 1]) << 8
          for x in 0..<dw {
            if x < ax.minIndex {
              buf[x] = first
            } else if x >= ax.maxIndex {
              buf[x] = last
            } else {
              let p = base + ax.offset[x], w1 = ax.weight1[x]
              buf[x] = (256 - w1) &* UInt16(s[p]) &+ w1 &* UInt16(s[p + 1])
            }
          }
        }
        func set(_ y: Int, _ line: [UInt16]) {
          for x in 0..<dw { o[y * dw + x] = UInt8(min(255, (UInt32(line[x]) + 128) >> 8)) }
        }
        var line0 = [UInt16](repeating: 0, count: dw), line1 = line0
        var cached = -1  // source row held in line0 (line1 holds cached + 1)
        for y in 0..<dh {
          if y < ay.minIndex {
            hline(0, into: &line0); cached = -1
            set(y, line0)
          } else if y >= ay.maxIndex {
            hline(sh - 1, into: &line0); cached = -1
            set(y, line0)
          } else {
            let r = ay.offset[y]
            if r != cached {
              if r == cached + 1 && cached >= 0 { swap(&line0, &line1) } else { hline(r, into: &line0) }
              hline(r + 1, into: &line1)
              cached = r
            }
            let w1 = UInt32(ay.weight1[y]), w0 = 256 - w1
            for x in 0..<dw {
              let v = (UInt32(line0[x]) * w0 + UInt32(line1[x]) * w1 + 0x8000) >> 16
              o[y * dw + x] = UInt8(min(255, v))
            }
          }
        }
      }
    }
    return out
  }
}
