import ArgumentParser
import Compute
import ComputeCPU
import ComputeCheck
import Foundation
#if OpenCL
import ComputeOpenCL
#endif

struct Devices: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the CPU device and every OpenCL platform and device.")

  @Flag(help: "Open each OpenCL device: time the kernel build (or cache load) and the first CLBlast GEMM.")
  var probe = false

  func run() throws {
    guarded { try list() }
  }

  func list() throws {
    let cpu = CPUDevice(isa: try CPUISA.fromEnvironment())
    print("cpu        \(cpu.summary)")
    print("cpu isa    \(cpu.isa) in use; this CPU runs \(CPUISA.supported.map(\.rawValue).joined(separator: ", "))"
          + " (MEND_CPU_ISA forces one)")
    #if OpenCL
    do {
      let list = try OpenCLRuntime.devices()
      defer {
        if OpenCLRuntime.preferredGPU(list.map(\.traits)) == nil {
          print("auto       cpu (no OpenCL GPU; CPU-type OpenCL devices such as PoCL are slower than the CPU path)")
        }
      }
      if let e = OpenCLRuntime.libraryError {
        print("opencl     unavailable: \(e) (install an OpenCL loader and driver, e.g. ocl-icd-libopencl1 and your GPU's ICD)")
      } else if list.isEmpty {
        print("opencl     no OpenCL devices found (install an OpenCL driver, e.g. pocl-opencl-icd)")
      } else if let e = OpenCLRuntime.clblastError {
        print("opencl     CLBlast unavailable: \(e) (install libclblast1); OpenCL devices cannot be used")
      }
      let auto = OpenCLRuntime.preferredGPU(list.map(\.traits))
      for (i, d) in list.enumerated() {
        print("opencl:\(i)   \(d.summary)")
        let kind = d.isGPU ? (d.hostUnifiedMemory ? "integrated GPU" : "discrete GPU") : d.typeName + " device"
        print("           \(kind); fp16 \(d.supportsFP16 ? "yes" : "no"); extensions: "
              + (d.notableExtensions.isEmpty ? "none of note" : d.notableExtensions.joined(separator: " "))
              + (auto == i ? "; chosen by --device auto" : ""))
        if probe { probeDevice(i) }
      }
    } catch {
      print("opencl     unavailable: \(error)")
    }
    #else
    print("opencl     not built (this mend was built without the OpenCL trait)")
    #endif
  }

  #if OpenCL
  func probeDevice(_ i: Int) {
    do {
      let dev = try OpenCLDevice(index: i)
      let a = try dev.tensor([Float](repeating: 1, count: 64 * 64), shape: [64, 64])
      let c = try dev.zeros([64, 64])
      let t0 = Bench.now()
      try dev.run(.gemm(GemmDesc(m: 64, n: 64, k: 64)), inputs: [a, a], outputs: [c])
      try dev.synchronize()
      let gemm = Bench.now() - t0
      let ok = try dev.values(c).allSatisfy { $0 == 64 }
      print(String(format: "           start %.3f s (kernels %@), first CLBlast GEMM %.3f s, result %@",
                   dev.startupSeconds, dev.programFromCache ? "from cache" : "compiled", gemm,
                   ok ? "correct" : "WRONG"))
    } catch {
      print("           probe failed: \(error)")
    }
  }
  #endif
}
