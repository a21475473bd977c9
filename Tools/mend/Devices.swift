import ArgumentParser
import Compute
import ComputeCPU
import Foundation
#if OpenCL
import ComputeOpenCL
#endif

struct Devices: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the CPU device and every OpenCL platform and device.")

  func run() throws {
    let cpu = CPUDevice()
    print("cpu        \(cpu.summary)")
    #if OpenCL
    do {
      let list = try OpenCLRuntime.devices()
      if list.isEmpty { print("opencl     no OpenCL devices found") }
      for (i, d) in list.enumerated() {
        print("opencl:\(i)   \(d.summary)")
      }
    } catch {
      print("opencl     unavailable: \(error)")
    }
    #else
    print("opencl     not built (this mend was built without the OpenCL trait)")
    #endif
  }
}
