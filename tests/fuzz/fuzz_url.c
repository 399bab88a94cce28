/* fuzz_url.c — libFuzzer target for connection settings: at_redis_url_parse
 * (redis://, rediss://, unix://), at_url_redact, at_sentinel_hosts_parse, and
 * the DATABASE_URL path of at_config_resolve (driver suffix, libpq's parser,
 * the display form without the password). Input: one setting's text (up to
 * the first NUL, as getenv would give it).
 *
 * Besides crashes and the shape of what is parsed, it checks that a URL's
 * password never reaches an error message, a redacted URL or the display
 * form. Differentially, so that a password which merely looks like fixed
 * message text ("unix:/") is no false alarm: the same URL is run again with
 * the password's letters and digits shifted (a->b, 9->0); text echoed from
 * the password shifts with it, fixed text does not. */
#include "aethertop/config.h"

#include "fuzz_util.h"

static const char *g_database_url;

static const char *fake_getenv(const char *name)
{
    if (strcmp(name, "DATABASE_URL") == 0) return g_database_url;
    if (strcmp(name, "REDIS_URL") == 0) return "redis://127.0.0.1:6379/0";
    return NULL;
}

/* Where the password of a URL is, as the redaction sees it: between the ':'
 * after "scheme://user" and the last '@'. 0 when there is none (or it is
 * shorter than 6 bytes, too short to tell from other text), and when a '/'
 * comes before that ':': neither redis-py (urlparse ends the host part at
 * the first '/', '?' or '#') nor SQLAlchemy (the user name runs to the
 * first ':' or '/') reads a password there, and the text after the '/' is
 * a path, a database name or a query parameter that may be shown. */
static size_t password_at(const char *url, size_t *len)
{
    /* only URLs: scheme "://" at the start (a keyword/value conninfo may hold
     * "://" inside a value, where it is no password) */
    size_t scheme = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (scheme == 0 || strncmp(url + scheme, "://", 3) != 0) return 0;
    const char *rest = url + scheme + 3;
    const char *at = strrchr(rest, '@');
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    if (!colon || at - colon - 1 < 6 || memchr(rest, '/', (size_t)(colon - rest))) return 0;
    *len = (size_t)(at - colon - 1);
    return (size_t)(colon + 1 - url);
}

static void shift_alnum(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') s[i] = c == 'z' ? 'a' : (char)(c + 1);
        else if (c >= 'A' && c <= 'Z') s[i] = c == 'Z' ? 'A' : (char)(c + 1);
        else if (c >= '0' && c <= '9') s[i] = c == '9' ? '0' : (char)(c + 1);
    }
}

/* What the parsers say about one text: every string that must be
 * password-free. */
typedef struct {
    char *redis_err, *redacted, *cfg_err, *pg_display, *warnings;
} said;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void run(const char *text, said *out, bool check)
{
    char err[512];
    memset(out, 0, sizeof *out);

    at_redis_target t;
    err[0] = '\0';
    if (at_redis_url_parse(text, "REDIS_URL", &t, err, sizeof err) == 0) {
        if (check) {
            FZ_CHECK(t.transport == AT_REDIS_UNIX ? t.socket_path != NULL : t.host != NULL);
            FZ_CHECK(t.transport == AT_REDIS_UNIX || (t.port >= 1 && t.port <= 65535));
            FZ_CHECK(t.db >= 0);
        }
        at_redis_target_free(&t);
    } else {
        if (check) FZ_CHECK(strncmp(err, "REDIS_URL", 9) == 0 && strchr(err, '\n') == NULL);
        out->redis_err = strdup(err);
    }

    out->redacted = at_url_redact(text);
    FZ_CHECK(out->redacted != NULL);

    if (check) {
        at_redis_target s;
        memset(&s, 0, sizeof s);
        if (at_sentinel_hosts_parse(text, &s, err, sizeof err) == 0) {
            FZ_CHECK(s.n_sentinels > 0);
            for (size_t i = 0; i < s.n_sentinels; i++)
                FZ_CHECK(s.sentinels[i].host && s.sentinels[i].port >= 1 && s.sentinels[i].port <= 65535);
        }
        at_redis_target_free(&s);
    }

    g_database_url = text;
    at_config cfg;
    at_config_flags flags = {0};
    err[0] = '\0';
    if (at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err) == 0) {
        if (check) FZ_CHECK(cfg.pg_conninfo && cfg.pg_display && cfg.redis_display);
        out->pg_display = dup_or_null(cfg.pg_display);
    } else {
        if (check) FZ_CHECK(err[0] && strchr(err, '\n') == NULL && cfg.pg_conninfo == NULL);
        out->cfg_err = strdup(err);
    }
    /* the warnings (a URL parameter ignored), one line each, joined */
    size_t wlen = 1;
    for (size_t i = 0; i < cfg.n_warnings; i++) {
        if (check) FZ_CHECK(strchr(cfg.warnings[i], '\n') == NULL);
        wlen += strlen(cfg.warnings[i]) + 1;
    }
    out->warnings = calloc(1, wlen);
    if (!out->warnings) abort();
    for (size_t i = 0; i < cfg.n_warnings; i++) {
        strcat(out->warnings, cfg.warnings[i]);
        strcat(out->warnings, "\n");
    }
    at_config_free(&cfg);
}

static void said_free(said *s)
{
    free(s->redis_err);
    free(s->redacted);
    free(s->cfg_err);
    free(s->pg_display);
    free(s->warnings);
}

/* How many times needle occurs in hay (overlapping). */
static size_t occurrences(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; hay && (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

/* A leak, told apart by the difference: changing only the password takes
 * occurrences of the old password out of what was said and puts the new
 * one in. (Text equal to the password elsewhere in the input, say in a
 * query parameter that is shown, is said about both URLs alike: no leak.) */
#define NO_LEAK(field)                                                                       \
    FZ_CHECK(!(a.field && b.field && occurrences(a.field, pw) > occurrences(b.field, pw) &&   \
               occurrences(b.field, pw2) > occurrences(a.field, pw2)))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_dup(data, size);
    said a;
    run(text, &a, true);

    size_t pwlen = 0, off = password_at(text, &pwlen);
    if (off) {
        char *pw = strndup(text + off, pwlen);
        char *shifted = strdup(text);
        if (!pw || !shifted) abort();
        shift_alnum(shifted + off, pwlen);
        char *pw2 = strndup(shifted + off, pwlen);
        if (strcmp(pw, pw2) != 0) {
            said b;
            run(shifted, &b, false);
            NO_LEAK(redis_err);
            NO_LEAK(redacted);
            NO_LEAK(cfg_err);
            NO_LEAK(pg_display);
            NO_LEAK(warnings);
            said_free(&b);
        }
        free(pw2);
        free(shifted);
        free(pw);
    }
    said_free(&a);
    free(text);
    return 0;
}
