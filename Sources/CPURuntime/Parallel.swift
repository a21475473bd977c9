import Dispatch
import Foundation
import Synchronization

/// Wraps a value that is safe to share because the code using it partitions the work
/// (disjoint output ranges) — pointers and closures handed to `concurrentPerform`.
public struct UnsafeSendable<T>: @unchecked Sendable {
  public let value: T
  @inlinable public init(value: T) { self.value = value }
}

/// Splits work over a fixed number of host threads.
public struct ThreadSplitter: Sendable {
  public let threads: Int

  /// Work handed to worker threads so far in this process (see `WorkerPool.dispatches`).
  public static var dispatchCount: Int { WorkerPool.dispatches.load(ordering: .relaxed) }

  public init(threads: Int) { self.threads = max(1, threads) }

  /// The thread count from `MEND_THREADS`, else every core.
  public static var defaultThreads: Int {
    if let s = ProcessInfo.processInfo.environment["MEND_THREADS"], let n = Int(s), n > 0 { return n }
    return ProcessInfo.processInfo.activeProcessorCount
  }

  /// Runs `body(t)` for t in 0..<tasks on up to `threads` threads; inline for one (and when the
  /// pool is already busy: a nested call, or another device's op on another thread).
  public func forEach(_ tasks: Int, _ body: (Int) -> Void) {
    if tasks <= 0 { return }
    let workers = min(threads, tasks)
    let pool = workers > 1 ? WorkerPool.shared(threads: threads) : nil
    guard let pool, pool.tryAcquire() else {
      for t in 0..<tasks { body(t) }
      return
    }
    defer { pool.release() }
    pool.run { w in
      var t = w
      while t < tasks {
        body(t)
        t += workers
      }
    }
  }

  /// Runs `body(range)` over `0..<count` split into one contiguous range per thread; inline when
  /// `count` is below `grain` (too little work to pay for waking threads).
  public func forRanges(_ count: Int, grain: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
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

/// Persistent worker threads for `ThreadSplitter` (ggml's scheme): the caller publishes a job by
/// bumping a generation counter, takes part itself, and spins until the workers are done.
/// Workers spin on the counter for a while after each job (a kernel's next op starts within
/// microseconds), then sleep on a semaphore. libdispatch's concurrentPerform, which this replaces,
/// ran two 20 µs halves in 62 µs — mostly on one thread — against 22 µs here (measured on this
/// machine), and a batch-1 model is hundreds of such ops.
final class WorkerPool: @unchecked Sendable {
  let threads: Int
  private let generation = Atomic<Int>(0)
  private let pending = Atomic<Int>(0)
  private let sleepers = Atomic<Int>(0)
  private let busy = Atomic<Bool>(false)
  private var job: ((Int) -> Void)?
  private let wake: [DispatchSemaphore]
  /// Polls of the generation counter before a worker sleeps (~0.1–0.3 ms).
  static let spinLimit = 200_000

  private static let pools = Mutex<[Int: WorkerPool]>([:])

  static func shared(threads: Int) -> WorkerPool {
    pools.withLock { pools in
      if let p = pools[threads] { return p }
      let p = WorkerPool(threads: threads)
      pools[threads] = p
      return p
    }
  }

  private init(threads: Int) {
    self.threads = threads
    wake = (1..<max(2, threads)).map { _ in DispatchSemaphore(value: 0) }
    for w in 1..<max(2, threads) {
      let t = Thread { [self] in self.work(w) }
      t.name = "mend-worker-\(w)"
      t.start()
    }
  }

  func tryAcquire() -> Bool { busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged }
  func release() { busy.store(false, ordering: .releasing) }

  private func work(_ w: Int) {
    var seen = 0
    while true {
      var spins = 0
      while generation.load(ordering: .acquiring) == seen {
        spins += 1
        // Give the core away now and then: when the machine has fewer free cores than threads,
        // a spinning thread would otherwise sit on the core the other one needs.
        if spins & 1023 == 0 { sched_yield() }
        if spins > Self.spinLimit {
          sleepers.add(1, ordering: .sequentiallyConsistent)
          if generation.load(ordering: .sequentiallyConsistent) == seen { wake[w - 1].wait() }
          sleepers.subtract(1, ordering: .sequentiallyConsistent)
          spins = 0
        }
      }
      seen = generation.load(ordering: .acquiring)
      job!(w)
      pending.subtract(1, ordering: .releasing)
    }
  }

  /// Jobs handed to the workers so far. Each costs one small heap allocation: Swift boxes the
  /// closure that `withoutActuallyEscaping` lets the workers see (measured; nothing else in a
  /// dispatch allocates). Tests compare heap allocations against this count.
  static let dispatches = Atomic<Int>(0)

  /// Runs body(0) here and body(1..<threads) on the workers; returns when all are done.
  func run(_ body: (Int) -> Void) {
    Self.dispatches.add(1, ordering: .relaxed)
    withoutActuallyEscaping(body) { body in
      job = body
      pending.store(threads - 1, ordering: .relaxed)
      generation.add(1, ordering: .sequentiallyConsistent)
      // A worker that went to sleep needs a signal; one that re-checked in time leaves a spare
      // signal behind, which only costs it one extra look at the counter later.
      if sleepers.load(ordering: .sequentiallyConsistent) > 0 { for s in wake { s.signal() } }
      body(0)
      var spins = 0
      while pending.load(ordering: .acquiring) > 0 {
        spins += 1
        if spins & 1023 == 0 { sched_yield() }
      }
      job = nil
    }
  }
}
