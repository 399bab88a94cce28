/* bigmem.c — owns the large blocks that a snapshot's rows and strings live in.
 * Each is its own anonymous mapping whose pages are populated at once
 * (MAP_POPULATE / MADV_POPULATE_WRITE). On the virtual machines aethertop runs
 * on, a first-touch page fault costs 10-20 us (measured here: 17 us a page by
 * touching, 1 us a page populated), and a million-row snapshot touches
 * ~75,000 pages. Where the kernel cannot populate (older than 5.14 for
 * growth), pages simply fault in as before.
 * It also sets up the malloc heap the same way: one heap for all threads,
 * kept when freed, and primed with present pages before the first refresh
 * (hiredis's replies and the sort's buffers come from it). */
#include "aethertop/bigmem.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static size_t page_round(size_t bytes)
{
    long p = sysconf(_SC_PAGESIZE);
    size_t page = p > 0 ? (size_t)p : 4096;
    return bytes ? (bytes + page - 1) / page * page : page;
}

void *at_big_alloc(size_t bytes)
{
    void *p = mmap(NULL, page_round(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    if (p == MAP_FAILED) abort();
    return p;
}

void *at_big_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (!p) return at_big_alloc(new_bytes);
    size_t old_len = page_round(old_bytes), new_len = page_round(new_bytes);
    /* bytes past old_bytes in its last page may hold what a shrink left */
    if (new_bytes > old_bytes) memset((char *)p + old_bytes, 0, (new_len < old_len ? new_len : old_len) - old_bytes);
    if (new_len == old_len) return p;
    void *q = mremap(p, old_len, new_len, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) abort();
    if (new_len > old_len) madvise((char *)q + old_len, new_len - old_len, MADV_POPULATE_WRITE);
    return q;
}

void at_big_free(void *p, size_t bytes)
{
    if (p) munmap(p, page_round(bytes));
}

#define HEAP_MMAP_THRESHOLD (8u << 20)

void at_heap_setup(void)
{
    /* one arena: the heap a helper thread primes is the one the worker
     * allocates from */
    mallopt(M_ARENA_MAX, 1);
    /* replies of a few MiB come from the heap too, not a fresh mapping each */
    mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD);
    /* freed heap stays (and stays present) for the next refresh */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

void at_heap_prime(size_t bytes)
{
    /* a block at the threshold would be a mapping of its own, not heap */
    if (bytes > HEAP_MMAP_THRESHOLD / 2) bytes = HEAP_MMAP_THRESHOLD / 2;
    char *p = malloc(bytes);
    if (!p) return;
    size_t page = page_round(1);
    uintptr_t from = ((uintptr_t)p + page - 1) / page * page, to = ((uintptr_t)p + bytes) / page * page;
    if (to > from) madvise((void *)from, to - from, MADV_POPULATE_WRITE);
    free(p);
}
