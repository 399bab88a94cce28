/* secret.h — the gateway's stored-secret format (Fernet token, base64url'd a
 * second time) and the one masked form a key may ever be shown in. */
#ifndef AETHERTOP_SECRET_H
#define AETHERTOP_SECRET_H

#include <stddef.h>
#include <stdint.h>

typedef struct at_fernet_key {
    uint8_t signing[16];
    uint8_t aes[16];
} at_fernet_key;

/* Derive the Fernet key from ENCRYPTION_KEY the way the gateway does:
 * the string itself when it is a valid Fernet key (32 bytes base64url,
 * padded; '+' '/' accepted), else PBKDF2-HMAC-SHA256 (salt sha256("aether-v1")[:16],
 * 100000 iterations). NULL or "" means the development default.
 * Returns 1 when the direct path was taken, 0 for PBKDF2, -1 on failure. */
int at_fernet_key_derive(const char *encryption_key, at_fernet_key *key);

/* Decrypt a stored value (base64url(fernet token)). Returns a malloc'd
 * NUL-terminated plaintext (length in *len) or NULL when it does not decrypt
 * (bad base64, bad HMAC, bad padding, not UTF-8). "" decrypts to NULL too. */
char *at_secret_decrypt(const at_fernet_key *key, const char *stored, size_t *len);

/* Encrypt plaintext into the stored form (used by the simulator and tests).
 * iv may be NULL (random). timestamp 0 = now. Returns malloc'd string. */
char *at_secret_encrypt(const at_fernet_key *key, const char *plaintext, size_t len,
                        const uint8_t *iv, uint64_t timestamp);

/* mask_api_key: first 8 code points + "********" + last 4 code points; 12 code
 * points or fewer -> first 8 + "********"; NULL or "" -> NULL. malloc'd. */
char *at_mask_key(const char *key);

/* at_mask_key for a plaintext of known length (it may hold NUL bytes). */
char *at_mask_key_n(const char *key, size_t len);

/* decrypt_and_mask: NULL when the stored value is empty or does not decrypt. */
char *at_decrypt_and_mask(const at_fernet_key *key, const char *stored);

/* Wipe and free a plaintext secret. */
void at_secret_free(char *s, size_t len);

/* Wipe a derived key (OPENSSL_cleanse). */
void at_fernet_key_wipe(at_fernet_key *key);

/* SHA-256 of a derived key: lets a cache tell keys apart without keeping
 * one. */
void at_fernet_key_digest(const at_fernet_key *key, uint8_t out[32]);

/* Wipe n bytes at p, then free p (NULL is fine). For any buffer that held
 * a secret: passwords, commands carrying them, files holding them. */
void at_wipe_free(void *p, size_t n);

#endif
