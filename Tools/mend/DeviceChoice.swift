import Compute
import ComputeCPU
import Foundation
#if OpenCL
import ComputeOpenCL
#endif

/// Turns a device spec into a device. `auto` prefers an OpenCL GPU and otherwise uses the CPU
/// device (on a machine whose only OpenCL device is a CPU driver such as PoCL, the Swift CPU path
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
        if let gpu = try OpenCLRuntime.devices().firstIndex(where: { $0.isGPU }) {
          return try OpenCLDevice(index: gpu)
        }
      } catch {
        if notice { note("OpenCL unavailable (\(error)); using the CPU") }
      }
      #endif
      return CPUDevice(threads: threads, isa: try CPUISA.fromEnvironment())
    default:
      guard s == "opencl" || s.hasPrefix("opencl:") else {
        throw BadSpec(description: "unknown device '\(spec)' (use auto, cpu, opencl or opencl:N)")
      }
      let index: Int
      if s == "opencl" { index = 0 } else {
        guard let n = Int(s.dropFirst("opencl:".count)), n >= 0 else {
          throw BadSpec(description: "bad OpenCL device index in '\(spec)'")
        }
        index = n
      }
      #if OpenCL
      return try OpenCLDevice(index: index)
      #else
      _ = index
      throw BadSpec(description: "this mend was built without OpenCL (rebuild with the default traits)")
      #endif
    }
  }

  static func note(_ message: String) {
    FileHandle.standardError.write(Data("mend: note: \(message)\n".utf8))
  }
}
