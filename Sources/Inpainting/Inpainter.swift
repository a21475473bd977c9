import Compute
import Foundation
import Graph
import Imaging
import Models

/// Settings of the latent optimisation (defaults documented in the README and `mend inpaint --help`).
public struct InpaintConfig: Sendable {
  public enum Prior: String, Sendable, CaseIterable {
    /// λ·log(1 − D(G(z))), as in Yeh et al.
    case logOneMinusD = "log1md"
    /// λ·(−log D(G(z))), the non-saturating form.
    case nonSaturating = "nonsat"
  }

  public var iterations = 1000
  /// Latents optimised together per image; the best by total loss wins.
  public var starts = 8
  /// The result is the mean of G(ẑ) over this many of the best starts by total loss (all of them
  /// when there are fewer starts); 1 is the paper's single best start. Averaging the best few
  /// fills estimates the posterior mean: it removes most of the which-start-wins noise at the
  /// cost of some sharpness. The default, 4 of 8, was chosen on the CelebA tuning split
  /// (docs/inpainting-eval.md). With generator tuning, the tuned generator's output for the best
  /// start replaces it.
  public var average = 4
  public var lambda: Float = 0.1
  public var prior: Prior = .logOneMinusD
  /// Importance-weight window (odd).
  public var window = 7
  public var learningRate: Float = 0.03
  public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
  /// z is clamped to [−zLimit, zLimit] after every step (the generator was trained on N(0, 1)).
  public var zLimit: Float = 3
  /// Weight γ of a Gaussian prior γ/2·‖z‖² (0 turns it off).
  public var gaussianPrior: Float = 0
  public var seed: UInt64 = 0
  /// Read the losses back every this many iterations (for progress and logs).
  public var logEvery = 25
  /// Second stage after the latent search: fine-tune G's weights on the same loss (off when
  /// `tuning.steps` is 0). See `GeneratorTuner`.
  public var tuning = GeneratorTuning()

  public init() {}
}

/// One image's outcome.
public struct InpaintResult: Sendable {
  /// G(ẑ) for the best start, or the mean over `InpaintConfig.average` best starts, [0, 1], in
  /// gray when the input's known pixels are gray (with generator tuning: the tuned generator's G(ẑ)).
  public var generated: Image
  /// Every start's G(ẑ), [0, 1] (gray for a gray input), best total loss first (`generated` without tuning is the mean of
  /// the first `InpaintConfig.average`; the latent and losses above are the first one's).
  public var candidates: [Image] = []
  /// The latent search's ẑ (with generator tuning: the pivot the tuning started from).
  public let latent: [Float]
  public let contextualLoss: Float
  public let priorLoss: Float
  public let totalLoss: Float
  public let bestStart: Int
  /// The winning start's total loss at its starting latent (before the first step); equals
  /// `totalLoss` when there are no iterations.
  public let initialTotalLoss: Float
  /// With generator tuning: G(ẑ) before tuning (`generated` is then the tuned generator's output),
  /// and the tuned stage's losses (contextual, prior, pull towards the pretrained weights).
  public var untunedGenerated: Image? = nil
  public var tunedLosses: (ctx: Float, prior: Float, pull: Float)? = nil
}

/// Semantic inpainting (Yeh et al. 2016): find ẑ = argmin_z ‖W⊙(G(z) − y)‖₁ + λ·prior(D(G(z))) by
/// backpropagating to z with Adam, for several images and several starting latents per image in
/// one batch. The forward and backward graph is compiled once; the loop replays it with no
/// device-memory allocations and copies back only the per-sample losses every `logEvery` iterations.
public final class Inpainter {
  public let config: InpaintConfig
  public let device: Device
  public let images: Int
  public let batch: Int
  let nz: Int
  public let plan: Plan
  public let z: Value, dz: Value, generated: Value, target: Value, weights: Value
  let contextual: Value
  let priorValue: Value?
  let gaussValue: Value?
  let m: TensorRef, v: TensorRef
  /// Adam's two per-step scalars (`Adam.hyper`) for steps 1 … iterations, written once per `run`:
  /// step t points the Adam op at its pair, so no iteration writes from the host or waits for it.
  let hyperTable: TensorRef
  private var hyperTableWritten = false
  /// A pair written from the host, for steps outside the table (`step` called directly).
  let hyperSpare: TensorRef
  private let hyperShape = [2]
  /// The Adam step's operands, made once: an iteration allocates nothing on the host.
  private var adamInputs: [TensorRef]
  private let adamOutputs: [TensorRef]
  private var hyperValues: [Float] = [0, 0]
  /// The second stage (nil when `config.tuning.steps` is 0).
  public let tuner: GeneratorTuner?
  /// Wall-clock seconds of the last `run`: the latent search (all images together) and the
  /// generator tuning (all images, one after another).
  public private(set) var lastTimings: (search: Double, tuning: Double) = (0, 0)

  /// `discriminator` must be built with `logits: true`; nil means the contextual loss only (plus
  /// the Gaussian prior when `config.gaussianPrior > 0`).
  public init(generator: DCGANGenerator, discriminator: DCGANDiscriminator?, device: Device, images: Int,
              config: InpaintConfig) throws {
    guard images > 0, config.starts > 0, config.iterations >= 0, config.window % 2 == 1, config.window > 0 else {
      throw ComputeError.invalidArgument("inpaint: need images ≥ 1, starts ≥ 1, iterations ≥ 0 and an odd window")
    }
    guard config.average >= 1 else { throw ComputeError.invalidArgument("inpaint: average must be ≥ 1, got \(config.average)") }
    self.config = config
    self.device = device
    self.images = images
    batch = images * config.starts
    nz = generator.nz
    let g = Graph()
    z = g.input([batch, nz, 1, 1], name: "z")
    generated = try generator.layers.fusedForInference()(z, in: g)
    let shape = g.shape(generated)
    let per = shape.dropFirst().reduce(1, *)
    target = g.input(shape, name: "target")
    weights = g.input(shape, name: "importance")
    contextual = try g.apply(.weightedL1(samples: batch, count: per), [generated, target, weights],
                             outputShapes: [[batch]], name: "contextual")[0]
    var seeds: [(value: Value, seed: Value)] = [(contextual, g.parameter([Float](repeating: 1, count: batch), shape: [batch]))]
    if let d = discriminator {
      let logit = try d.layers.fusedForInference()(generated, in: g)
      let t: Float = config.prior == .logOneMinusD ? 0 : 1
      let bce = try g.apply(.bceWithLogits(samples: batch, count: 1),
                            [logit, g.parameter([Float](repeating: t, count: batch), shape: [batch])],
                            outputShapes: [[batch]], name: "prior")[0]
      // log(1 − D) = −BCE(l, 0); −log D = +BCE(l, 1).
      let sign: Float = config.prior == .logOneMinusD ? -1 : 1
      seeds.append((bce, g.parameter([Float](repeating: sign * config.lambda, count: batch), shape: [batch])))
      priorValue = bce
      g.output(bce)
    } else {
      priorValue = nil
    }
    if config.gaussianPrior > 0 {
      // mean(z²) per sample; seed γ·nz/2 makes its gradient γ·z.
      let sq = try g.apply(.mse(samples: batch, count: nz), [z, g.parameter([Float](repeating: 0, count: batch * nz),
                                                                            shape: [batch, nz, 1, 1])],
                           outputShapes: [[batch]], name: "gaussian")[0]
      seeds.append((sq, g.parameter([Float](repeating: config.gaussianPrior * Float(nz) / 2, count: batch), shape: [batch])))
      gaussValue = sq
      g.output(sq)
    } else {
      gaussValue = nil
    }
    dz = try g.backward(seeds: seeds, wrt: [z])[z]!
    g.output(generated)
    g.output(contextual)
    g.output(dz)
    plan = try g.compile(on: device)
    m = try device.zeros([batch * nz])
    v = try device.zeros([batch * nz])
    hyperTable = try device.zeros([2 * max(1, config.iterations)])
    hyperSpare = try device.zeros([2])
    adamInputs = [plan.tensor(z), plan.tensor(dz), m, v, hyperSpare]
    adamOutputs = [plan.tensor(z), m, v]
    tuner = config.tuning.steps > 0
      ? try GeneratorTuner(generator: generator, discriminator: discriminator, device: device, config: config) : nil
  }

  public var memorySummary: String { plan.memorySummary }

  /// Inpaints `images` (64×64, [0, 1]) with their `masks`. `progress(iteration, losses)` reports the
  /// best total loss per image every `logEvery` iterations and at the end.
  public func run(_ inputs: [Image], masks: [Mask], progress: (Int, [Float]) -> Void = { _, _ in }) throws -> [InpaintResult] {
    guard inputs.count == images, masks.count == images else {
      throw ComputeError.invalidArgument("inpaint: \(inputs.count) images and \(masks.count) masks for a plan of \(images)")
    }
    let k = config.starts
    let shape = plan.graph.shape(generated)
    let (c, h, w) = (shape[1], shape[2], shape[3])
    var y: [Float] = [], wt: [Float] = []
    for (im, mask) in zip(inputs, masks) {
      guard im.width == w, im.height == h, im.channels == c else {
        throw ComputeError.invalidArgument("inpaint: images must be \(w)×\(h) with \(c) channels, got \(im.width)×\(im.height)")
      }
      try mask.validate(for: im)
      let wi = ImportanceWeights.compute(mask, window: config.window)
      let ys = im.signed
      for _ in 0..<k {
        y += ys
        for _ in 0..<c { wt += wi }
      }
    }
    try plan.set(target, y)
    try plan.set(weights, wt)
    let t0 = Date()
    // Every image's starts are the latents it would get alone (the same seed for each), so a
    // folder run batched through one plan starts each image where a single run would.
    var z0: [Float] = []
    z0.reserveCapacity(batch * nz)
    for _ in 0..<images {
      var rng = SplitMix64(seed: config.seed)
      for _ in 0..<(config.starts * nz) { z0.append(min(config.zLimit, max(-config.zLimit, rng.nextGaussian()))) }
    }
    try plan.set(z, z0)
    try device.write([Float](repeating: 0, count: batch * nz), to: m)
    try device.write([Float](repeating: 0, count: batch * nz), to: v)
    var table = [Float](repeating: 0, count: hyperTable.count)
    for t in 1...max(1, config.iterations) {
      let h = Adam.hyper(step: t, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2,
                         eps: config.eps)
      table[2 * (t - 1)] = h.alpha
      table[2 * (t - 1) + 1] = h.eps
    }
    try device.write(table, to: hyperTable)
    hyperTableWritten = true
    defer { hyperTableWritten = false }
    var initial: [Float]? = nil
    for t in 1...max(1, config.iterations) where config.iterations > 0 {
      try step(t)
      // Step 1's forward pass ran at the starting latents: its losses are the initial ones.
      if t == 1 { initial = try sampleLosses().total }
      if t % config.logEvery == 0 && t < config.iterations { progress(t, try bestLosses().map(\.total)) }
    }
    // Evaluate at the final latents.
    try plan.run()
    let best = try bestLosses()
    progress(config.iterations, best.map(\.total))
    let gen = try plan.read(generated), zs = try plan.read(z)
    let total = try sampleLosses().total
    let per = c * h * w
    var results = best.enumerated().map { i, b in
      let s = i * k + b.start
      // Best first; ties keep the start order, so the first is `b.start`.
      let order = (0..<k).sorted { (total[i * k + $0], $0) < (total[i * k + $1], $1) }
      // The generator draws colour faces; a gray photo's hole is filled in gray.
      let gray = inputs[i].isGray(where: { !masks[i].missing[$0] })
      let candidates = order.map { j in
        let g = Image.fromSigned(Array(gen[((i * k + j) * per)..<((i * k + j + 1) * per)]), width: w, height: h, channels: c)
        return gray ? g.grayscaled() : g
      }
      var r = InpaintResult(generated: Self.mean(candidates.prefix(max(1, config.average))),
                            latent: Array(zs[(s * nz)..<((s + 1) * nz)]), contextualLoss: b.ctx, priorLoss: b.prior,
                            totalLoss: b.total, bestStart: b.start, initialTotalLoss: initial?[s] ?? b.total)
      r.candidates = candidates
      return r
    }
    let t1 = Date()
    if let tuner {
      // The winning latent is the pivot; each image tunes its own copy of G from the pretrained weights.
      for i in results.indices {
        let t = try tuner.tune(inputs[i], mask: masks[i], latent: results[i].latent)
        results[i].untunedGenerated = results[i].generated
        results[i].generated = inputs[i].isGray(where: { !masks[i].missing[$0] }) ? t.generated.grayscaled() : t.generated
        results[i].tunedLosses = (t.ctx, t.prior, t.pull)
      }
    }
    lastTimings = (t1.timeIntervalSince(t0), Date().timeIntervalSince(t1))
    return results
  }

  /// The pixel-wise mean of images of one size.
  public static func mean<C: Collection>(_ images: C) -> Image where C.Element == Image {
    var out = images.first!
    guard images.count > 1 else { return out }
    for im in images.dropFirst() { for i in out.data.indices { out.data[i] += im.data[i] } }
    let scale = 1 / Float(images.count)
    for i in out.data.indices { out.data[i] *= scale }
    return out
  }

  /// One iteration t ≥ 1: forward G and D, losses, backward to z, and an Adam step on z — all on
  /// the device. Inside `run` the step's Adam scalars come from the table written at its start;
  /// called on its own, the two scalars for step t are written from the host.
  public func step(_ t: Int) throws {
    try plan.run()
    if hyperTableWritten && t >= 1 && 2 * t <= hyperTable.count {
      adamInputs[4] = TensorRef(buffer: hyperTable.buffer, offset: hyperTable.offset + 8 * (t - 1), shape: hyperShape)
    } else {
      let h = Adam.hyper(step: t, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2,
                         eps: config.eps)
      hyperValues[0] = h.alpha
      hyperValues[1] = h.eps
      try hyperValues.withUnsafeBytes { try device.write($0, to: hyperSpare) }
      adamInputs[4] = hyperSpare
    }
    try device.run(adamOp, inputs: adamInputs, outputs: adamOutputs)
  }

  var adamOp: Op { .adam(count: batch * nz, beta1: config.beta1, beta2: config.beta2, limit: config.zLimit) }

  /// Per-sample losses as optimised: total = contextual + λ·prior (+ Gaussian term).
  public func sampleLosses() throws -> (ctx: [Float], prior: [Float], total: [Float]) {
    let ctx = try plan.read(contextual)
    var prior = [Float](repeating: 0, count: batch)
    if let p = priorValue {
      let bce = try plan.read(p)
      prior = config.prior == .logOneMinusD ? bce.map { -$0 } : bce
    }
    var total = zip(ctx, prior).map { $0 + config.lambda * $1 }
    if let gv = gaussValue {
      let sq = try plan.read(gv)
      for i in total.indices { total[i] += config.gaussianPrior * Float(nz) / 2 * sq[i] }
    }
    return (ctx, prior, total)
  }

  func bestLosses() throws -> [(start: Int, ctx: Float, prior: Float, total: Float)] {
    let l = try sampleLosses()
    let k = config.starts
    return (0..<images).map { i in
      let r = (i * k)..<((i + 1) * k)
      let s = r.min { l.total[$0] < l.total[$1] }!
      return (s - i * k, l.ctx[s], l.prior[s], l.total[s])
    }
  }
}
