/// Convolution epilogues run as separate passes, for backends whose convolution kernels only
/// take bias and activation (the CPU kernels, OpenCL's lowered path): the plain convolution writes
/// the output, then PReLU, the residual add and the affine map update it in place, exactly the ops
/// the plan folded in. The pixel shuffle has no in-place form, so such a backend reports
/// `supportsUnfused(_:)` false for it and the plan keeps the shuffle (and what follows) separate.
extension ConvEpilogue {
  /// Whether `runUnfused` can run an op with this epilogue.
  public var runsUnfused: Bool { shuffle == 1 }
}

extension Device {
  /// Runs a convolution whose epilogue is not `.none` as the plain convolution followed by the
  /// epilogue's stages in place. The residual must not alias the output (a plan never does that).
  public func runEpilogueUnfused(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws {
    let base: Op, shape: [Int]
    let e: ConvEpilogue
    switch op {
    case .conv2d(let c, let bias, let act, let ep):
      base = .conv2d(c, bias: bias, activation: act); shape = [c.batch, c.outChannels, c.outPixels]; e = ep
    case .conv2dBackwardData(let c, let bias, let act, let ep):
      base = .conv2dBackwardData(c, bias: bias, activation: act)
      shape = [c.batch, c.inChannels, c.inHeight * c.inWidth]; e = ep
    default:
      throw ComputeError.invalidArgument("\(op.kind): no epilogue")
    }
    guard e.runsUnfused else { throw ComputeError.unsupported("\(op.kind): epilogue \(e) on \(name)") }
    let own = base.inputCounts.count
    let y = outputs[0], n = shape.reduce(1, *)
    if let r = inputs.last, e.residual, r.buffer === y.buffer, r.offset < y.offset + y.byteCount, y.offset < r.offset + r.byteCount {
      throw ComputeError.invalidArgument("\(op.kind): the residual overlaps the output")
    }
    try run(base, inputs: Array(inputs.prefix(own)), outputs: [y])
    var k = own
    if e.prelu {
      try run(.prelu(ChannelLayout(batch: shape[0], channels: shape[1], spatial: shape[2])), inputs: [y, inputs[k]], outputs: [y])
      k += 1
    }
    if e.residual { try run(.add(count: n), inputs: [y, inputs[k]], outputs: [y]) }
    if e.isAffine { try run(.scale(count: n, alpha: e.alpha, beta: e.beta), inputs: [y], outputs: [y]) }
  }
}
