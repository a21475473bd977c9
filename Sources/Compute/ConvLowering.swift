// Convolutions expressed through a device's primitives: im2col / col2im, GEMM, block transposes
// and the bias/activation epilogue. Every backend runs convolutions this way; a backend with a
// faster direct kernel for some geometry can use it and fall back here for the rest.
//
// Three shapes of lowering, chosen by geometry:
//  * fully connected — the kernel covers the whole unpadded input, output 1×1 (DCGAN's first
//    generator and last discriminator layers): one GEMM over the batch, no im2col;
//  * pointwise — 1×1 kernel, stride 1, no padding: one batched GEMM straight on NCHW;
//  * general — im2col tiles, each at most `columnBudget` floats: several whole images per tile
//    when they fit (one GEMM for the group, then a block transpose back to NCHW), otherwise bands
//    of output rows of one image, so a large image never materialises its whole patch matrix.

public enum ConvLowering {
  /// The largest im2col tile, in floats (16 MiB), unless the target names its own.
  public static let columnBudget = 4 << 20

  public enum Shape: Equatable, Sendable {
    case fullyConnected
    case pointwise
    /// `images` per tile (> 1 only when `rows` is every output row), `rows` output rows per tile.
    case tiled(images: Int, rows: Int)
  }

  public static func shape(_ c: ConvGeometry, budget columnBudget: Int = columnBudget) -> Shape {
    if c.outHeight == 1 && c.outWidth == 1 && c.isUnpadded && c.kernelH == c.inHeight
        && c.kernelW == c.inWidth {
      return .fullyConnected
    }
    if c.kernelH == 1 && c.kernelW == 1 && c.strideH == 1 && c.strideW == 1 && c.isUnpadded {
      return .pointwise
    }
    let perImage = max(1, c.patchSize * c.outPixels)
    if perImage <= columnBudget {
      return .tiled(images: max(1, min(c.batch, columnBudget / perImage)), rows: c.outHeight)
    }
    return .tiled(images: 1, rows: max(1, min(c.outHeight, columnBudget / max(1, c.patchSize * c.outWidth))))
  }

  /// Workspace floats the lowered ops need for this geometry.
  public static func workspaceFloats(_ c: ConvGeometry, budget: Int = columnBudget) -> Int {
    guard case .tiled(let g, let rows) = shape(c, budget: budget) else { return 0 }
    return c.patchSize * g * rows * c.outWidth + (g > 1 ? c.outChannels * g * c.outPixels : 0)
  }

  /// Runs `body(first image, images, first row, rows)` for each tile, in order.
  static func forEachTile(_ c: ConvGeometry, images g: Int, rows: Int,
                          _ body: (Int, Int, Int, Int) throws -> Void) rethrows {
    var n0 = 0
    while n0 < c.batch {
      let gi = min(g, c.batch - n0)
      var r0 = 0
      while r0 < c.outHeight {
        let ri = min(rows, c.outHeight - r0)
        try body(n0, gi, r0, ri)
        r0 += ri
      }
      n0 += gi
    }
  }

  /// y = act(conv(x, w) + bias)
  public static func conv2d<T: LoweringTarget>(on d: T, _ c: ConvGeometry, x: T.Operand, w: T.Operand,
                                               bias: T.Operand?, activation: Activation, y: T.Operand) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    switch shape(c, budget: d.columnBudget) {
    case .fullyConnected:
      // y[N, outC] = x[N, P] · w[outC, P]ᵀ
      try d.gemm(GemmDesc(transB: true, m: c.batch, n: c.outChannels, k: p), a: x, b: w, c: y)
    case .pointwise:
      try d.gemm(GemmDesc(m: c.outChannels, n: hw, k: p, batch: c.batch, strideA: 0, strideB: inImage,
                          strideC: c.outChannels * hw), a: w, b: x, c: y)
    case .tiled(let g, let rows):
      let ws = try d.workspace(floats: workspaceFloats(c, budget: d.columnBudget))
      try forEachTile(c, images: g, rows: rows) { n0, gi, r0, ri in
        let tile = PatchTile(images: gi, rowStart: r0, rows: ri)
        let cols = tile.columns(c)
        let col = ws, xg = d.advanced(x, by: n0 * inImage)
        try d.im2col(c, tile, x: xg, col: col)
        if gi == 1 {
          // Straight into rows r0..<r0+ri of image n0 (C's leading dimension is the image's HW).
          let yt = d.advanced(y, by: (n0 * c.outChannels) * hw + r0 * c.outWidth)
          try d.gemm(GemmDesc(m: c.outChannels, n: cols, k: p, ldc: hw), a: w, b: col, c: yt)
        } else {
          let tmp = d.advanced(ws, by: p * g * hw), yg = d.advanced(y, by: n0 * c.outChannels * hw)
          try d.gemm(GemmDesc(m: c.outChannels, n: cols, k: p), a: w, b: col, c: tmp)
          try d.transposeBlocks(a: c.outChannels, b: gi, inner: hw, x: tmp, y: yg)
        }
      }
    }
    try epilogue(on: d, ChannelLayout(batch: c.batch, channels: c.outChannels, spatial: hw),
                 bias: bias, activation: activation, y: y)
  }

  /// dx = act(conv2d_backward_data(dy, w) + bias) — also a transposed convolution's forward pass.
  public static func conv2dBackwardData<T: LoweringTarget>(on d: T, _ c: ConvGeometry, dy: T.Operand, w: T.Operand,
                                                           bias: T.Operand?, activation: Activation, dx: T.Operand) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    switch shape(c, budget: d.columnBudget) {
    case .fullyConnected:
      // dx[N, P] = dy[N, outC] · w[outC, P]
      try d.gemm(GemmDesc(m: c.batch, n: p, k: c.outChannels), a: dy, b: w, c: dx)
    case .pointwise:
      try d.gemm(GemmDesc(transA: true, m: p, n: hw, k: c.outChannels, batch: c.batch, strideA: 0,
                          strideB: c.outChannels * hw, strideC: inImage), a: w, b: dy, c: dx)
    case .tiled(let g, let rows):
      let ws = try d.workspace(floats: workspaceFloats(c, budget: d.columnBudget))
      let banded = rows < c.outHeight
      try forEachTile(c, images: g, rows: rows) { n0, gi, r0, ri in
        let tile = PatchTile(images: gi, rowStart: r0, rows: ri, accumulate: banded && r0 > 0)
        let cols = tile.columns(c)
        let col = ws, dxg = d.advanced(dx, by: n0 * inImage)
        if gi == 1 {
          let dyt = d.advanced(dy, by: (n0 * c.outChannels) * hw + r0 * c.outWidth)
          try d.gemm(GemmDesc(transA: true, m: p, n: cols, k: c.outChannels, ldb: hw), a: w, b: dyt, c: col)
        } else {
          let tmp = d.advanced(ws, by: p * g * hw), dyg = d.advanced(dy, by: n0 * c.outChannels * hw)
          try d.transposeBlocks(a: gi, b: c.outChannels, inner: hw, x: dyg, y: tmp)
          try d.gemm(GemmDesc(transA: true, m: p, n: cols, k: c.outChannels), a: w, b: tmp, c: col)
        }
        try d.col2im(c, tile, col: col, x: dxg)
      }
    }
    try epilogue(on: d, ChannelLayout(batch: c.batch, channels: c.inChannels, spatial: c.inHeight * c.inWidth),
                 bias: bias, activation: activation, y: dx)
  }

  /// dw (+)= Σ_n dy_n · im2col(x_n)ᵀ
  public static func conv2dBackwardFilter<T: LoweringTarget>(on d: T, _ c: ConvGeometry, x: T.Operand, dy: T.Operand,
                                                             accumulate: Bool, dw: T.Operand) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    let beta0: Float = accumulate ? 1 : 0
    switch shape(c, budget: d.columnBudget) {
    case .fullyConnected:
      // dw[outC, P] (+)= dy[N, outC]ᵀ · x[N, P]
      try d.gemm(GemmDesc(transA: true, m: c.outChannels, n: p, k: c.batch, beta: beta0), a: dy, b: x, c: dw)
    case .pointwise:
      for n in 0..<c.batch {
        let beta: Float = n == 0 ? beta0 : 1
        let dyn = d.advanced(dy, by: n * c.outChannels * hw), xn = d.advanced(x, by: n * inImage)
        try d.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: hw, beta: beta), a: dyn, b: xn, c: dw)
      }
    case .tiled(let g, let rows):
      let ws = try d.workspace(floats: workspaceFloats(c, budget: d.columnBudget))
      var first = true
      try forEachTile(c, images: g, rows: rows) { n0, gi, r0, ri in
        let tile = PatchTile(images: gi, rowStart: r0, rows: ri)
        let cols = tile.columns(c)
        let col = ws, xg = d.advanced(x, by: n0 * inImage)
        try d.im2col(c, tile, x: xg, col: col)
        let beta: Float = first ? beta0 : 1
        first = false
        if gi == 1 {
          let dyt = d.advanced(dy, by: (n0 * c.outChannels) * hw + r0 * c.outWidth)
          try d.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: cols, lda: hw, beta: beta), a: dyt, b: col, c: dw)
        } else {
          let a = d.advanced(ws, by: p * g * hw), dyg = d.advanced(dy, by: n0 * c.outChannels * hw)
          try d.transposeBlocks(a: gi, b: c.outChannels, inner: hw, x: dyg, y: a)
          try d.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: cols, beta: beta), a: a, b: col, c: dw)
        }
      }
    }
  }

  static func epilogue<T: LoweringTarget>(on d: T, _ l: ChannelLayout, bias: T.Operand?, activation: Activation,
                                           y: T.Operand) throws {
    if let bias {
      try d.biasActivation(l, activation, y: y, bias: bias)
    } else if activation != .identity {
      try d.activation(activation, count: l.count, y: y)
    }
  }
}

/// The primitives ConvLowering lowers a convolution to, on some operand type: a device runs them
/// as ops on tensors (`DeviceLowering`); the CPU backend runs them straight on pointers, with no
/// per-call allocation.
public protocol LoweringTarget {
  associatedtype Operand
  /// The largest im2col tile, in floats.
  var columnBudget: Int { get }
  /// `t` advanced by `elements` floats (to the end of its memory).
  func advanced(_ t: Operand, by elements: Int) -> Operand
  /// Reused scratch of at least `floats` floats, valid until the next call.
  func workspace(floats: Int) throws -> Operand
  /// C = alpha·op(A)·op(B) + beta·C (batched per `g`).
  func gemm(_ g: GemmDesc, a: Operand, b: Operand, c: Operand) throws
  func im2col(_ c: ConvGeometry, _ t: PatchTile, x: Operand, col: Operand) throws
  /// Scatters (or, with `t.accumulate`, adds) the patch tile into x.
  func col2im(_ c: ConvGeometry, _ t: PatchTile, col: Operand, x: Operand) throws
  func transposeBlocks(a: Int, b: Int, inner: Int, x: Operand, y: Operand) throws
  /// y = act(y + bias[channel]), in place.
  func biasActivation(_ l: ChannelLayout, _ act: Activation, y: Operand, bias: Operand) throws
  /// y = act(y), in place.
  func activation(_ act: Activation, count: Int, y: Operand) throws
}

extension LoweringTarget {
  public var columnBudget: Int { ConvLowering.columnBudget }
}

/// ConvLowering on any device, through its ops on tensors.
public struct DeviceLowering: LoweringTarget {
  public let device: Device
  public init(_ device: Device) { self.device = device }

  public func advanced(_ t: TensorRef, by elements: Int) -> TensorRef {
    t.slice(start: elements, count: t.count - elements)
  }
  public func workspace(floats: Int) throws -> TensorRef {
    TensorRef(buffer: try device.workspace(byteCount: floats * 4), shape: [floats])
  }
  public func gemm(_ g: GemmDesc, a: TensorRef, b: TensorRef, c: TensorRef) throws {
    try device.run(.gemm(g), inputs: g.beta != 0 ? [a, b, c] : [a, b], outputs: [c])
  }
  public func im2col(_ c: ConvGeometry, _ t: PatchTile, x: TensorRef, col: TensorRef) throws {
    try device.run(.im2col(c, t), inputs: [x], outputs: [col])
  }
  public func col2im(_ c: ConvGeometry, _ t: PatchTile, col: TensorRef, x: TensorRef) throws {
    try device.run(.col2im(c, t), inputs: t.accumulate ? [col, x] : [col], outputs: [x])
  }
  public func transposeBlocks(a: Int, b: Int, inner: Int, x: TensorRef, y: TensorRef) throws {
    try device.run(.transposeBlocks(a: a, b: b, inner: inner), inputs: [x], outputs: [y])
  }
  public func biasActivation(_ l: ChannelLayout, _ act: Activation, y: TensorRef, bias: TensorRef) throws {
    try device.run(.biasActivation(l, activation: act), inputs: [y, bias], outputs: [y])
  }
  public func activation(_ act: Activation, count: Int, y: TensorRef) throws {
    try device.run(.activation(act, count: count), inputs: [y], outputs: [y])
  }
}
