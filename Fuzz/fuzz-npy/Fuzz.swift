import Foundation
import Imaging

/// libFuzzer target: NPY.parse on arbitrary bytes — a float32 array whose size matches its shape,
/// or one ImageError line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
  do {
    let (values, shape) = try NPY.parse(data, name: "fuzz.npy")
    precondition(shape.allSatisfy { $0 >= 0 })
    precondition(values.count == shape.reduce(1, *), "values do not match the shape")
    precondition(values.count * 4 <= size)
  } catch let e as ImageError {
    precondition(!e.description.isEmpty && !e.description.contains("\n"), "error is not one line: \(e)")
  } catch {
    fatalError("unexpected error type: \(error)")
  }
  return 0
}
