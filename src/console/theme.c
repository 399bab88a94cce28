/* theme.c — theme files: parsing the `element = fg bg attr,attr` format,
 * finding a theme by name (user folder, $AETHERTOP_THEMES_DIR, the installed
 * share/ folder, the source tree), and installing it as ncurses colour pairs,
 * folding 256-colour values onto 8/16 colours when the terminal has fewer
 * (and using the monochrome attributes when it has none). */
#include "theme.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const element_names[TH__COUNT] = {
    [TH_NORMAL] = "normal",
    [TH_HEADER] = "header",
    [TH_HEADER_VALUE] = "header.value",
    [TH_BADGE] = "badge",
    [TH_BADGE_ALERT] = "badge.alert",
    [TH_OK] = "ok",
    [TH_WARN] = "warn",
    [TH_BANNER] = "banner",
    [TH_TAB] = "tab",
    [TH_TAB_ACTIVE] = "tab.active",
    [TH_TABLE_HEADER] = "table.header",
    [TH_TABLE_SORTED] = "table.sorted",
    [TH_ROW] = "row",
    [TH_ROW_SELECTED] = "row.selected",
    [TH_ROW_EXPIRING] = "row.expiring",
    [TH_POSITION] = "position",
    [TH_STATUS] = "status",
    [TH_STATUS_ERROR] = "status.error",
    [TH_PROMPT] = "prompt",
    [TH_FUNCBAR_KEY] = "funcbar.key",
    [TH_FUNCBAR_LABEL] = "funcbar.label",
    [TH_DIALOG] = "dialog",
    [TH_DIALOG_TITLE] = "dialog.title",
    [TH_DIALOG_FOCUS] = "dialog.focus",
    [TH_DIALOG_DANGER] = "dialog.danger",
    [TH_SECTION] = "section",
    [TH_LABEL] = "label",
    [TH_VALUE] = "value",
    [TH_SPARK] = "spark",
    [TH_BAR] = "bar",
    [TH_ROW_NOCACHE] = "row.nocache",
};

const char *con_element_name(con_element e)
{
    return e < TH__COUNT ? element_names[e] : "?";
}

/* The built-in default: the same text as themes/default. */
static const char builtin_default[] =
    "normal        = default default\n"
    "header        = 252 236\n"
    "header.value  = 117 236 bold\n"
    "badge         = black 220 bold\n"
    "badge.alert   = 231 160 bold\n"
    "ok            = 114 236 bold\n"
    "warn          = 214 236 bold\n"
    "banner        = 231 124 bold\n"
    "tab           = 250 236\n"
    "tab.active    = black 117 bold\n"
    "table.header  = black 114\n"
    "table.sorted  = black 117 bold\n"
    "row           = default default\n"
    "row.selected  = black 117\n"
    "row.expiring  = 214 default\n"
    "position      = 245 default\n"
    "status        = default default\n"
    "status.error  = 203 default bold\n"
    "prompt        = 117 default bold\n"
    "funcbar.key   = default default\n"
    "funcbar.label = black 73\n"
    "dialog        = 252 238\n"
    "dialog.title  = 117 238 bold\n"
    "dialog.focus  = black 117 bold\n"
    "dialog.danger = 203 238 bold\n"
    "section       = 117 default bold\n"
    "label         = 245 default\n"
    "value         = default default bold\n"
    "spark         = 114 default\n"
    "bar           = 73 default\n"
    "row.nocache   = 203 default bold\n";

static const char builtin_mono[] =
    "normal        = default default\n"
    "header        = default default reverse\n"
    "header.value  = default default reverse,bold\n"
    "badge         = default default bold,reverse\n"
    "badge.alert   = default default bold,reverse,blink\n"
    "ok            = default default reverse\n"
    "warn          = default default reverse,bold\n"
    "banner        = default default bold,reverse\n"
    "tab           = default default reverse\n"
    "tab.active    = default default bold,underline\n"
    "table.header  = default default bold,underline\n"
    "table.sorted  = default default bold,reverse\n"
    "row           = default default\n"
    "row.selected  = default default reverse\n"
    "row.expiring  = default default dim\n"
    "position      = default default dim\n"
    "status        = default default\n"
    "status.error  = default default bold\n"
    "prompt        = default default bold\n"
    "funcbar.key   = default default bold\n"
    "funcbar.label = default default reverse\n"
    "dialog        = default default reverse\n"
    "dialog.title  = default default reverse,bold\n"
    "dialog.focus  = default default bold,underline\n"
    "dialog.danger = default default reverse,bold\n"
    "section       = default default bold,underline\n"
    "label         = default default dim\n"
    "value         = default default bold\n"
    "spark         = default default\n"
    "bar           = default default\n"
    "row.nocache   = default default bold,underline\n";

static void theme_zero(con_theme *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < TH__COUNT; i++) t->style[i] = (con_style){CON_COLOR_DEFAULT, CON_COLOR_DEFAULT, 0};
    t->colors = true;
}

void con_theme_builtin(con_theme *t)
{
    char err[64];
    theme_zero(t);
    con_theme_parse(builtin_default, "default", t, err, sizeof err);
    snprintf(t->name, sizeof t->name, "default");
}

void con_theme_monochrome(con_theme *t)
{
    char err[64];
    con_theme_builtin(t);
    con_theme_parse(builtin_mono, "monochrome", t, err, sizeof err);
    snprintf(t->name, sizeof t->name, "monochrome");
    t->colors = false;
}

/* ---- parsing --------------------------------------------------------------- */

static const char *const colour_names[16] = {
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
    "brightblack", "brightred", "brightgreen", "brightyellow", "brightblue", "brightmagenta",
    "brightcyan", "brightwhite"};

/* RGB of the xterm 256-colour palette entry c. */
static void xterm_rgb(int c, int rgb[3])
{
    static const int base[16][3] = {
        {0, 0, 0}, {205, 0, 0}, {0, 205, 0}, {205, 205, 0}, {0, 0, 238}, {205, 0, 205}, {0, 205, 205},
        {229, 229, 229}, {127, 127, 127}, {255, 0, 0}, {0, 255, 0}, {255, 255, 0}, {92, 92, 255},
        {255, 0, 255}, {0, 255, 255}, {255, 255, 255}};
    if (c < 16) {
        memcpy(rgb, base[c], sizeof base[c]);
    } else if (c < 232) {
        static const int level[6] = {0, 95, 135, 175, 215, 255};
        c -= 16;
        rgb[0] = level[c / 36];
        rgb[1] = level[(c / 6) % 6];
        rgb[2] = level[c % 6];
    } else {
        rgb[0] = rgb[1] = rgb[2] = 8 + (c - 232) * 10;
    }
}

/* The palette entry nearest to rgb among the first n (n = 8, 16 or 256). */
static int nearest_colour(const int rgb[3], int n)
{
    int best = 0;
    long best_d = -1;
    for (int c = 0; c < n; c++) {
        int p[3];
        xterm_rgb(c, p);
        long d = 0;
        for (int k = 0; k < 3; k++) d += (long)(p[k] - rgb[k]) * (p[k] - rgb[k]);
        if (best_d < 0 || d < best_d) { best_d = d; best = c; }
    }
    return best;
}

static int parse_colour(const char *w, short *out)
{
    if (strcmp(w, "default") == 0 || strcmp(w, "-") == 0) { *out = CON_COLOR_DEFAULT; return 0; }
    for (int i = 0; i < 16; i++)
        if (strcasecmp(w, colour_names[i]) == 0) { *out = (short)i; return 0; }
    if (strcasecmp(w, "gray") == 0 || strcasecmp(w, "grey") == 0) { *out = 8; return 0; }
    if (w[0] == '#' && strlen(w) == 7) {
        int rgb[3];
        for (int k = 0; k < 3; k++) {
            char hex[3] = {w[1 + 2 * k], w[2 + 2 * k], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end || !isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1])) return -1;
            rgb[k] = (int)v;
        }
        *out = (short)nearest_colour(rgb, 256);
        return 0;
    }
    if (isdigit((unsigned char)w[0])) {
        char *end;
        long v = strtol(w, &end, 10);
        if (*end || v < 0 || v > 255) return -1;
        *out = (short)v;
        return 0;
    }
    return -1;
}

static int parse_attrs(char *w, unsigned *out, char *bad, size_t badlen)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        {"bold", CON_ATTR_BOLD}, {"underline", CON_ATTR_UNDERLINE}, {"reverse", CON_ATTR_REVERSE},
        {"dim", CON_ATTR_DIM}, {"italic", CON_ATTR_ITALIC}, {"standout", CON_ATTR_STANDOUT},
        {"blink", CON_ATTR_BLINK}, {"none", 0}};
    *out = 0;
    char *save = NULL;
    for (char *tok = strtok_r(w, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool ok = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(tok, names[i].name) == 0) { *out |= names[i].bit; ok = true; }
        if (!ok) { snprintf(bad, badlen, "%s", tok); return -1; }
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Copy at most 40 bytes of a word for an error message, printable ASCII only
 * (a theme file is outside text too). */
static void safe_word(const char *w, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; w[i] && o + 1 < outlen && i < 40; i++)
        out[o++] = (w[i] >= 0x20 && w[i] < 0x7f) ? w[i] : '?';
    out[o] = '\0';
}

int con_theme_parse(const char *text, const char *name, con_theme *t, char *err, size_t errlen)
{
    con_theme work = *t;
    int lineno = 0;
    const char *p = text;
    char line[512];
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (n >= sizeof line) {
            snprintf(err, errlen, "%s:%d: line too long", name, lineno);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (nl ? 1 : 0);
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        char word[48];
        if (!eq) {
            safe_word(s, word, sizeof word);
            snprintf(err, errlen, "%s:%d: expected `element = fg bg [attr,...]`, got \"%s\"", name, lineno, word);
            return -1;
        }
        *eq = '\0';
        char *elem = trim(s);
        int e = -1;
        for (int i = 0; i < TH__COUNT; i++)
            if (strcmp(elem, element_names[i]) == 0) e = i;
        if (e < 0) {
            safe_word(elem, word, sizeof word);
            snprintf(err, errlen, "%s:%d: unknown element \"%s\"", name, lineno, word);
            return -1;
        }
        char *rest = trim(eq + 1);
        char *words[4] = {0};
        int nw = 0;
        char *save = NULL;
        for (char *tok = strtok_r(rest, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
            if (nw == 3) {
                safe_word(tok, word, sizeof word);
                snprintf(err, errlen, "%s:%d: unexpected \"%s\" (attributes are comma-separated)", name, lineno, word);
                return -1;
            }
            words[nw++] = tok;
        }
        if (nw < 2) {
            snprintf(err, errlen, "%s:%d: %s needs a foreground and a background colour", name, lineno, elem);
            return -1;
        }
        con_style st = {0, 0, 0};
        for (int k = 0; k < 2; k++) {
            if (parse_colour(words[k], k ? &st.bg : &st.fg) < 0) {
                safe_word(words[k], word, sizeof word);
                snprintf(err, errlen, "%s:%d: unknown colour \"%s\"", name, lineno, word);
                return -1;
            }
        }
        if (nw == 3) {
            char attrs[128];
            snprintf(attrs, sizeof attrs, "%s", words[2]);
            char bad[48];
            if (parse_attrs(attrs, &st.attrs, bad, sizeof bad) < 0) {
                safe_word(bad, word, sizeof word);
                snprintf(err, errlen, "%s:%d: unknown attribute \"%s\"", name, lineno, word);
                return -1;
            }
        }
        work.style[e] = st;
    }
    *t = work;
    snprintf(t->name, sizeof t->name, "%s", name);
    return 0;
}

/* ---- finding --------------------------------------------------------------- */

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len > 256 * 1024) {
            snprintf(err, errlen, "%s: too large for a theme file", path);
            free(buf);
            fclose(f);
            return NULL;
        }
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        snprintf(err, errlen, "%s: not a text file", path);
        free(buf);
        return NULL;
    }
    return buf;
}

static bool is_file(const char *path)
{
    return access(path, R_OK) == 0;
}

static bool valid_name(const char *name)
{
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
    return strchr(name, '/') == NULL;
}

/* The directories searched for a theme NAME, in order; returns how many. */
static int theme_dirs(char dirs[5][PATH_MAX])
{
    int n = 0;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg) snprintf(dirs[n++], PATH_MAX, "%s/aethertop/themes", xdg);
    else if (home && *home) snprintf(dirs[n++], PATH_MAX, "%s/.config/aethertop/themes", home);
    const char *env = getenv("AETHERTOP_THEMES_DIR");
    if (env && *env) snprintf(dirs[n++], PATH_MAX, "%s", env);
    char exe[PATH_MAX - 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(dirs[n++], PATH_MAX, "%s/../share/aethertop/themes", exe);
            snprintf(dirs[n++], PATH_MAX, "%s/../../themes", exe);
        }
    }
    return n;
}

int con_theme_load(const char *name_or_path, con_theme *t, char *err, size_t errlen)
{
    con_theme_builtin(t);
    if (!name_or_path || !*name_or_path) return 0;
    char path[PATH_MAX] = "";
    if (!valid_name(name_or_path)) {
        snprintf(path, sizeof path, "%s", name_or_path);
    } else {
        char dirs[5][PATH_MAX];
        int n = theme_dirs(dirs);
        for (int i = 0; i < n && !path[0]; i++) {
            char cand[PATH_MAX];
            if (snprintf(cand, sizeof cand, "%s/%s", dirs[i], name_or_path) >= (int)sizeof cand) continue;
            if (is_file(cand)) snprintf(path, sizeof path, "%s", cand);
        }
        if (!path[0] && is_file(name_or_path)) snprintf(path, sizeof path, "%s", name_or_path);
        if (!path[0]) {
            if (strcmp(name_or_path, "default") == 0) return 0;
            if (strcmp(name_or_path, "monochrome") == 0) { con_theme_monochrome(t); return 0; }
            char word[48];
            safe_word(name_or_path, word, sizeof word);
            snprintf(err, errlen, "theme \"%s\" not found (looked in %s%s)", word,
                     n ? dirs[0] : "", n > 1 ? " and the installed themes" : "");
            return -1;
        }
    }
    char *text = read_file(path, err, errlen);
    if (!text) return -1;
    int rc = con_theme_parse(text, path, t, err, errlen);
    free(text);
    if (rc < 0) con_theme_builtin(t);
    else {
        /* show the theme's short name, not its full path */
        const char *base = strrchr(path, '/');
        snprintf(t->name, sizeof t->name, "%.127s", base ? base + 1 : path);
        t->colors = true;
        bool any_colour = false;
        for (int i = 0; i < TH__COUNT; i++)
            if (t->style[i].fg != CON_COLOR_DEFAULT || t->style[i].bg != CON_COLOR_DEFAULT) any_colour = true;
        t->colors = any_colour;
    }
    return rc;
}

/* ---- ncurses ---------------------------------------------------------------- */

static attr_t element_attr[TH__COUNT];

/* Fold a theme colour onto what the terminal has. *bold set for a bright
 * foreground shown as bold base colour on 8-colour terminals. */
static short fold_colour(short c, bool *bold)
{
    if (c == CON_COLOR_DEFAULT || c < COLORS) return c;
    int rgb[3];
    xterm_rgb(c, rgb);
    int n = COLORS >= 16 ? 16 : 8;
    int best = nearest_colour(rgb, n);
    if (n == 8 && c >= 8 && c < 16) {
        best = c - 8;
        if (bold) *bold = true;
    }
    return (short)best;
}

static attr_t to_curses(unsigned a)
{
    attr_t r = A_NORMAL;
    if (a & CON_ATTR_BOLD) r |= A_BOLD;
    if (a & CON_ATTR_UNDERLINE) r |= A_UNDERLINE;
    if (a & CON_ATTR_REVERSE) r |= A_REVERSE;
    if (a & CON_ATTR_DIM) r |= A_DIM;
    if (a & CON_ATTR_STANDOUT) r |= A_STANDOUT;
    if (a & CON_ATTR_BLINK) r |= A_BLINK;
#ifdef A_ITALIC
    if (a & CON_ATTR_ITALIC) r |= A_ITALIC;
#endif
    return r;
}

void con_theme_apply(const con_theme *t)
{
    bool colour = t->colors && has_colors() && COLORS >= 8;
    /* a colour theme on a terminal without colour (vt100): its attributes
       were chosen beside its colours (the default theme's column header is
       plain black on green), so use the monochrome theme's, made for this */
    con_theme mono;
    if (!colour && t->colors) {
        con_theme_monochrome(&mono);
        t = &mono;
    }
    for (int e = 0; e < TH__COUNT; e++) {
        const con_style *s = &t->style[e];
        attr_t a = to_curses(s->attrs);
        if (colour) {
            bool bold = false;
            short fg = fold_colour(s->fg, &bold);
            short bg = fold_colour(s->bg, NULL);
            if (init_pair((short)(e + 1), fg, bg) == OK) a |= COLOR_PAIR(e + 1);
            if (bold) a |= A_BOLD;
        } else if (e == TH_ROW_SELECTED && !(s->attrs & (CON_ATTR_REVERSE | CON_ATTR_STANDOUT | CON_ATTR_UNDERLINE))) {
            /* a colour theme on a terminal without colour: keep the cursor visible */
            a |= A_REVERSE;
        }
        element_attr[e] = a;
    }
}

attr_t con_attr(con_element e)
{
    return e < TH__COUNT ? element_attr[e] : A_NORMAL;
}
