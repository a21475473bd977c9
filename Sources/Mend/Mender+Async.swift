import Dispatch
import Foundation

// The `async` forms run the synchronous call on a background thread (the work is long and
// blocking, so it stays off Swift's cooperative pool) and cancel it when their task is cancelled.
extension Mender {
  /// Inpaints a 64×64 image off the caller's thread; task cancellation stops it with
  /// ``MendError/cancelled``. See ``inpaint(_:mask:options:progress:cancellation:)``.
  public func inpaint(
    _ image: Image, mask: Mask, options: InpaintOptions = .init(),
    progress: @escaping @Sendable (MendProgress) -> Void = { _ in }
  ) async throws -> InpaintedImage {
    try await background { token in
      try self.inpaint(image, mask: mask, options: options, progress: progress, cancellation: token)
    }
  }

  /// Upscales 4× off the caller's thread; task cancellation stops it with ``MendError/cancelled``.
  /// See ``superResolve(_:options:progress:cancellation:)``.
  public func superResolve(
    _ image: Image, options: SuperResolutionOptions = .init(),
    progress: @escaping @Sendable (MendProgress) -> Void = { _ in }
  ) async throws -> Image {
    try await background { token in
      try self.superResolve(image, options: options, progress: progress, cancellation: token)
    }
  }

  /// Completes an image off the caller's thread; task cancellation stops it with
  /// ``MendError/cancelled``. See ``complete(_:mask:options:progress:cancellation:)``.
  public func complete(
    _ image: Image, mask: Mask, options: CompletionOptions = .init(),
    progress: @escaping @Sendable (MendProgress) -> Void = { _ in }
  ) async throws -> CompletedImage {
    try await background { token in
      try self.complete(image, mask: mask, options: options, progress: progress, cancellation: token)
    }
  }

  private func background<T: Sendable>(_ body: @escaping @Sendable (CancellationToken) throws -> T) async throws -> T {
    let token = CancellationToken()
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        DispatchQueue.global(qos: .userInitiated).async {
          continuation.resume(with: Result { try body(token) })
        }
      }
    } onCancel: {
      token.cancel()
    }
  }
}
