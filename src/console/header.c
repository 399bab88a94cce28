/* header.c — the lines that are always at the top: where the data comes
 * from (Redis target and role, PostgreSQL state), how old it is ("updated
 * 1.2 s ago" or STALE), the refresh interval, the READ-ONLY / PAUSED badges,
 * the view tabs, and a banner naming what is down when a server is lost. */
#include "con.h"

#include "aethertop/cells.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Draw a badge " TEXT " at x; returns the new x. */
static int badge(int y, int x, const char *text, con_element e)
{
    char buf[128];
    snprintf(buf, sizeof buf, " %s ", text);
    int w = con_text(y, x, getmaxx(stdscr) - x, buf, e);
    return x + w + 1;
}

static void status_line(con_app *app, int y)
{
    const con_worker_status *st = &app->st;
    int cols = app->cols;
    con_fill(y, 0, cols, TH_HEADER);

    /* badges first: they are right-aligned and never pushed out */
    char badges[3][32];
    con_element be[3];
    int nb = 0;
    if (st->failed || (st->ever_ok && !st->redis_up)) { snprintf(badges[nb], 32, "%s", _("STALE")); be[nb++] = TH_BADGE_ALERT; }
    if (app->cfg->read_only) { snprintf(badges[nb], 32, "%s", _("READ-ONLY")); be[nb++] = TH_BADGE_ALERT; }
    if (app->paused) { snprintf(badges[nb], 32, "%s", _("PAUSED")); be[nb++] = TH_BADGE; }
    int need = 0;
    for (int i = 0; i < nb; i++) need += at_cells_width(badges[i]) + 3;
    int bx = cols - need;
    for (int i = 0; i < nb; i++) bx = badge(y, bx, badges[i], be[i]);

    int lim = cols - need - 1;
    int x = 0;
    if (cols >= 110) x += con_text(y, x, lim - x, " aethertop ", TH_HEADER_VALUE);
    x += con_text(y, x, lim - x, " Redis ", TH_HEADER);
    x += con_text(y, x, lim - x, st->redis_target, TH_HEADER_VALUE);
    if (app->snap && app->snap->snap->has_info && app->snap->snap->info.role[0]) {
        char role[40];
        const char *r = app->snap->snap->info.role;
        snprintf(role, sizeof role, " %s", strcmp(r, "slave") == 0 ? _("replica") : r);
        x += con_text(y, x, lim - x, role, TH_HEADER);
    }
    x += con_text(y, x, lim - x, "  PG ", TH_HEADER);
    if (!st->ever_ok) x += con_text(y, x, lim - x, "?", TH_HEADER);
    else if (st->pg_up) x += con_text(y, x, lim - x, _("ok"), TH_OK);
    else x += con_text(y, x, lim - x, _("down"), TH_WARN);

    char age[96];
    if (!st->ever_ok) {
        snprintf(age, sizeof age, "  %s", st->refreshing ? _("connecting...") : _("no data yet"));
    } else {
        double a = app->now - st->last_ok_wall;
        if (a < 0) a = 0;
        if (a < 60) snprintf(age, sizeof age, _("  updated %.1f s ago"), a);
        else {
            char d[32];
            con_fmt_dur(a, d, sizeof d);
            snprintf(age, sizeof age, _("  updated %s ago"), d);
        }
    }
    x += con_text(y, x, lim - x, age, TH_HEADER);
    char every[64];
    if (st->effective_interval_s > app->interval + 0.05)
        snprintf(every, sizeof every, _("  every %.0f s (stretched: big key space)"), st->effective_interval_s);
    else
        snprintf(every, sizeof every, _("  every %g s"), app->interval);
    con_text(y, x, lim - x, every, TH_HEADER);
}

static void tabs_line(con_app *app, int y)
{
    int cols = app->cols;
    con_fill(y, 0, cols, TH_TAB);
    int x = 1;
    for (int t = 0; t < VIEW__TABS; t++) {
        char label[48];
        snprintf(label, sizeof label, " %d %s ", t + 1, _(app->views[t]->name));
        x += con_text(y, x, cols - x, label, app->stack[0] == t ? TH_TAB_ACTIVE : TH_TAB);
        x += 1;
    }
    if (app->snap) {
        const at_stats *s = &app->snap->stats;
        char a[32], info[128];
        con_fmt_int(s->active, a, sizeof a);
        int n = snprintf(info, sizeof info, _("%s active"), a);
        if (s->unreadable > 0) {
            char u[32];
            con_fmt_int(s->unreadable, u, sizeof u);
            snprintf(info + n, sizeof info - (size_t)n, _(" %s %s unreadable"), con_sym(app, "\xc2\xb7", "|"), u);
        }
        int w = at_cells_width(info) + 1;
        if (cols - w > x) con_text(y, cols - w, w, info, TH_TAB);
    }
}

/* "Redis H:P: cannot connect to H:P: Connection refused" says the address
 * twice: keep the first, so the cause fits on the line. */
static void compact_error(char *e)
{
    char *c = strstr(e, "cannot connect to ");
    if (!c) return;
    char *addr = c + strlen("cannot connect to ");
    char *end = strstr(addr, ": ");
    if (!end) return;
    size_t alen = (size_t)(end - addr);
    char a[128];
    if (alen >= sizeof a) return;
    memcpy(a, addr, alen);
    a[alen] = '\0';
    char *first = strstr(e, a);
    if (!first || first >= c) return;
    memmove(c, end + 2, strlen(end + 2) + 1);
}

/* The banner when something is down; returns rows used (0 or 1). The
 * error text is cut to fit so that the retry/STALE part always shows. */
static int banner(con_app *app, int y)
{
    const con_worker_status *st = &app->st;
    char err[600], tail[200];
    const char *dash = con_sym(app, "\xe2\x80\x94", "-"), *dot = con_sym(app, "\xc2\xb7", "|");
    if (!st->redis_up && (st->failed || st->ever_ok || st->redis_error[0])) {
        double left = st->next_retry_mono - app->mono;
        char when[48];
        if (st->refreshing) snprintf(when, sizeof when, "%s", _("retrying now"));
        else if (left > 0.05) snprintf(when, sizeof when, _("retrying in %.0f s"), ceil(left));
        else snprintf(when, sizeof when, "%s", _("retrying"));
        char since[96] = "";
        if (st->ever_ok) {
            char t[32];
            con_fmt_time(st->last_ok_wall, false, t, sizeof t);
            snprintf(since, sizeof since, _(" %s showing data from %s (STALE)"), dot, t);
        }
        snprintf(err, sizeof err, " %s", st->redis_error[0] ? st->redis_error : _("Redis unreachable"));
        compact_error(err);
        snprintf(tail, sizeof tail, " %s %s%s", dash, when, since);
    } else if (st->ever_ok && !st->pg_up) {
        snprintf(err, sizeof err, " %s", st->pg_error[0] ? st->pg_error : _("PostgreSQL unavailable"));
        snprintf(tail, sizeof tail, _(" %s names and masked keys missing, retrying"), dash);
    } else {
        return 0;
    }
    con_fill(y, 0, app->cols, TH_BANNER);
    int tw = con_text(y, 0, app->cols, tail, TH_BANNER);   /* measure */
    int ew = app->cols - tw;
    if (ew < 20) ew = 20;
    int used = con_text(y, 0, ew, err, TH_BANNER);
    con_fill(y, 0, app->cols, TH_BANNER);
    con_put(y, 0, used, err, TH_BANNER, false);
    con_text(y, used, app->cols - used, tail, TH_BANNER);
    return 1;
}

int con_header_draw(con_app *app)
{
    status_line(app, 0);
    tabs_line(app, 1);
    return 2 + banner(app, 2);
}
