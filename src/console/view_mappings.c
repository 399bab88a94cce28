/* view_mappings.c — the model-mapping cache (the core's at_mapping_stats,
 * built on the worker while this view is open): the breakdown per key
 * family, then three scrollable lists — name mappings with the providers
 * that really map the name, provider-level mappings with TTL and hits, and
 * unmapped entries with their status. Left/Right move between the lists;
 * d clears the selected entry, X clears every mapping. */
#include "con.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_NAMES, S_PROVIDERS, S_UNMAPPED, S__N };
static const char *const section_names[S__N] = {N_("Name mappings"), N_("Provider mappings"), N_("Unmapped")};

typedef struct {
    int focus;
    size_t cur[S__N], top[S__N];
    int rows[S__N];
} map_state;

void con_mappings_received(con_app *app, con_job *j)
{
    bool ok = j->rc == 0 && j->mappings;
    if (ok) {
        if (app->mappings) {
            at_mapping_stats_free(app->mappings);
            free(app->mappings);
        }
        app->mappings = j->mappings;
        j->mappings = NULL;
    }
    app->mappings_pending = false;
    con_job_answered(app, j, ok, app->mappings_err, sizeof app->mappings_err, &app->mappings_mono,
                     _("mapping stats failed"));
}

static size_t count_of(const at_mapping_stats *m, int s)
{
    if (!m) return 0;
    return s == S_NAMES ? m->n_mappings : s == S_PROVIDERS ? m->n_provider_mappings : m->n_unmapped;
}

/* TTL counted down locally since the stats were built. */
static void ttl_text(con_app *app, long long ttl, char *out, size_t outlen)
{
    if (ttl < 0) { snprintf(out, outlen, "-"); return; }
    double left = (double)ttl - (app->mono - app->mappings_mono);
    if (left <= 0) snprintf(out, outlen, _("expired"));
    else con_fmt_dur(left, out, outlen);
}

static void join(char *const *v, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", v[i]);
        if (w < 0) break;
        o += (size_t)w;
        if (o >= outlen) { o = outlen - 1; break; }
    }
    if (n == 0) snprintf(out, outlen, "-");
}

static void draw_section(con_app *app, map_state *st, int s, int y, int h)
{
    const at_mapping_stats *m = app->mappings;
    int cols = app->cols;
    size_t n = count_of(m, s);
    char title[128], nn[32];
    con_fmt_int((long long)n, nn, sizeof nn);
    snprintf(title, sizeof title, " %s (%s) ", _(section_names[s]), nn);
    con_fill(y, 0, cols, TH_NORMAL);
    con_text(y, 0, cols, title, st->focus == s ? TH_TAB_ACTIVE : TH_SECTION);
    if (h < 2) return;
    /* column headers */
    int hy = y + 1;
    con_fill(hy, 0, cols, TH_TABLE_HEADER);
    int w[6] = {0};
    const char *heads[6] = {0};
    int nc;
    if (s == S_NAMES) {
        nc = 5;
        w[4] = 8; w[0] = (cols - 8 - 5) * 28 / 100; w[1] = (cols - 8 - 5) * 22 / 100; w[2] = (cols - 8 - 5) * 20 / 100;
        w[3] = cols - 5 - w[0] - w[1] - w[2] - w[4];
        heads[0] = _("REQUESTED NAME"); heads[1] = _("GLOBAL MODEL"); heads[2] = _("DISPLAY NAME"); heads[3] = _("PROVIDERS"); heads[4] = _("TTL");
    } else if (s == S_PROVIDERS) {
        nc = 6;
        w[4] = 8; w[5] = 7;
        int rest = cols - 6 - w[4] - w[5];
        w[0] = rest * 24 / 100; w[1] = rest * 24 / 100; w[2] = rest * 26 / 100; w[3] = rest - w[0] - w[1] - w[2];
        heads[0] = _("PROVIDER"); heads[1] = _("GLOBAL MODEL"); heads[2] = _("PROVIDER MODEL NAME"); heads[3] = _("ALIASES");
        heads[4] = _("TTL"); heads[5] = _("HITS");
    } else {
        nc = 3;
        w[1] = 10; w[2] = 8; w[0] = cols - 3 - w[1] - w[2];
        heads[0] = _("REQUESTED NAME"); heads[1] = _("STATUS"); heads[2] = _("TTL");
    }
    int x = 0;
    for (int c = 0; c < nc; c++) {
        bool right = (s == S_NAMES && c == 4) || (s == S_PROVIDERS && c >= 4) || (s == S_UNMAPPED && c == 2);
        x += con_put(hy, x, w[c], heads[c], TH_TABLE_HEADER, right) + 1;
    }
    int rows = h - 2;
    st->rows[s] = rows > 0 ? rows : 1;
    size_t *cur = &st->cur[s], *top = &st->top[s];
    con_list_clamp(cur, top, n, rows);
    if (!m || n == 0) {
        if (rows > 0) con_text(hy + 1, 2, cols - 4, m ? _("none") : _("loading..."), TH_POSITION);
        return;
    }
    for (int r = 0; r < rows; r++) {
        size_t i = *top + (size_t)r;
        if (i >= n) break;
        int ry = hy + 1 + r;
        bool sel = st->focus == s && i == *cur;
        con_element e = sel ? TH_ROW_SELECTED : TH_ROW;
        if (sel) con_fill(ry, 0, cols, e);
        char cell[6][1024];
        bool right[6] = {0};
        if (s == S_NAMES) {
            const at_name_mapping *x1 = &m->mappings[i];
            snprintf(cell[0], sizeof cell[0], "%s", x1->mapping_name ? x1->mapping_name : "-");
            snprintf(cell[1], sizeof cell[1], "%s", x1->global_model_name ? x1->global_model_name : "-");
            snprintf(cell[2], sizeof cell[2], "%s", x1->global_model_display_name ? x1->global_model_display_name : "-");
            join(x1->providers, x1->n_providers, cell[3], sizeof cell[3]);
            ttl_text(app, x1->ttl, cell[4], sizeof cell[4]);
            right[4] = true;
        } else if (s == S_PROVIDERS) {
            const at_provider_mapping *p = &m->provider_mappings[i];
            snprintf(cell[0], sizeof cell[0], "%s", p->provider_name ? p->provider_name : (p->provider_id ? p->provider_id : "-"));
            snprintf(cell[1], sizeof cell[1], "%s", p->global_model_name ? p->global_model_name : (p->global_model_id ? p->global_model_id : "-"));
            snprintf(cell[2], sizeof cell[2], "%s", p->provider_model_name ? p->provider_model_name : "-");
            join(p->aliases, p->n_aliases, cell[3], sizeof cell[3]);
            ttl_text(app, p->ttl, cell[4], sizeof cell[4]);
            con_fmt_int(p->hit_count, cell[5], sizeof cell[5]);
            right[4] = right[5] = true;
        } else {
            const at_unmapped *u = &m->unmapped[i];
            snprintf(cell[0], sizeof cell[0], "%s", u->mapping_name ? u->mapping_name : "-");
            snprintf(cell[1], sizeof cell[1], "%s", u->status ? u->status : "-");
            ttl_text(app, u->ttl, cell[2], sizeof cell[2]);
            right[2] = true;
        }
        x = 0;
        for (int c = 0; c < nc; c++) x += con_put(ry, x, w[c], cell[c], e, right[c]) + 1;
    }
}

static void map_draw(con_app *app, con_view *v, int y, int h)
{
    map_state *st = v->state;
    const at_mapping_stats *m = app->mappings;
    int cols = app->cols;
    con_fill(y, 0, cols, TH_NORMAL);
    if (!m) {
        con_put(y + 1, 1, cols - 2, app->mappings_err[0] ? app->mappings_err : _("Reading the model-mapping cache..."),
                app->mappings_err[0] ? TH_STATUS_ERROR : TH_POSITION, false);
        return;
    }
    /* breakdown */
    char line[512], a[6][32];
    con_fmt_int(m->total_keys, a[0], sizeof a[0]);
    con_fmt_int(m->model_by_id, a[1], sizeof a[1]);
    con_fmt_int(m->model_by_provider_global, a[2], sizeof a[2]);
    con_fmt_int(m->global_model_by_id, a[3], sizeof a[3]);
    con_fmt_int(m->global_model_by_name, a[4], sizeof a[4]);
    con_fmt_int(m->global_model_resolve, a[5], sizeof a[5]);
    const char *dot = con_sym(app, "\xc2\xb7", "|");
    snprintf(line, sizeof line, _(" Breakdown: %s keys %s model:id %s %s provider_global %s %s global_model:id %s %s "
                                  "name %s %s resolve %s"), a[0], dot, a[1], dot, a[2], dot, a[3], dot, a[4], dot, a[5]);
    con_put(y, 0, cols, line, TH_SECTION, false);
    int top = y + 1;
    if (m->warning[0] || app->mappings_err[0]) {
        con_put(top, 1, cols - 2, app->mappings_err[0] ? app->mappings_err : m->warning, TH_WARN, false);
        top++;
    }
    int avail = y + h - top - 1;
    /* each list gets what it needs; when short of room the focused list
       grows first */
    int hs[S__N], need[S__N], left = avail;
    for (int s = 0; s < S__N; s++) {
        need[s] = (int)count_of(m, s) + 2;
        if (need[s] < 3) need[s] = 3;
        hs[s] = 3;
        left -= 3;
    }
    for (bool grew = true; left > 0 && grew;) {
        grew = false;
        for (int k = 0; k < S__N && left > 0; k++) {
            int s = (st->focus + k) % S__N;
            if (hs[s] < need[s]) { hs[s]++; left--; grew = true; }
            if (s == st->focus) while (left > 0 && hs[s] < need[s]) { hs[s]++; left--; }
        }
    }
    int yy = top;
    for (int s = 0; s < S__N && yy < y + h - 1; s++) {
        int hh = hs[s];
        if (yy + hh > y + h - 1) hh = y + h - 1 - yy;
        draw_section(app, st, s, yy, hh);
        yy += hh;
    }
    con_fill(y + h - 1, 0, cols, TH_POSITION);
    char pos[256];
    size_t n = count_of(m, st->focus);
    snprintf(pos, sizeof pos, _(" %s: %zu of %zu %s Left/Right: list %s d: clear entry %s X: clear all mappings"),
             _(section_names[st->focus]), n ? st->cur[st->focus] + 1 : 0, n, dot, dot, dot);
    con_put(y + h - 1, 0, cols, pos, TH_POSITION, false);
}

static void ask_clear_entry(con_app *app, map_state *st)
{
    const at_mapping_stats *m = app->mappings;
    size_t i = st->cur[st->focus];
    if (!m || i >= count_of(m, st->focus)) {
        con_message(app, true, _("No entry selected."));
        return;
    }
    con_clear c;
    if (st->focus == S_PROVIDERS) {
        const at_provider_mapping *p = &m->provider_mappings[i];
        con_clear_init(&c, AT_CLEAR_PROVIDER_MAPPING);
        con_clear_arg(&c, p->provider_id ? p->provider_id : "");
        con_clear_arg(&c, p->global_model_id ? p->global_model_id : "");
        snprintf(c.label, sizeof c.label, _("provider mapping %s / %s (model:provider_global:%s:%s and its hit counter)"),
                 p->provider_name ? p->provider_name : p->provider_id, p->global_model_name ? p->global_model_name : "?",
                 p->provider_id ? p->provider_id : "", p->global_model_id ? p->global_model_id : "");
        con_clear_ask(app, &c, _("Clear provider mapping"));
        return;
    }
    const char *name = st->focus == S_NAMES ? m->mappings[i].mapping_name : m->unmapped[i].mapping_name;
    con_clear_init(&c, AT_CLEAR_MAPPING_NAME);
    con_clear_arg(&c, name ? name : "");
    snprintf(c.label, sizeof c.label, _("mapping name %s (global_model:resolve:%s and global_model:name:%s)"),
             name ? name : "", name ? name : "", name ? name : "");
    con_clear_ask(app, &c, _("Clear mapping name"));
}

static bool map_handle(con_app *app, con_view *v, con_request req)
{
    map_state *st = v->state;
    size_t n = count_of(app->mappings, st->focus);
    switch (req) {
    case REQ_LEFT: st->focus = (st->focus + S__N - 1) % S__N; break;
    case REQ_RIGHT: st->focus = (st->focus + 1) % S__N; break;
    case REQ_REFRESH:
        con_worker_refresh_now(app->worker);
        con_message(app, false, _("Refreshing..."));
        break;
    case REQ_CLEAR_ONE: ask_clear_entry(app, st); break;
    case REQ_CLEAR_ALL: con_clear_ask_all_mappings(app); break;
    case REQ_CLEAR_USER: case REQ_CLEAR_KEY: case REQ_CLEAR_PROVIDER:
        con_message(app, true, _("Not in the Mappings view: use d (this entry) or X (all mappings)."));
        break;
    default:
        if (!con_list_move(&st->cur[st->focus], n, st->rows[st->focus], req)) return false;
    }
    app->dirty = true;
    return true;
}

con_view *con_view_mappings_new(void)
{
    map_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    return con_view_make((con_view){.name = N_("Mappings"), .draw = map_draw, .handle = map_handle, .want = con_worker_want_mappings, .state = st});
}
