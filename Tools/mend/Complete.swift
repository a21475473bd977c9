import ArgumentParser
import Compute
import Foundation
import Imaging
import Inpainting
import Models
import Pipeline
import SuperResolution

struct Complete: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Complete a hole in an image up to 256×256 (or a larger image whose hole fits 256×256): inpaint at 64×64, super-resolve 4×, merge only the hole.",
    discussion: """
      Stages: (1) image and mask are downscaled to 64×64 (area averaging; a low-resolution pixel is \
      missing if any pixel it covers is missing); (2) inpainting at 64×64 (Yeh et al.: multi-start latent \
      optimisation with the contextual loss and the discriminator prior); (3) 4× super-resolution and a \
      resize to the original size; (4) only hole pixels take new values — known pixels stay bit-identical — \
      with the seam Poisson-blended at full resolution.
      """)

  @Argument(help: "Input PNG (any size; hole within a 256×256 window).") var input: String
  @Option(name: .shortAndLong, help: "Output PNG, same size as the input.") var output: String
  @OptionGroup var maskOptions: MaskOptions
  @OptionGroup var opt: OptimisationOptions
  @Option(help: "Super-resolution model: srresnet or srgan.") var srModel: SRModel = .srresnet
  @Option(help: "Blending of the generated 64×64 pixels: poisson, alpha or none.") var blend: String = "poisson"
  @Option(help: "Blending of the full-resolution merge: poisson or alpha.") var merge: String = "poisson"
  @Option(help: "Write every stage here: input64, mask64, generated64, inpainted64, superres, merged.") var keepIntermediates: String?
  @Option(help: "Write a picture: input | masked input | result.") var grid: String?
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard let b64 = BlendMode(rawValue: blend) else { throw ValidationError("--blend must be poisson, alpha or none") }
      guard let mg = BlendMode(rawValue: merge), mg != .none else { throw ValidationError("--merge must be poisson or alpha") }
      let (im, alpha) = try PNG.read(fileURL(input))
      let mask = try maskOptions.make(for: im, alpha: alpha)
      try mask.validate(for: im)
      _ = try Completer.window(for: mask)  // a hole too large fails before any model loads
      let (gen, disc) = try opt.loadModels(weightOptions)
      let cfg = try opt.config(haveDiscriminator: disc != nil)
      let device = deviceOptions.makeDevice()
      let sr = try SRResNet(weights: try WeightStore.load(srModel.file, override: weightOptions.weights))
      let completer = Completer(
        inpainter: try Inpainter(generator: gen, discriminator: disc, device: device, images: 1, config: cfg),
        upscaler: try Upscaler(model: sr, device: device), blend64: b64, merge: mg)
      let start = Date()
      var last = ""
      var bar: Progress? = nil
      let stages = try completer.complete(im, mask: mask) { stage, done, total in
        if stage != last { bar = Progress(label: "complete [\(stage)] on \(device.name):"); last = stage }
        if stage == "inpaint" && done % 10 != 0 && done != total { return }
        bar?.update(done, total)
      }
      if let dir = keepIntermediates {
        let u = fileURL(dir)
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        try PNG.write(stages.input64, to: u.appendingPathComponent("1-input64.png"))
        try PNG.write(stages.mask64.image, to: u.appendingPathComponent("2-mask64.png"))
        try PNG.write(stages.generated64, to: u.appendingPathComponent("3-generated64.png"))
        try PNG.write(stages.inpainted64, to: u.appendingPathComponent("4-inpainted64.png"))
        try PNG.write(stages.superResolved, to: u.appendingPathComponent("5-superres.png"))
        try PNG.write(stages.merged, to: u.appendingPathComponent("6-merged.png"))
      }
      if let grid { try PNG.write(Image.row([im, masked(im, mask), stages.merged]), to: fileURL(grid)) }
      try PNG.write(stages.merged, to: fileURL(output))
      let w = stages.window
      FileHandle.standardError.write(Data(String(format: "complete: %d×%d, window %d×%d at (%d, %d), %.1f s on %@ -> %@\n",
        im.width, im.height, w.width, w.height, w.x, w.y, Date().timeIntervalSince(start), device.name, output).utf8))
    }
  }
}
