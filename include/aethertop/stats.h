/* stats.h — the figures every viewer sees the same (SPEC section 6): counts
 * and TTL buckets of live affinities from one snapshot, and rates between two
 * successive snapshots (new, gone, switches, reuse). */
#ifndef AETHERTOP_STATS_H
#define AETHERTOP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include "aethertop/snapshot.h"

typedef struct {
    const char *id;              /* raw value (snapshot string) */
    const char *label;           /* display name when known, else id */
    long long count;             /* live affinities */
    long long requests;          /* sum of request_count */
} at_count;

typedef struct { at_count *items; size_t n; } at_count_list;

#define AT_TTL_BUCKETS 5
extern const char *const at_ttl_bucket_names[AT_TTL_BUCKETS]; /* "lt_30s".. "gte_5m" */

typedef struct {
    double now;
    long long total_keys;        /* affinity keys read */
    long long active;            /* live: expire_at in the future (or absent) */
    long long expired_present;   /* expire_at passed, key still in Redis */
    long long unreadable;        /* skipped records */
    long long total_requests;    /* sum of request_count over live */
    at_count_list by_format, by_provider, by_endpoint, by_provider_key, by_model, by_user;
    long long ttl_buckets[AT_TTL_BUCKETS];
    /* between the previous snapshot and this one */
    bool has_rates;
    double interval_s;
    long long new_count, gone_count, switch_count, reuse_count;
    double new_per_s, gone_per_s, switch_per_s, reuse_per_s;
} at_stats;

/* prev may be NULL. Lists sorted by count descending, then id. */
void at_stats_compute(const at_snapshot *cur, const at_snapshot *prev, double now, at_stats *st);
void at_stats_free(at_stats *st);

#endif
