/*
 * tf_jwt.c - see tf_jwt.h.
 *
 * Who does what on verify:
 *   here:   size, alphabet, three segments, canonical base64url; the header
 *           (JSON object, no duplicate keys, "alg" equal to ours, "typ"
 *           JWT if present, no "crit"); the payload (JSON object, no
 *           duplicate keys); every claim with its JSON type.
 *   libjwt: the signature only (jwt_decode with our key). Its own view of
 *           the claims is not used: its integer getter turns a string or a
 *           float into 0 without an error, and its header parser matches
 *           "alg" case-insensitively.
 * The header and payload are parsed before the signature is checked, as
 * jwt_decode does anyway; nothing from them is trusted until it passes.
 *
 * OpenSSL is used directly only where libjwt cannot help: decoding the
 * header and payload ourselves (EVP_DecodeBlock), checking PEM keys when the
 * key set is made (libjwt parses them on every call, with OpenSSL's default
 * passphrase prompt, and only then fails), RAND_bytes for jti, and
 * OPENSSL_cleanse to wipe secrets.
 *
 * HS256 relies on Debian's libjwt 1.10.2-1+deb12u1, whose HMAC check
 * compares in constant time (CVE-2024-25189; upstream 1.10.2 used strcmp).
 */
#include "tf_jwt.h"

#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tf_jwt_keys {
    jwt_alg_t alg;
    const char *alg_name;        /* static: "HS256", "RS256" or "ES256" */
    unsigned char *sign_key;     /* HS256 secret or private PEM; NULL: verify only */
    unsigned char *verify_key;   /* HS256 secret or public PEM */
    size_t sign_len, verify_len; /* without the terminating NUL */
    char *issuer;
};

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* A copy with a NUL after it, since libjwt hands PEM keys to OpenSSL as is. */
static unsigned char *dup_key(const char *s, size_t *len)
{
    *len = strlen(s);
    unsigned char *b = malloc(*len + 1);
    if (b != NULL)
        memcpy(b, s, *len + 1);
    return b;
}

static void free_key(unsigned char *b, size_t len)
{
    if (b != NULL)
        OPENSSL_cleanse(b, len);
    free(b);
}

/* Fails instead of asking: OpenSSL's default would read a passphrase from
 * the terminal, on whatever thread happened to parse the key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static EVP_PKEY *read_pem(const char *pem, int is_private)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (b == NULL)
        return NULL;
    EVP_PKEY *p = is_private ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    ERR_clear_error(); /* leave nothing on this thread's error queue */
    return p;
}

/* NULL when the key suits alg, else why not. The type test is libjwt's own
 * (EVP_PKEY_id), so a key accepted here is one libjwt will use. */
static const char *key_unfit(EVP_PKEY *p, jwt_alg_t alg)
{
    if (alg == JWT_ALG_RS256) {
        if (EVP_PKEY_get_id(p) != EVP_PKEY_RSA)
            return "RS256 needs an RSA key";
        if (EVP_PKEY_get_bits(p) < 2048)
            return "RS256 needs an RSA key of at least 2048 bits";
        return NULL;
    }
    char group[64] = "";
    if (EVP_PKEY_get_id(p) != EVP_PKEY_EC)
        return "ES256 needs an EC key";
    /* libjwt signs ES256 with whatever curve the key has; the JWA says P-256. */
    if (EVP_PKEY_get_group_name(p, group, sizeof(group), NULL) != 1 || strcmp(group, "prime256v1") != 0)
        return "ES256 needs an EC key on curve P-256";
    return NULL;
}

/* NULL when the PEM keys are usable and belong together, else why not. */
static const char *check_pem_keys(jwt_alg_t alg, const char *private_pem, const char *public_pem)
{
    const char *bad = NULL;
    EVP_PKEY *pub = read_pem(public_pem, 0), *priv = NULL;
    if (pub == NULL) {
        bad = "the public key is not a PEM public key (BEGIN PUBLIC KEY)";
        goto done;
    }
    if ((bad = key_unfit(pub, alg)) != NULL)
        goto done;
    if (private_pem == NULL)
        goto done;
    if ((priv = read_pem(private_pem, 1)) == NULL) {
        bad = "the private key is not an unencrypted PEM private key";
        goto done;
    }
    if ((bad = key_unfit(priv, alg)) != NULL)
        goto done;
    if (EVP_PKEY_eq(priv, pub) != 1)
        bad = "the private and public keys are not a pair";
done:
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
    ERR_clear_error();
    return bad;
}

tf_jwt_keys_t *tf_jwt_keys_new(const char *alg, const char *secret, const char *private_pem, const char *public_pem,
                               const char *issuer, char *err, size_t errlen)
{
    jwt_alg_t a;
    const char *name;
    /* Exact, case-sensitive names: "hs256" in a conf is a typo, not HS256. */
    if (alg != NULL && strcmp(alg, "HS256") == 0) {
        a = JWT_ALG_HS256;
        name = "HS256";
    } else if (alg != NULL && strcmp(alg, "RS256") == 0) {
        a = JWT_ALG_RS256;
        name = "RS256";
    } else if (alg != NULL && strcmp(alg, "ES256") == 0) {
        a = JWT_ALG_ES256;
        name = "ES256";
    } else {
        set_err(err, errlen, "jwt_alg must be HS256, RS256 or ES256");
        return NULL;
    }
    if (issuer == NULL || issuer[0] == '\0') {
        set_err(err, errlen, "an issuer is required");
        return NULL;
    }
    if (strlen(issuer) > 255) { /* it rides in every token, under the 8 KiB cap */
        set_err(err, errlen, "the issuer is longer than 255 bytes");
        return NULL;
    }
    json_t *iss = json_string(issuer); /* NULL unless valid UTF-8, which "iss" must be */
    if (iss == NULL) {
        set_err(err, errlen, "the issuer is not valid UTF-8");
        return NULL;
    }
    json_decref(iss);

    if (a == JWT_ALG_HS256) {
        /* Key files next to HS256 (the default alg) most likely mean a
         * forgotten jwt_alg: say so instead of silently ignoring them. */
        if (private_pem != NULL || public_pem != NULL) {
            set_err(err, errlen, "HS256 takes a secret, not PEM key files");
            return NULL;
        }
        /* RFC 7518 3.2: an HS256 key shorter than the hash is too weak. */
        if (secret == NULL || strlen(secret) < 32) {
            set_err(err, errlen, "HS256 needs a secret of at least 32 bytes");
            return NULL;
        }
    } else {
        /* A secret is ignored here: jwt_alg was set to RS256/ES256 on purpose
         * (HS256 is the default), and the shipped conf keeps a jwt_secret line. */
        if (public_pem == NULL) {
            set_err(err, errlen, a == JWT_ALG_RS256 ? "RS256 needs a public key (PEM)" : "ES256 needs a public key (PEM)");
            return NULL;
        }
        const char *bad = check_pem_keys(a, private_pem, public_pem);
        if (bad != NULL) {
            set_err(err, errlen, bad);
            return NULL;
        }
    }

    tf_jwt_keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    k->alg = a;
    k->alg_name = name;
    k->issuer = strdup(issuer);
    if (a == JWT_ALG_HS256) {
        k->sign_key = dup_key(secret, &k->sign_len);
        k->verify_key = dup_key(secret, &k->verify_len);
    } else {
        k->verify_key = dup_key(public_pem, &k->verify_len);
        if (private_pem != NULL)
            k->sign_key = dup_key(private_pem, &k->sign_len);
    }
    if (k->issuer == NULL || k->verify_key == NULL || (k->sign_key == NULL && (a == JWT_ALG_HS256 || private_pem != NULL))) {
        tf_jwt_keys_free(k);
        set_err(err, errlen, "out of memory");
        return NULL;
    }

    /* One token through libjwt and back, so keys it cannot use fail here,
     * at startup, and not on the first request. */
    if (k->sign_key != NULL) {
        const long long t = 1000000000LL;
        tf_jwt_claims_t cl;
        char why[64];
        char *probe = tf_jwt_sign(k, "probe", "probe", 0, 60, t);
        int bad = probe == NULL || tf_jwt_verify(k, probe, strlen(probe), t, &cl, why, sizeof(why)) != 0;
        free(probe);
        if (bad) {
            tf_jwt_keys_free(k);
            set_err(err, errlen, "libjwt could not sign and verify with these keys");
            return NULL;
        }
    }
    return k;
}

void tf_jwt_keys_free(tf_jwt_keys_t *k)
{
    if (k == NULL)
        return;
    free_key(k->sign_key, k->sign_len);
    free_key(k->verify_key, k->verify_len);
    free(k->issuer);
    free(k);
}

char *tf_jwt_sign(const tf_jwt_keys_t *k, const char *sub, const char *tier, int admin, long ttl_seconds, long long now)
{
    tf_jwt_claims_t cl; /* only for the field sizes */
    /* Refuse what tf_jwt_verify would refuse, rather than issue dead tokens. */
    if (k == NULL || k->sign_key == NULL || sub == NULL || tier == NULL || sub[0] == '\0' || tier[0] == '\0' ||
        strlen(sub) >= sizeof(cl.sub) || strlen(tier) >= sizeof(cl.tier) || ttl_seconds <= 0 || now < 0 ||
        now > LONG_MAX - ttl_seconds) /* libjwt takes longs */
        return NULL;

    unsigned char rnd[16];
    char jti[2 * sizeof(rnd) + 1];
    if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) {
        ERR_clear_error();
        return NULL;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(jti + 2 * i, 3, "%02x", rnd[i]);

    jwt_t *j = NULL;
    char *out = NULL;
    if (jwt_new(&j) == 0 && jwt_add_grant(j, "iss", k->issuer) == 0 && jwt_add_grant(j, "sub", sub) == 0 &&
        jwt_add_grant(j, "tier", tier) == 0 && jwt_add_grant_bool(j, "adm", admin != 0) == 0 && jwt_add_grant(j, "jti", jti) == 0 &&
        jwt_add_grant_int(j, "iat", (long)now) == 0 && jwt_add_grant_int(j, "nbf", (long)now) == 0 &&
        jwt_add_grant_int(j, "exp", (long)(now + ttl_seconds)) == 0 && jwt_set_alg(j, k->alg, k->sign_key, (int)k->sign_len) == 0)
        out = jwt_encode_str(j);
    jwt_free(j);
    ERR_clear_error();
    return out;
}

/* ---- verify ---------------------------------------------------------------- */

static int fail(char *why, size_t whylen, const char *reason)
{
    set_err(why, whylen, reason);
    return -1;
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/*
 * A segment of unpadded base64url that decodes one way only: no length of
 * 4n+1, and the bits past the last whole byte are zero. Without the second
 * rule one RS256/ES256 token has several spellings (libjwt's decoder drops
 * those bits), which would make the same token look new to any cache or
 * log keyed by its text.
 */
static int canonical_b64url(const char *s, size_t n)
{
    if (n == 0 || n % 4 == 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (b64url_value(s[i]) < 0)
            return 0;
    int last = b64url_value(s[n - 1]);
    return n % 4 == 0 || (n % 4 == 2 && (last & 0x0f) == 0) || (n % 4 == 3 && (last & 0x03) == 0);
}

/* Decodes a segment that passed canonical_b64url. malloc'd, or NULL. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    size_t padded = (n + 3) / 4 * 4;
    char *t = malloc(padded);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (t == NULL || out == NULL) {
        free(t);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < padded; i++)
        t[i] = i >= n ? '=' : s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    /* EVP_DecodeBlock counts the bytes the '=' padding stands for, too. */
    int r = EVP_DecodeBlock(out, (const unsigned char *)t, (int)padded);
    free(t);
    if (r < 0 || (size_t)r < padded - n) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)r - (padded - n);
    return out;
}

/* A JSON object from a segment, or NULL. Duplicate keys are refused: with
 * two "alg" or two "sub", which one counts depends on the parser. */
static json_t *segment_object(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *buf = b64url_decode(s, n, &len);
    if (buf == NULL)
        return NULL;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* 1: an integer in *v; 0: absent; -1: present but not an integer (RFC 7519
 * allows fractions; our tokens never have them, so they are refused). */
static int int_claim(json_t *o, const char *name, long long *v)
{
    json_t *x = json_object_get(o, name);
    if (x == NULL)
        return 0;
    if (!json_is_integer(x))
        return -1;
    *v = json_integer_value(x);
    return 1;
}

/* 1: a non-empty string that fits dst; 0: absent or empty; -1: not a
 * string, or too long. */
static int str_claim(json_t *o, const char *name, char *dst, size_t cap)
{
    json_t *x = json_object_get(o, name);
    if (x == NULL)
        return 0;
    if (!json_is_string(x) || json_string_length(x) >= cap)
        return -1;
    if (json_string_length(x) == 0)
        return 0;
    memcpy(dst, json_string_value(x), json_string_length(x) + 1);
    return 1;
}

static int claim_fail(char *why, size_t whylen, int rc, const char *name)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s claim %s", rc == 0 ? "missing" : "malformed", name);
    return -1;
}

/* The claims of a payload whose signature has been checked. */
static int check_claims(const tf_jwt_keys_t *k, json_t *p, long long now, tf_jwt_claims_t *c, char *why, size_t whylen)
{
    json_t *iss = json_object_get(p, "iss");
    if (iss == NULL)
        return fail(why, whylen, "missing claim iss");
    if (!json_is_string(iss) || json_string_length(iss) != strlen(k->issuer) ||
        memcmp(json_string_value(iss), k->issuer, json_string_length(iss)) != 0)
        return fail(why, whylen, "wrong issuer");

    int rc;
    if ((rc = int_claim(p, "exp", &c->exp)) != 1)
        return claim_fail(why, whylen, rc, "exp");
    if ((rc = int_claim(p, "iat", &c->iat)) != 1)
        return claim_fail(why, whylen, rc, "iat");
    /* nbf is optional (RFC 7519); without it the token is valid from iat. */
    if ((rc = int_claim(p, "nbf", &c->nbf)) == -1)
        return claim_fail(why, whylen, rc, "nbf");
    if (rc == 0)
        c->nbf = c->iat;
    /* Only `now` is computed with, so no value from the token can overflow. */
    if (c->exp <= now - TF_JWT_LEEWAY)
        return fail(why, whylen, "expired");
    if (c->nbf > now + TF_JWT_LEEWAY)
        return fail(why, whylen, "not yet valid");
    if (c->iat > now + TF_JWT_LEEWAY)
        return fail(why, whylen, "issued in the future");

    if ((rc = str_claim(p, "sub", c->sub, sizeof(c->sub))) != 1)
        return claim_fail(why, whylen, rc, "sub");
    if ((rc = str_claim(p, "tier", c->tier, sizeof(c->tier))) != 1)
        return claim_fail(why, whylen, rc, "tier");
    if ((rc = str_claim(p, "jti", c->jti, sizeof(c->jti))) == -1) /* optional */
        return claim_fail(why, whylen, rc, "jti");
    json_t *adm = json_object_get(p, "adm");
    if (adm != NULL && !json_is_boolean(adm)) /* "adm":"false" must not read as anything */
        return claim_fail(why, whylen, -1, "adm");
    c->admin = json_is_true(adm);
    return 0;
}

int tf_jwt_verify(const tf_jwt_keys_t *k, const char *token, size_t len, long long now, tf_jwt_claims_t *out, char *why,
                  size_t whylen)
{
    tf_jwt_claims_t c;
    memset(&c, 0, sizeof(c));
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (k == NULL)
        return fail(why, whylen, "token authentication is not configured");
    /* The cap matters beyond sanity: libjwt copies each segment with alloca. */
    if (token == NULL || len == 0)
        return fail(why, whylen, "malformed token (empty)");
    if (len > TF_JWT_MAX_TOKEN)
        return fail(why, whylen, "malformed token (too long)");

    /* header.payload.signature: exactly two dots, the parts split here. */
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return fail(why, whylen, "malformed token (not three parts)");
    const char *hs = token, *ps = d1 + 1, *ss = d2 + 1;
    size_t hn = (size_t)(d1 - token), pn = (size_t)(d2 - ps), sn = len - (size_t)(ss - token);
    if (!canonical_b64url(hs, hn) || !canonical_b64url(ps, pn) || (sn > 0 && !canonical_b64url(ss, sn)))
        return fail(why, whylen, "malformed token (not base64url)");

    /* The algorithm is ours to choose, not the token's: compare before
     * libjwt, which would verify with whatever the header names. */
    json_t *h = segment_object(hs, hn);
    if (h == NULL)
        return fail(why, whylen, "malformed token header");
    json_t *a = json_object_get(h, "alg"), *typ = json_object_get(h, "typ");
    int alg_ok = json_is_string(a) && json_string_length(a) == strlen(k->alg_name) &&
                 memcmp(json_string_value(a), k->alg_name, json_string_length(a)) == 0;
    /* libjwt refuses any typ but JWT (any case); say so rather than "bad signature". */
    int typ_ok = typ == NULL || (json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0);
    /* RFC 7515 4.1.11: extensions listed in crit must be understood; we know none. */
    int crit = json_object_get(h, "crit") != NULL;
    json_decref(h);
    if (!alg_ok)
        return fail(why, whylen, "wrong algorithm");
    if (!typ_ok)
        return fail(why, whylen, "malformed token header (typ)");
    if (crit)
        return fail(why, whylen, "unsupported critical header");
    if (sn == 0)
        return fail(why, whylen, "malformed token (no signature)");

    json_t *p = segment_object(ps, pn);
    if (p == NULL)
        return fail(why, whylen, "malformed token payload");

    /* jwt_decode wants a C string; the caller's buffer need not be one. */
    char *t = malloc(len + 1);
    if (t == NULL) {
        json_decref(p);
        return fail(why, whylen, "out of memory");
    }
    memcpy(t, token, len);
    t[len] = '\0';
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, t, k->verify_key, (int)k->verify_len);
    free(t);
    ERR_clear_error();
    jwt_alg_t used = j != NULL ? jwt_get_alg(j) : JWT_ALG_INVAL;
    jwt_free(j);
    if (rc != 0 || used != k->alg) {
        json_decref(p);
        return fail(why, whylen, rc != 0 ? "bad signature" : "wrong algorithm");
    }

    rc = check_claims(k, p, now, &c, why, whylen);
    json_decref(p);
    if (rc != 0)
        return -1;
    if (out != NULL)
        *out = c;
    return 0;
}
