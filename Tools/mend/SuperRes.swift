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

  @Argument(help: "Input PNG (any size; alpha is ignored).") var input: String
  @Option(name: .shortAndLong, help: "Output PNG, 4× the input size.") var output: String
  @Option(help: "srresnet or srgan.") var model: SRModel = .srresnet
  @Option(help: "Also write float32 [3,4H,4W] in [0,1] as .npy.") var raw: String?
  @Option(help: ArgumentHelp(
    "Window side in input pixels when the image is run in windows (memory is bounded by it).",
    discussion: "By default the whole image runs at once when it fits the device's memory budget, else in the largest windows that fit. Windows overlap by the model's receptive field (40 input pixels for SRResNet) and only their centres are kept, so the output equals the untiled one. Must exceed twice the receptive field."))
  var tile: Int?
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      let (im, _) = try PNG.read(fileURL(input))
      let sr = try SRResNet(weights: try WeightStore.load(model.file, override: weightOptions.weights))
      let device = deviceOptions.makeDevice()
      let upscaler = try Upscaler(model: sr, device: device, tile: tile)
      let progress = Progress(label: "superres \(model.rawValue) on \(device.name): window")
      let up = try upscaler.upscale(im) { progress.update($0, $1) }
      if let raw { try NPY.write(up.data, shape: [3, up.height, up.width], to: fileURL(raw)) }
      try PNG.write(up.clamped(), to: fileURL(output))
      FileHandle.standardError.write(Data("superres: \(im.width)×\(im.height) -> \(up.width)×\(up.height) -> \(output)\n".utf8))
    }
  }
}
