import Compute
import Graph
import NN

/// The SRGAN discriminator (Ledig et al. 2016, as in krasserm/super-resolution) for 96×96 crops in
/// [0, 1]: eight Conv3×3 blocks (64, 64/2, 128, 128/2, 256, 256/2, 512, 512/2 — "/2" is stride 2)
/// with BN (not on the first) and LeakyReLU(0.2), then Dense(1024)–LeakyReLU–Dense(1)
/// (–Sigmoid unless logits). Dense layers are convolutions whose kernel covers the whole input.
///
/// Padding follows the weights' metadata `padding`: "same" is Keras/TensorFlow 'same' (stride-2
/// convolutions pad only the bottom/right), which krasserm's trained `gan_discriminator.h5` needs
/// (converted by Tools/fetch-weights to `srgan-x4-D.safetensors`); anything else is PyTorch's
/// symmetric padding 1 (`RandomWeights.srganDiscriminator`, for training from scratch).
/// Keys: blocks.N.conv.weight/bias, blocks.N.bn.*, dense1.weight/bias, dense2.weight/bias
/// (dense1.weight as [1024, 512, s, s], NCHW; the converter permutes Keras' NHWC flatten order).
public struct SRGANDiscriminator: Sendable {
  public let size: Int
  public let layers: Sequential
  /// Keras/TensorFlow 'same' padding (true for krasserm's weights).
  public let tensorflowSame: Bool
  public static let widths = [64, 64, 128, 128, 256, 256, 512, 512]
  public static let bnEps: Float = 1e-3

  public init(weights: WeightSet, size: Int = 96, logits: Bool = false) throws {
    guard size % 16 == 0 && size >= 16 else { throw WeightsError("SRGAN discriminator input must be a multiple of 16") }
    self.size = size
    tensorflowSame = weights.metadata["padding"] == "same"
    var ls: [any Layer] = [Affine(alpha: 2, beta: -1)]  // [0, 1] → [-1, 1]
    var cin = 3
    for (i, c) in Self.widths.enumerated() {
      let stride = i % 2 == 1 ? 2 : 1
      ls.append(Conv2D(inputChannels: cin, outputChannels: c, kernelSize: (3, 3), stride: (stride, stride), padding: (1, 1),
                       tensorflowSame: tensorflowSame,
                       weight: try weights.take("blocks.\(i).conv.weight", [c, cin, 3, 3]),
                       bias: try weights.take("blocks.\(i).conv.bias", [c]), name: "blocks.\(i).conv"))
      if i > 0 {
        let p = "blocks.\(i).bn"
        ls.append(BatchNorm(gamma: try weights.take("\(p).weight", [c]), beta: try weights.take("\(p).bias", [c]),
                            mean: try weights.take("\(p).running_mean", [c]), variance: try weights.take("\(p).running_var", [c]),
                            eps: Self.bnEps, name: p))
      }
      ls.append(Activate(.leakyRelu(0.2)))
      cin = c
    }
    let s = size / 16
    ls.append(Conv2D(inputChannels: 512, outputChannels: 1024, kernelSize: (s, s),
                     weight: try weights.take("dense1.weight", [1024, 512, s, s]), bias: try weights.take("dense1.bias", [1024]),
                     name: "dense1"))
    ls.append(Activate(.leakyRelu(0.2)))
    ls.append(Conv2D(inputChannels: 1024, outputChannels: 1, kernelSize: (1, 1),
                     weight: try weights.take("dense2.weight", [1, 1024, 1, 1]), bias: try weights.take("dense2.bias", [1]),
                     name: "dense2"))
    if !logits { ls.append(Activate(.sigmoid)) }
    layers = Sequential(ls)
  }

  public func graph(batch: Int, fold: Bool = true) throws -> (graph: Graph, image: Value, score: Value) {
    let g = Graph()
    let x = g.input([batch, 3, size, size], name: "hr")
    let y = try (fold ? layers.fusedForInference() : layers)(x, in: g)
    g.output(y)
    return (g, x, y)
  }
}

extension RandomWeights {
  /// He-style random init for the SRGAN discriminator (for training and benchmarks).
  public static func srganDiscriminator(size: Int = 96, seed: UInt64 = 1) -> WeightSet {
    var rng = SplitMix64(seed: seed)
    func normal(_ n: Int, _ std: Float) -> [Float] { (0..<n).map { _ in std * rng.nextGaussian() } }
    var t: [String: HostTensor] = [:]
    var cin = 3
    for (i, c) in SRGANDiscriminator.widths.enumerated() {
      t["blocks.\(i).conv.weight"] = HostTensor(shape: [c, cin, 3, 3], data: normal(c * cin * 9, (2 / Float(cin * 9)).squareRoot()))
      t["blocks.\(i).conv.bias"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
      if i > 0 {
        t["blocks.\(i).bn.weight"] = HostTensor(shape: [c], data: [Float](repeating: 1, count: c))
        t["blocks.\(i).bn.bias"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
        t["blocks.\(i).bn.running_mean"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
        t["blocks.\(i).bn.running_var"] = HostTensor(shape: [c], data: [Float](repeating: 1, count: c))
      }
      cin = c
    }
    let s = size / 16
    t["dense1.weight"] = HostTensor(shape: [1024, 512, s, s], data: normal(1024 * 512 * s * s, (2 / Float(512 * s * s)).squareRoot()))
    t["dense1.bias"] = HostTensor(shape: [1024], data: [Float](repeating: 0, count: 1024))
    t["dense2.weight"] = HostTensor(shape: [1, 1024, 1, 1], data: normal(1024, (1 / Float(1024)).squareRoot()))
    t["dense2.bias"] = HostTensor(shape: [1], data: [0])
    return WeightSet(tensors: t, metadata: ["format": "mend-srgan-D", "init": "random"], source: "random SRGAN D")
  }
}
