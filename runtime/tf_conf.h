/*
 * tf_conf - the operator's configuration (conf/triforce.yaml).
 *
 * A loaded configuration is an immutable, reference-counted snapshot. A
 * request takes a reference when it starts and drops it when it ends, so a
 * reload (SIGHUP or POST /v1/admin/reload) swaps in a new snapshot without
 * changing anything under a request in flight. Errors name `file:line`.
 */
#ifndef TF_CONF_H
#define TF_CONF_H

/* Default of busy_poll_us: covers one loopback round trip to a client or
 * an upstream (tests/bench/chat.sh), so neither wake-up needs the kernel. */
#define TF_CONF_BUSY_POLL_US 100

/* Default of providers.stream_coalesce_ms. Providers send a token per
 * event, often several per millisecond; writing each to the client costs a
 * write and a client wake-up apiece. A millisecond is far below what a
 * reader notices, and the first chunk and the end never wait. */
#define TF_CONF_STREAM_COALESCE_MS 1

#include <stddef.h>
#include <stdint.h>

#include "tf_addr.h"

typedef struct tf_conf_listen {
    char *address; /* "127.0.0.1", "::1", "0.0.0.0" */
    unsigned port;
    int tls;       /* serve TLS (HTTP/1.1 and HTTP/2 by ALPN) instead of cleartext (HTTP/1.1 + h2c) */
} tf_conf_listen_t;

/*
 * How a node's calls use HTTP/2 (providers.settings[].http2, per node too):
 * AUTO, the default, negotiates it by ALPN on https:// and speaks HTTP/1.1
 * on http://; OFF keeps to HTTP/1.1; H2C also upgrades http:// connections
 * for streamed calls (Upgrade: h2c; curl 7.88's prior-knowledge mode fails
 * on connection reuse; whole answers stay on HTTP/1.1, see tf_chat.c).
 * Calls that take HTTP/2 share a node's connections as streams.
 */
enum { TF_CONF_HTTP2_AUTO = 0, TF_CONF_HTTP2_OFF = 1, TF_CONF_HTTP2_H2C = 2 };

/* providers.settings[]: what the operator changes of spec/providers.yaml. */
typedef struct tf_conf_node {
    char *name, *base_url, *api_key; /* NULL: not given */
    int enabled;                     /* -1: not given */
    unsigned max_concurrent;         /* 0: the provider's (none: no cap) */
    int http2;                       /* TF_CONF_HTTP2_*; -1: the provider's */
    unsigned line;
} tf_conf_node_t;

typedef struct tf_conf_provider {
    char *id;
    char *base_url, *api_key;        /* NULL: not given (the key then comes from the spec's key_env) */
    int enabled;                     /* -1: not given */
    unsigned max_concurrent;         /* per node of it; 0: no cap (tf_admit) */
    int http2;                       /* TF_CONF_HTTP2_*; -1: not given (auto) */
    tf_conf_node_t *nodes;           /* replace the spec's nodes when given */
    unsigned nodes_count;
    unsigned line;
} tf_conf_provider_t;

/* mcp.profiles[]: which tools an agent sees (glob patterns over tool names). */
typedef struct tf_conf_profile {
    char *name;
    char **tools;
    unsigned tools_count;
} tf_conf_profile_t;

typedef struct tf_conf {
    /* --- from the file (defaults applied) --- */
    char *node_name;
    tf_conf_listen_t *listen;
    unsigned listen_count;
    char *tls_cert_file;
    char *tls_key_file;
    int tls_create_self_signed;
    unsigned threads; /* resolved: never 0 */
    unsigned busy_poll_us; /* loop threads poll this long after activity before sleeping (tf_server.c) */
    char *db_url;     /* environment references expanded; never logged */
    unsigned db_connections_per_thread;
    char *db_migrations;
    unsigned db_startup_wait_seconds;
    uint64_t max_body_bytes;
    int log_level;    /* TF_LOG_* */
    /* auth */
    char *jwt_alg;            /* "HS256" (default), "RS256", "ES256" */
    char *jwt_secret;         /* HS256; from the environment; never logged */
    char *jwt_private_key_file, *jwt_public_key_file; /* RS256/ES256 */
    char *jwt_issuer;
    unsigned access_ttl_seconds, refresh_ttl_seconds;
    tf_addr_net_t *trusted_proxies; /* peers (addresses or networks) whose X-User-ID and X-Forwarded-For are believed */
    unsigned trusted_proxies_count;
    char **admins;            /* emails that are admins whatever the database says */
    unsigned admins_count;
    unsigned login_max_failures, login_window_seconds;
    struct tf_jwt_keys *jwt;  /* built from the above at load time */
    char *log_file;   /* "" = stderr */
    /* providers (the Mesh Brain) */
    char *strategy;                 /* default strategy */
    unsigned connect_timeout_ms;    /* TCP + TLS to an upstream */
    unsigned attempt_timeout_ms;    /* one attempt: to the whole answer, or to a stream's first event */
    unsigned stream_idle_ms;        /* a stream that says nothing this long has failed */
    unsigned stream_coalesce_ms;    /* after a stream's first write, chunks wait up to this long to leave together */
    unsigned deadline_ms;           /* one request, every attempt included, to its first byte */
    unsigned max_attempts;          /* candidates tried per request */
    unsigned breaker_failures;      /* consecutive failures that open a circuit */
    unsigned breaker_open_ms;       /* then one probe (half-open) */
    unsigned queue_timeout_ms;      /* longest wait for a capped node's slot (tf_admit), within deadline_ms */
    char **providers_only;          /* when non-empty, every other provider is off */
    unsigned providers_only_count;
    tf_conf_provider_t *providers;
    unsigned providers_count;
    struct tf_mesh *mesh;           /* spec + the above, built at load time */
    /* mcp */
    unsigned mcp_page_size;         /* tools/list page size */
    char **mcp_allowed_origins;     /* Origins allowed besides the request's own host */
    unsigned mcp_allowed_origins_count;
    int mcp_conformance;            /* add the conformance suite's fixture tools, prompts, resources */
    char *mcp_conformance_user;     /* NULL, or the user (email) MCP requests without credentials act as */
    char **mcp_allowed_hosts;       /* Host names MCP accepts; none: loopback names on loopback connections */
    unsigned mcp_allowed_hosts_count;
    tf_conf_profile_t *mcp_profiles;
    unsigned mcp_profiles_count;
    int *mcp_tier_profile;          /* per tier index: a profile index, -1 for none (all tools) */
    /* tools (the MCP tools' own settings) */
    char *tools_workspace_root;     /* code tools: <root>/<user id>/ per user */
    uint64_t tools_max_file_bytes;  /* code tools: largest file read or written */
    char *tools_searxng_url;        /* web search: a SearXNG instance ("" = off) */
    int tools_crawl_allow_private;  /* web crawl: private and loopback targets allowed (tests only) */
    uint64_t tools_crawl_max_bytes; /* web crawl: largest page fetched */
    unsigned tools_crawl_timeout_ms;
    /* tiers: spec/tiers.yaml with the conf's `tiers:` overrides, indexed like tf_tiers[] (use tf_conf_tier) */
    struct tf_tier *tiers;
    char ***tier_models;            /* per tier: the overriding patterns this snapshot owns, or NULL */
    /* Answers that depend only on this snapshot, rendered on first use by
     * runtime/api (set once with a compare-and-swap, freed with the snapshot):
     * [tier] GET /v1/models per tier, [tf_tiers_count] GET /v1/tiers. */
    char **rendered;
    size_t *rendered_len;

    /* --- bookkeeping --- */
    char *path;          /* the file it came from */
    uint64_t generation; /* 1 for the first load, +1 per accepted reload */
    int refcnt;          /* atomic */
} tf_conf_t;

/*
 * Loads and validates `file`. On error returns NULL and writes
 * "file:line: reason" lines (all that were found) into err.
 */
tf_conf_t *tf_conf_load(const char *file, char *err, size_t errlen);

tf_conf_t *tf_conf_ref(tf_conf_t *c);
void tf_conf_unref(tf_conf_t *c);

/*
 * The process-wide current snapshot. tf_conf_current() returns a new
 * reference (release with tf_conf_unref). tf_conf_publish() takes over the
 * caller's reference to `c`, stamps its generation and returns it.
 */
tf_conf_t *tf_conf_current(void);
void tf_conf_publish(tf_conf_t *c);

/* Tier `t` (a tf_tiers[] index) as this snapshot defines it. */
const struct tf_tier *tf_conf_tier(const tf_conf_t *c, int t);

/*
 * Does tier `t` reach an MCP entry's `min_tier`: a tf_tiers[] index (that
 * tier or a higher one), or TF_MIN_TIER_MCP (any tier with mcp_access in
 * this snapshot)?
 */
int tf_conf_tier_reaches(const tf_conf_t *c, int t, int min_tier);

/* Settings that only a restart applies; returns a static description of the first difference, or NULL. */
const char *tf_conf_restart_needed(const tf_conf_t *running, const tf_conf_t *next);

#endif
