import ArgumentParser
import Compute
import Evaluation
import Foundation
import Imaging
import Models
import SuperResolution

struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval", abstract: "Quality evaluations on folders of images.", subcommands: [EvalSuperRes.self, EvalInpaint.self, EvalComplete.self])
}

struct EvalSuperRes: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "superres",
    abstract: "PSNR/SSIM (Y channel, border 4) of bicubic, SRResNet and SRGAN on 4× bicubic downscales.")

  @Argument(help: "Folder of high-resolution PNGs.") var dir: String
  @Option(help: "Also write a comparison picture (LR nearest | bicubic | SRResNet | SRGAN | original) per image here.")
  var pictures: String?
  @Option(help: "Crop each image to at most this size (centre), to bound time.") var maxSize: Int = 512
  @Option(help: "Evaluate only the region X,Y,W,H of each image (for close-up pictures).") var region: String?
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.lowercased().hasSuffix(".png") }.sorted()
      guard !files.isEmpty else { throw ValidationError("\(dir): no PNG images") }
      let device = deviceOptions.makeDevice()
      let models = try SRModel.allCases.map { m in
        try Upscaler(model: try SRResNet(weights: try WeightStore.load(m.file, override: weightOptions.weights)), device: device)
      }
      print("# 4× super-resolution on \(device.name); PSNR dB / SSIM on Y, border 4")
      print(pad("image", 22) + pad("size", 10) + ["bicubic", "srresnet", "srgan"].map { lpad($0, 18) }.joined())
      let evaluation = SuperResolutionEvaluation(upscalers: models, maxSize: maxSize)
      var sums = ScoreSums(columns: models.count + 1)
      for f in files {
        var (hr, _) = try ImageFile.read(fileURL(dir).appendingPathComponent(f))
        if let region {
          let v = region.split(separator: ",").compactMap { Int($0) }
          guard v.count == 4, v[0] >= 0, v[1] >= 0, v[2] > 0, v[3] > 0, v[0] + v[2] <= hr.width, v[1] + v[3] <= hr.height else {
            throw ValidationError("--region \(region) is not X,Y,W,H inside \(f) (\(hr.width)×\(hr.height))")
          }
          hr = hr.crop(x: v[0], y: v[1], width: v[2], height: v[3])
        }
        guard let row = try evaluation.evaluate(hr) else { continue }
        sums.add(row.scores)
        print(pad(f, 22) + pad("\(row.original.width)×\(row.original.height)", 10)
              + row.scores.map { lpad(String(format: "%.2f / %.4f", $0.psnr, $0.ssim), 18) }.joined())
        if let pictures {
          try FileManager.default.createDirectory(atPath: pictures, withIntermediateDirectories: true)
          let name = (f as NSString).deletingPathExtension + "-sr.png"
          try PNG.write(row.picture, to: fileURL(pictures).appendingPathComponent(name))
        }
        fflush(nil)
      }
      print(pad("mean", 32) + sums.means(count: files.count).map { lpad(String(format: "%.2f / %.4f", $0.psnr, $0.ssim), 18) }.joined())
    }
  }
}
