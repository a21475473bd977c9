import Foundation
import Imaging

/// The property every image-decoder target checks: `decode` either returns a well-formed image
/// (sizes agree, samples finite and in [0, 1], alpha the size of the colour planes) or throws one
/// `ImageError` line; anything else — a trap, another error type, a multi-line message — is a finding.
func fuzzDecoder(_ bytes: UnsafePointer<UInt8>?, _ size: Int, _ decode: (Data) throws -> (Image, Image?)) {
  let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
  do {
    let (rgb, alpha) = try decode(data)
    checkImage(rgb, channels: 3)
    if let alpha { checkImage(alpha, channels: 1, like: rgb) }
  } catch let e as ImageError {
    checkOneLine(e.description)
  } catch {
    fatalError("unexpected error type: \(error)")
  }
}

func checkImage(_ im: Image, channels: Int, like: Image? = nil) {
  precondition(im.width > 0 && im.height > 0 && im.channels == channels)
  precondition(im.data.count == im.width * im.height * channels)
  if let like { precondition(im.width == like.width && im.height == like.height) }
  precondition(im.data.allSatisfy { $0 >= 0 && $0 <= 1 }, "sample outside [0, 1] or NaN")
}

func checkOneLine(_ s: String) {
  precondition(!s.isEmpty && !s.contains("\n"), "error is not one line: \(s)")
}
