/*
 * tf_netguard.c - see tf_netguard.h.
 *
 * Ranges follow the IANA IPv4 and IPv6 special-purpose address registries
 * (RFC 6890 and updates). IPv6 is allowed only inside 2000::/3 (global
 * unicast) minus its special blocks, plus the NAT64 well-known prefix and
 * 6to4 when the IPv4 address they carry is public.
 */
#include "tf_netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int v4_in(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (a & mask) == (net & mask);
}

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

tf_net_class_t tf_netguard_classify_v4(uint32_t a)
{
    if (a == 0xffffffffu)
        return TF_NET_BROADCAST;
    if (a == 0)
        return TF_NET_UNSPECIFIED;
    if (v4_in(a, V4(0, 0, 0, 0), 8))
        return TF_NET_THIS_NETWORK;
    if (v4_in(a, V4(127, 0, 0, 0), 8))
        return TF_NET_LOOPBACK;
    if (v4_in(a, V4(10, 0, 0, 0), 8) || v4_in(a, V4(172, 16, 0, 0), 12) || v4_in(a, V4(192, 168, 0, 0), 16))
        return TF_NET_PRIVATE;
    if (v4_in(a, V4(100, 64, 0, 0), 10))
        return TF_NET_SHARED;
    if (v4_in(a, V4(169, 254, 0, 0), 16))
        return TF_NET_LINK_LOCAL;
    if (v4_in(a, V4(224, 0, 0, 0), 4))
        return TF_NET_MULTICAST;
    if (v4_in(a, V4(240, 0, 0, 0), 4))
        return TF_NET_RESERVED;
    if (v4_in(a, V4(192, 0, 2, 0), 24) || v4_in(a, V4(198, 51, 100, 0), 24) || v4_in(a, V4(203, 0, 113, 0), 24))
        return TF_NET_DOCUMENTATION;
    if (v4_in(a, V4(198, 18, 0, 0), 15))
        return TF_NET_BENCHMARK;
    /* IETF protocol assignments (192.0.0.0/24: DS-Lite, NAT64 discovery ...)
     * and the deprecated 6to4 relay anycast. */
    if (v4_in(a, V4(192, 0, 0, 0), 24) || v4_in(a, V4(192, 88, 99, 0), 24))
        return TF_NET_RESERVED;
    return TF_NET_PUBLIC;
}

static uint32_t v4_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

tf_net_class_t tf_netguard_classify_v6(const uint8_t a[16], tf_net_embed_t *embed)
{
    tf_net_embed_t dummy;
    if (embed == NULL)
        embed = &dummy;
    *embed = TF_NET_EMBED_NONE;
    if (zeros(a, 16))
        return TF_NET_UNSPECIFIED;
    if (zeros(a, 15) && a[15] == 1)
        return TF_NET_LOOPBACK;
    if (zeros(a, 10) && a[10] == 0xff && a[11] == 0xff) {
        *embed = TF_NET_EMBED_MAPPED;
        return tf_netguard_classify_v4(v4_at(a + 12));
    }
    if (zeros(a, 12)) {
        /* ::a.b.c.d: deprecated (RFC 4291), never legitimate on the wire. */
        *embed = TF_NET_EMBED_COMPAT;
        tf_net_class_t c = tf_netguard_classify_v4(v4_at(a + 12));
        return c == TF_NET_PUBLIC ? TF_NET_RESERVED : c;
    }
    if (zeros(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0) {
        /* ::ffff:0:a.b.c.d (SIIT): not globally routed either. */
        *embed = TF_NET_EMBED_TRANSLATED;
        tf_net_class_t c = tf_netguard_classify_v4(v4_at(a + 12));
        return c == TF_NET_PUBLIC ? TF_NET_RESERVED : c;
    }
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, nat64, 12) == 0) {
        *embed = TF_NET_EMBED_NAT64;
        return tf_netguard_classify_v4(v4_at(a + 12));
    }
    static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}; /* 64:ff9b:1::/48, RFC 8215 */
    if (memcmp(a, nat64_local, 6) == 0)
        return TF_NET_PRIVATE;
    if ((a[0] & 0xe0) != 0x20) {
        /* Outside 2000::/3, global unicast. */
        if (a[0] == 0xff)
            return TF_NET_MULTICAST;
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
            return TF_NET_LINK_LOCAL;
        if ((a[0] & 0xfe) == 0xfc)
            return TF_NET_PRIVATE; /* fc00::/7 unique local */
        return TF_NET_RESERVED;    /* fec0::/10 site-local, 100::/64 discard, 5f00::/16 SRv6, unassigned */
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        /* 6to4: 2002:AABB:CCDD::/48 carries a.b.c.d. */
        *embed = TF_NET_EMBED_6TO4;
        return tf_netguard_classify_v4(v4_at(a + 2));
    }
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return TF_NET_DOCUMENTATION; /* 2001:db8::/32 */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] == 0x02 && a[4] == 0 && a[5] == 0)
        return TF_NET_BENCHMARK; /* 2001:2::/48 */
    if (a[0] == 0x20 && a[1] == 0x01 && (a[2] & 0xfe) == 0x00)
        return TF_NET_RESERVED; /* 2001::/23: Teredo (2001::/32), ORCHID, AMT ... */
    if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0x00)
        return TF_NET_DOCUMENTATION; /* 3fff::/20, RFC 9637 */
    return TF_NET_PUBLIC;
}

tf_net_class_t tf_netguard_classify(const struct sockaddr *sa, socklen_t len)
{
    if (sa == NULL)
        return TF_NET_NOT_IP;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return tf_netguard_classify_v4(ntohl(s->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        return tf_netguard_classify_v6(s->sin6_addr.s6_addr, NULL);
    }
    return TF_NET_NOT_IP;
}

const char *tf_netguard_class_name(tf_net_class_t c)
{
    switch (c) {
    case TF_NET_PUBLIC: return "public";
    case TF_NET_LOOPBACK: return "loopback";
    case TF_NET_PRIVATE: return "private";
    case TF_NET_SHARED: return "shared address space (carrier-grade NAT)";
    case TF_NET_LINK_LOCAL: return "link-local";
    case TF_NET_UNSPECIFIED: return "unspecified";
    case TF_NET_THIS_NETWORK: return "this network (0.0.0.0/8)";
    case TF_NET_MULTICAST: return "multicast";
    case TF_NET_BROADCAST: return "broadcast";
    case TF_NET_DOCUMENTATION: return "documentation";
    case TF_NET_BENCHMARK: return "benchmarking";
    case TF_NET_RESERVED: return "reserved";
    case TF_NET_NOT_IP: return "not an IP address";
    }
    return "unknown";
}

const char *tf_netguard_embed_name(tf_net_embed_t e)
{
    switch (e) {
    case TF_NET_EMBED_NONE: return "";
    case TF_NET_EMBED_MAPPED: return "IPv4-mapped";
    case TF_NET_EMBED_COMPAT: return "IPv4-compatible";
    case TF_NET_EMBED_TRANSLATED: return "IPv4-translated";
    case TF_NET_EMBED_NAT64: return "NAT64";
    case TF_NET_EMBED_6TO4: return "6to4";
    }
    return "";
}

int tf_netguard_class_allowed(tf_net_class_t c, int allow_private)
{
    if (c == TF_NET_PUBLIC)
        return 1;
    return allow_private && (c == TF_NET_LOOPBACK || c == TF_NET_PRIVATE || c == TF_NET_SHARED);
}

int tf_netguard_check(const struct sockaddr *sa, socklen_t len, int allow_private, char *why, size_t whylen)
{
    tf_net_class_t c = TF_NET_NOT_IP;
    tf_net_embed_t e = TF_NET_EMBED_NONE;
    char text[INET6_ADDRSTRLEN] = "?", inner[INET_ADDRSTRLEN] = "";
    if (sa != NULL && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        c = tf_netguard_classify_v4(ntohl(s->sin_addr.s_addr));
        inet_ntop(AF_INET, &s->sin_addr, text, sizeof(text));
    } else if (sa != NULL && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        const uint8_t *a = s->sin6_addr.s6_addr;
        c = tf_netguard_classify_v6(a, &e);
        inet_ntop(AF_INET6, &s->sin6_addr, text, sizeof(text));
        if (e != TF_NET_EMBED_NONE)
            inet_ntop(AF_INET, e == TF_NET_EMBED_6TO4 ? a + 2 : a + 12, inner, sizeof(inner));
    }
    if (tf_netguard_class_allowed(c, allow_private))
        return 1;
    if (why != NULL && whylen > 0) {
        if (c == TF_NET_NOT_IP)
            snprintf(why, whylen, "the address is not an IPv4 or IPv6 address");
        else if (e != TF_NET_EMBED_NONE)
            snprintf(why, whylen, "%s is not a public address (%s, %s %s)", text, tf_netguard_class_name(c), tf_netguard_embed_name(e), inner);
        else
            snprintf(why, whylen, "%s is not a public address (%s)", text, tf_netguard_class_name(c));
    }
    return 0;
}

int tf_netguard_url_ok(const char *url, char **normalized, char *why, size_t whylen)
{
    char tmp[8];
    if (why == NULL || whylen == 0) {
        why = tmp;
        whylen = sizeof(tmp);
    }
    why[0] = '\0';
    if (normalized != NULL)
        *normalized = NULL;
    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    int ok = 0;
    char *scheme = NULL, *user = NULL, *password = NULL, *options = NULL, *host = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        snprintf(why, whylen, "not a valid absolute URL (%s)", curl_url_strerror(rc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(why, whylen, "only http and https URLs are fetched%s%s", scheme ? ", not " : "", scheme ? scheme : "");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK || curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_OPTIONS, &options, 0) == CURLUE_OK) {
        snprintf(why, whylen, "URLs with a user name or password (user:pass@host) are refused");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        snprintf(why, whylen, "the URL has no host");
        goto out;
    }
    if (normalized != NULL && curl_url_get(u, CURLUPART_URL, normalized, 0) != CURLUE_OK) {
        snprintf(why, whylen, "the URL could not be normalized");
        goto out;
    }
    ok = 1;
out:
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_free(options);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

curl_socket_t tf_netguard_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    tf_netguard_t *g = clientp;
    if (g == NULL || address == NULL || purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    char why[200];
    if (!tf_netguard_check(&address->addr, (socklen_t)address->addrlen, g->allow_private, why, sizeof(why))) {
        /* Keep each distinct reason (localhost: 127.0.0.1 and ::1). */
        if (g->refused++ == 0) {
            snprintf(g->why, sizeof(g->why), "%s", why);
        } else if (strstr(g->why, why) == NULL) {
            size_t n = strlen(g->why);
            if (n + 2 + strlen(why) < sizeof(g->why))
                snprintf(g->why + n, sizeof(g->why) - n, "; %s", why);
        }
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void tf_netguard_curl(CURL *easy, tf_netguard_t *g)
{
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, tf_netguard_opensocket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* "" = no proxy at all, http_proxy/HTTPS_PROXY/ALL_PROXY ignored. */
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    /* The loop's connection cache holds connections to providers (which may
     * live on private addresses); a reused connection opens no socket, so it
     * would never be checked. A fresh one, dropped afterwards. */
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
}

void tf_netguard_curl_detach(CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, NULL);
}

int tf_netguard_async_dns(const char **which)
{
    const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
    const char *w;
    int async = d != NULL && (d->features & CURL_VERSION_ASYNCHDNS) != 0;
    if (!async)
        w = "none (blocking)";
    else if (d->ares != NULL || d->ares_num != 0)
        w = "c-ares";
    else
        w = "threaded";
    if (which != NULL)
        *which = w;
    return async;
}
