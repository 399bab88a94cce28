/* insight.c — prompt-cache effectiveness and TTL advice, computed inside
 * PostgreSQL from the gateway's `usage` table: one range scan on the
 * created_at index per report, grouped by GROUPING SETS for the cache
 * figures; for TTL advice each user's request times, whose intervals and
 * percentiles (as percentile_cont computes them) are worked out here; names
 * joined after aggregation. */
#include "aethertop/insight.h"
#include "aethertop/pg.h"

#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

long at_parse_window(const char *text)
{
    if (!text || !*text) return -1;
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || v <= 0 || v > 100000) return -1;
    long unit = 0;
    if (!*end || strcmp(end, "s") == 0) unit = 1;
    else if (strcmp(end, "m") == 0) unit = 60;
    else if (strcmp(end, "h") == 0) unit = 3600;
    else if (strcmp(end, "d") == 0) unit = 86400;
    if (!unit || v > 400L * 86400 / unit) return -1;
    return v * unit;
}

static char *val(PGresult *res, int r, int c)
{
    return strdup(PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
}

static long long ll(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? 0 : strtoll(PQgetvalue(res, r, c), NULL, 10);
}

static double dbl(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? 0 : strtod(PQgetvalue(res, r, c), NULL);
}

static void push(at_hits_row **arr, size_t *n, at_hits_row row)
{
    *arr = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!*arr) abort();
    (*arr)[(*n)++] = row;
}

/* Run one report query with a single numeric parameter, timing it. */
static PGresult *timed_query_as(at_pg *pg, const char *sql, double param, bool binary, double *ms, char *err,
                                size_t errlen)
{
    char text[32];
    snprintf(text, sizeof text, "%.6f", param);
    const char *params[] = {text};
    double t0 = mono_ms();
    PGresult *res = binary ? at_pg_query_binary(pg, sql, 1, params) : at_pg_query(pg, sql, 1, params);
    *ms = mono_ms() - t0;
    if (!res) snprintf(err, errlen, "%s", at_pg_error(pg));
    return res;
}

static PGresult *timed_query(at_pg *pg, const char *sql, double param, double *ms, char *err, size_t errlen)
{
    return timed_query_as(pg, sql, param, false, ms, err, errlen);
}

int at_hits_build(at_pg *pg, long window_s, at_hits_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->window_s = window_s;
    /* grouping: 0 = total, 1 = provider, 2 = model, 3 = user */
    /* aggregate the window's rows alone (one range scan on ix_usage_created_at),
     * then look up names for the few hundred groups, not for every row; a
     * provider's name comes from `providers`, except for the rows of deleted
     * providers (provider_id set NULL), which keep only their own copy: they
     * are grouped by that name, one row per deleted provider */
    static const char sql[] =
        "SELECT a.g, COALESCE(a.provider_id, ''), COALESCE(a.model, ''), COALESCE(a.user_id, ''), "
        "       COALESCE(NULLIF(p.display_name, ''), p.name, a.deleted_provider_name, a.provider_id), us.username, "
        "       a.requests, a.cached, a.input, a.cache_read, a.cache_creation, a.cache_read_cost "
        "FROM (SELECT CASE WHEN GROUPING(u.provider_id) = 0 THEN 1 WHEN GROUPING(u.model) = 0 THEN 2 "
        "                  WHEN GROUPING(u.user_id) = 0 THEN 3 ELSE 0 END AS g, "
        "             u.provider_id, u.model, u.user_id, "
        "             (CASE WHEN u.provider_id IS NULL THEN u.provider END) AS deleted_provider_name, "
        "             count(*) AS requests, count(*) FILTER (WHERE u.cache_read_input_tokens > 0) AS cached, "
        "             COALESCE(sum(u.input_tokens), 0) AS input, "
        "             COALESCE(sum(u.cache_read_input_tokens), 0) AS cache_read, "
        "             COALESCE(sum(u.cache_creation_input_tokens), 0) AS cache_creation, "
        "             COALESCE(sum(u.cache_read_cost_usd), 0) AS cache_read_cost "
        "      FROM usage u "
        "      WHERE u.created_at >= now() - make_interval(secs => $1::double precision) "
        "        AND u.status = 'completed' "
        "      GROUP BY GROUPING SETS ((u.provider_id, (CASE WHEN u.provider_id IS NULL THEN u.provider END)), "
        "                              (u.model), (u.user_id), ())) a "
        "LEFT JOIN providers p ON p.id = a.provider_id "
        "LEFT JOIN users us ON us.id = a.user_id "
        "ORDER BY 1, 7 DESC, 2, 3, 4, 5";
    PGresult *res = timed_query(pg, sql, (double)window_s, &out->query_ms, err, errlen);
    if (!res) return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        int g = atoi(PQgetvalue(res, r, 0));
        at_hits_row row = {0};
        row.requests = ll(res, r, 6);
        row.cached_requests = ll(res, r, 7);
        row.input_tokens = ll(res, r, 8);
        row.cache_read_tokens = ll(res, r, 9);
        row.cache_creation_tokens = ll(res, r, 10);
        row.cache_read_cost_usd = dbl(res, r, 11);
        long long denom = row.input_tokens + row.cache_read_tokens;
        row.token_hit_rate = denom > 0 ? (double)row.cache_read_tokens / (double)denom : -1;
        row.savings_usd = row.cache_read_cost_usd * 9.0;
        switch (g) {
        case 1: row.id = val(res, r, 1); row.label = val(res, r, 4); push(&out->by_provider, &out->n_by_provider, row); break;
        case 2: row.id = val(res, r, 2); row.label = val(res, r, 2); push(&out->by_model, &out->n_by_model, row); break;
        case 3: row.id = val(res, r, 3); row.label = val(res, r, 5); push(&out->by_user, &out->n_by_user, row); break;
        default: row.id = strdup(""); row.label = strdup("total"); out->total = row; break;
        }
    }
    if (!out->total.id) { out->total.id = strdup(""); out->total.label = strdup("total"); out->total.token_hit_rate = -1; }
    PQclear(res);
    return 0;
}

static void row_free(at_hits_row *r)
{
    free(r->id);
    free(r->label);
}

void at_hits_free(at_hits_report *r)
{
    row_free(&r->total);
    for (size_t i = 0; i < r->n_by_provider; i++) row_free(&r->by_provider[i]);
    for (size_t i = 0; i < r->n_by_model; i++) row_free(&r->by_model[i]);
    for (size_t i = 0; i < r->n_by_user; i++) row_free(&r->by_user[i]);
    free(r->by_provider);
    free(r->by_model);
    free(r->by_user);
    memset(r, 0, sizeof *r);
}

int at_ttl_recommend(double p75_min, double p90_min)
{
    if (p90_min <= 5) return 5;
    if (p75_min <= 15) return 15;
    if (p75_min <= 30) return 30;
    return 60;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Linear interpolation between the closest ranks, as percentile_cont does;
 * v sorted, n >= 1. */
static double percentile_sorted(const double *v, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)pos;
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (pos - (double)lo);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode a run of 8-byte big-endian IEEE doubles (float8send's form) into
 * v (capacity cap), skipping non-finite values; returns how many. */
static size_t decode_float8_run(const unsigned char *p, size_t len, double *v, size_t cap)
{
    size_t n = 0;
    for (size_t off = 0; off + 8 <= len && n < cap; off += 8) {
        uint64_t bits = (uint64_t)be32(p + off) << 32 | be32(p + off + 4);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (isfinite(x)) v[n++] = x;
    }
    return n;
}

static int cmp_ttl_user(const void *a, const void *b)
{
    const at_ttl_user *x = a, *y = b;
    if (x->requests != y->requests) return x->requests > y->requests ? -1 : 1;
    return strcmp(x->user_id, y->user_id);
}

int at_ttl_advice_build(at_pg *pg, double hours, at_ttl_advice *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->hours = hours;
    /* PostgreSQL hands over each user's request times (users with at least
     * three requests, i.e. two intervals, in the window) as one bytea of
     * 8-byte doubles (float8send: no number formatting on either side, and
     * string_agg keeps no per-group memory context as array_agg does),
     * grouped by hashing user_id over one range scan; the intervals and their
     * percentiles are worked out here. A window function partitioned by user
     * would sort every row by user_id under the database's collation, which
     * costs several times more. */
    static const char sql[] =
        "SELECT a.user_id, us.username, a.times "
        "FROM (SELECT user_id, string_agg(float8send(date_part('epoch', created_at)), ''::bytea) AS times "
        "      FROM usage "
        "      WHERE created_at >= now() - make_interval(secs => $1::double precision * 3600) "
        "        AND user_id IS NOT NULL AND status = 'completed' "
        "      GROUP BY user_id HAVING count(*) >= 3) a "
        "LEFT JOIN users us ON us.id = a.user_id";
    double t0 = mono_ms();
    PGresult *res = timed_query_as(pg, sql, hours, true, &out->query_ms, err, errlen);
    if (!res) return -1;
    int n = PQntuples(res);
    out->users = calloc((size_t)n + 1, sizeof *out->users);
    double *times = NULL;
    size_t cap = 0;
    for (int r = 0; r < n; r++) {
        const unsigned char *bin = (const unsigned char *)PQgetvalue(res, r, 2);
        size_t len = (size_t)PQgetlength(res, r, 2);
        if (len / 8 + 1 > cap) {
            cap = len / 8 + 1;
            times = realloc(times, cap * sizeof *times);
            if (!times) abort();
        }
        size_t nt = decode_float8_run(bin, len, times, cap);
        if (nt < 3) continue;
        qsort(times, nt, sizeof *times, cmp_double);
        for (size_t i = 0; i + 1 < nt; i++) times[i] = (times[i + 1] - times[i]) / 60.0;
        qsort(times, nt - 1, sizeof *times, cmp_double);
        at_ttl_user *u = &out->users[out->n_users++];
        u->user_id = val(res, r, 0);
        u->username = val(res, r, 1);
        u->requests = (long long)nt;
        u->p50_min = percentile_sorted(times, nt - 1, 0.5);
        u->p75_min = percentile_sorted(times, nt - 1, 0.75);
        u->p90_min = percentile_sorted(times, nt - 1, 0.9);
        u->recommended_ttl_min = at_ttl_recommend(u->p75_min, u->p90_min);
        int b = u->recommended_ttl_min == 5 ? 0 : u->recommended_ttl_min == 15 ? 1 : u->recommended_ttl_min == 30 ? 2 : 3;
        out->bucket_users[b]++;
    }
    free(times);
    PQclear(res);
    /* busiest users first */
    qsort(out->users, out->n_users, sizeof *out->users, cmp_ttl_user);
    out->query_ms = mono_ms() - t0;
    return 0;
}

void at_ttl_advice_free(at_ttl_advice *a)
{
    for (size_t i = 0; i < a->n_users; i++) {
        free(a->users[i].user_id);
        free(a->users[i].username);
    }
    free(a->users);
    memset(a, 0, sizeof *a);
}
