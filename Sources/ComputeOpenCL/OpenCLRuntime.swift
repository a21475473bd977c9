import COpenCL
import Compute
import Foundation

/// One OpenCL device as discovery finds it.
public struct OpenCLDeviceInfo: @unchecked Sendable {
  public let platform: cl_platform_id
  public let device: cl_device_id
  public let platformName: String
  public let platformVersion: String
  public let name: String
  public let vendor: String
  public let driverVersion: String
  public let deviceVersion: String
  public let type: cl_device_type
  public let computeUnits: Int
  public let globalMemory: Int
  public let maxAllocation: Int
  public let localMemory: Int
  public let maxWorkGroupSize: Int
  /// The device's extension list (space-separated names).
  public let extensions: String
  /// Memory shared with the host: an integrated GPU (or a CPU device).
  public let hostUnifiedMemory: Bool

  public var supportsFP16: Bool { hasExtension("cl_khr_fp16") }
  public func hasExtension(_ name: String) -> Bool { extensions.split(separator: " ").contains { $0 == name } }
  /// Discrete or integrated, for GPUs.
  public var isDiscreteGPU: Bool { isGPU && !hostUnifiedMemory }

  public var isGPU: Bool { type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 }
  public var typeName: String {
    if isGPU { return "GPU" }
    if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { return "CPU" }
    if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { return "accelerator" }
    return "other"
  }

  public var summary: String {
    "\(name) [\(typeName)] on \(platformName) (\(deviceVersion), driver \(driverVersion)); "
      + "\(computeUnits) CUs, \(globalMemory >> 20) MiB global, \(maxAllocation >> 20) MiB max alloc, "
      + "\(localMemory >> 10) KiB local"
  }

  /// Extensions that matter to mend, for listings.
  public var notableExtensions: [String] {
    ["cl_khr_fp16", "cl_khr_command_buffer", "cl_khr_subgroups", "cl_intel_subgroups", "cl_khr_il_program"]
      .filter(hasExtension)
  }
}

/// What device selection looks at, apart from the OpenCL handles (so the rules can be tested
/// without hardware).
public struct OpenCLDeviceTraits: Sendable, Equatable {
  public var name: String, platform: String, vendor: String
  public var isGPU: Bool, unifiedMemory: Bool
  public var computeUnits: Int
  public init(name: String, platform: String, vendor: String = "", isGPU: Bool, unifiedMemory: Bool, computeUnits: Int) {
    self.name = name; self.platform = platform; self.vendor = vendor; self.isGPU = isGPU; self.unifiedMemory = unifiedMemory
    self.computeUnits = computeUnits
  }
}

extension OpenCLDeviceInfo {
  public var traits: OpenCLDeviceTraits {
    OpenCLDeviceTraits(name: name, platform: platformName + " " + platformVersion, vendor: vendor, isGPU: isGPU, unifiedMemory: hostUnifiedMemory,
                       computeUnits: computeUnits)
  }
}

/// Platform and device discovery.
public enum OpenCLRuntime {
  /// Why the OpenCL library could not be opened (nil when it was): libOpenCL is loaded at run time,
  /// so a host without it simply has no OpenCL devices.
  public static let libraryError: String? = load(mend_opencl_load)
  /// Why CLBlast could not be opened, or nil.
  public static let clblastError: String? = load(mend_clblast_load)

  static func load(_ f: (UnsafeMutablePointer<CChar>?, UInt) -> Int32) -> String? {
    var buf = [CChar](repeating: 0, count: 512)
    return f(&buf, UInt(buf.count)) != 0 ? nil : String(cString: buf)
  }

  /// The GPU `auto` picks: a discrete GPU before an integrated one, then the most compute units,
  /// then the first listed. nil when there is no GPU (CPU-type OpenCL devices such as PoCL are
  /// never picked: mend's own CPU path is faster than them).
  public static func preferredGPU(_ devices: [OpenCLDeviceTraits]) -> Int? {
    devices.indices.filter { devices[$0].isGPU }.min { a, b in
      let x = devices[a], y = devices[b]
      if x.unifiedMemory != y.unifiedMemory { return !x.unifiedMemory }
      if x.computeUnits != y.computeUnits { return x.computeUnits > y.computeUnits }
      return a < b
    }
  }

  /// The device an `opencl:SPEC` names: an index, or a case-insensitive substring of the device
  /// name, its platform's name and version, or its vendor (an error when it matches none, or several with no exact name match).
  public static func match(_ spec: String, in devices: [OpenCLDeviceTraits]) throws -> Int {
    if let n = Int(spec) {
      guard n >= 0 && n < devices.count else {
        throw ComputeError.deviceUnavailable("OpenCL device \(n) does not exist (found \(devices.count))")
      }
      return n
    }
    let needle = spec.lowercased()
    let hits = devices.indices.filter {
      [devices[$0].name, devices[$0].platform, devices[$0].vendor].contains { $0.lowercased().contains(needle) }
    }
    if hits.count == 1 { return hits[0] }
    if let exact = hits.first(where: { devices[$0].name.lowercased() == needle }) { return exact }
    let names = devices.enumerated().map { "opencl:\($0.offset) \($0.element.name)" }.joined(separator: "; ")
    if hits.isEmpty {
      throw ComputeError.deviceUnavailable("no OpenCL device matches '\(spec)' (\(devices.isEmpty ? "none found" : names))")
    }
    throw ComputeError.deviceUnavailable("'\(spec)' matches \(hits.count) OpenCL devices; use opencl:N (\(names))")
  }

  /// Every device of every platform (CL_DEVICE_TYPE_ALL: PoCL's device is of CPU type), in a stable
  /// order: platforms as the ICD loader lists them, devices within each.
  public static func devices() throws -> [OpenCLDeviceInfo] {
    if libraryError != nil { return [] }  // no OpenCL on this host: no devices, the CPU path runs
    var count: cl_uint = 0
    let err = clGetPlatformIDs(0, nil, &count)
    if err == -1001 || count == 0 { return [] }  // no ICD / no platform: not an error, just none
    try CLErrors.check(err, "clGetPlatformIDs")
    var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
    try CLErrors.check(clGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
    var result: [OpenCLDeviceInfo] = []
    for case let p? in platforms {
      var n: cl_uint = 0
      let e = clGetDeviceIDs(p, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n)
      if e == CL_DEVICE_NOT_FOUND || n == 0 { continue }
      try CLErrors.check(e, "clGetDeviceIDs")
      var ids = [cl_device_id?](repeating: nil, count: Int(n))
      try CLErrors.check(clGetDeviceIDs(p, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
      for case let d? in ids {
        result.append(OpenCLDeviceInfo(
          platform: p, device: d,
          platformName: platformString(p, cl_platform_info(CL_PLATFORM_NAME)),
          platformVersion: platformString(p, cl_platform_info(CL_PLATFORM_VERSION)),
          name: deviceString(d, cl_device_info(CL_DEVICE_NAME)),
          vendor: deviceString(d, cl_device_info(CL_DEVICE_VENDOR)),
          driverVersion: deviceString(d, cl_device_info(CL_DRIVER_VERSION)),
          deviceVersion: deviceString(d, cl_device_info(CL_DEVICE_VERSION)),
          type: deviceValue(d, cl_device_info(CL_DEVICE_TYPE), as: cl_device_type.self),
          computeUnits: Int(deviceValue(d, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS), as: cl_uint.self)),
          globalMemory: Int(deviceValue(d, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE), as: cl_ulong.self)),
          maxAllocation: Int(deviceValue(d, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE), as: cl_ulong.self)),
          localMemory: Int(deviceValue(d, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE), as: cl_ulong.self)),
          maxWorkGroupSize: Int(deviceValue(d, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE), as: Int.self)),
          extensions: deviceString(d, cl_device_info(CL_DEVICE_EXTENSIONS)),
          hostUnifiedMemory: deviceValue(d, cl_device_info(CL_DEVICE_HOST_UNIFIED_MEMORY), as: cl_bool.self) != 0))
      }
    }
    return result
  }

  static func platformString(_ p: cl_platform_id, _ what: cl_platform_info) -> String {
    var size = 0
    guard clGetPlatformInfo(p, what, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
    var buf = [CChar](repeating: 0, count: size + 1)
    guard clGetPlatformInfo(p, what, size, &buf, nil) == CL_SUCCESS else { return "?" }
    return String(cString: buf).trimmingCharacters(in: .whitespaces)
  }

  static func deviceString(_ d: cl_device_id, _ what: cl_device_info) -> String {
    var size = 0
    guard clGetDeviceInfo(d, what, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
    var buf = [CChar](repeating: 0, count: size + 1)
    guard clGetDeviceInfo(d, what, size, &buf, nil) == CL_SUCCESS else { return "?" }
    return String(cString: buf).trimmingCharacters(in: .whitespaces)
  }

  static func deviceValue<T: FixedWidthInteger>(_ d: cl_device_id, _ what: cl_device_info, as: T.Type) -> T {
    var v: T = 0
    _ = clGetDeviceInfo(d, what, MemoryLayout<T>.size, &v, nil)
    return v
  }
}
