/* worker.h — the console's refresh thread: it alone owns the Redis and
 * PostgreSQL connections (reconnecting with backoff), builds snapshots and
 * stats, publishes them as reference-counted `con_snap`s, and runs the jobs
 * the UI posts (clear counts, clears, user look-ups, mapping stats, the
 * usage-table reports of issue 6, exports) so the screen never waits on a
 * server or a disk. */
#ifndef AT_CONSOLE_WORKER_H
#define AT_CONSOLE_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "aethertop/clear.h"
#include "aethertop/config.h"
#include "aethertop/insight.h"
#include "aethertop/mapping.h"
#include "aethertop/query.h"
#include "aethertop/snapshot.h"
#include "aethertop/stats.h"

/* Series kept for the sparklines, one sample per refresh. */
enum { HIST_NEW, HIST_GONE, HIST_SWITCH, HIST_REUSE, HIST_OPS, HIST_ACTIVE, HIST__COUNT };
#define CON_HIST_LEN 120

/* One published snapshot with its stats; immutable once published. */
typedef struct con_snap {
    atomic_int refs;
    at_snapshot *snap;
    at_stats stats;
    unsigned long gen;
    int n_hist;                               /* samples, oldest first */
    double hist[HIST__COUNT][CON_HIST_LEN];
    /* every row, sorted on the worker in the table's order (so that the UI
       only filters, keeping this order, instead of sorting on each refresh) */
    at_selection order;
    at_sort order_sort;
} con_snap;

con_snap *con_snap_ref(con_snap *s);
void con_snap_unref(con_snap *s);

/* What the header and banner show. Copied out under the lock. */
typedef struct {
    char redis_target[320];
    bool redis_up;                 /* the last attempt reached Redis */
    char redis_error[512];
    bool pg_up;                    /* the last snapshot was enriched */
    char pg_error[512];
    bool refreshing;
    bool failed;                   /* the last refresh failed: data is STALE */
    bool ever_ok;
    double last_ok_wall;           /* taken_at of the newest snapshot */
    double next_retry_mono;        /* when down: next attempt (monotonic s) */
    double last_build_ms;
    double interval_s;             /* what the engineer asked for */
    double effective_interval_s;   /* what the pacer allows (>= interval_s) */
    bool paused;
    unsigned long gen;
} con_worker_status;

/* A clear, exactly as it will be sent to at_clear_execute. */
typedef struct {
    at_clear_kind kind;
    char **args;
    size_t n_args;
    char label[384];               /* what goes, for dialogs and messages */
    char *resolve_user;            /* set: the worker first replaces args with
                                      this API key id, or else all API key ids
                                      of this user (PostgreSQL, else the
                                      snapshot's), as the reference does */
    long long counted;             /* what the confirmation showed (-1: none) */
} con_clear;

void con_clear_init(con_clear *c, at_clear_kind kind);
void con_clear_arg(con_clear *c, const char *arg);
void con_clear_free(con_clear *c);
void con_clear_move(con_clear *dst, con_clear *src);

typedef enum { CON_JOB_COUNT, CON_JOB_CLEAR, CON_JOB_RESOLVE, CON_JOB_MAPPINGS,
               CON_JOB_HITS, CON_JOB_TTL, CON_JOB_EXPORT } con_job_kind;

typedef struct con_job {
    con_job_kind kind;
    unsigned id;
    int purpose;                   /* the poster's tag (what to do with the answer) */
    con_clear clear;               /* COUNT, CLEAR */
    char *text;                    /* RESOLVE: the identifier */
    /* answers */
    int rc;                        /* 0 ok, -1 failed (err) */
    char err[768];
    long long count;               /* COUNT */
    at_clear_result result;        /* CLEAR */
    at_clear_outcome outcome;
    at_keyword kw;                 /* RESOLVE: the keyword, resolved */
    at_mapping_stats *mappings;    /* MAPPINGS (owned) */
    double mappings_ms;
    at_hits_report *hits5, *hits60; /* HITS (owned): last 5 min (only while the Hits view
                                      is open, else NULL) and last hour */
    at_ttl_advice *ttl;            /* TTL (owned) */
    struct con_snap *snap;         /* EXPORT: the snapshot the rows index (a reference) */
    at_selection sel;              /* EXPORT: the rows, in order (owned) */
    char *path;                    /* EXPORT: where to write */
    struct con_job *next;
} con_job;

con_job *con_job_new(con_job_kind kind);
void con_job_free(con_job *j);

typedef struct con_worker con_worker;

/* Start the thread; it writes a byte to wake_fd whenever there is news. */
con_worker *con_worker_start(const at_config *cfg, double interval_s, int wake_fd);
/* Quit: the refresh in flight stops at its next batch, clears the user
 * confirmed still run (queued ones too), then the thread is joined;
 * on_done (may be NULL) sees each finished job not yet taken. */
void con_worker_stop(con_worker *w, void (*on_done)(con_job *j, void *ctx), void *ctx);
/* From a signal handler (async-signal-safe): the clear in flight stops
 * before its next batch and queued clears are dropped. */
void con_worker_interrupt(void);

/* The newest snapshot (a new reference) when its generation differs from
 * *gen (updated), else NULL. */
con_snap *con_worker_take_snapshot(con_worker *w, unsigned long *gen);
void con_worker_status_get(con_worker *w, con_worker_status *out);

void con_worker_refresh_now(con_worker *w);
void con_worker_set_interval(con_worker *w, double seconds);
void con_worker_set_paused(con_worker *w, bool paused);
/* While set, every refresh also rebuilds the mapping stats (posted back as
 * CON_JOB_MAPPINGS jobs); setting it asks for one right away. */
void con_worker_want_mappings(con_worker *w, bool on);
/* The table's sort: the next snapshots come sorted that way. */
void con_worker_set_sort(con_worker *w, at_sort sort);
/* The usage-table reports (posted back as CON_JOB_HITS / CON_JOB_TTL).
 * The last hour's report (the affinity table's HIT column) is rebuilt after
 * a refresh at most every CON_CORR_PERIOD_S; while the Hits view is open
 * both windows are, at most every CON_HITS_PERIOD_S; while the TTL view is
 * open the advice is, every CON_TTL_PERIOD_S. insight_now: rebuild what is
 * wanted right away (r in those views, or on opening them). */
#define CON_CORR_PERIOD_S 30.0
#define CON_HITS_PERIOD_S 5.0
#define CON_TTL_PERIOD_S 60.0
#define CON_TTL_HOURS 24.0
void con_worker_want_hits(con_worker *w, bool on);
void con_worker_want_ttl(con_worker *w, bool on);
void con_worker_insight_now(con_worker *w);

/* Queue a job (ownership passes to the worker); returns its id. */
unsigned con_worker_post(con_worker *w, con_job *job);
/* Finished jobs, oldest first (ownership passes to the caller). */
con_job *con_worker_take_done(con_worker *w);

#endif
