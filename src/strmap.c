/* strmap.c — open-addressing string hash map (linear probing, FNV-1a) and
 * the interning table built on it. */
#include "aethertop/strmap.h"
#include "aethertop/arena.h"

#include <stdlib.h>
#include <string.h>

uint32_t at_strhash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h ? h : 1u;
}

void at_strmap_init(at_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void at_strmap_free(at_strmap *m)
{
    free(m->keys);
    free(m->hashes);
    free(m->values);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const at_strmap *m, const char *s, size_t len, uint32_t h)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->hashes[i]) {
        if (m->hashes[i] == h && strncmp(m->keys[i], s, len) == 0 && m->keys[i][len] == '\0')
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static void grow(at_strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    at_strmap n = {0};
    n.cap = ncap;
    n.keys = calloc(ncap, sizeof *n.keys);
    n.hashes = calloc(ncap, sizeof *n.hashes);
    n.values = calloc(ncap, sizeof *n.values);
    if (!n.keys || !n.hashes || !n.values) abort();
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hashes[i]) continue;
        size_t j = m->hashes[i] & (ncap - 1);
        while (n.hashes[j]) j = (j + 1) & (ncap - 1);
        n.hashes[j] = m->hashes[i];
        n.keys[j] = m->keys[i];
        n.values[j] = m->values[i];
    }
    n.n = m->n;
    at_strmap_free(m);
    *m = n;
}

const char *at_strmap_find(const at_strmap *m, const char *s, size_t len, int32_t *value)
{
    if (!m->cap) return NULL;
    size_t i = slot_of(m, s, len, at_strhash(s, len));
    if (!m->hashes[i]) return NULL;
    if (value) *value = m->values[i];
    return m->keys[i];
}

int32_t at_strmap_get(const at_strmap *m, const char *key)
{
    int32_t v = -1;
    if (!key) return -1;
    return at_strmap_find(m, key, strlen(key), &v) ? v : -1;
}

static void put_len(at_strmap *m, const char *key, size_t len, int32_t value)
{
    if ((m->n + 1) * 4 >= m->cap * 3) grow(m);
    uint32_t h = at_strhash(key, len);
    size_t i = slot_of(m, key, len, h);
    if (!m->hashes[i]) {
        m->hashes[i] = h;
        m->keys[i] = key;
        m->n++;
    }
    m->values[i] = value;
}

void at_strmap_put(at_strmap *m, const char *key, int32_t value)
{
    put_len(m, key, strlen(key), value);
}

void at_interner_init(at_interner *in, struct at_arena *arena)
{
    at_strmap_init(&in->map);
    in->arena = arena;
}

void at_interner_free(at_interner *in)
{
    at_strmap_free(&in->map);
}

const char *at_intern(at_interner *in, const char *s, size_t len)
{
    const char *found = at_strmap_find(&in->map, s, len, NULL);
    if (found) return found;
    char *copy = at_arena_strndup(in->arena, s, len);
    put_len(&in->map, copy, len, 0);
    return copy;
}

/* ---- pointer map ---------------------------------------------------------- */

static size_t ptr_slot(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & mask;
}

void at_ptrmap_init(at_ptrmap *m)
{
    memset(m, 0, sizeof *m);
}

void at_ptrmap_free(at_ptrmap *m)
{
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

int32_t at_ptrmap_get(const at_ptrmap *m, const void *key)
{
    if (!m->cap || !key) return -1;
    for (size_t i = ptr_slot(key, m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) return m->values[i];
        if (!m->keys[i]) return -1;
    }
}

void at_ptrmap_put(at_ptrmap *m, const void *key, int32_t value)
{
    if (!key) return;
    if ((m->n + 1) * 2 >= m->cap) {
        at_ptrmap n = {0};
        n.cap = m->cap ? m->cap * 2 : 64;
        n.keys = calloc(n.cap, sizeof *n.keys);
        n.values = calloc(n.cap, sizeof *n.values);
        if (!n.keys || !n.values) abort();
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) at_ptrmap_put(&n, m->keys[i], m->values[i]);
        at_ptrmap_free(m);
        *m = n;
    }
    size_t i = ptr_slot(key, m->cap - 1);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) { m->keys[i] = key; m->n++; }
    m->values[i] = value;
}
