import Foundation
import Imaging
import Inpainting

/// libFuzzer target: a mask file as the CLI reads it (any image format, white = missing; or the
/// image's alpha, transparent = missing), checked against a 64×64 image. A mask or one error line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
  let image = Image(width: 64, height: 64, channels: 3)
  do {
    let (rgb, alpha) = try ImageFile.decode(data, name: "mask", maxPixels: 1 << 20)
    var masks = [Mask.fromImage(rgb)]
    if let alpha { masks.append(Mask.fromAlpha(alpha)) }
    for m in masks {
      precondition(m.width == rgb.width && m.height == rgb.height && m.missing.count == m.width * m.height)
      if let b = m.holeBounds {
        precondition(b.x >= 0 && b.y >= 0 && b.x + b.width <= m.width && b.y + b.height <= m.height)
      }
      do { try m.validate(for: image) } catch let e as MaskError { oneLine(e.description) }
    }
  } catch let e as ImageError {
    oneLine(e.description)
  } catch {
    fatalError("unexpected error type: \(error)")
  }
  return 0
}

func oneLine(_ s: String) { precondition(!s.isEmpty && !s.contains("\n"), "error is not one line: \(s)") }
