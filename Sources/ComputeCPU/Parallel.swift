import Dispatch
import Foundation

/// Wraps a value that is safe to share because the code using it partitions the work
/// (disjoint output ranges) — pointers and closures handed to `concurrentPerform`.
struct UnsafeSendable<T>: @unchecked Sendable {
  let value: T
}

/// Splits work over a fixed number of host threads.
public struct ThreadSplitter: Sendable {
  public let threads: Int

  public init(threads: Int) { self.threads = max(1, threads) }

  /// The thread count from `MEND_THREADS`, else every core.
  public static var defaultThreads: Int {
    if let s = ProcessInfo.processInfo.environment["MEND_THREADS"], let n = Int(s), n > 0 { return n }
    return ProcessInfo.processInfo.activeProcessorCount
  }

  /// Runs `body(t)` for t in 0..<tasks on up to `threads` threads; inline for one.
  func forEach(_ tasks: Int, _ body: (Int) -> Void) {
    if tasks <= 0 { return }
    let workers = min(threads, tasks)
    if workers == 1 {
      for t in 0..<tasks { body(t) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let box = UnsafeSendable(value: body)
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        var t = w
        while t < tasks {
          box.value(t)
          t += workers
        }
      }
    }
  }

  /// Runs `body(range)` over `0..<count` split into one contiguous range per thread; inline when
  /// `count` is below `grain` (too little work to pay for waking threads).
  func forRanges(_ count: Int, grain: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let workers = min(threads, max(1, count / max(1, grain)))
    if workers == 1 {
      body(0..<count)
      return
    }
    let chunk = (count + workers - 1) / workers
    forEach(workers) { w in
      let lo = w * chunk, hi = min(count, lo + chunk)
      if lo < hi { body(lo..<hi) }
    }
  }
}
