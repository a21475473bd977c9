import Compute

// 4 × 4 stride-2 convolutions with one pixel of padding — a DCGAN discriminator's layers after
// the first, and the generator's backward-data — in 9/16 of the multiplications.
//
// Phase decomposition: split the input by row and column parity. Output o reads input rows
// 2o − 1 + ky, ky = 0 … 3: the odd rows 2o − 1, 2o + 1 (taps 0, 2) and the even rows 2o, 2o + 2
// (taps 1, 3). Per parity p that is a 2-tap stride-1 correlation over Pₚ[s] = x[2s + p − 1]:
// y[o] = Σₚ Σᵢ w[2i + p] · Pₚ[o + i]. In 2-D the convolution becomes a stride-1 2 × 2 one with
// four times the input channels (channel c, phase (py, px)).
//
// Winograd F(2 × 2, 2 × 2) on it: a 2 × 2 output tile from a 3 × 3 input tile per (channel, phase)
// in 9 products instead of 16,
//   V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ (Σ U ⊙ V) A,
//   Bᵀ = [1 −1 0; 0 1 0; 0 −1 1], G = [1 0; 1 1; 0 1], Aᵀ = [1 1 0; 0 1 1]
// (points 0, 1, ∞: every coefficient is 0 or ±1, so the transforms round no worse than the direct
// sums). The sum over channels and phases is nine GEMMs, one per ξ ∈ 3 × 3:
//   M_ξ[outC × tiles] = U_ξ[outC × 4·inC] · V_ξ[4·inC × tiles]
// on the packed GEMM driver: U_ξ pre-packed once for constant weights, V_ξ written by the input
// transform straight in the driver's NR-wide panels (read in place, no packing pass), M_ξ a plain
// matrix the output transform reads back with the bias and activation. Tiles go in chunks of whole
// images sized so V and M stay in the last-level cache.

enum WinogradConv {
  /// Convolutions this path takes: 4 × 4, stride 2, padding 1 on every side, input sides multiples
  /// of 4 (whole 2 × 2 output tiles), enough channels that the GEMMs dominate the transforms, and
  /// enough tiles to fill a few GEMM panels.
  static func applies(_ c: ConvGeometry) -> Bool {
    c.kernelH == 4 && c.kernelW == 4 && c.strideH == 2 && c.strideW == 2 && c.padH == 1 && c.padW == 1
      && c.padBottom == 1 && c.padRight == 1 && c.inHeight % 4 == 0 && c.inWidth % 4 == 0
      && c.inChannels >= 16 && c.outChannels >= 16 && c.batch * c.outPixels / 4 >= 4 * SGEMMEngine.nr
  }

  /// Floats of V plus M per chunk of tiles (the rest of the last-level cache holds U's blocks).
  static let chunkBudgetFloats = 1 << 20

  struct Shape {
    let c: ConvGeometry
    var inC: Int { c.inChannels }
    var outC: Int { c.outChannels }
    /// The GEMMs' depth: input channels × 4 phases.
    var k: Int { 4 * c.inChannels }
    var tilesWide: Int { c.outWidth / 2 }
    var tilesHigh: Int { c.outHeight / 2 }
    var tilesPerImage: Int { tilesWide * tilesHigh }
    /// Images per chunk.
    var images: Int {
      max(1, min(c.batch, WinogradConv.chunkBudgetFloats / (tilesPerImage * 9 * (k + outC))))
    }
    var chunkTiles: Int { images * tilesPerImage }
    var panels: Int { (chunkTiles + SGEMMEngine.nr - 1) / SGEMMEngine.nr }
    /// Floats between the V_ξ (all panels of one ξ).
    var vStride: Int { panels * SGEMMEngine.nr * k }
    var mStride: Int { outC * chunkTiles }
    var filterFloats: Int { 9 * outC * k }

    /// Images whose tiles share a panel row (a cache line of V or M takes the tiles of up to 16
    /// images: their planes go one after another, channel by channel, so that each line is
    /// finished while it is in L1).
    var panelGroup: Int { max(1, SGEMMEngine.nr / tilesPerImage) }
    /// Work items of a plane loop: groups of images, channels, images of the group (some past
    /// the chunk's last image when it does not fill the last group).
    func planeItems(images: Int, channels: Int) -> Int {
      (images + panelGroup - 1) / panelGroup * panelGroup * channels
    }
    /// Item → (channel, image).
    @inline(__always)
    func plane(_ item: Int, channels: Int, group: Int) -> (channel: Int, image: Int) {
      let g = item / (group * channels), r = item - g * group * channels
      return (r / group, g * group + r % group)
    }
  }

  /// Scratch floats: V and M for a chunk, and U when the weights are not pre-packed.
  static func workspaceFloats(_ c: ConvGeometry, prepacked: Bool) -> Int {
    let s = Shape(c: c)
    return 9 * s.vStride + 9 * s.mStride + (prepacked ? 0 : s.filterFloats)
  }

  /// U_ξ[outC × 4·inC] for the nine ξ, row-major, `9·outC·4·inC` floats at u. Column c·4 + py·2 + px
  /// of row o is channel c's phase (py, px): the 2 × 2 kernel w[o, c, 2i + py, 2j + px].
  static func transformFilters(_ c: ConvGeometry, w: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>) {
    let s = Shape(c: c), k = s.k, xi = s.outC * k
    for o in 0..<s.outC {
      for ch in 0..<s.inC {
        let g = w + (o * s.inC + ch) * 16
        for py in 0..<2 {
          for px in 0..<2 {
            let g00 = g[py * 4 + px], g01 = g[py * 4 + 2 + px]
            let g10 = g[(2 + py) * 4 + px], g11 = g[(2 + py) * 4 + 2 + px]
            // G g: rows (g0, g0 + g1, g1); then the same along columns.
            let dst = u + o * k + ch * 4 + py * 2 + px
            for a in 0..<3 {
              let r0 = a == 0 ? g00 : (a == 1 ? g00 + g10 : g10)
              let r1 = a == 0 ? g01 : (a == 1 ? g01 + g11 : g11)
              dst[(a * 3) * xi] = r0
              dst[(a * 3 + 1) * xi] = r0 + r1
              dst[(a * 3 + 2) * xi] = r1
            }
          }
        }
      }
    }
  }

  /// The nine U_ξ in the GEMM driver's pre-packed A layout, one after another `prepackedStride`
  /// floats apart. The caller owns (and deallocates) the result.
  static func prepackFilters(_ c: ConvGeometry, w: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
    let s = Shape(c: c), stride = prepackedStride(c)
    let u = UnsafeMutablePointer<Float>.allocateAligned(count: s.filterFloats)
    defer { u.deallocate() }
    transformFilters(c, w: w, into: u)
    let packed = UnsafeMutablePointer<Float>.allocateAligned(count: 9 * stride)
    for xi in 0..<9 {
      let one = SGEMMEngine.prepackA(transA: false, m: s.outC, k: s.k, a: u + xi * s.outC * s.k, lda: s.k, skinny: false)
      (packed + xi * stride).update(from: one, count: stride)
      one.deallocate()
    }
    return packed
  }

  static func prepackedStride(_ c: ConvGeometry) -> Int {
    let s = Shape(c: c)
    let mBlocks = (s.outC + SGEMMEngine.mc - 1) / SGEMMEngine.mc, kBlocks = (s.k + SGEMMEngine.kc - 1) / SGEMMEngine.kc
    return mBlocks * kBlocks * SGEMMEngine.mc * SGEMMEngine.kc
  }

  /// y = act(conv(x, w) + bias). `prepacked`: `prepackFilters(c, w)` (constant weights), else the
  /// filters are transformed into the workspace. `workspace`: `workspaceFloats(c, prepacked:)`.
  static func forward(_ c: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                      act: Activation, y: UnsafeMutablePointer<Float>, engine: SGEMMEngine,
                      prepacked: UnsafePointer<Float>?, workspace: UnsafeMutablePointer<Float>) {
    let s = Shape(c: c)
    let v = workspace, m = v + 9 * s.vStride
    let filters: Filters
    if let prepacked {
      filters = .prepacked(prepacked, stride: prepackedStride(c))
    } else {
      let u = m + 9 * s.mStride
      transformFilters(c, w: w, into: u)
      filters = .matrix(UnsafePointer(u))
    }
    let pool = engine.splitter
    // Chunks of equal size (the last one not a sliver).
    let chunks = (c.batch + s.images - 1) / s.images, perChunk = (c.batch + chunks - 1) / chunks
    var n0 = 0
    while n0 < c.batch {
      let images = min(perChunk, c.batch - n0), tiles = images * s.tilesPerImage
      inputTransform(s, x: x, n0: n0, images: images, v: v, pool: pool)
      for xi in 0..<9 {
        let a: SGEMMEngine.ASource
        switch filters {
        case .prepacked(let p, let stride): a = .prepacked(p + xi * stride)
        case .matrix(let u): a = .matrix(u + xi * s.outC * s.k, lda: s.k, transA: false)
        }
        engine.blocked(m: s.outC, n: tiles, k: s.k, alpha: 1, beta: 0, a: a,
                       b: .panels(UnsafePointer(v + xi * s.vStride)), c: .matrix(m + xi * s.mStride, ldc: tiles))
      }
      outputTransform(s, m: UnsafePointer(m), ld: tiles, n0: n0, images: images, bias: bias, act: act, y: y,
                      pool: pool)
      n0 += images
    }
  }

  /// Where the GEMMs read U: pre-packed (`stride` floats per ξ), or the nine U_ξ as matrices.
  enum Filters {
    case prepacked(UnsafePointer<Float>, stride: Int)
    case matrix(UnsafePointer<Float>)
  }

  /// V_ξ for images n0 ..< n0 + images, V[ξ][c·4 + phase][tile] in NR-wide panels, a tile row of
  /// one (image, channel) plane at a time, as vectors across its tiles. Window row r of tile row ty
  /// is input row 4ty − 1 + r; phase py takes rows py, py + 2, py + 4 and Bᵀ combines them
  /// (r₀ − r₁, r₁, r₂ − r₁). Each input row is first split by column mod 4 — E_q[t] = row[4t + q] —
  /// and Bᵀ along the columns is then, per phase px, three differences of those vectors: window
  /// column 4t − 1 + px + 2s is E_{px−1+2s}, with E₋₁ = E₃ one tile to the left and E₄ = E₀ one
  /// to the right (zero past the edges).
  static func inputTransform(_ s: Shape, x: UnsafePointer<Float>, n0: Int, images: Int,
                             v: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    let box = UnsafeSendable(value: (x, v))
    pool.forRanges(s.planeItems(images: images, channels: s.inC), grain: 1) { items in
      let (x, v) = box.value
      switch s.c.inWidth {
      case 32:
        transformRows(s, x: x, n0: n0, images: images, v: v, items: items, SIMD8<Float>.self,
                      split: { p in
                        let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
                        let b = UnsafeRawPointer(p + 16).loadUnaligned(as: SIMD16<Float>.self)
                        return (SIMD8(a[0], a[4], a[8], a[12], b[0], b[4], b[8], b[12]),
                                SIMD8(a[1], a[5], a[9], a[13], b[1], b[5], b[9], b[13]),
                                SIMD8(a[2], a[6], a[10], a[14], b[2], b[6], b[10], b[14]),
                                SIMD8(a[3], a[7], a[11], a[15], b[3], b[7], b[11], b[15]))
                      },
                      left: { e in SIMD8(0, e[0], e[1], e[2], e[3], e[4], e[5], e[6]) },
                      right: { e in SIMD8(e[1], e[2], e[3], e[4], e[5], e[6], e[7], 0) })
      case 16:
        transformRows(s, x: x, n0: n0, images: images, v: v, items: items, SIMD4<Float>.self,
                      split: { p in
                        let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
                        return (SIMD4(a[0], a[4], a[8], a[12]), SIMD4(a[1], a[5], a[9], a[13]),
                                SIMD4(a[2], a[6], a[10], a[14]), SIMD4(a[3], a[7], a[11], a[15]))
                      },
                      left: { e in SIMD4(0, e[0], e[1], e[2]) },
                      right: { e in SIMD4(e[1], e[2], e[3], 0) })
      case 8:
        transformRows(s, x: x, n0: n0, images: images, v: v, items: items, SIMD2<Float>.self,
                      split: { p in
                        let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
                        return (SIMD2(a[0], a[4]), SIMD2(a[1], a[5]), SIMD2(a[2], a[6]), SIMD2(a[3], a[7]))
                      },
                      left: { e in SIMD2(0, e[0]) },
                      right: { e in SIMD2(e[1], 0) })
      default:
        transformRowsScalar(s, x: x, n0: n0, images: images, v: v, items: items)
      }
    }
  }

  /// `inputTransform` for one range of planes with V the vector of a tile row (V.scalarCount =
  /// tiles per row): `split` loads an input row as its four column phases, `left`/`right` move a
  /// phase one tile over.
  @inline(__always)
  static func transformRows<V: SIMD>(_ s: Shape, x: UnsafePointer<Float>, n0: Int, images: Int,
                                     v: UnsafeMutablePointer<Float>,
                                     items: Range<Int>, _: V.Type, split: (UnsafePointer<Float>) -> (V, V, V, V),
                                     left: (V) -> V, right: (V) -> V) where V.Scalar == Float {
    let h = s.c.inHeight, wd = s.c.inWidth, inC = s.inC, k = s.k, nr = SGEMMEngine.nr
    let tw = s.tilesWide, th = s.tilesHigh, tpi = s.tilesPerImage, vStride = s.vStride
    let group = s.panelGroup
    for item in items {
      let (ch, ni) = s.plane(item, channels: inC, group: group)
      if ni >= images { continue }
      let plane = x + ((n0 + ni) * inC + ch) * h * wd
      for ty in 0..<th {
        let t0 = ni * tpi + ty * tw
        let tile = UnsafeMutableRawPointer(v + (t0 / nr) * k * nr + t0 % nr + ch * 4 * nr)
        for py in 0..<2 {
          func phases(_ r: Int) -> (V, V, V, V) {
            let iy = 4 * ty - 1 + r
            return iy >= 0 && iy < h ? split(plane + iy * wd) : (V(), V(), V(), V())
          }
          let r0 = phases(py), r1 = phases(py + 2), r2 = phases(py + 4)
          for a in 0..<3 {
            let c: (V, V, V, V)
            switch a {
            case 0: c = (r0.0 - r1.0, r0.1 - r1.1, r0.2 - r1.2, r0.3 - r1.3)
            case 1: c = r1
            default: c = (r2.0 - r1.0, r2.1 - r1.1, r2.2 - r1.2, r2.3 - r1.3)
            }
            let cm1 = left(c.3), c4 = right(c.0)
            let out = tile + (a * 3) * vStride * 4 + py * 2 * nr * 4
            let bStride = vStride * 4
            // px = 0: columns E₋₁, E₁, E₃; px = 1: E₀, E₂, E₄.
            out.storeBytes(of: cm1 - c.1, as: V.self)
            (out + bStride).storeBytes(of: c.1, as: V.self)
            (out + 2 * bStride).storeBytes(of: c.3 - c.1, as: V.self)
            (out + nr * 4).storeBytes(of: c.0 - c.2, as: V.self)
            (out + nr * 4 + bStride).storeBytes(of: c.2, as: V.self)
            (out + nr * 4 + 2 * bStride).storeBytes(of: c4 - c.2, as: V.self)
          }
        }
      }
    }
  }

  /// `inputTransform` lane by lane (tile rows of other widths).
  static func transformRowsScalar(_ s: Shape, x: UnsafePointer<Float>, n0: Int, images: Int,
                                  v: UnsafeMutablePointer<Float>,
                                  items: Range<Int>) {
    let h = s.c.inHeight, wd = s.c.inWidth, inC = s.inC, k = s.k, nr = SGEMMEngine.nr
    let tw = s.tilesWide, th = s.tilesHigh, tpi = s.tilesPerImage, vStride = s.vStride
    let group = s.panelGroup
    for item in items {
      let (ch, ni) = s.plane(item, channels: inC, group: group)
      if ni >= images { continue }
      let plane = x + ((n0 + ni) * inC + ch) * h * wd
      for ty in 0..<th {
        for tx in 0..<tw {
          let t = ni * tpi + ty * tw + tx
          let tile = v + (t / nr) * k * nr + t % nr + ch * 4 * nr
          // d(r, q): window row r, column q (input 4ty − 1 + r, 4tx − 1 + q), zero outside.
          func d(_ r: Int, _ q: Int) -> Float {
            let iy = 4 * ty - 1 + r, ix = 4 * tx - 1 + q
            return iy >= 0 && iy < h && ix >= 0 && ix < wd ? plane[iy * wd + ix] : 0
          }
          for py in 0..<2 {
            for px in 0..<2 {
              for a in 0..<3 {
                // Bᵀ along rows: window rows py + 2s combined per a.
                func col(_ q: Int) -> Float {
                  let r1 = d(py + 2, q)
                  return a == 0 ? d(py, q) - r1 : (a == 1 ? r1 : d(py + 4, q) - r1)
                }
                let c0 = col(px), c1 = col(px + 2), c2 = col(px + 4)
                let out = tile + (py * 2 + px) * nr + (a * 3) * vStride
                out[0] = c0 - c1
                out[vStride] = c1
                out[2 * vStride] = c2 - c1
              }
            }
          }
        }
      }
    }
  }

  /// y for images n0 ..< n0 + images from M_ξ (rows: output channels, columns: the chunk's tiles,
  /// leading dimension ld): Aᵀ M A per tile — y₀₀ = m₀ + m₁ + m₃ + m₄ and its shifts by one
  /// column (m₁ … m₅) and row (m₃ … m₇) — as vectors across a tile row, the two columns of each
  /// output row interleaved; then bias and activation per plane.
  static func outputTransform(_ s: Shape, m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int,
                              bias: UnsafePointer<Float>?, act: Activation, y: UnsafeMutablePointer<Float>,
                              pool: ThreadSplitter) {
    let outC = s.outC
    let box = UnsafeSendable(value: (m, y, bias))
    let group = s.panelGroup
    pool.forRanges(s.planeItems(images: images, channels: outC), grain: 4) { items in
      let (m, y, bias) = box.value
      switch s.tilesWide {
      case 8:
        untile(s, m: m, ld: ld, n0: n0, images: images, group: group, bias: bias, act: act, y: y, items: items,
               SIMD8<Float>.self) { a, b in
          SIMD16(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
        }
      case 4:
        untile(s, m: m, ld: ld, n0: n0, images: images, group: group, bias: bias, act: act, y: y, items: items,
               SIMD4<Float>.self) { a, b in SIMD8(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]) }
      case 2:
        untile(s, m: m, ld: ld, n0: n0, images: images, group: group, bias: bias, act: act, y: y, items: items,
               SIMD2<Float>.self) { a, b in SIMD4(a[0], b[0], a[1], b[1]) }
      default:
        untile(s, m: m, ld: ld, n0: n0, images: images, group: group, bias: bias, act: act, y: y, items: items,
               SIMD2<Float>.self, lanes: 1) { a, b in SIMD4(a[0], b[0], 0, 0) }
      }
    }
  }

  /// `outputTransform` for one range of planes, V a run of `lanes` tiles along a tile row (all of
  /// it when lanes is V.scalarCount = tiles per row; one tile at a time otherwise), `interleave`
  /// the two output columns of those tiles (the first 2·lanes floats are stored).
  @inline(__always)
  static func untile<V: SIMD, W: SIMD>(_ s: Shape, m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int, group: Int,
                                       bias: UnsafePointer<Float>?, act: Activation, y: UnsafeMutablePointer<Float>,
                                       items: Range<Int>, _: V.Type, lanes: Int = V.scalarCount,
                                       interleave: (V, V) -> W) where V.Scalar == Float, W.Scalar == Float {
    let outC = s.outC, oh = s.c.outHeight, ow = s.c.outWidth, tw = s.tilesWide, th = s.tilesHigh
    let tpi = s.tilesPerImage, ms = s.mStride
    for item in items {
      let (o, ni) = s.plane(item, channels: outC, group: group)
      if ni >= images { continue }
      let dst = y + ((n0 + ni) * outC + o) * oh * ow
      let src = m + o * ld + ni * tpi
      for ty in 0..<th {
        var tx = 0
        while tx < tw {
          let p = src + ty * tw + tx
          func load(_ xi: Int) -> V {
            if lanes == V.scalarCount { return UnsafeRawPointer(p + xi * ms).loadUnaligned(as: V.self) }
            var v = V(); v[0] = p[xi * ms]; return v
          }
          let m0 = load(0), m1 = load(1), m2 = load(2), m3 = load(3), m4 = load(4)
          let m5 = load(5), m6 = load(6), m7 = load(7), m8 = load(8)
          let u = m1 + m4, l = m4 + m7
          let r0 = UnsafeMutableRawPointer(dst + 2 * ty * ow + 2 * tx), r1 = r0 + ow * 4
          let top = interleave(m0 + m3 + u, u + m2 + m5), bottom = interleave(m3 + m6 + l, l + m5 + m8)
          if lanes == V.scalarCount {
            r0.storeBytes(of: top, as: W.self)
            r1.storeBytes(of: bottom, as: W.self)
          } else {
            r0.storeBytes(of: top[0], as: Float.self); (r0 + 4).storeBytes(of: top[1], as: Float.self)
            r1.storeBytes(of: bottom[0], as: Float.self); (r1 + 4).storeBytes(of: bottom[1], as: Float.self)
          }
          tx += lanes
        }
      }
      if bias != nil || act != .identity {
        CPUKernels.applyAffine(count: oh * ow, scale: 1, shift: bias?[o] ?? 0, act: act, x: UnsafePointer(dst), y: dst)
      }
    }
  }
}
