/* test_affinity.c — unit tests of src/affinity.c's record reader: the fast
 * reader (jsmn, flat objects as the gateway writes them) must give exactly
 * what the general cJSON reader gives, for hand-picked edge cases and for a
 * seeded sweep of mutations of a real record; plus the gateway's readings of
 * a few records (fields from the key, null vs absent, wrong types). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aethertop/affinity.h"
#include "aethertop/arena.h"
#include "aethertop/strmap.h"

static const char KEY[] = "cache_affinity:ak-1:OPENAI_CLI:model-9";
static const char VALUE[] =
    "{\"provider_id\": \"7b2d8f79-f46b-415c-b16f-2393d66cdc8b\", \"endpoint_id\": "
    "\"e21bdd24-b8d2-4834-a21a-fc2f3f2b56c8\", \"key_id\": \"e02dfe7e-7444-40b1-966f-092af49044ac\", "
    "\"api_format\": \"OPENAI_CLI\", \"model_name\": \"4655f20a-6f03-4dc0-a538-310fd3ac3b8c\", "
    "\"created_at\": 1796029870.133953, \"expire_at\": 1796030400.531383, \"request_count\": 11}";

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_num(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* One interner for every case: the strings stay valid for the checks. */
static at_arena *g_arena;
static at_interner g_in;

/* Both readers on one record; fails the test (naming the input) on any difference. */
static at_record_status both(const char *key, const char *val, size_t vlen, at_affinity *out)
{
    if (!g_arena) {
        g_arena = at_arena_new();
        at_interner_init(&g_in, g_arena);
    }
    at_affinity fast, general;
    at_record_status sf = at_affinity_parse(&g_in, key, strlen(key), val, vlen, &fast);
    at_record_status sg = at_affinity_parse_general(&g_in, key, strlen(key), val, vlen, &general);
    bool same = sf == sg;
    if (same && sf == AT_REC_OK)
        same = same_text(fast.affinity_key, general.affinity_key) && same_text(fast.api_format, general.api_format) &&
               same_text(fast.model_name, general.model_name) && same_text(fast.provider_id, general.provider_id) &&
               same_text(fast.endpoint_id, general.endpoint_id) && same_text(fast.key_id, general.key_id) &&
               same_num(fast.created_at, general.created_at) && same_num(fast.expire_at, general.expire_at) &&
               fast.request_count == general.request_count;
    if (!same) fail_msg("readers differ (%s vs %s) on: %.*s", at_record_status_id(sf), at_record_status_id(sg),
                        (int)vlen, val ? val : "(null)");
    if (out) *out = fast;
    return sf;
}

static at_record_status both_s(const char *val, at_affinity *out)
{
    return both(KEY, val, strlen(val), out);
}

static void test_gateway_record(void **state)
{
    (void)state;
    at_affinity row;
    assert_int_equal(both_s(VALUE, &row), AT_REC_OK);
    assert_string_equal(row.affinity_key, "ak-1");           /* from the key */
    assert_string_equal(row.api_format, "OPENAI_CLI");
    assert_string_equal(row.model_name, "4655f20a-6f03-4dc0-a538-310fd3ac3b8c");  /* the field wins */
    assert_string_equal(row.provider_id, "7b2d8f79-f46b-415c-b16f-2393d66cdc8b");
    assert_true(row.created_at == 1796029870.133953);
    assert_true(row.expire_at == 1796030400.531383);
    assert_int_equal(row.request_count, 11);
}

static void test_readings(void **state)
{
    (void)state;
    at_affinity row;
    assert_int_equal(both_s("{\"provider_id\": null, \"request_count\": 3}", &row), AT_REC_OK);
    assert_null(row.provider_id);
    assert_true(isnan(row.created_at));
    assert_int_equal(row.request_count, 3);
    assert_int_equal(both("cache_affinity:ak", "{}", 2, &row), AT_REC_OK);
    assert_string_equal(row.api_format, "unknown");       /* the gateway's fallback */
    assert_int_equal(both("cache_affinity:", "{}", 2, &row), AT_REC_BAD_KEY);
    assert_int_equal(both_s("{\"affinity_key\": null}", NULL), AT_REC_BAD_KEY);
    assert_int_equal(both_s("{\"provider_id\": 5}", NULL), AT_REC_WRONG_TYPE);
    assert_int_equal(both_s("{\"created_at\": \"5\"}", NULL), AT_REC_WRONG_TYPE);
    assert_int_equal(both_s("{\"created_at\": true}", NULL), AT_REC_WRONG_TYPE);
    assert_int_equal(both_s("{\"created_at\": 1e400}", NULL), AT_REC_NOT_JSON);
    assert_int_equal(both_s("[1, 2]", NULL), AT_REC_NOT_OBJECT);
    assert_int_equal(both_s("{\"a\": ", NULL), AT_REC_NOT_JSON);
    assert_int_equal(both_s("\xff", NULL), AT_REC_BAD_UTF8);
    assert_int_equal(both_s("{\"request_count\": 1e30}", &row), AT_REC_OK);
    assert_int_equal(row.request_count, 999999999999999LL);  /* clamped */
}

/* Inputs at every boundary of the fast reader: each must read the same. */
static void test_edge_cases_agree(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}", " {} ", "{ }", "\t{\"key_id\":\"k\"}\r\n", "{\"key_id\":\"k\"}x", "{\"key_id\":\"k\"} {}",
        "{\"key_id\":\"k\",}", "{,\"key_id\":\"k\"}", "{\"key_id\" \"k\"}", "{\"key_id\"::\"k\"}",
        "{\"key_id\":\"k\" \"endpoint_id\":\"e\"}", "{\"key_id\":\"k\",,\"endpoint_id\":\"e\"}",
        "{\"key_id\":\"a\",\"key_id\":\"b\"}", "{\"other\":1,\"other\":2}", "{\"key_id\":\"a\\u0000b\"}",
        "{\"key_id\":\"a\\\"b\"}", "{\"key_id\":\"a\\nb\"}", "{\"key_id\":\"\\u00e9\"}", "{\"key_id\":\"tab\there\"}",
        "{\"key\\u005fid\":\"k\"}", "{\"key_id\":\"caf\xc3\xa9\"}",
        "{\"request_count\":01}", "{\"request_count\":-0}", "{\"request_count\":1.}", "{\"request_count\":.5}",
        "{\"request_count\":+1}", "{\"request_count\":1e5}", "{\"request_count\":1E+2}", "{\"request_count\":1e-2}",
        "{\"request_count\":-}", "{\"request_count\":1.5e}", "{\"request_count\":NaN}", "{\"request_count\":Infinity}",
        "{\"request_count\":-1e999}", "{\"request_count\":123456789012345678901234567890123456789012345678901234567890123456}",
        "{\"request_count\":tru}", "{\"request_count\":nul}", "{\"request_count\":null}", "{\"request_count\":false}",
        "{\"other\":tru}", "{\"other\":[1,2]}", "{\"other\":{\"a\":1}}", "{\"other\":\"x\"}", "{\"other\":null}",
        "{\"provider_id\":[\"p\"]}", "{\"provider_id\":{}}", "{key_id:\"k\"}", "{\"key_id\":'k'}", "{\"key_id\":k}",
        "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,"
        "\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17,\"r\":18,\"s\":19,\"t\":20,\"u\":21,\"key_id\":\"k\"}",
        "{\"key_id\":\"k\"\f}", "\v{\"key_id\":\"k\"}", "{\"api_format\":\"\",\"model_name\":\"\"}",
        "{\"affinity_key\":\"\"}", "{\"affinity_key\":\"x\"}", "null", "\"str\"", "5", "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) both_s(cases[i], NULL);
    /* an embedded NUL, and the vanished key */
    both(KEY, "{\"key_id\":\"k\"}\0", 15, NULL);
    assert_int_equal(both(KEY, NULL, 0, NULL), AT_REC_GONE);
}

/* A seeded sweep: every single-byte replacement, deletion and insertion of
 * JSON's structural characters in the real record, plus random multi-byte
 * damage. The readers must agree on every one. */
static void test_mutations_agree(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\ \t\n0123456789.eE+-ntrfalsu\x01\x7f";
    size_t n = strlen(VALUE);
    char *buf = malloc(n + 8);
    assert_non_null(buf);
    size_t cases = 0;
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t a = 0; a < sizeof alphabet - 1; a++) {
            memcpy(buf, VALUE, n);
            buf[pos] = alphabet[a];                      /* replace */
            both(KEY, buf, n, NULL);
            memcpy(buf, VALUE, pos);                     /* insert */
            buf[pos] = alphabet[a];
            memcpy(buf + pos + 1, VALUE + pos, n - pos);
            both(KEY, buf, n + 1, NULL);
            cases += 2;
        }
        memcpy(buf, VALUE, pos);                         /* delete */
        memcpy(buf + pos, VALUE + pos + 1, n - pos - 1);
        both(KEY, buf, n - 1, NULL);
        cases++;
    }
    srand(4242);
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, VALUE, n);
        int hits = 1 + rand() % 4;
        for (int h = 0; h < hits; h++) buf[rand() % n] = alphabet[rand() % (sizeof alphabet - 1)];
        both(KEY, buf, n, NULL);
        cases++;
    }
    free(buf);
    assert_true(cases > 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_record),
        cmocka_unit_test(test_readings),
        cmocka_unit_test(test_edge_cases_agree),
        cmocka_unit_test(test_mutations_agree),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (g_arena) {
        at_interner_free(&g_in);
        at_arena_free(g_arena);
    }
    return failed;
}
