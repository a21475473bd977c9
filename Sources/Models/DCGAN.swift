import Compute
import Graph
import NN

/// The pytorch/examples DCGAN generator: z[N, nz, 1, 1] → image[N, nc, 64, 64] in [-1, 1].
///
///   ConvT(nz→8g, 4, 1, 0)–BN–ReLU, ConvT(8g→4g, 4, 2, 1)–BN–ReLU, ConvT(4g→2g)–BN–ReLU,
///   ConvT(2g→g)–BN–ReLU, ConvT(g→nc, 4, 2, 1)–Tanh; no conv biases; BN eps 1e-5.
/// State-dict names main.0 … main.12 (convs at 0, 3, 6, 9, 12; BNs at 1, 4, 7, 10).
public struct DCGANGenerator: Sendable {
  public let nz: Int, ngf: Int, nc: Int
  public let layers: Sequential

  public static let bnEps: Float = 1e-5

  public init(weights: WeightSet) throws {
    guard let s0 = weights.shape("main.0.weight"), s0.count == 4 else {
      throw WeightsError("\(weights.source): no main.0.weight: not a DCGAN generator")
    }
    nz = s0[0]
    ngf = s0[1] / 8
    guard let s12 = weights.shape("main.12.weight"), s12.count == 4 else {
      throw WeightsError("\(weights.source): no main.12.weight: not a 64×64 DCGAN generator")
    }
    nc = s12[1]
    let chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf, nc]
    var ls: [any Layer] = []
    for i in 0..<5 {
      let idx = i * 3
      let (cin, cout) = (chans[i], chans[i + 1])
      let w = try weights.take("main.\(idx).weight", [cin, cout, 4, 4])
      ls.append(TransposedConv2D(inputChannels: cin, outputChannels: cout, kernelSize: (4, 4),
                                 stride: i == 0 ? (1, 1) : (2, 2), padding: i == 0 ? (0, 0) : (1, 1),
                                 weight: w, name: "main.\(idx)"))
      if i < 4 {
        let p = "main.\(idx + 1)"
        ls.append(BatchNorm(gamma: try weights.take("\(p).weight", [cout]), beta: try weights.take("\(p).bias", [cout]),
                            mean: try weights.take("\(p).running_mean", [cout]),
                            variance: try weights.take("\(p).running_var", [cout]), eps: Self.bnEps, name: p))
        ls.append(Activate(.relu))
      } else {
        ls.append(Activate(.tanh))
      }
    }
    layers = Sequential(ls)
  }

  /// A graph for `batch` latents; BN folded into the convolutions unless `fold` is false.
  public func graph(batch: Int, fold: Bool = true) throws -> (graph: Graph, z: Value, image: Value) {
    let g = Graph()
    let z = g.input([batch, nz, 1, 1], name: "z")
    let y = try (fold ? layers.fusedForInference() : layers)(z, in: g)
    g.output(y)
    return (g, z, y)
  }
}

/// The pytorch/examples DCGAN discriminator: image[N, nc, 64, 64] → D(x) (or its logit).
///
///   Conv(nc→d, 4, 2, 1)–LReLU(0.2), Conv(d→2d)–BN–LReLU, Conv(2d→4d)–BN–LReLU,
///   Conv(4d→8d)–BN–LReLU, Conv(8d→1, 4, 1, 0)–Sigmoid. Names main.0, main.2/3, main.5/6,
///   main.8/9, main.11.
public struct DCGANDiscriminator: Sendable {
  public let ndf: Int, nc: Int
  public let layers: Sequential

  public init(weights: WeightSet, logits: Bool = false) throws {
    guard let s0 = weights.shape("main.0.weight"), s0.count == 4 else {
      throw WeightsError("\(weights.source): no main.0.weight: not a DCGAN discriminator")
    }
    ndf = s0[0]
    nc = s0[1]
    let chans = [nc, ndf, ndf * 2, ndf * 4, ndf * 8]
    var ls: [any Layer] = []
    let convIdx = [0, 2, 5, 8]
    for i in 0..<4 {
      let idx = convIdx[i]
      ls.append(Conv2D(inputChannels: chans[i], outputChannels: chans[i + 1], kernelSize: (4, 4), stride: (2, 2),
                       padding: (1, 1), weight: try weights.take("main.\(idx).weight", [chans[i + 1], chans[i], 4, 4]),
                       name: "main.\(idx)"))
      if i > 0 {
        let p = "main.\(idx + 1)", c = chans[i + 1]
        ls.append(BatchNorm(gamma: try weights.take("\(p).weight", [c]), beta: try weights.take("\(p).bias", [c]),
                            mean: try weights.take("\(p).running_mean", [c]),
                            variance: try weights.take("\(p).running_var", [c]), eps: DCGANGenerator.bnEps, name: p))
      }
      ls.append(Activate(.leakyRelu(0.2)))
    }
    ls.append(Conv2D(inputChannels: ndf * 8, outputChannels: 1, kernelSize: (4, 4),
                     weight: try weights.take("main.11.weight", [1, ndf * 8, 4, 4]), name: "main.11"))
    if !logits { ls.append(Activate(.sigmoid)) }
    layers = Sequential(ls)
  }

  public func graph(batch: Int, fold: Bool = true) throws -> (graph: Graph, image: Value, score: Value) {
    let g = Graph()
    let x = g.input([batch, nc, 64, 64], name: "image")
    let y = try (fold ? layers.fusedForInference() : layers)(x, in: g)
    g.output(y)
    return (g, x, y)
  }
}
