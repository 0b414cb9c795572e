/*
 * tf_tls.c - see tf_tls.h.
 */
#include "tf_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <h2o.h>

/* Mozilla "intermediate" TLS 1.2 list without the DHE suites: ECDHE for
 * forward secrecy, AEAD only, which is also what RFC 7540 9.2.2 requires of
 * HTTP/2 over TLS 1.2. TLS 1.3 keeps OpenSSL's default suites. */
#define TLS12_CIPHERS                                                                                                  \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define SELF_SIGNED_DAYS 365

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Drains this thread's OpenSSL error queue into buf as "reason; reason".
 * The earliest entry is usually the cause (e.g. the system error under a
 * BIO failure), so they are kept in order. Only reason codes are printed,
 * never the data OpenSSL attaches, so nothing read from a key file leaks. */
static const char *ssl_reason(char *buf, size_t len)
{
    size_t used = 0;
    unsigned long e;
    int n = 0;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        if (n++ >= 3 || used + 3 >= len)
            continue; /* keep draining so the next caller starts clean */
        if (used > 0) {
            memcpy(buf + used, "; ", 3);
            used += 2;
        }
        ERR_error_string_n(e, buf + used, len - used);
        used += strlen(buf + used);
    }
    if (used == 0)
        snprintf(buf, len, "unknown OpenSSL error");
    return buf;
}

/* A key with a passphrase would make OpenSSL prompt on the terminal and hang
 * a server started under a supervisor; refuse it instead, and remember that
 * we were asked so the error can say why. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    if (asked != NULL)
        *(int *)asked = 1;
    return 0;
}

/* Only ENOENT counts as missing: a file we may not read (EACCES, ...) must
 * not trigger generation; loading it then reports the real reason. */
static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 || errno != ENOENT;
}

/* mkdir -p of path's directory part. Created directories get 0700: they
 * exist to hold the private key. Existing ones are left as they are. */
static int mkdir_parents(const char *path, char *err, size_t errlen)
{
    char *dir = strdup(path);
    if (dir == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) { /* relative file in cwd, or directly under / */
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            set_err(err, errlen, "cannot create directory '%s' for '%s': %s", dir, path, strerror(errno));
            free(dir);
            return -1;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(dir);
    return 0;
}

typedef int (*pem_writer_t)(FILE *fp, void *obj);

static int write_key_pem(FILE *fp, void *obj)
{
    /* PKCS#8, unencrypted: the file mode is the protection. */
    return PEM_write_PrivateKey(fp, obj, NULL, NULL, 0, NULL, NULL);
}

static int write_cert_pem(FILE *fp, void *obj)
{
    return PEM_write_X509(fp, obj);
}

/*
 * Writes a PEM file with exactly `mode`, whatever the umask. The data goes to
 * a temporary file in the same directory first, which is then hard-linked to
 * its name: a crash never leaves a half-written file under the real name, and
 * link() fails rather than replace a file another process created meanwhile.
 */
static int write_pem_file(const char *path, mode_t mode, pem_writer_t writer, void *obj, const char *what, char *err,
                          size_t errlen)
{
    char reason[512];
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".tmp.XXXXXX"));
    if (tmp == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));

    int fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s file '%s': %s", what, path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *fp = NULL;
    if (fchmod(fd, mode) != 0 || (fp = fdopen(fd, "w")) == NULL) {
        set_err(err, errlen, "cannot write %s file '%s': %s", what, path, strerror(errno));
        goto fail;
    }
    fd = -1; /* owned by fp now */
    if (!writer(fp, obj)) {
        set_err(err, errlen, "cannot write %s file '%s': %s", what, path, ssl_reason(reason, sizeof(reason)));
        goto fail;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        set_err(err, errlen, "cannot write %s file '%s': %s", what, path, strerror(errno));
        goto fail;
    }
    int rc = fclose(fp);
    fp = NULL;
    if (rc != 0) {
        set_err(err, errlen, "cannot write %s file '%s': %s", what, path, strerror(errno));
        goto fail;
    }
    if (link(tmp, path) != 0) {
        set_err(err, errlen, "cannot create %s file '%s': %s", what, path, strerror(errno));
        goto fail;
    }
    unlink(tmp);
    free(tmp);
    return 0;

fail:
    if (fp != NULL)
        fclose(fp);
    else if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0); /* self-signed: issuer is the cert itself */
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return 0;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* Random positive 127-bit serial (RFC 5280 4.1.2.2: at most 20 octets). */
static int set_random_serial(X509 *x)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return 0;
    raw[0] = (raw[0] & 0x7f) | 0x40; /* positive and non-zero, fixed length */
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    if (bn == NULL)
        return 0;
    int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int generate_self_signed(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    char reason[512];
    int ret = -1;
    X509 *x = NULL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        set_err(err, errlen, "cannot generate a key for '%s': %s", key_file, ssl_reason(reason, sizeof(reason)));
        goto out;
    }

    X509_NAME *name;
    if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) || !set_random_serial(x) ||
        X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), (long)SELF_SIGNED_DAYS * 24 * 60 * 60) == NULL ||
        !X509_set_pubkey(x, pkey) || (name = X509_get_subject_name(x)) == NULL ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) ||
        !X509_set_issuer_name(x, name) ||
        /* A leaf that clients pin directly as their trust anchor (curl
         * --cacert), so CA:FALSE: it must not vouch for anything else. That
         * rules out keyCertSign too (RFC 5280 4.2.1.3); ECDSA needs only
         * digitalSignature. OpenSSL 3 accepts this, also with -x509_strict. */
        !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, NID_ext_key_usage, "serverAuth") || !add_ext(x, NID_subject_key_identifier, "hash") ||
        !add_ext(x, NID_authority_key_identifier, "keyid:always") ||
        !add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") || !X509_sign(x, pkey, EVP_sha256())) {
        set_err(err, errlen, "cannot build a self-signed certificate for '%s': %s", cert_file,
                ssl_reason(reason, sizeof(reason)));
        goto out;
    }

    if (mkdir_parents(key_file, err, errlen) != 0 || mkdir_parents(cert_file, err, errlen) != 0)
        goto out;
    if (write_pem_file(key_file, 0600, write_key_pem, pkey, "key", err, errlen) != 0)
        goto out;
    if (write_pem_file(cert_file, 0644, write_cert_pem, x, "cert", err, errlen) != 0) {
        /* Do not leave a lone key behind: the next start would refuse to
         * generate over one half of a pair. */
        unlink(key_file);
        goto out;
    }
    ret = 0;

out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ret;
}

SSL_CTX *tf_tls_ctx_create(const char *cert_file, const char *key_file, int create_if_missing, char *err, size_t errlen)
{
    char reason[512];
    SSL_CTX *ctx = NULL;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (cert_file == NULL || *cert_file == '\0' || key_file == NULL || *key_file == '\0') {
        set_err(err, errlen, "TLS needs both a cert file and a key file");
        return NULL;
    }
    ERR_clear_error(); /* so ssl_reason() reports only what happens here */

    int have_cert = file_exists(cert_file), have_key = file_exists(key_file);
    if (!have_cert && !have_key && create_if_missing) {
        if (generate_self_signed(cert_file, key_file, err, errlen) != 0)
            return NULL;
    } else if (!have_cert || !have_key) {
        const char *missing = have_cert ? key_file : cert_file, *what = have_cert ? "key" : "cert";
        if (create_if_missing)
            set_err(err, errlen, "%s file '%s': %s (not generating a new pair: '%s' exists)", what, missing,
                    strerror(ENOENT), have_cert ? cert_file : key_file);
        else
            set_err(err, errlen, "%s file '%s': %s", what, missing, strerror(ENOENT));
        return NULL;
    }

    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
        set_err(err, errlen, "cannot create a TLS context: %s", ssl_reason(reason, sizeof(reason)));
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
        set_err(err, errlen, "cannot configure the TLS context: %s", ssl_reason(reason, sizeof(reason)));
        goto fail;
    }
    /* No compression (CRIME), no renegotiation (a client-driven CPU cost and
     * meaningless under HTTP/2, RFC 7540 9.2.1). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    int asked_passphrase = 0;
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked_passphrase);

    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        set_err(err, errlen, "cert file '%s': %s", cert_file, ssl_reason(reason, sizeof(reason)));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        /* OpenSSL 3 already compares the key with the loaded certificate
         * here, so a mismatch usually surfaces now, not in the check below. */
        unsigned long e = ERR_peek_last_error();
        int mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
        if (asked_passphrase) {
            set_err(err, errlen, "key file '%s' is passphrase-protected; an unencrypted key (mode 0600) is needed",
                    key_file);
            ERR_clear_error();
        } else if (mismatch)
            set_err(err, errlen, "key file '%s' does not match cert file '%s': %s", key_file, cert_file,
                    ssl_reason(reason, sizeof(reason)));
        else
            set_err(err, errlen, "key file '%s': %s", key_file, ssl_reason(reason, sizeof(reason)));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_err(err, errlen, "key file '%s' does not match cert file '%s': %s", key_file, cert_file,
                ssl_reason(reason, sizeof(reason)));
        goto fail;
    }

    /* The userdata points into this stack frame; do not keep it. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);

    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    return ctx;

fail:
    SSL_CTX_free(ctx);
    return NULL;
}
