import Foundation
import Imaging

/// libFuzzer target: JPEG.decode and the EXIF orientation reader on arbitrary bytes (the property:
/// `fuzzDecoder`; `EXIF.orientation` never throws and must never trap).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  fuzzDecoder(bytes, size) { data in
    _ = EXIF.orientation(jpeg: data)
    return try JPEG.decode(data, name: "fuzz", maxPixels: 1 << 22)
  }
  return 0
}
