/* snapshot.c — building one immutable snapshot: walk Redis, parse every
 * record (counting what cannot be read), then enrich with PostgreSQL rows
 * fetched in batches (`= ANY($1)`), decrypting and masking each stored key
 * once. Everything lives in the snapshot's arena. */
#include "aethertop/snapshot.h"
#include "aethertop/bigmem.h"
#include "aethertop/pg.h"
#include "aethertop/redis.h"
#include "aethertop/secret.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct enricher enricher;
static void enricher_add_row(enricher *e, const at_affinity *a);
static void enricher_batch_done(enricher *e, const at_snapshot_opts *opts);

typedef struct {
    at_snapshot *s;
    enricher *enrich;
    const at_snapshot_opts *opts;
    bool cancelled;
} walk_ctx;

static int collect(void *vctx, size_t n, const char *const *keys, const size_t *klens,
                   const char *const *vals, const size_t *vlens)
{
    walk_ctx *w = vctx;
    at_snapshot *s = w->s;
    if (w->opts && w->opts->cancel && atomic_load(w->opts->cancel)) {
        w->cancelled = true;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s->n_rows == s->rows_cap) {
            size_t cap = s->rows_cap ? s->rows_cap * 2 : 1024;
            s->rows = at_big_realloc(s->rows, s->rows_cap * sizeof *s->rows, cap * sizeof *s->rows);
            s->rows_cap = cap;
        }
        at_affinity *row = &s->rows[s->n_rows];
        at_record_status st = at_affinity_parse(&s->strings, keys[i], klens[i], vals[i], vlens[i], row);
        s->skipped[st]++;
        if (st != AT_REC_OK) continue;
        row->redis_key = at_arena_strndup(s->arena, keys[i], klens[i]);
        enricher_add_row(w->enrich, row);
        s->n_rows++;
    }
    enricher_batch_done(w->enrich, w->opts);
    return 0;
}

/* ---- enrichment ---------------------------------------------------------- */

typedef struct {
    at_snapshot *s;
    at_ptrmap *index;
    const at_fernet_key *key;    /* NULL while it is still being derived */
    uint8_t key_digest[32];      /* at_fernet_key_digest(key), once key is set */
    /* the stored (encrypted) secret of each API key / provider key that
     * could not be masked yet: the look-ups run while Redis is walked, and
     * the key may arrive later */
    const char **akey_stored, **pkey_stored;
} fill_ctx;

static const char *col(at_snapshot *s, PGresult *res, int row, int c)
{
    if (PQgetisnull(res, row, c)) return NULL;
    return at_intern(&s->strings, PQgetvalue(res, row, c), (size_t)PQgetlength(res, row, c));
}

static bool col_bool(PGresult *res, int row, int c)
{
    return !PQgetisnull(res, row, c) && PQgetvalue(res, row, c)[0] == 't';
}

/* Masked forms survive from one snapshot to the next (keyed by the stored
 * ciphertext and the key that decrypts it), so a refresh decrypts only keys
 * it has not seen. Masked values are not secret; plaintexts never stay, and
 * neither does the key: only its SHA-256 tells whether it changed. */
static struct {
    pthread_mutex_t lock;
    uint8_t key_digest[32];
    at_arena *arena;
    at_strmap map;          /* ciphertext -> index into masks (-1: does not decrypt) */
    const char **masks;
    size_t n, cap;
} mask_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define MASK_CACHE_MAX 200000

/* The key, and key_digest its at_fernet_key_digest. */
static const char *masked(at_snapshot *s, const at_fernet_key *key, const uint8_t key_digest[32],
                          const char *stored, size_t len)
{
    if (!key || !stored) return NULL;
    const char *out = NULL;
    pthread_mutex_lock(&mask_cache.lock);
    if (!mask_cache.arena || memcmp(mask_cache.key_digest, key_digest, sizeof mask_cache.key_digest) != 0 ||
        mask_cache.n >= MASK_CACHE_MAX) {
        at_strmap_free(&mask_cache.map);
        at_arena_free(mask_cache.arena);
        free(mask_cache.masks);
        mask_cache.arena = at_arena_new();
        mask_cache.masks = NULL;
        mask_cache.n = mask_cache.cap = 0;
        memcpy(mask_cache.key_digest, key_digest, sizeof mask_cache.key_digest);
    }
    int32_t idx;
    if (at_strmap_find(&mask_cache.map, stored, len, &idx)) {
        out = idx >= 0 ? mask_cache.masks[idx] : NULL;
    } else {
        char *m = at_decrypt_and_mask(key, stored);
        if (m) {
            if (mask_cache.n == mask_cache.cap) {
                mask_cache.cap = mask_cache.cap ? mask_cache.cap * 2 : 256;
                mask_cache.masks = realloc(mask_cache.masks, mask_cache.cap * sizeof *mask_cache.masks);
                if (!mask_cache.masks) abort();
            }
            idx = (int32_t)mask_cache.n;
            mask_cache.masks[mask_cache.n++] = out = at_arena_strdup(mask_cache.arena, m);
            free(m);
        } else {
            idx = -1;
        }
        at_strmap_put(&mask_cache.map, at_arena_strndup(mask_cache.arena, stored, len), idx);
    }
    if (out) out = at_arena_strdup(s->arena, out);
    pthread_mutex_unlock(&mask_cache.lock);
    return out;
}

/* The masked secret of column c, now if the key is known; otherwise NULL,
 * with the stored text kept in *pending for the end of the build. */
static const char *secret_masked(fill_ctx *c, PGresult *res, int row, int col, const char **pending)
{
    *pending = NULL;
    if (PQgetisnull(res, row, col)) return NULL;
    const char *stored = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    if (c->key) return masked(c->s, c->key, c->key_digest, stored, len);
    *pending = at_arena_strndup(c->s->arena, stored, len);
    return NULL;
}

#define GROW(arr, n) do { \
        if (((n) & ((n) - 1)) == 0) { \
            arr = realloc(arr, ((n) < 16 ? 16 : (n) * 2) * sizeof *(arr)); \
            if (!(arr)) abort(); \
        } } while (0)

static void fill_api_key(void *vctx, PGresult *res, int r)
{
    fill_ctx *c = vctx;
    at_snapshot *s = c->s;
    GROW(s->api_keys, s->n_api_keys);
    GROW(c->akey_stored, s->n_api_keys);
    at_api_key *k = &s->api_keys[s->n_api_keys];
    k->masked = secret_masked(c, res, r, 3, &c->akey_stored[s->n_api_keys]);
    k->id = col(s, res, r, 0);
    k->user_id = col(s, res, r, 1);
    k->name = col(s, res, r, 2);
    k->is_standalone = col_bool(res, r, 4);
    k->is_active = col_bool(res, r, 5);
    k->user = -1;
    at_ptrmap_put(c->index, k->id, (int32_t)s->n_api_keys++);
}

static void fill_user(void *vctx, PGresult *res, int r)
{
    fill_ctx *c = vctx;
    at_snapshot *s = c->s;
    GROW(s->users, s->n_users);
    at_user *u = &s->users[s->n_users];
    u->id = col(s, res, r, 0);
    u->username = col(s, res, r, 1);
    u->email = col(s, res, r, 2);
    u->is_active = col_bool(res, r, 3);
    u->is_deleted = col_bool(res, r, 4);
    at_ptrmap_put(c->index, u->id, (int32_t)s->n_users++);
}

static void fill_provider(void *vctx, PGresult *res, int r)
{
    fill_ctx *c = vctx;
    at_snapshot *s = c->s;
    GROW(s->providers, s->n_providers);
    at_provider *p = &s->providers[s->n_providers];
    p->id = col(s, res, r, 0);
    p->name = col(s, res, r, 1);
    p->display_name = col(s, res, r, 2);
    p->is_active = col_bool(res, r, 3);
    at_ptrmap_put(c->index, p->id, (int32_t)s->n_providers++);
}

static void fill_endpoint(void *vctx, PGresult *res, int r)
{
    fill_ctx *c = vctx;
    at_snapshot *s = c->s;
    GROW(s->endpoints, s->n_endpoints);
    at_endpoint *e = &s->endpoints[s->n_endpoints];
    e->id = col(s, res, r, 0);
    e->provider_id = col(s, res, r, 1);
    e->api_format = col(s, res, r, 2);
    e->base_url = col(s, res, r, 3);
    e->is_active = col_bool(res, r, 4);
    at_ptrmap_put(c->index, e->id, (int32_t)s->n_endpoints++);
}

static void fill_provider_key(void *vctx, PGresult *res, int r)
{
    fill_ctx *c = vctx;
    at_snapshot *s = c->s;
    GROW(s->provider_keys, s->n_provider_keys);
    GROW(c->pkey_stored, s->n_provider_keys);
    at_provider_key *k = &s->provider_keys[s->n_provider_keys];
    k->masked = secret_masked(c, res, r, 3, &c->pkey_stored[s->n_provider_keys]);
    k->id = col(s, res, r, 0);
    k->endpoint_id = col(s, res, r, 1);
    k->name = col(s, res, r, 2);
    k->rate_multiplier = PQgetisnull(res, r, 4) ? 1.0 : strtod(PQgetvalue(res, r, 4), NULL);
    k->cache_ttl_minutes = PQgetisnull(res, r, 5) ? 5 : atoi(PQgetvalue(res, r, 5));
    k->is_active = col_bool(res, r, 6);
    at_ptrmap_put(c->index, k->id, (int32_t)s->n_provider_keys++);
}

static void fill_global_model(void *vctx, PGresult *res, int r)
{
    fill_ctx *c = vctx;
    at_snapshot *s = c->s;
    GROW(s->global_models, s->n_global_models);
    at_global_model *g = &s->global_models[s->n_global_models];
    g->id = col(s, res, r, 0);
    g->name = col(s, res, r, 1);
    g->display_name = col(s, res, r, 2);
    g->is_active = col_bool(res, r, 3);
    at_ptrmap_put(c->index, g->id, (int32_t)s->n_global_models++);
}

/* Distinct non-NULL values of one row field, via the interned pointers. */
typedef struct { const char **v; size_t n, cap; at_ptrmap seen; } id_set;

static void id_set_add(id_set *set, const char *id)
{
    if (!id || at_ptrmap_get(&set->seen, id) >= 0) return;
    at_ptrmap_put(&set->seen, id, 1);
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 64;
        set->v = realloc(set->v, set->cap * sizeof *set->v);
        if (!set->v) abort();
    }
    set->v[set->n++] = id;
}

static void id_set_free(id_set *set)
{
    free(set->v);
    at_ptrmap_free(&set->seen);
}

/* The enrichment look-ups, one per table, each by a batch of ids. */
enum { K_AKEY, K_USER, K_PROV, K_ENDP, K_PKEY, K_MODEL, K__N };
static const char *const ENRICH_SQL[K__N] = {
    [K_AKEY] = "SELECT id, user_id, name, key_encrypted, is_standalone, is_active "
               "FROM api_keys WHERE id = ANY($1::text[])",
    [K_USER] = "SELECT id, username, email, is_active, is_deleted "
               "FROM users WHERE id = ANY($1::text[])",
    [K_PROV] = "SELECT id, name, display_name, is_active "
               "FROM providers WHERE id = ANY($1::text[])",
    [K_ENDP] = "SELECT id, provider_id, api_format, base_url, is_active "
               "FROM provider_endpoints WHERE id = ANY($1::text[])",
    [K_PKEY] = "SELECT id, endpoint_id, name, api_key, rate_multiplier, cache_ttl_minutes, is_active "
               "FROM provider_api_keys WHERE id = ANY($1::text[])",
    [K_MODEL] = "SELECT id, name, display_name, is_active "
                "FROM global_models WHERE id = ANY($1::text[])",
};
static const at_pg_row_fn ENRICH_FILL[K__N] = {
    [K_AKEY] = fill_api_key, [K_USER] = fill_user, [K_PROV] = fill_provider,
    [K_ENDP] = fill_endpoint, [K_PKEY] = fill_provider_key, [K_MODEL] = fill_global_model,
};

/* Look-ups run while Redis is walked: after each batch, the ids it brought
 * that were not asked for yet go to PostgreSQL without waiting (one query in
 * flight), and answers that have arrived are read. The tables take turns, so
 * every one is asked during the walk (a fresh PostgreSQL backend takes a few
 * milliseconds over the first query of each table); when the walk ends, only
 * the last ids remain to be asked for. */
struct enricher {
    at_snapshot *s;
    at_pg *pg;                   /* NULL until there is a connection */
    fill_ctx fill;
    id_set sets[K__N];           /* every id seen, in order */
    size_t asked[K__N];          /* how many of each set were sent */
    at_ptrmap idx[K__N];         /* id -> index in the snapshot's table */
    int in_flight;               /* the table whose look-up is in flight, or -1 */
    int last_asked;              /* the table asked last (the turns go on from it) */
    bool failed;
    double during_walk_ms;       /* spent on look-ups between the walk's batches */
};

static void enricher_init(enricher *e, at_snapshot *s, at_pg *pg, const at_fernet_key *key)
{
    memset(e, 0, sizeof *e);
    e->s = s;
    e->pg = pg;
    e->fill.s = s;
    e->fill.key = key;
    if (key) at_fernet_key_digest(key, e->fill.key_digest);
    e->in_flight = -1;
    e->last_asked = K__N - 1;
    for (int k = 0; k < K__N; k++) at_ptrmap_init(&e->idx[k]);
}

static void enricher_free(enricher *e)
{
    for (int k = 0; k < K__N; k++) {
        id_set_free(&e->sets[k]);
        at_ptrmap_free(&e->idx[k]);
    }
    free(e->fill.akey_stored);
    free(e->fill.pkey_stored);
}

static void enricher_add_row(enricher *e, const at_affinity *a)
{
    id_set_add(&e->sets[K_AKEY], a->affinity_key);
    id_set_add(&e->sets[K_PROV], a->provider_id);
    id_set_add(&e->sets[K_ENDP], a->endpoint_id);
    id_set_add(&e->sets[K_PKEY], a->key_id);
    id_set_add(&e->sets[K_MODEL], a->model_name);
}

/* Read the answer in flight (when it is there, or waiting for it), then ask
 * for the next ids; with wait, until every id seen has its answer. */
static void enricher_step(enricher *e, bool wait)
{
    at_snapshot *s = e->s;
    while (e->pg && !e->failed) {
        if (e->in_flight >= 0) {
            bool pending;
            PGresult *res = at_pg_receive(e->pg, wait, &pending);
            if (pending) return;
            int k = e->in_flight;
            e->in_flight = -1;
            if (!res) { e->failed = true; return; }
            size_t had_keys = s->n_api_keys;
            e->fill.index = &e->idx[k];
            for (int i = 0, n = PQntuples(res); i < n; i++) ENRICH_FILL[k](&e->fill, res, i);
            PQclear(res);
            /* users are known only once their API keys are in */
            for (size_t i = had_keys; i < s->n_api_keys; i++) id_set_add(&e->sets[K_USER], s->api_keys[i].user_id);
        }
        int k = -1;
        for (int turn = 1; turn <= K__N && k < 0; turn++) {
            int t = (e->last_asked + turn) % K__N;
            if (e->asked[t] < e->sets[t].n) k = t;
        }
        if (k < 0) return;
        size_t n = e->sets[k].n - e->asked[k];
        if (n > AT_PG_BATCH) n = AT_PG_BATCH;
        char *array = at_pg_id_array(e->sets[k].v + e->asked[k], n);
        const char *params[1] = {array};
        int rc = at_pg_send(e->pg, ENRICH_SQL[k], 1, params);
        free(array);
        if (rc < 0) { e->failed = true; return; }
        e->asked[k] += n;
        e->in_flight = e->last_asked = k;
        if (!wait) return;
    }
}

/* Take the connection and the key being readied elsewhere, if they are
 * there now (wait false) or once they are (wait true). */
static void enricher_adopt(enricher *e, const at_snapshot_opts *opts, bool wait)
{
    if (!e->pg && opts && opts->get_pg) e->pg = opts->get_pg(opts->get_pg_ctx, wait);
    if (!e->fill.key && opts && opts->get_key) {
        e->fill.key = opts->get_key(opts->get_key_ctx, wait);
        if (e->fill.key) at_fernet_key_digest(e->fill.key, e->fill.key_digest);
    }
}

/* After each batch of the walk: ask for its new ids, read what has come. */
static void enricher_batch_done(enricher *e, const at_snapshot_opts *opts)
{
    double t0 = mono_ms();
    enricher_adopt(e, opts, false);
    enricher_step(e, false);
    e->during_walk_ms += mono_ms() - t0;
}

/* Every look-up answered: link rows to what they name, mask the secrets
 * still waiting for the key.
 * 0, or -1 (reason in s->pg_error). */
static int enricher_finish(enricher *e)
{
    at_snapshot *s = e->s;
    enricher_step(e, true);
    if (e->failed) {
        snprintf(s->pg_error, sizeof s->pg_error, "%s", at_pg_error(e->pg));
        return -1;
    }
    const at_fernet_key *key = e->fill.key;
    for (size_t i = 0; i < s->n_api_keys; i++) {
        s->api_keys[i].user = at_ptrmap_get(&e->idx[K_USER], s->api_keys[i].user_id);
        const char *st = e->fill.akey_stored[i];
        if (st) s->api_keys[i].masked = masked(s, key, e->fill.key_digest, st, strlen(st));
    }
    for (size_t i = 0; i < s->n_provider_keys; i++) {
        const char *st = e->fill.pkey_stored[i];
        if (st) s->provider_keys[i].masked = masked(s, key, e->fill.key_digest, st, strlen(st));
    }
    for (size_t i = 0; i < s->n_rows; i++) {
        at_affinity *a = &s->rows[i];
        a->api_key = at_ptrmap_get(&e->idx[K_AKEY], a->affinity_key);
        a->user = a->api_key >= 0 ? s->api_keys[a->api_key].user : -1;
        a->provider = at_ptrmap_get(&e->idx[K_PROV], a->provider_id);
        a->endpoint = at_ptrmap_get(&e->idx[K_ENDP], a->endpoint_id);
        a->provider_key = at_ptrmap_get(&e->idx[K_PKEY], a->key_id);
        a->global_model = at_ptrmap_get(&e->idx[K_MODEL], a->model_name);
    }
    return 0;
}

/* The walk failed: let the look-up in flight finish so the connection can
 * be used again. */
static void enricher_abandon(enricher *e)
{
    if (e->pg && e->in_flight >= 0) {
        bool pending;
        PGresult *res = at_pg_receive(e->pg, true, &pending);
        PQclear(res);
    }
}

static void drop_enrichment(at_snapshot *s)
{
    s->n_users = s->n_api_keys = s->n_providers = s->n_endpoints = 0;
    s->n_provider_keys = s->n_global_models = 0;
    for (size_t i = 0; i < s->n_rows; i++) {
        at_affinity *a = &s->rows[i];
        a->api_key = a->user = a->provider = a->endpoint = a->provider_key = a->global_model = -1;
    }
}

/* ---- INFO ---------------------------------------------------------------- */

static long long info_ll(const char *text, const char *field)
{
    size_t fl = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') return strtoll(p + fl + 1, NULL, 10);
    }
    return -1;
}

static void info_str(const char *text, const char *field, char *out, size_t outlen)
{
    size_t fl = strlen(field);
    out[0] = '\0';
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= outlen) n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

void at_redis_info_parse(const char *text, at_redis_info *info)
{
    info_str(text, "role", info->role, sizeof info->role);
    info_str(text, "redis_version", info->version, sizeof info->version);
    info->used_memory = info_ll(text, "used_memory");
    info->used_memory_peak = info_ll(text, "used_memory_peak");
    info->maxmemory = info_ll(text, "maxmemory");
    info->connected_clients = info_ll(text, "connected_clients");
    info->blocked_clients = info_ll(text, "blocked_clients");
    info->ops_per_sec = info_ll(text, "instantaneous_ops_per_sec");
    info->keyspace_hits = info_ll(text, "keyspace_hits");
    info->keyspace_misses = info_ll(text, "keyspace_misses");
    info->evicted_keys = info_ll(text, "evicted_keys");
    info->expired_keys = info_ll(text, "expired_keys");
    info->total_commands = info_ll(text, "total_commands_processed");
    info->uptime_s = info_ll(text, "uptime_in_seconds");
}

static void read_info(at_snapshot *s, at_redis *r)
{
    redisReply *rep = at_redis_commandf(r, "INFO");
    if (rep && rep->type == REDIS_REPLY_STRING) {
        at_redis_info_parse(rep->str, &s->info);
        s->has_info = true;
    }
    if (rep) freeReplyObject(rep);
    s->info.dbsize = -1;
    rep = at_redis_commandf(r, "DBSIZE");
    if (rep && rep->type == REDIS_REPLY_INTEGER) s->info.dbsize = rep->integer;
    if (rep) freeReplyObject(rep);
}

at_snapshot *at_snapshot_build(at_redis *r, at_pg *pg, const at_fernet_key *key,
                               const at_snapshot_opts *opts, char *err, size_t errlen)
{
    double t0 = mono_ms();
    at_snapshot *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->arena = at_arena_new();
    at_interner_init(&s->strings, s->arena);
    enricher en;
    enricher_init(&en, s, pg, key);
    walk_ctx w = {.s = s, .enrich = &en, .opts = opts};
    /* a small key space is walked in fewer, larger batches (fewer round
     * trips); a big one in batches of 1000 so no command holds Redis long */
    long long keys = -1;
    redisReply *dbs = at_redis_commandf(r, "DBSIZE");
    if (dbs && dbs->type == REDIS_REPLY_INTEGER) keys = dbs->integer;
    if (dbs) freeReplyObject(dbs);
    at_walk_opts wo = {.values = true, .count = keys >= 0 && keys <= 100000 ? 5000 : 1000,
                       .pause_us = opts ? opts->pause_us : 0};
    if (at_redis_walk(r, &wo, collect, &w) < 0 || w.cancelled) {
        if (w.cancelled) snprintf(err, errlen, "cancelled");
        else snprintf(err, errlen, "Redis %s: %s", at_redis_describe(r), at_redis_error(r));
        enricher_abandon(&en);
        enricher_free(&en);
        at_snapshot_free(s);
        return NULL;
    }
    s->taken_at = wall_now();
    /* the walk's own time (the refresh pacer's measure of Redis work),
     * without the look-ups done between its batches */
    s->walk_ms = mono_ms() - t0 - en.during_walk_ms;
    for (int i = 0; i < AT_REC__COUNT; i++)
        if (i != AT_REC_OK && i != AT_REC_GONE) s->n_skipped += s->skipped[i];
    if (!opts || opts->want_info) read_info(s, r);
    enricher_adopt(&en, opts, true);
    if (en.pg) {
        s->enriched = enricher_finish(&en) == 0;
        if (!s->enriched) drop_enrichment(s);
    } else {
        snprintf(s->pg_error, sizeof s->pg_error, "PostgreSQL not connected");
        drop_enrichment(s);
    }
    enricher_free(&en);
    s->build_ms = mono_ms() - t0;
    return s;
}

void at_snapshot_free(at_snapshot *s)
{
    if (!s) return;
    at_big_free(s->rows, s->rows_cap * sizeof *s->rows);
    free(s->users);
    free(s->api_keys);
    free(s->providers);
    free(s->endpoints);
    free(s->provider_keys);
    free(s->global_models);
    at_interner_free(&s->strings);
    at_arena_free(s->arena);
    free(s);
}

const at_api_key *at_row_api_key(const at_snapshot *s, const at_affinity *a)
{ return a->api_key >= 0 ? &s->api_keys[a->api_key] : NULL; }
const at_user *at_row_user(const at_snapshot *s, const at_affinity *a)
{ return a->user >= 0 ? &s->users[a->user] : NULL; }
const at_provider *at_row_provider(const at_snapshot *s, const at_affinity *a)
{ return a->provider >= 0 ? &s->providers[a->provider] : NULL; }
const at_endpoint *at_row_endpoint(const at_snapshot *s, const at_affinity *a)
{ return a->endpoint >= 0 ? &s->endpoints[a->endpoint] : NULL; }
const at_provider_key *at_row_provider_key(const at_snapshot *s, const at_affinity *a)
{ return a->provider_key >= 0 ? &s->provider_keys[a->provider_key] : NULL; }
const at_global_model *at_row_global_model(const at_snapshot *s, const at_affinity *a)
{ return a->global_model >= 0 ? &s->global_models[a->global_model] : NULL; }

const char *at_row_model_label(const at_snapshot *s, const at_affinity *a)
{
    const at_global_model *g = at_row_global_model(s, a);
    return g && g->name ? g->name : a->model_name;
}
