/* bigmem.h — large blocks (arena chunks, a snapshot's row array) whose
 * pages are made present in one call when they are mapped or grown, instead
 * of one page fault per 4 KiB on first touch. */
#ifndef AETHERTOP_BIGMEM_H
#define AETHERTOP_BIGMEM_H

#include <stddef.h>

/* Zeroed block of at least bytes; aborts when memory runs out (as the
 * arena's malloc did). Free with the same byte count. */
void *at_big_alloc(size_t bytes);
/* Grow or shrink a block (may move it); new bytes are zeroed. p may be NULL. */
void *at_big_realloc(void *p, size_t old_bytes, size_t new_bytes);
void at_big_free(void *p, size_t bytes);

/* Before any thread starts: one malloc arena for all threads, blocks under
 * 8 MiB from the heap, up to 64 MiB of freed heap kept. */
void at_heap_setup(void);
/* Make the next `bytes` (at most 4 MiB) of the heap present now (one call,
 * about 1 us a page) rather than one page fault at a time (about 17 us each
 * here). Any thread may call it, after at_heap_setup. */
void at_heap_prime(size_t bytes);

#endif
