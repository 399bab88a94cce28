/* view_affinities.c — the main view: the enriched affinity rows of the
 * reference's list, filtered with the core's keyword rules (at_keyword_*
 * + at_query_filter, live rows only) and sorted with at_query_sort. It keeps
 * the selection on the same affinity (by Redis key) across refreshes and
 * re-sorts, drops rows as their TTL runs out, pages with a position line,
 * and starts the clears that apply to a row. Issue 6: the HIT 1h column (the
 * row's user's token hit rate from the usage table, `!` when the user has
 * affinities but no cache reads), the column set of the config file, and
 * exporting every row shown (e) on the worker. */
#include "con.h"

#include "aethertop/console.h"
#include "aethertop/export.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- columns ------------------------------------------------------------------ */

enum { C_USER, C_KEYNAME, C_KEYMASK, C_PROVIDER, C_EPFORMAT, C_PKEYNAME, C_PKEYMASK, C_MODEL,
       C_APIFMT, C_REQS, C_HIT, C_TTL, C_CREATED, C__N };

typedef struct {
    const char *id;        /* its name in the config file's column set */
    const char *title;     /* untranslated */
    int min_w, max_w;
    int prio;              /* lower = shown first when the screen is narrow */
    int sort;              /* at_column or -1 */
    bool right;
} col_def;

static const col_def columns[C__N] = {
    [C_USER] = {"user", N_("USER"), 12, 24, 1, AT_COL_USER, false},
    [C_KEYNAME] = {"key_name", N_("KEY NAME"), 10, 20, 3, AT_COL_KEY_NAME, false},
    [C_KEYMASK] = {"user_key", N_("USER KEY"), 20, 20, 7, -1, false},
    [C_PROVIDER] = {"provider", N_("PROVIDER"), 12, 22, 1, AT_COL_PROVIDER, false},
    [C_EPFORMAT] = {"endpoint", N_("ENDPOINT"), 8, 12, 5, AT_COL_ENDPOINT_FORMAT, false},
    [C_PKEYNAME] = {"prov_key", N_("PROV KEY"), 10, 20, 4, AT_COL_PROVIDER_KEY, false},
    [C_PKEYMASK] = {"provider_key", N_("PROVIDER KEY"), 20, 20, 8, -1, false},
    [C_MODEL] = {"model", N_("MODEL"), 14, 30, 1, AT_COL_MODEL, false},
    [C_APIFMT] = {"format", N_("FORMAT"), 8, 12, 2, AT_COL_API_FORMAT, false},
    [C_REQS] = {"reqs", N_("REQS"), 5, 8, 1, AT_COL_REQUESTS, true},
    [C_HIT] = {"hit", N_("HIT 1h"), 6, 6, 1, -1, true},
    [C_TTL] = {"ttl", N_("TTL"), 6, 7, 0, AT_COL_EXPIRE_AT, true},
    [C_CREATED] = {"created", N_("CREATED"), 8, 8, 2, AT_COL_CREATED_AT, true},
};

/* ---- the column set ([console] columns = user, provider, ...) ------------------- */

/* Parse "a, b c" into column ids; returns the count or -1 (err). */
static int parse_columns(const char *spec, int out[C__N], char *err, size_t errlen)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *w = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p)) p++;
        size_t len = (size_t)(p - w);
        int found = -1;
        for (int c = 0; c < C__N; c++)
            if (strlen(columns[c].id) == len && strncasecmp(columns[c].id, w, len) == 0) found = c;
        if (found < 0) {
            char names[256];
            size_t l = 0;
            for (int c = 0; c < C__N && l < sizeof names; c++)
                l += (size_t)snprintf(names + l, sizeof names - l, "%s%s", c ? ", " : "", columns[c].id);
            snprintf(err, errlen, _("columns: unknown column \"%.*s\" (columns: %s)"), (int)(len > 40 ? 40 : len), w,
                     names);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if (out[k] == found) {
                snprintf(err, errlen, _("columns: \"%s\" given twice"), columns[found].id);
                return -1;
            }
        out[n++] = found;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s", _("columns: no column given"));
        return -1;
    }
    return n;
}

int at_console_columns_check(const char *spec, char *err, size_t errlen)
{
    int ids[C__N];
    return parse_columns(spec, ids, err, errlen) < 0 ? -1 : 0;
}

/* Sortable columns in the order `>` walks them, with their menu names. */
static const at_column sort_order[] = {AT_COL_EXPIRE_AT, AT_COL_USER, AT_COL_KEY_NAME, AT_COL_PROVIDER,
                                       AT_COL_ENDPOINT_FORMAT, AT_COL_PROVIDER_KEY, AT_COL_MODEL,
                                       AT_COL_API_FORMAT, AT_COL_REQUESTS, AT_COL_CREATED_AT};
static const char *const sort_names[] = {N_("TTL (expire_at)"), N_("user"), N_("key name"), N_("provider"),
                                         N_("endpoint format"), N_("provider key"), N_("model"), N_("api format"),
                                         N_("requests"), N_("created")};
#define N_SORT ((int)(sizeof sort_order / sizeof sort_order[0]))

int con_aff_sort_columns(const at_column **cols, const char *const **names)
{
    *cols = sort_order;
    *names = sort_names;
    return N_SORT;
}

bool con_aff_sort_lookup(const char *word, at_column *col, const char **menu_name)
{
    for (int i = 0; i < N_SORT; i++) {
        bool hit = strcasecmp(word, sort_names[i]) == 0 || strcasecmp(word, at_column_name(sort_order[i])) == 0;
        for (int c = 0; c < C__N && !hit; c++)
            hit = columns[c].sort == (int)sort_order[i] && strcasecmp(word, columns[c].id) == 0;
        if (hit) {
            *col = sort_order[i];
            *menu_name = sort_names[i];
            return true;
        }
    }
    return false;
}

void con_aff_sort_known(char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < N_SORT; i++)
        for (int c = 0; c < C__N; c++)
            if (columns[c].sort == (int)sort_order[i] && o < outlen) {
                int w = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", columns[c].id);
                if (w > 0) o += (size_t)w;
            }
}

static const char *sort_name(at_column c)
{
    for (int i = 0; i < N_SORT; i++)
        if (sort_order[i] == c) return _(sort_names[i]);
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
    bool kw_fixed;             /* resolved in PostgreSQL (:user, or the search on
                                  Enter), kept as is */
    bool kw_from_search;       /* ... from the search's own text: / edits it */
    unsigned resolve_job;      /* the search's PostgreSQL lookup in flight */
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
    bool pin_top;              /* the first row was selected when last drawn */
    int page;                  /* rows visible at the last draw */
    int skip;                  /* columns scrolled off to the left */
    bool hidden;               /* some columns did not fit at the last draw */
    int order[C__N];           /* the columns shown, in order */
    int n_order;
    unsigned export_job;       /* the export in flight, 0 when none */
} aff_state;

static aff_state *state_of(con_app *app)
{
    return app->views[VIEW_AFFINITIES]->state;
}

int con_aff_set_columns(con_app *app, const char *spec, char *err, size_t errlen)
{
    aff_state *st = state_of(app);
    int ids[C__N];
    int n = parse_columns(spec, ids, err, errlen);
    if (n < 0) return -1;
    memcpy(st->order, ids, sizeof ids);
    st->n_order = n;
    st->skip = 0;
    app->dirty = true;
    return 0;
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
    /* the same affinity stays selected, on the same screen line (the first
       row is kept at the top by aff_draw, see pin_top) */
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
    st->kw_fixed = st->kw_from_search = false;
    st->resolve_job = 0;
    st->dirty = st->new_filter = true;
    app->dirty = true;
}

enum { PURPOSE_SEARCH = 3 };

/* Enter on a search: while typing, the keyword is read against the loaded
 * data only (instant); now it is also looked up in PostgreSQL as the
 * reference does, which knows every user and API key, also those with no
 * affinity loaded (a user with none shows none, not a substring match). */
void con_aff_search_commit(con_app *app)
{
    aff_state *st = state_of(app);
    if (!st->search[0] || st->kw_fixed) return;
    con_job *j = con_job_new(CON_JOB_RESOLVE);
    j->purpose = PURPOSE_SEARCH;
    j->text = strdup(st->search);
    st->resolve_job = con_worker_post(app->worker, j);
}

bool con_aff_search_job_done(con_app *app, con_job *j)
{
    if (j->purpose != PURPOSE_SEARCH || j->kind != CON_JOB_RESOLVE) return false;
    aff_state *st = state_of(app);
    /* a newer search, or PostgreSQL could not answer: the local reading stays */
    if (j->id != st->resolve_job || !j->text || strcmp(j->text, st->search) != 0) return true;
    st->resolve_job = 0;
    if (j->rc < 0 || (j->kw.kind != AT_MATCH_USER && j->kw.kind != AT_MATCH_API_KEY)) return true;
    at_keyword_free(&st->kw);
    st->kw = j->kw;
    memset(&j->kw, 0, sizeof j->kw);
    st->has_kw = st->kw_fixed = st->kw_from_search = true;
    st->dirty = st->new_filter = true;
    app->dirty = true;
    return true;
}

void con_aff_set_keyword(con_app *app, at_keyword *kw)
{
    aff_state *st = state_of(app);
    at_keyword_free(&st->kw);
    st->kw = *kw;
    memset(kw, 0, sizeof *kw);
    st->has_kw = true;
    st->kw_fixed = true;
    st->kw_from_search = false;
    st->resolve_job = 0;
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
static void layout(const aff_state *st, int cols, int width[C__N])
{
    int used = 0;
    for (int c = 0; c < C__N; c++) width[c] = 0;
    for (int p = 0; p <= 8; p++) {
        for (int k = st->skip; k < st->n_order; k++) {
            int c = st->order[k];
            if (columns[c].prio != p) continue;
            int need = columns[c].min_w + 1;
            if (used + need <= cols) {
                width[c] = columns[c].min_w;
                used += need;
            }
        }
    }
    /* share what is left among the columns that can grow: the text
       columns first (names get cut otherwise), then the numbers */
    int spare = cols - used;
    for (int numbers = 0; numbers < 2 && spare > 0; numbers++) {
        while (spare > 0) {
            bool grew = false;
            for (int k = 0; k < st->n_order && spare > 0; k++) {
                int c = st->order[k];
                if (columns[c].right != (numbers == 1)) continue;
                if (width[c] && width[c] < columns[c].max_w) {
                    width[c]++;
                    spare--;
                    grew = true;
                }
            }
            if (!grew) break;
        }
    }
}

static void cell_text(con_app *app, const at_snapshot *s, const at_affinity *a, int c, char *out, size_t outlen,
                      bool *expiring, bool *nocache)
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
    case C_HIT: {
        /* the user's token hit rate over the last hour; `!` = affinities
           but no cache reads in that hour */
        k = at_row_api_key(s, a);
        const at_hits_row *h;
        int known = con_user_hits(app, k ? k->user_id : NULL, &h);
        char rate[32] = "-";
        if (known > 0 && h->token_hit_rate >= 0.9995) snprintf(rate, sizeof rate, "100%%");
        else if (known > 0) con_fmt_hit_rate(h->token_hit_rate, rate, sizeof rate);
        *nocache = known == 0 || (known > 0 && h->cache_read_tokens == 0 && h->cached_requests == 0);
        snprintf(out, outlen, "%s%5s", *nocache ? "!" : " ", rate);
        break;
    }
    case C_TTL: {
        if (isnan(a->expire_at)) { snprintf(out, outlen, "-"); break; }
        double left = a->expire_at - app->now;
        if (left <= 0) snprintf(out, outlen, "%s", _("expired"));
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
    for (int k = 0; k < st->n_order; k++) {
        int c = st->order[k];
        if (!width[c]) continue;
        char t[64];
        bool sorted = columns[c].sort >= 0 && (at_column)columns[c].sort == st->sort.col;
        snprintf(t, sizeof t, "%s%s", _(columns[c].title),
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
    int o = snprintf(line, sizeof line, _(" rows %s%s%s of %s %s page %zu/%zu %s sort %s%s"), a,
                     con_sym(app, "\xe2\x80\x93", "-"), b, n, dot, pg, pages, dot, sort_name(st->sort.col),
                     st->sort.descending ? con_sym(app, " \xe2\x96\xbc", " desc") : con_sym(app, " \xe2\x96\xb2", " asc"));
    if (st->has_kw && st->kw.kind != AT_MATCH_ALL && o > 0 && (size_t)o < sizeof line) {
        const char *how = st->kw.kind == AT_MATCH_API_KEY ? _("API key") : st->kw.kind == AT_MATCH_USER ? _("user") : _("text");
        o += snprintf(line + o, sizeof line - (size_t)o, _(" %s search \"%s\" (%s)"), dot, st->search, how);
    }
    if (st->nar_label[0] && o > 0 && (size_t)o < sizeof line)
        o += snprintf(line + o, sizeof line - (size_t)o, " %s %s", dot, st->nar_label);
    if (st->hidden && o > 0 && (size_t)o < sizeof line)
        snprintf(line + o, sizeof line - (size_t)o, _(" %s %s more columns"), dot,
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
                 app->st.redis_error[0] ? app->st.redis_error : _("Loading affinities from Redis..."));
        con_put(y + 1, 0, app->cols, msg, app->st.redis_error[0] ? TH_STATUS_ERROR : TH_NORMAL, false);
        return;
    }
    sync(app, st);
    const at_snapshot *s = st->sel_snap->snap;
    /* A selection on the first row stays there (the top of htop's list):
       under the default sort by time left every reused affinity moves to
       the top, and following the first row's affinity would scroll the top
       of the table away while nobody touches a key. Done here, when the
       rows are shown, so that a key pressed before this draw still acts on
       the affinity that was on the screen. */
    if (st->pin_top && st->cur != 0 && st->sel.n) {
        st->cur = st->top = 0;
        set_cur_key(st, s->rows[st->sel.idx[0]].redis_key);
    }
    st->pin_top = st->cur == 0;
    int width[C__N];
    layout(st, app->cols, width);
    st->hidden = st->skip > 0;
    for (int k = st->skip; k < st->n_order; k++) if (!width[st->order[k]]) st->hidden = true;
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
        for (int k = 0; k < st->n_order; k++) {
            int c = st->order[k];
            if (!width[c]) continue;
            char text[512];
            bool expiring = false, nocache = false;
            cell_text(app, s, a, c, text, sizeof text, &expiring, &nocache);
            con_element e = selected ? base : expiring ? TH_ROW_EXPIRING : nocache ? TH_ROW_NOCACHE : base;
            con_put(y + 1 + r, x, width[c], text, e, columns[c].right);
            x += width[c] + 1;
        }
    }
    if (!st->sel.n) {
        const char *why = st->search[0] || st->nar_label[0] ? _("No affinity matches the filter (Esc clears it).")
                                                           : _("No live cache affinities in Redis.");
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
    st->pin_top = false;       /* the next draw pins it again if it is 0 */
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
    if (con_clipboard_copy(text, err, sizeof err) < 0) con_message(app, true, _("Copy failed: %s"), err);
    else con_message(app, false, "%s", _("Copied the ids of the selected affinity to the clipboard (OSC 52)."));
}

static void ask_clear(con_app *app, con_request req, const at_snapshot *s, const at_affinity *a)
{
    con_clear c;
    const at_api_key *k = at_row_api_key(s, a);
    switch (req) {
    case REQ_CLEAR_ONE:
        if (!a->endpoint_id) {
            con_message(app, true, "%s", _("This affinity has no endpoint_id; clear it with :clear key or :clear user."));
            return;
        }
        con_clear_init(&c, AT_CLEAR_AFFINITY);
        con_clear_arg(&c, a->affinity_key);
        con_clear_arg(&c, a->endpoint_id);
        con_clear_arg(&c, a->model_name ? a->model_name : "");
        con_clear_arg(&c, a->api_format ? a->api_format : "");
        /* this row's own key: its value's format or model may differ from
         * the name's, and the name is what is deleted */
        con_clear_arg(&c, a->redis_key);
        snprintf(c.label, sizeof c.label, _("the affinity of %s / %s -> %s, model %s (%s)"), con_row_user(s, a),
                 k && k->name ? k->name : a->affinity_key, con_row_provider(s, a), con_row_model(s, a),
                 a->redis_key);
        con_clear_ask(app, &c, _("Clear this affinity"));
        return;
    case REQ_CLEAR_USER: {
        const char *uid = k && k->user_id ? k->user_id : NULL;
        con_clear_init(&c, AT_CLEAR_API_KEYS);
        /* all of the user's API keys, resolved on the worker (PostgreSQL) */
        c.resolve_user = strdup(uid ? uid : a->affinity_key);
        snprintf(c.label, sizeof c.label, _("all affinities of every API key of user %s (user id %s)"),
                 con_row_user(s, a), uid ? uid : _("unknown: via this API key"));
        con_clear_ask(app, &c, _("Clear this user's affinities"));
        return;
    }
    case REQ_CLEAR_KEY:
        con_clear_init(&c, AT_CLEAR_API_KEYS);
        con_clear_arg(&c, a->affinity_key);
        snprintf(c.label, sizeof c.label, _("all affinities of API key %s (%s) of user %s"),
                 k && k->name ? k->name : "?", a->affinity_key, con_row_user(s, a));
        con_clear_ask(app, &c, _("Clear this API key's affinities"));
        return;
    case REQ_CLEAR_PROVIDER:
        if (!a->provider_id) {
            con_message(app, true, "%s", _("This affinity has no provider_id."));
            return;
        }
        con_clear_init(&c, AT_CLEAR_PROVIDER);
        con_clear_arg(&c, a->provider_id);
        snprintf(c.label, sizeof c.label, _("all affinities of provider %s (%s)"), con_row_provider(s, a), a->provider_id);
        con_clear_ask(app, &c, _("Clear this provider's affinities"));
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
    case REQ_RIGHT: if (st->skip < st->n_order - 1 && st->hidden) st->skip++; break;
    case REQ_SORT_NEXT: sort_step(app, st, 1); break;
    case REQ_SORT_PREV: sort_step(app, st, -1); break;
    case REQ_SORT_INVERT:
        con_aff_sort_set(app, (at_sort){st->sort.col, !st->sort.descending});
        break;
    case REQ_SORT_MENU: con_sort_menu_open(app); break;
    case REQ_SEARCH:
        app->mode = MODE_SEARCH;
        if (st->kw_fixed) {
            /* a search's own lookup: edit its text; :user's: start afresh */
            if (!st->kw_from_search) st->search[0] = '\0';
            st->kw_fixed = st->kw_from_search = false;
            at_keyword_free(&st->kw);
            st->has_kw = false;
            st->dirty = true;
        }
        con_line_set(&app->line, st->search);
        break;
    case REQ_ENTER:
        if (!a) return true;
        con_detail_open(app, a->redis_key);
        break;
    case REQ_BACK:
        if (st->search[0] || st->has_kw) {
            con_aff_search(app, "");
            con_message(app, false, "%s", _("Search cleared."));
        } else if (st->nar_label[0]) {
            con_aff_narrow(app, NULL, NULL, NULL, NULL);
            con_message(app, false, "%s", _("Showing all affinities."));
        }
        break;
    case REQ_COPY:
        if (a) copy_ids(app, s, a);
        break;
    case REQ_EXPORT:
        con_export_prompt(app);
        break;
    case REQ_CLEAR_ONE: case REQ_CLEAR_USER: case REQ_CLEAR_KEY: case REQ_CLEAR_PROVIDER:
        if (!a) {
            con_message(app, true, "%s", _("No row selected."));
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

/* ---- export (e) ------------------------------------------------------------------------ */

void con_export_prompt(con_app *app)
{
    aff_state *st = state_of(app);
    sync(app, st);
    if (!st->sel_snap) {
        con_message(app, true, "%s", _("Nothing to export yet: no data has been loaded."));
        return;
    }
    if (st->export_job) {
        con_message(app, true, "%s", _("An export is still being written."));
        return;
    }
    char def[128];
    time_t t = (time_t)app->now;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(def, sizeof def, "./aethertop-export-%Y%m%d-%H%M%S.csv", &tm);
    app->mode = MODE_EXPORT;
    con_line_set(&app->line, def);
    app->dirty = true;
}

void con_export_run(con_app *app, const char *text)
{
    aff_state *st = state_of(app);
    while (isspace((unsigned char)*text)) text++;
    char path[1024];
    snprintf(path, sizeof path, "%s", text);
    for (size_t n = strlen(path); n > 0 && isspace((unsigned char)path[n - 1]);) path[--n] = '\0';
    if (!path[0]) {
        con_message(app, false, "%s", _("Export cancelled."));
        return;
    }
    const char *home = getenv("HOME");
    if (path[0] == '~' && path[1] == '/' && home && *home) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s%s", home, path + 1);
        snprintf(path, sizeof path, "%s", tmp);
    }
    sync(app, st);
    if (!st->sel_snap) return;
    con_job *j = con_job_new(CON_JOB_EXPORT);
    j->snap = con_snap_ref(st->sel_snap);
    j->sel.idx = malloc((st->sel.n + 1) * sizeof *j->sel.idx);
    if (!j->sel.idx) abort();
    memcpy(j->sel.idx, st->sel.idx, st->sel.n * sizeof *j->sel.idx);
    j->sel.n = j->sel.cap = st->sel.n;
    j->path = strdup(path);
    if (!j->path) abort();
    size_t n = st->sel.n;
    st->export_job = con_worker_post(app->worker, j);
    char c[32];
    con_fmt_int((long long)n, c, sizeof c);
    con_message(app, false, _("Exporting %s rows to %s ..."), c, path);
}

bool con_export_job_done(con_app *app, con_job *j)
{
    if (j->kind != CON_JOB_EXPORT) return false;
    aff_state *st = state_of(app);
    if (st->export_job == j->id) st->export_job = 0;
    if (j->rc == 0) {
        char c[32];
        con_fmt_int((long long)j->sel.n, c, sizeof c);
        con_message(app, false, _("Exported %s rows to %s (%s)."), c, j->path,
                    at_export_format_for(j->path) == AT_EXPORT_JSON ? "JSON" : "CSV");
    } else {
        con_message(app, true, _("Export failed: %s"), j->err);
    }
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
    for (int c = 0; c < C__N; c++) st->order[c] = c;
    st->n_order = C__N;
    v->name = N_("Affinities");
    v->draw = aff_draw;
    v->handle = aff_handle;
    v->destroy = aff_destroy;
    v->state = st;
    return v;
}
