/* view_groups.c — live affinities grouped by user, by provider or by model
 * (the core's at_stats lists: count and request sum per group), with each
 * group's share. Left/Right switch the grouping; Enter narrows the affinity
 * table to the group; the provider/user clears apply to the selected group. */
#include "con.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { G_USER, G_PROVIDER, G_MODEL, G__N };
static const char *const group_names[G__N] = {N_("Users"), N_("Providers"), N_("Models")};

typedef struct {
    int kind;
    size_t cur[G__N], top[G__N];
    char *cur_id[G__N];       /* the selected group's id, kept across refreshes */
    int page;
} grp_state;

static const at_count_list *list_of(con_app *app, int kind)
{
    if (!app->snap) return NULL;
    const at_stats *s = &app->snap->stats;
    return kind == G_USER ? &s->by_user : kind == G_PROVIDER ? &s->by_provider : &s->by_model;
}

static void follow(grp_state *st, const at_count_list *l)
{
    int k = st->kind;
    if (!l || !l->n) { st->cur[k] = 0; return; }
    if (st->cur_id[k]) {
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->items[i].id, st->cur_id[k]) == 0) { st->cur[k] = i; return; }
    }
    if (st->cur[k] >= l->n) st->cur[k] = l->n - 1;
}

static void remember(grp_state *st, const at_count_list *l)
{
    int k = st->kind;
    free(st->cur_id[k]);
    st->cur_id[k] = l && l->n ? strdup(l->items[st->cur[k]].id) : NULL;
}

static void grp_draw(con_app *app, con_view *v, int y, int h)
{
    grp_state *st = v->state;
    int cols = app->cols;
    /* the grouping tabs */
    con_fill(y, 0, cols, TH_NORMAL);
    int x = 1;
    for (int k = 0; k < G__N; k++) {
        char t[32];
        snprintf(t, sizeof t, " %s ", _(group_names[k]));
        x += con_text(y, x, cols - x, t, k == st->kind ? TH_TAB_ACTIVE : TH_TAB) + 1;
    }
    con_text(y, x + 1, cols - x - 1, _("(Left/Right: grouping, Enter: show its affinities)"), TH_POSITION);
    const at_count_list *l = list_of(app, st->kind);
    if (!l) {
        con_text(y + 2, 2, cols - 4, _("Loading..."), TH_POSITION);
        return;
    }
    follow(st, l);
    long long total = app->snap->stats.active;
    int wn = 6, wr = 10;
    int wname = cols >= 120 ? 28 : 20, wid = cols >= 120 ? 36 : 24;
    int wsh = cols - wname - wid - wn - wr - 4;
    int hy = y + 1;
    con_fill(hy, 0, cols, TH_TABLE_HEADER);
    const char *what = st->kind == G_USER ? _("USER") : st->kind == G_PROVIDER ? _("PROVIDER") : _("MODEL");
    x = 0;
    x += con_put(hy, x, wname, what, TH_TABLE_HEADER, false) + 1;
    x += con_put(hy, x, wid, _("ID"), TH_TABLE_HEADER, false) + 1;
    x += con_put(hy, x, wn, _("AFFS"), TH_TABLE_SORTED, true) + 1;
    x += con_put(hy, x, wr, _("REQUESTS"), TH_TABLE_HEADER, true) + 1;
    con_put(hy, x, wsh, _("SHARE"), TH_TABLE_HEADER, false);

    int rows = h - 3;
    if (rows < 1) rows = 1;
    st->page = rows;
    size_t *cur = &st->cur[st->kind], *top = &st->top[st->kind];
    con_list_clamp(cur, top, l->n, rows);
    for (int r = 0; r < rows; r++) {
        size_t i = *top + (size_t)r;
        if (i >= l->n) break;
        const at_count *c = &l->items[i];
        int ry = hy + 1 + r;
        bool sel = i == *cur;
        con_element e = sel ? TH_ROW_SELECTED : TH_ROW;
        if (sel) con_fill(ry, 0, cols, e);
        char n[32], rq[32];
        con_fmt_int(c->count, n, sizeof n);
        con_fmt_int(c->requests, rq, sizeof rq);
        x = 0;
        x += con_put(ry, x, wname, c->label, e, false) + 1;
        x += con_put(ry, x, wid, c->id, e, false) + 1;
        x += con_put(ry, x, wn, n, e, true) + 1;
        x += con_put(ry, x, wr, rq, e, true) + 1;
        double share = total > 0 ? (double)c->count / (double)total : 0;
        char pct[16];
        snprintf(pct, sizeof pct, "%5.1f%%", share * 100);
        x += con_put(ry, x, 7, pct, e, true);
        con_bar(app, ry, x + 1, wsh - 8, share, sel ? e : TH_BAR);
    }
    if (l->n == 0)
        con_text(hy + 2, 2, cols - 4, _("No live cache affinities in Redis: nothing to group."), TH_POSITION);
    char pos[256], a[32], b[32];
    con_fmt_int((long long)l->n, a, sizeof a);
    con_fmt_int(total, b, sizeof b);
    snprintf(pos, sizeof pos, _(" %zu of %s %s %s %s live affinities"), l->n ? *cur + 1 : 0, a,
             _(group_names[st->kind]), con_sym(app, "\xc2\xb7", "|"), b);
    con_fill(y + h - 1, 0, cols, TH_POSITION);
    con_put(y + h - 1, 0, cols, pos, TH_POSITION, false);
}

static bool grp_handle(con_app *app, con_view *v, con_request req)
{
    grp_state *st = v->state;
    const at_count_list *l = list_of(app, st->kind);
    size_t n = l ? l->n : 0;
    size_t *cur = &st->cur[st->kind];
    if (l) follow(st, l);
    const at_count *c = l && n ? &l->items[*cur] : NULL;
    switch (req) {
    case REQ_LEFT: st->kind = (st->kind + G__N - 1) % G__N; app->dirty = true; return true;
    case REQ_RIGHT: st->kind = (st->kind + 1) % G__N; app->dirty = true; return true;
    case REQ_ENTER: {
        if (!c) return true;
        char label[300];
        snprintf(label, sizeof label, "%s = %s", st->kind == G_USER ? "user" : st->kind == G_PROVIDER ? "provider" : "model",
                 c->label);
        con_aff_narrow(app, st->kind == G_USER ? c->id : NULL, st->kind == G_PROVIDER ? c->id : NULL,
                       st->kind == G_MODEL ? c->id : NULL, label);
        con_show_tab(app, VIEW_AFFINITIES);
        return true;
    }
    case REQ_CLEAR_ONE: case REQ_CLEAR_PROVIDER: case REQ_CLEAR_USER: {
        if (!c) return true;
        con_clear cl;
        if (st->kind == G_PROVIDER && req != REQ_CLEAR_USER) {
            con_clear_init(&cl, AT_CLEAR_PROVIDER);
            con_clear_arg(&cl, c->id);
            snprintf(cl.label, sizeof cl.label, _("all affinities of provider %s (%s)"), c->label, c->id);
            con_clear_ask(app, &cl, _("Clear this provider's affinities"));
        } else if (st->kind == G_USER && req != REQ_CLEAR_PROVIDER) {
            con_clear_init(&cl, AT_CLEAR_API_KEYS);
            cl.resolve_user = strdup(c->id);
            snprintf(cl.label, sizeof cl.label, _("all affinities of every API key of user %s (%s)"), c->label, c->id);
            con_clear_ask(app, &cl, _("Clear this user's affinities"));
        } else {
            con_message(app, true, _("No clear for this grouping; open the group (Enter) and clear rows there."));
        }
        return true;
    }
    default:
        if (!con_list_move(cur, n, st->page, req)) return false;
    }
    remember(st, l);
    app->dirty = true;
    return true;
}

static void grp_destroy(con_view *v)
{
    grp_state *st = v->state;
    for (int k = 0; k < G__N; k++) free(st->cur_id[k]);
    free(st);
    free(v);
}

con_view *con_view_groups_new(void)
{
    grp_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    return con_view_make((con_view){.name = N_("Groups"), .draw = grp_draw, .handle = grp_handle, .destroy = grp_destroy, .state = st});
}
