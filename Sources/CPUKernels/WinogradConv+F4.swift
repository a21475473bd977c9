import CCPUFeatures
import CPURuntime
import Compute

// F(4 × 4, 2 × 2) for the 4 × 4 stride-2 convolution (`WinogradConv.Shape.tile == 4`): the same
// phase decomposition as F(2 × 2, 2 × 2) (see WinogradConv), but each phase's 2-tap correlation
// makes a 4 × 4 output tile from a 5 × 5 window in 25 products instead of 64 — 25/64 of the direct
// multiplications against 9/16 for F(2 × 2): 31 % fewer GEMM flops, for convolutions with enough
// 4 × 4 tiles to fill the GEMM panels (batch 64 at every DCGAN layer).
//
// Points 0, 1, −1, 2, ∞ (correlation y_i = Σₛ gₛ d_{i+s}, i < 4, s < 2):
//   Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1]
//   G  = [1/2 0; −1/2 −1/2; −1/6 1/6; 1/6 1/3; 0 1]
//   Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 0; 0 1 −1 8 1]
// Bᵀ and Aᵀ are small integers (exact in float32); G's thirds and sixths round once, in the
// pre-packed filters. Measured against float64 direct sums over 256 channels: ≤ 3e-6 of the
// largest output (numpy, random data), well inside the op table's bound.
//
// Forward, tile (ty, tx) is output rows 4ty … 4ty + 3, columns 4tx …; phase (py, px) window
// position j along a side is input row (column) 8t − 1 + 2j + p. Transposed, a tile is dy rows
// 4ty …, giving the 8 × 8 block of dx at 8ty, 8tx; output phase (ay, ax) window position j is dy
// row (column) 4t − 1 + a + j, and y_ij goes to dx row 8ty + 2i + ay, column 8tx + 2j + ax.
// Both transforms work on groups of 8 consecutive tiles of a chunk (in any rows or images: the
// layers' tile rows are 1 to 4 tiles wide, too narrow to vectorise along), one SIMD8 lane per
// tile: the input transform gathers each window position into a vector (the window's inner
// columns as one load per tile and an 8 × 8 transpose, the two edge columns lane by lane, zero
// where the window leaves the image) and stores V with whole-vector stores into the GEMM panels (8
// tiles of a 32-tile panel row); the output transform loads M the same way and scatters each
// lane's block, with bias and activation applied in registers. Both ask for the lines they read
// next (the next channel's window rows; M two lines ahead): their reads hop between planes and
// rows, which the hardware prefetchers do not follow.
extension WinogradConv {
  /// U_ab = Σᵢⱼ G[a][i] G[b][j] g_ij for one phase's 2 × 2 kernel (vectors of MR rows), stored at
  /// dst + (a·5 + b)·uStride.
  @inline(__always)
  static func storeF4<V: SIMD>(_ g00: V, _ g01: V, _ g10: V, _ g11: V, _ dst: UnsafeMutablePointer<Float>,
                               uStride: Int) where V.Scalar == Float {
    // G g (rows a, two columns), then (G g) Gᵀ.
    @inline(__always) func gRow(_ a: Int, _ x0: V, _ x1: V) -> V {
      switch a {
      case 0: return 0.5 * x0
      case 1: return -0.5 * (x0 + x1)
      case 2: return (x1 - x0) * (1 / 6 as Float)
      case 3: return x0 * (1 / 6 as Float) + x1 * (1 / 3 as Float)
      default: return x1
      }
    }
    for a in 0..<5 {
      let h0 = gRow(a, g00, g10), h1 = gRow(a, g01, g11)
      for b in 0..<5 {
        UnsafeMutableRawPointer(dst + (a * 5 + b) * uStride).storeBytes(of: gRow(b, h0, h1), as: V.self)
      }
    }
  }

  /// Bᵀ d for five values (points 0, 1, −1, 2, ∞).
  @inline(__always)
  static func bF4<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V) -> (V, V, V, V, V) where V.Scalar == Float {
    let e = d3 - d1
    let f = d1 - d2
    return (2 * (d0 - d2) + e, e - d1 - d2, e + 3 * f, e, d4 + 2 * (d1 - d3) - d2)
  }

  /// Aᵀ m for five values: four outputs.
  @inline(__always)
  static func aF4<V: SIMD>(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V) -> (V, V, V, V) where V.Scalar == Float {
    let s = m1 + m2, t = m1 - m2
    return (m0 + s + m3, t + 2 * m3, s + 4 * m3, t + 8 * m3 + m4)
  }

  typealias Lanes = SIMD8<Float>
  static let lanes = 8

  /// Where up to 32 consecutive tiles of a chunk sit — a panel (4 groups of 8, one SIMD8 lane per
  /// tile) for the input transform: per tile, its image and its tile row and column; tiles past
  /// the chunk repeat its last tile.
  struct PanelTiles {
    var image = InlineArray<32, Int>(repeating: 0)
    var ty = InlineArray<32, Int>(repeating: 0)
    var tx = InlineArray<32, Int>(repeating: 0)
    /// Tiles of the panel inside the chunk.
    var count = 0

    mutating func set(_ s: Shape, n0: Int, chunkTiles: Int, first t0: Int) {
      count = min(32, chunkTiles - t0)
      let tpi = s.tilesPerImage, tw = s.tilesWide
      for l in 0..<32 {
        let t = t0 + min(l, count - 1), r = t % tpi
        image[l] = n0 + t / tpi; ty[l] = r / tw; tx[l] = r % tw
      }
    }
  }

  /// V for images n0 ..< n0 + images: forward (input x, V[ξ][c·4 + phase][tile], ξ = a·5 + b),
  /// transposed (input dy, V[φ·25 + ξ][o][tile]). Work items are (panel, channel): each writes
  /// whole 32-tile rows of the panel (two cache lines per product), channel after channel.
  static func inputTransformF4(_ s: Shape, input: UnsafePointer<Float>, n0: Int, images: Int,
                               v: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    let transposed = s.transposed
    let channels = transposed ? s.outC : s.inC
    let h = transposed ? s.c.outHeight : s.c.inHeight, wd = transposed ? s.c.outWidth : s.c.inWidth
    let nr = s.vPanel, chunkTiles = images * s.tilesPerImage, panels = (chunkTiles + nr - 1) / nr
    let k = s.k, vStride = s.vStride
    // The window: forward 10 × 10 from (8ty − 1, 8tx − 1) in input pixels (output tile 4ty, 4tx);
    // transposed 6 × 6 from (4ty − 1, 4tx − 1) in dy.
    let side = transposed ? 6 : 10, step = transposed ? 4 : 8
    let box = UnsafeSendable(value: (input, v))
    pool.forRanges(panels * channels, grain: 2) { items in
      let (input, v) = box.value
      var tiles = PanelTiles(), current = -1
      // Per group of 8 and window position: each lane's row and column offsets (clamped inside
      // the image) and whether they are inside. Fixed-size, on the stack: the z loop allocates
      // nothing (HostAllocationTests).
      var rowOff = InlineArray<320, Int>(repeating: 0), colOff = rowOff
      var rowOK = InlineArray<40, SIMDMask<SIMD8<Int32>>>(repeating: .init(repeating: true))
      var colOK = rowOK
      // The gathered window, then its row transform.
      var win = InlineArray<100, Lanes>(repeating: Lanes()), tr = InlineArray<50, Lanes>(repeating: Lanes())
      do {
        for item in items {
          let p = item / channels, ch = item - p * channels
          if p != current {
            current = p
            tiles.set(s, n0: n0, chunkTiles: chunkTiles, first: p * nr)
            for g in 0..<4 {
              for r in 0..<side {
                var rm = SIMDMask<SIMD8<Int32>>(repeating: true), cm = rm
                for l in 0..<8 {
                  let u = g * 8 + l
                  let iy = step * tiles.ty[u] - 1 + r, ix = step * tiles.tx[u] - 1 + r
                  rm[l] = iy >= 0 && iy < h; cm[l] = ix >= 0 && ix < wd
                  rowOff[(g * side + r) * 8 + l] = (tiles.image[u] * channels) * h * wd + min(max(iy, 0), h - 1) * wd
                  colOff[(g * side + r) * 8 + l] = min(max(ix, 0), wd - 1)
                }
                rowOK[g * side + r] = rm; colOK[g * side + r] = cm
              }
            }
          }
          let plane = input + ch * h * wd
          for g in 0..<((tiles.count + 7) / 8) {
            // The next channel's window rows, asked for now: the planes are 4 KB and more apart,
            // the windows' rows scattered, and without it the transform waited on each row's
            // first load (a third of its time at the discriminator's 64 × 32 × 32 layer).
            if ch + 1 < channels {
              for r in 0..<side {
                let rr = (g * side + r) * 8, inner = (g * side + 1) * 8
                for l in 0..<8 { mend_prefetch_for_read(plane + h * wd + rowOff[rr + l] + colOff[inner + l]) }
              }
            }
            // Gather the window, one lane per tile. The inner columns (1 ..< side − 1: the tile's
            // own `step` columns, always inside the image) are one contiguous load per lane,
            // transposed so that lanes are tiles; the two edge columns, which may leave the image,
            // go lane by lane. (All lane by lane: 12 % of the AVX2 discriminator at batch 64.)
            for r in 0..<side {
              let rr = (g * side + r) * 8, inner = (g * side + 1) * 8
              for edge in 0..<2 {
                let q = edge * (side - 1)  // (not `for q in [0, side − 1]`: an array on the heap)
                let cc = (g * side + q) * 8
                var x = Lanes()
                for l in 0..<8 { x[l] = plane[rowOff[rr + l] + colOff[cc + l]] }
                x.replace(with: 0, where: .!(rowOK[g * side + r] .& colOK[g * side + q]))
                win[r * side + q] = x
              }
              // (No local function for these: one capturing rowOff would box it on the heap.)
              let a0 = UnsafeRawPointer(plane + rowOff[rr] + colOff[inner])
              let a1 = UnsafeRawPointer(plane + rowOff[rr + 1] + colOff[inner + 1])
              let a2 = UnsafeRawPointer(plane + rowOff[rr + 2] + colOff[inner + 2])
              let a3 = UnsafeRawPointer(plane + rowOff[rr + 3] + colOff[inner + 3])
              let a4 = UnsafeRawPointer(plane + rowOff[rr + 4] + colOff[inner + 4])
              let a5 = UnsafeRawPointer(plane + rowOff[rr + 5] + colOff[inner + 5])
              let a6 = UnsafeRawPointer(plane + rowOff[rr + 6] + colOff[inner + 6])
              let a7 = UnsafeRawPointer(plane + rowOff[rr + 7] + colOff[inner + 7])
              let outside = .!rowOK[g * side + r]
              if transposed {
                // Four columns per lane: lanes l and l + 4 share a vector, then lane picks.
                typealias Q = SIMD4<Float>
                let r0 = Lanes(lowHalf: a0.loadUnaligned(as: Q.self), highHalf: a4.loadUnaligned(as: Q.self))
                let r1 = Lanes(lowHalf: a1.loadUnaligned(as: Q.self), highHalf: a5.loadUnaligned(as: Q.self))
                let r2 = Lanes(lowHalf: a2.loadUnaligned(as: Q.self), highHalf: a6.loadUnaligned(as: Q.self))
                let r3 = Lanes(lowHalf: a3.loadUnaligned(as: Q.self), highHalf: a7.loadUnaligned(as: Q.self))
                for i in 0..<4 {
                  var x = Lanes(r0[i], r1[i], r2[i], r3[i], r0[i + 4], r1[i + 4], r2[i + 4], r3[i + 4])
                  x.replace(with: 0, where: outside)
                  win[r * side + 1 + i] = x
                }
              } else {
                let t = transpose8(a0.loadUnaligned(as: Lanes.self), a1.loadUnaligned(as: Lanes.self),
                                   a2.loadUnaligned(as: Lanes.self), a3.loadUnaligned(as: Lanes.self),
                                   a4.loadUnaligned(as: Lanes.self), a5.loadUnaligned(as: Lanes.self),
                                   a6.loadUnaligned(as: Lanes.self), a7.loadUnaligned(as: Lanes.self))
                for i in 0..<8 {
                  var x = t[i]
                  x.replace(with: 0, where: outside)
                  win[r * side + 1 + i] = x
                }
              }
            }
            let vBase = v + p * k * nr + g * 8
            for py in 0..<2 {
              // Bᵀ along the phase's five window rows, for every window column.
              // (Window row of phase row j: py + j transposed, 2j + py forward. No local functions
              // here: one capturing `win` or `tr` boxed it on the heap on every call.)
              let rs = transposed ? 1 : 2
              for q in 0..<side {
                let b = bF4(win[py * side + q], win[(py + rs) * side + q], win[(py + 2 * rs) * side + q],
                            win[(py + 3 * rs) * side + q], win[(py + 4 * rs) * side + q])
                tr[q] = b.0; tr[10 + q] = b.1; tr[20 + q] = b.2; tr[30 + q] = b.3; tr[40 + q] = b.4
              }
              for px in 0..<2 {
                let product0 = transposed ? (py * 2 + px) * 25 : 0
                let row = transposed ? ch : ch * 4 + py * 2 + px
                let out = UnsafeMutableRawPointer(vBase + product0 * vStride + row * nr)
                for a in 0..<5 {
                  let c0 = a * 10 + px
                  let b = bF4(tr[c0], tr[c0 + rs], tr[c0 + 2 * rs], tr[c0 + 3 * rs], tr[c0 + 4 * rs])
                  let o = out + a * 5 * vStride * 4
                  o.storeBytes(of: b.0, as: Lanes.self)
                  (o + vStride * 4).storeBytes(of: b.1, as: Lanes.self)
                  (o + 2 * vStride * 4).storeBytes(of: b.2, as: Lanes.self)
                  (o + 3 * vStride * 4).storeBytes(of: b.3, as: Lanes.self)
                  (o + 4 * vStride * 4).storeBytes(of: b.4, as: Lanes.self)
                }
              }
            }
          }
        }
      }
    }
  }

  /// bias + activation on a vector (as `CPUKernels.applyAffine` with scale 1).
  @inline(__always)
  static func activate(_ x: Lanes, bias: Float, _ act: Activation) -> Lanes {
    let y = x + bias
    switch act {
    case .identity: return y
    case .relu: return y.replacing(with: 0, where: y .< 0)
    case .leakyRelu(let k): return y.replacing(with: y * k, where: y .<= 0)
    case .tanh:
      var r = y
      for l in 0..<8 { r[l] = FastMath.tanh(y[l]) }
      return r
    case .sigmoid:
      var r = y
      for l in 0..<8 { r[l] = FastMath.sigmoid(y[l]) }
      return r
    }
  }

  /// The output from M (rows: the op's output channels, columns: the chunk's tiles, leading
  /// dimension ld): Aᵀ M A per tile (and per output phase when transposed), bias and activation,
  /// each lane's block stored to its tile. Work items are (tile group, channel).
  static func outputTransformF4(_ s: Shape, m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int,
                                bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>,
                                pool: ThreadSplitter) {
    let transposed = s.transposed
    let channels = transposed ? s.inC : s.outC
    let oh = transposed ? s.c.inHeight : s.c.outHeight, ow = transposed ? s.c.inWidth : s.c.outWidth
    let chunkTiles = images * s.tilesPerImage, groups = (chunkTiles + lanes - 1) / lanes
    let ms = s.mStride
    // Output block per tile: forward 4 × 4 at (4ty, 4tx); transposed 8 × 8 at (8ty, 8tx).
    let block = transposed ? 8 : 4
    let box = UnsafeSendable(value: (m, output, bias))
    pool.forRanges(groups * channels, grain: 8) { items in
      let (m, output, bias) = box.value
      // Items go channel by channel, along M's rows; each lane's block offset in its channel-0
      // plane is found per item (on the stack: the z loop allocates nothing) by stepping from the
      // group's first tile — the group changes with every item, and `PanelTiles.set`'s three
      // divisions per lane, read back as vectors, cost a fifth of this transform.
      let tpi = s.tilesPerImage, tw = s.tilesWide, th = s.tilesHigh, planeSize = channels * oh * ow
      var at = InlineArray<8, Int>(repeating: 0)
      var z = InlineArray<20, Lanes>(repeating: Lanes()), y = InlineArray<64, Lanes>(repeating: Lanes())
      var current = -1
      do {
        for item in items {
          let o = item / groups, g = item - o * groups
          let t0 = g * lanes
          let count = min(8, chunkTiles - t0)
          if g != current {
            current = g
            // Lanes past the chunk repeat its last tile.
            var image = t0 / tpi, ty = (t0 - image * tpi) / tw, tx = t0 - image * tpi - ty * tw
            for l in 0..<8 {
              at[l] = (n0 + image) * planeSize + block * ty * ow + block * tx
              if l + 1 < count {
                tx += 1
                if tx == tw { tx = 0; ty += 1 }
                if ty == th { ty = 0; image += 1 }
              }
            }
          }
          let src = m + o * ld + t0
          let b = bias?[o] ?? 0
          for phase in 0..<(transposed ? 4 : 1) {
            let p = UnsafeRawPointer(src + phase * 25 * ms)
            // The 25 products' rows of M are read 8 tiles (half a line) per item, 25 (100
            // transposed) streams at once — more than the hardware prefetcher follows: without
            // this, the first load of each phase waited on memory (a fifth of the transform).
            if t0 % 16 == 0 {
              for r in 0..<25 { mend_prefetch_for_read(p + r * ms * 4 + 128) }
            }
            for bb in 0..<5 {
              let q = p + bb * ms * 4, st = 5 * ms * 4
              let r = aF4(q.loadUnaligned(as: Lanes.self), q.loadUnaligned(fromByteOffset: st, as: Lanes.self),
                          q.loadUnaligned(fromByteOffset: 2 * st, as: Lanes.self),
                          q.loadUnaligned(fromByteOffset: 3 * st, as: Lanes.self),
                          q.loadUnaligned(fromByteOffset: 4 * st, as: Lanes.self))
              z[bb] = r.0; z[5 + bb] = r.1; z[10 + bb] = r.2; z[15 + bb] = r.3
            }
            for i in 0..<4 {
              let r = aF4(z[i * 5], z[i * 5 + 1], z[i * 5 + 2], z[i * 5 + 3], z[i * 5 + 4])
              let yp = phase * 16 + i * 4
              y[yp] = activate(r.0, bias: b, act); y[yp + 1] = activate(r.1, bias: b, act)
              y[yp + 2] = activate(r.2, bias: b, act); y[yp + 3] = activate(r.3, bias: b, act)
            }
          }
          let plane = output + o * oh * ow
          if transposed {
            // dx row 2i + ay of each lane's block: columns 2j + ax from phase (ay, ax)'s y_ij —
            // the transpose of the eight vectors (y⁽ᵃʸ⁰⁾_i0, y⁽ᵃʸ¹⁾_i0, y⁽ᵃʸ⁰⁾_i1, …).
            for i in 0..<4 {
              for ay in 0..<2 {
                let e = (ay * 2) * 16 + i * 4, f = (ay * 2 + 1) * 16 + i * 4
                let c = transpose8(y[e], y[f], y[e + 1], y[f + 1], y[e + 2], y[f + 2], y[e + 3], y[f + 3])
                let row = plane + (2 * i + ay) * ow
                if count == 8 {
                  // Constant lane indices keep c in registers; a loop over `count` re-spilled all
                  // eight vectors to the stack before every store (14 % of this transform's time).
                  UnsafeMutableRawPointer(row + at[0]).storeBytes(of: c[0], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[1]).storeBytes(of: c[1], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[2]).storeBytes(of: c[2], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[3]).storeBytes(of: c[3], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[4]).storeBytes(of: c[4], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[5]).storeBytes(of: c[5], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[6]).storeBytes(of: c[6], as: Lanes.self)
                  UnsafeMutableRawPointer(row + at[7]).storeBytes(of: c[7], as: Lanes.self)
                } else {
                  for l in 0..<count { UnsafeMutableRawPointer(row + at[l]).storeBytes(of: c[l], as: Lanes.self) }
                }
              }
            }
          } else {
            // Rows i and i + 1 of each lane's 4 × 4 block: one transpose of (y_i0 … y_i3, y_(i+1)0 …).
            for i in stride(from: 0, to: 4, by: 2) {
              let e = i * 4
              let c = transpose8(y[e], y[e + 1], y[e + 2], y[e + 3], y[e + 4], y[e + 5], y[e + 6], y[e + 7])
              let row = plane + i * ow
              if count == 8 {  // (constant lane indices: see the transposed case)
                UnsafeMutableRawPointer(row + at[0]).storeBytes(of: c[0].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[0] + ow).storeBytes(of: c[0].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[1]).storeBytes(of: c[1].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[1] + ow).storeBytes(of: c[1].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[2]).storeBytes(of: c[2].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[2] + ow).storeBytes(of: c[2].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[3]).storeBytes(of: c[3].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[3] + ow).storeBytes(of: c[3].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[4]).storeBytes(of: c[4].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[4] + ow).storeBytes(of: c[4].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[5]).storeBytes(of: c[5].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[5] + ow).storeBytes(of: c[5].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[6]).storeBytes(of: c[6].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[6] + ow).storeBytes(of: c[6].highHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[7]).storeBytes(of: c[7].lowHalf, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(row + at[7] + ow).storeBytes(of: c[7].highHalf, as: SIMD4<Float>.self)
              } else {
                for l in 0..<count {
                  let dst = UnsafeMutableRawPointer(row + at[l])
                  dst.storeBytes(of: c[l].lowHalf, as: SIMD4<Float>.self)
                  (dst + ow * 4).storeBytes(of: c[l].highHalf, as: SIMD4<Float>.self)
                }
              }
            }
          }
        }
      }
    }
  }

  /// The 8 × 8 transpose: lane j of result i is lane i of argument j (AVX's unpack, 64-bit
  /// shuffle and 128-bit permute stages, written as lane picks).
  @inline(__always)
  static func transpose8(_ r0: Lanes, _ r1: Lanes, _ r2: Lanes, _ r3: Lanes, _ r4: Lanes, _ r5: Lanes, _ r6: Lanes,
                         _ r7: Lanes) -> InlineArray<8, Lanes> {
    @inline(__always) func lo(_ a: Lanes, _ b: Lanes) -> Lanes { Lanes(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
    @inline(__always) func hi(_ a: Lanes, _ b: Lanes) -> Lanes { Lanes(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
    @inline(__always) func lo2(_ a: Lanes, _ b: Lanes) -> Lanes { Lanes(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }
    @inline(__always) func hi2(_ a: Lanes, _ b: Lanes) -> Lanes { Lanes(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
    @inline(__always) func lo4(_ a: Lanes, _ b: Lanes) -> Lanes { Lanes(lowHalf: a.lowHalf, highHalf: b.lowHalf) }
    @inline(__always) func hi4(_ a: Lanes, _ b: Lanes) -> Lanes { Lanes(lowHalf: a.highHalf, highHalf: b.highHalf) }
    let t0 = lo(r0, r1), t1 = hi(r0, r1), t2 = lo(r2, r3), t3 = hi(r2, r3)
    let t4 = lo(r4, r5), t5 = hi(r4, r5), t6 = lo(r6, r7), t7 = hi(r6, r7)
    let u0 = lo2(t0, t2), u1 = hi2(t0, t2), u2 = lo2(t1, t3), u3 = hi2(t1, t3)
    let u4 = lo2(t4, t6), u5 = hi2(t4, t6), u6 = lo2(t5, t7), u7 = hi2(t5, t7)
    return [lo4(u0, u4), lo4(u1, u5), lo4(u2, u6), lo4(u3, u7), hi4(u0, u4), hi4(u1, u5), hi4(u2, u6), hi4(u3, u7)]
  }
}
