// What each op reads and writes, and how much work it is. Shared by every backend's argument
// checks, the memory planner and the benchmark's GFLOP/s and GB/s.

extension Op {
  /// Element counts of the inputs, in order (optional inputs included when present).
  public var inputCounts: [Int] {
    switch self {
    case .gemm(let g):
      return g.beta != 0 ? [g.extentA, g.extentB, g.extentC] : [g.extentA, g.extentB]
    case .conv2d(let c, let bias, _):
      return [c.batch * c.inChannels * c.inHeight * c.inWidth, c.outChannels * c.patchSize]
        + (bias ? [c.outChannels] : [])
    case .conv2dBackwardData(let c, let bias, _):
      return [c.batch * c.outChannels * c.outPixels, c.outChannels * c.patchSize]
        + (bias ? [c.inChannels] : [])
    case .conv2dBackwardFilter(let c, let acc):
      return [c.batch * c.inChannels * c.inHeight * c.inWidth, c.batch * c.outChannels * c.outPixels]
        + (acc ? [c.outChannels * c.patchSize] : [])
    case .im2col(let c, let t):
      return [t.images * c.inChannels * c.inHeight * c.inWidth]
    case .col2im(let c, let t):
      return [c.patchSize * t.columns(c)] + (t.accumulate ? [t.images * c.inChannels * c.inHeight * c.inWidth] : [])
    case .batchNorm(let l, _, _):
      return [l.count, l.channels, l.channels, l.channels, l.channels]
    case .batchNormTraining(let l, _, _):
      return [l.count, l.channels, l.channels, l.channels, l.channels]
    case .batchNormBackward(let l):
      return [l.count, l.count, l.channels, l.channels, l.channels]
    case .batchNormInferenceBackward(let l, _):
      return [l.count, l.channels, l.channels]
    case .biasActivation(let l, _):
      return [l.count, l.channels]
    case .channelSum(let l):
      return [l.count]
    case .activation(_, let n):
      return [n]
    case .activationBackward(_, let n):
      return [n, n]
    case .prelu(let l):
      return [l.count, l.channels]
    case .preluBackward(let l):
      return [l.count, l.channels, l.count]
    case .depthToSpace(let n, let c, let h, let w, let r), .spaceToDepth(let n, let c, let h, let w, let r):
      return [n * c * h * w * r * r]
    case .maxPool(let c):
      return [c.batch * c.inChannels * c.inHeight * c.inWidth]
    case .maxPoolBackward(let c):
      return [c.batch * c.inChannels * c.inHeight * c.inWidth, c.batch * c.outChannels * c.outPixels]
    case .transposeBlocks(let a, let b, let n):
      return [a * b * n]
    case .add(let n), .mul(let n):
      return [n, n]
    case .scale(let n, _, _):
      return [n]
    case .axpy(let n, _):
      return [n, n]
    case .rowSum(let r, let c, _):
      return [r * c]
    case .adam(let n, _, _, _):
      return [n, n, n, n, 2]
    case .weightedL1(let s, let n):
      return [s * n, s * n, s * n]
    case .weightedL1Backward(let s, let n):
      return [s * n, s * n, s * n, s]
    case .mse(let s, let n), .bceWithLogits(let s, let n):
      return [s * n, s * n]
    case .mseBackward(let s, let n), .bceWithLogitsBackward(let s, let n):
      return [s * n, s * n, s]
    }
  }

  /// Element counts of the outputs, in order.
  public var outputCounts: [Int] {
    switch self {
    case .gemm(let g): return [g.extentC]
    case .conv2d(let c, _, _): return [c.batch * c.outChannels * c.outPixels]
    case .conv2dBackwardData(let c, _, _): return [c.batch * c.inChannels * c.inHeight * c.inWidth]
    case .conv2dBackwardFilter(let c, _): return [c.outChannels * c.patchSize]
    case .im2col(let c, let t): return [c.patchSize * t.columns(c)]
    case .col2im(let c, let t): return [t.images * c.inChannels * c.inHeight * c.inWidth]
    case .batchNorm(let l, _, _): return [l.count]
    case .batchNormTraining(let l, _, _): return [l.count, l.channels, l.channels, l.channels, l.channels]
    case .batchNormBackward(let l): return [l.count, l.channels, l.channels]
    case .batchNormInferenceBackward(let l, _): return [l.count]
    case .biasActivation(let l, _): return [l.count]
    case .channelSum(let l): return [l.channels]
    case .activation(_, let n), .activationBackward(_, let n): return [n]
    case .prelu(let l): return [l.count]
    case .preluBackward(let l): return [l.count, l.channels]
    case .depthToSpace(let n, let c, let h, let w, let r), .spaceToDepth(let n, let c, let h, let w, let r):
      return [n * c * h * w * r * r]
    case .maxPool(let c): return [c.batch * c.outChannels * c.outPixels]
    case .maxPoolBackward(let c): return [c.batch * c.inChannels * c.inHeight * c.inWidth]
    case .transposeBlocks(let a, let b, let n): return [a * b * n]
    case .add(let n), .mul(let n), .scale(let n, _, _), .axpy(let n, _): return [n]
    case .rowSum(let r, _, _): return [r]
    case .adam(let n, _, _, _): return [n, n, n]
    case .weightedL1(let s, _), .mse(let s, _), .bceWithLogits(let s, _): return [s]
    case .weightedL1Backward(let s, let n), .mseBackward(let s, let n), .bceWithLogitsBackward(let s, let n):
      return [s * n]
    }
  }

  /// Floating-point operations (multiply-add = 2), for GFLOP/s.
  public var flops: Double {
    switch self {
    case .gemm(let g): return 2 * Double(g.batch) * Double(g.m) * Double(g.n) * Double(g.k)
    case .conv2d(let c, _, _), .conv2dBackwardData(let c, _, _), .conv2dBackwardFilter(let c, _):
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
    case .conv2d(let c, _, _), .conv2dBackwardData(let c, _, _), .conv2dBackwardFilter(let c, _),
         .im2col(let c, _), .col2im(let c, _):
      guard c.isValid else { throw ComputeError.invalidArgument("conv: invalid geometry \(c)") }
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
