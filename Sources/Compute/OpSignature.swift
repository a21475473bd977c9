// What each op reads and writes, and how much work it is. Shared by every backend's argument
// checks, the memory planner and the benchmark's GFLOP/s and GB/s.

/// Up to five element counts (an op's operands), stored inline: checking an op's arguments
/// allocates nothing.
public struct OperandCounts: RandomAccessCollection, Equatable, Sendable, CustomStringConvertible {
  private var storage: (Int, Int, Int, Int, Int)
  public private(set) var count: Int

  public init(_ a: Int) { storage = (a, 0, 0, 0, 0); count = 1 }
  public init(_ a: Int, _ b: Int) { storage = (a, b, 0, 0, 0); count = 2 }
  public init(_ a: Int, _ b: Int, _ c: Int) { storage = (a, b, c, 0, 0); count = 3 }
  public init(_ a: Int, _ b: Int, _ c: Int, _ d: Int) { storage = (a, b, c, d, 0); count = 4 }
  public init(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int) { storage = (a, b, c, d, e); count = 5 }

  /// These counts and `extra` after them (unchanged when nil: an optional operand).
  public func appending(_ extra: Int?) -> OperandCounts {
    guard let extra else { return self }
    precondition(count < 5, "more than five operands")
    var r = self
    withUnsafeMutableBytes(of: &r.storage) { $0.storeBytes(of: extra, toByteOffset: count * MemoryLayout<Int>.stride, as: Int.self) }
    r.count += 1
    return r
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { count }
  public subscript(i: Int) -> Int {
    precondition(i >= 0 && i < count, "operand index out of range")
    return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: i * MemoryLayout<Int>.stride, as: Int.self) }
  }

  public static func == (a: OperandCounts, b: OperandCounts) -> Bool { a.elementsEqual(b) }
  public var description: String { "\(Array(self))" }
}

extension Op {
  /// Element counts of the inputs, in order (optional inputs included when present).
  public var inputCounts: OperandCounts {
    switch self {
    case .gemm(let g):
      return OperandCounts(g.extentA, g.extentB).appending(g.beta != 0 ? g.extentC : nil)
    case .conv2d(let c, let bias, _, let e):
      let out = c.batch * c.outChannels * c.outPixels
      return OperandCounts(c.batch * c.inChannels * c.inHeight * c.inWidth, c.outChannels * c.patchSize)
        .appending(bias ? c.outChannels : nil)
        .appending(e.prelu ? c.outChannels / (e.shuffle * e.shuffle) : nil).appending(e.residual ? out : nil)
    case .conv2dBackwardData(let c, let bias, _, let e):
      let out = c.batch * c.inChannels * c.inHeight * c.inWidth
      return OperandCounts(c.batch * c.outChannels * c.outPixels, c.outChannels * c.patchSize)
        .appending(bias ? c.inChannels : nil)
        .appending(e.prelu ? c.inChannels / (e.shuffle * e.shuffle) : nil).appending(e.residual ? out : nil)
    case .conv2dBackwardFilter(let c, let acc):
      return OperandCounts(c.batch * c.inChannels * c.inHeight * c.inWidth, c.batch * c.outChannels * c.outPixels)
        .appending(acc ? c.outChannels * c.patchSize : nil)
    case .im2col(let c, let t):
      return OperandCounts(t.images * c.inChannels * c.inHeight * c.inWidth)
    case .col2im(let c, let t):
      return OperandCounts(c.patchSize * t.columns(c))
        .appending(t.accumulate ? t.images * c.inChannels * c.inHeight * c.inWidth : nil)
    case .batchNorm(let l, _, _):
      return OperandCounts(l.count, l.channels, l.channels, l.channels, l.channels)
    case .batchNormTraining(let l, _, _):
      return OperandCounts(l.count, l.channels, l.channels, l.channels, l.channels)
    case .batchNormBackward(let l):
      return OperandCounts(l.count, l.count, l.channels, l.channels, l.channels)
    case .batchNormInferenceBackward(let l, _):
      return OperandCounts(l.count, l.channels, l.channels)
    case .biasActivation(let l, _):
      return OperandCounts(l.count, l.channels)
    case .channelSum(let l):
      return OperandCounts(l.count)
    case .activation(_, let n):
      return OperandCounts(n)
    case .activationBackward(_, let n):
      return OperandCounts(n, n)
    case .prelu(let l):
      return OperandCounts(l.count, l.channels)
    case .preluBackward(let l):
      return OperandCounts(l.count, l.channels, l.count)
    case .depthToSpace(let n, let c, let h, let w, let r), .spaceToDepth(let n, let c, let h, let w, let r):
      return OperandCounts(n * c * h * w * r * r)
    case .maxPool(let c):
      return OperandCounts(c.batch * c.inChannels * c.inHeight * c.inWidth)
    case .maxPoolBackward(let c):
      return OperandCounts(c.batch * c.inChannels * c.inHeight * c.inWidth, c.batch * c.outChannels * c.outPixels)
    case .transposeBlocks(let a, let b, let n):
      return OperandCounts(a * b * n)
    case .add(let n), .mul(let n):
      return OperandCounts(n, n)
    case .scale(let n, _, _):
      return OperandCounts(n)
    case .axpy(let n, _):
      return OperandCounts(n, n)
    case .rowSum(let r, let c, _):
      return OperandCounts(r * c)
    case .adam(let n, _, _, _):
      return OperandCounts(n, n, n, n, 2)
    case .weightedL1(let s, let n):
      return OperandCounts(s * n, s * n, s * n)
    case .weightedL1Backward(let s, let n):
      return OperandCounts(s * n, s * n, s * n, s)
    case .mse(let s, let n), .bceWithLogits(let s, let n):
      return OperandCounts(s * n, s * n)
    case .mseBackward(let s, let n), .bceWithLogitsBackward(let s, let n):
      return OperandCounts(s * n, s * n, s)
    }
  }

  /// Element counts of the outputs, in order.
  public var outputCounts: OperandCounts {
    switch self {
    case .gemm(let g): return OperandCounts(g.extentC)
    case .conv2d(let c, _, _, _): return OperandCounts(c.batch * c.outChannels * c.outPixels)
    case .conv2dBackwardData(let c, _, _, _): return OperandCounts(c.batch * c.inChannels * c.inHeight * c.inWidth)
    case .conv2dBackwardFilter(let c, _): return OperandCounts(c.outChannels * c.patchSize)
    case .im2col(let c, let t): return OperandCounts(c.patchSize * t.columns(c))
    case .col2im(let c, let t): return OperandCounts(t.images * c.inChannels * c.inHeight * c.inWidth)
    case .batchNorm(let l, _, _): return OperandCounts(l.count)
    case .batchNormTraining(let l, _, _): return OperandCounts(l.count, l.channels, l.channels, l.channels, l.channels)
    case .batchNormBackward(let l): return OperandCounts(l.count, l.channels, l.channels)
    case .batchNormInferenceBackward(let l, _): return OperandCounts(l.count)
    case .biasActivation(let l, _): return OperandCounts(l.count)
    case .channelSum(let l): return OperandCounts(l.channels)
    case .activation(_, let n), .activationBackward(_, let n): return OperandCounts(n)
    case .prelu(let l): return OperandCounts(l.count)
    case .preluBackward(let l): return OperandCounts(l.count, l.channels)
    case .depthToSpace(let n, let c, let h, let w, let r), .spaceToDepth(let n, let c, let h, let w, let r):
      return OperandCounts(n * c * h * w * r * r)
    case .maxPool(let c): return OperandCounts(c.batch * c.outChannels * c.outPixels)
    case .maxPoolBackward(let c): return OperandCounts(c.batch * c.inChannels * c.inHeight * c.inWidth)
    case .transposeBlocks(let a, let b, let n): return OperandCounts(a * b * n)
    case .add(let n), .mul(let n), .scale(let n, _, _), .axpy(let n, _): return OperandCounts(n)
    case .rowSum(let r, _, _): return OperandCounts(r)
    case .adam(let n, _, _, _): return OperandCounts(n, n, n)
    case .weightedL1(let s, _), .mse(let s, _), .bceWithLogits(let s, _): return OperandCounts(s)
    case .weightedL1Backward(let s, let n), .mseBackward(let s, let n), .bceWithLogitsBackward(let s, let n):
      return OperandCounts(s * n)
    }
  }

  /// Floating-point operations (multiply-add = 2), for GFLOP/s.
  public var flops: Double {
    switch self {
    case .gemm(let g): return 2 * Double(g.batch) * Double(g.m) * Double(g.n) * Double(g.k)
    case .conv2d(let c, _, _, _), .conv2dBackwardData(let c, _, _, _), .conv2dBackwardFilter(let c, _):
      return c.flops
    case .batchNorm(let l, _, _), .biasActivation(let l, _), .prelu(let l): return 2 * Double(l.count)
    case .batchNormTraining(let l, _, _): return 7 * Double(l.count)
    case .batchNormBackward(let l): return 9 * Double(l.count)
    case .batchNormInferenceBackward(let l, _), .channelSum(let l): return Double(l.count)
    case .preluBackward(let l): return 4 * Double(l.count)
    case .maxPool(let c): return Double(c.batch * c.outChannels * c.outPixels * c.kernelH * c.kernelW)
    default:
      return Double(inputCounts.first ?? 0)
    }
  }

  /// Bytes an ideal kernel moves: every operand read or written once.
  public var bytesMoved: Double {
    Double((inputCounts.reduce(0, +) + outputCounts.reduce(0, +)) * 4)
  }

  /// A short name for tables ("conv2d", "gemm", …).
  public var kind: String {
    switch self {
    case .gemm: return "gemm"
    case .conv2d: return "conv2d"
    case .conv2dBackwardData: return "conv2d_bwd_data"
    case .conv2dBackwardFilter: return "conv2d_bwd_filter"
    case .im2col: return "im2col"
    case .col2im: return "col2im"
    case .batchNorm: return "batchnorm"
    case .batchNormTraining: return "batchnorm_train"
    case .batchNormBackward: return "batchnorm_bwd"
    case .batchNormInferenceBackward: return "batchnorm_infer_bwd"
    case .biasActivation: return "bias_act"
    case .channelSum: return "channel_sum"
    case .activation(let a, _): return "\(a)"
    case .activationBackward(let a, _): return "\(a)_bwd"
    case .prelu: return "prelu"
    case .preluBackward: return "prelu_bwd"
    case .depthToSpace: return "depth_to_space"
    case .spaceToDepth: return "space_to_depth"
    case .maxPool: return "max_pool"
    case .maxPoolBackward: return "max_pool_bwd"
    case .transposeBlocks: return "transpose_blocks"
    case .add: return "add"
    case .mul: return "mul"
    case .scale: return "scale"
    case .axpy: return "axpy"
    case .rowSum(_, _, let mean): return mean ? "row_mean" : "row_sum"
    case .adam: return "adam"
    case .weightedL1: return "weighted_l1"
    case .weightedL1Backward: return "weighted_l1_bwd"
    case .mse: return "mse"
    case .mseBackward: return "mse_bwd"
    case .bceWithLogits: return "bce_logits"
    case .bceWithLogitsBackward: return "bce_logits_bwd"
    }
  }

  /// A convolution's epilogue (nil for other ops).
  public var epilogue: ConvEpilogue? {
    switch self {
    case .conv2d(_, _, _, let e), .conv2dBackwardData(_, _, _, let e): return e
    default: return nil
    }
  }

  /// Checks arity, that every operand is large enough, and op-specific parameters.
  /// Backends call this before touching memory.
  public func validate(inputs: [TensorRef], outputs: [TensorRef]) throws {
    let ins = inputCounts, outs = outputCounts
    guard inputs.count == ins.count else {
      throw ComputeError.invalidArgument("\(kind): expected \(ins.count) inputs, got \(inputs.count)")
    }
    guard outputs.count == outs.count else {
      throw ComputeError.invalidArgument("\(kind): expected \(outs.count) outputs, got \(outputs.count)")
    }
    for (i, (t, n)) in zip(inputs, ins).enumerated() where t.count < n {
      throw ComputeError.invalidArgument("\(kind): input \(i) has \(t.count) elements, needs \(n)")
    }
    for (i, (t, n)) in zip(outputs, outs).enumerated() where t.count < n {
      throw ComputeError.invalidArgument("\(kind): output \(i) has \(t.count) elements, needs \(n)")
    }
    switch self {
    case .gemm(let g):
      guard g.m >= 0, g.n >= 0, g.k >= 0, g.batch >= 0 else {
        throw ComputeError.invalidArgument("gemm: negative size")
      }
      guard g.lda >= max(1, g.transA ? g.m : g.k), g.ldb >= max(1, g.transB ? g.k : g.n),
            g.ldc >= max(1, g.n) else {
        throw ComputeError.invalidArgument("gemm: leading dimension too small")
      }
    case .conv2d(let c, _, _, _), .conv2dBackwardData(let c, _, _, _), .conv2dBackwardFilter(let c, _),
         .im2col(let c, _), .col2im(let c, _):
      guard c.isValid else { throw ComputeError.invalidArgument("conv: invalid geometry \(c)") }
      if let e = epilogue {
        let channels: Int
        if case .conv2d = self { channels = c.outChannels } else { channels = c.inChannels }
        guard e.shuffle >= 1, channels % (e.shuffle * e.shuffle) == 0 else {
          throw ComputeError.invalidArgument("\(kind): shuffle \(e.shuffle) does not divide \(channels) channels")
        }
      }
      if case .im2col(_, let t) = self, t.rowStart < 0 || t.rows < 1 || t.rowStart + t.rows > c.outHeight {
        throw ComputeError.invalidArgument("im2col: rows \(t.rowStart)..<\(t.rowStart + t.rows) outside 0..<\(c.outHeight)")
      }
      if case .col2im(_, let t) = self, t.rowStart < 0 || t.rows < 1 || t.rowStart + t.rows > c.outHeight {
        throw ComputeError.invalidArgument("col2im: rows \(t.rowStart)..<\(t.rowStart + t.rows) outside 0..<\(c.outHeight)")
      }
    case .maxPool(let c), .maxPoolBackward(let c):
      guard c.isValid, c.inChannels == c.outChannels, c.padH < c.kernelH, c.padW < c.kernelW,
            c.padBottom < c.kernelH, c.padRight < c.kernelW else {
        throw ComputeError.invalidArgument("\(kind): invalid pooling geometry \(c) (channels must match; padding < kernel)")
      }
    case .depthToSpace(_, _, _, _, let r), .spaceToDepth(_, _, _, _, let r):
      guard r > 0 else { throw ComputeError.invalidArgument("\(kind): factor must be positive") }
    default: break
    }
  }
}
