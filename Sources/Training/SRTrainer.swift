import Compute
import Foundation
import Graph
import Imaging
import Models
import NN

/// SRResNet training with the MSE content loss (SRGAN's stage 1): random HR crops, their bicubic 4×
/// downscales as input, Adam, training-mode batch norm. One compiled plan (forward, loss, backward
/// to every parameter); parameters and Adam state live in a `ParameterStore`.
public final class SRTrainer {
  public struct Config: Sendable {
    public var batch = 16
    /// HR crop side (a multiple of 4); the LR input is crop/4.
    public var crop = 96
    public var lr: Float = 1e-4
    public var beta1: Float = 0.9, beta2: Float = 0.999
    public init() {}
  }

  public let config: Config
  public let device: Device
  public let store: ParameterStore
  public private(set) var step = 0
  public let plan: Plan
  public let input: Value, target: Value, loss: Value
  public let grads: [String: Value]
  let hyper: TensorRef

  public init(weights: WeightSet, device: Device, config: Config) throws {
    guard config.crop % 4 == 0 && config.crop >= 16 else { throw ComputeError.invalidArgument("crop must be a multiple of 4, ≥ 16") }
    self.config = config
    self.device = device
    let store = try ParameterStore(weights, device: device)
    self.store = store
    let model = try SRResNet(weights: weights)
    let b = config.batch, s = config.crop
    let g = Graph()
    let seed = g.parameter([Float](repeating: 1 / Float(b), count: b), shape: [b], name: "seed")
    input = g.input([b, 3, s / 4, s / 4], name: "lr")
    target = g.input([b, 3, s, s], name: "hr")
    let bound = store.bind(g)
    let y = try model.layers.training()(input, in: g)
    g.parameterBinder = nil
    loss = try g.apply(.mse(samples: b, count: 3 * s * s), [y, target], outputShapes: [[b]], name: "mse")[0]
    let params = store.names.filter { store.entries[$0]!.trainable }.compactMap { bound()[$0] }
    let gv = try g.backward(seeds: [(loss, seed)], wrt: params)
    var grads: [String: Value] = [:]
    for (name, v) in bound() { if let d = gv[v] { grads[name] = d; g.output(d) } }
    self.grads = grads
    g.output(loss)
    plan = try g.compile(on: device)
    hyper = try device.zeros([2])
  }

  /// One step on a batch: LR [batch, 3, crop/4, crop/4] and HR [batch, 3, crop, crop] in [0, 1].
  /// Returns the mean MSE before the update.
  @discardableResult
  public func train(lr: [Float], hr: [Float]) throws -> Float {
    step += 1
    try plan.set(input, lr)
    try plan.set(target, hr)
    try plan.run()
    try store.adamStep(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                       gradients: grads.mapValues { plan.tensor($0) }, hyper: hyper)
    let l = try plan.read(loss)
    return l.reduce(0, +) / Float(l.count)
  }

  public func saveCheckpoint(to url: URL, rngState: UInt64) throws {
    try SafeTensors.write(try store.snapshot(optimizer: true),
                          metadata: ["format": "mend-srresnet-checkpoint", "step": "\(step)", "rng": "\(rngState)",
                                     "blocks": store.metadata["blocks"] ?? "16"], to: url)
  }

  /// Restores a checkpoint; returns the saved data-RNG state.
  public func loadCheckpoint(_ url: URL) throws -> UInt64 {
    let (t, meta) = try SafeTensors.read(url)
    guard meta["format"] == "mend-srresnet-checkpoint", let s = meta["step"].flatMap(Int.init),
          let r = meta["rng"].flatMap(UInt64.init) else { throw WeightsError("\(url.lastPathComponent): not a mend SRResNet checkpoint") }
    try store.restore(t)
    step = s
    return r
  }

  /// Random HR crops from `images` and their bicubic 4× downscales.
  public static func batch(from images: [Image], count: Int, crop: Int, rng: inout SplitMix64) -> (lr: [Float], hr: [Float]) {
    var lr: [Float] = [], hr: [Float] = []
    for _ in 0..<count {
      let im = images[Int(rng.next() % UInt64(images.count))]
      let x = Int(rng.next() % UInt64(im.width - crop + 1)), y = Int(rng.next() % UInt64(im.height - crop + 1))
      let c = im.crop(x: x, y: y, width: crop, height: crop)
      hr += c.data
      lr += Resize.resize(c, width: crop / 4, height: crop / 4, filter: .bicubic).clamped().data
    }
    return (lr, hr)
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
