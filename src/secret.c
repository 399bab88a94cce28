/* secret.c — owns the gateway's stored-secret format: Fernet key derivation
 * from ENCRYPTION_KEY, decrypting base64url(Fernet token) values, encrypting
 * them (simulator, tests), the single masked form a key may be shown in,
 * and wiping buffers that held a secret before they are freed.
 * All cryptography is OpenSSL's but PBKDF2, which is nettle's; nothing here prints a secret. */
#include "aethertop/secret.h"
#include "aethertop/config.h"
#include "aethertop/text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <nettle/hmac.h>
#include <nettle/pbkdf2.h>
#include <nettle/sha2.h>

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FERNET_VERSION 0x80
#define FERNET_HDR (1 + 8 + 16) /* version, timestamp, IV */
#define FERNET_MAC 32
#define PBKDF2_ITERATIONS 100000

/* ------------------------------------------------------------ base64 */

/* Python's base64.urlsafe_b64decode (binascii.a2b_base64, non-strict):
 * '-' '_' and '+' '/' are all accepted, bytes outside the alphabet are
 * skipped, '=' ends the data once a quantum is complete and is otherwise
 * ignored, and data that stops mid-quantum is an error ("Incorrect
 * padding"). Returns a malloc'd buffer (wiped by the caller) or NULL. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

static unsigned char *py_b64decode(const unsigned char *in, size_t inlen, size_t *outlen)
{
    unsigned char *out = malloc(inlen / 4 * 3 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    int quad = 0, pads = 0;
    unsigned int left = 0;
    bool done = false;
    for (size_t i = 0; i < inlen && !done; i++) {
        unsigned char c = in[i];
        if (c == '=') {
            if (quad >= 2 && quad + ++pads >= 4)
                done = true;
            continue;
        }
        int v = b64_value(c);
        if (v < 0)
            continue;
        pads = 0;
        switch (quad) {
        case 0:
            left = (unsigned)v;
            quad = 1;
            break;
        case 1:
            out[o++] = (unsigned char)((left << 2) | ((unsigned)v >> 4));
            left = (unsigned)v & 0x0F;
            quad = 2;
            break;
        case 2:
            out[o++] = (unsigned char)((left << 4) | ((unsigned)v >> 2));
            left = (unsigned)v & 0x03;
            quad = 3;
            break;
        default:
            out[o++] = (unsigned char)((left << 6) | (unsigned)v);
            left = 0;
            quad = 0;
            break;
        }
    }
    if (!done && quad != 0) {
        OPENSSL_cleanse(out, inlen / 4 * 3 + 4);
        free(out);
        return NULL;
    }
    *outlen = o;
    return out;
}

/* base64.urlsafe_b64encode: padded, '-' and '_'. malloc'd text. */
static char *b64url_encode(const unsigned char *in, size_t len)
{
    size_t cap = (len + 2) / 3 * 4 + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    if (len > 0x7fffffff) {
        free(out);
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    for (char *p = out; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
    return out;
}

void at_wipe_free(void *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

/* nettle's pbkdf2 keeps its running block (the derived bytes) in its own
 * stack frame, below its caller's: overwrite that stretch once it returned. */
__attribute__((noinline)) static void wipe_stack_below(void)
{
    unsigned char burn[8192];
    OPENSSL_cleanse(burn, sizeof burn);
}

/* ------------------------------------------------------------ keys */

int at_fernet_key_derive(const char *encryption_key, at_fernet_key *key)
{
    if (!key)
        return -1;
    const char *k = (encryption_key && *encryption_key) ? encryption_key : AT_DEV_ENCRYPTION_KEY;
    size_t klen = strlen(k);

    /* Fernet(k) accepts the string when it is ASCII and decodes (leniently)
     * to exactly 32 bytes. A non-ASCII str makes Python raise before any
     * decoding, so such a key takes the PBKDF2 path. */
    bool ascii = true;
    for (size_t i = 0; i < klen; i++) {
        if ((unsigned char)k[i] >= 0x80) {
            ascii = false;
            break;
        }
    }
    if (ascii) {
        size_t n = 0;
        unsigned char *raw = py_b64decode((const unsigned char *)k, klen, &n);
        if (raw && n == 32) {
            memcpy(key->signing, raw, 16);
            memcpy(key->aes, raw + 16, 16);
            at_wipe_free(raw, n);
            return 1;
        }
        if (raw)
            at_wipe_free(raw, n);
    }

    unsigned char salt_full[SHA256_DIGEST_LENGTH];
    static const char salt_text[] = "aether-v1";
    if (!EVP_Digest(salt_text, sizeof salt_text - 1, salt_full, NULL, EVP_sha256(), NULL))
        return -1;
    /* nettle's PBKDF2 (SHA-NI where the CPU has it) takes half the time of
     * OpenSSL 3's PKCS5_PBKDF2_HMAC here (13 ms vs 25 ms), and this runs at
     * every start; the HMAC state (the key's pads) is wiped afterwards */
    unsigned char out[32];
    struct hmac_sha256_ctx mac;
    hmac_sha256_set_key(&mac, klen, (const uint8_t *)k);
    pbkdf2(&mac, (nettle_hash_update_func *)hmac_sha256_update, (nettle_hash_digest_func *)hmac_sha256_digest,
           SHA256_DIGEST_SIZE, PBKDF2_ITERATIONS, 16, salt_full, sizeof out, out);
    wipe_stack_below();
    OPENSSL_cleanse(&mac, sizeof mac);
    memcpy(key->signing, out, 16);
    memcpy(key->aes, out + 16, 16);
    OPENSSL_cleanse(out, sizeof out);
    return 0;
}

void at_fernet_key_wipe(at_fernet_key *key)
{
    if (key)
        OPENSSL_cleanse(key, sizeof *key);
}

void at_fernet_key_digest(const at_fernet_key *key, uint8_t out[32])
{
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, sizeof key->signing, key->signing);
    sha256_update(&h, sizeof key->aes, key->aes);
    sha256_digest(&h, SHA256_DIGEST_SIZE, out);
    OPENSSL_cleanse(&h, sizeof h);
}

/* ------------------------------------------------------------ decrypt */

char *at_secret_decrypt(const at_fernet_key *key, const char *stored, size_t *len)
{
    if (len)
        *len = 0;
    if (!key || !stored || !*stored)
        return NULL;

    /* Both layers: Python's lenient decoding (bytes outside the alphabet,
     * non-ASCII included, are skipped). */
    size_t slen = strlen(stored);
    size_t tlen = 0, blen = 0;
    unsigned char *text = py_b64decode((const unsigned char *)stored, slen, &tlen);
    if (!text)
        return NULL;
    unsigned char *tok = py_b64decode(text, tlen, &blen);
    at_wipe_free(text, tlen);
    if (!tok)
        return NULL;

    char *plain = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    size_t ctlen;
    if (blen < FERNET_HDR + 16 + FERNET_MAC || tok[0] != FERNET_VERSION)
        goto out;
    ctlen = blen - FERNET_HDR - FERNET_MAC;
    if (ctlen % 16 != 0 || ctlen > (size_t)INT_MAX - 32)
        goto out;

    /* Authenticate before touching the ciphertext. */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key->signing, 16, tok, blen - FERNET_MAC, mac, &maclen) ||
        maclen != FERNET_MAC)
        goto out;
    if (CRYPTO_memcmp(mac, tok + blen - FERNET_MAC, FERNET_MAC) != 0)
        goto out;

    plain = malloc(ctlen + 16 + 1);
    if (!plain)
        goto out;
    ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    if (!ctx || !EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key->aes, tok + 9) ||
        !EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n1, tok + FERNET_HDR, (int)ctlen) ||
        !EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n1, &n2)) {
        at_wipe_free(plain, ctlen + 17);
        plain = NULL;
        goto out;
    }
    size_t plen = (size_t)n1 + (size_t)n2;
    plain[plen] = '\0';
    if (!at_utf8_valid(plain, plen)) {
        at_wipe_free(plain, ctlen + 17);
        plain = NULL;
        goto out;
    }
    if (len)
        *len = plen;
out:
    EVP_CIPHER_CTX_free(ctx);
    at_wipe_free(tok, blen);
    return plain;
}

/* ------------------------------------------------------------ encrypt */

char *at_secret_encrypt(const at_fernet_key *key, const char *plaintext, size_t len,
                        const uint8_t *iv, uint64_t timestamp)
{
    if (!key || (!plaintext && len) || len > 0x7fffff00)
        return NULL;
    size_t ctlen = (len / 16 + 1) * 16;
    size_t blen = FERNET_HDR + ctlen + FERNET_MAC;
    unsigned char *tok = malloc(blen);
    if (!tok)
        return NULL;
    char *text = NULL, *stored = NULL;
    EVP_CIPHER_CTX *ctx = NULL;

    if (timestamp == 0)
        timestamp = (uint64_t)time(NULL);
    tok[0] = FERNET_VERSION;
    for (int i = 0; i < 8; i++)
        tok[1 + i] = (unsigned char)(timestamp >> (56 - 8 * i));
    if (iv)
        memcpy(tok + 9, iv, 16);
    else if (RAND_bytes(tok + 9, 16) != 1)
        goto out;

    ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key->aes, tok + 9) ||
        !EVP_EncryptUpdate(ctx, tok + FERNET_HDR, &n1, (const unsigned char *)plaintext,
                           (int)len) ||
        !EVP_EncryptFinal_ex(ctx, tok + FERNET_HDR + n1, &n2) ||
        (size_t)n1 + (size_t)n2 != ctlen)
        goto out;

    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key->signing, 16, tok, blen - FERNET_MAC, tok + blen - FERNET_MAC,
              &maclen) ||
        maclen != FERNET_MAC)
        goto out;

    text = b64url_encode(tok, blen);
    if (text)
        stored = b64url_encode((const unsigned char *)text, strlen(text));
out:
    EVP_CIPHER_CTX_free(ctx);
    if (text)
        at_wipe_free(text, strlen(text));
    at_wipe_free(tok, blen);
    return stored;
}

/* ------------------------------------------------------------ masking */

/* Byte offset just past the first `n` code points of s (invalid bytes
 * count as one code point each). */
static size_t cp_offset(const char *s, size_t len, size_t n)
{
    size_t i = 0;
    while (n > 0 && i < len) {
        uint32_t cp;
        i += at_utf8_decode(s + i, len - i, &cp);
        n--;
    }
    return i;
}

char *at_mask_key_n(const char *key, size_t len)
{
    if (!key || len == 0)
        return NULL;
    size_t count = 0;
    for (size_t i = 0; i < len; count++) {
        uint32_t cp;
        i += at_utf8_decode(key + i, len - i, &cp);
    }
    size_t head = cp_offset(key, len, 8);
    size_t tail_start = len;
    if (count > 12)
        tail_start = cp_offset(key, len, count - 4);
    size_t tail = len - tail_start;
    char *out = malloc(head + 8 + tail + 1);
    if (!out)
        return NULL;
    memcpy(out, key, head);
    memcpy(out + head, "********", 8);
    memcpy(out + head + 8, key + tail_start, tail);
    out[head + 8 + tail] = '\0';
    return out;
}

char *at_mask_key(const char *key)
{
    return key ? at_mask_key_n(key, strlen(key)) : NULL;
}

char *at_decrypt_and_mask(const at_fernet_key *key, const char *stored)
{
    if (!stored || !*stored)
        return NULL;
    size_t len = 0;
    char *plain = at_secret_decrypt(key, stored, &len);
    if (!plain)
        return NULL;
    char *masked = at_mask_key_n(plain, len);
    at_secret_free(plain, len);
    return masked;
}

void at_secret_free(char *s, size_t len)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (len > n)
        n = len;
    OPENSSL_cleanse(s, n + 1);
    free(s);
}
