import Compute
import Graph

/// A layer adds its ops to a graph: `y = layer(x, in: graph)`.
public protocol Layer: Sendable {
  func callAsFunction(_ x: Value, in g: Graph) throws -> Value
}

func shape4(_ g: Graph, _ x: Value, _ who: String) throws -> (Int, Int, Int, Int) {
  let s = g.shape(x)
  guard s.count == 4 else { throw ComputeError.invalidArgument("\(who): expected an NCHW input, got \(s)") }
  return (s[0], s[1], s[2], s[3])
}

/// 2-D convolution, weight [out, in, kH, kW], optional bias, fused activation. Padding is
/// symmetric (`padding` on every side, PyTorch) or, with `tensorflowSame`, TensorFlow's 'same'
/// computed from the input size (output ⌈in/stride⌉, the odd pixel at the bottom/right).
public struct Conv2D: Layer {
  public let inputChannels: Int, outputChannels: Int
  public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
  public let tensorflowSame: Bool
  public var weight: [Float]
  public var bias: [Float]?
  public var activation: Activation
  public var name: String

  public init(inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
              padding: (Int, Int) = (0, 0), tensorflowSame: Bool = false, weight: [Float], bias: [Float]? = nil,
              activation: Activation = .identity, name: String = "conv") {
    precondition(weight.count == outputChannels * inputChannels * kernelSize.0 * kernelSize.1,
                 "\(name): weight count \(weight.count) does not match [\(outputChannels), \(inputChannels), \(kernelSize)]")
    precondition(bias == nil || bias!.count == outputChannels, "\(name): bias count")
    self.inputChannels = inputChannels; self.outputChannels = outputChannels
    self.kernelSize = kernelSize; self.stride = stride; self.padding = padding; self.tensorflowSame = tensorflowSame
    self.weight = weight; self.bias = bias; self.activation = activation; self.name = name
  }

  public func geometry(batch: Int, height: Int, width: Int) -> ConvGeometry {
    if tensorflowSame {
      let p = ConvGeometry.samePadding(input: (height, width), kernel: kernelSize, stride: stride)
      return ConvGeometry(batch: batch, inChannels: inputChannels, inHeight: height, inWidth: width,
                          outChannels: outputChannels, kernel: kernelSize, stride: stride, padding: p.begin,
                          paddingEnd: p.end)
    }
    return ConvGeometry(batch: batch, inChannels: inputChannels, inHeight: height, inWidth: width,
                        outChannels: outputChannels, kernel: kernelSize, stride: stride, padding: padding)
  }

  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let (n, c, h, w) = try shape4(g, x, name)
    guard c == inputChannels else { throw ComputeError.invalidArgument("\(name): \(c) input channels, expected \(inputChannels)") }
    let geo = geometry(batch: n, height: h, width: w)
    guard geo.isValid else { throw ComputeError.invalidArgument("\(name): input \(h)×\(w) too small for the kernel") }
    var ins = [x, g.parameter(weight, shape: geo.weightShape, name: "\(name).weight")]
    if let bias { ins.append(g.parameter(bias, shape: [outputChannels], name: "\(name).bias")) }
    return try g.apply(.conv2d(geo, bias: bias != nil, activation: activation), ins,
                       outputShapes: [geo.outputShape], name: name)[0]
  }

  /// This convolution followed by inference batch norm, as one convolution:
  /// w' = w·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β; the BN's activation fused.
  public func folding(_ bn: BatchNorm) -> Conv2D {
    precondition(bn.channels == outputChannels && activation == .identity)
    var w = weight, b = bias ?? [Float](repeating: 0, count: outputChannels)
    let per = inputChannels * kernelSize.0 * kernelSize.1
    for o in 0..<outputChannels {
      let s = bn.gamma[o] / (bn.variance[o] + bn.eps).squareRoot()
      for j in 0..<per { w[o * per + j] *= s }
      b[o] = (b[o] - bn.mean[o]) * s + bn.beta[o]
    }
    return Conv2D(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
                  padding: padding, tensorflowSame: tensorflowSame, weight: w, bias: b, activation: bn.activation,
                  name: name)
  }
}

/// Transposed 2-D convolution with PyTorch's semantics and weight layout [in, out, kH, kW].
public struct TransposedConv2D: Layer {
  public let inputChannels: Int, outputChannels: Int
  public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
  public var weight: [Float]
  public var bias: [Float]?
  public var activation: Activation
  public var name: String

  public init(inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
              padding: (Int, Int) = (0, 0), weight: [Float], bias: [Float]? = nil,
              activation: Activation = .identity, name: String = "convT") {
    precondition(weight.count == outputChannels * inputChannels * kernelSize.0 * kernelSize.1,
                 "\(name): weight count \(weight.count) does not match [\(inputChannels), \(outputChannels), \(kernelSize)]")
    precondition(bias == nil || bias!.count == outputChannels, "\(name): bias count")
    self.inputChannels = inputChannels; self.outputChannels = outputChannels
    self.kernelSize = kernelSize; self.stride = stride; self.padding = padding
    self.weight = weight; self.bias = bias; self.activation = activation; self.name = name
  }

  public func geometry(batch: Int, height: Int, width: Int) -> ConvGeometry {
    ConvGeometry.transposed(batch: batch, inChannels: inputChannels, inHeight: height, inWidth: width,
                            outChannels: outputChannels, kernel: kernelSize, stride: stride, padding: padding)
  }

  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let (n, c, h, w) = try shape4(g, x, name)
    guard c == inputChannels else { throw ComputeError.invalidArgument("\(name): \(c) input channels, expected \(inputChannels)") }
    let geo = geometry(batch: n, height: h, width: w)
    guard geo.isValid, geo.outHeight == h, geo.outWidth == w else {
      throw ComputeError.invalidArgument("\(name): no transposed-conv output for a \(h)×\(w) input")
    }
    var ins = [x, g.parameter(weight, shape: geo.weightShape, name: "\(name).weight")]
    if let bias { ins.append(g.parameter(bias, shape: [outputChannels], name: "\(name).bias")) }
    return try g.apply(.conv2dBackwardData(geo, bias: bias != nil, activation: activation), ins,
                       outputShapes: [geo.inputShape], name: name)[0]
  }

  /// Folds a following inference batch norm over the output channels (weight[:, o] scaled).
  public func folding(_ bn: BatchNorm) -> TransposedConv2D {
    precondition(bn.channels == outputChannels && activation == .identity)
    var w = weight, b = bias ?? [Float](repeating: 0, count: outputChannels)
    let k = kernelSize.0 * kernelSize.1
    for o in 0..<outputChannels {
      let s = bn.gamma[o] / (bn.variance[o] + bn.eps).squareRoot()
      for i in 0..<inputChannels { for j in 0..<k { w[(i * outputChannels + o) * k + j] *= s } }
      b[o] = (b[o] - bn.mean[o]) * s + bn.beta[o]
    }
    return TransposedConv2D(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
                            stride: stride, padding: padding, weight: w, bias: b, activation: bn.activation, name: name)
  }
}

/// Batch norm with per-layer eps and fused activation: inference uses the running statistics;
/// `training` uses batch statistics and updates the running statistics in place (momentum as in
/// PyTorch, unbiased variance).
public struct BatchNorm: Layer {
  public let gamma: [Float], beta: [Float], mean: [Float], variance: [Float]
  public let eps: Float
  public var activation: Activation
  public var name: String
  public var training = false
  public var momentum: Float = 0.1
  public var channels: Int { gamma.count }

  public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], eps: Float,
              activation: Activation = .identity, name: String = "bn") {
    precondition(beta.count == gamma.count && mean.count == gamma.count && variance.count == gamma.count)
    self.gamma = gamma; self.beta = beta; self.mean = mean; self.variance = variance; self.eps = eps
    self.activation = activation; self.name = name
  }

  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let (n, c, h, w) = try shape4(g, x, name)
    guard c == channels else { throw ComputeError.invalidArgument("\(name): \(c) channels, expected \(channels)") }
    let l = ChannelLayout(batch: n, channels: c, spatial: h * w)
    let ps = [gamma, beta, mean, variance].enumerated().map { i, v in
      g.parameter(v, shape: [c], name: "\(name).\(["weight", "bias", "running_mean", "running_var"][i])")
    }
    guard training else {
      return try g.apply(.batchNorm(l, eps: eps, activation: activation), [x] + ps, outputShapes: [g.shape(x)], name: name)[0]
    }
    let outs = try g.apply(.batchNormTraining(l, eps: eps, momentum: momentum), [x] + ps,
                           outputShapes: [g.shape(x), [c], [c], [c], [c]], name: name)
    try g.apply(.scale(count: c, alpha: 1, beta: 0), [outs[3]], into: [ps[2]])
    try g.apply(.scale(count: c, alpha: 1, beta: 0), [outs[4]], into: [ps[3]])
    return activation == .identity ? outs[0] : try Activate(activation)(outs[0], in: g)
  }
}

/// An element-wise activation.
public struct Activate: Layer {
  public let activation: Activation
  public init(_ activation: Activation) { self.activation = activation }
  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let n = g.shape(x).reduce(1, *)
    return try g.apply(.activation(activation, count: n), [x], outputShapes: [g.shape(x)])[0]
  }
}

/// PReLU with one slope per channel (shared over H and W).
public struct PReLU: Layer {
  public let alpha: [Float]
  public var name: String
  public init(alpha: [Float], name: String = "prelu") { self.alpha = alpha; self.name = name }
  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let (n, c, h, w) = try shape4(g, x, name)
    guard c == alpha.count else { throw ComputeError.invalidArgument("\(name): \(c) channels, \(alpha.count) slopes") }
    let a = g.parameter(alpha, shape: [c], name: "\(name).alpha")
    return try g.apply(.prelu(ChannelLayout(batch: n, channels: c, spatial: h * w)), [x, a],
                       outputShapes: [g.shape(x)], name: name)[0]
  }
}

/// Max pooling (PyTorch MaxPool2d, no dilation, floor mode): `kernelSize` windows every `stride`.
public struct MaxPool2D: Layer {
  public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
  public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
    self.kernelSize = kernelSize; self.stride = stride ?? kernelSize; self.padding = padding
  }
  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let (n, c, h, w) = try shape4(g, x, "max_pool")
    let geo = ConvGeometry(batch: n, inChannels: c, inHeight: h, inWidth: w, outChannels: c, kernel: kernelSize,
                           stride: stride, padding: padding)
    guard geo.isValid else { throw ComputeError.invalidArgument("max_pool: input \(h)×\(w) too small for the window") }
    return try g.apply(.maxPool(geo), [x], outputShapes: [geo.outputShape], name: "max_pool")[0]
  }
}

/// Sub-pixel upsampling (PyTorch pixel_shuffle): [N, C·r², H, W] → [N, C, H·r, W·r].
public struct PixelShuffle: Layer {
  public let factor: Int
  public init(factor: Int) { self.factor = factor }
  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let (n, c, h, w) = try shape4(g, x, "pixel_shuffle")
    let r2 = factor * factor
    guard c % r2 == 0 else { throw ComputeError.invalidArgument("pixel_shuffle: \(c) channels not divisible by \(r2)") }
    return try g.apply(.depthToSpace(batch: n, channels: c / r2, height: h, width: w, factor: factor), [x],
                       outputShapes: [[n, c / r2, h * factor, w * factor]])[0]
  }
}

/// Layers applied in order.
public struct Sequential: Layer {
  public var layers: [any Layer]
  public init(_ layers: [any Layer]) { self.layers = layers }

  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    var v = x
    for l in layers { v = try l(v, in: g) }
    return v
  }

  /// The same layers with every batch norm in training mode (batch statistics).
  public func training() -> Sequential {
    Sequential(layers.map { l -> any Layer in
      if var bn = l as? BatchNorm { bn.training = true; return bn }
      if let s = l as? Sequential { return s.training() }
      if let r = l as? Residual { return Residual(r.body.training()) }
      return l
    })
  }

  /// The same computation with inference batch norms folded into the preceding convolution and
  /// element-wise activations fused into the preceding convolution's epilogue (recursively).
  public func fusedForInference() -> Sequential {
    var out: [any Layer] = []
    for layer in layers {
      var l: any Layer = layer
      if let s = l as? Sequential { l = s.fusedForInference() }
      if let r = l as? Residual { l = Residual(r.body.fusedForInference()) }
      if let bn = l as? BatchNorm, !bn.training, let prev = out.last {
        if let c = prev as? Conv2D, c.activation == .identity {
          out[out.count - 1] = c.folding(bn); continue
        }
        if let c = prev as? TransposedConv2D, c.activation == .identity {
          out[out.count - 1] = c.folding(bn); continue
        }
      }
      if let a = l as? Activate, let prev = out.last {
        if var c = prev as? Conv2D, c.activation == .identity {
          c.activation = a.activation; out[out.count - 1] = c; continue
        }
        if var c = prev as? TransposedConv2D, c.activation == .identity {
          c.activation = a.activation; out[out.count - 1] = c; continue
        }
      }
      out.append(l)
    }
    return Sequential(out)
  }
}

/// y = x + body(x)
public struct Residual: Layer {
  public let body: Sequential
  public init(_ body: Sequential) { self.body = body }
  public func callAsFunction(_ x: Value, in g: Graph) throws -> Value {
    let y = try body(x, in: g)
    guard g.shape(y) == g.shape(x) else {
      throw ComputeError.invalidArgument("residual: body changes the shape \(g.shape(x)) -> \(g.shape(y))")
    }
    return try g.apply(.add(count: g.shape(x).reduce(1, *)), [x, y], outputShapes: [g.shape(x)])[0]
  }
}
