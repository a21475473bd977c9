import CPURuntime
import Compute
import Foundation

typealias P = UnsafePointer<Float>
typealias MP = UnsafeMutablePointer<Float>

/// The CPU implementations of every op other than GEMM. Loops are written so LLVM vectorises them
/// (plain pointer arithmetic, no bounds checks under -Ounchecked) and split over threads where the
/// work is large enough to pay for it. One file per family: `CPUKernels+Im2col` (convolution
/// lowering), `+Normalisation`, `+Activations`, `+Pooling`, `+Layout` (pixel shuffle),
/// `+Elementwise` and `+Losses` (with Adam).
enum CPUKernels {}
