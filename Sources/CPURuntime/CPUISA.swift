import CCPUFeatures
import Foundation

/// The instruction-set level a set of CPU kernels was compiled for. mend builds its hot kernels
/// once per level (`CPUKernelsAVX512`, `CPUKernelsAVX2`, `CPUKernelsGeneric`, the same sources
/// with different `-target-cpu`) and picks one at run time, so one binary runs on any x86-64 and
/// uses the best kernels the CPU has.
public enum CPUISA: String, CaseIterable, Sendable, CustomStringConvertible {
  /// AVX-512 F/CD/BW/DQ/VL (Skylake-SP and later Xeons, Zen 4/5): 32 zmm registers.
  case avx512
  /// AVX2 + FMA3 (Haswell and later, Zen 1–3): 16 ymm registers.
  case avx2
  /// Portable code for the build's baseline (SSE2 on x86-64; NEON on aarch64), no x86 assumption.
  case generic

  public var description: String { rawValue }

  /// Whether this machine can run kernels of this level (and this binary contains them).
  public var isSupported: Bool {
    switch self {
    case .avx512: return Self.compiledIn.contains(self) && mend_cpu_has_avx512() != 0
    case .avx2: return Self.compiledIn.contains(self) && mend_cpu_has_avx2_fma() != 0
    case .generic: return true
    }
  }

  /// Levels built into this binary (x86-64 builds carry all three; others only `generic`).
  public static var compiledIn: [CPUISA] {
    #if arch(x86_64)
      return [.avx512, .avx2, .generic]
    #else
      return [.generic]
    #endif
  }

  /// Every level this machine runs, best first.
  public static var supported: [CPUISA] { allCases.filter(\.isSupported) }

  /// The best level this machine runs.
  public static var best: CPUISA { supported.first ?? .generic }

  /// `MEND_CPU_ISA` when set (an error naming the choices if it is unknown or this CPU lacks it),
  /// else the best level.
  public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> CPUISA {
    guard let raw = env["MEND_CPU_ISA"], !raw.isEmpty else { return best }
    guard let isa = CPUISA(rawValue: raw.lowercased()) else {
      throw CPUISAError("MEND_CPU_ISA=\(raw) is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard isa.isSupported else {
      throw CPUISAError("MEND_CPU_ISA=\(raw): this CPU does not support it (supported: \(supported.map(\.rawValue).joined(separator: ", ")))")
    }
    return isa
  }

  /// The level a device gets by default: `MEND_CPU_ISA` if valid, else the best.
  public static var selected: CPUISA { (try? fromEnvironment()) ?? best }
}

public struct CPUISAError: Error, CustomStringConvertible {
  public let description: String
  public init(_ d: String) { description = d }
}
