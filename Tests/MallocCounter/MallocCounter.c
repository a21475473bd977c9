// Counts heap allocations in the test process (swift-nio's allocation-counter technique): these
// definitions in the test executable take precedence over glibc's for every library loaded into
// it, count the call, and forward to glibc's own implementation (__libc_*). Linux/glibc only;
// elsewhere the count stays 0 and the tests that use it skip the assertion with a notice.
#include "MallocCounter.h"
#include <errno.h>  // a glibc header first: it defines __GLIBC__
#include <stddef.h>

// Not under AddressSanitizer or ThreadSanitizer (Tools/sanitize.sh): their runtimes must own malloc.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MEND_SANITIZED 1
#endif
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(MEND_SANITIZED)
#include <stdatomic.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long counter;

long mend_malloc_count(void) { return atomic_load_explicit(&counter, memory_order_relaxed); }

void *malloc(size_t n) {
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}

void *memalign(size_t alignment, size_t n) {
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  return __libc_memalign(alignment, n);
}

void *aligned_alloc(size_t alignment, size_t n) {
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  return __libc_memalign(alignment, n);
}

int posix_memalign(void **out, size_t alignment, size_t n) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
  atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
  void *p = __libc_memalign(alignment, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
#else
long mend_malloc_count(void) { return 0; }
#endif
