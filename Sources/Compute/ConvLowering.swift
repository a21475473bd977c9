// Convolutions expressed through a device's primitives: im2col / col2im, GEMM, block transposes
// and the bias/activation epilogue. Every backend can run convolutions this way; a backend with a
// faster direct kernel for some geometry uses it and falls back here for the rest.
//
// Images are processed in groups whose im2col matrix stays under `columnBudget` floats, so the
// lowered convolution never materialises more than one tile of patches at a time.

public enum ConvLowering {
  /// The largest im2col tile, in floats (16 MiB).
  public static let columnBudget = 4 << 20

  /// How many images go into one GEMM for this geometry.
  public static func groupSize(_ c: ConvGeometry) -> Int {
    let perImage = max(1, c.patchSize * c.outPixels)
    return max(1, min(c.batch, columnBudget / perImage))
  }

  /// Workspace floats the lowered ops need for this geometry.
  public static func workspaceFloats(_ c: ConvGeometry) -> Int {
    let g = groupSize(c)
    let col = c.patchSize * g * c.outPixels
    let tmp = g > 1 ? max(c.outChannels * g * c.outPixels, 0) : 0
    return col + tmp
  }

  static func isPointwise(_ c: ConvGeometry) -> Bool {
    c.kernelH == 1 && c.kernelW == 1 && c.strideH == 1 && c.strideW == 1 && c.padH == 0 && c.padW == 0
  }

  /// y = act(conv(x, w) + bias)
  public static func conv2d(on d: Device, _ c: ConvGeometry, x: TensorRef, w: TensorRef,
                            bias: TensorRef?, activation: Activation, y: TensorRef) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    if isPointwise(c) {
      try d.run(.gemm(GemmDesc(m: c.outChannels, n: hw, k: p, batch: c.batch, strideA: 0,
                               strideB: inImage, strideC: c.outChannels * hw)),
                inputs: [w, x], outputs: [y])
    } else {
      let g = groupSize(c)
      let ws = try d.workspace(byteCount: workspaceFloats(c) * 4)
      var n0 = 0
      while n0 < c.batch {
        let gi = min(g, c.batch - n0)
        let col = TensorRef(buffer: ws, offset: 0, shape: [p, gi * hw])
        let xg = x.slice(start: n0 * inImage, count: gi * inImage)
        let yg = y.slice(start: n0 * c.outChannels * hw, count: gi * c.outChannels * hw)
        try d.run(.im2col(c, images: gi), inputs: [xg], outputs: [col])
        if gi == 1 {
          try d.run(.gemm(GemmDesc(m: c.outChannels, n: hw, k: p)), inputs: [w, col], outputs: [yg])
        } else {
          let tmp = TensorRef(buffer: ws, offset: p * g * hw * 4, shape: [c.outChannels, gi * hw])
          try d.run(.gemm(GemmDesc(m: c.outChannels, n: gi * hw, k: p)), inputs: [w, col], outputs: [tmp])
          try d.run(.transposeBlocks(a: c.outChannels, b: gi, inner: hw), inputs: [tmp], outputs: [yg])
        }
        n0 += gi
      }
    }
    try epilogue(on: d, ChannelLayout(batch: c.batch, channels: c.outChannels, spatial: hw),
                 bias: bias, activation: activation, y: y)
  }

  /// dx = act(conv2d_backward_data(dy, w) + bias) — also a transposed convolution's forward pass.
  public static func conv2dBackwardData(on d: Device, _ c: ConvGeometry, dy: TensorRef, w: TensorRef,
                                        bias: TensorRef?, activation: Activation, dx: TensorRef) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    if isPointwise(c) {
      try d.run(.gemm(GemmDesc(transA: true, m: p, n: hw, k: c.outChannels, batch: c.batch, strideA: 0,
                               strideB: c.outChannels * hw, strideC: inImage)),
                inputs: [w, dy], outputs: [dx])
    } else {
      let g = groupSize(c)
      let ws = try d.workspace(byteCount: workspaceFloats(c) * 4)
      var n0 = 0
      while n0 < c.batch {
        let gi = min(g, c.batch - n0)
        let col = TensorRef(buffer: ws, offset: 0, shape: [p, gi * hw])
        let dyg = dy.slice(start: n0 * c.outChannels * hw, count: gi * c.outChannels * hw)
        let dxg = dx.slice(start: n0 * inImage, count: gi * inImage)
        if gi == 1 {
          try d.run(.gemm(GemmDesc(transA: true, m: p, n: hw, k: c.outChannels)),
                    inputs: [w, dyg], outputs: [col])
        } else {
          let tmp = TensorRef(buffer: ws, offset: p * g * hw * 4, shape: [c.outChannels, gi * hw])
          try d.run(.transposeBlocks(a: gi, b: c.outChannels, inner: hw), inputs: [dyg], outputs: [tmp])
          try d.run(.gemm(GemmDesc(transA: true, m: p, n: gi * hw, k: c.outChannels)),
                    inputs: [w, tmp], outputs: [col])
        }
        try d.run(.col2im(c, images: gi), inputs: [col], outputs: [dxg])
        n0 += gi
      }
    }
    try epilogue(on: d, ChannelLayout(batch: c.batch, channels: c.inChannels,
                                      spatial: c.inHeight * c.inWidth),
                 bias: bias, activation: activation, y: dx)
  }

  /// dw (+)= Σ_n dy_n · im2col(x_n)ᵀ
  public static func conv2dBackwardFilter(on d: Device, _ c: ConvGeometry, x: TensorRef, dy: TensorRef,
                                          accumulate: Bool, dw: TensorRef) throws {
    let hw = c.outPixels, p = c.patchSize, inImage = c.inChannels * c.inHeight * c.inWidth
    let g = isPointwise(c) ? 1 : groupSize(c)
    let ws = try d.workspace(byteCount: workspaceFloats(c) * 4)
    var n0 = 0
    var first = !accumulate
    while n0 < c.batch {
      let gi = min(g, c.batch - n0)
      let dyg = dy.slice(start: n0 * c.outChannels * hw, count: gi * c.outChannels * hw)
      let xg = x.slice(start: n0 * inImage, count: gi * inImage)
      let beta: Float = first ? 0 : 1
      if isPointwise(c) {
        try d.run(.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: hw, beta: beta)),
                  inputs: beta != 0 ? [dyg, xg, dw] : [dyg, xg], outputs: [dw])
      } else {
        let col = TensorRef(buffer: ws, offset: 0, shape: [p, gi * hw])
        try d.run(.im2col(c, images: gi), inputs: [xg], outputs: [col])
        var a = dyg
        if gi > 1 {
          a = TensorRef(buffer: ws, offset: p * g * hw * 4, shape: [c.outChannels, gi * hw])
          try d.run(.transposeBlocks(a: gi, b: c.outChannels, inner: hw), inputs: [dyg], outputs: [a])
        }
        try d.run(.gemm(GemmDesc(transB: true, m: c.outChannels, n: p, k: gi * hw, beta: beta)),
                  inputs: beta != 0 ? [a, col, dw] : [a, col], outputs: [dw])
      }
      first = false
      n0 += gi
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
