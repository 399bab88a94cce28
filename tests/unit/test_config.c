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

static void assert_one_line_no_secret(const char *err)
{
    assert_null(strchr(err, '\n'));
    if (strstr(err, SECRET))
        fail_msg("error message leaks the password: %s", err);
}

/* ------------------------------------------------------------ Redis URLs */

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

    /* an unencoded '/' or '@' in the password: the last '@' ends it */
    assert_int_equal(at_redis_url_parse("redis://:p/w@d@h:1/0", "REDIS_URL", &t, err, sizeof err),
                     0);
    assert_string_equal(t.password, "p/w@d");
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 1);
    at_redis_target_free(&t);

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
                       "E=\"esc\\n\\\"q\\\"\\\\\"\n"
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
    assert_int_equal(at_envfile_parse(text, ".env", &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "A"), "1");
    assert_string_equal(at_envfile_get(&f, "B"), "override");
    assert_string_equal(at_envfile_get(&f, "C"), "quoted # not a comment");
    assert_string_equal(at_envfile_get(&f, "D"), "single $x \\n literal");
    assert_string_equal(at_envfile_get(&f, "E"), "esc\n\"q\"\\");
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
    at_envfile_free(&f);
    assert_int_equal(f.n, 0);

    assert_int_equal(at_envfile_parse("", "e", &f, err, sizeof err), 0);
    assert_int_equal(f.n, 0);
    at_envfile_free(&f);
}

static void check_env_error(const char *text, const char *want)
{
    at_envfile f;
    char err[256];
    if (at_envfile_parse(text, "/srv/gw/.env", &f, err, sizeof err) == 0)
        fail_msg("accepted bad env text");
    assert_string_equal(err, want);
    assert_int_equal(f.n, 0);
}

static void test_envfile_errors(void **state)
{
    (void)state;
    check_env_error("A=1\nNOEQUALS\n", "/srv/gw/.env:2: expected KEY=value");
    check_env_error("# c\n\n1X=2\n", "/srv/gw/.env:3: expected KEY=value");
    check_env_error("A B=1", "/srv/gw/.env:1: expected KEY=value");
    check_env_error("=value", "/srv/gw/.env:1: expected KEY=value");
    check_env_error("A=\"x\nB=2\nC=3\n", "/srv/gw/.env:1: unterminated double-quoted value");
    check_env_error("A=1\nB='x", "/srv/gw/.env:2: unterminated single-quoted value");
    check_env_error("A=\"x\" y\n", "/srv/gw/.env:1: unexpected text after the closing quote");
    check_env_error("A=\"a\nb\"\nC\n", "/srv/gw/.env:3: expected KEY=value");
    check_env_error("export\n", "/srv/gw/.env:1: expected KEY=value");
}

static void test_envfile_load(void **state)
{
    (void)state;
    char *path = write_envfile("REDIS_HOST=filehost\nDB_PASSWORD='p w'\n");
    at_envfile f;
    char err[512];
    assert_int_equal(at_envfile_load(path, &f, err, sizeof err), 0);
    assert_string_equal(at_envfile_get(&f, "REDIS_HOST"), "filehost");
    assert_string_equal(at_envfile_get(&f, "DB_PASSWORD"), "p w");
    at_envfile_free(&f);
    remove_envfile(path);

    path = write_envfile("OK=1\nbroken line\n");
    assert_int_equal(at_envfile_load(path, &f, err, sizeof err), -1);
    char want[4200];
    snprintf(want, sizeof want, "%s:2: expected KEY=value", path);
    assert_string_equal(err, want);
    remove_envfile(path);

    assert_int_equal(at_envfile_load("/nonexistent/dir/.env", &f, err, sizeof err), -1);
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
    assert_string_equal(cfg.pg_conninfo, "postgresql://flaguser@flagdb/x");
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

static void test_resolve_database_url(void **state)
{
    (void)state;
    at_config cfg;
    char err[256];

    env_clear();
    env_set("DATABASE_URL", "postgresql+psycopg2://gw:" SECRET "@db:5432/aether");
    env_set("DB_HOST", "ignored");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.pg_conninfo, "postgresql://gw:" SECRET "@db:5432/aether");
    assert_string_equal(cfg.pg_display, "postgresql://gw:***@db:5432/aether");
    at_config_free(&cfg);

    env_clear();
    env_set("DATABASE_URL", "postgres+asyncpg://gw@db/aether?sslmode=require&password=" SECRET);
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.pg_conninfo,
                        "postgres://gw@db/aether?sslmode=require&password=" SECRET);
    assert_string_equal(cfg.pg_display, "postgres://gw@db/aether?sslmode=require&password=***");
    at_config_free(&cfg);

    /* keyword/value strings are accepted too; the display drops the password */
    env_clear();
    env_set("DATABASE_URL", "host=db dbname=aether password=" SECRET);
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_null(strstr(cfg.pg_display, SECRET));
    assert_string_equal(conninfo_value(cfg.pg_display, "host"), "db");
    at_config_free(&cfg);

    /* flag beats DATABASE_URL */
    at_config_flags flags = {.database_url = "postgresql://flag/x"};
    env_clear();
    env_set("DATABASE_URL", "postgresql://env/x");
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.pg_conninfo, "postgresql://flag/x");
    at_config_free(&cfg);

    /* invalid values: libpq's message, naming the setting, no password */
    struct {
        const char *url, *phrase;
    } bad[] = {
        {"postgresql://gw:" SECRET "@db/aether?nosuchoption=1", ""},
        {"postgresql://gw:%zz" SECRET "@db/aether", ""},
        {"postgresql://gw:" SECRET "@[::1/aether", ""},
        {"host=db nosuchoption=1", ""},
        {"host=db password=" SECRET " stray", ""},
        {"mysql://gw:" SECRET "@db/aether", ""},
        /* libpq's message about a bad query value must not quote it */
        {"postgresql://u@127.0.0.1:48432/db?pass%77ord=" SECRET "%ZZ", ""},
        {"postgresql://u@db/a?sslpassword=" SECRET "%ZZ", ""},
        {"postgresql://u@[::1/db?pass%77ord=" SECRET, ""},
        /* two '@' before the host: libpq would take the password's tail for
         * the host (and quote it); refused, naming %40 */
        {"postgresql://app:Pa@" SECRET "@127.0.0.1:48432/db", "%40"},
        {"postgres://app:Pa@" SECRET "@127.0.0.1?sslmode=disable", "%40"},
        {"postgresql+psycopg2://@" SECRET "@h/db", "%40"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        env_clear();
        env_set("DATABASE_URL", bad[i].url);
        if (at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err) != -1)
            fail_msg("accepted bad DATABASE_URL #%zu", i);
        assert_true(strncmp(err, "DATABASE_URL: ", 14) == 0);
        assert_true(strlen(err) > 20);
        assert_one_line_no_secret(err);
        assert_non_null(strstr(err, bad[i].phrase));
        assert_null(cfg.pg_conninfo);
    }
    env_clear();
    env_set("DATABASE_URL", "host=db nosuchoption=1");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), -1);
    assert_string_equal(err, "DATABASE_URL: invalid connection option \"nosuchoption\"");

    /* a percent-encoded secret keyword is hidden in the display too */
    env_clear();
    env_set("DATABASE_URL", "postgresql://u@127.0.0.1:48432/db?pass%77ord=" SECRET "&ssl%70assword=" SECRET);
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_string_equal(cfg.pg_display, "postgresql://u@127.0.0.1:48432/db?pass%77ord=***&ssl%70assword=***");
    at_config_free(&cfg);

    /* an '@' after the path is not part of the credentials */
    env_clear();
    env_set("DATABASE_URL", "postgresql://u:" SECRET "@db/aether?application_name=a@b");
    assert_int_equal(at_config_resolve(&cfg, NULL, fake_getenv, err, sizeof err), 0);
    assert_null(strstr(cfg.pg_display, SECRET));
    at_config_free(&cfg);

    flags = (at_config_flags){.database_url = ""};
    assert_int_equal(at_config_resolve(&cfg, &flags, fake_getenv, err, sizeof err), -1);
    assert_true(strncmp(err, "--database: ", 12) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_url_good),     cmocka_unit_test(test_redis_url_bad),
        cmocka_unit_test(test_sentinel_hosts),     cmocka_unit_test(test_url_redact),
        cmocka_unit_test(test_conninfo_scrub),
        cmocka_unit_test(test_envfile_parse),      cmocka_unit_test(test_envfile_errors),
        cmocka_unit_test(test_envfile_load),       cmocka_unit_test(test_resolve_defaults),
        cmocka_unit_test(test_resolve_precedence), cmocka_unit_test(test_resolve_redis_modes),
        cmocka_unit_test(test_resolve_read_only),  cmocka_unit_test(test_resolve_db_vars),
        cmocka_unit_test(test_resolve_database_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
