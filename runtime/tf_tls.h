/*
 * tf_tls - the server's TLS context.
 *
 * One SSL_CTX, created at startup and shared read-only by every loop thread
 * (OpenSSL 3 contexts are safe to share once configured). It offers ALPN
 * "h2" and "http/1.1" (h2o_alpn_protocols, not the example's
 * h2o_http2_alpn_protocols, which would leave HTTP/1.1 and websocket clients
 * to fall back without negotiating).
 *
 * For development a self-signed certificate for localhost can be generated
 * on first start. Nothing here logs: errors come back as text naming the
 * file and OpenSSL's reason, and never contain key material.
 */
#ifndef TF_TLS_H
#define TF_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/*
 * Creates a server context: TLS 1.2 and 1.3 only, forward-secret AEAD
 * ciphers for TLS 1.2, no compression, no renegotiation. Loads the PEM
 * certificate chain from cert_file and the PEM private key from key_file
 * and checks that they belong together. Encrypted keys are refused rather
 * than prompting on the terminal.
 *
 * When create_if_missing is set and *both* files are absent, first writes a
 * self-signed certificate (EC P-256, CN=localhost, subjectAltName
 * DNS:localhost, IP:127.0.0.1, IP:::1, valid one year): key mode 0600, cert
 * mode 0644, parent directories created as needed (mode 0700). If only one
 * of the two exists nothing is generated, so a real key is never replaced.
 *
 * Returns NULL with a message in err (errlen bytes, always terminated) on
 * failure. The caller frees the result with SSL_CTX_free.
 */
SSL_CTX *tf_tls_ctx_create(const char *cert_file, const char *key_file, int create_if_missing, char *err, size_t errlen);

#endif
