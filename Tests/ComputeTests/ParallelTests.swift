import ComputeCPU
import Foundation
import XCTest

/// The worker pool behind every threaded CPU kernel: each task runs exactly once, for any task
/// and thread count; a nested call (a task that splits work again) runs inline instead of
/// deadlocking; two threads splitting work at once both finish with correct results.
final class ParallelTests: XCTestCase {
  /// A shared sum behind a pthread mutex (NSLock), which ThreadSanitizer intercepts. (With the
  /// Synchronization module's `Mutex`, whose contended path on Linux — a futex wait — runs inside
  /// the uninstrumented standard library, ThreadSanitizer reported the counter's own locked
  /// increments as a race when the two callers collided.)
  final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) { lock.withLock { value += n } }
    var total: Int { lock.withLock { value } }
  }

  /// How often each task ran (tasks write disjoint slots).
  func counts(_ splitter: ThreadSplitter, tasks: Int) -> [Int] {
    var hits = [Int](repeating: 0, count: tasks)
    hits.withUnsafeMutableBufferPointer { h in
      let box = UnsafeSendableBox(h.baseAddress!)
      splitter.forEach(tasks) { t in box.value[t] += 1 }
    }
    return hits
  }

  func testEveryTaskRunsOnce() {
    for threads in [1, 2, 3, 4] {
      for tasks in [1, 2, 3, 7, 64, 1000] {
        XCTAssertEqual(counts(ThreadSplitter(threads: threads), tasks: tasks), [Int](repeating: 1, count: tasks),
                       "\(threads) threads, \(tasks) tasks")
      }
    }
    // Many small jobs back to back (the pool's generation handshake, thousands of times).
    let s = ThreadSplitter(threads: 2)
    for _ in 0..<2000 { XCTAssertEqual(counts(s, tasks: 2), [1, 1]) }
  }

  func testNestedSplitRunsInline() {
    let s = ThreadSplitter(threads: 2)
    let total = Counter()
    s.forEach(4) { _ in
      s.forEach(5) { _ in total.add(1) }
    }
    XCTAssertEqual(total.total, 20)
  }

  func testTwoThreadsSplittingAtOnce() {
    let s = ThreadSplitter(threads: 2)
    let sums = [Counter(), Counter()]
    DispatchQueue.concurrentPerform(iterations: 2) { caller in
      for _ in 0..<200 {
        s.forRanges(1000, grain: 10) { r in sums[caller].add(r.reduce(0, +)) }
      }
    }
    XCTAssertEqual(sums[0].total, 200 * 499_500)
    XCTAssertEqual(sums[1].total, 200 * 499_500)
  }
}

struct UnsafeSendableBox<T>: @unchecked Sendable {
  let value: T
  init(_ v: T) { value = v }
}
