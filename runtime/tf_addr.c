/*
 * tf_addr - client addresses, networks, X-Forwarded-For, limit keys.
 * See tf_addr.h.
 */
#include "tf_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ::ffff:a.b.c.d is a.b.c.d (see the header). */
static void unmap(tf_addr_t *a)
{
    if (a->family == AF_INET6 && memcmp(a->bytes, v4_mapped_prefix, 12) == 0) {
        memmove(a->bytes, a->bytes + 12, 4);
        memset(a->bytes + 4, 0, 12);
        a->family = AF_INET;
    }
}

int tf_addr_parse(const char *text, size_t len, tf_addr_t *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    /* inet_pton takes only the dotted-quad form for IPv4: "127.1" or "0x7f.1"
     * are refused, so two spellings never make two clients. */
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
        out->family = AF_INET6;
        unmap(out);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    return -1;
}

int tf_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, tf_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa == NULL)
        return -1;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        out->family = AF_INET;
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memcpy(out->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        out->family = AF_INET6;
        unmap(out);
        return 0;
    }
    return -1;
}

void tf_addr_format(const tf_addr_t *a, char *out, size_t cap)
{
    if (cap == 0)
        return;
    if ((a->family != AF_INET && a->family != AF_INET6) || inet_ntop(a->family, a->bytes, out, (socklen_t)cap) == NULL)
        snprintf(out, cap, "unknown");
}

static unsigned max_prefix(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* a with every bit after the first `prefix` cleared: its network. */
static tf_addr_t network_of(const tf_addr_t *a, unsigned prefix)
{
    tf_addr_t n = *a;
    for (unsigned i = 0; i < sizeof(n.bytes); i++) {
        unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - i * 8 : 0;
        n.bytes[i] &= (uint8_t)(0xff00 >> keep);
    }
    return n;
}

int tf_addr_net_parse(const char *text, tf_addr_net_t *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL || text[0] == '\0') {
        snprintf(why, whylen, "an empty entry is not an address");
        return -1;
    }
    const char *slash = strchr(text, '/');
    size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    if (tf_addr_parse(text, alen, &out->addr) != 0) {
        snprintf(why, whylen, "'%.*s' is not an IPv4 or IPv6 address", (int)(alen > 64 ? 64 : alen), text);
        return -1;
    }
    /* An IPv4-mapped network ("::ffff:10.0.0.0/104") is the IPv4 one: its
     * prefix counts from the IPv4 part. */
    int mapped = out->addr.family == AF_INET && memchr(text, ':', alen) != NULL;
    unsigned max = max_prefix(out->addr.family);
    out->prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        char *end;
        if (*p < '0' || *p > '9' || strlen(p) > 3) {
            snprintf(why, whylen, "'%s': the prefix after '/' must be a number", text);
            return -1;
        }
        unsigned long v = strtoul(p, &end, 10);
        if (*end != '\0') {
            snprintf(why, whylen, "'%s': the prefix after '/' must be a number", text);
            return -1;
        }
        if (mapped) {
            if (v < 96 || v > 128) {
                snprintf(why, whylen, "'%s': an IPv4-mapped network needs a prefix from 96 to 128", text);
                return -1;
            }
            v -= 96;
        }
        if (v > max) {
            snprintf(why, whylen, "'%s': prefix %lu is more than %u for an IPv%d address", text, v, max,
                     out->addr.family == AF_INET ? 4 : 6);
            return -1;
        }
        out->prefix = (unsigned)v;
    }
    tf_addr_t net = network_of(&out->addr, out->prefix);
    if (memcmp(net.bytes, out->addr.bytes, sizeof(net.bytes)) != 0) {
        char t[TF_ADDR_TEXT_MAX];
        tf_addr_format(&net, t, sizeof(t));
        /* A typo here would trust a different network than meant: refuse it
         * and say what the network would be. */
        snprintf(why, whylen, "'%s' has bits set after the prefix: write %s/%u", text, t,
                 mapped ? out->prefix + 96 : out->prefix);
        return -1;
    }
    return 0;
}

int tf_addr_net_contains(const tf_addr_net_t *n, const tf_addr_t *a)
{
    if (n->addr.family != a->family || a->family == 0)
        return 0;
    /* n's own host bits are clear (tf_addr_net_parse refuses others). */
    tf_addr_t net = network_of(a, n->prefix);
    return memcmp(net.bytes, n->addr.bytes, sizeof(net.bytes)) == 0;
}

int tf_addr_in_nets(const tf_addr_net_t *nets, size_t count, const tf_addr_t *a)
{
    for (size_t i = 0; i < count; i++)
        if (tf_addr_net_contains(&nets[i], a))
            return 1;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* One X-Forwarded-For entry, blanks trimmed: "a", "[v6]", "[v6]:port", "v4:port". */
static int parse_entry(const char *b, const char *e, tf_addr_t *out)
{
    while (b < e && is_space(*b))
        b++;
    while (e > b && is_space(e[-1]))
        e--;
    if (b == e)
        return -1;
    if (*b == '[') {
        const char *close = memchr(b, ']', (size_t)(e - b));
        if (close == NULL || tf_addr_parse(b + 1, (size_t)(close - b - 1), out) != 0 || out->family != AF_INET6)
            return -1;
        if (close + 1 == e)
            return 0;
        if (close[1] != ':' || close + 2 == e)
            return -1;
        for (const char *p = close + 2; p < e; p++)
            if (*p < '0' || *p > '9')
                return -1;
        return 0;
    }
    if (tf_addr_parse(b, (size_t)(e - b), out) == 0)
        return 0;
    /* "v4:port": exactly one colon (an IPv6 address has at least two). */
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (colon == NULL || colon + 1 == e || memchr(colon + 1, ':', (size_t)(e - colon - 1)) != NULL)
        return -1;
    for (const char *p = colon + 1; p < e; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return tf_addr_parse(b, (size_t)(colon - b), out) == 0 && out->family == AF_INET ? 0 : -1;
}

int tf_addr_forwarded_client(const tf_addr_span_t *values, size_t nvalues, const tf_addr_net_t *trusted,
                             size_t ntrusted, tf_addr_t *out)
{
    int have = 0;
    for (size_t v = nvalues; v-- > 0;) {
        const char *start = values[v].base, *e = values[v].base + values[v].len;
        /* An empty header line is an empty entry: it stops the walk like any
         * other entry that is no address. */
        for (;;) {
            const char *b = e;
            while (b > start && b[-1] != ',')
                b--;
            tf_addr_t a;
            if (parse_entry(b, e, &a) != 0)
                return have;
            *out = a;
            have = 1;
            if (!tf_addr_in_nets(trusted, ntrusted, &a))
                return 1;
            if (b == start)
                break;
            e = b - 1; /* before the comma */
        }
    }
    return have;
}

void tf_addr_limit_key(const tf_addr_t *a, char *out, size_t cap)
{
    if (a->family != AF_INET6) {
        tf_addr_format(a, out, cap);
        return;
    }
    tf_addr_t net = network_of(a, 64);
    char t[TF_ADDR_TEXT_MAX];
    tf_addr_format(&net, t, sizeof(t));
    snprintf(out, cap, "%s/64", t);
}
