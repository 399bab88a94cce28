/* query.h — the reference's list rules over a snapshot: keyword resolution
 * (exact API key id, resolvable user, else case-insensitive substring),
 * filtering, sorting (default expire_at descending) and pagination; and the
 * user-identifier resolution shared by affinity look-up and clear-user. */
#ifndef AETHERTOP_QUERY_H
#define AETHERTOP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aethertop/snapshot.h"

struct at_pg;

/* A user as resolved in PostgreSQL. */
typedef struct {
    char *user_id, *username, *email;
    char **key_ids;              /* all api_keys.id of the user */
    size_t n_key_ids;
} at_user_info;
void at_user_info_free(at_user_info *u);

/* resolve_user_identifier: trimmed; users.id, username, email, then
 * api_keys.id -> user. Returns 1 found (u filled), 0 not found, -1 error. */
int at_resolve_user(struct at_pg *pg, const char *identifier, at_user_info *u,
                    char *err, size_t errlen);

/* One API key row by exact id. Returns 1 found, 0 not, -1 error. */
typedef struct { char *id, *user_id, *name; } at_api_key_info;
int at_lookup_api_key(struct at_pg *pg, const char *id, at_api_key_info *k, char *err, size_t errlen);
void at_api_key_info_free(at_api_key_info *k);

typedef enum { AT_MATCH_ALL, AT_MATCH_API_KEY, AT_MATCH_USER, AT_MATCH_SUBSTRING } at_match_kind;

typedef struct {
    at_match_kind kind;
    char *keyword;               /* as given */
    char *keyword_lower;         /* for AT_MATCH_SUBSTRING */
    char *matched_user_id;       /* API_KEY and USER */
    char *matched_api_key_id;    /* API_KEY */
    char **key_ids; size_t n_key_ids; /* affinity keys to keep (API_KEY, USER) */
} at_keyword;

/* Resolve a keyword the reference's way. pg NULL: substring only.
 * NULL/"" keyword: AT_MATCH_ALL. Returns 0 or -1 (PostgreSQL failed). */
int at_keyword_resolve(struct at_pg *pg, const char *keyword, at_keyword *kw,
                       char *err, size_t errlen);
/* Same rules from the snapshot's own tables (no PostgreSQL round trip):
 * for typing in the console. */
void at_keyword_resolve_local(const at_snapshot *s, const char *keyword, at_keyword *kw);
void at_keyword_free(at_keyword *kw);

typedef enum {
    AT_COL_EXPIRE_AT = 0, AT_COL_USER, AT_COL_KEY_NAME, AT_COL_PROVIDER, AT_COL_ENDPOINT_FORMAT,
    AT_COL_PROVIDER_KEY, AT_COL_MODEL, AT_COL_API_FORMAT, AT_COL_REQUESTS, AT_COL_CREATED_AT,
    AT_COL__COUNT
} at_column;
const char *at_column_name(at_column c);

typedef struct { at_column col; bool descending; } at_sort;
#define AT_SORT_DEFAULT ((at_sort){AT_COL_EXPIRE_AT, true})

/* A list of row indexes into a snapshot. */
typedef struct { uint32_t *idx; size_t n, cap; } at_selection;
void at_selection_free(at_selection *sel);

typedef struct {
    const at_keyword *keyword;   /* NULL = all */
    bool live_only;              /* drop rows whose expire_at <= now */
    double now;
    const at_selection *within;  /* narrow an earlier result (NULL = all rows) */
    /* extra narrowing by group (console group views); NULL = no filter */
    const char *user_id, *provider_id, *model_name;
} at_filter;

/* Rows matching the filter, in snapshot order. Rows without an
 * affinity_key are never listed (as the reference). */
void at_query_filter(const at_snapshot *s, const at_filter *f, at_selection *out);
void at_query_sort(const at_snapshot *s, at_selection *sel, at_sort sort);

#define AT_LIMIT_MIN 1
#define AT_LIMIT_MAX 1000
#define AT_LIMIT_DEFAULT 100

#endif
