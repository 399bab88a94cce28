/* textview.c — the scrollable key/text line list behind the Config and
 * Help views (see textview.h; a text too long for its column wraps under
 * itself), and the helpers every view shares (con.h):
 * con_view_make, con_view_free_plain, con_list_move, con_list_clamp,
 * con_job_answered. */
#include "textview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void con_tv_clear(con_textview *tv)
{
    tv->n = 0;
}

void con_tv_add(con_textview *tv, int indent, const char *key, con_element ke, const char *text, con_element te)
{
    if (tv->n == tv->cap) {
        int cap = tv->cap ? tv->cap * 2 : 64;
        con_tv_line *l = realloc(tv->lines, (size_t)cap * sizeof *l);
        if (!l) abort();
        tv->lines = l;
        tv->cap = cap;
    }
    con_tv_line *l = &tv->lines[tv->n++];
    snprintf(l->key, sizeof l->key, "%s", key ? key : "");
    snprintf(l->text, sizeof l->text, "%s", text ? text : "");
    l->ke = ke;
    l->te = te;
    l->indent = indent;
}

/* Where line l's text goes: its column and width; false when the line has
 * no text column (a key alone). */
static bool text_column(const con_app *app, const con_textview *tv, const con_tv_line *l, int *tx, int *tw)
{
    int kw = tv->key_width ? tv->key_width : 28;
    int x = 1 + l->indent * 2;
    if (l->key[0] && l->text[0]) {
        int w = kw - l->indent * 2;
        if (w < 8) w = 8;
        *tx = x + w + 1;
        *tw = app->cols - *tx - 1;
    } else if (l->key[0]) {
        return false;
    } else {
        *tx = x;
        *tw = app->cols - x - 1;
    }
    return *tw > 0;
}

enum { TV_WRAP = 6 };      /* at most this many screen rows per line */

/* The text of line l cut into screen rows (at least one). */
static int wrap_line(const con_app *app, const con_textview *tv, const con_tv_line *l, char rows[][512])
{
    int tx, tw;
    rows[0][0] = '\0';
    if (!text_column(app, tv, l, &tx, &tw)) return 1;
    int n = con_wrap(l->text, tw, rows, TV_WRAP);
    return n > 0 ? n : 1;
}

void con_tv_draw(con_app *app, con_textview *tv, int y, int h)
{
    static char rows[TV_WRAP][512];
    tv->page = h;
    /* a text longer than its column wraps under itself: scrolling counts
       screen rows */
    int total = 0;
    for (int i = 0; i < tv->n; i++) total += wrap_line(app, tv, &tv->lines[i], rows);
    tv->rows = total;
    int maxs = total - h;
    if (maxs < 0) maxs = 0;
    if (tv->scroll > maxs) tv->scroll = maxs;
    int kw = tv->key_width ? tv->key_width : 28;
    int row = 0;                    /* screen row of line i's first row, from the top of the list */
    for (int i = 0; i < tv->n && row < tv->scroll + h; i++) {
        const con_tv_line *l = &tv->lines[i];
        int nr = wrap_line(app, tv, l, rows);
        int x = 1 + l->indent * 2;
        int tx = 0, tw = 0;
        bool has_text = text_column(app, tv, l, &tx, &tw);
        for (int k = 0; k < nr; k++) {
            int r = row + k - tv->scroll;
            if (r < 0 || r >= h) continue;
            if (k == 0 && l->key[0] && l->text[0]) {
                int w = kw - l->indent * 2;
                if (w < 8) w = 8;
                con_put(y + r, x, w, l->key, l->ke, false);
            } else if (k == 0 && l->key[0]) {
                con_put(y + r, x, app->cols - x - 1, l->key, l->ke, false);
            }
            if (has_text) con_put(y + r, tx, tw, rows[k], l->te, false);
        }
        row += nr;
    }
}

bool con_tv_scroll(con_textview *tv, con_request req)
{
    int maxs = (tv->rows ? tv->rows : tv->n) - tv->page;
    if (maxs < 0) maxs = 0;
    int page = tv->page > 0 ? tv->page : 1;
    switch (req) {
    case REQ_UP: if (tv->scroll > 0) tv->scroll--; return true;
    case REQ_DOWN: if (tv->scroll < maxs) tv->scroll++; return true;
    case REQ_PAGE_UP: tv->scroll = tv->scroll > page ? tv->scroll - page : 0; return true;
    case REQ_PAGE_DOWN: tv->scroll = tv->scroll + page < maxs ? tv->scroll + page : maxs; return true;
    case REQ_HOME: tv->scroll = 0; return true;
    case REQ_END: tv->scroll = maxs; return true;
    default: return false;
    }
}

void con_tv_free(con_textview *tv)
{
    free(tv->lines);
    memset(tv, 0, sizeof *tv);
}

/* ---- views --------------------------------------------------------------- */

con_view *con_view_make(con_view callbacks)
{
    con_view *v = malloc(sizeof *v);
    if (!v) abort();
    *v = callbacks;
    if (!v->destroy) v->destroy = con_view_free_plain;
    return v;
}

void con_view_free_plain(con_view *v)
{
    free(v->state);
    free(v);
}

bool con_list_move(size_t *cur, size_t n, int rows, con_request req)
{
    size_t page = rows > 0 ? (size_t)rows : 1;
    switch (req) {
    case REQ_UP: if (*cur > 0) (*cur)--; return true;
    case REQ_DOWN: if (*cur + 1 < n) (*cur)++; return true;
    case REQ_PAGE_UP: *cur = *cur > page ? *cur - page : 0; return true;
    case REQ_PAGE_DOWN: *cur = n && *cur + page < n ? *cur + page : (n ? n - 1 : 0); return true;
    case REQ_HOME: *cur = 0; return true;
    case REQ_END: *cur = n ? n - 1 : 0; return true;
    default: return false;
    }
}

void con_list_clamp(size_t *cur, size_t *top, size_t n, int rows)
{
    if (*cur >= n) *cur = n ? n - 1 : 0;
    if (*cur < *top) *top = *cur;
    if (rows > 0 && *cur >= *top + (size_t)rows) *top = *cur - (size_t)rows + 1;
}

void con_job_answered(con_app *app, const con_job *j, bool ok, char *err, size_t errlen, double *mono,
                      const char *fallback)
{
    if (ok) {
        err[0] = '\0';
        *mono = app->mono;
    } else {
        snprintf(err, errlen, "%s", j->err[0] ? j->err : fallback);
    }
    app->dirty = true;
}
