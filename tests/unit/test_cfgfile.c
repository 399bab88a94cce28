/* test_cfgfile.c — unit tests of src/cfgfile.c (aethertop's INI config
 * file): every key parsed, values checked, errors as one line "PATH:LINE:
 * message" naming the right line (unknown section or key, bad values,
 * syntax, duplicates, long lines, bad UTF-8), the default location
 * ($XDG_CONFIG_HOME, else ~/.config) and loading from disk (missing file,
 * --config that must exist, the password-readable warning). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aethertop/cfgfile.h"

#ifndef AETHERTOP_TEST_TMPDIR
#define AETHERTOP_TEST_TMPDIR "/tmp"
#endif

static int parse(const char *text, at_cfgfile *c, char *err, size_t errlen)
{
    err[0] = '\0';
    return at_cfgfile_parse(text, strlen(text), "/etc/at/config", c, err, errlen);
}

static void expect_error(const char *text, const char *want)
{
    at_cfgfile c;
    char err[512];
    assert_int_equal(parse(text, &c, err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    assert_null(strchr(err, '\n'));
    assert_null(c.path);
}

static void test_every_key(void **state)
{
    (void)state;
    const char *text = "# aethertop\n"
                       "[connection]\n"
                       "redis = redis://:pw@cache.example:6380/2\n"
                       "database = postgresql://aether:pw@db.example:5433/aether\n"
                       "env_file = gateway.env   ; relative to the config file\n"
                       "timeout = 1.5\n"
                       "\n"
                       "[console]\n"
                       "refresh = 5\n"
                       "theme = light\n"
                       "columns = ttl, user, provider, model, hit\n"
                       "[safety]\n"
                       "read_only = yes\n"
                       "audit_log = /var/log/at/audit.log\n";
    at_cfgfile c;
    char err[512];
    assert_int_equal(parse(text, &c, err, sizeof err), 0);
    assert_string_equal(c.path, "/etc/at/config");
    assert_string_equal(c.redis, "redis://:pw@cache.example:6380/2");
    assert_string_equal(c.database, "postgresql://aether:pw@db.example:5433/aether");
    assert_string_equal(c.env_file, "/etc/at/gateway.env");
    assert_int_equal(c.timeout_ms, 1500);
    assert_true(c.refresh_s == 5.0);
    assert_string_equal(c.theme, "light");
    assert_string_equal(c.columns, "ttl, user, provider, model, hit");
    assert_int_equal(c.columns_line, 11);
    assert_int_equal(c.read_only, 1);
    assert_string_equal(c.audit_log, "/var/log/at/audit.log");
    at_cfgfile_free(&c);
}

static void test_empty_and_defaults(void **state)
{
    (void)state;
    at_cfgfile c;
    char err[512];
    assert_int_equal(parse("", &c, err, sizeof err), 0);
    assert_null(c.redis);
    assert_int_equal(c.timeout_ms, 0);
    assert_int_equal(c.read_only, -1);
    assert_true(c.refresh_s == 0);
    at_cfgfile_free(&c);
    assert_int_equal(parse("; only a comment\n[safety]\nread_only = off\n", &c, err, sizeof err), 0);
    assert_int_equal(c.read_only, 0);
    at_cfgfile_free(&c);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("[connection]\nredis = redis://h\n[bogus]\nx = 1\n", "/etc/at/config:3: unknown section [bogus]");
    expect_error("[console]\n\nrefreh = 2\n", "/etc/at/config:3: unknown key \"refreh\" in [console] (keys: refresh, theme, columns)");
    expect_error("theme = light\n", "/etc/at/config:1: \"theme\" outside a section");
    expect_error("[connection]\ntimeout = soon\n", "/etc/at/config:2: timeout: expected seconds");
    expect_error("[connection]\ntimeout = 0\n", "/etc/at/config:2: timeout:");
    expect_error("[console]\nrefresh = 0.1\n", "/etc/at/config:2: refresh: expected seconds between 0.2 and 3600");
    expect_error("[safety]\nread_only = maybe\n", "/etc/at/config:2: read_only: expected true or false, got \"maybe\"");
    expect_error("[connection]\nredis = http://x\n", "/etc/at/config:2: redis");
    expect_error("[connection]\nredis = redis://h:99999\n", "/etc/at/config:2: redis");
    expect_error("[connection]\ndatabase = mysql://x\n", "/etc/at/config:2: database: expected postgresql://");
    /* the value quoted in the error hides a keyword string's password */
    expect_error("[connection]\ndatabase = host=h password = KwSecret\n",
                 "database: expected postgresql://user:password@host:port/dbname, got \"host=h password = ***\"");
    expect_error("[console]\ntheme = a\ntheme = b\n", "/etc/at/config:3: \"theme\" given twice in [console]");
    expect_error("[console]\ntheme =\n", "/etc/at/config:2: \"theme\" has no value");
    expect_error("[console\ntheme = a\n", "/etc/at/config:1: syntax error");
    expect_error("[console]\njust words\n", "/etc/at/config:2: syntax error");
    /* the first error wins, wherever inih and the checks found theirs */
    expect_error("[console]\nrefresh = x\nwords\n", "/etc/at/config:2: refresh");
    expect_error("[console]\nwords\nrefresh = x\n", "/etc/at/config:2: syntax error");
}

static void test_hostile_text(void **state)
{
    (void)state;
    char big[400];
    memset(big, 'a', sizeof big);
    memcpy(big, "[console]\ntheme = ", 18);
    big[sizeof big - 1] = '\0';
    expect_error(big, "/etc/at/config:2: line too long");
    expect_error("[console]\ntheme = ok\ntheme2 = \xff\xfe\n", "/etc/at/config:3: not valid UTF-8");
    at_cfgfile c;
    char err[512];
    const char nul[] = "[console]\ntheme = a\0b\n";
    assert_int_equal(at_cfgfile_parse(nul, sizeof nul - 1, "x", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    /* a control character in a bad value is shown harmlessly, on one line */
    expect_error("[safety]\nread_only = \x1b[2J\n", "read_only: expected true or false");
    assert_int_equal(parse("[safety]\nread_only = \x1b[2J\n", &c, err, sizeof err), -1);
    assert_null(strchr(err, '\x1b'));
}

static const char *env_xdg(const char *n)
{
    return strcmp(n, "XDG_CONFIG_HOME") == 0 ? "/xdg" : strcmp(n, "HOME") == 0 ? "/home/u" : NULL;
}
static const char *env_rel_xdg(const char *n)
{
    return strcmp(n, "XDG_CONFIG_HOME") == 0 ? "relative" : strcmp(n, "HOME") == 0 ? "/home/u" : NULL;
}
static const char *env_none(const char *n)
{
    (void)n;
    return NULL;
}

static void test_default_path(void **state)
{
    (void)state;
    char p[256];
    assert_int_equal(at_cfgfile_default_path(env_xdg, p, sizeof p), 0);
    assert_string_equal(p, "/xdg/aethertop/config");
    assert_int_equal(at_cfgfile_default_path(env_rel_xdg, p, sizeof p), 0);
    assert_string_equal(p, "/home/u/.config/aethertop/config");
    assert_int_equal(at_cfgfile_default_path(env_none, p, sizeof p), -1);
}

static void test_load(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/cfgfile-test-%d", AETHERTOP_TEST_TMPDIR, (int)getpid());
    at_cfgfile c;
    unlink(path);
    assert_int_equal(at_cfgfile_load(path, false, &c, err, sizeof err), 0);
    assert_null(c.path);
    assert_int_equal(at_cfgfile_load(path, true, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[connection]\nredis = redis://:secret@h:6379/0\nenv_file = ~/gw.env\n", f);
    fclose(f);
    chmod(path, 0644);
    setenv("HOME", "/home/tester", 1);
    assert_int_equal(at_cfgfile_load(path, true, &c, err, sizeof err), 0);
    assert_string_equal(c.env_file, "/home/tester/gw.env");
    assert_non_null(strstr(c.warning, "chmod 600"));
    at_cfgfile_free(&c);
    chmod(path, 0600);
    assert_int_equal(at_cfgfile_load(path, true, &c, err, sizeof err), 0);
    assert_string_equal(c.warning, "");
    at_cfgfile_free(&c);
    /* a password libpq finds under a percent-encoded keyword warns too */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[connection]\ndatabase = postgresql://u@h/db?pass%77ord=secret\n", f);
    fclose(f);
    chmod(path, 0644);
    assert_int_equal(at_cfgfile_load(path, true, &c, err, sizeof err), 0);
    assert_non_null(strstr(c.warning, "chmod 600"));
    at_cfgfile_free(&c);
    unlink(path);
    /* a directory is not a config file */
    assert_int_equal(at_cfgfile_load(AETHERTOP_TEST_TMPDIR, true, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_empty_and_defaults),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
