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
  @Option(help: "Tile size in input pixels (memory is bounded by it).") var tile: Int = 96
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard tile >= 48 && tile <= 1024 else { throw ValidationError("--tile must be 48…1024") }
      let (im, _) = try PNG.read(fileURL(input))
      let sr = try SRResNet(weights: try WeightStore.load(model.file, override: weightOptions.weights))
      let device = deviceOptions.makeDevice()
      let progress = Progress(label: "superres \(model.rawValue) on \(device.name): tile")
      let up = try Upscaler(model: sr, device: device, tile: tile).upscale(im) { progress.update($0, $1) }
      if let raw { try NPY.write(up.data, shape: [3, up.height, up.width], to: fileURL(raw)) }
      try PNG.write(up.clamped(), to: fileURL(output))
      FileHandle.standardError.write(Data("superres: \(im.width)×\(im.height) -> \(up.width)×\(up.height) -> \(output)\n".utf8))
    }
  }
}
