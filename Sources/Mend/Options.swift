import Inpainting
import Models

/// Settings of semantic inpainting (Yeh et al. 2016): the latent vector z of the face generator is
/// optimised with Adam so that G(z) matches the known pixels, under a realism prior from the
/// discriminator. The defaults are the CLI's defaults.
public struct InpaintOptions: Sendable, Hashable {
  /// The realism prior's form.
  public enum Prior: String, Sendable, Hashable, CaseIterable {
    /// λ·log(1 − D(G(z))), as in Yeh et al.
    case logOneMinusD = "log1md"
    /// −λ·log D(G(z)), the non-saturating form.
    case nonSaturating = "nonsat"
  }

  /// Adam iterations on z (0 evaluates the starting latents only).
  public var iterations: Int
  /// Starting latents optimised together in one batch; the one with the lowest total loss wins.
  public var starts: Int
  /// The fill is the mean of G(ẑ) over this many of the best starts (all of them when there are
  /// fewer; 1: the best start alone, as in the paper). Default 4: on held-out real faces it scores
  /// higher and varies less from seed to seed than the best start alone (docs/inpainting-eval.md).
  public var average: Int = InpaintConfig().average
  /// Weight λ of the discriminator prior (0 turns it off and skips loading the discriminator).
  public var lambda: Float
  /// The prior's form.
  public var prior: Prior
  /// Side of the importance-weight window (odd): known pixels near the hole weigh more.
  public var window: Int
  /// Adam learning rate on z.
  public var learningRate: Float
  /// Weight γ of a Gaussian prior γ/2·‖z‖²; nil means 0.01 when no discriminator weights are
  /// available and 0 otherwise.
  public var gaussianPrior: Float?
  /// Seed of the starting latents: the same seed, options and device give the same result.
  public var seed: UInt64
  /// How the generated pixels are blended into the hole.
  public var blend: BlendMode
  /// Which face generator and discriminator to use (`FaceModel.default`, the photo model, unless set).
  public var faceModel: FaceModel = .default

  /// The CLI's defaults: 1000 iterations, 8 starts, λ = 0.1, log(1 − D), window 7, learning rate
  /// 0.03, seed 0, Poisson blending.
  public init(
    iterations: Int = 1000, starts: Int = 8, lambda: Float = 0.1, prior: Prior = .logOneMinusD,
    window: Int = 7, learningRate: Float = 0.03, gaussianPrior: Float? = nil, seed: UInt64 = 0,
    blend: BlendMode = .poisson
  ) {
    self.iterations = iterations
    self.starts = starts
    self.lambda = lambda
    self.prior = prior
    self.window = window
    self.learningRate = learningRate
    self.gaussianPrior = gaussianPrior
    self.seed = seed
    self.blend = blend
  }

  func validate() throws {
    guard (0...100_000).contains(iterations) else { throw MendError.invalidArgument("iterations must be 0…100000") }
    guard (1...256).contains(starts) else { throw MendError.invalidArgument("starts must be 1…256") }
    guard (1...256).contains(average) else { throw MendError.invalidArgument("average must be 1…256") }
    guard (1...63).contains(window), window % 2 == 1 else { throw MendError.invalidArgument("window must be odd, 1…63") }
    guard learningRate > 0, lambda >= 0, (gaussianPrior ?? 0) >= 0 else {
      throw MendError.invalidArgument("learning rate must be positive; λ and γ must not be negative")
    }
  }

  func config(haveDiscriminator: Bool) -> InpaintConfig {
    var c = InpaintConfig()
    c.iterations = iterations
    c.starts = starts
    c.average = average
    c.lambda = lambda
    c.prior = prior == .logOneMinusD ? .logOneMinusD : .nonSaturating
    c.window = window
    c.learningRate = learningRate
    c.seed = seed
    c.gaussianPrior = gaussianPrior ?? (haveDiscriminator ? 0 : 0.01)
    return c
  }
}

/// The pretrained 4× super-resolution models.
public enum SuperResolutionModel: String, Sendable, Hashable, CaseIterable {
  /// SRResNet trained with MSE: the higher PSNR, smoother textures.
  case srresnet
  /// The same network after SRGAN fine-tuning: sharper textures, lower PSNR.
  case srgan

  /// The weights file in the weights folder.
  public var weightsFile: String { self == .srresnet ? WeightStore.srresnet : WeightStore.srgan }
}

/// Settings of 4× super-resolution.
public struct SuperResolutionOptions: Sendable, Hashable {
  /// The model.
  public var model: SuperResolutionModel
  /// Window side in low-resolution pixels for tiled runs (more than twice the receptive field,
  /// 80 for SRResNet-16); nil runs the image whole when it fits the device's memory budget and in
  /// the largest fitting windows otherwise. The output is the same either way.
  public var tile: Int?

  /// SRResNet, untiled where memory allows.
  public init(model: SuperResolutionModel = .srresnet, tile: Int? = nil) {
    self.model = model
    self.tile = tile
  }
}

/// Settings of ``Mender/complete(_:mask:options:progress:cancellation:)``: inpainting at 64×64,
/// 4× super-resolution, and the merge into the full-resolution image.
public struct CompletionOptions: Sendable, Hashable {
  /// The 64×64 inpainting; its `blend` blends the generated pixels at 64×64.
  public var inpaint: InpaintOptions
  /// The super-resolution model.
  public var model: SuperResolutionModel
  /// Blending of the full-resolution merge: `.poisson` or `.alpha` (`.none` means `.alpha`).
  public var merge: BlendMode
  /// Frame the face around the hole the way the face generator was trained (a Haar cascade finds
  /// it; see ``CompletedImage/framing``); false completes the whole image up to 256×256, else a
  /// window centred on the hole.
  public var frameFace: Bool

  /// The CLI's defaults: default inpainting, SRResNet, Poisson merge, face framing.
  public init(
    inpaint: InpaintOptions = .init(), model: SuperResolutionModel = .srresnet, merge: BlendMode = .poisson,
    frameFace: Bool = true
  ) {
    self.inpaint = inpaint
    self.model = model
    self.merge = merge
    self.frameFace = frameFace
  }
}
