#ifndef MEND_PREFETCH_H
#define MEND_PREFETCH_H
/// Hints to bring the cache line holding `p` close before it is written (the micro-kernels'
/// C tiles) or read. Never faults; a no-op where the compiler has no prefetch instruction. Static inline,
/// so the Swift kernels that import it inline a single instruction.
static inline void mend_prefetch_for_write(const void *p) { __builtin_prefetch(p, 1, 3); }
/// The same for a line about to be read (the Winograd input transform's next channel).
static inline void mend_prefetch_for_read(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
