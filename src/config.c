/* config.c — owns connection settings (SPEC section 1): Redis URL and
 * sentinel-list parsing, the gateway .env file parser, and resolving the
 * whole configuration with precedence flag > environment > env-file >
 * defaults; hiding what may be a password in connection strings (display
 * copies, argv). Error messages are one line, name the setting, and never
 * contain a password. */
#include "aethertop/config.h"
#include "aethertop/secret.h"
#include "aethertop/text.h"

#include <libpq-fe.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLAG_REDIS "--redis"
#define FLAG_DATABASE "--database"
#define SCHEMES_EXPECTED "(expected redis://, rediss:// or unix://)"
#define ENVFILE_MAX_BYTES (16u * 1024u * 1024u)

/* ------------------------------------------------------------ helpers */

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* A short, printable copy of a fragment for an error message (never used
 * for anything that may hold a password). */
static const char *frag(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    const size_t limit = 40;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        if (i == limit) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        dst[o++] = (c < 0x20 || c >= 0x7F) ? '?' : (char)c;
    }
    dst[o] = '\0';
    return dst;
}

static void wipe_str(char *s)
{
    if (s)
        at_wipe_free(s, strlen(s));
}

static char *dup_n(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

/* Make room for `need` more bytes after the `used` ones of *buf (cap
 * *cap). A buffer that may hold a secret is not realloc'd: a new one takes
 * the bytes and the old one is wiped before it goes back. False (with the
 * old buffer wiped and freed, *buf NULL) when out of memory. */
static bool grow_wiped(char **buf, size_t *cap, size_t used, size_t need)
{
    if (used + need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 64;
    while (nc < used + need)
        nc *= 2;
    char *nb = malloc(nc);
    if (nb && used)
        memcpy(nb, *buf, used);
    if (*buf)
        at_wipe_free(*buf, *cap);
    *buf = nb;
    *cap = nb ? nc : 0;
    return nb != NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* urllib.parse.unquote: %XX decoded, malformed escapes kept as they are. */
static char *pct_decode(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            r[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            r[o++] = s[i];
        }
    }
    r[o] = '\0';
    return r;
}

/* Digits only, within [lo, hi]. */
static bool parse_uint(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_port(const char *s, size_t n, int *port)
{
    return parse_uint(s, n, 1, 65535, port);
}

static bool truthy(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
                 strcasecmp(v, "on") == 0);
}

/* ------------------------------------------------------------ redaction */

/* True when a query keyword (percent-decoded when decode: libpq decodes a
 * URL's keywords as well as its values) names an option libpq marks secret
 * (dispchar '*': password, sslpassword), or mentions a password at all. */
static bool secret_keyword(const char *kw, size_t n, bool decode)
{
    char *name = decode ? pct_decode(kw, n) : dup_n(kw, n);
    if (!name)
        return true; /* out of memory: the safe side */
    bool secret = strcasestr(name, "password") != NULL;
    char *e = NULL;
    PQconninfoOption *opts = secret ? NULL : PQconninfoParse("", &e);
    PQfreemem(e);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->dispchar && strchr(o->dispchar, '*') && strcasecmp(o->keyword, name) == 0)
            secret = true;
    PQconninfoFree(opts);
    free(name);
    return secret;
}

/* Called with each [start, end) of a string that may hold a secret. */
typedef void (*span_fn)(void *ctx, size_t start, size_t end);

/* Joins overlapping or touching spans given in order of their starts. */
typedef struct {
    span_fn fn;
    void *ctx;
    size_t start, end;
    bool open;
} span_merge;

static void merge_add(span_merge *m, size_t start, size_t end)
{
    if (m->open && start <= m->end) {
        if (end > m->end)
            m->end = end;
        return;
    }
    if (m->open)
        m->fn(m->ctx, m->start, m->end);
    *m = (span_merge){m->fn, m->ctx, start, end, true};
}

/* The parts of a URL that may hold a secret, in order: the password of
 * user:PASSWORD@ and the value of each query parameter with a secret
 * keyword (every query value when all_values; a parameter without '=' is
 * then hidden whole). A value runs to the next '&': libpq knows no '#'.
 * Strings without "://" have none. */
static void url_secret_spans(const char *url, bool all_values, span_fn fn, void *ctx)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return;
    const char *rest = sep + 3;
    /* The last '@' ends the credentials even when a password holds an
     * unencoded '/', '?', '#' or '@' (over-redacting is the safe side). */
    const char *at = strrchr(rest, '@');
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    bool user_pw = colon != NULL;
    span_merge m = {fn, ctx, 0, 0, false};
    /* The query is read where libpq reads it: from the first '?' after the
     * first '@' when that comes before any '/' (the last '@' may be in the
     * query itself). */
    const char *first_at = strchr(rest, '@'), *slash = strchr(rest, '/');
    const char *q = strchr(first_at && (!slash || first_at < slash) ? first_at : rest, '?');
    for (const char *p = q ? q + 1 : NULL; p;) {
        const char *pe = p + strcspn(p, "&");
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *vs = NULL;
        if (eq && (all_values || secret_keyword(p, (size_t)(eq - p), true)))
            vs = eq + 1;
        else if (!eq && all_values && pe > p)
            vs = p;
        if (vs && user_pw && colon + 1 <= vs) {
            merge_add(&m, (size_t)(colon + 1 - url), (size_t)(at - url));
            user_pw = false;
        }
        if (vs)
            merge_add(&m, (size_t)(vs - url), (size_t)(pe - url));
        p = *pe ? pe + 1 : NULL;
    }
    if (user_pw)
        merge_add(&m, (size_t)(colon + 1 - url), (size_t)(at - url));
    if (m.open)
        fn(ctx, m.start, m.end);
}

/* A name that says its value is secret, beyond libpq's own options:
 * ENCRYPTION_KEY, a key, a secret, a token (for values quoted in messages,
 * where hiding too much costs nothing). */
static bool secret_name(const char *name, size_t n)
{
    static const char *const words[] = {"pass", "pwd", "key", "secret", "token", NULL};
    char *dup = dup_n(name, n);
    if (!dup)
        return true;
    bool secret = false;
    for (const char *const *w = words; *w && !secret; w++)
        secret = strcasestr(dup, *w) != NULL;
    free(dup);
    return secret;
}

/* The values of secret options in a keyword/value string, read the way
 * libpq reads it: blanks around '=', '...' quoting, backslash escapes in
 * and out of quotes. Where libpq would stop with a syntax error, the rest
 * of the string is hidden when it mentions a password. With any_secret,
 * the value of every name secret_name() flags is hidden too. */
static void kv_secret_spans(const char *s, bool any_secret, span_fn fn, void *ctx)
{
    const char *p = s;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *ks = p, *vs, *ve;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        const char *ke = p;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=')
            goto bad;
        p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\'') {
            vs = ++p;
            for (; *p && *p != '\''; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                goto bad; /* unterminated */
            ve = p++;
        } else {
            vs = p;
            for (; *p && !isspace((unsigned char)*p); p++)
                if (*p == '\\' && p[1])
                    p++;
            ve = p;
        }
        if (secret_keyword(ks, (size_t)(ke - ks), false) ||
            (any_secret && secret_name(ks, (size_t)(ke - ks))))
            fn(ctx, (size_t)(vs - s), (size_t)(ve - s));
        continue;
    bad: {
        /* libpq would stop here. The rest is hidden when the string names
         * a secret anywhere (`password="a b"` leaves `b"` here), else up to
         * its last '@' from its first ':' (the user:password@ of a URL
         * missing a '/', "postgresql:/u:pw@h") */
        const char *at = strrchr(ks, '@');
        if (strcasestr(s, "password") || (any_secret && secret_name(s, strlen(s)))) {
            fn(ctx, (size_t)(ks - s), strlen(s));
        } else if (at) {
            const char *colon = memchr(ks, ':', (size_t)(at - ks));
            fn(ctx, (size_t)((colon ? colon + 1 : ks) - s), (size_t)(at - s));
        }
        return;
    }
    }
}

/* Either kind of connection string (any_secret: see kv_secret_spans). */
static void conninfo_secret_spans(const char *s, bool any_secret, span_fn fn, void *ctx)
{
    if (strstr(s, "://"))
        url_secret_spans(s, false, fn, ctx);
    else
        kv_secret_spans(s, any_secret, fn, ctx);
}

typedef struct {
    const char *src;
    char *out;
    size_t o, done;
} redact_ctx;

static void redact_span(void *vctx, size_t start, size_t end)
{
    redact_ctx *c = vctx;
    memcpy(c->out + c->o, c->src + c->done, start - c->done);
    c->o += start - c->done;
    memcpy(c->out + c->o, "***", 3);
    c->o += 3;
    c->done = end;
}

/* A copy of s with each span that `spans` finds replaced by "***". */
static char *redact_with(const char *s, bool flag, void (*spans)(const char *, bool, span_fn, void *))
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    /* each hidden part starts after at least one byte of its own (':', '=',
     * '?', '&' or a blank) and grows to at most "***" */
    char *out = malloc(4 * len + 8);
    if (!out)
        return NULL;
    redact_ctx c = {s, out, 0, 0};
    spans(s, flag, redact_span, &c);
    memcpy(out + c.o, s + c.done, len - c.done + 1);
    return out;
}

static char *url_redact(const char *url, bool all_values)
{
    return redact_with(url, all_values, url_secret_spans);
}

char *at_url_redact(const char *url)
{
    return url_redact(url, false);
}

char *at_value_shown(const char *value, size_t max_cps)
{
    char *hidden = redact_with(value ? value : "", true, conninfo_secret_spans);
    if (!hidden)
        abort(); /* out of memory */
    char *shown = at_text_shown(hidden, max_cps);
    at_wipe_free(hidden, strlen(hidden));
    return shown;
}

typedef struct {
    char *s;
    size_t n;
} scrub_ctx;

static void scrub_span(void *vctx, size_t start, size_t end)
{
    scrub_ctx *c = vctx;
    if (end > start) {
        if (c->s)
            memset(c->s + start, '*', end - start);
        c->n++;
    }
}

size_t at_conninfo_scrub(char *s)
{
    scrub_ctx c = {s, 0};
    if (s)
        conninfo_secret_spans(s, false, scrub_span, &c);
    return c.n;
}

bool at_conninfo_has_secret(const char *s)
{
    scrub_ctx c = {NULL, 0};
    if (s)
        conninfo_secret_spans(s, false, scrub_span, &c);
    return c.n > 0;
}

/* ------------------------------------------------------------ Redis */

void at_redis_target_free(at_redis_target *t)
{
    if (!t)
        return;
    free(t->host);
    free(t->socket_path);
    free(t->username);
    wipe_str(t->password);
    for (size_t i = 0; i < t->n_sentinels; i++)
        free(t->sentinels[i].host);
    free(t->sentinels);
    free(t->sentinel_service);
    memset(t, 0, sizeof *t);
}

/* Why a fragment of a URL is not quoted in an error: with an '@' after the
 * host part, an unencoded '/', '?' or '#' may have split a password, and
 * the "port" or "database" may be a piece of it. */
#define NOT_SHOWN_AT "not shown: with an '@' after the host it may be part of a password; " \
                     "percent-encode '/', '?' and '#' in a password"

/* "host", "host:port" or "[v6]:port" (n bytes). host gets a malloc'd copy.
 * quiet: the text is not quoted in errors (NOT_SHOWN_AT). */
static int parse_hostport(const char *s, size_t n, int defport, const char *setting, bool quiet,
                          char **host, int *port, char *err, size_t errlen)
{
    char f[64];
    const char *h = s, *pstart = NULL;
    size_t hn;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            if (quiet)
                seterr(err, errlen, "%s: bad host (missing ']'; " NOT_SHOWN_AT ")", setting);
            else
                seterr(err, errlen, "%s: bad host \"%s\" (missing ']')", setting, frag(f, sizeof f, s, n));
            return -1;
        }
        h = s + 1;
        hn = (size_t)(close - h);
        const char *after = close + 1;
        size_t left = n - (size_t)(after - s);
        if (left > 0) {
            if (*after != ':') {
                if (quiet)
                    seterr(err, errlen, "%s: bad host (" NOT_SHOWN_AT ")", setting);
                else
                    seterr(err, errlen, "%s: bad host \"%s\"", setting, frag(f, sizeof f, s, n));
                return -1;
            }
            pstart = after + 1;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        hn = colon ? (size_t)(colon - s) : n;
        if (colon)
            pstart = colon + 1;
    }
    if (hn == 0) {
        seterr(err, errlen, "%s: missing host", setting);
        return -1;
    }
    *port = defport;
    if (pstart) {
        size_t pn = n - (size_t)(pstart - s);
        if (!parse_port(pstart, pn, port)) {
            if (quiet)
                seterr(err, errlen, "%s: bad port (expected 1-65535; " NOT_SHOWN_AT ")", setting);
            else
                seterr(err, errlen, "%s: bad port \"%s\" (expected 1-65535)", setting,
                       frag(f, sizeof f, pstart, pn));
            return -1;
        }
    }
    *host = pct_decode(h, hn);
    if (!*host) {
        seterr(err, errlen, "%s: out of memory", setting);
        return -1;
    }
    return 0;
}

static int set_db(const char *s, size_t n, const char *setting, bool quiet, int *db, char *err,
                  size_t errlen)
{
    char f[64];
    if (!parse_uint(s, n, 0, INT_MAX, db)) {
        if (quiet)
            seterr(err, errlen, "%s: bad database (expected a non-negative integer; " NOT_SHOWN_AT ")",
                   setting);
        else
            seterr(err, errlen, "%s: bad database \"%s\" (expected a non-negative integer)", setting,
                   frag(f, sizeof f, s, n));
        return -1;
    }
    return 0;
}

/* One part of a query string as urllib.parse.parse_qs decodes it: '+' is
 * a space, then %XX (malformed escapes kept). */
static char *qs_decode(const char *s, size_t n)
{
    char *plus = dup_n(s, n);
    if (!plus)
        return NULL;
    for (char *c = plus; *c; c++)
        if (*c == '+')
            *c = ' ';
    char *r = pct_decode(plus, n);
    at_wipe_free(plus, n + 1);
    return r;
}

/* The next pair of a query string (n bytes) that parse_qs keeps, from *at
 * on: pairs split at '&', one without '=' or with an empty value dropped.
 * False at the end. */
static bool qs_next_pair(const char *q, size_t n, size_t *at, const char **name, size_t *name_len,
                         const char **value, size_t *value_len)
{
    while (*at < n) {
        const char *item = q + *at;
        const char *amp = memchr(item, '&', n - *at);
        size_t len = amp ? (size_t)(amp - item) : n - *at;
        *at += len + 1;
        const char *eq = memchr(item, '=', len);
        if (!eq || eq + 1 == item + len)
            continue;
        *name = item;
        *name_len = (size_t)(eq - item);
        *value = eq + 1;
        *value_len = len - *name_len - 1;
        return true;
    }
    return false;
}

/* The query string (n bytes) as redis-py's parse_url reads it: parse_qs
 * (pairs split at '&', a pair without '=' or with an empty value dropped,
 * '+' and %XX decoded in names and values), the first value of a name
 * wins, and each value is percent-decoded a second time (unquote). Used:
 * db, password, username (the URL's own user:password@ wins over these). */
static int parse_redis_query(const char *q, size_t n, const char *setting, bool quiet,
                             at_redis_target *out, bool *db_seen, char *err, size_t errlen)
{
    bool pw_seen = false, user_seen = false;
    size_t at = 0, nn, vn;
    const char *nm, *val;
    while (qs_next_pair(q, n, &at, &nm, &nn, &val, &vn)) {
        char *name = qs_decode(nm, nn);
        if (!name) {
            seterr(err, errlen, "%s: out of memory", setting);
            return -1;
        }
        bool is_db = strcmp(name, "db") == 0, is_pw = strcmp(name, "password") == 0,
             is_user = strcmp(name, "username") == 0;
        free(name);
        if (!(is_db && !*db_seen) && !(is_pw && !pw_seen) && !(is_user && !user_seen))
            continue;
        char *once = qs_decode(val, vn);
        char *v = once ? pct_decode(once, strlen(once)) : NULL;
        if (once)
            at_wipe_free(once, vn + 1);
        if (!v) {
            seterr(err, errlen, "%s: out of memory", setting);
            return -1;
        }
        int rc = 0;
        if (is_db) {
            *db_seen = true;
            rc = set_db(v, strlen(v), setting, quiet, &out->db, err, errlen);
            free(v);
        } else if (is_pw) {
            pw_seen = true;
            if (out->password)
                wipe_str(v);
            else
                out->password = v;
        } else {
            user_seen = true;
            if (out->username)
                free(v);
            else
                out->username = v;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int at_redis_url_parse(const char *url, const char *setting, at_redis_target *out, char *err,
                       size_t errlen)
{
    char f[64];
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!setting)
        setting = "REDIS_URL";
    if (!url || !*url) {
        seterr(err, errlen, "%s: empty Redis URL " SCHEMES_EXPECTED, setting);
        return -1;
    }
    const char *sep = strstr(url, "://");
    bool scheme_ok = sep && sep > url && isalpha((unsigned char)url[0]);
    for (const char *p = url; scheme_ok && p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            scheme_ok = false;
    if (!scheme_ok) {
        seterr(err, errlen, "%s: missing scheme " SCHEMES_EXPECTED, setting);
        return -1;
    }
    size_t sn = (size_t)(sep - url);
    if (sn == 5 && strncasecmp(url, "redis", 5) == 0)
        out->transport = AT_REDIS_TCP;
    else if (sn == 6 && strncasecmp(url, "rediss", 6) == 0)
        out->transport = AT_REDIS_TLS;
    else if (sn == 4 && strncasecmp(url, "unix", 4) == 0)
        out->transport = AT_REDIS_UNIX;
    else {
        seterr(err, errlen, "%s: unsupported scheme \"%s\" " SCHEMES_EXPECTED, setting,
               frag(f, sizeof f, url, sn));
        return -1;
    }

    /* As urlparse splits it: the authority runs to the first '/', '?' or
     * '#' and its last '@' ends user:password; an '@' after it (in a
     * client_name=ops@team, say) is not one. Then the path, the query and
     * the fragment (ignored). */
    const char *rest = sep + 3;
    size_t an = strcspn(rest, "/?#");
    const char *at = NULL;
    for (const char *c = rest; c < rest + an; c++)
        if (*c == '@')
            at = c;
    const char *hp = rest;
    size_t hn = an;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t un = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (un > 0)
            out->username = pct_decode(rest, un);
        if (colon && at > colon + 1)
            out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
        hp = at + 1;
        hn = an - (size_t)(hp - rest);
    }
    const char *path = rest + an;
    size_t tail = strcspn(path, "#");
    const char *qmark = memchr(path, '?', tail);
    size_t pn = qmark ? (size_t)(qmark - path) : tail;
    bool quiet = strchr(path, '@') != NULL;
    bool db_given = false;
    out->port = 6379;

    /* the query first: its db wins over the path's */
    if (qmark && parse_redis_query(qmark + 1, tail - pn - 1, setting, quiet, out, &db_given, err,
                                   errlen) < 0)
        goto fail;
    if (out->transport == AT_REDIS_UNIX) {
        /* the path is the socket; a db comes only from the query */
        if (pn == 0) {
            seterr(err, errlen, "%s: unix:// URL needs a socket path, e.g. unix:///run/redis/redis.sock",
                   setting);
            goto fail;
        }
        out->socket_path = pct_decode(path, pn);
        out->port = 0;
    } else {
        if (hn == 0) {
            seterr(err, errlen, "%s: missing host (expected %s://host[:port][/db])", setting,
                   out->transport == AT_REDIS_TLS ? "rediss" : "redis");
            goto fail;
        }
        if (parse_hostport(hp, hn, 6379, setting, quiet, &out->host, &out->port, err, errlen) < 0)
            goto fail;
        /* "/N" or "/N/"; redis-py reads int(path.replace('/', '')) and
         * falls back to db 0 when that fails: aethertop refuses such a path */
        if (pn > 0 && path[0] == '/') {
            path++;
            pn--;
        }
        if (pn > 0 && path[pn - 1] == '/')
            pn--;
        if (pn > 0 && !db_given && set_db(path, pn, setting, quiet, &out->db, err, errlen) < 0)
            goto fail;
    }
    if ((out->transport == AT_REDIS_UNIX && !out->socket_path) ||
        (out->transport != AT_REDIS_UNIX && !out->host)) {
        seterr(err, errlen, "%s: out of memory", setting);
        goto fail;
    }
    return 0;
fail:
    at_redis_target_free(out);
    return -1;
}

int at_sentinel_hosts_parse(const char *text, at_redis_target *out, char *err, size_t errlen)
{
    const char *setting = "REDIS_SENTINEL_HOSTS";
    if (!out)
        return -1;
    for (size_t i = 0; i < out->n_sentinels; i++)
        free(out->sentinels[i].host);
    free(out->sentinels);
    out->sentinels = NULL;
    out->n_sentinels = 0;
    if (!text)
        text = "";
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        if (*p == ',')
            cap++;
    out->sentinels = calloc(cap, sizeof *out->sentinels);
    if (!out->sentinels) {
        seterr(err, errlen, "%s: out of memory", setting);
        return -1;
    }
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e > s) {
            at_hostport *hpp = &out->sentinels[out->n_sentinels];
            if (parse_hostport(s, (size_t)(e - s), 26379, setting, false, &hpp->host, &hpp->port,
                               err, errlen) < 0)
                goto fail;
            out->n_sentinels++;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    if (out->n_sentinels == 0) {
        seterr(err, errlen, "%s: no sentinel hosts given (expected host[:port],host[:port])",
               setting);
        goto fail;
    }
    return 0;
fail:
    for (size_t i = 0; i < out->n_sentinels; i++)
        free(out->sentinels[i].host);
    free(out->sentinels);
    out->sentinels = NULL;
    out->n_sentinels = 0;
    return -1;
}

/* ------------------------------------------------------------ .env */

/* The gateway reads its .env with python-dotenv (load_dotenv: override=False,
 * interpolate=True); this reads it the same way (parser.py, variables.py
 * and main.py's resolve_variables of python-dotenv 1.x). */

#define ENVFILE_MAX_WARNINGS 8
#define ENVFILE_MAX_EXPANDED (64u * 1024u)      /* one value after ${...}, when it grew */
#define ENVFILE_MAX_GROWTH (8u * 1024u * 1024u) /* what ${...} added to the file in all */

static void list_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Append s (taken over; freed when the list cannot grow). */
static int list_add(char ***list, size_t *n, char *s)
{
    if (!s)
        return -1;
    char **nl = realloc(*list, (*n + 1) * sizeof *nl);
    if (!nl) {
        free(s);
        return -1;
    }
    *list = nl;
    nl[(*n)++] = s;
    return 0;
}

void at_envfile_free(at_envfile *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->keys[i]);
        wipe_str(f->values[i]);
    }
    free(f->keys);
    free(f->values);
    list_free(f->warnings, f->n_warnings);
    memset(f, 0, sizeof *f);
}

/* Index of key, or f->n. */
static size_t envfile_find(const at_envfile *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0)
            return i;
    return f->n;
}

const char *at_envfile_get(const at_envfile *f, const char *key)
{
    if (!f || !key)
        return NULL;
    size_t i = envfile_find(f, key);
    return i < f->n ? f->values[i] : NULL;
}

/* Later duplicates win: replace in place, keeping first-seen order. value
 * NULL: the name is there without a value (python-dotenv's None). */
static int envfile_set(at_envfile *f, char *key, char *value)
{
    size_t i = envfile_find(f, key);
    if (i < f->n) {
        free(key);
        wipe_str(f->values[i]);
        f->values[i] = value;
        return 0;
    }
    char **nk = realloc(f->keys, (f->n + 1) * sizeof *nk);
    if (!nk)
        goto oom;
    f->keys = nk;
    char **nv = realloc(f->values, (f->n + 1) * sizeof *nv);
    if (!nv)
        goto oom;
    f->values = nv;
    f->keys[f->n] = key;
    f->values[f->n] = value;
    f->n++;
    return 0;
oom:
    free(key);
    wipe_str(value);
    return -1;
}

/* Length of the character at p when Python's str.isspace() (and so the \s
 * of python-dotenv's patterns) holds it for white space, in UTF-8; else 0. */
static size_t py_space(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r') || (u[0] >= 0x1c && u[0] <= 0x1f))
        return 1;
    if (u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0))
        return 2;
    if ((u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) ||
        (u[0] == 0xE2 && u[1] == 0x80 &&
         ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 || u[2] == 0xAF)) ||
        (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) || (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80))
        return 3;
    return 0;
}

/* python-dotenv's [^\S\r\n]*: white space within the line. */
static const char *skip_hspace(const char *p)
{
    size_t k;
    while (*p != '\n' && (k = py_space(p)) > 0)
        p += k;
    return p;
}

/* Where the value of '((?:\\'|[^'])*)' (or the "..." one) ends, as Python's
 * regex engine matches it from s (just after the opening quote): at the
 * first quote not preceded by a backslash, else, backtracking, at the quote
 * of the last \' pair; NULL when there is neither. */
static const char *quoted_end(const char *s, char q)
{
    const char *last_pair = NULL;
    for (const char *c = s; *c;) {
        if (c[0] == '\\' && c[1] == q) {
            last_pair = c + 1;
            c += 2;
        } else if (*c == q) {
            return c;
        } else {
            c++;
        }
    }
    return last_pair;
}

/* A quoted value [s, e) with its escapes decoded: \\ and \' in '...';
 * \\ \' \" \a \b \f \n \r \t \v in "..."; any other backslash stays. */
static char *unescape_quoted(const char *s, const char *e, char q)
{
    char *r = malloc((size_t)(e - s) + 1);
    if (!r)
        return NULL;
    size_t o = 0;
    for (const char *c = s; c < e; c++) {
        if (*c == '\\' && c + 1 < e) {
            char d = 0;
            switch (c[1]) {
            case '\\': d = '\\'; break;
            case '\'': d = '\''; break;
            case '"': d = q == '"' ? '"' : 0; break;
            case 'a': d = q == '"' ? '\a' : 0; break;
            case 'b': d = q == '"' ? '\b' : 0; break;
            case 'f': d = q == '"' ? '\f' : 0; break;
            case 'n': d = q == '"' ? '\n' : 0; break;
            case 'r': d = q == '"' ? '\r' : 0; break;
            case 't': d = q == '"' ? '\t' : 0; break;
            case 'v': d = q == '"' ? '\v' : 0; break;
            default: break;
            }
            if (d) {
                r[o++] = d;
                c++;
                continue;
            }
        }
        r[o++] = *c;
    }
    r[o] = '\0';
    return r;
}

/* An unquoted value [p, e) (the rest of the line): a '#' after white space
 * starts a comment, so does one right at the start when white space came
 * between '=' and it (KEY=   # comment is ""); trailing white space goes. */
static char *unquoted_value(const char *p, const char *e, bool after_space)
{
    if (after_space && *p == '#')
        return strdup("");
    const char *end = p, *run = NULL;
    for (const char *c = p; c < e;) {
        size_t k = py_space(c);
        if (k) {
            if (!run)
                run = c;
            c += k;
            continue;
        }
        if (*c == '#' && run)
            break;
        run = NULL;
        end = ++c;
    }
    return dup_n(p, (size_t)(end - p));
}

/* Append [s, s + k) to the NUL-terminated *b (length *n, room *cap),
 * growing it with grow_wiped. False when out of memory (*b is gone). */
static bool append_wiped(char **b, size_t *n, size_t *cap, const char *s, size_t k)
{
    if (!grow_wiped(b, cap, *n, k + 1))
        return false;
    memcpy(*b + *n, s, k);
    *n += k;
    (*b)[*n] = '\0';
    return true;
}

typedef struct {
    const char *name;      /* the file, in warnings */
    at_getenv_fn getenv_fn;
    at_envfile *out;
    size_t growth;         /* bytes ${...} added so far */
    size_t unshown;        /* warnings past ENVFILE_MAX_WARNINGS */
} envparse;

/* "FILE:LINE: message" (control characters shown as '?'). Never give it a
 * value: a line may hold a secret. Returns -1 when out of memory. */
__attribute__((format(printf, 3, 4)))
static int env_warn(envparse *P, int line, const char *fmt, ...)
{
    if (P->out->n_warnings >= ENVFILE_MAX_WARNINGS) {
        P->unshown++;
        return 0;
    }
    char msg[512];
    int o = snprintf(msg, sizeof msg, "%s:%d: ", P->name, line);
    if (o < 0 || (size_t)o >= sizeof msg)
        o = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + o, sizeof msg - (size_t)o, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return list_add(&P->out->warnings, &P->out->n_warnings, strdup(msg));
}

/* The value of ${NAME}: the environment's (even ""), else an earlier
 * line's (a name there without '=' gives ""), else NULL (the default). */
static const char *interp_lookup(const envparse *P, const char *name)
{
    if (P->getenv_fn && *name && !strchr(name, '=')) {
        const char *v = P->getenv_fn(name);
        if (v)
            return v;
    }
    size_t i = envfile_find(P->out, name);
    if (i < P->out->n)
        return P->out->values[i] ? P->out->values[i] : "";
    return NULL;
}

/* python-dotenv's interpolation of one value: each ${NAME} or
 * ${NAME:-default} (\$\{([^}:]*)(?::-([^}]*))?\}) is replaced by
 * interp_lookup's value, else the default, else ""; $NAME stays as it is.
 * Returns a malloc'd value, or NULL with *too_long set when it grew past
 * the limits (or with it clear when out of memory). */
static char *expand_value(envparse *P, const char *v, bool *too_long)
{
    *too_long = false;
    char *b = NULL;
    size_t n = 0, cap = 0, raw = strlen(v);
    bool ok = true;
    const char *lit = v, *c = v;
    while (ok && (c = strstr(c, "${")) != NULL) {
        const char *ns = c + 2, *ne = ns + strcspn(ns, "}:"), *ds = NULL, *de = NULL, *end;
        if (*ne == '}') {
            end = ne + 1;
        } else if (ne[0] == ':' && ne[1] == '-') {
            ds = ne + 2;
            de = ds + strcspn(ds, "}");
            if (*de != '}') {
                c++;
                continue;
            }
            end = de + 1;
        } else {
            c++;
            continue;
        }
        char *name = dup_n(ns, (size_t)(ne - ns));
        if (!name) {
            ok = false;
            break;
        }
        const char *val = interp_lookup(P, name);
        free(name);
        size_t vn = val ? strlen(val) : ds ? (size_t)(de - ds) : 0;
        size_t grown = n + (size_t)(c - lit) + vn;
        if (grown > ENVFILE_MAX_EXPANDED && grown > raw) {
            *too_long = true;
            break;
        }
        ok = append_wiped(&b, &n, &cap, lit, (size_t)(c - lit)) &&
             append_wiped(&b, &n, &cap, val ? val : ds ? ds : "", vn);
        lit = c = end;
    }
    ok = ok && !*too_long && append_wiped(&b, &n, &cap, lit, strlen(lit));
    if (ok && n > raw) {
        if (n - raw > ENVFILE_MAX_GROWTH - P->growth)
            *too_long = true;
        else
            P->growth += n - raw;
    }
    if (!ok || *too_long) {
        if (b)
            at_wipe_free(b, cap);
        return NULL;
    }
    return b;
}

/* The text with "\r\n" and a lone "\r" read as "\n", as Python's open()
 * reads a text file, and without a UTF-8 byte-order mark. */
static char *universal_newlines(const char *text, size_t *len)
{
    if ((unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        text += 3;
    size_t n = strlen(text);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\r') {
            s[o++] = '\n';
            if (text[i + 1] == '\n')
                i++;
        } else {
            s[o++] = text[i];
        }
    }
    s[o] = '\0';
    *len = n + 1;
    return s;
}

/* Drop the names left without a value (python-dotenv's None: load_dotenv
 * sets nothing for them). */
static void envfile_drop_unset(at_envfile *f)
{
    size_t o = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->values[i]) {
            f->keys[o] = f->keys[i];
            f->values[o++] = f->values[i];
        } else {
            free(f->keys[i]);
        }
    }
    f->n = o;
}

int at_envfile_parse(const char *text, const char *name, at_getenv_fn getenv_fn, at_envfile *out,
                     char *err, size_t errlen)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!name)
        name = ".env";
    if (!text)
        return 0;
    size_t slen = 0;
    char *s = universal_newlines(text, &slen);
    if (!s) {
        seterr(err, errlen, "%s: out of memory", name);
        return -1;
    }
    envparse P = {name, getenv_fn, out, 0, 0};
    const char *p = s, *counted = s;
    int line = 1;
    char *value = NULL;
    /* one statement per turn, as python-dotenv's parse_binding reads it */
    while (*p) {
        size_t k;
        while ((k = py_space(p)) > 0)
            p += k;
        if (!*p)
            break;
        for (; counted < p; counted++)
            line += *counted == '\n';
        const char *why = "expected KEY=value";
        bool quoted = false, has_value = false;
        if (strncmp(p, "export", 6) == 0 && p[6] != '\n' && py_space(p + 6))
            p = skip_hspace(p + 6);
        const char *ks = NULL, *ke = NULL;
        if (*p == '\'') {
            const char *close = strchr(p + 1, '\'');
            if (!close || close == p + 1)
                goto bad;
            ks = p + 1;
            ke = close;
            p = close + 1;
        } else if (*p != '#') {
            const char *q = p;
            while (*q && *q != '=' && *q != '#' && !py_space(q))
                q++;
            if (q == p)
                goto bad;
            ks = p;
            ke = p = q;
        }
        p = skip_hspace(p);
        if (*p == '=') {
            const char *vs = skip_hspace(p + 1);
            bool after_space = vs > p + 1;
            p = vs;
            has_value = true;
            if (*p == '\'' || *p == '"') {
                char q = *p;
                const char *close = quoted_end(p + 1, q);
                if (!close) {
                    why = q == '"' ? "unterminated double-quoted value"
                                   : "unterminated single-quoted value";
                    goto bad;
                }
                value = unescape_quoted(p + 1, close, q);
                p = close + 1;
                quoted = true;
            } else {
                const char *e = p + strcspn(p, "\n");
                value = unquoted_value(p, e, after_space);
                p = e;
            }
            if (!value)
                goto oom;
        }
        const char *c = skip_hspace(p);
        if (*c == '#')
            p = c + strcspn(c, "\n");
        p = skip_hspace(p);
        if (*p && *p != '\n') {
            if (quoted)
                why = "unexpected text after the closing quote";
            goto bad;
        }
        if (*p == '\n')
            p++;
        if (!ks)
            continue; /* a comment */
        if (has_value) {
            bool too_long;
            char *expanded = expand_value(&P, value, &too_long);
            wipe_str(value);
            value = NULL;
            if (!expanded && !too_long)
                goto oom;
            if (!expanded) {
                if (env_warn(&P, line, "the value is too long once ${...} is expanded: line skipped") < 0)
                    goto oom;
                continue;
            }
            value = expanded;
        } else if (env_warn(&P, line, "no '=' on this line: the name is left unset, as python-dotenv "
                                      "leaves it") < 0) {
            goto oom;
        }
        char *key = dup_n(ks, (size_t)(ke - ks));
        int rc = key ? envfile_set(out, key, value) : -1;
        if (!key)
            wipe_str(value);
        value = NULL;
        if (rc < 0)
            goto oom;
        continue;
    bad:
        /* python-dotenv logs "could not parse statement" and goes on after
         * the end of the line where it stopped */
        wipe_str(value);
        value = NULL;
        p += strcspn(p, "\n");
        if (*p)
            p++;
        if (env_warn(&P, line, "%s: line skipped, as python-dotenv skips it", why) < 0)
            goto oom;
    }
    at_wipe_free(s, slen);
    envfile_drop_unset(out);
    if (P.unshown > 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %zu more lines skipped or left unset", name, P.unshown);
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        if (list_add(&out->warnings, &out->n_warnings, strdup(msg)) < 0) {
            seterr(err, errlen, "%s: out of memory", name);
            at_envfile_free(out);
            return -1;
        }
    }
    return 0;
oom:
    seterr(err, errlen, "%s: out of memory", name);
    wipe_str(value);
    at_wipe_free(s, slen);
    at_envfile_free(out);
    return -1;
}

int at_envfile_load(const char *path, at_getenv_fn getenv_fn, at_envfile *out, char *err,
                    size_t errlen)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!path) {
        seterr(err, errlen, "env file: no path given");
        return -1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    setvbuf(fp, NULL, _IONBF, 0); /* no stdio buffer keeps a copy of the file */
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = -1;
    if (!buf) {
        seterr(err, errlen, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= ENVFILE_MAX_BYTES) {
                seterr(err, errlen, "%s: file too large for an env file", path);
                goto out;
            }
            /* not realloc: the old copy is wiped before it goes back */
            char *nb = malloc(cap * 2);
            if (!nb) {
                seterr(err, errlen, "%s: out of memory", path);
                goto out;
            }
            memcpy(nb, buf, n);
            at_wipe_free(buf, cap);
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(fp)) {
        seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    rc = at_envfile_parse(buf, path, getenv_fn, out, err, errlen);
out:
    at_wipe_free(buf, cap);
    fclose(fp);
    return rc;
}

/* ------------------------------------------------------------ resolve */

typedef struct {
    at_getenv_fn getenv_fn;
    const at_envfile *file;
} lookup_ctx;

const char *at_setting_lookup(const at_envfile *f, at_getenv_fn getenv_fn, const char *name)
{
    const char *v = getenv_fn ? getenv_fn(name) : NULL;
    if (v)
        return v;
    return f ? at_envfile_get(f, name) : NULL;
}

/* Environment first (even when set to ""), then the env file. */
static const char *lookup(const lookup_ctx *L, const char *name)
{
    return at_setting_lookup(L->file, L->getenv_fn, name);
}

/* Same, but "" counts as unset (the gateway treats empty settings as falsy). */
static const char *lookup_set(const lookup_ctx *L, const char *name)
{
    const char *v = lookup(L, name);
    return (v && *v) ? v : NULL;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *r = malloc((size_t)n + 1);
    if (!r)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(r, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return r;
}

static char *redis_display(const at_redis_target *t)
{
    if (t->n_sentinels > 0) {
        size_t cap = strlen(at_sentinel_service(t)) + 16;
        for (size_t i = 0; i < t->n_sentinels; i++)
            cap += strlen(t->sentinels[i].host) + 12;
        char *r = malloc(cap);
        if (!r)
            return NULL;
        size_t o = (size_t)snprintf(r, cap, "sentinel:%s@",
                                    at_sentinel_service(t));
        for (size_t i = 0; i < t->n_sentinels; i++) {
            const char *h = t->sentinels[i].host;
            o += (size_t)snprintf(r + o, cap - o, strchr(h, ':') ? "%s[%s]:%d" : "%s%s:%d",
                                  i ? "," : "", h, t->sentinels[i].port);
        }
        return r;
    }
    if (t->transport == AT_REDIS_UNIX)
        return str_printf("unix:%s?db=%d", t->socket_path, t->db);
    return str_printf(strchr(t->host, ':') ? "[%s]:%d/%d" : "%s:%d/%d", t->host, t->port, t->db);
}

static int cfg_warn(at_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* redis-py's TLS settings in a Redis URL's query (ssl_cert_reqs=none,
 * ssl_check_hostname, ssl_ca_certs, ...) are not followed: aethertop always
 * verifies, with its own flags. Each one given draws a warning naming the
 * parameter (never its value: ssl_password is one). */
static void warn_redis_ssl_params(at_config *cfg, const char *url, const char *setting)
{
    /* the query as at_redis_url_parse finds it: from the first '?' that
     * comes before any '#' (the authority ends at either) */
    const char *sep = strstr(url, "://");
    if (!sep)
        return;
    const char *rest = sep + 3;
    size_t tail = strcspn(rest, "#");
    const char *qmark = memchr(rest, '?', tail);
    if (!qmark)
        return;
    size_t at = 0, nn, vn;
    const char *nm, *val;
    while (qs_next_pair(qmark + 1, tail - (size_t)(qmark + 1 - rest), &at, &nm, &nn, &val, &vn)) {
        char *name = qs_decode(nm, nn);
        if (name && strncmp(name, "ssl_", 4) == 0)
            cfg_warn(cfg, "%s: query parameter \"%.40s\" is not used: aethertop always verifies the "
                     "server's certificate and host name (see --redis-ca, --redis-cert, --redis-key, "
                     "--insecure)", setting, name);
        free(name);
    }
}

static int resolve_redis(at_config *cfg, const at_config_flags *flags, const lookup_ctx *L,
                         char *err, size_t errlen)
{
    at_redis_target *t = &cfg->redis;
    const char *v;
    if (flags->redis_url) {
        if (at_redis_url_parse(flags->redis_url, FLAG_REDIS, t, err, errlen) < 0)
            return -1;
        warn_redis_ssl_params(cfg, flags->redis_url, FLAG_REDIS);
    } else if ((v = lookup_set(L, "REDIS_SENTINEL_HOSTS")) != NULL) {
        memset(t, 0, sizeof *t);
        if (at_sentinel_hosts_parse(v, t, err, errlen) < 0)
            return -1;
        const char *svc = lookup_set(L, "REDIS_SENTINEL_SERVICE_NAME");
        t->sentinel_service = strdup(svc ? svc : AT_SENTINEL_SERVICE_DEFAULT);
        const char *pw = lookup_set(L, "REDIS_PASSWORD");
        if (pw)
            t->password = strdup(pw);
        t->transport = AT_REDIS_TCP;
        if (!t->sentinel_service || (pw && !t->password)) {
            seterr(err, errlen, "REDIS_SENTINEL_HOSTS: out of memory");
            return -1;
        }
    } else if ((v = lookup_set(L, "REDIS_URL")) != NULL) {
        if (at_redis_url_parse(v, "REDIS_URL", t, err, errlen) < 0)
            return -1;
        warn_redis_ssl_params(cfg, v, "REDIS_URL");
    } else {
        memset(t, 0, sizeof *t);
        t->transport = AT_REDIS_TCP;
        const char *host = lookup_set(L, "REDIS_HOST");
        t->host = strdup(host ? host : "localhost");
        t->port = 6379;
        const char *port = lookup_set(L, "REDIS_PORT");
        if (port && !parse_port(port, strlen(port), &t->port)) {
            char f[64];
            seterr(err, errlen, "REDIS_PORT: bad port \"%s\" (expected 1-65535)",
                   frag(f, sizeof f, port, strlen(port)));
            return -1;
        }
        const char *pw = lookup_set(L, "REDIS_PASSWORD");
        if (pw)
            t->password = strdup(pw);
        if (!t->host || (pw && !t->password)) {
            seterr(err, errlen, "REDIS_HOST: out of memory");
            return -1;
        }
    }
    cfg->redis_display = redis_display(t);
    if (!cfg->redis_display) {
        seterr(err, errlen, "Redis: out of memory");
        return -1;
    }
    return 0;
}

/* Append keyword='value' (libpq quoting: \ and ' escaped). The buffer may
 * hold a password: a grown copy replaces it only after it is wiped. */
static void kv_append(char **buf, size_t *n, size_t *cap, const char *kw, const char *val)
{
    if (!*buf && *cap != 0)
        return; /* earlier allocation failure */
    if (!grow_wiped(buf, cap, *n, strlen(kw) + 2 * strlen(val) + 6)) {
        *cap = 1;
        return;
    }
    char *o = *buf + *n;
    if (*n)
        *o++ = ' ';
    size_t kl = strlen(kw);
    memcpy(o, kw, kl);
    o += kl;
    *o++ = '=';
    *o++ = '\'';
    for (const char *c = val; *c; c++) {
        if (*c == '\\' || *c == '\'')
            *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '\'';
    *o = '\0';
    *n = (size_t)(o - *buf);
}

/* A warning for cfg->warnings (control characters shown as '?'). */
__attribute__((format(printf, 2, 3)))
static int cfg_warn(at_config *cfg, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return list_add(&cfg->warnings, &cfg->n_warnings, strdup(msg));
}

/* ------------------------------------------------------------ PostgreSQL URLs */

/* The gateway reads DATABASE_URL with SQLAlchemy's make_url and connects
 * with psycopg2, which hands the parts to libpq; libpq's own URI parser
 * reads some of those URLs differently (a '/' or a stray '%' in a
 * password), so aethertop reads the URL as SQLAlchemy does and gives libpq
 * a keyword/value string. */

typedef struct {
    const char *s; /* NULL: absent */
    size_t n;
} span;

typedef struct {
    span name, user, password, host, port, database, query;
} sa_url;

/* Split a URL as SQLAlchemy's make_url matches it (sqlalchemy/engine/url.py):
 *   (?P<name>[\w\+]+)://(?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
 *   (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
 *   (?:/(?P<database>[^\?]*))?(?:\?(?P<query>.*))?
 * from the start; what follows the match is ignored, as there. The user
 * name runs to the first ':' or '/'; with a ':' there and an '@' anywhere
 * after it, the password runs to that first '@' (so it may hold '/', '?',
 * '#' and ':'); else the user name ends at the last '@' before that ':' or
 * '/', and there is no password. False: not "name://...". */
static bool sa_url_split(const char *url, sa_url *u)
{
    memset(u, 0, sizeof *u);
    size_t nn = 0;
    while (isalnum((unsigned char)url[nn]) || url[nn] == '_' || url[nn] == '+')
        nn++;
    if (nn == 0 || strncmp(url + nn, "://", 3) != 0)
        return false;
    u->name = (span){url, nn};
    const char *r = url + nn + 3, *p = r;
    size_t un = strcspn(r, ":/");
    const char *at = r[un] == ':' ? strchr(r + un + 1, '@') : NULL;
    if (at) {
        u->user = (span){r, un};
        u->password = (span){r + un + 1, (size_t)(at - r - un - 1)};
        p = at + 1;
    } else {
        for (const char *c = r; c < r + un; c++)
            if (*c == '@')
                at = c;
        if (at) {
            u->user = (span){r, (size_t)(at - r)};
            p = at + 1;
        }
    }
    if (*p == '[') {
        /* the last ']' before any '/' or '?', with something inside */
        const char *rb = NULL;
        for (const char *c = p + 2; c < p + strcspn(p, "/?"); c++)
            if (*c == ']')
                rb = c;
        if (rb) {
            u->host = (span){p + 1, (size_t)(rb - p - 1)};
            p = rb + 1;
        }
    }
    if (!u->host.s && strcspn(p, "/:?") > 0) {
        u->host = (span){p, strcspn(p, "/:?")};
        p += u->host.n;
    }
    if (*p == ':') {
        u->port = (span){p + 1, strcspn(p + 1, "/?")};
        p += 1 + u->port.n;
    }
    if (*p == '/') {
        u->database = (span){p + 1, strcspn(p + 1, "?")};
        p += 1 + u->database.n;
    }
    if (*p == '?')
        u->query = (span){p + 1, strcspn(p + 1, "\n")};
    return true;
}

static bool span_eq(span s, const char *lit)
{
    return s.s && s.n == strlen(lit) && strncasecmp(s.s, lit, s.n) == 0;
}

/* postgresql, postgres, or either with a +driver. */
static bool pg_scheme(span name)
{
    const char *plus = memchr(name.s, '+', name.n);
    span base = {name.s, plus ? (size_t)(plus - name.s) : name.n};
    return span_eq(base, "postgresql") || span_eq(base, "postgres");
}

/* "postgresql+psycopg2://..." -> "postgresql://..." (for the display). */
static char *drop_driver(const char *url)
{
    const char *plus = NULL;
    if (strncasecmp(url, "postgresql+", 11) == 0)
        plus = url + 10;
    else if (strncasecmp(url, "postgres+", 9) == 0)
        plus = url + 8;
    if (plus) {
        const char *sep = strstr(plus, "://");
        if (sep && memchr(plus, '/', (size_t)(sep - plus)) == NULL &&
            memchr(plus, '@', (size_t)(sep - plus)) == NULL) {
            size_t sl = (size_t)(plus - url);
            size_t rl = strlen(sep);
            char *r = malloc(sl + rl + 1);
            if (!r)
                return NULL;
            for (size_t i = 0; i < sl; i++)
                r[i] = (char)tolower((unsigned char)url[i]);
            memcpy(r + sl, sep, rl + 1);
            return r;
        }
    }
    return strdup(url);
}

static bool libpq_keyword(const char *name)
{
    char *e = NULL;
    PQconninfoOption *opts = PQconninfoParse("", &e);
    PQfreemem(e);
    bool known = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, name) == 0)
            known = true;
    PQconninfoFree(opts);
    return known;
}

static bool is_sslmode(const char *v)
{
    static const char *const modes[] = {"disable", "allow", "prefer", "require", "verify-ca",
                                        "verify-full"};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (strcmp(v, modes[i]) == 0)
            return true;
    return false;
}

typedef struct {
    char *name, *value;
} qpair;

static void qpairs_free(qpair *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(q[i].name);
        wipe_str(q[i].value);
    }
    free(q);
}

/* urllib.parse.parse_qsl(query), as make_url calls it: '&'-separated
 * name=value pairs, '+' a space and %XX decoded in both; a pair without
 * '=' or with an empty value is dropped. */
static int parse_qsl(span q, qpair **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < q.n;) {
        const char *item = q.s + i;
        const char *amp = memchr(item, '&', q.n - i);
        size_t len = amp ? (size_t)(amp - item) : q.n - i;
        i += len + 1;
        const char *eq = memchr(item, '=', len);
        if (!eq || eq + 1 == item + len)
            continue;
        qpair *nq = realloc(*out, (*n + 1) * sizeof *nq);
        if (!nq)
            return -1;
        *out = nq;
        nq[*n].name = qs_decode(item, (size_t)(eq - item));
        nq[*n].value = qs_decode(eq + 1, len - (size_t)(eq + 1 - item));
        (*n)++;
        if (!nq[*n - 1].name || !nq[*n - 1].value)
            return -1;
    }
    return 0;
}

/* ?host=h1:p1&host=h2:p2 / ?host=h1,h2&port=p1,p2 / ?host=h:p, as
 * SQLAlchemy's psycopg2 dialect joins them for libpq
 * (_split_multihost_from_url). */
static int pg_multihost(const qpair *q, size_t nq, const char *setting, char **buf, size_t *n,
                        size_t *cap, char *err, size_t errlen)
{
    size_t nh = 0, np = 0, hlen = 0, plen = 0;
    for (size_t i = 0; i < nq; i++) {
        if (strcmp(q[i].name, "host") == 0) {
            nh++;
            hlen += strlen(q[i].value) + 1;
        } else if (strcmp(q[i].name, "port") == 0) {
            np++;
            plen += strlen(q[i].value) + 1;
        }
    }
    if (nh > 1 && np > 0) {
        seterr(err, errlen, "%s: give several hosts as host=h1:p1&host=h2:p2 or as "
                            "host=h1,h2&port=p1,p2, not both", setting);
        return -1;
    }
    char *hosts = calloc(1, hlen + 1), *ports = calloc(1, hlen + plen + 1);
    size_t ho = 0, po = 0; /* where each list ends */
    int rc = -1;
    if (!hosts || !ports) {
        seterr(err, errlen, "%s: out of memory", setting);
        goto out;
    }
    bool any_port = np > 0;
    for (size_t i = 0; i < nq; i++) {
        const char *v = q[i].value;
        size_t vn = strlen(v);
        if (strcmp(q[i].name, "port") == 0) {
            if (po)
                ports[po++] = ',';
            memcpy(ports + po, v, vn);
            po += vn;
            continue;
        }
        if (strcmp(q[i].name, "host") != 0)
            continue;
        const char *colon = strchr(v, ':');
        size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
        bool split = false;
        if (nh > 1) {
            if (colon && strchr(colon + 1, ':')) {
                seterr(err, errlen, "%s: bad host in the query (more than one ':')", setting);
                goto out;
            }
            split = colon != NULL;
            if (ho) {
                hosts[ho++] = ',';
                ports[po++] = ',';
            }
            any_port = true; /* the dialect passes "," for two hosts without ports */
        } else {
            /* one "h:p": letters, digits, '-', '.', then digits */
            split = np == 0 && colon && !strchr(v, ',') && colon[1 + digits] == '\0' &&
                    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
                        (size_t)(colon - v);
            if (split && digits > 0)
                any_port = true;
        }
        size_t hn = split ? (size_t)(colon - v) : vn;
        memcpy(hosts + ho, v, hn);
        ho += hn;
        if (split) {
            memcpy(ports + po, colon + 1, vn - hn - 1);
            po += vn - hn - 1;
        }
    }
    hosts[ho] = '\0';
    ports[po] = '\0';
    if (nh > 0)
        kv_append(buf, n, cap, "host", hosts);
    if (any_port)
        kv_append(buf, n, cap, "port", ports);
    rc = 0;
out:
    free(hosts);
    free(ports);
    return rc;
}

/* The keyword/value conninfo psycopg2 would hand libpq for a URL split by
 * sa_url_split: host, port, dbname, user, password (each when not empty;
 * user name, password and database percent-decoded as urllib's unquote
 * does, a malformed escape kept as written), then the query's parameters:
 * libpq keywords as they are, ?host=/?port= as SQLAlchemy's multi-host
 * forms, asyncpg's ssl=MODE as sslmode=MODE; anything else libpq does not
 * know is dropped with a warning (never its value). */
static char *pg_url_conninfo(at_config *cfg, const sa_url *u, const char *url, const char *setting,
                             char *err, size_t errlen)
{
    char f[64];
    if ((u->host.s && memchr(u->host.s, '@', u->host.n)) ||
        (u->port.s && memchr(u->port.s, '@', u->port.n))) {
        /* the rest of a password holding an '@' would be taken for the
         * host and quoted in libpq's errors */
        seterr(err, errlen,
               "%s: more than one '@' before the host: SQLAlchemy ends the password at the first "
               "'@' (write an '@' in the user name or password as %%40)",
               setting);
        return NULL;
    }
    int port = 0;
    if (u->port.n > 0 && !parse_port(u->port.s, u->port.n, &port)) {
        if (strchr(url, '@'))
            seterr(err, errlen, "%s: bad port (expected 1-65535; not shown: it may hold part of the "
                                "password)", setting);
        else
            seterr(err, errlen, "%s: bad port \"%s\" (expected 1-65535)", setting,
                   frag(f, sizeof f, u->port.s, u->port.n));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    qpair *q = NULL;
    size_t nq = 0;
    char *host = u->host.n ? dup_n(u->host.s, u->host.n) : strdup("");
    char *db = u->database.s ? pct_decode(u->database.s, u->database.n) : strdup("");
    char *user = u->user.s ? pct_decode(u->user.s, u->user.n) : strdup("");
    char *pw = u->password.s ? pct_decode(u->password.s, u->password.n) : strdup("");
    bool ok = host && db && user && pw && (!u->query.s || parse_qsl(u->query, &q, &nq) == 0);
    if (ok) {
        char portbuf[8];
        snprintf(portbuf, sizeof portbuf, "%d", port);
        if (*host)
            kv_append(&buf, &n, &cap, "host", host);
        if (port)
            kv_append(&buf, &n, &cap, "port", portbuf);
        if (*db)
            kv_append(&buf, &n, &cap, "dbname", db);
        if (*user)
            kv_append(&buf, &n, &cap, "user", user);
        if (*pw)
            kv_append(&buf, &n, &cap, "password", pw);
    }
    free(host);
    free(db);
    free(user);
    wipe_str(pw);
    if (!ok)
        goto oom;
    bool sslmode_given = false;
    for (size_t i = 0; i < nq; i++)
        sslmode_given |= strcmp(q[i].name, "sslmode") == 0;
    for (size_t i = 0; i < nq; i++) {
        const char *name = q[i].name;
        if (strcmp(name, "host") == 0 || strcmp(name, "port") == 0)
            continue;
        if (strcmp(name, "ssl") == 0 && !sslmode_given && is_sslmode(q[i].value)) {
            kv_append(&buf, &n, &cap, "sslmode", q[i].value); /* asyncpg's spelling */
            continue;
        }
        if (!libpq_keyword(name)) {
            if (cfg_warn(cfg, "%s: query parameter \"%s\" is not a libpq connection option: ignored",
                         setting, frag(f, sizeof f, name, strlen(name))) < 0)
                goto oom;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(q[j].name, name) == 0) {
                seterr(err, errlen, "%s: query parameter \"%s\" given more than once", setting,
                       frag(f, sizeof f, name, strlen(name)));
                goto fail;
            }
        }
        kv_append(&buf, &n, &cap, name, q[i].value);
    }
    if (pg_multihost(q, nq, setting, &buf, &n, &cap, err, errlen) < 0)
        goto fail;
    if (!buf)
        buf = strdup("");
    if (!buf)
        goto oom;
    qpairs_free(q, nq);
    return buf;
oom:
    seterr(err, errlen, "%s: out of memory", setting);
fail:
    qpairs_free(q, nq);
    if (buf)
        at_wipe_free(buf, cap);
    return NULL;
}

/* Display form of a keyword/value conninfo: every option libpq parsed,
 * except the password-type ones. */
static char *kv_display(PQconninfoOption *opts)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || (o->dispchar && strchr(o->dispchar, '*')) ||
            strcmp(o->keyword, "password") == 0)
            continue;
        kv_append(&buf, &n, &cap, o->keyword, o->val);
    }
    if (!buf && cap == 0)
        buf = strdup("");
    return buf;
}

static void first_line(char *dst, size_t cap, const char *msg)
{
    size_t l = msg ? strcspn(msg, "\n") : 0;
    if (l >= cap)
        l = cap - 1;
    if (l)
        memcpy(dst, msg, l);
    dst[l] = '\0';
}

/* "5432", "5432,5433" (libpq multi-host) or with empty items (the default
 * port), each 1..65535. */
static bool valid_port_list(const char *v)
{
    for (;;) {
        long port = 0;
        int digits = 0;
        for (; *v >= '0' && *v <= '9' && digits < 6; v++, digits++)
            port = port * 10 + (*v - '0');
        if (digits && (port < 1 || port > 65535))
            return false;
        if (*v != ',')
            return *v == '\0';
        v++;
    }
}

static int resolve_pg_url(at_config *cfg, const char *url, const char *setting, char *err,
                          size_t errlen)
{
    char f[64];
    if (!*url) {
        seterr(err, errlen, "%s: empty connection string", setting);
        return -1;
    }
    sa_url u;
    bool is_url = sa_url_split(url, &u);
    char *conninfo, *display = NULL;
    if (is_url) {
        if (!pg_scheme(u.name)) {
            seterr(err, errlen, "%s: unsupported scheme \"%s\" (expected "
                                "postgresql://user:password@host:port/dbname)", setting,
                   frag(f, sizeof f, u.name.s, u.name.n));
            return -1;
        }
        conninfo = pg_url_conninfo(cfg, &u, url, setting, err, errlen);
        if (!conninfo)
            return -1;
        char *d = drop_driver(url);
        display = d ? at_url_redact(d) : NULL;
        wipe_str(d);
        if (!display) {
            wipe_str(conninfo);
            seterr(err, errlen, "%s: out of memory", setting);
            return -1;
        }
    } else {
        conninfo = strdup(url); /* a keyword/value string: libpq reads it */
        if (!conninfo) {
            seterr(err, errlen, "%s: out of memory", setting);
            return -1;
        }
    }
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (!opts) {
        char line[200];
        if (is_url) {
            /* quoted values of known keywords: only out of memory */
            seterr(err, errlen, "%s: libpq rejected the settings read from the URL", setting);
        } else if (strstr(conninfo, "://")) {
            /* Ask again about a copy without the password and with every
             * query value hidden (a keyword may be percent-encoded, as in
             * pass%77ord=), so libpq's message cannot quote a secret. */
            PQfreemem(errmsg);
            errmsg = NULL;
            char *red = url_redact(conninfo, true);
            PQconninfoOption *o2 = red ? PQconninfoParse(red, &errmsg) : NULL;
            if (o2) {
                PQconninfoFree(o2);
                seterr(err, errlen,
                       "%s: libpq cannot parse the password or a query value of the URL "
                       "(not shown; percent-encode special characters)",
                       setting);
            } else {
                first_line(line, sizeof line, errmsg ? errmsg : "invalid connection URL");
                seterr(err, errlen, "%s: %s", setting, line);
            }
            free(red);
        } else if (strcasestr(conninfo, "password")) {
            seterr(err, errlen,
                   "%s: libpq cannot parse the connection string (details withheld: it holds "
                   "a password)",
                   setting);
        } else {
            first_line(line, sizeof line, errmsg ? errmsg : "invalid connection string");
            seterr(err, errlen, "%s: %s", setting, line);
        }
        PQfreemem(errmsg);
        wipe_str(conninfo);
        free(display);
        return -1;
    }
    /* libpq checks ports only when it connects; a malformed one is a
     * configuration error now, not "PostgreSQL unreachable" later */
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "port") != 0 || !o->val || !*o->val) continue;
        if (!valid_port_list(o->val)) {
            /* with an '@' in the text, the "port" may be a piece of a
             * password split by a character that ends it, so it is not
             * echoed then */
            char shown[64];
            first_line(shown, sizeof shown, o->val);
            if (strchr(url, '@'))
                seterr(err, errlen, "%s: bad port (expected 1-65535; not shown: it may hold part of the password)",
                       setting);
            else
                seterr(err, errlen, "%s: bad port \"%s\" (expected 1-65535)", setting, shown);
            PQconninfoFree(opts);
            wipe_str(conninfo);
            free(display);
            return -1;
        }
    }
    cfg->pg_conninfo = conninfo;
    cfg->pg_display = display ? display : kv_display(opts);
    PQconninfoFree(opts);
    if (!cfg->pg_display) {
        seterr(err, errlen, "%s: out of memory", setting);
        return -1;
    }
    return 0;
}

static int resolve_pg(at_config *cfg, const at_config_flags *flags, const lookup_ctx *L, char *err,
                      size_t errlen)
{
    if (flags->database_url)
        return resolve_pg_url(cfg, flags->database_url, FLAG_DATABASE, err, errlen);
    const char *url = lookup_set(L, "DATABASE_URL");
    if (url)
        return resolve_pg_url(cfg, url, "DATABASE_URL", err, errlen);

    const char *host = lookup_set(L, "DB_HOST");
    const char *port = lookup_set(L, "DB_PORT");
    const char *user = lookup_set(L, "DB_USER");
    const char *db = lookup_set(L, "DB_NAME");
    const char *pw = lookup_set(L, "DB_PASSWORD");
    int portnum;
    if (port && !parse_port(port, strlen(port), &portnum)) {
        char f[64];
        seterr(err, errlen, "DB_PORT: bad port \"%s\" (expected 1-65535)",
               frag(f, sizeof f, port, strlen(port)));
        return -1;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    kv_append(&buf, &n, &cap, "host", host ? host : "localhost");
    kv_append(&buf, &n, &cap, "port", port ? port : "5432");
    kv_append(&buf, &n, &cap, "user", user ? user : "postgres");
    kv_append(&buf, &n, &cap, "dbname", db ? db : "aether");
    cfg->pg_display = buf ? strdup(buf) : NULL;
    if (pw)
        kv_append(&buf, &n, &cap, "password", pw);
    cfg->pg_conninfo = buf;
    if (!cfg->pg_conninfo || !cfg->pg_display) {
        seterr(err, errlen, "DB_HOST: out of memory");
        return -1;
    }
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->pg_conninfo, &errmsg);
    if (!opts) {
        /* cannot happen with quoted values; never echo the string */
        seterr(err, errlen, "DB_HOST: libpq rejected the connection settings built from DB_*");
        PQfreemem(errmsg);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

int at_config_resolve(at_config *cfg, const at_config_flags *flags, at_getenv_fn getenv_fn,
                      char *err, size_t errlen)
{
    if (!cfg)
        return -1;
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = '\0';
    at_config_flags none = {0};
    if (!flags)
        flags = &none;

    at_envfile ef = {0};
    lookup_ctx L = {getenv_fn, NULL};
    if (flags->env_file) {
        if (at_envfile_load(flags->env_file, getenv_fn, &ef, err, errlen) < 0)
            return -1;
        L.file = &ef;
        /* its warnings come first, and stay when resolving fails */
        cfg->warnings = ef.warnings;
        cfg->n_warnings = ef.n_warnings;
        ef.warnings = NULL;
        ef.n_warnings = 0;
    }
    int rc = -1;
    if (resolve_redis(cfg, flags, &L, err, errlen) < 0)
        goto out;
    if (resolve_pg(cfg, flags, &L, err, errlen) < 0)
        goto out;
    const char *key = lookup_set(&L, "ENCRYPTION_KEY");
    cfg->encryption_key = strdup(key ? key : AT_DEV_ENCRYPTION_KEY);
    if (!cfg->encryption_key) {
        seterr(err, errlen, "ENCRYPTION_KEY: out of memory");
        goto out;
    }
    cfg->timeout_ms = flags->timeout_ms > 0 ? flags->timeout_ms : AT_DEFAULT_TIMEOUT_MS;
    cfg->read_only = flags->read_only || truthy(lookup(&L, "AETHERTOP_READ_ONLY"));
    cfg->audit_log = NULL;
    rc = 0;
out:
    if (rc < 0) {
        char **w = cfg->warnings;
        size_t nw = cfg->n_warnings;
        cfg->warnings = NULL;
        cfg->n_warnings = 0;
        at_config_free(cfg);
        cfg->warnings = w;
        cfg->n_warnings = nw;
    }
    at_envfile_free(&ef);
    return rc;
}

void at_config_free(at_config *cfg)
{
    if (!cfg)
        return;
    at_redis_target_free(&cfg->redis);
    free(cfg->redis_display);
    wipe_str(cfg->pg_conninfo);
    free(cfg->pg_display);
    wipe_str(cfg->encryption_key);
    free(cfg->redis_ca);
    free(cfg->redis_cert);
    free(cfg->redis_key);
    free(cfg->audit_log);
    list_free(cfg->warnings, cfg->n_warnings);
    memset(cfg, 0, sizeof *cfg);
}
