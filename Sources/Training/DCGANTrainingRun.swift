import Compute
import Foundation
import Graph
import Imaging
import Models

/// A whole DCGAN training run as `mend train dcgan` does it: data from images and/or a teacher
/// generator, checkpoints with sample grids, a CSV log, resume, and the final weight files.
///
/// Writes into `options.output`: `checkpoint.safetensors` (G, D, both optimizers, step) every
/// `checkpointEvery` steps and at the end, `samples-STEP.png` (16 faces from fixed noise),
/// `log.csv`, and `G.safetensors` / `D.safetensors` in the weight-file format.
public final class DCGANTrainingRun {
  /// What to train on and how long.
  public struct Options: Sendable {
    /// Output folder (created if missing).
    public var output: URL
    /// Real images (any size: centre-cropped and resized to 64×64).
    public var images: [Image] = []
    /// A teacher generator's weights: real samples drawn on the fly.
    public var teacher: URL?
    /// Start from these generator / discriminator weights (fine-tuning) instead of N(0, 0.02);
    /// their widths and latent size win over `nz`, `ngf` and `ndf`.
    public var initialGenerator: URL?, initialDiscriminator: URL?
    /// Random horizontal flips of the real images.
    public var flip = false
    /// Total steps, resumed ones included.
    public var steps = 2000
    public var batch = 64
    /// Latent size and the widths of G and D.
    public var nz = 100, ngf = 64, ndf = 64
    /// Adam learning rate.
    public var learningRate: Float = 2e-4
    public var checkpointEvery = 250
    public var seed: UInt64 = 0
    /// Continue from `output/checkpoint.safetensors`.
    public var resume = false
    /// Recorded in the weight files' metadata (`data`).
    public var dataDescription = ""

    public init(output: URL) { self.output = output }
  }

  public let options: Options
  public let trainer: DCGANTrainer
  public let device: Device
  private let folder: [[Float]]
  private var teacherPlan: (Plan, Value, Value, Int)?
  private var dataRng: SplitMix64
  private let fixed: [Float]
  private let log: FileHandle

  public var checkpointURL: URL { options.output.appendingPathComponent("checkpoint.safetensors") }

  /// Prepares the data, the networks (random N(0, 0.02) weights, or the checkpoint when resuming)
  /// and the log.
  public init(options o: Options, device: Device) throws {
    guard !o.images.isEmpty || o.teacher != nil else { throw ComputeError.invalidArgument("train dcgan: no images and no teacher") }
    options = o
    self.device = device
    try FileManager.default.createDirectory(at: o.output, withIntermediateDirectories: true)
    folder = o.images.map { im in
      let s = min(im.width, im.height)
      let c = im.crop(x: (im.width - s) / 2, y: (im.height - s) / 2, width: s, height: s)
      return Resize.resize(c, width: 64, height: 64, filter: .area).clamped().signed
    }
    if let teacher = o.teacher {
      let tg = try DCGANGenerator(weights: try WeightSet(contentsOf: teacher))
      let (g, z, y) = try tg.graph(batch: o.batch)
      teacherPlan = (try g.compile(on: device), z, y, tg.nz)
    }
    var cfg = DCGANTrainer.Config()
    cfg.batch = o.batch
    cfg.lr = o.learningRate
    cfg.seed = o.seed
    trainer = try DCGANTrainer(
      generator: try o.initialGenerator.map { try WeightSet(contentsOf: $0) }
        ?? RandomWeights.dcganGenerator(nz: o.nz, ngf: o.ngf, seed: o.seed &+ 1),
      discriminator: try o.initialDiscriminator.map { try WeightSet(contentsOf: $0) }
        ?? RandomWeights.dcganDiscriminator(ndf: o.ndf, seed: o.seed &+ 2),
      device: device, config: cfg)
    dataRng = SplitMix64(seed: o.seed ^ 0xda7a)
    if o.resume {
      try trainer.loadCheckpoint(o.output.appendingPathComponent("checkpoint.safetensors"))
      dataRng = SplitMix64(seed: (o.seed ^ 0xda7a) &+ UInt64(trainer.step))
    }
    // Fixed noise for the sample grids.
    var fixedRng = SplitMix64(seed: 1234)
    fixed = (0..<(16 * trainer.nz)).map { _ in fixedRng.nextGaussian() }
    log = try TrainingLog.open(in: o.output, header: "step,loss_d,loss_g,d_x,d_g_z1,d_g_z2,images_per_s", resume: o.resume)
  }

  /// Trains until `options.steps` or until `shouldStop` returns true (checked before each step),
  /// then saves a checkpoint and the weight files. `progress(stepsDone, stepsTotal, stats)` runs
  /// every 10 steps and at the last. Returns whether it was stopped early.
  @discardableResult
  public func run(shouldStop: () -> Bool = { false },
                  progress: (Int, Int, DCGANTrainer.Stats) -> Void = { _, _, _ in }) throws -> Bool {
    let o = options
    let startStep = trainer.step
    var t0 = Date()
    var stopped = false
    while trainer.step < o.steps {
      if shouldStop() { stopped = true; break }
      let real = try realBatch()
      let s = try trainer.train(real: real)
      let ips = Double(o.batch) / Date().timeIntervalSince(t0)
      t0 = Date()
      log.write(Data(String(format: "%d,%.5f,%.5f,%.4f,%.4f,%.4f,%.1f\n", trainer.step, s.lossD, s.lossG, s.dReal, s.dFake,
                            s.dFakeAfter, ips).utf8))
      if trainer.step % 10 == 0 || trainer.step == o.steps { progress(trainer.step - startStep, o.steps - startStep, s) }
      if trainer.step % o.checkpointEvery == 0 { try checkpoint() }
    }
    try checkpoint()
    let meta = ["source": "mend train dcgan", "steps": "\(trainer.step)", "batch": "\(o.batch)", "data": o.dataDescription]
    try DCGANTrainer.exportWeights(trainer.G, to: o.output.appendingPathComponent("G.safetensors"),
                                   metadata: meta.merging(["format": "mend-dcgan-G"]) { $1 })
    try DCGANTrainer.exportWeights(trainer.D, to: o.output.appendingPathComponent("D.safetensors"),
                                   metadata: meta.merging(["format": "mend-dcgan-D"]) { $1 })
    return stopped
  }

  /// A batch of real images, [-1, 1]: from the folder, the teacher, or both (a coin per image).
  func realBatch() throws -> [Float] {
    let batch = options.batch
    var out: [Float] = []
    out.reserveCapacity(batch * 3 * 64 * 64)
    var fromTeacher = 0
    for _ in 0..<batch {
      if !folder.isEmpty && (teacherPlan == nil || dataRng.next() & 1 == 0) {
        var im = folder[Int(dataRng.next() % UInt64(folder.count))]
        if options.flip && dataRng.next() & 1 == 1 {
          for c in 0..<3 { for y in 0..<64 { for x in 0..<32 { im.swapAt((c * 64 + y) * 64 + x, (c * 64 + y) * 64 + 63 - x) } } }
        }
        out += im
      } else {
        fromTeacher += 1
        out += [Float](repeating: 0, count: 3 * 64 * 64)  // filled below
      }
    }
    if fromTeacher > 0, let (p, z, y, tnz) = teacherPlan {
      try p.set(z, (0..<(batch * tnz)).map { _ in dataRng.nextGaussian() })
      try p.run()
      let samples = try p.read(y)
      var k = 0
      let per = 3 * 64 * 64
      for b in 0..<batch where out[(b * per)..<((b + 1) * per)].allSatisfy({ $0 == 0 }) {
        out.replaceSubrange((b * per)..<((b + 1) * per), with: samples[(k * per)..<((k + 1) * per)])
        k += 1
      }
    }
    return out
  }

  /// Saves the checkpoint and a grid of 16 samples from the fixed noise.
  func checkpoint() throws {
    try trainer.saveCheckpoint(to: checkpointURL)
    let samplerNow = try DCGANGenerator(weights: try trainer.G.weightSet)
    let (g2, z2, y2) = try samplerNow.graph(batch: 16)
    let p2 = try g2.compile(on: device)
    try p2.set(z2, fixed)
    try p2.run()
    let v = try p2.read(y2)
    let per = 3 * 64 * 64
    let faces = (0..<16).map { Image.fromSigned(Array(v[($0 * per)..<(($0 + 1) * per)]), width: 64, height: 64, channels: 3) }
    let rows = (0..<4).map { Image.row(Array(faces[($0 * 4)..<($0 * 4 + 4)])) }
    try PNG.write(Image.column(rows), to: options.output.appendingPathComponent(String(format: "samples-%06d.png", trainer.step)))
  }
}

/// The CSV log of a training run.
public enum TrainingLog {
  /// Opens OUT/log.csv for appending: a fresh file with `header`, unless resuming an existing log.
  public static func open(in outURL: URL, header: String, resume: Bool) throws -> FileHandle {
    let logURL = outURL.appendingPathComponent("log.csv")
    if !resume || !FileManager.default.fileExists(atPath: logURL.path) {
      try AtomicFile.write(Data((header + "\n").utf8), to: logURL)
    }
    let log = try FileHandle(forWritingTo: logURL)
    log.seekToEndOfFile()
    return log
  }
}
