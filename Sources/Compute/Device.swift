import Foundation

// A place where tensor memory lives and ops run. `CPUDevice` is the reference; every other device
// is tested against it op by op.

public protocol Device: AnyObject {
  /// Short name: "cpu", "opencl:0".
  var name: String { get }
  /// One line for logs and benchmark tables (hardware, driver, threads).
  var summary: String { get }
  /// Host threads the device uses (1 for an accelerator's host side).
  var threadCount: Int { get }

  func makeBuffer(byteCount: Int) throws -> DeviceBuffer
  func write(_ bytes: UnsafeRawBufferPointer, to ref: TensorRef) throws
  func read(_ ref: TensorRef, into bytes: UnsafeMutableRawBufferPointer) throws
  func supports(_ op: Op) -> Bool
  /// Enqueues or runs `op`. May return before the work is done; `read` and `synchronize` wait.
  func run(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws
  func synchronize() throws
  /// Binds `op` to these tensors once, for a plan that replays it many times: the returned step's
  /// `run()` does what `run(op, inputs:outputs:)` does. A device may resolve everything here
  /// (OpenCL: kernel objects with their arguments set), so a replay only enqueues; the default
  /// calls `run` each time.
  func prepare(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws -> PreparedOp
  /// Groups a plan's prepared steps, in order, for replay: a device may merge consecutive steps
  /// into one submission (OpenCL: a `cl_khr_command_buffer` per run of mend's own kernels). The
  /// default returns them as they are.
  func group(_ steps: [PreparedOp]) throws -> [PreparedOp]
  /// Scratch memory for lowered ops; grows on demand and is reused, so steady-state runs allocate
  /// nothing. Valid until the next call to `workspace`.
  func workspace(byteCount: Int) throws -> DeviceBuffer
  /// Declares that `buffer` keeps its contents (a plan's weights), so the device may keep copies
  /// derived from it (GEMM operands pre-packed on first use). A write into the buffer, by `write`
  /// or as an op's output, drops them.
  func declareConstant(_ buffer: DeviceBuffer)
  /// Bytes one plan may reasonably place on the device (tiling decisions use it): by default a
  /// quarter of the host's physical memory; an accelerator reports what its memory allows.
  var memoryBudget: Int { get }
  /// What the device has done so far (launches, library calls, creations, host waits), for
  /// benchmarks that report per-iteration counts; nil where nothing is counted.
  var activity: DeviceActivity? { get }
}

/// Cumulative counts of a device's API activity. Differences between two snapshots give the
/// per-iteration figures `mend bench … --json` reports.
public struct DeviceActivity: Sendable, Equatable {
  /// Kernels enqueued by mend itself.
  public var launches = 0
  /// Calls into a vendor library (CLBlast GEMMs), each one or more launches of its own.
  public var libraryCalls = 0
  /// Device buffers created.
  public var bufferCreations = 0
  /// Kernel objects created by mend.
  public var kernelCreations = 0
  /// Blocking transfers and queue finishes: each one a host wait.
  public var hostWaits = 0
  /// Command buffers submitted (each replays several of the launches counted above).
  public var submissions = 0
  public init() {}

  public static func - (a: DeviceActivity, b: DeviceActivity) -> DeviceActivity {
    var d = DeviceActivity()
    d.launches = a.launches - b.launches
    d.libraryCalls = a.libraryCalls - b.libraryCalls
    d.bufferCreations = a.bufferCreations - b.bufferCreations
    d.kernelCreations = a.kernelCreations - b.kernelCreations
    d.hostWaits = a.hostWaits - b.hostWaits
    d.submissions = a.submissions - b.submissions
    return d
  }

  /// JSON fields (no braces), each divided by `per` (iterations).
  public func jsonFields(per n: Int) -> String {
    func f(_ v: Int) -> String { String(format: "%.2f", Double(v) / Double(max(1, n))) }
    return "\"launches\":\(f(launches)),\"library_calls\":\(f(libraryCalls)),\"buffer_creations\":\(f(bufferCreations)),"
      + "\"kernel_creations\":\(f(kernelCreations)),\"host_waits\":\(f(hostWaits)),\"command_buffers\":\(f(submissions))"
  }
}

/// An op bound to its tensors (`Device.prepare`).
public protocol PreparedOp: AnyObject {
  func run() throws
}

/// `prepare`'s default: the op and its tensors, run through `Device.run` each time.
public final class DeferredOp: PreparedOp {
  let device: Device, op: Op, inputs: [TensorRef], outputs: [TensorRef]
  public init(_ device: Device, _ op: Op, inputs: [TensorRef], outputs: [TensorRef]) {
    self.device = device; self.op = op; self.inputs = inputs; self.outputs = outputs
  }
  public func run() throws { try device.run(op, inputs: inputs, outputs: outputs) }
}

extension Device {
  public func declareConstant(_ buffer: DeviceBuffer) {}

  public func prepare(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws -> PreparedOp {
    try op.validate(inputs: inputs, outputs: outputs)
    return DeferredOp(self, op, inputs: inputs, outputs: outputs)
  }

  public func group(_ steps: [PreparedOp]) throws -> [PreparedOp] { steps }

  public var memoryBudget: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory / 4) }
  public var activity: DeviceActivity? { nil }

  /// Allocates a tensor and copies `values` into it.
  public func tensor(_ values: [Float], shape: [Int]) throws -> TensorRef {
    precondition(values.count == shape.reduce(1, *), "value count does not match shape \(shape)")
    let t = try zeros(shape)
    try values.withUnsafeBytes { try write($0, to: t) }
    return t
  }

  /// Allocates an uninitialised tensor (zeroed on devices that zero new memory; do not rely on it).
  public func zeros(_ shape: [Int]) throws -> TensorRef {
    let n = shape.reduce(1, *)
    let buffer = try makeBuffer(byteCount: max(4, n * 4))
    return TensorRef(buffer: buffer, offset: 0, shape: shape)
  }

  /// Copies a tensor back to the host (waits for pending work).
  public func values(_ t: TensorRef) throws -> [Float] {
    var out = [Float](repeating: 0, count: t.count)
    try out.withUnsafeMutableBytes { try read(t, into: $0) }
    return out
  }

  /// Uploads `values` into an existing tensor.
  public func write(_ values: [Float], to t: TensorRef) throws {
    precondition(values.count == t.count, "value count does not match \(t.shape)")
    try values.withUnsafeBytes { try write($0, to: t) }
  }
}
