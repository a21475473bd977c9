import Compute
import ComputeCPU
import Foundation

#if OpenCL
  import ComputeOpenCL
#endif

/// Which device a ``Mender`` computes on.
///
/// `auto` prefers an OpenCL GPU (a discrete one before an integrated one, then the most compute
/// units) and otherwise uses the CPU. CPU-type OpenCL devices (such as PoCL) are never picked: the
/// Swift CPU path is faster. A missing or broken OpenCL installation (libOpenCL and CLBlast are
/// opened at run time) makes `auto` fall back to the CPU.
public enum DeviceSelection: Sendable, Hashable, CustomStringConvertible {
  /// An OpenCL GPU if one is present, else the CPU.
  case auto
  /// The pure-Swift CPU device, with the instruction-set level chosen at run time
  /// (`MEND_CPU_ISA` forces one).
  case cpu
  /// The OpenCL device with this index in `mend devices`' list (0 is the first).
  case openCL(index: Int)
  /// The OpenCL device whose device, platform or vendor name contains this text (case-insensitive).
  case openCLNamed(String)

  /// Parses the CLI's spelling: `auto`, `cpu`, `opencl` (index 0), `opencl:N` or `opencl:NAME`.
  public init(parsing spec: String) throws {
    let s = spec.lowercased()
    switch s {
    case "auto": self = .auto
    case "cpu": self = .cpu
    case "opencl": self = .openCL(index: 0)
    default:
      guard s.hasPrefix("opencl:"), s.count > "opencl:".count else {
        throw MendError.invalidArgument("unknown device '\(spec)' (use auto, cpu, opencl, opencl:N or opencl:NAME)")
      }
      let rest = String(spec.dropFirst("opencl:".count))
      if let n = Int(rest) {
        guard n >= 0 else { throw MendError.invalidArgument("bad OpenCL device index in '\(spec)'") }
        self = .openCL(index: n)
      } else {
        self = .openCLNamed(rest)
      }
    }
  }

  /// The CLI's spelling of this selection.
  public var description: String {
    switch self {
    case .auto: return "auto"
    case .cpu: return "cpu"
    case .openCL(let i): return "opencl:\(i)"
    case .openCLNamed(let name): return "opencl:\(name)"
    }
  }

  /// Whether this build of mend includes the OpenCL backend (the `OpenCL` package trait).
  public static var openCLAvailable: Bool {
    #if OpenCL
      return true
    #else
      return false
    #endif
  }

  /// Opens the device.
  ///
  /// - Parameters:
  ///   - threads: CPU threads (nil: every core). Ignored by OpenCL devices.
  ///   - notice: Called with a one-line explanation when `auto` falls back to the CPU because
  ///     OpenCL failed to load.
  /// - Throws: ``MendError/deviceUnavailable(_:)`` when an explicitly requested OpenCL device
  ///   cannot be opened or this build has no OpenCL backend, and when the instruction-set level
  ///   forced by `MEND_CPU_ISA` is not supported by this CPU.
  public func makeDevice(threads: Int? = nil, notice: (String) -> Void = { _ in }) throws -> any Device {
    let threads = threads ?? ThreadSplitter.defaultThreads
    func cpu() throws -> any Device {
      do {
        return CPUDevice(threads: threads, isa: try CPUISA.fromEnvironment())
      } catch {
        throw MendError.deviceUnavailable("\(error)")
      }
    }
    switch self {
    case .cpu:
      return try cpu()
    case .auto:
      #if OpenCL
        do {
          let list = try OpenCLRuntime.devices()
          if let gpu = OpenCLRuntime.preferredGPU(list.map(\.traits)) {
            return try OpenCLDevice(index: gpu)
          }
        } catch {
          notice("OpenCL unavailable (\(error)); using the CPU")
        }
      #endif
      return try cpu()
    case .openCL, .openCLNamed:
      #if OpenCL
        do {
          let list = try OpenCLRuntime.devices()
          guard !list.isEmpty else { throw MendError.deviceUnavailable("no OpenCL devices found (install an OpenCL driver)") }
          let spec: String
          if case .openCL(let i) = self { spec = "\(i)" } else if case .openCLNamed(let n) = self { spec = n } else { spec = "0" }
          return try OpenCLDevice(index: try OpenCLRuntime.match(spec, in: list.map(\.traits)))
        } catch let e as MendError {
          throw e
        } catch ComputeError.deviceUnavailable(let message) {
          throw MendError.deviceUnavailable(message)
        } catch {
          throw MendError.deviceUnavailable("\(error)")
        }
      #else
        throw MendError.deviceUnavailable("this mend was built without OpenCL (rebuild with the default traits)")
      #endif
    }
  }
}
