import Foundation
import Models

/// libFuzzer target: SafeTensors.parse on arbitrary bytes — tensors whose element counts match their
/// shapes and fit the file, or one WeightsError line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
  do {
    let (tensors, _) = try SafeTensors.parse(data, name: "fuzz.safetensors")
    var total = 0
    for (_, t) in tensors {
      precondition(t.shape.allSatisfy { $0 >= 0 })
      precondition(t.data.count == t.shape.reduce(1, *))
      total += t.data.count
    }
    precondition(total * 2 <= size, "more elements than bytes in the file")
    // The shape-checked access used by every model loader.
    let set = WeightSet(tensors: tensors, source: "fuzz")
    for (name, t) in tensors {
      _ = try set.take(name, t.shape)
      precondition((try? set.take(name, t.shape + [1])) == nil)
    }
  } catch let e as WeightsError {
    precondition(!e.description.isEmpty && !e.description.contains("\n"), "error is not one line: \(e)")
  } catch {
    fatalError("unexpected error type: \(error)")
  }
  return 0
}
