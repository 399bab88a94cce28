/* view_stats.c — the figures of SPEC section 6 from the core's at_stats:
 * live affinities, by api format / provider / model / user, the TTL
 * distribution, the per-second rates between snapshots (new, gone,
 * switches, reuse) with sparklines of their history, and Redis health from
 * INFO. Drawn as the compact pane above the table (t/F4) and as the full
 * Stats view (4). */
#include "con.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANE_LINES 7

/* "label value" pairs on one line; returns the x after it. */
static int pair(int y, int x, int maxx, const char *label, const char *value)
{
    if (x >= maxx) return x;
    x += con_text(y, x, maxx - x, label, TH_LABEL);
    x += con_text(y, x, maxx - x, " ", TH_NORMAL);
    x += con_text(y, x, maxx - x, value, TH_VALUE);
    return x + con_text(y, x, maxx - x, "  ", TH_NORMAL);
}

/* "name count" for the top entries of a list on one line. */
static void top_line(con_app *app, int y, int x, int w, const char *title, const at_count_list *l)
{
    int maxx = x + w;
    x += con_put(y, x, 10, title, TH_LABEL, false);
    if (!l->n) { con_text(y, x, maxx - x, "-", TH_POSITION); return; }
    for (size_t i = 0; i < l->n && x < maxx - 4; i++) {
        char n[32];
        con_fmt_int(l->items[i].count, n, sizeof n);
        int lw = 18;
        char lab[256];
        snprintf(lab, sizeof lab, "%s", l->items[i].label);
        if (maxx - x < lw + (int)strlen(n) + 1) lw = maxx - x - (int)strlen(n) - 1;
        if (lw < 4) break;
        int tw = con_text(y, x, lw, lab, TH_NORMAL);
        x += tw + 1;
        x += con_text(y, x, maxx - x, n, TH_VALUE);
        x += con_text(y, x, maxx - x, "   ", TH_NORMAL);
    }
    (void)app;
}

static const char *const ttl_labels[AT_TTL_BUCKETS] = {"<30s", "<1m", "<2m", "<5m", ">=5m"};

static void rate_item(con_app *app, int y, int x, int w, const char *label, double rate, int series)
{
    const con_snap *cs = app->snap;
    char r[32];
    con_fmt_rate(cs->stats.has_rates ? rate : NAN, r, sizeof r);
    int used = con_put(y, x, 7, _(label), TH_LABEL, false);
    used += con_put(y, x + used, 9, r, TH_VALUE, true) + 1;
    if (w - used > 2) con_sparkline(app, y, x + used, w - used - 1, cs->hist[series], cs->n_hist, TH_SPARK);
}

static void redis_line(con_app *app, int y, int x, int w)
{
    const at_snapshot *s = app->snap->snap;
    int maxx = x + w;
    x += con_put(y, x, 10, "Redis", TH_LABEL, false);
    if (!s->has_info) { con_text(y, x, maxx - x, _("INFO unavailable"), TH_POSITION); return; }
    const at_redis_info *i = &s->info;
    char b[64];
    con_fmt_bytes(i->used_memory, b, sizeof b);
    if (i->maxmemory > 0) {
        char m[32];
        con_fmt_bytes(i->maxmemory, m, sizeof m);
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, "/%s", m);
    }
    x = pair(y, x, maxx, _("mem"), b);
    con_fmt_int(i->connected_clients, b, sizeof b);
    x = pair(y, x, maxx, _("clients"), b);
    con_fmt_int(i->ops_per_sec, b, sizeof b);
    x = pair(y, x, maxx, "ops/s", b);
    long long hm = i->keyspace_hits + i->keyspace_misses;
    if (hm > 0 && i->keyspace_hits >= 0) snprintf(b, sizeof b, "%.1f%%", 100.0 * (double)i->keyspace_hits / (double)hm);
    else snprintf(b, sizeof b, "-");
    x = pair(y, x, maxx, _("hit"), b);
    con_fmt_int(i->evicted_keys, b, sizeof b);
    x = pair(y, x, maxx, _("evicted"), b);
    con_fmt_int(i->expired_keys, b, sizeof b);
    x = pair(y, x, maxx, _("expired"), b);
    con_fmt_int(i->dbsize, b, sizeof b);
    pair(y, x, maxx, _("dbsize"), b);
}

static void overview_line(con_app *app, int y, int x, int w)
{
    const at_stats *st = &app->snap->stats;
    int maxx = x + w;
    char b[64];
    x += con_put(y, x, 10, _("Active"), TH_LABEL, false);
    con_fmt_int(st->active, b, sizeof b);
    x += con_text(y, x, maxx - x, b, TH_VALUE) + 2;
    con_fmt_int(st->total_keys, b, sizeof b);
    x = pair(y, x, maxx, _("keys"), b);
    con_fmt_int(st->expired_present, b, sizeof b);
    x = pair(y, x, maxx, _("expired-present"), b);
    con_fmt_int(st->unreadable, b, sizeof b);
    x = pair(y, x, maxx, _("unreadable"), b);
    con_fmt_int(st->total_requests, b, sizeof b);
    x = pair(y, x, maxx, _("requests"), b);
    snprintf(b, sizeof b, "%.0f ms", app->snap->snap->build_ms);
    pair(y, x, maxx, _("snapshot"), b);
}

static void ttl_line(con_app *app, int y, int x, int w)
{
    const at_stats *st = &app->snap->stats;
    int maxx = x + w;
    x += con_put(y, x, 10, "TTL", TH_LABEL, false);
    long long max = 0;
    for (int b = 0; b < AT_TTL_BUCKETS; b++) if (st->ttl_buckets[b] > max) max = st->ttl_buckets[b];
    int cell = (maxx - x) / AT_TTL_BUCKETS;
    for (int b = 0; b < AT_TTL_BUCKETS && cell > 12; b++) {
        char n[32];
        con_fmt_int(st->ttl_buckets[b], n, sizeof n);
        int xx = x + b * cell;
        xx += con_put(y, xx, 5, ttl_labels[b], TH_LABEL, false);
        xx += con_put(y, xx, 7, n, TH_VALUE, true) + 1;
        con_bar(app, y, xx, cell - 14, max ? (double)st->ttl_buckets[b] / (double)max : 0, TH_BAR);
    }
}

int con_stats_pane_height(con_app *app)
{
    return app->snap ? PANE_LINES : 0;
}

void con_stats_pane_draw(con_app *app, int y, int h)
{
    if (!app->snap) return;
    const at_stats *st = &app->snap->stats;
    int w = app->cols - 2;
    int lines = 0;
    if (lines < h) overview_line(app, y + lines++, 1, w);
    if (lines < h) top_line(app, y + lines++, 1, w, _("Formats"), &st->by_format);
    if (lines < h) top_line(app, y + lines++, 1, w, _("Providers"), &st->by_provider);
    if (lines < h) top_line(app, y + lines++, 1, w, _("Models"), &st->by_model);
    if (lines < h) ttl_line(app, y + lines++, 1, w);
    if (lines < h) {
        int q = w / 4, yy = y + lines++;
        rate_item(app, yy, 1, q, N_("new"), st->new_per_s, HIST_NEW);
        rate_item(app, yy, 1 + q, q, N_("gone"), st->gone_per_s, HIST_GONE);
        rate_item(app, yy, 1 + 2 * q, q, N_("switch"), st->switch_per_s, HIST_SWITCH);
        rate_item(app, yy, 1 + 3 * q, q, N_("reuse"), st->reuse_per_s, HIST_REUSE);
    }
    if (lines < h) redis_line(app, y + lines++, 1, w);
}

/* ---- the full view ------------------------------------------------------------------ */

static void list_block(con_app *app, int y, int x, int w, int h, const char *title, const at_count_list *l,
                       long long total)
{
    if (h < 2) return;
    char t[96], n[32];
    con_fmt_int((long long)l->n, n, sizeof n);
    snprintf(t, sizeof t, "%s (%s)", title, n);
    con_put(y, x, w, t, TH_SECTION, false);
    int nw = 8, rw = 10, bw = w >= 50 ? 12 : 0;
    int lw = w - nw - rw - bw - 3;
    for (int r = 0; r < h - 1 && (size_t)r < l->n; r++) {
        const at_count *c = &l->items[r];
        char a[32], q[32];
        con_fmt_int(c->count, a, sizeof a);
        con_fmt_int(c->requests, q, sizeof q);
        int xx = x;
        xx += con_put(y + 1 + r, xx, lw, c->label, TH_NORMAL, false) + 1;
        xx += con_put(y + 1 + r, xx, nw, a, TH_VALUE, true) + 1;
        xx += con_put(y + 1 + r, xx, rw, q, TH_LABEL, true) + 1;
        if (bw) con_bar(app, y + 1 + r, xx, bw, total ? (double)c->count / (double)total : 0, TH_BAR);
    }
}

static void stats_draw(con_app *app, con_view *v, int y, int h)
{
    (void)v;
    int cols = app->cols;
    if (!app->snap) {
        con_text(y + 1, 2, cols - 4, _("Waiting for the first snapshot..."), TH_POSITION);
        return;
    }
    const at_stats *st = &app->snap->stats;
    int row = y;
    overview_line(app, row++, 1, cols - 2);
    ttl_line(app, row++, 1, cols - 2);
    redis_line(app, row++, 1, cols - 2);
    row++;
    con_put(row++, 1, cols - 2, _("Rates between snapshots (history: one sample per refresh)"), TH_SECTION, false);
    const char *names[4] = {N_("new"), N_("gone"), N_("switch"), N_("reuse")};
    const double rates[4] = {st->new_per_s, st->gone_per_s, st->switch_per_s, st->reuse_per_s};
    const int series[4] = {HIST_NEW, HIST_GONE, HIST_SWITCH, HIST_REUSE};
    int half = cols / 2;
    for (int i = 0; i < 4; i++) {
        int x = (i % 2) ? half : 1;
        rate_item(app, row + i / 2, x, half - 2, names[i], rates[i], series[i]);
    }
    row += 2;
    {
        int used = con_put(row, 1, 7, "ops/s", TH_LABEL, false);
        char b[32];
        con_fmt_int(app->snap->snap->has_info ? app->snap->snap->info.ops_per_sec : 0, b, sizeof b);
        used += con_put(row, 1 + used, 9, b, TH_VALUE, true) + 1;
        con_sparkline(app, row, 1 + used, half - 2 - used - 1, app->snap->hist[HIST_OPS], app->snap->n_hist, TH_SPARK);
        used = con_put(row, half, 7, _("active"), TH_LABEL, false);
        con_fmt_int(st->active, b, sizeof b);
        used += con_put(row, half + used, 9, b, TH_VALUE, true) + 1;
        con_sparkline(app, row, half + used, half - 2 - used - 1, app->snap->hist[HIST_ACTIVE], app->snap->n_hist, TH_SPARK);
    }
    row += 2;
    int left = y + h - row;
    if (left < 4) return;
    int bh = left / 2;
    list_block(app, row, 1, half - 2, bh, _("API formats"), &st->by_format, st->active);
    list_block(app, row, half, cols - half - 1, bh, _("Providers"), &st->by_provider, st->active);
    list_block(app, row + bh, 1, half - 2, left - bh, _("Models"), &st->by_model, st->active);
    list_block(app, row + bh, half, cols - half - 1, left - bh, _("Users"), &st->by_user, st->active);
}

static void stats_destroy(con_view *v)
{
    free(v);
}

con_view *con_view_stats_new(void)
{
    con_view *v = calloc(1, sizeof *v);
    if (!v) abort();
    v->name = N_("Stats");
    v->draw = stats_draw;
    v->destroy = stats_destroy;
    return v;
}
