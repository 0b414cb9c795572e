/*
 * tf_conf.c - load, validate and publish configuration snapshots.
 *
 * libcyaml maps the file onto `conf_file_t`; it reports syntax and shape
 * errors with line numbers through our log callback. The checks cyaml
 * cannot express (ranges, known log levels, environment references) run
 * afterwards and find their line through tf_yaml_lines.
 */
#include "tf_conf.h"

#include <cyaml/cyaml.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_jwt.h"
#include "tf_log.h"
#include "tf_mesh.h"
#include "tf_tiers.h"
#include "tf_yaml_lines.h"

/* ------------------------------------------------------------------ */
/* The file's shape                                                    */

typedef struct conf_listen_file {
    char *address;
    unsigned port;
    int tls; /* CONF_UNSET/FALSE/TRUE */
} conf_listen_file_t;

typedef struct conf_file {
    struct {
        char *name;
    } node;
    conf_listen_file_t *listen;
    unsigned listen_count;
    struct {
        char *cert_file;
        char *key_file;
        int create_self_signed; /* CONF_UNSET/FALSE/TRUE */
    } tls;
    unsigned threads;
    unsigned *busy_poll_us;
    struct {
        char *url;
        unsigned connections_per_thread;
        char *migrations;
        unsigned *startup_wait_seconds;
    } database;
    struct {
        uint64_t max_body_bytes;
    } limits;
    struct {
        char *level;
        char *file;
    } log;
    struct {
        char *jwt_alg, *jwt_secret, *jwt_private_key_file, *jwt_public_key_file, *issuer;
        unsigned access_ttl_seconds, refresh_ttl_seconds;
        char **trusted_proxies;
        unsigned trusted_proxies_count;
        char **admins;
        unsigned admins_count;
        unsigned login_max_failures, login_window_seconds;
    } auth;
    struct {
        char *strategy;
        unsigned connect_timeout_ms, attempt_timeout_ms, stream_idle_ms, deadline_ms, max_attempts;
        unsigned breaker_failures, breaker_open_ms, queue_timeout_ms;
        unsigned *stream_coalesce_ms; /* NULL: the default; 0 is a value */
        char **only;
        unsigned only_count;
        struct conf_provider_file *settings;
        unsigned settings_count;
    } providers;
    struct {
        unsigned page_size;
        char **allowed_origins;
        unsigned allowed_origins_count;
        int conformance; /* CONF_UNSET/FALSE/TRUE */
        char *conformance_user;
        char **allowed_hosts;
        unsigned allowed_hosts_count;
        struct conf_profile_file *profiles;
        unsigned profiles_count;
        struct conf_tier_profile_file *tier_profiles;
        unsigned tier_profiles_count;
    } mcp;
    struct conf_tier_file *tiers;
    unsigned tiers_count;
    struct {
        char *workspace_root;
        uint64_t max_file_bytes;
        char *searxng_url;
        int crawl_allow_private;
        uint64_t crawl_max_bytes;
        unsigned crawl_timeout_ms;
    } tools;
} conf_file_t;

typedef struct conf_profile_file {
    char *name;
    char **tools;
    unsigned tools_count;
} conf_profile_file_t;

typedef struct conf_tier_profile_file {
    char *tier, *profile;
} conf_tier_profile_file_t;

/* tiers[]: what the operator changes of spec/tiers.yaml; NULL / CONF_UNSET: keep the spec's. */
typedef struct conf_tier_file {
    char *tier;
    int64_t *daily_tokens, *requests_per_hour; /* -1: unlimited */
    char **models;
    unsigned models_count;
    int ollama_unlimited, mcp_access, priority; /* CONF_UNSET/FALSE/TRUE */
} conf_tier_file_t;

typedef struct conf_node_file {
    char *name, *base_url, *api_key;
    int enabled; /* CONF_UNSET/FALSE/TRUE */
    unsigned max_concurrent;
    int http2; /* 0: not given, else TF_CONF_HTTP2_* + 1 */
} conf_node_file_t;

typedef struct conf_provider_file {
    char *id, *base_url, *api_key;
    int enabled;
    unsigned max_concurrent;
    int http2;
    conf_node_file_t *nodes;
    unsigned nodes_count;
} conf_provider_file_t;

/* Booleans as a strict enum: libcyaml 1.3 reads any unknown word ("maybe")
 * as true, which would turn a typo into TLS-on or self-signed-on. */
/* 0 stays "not given". */
enum { CONF_UNSET = 0, CONF_FALSE = 1, CONF_TRUE = 2 };
static const cyaml_strval_t bool_strings[] = {{"false", CONF_FALSE}, {"true", CONF_TRUE}};
#define BOOL_FIELD(key, flags, st, member) \
    CYAML_FIELD_ENUM(key, (flags) | CYAML_FLAG_STRICT, st, member, bool_strings, 2)
/* providers.settings[].http2 and .nodes[].http2; 0 stays "not given". */
static const cyaml_strval_t http2_strings[] = {
    {"auto", TF_CONF_HTTP2_AUTO + 1}, {"off", TF_CONF_HTTP2_OFF + 1}, {"h2c", TF_CONF_HTTP2_H2C + 1}};

static const cyaml_schema_field_t node_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, typeof(((conf_file_t *)0)->node), name, 1, 128),
    CYAML_FIELD_END};

static const cyaml_schema_field_t listen_fields[] = {
    CYAML_FIELD_STRING_PTR("address", CYAML_FLAG_POINTER, conf_listen_file_t, address, 1, 255),
    CYAML_FIELD_UINT("port", CYAML_FLAG_DEFAULT, conf_listen_file_t, port),
    BOOL_FIELD("tls", CYAML_FLAG_OPTIONAL, conf_listen_file_t, tls),
    CYAML_FIELD_END};

static const cyaml_schema_value_t listen_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, conf_listen_file_t, listen_fields),
};

typedef typeof(((conf_file_t *)0)->tls) tls_t;
static const cyaml_schema_field_t tls_fields[] = {
    CYAML_FIELD_STRING_PTR("cert_file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, tls_t, cert_file, 1, 4096),
    CYAML_FIELD_STRING_PTR("key_file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, tls_t, key_file, 1, 4096),
    BOOL_FIELD("create_self_signed", CYAML_FLAG_OPTIONAL, tls_t, create_self_signed),
    CYAML_FIELD_END};

typedef typeof(((conf_file_t *)0)->database) db_t;
static const cyaml_schema_field_t db_fields[] = {
    CYAML_FIELD_STRING_PTR("url", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, db_t, url, 0, 4096),
    CYAML_FIELD_UINT("connections_per_thread", CYAML_FLAG_OPTIONAL, db_t, connections_per_thread),
    CYAML_FIELD_STRING_PTR("migrations", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, db_t, migrations, 1, 4096),
    CYAML_FIELD_UINT_PTR("startup_wait_seconds", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, db_t, startup_wait_seconds),
    CYAML_FIELD_END};

typedef typeof(((conf_file_t *)0)->limits) limits_t;
static const cyaml_schema_field_t limits_fields[] = {
    CYAML_FIELD_UINT("max_body_bytes", CYAML_FLAG_OPTIONAL, limits_t, max_body_bytes),
    CYAML_FIELD_END};

typedef typeof(((conf_file_t *)0)->log) log_t;
static const cyaml_schema_field_t log_fields[] = {
    CYAML_FIELD_STRING_PTR("level", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, log_t, level, 1, 16),
    CYAML_FIELD_STRING_PTR("file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, log_t, file, 0, 4096),
    CYAML_FIELD_END};

typedef typeof(((conf_file_t *)0)->auth) auth_t;
static const cyaml_schema_value_t string_entry = {CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 4096)};
static const cyaml_schema_field_t auth_fields[] = {
    CYAML_FIELD_STRING_PTR("jwt_alg", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, jwt_alg, 1, 16),
    CYAML_FIELD_STRING_PTR("jwt_secret", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, jwt_secret, 0, 4096),
    CYAML_FIELD_STRING_PTR("jwt_private_key_file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, jwt_private_key_file, 1, 4096),
    CYAML_FIELD_STRING_PTR("jwt_public_key_file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, jwt_public_key_file, 1, 4096),
    CYAML_FIELD_STRING_PTR("issuer", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, issuer, 1, 256),
    CYAML_FIELD_UINT("access_ttl_seconds", CYAML_FLAG_OPTIONAL, auth_t, access_ttl_seconds),
    CYAML_FIELD_UINT("refresh_ttl_seconds", CYAML_FLAG_OPTIONAL, auth_t, refresh_ttl_seconds),
    CYAML_FIELD_SEQUENCE("trusted_proxies", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, trusted_proxies, &string_entry, 0, 64),
    CYAML_FIELD_SEQUENCE("admins", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, auth_t, admins, &string_entry, 0, 256),
    CYAML_FIELD_UINT("login_max_failures", CYAML_FLAG_OPTIONAL, auth_t, login_max_failures),
    CYAML_FIELD_UINT("login_window_seconds", CYAML_FLAG_OPTIONAL, auth_t, login_window_seconds),
    CYAML_FIELD_END};

static const cyaml_schema_field_t pnode_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, conf_node_file_t, name, 1, 64),
    CYAML_FIELD_STRING_PTR("base_url", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_node_file_t, base_url, 1, 2048),
    CYAML_FIELD_STRING_PTR("api_key", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_node_file_t, api_key, 0, 4096),
    BOOL_FIELD("enabled", CYAML_FLAG_OPTIONAL, conf_node_file_t, enabled),
    CYAML_FIELD_UINT("max_concurrent", CYAML_FLAG_OPTIONAL, conf_node_file_t, max_concurrent),
    CYAML_FIELD_ENUM("http2", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, conf_node_file_t, http2, http2_strings, 3),
    CYAML_FIELD_END};
static const cyaml_schema_value_t pnode_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, conf_node_file_t, pnode_fields)};
static const cyaml_schema_field_t psetting_fields[] = {
    CYAML_FIELD_STRING_PTR("id", CYAML_FLAG_POINTER, conf_provider_file_t, id, 1, 64),
    CYAML_FIELD_STRING_PTR("base_url", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_provider_file_t, base_url, 1, 2048),
    CYAML_FIELD_STRING_PTR("api_key", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_provider_file_t, api_key, 0, 4096),
    BOOL_FIELD("enabled", CYAML_FLAG_OPTIONAL, conf_provider_file_t, enabled),
    CYAML_FIELD_UINT("max_concurrent", CYAML_FLAG_OPTIONAL, conf_provider_file_t, max_concurrent),
    CYAML_FIELD_ENUM("http2", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, conf_provider_file_t, http2, http2_strings, 3),
    CYAML_FIELD_SEQUENCE("nodes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_provider_file_t, nodes, &pnode_entry, 1, 64),
    CYAML_FIELD_END};
static const cyaml_schema_value_t psetting_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, conf_provider_file_t, psetting_fields)};
typedef typeof(((conf_file_t *)0)->providers) providers_t;
static const cyaml_schema_field_t providers_fields[] = {
    CYAML_FIELD_STRING_PTR("strategy", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, providers_t, strategy, 1, 32),
    CYAML_FIELD_UINT("connect_timeout_ms", CYAML_FLAG_OPTIONAL, providers_t, connect_timeout_ms),
    CYAML_FIELD_UINT("attempt_timeout_ms", CYAML_FLAG_OPTIONAL, providers_t, attempt_timeout_ms),
    CYAML_FIELD_UINT("stream_idle_ms", CYAML_FLAG_OPTIONAL, providers_t, stream_idle_ms),
    CYAML_FIELD_UINT_PTR("stream_coalesce_ms", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, providers_t, stream_coalesce_ms),
    CYAML_FIELD_UINT("deadline_ms", CYAML_FLAG_OPTIONAL, providers_t, deadline_ms),
    CYAML_FIELD_UINT("max_attempts", CYAML_FLAG_OPTIONAL, providers_t, max_attempts),
    CYAML_FIELD_UINT("breaker_failures", CYAML_FLAG_OPTIONAL, providers_t, breaker_failures),
    CYAML_FIELD_UINT("breaker_open_ms", CYAML_FLAG_OPTIONAL, providers_t, breaker_open_ms),
    CYAML_FIELD_UINT("queue_timeout_ms", CYAML_FLAG_OPTIONAL, providers_t, queue_timeout_ms),
    CYAML_FIELD_SEQUENCE("only", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, providers_t, only, &string_entry, 0, 256),
    CYAML_FIELD_SEQUENCE("settings", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, providers_t, settings, &psetting_entry, 0, 256),
    CYAML_FIELD_END};

static const cyaml_schema_field_t profile_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, conf_profile_file_t, name, 1, 64),
    CYAML_FIELD_SEQUENCE("tools", CYAML_FLAG_POINTER, conf_profile_file_t, tools, &string_entry, 1, 1024),
    CYAML_FIELD_END};
static const cyaml_schema_value_t profile_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, conf_profile_file_t, profile_fields)};
static const cyaml_schema_field_t tier_profile_fields[] = {
    CYAML_FIELD_STRING_PTR("tier", CYAML_FLAG_POINTER, conf_tier_profile_file_t, tier, 1, 64),
    CYAML_FIELD_STRING_PTR("profile", CYAML_FLAG_POINTER, conf_tier_profile_file_t, profile, 1, 64),
    CYAML_FIELD_END};
static const cyaml_schema_value_t tier_profile_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, conf_tier_profile_file_t, tier_profile_fields)};

typedef typeof(((conf_file_t *)0)->mcp) mcp_t;
static const cyaml_schema_field_t mcp_fields[] = {
    CYAML_FIELD_SEQUENCE("profiles", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, mcp_t, profiles, &profile_entry, 0, 64),
    CYAML_FIELD_SEQUENCE("tier_profiles", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, mcp_t, tier_profiles, &tier_profile_entry, 0, 64),
    CYAML_FIELD_UINT("page_size", CYAML_FLAG_OPTIONAL, mcp_t, page_size),
    CYAML_FIELD_SEQUENCE("allowed_origins", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, mcp_t, allowed_origins, &string_entry, 0, 64),
    BOOL_FIELD("conformance", CYAML_FLAG_OPTIONAL, mcp_t, conformance),
    CYAML_FIELD_STRING_PTR("conformance_user", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, mcp_t, conformance_user, 0, 320),
    CYAML_FIELD_SEQUENCE("allowed_hosts", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, mcp_t, allowed_hosts, &string_entry, 0, 64),
    CYAML_FIELD_END};

static const cyaml_schema_field_t tier_fields[] = {
    CYAML_FIELD_STRING_PTR("tier", CYAML_FLAG_POINTER, conf_tier_file_t, tier, 1, 64),
    CYAML_FIELD_INT_PTR("daily_tokens", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_tier_file_t, daily_tokens),
    CYAML_FIELD_INT_PTR("requests_per_hour", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_tier_file_t, requests_per_hour),
    CYAML_FIELD_SEQUENCE("models", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_tier_file_t, models, &string_entry, 0, 256),
    BOOL_FIELD("ollama_unlimited", CYAML_FLAG_OPTIONAL, conf_tier_file_t, ollama_unlimited),
    BOOL_FIELD("mcp_access", CYAML_FLAG_OPTIONAL, conf_tier_file_t, mcp_access),
    BOOL_FIELD("priority", CYAML_FLAG_OPTIONAL, conf_tier_file_t, priority),
    CYAML_FIELD_END};
static const cyaml_schema_value_t tier_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, conf_tier_file_t, tier_fields)};

typedef typeof(((conf_file_t *)0)->tools) tools_t;
static const cyaml_schema_field_t tools_fields[] = {
    CYAML_FIELD_STRING_PTR("workspace_root", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, tools_t, workspace_root, 1, 4096),
    CYAML_FIELD_UINT("max_file_bytes", CYAML_FLAG_OPTIONAL, tools_t, max_file_bytes),
    CYAML_FIELD_STRING_PTR("searxng_url", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, tools_t, searxng_url, 0, 2048),
    BOOL_FIELD("crawl_allow_private", CYAML_FLAG_OPTIONAL, tools_t, crawl_allow_private),
    CYAML_FIELD_UINT("crawl_max_bytes", CYAML_FLAG_OPTIONAL, tools_t, crawl_max_bytes),
    CYAML_FIELD_UINT("crawl_timeout_ms", CYAML_FLAG_OPTIONAL, tools_t, crawl_timeout_ms),
    CYAML_FIELD_END};

static const cyaml_schema_field_t top_fields[] = {
    CYAML_FIELD_MAPPING("mcp", CYAML_FLAG_OPTIONAL, conf_file_t, mcp, mcp_fields),
    CYAML_FIELD_MAPPING("tools", CYAML_FLAG_OPTIONAL, conf_file_t, tools, tools_fields),
    CYAML_FIELD_SEQUENCE("tiers", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_file_t, tiers, &tier_entry, 0, 16),
    CYAML_FIELD_MAPPING("providers", CYAML_FLAG_OPTIONAL, conf_file_t, providers, providers_fields),
    CYAML_FIELD_MAPPING("auth", CYAML_FLAG_OPTIONAL, conf_file_t, auth, auth_fields),
    CYAML_FIELD_MAPPING("node", CYAML_FLAG_OPTIONAL, conf_file_t, node, node_fields),
    CYAML_FIELD_SEQUENCE("listen", CYAML_FLAG_POINTER, conf_file_t, listen, &listen_entry, 1, 16),
    CYAML_FIELD_MAPPING("tls", CYAML_FLAG_OPTIONAL, conf_file_t, tls, tls_fields),
    CYAML_FIELD_UINT("threads", CYAML_FLAG_OPTIONAL, conf_file_t, threads),
    CYAML_FIELD_UINT_PTR("busy_poll_us", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, conf_file_t, busy_poll_us),
    CYAML_FIELD_MAPPING("database", CYAML_FLAG_OPTIONAL, conf_file_t, database, db_fields),
    CYAML_FIELD_MAPPING("limits", CYAML_FLAG_OPTIONAL, conf_file_t, limits, limits_fields),
    CYAML_FIELD_MAPPING("log", CYAML_FLAG_OPTIONAL, conf_file_t, log, log_fields),
    CYAML_FIELD_END};

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, conf_file_t, top_fields),
};

/* ------------------------------------------------------------------ */
/* Error collection                                                    */

typedef struct errbuf {
    char *buf;
    size_t cap, len;
    const char *file;
    int count;
    tf_yaml_cyaml_err_t cy;
} errbuf_t;

static void err_add(errbuf_t *e, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_add(errbuf_t *e, unsigned line, const char *fmt, ...)
{
    if (e->len + 1 >= e->cap)
        return;
    int n = line ? snprintf(e->buf + e->len, e->cap - e->len, "%s:%u: ", e->file, line)
                 : snprintf(e->buf + e->len, e->cap - e->len, "%s: ", e->file);
    if (n > 0)
        e->len = e->len + (size_t)n < e->cap ? e->len + (size_t)n : e->cap - 1;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        e->len = e->len + (size_t)n < e->cap ? e->len + (size_t)n : e->cap - 1;
    if (e->len + 1 < e->cap)
        e->buf[e->len++] = '\n';
    e->buf[e->len] = '\0';
    e->count++;
}

/* ------------------------------------------------------------------ */
/* Post-load checks                                                    */

/*
 * Expands ${NAME} references from the environment, so secrets (database
 * passwords, later API keys) need not be written into conf/. An unset
 * variable is an error rather than an empty string: an empty database URL
 * silently means "local socket, current user".
 */
static char *expand_env(const char *s, errbuf_t *e, unsigned line, const char *field)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = malloc(cap);
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (end == NULL) {
                err_add(e, line, "%s: unterminated ${ in value", field);
                free(out);
                return NULL;
            }
            char name[128];
            size_t nl = (size_t)(end - p - 2);
            if (nl == 0 || nl >= sizeof(name)) {
                err_add(e, line, "%s: bad environment reference", field);
                free(out);
                return NULL;
            }
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            const char *v = getenv(name);
            if (v == NULL) {
                err_add(e, line, "%s: environment variable %s is not set", field, name);
                free(out);
                return NULL;
            }
            size_t vl = strlen(v);
            cap += vl;
            out = realloc(out, cap);
            memcpy(out + len, v, vl);
            len += vl;
            p = end + 1;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

/* A small key file, read whole (PEM); NULL when unreadable. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s != NULL ? s : dflt);
}

static char *opt_env(const char *v, errbuf_t *e, const tf_yaml_lines_t *yl, const char *path)
{
    return v == NULL ? NULL : expand_env(v, e, tf_yaml_lines_get(yl, path), path);
}

static int tri(int v)
{
    return v == CONF_UNSET ? -1 : v == CONF_TRUE;
}

static void mesh_err(void *ctx, unsigned line, const char *msg)
{
    err_add(ctx, line, "%s", msg);
}

/* max_concurrent of `path` (a setting or a node): 0 (no cap) when out of range. */
#define MAX_CONCURRENT_LIMIT 100000u
static unsigned cap_ok(errbuf_t *e, const tf_yaml_lines_t *yl, const char *path, unsigned v)
{
    if (v <= MAX_CONCURRENT_LIMIT)
        return v;
    err_add(e, tf_yaml_lines_get(yl, path), "%s.max_concurrent: %u is more than %u (0: no cap)", path, v, MAX_CONCURRENT_LIMIT);
    return 0;
}

/* providers: defaults, the operator's settings (keys may come from the
 * environment), then the merged table the Mesh Brain routes over. */
static void build_providers(tf_conf_t *c, const conf_file_t *f, const tf_yaml_lines_t *yl, errbuf_t *e)
{
    const providers_t *p = &f->providers;
    c->strategy = p->strategy ? strdup(p->strategy) : NULL;
    c->connect_timeout_ms = p->connect_timeout_ms ? p->connect_timeout_ms : 3000;
    c->attempt_timeout_ms = p->attempt_timeout_ms ? p->attempt_timeout_ms : 30000;
    c->stream_idle_ms = p->stream_idle_ms ? p->stream_idle_ms : 30000;
    c->stream_coalesce_ms = p->stream_coalesce_ms != NULL ? *p->stream_coalesce_ms : TF_CONF_STREAM_COALESCE_MS;
    if (c->stream_coalesce_ms > 1000)
        err_add(e, tf_yaml_lines_get(yl, "providers.stream_coalesce_ms"),
                "providers.stream_coalesce_ms: %u is more than 1000 (a second); tokens would arrive in bursts", c->stream_coalesce_ms);
    c->deadline_ms = p->deadline_ms ? p->deadline_ms : 60000;
    c->max_attempts = p->max_attempts ? p->max_attempts : 4;
    c->breaker_failures = p->breaker_failures ? p->breaker_failures : 3;
    c->breaker_open_ms = p->breaker_open_ms ? p->breaker_open_ms : 30000;
    c->queue_timeout_ms = p->queue_timeout_ms ? p->queue_timeout_ms : 10000;
    if (c->queue_timeout_ms > 3600000u)
        err_add(e, tf_yaml_lines_get(yl, "providers.queue_timeout_ms"), "providers.queue_timeout_ms: %u is more than an hour",
                c->queue_timeout_ms);
    c->providers_only_count = p->only_count;
    c->providers_only = calloc(p->only_count + 1, sizeof(char *));
    for (unsigned i = 0; i < p->only_count; i++)
        c->providers_only[i] = strdup(p->only[i]);
    c->providers_count = p->settings_count;
    c->providers = calloc(p->settings_count + 1, sizeof(*c->providers));
    for (unsigned i = 0; i < p->settings_count; i++) {
        const conf_provider_file_t *s = &p->settings[i];
        tf_conf_provider_t *d = &c->providers[i];
        char path[96];
        snprintf(path, sizeof(path), "providers.settings[%u]", i);
        d->line = tf_yaml_lines_get(yl, path);
        d->id = strdup(s->id);
        d->enabled = tri(s->enabled);
        d->base_url = s->base_url ? strdup(s->base_url) : NULL;
        d->max_concurrent = cap_ok(e, yl, path, s->max_concurrent);
        d->http2 = s->http2 - 1;
        snprintf(path, sizeof(path), "providers.settings[%u].api_key", i);
        d->api_key = opt_env(s->api_key, e, yl, path);
        d->nodes_count = s->nodes_count;
        d->nodes = calloc(s->nodes_count + 1, sizeof(*d->nodes));
        for (unsigned n = 0; n < s->nodes_count; n++) {
            tf_conf_node_t *dn = &d->nodes[n];
            snprintf(path, sizeof(path), "providers.settings[%u].nodes[%u]", i, n);
            dn->line = tf_yaml_lines_get(yl, path);
            dn->name = strdup(s->nodes[n].name);
            dn->base_url = s->nodes[n].base_url ? strdup(s->nodes[n].base_url) : NULL;
            dn->enabled = tri(s->nodes[n].enabled);
            dn->max_concurrent = cap_ok(e, yl, path, s->nodes[n].max_concurrent);
            dn->http2 = s->nodes[n].http2 - 1;
            snprintf(path, sizeof(path), "providers.settings[%u].nodes[%u].api_key", i, n);
            dn->api_key = opt_env(s->nodes[n].api_key, e, yl, path);
        }
    }
    unsigned line_strategy = tf_yaml_lines_get(yl, "providers.strategy");
    unsigned line_only = tf_yaml_lines_get(yl, "providers.only");
    c->mesh = tf_mesh_new(c, line_strategy, line_only, mesh_err, e);
}

static int tier_value_ok(errbuf_t *e, const tf_yaml_lines_t *yl, unsigned i, const char *field, const int64_t *v)
{
    if (v == NULL || *v >= -1)
        return 1;
    char path[64];
    snprintf(path, sizeof(path), "tiers[%u].%s", i, field);
    err_add(e, tf_yaml_lines_get(yl, path), "tiers[%u].%s: %lld is neither a limit (>= 0) nor -1 (unlimited)", i, field, (long long)*v);
    return 0;
}

/*
 * The tiers of this snapshot: spec/tiers.yaml's, with conf `tiers:` applied.
 * Limits live in the snapshot so that a reload changes them for the next
 * request while requests in flight keep the ones they started with.
 */
static void build_tiers(tf_conf_t *c, const conf_file_t *f, const tf_yaml_lines_t *yl, errbuf_t *e)
{
    c->tiers = calloc(tf_tiers_count, sizeof(*c->tiers));
    c->tier_models = calloc(tf_tiers_count, sizeof(*c->tier_models));
    c->rendered = calloc(tf_tiers_count + 1, sizeof(*c->rendered));
    c->rendered_len = calloc(tf_tiers_count + 1, sizeof(*c->rendered_len));
    memcpy(c->tiers, tf_tiers, tf_tiers_count * sizeof(*c->tiers));
    char seen[64] = {0};
    for (unsigned i = 0; i < f->tiers_count; i++) {
        const conf_tier_file_t *o = &f->tiers[i];
        char path[64];
        snprintf(path, sizeof(path), "tiers[%u]", i);
        int t = tf_tier_find(o->tier);
        if (t < 0) {
            err_add(e, tf_yaml_lines_get(yl, path), "tiers[%u].tier: '%s' is not a tier of spec/tiers.yaml", i, o->tier);
            continue;
        }
        if ((size_t)t >= sizeof(seen) || seen[t]++) {
            err_add(e, tf_yaml_lines_get(yl, path), "tiers[%u]: tier '%s' is given twice", i, o->tier);
            continue;
        }
        tf_tier_t *d = &c->tiers[t];
        if (tier_value_ok(e, yl, i, "daily_tokens", o->daily_tokens) && o->daily_tokens != NULL)
            d->daily_tokens = *o->daily_tokens;
        if (tier_value_ok(e, yl, i, "requests_per_hour", o->requests_per_hour) && o->requests_per_hour != NULL)
            d->requests_per_hour = *o->requests_per_hour;
        if (o->ollama_unlimited != CONF_UNSET)
            d->ollama_unlimited = o->ollama_unlimited == CONF_TRUE;
        if (o->mcp_access != CONF_UNSET)
            d->mcp_access = o->mcp_access == CONF_TRUE;
        if (o->priority != CONF_UNSET)
            d->priority = o->priority == CONF_TRUE;
        if (o->models != NULL) {
            char **m = calloc(o->models_count + 1, sizeof(char *));
            for (unsigned k = 0; k < o->models_count; k++)
                m[k] = strdup(o->models[k]);
            c->tier_models[t] = m;
            d->models = (const char *const *)m;
        }
    }
}

const tf_tier_t *tf_conf_tier(const tf_conf_t *c, int t)
{
    return &c->tiers[t];
}

int tf_conf_tier_reaches(const tf_conf_t *c, int t, int min_tier)
{
    if (min_tier == TF_MIN_TIER_MCP)
        return c->tiers[t].mcp_access;
    return tf_tiers[min_tier].rank <= tf_tiers[t].rank;
}

static int build(tf_conf_t *c, const conf_file_t *f, const tf_yaml_lines_t *yl, errbuf_t *e)
{
    c->node_name = dup_or(f->node.name, "triforce");

    c->listen_count = f->listen_count;
    c->listen = calloc(f->listen_count, sizeof(*c->listen));
    const conf_listen_file_t *lf = f->listen;
    for (unsigned i = 0; i < f->listen_count; i++) {
        char path[64];
        c->listen[i].address = strdup(lf[i].address);
        c->listen[i].port = lf[i].port;
        c->listen[i].tls = lf[i].tls == CONF_TRUE;
        if (lf[i].port == 0 || lf[i].port > 65535) {
            snprintf(path, sizeof(path), "listen[%u].port", i);
            err_add(e, tf_yaml_lines_get(yl, path), "listen[%u].port: %u is not a port (1-65535)", i, lf[i].port);
        }
        for (unsigned j = 0; j < i; j++)
            if (lf[j].port == lf[i].port && strcmp(lf[j].address, lf[i].address) == 0) {
                snprintf(path, sizeof(path), "listen[%u]", i);
                err_add(e, tf_yaml_lines_get(yl, path), "listen[%u]: %s:%u is listed twice", i, lf[i].address, lf[i].port);
            }
    }

    c->tls_cert_file = dup_or(f->tls.cert_file, "var/tls/cert.pem");
    c->tls_key_file = dup_or(f->tls.key_file, "var/tls/key.pem");
    c->tls_create_self_signed = f->tls.create_self_signed != CONF_FALSE;

    if (f->threads > 256)
        err_add(e, tf_yaml_lines_get(yl, "threads"), "threads: %u is more than 256", f->threads);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = f->threads != 0 ? f->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    c->busy_poll_us = f->busy_poll_us != NULL ? *f->busy_poll_us : TF_CONF_BUSY_POLL_US;
    if (c->busy_poll_us > 10000)
        err_add(e, tf_yaml_lines_get(yl, "busy_poll_us"), "busy_poll_us: %u is more than 10000 (10 ms)", c->busy_poll_us);

    if (f->database.url != NULL)
        c->db_url = expand_env(f->database.url, e, tf_yaml_lines_get(yl, "database.url"), "database.url");
    else
        c->db_url = strdup("dbname=triforce");
    if (c->db_url == NULL)
        c->db_url = strdup("");
    c->db_connections_per_thread = f->database.connections_per_thread ? f->database.connections_per_thread : 2;
    if (c->db_connections_per_thread > 64)
        err_add(e, tf_yaml_lines_get(yl, "database.connections_per_thread"), "database.connections_per_thread: %u is more than 64",
                c->db_connections_per_thread);
    c->db_migrations = dup_or(f->database.migrations, "runtime/db/migrations");
    c->db_startup_wait_seconds = f->database.startup_wait_seconds != NULL ? *f->database.startup_wait_seconds : 10;

    c->max_body_bytes = f->limits.max_body_bytes ? f->limits.max_body_bytes : 1024 * 1024;
    if (c->max_body_bytes > 64 * 1024 * 1024)
        err_add(e, tf_yaml_lines_get(yl, "limits.max_body_bytes"), "limits.max_body_bytes: more than 64 MiB");

    c->log_level = TF_LOG_INFO;
    if (f->log.level != NULL && (c->log_level = tf_log_level_parse(f->log.level)) < 0)
        err_add(e, tf_yaml_lines_get(yl, "log.level"), "log.level: '%s' is not one of debug, info, warn, error, off",
                f->log.level);
    c->log_file = dup_or(f->log.file, "");

    /* auth */
    c->jwt_alg = dup_or(f->auth.jwt_alg, "HS256");
    c->jwt_issuer = dup_or(f->auth.issuer, "triforce");
    c->access_ttl_seconds = f->auth.access_ttl_seconds ? f->auth.access_ttl_seconds : 900;
    c->refresh_ttl_seconds = f->auth.refresh_ttl_seconds ? f->auth.refresh_ttl_seconds : 30 * 86400;
    c->login_max_failures = f->auth.login_max_failures ? f->auth.login_max_failures : 5;
    c->login_window_seconds = f->auth.login_window_seconds ? f->auth.login_window_seconds : 900;
    c->trusted_proxies_count = f->auth.trusted_proxies_count;
    c->trusted_proxies = calloc(f->auth.trusted_proxies_count + 1, sizeof(*c->trusted_proxies));
    for (unsigned i = 0; i < f->auth.trusted_proxies_count; i++) {
        char why[200], path[48];
        if (tf_addr_net_parse(f->auth.trusted_proxies[i], &c->trusted_proxies[i], why, sizeof(why)) != 0) {
            snprintf(path, sizeof(path), "auth.trusted_proxies[%u]", i);
            err_add(e, tf_yaml_lines_get(yl, path), "%s: %s", path, why);
        }
    }
    c->admins_count = f->auth.admins_count;
    c->admins = calloc(f->auth.admins_count + 1, sizeof(char *));
    for (unsigned i = 0; i < f->auth.admins_count; i++)
        c->admins[i] = strdup(f->auth.admins[i]);
    if (f->auth.jwt_secret != NULL)
        c->jwt_secret = expand_env(f->auth.jwt_secret, e, tf_yaml_lines_get(yl, "auth.jwt_secret"), "auth.jwt_secret");
    c->jwt_private_key_file = f->auth.jwt_private_key_file ? strdup(f->auth.jwt_private_key_file) : NULL;
    c->jwt_public_key_file = f->auth.jwt_public_key_file ? strdup(f->auth.jwt_public_key_file) : NULL;
    /* No secret and no keys: tokens are refused and logins answer 503, so a
     * minimal conf still serves the public routes. */
    int auth_configured = c->jwt_secret != NULL || c->jwt_private_key_file != NULL || c->jwt_public_key_file != NULL;
    if (e->count == 0 && auth_configured) {
        char jerr[256];
        char *priv = c->jwt_private_key_file ? read_file(c->jwt_private_key_file) : NULL;
        char *pub = c->jwt_public_key_file ? read_file(c->jwt_public_key_file) : NULL;
        c->jwt = tf_jwt_keys_new(c->jwt_alg, c->jwt_secret, priv, pub, c->jwt_issuer, jerr, sizeof(jerr));
        if (c->jwt == NULL)
            err_add(e, tf_yaml_lines_get(yl, strcmp(c->jwt_alg, "HS256") == 0 ? "auth.jwt_secret" : "auth.jwt_alg"), "auth: %s",
                    jerr);
        if (priv != NULL)
            explicit_bzero(priv, strlen(priv));
        free(priv);
        free(pub);
    }
    build_providers(c, f, yl, e);
    c->mcp_page_size = f->mcp.page_size ? f->mcp.page_size : 50;
    if (c->mcp_page_size > 1000)
        err_add(e, tf_yaml_lines_get(yl, "mcp.page_size"), "mcp.page_size: %u is more than 1000", c->mcp_page_size);
    c->mcp_allowed_origins_count = f->mcp.allowed_origins_count;
    c->mcp_allowed_origins = calloc(f->mcp.allowed_origins_count + 1, sizeof(char *));
    for (unsigned i = 0; i < f->mcp.allowed_origins_count; i++)
        c->mcp_allowed_origins[i] = strdup(f->mcp.allowed_origins[i]);
    c->mcp_conformance = f->mcp.conformance == CONF_TRUE;
    c->mcp_allowed_hosts_count = f->mcp.allowed_hosts_count;
    c->mcp_allowed_hosts = calloc(f->mcp.allowed_hosts_count + 1, sizeof(char *));
    for (unsigned i = 0; i < f->mcp.allowed_hosts_count; i++)
        c->mcp_allowed_hosts[i] = strdup(f->mcp.allowed_hosts[i]);
    if (f->mcp.conformance_user != NULL && f->mcp.conformance_user[0] != '\0') {
        /* Unauthenticated MCP requests act as this user: for the conformance
         * suite (which sends no credentials) on a loopback-only server. */
        if (!c->mcp_conformance)
            err_add(e, tf_yaml_lines_get(yl, "mcp.conformance_user"), "mcp.conformance_user needs mcp.conformance: true");
        for (size_t i = 0; i < c->listen_count; i++)
            if (strcmp(c->listen[i].address, "127.0.0.1") != 0 && strcmp(c->listen[i].address, "::1") != 0 &&
                strcmp(c->listen[i].address, "localhost") != 0)
                err_add(e, tf_yaml_lines_get(yl, "mcp.conformance_user"),
                        "mcp.conformance_user lets requests without credentials in: only with loopback listeners (not %s)",
                        c->listen[i].address);
        c->mcp_conformance_user = strdup(f->mcp.conformance_user);
    }
    c->mcp_profiles_count = f->mcp.profiles_count;
    c->mcp_profiles = calloc(f->mcp.profiles_count + 1, sizeof(*c->mcp_profiles));
    for (unsigned i = 0; i < f->mcp.profiles_count; i++) {
        const conf_profile_file_t *pf = &f->mcp.profiles[i];
        c->mcp_profiles[i].name = strdup(pf->name);
        c->mcp_profiles[i].tools_count = pf->tools_count;
        c->mcp_profiles[i].tools = calloc(pf->tools_count + 1, sizeof(char *));
        for (unsigned k = 0; k < pf->tools_count; k++)
            c->mcp_profiles[i].tools[k] = strdup(pf->tools[k]);
        for (unsigned j = 0; j < i; j++)
            if (strcmp(c->mcp_profiles[j].name, pf->name) == 0) {
                char path[64];
                snprintf(path, sizeof(path), "mcp.profiles[%u]", i);
                err_add(e, tf_yaml_lines_get(yl, path), "mcp.profiles: '%s' is defined twice", pf->name);
            }
    }
    c->mcp_tier_profile = calloc(tf_tiers_count + 1, sizeof(int));
    for (size_t t = 0; t < tf_tiers_count; t++)
        c->mcp_tier_profile[t] = -1;
    for (unsigned i = 0; i < f->mcp.tier_profiles_count; i++) {
        const conf_tier_profile_file_t *tp = &f->mcp.tier_profiles[i];
        char path[64];
        snprintf(path, sizeof(path), "mcp.tier_profiles[%u]", i);
        int t = tf_tier_find(tp->tier), pi = -1;
        for (unsigned k = 0; k < c->mcp_profiles_count; k++)
            if (strcmp(c->mcp_profiles[k].name, tp->profile) == 0)
                pi = (int)k;
        if (t < 0)
            err_add(e, tf_yaml_lines_get(yl, path), "mcp.tier_profiles: '%s' is not a tier", tp->tier);
        else if (pi < 0)
            err_add(e, tf_yaml_lines_get(yl, path), "mcp.tier_profiles: no profile '%s' in mcp.profiles", tp->profile);
        else
            c->mcp_tier_profile[t] = pi;
    }
    build_tiers(c, f, yl, e);
    c->tools_workspace_root = dup_or(f->tools.workspace_root, "var/workspaces");
    c->tools_max_file_bytes = f->tools.max_file_bytes ? f->tools.max_file_bytes : 1024 * 1024;
    c->tools_searxng_url = dup_or(f->tools.searxng_url, "");
    if (c->tools_searxng_url[0] && strncmp(c->tools_searxng_url, "http://", 7) != 0 && strncmp(c->tools_searxng_url, "https://", 8) != 0)
        err_add(e, tf_yaml_lines_get(yl, "tools.searxng_url"), "tools.searxng_url: must start with http:// or https://");
    c->tools_crawl_allow_private = f->tools.crawl_allow_private == CONF_TRUE;
    c->tools_crawl_max_bytes = f->tools.crawl_max_bytes ? f->tools.crawl_max_bytes : 2 * 1024 * 1024;
    c->tools_crawl_timeout_ms = f->tools.crawl_timeout_ms ? f->tools.crawl_timeout_ms : 10000;
    return e->count == 0 ? 0 : -1;
}

static void conf_free(tf_conf_t *c)
{
    if (c == NULL)
        return;
    free(c->node_name);
    for (unsigned i = 0; c->listen != NULL && i < c->listen_count; i++)
        free(c->listen[i].address);
    free(c->listen);
    free(c->tls_cert_file);
    free(c->tls_key_file);
    if (c->db_url != NULL)
        explicit_bzero(c->db_url, strlen(c->db_url)); /* may hold a password */
    free(c->db_url);
    free(c->db_migrations);
    free(c->log_file);
    free(c->jwt_alg);
    if (c->jwt_secret != NULL)
        explicit_bzero(c->jwt_secret, strlen(c->jwt_secret));
    free(c->jwt_secret);
    free(c->jwt_private_key_file);
    free(c->jwt_public_key_file);
    free(c->jwt_issuer);
    free(c->trusted_proxies);
    for (unsigned i = 0; c->admins != NULL && i < c->admins_count; i++)
        free(c->admins[i]);
    free(c->admins);
    if (c->jwt != NULL)
        tf_jwt_keys_free(c->jwt);
    tf_mesh_free(c->mesh);
    for (unsigned i = 0; c->mcp_allowed_origins != NULL && i < c->mcp_allowed_origins_count; i++)
        free(c->mcp_allowed_origins[i]);
    free(c->mcp_allowed_origins);
    for (unsigned i = 0; c->mcp_allowed_hosts != NULL && i < c->mcp_allowed_hosts_count; i++)
        free(c->mcp_allowed_hosts[i]);
    free(c->mcp_allowed_hosts);
    free(c->mcp_conformance_user);
    for (unsigned i = 0; c->mcp_profiles != NULL && i < c->mcp_profiles_count; i++) {
        for (unsigned k = 0; k < c->mcp_profiles[i].tools_count; k++)
            free(c->mcp_profiles[i].tools[k]);
        free(c->mcp_profiles[i].tools);
        free(c->mcp_profiles[i].name);
    }
    free(c->mcp_profiles);
    free(c->mcp_tier_profile);
    for (size_t t = 0; c->tier_models != NULL && t < tf_tiers_count; t++) {
        for (char **m = c->tier_models[t]; m != NULL && *m != NULL; m++)
            free(*m);
        free(c->tier_models[t]);
    }
    free(c->tier_models);
    free(c->tiers);
    for (size_t k = 0; c->rendered != NULL && k <= tf_tiers_count; k++)
        free(c->rendered[k]);
    free(c->rendered);
    free(c->rendered_len);
    free(c->tools_workspace_root);
    free(c->tools_searxng_url);
    free(c->strategy);
    for (unsigned i = 0; c->providers_only != NULL && i < c->providers_only_count; i++)
        free(c->providers_only[i]);
    free(c->providers_only);
    for (unsigned i = 0; c->providers != NULL && i < c->providers_count; i++) {
        tf_conf_provider_t *pv = &c->providers[i];
        free(pv->id);
        free(pv->base_url);
        if (pv->api_key != NULL)
            explicit_bzero(pv->api_key, strlen(pv->api_key));
        free(pv->api_key);
        for (unsigned n = 0; n < pv->nodes_count; n++) {
            free(pv->nodes[n].name);
            free(pv->nodes[n].base_url);
            if (pv->nodes[n].api_key != NULL)
                explicit_bzero(pv->nodes[n].api_key, strlen(pv->nodes[n].api_key));
            free(pv->nodes[n].api_key);
        }
        free(pv->nodes);
    }
    free(c->providers);
    free(c->path);
    free(c);
}

tf_conf_t *tf_conf_load(const char *file, char *err, size_t errlen)
{
    errbuf_t e = {.buf = err, .cap = errlen, .file = file};
    if (errlen > 0)
        err[0] = '\0';
    if (access(file, R_OK) != 0) {
        err_add(&e, 0, "cannot read the file: %m");
        return NULL;
    }
    cyaml_config_t cfg = {
        .log_fn = tf_yaml_cyaml_log,
        .log_ctx = &e.cy,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_DEFAULT,
    };
    conf_file_t *f = NULL;
    cyaml_err_t rc = cyaml_load_file(file, &cfg, &top_schema, (cyaml_data_t **)&f, NULL);
    if (rc != CYAML_OK) {
        err_add(&e, tf_yaml_cyaml_line(&e.cy, file), "%s", e.cy.msg[0] ? e.cy.msg : cyaml_strerror(rc));
        return NULL;
    }
    tf_yaml_lines_t *yl = tf_yaml_lines_load(file);
    tf_conf_t *c = calloc(1, sizeof(*c));
    c->refcnt = 1;
    c->path = strdup(file);
    int ok = build(c, f, yl, &e) == 0;
    tf_yaml_lines_free(yl);
    cyaml_free(&cfg, &top_schema, f, 0);
    if (!ok) {
        conf_free(c);
        return NULL;
    }
    return c;
}

tf_conf_t *tf_conf_ref(tf_conf_t *c)
{
    __atomic_add_fetch(&c->refcnt, 1, __ATOMIC_RELAXED);
    return c;
}

void tf_conf_unref(tf_conf_t *c)
{
    if (c != NULL && __atomic_sub_fetch(&c->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
        conf_free(c);
}

/* The current snapshot. Readers are rare (loop threads keep their own
 * reference and are told about a new one), so a mutex is enough. */
static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;
static tf_conf_t *current;
static uint64_t last_generation;

tf_conf_t *tf_conf_current(void)
{
    pthread_mutex_lock(&current_mu);
    tf_conf_t *c = current != NULL ? tf_conf_ref(current) : NULL;
    pthread_mutex_unlock(&current_mu);
    return c;
}

void tf_conf_publish(tf_conf_t *c)
{
    pthread_mutex_lock(&current_mu);
    tf_conf_t *old = current;
    c->generation = ++last_generation;
    current = c;
    pthread_mutex_unlock(&current_mu);
    tf_conf_unref(old);
}

const char *tf_conf_restart_needed(const tf_conf_t *a, const tf_conf_t *b)
{
    if (a->listen_count != b->listen_count)
        return "listen";
    for (unsigned i = 0; i < a->listen_count; i++)
        if (a->listen[i].port != b->listen[i].port || a->listen[i].tls != b->listen[i].tls ||
            strcmp(a->listen[i].address, b->listen[i].address) != 0)
            return "listen";
    if (a->threads != b->threads)
        return "threads";
    if (strcmp(a->tls_cert_file, b->tls_cert_file) != 0 || strcmp(a->tls_key_file, b->tls_key_file) != 0)
        return "tls";
    if (a->max_body_bytes != b->max_body_bytes)
        return "limits.max_body_bytes";
    if (a->db_connections_per_thread != b->db_connections_per_thread)
        return "database.connections_per_thread";
    return NULL;
}
