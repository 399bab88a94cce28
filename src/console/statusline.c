/* statusline.c — the line above the function-key bar: the search or
 * command prompt while typing (a long input shows its end, where the typing
 * is), else the latest status message (errors in their own colour), else a
 * short hint. */
#include "con.h"

#include "aethertop/cells.h"

#include <stdio.h>
#include <string.h>

void con_statusline_draw(con_app *app, int y)
{
    int cols = app->cols;
    con_fill(y, 0, cols, TH_STATUS);
    if (app->mode == MODE_SEARCH || app->mode == MODE_COMMAND || app->mode == MODE_EXPORT) {
        const char *prompt = app->mode == MODE_SEARCH ? _("Search: ") : app->mode == MODE_EXPORT ? _("Export to: ") : ":";
        int x = con_text(y, 0, cols, prompt, TH_PROMPT);
        const char *hint = app->mode == MODE_SEARCH   ? _("  (Enter keeps the filter, Esc clears it)")
                           : app->mode == MODE_EXPORT ? _("  (Enter writes CSV, or JSON for a .json name; Esc cancels)")
                                                      : _("  (Enter runs, Esc cancels)");
        int hw = at_cells_width(hint);
        const char *text = app->line.buf;
        int tw = at_cells_width(text);
        /* the hint only when it fits beside the whole input */
        bool with_hint = cols - x - 1 - tw > hw + 2;
        int room = cols - x - 1;
        /* a long input: show its end (where the typing is) after an ellipsis */
        if (tw > room && room > 1) {
            const char *tail = text;
            while (*tail && at_cells_width(tail) > room - 1) {
                tail++;
                while (((unsigned char)*tail & 0xC0) == 0x80) tail++;
            }
            x += con_text(y, x, 1, con_sym(app, "\xe2\x80\xa6", "<"), TH_POSITION);
            text = tail;
            room--;
        }
        x += con_text(y, x, room, text, TH_STATUS);
        attrset(con_attr(TH_PROMPT) | A_REVERSE);
        mvaddch(y, x, ' ');
        attrset(A_NORMAL);
        if (with_hint) con_text(y, x + 2, cols - x - 2, hint + 1, TH_POSITION);
        return;
    }
    if (app->msg[0] && app->mono < app->msg_until) {
        con_put(y, 0, cols, app->msg, app->msg_error ? TH_STATUS_ERROR : TH_STATUS, false);
        return;
    }
    con_text(y, 0, cols, _("Press ? for help, / to search, : for commands, 1-7 or Tab to switch views"), TH_POSITION);
}
