import Compute

/// Forwards everything to `base` and throws `MendError.cancelled` before an op when the current
/// token is cancelled. Every compiled plan runs op by op through its device, so wrapping the device
/// makes inpainting, super-resolution and completion cancellable within one op without a hook in
/// any of them. The check is one uncontended lock per op (tens of nanoseconds against ops of
/// microseconds to milliseconds).
final class CancellableDevice: Device, @unchecked Sendable {
  let base: any Device
  /// The token of the run in progress; set by `Mender` while it holds its run lock.
  var token: CancellationToken?

  init(_ base: any Device) { self.base = base }

  var name: String { base.name }
  var summary: String { base.summary }
  var threadCount: Int { base.threadCount }
  var memoryBudget: Int { base.memoryBudget }

  func makeBuffer(byteCount: Int) throws -> DeviceBuffer { try base.makeBuffer(byteCount: byteCount) }
  func write(_ bytes: UnsafeRawBufferPointer, to ref: TensorRef) throws { try base.write(bytes, to: ref) }
  func read(_ ref: TensorRef, into bytes: UnsafeMutableRawBufferPointer) throws { try base.read(ref, into: bytes) }
  func supports(_ op: Op) -> Bool { base.supports(op) }

  func run(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws {
    if let token, token.isCancelled { throw MendError.cancelled }
    try base.run(op, inputs: inputs, outputs: outputs)
  }

  /// The base device's prepared step, with the cancellation check in front of each replay.
  func prepare(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws -> PreparedOp {
    CheckedStep(try base.prepare(op, inputs: inputs, outputs: outputs), self)
  }

  /// The base device's grouping of the unwrapped steps, each group checked before it runs (a group
  /// that is one command buffer is cancelled before or after, not within).
  func group(_ steps: [PreparedOp]) throws -> [PreparedOp] {
    try base.group(steps.map { ($0 as? CheckedStep)?.inner ?? $0 }).map { CheckedStep($0, self) }
  }

  final class CheckedStep: PreparedOp {
    let inner: PreparedOp
    unowned let owner: CancellableDevice
    init(_ inner: PreparedOp, _ owner: CancellableDevice) { self.inner = inner; self.owner = owner }
    func run() throws {
      if let token = owner.token, token.isCancelled { throw MendError.cancelled }
      try inner.run()
    }
  }

  func synchronize() throws { try base.synchronize() }
  func workspace(byteCount: Int) throws -> DeviceBuffer { try base.workspace(byteCount: byteCount) }
  func declareConstant(_ buffer: DeviceBuffer) { base.declareConstant(buffer) }
}
