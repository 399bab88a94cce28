/* stats.c — the figures every viewer sees the same (SPEC section 6), derived
 * only from what Redis holds: live affinities by format / provider / endpoint
 * / provider key / model / user, the TTL distribution, and between two
 * snapshots the new, gone, switched and reused affinities as rates. */
#include "aethertop/stats.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const at_ttl_bucket_names[AT_TTL_BUCKETS] = {"lt_30s", "lt_1m", "lt_2m", "lt_5m", "gte_5m"};

typedef struct { at_strmap idx; at_count_list list; size_t cap; } counter;

/* Request counts come from outside data: sums saturate instead of overflowing. */
static long long sat_add(long long a, long long b)
{
    long long r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? LLONG_MAX : LLONG_MIN;
    return r;
}

static void counter_add(counter *c, const char *id, const char *label, long long requests)
{
    if (!id) id = "";
    int32_t i = at_strmap_get(&c->idx, id);
    if (i < 0) {
        if (c->list.n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->list.items = realloc(c->list.items, c->cap * sizeof *c->list.items);
            if (!c->list.items) abort();
        }
        i = (int32_t)c->list.n++;
        c->list.items[i] = (at_count){id, label && *label ? label : id, 0, 0};
        at_strmap_put(&c->idx, id, i);
    }
    c->list.items[i].count++;
    c->list.items[i].requests = sat_add(c->list.items[i].requests, requests);
}

static int cmp_count(const void *a, const void *b)
{
    const at_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->id, y->id);
}

static at_count_list counter_finish(counter *c)
{
    at_strmap_free(&c->idx);
    if (c->list.n > 1) qsort(c->list.items, c->list.n, sizeof *c->list.items, cmp_count);
    return c->list;
}

static bool is_live(const at_affinity *a, double now)
{
    return isnan(a->expire_at) || a->expire_at > now;
}

static bool str_differs(const char *a, const char *b)
{
    if (!a || !b) return a != b;
    return strcmp(a, b) != 0;
}

static void compute_rates(const at_snapshot *cur, const at_snapshot *prev, double now, at_stats *st)
{
    double interval = cur->taken_at - prev->taken_at;
    if (interval <= 0) return;
    at_strmap before;
    at_strmap_init(&before);
    for (size_t i = 0; i < prev->n_rows; i++) at_strmap_put(&before, prev->rows[i].redis_key, (int32_t)i);
    char *seen = calloc(prev->n_rows + 1, 1);
    for (size_t i = 0; i < cur->n_rows; i++) {
        const at_affinity *a = &cur->rows[i];
        if (!is_live(a, now)) continue;
        int32_t j = at_strmap_get(&before, a->redis_key);
        if (j < 0) { st->new_count++; continue; }
        seen[j] = 1;
        const at_affinity *b = &prev->rows[j];
        bool repointed = str_differs(a->provider_id, b->provider_id) ||
                         str_differs(a->endpoint_id, b->endpoint_id) || str_differs(a->key_id, b->key_id);
        bool restarted = !isnan(a->created_at) && !isnan(b->created_at) && a->created_at > b->created_at &&
                         a->request_count < b->request_count;
        if (repointed || restarted) st->switch_count++;
        else if (a->request_count > b->request_count)
            st->reuse_count = sat_add(st->reuse_count, sat_add(a->request_count, -b->request_count));
    }
    for (size_t j = 0; j < prev->n_rows; j++)
        if (!seen[j] && is_live(&prev->rows[j], prev->taken_at)) st->gone_count++;
    free(seen);
    at_strmap_free(&before);
    st->has_rates = true;
    st->interval_s = interval;
    st->new_per_s = st->new_count / interval;
    st->gone_per_s = st->gone_count / interval;
    st->switch_per_s = st->switch_count / interval;
    st->reuse_per_s = st->reuse_count / interval;
}

void at_stats_compute(const at_snapshot *cur, const at_snapshot *prev, double now, at_stats *st)
{
    memset(st, 0, sizeof *st);
    st->now = now;
    st->total_keys = (long long)cur->n_rows;
    st->unreadable = (long long)cur->n_skipped;
    counter fmt = {0}, prov = {0}, endp = {0}, pkey = {0}, model = {0}, user = {0};
    at_strmap_init(&fmt.idx); at_strmap_init(&prov.idx); at_strmap_init(&endp.idx);
    at_strmap_init(&pkey.idx); at_strmap_init(&model.idx); at_strmap_init(&user.idx);
    for (size_t i = 0; i < cur->n_rows; i++) {
        const at_affinity *a = &cur->rows[i];
        if (!is_live(a, now)) { st->expired_present++; continue; }
        st->active++;
        long long rc = a->request_count;
        st->total_requests = sat_add(st->total_requests, rc);
        const at_provider *p = at_row_provider(cur, a);
        const at_provider_key *k = at_row_provider_key(cur, a);
        const at_user *u = at_row_user(cur, a);
        const at_api_key *ak = at_row_api_key(cur, a);
        counter_add(&fmt, a->api_format, NULL, rc);
        counter_add(&prov, a->provider_id, p ? (p->display_name && *p->display_name ? p->display_name : p->name) : NULL, rc);
        counter_add(&endp, a->endpoint_id, NULL, rc);
        counter_add(&pkey, a->key_id, k ? k->name : NULL, rc);
        counter_add(&model, a->model_name, at_row_model_label(cur, a), rc);
        counter_add(&user, ak && ak->user_id ? ak->user_id : a->affinity_key, u ? u->username : NULL, rc);
        double left = isnan(a->expire_at) ? INFINITY : a->expire_at - now;
        int b = left < 30 ? 0 : left < 60 ? 1 : left < 120 ? 2 : left < 300 ? 3 : 4;
        st->ttl_buckets[b]++;
    }
    st->by_format = counter_finish(&fmt);
    st->by_provider = counter_finish(&prov);
    st->by_endpoint = counter_finish(&endp);
    st->by_provider_key = counter_finish(&pkey);
    st->by_model = counter_finish(&model);
    st->by_user = counter_finish(&user);
    if (prev) compute_rates(cur, prev, now, st);
}

void at_stats_free(at_stats *st)
{
    free(st->by_format.items);
    free(st->by_provider.items);
    free(st->by_endpoint.items);
    free(st->by_provider_key.items);
    free(st->by_model.items);
    free(st->by_user.items);
    memset(st, 0, sizeof *st);
}
