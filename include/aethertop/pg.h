/* pg.h — the gateway's PostgreSQL: one connection, parameterised queries
 * only, batched id look-ups with `= ANY($1)`. */
#ifndef AETHERTOP_PG_H
#define AETHERTOP_PG_H

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

/* Run `sql` (whose $1 is a text[]) once per batch of up to `batch` ids; call
 * row_fn for every returned row. Returns 0 or -1. */
typedef void (*at_pg_row_fn)(void *ctx, PGresult *res, int row);
int at_pg_query_ids(at_pg *pg, const char *sql, const char *const *ids, size_t n,
                    at_pg_row_fn row_fn, void *ctx);

#endif
