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
}

/// Platform and device discovery.
public enum OpenCLRuntime {
  /// Every device of every platform (CL_DEVICE_TYPE_ALL: PoCL's device is of CPU type), in a stable
  /// order: platforms as the ICD loader lists them, devices within each.
  public static func devices() throws -> [OpenCLDeviceInfo] {
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
          maxWorkGroupSize: Int(deviceValue(d, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE), as: Int.self))))
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
