import Foundation

/// A named float32 tensor on the host.
public struct HostTensor: Sendable, Equatable {
  public let shape: [Int]
  public let data: [Float]
  public init(shape: [Int], data: [Float]) {
    precondition(shape.reduce(1, *) == data.count)
    self.shape = shape; self.data = data
  }
}

public struct WeightsError: Error, CustomStringConvertible {
  public let description: String
  public init(_ d: String) { description = d }
}

/// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length,
/// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then raw data.
/// Reading validates everything before trusting it: header size and JSON, dtypes, shapes, offsets
/// inside the file and consistent with the shapes, and no overlapping tensors.
public enum SafeTensors {
  public static let maxHeaderBytes = 100 << 20

  public static func read(_ url: URL) throws -> (tensors: [String: HostTensor], metadata: [String: String]) {
    let data: Data
    do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
      throw WeightsError("cannot read \(url.path): \(error.localizedDescription)")
    }
    return try parse(data, name: url.lastPathComponent)
  }

  public static func parse(_ data: Data, name: String = "weights") throws
    -> (tensors: [String: HostTensor], metadata: [String: String]) {
    func bad(_ why: String) -> WeightsError { WeightsError("\(name): not a valid safetensors file: \(why)") }
    guard data.count >= 8 else { throw bad("only \(data.count) bytes") }
    let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
    guard n <= UInt64(maxHeaderBytes), Int(n) <= data.count - 8 else { throw bad("header length \(n) exceeds the file") }
    let headerEnd = 8 + Int(n)
    guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)),
          let header = json as? [String: Any] else { throw bad("header is not a JSON object") }
    var metadata: [String: String] = [:]
    var tensors: [String: HostTensor] = [:]
    var ranges: [(Int, Int, String)] = []
    let dataSize = data.count - headerEnd
    for (key, value) in header {
      if key == "__metadata__" {
        guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
        for (k, v) in m { metadata[k] = "\(v)" }
        continue
      }
      // Names and dtypes come from the file: shown escaped, so an error stays on one line.
      let shown = printable(key)
      guard let e = value as? [String: Any], let dtype = (e["dtype"] as? String).map(printable),
            let shapeAny = e["shape"] as? [Any], let offs = e["data_offsets"] as? [Any], offs.count == 2 else {
        throw bad("entry \(shown) lacks dtype/shape/data_offsets")
      }
      let shape = try shapeAny.map { v -> Int in
        guard let i = v as? Int, i >= 0, i < 1 << 31 else { throw bad("\(shown): bad shape") }
        return i
      }
      // `as? Int` is exact: 1e30 or 2.5 is rejected, not truncated (NSNumber.intValue would).
      guard let b = offs[0] as? Int, let e2 = offs[1] as? Int,
            b >= 0, e2 >= b, e2 <= dataSize else { throw bad("\(shown): data_offsets outside the file") }
      let width: Int
      switch dtype {
      case "F32": width = 4
      case "F16", "BF16": width = 2
      default: throw bad("\(shown): unsupported dtype \(dtype) (F32, F16, BF16 are read)")
      }
      // The byte size from the shape, checked for overflow before it is compared or allocated: a
      // shape of huge dimensions must not wrap around to the size of a small data range.
      // Zero dimensions aside, the shape must multiply without overflow (so that shape.reduce(1, *)
      // is safe everywhere; found by fuzzing: [0, 2^31-1, 2^31-1, 2^31-1]).
      var nonzero = 1
      for d in shape where d != 0 {
        let (p, o) = nonzero.multipliedReportingOverflow(by: d)
        guard !o else { throw bad("\(shown): shape \(shape) is too large") }
        nonzero = p
      }
      var count = shape.contains(0) ? 0 : 1
      for d in shape where count != 0 {
        let (p, o) = count.multipliedReportingOverflow(by: d)
        guard !o, p <= dataSize / width else {
          throw bad("\(shown): shape \(shape) of \(dtype) needs more bytes than the file holds")
        }
        count = p
      }
      guard e2 - b == count * width else { throw bad("\(shown): \(e2 - b) bytes for shape \(shape) of \(dtype)") }
      ranges.append((b, e2, key))
      var values = [Float](repeating: 0, count: count)
      data.withUnsafeBytes { raw in
        let base = raw.baseAddress! + headerEnd + b
        switch dtype {
        case "F32":
          values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * 4)) }
        case "F16":
          for i in 0..<count { values[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        default:
          for i in 0..<count {
            values[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
          }
        }
      }
      tensors[key] = HostTensor(shape: shape, data: values)
    }
    ranges.sort { $0.0 < $1.0 }
    for (a, b) in zip(ranges, ranges.dropFirst()) where a.1 > b.0 {
      throw bad("tensors \(printable(a.2)) and \(printable(b.2)) overlap")
    }
    return (tensors, metadata)
  }

  /// Writes F32 tensors (sorted by name) atomically.
  public static func write(_ tensors: [String: HostTensor], metadata: [String: String] = [:], to url: URL) throws {
    var header = "{"
    var offset = 0
    let names = tensors.keys.sorted()
    var parts: [String] = []
    if !metadata.isEmpty {
      let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
      parts.append("\"__metadata__\":{\(m)}")
    }
    for n in names {
      let t = tensors[n]!
      parts.append("\(jsonString(n)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                   + "\"data_offsets\":[\(offset),\(offset + t.data.count * 4)]}")
      offset += t.data.count * 4
    }
    header += parts.joined(separator: ",") + "}"
    while header.utf8.count % 8 != 0 { header += " " }
    var out = Data()
    var len = UInt64(header.utf8.count).littleEndian
    withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    for n in names { tensors[n]!.data.withUnsafeBytes { out.append(contentsOf: $0) } }
    try out.write(to: url, options: .atomic)
  }

  /// `s` with control characters escaped and at most 80 characters, for error messages.
  static func printable(_ s: String) -> String {
    let t = s.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
    return t.count > 80 ? String(t.prefix(80)) + "…" : t
  }

  static func jsonString(_ s: String) -> String {
    let d = try! JSONSerialization.data(withJSONObject: [s])
    let t = String(decoding: d, as: UTF8.self)
    return String(t.dropFirst().dropLast())
  }
}

/// Named weights with shape-checked access.
public struct WeightSet: Sendable {
  public let tensors: [String: HostTensor]
  public let metadata: [String: String]
  public let source: String

  public init(tensors: [String: HostTensor], metadata: [String: String] = [:], source: String = "weights") {
    self.tensors = tensors; self.metadata = metadata; self.source = source
  }

  public init(contentsOf url: URL) throws {
    let r = try SafeTensors.read(url)
    self.init(tensors: r.tensors, metadata: r.metadata, source: url.lastPathComponent)
  }

  /// The tensor `name`, which must have exactly `shape`.
  public func take(_ name: String, _ shape: [Int]) throws -> [Float] {
    guard let t = tensors[name] else { throw WeightsError("\(source): missing tensor \(name)") }
    guard t.shape == shape else { throw WeightsError("\(source): \(name) has shape \(t.shape), expected \(shape)") }
    return t.data
  }

  public func shape(_ name: String) -> [Int]? { tensors[name]?.shape }
}
