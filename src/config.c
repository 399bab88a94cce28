/* config.c — owns connection settings (SPEC section 1): Redis URL and
 * sentinel-list parsing, the gateway .env file parser, and resolving the
 * whole configuration with precedence flag > environment > env-file >
 * defaults; hiding what may be a password in connection strings (display
 * copies, argv). Error messages are one line, name the setting, and never
 * contain a password. */
#include "aethertop/config.h"
#include "aethertop/secret.h"

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

/* The values of secret options in a keyword/value string, read the way
 * libpq reads it: blanks around '=', '...' quoting, backslash escapes in
 * and out of quotes. Where libpq would stop with a syntax error, the rest
 * of the string is hidden when it mentions a password. */
static void kv_secret_spans(const char *s, span_fn fn, void *ctx)
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
        if (secret_keyword(ks, (size_t)(ke - ks), false))
            fn(ctx, (size_t)(vs - s), (size_t)(ve - s));
        continue;
    bad:
        if (strcasestr(ks, "password"))
            fn(ctx, (size_t)(ks - s), strlen(s));
        return;
    }
}

/* Either kind of connection string. */
static void conninfo_secret_spans(const char *s, span_fn fn, void *ctx)
{
    if (strstr(s, "://"))
        url_secret_spans(s, false, fn, ctx);
    else
        kv_secret_spans(s, fn, ctx);
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

static char *url_redact(const char *url, bool all_values)
{
    if (!url)
        return NULL;
    size_t len = strlen(url);
    /* each hidden part starts after at least one byte of its own (':', '=',
     * '?' or '&') and grows to at most "***" */
    char *out = malloc(4 * len + 8);
    if (!out)
        return NULL;
    redact_ctx c = {url, out, 0, 0};
    url_secret_spans(url, all_values, redact_span, &c);
    memcpy(out + c.o, url + c.done, len - c.done + 1);
    return out;
}

char *at_url_redact(const char *url)
{
    return url_redact(url, false);
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
        conninfo_secret_spans(s, scrub_span, &c);
    return c.n;
}

bool at_conninfo_has_secret(const char *s)
{
    scrub_ctx c = {NULL, 0};
    if (s)
        conninfo_secret_spans(s, scrub_span, &c);
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

/* "host", "host:port" or "[v6]:port" (n bytes). host gets a malloc'd copy. */
static int parse_hostport(const char *s, size_t n, int defport, const char *setting,
                          char **host, int *port, char *err, size_t errlen)
{
    char f[64];
    const char *h = s, *pstart = NULL;
    size_t hn;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            seterr(err, errlen, "%s: bad host \"%s\" (missing ']')", setting, frag(f, sizeof f, s, n));
            return -1;
        }
        h = s + 1;
        hn = (size_t)(close - h);
        const char *after = close + 1;
        size_t left = n - (size_t)(after - s);
        if (left > 0) {
            if (*after != ':') {
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

static int set_db(const char *s, size_t n, const char *setting, int *db, char *err, size_t errlen)
{
    char f[64];
    if (!parse_uint(s, n, 0, INT_MAX, db)) {
        seterr(err, errlen, "%s: bad database \"%s\" (expected a non-negative integer)", setting,
               frag(f, sizeof f, s, n));
        return -1;
    }
    return 0;
}

/* Query string "a=b&c=d" (n bytes): db, password, username. */
static int parse_redis_query(const char *q, size_t n, const char *setting, at_redis_target *out,
                             bool *db_given, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n) {
        const char *item = q + i;
        const char *amp = memchr(item, '&', n - i);
        size_t len = amp ? (size_t)(amp - item) : n - i;
        const char *eq = memchr(item, '=', len);
        size_t kn = eq ? (size_t)(eq - item) : len;
        const char *v = eq ? eq + 1 : item + len;
        size_t vn = eq ? len - kn - 1 : 0;
        if (kn == 2 && memcmp(item, "db", 2) == 0) {
            char *dv = pct_decode(v, vn);
            int rc = dv ? set_db(dv, strlen(dv), setting, &out->db, err, errlen) : -1;
            free(dv);
            if (rc < 0)
                return -1;
            *db_given = true;
        } else if (kn == 8 && memcmp(item, "password", 8) == 0 && vn > 0 && !out->password) {
            out->password = pct_decode(v, vn);
        } else if (kn == 8 && memcmp(item, "username", 8) == 0 && vn > 0 && !out->username) {
            out->username = pct_decode(v, vn);
        }
        i += len + 1;
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

    const char *rest = sep + 3;
    const char *at = strrchr(rest, '@');
    const char *hp = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t un = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (un > 0)
            out->username = pct_decode(rest, un);
        if (colon && at > colon + 1)
            out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
        hp = at + 1;
    }
    /* hp: authority (host part) + path + query (+ fragment, ignored) */
    size_t hlen = strcspn(hp, "#");
    const char *qmark = memchr(hp, '?', hlen);
    size_t pre_q = qmark ? (size_t)(qmark - hp) : hlen;
    bool db_given = false;
    out->port = 6379;

    if (out->transport == AT_REDIS_UNIX) {
        const char *path = hp;
        if (pre_q > 0 && hp[0] != '/') {
            const char *slash = memchr(hp, '/', pre_q);
            path = slash ? slash : hp + pre_q;
        }
        size_t pn = pre_q - (size_t)(path - hp);
        if (pn == 0) {
            seterr(err, errlen, "%s: unix:// URL needs a socket path, e.g. unix:///run/redis/redis.sock",
                   setting);
            goto fail;
        }
        out->socket_path = pct_decode(path, pn);
        out->port = 0;
    } else {
        size_t an = strcspn(hp, "/?#");
        if (an > pre_q)
            an = pre_q;
        if (an == 0) {
            seterr(err, errlen, "%s: missing host (expected %s://host[:port][/db])", setting,
                   out->transport == AT_REDIS_TLS ? "rediss" : "redis");
            goto fail;
        }
        if (parse_hostport(hp, an, 6379, setting, &out->host, &out->port, err, errlen) < 0)
            goto fail;
        const char *path = hp + an;
        size_t pn = pre_q - an;
        if (pn > 0 && path[0] == '/') {
            path++;
            pn--;
        }
        if (pn > 0 && path[pn - 1] == '/')
            pn--;
        if (pn > 0) {
            if (set_db(path, pn, setting, &out->db, err, errlen) < 0)
                goto fail;
        }
    }
    if (qmark && parse_redis_query(qmark + 1, hlen - pre_q - 1, setting, out, &db_given, err,
                                   errlen) < 0)
        goto fail;
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
            if (parse_hostport(s, (size_t)(e - s), 26379, setting, &hpp->host, &hpp->port, err,
                               errlen) < 0)
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
    memset(f, 0, sizeof *f);
}

const char *at_envfile_get(const at_envfile *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (size_t i = f->n; i > 0; i--)
        if (strcmp(f->keys[i - 1], key) == 0)
            return f->values[i - 1];
    return NULL;
}

/* Later duplicates win: replace in place, keeping first-seen order. */
static int envfile_set(at_envfile *f, char *key, char *value)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->keys[i], key) == 0) {
            free(key);
            wipe_str(f->values[i]);
            f->values[i] = value;
            return 0;
        }
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

static bool is_key_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

static bool is_hspace(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int at_envfile_parse(const char *text, const char *name, at_envfile *out, char *err, size_t errlen)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!name)
        name = ".env";
    if (!text)
        return 0;
    const char *p = text;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    int lineno = 1;
    char *value = NULL;
    while (*p) {
        int line = lineno;
        const char *q = p;
        while (is_hspace(*q))
            q++;
        if (*q == '\n' || *q == '\0' || *q == '#') {
            while (*q && *q != '\n')
                q++;
            if (*q == '\n') {
                q++;
                lineno++;
            }
            p = q;
            continue;
        }
        if (strncmp(q, "export", 6) == 0 && (q[6] == ' ' || q[6] == '\t')) {
            const char *r = q + 6;
            while (is_hspace(*r))
                r++;
            if (is_key_start(*r))
                q = r;
        }
        const char *ks = q;
        if (!is_key_start(*q))
            goto bad_line;
        while (is_key_char(*q))
            q++;
        const char *ke = q;
        while (is_hspace(*q))
            q++;
        if (*q != '=')
            goto bad_line;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;

        if (*q == '"' || *q == '\'') {
            /* quoted values may run over several lines */
            char quote = *q++;
            value = malloc(strlen(q) + 1);
            if (!value)
                goto oom;
            size_t o = 0;
            while (*q && *q != quote) {
                if (*q == '\n')
                    lineno++;
                if (quote == '"' && *q == '\\' && q[1]) {
                    char c = q[1];
                    char r;
                    switch (c) {
                    case 'n': r = '\n'; break;
                    case 't': r = '\t'; break;
                    case 'r': r = '\r'; break;
                    case '"': r = '"'; break;
                    case '\\': r = '\\'; break;
                    case '\'': r = '\''; break;
                    default: r = 0; break;
                    }
                    if (r) {
                        value[o++] = r;
                        q += 2;
                        continue;
                    }
                }
                value[o++] = *q++;
            }
            value[o] = '\0';
            if (*q != quote) {
                seterr(err, errlen, "%s:%d: unterminated %s-quoted value", name, line,
                       quote == '"' ? "double" : "single");
                goto fail;
            }
            q++;
            while (is_hspace(*q))
                q++;
            if (*q == '#') {
                while (*q && *q != '\n')
                    q++;
            }
            if (*q && *q != '\n') {
                seterr(err, errlen, "%s:%d: unexpected text after the closing quote", name,
                       lineno);
                goto fail;
            }
        } else {
            const char *vs = q;
            const char *ve = vs + strcspn(vs, "\n");
            for (const char *c = vs + 1; c < ve; c++) {
                if (*c == '#' && (c[-1] == ' ' || c[-1] == '\t')) {
                    ve = c;
                    break;
                }
            }
            while (ve > vs && is_hspace(ve[-1]))
                ve--;
            value = dup_n(vs, (size_t)(ve - vs));
            if (!value)
                goto oom;
            q = vs + strcspn(vs, "\n");
        }
        char *key = dup_n(ks, (size_t)(ke - ks));
        if (!key)
            goto oom;
        if (envfile_set(out, key, value) < 0) {
            value = NULL;
            goto oom;
        }
        value = NULL;
        if (*q == '\n') {
            q++;
            lineno++;
        }
        p = q;
        continue;
    bad_line:
        seterr(err, errlen, "%s:%d: expected KEY=value", name, line);
        goto fail;
    }
    return 0;
oom:
    seterr(err, errlen, "%s: out of memory", name);
fail:
    wipe_str(value);
    at_envfile_free(out);
    return -1;
}

int at_envfile_load(const char *path, at_envfile *out, char *err, size_t errlen)
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
    rc = at_envfile_parse(buf, path, out, err, errlen);
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

/* Environment first (even when set to ""), then the env file. */
static const char *lookup(const lookup_ctx *L, const char *name)
{
    const char *v = L->getenv_fn ? L->getenv_fn(name) : NULL;
    if (v)
        return v;
    return L->file ? at_envfile_get(L->file, name) : NULL;
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
        size_t cap = strlen(t->sentinel_service ? t->sentinel_service : "") + 16;
        for (size_t i = 0; i < t->n_sentinels; i++)
            cap += strlen(t->sentinels[i].host) + 12;
        char *r = malloc(cap);
        if (!r)
            return NULL;
        size_t o = (size_t)snprintf(r, cap, "sentinel:%s@",
                                    t->sentinel_service ? t->sentinel_service : "");
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

static int resolve_redis(at_config *cfg, const at_config_flags *flags, const lookup_ctx *L,
                         char *err, size_t errlen)
{
    at_redis_target *t = &cfg->redis;
    const char *v;
    if (flags->redis_url) {
        if (at_redis_url_parse(flags->redis_url, FLAG_REDIS, t, err, errlen) < 0)
            return -1;
    } else if ((v = lookup_set(L, "REDIS_SENTINEL_HOSTS")) != NULL) {
        memset(t, 0, sizeof *t);
        if (at_sentinel_hosts_parse(v, t, err, errlen) < 0)
            return -1;
        const char *svc = lookup_set(L, "REDIS_SENTINEL_SERVICE_NAME");
        t->sentinel_service = strdup(svc ? svc : "mymaster");
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

/* Append keyword='value' (libpq quoting: \ and ' escaped). */
static void kv_append(char **buf, size_t *n, size_t *cap, const char *kw, const char *val)
{
    if (!*buf && *cap != 0)
        return; /* earlier allocation failure */
    size_t need = strlen(kw) + 2 * strlen(val) + 6;
    if (*n + need > *cap) {
        size_t nc = (*cap ? *cap : 64);
        while (*n + need > nc)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            if (*buf) {
                explicit_bzero(*buf, *n);
                free(*buf);
            }
            *buf = NULL;
            *cap = 1;
            return;
        }
        *buf = nb;
        *cap = nc;
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

static bool is_pg_url(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* "postgresql+psycopg2://..." -> "postgresql://..." (SQLAlchemy style). */
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
            /* the scheme itself in lower case, as libpq wants */
            for (size_t i = 0; i < sl; i++)
                r[i] = (char)tolower((unsigned char)url[i]);
            memcpy(r + sl, sep, rl + 1);
            return r;
        }
    }
    return strdup(url);
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

/* "5432" or "5432,5433" (libpq multi-host), each 1..65535. */
static bool valid_port_list(const char *v)
{
    while (*v) {
        long port = 0;
        int digits = 0;
        for (; *v >= '0' && *v <= '9' && digits < 6; v++, digits++) port = port * 10 + (*v - '0');
        if (!digits || port < 1 || port > 65535) return false;
        if (*v == ',') v++;
        else if (*v) return false;
    }
    return true;
}

static int resolve_pg_url(at_config *cfg, const char *url, const char *setting, char *err,
                          size_t errlen)
{
    if (!*url) {
        seterr(err, errlen, "%s: empty connection string", setting);
        return -1;
    }
    char *conninfo = drop_driver(url);
    if (!conninfo) {
        seterr(err, errlen, "%s: out of memory", setting);
        return -1;
    }
    if (is_pg_url(conninfo)) {
        /* libpq ends user:password@ at the first '@' (before any '/'), the
         * redaction at the last: with two, libpq takes the rest of the
         * password for the host and quotes it in its errors */
        const char *auth = strstr(conninfo, "://") + 3;
        size_t alen = strcspn(auth, "/"), ats = 0;
        for (size_t i = 0; i < alen; i++)
            ats += auth[i] == '@';
        if (ats > 1) {
            seterr(err, errlen,
                   "%s: more than one '@' before the host (write an '@' in the user name or "
                   "password as %%40)",
                   setting);
            wipe_str(conninfo);
            return -1;
        }
    }
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (!opts) {
        char line[200];
        if (strstr(conninfo, "://")) {
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
        return -1;
    }
    /* libpq checks ports only when it connects; a malformed one is a
     * configuration error now, not "PostgreSQL unreachable" later */
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "port") != 0 || !o->val || !*o->val) continue;
        if (!valid_port_list(o->val)) {
            /* libpq ends user:password@ at the first '@' (or '/'), the redaction
             * at the last '@': with an '@' in the URL the "port" libpq found may
             * be a piece of the password, so it is not echoed then */
            char shown[64];
            first_line(shown, sizeof shown, o->val);
            if (strchr(conninfo, '@'))
                seterr(err, errlen, "%s: bad port (expected 1-65535; not shown: it may hold part of the password)",
                       setting);
            else
                seterr(err, errlen, "%s: bad port \"%s\" (expected 1-65535)", setting, shown);
            PQconninfoFree(opts);
            wipe_str(conninfo);
            return -1;
        }
    }
    cfg->pg_conninfo = conninfo;
    cfg->pg_display = is_pg_url(conninfo) ? at_url_redact(conninfo) : kv_display(opts);
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
        if (at_envfile_load(flags->env_file, &ef, err, errlen) < 0)
            return -1;
        L.file = &ef;
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
    if (rc < 0)
        at_config_free(cfg);
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
    memset(cfg, 0, sizeof *cfg);
}
