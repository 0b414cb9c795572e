/*
 * tf_jwt - access tokens (JSON Web Tokens) with a pinned algorithm.
 *
 * libjwt 1.10 signs and checks signatures but validates no claims, and
 * jwt_decode trusts the algorithm named in the token's own header (matched
 * case-insensitively, so "hs256" and "None" are algorithms to it). So the
 * header is parsed here and its "alg" compared byte for byte with the
 * configured one before libjwt sees the token, and the claims are read here
 * with their JSON types checked (libjwt reads "iat":"x" as 0).
 *
 * Pure CPU, no I/O, no clock: the caller passes `now`. Safe on event-loop
 * threads. A key set is immutable once made and shared by all threads.
 */
#ifndef TF_JWT_H
#define TF_JWT_H

#include <stddef.h>

/* Seconds of clock skew tolerated on exp, nbf and iat. */
enum { TF_JWT_LEEWAY = 30, TF_JWT_MAX_TOKEN = 8192 };

typedef struct tf_jwt_keys tf_jwt_keys_t;

/*
 * alg is exactly "HS256", "RS256" or "ES256".
 *   HS256: secret of at least 32 bytes; no PEM keys.
 *   RS256 / ES256: public_pem (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY") to
 *   verify, and private_pem to sign; without private_pem the set can only
 *   verify. RSA keys must have at least 2048 bits, EC keys be P-256, the two
 *   must be a pair, and encrypted private keys are refused (rather than
 *   OpenSSL prompting on the terminal). A secret is ignored.
 * issuer is required (non-empty); it goes into "iss" and must match on
 * verify. Returns NULL with a reason (never key material) in err.
 */
tf_jwt_keys_t *tf_jwt_keys_new(const char *alg, const char *secret, const char *private_pem, const char *public_pem,
                               const char *issuer, char *err, size_t errlen);
void tf_jwt_keys_free(tf_jwt_keys_t *k);

typedef struct tf_jwt_claims {
    char sub[128]; /* user id (uuid text) */
    char tier[32];
    char jti[64];  /* token id; "" when the token has none */
    long long iat, nbf, exp;
    int admin;     /* "adm": true */
} tf_jwt_claims_t;

/*
 * An access token with iss, sub, tier, adm, jti (128 random bits, hex),
 * iat = nbf = now, exp = now + ttl_seconds. malloc'd (free it), or NULL when
 * the set cannot sign, sub or tier is empty or would not fit in
 * tf_jwt_claims_t, ttl_seconds <= 0, or the random source fails.
 */
char *tf_jwt_sign(const tf_jwt_keys_t *k, const char *sub, const char *tier, int admin, long ttl_seconds, long long now);

/*
 * Verifies token[0..token_len) (need not be NUL-terminated). Returns 0 and
 * fills *out, or -1 with *out zeroed and a short reason in why, such as
 * "malformed token", "wrong algorithm", "bad signature", "wrong issuer",
 * "expired", "not yet valid", "issued in the future", "missing claim sub".
 * The reason never contains the token or any part of it.
 */
int tf_jwt_verify(const tf_jwt_keys_t *k, const char *token, size_t token_len, long long now, tf_jwt_claims_t *out, char *why,
                  size_t whylen);

#endif
