/* worker.c — the refresh thread. It owns the only Redis and PostgreSQL
 * connections of the console, reconnects them with exponential backoff (each
 * attempt bounded by the configured timeout), builds a snapshot + stats every
 * interval, publishes it by swapping a reference-counted pointer under the
 * mutex, and runs the UI's jobs between refreshes. The UI is woken through a
 * pipe; nothing here ever touches the terminal. */
#include "worker.h"
#include "aethertop/refresh.h"

#include "aethertop/bigmem.h"
#include "aethertop/export.h"
#include "aethertop/i18n.h"
#include "aethertop/pg.h"
#include "aethertop/redis.h"
#include "aethertop/secret.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_S 0.5
#define BACKOFF_MAX_S 10.0
#define HEAP_PRIME_BYTES (4u << 20)

/* con_worker_interrupt(): confirmed clears still queued at quit are dropped */
static atomic_bool g_stop_clears;

struct con_worker {
    const at_config *cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int wake_fd;

    /* shared, under mu */
    bool quit, force, paused, want_mappings, mappings_now;
    atomic_bool cancel;          /* quitting: a refresh stops between batches */
    bool want_hits, want_ttl, hits_now, ttl_now;
    double interval_s;
    at_sort sort;
    con_snap *published;
    con_worker_status status;
    con_job *jobs, *jobs_tail;
    con_job *done, *done_tail;
    unsigned next_id;

    /* the thread's own */
    at_redis *redis;
    at_pg *pg;
    at_fernet_key fkey;
    bool have_key;
    pthread_t key_thread;        /* derives fkey (PBKDF2) while the first walk runs */
    bool key_thread_running;
    pthread_t pg_thread;         /* opens PostgreSQL while the first walk runs */
    bool pg_thread_running;
    at_pg *pg_opened;            /* what it opened, or NULL with pg_open_err */
    char pg_open_err[512];
    at_refresh_pacer pacer;      /* stretches the interval as the key space grows */
    con_snap *prev;
    double redis_backoff, pg_backoff;
    double pg_next_try;
    double next_refresh;
    double next_corr, next_hits, next_ttl;  /* monotonic: when the usage reports are due */
};

/* ---- small helpers ------------------------------------------------------------ */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wake_ui(con_worker *w)
{
    char b = 1;
    ssize_t n = write(w->wake_fd, &b, 1); /* a full pipe already means "wake up" */
    (void)n;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) abort();
    return d;
}

/* ---- snapshots ------------------------------------------------------------------ */

con_snap *con_snap_ref(con_snap *s)
{
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

void con_snap_unref(con_snap *s)
{
    if (!s) return;
    if (atomic_fetch_sub(&s->refs, 1) == 1) {
        at_selection_free(&s->order);
        at_stats_free(&s->stats);
        at_snapshot_free(s->snap);
        free(s);
    }
}

/* ---- clears and jobs ------------------------------------------------------------ */

void con_clear_init(con_clear *c, at_clear_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->counted = -1;
}

void con_clear_arg(con_clear *c, const char *arg)
{
    char **a = realloc(c->args, (c->n_args + 1) * sizeof *a);
    if (!a) abort();
    c->args = a;
    c->args[c->n_args++] = xstrdup(arg);
}

void con_clear_free(con_clear *c)
{
    for (size_t i = 0; i < c->n_args; i++) free(c->args[i]);
    free(c->args);
    free(c->resolve_user);
    memset(c, 0, sizeof *c);
}

void con_clear_move(con_clear *dst, con_clear *src)
{
    *dst = *src;
    memset(src, 0, sizeof *src);
}

con_job *con_job_new(con_job_kind kind)
{
    con_job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->kind = kind;
    return j;
}

void con_job_free(con_job *j)
{
    if (!j) return;
    con_clear_free(&j->clear);
    free(j->text);
    at_clear_result_free(&j->result);
    at_keyword_free(&j->kw);
    if (j->mappings) {
        at_mapping_stats_free(j->mappings);
        free(j->mappings);
    }
    if (j->hits5) { at_hits_free(j->hits5); free(j->hits5); }
    if (j->hits60) { at_hits_free(j->hits60); free(j->hits60); }
    if (j->ttl) { at_ttl_advice_free(j->ttl); free(j->ttl); }
    con_snap_unref(j->snap);
    at_selection_free(&j->sel);
    free(j->path);
    free(j);
}

static void push_done(con_worker *w, con_job *j)
{
    pthread_mutex_lock(&w->mu);
    j->next = NULL;
    if (w->done_tail) w->done_tail->next = j;
    else w->done = j;
    w->done_tail = j;
    pthread_mutex_unlock(&w->mu);
    wake_ui(w);
}

/* ---- connections ----------------------------------------------------------------- */

static void set_status_error(con_worker *w, bool redis, const char *msg)
{
    pthread_mutex_lock(&w->mu);
    if (redis) snprintf(w->status.redis_error, sizeof w->status.redis_error, "%s", msg);
    else snprintf(w->status.pg_error, sizeof w->status.pg_error, "%s", msg);
    pthread_mutex_unlock(&w->mu);
}

/* Redis connection, opening it when needed. NULL (with the status error set)
 * when it cannot be had now. */
static at_redis *need_redis(con_worker *w)
{
    if (w->redis && at_redis_broken(w->redis)) {
        at_redis_close(w->redis);
        w->redis = NULL;
    }
    if (w->redis) return w->redis;
    char err[512];
    w->redis = at_redis_open(w->cfg, err, sizeof err);
    if (!w->redis) set_status_error(w, true, err);
    else {
        pthread_mutex_lock(&w->mu);
        snprintf(w->status.redis_target, sizeof w->status.redis_target, "%s", at_redis_describe(w->redis));
        pthread_mutex_unlock(&w->mu);
    }
    return w->redis;
}

/* The worker's threads take no signals: those are the UI thread's. */
static void block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* The first PostgreSQL connection, opened on its own thread so that it is
 * ready while the first walk of Redis is still going; that thread first
 * makes the heap the walk allocates from present (its replies for 10,000
 * affinities take ~2 MiB, which would otherwise fault in a page at a time). */
static void *open_pg_early(void *arg)
{
    con_worker *w = arg;
    block_signals();
    at_heap_prime(HEAP_PRIME_BYTES);
    w->pg_opened = at_pg_open(w->cfg, w->pg_open_err, sizeof w->pg_open_err);
    return NULL;
}

/* Take an opened connection, or note the failure and back off. */
static void pg_opened(con_worker *w, at_pg *pg, const char *err)
{
    w->pg = pg;
    if (pg) {
        w->pg_backoff = 0;
        return;
    }
    w->pg_backoff = w->pg_backoff > 0 ? fmin(w->pg_backoff * 2, BACKOFF_MAX_S) : BACKOFF_MIN_S * 2;
    w->pg_next_try = mono_now() + w->pg_backoff;
    set_status_error(w, false, err);
    pthread_mutex_lock(&w->mu);
    w->status.pg_up = false;
    pthread_mutex_unlock(&w->mu);
}

/* The early connection's outcome once its thread is done (waiting for it,
 * or only if it already is); false while it is still connecting. */
static bool early_pg_done(con_worker *w, bool wait)
{
    if (!w->pg_thread_running) return true;
    if (wait) pthread_join(w->pg_thread, NULL);
    else if (pthread_tryjoin_np(w->pg_thread, NULL) != 0) return false;
    w->pg_thread_running = false;
    pg_opened(w, w->pg_opened, w->pg_open_err);
    return true;
}

/* PostgreSQL connection: optional; retried with its own backoff. */
static at_pg *need_pg(con_worker *w, bool urgent)
{
    if (w->pg_thread_running) {
        early_pg_done(w, true);
        if (w->pg || !urgent) return w->pg;
    }
    if (w->pg && PQstatus(at_pg_conn(w->pg)) != CONNECTION_OK) {
        at_pg_close(w->pg);
        w->pg = NULL;
    }
    if (w->pg) return w->pg;
    if (!urgent && mono_now() < w->pg_next_try) return NULL;
    char err[512];
    at_pg *pg = at_pg_open(w->cfg, err, sizeof err);
    pg_opened(w, pg, err);
    return w->pg;
}

/* ---- refreshing ------------------------------------------------------------------- */

static void history_push(con_snap *cs, const con_snap *prev)
{
    if (prev) {
        cs->n_hist = prev->n_hist;
        memcpy(cs->hist, prev->hist, sizeof cs->hist);
    }
    if (cs->n_hist == CON_HIST_LEN) {
        for (int s = 0; s < HIST__COUNT; s++)
            memmove(cs->hist[s], cs->hist[s] + 1, (CON_HIST_LEN - 1) * sizeof cs->hist[s][0]);
        cs->n_hist--;
    }
    const at_stats *st = &cs->stats;
    int i = cs->n_hist++;
    cs->hist[HIST_NEW][i] = st->has_rates ? st->new_per_s : 0;
    cs->hist[HIST_GONE][i] = st->has_rates ? st->gone_per_s : 0;
    cs->hist[HIST_SWITCH][i] = st->has_rates ? st->switch_per_s : 0;
    cs->hist[HIST_REUSE][i] = st->has_rates ? st->reuse_per_s : 0;
    cs->hist[HIST_OPS][i] = cs->snap->has_info && cs->snap->info.ops_per_sec >= 0 ? (double)cs->snap->info.ops_per_sec : 0;
    cs->hist[HIST_ACTIVE][i] = (double)st->active;
}

static void refresh_failed(con_worker *w)
{
    w->redis_backoff = w->redis_backoff > 0 ? fmin(w->redis_backoff * 2, BACKOFF_MAX_S) : BACKOFF_MIN_S * 2;
    pthread_mutex_lock(&w->mu);
    /* 1, 2, 4, 8, 10, 10 ... s between attempts (r tries at once) */
    double next = mono_now() + w->redis_backoff;
    w->next_refresh = next;
    w->status.redis_up = false;
    w->status.failed = true;
    w->status.refreshing = false;
    w->status.next_retry_mono = next;
    pthread_mutex_unlock(&w->mu);
    wake_ui(w);
}

static void build_mappings(con_worker *w)
{
    at_redis *r = need_redis(w);
    con_job *j = con_job_new(CON_JOB_MAPPINGS);
    if (!r) {
        j->rc = -1;
        pthread_mutex_lock(&w->mu);
        snprintf(j->err, sizeof j->err, "%s", w->status.redis_error);
        pthread_mutex_unlock(&w->mu);
    } else {
        double t0 = mono_now();
        j->mappings = calloc(1, sizeof *j->mappings);
        if (!j->mappings) abort();
        if (at_mapping_stats_build(r, need_pg(w, false), j->mappings, j->err, sizeof j->err) < 0) {
            j->rc = -1;
            at_mapping_stats_free(j->mappings);
            free(j->mappings);
            j->mappings = NULL;
        }
        j->mappings_ms = (mono_now() - t0) * 1e3;
    }
    push_done(w, j);
}

/* ---- the usage-table reports (issue 6) ---------------------------------------------- */

static void pg_unavailable(con_worker *w, con_job *j)
{
    j->rc = -1;
    pthread_mutex_lock(&w->mu);
    snprintf(j->err, sizeof j->err, "%s", w->status.pg_error[0] ? w->status.pg_error : "PostgreSQL unavailable");
    pthread_mutex_unlock(&w->mu);
}

/* The last hour (always) and the last 5 minutes (both = the Hits view). */
static void build_hits(con_worker *w, bool both)
{
    con_job *j = con_job_new(CON_JOB_HITS);
    at_pg *pg = need_pg(w, false);
    if (!pg) {
        pg_unavailable(w, j);
    } else {
        j->hits60 = calloc(1, sizeof *j->hits60);
        if (both) j->hits5 = calloc(1, sizeof *j->hits5);
        if (!j->hits60 || (both && !j->hits5)) abort();
        if ((both && at_hits_build(pg, 300, j->hits5, j->err, sizeof j->err) < 0) ||
            at_hits_build(pg, 3600, j->hits60, j->err, sizeof j->err) < 0) {
            j->rc = -1;
            if (j->hits5) { at_hits_free(j->hits5); free(j->hits5); j->hits5 = NULL; }
            at_hits_free(j->hits60);
            free(j->hits60);
            j->hits60 = NULL;
        }
    }
    push_done(w, j);
}

static void build_ttl(con_worker *w)
{
    con_job *j = con_job_new(CON_JOB_TTL);
    at_pg *pg = need_pg(w, false);
    if (!pg) {
        pg_unavailable(w, j);
    } else {
        j->ttl = calloc(1, sizeof *j->ttl);
        if (!j->ttl) abort();
        if (at_ttl_advice_build(pg, CON_TTL_HOURS, j->ttl, j->err, sizeof j->err) < 0) {
            j->rc = -1;
            at_ttl_advice_free(j->ttl);
            free(j->ttl);
            j->ttl = NULL;
        }
    }
    push_done(w, j);
}

/* After a refresh, or when asked: the reports that are due. */
static void build_insight(con_worker *w, bool forced)
{
    pthread_mutex_lock(&w->mu);
    double now = mono_now();
    bool view = w->want_hits;
    bool hits = (forced && w->hits_now) || now >= w->next_corr || (view && now >= w->next_hits);
    bool ttl = w->want_ttl && ((forced && w->ttl_now) || now >= w->next_ttl);
    if (forced) w->hits_now = w->ttl_now = false;
    if (hits) {
        w->next_corr = now + CON_CORR_PERIOD_S;
        if (view) w->next_hits = now + CON_HITS_PERIOD_S;
    }
    if (ttl) w->next_ttl = now + CON_TTL_PERIOD_S;
    pthread_mutex_unlock(&w->mu);
    if (hits) build_hits(w, view);
    if (ttl) build_ttl(w);
}

static void derive_key_now(con_worker *w)
{
    w->have_key = at_fernet_key_derive(w->cfg->encryption_key, &w->fkey) >= 0;
}

static void *derive_key(void *arg)
{
    block_signals();
    derive_key_now(arg);
    return NULL;
}

/* The derived key, once the derivation thread is done. */
static const at_fernet_key *wait_for_key(void *arg)
{
    con_worker *w = arg;
    if (w->key_thread_running) {
        pthread_join(w->key_thread, NULL);
        w->key_thread_running = false;
    }
    return w->have_key ? &w->fkey : NULL;
}

/* at_snapshot_opts.get_key: the key if it is derived (waiting for it or not). */
static const at_fernet_key *get_key(void *arg, bool wait)
{
    con_worker *w = arg;
    if (!wait && w->key_thread_running) {
        if (pthread_tryjoin_np(w->key_thread, NULL) != 0) return NULL;
        w->key_thread_running = false;
    }
    return wait_for_key(w);
}

/* at_snapshot_opts.get_pg: during the walk only a connection that is open
 * now (the early one may still be connecting); after it, need_pg's. */
static at_pg *get_pg(void *arg, bool wait)
{
    con_worker *w = arg;
    if (wait) return need_pg(w, false);
    if (!early_pg_done(w, false)) return NULL;
    return w->pg && PQstatus(at_pg_conn(w->pg)) == CONNECTION_OK ? w->pg : NULL;
}

static void refresh(con_worker *w)
{
    double started = mono_now();
    pthread_mutex_lock(&w->mu);
    w->status.refreshing = true;
    pthread_mutex_unlock(&w->mu);
    wake_ui(w);

    at_redis *r = need_redis(w);
    if (!r) { refresh_failed(w); return; }
    char err[512] = "";
    /* the snapshot asks for PostgreSQL as it walks: the first connection
     * is still being opened meanwhile */
    at_snapshot_opts opts = {.pause_us = at_refresh_pacer_pause_us(&w->pacer), .want_info = true,
                             .get_key = get_key, .get_key_ctx = w,
                             .get_pg = get_pg, .get_pg_ctx = w, .cancel = &w->cancel};
    at_snapshot *s = at_snapshot_build(r, NULL, NULL, &opts, err, sizeof err);
    at_pg *pg = w->pg;
    if (!s && atomic_load(&w->cancel)) return; /* quitting */
    if (!s) {
        set_status_error(w, true, err[0] ? err : "Redis: refresh failed");
        refresh_failed(w);
        return;
    }
    bool pg_ok = s->enriched;
    if (pg && !pg_ok) {
        set_status_error(w, false, s->pg_error);
        if (PQstatus(at_pg_conn(pg)) != CONNECTION_OK) {
            at_pg_close(w->pg);
            w->pg = NULL;
            w->pg_backoff = BACKOFF_MIN_S;
            w->pg_next_try = mono_now() + w->pg_backoff;
        }
    }

    con_snap *cs = calloc(1, sizeof *cs);
    if (!cs) abort();
    atomic_init(&cs->refs, 1);
    cs->snap = s;
    at_stats_compute(s, w->prev ? w->prev->snap : NULL, s->taken_at, &cs->stats);
    history_push(cs, w->prev);
    pthread_mutex_lock(&w->mu);
    cs->order_sort = w->sort;
    pthread_mutex_unlock(&w->mu);
    cs->order.idx = malloc((s->n_rows + 1) * sizeof *cs->order.idx);
    if (!cs->order.idx) abort();
    for (size_t i = 0; i < s->n_rows; i++) cs->order.idx[i] = (uint32_t)i;
    cs->order.n = cs->order.cap = s->n_rows;
    at_query_sort(s, &cs->order, cs->order_sort);

    w->redis_backoff = 0;
    pthread_mutex_lock(&w->mu);
    cs->gen = ++w->status.gen;
    con_snap *old = w->published;
    w->published = con_snap_ref(cs);
    w->status.redis_up = true;
    w->status.redis_error[0] = '\0';
    w->status.pg_up = pg_ok;
    if (pg_ok) w->status.pg_error[0] = '\0';
    w->status.failed = false;
    w->status.ever_ok = true;
    w->status.refreshing = false;
    w->status.last_ok_wall = s->taken_at;
    w->status.last_build_ms = s->build_ms;
    bool mappings = w->want_mappings;
    w->mappings_now = false;
    /* never let refreshes take more than their share of Redis's time */
    at_refresh_pacer_request(&w->pacer, w->interval_s);
    at_refresh_pacer_done(&w->pacer, s->walk_ms / 1e3, s->n_rows);
    w->status.effective_interval_s = at_refresh_pacer_interval(&w->pacer);
    w->next_refresh = started + w->status.effective_interval_s;
    pthread_mutex_unlock(&w->mu);
    con_snap_unref(old);
    con_snap_unref(w->prev);
    w->prev = cs;                       /* the thread's own reference */
    wake_ui(w);
    if (mappings) build_mappings(w);
    build_insight(w, false);
}

/* ---- jobs ---------------------------------------------------------------------------- */

/* Replace a user's clear args by the API key the identifier is, or else by
 * all the user's API key ids (the reference's order: an API key id names
 * that key alone). */
static int resolve_user_keys(con_worker *w, con_clear *c, char *err, size_t errlen)
{
    at_pg *pg = need_pg(w, true);
    char **ids = NULL;
    size_t n = 0;
    at_api_key_info k;
    int is_key = pg ? at_lookup_api_key(pg, c->resolve_user, &k, err, errlen) : 0;
    if (is_key < 0) return -1;
    if (is_key) {
        ids = malloc(sizeof *ids);
        if (!ids || !(ids[0] = strdup(k.id))) abort();
        n = 1;
        snprintf(c->label, sizeof c->label, _("all affinities of API key %s (%s)"), k.name ? k.name : "-", k.id);
        at_api_key_info_free(&k);
    } else if (pg) {
        at_user_info u;
        int rc = at_resolve_user(pg, c->resolve_user, &u, err, errlen);
        if (rc < 0) return -1;
        if (rc == 0) {
            snprintf(err, errlen, "no user or API key matches \"%s\"", c->resolve_user);
            return -1;
        }
        ids = u.key_ids;
        n = u.n_key_ids;
        u.key_ids = NULL;
        u.n_key_ids = 0;
        at_user_info_free(&u);
    } else if (w->prev) {
        /* PostgreSQL is down: the keys the last snapshot knows for that user */
        at_keyword kw;
        at_keyword_resolve_local(w->prev->snap, c->resolve_user, &kw);
        if (kw.kind != AT_MATCH_USER && kw.kind != AT_MATCH_API_KEY) {
            at_keyword_free(&kw);
            snprintf(err, errlen, "cannot resolve user \"%s\": PostgreSQL unavailable", c->resolve_user);
            return -1;
        }
        ids = kw.key_ids;
        n = kw.n_key_ids;
        kw.key_ids = NULL;
        kw.n_key_ids = 0;
        at_keyword_free(&kw);
    } else {
        snprintf(err, errlen, "cannot resolve user \"%s\": PostgreSQL unavailable", c->resolve_user);
        return -1;
    }
    for (size_t i = 0; i < c->n_args; i++) free(c->args[i]);
    free(c->args);
    c->args = ids;
    c->n_args = n;
    free(c->resolve_user);
    c->resolve_user = NULL;
    return 0;
}

static void run_job(con_worker *w, con_job *j)
{
    switch (j->kind) {
    case CON_JOB_COUNT: {
        if (j->clear.resolve_user && resolve_user_keys(w, &j->clear, j->err, sizeof j->err) < 0) {
            j->rc = -1;
            break;
        }
        at_redis *r = need_redis(w);
        if (!r) {
            j->rc = -1;
            pthread_mutex_lock(&w->mu);
            snprintf(j->err, sizeof j->err, "%s", w->status.redis_error);
            pthread_mutex_unlock(&w->mu);
            break;
        }
        at_clear_request req = {j->clear.kind, (const char *const *)j->clear.args, j->clear.n_args, j->clear.label};
        j->rc = at_clear_count(r, &req, &j->count, j->err, sizeof j->err);
        break;
    }
    case CON_JOB_CLEAR: {
        at_redis *r = need_redis(w);
        if (!r) {
            j->rc = -1;
            j->outcome = AT_CLEAR_FAILED;
            pthread_mutex_lock(&w->mu);
            snprintf(j->err, sizeof j->err, "nothing deleted: %s", w->status.redis_error);
            pthread_mutex_unlock(&w->mu);
            break;
        }
        at_clear_request req = {j->clear.kind, (const char *const *)j->clear.args, j->clear.n_args, j->clear.label};
        j->outcome = at_clear_execute(r, w->cfg, &req, &j->result);
        j->rc = j->outcome == AT_CLEAR_DONE || j->outcome == AT_CLEAR_NOT_FOUND ? 0 : -1;
        snprintf(j->err, sizeof j->err, "%s", j->result.error);
        /* show the effect at once */
        pthread_mutex_lock(&w->mu);
        w->force = true;
        pthread_mutex_unlock(&w->mu);
        break;
    }
    case CON_JOB_RESOLVE: {
        at_pg *pg = need_pg(w, true);
        if (!pg) {
            j->rc = -1;
            pthread_mutex_lock(&w->mu);
            snprintf(j->err, sizeof j->err, "%s", w->status.pg_error[0] ? w->status.pg_error : "PostgreSQL unavailable");
            pthread_mutex_unlock(&w->mu);
            break;
        }
        j->rc = at_keyword_resolve(pg, j->text, &j->kw, j->err, sizeof j->err);
        break;
    }
    case CON_JOB_EXPORT:
        j->rc = at_export_file(j->path, j->snap->snap, &j->sel, j->err, sizeof j->err);
        break;
    case CON_JOB_MAPPINGS:
    case CON_JOB_HITS:
    case CON_JOB_TTL:
        break;
    }
}

/* ---- the thread ------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    con_worker *w = arg;
    block_signals();

    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        if (w->jobs) {
            con_job *j = w->jobs;
            w->jobs = j->next;
            if (!w->jobs) w->jobs_tail = NULL;
            pthread_mutex_unlock(&w->mu);
            if (j->kind == CON_JOB_MAPPINGS) {
                con_job_free(j);
                build_mappings(w);
            } else {
                run_job(w, j);
                push_done(w, j);
            }
            pthread_mutex_lock(&w->mu);
            continue;
        }
        double now = mono_now();
        bool due = w->force || (!w->paused && now >= w->next_refresh);
        if (due) {
            w->force = false;
            pthread_mutex_unlock(&w->mu);
            refresh(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->mappings_now) {
            w->mappings_now = false;
            pthread_mutex_unlock(&w->mu);
            build_mappings(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->hits_now || w->ttl_now) {
            pthread_mutex_unlock(&w->mu);
            build_insight(w, true);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->paused) {
            pthread_cond_wait(&w->cond, &w->mu);
        } else {
            double wait = w->next_refresh - now;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + wait;
            ts.tv_sec = (time_t)t;
            ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&w->cond, &w->mu, &ts);
        }
    }
    /* quitting: the clears the user confirmed still run, each audited,
     * unless a signal said stop; anything else queued is dropped */
    while (w->jobs && !atomic_load(&g_stop_clears)) {
        con_job *j = w->jobs;
        w->jobs = j->next;
        if (!w->jobs) w->jobs_tail = NULL;
        if (j->kind != CON_JOB_CLEAR) {
            con_job_free(j);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        run_job(w, j);
        push_done(w, j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void con_worker_interrupt(void)
{
    atomic_store(&g_stop_clears, true);
    at_clear_interrupt();
}

con_worker *con_worker_start(const at_config *cfg, double interval_s, int wake_fd)
{
    con_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->cfg = cfg;
    w->wake_fd = wake_fd;
    w->interval_s = interval_s;
    w->status.interval_s = interval_s;
    w->next_id = 1;
    w->sort = AT_SORT_DEFAULT;
    snprintf(w->status.redis_target, sizeof w->status.redis_target, "%s",
             cfg->redis_display ? cfg->redis_display : "redis");
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    at_refresh_pacer_init(&w->pacer, interval_s);
    w->status.effective_interval_s = interval_s;
    /* the threads start with every signal blocked (the UI thread's own) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    w->key_thread_running = pthread_create(&w->key_thread, NULL, derive_key, w) == 0;
    w->pg_thread_running = pthread_create(&w->pg_thread, NULL, open_pg_early, w) == 0;
    int started = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->key_thread_running) derive_key_now(w);
    if (started != 0) {
        wait_for_key(w);
        if (w->pg_thread_running) pthread_join(w->pg_thread, NULL);
        if (w->pg_opened) at_pg_close(w->pg_opened);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void con_worker_stop(con_worker *w, void (*on_done)(con_job *j, void *ctx), void *ctx)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->cancel, true);
    /* a refresh stops at its next batch; a clear runs to its end (or to its
     * next batch after con_worker_interrupt); a command is bounded by the
     * timeout */
    pthread_join(w->thread, NULL);
    for (con_job *j = w->jobs, *n; j; j = n) { n = j->next; con_job_free(j); }
    for (con_job *j = w->done, *n; j; j = n) {
        n = j->next;
        if (on_done) on_done(j, ctx);
        con_job_free(j);
    }
    con_snap_unref(w->published);
    con_snap_unref(w->prev);
    if (w->redis) at_redis_close(w->redis);
    if (w->pg_thread_running) {       /* the worker never asked for it */
        pthread_join(w->pg_thread, NULL);
        if (w->pg_opened) at_pg_close(w->pg_opened);
    }
    if (w->pg) at_pg_close(w->pg);
    wait_for_key(w);
    if (w->have_key) at_fernet_key_wipe(&w->fkey);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

con_snap *con_worker_take_snapshot(con_worker *w, unsigned long *gen)
{
    con_snap *s = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->published && w->published->gen != *gen) {
        s = con_snap_ref(w->published);
        *gen = s->gen;
    }
    pthread_mutex_unlock(&w->mu);
    return s;
}

void con_worker_status_get(con_worker *w, con_worker_status *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->status;
    out->interval_s = w->interval_s;
    out->paused = w->paused;
    pthread_mutex_unlock(&w->mu);
}

void con_worker_refresh_now(con_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->force = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void con_worker_set_interval(con_worker *w, double seconds)
{
    pthread_mutex_lock(&w->mu);
    w->interval_s = seconds;
    double before = w->status.effective_interval_s;
    at_refresh_pacer_request(&w->pacer, seconds);
    w->status.effective_interval_s = at_refresh_pacer_interval(&w->pacer);
    w->next_refresh += w->status.effective_interval_s - before;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void con_worker_set_paused(con_worker *w, bool paused)
{
    pthread_mutex_lock(&w->mu);
    w->paused = paused;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void con_worker_want_mappings(con_worker *w, bool on)
{
    pthread_mutex_lock(&w->mu);
    if (on && !w->want_mappings) w->mappings_now = true;
    w->want_mappings = on;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void con_worker_set_sort(con_worker *w, at_sort sort)
{
    pthread_mutex_lock(&w->mu);
    w->sort = sort;
    pthread_mutex_unlock(&w->mu);
}

void con_worker_want_hits(con_worker *w, bool on)
{
    pthread_mutex_lock(&w->mu);
    if (on && !w->want_hits) w->hits_now = true;
    w->want_hits = on;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void con_worker_want_ttl(con_worker *w, bool on)
{
    pthread_mutex_lock(&w->mu);
    if (on && !w->want_ttl) w->ttl_now = true;
    w->want_ttl = on;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

void con_worker_insight_now(con_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->hits_now = true;
    if (w->want_ttl) w->ttl_now = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

unsigned con_worker_post(con_worker *w, con_job *job)
{
    pthread_mutex_lock(&w->mu);
    job->id = w->next_id++;
    job->next = NULL;
    if (w->jobs_tail) w->jobs_tail->next = job;
    else w->jobs = job;
    w->jobs_tail = job;
    unsigned id = job->id;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    return id;
}

con_job *con_worker_take_done(con_worker *w)
{
    pthread_mutex_lock(&w->mu);
    con_job *list = w->done;
    w->done = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    return list;
}
