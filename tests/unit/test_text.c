/* test_text.c — unit tests of src/text.c: UTF-8 validation and coding,
 * unsafe code points, lowering and case-insensitive search, terminal
 * sanitising, JSON hardening and Python float repr; and at_value_shown
 * (config.c), the one form in which a message quotes a value from outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aethertop/config.h"
#include "aethertop/text.h"

static bool valid(const char *s)
{
    return at_utf8_valid(s, strlen(s));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(valid(""));
    assert_true(valid("plain ascii"));
    assert_true(valid("\xc3\xa9"));             /* é */
    assert_true(valid("\xe2\x82\xac"));         /* € */
    assert_true(valid("\xf0\x9f\x94\x91"));     /* 🔑 */
    assert_true(valid("\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
    assert_true(valid("\xed\x9f\xbf"));         /* U+D7FF */
    assert_true(valid("\xee\x80\x80"));         /* U+E000 */
    assert_false(valid("\xc0\x80"));            /* overlong NUL */
    assert_false(valid("\xc1\xbf"));            /* overlong */
    assert_false(valid("\xe0\x80\x80"));        /* overlong 3-byte */
    assert_false(valid("\xe0\x9f\xbf"));        /* overlong U+07FF */
    assert_false(valid("\xf0\x8f\xbf\xbf"));    /* overlong 4-byte */
    assert_false(valid("\xed\xa0\x80"));        /* U+D800 surrogate */
    assert_false(valid("\xed\xbf\xbf"));        /* U+DFFF surrogate */
    assert_false(valid("\xf4\x90\x80\x80"));    /* U+110000 */
    assert_false(valid("\xf5\x80\x80\x80"));
    assert_false(valid("\xff"));
    assert_false(valid("\x80"));                /* stray continuation */
    assert_false(valid("\xe2\x82"));            /* truncated */
    assert_false(valid("a\xc3"));
    /* length is honoured: embedded NUL is valid, a cut sequence is not */
    assert_true(at_utf8_valid("a\0b", 3));
    assert_false(at_utf8_valid("\xc3\xa9", 1));
}

static void test_utf8_decode_encode(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(at_utf8_decode("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(at_utf8_decode("\xc3\xa9x", 3, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(at_utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(at_utf8_decode("\xf0\x9f\x94\x91", 4, &cp), 4);
    assert_int_equal(cp, 0x1F511);
    assert_int_equal(at_utf8_decode("\xff", 1, &cp), 1);
    assert_int_equal(cp, 0xFFFD);
    assert_int_equal(at_utf8_decode("\xed\xa0\x80", 3, &cp), 1);
    assert_int_equal(cp, 0xFFFD);
    assert_int_equal(at_utf8_decode("\xe2\x82\xac", 2, &cp), 1); /* cut by len */
    assert_int_equal(cp, 0xFFFD);

    char b[4];
    assert_int_equal(at_utf8_encode('z', b), 1);
    assert_memory_equal(b, "z", 1);
    assert_int_equal(at_utf8_encode(0xE9, b), 2);
    assert_memory_equal(b, "\xc3\xa9", 2);
    assert_int_equal(at_utf8_encode(0x20AC, b), 3);
    assert_memory_equal(b, "\xe2\x82\xac", 3);
    assert_int_equal(at_utf8_encode(0x10FFFF, b), 4);
    assert_memory_equal(b, "\xf4\x8f\xbf\xbf", 4);
    assert_int_equal(at_utf8_encode(0xD800, b), 3); /* surrogate -> U+FFFD */
    assert_memory_equal(b, "\xef\xbf\xbd", 3);
    assert_int_equal(at_utf8_encode(0x110000, b), 3);
    assert_memory_equal(b, "\xef\xbf\xbd", 3);

    /* round trip over every scalar value */
    for (uint32_t c = 0; c <= 0x10FFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        size_t n = at_utf8_encode(c, b);
        uint32_t back;
        assert_true(at_utf8_valid(b, n));
        assert_int_equal(at_utf8_decode(b, n, &back), n);
        if (back != c)
            fail_msg("round trip of U+%04X", (unsigned)c);
    }
}

static void test_unsafe(void **state)
{
    (void)state;
    const uint32_t unsafe[] = {0x00, 0x07, 0x0A, 0x1B, 0x1F, 0x7F, 0x80, 0x85, 0x9B, 0x9F,
                               0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
                               0x2066, 0x2067, 0x2068, 0x2069};
    const uint32_t safe[] = {0x20, 'a', 0x7E, 0xA0, 0xE9, 0x200B, 0x200D, 0x2028, 0x2029,
                             0x2065, 0x206A, 0x202F, 0xFFFD, 0x1F511, 0x061B, 0x061D};
    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++)
        assert_true(at_cp_is_unsafe(unsafe[i]));
    for (size_t i = 0; i < sizeof safe / sizeof *safe; i++)
        assert_false(at_cp_is_unsafe(safe[i]));
}

static void check_lower(const char *in, const char *want)
{
    char *got = at_utf8_lower(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_lower(void **state)
{
    (void)state;
    /* works whatever the process locale is */
    setlocale(LC_ALL, "C");
    check_lower("", "");
    check_lower("Hello WORLD 123", "hello world 123");
    check_lower("\xc3\x80\xc3\x89\xc3\x8e", "\xc3\xa0\xc3\xa9\xc3\xae"); /* ÀÉÎ -> àéî */
    check_lower("\xce\xa9\xce\xa3\xce\x91", "\xcf\x89\xcf\x83\xce\xb1");   /* ΩΣΑ -> ωσα */
    check_lower("\xd0\x9a\xd0\x9b\xd0\xae\xd0\xa7", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"); /* КЛЮЧ */
    check_lower("\xe5\xaf\x86\xf0\x9f\x94\x91", "\xe5\xaf\x86\xf0\x9f\x94\x91"); /* no case */
    check_lower("A\xff" "B", "a\xff" "b"); /* invalid bytes kept as they are */
    assert_null(at_utf8_lower(NULL));
}

/* Python's str.lower() (the reference lowers the keyword and each searched
 * field with it; checked with python3): U+0130 lowers to "i" + U+0307, and a
 * capital sigma ending a word to the final sigma. */
static void test_lower_like_python(void **state)
{
    (void)state;
    check_lower("\xc4\xb0stanbul", "i\xcc\x87stanbul");                  /* İstanbul */
    check_lower("\xce\xa9\xce\xa3", "\xcf\x89\xcf\x82");                 /* ΩΣ -> ως */
    check_lower("\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\x91",               /* ΟΔΟΣ Α -> οδος α */
                "\xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xce\xb1");
    check_lower("\xce\xa3", "\xcf\x83");                                 /* Σ alone: σ */
    check_lower("1\xce\xa3", "1\xcf\x83");                               /* nothing cased before */
    check_lower("\xce\x91\xce\xa3\xce\x91", "\xce\xb1\xcf\x83\xce\xb1");   /* inside a word */
    check_lower("\xce\x91\xce\xa3.", "\xce\xb1\xcf\x82.");                 /* ΑΣ. -> ας. */
    check_lower("\xce\x91\xce\xa3'\xce\x91", "\xce\xb1\xcf\x83'\xce\xb1");  /* ' is looked through */
    check_lower("\xce\x91.\xce\xa3", "\xce\xb1.\xcf\x82");                 /* Α.Σ -> α.ς */
    check_lower("\xce\x91\xce\xa3-\xce\x91", "\xce\xb1\xcf\x82-\xce\xb1"); /* - ends the word */
    check_lower("\xce\x91\xcc\x81\xce\xa3", "\xce\xb1\xcc\x81\xcf\x82");   /* a combining accent */
    check_lower("\xff\xce\xa3", "\xff\xcf\x83");                         /* invalid byte before */
}

static bool icontains(const char *hay, const char *needle)
{
    char *nl = at_utf8_lower(needle);
    bool r = at_utf8_icontains(hay, nl);
    free(nl);
    return r;
}

static void test_icontains(void **state)
{
    (void)state;
    assert_true(icontains("Hello World", "world"));
    assert_true(icontains("Hello World", "WORLD"));
    assert_true(icontains("Hello World", "o w"));
    assert_true(icontains("Hello World", ""));
    assert_true(icontains("", ""));
    assert_false(icontains("", "a"));
    assert_false(icontains("abc", "abcd"));
    assert_false(icontains("Hello", "hex"));
    assert_true(icontains("claude-3-5-SONNET", "sonnet"));
    assert_true(icontains("\xc3\x84PFEL", "\xc3\xa4pf"));                 /* ÄPFEL / äpf */
    assert_true(icontains("x\xce\xa9\xce\xa3y", "\xcf\x89\xcf\x83"));     /* ΩΣ / ωσ */
    assert_true(icontains("\xe5\xaf\x86\xe9\x92\xa5-Key", "\xe9\x92\xa5-k")); /* 钥-k */
    assert_false(icontains("\xc3\xa9", "e"));
    assert_true(icontains("ab\xff" "cd", "\xff" "c")); /* invalid bytes match themselves */
    assert_true(icontains("aab", "ab"));               /* restart after partial match */
    /* needle in hay.lower(), as Python has it */
    assert_false(icontains("\xc4\xb0stanbul", "istanbul"));               /* i + U+0307 */
    assert_true(icontains("\xc4\xb0stanbul", "\xc4\xb0stanbul"));
    assert_true(icontains("\xc4\xb0", "i"));                              /* part of the lowered form */
    assert_true(icontains("\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82")); /* ΟΔΟΣ: οδος */
    assert_false(icontains("\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x83"));
    assert_true(icontains("\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\x9f\xce\x94\xce\x9f\xce\xa3"));
    char long_hay[2000];
    memset(long_hay, 'A', sizeof long_hay - 3);
    memcpy(long_hay + sizeof long_hay - 3, "\xce\xa3", 3);                   /* past the stack buffer */
    assert_true(icontains(long_hay, "a\xcf\x82"));
    assert_false(at_utf8_icontains(NULL, "a"));
    assert_true(at_utf8_icontains("abc", NULL));
}

static void check_sanitize(const char *in, const char *want)
{
    char *got = at_text_sanitize(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_true(at_utf8_valid(got, strlen(got)));
    free(got);
}

static void test_sanitize(void **state)
{
    (void)state;
    check_sanitize("", "");
    check_sanitize("plain \xc3\xa9 \xf0\x9f\x94\x91", "plain \xc3\xa9 \xf0\x9f\x94\x91");
    check_sanitize("sk-\x1b[2J-\x07-x", "sk-\xe2\x90\x9b[2J-\xe2\x90\x87-x"); /* ␛ ␇ */
    check_sanitize("a\nb\tc", "a\xe2\x90\x8a" "b\xe2\x90\x89" "c");        /* ␊ ␉ */
    check_sanitize("\x01", "\xe2\x90\x81");
    check_sanitize("\x7f", "\xe2\x90\xa1");                            /* ␡ */
    check_sanitize("\xc2\x85x", "\xef\xbf\xbdx");                      /* C1 NEL */
    check_sanitize("a\xe2\x80\xae" "b", "a\xef\xbf\xbd" "b");          /* RLO */
    check_sanitize("\xe2\x81\xa6\xe2\x81\xa9", "\xef\xbf\xbd\xef\xbf\xbd"); /* LRI PDI */
    check_sanitize("\xe2\x80\x8f", "\xef\xbf\xbd");                    /* RLM */
    check_sanitize("a\xd8\x9c" "b", "a\xef\xbf\xbd" "b");              /* ALM, a mark like RLM */
    check_sanitize("x\xffy", "x\xef\xbf\xbdy");
    check_sanitize("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check_sanitize("\xe2\x80\x8d", "\xe2\x80\x8d"); /* ZWJ is harmless */
    assert_null(at_text_sanitize(NULL));
}

static void check_shown(const char *in, size_t max, const char *want)
{
    char *got = at_value_shown(in, max);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_value_shown(void **state)
{
    (void)state;
    check_shown("5x", 64, "5x");
    check_shown(NULL, 64, "");
    /* made visible, like at_text_sanitize */
    check_shown("a\x1b[31m\xff", 64, "a\xe2\x90\x9b[31m\xef\xbf\xbd");
    check_shown("\xe2\x80\xae" "x", 64, "\xef\xbf\xbdx");
    /* secrets: a URL's password and secret query values, a keyword string's
     * password, NAME=value of a name that says secret */
    check_shown("redis://:pw@h:6379/0", 64, "redis://:***@h:6379/0");
    check_shown("--redi=redis://u:pw@h", 64, "--redi=redis://u:***@h");
    check_shown("postgresql://u@h/d?sslpassword=pw&sslmode=require", 64,
                "postgresql://u@h/d?sslpassword=***&sslmode=require");
    check_shown("host=h password = 'a b' dbname=d", 64, "host=h password = '***' dbname=d");
    check_shown("ENCRYPTION_KEY=k", 64, "ENCRYPTION_KEY=***");
    check_shown("REDIS_PASSWORD=pw", 64, "REDIS_PASSWORD=***");
    check_shown("--redis-password=pw", 64, "--redis-password=***");
    check_shown("api_token=t x_secret=s", 64, "api_token=*** x_secret=***");
    check_shown("the password is pw", 64, "***");
    /* where libpq would stop: a URL missing a '/', a double-quoted value */
    check_shown("postgresql:/app:hunter2@db/aether", 64, "postgresql:***@db/aether");
    check_shown("host=db password=\"a b\"", 64, "host=db password=*** ***");
    check_shown("DB_PASS=x db_pwd=y z", 64, "DB_PASS=*** db_pwd=*** ***");
    /* hidden before it is cut: a password past the cut is not half shown */
    check_shown("redis://:0123456789abcdef@h", 10, "redis://:*\xe2\x80\xa6");
    /* cut after whole code points, with an ellipsis */
    check_shown("\xc3\xa9\xc3\xa9\xc3\xa9", 2, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    check_shown("\x1b\x1b\x1b", 2, "\xe2\x90\x9b\xe2\x90\x9b\xe2\x80\xa6");
    check_shown("abc", 3, "abc");
    /* a name (no value): made visible and cut, nothing hidden */
    char *name = at_text_shown("--redis-password\x1b", 64);
    assert_string_equal(name, "--redis-password\xe2\x90\x9b");
    free(name);
    name = at_text_shown("\xc3\xa9\xc3\xa9", 1);
    assert_string_equal(name, "\xc3\xa9\xe2\x80\xa6");
    free(name);
}

static void check_harden(const char *in, const char *want)
{
    char *got = at_json_harden(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_json_harden(void **state)
{
    (void)state;
    check_harden("{}", "{}");
    check_harden("{\n\t\"a\":\t\"b\"\n}", "{\n\t\"a\":\t\"b\"\n}");
    check_harden("{\"k\":\"x\x7fy\"}", "{\"k\":\"x\\u007fy\"}");
    check_harden("{\"k\":\"\xc2\x80\xc2\x9f\"}", "{\"k\":\"\\u0080\\u009f\"}");
    check_harden("{\"k\":\"\xe2\x80\xae\xe2\x81\xa6\xe2\x80\x8e\"}",
                 "{\"k\":\"\\u202e\\u2066\\u200e\"}");
    check_harden("{\"k\":\"a\xff" "b\"}", "{\"k\":\"a\\ufffdb\"}");
    check_harden("{\"k\":\"\xd8\x9c\"}", "{\"k\":\"\\u061c\"}");
    check_harden("{\"k\":\"\xed\xa0\x80\"}", "{\"k\":\"\\ufffd\\ufffd\\ufffd\"}");
    /* escaped quotes do not end the string */
    check_harden("{\"k\":\"q\\\"\x7f\\\\\",\"n\":1}", "{\"k\":\"q\\\"\\u007f\\\\\",\"n\":1}");
    /* everything else byte-identical: UTF-8 text, U+2028, escapes, numbers */
    const char *same = "{\"name\":\"\xe5\xaf\x86\xe9\x92\xa5 \xf0\x9f\x94\x91 \xe2\x80\xa8\","
                       "\"esc\":\"\\u001b\\n\",\"n\":[1,2.5,null,true]}";
    check_harden(same, same);
    /* keys are strings too */
    check_harden("{\"\xe2\x80\xae\":1}", "{\"\\u202e\":1}");
    assert_null(at_json_harden(NULL));
}

static void check_float(double v, const char *want)
{
    char out[64];
    at_format_pyfloat(v, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_pyfloat(void **state)
{
    (void)state;
    check_float(0.0, "0.0");
    check_float(-0.0, "-0.0");
    check_float(1.0, "1.0");
    check_float(300.0, "300.0");
    check_float(-2.5, "-2.5");
    check_float(0.1, "0.1");
    check_float(0.1 + 0.2, "0.30000000000000004");
    check_float(1.0 / 3.0, "0.3333333333333333");
    check_float(123.456, "123.456");
    check_float(1e15, "1000000000000000.0");
    check_float(9999999999999998.0, "9999999999999998.0");
    check_float(1e16, "1e+16");
    check_float(1.5e16, "1.5e+16");
    check_float(1e22, "1e+22");
    check_float(1e100, "1e+100");
    check_float(0.0001, "0.0001");
    check_float(0.00015, "0.00015");
    check_float(1.5e-05, "1.5e-05");
    check_float(1e-05, "1e-05");
    check_float(5e-324, "5e-324");
    check_float(1.7976931348623157e308, "1.7976931348623157e+308");
    check_float(2.2250738585072014e-308, "2.2250738585072014e-308");
    check_float(0.000123, "0.000123");
    check_float(1234567.0, "1234567.0");
    check_float(0.5, "0.5");
    check_float(INFINITY, "inf");
    check_float(-INFINITY, "-inf");
    check_float(NAN, "nan");
    /* works in a locale whose decimal separator is not '.' (if installed) */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        check_float(2.5, "2.5");
        check_float(1.5e-05, "1.5e-05");
        setlocale(LC_NUMERIC, "C");
    }
    char small[4];
    at_format_pyfloat(123.5, small, sizeof small); /* truncates, NUL-terminated */
    assert_string_equal(small, "123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),  cmocka_unit_test(test_utf8_decode_encode),
        cmocka_unit_test(test_unsafe),      cmocka_unit_test(test_lower),
        cmocka_unit_test(test_icontains),   cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_json_harden), cmocka_unit_test(test_pyfloat),
        cmocka_unit_test(test_value_shown), cmocka_unit_test(test_lower_like_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
