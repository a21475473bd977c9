/// Errors thrown by ``Mender``.
///
/// Errors from the layers below (image decoding, mask validation, weights files) are passed
/// through unchanged; each has a one-line `description` fit to show a user.
public enum MendError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The run was stopped through its ``CancellationToken`` or its task was cancelled.
  case cancelled
  /// An argument or input is out of range (wrong image size, empty mask, bad option).
  case invalidArgument(String)
  /// The requested device cannot be opened.
  case deviceUnavailable(String)
  /// A pretrained weights file is missing or unreadable.
  case missingWeights(String)

  /// One line, fit to show a user.
  public var description: String {
    switch self {
    case .cancelled: return "cancelled"
    case .invalidArgument(let s): return s
    case .deviceUnavailable(let s): return "device unavailable: \(s)"
    case .missingWeights(let s): return s
    }
  }
}
