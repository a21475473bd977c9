import ArgumentParser
import Compute
import FaceDetection
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
      Alpha: the input's alpha channel is written back to PNG and WebP outputs. When the hole came from \
      the alpha channel (no --mask, --masks or --mask-type), the filled pixels become opaque.
      """)

  @Argument(help: "Input image (PNG, JPEG or WebP; any size, hole within a 256×256 window), or a folder of them.")
  var input: String
  @Option(name: .shortAndLong, help: "Output image, same size as the input (.png, .jpg, .jpeg, .webp), or a folder for a folder input.")
  var output: String
  @Option(help: "Folder runs: folder of masks matched to the images by file stem (an image without one falls back to --mask-type or its alpha).")
  var masks: String?
  @OptionGroup var maskOptions: MaskOptions
  @OptionGroup var opt: OptimisationOptions
  @Option(help: "Super-resolution model: srresnet or srgan.") var srModel: SRModel = .srresnet
  @Option(help: "Blending of the generated 64×64 pixels: poisson, alpha or none.") var blend: String = "poisson"
  @Option(help: "Blending of the full-resolution merge: poisson or alpha.") var merge: String = "poisson"
  @Option(help: "Write every stage here: input64, mask64, generated64, inpainted64, superres, merged.") var keepIntermediates: String?
  @Option(help: "Write a picture: input | masked input | result.") var grid: String?
  @OptionGroup var framing: FramingOptions
  @OptionGroup var runOptions: RunOptions
  @OptionGroup var weightOptions: WeightOptions
  @OptionGroup var deviceOptions: DeviceOptions

  func run() throws {
    guarded {
      guard let b64 = BlendMode(rawValue: blend) else { throw ValidationError("--blend must be poisson, alpha or none") }
      guard let mg = BlendMode(rawValue: merge), mg != .none else { throw ValidationError("--merge must be poisson or alpha") }
      if masks != nil && maskOptions.mask != nil { throw ValidationError("pass --mask (one for all) or --masks (a folder), not both") }
      let plan = try RunPlan.make(input: input, output: output, masks: masks, options: runOptions)
      if plan.folder && (keepIntermediates != nil || grid != nil) {
        throw ValidationError("--keep-intermediates and --grid are for single images")
      }
      // A single image is checked before any model loads (a hole too large fails here).
      if !plan.folder { _ = try prepare(plan.jobs[0]) }
      let detector = try framing.detector(weightOptions)
      let (gen, disc) = try opt.loadModels(weightOptions)
      let cfg = try opt.config(haveDiscriminator: disc != nil)
      let device = deviceOptions.makeDevice()
      let sr = try SRResNet(weights: try WeightStore.load(srModel.file, override: weightOptions.weights))
      let completer = Completer(
        inpainter: try Inpainter(generator: gen, discriminator: disc, device: device, images: 1, config: cfg),
        upscaler: try Upscaler(model: sr, device: device), blend64: b64, merge: mg)
      try runJobs(plan, options: runOptions, label: "complete", device: device.name) { job, info in
        let (im, alpha, mask, fromAlpha) = try prepare(job)
        (info.width, info.height) = (im.width, im.height)
        let start = Date()
        var last = ""
        var bar: Progress? = nil
        let (stages, _) = try FramingOptions.complete(completer, im, mask: mask, detector: detector, quiet: plan.folder) {
          stage, done, total in
          if plan.folder { return }
          if stage != last { bar = Progress(label: "complete [\(stage)] on \(device.name):"); last = stage }
          if stage == "inpaint" && done % 10 != 0 && done != total { return }
          bar?.update(done, total)
        }
        (info.initialLoss, info.finalLoss) = (stages.result.initialTotalLoss, stages.result.totalLoss)
        // All outputs of the image appear together or not at all (StagedFiles).
        let staged = StagedFiles()
        if let dir = keepIntermediates {
          let u = fileURL(dir)
          try staged.directory(u)
          for (name, image) in [("1-input64", stages.input64), ("2-mask64", stages.mask64.image), ("3-generated64", stages.generated64),
                                ("4-inpainted64", stages.inpainted64), ("5-superres", stages.superResolved), ("6-merged", stages.merged)] {
            try staged.add(PNG.encode(image), to: u.appendingPathComponent("\(name).png"))
          }
        }
        if let grid { try stageImage(Image.row([im, masked(im, mask), stages.merged]), to: fileURL(grid), staged) }
        try writeOutput(stages.merged, alpha: filledAlpha(alpha, missing: mask.missing, holeFromAlpha: fromAlpha),
                        to: job.output, quality: runOptions.quality, staged: staged)
        try staged.commit()
        if !plan.folder {
          let w = stages.window
          standardError.write(Data(String(format: "complete: %d×%d, window %d×%d at (%d, %d), %.1f s on %@ -> %@\n",
            im.width, im.height, w.width, w.height, w.x, w.y, Date().timeIntervalSince(start), device.name, output).utf8))
        }
      }
    }
  }

  func prepare(_ job: Job) throws -> (Image, Image?, Mask, Bool) {
    let (im, alpha) = try ImageFile.read(job.input)
    let (mask, fromAlpha) = try maskOptions.resolve(for: im, alpha: alpha, file: job.mask)
    try mask.validate(for: im)
    _ = try Completer.window(for: mask)
    return (im, alpha, mask, fromAlpha)
  }
}

/// Face framing for `complete` and `eval complete`.
struct FramingOptions: ParsableArguments {
  @Option(help: "Face framing: auto (find the face around the hole with a Haar cascade and complete the square window that frames it the way the face generator was trained; the hole-centred window, with a notice, when none is found) or off (the whole image up to 256×256, else a window centred on the hole).")
  var frame: String = "auto"
  @Option(help: "Haar cascade XML for --frame auto (default: $MEND_FACE_CASCADE, else haarcascade_frontalface_default.xml in the weights folder, else OpenCV's opencv-data package).")
  var faceCascade: String?

  /// The detector, or nil when framing is off or no cascade is found (then a notice is printed).
  func detector(_ weights: WeightOptions) throws -> FaceDetector? {
    switch frame {
    case "off": return nil
    case "auto": break
    default: throw ValidationError("--frame must be auto or off")
    }
    do {
      return try FaceDetector(cascade: faceCascade.map(fileURL), weightsDirectory: WeightStore.directory(override: weights.weights))
    } catch let e as CascadeError where faceCascade == nil {
      standardError.write(Data("mend: note: face framing off: \(e.description)\n".utf8))
      return nil
    }
  }

  /// Completes with framing when a detector is given, else on the default window; says which
  /// window was used unless `quiet`. Returns the stages and whether a face framed the window.
  static func complete(_ completer: Completer, _ image: Image, mask: Mask, detector: FaceDetector?, quiet: Bool,
                       progress: (String, Int, Int) -> Void) throws -> (Completer.Stages, Bool) {
    guard let detector else { return (try completer.complete(image, mask: mask, progress: progress), false) }
    let (st, how) = try completer.completeFramed(image, mask: mask, finder: detector, progress: progress)
    let w = st.window
    let note: String
    switch how {
    case .face(let x, let y, let fw, let fh), .faceAfterFirstPass(let x, let y, let fw, let fh):
      let second = { if case .faceAfterFirstPass = how { return " (found after a first pass: the hole hid it)" } else { return "" } }()
      note = "complete: face \(fw)×\(fh) at (\(x), \(y))\(second); framed window \(w.width)×\(w.height) at (\(w.x), \(w.y))\n"
    case .none:
      note = "mend: note: no face found around the hole; completed the default window (--frame off skips the search)\n"
    }
    if !quiet { standardError.write(Data(note.utf8)) }
    return (st, how != .none)
  }
}
