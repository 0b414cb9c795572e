/*
 * tf_jwt - access tokens (JSON Web Tokens) with a pinned algorithm.
 *
 * libjwt 1.10 signs and checks signatures but validates no claims, and
 * jwt_decode trusts the algorithm named in the token's own header. So the
 * header's "alg" is compared with the configured one before libjwt sees the
 * token, and iss, exp, nbf, iat, sub and tier are checked here. Pure CPU:
 * safe on event-loop threads; keys are immutable and shared by all threads.
 */
#ifndef TF_JWT_H
#define TF_JWT_H

#include <stddef.h>

typedef struct tf_jwt_keys tf_jwt_keys_t;

/*
 * alg: "HS256" (secret of at least 32 bytes), "RS256" or "ES256" (PEM
 * private key to sign, PEM public key to verify; verify-only without the
 * private key). NULL with a reason in err on failure.
 */
tf_jwt_keys_t *tf_jwt_keys_new(const char *alg, const char *secret, const char *private_pem, const char *public_pem,
                               const char *issuer, char *err, size_t errlen);
void tf_jwt_keys_free(tf_jwt_keys_t *k);

typedef struct tf_jwt_claims {
    char sub[128];
    char tier[32];
    char jti[64];
    long long iat, nbf, exp;
    int admin;
} tf_jwt_claims_t;

/* An access token for `sub`, valid from now for ttl_seconds; malloc'd, or NULL. */
char *tf_jwt_sign(const tf_jwt_keys_t *k, const char *sub, const char *tier, int admin, long ttl_seconds, long long now);

/* 0 and *out filled, or -1 with a short reason (never the token) in why. */
int tf_jwt_verify(const tf_jwt_keys_t *k, const char *token, size_t token_len, long long now, tf_jwt_claims_t *out, char *why,
                  size_t whylen);

#endif
