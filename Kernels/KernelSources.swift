import Foundation

/// The OpenCL C sources in `Kernels/*.cl`, shipped as resources of this target.
///
/// `MEND_KERNELS_DIR` overrides the bundled copies (for editing kernels without rebuilding).
public enum KernelSources {
  /// One file per op family, concatenated after `common.cl` in this order.
  public static let files = ["common.cl", "elementwise.cl", "conv.cl", "batchnorm.cl", "loss.cl"]

  public enum LoadError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
      switch self {
      case .missing(let f): return "OpenCL kernel source \(f) not found (set MEND_KERNELS_DIR to the Kernels folder)"
      }
    }
  }

  /// The whole program: every file, in order, with `#line`-style markers for compiler messages.
  public static func program() throws -> String {
    try files.map { "// ---- \($0) ----\n" + (try source($0)) }.joined(separator: "\n")
  }

  public static func source(_ file: String) throws -> String {
    if let dir = ProcessInfo.processInfo.environment["MEND_KERNELS_DIR"] {
      let url = URL(fileURLWithPath: dir).appendingPathComponent(file)
      if let s = try? String(contentsOf: url, encoding: .utf8) { return s }
    }
    let name = (file as NSString).deletingPathExtension
    if let url = Bundle.module.url(forResource: name, withExtension: "cl"),
       let s = try? String(contentsOf: url, encoding: .utf8) {
      return s
    }
    throw LoadError.missing(file)
  }
}
