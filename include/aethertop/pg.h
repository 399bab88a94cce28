/* pg.h — the gateway's PostgreSQL: one connection, parameterised queries
 * only, batched id look-ups with `= ANY($1)`. */
#ifndef AETHERTOP_PG_H
#define AETHERTOP_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "aethertop/config.h"

typedef struct at_pg at_pg;

at_pg *at_pg_open(const at_config *cfg, char *err, size_t errlen);
void at_pg_close(at_pg *pg);
PGconn *at_pg_conn(at_pg *pg);
const char *at_pg_error(const at_pg *pg);

/* Run a parameterised query (text params, text results). NULL on failure
 * (reason in at_pg_error). Caller PQclear()s. */
PGresult *at_pg_query(at_pg *pg, const char *sql, int nparams, const char *const *params);
/* The same with results in binary format (text columns are still their
 * bytes, NUL-terminated; numbers and arrays in PostgreSQL's send format). */
PGresult *at_pg_query_binary(at_pg *pg, const char *sql, int nparams, const char *const *params);

/* One query without waiting for its answer (at most one in flight; the
 * blocking calls refuse while one is): at_pg_send returns 0 or -1, and
 * at_pg_receive the answer — with wait false, NULL and *pending true while
 * it has not all arrived; with wait true, bounded by the timeout. NULL with
 * *pending false on failure (reason in at_pg_error). Caller PQclear()s. */
int at_pg_send(at_pg *pg, const char *sql, int nparams, const char *const *params);
PGresult *at_pg_receive(at_pg *pg, bool wait, bool *pending);

/* The most ids one look-up carries. */
#define AT_PG_BATCH 5000
/* A text[] literal of ids ("{\"a\",\"b\"}"), quoted and escaped; free() it. */
char *at_pg_id_array(const char *const *ids, size_t n);

/* Run `sql` (whose $1 is a text[]) once per batch of up to AT_PG_BATCH ids;
 * call row_fn for every returned row. Returns 0 or -1. */
typedef void (*at_pg_row_fn)(void *ctx, PGresult *res, int row);
int at_pg_query_ids(at_pg *pg, const char *sql, const char *const *ids, size_t n,
                    at_pg_row_fn row_fn, void *ctx);

#endif
