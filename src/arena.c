/* arena.c — bump allocator for one snapshot: rows and strings live in large
 * chunks (bigmem.c: pages populated at once) freed all at once, so a million
 * rows cost no per-row malloc. */
#include "aethertop/arena.h"
#include "aethertop/bigmem.h"

#include <stdlib.h>
#include <string.h>

#define AT_ARENA_CHUNK (1u << 20)

typedef struct at_chunk {
    struct at_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} at_chunk;

struct at_arena {
    at_chunk *head;
    size_t bytes;
};

at_arena *at_arena_new(void)
{
    return calloc(1, sizeof(at_arena));
}

void at_arena_free(at_arena *a)
{
    if (!a) return;
    at_chunk *c = a->head;
    while (c) {
        at_chunk *next = c->next;
        at_big_free(c, sizeof(at_chunk) + c->cap);
        c = next;
    }
    free(a);
}

void *at_arena_alloc(at_arena *a, size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > AT_ARENA_CHUNK / 4 ? n : AT_ARENA_CHUNK;
        at_chunk *c = at_big_alloc(sizeof(at_chunk) + cap);
        c->cap = cap;
        c->used = 0;
        if (cap == n && a->head) {
            /* a big one-off block: keep the current chunk in front */
            c->next = a->head->next;
            a->head->next = c;
            c->used = n;
            a->bytes += cap;
            return c->data;             /* fresh pages are zero */
        }
        c->next = a->head;
        a->head = c;
        a->bytes += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

char *at_arena_strndup(at_arena *a, const char *s, size_t n)
{
    char *p = at_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *at_arena_strdup(at_arena *a, const char *s)
{
    return s ? at_arena_strndup(a, s, strlen(s)) : NULL;
}

size_t at_arena_bytes(const at_arena *a)
{
    return a->bytes;
}
