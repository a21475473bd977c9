#ifndef MALLOC_COUNTER_H
#define MALLOC_COUNTER_H
/// Heap allocations made by this process so far (malloc, calloc, realloc, posix_memalign,
/// aligned_alloc, memalign), counted by interposing those functions in the test executable.
/// Tests take differences of it around a loop to prove the loop allocates nothing.
long mend_malloc_count(void);
#endif
