/* fuzz_util.h — helpers shared by the libFuzzer targets: exact-size copies of
 * the input (so ASan sees every over-read), NUL-terminated text, splitting
 * "first part\nsecond part", and a property check that aborts. */
#ifndef AETHERTOP_FUZZ_UTIL_H
#define AETHERTOP_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of data[0..n) with a NUL after it (n + 1 bytes). */
static inline char *fz_dup(const uint8_t *data, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) abort();
    if (n) memcpy(p, data, n);
    p[n] = '\0';
    return p;
}

/* Split at the first newline: a, alen the part before; b, blen the part after
 * (b NULL when there is no '\n'). Both are fresh NUL-terminated copies. */
static inline void fz_split(const uint8_t *data, size_t size, char **a, size_t *alen, char **b, size_t *blen)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - data) : size;
    *a = fz_dup(data, n);
    *alen = n;
    if (nl) {
        *blen = size - n - 1;
        *b = fz_dup(nl + 1, *blen);
    } else {
        *b = NULL;
        *blen = 0;
    }
}

/* A broken property: report it and abort (libFuzzer saves the input). */
#define FZ_CHECK(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* True when s (n bytes) holds no C0 control except none allowed, no DEL and
 * no C1 control (as UTF-8: C2 80..C2 9F). */
static inline int fz_no_controls(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F) return 0;
        if (p[i] == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) return 0;
    }
    return 1;
}

#endif
