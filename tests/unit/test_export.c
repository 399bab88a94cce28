/* test_export.c — unit tests of src/export.c: RFC 4180 field quoting,
 * the CSV of a small hand-built snapshot (header = at_report_list_item's
 * fields in order, CRLF, null as an empty field, numbers, control
 * characters kept for files and made visible for a terminal), JSON export,
 * files never written over, and the derived metrics text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aethertop/export.h"
#include "aethertop/report.h"

#ifndef AETHERTOP_TEST_TMPDIR
#define AETHERTOP_TEST_TMPDIR "/tmp"
#endif

static char *field(const char *in)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    at_csv_field(&buf, &len, &cap, in);
    return buf ? buf : strdup("");
}

static void check_field(const char *in, const char *want)
{
    char *got = field(in);
    assert_string_equal(got, want);
    free(got);
}

static void check_text(const char *in, const char *want)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    at_csv_text_field(&buf, &len, &cap, in);
    assert_string_equal(buf ? buf : "", want);
    free(buf);
}

/* Texts from the gateway's users never become spreadsheet formulas. */
static void test_formula_texts(void **state)
{
    (void)state;
    check_text("=1+1", "'=1+1");
    check_text("+A", "'+A");
    check_text("-5", "'-5");
    check_text("@SUM(1+1)", "'@SUM(1+1)");
    check_text("\t=x", "'\t=x");
    check_text("=a,b", "\"'=a,b\"");
    check_text("alice", "alice");
    check_text("a=b", "a=b");
    check_text("", "");
}

static void test_quoting(void **state)
{
    (void)state;
    check_field("plain", "plain");
    check_field("", "");
    check_field("a,b", "\"a,b\"");
    check_field("say \"hi\"", "\"say \"\"hi\"\"\"");
    check_field("two\nlines", "\"two\nlines\"");
    check_field("cr\rhere", "\"cr\rhere\"");
    check_field(" spaced ", " spaced ");
    check_field("张伟", "张伟");
}

/* A snapshot of two rows with no PostgreSQL rows behind them. */
static at_snapshot *tiny(void)
{
    at_snapshot *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->n_rows = 2;
    s->rows = calloc(2, sizeof *s->rows);
    assert_non_null(s->rows);
    for (int i = 0; i < 2; i++) {
        at_affinity *a = &s->rows[i];
        a->api_key = a->user = a->provider = a->endpoint = a->provider_key = a->global_model = -1;
    }
    s->rows[0].redis_key = "cache_affinity:k1:CLAUDE:m";
    s->rows[0].affinity_key = "k1";
    s->rows[0].api_format = "CLAUDE";
    s->rows[0].model_name = "model,with \"quotes\"";
    s->rows[0].provider_id = "p\x1b[31mred";
    s->rows[0].endpoint_id = "e1";
    s->rows[0].key_id = "pk1";
    s->rows[0].created_at = 1700000000.25;
    s->rows[0].expire_at = 1700000300;
    s->rows[0].request_count = 7;
    s->rows[1].redis_key = "cache_affinity:k2:OPENAI:m2";
    s->rows[1].affinity_key = "k2";
    s->rows[1].api_format = "OPENAI";
    s->rows[1].model_name = "m2";
    s->rows[1].created_at = NAN;
    s->rows[1].expire_at = NAN;
    return s;
}

static char *run_csv(const at_snapshot *s, const at_selection *sel, size_t from, size_t count, bool terminal)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    assert_int_equal(at_export_csv(f, s, sel, from, count, terminal), 0);
    fclose(f);
    return out;
}

static void test_csv(void **state)
{
    (void)state;
    at_snapshot *s = tiny();
    uint32_t idx[2] = {1, 0};
    at_selection sel = {idx, 2, 2};
    char *csv = run_csv(s, &sel, 0, 2, false);
    /* the header is at_report_list_item's keys, in order */
    cJSON *item = at_report_list_item(s, &s->rows[0]);
    char header[1024] = "";
    for (const cJSON *c = item->child; c; c = c->next) {
        strcat(header, c->string);
        strcat(header, c->next ? "," : "\r\n");
    }
    cJSON_Delete(item);
    assert_memory_equal(csv, header, strlen(header));
    const char *row1 = csv + strlen(header);
    /* the selection's order: row 1 first; null -> empty; no fraction for whole numbers */
    assert_memory_equal(row1, "k2,,,false,,,,,,", 16);
    assert_non_null(strstr(csv, ",OPENAI,,,0\r\n"));
    assert_non_null(strstr(csv, ",\"model,with \"\"quotes\"\"\",,CLAUDE,1700000000.25,1700000300,7\r\n"));
    /* a file keeps the data as it is */
    assert_non_null(strstr(csv, "p\x1b[31mred"));
    free(csv);
    /* a terminal never gets the raw escape */
    csv = run_csv(s, &sel, 0, 2, true);
    assert_null(strchr(csv, '\x1b'));
    assert_non_null(strstr(csv, "p\xe2\x90\x9b[31mred"));
    free(csv);
    /* a page */
    csv = run_csv(s, &sel, 1, 5, false);
    assert_null(strstr(csv, "k2,"));
    assert_non_null(strstr(csv, "\r\nk1,"));
    free(csv);
    /* no rows: the header alone */
    csv = run_csv(s, &sel, 2, 5, false);
    assert_string_equal(csv, header);
    free(csv);
    free(s->rows);
    free(s);
}

static void test_file(void **state)
{
    (void)state;
    at_snapshot *s = tiny();
    uint32_t idx[2] = {0, 1};
    at_selection sel = {idx, 2, 2};
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/export-test-%d.JSON", AETHERTOP_TEST_TMPDIR, (int)getpid());
    unlink(path);
    assert_int_equal(at_export_format_for(path), AT_EXPORT_JSON);
    assert_int_equal(at_export_format_for("x.csv"), AT_EXPORT_CSV);
    assert_int_equal(at_export_format_for("noext"), AT_EXPORT_CSV);
    assert_int_equal(at_export_file(path, s, &sel, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cJSON *doc = cJSON_Parse(buf);
    assert_non_null(doc);
    assert_true(cJSON_IsArray(doc));
    assert_int_equal(cJSON_GetArraySize(doc), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "affinity_key")->valuestring, "k1");
    cJSON_Delete(doc);
    /* JSON is hardened: no raw escape byte */
    assert_null(strchr(buf, '\x1b'));
    /* never over an existing file */
    assert_int_equal(at_export_file(path, s, &sel, err, sizeof err), -1);
    assert_non_null(strstr(err, "already exists"));
    unlink(path);
    /* an unwritable place: a one-line reason, nothing left behind */
    assert_int_equal(at_export_file("/nonexistent-dir/x.csv", s, &sel, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.csv"));
    free(s->rows);
    free(s);
}

static void test_metrics(void **state)
{
    (void)state;
    at_snapshot *s = tiny();
    at_stats st;
    memset(&st, 0, sizeof st);
    double now = 1700000030;
    char *text = at_metrics_derived(s, &st, now, NULL);
    assert_non_null(strstr(text, "# TYPE aethertop_affinities_created_per_second gauge\n"
                                 "aethertop_affinities_created_per_second 0.016666666666666666\n"));
    assert_non_null(strstr(text, "aethertop_usage_available 0\n"));
    assert_null(strstr(text, "token_hit_rate"));
    free(text);
    at_hits_report h;
    memset(&h, 0, sizeof h);
    h.total.requests = 10;
    h.total.cached_requests = 4;
    h.total.token_hit_rate = 0.25;
    h.total.savings_usd = 1.5;
    text = at_metrics_derived(s, &st, now, &h);
    assert_non_null(strstr(text, "aethertop_usage_available 1\n"));
    assert_non_null(strstr(text, "aethertop_prompt_cache_token_hit_rate{window=\"5m\"} 0.25\n"));
    assert_non_null(strstr(text, "aethertop_prompt_cache_requests{window=\"5m\"} 10\n"));
    assert_non_null(strstr(text, "aethertop_prompt_cache_cached_requests{window=\"5m\"} 4\n"));
    free(text);
    h.total.token_hit_rate = -1;
    text = at_metrics_derived(s, &st, now, &h);
    assert_null(strstr(text, "aethertop_prompt_cache_token_hit_rate"));
    assert_non_null(strstr(text, "aethertop_prompt_cache_requests{window=\"5m\"} 10\n"));
    free(text);
    free(s->rows);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_formula_texts),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
