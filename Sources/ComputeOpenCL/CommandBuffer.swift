import COpenCL
import Compute
import Foundation

/// `cl_khr_command_buffer` (the provisional 0.9 API that PoCL 3.x and NVIDIA's R535+ drivers
/// offer): a plan's launches recorded once into a command buffer and submitted with one call per
/// replay, instead of one `clEnqueueNDRangeKernel` each. The functions are looked up per platform.
struct CommandBufferAPI {
  typealias Create = @convention(c) (cl_uint, UnsafePointer<cl_command_queue?>?, UnsafePointer<cl_ulong>?,
                                     UnsafeMutablePointer<cl_int>?) -> OpaquePointer?
  typealias Handle = @convention(c) (OpaquePointer?) -> cl_int
  typealias NDRange = @convention(c) (OpaquePointer?, cl_command_queue?, UnsafePointer<cl_ulong>?, cl_kernel?, cl_uint,
                                      UnsafePointer<Int>?, UnsafePointer<Int>?, UnsafePointer<Int>?, cl_uint,
                                      UnsafePointer<cl_uint>?, UnsafeMutablePointer<cl_uint>?,
                                      UnsafeMutablePointer<OpaquePointer?>?) -> cl_int
  typealias Enqueue = @convention(c) (cl_uint, UnsafeMutablePointer<cl_command_queue?>?, OpaquePointer?, cl_uint,
                                      UnsafePointer<cl_event?>?, UnsafeMutablePointer<cl_event?>?) -> cl_int
  let create: Create
  let finalize: Handle
  let release: Handle
  let ndRange: NDRange
  let enqueue: Enqueue

  // cl_ext.h's values (the provisional extension's header is not imported).
  static let deviceCapabilities = cl_device_info(0x12A9)  // CL_DEVICE_COMMAND_BUFFER_CAPABILITIES_KHR
  static let requiredQueueProperties = cl_device_info(0x12AA)  // …_REQUIRED_QUEUE_PROPERTIES_KHR
  static let simultaneousUseCapability: cl_ulong = 1 << 2  // CL_COMMAND_BUFFER_CAPABILITY_SIMULTANEOUS_USE_KHR
  static let flags: cl_ulong = 0x1293  // CL_COMMAND_BUFFER_FLAGS_KHR
  static let simultaneousUse: cl_ulong = 1 << 0  // CL_COMMAND_BUFFER_SIMULTANEOUS_USE_KHR

  /// The API for `info`'s platform when the device lists the extension, lets a buffer be submitted
  /// again while an earlier submission is pending (a plan replays without waiting), needs no queue
  /// properties beyond mend's in-order queue, and `MEND_OPENCL_COMMAND_BUFFER` is not `0`; nil
  /// otherwise (plans then replay launch by launch).
  init?(_ info: OpenCLDeviceInfo) {
    guard info.hasExtension("cl_khr_command_buffer"),
      ProcessInfo.processInfo.environment["MEND_OPENCL_COMMAND_BUFFER"] != "0"
    else { return nil }
    var caps: cl_ulong = 0, required: cl_ulong = 0
    guard clGetDeviceInfo(info.device, Self.deviceCapabilities, 8, &caps, nil) == CL_SUCCESS,
      clGetDeviceInfo(info.device, Self.requiredQueueProperties, 8, &required, nil) == CL_SUCCESS,
      caps & Self.simultaneousUseCapability != 0, required == 0
    else { return nil }
    func f<T>(_ name: String, _: T.Type) -> T? {
      mend_opencl_extension_function(info.platform, name).map { unsafeBitCast($0, to: T.self) }
    }
    guard let c = f("clCreateCommandBufferKHR", Create.self), let fin = f("clFinalizeCommandBufferKHR", Handle.self),
      let r = f("clReleaseCommandBufferKHR", Handle.self), let n = f("clCommandNDRangeKernelKHR", NDRange.self),
      let e = f("clEnqueueCommandBufferKHR", Enqueue.self)
    else { return nil }
    create = c; finalize = fin; release = r; ndRange = n; enqueue = e
  }
}

extension OpenCLDevice {
  /// A run of recorded steps as one command buffer: the steps' kernels in order, each waiting on
  /// the one before (sync points, so the order holds whatever the queue), submitted with one call.
  final class CommandBufferOp: PreparedOp {
    let device: OpenCLDevice
    let api: CommandBufferAPI
    let buffer: OpaquePointer
    /// The recorded steps: they own the kernel objects and keep the buffers alive.
    let steps: [RecordedLaunches]
    let launchCount: Int

    init(_ device: OpenCLDevice, _ api: CommandBufferAPI, _ steps: [RecordedLaunches]) throws {
      var err: cl_int = 0
      var q: cl_command_queue? = device.queue
      let properties: [cl_ulong] = [CommandBufferAPI.flags, CommandBufferAPI.simultaneousUse, 0]
      guard let b = api.create(1, &q, properties, &err), err == CL_SUCCESS else {
        throw ComputeError.backend("clCreateCommandBufferKHR: \(CLErrors.name(err))")
      }
      var previous: cl_uint = 0, count = 0
      do {
        for step in steps {
          for l in step.launches {
            var sizes = l.sizes
            var point: cl_uint = 0
            let wait = previous
            let e = withUnsafePointer(to: &sizes) { p in
              p.withMemoryRebound(to: Int.self, capacity: 6) { s in
                withUnsafePointer(to: wait) { w in
                  api.ndRange(b, nil, nil, l.kernel, 3, nil, s, s + 3, count == 0 ? 0 : 1, count == 0 ? nil : w, &point, nil)
                }
              }
            }
            try CLErrors.check(e, "clCommandNDRangeKernelKHR(\(l.name))")
            previous = point
            count += 1
          }
        }
        try CLErrors.check(api.finalize(b), "clFinalizeCommandBufferKHR")
      } catch {
        _ = api.release(b)
        throw error
      }
      self.device = device; self.api = api; buffer = b; self.steps = steps; launchCount = count
    }

    func run() throws { try device.submit(self) }

    deinit { _ = api.release(buffer) }
  }

  /// Replays `op`: one `clEnqueueCommandBufferKHR`. Counted as its kernels' launches (the work
  /// done) and one submission; `MEND_FAULT=enqueue` counts each kernel as the direct path does.
  func submit(_ op: CommandBufferOp) throws {
    for step in op.steps {
      for l in step.launches where FaultInjection.fires(.enqueue) {
        throw ComputeError.backend(FaultInjection.message("clEnqueueCommandBufferKHR(\(l.name))", CL_OUT_OF_RESOURCES))
      }
    }
    try CLErrors.check(op.api.enqueue(0, nil, op.buffer, 0, nil, nil), "clEnqueueCommandBufferKHR")
    counts.launches += op.launchCount
    counts.submissions += 1
  }

  /// Runs of two or more consecutive recorded steps become one command buffer each, where the device
  /// offers `cl_khr_command_buffer`; steps that call CLBlast stay as they are, between buffers. If the
  /// driver refuses a buffer (queue properties it requires, a limit), the steps replay one launch at
  /// a time as before.
  public func group(_ steps: [PreparedOp]) throws -> [PreparedOp] {
    guard useCommandBuffers, let api = commandBufferAPI else { return steps }
    var out: [PreparedOp] = [], run: [RecordedLaunches] = []
    func flush() {
      defer { run = [] }
      guard run.count > 1, let op = try? CommandBufferOp(self, api, run) else {
        out.append(contentsOf: run as [PreparedOp])
        return
      }
      out.append(op)
    }
    for s in steps {
      if let r = s as? RecordedLaunches { run.append(r) } else { flush(); out.append(s) }
    }
    flush()
    return out
  }
}
