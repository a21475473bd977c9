import ArgumentParser
import Compute
import Evaluation
import Foundation
import Imaging
import Inpainting
import Models
import Pipeline
import SuperResolution

/// Loads the PNGs of a folder (sorted), as RGB.
func loadFolder(_ dir: String) throws -> [(String, Image)] {
  let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.lowercased().hasSuffix(".png") }.sorted()
  guard !files.isEmpty else { throw ValidationError("\(dir): no PNG images") }
  return try files.map { ($0, try ImageFile.read(fileURL(dir).appendingPathComponent($0)).rgb) }
}

/// Writes image, mask and results for Tools/opencv_baseline.py when `--out` was given.
func saveCase(_ dir: String?, _ name: String, image: Image, mask: Mask, results: [(String, Image)]) throws {
  guard let dir else { return }
  try EvaluationCase.save(in: fileURL(dir), name: name, image: image, mask: mask, results: results)
}

func scoreRow(_ name: String, _ size: String, _ scores: [Score]) -> String {
  pad(name, 24) + pad(size, 10) + scores.map { lpad(String(format: "%.2f / %.4f", $0.psnr, $0.ssim), 18) }.joined()
}

struct EvalInpaint: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inpaint",
    abstract: "Masked-region PSNR/SSIM of 64×64 inpainting (all images in one batch) against a mean fill.",
    discussion: "Images are area-resized to 64×64. With --out, images, masks and results are saved for Tools/opencv_baseline.py.")

  @Argument(help: "Folder of face PNGs.") var dir: String
  @OptionGroup var maskOptions: MaskOptions
  @OptionGroup var opt: OptimisationOptions
  @Option(help: "Save images, masks and results here.") var out: String?
  @Option(help: ArgumentHelp("Also tune the generator from the same latent-search results with each of these settings, "
    + "'STEPS:LR:PULL:ZLR:SCHEDULE[LAYERS]' separated by commas (A all layers, I progressive from the image side, L from z; LAYERS 1…5); one mean row each, saved as tuneN.",
    valueName: "specs"))
  var tuneGrid: String?
  @Option(help: ArgumentHelp("Also score the mean of G(ẑ) over the K best starts for each K, from the same search: one mean row each, saved as avgK.",
    valueName: "K,K,…"))
  var averageGrid: String?
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func parseGrid(_ s: String) throws -> [GeneratorTuning] {
    try s.split(separator: ",").map { spec in
      let f = spec.split(separator: ":").map(String.init)
      guard f.count == 5, let steps = Int(f[0]), let lr = Float(f[1]), let pull = Float(f[2]), let zlr = Float(f[3]),
            let sch = ["A": GeneratorTuning.Schedule.allLayers, "I": .fromImage, "L": .fromLatent][String(f[4].prefix(1))],
            let n = f[4].count == 1 ? 5 : Int(f[4].dropFirst()), steps > 0, n >= 1, n <= 5 else {
        throw ValidationError("--tune-grid: '\(spec)' is not STEPS:LR:PULL:ZLR:(A|I|L)[LAYERS]")
      }
      var t = GeneratorTuning()
      t.steps = steps; t.learningRate = lr; t.pull = pull; t.latentLearningRate = zlr; t.schedule = sch; t.layerCount = n
      return t
    }
  }

  func run() throws {
    guarded {
      let grid = try tuneGrid.map(parseGrid) ?? []
      let averages = try (averageGrid ?? "").split(separator: ",").map { f -> Int in
        guard let k = Int(f), k >= 1 else { throw ValidationError("--average-grid: '\(f)' is not a count ≥ 1") }
        return k
      }
      let items = try loadFolder(dir).map { ($0.0, Resize.resize($0.1, width: 64, height: 64, filter: .area).clamped()) }
      let masks = try items.map { try maskOptions.make(for: $0.1, alpha: nil) }
      let (gen, disc) = try opt.loadModels(weightOptions)
      let cfg = try opt.config(haveDiscriminator: disc != nil)
      let device = deviceOptions.makeDevice()
      let inp = try Inpainter(generator: gen, discriminator: disc, device: device, images: items.count, config: cfg)
      let progress = Progress(label: "eval inpaint (\(items.count) images × \(cfg.starts) starts) on \(device.name): iteration")
      let results = try inp.run(items.map(\.1), masks: masks) { it, _ in progress.update(it, cfg.iterations) }
      let tuned = cfg.tuning.steps > 0
      let tn = cfg.tuning
      print("# inpainting at 64×64 on \(device.name), λ \(cfg.lambda)\(disc == nil ? " (no discriminator)" : ""), "
            + "\(cfg.iterations) iterations, \(cfg.starts) starts, seed \(cfg.seed)"
            + (tuned ? ", generator tuning \(tn.steps) steps (lr \(tn.learningRate), z lr \(tn.latentLearningRate), pull \(tn.pull), "
                + "schedule \(tn.schedule.rawValue), \(tn.layerCount) layers)" : "")
            + "; masked PSNR dB / masked SSIM")
      print(String(format: "# time: latent search %.2f s (%.3f s per image), generator tuning %.2f s (%.3f s per image)",
                   inp.lastTimings.search, inp.lastTimings.search / Double(items.count),
                   inp.lastTimings.tuning, inp.lastTimings.tuning / Double(items.count)))
      print(pad("image", 24) + pad("size", 10) + (["mean fill", "ours (poisson)", "ours (alpha)"] + (tuned ? ["untuned (poisson)"] : []))
        .map { lpad($0, 18) }.joined())
      var sums = ScoreSums(columns: tuned ? 4 : 3)
      for (k, (name, im)) in items.enumerated() {
        let row = InpaintingEvaluation.score(im, mask: masks[k], result: results[k])
        sums.add(row.scores)
        print(scoreRow(name, "64×64", row.scores))
        try saveCase(out, name, image: im, mask: masks[k], results: row.saved)
      }
      print(scoreRow("mean", "", sums.means(count: items.count)))
      for k in averages {
        guard k <= cfg.starts else { throw ValidationError("--average-grid: \(k) is more than --starts (\(cfg.starts))") }
        var avg = ScoreSums(columns: 1)
        for (i, (name, im)) in items.enumerated() {
          let pois = Blend.blend(source: Inpainter.mean(results[i].candidates.prefix(k)), into: im, mask: masks[i], mode: .poisson).0
          avg.add([Score.masked(pois, im, mask: masks[i])])
          if let out {
            try PNG.write(pois, to: fileURL(out).appendingPathComponent("\((name as NSString).deletingPathExtension).avg\(k).png"))
          }
        }
        let mean = avg.means(count: items.count)[0]
        print(String(format: "avg%d: mean of the %d best starts (poisson): mean %.2f / %.4f", k, k, mean.psnr, mean.ssim))
      }
      for (gi, t) in grid.enumerated() {
        var c2 = cfg
        c2.tuning = t
        let tuner = try GeneratorTuner(generator: gen, discriminator: disc, device: device, config: c2)
        let (mean, perImage) = try InpaintingEvaluation.tuned(
          tuner, images: items.map(\.1), masks: masks, latents: results.map(\.latent)) { k, pois in
            if let out {
              try PNG.write(pois, to: fileURL(out).appendingPathComponent("\((items[k].0 as NSString).deletingPathExtension).tune\(gi).png"))
            }
          }
        print(String(format: "tune%d steps %d lr %g pull %g zlr %g %@ %d layers: mean %.2f / %.4f  (%.3f s per image)", gi, t.steps,
                     t.learningRate, t.pull, t.latentLearningRate, t.schedule.rawValue, t.layerCount, mean.psnr, mean.ssim, perImage))
        fflush(nil)
      }
    }
  }
}

struct EvalComplete: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "complete",
    abstract: "Masked PSNR/SSIM at full resolution of the pipeline vs the same pipeline with bicubic instead of SR.",
    discussion: "With --out, images, masks and results are saved for Tools/opencv_baseline.py (OpenCV Telea/NS at full resolution).")

  @Argument(help: "Folder of PNGs up to 256×256 (larger ones use a 256×256 window around the hole).") var dir: String
  @OptionGroup var maskOptions: MaskOptions
  @OptionGroup var opt: OptimisationOptions
  @Option(help: "srresnet or srgan.") var srModel: SRModel = .srresnet
  @Option(help: "Save images, masks and results here.") var out: String?
  @OptionGroup var framing: FramingOptions
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      let items = try loadFolder(dir)
      let detector = try framing.detector(weightOptions)
      var framed = 0
      let (gen, disc) = try opt.loadModels(weightOptions)
      let cfg = try opt.config(haveDiscriminator: disc != nil)
      let device = deviceOptions.makeDevice()
      let sr = try SRResNet(weights: try WeightStore.load(srModel.file, override: weightOptions.weights))
      let completer = Completer(inpainter: try Inpainter(generator: gen, discriminator: disc, device: device, images: 1, config: cfg),
                                upscaler: try Upscaler(model: sr, device: device))
      print("# completion at full resolution on \(device.name), \(cfg.iterations) iterations, \(cfg.starts) starts, "
            + "\(srModel.rawValue); masked PSNR dB / masked SSIM")
      print(pad("image", 24) + pad("size", 10) + ["64 + bicubic", "64 + \(srModel.rawValue)"].map { lpad($0, 18) }.joined())
      var sums = ScoreSums(columns: 2)
      for (name, im) in items {
        let m = try maskOptions.make(for: im, alpha: nil)
        let row = try CompletionEvaluation.evaluate(completer, image: im, mask: m, finder: detector)
        framed += row.framed ? 1 : 0
        sums.add(row.scores)
        print(scoreRow(name, "\(im.width)×\(im.height)", row.scores))
        fflush(nil)
        try saveCase(out, name, image: im, mask: m, results: [("mend", row.superResolved), ("mend64bicubic", row.bicubic)])
      }
      print(scoreRow("mean", "", sums.means(count: items.count)))
      if detector != nil { print("# face framing: \(framed) of \(items.count) images framed on a detected face, the rest on the default window") }
    }
  }
}
