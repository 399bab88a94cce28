/* cfgfile.c — owns reading aethertop's INI configuration file with libinih
 * (see cfgfile.h): a line-counting reader so every message names its line,
 * strict sections and keys, values checked as they are read (a bad one is
 * "PATH:LINE: message"), and a warning when a file holding a password can
 * be read by others. */
#include "aethertop/cfgfile.h"
#include "aethertop/i18n.h"
#include "aethertop/secret.h"
#include "aethertop/text.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_FILE_BYTES (1 << 20)

void at_cfgfile_init(at_cfgfile *c)
{
    memset(c, 0, sizeof *c);
    c->read_only = -1;
}

void at_cfgfile_free(at_cfgfile *c)
{
    if (!c) return;
    free(c->path);
    /* the URLs may hold passwords */
    if (c->redis) at_wipe_free(c->redis, strlen(c->redis));
    if (c->database) at_wipe_free(c->database, strlen(c->database));
    free(c->env_file);
    free(c->theme);
    free(c->columns);
    free(c->audit_log);
    at_cfgfile_init(c);
}

int at_cfgfile_default_path(at_getenv_fn getenv_fn, char *out, size_t outlen)
{
    const char *xdg = getenv_fn ? getenv_fn("XDG_CONFIG_HOME") : NULL;
    const char *home = getenv_fn ? getenv_fn("HOME") : NULL;
    int n;
    if (xdg && xdg[0] == '/') n = snprintf(out, outlen, "%s/aethertop/config", xdg);
    else if (home && *home) n = snprintf(out, outlen, "%s/.config/aethertop/config", home);
    else return -1;
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* ---- parsing ------------------------------------------------------------------ */

typedef struct {
    /* the reader */
    const char *p, *end;
    int line;
    /* the handler */
    at_cfgfile *out;
    const char *name;
    int err_line;
    char err[512];
    unsigned seen;          /* keys given, one bit per key */
} parse_ctx;

static void fail(parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parse_ctx *c, const char *fmt, ...)
{
    if (c->err_line) return;             /* the first error is the one reported */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_line = c->line;
}

/* A value as a message quotes it (at_value_shown: a secret hidden, made
 * visible, at most FRAG_CPS code points); dst holds FRAG_CAP bytes. */
#define FRAG_CPS 60
#define FRAG_CAP (FRAG_CPS * 4 + sizeof "…")
static void frag(char *dst, size_t cap, const char *v)
{
    char *shown = at_value_shown(v, FRAG_CPS);
    snprintf(dst, cap, "%s", shown);
    free(shown);
}

/* Lines one at a time, counting them; a line longer than inih's buffer
 * is reported and replaced by a comment (never split in two). */
static char *reader(char *str, int num, void *stream)
{
    parse_ctx *c = stream;
    if (c->p >= c->end) return NULL;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    size_t len = nl ? (size_t)(nl - c->p) + 1 : (size_t)(c->end - c->p);
    c->line++;
    if (num < 4) return NULL;
    /* a section header is checked here, on its own line (inih only tells
       the handler about sections that hold keys) */
    const char *q = c->p, *qe = c->p + len;
    while (q < qe && (*q == ' ' || *q == '\t')) q++;
    if (q < qe && *q == '[') {
        const char *close = memchr(q, ']', (size_t)(qe - q));
        if (close) {
            char name[96];
            size_t nlen = (size_t)(close - q - 1);
            snprintf(name, sizeof name, "%.*s", (int)(nlen < 80 ? nlen : 80), q + 1);
            /* inih strips blanks around the name */
            char *ns = name;
            while (*ns == ' ' || *ns == '\t') ns++;
            for (size_t e = strlen(ns); e > 0 && (ns[e - 1] == ' ' || ns[e - 1] == '\t');) ns[--e] = '\0';
            if (strcmp(ns, "connection") != 0 && strcmp(ns, "console") != 0 && strcmp(ns, "safety") != 0) {
                char f[FRAG_CAP];
                frag(f, sizeof f, ns);
                fail(c, _("unknown section [%s] (sections: [connection], [console], [safety])"), f);
            }
        }
    }
    if (len > (size_t)num - 3) {
        fail(c, _("line too long (at most %d bytes)"), num - 3);
        snprintf(str, (size_t)num, ";\n");
    } else {
        memcpy(str, c->p, len);
        str[len] = '\0';
    }
    c->p += len;
    return str;
}

static bool parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = 1; return true; }
        if (strcasecmp(v, no[i]) == 0) { *out = 0; return true; }
    }
    return false;
}

static bool parse_secs(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < lo || d > hi) return false;
    *out = d;
    return true;
}

static char *dup_or_die(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

/* A relative path in the file is relative to the file's directory;
 * "~/..." is under $HOME. */
static char *resolve_path(const parse_ctx *c, const char *v)
{
    if (v[0] == '~' && v[1] == '/') {
        const char *home = getenv("HOME");
        if (home && *home) {
            size_t n = strlen(home) + strlen(v);
            char *r = malloc(n);
            if (!r) abort();
            snprintf(r, n, "%s%s", home, v + 1);
            return r;
        }
    }
    const char *slash = strrchr(c->name, '/');
    if (v[0] == '/' || !slash) return dup_or_die(v);
    size_t dl = (size_t)(slash - c->name);
    size_t n = dl + strlen(v) + 2;
    char *r = malloc(n);
    if (!r) abort();
    snprintf(r, n, "%.*s/%s", (int)dl, c->name, v);
    return r;
}

enum { K_REDIS, K_DATABASE, K_ENV_FILE, K_TIMEOUT, K_REFRESH, K_THEME, K_COLUMNS, K_READ_ONLY, K_AUDIT_LOG, K__N };

static const struct {
    const char *section, *key;
} keys[K__N] = {
    [K_REDIS] = {"connection", "redis"},     [K_DATABASE] = {"connection", "database"},
    [K_ENV_FILE] = {"connection", "env_file"}, [K_TIMEOUT] = {"connection", "timeout"},
    [K_REFRESH] = {"console", "refresh"},    [K_THEME] = {"console", "theme"},
    [K_COLUMNS] = {"console", "columns"},    [K_READ_ONLY] = {"safety", "read_only"},
    [K_AUDIT_LOG] = {"safety", "audit_log"},
};

static void set_value(parse_ctx *c, int k, const char *v)
{
    at_cfgfile *o = c->out;
    char f[FRAG_CAP], err[512];
    double d;
    switch (k) {
    case K_REDIS: {
        at_redis_target t;
        memset(&t, 0, sizeof t);
        if (at_redis_url_parse(v, "redis", &t, err, sizeof err) < 0) {
            fail(c, "%s", err);
            return;
        }
        at_redis_target_free(&t);
        o->redis = dup_or_die(v);
        break;
    }
    case K_DATABASE: {
        const char *sep = strstr(v, "://");
        if (!sep || (strncmp(v, "postgresql", 10) != 0 && strncmp(v, "postgres://", 11) != 0)) {
            frag(f, sizeof f, v);     /* a keyword string's password hidden too */
            fail(c, _("database: expected postgresql://user:password@host:port/dbname, got \"%s\""), f);
            return;
        }
        o->database = dup_or_die(v);
        break;
    }
    case K_ENV_FILE: o->env_file = resolve_path(c, v); break;
    case K_TIMEOUT:
        if (!parse_secs(v, 0.001, 3600, &d)) {
            frag(f, sizeof f, v);
            fail(c, _("timeout: expected seconds more than 0 and at most 3600, got \"%s\""), f);
            return;
        }
        o->timeout_ms = (int)(d * 1000) > 0 ? (int)(d * 1000) : 1;
        break;
    case K_REFRESH:
        if (!parse_secs(v, 0.2, 3600, &d)) {
            frag(f, sizeof f, v);
            fail(c, _("refresh: expected seconds between 0.2 and 3600, got \"%s\""), f);
            return;
        }
        o->refresh_s = d;
        break;
    case K_THEME: o->theme = dup_or_die(v); break;
    case K_COLUMNS:
        o->columns = dup_or_die(v);
        o->columns_line = c->line;
        break;
    case K_READ_ONLY:
        if (!parse_bool(v, &o->read_only)) {
            frag(f, sizeof f, v);
            fail(c, _("read_only: expected true or false, got \"%s\""), f);
            return;
        }
        break;
    case K_AUDIT_LOG: o->audit_log = resolve_path(c, v); break;
    default: break;
    }
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *c = user;
    char s[FRAG_CAP], n[FRAG_CAP];
    frag(s, sizeof s, section);
    frag(n, sizeof n, name);
    if (!*section) {
        fail(c, _("\"%s\" outside a section (sections: [connection], [console], [safety])"), n);
        return 0;
    }
    bool known_section = false;
    for (int k = 0; k < K__N; k++) {
        if (strcmp(keys[k].section, section) != 0) continue;
        known_section = true;
        if (strcmp(keys[k].key, name) != 0) continue;
        if (c->seen & (1u << k)) {
            fail(c, _("\"%s\" given twice in [%s] (a value must fit on one line)"), n, s);
            return 0;
        }
        c->seen |= 1u << k;
        if (!value || !*value) {
            fail(c, _("\"%s\" has no value"), n);
            return 0;
        }
        set_value(c, k, value);
        return c->err_line ? 0 : 1;
    }
    if (!known_section) {
        fail(c, _("unknown section [%s] (sections: [connection], [console], [safety])"), s);
        return 0;
    }
    char list[256] = "";
    size_t l = 0;
    for (int k = 0; k < K__N && l < sizeof list; k++)
        if (strcmp(keys[k].section, section) == 0)
            l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", keys[k].key);
    fail(c, _("unknown key \"%s\" in [%s] (keys: %s)"), n, s, list);
    return 0;
}

static bool has_password(const char *url)
{
    return url && at_conninfo_has_secret(url);
}

int at_cfgfile_parse(const char *text, size_t len, const char *name, at_cfgfile *out, char *err,
                     size_t errlen)
{
    at_cfgfile_init(out);
    parse_ctx c = {.p = text, .end = text + len, .out = out, .name = name};
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, _("%s: not a text file (contains a NUL byte)"), name);
        return -1;
    }
    if (!at_utf8_valid(text, len)) {
        /* name the first line holding bad UTF-8 */
        int line = 1;
        const char *ls = text;
        for (const char *q = text; q < text + len; q++) {
            if (*q != '\n') continue;
            if (!at_utf8_valid(ls, (size_t)(q - ls))) break;
            ls = q + 1;
            line++;
        }
        snprintf(err, errlen, _("%s:%d: not valid UTF-8"), name, line);
        return -1;
    }
    int rc = ini_parse_stream(reader, &c, handler, &c);
    if (rc < 0) {
        snprintf(err, errlen, _("%s: out of memory"), name);
        at_cfgfile_free(out);
        return -1;
    }
    if (c.err_line && (rc == 0 || rc >= c.err_line)) {
        snprintf(err, errlen, "%s:%d: %s", name, c.err_line, c.err);
        at_cfgfile_free(out);
        return -1;
    }
    if (rc > 0) {
        snprintf(err, errlen, _("%s:%d: syntax error (expected [section], key = value, or a ; or # comment)"),
                 name, rc);
        at_cfgfile_free(out);
        return -1;
    }
    out->path = dup_or_die(name);
    return 0;
}

int at_cfgfile_load(const char *path, bool must_exist, at_cfgfile *out, char *err, size_t errlen)
{
    at_cfgfile_init(out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        /* the default location may be absent or unreadable (another user's
         * HOME under sudo): only a file named with --config must be read */
        if ((errno == ENOENT || errno == ENOTDIR || errno == EACCES) && !must_exist) return 0;
        snprintf(err, errlen, _("%s: cannot read the config file: %s"), path, strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IONBF, 0);   /* no stdio buffer keeps a copy of the file (passwords) */
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, _("%s: not a regular file"), path);
        fclose(f);
        return -1;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        snprintf(err, errlen, _("%s: too large for a config file (over 1 MiB)"), path);
        fclose(f);
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) abort();
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    bool rerr = ferror(f);
    fclose(f);
    if (rerr) {
        snprintf(err, errlen, _("%s: cannot read the config file"), path);
        at_wipe_free(buf, (size_t)st.st_size + 1);
        return -1;
    }
    buf[n] = '\0';
    int rc = at_cfgfile_parse(buf, n, path, out, err, errlen);
    at_wipe_free(buf, (size_t)st.st_size + 1);
    if (rc == 0 && (st.st_mode & 077) && (has_password(out->redis) || has_password(out->database)))
        snprintf(out->warning, sizeof out->warning,
                 _("%s holds a password and other users may read it (chmod 600 %s)"), path, path);
    return rc;
}
