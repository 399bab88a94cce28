/* test_secret.c — unit tests of src/secret.c against the reference Fernet
 * vectors (shared/fixtures/fernet_vectors.json: key derivation, decrypt,
 * mask, byte-exact encrypt, negative and lenient-decoding cases) plus
 * masking and round-trip checks. The fixtures directory is argv[1]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aethertop/config.h"
#include "aethertop/secret.h"

#ifndef AETHERTOP_FIXTURES_DIR
#define AETHERTOP_FIXTURES_DIR "tests/fixtures"
#endif

static const char *fixtures_dir = AETHERTOP_FIXTURES_DIR;
static cJSON *vectors;

/* Keys derived so far (PBKDF2 is slow: derive each distinct key once). */
static struct {
    char *name;
    at_fernet_key key;
    int path;
} key_cache[16];
static size_t n_key_cache;

static const at_fernet_key *cached_key(const char *encryption_key, int *path)
{
    const char *eff = (encryption_key && *encryption_key) ? encryption_key : AT_DEV_ENCRYPTION_KEY;
    for (size_t i = 0; i < n_key_cache; i++) {
        if (strcmp(key_cache[i].name, eff) == 0) {
            if (path)
                *path = key_cache[i].path;
            return &key_cache[i].key;
        }
    }
    assert_true(n_key_cache < sizeof key_cache / sizeof *key_cache);
    key_cache[n_key_cache].name = strdup(eff);
    key_cache[n_key_cache].path = at_fernet_key_derive(encryption_key, &key_cache[n_key_cache].key);
    assert_true(key_cache[n_key_cache].path >= 0);
    if (path)
        *path = key_cache[n_key_cache].path;
    return &key_cache[n_key_cache++].key;
}

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex);
    assert_true(n % 2 == 0 && n / 2 <= cap);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    return n / 2;
}

static const char *jstr(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(it))
        fail_msg("vector field %s missing or not a string", name);
    return it->valuestring;
}

/* masked: string or null */
static const char *jstr_or_null(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsNull(it))
        return NULL;
    if (!cJSON_IsString(it))
        fail_msg("vector field %s missing", name);
    return it->valuestring;
}

static int load_vectors(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/fernet_vectors.json", fixtures_dir);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        fclose(fp);
        free(buf);
        return -1;
    }
    fclose(fp);
    buf[n] = '\0';
    vectors = cJSON_Parse(buf);
    free(buf);
    return vectors ? 0 : -1;
}

static int free_vectors(void **state)
{
    (void)state;
    cJSON_Delete(vectors);
    for (size_t i = 0; i < n_key_cache; i++) {
        free(key_cache[i].name);
        at_fernet_key_wipe(&key_cache[i].key);
    }
    n_key_cache = 0;
    return 0;
}

static void check_mask_result(const char *got, const char *want, const char *what)
{
    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s: expected null mask", what);
    } else {
        if (got == NULL)
            fail_msg("%s: expected mask, got null", what);
        if (strcmp(got, want) != 0)
            fail_msg("%s: mask differs", what);
    }
}

static void test_key_derivation(void **state)
{
    (void)state;
    const cJSON *keysets = cJSON_GetObjectItemCaseSensitive(vectors, "keysets");
    assert_true(cJSON_GetArraySize(keysets) >= 5);
    const cJSON *ks;
    cJSON_ArrayForEach(ks, keysets)
    {
        int path = -1;
        const at_fernet_key *k = cached_key(jstr(ks, "encryption_key"), &path);
        unsigned char want[32];
        assert_int_equal(unhex(jstr(ks, "derived_key_hex"), want, sizeof want), 32);
        if (memcmp(k->signing, want, 16) != 0 || memcmp(k->aes, want + 16, 16) != 0)
            fail_msg("keyset %s: derived key differs", jstr(ks, "name"));
        const char *want_path = jstr(ks, "path");
        assert_int_equal(path, strcmp(want_path, "direct") == 0 ? 1 : 0);
    }
}

static void test_keyset_cases(void **state)
{
    (void)state;
    const cJSON *keysets = cJSON_GetObjectItemCaseSensitive(vectors, "keysets");
    const cJSON *ks;
    size_t n_cases = 0, n_encrypted = 0;
    cJSON_ArrayForEach(ks, keysets)
    {
        const at_fernet_key *k = cached_key(jstr(ks, "encryption_key"), NULL);
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(ks, "cases"))
        {
            char what[256];
            snprintf(what, sizeof what, "%s/%s", jstr(ks, "name"), jstr(cs, "name"));
            const char *stored = jstr(cs, "stored_ciphertext");
            unsigned char plain[1024];
            size_t plen = unhex(jstr(cs, "plaintext_utf8_hex"), plain, sizeof plain);
            bool ok = strcmp(jstr(cs, "expected"), "ok") == 0;

            size_t len = 99;
            char *got = at_secret_decrypt(k, stored, &len);
            if (!ok || *stored == '\0') {
                /* "" (and failures) decrypt to NULL */
                if (got)
                    fail_msg("%s: expected no plaintext", what);
            } else {
                if (!got)
                    fail_msg("%s: decrypt failed", what);
                assert_int_equal(len, plen);
                assert_memory_equal(got, plain, plen);
                assert_int_equal(got[len], '\0');
                at_secret_free(got, len);
            }

            char *masked = at_decrypt_and_mask(k, stored);
            check_mask_result(masked, jstr_or_null(cs, "masked"), what);
            free(masked);

            /* the mask of the plaintext itself agrees too */
            if (ok) {
                char *m2 = at_mask_key_n((const char *)plain, plen);
                check_mask_result(m2, jstr_or_null(cs, "masked"), what);
                free(m2);
            }

            const cJSON *ivj = cJSON_GetObjectItemCaseSensitive(cs, "iv_hex");
            const cJSON *tsj = cJSON_GetObjectItemCaseSensitive(cs, "timestamp");
            if (cJSON_IsString(ivj) && cJSON_IsNumber(tsj)) {
                unsigned char iv[16];
                assert_int_equal(unhex(ivj->valuestring, iv, sizeof iv), 16);
                char *enc = at_secret_encrypt(k, (const char *)plain, plen, iv,
                                              (uint64_t)tsj->valuedouble);
                assert_non_null(enc);
                if (strcmp(enc, stored) != 0)
                    fail_msg("%s: encrypt is not byte-identical to stored_ciphertext", what);
                free(enc);
                n_encrypted++;
            }
            n_cases++;
        }
    }
    assert_true(n_cases >= 50);
    assert_true(n_encrypted >= 45);
}

static void test_special_cases(void **state)
{
    (void)state;
    const cJSON *cs;
    size_t n = 0;
    cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(vectors, "special_cases"))
    {
        const char *what = jstr(cs, "name");
        const at_fernet_key *k = cached_key(jstr(cs, "encryption_key"), NULL);
        const char *stored = jstr(cs, "stored_ciphertext");
        bool ok = strcmp(jstr(cs, "expected"), "ok") == 0;
        size_t len = 99;
        char *got = at_secret_decrypt(k, stored, &len);
        if (!ok) {
            if (got)
                fail_msg("%s: expected decrypt to fail", what);
        } else if (*stored == '\0') {
            if (got)
                fail_msg("%s: empty stored value must give NULL", what);
        } else {
            const char *want = jstr(cs, "decrypted");
            if (!got)
                fail_msg("%s: decrypt failed", what);
            assert_int_equal(len, strlen(want));
            assert_string_equal(got, want);
            at_secret_free(got, len);
        }
        char *masked = at_decrypt_and_mask(k, stored);
        check_mask_result(masked, jstr_or_null(cs, "masked"), what);
        free(masked);
        n++;
    }
    assert_true(n >= 11);
}

static void check_mask(const char *in, const char *want)
{
    char *got = at_mask_key(in);
    check_mask_result(got, want, in ? in : "(null)");
    free(got);
}

static void test_mask(void **state)
{
    (void)state;
    check_mask("sk-jhiIdxxxxxxxxxxxAABB", "sk-jhiId********AABB");
    check_mask("sk-jhiId-xxxxxxxxxxxAABB", "sk-jhiId********AABB");
    check_mask(NULL, NULL);
    check_mask("", NULL);
    check_mask("a", "a********");
    check_mask("abcdefgh", "abcdefgh********");
    check_mask("123456789012", "12345678********");
    check_mask("1234567890123", "12345678********0123");
    /* code points, not bytes: 12 two-byte letters -> no suffix */
    check_mask("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
               "\xc3\xa9\xc3\xa9",
               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9********");
    /* 13 code points of which the last is a 4-byte emoji */
    check_mask("abcdefghijkl\xf0\x9f\x94\x91", "abcdefgh********jkl\xf0\x9f\x94\x91");
    /* invalid bytes count one code point each and are kept */
    check_mask("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
               "\xff\xff\xff\xff\xff\xff\xff\xff********\xff\xff\xff\xff");
    /* a NUL inside a known-length plaintext is one code point */
    char *m = at_mask_key_n("abcdefgh\0ijklmn", 15);
    assert_non_null(m);
    assert_memory_equal(m, "abcdefgh********klmn", 21);
    free(m);
    assert_null(at_mask_key_n("abc", 0));
}

static void test_derive_paths(void **state)
{
    (void)state;
    at_fernet_key a, b;
    /* NULL and "" are the development default */
    assert_int_equal(at_fernet_key_derive(NULL, &a), 0);
    int p;
    const at_fernet_key *dev = cached_key(AT_DEV_ENCRYPTION_KEY, &p);
    assert_int_equal(p, 0);
    assert_memory_equal(&a, dev, sizeof a);
    /* padded 44-char key with junk characters is still direct (lenient) */
    assert_int_equal(at_fernet_key_derive("9rHFUIFP44YNb3-JY8OI15Wd\nnWZJ1Ypy5hyrx4YYWo4=", &a), 1);
    assert_int_equal(at_fernet_key_derive("9rHFUIFP44YNb3-JY8OI15WdnWZJ1Ypy5hyrx4YYWo4=", &b), 1);
    assert_memory_equal(&a, &b, sizeof a);
    /* wrong length after decoding -> PBKDF2 */
    assert_int_equal(at_fernet_key_derive("c2hvcnQ=", &a), 0);
    /* non-ASCII -> PBKDF2 (Python's str decoder refuses it) */
    assert_int_equal(at_fernet_key_derive("9rHFUIFP44YNb3-JY8OI15WdnWZJ1Ypy5hyrx4YYWo4=\xc3\xa9", &a),
                     0);
    assert_int_equal(at_fernet_key_derive("x", NULL), -1);
    at_fernet_key_wipe(&a);
    at_fernet_key_wipe(&b);
}

static void test_roundtrip_and_tamper(void **state)
{
    (void)state;
    const at_fernet_key *k = cached_key(NULL, NULL);
    const char *plain = "sk-roundtrip-\xe5\xaf\x86\xe9\x92\xa5-0123456789abcdef";
    char *stored = at_secret_encrypt(k, plain, strlen(plain), NULL, 0);
    assert_non_null(stored);
    size_t len = 0;
    char *got = at_secret_decrypt(k, stored, &len);
    assert_non_null(got);
    assert_string_equal(got, plain);
    at_secret_free(got, len);

    /* random IVs: two encryptions differ */
    char *stored2 = at_secret_encrypt(k, plain, strlen(plain), NULL, 0);
    assert_non_null(stored2);
    assert_string_not_equal(stored, stored2);
    free(stored2);

    /* flip each character of the stored value in turn: it never decrypts to
     * something else (either fails, or the change was in padding bits) */
    size_t n = strlen(stored);
    for (size_t i = 0; i < n; i++) {
        char *t = strdup(stored);
        t[i] = (t[i] == 'A') ? 'B' : 'A';
        char *r = at_secret_decrypt(k, t, &len);
        if (r) {
            assert_string_equal(r, plain);
            at_secret_free(r, len);
        }
        free(t);
    }
    /* truncated values fail */
    for (size_t cut = 1; cut < n; cut += 7) {
        char *t = strndup(stored, n - cut);
        assert_null(at_secret_decrypt(k, t, &len));
        free(t);
    }
    free(stored);

    /* zero-byte plaintext: "" with length 0, and a NULL mask */
    stored = at_secret_encrypt(k, "", 0, NULL, 1764460800);
    assert_non_null(stored);
    got = at_secret_decrypt(k, stored, &len);
    assert_non_null(got);
    assert_int_equal(len, 0);
    assert_string_equal(got, "");
    at_secret_free(got, len);
    assert_null(at_decrypt_and_mask(k, stored));
    free(stored);

    /* non-UTF-8 plaintext does not decrypt */
    stored = at_secret_encrypt(k, "ab\xff", 3, NULL, 0);
    assert_non_null(stored);
    assert_null(at_secret_decrypt(k, stored, &len));
    free(stored);

    assert_null(at_secret_decrypt(k, NULL, &len));
    assert_null(at_secret_decrypt(k, "", &len));
    assert_null(at_decrypt_and_mask(k, NULL));
    at_secret_free(NULL, 0);
}

/* The PBKDF2 path against OpenSSL's own PKCS5_PBKDF2_HMAC, for keys the
 * vectors do not have: longer than SHA-256's 64-byte block (HMAC hashes
 * those first), exactly 64 bytes, and non-ASCII. */
static void test_pbkdf2_matches_openssl(void **state)
{
    (void)state;
    char long_key[101], block_key[65];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    memset(block_key, 'b', sizeof block_key - 1);
    block_key[sizeof block_key - 1] = '\0';
    const char *keys[] = {long_key, block_key, "p\xc3\xa4ssw\xc3\xb6rd", "short"};
    unsigned char salt[32];
    assert_true(EVP_Digest("aether-v1", 9, salt, NULL, EVP_sha256(), NULL));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        unsigned char want[32];
        assert_true(PKCS5_PBKDF2_HMAC(keys[i], (int)strlen(keys[i]), salt, 16, 100000, EVP_sha256(), 32, want));
        at_fernet_key got;
        assert_int_equal(at_fernet_key_derive(keys[i], &got), 0);
        assert_memory_equal(got.signing, want, 16);
        assert_memory_equal(got.aes, want + 16, 16);
    }
}

/* The digest a cache keeps instead of the key: SHA-256 of signing || aes,
 * different for different keys. */
static void test_key_digest(void **state)
{
    (void)state;
    at_fernet_key k1, k2;
    assert_int_equal(at_fernet_key_derive("first", &k1), 0);
    assert_int_equal(at_fernet_key_derive("second", &k2), 0);
    unsigned char raw[32], want[32];
    memcpy(raw, k1.signing, 16);
    memcpy(raw + 16, k1.aes, 16);
    assert_true(EVP_Digest(raw, sizeof raw, want, NULL, EVP_sha256(), NULL));
    uint8_t d1[32], d2[32];
    at_fernet_key_digest(&k1, d1);
    at_fernet_key_digest(&k2, d2);
    assert_memory_equal(d1, want, 32);
    assert_memory_not_equal(d1, d2, 32);
    assert_memory_not_equal(d1, raw, 32);
    at_fernet_key_wipe(&k1);
    at_fernet_key_wipe(&k2);
    /* the wipe-then-free helper takes NULL */
    at_wipe_free(NULL, 10);
    char *p = malloc(8);
    assert_non_null(p);
    memcpy(p, "secret!", 8);
    at_wipe_free(p, 8);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_derivation),
        cmocka_unit_test(test_keyset_cases),
        cmocka_unit_test(test_special_cases),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_derive_paths),
        cmocka_unit_test(test_roundtrip_and_tamper),
        cmocka_unit_test(test_pbkdf2_matches_openssl),
        cmocka_unit_test(test_key_digest),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
