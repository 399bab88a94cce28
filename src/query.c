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
    if (!u->key_ids) abort();
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
        if (!kw->key_ids) abort();
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
            if (!kw->key_ids) abort();
            kw->key_ids[0] = strdup(keyword);
            kw->n_key_ids = 1;
            return;
        }
    }
    /* the reference's resolve_user_identifier, trimmed: users.id, username,
     * email, then an API key id standing for its user */
    char *id = trimmed(keyword);
    const char *uid = NULL;
    for (int pass = 0; pass < 3 && !uid; pass++) {
        for (size_t i = 0; i < s->n_users && !uid; i++) {
            const at_user *u = &s->users[i];
            const char *f = pass == 0 ? u->id : pass == 1 ? u->username : u->email;
            if (f && strcmp(f, id) == 0) uid = u->id;
        }
    }
    for (size_t i = 0; i < s->n_api_keys && !uid; i++)
        if (s->api_keys[i].id && s->api_keys[i].user_id && strcmp(s->api_keys[i].id, id) == 0)
            uid = s->api_keys[i].user_id;
    free(id);
    if (!uid) { keyword_substring(kw); return; }
    kw->kind = AT_MATCH_USER;
    kw->matched_user_id = strdup(uid);
    size_t n = 0;
    kw->key_ids = calloc(s->n_api_keys + 1, sizeof *kw->key_ids);
    if (!kw->matched_user_id || !kw->key_ids) abort();
    for (size_t i = 0; i < s->n_api_keys; i++)
        if (s->api_keys[i].user_id && strcmp(s->api_keys[i].user_id, uid) == 0)
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
typedef struct {
    const char *needle;
    signed char *by_api_key, *by_provider, *by_pkey;   /* per table row: -1 unknown, 0, 1 */
    at_ptrmap akey, provider, key;                     /* rows without a table row */
} match_cache;

static bool api_key_matches(const at_snapshot *s, const at_affinity *a, const char *needle)
{
    const at_api_key *k = at_row_api_key(s, a);
    const at_user *u = at_row_user(s, a);
    return contains(a->affinity_key, needle) || contains(k ? k->name : NULL, needle) ||
           contains(k ? k->user_id : NULL, needle) || contains(u ? u->username : NULL, needle) ||
           contains(u ? u->email : NULL, needle);
}

/* Match of one entity: by its table index when it has one (an array read),
 * else by the interned pointer of its id. */
static bool entity_matches(signed char *by_index, int32_t index, at_ptrmap *by_ptr, const char *ptr,
                           bool (*test)(const at_snapshot *, const at_affinity *, const char *),
                           const at_snapshot *s, const at_affinity *a, const char *needle)
{
    if (!ptr) return false;
    if (index >= 0 && by_index[index] >= 0) return by_index[index];
    int32_t v = index >= 0 ? -1 : at_ptrmap_get(by_ptr, ptr);
    if (v < 0) {
        v = test ? test(s, a, needle) : contains(ptr, needle);
        if (index >= 0) by_index[index] = (signed char)v;
        else at_ptrmap_put(by_ptr, ptr, v);
    }
    return v;
}

static bool row_matches_substring(const at_snapshot *s, const at_affinity *a, match_cache *c)
{
    return entity_matches(c->by_api_key, a->api_key, &c->akey, a->affinity_key, api_key_matches, s, a, c->needle) ||
           entity_matches(c->by_provider, a->provider, &c->provider, a->provider_id, NULL, s, a, c->needle) ||
           entity_matches(c->by_pkey, a->provider_key, &c->key, a->key_id, NULL, s, a, c->needle);
}

static signed char *unknowns(size_t n)
{
    signed char *v = malloc(n + 1);
    if (!v) abort();
    memset(v, -1, n + 1);
    return v;
}

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

typedef struct {
    const at_snapshot *s;
    const at_filter *f;
    const at_keyword *kw;
    at_ptrmap keys;              /* key ids as the snapshot's interned pointers */
    signed char *key_member;     /* the same by API key table row */
    match_cache mc;
} filter_ctx;

static bool row_passes(filter_ctx *c, uint32_t i)
{
    const at_snapshot *s = c->s;
    const at_filter *f = c->f;
    const at_keyword *kw = c->kw;
    const at_affinity *a = &s->rows[i];
    if (!a->affinity_key || !*a->affinity_key) return false;
    if (f && f->live_only && !isnan(a->expire_at) && a->expire_at <= f->now) return false;
    if (kw) {
        if ((kw->kind == AT_MATCH_API_KEY || kw->kind == AT_MATCH_USER) &&
            !(a->api_key >= 0 ? c->key_member[a->api_key] : at_ptrmap_get(&c->keys, a->affinity_key) >= 0))
            return false;
        if (kw->kind == AT_MATCH_SUBSTRING && !row_matches_substring(s, a, &c->mc)) return false;
    }
    if (f && f->user_id) {
        const at_api_key *k = at_row_api_key(s, a);
        if (!k || !same(k->user_id, f->user_id)) return false;
    }
    if (f && f->provider_id && !same(a->provider_id, f->provider_id)) return false;
    if (f && f->model_name && !same(a->model_name, f->model_name)) return false;
    return true;
}

void at_query_filter(const at_snapshot *s, const at_filter *f, at_selection *out)
{
    memset(out, 0, sizeof *out);
    filter_ctx c = {.s = s, .f = f, .kw = f ? f->keyword : NULL};
    at_ptrmap_init(&c.keys);
    if (c.kw && (c.kw->kind == AT_MATCH_API_KEY || c.kw->kind == AT_MATCH_USER))
        for (size_t i = 0; i < c.kw->n_key_ids; i++) {
            const char *p = at_strmap_find(&s->strings.map, c.kw->key_ids[i], strlen(c.kw->key_ids[i]), NULL);
            if (p) at_ptrmap_put(&c.keys, p, 1);
        }
    c.key_member = calloc(s->n_api_keys + 1, 1);
    if (!c.key_member) abort();
    for (size_t i = 0; i < s->n_api_keys; i++) c.key_member[i] = at_ptrmap_get(&c.keys, s->api_keys[i].id) >= 0;
    c.mc = (match_cache){.needle = c.kw ? c.kw->keyword_lower : NULL,
                         .by_api_key = unknowns(s->n_api_keys), .by_provider = unknowns(s->n_providers),
                         .by_pkey = unknowns(s->n_provider_keys)};
    at_ptrmap_init(&c.mc.akey);
    at_ptrmap_init(&c.mc.provider);
    at_ptrmap_init(&c.mc.key);

    const at_selection *within = f ? f->within : NULL;
    if (!within) {
        for (uint32_t i = 0; i < s->n_rows; i++)
            if (row_passes(&c, i)) sel_push(out, i);
    } else if (within->n * 4 < s->n_rows) {
        /* a narrow earlier result: visit just its rows */
        for (size_t j = 0; j < within->n; j++)
            if (row_passes(&c, within->idx[j])) sel_push(out, within->idx[j]);
    } else {
        /* a wide one (e.g. all rows in sorted order): test the rows in memory
         * order into a bitmap, then keep the earlier order — no cache miss
         * per row */
        uint64_t *bits = calloc(s->n_rows / 64 + 1, sizeof *bits);
        if (!bits) abort();
        for (uint32_t i = 0; i < s->n_rows; i++)
            if (row_passes(&c, i)) bits[i / 64] |= 1ull << (i % 64);
        for (size_t j = 0; j < within->n; j++) {
            uint32_t i = within->idx[j];
            if (bits[i / 64] >> (i % 64) & 1) sel_push(out, i);
        }
        free(bits);
    }
    at_ptrmap_free(&c.keys);
    at_ptrmap_free(&c.mc.akey);
    at_ptrmap_free(&c.mc.provider);
    at_ptrmap_free(&c.mc.key);
    free(c.mc.by_api_key);
    free(c.mc.by_provider);
    free(c.mc.by_pkey);
    free(c.key_member);
}

/* ---- sorting ------------------------------------------------------------- */

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

/* Sort records: the key of each row is computed once, not per comparison. */
typedef struct {
    double num;
    const char *str;       /* text columns (interned, compared by content) */
    const char *tie;       /* the Redis key: a stable, deterministic order */
    uint32_t idx;
} sort_rec;

static int cmp_asc(const void *pa, const void *pb)
{
    const sort_rec *a = pa, *b = pb;
    int r = a->num < b->num ? -1 : a->num > b->num;
    if (r == 0 && a->str != b->str) r = strcmp(a->str ? a->str : "", b->str ? b->str : "");
    return r ? r : strcmp(a->tie, b->tie);
}

static int cmp_desc(const void *pa, const void *pb)
{
    const sort_rec *a = pa, *b = pb;
    int r = a->num < b->num ? 1 : a->num > b->num ? -1 : 0;
    if (r == 0 && a->str != b->str) r = -strcmp(a->str ? a->str : "", b->str ? b->str : "");
    return r ? r : strcmp(a->tie, b->tie);
}

void at_query_sort(const at_snapshot *s, at_selection *sel, at_sort sort)
{
    if (sel->n < 2) return;
    sort_rec *rec = malloc(sel->n * sizeof *rec);
    if (!rec) abort();
    for (size_t i = 0; i < sel->n; i++) {
        const at_affinity *a = &s->rows[sel->idx[i]];
        sort_rec *r = &rec[i];
        r->idx = sel->idx[i];
        r->tie = a->redis_key;
        r->str = NULL;
        switch (sort.col) {
        case AT_COL_EXPIRE_AT: r->num = or_zero(a->expire_at); break;
        case AT_COL_CREATED_AT: r->num = or_zero(a->created_at); break;
        case AT_COL_REQUESTS: r->num = (double)a->request_count; break;
        default: r->num = 0; r->str = text_of(s, a, sort.col); break;
        }
    }
    qsort(rec, sel->n, sizeof *rec, sort.descending ? cmp_desc : cmp_asc);
    for (size_t i = 0; i < sel->n; i++) sel->idx[i] = rec[i].idx;
    free(rec);
}
