/*
 * tf_jwt.c - see tf_jwt.h.
 */
#include "tf_jwt.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEEWAY 30             /* seconds of clock skew tolerated */
#define MAX_TOKEN 8192

struct tf_jwt_keys {
    jwt_alg_t alg;
    char alg_name[8];
    unsigned char *sign_key, *verify_key;
    size_t sign_len, verify_len;
    char issuer[256];
};

static unsigned char *dup_bytes(const char *s, size_t *len)
{
    *len = strlen(s);
    unsigned char *b = malloc(*len + 1);
    memcpy(b, s, *len + 1);
    return b;
}

tf_jwt_keys_t *tf_jwt_keys_new(const char *alg, const char *secret, const char *private_pem, const char *public_pem,
                               const char *issuer, char *err, size_t errlen)
{
    tf_jwt_keys_t *k = calloc(1, sizeof(*k));
    snprintf(k->issuer, sizeof(k->issuer), "%s", issuer != NULL ? issuer : "");
    if (alg != NULL && strcmp(alg, "HS256") == 0) {
        if (secret == NULL || strlen(secret) < 32) {
            snprintf(err, errlen, "HS256 needs a secret of at least 32 bytes");
            goto fail;
        }
        k->alg = JWT_ALG_HS256;
        k->sign_key = dup_bytes(secret, &k->sign_len);
        k->verify_key = dup_bytes(secret, &k->verify_len);
    } else if (alg != NULL && (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0)) {
        if (public_pem == NULL) {
            snprintf(err, errlen, "%s needs a public key file (PEM)", alg);
            goto fail;
        }
        k->alg = alg[0] == 'R' ? JWT_ALG_RS256 : JWT_ALG_ES256;
        k->verify_key = dup_bytes(public_pem, &k->verify_len);
        if (private_pem != NULL)
            k->sign_key = dup_bytes(private_pem, &k->sign_len);
    } else {
        snprintf(err, errlen, "jwt_alg '%s' is not one of HS256, RS256, ES256", alg != NULL ? alg : "");
        goto fail;
    }
    snprintf(k->alg_name, sizeof(k->alg_name), "%s", alg);
    return k;
fail:
    tf_jwt_keys_free(k);
    return NULL;
}

void tf_jwt_keys_free(tf_jwt_keys_t *k)
{
    if (k == NULL)
        return;
    if (k->sign_key != NULL)
        sodium_memzero(k->sign_key, k->sign_len);
    if (k->verify_key != NULL)
        sodium_memzero(k->verify_key, k->verify_len);
    free(k->sign_key);
    free(k->verify_key);
    free(k);
}

char *tf_jwt_sign(const tf_jwt_keys_t *k, const char *sub, const char *tier, int admin, long ttl_seconds, long long now)
{
    if (k == NULL || k->sign_key == NULL)
        return NULL;
    jwt_t *j = NULL;
    char jti[33];
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(jti, sizeof(jti), rnd, sizeof(rnd));
    char *out = NULL;
    if (jwt_new(&j) == 0 && jwt_add_grant(j, "iss", k->issuer) == 0 && jwt_add_grant(j, "sub", sub) == 0 &&
        jwt_add_grant(j, "tier", tier) == 0 && jwt_add_grant_bool(j, "adm", admin) == 0 && jwt_add_grant(j, "jti", jti) == 0 &&
        jwt_add_grant_int(j, "iat", (long)now) == 0 && jwt_add_grant_int(j, "nbf", (long)now) == 0 &&
        jwt_add_grant_int(j, "exp", (long)(now + ttl_seconds)) == 0 && jwt_set_alg(j, k->alg, k->sign_key, (int)k->sign_len) == 0)
        out = jwt_encode_str(j);
    jwt_free(j);
    return out;
}

static int why_(char *why, size_t whylen, const char *s)
{
    snprintf(why, whylen, "%s", s);
    return -1;
}

/* The header's "alg", read without trusting anything else in the token. */
static int header_alg(const char *token, size_t len, char *alg, size_t alglen)
{
    const char *dot = memchr(token, '.', len);
    if (dot == NULL || dot == token)
        return -1;
    unsigned char buf[1024];
    size_t n = 0;
    if (sodium_base642bin(buf, sizeof(buf) - 1, token, (size_t)(dot - token), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    json_t *h = json_loadb((const char *)buf, n, 0, NULL);
    const char *a = json_string_value(json_object_get(h, "alg"));
    int rc = -1;
    if (a != NULL && strlen(a) < alglen) {
        memcpy(alg, a, strlen(a) + 1);
        rc = 0;
    }
    json_decref(h);
    return rc;
}

int tf_jwt_verify(const tf_jwt_keys_t *k, const char *token, size_t len, long long now, tf_jwt_claims_t *out, char *why,
                  size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (k == NULL)
        return why_(why, whylen, "token authentication is not configured");
    if (len == 0 || len > MAX_TOKEN || memchr(token, '\0', len) != NULL)
        return why_(why, whylen, "malformed token");
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        char c = token[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return why_(why, whylen, "malformed token");
    }
    if (dots != 2 || token[len - 1] == '.')
        return why_(why, whylen, "malformed token");
    char alg[16];
    if (header_alg(token, len, alg, sizeof(alg)) != 0)
        return why_(why, whylen, "malformed token header");
    if (strcmp(alg, k->alg_name) != 0)
        return why_(why, whylen, "wrong algorithm");

    char *t = malloc(len + 1);
    memcpy(t, token, len);
    t[len] = '\0';
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, t, k->verify_key, (int)k->verify_len);
    free(t);
    if (rc != 0 || j == NULL || jwt_get_alg(j) != k->alg) {
        jwt_free(j);
        return why_(why, whylen, "bad signature");
    }
    int res = -1;
    const char *iss = jwt_get_grant(j, "iss"), *sub = jwt_get_grant(j, "sub"), *tier = jwt_get_grant(j, "tier");
    const char *jti = jwt_get_grant(j, "jti");
    errno = 0;
    long long exp = jwt_get_grant_int(j, "exp");
    int has_exp = errno == 0;
    errno = 0;
    long long nbf = jwt_get_grant_int(j, "nbf");
    int has_nbf = errno == 0;
    errno = 0;
    long long iat = jwt_get_grant_int(j, "iat");
    int has_iat = errno == 0;
    if (iss == NULL || strcmp(iss, k->issuer) != 0)
        why_(why, whylen, "wrong issuer");
    else if (!has_exp || !has_iat)
        why_(why, whylen, "missing claim exp or iat");
    else if (exp <= now - LEEWAY)
        why_(why, whylen, "expired");
    else if ((has_nbf && nbf > now + LEEWAY) || iat > now + LEEWAY)
        why_(why, whylen, "not yet valid");
    else if (sub == NULL || sub[0] == '\0' || strlen(sub) >= sizeof(out->sub))
        why_(why, whylen, "missing claim sub");
    else if (tier == NULL || strlen(tier) >= sizeof(out->tier))
        why_(why, whylen, "missing claim tier");
    else {
        snprintf(out->sub, sizeof(out->sub), "%s", sub);
        snprintf(out->tier, sizeof(out->tier), "%s", tier);
        snprintf(out->jti, sizeof(out->jti), "%s", jti != NULL ? jti : "");
        out->iat = iat;
        out->nbf = has_nbf ? nbf : iat;
        out->exp = exp;
        out->admin = jwt_get_grant_bool(j, "adm") == 1;
        res = 0;
    }
    jwt_free(j);
    return res;
}
