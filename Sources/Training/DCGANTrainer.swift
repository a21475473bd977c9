import Compute
import Foundation
import Graph
import Imaging
import Models
import NN

/// DCGAN training as in pytorch/examples: Adam (lr 2e-4, β1 0.5), BCE losses, training-mode batch
/// norm with running statistics, N(0, 0.02) init. Each step updates D on a real batch and a fake
/// batch, then G through the updated D.
///
/// Two compiled plans share the parameters through `ParameterStore`s: the D step (G forward,
/// D on real and fake, BCE, backward to D's parameters) and the G step (G forward, D, BCE with
/// target 1, backward to G's parameters). Neither allocates device memory after the first step.
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
  public let planD: Plan, planG: Plan
  public let realD: Value, zD: Value, zG: Value
  public let errReal: Value, errFake: Value, logitReal: Value, logitFake: Value, errG: Value, logitG: Value
  public let gradsD: [String: Value], gradsG: [String: Value]
  let hyper: TensorRef

  public init(generator: WeightSet, discriminator: WeightSet, device: Device, config: Config) throws {
    self.config = config
    self.device = device
    G = try ParameterStore(generator, device: device)
    D = try ParameterStore(discriminator, device: device)
    let gen = try DCGANGenerator(weights: generator)
    let disc = try DCGANDiscriminator(weights: discriminator, logits: true)
    nz = gen.nz
    rng = SplitMix64(seed: config.seed)
    let b = config.batch
    let gLayers = gen.layers.training(), dLayers = disc.layers.training()
    func constants(_ g: Graph, _ v: Float) -> Value {
      g.parameterBinder = nil
      return g.parameter([Float](repeating: v, count: b), shape: [b], name: "const\(v)")
    }
    func trainable(_ store: ParameterStore, _ bound: [String: Value]) -> [Value] {
      store.names.filter { store.entries[$0]!.trainable }.compactMap { bound[$0] }
    }

    // D step.
    let gd = Graph()
    let ones = constants(gd, 1), zeros = constants(gd, 0), seedMean = constants(gd, 1 / Float(b))
    realD = gd.input([b, disc.nc, 64, 64], name: "real")
    zD = gd.input([b, nz, 1, 1], name: "z")
    G.bind(gd)
    let fake = try gLayers(zD, in: gd)
    let boundD = D.bind(gd)
    logitReal = try dLayers(realD, in: gd)
    logitFake = try dLayers(fake, in: gd)
    errReal = try gd.apply(.bceWithLogits(samples: b, count: 1), [logitReal, ones], outputShapes: [[b]], name: "errD_real")[0]
    errFake = try gd.apply(.bceWithLogits(samples: b, count: 1), [logitFake, zeros], outputShapes: [[b]], name: "errD_fake")[0]
    let dParams = trainable(D, boundD())
    let gdGrads = try gd.backward(seeds: [(errReal, seedMean), (errFake, seedMean)], wrt: dParams)
    var gradsD: [String: Value] = [:]
    for (name, v) in boundD() { if let gv = gdGrads[v] { gradsD[name] = gv; gd.output(gv) } }
    self.gradsD = gradsD
    for v in [errReal, errFake, logitReal, logitFake] { gd.output(v) }
    planD = try gd.compile(on: device)

    // G step.
    let gg = Graph()
    let onesG = constants(gg, 1), seedMeanG = constants(gg, 1 / Float(b))
    zG = gg.input([b, nz, 1, 1], name: "z")
    let boundG = G.bind(gg)
    let fakeG = try gLayers(zG, in: gg)
    D.bind(gg)
    logitG = try dLayers(fakeG, in: gg)
    errG = try gg.apply(.bceWithLogits(samples: b, count: 1), [logitG, onesG], outputShapes: [[b]], name: "errG")[0]
    let ggGrads = try gg.backward(seeds: [(errG, seedMeanG)], wrt: trainable(G, boundG()))
    var gradsG: [String: Value] = [:]
    for (name, v) in boundG() { if let gv = ggGrads[v] { gradsG[name] = gv; gg.output(gv) } }
    self.gradsG = gradsG
    gg.output(errG); gg.output(logitG)
    planG = try gg.compile(on: device)
    hyper = try device.zeros([2])
  }

  public func mean(_ v: [Float]) -> Float { v.reduce(0, +) / Float(max(1, v.count)) }
  func sigmoidMean(_ v: [Float]) -> Float { mean(v.map { 1 / (1 + exp(-$0)) }) }

  /// One training step on a real batch [batch, 3, 64, 64] in [-1, 1].
  @discardableResult
  public func train(real: [Float]) throws -> Stats {
    let b = config.batch
    step += 1
    let z = (0..<(b * nz)).map { _ in rng.nextGaussian() }
    try planD.set(realD, real)
    try planD.set(zD, z)
    try planD.run()
    try D.adamStep(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                   gradients: gradsD.mapValues { planD.tensor($0) }, hyper: hyper)
    try planG.set(zG, z)
    try planG.run()
    try G.adamStep(step: step, lr: config.lr, beta1: config.beta1, beta2: config.beta2,
                   gradients: gradsG.mapValues { planG.tensor($0) }, hyper: hyper)
    let lossD = mean(try planD.read(errReal)) + mean(try planD.read(errFake))
    return Stats(lossD: lossD, lossG: mean(try planG.read(errG)), dReal: sigmoidMean(try planD.read(logitReal)),
                 dFake: sigmoidMean(try planD.read(logitFake)), dFakeAfter: sigmoidMean(try planG.read(logitG)))
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
