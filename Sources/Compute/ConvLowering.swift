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
  /// The largest im2col tile, in floats (16 MiB).
  public static let columnBudget = 4 << 20

  public enum Shape: Equatable, Sendable {
    case fullyConnected
    case pointwise
    /// `images` per tile (> 1 only when `rows` is every output row), `rows` output rows per tile.
    case tiled(images: Int, rows: Int)
  }

  public static func shape(_ c: ConvGeometry) -> Shape {
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
  public static func workspaceFloats(_ c: ConvGeometry) -> Int {
    guard case .tiled(let g, let rows) = shape(c) else { return 0 }
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
  public static func conv2d(on d: Device, _ c: ConvGeometry, x: TensorRef, w: TensorRef,
                            bias: TensorRef?, activation: Activation, y: TensorRef) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    switch shape(c) {
    case .fullyConnected:
      // y[N, outC] = x[N, P] · w[outC, P]ᵀ
      try d.run(.gemm(GemmDesc(transB: true, m: c.batch, n: c.outChannels, k: p)), inputs: [x, w], outputs: [y])
    case .pointwise:
      try d.run(.gemm(GemmDesc(m: c.outChannels, n: hw, k: p, batch: c.batch, strideA: 0,
                               strideB: inImage, strideC: c.outChannels * hw)),
                inputs: [w, x], outputs: [y])
    case .tiled(let g, let rows):
      let ws = try d.workspace(byteCount: workspaceFloats(c) * 4)
      try forEachTile(c, images: g, rows: rows) { n0, gi, r0, ri in
        let tile = PatchTile(images: gi, rowStart: r0, rows: ri)
        let cols = tile.columns(c)
        let col = TensorRef(buffer: ws, offset: 0, shape: [p, cols])
        let xg = x.slice(start: n0 * inImage, count: gi * inImage)
        try d.run(.im2col(c, tile), inputs: [xg], outputs: [col])
        if gi == 1 {
          // Straight into rows r0..<r0+ri of image n0 (C's leading dimension is the image's HW).
          let yt = y.slice(start: (n0 * c.outChannels) * hw + r0 * c.outWidth,
                           count: (c.outChannels - 1) * hw + cols)
          try d.run(.gemm(GemmDesc(m: c.outChannels, n: cols, k: p, ldc: hw)), inputs: [w, col], outputs: [yt])
        } else {
          let tmp = TensorRef(buffer: ws, offset: p * g * hw * 4, shape: [c.outChannels, cols])
          let yg = y.slice(start: n0 * c.outChannels * hw, count: gi * c.outChannels * hw)
          try d.run(.gemm(GemmDesc(m: c.outChannels, n: cols, k: p)), inputs: [w, col], outputs: [tmp])
          try d.run(.transposeBlocks(a: c.outChannels, b: gi, inner: hw), inputs: [tmp], outputs: [yg])
        }
      }
    }
    try epilogue(on: d, ChannelLayout(batch: c.batch, channels: c.outChannels, spatial: hw),
                 bias: bias, activation: activation, y: y)
  }

  /// dx = act(conv2d_backward_data(dy, w) + bias) — also a transposed convolution's forward pass.
  public static func conv2dBackwardData(on d: Device, _ c: ConvGeometry, dy: TensorRef, w: TensorRef,
                                        bias: TensorRef?, activation: Activation, dx: TensorRef) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    switch shape(c) {
    case .fullyConnected:
      // dx[N, P] = dy[N, outC] · w[outC, P]
      try d.run(.gemm(GemmDesc(m: c.batch, n: p, k: c.outChannels)), inputs: [dy, w], outputs: [dx])
    case .pointwise:
      try d.run(.gemm(GemmDesc(transA: true, m: p, n: hw, k: c.outChannels, batch: c.batch, strideA: 0,
                               strideB: c.outChannels * hw, strideC: inImage)),
                inputs: [w, dy], outputs: [dx])
    case .tiled(let g, let rows):
      let ws = try d.workspace(byteCount: workspaceFloats(c) * 4)
      let banded = rows < c.outHeight
      try forEachTile(c, images: g, rows: rows) { n0, gi, r0, ri in
        let tile = PatchTile(images: gi, rowStart: r0, rows: ri, accumulate: banded && r0 > 0)
        let cols = tile.columns(c)
        let col = TensorRef(buffer: ws, offset: 0, shape: [p, cols])
        let dxg = dx.slice(start: n0 * inImage, count: gi * inImage)
        if gi == 1 {
          let dyt = dy.slice(start: (n0 * c.outChannels) * hw + r0 * c.outWidth,
                             count: (c.outChannels - 1) * hw + cols)
          try d.run(.gemm(GemmDesc(transA: true, m: p, n: cols, k: c.outChannels, ldb: hw)),
                    inputs: [w, dyt], outputs: [col])
        } else {
          let tmp = TensorRef(buffer: ws, offset: p * g * hw * 4, shape: [c.outChannels, cols])
          let dyg = dy.slice(start: n0 * c.outChannels * hw, count: gi * c.outChannels * hw)
          try d.run(.transposeBlocks(a: gi, b: c.outChannels, inner: hw), inputs: [dyg], outputs: [tmp])
          try d.run(.gemm(GemmDesc(transA: true, m: p, n: cols, k: c.outChannels)), inputs: [w, tmp], outputs: [col])
        }
        try d.run(.col2im(c, tile), inputs: tile.accumulate ? [col, dxg] : [col], outputs: [dxg])
      }
    }
    try epilogue(on: d, ChannelLayout(batch: c.batch, channels: c.inChannels, spatial: c.inHeight * c.inWidth),
                 bias: bias, activation: activation, y: dx)
  }

  /// dw (+)= Σ_n dy_n · im2col(x_n)ᵀ
  public static func conv2dBackwardFilter(on d: Device, _ c: ConvGeometry, x: TensorRef, dy: TensorRef,
                                          accumulate: Bool, dw: TensorRef) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    let beta0: Float = accumulate ? 1 : 0
    func inputsFor(_ a: TensorRef, _ b: TensorRef, _ beta: Float) -> [TensorRef] { beta != 0 ? [a, b, dw] : [a, b] }
    switch shape(c) {
    case .fullyConnected:
      // dw[outC, P] (+)= dy[N, outC]ᵀ · x[N, P]
      try d.run(.gemm(GemmDesc(transA: true, m: c.outChannels, n: p, k: c.batch, beta: beta0)),
                inputs: inputsFor(dy, x, beta0), outputs: [dw])
    case .pointwise:
      for n in 0..<c.batch {
        let beta: Float = n == 0 ? beta0 : 1
        let dyn = dy.slice(start: n * c.outChannels * hw, count: c.outChannels * hw)
        let xn = x.slice(start: n * inImage, count: inImage)
        try d.run(.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: hw, beta: beta)),
                  inputs: inputsFor(dyn, xn, beta), outputs: [dw])
      }
    case .tiled(let g, let rows):
      let ws = try d.workspace(byteCount: workspaceFloats(c) * 4)
      var first = true
      try forEachTile(c, images: g, rows: rows) { n0, gi, r0, ri in
        let tile = PatchTile(images: gi, rowStart: r0, rows: ri)
        let cols = tile.columns(c)
        let col = TensorRef(buffer: ws, offset: 0, shape: [p, cols])
        let xg = x.slice(start: n0 * inImage, count: gi * inImage)
        try d.run(.im2col(c, tile), inputs: [xg], outputs: [col])
        let beta: Float = first ? beta0 : 1
        first = false
        if gi == 1 {
          let dyt = dy.slice(start: (n0 * c.outChannels) * hw + r0 * c.outWidth,
                             count: (c.outChannels - 1) * hw + cols)
          try d.run(.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: cols, lda: hw, beta: beta)),
                    inputs: inputsFor(dyt, col, beta), outputs: [dw])
        } else {
          let a = TensorRef(buffer: ws, offset: p * g * hw * 4, shape: [c.outChannels, cols])
          let dyg = dy.slice(start: n0 * c.outChannels * hw, count: gi * c.outChannels * hw)
          try d.run(.transposeBlocks(a: gi, b: c.outChannels, inner: hw), inputs: [dyg], outputs: [a])
          try d.run(.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: cols, beta: beta)),
                    inputs: inputsFor(a, col, beta), outputs: [dw])
        }
      }
    }
  }

  static func epilogue(on d: Device, _ l: ChannelLayout, bias: TensorRef?, activation: Activation,
                       y: TensorRef) throws {
    if let bias {
      try d.run(.biasActivation(l, activation: activation), inputs: [y, bias], outputs: [y])
    } else if activation != .identity {
      try d.run(.activation(activation, count: l.count), inputs: [y], outputs: [y])
    }
  }
}
