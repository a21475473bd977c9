import Compute

/// What every build of the CPU kernels (one per `CPUISA`) provides; `CPUDevice` picks one at run
/// time and forwards to it.
public protocol CPUKernelBackend: Device {
  /// The instruction-set level this backend's kernels were compiled for.
  static var isa: CPUISA { get }
  init(threads: Int)
  /// Buffers allocated so far (workspace growth included): steady-state loops allocate none.
  var allocationCount: Int { get }
  /// Which kernel a convolution op takes; nil for other ops.
  static func convPath(_ op: Op) -> CPUConvPath?
  /// Whether a GEMM on `threads` threads splits its k between the threads (long k, small C: the
  /// backward-filter products), rather than tiling C.
  static func gemmSplitsK(_ g: GemmDesc, threads: Int) -> Bool
  /// Column budget of the im2col lowering (`ConvLowering.shape`).
  static var loweringColumnBudget: Int { get }
  /// Register-only FMA throughput of this level on this CPU, GFLOP/s over `threads` threads.
  static func fmaPeak(threads: Int, seconds: Double) -> Double
}

/// The CPU's kernels for convolutions (tests check that the op table reaches each one).
public enum CPUConvPath: String, CaseIterable, Sendable {
  /// Registers hold output rows (≤ 4 outputs, stride 1; transposed: ≤ 4 outputs, any stride).
  case direct
  /// Backward-data of a stride-1 convolution as a forward one with the flipped kernel: ≤ 4
  /// outputs (whose forward is direct), or 3 × 3 padding 1 whose flipped forward takes
  /// Winograd3x3 (SRResNet's training backward).
  case directFlipped
  /// Forward: GEMM packing patches straight from the input (ImplicitConv).
  case implicitGEMM
  /// 4 × 4 stride 2, forward and backward-data: phase decomposition + Winograd F(2×2, 2×2)
  /// (WinogradConv).
  case winograd
  /// The same with F(4×4, 2×2) when there are enough 4 × 4 output tiles (WinogradConv+F4).
  case winogradF4
  /// 3 × 3 stride 1 padding 1, forward: Winograd F(2×2, 3×3) (Winograd3x3).
  case winograd3x3
  /// ConvLowering: im2col / col2im + GEMM, or a plain GEMM (1×1, fully connected).
  case lowered
}

