// An AVX2-only CPU on an AVX-512 machine, for one process: LD_PRELOAD this library and every CPUID
// the process executes reports no AVX-512 (F, CD, BW, DQ, VL, IFMA, VBMI, VBMI2, VNNI, BITALG,
// VPOPCNTDQ, FP16, BF16, 4VNNIW/4FMAPS, VP2INTERSECT), no AMX and no AVX-VNNI: a Haswell/Zen 3
// feature set on the same cores. Runtime-dispatching libraries (onnxruntime's MLAS, oneDNN,
// OpenBLAS DYNAMIC_ARCH, mend) then choose their AVX2 kernels, so they can be compared with each
// other on AVX2 code without an AVX2-only machine.
//
// How: Linux's CPUID faulting (arch_prctl(ARCH_SET_CPUID, 0); needs the cpuid_fault CPU flag, listed
// in /proc/cpuinfo) makes CPUID trap with SIGSEGV; the handler runs the real CPUID with faulting
// briefly off, clears the bits above and steps over the instruction. Threads inherit the setting.
// Handlers the program installs for SIGSEGV are kept and called for every other fault. Limits:
// code that ran CPUID before this library's constructor (the dynamic loader's own checks, so glibc's
// string functions may still use AVX-512) is not affected; XGETBV still reports the ZMM state
// enabled, which no feature check uses without the CPUID bits.
//
//   cc -O2 -shared -fPIC -o /tmp/cpuid-avx2-only.so Tools/avx2-only/cpuid-avx2-only.c -ldl
//   LD_PRELOAD=/tmp/cpuid-avx2-only.so COMMAND...
//   MEND_CPUID_SHIM_REQUIRE=1: exit 3 with a message if CPUID faulting is unavailable (else a warning)
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_SET_CPUID
#define ARCH_SET_CPUID 0x1012
#endif

static struct sigaction next_segv;  // the program's own SIGSEGV handler, if it installs one
static int active;
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;

static void mask(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
  (void)a;
  if (leaf == 7 && sub == 0) {
    *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
    *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
    *d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
  } else if (leaf == 7 && sub == 1) {
    *a &= ~((1u << 4) | (1u << 5));  // AVX-VNNI, AVX512_BF16
  }
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
  ucontext_t *uc = ctx;
  const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];
  if (info->si_code == SI_KERNEL && ip[0] == 0x0F && ip[1] == 0xA2) {
    uint32_t leaf = (uint32_t)uc->uc_mcontext.gregs[REG_RAX], sub = (uint32_t)uc->uc_mcontext.gregs[REG_RCX];
    uint32_t a, b, c, d;
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    __cpuid_count(leaf, sub, a, b, c, d);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    mask(leaf, sub, &a, &b, &c, &d);
    uc->uc_mcontext.gregs[REG_RAX] = a;
    uc->uc_mcontext.gregs[REG_RBX] = b;
    uc->uc_mcontext.gregs[REG_RCX] = c;
    uc->uc_mcontext.gregs[REG_RDX] = d;
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    return;
  }
  // Not ours: hand it to the program's handler, or die of it as the program would have.
  if (next_segv.sa_flags & SA_SIGINFO) {
    if (next_segv.sa_sigaction) { next_segv.sa_sigaction(sig, info, ctx); return; }
  } else if (next_segv.sa_handler != SIG_DFL && next_segv.sa_handler != SIG_IGN) {
    next_segv.sa_handler(sig);
    return;
  }
  struct sigaction dfl = {0};
  dfl.sa_handler = SIG_DFL;
  real_sigaction(SIGSEGV, &dfl, NULL);  // returning re-executes the faulting instruction: default death
}

// Keep our handler first when the program installs its own (Swift's backtracer, Python's faulthandler).
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  if (sig != SIGSEGV || !active) return real_sigaction(sig, act, old);
  if (old) *old = next_segv;
  if (act) next_segv = *act;
  return 0;
}

__attribute__((constructor)) static void start(void) {
  real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  struct sigaction sa = {0};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  real_sigaction(SIGSEGV, &sa, &next_segv);
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    real_sigaction(SIGSEGV, &next_segv, NULL);
    const char *msg = "cpuid-avx2-only: CPUID faulting is not available here (no cpuid_fault flag); CPUID is not masked\n";
    if (write(2, msg, strlen(msg)) < 0) {}
    if (getenv("MEND_CPUID_SHIM_REQUIRE")) _exit(3);
    return;
  }
  active = 1;
}
