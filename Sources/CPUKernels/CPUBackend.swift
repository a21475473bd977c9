import CPURuntime
import Compute
import Foundation

/// Host memory, 64-byte aligned and zero-filled at allocation.
final class CPUBuffer: DeviceBuffer, @unchecked Sendable {
  let base: UnsafeMutableRawPointer
  /// Declared constant (`Device.declareConstant`): copies derived from it may be cached.
  var isConstant = false
  struct DerivedKey: Hashable {
    let offset: Int, m: Int, k: Int, lda: Int, transA: Bool, skinny: Bool
    /// Winograd-transformed filters (`WinogradConv.prepackFilters`) rather than A itself: 1 for a
    /// forward convolution's, 2 for a transposed one's; 3 and 4 for the same in the narrow
    /// path's layout (few tiles: the same weights at batch 1 and at batch 64 need both); 5 for a
    /// 3 × 3 convolution's F(2×2, 3×3) filters (Winograd3x3); 6 and 7 for F(4×4, 2×2) forward and
    /// transposed.
    var winograd = 0
  }
  /// GEMM A operands pre-packed from this buffer (`SGEMMEngine.prepackA`, or Winograd filters).
  var prepacked: [DerivedKey: UnsafeMutablePointer<Float>] = [:]

  func dropDerived() {
    for p in prepacked.values { p.deallocate() }
    prepacked = [:]
  }

  init(byteCount: Int, device: CPUBackend) {
    base = HostMemory.allocateZeroed(byteCount: byteCount)
    super.init(byteCount: byteCount, deviceID: ObjectIdentifier(device))
  }

  deinit {
    dropDerived()
    base.deallocate()
  }
}

/// The pure-Swift device: multi-threaded, SIMD, synchronous. It is the reference every other
/// device is checked against and the fast path on machines without a GPU.
///
/// Not thread-safe: run one op at a time per device (ops parallelise internally).
public final class CPUBackend: CPUKernelBackend, @unchecked Sendable {
  public let threadCount: Int
  let splitter: ThreadSplitter
  let gemmEngine: SGEMMEngine
  private var scratch: CPUBuffer?
  /// Number of buffers allocated by this device (workspace growth included). Tests use it to show
  /// that steady-state loops allocate nothing.
  public private(set) var allocationCount = 0

  public static var isa: CPUISA { kernelISA }

  public init(threads: Int = ThreadSplitter.defaultThreads) {
    threadCount = max(1, threads)
    splitter = ThreadSplitter(threads: threadCount)
    gemmEngine = SGEMMEngine(threads: threadCount)
  }

  public var name: String { "cpu" }
  public var summary: String {
    "cpu: Swift SIMD (\(kernelISA) kernels), \(threadCount) thread\(threadCount == 1 ? "" : "s"), \(Self.cpuModel)"
  }

  static let cpuModel: String = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
      if let v = line.split(separator: ":", maxSplits: 1).last { return v.trimmingCharacters(in: .whitespaces) }
    }
    return "unknown CPU"
  }()

  public func makeBuffer(byteCount: Int) throws -> DeviceBuffer {
    guard byteCount >= 0 else { throw ComputeError.invalidArgument("negative buffer size") }
    allocationCount += 1
    return CPUBuffer(byteCount: byteCount, device: self)
  }

  public func workspace(byteCount: Int) throws -> DeviceBuffer {
    if let s = scratch, s.byteCount >= byteCount { return s }
    // Grow geometrically so a sequence of slightly larger requests settles quickly.
    let size = max(byteCount, (scratch?.byteCount ?? 0) * 3 / 2)
    allocationCount += 1
    let s = CPUBuffer(byteCount: size, device: self)
    scratch = s
    return s
  }

  /// A second grow-only scratch buffer, for flipped kernels (the convolution they feed uses
  /// `workspace`).
  private var flipped: CPUBuffer?
  func flipScratch(floats: Int) throws -> CPUBuffer {
    if let f = flipped, f.byteCount >= floats * 4 { return f }
    allocationCount += 1
    let f = CPUBuffer(byteCount: floats * 4, device: self)
    flipped = f
    return f
  }

  func buffer(_ t: TensorRef) throws -> CPUBuffer {
    guard let b = t.buffer as? CPUBuffer, b.deviceID == ObjectIdentifier(self) else {
      throw ComputeError.invalidArgument("tensor does not belong to device \(name)")
    }
    return b
  }

  func ptr(_ t: TensorRef) throws -> UnsafeMutablePointer<Float> {
    let b = try buffer(t)
    return (b.base + t.offset).assumingMemoryBound(to: Float.self)
  }

  public func write(_ bytes: UnsafeRawBufferPointer, to ref: TensorRef) throws {
    guard bytes.count == ref.byteCount else {
      throw ComputeError.invalidArgument("write of \(bytes.count) bytes into a \(ref.byteCount)-byte tensor")
    }
    let b = try buffer(ref)
    if b.isConstant { b.dropDerived() }
    if bytes.count > 0 { (b.base + ref.offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
  }

  public func declareConstant(_ buffer: DeviceBuffer) {
    (buffer as? CPUBuffer)?.isConstant = true
  }

  /// A GEMM's constant A (a plan's weights), pre-packed on first use and reused until the buffer
  /// is written. nil when A is not constant or the shape gains nothing (one row, or several
  /// different A matrices in a batch).
  func prepackedA(_ t: TensorRef, _ g: GemmDesc) -> UnsafePointer<Float>? {
    guard let b = t.buffer as? CPUBuffer else { return nil }
    return prepackedA(b, byteOffset: t.offset, g)
  }

  func prepackedA(_ b: CPUBuffer, byteOffset: Int, _ g: GemmDesc) -> UnsafePointer<Float>? {
    guard g.m > 1, g.batch == 1 || g.strideA == 0, b.isConstant else { return nil }
    let skinny = SGEMMEngine.skinnyApplies(n: g.n, k: g.k)
    let key = CPUBuffer.DerivedKey(offset: byteOffset, m: g.m, k: g.k, lda: g.lda, transA: g.transA, skinny: skinny)
    if let p = b.prepacked[key] { return UnsafePointer(p) }
    allocationCount += 1
    let p = SGEMMEngine.prepackA(transA: g.transA, m: g.m, k: g.k, a: (b.base + byteOffset).assumingMemoryBound(to: Float.self),
                                 lda: g.lda, skinny: skinny)
    b.prepacked[key] = p
    return UnsafePointer(p)
  }

  /// A constant 4 × 4 stride-2 kernel's Winograd filters for the forward or the transposed
  /// convolution, pre-packed on first use (nil when the weights are not constant).
  func winogradFilters(_ t: TensorRef, _ c: ConvGeometry, transposed: Bool) -> UnsafePointer<Float>? {
    let shape = WinogradConv.Shape(c: c, transposed: transposed)
    let kind = shape.tile == 4 ? (transposed ? 7 : 6) : (transposed ? 2 : 1) + (shape.narrow ? 2 : 0)
    return derivedFilters(t, c, kind: kind) { w in
      WinogradConv.prepackFilters(c, transposed: transposed, w: w, pool: self.splitter)
    }
  }

  /// A constant 3 × 3 kernel's F(2×2, 3×3) filters, pre-packed on first use (nil when the weights
  /// are not constant).
  func winograd3x3Filters(_ t: TensorRef, _ c: ConvGeometry) -> UnsafePointer<Float>? {
    derivedFilters(t, c, kind: 5) { w in Winograd3x3.prepackFilters(c, w: w, pool: self.splitter) }
  }

  /// Transformed filters of a constant weight tensor, cached on its buffer under
  /// `DerivedKey.winograd = kind` (dropped when the buffer is written).
  private func derivedFilters(_ t: TensorRef, _ c: ConvGeometry, kind: Int,
                              make: (UnsafePointer<Float>) -> UnsafeMutablePointer<Float>) -> UnsafePointer<Float>? {
    guard let b = t.buffer as? CPUBuffer, b.isConstant else { return nil }
    let key = CPUBuffer.DerivedKey(offset: t.offset, m: c.outChannels, k: c.inChannels, lda: 0, transA: false,
                                   skinny: false, winograd: kind)
    if let p = b.prepacked[key] { return UnsafePointer(p) }
    allocationCount += 1
    let p = make((b.base + t.offset).assumingMemoryBound(to: Float.self))
    b.prepacked[key] = p
    return UnsafePointer(p)
  }

  /// C = op(A)·op(B) per `g` (batched), A pre-packed when `constantA` names its constant buffer.
  func gemm(_ g: GemmDesc, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
            constantA: (buffer: CPUBuffer, byteOffset: Int)?) {
    let packed = constantA.flatMap { prepackedA($0.buffer, byteOffset: $0.byteOffset, g) }
    for bi in 0..<g.batch {
      gemmEngine.sgemm(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, alpha: g.alpha,
                       a: a + bi * g.strideA, lda: g.lda, b: b + bi * g.strideB, ldb: g.ldb,
                       beta: g.beta, c: c + bi * g.strideC, ldc: g.ldc, prepacked: packed)
    }
  }

  public func read(_ ref: TensorRef, into bytes: UnsafeMutableRawBufferPointer) throws {
    guard bytes.count == ref.byteCount else {
      throw ComputeError.invalidArgument("read of a \(ref.byteCount)-byte tensor into \(bytes.count) bytes")
    }
    let b = try buffer(ref)
    if bytes.count > 0 { bytes.baseAddress!.copyMemory(from: b.base + ref.offset, byteCount: bytes.count) }
  }

  public func synchronize() throws {}

  /// Everything but a convolution epilogue with a pixel shuffle (see `runEpilogueUnfused`).
  public func supports(_ op: Op) -> Bool { op.epilogue?.runsUnfused ?? true }

  /// The CPU lowering's largest patch tile, in floats: 4 MiB. A transposed convolution's patch tile
  /// is written by the GEMM and read back by col2im, and at this size it is still in cache (DCGAN
  /// generator layers at batch 64, best of 4 alternating runs: 16 MiB 28.3 / 25.1 / 30.2 ms,
  /// 4 MiB 26.1 / 24.8 / 28.0, 1 MiB 34.1 / 26.7 / 28.3).
  public static let loweringColumnBudget = 1 << 20

  public typealias ConvPath = CPUConvPath

  public static func gemmSplitsK(_ g: GemmDesc, threads: Int) -> Bool {
    SGEMMEngine.splitKApplies(threads: threads, m: g.m, n: g.n, k: g.k)
  }

  /// Which kernel `run` uses for a convolution op; nil for other ops.
  public static func convPath(_ op: Op) -> ConvPath? {
    switch op {
    case .conv2d(let c, _, _, _):
      if DirectConv.applies(c) { return .direct }
      if let t = WinogradConv.tile(c) { return t == 4 ? .winogradF4 : .winograd }
      if Winograd3x3.applies(c) { return .winograd3x3 }
      return ImplicitConv.applies(c) ? .implicitGEMM : .lowered
    case .conv2dBackwardData(let c, _, _, _):
      if DirectConv.backwardDataApplies(c)
        || (c.strideH == 1 && c.strideW == 1 && Winograd3x3.applies(DirectConv.flippedGeometry(c))) {
        return .directFlipped
      }
      if DirectConv.transposedApplies(c) { return .direct }
      guard let t = WinogradConv.tile(c, transposed: true) else { return .lowered }
      return t == 4 ? .winogradF4 : .winograd
    case .conv2dBackwardFilter(let c, _):
      return DirectConv.applies(c) ? .direct : .lowered
    default:
      return nil
    }
  }

  public func run(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws {
    try op.validate(inputs: inputs, outputs: outputs)
    if let e = op.epilogue, !e.isNone { return try runEpilogueUnfused(op, inputs: inputs, outputs: outputs) }
    let i = try OperandPointers(self, inputs), o = try OperandPointers(self, outputs)
    for t in outputs { if let b = t.buffer as? CPUBuffer, b.isConstant { b.dropDerived() } }
    switch op {
    case .gemm(let g):
      gemm(g, a: i[0], b: i[1], c: o[0], constantA: try constantSource(inputs[0]))
    case .conv2d(let c, let bias, let act, _):
      switch Self.convPath(op) {
      case .direct:
        let ws = try workspace(byteCount: DirectConv.workspaceFloats(c, threads: threadCount) * 4) as! CPUBuffer
        DirectConv.run(c, x: i[0], w: i[1], bias: bias ? i[2] : nil, act: act, y: o[0],
                       workspace: ws.base.assumingMemoryBound(to: Float.self), pool: splitter)
      case .winograd, .winogradF4:
        try winograd(c, transposed: false, input: i[0], w: inputs[1], bias: bias ? i[2] : nil, act: act, output: o[0])
      case .winograd3x3:
        let packed = winograd3x3Filters(inputs[1], c)
        let floats = Winograd3x3.workspaceFloats(c, prepacked: packed != nil)
        let ws = try workspace(byteCount: floats * 4) as! CPUBuffer
        Winograd3x3.run(c, x: i[0], w: i[1], bias: bias ? i[2] : nil, act: act, y: o[0], engine: gemmEngine,
                        prepacked: packed, workspace: ws.base.assumingMemoryBound(to: Float.self))
      case .implicitGEMM:
        let packed = prepackedA(inputs[1], GemmDesc(m: c.outChannels, n: c.batch * c.outPixels, k: c.patchSize))
        ImplicitConv.forward(c, x: i[0], w: i[1], bias: bias ? i[2] : nil, act: act, y: o[0], engine: gemmEngine,
                             prepacked: packed)
      default:
        let l = CPULowering(device: self)
        try ConvLowering.conv2d(on: l, c, x: l.operand(i[0]), w: try l.operand(i[1], constant: inputs[1]),
                                bias: bias ? l.operand(i[2]) : nil, activation: act, y: l.operand(o[0]))
      }
    case .conv2dBackwardData(let c, let bias, let act, _):
      switch Self.convPath(op) {
      case .directFlipped:
        let f = try flipScratch(floats: c.weightShape.reduce(1, *))
        DirectConv.flipKernel(c, w: i[1], into: f.base.assumingMemoryBound(to: Float.self))
        let wf = TensorRef(buffer: f, offset: 0, shape: [c.inChannels, c.outChannels, c.kernelH, c.kernelW])
        try run(.conv2d(DirectConv.flippedGeometry(c), bias: bias, activation: act),
                inputs: [inputs[0], wf] + (bias ? [inputs[2]] : []), outputs: [outputs[0]])
      case .direct:
        let ws = try workspace(byteCount: DirectConv.transposedWorkspaceFloats(c, threads: threadCount) * 4) as! CPUBuffer
        DirectConv.transposed(c, dy: i[0], w: i[1], bias: bias ? i[2] : nil, act: act, dx: o[0],
                              workspace: ws.base.assumingMemoryBound(to: Float.self), pool: splitter)
      case .winograd, .winogradF4:
        try winograd(c, transposed: true, input: i[0], w: inputs[1], bias: bias ? i[2] : nil, act: act, output: o[0])
      default:
        let l = CPULowering(device: self)
        try ConvLowering.conv2dBackwardData(on: l, c, dy: l.operand(i[0]), w: try l.operand(i[1], constant: inputs[1]),
                                            bias: bias ? l.operand(i[2]) : nil, activation: act, dx: l.operand(o[0]))
      }
    case .conv2dBackwardFilter(let c, let acc):
      if Self.convPath(op) == .direct {
        let ws = try workspace(byteCount: DirectConv.backwardFilterWorkspaceFloats(c, threads: threadCount) * 4) as! CPUBuffer
        DirectConv.backwardFilter(c, x: i[0], dy: i[1], accumulate: acc, dw: o[0],
                                  workspace: ws.base.assumingMemoryBound(to: Float.self), pool: splitter)
      } else {
        let l = CPULowering(device: self)
        try ConvLowering.conv2dBackwardFilter(on: l, c, x: l.operand(i[0]), dy: l.operand(i[1]), accumulate: acc,
                                              dw: l.operand(o[0]))
      }
    case .im2col(let c, let t):
      CPUKernels.im2col(c, t, x: i[0], col: o[0], pool: splitter)
    case .col2im(let c, let t):
      CPUKernels.col2im(c, t, col: i[0], x: o[0], pool: splitter)
    case .transposeBlocks(let a, let b, let n):
      CPUKernels.transposeBlocks(a: a, b: b, inner: n, x: i[0], y: o[0], pool: splitter)
    case .batchNorm(let l, let eps, let act):
      CPUKernels.batchNorm(l, eps: eps, act: act, x: i[0], gamma: i[1], beta: i[2], mean: i[3], variance: i[4],
                           y: o[0], pool: splitter)
    case .batchNormTraining(let l, let eps, let momentum):
      CPUKernels.batchNormTraining(l, eps: eps, momentum: momentum, x: i[0], gamma: i[1], beta: i[2],
                                   runMean: i[3], runVar: i[4], y: o[0], saveMean: o[1], saveInvStd: o[2],
                                   newMean: o[3], newVar: o[4], pool: splitter)
    case .batchNormBackward(let l):
      CPUKernels.batchNormBackward(l, dy: i[0], x: i[1], gamma: i[2], saveMean: i[3], saveInvStd: i[4],
                                   dx: o[0], dgamma: o[1], dbeta: o[2], pool: splitter)
    case .batchNormInferenceBackward(let l, let eps):
      CPUKernels.batchNormInferenceBackward(l, eps: eps, dy: i[0], gamma: i[1], variance: i[2], dx: o[0],
                                            pool: splitter)
    case .biasActivation(let l, let act):
      CPUKernels.biasActivation(l, act: act, x: i[0], bias: i[1], y: o[0], pool: splitter)
    case .channelSum(let l):
      CPUKernels.channelSum(l, x: i[0], out: o[0])
    case .activation(let act, let n):
      CPUKernels.activation(act, count: n, x: i[0], y: o[0], pool: splitter)
    case .activationBackward(let act, let n):
      CPUKernels.activationBackward(act, count: n, y: i[0], dy: i[1], dx: o[0], pool: splitter)
    case .prelu(let l):
      CPUKernels.prelu(l, x: i[0], alpha: i[1], y: o[0], pool: splitter)
    case .preluBackward(let l):
      CPUKernels.preluBackward(l, x: i[0], alpha: i[1], dy: i[2], dx: o[0], dalpha: o[1], pool: splitter)
    case .maxPool(let c):
      CPUKernels.maxPool(c, x: i[0], y: o[0], pool: splitter)
    case .maxPoolBackward(let c):
      CPUKernels.maxPoolBackward(c, x: i[0], dy: i[1], dx: o[0], pool: splitter)
    case .depthToSpace(let n, let c, let h, let w, let r):
      CPUKernels.depthToSpace(n: n, c: c, h: h, w: w, r: r, x: i[0], y: o[0], inverse: false, pool: splitter)
    case .spaceToDepth(let n, let c, let h, let w, let r):
      CPUKernels.depthToSpace(n: n, c: c, h: h, w: w, r: r, x: i[0], y: o[0], inverse: true, pool: splitter)
    case .add(let n):
      CPUKernels.binary(.add, count: n, a: i[0], b: i[1], y: o[0], pool: splitter)
    case .mul(let n):
      CPUKernels.binary(.mul, count: n, a: i[0], b: i[1], y: o[0], pool: splitter)
    case .scale(let n, let alpha, let beta):
      CPUKernels.scale(count: n, alpha: alpha, beta: beta, x: i[0], y: o[0], pool: splitter)
    case .axpy(let n, let alpha):
      CPUKernels.binary(.axpy(alpha), count: n, a: i[0], b: i[1], y: o[0], pool: splitter)
    case .rowSum(let rows, let cols, let mean):
      CPUKernels.rowSum(rows: rows, cols: cols, mean: mean, x: i[0], y: o[0])
    case .adam(let n, let b1, let b2, let limit):
      CPUKernels.adam(count: n, beta1: b1, beta2: b2, limit: limit, param: i[0], grad: i[1], m: i[2], v: i[3],
                      hyper: i[4], outParam: o[0], outM: o[1], outV: o[2])
    case .weightedL1(let s, let n):
      CPUKernels.weightedL1(samples: s, count: n, pred: i[0], target: i[1], weight: i[2], loss: o[0])
    case .weightedL1Backward(let s, let n):
      CPUKernels.weightedL1Backward(samples: s, count: n, pred: i[0], target: i[1], weight: i[2], dloss: i[3],
                                    dpred: o[0])
    case .mse(let s, let n):
      CPUKernels.mse(samples: s, count: n, pred: i[0], target: i[1], loss: o[0])
    case .mseBackward(let s, let n):
      CPUKernels.mseBackward(samples: s, count: n, pred: i[0], target: i[1], dloss: i[2], dpred: o[0])
    case .bceWithLogits(let s, let n):
      CPUKernels.bceWithLogits(samples: s, count: n, logits: i[0], target: i[1], loss: o[0])
    case .bceWithLogitsBackward(let s, let n):
      CPUKernels.bceWithLogitsBackward(samples: s, count: n, logits: i[0], target: i[1], dloss: i[2],
                                       dlogits: o[0])
    }
  }
}

extension CPUBackend {
  /// A 4 × 4 stride-2 convolution (or its transpose) on WinogradConv, filters pre-packed when
  /// the weights are constant.
  func winograd(_ c: ConvGeometry, transposed: Bool, input: UnsafePointer<Float>, w: TensorRef,
                bias: UnsafePointer<Float>?, act: Activation, output: UnsafeMutablePointer<Float>) throws {
    let packed = winogradFilters(w, c, transposed: transposed)
    let floats = WinogradConv.workspaceFloats(c, transposed: transposed, prepacked: packed != nil)
    let ws = try workspace(byteCount: floats * 4) as! CPUBuffer
    WinogradConv.run(c, transposed: transposed, input: input, w: try ptr(w), bias: bias, act: act, output: output,
                     engine: gemmEngine, prepacked: packed, workspace: ws.base.assumingMemoryBound(to: Float.self))
  }

  /// The constant buffer behind an operand (for pre-packing), nil when it is not constant.
  func constantSource(_ t: TensorRef) throws -> (buffer: CPUBuffer, byteOffset: Int)? {
    let b = try buffer(t)
    return b.isConstant ? (b, t.offset) : nil
  }
}

/// ConvLowering on raw pointers: the CPU kernels called directly, no tensor views and no op
/// dispatch, so a lowered convolution allocates nothing per call.
struct CPULowering: LoweringTarget {
  struct Operand {
    var p: UnsafeMutablePointer<Float>
    /// Set on a constant weight operand: the GEMM pre-packs it once.
    var constant: (buffer: CPUBuffer, byteOffset: Int)?
  }

  let device: CPUBackend

  var columnBudget: Int { CPUBackend.loweringColumnBudget }

  func operand(_ p: UnsafeMutablePointer<Float>) -> Operand { Operand(p: p, constant: nil) }
  func operand(_ p: UnsafePointer<Float>) -> Operand { Operand(p: UnsafeMutablePointer(mutating: p), constant: nil) }
  func operand(_ p: UnsafePointer<Float>, constant t: TensorRef) throws -> Operand {
    Operand(p: UnsafeMutablePointer(mutating: p), constant: try device.constantSource(t))
  }

  func advanced(_ t: Operand, by elements: Int) -> Operand { Operand(p: t.p + elements, constant: nil) }
  func workspace(floats: Int) throws -> Operand {
    let ws = try device.workspace(byteCount: floats * 4) as! CPUBuffer
    return Operand(p: ws.base.assumingMemoryBound(to: Float.self), constant: nil)
  }
  func gemm(_ g: GemmDesc, a: Operand, b: Operand, c: Operand) throws {
    device.gemm(g, a: a.p, b: b.p, c: c.p, constantA: a.constant)
  }
  func im2col(_ c: ConvGeometry, _ t: PatchTile, x: Operand, col: Operand) throws {
    CPUKernels.im2col(c, t, x: x.p, col: col.p, pool: device.splitter)
  }
  func col2im(_ c: ConvGeometry, _ t: PatchTile, col: Operand, x: Operand) throws {
    CPUKernels.col2im(c, t, col: col.p, x: x.p, pool: device.splitter)
  }
  func transposeBlocks(a: Int, b: Int, inner: Int, x: Operand, y: Operand) throws {
    CPUKernels.transposeBlocks(a: a, b: b, inner: inner, x: x.p, y: y.p, pool: device.splitter)
  }
  func biasActivation(_ l: ChannelLayout, _ act: Activation, y: Operand, bias: Operand) throws {
    CPUKernels.biasActivation(l, act: act, x: y.p, bias: bias.p, y: y.p, pool: device.splitter)
  }
  func activation(_ act: Activation, count: Int, y: Operand) throws {
    CPUKernels.activation(act, count: count, x: y.p, y: y.p, pool: device.splitter)
  }
}

/// An op's operand pointers (at most five, as `OperandCounts`), inline: dispatching an op
/// allocates nothing.
struct OperandPointers {
  typealias P = UnsafeMutablePointer<Float>
  private var s: (P?, P?, P?, P?, P?) = (nil, nil, nil, nil, nil)

  init(_ device: CPUBackend, _ ts: [TensorRef]) throws {
    precondition(ts.count <= 5, "more than five operands")
    for (k, t) in ts.enumerated() {
      let p = try device.ptr(t)
      switch k {
      case 0: s.0 = p
      case 1: s.1 = p
      case 2: s.2 = p
      case 3: s.3 = p
      default: s.4 = p
      }
    }
  }

  subscript(k: Int) -> P {
    switch k {
    case 0: return s.0!
    case 1: return s.1!
    case 2: return s.2!
    case 3: return s.3!
    default: return s.4!
    }
  }
}
