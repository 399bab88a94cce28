/* view_affinities.c — the main view: the enriched affinity rows of the
 * reference's list, filtered with the core's keyword rules (at_keyword_*
 * + at_query_filter, live rows only) and sorted with at_query_sort. It keeps
 * the selection on the same affinity (by Redis key) across refreshes and
 * re-sorts, drops rows as their TTL runs out, pages with a position line,
 * and starts the clears that apply to a row. */
#include "con.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- columns ------------------------------------------------------------------ */

enum { C_USER, C_KEYNAME, C_KEYMASK, C_PROVIDER, C_EPFORMAT, C_PKEYNAME, C_PKEYMASK, C_MODEL,
       C_APIFMT, C_REQS, C_TTL, C_CREATED, C__N };

typedef struct {
    const char *title;
    int min_w, max_w;
    int prio;              /* lower = shown first when the screen is narrow */
    int sort;              /* at_column or -1 */
    bool right;
} col_def;

static const col_def columns[C__N] = {
    [C_USER] = {"USER", 12, 24, 1, AT_COL_USER, false},
    [C_KEYNAME] = {"KEY NAME", 10, 20, 3, AT_COL_KEY_NAME, false},
    [C_KEYMASK] = {"USER KEY", 20, 20, 7, -1, false},
    [C_PROVIDER] = {"PROVIDER", 12, 22, 1, AT_COL_PROVIDER, false},
    [C_EPFORMAT] = {"ENDPOINT", 8, 12, 5, AT_COL_ENDPOINT_FORMAT, false},
    [C_PKEYNAME] = {"PROV KEY", 10, 20, 4, AT_COL_PROVIDER_KEY, false},
    [C_PKEYMASK] = {"PROVIDER KEY", 20, 20, 8, -1, false},
    [C_MODEL] = {"MODEL", 14, 30, 1, AT_COL_MODEL, false},
    [C_APIFMT] = {"FORMAT", 8, 12, 2, AT_COL_API_FORMAT, false},
    [C_REQS] = {"REQS", 5, 8, 1, AT_COL_REQUESTS, true},
    [C_TTL] = {"TTL", 6, 7, 0, AT_COL_EXPIRE_AT, true},
    [C_CREATED] = {"CREATED", 8, 8, 2, AT_COL_CREATED_AT, true},
};

/* Sortable columns in the order `>` walks them, with their menu names. */
static const at_column sort_order[] = {AT_COL_EXPIRE_AT, AT_COL_USER, AT_COL_KEY_NAME, AT_COL_PROVIDER,
                                       AT_COL_ENDPOINT_FORMAT, AT_COL_PROVIDER_KEY, AT_COL_MODEL,
                                       AT_COL_API_FORMAT, AT_COL_REQUESTS, AT_COL_CREATED_AT};
static const char *const sort_names[] = {"TTL (expire_at)", "user", "key name", "provider", "endpoint format",
                                         "provider key", "model", "api format", "requests", "created"};
#define N_SORT ((int)(sizeof sort_order / sizeof sort_order[0]))

int con_aff_sort_columns(const at_column **cols, const char *const **names)
{
    *cols = sort_order;
    *names = sort_names;
    return N_SORT;
}

static const char *sort_name(at_column c)
{
    for (int i = 0; i < N_SORT; i++)
        if (sort_order[i] == c) return sort_names[i];
    return at_column_name(c);
}

/* ---- row labels (shared with the detail and group views) ----------------------- */

const char *con_row_user(const at_snapshot *s, const at_affinity *a)
{
    const at_user *u = at_row_user(s, a);
    if (u && u->username) return u->username;
    const at_api_key *k = at_row_api_key(s, a);
    if (k && k->user_id) return k->user_id;
    return a->affinity_key ? a->affinity_key : "-";
}

const char *con_row_provider(const at_snapshot *s, const at_affinity *a)
{
    const at_provider *p = at_row_provider(s, a);
    if (p && p->display_name && *p->display_name) return p->display_name;
    if (p && p->name) return p->name;
    return a->provider_id ? a->provider_id : "-";
}

const char *con_row_model(const at_snapshot *s, const at_affinity *a)
{
    const at_global_model *g = at_row_global_model(s, a);
    if (g && g->display_name && *g->display_name) return g->display_name;
    const char *l = at_row_model_label(s, a);
    return l ? l : "-";
}

/* ---- state ------------------------------------------------------------------------ */

typedef struct {
    char search[512];          /* typed text, resolved locally on every snapshot */
    at_keyword kw;             /* the keyword in force */
    bool has_kw;
    bool kw_fixed;             /* from :user: resolved in PostgreSQL, kept as is */
    char *nar_user, *nar_provider, *nar_model;
    char nar_label[256];
    at_sort sort;

    at_selection sel;
    con_snap *sel_snap;        /* the snapshot sel indexes into (a reference) */
    bool dirty;
    bool new_filter;           /* the filter changed: a lost selection goes to the top */
    double next_expiry;        /* wall time the first listed row expires */

    size_t cur, top;
    char *cur_key;             /* Redis key of the selected row */
    int page;                  /* rows visible at the last draw */
    int skip;                  /* columns scrolled off to the left */
    bool hidden;               /* some columns did not fit at the last draw */
} aff_state;

static aff_state *state_of(con_app *app)
{
    return app->views[VIEW_AFFINITIES]->state;
}

static void set_cur_key(aff_state *st, const char *key)
{
    if (st->cur_key && key && strcmp(st->cur_key, key) == 0) return;
    free(st->cur_key);
    st->cur_key = key ? strdup(key) : NULL;
}

/* Bring the selection up to date with the snapshot, filter and clock. */
static void sync(con_app *app, aff_state *st)
{
    if (!app->snap) return;
    bool expired = !app->paused && app->now >= st->next_expiry;
    if (st->sel_snap == app->snap && !st->dirty && !expired) return;
    const at_snapshot *s = app->snap->snap;

    /* Only time passed: narrow the current (sorted) rows. A new snapshot
       or filter: filter the worker's pre-sorted rows, which keeps their
       order, and sort here only when the worker sorted another way. */
    bool only_time = st->sel_snap == app->snap && !st->dirty;
    if (st->search[0] && !st->kw_fixed && !only_time) {
        at_keyword_free(&st->kw);
        at_keyword_resolve_local(s, st->search, &st->kw);
        st->has_kw = true;
    }
    size_t offset = st->cur >= st->top ? st->cur - st->top : 0;
    bool presorted = app->snap->order_sort.col == st->sort.col &&
                     app->snap->order_sort.descending == st->sort.descending;
    at_filter f = {
        .keyword = st->has_kw ? &st->kw : NULL,
        .live_only = true,
        .now = app->now,
        .within = only_time ? &st->sel : presorted ? &app->snap->order : NULL,
        .user_id = st->nar_user,
        .provider_id = st->nar_provider,
        .model_name = st->nar_model,
    };
    at_selection fresh;
    at_query_filter(s, &f, &fresh);
    if (!only_time && !presorted) at_query_sort(s, &fresh, st->sort);
    at_selection_free(&st->sel);
    st->sel = fresh;
    con_snap_unref(st->sel_snap);
    st->sel_snap = con_snap_ref(app->snap);
    st->dirty = false;

    st->next_expiry = INFINITY;
    for (size_t i = 0; i < st->sel.n; i++) {
        double e = s->rows[st->sel.idx[i]].expire_at;
        if (!isnan(e) && e < st->next_expiry) st->next_expiry = e;
    }
    /* the same affinity stays selected, on the same screen line */
    bool found = false;
    if (st->cur_key) {
        for (size_t i = 0; i < st->sel.n; i++) {
            if (strcmp(s->rows[st->sel.idx[i]].redis_key, st->cur_key) == 0) {
                st->cur = i;
                found = true;
                break;
            }
        }
    }
    if (!found && st->new_filter) st->cur = offset = 0;
    if (!found && st->cur >= st->sel.n) st->cur = st->sel.n ? st->sel.n - 1 : 0;
    st->top = st->cur >= offset ? st->cur - offset : 0;
    st->new_filter = false;
    set_cur_key(st, st->sel.n ? s->rows[st->sel.idx[st->cur]].redis_key : NULL);
}

const at_affinity *con_aff_selected(con_app *app)
{
    aff_state *st = state_of(app);
    sync(app, st);
    if (!st->sel_snap || !st->sel.n) return NULL;
    return &st->sel_snap->snap->rows[st->sel.idx[st->cur]];
}

void con_aff_search(con_app *app, const char *text)
{
    aff_state *st = state_of(app);
    snprintf(st->search, sizeof st->search, "%s", text);
    at_keyword_free(&st->kw);
    st->has_kw = false;
    st->kw_fixed = false;
    st->dirty = st->new_filter = true;
    app->dirty = true;
}

void con_aff_set_keyword(con_app *app, at_keyword *kw)
{
    aff_state *st = state_of(app);
    at_keyword_free(&st->kw);
    st->kw = *kw;
    memset(kw, 0, sizeof *kw);
    st->has_kw = true;
    st->kw_fixed = true;
    snprintf(st->search, sizeof st->search, "%s", st->kw.keyword ? st->kw.keyword : "");
    st->dirty = st->new_filter = true;
    app->dirty = true;
}

static void replace(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? strdup(src) : NULL;
}

void con_aff_narrow(con_app *app, const char *user_id, const char *provider_id, const char *model_name,
                    const char *label)
{
    aff_state *st = state_of(app);
    replace(&st->nar_user, user_id);
    replace(&st->nar_provider, provider_id);
    replace(&st->nar_model, model_name);
    snprintf(st->nar_label, sizeof st->nar_label, "%s", label ? label : "");
    st->dirty = st->new_filter = true;
    app->dirty = true;
}

at_sort con_aff_sort_get(con_app *app)
{
    return state_of(app)->sort;
}

void con_aff_sort_set(con_app *app, at_sort sort)
{
    aff_state *st = state_of(app);
    st->sort = sort;
    st->dirty = true;
    app->dirty = true;
    con_worker_set_sort(app->worker, sort);
}

/* ---- drawing ------------------------------------------------------------------------ */

/* Which columns fit in `cols` cells, and how wide each is (0 = hidden).
 * The first `skip` columns are scrolled off to the left (Left/Right). */
static void layout(int cols, int skip, int width[C__N])
{
    int used = 0;
    for (int c = 0; c < C__N; c++) width[c] = 0;
    for (int p = 0; p <= 8; p++) {
        for (int c = skip; c < C__N; c++) {
            if (columns[c].prio != p) continue;
            int need = columns[c].min_w + 1;
            if (used + need <= cols) {
                width[c] = columns[c].min_w;
                used += need;
            }
        }
    }
    /* share what is left among the text columns that can grow */
    int spare = cols - used;
    while (spare > 0) {
        bool grew = false;
        for (int c = 0; c < C__N && spare > 0; c++) {
            if (width[c] && width[c] < columns[c].max_w) {
                width[c]++;
                spare--;
                grew = true;
            }
        }
        if (!grew) break;
    }
}

static void cell_text(con_app *app, const at_snapshot *s, const at_affinity *a, int c, char *out, size_t outlen,
                      bool *expiring)
{
    const at_api_key *k;
    const at_provider_key *pk;
    const at_endpoint *e;
    switch (c) {
    case C_USER: snprintf(out, outlen, "%s", con_row_user(s, a)); break;
    case C_KEYNAME: k = at_row_api_key(s, a); snprintf(out, outlen, "%s", k && k->name ? k->name : "-"); break;
    case C_KEYMASK: k = at_row_api_key(s, a); snprintf(out, outlen, "%s", k && k->masked ? k->masked : "-"); break;
    case C_PROVIDER: snprintf(out, outlen, "%s", con_row_provider(s, a)); break;
    case C_EPFORMAT: e = at_row_endpoint(s, a); snprintf(out, outlen, "%s", e && e->api_format ? e->api_format : "-"); break;
    case C_PKEYNAME: pk = at_row_provider_key(s, a); snprintf(out, outlen, "%s", pk && pk->name ? pk->name : (a->key_id ? a->key_id : "-")); break;
    case C_PKEYMASK: pk = at_row_provider_key(s, a); snprintf(out, outlen, "%s", pk && pk->masked ? pk->masked : "-"); break;
    case C_MODEL: snprintf(out, outlen, "%s", con_row_model(s, a)); break;
    case C_APIFMT: snprintf(out, outlen, "%s", a->api_format ? a->api_format : "-"); break;
    case C_REQS: snprintf(out, outlen, "%lld", (long long)a->request_count); break;
    case C_TTL: {
        if (isnan(a->expire_at)) { snprintf(out, outlen, "-"); break; }
        double left = a->expire_at - app->now;
        if (left <= 0) snprintf(out, outlen, "expired");
        else con_fmt_dur(ceil(left), out, outlen);
        *expiring = left < 30;
        break;
    }
    case C_CREATED: con_fmt_time(a->created_at, false, out, outlen); break;
    default: out[0] = '\0';
    }
}

static void draw_header_row(con_app *app, aff_state *st, int y, const int width[C__N])
{
    con_fill(y, 0, app->cols, TH_TABLE_HEADER);
    int x = 0;
    for (int c = 0; c < C__N; c++) {
        if (!width[c]) continue;
        char t[48];
        bool sorted = columns[c].sort >= 0 && (at_column)columns[c].sort == st->sort.col;
        snprintf(t, sizeof t, "%s%s", columns[c].title,
                 sorted ? (st->sort.descending ? con_sym(app, "\xe2\x96\xbc", "v") : con_sym(app, "\xe2\x96\xb2", "^")) : "");
        con_put(y, x, width[c], t, sorted ? TH_TABLE_SORTED : TH_TABLE_HEADER, columns[c].right);
        x += width[c] + 1;
    }
}

static void draw_position(con_app *app, aff_state *st, int y)
{
    con_fill(y, 0, app->cols, TH_POSITION);
    char line[1024];
    char a[32], b[32], n[32];
    size_t total = st->sel.n;
    size_t page = st->page > 0 ? (size_t)st->page : 1;
    size_t first = total ? st->top + 1 : 0;
    size_t last = st->top + page < total ? st->top + page : total;
    con_fmt_int((long long)first, a, sizeof a);
    con_fmt_int((long long)last, b, sizeof b);
    con_fmt_int((long long)total, n, sizeof n);
    const char *dot = con_sym(app, "\xc2\xb7", "|");
    size_t pages = total ? (total + page - 1) / page : 1;
    size_t pg = total ? (st->cur / page) + 1 : 1;
    int o = snprintf(line, sizeof line, " rows %s%s%s of %s %s page %zu/%zu %s sort %s%s", a,
                     con_sym(app, "\xe2\x80\x93", "-"), b, n, dot, pg, pages, dot, sort_name(st->sort.col),
                     st->sort.descending ? con_sym(app, " \xe2\x96\xbc", " desc") : con_sym(app, " \xe2\x96\xb2", " asc"));
    if (st->has_kw && st->kw.kind != AT_MATCH_ALL && o > 0 && (size_t)o < sizeof line) {
        const char *how = st->kw.kind == AT_MATCH_API_KEY ? "API key" : st->kw.kind == AT_MATCH_USER ? "user" : "text";
        o += snprintf(line + o, sizeof line - (size_t)o, " %s search \"%s\" (%s)", dot, st->search, how);
    }
    if (st->nar_label[0] && o > 0 && (size_t)o < sizeof line)
        o += snprintf(line + o, sizeof line - (size_t)o, " %s %s", dot, st->nar_label);
    if (st->hidden && o > 0 && (size_t)o < sizeof line)
        snprintf(line + o, sizeof line - (size_t)o, " %s %s more columns", dot,
                 st->skip ? con_sym(app, "\xe2\x86\x90/\xe2\x86\x92", "Left/Right") : con_sym(app, "\xe2\x86\x92", "Right"));
    con_put(y, 0, app->cols, line, TH_POSITION, false);
}

static void aff_draw(con_app *app, con_view *v, int y, int h)
{
    aff_state *st = v->state;
    if (app->stats_pane) {
        int ph = con_stats_pane_height(app);
        if (ph > h - 6) ph = h - 6;
        if (ph > 0) {
            con_stats_pane_draw(app, y, ph);
            y += ph;
            h -= ph;
        }
    }
    if (!app->snap) {
        char msg[600];
        snprintf(msg, sizeof msg, " %s",
                 app->st.redis_error[0] ? app->st.redis_error : "Loading affinities from Redis...");
        con_put(y + 1, 0, app->cols, msg, app->st.redis_error[0] ? TH_STATUS_ERROR : TH_NORMAL, false);
        return;
    }
    sync(app, st);
    const at_snapshot *s = st->sel_snap->snap;
    int width[C__N];
    layout(app->cols, st->skip, width);
    st->hidden = st->skip > 0;
    for (int c = 0; c < C__N; c++) if (!width[c] && c >= st->skip) st->hidden = true;
    draw_header_row(app, st, y, width);
    int rows = h - 2;
    if (rows < 1) rows = 1;
    st->page = rows;
    /* keep the cursor visible */
    if (st->cur < st->top) st->top = st->cur;
    if (st->cur >= st->top + (size_t)rows) st->top = st->cur - (size_t)rows + 1;
    if (st->top + (size_t)rows > st->sel.n) st->top = st->sel.n > (size_t)rows ? st->sel.n - (size_t)rows : 0;
    for (int r = 0; r < rows; r++) {
        size_t i = st->top + (size_t)r;
        if (i >= st->sel.n) break;
        const at_affinity *a = &s->rows[st->sel.idx[i]];
        bool selected = i == st->cur;
        con_element base = selected ? TH_ROW_SELECTED : TH_ROW;
        if (selected) con_fill(y + 1 + r, 0, app->cols, base);
        int x = 0;
        for (int c = 0; c < C__N; c++) {
            if (!width[c]) continue;
            char text[512];
            bool expiring = false;
            cell_text(app, s, a, c, text, sizeof text, &expiring);
            con_put(y + 1 + r, x, width[c], text, expiring && !selected ? TH_ROW_EXPIRING : base, columns[c].right);
            x += width[c] + 1;
        }
    }
    if (!st->sel.n) {
        const char *why = st->search[0] || st->nar_label[0] ? "No affinity matches the filter (Esc clears it)."
                                                           : "No live cache affinities in Redis.";
        con_text(y + 2, 2, app->cols - 4, why, TH_POSITION);
    }
    draw_position(app, st, y + h - 1);
}

/* ---- requests ------------------------------------------------------------------------- */

static void move_to(aff_state *st, long long to)
{
    if (!st->sel.n) return;
    if (to < 0) to = 0;
    if (to >= (long long)st->sel.n) to = (long long)st->sel.n - 1;
    st->cur = (size_t)to;
    const at_snapshot *s = st->sel_snap->snap;
    set_cur_key(st, s->rows[st->sel.idx[st->cur]].redis_key);
}

static void sort_step(con_app *app, aff_state *st, int dir)
{
    int i = 0;
    for (int k = 0; k < N_SORT; k++)
        if (sort_order[k] == st->sort.col) i = k;
    i = (i + dir + N_SORT) % N_SORT;
    at_column c = sort_order[i];
    con_aff_sort_set(app, (at_sort){c, c == AT_COL_EXPIRE_AT || c == AT_COL_REQUESTS || c == AT_COL_CREATED_AT});
}

static void copy_ids(con_app *app, const at_snapshot *s, const at_affinity *a)
{
    const at_api_key *k = at_row_api_key(s, a);
    char text[2048];
    snprintf(text, sizeof text,
             "redis_key=%s\naffinity_key=%s\nuser_id=%s\nprovider_id=%s\nendpoint_id=%s\nkey_id=%s\n"
             "model=%s\napi_format=%s\n",
             a->redis_key, a->affinity_key ? a->affinity_key : "", k && k->user_id ? k->user_id : "",
             a->provider_id ? a->provider_id : "", a->endpoint_id ? a->endpoint_id : "",
             a->key_id ? a->key_id : "", a->model_name ? a->model_name : "", a->api_format ? a->api_format : "");
    /* only printable text leaves: strip anything a terminal could act on */
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n') *p = '?';
    char err[128];
    if (con_clipboard_copy(text, err, sizeof err) < 0) con_message(app, true, "Copy failed: %s", err);
    else con_message(app, false, "Copied the ids of the selected affinity to the clipboard (OSC 52).");
}

static void ask_clear(con_app *app, con_request req, const at_snapshot *s, const at_affinity *a)
{
    con_clear c;
    const at_api_key *k = at_row_api_key(s, a);
    switch (req) {
    case REQ_CLEAR_ONE:
        if (!a->endpoint_id) {
            con_message(app, true, "This affinity has no endpoint_id; clear it with :clear key or :clear user.");
            return;
        }
        con_clear_init(&c, AT_CLEAR_AFFINITY);
        con_clear_arg(&c, a->affinity_key);
        con_clear_arg(&c, a->endpoint_id);
        con_clear_arg(&c, a->model_name ? a->model_name : "");
        con_clear_arg(&c, a->api_format ? a->api_format : "");
        snprintf(c.label, sizeof c.label, "the affinity of %s / %s -> %s, model %s (%s)", con_row_user(s, a),
                 k && k->name ? k->name : a->affinity_key, con_row_provider(s, a), con_row_model(s, a),
                 a->redis_key);
        con_clear_ask(app, &c, "Clear this affinity");
        return;
    case REQ_CLEAR_USER: {
        const char *uid = k && k->user_id ? k->user_id : NULL;
        con_clear_init(&c, AT_CLEAR_API_KEYS);
        /* all of the user's API keys, resolved on the worker (PostgreSQL) */
        c.resolve_user = strdup(uid ? uid : a->affinity_key);
        snprintf(c.label, sizeof c.label, "all affinities of every API key of user %s (user id %s)",
                 con_row_user(s, a), uid ? uid : "unknown: via this API key");
        con_clear_ask(app, &c, "Clear this user's affinities");
        return;
    }
    case REQ_CLEAR_KEY:
        con_clear_init(&c, AT_CLEAR_API_KEYS);
        con_clear_arg(&c, a->affinity_key);
        snprintf(c.label, sizeof c.label, "all affinities of API key %s (%s) of user %s",
                 k && k->name ? k->name : "?", a->affinity_key, con_row_user(s, a));
        con_clear_ask(app, &c, "Clear this API key's affinities");
        return;
    case REQ_CLEAR_PROVIDER:
        if (!a->provider_id) {
            con_message(app, true, "This affinity has no provider_id.");
            return;
        }
        con_clear_init(&c, AT_CLEAR_PROVIDER);
        con_clear_arg(&c, a->provider_id);
        snprintf(c.label, sizeof c.label, "all affinities of provider %s (%s)", con_row_provider(s, a), a->provider_id);
        con_clear_ask(app, &c, "Clear this provider's affinities");
        return;
    default:
        return;
    }
}

static bool aff_handle(con_app *app, con_view *v, con_request req)
{
    aff_state *st = v->state;
    sync(app, st);
    long long page = st->page > 0 ? st->page : 1;
    const at_snapshot *s = st->sel_snap ? st->sel_snap->snap : NULL;
    const at_affinity *a = s && st->sel.n ? &s->rows[st->sel.idx[st->cur]] : NULL;
    switch (req) {
    case REQ_UP: move_to(st, (long long)st->cur - 1); break;
    case REQ_DOWN: move_to(st, (long long)st->cur + 1); break;
    case REQ_PAGE_UP:
        move_to(st, (long long)st->cur - page);
        st->top = st->top > (size_t)page ? st->top - (size_t)page : 0;
        break;
    case REQ_PAGE_DOWN:
        move_to(st, (long long)st->cur + page);
        if (st->top + (size_t)page < st->sel.n) st->top += (size_t)page;
        break;
    case REQ_HOME: move_to(st, 0); break;
    case REQ_END: move_to(st, (long long)st->sel.n - 1); break;
    case REQ_LEFT: if (st->skip > 0) st->skip--; break;
    case REQ_RIGHT: if (st->skip < C_TTL && st->hidden) st->skip++; break;
    case REQ_SORT_NEXT: sort_step(app, st, 1); break;
    case REQ_SORT_PREV: sort_step(app, st, -1); break;
    case REQ_SORT_INVERT:
        con_aff_sort_set(app, (at_sort){st->sort.col, !st->sort.descending});
        break;
    case REQ_SORT_MENU: con_sort_menu_open(app); break;
    case REQ_SEARCH:
        app->mode = MODE_SEARCH;
        if (st->kw_fixed) { st->kw_fixed = false; st->search[0] = '\0'; at_keyword_free(&st->kw); st->has_kw = false; st->dirty = true; }
        con_line_set(&app->line, st->search);
        break;
    case REQ_ENTER:
        if (!a) return true;
        con_detail_open(app, a->redis_key);
        break;
    case REQ_BACK:
        if (st->search[0] || st->has_kw) {
            con_aff_search(app, "");
            con_message(app, false, "Search cleared.");
        } else if (st->nar_label[0]) {
            con_aff_narrow(app, NULL, NULL, NULL, NULL);
            con_message(app, false, "Showing all affinities.");
        }
        break;
    case REQ_COPY:
        if (a) copy_ids(app, s, a);
        break;
    case REQ_CLEAR_ONE: case REQ_CLEAR_USER: case REQ_CLEAR_KEY: case REQ_CLEAR_PROVIDER:
        if (!a) {
            con_message(app, true, "No row selected.");
            break;
        }
        ask_clear(app, req, s, a);
        break;
    default:
        return false;
    }
    app->dirty = true;
    return true;
}

static void aff_destroy(con_view *v)
{
    aff_state *st = v->state;
    at_keyword_free(&st->kw);
    at_selection_free(&st->sel);
    con_snap_unref(st->sel_snap);
    free(st->cur_key);
    free(st->nar_user);
    free(st->nar_provider);
    free(st->nar_model);
    free(st);
    free(v);
}

con_view *con_view_affinities_new(void)
{
    con_view *v = calloc(1, sizeof *v);
    aff_state *st = calloc(1, sizeof *st);
    if (!v || !st) abort();
    st->sort = AT_SORT_DEFAULT;
    st->next_expiry = INFINITY;
    v->name = "Affinities";
    v->draw = aff_draw;
    v->handle = aff_handle;
    v->destroy = aff_destroy;
    v->state = st;
    return v;
}
