@_exported import CPURuntime
import Compute
import Foundation

#if arch(x86_64)
  import CPUKernelsAVX512
  import CPUKernelsAVX2
#endif
import CPUKernelsGeneric

/// The pure-Swift device: multi-threaded, SIMD, synchronous. It is the reference every other
/// device is checked against and the fast path on machines without a GPU.
///
/// The kernels exist once per instruction-set level (`CPUISA`); a device runs the level chosen at
/// its creation — by default `MEND_CPU_ISA` if set, else the best the CPU supports — so one binary
/// runs at full speed on any x86-64.
///
/// Not thread-safe: run one op at a time per device (ops parallelise internally).
public final class CPUDevice: Device, @unchecked Sendable {
  /// The kernels' instruction-set level.
  public let isa: CPUISA
  let backend: any CPUKernelBackend

  /// `isa` must be supported by this CPU (`CPUISA.isSupported`); nil takes `CPUISA.selected`.
  public init(threads: Int = ThreadSplitter.defaultThreads, isa: CPUISA? = nil) {
    let chosen = isa ?? CPUISA.selected
    precondition(chosen.isSupported, "CPU kernels \(chosen) are not supported on this CPU")
    self.isa = chosen
    backend = Self.backendType(chosen).init(threads: threads)
  }

  static func backendType(_ isa: CPUISA) -> any CPUKernelBackend.Type {
    #if arch(x86_64)
      switch isa {
      case .avx512: return CPUKernelsAVX512.CPUBackend.self
      case .avx2: return CPUKernelsAVX2.CPUBackend.self
      case .generic: return CPUKernelsGeneric.CPUBackend.self
      }
    #else
      return CPUKernelsGeneric.CPUBackend.self
    #endif
  }

  /// Buffers allocated so far (workspace growth included): steady-state loops allocate none.
  public var allocationCount: Int { backend.allocationCount }

  /// Which kernel a convolution op takes on `isa` (default: the selected level); nil for other ops.
  public static func convPath(_ op: Op, isa: CPUISA = .selected) -> CPUConvPath? {
    backendType(isa).convPath(op)
  }

  /// Whether a GEMM on `threads` threads of `isa`'s kernels splits its k between the threads.
  public static func gemmSplitsK(_ g: GemmDesc, threads: Int, isa: CPUISA = .selected) -> Bool {
    backendType(isa).gemmSplitsK(g, threads: threads)
  }

  /// Column budget of the im2col lowering (`ConvLowering.shape`).
  public static var loweringColumnBudget: Int { backendType(.generic).loweringColumnBudget }

  /// Register-only FMA throughput of `isa`'s kernels on this CPU, GFLOP/s over `threads` threads
  /// (a probe of about `seconds`): the ceiling benchmarks compare against.
  public static func fmaPeak(isa: CPUISA, threads: Int, seconds: Double = 0.2) -> Double {
    backendType(isa).fmaPeak(threads: threads, seconds: seconds)
  }

  public var name: String { backend.name }
  public var summary: String { backend.summary }
  public var threadCount: Int { backend.threadCount }
  public var memoryBudget: Int { backend.memoryBudget }
  public var activity: DeviceActivity? { backend.activity }
  public func makeBuffer(byteCount: Int) throws -> DeviceBuffer { try backend.makeBuffer(byteCount: byteCount) }
  public func write(_ bytes: UnsafeRawBufferPointer, to ref: TensorRef) throws { try backend.write(bytes, to: ref) }
  public func read(_ ref: TensorRef, into bytes: UnsafeMutableRawBufferPointer) throws { try backend.read(ref, into: bytes) }
  public func supports(_ op: Op) -> Bool { backend.supports(op) }
  public func run(_ op: Op, inputs: [TensorRef], outputs: [TensorRef]) throws {
    try backend.run(op, inputs: inputs, outputs: outputs)
  }
  public func synchronize() throws { try backend.synchronize() }
  public func workspace(byteCount: Int) throws -> DeviceBuffer { try backend.workspace(byteCount: byteCount) }
  public func declareConstant(_ buffer: DeviceBuffer) { backend.declareConstant(buffer) }
}
