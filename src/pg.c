/* pg.c — the PostgreSQL connection: non-blocking connect and queries, each
 * bounded by the configured timeout with our own poll() (libpq's
 * connect_timeout cannot go below 2 s, and a hung network would outlast a
 * server-side statement_timeout); parameterised queries only, and id
 * look-ups in batches with `= ANY($1::text[])`. */
#include "aethertop/pg.h"

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct at_pg {
    PGconn *conn;
    int timeout_ms;
    char err[512];
    /* the query sent by at_pg_send, until at_pg_receive has its answer */
    bool in_flight;
    long long deadline;
    PGresult *partial;           /* its last result so far */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the connection's socket until deadline: 1 ready, 0 timed out. */
static int wait_socket(PGconn *c, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = PQsocket(c), .events = events};
        if (p.fd < 0) return 1; /* let libpq report the state */
        int rc = poll(&p, 1, (int)left);
        if (rc != 0) return 1;
    }
}

static void one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r') { *p = '\0'; break; }
}

at_pg *at_pg_open(const at_config *cfg, char *err, size_t errlen)
{
    int timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : AT_DEFAULT_TIMEOUT_MS;
    /* gssencmode comes first so the URL's own setting overrides it: without
     * it, libpq spends a round trip asking every server for GSS encryption */
    const char *keys[] = {"gssencmode", "dbname", "application_name", "client_encoding", NULL};
    const char *vals[] = {"disable", cfg->pg_conninfo ? cfg->pg_conninfo : "", "aethertop", "UTF8", NULL};
    long long deadline = now_ms() + timeout_ms;
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
    bool timed_out = false;
    while (c && PQstatus(c) != CONNECTION_BAD && ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
        if (!wait_socket(c, ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            timed_out = true;
            break;
        }
        ps = PQconnectPoll(c);
    }
    if (!c || timed_out || PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        if (timed_out) snprintf(msg, sizeof msg, "timed out after %d ms connecting", timeout_ms);
        else snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        one_line(msg);
        snprintf(err, errlen, "PostgreSQL %s: %s", cfg->pg_display ? cfg->pg_display : "", msg);
        if (c) PQfinish(c);
        return NULL;
    }
    PQsetnonblocking(c, 1);
    at_pg *pg = calloc(1, sizeof *pg);
    if (!pg) abort();
    pg->conn = c;
    pg->timeout_ms = timeout_ms;
    /* the server also stops a statement that runs past the timeout; JIT (on
     * servers that have it, PostgreSQL 11 on) is off because compiling costs
     * more than our short reports take, and the
     * usage reports' window sorts get enough memory to stay off disk */
    char ms[32];
    snprintf(ms, sizeof ms, "%d", timeout_ms);
    const char *params[] = {ms};
    PGresult *res = at_pg_query(pg,
                                "SELECT set_config('statement_timeout', $1, false), "
                                "CASE WHEN current_setting('jit', true) IS NOT NULL "
                                "     THEN set_config('jit', 'off', false) END, "
                                "set_config('work_mem', '32MB', false)",
                                1, params);
    if (!res) {
        snprintf(err, errlen, "PostgreSQL %s: %s", cfg->pg_display ? cfg->pg_display : "", pg->err);
        at_pg_close(pg);
        return NULL;
    }
    PQclear(res);
    return pg;
}

void at_pg_close(at_pg *pg)
{
    if (!pg) return;
    PQclear(pg->partial);
    PQfinish(pg->conn);
    free(pg);
}

PGconn *at_pg_conn(at_pg *pg) { return pg->conn; }
const char *at_pg_error(const at_pg *pg) { return pg->err; }

/* Send and flush a query, bounded by the timeout (pg->deadline); 0, -1
 * (failed) or -2 (timed out). */
static int send_bounded(at_pg *pg, const char *sql, int nparams, const char *const *params, int format)
{
    PGconn *c = pg->conn;
    pg->deadline = now_ms() + pg->timeout_ms;
    if (!c || !PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, format)) return -1;
    int f;
    while ((f = PQflush(c)) == 1)
        if (!wait_socket(c, POLLOUT, pg->deadline)) return -2;
    return f < 0 ? -1 : 0;
}

/* Collect the (last) result of the query sent; with wait, bounded by
 * pg->deadline. 1 done (*out the result, NULL when
 * libpq failed), 0 not all here yet (!wait only), -2 timed out. */
static int collect_bounded(at_pg *pg, bool wait, PGresult **out)
{
    PGconn *c = pg->conn;
    for (;;) {
        while (PQisBusy(c)) {
            if (!PQconsumeInput(c)) {            /* the connection broke */
                PQclear(pg->partial);
                pg->partial = NULL;
                *out = NULL;
                return 1;
            }
            if (!PQisBusy(c)) break;
            /* libpq reads one socket buffer per call: go on while more is there */
            if (!wait) {
                struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
                if (poll(&p, 1, 0) > 0) continue;
                return 0;
            }
            if (!wait_socket(c, POLLIN, pg->deadline)) {
                PQclear(pg->partial);
                pg->partial = NULL;
                return -2;
            }
        }
        PGresult *r = PQgetResult(c);
        if (!r) {
            *out = pg->partial;
            pg->partial = NULL;
            return 1;
        }
        PQclear(pg->partial);
        pg->partial = r;
    }
}

/* A result as callers get it: NULL for a timeout (the connection is then
 * dropped) or an error (reason in pg->err). */
static PGresult *checked(at_pg *pg, PGresult *res, bool timed_out)
{
    if (timed_out) {
        /* the connection is in an unknown state: drop it (PQstatus(NULL) is
         * CONNECTION_BAD, so callers reconnect); the server's own
         * statement_timeout ends the statement */
        PQclear(res);
        snprintf(pg->err, sizeof pg->err, "PostgreSQL: no answer within %d ms", pg->timeout_ms);
        PQfinish(pg->conn);
        pg->conn = NULL;
        return NULL;
    }
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        snprintf(pg->err, sizeof pg->err, "PostgreSQL: %s",
                 res ? PQresultErrorMessage(res) : pg->conn ? PQerrorMessage(pg->conn) : "not connected");
        one_line(pg->err);
        if (res) PQclear(res);
        return NULL;
    }
    return res;
}

static int send_query(at_pg *pg, const char *sql, int nparams, const char *const *params, int format)
{
    if (pg->in_flight) {
        snprintf(pg->err, sizeof pg->err, "PostgreSQL: a query is still in flight");
        return -1;
    }
    int rc = send_bounded(pg, sql, nparams, params, format);
    if (rc < 0) {
        checked(pg, NULL, rc == -2);
        return -1;
    }
    pg->in_flight = true;
    return 0;
}

int at_pg_send(at_pg *pg, const char *sql, int nparams, const char *const *params)
{
    return send_query(pg, sql, nparams, params, 0);
}

PGresult *at_pg_receive(at_pg *pg, bool wait, bool *pending)
{
    *pending = false;
    if (!pg->in_flight || !pg->conn) {
        snprintf(pg->err, sizeof pg->err, "PostgreSQL: no query in flight");
        return NULL;
    }
    PGresult *res = NULL;
    /* bounded from now: the query may have been sent long ago, its answer
     * read (or not) a piece at a time since */
    if (wait) pg->deadline = now_ms() + pg->timeout_ms;
    int rc = collect_bounded(pg, wait, &res);
    if (rc == 0) {
        *pending = true;
        return NULL;
    }
    pg->in_flight = false;
    return checked(pg, res, rc == -2);
}

/* A blocking query: sent, then its answer waited for. */
static PGresult *query_format(at_pg *pg, const char *sql, int nparams, const char *const *params, int format)
{
    bool pending;
    return send_query(pg, sql, nparams, params, format) < 0 ? NULL : at_pg_receive(pg, true, &pending);
}

PGresult *at_pg_query(at_pg *pg, const char *sql, int nparams, const char *const *params)
{
    return query_format(pg, sql, nparams, params, 0);
}

PGresult *at_pg_query_binary(at_pg *pg, const char *sql, int nparams, const char *const *params)
{
    return query_format(pg, sql, nparams, params, 1);
}

/* Append s to a text[] literal, quoted and escaped. */
static void array_push(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = strlen(s) * 2 + 4;
    if (*len + need >= *cap) {
        while (*len + need >= *cap) *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
        if (!*buf) abort();
    }
    char *p = *buf + *len;
    if (*len > 1) *p++ = ',';
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    *len = (size_t)(p - *buf);
}

char *at_pg_id_array(const char *const *ids, size_t n)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf) abort();
    buf[len++] = '{';
    for (size_t i = 0; i < n; i++) array_push(&buf, &len, &cap, ids[i]);
    buf[len++] = '}';
    buf[len] = '\0';
    return buf;
}

int at_pg_query_ids(at_pg *pg, const char *sql, const char *const *ids, size_t n,
                    at_pg_row_fn row_fn, void *ctx)
{
    for (size_t start = 0; start < n; start += AT_PG_BATCH) {
        char *array = at_pg_id_array(ids + start, n - start < AT_PG_BATCH ? n - start : AT_PG_BATCH);
        const char *params[1] = {array};
        PGresult *res = at_pg_query(pg, sql, 1, params);
        free(array);
        if (!res) return -1;
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) row_fn(ctx, res, i);
        PQclear(res);
    }
    return 0;
}
