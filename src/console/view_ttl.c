/* view_ttl.c — the TTL advice view (7): the gateway's analysis over the
 * last 24 hours of the usage table (at_ttl_advice_build, run on the worker
 * while the view is open): how many users fall in each recommended TTL
 * (5, 15, 30, 60 min) as bars, then every user with the p50/p75/p90 of the
 * intervals between their requests and the TTL recommended for them. */
#include "con.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t cur, top;
    int rows;
} ttl_state;

void con_ttl_received(con_app *app, con_job *j)
{
    bool ok = j->rc == 0 && j->ttl;
    if (ok) {
        if (app->ttl) {
            at_ttl_advice_free(app->ttl);
            free(app->ttl);
        }
        app->ttl = j->ttl;
        j->ttl = NULL;
    }
    app->ttl_pending = false;
    con_job_answered(app, j, ok, app->ttl_err, sizeof app->ttl_err, &app->ttl_mono, _("TTL advice failed"));
}

static void summary(con_app *app, int y)
{
    const at_ttl_advice *a = app->ttl;
    int cols = app->cols;
    char line[256], n[32];
    con_fmt_int((long long)a->n_users, n, sizeof n);
    snprintf(line, sizeof line, _(" Recommended affinity TTL over the last %g h: %s users with 3 or more requests"),
             a->hours, n);
    con_put(y, 0, cols, line, TH_SECTION, false);
    static const int minutes[4] = {5, 15, 30, 60};
    long long max = 0;
    for (int b = 0; b < 4; b++)
        if (a->bucket_users[b] > max) max = a->bucket_users[b];
    for (int b = 0; b < 4; b++) {
        int yy = y + 1 + b, x = 2;
        char label[32], count[32];
        snprintf(label, sizeof label, _("%d min"), minutes[b]);
        con_fmt_int(a->bucket_users[b], count, sizeof count);
        x += con_put(yy, x, 8, label, TH_LABEL, false) + 1;
        x += con_put(yy, x, 8, count, TH_VALUE, true) + 1;
        int bw = cols - x - 2;
        if (bw > 50) bw = 50;
        con_bar(app, yy, x, bw, max ? (double)a->bucket_users[b] / (double)max : 0, TH_BAR);
    }
}

static void ttl_draw(con_app *app, con_view *v, int y, int h)
{
    ttl_state *st = v->state;
    int cols = app->cols;
    const at_ttl_advice *a = app->ttl;
    if (!a) {
        con_put(y + 1, 1, cols - 2, app->ttl_err[0] ? app->ttl_err : _("Analysing the usage table (last 24 h)..."),
                app->ttl_err[0] ? TH_STATUS_ERROR : TH_POSITION, false);
        return;
    }
    summary(app, y);
    int row = y + 5;
    if (app->ttl_err[0]) {
        con_put(row++, 1, cols - 2, app->ttl_err, TH_WARN, false);
    }
    /* the users */
    int numw = 9, tw = 7;
    int userw = cols - 4 * (numw + 1) - (tw + 1);
    con_fill(row, 0, cols, TH_TABLE_HEADER);
    int x = con_put(row, 0, userw, _("USER"), TH_TABLE_HEADER, false);
    x += 1 + con_put(row, x + 1, numw, _("REQUESTS"), TH_TABLE_HEADER, true);
    x += 1 + con_put(row, x + 1, numw, _("P50 GAP"), TH_TABLE_HEADER, true);
    x += 1 + con_put(row, x + 1, numw, _("P75 GAP"), TH_TABLE_HEADER, true);
    x += 1 + con_put(row, x + 1, numw, _("P90 GAP"), TH_TABLE_HEADER, true);
    con_put(row, x + 1, tw, _("TTL"), TH_TABLE_HEADER, true);
    row++;
    int rows = y + h - 1 - row;
    st->rows = rows > 0 ? rows : 1;
    size_t n = a->n_users;
    con_list_clamp(&st->cur, &st->top, n, rows);
    if (!n && rows > 0)
        con_text(row, 2, cols - 4, _("No user made 3 or more requests in the window."), TH_POSITION);
    for (int r = 0; r < rows; r++) {
        size_t i = st->top + (size_t)r;
        if (i >= n) break;
        const at_ttl_user *u = &a->users[i];
        int ry = row + r;
        bool sel = i == st->cur;
        con_element e = sel ? TH_ROW_SELECTED : TH_ROW;
        if (sel) con_fill(ry, 0, cols, e);
        char c[5][32];
        con_fmt_int(u->requests, c[0], sizeof c[0]);
        snprintf(c[1], sizeof c[1], _("%.1f min"), u->p50_min);
        snprintf(c[2], sizeof c[2], _("%.1f min"), u->p75_min);
        snprintf(c[3], sizeof c[3], _("%.1f min"), u->p90_min);
        snprintf(c[4], sizeof c[4], _("%d min"), u->recommended_ttl_min);
        int xx = con_put(ry, 0, userw, u->username && *u->username ? u->username : u->user_id, e, false);
        for (int k = 0; k < 4; k++) xx += 1 + con_put(ry, xx + 1, numw, c[k], e, true);
        con_put(ry, xx + 1, tw, c[4], sel ? e : TH_VALUE, true);
    }
    con_fill(y + h - 1, 0, cols, TH_POSITION);
    char pos[512], age[32], nn[32];
    con_fmt_dur(app->mono - app->ttl_mono, age, sizeof age);
    con_fmt_int((long long)n, nn, sizeof nn);
    const char *dot = con_sym(app, "\xc2\xb7", "|");
    snprintf(pos, sizeof pos,
             _(" %zu of %s users %s p90 <= 5 min: 5; p75 <= 15: 15; p75 <= 30: 30; else 60 %s updated %s ago "
               "%s query %.0f ms %s r: now"),
             n ? st->cur + 1 : 0, nn, dot, dot, age, dot, a->query_ms, dot);
    con_put(y + h - 1, 0, cols, pos, TH_POSITION, false);
}

static bool ttl_handle(con_app *app, con_view *v, con_request req)
{
    ttl_state *st = v->state;
    size_t n = app->ttl ? app->ttl->n_users : 0;
    switch (req) {
    case REQ_REFRESH:
        con_worker_insight_now(app->worker);
        con_message(app, false, "%s", _("Analysing the usage table (last 24 h)..."));
        break;
    default:
        if (!con_list_move(&st->cur, n, st->rows, req)) return false;
    }
    app->dirty = true;
    return true;
}

con_view *con_view_ttl_new(void)
{
    ttl_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    return con_view_make((con_view){.name = N_("TTL"), .draw = ttl_draw, .handle = ttl_handle, .want = con_worker_want_ttl, .state = st});
}
