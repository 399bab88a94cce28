/* snapshot.h — one immutable, consistent view of the affinity layer: every
 * affinity record from Redis, enriched with the PostgreSQL rows it names
 * (users, API keys, providers, endpoints, provider keys, global models),
 * Redis INFO figures, and counts of records that could not be read.
 * Built off the UI thread; never modified after at_snapshot_build returns. */
#ifndef AETHERTOP_SNAPSHOT_H
#define AETHERTOP_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aethertop/affinity.h"
#include "aethertop/arena.h"
#include "aethertop/strmap.h"

struct at_redis;
struct at_pg;
struct at_fernet_key;

typedef struct { const char *id, *username, *email; bool is_active, is_deleted; } at_user;
typedef struct {
    const char *id, *user_id, *name;
    const char *masked;          /* decrypt_and_mask(key_encrypted) or NULL */
    bool is_standalone, is_active;
    int32_t user;                /* index into users or -1 */
} at_api_key;
typedef struct { const char *id, *name, *display_name; bool is_active; } at_provider;
typedef struct { const char *id, *provider_id, *api_format, *base_url; bool is_active; } at_endpoint;
typedef struct {
    const char *id, *endpoint_id, *name;
    const char *masked;          /* decrypt_and_mask(api_key) or NULL */
    double rate_multiplier;
    int cache_ttl_minutes;
    bool is_active;
} at_provider_key;
typedef struct { const char *id, *name, *display_name; bool is_active; } at_global_model;

/* Redis server health from INFO and DBSIZE. -1 = unknown. */
typedef struct {
    char role[16];               /* "master" / "slave" */
    char version[32];
    long long used_memory, used_memory_peak, maxmemory;
    long long connected_clients, blocked_clients;
    long long ops_per_sec;
    long long keyspace_hits, keyspace_misses, evicted_keys, expired_keys;
    long long total_commands;
    long long dbsize;
    long long uptime_s;
} at_redis_info;

typedef struct at_snapshot {
    at_arena *arena;
    at_interner strings;
    double taken_at;             /* epoch seconds, when the walk ended */
    double build_ms;             /* how long the whole build took */
    double walk_ms;              /* of which walking Redis (SCAN + MGET + parse) */
    at_affinity *rows;           /* a bigmem block of rows_cap rows */
    size_t n_rows, rows_cap;
    size_t skipped[AT_REC__COUNT]; /* unreadable records by reason */
    size_t n_skipped;            /* sum of the error reasons (not GONE) */

    at_user *users; size_t n_users;
    at_api_key *api_keys; size_t n_api_keys;
    at_provider *providers; size_t n_providers;
    at_endpoint *endpoints; size_t n_endpoints;
    at_provider_key *provider_keys; size_t n_provider_keys;
    at_global_model *global_models; size_t n_global_models;

    bool enriched;               /* PostgreSQL answered */
    char pg_error[256];          /* why not, when !enriched */
    at_redis_info info;
    bool has_info;
} at_snapshot;

typedef struct {
    unsigned pause_us;           /* pacing between SCAN batches */
    bool want_info;              /* read INFO + DBSIZE */
    /* When the key argument is NULL: a key still being derived elsewhere
     * (PBKDF2 runs while Redis is walked). Asked with wait false after each
     * batch (the key if it is ready now, else NULL) and with wait true once
     * the walk is done (NULL: masked keys show as absent). */
    const struct at_fernet_key *(*get_key)(void *ctx, bool wait);
    void *get_key_ctx;
    /* When the pg argument is NULL: a connection still being opened elsewhere
     * (the console connects to PostgreSQL while Redis is walked). Asked with
     * wait false after each batch of the walk (the connection if it is open
     * now, else NULL), and with wait true once the walk is done (NULL: raw
     * ids only). */
    struct at_pg *(*get_pg)(void *ctx, bool wait);
    void *get_pg_ctx;
    /* Set (by another thread): stop between batches; the build returns
     * NULL with err "cancelled". */
    const atomic_bool *cancel;
} at_snapshot_opts;

/* Build a snapshot. pg may be NULL (raw ids only). Returns NULL on a Redis
 * failure with the reason in err. */
at_snapshot *at_snapshot_build(struct at_redis *r, struct at_pg *pg,
                               const struct at_fernet_key *key, const at_snapshot_opts *opts,
                               char *err, size_t errlen);
void at_snapshot_free(at_snapshot *s);

/* Row lookups (NULL when absent). */
const at_api_key *at_row_api_key(const at_snapshot *s, const at_affinity *a);
const at_user *at_row_user(const at_snapshot *s, const at_affinity *a);
const at_provider *at_row_provider(const at_snapshot *s, const at_affinity *a);
const at_endpoint *at_row_endpoint(const at_snapshot *s, const at_affinity *a);
const at_provider_key *at_row_provider_key(const at_snapshot *s, const at_affinity *a);
const at_global_model *at_row_global_model(const at_snapshot *s, const at_affinity *a);
/* The reference's shown model name: GlobalModel.name, else the raw value. */
const char *at_row_model_label(const at_snapshot *s, const at_affinity *a);

/* Parse INFO text into info. */
void at_redis_info_parse(const char *text, at_redis_info *info);

#endif
