import COpenCL
import Compute
import Foundation

/// Injected OpenCL failures, for testing how mend fails: `MEND_FAULT=KIND[:N]` makes the N-th call
/// (1-based, counted per process; default 1) of that kind fail as the driver would:
///
/// - `alloc`: buffer creation (`clCreateBuffer`) returns CL_MEM_OBJECT_ALLOCATION_FAILURE;
/// - `build`: building the kernel program (`clBuildProgram`, cached binary or source) returns
///   CL_BUILD_PROGRAM_FAILURE;
/// - `enqueue`: a kernel launch (`clEnqueueNDRangeKernel`) or CLBlast GEMM returns
///   CL_OUT_OF_RESOURCES — with a large N, in the middle of an inpainting z loop.
///
/// Unset (the normal case) costs one predictable branch per call. Tests only: never set it in production.
public enum FaultInjection {
  public enum Kind: String, Sendable, CaseIterable { case alloc, build, enqueue }

  /// The configured fault, nil when MEND_FAULT is unset; an unreadable value is a fatal usage error
  /// (a test that means to inject a fault must not silently run without one).
  public static let configured: (kind: Kind, call: Int)? = parse(ProcessInfo.processInfo.environment["MEND_FAULT"])

  static func parse(_ value: String?) -> (kind: Kind, call: Int)? {
    guard let value, !value.isEmpty else { return nil }
    let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
    guard let kind = Kind(rawValue: parts[0]), let n = parts.count == 2 ? Int(parts[1]) : 1, n >= 1 else {
      FileHandle.standardError.write(Data("mend: error: MEND_FAULT=\(value): use alloc, build or enqueue, optionally :N (N ≥ 1)\n".utf8))
      exit(2)
    }
    return (kind, n)
  }

  final class Counter: @unchecked Sendable {
    let lock = NSLock()
    var calls: [Kind: Int] = [:]
    func next(_ k: Kind) -> Int { lock.withLock { calls[k, default: 0] += 1; return calls[k]! } }
  }
  static let counter = Counter()

  /// Whether this call of `kind` is the one to fail.
  @inline(__always)
  static func fires(_ kind: Kind) -> Bool {
    guard let c = configured, c.kind == kind else { return false }
    return counter.next(kind) == c.call
  }

  /// The error text of an injected fault: the call, the driver's error name, and where it came from.
  static func message(_ call: String, _ code: cl_int) -> String {
    "\(call): \(CLErrors.name(code)) (injected by MEND_FAULT=\(ProcessInfo.processInfo.environment["MEND_FAULT"] ?? ""))"
  }
}
