/* arena.c — bump allocator for one snapshot: rows and strings live in large
 * chunks (bigmem.c: pages populated at once) freed all at once, so a million
 * rows cost no per-row malloc. */
#include "aethertop/arena.h"
#include "aethertop/bigmem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A small arena (a clear's batch, a cache) stays in one malloc'd chunk;
 * one that grows past it gets chunks of 1 MiB (mapping included) from
 * bigmem, their pages populated at once. */
#define AT_ARENA_FIRST_CHUNK (64u << 10)
#define AT_ARENA_CHUNK ((1u << 20) - sizeof(at_chunk))

typedef struct at_chunk {
    struct at_chunk *next;
    size_t used, cap;
    bool big;                   /* from at_big_alloc (else malloc) */
    _Alignas(16) unsigned char data[];
} at_chunk;

static at_chunk *chunk_new(size_t cap)
{
    at_chunk *c;
    bool big = cap >= AT_ARENA_CHUNK;
    if (big) {
        c = at_big_alloc(sizeof(at_chunk) + cap);   /* fresh pages are zero */
    } else {
        c = malloc(sizeof(at_chunk) + cap);
        if (!c) abort();
    }
    c->next = NULL;
    c->used = 0;
    c->cap = cap;
    c->big = big;
    return c;
}

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
        if (c->big) at_big_free(c, sizeof(at_chunk) + c->cap);
        else free(c);
        c = next;
    }
    free(a);
}

void *at_arena_alloc(at_arena *a, size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > AT_ARENA_CHUNK / 4 ? n : a->head ? AT_ARENA_CHUNK : AT_ARENA_FIRST_CHUNK;
        if (cap < n) cap = n;
        at_chunk *c = chunk_new(cap);
        if (cap == n && a->head) {
            /* a big one-off block: keep the current chunk in front */
            c->next = a->head->next;
            a->head->next = c;
            c->used = n;
            a->bytes += cap;
            memset(c->data, 0, n);
            return c->data;
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
