/* affinity.h — one cache-affinity record (SPEC section 2): the Redis key
 * cache_affinity:{affinity_key}:{api_format}:{model_name} and its JSON value,
 * parsed the reference's way (JSON fields win over key parts), and the walk
 * over all of them with SCAN + pipelined MGET. */
#ifndef AETHERTOP_AFFINITY_H
#define AETHERTOP_AFFINITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aethertop/strmap.h"

#define AT_AFFINITY_PREFIX "cache_affinity:"

typedef enum {
    AT_REC_OK = 0,
    AT_REC_GONE,        /* key vanished between SCAN and MGET: not an error */
    AT_REC_NOT_JSON,    /* value is not JSON (incl. NaN) */
    AT_REC_NOT_OBJECT,  /* valid JSON but not an object */
    AT_REC_BAD_UTF8,    /* key or value bytes are not UTF-8 */
    AT_REC_WRONG_TYPE,  /* a number where an id belongs, a text expire_at, etc. (see affinity.c) */
    AT_REC_BAD_KEY,     /* key lacks the affinity_key part (the value cannot give one) */
    AT_REC__COUNT
} at_record_status;

const char *at_record_status_name(at_record_status s);   /* for people */
const char *at_record_status_id(at_record_status s);     /* for JSON: not_json, ... */

/* Indexes into the snapshot's look-up tables; -1 = no row. */
typedef struct {
    const char *redis_key;      /* full key (arena) */
    const char *affinity_key;   /* interned; the user's api_keys.id, always the key's part 1 */
    const char *api_format;     /* interned, may be NULL */
    const char *model_name;     /* interned, raw stored value (usually a GlobalModel id) */
    const char *provider_id;    /* interned, may be NULL */
    const char *endpoint_id;    /* interned, may be NULL */
    const char *key_id;         /* interned, may be NULL (provider key id) */
    double created_at;          /* NAN when absent/null */
    double expire_at;           /* NAN when absent/null */
    int64_t request_count;      /* 0 when absent, null or not a number; clamped to 15 digits, fraction dropped */
    /* Interned JSON object of the fields the reference shows otherwise than
     * the typed fields above say (it echoes the value): created_at that is
     * not a number, expire_at that is a
     * boolean or a falsy non-number (sorted as 1 for true, else as absent),
     * request_count that is null, not a number, fractional or past the
     * clamp. NULL when there are none. */
    const char *odd;
    int32_t api_key, user, provider, endpoint, provider_key, global_model;
} at_affinity;

/* Parse one key/value into row (strings interned into in/arena).
 * val NULL = key gone. */
at_record_status at_affinity_parse(at_interner *in, const char *key, size_t klen,
                                   const char *val, size_t vlen, at_affinity *row);
/* The same through the general JSON reader only (at_affinity_parse takes a
 * faster path for the flat objects the gateway writes and falls back to
 * this for anything else); for tests that compare the two. */
at_record_status at_affinity_parse_general(at_interner *in, const char *key, size_t klen,
                                           const char *val, size_t vlen, at_affinity *row);

/* Walk every cache_affinity:* key. batch_fn receives parallel arrays of keys
 * and values (value NULL when the key vanished). Returns 0 or -1 (Redis
 * failure, reason in at_redis_error). pause_us: sleep between batches. */
struct at_redis;
typedef int (*at_walk_fn)(void *ctx, size_t n, const char *const *keys, const size_t *klens,
                          const char *const *vals, const size_t *vlens);
typedef struct {
    const char *match;   /* default "cache_affinity:*" */
    int count;           /* SCAN COUNT, default 1000 */
    unsigned pause_us;   /* pacing between batches */
    bool values;         /* MGET the values (false: keys only) */
    bool exclusive;      /* the callback sends its own commands on this connection:
                            nothing may be in flight while it runs */
} at_walk_opts;
int at_redis_walk(struct at_redis *r, const at_walk_opts *opts, at_walk_fn fn, void *ctx);

#endif
