import Compute

/// The integer codes and constants the OpenCL kernels (`Kernels/*.cl`) share with Swift, defined
/// once here and handed to the OpenCL C compiler as `-D` build options: the kernel sources use the
/// names (`ACT_RELU`, `LOSS_MSE`, `MEND_WG`) and never the numbers.
enum KernelCodes {
  /// Work-group size of the reduction kernels (one group per output, a local-memory tree), and the
  /// default group size of every launch.
  static let workGroup = 64

  /// The activation a kernel applies (`mend_act` in common.cl).
  enum Act: Int32, CaseIterable {
    case identity = 0, relu, leaky, tanh, sigmoid

    var macro: String {
      switch self {
      case .identity: return "ACT_IDENTITY"
      case .relu: return "ACT_RELU"
      case .leaky: return "ACT_LEAKY"
      case .tanh: return "ACT_TANH"
      case .sigmoid: return "ACT_SIGMOID"
      }
    }

    /// The code and the slope argument for `a`.
    static func arguments(_ a: Activation) -> (code: Act, slope: Float) {
      switch a {
      case .identity: return (.identity, 0)
      case .relu: return (.relu, 0)
      case .leakyRelu(let s): return (.leaky, s)
      case .tanh: return (.tanh, 0)
      case .sigmoid: return (.sigmoid, 0)
      }
    }
  }

  /// The per-sample loss of `loss_fwd` / `loss_bwd` (loss.cl).
  enum Loss: Int32, CaseIterable {
    case weightedL1 = 0, mse, bceWithLogits

    var macro: String {
      switch self {
      case .weightedL1: return "LOSS_WEIGHTED_L1"
      case .mse: return "LOSS_MSE"
      case .bceWithLogits: return "LOSS_BCE_LOGITS"
      }
    }
  }

  /// The operation of `binary_op` (elementwise.cl).
  enum Binary: Int32, CaseIterable {
    case add = 0, mul, axpy

    var macro: String {
      switch self {
      case .add: return "BINOP_ADD"
      case .mul: return "BINOP_MUL"
      case .axpy: return "BINOP_AXPY"
      }
    }
  }

  /// `-D NAME=VALUE` for every code and constant above.
  static var defines: [String] {
    ["MEND_WG=\(workGroup)"] + Act.allCases.map { "\($0.macro)=\($0.rawValue)" }
      + Loss.allCases.map { "\($0.macro)=\($0.rawValue)" } + Binary.allCases.map { "\($0.macro)=\($0.rawValue)" }
  }

  /// The program's build options: OpenCL C 1.2 and the defines.
  static var buildOptions: String { (["-cl-std=CL1.2"] + defines.map { "-D\($0)" }).joined(separator: " ") }
}
