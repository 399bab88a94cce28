/* report.c — the JSON documents of the reference endpoints (same keys, same
 * nesting, same order) built from core results, the stats document, and the
 * Prometheus text. Printing always goes through at_json_harden so no control
 * byte from data leaves unescaped. */
#include "aethertop/report.h"
#include "aethertop/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A float the way Python's json.dumps writes it: the shortest text that reads
 * back as exactly this double (cJSON's own printer settles for 15 digits that
 * are only approximately equal, which loses timestamps' last digits). */
cJSON *at_json_number_or_null(double v)
{
    if (!isfinite(v)) return cJSON_CreateNull();
    char text[64];
    at_format_pyfloat(v, text, sizeof text);
    return cJSON_CreateRaw(text);
}

cJSON *at_json_string_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static void add_str(cJSON *o, const char *k, const char *v) { cJSON_AddItemToObject(o, k, at_json_string_or_null(v)); }
static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, at_json_number_or_null(v)); }
static void add_int(cJSON *o, const char *k, long long v) { cJSON_AddNumberToObject(o, k, (double)v); }
/* Field k of a row: as the record held it when the row's typed value cannot
 * say it (a->odd, parsed into odd), else typed. */
static void add_shown(cJSON *o, const cJSON *odd, const char *k, cJSON *typed)
{
    const cJSON *v = odd ? cJSON_GetObjectItemCaseSensitive(odd, k) : NULL;
    if (!v) {
        cJSON_AddItemToObject(o, k, typed);
        return;
    }
    cJSON_Delete(typed);
    if (cJSON_IsNumber(v)) {
        char num[64];
        at_format_json_number(v->valuedouble, num, sizeof num);
        cJSON_AddItemToObject(o, k, cJSON_CreateRaw(num));
    } else {
        cJSON_AddItemToObject(o, k, cJSON_Duplicate(v, true));
    }
}

/* api_format .. request_count of a row, in the reference's order (model_name
 * between them when model is given). */
static void add_record_fields(cJSON *o, const at_affinity *a, cJSON *model)
{
    cJSON *odd = a->odd ? cJSON_Parse(a->odd) : NULL;
    add_str(o, "api_format", a->api_format);
    if (model) cJSON_AddItemToObject(o, "model_name", model);
    add_shown(o, odd, "created_at", at_json_number_or_null(a->created_at));
    add_shown(o, odd, "expire_at", at_json_number_or_null(a->expire_at));
    add_shown(o, odd, "request_count", cJSON_CreateNumber((double)a->request_count));
    cJSON_Delete(odd);
}

static void add_ttl(cJSON *o, const char *k, long long ttl)
{
    if (ttl > 0) add_int(o, k, ttl);
    else cJSON_AddNullToObject(o, k);
}

cJSON *at_report_list_item(const at_snapshot *s, const at_affinity *a)
{
    const at_api_key *k = at_row_api_key(s, a);
    const at_user *u = at_row_user(s, a);
    const at_provider *p = at_row_provider(s, a);
    const at_endpoint *e = at_row_endpoint(s, a);
    const at_provider_key *pk = at_row_provider_key(s, a);
    const at_global_model *g = at_row_global_model(s, a);
    cJSON *o = cJSON_CreateObject();
    add_str(o, "affinity_key", a->affinity_key);
    add_str(o, "user_api_key_name", k ? k->name : NULL);
    add_str(o, "user_api_key_prefix", k ? k->masked : NULL);
    cJSON_AddBoolToObject(o, "is_standalone", k ? k->is_standalone : false);
    add_str(o, "user_id", k ? k->user_id : NULL);
    add_str(o, "username", u ? u->username : NULL);
    add_str(o, "email", u ? u->email : NULL);
    add_str(o, "provider_id", a->provider_id);
    add_str(o, "provider_name", p ? p->display_name : NULL);
    add_str(o, "endpoint_id", a->endpoint_id);
    add_str(o, "endpoint_api_format", e && e->api_format && *e->api_format ? e->api_format : NULL);
    add_str(o, "endpoint_url", e ? e->base_url : NULL);
    add_str(o, "key_id", a->key_id);
    add_str(o, "key_name", pk ? pk->name : NULL);
    add_str(o, "key_prefix", pk ? pk->masked : NULL);
    cJSON_AddItemToObject(o, "rate_multiplier", at_json_number_or_null(pk ? pk->rate_multiplier : 1.0));
    add_str(o, "global_model_id", a->model_name);
    add_str(o, "model_name", g && a->model_name ? g->name : a->model_name);
    add_str(o, "model_display_name", g && a->model_name ? g->display_name : NULL);
    add_record_fields(o, a, NULL);
    return o;
}

cJSON *at_report_list(const at_snapshot *s, const at_selection *sel, int limit, int offset,
                      const char *matched_user_id)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON *data = cJSON_AddObjectToObject(root, "data");
    cJSON *items = cJSON_AddArrayToObject(data, "items");
    size_t count = 0;
    for (size_t i = (size_t)offset; i < sel->n && count < (size_t)limit; i++, count++)
        cJSON_AddItemToArray(items, at_report_list_item(s, &s->rows[sel->idx[i]]));
    cJSON *meta = cJSON_AddObjectToObject(data, "meta");
    add_int(meta, "total", (long long)sel->n);
    add_int(meta, "limit", limit);
    add_int(meta, "offset", offset);
    add_int(meta, "count", (long long)count);
    add_str(data, "matched_user_id", matched_user_id);
    return root;
}

static cJSON *user_info(const at_user_info *u)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "user_id", u->user_id);
    add_str(o, "username", u->username);
    add_str(o, "email", u->email);
    return o;
}

cJSON *at_report_user_affinity(const at_snapshot *s, const at_user_info *u, const at_selection *sel)
{
    cJSON *root = cJSON_CreateObject();
    if (sel->n == 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "用户 %s (%s) 没有缓存亲和性", u->username ? u->username : "None",
                 u->email ? u->email : "None");
        cJSON_AddStringToObject(root, "status", "not_found");
        cJSON_AddStringToObject(root, "message", msg);
        cJSON_AddItemToObject(root, "user_info", user_info(u));
        cJSON_AddArrayToObject(root, "affinities");
        return root;
    }
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON_AddItemToObject(root, "user_info", user_info(u));
    cJSON *arr = cJSON_AddArrayToObject(root, "affinities");
    for (size_t i = 0; i < sel->n; i++) {
        const at_affinity *a = &s->rows[sel->idx[i]];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "provider_id", a->provider_id);
        add_str(o, "endpoint_id", a->endpoint_id);
        add_str(o, "key_id", a->key_id);
        add_record_fields(o, a, at_json_string_or_null(a->model_name));
        cJSON_AddItemToArray(arr, o);
    }
    add_int(root, "total_endpoints", (long long)sel->n);
    return root;
}

static cJSON *count_list(const at_count_list *l, const char *id_key, const char *label_key, size_t max)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < l->n && i < max; i++) {
        cJSON *o = cJSON_CreateObject();
        add_str(o, id_key, l->items[i].id);
        if (label_key) add_str(o, label_key, l->items[i].label);
        add_int(o, "count", l->items[i].count);
        add_int(o, "requests", l->items[i].requests);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static void add_known(cJSON *o, const char *k, long long v)
{
    if (v >= 0) add_int(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

cJSON *at_report_stats(const at_snapshot *s, const at_stats *st)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON *d = cJSON_AddObjectToObject(root, "data");
    cJSON_AddStringToObject(d, "source", "snapshot");
    add_num(d, "taken_at", s->taken_at);
    add_int(d, "active_affinities", st->active);
    add_int(d, "total_affinity_keys", st->total_keys);
    add_int(d, "expired_present", st->expired_present);
    add_int(d, "unreadable_skipped", st->unreadable);
    cJSON *why = cJSON_AddObjectToObject(d, "unreadable_by_reason");
    for (int i = AT_REC_NOT_JSON; i < AT_REC__COUNT; i++)
        if (s->skipped[i]) add_int(why, at_record_status_id((at_record_status)i), (long long)s->skipped[i]);
    add_int(d, "total_requests", st->total_requests);
    add_int(d, "distinct_users", (long long)st->by_user.n);
    add_int(d, "distinct_provider_keys", (long long)st->by_provider_key.n);
    cJSON_AddItemToObject(d, "by_api_format", count_list(&st->by_format, "api_format", NULL, SIZE_MAX));
    cJSON_AddItemToObject(d, "by_provider", count_list(&st->by_provider, "provider_id", "provider_name", SIZE_MAX));
    cJSON_AddItemToObject(d, "by_model", count_list(&st->by_model, "model_id", "model_name", SIZE_MAX));
    cJSON_AddItemToObject(d, "top_users", count_list(&st->by_user, "user_id", "username", 20));
    cJSON_AddItemToObject(d, "top_provider_keys", count_list(&st->by_provider_key, "key_id", "key_name", 20));
    cJSON *ttl = cJSON_AddObjectToObject(d, "ttl_distribution");
    for (int i = 0; i < AT_TTL_BUCKETS; i++) add_int(ttl, at_ttl_bucket_names[i], st->ttl_buckets[i]);
    if (st->has_rates) {
        cJSON *r = cJSON_AddObjectToObject(d, "rates");
        add_num(r, "interval_s", st->interval_s);
        add_num(r, "new_per_s", st->new_per_s);
        add_num(r, "gone_per_s", st->gone_per_s);
        add_num(r, "switches_per_s", st->switch_per_s);
        add_num(r, "reuse_per_s", st->reuse_per_s);
    }
    cJSON *rd = cJSON_AddObjectToObject(d, "redis");
    if (s->has_info) {
        add_str(rd, "role", s->info.role);
        add_str(rd, "version", s->info.version);
        add_known(rd, "used_memory", s->info.used_memory);
        add_known(rd, "connected_clients", s->info.connected_clients);
        add_known(rd, "ops_per_sec", s->info.ops_per_sec);
        add_known(rd, "keyspace_hits", s->info.keyspace_hits);
        add_known(rd, "keyspace_misses", s->info.keyspace_misses);
        add_known(rd, "evicted_keys", s->info.evicted_keys);
        add_known(rd, "expired_keys", s->info.expired_keys);
    }
    add_known(rd, "dbsize", s->info.dbsize);
    cJSON *pg = cJSON_AddObjectToObject(d, "postgres");
    cJSON_AddBoolToObject(pg, "available", s->enriched);
    add_str(pg, "error", s->enriched ? NULL : s->pg_error);
    return root;
}

cJSON *at_report_config(void)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON *d = cJSON_AddObjectToObject(root, "data");
    add_int(d, "cache_ttl_seconds", 300);
    cJSON_AddNumberToObject(d, "cache_reservation_ratio", 0.1);
    cJSON *dyn = cJSON_AddObjectToObject(d, "dynamic_reservation");
    cJSON_AddBoolToObject(dyn, "enabled", true);
    cJSON *c = cJSON_AddObjectToObject(dyn, "config");
    add_int(c, "probe_phase_requests", 100);
    cJSON_AddNumberToObject(c, "probe_reservation", 0.1);
    cJSON_AddNumberToObject(c, "stable_min_reservation", 0.1);
    cJSON_AddNumberToObject(c, "stable_max_reservation", 0.35);
    cJSON_AddNumberToObject(c, "low_load_threshold", 0.5);
    cJSON_AddNumberToObject(c, "high_load_threshold", 0.8);
    cJSON *desc = cJSON_AddObjectToObject(dyn, "description");
    cJSON_AddStringToObject(desc, "probe_phase_requests", "探测阶段请求数阈值");
    cJSON_AddStringToObject(desc, "probe_reservation", "探测阶段预留比例");
    cJSON_AddStringToObject(desc, "stable_min_reservation", "稳定阶段最小预留比例");
    cJSON_AddStringToObject(desc, "stable_max_reservation", "稳定阶段最大预留比例");
    cJSON_AddStringToObject(desc, "low_load_threshold", "低负载阈值(低于此值使用最小预留)");
    cJSON_AddStringToObject(desc, "high_load_threshold", "高负载阈值(高于此值根据置信度使用较高预留)");
    cJSON *d2 = cJSON_AddObjectToObject(d, "description");
    cJSON_AddStringToObject(d2, "cache_ttl", "缓存亲和性有效期(秒)");
    cJSON_AddStringToObject(d2, "cache_reservation_ratio", "静态预留比例(已被动态预留替代)");
    cJSON_AddStringToObject(d2, "dynamic_reservation", "动态预留机制配置");
    return root;
}

static cJSON *str_array(char *const *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
    return arr;
}

cJSON *at_report_mappings(const at_mapping_stats *m)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON *d = cJSON_AddObjectToObject(root, "data");
    cJSON_AddBoolToObject(d, "available", true);
    add_int(d, "ttl_seconds", AT_MODEL_CACHE_TTL);
    add_int(d, "total_keys", m->total_keys);
    cJSON *b = cJSON_AddObjectToObject(d, "breakdown");
    add_int(b, "model_by_id", m->model_by_id);
    add_int(b, "model_by_provider_global", m->model_by_provider_global);
    add_int(b, "global_model_by_id", m->global_model_by_id);
    add_int(b, "global_model_by_name", m->global_model_by_name);
    add_int(b, "global_model_resolve", m->global_model_resolve);
    cJSON *maps = cJSON_AddArrayToObject(d, "mappings");
    for (size_t i = 0; i < m->n_mappings; i++) {
        const at_name_mapping *x = &m->mappings[i];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "mapping_name", x->mapping_name);
        add_str(o, "global_model_name", x->global_model_name);
        add_str(o, "global_model_display_name", x->global_model_display_name);
        cJSON_AddItemToObject(o, "providers", str_array(x->providers, x->n_providers));
        add_ttl(o, "ttl", x->ttl);
        cJSON_AddItemToArray(maps, o);
    }
    if (m->n_provider_mappings) {
        cJSON *arr = cJSON_AddArrayToObject(d, "provider_model_mappings");
        for (size_t i = 0; i < m->n_provider_mappings; i++) {
            const at_provider_mapping *x = &m->provider_mappings[i];
            cJSON *o = cJSON_CreateObject();
            add_str(o, "provider_id", x->provider_id);
            add_str(o, "provider_name", x->provider_name);
            add_str(o, "global_model_id", x->global_model_id);
            add_str(o, "global_model_name", x->global_model_name);
            add_str(o, "global_model_display_name", x->global_model_display_name);
            add_str(o, "provider_model_name", x->provider_model_name);
            cJSON_AddItemToObject(o, "aliases", str_array(x->aliases, x->n_aliases));
            add_ttl(o, "ttl", x->ttl);
            add_int(o, "hit_count", x->hit_count);
            cJSON_AddItemToArray(arr, o);
        }
    } else {
        cJSON_AddNullToObject(d, "provider_model_mappings");
    }
    if (m->n_unmapped) {
        cJSON *arr = cJSON_AddArrayToObject(d, "unmapped");
        for (size_t i = 0; i < m->n_unmapped; i++) {
            cJSON *o = cJSON_CreateObject();
            add_str(o, "mapping_name", m->unmapped[i].mapping_name);
            add_str(o, "status", m->unmapped[i].status);
            add_ttl(o, "ttl", m->unmapped[i].ttl);
            cJSON_AddItemToArray(arr, o);
        }
    } else {
        cJSON_AddNullToObject(d, "unmapped");
    }
    return root;
}

static cJSON *hits_row(const at_hits_row *r, const char *id_key, const char *label_key)
{
    cJSON *o = cJSON_CreateObject();
    if (id_key) add_str(o, id_key, r->id);
    if (label_key) add_str(o, label_key, r->label);
    add_int(o, "requests", r->requests);
    add_int(o, "cached_requests", r->cached_requests);
    add_int(o, "input_tokens", r->input_tokens);
    add_int(o, "cache_read_tokens", r->cache_read_tokens);
    add_int(o, "cache_creation_tokens", r->cache_creation_tokens);
    if (r->token_hit_rate >= 0) cJSON_AddNumberToObject(o, "token_hit_rate", r->token_hit_rate);
    else cJSON_AddNullToObject(o, "token_hit_rate");
    cJSON_AddNumberToObject(o, "cache_read_cost_usd", r->cache_read_cost_usd);
    cJSON_AddNumberToObject(o, "estimated_savings_usd", r->savings_usd);
    return o;
}

static cJSON *hits_list(const at_hits_row *rows, size_t n, const char *id_key, const char *label_key)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, hits_row(&rows[i], id_key, label_key));
    return arr;
}

cJSON *at_report_hits(const at_hits_report *const *reports, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON *windows = cJSON_AddArrayToObject(root, "windows");
    for (size_t i = 0; i < n; i++) {
        const at_hits_report *r = reports[i];
        cJSON *w = cJSON_CreateObject();
        add_int(w, "window_seconds", r->window_s);
        /* how long PostgreSQL took, for whoever watches the cost of asking */
        cJSON_AddNumberToObject(w, "query_ms", round(r->query_ms * 10.0) / 10.0);
        cJSON_AddItemToObject(w, "total", hits_row(&r->total, NULL, NULL));
        cJSON_AddItemToObject(w, "by_provider", hits_list(r->by_provider, r->n_by_provider, "provider_id", "provider_name"));
        cJSON_AddItemToObject(w, "by_model", hits_list(r->by_model, r->n_by_model, "model", NULL));
        cJSON_AddItemToObject(w, "by_user", hits_list(r->by_user, r->n_by_user, "user_id", "username"));
        cJSON_AddItemToArray(windows, w);
    }
    return root;
}

cJSON *at_report_ttl_advice(const at_ttl_advice *a)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON *d = cJSON_AddObjectToObject(root, "data");
    cJSON_AddNumberToObject(d, "hours", a->hours);
    add_int(d, "users_analyzed", (long long)a->n_users);
    cJSON_AddNumberToObject(d, "query_ms", round(a->query_ms * 10.0) / 10.0);
    cJSON *sum = cJSON_AddObjectToObject(d, "summary");
    static const char *const names[4] = {"5", "15", "30", "60"};
    for (int i = 0; i < 4; i++) add_int(sum, names[i], a->bucket_users[i]);
    cJSON *users = cJSON_AddArrayToObject(d, "users");
    for (size_t i = 0; i < a->n_users; i++) {
        const at_ttl_user *u = &a->users[i];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "user_id", u->user_id);
        add_str(o, "username", u->username);
        add_int(o, "requests", u->requests);
        cJSON_AddNumberToObject(o, "p50_interval_minutes", u->p50_min);
        cJSON_AddNumberToObject(o, "p75_interval_minutes", u->p75_min);
        cJSON_AddNumberToObject(o, "p90_interval_minutes", u->p90_min);
        add_int(o, "recommended_ttl_minutes", u->recommended_ttl_min);
        cJSON_AddItemToArray(users, o);
    }
    return root;
}

cJSON *at_report_detail(const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "detail", msg);
    return o;
}

/* ---- Prometheus ------------------------------------------------------------ */

typedef struct { char *buf; size_t len, cap; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->buf && b->len + (size_t)n < b->cap) { b->len += (size_t)n; return; }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->buf = realloc(b->buf, b->cap);
        if (!b->buf) abort();
    }
}

static void gauge(sbuf *b, const char *name, const char *help, double v)
{
    char num[64];
    at_format_pyfloat(v, num, sizeof num);
    sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, num);
}

char *at_report_metrics(const at_snapshot *s, const at_stats *st)
{
    sbuf b = {0};
    (void)s;
    sb_printf(&b, "# aethertop: values computed from Redis; counters that live only in a gateway "
                  "worker's memory read 0\n");
    static const char *const sched[][2] = {
        {"cache_scheduler_total_batches", "Total batches pulled from provider list"},
        {"cache_scheduler_last_batch_size", "Size of the latest candidate batch"},
        {"cache_scheduler_total_candidates", "Total candidates enumerated by scheduler"},
        {"cache_scheduler_last_candidate_count", "Number of candidates in the most recent batch"},
        {"cache_scheduler_cache_hits", "Cache hits counted during scheduling"},
        {"cache_scheduler_cache_misses", "Cache misses counted during scheduling"},
        {"cache_scheduler_cache_hit_rate", "Cache hit rate during scheduling"},
        {"cache_scheduler_concurrency_denied", "Times candidate rejected due to concurrency limits"},
        {"cache_scheduler_avg_candidates_per_batch", "Average candidates per batch"},
    };
    for (size_t i = 0; i < sizeof sched / sizeof sched[0]; i++) gauge(&b, sched[i][0], sched[i][1], 0);
    gauge(&b, "cache_affinity_total", "Total cache affinities stored", (double)st->active);
    gauge(&b, "cache_affinity_hits", "Affinity cache hits", 0);
    gauge(&b, "cache_affinity_misses", "Affinity cache misses", 0);
    gauge(&b, "cache_affinity_hit_rate", "Affinity cache hit rate", 0);
    gauge(&b, "cache_affinity_invalidations", "Affinity invalidations", 0);
    gauge(&b, "cache_affinity_provider_switches", "Affinity provider switches", 0);
    gauge(&b, "cache_affinity_key_switches", "Affinity key switches", 0);
    sb_printf(&b, "cache_scheduler_info{scheduler=\"cache_aware\"} 1\n");
    /* derived figures under aethertop's own names */
    gauge(&b, "aethertop_affinity_keys", "Affinity keys read from Redis, expired included", (double)st->total_keys);
    gauge(&b, "aethertop_affinity_expired_present", "Affinities past expire_at still in Redis",
          (double)st->expired_present);
    gauge(&b, "aethertop_affinity_unreadable", "Affinity records skipped as unreadable", (double)st->unreadable);
    sb_printf(&b, "# HELP aethertop_affinity_ttl_remaining Live affinities by remaining TTL bucket\n"
                  "# TYPE aethertop_affinity_ttl_remaining gauge\n");
    for (int i = 0; i < AT_TTL_BUCKETS; i++)
        sb_printf(&b, "aethertop_affinity_ttl_remaining{bucket=\"%s\"} %lld\n", at_ttl_bucket_names[i],
                  st->ttl_buckets[i]);
    return b.buf;
}

char *at_report_print(const cJSON *doc)
{
    char *raw = cJSON_PrintUnformatted(doc);
    if (!raw) return NULL;
    char *safe = at_json_harden(raw);
    free(raw);
    return safe;
}
