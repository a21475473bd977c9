import Compute
import Graph
import NN

/// The convolutional part of VGG19 (Simonyan & Zisserman 2014) as torchvision lays it out, up to
/// the ReLU after a chosen convolution: SRGAN's feature maps φ_{i,j} for the VGG content loss
/// (Ledig et al. 2016: φ_{5,4} for SRGAN-VGG54, φ_{2,2} for SRGAN-VGG22).
///
/// Input: RGB in [0, 1]; ImageNet normalisation ((x − mean) / std per channel) is the first layer.
/// Weights: torchvision's `features.N.weight/bias` (N the module index; `Tools/fetch-weights
/// --convert-vgg19 vgg19-dcbb9e9d.pth` writes them). Channel widths are read from the weights, so
/// any network with VGG19's layout loads (the tests use a narrow one).
public struct VGG19Features: Sendable {
  /// Module indices of torchvision's VGG19 `features` that are convolutions; max pools sit at 4,
  /// 9, 18, 27 and 36.
  public static let convIndices = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
  /// Convolutions per block (blocks end in a max pool).
  public static let blocks = [2, 2, 4, 4, 4]
  public static let mean: [Float] = [0.485, 0.456, 0.406]
  public static let std: [Float] = [0.229, 0.224, 0.225]

  /// The layer φ_{block, conv} whose ReLU output is the feature map (1-based, as in the papers).
  public let block: Int, conv: Int
  public let layers: Sequential
  /// Every parameter the layers ask for (the convolutions and the normalisation), by name: bind a
  /// `ParameterStore` made from these so several uses of the network share one copy.
  public let parameters: WeightSet
  public let outputChannels: Int

  public init(weights: WeightSet, block: Int = 5, conv: Int = 4) throws {
    guard (1...5).contains(block), (1...Self.blocks[block - 1]).contains(conv) else {
      throw WeightsError("VGG19 has no layer \(block)_\(conv)")
    }
    self.block = block; self.conv = conv
    var ls: [any Layer] = [BatchNorm(gamma: [1, 1, 1], beta: [0, 0, 0], mean: Self.mean, variance: Self.std.map { $0 * $0 },
                                     eps: 0, name: "normalize")]
    var tensors: [String: HostTensor] = [
      "normalize.weight": HostTensor(shape: [3], data: [1, 1, 1]), "normalize.bias": HostTensor(shape: [3], data: [0, 0, 0]),
      "normalize.running_mean": HostTensor(shape: [3], data: Self.mean),
      "normalize.running_var": HostTensor(shape: [3], data: Self.std.map { $0 * $0 }),
    ]
    var cin = 3, k = 0
    outer: for (b, n) in Self.blocks.enumerated() {
      if b > 0 { ls.append(MaxPool2D(kernelSize: (2, 2))) }
      for j in 0..<n {
        let name = "features.\(Self.convIndices[k])"
        guard let shape = weights.shape("\(name).weight"), shape.count == 4, shape[1] == cin else {
          throw WeightsError("\(weights.source): \(name).weight missing or not a convolution from \(cin) channels")
        }
        let cout = shape[0]
        let w = try weights.take("\(name).weight", [cout, cin, 3, 3]), bias = try weights.take("\(name).bias", [cout])
        ls.append(Conv2D(inputChannels: cin, outputChannels: cout, kernelSize: (3, 3), padding: (1, 1), weight: w,
                         bias: bias, activation: .relu, name: name))
        tensors["\(name).weight"] = HostTensor(shape: [cout, cin, 3, 3], data: w)
        tensors["\(name).bias"] = HostTensor(shape: [cout], data: bias)
        cin = cout; k += 1
        if b + 1 == block && j + 1 == conv { break outer }
      }
    }
    layers = Sequential(ls)
    outputChannels = cin
    parameters = WeightSet(tensors: tensors, metadata: ["format": "mend-vgg19"], source: weights.source)
  }

  /// Feature map size for an input of h × w.
  public func outputSize(height: Int, width: Int) -> (Int, Int) {
    var h = height, w = width
    for _ in 1..<block { h /= 2; w /= 2 }
    return (h, w)
  }

  public func graph(batch: Int, height: Int, width: Int) throws -> (graph: Graph, image: Value, features: Value) {
    let g = Graph()
    let x = g.input([batch, 3, height, width], name: "rgb")
    let y = try layers(x, in: g)
    g.output(y)
    return (g, x, y)
  }
}

extension RandomWeights {
  /// A network with VGG19's layout and He-initialised convolutions, `widths` channels per block
  /// (VGG19 itself: 64, 128, 256, 512, 512). For tests and benchmarks; real use needs the
  /// converted torchvision weights.
  public static func vgg19(widths: [Int] = [64, 128, 256, 512, 512], seed: UInt64 = 7) -> WeightSet {
    precondition(widths.count == 5)
    var rng = SplitMix64(seed: seed)
    var t: [String: HostTensor] = [:]
    var cin = 3, k = 0
    for (b, n) in VGG19Features.blocks.enumerated() {
      for _ in 0..<n {
        let cout = widths[b], std = (2 / Float(cin * 9)).squareRoot()
        let i = VGG19Features.convIndices[k]
        t["features.\(i).weight"] = HostTensor(shape: [cout, cin, 3, 3], data: (0..<(cout * cin * 9)).map { _ in std * rng.nextGaussian() })
        t["features.\(i).bias"] = HostTensor(shape: [cout], data: (0..<cout).map { _ in 0.05 * rng.nextGaussian() })
        cin = cout; k += 1
      }
    }
    return WeightSet(tensors: t, metadata: ["format": "mend-vgg19", "init": "random"], source: "random VGG19")
  }
}
