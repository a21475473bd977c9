import COpenCL
import Compute
import Foundation
import MendKernels

/// An OpenCL buffer.
final class CLBuffer: DeviceBuffer, @unchecked Sendable {
  let mem: cl_mem
  /// The buffer's values rounded to half, kept current (`OpenCLDevice.halfWeights`). It holds
  /// byteCount / 2 bytes but reports the float buffer's byteCount, so a tensor of this buffer
  /// re-pointed at it (same offset, same shape) addresses it by element.
  var half: CLBuffer?

  init(mem: cl_mem, byteCount: Int, device: OpenCLDevice) {
    self.mem = mem
    super.init(byteCount: byteCount, deviceID: ObjectIdentifier(device))
  }

  deinit { clReleaseMemObject(mem) }
}

/// A kernel argument.
enum KArg {
  case int(Int)
  case float(Float)
  /// A tensor: its buffer and its element offset (two arguments).
  case tensor(TensorRef)
}

/// An OpenCL device: CLBlast for GEMM, `Kernels/*.cl` for everything else, convolutions lowered
/// through `ConvLowering`. Work is enqueued in order on one queue; `read` and `synchronize` wait.
///
/// Not thread-safe: one op at a time per device.
public final class OpenCLDevice: Device, @unchecked Sendable {
  public let info: OpenCLDeviceInfo
  public let index: Int
  let context: cl_context
  var queue: cl_command_queue?
  let program: cl_program
  private var scratch: CLBuffer?
  /// Partial sums of split reductions (`splitCount`). Grown by replacement: launches recorded
  /// against an older one keep it alive (`RecordedLaunches.buffers`).
  private var splitPartials: CLBuffer?
  /// CLBlast's temporary buffer (`gemm`), and the size it needs per GEMM shape and offsets.
  private var gemmTemp: CLBuffer?
  struct TempKey: Hashable { let g: GemmDesc, ao: Int, bo: Int, co: Int }
  private var tempFloats: [TempKey: Int] = [:]
  /// Seconds spent creating the context and building (or loading) the kernel program.
  public let startupSeconds: Double
  /// Whether the kernel program came from the on-disk cache (a flag tests check: no timing).
  public var programFromCache: Bool { programOrigin == .cache }
  /// Where the kernel program came from: compiled, the cache, or compiled after a cache file was
  /// rejected (why, in words).
  public var programOriginDescription: String {
    switch programOrigin {
    case .compiled: return "compiled"
    case .cache: return "loaded from cache"
    case .rebuiltAfterRejecting(let why): return "compiled (cache file ignored: \(why))"
    }
  }
  let programOrigin: ProgramCache.Origin
  /// The program cache file this device reads and writes.
  public let programCacheFile: URL
  public private(set) var allocationCount = 0
  var counts = DeviceActivity()
  /// `cl_khr_command_buffer`, where the device offers it and `MEND_OPENCL_COMMAND_BUFFER` is not 0.
  let commandBufferAPI: CommandBufferAPI?
  /// Whether plans compiled from now on replay through command buffers (`group`); on by default
  /// where the API exists (tests turn it off to compare).
  public var useCommandBuffers: Bool
  /// Whether this device offers `cl_khr_command_buffer` to mend.
  public var supportsCommandBuffers: Bool { commandBufferAPI != nil }
  public var activity: DeviceActivity? { counts }

  /// Opens device `index` of `OpenCLRuntime.devices()`. `cacheDirectory` overrides where compiled
  /// kernel programs are kept (see `ProgramCache`).
  public init(index: Int, cacheDirectory: URL? = nil) throws {
    let t0 = Date()
    let all = try OpenCLRuntime.devices()
    guard !all.isEmpty else {
      throw ComputeError.deviceUnavailable("no OpenCL devices found" + (OpenCLRuntime.libraryError.map { " (\($0))" } ?? ""))
    }
    if let e = OpenCLRuntime.clblastError {
      throw ComputeError.deviceUnavailable("\(e): mend's OpenCL path needs CLBlast (Debian/Ubuntu: libclblast1)")
    }
    guard index >= 0 && index < all.count else {
      throw ComputeError.deviceUnavailable("OpenCL device \(index) does not exist (found \(all.count))")
    }
    info = all[index]
    self.index = index
    useFused = Self.fusedDefault(info)
    useTileGEMM = Self.tileGEMMDefault(info)
    commandBufferAPI = CommandBufferAPI(info)
    useCommandBuffers = commandBufferAPI != nil
    var err: cl_int = 0
    var dev: cl_device_id? = info.device
    guard let ctx = clCreateContext(nil, 1, &dev, nil, nil, &err), err == CL_SUCCESS else {
      throw ComputeError.backend("clCreateContext: \(CLErrors.name(err))")
    }
    context = ctx
    guard let q = clCreateCommandQueue(ctx, info.device, 0, &err), err == CL_SUCCESS else {
      clReleaseContext(ctx)
      throw ComputeError.backend("clCreateCommandQueue: \(CLErrors.name(err))")
    }
    queue = q
    do {
      let source = try KernelSources.program()
      let dir = cacheDirectory ?? ProgramCache.directory
      programCacheFile = ProgramCache.file(source: source, options: KernelCodes.buildOptions, info: info, directory: dir)
      let built = try ProgramCache.build(source: source, options: KernelCodes.buildOptions, context: ctx, info: info,
                                         directory: dir)
      (program, programOrigin) = built
    } catch {
      clReleaseCommandQueue(q)
      clReleaseContext(ctx)
      throw error
    }
    startupSeconds = Date().timeIntervalSince(t0)
  }

  deinit {
    releaseBound()
    scratch = nil
    splitPartials = nil
    gemmTemp = nil
    clReleaseProgram(program)
    if let queue { clReleaseCommandQueue(queue) }
    clReleaseContext(context)
  }

  public var name: String { "opencl:\(index)" }
  public var summary: String { "opencl:\(index): \(info.summary)" }
  public var threadCount: Int { info.isGPU ? 1 : info.computeUnits }
  /// A plan's arena is one buffer, so one allocation's limit bounds it; half the device's memory
  /// leaves room for the weights, workspace and other plans.
  public var memoryBudget: Int { min(info.maxAllocation, info.globalMemory / 2) }

  // MARK: - Memory

  public func makeBuffer(byteCount: Int) throws -> DeviceBuffer {
    try makeCLBuffer(byteCount: byteCount, reporting: byteCount)
  }

  /// A buffer of `byteCount` bytes whose `byteCount` property says `reported` (the half copy of a
  /// float buffer reports the float buffer's size: `CLBuffer.half`).
  func makeCLBuffer(byteCount: Int, reporting reported: Int) throws -> CLBuffer {
    guard byteCount >= 0 else { throw ComputeError.invalidArgument("negative buffer size") }
    guard byteCount <= info.maxAllocation else {
      throw ComputeError.invalidArgument("buffer of \(byteCount >> 20) MiB exceeds the device's max allocation "
                                         + "(\(info.maxAllocation >> 20) MiB)")
    }
    var err: cl_int = 0
    let size = max(byteCount, 4)
    if FaultInjection.fires(.alloc) {
      throw ComputeError.backend(FaultInjection.message("clCreateBuffer(\(size) bytes)", CL_MEM_OBJECT_ALLOCATION_FAILURE))
    }
    guard let mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), size, nil, &err), err == CL_SUCCESS else {
      throw ComputeError.backend("clCreateBuffer(\(size) bytes): \(CLErrors.name(err))")
    }
    // Zero new memory so a GEMM with beta = 0 never meets NaN garbage (0·NaN = NaN).
    var zero: Float = 0
    try CLErrors.check(clEnqueueFillBuffer(queue, mem, &zero, 4, 0, size / 4 * 4, 0, nil, nil), "clEnqueueFillBuffer")
    allocationCount += 1
    counts.bufferCreations += 1
    return CLBuffer(mem: mem, byteCount: reported, device: self)
  }

  public func workspace(byteCount: Int) throws -> DeviceBuffer {
    // A recorded launch would keep pointing at a workspace that later grows: such ops replay via `run`.
    if recording != nil { recordingFailed = true }
    if let s = scratch, s.byteCount >= byteCount { return s }
    let size = max(byteCount, (scratch?.byteCount ?? 0) * 3 / 2)
    let b = try makeBuffer(byteCount: size) as! CLBuffer
    scratch = b
    return b
  }

  func mem(_ t: TensorRef) throws -> cl_mem {
    guard let b = t.buffer as? CLBuffer, b.deviceID == ObjectIdentifier(self) else {
      throw ComputeError.invalidArgument("tensor does not belong to device \(name)")
    }
    return b.mem
  }

  public func write(_ bytes: UnsafeRawBufferPointer, to ref: TensorRef) throws {
    guard bytes.count == ref.byteCount else {
      throw ComputeError.invalidArgument("write of \(bytes.count) bytes into a \(ref.byteCount)-byte tensor")
    }
    if bytes.isEmpty { return }
    try CLErrors.check(clEnqueueWriteBuffer(queue, try mem(ref), cl_bool(CL_TRUE), ref.offset, bytes.count,
                                            bytes.baseAddress, 0, nil, nil), "clEnqueueWriteBuffer")
    counts.hostWaits += 1
    try refreshHalf(ref)
  }

  // MARK: - Half-precision weights

  /// Whether constant buffers (a plan's weights) get a half-precision copy that the fused forward
  /// and backward-data convolutions read instead (half the weight traffic; the products and sums
  /// stay float32): `MEND_OPENCL_FP16=weights`; off by default. Applies to buffers declared constant
  /// from then on. Needs no `cl_khr_fp16` (vload_half is core OpenCL); measured error in
  /// docs/performance.md. A write into the buffer — `write`, or an op's output such as a training
  /// step's update — refreshes the copy in the same queue, so it never goes stale.
  public var halfWeights: Bool = {
    let v = ProcessInfo.processInfo.environment["MEND_OPENCL_FP16"]?.lowercased()
    return v == "weights" || v == "1"
  }()

  public func declareConstant(_ buffer: DeviceBuffer) {
    guard let b = buffer as? CLBuffer, b.deviceID == ObjectIdentifier(self) else { return }
    guard halfWeights, b.half == nil, b.byteCount >= 4 else { return }
    // Best effort: without the copy the kernels read the float weights.
    guard let h = try? makeCLBuffer(byteCount: (b.byteCount / 4 * 2 + 3) / 4 * 4, reporting: b.byteCount) else { return }
    b.half = h
    try? refreshHalf(TensorRef(buffer: b, offset: 0, shape: [b.byteCount / 4]))
  }

  /// Re-rounds the half copy of `t`'s range after a write (nothing when the buffer has none).
  func refreshHalf(_ t: TensorRef) throws {
    guard let b = t.buffer as? CLBuffer, let h = b.half, t.count > 0 else { return }
    try launch("float_to_half", global: t.count,
               [.int(t.count), .tensor(t), .tensor(TensorRef(buffer: h, offset: t.offset, shape: t.shape))])
  }

  /// `t` in its buffer's half copy, where the fused kernels should read it.
  func halfCopy(_ t: TensorRef) -> TensorRef? {
    guard halfWeights, let h = (t.buffer as? CLBuffer)?.half else { return nil }
    return TensorRef(buffer: h, offset: t.offset, shape: t.shape)
  }

  public func read(_ ref: TensorRef, into bytes: UnsafeMutableRawBufferPointer) throws {
    guard bytes.count == ref.byteCount else {
      throw ComputeError.invalidArgument("read of a \(ref.byteCount)-byte tensor into \(bytes.count) bytes")
    }
    if bytes.isEmpty { return }
    try CLErrors.check(clEnqueueReadBuffer(queue, try mem(ref), cl_bool(CL_TRUE), ref.offset, bytes.count,
                                           bytes.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
    counts.hostWaits += 1
  }

  public func synchronize() throws {
    try CLErrors.check(clFinish(queue), "clFinish")
    counts.hostWaits += 1
  }

  // MARK: - Kernels

  /// Enqueues `name` over `global` work-items (rounded up to whole work-groups of `local`).
  func launch(_ name: String, global: Int, local: Int = KernelCodes.workGroup, _ args: [KArg]) throws {
    if global == 0 { return }
    try launch(name, groups: ((global + local - 1) / local, 1, 1), local: (local, 1), args)
  }

  /// Enqueues `name` over `groups` work-groups of `local.0 × local.1` items (3-D NDRange).
  ///
  /// Kernel arguments are bound once per call site: each distinct (kernel, buffers, scalar
  /// arguments) gets its own kernel object with its arguments set when first seen, so a replayed
  /// plan (the z loop, a training step) only enqueues. A site (kernel, buffers) keeps up to
  /// `kernelsPerSite` objects; past that, the least recently used one is re-pointed by setting only
  /// the arguments that differ (Adam's step in its scalar table changes every iteration: one
  /// argument). Objects hold their buffers weakly: one whose buffer was freed (its identifier may
  /// since name another) is dropped, and past `boundLimit` sites the cache starts over.
  func launch(_ name: String, groups: (Int, Int, Int), local: (Int, Int), _ args: [KArg]) throws {
    if groups.0 == 0 || groups.1 == 0 || groups.2 == 0 { return }
    if recording != nil { return try record(name, groups: groups, local: local, args) }
    var key = BoundKey(name: name, buffers: [])
    var words: [UInt64] = []
    words.reserveCapacity(args.count)
    for a in args {
      switch a {
      case .int(let v):
        guard let v32 = Int32(exactly: v) else { throw ComputeError.invalidArgument("\(name): \(v) exceeds int32") }
        words.append(UInt64(UInt32(bitPattern: v32)))
      case .float(let v): words.append(UInt64(v.bitPattern))
      case .tensor(let t):
        guard let b = t.buffer as? CLBuffer, b.deviceID == ObjectIdentifier(self) else {
          throw ComputeError.invalidArgument("tensor does not belong to device \(self.name)")
        }
        key.buffers.append(ObjectIdentifier(b))
        guard let off = Int32(exactly: t.elementOffset) else { throw ComputeError.invalidArgument("\(name): offset exceeds int32") }
        words.append(UInt64(UInt32(bitPattern: off)))
      }
    }
    // Word i's argument index: tensors take two (buffer, offset); the offset is the word.
    func setWord(_ k: cl_kernel, _ i: Int, _ index: cl_uint) throws {
      var v = UInt32(truncatingIfNeeded: words[i])
      try CLErrors.check(clSetKernelArg(k, index, 4, &v), "clSetKernelArg(\(name), \(index))")
    }
    useClock &+= 1
    var site = bound[key] ?? []
    // Entries whose buffers were freed are dropped (their identifiers may now name other buffers).
    if site.contains(where: { !$0.buffers.allSatisfy { $0.buffer != nil } }) {
      for e in site where !e.buffers.allSatisfy({ $0.buffer != nil }) { clReleaseKernel(e.kernel) }
      site.removeAll { !$0.buffers.allSatisfy { $0.buffer != nil } }
    }
    if let hit = site.firstIndex(where: { $0.words == words }) {
      site[hit].lastUse = useClock
      bound[key] = site
      try enqueue(site[hit].kernel, name, groups, local)
      return
    }
    if site.count >= Self.kernelsPerSite, let lru = site.indices.min(by: { site[$0].lastUse < site[$1].lastUse }) {
      // Re-point the least recently used object of this site: only the differing arguments.
      for i in words.indices where site[lru].words[i] != words[i] { try setWord(site[lru].kernel, i, site[lru].argIndex[i]) }
      site[lru].words = words
      site[lru].lastUse = useClock
      bound[key] = site
      try enqueue(site[lru].kernel, name, groups, local)
      return
    }
    if bound.count >= Self.boundLimit { releaseBound() }
    var err: cl_int = 0
    guard let fresh = clCreateKernel(program, name, &err), err == CL_SUCCESS else {
      throw ComputeError.backend("clCreateKernel(\(name)): \(CLErrors.name(err))")
    }
    counts.kernelCreations += 1
    var index: cl_uint = 0
    var buffers: [WeakBuffer] = [], argIndex: [cl_uint] = []
    do {
      for (i, a) in args.enumerated() {
        if case .tensor(let t) = a {
          let b = t.buffer as! CLBuffer
          buffers.append(WeakBuffer(buffer: b))
          var m: cl_mem? = b.mem
          try CLErrors.check(clSetKernelArg(fresh, index, MemoryLayout<cl_mem?>.size, &m), "clSetKernelArg(\(name), \(index))")
          index += 1
        }
        argIndex.append(index)
        try setWord(fresh, i, index)
        index += 1
      }
    } catch {
      clReleaseKernel(fresh)
      throw error
    }
    site.append(BoundKernel(kernel: fresh, buffers: buffers, words: words, argIndex: argIndex, lastUse: useClock))
    bound[key] = site
    try enqueue(fresh, name, groups, local)
  }

  private func enqueue(_ k: cl_kernel, _ name: String, _ groups: (Int, Int, Int), _ local: (Int, Int)) throws {
    try enqueue(k, name, sizes: (groups.0 * local.0, groups.1 * local.1, groups.2, local.0, local.1, 1))
  }

  /// Global (3) then local (3) sizes, in a tuple: no host array per launch.
  typealias NDSizes = (Int, Int, Int, Int, Int, Int)

  func enqueue(_ k: cl_kernel, _ name: @autoclosure () -> String, sizes: NDSizes) throws {
    if FaultInjection.fires(.enqueue) {
      throw ComputeError.backend(FaultInjection.message("clEnqueueNDRangeKernel(\(name()))", CL_OUT_OF_RESOURCES))
    }
    var s = sizes
    let err = withUnsafePointer(to: &s) { p in
      p.withMemoryRebound(to: Int.self, capacity: 6) { clEnqueueNDRangeKernel(queue, k, 3, nil, $0, $0 + 3, 0, nil, nil) }
    }
    try CLErrors.check(err, "clEnqueueNDRangeKernel(\(name()))")
    counts.launches += 1
  }

  // MARK: - Prepared ops (a plan's steps)

  /// Launches recorded by `prepare`: each its own kernel object, arguments set once.
  final class RecordedLaunches: PreparedOp {
    struct Launch { let kernel: cl_kernel; let name: String; let sizes: NDSizes }
    let device: OpenCLDevice
    let launches: [Launch]
    /// The buffers the kernels point at (OpenCL kernels do not retain their arguments).
    let buffers: [DeviceBuffer]
    init(_ device: OpenCLDevice, _ launches: [Launch], _ buffers: [DeviceBuffer]) {
      self.device = device; self.launches = launches; self.buffers = buffers
    }
    func run() throws {
      for l in launches { try device.enqueue(l.kernel, l.name, sizes: l.sizes) }
    }
    deinit { for l in launches { clReleaseKernel(l.kernel) } }
  }

  /// Set while `prepare` records an op's launches; nil otherwise.
  private var recording: [RecordedLaunches.Launch]?
  /// Set when the op being recorded did something a replay of launches cannot (a CLBlast call).
  private var recordingFailed = false
  /// Every buffer the recorded launches point at (the op's tensors and device-owned ones such as
  /// `splitPartials`), kept alive by the recorded op.
  private var recordedBuffers: [DeviceBuffer] = []

  /// Ops made only of mend's own kernels are recorded: `run` goes through the usual dispatch with
  /// `launch` creating a kernel object per launch and setting its arguments instead of enqueuing,
  /// so a replay is a loop of `clEnqueueNDRangeKernel` with no argument setting and no host
  /// allocation. Ops that call CLBlast (GEMMs, the lowered convolutions) run through `run` each time.
  public func prepare(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws -> PreparedOp {
    try op.validate(inputs: inputs, outputs: outputs)
    precondition(recording == nil, "prepare is not reentrant")
    recording = []
    recordingFailed = false
    recordedBuffers = []
    defer { recording = nil; recordedBuffers = [] }
    do {
      try run(op, inputs: inputs, outputs: outputs)
    } catch {
      for l in recording ?? [] { clReleaseKernel(l.kernel) }
      throw error
    }
    let launches = recording ?? []
    if recordingFailed {
      for l in launches { clReleaseKernel(l.kernel) }
      return DeferredOp(self, op, inputs: inputs, outputs: outputs)
    }
    return RecordedLaunches(self, launches, (inputs + outputs).map(\.buffer) + recordedBuffers)
  }

  private func record(_ name: String, groups: (Int, Int, Int), local: (Int, Int), _ args: [KArg]) throws {
    var err: cl_int = 0
    guard let k = clCreateKernel(program, name, &err), err == CL_SUCCESS else {
      throw ComputeError.backend("clCreateKernel(\(name)): \(CLErrors.name(err))")
    }
    counts.kernelCreations += 1
    do {
      var index: cl_uint = 0
      for a in args {
        switch a {
        case .int(let v):
          guard var v32 = Int32(exactly: v) else { throw ComputeError.invalidArgument("\(name): \(v) exceeds int32") }
          try CLErrors.check(clSetKernelArg(k, index, 4, &v32), "clSetKernelArg(\(name), \(index))")
        case .float(var v):
          try CLErrors.check(clSetKernelArg(k, index, 4, &v), "clSetKernelArg(\(name), \(index))")
        case .tensor(let t):
          var m: cl_mem? = try mem(t)
          try CLErrors.check(clSetKernelArg(k, index, MemoryLayout<cl_mem?>.size, &m), "clSetKernelArg(\(name), \(index))")
          index += 1
          guard var off = Int32(exactly: t.elementOffset) else { throw ComputeError.invalidArgument("\(name): offset exceeds int32") }
          try CLErrors.check(clSetKernelArg(k, index, 4, &off), "clSetKernelArg(\(name), \(index))")
        }
        index += 1
      }
    } catch {
      clReleaseKernel(k)
      throw error
    }
    for a in args { if case .tensor(let t) = a { recordedBuffers.append(t.buffer) } }
    recording!.append(RecordedLaunches.Launch(kernel: k, name: name,
                                              sizes: (groups.0 * local.0, groups.1 * local.1, groups.2, local.0, local.1, 1)))
  }

  struct BoundKey: Hashable {
    let name: String
    var buffers: [ObjectIdentifier]
  }
  struct WeakBuffer { weak var buffer: CLBuffer? }
  struct BoundKernel {
    let kernel: cl_kernel
    /// The key's buffers: all alive means the identifiers in the key still name them.
    let buffers: [WeakBuffer]
    /// The scalar arguments as last set (ints, float bits, tensor offsets) and their indices.
    var words: [UInt64]
    let argIndex: [cl_uint]
    var lastUse: UInt64
  }
  /// Kernel objects per (kernel, buffers) site, each bound to one set of scalar arguments (a plan's
  /// tensors share one arena buffer, so one site serves many ops that differ in offsets).
  private var bound: [BoundKey: [BoundKernel]] = [:]
  private var useClock: UInt64 = 0
  static let kernelsPerSite = 64
  static let boundLimit = 4096

  func releaseBound() {
    for (_, site) in bound { for e in site { clReleaseKernel(e.kernel) } }
    bound = [:]
  }

  // MARK: - Fused convolutions (Kernels/conv.cl)

  /// Whether convolutions (every shape, fully connected and 1 × 1 included, so a z iteration never
  /// calls CLBlast; forward, backward-data and backward-filter) run on the fused kernels, else im2col/col2im + CLBlast:
  /// `MEND_OPENCL_CONV=fused|lowered`, by default fused on GPUs and lowered on CPU-type devices
  /// (on PoCL the fused kernels are correct but slower than CLBlast's GEMM around im2col; see
  /// docs/performance.md).
  public var useFused: Bool

  static func fusedDefault(_ info: OpenCLDeviceInfo) -> Bool {
    switch ProcessInfo.processInfo.environment["MEND_OPENCL_CONV"]?.lowercased() {
    case "fused": return true
    case "lowered": return false
    default: return info.isGPU
    }
  }

  /// Tile shapes of the fused kernels: (rows, columns) per work-group and its (x, y) items.
  static let wideTile = (m: 32, n: 64, local: (16, 8)), narrowTile = (m: 4, n: 256, local: (64, 1))

  /// The fused kernel an op runs on, or nil (lowered to CLBlast, or not a convolution).
  public static func fusedKernel(for op: Op) -> String? {
    switch op {
    case .conv2d(let c, _, _, _):
      return c.outChannels <= narrowTile.m ? "conv2d_fused_narrow" : "conv2d_fused"
    case .conv2dBackwardData(let c, _, _, _):
      return c.inChannels <= narrowTile.m ? "conv2d_bwd_fused_narrow" : "conv2d_bwd_fused"
    case .conv2dBackwardFilter(let c, _):
      return c.outChannels <= narrowTile.m ? "conv2d_bwf_fused_narrow" : "conv2d_bwf_fused"
    default:
      return nil
    }
  }

  /// A convolution's inputs split into its own and its epilogue's.
  struct ConvOperands {
    let x: TensorRef, w: TensorRef, bias: TensorRef?, alpha: TensorRef?, residual: TensorRef?
    init(_ i: [TensorRef], bias: Bool, _ e: ConvEpilogue) {
      x = i[0]; w = i[1]
      var k = 2
      self.bias = bias ? i[k] : nil
      if bias { k += 1 }
      alpha = e.prelu ? i[k] : nil
      if e.prelu { k += 1 }
      residual = e.residual ? i[k] : nil
    }
    /// Scalars and buffers in the kernels' order (unused buffers point at w).
    /// `w`: where the kernel reads the weights (their half copy for the "_hw" kernels), else `self.w`.
    func args(_ c: ConvGeometry, _ act: Activation, _ e: ConvEpilogue, out: TensorRef, split: Int, per: Int,
              part: TensorRef, w readW: TensorRef? = nil) -> [KArg] {
      [.int(c.batch), .int(c.inChannels), .int(c.inHeight), .int(c.inWidth), .int(c.outChannels), .int(c.kernelH),
       .int(c.kernelW), .int(c.strideH), .int(c.strideW), .int(c.padH), .int(c.padW), .int(c.outHeight),
       .int(c.outWidth), .int(bias == nil ? 0 : 1)] + OpenCLDevice.actArgs(act)
        + [.int(e.prelu ? 1 : 0), .int(e.residual ? 1 : 0), .float(e.alpha), .float(e.beta), .int(e.shuffle)]
        + [.int(split), .int(per)]
        + [.tensor(x), .tensor(readW ?? w), .tensor(bias ?? w), .tensor(alpha ?? w), .tensor(residual ?? w),
           .tensor(out), .tensor(part)]
    }
  }

  /// Work-groups per compute unit a split reduction aims for; a slice is at least `minSliceSteps`
  /// steps of CONV_TK (16) along the reduction, and there are at most `maxSplit` slices.
  static let splitTargetPerUnit = 2, minSliceSteps = 8, maxSplit = 64
  /// Forces every fused convolution with at least two reduction steps into this many slices (at
  /// most one per step): `MEND_OPENCL_SPLIT=N`, 1 turns splitting off; tests set it to exercise
  /// the split kernels on any device. nil: `splitCount`'s rule.
  public var splitOverride: Int? = ProcessInfo.processInfo.environment["MEND_OPENCL_SPLIT"].flatMap { Int($0) }
    .map { max(1, $0) }

  /// Slices for a convolution launch of `groups` work-groups whose reduction is `length` long
  /// (K, or the batch's pixels for backward-filter): split when the groups would occupy at most half
  /// the compute units, so that about `splitTargetPerUnit` groups per unit run, each slice ≥ 8
  /// steps. (A layer that nearly fills the device in one wave — SRResNet's 128 groups at a 64 × 64
  /// input on a 132-unit GPU — gains less from more, partial waves than its partial sums cost.)
  /// Returns (slices, slice length in elements, a multiple of 16); one slice covers everything.
  public static func splitCount(groups: Int, length: Int, computeUnits: Int, override: Int?) -> (split: Int, per: Int) {
    let tk = 16, steps = (length + tk - 1) / tk
    var s = 1
    if let o = override {
      s = min(o, steps)
    } else if 2 * groups <= computeUnits {
      s = min((splitTargetPerUnit * computeUnits + groups - 1) / groups, steps / minSliceSteps, maxSplit)
    }
    if s < 2 { return (1, max(length, 1)) }
    let perSteps = (steps + s - 1) / s
    return ((steps + perSteps - 1) / perSteps, perSteps * tk)
  }

  /// The length of a fused convolution's reduction (what `splitCount` cuts): the patch for the
  /// forward kernel, output channels × the taps of one stride phase for backward-data, the batch's
  /// output pixels for backward-filter; nil for other ops.
  public static func reductionLength(for op: Op) -> Int? {
    switch op {
    case .conv2d(let c, _, _, _):
      return c.patchSize
    case .conv2dBackwardData(let c, _, _, _):
      return c.outChannels * ((c.kernelH + c.strideH - 1) / c.strideH) * ((c.kernelW + c.strideW - 1) / c.strideW)
    case .conv2dBackwardFilter(let c, _):
      return c.batch * c.outPixels
    default:
      return nil
    }
  }

  /// The partial-sum buffer for `floats` floats (grown by replacement, never shrunk).
  func partials(floats: Int) throws -> TensorRef {
    let bytes = max(4, floats * 4)
    if splitPartials == nil || splitPartials!.byteCount < bytes {
      splitPartials = try makeBuffer(byteCount: max(bytes, (splitPartials?.byteCount ?? 0) * 3 / 2)) as? CLBuffer
    }
    return TensorRef(buffer: splitPartials!, offset: 0, shape: [floats])
  }

  /// The compute units the split rule plans for: the device's, or `MEND_OPENCL_SPLIT_UNITS=N` to see
  /// (count launches, check results) what a device with N units would run.
  public var splitUnits: Int = ProcessInfo.processInfo.environment["MEND_OPENCL_SPLIT_UNITS"].flatMap { Int($0) } ?? 0

  func split(groups: Int, length: Int) -> (split: Int, per: Int) {
    Self.splitCount(groups: groups, length: length, computeUnits: splitUnits > 0 ? splitUnits : info.computeUnits,
                    override: splitOverride)
  }

  /// The epilogue's scalars and buffers for `conv_split_reduce` after the partial sums of a
  /// [n, m, hh, ww] result.
  func splitReduce(n: Int, m: Int, hh: Int, ww: Int, split: Int, part: TensorRef, _ o: ConvOperands,
                   _ act: Activation, _ e: ConvEpilogue, out: TensorRef) throws {
    try launch("conv_split_reduce", global: n * m * hh * ww,
               [.int(n), .int(m), .int(hh), .int(ww), .int(split), .int(o.bias == nil ? 0 : 1)] + Self.actArgs(act)
                 + [.int(e.prelu ? 1 : 0), .int(e.residual ? 1 : 0), .float(e.alpha), .float(e.beta), .int(e.shuffle)]
                 + [.tensor(part), .tensor(o.bias ?? o.w), .tensor(o.alpha ?? o.w), .tensor(o.residual ?? o.w),
                    .tensor(out)])
  }

  /// y = epilogue(act(conv2d(x, w) + bias)): one launch, or two when the reduction is split.
  func convFused(_ c: ConvGeometry, _ o: ConvOperands, activation: Activation, epilogue e: ConvEpilogue,
                 y: TensorRef) throws {
    let narrow = c.outChannels <= Self.narrowTile.m
    let t = narrow ? Self.narrowTile : Self.wideTile
    let cols = c.batch * c.outPixels
    let groups = ((cols + t.n - 1) / t.n, (c.outChannels + t.m - 1) / t.m)
    let (s, per) = split(groups: groups.0 * groups.1, length: c.patchSize)
    let total = cols * c.outChannels
    let part = s > 1 ? try partials(floats: s * total) : y
    let hw = halfCopy(o.w)
    try launch((narrow ? "conv2d_fused_narrow" : "conv2d_fused") + (hw == nil ? "" : "_hw"),
               groups: (groups.0, groups.1, s), local: t.local,
               o.args(c, activation, e, out: y, split: s, per: per, part: part, w: hw))
    if s > 1 {
      try splitReduce(n: c.batch, m: c.outChannels, hh: c.outHeight, ww: c.outWidth, split: s, part: part, o,
                      activation, e, out: y)
    }
  }

  /// dx = epilogue(act(conv2d_backward_data(dy, w) + bias)) — a transposed convolution — one
  /// launch (two when split), one work-group plane per stride phase and slice (`o.x` is dy).
  func convBackwardDataFused(_ c: ConvGeometry, _ o: ConvOperands, activation: Activation, epilogue e: ConvEpilogue,
                             dx: TensorRef) throws {
    let narrow = c.inChannels <= Self.narrowTile.m
    let t = narrow ? Self.narrowTile : Self.wideTile
    let hq = (c.inHeight + c.strideH - 1) / c.strideH, wq = (c.inWidth + c.strideW - 1) / c.strideW
    let cols = c.batch * hq * wq, phases = c.strideH * c.strideW
    let groups = ((cols + t.n - 1) / t.n, (c.inChannels + t.m - 1) / t.m)
    let length = c.outChannels * ((c.kernelH + c.strideH - 1) / c.strideH) * ((c.kernelW + c.strideW - 1) / c.strideW)
    let (s, per) = split(groups: groups.0 * groups.1 * phases, length: length)
    let total = c.batch * c.inChannels * c.inHeight * c.inWidth
    let part = s > 1 ? try partials(floats: s * total) : dx
    let hw = halfCopy(o.w)
    try launch((narrow ? "conv2d_bwd_fused_narrow" : "conv2d_bwd_fused") + (hw == nil ? "" : "_hw"),
               groups: (groups.0, groups.1, phases * s), local: t.local,
               o.args(c, activation, e, out: dx, split: s, per: per, part: part, w: hw))
    if s > 1 {
      try splitReduce(n: c.batch, m: c.inChannels, hh: c.inHeight, ww: c.inWidth, split: s, part: part, o,
                      activation, e, out: dx)
    }
  }

  /// dw (+)= the weight gradient of conv2d(x, w) given dy: output channels × patch elements per
  /// work-group tile, the batch's pixels reduced through local memory — one launch, or two when
  /// the pixels are split into slices (`conv_bwf_split_reduce` adds them).
  func convBackwardFilterFused(_ c: ConvGeometry, x: TensorRef, dy: TensorRef, accumulate: Bool,
                               dw: TensorRef) throws {
    let narrow = c.outChannels <= Self.narrowTile.m
    let t = narrow ? Self.narrowTile : Self.wideTile
    let groups = ((c.patchSize + t.n - 1) / t.n, (c.outChannels + t.m - 1) / t.m)
    let (s, per) = split(groups: groups.0 * groups.1, length: c.batch * c.outPixels)
    let total = c.outChannels * c.patchSize
    let part = s > 1 ? try partials(floats: s * total) : dw
    try launch(narrow ? "conv2d_bwf_fused_narrow" : "conv2d_bwf_fused", groups: (groups.0, groups.1, s),
               local: t.local,
               [.int(c.batch), .int(c.inChannels), .int(c.inHeight), .int(c.inWidth), .int(c.outChannels),
                .int(c.kernelH), .int(c.kernelW), .int(c.strideH), .int(c.strideW), .int(c.padH), .int(c.padW),
                .int(c.outHeight), .int(c.outWidth), .int(accumulate ? 1 : 0), .int(s), .int(per),
                .tensor(x), .tensor(dy), .tensor(dw), .tensor(part)])
    if s > 1 {
      try launch("conv_bwf_split_reduce", global: total,
                 [.int(total), .int(s), .int(accumulate ? 1 : 0), .tensor(part), .tensor(dw)])
    }
  }

  static func poolArgs(_ c: ConvGeometry) -> [KArg] {
    [.int(c.batch * c.inChannels), .int(c.inHeight), .int(c.inWidth), .int(c.outHeight), .int(c.outWidth),
     .int(c.kernelH), .int(c.kernelW), .int(c.strideH), .int(c.strideW), .int(c.padH), .int(c.padW)]
  }

  static func actArgs(_ a: Activation) -> [KArg] {
    let (code, slope) = KernelCodes.Act.arguments(a)
    return [.int(Int(code.rawValue)), .float(slope)]
  }

  /// Everything; a convolution epilogue with a pixel shuffle only on the fused kernels (the lowered
  /// path runs epilogues as separate passes, `runEpilogueUnfused`).
  public func supports(_ op: Op) -> Bool {
    useFused || (op.epilogue?.runsUnfused ?? true)
  }

  // MARK: - GEMM (CLBlast)

  /// Whether GEMMs run on mend's kernels (Kernels/gemm.cl: `gemm_tile`, an 8 × 32 register tile per
  /// work-item in explicit vectors, shaped for CPU cores; `gemm_tile_nt`, 4 × 4 dot products along k,
  /// for a transposed B; both A and B transposed stays on CLBlast) instead of CLBlast:
  /// `MEND_OPENCL_GEMM=mend|clblast`; by default mend's on CPU-type devices (PoCL), where CLBlast's
  /// GPU-shaped kernels reach ~10–20 GFLOP/s, and CLBlast on GPUs.
  public var useTileGEMM: Bool

  static func tileGEMMDefault(_ info: OpenCLDeviceInfo) -> Bool {
    switch ProcessInfo.processInfo.environment["MEND_OPENCL_GEMM"]?.lowercased() {
    case "mend": return true
    case "clblast": return false
    default: return !info.isGPU
    }
  }

  func gemm(_ g: GemmDesc, a: TensorRef, b: TensorRef, c: TensorRef) throws {
    if g.batch == 0 || g.m == 0 || g.n == 0 { return }
    if useTileGEMM && g.transB && !g.transA && g.k > 0 {
      try launch("gemm_tile_nt", groups: ((g.m + 3) / 4, (g.n + 3) / 4, g.batch), local: (1, 1),
                 [.int(g.m), .int(g.n), .int(g.k), .int(g.lda), .int(g.ldb), .int(g.ldc), .float(g.alpha),
                  .float(g.beta), .int(g.strideA), .int(g.strideB), .int(g.strideC), .tensor(a), .tensor(b), .tensor(c)])
      return
    }
    if useTileGEMM && !g.transB && g.k > 0 {
      try launch("gemm_tile", groups: ((g.m + 7) / 8, (g.n + 31) / 32, g.batch), local: (1, 1),
                 [.int(g.m), .int(g.n), .int(g.k), .int(g.transA ? 1 : 0), .int(g.lda), .int(g.ldb), .int(g.ldc),
                  .float(g.alpha), .float(g.beta), .int(g.strideA), .int(g.strideB), .int(g.strideC),
                  .tensor(a), .tensor(b), .tensor(c)])
      return
    }
    if recording != nil { recordingFailed = true; return }
    let ta = g.transA ? CLBlastTransposeYes : CLBlastTransposeNo
    let tb = g.transB ? CLBlastTransposeYes : CLBlastTransposeNo
    var event: cl_event? = nil
    let status: CLBlastStatusCode
    counts.libraryCalls += 1
    if g.k == 0 {
      // CLBlast rejects K = 0; C = beta · C.
      try run(.scale(count: c.count, alpha: g.beta, beta: 0), inputs: [c], outputs: [c])
      return
    }
    if FaultInjection.fires(.enqueue) {
      throw ComputeError.backend(FaultInjection.message("CLBlastSgemm (m \(g.m), n \(g.n), k \(g.k))", CL_OUT_OF_RESOURCES))
    }
    if g.batch == 1 {
      // CLBlast pads and copies operands its fast kernel cannot take as they are (offsets,
      // leading dimensions), into a temporary buffer it would allocate on every call: give it one,
      // sized once per GEMM shape and grown as needed, so steady state creates no buffers.
      let key = TempKey(g: g, ao: a.elementOffset, bo: b.elementOffset, co: c.elementOffset)
      let floats: Int
      if let f = tempFloats[key] { floats = f } else {
        var bytes = 0
        let s = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, g.m, g.n, g.k, a.elementOffset, g.lda,
                                           b.elementOffset, g.ldb, c.elementOffset, g.ldc, &queue, &bytes)
        guard s == CLBlastSuccess else {
          throw ComputeError.backend("CLBlastSGemmTempBufferSize: \(CLErrors.clblastName(s.rawValue))")
        }
        floats = (bytes + 3) / 4
        tempFloats[key] = floats
      }
      if gemmTemp == nil || gemmTemp!.byteCount < max(4, floats * 4) {
        gemmTemp = try makeBuffer(byteCount: max(4, floats * 4, (gemmTemp?.byteCount ?? 0) * 3 / 2)) as? CLBuffer
      }
      status = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, g.m, g.n, g.k, g.alpha,
                                          try mem(a), a.elementOffset, g.lda, try mem(b), b.elementOffset, g.ldb,
                                          g.beta, try mem(c), c.elementOffset, g.ldc, &queue, &event, gemmTemp!.mem)
    } else {
      status = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, g.m, g.n, g.k, g.alpha,
                                          try mem(a), a.elementOffset, g.lda, g.strideA,
                                          try mem(b), b.elementOffset, g.ldb, g.strideB,
                                          g.beta, try mem(c), c.elementOffset, g.ldc, g.strideC,
                                          g.batch, &queue, &event)
    }
    if let event { clReleaseEvent(event) }
    if status != CLBlastSuccess {
      throw ComputeError.backend("CLBlast \(g.batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched")"
                                 + " (m \(g.m), n \(g.n), k \(g.k)): \(CLErrors.clblastName(status.rawValue))")
    }
  }

  // MARK: - Dispatch

  public func run(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws {
    try dispatch(op, inputs: inputs, outputs: outputs)
    // An op that writes a buffer with a half copy (a training step's update) refreshes it.
    for t in outputs where (t.buffer as? CLBuffer)?.half != nil { try refreshHalf(t) }
  }

  func dispatch(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws {
    try op.validate(inputs: inputs, outputs: outputs)
    let i = inputs, o = outputs
    switch op {
    case .gemm(let g):
      try gemm(g, a: i[0], b: i[1], c: o[0])
    case .conv2d(let c, let bias, let act, let e) where useFused:
      try convFused(c, ConvOperands(i, bias: bias, e), activation: act, epilogue: e, y: o[0])
    case .conv2dBackwardData(let c, let bias, let act, let e) where useFused:
      try convBackwardDataFused(c, ConvOperands(i, bias: bias, e), activation: act, epilogue: e, dx: o[0])
    case .conv2d(_, _, _, let e) where !e.isNone, .conv2dBackwardData(_, _, _, let e) where !e.isNone:
      try runEpilogueUnfused(op, inputs: i, outputs: o)
    case .conv2d(let c, let bias, let act, _):
      try ConvLowering.conv2d(on: DeviceLowering(self), c, x: i[0], w: i[1], bias: bias ? i[2] : nil, activation: act, y: o[0])
    case .conv2dBackwardData(let c, let bias, let act, _):
      try ConvLowering.conv2dBackwardData(on: DeviceLowering(self), c, dy: i[0], w: i[1], bias: bias ? i[2] : nil,
                                          activation: act, dx: o[0])
    case .conv2dBackwardFilter(let c, let acc) where useFused:
      try convBackwardFilterFused(c, x: i[0], dy: i[1], accumulate: acc, dw: o[0])
    case .conv2dBackwardFilter(let c, let acc):
      try ConvLowering.conv2dBackwardFilter(on: DeviceLowering(self), c, x: i[0], dy: i[1], accumulate: acc, dw: o[0])
    case .im2col(let c, let t):
      let lx = min(c.outWidth, 64)
      try launch("im2col", groups: ((c.outWidth + lx - 1) / lx, t.images * t.rows, c.patchSize), local: (lx, 1),
                 geometry(c, t) + [.tensor(i[0]), .tensor(o[0])])
    case .col2im(let c, let t):
      let lx = min(c.inWidth, 64)
      try launch("col2im", groups: ((c.inWidth + lx - 1) / lx, c.inHeight, t.images * c.inChannels), local: (lx, 1),
                 geometry(c, t) + [.tensor(i[0]), .tensor(o[0])])
    case .transposeBlocks(let a, let b, let n):
      try launch("transpose_blocks", global: a * b * n, [.int(a), .int(b), .int(n), .tensor(i[0]), .tensor(o[0])])
    case .batchNorm(let l, let eps, let act):
      try launch("bn_infer", global: l.count, [.int(l.count), .int(l.channels), .int(l.spatial), .float(eps)]
                 + Self.actArgs(act) + [.tensor(i[0]), .tensor(i[1]), .tensor(i[2]), .tensor(i[3]), .tensor(i[4]),
                                        .tensor(o[0])])
    case .batchNormTraining(let l, let eps, let momentum):
      try launch("bn_train", global: l.channels * KernelCodes.workGroup, [.int(l.batch), .int(l.channels), .int(l.spatial), .float(eps),
                 .float(momentum)] + (i + o).map { .tensor($0) })
    case .batchNormBackward(let l):
      try launch("bn_bwd", global: l.channels * KernelCodes.workGroup, [.int(l.batch), .int(l.channels), .int(l.spatial)]
                 + (i + o).map { .tensor($0) })
    case .batchNormInferenceBackward(let l, let eps):
      try launch("bn_infer_bwd", global: l.count, [.int(l.count), .int(l.channels), .int(l.spatial), .float(eps)]
                 + (i + o).map { .tensor($0) })
    case .biasActivation(let l, let act):
      try launch("bias_act", global: l.count, [.int(l.count), .int(l.channels), .int(l.spatial)] + Self.actArgs(act)
                 + [.tensor(i[0]), .tensor(i[1]), .tensor(o[0])])
    case .channelSum(let l):
      try launch("channel_sum", global: l.channels * KernelCodes.workGroup, [.int(l.batch), .int(l.channels), .int(l.spatial),
                                                          .tensor(i[0]), .tensor(o[0])])
    case .activation(let act, let n):
      try launch("activation_fwd", global: n, [.int(n)] + Self.actArgs(act) + [.tensor(i[0]), .tensor(o[0])])
    case .activationBackward(let act, let n):
      try launch("activation_bwd", global: n, [.int(n)] + Self.actArgs(act) + [.tensor(i[0]), .tensor(i[1]),
                                                                                .tensor(o[0])])
    case .prelu(let l):
      try launch("prelu_fwd", global: l.count, [.int(l.count), .int(l.channels), .int(l.spatial), .tensor(i[0]),
                                                .tensor(i[1]), .tensor(o[0])])
    case .preluBackward(let l):
      try launch("prelu_bwd_data", global: l.count, [.int(l.count), .int(l.channels), .int(l.spatial),
                 .tensor(i[0]), .tensor(i[1]), .tensor(i[2]), .tensor(o[0])])
      try launch("prelu_bwd_alpha", global: l.channels * KernelCodes.workGroup, [.int(l.batch), .int(l.channels), .int(l.spatial),
                 .tensor(i[0]), .tensor(i[2]), .tensor(o[1])])
    case .maxPool(let c):
      try launch("max_pool_fwd", global: c.batch * c.outChannels * c.outPixels, Self.poolArgs(c) + [.tensor(i[0]), .tensor(o[0])])
    case .maxPoolBackward(let c):
      try launch("max_pool_bwd", global: c.batch * c.inChannels * c.inHeight * c.inWidth,
                 Self.poolArgs(c) + [.tensor(i[0]), .tensor(i[1]), .tensor(o[0])])
    case .depthToSpace(let n, let c, let h, let w, let r):
      try launch("depth_to_space", global: n * c * h * w * r * r, [.int(n), .int(c), .int(h), .int(w), .int(r), .int(0),
                                                                   .tensor(i[0]), .tensor(o[0])])
    case .spaceToDepth(let n, let c, let h, let w, let r):
      try launch("depth_to_space", global: n * c * h * w * r * r, [.int(n), .int(c), .int(h), .int(w), .int(r), .int(1),
                                                                   .tensor(i[0]), .tensor(o[0])])
    case .add(let n):
      try launch("binary_op", global: n, [.int(n), .int(Int(KernelCodes.Binary.add.rawValue)), .float(1), .tensor(i[0]), .tensor(i[1]), .tensor(o[0])])
    case .mul(let n):
      try launch("binary_op", global: n, [.int(n), .int(Int(KernelCodes.Binary.mul.rawValue)), .float(1), .tensor(i[0]), .tensor(i[1]), .tensor(o[0])])
    case .axpy(let n, let alpha):
      try launch("binary_op", global: n, [.int(n), .int(Int(KernelCodes.Binary.axpy.rawValue)), .float(alpha), .tensor(i[0]), .tensor(i[1]), .tensor(o[0])])
    case .scale(let n, let alpha, let beta):
      try launch("scale_op", global: n, [.int(n), .float(alpha), .float(beta), .tensor(i[0]), .tensor(o[0])])
    case .rowSum(let rows, let cols, let mean):
      try launch("row_sum", global: rows * KernelCodes.workGroup, [.int(rows), .int(cols), .int(mean ? 1 : 0), .tensor(i[0]), .tensor(o[0])])
    case .adam(let n, let b1, let b2, let limit):
      try launch("adam_step", global: n, [.int(n), .float(b1), .float(b2), .float(limit.isFinite ? limit : Float.greatestFiniteMagnitude)]
                 + (i + o).map { .tensor($0) })
    case .weightedL1(let s, let n):
      try loss(kind: .weightedL1, s, n, p: i[0], t: i[1], w: i[2], out: o[0])
    case .mse(let s, let n):
      try loss(kind: .mse, s, n, p: i[0], t: i[1], w: i[0], out: o[0])
    case .bceWithLogits(let s, let n):
      try loss(kind: .bceWithLogits, s, n, p: i[0], t: i[1], w: i[0], out: o[0])
    case .weightedL1Backward(let s, let n):
      try lossBackward(kind: .weightedL1, s, n, p: i[0], t: i[1], w: i[2], dl: i[3], out: o[0])
    case .mseBackward(let s, let n):
      try lossBackward(kind: .mse, s, n, p: i[0], t: i[1], w: i[0], dl: i[2], out: o[0])
    case .bceWithLogitsBackward(let s, let n):
      try lossBackward(kind: .bceWithLogits, s, n, p: i[0], t: i[1], w: i[0], dl: i[2], out: o[0])
    }
  }

  func geometry(_ c: ConvGeometry, _ t: PatchTile) -> [KArg] {
    [.int(t.images), .int(c.inChannels), .int(c.inHeight), .int(c.inWidth), .int(c.kernelH), .int(c.kernelW),
     .int(c.strideH), .int(c.strideW), .int(c.padH), .int(c.padW), .int(c.outHeight), .int(c.outWidth),
     .int(t.rowStart), .int(t.rows), .int(t.accumulate ? 1 : 0)]
  }

  func loss(kind: KernelCodes.Loss, _ s: Int, _ n: Int, p: TensorRef, t: TensorRef, w: TensorRef, out: TensorRef) throws {
    try launch("loss_fwd", global: s * KernelCodes.workGroup, [.int(s), .int(n), .int(Int(kind.rawValue)), .tensor(p), .tensor(t), .tensor(w), .tensor(out)])
  }

  func lossBackward(kind: KernelCodes.Loss, _ s: Int, _ n: Int, p: TensorRef, t: TensorRef, w: TensorRef, dl: TensorRef,
                    out: TensorRef) throws {
    try launch("loss_bwd", global: s * n, [.int(s), .int(n), .int(Int(kind.rawValue)), .tensor(p), .tensor(t), .tensor(w),
                                           .tensor(dl), .tensor(out)])
  }
}
