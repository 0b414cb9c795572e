/*
 * tf_jwt unit test: key sets, round trips for HS256, RS256 and ES256, claims
 * and leeway, and hostile tokens that must all be refused with the right
 * reason. Forged tokens are made here with OpenSSL (HMAC, EVP_DigestSign) so
 * any header and payload can be signed; where an attack works against
 * libjwt alone, the test shows that too, so each refusal is known to come
 * from tf_jwt's own checks and not from a token that was broken anyway.
 *
 * Build: cc -Iruntime tests/unit/test_jwt.c runtime/tf_jwt.c
 *        $(pkg-config --cflags --libs libjwt jansson openssl)
 */
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_jwt.h"

static int n, failed;

static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

/* Every fixture string is kept here and freed at the end. */
static void *kept[1024];
static int nkept;

static void *keep(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "fixture allocation failed\n");
        exit(2);
    }
    if (nkept < (int)(sizeof(kept) / sizeof(kept[0])))
        kept[nkept++] = p;
    return p;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0)
        s = NULL;
    va_end(ap);
    return keep(s);
}

static const long long NOW = 1800000000LL;
static const char *SECRET = "0123456789abcdef0123456789abcdef-secret";
static const char *SUB = "6838ae56-fda5-4d5d-b499-29a816863113";
static const char *HS_HDR = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *b64u(const void *data, size_t len)
{
    unsigned char *o = keep(malloc(4 * ((len + 2) / 3) + 1));
    EVP_EncodeBlock(o, data, (int)len);
    char *s = (char *)o, *w = s;
    for (char *r = s; *r; r++)
        if (*r != '=')
            *w++ = *r == '+' ? '-' : *r == '/' ? '_' : *r;
    *w = '\0';
    return s;
}

static char *b64s(const char *s)
{
    return b64u(s, strlen(s));
}

/* Decodes base64url (no padding) for inspecting our own tokens. */
static char *unb64(const char *s, size_t len)
{
    char *t = keep(calloc(1, len + 4));
    for (size_t i = 0; i < len; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    size_t padded = (len + 3) / 4 * 4;
    for (size_t i = len; i < padded; i++)
        t[i] = '=';
    unsigned char *o = keep(calloc(1, padded));
    int r = EVP_DecodeBlock(o, (unsigned char *)t, (int)padded);
    o[r > 0 ? (size_t)r - (padded - len) : 0] = '\0';
    return (char *)o;
}

/* header.payload signed with HMAC under any digest and key. */
static char *hmac_tok(const EVP_MD *md, const void *key, size_t keylen, const char *header, const char *payload)
{
    char *input = fmt("%s.%s", b64s(header), b64s(payload));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(md, key, (int)keylen, (const unsigned char *)input, strlen(input), mac, &maclen);
    return fmt("%s.%s", input, b64u(mac, maclen));
}

/* An HS256 token under the test secret with this header and payload. */
static char *hs(const char *header, const char *payload)
{
    return hmac_tok(EVP_sha256(), SECRET, strlen(SECRET), header, payload);
}

/* header.payload signed with an RSA private key (RS256). */
static char *rs_tok(EVP_PKEY *pk, const char *header, const char *payload)
{
    char *input = fmt("%s.%s", b64s(header), b64s(payload));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk);
    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(md);
    return fmt("%s.%s", input, b64u(sig, siglen));
}

/* The standard claims, with the times given. */
static char *claims(long long iat, long long nbf, long long exp)
{
    return fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"adm\":false,\"jti\":\"j1\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", SUB, iat,
               nbf, exp);
}

static char *std_claims(void)
{
    return claims(NOW, NOW, NOW + 900);
}

/* True when why holds no 8-character run of the token: reasons reach logs
 * and clients, tokens must not. */
static int why_is_clean(const char *why, const char *tok, size_t len)
{
    for (size_t i = 0; i + 8 <= len; i++)
        if (memmem(why, strlen(why), tok + i, 8) != NULL)
            return 0;
    return 1;
}

static int refused_n(const tf_jwt_keys_t *k, const char *tok, size_t len, const char *reason, const char *desc)
{
    tf_jwt_claims_t cl;
    memset(&cl, 0x55, sizeof(cl));
    char why[128] = "";
    int rc = tf_jwt_verify(k, tok, len, NOW, &cl, why, sizeof(why));
    tf_jwt_claims_t zero;
    memset(&zero, 0, sizeof(zero));
    int good = rc == -1 && strstr(why, reason) != NULL && why_is_clean(why, tok, len) && memcmp(&cl, &zero, sizeof(cl)) == 0;
    if (!good)
        printf("# rc=%d why='%s' (wanted '%s')\n", rc, why, reason);
    ok(good, desc);
    return good;
}

static int refused(const tf_jwt_keys_t *k, const char *tok, const char *reason, const char *desc)
{
    return refused_n(k, tok, strlen(tok), reason, desc);
}

static int accepted_at(const tf_jwt_keys_t *k, const char *tok, long long now, tf_jwt_claims_t *cl)
{
    char why[128] = "";
    int rc = tf_jwt_verify(k, tok, strlen(tok), now, cl, why, sizeof(why));
    if (rc != 0)
        printf("# refused: %s\n", why);
    return rc == 0;
}

/* Whether libjwt by itself (jwt_decode with this key) takes the token. */
static int libjwt_accepts(const char *tok, const void *key, size_t keylen)
{
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, tok, key, (int)keylen);
    jwt_free(j);
    return rc == 0;
}

static EVP_PKEY *gen(const char *type, int bits_or_0, const char *curve)
{
    return strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits_or_0) : EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

static char *pem_priv(EVP_PKEY *pk, const char *pass)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (pass != NULL)
        PEM_write_bio_PrivateKey(b, pk, EVP_aes_256_cbc(), (unsigned char *)pass, (int)strlen(pass), NULL, NULL);
    else
        PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    char *d;
    long l = BIO_get_mem_data(b, &d);
    char *s = keep(strndup(d, (size_t)l));
    BIO_free(b);
    return s;
}

static char *pem_pub(EVP_PKEY *pk)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk);
    char *d;
    long l = BIO_get_mem_data(b, &d);
    char *s = keep(strndup(d, (size_t)l));
    BIO_free(b);
    return s;
}

/* Replaces the character at i with another base64url character. */
static char *flip_at(const char *tok, size_t i)
{
    char *m = keep(strdup(tok));
    m[i] = m[i] == 'A' ? 'B' : 'A';
    return m;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- threads: one key set, many verifiers at once ---- */
typedef struct {
    const tf_jwt_keys_t *k;
    const char *tok, *bad;
    int good;
} thr_arg_t;

static void *verify_many(void *p)
{
    thr_arg_t *a = p;
    for (int i = 0; i < 300; i++) {
        tf_jwt_claims_t cl;
        char why[64];
        a->good += tf_jwt_verify(a->k, a->tok, strlen(a->tok), NOW, &cl, why, sizeof(why)) == 0 && strcmp(cl.sub, SUB) == 0;
        a->good += tf_jwt_verify(a->k, a->bad, strlen(a->bad), NOW, &cl, why, sizeof(why)) == -1;
    }
    return NULL;
}

static int threads_agree(const tf_jwt_keys_t *k, const char *tok, const char *bad)
{
    pthread_t th[4];
    thr_arg_t a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_arg_t){k, tok, bad, 0};
        pthread_create(&th[i], NULL, verify_many, &a[i]);
    }
    int all = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        all &= a[i].good == 600;
    }
    return all;
}

int main(void)
{
    char err[256];
    tf_jwt_claims_t cl;
    char why[128];

    /* ---- key sets ---- */
    ok(tf_jwt_keys_new("HS256", "0123456789abcdef0123456789abcde", NULL, NULL, "tf", err, sizeof(err)) == NULL && strstr(err, "32 bytes"),
       "HS256 refuses a 31-byte secret");
    tf_jwt_keys_t *k32 = tf_jwt_keys_new("HS256", "0123456789abcdef0123456789abcdef", NULL, NULL, "tf", err, sizeof(err));
    ok(k32 != NULL, "HS256 takes a 32-byte secret");
    tf_jwt_keys_free(k32);
    ok(tf_jwt_keys_new("HS256", NULL, NULL, NULL, "tf", err, sizeof(err)) == NULL, "HS256 refuses no secret");
    ok(tf_jwt_keys_new("HS512", SECRET, NULL, NULL, "tf", err, sizeof(err)) == NULL && strstr(err, "HS256, RS256 or ES256"),
       "unknown alg HS512 refused");
    ok(tf_jwt_keys_new("none", SECRET, NULL, NULL, "tf", err, sizeof(err)) == NULL, "alg none cannot be configured");
    ok(tf_jwt_keys_new("hs256", SECRET, NULL, NULL, "tf", err, sizeof(err)) == NULL, "alg names are case-sensitive (hs256 refused)");
    ok(tf_jwt_keys_new(NULL, SECRET, NULL, NULL, "tf", err, sizeof(err)) == NULL, "NULL alg refused");
    ok(tf_jwt_keys_new("HS256", SECRET, NULL, NULL, "", err, sizeof(err)) == NULL && strstr(err, "issuer"), "empty issuer refused");
    ok(tf_jwt_keys_new("HS256", SECRET, NULL, NULL, NULL, err, sizeof(err)) == NULL, "NULL issuer refused");
    ok(tf_jwt_keys_new("HS256", SECRET, NULL, NULL, fmt("%0256d", 1), err, sizeof(err)) == NULL && strstr(err, "255"),
       "issuer over 255 bytes refused");
    ok(tf_jwt_keys_new("HS256", SECRET, NULL, NULL, "tf\xff", err, sizeof(err)) == NULL, "issuer that is not UTF-8 refused");
    ok(tf_jwt_keys_new("HS512", SECRET, NULL, NULL, "tf", NULL, 0) == NULL, "a NULL err buffer is fine");

    EVP_PKEY *rsa = gen("RSA", 2048, NULL), *rsa2 = gen("RSA", 2048, NULL), *rsa1k = gen("RSA", 1024, NULL);
    EVP_PKEY *ec = gen("EC", 0, "P-256"), *ec384 = gen("EC", 0, "P-384");
    char *rpriv = pem_priv(rsa, NULL), *rpub = pem_pub(rsa), *rpub2 = pem_pub(rsa2);
    char *epriv = pem_priv(ec, NULL), *epub = pem_pub(ec);
    ok(tf_jwt_keys_new("HS256", SECRET, NULL, rpub, "tf", err, sizeof(err)) == NULL && strstr(err, "not PEM"),
       "HS256 with a PEM key file refused");
    {
        tf_jwt_keys_t *ks = tf_jwt_keys_new("RS256", SECRET, rpriv, rpub, "tf", err, sizeof(err));
        ok(ks != NULL, "RS256 ignores a leftover secret");
        tf_jwt_keys_free(ks);
    }
    ok(tf_jwt_keys_new("RS256", NULL, rpriv, NULL, "tf", err, sizeof(err)) == NULL && strstr(err, "public key"),
       "RS256 without a public key refused");
    ok(tf_jwt_keys_new("RS256", NULL, NULL, "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "tf", err, sizeof(err)) == NULL,
       "RS256 with a garbage public key refused");
    ok(tf_jwt_keys_new("RS256", NULL, epriv, epub, "tf", err, sizeof(err)) == NULL && strstr(err, "RSA key"), "RS256 with EC keys refused");
    ok(tf_jwt_keys_new("ES256", NULL, rpriv, rpub, "tf", err, sizeof(err)) == NULL && strstr(err, "EC key"), "ES256 with RSA keys refused");
    ok(tf_jwt_keys_new("RS256", NULL, pem_priv(rsa1k, NULL), pem_pub(rsa1k), "tf", err, sizeof(err)) == NULL && strstr(err, "2048"),
       "RS256 with a 1024-bit key refused");
    ok(tf_jwt_keys_new("ES256", NULL, pem_priv(ec384, NULL), pem_pub(ec384), "tf", err, sizeof(err)) == NULL && strstr(err, "P-256"),
       "ES256 with a P-384 key refused");
    ok(tf_jwt_keys_new("RS256", NULL, rpriv, rpub2, "tf", err, sizeof(err)) == NULL && strstr(err, "pair"),
       "RS256 private and public keys that are not a pair refused");
    ok(tf_jwt_keys_new("RS256", NULL, pem_priv(rsa, "passphrase"), rpub, "tf", err, sizeof(err)) == NULL && strstr(err, "unencrypted"),
       "an encrypted private key is refused (no passphrase prompt)");
    ok(tf_jwt_keys_new("RS256", NULL, rpub, rpub, "tf", err, sizeof(err)) == NULL, "a public key given as the private key refused");

    tf_jwt_keys_t *hk = tf_jwt_keys_new("HS256", SECRET, NULL, NULL, "tf", err, sizeof(err));
    tf_jwt_keys_t *rk = tf_jwt_keys_new("RS256", NULL, rpriv, rpub, "tf", err, sizeof(err));
    tf_jwt_keys_t *rk_pub = tf_jwt_keys_new("RS256", NULL, NULL, rpub, "tf", err, sizeof(err));
    tf_jwt_keys_t *ek = tf_jwt_keys_new("ES256", NULL, epriv, epub, "tf", err, sizeof(err));
    tf_jwt_keys_t *other_iss = tf_jwt_keys_new("HS256", SECRET, NULL, NULL, "other", err, sizeof(err));
    tf_jwt_keys_t *other_sec = tf_jwt_keys_new("HS256", "another-secret-another-secret-another", NULL, NULL, "tf", err, sizeof(err));
    ok(hk && rk && rk_pub && ek && other_iss && other_sec, "HS256, RS256 (also verify-only) and ES256 key sets");
    if (!(hk && rk && rk_pub && ek && other_iss && other_sec))
        return 1;

    /* ---- signing and round trips ---- */
    char *t = keep(tf_jwt_sign(hk, SUB, "pro", 1, 900, NOW));
    ok(accepted_at(hk, t, NOW, &cl), "HS256 round trip");
    ok(!strcmp(cl.sub, SUB) && !strcmp(cl.tier, "pro") && cl.admin == 1 && cl.iat == NOW && cl.nbf == NOW && cl.exp == NOW + 900 &&
           strlen(cl.jti) == 32 && strspn(cl.jti, "0123456789abcdef") == 32,
       "claims parsed: sub, tier, adm, iat, nbf, exp, 32-hex-digit jti");
    char *jti1 = fmt("%s", cl.jti);
    char *t2 = keep(tf_jwt_sign(hk, SUB, "free", 0, 60, NOW));
    ok(accepted_at(hk, t2, NOW, &cl) && cl.admin == 0 && !strcmp(cl.tier, "free") && strcmp(cl.jti, jti1) != 0,
       "adm false reads as 0; each token has its own jti");
    ok(!strcmp(unb64(t, (size_t)(strchr(t, '.') - t)), HS_HDR), "our header is exactly {\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    {
        size_t len = strlen(t);
        char *exact = malloc(len); /* no NUL: ASan sees any read past the end */
        memcpy(exact, t, len);
        ok(tf_jwt_verify(hk, exact, len, NOW, &cl, why, sizeof(why)) == 0, "verify reads only token_len bytes (no NUL needed)");
        free(exact);
        char *tail = fmt("%s.garbage", t);
        ok(tf_jwt_verify(hk, tail, len, NOW, &cl, why, sizeof(why)) == 0, "bytes after token_len are ignored");
    }
    ok(tf_jwt_sign(hk, "", "pro", 0, 900, NOW) == NULL, "sign refuses an empty sub");
    ok(tf_jwt_sign(hk, SUB, "", 0, 900, NOW) == NULL, "sign refuses an empty tier");
    ok(tf_jwt_sign(hk, fmt("%0128d", 7), "pro", 0, 900, NOW) == NULL, "sign refuses a sub that would not fit the claims");
    ok(tf_jwt_sign(hk, SUB, fmt("%032d", 7), 0, 900, NOW) == NULL, "sign refuses a tier that would not fit the claims");
    ok(tf_jwt_sign(hk, SUB, "pro", 0, 0, NOW) == NULL && tf_jwt_sign(hk, SUB, "pro", 0, -5, NOW) == NULL, "sign refuses ttl <= 0");
    ok(tf_jwt_sign(rk_pub, SUB, "pro", 0, 900, NOW) == NULL, "a verify-only key set cannot sign");
    ok(tf_jwt_sign(NULL, SUB, "pro", 0, 900, NOW) == NULL, "sign with no key set is NULL");

    char *trs = keep(tf_jwt_sign(rk, SUB, "pro", 0, 900, NOW)), *tes = keep(tf_jwt_sign(ek, SUB, "max", 1, 900, NOW));
    ok(accepted_at(rk, trs, NOW, &cl) && !strcmp(cl.sub, SUB) && cl.exp == NOW + 900, "RS256 round trip");
    ok(accepted_at(rk_pub, trs, NOW, &cl), "RS256 verify-only key set verifies");
    ok(accepted_at(ek, tes, NOW, &cl) && !strcmp(cl.tier, "max") && cl.admin == 1, "ES256 round trip");
    {
        /* r or s with a leading zero byte must still give 64 bytes. */
        int all = 1;
        for (int i = 0; i < 300 && all; i++) {
            char *e = tf_jwt_sign(ek, SUB, "pro", 0, 900, NOW);
            all = e != NULL && accepted_at(ek, e, NOW, &cl);
            free(e);
        }
        ok(all, "300 ES256 tokens in a row verify");
    }
    ok(accepted_at(hk, hs(HS_HDR, std_claims()), NOW, &cl) && cl.admin == 0 && !strcmp(cl.jti, "j1"),
       "a token forged here with the real secret is accepted (the forger works)");
    ok(accepted_at(hk, hs("{\"alg\":\"HS256\"}", std_claims()), NOW, &cl), "a header without typ is fine");
    ok(accepted_at(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)), NOW, &cl) &&
           cl.nbf == NOW && cl.jti[0] == '\0' && cl.admin == 0,
       "nbf, jti and adm are optional (nbf defaults to iat)");

    /* ---- leeway (30 s) ---- */
    ok(accepted_at(hk, t, NOW + 900 + 10, &cl), "leeway: expired 10 s ago still accepted");
    ok(tf_jwt_verify(hk, t, strlen(t), NOW + 960, &cl, why, sizeof(why)) == -1 && strstr(why, "expired"), "leeway: expired 60 s ago refused");
    ok(tf_jwt_verify(hk, t, strlen(t), NOW + 930, &cl, why, sizeof(why)) == -1 && strstr(why, "expired"),
       "leeway: expired exactly 30 s ago refused");
    ok(accepted_at(hk, hs(HS_HDR, claims(NOW, NOW + 20, NOW + 900)), NOW, &cl), "leeway: nbf 20 s ahead accepted");
    ok(accepted_at(hk, hs(HS_HDR, claims(NOW + 20, NOW, NOW + 900)), NOW, &cl), "leeway: iat 20 s ahead accepted");

    /* ---- the algorithm is ours, not the token's ---- */
    char *none_h = b64s("{\"alg\":\"none\",\"typ\":\"JWT\"}"), *std_p = b64s(std_claims());
    refused(hk, fmt("%s.%s.", none_h, std_p), "wrong algorithm", "alg none without a signature");
    refused(hk, fmt("%s.%s", none_h, std_p), "malformed", "alg none without the signature part at all");
    refused(hk, fmt("%s.%s.c2ln", none_h, std_p), "wrong algorithm", "alg none with a signature");
    refused(hk, fmt("%s.%s.", b64s("{\"alg\":\"None\"}"), std_p), "wrong algorithm", "alg None");
    refused(hk, fmt("%s.%s.", b64s("{\"alg\":\"NONE\"}"), std_p), "wrong algorithm", "alg NONE");
    char *lower = hs("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", std_claims());
    ok(libjwt_accepts(lower, SECRET, strlen(SECRET)), "  (libjwt alone accepts alg \"hs256\")");
    refused(hk, lower, "wrong algorithm", "alg hs256 (libjwt matches alg case-insensitively)");
    char *t512 = hmac_tok(EVP_sha512(), SECRET, strlen(SECRET), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", std_claims());
    ok(libjwt_accepts(t512, SECRET, strlen(SECRET)), "  (libjwt alone accepts HS512 signed with the secret)");
    refused(hk, t512, "wrong algorithm", "HS512 token to an HS256 verifier");
    refused(hk, hmac_tok(EVP_sha384(), SECRET, strlen(SECRET), "{\"alg\":\"HS384\",\"typ\":\"JWT\"}", std_claims()), "wrong algorithm",
            "HS384 token to an HS256 verifier");
    char *confused = hmac_tok(EVP_sha256(), rpub, strlen(rpub), HS_HDR, std_claims());
    ok(libjwt_accepts(confused, rpub, strlen(rpub)), "  (libjwt alone accepts HS256 keyed with the RSA public key PEM)");
    refused(rk, confused, "wrong algorithm", "HS/RS confusion: HS256 signed with the RS256 public key, to an RS256 verifier");
    refused(rk_pub, confused, "wrong algorithm", "HS/RS confusion against a verify-only RS256 key set");
    ok(accepted_at(rk, rs_tok(rsa, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", std_claims()), NOW, &cl),
       "an RS256 token forged here with the real key is accepted (the forger works)");
    refused(rk, rs_tok(rsa2, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", std_claims()), "bad signature", "RS256 token signed with another RSA key");
    refused(rk, rs_tok(rsa, "{\"alg\":\"rs256\",\"typ\":\"JWT\"}", std_claims()), "wrong algorithm", "alg rs256");
    refused(hk, trs, "wrong algorithm", "RS256 token to an HS256 verifier");
    refused(rk, tes, "wrong algorithm", "ES256 token to an RS256 verifier");
    refused(ek, trs, "wrong algorithm", "RS256 token to an ES256 verifier");
    refused(hk, hs("{\"typ\":\"JWT\"}", std_claims()), "wrong algorithm", "header without alg");
    refused(hk, hs("{\"alg\":256}", std_claims()), "wrong algorithm", "alg that is a number");
    refused(hk, hs("{\"alg\":[\"HS256\"]}", std_claims()), "wrong algorithm", "alg that is an array");
    refused(hk, hs("{\"alg\":\"HS256 \"}", std_claims()), "wrong algorithm", "alg with a trailing space");
    refused(hk, hs("{\"alg\":\"HS256\",\"alg\":\"none\"}", std_claims()), "malformed token header", "duplicate alg (HS256, none)");
    refused(hk, hs("{\"alg\":\"none\",\"alg\":\"HS256\"}", std_claims()), "malformed token header", "duplicate alg (none, HS256)");
    refused(hk, hs("{\"alg\":\"HS256\\u0000\"}", std_claims()), "malformed token header", "alg with an escaped NUL");
    refused(hk, hs("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", std_claims()), "typ", "typ other than JWT");
    refused(hk, hs("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", std_claims()), "critical", "a crit header");

    /* ---- signatures ---- */
    size_t tl = strlen(t), sig_at = (size_t)(strrchr(t, '.') - t) + 1;
    refused(hk, flip_at(t, sig_at + 10), "bad signature", "flipped signature character");
    refused(hk, flip_at(t, tl - 1), "", "flipped last signature character");
    refused(hk, fmt("%.*s", (int)(tl - 3), t), "bad signature", "truncated signature");
    refused(hk, fmt("%.*s%s", (int)sig_at, t, strrchr(t2, '.') + 1), "bad signature", "signature of another token");
    refused(hk, fmt("%.*s", (int)sig_at, t), "malformed", "empty signature with alg HS256");
    refused(hk, keep(tf_jwt_sign(other_sec, SUB, "pro", 0, 900, NOW)), "bad signature", "a valid token re-signed with another secret");
    refused(hk, hmac_tok(EVP_sha256(), "another-secret-another-secret-another", 37, HS_HDR, std_claims()), "bad signature",
            "a forged token under another secret");
    {
        /* The last character of a 256-byte RS256 signature carries 2 bits;
         * libjwt's decoder ignores the other 4, so the same signature has
         * 16 spellings. */
        size_t rl = strlen(trs);
        char *var = keep(strdup(trs));
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var[rl - 1] = alpha[(strchr(alpha, trs[rl - 1]) - alpha) ^ 1];
        ok(libjwt_accepts(var, rpub, strlen(rpub)), "  (libjwt alone accepts an RS256 signature with non-zero padding bits)");
        refused(rk, var, "malformed", "non-canonical base64url in the signature");
    }
    {
        /* Payloads swapped under a kept signature. */
        const char *dot1 = strchr(t, '.');
        char *h = fmt("%.*s", (int)(dot1 - t), t), *s = fmt("%s", strrchr(t, '.') + 1);
        char *payload = unb64(dot1 + 1, (size_t)(strrchr(t, '.') - dot1 - 1));
        char *tiered = keep(strdup(payload));
        memcpy(strstr(tiered, "\"pro\""), "\"max\"", 5);
        refused(hk, fmt("%s.%s.%s", h, b64s(tiered), s), "bad signature", "payload tier changed, signature kept");
        /* t2 is not an admin; make it one. */
        const char *d2 = strchr(t2, '.');
        char *p2 = unb64(d2 + 1, (size_t)(strrchr(t2, '.') - d2 - 1));
        char *adm = strstr(p2, "\"adm\":false");
        char *escalated = adm != NULL ? fmt("%.*s\"adm\":true%s", (int)(adm - p2), p2, adm + strlen("\"adm\":false")) : "";
        refused(hk, fmt("%.*s.%s%s", (int)(d2 - t2), t2, b64s(escalated), strrchr(t2, '.')), "bad signature",
                "payload adm false -> true, signature kept");
        refused(hk, fmt("%s.%s.%s", h, b64s(claims(NOW, NOW, NOW + 999999)), s), "bad signature", "payload swapped, signature kept");
        char *pflip = flip_at(t, (size_t)(dot1 - t) + 5);
        refused(hk, pflip, "", "flipped payload character");
    }

    /* ---- claims ---- */
    refused(hk, hs(HS_HDR, claims(NOW - 7200, NOW - 7200, NOW - 60)), "expired", "expired");
    refused(hk, hs(HS_HDR, claims(NOW, NOW + 3600, NOW + 7200)), "not yet valid", "nbf in the future");
    refused(hk, hs(HS_HDR, claims(NOW + 3600, NOW, NOW + 7200)), "issued in the future", "iat in the future");
    refused(other_iss, t, "wrong issuer", "wrong issuer");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf \",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)),
            "wrong issuer", "issuer with a trailing space");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":[\"tf\"],\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)),
            "wrong issuer", "issuer that is an array");
    refused(hk, hs(HS_HDR, fmt("{\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)), "missing claim iss",
            "missing iss");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 9)), "missing claim sub",
            "missing sub");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 9)),
            "missing claim sub", "empty sub");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":42,\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", NOW, NOW + 9)),
            "malformed claim sub", "sub that is a number");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%0200d\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", 1, NOW, NOW + 9)),
            "malformed claim sub", "sub too long for the claims");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)), "missing claim tier",
            "missing tier");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"%040d\",\"iat\":%lld,\"exp\":%lld}", SUB, 1, NOW, NOW + 9)),
            "malformed claim tier", "tier too long for the claims");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld}", SUB, NOW)), "missing claim exp",
            "missing exp");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"exp\":%lld}", SUB, NOW + 9)), "missing claim iat",
            "missing iat");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":\"%lld\"}", SUB, NOW, NOW + 9)),
            "malformed claim exp", "exp that is a string");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld.5}", SUB, NOW, NOW + 9)),
            "malformed claim exp", "exp with a fraction");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":\"soon\",\"exp\":%lld}", SUB, NOW + 9)),
            "malformed claim iat", "iat that is a string (libjwt's getter reads it as 0)");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"iat\":%lld,\"nbf\":null,\"exp\":%lld}", SUB, NOW, NOW + 9)),
            "malformed claim nbf", "nbf that is null");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"adm\":\"true\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)),
            "malformed claim adm", "adm that is a string");
    refused(hk, hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"jti\":7,\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)),
            "malformed claim jti", "jti that is a number");
    refused(hk,
            hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"sub\":\"someone-else\",\"tier\":\"pro\",\"iat\":%lld,\"exp\":%lld}", SUB, NOW, NOW + 9)),
            "malformed token payload", "duplicate sub");
    refused(hk, hs(HS_HDR, "[1,2,3]"), "malformed token payload", "payload that is a JSON array (signed)");
    refused(hk, fmt("%s.%s.abc", b64s(HS_HDR), b64s("[1,2,3]")), "malformed token payload", "payload that is a JSON array (unsigned)");
    refused(hk, hs(HS_HDR, "not json"), "malformed token payload", "payload that is not JSON");
    refused(hk, hs(HS_HDR, "\"a string\""), "malformed token payload", "payload that is a JSON string");

    /* ---- garbage ---- */
    refused(hk, "", "malformed", "empty string");
    refused(hk, ".", "malformed", "a dot");
    refused(hk, "..", "malformed", "two dots");
    refused(hk, "a.b", "malformed", "two parts");
    refused(hk, "a.b.c.d", "malformed", "four parts");
    refused(hk, fmt("%s.d", t), "malformed", "a valid token with a fourth part");
    refused(hk, fmt("%s.", t), "malformed", "a valid token with a trailing dot");
    refused(hk, fmt(".%s", t), "malformed", "a valid token with a leading dot");
    refused(hk, "ab!c.de$f.gh", "malformed", "non-base64url characters");
    refused(hk, fmt("%s.%s.abc", b64s(HS_HDR), "eyJ+/w"), "malformed", "base64 (not base64url) characters");
    refused(hk, fmt("%s=.%s.abc", b64s(HS_HDR), std_p), "malformed", "base64 padding");
    refused(hk, fmt(" %s", t), "malformed", "leading space");
    refused(hk, fmt("%s\n", t), "malformed", "trailing newline");
    refused(hk, fmt("%s.%s.abcde", b64s(HS_HDR), std_p), "malformed", "a part of 4n+1 characters");
    {
        char *big = keep(malloc(10241));
        memset(big, 'a', 10240);
        big[10240] = 0;
        big[100] = '.';
        big[200] = '.';
        refused(hk, big, "malformed", "10 KiB token");
        char *valid_big = hs(HS_HDR, fmt("{\"iss\":\"tf\",\"sub\":\"%s\",\"tier\":\"pro\",\"pad\":\"%09000d\",\"iat\":%lld,\"exp\":%lld}", SUB, 0, NOW,
                                         NOW + 9));
        refused(hk, valid_big, "too long", "a correctly signed token over 8 KiB");
    }
    {
        char *nul = fmt("%s", t);
        nul[5] = '\0';
        refused_n(hk, nul, strlen(t), "malformed", "a NUL inside token_len");
    }
    refused(hk, fmt("%s.%s.abc", b64s("not json"), std_p), "malformed token header", "header that is not JSON");
    refused(hk, fmt("%s.%s.abc", b64s("[\"HS256\"]"), std_p), "malformed token header", "header that is a JSON array");
    refused(hk, fmt("%s.%s.abc", b64u("\xff\xfe{", 3), std_p), "malformed token header", "header that is binary");
    refused(NULL, t, "not configured", "no key set");
    ok(tf_jwt_verify(hk, NULL, 0, NOW, &cl, why, sizeof(why)) == -1, "NULL token");
    {
        char tiny[8];
        ok(tf_jwt_verify(hk, "a.b", 3, NOW, &cl, tiny, sizeof(tiny)) == -1 && strlen(tiny) == 7, "a short why buffer is truncated, terminated");
        ok(tf_jwt_verify(hk, "a.b", 3, NOW, NULL, NULL, 0) == -1 && tf_jwt_verify(hk, t, strlen(t), NOW, NULL, NULL, 0) == 0,
           "NULL out and why are allowed");
    }

    /* ---- threads ---- */
    ok(threads_agree(hk, t, flip_at(t, sig_at + 3)), "HS256: 4 threads verify one key set at once");
    ok(threads_agree(rk, trs, t), "RS256: 4 threads verify one key set at once");

    /* ---- cost, for the record ---- */
    {
        const char *names[] = {"HS256", "RS256", "ES256"};
        const tf_jwt_keys_t *ks[] = {hk, rk, ek};
        const char *toks[] = {t, trs, tes};
        for (int a = 0; a < 3; a++) {
            double t0 = now_us();
            for (int i = 0; i < 200; i++)
                tf_jwt_verify(ks[a], toks[a], strlen(toks[a]), NOW, &cl, why, sizeof(why));
            printf("# %s verify: %.1f us\n", names[a], (now_us() - t0) / 200);
        }
    }

    tf_jwt_keys_free(hk);
    tf_jwt_keys_free(rk);
    tf_jwt_keys_free(rk_pub);
    tf_jwt_keys_free(ek);
    tf_jwt_keys_free(other_iss);
    tf_jwt_keys_free(other_sec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(rsa1k);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec384);
    for (int i = 0; i < nkept; i++)
        free(kept[i]);
    printf("1..%d\n", n);
    return failed != 0;
}
