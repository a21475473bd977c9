import ArgumentParser
import Compute
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
      var sums = [Double](repeating: 0, count: 6)
      for f in files {
        var (hr, _) = try ImageFile.read(fileURL(dir).appendingPathComponent(f))
        if let region {
          let v = region.split(separator: ",").compactMap { Int($0) }
          guard v.count == 4, v[0] >= 0, v[1] >= 0, v[2] > 0, v[3] > 0, v[0] + v[2] <= hr.width, v[1] + v[3] <= hr.height else {
            throw ValidationError("--region \(region) is not X,Y,W,H inside \(f) (\(hr.width)×\(hr.height))")
          }
          hr = hr.crop(x: v[0], y: v[1], width: v[2], height: v[3])
        }
        let w = min(maxSize, hr.width) / 4 * 4, h = min(maxSize, hr.height) / 4 * 4
        guard w >= 48 && h >= 48 else { continue }
        hr = hr.crop(x: (hr.width - w) / 2, y: (hr.height - h) / 2, width: w, height: h)
        let lr = Resize.resize(hr, width: w / 4, height: h / 4, filter: .bicubic).clamped()
        let bic = Resize.resize(lr, width: w, height: h, filter: .bicubic).clamped()
        var outs = [bic]
        for m in models { outs.append(try m.upscale(lr).clamped()) }
        var cells: [String] = []
        for (i, o) in outs.enumerated() {
          let p = Metrics.psnrY(o, hr), s = Metrics.ssimY(o, hr)
          sums[2 * i] += p; sums[2 * i + 1] += s
          cells.append(lpad(String(format: "%.2f / %.4f", p, s), 18))
        }
        print(pad(f, 22) + pad("\(w)×\(h)", 10) + cells.joined())
        if let pictures {
          try FileManager.default.createDirectory(atPath: pictures, withIntermediateDirectories: true)
          let name = (f as NSString).deletingPathExtension + "-sr.png"
          try PNG.write(Image.row([nearestUp(lr, 4), outs[0], outs[1], outs[2], hr]), to:
                          fileURL(pictures).appendingPathComponent(name))
        }
        fflush(nil)
      }
      let n = Double(files.count)
      print(pad("mean", 32) + (0..<3).map { lpad(String(format: "%.2f / %.4f", sums[2 * $0] / n, sums[2 * $0 + 1] / n), 18) }.joined())
    }
  }

  func nearestUp(_ im: Image, _ s: Int) -> Image {
    var o = Image(width: im.width * s, height: im.height * s, channels: im.channels)
    for c in 0..<im.channels { for y in 0..<o.height { for x in 0..<o.width { o[c, y, x] = im[c, y / s, x / s] } } }
    return o
  }
}
