/*
 * tf_netguard - the outbound address filter (SSRF defence) for fetches a
 * user chooses the target of (the web_crawl tool).
 *
 * The classifier is a pure function of an address: public, or one of the
 * forbidden kinds (loopback, private, link-local, CGNAT, multicast,
 * broadcast, documentation, benchmarking, reserved, unspecified, and the
 * IPv6 forms that embed a forbidden IPv4 address: IPv4-mapped,
 * IPv4-compatible, IPv4-translated, NAT64 64:ff9b::/96 and 6to4).
 *
 * It is enforced where libcurl connects (tf_netguard_curl): the
 * CURLOPT_OPENSOCKETFUNCTION callback sees the resolved address of every
 * connection attempt - each A/AAAA record, each redirect hop - and refuses
 * a forbidden one before a socket exists, so names that resolve (or are
 * rebound) to inside addresses never reach them. Host names are resolved
 * by libcurl's asynchronous (threaded) resolver: see tf_netguard_async_dns.
 */
#ifndef TF_NETGUARD_H
#define TF_NETGUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <curl/curl.h>

typedef enum tf_net_class {
    TF_NET_PUBLIC = 0,
    TF_NET_LOOPBACK,      /* 127/8, ::1 */
    TF_NET_PRIVATE,       /* 10/8, 172.16/12, 192.168/16, fc00::/7, 64:ff9b:1::/48 */
    TF_NET_SHARED,        /* 100.64/10 (carrier-grade NAT) */
    TF_NET_LINK_LOCAL,    /* 169.254/16 (cloud metadata), fe80::/10 */
    TF_NET_UNSPECIFIED,   /* 0.0.0.0, :: */
    TF_NET_THIS_NETWORK,  /* 0/8 */
    TF_NET_MULTICAST,     /* 224/4, ff00::/8 */
    TF_NET_BROADCAST,     /* 255.255.255.255 */
    TF_NET_DOCUMENTATION, /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20 */
    TF_NET_BENCHMARK,     /* 198.18/15, 2001:2::/48 */
    TF_NET_RESERVED,      /* 240/4, 192.0.0/24, 192.88.99/24, IPv6 outside 2000::/3 and the
                             special blocks inside it (2001::/23, 5f00::/16), ::/96, fec0::/10, 100::/64 */
    TF_NET_NOT_IP,        /* not AF_INET/AF_INET6, or too short */
} tf_net_class_t;

/* How an IPv6 address carries an IPv4 one (TF_NET_EMBED_NONE: it does not). */
typedef enum tf_net_embed {
    TF_NET_EMBED_NONE = 0,
    TF_NET_EMBED_MAPPED,     /* ::ffff:a.b.c.d */
    TF_NET_EMBED_COMPAT,     /* ::a.b.c.d (deprecated) */
    TF_NET_EMBED_TRANSLATED, /* ::ffff:0:a.b.c.d */
    TF_NET_EMBED_NAT64,      /* 64:ff9b::a.b.c.d */
    TF_NET_EMBED_6TO4,       /* 2002:AABB:CCDD::/48 */
} tf_net_embed_t;

/* v4: the address in host byte order (0x7f000001 is 127.0.0.1). */
tf_net_class_t tf_netguard_classify_v4(uint32_t addr);
/* v6: 16 bytes in network order; *embed (may be NULL) says how an IPv4 address was found in it. */
tf_net_class_t tf_netguard_classify_v6(const uint8_t a[16], tf_net_embed_t *embed);
/* A socket address (AF_INET or AF_INET6; anything else is TF_NET_NOT_IP). */
tf_net_class_t tf_netguard_classify(const struct sockaddr *sa, socklen_t len);

/* "loopback", "private", ... ("public" for TF_NET_PUBLIC). */
const char *tf_netguard_class_name(tf_net_class_t c);
const char *tf_netguard_embed_name(tf_net_embed_t e);

/*
 * The policy: public addresses only; with allow_private (tests, never in
 * production) also loopback, private and shared ones. Link-local (cloud
 * metadata), multicast, broadcast, unspecified and reserved stay forbidden.
 */
int tf_netguard_class_allowed(tf_net_class_t c, int allow_private);

/*
 * Classifies and decides; when refused, `why` (if not NULL) gets a sentence
 * such as "127.0.0.1 is a loopback address" or "::ffff:10.0.0.1 is an
 * IPv4-mapped private address". Returns 1 allowed, 0 refused.
 */
int tf_netguard_check(const struct sockaddr *sa, socklen_t len, int allow_private, char *why, size_t whylen);

/*
 * A URL a user asked for: absolute http:// or https:// with a host, no
 * user name or password. 1 when acceptable (*normalized, if not NULL, gets
 * curl's normalized form; free it with curl_free), else 0 with `why`.
 * Pure parsing: nothing is resolved.
 */
int tf_netguard_url_ok(const char *url, char **normalized, char *why, size_t whylen);

/* The per-transfer state of tf_netguard_curl. */
typedef struct tf_netguard {
    int allow_private;
    unsigned refused;  /* connection attempts refused */
    char why[256];     /* the first refusal */
} tf_netguard_t;

/*
 * Arms `easy`: every connection attempt is checked against `g` (refused
 * with CURL_SOCKET_BAD; curl then tries the next address or fails with
 * CURLE_COULDNT_CONNECT), protocols http and https only (redirects too), no
 * proxy (environment variables ignored), a fresh connection that is not
 * kept (a cached connection would skip the check). `g` must outlive the
 * transfer, or be detached first.
 */
void tf_netguard_curl(CURL *easy, tf_netguard_t *g);
/* The owner of `g` goes away before the transfer is dropped: from now on
 * every connection attempt of `easy` is refused and `g` is not touched. */
void tf_netguard_curl_detach(CURL *easy);

/* The CURLOPT_OPENSOCKETFUNCTION itself (clientp: a tf_netguard_t, or NULL = refuse all). */
curl_socket_t tf_netguard_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);

/*
 * Whether libcurl resolves names without blocking the caller (the
 * AsynchDNS feature: the threaded resolver or c-ares). *which, if not
 * NULL, gets "threaded", "c-ares <version>" or "none (blocking)".
 */
int tf_netguard_async_dns(const char **which);

#endif
