import Foundation

// The ops a device runs. Each case carries its full geometry, so an op value alone says how much
// memory its operands need (`inputCounts`/`outputCounts`) and how much work it is (`flops`).
//
// Conventions: images are NCHW. Convolution weights are [outC, inC, kH, kW]. A transposed
// convolution is the backward-data of the convolution that maps its output back to its input, so
// PyTorch's ConvTranspose2d weight [in, out, kH, kW] is exactly that convolution's weight and one
// kernel family serves both (`conv2dBackwardData`).

public enum Activation: Hashable, Sendable, CustomStringConvertible {
  case identity
  case relu
  case leakyRelu(Float)
  case tanh
  case sigmoid

  public var description: String {
    switch self {
    case .identity: return "identity"
    case .relu: return "relu"
    case .leakyRelu(let s): return "leakyrelu(\(s))"
    case .tanh: return "tanh"
    case .sigmoid: return "sigmoid"
    }
  }

  /// Applies the activation to one value (the scalar definition every backend follows).
  @inlinable public func apply(_ x: Float) -> Float {
    switch self {
    case .identity: return x
    case .relu: return x > 0 ? x : 0
    case .leakyRelu(let s): return x > 0 ? x : x * s
    case .tanh: return Foundation.tanhf(x)
    case .sigmoid: return 1 / (1 + Foundation.expf(-x))
    }
  }

  /// Derivative expressed through the activation's *output* y (valid for leaky slopes > 0).
  @inlinable public func derivative(output y: Float) -> Float {
    switch self {
    case .identity: return 1
    case .relu: return y > 0 ? 1 : 0
    case .leakyRelu(let s): return y > 0 ? 1 : s
    case .tanh: return 1 - y * y
    case .sigmoid: return y * (1 - y)
    }
  }
}

/// C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b], row-major, for b in 0..<batch.
public struct GemmDesc: Hashable, Sendable {
  public var transA: Bool, transB: Bool
  public var m: Int, n: Int, k: Int
  public var lda: Int, ldb: Int, ldc: Int
  public var alpha: Float, beta: Float
  public var batch: Int
  /// Element strides between batch entries (0 broadcasts one matrix to the whole batch).
  public var strideA: Int, strideB: Int, strideC: Int

  public init(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
              lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
              alpha: Float = 1, beta: Float = 0, batch: Int = 1,
              strideA: Int? = nil, strideB: Int? = nil, strideC: Int? = nil) {
    self.transA = transA; self.transB = transB
    self.m = m; self.n = n; self.k = k
    self.lda = lda ?? (transA ? m : k)
    self.ldb = ldb ?? (transB ? k : n)
    self.ldc = ldc ?? n
    self.alpha = alpha; self.beta = beta; self.batch = batch
    self.strideA = strideA ?? (m * k)
    self.strideB = strideB ?? (k * n)
    self.strideC = strideC ?? (m * n)
  }

  /// Elements of A, B, C the op touches (from offset 0).
  public var extentA: Int { batch == 0 ? 0 : (batch - 1) * strideA + (transA ? (k - 1) * lda + m : (m - 1) * lda + k) }
  public var extentB: Int { batch == 0 ? 0 : (batch - 1) * strideB + (transB ? (n - 1) * ldb + k : (k - 1) * ldb + n) }
  public var extentC: Int { batch == 0 ? 0 : (batch - 1) * strideC + (m - 1) * ldc + n }
}

/// Geometry of a 2-D convolution x[N, inC, H, W] * w[outC, inC, kH, kW] -> y[N, outC, oH, oW].
public struct ConvGeometry: Hashable, Sendable, CustomStringConvertible {
  public var batch: Int
  public var inChannels: Int, inHeight: Int, inWidth: Int
  public var outChannels: Int
  public var kernelH: Int, kernelW: Int
  public var strideH: Int, strideW: Int
  /// Zero padding before the first row/column (top, left).
  public var padH: Int, padW: Int
  /// Zero padding after the last row/column (bottom, right); equal to padH/padW unless asymmetric
  /// (Keras/TensorFlow 'same' pads stride-2 convolutions of even inputs on the bottom/right only).
  /// Only the output size depends on it: every kernel indexes inputs through padH/padW.
  public var padBottom: Int, padRight: Int

  /// `padding` is (top, left); `paddingEnd` is (bottom, right), by default the same.
  public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
              kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
              paddingEnd: (Int, Int)? = nil) {
    self.batch = batch
    self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
    self.outChannels = outChannels
    self.kernelH = kernel.0; self.kernelW = kernel.1
    self.strideH = stride.0; self.strideW = stride.1
    self.padH = padding.0; self.padW = padding.1
    self.padBottom = paddingEnd?.0 ?? padding.0; self.padRight = paddingEnd?.1 ?? padding.1
  }

  /// TensorFlow's 'same' padding for this kernel and stride: output ⌈in / stride⌉, the odd pixel
  /// of padding at the bottom/right. Returns ((top, left), (bottom, right)).
  public static func samePadding(input: (Int, Int), kernel: (Int, Int), stride: (Int, Int))
    -> (begin: (Int, Int), end: (Int, Int)) {
    func one(_ n: Int, _ k: Int, _ s: Int) -> (Int, Int) {
      let out = (n + s - 1) / s
      let total = max(0, (out - 1) * s + k - n)
      return (total / 2, total - total / 2)
    }
    let h = one(input.0, kernel.0, stride.0), w = one(input.1, kernel.1, stride.1)
    return ((h.0, w.0), (h.1, w.1))
  }

  /// The convolution whose backward-data is PyTorch's ConvTranspose2d(in, out, k, stride, padding)
  /// applied to x[N, in, H, W] (output size (H-1)·s − 2p + k).
  public static func transposed(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int,
                                outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                                padding: (Int, Int) = (0, 0)) -> ConvGeometry {
    let oh = (inHeight - 1) * stride.0 - 2 * padding.0 + kernel.0
    let ow = (inWidth - 1) * stride.1 - 2 * padding.1 + kernel.1
    return ConvGeometry(batch: batch, inChannels: outChannels, inHeight: oh, inWidth: ow,
                        outChannels: inChannels, kernel: kernel, stride: stride, padding: padding)
  }

  public var outHeight: Int { (inHeight + padH + padBottom - kernelH) / strideH + 1 }
  public var outWidth: Int { (inWidth + padW + padRight - kernelW) / strideW + 1 }
  public var isUnpadded: Bool { padH == 0 && padW == 0 && padBottom == 0 && padRight == 0 }
  public var isSymmetric: Bool { padH == padBottom && padW == padRight }
  public var inputShape: [Int] { [batch, inChannels, inHeight, inWidth] }
  public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
  public var weightShape: [Int] { [outChannels, inChannels, kernelH, kernelW] }
  /// Rows of the im2col matrix: inC · kH · kW.
  public var patchSize: Int { inChannels * kernelH * kernelW }
  public var outPixels: Int { outHeight * outWidth }
  /// Multiply-adds × 2 of the forward pass (same for backward-data and backward-filter).
  public var flops: Double { 2.0 * Double(batch * outChannels * outPixels) * Double(patchSize) }

  public var isValid: Bool {
    batch > 0 && inChannels > 0 && outChannels > 0 && kernelH > 0 && kernelW > 0 && strideH > 0
      && strideW > 0 && padH >= 0 && padW >= 0 && padBottom >= 0 && padRight >= 0
      && inHeight + padH + padBottom >= kernelH && inWidth + padW + padRight >= kernelW
  }

  public var description: String {
    "N\(batch) \(inChannels)x\(inHeight)x\(inWidth) -> \(outChannels)x\(outHeight)x\(outWidth) "
      + "k\(kernelH)x\(kernelW) s\(strideH) p\(padH)" + (isSymmetric ? "" : "/\(padBottom)")
  }
}

/// A tile of im2col columns: `images` consecutive images, output rows rowStart..<rowStart+rows.
/// The column matrix is [inC·kH·kW, images·rows·oW]; column (img, oy, ox) is
/// img·rows·oW + (oy − rowStart)·oW + ox.
public struct PatchTile: Hashable, Sendable {
  public var images: Int, rowStart: Int, rows: Int
  /// col2im only: add into x instead of overwriting it (tiles of one image overlap in x).
  public var accumulate: Bool

  public init(images: Int, rowStart: Int, rows: Int, accumulate: Bool = false) {
    self.images = images; self.rowStart = rowStart; self.rows = rows; self.accumulate = accumulate
  }

  /// Every output row of `images` images.
  public static func whole(_ c: ConvGeometry, images: Int) -> PatchTile {
    PatchTile(images: images, rowStart: 0, rows: c.outHeight)
  }

  public func columns(_ c: ConvGeometry) -> Int { images * rows * c.outWidth }
}

/// A [N, C, HW] activation tensor as batch norm, PReLU and bias ops see it.
public struct ChannelLayout: Hashable, Sendable {
  public var batch: Int, channels: Int, spatial: Int
  public init(batch: Int, channels: Int, spatial: Int) {
    self.batch = batch; self.channels = channels; self.spatial = spatial
  }
  public var count: Int { batch * channels * spatial }
}

/// What a convolution does to each value after bias and activation, in this order, before it is
/// stored: PReLU (slopes per channel of the stored tensor), add a residual tensor (same shape as the
/// stored tensor), affine map alpha·v + beta; and where it is stored: with `shuffle` r > 1 the
/// result goes through a pixel shuffle (depthToSpace: channel c·r² + dy·r + dx of [N, C·r², H, W]
/// lands at [N, C, H·r, W·r] (c, y·r + dy, x·r + dx)), so the channel PReLU uses and the residual's
/// layout are those after the shuffle.
///
/// A plan builds these by folding the element-wise ops that follow a convolution into it
/// (`Graph.fusingEpilogues`); a device that cannot run one says so in `supports`, and the plan
/// keeps the ops separate. Extra inputs follow the convolution's own: [alpha[C]], [residual].
public struct ConvEpilogue: Hashable, Sendable, CustomStringConvertible {
  public var prelu: Bool
  public var residual: Bool
  public var alpha: Float, beta: Float
  public var shuffle: Int

  public init(prelu: Bool = false, residual: Bool = false, alpha: Float = 1, beta: Float = 0, shuffle: Int = 1) {
    self.prelu = prelu; self.residual = residual; self.alpha = alpha; self.beta = beta; self.shuffle = shuffle
  }

  public static let none = ConvEpilogue()
  public var isNone: Bool { self == .none }
  public var isAffine: Bool { alpha != 1 || beta != 0 }
  /// Extra inputs after the convolution's (bias included): 0, 1 or 2.
  public var extraInputs: Int { (prelu ? 1 : 0) + (residual ? 1 : 0) }

  /// Shape of the stored tensor for a convolution result [n, c, h, w].
  public func storedShape(_ n: Int, _ c: Int, _ h: Int, _ w: Int) -> [Int] {
    [n, c / (shuffle * shuffle), h * shuffle, w * shuffle]
  }

  public var description: String {
    var parts: [String] = []
    if shuffle > 1 { parts.append("shuffle\(shuffle)") }
    if prelu { parts.append("prelu") }
    if residual { parts.append("+residual") }
    if isAffine { parts.append("\(alpha)·v+\(beta)") }
    return parts.isEmpty ? "none" : parts.joined(separator: ",")
  }
}

public enum Op: Hashable, Sendable {
  // MARK: Linear algebra
  /// in: A, B (and C when beta ≠ 0, which must be the output) · out: C
  case gemm(GemmDesc)

  // MARK: Convolution
  /// in: x, w, [bias[outC]], [epilogue inputs] · out: y. Bias, activation and the element-wise ops
  /// of `epilogue` (which a plan folds in from the ops that follow) run as the kernel writes y.
  case conv2d(ConvGeometry, bias: Bool, activation: Activation, epilogue: ConvEpilogue = .none)
  /// in: dy, w, [bias[inC]], [epilogue inputs] · out: dx. Also the forward pass of a transposed
  /// convolution, with an optional fused bias (per output-of-transposed-conv channel), activation
  /// and epilogue.
  case conv2dBackwardData(ConvGeometry, bias: Bool, activation: Activation, epilogue: ConvEpilogue = .none)
  /// in: x, dy · out: dw (overwritten, or accumulated into when `accumulate`).
  case conv2dBackwardFilter(ConvGeometry, accumulate: Bool)
  /// in: x[tile.images, inC, H, W] · out: col[patchSize, tile columns]. Lowering primitive.
  case im2col(ConvGeometry, PatchTile)
  /// in: col[patchSize, tile columns] · out: x[tile.images, inC, H, W] = (accumulate ? x : 0) + the
  /// sum of every patch entry over the pixel it came from (in-place when accumulating).
  case col2im(ConvGeometry, PatchTile)

  // MARK: Normalisation
  /// Inference batch norm. in: x, gamma, beta, mean, var · out: y = act(γ(x−μ)/√(σ²+eps)+β).
  case batchNorm(ChannelLayout, eps: Float, activation: Activation)
  /// Training batch norm with batch statistics. in: x, gamma, beta, runningMean, runningVar ·
  /// out: y, saveMean[C], saveInvStd[C], runningMean', runningVar' (outputs 3/4 may alias inputs 3/4).
  /// Running variance is updated with the unbiased batch variance, as in PyTorch.
  case batchNormTraining(ChannelLayout, eps: Float, momentum: Float)
  /// in: dy, x, gamma, saveMean, saveInvStd · out: dx, dgamma, dbeta
  case batchNormBackward(ChannelLayout)
  /// Backward of inference batch norm w.r.t. x only. in: dy, gamma, var · out: dx
  case batchNormInferenceBackward(ChannelLayout, eps: Float)
  /// Per-channel bias add and activation. in: x, bias[C] · out: y
  case biasActivation(ChannelLayout, activation: Activation)
  /// Per-channel sums over N and HW (bias gradient). in: dy · out: db[C]
  case channelSum(ChannelLayout)

  // MARK: Activations
  /// in: x · out: y (may alias x)
  case activation(Activation, count: Int)
  /// in: y (the activation's output), dy · out: dx
  case activationBackward(Activation, count: Int)
  /// Per-channel PReLU. in: x, alpha[C] · out: y
  case prelu(ChannelLayout)
  /// in: x, alpha, dy · out: dx, dalpha[C]
  case preluBackward(ChannelLayout)

  // MARK: Pooling
  /// Max pooling over the windows of a convolution geometry (outChannels = inChannels; padded
  /// cells never win). in: x[N, C, H, W] · out: y[N, C, oH, oW]
  case maxPool(ConvGeometry)
  /// Routes dy to each window's first maximum (row-major, as PyTorch); overlapping windows add.
  /// in: x, dy · out: dx
  case maxPoolBackward(ConvGeometry)

  // MARK: Layout
  /// Pixel shuffle. in: x[N, C·r², H, W] · out: y[N, C, H·r, W·r]
  case depthToSpace(batch: Int, channels: Int, height: Int, width: Int, factor: Int)
  /// Its inverse (and gradient). in: y[N, C, H·r, W·r] · out: x[N, C·r², H, W]
  case spaceToDepth(batch: Int, channels: Int, height: Int, width: Int, factor: Int)

  /// in: x[a, b, inner] · out: y[b, a, inner]. Moves a GEMM result [C, images·HW] to NCHW and back.
  case transposeBlocks(a: Int, b: Int, inner: Int)

  // MARK: Element-wise and reductions
  /// in: a, b · out: a + b
  case add(count: Int)
  /// in: a, b · out: a ⊙ b
  case mul(count: Int)
  /// in: x · out: alpha · x + beta   (an affine map; beta 0 gives a plain scale)
  case scale(count: Int, alpha: Float, beta: Float)
  /// in: x, y · out: y' = alpha · x + y  (output may alias y)
  case axpy(count: Int, alpha: Float)
  /// in: x[rows, cols] · out: s[rows] = Σ_cols x (× 1/cols when `mean`)
  case rowSum(rows: Int, cols: Int, mean: Bool)

  // MARK: Optimisation
  /// Adam step, in place (PyTorch's update). in: param, grad, m, v, hyper[2] = (α_t, ε_t) with
  /// α_t = lr·√(1−β2ᵗ)/(1−β1ᵗ), ε_t = ε·√(1−β2ᵗ) · out: param', m', v' (aliasing the inputs).
  /// param' is clamped to [−limit, limit] (pass .infinity for none).
  case adam(count: Int, beta1: Float, beta2: Float, limit: Float)

  // MARK: Losses (one value per sample; inputs are [samples, per-sample count])
  /// in: pred, target, weight · out: loss[samples] = Σ w·|pred − target|
  case weightedL1(samples: Int, count: Int)
  /// in: pred, target, weight, dloss[samples] · out: dpred = dloss·w·sign(pred − target)
  case weightedL1Backward(samples: Int, count: Int)
  /// in: pred, target · out: loss[samples] = mean (pred − target)²
  case mse(samples: Int, count: Int)
  /// in: pred, target, dloss[samples] · out: dpred = dloss · 2(pred − target)/count
  case mseBackward(samples: Int, count: Int)
  /// Binary cross-entropy on logits l (the discriminator before its sigmoid), numerically stable.
  /// in: logits, target · out: loss[samples] = mean over count of softplus(l) − t·l.
  /// log(1 − D) = −BCE(l, 0) and −log D = BCE(l, 1).
  case bceWithLogits(samples: Int, count: Int)
  /// in: logits, target, dloss[samples] · out: dlogits = dloss·(σ(l) − t)/count
  case bceWithLogitsBackward(samples: Int, count: Int)
}

