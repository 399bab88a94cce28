/* dialog.c — the modal boxes drawn over the views: the clear confirmation
 * (names what goes and how many keys; the focused answer is No, so Enter
 * alone cancels and only `y` confirms), the second confirmation of the
 * clear-all kinds (type `all`, then Enter), and the sort-column menu. The
 * data keeps refreshing underneath. */
#include "con.h"

#include <stdio.h>
#include <string.h>

void con_dialog_close(con_app *app)
{
    con_clear_free(&app->dlg.clear);
    memset(&app->dlg, 0, sizeof app->dlg);
    app->mode = MODE_NORMAL;
    app->dirty = true;
}

void con_sort_menu_open(con_app *app)
{
    const at_column *cols;
    const char *const *names;
    int n = con_aff_sort_columns(&cols, &names);
    at_sort cur = con_aff_sort_get(app);
    memset(&app->dlg, 0, sizeof app->dlg);
    app->dlg.kind = DLG_SORT;
    snprintf(app->dlg.title, sizeof app->dlg.title, _("Sort by"));
    for (int i = 0; i < n; i++)
        if (cols[i] == cur.col) app->dlg.cursor = i;
    app->mode = MODE_DIALOG;
    app->dirty = true;
}

/* ---- drawing ----------------------------------------------------------------- */

static void draw_sort(con_app *app)
{
    const at_column *cols;
    const char *const *names;
    int n = con_aff_sort_columns(&cols, &names);
    at_sort cur = con_aff_sort_get(app);
    int w = 36, h = n + 4;
    int y = (app->rows - h) / 2, x = (app->cols - w) / 2;
    con_box(y, x, h, w, TH_DIALOG);
    con_text(y, x + 2, w - 4, _(" Sort by "), TH_DIALOG_TITLE);
    for (int i = 0; i < n; i++) {
        char line[80];
        snprintf(line, sizeof line, " %s %s", _(names[i]),
                 cols[i] == cur.col ? (cur.descending ? con_sym(app, "\xe2\x96\xbc", "v") : con_sym(app, "\xe2\x96\xb2", "^")) : "");
        con_put(y + 1 + i, x + 1, w - 2, line, i == app->dlg.cursor ? TH_DIALOG_FOCUS : TH_DIALOG, false);
    }
    con_put(y + h - 2, x + 1, w - 2, _(" Enter: sort  I: invert  Esc: cancel"), TH_DIALOG, false);
}

static void draw_confirm(con_app *app)
{
    con_dialog *d = &app->dlg;
    int w = app->cols - 8;
    if (w > 76) w = 76;
    int inner = w - 4;
    char body[10][512];
    con_element be[10];
    int nb = 0;

    char head[1024];
    if (d->count_job) {
        snprintf(head, sizeof head, _("Counting the keys that would be deleted..."));
        be[nb] = TH_DIALOG;
    } else if (!d->count_ok) {
        snprintf(head, sizeof head, _("Cannot count the keys: %s"), d->count_err);
        be[nb] = TH_DIALOG_DANGER;
    } else if (d->count == 0) {
        snprintf(head, sizeof head, _("No key to delete in Redis %s:"), app->st.redis_target);
        be[nb] = TH_DIALOG;
    } else {
        char c[32];
        con_fmt_int(d->count, c, sizeof c);
        snprintf(head, sizeof head, ngettext("Delete %s key from Redis %s:", "Delete %s keys from Redis %s:", (unsigned long)d->count),
                 c, app->st.redis_target);
        be[nb] = TH_DIALOG_DANGER;
    }
    char tmp[4][512];
    int nh = con_wrap(head, inner, tmp, 3);
    for (int i = 0; i < nh && nb < 10; i++) { snprintf(body[nb], 512, "%.500s", tmp[i]); be[nb++] = be[0]; }
    int nl = con_wrap(d->clear.label, inner - 2, tmp, 4);
    for (int i = 0; i < nl && nb < 10; i++) { snprintf(body[nb], 512, "  %.500s", tmp[i]); be[nb++] = TH_DIALOG; }
    if (d->kind == DLG_TYPE_ALL) {
        be[nb] = TH_DIALOG; snprintf(body[nb++], 512, " ");
        be[nb] = TH_DIALOG_DANGER;
        snprintf(body[nb++], 512, _("Second confirmation: type  all  and press Enter."));
    } else if (d->count_ok && !d->count_job && d->count == 0) {
        be[nb] = TH_DIALOG;
        snprintf(body[nb++], 512, "%s", _("Nothing matches right now: there is nothing to delete."));
    }

    int h = nb + 6;
    int y = (app->rows - h) / 2, x = (app->cols - w) / 2;
    con_box(y, x, h, w, TH_DIALOG);
    char title[128];
    snprintf(title, sizeof title, " %s ", d->title);
    con_text(y, x + 2, w - 4, title, TH_DIALOG_TITLE);
    for (int i = 0; i < nb; i++) con_put(y + 2 + i, x + 2, inner, body[i], be[i], false);

    int by = y + h - 2;
    if (d->kind == DLG_TYPE_ALL) {
        int bx = x + 2;
        bx += con_text(by, bx, inner, _("Confirm: "), TH_DIALOG);
        con_put(by, bx, 12, d->input.buf, TH_DIALOG_FOCUS, false);
        con_text(by, bx + 14, inner - (bx + 14 - x - 2), _("Esc cancels"), TH_DIALOG);
        return;
    }
    /* No has the focus: Enter alone answers No */
    int bx = x + 2;
    bx += con_text(by, bx, inner, "[ No ]", TH_DIALOG_FOCUS);
    bx += 3;
    if (d->count_ok && !d->count_job && d->count == 0) {
        con_text(by, x + 2, inner, _("Enter/Esc: Close"), TH_DIALOG_FOCUS);
        return;
    }
    const char *yes = d->count_job ? _("y: Yes (after counting)") : d->count_ok ? _("y: Yes, delete") : "";
    bx += con_text(by, bx, inner - (bx - x - 2), yes, TH_DIALOG);
    con_text(by, bx + 3, inner - (bx + 3 - x - 2), _("Enter/n/Esc: No"), TH_DIALOG);
}

void con_dialog_draw(con_app *app)
{
    switch (app->dlg.kind) {
    case DLG_SORT: draw_sort(app); break;
    case DLG_CONFIRM:
    case DLG_TYPE_ALL: draw_confirm(app); break;
    case DLG_NONE: break;
    }
}

/* ---- keys ---------------------------------------------------------------------- */

static void sort_key(con_app *app, bool code, int key)
{
    const at_column *cols;
    const char *const *names;
    int n = con_aff_sort_columns(&cols, &names);
    con_request req = con_keymap_lookup(KM_VIEW, key, code);
    at_sort cur = con_aff_sort_get(app);
    switch (req) {
    case REQ_UP: if (app->dlg.cursor > 0) app->dlg.cursor--; break;
    case REQ_DOWN: if (app->dlg.cursor < n - 1) app->dlg.cursor++; break;
    case REQ_HOME: app->dlg.cursor = 0; break;
    case REQ_END: app->dlg.cursor = n - 1; break;
    case REQ_SORT_INVERT:
        cur.descending = !cur.descending;
        con_aff_sort_set(app, cur);
        break;
    case REQ_ENTER: {
        at_column c = cols[app->dlg.cursor];
        at_sort s = {c, c == cur.col ? cur.descending
                                     : (c == AT_COL_EXPIRE_AT || c == AT_COL_REQUESTS || c == AT_COL_CREATED_AT)};
        const char *name = names[app->dlg.cursor];
        con_aff_sort_set(app, s);
        con_dialog_close(app);
        con_message(app, false, _("Sorted by %s%s"), _(name), s.descending ? _(" (descending)") : "");
        break;
    }
    case REQ_BACK: case REQ_QUIT: case REQ_SORT_MENU:
        con_dialog_close(app);
        break;
    default:
        break;
    }
    app->dirty = true;
}

void con_dialog_key(con_app *app, bool code, int key)
{
    con_dialog *d = &app->dlg;
    app->dirty = true;
    if (d->kind == DLG_SORT) {
        sort_key(app, code, key);
        return;
    }
    if (d->kind == DLG_TYPE_ALL) {
        con_line_result r = con_line_key(&d->input, code, key);
        if (r == LINE_CANCEL) {
            con_dialog_close(app);
            con_message(app, false, _("Cancelled: nothing was deleted."));
        } else if (r == LINE_ACCEPT) {
            if (strcmp(d->input.buf, "all") == 0) {
                con_clear_confirmed(app);
            } else {
                con_dialog_close(app);
                con_message(app, false, "%s", _("Not confirmed (you must type \"all\"): nothing was deleted."));
            }
        }
        return;
    }
    con_request req = con_keymap_lookup(KM_DIALOG, key, code);
    if (req == REQ_CANCEL) {
        con_dialog_close(app);
        con_message(app, false, _("Cancelled: nothing was deleted."));
    } else if (req == REQ_CONFIRM) {
        if (d->count_job) {
            con_message(app, false, _("Still counting the keys; press y again when the count is shown."));
        } else if (!d->count_ok) {
            con_message(app, true, _("Cannot confirm: the keys could not be counted."));
        } else if (d->count == 0) {
            con_dialog_close(app);
            con_message(app, false, "%s", _("Nothing matches: nothing was deleted."));
        } else if (d->clear.kind == AT_CLEAR_ALL || d->clear.kind == AT_CLEAR_MAPPINGS_ALL) {
            d->kind = DLG_TYPE_ALL;
            memset(&d->input, 0, sizeof d->input);
        } else {
            con_clear_confirmed(app);
        }
    }
}
