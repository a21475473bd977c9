import CPURuntime
import Compute

// 3 × 3 stride-1 convolutions with one pixel of padding (SRResNet's body and upsampling convs) as
// Winograd F(2 × 2, 3 × 3): a 2 × 2 output tile from a 4 × 4 input window in 16 products instead
// of 36,
//   V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ (Σ U ⊙ V) A,
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]
// (points 0, ±1, ∞: B and A are 0/±1; G's halves are exact in binary). The channel sums are 16
// GEMMs, one per ξ ∈ 4 × 4,
//   M_ξ[outC × tiles] = U_ξ[outC × inC] · V_ξ[inC × tiles],
// on `WinogradDriver`, as WinogradConv's (U pre-packed once for constant weights, V written in
// the driver's 32-wide panels, M read back by the output transform with bias and activation).
// The transforms are vectors across eight tiles of a tile row (stored tile by tile where a row's
// last vector is partial or eight tiles cross a GEMM panel).

enum Winograd3x3 {
  /// 3 × 3, stride 1, padding 1 on every side, even height and width, ≥ 16 channels each side,
  /// and one tile row's V + M within WinogradConv's per-image bound (images larger than a chunk
  /// go in bands of tile rows).
  static func applies(_ c: ConvGeometry) -> Bool {
    guard c.kernelH == 3 && c.kernelW == 3 && c.strideH == 1 && c.strideW == 1 && c.padH == 1 && c.padW == 1
      && c.padBottom == 1 && c.padRight == 1 && c.inHeight % 2 == 0 && c.inWidth % 2 == 0
      && c.inChannels >= 16 && c.outChannels >= 16
    else { return false }
    let s = Shape(c: c)
    return s.tilesWide * products * (s.k + s.m) <= WinogradConv.maxImageFloats
  }

  static let products = 16

  struct Shape {
    let c: ConvGeometry
    var m: Int { c.outChannels }
    var k: Int { c.inChannels }
    var tilesWide: Int { c.inWidth / 2 }
    var tilesHigh: Int { c.inHeight / 2 }
    var tilesPerImage: Int { tilesWide * tilesHigh }
    /// Images per chunk: V + M within WinogradConv's chunk budget, in chunks of equal size; one
    /// when a single image passes the budget, which then goes in bands of `bandRows` tile rows.
    var images: Int {
      let fit = max(1, WinogradConv.chunkBudgetFloats / (tilesPerImage * products * (k + m)))
      let chunks = (c.batch + fit - 1) / fit
      return (c.batch + chunks - 1) / chunks
    }
    /// Tile rows per chunk: all of an image's, or — an image past the budget (SRResNet's
    /// 128 × 128 upsampling conv: 4096 tiles × 16 × 320 floats) — as many as fit, in bands of
    /// equal size.
    var bandRows: Int {
      let fit = max(1, WinogradConv.chunkBudgetFloats / (tilesWide * products * (k + m)))
      if fit >= tilesHigh { return tilesHigh }
      let bands = (tilesHigh + fit - 1) / fit
      return (tilesHigh + bands - 1) / bands
    }
    var chunkTiles: Int { images * bandRows * tilesWide }
    var panels: Int { (chunkTiles + SGEMMEngine.nr - 1) / SGEMMEngine.nr }
    var vStride: Int { panels * SGEMMEngine.nr * k + WinogradConv.skew }
    var mStride: Int { m * chunkTiles + WinogradConv.skew }
    var uStride: Int { SGEMMEngine.packedAFloats(m: m, k: k) + WinogradConv.skew }
  }

  /// Scratch floats: V and M for a chunk, and U when the weights are not pre-packed.
  static func workspaceFloats(_ c: ConvGeometry, prepacked: Bool) -> Int {
    WinogradDriver.workspaceFloats(Shape(c: c), prepacked: prepacked)
  }

  /// Every U_ξ (`uStride` apart) in the GEMM driver's pre-packed A layout: U_ξ row o, column c =
  /// (G g Gᵀ)_ξ for g = w[o, c]. Eight rows (an MR panel) at a time as 8-lane vectors.
  static func packFilters(_ s: Shape, w: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                          pool: ThreadSplitter) {
    typealias V = SIMD8<Float>
    let k = s.k, m = s.m, uStride = s.uStride, mr = SGEMMEngine.mr
    precondition(mr == V.scalarCount)
    @inline(__always) func index(_ row: Int, _ col: Int) -> Int {
      SGEMMEngine.packedAIndex(row: row, col: col, m: m, k: k)
    }
    let box = UnsafeSendable(value: dst)
    pool.forRanges((m + mr - 1) / mr, grain: 1) { panels in
      let dst = box.value
      for panel in panels {
        let row0 = panel * mr, rows = min(mr, m - row0)
        for ch in 0..<k {
          // The panel's nine taps as vectors across its rows (rows past m: zeros).
          var t0 = V(), t1 = V(), t2 = V(), t3 = V(), t4 = V(), t5 = V(), t6 = V(), t7 = V(), t8 = V()
          for r in 0..<rows {
            let p = w + ((row0 + r) * k + ch) * 9
            t0[r] = p[0]; t1[r] = p[1]; t2[r] = p[2]; t3[r] = p[3]; t4[r] = p[4]
            t5[r] = p[5]; t6[r] = p[6]; t7[r] = p[7]; t8[r] = p[8]
          }
          // G g: rows (g0, ½(g0 + g1 + g2), ½(g0 − g1 + g2), g2) of the 3 × 3 kernel, per column.
          func rowsOf(_ a: V, _ b: V, _ c: V) -> (V, V, V, V) {
            (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
          }
          let c0 = rowsOf(t0, t3, t6), c1 = rowsOf(t1, t4, t7), c2 = rowsOf(t2, t5, t8)
          let at = index(row0, ch)
          for a in 0..<4 {
            let x0 = a == 0 ? c0.0 : (a == 1 ? c0.1 : (a == 2 ? c0.2 : c0.3))
            let x1 = a == 0 ? c1.0 : (a == 1 ? c1.1 : (a == 2 ? c1.2 : c1.3))
            let x2 = a == 0 ? c2.0 : (a == 1 ? c2.1 : (a == 2 ? c2.2 : c2.3))
            let u = rowsOf(x0, x1, x2)
            let out = UnsafeMutableRawPointer(dst + (a * 4) * uStride + at)
            out.storeBytes(of: u.0, as: V.self)
            out.storeBytes(of: u.1, toByteOffset: uStride * 4, as: V.self)
            out.storeBytes(of: u.2, toByteOffset: 2 * uStride * 4, as: V.self)
            out.storeBytes(of: u.3, toByteOffset: 3 * uStride * 4, as: V.self)
          }
        }
      }
    }
  }

  /// `packFilters` into a new allocation (constant weights); the caller owns and deallocates it.
  static func prepackFilters(_ c: ConvGeometry, w: UnsafePointer<Float>, pool: ThreadSplitter)
    -> UnsafeMutablePointer<Float> {
    WinogradDriver.prepackFilters(Shape(c: c), w: w, pool: pool)
  }

  /// y = act(conv(x, w) + bias) on `WinogradDriver`. `prepacked`: `prepackFilters` (constant
  /// weights), else the filters are packed into the workspace on every call. `workspace`:
  /// `workspaceFloats`.
  static func run(_ c: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                  act: Activation, y: UnsafeMutablePointer<Float>, engine: SGEMMEngine,
                  prepacked: UnsafePointer<Float>?, workspace: UnsafeMutablePointer<Float>) {
    WinogradDriver.run(Shape(c: c), input: x, w: w, bias: bias, act: act, output: y, engine: engine,
                       prepacked: prepacked, workspace: workspace)
  }

  typealias Band = WinogradBand

  /// V_ξ for images n0 ..< n0 + images, one (image, channel) plane's tile row at a time, eight
  /// tiles as vectors: window column q of tile t is input column 2t − 1 + q — the even and odd
  /// lanes of two 16-wide loads of the window row (zero past the edges) — and Bᵀ combines four of
  /// anything as (d₀ − d₂, d₁ + d₂, d₂ − d₁, d₁ − d₃), along the columns and then the rows.
  static func inputTransform(_ s: Shape, x: UnsafePointer<Float>, n0: Int, images: Int, rows: Band,
                             v: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    typealias V = SIMD8<Float>
    typealias W = SIMD16<Float>
    let h = s.c.inHeight, wd = s.c.inWidth, k = s.k, nr = SGEMMEngine.nr
    let tw = s.tilesWide, tpi = rows.count * tw, vStride = s.vStride, planes = images * k
    let box = UnsafeSendable(value: (x, v))
    let workers = min(pool.threads, planes)
    pool.forEach(workers) { wk in
      let (x, v) = box.value
      let lo = wk * planes / workers, hi = (wk + 1) * planes / workers
      for item in lo..<hi {
        let ni = item / k, ch = item % k
        let plane = x + ((n0 + ni) * k + ch) * h * wd
        for ty in rows.ty0..<rows.ty1 {
          @inline(__always) func load(_ r: Int, _ j: Int) -> (V, V, V, V) {
            // Window row r (input row 2ty − 1 + r), tiles 8j ..< 8j + 8: d_q[t] = row[2t − 1 + q].
            let iy = 2 * ty - 1 + r
            if iy < 0 || iy >= h { return (V(), V(), V(), V()) }
            let row = plane + iy * wd
            let c0 = 16 * j  // input column of d₁ for the chunk's first tile
            // a = row[c0 − 1 ..< c0 + 15], b = row[c0 + 1 ..< c0 + 17] (zero past the edges).
            let a: W, b: W
            if c0 >= 1 && c0 + 15 <= wd {
              a = UnsafeRawPointer(row + c0 - 1).loadUnaligned(as: W.self)
            } else {
              var t = W()
              for l in 0..<16 where c0 - 1 + l >= 0 && c0 - 1 + l < wd { t[l] = row[c0 - 1 + l] }
              a = t
            }
            if c0 + 17 <= wd {
              b = UnsafeRawPointer(row + c0 + 1).loadUnaligned(as: W.self)
            } else {
              var t = W()
              for l in 0..<16 where c0 + 1 + l < wd { t[l] = row[c0 + 1 + l] }
              b = t
            }
            return (V(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14]),
                    V(a[1], a[3], a[5], a[7], a[9], a[11], a[13], a[15]),
                    V(b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14]),
                    V(b[1], b[3], b[5], b[7], b[9], b[11], b[13], b[15]))
          }
          @inline(__always) func bt(_ d: (V, V, V, V)) -> (V, V, V, V) {
            (d.0 - d.2, d.1 + d.2, d.2 - d.1, d.1 - d.3)
          }
          for j in 0..<((tw + 7) / 8) {
            let r0 = bt(load(0, j)), r1 = bt(load(1, j)), r2 = bt(load(2, j)), r3 = bt(load(3, j))
            let t0 = ni * tpi + (ty - rows.ty0) * tw + 8 * j
            // Eight tiles inside one panel: vector stores; else (a row's last, partial vector, or
            // one crossing panels when rows are not whole vectors) tile by tile.
            let whole = tw - 8 * j >= 8 && t0 % nr + 8 <= nr
            let valid = min(8, tw - 8 * j)
            let base = UnsafeMutableRawPointer(v + (t0 / nr) * k * nr + t0 % nr + ch * nr)
            // ξ = 4a + b: row combination a of column combination b.
            for b in 0..<4 {
              let e0 = b == 0 ? r0.0 : (b == 1 ? r0.1 : (b == 2 ? r0.2 : r0.3))
              let e1 = b == 0 ? r1.0 : (b == 1 ? r1.1 : (b == 2 ? r1.2 : r1.3))
              let e2 = b == 0 ? r2.0 : (b == 1 ? r2.1 : (b == 2 ? r2.2 : r2.3))
              let e3 = b == 0 ? r3.0 : (b == 1 ? r3.1 : (b == 2 ? r3.2 : r3.3))
              let col = bt((e0, e1, e2, e3))
              if whole {
                base.storeBytes(of: col.0, toByteOffset: (0 * 4 + b) * vStride * 4, as: V.self)
                base.storeBytes(of: col.1, toByteOffset: (1 * 4 + b) * vStride * 4, as: V.self)
                base.storeBytes(of: col.2, toByteOffset: (2 * 4 + b) * vStride * 4, as: V.self)
                base.storeBytes(of: col.3, toByteOffset: (3 * 4 + b) * vStride * 4, as: V.self)
              } else {
                for l in 0..<valid {
                  let t = t0 + l, dst = v + (t / nr) * k * nr + t % nr + ch * nr
                  dst[(0 * 4 + b) * vStride] = col.0[l]; dst[(1 * 4 + b) * vStride] = col.1[l]
                  dst[(2 * 4 + b) * vStride] = col.2[l]; dst[(3 * 4 + b) * vStride] = col.3[l]
                }
              }
            }
          }
        }
      }
    }
  }

  /// y for images n0 ..< n0 + images from M_ξ (rows: output channels, columns: the chunk's tiles,
  /// leading dimension ld): Aᵀ M A per tile, eight tiles of a tile row as vectors, the two output
  /// columns of each interleaved into 16-wide stores; then bias and activation per plane.
  static func outputTransform(_ s: Shape, m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int, rows: Band,
                              bias: UnsafePointer<Float>?, act: Activation, y: UnsafeMutablePointer<Float>,
                              pool: ThreadSplitter) {
    typealias V = SIMD8<Float>
    let outC = s.m, oh = s.c.outHeight, ow = s.c.outWidth, tw = s.tilesWide
    let tpi = rows.count * tw, ms = s.mStride
    let box = UnsafeSendable(value: (m, y, bias))
    pool.forRanges(images * outC, grain: 4) { items in
      let (m, y, bias) = box.value
      for item in items {
        let ni = item / outC, o = item % outC
        let dst = y + ((n0 + ni) * outC + o) * oh * ow
        let src = m + o * ld + ni * tpi
        for ty in rows.ty0..<rows.ty1 {
          for j in 0..<((tw + 7) / 8) {
            // A row's last vector may be partial: its lanes past the row read the next tiles of
            // M (or the skew past its end) and are not stored.
            let p = src + (ty - rows.ty0) * tw + 8 * j, valid = min(8, tw - 8 * j)
            @inline(__always) func ld(_ xi: Int) -> V { UnsafeRawPointer(p + xi * ms).loadUnaligned(as: V.self) }
            // Aᵀ along the rows a (s₀ = m₀ + m₁ + m₂, s₁ = m₁ − m₂ − m₃ of each column b), then
            // along the columns.
            func col(_ b: Int) -> (V, V) {
              let a0 = ld(b), a1 = ld(4 + b), a2 = ld(8 + b), a3 = ld(12 + b)
              return (a0 + a1 + a2, a1 - a2 - a3)
            }
            let c0 = col(0), c1 = col(1), c2 = col(2), c3 = col(3)
            let y00 = c0.0 + c1.0 + c2.0, y01 = c1.0 - c2.0 - c3.0
            let y10 = c0.1 + c1.1 + c2.1, y11 = c1.1 - c2.1 - c3.1
            let r0 = UnsafeMutableRawPointer(dst + 2 * ty * ow + 16 * j), r1 = r0 + ow * 4
            if valid < 8 {
              let q0 = dst + 2 * ty * ow + 16 * j, q1 = q0 + ow
              for l in 0..<valid {
                q0[2 * l] = y00[l]; q0[2 * l + 1] = y01[l]; q1[2 * l] = y10[l]; q1[2 * l + 1] = y11[l]
              }
              continue
            }
            r0.storeBytes(of: SIMD16(y00[0], y01[0], y00[1], y01[1], y00[2], y01[2], y00[3], y01[3],
                                     y00[4], y01[4], y00[5], y01[5], y00[6], y01[6], y00[7], y01[7]),
                          as: SIMD16<Float>.self)
            r1.storeBytes(of: SIMD16(y10[0], y11[0], y10[1], y11[1], y10[2], y11[2], y10[3], y11[3],
                                     y10[4], y11[4], y10[5], y11[5], y10[6], y11[6], y10[7], y11[7]),
                          as: SIMD16<Float>.self)
          }
        }
        if bias != nil || act != .identity {
          let band = dst + 2 * rows.ty0 * ow
          CPUKernels.applyAffine(count: 2 * rows.count * ow, scale: 1, shift: bias?[o] ?? 0, act: act,
                                 x: UnsafePointer(band), y: band)
        }
      }
    }
  }
}

extension Winograd3x3.Shape: WinogradTiling {
  var batch: Int { c.batch }
  var products: Int { Winograd3x3.products }
  var narrow: Bool { false }

  func packFilters(_ w: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    Winograd3x3.packFilters(self, w: w, into: dst, pool: pool)
  }

  func inputTransform(_ input: UnsafePointer<Float>, n0: Int, images: Int, rows: WinogradBand,
                      v: UnsafeMutablePointer<Float>, pool: ThreadSplitter) {
    Winograd3x3.inputTransform(self, x: input, n0: n0, images: images, rows: rows, v: v, pool: pool)
  }

  func outputTransform(_ m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int, rows: WinogradBand,
                       bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>,
                       pool: ThreadSplitter) {
    Winograd3x3.outputTransform(self, m: m, ld: ld, n0: n0, images: images, rows: rows, bias: bias, act: act,
                                y: output, pool: pool)
  }
}
