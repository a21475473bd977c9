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
  @Option(help: "Mask PNG, same size as the image, white = missing.") var mask: String?
  @Option(help: "Built-in mask when no --mask: center, blocks, pixels, left, right, top, bottom. Without either, the input's alpha channel (transparent = missing).")
  var maskType: MaskType?
  @Option(help: "center: hole side as a fraction of the image side; pixels: fraction missing.") var maskFraction: Double = 0.5
  @Option(help: "Seed for random masks (blocks, pixels).") var maskSeed: UInt64 = 0

  func make(for image: Image, alpha: Image?) throws -> Mask {
    let (w, h) = (image.width, image.height)
    if let mask {
      let (m, _) = try PNG.read(fileURL(mask))
      let mk = Mask.fromImage(m)
      guard mk.width == w && mk.height == h else {
        throw MaskError("mask \(mask) is \(mk.width)×\(mk.height) but the image is \(w)×\(h)")
      }
      return mk
    }
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
    if let alpha { return Mask.fromAlpha(alpha) }
    throw MaskError("no mask: pass --mask M.png or --mask-type, or give the input an alpha channel")
  }
}

/// The latent-optimisation settings shared by `inpaint` and `complete`.
struct OptimisationOptions: ParsableArguments {
  @Option(help: "Adam iterations on z.") var iterations: Int = 1000
  @Option(help: "Starting latents optimised together; the best by total loss wins.") var starts: Int = 8
  @Option(name: .customLong("lambda"), help: "Weight λ of the prior λ·log(1 − D(G(z))) (the paper found 0.1 better than 0.003).")
  var lambda: Float = 0.1
  @Option(help: "Prior form: log1md = λ·log(1 − D), nonsat = −λ·log D.") var prior: String = "log1md"
  @Option(help: "Importance-weight window (odd).") var window: Int = 7
  @Option(help: "Adam learning rate on z.") var lr: Float = 0.03
  @Option(help: "Weight γ of a Gaussian prior γ/2·‖z‖² (default 0.01 when no discriminator is available, else 0).")
  var gaussian: Float?
  @Option(help: "Seed for the starting latents.") var seed: UInt64 = 0
  @Option(help: "Discriminator weights file in the weights folder (the prior); missing means contextual loss only.")
  var discriminator: String = WeightStore.faceDiscriminator

  func config(haveDiscriminator: Bool) throws -> InpaintConfig {
    guard iterations >= 0 && iterations <= 100_000 else { throw ValidationError("--iterations must be 0…100000") }
    guard starts >= 1 && starts <= 256 else { throw ValidationError("--starts must be 1…256") }
    guard window >= 1 && window % 2 == 1 && window <= 63 else { throw ValidationError("--window must be odd, 1…63") }
    guard let p = InpaintConfig.Prior(rawValue: prior) else { throw ValidationError("--prior must be log1md or nonsat") }
    var c = InpaintConfig()
    c.iterations = iterations; c.starts = starts; c.lambda = lambda; c.prior = p; c.window = window
    c.learningRate = lr; c.seed = seed
    c.gaussianPrior = gaussian ?? (haveDiscriminator ? 0 : 0.01)
    return c
  }

  func loadModels(_ weights: WeightOptions) throws -> (DCGANGenerator, DCGANDiscriminator?) {
    let gen = try DCGANGenerator(weights: try WeightStore.load(WeightStore.faceGenerator, override: weights.weights))
    var disc: DCGANDiscriminator? = nil
    if lambda != 0 {
      if let url = try? WeightStore.url(discriminator, override: weights.weights) {
        disc = try DCGANDiscriminator(weights: try WeightSet(contentsOf: url), logits: true)
      } else {
        FileHandle.standardError.write(Data(("mend: note: no discriminator weights (\(discriminator)); the loss is "
          + "contextual only, with a Gaussian prior on z\n").utf8))
      }
    }
    return (gen, disc)
  }
}

struct Inpaint: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Fill a hole in a 64×64 face with the generator's best explanation of the known pixels (Yeh et al.).")

  @Argument(help: "Input PNG, 64×64 (use `mend complete` for larger images).") var input: String
  @Option(name: .shortAndLong, help: "Output PNG.") var output: String
  @OptionGroup var maskOptions: MaskOptions
  @OptionGroup var opt: OptimisationOptions
  @Option(help: "poisson, alpha or none.") var blend: String = "poisson"
  @Option(help: "Write the best latent z, float32 [1,100], as .npy.") var saveLatent: String?
  @Option(help: "Write a picture: input | masked input | G(ẑ) | result.") var grid: String?
  @Option(help: "Write the best total loss every 10 iterations as CSV.") var log: String?
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard let mode = BlendMode(rawValue: blend) else { throw ValidationError("--blend must be poisson, alpha or none") }
      let (im, alpha) = try PNG.read(fileURL(input))
      guard im.width == 64 && im.height == 64 else {
        throw ValidationError("\(input) is \(im.width)×\(im.height); mend inpaint works at the generator's 64×64 (mend complete handles up to 256×256 and larger images with small holes)")
      }
      let mask = try maskOptions.make(for: im, alpha: alpha)
      try mask.validate(for: im)
      let (gen, disc) = try opt.loadModels(weightOptions)
      let cfg = try opt.config(haveDiscriminator: disc != nil)
      let device = deviceOptions.makeDevice()
      let inp = try Inpainter(generator: gen, discriminator: disc, device: device, images: 1, config: cfg)
      let progress = Progress(label: "inpaint on \(device.name) (\(cfg.starts) starts): iteration")
      var rows: [String] = ["iteration,best_total_loss"]
      let r = try inp.run([im], masks: [mask]) { it, losses in
        progress.update(it, cfg.iterations, String(format: "loss %.4f", losses[0]))
        rows.append("\(it),\(losses[0])")
      }[0]
      let (out, _) = Blend.blend(source: r.generated, into: im, mask: mask, mode: mode)
      if let saveLatent { try NPY.write(r.latent, shape: [1, gen.nz], to: fileURL(saveLatent)) }
      if let log { try AtomicFile.write(Data(rows.joined(separator: "\n").utf8 + [10]), to: fileURL(log)) }
      if let grid { try PNG.write(Image.row([im, masked(im, mask), r.generated, out]), to: fileURL(grid)) }
      try PNG.write(out, to: fileURL(output))
      FileHandle.standardError.write(Data(String(format: "inpaint: contextual %.4f, prior %.4f, total %.4f (start %d) -> %@\n",
                                                 r.contextualLoss, r.priorLoss, r.totalLoss, r.bestStart, output).utf8))
    }
  }
}

/// The input with its hole painted mid-grey (for pictures).
func masked(_ im: Image, _ m: Mask) -> Image {
  var o = im
  let n = im.width * im.height
  for c in 0..<im.channels { for i in 0..<n where m.missing[i] { o.data[c * n + i] = 0.5 } }
  return o
}
