import ArgumentParser
import Compute
import Foundation
import Graph
import Imaging
import Models
import Training

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "train", abstract: "Train the GANs.",
                                                  subcommands: [TrainDCGAN.self, TrainSRGAN.self])
}

/// Set by SIGINT; the training loop saves a checkpoint and stops.
nonisolated(unsafe) var interrupted = false

/// Opens OUT/log.csv for appending (a fresh file with `header` unless resuming an existing log) and
/// turns Ctrl-C into `interrupted`, so a training loop saves a checkpoint before it stops.
func startTrainingLog(in outURL: URL, header: String, resume: Bool) throws -> FileHandle {
  let logURL = outURL.appendingPathComponent("log.csv")
  if !resume || !FileManager.default.fileExists(atPath: logURL.path) {
    try AtomicFile.write(Data((header + "\n").utf8), to: logURL)
  }
  let log = try FileHandle(forWritingTo: logURL)
  log.seekToEndOfFile()
  signal(SIGINT) { _ in interrupted = true }
  return log
}

struct TrainDCGAN: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dcgan",
    abstract: "Train a DCGAN (pytorch/examples recipe) on a folder of images and/or samples of a teacher generator.",
    discussion: """
      Adam lr 2e-4, β1 0.5, BCE losses, training-mode batch norm, N(0, 0.02) init. Writes OUT/checkpoint.safetensors \
      (G, D, optimizer state, step) every --checkpoint-every steps and at the end, OUT/samples-STEP.png from fixed \
      noise, OUT/log.csv, and the final OUT/G.safetensors and OUT/D.safetensors (weight-file format). Ctrl-C saves a \
      checkpoint first; --resume continues from OUT/checkpoint.safetensors.
      """)

  @Option(help: "Output folder.") var out: String
  @Option(help: "Folder of PNGs (centre-cropped and resized to 64×64).") var data: String?
  @Option(help: "Teacher generator weights (real samples drawn on the fly), e.g. the fetched face G.") var teacher: String?
  @Flag(help: "Random horizontal flips of real images.") var flip = false
  @Option(help: "Training steps (total, including resumed ones).") var steps: Int = 2000
  @Option(help: "Batch size.") var batch: Int = 64
  @Option(help: "Latent size.") var nz: Int = 100
  @Option(help: "Generator width.") var ngf: Int = 64
  @Option(help: "Discriminator width.") var ndf: Int = 64
  @Option(help: "Adam learning rate.") var lr: Float = 2e-4
  @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int = 250
  @Option(help: "Seed.") var seed: UInt64 = 0
  @Flag(help: "Resume from OUT/checkpoint.safetensors.") var resume = false
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard data != nil || teacher != nil else { throw ValidationError("give --data DIR, --teacher WEIGHTS, or both") }
      guard batch >= 2 && batch <= 1024, steps >= 1 else { throw ValidationError("--batch must be 2…1024 and --steps ≥ 1") }
      let outURL = fileURL(out)
      try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
      let device = deviceOptions.makeDevice()
      var folder: [[Float]] = []
      if let data {
        for (_, im) in try loadFolder(data) {
          let s = min(im.width, im.height)
          let c = im.crop(x: (im.width - s) / 2, y: (im.height - s) / 2, width: s, height: s)
          folder.append(Resize.resize(c, width: 64, height: 64, filter: .area).clamped().signed)
        }
      }
      var teacherPlan: (Plan, Value, Value, Int)? = nil
      if let teacher {
        let url = FileManager.default.fileExists(atPath: teacher) ? fileURL(teacher) : try WeightStore.url(teacher)
        let tg = try DCGANGenerator(weights: try WeightSet(contentsOf: url))
        let (g, z, y) = try tg.graph(batch: batch)
        teacherPlan = (try g.compile(on: device), z, y, tg.nz)
      }
      var cfg = DCGANTrainer.Config()
      cfg.batch = batch; cfg.lr = lr; cfg.seed = seed
      let trainer = try DCGANTrainer(generator: RandomWeights.dcganGenerator(nz: nz, ngf: ngf, seed: seed &+ 1),
                                     discriminator: RandomWeights.dcganDiscriminator(ndf: ndf, seed: seed &+ 2),
                                     device: device, config: cfg)
      let ckpt = outURL.appendingPathComponent("checkpoint.safetensors")
      var dataRng = SplitMix64(seed: seed ^ 0xda7a)
      if resume {
        try trainer.loadCheckpoint(ckpt)
        dataRng = SplitMix64(seed: (seed ^ 0xda7a) &+ UInt64(trainer.step))
        FileHandle.standardError.write(Data("train: resumed at step \(trainer.step)\n".utf8))
      }
      // Fixed noise for the sample grids.
      var fixedRng = SplitMix64(seed: 1234)
      let fixed = (0..<(16 * nz)).map { _ in fixedRng.nextGaussian() }
      let log = try startTrainingLog(in: outURL, header: "step,loss_d,loss_g,d_x,d_g_z1,d_g_z2,images_per_s",
                                     resume: resume)

      func realBatch() throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(batch * 3 * 64 * 64)
        var fromTeacher = 0
        for _ in 0..<batch {
          if !folder.isEmpty && (teacherPlan == nil || dataRng.next() & 1 == 0) {
            var im = folder[Int(dataRng.next() % UInt64(folder.count))]
            if flip && dataRng.next() & 1 == 1 {
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
      func checkpoint() throws {
        try trainer.saveCheckpoint(to: ckpt)
        let samplerNow = try DCGANGenerator(weights: try trainer.G.weightSet)
        let (g2, z2, y2) = try samplerNow.graph(batch: 16)
        let p2 = try g2.compile(on: device)
        try p2.set(z2, fixed)
        try p2.run()
        let v = try p2.read(y2)
        let per = 3 * 64 * 64
        let faces = (0..<16).map { Image.fromSigned(Array(v[($0 * per)..<(($0 + 1) * per)]), width: 64, height: 64, channels: 3) }
        try PNG.write(grid(faces), to: outURL.appendingPathComponent(String(format: "samples-%06d.png", trainer.step)))
      }
      let progress = Progress(label: "train dcgan on \(device.name): step")
      let startStep = trainer.step
      var t0 = Date()
      while trainer.step < steps && !interrupted {
        let real = try realBatch()
        let s = try trainer.train(real: real)
        let ips = Double(batch) / Date().timeIntervalSince(t0)
        t0 = Date()
        log.write(Data(String(format: "%d,%.5f,%.5f,%.4f,%.4f,%.4f,%.1f\n", trainer.step, s.lossD, s.lossG, s.dReal, s.dFake,
                              s.dFakeAfter, ips).utf8))
        if trainer.step % 10 == 0 || trainer.step == steps {
          progress.update(trainer.step - startStep, steps - startStep,
                          String(format: "D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", s.lossD, s.lossG, s.dReal, s.dFake))
        }
        if trainer.step % checkpointEvery == 0 { try checkpoint() }
      }
      try checkpoint()
      let meta = ["source": "mend train dcgan", "steps": "\(trainer.step)", "batch": "\(batch)",
                  "data": [data, teacher.map { "teacher \($0)" }].compactMap { $0 }.joined(separator: " + ")]
      try DCGANTrainer.exportWeights(trainer.G, to: outURL.appendingPathComponent("G.safetensors"), metadata: meta.merging(["format": "mend-dcgan-G"]) { $1 })
      try DCGANTrainer.exportWeights(trainer.D, to: outURL.appendingPathComponent("D.safetensors"), metadata: meta.merging(["format": "mend-dcgan-D"]) { $1 })
      FileHandle.standardError.write(Data("train: \(interrupted ? "interrupted, saved" : "done") at step \(trainer.step) -> \(out)\n".utf8))
      if interrupted { throw ExitCode(130) }
    }
  }
}
