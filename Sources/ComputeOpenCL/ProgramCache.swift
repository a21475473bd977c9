import COpenCL
import Compute
import Foundation

/// Builds the kernel program, caching the device binary on disk so a second process starts without
/// recompiling. The key covers the source, the build options, the device, its driver and platform
/// versions; a stale or corrupt entry is ignored and rebuilt.
///
/// Folder: `$MEND_CACHE_DIR/opencl`, else `$XDG_CACHE_HOME/mend/opencl`, else `$HOME/.cache/mend/opencl` (`MendPaths`).
enum ProgramCache {
  static var directory: URL {
    MendPaths.cache().appendingPathComponent("opencl", isDirectory: true)
  }

  static func key(source: String, options: String, info: OpenCLDeviceInfo) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for part in [source, options, info.name, info.vendor, info.driverVersion, info.deviceVersion, info.platformVersion] {
      for b in part.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
      h = (h ^ 0xff) &* 0x100_0000_01b3
    }
    return String(h, radix: 16)
  }

  /// Returns a built program and whether it came from the cache.
  static func build(source: String, options: String, context: cl_context, info: OpenCLDeviceInfo,
                    directory: URL) throws -> (cl_program, fromCache: Bool) {
    let file = directory.appendingPathComponent("kernels-\(key(source: source, options: options, info: info)).bin")
    var device: cl_device_id? = info.device
    if FaultInjection.fires(.build) {
      throw ComputeError.backend(FaultInjection.message("clBuildProgram", CL_BUILD_PROGRAM_FAILURE))
    }
    if let data = try? Data(contentsOf: file), !data.isEmpty {
      var err: cl_int = 0, status: cl_int = 0
      let program: cl_program? = data.withUnsafeBytes { raw in
        var ptr: UnsafePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
        var length = data.count
        return clCreateProgramWithBinary(context, 1, &device, &length, &ptr, &status, &err)
      }
      if let program, err == CL_SUCCESS, status == CL_SUCCESS,
         clBuildProgram(program, 1, &device, options, nil, nil) == CL_SUCCESS {
        return (program, true)
      }
      if let program { clReleaseProgram(program) }
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
    save(program, to: file)
    return (program, false)
  }

  static func buildLog(_ program: cl_program, _ device: cl_device_id) -> String {
    var size = 0
    clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
    var buf = [CChar](repeating: 0, count: size + 1)
    clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &buf, nil)
    return String(cString: buf)
  }

  /// Writes the binary atomically (temporary file, then rename); failures only cost a rebuild.
  static func save(_ program: cl_program, to file: URL) {
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
      try Data(bytes).write(to: tmp)
      _ = try? fm.removeItem(at: file)
      try fm.moveItem(at: tmp, to: file)
    } catch {
      try? fm.removeItem(at: tmp)
    }
  }
}
