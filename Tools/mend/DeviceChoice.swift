import Compute
import ComputeCPU
import Foundation
#if OpenCL
import ComputeOpenCL
#endif

/// Turns a device spec into a device. `auto` prefers an OpenCL GPU (discrete before integrated,
/// then most compute units; `OpenCLRuntime.preferredGPU`) and otherwise uses the CPU device (on a machine whose only OpenCL device is a CPU driver such as PoCL, the Swift CPU path
/// is the faster one). A missing or broken OpenCL installation falls back to the CPU with a notice.
enum DeviceChoice {
  struct BadSpec: Error, CustomStringConvertible {
    let description: String
  }

  static func make(_ spec: String, threads: Int, notice: Bool) throws -> Device {
    let s = spec.lowercased()
    switch s {
    case "cpu":
      return CPUDevice(threads: threads, isa: try CPUISA.fromEnvironment())
    case "auto":
      #if OpenCL
      do {
        let list = try OpenCLRuntime.devices()
        if let gpu = OpenCLRuntime.preferredGPU(list.map(\.traits)) {
          return try OpenCLDevice(index: gpu)
        }
      } catch {
        if notice { note("OpenCL unavailable (\(error)); using the CPU") }
      }
      #endif
      return CPUDevice(threads: threads, isa: try CPUISA.fromEnvironment())
    default:
      guard s == "opencl" || s.hasPrefix("opencl:") else {
        throw BadSpec(description: "unknown device '\(spec)' (use auto, cpu, opencl, opencl:N or opencl:NAME)")
      }
      #if OpenCL
      let list = try OpenCLRuntime.devices()
      guard !list.isEmpty else { throw ComputeError.deviceUnavailable("no OpenCL devices found (install an OpenCL driver)") }
      let index = s == "opencl" ? 0 : try OpenCLRuntime.match(String(spec.dropFirst("opencl:".count)), in: list.map(\.traits))
      return try OpenCLDevice(index: index)
      #else
      throw BadSpec(description: "this mend was built without OpenCL (rebuild with the default traits)")
      #endif
    }
  }

  static func note(_ message: String) {
    FileHandle.standardError.write(Data("mend: note: \(message)\n".utf8))
  }
}
