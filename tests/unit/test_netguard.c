/*
 * tf_netguard unit test: every forbidden IPv4 and IPv6 range (first and last
 * address, and the public neighbours just outside), the IPv6 forms that
 * carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4), many
 * public addresses, the policy with and without allow_private, the
 * refusal sentences, odd IPv4 spellings, the URL check, and the
 * CURLOPT_OPENSOCKETFUNCTION callback itself (fed addresses by hand).
 *
 * No traffic: nothing here connects, resolves or sends anything. The only
 * sockets made are by the open-socket callback for allowed addresses, and
 * they are closed unconnected.
 *
 * Build: cc -Iruntime tests/unit/test_netguard.c runtime/tf_netguard.c $(pkg-config --cflags --libs libcurl)
 */
#include "tap.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "tf_netguard.h"


typedef struct {
    const char *addr;
    tf_net_class_t want;
} case_t;

/* Parses an IPv4 or IPv6 literal into a sockaddr; its length, 0 if unparsable. */
static socklen_t sa_of(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(80);
        return sizeof(*s4);
    }
    if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(80);
        return sizeof(*s6);
    }
    return 0;
}

static tf_net_class_t classify_text(const char *text, int *parsed)
{
    struct sockaddr_storage ss;
    socklen_t len = sa_of(text, &ss);
    *parsed = len != 0;
    return tf_netguard_classify((struct sockaddr *)&ss, len);
}

static void run_cases(const char *what, const case_t *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int parsed;
        tf_net_class_t c = classify_text(cases[i].addr, &parsed);
        ok(parsed && c == cases[i].want, "%s: %s is %s (got %s)", what, cases[i].addr, tf_netguard_class_name(cases[i].want),
           tf_netguard_class_name(c));
    }
}

#define RUN(what, arr) run_cases(what, arr, sizeof(arr) / sizeof(arr[0]))

/* Every forbidden IPv4 range: its edges, and public neighbours outside them. */
static const case_t v4[] = {
    {"0.0.0.0", TF_NET_UNSPECIFIED},
    {"0.0.0.1", TF_NET_THIS_NETWORK},
    {"0.1.2.3", TF_NET_THIS_NETWORK},
    {"0.255.255.255", TF_NET_THIS_NETWORK},
    {"1.0.0.0", TF_NET_PUBLIC},
    {"9.255.255.255", TF_NET_PUBLIC},
    {"10.0.0.0", TF_NET_PRIVATE},
    {"10.1.2.3", TF_NET_PRIVATE},
    {"10.255.255.255", TF_NET_PRIVATE},
    {"11.0.0.0", TF_NET_PUBLIC},
    {"100.63.255.255", TF_NET_PUBLIC},
    {"100.64.0.0", TF_NET_SHARED},
    {"100.100.100.200", TF_NET_SHARED},
    {"100.127.255.255", TF_NET_SHARED},
    {"100.128.0.0", TF_NET_PUBLIC},
    {"126.255.255.255", TF_NET_PUBLIC},
    {"127.0.0.0", TF_NET_LOOPBACK},
    {"127.0.0.1", TF_NET_LOOPBACK},
    {"127.1.2.3", TF_NET_LOOPBACK},
    {"127.255.255.255", TF_NET_LOOPBACK},
    {"128.0.0.0", TF_NET_PUBLIC},
    {"169.253.255.255", TF_NET_PUBLIC},
    {"169.254.0.0", TF_NET_LINK_LOCAL},
    {"169.254.169.254", TF_NET_LINK_LOCAL},
    {"169.254.255.255", TF_NET_LINK_LOCAL},
    {"169.255.0.0", TF_NET_PUBLIC},
    {"172.15.255.255", TF_NET_PUBLIC},
    {"172.16.0.0", TF_NET_PRIVATE},
    {"172.20.10.1", TF_NET_PRIVATE},
    {"172.31.255.255", TF_NET_PRIVATE},
    {"172.32.0.0", TF_NET_PUBLIC},
    {"191.255.255.255", TF_NET_PUBLIC},
    {"192.0.0.0", TF_NET_RESERVED},
    {"192.0.0.8", TF_NET_RESERVED},
    {"192.0.0.255", TF_NET_RESERVED},
    {"192.0.1.0", TF_NET_PUBLIC},
    {"192.0.1.255", TF_NET_PUBLIC},
    {"192.0.2.0", TF_NET_DOCUMENTATION},
    {"192.0.2.123", TF_NET_DOCUMENTATION},
    {"192.0.2.255", TF_NET_DOCUMENTATION},
    {"192.0.3.0", TF_NET_PUBLIC},
    {"192.88.98.255", TF_NET_PUBLIC},
    {"192.88.99.0", TF_NET_RESERVED},
    {"192.88.99.255", TF_NET_RESERVED},
    {"192.88.100.0", TF_NET_PUBLIC},
    {"192.167.255.255", TF_NET_PUBLIC},
    {"192.168.0.0", TF_NET_PRIVATE},
    {"192.168.1.1", TF_NET_PRIVATE},
    {"192.168.255.255", TF_NET_PRIVATE},
    {"192.169.0.0", TF_NET_PUBLIC},
    {"198.17.255.255", TF_NET_PUBLIC},
    {"198.18.0.0", TF_NET_BENCHMARK},
    {"198.19.255.255", TF_NET_BENCHMARK},
    {"198.20.0.0", TF_NET_PUBLIC},
    {"198.51.99.255", TF_NET_PUBLIC},
    {"198.51.100.0", TF_NET_DOCUMENTATION},
    {"198.51.100.255", TF_NET_DOCUMENTATION},
    {"198.51.101.0", TF_NET_PUBLIC},
    {"203.0.112.255", TF_NET_PUBLIC},
    {"203.0.113.0", TF_NET_DOCUMENTATION},
    {"203.0.113.255", TF_NET_DOCUMENTATION},
    {"203.0.114.0", TF_NET_PUBLIC},
    {"223.255.255.255", TF_NET_PUBLIC},
    {"224.0.0.0", TF_NET_MULTICAST},
    {"224.0.0.251", TF_NET_MULTICAST},
    {"239.255.255.250", TF_NET_MULTICAST},
    {"239.255.255.255", TF_NET_MULTICAST},
    {"240.0.0.0", TF_NET_RESERVED},
    {"250.1.2.3", TF_NET_RESERVED},
    {"255.255.255.254", TF_NET_RESERVED},
    {"255.255.255.255", TF_NET_BROADCAST},
};

/* Public IPv4 addresses (well-known resolvers, CDNs, sites). */
static const char *const v4_public[] = {
    "1.1.1.1",       "1.0.0.1",        "8.8.8.8",        "8.8.4.4",       "9.9.9.9",         "208.67.222.222", "4.2.2.2",
    "93.184.216.34", "140.82.112.3",   "151.101.1.69",   "104.16.132.229", "13.107.42.14",  "185.199.108.153", "142.250.74.46",
    "17.253.144.10", "31.13.72.36",    "52.95.110.1",    "81.2.69.160",   "200.160.2.3",     "223.5.5.5",      "77.88.8.8",
    "100.63.0.1",    "100.128.0.1",    "172.217.16.142", "192.0.1.1",     "198.51.99.1",     "203.0.114.1",    "126.0.0.1",
};

/* Forbidden IPv6: special ranges and forms carrying a forbidden IPv4 address. */
static const case_t v6[] = {
    {"::", TF_NET_UNSPECIFIED},
    {"::1", TF_NET_LOOPBACK},
    /* IPv4-mapped */
    {"::ffff:127.0.0.1", TF_NET_LOOPBACK},
    {"::ffff:7f00:1", TF_NET_LOOPBACK},
    {"::ffff:10.1.2.3", TF_NET_PRIVATE},
    {"::ffff:172.16.0.1", TF_NET_PRIVATE},
    {"::ffff:192.168.0.1", TF_NET_PRIVATE},
    {"::ffff:100.64.0.1", TF_NET_SHARED},
    {"::ffff:169.254.169.254", TF_NET_LINK_LOCAL},
    {"::ffff:0.0.0.0", TF_NET_UNSPECIFIED},
    {"::ffff:0.1.2.3", TF_NET_THIS_NETWORK},
    {"::ffff:224.0.0.1", TF_NET_MULTICAST},
    {"::ffff:255.255.255.255", TF_NET_BROADCAST},
    {"::ffff:192.0.2.1", TF_NET_DOCUMENTATION},
    {"::ffff:198.18.0.1", TF_NET_BENCHMARK},
    {"::ffff:240.0.0.1", TF_NET_RESERVED},
    /* IPv4-compatible (deprecated): forbidden whatever it carries */
    {"::127.0.0.1", TF_NET_LOOPBACK},
    {"::10.0.0.1", TF_NET_PRIVATE},
    {"::169.254.169.254", TF_NET_LINK_LOCAL},
    {"::0.0.0.2", TF_NET_THIS_NETWORK},
    {"::8.8.8.8", TF_NET_RESERVED},
    /* IPv4-translated (SIIT) */
    {"::ffff:0:127.0.0.1", TF_NET_LOOPBACK},
    {"::ffff:0:10.0.0.1", TF_NET_PRIVATE},
    {"::ffff:0:8.8.8.8", TF_NET_RESERVED},
    /* NAT64 well-known prefix, and the local-use one */
    {"64:ff9b::127.0.0.1", TF_NET_LOOPBACK},
    {"64:ff9b::7f00:1", TF_NET_LOOPBACK},
    {"64:ff9b::10.0.0.1", TF_NET_PRIVATE},
    {"64:ff9b::192.168.1.1", TF_NET_PRIVATE},
    {"64:ff9b::169.254.169.254", TF_NET_LINK_LOCAL},
    {"64:ff9b::100.64.0.1", TF_NET_SHARED},
    {"64:ff9b::0.0.0.0", TF_NET_UNSPECIFIED},
    {"64:ff9b::ffff:ffff", TF_NET_BROADCAST},
    {"64:ff9b:1::1", TF_NET_PRIVATE},
    {"64:ff9b:1:ffff::8.8.8.8", TF_NET_PRIVATE},
    /* 6to4 carrying a forbidden IPv4 address */
    {"2002:7f00:1::", TF_NET_LOOPBACK},
    {"2002:7f00:1::1", TF_NET_LOOPBACK},
    {"2002:a00:1::1", TF_NET_PRIVATE},
    {"2002:ac10:1::1", TF_NET_PRIVATE},
    {"2002:c0a8:101::1", TF_NET_PRIVATE},
    {"2002:a9fe:a9fe::1", TF_NET_LINK_LOCAL},
    {"2002:6440:1::1", TF_NET_SHARED},
    {"2002::1", TF_NET_UNSPECIFIED},
    {"2002:e000:1::1", TF_NET_MULTICAST},
    {"2002:ffff:ffff::1", TF_NET_BROADCAST},
    {"2002:c000:201::1", TF_NET_DOCUMENTATION},
    /* link-local fe80::/10 */
    {"fe80::", TF_NET_LINK_LOCAL},
    {"fe80::1", TF_NET_LINK_LOCAL},
    {"fe80::abcd:ef01:2345:6789", TF_NET_LINK_LOCAL},
    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TF_NET_LINK_LOCAL},
    /* site-local fec0::/10 (deprecated) */
    {"fec0::1", TF_NET_RESERVED},
    {"feff::1", TF_NET_RESERVED},
    /* unique local fc00::/7 */
    {"fc00::", TF_NET_PRIVATE},
    {"fc00::1", TF_NET_PRIVATE},
    {"fd00::1", TF_NET_PRIVATE},
    {"fd12:3456:789a::1", TF_NET_PRIVATE},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TF_NET_PRIVATE},
    {"fbff:ffff::1", TF_NET_RESERVED},
    {"fe00::1", TF_NET_RESERVED},
    /* multicast */
    {"ff00::", TF_NET_MULTICAST},
    {"ff02::1", TF_NET_MULTICAST},
    {"ff05::1:3", TF_NET_MULTICAST},
    {"ff0e::1", TF_NET_MULTICAST},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TF_NET_MULTICAST},
    /* documentation, benchmarking */
    {"2001:db8::", TF_NET_DOCUMENTATION},
    {"2001:db8::1", TF_NET_DOCUMENTATION},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", TF_NET_DOCUMENTATION},
    {"3fff::1", TF_NET_DOCUMENTATION},
    {"3fff:fff:ffff::1", TF_NET_DOCUMENTATION},
    {"2001:2::", TF_NET_BENCHMARK},
    {"2001:2:0:ffff::1", TF_NET_BENCHMARK},
    /* IETF protocol assignments 2001::/23 (Teredo 2001::/32 ...) */
    {"2001::", TF_NET_RESERVED},
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", TF_NET_RESERVED},
    {"2001:10::1", TF_NET_RESERVED},
    {"2001:1ff:ffff::1", TF_NET_RESERVED},
    /* outside 2000::/3 */
    {"::1:0:0:1", TF_NET_RESERVED},
    {"100::1", TF_NET_RESERVED},
    {"1::1", TF_NET_RESERVED},
    {"1fff:ffff::1", TF_NET_RESERVED},
    {"4000::1", TF_NET_RESERVED},
    {"5f00::1", TF_NET_RESERVED},
    {"8000::1", TF_NET_RESERVED},
    {"e000::1", TF_NET_RESERVED},
};

/* Public IPv6 addresses, and embeddings of public IPv4 addresses that are legitimate. */
static const char *const v6_public[] = {
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111", "2606:4700:4700::1001", "2620:fe::fe",
    "2a00:1450:4001:800::200e", "2a03:2880:f12f:83:face:b00c:0:25de", "2400:cb00:2048:1::c629:d7a2", "2c0f:fb50:4002::1",
    "2001:200::1", /* just past 2001::/23 */
    "2001:db7:ffff::1", "2001:db9::1", "2000::1", "3ffe:ffff::1", "3fff:1000::1", /* just past 3fff::/20 */
    "2002:808:808::1",    /* 6to4 of 8.8.8.8 */
    "2002:101:101::1",    /* 6to4 of 1.1.1.1 */
    "64:ff9b::8.8.8.8",   /* NAT64 of 8.8.8.8 */
    "64:ff9b::101:101",   /* NAT64 of 1.1.1.1 */
    "64:ff9b::93.184.216.34",
    "::ffff:8.8.8.8",     /* IPv4-mapped public */
    "::ffff:140.82.112.3",
};

static void test_embed(void)
{
    static const struct {
        const char *addr;
        tf_net_embed_t e;
    } em[] = {
        {"::ffff:127.0.0.1", TF_NET_EMBED_MAPPED},   {"::10.0.0.1", TF_NET_EMBED_COMPAT},    {"::ffff:0:10.0.0.1", TF_NET_EMBED_TRANSLATED},
        {"64:ff9b::10.0.0.1", TF_NET_EMBED_NAT64},   {"2002:a00:1::1", TF_NET_EMBED_6TO4},   {"2606:4700:4700::1111", TF_NET_EMBED_NONE},
        {"::1", TF_NET_EMBED_NONE},
    };
    for (size_t i = 0; i < sizeof(em) / sizeof(em[0]); i++) {
        struct in6_addr a;
        tf_net_embed_t e = TF_NET_EMBED_NONE;
        inet_pton(AF_INET6, em[i].addr, &a);
        tf_netguard_classify_v6(a.s6_addr, &e);
        ok(e == em[i].e, "embedding of %s is '%s'", em[i].addr, tf_netguard_embed_name(em[i].e));
    }
}

static void test_sockaddr_shapes(void)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ok(tf_netguard_classify((struct sockaddr *)&un, sizeof(un)) == TF_NET_NOT_IP, "an AF_UNIX address is not an IP address");
    struct sockaddr_storage ss;
    socklen_t len = sa_of("8.8.8.8", &ss);
    ok(tf_netguard_classify((struct sockaddr *)&ss, len - 1) == TF_NET_NOT_IP, "a truncated sockaddr_in is refused");
    len = sa_of("2001:4860:4860::8888", &ss);
    ok(tf_netguard_classify((struct sockaddr *)&ss, len - 1) == TF_NET_NOT_IP, "a truncated sockaddr_in6 is refused");
    ok(tf_netguard_classify(NULL, 0) == TF_NET_NOT_IP, "no address is refused");
    ok(!tf_netguard_check((struct sockaddr *)&un, sizeof(un), 1, NULL, 0), "  ... and never allowed, not even with allow_private");
    /* Scope ids do not matter: fe80::1%eth0 is link-local. */
    len = sa_of("fe80::1", &ss);
    ((struct sockaddr_in6 *)&ss)->sin6_scope_id = 2;
    ok(tf_netguard_classify((struct sockaddr *)&ss, len) == TF_NET_LINK_LOCAL, "fe80::1%%2 (with a scope id) is link-local");
}

static void test_policy(void)
{
    static const tf_net_class_t never[] = {TF_NET_LINK_LOCAL, TF_NET_UNSPECIFIED, TF_NET_THIS_NETWORK, TF_NET_MULTICAST, TF_NET_BROADCAST,
                                           TF_NET_DOCUMENTATION, TF_NET_BENCHMARK, TF_NET_RESERVED, TF_NET_NOT_IP};
    static const tf_net_class_t test_only[] = {TF_NET_LOOPBACK, TF_NET_PRIVATE, TF_NET_SHARED};
    ok(tf_netguard_class_allowed(TF_NET_PUBLIC, 0) && tf_netguard_class_allowed(TF_NET_PUBLIC, 1), "public: allowed");
    for (size_t i = 0; i < sizeof(test_only) / sizeof(test_only[0]); i++)
        ok(!tf_netguard_class_allowed(test_only[i], 0) && tf_netguard_class_allowed(test_only[i], 1),
           "%s: refused by default, allowed with crawl_allow_private", tf_netguard_class_name(test_only[i]));
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        ok(!tf_netguard_class_allowed(never[i], 0) && !tf_netguard_class_allowed(never[i], 1), "%s: refused even with crawl_allow_private",
           tf_netguard_class_name(never[i]));
}

static void test_sentences(void)
{
    struct sockaddr_storage ss;
    char why[256];
    socklen_t len = sa_of("127.0.0.1", &ss);
    ok(!tf_netguard_check((struct sockaddr *)&ss, len, 0, why, sizeof(why)) && strcmp(why, "127.0.0.1 is not a public address (loopback)") == 0,
       "check 127.0.0.1: \"%s\"", why);
    len = sa_of("::ffff:10.0.0.1", &ss);
    ok(!tf_netguard_check((struct sockaddr *)&ss, len, 0, why, sizeof(why)) &&
           strcmp(why, "::ffff:10.0.0.1 is not a public address (private, IPv4-mapped 10.0.0.1)") == 0,
       "check ::ffff:10.0.0.1: \"%s\"", why);
    len = sa_of("2002:a9fe:a9fe::1", &ss);
    ok(!tf_netguard_check((struct sockaddr *)&ss, len, 1, why, sizeof(why)) && strstr(why, "link-local, 6to4 169.254.169.254") != NULL,
       "check 2002:a9fe:a9fe::1 (allow_private): \"%s\"", why);
    len = sa_of("::1", &ss);
    ok(tf_netguard_check((struct sockaddr *)&ss, len, 1, why, sizeof(why)), "check ::1 with allow_private: allowed");
    len = sa_of("8.8.8.8", &ss);
    ok(tf_netguard_check((struct sockaddr *)&ss, len, 0, why, sizeof(why)), "check 8.8.8.8: allowed");
}

/* IPv4 spellings a URL may use; resolvers (and curl) turn them into 127.0.0.1. */
static void test_odd_spellings(void)
{
    static const char *const odd[] = {"127.1", "0x7f.1", "0x7f000001", "2130706433", "017700000001", "0177.0.0.1", "127.0.1"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        struct in_addr a;
        int parsed = inet_aton(odd[i], &a);
        ok(parsed && tf_netguard_classify_v4(ntohl(a.s_addr)) == TF_NET_LOOPBACK, "\"%s\" is 127.x: loopback", odd[i]);
    }
    struct in_addr a;
    ok(inet_aton("0xa9.0xfe.0xa9.0xfe", &a) && tf_netguard_classify_v4(ntohl(a.s_addr)) == TF_NET_LINK_LOCAL,
       "\"0xa9.0xfe.0xa9.0xfe\" is 169.254.169.254: link-local");
    ok(inet_aton("3232235777", &a) && tf_netguard_classify_v4(ntohl(a.s_addr)) == TF_NET_PRIVATE, "\"3232235777\" is 192.168.1.1: private");
}

static void test_urls(void)
{
    static const char *const good[] = {"http://example.com/", "https://example.com/a?b=c#d", "HTTPS://Example.COM", "http://8.8.8.8:8080/x",
                                       "http://[2001:db8::1]/", "https://xn--bcher-kva.example/", "http://example.com:1/"};
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"ftp://example.com/f", "only http and https"},
        {"file:///etc/passwd", "only http and https"},
        {"gopher://example.com:70/", "only http and https"},
        {"dict://127.0.0.1:6379/info", "only http and https"},
        {"javascript:alert(1)", ""},
        {"http://user:pw@example.com/", "user name or password"},
        {"http://user@example.com/", "user name or password"},
        {"http://:pw@example.com/", "user name or password"},
        {"https://a%40b:c@example.com/", "user name or password"},
        {"http://example.com@127.0.0.1/", "user name or password"},
        {"example.com/page", "not a valid absolute URL"},
        {"//example.com/", "not a valid absolute URL"},
        {"http://exa mple.com/", "not a valid absolute URL"},
        {"", "not a valid absolute URL"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char why[256], *norm = NULL;
        int r = tf_netguard_url_ok(good[i], &norm, why, sizeof(why));
        ok(r && norm != NULL, "url %s accepted (%s)", good[i], norm ? norm : why);
        curl_free(norm);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[256], *norm = NULL;
        int r = tf_netguard_url_ok(bad[i].url, &norm, why, sizeof(why));
        ok(!r && norm == NULL && strstr(why, bad[i].why) != NULL, "url \"%s\" refused: %s", bad[i].url, why);
    }
}

/* The open-socket callback with curl's own address structure (sized as curl allocates it). */
typedef union {
    struct curl_sockaddr a;
    char room[sizeof(struct curl_sockaddr) + sizeof(struct sockaddr_storage)];
} curl_addr_t;

static void curl_addr(curl_addr_t *ca, const char *text)
{
    struct sockaddr_storage ss;
    socklen_t len = sa_of(text, &ss);
    memset(ca, 0, sizeof(*ca));
    ca->a.family = ss.ss_family;
    ca->a.socktype = SOCK_STREAM;
    ca->a.protocol = IPPROTO_TCP;
    ca->a.addrlen = len;
    memcpy(&ca->a.addr, &ss, len);
}

static void test_opensocket(void)
{
    tf_netguard_t g;
    curl_addr_t ca;
    memset(&g, 0, sizeof(g));
    static const char *const refused[] = {"127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "64:ff9b::a00:1",
                                          "2002:7f00:1::1", "fd00::1", "fe80::1", "0.0.0.0", "::"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        curl_addr(&ca, refused[i]);
        curl_socket_t s = tf_netguard_opensocket(&g, CURLSOCKTYPE_IPCXN, &ca.a);
        ok(s == CURL_SOCKET_BAD, "open-socket refuses %s", refused[i]);
        if (s != CURL_SOCKET_BAD)
            close(s);
    }
    ok(g.refused == sizeof(refused) / sizeof(refused[0]), "  ... counted (%u)", g.refused);
    ok(strncmp(g.why, "127.0.0.1 is not a public address (loopback); ::1 is not a public address (loopback)", 84) == 0,
       "  ... the reasons are kept, distinct ones joined: \"%.90s...\"", g.why);
    curl_addr(&ca, "127.0.0.1");
    tf_netguard_opensocket(&g, CURLSOCKTYPE_IPCXN, &ca.a);
    ok(strlen(g.why) < sizeof(g.why), "  ... and the text stays bounded");

    static const char *const allowed[] = {"8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        memset(&g, 0, sizeof(g));
        curl_addr(&ca, allowed[i]);
        curl_socket_t s = tf_netguard_opensocket(&g, CURLSOCKTYPE_IPCXN, &ca.a);
        ok(s != CURL_SOCKET_BAD && g.refused == 0, "open-socket makes a socket for %s (never connected)", allowed[i]);
        if (s != CURL_SOCKET_BAD)
            close(s);
    }
    memset(&g, 0, sizeof(g));
    g.allow_private = 1;
    curl_addr(&ca, "127.0.0.1");
    curl_socket_t s = tf_netguard_opensocket(&g, CURLSOCKTYPE_IPCXN, &ca.a);
    ok(s != CURL_SOCKET_BAD, "allow_private: a socket for 127.0.0.1");
    if (s != CURL_SOCKET_BAD)
        close(s);
    curl_addr(&ca, "169.254.169.254");
    s = tf_netguard_opensocket(&g, CURLSOCKTYPE_IPCXN, &ca.a);
    ok(s == CURL_SOCKET_BAD && strstr(g.why, "link-local") != NULL, "allow_private: 169.254.169.254 still refused (%s)", g.why);
    curl_addr(&ca, "0.0.0.0");
    s = tf_netguard_opensocket(&g, CURLSOCKTYPE_IPCXN, &ca.a);
    ok(s == CURL_SOCKET_BAD, "allow_private: 0.0.0.0 still refused");

    memset(&g, 0, sizeof(g));
    curl_addr(&ca, "8.8.8.8");
    ok(tf_netguard_opensocket(NULL, CURLSOCKTYPE_IPCXN, &ca.a) == CURL_SOCKET_BAD, "a detached transfer (no guard) gets no socket at all");
    ok(tf_netguard_opensocket(&g, CURLSOCKTYPE_ACCEPT, &ca.a) == CURL_SOCKET_BAD, "sockets for other purposes (accept) are refused");
}

static void test_resolver(void)
{
    const char *which = NULL;
    int async = tf_netguard_async_dns(&which);
    const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
    printf("# libcurl %s, resolver: %s\n", d->version, which);
    ok(async, "libcurl resolves names asynchronously (AsynchDNS: %s), so DNS never blocks an event loop", which);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN("v4", v4);
    for (size_t i = 0; i < sizeof(v4_public) / sizeof(v4_public[0]); i++) {
        int parsed;
        tf_net_class_t c = classify_text(v4_public[i], &parsed);
        ok(parsed && c == TF_NET_PUBLIC, "v4: %s is public (got %s)", v4_public[i], tf_netguard_class_name(c));
    }
    RUN("v6", v6);
    for (size_t i = 0; i < sizeof(v6_public) / sizeof(v6_public[0]); i++) {
        int parsed;
        tf_net_class_t c = classify_text(v6_public[i], &parsed);
        ok(parsed && c == TF_NET_PUBLIC, "v6: %s is public (got %s)", v6_public[i], tf_netguard_class_name(c));
    }
    test_embed();
    test_sockaddr_shapes();
    test_policy();
    test_sentences();
    test_odd_spellings();
    test_urls();
    test_opensocket();
    test_resolver();
    curl_global_cleanup();
    return tap_end();
}
