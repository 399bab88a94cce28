/* view_hits.c — the Hits view (6): prompt-cache effectiveness from the
 * gateway's usage table (at_hits_build, run on the worker), the last 5
 * minutes beside the last hour, per provider and per model: requests,
 * requests with cache reads, token hit rate and estimated savings. Also owns
 * the UI side of those reports: receiving them, and the per-user look-up
 * the affinity table's HIT column uses (con_user_hits). */
#include "con.h"

#include "aethertop/cells.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L_PROVIDERS, L_MODELS, L__N };

typedef struct {
    int focus;
    size_t cur[L__N], top[L__N];
    int rows[L__N];
} hits_state;

/* ---- the reports ------------------------------------------------------------------ */

static void free_report(at_hits_report **r)
{
    if (*r) {
        at_hits_free(*r);
        free(*r);
        *r = NULL;
    }
}

void con_insight_free(con_app *app)
{
    at_strmap_free(&app->hit_users);
    at_strmap_init(&app->hit_users);
    free_report(&app->hits5);
    free_report(&app->hits60);
    if (app->ttl) {
        at_ttl_advice_free(app->ttl);
        free(app->ttl);
        app->ttl = NULL;
    }
}

void con_hits_received(con_app *app, con_job *j)
{
    bool ok = j->rc == 0 && j->hits60;
    if (ok) {
        /* the map's keys are the report's strings: rebuild it first */
        at_strmap_free(&app->hit_users);
        at_strmap_init(&app->hit_users);
        for (size_t i = 0; i < j->hits60->n_by_user; i++)
            if (j->hits60->by_user[i].id && *j->hits60->by_user[i].id)
                at_strmap_put(&app->hit_users, j->hits60->by_user[i].id, (int32_t)i);
        free_report(&app->hits60);
        app->hits60 = j->hits60;
        j->hits60 = NULL;
        if (j->hits5) {
            free_report(&app->hits5);
            app->hits5 = j->hits5;
            j->hits5 = NULL;
        }
    }
    con_job_answered(app, j, ok, app->hits_err, sizeof app->hits_err, &app->hits_mono, _("usage report failed"));
}

int con_user_hits(con_app *app, const char *user_id, const at_hits_row **row)
{
    *row = NULL;
    if (!app->hits60 || !user_id || !*user_id) return -1;
    /* a report the worker could not renew (PostgreSQL lost) stops counting */
    if (app->mono - app->hits_mono > 3 * CON_CORR_PERIOD_S + 5) return -1;
    int32_t i = at_strmap_get(&app->hit_users, user_id);
    if (i < 0) return 0;
    *row = &app->hits60->by_user[i];
    return 1;
}

void con_fmt_hit_rate(double rate, char *out, size_t outlen)
{
    if (rate < 0 || isnan(rate)) snprintf(out, outlen, "-");
    else snprintf(out, outlen, "%.1f%%", rate * 100);
}

/* ---- the view ---------------------------------------------------------------------- */

/* One line of the merged table: a name and its row in each window (NULL = none). */
typedef struct {
    const char *label;
    const at_hits_row *w5, *w60;
} merged;

static const at_hits_row *rows_of(const at_hits_report *r, int list, size_t *n)
{
    if (!r) { *n = 0; return NULL; }
    *n = list == L_PROVIDERS ? r->n_by_provider : r->n_by_model;
    return list == L_PROVIDERS ? r->by_provider : r->by_model;
}

static const char *label_of(const at_hits_row *r)
{
    if (r->label && *r->label) return r->label;
    if (r->id && *r->id) return r->id;
    return _("(none)");
}

/* The hour's rows in its order (requests, descending), then rows only the
 * 5-minute window has. malloc'd; *n rows. */
static merged *merge(con_app *app, int list, size_t *n)
{
    size_t n5, n60;
    const at_hits_row *r5 = rows_of(app->hits5, list, &n5), *r60 = rows_of(app->hits60, list, &n60);
    merged *m = calloc(n5 + n60 + 1, sizeof *m);
    if (!m) abort();
    size_t k = 0;
    bool *used = calloc(n5 + 1, sizeof *used);
    if (!used) abort();
    for (size_t i = 0; i < n60; i++) {
        m[k].label = label_of(&r60[i]);
        m[k].w60 = &r60[i];
        for (size_t j = 0; j < n5; j++)
            /* by id, and by name too: deleted providers all have the empty id */
            if (!used[j] && strcmp(r5[j].id ? r5[j].id : "", r60[i].id ? r60[i].id : "") == 0 &&
                strcmp(label_of(&r5[j]), label_of(&r60[i])) == 0) {
                m[k].w5 = &r5[j];
                used[j] = true;
                break;
            }
        k++;
    }
    for (size_t j = 0; j < n5; j++)
        if (!used[j]) {
            m[k].label = label_of(&r5[j]);
            m[k].w5 = &r5[j];
            k++;
        }
    free(used);
    *n = k;
    return m;
}

/* Four cells of one window at x: requests, cached, hit rate, savings. */
static int window_cells(int y, int x, const at_hits_row *r, con_element e, con_element rate_e)
{
    char a[32] = "-", b[32] = "-", c[32] = "-", d[32] = "-";
    if (r) {
        con_fmt_int(r->requests, a, sizeof a);
        con_fmt_int(r->cached_requests, b, sizeof b);
        con_fmt_hit_rate(r->token_hit_rate, c, sizeof c);
        snprintf(d, sizeof d, "$%.2f", r->savings_usd);
    }
    x += 1 + con_put(y, x + 1, 7, a, e, true);
    x += 1 + con_put(y, x + 1, 7, b, e, true);
    x += 1 + con_put(y, x + 1, 6, c, rate_e, true);
    x += 1 + con_put(y, x + 1, 9, d, e, true);
    return x;
}

#define WIN_W 33   /* " %7s %7s %6s %9s" */

static void draw_list(con_app *app, hits_state *st, int list, int y, int h)
{
    int cols = app->cols;
    int namew = cols - 2 * WIN_W - 1;
    size_t n;
    merged *m = merge(app, list, &n);
    char title[128], nn[32];
    con_fmt_int((long long)n, nn, sizeof nn);
    snprintf(title, sizeof title, " %s (%s) ", list == L_PROVIDERS ? _("By provider") : _("By model"), nn);
    con_fill(y, 0, cols, TH_NORMAL);
    con_text(y, 0, cols, title, st->focus == list ? TH_TAB_ACTIVE : TH_SECTION);
    if (h < 3) { free(m); return; }
    /* headings: the two windows, then the columns */
    int hy = y + 1;
    con_fill(hy, 0, cols, TH_TABLE_HEADER);
    int x = con_put(hy, 0, namew, list == L_PROVIDERS ? _("PROVIDER") : _("MODEL"), TH_TABLE_HEADER, false);
    for (int w = 0; w < 2; w++) {
        x += 1 + con_put(hy, x + 1, 7, _("REQS"), TH_TABLE_HEADER, true);
        x += 1 + con_put(hy, x + 1, 7, _("CACHED"), TH_TABLE_HEADER, true);
        x += 1 + con_put(hy, x + 1, 6, _("HIT%"), TH_TABLE_HEADER, true);
        x += 1 + con_put(hy, x + 1, 9, _("SAVED"), TH_TABLE_HEADER, true);
    }
    int rows = h - 2;
    st->rows[list] = rows > 0 ? rows : 1;
    size_t *cur = &st->cur[list], *top = &st->top[list];
    con_list_clamp(cur, top, n, rows);
    if (!n) {
        con_text(hy + 1, 2, cols - 4, app->hits60 ? _("no completed requests in the last hour") : _("loading..."),
                 TH_POSITION);
        free(m);
        return;
    }
    for (int r = 0; r < rows; r++) {
        size_t i = *top + (size_t)r;
        if (i >= n) break;
        int ry = hy + 1 + r;
        bool sel = st->focus == list && i == *cur;
        con_element e = sel ? TH_ROW_SELECTED : TH_ROW;
        if (sel) con_fill(ry, 0, cols, e);
        int xx = con_put(ry, 0, namew, m[i].label, e, false);
        /* a window with requests but no cache reads stands out */
        con_element e5 = !sel && m[i].w5 && m[i].w5->requests && !m[i].w5->cache_read_tokens ? TH_ROW_NOCACHE : e;
        con_element e60 = !sel && m[i].w60 && m[i].w60->requests && !m[i].w60->cache_read_tokens ? TH_ROW_NOCACHE : e;
        xx = window_cells(ry, xx, m[i].w5, e, e5);
        window_cells(ry, xx, m[i].w60, e, e60);
    }
    free(m);
}

static void total_line(con_app *app, int y)
{
    int cols = app->cols;
    int namew = cols - 2 * WIN_W - 1;
    con_fill(y, 0, cols, TH_NORMAL);
    int x = con_put(y, 0, namew, _("All requests"), TH_SECTION, false);
    x = window_cells(y, x, app->hits5 ? &app->hits5->total : NULL, TH_VALUE, TH_VALUE);
    window_cells(y, x, app->hits60 ? &app->hits60->total : NULL, TH_VALUE, TH_VALUE);
}

static void hits_draw(con_app *app, con_view *v, int y, int h)
{
    hits_state *st = v->state;
    int cols = app->cols;
    if (!app->hits60 && !app->hits5) {
        con_put(y + 1, 1, cols - 2, app->hits_err[0] ? app->hits_err : _("Reading the usage table..."),
                app->hits_err[0] ? TH_STATUS_ERROR : TH_POSITION, false);
        return;
    }
    /* the windows' titles over their columns */
    int namew = cols - 2 * WIN_W - 1;
    con_fill(y, 0, cols, TH_NORMAL);
    con_put(y, 0, namew, _("Prompt cache (usage table)"), TH_LABEL, false);
    for (int w = 0; w < 2; w++) {
        const char *t = w == 0 ? _("last 5 minutes") : _("last hour");
        bool loading = w == 0 ? !app->hits5 : !app->hits60;
        char buf[128];
        snprintf(buf, sizeof buf, "%s %s%s%s %s", con_sym(app, "\xe2\x94\x80\xe2\x94\x80", "--"), t,
                 loading ? " " : "", loading ? _("loading...") : "", con_sym(app, "\xe2\x94\x80\xe2\x94\x80", "--"));
        int tw = at_cells_width(buf);
        int bx = namew + w * WIN_W + 1 + (WIN_W - 1 - tw) / 2;
        con_put(y, bx, tw < WIN_W - 1 ? tw : WIN_W - 1, buf, TH_SECTION, false);
    }
    total_line(app, y + 1);
    int top = y + 2;
    if (app->hits_err[0]) {
        con_put(top, 1, cols - 2, app->hits_err, TH_WARN, false);
        top++;
    }
    /* each list gets what it needs; when short of room, the halves */
    int avail = y + h - 1 - top;
    size_t n0, n1;
    free(merge(app, L_PROVIDERS, &n0));
    free(merge(app, L_MODELS, &n1));
    int need0 = (int)n0 + 2 < 3 ? 3 : (int)n0 + 2, need1 = (int)n1 + 2 < 3 ? 3 : (int)n1 + 2;
    int h0 = need0 <= avail / 2 ? need0 : need1 <= avail / 2 ? avail - need1 : avail / 2;
    int h1 = avail - h0;
    draw_list(app, st, L_PROVIDERS, top, h0);
    draw_list(app, st, L_MODELS, top + h0, h1);
    con_fill(y + h - 1, 0, cols, TH_POSITION);
    char pos[512], age[32];
    con_fmt_dur(app->mono - app->hits_mono, age, sizeof age);
    const char *dot = con_sym(app, "\xc2\xb7", "|");
    snprintf(pos, sizeof pos, _(" last 5 min and last hour %s updated %s ago %s queries %.0f + %.0f ms %s "
                                "r: now %s Left/Right: list"),
             dot, age, dot, app->hits5 ? app->hits5->query_ms : 0.0, app->hits60 ? app->hits60->query_ms : 0.0, dot,
             dot);
    con_put(y + h - 1, 0, cols, pos, TH_POSITION, false);
}

static bool hits_handle(con_app *app, con_view *v, con_request req)
{
    hits_state *st = v->state;
    size_t n;
    free(merge(app, st->focus, &n));
    switch (req) {
    case REQ_LEFT: case REQ_RIGHT: st->focus = (st->focus + 1) % L__N; break;
    case REQ_REFRESH:
        con_worker_insight_now(app->worker);
        con_message(app, false, "%s", _("Reading the usage table..."));
        break;
    default:
        if (!con_list_move(&st->cur[st->focus], n, st->rows[st->focus], req)) return false;
    }
    app->dirty = true;
    return true;
}

static void hits_leave(con_app *app, con_view *v)
{
    (void)v;
    /* the 5-minute window is only renewed while the view is open: not
       shown stale next time */
    free_report(&app->hits5);
}

con_view *con_view_hits_new(void)
{
    hits_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    return con_view_make((con_view){.name = N_("Hits"), .draw = hits_draw, .handle = hits_handle, .want = con_worker_want_hits, .on_leave = hits_leave, .state = st});
}
