/* mapping.c — the model-mapping cache view (reference:
 * AdminModelMappingCacheStatsAdapter): counts per key family, name mappings
 * with the providers that really map the name, provider-level mappings with
 * TTL and hit count, unmapped entries. Every key is inspected (not the first
 * 100), values and TTLs are fetched in pipelined batches, and the PostgreSQL
 * look-ups are one batched query per table. */
#include "aethertop/mapping.h"
#include "aethertop/affinity.h"
#include "aethertop/json.h"
#include "aethertop/pg.h"
#include "aethertop/redis.h"
#include "aethertop/strmap.h"
#include "aethertop/text.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P_MODEL_ID "model:id:"
#define P_PROVIDER_GLOBAL "model:provider_global:"
#define P_PROVIDER_GLOBAL_HITS "model:provider_global:hits:"
#define P_GM_ID "global_model:id:"
#define P_GM_NAME "global_model:name:"
#define P_GM_RESOLVE "global_model:resolve:"

typedef struct { char **v; size_t n, cap; } strvec;

static void sv_push(strvec *sv, const char *s, size_t len)
{
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 64;
        sv->v = realloc(sv->v, sv->cap * sizeof *sv->v);
        if (!sv->v) abort();
    }
    sv->v[sv->n++] = strndup(s, len);
}

static void sv_free(strvec *sv)
{
    for (size_t i = 0; i < sv->n; i++) free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
    size_t pl = strlen(p);
    return len >= pl && memcmp(s, p, pl) == 0;
}

typedef struct { strvec resolve, provider_global; at_mapping_stats *m; } scan_ctx;

static int classify(void *vctx, size_t n, const char *const *keys, const size_t *klens,
                    const char *const *vals, const size_t *vlens)
{
    (void)vals;
    (void)vlens;
    scan_ctx *c = vctx;
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i];
        size_t l = klens[i];
        if (has_prefix(k, l, P_MODEL_ID)) c->m->model_by_id++;
        else if (has_prefix(k, l, P_PROVIDER_GLOBAL_HITS)) continue;
        else if (has_prefix(k, l, P_PROVIDER_GLOBAL)) { c->m->model_by_provider_global++; sv_push(&c->provider_global, k, l); }
        else if (has_prefix(k, l, P_GM_ID)) c->m->global_model_by_id++;
        else if (has_prefix(k, l, P_GM_NAME)) c->m->global_model_by_name++;
        else if (has_prefix(k, l, P_GM_RESOLVE)) { c->m->global_model_resolve++; sv_push(&c->resolve, k, l); }
    }
    return 0;
}

/* Pipelined GET + TTL (+ an optional second GET) for a list of keys. */
typedef struct { redisReply **val, **ttl, **extra; } fetched;

static int fetch(at_redis *r, char **keys, char **extra_keys, size_t n, fetched *out)
{
    out->val = calloc(n + 1, sizeof *out->val);
    out->ttl = calloc(n + 1, sizeof *out->ttl);
    out->extra = calloc(n + 1, sizeof *out->extra);
    const size_t batch = 500;
    for (size_t s = 0; s < n; s += batch) {
        size_t e = s + batch < n ? s + batch : n;
        for (size_t i = s; i < e; i++) {
            const char *g[] = {"GET", keys[i]};
            const char *t[] = {"TTL", keys[i]};
            at_redis_append(r, 2, g, NULL);
            at_redis_append(r, 2, t, NULL);
            if (extra_keys) {
                const char *x[] = {"GET", extra_keys[i]};
                at_redis_append(r, 2, x, NULL);
            }
        }
        for (size_t i = s; i < e; i++) {
            if (!(out->val[i] = at_redis_read(r))) return -1;
            if (!(out->ttl[i] = at_redis_read(r))) return -1;
            if (extra_keys && !(out->extra[i] = at_redis_read(r))) return -1;
        }
    }
    return 0;
}

static void fetched_free(fetched *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f->val && f->val[i]) freeReplyObject(f->val[i]);
        if (f->ttl && f->ttl[i]) freeReplyObject(f->ttl[i]);
        if (f->extra && f->extra[i]) freeReplyObject(f->extra[i]);
    }
    free(f->val);
    free(f->ttl);
    free(f->extra);
}

static long long ttl_of(const redisReply *t)
{
    return t && t->type == REDIS_REPLY_INTEGER && t->integer > 0 ? t->integer : -1;
}

static char *json_str(const cJSON *o, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(it) && it->valuestring ? strdup(it->valuestring) : NULL;
}

/* Active (model, provider) pairs per global model, for "which providers map this name". */
typedef struct {
    char *global_model_id, *provider_label, *provider_model_name;
    cJSON *mappings;
} model_row;

typedef struct { model_row *v; size_t n; } model_rows;

static void collect_model(void *vctx, PGresult *res, int r)
{
    model_rows *rows = vctx;
    rows->v = realloc(rows->v, (rows->n + 1) * sizeof *rows->v);
    if (!rows->v) abort();
    model_row *m = &rows->v[rows->n++];
    m->global_model_id = strdup(PQgetvalue(res, r, 0));
    m->provider_label = strdup(PQgetvalue(res, r, 1));
    m->provider_model_name = strdup(PQgetvalue(res, r, 2));
    m->mappings = PQgetisnull(res, r, 3) ? NULL : cJSON_Parse(PQgetvalue(res, r, 3));
}

static bool mappings_contain(const cJSON *list, const char *name)
{
    const cJSON *e;
    if (!cJSON_IsArray(list)) return false;
    cJSON_ArrayForEach(e, list) {
        const cJSON *n = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "name") : NULL;
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return true;
    }
    return false;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_unmapped(at_mapping_stats *m, const char *name, const char *status, long long ttl)
{
    m->unmapped = realloc(m->unmapped, (m->n_unmapped + 1) * sizeof *m->unmapped);
    if (!m->unmapped) abort();
    m->unmapped[m->n_unmapped++] = (at_unmapped){strdup(name), status, ttl};
}

static int cmp_unmapped(const void *a, const void *b)
{
    return strcmp(((const at_unmapped *)a)->mapping_name, ((const at_unmapped *)b)->mapping_name);
}

static int cmp_name_mapping(const void *a, const void *b)
{
    return strcmp(((const at_name_mapping *)a)->mapping_name, ((const at_name_mapping *)b)->mapping_name);
}

static int cmp_provider_mapping(const void *a, const void *b)
{
    const at_provider_mapping *x = a, *y = b;
    int r = strcmp(x->provider_name, y->provider_name);
    return r ? r : strcmp(x->global_model_name, y->global_model_name);
}

static void resolve_entries(at_mapping_stats *m, at_pg *pg, char **keys, size_t n, fetched *f)
{
    /* first pass: classify every value; the global model ids the mappings name */
    at_resolve_kind *kind = calloc(n + 1, sizeof *kind);
    at_resolve_value *val = calloc(n + 1, sizeof *val);
    if (!kind || !val) abort();
    strvec gm_ids = {0};
    for (size_t i = 0; i < n; i++) {
        const redisReply *v = f->val[i];
        if (v->type != REDIS_REPLY_STRING) continue; /* expired meanwhile */
        kind[i] = at_mapping_classify_resolve(keys[i] + strlen(P_GM_RESOLVE), v->str, v->len, &val[i]);
        const char *id = kind[i] == AT_RESOLVE_MAPPING ? val[i].global_model_id : NULL;
        if (id) sv_push(&gm_ids, id, strlen(id));
    }
    model_rows rows = {0};
    if (pg && gm_ids.n &&
        at_pg_query_ids(pg,
                        "SELECT m.global_model_id, COALESCE(NULLIF(p.display_name, ''), p.name), "
                        "m.provider_model_name, m.provider_model_mappings::text "
                        "FROM models m JOIN providers p ON m.provider_id = p.id "
                        "WHERE m.global_model_id = ANY($1::text[]) AND m.is_active AND p.is_active",
                        (const char *const *)gm_ids.v, gm_ids.n, collect_model, &rows) < 0)
        snprintf(m->warning, sizeof m->warning, "PostgreSQL: %s; the providers of name mappings are not shown",
                 at_pg_error(pg));
    for (size_t i = 0; i < n; i++) {
        const char *name = keys[i] + strlen(P_GM_RESOLVE);
        long long ttl = ttl_of(f->ttl[i]);
        if (f->val[i]->type != REDIS_REPLY_STRING) continue;
        switch (kind[i]) {
        case AT_RESOLVE_NOT_FOUND: add_unmapped(m, name, "not_found", ttl); continue;
        case AT_RESOLVE_ERROR: add_unmapped(m, name, "error", -1); continue;
        case AT_RESOLVE_INVALID: add_unmapped(m, name, "invalid", ttl); continue;
        case AT_RESOLVE_SAME_NAME:
        case AT_RESOLVE_EMPTY: continue;
        case AT_RESOLVE_MAPPING: break;
        }
        const char *gid = val[i].global_model_id;
        at_name_mapping nm = {.mapping_name = strdup(name), .global_model_name = val[i].global_model_name,
                              .global_model_display_name = val[i].global_model_display_name, .ttl = ttl};
        val[i].global_model_name = val[i].global_model_display_name = NULL; /* owned by nm now */
        for (size_t j = 0; gid && j < rows.n; j++) {
            model_row *mr = &rows.v[j];
            if (strcmp(mr->global_model_id, gid) != 0) continue;
            if (strcmp(mr->provider_model_name, name) != 0 && !mappings_contain(mr->mappings, name)) continue;
            bool dup = false;
            for (size_t k = 0; k < nm.n_providers; k++) dup |= strcmp(nm.providers[k], mr->provider_label) == 0;
            if (dup) continue;
            nm.providers = realloc(nm.providers, (nm.n_providers + 1) * sizeof *nm.providers);
            nm.providers[nm.n_providers++] = strdup(mr->provider_label);
        }
        if (nm.n_providers > 1) qsort(nm.providers, nm.n_providers, sizeof *nm.providers, cmp_strp);
        m->mappings = realloc(m->mappings, (m->n_mappings + 1) * sizeof *m->mappings);
        m->mappings[m->n_mappings++] = nm;
    }
    for (size_t j = 0; j < rows.n; j++) {
        free(rows.v[j].global_model_id);
        free(rows.v[j].provider_label);
        free(rows.v[j].provider_model_name);
        cJSON_Delete(rows.v[j].mappings);
    }
    free(rows.v);
    for (size_t i = 0; i < n; i++) at_resolve_value_free(&val[i]);
    free(val);
    free(kind);
    sv_free(&gm_ids);
    if (m->n_mappings > 1) qsort(m->mappings, m->n_mappings, sizeof *m->mappings, cmp_name_mapping);
    if (m->n_unmapped > 1) qsort(m->unmapped, m->n_unmapped, sizeof *m->unmapped, cmp_unmapped);
}

/* id -> (name, display_name) for active providers / global models. */
typedef struct { at_strmap idx; strvec ids, a, b; } name_table;

static void collect_names(void *vctx, PGresult *res, int r)
{
    name_table *t = vctx;
    sv_push(&t->ids, PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0));
    sv_push(&t->a, PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1));
    sv_push(&t->b, PQgetvalue(res, r, 2), (size_t)PQgetlength(res, r, 2));
}

static void name_table_index(name_table *t)
{
    at_strmap_init(&t->idx);
    for (size_t i = 0; i < t->ids.n; i++) at_strmap_put(&t->idx, t->ids.v[i], (int32_t)i);
}

static void name_table_free(name_table *t)
{
    at_strmap_free(&t->idx);
    sv_free(&t->ids);
    sv_free(&t->a);
    sv_free(&t->b);
}

static bool parse_hits(const redisReply *h, long long *out)
{
    *out = 0;
    if (!h || h->type == REDIS_REPLY_NIL) return true;
    if (h->type == REDIS_REPLY_INTEGER) { *out = h->integer; return true; }
    if (h->type != REDIS_REPLY_STRING) return false;
    return at_mapping_parse_hits(h->str, h->len, out);
}

static int provider_entries(at_mapping_stats *m, at_redis *r, at_pg *pg, char **keys, size_t n)
{
    /* split keys into provider / global model ids; skip malformed ones */
    char **hits = calloc(n + 1, sizeof *hits);
    char **pid = calloc(n + 1, sizeof *pid), **gid = calloc(n + 1, sizeof *gid);
    strvec pids = {0}, gids = {0};
    for (size_t i = 0; i < n; i++) {
        const char *rest = keys[i] + strlen(P_PROVIDER_GLOBAL);
        const char *colon = strchr(rest, ':');
        if (!colon || strchr(colon + 1, ':')) continue;
        pid[i] = strndup(rest, (size_t)(colon - rest));
        gid[i] = strdup(colon + 1);
        sv_push(&pids, pid[i], strlen(pid[i]));
        sv_push(&gids, gid[i], strlen(gid[i]));
        size_t hl = strlen(P_PROVIDER_GLOBAL_HITS) + strlen(rest) + 1;
        hits[i] = malloc(hl);
        snprintf(hits[i], hl, P_PROVIDER_GLOBAL_HITS "%s", rest);
    }
    /* keys without a well-formed id pair get a harmless placeholder fetch */
    for (size_t i = 0; i < n; i++) if (!hits[i]) hits[i] = strdup(keys[i]);
    name_table prov = {0}, gms = {0};
    if (pg && (at_pg_query_ids(pg, "SELECT id, COALESCE(NULLIF(display_name, ''), name), name FROM providers "
                                   "WHERE id = ANY($1::text[]) AND is_active",
                               (const char *const *)pids.v, pids.n, collect_names, &prov) < 0 ||
               at_pg_query_ids(pg, "SELECT id, name, display_name FROM global_models "
                                   "WHERE id = ANY($1::text[]) AND is_active",
                               (const char *const *)gids.v, gids.n, collect_names, &gms) < 0))
        snprintf(m->warning, sizeof m->warning, "PostgreSQL: %s; provider-level mappings are not shown",
                 at_pg_error(pg));
    name_table_index(&prov);
    name_table_index(&gms);
    fetched ff = {0};
    int rc = fetch(r, keys, hits, n, &ff);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!pid[i]) continue;
            long long hit_count;
            if (!parse_hits(ff.extra[i], &hit_count)) continue; /* reference: int() fails, entry skipped */
            const redisReply *v = ff.val[i];
            at_provider_value pv;
            if (v->type != REDIS_REPLY_STRING || !at_mapping_parse_provider_value(v->str, v->len, &pv)) continue;
            int32_t pi = at_strmap_get(&prov.idx, pid[i]);
            int32_t gi = at_strmap_get(&gms.idx, gid[i]);
            if (pi < 0 || gi < 0) { at_provider_value_free(&pv); continue; }
            char *pmn = pv.provider_model_name;
            at_provider_mapping pm = {.aliases = pv.aliases, .n_aliases = pv.n_aliases};
            const char *gname = gms.a.v[gi];
            if (strcmp(gname, pmn) == 0 && pm.n_aliases == 0) { at_provider_value_free(&pv); continue; }
            if (pm.n_aliases == 0) {
                pm.aliases = malloc(sizeof *pm.aliases);
                pm.aliases[pm.n_aliases++] = strdup(gname);
            }
            pm.provider_id = strdup(pid[i]);
            pm.provider_name = strdup(prov.a.v[pi]);
            pm.global_model_id = strdup(gid[i]);
            pm.global_model_name = strdup(gname);
            pm.global_model_display_name = strdup(gms.b.v[gi]);
            pm.provider_model_name = pmn;
            pm.ttl = ttl_of(ff.ttl[i]);
            pm.hit_count = hit_count;
            m->provider_mappings = realloc(m->provider_mappings,
                                           (m->n_provider_mappings + 1) * sizeof *m->provider_mappings);
            m->provider_mappings[m->n_provider_mappings++] = pm;
        }
    }
    fetched_free(&ff, n);
    if (m->n_provider_mappings > 1)
        qsort(m->provider_mappings, m->n_provider_mappings, sizeof *m->provider_mappings, cmp_provider_mapping);
    for (size_t i = 0; i < n; i++) { free(hits[i]); free(pid[i]); free(gid[i]); }
    free(hits);
    free(pid);
    free(gid);
    sv_free(&pids);
    sv_free(&gids);
    name_table_free(&prov);
    name_table_free(&gms);
    return rc;
}

/* ---- one cached value at a time (pure; declared in mapping.h) ---------------- */

/* json.loads as the view calls it (Python's json module): NaN, Infinity and
 * -Infinity are numbers, and truthy ones. cJSON knows none of them, so they
 * are read as the infinite number 1e999 (as truthy; no field the view shows
 * can hold a number). NULL when json.loads would raise. */
static cJSON *py_json_loads(const char *val, size_t vlen)
{
    if (!at_json_valid(val, vlen)) return NULL;
    if (!memchr(val, 'N', vlen) && !memchr(val, 'I', vlen)) return at_json_parse(val, vlen);
    char *copy = malloc(vlen * 2 + 1);
    if (!copy) abort();
    size_t o = 0;
    bool in_string = false;
    for (size_t i = 0; i < vlen;) {
        char c = val[i];
        if (in_string) {
            copy[o++] = val[i++];
            if (c == '\\' && i < vlen) copy[o++] = val[i++];
            else if (c == '"') in_string = false;
            continue;
        }
        /* valid JSON: outside strings, N and I start only NaN and Infinity */
        size_t word = c == 'N' ? 3 : c == 'I' ? 8 : c == '-' && i + 1 < vlen && val[i + 1] == 'I' ? 9 : 0;
        if (word) {
            const char *num = c == '-' ? "-1e999" : "1e999";
            memcpy(copy + o, num, strlen(num));
            o += strlen(num);
            i += word;
            continue;
        }
        in_string = c == '"';
        copy[o++] = val[i++];
    }
    cJSON *doc = at_json_parse(copy, o);
    free(copy);
    return doc;
}

/* Python's truth value of a JSON value. */
static bool py_truthy(const cJSON *v)
{
    if (cJSON_IsString(v)) return v->valuestring && *v->valuestring;
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) return v->child != NULL;
    return cJSON_IsTrue(v);
}

at_resolve_kind at_mapping_classify_resolve(const char *name, const char *val, size_t vlen,
                                            at_resolve_value *out)
{
    memset(out, 0, sizeof *out);
    if (vlen == 0) return AT_RESOLVE_EMPTY;
    if (vlen == 9 && memcmp(val, "NOT_FOUND", 9) == 0) return AT_RESOLVE_NOT_FOUND;
    if (!at_utf8_valid(val, vlen)) return AT_RESOLVE_ERROR;
    cJSON *doc = py_json_loads(val, vlen);
    if (!doc) return AT_RESOLVE_INVALID;
    if (!cJSON_IsObject(doc)) { cJSON_Delete(doc); return AT_RESOLVE_ERROR; }
    char *gname = json_str(doc, "name");
    if (gname && strcmp(gname, name) == 0) {
        free(gname);
        cJSON_Delete(doc);
        return AT_RESOLVE_SAME_NAME;
    }
    /* `if global_model_id:` then a look-up by it: an id that is truthy but
     * not a string is refused by PostgreSQL, and the entry is an error */
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    if (id && !cJSON_IsString(id) && py_truthy(id)) {
        free(gname);
        cJSON_Delete(doc);
        return AT_RESOLVE_ERROR;
    }
    out->global_model_id = json_str(doc, "id");
    out->global_model_name = gname;
    out->global_model_display_name = json_str(doc, "display_name");
    cJSON_Delete(doc);
    return AT_RESOLVE_MAPPING;
}

void at_resolve_value_free(at_resolve_value *v)
{
    free(v->global_model_id);
    free(v->global_model_name);
    free(v->global_model_display_name);
    memset(v, 0, sizeof *v);
}

bool at_mapping_parse_provider_value(const char *val, size_t vlen, at_provider_value *out)
{
    memset(out, 0, sizeof *out);
    if (!at_utf8_valid(val, vlen)) return false;
    cJSON *doc = py_json_loads(val, vlen);
    if (!doc || !cJSON_IsObject(doc)) { cJSON_Delete(doc); return false; }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "provider_model_mappings");
    /* `for mapping_entry in cached_model_mappings` raises on a truthy number
     * or true: the reference skips the entry (a string or a dict iterates,
     * giving no dict) */
    char *pmn = (cJSON_IsNumber(list) || cJSON_IsTrue(list)) && py_truthy(list) ? NULL
              : json_str(doc, "provider_model_name");
    if (!pmn || !*pmn) { free(pmn); cJSON_Delete(doc); return false; }
    out->provider_model_name = pmn;
    const cJSON *e;
    if (cJSON_IsArray(list)) {
        cJSON_ArrayForEach(e, list) {
            const cJSON *nm = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "name") : NULL;
            if (!cJSON_IsString(nm) || !*nm->valuestring) continue;
            out->aliases = realloc(out->aliases, (out->n_aliases + 1) * sizeof *out->aliases);
            if (!out->aliases) abort();
            out->aliases[out->n_aliases++] = strdup(nm->valuestring);
        }
    }
    cJSON_Delete(doc);
    return true;
}

void at_provider_value_free(at_provider_value *v)
{
    free(v->provider_model_name);
    for (size_t i = 0; i < v->n_aliases; i++) free(v->aliases[i]);
    free(v->aliases);
    memset(v, 0, sizeof *v);
}

static bool py_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* int(): white space around, a sign, digits with single underscores between
 * them; nothing else (a NUL included). Past the range of long long it
 * saturates. */
bool at_mapping_parse_hits(const char *val, size_t vlen, long long *out)
{
    *out = 0;
    if (!val || vlen == 0) return true;
    size_t i = 0, end = vlen;
    while (i < end && py_space(val[i])) i++;
    while (end > i && py_space(val[end - 1])) end--;
    bool neg = i < end && val[i] == '-';
    if (i < end && (val[i] == '+' || val[i] == '-')) i++;
    if (i >= end) return false;
    long long v = 0;
    for (bool after_digit = false; i < end; i++) {
        char c = val[i];
        if (c == '_' && after_digit && i + 1 < end && val[i + 1] >= '0' && val[i + 1] <= '9') {
            after_digit = false;
            continue;
        }
        if (c < '0' || c > '9') return false;
        v = v > (LLONG_MAX - (c - '0')) / 10 ? LLONG_MAX : v * 10 + (c - '0');
        after_digit = true;
    }
    *out = neg ? -v : v;
    return true;
}

int at_mapping_stats_build(at_redis *r, at_pg *pg, at_mapping_stats *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    scan_ctx c = {.m = m};
    at_walk_opts o = {.count = 1000, .values = false, .match = "model:*"};
    int rc = at_redis_walk(r, &o, classify, &c);
    o.match = "global_model:*";
    if (rc == 0) rc = at_redis_walk(r, &o, classify, &c);
    m->total_keys = m->model_by_id + m->model_by_provider_global + m->global_model_by_id +
                    m->global_model_by_name + m->global_model_resolve;
    if (rc == 0 && c.resolve.n) {
        fetched f = {0};
        rc = fetch(r, c.resolve.v, NULL, c.resolve.n, &f);
        if (rc == 0) resolve_entries(m, pg, c.resolve.v, c.resolve.n, &f);
        fetched_free(&f, c.resolve.n);
    }
    if (rc == 0 && c.provider_global.n)
        rc = provider_entries(m, r, pg, c.provider_global.v, c.provider_global.n);
    sv_free(&c.resolve);
    sv_free(&c.provider_global);
    if (!pg) snprintf(m->warning, sizeof m->warning, "PostgreSQL unavailable: provider names not resolved");
    if (rc < 0) {
        snprintf(err, errlen, "Redis %s: %s", at_redis_describe(r), at_redis_error(r));
        at_mapping_stats_free(m);
        return -1;
    }
    return 0;
}

void at_mapping_stats_free(at_mapping_stats *m)
{
    for (size_t i = 0; i < m->n_mappings; i++) {
        at_name_mapping *x = &m->mappings[i];
        free(x->mapping_name);
        free(x->global_model_name);
        free(x->global_model_display_name);
        for (size_t j = 0; j < x->n_providers; j++) free(x->providers[j]);
        free(x->providers);
    }
    free(m->mappings);
    for (size_t i = 0; i < m->n_provider_mappings; i++) {
        at_provider_mapping *x = &m->provider_mappings[i];
        free(x->provider_id);
        free(x->provider_name);
        free(x->global_model_id);
        free(x->global_model_name);
        free(x->global_model_display_name);
        free(x->provider_model_name);
        for (size_t j = 0; j < x->n_aliases; j++) free(x->aliases[j]);
        free(x->aliases);
    }
    free(m->provider_mappings);
    for (size_t i = 0; i < m->n_unmapped; i++) free(m->unmapped[i].mapping_name);
    free(m->unmapped);
    memset(m, 0, sizeof *m);
}
