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

  @Flag(help: ArgumentHelp("Build mend's OpenCL kernel programs for every OpenCL device (or --device's) into the cache, "
                           + "and say what was built or loaded and how long it took.",
                           discussion: "Cache: $MEND_CACHE_DIR, else $XDG_CACHE_HOME/mend, else ~/.cache/mend (subfolder opencl)."))
  var warm = false

  @Option(help: "With --warm: only this device (opencl:N, N, or a case-insensitive part of its name or platform).")
  var device: String?

  func validate() throws {
    if device != nil && !warm { throw ValidationError("--device only applies with --warm") }
  }

  func run() throws {
    guarded { try warm ? warmPrograms() : list() }
  }

  func warmPrograms() throws {
    #if OpenCL
    let list = try OpenCLRuntime.devices()
    if let e = OpenCLRuntime.libraryError { throw ComputeError.deviceUnavailable("OpenCL unavailable: \(e)") }
    guard !list.isEmpty else { throw ComputeError.deviceUnavailable("no OpenCL devices found") }
    var indices = Array(list.indices)
    if let d = device {
      let spec = d.lowercased().hasPrefix("opencl:") ? String(d.dropFirst("opencl:".count)) : d
      indices = [try OpenCLRuntime.match(spec, in: list.map(\.traits))]
    }
    for i in indices {
      let dev = try OpenCLDevice(index: i)
      print(String(format: "opencl:%d   %@: kernels %@ in %.2f s", i, list[i].name, dev.programOriginDescription,
                   dev.startupSeconds))
      print("           \(dev.programCacheFile.path)")
    }
    print("clblast    not cached on disk: CLBlast's C API has no program-binary export (CLBlastFillCache only fills its "
          + "in-process cache), so each process compiles the CLBlast kernels it calls once")
    #else
    throw ComputeError.deviceUnavailable("this mend was built without the OpenCL trait")
    #endif
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
