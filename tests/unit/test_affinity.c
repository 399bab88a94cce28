/* test_affinity.c — unit tests of src/affinity.c's record reader: the fast
 * reader (jsmn, flat objects as the gateway writes them) must give exactly
 * what the general cJSON reader gives, for hand-picked edge cases and for a
 * seeded sweep of mutations of a real record; plus the gateway's readings of
 * a few records (fields from the key, null vs absent, wrong types), and
 * Python's json.loads verdicts (src/json.c), which decide what is skipped. */
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
#include "aethertop/json.h"
#include "aethertop/mapping.h"
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
               fast.request_count == general.request_count &&
               same_text(fast.odd, general.odd);
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
    assert_int_equal(both_s("{\"provider_id\": 5}", NULL), AT_REC_WRONG_TYPE);
    assert_int_equal(both_s("{\"created_at\": 1e400}", NULL), AT_REC_NOT_JSON);
    assert_int_equal(both_s("[1, 2]", NULL), AT_REC_NOT_OBJECT);
    assert_int_equal(both_s("{\"a\": ", NULL), AT_REC_NOT_JSON);
    assert_int_equal(both_s("\xff", NULL), AT_REC_BAD_UTF8);
    assert_int_equal(both_s("{\"request_count\": 1e30}", &row), AT_REC_OK);
    assert_int_equal(row.request_count, 999999999999999LL);  /* clamped */
    assert_string_equal(row.odd, "{\"request_count\":1e+30}");  /* shown as stored */
    assert_int_equal(both_s("{\"request_count\": 2.5}", &row), AT_REC_OK);
    assert_int_equal(row.request_count, 2);
    assert_string_equal(row.odd, "{\"request_count\":2.5}");
    assert_int_equal(both_s("{\"request_count\": null}", &row), AT_REC_OK);
    assert_int_equal(row.request_count, 0);
    assert_string_equal(row.odd, "{\"request_count\":null}");
    assert_int_equal(both_s("{\"request_count\": 12}", &row), AT_REC_OK);
    assert_true(row.request_count == 12 && row.odd == NULL);
    assert_int_equal(both_s("{}", &row), AT_REC_OK);
    assert_true(row.request_count == 0 && row.odd == NULL);
}

/* Values of a type the gateway never writes: the reference echoes
 * created_at and request_count whatever they hold and sorts on `expire_at or
 * 0`; ids go into PostgreSQL look-ups, which a non-text breaks, and
 * api_format must be text too (SPEC: a number where a string belongs). */
static void test_wrong_types(void **state)
{
    (void)state;
    at_affinity row;
    static const struct { const char *val, *odd; } shown[] = {
        {"{\"created_at\": \"yesterday\"}", "{\"created_at\":\"yesterday\"}"},
        {"{\"created_at\": true, \"request_count\": \"5\"}", "{\"created_at\":true,\"request_count\":\"5\"}"},
        {"{\"created_at\": [1, {\"a\": null}]}", "{\"created_at\":[1,{\"a\":null}]}"},
        {"{\"request_count\": false}", "{\"request_count\":false}"},
        {"{\"request_count\": {}}", "{\"request_count\":{}}"},
        {"{\"expire_at\": true}", "{\"expire_at\":true}"},
        {"{\"expire_at\": false}", "{\"expire_at\":false}"},
        {"{\"expire_at\": \"\"}", "{\"expire_at\":\"\"}"},
        {"{\"expire_at\": []}", "{\"expire_at\":[]}"},
        {"{\"created_at\": \"a\\\"b\"}", "{\"created_at\":\"a\\\"b\"}"},
    };
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        if (both_s(shown[i].val, &row) != AT_REC_OK) fail_msg("skipped: %s", shown[i].val);
        assert_non_null(row.odd);
        assert_string_equal(row.odd, shown[i].odd);
        assert_true(isnan(row.created_at));
        assert_int_equal(row.request_count, 0);
    }
    assert_int_equal(both_s("{\"expire_at\": true}", &row), AT_REC_OK);
    assert_true(row.expire_at == 1);                         /* True sorts as 1 */
    static const char *const refused[] = {
        "{\"expire_at\": \"soon\"}", "{\"expire_at\": [1]}", "{\"expire_at\": {\"a\": 1}}",
        "{\"provider_id\": 5}", "{\"endpoint_id\": true}", "{\"key_id\": []}", "{\"model_name\": 1.5}",
        "{\"provider_id\": {}}", "{\"api_format\": 5}", "{\"api_format\": [\"CLAUDE\"]}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (both_s(refused[i], NULL) != AT_REC_WRONG_TYPE) fail_msg("not refused: %s", refused[i]);
}

/* The gateway's list_affinities sets affinity_key from the key name over
 * whatever the value holds: a field of that name neither names the row's
 * API key nor stands in for a key without one. */
static void test_affinity_key_only_from_the_key(void **state)
{
    (void)state;
    at_affinity row;
    static const char *const values[] = {"{\"affinity_key\": \"other-key\"}", "{\"affinity_key\": null}",
                                         "{\"affinity_key\": \"\"}", "{\"affinity_key\": 5}",
                                         "{\"affinity_key\": [\"x\"], \"key_id\": \"k\"}"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(both_s(values[i], &row), AT_REC_OK);
        assert_string_equal(row.affinity_key, "ak-1");
    }
    const char *v = "{\"affinity_key\": \"from-value\", \"provider_id\": \"p\"}";
    assert_int_equal(both("cache_affinity:", v, strlen(v), NULL), AT_REC_BAD_KEY);
    assert_int_equal(both("cache_affinity::CLAUDE:m", v, strlen(v), NULL), AT_REC_BAD_KEY);
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

/* What Python's json.loads says of each (checked with python3): the
 * reference skips exactly the values it cannot load. */
static void test_python_verdicts(void **state)
{
    (void)state;
    static const struct { const char *text; bool valid; } cases[] = {
        {"[1,[2,{\"a\":[]}]]", true}, {"[1,]", false}, {"{\"a\":1,}", false}, {"\"\\x\"", false},
        {"\"\\u12G4\"", false}, {"-Infinity", true}, {"NaN", true}, {"nan", false}, {"1e5", true},
        {"-", false}, {"", false}, {"  ", false}, {"\"a\"\n", true}, {"{\"key_id\":\"k\"}x", false},
        {"{\"request_count\":01}", false}, {"{\"request_count\":1.}", false},
        {"{\"key_id\":\"tab\there\"}", false}, {"\v{\"key_id\":\"k\"}", false},
        {"{\"key_id\":\"k\"\f}", false}, {"{\"key_id\":\"a\",\"key_id\":\"b\"}", true},
        {"{\"request_count\":-0}", true}, {"{\"request_count\":1E+2}", true}, {" {} ", true},
        {"{\"key_id\":\"k\"} {}", false}, {"-01", false}, {"0.5e", false}, {"1e+", false},
        {"\"\x7f\"", true}, {"[-Infinity, Infinity]", true}, {"{\"a\":NaN}", true}, {"\"\\/\"", true},
        {"tru", false}, {"[]", true}, {"{}", true}, {"{\"a\" : 1 }", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (at_json_valid(cases[i].text, strlen(cases[i].text)) != cases[i].valid)
            fail_msg("json.loads says %s of: %s", cases[i].valid ? "valid" : "invalid", cases[i].text);
    /* records: what json.loads rejects is skipped as not JSON, by both readers */
    static const char *const rejected[] = {
        "{\"key_id\":\"k\"}x", "{\"request_count\":01}", "{\"expire_at\":1900000000.}",
        "{\"key_id\":\"tab\there\"}", "\v{\"key_id\":\"k\"}", "{\"key_id\":\"k\"\f}",
    };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++)
        if (both_s(rejected[i], NULL) != AT_REC_NOT_JSON) fail_msg("not skipped: %s", rejected[i]);
    /* the last of duplicate fields wins, as in a Python dict */
    at_affinity row;
    assert_int_equal(both_s("{\"provider_id\":\"p-first\",\"provider_id\":\"p-last\"}", &row), AT_REC_OK);
    assert_string_equal(row.provider_id, "p-last");
    cJSON *doc = at_json_parse("{\"a\":1,\"b\":{\"c\":1,\"c\":2},\"a\":3}", 31);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(doc), 2);
    assert_int_equal(cJSON_GetObjectItem(doc, "a")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "b"), "c")->valueint, 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "b")), 1);
    cJSON_Delete(doc);
}

/* The model-mapping cache's values go through the same reading. */
static void test_mapping_values(void **state)
{
    (void)state;
    at_resolve_value v;
    assert_int_equal(at_mapping_classify_resolve("x", "", 0, &v), AT_RESOLVE_EMPTY);
    const char *garbage = "{\"id\":\"g\",\"name\":\"n\"}garbage";
    assert_int_equal(at_mapping_classify_resolve("x", garbage, strlen(garbage), &v), AT_RESOLVE_INVALID);
    const char *tab = "{\"id\":\"g\",\"name\":\"a\tb\"}";
    assert_int_equal(at_mapping_classify_resolve("x", tab, strlen(tab), &v), AT_RESOLVE_INVALID);
    const char *ok = "{\"id\":\"g\",\"name\":\"n\",\"name\":\"x\"}";
    assert_int_equal(at_mapping_classify_resolve("x", ok, strlen(ok), &v), AT_RESOLVE_SAME_NAME);
    at_provider_value pv;
    const char *extra = "{\"provider_model_name\":\"m\"}}";
    assert_false(at_mapping_parse_provider_value(extra, strlen(extra), &pv));
}

/* The mapping view reads values with Python's json.loads (NaN and Infinity
 * are numbers there), cached_data.get() and int(), and its loops fail (the
 * entry is an error, or skipped) exactly where Python raises. */
static at_resolve_kind classify(const char *val, size_t vlen, at_resolve_value *v)
{
    at_resolve_kind k = at_mapping_classify_resolve("alias", val, vlen, v);
    if (k != AT_RESOLVE_MAPPING) at_resolve_value_free(v);
    return k;
}

static void test_mapping_values_python_rules(void **state)
{
    (void)state;
    at_resolve_value v;
    /* NaN / Infinity: valid JSON to json.loads */
    const char *nan_field = "{\"id\":\"g\",\"name\":\"n\",\"display_name\":\"D\",\"extra\":NaN,\"x\":[-Infinity]}";
    assert_int_equal(classify(nan_field, strlen(nan_field), &v), AT_RESOLVE_MAPPING);
    assert_string_equal(v.global_model_id, "g");
    assert_string_equal(v.global_model_name, "n");
    assert_string_equal(v.global_model_display_name, "D");
    at_resolve_value_free(&v);
    /* loaded, but not a dict: .get() raises, the entry is an error */
    assert_int_equal(classify("NaN", 3, &v), AT_RESOLVE_ERROR);
    assert_int_equal(classify("-Infinity", 9, &v), AT_RESOLVE_ERROR);
    assert_int_equal(classify("[Infinity]", 10, &v), AT_RESOLVE_ERROR);
    /* "NOT_FOUND" is the whole value, not a prefix before a NUL */
    assert_int_equal(classify("NOT_FOUND\0x", 11, &v), AT_RESOLVE_INVALID);
    assert_int_equal(classify("NOT_FOUND", 9, &v), AT_RESOLVE_NOT_FOUND);
    /* an id that is truthy but not a string: PostgreSQL refuses the look-up */
    const char *num_id = "{\"id\":5,\"name\":\"n\"}", *true_id = "{\"id\":true,\"name\":\"n\"}";
    const char *list_id = "{\"id\":[\"g\"],\"name\":\"n\"}";
    assert_int_equal(classify(num_id, strlen(num_id), &v), AT_RESOLVE_ERROR);
    assert_int_equal(classify(true_id, strlen(true_id), &v), AT_RESOLVE_ERROR);
    assert_int_equal(classify(list_id, strlen(list_id), &v), AT_RESOLVE_ERROR);
    /* a falsy id: no look-up at all, a mapping without providers */
    static const char *const falsy[] = {"{\"id\":0,\"name\":\"n\"}", "{\"id\":\"\",\"name\":\"n\"}",
                                        "{\"id\":[],\"name\":\"n\"}", "{\"id\":null,\"name\":\"n\"}",
                                        "{\"id\":false,\"name\":\"n\"}", "{\"name\":\"n\"}"};
    for (size_t i = 0; i < sizeof falsy / sizeof falsy[0]; i++) {
        assert_int_equal(classify(falsy[i], strlen(falsy[i]), &v), AT_RESOLVE_MAPPING);
        assert_true(v.global_model_id == NULL || *v.global_model_id == '\0');
        at_resolve_value_free(&v);
    }

    at_provider_value pv;
    const char *inf = "{\"provider_model_name\":\"m\",\"price\":Infinity}";
    assert_true(at_mapping_parse_provider_value(inf, strlen(inf), &pv));
    assert_string_equal(pv.provider_model_name, "m");
    at_provider_value_free(&pv);
    /* provider_model_mappings truthy but not iterable: the loop raises, skipped */
    static const char *const raises[] = {"{\"provider_model_name\":\"m\",\"provider_model_mappings\":5}",
                                         "{\"provider_model_name\":\"m\",\"provider_model_mappings\":true}",
                                         "{\"provider_model_name\":\"m\",\"provider_model_mappings\":-0.5}"};
    for (size_t i = 0; i < sizeof raises / sizeof raises[0]; i++)
        if (at_mapping_parse_provider_value(raises[i], strlen(raises[i]), &pv)) fail_msg("not skipped: %s", raises[i]);
    /* falsy, or iterable without dicts (a dict gives its keys, a string its characters) */
    static const char *const no_names[] = {"{\"provider_model_name\":\"m\",\"provider_model_mappings\":0}",
                                           "{\"provider_model_name\":\"m\",\"provider_model_mappings\":false}",
                                           "{\"provider_model_name\":\"m\",\"provider_model_mappings\":\"ab\"}",
                                           "{\"provider_model_name\":\"m\",\"provider_model_mappings\":{\"name\":\"x\"}}"};
    for (size_t i = 0; i < sizeof no_names / sizeof no_names[0]; i++) {
        assert_true(at_mapping_parse_provider_value(no_names[i], strlen(no_names[i]), &pv));
        assert_int_equal(pv.n_aliases, 0);
        at_provider_value_free(&pv);
    }

    /* hit counters as int() reads them (checked with python3) */
    static const struct { const char *text; size_t len; bool ok; long long v; } hits[] = {
        {"", 0, true, 0}, {"42", 2, true, 42}, {" 42\n", 4, true, 42}, {"5\r", 2, true, 5},
        {"\v5\f", 3, true, 5}, {"+5", 2, true, 5}, {"-5", 2, true, -5}, {"007", 3, true, 7},
        {"1_000", 5, true, 1000}, {" ", 1, false, 0}, {"\t\r", 2, false, 0}, {"1__0", 4, false, 0},
        {"_1", 2, false, 0}, {"1_", 2, false, 0}, {"+_1", 3, false, 0}, {"- 5", 3, false, 0},
        {"5\0", 2, false, 0}, {"\x1c" "7", 2, false, 0}, {"0x1", 3, false, 0}, {"1.0", 3, false, 0},
        {"5 5", 3, false, 0}, {"abc", 3, false, 0}, {"+", 1, false, 0}, {"-", 1, false, 0},
    };
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
        long long out = -99;
        bool ok = at_mapping_parse_hits(hits[i].text, hits[i].len, &out);
        if (ok != hits[i].ok || (ok && out != hits[i].v))
            fail_msg("int(%.*s): %s %lld", (int)hits[i].len, hits[i].text, ok ? "ok" : "error", out);
    }
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
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_affinity_key_only_from_the_key),
        cmocka_unit_test(test_edge_cases_agree),
        cmocka_unit_test(test_mutations_agree),
        cmocka_unit_test(test_python_verdicts),
        cmocka_unit_test(test_mapping_values),
        cmocka_unit_test(test_mapping_values_python_rules),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (g_arena) {
        at_interner_free(&g_in);
        at_arena_free(g_arena);
    }
    return failed;
}
