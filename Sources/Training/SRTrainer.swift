import Compute
import Foundation
import Graph
import Imaging
import Models
import NN

/// SRGAN training (Ledig et al. 2016) on random HR crops and their bicubic 4× downscales, Adam,
/// training-mode batch norm.
///
/// * Stage 1 (no discriminator): SRResNet with the content loss: pixel MSE, or with `vgg` the MSE
///   of VGG19 feature maps (frozen weights, shared by the G(lr) and hr passes).
/// * Stage 2 (`discriminator` given): the generator minimises content + `adversarialWeight` ·
///   BCE(D(G(lr)), real) (the paper's 1e-3 · −log D(G(lr))), and the discriminator minimises
///   BCE(D(hr), real) + BCE(D(G(lr)), fake) on the same G(lr), as krasserm's trainer does (one
///   generator forward per step; D's loss uses it detached).
///
/// Plans: the G step (G forward, content loss, D on G(lr) when adversarial, backward to G's
/// parameters) and, in stage 2, the D step, which reads G(lr) and the HR batch straight from the
/// G plan's buffers (nothing goes through the host). Parameters and Adam state live in
/// `ParameterStore`s; no device memory is allocated after construction.
public final class SRTrainer {
  public struct Config: Sendable {
    public var batch = 16
    /// HR crop side (a multiple of 4; with a discriminator, the discriminator's input size).
    public var crop = 96
    public var lr: Float = 1e-4
    public var beta1: Float = 0.9, beta2: Float = 0.999
    /// Weight of the adversarial term in the generator's loss (stage 2; the paper's 1e-3).
    public var adversarialWeight: Float = 1e-3
    /// The content loss: nil for pixel MSE, else MSE between VGG19 feature maps of G(lr) and hr,
    /// each scaled by 1/12.75 (the paper's SRGAN-VGG54 / VGG22).
    public var vgg: VGG19Features? = nil
    public static let vggScale: Float = 1 / 12.75
    public init() {}
  }

  public struct Stats: Sendable {
    /// Mean content loss (MSE) and adversarial BCE of the generator, before the update.
    public let content: Float, adversarial: Float
    /// Discriminator loss and mean D(hr), D(G(lr)) (probabilities); 0 in stage 1.
    public let lossD: Float, dReal: Float, dFake: Float
  }

  public let config: Config
  public let device: Device
  public let store: ParameterStore
  /// The discriminator's parameters (stage 2 only).
  public let discriminator: ParameterStore?
  public private(set) var step = 0
  public let plan: Plan
  public let input: Value, target: Value, output: Value
  /// Per-sample content loss [batch].
  public let loss: Value
  /// The frozen VGG19 parameters (VGG content loss only).
  public let vggStore: ParameterStore?
  /// Per-sample generator BCE against "real" [batch] (stage 2).
  public let adversarial: Value?
  public let grads: [String: Value]
  /// The D step (stage 2): its per-sample losses and logits.
  public let planD: Plan?
  public let errReal: Value?, errFake: Value?, logitReal: Value?, logitFake: Value?
  public let gradsD: [String: Value]
  let hyper: TensorRef

  public var stage: Int { discriminator == nil ? 1 : 2 }

  public init(weights: WeightSet, discriminator dWeights: WeightSet? = nil, device: Device, config: Config) throws {
    guard config.crop % 4 == 0 && config.crop >= 16 else { throw ComputeError.invalidArgument("crop must be a multiple of 4, ≥ 16") }
    self.config = config
    self.device = device
    let store = try ParameterStore(weights, device: device)
    self.store = store
    let model = try SRResNet(weights: weights)
    let b = config.batch, s = config.crop
    func constants(_ g: Graph, _ v: Float, _ name: String) -> Value {
      g.parameterBinder = nil
      return g.parameter([Float](repeating: v, count: b), shape: [b], name: name)
    }
    func trainable(_ store: ParameterStore, _ bound: [String: Value]) -> [Value] {
      store.names.filter { store.entries[$0]!.trainable }.compactMap { bound[$0] }
    }
    var dLayers: Sequential?
    if let dWeights {
      guard s % 16 == 0 else { throw ComputeError.invalidArgument("with a discriminator the crop must be a multiple of 16") }
      let d = try SRGANDiscriminator(weights: dWeights, size: s, logits: true)
      dLayers = d.layers.training()
      discriminator = try ParameterStore(dWeights, device: device)
    } else {
      discriminator = nil
    }

    // G step.
    let g = Graph()
    let seed = constants(g, 1 / Float(b), "seed_content")
    let seedAdv = constants(g, config.adversarialWeight / Float(b), "seed_adversarial")
    let ones = constants(g, 1, "ones")
    input = g.input([b, 3, s / 4, s / 4], name: "lr")
    target = g.input([b, 3, s, s], name: "hr")
    let bound = store.bind(g)
    output = try model.layers.training()(input, in: g)
    g.parameterBinder = nil
    if let vgg = config.vgg {
      let vs = try ParameterStore(vgg.parameters, device: device, frozen: true)
      vggStore = vs
      vs.bind(g)
      let fsr = try vgg.layers(output, in: g), fhr = try vgg.layers(target, in: g)
      g.parameterBinder = nil
      let n = g.shape(fsr).reduce(1, *)
      let a = try Affine(alpha: Config.vggScale, beta: 0)(fsr, in: g), t = try Affine(alpha: Config.vggScale, beta: 0)(fhr, in: g)
      loss = try g.apply(.mse(samples: b, count: n / b), [a, t], outputShapes: [[b]], name: "vgg_mse")[0]
    } else {
      vggStore = nil
      loss = try g.apply(.mse(samples: b, count: 3 * s * s), [output, target], outputShapes: [[b]], name: "mse")[0]
    }
    var seeds = [(loss, seed)]
    if let dLayers, let D = discriminator {
      D.bind(g)
      let logit = try dLayers(output, in: g)
      g.parameterBinder = nil
      let adv = try g.apply(.bceWithLogits(samples: b, count: 1), [logit, ones], outputShapes: [[b]], name: "adversarial")[0]
      seeds.append((adv, seedAdv))
      adversarial = adv
      g.output(adv)
    } else {
      adversarial = nil
    }
    let gv = try g.backward(seeds: seeds, wrt: trainable(store, bound()))
    var grads: [String: Value] = [:]
    for (name, v) in bound() { if let d = gv[v] { grads[name] = d; g.output(d) } }
    self.grads = grads
    g.output(loss)
    g.output(output)
    plan = try g.compile(on: device)

    // D step, on the G plan's HR batch and G(lr).
    if let dLayers, let D = discriminator {
      let gd = Graph()
      let ones = constants(gd, 1, "ones"), zeros = constants(gd, 0, "zeros"), mean = constants(gd, 1 / Float(b), "seed")
      let hr = gd.external(plan.tensor(target), name: "hr")
      let sr = gd.external(plan.tensor(output), name: "sr")
      let boundD = D.bind(gd)
      let lr = try dLayers(hr, in: gd), lf = try dLayers(sr, in: gd)
      gd.parameterBinder = nil
      let er = try gd.apply(.bceWithLogits(samples: b, count: 1), [lr, ones], outputShapes: [[b]], name: "errD_real")[0]
      let ef = try gd.apply(.bceWithLogits(samples: b, count: 1), [lf, zeros], outputShapes: [[b]], name: "errD_fake")[0]
      let dg = try gd.backward(seeds: [(er, mean), (ef, mean)], wrt: trainable(D, boundD()))
      var gradsD: [String: Value] = [:]
      for (name, v) in boundD() { if let d = dg[v] { gradsD[name] = d; gd.output(d) } }
      self.gradsD = gradsD
      for v in [er, ef, lr, lf] { gd.output(v) }
      planD = try gd.compile(on: device)
      errReal = er; errFake = ef; logitReal = lr; logitFake = lf
    } else {
      planD = nil; errReal = nil; errFake = nil; logitReal = nil; logitFake = nil; gradsD = [:]
    }
    hyper = try device.zeros([2])
  }

  static func mean(_ v: [Float]) -> Float { v.reduce(0, +) / Float(max(1, v.count)) }
  static func sigmoidMean(_ v: [Float]) -> Float { mean(v.map { 1 / (1 + exp(-$0)) }) }

  /// One step on a batch: LR [batch, 3, crop/4, crop/4] and HR [batch, 3, crop, crop] in [0, 1].
  /// Stage 2 updates D on the same G(lr) (computed before G's update), then G.
  @discardableResult
  public func train(lr: [Float], hr: [Float]) throws -> Stats {
    step += 1
    try plan.set(input, lr)
    try plan.set(target, hr)
    try plan.run()
    var lossD: Float = 0, dReal: Float = 0, dFake: Float = 0
    if let planD, let D = discriminator, let errReal, let errFake, let logitReal, let logitFake {
      try planD.run()
      try D.adamStep(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                     gradients: gradsD.mapValues { planD.tensor($0) }, hyper: hyper)
      lossD = Self.mean(try planD.read(errReal)) + Self.mean(try planD.read(errFake))
      dReal = Self.sigmoidMean(try planD.read(logitReal))
      dFake = Self.sigmoidMean(try planD.read(logitFake))
    }
    try store.adamStep(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                       gradients: grads.mapValues { plan.tensor($0) }, hyper: hyper)
    return Stats(content: Self.mean(try plan.read(loss)), adversarial: try adversarial.map { Self.mean(try plan.read($0)) } ?? 0,
                 lossD: lossD, dReal: dReal, dFake: dFake)
  }

  /// G's parameters and Adam moments (D's prefixed "D." in stage 2), step and data-RNG state.
  public func saveCheckpoint(to url: URL, rngState: UInt64) throws {
    var t = try store.snapshot(optimizer: true)
    if let discriminator { for (k, v) in try discriminator.snapshot(optimizer: true) { t["D." + k] = v } }
    try SafeTensors.write(t, metadata: ["format": "mend-srresnet-checkpoint", "step": "\(step)", "rng": "\(rngState)",
                                        "stage": "\(stage)", "blocks": store.metadata["blocks"] ?? "16"], to: url)
  }

  /// Restores a checkpoint; returns the saved data-RNG state.
  public func loadCheckpoint(_ url: URL) throws -> UInt64 {
    let (t, meta) = try SafeTensors.read(url)
    guard meta["format"] == "mend-srresnet-checkpoint", let s = meta["step"].flatMap(Int.init),
          let r = meta["rng"].flatMap(UInt64.init) else { throw WeightsError("\(url.lastPathComponent): not a mend SRResNet checkpoint") }
    guard (meta["stage"] ?? "1") == "\(stage)" else {
      throw WeightsError("\(url.lastPathComponent): a stage-\(meta["stage"] ?? "1") checkpoint, training stage \(stage)")
    }
    try store.restore(t.filter { !$0.key.hasPrefix("D.") })
    if let discriminator {
      try discriminator.restore(Dictionary(uniqueKeysWithValues: t.filter { $0.key.hasPrefix("D.") }.map { (String($0.key.dropFirst(2)), $0.value) }))
    }
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
