/* test_config.c — unit tests of src/config.c: Redis URL and sentinel list
 * parsing (and their error messages), the .env parser, and configuration
 * resolution with precedence flag > environment > env-file > defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aethertop/config.h"

#ifndef AETHERTOP_TEST_TMPDIR
#define AETHERTOP_TEST_TMPDIR "/tmp"
#endif

#define SECRET "Hunter2Secret"

/* ------------------------------------------------------------ fake env */

static const char *fake_env[64][2];
static size_t n_fake_env;

static void env_clear(void)
{
    n_fake_env = 0;
}

static void env_set(const char *name, const char *value)
{
    for (size_t i = 0; i < n_fake_env; i++) {
        if (strcmp(fake_env[i][0], name) == 0) {
            fake_env[i][1] = value;
            return;
        }
    }
    assert_true(n_fake_env < 64);
    fake_env[n_fake_env][0] = name;
    fake_env[n_fake_env][1] = value;
    n_fake_env++;
}

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < n_fake_env; i++)
        if (strcmp(fake_env[i][0], name) == 0)
            return fake_env[i][1];
    return NULL;
}

/* Write text to a fresh temporary .env file; returns its malloc'd path. */
static char *write_envfile(const char *text)
{
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/test_config_XXXXXX", AETHERTOP_TEST_TMPDIR);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void remove_envfile(char *path)
{
    unlink(path);
    free(path);
}

/* The value libpq reads for keyword in a conninfo (NULL: none). */
static const char *conninfo_value(const char *conninfo, const char *keyword)
{
    static char buf[256];
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    assert_non_null(opts);
    const char *r = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, keyword) == 0 && o->val) {
            snprintf(buf, sizeof buf, "%s", o->val);
            r = buf;
        }
    }
    PQconninfoFree(opts);
    return r;
}

static void assert_one_line_no_secret(const char *err)
{
    assert_null(strchr(err, '\n'));
    if (strstr(err, SECRET))
        fail_msg("error message leaks the password: %s", err);
}

/* ------------------------------------------------------------ Redis URLs */

/* url parses; host (or socket path), password, user name (NULL: none) and db. */
static void check_redis_good(const char *url, const char *where, const char *password,
                             const char *username, int db)
{
    at_redis_target t;
    char err[256];
    if (at_redis_url_parse(url, "REDIS_URL", &t, err, sizeof err) != 0)
        fail_msg("%s: %s", url, err);
    assert_string_equal(t.transport == AT_REDIS_UNIX ? t.socket_path : t.host, where);
    if (password)
        assert_string_equal(t.password, password);
    else
        assert_null(t.password);
    if (username)
        assert_string_equal(t.username, username);
    else
        assert_null(t.username);
    assert_int_equal(t.db, db);
    at_redis_target_free(&t);
}

static void test_redis_url_good(void **state)
{
    (void)state;
    at_redis_target t;
    char err[256];

    assert_int_equal(at_redis_url_parse("redis://localhost", "REDIS_URL", &t, err, sizeof err), 0);
    assert_int_equal(t.transport, AT_REDIS_TCP);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_null(t.username);
    assert_null(t.password);
    assert_int_equal(t.n_sentinels, 0);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("redis://:s3cr%40t%3A@cache.internal:6380/2", "REDIS_URL",
                                        &t, err, sizeof err),
                     0);
    assert_null(t.username);
    assert_string_equal(t.password, "s3cr@t:");
    assert_string_equal(t.host, "cache.internal");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 2);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("redis://al%20ice:pw@h/0", "REDIS_URL", &t, err, sizeof err),
                     0);
    assert_string_equal(t.username, "al ice");
    assert_string_equal(t.password, "pw");
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("redis://bob@h:7000", "REDIS_URL", &t, err, sizeof err), 0);
    assert_string_equal(t.username, "bob");
    assert_null(t.password);
    assert_int_equal(t.port, 7000);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("rediss://h.example:6390/15", "REDIS_URL", &t, err,
                                        sizeof err),
                     0);
    assert_int_equal(t.transport, AT_REDIS_TLS);
    assert_int_equal(t.port, 6390);
    assert_int_equal(t.db, 15);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("REDIS://H/1/", "REDIS_URL", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "H");
    assert_int_equal(t.db, 1);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("redis://h/?db=4", "REDIS_URL", &t, err, sizeof err), 0);
    assert_int_equal(t.db, 4);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("redis://[::1]:6400/3", "REDIS_URL", &t, err, sizeof err),
                     0);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 6400);
    assert_int_equal(t.db, 3);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("redis://[fe80::2]", "REDIS_URL", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "fe80::2");
    assert_int_equal(t.port, 6379);
    at_redis_target_free(&t);

    /* an unencoded '@' in the password: the last '@' of the host part ends it */
    assert_int_equal(at_redis_url_parse("redis://:p@w@d@h:1/0", "REDIS_URL", &t, err, sizeof err),
                     0);
    assert_string_equal(t.password, "p@w@d");
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 1);
    at_redis_target_free(&t);

    /* the host part ends at the first '/', '?' or '#' (urlparse): an '@'
     * after it is not the end of a password */
    check_redis_good("redis://host:6379/0?client_name=ops@team", "host", NULL, NULL, 0);
    check_redis_good("redis://u:pw@h#frag@x", "h", "pw", "u", 0);
    check_redis_good("unix:///tmp/a@b.sock?db=2", "/tmp/a@b.sock", NULL, NULL, 2);
    /* the query as redis-py reads it (parse_qs, then unquote again): '+' is
     * a space, the first value wins, empty values are dropped, the URL's
     * own password wins over ?password= */
    check_redis_good("redis://h/?password=a+b%2540c&password=zz&username=u+1", "h", "a b@c", "u 1", 0);
    check_redis_good("redis://:url@h/?password=query", "h", "url", NULL, 0);
    check_redis_good("redis://h/?db=1&db=2&db=x", "h", NULL, NULL, 1);
    check_redis_good("redis://h/3?db=&db", "h", NULL, NULL, 3);
    /* ?db= wins over the path (which is then not read) */
    check_redis_good("redis://h/x?d%62=4", "h", NULL, NULL, 4);

    assert_int_equal(at_redis_url_parse("unix:///var/run/redis/redis.sock?db=3", "REDIS_URL", &t,
                                        err, sizeof err),
                     0);
    assert_int_equal(t.transport, AT_REDIS_UNIX);
    assert_string_equal(t.socket_path, "/var/run/redis/redis.sock");
    assert_int_equal(t.db, 3);
    assert_null(t.host);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("unix://:pw@/tmp/r.sock", "REDIS_URL", &t, err, sizeof err),
                     0);
    assert_string_equal(t.socket_path, "/tmp/r.sock");
    assert_string_equal(t.password, "pw");
    assert_int_equal(t.db, 0);
    at_redis_target_free(&t);

    assert_int_equal(at_redis_url_parse("unix:///tmp/r.sock?db=1&password=qq", "REDIS_URL", &t, err,
                                        sizeof err),
                     0);
    assert_int_equal(t.db, 1);
    assert_string_equal(t.password, "qq");
    at_redis_target_free(&t);
}

static void check_bad_url(const char *url, const char *setting, const char *want)
{
    at_redis_target t;
    char err[256] = "";
    memset(&t, 0x5a, sizeof t);
    if (at_redis_url_parse(url, setting, &t, err, sizeof err) == 0)
        fail_msg("accepted bad URL");
    assert_one_line_no_secret(err);
    if (strncmp(err, setting, strlen(setting)) != 0 || err[strlen(setting)] != ':')
        fail_msg("error does not start with the setting name: %s", err);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    /* the target was left empty */
    assert_null(t.host);
    assert_null(t.password);
    at_redis_target_free(&t);
}

static void test_redis_url_bad(void **state)
{
    (void)state;
    char err[256];
    at_redis_target t;
    assert_int_equal(at_redis_url_parse("redis://:" SECRET "@h:70000/0", "REDIS_URL", &t, err,
                                        sizeof err),
                     -1);
    assert_string_equal(err, "REDIS_URL: bad port \"70000\" (expected 1-65535)");
    assert_int_equal(at_redis_url_parse("http://u:" SECRET "@h/", "--redis", &t, err, sizeof err),
                     -1);
    assert_string_equal(err, "--redis: unsupported scheme \"http\" (expected redis://, rediss:// or "
                             "unix://)");

    check_bad_url("redis://:" SECRET "@h:0/0", "REDIS_URL", "bad port \"0\"");
    check_bad_url("redis://:" SECRET "@h:abc/0", "REDIS_URL", "bad port \"abc\"");
    check_bad_url("redis://:" SECRET "@h:/0", "REDIS_URL", "bad port \"\"");
    check_bad_url("redis://:" SECRET "@h:-1/0", "REDIS_URL", "bad port");
    check_bad_url("redis://:" SECRET "@h:6379/x", "REDIS_URL", "bad database \"x\"");
    check_bad_url("redis://:" SECRET "@h:6379/-1", "REDIS_URL", "bad database \"-1\"");
    check_bad_url("redis://h:6379/99999999999", "REDIS_URL", "bad database");
    check_bad_url("redis://h/?db=two&password=" SECRET, "REDIS_URL", "bad database \"two\"");
    check_bad_url("redis://:" SECRET "@:6379/0", "REDIS_URL", "missing host");
    check_bad_url("redis://:" SECRET "@/0", "REDIS_URL", "missing host");
    check_bad_url("rediss://", "REDIS_URL", "missing host");
    check_bad_url("redis://[::1/0", "REDIS_URL", "bad host");
    check_bad_url("unix://", "REDIS_URL", "socket path");
    check_bad_url("unix://:" SECRET "@", "REDIS_URL", "socket path");
    check_bad_url("localhost:6379", "REDIS_URL", "missing scheme");
    check_bad_url(":" SECRET "@localhost:6379", "REDIS_URL", "missing scheme");
    check_bad_url("", "REDIS_URL", "empty");
    check_bad_url("ftp+x://h", "--redis", "unsupported scheme \"ftp+x\"");
    check_bad_url("redis://h:1\x1b[2J/0", "REDIS_URL", "bad port \"1?[2J\"");
    /* a '/', '?' or '#' in a password ends the host part early (as in
     * redis-py): the error then quotes nothing, the piece may be a secret */
    check_bad_url("redis://u:Hunter2/Secret@h:1/0", "REDIS_URL", "bad port (expected 1-65535; not shown");
    check_bad_url("redis://:Hunter2/Secret@h:1/0", "REDIS_URL", "missing host");
    check_bad_url("redis://h/Hunter2:Secret@x", "REDIS_URL", "bad database (expected a non-negative integer; not shown");
    check_bad_url("redis://h/?db=Hunter2Secret&x=@", "REDIS_URL", "bad database (expected");
    check_bad_url("redis://[Hunter2Secret?x@y", "REDIS_URL", "bad host (missing ']'; not shown");
}

static void test_sentinel_hosts(void **state)
{
    (void)state;
    at_redis_target t;
    char err[256];
    memset(&t, 0, sizeof t);
    assert_int_equal(at_sentinel_hosts_parse("h1:26379,h2", &t, err, sizeof err), 0);
    assert_int_equal(t.n_sentinels, 2);
    assert_string_equal(t.sentinels[0].host, "h1");
    assert_int_equal(t.sentinels[0].port, 26379);
    assert_string_equal(t.sentinels[1].host, "h2");
    assert_int_equal(t.sentinels[1].port, 26379);

    /* parsing again replaces the list */
    assert_int_equal(at_sentinel_hosts_parse("  a:5000 , b ,\t[::1]:26380 ,", &t, err, sizeof err), 0);
    assert_int_equal(t.n_sentinels, 3);
    assert_string_equal(t.sentinels[0].host, "a");
    assert_int_equal(t.sentinels[0].port, 5000);
    assert_string_equal(t.sentinels[1].host, "b");
    assert_string_equal(t.sentinels[2].host, "::1");
    assert_int_equal(t.sentinels[2].port, 26380);
    at_redis_target_free(&t);

    assert_int_equal(at_sentinel_hosts_parse("h1:99999", &t, err, sizeof err), -1);
    assert_string_equal(err, "REDIS_SENTINEL_HOSTS: bad port \"99999\" (expected 1-65535)");
    assert_int_equal(t.n_sentinels, 0);
    assert_int_equal(at_sentinel_hosts_parse(" , ", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "REDIS_SENTINEL_HOSTS:"));
    assert_int_equal(at_sentinel_hosts_parse("h1,:26379", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing host"));
    at_redis_target_free(&t);
}

static void test_url_redact(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
    } cases[] = {
        {"postgresql://u:" SECRET "@db:5432/aether", "postgresql://u:***@db:5432/aether"},
        {"redis://:" SECRET "@h:6379/0", "redis://:***@h:6379/0"},
        {"redis://user@h/0", "redis://user@h/0"},
        {"postgresql://db/aether?sslmode=require", "postgresql://db/aether?sslmode=require"},
        {"postgresql://u@db/a?password=" SECRET "&sslmode=disable",
         "postgresql://u@db/a?password=***&sslmode=disable"},
        {"postgresql://u:p/" SECRET "@db/a", "postgresql://u:***@db/a"},
        {"host=x", "host=x"},
        /* libpq percent-decodes query keywords too, and knows sslpassword */
        {"postgresql://u@127.0.0.1:48432/db?pass%77ord=" SECRET,
         "postgresql://u@127.0.0.1:48432/db?pass%77ord=***"},
        {"postgresql://u@db/a?%70%61%73%73%77%6F%72%64=" SECRET "&sslmode=require",
         "postgresql://u@db/a?%70%61%73%73%77%6F%72%64=***&sslmode=require"},
        {"postgresql://u@db/a?sslmode=require&sslpassword=" SECRET,
         "postgresql://u@db/a?sslmode=require&sslpassword=***"},
        {"postgresql://u@db/a?ssl%70assword=" SECRET, "postgresql://u@db/a?ssl%70assword=***"},
        /* libpq knows no '#': the value runs to the next '&' */
        {"postgresql://u@db/a?password=x#" SECRET "&sslmode=disable",
         "postgresql://u@db/a?password=***&sslmode=disable"},
        {"postgresql://u@db/a?application_name=pass%77ord", "postgresql://u@db/a?application_name=pass%77ord"},
        /* an '@' in the query is not the end of the credentials */
        {"postgresql://u@db/a?password=" SECRET "&application_name=a@b",
         "postgresql://u@db/a?password=***&application_name=a@b"},
        {"postgresql://u:" SECRET "@db/a?application_name=a@b&password=" SECRET,
         "postgresql://u:***@b&password=***"},
        {"postgresql://u:pa?password=" SECRET "@db/a", "postgresql://u:***@db/a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *r = at_url_redact(cases[i].in);
        assert_non_null(r);
        assert_string_equal(r, cases[i].want);
        free(r);
    }
    assert_null(at_url_redact(NULL));
}

/* What the argv scrub leaves of a connection string (malloc'd). */
static char *scrubbed(const char *in, size_t *hidden)
{
    char *s = strdup(in);
    assert_non_null(s);
    *hidden = at_conninfo_scrub(s);
    assert_int_equal(strlen(s), strlen(in)); /* overwritten in place */
    assert_int_equal(at_conninfo_has_secret(in), *hidden > 0);
    return s;
}

static void test_conninfo_scrub(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
        size_t hidden;
    } cases[] = {
        {"postgresql://u:" SECRET "@db/a", "postgresql://u:*************@db/a", 1},
        {"postgresql://u@127.0.0.1:48432/db?pass%77ord=" SECRET,
         "postgresql://u@127.0.0.1:48432/db?pass%77ord=*************", 1},
        {"postgresql://u@db/a?sslpassword=" SECRET "&sslmode=require",
         "postgresql://u@db/a?sslpassword=*************&sslmode=require", 1},
        /* keyword form: blanks around '=', quotes, backslash escapes */
        {"host=db password = " SECRET, "host=db password = *************", 1},
        {"host=db password\t=\t" SECRET " dbname=x", "host=db password\t=\t************* dbname=x", 1},
        {"password='a\\'" SECRET "' host=db", "password='****************' host=db", 1},
        {"password=a\\ " SECRET " host=db", "password=**************** host=db", 1},
        {"host=db sslpassword='" SECRET "'", "host=db sslpassword='*************'", 1},
        /* what libpq would reject: the rest is hidden when it names a password */
        {"host=db password='" SECRET, "host=db ***********************", 1},
        {"host=db password " SECRET, "host=db **********************", 1},
        /* nothing secret: untouched */
        {"host=db dbname=password", "host=db dbname=password", 0},
        {"postgresql://u@db/a?sslmode=require", "postgresql://u@db/a?sslmode=require", 0},
        {"host=db password=", "host=db password=", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t hidden;
        char *s = scrubbed(cases[i].in, &hidden);
        if (strcmp(s, cases[i].want) != 0 || hidden != cases[i].hidden)
            fail_msg("case %zu: \"%s\" -> \"%s\" (%zu hidden), want \"%s\" (%zu)", i, cases[i].in, s,
                     hidden, cases[i].want, cases[i].hidden);
        free(s);
    }
    assert_int_equal(at_conninfo_scrub(NULL), 0);
    assert_false(at_conninfo_has_secret(NULL));
}

/* ------------------------------------------------------------ .env */

static void test_envfile_parse(void **state)
{
    (void)state;
    const char *text = "\xef\xbb\xbf# gateway settings\n"
                       "\n"
                       "   \t\n"
                       "export A=1\n"
                       "B = two words  # trailing comment\n"
                       "C=\"quoted # not a comment\"\n"
                       "D='single $x \\n literal'\n"
                       "E=\"esc\\n\\\"q\\\"\\\\x\"\n"
                       "F=\n"
                       "G=val#not-a-comment\n"
                       "H=\"multi\n"
                       "line\"\n"
                       "B=override\r\n"
                       "  I = 'x y'   # c\n"
                       "J=a=b=c\n"
                       "export=kept\n"
                       "K=\"\"\n"
                       "L=  spaced value  \n"
                       "M=#starts-with-hash";
    at_envfile f;
    char err[256];
    assert_int_equal(at_envfile_parse(text, ".env", NULL, &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "A"), "1");
    assert_string_equal(at_envfile_get(&f, "B"), "override");
    assert_string_equal(at_envfile_get(&f, "C"), "quoted # not a comment");
    assert_string_equal(at_envfile_get(&f, "D"), "single $x \\n literal");
    assert_string_equal(at_envfile_get(&f, "E"), "esc\n\"q\"\\x");
    assert_string_equal(at_envfile_get(&f, "F"), "");
    assert_string_equal(at_envfile_get(&f, "G"), "val#not-a-comment");
    assert_string_equal(at_envfile_get(&f, "H"), "multi\nline");
    assert_string_equal(at_envfile_get(&f, "I"), "x y");
    assert_string_equal(at_envfile_get(&f, "J"), "a=b=c");
    assert_string_equal(at_envfile_get(&f, "export"), "kept");
    assert_string_equal(at_envfile_get(&f, "K"), "");
    assert_string_equal(at_envfile_get(&f, "L"), "spaced value");
    assert_string_equal(at_envfile_get(&f, "M"), "#starts-with-hash");
    assert_null(at_envfile_get(&f, "Z"));
    /* duplicates replaced in place: keys stay unique, first-seen order */
    assert_int_equal(f.n, 14);
    assert_string_equal(f.keys[0], "A");
    assert_string_equal(f.keys[1], "B");
    assert_int_equal(f.n_warnings, 0);
    at_envfile_free(&f);
    assert_int_equal(f.n, 0);

    assert_int_equal(at_envfile_parse("", "e", NULL, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 0);
    at_envfile_free(&f);

    /* a lone CR ends a line too (Python reads the file with universal newlines) */
    assert_int_equal(at_envfile_parse("A=1\rB=\"x\r\ny\"\r", "e", NULL, &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "A"), "1");
    assert_string_equal(at_envfile_get(&f, "B"), "x\ny");
    at_envfile_free(&f);
}

/* Parse text that python-dotenv partly skips: the remaining values must be
 * `keys` (NULL-terminated "KEY=value" strings) and the warnings `warns`. */
static void check_env_skips(const char *text, const char *const *kvs, const char *const *warns)
{
    at_envfile f;
    char err[256];
    assert_int_equal(at_envfile_parse(text, "/srv/gw/.env", NULL, &f, err, sizeof err), 0);
    size_t n = 0;
    for (; kvs[n]; n++) {
        const char *eq = strchr(kvs[n], '=');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kvs[n]), kvs[n]);
        const char *v = at_envfile_get(&f, key);
        if (!v || strcmp(v, eq + 1) != 0)
            fail_msg("%s: got %s", kvs[n], v ? v : "(unset)");
    }
    assert_int_equal(f.n, n);
    size_t w = 0;
    for (; warns[w]; w++) {
        if (w >= f.n_warnings)
            fail_msg("missing warning %s", warns[w]);
        assert_string_equal(f.warnings[w], warns[w]);
    }
    assert_int_equal(f.n_warnings, w);
    at_envfile_free(&f);
}

#define KVS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})
#define SKIPPED(line, why) "/srv/gw/.env:" #line ": " why ": line skipped, as python-dotenv skips it"
#define UNSET(line) "/srv/gw/.env:" #line ": no '=' on this line: the name is left unset, as python-dotenv leaves it"

/* What python-dotenv skips (logging "could not parse statement starting at
 * line N") is skipped with a warning; the other lines still count. */
static void test_envfile_skipped_lines(void **state)
{
    (void)state;
    check_env_skips("A=1\nNOEQUALS\n", KVS("A=1"), KVS(UNSET(2)));
    check_env_skips("export FOO\nB=2\n", KVS("B=2"), KVS(UNSET(1)));
    check_env_skips("export\n", NONE, KVS(UNSET(1)));
    /* a name given without '=' after a value unsets it, as in python-dotenv */
    check_env_skips("X=1\nX\n", NONE, KVS(UNSET(2)));
    check_env_skips("A B=1\nC=3", KVS("C=3"), KVS(SKIPPED(1, "expected KEY=value")));
    check_env_skips("=value\n", NONE, KVS(SKIPPED(1, "expected KEY=value")));
    check_env_skips("export =1\n", NONE, KVS(SKIPPED(1, "expected KEY=value")));
    /* an unterminated quote skips its own line only */
    check_env_skips("A=\"x\nB=2\nC=3\n", KVS("B=2", "C=3"),
                    KVS(SKIPPED(1, "unterminated double-quoted value")));
    check_env_skips("A=1\nB='x", KVS("A=1"), KVS(SKIPPED(2, "unterminated single-quoted value")));
    check_env_skips("A=\"x\" y\nB=2\n", KVS("B=2"),
                    KVS(SKIPPED(1, "unexpected text after the closing quote")));
    check_env_skips("A=\"a\nb\"\nC\n", KVS("A=a\nb"), KVS(UNSET(3)));
    /* the line of the statement, after blank lines and comments */
    check_env_skips("\n\n# c\n  oops here\nD=4\n", KVS("D=4"), KVS(SKIPPED(4, "expected KEY=value")));
    /* keys are any run of characters but '=', '#' and white space, or quoted */
    check_env_skips("1ST=x\n'KEY'=v\n'A B' = 'c'\nK.-$@=y\n", KVS("1ST=x", "KEY=v", "A B=c", "K.-$@=y"),
                    NONE);
    check_env_skips("''=v\n", NONE, KVS(SKIPPED(1, "expected KEY=value")));
    /* KEY#... : the '#' ends the key and starts a comment: no value */
    check_env_skips("KEY#x=1\n", NONE, KVS(UNSET(1)));
    /* a warning never quotes the line: it may be a secret pasted on its own */
    check_env_skips(SECRET "\nA=\"" SECRET "\nB='" SECRET "' x\n", NONE,
                    KVS(UNSET(1), SKIPPED(2, "unterminated double-quoted value"),
                        SKIPPED(3, "unexpected text after the closing quote")));
    /* at most 8 warnings, then a count */
    check_env_skips("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nK=1\n", KVS("K=1"),
                    KVS(UNSET(1), UNSET(2), UNSET(3), UNSET(4), UNSET(5), UNSET(6), UNSET(7), UNSET(8),
                        "/srv/gw/.env: 2 more lines skipped or left unset"));
}

/* Quoted values decode the escapes python-dotenv decodes. */
static void test_envfile_quotes(void **state)
{
    (void)state;
    /* '...' : \\ and \' (python-dotenv's set_key writes ' as \') */
    check_env_skips("A='pa\\'ss'\nB='a\\\\b'\nC='x\\ny\\\"'\n", KVS("A=pa'ss", "B=a\\b", "C=x\\ny\\\""),
                    NONE);
    /* "..." : \a \b \f \v too; other backslashes stay */
    check_env_skips("D=\"\\a\\b\\f\\v\\t\\r\\'\\q\"\n", KVS("D=\a\b\f\v\t\r'\\q"), NONE);
    /* a quote preceded by a backslash does not end the value... */
    check_env_skips("E='it\\'s' # c\n", KVS("E=it's"), NONE);
    /* ...unless nothing else would (Python's regex backtracks to it) */
    check_env_skips("F=\"a\\\\\"", KVS("F=a\\"), NONE);
    /* python-dotenv's pattern reads \" even after a backslash as an escaped
     * quote: "a\\" runs on to the next quote, and both lines are lost */
    check_env_skips("G=\"a\\\\\"\nH=\"c\"\nI=1\n", KVS("I=1"),
                    KVS(SKIPPED(1, "unexpected text after the closing quote")));
}

/* KEY=   # comment is "" (a '#' after white space starts a comment, even
 * right after '='); KEY=#x is "#x". */
static void test_envfile_comment_after_equals(void **state)
{
    (void)state;
    check_env_skips("A=   # comment\nB=\t# c\nC=#x\nD= x # c\nE=x#y\n", KVS("A=", "B=", "C=#x", "D=x", "E=x#y"),
                    NONE);
}

static void test_envfile_interpolation(void **state)
{
    (void)state;
    env_clear();
    env_set("FROM_ENV", "env-value");
    env_set("EMPTY_ENV", "");
    env_set("BOTH", "env-wins");
    const char *text = "USER_NAME=alice\n"
                       "BOTH=file\n"
                       "NOVALUE\n"
                       "A=${USER_NAME}\n"
                       "B=\"${USER_NAME}-x\"\n"
                       "C='${USER_NAME}'\n"
                       "D=$USER_NAME\n"
                       "E=${MISSING:-fall back}\n"
                       "F=${MISSING}\n"
                       "G=${FROM_ENV}\n"
                       "H=${LATER}\n"
                       "LATER=x\n"
                       "I=${EMPTY_ENV:-def}\n"
                       "J=${NOVALUE:-def}\n"
                       "K=${A}${A}\n"
                       "L=${USER_NAME:-x:-y}\n"
                       "M=${X:y}${\n"
                       "N=${}\n"
                       "O=${BOTH}\n"
                       "P=${P}p\n"
                       "URL=postgresql://u:${DB_PW:-" SECRET "}@h/db\n";
    at_envfile f;
    char err[256];
    assert_int_equal(at_envfile_parse(text, ".env", fake_getenv, &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "A"), "alice");
    assert_string_equal(at_envfile_get(&f, "B"), "alice-x");
    assert_string_equal(at_envfile_get(&f, "C"), "alice"); /* single quotes too */
    assert_string_equal(at_envfile_get(&f, "D"), "$USER_NAME");
    assert_string_equal(at_envfile_get(&f, "E"), "fall back");
    assert_string_equal(at_envfile_get(&f, "F"), "");
    assert_string_equal(at_envfile_get(&f, "G"), "env-value");
    assert_string_equal(at_envfile_get(&f, "H"), ""); /* only earlier lines */
    assert_string_equal(at_envfile_get(&f, "I"), ""); /* set, if empty */
    assert_string_equal(at_envfile_get(&f, "J"), ""); /* a name without '=' */
    assert_string_equal(at_envfile_get(&f, "K"), "alicealice");
    assert_string_equal(at_envfile_get(&f, "L"), "alice");
    assert_string_equal(at_envfile_get(&f, "M"), "${X:y}${");
    assert_string_equal(at_envfile_get(&f, "N"), "");
    assert_string_equal(at_envfile_get(&f, "O"), "env-wins"); /* override=False */
    assert_string_equal(at_envfile_get(&f, "P"), "p");
    assert_string_equal(at_envfile_get(&f, "URL"), "postgresql://u:" SECRET "@h/db");
    assert_null(at_envfile_get(&f, "NOVALUE"));
    at_envfile_free(&f);

    /* a value that would grow past 64 KiB is skipped, with a warning */
    size_t big = 40000;
    char *t = malloc(big + 64);
    assert_non_null(t);
    memcpy(t, "A=", 2);
    memset(t + 2, 'x', big);
    strcpy(t + 2 + big, "\nB=${A}${A}\nC=${A}\n");
    assert_int_equal(at_envfile_parse(t, "big.env", NULL, &f, err, sizeof err), 0);
    assert_null(at_envfile_get(&f, "B"));
    assert_int_equal(strlen(at_envfile_get(&f, "C")), big);
    assert_int_equal(f.n_warnings, 1);
    assert_string_equal(f.warnings[0], "big.env:2: the value is too long once ${...} is expanded: line skipped");
    at_envfile_free(&f);
    free(t);
}

static void test_envfile_load(void **state)
{
    (void)state;
    char *path = write_envfile("REDIS_HOST=filehost\nDB_PASSWORD='p w'\n");
    at_envfile f;
    char err[512];
    assert_int_equal(at_envfile_load(path, NULL, &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "REDIS_HOST"), "filehost");
    assert_string_equal(at_envfile_get(&f, "DB_PASSWORD"), "p w");
    at_envfile_free(&f);
    remove_envfile(path);

    /* a line python-dotenv cannot parse is skipped with a warning naming
     * the file and the line */
    path = write_envfile("OK=1\nbroken line\n");
    assert_int_equal(at_envfile_load(path, NULL, &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "OK"), "1");
    assert_int_equal(f.n_warnings, 1);
    char want[4200];
    snprintf(want, sizeof want, "%s:2: expected KEY=value: line skipped, as python-dotenv skips it",
             path);
    assert_string_equal(f.warnings[0], want);
    at_envfile_free(&f);
    remove_envfile(path);

    assert_int_equal(at_envfile_load("/nonexistent/dir/.env", NULL, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/dir/.env: "));
    assert_null(strchr(err, '\n'));
}

/* ------------------------------------------------------------ resolve */

static void test_resolve_defaults(void **state)
{
    (void)state;
    env_clear();
    at_config cfg;
    char err[256];
    at_config_flags flags = {0};
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.redis.transport, AT_REDIS_TCP);
    assert_string_equal(cfg.redis.host, "localhost");
    assert_int_equal(cfg.redis.port, 6379);
    assert_int_equal(cfg.redis.db, 0);
    assert_null(cfg.redis.password);
    assert_string_equal(cfg.redis_display, "localhost:6379/0");
    assert_string_equal(cfg.pg_conninfo,
                        "host='localhost' port='5432' user='postgres' dbname='aether'");
    assert_string_equal(cfg.pg_display, cfg.pg_conninfo);
    assert_string_equal(cfg.encryption_key, AT_DEV_ENCRYPTION_KEY);
    assert_int_equal(cfg.timeout_ms, AT_DEFAULT_TIMEOUT_MS);
    assert_false(cfg.read_only);
    assert_null(cfg.audit_log);
    at_config_free(&cfg);

    /* NULL flags and NULL getenv are allowed */
    assert_int_equal(at_config_resolve(&cfg, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "localhost:6379/0");
    at_config_free(&cfg);
}

static void test_resolve_precedence(void **state)
{
    (void)state;
    char *path = write_envfile("REDIS_HOST=filehost\n"
                               "REDIS_PORT=6390\n"
                               "REDIS_PASSWORD=" SECRET "\n"
                               "DB_HOST=filedb\n"
                               "DB_PASSWORD=" SECRET "\n"
                               "ENCRYPTION_KEY=from-file\n");
    at_config cfg;
    char err[256];
    at_config_flags flags = {.env_file = path};

    /* env-file over defaults */
    env_clear();
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "filehost:6390/0");
    assert_string_equal(cfg.redis.password, SECRET);
    assert_string_equal(cfg.pg_conninfo, "host='filedb' port='5432' user='postgres' "
                                         "dbname='aether' password='" SECRET "'");
    assert_string_equal(cfg.pg_display, "host='filedb' port='5432' user='postgres' dbname='aether'");
    assert_string_equal(cfg.encryption_key, "from-file");
    assert_null(strstr(cfg.redis_display, SECRET));
    at_config_free(&cfg);

    /* environment over env-file (per variable) */
    env_clear();
    env_set("REDIS_HOST", "envhost");
    env_set("DB_USER", "envuser");
    env_set("ENCRYPTION_KEY", ""); /* set but empty: the dev default */
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "envhost:6390/0");
    assert_string_equal(cfg.pg_display, "host='filedb' port='5432' user='envuser' dbname='aether'");
    assert_string_equal(cfg.encryption_key, AT_DEV_ENCRYPTION_KEY);
    at_config_free(&cfg);

    /* flags over both */
    flags.redis_url = "redis://flaghost:1/2";
    flags.database_url = "postgresql://flaguser@flagdb/x";
    flags.timeout_ms = 1500;
    flags.read_only = true;
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "flaghost:1/2");
    assert_null(cfg.redis.password); /* the URL's own password only */
    assert_string_equal(cfg.pg_conninfo, "host='flagdb' dbname='x' user='flaguser'");
    assert_int_equal(cfg.timeout_ms, 1500);
    assert_true(cfg.read_only);
    at_config_free(&cfg);

    /* a bad flag names the flag */
    flags.redis_url = "redis://h:99999";
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "--redis: bad port \"99999\" (expected 1-65535)");
    at_config_free(&cfg);

    remove_envfile(path);

    /* missing env file is an error naming it */
    flags = (at_config_flags){.env_file = "/nonexistent/.env"};
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/.env"));
    at_config_free(&cfg);
}

static void test_resolve_redis_modes(void **state)
{
    (void)state;
    at_config cfg;
    char err[256];
    char *path = write_envfile("REDIS_URL=redis://:" SECRET "@fileurl:6381/3\n"
                               "REDIS_HOST=ignored\n");
    at_config_flags flags = {.env_file = path};

    /* REDIS_URL beats REDIS_HOST/PORT */
    env_clear();
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "fileurl:6381/3");
    assert_string_equal(cfg.redis.password, SECRET);
    at_config_free(&cfg);

    /* REDIS_URL="" in the environment hides the file's and counts as unset */
    env_set("REDIS_URL", "");
    env_set("REDIS_PORT", "6000");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "ignored:6000/0");
    at_config_free(&cfg);

    /* sentinels beat REDIS_URL */
    env_clear();
    env_set("REDIS_SENTINEL_HOSTS", "s1, s2:26380");
    env_set("REDIS_PASSWORD", SECRET);
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.redis.n_sentinels, 2);
    assert_string_equal(cfg.redis.sentinel_service, "mymaster");
    assert_string_equal(cfg.redis.password, SECRET);
    assert_string_equal(cfg.redis_display, "sentinel:mymaster@s1:26379,s2:26380");
    at_config_free(&cfg);

    env_set("REDIS_SENTINEL_SERVICE_NAME", "gw-master");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "sentinel:gw-master@s1:26379,s2:26380");
    at_config_free(&cfg);

    env_clear();
    env_set("REDIS_SENTINEL_HOSTS", "s1:0");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "REDIS_SENTINEL_HOSTS: bad port \"0\" (expected 1-65535)");
    at_config_free(&cfg);
    remove_envfile(path);

    /* REDIS_HOST style, with a bad port */
    env_clear();
    env_set("REDIS_PORT", "65536");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "REDIS_PORT: bad port \"65536\" (expected 1-65535)");

    /* unix socket and IPv6 displays */
    env_clear();
    env_set("REDIS_URL", "unix://:" SECRET "@/run/redis.sock?db=2");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.redis_display, "unix:/run/redis.sock?db=2");
    at_config_free(&cfg);
    env_clear();
    env_set("REDIS_URL", "rediss://[::1]:6380/1");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.redis.transport, AT_REDIS_TLS);
    assert_string_equal(cfg.redis_display, "[::1]:6380/1");
    at_config_free(&cfg);

    env_clear();
    env_set("REDIS_URL", "http://:" SECRET "@h/");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), -1);
    assert_true(strncmp(err, "REDIS_URL: unsupported scheme \"http\"", 36) == 0);
    assert_one_line_no_secret(err);
}

/* redis-py's TLS query parameters are not followed: each one given draws a
 * warning naming it (never its value); verification stays on. */
static void test_resolve_redis_ssl_params(void **state)
{
    (void)state;
    at_config cfg;
    char err[256];
    env_clear();
    env_set("REDIS_URL", "rediss://:" SECRET "@cache:6380/0?ssl_cert_reqs=none&db=1&ssl_check_hostname=false"
                         "&ssl_password=" SECRET "&ssl_ca_certs=&client_name=gw#frag");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.redis.db, 1);
    assert_false(cfg.tls_insecure);
    assert_int_equal(cfg.n_warnings, 3);
    assert_string_equal(cfg.warnings[0], "REDIS_URL: query parameter \"ssl_cert_reqs\" is not used: aethertop "
                                         "always verifies the server's certificate and host name (see "
                                         "--redis-ca, --redis-cert, --redis-key, --insecure)");
    assert_non_null(strstr(cfg.warnings[1], "\"ssl_check_hostname\" is not used"));
    assert_non_null(strstr(cfg.warnings[2], "\"ssl_password\" is not used"));
    for (size_t i = 0; i < cfg.n_warnings; i++) assert_one_line_no_secret(cfg.warnings[i]);
    at_config_free(&cfg);

    at_config_flags flags = {.redis_url = "rediss://h/0?ssl%5Fcert%5Freqs=optional"};
    env_clear();
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.n_warnings, 1);
    assert_non_null(strstr(cfg.warnings[0], "--redis: query parameter \"ssl_cert_reqs\""));
    at_config_free(&cfg);

    /* nothing to say about a URL without them */
    env_clear();
    env_set("REDIS_URL", "rediss://h/0?db=2");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.n_warnings, 0);
    at_config_free(&cfg);

    /* a '?' in the fragment starts no query: redis-py never sees it */
    env_clear();
    env_set("REDIS_URL", "rediss://h/0#x?ssl_cert_reqs=none");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_int_equal(cfg.n_warnings, 0);
    at_config_free(&cfg);
}

static void test_resolve_read_only(void **state)
{
    (void)state;
    const char *yes[] = {"1", "true", "TRUE", "yes", "Yes"};
    const char *no[] = {"0", "false", "no", "", "2"};
    at_config cfg;
    char err[256];
    for (size_t i = 0; i < 5; i++) {
        env_clear();
        env_set("AETHERTOP_READ_ONLY", yes[i]);
        assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
        assert_true(cfg.read_only);
        at_config_free(&cfg);
        env_clear();
        env_set("AETHERTOP_READ_ONLY", no[i]);
        assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
        assert_false(cfg.read_only);
        at_config_free(&cfg);
    }
}

static void test_resolve_db_vars(void **state)
{
    (void)state;
    at_config cfg;
    char err[256];
    env_clear();
    env_set("DB_HOST", "db.internal");
    env_set("DB_PORT", "6543");
    env_set("DB_USER", "o'brien");
    env_set("DB_NAME", "aether prod");
    env_set("DB_PASSWORD", "it's a \\ pass " SECRET);
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "host"), "db.internal");
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "port"), "6543");
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "user"), "o'brien");
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "dbname"), "aether prod");
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "password"), "it's a \\ pass " SECRET);
    assert_null(strstr(cfg.pg_display, SECRET));
    assert_null(conninfo_value(cfg.pg_display, "password"));
    assert_string_equal(conninfo_value(cfg.pg_display, "user"), "o'brien");
    at_config_free(&cfg);

    env_set("DB_PORT", "54x");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "DB_PORT: bad port \"54x\" (expected 1-65535)");
}

/* Resolve with DATABASE_URL=url only; the conninfo must read back as
 * want (NULL-terminated keyword, value pairs, nothing else set). */
static void check_pg_url(const char *url, const char *display, const char *const *want)
{
    at_config cfg;
    char err[256];
    env_clear();
    env_set("DATABASE_URL", url);
    if (at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err) != 0)
        fail_msg("%s: %s", url, err);
    size_t nwant = 0;
    for (; want[nwant]; nwant += 2) {
        const char *got = conninfo_value(cfg.pg_conninfo, want[nwant]);
        if (!got || strcmp(got, want[nwant + 1]) != 0)
            fail_msg("%s: %s is %s, want %s", url, want[nwant], got ? got : "(unset)", want[nwant + 1]);
    }
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg.pg_conninfo, &errmsg);
    assert_non_null(opts);
    size_t nset = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        nset += o->val != NULL;
    PQconninfoFree(opts);
    if (nset != nwant / 2)
        fail_msg("%s: %zu options set, want %zu (%s)", url, nset, nwant / 2, cfg.pg_conninfo);
    if (display)
        assert_string_equal(cfg.pg_display, display);
    assert_null(strstr(cfg.pg_display, SECRET));
    at_config_free(&cfg);
}

static void test_resolve_database_url(void **state)
{
    (void)state;
    at_config cfg;
    char err[256];

    /* read as SQLAlchemy's make_url reads it, given to libpq as keywords */
    check_pg_url("postgresql+psycopg2://gw:" SECRET "@db:5432/aether", "postgresql://gw:***@db:5432/aether",
                 KVS("host", "db", "port", "5432", "dbname", "aether", "user", "gw", "password", SECRET));
    check_pg_url("postgres+asyncpg://gw@db/aether?sslmode=require&password=" SECRET,
                 "postgres://gw@db/aether?sslmode=require&password=***",
                 KVS("host", "db", "dbname", "aether", "user", "gw", "sslmode", "require", "password", SECRET));
    /* a '/' or '+' in the password (SQLAlchemy ends it at the first '@');
     * libpq's URI parser took "ab" for the password and "cd+ef@db" for... */
    check_pg_url("postgresql://postgres:ab/cd+ef@db:5432/aether", "postgresql://postgres:***@db:5432/aether",
                 KVS("host", "db", "port", "5432", "dbname", "aether", "user", "postgres", "password", "ab/cd+ef"));
    /* a stray '%': unquote keeps a malformed escape as it is */
    check_pg_url("postgresql://u:50%off@h/db", "postgresql://u:***@h/db",
                 KVS("host", "h", "dbname", "db", "user", "u", "password", "50%off"));
    check_pg_url("postgresql://gw:%zz" SECRET "@db/aether", NULL,
                 KVS("host", "db", "dbname", "aether", "user", "gw", "password", "%zz" SECRET));
    /* percent-encoded user, password and database; '?', '#' and ':' in a password */
    check_pg_url("postgresql://al%20ice:p%40ss?#:w@db/my%2Fdb", NULL,
                 KVS("host", "db", "dbname", "my/db", "user", "al ice", "password", "p@ss?#:w"));
    /* SQLAlchemy's user name may hold an '@' (the last one before ':' or '/') */
    check_pg_url("postgresql+psycopg2://@x@h/db", NULL, KVS("host", "h", "dbname", "db", "user", "@x"));
    /* empty parts are left out; IPv6; no host: libpq's default */
    check_pg_url("postgresql://u:@[::1]:6543/", NULL, KVS("host", "::1", "port", "6543", "user", "u"));
    check_pg_url("postgresql:///aether", NULL, KVS("dbname", "aether"));
    /* query values decoded as parse_qsl does; libpq keywords kept */
    check_pg_url("postgresql://h/d?options=-c+search_path%3Dx&application_name=a@b&sslmode=", NULL,
                 KVS("host", "h", "dbname", "d", "options", "-c search_path=x", "application_name", "a@b"));
    check_pg_url("postgresql://u@127.0.0.1:48432/db?pass%77ord=" SECRET "%ZZ&ssl%70assword=" SECRET,
                 "postgresql://u@127.0.0.1:48432/db?pass%77ord=***&ssl%70assword=***",
                 KVS("host", "127.0.0.1", "port", "48432", "dbname", "db", "user", "u", "password",
                     SECRET "%ZZ", "sslpassword", SECRET));
    /* a socket directory and SQLAlchemy's multi-host forms */
    check_pg_url("postgresql://u@/db?host=/run/postgresql", NULL,
                 KVS("host", "/run/postgresql", "dbname", "db", "user", "u"));
    check_pg_url("postgresql://db/x?host=h1:5433", NULL, KVS("host", "h1", "port", "5433", "dbname", "x"));
    check_pg_url("postgresql:///x?host=h1:5432&host=h2", NULL, KVS("host", "h1,h2", "port", "5432,", "dbname", "x"));
    check_pg_url("postgresql:///x?host=h1,h2&port=5432,5433", NULL,
                 KVS("host", "h1,h2", "port", "5432,5433", "dbname", "x"));
    /* asyncpg's ssl=MODE is libpq's sslmode */
    check_pg_url("postgresql+asyncpg://u:" SECRET "@h/db?ssl=require", "postgresql://u:***@h/db?ssl=require",
                 KVS("host", "h", "dbname", "db", "user", "u", "password", SECRET, "sslmode", "require"));

    /* a driver's parameter libpq does not know: dropped with a warning */
    env_clear();
    env_set("DATABASE_URL", "postgresql+asyncpg://gw:" SECRET "@db/aether?prepared_statement_cache_size=0&"
                            "nosuchoption=" SECRET);
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_null(conninfo_value(cfg.pg_conninfo, "prepared_statement_cache_size"));
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "password"), SECRET);
    assert_int_equal(cfg.n_warnings, 2);
    assert_string_equal(cfg.warnings[0], "DATABASE_URL: query parameter \"prepared_statement_cache_size\" is "
                                         "not a libpq connection option: ignored");
    assert_string_equal(cfg.warnings[1], "DATABASE_URL: query parameter \"nosuchoption\" is not a libpq "
                                         "connection option: ignored");
    at_config_free(&cfg);

    /* keyword/value strings are accepted too; the display drops the password */
    env_clear();
    env_set("DATABASE_URL", "host=db dbname=aether password=" SECRET);
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_null(strstr(cfg.pg_display, SECRET));
    assert_string_equal(conninfo_value(cfg.pg_display, "host"), "db");
    assert_string_equal(cfg.pg_conninfo, "host=db dbname=aether password=" SECRET);
    at_config_free(&cfg);

    /* flag beats DATABASE_URL */
    at_config_flags flags = {.database_url = "postgresql://flag/x"};
    env_clear();
    env_set("DATABASE_URL", "postgresql://env/x");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "host"), "flag");
    at_config_free(&cfg);

    /* invalid values: a message naming the setting, no password */
    struct {
        const char *url, *phrase;
    } bad[] = {
        {"postgresql://gw:" SECRET "@[::1/aether", "bad port (expected 1-65535; not shown"},
        {"postgresql://gw:" SECRET "@db:5432x/aether", "bad port (expected 1-65535; not shown"},
        {"postgresql://db:99999/aether", "bad port \"99999\""},
        {"postgresql://db/aether?port=1,x", "bad port \"1,x\""},
        {"host=db nosuchoption=1", "invalid connection option"},
        {"host=db password=" SECRET " stray", "details withheld"},
        {"mysql://gw:" SECRET "@db/aether", "unsupported scheme \"mysql\""},
        {"postgresql://u:" SECRET "@db/a?sslmode=disable&sslmode=require", "\"sslmode\" given more than once"},
        {"postgresql:///a?host=h1:1&host=h2&port=5", "not both"},
        /* SQLAlchemy ends the password at the first '@': the rest would be
         * the host (and quoted in libpq's errors); refused, naming %40 */
        {"postgresql://app:Pa@" SECRET "@127.0.0.1:48432/db", "%40"},
        {"postgres://app:Pa@" SECRET "@127.0.0.1?sslmode=disable", "%40"},
        {"postgresql://app:Pa@127.0.0.1:" SECRET "@x/db", "%40"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        env_clear();
        env_set("DATABASE_URL", bad[i].url);
        if (at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err) != -1)
            fail_msg("accepted bad DATABASE_URL #%zu", i);
        assert_true(strncmp(err, "DATABASE_URL: ", 14) == 0);
        assert_one_line_no_secret(err);
        if (!strstr(err, bad[i].phrase))
            fail_msg("#%zu: \"%s\" lacks \"%s\"", i, err, bad[i].phrase);
        assert_null(cfg.pg_conninfo);
        at_config_free(&cfg);
    }
    env_clear();
    env_set("DATABASE_URL", "host=db nosuchoption=1");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "DATABASE_URL: invalid connection option \"nosuchoption\"");

    /* an '@' after the path is not part of the credentials */
    env_clear();
    env_set("DATABASE_URL", "postgresql://u:" SECRET "@db/aether?application_name=a@b");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_null(strstr(cfg.pg_display, SECRET));
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "host"), "db");
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "password"), SECRET);
    at_config_free(&cfg);

    flags = (at_config_flags){.database_url = ""};
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), -1);
    assert_true(strncmp(err, "--database: ", 12) == 0);
}

/* The env file's warnings reach cfg.warnings, and stay when resolving
 * fails; ${...} in the file sees the environment. */
static void test_resolve_envfile_warnings(void **state)
{
    (void)state;
    char *path = write_envfile("broken line\n"
                               "DATABASE_URL=postgresql://gw:${DB_PW}@db/${DB_NAME:-aether}\n"
                               "REDIS_URL=redis://h:${REDIS_PORT_NUM}/0\n");
    at_config cfg;
    char err[512];
    at_config_flags flags = {.env_file = path};
    env_clear();
    env_set("DB_PW", SECRET);
    env_set("REDIS_PORT_NUM", "6390");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "password"), SECRET);
    assert_string_equal(conninfo_value(cfg.pg_conninfo, "dbname"), "aether");
    assert_string_equal(cfg.redis_display, "h:6390/0");
    assert_int_equal(cfg.n_warnings, 1);
    char want[4200];
    snprintf(want, sizeof want, "%s:1: expected KEY=value: line skipped, as python-dotenv skips it", path);
    assert_string_equal(cfg.warnings[0], want);
    at_config_free(&cfg);

    env_set("REDIS_PORT_NUM", "0");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "REDIS_URL: bad port \"0\" (expected 1-65535)");
    assert_int_equal(cfg.n_warnings, 1);
    assert_string_equal(cfg.warnings[0], want);
    assert_null(cfg.pg_conninfo);
    at_config_free(&cfg);
    assert_int_equal(cfg.n_warnings, 0);
    remove_envfile(path);
}

/* at_setting_lookup (what main.c asks before using the config file): the
 * environment, even when it sets the name to "", before the env file. */
static void test_setting_lookup(void **state)
{
    (void)state;
    at_envfile f;
    char err[256];
    assert_int_equal(at_envfile_parse("REDIS_URL=redis://file/0\nREDIS_HOST=filehost\n", "e", NULL, &f, err,
                                      sizeof err),
                     0);
    env_clear();
    env_set("REDIS_URL", "");
    assert_string_equal(at_setting_lookup(&f, fake_getenv, "REDIS_URL"), "");
    assert_string_equal(at_setting_lookup(&f, fake_getenv, "REDIS_HOST"), "filehost");
    assert_null(at_setting_lookup(&f, fake_getenv, "REDIS_PORT"));
    assert_null(at_setting_lookup(NULL, fake_getenv, "REDIS_HOST"));
    assert_string_equal(at_setting_lookup(&f, NULL, "REDIS_URL"), "redis://file/0");
    at_envfile_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_url_good),     cmocka_unit_test(test_redis_url_bad),
        cmocka_unit_test(test_sentinel_hosts),     cmocka_unit_test(test_url_redact),
        cmocka_unit_test(test_conninfo_scrub),
        cmocka_unit_test(test_envfile_parse),      cmocka_unit_test(test_envfile_skipped_lines),
        cmocka_unit_test(test_envfile_quotes),     cmocka_unit_test(test_envfile_comment_after_equals),
        cmocka_unit_test(test_envfile_interpolation),
        cmocka_unit_test(test_envfile_load),       cmocka_unit_test(test_resolve_defaults),
        cmocka_unit_test(test_resolve_precedence), cmocka_unit_test(test_resolve_redis_modes),
        cmocka_unit_test(test_resolve_redis_ssl_params),
        cmocka_unit_test(test_resolve_read_only),  cmocka_unit_test(test_resolve_db_vars),
        cmocka_unit_test(test_resolve_database_url), cmocka_unit_test(test_resolve_envfile_warnings),
        cmocka_unit_test(test_setting_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
