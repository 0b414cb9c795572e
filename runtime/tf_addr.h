/*
 * tf_addr - client addresses: parsing, networks (CIDR), the X-Forwarded-For
 * walk behind trusted proxies, and the key per-address limits count under.
 *
 * Pure functions of their arguments (no h2o, no sockets), so the parts an
 * attacker controls - forwarded headers and their spellings - are tested as
 * units (tests/unit/test_addr.c).
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack listener
 * reports for an IPv4 peer) is the IPv4 address here: the same client, the
 * same limits and the same trusted-proxy entry whichever socket it came in on.
 */
#ifndef TF_ADDR_H
#define TF_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct tf_addr {
    int family;         /* AF_INET or AF_INET6; 0 = none */
    uint8_t bytes[16];  /* network order; IPv4 in the first 4 */
} tf_addr_t;

/* A network: address and prefix length ("10.0.0.0/8"; a bare address is /32 or /128). */
typedef struct tf_addr_net {
    tf_addr_t addr;
    unsigned prefix;
} tf_addr_net_t;

/* Longest text tf_addr_format or tf_addr_limit_key writes, with the NUL. */
#define TF_ADDR_TEXT_MAX 52

/* An IPv4 or IPv6 literal (no brackets, port or zone). 0, or -1 when it is not one. */
int tf_addr_parse(const char *text, size_t len, tf_addr_t *out);

/* A socket address (AF_INET/AF_INET6). 0, or -1 for anything else. */
int tf_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, tf_addr_t *out);

/* Canonical text ("203.0.113.7", "2001:db8::1"); "unknown" for no address. */
void tf_addr_format(const tf_addr_t *a, char *out, size_t cap);

/*
 * "address" or "address/prefix", as an operator writes it in conf. -1 with a
 * sentence in why (e.g. "prefix 33 is more than 32 for an IPv4 address",
 * "10.0.0.1/8 has bits set after the prefix: write 10.0.0.0/8") otherwise.
 */
int tf_addr_net_parse(const char *text, tf_addr_net_t *out, char *why, size_t whylen);

/* 1 when a is inside n. */
int tf_addr_net_contains(const tf_addr_net_t *n, const tf_addr_t *a);
/* 1 when a is inside any of nets[0..count). */
int tf_addr_in_nets(const tf_addr_net_t *nets, size_t count, const tf_addr_t *a);

/* One header value: X-Forwarded-For may come as several header lines. */
typedef struct tf_addr_span {
    const char *base;
    size_t len;
} tf_addr_span_t;

/*
 * The client behind a chain of trusted proxies, from the X-Forwarded-For
 * values in the order they arrived (the right-most entry of the last value
 * is the one the proxy we talk to appended). Entries are walked from the
 * right: each one inside `trusted` is another proxy of ours and the walk goes
 * on to the entry it appended; the first one outside is the client. Entries
 * to its left came from the client and are never believed.
 *
 * An entry may be an address, "[v6]", "[v6]:port" or "v4:port" (proxies that
 * append ports). One that is none of these stops the walk: the answer is the
 * trusted hop before it, or 0 when it was the right-most entry (the caller
 * then uses the TCP peer). When every entry is trusted the left-most is the
 * answer. 1 when *out was set.
 */
int tf_addr_forwarded_client(const tf_addr_span_t *values, size_t nvalues, const tf_addr_net_t *trusted,
                             size_t ntrusted, tf_addr_t *out);

/*
 * What per-address limits (login throttle, unknown-key limit, guest usage)
 * count under: an IPv4 address as it is; an IPv6 address as its /64
 * ("2001:db8:1:2::/64"), since one subscriber or host is routinely given a
 * whole /64 and could otherwise take a fresh address per request.
 */
void tf_addr_limit_key(const tf_addr_t *a, char *out, size_t cap);

#endif
