/* draw.c — putting text on the screen safely: every string goes through
 * at_cells_fit (control characters become visible placeholders, widths are
 * terminal cells) after losing the joiners terminals disagree on (ZWJ, the
 * emoji variation selector), plus number/time formatting, sparklines, bars
 * and boxes. */
#include "con.h"

#include "aethertop/cells.h"
#include "aethertop/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool g_utf8 = true;

void con_set_utf8(bool utf8) { g_utf8 = utf8; }

const char *con_sym(con_app *app, const char *utf8, const char *ascii)
{
    (void)app;
    return g_utf8 ? utf8 : ascii;
}

/* Without a UTF-8 locale, show every non-ASCII code point as '?' per cell
 * (the layout was computed in cells, so the width is kept). */
static void ascii_fold(char *s)
{
    size_t len = strlen(s), o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = at_utf8_decode(s + i, len - i, &cp);
        if (cp < 0x80) {
            s[o++] = (char)cp;
        } else {
            char one[5] = {0};
            memcpy(one, s + i, n < 4 ? n : 4);
            int w = cp == 0x2026 ? 1 : at_cells_width(one);
            for (int k = 0; k < w && o < i + n; k++) s[o++] = cp == 0x2026 ? '~' : '?';
        }
        i += n;
    }
    s[o] = '\0';
}

/* Drop U+200D (zero width joiner) and U+FE0F (emoji presentation): wcwidth
 * gives both 0 and counts the pieces of a joined emoji (woman + ZWJ + laptop)
 * or of heart + U+FE0F one by one, but tmux (3.3+) and many terminals draw
 * the joined sequence in fewer cells, or the emoji form in two; every later
 * column on the line then lands where ncurses does not think it is, and
 * stale cells stay behind. Without them the pieces are drawn side by side,
 * as wide as wcwidth says. */
static const char *drop_joiners(const char *text, char *out, size_t outlen)
{
    if (!text || (!strstr(text, "\xe2\x80\x8d") && !strstr(text, "\xef\xb8\x8f"))) return text;
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < outlen;) {
        if (strncmp(p, "\xe2\x80\x8d", 3) == 0 || strncmp(p, "\xef\xb8\x8f", 3) == 0) {
            p += 3;
            continue;
        }
        out[o++] = *p++;
    }
    /* never end on a cut sequence */
    while (o > 0 && ((unsigned char)out[o - 1] & 0x80)) {
        size_t start = o - 1;
        while (start > 0 && ((unsigned char)out[start] & 0xC0) == 0x80) start--;
        unsigned char lead = (unsigned char)out[start];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (o - start >= need) break;
        o = start;
    }
    out[o] = '\0';
    return out;
}

int con_put(int y, int x, int width, const char *text, con_element e, bool right)
{
    if (width <= 0) return 0;
    int maxx = getmaxx(stdscr);
    if (x >= maxx) return 0;
    if (x + width > maxx) width = maxx - x;
    char buf[2048], plain[2048];
    at_cells_fit(drop_joiners(text, plain, sizeof plain), width, right, buf, sizeof buf);
    if (!g_utf8) ascii_fold(buf);
    attr_t a = con_attr(e);
    attrset(a);
    mvaddstr(y, x, buf);
    attrset(A_NORMAL);
    return width;
}

int con_text(int y, int x, int maxw, const char *text, con_element e)
{
    if (maxw <= 0) return 0;
    char *safe = at_text_sanitize(text ? text : "-");
    int w = safe ? at_cells_width(safe) : 1;
    free(safe);
    if (w > maxw) w = maxw;
    return con_put(y, x, w, text, e, false);
}

void con_fill(int y, int x, int width, con_element e)
{
    if (width <= 0) return;
    attrset(con_attr(e));
    mvhline(y, x, ' ', width);
    attrset(A_NORMAL);
}

void con_fmt_int(long long v, char *out, size_t outlen)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t n = strlen(digits), o = 0;
    char tmp[48];
    if (v < 0) tmp[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = '\0';
    snprintf(out, outlen, "%s", tmp);
}

void con_fmt_dur(double s, char *out, size_t outlen)
{
    if (isnan(s)) { snprintf(out, outlen, "-"); return; }
    if (s < 0) s = 0;
    long long t = (long long)s;
    if (t < 60) snprintf(out, outlen, "%llds", t);
    else if (t < 3600) snprintf(out, outlen, "%lldm%02llds", t / 60, t % 60);
    else if (t < 86400) snprintf(out, outlen, "%lldh%02lldm", t / 3600, (t % 3600) / 60);
    else snprintf(out, outlen, "%lldd%02lldh", t / 86400, (t % 86400) / 3600);
}

void con_fmt_bytes(long long v, char *out, size_t outlen)
{
    if (v < 0) { snprintf(out, outlen, "?"); return; }
    const char *units[] = {"B", "K", "M", "G", "T"};
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4) { d /= 1024; u++; }
    if (u == 0) snprintf(out, outlen, "%lldB", v);
    else snprintf(out, outlen, "%.1f%s", d, units[u]);
}

void con_fmt_time(double epoch, bool with_date, char *out, size_t outlen)
{
    /* hostile data: no overflowing cast, no strftime of an unfilled tm */
    if (!(epoch > 0 && epoch < 1e12)) { snprintf(out, outlen, "-"); return; }
    time_t t = (time_t)epoch;
    struct tm tm;
    if (!localtime_r(&t, &tm) ||
        strftime(out, outlen, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm) == 0)
        snprintf(out, outlen, "-");
}

void con_fmt_rate(double v, char *out, size_t outlen)
{
    if (isnan(v)) snprintf(out, outlen, "-");
    else if (v >= 100) snprintf(out, outlen, "%.0f/s", v);
    else if (v >= 10) snprintf(out, outlen, "%.1f/s", v);
    else snprintf(out, outlen, "%.2f/s", v);
}

void con_sparkline(con_app *app, int y, int x, int width, const double *v, int n, con_element e)
{
    static const char *const blocks[8] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                                          "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char ascii[8] = {'_', '.', '-', '-', '=', '+', '*', '#'};
    (void)app;
    if (width <= 0) return;
    int start = n > width ? n - width : 0;
    double max = 0;
    for (int i = start; i < n; i++) if (v[i] > max) max = v[i];
    attrset(con_attr(e));
    move(y, x);
    int drawn = 0;
    for (int i = start; i < n; i++, drawn++) {
        int level = max > 0 ? (int)lround(v[i] / max * 7) : 0;
        if (level < 0) level = 0;
        if (level > 7) level = 7;
        if (v[i] <= 0) { addch(g_utf8 ? ' ' : ' '); continue; }
        if (g_utf8) addstr(blocks[level]);
        else addch((chtype)(unsigned char)ascii[level]);
    }
    for (; drawn < width; drawn++) addch(' ');
    attrset(A_NORMAL);
}

void con_bar(con_app *app, int y, int x, int width, double fraction, con_element e)
{
    (void)app;
    if (width <= 0) return;
    if (isnan(fraction) || fraction < 0) fraction = 0;
    if (fraction > 1) fraction = 1;
    int eighths = (int)lround(fraction * width * 8);
    static const char *const part[8] = {"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d",
                                        "\xe2\x96\x8c", "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89"};
    attrset(con_attr(e));
    move(y, x);
    int used = 0;
    for (; used < eighths / 8 && used < width; used++) {
        if (g_utf8) addstr("\xe2\x96\x88");
        else addch('#');
    }
    if (used < width && eighths % 8) {
        if (g_utf8) addstr(part[eighths % 8]);
        else addch('|');
        used++;
    }
    for (; used < width; used++) addch(' ');
    attrset(A_NORMAL);
}

void con_box(int y, int x, int h, int w, con_element e)
{
    /* box drawing as text, not the alternate character set */
    const char *hl = g_utf8 ? "\xe2\x94\x80" : "-", *vl = g_utf8 ? "\xe2\x94\x82" : "|";
    const char *tl = g_utf8 ? "\xe2\x94\x8c" : "+", *tr = g_utf8 ? "\xe2\x94\x90" : "+";
    const char *bl = g_utf8 ? "\xe2\x94\x94" : "+", *br = g_utf8 ? "\xe2\x94\x98" : "+";
    attrset(con_attr(e));
    for (int r = 0; r < h; r++) mvhline(y + r, x, ' ', w);
    for (int r = 0; r < h; r++) {
        const char *l = r == 0 ? tl : r == h - 1 ? bl : vl;
        const char *rr = r == 0 ? tr : r == h - 1 ? br : vl;
        mvaddstr(y + r, x, l);
        if (r == 0 || r == h - 1)
            for (int c = 1; c < w - 1; c++) addstr(hl);
        mvaddstr(y + r, x + w - 1, rr);
    }
    attrset(A_NORMAL);
}

int con_wrap(const char *text, int width, char lines[][512], int max_lines)
{
    char *safe = at_text_sanitize(text ? text : "");
    if (!safe) return 0;
    size_t len = strlen(safe);
    int n = 0;
    size_t i = 0;
    while (i < len && n < max_lines) {
        size_t o = 0;
        int used = 0;
        size_t last_space = 0, last_space_i = 0;
        while (i < len) {
            uint32_t cp;
            size_t k = at_utf8_decode(safe + i, len - i, &cp);
            char one[5] = {0};
            memcpy(one, safe + i, k < 4 ? k : 4);
            int cw = at_cells_width(one);
            if (used + cw > width || o + k >= 511) break;
            if (cp == ' ') { last_space = o; last_space_i = i; }
            memcpy(lines[n] + o, safe + i, k);
            o += k;
            used += cw;
            i += k;
        }
        if (i < len && last_space > 0 && n < max_lines - 1) {
            o = last_space;               /* break at the last space */
            i = last_space_i + 1;
        }
        lines[n][o] = '\0';
        n++;
    }
    if (i < len && n > 0) {
        /* out of lines: mark the cut */
        char *l = lines[n - 1];
        size_t ol = strlen(l);
        while (ol > 0 && at_cells_width(l) > width - 1) {
            do { ol--; } while (ol > 0 && ((unsigned char)l[ol] & 0xC0) == 0x80);
            l[ol] = '\0';
        }
        snprintf(l + ol, 512 - ol, "%s", g_utf8 ? "\xe2\x80\xa6" : "~");
    }
    free(safe);
    return n;
}
