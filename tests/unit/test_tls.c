/*
 * test_tls.c - unit tests for runtime/tf_tls.c (TAP output).
 *
 * Works in a fresh temporary directory, which it removes at the end. The
 * handshakes run in memory (a BIO pair), so no socket or event loop is
 * involved: what is checked is the SSL_CTX that tf_tls_ctx_create returns,
 * including the ALPN callback h2o installs on it.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tf_tls.h"

static int test_n, test_failed;

static int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    printf("%sok %d - ", cond ? "" : "not ", ++test_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond)
        test_failed++;
    return cond;
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
    va_list ap;
    printf("#   ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static char tmpdir[64];

/* Paths under tmpdir; each call gets its own string, freed at exit. */
static char *paths[64];
static int npaths;

static const char *path_in(const char *rel)
{
    if (npaths == (int)(sizeof(paths) / sizeof(paths[0])))
        abort();
    if (asprintf(&paths[npaths], "%s/%s", tmpdir, rel) < 0)
        abort();
    return paths[npaths++];
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static X509 *load_cert(const char *p)
{
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static void write_file(const char *p, const char *data)
{
    FILE *f = fopen(p, "w");
    if (f != NULL) {
        fputs(data, f);
        fclose(f);
    }
}

/* --- certificate contents ------------------------------------------------ */

static void check_cert_contents(const char *cert_path)
{
    X509 *x = load_cert(cert_path);
    if (!ok(x != NULL, "generated cert parses as PEM")) {
        test_n += 7; /* keep numbering stable for the skipped checks */
        test_failed += 7;
        return;
    }

    ok(X509_get_version(x) == X509_VERSION_3, "cert is X.509 v3");

    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    ok(strcmp(cn, "localhost") == 0 && X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0,
       "subject CN=localhost, self-issued (got CN=%s)", cn);

    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[32] = "";
    size_t glen = 0;
    EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen);
    ok(EVP_PKEY_is_a(pk, "EC") && strcmp(group, "prime256v1") == 0 && X509_get_signature_nid(x) == NID_ecdsa_with_SHA256,
       "EC P-256 key, ecdsa-with-SHA256 signature (group %s, sig %s)", group, OBJ_nid2sn(X509_get_signature_nid(x)));

    /* Subject alternative names: exactly DNS:localhost, IP:127.0.0.1, IP:::1. */
    static const unsigned char v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
    int dns = 0, ip4 = 0, ip6 = 0, other = 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS && ASN1_STRING_length(gn->d.dNSName) == 9 &&
            memcmp(ASN1_STRING_get0_data(gn->d.dNSName), "localhost", 9) == 0)
            dns++;
        else if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == 4 &&
                 memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), v4, 4) == 0)
            ip4++;
        else if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == 16 &&
                 memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), v6, 16) == 0)
            ip6++;
        else
            other++;
    }
    GENERAL_NAMES_free(sans);
    ok(dns == 1 && ip4 == 1 && ip6 == 1 && other == 0,
       "subjectAltName is DNS:localhost, IP:127.0.0.1, IP:::1 (dns=%d ip4=%d ip6=%d other=%d)", dns, ip4, ip6, other);

    int days = -1, secs = -1;
    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
    ok(days == 365 && secs == 0 && X509_cmp_current_time(X509_get0_notBefore(x)) <= 0 &&
           X509_cmp_current_time(X509_get0_notAfter(x)) > 0,
       "valid from now for 365 days (got %d days %d s)", days, secs);

    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    ok(serial != NULL && !BN_is_negative(serial) && BN_num_bits(serial) >= 64,
       "serial is positive and random-sized (%d bits)", serial ? BN_num_bits(serial) : 0);
    BN_free(serial);

    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    ok(bc != NULL && !bc->ca && (X509_get_extended_key_usage(x) & XKU_SSL_SERVER),
       "basicConstraints CA:FALSE, extendedKeyUsage serverAuth");
    BASIC_CONSTRAINTS_free(bc);
    X509_free(x);
}

/* --- in-memory handshake -------------------------------------------------- */

typedef struct {
    const char *cafile;       /* trust anchor for the client; NULL = do not verify */
    const char *host, *ip;    /* what the client checks the certificate against */
    const char *alpn;         /* wire format, e.g. "\x02h2\x08http/1.1" */
    int min_version, max_version;
    const char *ciphers;      /* TLS 1.2 cipher list for the client, or NULL */
} client_opts_t;

typedef struct {
    int ok;
    char alpn[32];
    char version[16];
    long verify;
    unsigned long server_err;
} hs_result_t;

static hs_result_t handshake(SSL_CTX *sctx, const client_opts_t *o)
{
    hs_result_t r = {0};
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    if (o->cafile != NULL) {
        SSL_CTX_load_verify_locations(cctx, o->cafile, NULL);
        SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    }
    if (o->min_version || o->max_version) {
        /* Let the client go below Debian's system floor, so a refusal can
         * only come from the server. */
        SSL_CTX_set_security_level(cctx, 0);
        SSL_CTX_set_cipher_list(cctx, "ALL:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(cctx, o->min_version);
        SSL_CTX_set_max_proto_version(cctx, o->max_version);
    }
    if (o->ciphers != NULL)
        SSL_CTX_set_cipher_list(cctx, o->ciphers);

    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    if (o->alpn != NULL)
        SSL_set_alpn_protos(c, (const unsigned char *)o->alpn, (unsigned)strlen(o->alpn));
    if (o->host != NULL) {
        SSL_set_tlsext_host_name(c, o->host);
        X509_VERIFY_PARAM_set1_host(SSL_get0_param(c), o->host, 0);
    }
    if (o->ip != NULL)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c), o->ip);

    BIO *cb, *sb;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);

    int cdone = 0, sdone = 0;
    ERR_clear_error();
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone) {
            int rc = SSL_do_handshake(c);
            if (rc == 1)
                cdone = 1;
            else if (SSL_get_error(c, rc) != SSL_ERROR_WANT_READ && SSL_get_error(c, rc) != SSL_ERROR_WANT_WRITE)
                break;
        }
        if (!sdone) {
            int rc = SSL_do_handshake(s);
            if (rc == 1) {
                sdone = 1;
            } else if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ && SSL_get_error(s, rc) != SSL_ERROR_WANT_WRITE) {
                r.server_err = ERR_peek_error();
                break;
            }
        }
    }
    r.ok = cdone && sdone;
    r.verify = SSL_get_verify_result(c);
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(s, &p, &len);
    if (len > 0 && len < sizeof(r.alpn))
        memcpy(r.alpn, p, len);
    snprintf(r.version, sizeof(r.version), "%s", SSL_get_version(s));
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return r;
}

/* --- main ----------------------------------------------------------------- */

int main(void)
{
    char err[1024];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tf-tls-test.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    /* 1. Generation into a directory that does not exist yet, under a
     * permissive umask: the modes must not depend on it. */
    const char *cert = path_in("a/b/tls/cert.pem"), *key = path_in("a/b/tls/key.pem");
    mode_t old_umask = umask(0);
    SSL_CTX *ctx = tf_tls_ctx_create(cert, key, 1, err, sizeof(err));
    umask(old_umask);
    if (!ok(ctx != NULL, "generates a self-signed pair when both files are missing"))
        diag("%s", err);
    ok(mode_of(key) == 0600, "key file mode is 0600 (got %04o)", (unsigned)mode_of(key));
    ok(mode_of(cert) == 0644, "cert file mode is 0644 (got %04o)", (unsigned)mode_of(cert));
    ok(mode_of(path_in("a/b/tls")) == 0700 && mode_of(path_in("a")) == 0700,
       "parent directories created (mode 0700, got %04o)", (unsigned)mode_of(path_in("a/b/tls")));
    {
        char *k = slurp(key);
        ok(k != NULL && strstr(k, "-----BEGIN PRIVATE KEY-----") != NULL && strstr(k, "ENCRYPTED") == NULL,
           "key is an unencrypted PKCS#8 PEM");
        free(k);
    }
    {
        /* No temporary files left next to the results. */
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -qv -e '^cert.pem$' -e '^key.pem$'", path_in("a/b/tls"));
        ok(system(cmd) != 0, "only cert.pem and key.pem in the directory");
    }
    check_cert_contents(cert);

    /* 2. The context itself. */
    if (ctx != NULL) {
        long opts = SSL_CTX_get_options(ctx);
        ok((opts & SSL_OP_NO_COMPRESSION) && (opts & SSL_OP_NO_RENEGOTIATION) &&
               SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION,
           "context: TLS >= 1.2, no compression, no renegotiation");

        hs_result_t r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "localhost", .alpn = "\x02h2\x08http/1.1"});
        ok(r.ok && r.verify == X509_V_OK && strcmp(r.alpn, "h2") == 0,
           "client offering h2,http/1.1 verifies localhost and gets h2 (ok=%d verify=%ld alpn=%s %s)", r.ok, r.verify,
           r.alpn, r.version);

        r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "localhost", .alpn = "\x08http/1.1"});
        ok(r.ok && strcmp(r.alpn, "http/1.1") == 0, "client offering only http/1.1 gets http/1.1 (alpn=%s)", r.alpn);

        r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "localhost"});
        ok(r.ok && r.alpn[0] == '\0', "client without ALPN still connects (no protocol selected)");

        r = handshake(ctx, &(client_opts_t){.cafile = cert, .ip = "127.0.0.1", .alpn = "\x02h2"});
        ok(r.ok && r.verify == X509_V_OK, "certificate verifies for IP 127.0.0.1 (verify=%ld)", r.verify);
        r = handshake(ctx, &(client_opts_t){.cafile = cert, .ip = "::1", .alpn = "\x02h2"});
        ok(r.ok && r.verify == X509_V_OK, "certificate verifies for IP ::1 (verify=%ld)", r.verify);
        r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "example.com", .alpn = "\x02h2"});
        ok(!r.ok && r.verify == X509_V_ERR_HOSTNAME_MISMATCH, "certificate does not verify for example.com");

        r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "localhost", .min_version = TLS1_VERSION,
                                            .max_version = TLS1_1_VERSION});
        ok(!r.ok && ERR_GET_REASON(r.server_err) == SSL_R_UNSUPPORTED_PROTOCOL, "server refuses TLS 1.1 (%s)",
           ERR_reason_error_string(r.server_err) ? ERR_reason_error_string(r.server_err) : "-");

        r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "localhost", .min_version = TLS1_2_VERSION,
                                            .max_version = TLS1_2_VERSION, .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"});
        ok(r.ok && strcmp(r.version, "TLSv1.2") == 0, "TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256 works (%s)", r.version);

        r = handshake(ctx, &(client_opts_t){.cafile = cert, .host = "localhost", .min_version = TLS1_2_VERSION,
                                            .max_version = TLS1_2_VERSION, .ciphers = "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"});
        ok(!r.ok, "TLS 1.2 with a CBC-only client is refused");
        SSL_CTX_free(ctx);
    }

    /* 3. Reloading the same files, with and without create: no regeneration. */
    char *cert_before = slurp(cert), *key_before = slurp(key);
    ctx = tf_tls_ctx_create(cert, key, 0, err, sizeof(err));
    if (!ok(ctx != NULL, "reloads the existing pair without create"))
        diag("%s", err);
    SSL_CTX_free(ctx);
    ctx = tf_tls_ctx_create(cert, key, 1, err, sizeof(err));
    char *cert_after = slurp(cert), *key_after = slurp(key);
    ok(ctx != NULL && cert_before && cert_after && key_before && key_after && strcmp(cert_before, cert_after) == 0 &&
           strcmp(key_before, key_after) == 0,
       "with create on existing files, nothing is regenerated");
    SSL_CTX_free(ctx);
    free(cert_after);
    free(key_after);

    /* 4. A second, independent pair: its own key and serial. */
    const char *cert2 = path_in("other/cert.pem"), *key2 = path_in("other/key.pem");
    ctx = tf_tls_ctx_create(cert2, key2, 1, err, sizeof(err));
    if (!ok(ctx != NULL, "generates a second pair"))
        diag("%s", err);
    SSL_CTX_free(ctx);
    {
        X509 *a = load_cert(cert), *b = load_cert(cert2);
        ok(a && b && ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)) != 0 &&
               EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) != 1,
           "second pair has its own key and serial");
        X509_free(a);
        X509_free(b);
    }

    /* 5. Mismatched pair. */
    err[0] = '\0';
    ctx = tf_tls_ctx_create(cert, key2, 0, err, sizeof(err));
    ok(ctx == NULL && strstr(err, "does not match") && strstr(err, key2) && strstr(err, cert),
       "mismatched cert and key are refused, naming both files");
    diag("%s", err);
    SSL_CTX_free(ctx);
    {
        /* The first base64 characters of the key must not appear anywhere. */
        char probe[17] = "";
        if (key_before != NULL && strlen(key_before) > 28 + 16)
            memcpy(probe, key_before + 28, 16);
        ok(probe[0] != '\0' && strstr(err, "PRIVATE KEY") == NULL && strstr(err, probe) == NULL,
           "the message carries no key material");
    }

    /* 6. Missing files without create. */
    const char *nocert = path_in("missing/cert.pem"), *nokey = path_in("missing/key.pem");
    err[0] = '\0';
    ctx = tf_tls_ctx_create(nocert, nokey, 0, err, sizeof(err));
    ok(ctx == NULL && strstr(err, nocert) != NULL && strstr(err, "No such file") != NULL,
       "missing cert without create is refused with the path in the message");
    diag("%s", err);
    ok(mode_of(path_in("missing")) == (mode_t)-1, "and nothing was created");
    err[0] = '\0';
    ctx = tf_tls_ctx_create(cert, nokey, 0, err, sizeof(err));
    ok(ctx == NULL && strstr(err, nokey) != NULL, "missing key without create is refused with the path");
    diag("%s", err);

    /* 7. One half present, create on: refused, the other half not generated. */
    err[0] = '\0';
    ctx = tf_tls_ctx_create(cert, path_in("a/b/tls/key-new.pem"), 1, err, sizeof(err));
    ok(ctx == NULL && strstr(err, "key-new.pem") != NULL && mode_of(path_in("a/b/tls/key-new.pem")) == (mode_t)-1,
       "only the cert present with create: refused, no key generated over it");
    diag("%s", err);

    /* 8. Broken and encrypted inputs. */
    write_file(path_in("garbage.pem"), "not a certificate\n");
    err[0] = '\0';
    ctx = tf_tls_ctx_create(path_in("garbage.pem"), key, 0, err, sizeof(err));
    ok(ctx == NULL && strstr(err, path_in("garbage.pem")) != NULL, "unparsable cert is refused with its path");
    diag("%s", err);
    {
        /* An encrypted key must fail, not prompt on the terminal. */
        FILE *kf = fopen(key, "r");
        EVP_PKEY *pk = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
        if (kf)
            fclose(kf);
        FILE *ef = fopen(path_in("enc.pem"), "w");
        if (pk && ef)
            PEM_write_PrivateKey(ef, pk, EVP_aes_256_cbc(), (unsigned char *)"secret", 6, NULL, NULL);
        if (ef)
            fclose(ef);
        EVP_PKEY_free(pk);
        err[0] = '\0';
        ctx = tf_tls_ctx_create(cert, path_in("enc.pem"), 0, err, sizeof(err));
        ok(ctx == NULL && strstr(err, path_in("enc.pem")) != NULL && strstr(err, "passphrase") != NULL,
           "passphrase-protected key is refused, not prompted for");
        diag("%s", err);
    }

    /* 9. A tiny error buffer is still terminated (ASan checks the bounds). */
    char small[12];
    memset(small, 'x', sizeof(small));
    ctx = tf_tls_ctx_create(nocert, nokey, 0, small, sizeof(small));
    ok(ctx == NULL && memchr(small, '\0', sizeof(small)) != NULL, "short error buffer is truncated and terminated");
    ok(tf_tls_ctx_create(NULL, key, 1, NULL, 0) == NULL, "NULL cert path and NULL err buffer are handled");

    free(cert_before);
    free(key_before);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < npaths; i++)
        free(paths[i]);

    printf("1..%d\n", test_n);
    return test_failed ? 1 : 0;
}
