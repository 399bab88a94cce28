/* pg.c — the PostgreSQL connection: connect with a timeout, parameterised
 * queries only, and id look-ups in batches with `= ANY($1::text[])`. */
#include "aethertop/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct at_pg {
    PGconn *conn;
    char err[512];
};

static void one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r') { *p = '\0'; break; }
}

at_pg *at_pg_open(const at_config *cfg, char *err, size_t errlen)
{
    char timeout[16];
    int secs = (cfg->timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%d", secs < 2 ? 2 : secs);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding", NULL};
    const char *vals[] = {cfg->pg_conninfo ? cfg->pg_conninfo : "", timeout, "aethertop", "UTF8", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        one_line(msg);
        snprintf(err, errlen, "PostgreSQL %s: %s", cfg->pg_display ? cfg->pg_display : "", msg);
        if (c) PQfinish(c);
        return NULL;
    }
    /* bound every statement by the same timeout */
    char stmt[64];
    snprintf(stmt, sizeof stmt, "SET statement_timeout = %d", cfg->timeout_ms);
    PQclear(PQexec(c, stmt));
    at_pg *pg = calloc(1, sizeof *pg);
    pg->conn = c;
    return pg;
}

void at_pg_close(at_pg *pg)
{
    if (!pg) return;
    PQfinish(pg->conn);
    free(pg);
}

PGconn *at_pg_conn(at_pg *pg) { return pg->conn; }
const char *at_pg_error(const at_pg *pg) { return pg->err; }

PGresult *at_pg_query(at_pg *pg, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        snprintf(pg->err, sizeof pg->err, "PostgreSQL: %s",
                 res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
        one_line(pg->err);
        if (res) PQclear(res);
        return NULL;
    }
    return res;
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

#define AT_PG_BATCH 5000

int at_pg_query_ids(at_pg *pg, const char *sql, const char *const *ids, size_t n,
                    at_pg_row_fn row_fn, void *ctx)
{
    char *buf = NULL;
    size_t cap = 0;
    for (size_t start = 0; start < n; start += AT_PG_BATCH) {
        size_t end = start + AT_PG_BATCH < n ? start + AT_PG_BATCH : n;
        size_t len = 0;
        if (cap < 2) { cap = 4096; buf = realloc(buf, cap); if (!buf) abort(); }
        buf[len++] = '{';
        for (size_t i = start; i < end; i++) array_push(&buf, &len, &cap, ids[i]);
        buf[len++] = '}';
        buf[len] = '\0';
        const char *params[1] = {buf};
        PGresult *res = at_pg_query(pg, sql, 1, params);
        if (!res) { free(buf); return -1; }
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) row_fn(ctx, res, i);
        PQclear(res);
    }
    free(buf);
    return 0;
}
