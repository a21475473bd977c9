import Compute

/// Randomly initialised weights with the DCGAN init (conv N(0, 0.02), BN γ N(1, 0.02), β 0) —
/// for benchmarks of architectures whose trained weights do not ship, and for training from scratch.
public enum RandomWeights {
  public static func dcganDiscriminator(ndf: Int = 64, nc: Int = 3, seed: UInt64 = 1) -> WeightSet {
    var rng = SplitMix64(seed: seed)
    func normal(_ n: Int, _ mean: Float, _ std: Float) -> [Float] { (0..<n).map { _ in mean + std * rng.nextGaussian() } }
    var t: [String: HostTensor] = [:]
    let chans = [nc, ndf, ndf * 2, ndf * 4, ndf * 8]
    for (i, idx) in [0, 2, 5, 8].enumerated() {
      let shape = [chans[i + 1], chans[i], 4, 4]
      t["main.\(idx).weight"] = HostTensor(shape: shape, data: normal(shape.reduce(1, *), 0, 0.02))
      if i > 0 {
        let c = chans[i + 1]
        t["main.\(idx + 1).weight"] = HostTensor(shape: [c], data: normal(c, 1, 0.02))
        t["main.\(idx + 1).bias"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
        t["main.\(idx + 1).running_mean"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
        t["main.\(idx + 1).running_var"] = HostTensor(shape: [c], data: [Float](repeating: 1, count: c))
      }
    }
    t["main.11.weight"] = HostTensor(shape: [1, ndf * 8, 4, 4], data: normal(ndf * 8 * 16, 0, 0.02))
    return WeightSet(tensors: t, metadata: ["format": "mend-dcgan-D", "init": "random"], source: "random DCGAN D")
  }
}

extension RandomWeights {
  /// The pytorch/examples DCGAN generator with the DCGAN init.
  public static func dcganGenerator(nz: Int = 100, ngf: Int = 64, nc: Int = 3, seed: UInt64 = 2) -> WeightSet {
    var rng = SplitMix64(seed: seed)
    func normal(_ n: Int, _ mean: Float, _ std: Float) -> [Float] { (0..<n).map { _ in mean + std * rng.nextGaussian() } }
    var t: [String: HostTensor] = [:]
    let chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf, nc]
    for i in 0..<5 {
      let shape = [chans[i], chans[i + 1], 4, 4]
      t["main.\(i * 3).weight"] = HostTensor(shape: shape, data: normal(shape.reduce(1, *), 0, 0.02))
      if i < 4 {
        let c = chans[i + 1], p = "main.\(i * 3 + 1)"
        t["\(p).weight"] = HostTensor(shape: [c], data: normal(c, 1, 0.02))
        t["\(p).bias"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
        t["\(p).running_mean"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
        t["\(p).running_var"] = HostTensor(shape: [c], data: [Float](repeating: 1, count: c))
      }
    }
    return WeightSet(tensors: t, metadata: ["format": "mend-dcgan-G", "init": "random"], source: "random DCGAN G")
  }
}

extension RandomWeights {
  /// SRResNet with He-initialised convolutions, identity batch norms and PReLU slopes 0.25.
  public static func srresnet(blocks: Int = 16, seed: UInt64 = 3) -> WeightSet {
    var rng = SplitMix64(seed: seed)
    var t: [String: HostTensor] = [:]
    func conv(_ p: String, _ cin: Int, _ cout: Int, _ k: Int, scale: Float = 1) {
      let std = scale * (2 / Float(cin * k * k)).squareRoot()
      t["\(p).weight"] = HostTensor(shape: [cout, cin, k, k], data: (0..<(cout * cin * k * k)).map { _ in std * rng.nextGaussian() })
      t["\(p).bias"] = HostTensor(shape: [cout], data: [Float](repeating: 0, count: cout))
    }
    func bn(_ p: String, _ c: Int) {
      t["\(p).weight"] = HostTensor(shape: [c], data: [Float](repeating: 1, count: c))
      t["\(p).bias"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
      t["\(p).running_mean"] = HostTensor(shape: [c], data: [Float](repeating: 0, count: c))
      t["\(p).running_var"] = HostTensor(shape: [c], data: [Float](repeating: 1, count: c))
    }
    func prelu(_ p: String, _ c: Int) { t["\(p).alpha"] = HostTensor(shape: [c], data: [Float](repeating: 0.25, count: c)) }
    conv("head.conv", 3, 64, 9); prelu("head.prelu", 64)
    for i in 0..<blocks {
      conv("blocks.\(i).conv1", 64, 64, 3); bn("blocks.\(i).bn1", 64); prelu("blocks.\(i).prelu", 64)
      conv("blocks.\(i).conv2", 64, 64, 3, scale: 0.1); bn("blocks.\(i).bn2", 64)
    }
    conv("trunk.conv", 64, 64, 3); bn("trunk.bn", 64)
    for u in 0..<2 { conv("up.\(u).conv", 64, 256, 3); prelu("up.\(u).prelu", 64) }
    conv("tail.conv", 64, 3, 9, scale: 0.1)
    return WeightSet(tensors: t, metadata: ["format": "mend-srresnet", "blocks": "\(blocks)", "init": "random"],
                     source: "random SRResNet")
  }
}
