import Compute
import Foundation
import Graph
import Imaging
import Models
import NN

/// DCGAN training as in pytorch/examples: Adam (lr 2e-4, β1 0.5), BCE losses, training-mode batch
/// norm with running statistics, N(0, 0.02) init. Each step draws fake = G(z) once, updates D on
/// the real batch and on fake (detached), then updates G through the updated D on the same fake.
///
/// One compiled plan per step, as the PyTorch loop computes it: G forward; D on real and fake, BCE,
/// backward to D's parameters; D's Adam update (in the plan, in place); D on fake again with the
/// updated weights, BCE against "real", backward through D and G to G's parameters. G's Adam step
/// runs after the plan. Parameters and Adam state live in `ParameterStore`s; no device memory is
/// allocated after construction.
public final class DCGANTrainer {
  public struct Config: Sendable {
    public var batch = 64
    public var lr: Float = 2e-4
    public var beta1: Float = 0.5, beta2: Float = 0.999
    public var seed: UInt64 = 0
    public init() {}
  }

  public struct Stats: Sendable {
    public let lossD: Float, lossG: Float
    /// Mean D(x) on the real batch, mean D(G(z)) before and after the D update.
    public let dReal: Float, dFake: Float, dFakeAfter: Float
  }

  public let config: Config
  public let device: Device
  public let G: ParameterStore, D: ParameterStore
  public let nz: Int
  public private(set) var step = 0
  public var rng: SplitMix64
  public let plan: Plan
  public let real: Value, z: Value
  public let errReal: Value, errFake: Value, logitReal: Value, logitFake: Value, errG: Value, logitG: Value
  /// D's gradients (from the D step, before its update) and G's, by parameter name.
  public let gradsD: [String: Value], gradsG: [String: Value]
  /// Adam's step-size corrections for the current step (written before each run). Checks that
  /// must leave D unchanged write [0, ε] here: the in-plan update then moves nothing.
  public let hyper: TensorRef

  public init(generator: WeightSet, discriminator: WeightSet, device: Device, config: Config) throws {
    self.config = config
    self.device = device
    G = try ParameterStore(generator, device: device)
    D = try ParameterStore(discriminator, device: device)
    let gen = try DCGANGenerator(weights: generator)
    let disc = try DCGANDiscriminator(weights: discriminator, logits: true)
    nz = gen.nz
    rng = SplitMix64(seed: config.seed)
    hyper = try device.zeros([2])
    let b = config.batch
    let gLayers = gen.layers.training(), dLayers = disc.layers.training()
    let g = Graph()
    func constants(_ v: Float) -> Value {
      g.parameterBinder = nil
      return g.parameter([Float](repeating: v, count: b), shape: [b], name: "const\(v)")
    }
    func trainable(_ store: ParameterStore, _ bound: [String: Value]) -> [String: Value] {
      bound.filter { store.entries[$0.key]!.trainable }
    }
    let ones = constants(1), zeros = constants(0), seedMean = constants(1 / Float(b))
    real = g.input([b, disc.nc, 64, 64], name: "real")
    z = g.input([b, nz, 1, 1], name: "z")

    // G forward, once.
    let boundG = G.bind(g)
    let fake = try gLayers(z, in: g)
    // D step: D's parameters only, so nothing flows into G (fake is detached).
    let boundD = D.bind(g)
    logitReal = try dLayers(real, in: g)
    logitFake = try dLayers(fake, in: g)
    g.parameterBinder = nil
    errReal = try g.apply(.bceWithLogits(samples: b, count: 1), [logitReal, ones], outputShapes: [[b]], name: "errD_real")[0]
    errFake = try g.apply(.bceWithLogits(samples: b, count: 1), [logitFake, zeros], outputShapes: [[b]], name: "errD_fake")[0]
    let dParams = trainable(D, boundD())
    let dg = try g.backward(seeds: [(errReal, seedMean), (errFake, seedMean)], wrt: Array(dParams.values))
    var gradsD: [String: Value] = [:]
    for (name, v) in dParams { gradsD[name] = dg[v]!; g.output(dg[v]!) }
    self.gradsD = gradsD
    try D.adamUpdate(in: g, parameters: dParams, gradients: gradsD, hyper: g.external(hyper, name: "adam_hyper"),
                     beta1: config.beta1, beta2: config.beta2)
    // G step through the updated D: fresh bindings read D's tensors after the in-place update.
    D.bind(g)
    logitG = try dLayers(fake, in: g)
    g.parameterBinder = nil
    errG = try g.apply(.bceWithLogits(samples: b, count: 1), [logitG, ones], outputShapes: [[b]], name: "errG")[0]
    let gParams = trainable(G, boundG())
    let gg = try g.backward(seeds: [(errG, seedMean)], wrt: Array(gParams.values))
    var gradsG: [String: Value] = [:]
    for (name, v) in gParams { gradsG[name] = gg[v]!; g.output(gg[v]!) }
    self.gradsG = gradsG
    for v in [errReal, errFake, logitReal, logitFake, errG, logitG] { g.output(v) }
    plan = try g.compile(on: device)
  }

  public func mean(_ v: [Float]) -> Float { v.reduce(0, +) / Float(max(1, v.count)) }
  func sigmoidMean(_ v: [Float]) -> Float { mean(v.map { 1 / (1 + exp(-$0)) }) }

  /// One training step on a real batch [batch, 3, 64, 64] in [-1, 1].
  @discardableResult
  public func train(real batch: [Float]) throws -> Stats {
    let b = config.batch
    step += 1
    let zv = (0..<(b * nz)).map { _ in rng.nextGaussian() }
    try ParameterStore.writeAdamHyper(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                                      device: device, hyper: hyper)
    try plan.set(real, batch)
    try plan.set(z, zv)
    try plan.run()
    try G.adamStep(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                   gradients: gradsG.mapValues { plan.tensor($0) }, hyper: hyper)
    let lossD = mean(try plan.read(errReal)) + mean(try plan.read(errFake))
    return Stats(lossD: lossD, lossG: mean(try plan.read(errG)), dReal: sigmoidMean(try plan.read(logitReal)),
                 dFake: sigmoidMean(try plan.read(logitFake)), dFakeAfter: sigmoidMean(try plan.read(logitG)))
  }

  // MARK: - Checkpoints

  /// G, D (prefixed "G." and "D."), both optimizers' moments, step and RNG state, as safetensors.
  public func saveCheckpoint(to url: URL) throws {
    var t: [String: HostTensor] = [:]
    for (k, v) in try G.snapshot(optimizer: true) { t["G." + k] = v }
    for (k, v) in try D.snapshot(optimizer: true) { t["D." + k] = v }
    try SafeTensors.write(t, metadata: ["format": "mend-dcgan-checkpoint", "step": "\(step)", "rng": "\(rng.state)",
                                        "batch": "\(config.batch)", "lr": "\(config.lr)"], to: url)
  }

  public func loadCheckpoint(_ url: URL) throws {
    let (t, meta) = try SafeTensors.read(url)
    guard meta["format"] == "mend-dcgan-checkpoint", let s = meta["step"].flatMap(Int.init),
          let r = meta["rng"].flatMap(UInt64.init) else {
      throw WeightsError("\(url.lastPathComponent): not a mend DCGAN checkpoint")
    }
    func strip(_ p: String) -> [String: HostTensor] {
      Dictionary(uniqueKeysWithValues: t.filter { $0.key.hasPrefix(p) }.map { (String($0.key.dropFirst(p.count)), $0.value) })
    }
    try G.restore(strip("G."))
    try D.restore(strip("D."))
    step = s
    rng.state = r
  }

  /// Writes one model's weights (no optimizer state) in the shipping format.
  public static func exportWeights(_ store: ParameterStore, to url: URL, metadata: [String: String]) throws {
    try SafeTensors.write(try store.snapshot(), metadata: metadata, to: url)
  }
}
