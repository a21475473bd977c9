import Compute
import Graph
import NN

/// SRResNet / SRGAN generator, 4× (Ledig et al. 2016, as trained by krasserm/super-resolution):
/// x[N, 3, H, W] in [0, 1] → y[N, 3, 4H, 4W] in [0, 1].
///
///   Conv9×9(3→64)–PReLU =: x1; B × [Conv3×3–BN–PReLU–Conv3×3–BN, + skip]; Conv3×3–BN, + x1;
///   2 × [Conv3×3(64→256)–PixelShuffle(2)–PReLU]; Conv9×9(64→3)–tanh; (t + 1)/2.
/// PReLU has one slope per channel. BN eps is 1e-3 (Keras).
public struct SRResNet: Sendable {
  public let blocks: Int
  public let layers: Sequential
  public static let bnEps: Float = 1e-3

  public init(weights: WeightSet) throws {
    var b = 0
    while weights.shape("blocks.\(b).conv1.weight") != nil { b += 1 }
    guard b > 0 else { throw WeightsError("\(weights.source): no blocks.0.conv1.weight: not an SRResNet") }
    blocks = b
    let f = 64
    func conv(_ p: String, _ cin: Int, _ cout: Int, _ k: Int) throws -> Conv2D {
      Conv2D(inputChannels: cin, outputChannels: cout, kernelSize: (k, k), padding: (k / 2, k / 2),
             weight: try weights.take("\(p).weight", [cout, cin, k, k]), bias: try weights.take("\(p).bias", [cout]),
             name: p)
    }
    func bn(_ p: String, _ c: Int) throws -> BatchNorm {
      BatchNorm(gamma: try weights.take("\(p).weight", [c]), beta: try weights.take("\(p).bias", [c]),
                mean: try weights.take("\(p).running_mean", [c]), variance: try weights.take("\(p).running_var", [c]),
                eps: Self.bnEps, name: p)
    }
    func prelu(_ p: String, _ c: Int) throws -> PReLU { PReLU(alpha: try weights.take("\(p).alpha", [c]), name: p) }

    var body: [any Layer] = []
    for i in 0..<b {
      let p = "blocks.\(i)"
      body.append(Residual(Sequential([try conv("\(p).conv1", f, f, 3), try bn("\(p).bn1", f), try prelu("\(p).prelu", f),
                                       try conv("\(p).conv2", f, f, 3), try bn("\(p).bn2", f)])))
    }
    body.append(try conv("trunk.conv", f, f, 3))
    body.append(try bn("trunk.bn", f))
    var ls: [any Layer] = [try conv("head.conv", 3, f, 9), try prelu("head.prelu", f), Residual(Sequential(body))]
    for u in 0..<2 {
      ls.append(try conv("up.\(u).conv", f, f * 4, 3))
      ls.append(PixelShuffle(factor: 2))
      ls.append(try prelu("up.\(u).prelu", f))
    }
    ls.append(try conv("tail.conv", f, 3, 9))
    ls.append(Activate(.tanh))
    ls.append(Affine(alpha: 0.5, beta: 0.5))
    layers = Sequential(ls)
  }

  public func graph(batch: Int, height: Int, width: Int, fold: Bool = true) throws
    -> (graph: Graph, input: Value, output: Value) {
    let g = Graph()
    let x = g.input([batch, 3, height, width], name: "lr")
    let y = try (fold ? layers.fusedForInference() : layers)(x, in: g)
    g.output(y)
    return (g, x, y)
  }
}
