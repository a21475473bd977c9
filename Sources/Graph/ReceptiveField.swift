import Compute

extension Graph {
  /// How far an output element can see into an input image: every element of `output` at pixel p
  /// (p in `output`'s own resolution, an integer multiple `scale` of the input's) depends only on
  /// input pixels within `halo` of ⌊p / scale⌋ along each axis. Derived from the ops, so it holds
  /// for any layer stack built from them.
  ///
  /// Returns nil when a node on the way is not one the analysis understands (strided or
  /// transposed convolutions, pooling, space-to-depth, reductions, GEMMs): callers must then not
  /// rely on a halo (run the whole image at once).
  ///
  /// Rules (stride-1 convolutions at an integer scale s over the input):
  /// - conv k×k, padding p: halo += ⌈max(p, k − 1 − p) / s⌉ per axis (the larger of the two axes);
  /// - depth-to-space by f: scale ×= f, halo unchanged (⌊⌊Y/f⌋/s⌋ = ⌊Y/(f·s)⌋);
  /// - element-wise ops (bias, batch norm, PReLU, activations, add, mul, scale): the largest halo of
  ///   their spatial inputs, which must share one scale.
  public func receptiveField(of output: Value, from input: Value) -> (halo: Int, scale: Int)? {
    var reach = [(halo: Int, scale: Int)?](repeating: nil, count: values.count)
    reach[input.id] = (0, 1)
    func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
    for n in nodes {
      let ins = n.inputs.compactMap { reach[$0.id] }
      if ins.isEmpty { continue }  // depends only on parameters or other inputs
      guard Set(ins.map(\.scale)).count == 1 else { return nil }
      let s = ins[0].scale, h = ins.map(\.halo).max()!
      let out: (halo: Int, scale: Int)
      switch n.op {
      case .conv2d(let g, _, _, let e):
        // Epilogue inputs (slopes, a residual of the output's shape) are element-wise: only x widens.
        let spatial = n.inputs.dropFirst().filter { reach[$0.id] != nil }
        guard g.strideH == 1, g.strideW == 1, reach[n.inputs[0].id] != nil,
              spatial.isEmpty || (e.residual && spatial == [n.inputs.last!])
        else { return nil }
        let r = max(g.padH, g.kernelH - 1 - g.padH, g.padBottom, g.padW, g.kernelW - 1 - g.padW, g.padRight)
        out = (h + ceilDiv(r, s), s * e.shuffle)
      case .depthToSpace(_, _, _, _, let f):
        out = (h, s * f)
      case .batchNorm, .biasActivation, .prelu, .activation, .add, .mul, .scale:
        out = (h, s)
      default:
        return nil
      }
      for v in n.outputs { reach[v.id] = out }
    }
    return reach[output.id]
  }
}
