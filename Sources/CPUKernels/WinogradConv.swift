import CPURuntime
import Compute
import Foundation

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
//
// The transposed convolution (backward-data: the generator's layers, the discriminator's
// gradient) splits by output phase instead: dx[2q + a] = Σₛ w[3 − a − 2s] · dy[q − 1 + a + s],
// a 2-tap correlation per phase a over dy. F(2 × 2, 2 × 2) per output phase (ay, ax): a 2 × 2
// tile of dy positions gives a 4 × 4 block of dx from the 4 × 4 dy window around it (phase (ay,
// ax) reads its 3 × 3 sub-window at offset (ay, ax)), so 36 GEMMs — 4 phases × 9 ξ — of
//   M_φξ[inC × tiles] = U_φξ[inC × outC] · V_φξ[outC × tiles],
// again 9/16 of the direct products.

enum WinogradConv {
  /// Convolutions this path takes: 4 × 4, stride 2, padding 1 on every side, input sides multiples
  /// of 4 (whole 2 × 2 output tiles), enough channels that the GEMMs dominate the transforms, at
  /// least `minTiles` tiles or, on the narrow path, `minNarrowTiles` (`minNarrowTilesTransposed`
  /// for the transposed convolution) to 16, and images small enough that one image's V and M (a
  /// chunk is at least one image) stay within `maxImageFloats` in both directions.
  static func applies(_ c: ConvGeometry, transposed: Bool = false) -> Bool { tile(c, transposed: transposed) != nil }

  /// The output tile side per phase this convolution takes: 4 (F(4 × 4, 2 × 2), see
  /// WinogradConv+F4) when its output sides are multiples of 4 and it has at least `minTilesF4`
  /// such tiles, else 2 (F(2 × 2, 2 × 2)) under the conditions of `applies`; nil when neither.
  static func tile(_ c: ConvGeometry, transposed: Bool = false) -> Int? {
    guard c.kernelH == 4 && c.kernelW == 4 && c.strideH == 2 && c.strideW == 2 && c.padH == 1 && c.padW == 1
      && c.padBottom == 1 && c.padRight == 1 && c.inHeight % 4 == 0 && c.inWidth % 4 == 0
      && c.inChannels >= 16 && c.outChannels >= 16
    else { return nil }
    func fits(_ tile: Int) -> Bool {
      let f = Shape(c: c, transposed: false, tile: tile), t = Shape(c: c, transposed: true, tile: tile)
      return f.tilesPerImage * f.products * (f.k + f.m) <= maxImageFloats
        && t.tilesPerImage * t.products * (t.k + t.m) <= maxImageFloats
    }
    if useF4 && c.inHeight % 8 == 0 && c.inWidth % 8 == 0 && c.batch * c.outPixels / 16 >= minTilesF4 && fits(4) {
      return 4
    }
    let tiles = c.batch * c.outPixels / 4
    let narrowFrom = transposed ? minNarrowTilesTransposed : minNarrowTiles
    guard tiles >= minTiles || (tiles >= narrowFrom && tiles <= SGEMMEngine.skinnyN) else { return nil }
    return fits(2) ? 2 : nil
  }

  /// F(4 × 4, 2 × 2) on (`MEND_WINOGRAD_F4=0` turns it off, for comparisons).
  static let useF4: Bool = {
    guard let v = getenv("MEND_WINOGRAD_F4") else { return true }
    return String(cString: v) != "0"
  }()
  /// Fewest 4 × 4 tiles for F(4 × 4, 2 × 2): one GEMM panel.
  static let minTilesF4 = SGEMMEngine.nr

  /// Largest V + M for one image: 16 M floats (64 MB; a 64 × 64 DCGAN layer needs at most 0.5 M).
  static let maxImageFloats = 16 << 20


  /// Floats of V plus M per chunk of tiles: 4 MB, which the two cores' L2s and the L3 keep close
  /// between the transforms and the GEMMs. (D at batch 64, phases timed per layer: 0.25 M floats
  /// made the GEMMs too narrow, ~18–19 ms; 0.5–1 M gave ~12–13 ms and the shortest transforms;
  /// 2–12 M about the same GEMMs and transforms up to twice as long.)
  static let chunkBudgetFloats = 1 << 20
  /// The same for F(4 × 4, 2 × 2): 4 M floats. Its 25 or 100 products per tile need more room for
  /// a chunk to fill whole 32-tile panels (the generator's 4 → 8 layer at batch 64, 1 tile per
  /// image: 1 M floats made 13-image chunks, panels 60 % padding, 32 ms per call against 19–20 ms
  /// for 2–16 M; the other DCGAN layers level across 1–16 M).
  /// Raised to the size of U (at most 4×) when U is larger: every chunk streams all of U through
  /// the GEMMs, and where an image has few tiles U outweighs V and M (G's 4 → 8 layer at batch 64:
  /// U is 13 M floats; 4 M gave two chunks and 12.5 ms, 8–16 M one and 11.1–11.3 ms, while its
  /// 16 → 32 layer, U 0.8 M, took 15.4 ms at 4 M and 15.5–18.1 at 8–32 M).
  static let chunkBudgetFloatsF4 = 4 << 20
  /// Fewest tiles: one GEMM panel. (At batch 1 a discriminator's 16 × 16 layer has 64 tiles and
  /// its 8 × 8 one 16: with 32 the batch-1 D took 1.01 ms against 1.23 with 128 and 1.18 with
  /// 16, the z iteration 5.44 against 6.09 and 5.89 — medians of six alternating runs' minimums.)
  static let minTiles = SGEMMEngine.nr
  /// Fewest tiles on the narrow path (≤ 16 tiles, `Shape.narrow`), forward: 8 with the AVX-512
  /// kernels, 4 otherwise. With 8, a batch-1 discriminator's 4 × 4 layer (4 tiles) goes to the
  /// skinny GEMM instead, streaming its 8 MB of weights rather than the 19 MB of U (2.25× the
  /// weights). Three alternating runs, batch 1, 8 against 4: AVX-512 z iteration 3.38–3.87
  /// against 3.99–4.52 ms, D forward 0.71 against 0.75; AVX2 z iteration 4.98–5.44 against
  /// 5.61–6.39 but D forward 1.04 against 1.00–1.02 — and D forward is the AVX2 case nearest its
  /// target (half of PyTorch's 2.05 ms), while the z iteration is at 0.4 of it either way.
  #if MEND_ISA_AVX512
    static let minNarrowTiles = 8
  #else
    static let minNarrowTiles = 4
  #endif
  /// Transposed: 8 (one full 8-tile panel). At 4 tiles — the generator's 4 → 8 layer at batch 1,
  /// 36 GEMMs of 4 columns — G_fwd_b1 took 0.92 against 0.86 ms on the GEMM path (same runs);
  /// at 8 and 12 tiles (batch 2 and 3) the layer alone is faster narrow: 0.50–0.64 against
  /// 0.67–0.69 ms at 8. (These thresholds assume `HostMemory`'s huge pages: in 4 KB pages the
  /// models' transformed filters overflow the TLB and 4 tiles lose in both directions.)
  static let minNarrowTilesTransposed = 8
  /// Two cache lines, in floats (keeps 64-byte alignment).
  static let skew = 32

  struct Shape {
    let c: ConvGeometry
    /// The backward-data (transposed) convolution: dy → dx.
    let transposed: Bool
    /// Output tile side per phase: 2 (F(2 × 2, 2 × 2)) or 4 (F(4 × 4, 2 × 2)).
    let tile: Int
    init(c: ConvGeometry, transposed: Bool, tile: Int) {
      self.c = c
      self.transposed = transposed
      self.tile = tile
    }
    /// The shape `WinogradConv.tile` picks (2 when none applies).
    init(c: ConvGeometry, transposed: Bool) {
      self.init(c: c, transposed: transposed, tile: WinogradConv.tile(c, transposed: transposed) ?? 2)
    }
    var inC: Int { c.inChannels }
    var outC: Int { c.outChannels }
    /// Points per side of the transformed tile: tile + 1.
    var points: Int { tile + 1 }
    /// GEMMs per chunk: 9 (or 25) ξ, times 4 output phases when transposed.
    var products: Int { points * points * (transposed ? 4 : 1) }
    /// The GEMMs' rows (output channels of the whole op) and depth: forward, input channels ×
    /// 4 phases; transposed, dy's channels.
    var m: Int { transposed ? c.inChannels : c.outChannels }
    var k: Int { transposed ? c.outChannels : 4 * c.inChannels }
    /// Tiles: tile × tile blocks of the forward convolution's output grid (= dy's grid).
    var tilesWide: Int { c.outWidth / tile }
    var tilesHigh: Int { c.outHeight / tile }
    var tilesPerImage: Int { tilesWide * tilesHigh }
    /// Images per chunk.
    var images: Int {
      let f4 = WinogradConv.chunkBudgetFloatsF4
      let budget = tile == 4 ? max(f4, min(4 * f4, products * m * k)) : WinogradConv.chunkBudgetFloats
      let fit = budget / (tilesPerImage * products * (k + m))
      // Whole panel groups (tiles a multiple of NR: no panel of padding) when that leaves one.
      let whole = fit / panelGroup * panelGroup
      // Else one group when at least half of it fits (a panel of padding costs more than the
      // cache), else what fits.
      let target = whole > 0 ? whole : (2 * fit >= panelGroup ? panelGroup : max(1, fit))
      // Chunks of equal size, in whole groups (the last one not a sliver).
      let chunks = (c.batch + target - 1) / target
      let even = (c.batch + chunks - 1) / chunks
      return min(c.batch, target, (even + panelGroup - 1) / panelGroup * panelGroup)
    }
    var chunkTiles: Int { images * tilesPerImage }
    /// The whole batch has at most 16 tiles (a batch-1 discriminator's 8 × 8 and 4 × 4 layers):
    /// the GEMMs run on the skinny kernel (`SGEMMEngine.narrowBatch`) — V in 8-tile panels, U in
    /// the skinny pre-packed layout — instead of on 32-tile panels mostly of padding.
    var narrow: Bool { tile == 2 && c.batch * tilesPerImage <= SGEMMEngine.skinnyN }
    /// Tiles per V panel: 32 (the packed micro-kernel's NR) or, narrow, 8.
    var vPanel: Int { narrow ? 8 : SGEMMEngine.nr }
    var panels: Int { (chunkTiles + vPanel - 1) / vPanel }
    /// Floats between the V of consecutive products (all panels of one), and between their M.
    /// Each is skewed by two cache lines past its size: the transforms touch all 9 or 36 products
    /// at once, and at power-of-two distances those streams all fell in the same cache sets.
    var vStride: Int { panels * vPanel * k + WinogradConv.skew }
    var mStride: Int { m * chunkTiles + WinogradConv.skew }
    /// Floats between the pre-packed U of consecutive products (skewed likewise).
    var uStride: Int {
      if narrow { return uBlocks * SGEMMEngine.transposedBlock * k + WinogradConv.skew }
      return SGEMMEngine.packedAFloats(m: m, k: k) + WinogradConv.skew
    }
    /// Narrow: blocks of 32 rows of U (k × 32 each, rows interleaved per column).
    var uBlocks: Int { (m + SGEMMEngine.transposedBlock - 1) / SGEMMEngine.transposedBlock }

    /// Images whose tiles share a panel row (a cache line of V or M takes the tiles of up to 16
    /// images: their planes go one after another, channel by channel, so that each line is
    /// finished while it is in L1).
    var panelGroup: Int { max(1, vPanel / tilesPerImage) }
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
  static func workspaceFloats(_ c: ConvGeometry, transposed: Bool, prepacked: Bool) -> Int {
    WinogradDriver.workspaceFloats(Shape(c: c, transposed: transposed), prepacked: prepacked)
  }

  /// Writes every U (`products` of them, `uStride` floats apart) straight into the GEMM driver's
  /// pre-packed A layout (MR-row panels per MC × KC block). Forward: U_ξ row o, column c·4 + py·2
  /// + px from the 2 × 2 kernel g[i][j] = w[o, c, 2i + py, 2j + px]. Transposed: U_φξ (φ = ay·2
  /// + ax) row c, column o from g[s][t] = w[o, c, 3 − ay − 2s, 3 − ax − 2t].
  static func packFilters(_ s: Shape, w: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                          pool: ThreadSplitter) {
    let inC = s.inC, k = s.k, uStride = s.uStride, transposed = s.transposed, m = s.m
    let mr = SGEMMEngine.mr
    let narrow = s.narrow, bs = SGEMMEngine.transposedBlock
    @inline(__always) func index(_ row: Int, _ col: Int) -> Int {
      narrow ? (row / bs) * k * bs + col * bs + row % bs : SGEMMEngine.packedAIndex(row: row, col: col, m: m, k: k)
    }
    // By MR-row panel, then column by column: a column's MR values of every U are contiguous in
    // the packed layout, so each is one vector store and every destination is written front to
    // back (one (o, c) kernel at a time, scattered scalar stores took ~10 ms for a 512 × 256
    // transposed layer). Lane r of the vectors is the panel's row r: its 16 taps are loaded as
    // one vector, and each phase's four taps picked from the MR of them.
    typealias V = SIMD8<Float>
    precondition(mr == V.scalarCount)
    let box = UnsafeSendable(value: dst)
    pool.forRanges((m + mr - 1) / mr, grain: 1) { panels in
      let dst = box.value
      for panel in panels {
        let row0 = panel * mr, rows = min(mr, m - row0)
        for unit in 0..<(transposed ? s.outC : inC) {
          // The panel's kernels (rows past m: zeros).
          var taps = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                      SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
          withUnsafeMutableBytes(of: &taps) { raw in
            for r in 0..<rows {
              let row = row0 + r, o = transposed ? unit : row, ch = transposed ? row : unit
              raw.storeBytes(of: UnsafeRawPointer(w + (o * inC + ch) * 16).loadUnaligned(as: SIMD16<Float>.self),
                             toByteOffset: r * 64, as: SIMD16<Float>.self)
            }
          }
          @inline(__always) func tap(_ i: Int) -> V {
            V(taps.0[i], taps.1[i], taps.2[i], taps.3[i], taps.4[i], taps.5[i], taps.6[i], taps.7[i])
          }
          for phase in 0..<4 {
            let py = phase >> 1, px = phase & 1
            let g00, g01, g10, g11: V
            let product0, at: Int
            if transposed {
              g00 = tap((3 - py) * 4 + 3 - px); g01 = tap((3 - py) * 4 + 1 - px)
              g10 = tap((1 - py) * 4 + 3 - px); g11 = tap((1 - py) * 4 + 1 - px)
              product0 = phase * s.points * s.points; at = index(row0, unit)
            } else {
              g00 = tap(py * 4 + px); g01 = tap(py * 4 + 2 + px)
              g10 = tap((2 + py) * 4 + px); g11 = tap((2 + py) * 4 + 2 + px)
              product0 = 0; at = index(row0, unit * 4 + phase)
            }
            if s.tile == 4 {
              storeF4(g00, g01, g10, g11, dst + product0 * uStride + at, uStride: uStride)
              continue
            }
            // G g: rows (g0, g0 + g1, g1); then the same along columns.
            for a in 0..<3 {
              let r0 = a == 0 ? g00 : (a == 1 ? g00 + g10 : g10)
              let r1 = a == 0 ? g01 : (a == 1 ? g01 + g11 : g11)
              let out = UnsafeMutableRawPointer(dst + (product0 + a * 3) * uStride + at)
              out.storeBytes(of: r0, as: V.self)
              out.storeBytes(of: r0 + r1, toByteOffset: uStride * 4, as: V.self)
              out.storeBytes(of: r1, toByteOffset: 2 * uStride * 4, as: V.self)
            }
          }
        }
      }
    }
  }

  /// `packFilters` into a new allocation (constant weights); the caller owns and deallocates it.
  static func prepackFilters(_ c: ConvGeometry, transposed: Bool, w: UnsafePointer<Float>, pool: ThreadSplitter)
    -> UnsafeMutablePointer<Float> {
    WinogradDriver.prepackFilters(Shape(c: c, transposed: transposed), w: w, pool: pool)
  }

  /// Forward: y = act(conv(x, w) + bias), `input` x and `output` y. Transposed (backward-data):
  /// dx = act(convᵀ(dy, w) + bias), `input` dy and `output` dx. On `WinogradDriver`, in chunks of
  /// whole images. `prepacked`: `prepackFilters` (constant weights), else the filters are packed
  /// into the workspace on every call. `workspace`: `workspaceFloats(c, transposed:, prepacked:)`
  /// floats.
  static func run(_ c: ConvGeometry, transposed: Bool, input: UnsafePointer<Float>, w: UnsafePointer<Float>,
                  bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>,
                  engine: SGEMMEngine, prepacked: UnsafePointer<Float>?, workspace: UnsafeMutablePointer<Float>) {
    WinogradDriver.run(Shape(c: c, transposed: transposed), input: input, w: w, bias: bias, act: act, output: output,
                       engine: engine, prepacked: prepacked, workspace: workspace)
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
                      })
      case 16:
        transformRows(s, x: x, n0: n0, images: images, v: v, items: items, SIMD4<Float>.self,
                      split: { p in
                        let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
                        return (SIMD4(a[0], a[4], a[8], a[12]), SIMD4(a[1], a[5], a[9], a[13]),
                                SIMD4(a[2], a[6], a[10], a[14]), SIMD4(a[3], a[7], a[11], a[15]))
                      })
      case 8:
        transformRows(s, x: x, n0: n0, images: images, v: v, items: items, SIMD2<Float>.self,
                      split: { p in
                        let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
                        return (SIMD2(a[0], a[4]), SIMD2(a[1], a[5]), SIMD2(a[2], a[6]), SIMD2(a[3], a[7]))
                      })
      default:
        transformTilesScalar(s, input: x, n0: n0, images: images, v: v, items: items)
      }
    }
  }

  /// `inputTransform` for one range of planes with V the vector of a tile row (V.scalarCount =
  /// tiles per row): `split` loads an input row as its four column phases.
  @inline(__always)
  static func transformRows<V: TileRow>(_ s: Shape, x: UnsafePointer<Float>, n0: Int, images: Int,
                                     v: UnsafeMutablePointer<Float>,
                                     items: Range<Int>, _: V.Type, split: (UnsafePointer<Float>) -> (V, V, V, V)) {
    let h = s.c.inHeight, wd = s.c.inWidth, inC = s.inC, k = s.k, nr = s.vPanel
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
            let cm1 = V.shiftedRight(c.3), c4 = V.shiftedLeft(c.0)
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

  /// Aᵀ M A for `lanes` tiles (a V of them, or one in lane 0): M_ξ at p + ξ·stride, ξ < 9;
  /// returns (y₀₀, y₀₁, y₁₀, y₁₁) — y₀₀ = m₀ + m₁ + m₃ + m₄ and its shifts by one column and row.
  @inline(__always)
  static func outputTile<V: SIMD>(_ p: UnsafePointer<Float>, stride: Int, lanes: Int, _: V.Type) -> (V, V, V, V)
    where V.Scalar == Float {
    func load(_ xi: Int) -> V {
      if lanes == V.scalarCount { return UnsafeRawPointer(p + xi * stride).loadUnaligned(as: V.self) }
      var v = V(); v[0] = p[xi * stride]; return v
    }
    let m0 = load(0), m1 = load(1), m2 = load(2), m3 = load(3), m4 = load(4)
    let m5 = load(5), m6 = load(6), m7 = load(7), m8 = load(8)
    let u = m1 + m4, l = m4 + m7
    return (m0 + m3 + u, u + m2 + m5, m3 + m6 + l, l + m5 + m8)
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
          let y = outputTile(src + ty * tw + tx, stride: ms, lanes: lanes, V.self)
          let r0 = UnsafeMutableRawPointer(dst + 2 * ty * ow + 2 * tx), r1 = r0 + ow * 4
          let top = interleave(y.0, y.1), bottom = interleave(y.2, y.3)
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

  // MARK: - Transposed (backward-data)

  /// V_φξ for images n0 ..< n0 + images, a tile row of one (image, dy channel) plane at a time as
  /// vectors across its tiles. Window row r of tile row ty is dy row 2ty − 1 + r, each split into
  /// its even and odd columns (E₀[t] = row[2t], E₁[t] = row[2t + 1]): window column 2t − 1 + q is
  /// then left(E₁), E₀, E₁, right(E₀) for q = 0 … 3. Phase (ay, ax) takes window rows ay … ay + 2
  /// and columns ax … ax + 2; Bᵀ combines each three as (d₀ − d₁, d₁, d₂ − d₁).
  static func inputTransformT(_ s: Shape, dy: UnsafePointer<Float>, n0: Int, images: Int,
                              v: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    let box = UnsafeSendable(value: (dy, v))
    pool.forRanges(s.planeItems(images: images, channels: s.outC), grain: 1) { items in
      let (dy, v) = box.value
      switch s.c.outWidth {
      case 16:
        transformRowsT(s, dy: dy, n0: n0, images: images, v: v, items: items, SIMD8<Float>.self,
                       split: { p in
                         let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
                         return (SIMD8(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14]),
                                 SIMD8(a[1], a[3], a[5], a[7], a[9], a[11], a[13], a[15]))
                       })
      case 8:
        transformRowsT(s, dy: dy, n0: n0, images: images, v: v, items: items, SIMD4<Float>.self,
                       split: { p in
                         let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
                         return (SIMD4(a[0], a[2], a[4], a[6]), SIMD4(a[1], a[3], a[5], a[7]))
                       })
      case 4:
        transformRowsT(s, dy: dy, n0: n0, images: images, v: v, items: items, SIMD2<Float>.self,
                       split: { p in
                         let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
                         return (SIMD2(a[0], a[2]), SIMD2(a[1], a[3]))
                       })
      default:
        transformTilesScalar(s, input: dy, n0: n0, images: images, v: v, items: items)
      }
    }
  }

  /// `inputTransformT` for one range of planes, V the vector of a tile row: `split` loads a dy
  /// row as its even and odd columns.
  @inline(__always)
  static func transformRowsT<V: TileRow>(_ s: Shape, dy: UnsafePointer<Float>, n0: Int, images: Int,
                                      v: UnsafeMutablePointer<Float>, items: Range<Int>, _: V.Type,
                                      split: (UnsafePointer<Float>) -> (V, V)) {
    let oh = s.c.outHeight, ow = s.c.outWidth, outC = s.outC, k = s.k, nr = s.vPanel
    let tw = s.tilesWide, th = s.tilesHigh, tpi = s.tilesPerImage, bs = s.vStride * 4
    let group = s.panelGroup
    for item in items {
      let (o, ni) = s.plane(item, channels: outC, group: group)
      if ni >= images { continue }
      let plane = dy + ((n0 + ni) * outC + o) * oh * ow
      for ty in 0..<th {
        let t0 = ni * tpi + ty * tw
        let tile = UnsafeMutableRawPointer(v + (t0 / nr) * k * nr + t0 % nr + o * nr)
        func halves(_ r: Int) -> (V, V) {
          let iy = 2 * ty - 1 + r
          return iy >= 0 && iy < oh ? split(plane + iy * ow) : (V(), V())
        }
        let w0 = halves(0), w1 = halves(1), w2 = halves(2), w3 = halves(3)
        for ay in 0..<2 {
          let r0 = ay == 0 ? w0 : w1, r1 = ay == 0 ? w1 : w2, r2 = ay == 0 ? w2 : w3
          for a in 0..<3 {
            let e: (V, V)
            switch a {
            case 0: e = (r0.0 - r1.0, r0.1 - r1.1)
            case 1: e = r1
            default: e = (r2.0 - r1.0, r2.1 - r1.1)
            }
            let c0 = V.shiftedRight(e.1), c1 = e.0, c2 = e.1, c3 = V.shiftedLeft(e.0)
            // ax = 0: window columns c0, c1, c2; ax = 1: c1, c2, c3.
            let out0 = tile + ((ay * 2) * 9 + a * 3) * bs, out1 = tile + ((ay * 2 + 1) * 9 + a * 3) * bs
            out0.storeBytes(of: c0 - c1, as: V.self)
            (out0 + bs).storeBytes(of: c1, as: V.self)
            (out0 + 2 * bs).storeBytes(of: c2 - c1, as: V.self)
            out1.storeBytes(of: c1 - c2, as: V.self)
            (out1 + bs).storeBytes(of: c2, as: V.self)
            (out1 + 2 * bs).storeBytes(of: c3 - c2, as: V.self)
          }
        }
      }
    }
  }

  /// `inputTransform` and `inputTransformT` lane by lane (tile rows of other widths): per tile and
  /// input phase p = (py, px), window position s = 0, 1, 2 along a side is 4t − 1 + p + 2s forward
  /// (a stride-2 phase of the input) and 2t − 1 + p + s transposed (a shifted dy window).
  static func transformTilesScalar(_ s: Shape, input: UnsafePointer<Float>, n0: Int, images: Int,
                                   v: UnsafeMutablePointer<Float>, items: Range<Int>) {
    let transposed = s.transposed
    let h = transposed ? s.c.outHeight : s.c.inHeight, wd = transposed ? s.c.outWidth : s.c.inWidth
    let channels = transposed ? s.outC : s.inC, k = s.k, nr = s.vPanel
    let tw = s.tilesWide, th = s.tilesHigh, tpi = s.tilesPerImage, vStride = s.vStride
    let step = transposed ? 2 : 4, spacing = transposed ? 1 : 2
    let group = s.panelGroup
    for item in items {
      let (ch, ni) = s.plane(item, channels: channels, group: group)
      if ni >= images { continue }
      let plane = input + ((n0 + ni) * channels + ch) * h * wd
      for ty in 0..<th {
        for tx in 0..<tw {
          let t = ni * tpi + ty * tw + tx
          let tile = v + (t / nr) * k * nr + t % nr + (transposed ? ch : ch * 4) * nr
          // d(r, q): the input at window offset (r, q) from the tile's corner, zero outside.
          func d(_ r: Int, _ q: Int) -> Float {
            let iy = step * ty - 1 + r, ix = step * tx - 1 + q
            return iy >= 0 && iy < h && ix >= 0 && ix < wd ? plane[iy * wd + ix] : 0
          }
          for py in 0..<2 {
            for px in 0..<2 {
              for a in 0..<3 {
                // Bᵀ along rows (window rows py + spacing·s combined per a), then along columns.
                func col(_ q: Int) -> Float {
                  let r1 = d(py + spacing, q)
                  return a == 0 ? d(py, q) - r1 : (a == 1 ? r1 : d(py + 2 * spacing, q) - r1)
                }
                let c0 = col(px), c1 = col(px + spacing), c2 = col(px + 2 * spacing)
                let phase = py * 2 + px
                let out = tile + (transposed ? phase * 9 * vStride : phase * nr) + (a * 3) * vStride
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

  /// dx for images n0 ..< n0 + images from M_φξ (rows: dx channels, columns: the chunk's tiles,
  /// leading dimension ld): per phase φ = (ay, ax), Aᵀ M A gives y_uv for dx row 4ty + 2u + ay,
  /// column 4tx + 2v + ax — so each dx row of a tile row interleaves four vectors across its tiles;
  /// then bias and activation per plane.
  static func outputTransformT(_ s: Shape, m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int,
                               bias: UnsafePointer<Float>?, act: Activation, dx: UnsafeMutablePointer<Float>,
                               pool: ThreadSplitter) {
    let box = UnsafeSendable(value: (m, dx, bias))
    pool.forRanges(s.planeItems(images: images, channels: s.inC), grain: 4) { items in
      let (m, dx, bias) = box.value
      switch s.tilesWide {
      case 8:
        untileT(s, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, dx: dx, items: items,
                SIMD8<Float>.self) { p, a, b, c, d in
          p.storeBytes(of: SIMD16(a[0], b[0], c[0], d[0], a[1], b[1], c[1], d[1],
                                  a[2], b[2], c[2], d[2], a[3], b[3], c[3], d[3]), as: SIMD16<Float>.self)
          p.storeBytes(of: SIMD16(a[4], b[4], c[4], d[4], a[5], b[5], c[5], d[5],
                                  a[6], b[6], c[6], d[6], a[7], b[7], c[7], d[7]), toByteOffset: 64,
                       as: SIMD16<Float>.self)
        }
      case 4:
        untileT(s, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, dx: dx, items: items,
                SIMD4<Float>.self) { p, a, b, c, d in
          p.storeBytes(of: SIMD16(a[0], b[0], c[0], d[0], a[1], b[1], c[1], d[1],
                                  a[2], b[2], c[2], d[2], a[3], b[3], c[3], d[3]), as: SIMD16<Float>.self)
        }
      case 2:
        untileT(s, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, dx: dx, items: items,
                SIMD2<Float>.self) { p, a, b, c, d in
          p.storeBytes(of: SIMD8(a[0], b[0], c[0], d[0], a[1], b[1], c[1], d[1]), as: SIMD8<Float>.self)
        }
      default:
        untileT(s, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, dx: dx, items: items,
                SIMD2<Float>.self, lanes: 1) { p, a, b, c, d in
          p.storeBytes(of: SIMD4(a[0], b[0], c[0], d[0]), as: SIMD4<Float>.self)
        }
      }
    }
  }

  /// `outputTransformT` for one range of planes, V a run of `lanes` tiles along a tile row (all of
  /// it when lanes is V.scalarCount; one tile otherwise); `store` writes one dx row's columns of
  /// those tiles from the four (v, ax) vectors in column order.
  @inline(__always)
  static func untileT<V: SIMD>(_ s: Shape, m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int,
                               bias: UnsafePointer<Float>?, act: Activation, dx: UnsafeMutablePointer<Float>,
                               items: Range<Int>, _: V.Type, lanes: Int = V.scalarCount,
                               store: (UnsafeMutableRawPointer, V, V, V, V) -> Void) where V.Scalar == Float {
    let inC = s.inC, h = s.c.inHeight, wd = s.c.inWidth, tw = s.tilesWide, th = s.tilesHigh
    let tpi = s.tilesPerImage, ms = s.mStride, group = s.panelGroup
    for item in items {
      let (ch, ni) = s.plane(item, channels: inC, group: group)
      if ni >= images { continue }
      let dst = dx + ((n0 + ni) * inC + ch) * h * wd
      let src = m + ch * ld + ni * tpi
      for ty in 0..<th {
        var tx = 0
        while tx < tw {
          let p = src + ty * tw + tx
          func phase(_ f: Int) -> (V, V, V, V) { outputTile(p + f * 9 * ms, stride: ms, lanes: lanes, V.self) }
          let p00 = phase(0), p01 = phase(1), p10 = phase(2), p11 = phase(3)
          let row = UnsafeMutableRawPointer(dst + 4 * ty * wd + 4 * tx), rs = wd * 4
          store(row, p00.0, p01.0, p00.1, p01.1)
          store(row + rs, p10.0, p11.0, p10.1, p11.1)
          store(row + 2 * rs, p00.2, p01.2, p00.3, p01.3)
          store(row + 3 * rs, p10.2, p11.2, p10.3, p11.3)
          tx += lanes
        }
      }
      if bias != nil || act != .identity {
        CPUKernels.applyAffine(count: h * wd, scale: 1, shift: bias?[ch] ?? 0, act: act, x: UnsafePointer(dst), y: dst)
      }
    }
  }
}

extension WinogradConv.Shape: WinogradTiling {
  var batch: Int { c.batch }
  /// A chunk is whole images.
  var bandRows: Int { tilesHigh }

  func packFilters(_ w: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    WinogradConv.packFilters(self, w: w, into: dst, pool: pool)
  }

  func inputTransform(_ input: UnsafePointer<Float>, n0: Int, images: Int, rows: WinogradBand,
                      v: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    if tile == 4 {
      WinogradConv.inputTransformF4(self, input: input, n0: n0, images: images, v: v, pool: pool)
    } else if transposed {
      WinogradConv.inputTransformT(self, dy: input, n0: n0, images: images, v: v, pool: pool)
    } else {
      WinogradConv.inputTransform(self, x: input, n0: n0, images: images, v: v, pool: pool)
    }
  }

  func outputTransform(_ m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int, rows: WinogradBand,
                       bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>,
                       pool: ThreadSplitter) {
    if tile == 4 {
      WinogradConv.outputTransformF4(self, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, output: output,
                                     pool: pool)
    } else if transposed {
      WinogradConv.outputTransformT(self, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, dx: output,
                                    pool: pool)
    } else {
      WinogradConv.outputTransform(self, m: m, ld: ld, n0: n0, images: images, bias: bias, act: act, y: output,
                                   pool: pool)
    }
  }
}

/// A tile row's vector (one lane per tile) and its moves by one tile, zero filling: lane t of
/// `shiftedRight(e)` is e[t − 1] (the left neighbour's value), of `shiftedLeft(e)` e[t + 1].
/// Written lane by lane per width so that each compiles to one permute.
protocol TileRow: SIMD where Scalar == Float {
  static func shiftedRight(_ e: Self) -> Self
  static func shiftedLeft(_ e: Self) -> Self
}

extension SIMD8: TileRow where Scalar == Float {
  @inline(__always) static func shiftedRight(_ e: Self) -> Self { Self(0, e[0], e[1], e[2], e[3], e[4], e[5], e[6]) }
  @inline(__always) static func shiftedLeft(_ e: Self) -> Self { Self(e[1], e[2], e[3], e[4], e[5], e[6], e[7], 0) }
}

extension SIMD4: TileRow where Scalar == Float {
  @inline(__always) static func shiftedRight(_ e: Self) -> Self { Self(0, e[0], e[1], e[2]) }
  @inline(__always) static func shiftedLeft(_ e: Self) -> Self { Self(e[1], e[2], e[3], 0) }
}

extension SIMD2: TileRow where Scalar == Float {
  @inline(__always) static func shiftedRight(_ e: Self) -> Self { Self(0, e[0]) }
  @inline(__always) static func shiftedLeft(_ e: Self) -> Self { Self(e[1], 0) }
}
