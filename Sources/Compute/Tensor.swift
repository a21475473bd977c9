// Tensors as a device sees them: a buffer, a byte offset into it, and a shape.
//
// Every tensor is float32, dense and row-major (NCHW for images). Addressing a tensor as
// (buffer, offset) — the `(cl_mem, offset)` pair CLBlast takes — lets a planner place a whole graph
// in one arena.

/// Memory owned by a device. Backends subclass it; only the owning device reads its contents.
open class DeviceBuffer: @unchecked Sendable {
  public let byteCount: Int
  /// The device that made this buffer (compared by identity).
  public let deviceID: ObjectIdentifier

  public init(byteCount: Int, deviceID: ObjectIdentifier) {
    self.byteCount = byteCount
    self.deviceID = deviceID
  }
}

/// A dense float32 tensor inside a device buffer.
public struct TensorRef: @unchecked Sendable {
  public let buffer: DeviceBuffer
  /// Offset in bytes from the start of `buffer`; a multiple of 4.
  public let offset: Int
  public let shape: [Int]

  public init(buffer: DeviceBuffer, offset: Int = 0, shape: [Int]) {
    precondition(offset >= 0 && offset % 4 == 0, "tensor offset must be a non-negative multiple of 4")
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    let bytes = shape.reduce(1, *) * 4
    precondition(offset + bytes <= buffer.byteCount,
                 "tensor \(shape) at offset \(offset) overruns a buffer of \(buffer.byteCount) bytes")
    self.buffer = buffer
    self.offset = offset
    self.shape = shape
  }

  public var count: Int { shape.reduce(1, *) }
  public var byteCount: Int { count * 4 }
  /// Offset in float elements.
  public var elementOffset: Int { offset / 4 }

  /// The same memory seen with another shape of equal element count.
  public func reshaped(_ newShape: [Int]) -> TensorRef {
    precondition(newShape.reduce(1, *) == count, "reshape \(shape) -> \(newShape) changes the count")
    return TensorRef(buffer: buffer, offset: offset, shape: newShape)
  }

  /// A contiguous sub-range of `count` elements starting `start` elements in.
  public func slice(start: Int, count n: Int, shape newShape: [Int]? = nil) -> TensorRef {
    precondition(start >= 0 && start + n <= count, "slice out of range")
    return TensorRef(buffer: buffer, offset: offset + 4 * start, shape: newShape ?? [n])
  }
}

public enum ComputeError: Error, CustomStringConvertible, Equatable {
  /// The device cannot run this op (see `Device.supports`).
  case unsupported(String)
  /// Shapes, counts or parameters do not fit the op.
  case invalidArgument(String)
  /// A backend call failed: the call and the backend's error name.
  case backend(String)
  /// No device of the requested kind exists or it could not be initialised.
  case deviceUnavailable(String)

  public var description: String {
    switch self {
    case .unsupported(let s): return "unsupported: \(s)"
    case .invalidArgument(let s): return "invalid argument: \(s)"
    case .backend(let s): return "backend error: \(s)"
    case .deviceUnavailable(let s): return "device unavailable: \(s)"
    }
  }
}
