import ArgumentParser
import Compute
import Foundation
import Imaging
import Models
import SuperResolution

enum SRModel: String, ExpressibleByArgument, CaseIterable {
  case srresnet, srgan
  var file: String { self == .srresnet ? WeightStore.srresnet : WeightStore.srgan }
}

struct SuperRes: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "superres",
    abstract: "Upscale an image 4× with SRResNet (MSE, sharpest PSNR) or SRGAN (perceptual).")

  @Argument(help: ArgumentHelp(
    "Input image (PNG, JPEG or WebP, any size), or a folder of them.",
    discussion: "An alpha channel is upscaled with bicubic interpolation (clamped to [0, 1]) and written to PNG and WebP outputs; JPEG output drops it with a notice."))
  var input: String
  @Option(name: .shortAndLong, help: "Output image, 4× the input size (.png, .jpg, .jpeg, .webp), or a folder for a folder input.")
  var output: String
  @Option(help: "srresnet or srgan.") var model: SRModel = .srresnet
  @Option(help: "Also write float32 [3,4H,4W] in [0,1] as .npy.") var raw: String?
  @Option(help: ArgumentHelp(
    "Window side in input pixels when the image is run in windows (memory is bounded by it).",
    discussion: "By default the whole image runs at once when it fits the device's memory budget, else in the largest windows that fit. Windows overlap by the model's receptive field (40 input pixels for SRResNet) and only their centres are kept, so the output equals the untiled one. Must exceed twice the receptive field."))
  var tile: Int?
  @OptionGroup var runOptions: RunOptions
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      let plan = try RunPlan.make(input: input, output: output, options: runOptions)
      if plan.folder && raw != nil { throw ValidationError("--raw is for single images") }
      let sr = try SRResNet(weights: try WeightStore.load(model.file, override: weightOptions.weights))
      let device = deviceOptions.makeDevice()
      let upscaler = try Upscaler(model: sr, device: device, tile: tile)
      try runJobs(plan, options: runOptions, label: "superres", device: device.name) { job, info in
        let (im, alpha) = try ImageFile.read(job.input)
        (info.width, info.height) = (im.width, im.height)
        let progress = Progress(label: "superres \(model.rawValue) on \(device.name): window")
        let up = try upscaler.upscale(im) { if !plan.folder { progress.update($0, $1) } }
        let staged = StagedFiles()  // --raw and -o appear together or not at all
        if let raw { try staged.add(NPY.encode(up.data, shape: [3, up.height, up.width]), to: fileURL(raw)) }
        // Alpha: bicubic to the output size, clamped (Keys cubic overshoots at sharp edges).
        let upAlpha = alpha.map { Resize.resize($0, width: up.width, height: up.height, filter: .bicubic).clamped() }
        try writeOutput(up.clamped(), alpha: upAlpha, to: job.output, quality: runOptions.quality, staged: staged)
        try staged.commit()
        if !plan.folder {
          standardError.write(Data("superres: \(im.width)×\(im.height) -> \(up.width)×\(up.height) -> \(output)\n".utf8))
        }
      }
    }
  }
}
