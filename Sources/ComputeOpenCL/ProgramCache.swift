import COpenCL
import Compute
import Foundation

/// Builds the kernel program, caching the device binary on disk so a second process starts without
/// recompiling. The file name is a hash of the source, the build options, the platform (name and
/// version), the device (name, vendor, version) and its driver version; the file starts with a
/// header repeating that key, the binary's length and a checksum, so a stale, truncated or corrupt
/// entry is ignored (never handed to the driver) and rebuilt, and the rebuild replaces it. Writes
/// are atomic (temporary file, then rename), so concurrent processes never read a partial file.
///
/// Folder: `$MEND_CACHE_DIR/opencl`, else `$XDG_CACHE_HOME/mend/opencl`, else `$HOME/.cache/mend/opencl` (`MendPaths`).
///
/// CLBlast's kernels are not persisted: its C API (clblast_c.h) offers `CLBlastFillCache` (compile
/// every kernel for a device into CLBlast's in-process cache) and `CLBlastClearCache`, but no way
/// to read or load program binaries, so each process compiles the CLBlast kernels it calls once.
enum ProgramCache {
  /// Where a program came from.
  enum Origin: Equatable, Sendable {
    case compiled
    case cache
    /// A cache file existed but failed its checks (the reason); the program was compiled.
    case rebuiltAfterRejecting(String)
  }

  static var directory: URL {
    MendPaths.cache().appendingPathComponent("opencl", isDirectory: true)
  }

  static func key(source: String, options: String, info: OpenCLDeviceInfo) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for part in [source, options, info.platformName, info.platformVersion, info.name, info.vendor, info.deviceVersion,
                 info.driverVersion] {
      for b in part.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
      h = (h ^ 0xff) &* 0x100_0000_01b3
    }
    return String(h, radix: 16)
  }

  static func file(source: String, options: String, info: OpenCLDeviceInfo, directory: URL) -> URL {
    directory.appendingPathComponent("kernels-\(key(source: source, options: options, info: info)).bin")
  }

  static let magic = Array("mend-clbin1\n".utf8)

  static func checksum<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
  }

  /// The file's layout: magic, key (16 hex digits, newline), binary length and checksum (8 bytes
  /// each, little-endian), the binary.
  static func encode(_ binary: [UInt8], key: String) -> Data {
    var d = Data(magic)
    d.append(contentsOf: Array(key.padding(toLength: 16, withPad: " ", startingAt: 0).utf8) + [10])
    withUnsafeBytes(of: UInt64(binary.count).littleEndian) { d.append(contentsOf: $0) }
    withUnsafeBytes(of: checksum(binary).littleEndian) { d.append(contentsOf: $0) }
    d.append(contentsOf: binary)
    return d
  }

  /// The binary, or why the file is not one of ours for this key.
  static func decode(_ d: Data, key: String) -> Result<[UInt8], CacheFileError> {
    let bytes = [UInt8](d)
    let head = magic.count + 17 + 16
    guard bytes.count >= head, Array(bytes[0..<magic.count]) == magic else { return .failure(.init("not a mend program cache file")) }
    let k = String(decoding: bytes[magic.count..<(magic.count + 16)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    guard k == key else { return .failure(.init("key \(k) is not \(key)")) }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
    let length = u64(magic.count + 17), sum = u64(magic.count + 25)
    guard length == UInt64(bytes.count - head) else {
      return .failure(.init("\(bytes.count - head) bytes of binary, header says \(length)"))
    }
    let binary = Array(bytes[head...])
    guard checksum(binary) == sum else { return .failure(.init("checksum mismatch")) }
    return .success(binary)
  }

  struct CacheFileError: Error { let reason: String; init(_ r: String) { reason = r } }

  /// Returns a built program and where it came from.
  static func build(source: String, options: String, context: cl_context, info: OpenCLDeviceInfo,
                    directory: URL) throws -> (cl_program, origin: Origin) {
    let key = key(source: source, options: options, info: info)
    let file = file(source: source, options: options, info: info, directory: directory)
    var device: cl_device_id? = info.device
    if FaultInjection.fires(.build) {
      throw ComputeError.backend(FaultInjection.message("clBuildProgram", CL_BUILD_PROGRAM_FAILURE))
    }
    var rejected: String? = nil
    if let data = try? Data(contentsOf: file) {
      switch decode(data, key: key) {
      case .failure(let e):
        rejected = e.reason
      case .success(let binary):
        var err: cl_int = 0, status: cl_int = 0
        let program: cl_program? = binary.withUnsafeBufferPointer { raw in
          var ptr: UnsafePointer<UInt8>? = raw.baseAddress
          var length = binary.count
          return clCreateProgramWithBinary(context, 1, &device, &length, &ptr, &status, &err)
        }
        if let program, err == CL_SUCCESS, status == CL_SUCCESS,
           clBuildProgram(program, 1, &device, options, nil, nil) == CL_SUCCESS {
          return (program, .cache)
        }
        if let program { clReleaseProgram(program) }
        rejected = "the driver refused the binary (\(CLErrors.name(err != CL_SUCCESS ? err : status)))"
      }
    }
    var err: cl_int = 0
    let program: cl_program? = source.withCString { cstr in
      var p: UnsafePointer<CChar>? = cstr
      var length = strlen(cstr)
      return clCreateProgramWithSource(context, 1, &p, &length, &err)
    }
    try CLErrors.check(err, "clCreateProgramWithSource")
    guard let program else { throw ComputeError.backend("clCreateProgramWithSource returned no program") }
    let buildErr = clBuildProgram(program, 1, &device, options, nil, nil)
    if buildErr != CL_SUCCESS {
      let log = buildLog(program, info.device)
      clReleaseProgram(program)
      // One line: the first line of the compiler's log (the whole log would break `mend: error:`).
      let first = log.split(whereSeparator: \.isNewline).first.map { String($0.prefix(300)) } ?? ""
      throw ComputeError.backend("clBuildProgram: \(CLErrors.name(buildErr))" + (first.isEmpty ? "" : " (\(first))"))
    }
    save(program, key: key, to: file)
    return (program, rejected.map { .rebuiltAfterRejecting($0) } ?? .compiled)
  }

  static func buildLog(_ program: cl_program, _ device: cl_device_id) -> String {
    var size = 0
    clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
    var buf = [CChar](repeating: 0, count: size + 1)
    clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &buf, nil)
    return String(cString: buf)
  }

  /// Writes the binary atomically (temporary file, then rename); failures only cost a rebuild.
  static func save(_ program: cl_program, key: String, to file: URL) {
    var size = 0
    guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil)
            == CL_SUCCESS, size > 0 else { return }
    var bytes = [UInt8](repeating: 0, count: size)
    let ok: Bool = bytes.withUnsafeMutableBufferPointer { buf in
      var ptr: UnsafeMutablePointer<UInt8>? = buf.baseAddress
      return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES),
                              MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &ptr, nil) == CL_SUCCESS
    }
    guard ok else { return }
    let fm = FileManager.default
    try? fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    let tmp = file.appendingPathExtension("tmp\(getpid())")
    do {
      try encode(bytes, key: key).write(to: tmp)
      // rename(2) replaces the target atomically (FileManager.moveItem refuses an existing one).
      guard rename(tmp.path, file.path) == 0 else { throw CacheFileError("rename failed") }
    } catch {
      try? fm.removeItem(at: tmp)
    }
  }
}
