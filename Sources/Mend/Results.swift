import Imaging
import Inpainting
import Pipeline

/// The outcome of inpainting one image.
public struct InpaintedImage: Sendable {
  /// The input with its hole filled (known pixels blended per ``InpaintOptions/blend``), [0, 1].
  public let image: Image
  /// The generated fill's whole 64×64 image, [0, 1]: the mean of G(ẑ) over the
  /// ``InpaintOptions/average`` best starts (with `average` 1, G(ẑ) at the winning latent).
  public let generated: Image
  /// Every start's G(ẑ), [0, 1], best total loss first.
  public let candidates: [Image]
  /// The winning latent ẑ (100 values).
  public let latent: [Float]
  /// The winning start's contextual loss (importance-weighted L1 over the known pixels).
  public let contextualLoss: Float
  /// The winning start's prior loss (before the weight λ).
  public let priorLoss: Float
  /// The loss that was minimised: contextual + λ·prior (+ the Gaussian term).
  public let totalLoss: Float
  /// The winning start's total loss before the first iteration.
  public let initialTotalLoss: Float
  /// Index of the winning start.
  public let bestStart: Int

  init(image: Image, result r: InpaintResult) {
    self.image = image
    generated = r.generated
    candidates = r.candidates
    latent = r.latent
    contextualLoss = r.contextualLoss
    priorLoss = r.priorLoss
    totalLoss = r.totalLoss
    initialTotalLoss = r.initialTotalLoss
    bestStart = r.bestStart
  }
}

/// The outcome of completing one image, with every intermediate stage.
public struct CompletedImage: Sendable {
  /// The input, same size, with only the hole's pixels replaced; known pixels are bit-identical.
  public let image: Image
  /// The region that was completed, in input pixels (the whole image up to 256×256).
  public let window: (x: Int, y: Int, width: Int, height: Int)
  /// The window downscaled to the generator's 64×64.
  public let input64: Image
  /// The hole at 64×64 (a pixel is missing if any pixel it covers is missing).
  public let mask64: Mask
  /// The 64×64 inpainting.
  public let inpainting: InpaintedImage
  /// The inpainted 64×64 window after 4× super-resolution (256×256).
  public let superResolved: Image
  /// How the window was chosen.
  public let framing: FaceFraming

  init(stages s: Completer.Stages, framing: FaceFraming) {
    self.framing = framing
    image = s.merged
    window = s.window
    input64 = s.input64
    mask64 = s.mask64
    inpainting = InpaintedImage(image: s.inpainted64, result: s.result)
    superResolved = s.superResolved
  }
}

/// How ``Mender/complete(_:mask:options:progress:cancellation:)`` chose the window it completed.
public enum FaceFraming: Sendable, Equatable {
  /// A face (its detector box, in input pixels) was found with the hole filled smoothly; the window
  /// frames it.
  case face(x: Int, y: Int, width: Int, height: Int)
  /// The hole hid the face: it was found on a first completion of the default window (the median
  /// box over that result and each start's own fill), and the framed window was completed in a
  /// second pass.
  case faceAfterFirstPass(x: Int, y: Int, width: Int, height: Int)
  /// No face around the hole: the default window.
  case noFace
  /// Framing was off (``CompletionOptions/frameFace``), or no face cascade was found.
  case off

  init(_ how: Completer.Framing) {
    switch how {
    case .face(let x, let y, let w, let h): self = .face(x: x, y: y, width: w, height: h)
    case .faceAfterFirstPass(let x, let y, let w, let h): self = .faceAfterFirstPass(x: x, y: y, width: w, height: h)
    case .none: self = .noFace
    }
  }
}
