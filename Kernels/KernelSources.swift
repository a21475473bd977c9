import Foundation

/// The OpenCL C sources in `Kernels/*.cl`, shipped as resources of this target.
///
/// There is no list of kernel files to keep in step: Package.swift bundles every `Kernels/*.cl`,
/// and the program is `common.cl` (shared helpers) followed by the other files in name order.
/// `MEND_KERNELS_DIR` overrides the bundled copies (for editing kernels without rebuilding).
public enum KernelSources {
  /// The file every other one builds on; it comes first in the program.
  public static let common = "common.cl"

  public enum LoadError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
      switch self {
      case .missing(let f): return "OpenCL kernel source \(f) not found (set MEND_KERNELS_DIR to the Kernels folder)"
      }
    }
  }

  /// The folder the sources are read from: `MEND_KERNELS_DIR`, else the bundled resources.
  static var directory: URL? {
    if let dir = ProcessInfo.processInfo.environment["MEND_KERNELS_DIR"] { return URL(fileURLWithPath: dir) }
    return Bundle.module.resourceURL
  }

  /// The kernel files in program order: `common.cl`, then the others by name.
  public static func files() throws -> [String] {
    guard let dir = directory,
          let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else {
      throw LoadError.missing("Kernels/*.cl")
    }
    let cl = names.filter { $0.hasSuffix(".cl") }
    guard cl.contains(common) else { throw LoadError.missing(common) }
    return [common] + cl.filter { $0 != common }.sorted()
  }

  /// The whole program: every file, in order, each after a marker line naming it.
  public static func program() throws -> String {
    try files().map { "// ---- \($0) ----\n" + (try source($0)) }.joined(separator: "\n")
  }

  public static func source(_ file: String) throws -> String {
    guard let dir = directory,
          let s = try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8) else {
      throw LoadError.missing(file)
    }
    return s
  }
}
