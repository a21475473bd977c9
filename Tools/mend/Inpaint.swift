import ArgumentParser
import Compute
import Foundation
import Imaging
import Inpainting
import Models

enum MaskType: String, ExpressibleByArgument, CaseIterable {
  case center, blocks, pixels, left, right, top, bottom
}

/// Mask choice shared by `inpaint`, `complete` and the evaluations.
struct MaskOptions: ParsableArguments {
  @Option(help: "Mask image (PNG, JPEG or WebP), same size as the image, white = missing; in a folder run, one mask for every image.")
  var mask: String?
  @Option(help: "Built-in mask when no --mask: center, blocks, pixels, left, right, top, bottom. Without either, the input's alpha channel (transparent = missing).")
  var maskType: MaskType?
  @Option(help: "center: hole side as a fraction of the image side; pixels: fraction missing.") var maskFraction: Double = 0.5
  @Option(help: "Seed for random masks (blocks, pixels).") var maskSeed: UInt64 = 0

  func make(for image: Image, alpha: Image?) throws -> Mask { try resolve(for: image, alpha: alpha).mask }

  /// The mask for `image`: `file` (a folder run's per-image mask) or `--mask`, else `--mask-type`,
  /// else the alpha channel (`fromAlpha` true: transparent pixels are the hole).
  func resolve(for image: Image, alpha: Image?, file: URL? = nil) throws -> (mask: Mask, fromAlpha: Bool) {
    let (w, h) = (image.width, image.height)
    if let url = file ?? mask.map(fileURL) {
      let (m, _) = try ImageFile.read(url)
      let mk = Mask.fromImage(m)
      guard mk.width == w && mk.height == h else {
        throw MaskError("mask \(file?.path ?? mask ?? "") is \(mk.width)×\(mk.height) but the image is \(w)×\(h)")
      }
      return (mk, false)
    }
    return try resolveBuiltIn(w, h, alpha: alpha)
  }

  func resolveBuiltIn(_ w: Int, _ h: Int, alpha: Image?) throws -> (mask: Mask, fromAlpha: Bool) {
    if let m = try builtIn(w, h) { return (m, false) }
    if let alpha { return (Mask.fromAlpha(alpha), true) }
    throw MaskError("no mask: pass --mask M.png or --mask-type, or give the input an alpha channel")
  }

  func builtIn(_ w: Int, _ h: Int) throws -> Mask? {
    guard maskFraction > 0 && maskFraction <= 1 else { throw ValidationError("--mask-fraction must be in (0, 1], got \(maskFraction)") }
    if let t = maskType {
      switch t {
      case .center: return Mask.center(width: w, height: h, fraction: maskFraction)
      case .blocks: return Mask.randomBlocks(width: w, height: h, seed: maskSeed)
      case .pixels: return Mask.randomPixels(width: w, height: h, fraction: maskFraction == 0.5 ? 0.8 : maskFraction, seed: maskSeed)
      case .left: return Mask.half(width: w, height: h, side: .left)
      case .right: return Mask.half(width: w, height: h, side: .right)
      case .top: return Mask.half(width: w, height: h, side: .top)
      case .bottom: return Mask.half(width: w, height: h, side: .bottom)
      }
    }
    return nil
  }
}

/// The latent-optimisation settings shared by `inpaint` and `complete`.
struct OptimisationOptions: ParsableArguments {
  @Option(help: "Adam iterations on z.") var iterations: Int = 1000
  @Option(help: "Starting latents optimised together; the best by total loss wins.") var starts: Int = 8
  @Option(help: "Fill with the mean of G(ẑ) over this many of the best starts (all when fewer; 1: the best start alone, as in the paper).")
  var average: Int = InpaintConfig().average
  @Option(name: .customLong("lambda"), help: "Weight λ of the prior λ·log(1 − D(G(z))) (the paper found 0.1 better than 0.003).")
  var lambda: Float = 0.1
  @Option(help: "Prior form: log1md = λ·log(1 − D), nonsat = −λ·log D.") var prior: String = "log1md"
  @Option(help: "Importance-weight window (odd).") var window: Int = 7
  @Option(help: "Adam learning rate on z.") var lr: Float = 0.03
  @Option(help: "Weight γ of a Gaussian prior γ/2·‖z‖² (default 0.01 when no discriminator is available, else 0).")
  var gaussian: Float?
  @Option(help: "Seed for the starting latents.") var seed: UInt64 = 0
  @Option(help: ArgumentHelp(
    "Face model (generator and discriminator): \(FaceModel.allCases.map(\.rawValue).joined(separator: ", ")); synthetic is MIT-licensed, photo is for non-commercial use (docs/weights.md).",
    valueName: "model"))
  var faceModel: String = FaceModel.default.rawValue
  @Option(help: "Discriminator weights file in the weights folder (the prior; default: the face model's); missing means contextual loss only.")
  var discriminator: String?
  @Option(name: .customLong("tune-generator"), help: ArgumentHelp(
    "After the latent search, fine-tune the generator's weights for STEPS Adam steps on the same loss (0: off; the flag alone: \(OptimisationOptions.defaultTuneSteps)).",
    valueName: "steps"))
  var tuneGenerator: Int = 0
  @Option(help: "Generator tuning: Adam learning rate on the weights.") var tuneLr: Float = GeneratorTuning().learningRate
  @Option(help: "Generator tuning: Adam learning rate on z (0: z stays at the search's result).")
  var tuneLatentLr: Float = GeneratorTuning().latentLearningRate
  @Option(help: "Generator tuning: weight μ of the pull μ/2·‖θ − θ₀‖² towards the pretrained weights.")
  var tunePull: Float = GeneratorTuning().pull
  @Option(help: "Generator tuning schedule: all (every layer from the first step), image (progressive from the image side), latent (progressive from z).")
  var tuneSchedule: String = GeneratorTuning().schedule.rawValue
  @Option(help: "Generator tuning: how many of the 5 layers train, counted from where the schedule starts.")
  var tuneLayers: Int = GeneratorTuning().layerCount

  /// Steps when `--tune-generator` is given without a number.
  static let defaultTuneSteps = 100

  func config(haveDiscriminator: Bool) throws -> InpaintConfig {
    guard iterations >= 0 && iterations <= 100_000 else { throw ValidationError("--iterations must be 0…100000") }
    guard starts >= 1 && starts <= 256 else { throw ValidationError("--starts must be 1…256") }
    guard average >= 1 && average <= 256 else { throw ValidationError("--average must be 1…256") }
    guard window >= 1 && window % 2 == 1 && window <= 63 else { throw ValidationError("--window must be odd, 1…63") }
    guard let p = InpaintConfig.Prior(rawValue: prior) else { throw ValidationError("--prior must be log1md or nonsat") }
    var c = InpaintConfig()
    c.iterations = iterations; c.starts = starts; c.average = average; c.lambda = lambda; c.prior = p; c.window = window
    c.learningRate = lr; c.seed = seed
    c.gaussianPrior = gaussian ?? (haveDiscriminator ? 0 : 0.01)
    guard tuneGenerator >= 0 && tuneGenerator <= 100_000 else { throw ValidationError("--tune-generator must be 0…100000 steps") }
    guard tuneLr >= 0 && tuneLr.isFinite, tuneLatentLr >= 0 && tuneLatentLr.isFinite, tunePull >= 0 && tunePull.isFinite else {
      throw ValidationError("--tune-lr, --tune-latent-lr and --tune-pull must be finite and ≥ 0")
    }
    c.tuning.steps = tuneGenerator
    c.tuning.learningRate = tuneLr
    c.tuning.latentLearningRate = tuneLatentLr
    c.tuning.pull = tunePull
    guard let sch = GeneratorTuning.Schedule(rawValue: tuneSchedule) else { throw ValidationError("--tune-schedule must be all, image or latent") }
    guard (1...5).contains(tuneLayers) else { throw ValidationError("--tune-layers must be 1…5") }
    c.tuning.schedule = sch
    c.tuning.layerCount = tuneLayers
    return c
  }

  func face() throws -> FaceModel {
    guard let m = FaceModel(rawValue: faceModel) else {
      throw ValidationError("--face-model must be one of \(FaceModel.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return m
  }

  func loadModels(_ weights: WeightOptions) throws -> (DCGANGenerator, DCGANDiscriminator?) {
    let model = try face()
    let gen = try DCGANGenerator(weights: try WeightStore.load(model.generatorFile, override: weights.weights))
    if model == .photo {
      standardError.write(Data("mend: note: face model photo — \(model.licence); --face-model synthetic is MIT-licensed\n".utf8))
    }
    let discriminator = self.discriminator ?? model.discriminatorFile
    var disc: DCGANDiscriminator? = nil
    if lambda != 0 {
      if let url = try? WeightStore.url(discriminator, override: weights.weights) {
        disc = try DCGANDiscriminator(weights: try WeightSet(contentsOf: url), logits: true)
      } else {
        standardError.write(Data(("mend: note: no discriminator weights (\(discriminator)); the loss is "
          + "contextual only, with a Gaussian prior on z\n").utf8))
      }
    }
    return (gen, disc)
  }
}

struct Inpaint: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Fill a hole in a 64×64 face with the generator's best explanation of the known pixels (Yeh et al.).",
    discussion: """
      Alpha: the input's alpha channel is written back to PNG and WebP outputs. When the hole came from \
      the alpha channel (no --mask, --masks or --mask-type), the filled pixels become opaque.
      """)

  @Argument(help: "Input image, 64×64 (PNG, JPEG or WebP; use `mend complete` for larger images), or a folder of them.")
  var input: String
  @Option(name: .shortAndLong, help: "Output image (.png, .jpg, .jpeg, .webp), or a folder for a folder input.") var output: String
  @Option(help: "Folder runs: folder of masks matched to the images by file stem (an image without one falls back to --mask-type or its alpha).")
  var masks: String?
  @OptionGroup var maskOptions: MaskOptions
  @OptionGroup var opt: OptimisationOptions
  @Option(help: "poisson, alpha or none.") var blend: String = "poisson"
  @Option(help: "Write the best start's latent ẑ, float32 [1,100], as .npy (G(ẑ) is the fill itself with --average 1).") var saveLatent: String?
  @Option(help: "Write a picture: input | masked input | generated fill (G(ẑ), or the mean over --average starts) | result.") var grid: String?
  @Option(help: "Write the best total loss every 10 iterations as CSV.") var log: String?
  @OptionGroup var runOptions: RunOptions
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  @Option(help: ArgumentHelp(
    "Folder runs: images inpainted together through one plan (batch × starts latents per iteration).",
    discussion: "Faster per image than one at a time on the CPU (z_iter_b8 vs 8 × z_iter_b1). Each image starts from the latents it gets alone; the different GEMM shapes round differently, so a batched result can differ slightly from a single run's."))
  var batch: Int = 8

  func run() throws {
    guarded {
      guard let mode = BlendMode(rawValue: blend) else { throw ValidationError("--blend must be poisson, alpha or none") }
      if masks != nil && maskOptions.mask != nil { throw ValidationError("pass --mask (one for all) or --masks (a folder), not both") }
      let plan = try RunPlan.make(input: input, output: output, masks: masks, options: runOptions)
      if plan.folder && (saveLatent != nil || grid != nil || log != nil) {
        throw ValidationError("--save-latent, --grid and --log are for single images")
      }
      // A single image is checked before any model loads.
      if !plan.folder { _ = try prepare(plan.jobs[0]) }
      let (gen, disc) = try opt.loadModels(weightOptions)
      let cfg = try opt.config(haveDiscriminator: disc != nil)
      let device = deviceOptions.makeDevice()
      guard batch >= 1 && batch <= 64 else { throw ValidationError("--batch must be 1…64") }
      var inpainters: [Int: Inpainter] = [:]
      func inpainter(_ n: Int) throws -> Inpainter {
        if let p = inpainters[n] { return p }
        let p = try Inpainter(generator: gen, discriminator: disc, device: device, images: n, config: cfg)
        inpainters[n] = p
        return p
      }
      // Folder runs inpaint up to --batch images through one plan (batch × starts latents): when a
      // job's result is not ready, it and the next pending images are searched together.
      var ready: [String: InpaintResult] = [:]
      let pending = plan.jobs.filter { runOptions.force || !FileManager.default.fileExists(atPath: $0.output.path) }
      try runJobs(plan, options: runOptions, label: "inpaint", device: device.name) { job, info in
        let (im, alpha, mask, fromAlpha) = try prepare(job)
        (info.width, info.height) = (im.width, im.height)
        let progress = Progress(label: "inpaint on \(device.name) (\(cfg.starts) starts): iteration")
        var rows: [String] = ["iteration,best_total_loss"]
        let r: InpaintResult
        if let done = ready.removeValue(forKey: job.output.path) {
          r = done
        } else if plan.folder && batch > 1, let at = pending.firstIndex(where: { $0.output == job.output }) {
          var group: [(Job, Image, Mask)] = [(job, im, mask)]
          for other in pending[(at + 1)...] where group.count < batch {
            guard let (oim, _, omask, _) = try? prepare(other) else { continue }  // fails on its own turn
            group.append((other, oim, omask))
          }
          let results = try inpainter(group.count).run(group.map(\.1), masks: group.map(\.2))
          for (g, res) in zip(group.dropFirst(), results.dropFirst()) { ready[g.0.output.path] = res }
          r = results[0]
        } else {
          r = try inpainter(1).run([im], masks: [mask]) { it, losses in
            if !plan.folder { progress.update(it, cfg.iterations, String(format: "loss %.4f", losses[0])) }
            rows.append("\(it),\(losses[0])")
          }[0]
        }
        (info.initialLoss, info.finalLoss) = (r.initialTotalLoss, r.totalLoss)
        let (out, _) = Blend.blend(source: r.generated, into: im, mask: mask, mode: mode)
        // All outputs of the image appear together or not at all (StagedFiles).
        let staged = StagedFiles()
        if let saveLatent { try staged.add(NPY.encode(r.latent, shape: [1, gen.nz]), to: fileURL(saveLatent)) }
        if let log { try staged.add(Data(rows.joined(separator: "\n").utf8 + [10]), to: fileURL(log)) }
        if let grid { try stageImage(Image.row([im, masked(im, mask), r.generated, out]), to: fileURL(grid), staged) }
        try writeOutput(out, alpha: filledAlpha(alpha, missing: mask.missing, holeFromAlpha: fromAlpha), to: job.output,
                        quality: runOptions.quality, staged: staged)
        try staged.commit()
        if !plan.folder {
          if let t = r.tunedLosses {
            standardError.write(Data(String(format: "inpaint: generator tuning %d steps: contextual %.4f -> %.4f, prior %.4f, pull %.4f\n",
                                                       cfg.tuning.steps, r.contextualLoss, t.ctx, t.prior, t.pull).utf8))
          }
          standardError.write(Data(String(format: "inpaint: contextual %.4f, prior %.4f, total %.4f (start %d) -> %@\n",
                                                     r.contextualLoss, r.priorLoss, r.totalLoss, r.bestStart, output).utf8))
        }
      }
    }
  }

  func prepare(_ job: Job) throws -> (Image, Image?, Mask, Bool) {
    let (im, alpha) = try ImageFile.read(job.input)
    guard im.width == 64 && im.height == 64 else {
      throw ValidationError("\(job.input.lastPathComponent) is \(im.width)×\(im.height); mend inpaint works at the generator's 64×64 (mend complete handles up to 256×256 and larger images with small holes)")
    }
    let (mask, fromAlpha) = try maskOptions.resolve(for: im, alpha: alpha, file: job.mask)
    try mask.validate(for: im)
    return (im, alpha, mask, fromAlpha)
  }
}

/// The input with its hole painted mid-grey (for pictures).
func masked(_ im: Image, _ m: Mask) -> Image {
  var o = im
  let n = im.width * im.height
  for c in 0..<im.channels { for i in 0..<n where m.missing[i] { o.data[c * n + i] = 0.5 } }
  return o
}
