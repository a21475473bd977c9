import Compute
import FaceDetection
import Foundation
import Imaging
import Inpainting
import Models
import Pipeline
import SuperResolution

/// Repairs images with the pretrained generative networks: the library behind the `mend` CLI.
///
/// ```swift
/// import Mend
///
/// let mender = try Mender(device: .auto)
/// let (face, alpha) = try ImageFile.read(URL(fileURLWithPath: "face.png"))
/// let filled = try mender.inpaint(face, mask: .fromAlpha(alpha!))
/// try ImageFile.write(filled.image, to: URL(fileURLWithPath: "filled.png"))
/// ```
///
/// Models load on first use and stay loaded; compiled plans are reused while the options stay the
/// same, so repeated calls pay only for computing. A `Mender` runs one call at a time: calls from
/// several threads wait for each other. Every call takes an optional progress callback and an
/// optional ``CancellationToken``; the `async` forms run on a background thread and stop when their
/// task is cancelled.
public final class Mender: @unchecked Sendable {
  /// The device every call computes on.
  public let device: any Device
  /// The folder the pretrained weights are read from.
  public let weightsDirectory: URL

  private let guarded: CancellableDevice
  private let lock = NSLock()
  private var generators: [FaceModel: DCGANGenerator] = [:]
  private var discriminators: [FaceModel: DCGANDiscriminator?] = [:]
  private var srModels: [SuperResolutionModel: SRResNet] = [:]
  private var detector: FaceDetector??
  private var upscalers: [SuperResolutionOptions: Upscaler] = [:]
  // One cached inpainter: its plan is compiled for fixed options and batch size.
  private var inpainter: (key: InpainterKey, value: Inpainter)?

  private struct InpainterKey: Hashable {
    var options: InpaintOptions
    var images: Int
  }

  /// Opens a device and points at the weights; nothing is loaded until the first call.
  ///
  /// - Parameters:
  ///   - device: Where to compute (``DeviceSelection/auto`` by default).
  ///   - threads: CPU threads (nil: every core).
  ///   - weightsDirectory: The folder with the `.safetensors` files; nil means `$MEND_WEIGHTS`,
  ///     else `$XDG_DATA_HOME/mend/weights`, else `~/.local/share/mend/weights`.
  /// - Throws: ``MendError/deviceUnavailable(_:)``.
  public convenience init(device: DeviceSelection = .auto, threads: Int? = nil, weightsDirectory: URL? = nil) throws {
    self.init(device: try device.makeDevice(threads: threads), weightsDirectory: weightsDirectory)
  }

  /// Uses a device opened by the caller (a `CPUDevice` or `OpenCLDevice` from the lower modules).
  public init(device: any Device, weightsDirectory: URL? = nil) {
    self.device = device
    self.weightsDirectory = weightsDirectory ?? WeightStore.directory()
    guarded = CancellableDevice(device)
  }

  /// Loads every model the default options use, so that the first call's time is compute only.
  ///
  /// - Parameters:
  ///   - model: The super-resolution network to load.
  ///   - faceModel: The face generator and discriminator to load.
  /// - Throws: ``MendError/missingWeights(_:)`` when a required weights file is missing.
  public func preload(superResolution model: SuperResolutionModel = .srresnet, faceModel: FaceModel = .default) throws {
    try locked(nil) {
      _ = try loadGenerator(faceModel)
      _ = try loadDiscriminator(faceModel)
      _ = try loadSR(model)
    }
  }

  // MARK: - Inpainting

  /// Fills the hole of a 64×64 RGB image with the face generator's best explanation of the known
  /// pixels.
  ///
  /// - Parameters:
  ///   - image: 64×64, 3 channels, values in [0, 1].
  ///   - mask: Same size; `true` marks a missing pixel.
  ///   - options: The latent optimisation's settings.
  ///   - progress: Called every 10 iterations and at the end, on the calling thread.
  ///   - cancellation: Stops the run with ``MendError/cancelled``.
  /// - Returns: The filled image and the optimisation's outcome.
  public func inpaint(
    _ image: Image, mask: Mask, options: InpaintOptions = .init(),
    progress: (MendProgress) -> Void = { _ in }, cancellation: CancellationToken? = nil
  ) throws -> InpaintedImage {
    try inpaint([image], masks: [mask], options: options, progress: progress, cancellation: cancellation)[0]
  }

  /// Inpaints several 64×64 images in one batch (faster per image than one call each).
  ///
  /// `progress` reports the best total loss averaged over the images. See
  /// ``inpaint(_:mask:options:progress:cancellation:)``.
  public func inpaint(
    _ images: [Image], masks: [Mask], options: InpaintOptions = .init(),
    progress: (MendProgress) -> Void = { _ in }, cancellation: CancellationToken? = nil
  ) throws -> [InpaintedImage] {
    try options.validate()
    guard !images.isEmpty, images.count == masks.count else {
      throw MendError.invalidArgument("inpaint: need one mask per image (\(images.count) images, \(masks.count) masks)")
    }
    for (im, m) in zip(images, masks) {
      guard im.width == 64, im.height == 64, im.channels == 3 else {
        throw MendError.invalidArgument(
          "inpaint works at the generator's 64×64 RGB, got \(im.width)×\(im.height)×\(im.channels); use complete for larger images"
        )
      }
      try m.validate(for: im)
    }
    return try locked(cancellation) {
      let inp = try makeInpainter(options, images: images.count)
      let results = try inp.run(images, masks: masks) { it, losses in
        progress(
          MendProgress(
            stage: .inpaint, completed: it, total: options.iterations,
            loss: losses.reduce(0, +) / Float(losses.count)))
      }
      return zip(zip(images, masks), results).map { pair, r in
        let (filled, _) = Blend.blend(source: r.generated, into: pair.0, mask: pair.1, mode: options.blend)
        return InpaintedImage(image: filled, result: r)
      }
    }
  }

  // MARK: - Super-resolution

  /// Upscales an RGB image 4× with SRResNet or SRGAN.
  ///
  /// Any size runs: an image too large for the device's memory budget runs in windows whose
  /// outputs are exactly those of one pass over the whole image.
  ///
  /// - Parameters:
  ///   - image: 3 channels, values in [0, 1].
  ///   - options: Model and tiling.
  ///   - progress: Called after each window, on the calling thread.
  ///   - cancellation: Stops the run with ``MendError/cancelled``.
  /// - Returns: The image at 4× the width and height, clamped to [0, 1].
  public func superResolve(
    _ image: Image, options: SuperResolutionOptions = .init(),
    progress: (MendProgress) -> Void = { _ in }, cancellation: CancellationToken? = nil
  ) throws -> Image {
    guard image.channels == 3, image.width > 0, image.height > 0 else {
      throw MendError.invalidArgument("super-resolution takes a non-empty 3-channel image, got \(image.channels) channels")
    }
    return try locked(cancellation) {
      try makeUpscaler(options).upscale(image) { done, total in
        progress(MendProgress(stage: .superResolve, completed: done, total: total))
      }.clamped()
    }
  }

  // MARK: - Completion

  /// Completes a hole in an image up to 256×256, or in a larger image whose hole fits a 256×256
  /// window: inpainting at 64×64, 4× super-resolution, and a merge that changes only the hole.
  ///
  /// - Parameters:
  ///   - image: 3 channels, values in [0, 1], any size.
  ///   - mask: Same size; `true` marks a missing pixel.
  ///   - options: Inpainting, model and merge settings.
  ///   - progress: Called through the stages `inpaint`, `superResolve`, `merge`.
  ///   - cancellation: Stops the run with ``MendError/cancelled``.
  /// - Returns: The completed image (known pixels bit-identical) and the intermediate stages.
  /// - Throws: ``MendError/invalidArgument(_:)`` when the hole does not fit a 256×256 window or
  ///   covers every pixel at 64×64.
  public func complete(
    _ image: Image, mask: Mask, options: CompletionOptions = .init(),
    progress: (MendProgress) -> Void = { _ in }, cancellation: CancellationToken? = nil
  ) throws -> CompletedImage {
    try options.inpaint.validate()
    guard image.channels == 3 else {
      throw MendError.invalidArgument("complete takes an RGB image, got \(image.channels) channels")
    }
    try mask.validate(for: image)
    do {
      _ = try Completer.window(for: mask)
    } catch let e as CompletionError {
      throw MendError.invalidArgument(e.description)
    }
    return try locked(cancellation) {
      let completer = Completer(
        inpainter: try makeInpainter(options.inpaint, images: 1),
        upscaler: try makeUpscaler(SuperResolutionOptions(model: options.model)),
        blend64: options.inpaint.blend, merge: options.merge == .none ? .alpha : options.merge)
      let report = { (stage: String, done: Int, total: Int) in
        switch stage {
        case "inpaint": progress(MendProgress(stage: .inpaint, completed: done, total: total))
        case "superres": progress(MendProgress(stage: .superResolve, completed: done, total: total))
        default: progress(MendProgress(stage: .merge, completed: done, total: total))
        }
      }
      do {
        guard options.frameFace, let detector = faceDetector() else {
          return CompletedImage(stages: try completer.complete(image, mask: mask, progress: report), framing: .off)
        }
        let (stages, how) = try completer.completeFramed(image, mask: mask, finder: detector, progress: report)
        return CompletedImage(stages: stages, framing: FaceFraming(how))
      } catch let e as CompletionError {
        throw MendError.invalidArgument(e.description)
      }
    }
  }

  // MARK: - Models and plans

  /// Runs `body` alone on this Mender with `token` watched by the device.
  private func locked<T>(_ token: CancellationToken?, _ body: () throws -> T) throws -> T {
    lock.lock()
    defer {
      guarded.token = nil
      lock.unlock()
    }
    if let token, token.isCancelled { throw MendError.cancelled }
    guarded.token = token
    return try body()
  }

  private func weights(_ name: String) throws -> WeightSet {
    let url = weightsDirectory.appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw MendError.missingWeights(
        "weights not found: \(url.path) (run Tools/fetch-weights, or pass the folder as weightsDirectory / set MEND_WEIGHTS)")
    }
    return try WeightSet(contentsOf: url)
  }

  private func loadGenerator(_ model: FaceModel) throws -> DCGANGenerator {
    if let g = generators[model] { return g }
    let g = try DCGANGenerator(weights: try weights(model.generatorFile))
    generators[model] = g
    return g
  }

  /// The discriminator with logits output, or nil when its weights are absent (the prior is then
  /// replaced by a Gaussian prior on z, as in the CLI).
  private func loadDiscriminator(_ model: FaceModel) throws -> DCGANDiscriminator? {
    if let d = discriminators[model] { return d }
    let url = weightsDirectory.appendingPathComponent(model.discriminatorFile)
    let d =
      FileManager.default.fileExists(atPath: url.path)
      ? try DCGANDiscriminator(weights: try WeightSet(contentsOf: url), logits: true) : nil
    discriminators[model] = .some(d)
    return d
  }

  /// The face detector for framing, or nil when no cascade is found (framing is then off).
  private func faceDetector() -> FaceDetector? {
    if let d = detector { return d }
    let d = try? FaceDetector(weightsDirectory: weightsDirectory)
    detector = .some(d)
    return d
  }

  private func loadSR(_ model: SuperResolutionModel) throws -> SRResNet {
    if let m = srModels[model] { return m }
    let m = try SRResNet(weights: try weights(model.weightsFile))
    srModels[model] = m
    return m
  }

  private func makeInpainter(_ options: InpaintOptions, images: Int) throws -> Inpainter {
    var keyOptions = options
    keyOptions.blend = .poisson  // blending happens after the plan
    let key = InpainterKey(options: keyOptions, images: images)
    if let inpainter, inpainter.key == key { return inpainter.value }
    inpainter = nil  // free the previous plan's memory before compiling the next
    let gen = try loadGenerator(options.faceModel)
    let disc = options.lambda != 0 ? try loadDiscriminator(options.faceModel) : nil
    let inp = try Inpainter(
      generator: gen, discriminator: disc, device: guarded, images: images,
      config: options.config(haveDiscriminator: disc != nil))
    inpainter = (key, inp)
    return inp
  }

  private func makeUpscaler(_ options: SuperResolutionOptions) throws -> Upscaler {
    if let u = upscalers[options] { return u }
    if let tile = options.tile, tile <= 0 { throw MendError.invalidArgument("tile must be positive") }
    let u: Upscaler
    do {
      u = try Upscaler(model: try loadSR(options.model), device: guarded, tile: options.tile)
    } catch let e as ComputeError {
      throw MendError.invalidArgument("\(e)")
    }
    upscalers[options] = u
    return u
  }
}
