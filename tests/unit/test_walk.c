/* test_walk.c — at_redis_walk against the real redis-server that
 * scripts/test starts (AT_TEST_REDIS_PORT; exit 77, "skipped", without it):
 * every key and its own value arrives once, across the 250-key MGET pieces
 * of a batch; a callback that stops early leaves the connection in step
 * (no reply left unread); and a walk that fails part-way through a pipeline
 * (MGET refused by an ACL) marks the connection to be reopened instead of
 * leaving the next command to read a stale reply. Uses database 13, held
 * with the integration tests' lock file (harness.py acquire_redis_db). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "aethertop/affinity.h"
#include "aethertop/config.h"
#include "aethertop/redis.h"

#define TEST_DB 13
#define N_KEYS 1234
#define ACL_USER "walk-test-no-mget"
#define ACL_PW "walk-test-pw-5f1c"

static char g_url[256];
static const char *test_env(const char *name) { return strcmp(name, "REDIS_URL") == 0 ? g_url : NULL; }

static at_redis *open_as(const char *userinfo)
{
    const char *port = getenv("AT_TEST_REDIS_PORT");
    snprintf(g_url, sizeof g_url, "redis://%s127.0.0.1:%s/%d", userinfo, port, TEST_DB);
    at_config cfg;
    char err[512];
    if (at_config_resolve(&cfg, NULL, test_env, err, sizeof err) < 0) fail_msg("config: %s", err);
    at_redis *r = at_redis_open(&cfg, err, sizeof err);
    at_config_free(&cfg);
    if (!r) fail_msg("open: %s", err);
    return r;
}

static void command_ok(at_redis *r, int argc, const char **argv)
{
    redisReply *rep = at_redis_command(r, argc, argv, NULL);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

static int setup(void **state)
{
    (void)state;
    at_redis *r = open_as("");
    const char *flush[] = {"FLUSHDB"};
    command_ok(r, 1, flush);
    for (int i = 0; i < N_KEYS; i++) {
        char key[64], val[64];
        snprintf(key, sizeof key, "cache_affinity:k%d:OPENAI:m", i);
        snprintf(val, sizeof val, "{\"provider_id\":\"p%d\"}", i);
        const char *argv[] = {"SET", key, val};
        assert_int_equal(at_redis_append(r, 3, argv, NULL), 0);
    }
    /* keys the walk must not return */
    const char *other[] = {"SET", "model:other", "x"};
    assert_int_equal(at_redis_append(r, 3, other, NULL), 0);
    for (int i = 0; i <= N_KEYS; i++) {
        redisReply *rep = at_redis_read(r);
        assert_non_null(rep);
        freeReplyObject(rep);
    }
    const char *acl[] = {"ACL", "SETUSER", ACL_USER, "reset", "on", ">" ACL_PW, "~*", "+@all", "-mget"};
    command_ok(r, 9, acl);
    at_redis_close(r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    at_redis *r = open_as("");
    const char *flush[] = {"FLUSHDB"};
    const char *del[] = {"ACL", "DELUSER", ACL_USER};
    command_ok(r, 1, flush);
    command_ok(r, 3, del);
    at_redis_close(r);
    return 0;
}

typedef struct {
    unsigned char seen[N_KEYS];
    size_t keys, batches, stop_after;
    bool mismatch;
} walk_count;

static int count_batch(void *vctx, size_t n, const char *const *keys, const size_t *klens,
                       const char *const *vals, const size_t *vlens)
{
    walk_count *c = vctx;
    (void)klens;
    for (size_t i = 0; i < n; i++) {
        int k = -1;
        if (sscanf(keys[i], "cache_affinity:k%d:", &k) != 1 || k < 0 || k >= N_KEYS) { c->mismatch = true; continue; }
        char want[64];
        snprintf(want, sizeof want, "{\"provider_id\":\"p%d\"}", k);
        if (vals && (!vals[i] || vlens[i] != strlen(want) || memcmp(vals[i], want, vlens[i]) != 0)) c->mismatch = true;
        c->seen[k]++;
    }
    c->keys += n;
    return ++c->batches == c->stop_after;
}

static void expect_pong(at_redis *r)
{
    redisReply *rep = at_redis_commandf(r, "PING");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    assert_string_equal(rep->str, "PONG");
    freeReplyObject(rep);
}

/* Batches of up to 5000 keys: several 250-key MGETs each, and the values
 * line up with their keys. */
static void test_every_key_once_with_its_value(void **state)
{
    (void)state;
    int counts[] = {100, 1000, 5000};
    for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++) {
        at_redis *r = open_as("");
        walk_count *c = calloc(1, sizeof *c);
        at_walk_opts o = {.values = true, .count = counts[t]};
        assert_int_equal(at_redis_walk(r, &o, count_batch, c), 0);
        assert_false(c->mismatch);
        for (int k = 0; k < N_KEYS; k++) assert_int_equal(c->seen[k], 1);
        assert_int_equal(c->keys, N_KEYS);
        expect_pong(r);
        free(c);
        at_redis_close(r);
    }
}

/* The callback stops after the first batch: the replies already in flight
 * are read off, so the next command gets its own reply. */
static void test_stop_leaves_connection_in_step(void **state)
{
    (void)state;
    at_redis *r = open_as("");
    walk_count *c = calloc(1, sizeof *c);
    c->stop_after = 1;
    at_walk_opts o = {.values = true, .count = 600};
    assert_int_equal(at_redis_walk(r, &o, count_batch, c), 0);
    assert_int_equal(c->batches, 1);
    assert_true(c->keys < N_KEYS);
    assert_false(at_redis_broken(r));
    expect_pong(r);
    free(c);
    at_redis_close(r);
}

/* MGET refused: the walk fails with Redis's reason, and the connection is
 * marked for reopening (replies of the pipeline are still unread). */
static void test_failure_part_way_abandons_connection(void **state)
{
    (void)state;
    at_redis *r = open_as(ACL_USER ":" ACL_PW "@");
    walk_count *c = calloc(1, sizeof *c);
    at_walk_opts o = {.values = true, .count = 5000};
    assert_int_equal(at_redis_walk(r, &o, count_batch, c), -1);
    assert_non_null(strstr(at_redis_error(r), "NOPERM"));
    assert_true(at_redis_broken(r));
    assert_null(at_redis_commandf(r, "PING"));
    /* keys only (no MGET) works for the same user */
    at_redis_close(r);
    r = open_as(ACL_USER ":" ACL_PW "@");
    memset(c, 0, sizeof *c);
    o.values = false;
    assert_int_equal(at_redis_walk(r, &o, count_batch, c), 0);
    assert_int_equal(c->keys, N_KEYS);
    expect_pong(r);
    free(c);
    at_redis_close(r);
}

/* The lock the Python tests take for a database index (held until exit). */
static void lock_test_db(void)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/aethertop-it-locks-%s", tmp, getenv("AT_TEST_REDIS_PORT"));
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/db%d.lock", dir, TEST_DB);
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        perror(path);
        exit(1);
    }
}

int main(void)
{
    if (!getenv("AT_TEST_REDIS_PORT")) {
        const char *req = getenv("AT_REQUIRE_SERVERS");
        if (req && strcmp(req, "1") == 0) { /* scripts/test: never a quiet skip */
            fprintf(stderr, "test_walk: AT_TEST_REDIS_PORT not set although scripts/test started the servers: FAILED\n");
            return 1;
        }
        fprintf(stderr, "test_walk: AT_TEST_REDIS_PORT not set (run through scripts/test): skipped\n");
        return 77;
    }
    lock_test_db();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_once_with_its_value),
        cmocka_unit_test(test_stop_leaves_connection_in_step),
        cmocka_unit_test(test_failure_part_way_abandons_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
