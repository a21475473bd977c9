import CPURuntime

// This folder is compiled three times, once per instruction-set level (see Package.swift):
// CPUKernelsAVX512 (-target-cpu skylake-avx512), CPUKernelsAVX2 (haswell) and CPUKernelsGeneric
// (the baseline, with MEND_ISA_GENERIC). Code that differs by level branches on these flags.

#if MEND_ISA_AVX512
  let kernelISA = CPUISA.avx512
#elseif MEND_ISA_AVX2
  let kernelISA = CPUISA.avx2
#else
  let kernelISA = CPUISA.generic
#endif

extension SIMD where Scalar == Float {
  /// self += a · b. A fused multiply-add where the level has one; on the baseline, where LLVM would
  /// turn a fused `addProduct` into a library `fmaf` call per lane (~200× slower), a multiply and
  /// an add (x86-64's baseline has no FMA; aarch64's NEON fuses them anyway).
  @_transparent
  mutating func madd(_ a: Self, _ b: Self) {
    #if MEND_ISA_GENERIC && arch(x86_64)
      self += a * b
    #else
      self.addProduct(a, b)
    #endif
  }
}
