import ArgumentParser
import Compute
import ComputeCPU
import Foundation

/// The release this build is (semantic versioning).
let mendVersion = "0.2.0"

struct Mend: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mend",
    abstract: "Repair images with generative networks on OpenCL GPUs or the Swift CPU path.",
    version: "mend \(mendVersion) (\(cpuKernels))",
    subcommands: [Complete.self, Inpaint.self, Generate.self, SuperRes.self, TrainCommand.self, EvalCommand.self, Devices.self, BenchCommand.self])

  /// The CPU kernel level in use and those this CPU runs; a `MEND_CPU_ISA` this CPU cannot run is
  /// named with the reason (every command then refuses to start).
  static var cpuKernels: String {
    let runs = "this CPU runs \(CPUISA.supported.map(\.rawValue).joined(separator: ", "))"
    do { return "CPU kernels: \(try CPUISA.fromEnvironment()); \(runs)" } catch { return "CPU kernels: none, \(error)" }
  }

  /// `--tune-generator` takes an optional step count: the flag alone means the default steps.
  static func main() {
    // Over a file-size limit (RLIMIT_FSIZE, `ulimit -f`) the kernel sends SIGXFSZ, whose default
    // action kills mend mid-write with a core dump; ignored, the write fails with EFBIG and mend
    // reports it in one line and leaves no partial file, as on a full disk.
    signal(SIGXFSZ, SIG_IGN)
    main(expandOptionalValues(Array(CommandLine.arguments.dropFirst())))
  }

  static func expandOptionalValues(_ args: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < args.count {
      let a = args[i]
      if a == "--tune-generator" {
        // A number (even a negative one, which validation then rejects in one line) is the value.
        if i + 1 < args.count, Int(args[i + 1]) != nil {
          out.append("--tune-generator=\(args[i + 1])")
          i += 2
          continue
        }
        out.append("--tune-generator=\(OptimisationOptions.defaultTuneSteps)")
      } else {
        out.append(a)
      }
      i += 1
    }
    return out
  }

  /// Prints one line to stderr and exits non-zero: the way every user-facing error leaves mend.
  static func fail(_ message: String) -> Never {
    standardError.write(Data("mend: error: \(oneLine(message))\n".utf8))
    Foundation.exit(1)
  }

  /// `message` with control characters escaped (a file name may hold a newline): one line, always.
  static func oneLine(_ message: String) -> String {
    message.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
  }
}

// The entry point; the CLI fuzz target (Fuzz/fuzz-cli, MEND_FUZZ) compiles these sources without it.
#if !MEND_FUZZ
@main extension Mend {}
#endif

/// `--device auto|cpu|opencl|opencl:N` and `--threads`, shared by every compute command.
struct DeviceOptions: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp(
    "Device: auto (the best OpenCL GPU if present — discrete first, then most compute units — else the CPU), "
      + "cpu, opencl (first OpenCL device), opencl:N, or opencl:NAME (a case-insensitive part of the device or platform name). "
      + "Default: $MEND_DEVICE or auto.", valueName: "device"))
  var device: String?

  @Option(name: .long, help: "CPU threads (default: $MEND_THREADS or every core).")
  var threads: Int?

  func makeDevice(notice: Bool = true) -> Device {
    let spec = device ?? ProcessInfo.processInfo.environment["MEND_DEVICE"] ?? "auto"
    do {
      return try DeviceChoice.make(spec, threads: threads ?? ThreadSplitter.defaultThreads, notice: notice)
    } catch {
      Mend.fail("\(error)")
    }
  }
}
