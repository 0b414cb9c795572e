/*
 * tf_jwt unit test: round trips for HS256, RS256 and ES256, and a suite of
 * hostile tokens that must all be refused with the right reason.
 */
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_jwt.h"

static int n, failed;

/* Every fixture string is kept here and freed at the end. */
static void *kept[64];
static int nkept;

static void *keep(void *p)
{
    if (nkept < 64)
        kept[nkept++] = p;
    return p;
}
static const long long NOW = 1800000000LL;
static const char *SECRET = "0123456789abcdef0123456789abcdef-secret";
static const char *SUB = "6838ae56-fda5-4d5d-b499-29a816863113";

static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

static int refused(const tf_jwt_keys_t *k, const char *tok, const char *reason, const char *desc)
{
    tf_jwt_claims_t cl;
    char why[128] = "";
    int rc = tf_jwt_verify(k, tok, strlen(tok), NOW, &cl, why, sizeof(why));
    int good = rc == -1 && strstr(why, reason) != NULL && (strlen(tok) < 8 || strstr(why, tok) == NULL);
    if (!good)
        printf("# rc=%d why=%s\n", rc, why);
    ok(good, desc);
    return good;
}

static char *b64url(const char *s)
{
    size_t len = strlen(s), cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = keep(malloc(cap));
    sodium_bin2base64(out, cap, (const unsigned char *)s, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* A token made with libjwt directly: any alg, any claims, any key. */
static char *forge(jwt_alg_t alg, const unsigned char *key, int keylen, const char *iss, const char *sub, const char *tier, long long iat,
                   long long nbf, long long exp)
{
    jwt_t *j;
    jwt_new(&j);
    if (iss)
        jwt_add_grant(j, "iss", iss);
    if (sub)
        jwt_add_grant(j, "sub", sub);
    if (tier)
        jwt_add_grant(j, "tier", tier);
    jwt_add_grant_int(j, "iat", (long)iat);
    jwt_add_grant_int(j, "nbf", (long)nbf);
    jwt_add_grant_int(j, "exp", (long)exp);
    jwt_set_alg(j, alg, key, keylen);
    char *t = keep(jwt_encode_str(j));
    jwt_free(j);
    return t;
}

static void pem_pair(int type, char **priv, char **pub)
{
    EVP_PKEY *pk = type == EVP_PKEY_RSA ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    char *d;
    long l = BIO_get_mem_data(b, &d);
    *priv = keep(strndup(d, (size_t)l));
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk);
    l = BIO_get_mem_data(b, &d);
    *pub = keep(strndup(d, (size_t)l));
    BIO_free(b);
    EVP_PKEY_free(pk);
}

int main(void)
{
    char err[256];
    if (sodium_init() < 0)
        return 1;
    ok(tf_jwt_keys_new("HS256", "short", NULL, NULL, "tf", err, sizeof(err)) == NULL && strstr(err, "32 bytes"),
       "HS256 refuses a secret under 32 bytes");
    ok(tf_jwt_keys_new("none", SECRET, NULL, NULL, "tf", err, sizeof(err)) == NULL, "alg none cannot be configured");
    ok(tf_jwt_keys_new("HS512", SECRET, NULL, NULL, "tf", err, sizeof(err)) == NULL, "unknown alg refused");

    tf_jwt_keys_t *hs = tf_jwt_keys_new("HS256", SECRET, NULL, NULL, "tf", err, sizeof(err));
    ok(hs != NULL, "HS256 keys");
    char *t = keep(tf_jwt_sign(hs, SUB, "pro", 1, 900, NOW));
    tf_jwt_claims_t cl;
    char why[128];
    ok(t != NULL && tf_jwt_verify(hs, t, strlen(t), NOW, &cl, why, sizeof(why)) == 0, "HS256 round trip");
    ok(!strcmp(cl.sub, SUB) && !strcmp(cl.tier, "pro") && cl.admin == 1 && cl.iat == NOW && cl.exp == NOW + 900 && strlen(cl.jti) == 32,
       "claims parsed");
    ok(tf_jwt_verify(hs, t, strlen(t), NOW + 900 + 10, &cl, why, sizeof(why)) == 0, "leeway: expired 10 s ago still accepted");
    {
        tf_jwt_claims_t c2;
        ok(tf_jwt_verify(hs, t, strlen(t), NOW + 960, &c2, why, sizeof(why)) == -1 && strstr(why, "expired"),
           "leeway: expired 60 s ago refused");
    }

    /* alg none, with and without a signature part */
    char *h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    char payload[512];
    snprintf(payload, sizeof(payload), "{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"unlimited\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", SUB,
             NOW, NOW, NOW + 900);
    char *p = b64url(payload), tok[4096];
    snprintf(tok, sizeof(tok), "%s.%s.", h, p);
    refused(hs, tok, "malformed", "alg none without signature");
    snprintf(tok, sizeof(tok), "%s.%s.c2ln", h, p);
    refused(hs, tok, "wrong algorithm", "alg none with a signature");

    char *t512 = forge(JWT_ALG_HS512, (const unsigned char *)SECRET, (int)strlen(SECRET), "tf", SUB, "pro", NOW, NOW, NOW + 900);
    refused(hs, t512, "wrong algorithm", "HS512 token to an HS256 verifier");
    char *twrong = forge(JWT_ALG_HS256, (const unsigned char *)"another-secret-another-secret-xx", 32, "tf", SUB, "pro", NOW, NOW,
                         NOW + 900);
    refused(hs, twrong, "bad signature", "signed with another secret");
    char *tiss = forge(JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET), "evil", SUB, "pro", NOW, NOW, NOW + 900);
    refused(hs, tiss, "wrong issuer", "wrong issuer");
    char *tnbf = forge(JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET), "tf", SUB, "pro", NOW, NOW + 3600, NOW + 7200);
    refused(hs, tnbf, "not yet valid", "nbf in the future");
    char *tiat = forge(JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET), "tf", SUB, "pro", NOW + 3600, NOW, NOW + 7200);
    refused(hs, tiat, "not yet valid", "iat in the future");
    char *tsub = forge(JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET), "tf", NULL, "pro", NOW, NOW, NOW + 900);
    refused(hs, tsub, "sub", "missing sub");
    char *ttier = forge(JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET), "tf", SUB, NULL, NOW, NOW, NOW + 900);
    refused(hs, ttier, "tier", "missing tier");

    /* tampering */
    char *mod = keep(strdup(t));
    mod[strlen(mod) - 2] = mod[strlen(mod) - 2] == 'A' ? 'B' : 'A';
    refused(hs, mod, "bad signature", "flipped signature character");
    char *dot = strchr(t, '.');
    snprintf(tok, sizeof(tok), "%.*s.%s%s", (int)(dot - t), t, b64url("{\"iss\":\"tf\",\"sub\":\"x\",\"tier\":\"unlimited\",\"iat\":1,\"exp\":9999999999}"),
             strrchr(t, '.'));
    refused(hs, tok, "bad signature", "payload swapped, signature kept");

    /* garbage */
    refused(hs, "", "malformed", "empty");
    refused(hs, ".", "malformed", "a dot");
    refused(hs, "a.b", "malformed", "two parts");
    refused(hs, "a.b.c.d", "malformed", "four parts");
    refused(hs, "ab!c.de$f.gh", "malformed", "non-base64url characters");
    char *big = keep(malloc(10241));
    memset(big, 'a', 10240);
    big[10240] = 0;
    big[100] = '.';
    big[200] = '.';
    refused(hs, big, "malformed", "10 KiB token");
    snprintf(tok, sizeof(tok), "%s.%s.abc", b64url("not json"), p);
    refused(hs, tok, "malformed", "header is not JSON");
    snprintf(tok, sizeof(tok), "%s.%s.abc", b64url("{\"alg\":\"HS256\"}"), b64url("[1,2,3]"));
    refused(hs, tok, "bad signature", "payload is a JSON array");

    /* RS256 and ES256, and the HS/RS confusion */
    char *rpriv, *rpub, *epriv, *epub;
    pem_pair(EVP_PKEY_RSA, &rpriv, &rpub);
    pem_pair(EVP_PKEY_EC, &epriv, &epub);
    tf_jwt_keys_t *rs = tf_jwt_keys_new("RS256", NULL, rpriv, rpub, "tf", err, sizeof(err));
    tf_jwt_keys_t *es = tf_jwt_keys_new("ES256", NULL, epriv, epub, "tf", err, sizeof(err));
    ok(rs != NULL && es != NULL, "RS256 and ES256 keys");
    char *trs = keep(tf_jwt_sign(rs, SUB, "pro", 0, 900, NOW)), *tes = keep(tf_jwt_sign(es, SUB, "pro", 0, 900, NOW));
    ok(trs && tf_jwt_verify(rs, trs, strlen(trs), NOW, &cl, why, sizeof(why)) == 0, "RS256 round trip");
    ok(tes && tf_jwt_verify(es, tes, strlen(tes), NOW, &cl, why, sizeof(why)) == 0, "ES256 round trip");
    char *confused = forge(JWT_ALG_HS256, (const unsigned char *)rpub, (int)strlen(rpub), "tf", SUB, "unlimited", NOW, NOW, NOW + 900);
    refused(rs, confused, "wrong algorithm", "HS/RS confusion: HS256 signed with the RSA public key");
    refused(hs, trs, "wrong algorithm", "RS256 token to an HS256 verifier");
    refused(rs, tes, "wrong algorithm", "ES256 token to an RS256 verifier");
    ok(tf_jwt_keys_new("RS256", NULL, NULL, NULL, "tf", err, sizeof(err)) == NULL, "RS256 without a public key refused");

    tf_jwt_keys_free(hs);
    tf_jwt_keys_free(rs);
    tf_jwt_keys_free(es);
    for (int i = 0; i < nkept; i++)
        free(kept[i]);
    printf("1..%d\n", n);
    return failed != 0;
}
