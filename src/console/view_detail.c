/* view_detail.c — every field of one affinity with full ids: the enriched
 * list item the reference returns (at_report_list_item), the Redis key and
 * the live TTL. Follows the affinity by Redis key across refreshes and says
 * so when it is gone. */
#include "con.h"

#include "aethertop/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    int scroll;
    int lines;        /* lines at the last draw */
    int page;
} detail_state;

static detail_state *state_of(con_app *app)
{
    return app->views[VIEW_DETAIL]->state;
}

void con_detail_open(con_app *app, const char *redis_key)
{
    detail_state *st = state_of(app);
    free(st->key);
    st->key = strdup(redis_key);
    st->scroll = 0;
    con_push(app, VIEW_DETAIL);
}

static const at_affinity *find(const at_snapshot *s, const char *key)
{
    for (size_t i = 0; i < s->n_rows; i++)
        if (strcmp(s->rows[i].redis_key, key) == 0) return &s->rows[i];
    return NULL;
}

typedef struct { char k[64]; char v[1024]; } kv;

static int fields(con_app *app, const at_snapshot *s, const at_affinity *a, kv *out, int max)
{
    int n = 0;
    snprintf(out[0].k, sizeof out[0].k, "redis_key");
    snprintf(out[0].v, sizeof out[0].v, "%s", a->redis_key);
    n = 1;
    cJSON *item = at_report_list_item(s, a);
    for (cJSON *c = item ? item->child : NULL; c && n < max; c = c->next) {
        kv *f = &out[n++];
        snprintf(f->k, sizeof f->k, "%s", c->string ? c->string : "?");
        if (cJSON_IsString(c)) snprintf(f->v, sizeof f->v, "%s", c->valuestring);
        else if (cJSON_IsNull(c)) snprintf(f->v, sizeof f->v, "null");
        else if (cJSON_IsBool(c)) snprintf(f->v, sizeof f->v, "%s", cJSON_IsTrue(c) ? "true" : "false");
        else if (cJSON_IsNumber(c) || cJSON_IsRaw(c)) {
            /* floats come as raw text in their exact shortest form (report.c) */
            double d = cJSON_IsRaw(c) ? strtod(c->valuestring, NULL) : c->valuedouble;
            if (strcmp(f->k, "created_at") == 0 || strcmp(f->k, "expire_at") == 0) {
                char t[40];
                con_fmt_time(d, true, t, sizeof t);
                snprintf(f->v, sizeof f->v, "%.3f  (%s)", d, t);
            } else if (d == floor(d) && fabs(d) < 1e15) {
                snprintf(f->v, sizeof f->v, "%.0f", d);
            } else {
                snprintf(f->v, sizeof f->v, "%g", d);
            }
        }
    }
    cJSON_Delete(item);
    if (n < max) {
        snprintf(out[n].k, sizeof out[n].k, "ttl_remaining");
        if (isnan(a->expire_at)) snprintf(out[n].v, sizeof out[n].v, "-");
        else {
            double left = a->expire_at - app->now;
            char d[32];
            con_fmt_dur(ceil(left), d, sizeof d);
            snprintf(out[n].v, sizeof out[n].v, "%s", left > 0 ? d : "expired");
        }
        n++;
    }
    if (n < max && !isnan(a->created_at)) {
        snprintf(out[n].k, sizeof out[n].k, "age");
        char d[32];
        con_fmt_dur(app->now - a->created_at, d, sizeof d);
        snprintf(out[n].v, sizeof out[n].v, "%s", d);
        n++;
    }
    return n;
}

static void detail_draw(con_app *app, con_view *v, int y, int h)
{
    detail_state *st = v->state;
    con_fill(y, 0, app->cols, TH_TABLE_HEADER);
    con_text(y, 1, app->cols - 2, _("Affinity detail  (Esc: back, y: copy ids, d: clear)"), TH_TABLE_HEADER);
    if (!app->snap || !st->key) return;
    const at_snapshot *s = app->snap->snap;
    const at_affinity *a = find(s, st->key);
    if (!a) {
        con_put(y + 2, 2, app->cols - 4, _("This affinity is gone (expired or deleted):"), TH_WARN, false);
        con_put(y + 3, 4, app->cols - 6, st->key, TH_VALUE, false);
        return;
    }
    kv f[48];
    int n = fields(app, s, a, f, 48);
    int kw = 22;
    int vw = app->cols - kw - 3;
    /* values wrap: long ids and URLs are shown whole */
    int line = 0, drawn = 0;
    int rows = h - 1;
    st->page = rows;
    for (int i = 0; i < n; i++) {
        char wrapped[6][512];
        int nl = con_wrap(f[i].v, vw, wrapped, 6);
        if (nl == 0) { snprintf(wrapped[0], 512, " "); nl = 1; }
        for (int l = 0; l < nl; l++, line++) {
            if (line < st->scroll || drawn >= rows) continue;
            if (l == 0) con_put(y + 1 + drawn, 1, kw, f[i].k, TH_LABEL, false);
            con_put(y + 1 + drawn, kw + 2, vw, wrapped[l], TH_VALUE, false);
            drawn++;
        }
    }
    st->lines = line;
}

static bool detail_handle(con_app *app, con_view *v, con_request req)
{
    detail_state *st = v->state;
    int maxs = st->lines - st->page;
    if (maxs < 0) maxs = 0;
    switch (req) {
    case REQ_UP: if (st->scroll > 0) st->scroll--; break;
    case REQ_DOWN: if (st->scroll < maxs) st->scroll++; break;
    case REQ_PAGE_UP: st->scroll = st->scroll > st->page ? st->scroll - st->page : 0; break;
    case REQ_PAGE_DOWN: st->scroll = st->scroll + st->page < maxs ? st->scroll + st->page : maxs; break;
    case REQ_HOME: st->scroll = 0; break;
    case REQ_END: st->scroll = maxs; break;
    case REQ_BACK: case REQ_ENTER: con_pop(app); break;
    case REQ_COPY: case REQ_CLEAR_ONE: case REQ_CLEAR_USER: case REQ_CLEAR_KEY: case REQ_CLEAR_PROVIDER: {
        /* act on the affinity shown: the table's selection is the same row */
        const at_affinity *sel = con_aff_selected(app);
        if (!sel || !st->key || strcmp(sel->redis_key, st->key) != 0) {
            con_message(app, true, _("This affinity is no longer in the table."));
            return true;
        }
        con_view *t = app->views[VIEW_AFFINITIES];
        return t->handle(app, t, req);
    }
    default:
        return false;
    }
    app->dirty = true;
    return true;
}

static void detail_destroy(con_view *v)
{
    detail_state *st = v->state;
    free(st->key);
    free(st);
    free(v);
}

con_view *con_view_detail_new(void)
{
    detail_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    return con_view_make((con_view){.name = N_("Detail"), .draw = detail_draw, .handle = detail_handle, .destroy = detail_destroy, .state = st});
}
