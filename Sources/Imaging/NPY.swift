import Foundation

/// NumPy `.npy` (format 1.0/2.0) for little-endian float32 arrays, C order: latents and raw outputs
/// that Python can load with `np.load`.
public enum NPY {
  public static func write(_ values: [Float], shape: [Int], to url: URL) throws {
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
    try AtomicFile.write(d, to: url)
  }

  public static func read(_ url: URL) throws -> (values: [Float], shape: [Int]) {
    let d: Data
    do { d = try Data(contentsOf: url) } catch { throw ImageError("\(url.path): cannot read (\(error.localizedDescription))") }
    let bytes = [UInt8](d)
    func bad(_ s: String) -> ImageError { ImageError("\(url.lastPathComponent): not a float32 .npy file: \(s)") }
    guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else { throw bad("bad magic") }
    let major = bytes[6]
    let (hl, start): (Int, Int)
    if major == 1 { (hl, start) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10) } else if major == 2 || major == 3, bytes.count >= 12 {
      (hl, start) = (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
    } else { throw bad("unsupported version \(major)") }
    guard start + hl <= bytes.count else { throw bad("truncated header") }
    let header = String(decoding: bytes[start..<(start + hl)], as: UTF8.self)
    guard header.contains("'<f4'") || header.contains("\"<f4\"") else { throw bad("dtype is not <f4 (save with astype(np.float32))") }
    guard header.contains("'fortran_order': False") else { throw bad("Fortran order is not supported") }
    guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
      throw bad("no shape")
    }
    let shape = try header[open.upperBound..<close].split(separator: ",").map { s -> Int in
      guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw bad("bad shape") }
      return v
    }
    let n = shape.reduce(1, *)
    let off = start + hl
    guard bytes.count - off == n * 4 else { throw bad("\(bytes.count - off) data bytes for shape \(shape)") }
    var values = [Float](repeating: 0, count: n)
    values.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[off...])) } }
    return (values, shape)
  }
}
