import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where mend keeps its files. One resolver, used by the weights store, the OpenCL program cache
/// and (mirrored line by line) `Tools/fetch-weights`, so the script writes exactly where mend reads:
///
/// - weights: `$MEND_WEIGHTS`, else `$XDG_DATA_HOME/mend/weights`, else `HOME/.local/share/mend/weights`
/// - cache:   `$MEND_CACHE_DIR`, else `$XDG_CACHE_HOME/mend`, else `HOME/.cache/mend`
///
/// HOME is `$HOME` when set and non-empty (containers, CI runners, `sudo -H`, a shell that points
/// it elsewhere), else the password file's entry for the current user. Foundation's
/// `homeDirectoryForCurrentUser` reads only the password file, which is why it is not used.
public enum MendPaths {
  /// The environment to resolve against; tests pass their own.
  public typealias Environment = [String: String]

  public static func home(_ env: Environment = ProcessInfo.processInfo.environment) -> URL {
    if let h = env["HOME"], !h.isEmpty { return URL(fileURLWithPath: h, isDirectory: true) }
    if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir {
      return URL(fileURLWithPath: String(cString: dir), isDirectory: true)
    }
    return URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
  }

  static func nonEmpty(_ env: Environment, _ key: String) -> String? {
    guard let v = env[key], !v.isEmpty else { return nil }
    return v
  }

  /// The default weights folder (what `Tools/fetch-weights` fills).
  public static func weights(_ env: Environment = ProcessInfo.processInfo.environment) -> URL {
    if let d = nonEmpty(env, "MEND_WEIGHTS") { return URL(fileURLWithPath: d, isDirectory: true) }
    if let x = nonEmpty(env, "XDG_DATA_HOME") {
      return URL(fileURLWithPath: x, isDirectory: true).appendingPathComponent("mend/weights", isDirectory: true)
    }
    return home(env).appendingPathComponent(".local/share/mend/weights", isDirectory: true)
  }

  /// mend's cache folder (compiled OpenCL programs live in its `opencl` subfolder).
  public static func cache(_ env: Environment = ProcessInfo.processInfo.environment) -> URL {
    if let d = nonEmpty(env, "MEND_CACHE_DIR") { return URL(fileURLWithPath: d, isDirectory: true) }
    if let x = nonEmpty(env, "XDG_CACHE_HOME") {
      return URL(fileURLWithPath: x, isDirectory: true).appendingPathComponent("mend", isDirectory: true)
    }
    return home(env).appendingPathComponent(".cache/mend", isDirectory: true)
  }
}
