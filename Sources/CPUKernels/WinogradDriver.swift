import CPURuntime
import Compute

// The driver shared by the Winograd convolutions (Winograd3x3: F(2 × 2, 3 × 3); WinogradConv:
// the 4 × 4 stride-2 convolution as F(2 × 2, 2 × 2) per phase, forward and backward-data). Each
// runs as `products` GEMMs, one per point ξ of the transformed tile,
//   M_ξ[m × tiles] = U_ξ[m × k] · V_ξ[k × tiles],
// over a batch cut into chunks of images (and, for images too large for one chunk, bands of tile
// rows) so that V and M stay in the last-level cache:
//   per chunk and band: input transform (x → V, in the GEMM driver's panels), the batched GEMMs,
//   output transform (M → y, with bias and activation).
// U is the filters' transform: pre-packed once for constant weights, else packed into the
// workspace on every call. A `WinogradTiling` supplies the shapes and the three transforms.

/// Tile rows ty0 ..< ty1 of every image of a chunk.
struct WinogradBand {
  let ty0: Int, ty1: Int
  var count: Int { ty1 - ty0 }
}

/// One Winograd convolution's shapes and tile transforms, as `WinogradDriver` runs them.
protocol WinogradTiling {
  /// Images in the batch.
  var batch: Int { get }
  /// GEMMs per chunk (points of the transformed tile, times output phases where there are several).
  var products: Int { get }
  /// The GEMMs' rows (output channels), depth, and tiles per row of tiles and per column.
  var m: Int { get }
  var k: Int { get }
  var tilesWide: Int { get }
  var tilesHigh: Int { get }
  /// Images per chunk, and tile rows per band (`tilesHigh`: whole images).
  var images: Int { get }
  var bandRows: Int { get }
  /// ≤ 16 tiles in all: the GEMMs run on the skinny kernel (`SGEMMEngine.narrowBatch`) with V in
  /// 8-tile panels and U in the skinny pre-packed layout; else on the packed path's 32-tile panels.
  var narrow: Bool { get }
  /// Floats between consecutive products' U, V and M.
  var uStride: Int { get }
  var vStride: Int { get }
  var mStride: Int { get }
  /// Every U_ξ, `uStride` apart, in the GEMM driver's pre-packed A layout.
  func packFilters(_ w: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, pool: ThreadSplitter)
  /// V for images n0 ..< n0 + images, tile rows `rows`, from `input`.
  func inputTransform(_ input: UnsafePointer<Float>, n0: Int, images: Int, rows: WinogradBand,
                      v: UnsafeMutablePointer<Float>, pool: ThreadSplitter)
  /// The output for images n0 ..< n0 + images, tile rows `rows`, from M (leading dimension `ld`),
  /// with bias and activation.
  func outputTransform(_ m: UnsafePointer<Float>, ld: Int, n0: Int, images: Int, rows: WinogradBand,
                       bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>,
                       pool: ThreadSplitter)
}

enum WinogradDriver {
  /// Scratch floats: V and M for a chunk, and U when the weights are not pre-packed.
  static func workspaceFloats<S: WinogradTiling>(_ s: S, prepacked: Bool) -> Int {
    s.products * (s.vStride + s.mStride + (prepacked ? 0 : s.uStride))
  }

  /// `packFilters` into a new allocation (constant weights); the caller owns and deallocates it.
  static func prepackFilters<S: WinogradTiling>(_ s: S, w: UnsafePointer<Float>, pool: ThreadSplitter)
    -> UnsafeMutablePointer<Float> {
    let packed = UnsafeMutablePointer<Float>.allocateAligned(count: s.products * s.uStride)
    s.packFilters(w, into: packed, pool: pool)
    return packed
  }

  /// output = act(conv(input, w) + bias) chunk by chunk and band by band. `prepacked`:
  /// `prepackFilters` (constant weights), else the filters are packed into the workspace on every
  /// call. `workspace`: `workspaceFloats(s, prepacked:)` floats.
  static func run<S: WinogradTiling>(_ s: S, input: UnsafePointer<Float>, w: UnsafePointer<Float>,
                                     bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>,
                                     engine: SGEMMEngine, prepacked: UnsafePointer<Float>?,
                                     workspace: UnsafeMutablePointer<Float>) {
    let pool = engine.splitter
    let v = workspace, m = v + s.products * s.vStride
    let u: UnsafePointer<Float>
    if let prepacked {
      u = prepacked
    } else {
      let scratch = m + s.products * s.mStride
      s.packFilters(w, into: scratch, pool: pool)
      u = UnsafePointer(scratch)
    }
    let perChunk = s.images, bandRows = s.bandRows, tilesHigh = s.tilesHigh
    var n0 = 0
    while n0 < s.batch {
      let images = min(perChunk, s.batch - n0)
      var ty0 = 0
      while ty0 < tilesHigh {
        let rows = WinogradBand(ty0: ty0, ty1: min(tilesHigh, ty0 + bandRows))
        let tiles = images * rows.count * s.tilesWide
        s.inputTransform(input, n0: n0, images: images, rows: rows, v: v, pool: pool)
        if s.narrow {
          engine.narrowBatch(count: s.products, m: s.m, n: tiles, k: s.k, a: u, aStride: s.uStride,
                             b: v, bStride: s.vStride, c: m, cStride: s.mStride, ldc: tiles)
        } else {
          engine.panelsBatch(count: s.products, m: s.m, n: tiles, k: s.k, a: u, aStride: s.uStride,
                             b: v, bStride: s.vStride, c: m, cStride: s.mStride, ldc: tiles)
        }
        s.outputTransform(UnsafePointer(m), ld: tiles, n0: n0, images: images, rows: rows, bias: bias, act: act,
                          output: output, pool: pool)
        ty0 = rows.ty1
      }
      n0 += images
    }
  }
}
