/* fuzz_fernet.c — libFuzzer target for the stored-secret format
 * (base64url(Fernet token)) and masking: at_secret_decrypt,
 * at_decrypt_and_mask, at_mask_key / at_mask_key_n, at_secret_encrypt, and
 * at_fernet_key_derive. The working key is derived once, from a short
 * ENCRYPTION_KEY (the PBKDF2 path: 100,000 iterations, too slow per input).
 *
 * The first input byte picks what the rest is:
 *   0  a stored value as the database holds it (arbitrary text)
 *   1  a token body (timestamp, IV, ciphertext) that the target signs with
 *      the working key, so decryption, padding and UTF-8 checks are reached
 *   2  a plaintext to mask
 *   3  a plaintext for an encrypt/decrypt round trip
 *   4  an ENCRYPTION_KEY: derived only when it has the shape of a Fernet key
 *      (43 base64url characters and '='), i.e. on the fast direct path */
#include "aethertop/secret.h"
#include "aethertop/text.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_util.h"

static at_fernet_key g_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    at_fernet_key again;
    FZ_CHECK(at_fernet_key_derive("k3y", &g_key) == 0);          /* short: PBKDF2 */
    FZ_CHECK(at_fernet_key_derive("k3y", &again) == 0);
    FZ_CHECK(memcmp(&g_key, &again, sizeof again) == 0);          /* deterministic */
    return 0;
}

/* base64.urlsafe_b64encode (padded). */
static char *b64url(const unsigned char *in, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out) abort();
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    for (char *p = out; *p; p++) *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static size_t code_points(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; c++) {
        uint32_t cp;
        i += at_utf8_decode(s + i, n - i, &cp);
    }
    return c;
}

static void check_plain(char *plain, size_t len)
{
    if (!plain) return;
    FZ_CHECK(at_utf8_valid(plain, len));
    at_secret_free(plain, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int mode = data[0] % 5;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    char *text = fz_dup(in, n);
    size_t len = 0;

    switch (mode) {
    case 0: {
        check_plain(at_secret_decrypt(&g_key, text, &len), len);
        char *m = at_decrypt_and_mask(&g_key, text);
        if (m) FZ_CHECK(strstr(m, "********") != NULL);
        free(m);
        break;
    }
    case 1: {
        /* 0x80 | body | HMAC-SHA256(signing key) — ciphertext cut to whole blocks */
        size_t body = n;
        if (body > 24 + 16) body = 24 + (body - 24) / 16 * 16;
        size_t tlen = 1 + body + 32;
        unsigned char *tok = malloc(tlen);
        if (!tok) abort();
        tok[0] = 0x80;
        if (body) memcpy(tok + 1, in, body);
        unsigned int maclen = 0;
        FZ_CHECK(HMAC(EVP_sha256(), g_key.signing, 16, tok, 1 + body, tok + 1 + body, &maclen) && maclen == 32);
        char *inner = b64url(tok, tlen);
        char *stored = b64url((unsigned char *)inner, strlen(inner));
        char *plain = at_secret_decrypt(&g_key, stored, &len);
        if (plain) FZ_CHECK(body >= 24 + 16 && len < body - 24);
        check_plain(plain, len);
        free(stored);
        free(inner);
        free(tok);
        break;
    }
    case 2: {
        char *m = at_mask_key_n(text, n);
        FZ_CHECK((m == NULL) == (n == 0));
        /* (a plaintext holding NUL shows only up to it: the mask is a C string) */
        if (m && !memchr(text, 0, n)) {
            FZ_CHECK(strstr(m, "********") != NULL);
            if (at_utf8_valid(text, n)) {
                /* first 8 code points + 8 stars (+ last 4 when there are more than 12) */
                size_t cps = code_points(text, n);
                size_t head = code_points(m, strlen(m));
                FZ_CHECK(head == (cps < 8 ? cps : 8) + 8 + (cps > 12 ? 4 : 0));
            }
        }
        free(m);
        m = at_mask_key(text);
        free(m);
        break;
    }
    case 3: {
        static const uint8_t iv[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        char *stored = at_secret_encrypt(&g_key, text, n, iv, 1700000000);
        FZ_CHECK(stored != NULL);
        char *plain = at_secret_decrypt(&g_key, stored, &len);
        if (at_utf8_valid(text, n)) {
            FZ_CHECK(plain && len == n && memcmp(plain, text, n) == 0);
        } else {
            FZ_CHECK(plain == NULL);
        }
        at_secret_free(plain, len);
        free(stored);
        break;
    }
    default: {
        if (n != 44 || text[43] != '=') break;
        for (size_t i = 0; i < 43; i++) {
            char c = text[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                goto done;
        }
        at_fernet_key k;
        FZ_CHECK(at_fernet_key_derive(text, &k) == 1);
        /* the key is the decoded string itself */
        unsigned char raw[33];
        char std[45];
        memcpy(std, text, 45);
        for (char *p = std; *p; p++) *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        FZ_CHECK(EVP_DecodeBlock(raw, (unsigned char *)std, 44) == 33);
        FZ_CHECK(memcmp(k.signing, raw, 16) == 0 && memcmp(k.aes, raw + 16, 16) == 0);
        at_fernet_key_wipe(&k);
        break;
    }
    }
done:
    free(text);
    return 0;
}
