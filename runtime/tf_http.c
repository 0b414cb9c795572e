/*
 * tf_http.c - the request pipeline. See tf_http.h.
 */
#include "tf_http.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tf_auth.h"
#include "tf_db.h"
#include "tf_handlers.h"
#include "tf_log.h"
#include "tf_mcp.h"
#include "tf_metrics.h"
#include "tf_routes.h"
#include "tf_server.h"
#include "tf_tiers.h"
#include "tf_utf8.h"
#include "tf_work.h"

static const char *error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    case 502: case 504: return "upstream_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *protocol_name(const h2o_req_t *req)
{
    return req->version >= 0x200 ? "h2" : req->version >= 0x101 ? "http/1.1" : "http/1.0";
}

/* Metrics and the access log, once per request. */
static void finish(tf_req_t *r, int status)
{
    r->status = status;
    uint64_t dur = tf_now_ns() - r->start_ns;
    h2o_req_t *req = r->h2o;
    tf_metrics_request(r->thr->metrics, r->route, status, req->version >= 0x200 ? TF_HTTPV_2 : TF_HTTPV_1, dur);
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    tf_log_access(r->id, req->method.base, req->method.len, req->path.base, plen,
                  r->route < tf_routes_count ? tf_routes[r->route].name : "none", status, protocol_name(req), (double)dur / 1e6,
                  req->entity.base != NULL ? req->entity.len : 0);
}

void tf_add_header(tf_req_t *r, const char *name, const char *value)
{
    h2o_req_t *req = r->h2o;
    size_t vl = strlen(value);
    h2o_iovec_t v = h2o_strdup(&req->pool, value, vl);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, v.base, v.len);
}

void tf_respond_raw(tf_req_t *r, int status, const char *content_type, h2o_iovec_t body)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_req_t *req = r->h2o;
    if (req == NULL || r->status != 0)
        return;
    finish(r, status);
    req->res.status = status;
    req->res.reason = status < 400 ? "OK" : "Error";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->id, strlen(r->id));
    h2o_start_response(req, &generator);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

void tf_respond_stream_start(tf_req_t *r, int status, const char *content_type, h2o_generator_t *gen)
{
    h2o_req_t *req = r->h2o;
    finish(r, status);
    req->res.status = status;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->id, strlen(r->id));
    h2o_start_response(req, gen);
}

void tf_respond_json(tf_req_t *r, int status, json_t *body)
{
    if (r->h2o == NULL || r->status != 0) {
        json_decref(body);
        return;
    }
    /* One pass into a guess; a second only for bodies over 4 KiB. */
    size_t cap = 4096;
    char *buf = h2o_mem_alloc_pool(&r->h2o->pool, cap);
    size_t len = json_dumpb(body, buf, cap - 1, JSON_COMPACT);
    if (len > cap - 1) {
        buf = h2o_mem_alloc_pool(&r->h2o->pool, len + 1);
        json_dumpb(body, buf, len, JSON_COMPACT);
    }
    buf[len] = '\n';
    json_decref(body);
    tf_respond_raw(r, status, "application/json", h2o_iovec_init(buf, len + 1));
}

void tf_respond_rendered(tf_req_t *r, size_t slot, void (*render)(void *ud, int arg, json_t **body), void *ud, int arg)
{
    tf_conf_t *c = r->conf;
    char *have = __atomic_load_n(&c->rendered[slot], __ATOMIC_ACQUIRE);
    if (have == NULL) {
        json_t *body = NULL;
        render(ud, arg, &body);
        size_t n = json_dumpb(body, NULL, 0, JSON_COMPACT);
        char *buf = malloc(n + 1);
        if (buf == NULL || json_dumpb(body, buf, n, JSON_COMPACT) != n)
            abort();
        json_decref(body);
        buf[n] = '\n';
        /* The length first: whoever sees the pointer sees its length. */
        __atomic_store_n(&c->rendered_len[slot], n + 1, __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&c->rendered[slot], &have, buf, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            have = buf;
        else
            free(buf);
    }
    tf_respond_raw(r, 200, "application/json", h2o_iovec_init(have, __atomic_load_n(&c->rendered_len[slot], __ATOMIC_RELAXED)));
}

void tf_respond_error(tf_req_t *r, int status, const char *code, const char *param, const char *fmt, ...)
{
    char msg[TF_UTF8_FORMAT_CAP], par[256 * 3];
    va_list ap;
    va_start(ap, fmt);
    /* Messages quote what the client sent (a path, a method) and may be cut
     * mid-sequence: jansson takes only UTF-8, and would leave no body. */
    tf_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (param != NULL)
        tf_utf8_fix(par, sizeof(par), param, strnlen(param, 256));
    json_t *err = json_pack("{s:s, s:s, s:s, s:s?}", "type", error_type(status), "code", code, "message", msg, "param",
                            param != NULL ? par : NULL);
    if (param == NULL)
        json_object_set_new(err, "param", json_null());
    tf_respond_json(r, status, json_pack("{s:o}", "error", err));
}

void tf_respond_db_unavailable(tf_req_t *r)
{
    tf_add_header(r, "retry-after", "5");
    tf_respond_error(r, 503, "database_unavailable", NULL, "the database is unavailable; try again shortly");
}

const char *tf_req_param(tf_req_t *r, const char *name)
{
    if (r->route >= tf_routes_count)
        return NULL;
    const tf_route_t *rt = &tf_routes[r->route];
    for (int i = 0; i < rt->nparams && i < r->params.count; i++)
        if (strcmp(rt->param_names[i], name) == 0)
            return h2o_strdup(&r->h2o->pool, r->params.values[i].base, r->params.values[i].len).base;
    return NULL;
}

/* The client went away or the response is complete: h2o frees the pool. */
static void on_req_dispose(void *p)
{
    tf_req_t *r = p;
    if (r->dbq != NULL)
        tf_db_cancel(r->dbq);
    if (r->job != NULL)
        tf_work_cancel(r->job);
    if (r->on_dispose != NULL)
        r->on_dispose(r);
    if (r->status == 0 && r->h2o != NULL) {
        /* Never answered: the client closed first. 499 as nginx counts it. */
        finish(r, 499);
    }
    r->h2o = NULL;
    json_decref(r->body);
    tf_conf_hold_release(r->hold);
}

/* "pppppppp-tt-ssssssss": process tag, thread, sequence; hex, no printf. */
static void make_request_id(tf_req_t *r)
{
    static const char hex[] = "0123456789abcdef";
    static uint32_t process_tag;
    uint32_t tag = __atomic_load_n(&process_tag, __ATOMIC_RELAXED);
    if (tag == 0) {
        /* Distinguishes restarts and nodes in merged logs; not a secret. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        tag = ((uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 8) ^ (uint32_t)getpid()) | 1;
        __atomic_store_n(&process_tag, tag, __ATOMIC_RELAXED);
    }
    uint64_t seq = ++r->thr->req_seq;
    char *p = r->id;
    for (int i = 28; i >= 0; i -= 4)
        *p++ = hex[(tag >> i) & 15];
    *p++ = '-';
    *p++ = hex[(r->thr->index >> 4) & 15];
    *p++ = hex[r->thr->index & 15];
    *p++ = '-';
    for (int i = 28; i >= 0; i -= 4)
        *p++ = hex[(seq >> i) & 15];
    *p = '\0';
}

static void peer_compute(tf_req_t *r)
{
    if (r->peer_addr[0] != '\0' || r->h2o == NULL)
        return;
    struct sockaddr_storage ss;
    h2o_conn_t *conn = r->h2o->conn;
    socklen_t sl = conn->callbacks->get_peername != NULL ? conn->callbacks->get_peername(conn, (struct sockaddr *)&ss) : 0;
    if (sl == 0 || tf_addr_from_sockaddr((struct sockaddr *)&ss, sl, &r->peer) != 0)
        memset(&r->peer, 0, sizeof(r->peer));
    tf_addr_format(&r->peer, r->peer_addr, sizeof(r->peer_addr));
}

const char *tf_req_peer_addr(tf_req_t *r)
{
    peer_compute(r);
    return r->peer_addr;
}

const tf_addr_t *tf_req_peer(tf_req_t *r)
{
    peer_compute(r);
    return &r->peer;
}

/* At most this many X-Forwarded-For header lines are read, the last ones:
 * a proxy merges its own into one line, so more are the client's. */
#define XFF_LINES_MAX 16

static void client_compute(tf_req_t *r)
{
    if (r->client_addr[0] != '\0' || r->h2o == NULL)
        return;
    tf_addr_t client = *tf_req_peer(r);
    /* Behind a trusted proxy every client shares the proxy's address: the
     * proxy says whom it is forwarding. Anyone else's word is ignored. */
    if (tf_auth_peer_is_trusted_proxy(r)) {
        tf_addr_span_t lines[XFF_LINES_MAX];
        size_t n = 0;
        for (ssize_t i = -1; (i = h2o_find_header(&r->h2o->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) >= 0;) {
            if (n == XFF_LINES_MAX) {
                memmove(lines, lines + 1, sizeof(lines[0]) * (XFF_LINES_MAX - 1));
                n--;
            }
            h2o_iovec_t v = r->h2o->headers.entries[i].value;
            lines[n++] = (tf_addr_span_t){v.base, v.len};
        }
        tf_addr_t fwd;
        if (n > 0 && tf_addr_forwarded_client(lines, n, r->conf->trusted_proxies, r->conf->trusted_proxies_count, &fwd))
            client = fwd;
    }
    tf_addr_format(&client, r->client_addr, sizeof(r->client_addr));
    tf_addr_limit_key(&client, r->limit_key, sizeof(r->limit_key));
}

const char *tf_req_client_addr(tf_req_t *r)
{
    client_compute(r);
    return r->client_addr;
}

const char *tf_req_limit_key(tf_req_t *r)
{
    client_compute(r);
    return r->limit_key;
}

static int is_json_content_type(const h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 1; /* absent: the body is tried as JSON */
    h2o_iovec_t v = req->headers.entries[i].value;
    for (size_t k = 0; k + 4 <= v.len; k++)
        if (h2o_lcstris(v.base + k, 4, H2O_STRLIT("json")))
            return 1;
    return 0;
}

static int parse_body(tf_req_t *r)
{
    h2o_req_t *req = r->h2o;
    const tf_route_t *rt = &tf_routes[r->route];
    if (rt->validate == NULL)
        return 0;
    if (req->entity.base == NULL || req->entity.len == 0) {
        /* No body is an empty object: the schema's required list speaks. */
        r->body = json_object();
    } else if (!is_json_content_type(req)) {
        tf_respond_error(r, 415, "unsupported_media_type", NULL, "the request body must be application/json");
        return -1;
    }
    json_error_t jerr;
    if (r->body == NULL)
        r->body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->body == NULL) {
        tf_respond_error(r, 400, "invalid_json", NULL, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                         jerr.text);
        return -1;
    }
    tf_verr_t verr;
    if (rt->validate(r->body, &verr) != 0) {
        const char *field = verr.pointer[0] == '/' ? verr.pointer + 1 : verr.pointer;
        tf_respond_error(r, 400, "invalid_field", verr.pointer, "%s%s%s (rule: %s)", field, field[0] ? " " : "", verr.message,
                         verr.rule);
        return -1;
    }
    r->body_defaults = verr.defaults;
    return 0;
}

/* The pipeline after the caller is known (at once, or after a lookup). */
static void after_auth(tf_req_t *r)
{
    const tf_route_t *rt = &tf_routes[r->route];
    if (rt->auth >= TF_AUTH_USER && !r->who.authenticated) {
        if (rt->handler == tf_api_mcp_post || rt->handler == tf_api_mcp_get || rt->handler == tf_api_mcp_delete) {
            /* MCP clients discover how to authenticate from here (RFC 9728, MCP authorization). */
            char base[600], v[800];
            tf_mcp_base_url(r, base, sizeof(base));
            snprintf(v, sizeof(v), "Bearer realm=\"triforce\", resource_metadata=\"%s/.well-known/oauth-protected-resource/v1/mcp\"", base);
            tf_add_header(r, "www-authenticate", v);
        } else {
            tf_add_header(r, "www-authenticate", "Bearer realm=\"triforce\"");
        }
        tf_respond_error(r, 401, "unauthenticated", NULL, "this route needs credentials (Authorization: Bearer ...)");
        return;
    }
    if (rt->auth == TF_AUTH_ADMIN && !r->who.is_admin) {
        tf_respond_error(r, 403, "admin_only", NULL, "this route is for administrators");
        return;
    }
    if (tf_tiers[r->who.tier].rank < tf_tiers[rt->min_tier].rank) {
        tf_respond_error(r, 403, "tier_too_low", NULL, "this route needs the %s tier or higher; yours is %s", tf_tiers[rt->min_tier].id,
                         tf_tiers[r->who.tier].id);
        return;
    }
    if ((rt->flags & TF_ROUTE_MCP) && !tf_conf_tier(r->conf, r->who.tier)->mcp_access) {
        tf_respond_error(r, 403, "mcp_not_allowed", NULL, "the %s tier has no MCP access", tf_tiers[r->who.tier].id);
        return;
    }
    if ((rt->flags & TF_ROUTE_NEEDS_DB) && !tf_db_is_up(r->thr->db)) {
        tf_respond_db_unavailable(r);
        return;
    }
    if (parse_body(r) != 0)
        return;
    if (rt->handler(r) != 0 && r->status == 0)
        tf_respond_error(r, 500, "internal_error", NULL, "internal error (request %s)", r->id);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    tf_thread_t *thr = tf_thread;
    tf_req_t *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), on_req_dispose);
    memset(r, 0, sizeof(*r));
    r->h2o = req;
    r->thr = thr;
    r->start_ns = tf_now_ns();
    r->hold = thr->hold;
    r->hold->users++;
    r->conf = r->hold->conf;
    make_request_id(r);

    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *allow = NULL;
    int idx = tf_route_match(req->method.base, req->method.len, req->path.base, plen, &r->params, &allow);
    if (idx < 0) {
        r->route = tf_routes_count;
        if (idx == TF_ROUTE_METHOD_NOT_ALLOWED) {
            tf_add_header(r, "allow", allow);
            tf_respond_error(r, 405, "method_not_allowed", NULL, "%.*s is not allowed here; allowed: %s", (int)req->method.len,
                             req->method.base, allow);
        } else {
            tf_respond_error(r, 404, "not_found", NULL, "no route for %.*s", (int)(plen > 200 ? 200 : plen), req->path.base);
        }
        return 0;
    }
    r->route = (size_t)idx;

    if (req->entity.base != NULL && req->entity.len > r->conf->max_body_bytes) {
        tf_respond_error(r, 413, "body_too_large", NULL, "the request body is %zu bytes; the limit is %llu", req->entity.len,
                         (unsigned long long)r->conf->max_body_bytes);
        return 0;
    }
    /* 1: known now; 0: a lookup calls after_auth later; -1: answered. */
    if (tf_auth_identify(r, after_auth) == 1)
        after_auth(r);
    return 0;
}

void tf_http_register(h2o_pathconf_t *pathconf)
{
    h2o_handler_t *h = h2o_create_handler(pathconf, sizeof(*h));
    h->on_req = on_req;
}
