import Foundation
import Imaging
import Inpainting
import Pipeline

/// Full-resolution completion quality as `mend eval complete` measures it: the pipeline against
/// the same pipeline with bicubic upscaling instead of super-resolution (the same 64×64
/// inpainting, merged the same way); PSNR and SSIM over the hole.
public enum CompletionEvaluation {
  /// One image's outcome.
  public struct Row {
    /// The 64×64 inpainting upscaled by bicubic and merged.
    public var bicubic: Image
    /// The pipeline's result (super-resolved and merged).
    public var superResolved: Image
    /// Masked scores of `bicubic` and `superResolved`, in that order.
    public var scores: [Score]
    /// Whether a detected face framed the window (``Completer/completeFramed(_:mask:finder:progress:)``).
    public var framed: Bool
  }

  /// Completes `image` inside `mask` and scores both variants.
  /// With a `finder`, the window frames the face around the hole when one is found.
  public static func evaluate(_ completer: Completer, image: Image, mask: Mask, finder: FaceFinder? = nil) throws -> Row {
    var st: Completer.Stages
    var framed = false
    if let finder {
      let (s, how) = try completer.completeFramed(image, mask: mask, finder: finder)
      (st, framed) = (s, how != .none)
    } else {
      st = try completer.complete(image, mask: mask)
    }
    let bic = Completer.merge(st.inpainted64, into: image, mask: mask, window: st.window, mode: completer.merge)
    return Row(bicubic: bic, superResolved: st.merged,
               scores: [bic, st.merged].map { Score.masked($0, image, mask: mask) }, framed: framed)
  }
}
