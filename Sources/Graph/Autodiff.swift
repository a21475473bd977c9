import Compute

/// Reverse-mode differentiation over a graph: appends the backward ops to the same graph, so the
/// forward and backward passes are planned and run together as one plan.
///
/// Every forward op with a backward rule is supported; parameters get gradients only when listed
/// in `wrt` (frozen weights cost nothing). Gradients reaching a value along several paths are
/// summed.
extension Graph {
  /// Adds nodes for d/d(wrt) of Σ_s ⟨seed_s, value_s⟩ for each (value, seed) pair, and returns the
  /// gradient value of every `wrt` entry (an error if a `wrt` value does not influence the seeds).
  public func backward(seeds: [(value: Value, seed: Value)], wrt: [Value]) throws -> [Value: Value] {
    // Values that lie on a path from some wrt value.
    var needs = Set(wrt.map(\.id))
    for n in nodes where n.inputs.contains(where: { needs.contains($0.id) }) {
      for o in n.outputs { needs.insert(o.id) }
    }
    var grad: [Int: Value] = [:]
    // The gradient is built only when the value needs one (a frozen weight's is never computed).
    func accumulate(_ v: Value, _ g: Value) throws {
      guard needs.contains(v.id) else { return }
      if let prev = grad[v.id] {
        grad[v.id] = try apply(.add(count: values[v.id].count), [prev, g], outputShapes: [shape(v)], name: "grad_sum")[0]
      } else {
        grad[v.id] = g
      }
    }
    for (v, s) in seeds { try accumulate(v, s) }
    let forward = nodes
    for node in forward.reversed() {
      let outGrads = node.outputs.map { grad[$0.id] }
      guard outGrads.contains(where: { $0 != nil }), node.inputs.contains(where: { needs.contains($0.id) }) else { continue }
      try backwardRule(node, outGrads, needs, accumulate)
    }
    var result: [Value: Value] = [:]
    for w in wrt {
      guard let g = grad[w.id] else {
        throw ComputeError.invalidArgument("backward: \(values[w.id].name) does not influence the loss")
      }
      result[w] = g
    }
    return result
  }

  /// The gradient rules, op by op.
  private func backwardRule(_ n: Node, _ dys: [Value?], _ needs: Set<Int>,
                            _ accumulate: (Value, Value) throws -> Void) throws {
    func acc(_ v: Value, _ g: @autoclosure () throws -> Value) throws {
      if needs.contains(v.id) { try accumulate(v, try g()) }
    }
    let x = n.inputs, y = n.outputs
    func sh(_ v: Value) -> [Int] { shape(v) }
    func op(_ o: Op, _ ins: [Value], _ shapes: [[Int]]) throws -> [Value] {
      try apply(o, ins, outputShapes: shapes, name: "grad_\(o.kind)")
    }
    /// Gradient before a fused activation, given the output y and dL/dy.
    func preActivation(_ act: Activation, _ yv: Value, _ dy: Value) throws -> Value {
      act == .identity ? dy : try op(.activationBackward(act, count: values[yv.id].count), [yv, dy], [sh(yv)])[0]
    }
    guard let dy = dys[0] else { return }
    switch n.op {
    case .conv2d(_, _, _, let e) where !e.isNone, .conv2dBackwardData(_, _, _, let e) where !e.isNone:
      // Plans fold epilogues after differentiation (`fusingEpilogues`); a graph never carries one.
      throw ComputeError.unsupported("\(n.op.kind): no gradient through a fused epilogue (\(e))")
    case .conv2d(let c, let bias, let act, _):
      let dpre = try preActivation(act, y[0], dy)
      try acc(x[0], try op(.conv2dBackwardData(c, bias: false, activation: .identity), [dpre, x[1]], [sh(x[0])])[0])
      try acc(x[1], try op(.conv2dBackwardFilter(c, accumulate: false), [x[0], dpre], [sh(x[1])])[0])
      if bias {
        let l = ChannelLayout(batch: c.batch, channels: c.outChannels, spatial: c.outPixels)
        try acc(x[2], try op(.channelSum(l), [dpre], [sh(x[2])])[0])
      }
    case .conv2dBackwardData(let c, let bias, let act, _):
      let dpre = try preActivation(act, y[0], dy)
      try acc(x[0], try op(.conv2d(c, bias: false, activation: .identity), [dpre, x[1]], [sh(x[0])])[0])
      try acc(x[1], try op(.conv2dBackwardFilter(c, accumulate: false), [dpre, x[0]], [sh(x[1])])[0])
      if bias {
        let l = ChannelLayout(batch: c.batch, channels: c.inChannels, spatial: c.inHeight * c.inWidth)
        try acc(x[2], try op(.channelSum(l), [dpre], [sh(x[2])])[0])
      }
    case .batchNorm(let l, let eps, let act):
      // Inference mode: running statistics are constants; γ and β gradients are not needed for
      // frozen networks (training uses batchNormTraining).
      let dpre = try preActivation(act, y[0], dy)
      try acc(x[0], try op(.batchNormInferenceBackward(l, eps: eps), [dpre, x[1], x[4]], [sh(x[0])])[0])
    case .batchNormTraining(let l, _, _):
      let needG = needs.contains(x[1].id), needB = needs.contains(x[2].id)
      if needs.contains(x[0].id) || needG || needB {
        let g = try op(.batchNormBackward(l), [dy, x[0], x[1], y[1], y[2]], [sh(x[0]), sh(x[1]), sh(x[2])])
        try acc(x[0], g[0])
        try acc(x[1], g[1])
        try acc(x[2], g[2])
      }
    case .biasActivation(let l, let act):
      let dpre = try preActivation(act, y[0], dy)
      try acc(x[0], dpre)
      try acc(x[1], try op(.channelSum(l), [dpre], [sh(x[1])])[0])
    case .activation(let act, _):
      try acc(x[0], try preActivation(act, y[0], dy))
    case .prelu(let l):
      let g = try op(.preluBackward(l), [x[0], x[1], dy], [sh(x[0]), sh(x[1])])
      try acc(x[0], g[0])
      try acc(x[1], g[1])
    case .maxPool(let c):
      try acc(x[0], try op(.maxPoolBackward(c), [x[0], dy], [sh(x[0])])[0])
    case .depthToSpace(let b, let c, let h, let w, let r):
      try acc(x[0], try op(.spaceToDepth(batch: b, channels: c, height: h, width: w, factor: r), [dy], [sh(x[0])])[0])
    case .spaceToDepth(let b, let c, let h, let w, let r):
      try acc(x[0], try op(.depthToSpace(batch: b, channels: c, height: h, width: w, factor: r), [dy], [sh(x[0])])[0])
    case .add:
      try acc(x[0], dy)
      try acc(x[1], dy)
    case .scale(let cnt, let a, _):
      try acc(x[0], try op(.scale(count: cnt, alpha: a, beta: 0), [dy], [sh(x[0])])[0])
    case .weightedL1(let s, let cnt):
      try acc(x[0], try op(.weightedL1Backward(samples: s, count: cnt), [x[0], x[1], x[2], dy], [sh(x[0])])[0])
    case .mse(let s, let cnt):
      try acc(x[0], try op(.mseBackward(samples: s, count: cnt), [x[0], x[1], dy], [sh(x[0])])[0])
    case .bceWithLogits(let s, let cnt):
      try acc(x[0], try op(.bceWithLogitsBackward(samples: s, count: cnt), [x[0], x[1], dy], [sh(x[0])])[0])
    default:
      throw ComputeError.unsupported("backward: no gradient rule for \(n.op.kind)")
    }
  }
}
