/*
 * tf_crypto.c - see tf_crypto.h.
 */
#include "tf_crypto.h"

#include <sodium.h>
#include <string.h>

void tf_crypto_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof(buf))
        nbytes = sizeof(buf);
    randombytes_buf(buf, nbytes);
    sodium_bin2hex(out, 2 * nbytes + 1, buf, nbytes);
    sodium_memzero(buf, sizeof(buf));
}

void tf_crypto_sha256_bytea(const char *s, size_t len, char out[67])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)s, len);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, d, sizeof(d));
}
