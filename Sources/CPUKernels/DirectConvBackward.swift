import CPURuntime
import Compute

// The backward passes of the layers DirectConv runs forward (≤ 4 output channels, stride 1:
// SRResNet's 9×9 conv to RGB). Through im2col their GEMMs have only 3 rows against a patch
// matrix of inC·k² × H·W per image (191 MB for 64 channels, 9×9, 96×96), so they are bound by
// memory: 8–22 GFLOP/s measured. Instead:
//  * backward-filter accumulates dW directly from zero-padded input rows and dy rows, all outputs
//    and three kernel columns at a time in registers (no patch matrix);
//  * backward-data is a forward convolution of dy with the flipped, transposed kernel (stride 1):
//    dx = conv(dy, W'), W'[ci, o, ky, kx] = W[o, ci, kH−1−ky, kW−1−kx], padding kH−1−p — an
//    ordinary im2col GEMM with inC rows.
extension DirectConv {
  /// Geometry of backward-data as a forward convolution of dy (stride 1 only).
  static func flippedGeometry(_ c: ConvGeometry) -> ConvGeometry {
    ConvGeometry(batch: c.batch, inChannels: c.outChannels, inHeight: c.outHeight, inWidth: c.outWidth,
                 outChannels: c.inChannels, kernel: (c.kernelH, c.kernelW),
                 padding: (c.kernelH - 1 - c.padH, c.kernelW - 1 - c.padW),
                 paddingEnd: (c.kernelH - 1 - c.padBottom, c.kernelW - 1 - c.padRight))
  }

  static func backwardDataApplies(_ c: ConvGeometry) -> Bool {
    applies(c) && c.padH < c.kernelH && c.padW < c.kernelW && c.padBottom < c.kernelH && c.padRight < c.kernelW
  }

  /// W'[ci, o, ky, kx] = W[o, ci, kH−1−ky, kW−1−kx].
  static func flipKernel(_ c: ConvGeometry, w: UnsafePointer<Float>, into f: UnsafeMutablePointer<Float>) {
    let kh = c.kernelH, kw = c.kernelW, k = kh * kw
    for o in 0..<c.outChannels {
      for ci in 0..<c.inChannels {
        let src = w + (o * c.inChannels + ci) * k, dst = f + (ci * c.outChannels + o) * k
        for ky in 0..<kh { for kx in 0..<kw { dst[ky * kw + kx] = src[(kh - 1 - ky) * kw + (kw - 1 - kx)] } }
      }
    }
  }

  /// Workspace floats for backwardFilter: per thread one padded input plane, four padded dy planes.
  static func backwardFilterWorkspaceFloats(_ c: ConvGeometry, threads: Int) -> Int {
    let g = filterLayout(c)
    return threads * (g.planeRows * g.rowLen + 4 * c.outHeight * g.dyRow + 4 * c.kernelH * c.kernelW + 16)
  }

  static func filterLayout(_ c: ConvGeometry) -> (rowLen: Int, dyRow: Int, planeRows: Int) {
    let blocks = (c.outWidth + 15) / 16
    let rowLen = (blocks * 16 + c.kernelW + 15) / 16 * 16
    return (rowLen, blocks * 16, c.outHeight + c.kernelH - 1)
  }

  /// dw[o, ci, ky, kx] (+)= Σ_n Σ_oy,ox dy[n, o, oy, ox] · x[n, ci, oy − pT + ky, ox − pL + kx].
  /// Threads split the input channels (disjoint dw entries, no reduction between threads).
  static func backwardFilter(_ c: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, accumulate: Bool,
                             dw: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>,
                             pool: ThreadSplitter) {
    typealias V = SIMD16<Float>
    let kh = c.kernelH, kw = c.kernelW, cin = c.inChannels, cout = c.outChannels
    let oh = c.outHeight, ow = c.outWidth, h = c.inHeight, wd = c.inWidth
    let (rowLen, dyRow, planeRows) = filterLayout(c)
    let blocks = dyRow / 16
    let perThread = planeRows * rowLen + 4 * oh * dyRow + 4 * kh * kw + 16
    let box = UnsafeSendable(value: (x, dy, dw, workspace))
    let chunk = (cin + pool.threads - 1) / pool.threads
    pool.forEach(min(pool.threads, cin)) { t in
      let (x, dy, dw, workspace) = box.value
      let plane = workspace + t * perThread
      let dplanes = plane + planeRows * rowLen
      let sums = dplanes + 4 * oh * dyRow
      for ci in (t * chunk)..<min(cin, (t + 1) * chunk) {
        sums.update(repeating: 0, count: 4 * kh * kw)
        for n in 0..<c.batch {
          // plane[r][j] = x[n, ci, r − pT, j − pL], zero outside the image.
          plane.update(repeating: 0, count: planeRows * rowLen)
          let src = x + (n * cin + ci) * h * wd
          for iy in 0..<h where iy + c.padH < planeRows {
            (plane + (iy + c.padH) * rowLen + c.padW).update(from: src + iy * wd, count: min(wd, rowLen - c.padW))
          }
          // dplanes[o][oy][j] = dy[n, o, oy, j] for j < oW, else 0 (and 0 for o ≥ outC).
          dplanes.update(repeating: 0, count: 4 * oh * dyRow)
          for o in 0..<cout {
            let d = dy + (n * cout + o) * oh * ow
            for oy in 0..<oh { (dplanes + (o * oh + oy) * dyRow).update(from: d + oy * ow, count: ow) }
          }
          let dr = UnsafeRawPointer(dplanes), pr = UnsafeRawPointer(plane)
          for ky in 0..<kh {
            var kx0 = 0
            while kx0 < kw {
              let nk = min(3, kw - kx0)
              var a00 = V(), a01 = V(), a02 = V(), a10 = V(), a11 = V(), a12 = V()
              var a20 = V(), a21 = V(), a22 = V(), a30 = V(), a31 = V(), a32 = V()
              for oy in 0..<oh {
                let prow = pr + ((oy + ky) * rowLen + kx0) * 4
                let drow = dr + oy * dyRow * 4
                for b in 0..<blocks {
                  let d0 = drow.loadUnaligned(fromByteOffset: b * 64, as: V.self)
                  let d1 = drow.loadUnaligned(fromByteOffset: (oh * dyRow + b * 16) * 4, as: V.self)
                  let d2 = drow.loadUnaligned(fromByteOffset: (2 * oh * dyRow + b * 16) * 4, as: V.self)
                  let d3 = drow.loadUnaligned(fromByteOffset: (3 * oh * dyRow + b * 16) * 4, as: V.self)
                  let v0 = prow.loadUnaligned(fromByteOffset: b * 64, as: V.self)
                  a00.madd(d0, v0); a10.madd(d1, v0); a20.madd(d2, v0); a30.madd(d3, v0)
                  let v1 = prow.loadUnaligned(fromByteOffset: b * 64 + 4, as: V.self)
                  a01.madd(d0, v1); a11.madd(d1, v1); a21.madd(d2, v1); a31.madd(d3, v1)
                  let v2 = prow.loadUnaligned(fromByteOffset: b * 64 + 8, as: V.self)
                  a02.madd(d0, v2); a12.madd(d1, v2); a22.madd(d2, v2); a32.madd(d3, v2)
                }
              }
              func add(_ o: Int, _ k: Int, _ a: V) {
                if o < cout && k < nk { sums[(o * kh + ky) * kw + kx0 + k] += a.sum() }
              }
              add(0, 0, a00); add(0, 1, a01); add(0, 2, a02); add(1, 0, a10); add(1, 1, a11); add(1, 2, a12)
              add(2, 0, a20); add(2, 1, a21); add(2, 2, a22); add(3, 0, a30); add(3, 1, a31); add(3, 2, a32)
              kx0 += 3
            }
          }
        }
        for o in 0..<cout {
          for j in 0..<(kh * kw) {
            let at = (o * cin + ci) * kh * kw + j
            dw[at] = (accumulate ? dw[at] : 0) + sums[o * kh * kw + j]
          }
        }
      }
    }
  }
}
