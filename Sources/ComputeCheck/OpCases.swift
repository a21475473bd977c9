import Compute

/// The table of op cases: shapes from the DCGAN and SRResNet layers plus odd sizes (1, 7, 1023),
/// non-square inputs and strides > 1. `test` keeps batches small so the float64 reference stays
/// cheap; `bench` uses the batch sizes the models run at.
public enum OpCases {
  public enum Scale: Sendable { case test, bench }

  public static func all(_ scale: Scale = .test) -> [OpCase] {
    gemm(scale) + convolution(scale) + normalization(scale) + activations(scale) + layout(scale)
      + elementwise(scale) + losses(scale) + optimisation(scale)
  }

  static let u1 = InputSpec.uniform(-1, 1)

  // MARK: - GEMM

  static func gemm(_ s: Scale) -> [OpCase] {
    var cases: [OpCase] = []
    func add(_ name: String, _ g: GemmDesc, tol: Double = OpCase.defaultTolerance, grad: Bool = false) {
      let inputs: [InputSpec] = g.beta != 0 ? [u1, u1, u1] : [u1, u1]
      var grads: [GradSpec] = []
      if grad && !g.transA && !g.transB && g.batch == 1 && g.beta == 0 && g.alpha == 1 {
        // dA = dC · Bᵀ, dB = Aᵀ · dC
        grads = [
          GradSpec(.gemm(GemmDesc(transB: true, m: g.m, n: g.k, k: g.n)), [.upstream, .input(1)], grads: [(0, 0)]),
          GradSpec(.gemm(GemmDesc(transA: true, m: g.k, n: g.n, k: g.m)), [.input(0), .upstream], grads: [(0, 1)]),
        ]
      }
      cases.append(OpCase(name, .gemm(g), inputs, tolerance: tol,
                          reason: tol == OpCase.defaultTolerance ? "float32 rounding of short sums"
                            : "float32 sums over K = \(g.k) terms", gradients: grads,
                          inPlace: g.beta != 0 ? [0: 2] : [:]))
    }
    add("gemm_1x1x1", GemmDesc(m: 1, n: 1, k: 1))
    add("gemm_7x7x7", GemmDesc(m: 7, n: 7, k: 7), grad: true)
    add("gemm_33x65x17_tA", GemmDesc(transA: true, m: 33, n: 65, k: 17))
    add("gemm_33x65x17_tB", GemmDesc(transB: true, m: 33, n: 65, k: 17))
    add("gemm_33x65x17_tAtB_beta", GemmDesc(transA: true, transB: true, m: 33, n: 65, k: 17, alpha: 0.5, beta: -1.5))
    add("gemm_ld_padded", GemmDesc(m: 9, n: 40, k: 300, lda: 310, ldb: 47, ldc: 45, beta: 1))
    add("gemm_batched_bcastA", GemmDesc(m: 12, n: 50, k: 20, batch: 3, strideA: 0))
    // Full and partial 8 × 32 tiles of the OpenCL gemm_tile, with alpha, beta and a batch.
    add("gemm_tA_batched_alpha_beta", GemmDesc(transA: true, m: 19, n: 70, k: 45, alpha: 0.75, beta: -0.5, batch: 3))
    // Long k against a small C: the CPU splits k between threads (backward-filter products),
    // in partial KC slices, with alpha, beta and leading dimensions.
    add("gemm_splitk_tB_alpha_beta", GemmDesc(transB: true, m: 19, n: 37, k: 1500, alpha: 0.5, beta: -1))
    add("gemm_splitk_tA_ld", GemmDesc(transA: true, m: 40, n: 33, k: 1300, lda: 41, ldb: 35, ldc: 45, beta: 1))
    add("gemm_1023", GemmDesc(m: 1023, n: 1023, k: 1023), tol: 1e-9)
    // The skinny path (n ≤ 16) and the single-row path (m = 1), every transpose combination.
    add("gemm_skinny_n5_k70", GemmDesc(m: 300, n: 5, k: 70))
    add("gemm_skinny_tB_beta", GemmDesc(transB: true, m: 300, n: 5, k: 70, alpha: 0.5, beta: 0.5))
    add("gemm_skinny_tA_n16_k37", GemmDesc(transA: true, m: 130, n: 16, k: 37))
    add("gemm_skinny_tAtB_n3", GemmDesc(transA: true, transB: true, m: 70, n: 3, k: 19, beta: -1))
    add("gemm_row_m1", GemmDesc(m: 1, n: 300, k: 50))
    add("gemm_row_m1_tA_tB_beta", GemmDesc(transA: true, transB: true, m: 1, n: 40, k: 33, lda: 3, ldb: 35, beta: 2))
    add("gemm_100x8192x1", GemmDesc(transA: true, m: 8192, n: 1, k: 100))
    if s == .bench {
      for n in [256, 512, 1024, 2048] { add("gemm_\(n)", GemmDesc(m: n, n: n, k: n), tol: 1e-9) }
    }
    return cases
  }

  // MARK: - Convolution

  /// Conv, with backward-data and backward-filter gradient specs (small cases only).
  static func conv(_ name: String, _ c: ConvGeometry, bias: Bool = false, act: Activation = .identity,
                   grad: Bool = false) -> OpCase {
    let k = Double(c.patchSize)
    let tol = k > 1000 ? 1e-9 : OpCase.defaultTolerance
    var grads: [GradSpec] = []
    if grad && !bias && act == .identity {
      grads = [
        GradSpec(.conv2dBackwardData(c, bias: false, activation: .identity), [.upstream, .input(1)], grads: [(0, 0)]),
        GradSpec(.conv2dBackwardFilter(c, accumulate: false), [.input(0), .upstream], grads: [(0, 1)]),
      ]
    }
    return OpCase(name, .conv2d(c, bias: bias, activation: act), bias ? [u1, u1, u1] : [u1, u1],
                  tolerance: tol, reason: tol == OpCase.defaultTolerance ? "float32 rounding of short sums"
                    : "float32 sums over inC·k² = \(c.patchSize) terms", gradients: grads)
  }

  /// A convolution with an epilogue: inputs x, w, [bias], [slopes in [0, 0.5)], [residual].
  static func epilogue(_ name: String, _ op: Op) -> OpCase {
    var specs: [InputSpec] = [u1, u1]
    if case .conv2d(_, true, _, _) = op { specs.append(u1) }
    if case .conv2dBackwardData(_, true, _, _) = op { specs.append(u1) }
    if op.epilogue?.prelu == true { specs.append(.uniform(0, 0.5)) }
    if op.epilogue?.residual == true { specs.append(u1) }
    return OpCase(name, op, specs, reason: "float32 rounding of short sums; the epilogue adds one rounding per stage")
  }

  /// Transposed conv (conv backward-data), with its own gradients: dx is a convolution, dw a
  /// backward-filter with the roles of x and dy swapped.
  /// A convolution case whose weights (input 1) are constant in the benchmark, as in a model.
  static func weights(_ c: OpCase) -> OpCase {
    var c = c
    c.benchConstants = [1]
    return c
  }

  static func convT(_ name: String, _ c: ConvGeometry, bias: Bool = false, act: Activation = .identity,
                    grad: Bool = false) -> OpCase {
    var grads: [GradSpec] = []
    if grad && !bias && act == .identity {
      grads = [
        GradSpec(.conv2d(c, bias: false, activation: .identity), [.upstream, .input(1)], grads: [(0, 0)]),
        GradSpec(.conv2dBackwardFilter(c, accumulate: false), [.upstream, .input(0)], grads: [(0, 1)]),
      ]
    }
    let tol = c.outChannels > 200 ? 1e-9 : OpCase.defaultTolerance
    return OpCase(name, .conv2dBackwardData(c, bias: bias, activation: act), bias ? [u1, u1, u1] : [u1, u1],
                  tolerance: tol, reason: "float32 sums over outC·k² terms", gradients: grads)
  }

  /// Max pooling with its gradient (random inputs: ties within the finite-difference step are
  /// vanishingly rare, so the argmax does not move).
  static func pool(_ name: String, _ c: ConvGeometry) -> OpCase {
    OpCase(name, .maxPool(c), [u1], tolerance: 0, reason: "a maximum is exact",
           gradients: [GradSpec(.maxPoolBackward(c), [.input(0), .upstream], grads: [(0, 0)])])
  }

  static func convolution(_ s: Scale) -> [OpCase] {
    let nG = s == .test ? 2 : 64
    let t = ConvGeometry.transposed
    let cpuBanded = ConvGeometry(batch: 1, inChannels: 8, inHeight: 128, inWidth: 128, outChannels: 16,
                                 kernel: (3, 3), padding: (1, 1))
    var cases: [OpCase] = [
      // DCGAN generator (pytorch/examples, ngf 64): transposed convolutions.
      convT("dcgan_g1_convT_100_512_1to4", t(nG, 100, 1, 1, 512, (4, 4), (1, 1), (0, 0))),
      convT("dcgan_g2_convT_512_256_4to8", t(nG, 512, 4, 4, 256, (4, 4), (2, 2), (1, 1))),
      convT("dcgan_g3_convT_256_128_8to16", t(nG, 256, 8, 8, 128, (4, 4), (2, 2), (1, 1))),
      convT("dcgan_g4_convT_128_64_16to32", t(nG, 128, 16, 16, 64, (4, 4), (2, 2), (1, 1))),
      convT("dcgan_g5_convT_64_3_32to64_tanh", t(nG, 64, 32, 32, 3, (4, 4), (2, 2), (1, 1)), act: .tanh),
      // DCGAN discriminator.
      conv("dcgan_d1_conv_3_64_64to32_lrelu", ConvGeometry(batch: nG, inChannels: 3, inHeight: 64, inWidth: 64,
           outChannels: 64, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), act: .leakyRelu(0.2)),
      conv("dcgan_d2_conv_64_128_32to16", ConvGeometry(batch: nG, inChannels: 64, inHeight: 32, inWidth: 32,
           outChannels: 128, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
      conv("dcgan_d4_conv_256_512_8to4", ConvGeometry(batch: nG, inChannels: 256, inHeight: 8, inWidth: 8,
           outChannels: 512, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
      conv("dcgan_d5_conv_512_1_4to1", ConvGeometry(batch: nG, inChannels: 512, inHeight: 4, inWidth: 4,
           outChannels: 1, kernel: (4, 4))),
      // SRResNet at 64×64 input (bench) or a 24×20 crop (test).
      conv("srresnet_conv9_3_64_prelu_in", sr(s, 3, 64, 9, scaleUp: 1), bias: true),
      conv("srresnet_conv3_64_64", sr(s, 64, 64, 3, scaleUp: 1), bias: true),
      conv("srresnet_up_conv3_64_256", sr(s, 64, 256, 3, scaleUp: 1), bias: true),
      conv("srresnet_up2_conv3_64_256", sr(s, 64, 256, 3, scaleUp: 2), bias: true),
      conv("srresnet_conv9_64_3_out_tanh", sr(s, 64, 3, 9, scaleUp: 4), bias: true, act: .tanh),
      // Its patch matrix (5184 × 7680 at test scale) exceeds the im2col budget, so these three run
      // the banded lowering (tiles of output rows) in every direction.
      convT("srresnet_conv9_64_3_bwd_data_banded", sr(s, 64, 3, 9, scaleUp: 4)),
      // SRResNet's training backward through a residual conv (stride 1, 64 → 64).
      convT("srresnet_conv3_64_64_bwd_data", sr(s, 64, 64, 3, scaleUp: 1)),
      OpCase("srresnet_conv9_64_3_bwd_filter_banded", .conv2dBackwardFilter(sr(s, 64, 3, 9, scaleUp: 4),
             accumulate: false), [u1, u1], tolerance: 1e-9, reason: "float32 sums over N·oH·oW = 7680+ terms"),
      // Odd geometries: non-square, stride > 1, kernel sizes 1, 2, 5, 7, rectangular kernels.
      conv("conv_odd_3_5_k3s2p1_7x13", ConvGeometry(batch: 2, inChannels: 3, inHeight: 7, inWidth: 13,
           outChannels: 5, kernel: (3, 3), stride: (2, 2), padding: (1, 1)), grad: true),
      conv("conv_1x1_16_8_9x5", ConvGeometry(batch: 3, inChannels: 16, inHeight: 9, inWidth: 5,
           outChannels: 8, kernel: (1, 1)), grad: true),
      conv("conv_k5s3p2_4_6_11x10_bias_relu", ConvGeometry(batch: 2, inChannels: 4, inHeight: 11, inWidth: 10,
           outChannels: 6, kernel: (5, 5), stride: (3, 3), padding: (2, 2)), bias: true, act: .relu),
      conv("conv_k7_2_3_15x9", ConvGeometry(batch: 1, inChannels: 2, inHeight: 15, inWidth: 9,
           outChannels: 3, kernel: (7, 7), padding: (3, 3)), grad: true),
      conv("conv_k2x3_s1x2_p0x1", ConvGeometry(batch: 2, inChannels: 3, inHeight: 6, inWidth: 8,
           outChannels: 4, kernel: (2, 3), stride: (1, 2), padding: (0, 1)), grad: true),
      // Keras/TensorFlow 'same' padding: stride 2 on an even input pads only bottom/right
      // (krasserm's SRGAN discriminator); k2 stride 1 pads one pixel at the end (direct kernel).
      conv("conv_same_tf_k3s2_p0e1_4_6_10x8", ConvGeometry(batch: 2, inChannels: 4, inHeight: 10, inWidth: 8,
           outChannels: 6, kernel: (3, 3), stride: (2, 2), padding: (0, 0), paddingEnd: (1, 1)), grad: true),
      conv("conv_same_tf_k2s1_p0e1_3_3_7x9_direct", ConvGeometry(batch: 1, inChannels: 3, inHeight: 7, inWidth: 9,
           outChannels: 3, kernel: (2, 2), padding: (0, 0), paddingEnd: (1, 1)), grad: true),
      // ≤ 4 outputs, stride 1: the CPU's direct backward kernels (rows wider than 16 with a
      // ragged tail; 4 outputs; accumulate).
      conv("conv_k5p2_5_4_9x37_direct", ConvGeometry(batch: 2, inChannels: 5, inHeight: 9, inWidth: 37,
           outChannels: 4, kernel: (5, 5), padding: (2, 2)), grad: true),
      conv("conv_k9p4_64_3_32x32_srresnet_tail", ConvGeometry(batch: 2, inChannels: 64, inHeight: 32, inWidth: 32,
           outChannels: 3, kernel: (9, 9), padding: (4, 4)), grad: true),
      OpCase("conv_bwd_filter_accumulate_direct", .conv2dBackwardFilter(ConvGeometry(batch: 2, inChannels: 3, inHeight: 6,
             inWidth: 20, outChannels: 2, kernel: (3, 3), padding: (1, 1)), accumulate: true), [u1, u1, u1],
             inPlace: [0: 2]),
      OpCase("conv_bwd_data_bias_relu_direct", .conv2dBackwardData(ConvGeometry(batch: 2, inChannels: 6, inHeight: 7,
             inWidth: 18, outChannels: 3, kernel: (3, 3), padding: (1, 1)), bias: true, activation: .relu), [u1, u1, u1]),
      conv("conv_k9_p4_1_1_1x1", ConvGeometry(batch: 1, inChannels: 1, inHeight: 1, inWidth: 1,
           outChannels: 1, kernel: (9, 9), padding: (4, 4))),
      convT("convT_odd_5_3_k4s2p1_3x7", t(2, 5, 3, 7, 3, (4, 4), (2, 2), (1, 1)), grad: true),
      convT("convT_k4s1p0_6_4_1x1", t(3, 6, 1, 1, 4, (4, 4), (1, 1), (0, 0)), grad: true),
      convT("convT_k3s2p1_bias_lrelu", t(2, 4, 5, 6, 3, (3, 3), (2, 2), (1, 1)), bias: true, act: .leakyRelu(0.2)),
      // Epilogues a plan folds in (SRResNet's PReLU, residual adds, pixel shuffle, tanh + affine
      // tail; `Graph.fusingEpilogues`): wide and narrow tiles, forward and transposed.
      epilogue("conv_epilogue_prelu_bias", .conv2d(ConvGeometry(batch: 2, inChannels: 5, inHeight: 9, inWidth: 7,
               outChannels: 16, kernel: (3, 3), padding: (1, 1)), bias: true, activation: .identity,
               epilogue: ConvEpilogue(prelu: true))),
      epilogue("conv_epilogue_residual", .conv2d(ConvGeometry(batch: 2, inChannels: 16, inHeight: 9, inWidth: 7,
               outChannels: 16, kernel: (3, 3), padding: (1, 1)), bias: true, activation: .identity,
               epilogue: ConvEpilogue(residual: true))),
      epilogue("conv_epilogue_shuffle2_prelu", .conv2d(ConvGeometry(batch: 2, inChannels: 6, inHeight: 5, inWidth: 7,
               outChannels: 32, kernel: (3, 3), padding: (1, 1)), bias: true, activation: .identity,
               epilogue: ConvEpilogue(prelu: true, shuffle: 2))),
      epilogue("conv_epilogue_narrow_tanh_affine", .conv2d(ConvGeometry(batch: 2, inChannels: 8, inHeight: 11, inWidth: 9,
               outChannels: 3, kernel: (9, 9), padding: (4, 4)), bias: true, activation: .tanh,
               epilogue: ConvEpilogue(alpha: 0.5, beta: 0.5))),
      epilogue("conv_epilogue_narrow_shuffle_all", .conv2d(ConvGeometry(batch: 1, inChannels: 4, inHeight: 6, inWidth: 5,
               outChannels: 4, kernel: (3, 3), padding: (1, 1)), bias: true, activation: .relu,
               epilogue: ConvEpilogue(prelu: true, residual: true, alpha: 2, beta: -1, shuffle: 2))),
      epilogue("convT_epilogue_prelu_residual_affine", .conv2dBackwardData(t(2, 6, 4, 5, 12, (4, 4), (2, 2), (1, 1)),
               bias: true, activation: .identity, epilogue: ConvEpilogue(prelu: true, residual: true, alpha: 0.5, beta: 0.25))),
      epilogue("convT_epilogue_narrow_shuffle_prelu", .conv2dBackwardData(t(2, 6, 3, 4, 4, (4, 4), (2, 2), (1, 1)),
               bias: false, activation: .identity, epilogue: ConvEpilogue(prelu: true, shuffle: 2))),
      // The CPU's implicit GEMM (im2col inside the packing, C stored into NCHW with the epilogue):
      // two column blocks (N = 2697 > 2048) with panels crossing rows and images (staged and
      // scattered) and panels inside one image (stored in place); stride 2 with 16-wide vector
      // gathers and a ragged tail, reads before the tensor's first row; two row blocks and three
      // k slices (M = 136, K = 640).
      conv("conv_implicit_k3_5_8_29x31_n3_bias_lrelu", ConvGeometry(batch: 3, inChannels: 5, inHeight: 29,
           inWidth: 31, outChannels: 8, kernel: (3, 3), padding: (1, 1)), bias: true, act: .leakyRelu(0.1)),
      conv("conv_implicit_k4s2_4_6_34x40_vector", ConvGeometry(batch: 2, inChannels: 4, inHeight: 34, inWidth: 40,
           outChannels: 6, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), grad: true),
      conv("conv_implicit_k4s2_40_136_18x20_bias_relu", ConvGeometry(batch: 2, inChannels: 40, inHeight: 18,
           inWidth: 20, outChannels: 136, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true, act: .relu),
      // Short k (3·4·4) and 32×32 outputs: the CPU GEMM's row-panel-first order, without and
      // with an epilogue (72 outputs: a partial row panel).
      conv("conv_implicit_short_k_3_72_64x64", ConvGeometry(batch: 2, inChannels: 3, inHeight: 64, inWidth: 64,
           outChannels: 72, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
      conv("conv_implicit_short_k_3_72_64x64_bias_lrelu", ConvGeometry(batch: 2, inChannels: 3, inHeight: 64,
           inWidth: 64, outChannels: 72, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true,
           act: .leakyRelu(0.2)),
      // 4 × 4 stride-2 convolutions with ≥ 16 channels and ≥ 32 output tiles (2 × 2) but < 32 of
      // 4 × 4 (or sides not multiples of 8): the CPU's Winograd path (phase split + F(2×2, 2×2)).
      // Tile rows of 4, 8 and 2 (vector transforms) and of 5 and 7 (lane by lane; tile rows
      // crossing GEMM panels), non-square, bias + activations, partial row panels (20 outputs),
      // and two chunks of images (a chunk holds up to 1 M floats of V and M: 7 of the 28 × 28
      // images fit, split evenly as 5 + 4).
      conv("conv_winograd_16_24_16x16_n4_bias_lrelu", ConvGeometry(batch: 4, inChannels: 16, inHeight: 16,
           inWidth: 16, outChannels: 24, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true,
           act: .leakyRelu(0.2)),
      conv("conv_winograd_64_64_32x32_n1", ConvGeometry(batch: 1, inChannels: 64, inHeight: 32,
           inWidth: 32, outChannels: 64, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
      conv("conv_winograd_64_64_28x28_n9_two_chunks", ConvGeometry(batch: 9, inChannels: 64, inHeight: 28,
           inWidth: 28, outChannels: 64, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
      conv("conv_winograd_32_20_8x8_n4_bias_relu", ConvGeometry(batch: 4, inChannels: 32, inHeight: 8,
           inWidth: 8, outChannels: 20, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true, act: .relu),
      conv("conv_winograd_16_16_12x20_n11_tanh", ConvGeometry(batch: 11, inChannels: 16, inHeight: 12,
           inWidth: 20, outChannels: 16, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), act: .tanh),
      // ≥ 32 tiles of 4 × 4 (output sides multiples of 4): F(4×4, 2×2) (WinogradConv+F4), tiles
      // in groups of 8 across rows and images. Tile rows of 1, 2, 4 and 8, a last group of 1 or 4
      // tiles, the window's zero edges on every side, bias + each activation, forward and
      // transposed, and two chunks of images (up to 4 M floats of V and M: 32 of the 64 × 64
      // images fit, split as 20 + 20).
      conv("conv_winograd4_16_24_16x16_n8_bias_lrelu", ConvGeometry(batch: 8, inChannels: 16, inHeight: 16,
           inWidth: 16, outChannels: 24, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true,
           act: .leakyRelu(0.2)),
      conv("conv_winograd4_32_20_8x8_n33_bias_tanh", ConvGeometry(batch: 33, inChannels: 32, inHeight: 8,
           inWidth: 8, outChannels: 20, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true, act: .tanh),
      conv("conv_winograd4_24_16_32x16_n5_sigmoid", ConvGeometry(batch: 5, inChannels: 24, inHeight: 32,
           inWidth: 16, outChannels: 16, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), act: .sigmoid),
      conv("conv_winograd4_16_16_64x64_n40_two_chunks", ConvGeometry(batch: 40, inChannels: 16, inHeight: 64,
           inWidth: 64, outChannels: 16, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
      convT("convT_winograd4_48_24_8x8_n9_bias_relu", t(9, 48, 8, 8, 24, (4, 4), (2, 2), (1, 1)), bias: true,
            act: .relu),
      convT("convT_winograd4_32_16_4x4_n33_bias_lrelu", t(33, 32, 4, 4, 16, (4, 4), (2, 2), (1, 1)), bias: true,
            act: .leakyRelu(0.2)),
      convT("convT_winograd4_20_16_16x24_n2_tanh", t(2, 20, 16, 24, 16, (4, 4), (2, 2), (1, 1)), act: .tanh),
      // A batch-1 DCGAN's 8 × 8 and 4 × 4 layers, forward and transposed, timed with constant
      // weights as in a model: 16 tiles (2 × 2) on the CPU's narrow Winograd path (the skinny GEMM
      // kernel on 8-tile panels); 4 tiles forward narrow (the kernel's 4-row half; on the skinny
      // GEMM with the AVX-512 kernels) and on Winograd's GEMM path transposed (see
      // WinogradConv.minNarrowTiles); and 12 tiles (a full 8-tile panel and a half one), with bias
      // and activation.
      weights(conv("dcgan_d3_b1_conv_128_256_16to8", ConvGeometry(batch: 1, inChannels: 128, inHeight: 16,
              inWidth: 16, outChannels: 256, kernel: (4, 4), stride: (2, 2), padding: (1, 1)))),
      weights(conv("dcgan_d4_b1_conv_256_512_8to4", ConvGeometry(batch: 1, inChannels: 256, inHeight: 8, inWidth: 8,
              outChannels: 512, kernel: (4, 4), stride: (2, 2), padding: (1, 1)))),
      weights(convT("dcgan_g2_b1_convT_512_256_4to8", t(1, 512, 4, 4, 256, (4, 4), (2, 2), (1, 1)))),
      weights(convT("dcgan_g3_b1_convT_256_128_8to16", t(1, 256, 8, 8, 128, (4, 4), (2, 2), (1, 1)))),
      conv("conv_winograd_narrow_40_36_8x8_n3_bias_lrelu", ConvGeometry(batch: 3, inChannels: 40, inHeight: 8,
           inWidth: 8, outChannels: 36, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true,
           act: .leakyRelu(0.2)),
      convT("convT_winograd_narrow_36_40_4x4_n3_bias_relu", t(3, 36, 4, 4, 40, (4, 4), (2, 2), (1, 1)), bias: true,
            act: .relu),
      // 3 × 3 stride-1 convolutions on the CPU's F(2×2, 3×3) path (even sides): rows
      // of 2 and 4 eight-tile vectors with edge loads at both ends, bias + activations, and two
      // chunks of images (one 32 × 32 image of 64 → 64 channels is 0.5 M floats of V and M).
      conv("conv3_winograd_16_24_8x32_n2_bias_lrelu", ConvGeometry(batch: 2, inChannels: 16, inHeight: 8, inWidth: 32,
           outChannels: 24, kernel: (3, 3), padding: (1, 1)), bias: true, act: .leakyRelu(0.2)),
      conv("conv3_winograd_20_40_6x16_n1_tanh", ConvGeometry(batch: 1, inChannels: 20, inHeight: 6, inWidth: 16,
           outChannels: 40, kernel: (3, 3), padding: (1, 1)), act: .tanh),
      // Rows of 12 and 5 tiles: partial last vectors, vectors crossing 32-tile panels.
      conv("conv3_winograd_16_16_10x24_n3_bias_relu", ConvGeometry(batch: 3, inChannels: 16, inHeight: 10,
           inWidth: 24, outChannels: 16, kernel: (3, 3), padding: (1, 1)), bias: true, act: .relu),
      conv("conv3_winograd_24_16_4x10_n2", ConvGeometry(batch: 2, inChannels: 24, inHeight: 4, inWidth: 10,
           outChannels: 16, kernel: (3, 3), padding: (1, 1))),
      conv("conv3_winograd_64_64_32x32_n3_chunks", ConvGeometry(batch: 3, inChannels: 64, inHeight: 32, inWidth: 32,
           outChannels: 64, kernel: (3, 3), padding: (1, 1))),
      // An image past the chunk budget (48 × 48, 64 → 64: 1.18 M floats of V and M), in two bands
      // of 12 tile rows each, with bias + activation per band.
      conv("conv3_winograd_64_64_48x48_n1_bands_bias_lrelu", ConvGeometry(batch: 1, inChannels: 64, inHeight: 48,
           inWidth: 48, outChannels: 64, kernel: (3, 3), padding: (1, 1)), bias: true, act: .leakyRelu(0.2)),
      // Its backward-data: the forward convolution with the flipped kernel, on the same path
      // (filters transformed per call).
      convT("conv3_winograd_bwd_data_24_16_8x16_n2_bias_relu", ConvGeometry(batch: 2, inChannels: 24, inHeight: 8,
            inWidth: 16, outChannels: 16, kernel: (3, 3), padding: (1, 1)), bias: true, act: .relu),
      // Their transposes (4 output phases × F(2×2, 2×2)): dy tile rows of 4, 8 and 2 and of 5 (lane
      // by lane), bias + activations, three chunks (3 of these 7 images per chunk).
      convT("convT_winograd_24_16_8x8_n8_bias_lrelu", t(8, 24, 8, 8, 16, (4, 4), (2, 2), (1, 1)), bias: true,
            act: .leakyRelu(0.2)),
      convT("convT_winograd_64_64_16x16_n7_chunks", t(7, 64, 16, 16, 64, (4, 4), (2, 2), (1, 1))),
      convT("convT_winograd_20_32_4x4_n32_tanh", t(32, 20, 4, 4, 32, (4, 4), (2, 2), (1, 1)), act: .tanh),
      convT("convT_winograd_16_16_6x10_n11_bias_relu", t(11, 16, 6, 10, 16, (4, 4), (2, 2), (1, 1)), bias: true,
            act: .relu),
      // Transposed: stride 3 with k5 and k < s (output pixels no tap reaches: bias and
      // activation only), through the lowering.
      convT("convT_k5s3p1_4_6_6x7_bias_tanh", t(2, 4, 6, 7, 6, (5, 5), (3, 3), (1, 1)), bias: true, act: .tanh),
      convT("convT_k2s3_3_5_4x5_untouched_pixels", t(2, 3, 4, 5, 5, (2, 2), (3, 3), (0, 0)), bias: true,
            act: .sigmoid),
      // ≤ 4 output channels transposed (the CPU's direct kernel by phase): stride 3, k5, two
      // blocks of 16 per column phase.
      convT("convT_direct_k5s3p2_6_4_5x20_bias_lrelu", t(1, 6, 5, 20, 4, (5, 5), (3, 3), (2, 2)), bias: true,
            act: .leakyRelu(0.2)),
      // Backward-data and backward-filter onto > 4 channels stay on the CPU's lowering, whose tile
      // budget (4 MiB) makes this 128 × 128 patch matrix (72 × 16384) banded; and a single-image
      // backward-filter tile.
      OpCase("conv_bwd_data_cpu_banded_8_16_128x128", .conv2dBackwardData(cpuBanded, bias: false, activation: .identity),
             [u1, u1], reason: "float32 sums over outC·k² = 144 terms"),
      OpCase("conv_bwd_filter_cpu_banded_8_16_128x128", .conv2dBackwardFilter(cpuBanded, accumulate: false),
             [u1, u1], tolerance: 1e-9, reason: "float32 sums over N·oH·oW = 16384 terms"),
      OpCase("conv_bwd_filter_single_6_8_10x12", .conv2dBackwardFilter(ConvGeometry(batch: 1, inChannels: 6,
             inHeight: 10, inWidth: 12, outChannels: 8, kernel: (3, 3), padding: (1, 1)), accumulate: false),
             [u1, u1], reason: "float32 sums over N·oH·oW = 120 terms"),
      OpCase("conv_bwd_filter_accumulate", .conv2dBackwardFilter(ConvGeometry(batch: 2, inChannels: 3, inHeight: 9,
             inWidth: 7, outChannels: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1)), accumulate: true),
             [u1, u1, u1], inPlace: [0: 2]),
    ]
    if s == .bench {
      // The rest of a batch-1 DCGAN, timed as in a model (constant weights): with the narrow cases
      // above, every layer of G_fwd_b1 and D_fwd_b1 (BN folded: bias + activation).
      cases += [
        weights(convT("dcgan_g1_b1_convT_100_512_1to4_bias_relu", t(1, 100, 1, 1, 512, (4, 4), (1, 1), (0, 0)),
                      bias: true, act: .relu)),
        weights(convT("dcgan_g4_b1_convT_128_64_16to32_bias_relu", t(1, 128, 16, 16, 64, (4, 4), (2, 2), (1, 1)),
                      bias: true, act: .relu)),
        weights(convT("dcgan_g5_b1_convT_64_3_32to64_tanh", t(1, 64, 32, 32, 3, (4, 4), (2, 2), (1, 1)), act: .tanh)),
        weights(conv("dcgan_d1_b1_conv_3_64_64to32_lrelu", ConvGeometry(batch: 1, inChannels: 3, inHeight: 64,
                     inWidth: 64, outChannels: 64, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
                     act: .leakyRelu(0.2))),
        weights(conv("dcgan_d2_b1_conv_64_128_32to16_bias_lrelu", ConvGeometry(batch: 1, inChannels: 64, inHeight: 32,
                     inWidth: 32, outChannels: 128, kernel: (4, 4), stride: (2, 2), padding: (1, 1)), bias: true,
                     act: .leakyRelu(0.2))),
      ]
      cases.append(conv("dcgan_d3_conv_128_256_16to8", ConvGeometry(batch: nG, inChannels: 128, inHeight: 16,
                        inWidth: 16, outChannels: 256, kernel: (4, 4), stride: (2, 2), padding: (1, 1))))
    }
    let small = ConvGeometry(batch: 2, inChannels: 3, inHeight: 7, inWidth: 13, outChannels: 5, kernel: (3, 3),
                             stride: (2, 2), padding: (1, 1))
    cases.append(OpCase("im2col_odd", .im2col(small, .whole(small, images: 2)), [u1]))
    cases.append(OpCase("col2im_odd", .col2im(small, .whole(small, images: 2)), [u1]))
    cases.append(OpCase("im2col_row_tile", .im2col(small, PatchTile(images: 1, rowStart: 1, rows: 2)), [u1]))
    cases.append(OpCase("col2im_row_tile_accumulate", .col2im(small, PatchTile(images: 1, rowStart: 2, rows: 2,
                        accumulate: true)), [u1, u1], inPlace: [0: 1]))
    return cases
  }

  static func sr(_ s: Scale, _ cin: Int, _ cout: Int, _ k: Int, scaleUp: Int) -> ConvGeometry {
    let (h, w) = s == .test ? (24, 20) : (64, 64)
    return ConvGeometry(batch: 1, inChannels: cin, inHeight: h * scaleUp, inWidth: w * scaleUp, outChannels: cout,
                        kernel: (k, k), padding: (k / 2, k / 2))
  }

  // MARK: - Normalisation

  static func normalization(_ s: Scale) -> [OpCase] {
    let layouts: [(String, ChannelLayout)] = [
      ("dcgan_g1", ChannelLayout(batch: s == .test ? 2 : 64, channels: 512, spatial: 16)),
      ("srresnet", ChannelLayout(batch: 1, channels: 64, spatial: s == .test ? 480 : 4096)),
      ("odd", ChannelLayout(batch: 3, channels: 7, spatial: 5)),
    ]
    let pos = InputSpec.uniform(0.2, 2)
    var cases: [OpCase] = []
    for (n, l) in layouts {
      cases.append(OpCase("bn_infer_\(n)", .batchNorm(l, eps: 1e-5, activation: .relu), [u1, u1, u1, u1, pos]))
      cases.append(OpCase("bn_train_\(n)", .batchNormTraining(l, eps: 1e-3, momentum: 0.1), [u1, u1, u1, u1, pos],
                          tolerance: 1e-9, reason: "variance of a float32 batch (two-pass, but float32 data)",
                          gradients: l.count <= 1000 ? [GradSpec(.batchNormBackward(l),
                            [.upstream, .input(0), .input(1), .output(1), .output(2)], grads: [(0, 0), (1, 1), (2, 2)])] : []))
      cases.append(OpCase("bn_infer_bwd_\(n)", .batchNormInferenceBackward(l, eps: 1e-3), [u1, u1, pos]))
      cases.append(OpCase("bn_bwd_\(n)", .batchNormBackward(l), [u1, u1, u1, .uniform(-0.1, 0.1), pos],
                          tolerance: 1e-9, reason: "two float32 channel sums over N·HW terms feed every output"))
    }
    // BN inference without activation, with its gradient (identity keeps FD away from kinks).
    let l = ChannelLayout(batch: 2, channels: 3, spatial: 10)
    cases.append(OpCase("bn_infer_identity_grad", .batchNorm(l, eps: 1e-3, activation: .identity),
                        [u1, u1, u1, u1, pos],
                        gradients: [GradSpec(.batchNormInferenceBackward(l, eps: 1e-3), [.upstream, .input(1), .input(4)],
                                             grads: [(0, 0)])]))
    let b = ChannelLayout(batch: 2, channels: 5, spatial: 33)
    cases.append(OpCase("bias_lrelu", .biasActivation(b, activation: .leakyRelu(0.2)), [u1, u1]))
    cases.append(OpCase("bias_tanh_srresnet", .biasActivation(ChannelLayout(batch: 1, channels: 3,
                        spatial: s == .test ? 1000 : 65536), activation: .tanh), [u1, u1]))
    cases.append(OpCase("channel_sum", .channelSum(b), [u1]))
    return cases
  }

  // MARK: - Activations

  static func activations(_ s: Scale) -> [OpCase] {
    let n = s == .test ? 1023 : 1 << 20
    let acts: [Activation] = [.relu, .leakyRelu(0.2), .tanh, .sigmoid, .identity]
    var cases: [OpCase] = []
    for a in acts {
      let bwd = GradSpec(.activationBackward(a, count: n), [.output(0), .upstream], grads: [(0, 0)])
      cases.append(OpCase("act_\(a)_\(n)", .activation(a, count: n), [.awayFromZero(3)],
                          gradients: s == .test ? [bwd] : []))
      cases.append(OpCase("act_\(a)_bwd_\(n)", .activationBackward(a, count: n),
                          [a == .tanh ? .uniform(-1, 1) : .uniform(-0.5, 1), u1]))
    }
    // The vector tanh/sigmoid (polynomials, range reduction) over saturating and tiny inputs,
    // and counts that leave a ragged tail of lanes.
    for (name, a, spec) in [("tanh_wide", Activation.tanh, InputSpec.uniform(-20, 20)),
                            ("tanh_tiny", .tanh, .uniform(-1e-3, 1e-3)),
                            ("sigmoid_wide", .sigmoid, .uniform(-90, 90))] {
      cases.append(OpCase("act_\(name)_37", .activation(a, count: 37), [spec]))
    }
    let l = ChannelLayout(batch: s == .test ? 1 : 16, channels: 64, spatial: s == .test ? 37 : 4096)
    cases.append(OpCase("prelu_srresnet", .prelu(l), [.awayFromZero(2), .uniform(0, 0.5)],
                        gradients: [GradSpec(.preluBackward(l), [.input(0), .input(1), .upstream], grads: [(0, 0), (1, 1)])]))
    cases.append(OpCase("prelu_bwd_srresnet", .preluBackward(l), [u1, .uniform(0, 0.5), u1],
                        tolerance: 1e-9, reason: "per-channel slope gradient sums N·HW float32 terms"))
    return cases
  }

  // MARK: - Layout

  static func layout(_ s: Scale) -> [OpCase] {
    let (h, w) = s == .test ? (5, 7) : (64, 64)
    return [
      OpCase("depth_to_space_r2_srresnet", .depthToSpace(batch: 1, channels: 64, height: h, width: w, factor: 2), [u1],
             gradients: [GradSpec(.spaceToDepth(batch: 1, channels: 64, height: h, width: w, factor: 2), [.upstream],
                                  grads: [(0, 0)])]),
      // SRResNet's second shuffle (256 × 128 × 128 → 64 × 256 × 256 at bench scale).
      OpCase("depth_to_space_r2_srresnet_up2", .depthToSpace(batch: 1, channels: 64, height: 2 * h, width: 2 * w,
             factor: 2), [u1]),
      OpCase("space_to_depth_r2_srresnet_up2", .spaceToDepth(batch: 1, channels: 64, height: 2 * h, width: 2 * w,
             factor: 2), [u1]),
      // VGG's 2×2/2 pooling (odd size: the last row/column is dropped) and overlapping 3×3/2
      // windows with padding (an input can win several windows; the backward gathers them).
      pool("max_pool_k2s2_vgg_6_9x11", ConvGeometry(batch: 2, inChannels: 6, inHeight: 9, inWidth: 11, outChannels: 6,
           kernel: (2, 2), stride: (2, 2))),
      pool("max_pool_k3s2p1_overlap_3_8x7", ConvGeometry(batch: 1, inChannels: 3, inHeight: 8, inWidth: 7, outChannels: 3,
           kernel: (3, 3), stride: (2, 2), padding: (1, 1))),
      OpCase("max_pool_bwd_k3s2p1_overlap_3_8x7", .maxPoolBackward(ConvGeometry(batch: 1, inChannels: 3, inHeight: 8,
             inWidth: 7, outChannels: 3, kernel: (3, 3), stride: (2, 2), padding: (1, 1))), [u1, u1]),
      OpCase("depth_to_space_r3_odd", .depthToSpace(batch: 2, channels: 3, height: 4, width: 3, factor: 3), [u1]),
      // r = 2 rows of 19: two 8-column vector steps and a 3-column tail, both directions.
      OpCase("depth_to_space_r2_3x19", .depthToSpace(batch: 2, channels: 3, height: 3, width: 19, factor: 2), [u1]),
      OpCase("space_to_depth_r2_3x19", .spaceToDepth(batch: 2, channels: 3, height: 3, width: 19, factor: 2), [u1]),
      OpCase("space_to_depth_r2", .spaceToDepth(batch: 2, channels: 5, height: 3, width: 4, factor: 2), [u1]),
      OpCase("transpose_blocks_512x64x16", .transposeBlocks(a: 512, b: s == .test ? 3 : 64, inner: 16), [u1]),
      OpCase("transpose_blocks_odd", .transposeBlocks(a: 7, b: 5, inner: 1), [u1]),
    ]
  }

  // MARK: - Element-wise and reductions

  static func elementwise(_ s: Scale) -> [OpCase] {
    let n = s == .test ? 1023 : 1 << 20
    return [
      OpCase("add_\(n)", .add(count: n), [u1, u1],
             gradients: [GradSpec(.scale(count: n, alpha: 1, beta: 0), [.upstream], grads: [(0, 0)])]),
      OpCase("mul_\(n)", .mul(count: n), [u1, u1],
             gradients: [GradSpec(.mul(count: n), [.upstream, .input(1)], grads: [(0, 0)])]),
      OpCase("scale_\(n)", .scale(count: n, alpha: -0.7, beta: 0.25), [u1]),
      OpCase("axpy_\(n)", .axpy(count: n, alpha: 3), [u1, u1]),
      OpCase("row_sum_7x1023", .rowSum(rows: 7, cols: 1023, mean: false), [u1]),
      OpCase("row_mean_1x1", .rowSum(rows: 1, cols: 1, mean: true), [u1]),
      OpCase("row_mean_64x12288", .rowSum(rows: 64, cols: 12288, mean: true), [u1], tolerance: 1e-9,
             reason: "float32 partial sums over 12288 terms"),
    ]
  }

  // MARK: - Optimisation

  static func optimisation(_ s: Scale) -> [OpCase] {
    let n = s == .test ? 1000 : 64 * 100
    return [
      OpCase("adam_\(n)", .adam(count: n, beta1: 0.9, beta2: 0.999, limit: 1.5),
             [.uniform(-2, 2), u1, .uniform(-0.1, 0.1), .uniform(0, 0.01), .uniform(0.001, 0.01)],
             inPlace: [0: 0, 1: 2, 2: 3]),
      OpCase("adam_unclamped", .adam(count: 7, beta1: 0.5, beta2: 0.9, limit: .infinity),
             [u1, u1, u1, .uniform(0, 1), .uniform(0.01, 0.1)], inPlace: [0: 0, 1: 2, 2: 3]),
    ]
  }

  // MARK: - Losses

  static func losses(_ s: Scale) -> [OpCase] {
    let samples = s == .test ? 3 : 64, n = 3 * 64 * 64
    let w = InputSpec.uniform(0, 1)
    let small = 37
    return [
      OpCase("weighted_l1_\(samples)x\(n)", .weightedL1(samples: samples, count: n), [u1, u1, w], tolerance: 1e-9,
             reason: "float32 sum over 12288 terms per sample"),
      OpCase("weighted_l1_grad", .weightedL1(samples: 2, count: small), [.awayFromZero(1), .constant(0), w],
             gradients: [GradSpec(.weightedL1Backward(samples: 2, count: small), [.input(0), .input(1), .input(2), .upstream],
                                  grads: [(0, 0)])]),
      OpCase("weighted_l1_bwd_\(samples)x\(n)", .weightedL1Backward(samples: samples, count: n), [u1, u1, w, u1]),
      OpCase("mse_\(samples)x\(n)", .mse(samples: samples, count: n), [u1, u1], tolerance: 1e-9,
             reason: "float32 sum over 12288 terms per sample",
             gradients: [GradSpec(.mseBackward(samples: samples, count: n), [.input(0), .input(1), .upstream],
                                  grads: [(0, 0)])]),
      OpCase("mse_bwd_\(samples)x\(n)", .mseBackward(samples: samples, count: n), [u1, u1, u1]),
      OpCase("bce_logits_target0_\(samples)", .bceWithLogits(samples: samples, count: 1), [.uniform(-8, 8), .constant(0)],
             gradients: [GradSpec(.bceWithLogitsBackward(samples: samples, count: 1), [.input(0), .input(1), .upstream],
                                  grads: [(0, 0)])]),
      OpCase("bce_logits_7x9", .bceWithLogits(samples: 7, count: 9), [.uniform(-30, 30), .binary],
             gradients: [GradSpec(.bceWithLogitsBackward(samples: 7, count: 9), [.input(0), .input(1), .upstream],
                                  grads: [(0, 0), ])]),
      OpCase("bce_logits_bwd_7x9", .bceWithLogitsBackward(samples: 7, count: 9), [.uniform(-30, 30), .binary, u1]),
    ]
  }
}
