import Compute
import Foundation
import Imaging
import Models
import SuperResolution

/// A whole SRResNet / SRGAN training run as `mend train srgan` does it: random HR crops of a
/// folder of photos, checkpoints with a sample picture and an optional validation PSNR, a CSV log,
/// resume, and the final weight files.
///
/// Writes into `options.output`: `checkpoint.safetensors` (the networks, their Adam moments, the
/// step and the data-RNG state) every `checkpointEvery` steps and at the end,
/// `samples-STEP.png` at each checkpoint (bicubic | model | original on a 128×128 centre crop of
/// the first validation photo, else of the first training photo), `log.csv`, and
/// `srresnet.safetensors` (stage 1) or `srgan.safetensors` and `discriminator.safetensors`
/// (stage 2) in the weight-file format.
public final class SRTrainingRun {
  /// What to train on and how long.
  public struct Options: Sendable {
    /// Output folder (created if missing).
    public var output: URL
    /// Training photos, each at least `config.crop` on both sides.
    public var images: [Image]
    /// Held-out photos: PSNR (Y, border 4) of a 4× round trip at each checkpoint.
    public var validation: [Image] = []
    /// Batch, crop, learning rate, adversarial weight and content loss.
    public var config = SRTrainer.Config()
    /// Total steps, resumed ones included.
    public var steps = 200
    public var checkpointEvery = 50
    public var seed: UInt64 = 0
    /// Continue from `output/checkpoint.safetensors`.
    public var resume = false

    public init(output: URL, images: [Image]) {
      self.output = output
      self.images = images
    }
  }

  public let options: Options
  public let trainer: SRTrainer
  public let device: Device
  private var rng: SplitMix64
  private let log: FileHandle
  private let sampleHR: Image, sampleLR: Image

  public var checkpointURL: URL { options.output.appendingPathComponent("checkpoint.safetensors") }

  /// Builds the trainer from `weights` (SRResNet) and, for stage 2, `discriminator`; restores the
  /// checkpoint when resuming; opens the log.
  public init(options o: Options, weights: WeightSet, discriminator: WeightSet? = nil, device: Device) throws {
    guard !o.images.isEmpty else { throw ComputeError.invalidArgument("train srgan: no training images") }
    guard o.steps >= 1, o.checkpointEvery >= 1 else {
      throw ComputeError.invalidArgument("train srgan: steps and checkpointEvery must be at least 1")
    }
    options = o
    self.device = device
    trainer = try SRTrainer(weights: weights, discriminator: discriminator, device: device, config: o.config)
    try FileManager.default.createDirectory(at: o.output, withIntermediateDirectories: true)
    rng = SplitMix64(seed: o.seed)
    if o.resume { rng.state = try trainer.loadCheckpoint(o.output.appendingPathComponent("checkpoint.safetensors")) }
    log = try TrainingLog.open(in: o.output, header: "step,content,adversarial,loss_d,d_real,d_fake,val_psnr_y", resume: o.resume)
    // The sample picture: a fixed centre crop of at most 128×128 (bicubic | model | original).
    let source = o.validation.first ?? o.images[0]
    let side = min(128, source.width, source.height) / 4 * 4
    sampleHR = source.crop(x: (source.width - side) / 2, y: (source.height - side) / 2, width: side, height: side)
    sampleLR = Resize.resize(sampleHR, width: side / 4, height: side / 4, filter: .bicubic).clamped()
  }

  /// Trains until `options.steps` or until `shouldStop` returns true (checked before each step),
  /// then saves a checkpoint and the weight files. On a fresh run it first writes
  /// `samples-000000.png` and, with validation photos, logs the PSNR before training and passes it
  /// to `initialPSNR`. `progress(stepsDone, stepsTotal, stats, validationPSNR)` runs after every
  /// step; the PSNR is there on checkpoint steps with validation photos. Returns whether it was
  /// stopped early.
  @discardableResult
  public func run(shouldStop: () -> Bool = { false }, initialPSNR: (Double) -> Void = { _ in },
                  progress: (Int, Int, SRTrainer.Stats, Double?) -> Void = { _, _, _, _ in }) throws -> Bool {
    let o = options
    if trainer.step == 0, let p = try validate() {
      log.write(Data("0,,,,,,\(String(format: "%.3f", p))\n".utf8))
      initialPSNR(p)
    }
    let start = trainer.step
    var stopped = false
    while trainer.step < o.steps {
      if shouldStop() { stopped = true; break }
      let (l, h) = SRTrainer.batch(from: o.images, count: o.config.batch, crop: o.config.crop, rng: &rng)
      let st = try trainer.train(lr: l, hr: h)
      var psnr: Double?
      if trainer.step % o.checkpointEvery == 0 || trainer.step == o.steps {
        try trainer.saveCheckpoint(to: checkpointURL, rngState: rng.state)
        psnr = try validate()
      }
      let psnrText = psnr.map { String(format: "%.3f", $0) } ?? ""
      log.write(Data("\(trainer.step),\(st.content),\(st.adversarial),\(st.lossD),\(st.dReal),\(st.dFake),\(psnrText)\n".utf8))
      progress(trainer.step - start, o.steps - start, st, psnr)
    }
    try trainer.saveCheckpoint(to: checkpointURL, rngState: rng.state)
    let stage = trainer.stage
    try SafeTensors.write(
      try trainer.store.snapshot(),
      metadata: trainer.store.metadata.merging(["source": "mend train srgan stage \(stage)", "steps": "\(trainer.step)"]) { $1 },
      to: o.output.appendingPathComponent(stage == 1 ? "srresnet.safetensors" : "srgan.safetensors"))
    if let d = trainer.discriminator {
      try SafeTensors.write(
        try d.snapshot(),
        metadata: d.metadata.merging(["source": "mend train srgan stage 2", "steps": "\(trainer.step)"]) { $1 },
        to: o.output.appendingPathComponent("discriminator.safetensors"))
    }
    return stopped
  }

  /// Writes the sample picture for the current step and returns the mean validation PSNR (Y,
  /// border 4) of the current weights over centre crops of at most 256×256; nil without
  /// validation photos.
  public func validate() throws -> Double? {
    try writeSample()
    guard !options.validation.isEmpty else { return nil }
    let up = try Upscaler(model: try SRResNet(weights: try trainer.store.weightSet), device: device)
    var total = 0.0
    for hr0 in options.validation {
      let w = min(256, hr0.width) / 4 * 4, h = min(256, hr0.height) / 4 * 4
      let hr = hr0.crop(x: (hr0.width - w) / 2, y: (hr0.height - h) / 2, width: w, height: h)
      let lr = Resize.resize(hr, width: w / 4, height: h / 4, filter: .bicubic).clamped()
      total += Metrics.psnrY(try up.upscale(lr).clamped(), hr)
    }
    return total / Double(options.validation.count)
  }

  /// `samples-STEP.png`: bicubic | model | original.
  func writeSample() throws {
    let side = sampleHR.width
    let up = try Upscaler(model: try SRResNet(weights: try trainer.store.weightSet), device: device)
    let row = Image.row([Resize.resize(sampleLR, width: side, height: side, filter: .bicubic).clamped(),
                         try up.upscale(sampleLR).clamped(), sampleHR])
    try PNG.write(row, to: options.output.appendingPathComponent(String(format: "samples-%06d.png", trainer.step)))
  }
}
