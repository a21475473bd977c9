import Compute
import Foundation
import Graph
import Imaging
import Models

/// Settings of the second stage, generator tuning (beyond Yeh et al.; after Deep Generative Prior,
/// Pan et al. 2020, and Pivotal Tuning, Roich et al. 2021): with ẑ from the latent search held as
/// the pivot, G's weights (and optionally z) are fine-tuned on the same weighted contextual loss
/// plus λ·prior, with a pull μ/2·‖θ − θ₀‖² towards the pretrained weights θ₀.
/// Defaults are chosen by measurement (docs/inpainting-eval.md).
public struct GeneratorTuning: Sendable {
  /// Adam steps on the weights; 0 turns the stage off.
  public var steps = 0
  /// Adam learning rate on G's (batch-norm-folded) convolution weights and biases. Larger rates
  /// (1e-5 and up) fit the known pixels and damage the hole on real faces (docs/inpainting-eval.md).
  public var learningRate: Float = 3e-6
  /// Adam learning rate on z during tuning (0: z stays at the pivot).
  public var latentLearningRate: Float = 0
  /// μ of the pull μ/2·Σ(θ − θ₀)² towards the pretrained weights (0: none).
  public var pull: Float = 0
  public enum Schedule: String, Sendable, CaseIterable {
    /// Every tuned layer trains from step 1.
    case allLayers = "all"
    /// Progressive from the image side back towards z: the layer nearest the image trains from
    /// step 1, and the next one joins every steps/layerCount steps.
    case fromImage = "image"
    /// Progressive from z towards the image (DGP's order: coarse structure first).
    case fromLatent = "latent"
  }
  public var schedule = Schedule.fromImage
  /// How many of the generator's 5 layers ever train, counted from where the schedule starts
  /// (for `allLayers`, from z).
  public var layerCount = 5
  public var progressive: Bool {
    get { schedule != .allLayers }
    set { schedule = newValue ? .fromImage : .allLayers }
  }

  public init() {}
}

/// Fine-tunes a copy of the generator's weights for one image at a time (batch 1): the forward
/// pass, the loss, the backward pass to every tuned weight (and z) and the loss terms are one
/// compiled plan; the Adam updates are device ops on tensors made once. A step allocates no device
/// memory and no host memory. The weights are those of the inference graph: each batch norm is
/// folded into the transposed convolution before it (scale into the weight, shift into a bias), so
/// tuning the folded weight and bias covers the convolution and the batch norm's affine map.
public final class GeneratorTuner {
  public let config: InpaintConfig
  public var tuning: GeneratorTuning { config.tuning }
  public let device: Device
  public let plan: Plan
  public let z: Value, generated: Value, target: Value, weights: Value, contextual: Value
  public let priorValue: Value?
  let gaussValue: Value?
  /// One tuned tensor: its value (read by the plan), pretrained copy, Adam moments and gradient.
  public struct Parameter {
    public let name: String
    /// 0 = the layer nearest z … layers − 1 = the layer nearest the image.
    public let layer: Int
    public let value: Value, initial: TensorRef, gradient: Value
    let m: TensorRef, v: TensorRef
    let regulariser: Value?
    public let count: Int
  }
  public private(set) var parameters: [Parameter] = []
  public let layers: Int
  let nz: Int
  let dz: Value?
  /// d(total)/dz (nil when z is not tuned).
  public var latentGradient: Value? { dz }
  let zM: TensorRef, zV: TensorRef
  /// Per-layer Adam corrections (each layer counts its own steps from when it joins) and z's.
  let layerHyper: [TensorRef], zHyper: TensorRef
  private var hyperValues: [Float] = [0, 0]
  private let zeros: [Float]
  private let adamSteps: [(layer: Int, op: Op, inputs: [TensorRef], outputs: [TensorRef])]
  private let resetSteps: [(op: Op, inputs: [TensorRef], outputs: [TensorRef])]
  private let zAdam: (op: Op, inputs: [TensorRef], outputs: [TensorRef])?

  /// `discriminator` must be built with `logits: true` (nil: contextual loss only).
  public init(generator: DCGANGenerator, discriminator: DCGANDiscriminator?, device: Device,
              config: InpaintConfig) throws {
    guard config.tuning.steps >= 0, config.tuning.learningRate >= 0, config.tuning.latentLearningRate >= 0,
          config.tuning.pull >= 0, config.window % 2 == 1 else {
      throw ComputeError.invalidArgument("tune generator: steps, rates and pull must be ≥ 0 and the window odd")
    }
    self.config = config
    self.device = device
    nz = generator.nz
    let g = Graph()
    z = g.input([1, nz, 1, 1], name: "z")
    // Every generator weight becomes device memory this class owns, initialised with the folded
    // pretrained value the layer asks for.
    var made: [(name: String, value: Value, initial: TensorRef, shape: [Int])] = []
    g.parameterBinder = { name, shape, data in
      let t = try device.tensor(data, shape: shape), t0 = try device.tensor(data, shape: shape)
      let v = g.external(t, name: name)
      made.append((name, v, t0, shape))
      return v
    }
    let fused = generator.layers.fusedForInference()
    generated = try fused(z, in: g)
    g.parameterBinder = nil
    let layerOf: [String: Int] = Dictionary(uniqueKeysWithValues: (0..<5).map { ("main.\($0 * 3)", $0) })
    layers = 5
    let shape = g.shape(generated)
    let per = shape.dropFirst().reduce(1, *)
    target = g.input(shape, name: "target")
    weights = g.input(shape, name: "importance")
    contextual = try g.apply(.weightedL1(samples: 1, count: per), [generated, target, weights],
                             outputShapes: [[1]], name: "contextual")[0]
    var seeds: [(value: Value, seed: Value)] = [(contextual, g.parameter([1], shape: [1]))]
    if let d = discriminator {
      let logit = try d.layers.fusedForInference()(generated, in: g)
      let t: Float = config.prior == .logOneMinusD ? 0 : 1
      let bce = try g.apply(.bceWithLogits(samples: 1, count: 1), [logit, g.parameter([t], shape: [1])],
                            outputShapes: [[1]], name: "prior")[0]
      let sign: Float = config.prior == .logOneMinusD ? -1 : 1
      seeds.append((bce, g.parameter([sign * config.lambda], shape: [1])))
      priorValue = bce
      g.output(bce)
    } else {
      priorValue = nil
    }
    let tuneZ = config.tuning.latentLearningRate > 0
    if tuneZ && config.gaussianPrior > 0 {
      let sq = try g.apply(.mse(samples: 1, count: nz), [z, g.parameter([Float](repeating: 0, count: nz), shape: [1, nz, 1, 1])],
                           outputShapes: [[1]], name: "gaussian")[0]
      seeds.append((sq, g.parameter([config.gaussianPrior * Float(nz) / 2], shape: [1])))
      gaussValue = sq
      g.output(sq)
    } else {
      gaussValue = nil
    }
    // The pull: μ/2·Σ(θ − θ₀)² = μ·n/2 · mean((θ − θ₀)²) per tensor.
    var regs: [Value?] = []
    for p in made {
      let n = p.shape.reduce(1, *)
      guard config.tuning.pull > 0 else { regs.append(nil); continue }
      let r = try g.apply(.mse(samples: 1, count: n), [p.value, g.external(p.initial, name: "\(p.name).pretrained")],
                          outputShapes: [[1]], name: "\(p.name).pull")[0]
      seeds.append((r, g.parameter([config.tuning.pull * Float(n) / 2], shape: [1])))
      g.output(r)
      regs.append(r)
    }
    let grads = try g.backward(seeds: seeds, wrt: made.map(\.value) + (tuneZ ? [z] : []))
    dz = tuneZ ? grads[z]! : nil
    if let dz { g.output(dz) }
    for p in made { g.output(grads[p.value]!) }
    g.output(generated)
    g.output(contextual)
    plan = try g.compile(on: device)

    var params: [Parameter] = []
    for (p, r) in zip(made, regs) {
      let layerName = p.name.split(separator: ".").prefix(2).joined(separator: ".")
      guard let l = layerOf[layerName] else { throw ComputeError.invalidArgument("tune generator: unexpected parameter \(p.name)") }
      let m = try device.zeros(p.shape), v = try device.zeros(p.shape)
      params.append(Parameter(name: p.name, layer: l, value: p.value, initial: p.initial, gradient: grads[p.value]!,
                              m: m, v: v, regulariser: r, count: p.shape.reduce(1, *)))
    }
    parameters = params
    zeros = [Float](repeating: 0, count: params.map(\.count).max() ?? 1)
    layerHyper = try (0..<layers).map { _ in try device.zeros([2]) }
    zHyper = try device.zeros([2])
    zM = try device.zeros([nz])
    zV = try device.zeros([nz])
    let c = config, pl = plan, hy = layerHyper, (zt, zm, zv, zh) = (z, zM, zV, zHyper)
    adamSteps = params.map { p in
      (p.layer, Op.adam(count: p.count, beta1: c.beta1, beta2: c.beta2, limit: .infinity),
       [pl.tensor(p.value), pl.tensor(p.gradient), p.m, p.v, hy[p.layer]], [pl.tensor(p.value), p.m, p.v])
    }
    resetSteps = params.map { p in (Op.scale(count: p.count, alpha: 1, beta: 0), [p.initial], [pl.tensor(p.value)]) }
    if let dz {
      zAdam = (Op.adam(count: nz, beta1: c.beta1, beta2: c.beta2, limit: c.zLimit), [pl.tensor(zt), pl.tensor(dz), zm, zv, zh],
               [pl.tensor(zt), zm, zv])
    } else {
      zAdam = nil
    }
  }

  public var memorySummary: String { plan.memorySummary }

  /// The step (1-based) at which `layer` starts to train.
  public func firstStep(ofLayer layer: Int) -> Int {
    let n = max(1, min(layers, tuning.layerCount))
    let idx = tuning.schedule == .fromImage ? layers - 1 - layer : layer
    guard idx < n else { return Int.max }
    return tuning.schedule == .allLayers ? 1 : 1 + idx * tuning.steps / n
  }

  /// Resets the weights to the pretrained ones and the optimiser state, and loads one image.
  public func prepare(_ image: Image, mask: Mask, latent: [Float]) throws {
    let shape = plan.graph.shape(generated)
    let (c, h, w) = (shape[1], shape[2], shape[3])
    guard image.width == w, image.height == h, image.channels == c, latent.count == nz else {
      throw ComputeError.invalidArgument("tune generator: needs a \(w)×\(h) image with \(c) channels and a latent of \(nz)")
    }
    try mask.validate(for: image)
    let wi = ImportanceWeights.compute(mask, window: config.window)
    try plan.set(target, image.signed)
    try plan.set(weights, Array((0..<c).map { _ in wi }.joined()))
    try plan.set(z, latent)
    for s in resetSteps { try device.run(s.op, inputs: s.inputs, outputs: s.outputs) }
    for p in parameters {
      try zeros.withUnsafeBytes { b in
        let part = UnsafeRawBufferPointer(rebasing: b[0..<(p.count * 4)])
        try device.write(part, to: p.m)
        try device.write(part, to: p.v)
      }
    }
    try device.write([Float](repeating: 0, count: nz), to: zM)
    try device.write([Float](repeating: 0, count: nz), to: zV)
  }

  /// One tuning step t ≥ 1: forward, losses, backward to the weights (and z), Adam on every layer
  /// that has joined. Only the Adam scalars are written from the host.
  public func step(_ t: Int) throws {
    try plan.run()
    for l in 0..<layers {
      let first = firstStep(ofLayer: l)
      guard t >= first else { continue }
      try writeHyper(step: t - first + 1, lr: tuning.learningRate, to: layerHyper[l])
    }
    for s in adamSteps where t >= firstStep(ofLayer: s.layer) {
      try device.run(s.op, inputs: s.inputs, outputs: s.outputs)
    }
    if let a = zAdam {
      try writeHyper(step: t, lr: tuning.latentLearningRate, to: zHyper)
      try device.run(a.op, inputs: a.inputs, outputs: a.outputs)
    }
  }

  private func writeHyper(step t: Int, lr: Float, to hyper: TensorRef) throws {
    let b1t = 1 - pow(config.beta1, Float(t)), b2t = 1 - pow(config.beta2, Float(t))
    hyperValues[0] = lr * b2t.squareRoot() / b1t
    hyperValues[1] = config.eps * b2t.squareRoot()
    try hyperValues.withUnsafeBytes { try device.write($0, to: hyper) }
  }

  /// The losses at the current weights after the last `plan.run()`: contextual, prior (as in the
  /// total: log(1 − D) or −log D), the pull μ/2·‖θ − θ₀‖², and total = ctx + λ·prior + pull
  /// (+ the Gaussian term when z is tuned with one).
  public func losses() throws -> (ctx: Float, prior: Float, pull: Float, total: Float) {
    let ctx = try plan.read(contextual)[0]
    var prior: Float = 0
    if let p = priorValue {
      let bce = try plan.read(p)[0]
      prior = config.prior == .logOneMinusD ? -bce : bce
    }
    var pull: Float = 0
    for p in parameters { if let r = p.regulariser { pull += tuning.pull * Float(p.count) / 2 * (try plan.read(r)[0]) } }
    var total = ctx + config.lambda * prior + pull
    if let gv = gaussValue { total += config.gaussianPrior * Float(nz) / 2 * (try plan.read(gv)[0]) }
    return (ctx, prior, pull, total)
  }

  /// Tunes for `tuning.steps` steps from the pretrained weights and `latent`; returns G(z) with
  /// the tuned weights ([0, 1]), the final latent and the losses there.
  public func tune(_ image: Image, mask: Mask, latent: [Float]) throws
    -> (generated: Image, latent: [Float], ctx: Float, prior: Float, pull: Float, total: Float) {
    try prepare(image, mask: mask, latent: latent)
    for t in stride(from: 1, through: tuning.steps, by: 1) { try step(t) }
    try plan.run()
    let l = try losses()
    let shape = plan.graph.shape(generated)
    let out = Image.fromSigned(try plan.read(generated), width: shape[3], height: shape[2], channels: shape[1])
    return (out, try plan.read(z), l.ctx, l.prior, l.pull, l.total)
  }
}
