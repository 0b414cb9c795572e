/*
 * tf_addr unit test: address and network parsing (and the errors an
 * operator sees for a bad auth.trusted_proxies entry), network membership at
 * the prefix edges, IPv4-mapped peers, the X-Forwarded-For walk behind one
 * and several trusted proxies with forged, malformed and ported entries, and
 * the /64 limit key.
 *
 * No traffic: addresses are only parsed and compared.
 *
 * Build: cc -Iruntime tests/unit/test_addr.c runtime/tf_addr.c
 */
#include "tap.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "tf_addr.h"

static tf_addr_t A(const char *text)
{
    tf_addr_t a;
    if (tf_addr_parse(text, strlen(text), &a) != 0)
        memset(&a, 0, sizeof(a));
    return a;
}

static const char *fmt(const tf_addr_t *a)
{
    static char buf[4][TF_ADDR_TEXT_MAX];
    static int k;
    k = (k + 1) % 4;
    tf_addr_format(a, buf[k], sizeof(buf[k]));
    return buf[k];
}

static void parse_cases(void)
{
    static const struct {
        const char *in, *canon; /* canon NULL: refused */
    } c[] = {
        {"203.0.113.7", "203.0.113.7"},
        {"0.0.0.0", "0.0.0.0"},
        {"2001:DB8:0:0::0001", "2001:db8::1"},
        {"::1", "::1"},
        {"::ffff:198.51.100.4", "198.51.100.4"}, /* IPv4-mapped: the IPv4 client */
        {"::ffff:c633:6404", "198.51.100.4"},
        {"::198.51.100.4", "::198.51.100.4"}, /* IPv4-compatible stays IPv6 */
        {"127.1", NULL},                   /* shorthand spellings are not addresses here */
        {"0x7f.0.0.1", NULL},
        {"010.0.0.1", NULL},
        {"1.2.3.4.5", NULL},
        {"256.1.1.1", NULL},
        {"fe80::1%eth0", NULL},
        {"[::1]", NULL},
        {"", NULL},
        {"example.com", NULL},
        {"1.2.3.4 ", NULL},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        tf_addr_t a;
        int rc = tf_addr_parse(c[i].in, strlen(c[i].in), &a);
        if (c[i].canon == NULL)
            ok(rc == -1 && a.family == 0, "parse '%s' is refused", c[i].in);
        else
            ok(rc == 0 && strcmp(fmt(&a), c[i].canon) == 0, "parse '%s' -> %s (got %s)", c[i].in, c[i].canon,
               rc == 0 ? fmt(&a) : "refused");
    }
    char big[200];
    memset(big, '1', sizeof(big));
    tf_addr_t a;
    ok(tf_addr_parse(big, sizeof(big), &a) == -1, "a 200-character entry is refused, not overflowed");

    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    ok(tf_addr_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &a) == 0 && a.family == AF_INET &&
           strcmp(fmt(&a), "127.0.0.1") == 0,
       "a dual-stack listener's IPv4-mapped peer is the IPv4 address (%s)", fmt(&a));
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
    ok(tf_addr_from_sockaddr((struct sockaddr *)&s4, sizeof(s4), &a) == 0 && strcmp(fmt(&a), "127.0.0.2") == 0,
       "an IPv4 peer");
    ok(tf_addr_from_sockaddr((struct sockaddr *)&s4, sizeof(s4) - 1, &a) == -1 && a.family == 0,
       "a short socket address is refused");
    struct sockaddr un = {.sa_family = AF_UNIX};
    ok(tf_addr_from_sockaddr(&un, sizeof(un), &a) == -1, "a unix-socket peer has no address");
    ok(strcmp(fmt(&a), "unknown") == 0, "no address formats as 'unknown'");
}

static void net_cases(void)
{
    static const struct {
        const char *in;
        const char *why; /* NULL: accepted; else a piece of the error */
    } c[] = {
        {"10.0.0.0/8", NULL},
        {"127.0.0.1", NULL},
        {"0.0.0.0/0", NULL},
        {"2001:db8::/32", NULL},
        {"::1", NULL},
        {"::/0", NULL},
        {"::ffff:10.0.0.0/104", NULL},
        {"10.0.0.1/8", "write 10.0.0.0/8"},
        {"2001:db8::1/32", "write 2001:db8::/32"},
        {"10.0.0.0/33", "prefix 33 is more than 32"},
        {"2001:db8::/129", "prefix 129 is more than 128"},
        {"10.0.0.0/", "must be a number"},
        {"10.0.0.0/8x", "must be a number"},
        {"10.0.0.0/-1", "must be a number"},
        {"10.0.0.0/0008", "must be a number"},
        {"::ffff:10.0.0.0/64", "from 96 to 128"},
        {"proxy.internal", "not an IPv4 or IPv6 address"},
        {"", "empty"},
        {"10.0.0.0/8/8", "must be a number"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        tf_addr_net_t n;
        char why[160] = "";
        int rc = tf_addr_net_parse(c[i].in, &n, why, sizeof(why));
        if (c[i].why == NULL)
            ok(rc == 0, "net '%s' is accepted (%s)", c[i].in, why);
        else
            ok(rc == -1 && strstr(why, c[i].why) != NULL, "net '%s' is refused: %s", c[i].in, why);
    }
    tf_addr_net_t n;
    char why[160];
    tf_addr_net_parse("::ffff:10.0.0.0/104", &n, why, sizeof(why));
    ok(n.addr.family == AF_INET && n.prefix == 8, "an IPv4-mapped network is the IPv4 /8");

    static const struct {
        const char *net, *addr;
        int in;
    } m[] = {
        {"10.0.0.0/8", "10.0.0.0", 1},
        {"10.0.0.0/8", "10.255.255.255", 1},
        {"10.0.0.0/8", "11.0.0.0", 0},
        {"10.0.0.0/8", "9.255.255.255", 0},
        {"172.16.0.0/12", "172.31.255.255", 1},
        {"172.16.0.0/12", "172.32.0.0", 0},
        {"192.0.2.128/25", "192.0.2.127", 0},
        {"192.0.2.128/25", "192.0.2.128", 1},
        {"127.0.0.1", "127.0.0.1", 1},
        {"127.0.0.1", "127.0.0.2", 0},
        {"0.0.0.0/0", "203.0.113.7", 1},
        {"0.0.0.0/0", "2001:db8::1", 0}, /* families never mix */
        {"::/0", "203.0.113.7", 0},
        {"::/0", "2001:db8::1", 1},
        {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1},
        {"2001:db8::/32", "2001:db9::", 0},
        {"2001:db8:0:8000::/49", "2001:db8:0:7fff::1", 0},
        {"2001:db8:0:8000::/49", "2001:db8:0:8000::1", 1},
        {"::1", "::1", 1},
        {"::1", "::2", 0},
        {"10.0.0.0/8", "::ffff:10.1.2.3", 1}, /* mapped peer, plain IPv4 entry */
        {"::ffff:10.0.0.0/104", "10.1.2.3", 1},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        tf_addr_net_t net;
        tf_addr_net_parse(m[i].net, &net, why, sizeof(why));
        tf_addr_t a = A(m[i].addr);
        ok(tf_addr_net_contains(&net, &a) == m[i].in, "%s %s %s", m[i].addr, m[i].in ? "is in" : "is not in", m[i].net);
    }
    tf_addr_t none = {0};
    ok(!tf_addr_net_contains(&n, &none), "no address is in no network");
}

/* The client behind proxies: values are the X-Forwarded-For header lines. */
static const char *walk(const char *trusted_csv, const char *v1, const char *v2)
{
    tf_addr_net_t nets[8];
    size_t nn = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", trusted_csv);
    for (char *save, *t = strtok_r(buf, " ", &save); t != NULL && nn < 8; t = strtok_r(NULL, " ", &save)) {
        char why[160];
        if (tf_addr_net_parse(t, &nets[nn], why, sizeof(why)) == 0)
            nn++;
    }
    tf_addr_span_t vals[2];
    size_t nv = 0;
    if (v1 != NULL)
        vals[nv++] = (tf_addr_span_t){v1, strlen(v1)};
    if (v2 != NULL)
        vals[nv++] = (tf_addr_span_t){v2, strlen(v2)};
    static char out[4][TF_ADDR_TEXT_MAX];
    static int k;
    k = (k + 1) % 4;
    tf_addr_t a;
    if (!tf_addr_forwarded_client(vals, nv, nets, nn, &a))
        return "peer";
    tf_addr_format(&a, out[k], sizeof(out[k]));
    return out[k];
}

static void forwarded_cases(void)
{
    static const struct {
        const char *trusted, *v1, *v2, *want, *what;
    } c[] = {
        {"127.0.0.1", "203.0.113.7", NULL, "203.0.113.7", "one proxy: the entry it appended"},
        {"127.0.0.1", "198.51.100.9, 203.0.113.7", NULL, "203.0.113.7", "a forged entry on the left is not believed"},
        {"127.0.0.1", "1.1.1.1,2.2.2.2,203.0.113.7", NULL, "203.0.113.7", "no blanks between entries"},
        {"127.0.0.1 10.0.0.0/8", "198.51.100.9, 203.0.113.7, 10.1.2.3", NULL, "203.0.113.7",
         "a second trusted proxy (CIDR) is walked past"},
        {"127.0.0.1 10.0.0.0/8", "198.51.100.9, 203.0.113.7, 10.9.9.9, 10.1.2.3", NULL, "203.0.113.7",
         "several trusted hops are walked past"},
        {"127.0.0.1 10.0.0.0/8", "10.0.0.5, 10.1.2.3", NULL, "10.0.0.5", "every entry trusted: the left-most"},
        {"127.0.0.1 10.0.0.0/8", "198.51.100.9, 11.0.0.1, 10.1.2.3", NULL, "11.0.0.1",
         "an address just outside the trusted network is the client"},
        {"127.0.0.1", "198.51.100.9", "203.0.113.7", "203.0.113.7", "two header lines: the last line's last entry"},
        {"127.0.0.1 10.0.0.0/8", "203.0.113.7", "10.1.2.3", "203.0.113.7", "the walk goes on into the line before"},
        {"127.0.0.1 10.0.0.0/8", "203.0.113.7", "", "peer", "an empty last line is an empty entry: the peer"},
        {"127.0.0.1 10.0.0.0/8", "", "10.1.2.3", "10.1.2.3", "an empty line left of a trusted hop: that hop"},
        {"127.0.0.1", "203.0.113.7, not-an-address", NULL, "peer", "a right-most entry that is no address: the peer"},
        {"127.0.0.1", "203.0.113.7,", NULL, "peer", "a trailing comma: the peer"},
        {"127.0.0.1", "", NULL, "peer", "an empty header: the peer"},
        {"127.0.0.1 10.0.0.0/8", "203.0.113.7, garbage, 10.1.2.3", NULL, "10.1.2.3",
         "garbage left of a trusted hop: that hop is the answer"},
        {"127.0.0.1 10.0.0.0/8", "203.0.113.7, , 10.1.2.3", NULL, "10.1.2.3", "an empty entry stops the walk too"},
        {"127.0.0.1", "  2001:DB8:0:0::0001  ", NULL, "2001:db8::1", "IPv6, trimmed, canonical"},
        {"127.0.0.1", "[2001:db8::1]:443", NULL, "2001:db8::1", "[v6]:port"},
        {"127.0.0.1", "[2001:db8::1]", NULL, "2001:db8::1", "[v6]"},
        {"127.0.0.1", "203.0.113.7:5123", NULL, "203.0.113.7", "v4:port"},
        {"127.0.0.1", "[203.0.113.7]:5123", NULL, "peer", "brackets around IPv4 are refused"},
        {"127.0.0.1", "[2001:db8::1]:", NULL, "peer", "a colon without a port is refused"},
        {"127.0.0.1", "[2001:db8::1]:44x", NULL, "peer", "a port that is not a number is refused"},
        {"127.0.0.1", "[2001:db8::1", NULL, "peer", "an unclosed bracket is refused"},
        {"127.0.0.1", "203.0.113.7:80:80", NULL, "peer", "two ports are refused"},
        {"127.0.0.1", "::ffff:203.0.113.7", NULL, "203.0.113.7", "an IPv4-mapped entry is the IPv4 client"},
        {"127.0.0.1", "unknown", NULL, "peer", "'unknown' (what some proxies write) is no address"},
        {"127.0.0.1", "127.1", NULL, "peer", "a shorthand IPv4 spelling is no address"},
        {"", "203.0.113.7", NULL, "203.0.113.7", "nothing trusted: still only the right-most entry"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        const char *got = walk(c[i].trusted, c[i].v1, c[i].v2);
        ok(strcmp(got, c[i].want) == 0, "XFF %s: [%s]%s%s%s -> %s (got %s)", c[i].what, c[i].v1, c[i].v2 ? " [" : "",
           c[i].v2 ? c[i].v2 : "", c[i].v2 ? "]" : "", c[i].want, got);
    }
    /* A long chain of trusted hops costs linear time and ends at the left-most. */
    static char chain[64 * 16];
    size_t n = 0;
    n += (size_t)snprintf(chain + n, sizeof(chain) - n, "203.0.113.7");
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(chain + n, sizeof(chain) - n, ", 10.0.%d.%d", i / 200, i % 200 + 1);
    ok(strcmp(walk("10.0.0.0/8", chain, NULL), "203.0.113.7") == 0, "60 trusted hops are walked to the client");
}

static void limit_key_cases(void)
{
    static const struct {
        const char *in, *key;
    } c[] = {
        {"203.0.113.7", "203.0.113.7"},
        {"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
        {"2001:db8:1:2::1", "2001:db8:1:2::/64"},
        {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
        {"::1", "::/64"},
        {"::ffff:203.0.113.7", "203.0.113.7"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        tf_addr_t a = A(c[i].in);
        char key[TF_ADDR_TEXT_MAX];
        tf_addr_limit_key(&a, key, sizeof(key));
        ok(strcmp(key, c[i].key) == 0, "limit key of %s is %s (got %s)", c[i].in, c[i].key, key);
    }
    tf_addr_t a = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    char key[TF_ADDR_TEXT_MAX];
    tf_addr_limit_key(&a, key, sizeof(key));
    ok(strcmp(key, "ffff:ffff:ffff:ffff::/64") == 0, "the longest /64 key fits (%s)", key);
}

int main(void)
{
    parse_cases();
    net_cases();
    forwarded_cases();
    limit_key_cases();
    return tap_end();
}
