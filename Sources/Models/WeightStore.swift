import Compute
import Foundation

/// The face models inpainting can use: a DCGAN generator (64×64, z ∈ R¹⁰⁰) and the discriminator
/// that serves as its realism prior. They differ in what faces they learnt and in licence.
public enum FaceModel: String, CaseIterable, Sendable, Hashable {
  /// Trained on synthetic faces (DigiFace-1M): permissive licence (MIT), but no real photos.
  case synthetic
  /// Fine-tuned by mend from `synthetic` on 64×64 crops of a StyleGAN2-class generator trained on
  /// FFHQ photos (MobileStyleGAN): draws photoreal faces. Derived from FFHQ/StyleGAN2, whose terms
  /// are non-commercial (docs/weights.md).
  case photo

  /// What `mend` and `Mender` use unless told otherwise: the photo model, which fills real faces
  /// about 2 dB better (docs/inpainting-eval.md); its terms are non-commercial (docs/weights.md).
  public static let `default` = FaceModel.photo

  /// The generator's weights file in the weights folder.
  public var generatorFile: String {
    switch self {
    case .synthetic: return WeightStore.faceGenerator
    case .photo: return "dcgan-photo-G.safetensors"
    }
  }

  /// The discriminator's weights file in the weights folder.
  public var discriminatorFile: String {
    switch self {
    case .synthetic: return WeightStore.faceDiscriminator
    case .photo: return "dcgan-photo-D.safetensors"
    }
  }

  /// One line for users: where the model comes from and its terms.
  public var licence: String {
    switch self {
    case .synthetic: return "DigiFace-1M generator (MIT) and mend's discriminator (MIT)"
    case .photo: return "trained on MobileStyleGAN/FFHQ samples: non-commercial use only (docs/weights.md)"
    }
  }
}

/// Where pretrained weights live: `--weights DIR`, else `$MEND_WEIGHTS`, else
/// `$XDG_DATA_HOME/mend/weights`, else `$HOME/.local/share/mend/weights` (what Tools/fetch-weights
/// fills; see `MendPaths`).
public enum WeightStore {
  public static let faceGenerator = "dcgan-face-G.safetensors"
  public static let faceDiscriminator = "dcgan-face-D.safetensors"
  public static let srresnet = "srresnet-x4.safetensors"
  public static let srgan = "srgan-x4.safetensors"
  /// krasserm's trained SRGAN discriminator (96×96, Keras 'same' padding).
  public static let srganDiscriminator = "srgan-x4-D.safetensors"
  /// torchvision's VGG19 features, converted by the user (`Tools/fetch-weights --convert-vgg19`);
  /// none ship (no package in reach carries them).
  public static let vgg19 = "vgg19.safetensors"

  public static func directory(override: String? = nil) -> URL {
    if let o = override { return URL(fileURLWithPath: o) }
    return MendPaths.weights()
  }

  /// The weights file `name`; a clear error when it is missing.
  public static func url(_ name: String, override: String? = nil) throws -> URL {
    let u = directory(override: override).appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: u.path) else {
      throw WeightsError("weights not found: \(u.path) (run Tools/fetch-weights, or pass --weights DIR / set MEND_WEIGHTS)")
    }
    return u
  }

  public static func load(_ name: String, override: String? = nil) throws -> WeightSet {
    try WeightSet(contentsOf: try url(name, override: override))
  }
}
