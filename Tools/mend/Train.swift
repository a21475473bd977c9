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
  @Option(help: "Start the generator from these weights (fine-tuning; a file or a name in the weights folder).") var initG: String?
  @Option(help: "Start the discriminator from these weights (fine-tuning).") var initD: String?
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
      let device = deviceOptions.makeDevice()
      var o = DCGANTrainingRun.Options(output: fileURL(out))
      if let data { o.images = try loadFolder(data).map(\.1) }
      if let teacher {
        o.teacher = FileManager.default.fileExists(atPath: teacher) ? fileURL(teacher) : try WeightStore.url(teacher)
      }
      let weightURL = { (s: String) throws -> URL in FileManager.default.fileExists(atPath: s) ? fileURL(s) : try WeightStore.url(s) }
      o.initialGenerator = try initG.map(weightURL)
      o.initialDiscriminator = try initD.map(weightURL)
      o.flip = flip; o.steps = steps; o.batch = batch; o.nz = nz; o.ngf = ngf; o.ndf = ndf; o.learningRate = lr
      o.checkpointEvery = checkpointEvery; o.seed = seed; o.resume = resume
      o.dataDescription = [data, teacher.map { "teacher \($0)" }].compactMap { $0 }.joined(separator: " + ")
      let training = try DCGANTrainingRun(options: o, device: device)
      if resume { standardError.write(Data("train: resumed at step \(training.trainer.step)\n".utf8)) }
      signal(SIGINT) { _ in interrupted = true }
      let bar = Progress(label: "train dcgan on \(device.name): step")
      try training.run(shouldStop: { interrupted }) { done, total, s in
        bar.update(done, total, String(format: "D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", s.lossD, s.lossG, s.dReal, s.dFake))
      }
      standardError.write(Data("train: \(interrupted ? "interrupted, saved" : "done") at step \(training.trainer.step) -> \(out)\n".utf8))
      if interrupted { throw ExitCode(130) }
    }
  }
}
