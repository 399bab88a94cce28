/* tools/sim.c — aethertop-sim, the gateway simulator. Owns writing
 * gateway-shaped data the way the Aether gateway does: `seed` fills
 * PostgreSQL (users, API keys, providers, endpoints, provider keys, models,
 * system configs, usage) and Redis (cache affinities, model-mapping cache);
 * `traffic` keeps rewriting affinities at a steady rate (reuse, new, switch),
 * like the gateway's cache-affinity manager under load.
 * Plain hiredis (pipelined) and libpq (COPY for bulk tables). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "aethertop/secret.h"

#define PROG "aethertop-sim"
#define AFF_PREFIX "cache_affinity:"
#define MAPPING_TTL 300
#define REDIS_BATCH 1000
#define POOL_MAX 200000

/* ------------------------------------------------------------------ basics */

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try '" PROG " --help')\n", stderr);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

__attribute__((format(printf, 1, 2))) static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) die("formatting failed");
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* The first line of a (libpq/hiredis) message, without the newline. */
static const char *one_line(const char *msg, char *buf, size_t len)
{
    if (!msg) msg = "unknown error";
    size_t n = strcspn(msg, "\r\n");
    if (n >= len) n = len - 1;
    memcpy(buf, msg, n);
    buf[n] = 0;
    return buf;
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) die("formatting failed");
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* A JSON string the way Python's json.dumps writes it (ensure_ascii: every
 * non-ASCII code point as \uXXXX, astral ones as surrogate pairs). */
static void sb_json_str(sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    sb_putc(b, '"');
    while (*p) {
        const unsigned char *run = p; /* copy plain ASCII in one go */
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p > run) sb_putn(b, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        unsigned c = *p;
        if (c == '"') { sb_puts(b, "\\\""); p++; continue; }
        if (c == '\\') { sb_puts(b, "\\\\"); p++; continue; }
        if (c == '\n') { sb_puts(b, "\\n"); p++; continue; }
        if (c == '\r') { sb_puts(b, "\\r"); p++; continue; }
        if (c == '\t') { sb_puts(b, "\\t"); p++; continue; }
        if (c == '\b') { sb_puts(b, "\\b"); p++; continue; }
        if (c == '\f') { sb_puts(b, "\\f"); p++; continue; }
        if (c < 0x20) { sb_printf(b, "\\u%04x", c); p++; continue; }
        if (c < 0x80) { sb_putc(b, (char)c); p++; continue; }
        /* decode one UTF-8 sequence; anything malformed becomes U+FFFD */
        uint32_t cp = 0xFFFD;
        size_t need = c >= 0xF0 && c < 0xF5 ? 3 : c >= 0xE0 ? (c < 0xF0 ? 2 : 0) : c >= 0xC2 ? 1 : 0;
        size_t used = 1;
        if (need) {
            uint32_t v = c & (0x3Fu >> need);
            size_t i;
            for (i = 1; i <= need && (p[i] & 0xC0) == 0x80; i++) v = (v << 6) | (p[i] & 0x3Fu);
            if (i == need + 1 && !(need == 2 && v < 0x800) && !(need == 3 && v < 0x10000) &&
                !(v >= 0xD800 && v <= 0xDFFF) && v <= 0x10FFFF) {
                cp = v;
                used = need + 1;
            }
        }
        if (cp >= 0x10000) {
            uint32_t u = cp - 0x10000;
            sb_printf(b, "\\u%04x\\u%04x", 0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF));
        } else {
            sb_printf(b, "\\u%04x", cp);
        }
        p += used;
    }
    sb_putc(b, '"');
}

/* ------------------------------------------------------------- randomness */

static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

static double rnd_unit(void) { return (double)(rnd() >> 11) * 0x1.0p-53; }

static void gen_uuid(char out[37])
{
    uint8_t b[16];
    uint64_t a = rnd(), c = rnd();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static void gen_token(char *out, size_t n)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++) out[i] = alnum[rnd_below(sizeof alnum - 1)];
    out[n] = 0;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        die("SHA-256 failed");
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ------------------------------------------------------------ string map */

typedef struct {
    const char **keys; /* not owned */
    int *vals;
    size_t cap, n;
} smap;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void smap_put(smap *m, const char *k, int v);

static void smap_grow(smap *m)
{
    smap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->n = 0;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) smap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

/* Insert or overwrite. */
static void smap_put(smap *m, const char *k, int v)
{
    if ((m->n + 1) * 2 > m->cap) smap_grow(m);
    size_t i = (size_t)str_hash(k) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], k) != 0) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->n++;
    m->keys[i] = k;
    m->vals[i] = v;
}

static int smap_get(const smap *m, const char *k)
{
    if (!m->cap || !k) return -1;
    size_t i = (size_t)str_hash(k) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], k) == 0) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

static void smap_free(smap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------- the world */

/* What both modes need to know about the gateway's configuration: which
 * (api_format, global model) pairs can be served by which endpoints and keys. */
typedef struct { char *id, *name; } prov_t;
typedef struct { char *id; int prov, fmt, key_off, key_n; } ep_t;
typedef struct { char *id; int ep, ttl; } pk_t;
typedef struct { char *id, *name, *display; } gm_t;
typedef struct { char *id, *pname, *mappings_json; int prov, gm; } md_t;
typedef struct { char *id, *user_id; } ak_t;
typedef struct { int fmt, gm, cand_off, cand_n, combos; } pair_t;

typedef struct {
    char **fmts;  size_t n_fmts;
    prov_t *prov; size_t n_prov;
    ep_t *ep;     size_t n_ep;
    pk_t *pk;     size_t n_pk;
    gm_t *gm;     size_t n_gm;
    md_t *md;     size_t n_md;
    ak_t *ak;     size_t n_ak;
    int *ep_keys;        /* usable provider keys (ttl > 0), grouped by endpoint */
    int *prov_ep_off, *prov_ep_n, *prov_eps; /* endpoints grouped by provider */
    pair_t *pair; size_t n_pair;
    int *cands;          /* endpoints serving each pair, grouped by pair */
    int *pair_of;        /* [fmt * n_gm + gm] -> pair index or -1 */
    smap fmt_ix, prov_ix, ep_ix, pk_ix, gm_ix, ak_ix;
} world_t;

#define PUSH(arr, n, item)                                                   \
    do {                                                                     \
        (arr) = xrealloc((arr), ((n) + 1) * sizeof *(arr));                  \
        (arr)[(n)++] = (item);                                               \
    } while (0)

static int world_fmt(world_t *w, const char *name)
{
    int i = smap_get(&w->fmt_ix, name);
    if (i >= 0) return i;
    PUSH(w->fmts, w->n_fmts, xstrdup(name));
    smap_put(&w->fmt_ix, w->fmts[w->n_fmts - 1], (int)w->n_fmts - 1);
    return (int)w->n_fmts - 1;
}

static int world_add_prov(world_t *w, const char *id, const char *name)
{
    prov_t p = {xstrdup(id), xstrdup(name)};
    PUSH(w->prov, w->n_prov, p);
    smap_put(&w->prov_ix, w->prov[w->n_prov - 1].id, (int)w->n_prov - 1);
    return (int)w->n_prov - 1;
}

static int world_add_ep(world_t *w, const char *id, int prov, int fmt)
{
    ep_t e = {xstrdup(id), prov, fmt, 0, 0};
    PUSH(w->ep, w->n_ep, e);
    smap_put(&w->ep_ix, w->ep[w->n_ep - 1].id, (int)w->n_ep - 1);
    return (int)w->n_ep - 1;
}

static int world_add_pk(world_t *w, const char *id, int ep, int ttl)
{
    pk_t k = {xstrdup(id), ep, ttl};
    PUSH(w->pk, w->n_pk, k);
    smap_put(&w->pk_ix, w->pk[w->n_pk - 1].id, (int)w->n_pk - 1);
    return (int)w->n_pk - 1;
}

static int world_add_gm(world_t *w, const char *id, const char *name, const char *display)
{
    gm_t g = {xstrdup(id), xstrdup(name), xstrdup(display ? display : name)};
    PUSH(w->gm, w->n_gm, g);
    smap_put(&w->gm_ix, w->gm[w->n_gm - 1].id, (int)w->n_gm - 1);
    return (int)w->n_gm - 1;
}

static int world_add_md(world_t *w, const char *id, int prov, int gm, const char *pname,
                        const char *mappings_json)
{
    md_t m = {xstrdup(id), xstrdup(pname), mappings_json ? xstrdup(mappings_json) : NULL, prov,
              gm};
    PUSH(w->md, w->n_md, m);
    return (int)w->n_md - 1;
}

static int world_add_ak(world_t *w, const char *id, const char *user_id)
{
    ak_t a = {xstrdup(id), xstrdup(user_id)};
    PUSH(w->ak, w->n_ak, a);
    smap_put(&w->ak_ix, w->ak[w->n_ak - 1].id, (int)w->n_ak - 1);
    return (int)w->n_ak - 1;
}

/* Build the derived indexes once endpoints, keys and models are known. */
static void world_finish(world_t *w)
{
    /* usable keys per endpoint */
    free(w->ep_keys);
    w->ep_keys = xcalloc(w->n_pk, sizeof *w->ep_keys);
    for (size_t e = 0; e < w->n_ep; e++) w->ep[e].key_n = 0;
    for (size_t k = 0; k < w->n_pk; k++)
        if (w->pk[k].ttl > 0) w->ep[w->pk[k].ep].key_n++;
    int off = 0;
    for (size_t e = 0; e < w->n_ep; e++) {
        w->ep[e].key_off = off;
        off += w->ep[e].key_n;
        w->ep[e].key_n = 0;
    }
    for (size_t k = 0; k < w->n_pk; k++) {
        if (w->pk[k].ttl <= 0) continue;
        ep_t *e = &w->ep[w->pk[k].ep];
        w->ep_keys[e->key_off + e->key_n++] = (int)k;
    }
    /* endpoints per provider */
    free(w->prov_ep_off);
    free(w->prov_ep_n);
    free(w->prov_eps);
    w->prov_ep_off = xcalloc(w->n_prov, sizeof(int));
    w->prov_ep_n = xcalloc(w->n_prov, sizeof(int));
    w->prov_eps = xcalloc(w->n_ep, sizeof(int));
    for (size_t e = 0; e < w->n_ep; e++) w->prov_ep_n[w->ep[e].prov]++;
    off = 0;
    for (size_t p = 0; p < w->n_prov; p++) {
        w->prov_ep_off[p] = off;
        off += w->prov_ep_n[p];
        w->prov_ep_n[p] = 0;
    }
    for (size_t e = 0; e < w->n_ep; e++) {
        int p = w->ep[e].prov;
        w->prov_eps[w->prov_ep_off[p] + w->prov_ep_n[p]++] = (int)e;
    }
    /* (format, global model) pairs and the endpoints that can serve them */
    size_t np = w->n_prov, ng = w->n_gm, nf = w->n_fmts;
    bool *impl = xcalloc(np * ng, sizeof *impl);
    for (size_t m = 0; m < w->n_md; m++) impl[(size_t)w->md[m].prov * ng + (size_t)w->md[m].gm] = true;
    free(w->pair_of);
    free(w->pair);
    free(w->cands);
    w->pair_of = xmalloc((nf * ng + 1) * sizeof(int));
    for (size_t i = 0; i < nf * ng; i++) w->pair_of[i] = -1;
    int *cnt = xcalloc(nf * ng, sizeof(int));
    size_t total = 0;
    for (size_t g = 0; g < ng; g++)
        for (size_t e = 0; e < w->n_ep; e++)
            if (w->ep[e].key_n > 0 && impl[(size_t)w->ep[e].prov * ng + g]) {
                cnt[(size_t)w->ep[e].fmt * ng + g]++;
                total++;
            }
    w->n_pair = 0;
    w->pair = NULL;
    for (size_t f = 0; f < nf; f++)
        for (size_t g = 0; g < ng; g++)
            if (cnt[f * ng + g]) {
                pair_t pr = {(int)f, (int)g, 0, 0, 0};
                PUSH(w->pair, w->n_pair, pr);
                w->pair_of[f * ng + g] = (int)w->n_pair - 1;
            }
    w->cands = xcalloc(total, sizeof(int));
    off = 0;
    for (size_t i = 0; i < w->n_pair; i++) {
        pair_t *pr = &w->pair[i];
        pr->cand_off = off;
        off += cnt[(size_t)pr->fmt * ng + (size_t)pr->gm];
    }
    for (size_t g = 0; g < ng; g++)
        for (size_t e = 0; e < w->n_ep; e++)
            if (w->ep[e].key_n > 0 && impl[(size_t)w->ep[e].prov * ng + g]) {
                pair_t *pr = &w->pair[w->pair_of[(size_t)w->ep[e].fmt * ng + g]];
                w->cands[pr->cand_off + pr->cand_n++] = (int)e;
                pr->combos += w->ep[e].key_n;
            }
    free(cnt);
    free(impl);
}

static void world_free(world_t *w)
{
    for (size_t i = 0; i < w->n_fmts; i++) free(w->fmts[i]);
    for (size_t i = 0; i < w->n_prov; i++) { free(w->prov[i].id); free(w->prov[i].name); }
    for (size_t i = 0; i < w->n_ep; i++) free(w->ep[i].id);
    for (size_t i = 0; i < w->n_pk; i++) free(w->pk[i].id);
    for (size_t i = 0; i < w->n_gm; i++) {
        free(w->gm[i].id); free(w->gm[i].name); free(w->gm[i].display);
    }
    for (size_t i = 0; i < w->n_md; i++) {
        free(w->md[i].id); free(w->md[i].pname); free(w->md[i].mappings_json);
    }
    for (size_t i = 0; i < w->n_ak; i++) { free(w->ak[i].id); free(w->ak[i].user_id); }
    free(w->fmts); free(w->prov); free(w->ep); free(w->pk); free(w->gm); free(w->md);
    free(w->ak); free(w->ep_keys); free(w->prov_ep_off); free(w->prov_ep_n);
    free(w->prov_eps); free(w->pair); free(w->cands); free(w->pair_of);
    smap_free(&w->fmt_ix); smap_free(&w->prov_ix); smap_free(&w->ep_ix);
    smap_free(&w->pk_ix); smap_free(&w->gm_ix); smap_free(&w->ak_ix);
    memset(w, 0, sizeof *w);
}

/* Pick an endpoint and one of its usable keys for a pair. */
static void pick_route(const world_t *w, const pair_t *pr, int *ep, int *pk)
{
    *ep = w->cands[pr->cand_off + (int)rnd_below((uint64_t)pr->cand_n)];
    const ep_t *e = &w->ep[*ep];
    *pk = w->ep_keys[e->key_off + (int)rnd_below((uint64_t)e->key_n)];
}

/* --------------------------------------------------------------- Redis */

typedef struct {
    char *host, *path, *user, *pass;
    int port, db;
} redis_url;

static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned hi, lo;
        if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%1x%1x", &hi, &lo) == 2) {
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return out;
}

static bool parse_int_range(const char *s, size_t n, long lo, long hi, long *out)
{
    if (n == 0 || n > 18) return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* redis://[user[:password]@]host[:port][/db][?db=N] or unix:///path[?db=N]. */
static void redis_url_parse(const char *url, redis_url *u)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    const char *rest;
    bool is_unix = false;
    if (strncmp(url, "redis://", 8) == 0) rest = url + 8;
    else if (strncmp(url, "unix://", 7) == 0) { rest = url + 7; is_unix = true; }
    else if (strncmp(url, "rediss://", 9) == 0)
        usage_error("--redis: TLS (rediss://) is not supported by the simulator");
    else usage_error("--redis: expected redis://host[:port][/db] or unix:///path, got '%s'", url);

    const char *query = strchr(rest, '?');
    const char *end = query ? query : rest + strlen(rest);
    long v;
    if (query) {
        const char *q = query + 1;
        while (*q) {
            size_t n = strcspn(q, "&");
            if (n > 3 && strncmp(q, "db=", 3) == 0) {
                if (!parse_int_range(q + 3, n - 3, 0, 1 << 20, &v))
                    usage_error("--redis: bad db number in '%s'", url);
                u->db = (int)v;
            }
            q += n;
            if (*q) q++;
        }
    }
    if (is_unix) {
        if (end == rest) usage_error("--redis: unix:// URL without a socket path");
        u->path = pct_decode(rest, (size_t)(end - rest));
        return;
    }
    const char *slash = memchr(rest, '/', (size_t)(end - rest));
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *p = rest; p < auth_end; p++)
        if (*p == '@') at = p;
    const char *hp = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon) {
            if (colon > rest) u->user = pct_decode(rest, (size_t)(colon - rest));
            u->pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
        } else if (at > rest) {
            u->pass = pct_decode(rest, (size_t)(at - rest)); /* redis://secret@host */
        }
        hp = at + 1;
    }
    const char *host_end = auth_end;
    const char *port_colon = NULL;
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(auth_end - hp));
        if (!rb) usage_error("--redis: bad IPv6 host in '%s'", url);
        u->host = pct_decode(hp + 1, (size_t)(rb - hp - 1));
        if (rb + 1 < auth_end && rb[1] == ':') port_colon = rb + 1;
    } else {
        port_colon = memchr(hp, ':', (size_t)(auth_end - hp));
        host_end = port_colon ? port_colon : auth_end;
        u->host = hp == host_end ? xstrdup("localhost") : pct_decode(hp, (size_t)(host_end - hp));
    }
    if (port_colon && port_colon + 1 < auth_end) {
        if (!parse_int_range(port_colon + 1, (size_t)(auth_end - port_colon - 1), 1, 65535, &v))
            usage_error("--redis: bad port in '%s'", url);
        u->port = (int)v;
    }
    if (slash && slash + 1 < end) {
        if (!parse_int_range(slash + 1, (size_t)(end - slash - 1), 0, 1 << 20, &v))
            usage_error("--redis: bad db number in '%s'", url);
        u->db = (int)v;
    }
}

static void redis_url_free(redis_url *u)
{
    free(u->host); free(u->path); free(u->user); free(u->pass);
}

static char redis_where[300];

static void redis_check(redisContext *c, redisReply *r, const char *what)
{
    char buf[256];
    if (!r) die("Redis %s failed (%s): %s", what, redis_where, one_line(c->errstr, buf, sizeof buf));
    if (r->type == REDIS_REPLY_ERROR) {
        one_line(r->str, buf, sizeof buf);
        freeReplyObject(r);
        die("Redis %s failed (%s): %s", what, redis_where, buf);
    }
}

static redisContext *redis_open(const char *url)
{
    redis_url u;
    redis_url_parse(url, &u);
    struct timeval tv = {5, 0};
    redisContext *c;
    if (u.path) {
        snprintf(redis_where, sizeof redis_where, "unix:%s db %d", u.path, u.db);
        c = redisConnectUnixWithTimeout(u.path, tv);
    } else {
        snprintf(redis_where, sizeof redis_where, "%s:%d/%d", u.host, u.port, u.db);
        c = redisConnectWithTimeout(u.host, u.port, tv);
    }
    if (!c) die("cannot connect to Redis at %s: out of memory", redis_where);
    if (c->err) {
        char buf[256];
        one_line(c->errstr, buf, sizeof buf);
        redisFree(c);
        die("cannot connect to Redis at %s: %s", redis_where, buf);
    }
    struct timeval cmd_tv = {60, 0};
    redisSetTimeout(c, cmd_tv);
    redisReply *r;
    if (u.pass) {
        r = u.user ? redisCommand(c, "AUTH %s %s", u.user, u.pass) : redisCommand(c, "AUTH %s", u.pass);
        redis_check(c, r, "AUTH");
        freeReplyObject(r);
    }
    if (u.db) {
        r = redisCommand(c, "SELECT %d", u.db);
        redis_check(c, r, "SELECT");
        freeReplyObject(r);
    }
    redis_url_free(&u);
    return c;
}

/* Pipelining: queue pre-formatted commands, read all replies every batch. */
typedef struct {
    redisContext *c;
    size_t pending;
    sbuf cmd;
    long long sent;
} rpipe;

static void rp_read(rpipe *p, size_t keep);
static void rp_drain(rpipe *p) { rp_read(p, 0); }

/* Read replies until at most `keep` are outstanding. */
static void rp_read(rpipe *p, size_t keep)
{
    while (p->pending > keep) {
        void *rv = NULL;
        if (redisGetReply(p->c, &rv) != REDIS_OK) redis_check(p->c, NULL, "pipeline");
        redisReply *r = rv;
        redis_check(p->c, r, "write");
        freeReplyObject(r);
        p->pending--;
    }
}

static size_t fmt_ulong(char *out, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* Queue one command given as argv (binary-safe), formatted as RESP. Keeps
 * two batches in flight: Redis works on one while we send the next. */
static void rp_cmd(rpipe *p, int argc, const char *const *argv, const size_t *lens)
{
    size_t need = 16;
    for (int i = 0; i < argc; i++) need += lens[i] + 24;
    p->cmd.len = 0;
    sb_reserve(&p->cmd, need);
    char *o = p->cmd.p;
    *o++ = '*';
    o += fmt_ulong(o, (unsigned long long)argc);
    *o++ = '\r';
    *o++ = '\n';
    for (int i = 0; i < argc; i++) {
        *o++ = '$';
        o += fmt_ulong(o, lens[i]);
        *o++ = '\r';
        *o++ = '\n';
        memcpy(o, argv[i], lens[i]);
        o += lens[i];
        *o++ = '\r';
        *o++ = '\n';
    }
    p->cmd.len = (size_t)(o - p->cmd.p);
    if (redisAppendFormattedCommand(p->c, p->cmd.p, p->cmd.len) != REDIS_OK)
        redis_check(p->c, NULL, "pipeline");
    p->pending++;
    p->sent++;
    if (p->pending >= 2 * REDIS_BATCH) rp_read(p, REDIS_BATCH);
}

static void rp_setex(rpipe *p, const char *key, long ttl, const char *val, size_t vlen)
{
    char ttlbuf[32];
    snprintf(ttlbuf, sizeof ttlbuf, "%ld", ttl < 1 ? 1 : ttl);
    const char *argv[4] = {"SETEX", key, ttlbuf, val};
    size_t lens[4] = {5, strlen(key), strlen(ttlbuf), vlen};
    rp_cmd(p, 4, argv, lens);
}

/* ------------------------------------------------------------ PostgreSQL */

static PGconn *pg_open(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (!c) die("cannot connect to PostgreSQL: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        char buf[300];
        one_line(PQerrorMessage(c), buf, sizeof buf);
        PQfinish(c);
        die("cannot connect to PostgreSQL: %s", buf);
    }
    PQsetClientEncoding(c, "UTF8");
    return c;
}

static void pg_exec(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char buf[400];
        one_line(PQresultErrorMessage(r), buf, sizeof buf);
        PQclear(r);
        die("PostgreSQL: %s failed: %s", what, buf);
    }
    PQclear(r);
}

static PGresult *pg_select(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char buf[400];
        one_line(PQresultErrorMessage(r), buf, sizeof buf);
        PQclear(r);
        die("PostgreSQL: query failed: %s (query: %.60s...)", buf, sql);
    }
    return r;
}

/* COPY ... FROM STDIN in text format, buffered. */
typedef struct {
    PGconn *c;
    const char *table;
    sbuf b;
    int col;
    long long rows;
} copyw;

static void copy_begin(copyw *w, PGconn *c, const char *table, const char *columns)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->table = table;
    char *sql = xasprintf("COPY %s (%s) FROM STDIN", table, columns);
    PGresult *r = PQexec(c, sql);
    free(sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        char buf[400];
        one_line(PQresultErrorMessage(r), buf, sizeof buf);
        PQclear(r);
        die("PostgreSQL: COPY %s failed: %s", table, buf);
    }
    PQclear(r);
}

static void copy_flush(copyw *w)
{
    if (!w->b.len) return;
    if (PQputCopyData(w->c, w->b.p, (int)w->b.len) != 1) {
        char buf[300];
        die("PostgreSQL: COPY %s failed: %s", w->table, one_line(PQerrorMessage(w->c), buf, sizeof buf));
    }
    w->b.len = 0;
}

static void copy_sep(copyw *w)
{
    if (w->col++) sb_putc(&w->b, '\t');
}

static void copy_str(copyw *w, const char *s)
{
    copy_sep(w);
    if (!s) { sb_puts(&w->b, "\\N"); return; }
    for (; *s; s++) {
        switch (*s) {
        case '\\': sb_puts(&w->b, "\\\\"); break;
        case '\t': sb_puts(&w->b, "\\t"); break;
        case '\n': sb_puts(&w->b, "\\n"); break;
        case '\r': sb_puts(&w->b, "\\r"); break;
        default: sb_putc(&w->b, *s);
        }
    }
}

__attribute__((format(printf, 2, 3))) static void copy_fmt(copyw *w, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    copy_str(w, buf);
}

static void copy_bool(copyw *w, bool v) { copy_str(w, v ? "t" : "f"); }

static void copy_ts(copyw *w, double epoch)
{
    time_t s = (time_t)floor(epoch);
    int us = (int)((epoch - (double)s) * 1e6);
    if (us > 999999) us = 999999;
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%06d+00", us);
    copy_str(w, buf);
}

static void copy_row_end(copyw *w)
{
    sb_putc(&w->b, '\n');
    w->col = 0;
    w->rows++;
    if (w->b.len >= (1u << 20)) copy_flush(w);
}

static long long copy_end(copyw *w)
{
    copy_flush(w);
    if (PQputCopyEnd(w->c, NULL) != 1) {
        char buf[300];
        die("PostgreSQL: COPY %s failed: %s", w->table, one_line(PQerrorMessage(w->c), buf, sizeof buf));
    }
    PGresult *r;
    char err[400] = "";
    while ((r = PQgetResult(w->c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !err[0])
            one_line(PQresultErrorMessage(r), err, sizeof err);
        PQclear(r);
    }
    if (err[0]) die("PostgreSQL: COPY %s failed: %s", w->table, err);
    sb_free(&w->b);
    return w->rows;
}

/* ---------------------------------------------------------- the catalogue */

static const char *const FORMATS[] = {"CLAUDE", "OPENAI", "GEMINI", "CLAUDE_CLI", "OPENAI_CLI",
                                      "GEMINI_CLI"};
#define N_FORMATS ((int)(sizeof FORMATS / sizeof FORMATS[0]))

static const struct {
    const char *slug, *display, *host, *key_prefix;
    int native;
} PROVIDERS[] = {
    {"anthropic", "Anthropic", "api.anthropic.com", "sk-ant-api03-", 0},
    {"openai", "OpenAI", "api.openai.com", "sk-proj-", 1},
    {"google-gemini", "Google Gemini", "generativelanguage.googleapis.com", "AIza", 2},
    {"aws-bedrock", "AWS Bedrock", "bedrock-runtime.us-east-1.amazonaws.com", "ABSK", 0},
    {"openrouter", "OpenRouter", "openrouter.ai/api", "sk-or-v1-", 1},
    {"deepseek", "DeepSeek 深度求索", "api.deepseek.com", "sk-", 1},
    {"moonshot", "Moonshot 月之暗面", "api.moonshot.cn", "sk-", 1},
    {"claude-relay", "Claude Relay (备用)", "relay.example.net", "cr_", 3},
    {"azure-openai", "Azure OpenAI", "aether-eastus.openai.azure.com", "az-", 4},
    {"gemini-cli-pool", "Gemini CLI Pool", "cloudcode-pa.googleapis.com", "ya29.", 5},
};
#define N_PROVIDERS ((int)(sizeof PROVIDERS / sizeof PROVIDERS[0]))

static const struct { const char *name, *display; } GLOBAL_MODELS[] = {
    {"claude-sonnet-4-5", "Claude Sonnet 4.5"}, {"gpt-5", "GPT-5"},
    {"gemini-2.5-pro", "Gemini 2.5 Pro"},      {"claude-opus-4-1", "Claude Opus 4.1"},
    {"claude-haiku-4-5", "Claude Haiku 4.5"},  {"gpt-5-mini", "GPT-5 mini"},
    {"gemini-2.5-flash", "Gemini 2.5 Flash"},  {"qwen3-coder-plus", "通义千问 Qwen3 Coder Plus"},
    {"deepseek-chat", "DeepSeek V3.2"},        {"gpt-4.1", "GPT-4.1"},
    {"kimi-k2", "Kimi K2"},                    {"glm-4.6", "智谱 GLM-4.6"},
};
#define N_GLOBAL_MODELS ((int)(sizeof GLOBAL_MODELS / sizeof GLOBAL_MODELS[0]))

/* The aliases a provider's model may map (provider_model_mappings). */
#define N_ALIAS_FORMS 3
static void make_alias(char *out, size_t len, int form, const char *name)
{
    switch (form % N_ALIAS_FORMS) {
    case 0: snprintf(out, len, "%s-latest", name); break;
    case 1: snprintf(out, len, "%s-fast", name); break;
    default: snprintf(out, len, "team/%s", name); break;
    }
}

static const struct { const char *name, *email; } PEOPLE[] = {
    {"张伟", "zhang.wei"}, {"alice", "alice"},     {"王芳", "wang.fang"},  {"bob", "bob"},
    {"李娜", "li.na"},     {"carol", "carol"},     {"刘洋", "liu.yang"},   {"dave", "dave"},
    {"陈静", "chen.jing"}, {"erin", "erin"},       {"杨磊", "yang.lei"},   {"frank", "frank"},
    {"赵敏", "zhao.min"},  {"grace", "grace"},     {"黄勇", "huang.yong"}, {"heidi", "heidi"},
    {"周杰", "zhou.jie"},  {"ivan", "ivan"},       {"吴霞", "wu.xia"},     {"judy", "judy"},
    {"田中太郎", "tanaka.taro"}, {"mallory", "mallory"}, {"김민준", "kim.minjun"},
    {"José Núñez", "jose.nunez"}, {"Zoë", "zoe"}, {"ops-bot", "ops-bot"},
};
#define N_PEOPLE ((int)(sizeof PEOPLE / sizeof PEOPLE[0]))

static const char *const KEY_NAMES[] = {"default", "cursor", "claude-code", "ci-bot", "本地开发",
                                        "生产环境", "notebook", "batch-jobs"};
#define N_KEY_NAMES ((int)(sizeof KEY_NAMES / sizeof KEY_NAMES[0]))

static const char *const UNKNOWN_MODELS[] = {"gpt-4-32k", "claude-2.1", "text-davinci-003",
                                             "llama-3-70b", "mistral-large", "gpt-3.5-turbo"};
#define N_UNKNOWN_MODELS ((int)(sizeof UNKNOWN_MODELS / sizeof UNKNOWN_MODELS[0]))

/* ------------------------------------------------------------- options */

typedef struct {
    const char *redis_url, *database_url, *encryption_key, *schema;
    long users, api_keys, providers, models, affinities, mappings, usage, min_ttl, usage_hours;
    uint64_t seed;
    bool seed_given;
    double rate, duration, switch_ratio, new_ratio, usage_ratio;
} options;

static void print_help(void)
{
    fputs(
        "usage: " PROG " seed    --redis URL --database URL [options]\n"
        "       " PROG " traffic --redis URL --database URL --rate R [options]\n"
        "\n"
        "Writes what the Aether gateway writes, for tests and demos of aethertop.\n"
        "  seed     fill an (empty) gateway database and the Redis cache: users, API keys,\n"
        "           providers, endpoints, provider keys, models, usage rows, cache affinities\n"
        "           and model-mapping cache entries.\n"
        "  traffic  rewrite affinities at a steady rate (reuse, new, provider switches) and\n"
        "           insert usage rows, until --duration ends or SIGINT/SIGTERM.\n"
        "\n"
        "common options:\n"
        "  --redis URL          redis://[user:password@]host[:port][/db] or unix:///path[?db=N]\n"
        "                       (default: $REDIS_URL)\n"
        "  --database URL       libpq connection URL or string (default: $DATABASE_URL)\n"
        "  --seed S             random seed (seed default 1; traffic default: time based)\n"
        "seed options:\n"
        "  --schema PATH        execute this SQL file first (e.g. aether_schema.sql)\n"
        "  --encryption-key K   ENCRYPTION_KEY for the stored keys (default: $ENCRYPTION_KEY,\n"
        "                       else the gateway's development default)\n"
        "  --users N            users (default 200)\n"
        "  --api-keys N         user API keys (default 2 per user, more when --affinities needs)\n"
        "  --providers N        providers (default 5)\n"
        "  --models N           global models (default 8)\n"
        "  --affinities N       cache_affinity keys (default 2000)\n"
        "  --mappings N         global_model:resolve entries (default 20)\n"
        "  --usage N            usage rows over the last --usage-hours, written in time\n"
        "                       order as the gateway appends them (default 5000)\n"
        "  --usage-hours H      hours the usage rows span (default 2)\n"
        "  --min-ttl S          shortest remaining affinity TTL in seconds (default 1; capped\n"
        "                       at the provider key's TTL)\n"
        "traffic options:\n"
        "  --rate R             affinity writes per second (required)\n"
        "  --duration S         stop after S seconds (default: run until killed)\n"
        "  --switch-ratio F     share of writes that re-point an affinity (default 0.02)\n"
        "  --new-ratio F        share of writes for a new key/format/model (default 0.1)\n"
        "  --usage-ratio F      usage rows inserted per write (default 0.25)\n"
        "\n"
        "Exit status: 0 done, 1 failure (message on stderr), 2 usage error.\n",
        stdout);
}

static long opt_long(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        usage_error("%s: expected an integer from %ld to %ld, got '%s'", name, lo, hi, s);
    return (long)v;
}

static double opt_double(const char *name, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        usage_error("%s: expected a number from %g to %g, got '%s'", name, lo, hi, s);
    return v;
}

enum {
    O_REDIS = 1000, O_DATABASE, O_ENCKEY, O_USERS, O_APIKEYS, O_PROVIDERS, O_MODELS,
    O_AFFINITIES, O_MAPPINGS, O_USAGE, O_SEED, O_SCHEMA, O_RATE, O_DURATION, O_SWITCH,
    O_NEW, O_USAGE_RATIO, O_MIN_TTL, O_USAGE_HOURS, O_HELP
};

static void parse_options(int argc, char **argv, bool traffic, options *o)
{
    static const struct option longopts[] = {
        {"redis", required_argument, 0, O_REDIS},
        {"database", required_argument, 0, O_DATABASE},
        {"encryption-key", required_argument, 0, O_ENCKEY},
        {"users", required_argument, 0, O_USERS},
        {"api-keys", required_argument, 0, O_APIKEYS},
        {"providers", required_argument, 0, O_PROVIDERS},
        {"models", required_argument, 0, O_MODELS},
        {"affinities", required_argument, 0, O_AFFINITIES},
        {"mappings", required_argument, 0, O_MAPPINGS},
        {"usage", required_argument, 0, O_USAGE},
        {"usage-hours", required_argument, 0, O_USAGE_HOURS},
        {"seed", required_argument, 0, O_SEED},
        {"schema", required_argument, 0, O_SCHEMA},
        {"rate", required_argument, 0, O_RATE},
        {"duration", required_argument, 0, O_DURATION},
        {"switch-ratio", required_argument, 0, O_SWITCH},
        {"new-ratio", required_argument, 0, O_NEW},
        {"usage-ratio", required_argument, 0, O_USAGE_RATIO},
        {"min-ttl", required_argument, 0, O_MIN_TTL},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->users = 200;
    o->api_keys = 0;
    o->providers = 5;
    o->models = 8;
    o->affinities = 2000;
    o->mappings = 20;
    o->usage = 5000;
    o->min_ttl = 1;
    o->usage_hours = 2;
    o->seed = 1;
    o->rate = -1;
    o->switch_ratio = 0.02;
    o->new_ratio = 0.1;
    o->usage_ratio = 0.25;

    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        bool seed_only = ch == O_ENCKEY || ch == O_USERS || ch == O_APIKEYS ||
                         ch == O_PROVIDERS || ch == O_MODELS || ch == O_AFFINITIES ||
                         ch == O_MAPPINGS || ch == O_USAGE || ch == O_SCHEMA ||
                         ch == O_MIN_TTL || ch == O_USAGE_HOURS;
        bool traffic_only = ch == O_RATE || ch == O_DURATION || ch == O_SWITCH || ch == O_NEW ||
                            ch == O_USAGE_RATIO;
        if ((seed_only && traffic) || (traffic_only && !traffic))
            usage_error("option '%s' is not valid for '%s'", name, traffic ? "traffic" : "seed");
        switch (ch) {
        case O_REDIS: o->redis_url = optarg; break;
        case O_DATABASE: o->database_url = optarg; break;
        case O_ENCKEY: o->encryption_key = optarg; break;
        case O_SCHEMA: o->schema = optarg; break;
        case O_USERS: o->users = opt_long("--users", optarg, 1, 50000000); break;
        case O_APIKEYS: o->api_keys = opt_long("--api-keys", optarg, 1, 50000000); break;
        case O_PROVIDERS: o->providers = opt_long("--providers", optarg, 1, 1000); break;
        case O_MODELS: o->models = opt_long("--models", optarg, 1, 10000); break;
        case O_AFFINITIES: o->affinities = opt_long("--affinities", optarg, 0, 100000000); break;
        case O_MAPPINGS: o->mappings = opt_long("--mappings", optarg, 0, 10000000); break;
        case O_USAGE: o->usage = opt_long("--usage", optarg, 0, 100000000); break;
        case O_USAGE_HOURS: o->usage_hours = opt_long("--usage-hours", optarg, 1, 24 * 400); break;
        case O_MIN_TTL: o->min_ttl = opt_long("--min-ttl", optarg, 1, 86400); break;
        case O_SEED:
            o->seed = (uint64_t)opt_long("--seed", optarg, 0, LONG_MAX);
            o->seed_given = true;
            break;
        case O_RATE: o->rate = opt_double("--rate", optarg, 0.001, 1e7); break;
        case O_DURATION: o->duration = opt_double("--duration", optarg, 0, 1e9); break;
        case O_SWITCH: o->switch_ratio = opt_double("--switch-ratio", optarg, 0, 1); break;
        case O_NEW: o->new_ratio = opt_double("--new-ratio", optarg, 0, 1); break;
        case O_USAGE_RATIO: o->usage_ratio = opt_double("--usage-ratio", optarg, 0, 100); break;
        case 'h':
        case O_HELP: print_help(); exit(0);
        case ':': usage_error("option '%s' needs a value", name);
        default: usage_error("unknown option '%s'", name);
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->redis_url) o->redis_url = getenv("REDIS_URL");
    if (!o->database_url) o->database_url = getenv("DATABASE_URL");
    if (!o->encryption_key) o->encryption_key = getenv("ENCRYPTION_KEY");
    if (!o->redis_url || !*o->redis_url) usage_error("--redis URL is required (or set REDIS_URL)");
    if (!o->database_url || !*o->database_url)
        usage_error("--database URL is required (or set DATABASE_URL)");
    if (traffic && o->rate < 0) usage_error("--rate R is required for traffic");
    if (traffic && o->switch_ratio + o->new_ratio > 1)
        usage_error("--switch-ratio plus --new-ratio must not exceed 1");
}

/* --------------------------------------------------------- affinity values */

/* Epoch seconds with microseconds, like Python's repr of time.time() (which
 * may print fewer digits; readers parse it as a float either way). */
static void sb_epoch(sbuf *b, double t)
{
    char num[48];
    if (!isfinite(t) || fabs(t) > 1e15) {
        snprintf(num, sizeof num, "%.6f", isfinite(t) ? t : 0.0);
        sb_puts(b, num);
        return;
    }
    long long us = llround(t * 1e6);
    if (us < 0) { sb_putc(b, '-'); us = -us; }
    size_t n = fmt_ulong(num, (unsigned long long)(us / 1000000));
    num[n++] = '.';
    long long frac = us % 1000000;
    for (int d = 5; d >= 0; d--) { num[n + (size_t)d] = (char)('0' + frac % 10); frac /= 10; }
    n += 6;
    sb_putn(b, num, n);
}

/* The value the gateway's set_affinity writes (json.dumps of a dict). */
static void affinity_json(sbuf *b, const char *provider_id, const char *endpoint_id,
                          const char *key_id, const char *api_format, const char *model_name,
                          double created_at, double expire_at, long long request_count)
{
    b->len = 0;
    sb_puts(b, "{\"provider_id\": ");
    sb_json_str(b, provider_id);
    sb_puts(b, ", \"endpoint_id\": ");
    sb_json_str(b, endpoint_id);
    sb_puts(b, ", \"key_id\": ");
    sb_json_str(b, key_id);
    sb_puts(b, ", \"api_format\": ");
    sb_json_str(b, api_format);
    sb_puts(b, ", \"model_name\": ");
    sb_json_str(b, model_name);
    sb_puts(b, ", \"created_at\": ");
    sb_epoch(b, created_at);
    sb_puts(b, ", \"expire_at\": ");
    sb_epoch(b, expire_at);
    char num[24];
    sb_puts(b, ", \"request_count\": ");
    if (request_count < 0) { sb_putc(b, '-'); request_count = -request_count; }
    sb_putn(b, num, fmt_ulong(num, (unsigned long long)request_count));
    sb_putc(b, '}');
}

/* ------------------------------------------------------------------ seed */

typedef struct { char *name; int gm; } alias_t;

/* One usage row for a request through model row md; ep/pk -1 = pick any of
 * the provider's endpoints and keys. */
static void usage_row(copyw *cw, const world_t *w, int ak, int md, int ep, int pk, double when,
                      const char *requested, uint64_t serial)
{
    const md_t *m = &w->md[md];
    int prov = m->prov;
    if (ep < 0 && w->prov_ep_n[prov] > 0) {
        ep = w->prov_eps[w->prov_ep_off[prov] + (int)rnd_below((uint64_t)w->prov_ep_n[prov])];
        if (w->ep[ep].key_n > 0)
            pk = w->ep_keys[w->ep[ep].key_off + (int)rnd_below((uint64_t)w->ep[ep].key_n)];
    }
    long input = 50 + (long)rnd_below(8000);
    long output = 20 + (long)rnd_below(2000);
    long cache_read = rnd_unit() < 0.65 ? input * (long)(1 + rnd_below(8)) : 0;
    long cache_create = rnd_unit() < 0.3 ? (long)rnd_below(4000) : 0;
    double c_read = (double)cache_read * 0.30 / 1e6;
    double c_create = (double)cache_create * 3.75 / 1e6;
    double total = (double)input * 3.0 / 1e6 + (double)output * 15.0 / 1e6 + c_read + c_create;
    double r = rnd_unit();
    bool failed = r >= 0.95;
    copy_str(cw, w->ak[ak].user_id);
    copy_str(cw, w->ak[ak].id);
    copy_fmt(cw, "req_%016" PRIx64 "%08" PRIx64, rnd(), serial);
    copy_str(cw, w->prov[prov].name);
    copy_str(cw, requested ? requested : w->gm[m->gm].name);
    copy_str(cw, m->pname);
    copy_str(cw, w->prov[prov].id);
    copy_str(cw, ep >= 0 ? w->ep[ep].id : NULL);
    copy_str(cw, pk >= 0 ? w->pk[pk].id : NULL);
    copy_fmt(cw, "%ld", failed ? 0 : input);
    copy_fmt(cw, "%ld", failed ? 0 : output);
    copy_fmt(cw, "%ld", failed ? 0 : input + output + cache_read + cache_create);
    copy_fmt(cw, "%ld", failed ? 0 : cache_create);
    copy_fmt(cw, "%ld", failed ? 0 : cache_read);
    copy_fmt(cw, "%.8f", failed ? 0 : c_read);
    copy_fmt(cw, "%.8f", failed ? 0 : c_create);
    copy_fmt(cw, "%.8f", failed ? 0 : total);
    copy_str(cw, ep >= 0 ? w->fmts[w->ep[ep].fmt] : NULL);
    copy_str(cw, failed ? "failed" : "completed");
    copy_fmt(cw, "%d", failed ? (r > 0.98 ? 500 : 429) : 200);
    copy_fmt(cw, "%ld", 300 + (long)rnd_below(20000));
    copy_ts(cw, when);
    copy_row_end(cw);
}

#define USAGE_COLUMNS                                                                      \
    "user_id, api_key_id, request_id, provider, model, target_model, provider_id, "        \
    "provider_endpoint_id, provider_api_key_id, input_tokens, output_tokens, total_tokens, " \
    "cache_creation_input_tokens, cache_read_input_tokens, cache_read_cost_usd, "          \
    "cache_creation_cost_usd, total_cost_usd, api_format, status, status_code, "           \
    "response_time_ms, created_at"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read %s: %s", path, strerror(errno));
    sbuf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sb_putn(&b, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) die("cannot read %s", path);
    if (!b.p) sb_puts(&b, "");
    return b.p;
}

static int cmd_seed(const options *o)
{
    double t0 = now_mono();
    rng_state = o->seed * 0x2545F4914F6CDD1DULL + 7;
    PGconn *pg = pg_open(o->database_url);
    redisContext *rc = redis_open(o->redis_url);

    if (o->schema) {
        char *sql = read_file(o->schema);
        PGresult *r = PQexec(pg, sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            char buf[400];
            one_line(PQresultErrorMessage(r), buf, sizeof buf);
            PQclear(r);
            die("loading schema %s failed: %s", o->schema, buf);
        }
        PQclear(r);
    }

    PGresult *existing = pg_select(pg, "SELECT EXISTS (SELECT 1 FROM users) "
                                       "OR EXISTS (SELECT 1 FROM providers)");
    bool has_rows = PQgetvalue(existing, 0, 0)[0] == 't';
    PQclear(existing);
    if (has_rows)
        die("the database already has users or providers; seed needs an empty gateway "
            "database (create a fresh one, optionally with --schema)");

    at_fernet_key fkey;
    if (at_fernet_key_derive(o->encryption_key, &fkey) < 0)
        die("cannot derive the Fernet key from the encryption key");

    double now = now_real();
    world_t w = {0};
    for (int f = 0; f < N_FORMATS; f++) world_fmt(&w, FORMATS[f]);
    char id[37], tok[64], plain[128], hash[65];
    sbuf js = {0};
    copyw cw;

    pg_exec(pg, "BEGIN", "BEGIN");

    /* users */
    char **user_ids = xcalloc((size_t)o->users, sizeof *user_ids);
    copy_begin(&cw, pg, "users",
               "id, email, username, password_hash, role, is_active, is_deleted, created_at, "
               "last_login_at");
    for (long i = 0; i < o->users; i++) {
        gen_uuid(id);
        user_ids[i] = xstrdup(id);
        int p = (int)(i % N_PEOPLE);
        long round = i / N_PEOPLE;
        static const char *const domains[] = {"example.com", "example.cn", "example.org"};
        char uname[160], email[200];
        if (round) snprintf(uname, sizeof uname, "%s%ld", PEOPLE[p].name, round + 1);
        else snprintf(uname, sizeof uname, "%s", PEOPLE[p].name);
        if (round) snprintf(email, sizeof email, "%s%ld@%s", PEOPLE[p].email, round + 1, domains[i % 3]);
        else snprintf(email, sizeof email, "%s@%s", PEOPLE[p].email, domains[i % 3]);
        bool deleted = i > 0 && rnd_unit() < 0.01;
        copy_str(&cw, id);
        copy_str(&cw, email);
        copy_str(&cw, uname);
        copy_str(&cw, "$2b$12$simulatedsimulatedsimulatedsimulatedsimulatedsimul");
        copy_str(&cw, i == 0 ? "admin" : "user");
        copy_bool(&cw, !deleted && rnd_unit() > 0.02);
        copy_bool(&cw, deleted);
        copy_ts(&cw, now - 86400.0 * (1 + rnd_unit() * 365));
        copy_ts(&cw, now - rnd_unit() * 86400.0 * 7);
        copy_row_end(&cw);
    }
    copy_end(&cw);

    /* providers */
    copy_begin(&cw, pg, "providers",
               "id, name, display_name, website, provider_priority, is_active");
    for (long i = 0; i < o->providers; i++) {
        char slug[64], disp[96];
        int c = (int)(i % N_PROVIDERS);
        if (i < N_PROVIDERS) {
            snprintf(slug, sizeof slug, "%s", PROVIDERS[c].slug);
            snprintf(disp, sizeof disp, "%s", PROVIDERS[c].display);
        } else {
            snprintf(slug, sizeof slug, "%s-%ld", PROVIDERS[c].slug, i / N_PROVIDERS + 1);
            snprintf(disp, sizeof disp, "%s #%ld", PROVIDERS[c].display, i / N_PROVIDERS + 1);
        }
        gen_uuid(id);
        world_add_prov(&w, id, slug);
        char site[160];
        snprintf(site, sizeof site, "https://%s", PROVIDERS[c].host);
        copy_str(&cw, id);
        copy_str(&cw, slug);
        copy_str(&cw, disp);
        copy_str(&cw, site);
        copy_fmt(&cw, "%ld", 10 * (i + 1));
        copy_bool(&cw, true);
        copy_row_end(&cw);
    }
    copy_end(&cw);

    /* endpoints: each provider serves its native format plus 0-2 others */
    copy_begin(&cw, pg, "provider_endpoints", "id, provider_id, api_format, base_url, is_active");
    for (size_t p = 0; p < w.n_prov; p++) {
        int c = (int)(p % N_PROVIDERS);
        int nf = 1 + (int)rnd_below(3);
        int start = PROVIDERS[c].native;
        int step = 1 + (int)rnd_below(N_FORMATS - 1);
        for (int k = 0; k < nf; k++) {
            int f = (start + k * step) % N_FORMATS;
            bool dup = false;
            for (int j = 0; j < k; j++)
                if ((start + j * step) % N_FORMATS == f) dup = true;
            if (dup) continue;
            static const char *const suffix[] = {"", "/v1", "/v1beta", "/claude-cli", "/openai-cli",
                                                 "/gemini-cli"};
            char url[256];
            snprintf(url, sizeof url, "https://%s%s", PROVIDERS[c].host, suffix[f]);
            gen_uuid(id);
            world_add_ep(&w, id, (int)p, f);
            copy_str(&cw, id);
            copy_str(&cw, w.prov[p].id);
            copy_str(&cw, FORMATS[f]);
            copy_str(&cw, url);
            copy_bool(&cw, true);
            copy_row_end(&cw);
        }
    }
    copy_end(&cw);

    /* provider keys: 1-3 per endpoint, mostly the default 5 minute TTL */
    copy_begin(&cw, pg, "provider_api_keys",
               "id, endpoint_id, api_key, name, rate_multiplier, internal_priority, "
               "cache_ttl_minutes, is_active");
    for (size_t e = 0; e < w.n_ep; e++) {
        int c = (int)((size_t)w.ep[e].prov % N_PROVIDERS);
        int nk = 1 + (int)rnd_below(3);
        for (int k = 0; k < nk; k++) {
            double r = rnd_unit();
            int ttl_min = k == 0 ? 5 : r < 0.80 ? 5 : r < 0.90 ? 10 : r < 0.95 ? 15 : 0;
            gen_token(tok, 40);
            snprintf(plain, sizeof plain, "%s%s", PROVIDERS[c].key_prefix, tok);
            char *enc = at_secret_encrypt(&fkey, plain, strlen(plain), NULL, 0);
            if (!enc) die("encrypting a provider key failed");
            static const char *const names[] = {"主账号", "backup", "team-pool", "org-key"};
            char kname[64];
            snprintf(kname, sizeof kname, "%s-%d", names[k % 4], k + 1);
            gen_uuid(id);
            world_add_pk(&w, id, (int)e, ttl_min * 60);
            copy_str(&cw, id);
            copy_str(&cw, w.ep[e].id);
            copy_str(&cw, enc);
            copy_str(&cw, kname);
            static const double mult[] = {1.0, 1.0, 1.0, 0.8, 1.5};
            copy_fmt(&cw, "%.1f", mult[rnd_below(5)]);
            copy_fmt(&cw, "%d", 10 * (k + 1));
            copy_fmt(&cw, "%d", ttl_min);
            copy_bool(&cw, true);
            copy_row_end(&cw);
            free(enc);
        }
    }
    copy_end(&cw);

    /* global models */
    copy_begin(&cw, pg, "global_models",
               "id, name, display_name, default_tiered_pricing, supported_capabilities, is_active, "
               "usage_count");
    for (long i = 0; i < o->models; i++) {
        int c = (int)(i % N_GLOBAL_MODELS);
        char name[96], disp[128];
        if (i < N_GLOBAL_MODELS) {
            snprintf(name, sizeof name, "%s", GLOBAL_MODELS[c].name);
            snprintf(disp, sizeof disp, "%s", GLOBAL_MODELS[c].display);
        } else {
            snprintf(name, sizeof name, "%s-v%ld", GLOBAL_MODELS[c].name, i / N_GLOBAL_MODELS + 1);
            snprintf(disp, sizeof disp, "%s v%ld", GLOBAL_MODELS[c].display, i / N_GLOBAL_MODELS + 1);
        }
        gen_uuid(id);
        world_add_gm(&w, id, name, disp);
        copy_str(&cw, id);
        copy_str(&cw, name);
        copy_str(&cw, disp);
        copy_str(&cw, "{\"tiers\": [{\"up_to\": null, \"input_price_per_1m\": 3.0, "
                      "\"output_price_per_1m\": 15.0, \"cache_creation_price_per_1m\": 3.75, "
                      "\"cache_read_price_per_1m\": 0.3}]}");
        copy_str(&cw, "[\"streaming\", \"function_calling\"]");
        copy_bool(&cw, true);
        copy_fmt(&cw, "%" PRIu64, rnd_below(100000));
        copy_row_end(&cw);
    }
    copy_end(&cw);

    /* models: each provider implements ~60% of the global models (at least one) */
    alias_t *aliases = NULL;
    size_t n_aliases = 0;
    smap alias_ix = {0};
    copy_begin(&cw, pg, "models",
               "id, provider_id, global_model_id, provider_model_name, provider_model_mappings, "
               "is_active, is_available");
    for (size_t p = 0; p < w.n_prov; p++) {
        size_t before = w.n_md;
        for (size_t g = 0; g < w.n_gm; g++) {
            bool last_chance = g + 1 == w.n_gm && w.n_md == before;
            if (!last_chance && rnd_unit() >= 0.6) continue;
            char pname[200];
            uint64_t v = rnd_below(4);
            if (v == 2) snprintf(pname, sizeof pname, "%s-20250929", w.gm[g].name);
            else if (v == 3) snprintf(pname, sizeof pname, "%s/%s", w.prov[p].name, w.gm[g].name);
            else snprintf(pname, sizeof pname, "%s", w.gm[g].name);
            char *mapjs = NULL;
            if (rnd_unit() < 0.4) {
                sbuf mb = {0};
                sb_putc(&mb, '[');
                int na = 1 + (int)rnd_below(N_ALIAS_FORMS);
                int first = (int)rnd_below(N_ALIAS_FORMS);
                for (int a = 0; a < na; a++) {
                    char alias[200];
                    make_alias(alias, sizeof alias, first + a, w.gm[g].name);
                    if (a) sb_puts(&mb, ", ");
                    sb_puts(&mb, "{\"name\": ");
                    sb_json_str(&mb, alias);
                    sb_printf(&mb, ", \"priority\": %d", a + 1);
                    if (a == 0 && rnd_unit() < 0.5) {
                        int nat = PROVIDERS[p % N_PROVIDERS].native;
                        sb_printf(&mb, ", \"api_formats\": [\"%s\"]", FORMATS[nat]);
                    }
                    sb_putc(&mb, '}');
                    if (smap_get(&alias_ix, alias) < 0) {
                        alias_t al = {xstrdup(alias), (int)g};
                        PUSH(aliases, n_aliases, al);
                        smap_put(&alias_ix, aliases[n_aliases - 1].name, (int)n_aliases - 1);
                    }
                }
                sb_putc(&mb, ']');
                mapjs = mb.p;
            }
            gen_uuid(id);
            world_add_md(&w, id, (int)p, (int)g, pname, mapjs);
            copy_str(&cw, id);
            copy_str(&cw, w.prov[p].id);
            copy_str(&cw, w.gm[g].id);
            copy_str(&cw, pname);
            copy_str(&cw, mapjs);
            copy_bool(&cw, true);
            copy_bool(&cw, true);
            copy_row_end(&cw);
            free(mapjs);
        }
    }
    copy_end(&cw);
    world_finish(&w);

    /* user API keys: as many as the requested affinities need */
    size_t C = w.n_pair;
    long n_ak = o->api_keys;
    if (o->affinities > 0 && C == 0) die("no (api format, model) pair can be served; cannot seed affinities");
    if (!n_ak) {
        n_ak = 2 * o->users;
        if (C && (double)o->affinities > 0.8 * (double)n_ak * (double)C)
            n_ak = (long)ceil((double)o->affinities * 1.25 / (double)C);
    } else if ((double)o->affinities > (double)n_ak * (double)C) {
        die("--affinities %ld is more than %ld API keys x %zu format/model pairs allow; raise --api-keys",
            o->affinities, n_ak, C);
    }
    copy_begin(&cw, pg, "api_keys",
               "id, user_id, key_hash, key_encrypted, name, is_standalone, is_active, "
               "total_requests, created_at, last_used_at");
    for (long i = 0; i < n_ak; i++) {
        long u = i < o->users ? i : (long)rnd_below((uint64_t)o->users);
        gen_token(tok, 32);
        snprintf(plain, sizeof plain, "sk-aether-%s", tok);
        sha256_hex(plain, hash);
        char *enc = at_secret_encrypt(&fkey, plain, strlen(plain), NULL, 0);
        if (!enc) die("encrypting an API key failed");
        gen_uuid(id);
        world_add_ak(&w, id, user_ids[u]);
        copy_str(&cw, id);
        copy_str(&cw, user_ids[u]);
        copy_str(&cw, hash);
        copy_str(&cw, enc);
        copy_str(&cw, KEY_NAMES[rnd_below(N_KEY_NAMES)]);
        copy_bool(&cw, rnd_unit() < 0.1);
        copy_bool(&cw, rnd_unit() > 0.03);
        copy_fmt(&cw, "%" PRIu64, rnd_below(50000));
        copy_ts(&cw, now - 86400.0 * (1 + rnd_unit() * 200));
        copy_ts(&cw, now - rnd_unit() * 3600);
        copy_row_end(&cw);
        free(enc);
    }
    copy_end(&cw);

    pg_exec(pg,
            "INSERT INTO system_configs (key, value, description) VALUES "
            "('provider_priority_mode', '\"provider\"', 'provider | global_key'), "
            "('scheduling_mode', '\"cache_affinity\"', 'cache_affinity | fixed_order | load_balance') "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            "system_configs");

    /* usage over the last --usage-hours, oldest first: the gateway appends a
     * row as each request finishes, so the table's physical order follows
     * created_at (one row per equal time slice, jittered inside it) */
    copy_begin(&cw, pg, "usage", USAGE_COLUMNS);
    double span = (double)o->usage_hours * 3600.0;
    for (long i = 0; i < o->usage && w.n_md && w.n_ak; i++) {
        int md = (int)rnd_below(w.n_md);
        const char *requested = NULL;
        char alias[200];
        if (w.md[md].mappings_json && rnd_unit() < 0.15) {
            make_alias(alias, sizeof alias, 0, w.gm[w.md[md].gm].name);
            if (smap_get(&alias_ix, alias) >= 0) requested = alias;
        }
        usage_row(&cw, &w, (int)rnd_below(w.n_ak), md, -1, -1, now - span * (1.0 - ((double)i + rnd_unit()) / (double)o->usage), requested,
                  (uint64_t)i);
    }
    long long usage_rows = copy_end(&cw);
    pg_exec(pg, "COMMIT", "COMMIT");
    double t_pg = now_mono() - t0;

    /* Redis: model-mapping cache */
    rpipe rp = {rc, 0, {0}, 0};
    long long n_map_keys = 0;
    char key[512];
    for (size_t m = 0; m < w.n_md; m++) {
        const md_t *md = &w.md[m];
        js.len = 0;
        sb_puts(&js, "{\"id\": ");
        sb_json_str(&js, md->id);
        sb_puts(&js, ", \"provider_id\": ");
        sb_json_str(&js, w.prov[md->prov].id);
        sb_puts(&js, ", \"global_model_id\": ");
        sb_json_str(&js, w.gm[md->gm].id);
        sb_puts(&js, ", \"provider_model_name\": ");
        sb_json_str(&js, md->pname);
        sb_printf(&js, ", \"provider_model_mappings\": %s", md->mappings_json ? md->mappings_json : "null");
        sb_puts(&js, ", \"price_per_request\": null, \"is_active\": true, \"is_available\": true}");
        long ttl = MAPPING_TTL - (long)rnd_below(240);
        snprintf(key, sizeof key, "model:id:%s", md->id);
        rp_setex(&rp, key, ttl, js.p, js.len);
        snprintf(key, sizeof key, "model:provider_global:%s:%s", w.prov[md->prov].id, w.gm[md->gm].id);
        rp_setex(&rp, key, ttl, js.p, js.len);
        char hits[32];
        snprintf(hits, sizeof hits, "%" PRIu64, 1 + rnd_below(1000));
        snprintf(key, sizeof key, "model:provider_global:hits:%s:%s", w.prov[md->prov].id,
                 w.gm[md->gm].id);
        rp_setex(&rp, key, ttl, hits, strlen(hits));
        n_map_keys += 3;
    }
    char **gm_json = xcalloc(w.n_gm, sizeof *gm_json);
    for (size_t g = 0; g < w.n_gm; g++) {
        js.len = 0;
        sb_puts(&js, "{\"id\": ");
        sb_json_str(&js, w.gm[g].id);
        sb_puts(&js, ", \"name\": ");
        sb_json_str(&js, w.gm[g].name);
        sb_puts(&js, ", \"display_name\": ");
        sb_json_str(&js, w.gm[g].display);
        sb_puts(&js, ", \"default_price_per_request\": null, \"supported_capabilities\": "
                     "[\"streaming\", \"function_calling\"], \"config\": null, \"is_active\": true}");
        gm_json[g] = xstrdup(js.p);
        long ttl = MAPPING_TTL - (long)rnd_below(240);
        snprintf(key, sizeof key, "global_model:id:%s", w.gm[g].id);
        rp_setex(&rp, key, ttl, js.p, js.len);
        snprintf(key, sizeof key, "global_model:name:%s", w.gm[g].name);
        rp_setex(&rp, key, ttl, js.p, js.len);
        n_map_keys += 2;
    }
    /* resolve entries: aliases (requested name != global model name), plain
     * names, and negative-cache NOT_FOUND entries */
    size_t next_alias = 0, next_name = 0;
    long n_resolve_alias = 0, n_resolve_name = 0, n_resolve_nf = 0;
    for (long i = 0; i < o->mappings; i++) {
        int kind = (int)(i % 5);
        const char *val;
        if (kind <= 2 && next_alias < n_aliases) {
            alias_t *al = &aliases[next_alias++];
            snprintf(key, sizeof key, "global_model:resolve:%s", al->name);
            val = gm_json[al->gm];
            n_resolve_alias++;
        } else if (kind == 3 && next_name < w.n_gm) {
            snprintf(key, sizeof key, "global_model:resolve:%s", w.gm[next_name].name);
            val = gm_json[next_name++];
            n_resolve_name++;
        } else {
            long j = i;
            if (j < N_UNKNOWN_MODELS) snprintf(key, sizeof key, "global_model:resolve:%s", UNKNOWN_MODELS[j]);
            else snprintf(key, sizeof key, "global_model:resolve:%s-%ld", UNKNOWN_MODELS[j % N_UNKNOWN_MODELS], j);
            val = "NOT_FOUND";
            n_resolve_nf++;
        }
        rp_setex(&rp, key, MAPPING_TTL - (long)rnd_below(240), val, strlen(val));
        n_map_keys++;
    }
    rp_drain(&rp);
    double t_map = now_mono();

    /* Redis: affinities, distinct (api key, format, model) for each */
    long long M = (long long)w.n_ak * (long long)C;
    long long stride = 0, idx = 0;
    if (o->affinities > 0) {
        stride = (long long)(M / 2 + rnd_below((uint64_t)(M / 3 + 1)));
        if (stride < 1) stride = 1;
        for (;;) { /* coprime with M so the walk visits distinct indexes */
            long long a = stride, b = M;
            while (b) { long long t = a % b; a = b; b = t; }
            if (a == 1) break;
            stride++;
        }
        idx = (long long)rnd_below((uint64_t)M);
    }
    now = now_real();
    for (long i = 0; i < o->affinities; i++) {
        int ak = (int)(idx / (long long)C);
        const pair_t *pr = &w.pair[idx % (long long)C];
        idx = (idx + stride) % M;
        int ep, pk;
        pick_route(&w, pr, &ep, &pk);
        int ttl = w.pk[pk].ttl;
        double lo = o->min_ttl < ttl ? (double)o->min_ttl : (double)ttl;
        double remaining = lo + rnd_unit() * ((double)ttl - lo);
        double expire = now + remaining;
        double last_use = expire - ttl;
        double u = rnd_unit();
        long long count = 1 + (long long)(u * u * u * 200);
        double created = count > 1 ? last_use - rnd_unit() * fmin(3600.0, (double)count * 30.0) : last_use;
        snprintf(key, sizeof key, AFF_PREFIX "%s:%s:%s", w.ak[ak].id, w.fmts[pr->fmt], w.gm[pr->gm].id);
        affinity_json(&js, w.prov[w.ep[ep].prov].id, w.ep[ep].id, w.pk[pk].id, w.fmts[pr->fmt],
                      w.gm[pr->gm].id, created, expire, count);
        rp_setex(&rp, key, (long)ceil(remaining), js.p, js.len);
    }
    rp_drain(&rp);
    double t_end = now_mono();

    printf("seeded %ld users, %ld api keys, %zu providers, %zu endpoints, %zu provider keys, "
           "%zu global models, %zu models, %lld usage rows in %.2f s; "
           "%ld affinities and %lld mapping-cache keys (%ld alias, %ld name, %ld NOT_FOUND "
           "resolves) in %.2f s (affinities %.2f s)\n",
           o->users, n_ak, w.n_prov, w.n_ep, w.n_pk, w.n_gm, w.n_md, usage_rows, t_pg,
           o->affinities, n_map_keys, n_resolve_alias, n_resolve_name, n_resolve_nf,
           t_end - t0 - t_pg, t_end - t_map);

    for (size_t g = 0; g < w.n_gm; g++) free(gm_json[g]);
    free(gm_json);
    for (size_t a = 0; a < n_aliases; a++) free(aliases[a].name);
    free(aliases);
    smap_free(&alias_ix);
    for (long i = 0; i < o->users; i++) free(user_ids[i]);
    free(user_ids);
    sb_free(&js);
    sb_free(&rp.cmd);
    world_free(&w);
    redisFree(rc);
    PQfinish(pg);
    return 0;
}

/* --------------------------------------------------------------- traffic */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void traffic_load_world(PGconn *pg, world_t *w)
{
    PGresult *r = pg_select(pg, "SELECT id, name FROM providers WHERE is_active");
    for (int i = 0; i < PQntuples(r); i++) world_add_prov(w, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    r = pg_select(pg, "SELECT id, provider_id, api_format FROM provider_endpoints WHERE is_active");
    for (int i = 0; i < PQntuples(r); i++) {
        int p = smap_get(&w->prov_ix, PQgetvalue(r, i, 1));
        if (p >= 0) world_add_ep(w, PQgetvalue(r, i, 0), p, world_fmt(w, PQgetvalue(r, i, 2)));
    }
    PQclear(r);
    r = pg_select(pg, "SELECT id, endpoint_id, cache_ttl_minutes FROM provider_api_keys WHERE is_active");
    for (int i = 0; i < PQntuples(r); i++) {
        int e = smap_get(&w->ep_ix, PQgetvalue(r, i, 1));
        if (e >= 0) world_add_pk(w, PQgetvalue(r, i, 0), e, atoi(PQgetvalue(r, i, 2)) * 60);
    }
    PQclear(r);
    r = pg_select(pg, "SELECT id, name, display_name FROM global_models WHERE is_active");
    for (int i = 0; i < PQntuples(r); i++)
        world_add_gm(w, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    r = pg_select(pg, "SELECT id, provider_id, global_model_id, provider_model_name FROM models "
                      "WHERE is_active");
    for (int i = 0; i < PQntuples(r); i++) {
        int p = smap_get(&w->prov_ix, PQgetvalue(r, i, 1));
        int g = smap_get(&w->gm_ix, PQgetvalue(r, i, 2));
        if (p >= 0 && g >= 0) world_add_md(w, PQgetvalue(r, i, 0), p, g, PQgetvalue(r, i, 3), NULL);
    }
    PQclear(r);
    r = pg_select(pg, "SELECT id, user_id FROM api_keys WHERE is_active");
    for (int i = 0; i < PQntuples(r); i++) world_add_ak(w, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    world_finish(w);
}

typedef struct {
    char **keys;
    size_t n;
    long long seen;
} keypool;

static void pool_offer(keypool *p, const char *key)
{
    p->seen++;
    if (p->n < POOL_MAX) {
        if (!p->keys) p->keys = xcalloc(POOL_MAX, sizeof *p->keys);
        p->keys[p->n++] = xstrdup(key);
        return;
    }
    uint64_t j = rnd_below((uint64_t)p->seen); /* reservoir sampling */
    if (j < POOL_MAX) {
        free(p->keys[j]);
        p->keys[j] = xstrdup(key);
    }
}

static void pool_fill(redisContext *c, keypool *p)
{
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH " AFF_PREFIX "* COUNT 1000", cursor);
        redis_check(c, r, "SCAN");
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) die("unexpected SCAN reply");
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *ks = r->element[1];
        for (size_t i = 0; i < ks->elements; i++)
            if (ks->element[i]->type == REDIS_REPLY_STRING) pool_offer(p, ks->element[i]->str);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0 && !stop_requested);
}

static void pool_free(keypool *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->keys[i]);
    free(p->keys);
}

/* Split cache_affinity:{ak}:{fmt}:{model}; parts point into buf. */
static bool split_affinity_key(const char *key, char *buf, size_t len, char **ak, char **fmt,
                               char **model)
{
    size_t pl = strlen(AFF_PREFIX);
    if (strncmp(key, AFF_PREFIX, pl) != 0) return false;
    snprintf(buf, len, "%s", key + pl);
    char *a = strchr(buf, ':');
    if (!a) return false;
    *a = 0;
    char *b = strchr(a + 1, ':');
    if (!b) return false;
    *b = 0;
    *ak = buf;
    *fmt = a + 1;
    *model = b + 1;
    return true;
}

static const char *json_string_field(const cJSON *obj, const char *name, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : fallback;
}

static double json_number_field(const cJSON *obj, const char *name, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

enum { OP_REUSE, OP_NEW, OP_SWITCH };

typedef struct {
    char key[512];
    int kind;
    int ak, md;  /* for the usage row; -1 when unknown */
    int ep, pk;
} op_t;

static int find_model(const world_t *w, int prov, int gm)
{
    for (size_t m = 0; m < w->n_md; m++)
        if (w->md[m].prov == prov && w->md[m].gm == gm) return (int)m;
    return -1;
}

static int cmd_traffic(const options *o)
{
    rng_state = (o->seed_given ? o->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)) *
                    0x2545F4914F6CDD1DULL + 11;
    struct sigaction sa; /* stop cleanly (with the summary line) from here on */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    PGconn *pg = pg_open(o->database_url);
    redisContext *rc = redis_open(o->redis_url);
    world_t w = {0};
    traffic_load_world(pg, &w);
    if (!w.n_ak || !w.n_pair)
        die("nothing to simulate: the database has no active API keys, or no active endpoint "
            "with a key and a model (run '" PROG " seed' first)");

    keypool pool = {0};
    pool_fill(rc, &pool);

    const size_t max_batch = 500;
    op_t *ops = xcalloc(max_batch, sizeof *ops);
    redisReply **replies = xcalloc(max_batch, sizeof *replies);
    rpipe rp = {rc, 0, {0}, 0};
    sbuf js = {0};
    char parts[512];
    long long n_reuse = 0, n_new = 0, n_switch = 0, n_skipped = 0, n_usage = 0, done = 0;
    double start = now_mono();
    uint64_t serial = 0;

    while (!stop_requested) {
        double t = now_mono() - start;
        if (o->duration > 0 && t >= o->duration) break;
        long long due = (long long)(t * o->rate) - done;
        if (due <= 0) {
            double next = (double)(done + 1) / o->rate - t;
            if (o->duration > 0 && next > o->duration - t) next = o->duration - t;
            if (next > 0.05) next = 0.05;
            if (next < 0.0005) next = 0.0005;
            struct timespec ts = {0, (long)(next * 1e9)};
            nanosleep(&ts, NULL);
            continue;
        }
        size_t b = due > (long long)max_batch ? max_batch : (size_t)due;

        /* choose the keys */
        for (size_t i = 0; i < b; i++) {
            op_t *op = &ops[i];
            double r = rnd_unit();
            op->kind = r < o->switch_ratio ? OP_SWITCH : r < o->switch_ratio + o->new_ratio ? OP_NEW : OP_REUSE;
            if (op->kind != OP_NEW && pool.n == 0) op->kind = OP_NEW;
            if (op->kind == OP_NEW) {
                int ak = (int)rnd_below(w.n_ak);
                const pair_t *pr = &w.pair[rnd_below(w.n_pair)];
                snprintf(op->key, sizeof op->key, AFF_PREFIX "%s:%s:%s", w.ak[ak].id,
                         w.fmts[pr->fmt], w.gm[pr->gm].id);
            } else {
                snprintf(op->key, sizeof op->key, "%s", pool.keys[rnd_below(pool.n)]);
            }
            if (redisAppendCommand(rc, "GET %s", op->key) != REDIS_OK) redis_check(rc, NULL, "GET");
        }
        for (size_t i = 0; i < b; i++) {
            void *rv = NULL;
            if (redisGetReply(rc, &rv) != REDIS_OK) redis_check(rc, NULL, "GET");
            replies[i] = rv; /* an error reply (e.g. WRONGTYPE) just skips that key */
        }

        /* write them back the way the gateway would */
        double now = now_real();
        for (size_t i = 0; i < b; i++) {
            op_t *op = &ops[i];
            op->ak = op->md = op->ep = op->pk = -1;
            char *k_ak, *k_fmt, *k_model;
            if (replies[i]->type == REDIS_REPLY_ERROR ||
                !split_affinity_key(op->key, parts, sizeof parts, &k_ak, &k_fmt, &k_model)) {
                n_skipped++;
                freeReplyObject(replies[i]);
                continue;
            }
            int f = smap_get(&w.fmt_ix, k_fmt), g = smap_get(&w.gm_ix, k_model);
            int pi = f >= 0 && g >= 0 ? w.pair_of[(size_t)f * w.n_gm + (size_t)g] : -1;
            const pair_t *pr = pi >= 0 ? &w.pair[pi] : NULL;
            op->ak = smap_get(&w.ak_ix, k_ak);
            cJSON *cur = NULL;
            if (replies[i]->type == REDIS_REPLY_STRING) {
                cur = cJSON_ParseWithLength(replies[i]->str, replies[i]->len);
                if (cur && !cJSON_IsObject(cur)) { cJSON_Delete(cur); cur = NULL; }
            }
            freeReplyObject(replies[i]);
            replies[i] = NULL;
            long ttl;
            if (cur && op->kind == OP_SWITCH && pr && pr->combos > 1) {
                const char *cur_ep = json_string_field(cur, "endpoint_id", "");
                const char *cur_pk = json_string_field(cur, "key_id", "");
                int ep = -1, pk = -1;
                for (int tries = 0; tries < 16; tries++) {
                    pick_route(&w, pr, &ep, &pk);
                    if (strcmp(w.ep[ep].id, cur_ep) != 0 || strcmp(w.pk[pk].id, cur_pk) != 0) break;
                    ep = -1;
                }
                if (ep >= 0) {
                    ttl = w.pk[pk].ttl;
                    affinity_json(&js, w.prov[w.ep[ep].prov].id, w.ep[ep].id, w.pk[pk].id,
                                  json_string_field(cur, "api_format", k_fmt),
                                  json_string_field(cur, "model_name", k_model), now, now + ttl, 1);
                    op->ep = ep;
                    op->pk = pk;
                    n_switch++;
                    cJSON_Delete(cur);
                    rp_setex(&rp, op->key, ttl, js.p, js.len);
                    continue;
                }
            }
            if (cur) { /* reuse: count one more request, slide the expiry */
                const char *key_id = json_string_field(cur, "key_id", "");
                int pk = smap_get(&w.pk_ix, key_id);
                ttl = pk >= 0 ? w.pk[pk].ttl : MAPPING_TTL;
                double count = json_number_field(cur, "request_count", 0);
                if (!(count >= 0 && count < 9e15)) count = 0;
                affinity_json(&js, json_string_field(cur, "provider_id", ""),
                              json_string_field(cur, "endpoint_id", ""), key_id,
                              json_string_field(cur, "api_format", k_fmt),
                              json_string_field(cur, "model_name", k_model),
                              json_number_field(cur, "created_at", now), now + ttl,
                              (long long)count + 1);
                op->ep = smap_get(&w.ep_ix, json_string_field(cur, "endpoint_id", ""));
                op->pk = pk;
                n_reuse++;
                cJSON_Delete(cur);
                rp_setex(&rp, op->key, ttl, js.p, js.len);
                continue;
            }
            if (!pr) { /* gone, and we cannot route its format/model: leave it */
                n_skipped++;
                continue;
            }
            int ep, pk; /* new (or expired and asked again): a fresh affinity */
            pick_route(&w, pr, &ep, &pk);
            ttl = w.pk[pk].ttl;
            affinity_json(&js, w.prov[w.ep[ep].prov].id, w.ep[ep].id, w.pk[pk].id, k_fmt, k_model,
                          now, now + ttl, 1);
            op->ep = ep;
            op->pk = pk;
            n_new++;
            if (op->kind == OP_NEW) pool_offer(&pool, op->key);
            rp_setex(&rp, op->key, ttl, js.p, js.len);
        }
        rp_drain(&rp);
        done += (long long)b;

        /* usage rows for a share of the requests */
        if (o->usage_ratio > 0 && w.n_md) {
            copyw cw;
            bool open = false;
            for (size_t i = 0; i < b; i++) {
                op_t *op = &ops[i];
                double want = o->usage_ratio;
                while (want > 0 && op->ak >= 0 && op->ep >= 0) {
                    if (want < 1 && rnd_unit() >= want) break;
                    want -= 1;
                    int md = -1;
                    char *k_ak, *k_fmt, *k_model;
                    if (split_affinity_key(op->key, parts, sizeof parts, &k_ak, &k_fmt, &k_model)) {
                        int g = smap_get(&w.gm_ix, k_model);
                        if (g >= 0) md = find_model(&w, w.ep[op->ep].prov, g);
                    }
                    if (md < 0) break;
                    if (!open) {
                        copy_begin(&cw, pg, "usage", USAGE_COLUMNS);
                        open = true;
                    }
                    usage_row(&cw, &w, op->ak, md, op->ep, op->pk, now_real(), NULL, serial++);
                    n_usage++;
                }
            }
            if (open) copy_end(&cw);
        }
    }
    double elapsed = now_mono() - start;
    printf("traffic: %lld writes in %.1f s (%.1f/s): %lld reuse, %lld new, %lld switch, "
           "%lld skipped, %lld usage rows\n",
           n_reuse + n_new + n_switch, elapsed, elapsed > 0 ? (double)(n_reuse + n_new + n_switch) / elapsed : 0.0,
           n_reuse, n_new, n_switch, n_skipped, n_usage);

    free(ops);
    free(replies);
    sb_free(&js);
    sb_free(&rp.cmd);
    pool_free(&pool);
    world_free(&w);
    redisFree(rc);
    PQfinish(pg);
    return 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc < 2) usage_error("missing command: seed or traffic");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_help();
        return 0;
    }
    bool traffic;
    if (strcmp(cmd, "seed") == 0) traffic = false;
    else if (strcmp(cmd, "traffic") == 0) traffic = true;
    else usage_error("unknown command '%s' (expected seed or traffic)", cmd);
    options o;
    parse_options(argc - 1, argv + 1, traffic, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return traffic ? cmd_traffic(&o) : cmd_seed(&o);
}
