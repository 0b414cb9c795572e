/*
 * tf_crypto - random tokens and digests for credentials (libsodium).
 */
#ifndef TF_CRYPTO_H
#define TF_CRYPTO_H

#include <stddef.h>

/* Writes `nbytes` random bytes as lower-case hex plus NUL into out (2*nbytes+1). */
void tf_crypto_random_hex(char *out, size_t nbytes);

/*
 * SHA-256 of s as a PostgreSQL bytea literal "\x<64 hex>" (out: 67 bytes).
 * For high-entropy secrets (API keys, refresh tokens) only; passwords use
 * argon2id.
 */
void tf_crypto_sha256_bytea(const char *s, size_t len, char out[67]);

#endif
