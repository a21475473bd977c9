import Foundation
import Imaging

/// libFuzzer target: PNG.decode on arbitrary bytes. It either returns a well-formed image (sizes
/// agree, samples finite and in [0, 1]) or throws one ImageError line; anything else is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
  
  do {
    let (rgb, alpha) = try PNG.decode(data, name: "fuzz", maxPixels: 1 << 22)
    checkImage(rgb, channels: 3)
    if let alpha { checkImage(alpha, channels: 1, like: rgb) }
  } catch let e as ImageError {
    checkOneLine(e.description)
  } catch {
    fatalError("unexpected error type: \(error)")
  }
  return 0
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
