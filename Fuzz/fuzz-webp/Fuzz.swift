import Foundation
import Imaging

/// libFuzzer target: WebP.decode on arbitrary bytes (the property: `fuzzDecoder`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  fuzzDecoder(bytes, size) { try WebP.decode($0, name: "fuzz", maxPixels: 1 << 22) }
  return 0
}
