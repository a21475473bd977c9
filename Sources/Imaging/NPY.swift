import Foundation

/// NumPy `.npy` (format 1.0/2.0) for little-endian float32 arrays, C order: latents and raw outputs
/// that Python can load with `np.load`.
public enum NPY {
  public static func write(_ values: [Float], shape: [Int], to url: URL) throws {
    try AtomicFile.write(encode(values, shape: shape), to: url)
  }

  /// The `.npy` bytes of a float32 array (format 1.0).
  public static func encode(_ values: [Float], shape: [Int]) -> Data {
    precondition(values.count == shape.reduce(1, *))
    let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
    let pre = 10
    while (pre + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let hl = UInt16(header.utf8.count)
    d.append(contentsOf: [UInt8(hl & 0xff), UInt8(hl >> 8)])
    d.append(contentsOf: Array(header.utf8))
    values.withUnsafeBytes { d.append(contentsOf: $0) }
    return d
  }

  public static func read(_ url: URL) throws -> (values: [Float], shape: [Int]) {
    let d: Data
    do { d = try Data(contentsOf: url) } catch { throw ImageError("\(url.path): cannot read (\(error.localizedDescription))") }
    return try parse(d, name: url.lastPathComponent)
  }

  /// The array in `.npy` bytes. Every size is checked before it is trusted: the header length
  /// against the file, the element count (no overflow) against the data bytes, before allocation.
  public static func parse(_ d: Data, name: String = "array.npy") throws -> (values: [Float], shape: [Int]) {
    let bytes = [UInt8](d)
    func bad(_ s: String) -> ImageError { ImageError("\(name): not a float32 .npy file: \(s)") }
    guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else { throw bad("bad magic") }
    let major = bytes[6]
    let (hl, start): (Int, Int)
    if major == 1 { (hl, start) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10) } else if major == 2 || major == 3, bytes.count >= 12 {
      (hl, start) = (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
    } else { throw bad("unsupported version \(major)") }
    guard start + hl <= bytes.count else { throw bad("truncated header") }
    let header = String(decoding: bytes[start..<(start + hl)], as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
    guard header.contains("'<f4'") || header.contains("\"<f4\"") else { throw bad("dtype is not <f4 (save with astype(np.float32))") }
    guard header.contains("'fortran_order': False") else { throw bad("Fortran order is not supported") }
    guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
      throw bad("no shape")
    }
    let shape = try header[open.upperBound..<close].split(separator: ",").map { s -> Int in
      guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw bad("bad shape") }
      return v
    }
    let off = start + hl
    // The element count, without overflow: a shape like (2**62, 4) must not wrap to a small count.
    // A zero dimension makes the count 0, but the other dimensions must still multiply without
    // overflow, so that every caller's shape.reduce(1, *) is safe (found by fuzzing: (1, 2**62, 0)).
    var nonzero = 1
    for v in shape where v != 0 {
      let (p, o) = nonzero.multipliedReportingOverflow(by: v)
      guard !o else { throw bad("shape \(shape) is too large") }
      nonzero = p
    }
    var n = shape.contains(0) ? 0 : 1
    for v in shape where n != 0 {
      let (p, o) = n.multipliedReportingOverflow(by: v)
      guard !o, p <= (bytes.count - off) / 4 else { throw bad("\(bytes.count - off) data bytes for shape \(shape)") }
      n = p
    }
    guard bytes.count - off == n * 4 else { throw bad("\(bytes.count - off) data bytes for shape \(shape)") }
    var values = [Float](repeating: 0, count: n)
    values.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[off...])) } }
    return (values, shape)
  }
}
