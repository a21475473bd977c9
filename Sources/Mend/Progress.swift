import Foundation

/// How far a ``Mender`` run has come, passed to the `progress` callback.
public struct MendProgress: Sendable, Equatable {
  /// A stage of a run. `inpaint` and `complete` report `inpaint` first; `complete` then reports
  /// `superResolve` and `merge`.
  public enum Stage: String, Sendable, Equatable {
    /// Latent optimisation at 64×64; `completed` counts Adam iterations.
    case inpaint
    /// 4× super-resolution; `completed` counts windows (1 when the image runs in one piece).
    case superResolve
    /// Pasting the result into the full-resolution image.
    case merge
  }

  /// The stage running.
  public let stage: Stage
  /// Units of `total` done (iterations, windows).
  public let completed: Int
  /// Units in this stage.
  public let total: Int
  /// For `inpaint`: the best total loss so far, averaged over the images in the call; otherwise nil.
  public let loss: Float?

  /// Creates a progress report (public for tests and for callers that forward reports).
  public init(stage: Stage, completed: Int, total: Int, loss: Float? = nil) {
    self.stage = stage
    self.completed = completed
    self.total = total
    self.loss = loss
  }

  /// `completed / total` in [0, 1] (1 for an empty stage).
  public var fraction: Double { total > 0 ? Double(completed) / Double(total) : 1 }
}

/// Stops a ``Mender`` run from another thread.
///
/// Pass the token to a call and call ``cancel()`` from anywhere; the run stops before its next
/// device operation and throws ``MendError/cancelled``. A token stays cancelled: use a new one per
/// run. The `async` methods cancel on task cancellation without a token.
public final class CancellationToken: @unchecked Sendable {
  private let lock = NSLock()
  private var flag = false

  /// A token that is not cancelled.
  public init() {}

  /// Asks the runs using this token to stop.
  public func cancel() {
    lock.lock()
    flag = true
    lock.unlock()
  }

  /// Whether ``cancel()`` was called.
  public var isCancelled: Bool {
    lock.lock()
    defer { lock.unlock() }
    return flag
  }
}
