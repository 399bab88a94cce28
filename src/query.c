/* query.c — the reference's list rules: resolve a keyword (exact API key id,
 * then a user by id/username/email/API key id, else a case-insensitive
 * substring over the searchable fields), filter a snapshot, sort it. */
#include "aethertop/query.h"
#include "aethertop/pg.h"
#include "aethertop/text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void at_user_info_free(at_user_info *u)
{
    free(u->user_id);
    free(u->username);
    free(u->email);
    for (size_t i = 0; i < u->n_key_ids; i++) free(u->key_ids[i]);
    free(u->key_ids);
    memset(u, 0, sizeof *u);
}

void at_api_key_info_free(at_api_key_info *k)
{
    free(k->id);
    free(k->user_id);
    free(k->name);
    memset(k, 0, sizeof *k);
}

static char *trimmed(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return strndup(s, n);
}

static char *pg_val(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : strdup(PQgetvalue(res, r, c));
}

/* First user row matching `column = $1`. 1 found, 0 not, -1 error. */
static int user_by(at_pg *pg, const char *column, const char *value, at_user_info *u)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id, username, email FROM users WHERE %s = $1 LIMIT 1", column);
    const char *params[] = {value};
    PGresult *res = at_pg_query(pg, sql, 1, params);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    if (found) {
        u->user_id = pg_val(res, 0, 0);
        u->username = pg_val(res, 0, 1);
        u->email = pg_val(res, 0, 2);
    }
    PQclear(res);
    return found;
}

static int user_key_ids(at_pg *pg, at_user_info *u)
{
    const char *params[] = {u->user_id};
    PGresult *res = at_pg_query(pg, "SELECT id FROM api_keys WHERE user_id = $1 ORDER BY id", 1, params);
    if (!res) return -1;
    int n = PQntuples(res);
    u->key_ids = calloc((size_t)n + 1, sizeof *u->key_ids);
    for (int i = 0; i < n; i++) u->key_ids[i] = pg_val(res, i, 0);
    u->n_key_ids = (size_t)n;
    PQclear(res);
    return 0;
}

int at_lookup_api_key(at_pg *pg, const char *id, at_api_key_info *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    const char *params[] = {id};
    PGresult *res = at_pg_query(pg, "SELECT id, user_id, name FROM api_keys WHERE id = $1 LIMIT 1", 1, params);
    if (!res) {
        snprintf(err, errlen, "%s", at_pg_error(pg));
        return -1;
    }
    int found = PQntuples(res) > 0;
    if (found) {
        k->id = pg_val(res, 0, 0);
        k->user_id = pg_val(res, 0, 1);
        k->name = pg_val(res, 0, 2);
    }
    PQclear(res);
    return found;
}

int at_resolve_user(at_pg *pg, const char *identifier, at_user_info *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    char *id = trimmed(identifier ? identifier : "");
    int rc = user_by(pg, "id", id, u);
    if (rc == 0) rc = user_by(pg, "username", id, u);
    if (rc == 0) rc = user_by(pg, "email", id, u);
    if (rc == 0) {
        at_api_key_info k;
        char e[8];
        rc = at_lookup_api_key(pg, id, &k, e, sizeof e);
        if (rc == 1) {
            rc = k.user_id ? user_by(pg, "id", k.user_id, u) : 0;
            if (rc == 0 && k.user_id) { /* key of a vanished user: still a user id */
                u->user_id = strdup(k.user_id);
                rc = 1;
            }
        }
        at_api_key_info_free(&k);
    }
    if (rc == 1 && user_key_ids(pg, u) < 0) rc = -1;
    free(id);
    if (rc < 0) {
        snprintf(err, errlen, "%s", at_pg_error(pg));
        at_user_info_free(u);
    }
    return rc;
}

void at_keyword_free(at_keyword *kw)
{
    free(kw->keyword);
    free(kw->keyword_lower);
    free(kw->matched_user_id);
    free(kw->matched_api_key_id);
    for (size_t i = 0; i < kw->n_key_ids; i++) free(kw->key_ids[i]);
    free(kw->key_ids);
    memset(kw, 0, sizeof *kw);
}

static void keyword_substring(at_keyword *kw)
{
    kw->kind = AT_MATCH_SUBSTRING;
    kw->keyword_lower = at_utf8_lower(kw->keyword);
}

int at_keyword_resolve(at_pg *pg, const char *keyword, at_keyword *kw, char *err, size_t errlen)
{
    memset(kw, 0, sizeof *kw);
    if (!keyword || !*keyword) { kw->kind = AT_MATCH_ALL; return 0; }
    kw->keyword = strdup(keyword);
    if (!pg) { keyword_substring(kw); return 0; }
    at_api_key_info k;
    int rc = at_lookup_api_key(pg, keyword, &k, err, errlen);
    if (rc < 0) { at_keyword_free(kw); return -1; }
    if (rc == 1) {
        kw->kind = AT_MATCH_API_KEY;
        kw->matched_api_key_id = dup_or_null(k.id);
        kw->matched_user_id = dup_or_null(k.user_id);
        kw->key_ids = calloc(1, sizeof *kw->key_ids);
        kw->key_ids[0] = strdup(k.id);
        kw->n_key_ids = 1;
        at_api_key_info_free(&k);
        return 0;
    }
    at_user_info u;
    rc = at_resolve_user(pg, keyword, &u, err, errlen);
    if (rc < 0) { at_keyword_free(kw); return -1; }
    if (rc == 1) {
        kw->kind = AT_MATCH_USER;
        kw->matched_user_id = u.user_id;
        kw->key_ids = u.key_ids;
        kw->n_key_ids = u.n_key_ids;
        u.user_id = NULL;
        u.key_ids = NULL;
        u.n_key_ids = 0;
        at_user_info_free(&u);
        return 0;
    }
    keyword_substring(kw);
    return 0;
}

void at_keyword_resolve_local(const at_snapshot *s, const char *keyword, at_keyword *kw)
{
    memset(kw, 0, sizeof *kw);
    if (!keyword || !*keyword) { kw->kind = AT_MATCH_ALL; return; }
    kw->keyword = strdup(keyword);
    for (size_t i = 0; i < s->n_api_keys; i++) {
        if (s->api_keys[i].id && strcmp(s->api_keys[i].id, keyword) == 0) {
            kw->kind = AT_MATCH_API_KEY;
            kw->matched_api_key_id = strdup(keyword);
            kw->matched_user_id = dup_or_null(s->api_keys[i].user_id);
            kw->key_ids = calloc(1, sizeof *kw->key_ids);
            kw->key_ids[0] = strdup(keyword);
            kw->n_key_ids = 1;
            return;
        }
    }
    char *id = trimmed(keyword);
    const at_user *match = NULL;
    static const int order[3] = {0, 1, 2};
    for (int pass = 0; pass < 3 && !match; pass++) {
        for (size_t i = 0; i < s->n_users && !match; i++) {
            const at_user *u = &s->users[i];
            const char *f = order[pass] == 0 ? u->id : order[pass] == 1 ? u->username : u->email;
            if (f && strcmp(f, id) == 0) match = u;
        }
    }
    free(id);
    if (!match) { keyword_substring(kw); return; }
    kw->kind = AT_MATCH_USER;
    kw->matched_user_id = strdup(match->id);
    size_t n = 0;
    kw->key_ids = calloc(s->n_api_keys + 1, sizeof *kw->key_ids);
    for (size_t i = 0; i < s->n_api_keys; i++)
        if (s->api_keys[i].user_id && strcmp(s->api_keys[i].user_id, match->id) == 0)
            kw->key_ids[n++] = strdup(s->api_keys[i].id);
    kw->n_key_ids = n;
}

const char *at_column_name(at_column c)
{
    static const char *const names[AT_COL__COUNT] = {
        "expire_at", "user", "key_name", "provider", "endpoint_format",
        "provider_key", "model", "api_format", "requests", "created_at"};
    return c < AT_COL__COUNT ? names[c] : "?";
}

void at_selection_free(at_selection *sel)
{
    free(sel->idx);
    memset(sel, 0, sizeof *sel);
}

static void sel_push(at_selection *sel, uint32_t i)
{
    if (sel->n == sel->cap) {
        sel->cap = sel->cap ? sel->cap * 2 : 256;
        sel->idx = realloc(sel->idx, sel->cap * sizeof *sel->idx);
        if (!sel->idx) abort();
    }
    sel->idx[sel->n++] = i;
}

static bool contains(const char *field, const char *needle_lower)
{
    return field && *field && at_utf8_icontains(field, needle_lower);
}

/* The searchable fields all belong to an entity an interned pointer names:
 * the user's API key (its id, name, user id, username, email), the provider
 * id and the provider key id. Each distinct entity is tested once and the
 * answer cached by pointer, so a search over a million rows costs a million
 * cache look-ups, not seven million substring scans. */
typedef struct { at_ptrmap akey, provider, key; const char *needle; } match_cache;

static bool api_key_matches(const at_snapshot *s, const at_affinity *a, const char *needle)
{
    const at_api_key *k = at_row_api_key(s, a);
    const at_user *u = at_row_user(s, a);
    return contains(a->affinity_key, needle) || contains(k ? k->name : NULL, needle) ||
           contains(k ? k->user_id : NULL, needle) || contains(u ? u->username : NULL, needle) ||
           contains(u ? u->email : NULL, needle);
}

static bool cached(at_ptrmap *m, const char *ptr, const char *needle)
{
    if (!ptr) return false;
    int32_t v = at_ptrmap_get(m, ptr);
    if (v < 0) {
        v = contains(ptr, needle);
        at_ptrmap_put(m, ptr, v);
    }
    return v;
}

static bool row_matches_substring(const at_snapshot *s, const at_affinity *a, match_cache *c)
{
    int32_t v = at_ptrmap_get(&c->akey, a->affinity_key);
    if (v < 0) {
        v = api_key_matches(s, a, c->needle);
        at_ptrmap_put(&c->akey, a->affinity_key, v);
    }
    return v || cached(&c->provider, a->provider_id, c->needle) || cached(&c->key, a->key_id, c->needle);
}

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

void at_query_filter(const at_snapshot *s, const at_filter *f, at_selection *out)
{
    memset(out, 0, sizeof *out);
    const at_keyword *kw = f ? f->keyword : NULL;
    /* key ids as the snapshot's interned pointers (ids absent from it match no row) */
    at_ptrmap keys;
    at_ptrmap_init(&keys);
    match_cache mc = {.needle = kw ? kw->keyword_lower : NULL};
    at_ptrmap_init(&mc.akey);
    at_ptrmap_init(&mc.provider);
    at_ptrmap_init(&mc.key);
    if (kw && (kw->kind == AT_MATCH_API_KEY || kw->kind == AT_MATCH_USER))
        for (size_t i = 0; i < kw->n_key_ids; i++) {
            const char *p = at_strmap_find(&s->strings.map, kw->key_ids[i], strlen(kw->key_ids[i]), NULL);
            if (p) at_ptrmap_put(&keys, p, 1);
        }
    size_t n = f && f->within ? f->within->n : s->n_rows;
    for (size_t j = 0; j < n; j++) {
        uint32_t i = f && f->within ? f->within->idx[j] : (uint32_t)j;
        const at_affinity *a = &s->rows[i];
        if (!a->affinity_key || !*a->affinity_key) continue;
        if (f && f->live_only && !isnan(a->expire_at) && a->expire_at <= f->now) continue;
        if (kw) {
            if ((kw->kind == AT_MATCH_API_KEY || kw->kind == AT_MATCH_USER) &&
                at_ptrmap_get(&keys, a->affinity_key) < 0)
                continue;
            if (kw->kind == AT_MATCH_SUBSTRING && !row_matches_substring(s, a, &mc))
                continue;
        }
        if (f && f->user_id) {
            const at_api_key *k = at_row_api_key(s, a);
            if (!k || !same(k->user_id, f->user_id)) continue;
        }
        if (f && f->provider_id && !same(a->provider_id, f->provider_id)) continue;
        if (f && f->model_name && !same(a->model_name, f->model_name)) continue;
        sel_push(out, i);
    }
    at_ptrmap_free(&keys);
    at_ptrmap_free(&mc.akey);
    at_ptrmap_free(&mc.provider);
    at_ptrmap_free(&mc.key);
}

/* ---- sorting ------------------------------------------------------------- */

typedef struct { const at_snapshot *s; at_sort sort; } sort_ctx;

static int cmp_str(const char *a, const char *b)
{
    if (!a) a = "";
    if (!b) b = "";
    return strcmp(a, b);
}

static int cmp_num(double a, double b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

static double or_zero(double v) { return isnan(v) ? 0 : v; }

static const char *text_of(const at_snapshot *s, const at_affinity *a, at_column c)
{
    switch (c) {
    case AT_COL_USER: { const at_user *u = at_row_user(s, a); return u ? u->username : NULL; }
    case AT_COL_KEY_NAME: { const at_api_key *k = at_row_api_key(s, a); return k ? k->name : NULL; }
    case AT_COL_PROVIDER: { const at_provider *p = at_row_provider(s, a); return p ? p->display_name : a->provider_id; }
    case AT_COL_ENDPOINT_FORMAT: { const at_endpoint *e = at_row_endpoint(s, a); return e ? e->api_format : NULL; }
    case AT_COL_PROVIDER_KEY: { const at_provider_key *k = at_row_provider_key(s, a); return k ? k->name : a->key_id; }
    case AT_COL_MODEL: return at_row_model_label(s, a);
    case AT_COL_API_FORMAT: return a->api_format;
    default: return NULL;
    }
}

static int cmp_rows(const void *pa, const void *pb, void *vctx)
{
    const sort_ctx *c = vctx;
    const at_affinity *a = &c->s->rows[*(const uint32_t *)pa];
    const at_affinity *b = &c->s->rows[*(const uint32_t *)pb];
    int r;
    switch (c->sort.col) {
    case AT_COL_EXPIRE_AT: r = cmp_num(or_zero(a->expire_at), or_zero(b->expire_at)); break;
    case AT_COL_CREATED_AT: r = cmp_num(or_zero(a->created_at), or_zero(b->created_at)); break;
    case AT_COL_REQUESTS: r = cmp_num((double)a->request_count, (double)b->request_count); break;
    default: r = cmp_str(text_of(c->s, a, c->sort.col), text_of(c->s, b, c->sort.col)); break;
    }
    if (c->sort.descending) r = -r;
    if (r == 0) r = strcmp(a->redis_key, b->redis_key); /* stable, deterministic order */
    return r;
}

void at_query_sort(const at_snapshot *s, at_selection *sel, at_sort sort)
{
    sort_ctx c = {s, sort};
    if (sel->n > 1) qsort_r(sel->idx, sel->n, sizeof *sel->idx, cmp_rows, &c);
}
