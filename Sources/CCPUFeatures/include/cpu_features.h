#ifndef MEND_CPU_FEATURES_H
#define MEND_CPU_FEATURES_H
/// What the running CPU and OS support (CPUID with the OS's saved-register check), for choosing
/// kernels at run time. Each returns 1 or 0; always 0 on non-x86 builds.
int mend_cpu_has_avx2_fma(void);
/// AVX-512 F, CD, BW, DQ and VL: what `-target-cpu skylake-avx512` code may use.
int mend_cpu_has_avx512(void);
#endif
