import Compute

extension Graph {
  /// A copy in which the element-wise ops that follow a convolution run in its epilogue
  /// (`ConvEpilogue`): an activation, PReLU, a residual add, an affine map (`scale`) and a pixel
  /// shuffle (`depthToSpace`), each folded when
  ///
  /// - the convolution's result is an intermediate read by that op alone and by nothing else
  ///   (not a graph output, not read by a backward pass),
  /// - the op comes later in the epilogue's fixed order than what is already folded (activation,
  ///   PReLU, residual, affine; a shuffle only before PReLU and residual, whose indexing it changes),
  /// - its other input (slopes, residual) is ready when the convolution runs and not written
  ///   between the two, and
  /// - `supports` accepts the fused op (the device executes it; the graph decides).
  ///
  /// The convolution then writes the op's output and the intermediate gets no memory. Inference
  /// batch norms are folded earlier, into the weights (`Sequential.fusedForInference`).
  public func fusingEpilogues(where supports: (Op) -> Bool) -> Graph {
    var ns = nodes
    var readers = [[Int]](repeating: [], count: values.count)
    var writers = [[Int]](repeating: [], count: values.count)
    for (i, n) in ns.enumerated() {
      for v in n.inputs { readers[v.id].append(i) }
      for v in n.outputs { writers[v.id].append(i) }
    }
    let pinned = Set(outputs.map(\.id))
    func isIntermediate(_ v: Value) -> Bool {
      if case .intermediate = values[v.id].kind { return !pinned.contains(v.id) }
      return false
    }
    var removed = Set<Int>(), elided = Set<Int>()
    for i in ns.indices where !removed.contains(i) {
      while let fold = nextFold(ns[i], at: i, ns, readers, writers, removed, isIntermediate), supports(fold.node.op) {
        ns[i] = fold.node
        removed.insert(fold.consumer)
        elided.insert(fold.elided.id)
        readers[fold.elided.id] = []
        writers[fold.elided.id] = []
        if let x = fold.extra { readers[x.id].append(i) }
        writers[fold.node.outputs[0].id] = [i]
      }
    }
    if removed.isEmpty { return self }
    return Graph(rewriting: self, nodes: ns.indices.filter { !removed.contains($0) }.map { ns[$0] }, elided: elided)
  }

  private func nextFold(_ node: Node, at i: Int, _ ns: [Node], _ readers: [[Int]], _ writers: [[Int]],
                        _ removed: Set<Int>, _ isIntermediate: (Value) -> Bool)
    -> (node: Node, consumer: Int, elided: Value, extra: Value?)? {
    let transposed: Bool, c: ConvGeometry, bias: Bool, act: Activation, e: ConvEpilogue
    switch node.op {
    case .conv2d(let g, let b, let a, let ep): (transposed, c, bias, act, e) = (false, g, b, a, ep)
    case .conv2dBackwardData(let g, let b, let a, let ep): (transposed, c, bias, act, e) = (true, g, b, a, ep)
    default: return nil
    }
    guard node.outputs.count == 1 else { return nil }
    let v = node.outputs[0]
    guard isIntermediate(v), writers[v.id] == [i], readers[v.id].count == 1 else { return nil }
    let j = readers[v.id][0]
    guard j > i, !removed.contains(j) else { return nil }
    let next = ns[j]
    guard next.outputs.count == 1, next.inputs.filter({ $0 == v }).count == 1 else { return nil }
    let w = next.outputs[0]
    guard case .intermediate = values[w.id].kind, writers[w.id] == [j], readers[w.id].allSatisfy({ $0 > j }) else {
      return nil
    }
    let count = values[v.id].count
    // The result before any shuffle: [n, channels, h, w].
    let channels = transposed ? c.inChannels : c.outChannels
    let (h, wd) = transposed ? (c.inHeight, c.inWidth) : (c.outHeight, c.outWidth)
    var f = e, newAct = act, extra: Value? = nil
    switch next.op {
    case .activation(let a, let n) where n == count && act == .identity && !e.prelu && !e.residual && !e.isAffine:
      newAct = a
    case .prelu(let l) where l.count == count && next.inputs[0] == v && !e.prelu && !e.residual && !e.isAffine
      && l.channels == channels / (e.shuffle * e.shuffle):
      f.prelu = true
      extra = next.inputs[1]
    case .add(let n) where n == count && !e.residual && !e.isAffine:
      f.residual = true
      extra = next.inputs[0] == v ? next.inputs[1] : next.inputs[0]
    case .scale(let n, let a, let b) where n == count && !e.isAffine:
      f.alpha = a; f.beta = b
    case .depthToSpace(let n, let cc, let hh, let ww, let r)
      where e.shuffle == 1 && !e.prelu && !e.residual && r > 1 && n == c.batch && cc * r * r == channels && hh == h && ww == wd:
      f.shuffle = r
    default:
      return nil
    }
    if let x = extra {
      // Ready when the convolution runs, unchanged until the op it replaces would have run.
      guard x != v, x != w, writers[x.id].allSatisfy({ $0 < i }) else { return nil }
    }
    let op: Op = transposed ? .conv2dBackwardData(c, bias: bias, activation: newAct, epilogue: f)
      : .conv2d(c, bias: bias, activation: newAct, epilogue: f)
    // Extra inputs in epilogue order (slopes, then residual): the order above only adds later ones.
    return (Node(op: op, inputs: node.inputs + (extra.map { [$0] } ?? []), outputs: [w]), j, v, extra)
  }
}
