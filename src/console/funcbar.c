/* funcbar.c — the htop-style function-key bar on the last line, generated
 * from the keymap (a request with a bar label and an F-key binding gets a
 * slot). Each slot is the key name and a label of at most 6 cells, so the
 * ten keys fit in 80 columns. */
#include "con.h"

#include "aethertop/cells.h"

#include <stdio.h>
#include <string.h>

void con_funcbar_draw(con_app *app, int y)
{
    int n;
    const con_request_info *reqs = con_keymap_requests(&n);
    struct { int fkey; const char *label; } slots[12];
    int ns = 0;
    for (int i = 0; i < n && ns < 12; i++) {
        if (!reqs[i].fkey_label) continue;
        int f = con_keymap_fkey_of(reqs[i].req);
        if (!f) continue;
        slots[ns].fkey = f;
        slots[ns].label = _(reqs[i].fkey_label);
        ns++;
    }
    /* in F-key order */
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && slots[j].fkey < slots[j - 1].fkey; j--) {
            int f = slots[j].fkey;
            const char *l = slots[j].label;
            slots[j] = slots[j - 1];
            slots[j - 1].fkey = f;
            slots[j - 1].label = l;
        }
    con_fill(y, 0, app->cols, TH_FUNCBAR_LABEL);
    int x = 0;
    for (int i = 0; i < ns; i++) {
        char key[8];
        snprintf(key, sizeof key, "F%d", slots[i].fkey);
        int kw = (int)strlen(key);
        if (x + kw + 1 > app->cols) break;
        con_put(y, x, kw, key, TH_FUNCBAR_KEY, false);
        x += kw;
        int lw = i == ns - 1 ? at_cells_width(slots[i].label) : 6;
        if (x + lw > app->cols) lw = app->cols - x;
        con_put(y, x, lw, slots[i].label, TH_FUNCBAR_LABEL, false);
        x += lw;
    }
}
