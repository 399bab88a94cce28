/* bench_core.c — measurements of the core at scale, one subcommand each,
 * printing one "key value" line per figure for bench/run to collect:
 *   refresh  N     full refresh (walk + parse + enrich + filter + sort + first page), N runs
 *   search         typing in search: per-keystroke re-filter + sort + first page
 *   load SECONDS   steady-state refreshes with the adaptive interval; Redis busy share
 *   clear-all      clear all while a second client PINGs (max wait)
 *   ping SECONDS   the PING probe alone (what the machine itself makes it wait)
 *   clear-provider clear one provider while another thread re-points affinities;
 *                  counts affinities wrongly deleted
 * Connection settings come from REDIS_URL / DATABASE_URL like aethertop. */
#include "aethertop/bigmem.h"
#include "aethertop/clear.h"
#include "aethertop/config.h"
#include "aethertop/pg.h"
#include "aethertop/query.h"
#include "aethertop/redis.h"
#include "aethertop/refresh.h"
#include "aethertop/report.h"
#include "aethertop/secret.h"
#include "aethertop/snapshot.h"
#include "aethertop/stats.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *env_lookup(const char *n) { return getenv(n); }

static at_config cfg;
static at_fernet_key fkey;

static at_redis *redis_or_die(void)
{
    char err[512];
    at_redis *r = at_redis_open(&cfg, err, sizeof err);
    if (!r) { fprintf(stderr, "bench: %s\n", err); exit(3); }
    return r;
}

static at_pg *pg_or_die(void)
{
    char err[512];
    at_pg *pg = at_pg_open(&cfg, err, sizeof err);
    if (!pg) { fprintf(stderr, "bench: %s\n", err); exit(3); }
    return pg;
}

static long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0) v = atol(line + fl + 1);
    if (f) fclose(f);
    return v;
}

static at_snapshot *build(at_redis *r, at_pg *pg)
{
    char err[512];
    at_snapshot_opts so = {.want_info = true};
    at_snapshot *s = at_snapshot_build(r, pg, &fkey, &so, err, sizeof err);
    if (!s) { fprintf(stderr, "bench: %s\n", err); exit(3); }
    return s;
}

/* Render one page of rows (the strings a page shows). */
static void render_page(const at_snapshot *s, const at_selection *sel)
{
    for (size_t i = 0; i < sel->n && i < 40; i++) cJSON_Delete(at_report_list_item(s, &s->rows[sel->idx[i]]));
}

/* What a refresh does: live rows, default sort, the first page. */
static size_t first_page(const at_snapshot *s, at_selection *out)
{
    at_filter f = {.live_only = true, .now = wall_now()};
    at_query_filter(s, &f, out);
    at_query_sort(s, out, AT_SORT_DEFAULT);
    render_page(s, out);
    return out->n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_refresh(int runs)
{
    at_redis *r = redis_or_die();
    at_pg *pg = pg_or_die();
    for (int i = 0; i < runs; i++) {
        double t0 = mono_ms();
        at_snapshot *s = build(r, pg);
        at_selection sel;
        size_t n = first_page(s, &sel);
        double ms = mono_ms() - t0;
        printf("refresh_ms %.1f walk_ms %.1f build_ms %.1f rows %zu live %zu arena_mb %.1f rss_mb %.1f\n", ms,
               s->walk_ms, s->build_ms, s->n_rows, n, at_arena_bytes(s->arena) / 1048576.0,
               rss_kb("VmRSS:") / 1024.0);
        fflush(stdout);
        at_selection_free(&sel);
        at_snapshot_free(s);
    }
    printf("peak_rss_mb %.1f\n", rss_kb("VmHWM:") / 1024.0);
    at_pg_close(pg);
    at_redis_close(r);
    return 0;
}

/* Type queries one character at a time, as an engineer would. */
static int bench_search(void)
{
    at_redis *r = redis_or_die();
    at_pg *pg = pg_or_die();
    at_snapshot *s = build(r, pg);
    /* queries: a username, part of an email, a provider id prefix, a key name */
    const char *queries[8];
    int nq = 0;
    char buf[4][128];
    if (s->n_users) { snprintf(buf[0], sizeof buf[0], "%s", s->users[s->n_users / 2].username); queries[nq++] = buf[0]; }
    if (s->n_users) { snprintf(buf[1], sizeof buf[1], "%.8s", s->users[s->n_users / 3].email); queries[nq++] = buf[1]; }
    if (s->n_providers) { snprintf(buf[2], sizeof buf[2], "%.6s", s->providers[0].id); queries[nq++] = buf[2]; }
    queries[nq++] = "zzz-no-such-thing";
    /* the refresh sorted the live rows once; filtering keeps that order, so a
     * keystroke never sorts */
    at_selection base;
    first_page(s, &base);
    double *times = malloc(4096 * sizeof *times);
    size_t nt = 0;
    for (int q = 0; q < nq; q++) {
        size_t len = strlen(queries[q]);
        at_selection prev = {0};
        bool have_prev = false;
        at_keyword prev_kw = {0};
        for (size_t k = 1; k <= len; k++) {
            /* one keystroke = one whole character */
            if (k < len && ((unsigned char)queries[q][k] & 0xC0) == 0x80) continue;
            char typed[128];
            memcpy(typed, queries[q], k);
            typed[k] = '\0';
            double t0 = mono_ms();
            at_keyword kw;
            at_keyword_resolve_local(s, typed, &kw);
            /* a growing substring query narrows the previous result */
            bool narrow = have_prev && kw.kind == AT_MATCH_SUBSTRING && prev_kw.kind == AT_MATCH_SUBSTRING;
            at_selection sel;
            at_filter f = {.keyword = &kw, .live_only = true, .now = wall_now(), .within = narrow ? &prev : &base};
            at_query_filter(s, &f, &sel);
            render_page(s, &sel);
            times[nt++] = mono_ms() - t0;
            if (getenv("BENCH_VERBOSE")) fprintf(stderr, "%-20s %zu rows %.2f ms\n", typed, sel.n, times[nt - 1]);
            if (have_prev) { at_selection_free(&prev); at_keyword_free(&prev_kw); }
            prev = sel;
            prev_kw = kw;
            have_prev = true;
        }
        if (have_prev) { at_selection_free(&prev); at_keyword_free(&prev_kw); }
    }
    qsort(times, nt, sizeof *times, cmp_double);
    printf("keystrokes %zu rows %zu\n", nt, s->n_rows);
    printf("keystroke_median_ms %.2f\n", times[nt / 2]);
    printf("keystroke_p99_ms %.2f\n", times[(size_t)((nt - 1) * 0.99)]);
    printf("keystroke_max_ms %.2f\n", times[nt - 1]);
    free(times);
    at_selection_free(&base);
    at_snapshot_free(s);
    at_pg_close(pg);
    at_redis_close(r);
    return 0;
}

/* Sum of usec over all commands in INFO commandstats. */
static double redis_busy_usec(at_redis *r)
{
    redisReply *rep = at_redis_commandf(r, "INFO commandstats");
    double total = 0;
    if (rep && rep->type == REDIS_REPLY_STRING)
        for (const char *p = strstr(rep->str, "usec="); p; p = strstr(p + 5, "usec="))
            if (p[-1] == ',') total += atof(p + 5);
    if (rep) freeReplyObject(rep);
    return total;
}

static int bench_load(double seconds, double delay)
{
    at_redis *r = redis_or_die();
    at_redis *probe = redis_or_die();
    at_pg *pg = pg_or_die();
    at_refresh_pacer pacer;
    at_refresh_pacer_init(&pacer, delay);
    double busy0 = redis_busy_usec(probe), t_start = mono_ms(), end = t_start + seconds * 1e3;
    int refreshes = 0;
    while (mono_ms() < end) {
        double t0 = mono_ms();
        at_snapshot_opts so = {.want_info = true, .pause_us = at_refresh_pacer_pause_us(&pacer)};
        char err[512];
        at_snapshot *s = at_snapshot_build(r, pg, &fkey, &so, err, sizeof err);
        if (!s) { fprintf(stderr, "bench: %s\n", err); return 3; }
        at_refresh_pacer_done(&pacer, s->walk_ms / 1e3, s->n_rows);
        at_snapshot_free(s);
        refreshes++;
        double wait_ms = at_refresh_pacer_interval(&pacer) * 1e3 - (mono_ms() - t0);
        if (wait_ms > 0) usleep((useconds_t)(wait_ms * 1e3));
    }
    double wall_us = (mono_ms() - t_start) * 1e3;
    double busy = redis_busy_usec(probe) - busy0;
    printf("refreshes %d interval_s %.2f\n", refreshes, at_refresh_pacer_interval(&pacer));
    printf("redis_busy_share_pct %.2f\n", 100.0 * busy / wall_us);
    at_pg_close(pg);
    at_redis_close(probe);
    at_redis_close(r);
    return 0;
}

/* ---- clears under a PING probe -------------------------------------------- */

static atomic_bool stop_flag;
static atomic_int probe_phase;       /* a PING sent in an earlier phase does not count */

/* how many PINGs of the phase waited longer than each of these (ms) */
static const double PING_BUCKETS[] = {2, 5, 10, 15, 20};
#define N_PING_BUCKETS (sizeof PING_BUCKETS / sizeof PING_BUCKETS[0])

/* The probe's account of a phase: the longest wait and the counts over
 * each bucket. */
typedef struct {
    _Atomic double max_ms;
    atomic_long count, over[N_PING_BUCKETS];
} probe;

static probe target_probe;
static double max_ping(void) { return atomic_load(&target_probe.max_ms); }

/* Every PING of a phase that waited over SLOW_PING_MS: when it was sent
 * (CLOCK_MONOTONIC, ms) and how long it waited, for measure.py to set beside
 * the times the machine did not run Redis's core (perf's samples). Written
 * by the probe thread only, read after it has stopped or between phases. */
#define SLOW_PING_MS 5.0
#define SLOW_PINGS_MAX 65536
static struct { double t0, ms; int phase; } slow_pings[SLOW_PINGS_MAX];
static atomic_int n_slow_pings;
static atomic_long slow_pings_dropped; /* of the phase: the list is full */

static void probe_reset(void)
{
    atomic_fetch_add(&probe_phase, 1);
    atomic_store(&target_probe.max_ms, 0.0);
    atomic_store(&target_probe.count, 0);
    for (size_t i = 0; i < N_PING_BUCKETS; i++) atomic_store(&target_probe.over[i], 0);
    atomic_store(&slow_pings_dropped, 0);
}

/* "pings N >2ms a >5ms b ..." for the phase just measured */
static void probe_print(const char *name, const char *phase)
{
    printf("%s_%s_pings %ld", name, phase, atomic_load(&target_probe.count));
    for (size_t i = 0; i < N_PING_BUCKETS; i++) printf(" >%gms %ld", PING_BUCKETS[i], atomic_load(&target_probe.over[i]));
    printf("\n");
    /* "slow_pings T0:MS ..." of this phase: each PING over SLOW_PING_MS;
     * a full list says how many it could not hold */
    printf("%s_%s_slow_pings_dropped %ld\n", name, phase, atomic_load(&slow_pings_dropped));
    printf("%s_%s_slow_pings", name, phase);
    int cur = atomic_load(&probe_phase), n = atomic_load(&n_slow_pings);
    for (int i = 0; i < n; i++)
        if (slow_pings[i].phase == cur) printf(" %.3f:%.2f", slow_pings[i].t0, slow_pings[i].ms);
    printf("\n");
}

static bool ping_realtime;

/* The probe stands for a client on another machine: it gets a real-time
 * priority so that what it measures is Redis making it wait, not this
 * 2-core machine's scheduler (the clear and Redis share its cores). */
static void *ping_thread(void *arg)
{
    probe *pr = arg;
    struct sched_param sp = {.sched_priority = 10};
    ping_realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    at_redis *r = redis_or_die();
    while (!atomic_load(&stop_flag)) {
        int phase = atomic_load(&probe_phase);
        double t0 = mono_ms();
        redisReply *rep = at_redis_commandf(r, "PING");
        double ms = mono_ms() - t0;
        if (rep) freeReplyObject(rep);
        if (phase == atomic_load(&probe_phase)) {
            int n = atomic_load(&n_slow_pings);
            if (ms > SLOW_PING_MS && n < SLOW_PINGS_MAX) {
                slow_pings[n].t0 = t0;
                slow_pings[n].ms = ms;
                slow_pings[n].phase = phase;
                atomic_store(&n_slow_pings, n + 1);
            } else if (ms > SLOW_PING_MS) {
                atomic_fetch_add(&slow_pings_dropped, 1);
            }
            if (ms > atomic_load(&pr->max_ms)) atomic_store(&pr->max_ms, ms);
            atomic_fetch_add(&pr->count, 1);
            for (size_t i = 0; i < N_PING_BUCKETS; i++)
                if (ms > PING_BUCKETS[i]) atomic_fetch_add(&pr->over[i], 1);
        }
        usleep(1000);
    }
    at_redis_close(r);
    return NULL;
}

static void probe_start(pthread_t *th) { pthread_create(th, NULL, ping_thread, &target_probe); }

typedef struct {
    const at_snapshot *s;
    const char *target;          /* provider being cleared */
    const char *other;           /* provider to re-point to */
    long long writes;
    char *repointed;             /* per row: re-pointed to `other` */
} repoint_ctx;

/* The gateway re-pointing affinities: rewrite random rows to another provider
 * (keeping the TTL), BENCH_REPOINT_RATE per second (default 5000, a busy
 * gateway's every request re-pointing; 0 = as fast as a pipeline allows). */
static void *repoint_thread(void *arg)
{
    repoint_ctx *c = arg;
    at_redis *r = redis_or_die();
    unsigned seed = 12345;
    const char *rate_env = getenv("BENCH_REPOINT_RATE");
    double rate = rate_env ? atof(rate_env) : 5000;
    double start = mono_ms();
    while (!atomic_load(&stop_flag)) {
        if (rate > 0) { /* keep to the rate: 100 writes every 100/rate s */
            double due = start + (double)c->writes / rate * 1000.0;
            double now = mono_ms();
            if (due > now) usleep((useconds_t)((due - now) * 1000.0));
        }
        size_t batch[100];
        for (int i = 0; i < 100; i++) {
            size_t k = (size_t)rand_r(&seed) % c->s->n_rows;
            const at_affinity *a = &c->s->rows[k];
            char val[1024];
            snprintf(val, sizeof val,
                     "{\"provider_id\":\"%s\",\"endpoint_id\":\"%s\",\"key_id\":\"%s\",\"api_format\":\"%s\","
                     "\"model_name\":\"%s\",\"created_at\":%.3f,\"expire_at\":%.3f,\"request_count\":1}",
                     c->other, a->endpoint_id ? a->endpoint_id : "", a->key_id ? a->key_id : "",
                     a->api_format ? a->api_format : "", a->model_name ? a->model_name : "", wall_now(),
                     a->expire_at);
            const char *argv[] = {"SET", a->redis_key, val, "KEEPTTL"};
            at_redis_append(r, 4, argv, NULL);
            batch[i] = k;
        }
        for (int i = 0; i < 100; i++) {
            redisReply *rep = at_redis_read(r);
            if (rep) freeReplyObject(rep);
            c->repointed[batch[i]] = 1;
        }
        c->writes += 100;
    }
    at_redis_close(r);
    return NULL;
}

/* The probe alone for a while: what this machine makes a PING wait with
 * whatever else runs (nothing of aethertop's). */
static int bench_ping(double seconds)
{
    pthread_t ping;
    atomic_store(&stop_flag, false);
    probe_reset();
    probe_start(&ping);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop_flag, true);
    pthread_join(ping, NULL);
    printf("ping_max_ms %.2f realtime_probe %d\n", max_ping(), ping_realtime);
    return 0;
}

static int bench_clear(bool provider)
{
    at_redis *r = redis_or_die();
    at_pg *pg = pg_or_die();
    at_snapshot *s = build(r, pg);
    at_stats st;
    at_stats_compute(s, NULL, wall_now(), &st);
    if (provider && st.by_provider.n < 2) { fprintf(stderr, "bench: need two providers\n"); return 2; }
    repoint_ctx rc = {.s = s};
    pthread_t ping, repoint;
    atomic_store(&stop_flag, false);
    probe_reset();
    probe_start(&ping);
    if (provider) {
        rc.target = st.by_provider.items[0].id;
        rc.other = st.by_provider.items[1].id;
        rc.repointed = calloc(s->n_rows, 1);
        pthread_create(&repoint, NULL, repoint_thread, &rc);
        usleep(200000);
    }
    usleep(100000);
    const char *name = provider ? "clear_provider" : "clear_all";
    /* the same conditions without the clear: what this machine and the
     * other clients alone make the probe wait, over as long as a clear takes */
    probe_reset();
    usleep(5000000);
    printf("%s_baseline_max_ping_ms %.2f\n", name, max_ping());
    probe_print(name, "baseline");
    /* one floor pass (BENCH_FLOOR: the floor's command line) under the same
     * load: the yardstick for time, and what a plain reader makes PING wait */
    const char *floor_cmd = getenv("BENCH_FLOOR");
    if (floor_cmd) {
        probe_reset();
        FILE *f = popen(floor_cmd, "r");
        char line[256];
        double floor_ms = -1;
        while (f && fgets(line, sizeof line, f)) {
            const char *m = strstr(line, " ms ");
            if (m) floor_ms = atof(m + 4);
        }
        if (f) pclose(f);
        printf("%s_floor_ms %.1f\n%s_floor_max_ping_ms %.2f\n", name, floor_ms, name, max_ping());
        probe_print(name, "floor");
    }
    probe_reset();
    /* Redis's own account of slow commands during the clear */
    redisReply *x = at_redis_commandf(r, "CONFIG SET slowlog-log-slower-than 2000");
    if (x) freeReplyObject(x);
    x = at_redis_commandf(r, "SLOWLOG RESET");
    if (x) freeReplyObject(x);
    at_config c2 = cfg;
    c2.audit_log = "/dev/null";
    const char *args[1] = {rc.target};
    at_clear_request req = {.kind = provider ? AT_CLEAR_PROVIDER : AT_CLEAR_ALL, .args = args,
                            .n_args = provider ? 1 : 0, .label = "bench"};
    at_clear_result res;
    double t0 = mono_ms();
    at_clear_execute(r, &c2, &req, &res);
    double ms = mono_ms() - t0;
    atomic_store(&stop_flag, true);
    pthread_join(ping, NULL);
    if (provider) pthread_join(repoint, NULL);
    if (res.outcome != AT_CLEAR_DONE || res.deleted <= 0) {
        /* a clear that did not run measures nothing */
        fprintf(stderr, "bench: %s did not run: outcome %d, %lld deleted: %s\n", name, (int)res.outcome,
                res.deleted, res.error);
        return 1;
    }
    printf("%s_ms %.1f deleted %lld rows %zu\n", name, ms, res.deleted, s->n_rows);
    printf("%s_max_ping_ms %.2f realtime_probe %d\n", name, max_ping(), ping_realtime);
    probe_print(name, "clear");
    x = at_redis_commandf(r, "SLOWLOG GET 20");
    long long slowest_us = 0;
    char slowest[32] = "-";
    if (x && x->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < x->elements; i++) {
            redisReply *e = x->element[i];
            if (e->type == REDIS_REPLY_ARRAY && e->elements > 3 && e->element[2]->type == REDIS_REPLY_INTEGER &&
                e->element[2]->integer > slowest_us) {
                slowest_us = e->element[2]->integer;
                redisReply *a = e->element[3];
                if (a->type == REDIS_REPLY_ARRAY && a->elements && a->element[0]->type == REDIS_REPLY_STRING)
                    snprintf(slowest, sizeof slowest, "%s", a->element[0]->str);
            }
        }
    if (x) freeReplyObject(x);
    printf("%s_slowest_command_ms %.2f %s\n", name, slowest_us / 1000.0, slowest);
    x = at_redis_commandf(r, "CONFIG SET slowlog-log-slower-than 10000");
    if (x) freeReplyObject(x);
    if (provider) {
        /* every row that did not point at the target, or was re-pointed away
         * from it, must still be there */
        long long checked = 0, missing = 0;
        size_t queued = 0;
        for (size_t i = 0; i <= s->n_rows; i++) {
            if (i < s->n_rows) {
                const at_affinity *a = &s->rows[i];
                bool keep = rc.repointed[i] || !a->provider_id || strcmp(a->provider_id, rc.target) != 0;
                if (keep && a->expire_at > wall_now() + 1) {
                    const char *argv[] = {"EXISTS", a->redis_key};
                    at_redis_append(r, 2, argv, NULL);
                    queued++;
                    checked++;
                }
            }
            if (queued == 1000 || (i == s->n_rows && queued)) {
                for (; queued; queued--) {
                    redisReply *rep = at_redis_read(r);
                    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0) missing++;
                    if (rep) freeReplyObject(rep);
                }
            }
        }
        printf("repoint_writes %lld checked %lld wrongly_deleted %lld\n", rc.writes, checked, missing);
        free(rc.repointed);
    }
    at_clear_result_free(&res);
    at_stats_free(&st);
    at_snapshot_free(s);
    at_pg_close(pg);
    at_redis_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    at_heap_setup(); /* as the console does */
    if (argc < 2) {
        fprintf(stderr, "usage: bench_core refresh N | search | load SECONDS [DELAY] | clear-all | clear-provider | ping SECONDS\n");
        return 2;
    }
    char err[512];
    at_config_flags flags = {.timeout_ms = 30000};
    if (at_config_resolve(&cfg, &flags, env_lookup, err, sizeof err) < 0) {
        fprintf(stderr, "bench: %s\n", err);
        return 2;
    }
    at_fernet_key_derive(cfg.encryption_key, &fkey);
    if (strcmp(argv[1], "refresh") == 0) return bench_refresh(argc > 2 ? atoi(argv[2]) : 3);
    if (strcmp(argv[1], "search") == 0) return bench_search();
    if (strcmp(argv[1], "load") == 0) return bench_load(argc > 2 ? atof(argv[2]) : 20, argc > 3 ? atof(argv[3]) : 1);
    if (strcmp(argv[1], "clear-all") == 0) return bench_clear(false);
    if (strcmp(argv[1], "ping") == 0) return bench_ping(argc > 2 ? atof(argv[2]) : 5);
    if (strcmp(argv[1], "clear-provider") == 0) return bench_clear(true);
    fprintf(stderr, "bench: unknown measurement %s\n", argv[1]);
    return 2;
}
