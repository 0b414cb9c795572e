/*
 * tf_mcp.c - the MCP server over Streamable HTTP. See tf_mcp.h.
 */
#include "tf_mcp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_crypto.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_mcp_int.h"
#include "tf_server.h"
#include "tf_tiers.h"
#include "tf_tool.h"
#include "tf_toolprof.h"
#include "tf_tools.h"

#ifndef TF_VERSION
#define TF_VERSION "0.1.0"
#endif

#define LATEST_VERSION "2025-11-25"
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", NULL};
#define SESSION_CACHE 128
#define SESSION_TTL_NS (5ull * 1000000000ull)

enum { RPC_PARSE = TF_RPC_PARSE, RPC_INVALID = TF_RPC_INVALID, RPC_NO_METHOD = TF_RPC_NO_METHOD, RPC_PARAMS = TF_RPC_PARAMS, RPC_INTERNAL = TF_RPC_INTERNAL };

typedef struct tf_mcp_ctx {
    tf_req_t *r;
    json_t *msg;
    json_t *id;         /* borrowed from msg; NULL for notifications */
    const char *method;
    json_t *params;
    char sid[80];
    char proto[16];
    int rest;           /* REST view: answer the bare result, not a JSON-RPC envelope */
    tf_tool_call_t call;
} mcp_req_t; /* == tf_mcp_ctx_t */

static int supported(const char *v)
{
    for (const char *const *p = versions; *p; p++)
        if (v != NULL && strcmp(*p, v) == 0)
            return 1;
    return 0;
}

static const char *header(tf_req_t *r, const char *name, char *buf, size_t cap)
{
    ssize_t i = h2o_find_header_by_str(&r->h2o->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = r->h2o->headers.entries[i].value;
    if (v.len >= cap)
        return NULL;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    return buf;
}

/* --- answers ---------------------------------------------------------------- */

static void reply_raw(mcp_req_t *m, int status, json_t *body)
{
    if (m->sid[0])
        tf_add_header(m->r, "mcp-session-id", m->sid);
    tf_respond_json(m->r, status, body);
}

static void rpc_result(mcp_req_t *m, json_t *result)
{
    if (m->rest) {
        tf_respond_json(m->r, 200, result);
        return;
    }
    json_t *b = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", m->id ? m->id : json_null(), "result", result);
    reply_raw(m, 200, b);
}

static void rpc_error(mcp_req_t *m, int status, int code, json_t *data, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void rpc_error(mcp_req_t *m, int status, int code, json_t *data, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m->rest) {
        json_decref(data);
        int st = code == TF_RPC_NOT_FOUND ? 404 : status == 200 ? 400 : status;
        tf_respond_error(m->r, st, code == RPC_NO_METHOD || code == TF_RPC_NOT_FOUND ? "not_found" : "invalid_request", NULL, "%s", msg);
        return;
    }
    json_t *e = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (data != NULL)
        json_object_set_new(e, "data", data);
    json_t *b = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", m->id ? m->id : json_null(), "error", e);
    reply_raw(m, status, b);
}

/* --- for the other files of the module (tf_mcp_int.h) --- */

tf_req_t *tf_mcp_ctx_req(tf_mcp_ctx_t *c) { return c->r; }
json_t *tf_mcp_ctx_params(tf_mcp_ctx_t *c) { return c->params; }
int tf_mcp_ctx_is_rest(tf_mcp_ctx_t *c) { return c->rest; }
const char *tf_mcp_ctx_session(tf_mcp_ctx_t *c) { return c->sid; }
void tf_mcp_ctx_result(tf_mcp_ctx_t *c, json_t *result) { rpc_result(c, result); }

void tf_mcp_ctx_error(tf_mcp_ctx_t *c, int code, json_t *data, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rpc_error(c, 200, code, data, "%s", msg);
}

static void accepted(mcp_req_t *m)
{
    tf_respond_raw(m->r, 202, "application/json", h2o_iovec_init("", 0));
}

/* --- sessions ------------------------------------------------------------------ */

/*
 * Sessions seen recently, shared by the loop threads (a DELETE on one must
 * be seen by all at once) under one mutex: MCP traffic is light and each
 * look-up a short scan. Other gateway nodes see an ended session within
 * SESSION_TTL_NS.
 */
typedef struct sess_entry {
    char sid[80], user_id[40], proto[16];
    uint64_t until_ns;
} sess_entry_t;
static sess_entry_t scache[SESSION_CACHE];
static unsigned snext;
static pthread_mutex_t scache_mu = PTHREAD_MUTEX_INITIALIZER;

/* Copies the entry for sid into *out; 1 when found and fresh. */
static int cache_find(const char *sid, sess_entry_t *out)
{
    uint64_t now = tf_now_ns();
    int found = 0;
    pthread_mutex_lock(&scache_mu);
    for (unsigned i = 0; i < SESSION_CACHE && !found; i++)
        if (scache[i].until_ns > now && strcmp(scache[i].sid, sid) == 0) {
            *out = scache[i];
            found = 1;
        }
    pthread_mutex_unlock(&scache_mu);
    return found;
}

static void cache_put(const char *sid, const char *user_id, const char *proto)
{
    pthread_mutex_lock(&scache_mu);
    sess_entry_t *e = &scache[snext++ % SESSION_CACHE];
    snprintf(e->sid, sizeof(e->sid), "%s", sid);
    snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
    snprintf(e->proto, sizeof(e->proto), "%s", proto);
    e->until_ns = tf_now_ns() + SESSION_TTL_NS;
    pthread_mutex_unlock(&scache_mu);
}

static void cache_drop(const char *sid)
{
    pthread_mutex_lock(&scache_mu);
    for (unsigned i = 0; i < SESSION_CACHE; i++)
        if (strcmp(scache[i].sid, sid) == 0)
            scache[i].until_ns = 0;
    pthread_mutex_unlock(&scache_mu);
}

/* --- the methods ------------------------------------------------------------------- */

static void dispatch(mcp_req_t *m);

static void on_session_created(void *ud, PGresult *res, const char *err)
{
    mcp_req_t *m = ud;
    m->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        m->sid[0] = '\0';
        rpc_error(m, 503, RPC_INTERNAL, NULL, "the session could not be stored; try again");
        return;
    }
    cache_put(m->sid, m->r->who.user_id, m->proto);
    json_t *caps = json_pack("{s:{s:b}, s:{}}", "tools", "listChanged", 0, "logging");
    json_t *result = json_pack("{s:s, s:o, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", m->proto, "capabilities", caps, "serverInfo",
                               "name", "triforce", "title", "TriForce", "version", TF_VERSION, "instructions",
                               "TriForce gateway tools. Use find_tools to search the catalogue by words or category.");
    rpc_result(m, result);
}

static void m_initialize(mcp_req_t *m)
{
    const char *want = json_string_value(json_object_get(m->params, "protocolVersion"));
    if (want == NULL) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/protocolVersion", "rule", "required"),
                  "initialize: params.protocolVersion is required");
        return;
    }
    /* The client's version when we speak it, else ours (the client decides whether to go on). */
    snprintf(m->proto, sizeof(m->proto), "%s", supported(want) ? want : LATEST_VERSION);
    tf_crypto_random_hex(m->sid, 24);
    json_t *ci = json_object_get(m->params, "clientInfo");
    char *cij = json_is_object(ci) ? json_dumps(ci, JSON_COMPACT) : NULL;
    const char *p[4] = {m->sid, m->r->who.user_id, m->proto, cij ? cij : "{}"};
    m->r->dbq = tf_db_query(m->r->thr->db,
                            "INSERT INTO mcp_sessions (id, user_id, protocol_version, client_info) VALUES ($1, $2::uuid, $3, $4::jsonb)", 4,
                            p, on_session_created, m);
    free(cij);
    if (m->r->dbq == NULL) {
        m->sid[0] = '\0';
        tf_respond_db_unavailable(m->r);
    }
}

/* Cursors are opaque to clients: "t" + the offset in tf_tools[]. */
static void m_tools_list(mcp_req_t *m)
{
    size_t from = 0;
    json_t *cur = json_object_get(m->params, "cursor");
    if (cur != NULL) {
        const char *c = json_string_value(cur);
        char *end = NULL;
        unsigned long long v = c && c[0] == 't' ? strtoull(c + 1, &end, 10) : 0;
        if (c == NULL || c[0] != 't' || end == c + 1 || *end != '\0' || v > tf_tools_count) {
            rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s}", "field", "/params/cursor"), "tools/list: invalid cursor");
            return;
        }
        from = (size_t)v;
    }
    int unknown;
    const tf_conf_profile_t *prof = tf_toolprof_for(m->r, &unknown);
    if (unknown) {
        rpc_error(m, 400, RPC_INVALID, NULL, "unknown tool profile (see mcp.profiles in the configuration)");
        return;
    }
    h2o_mem_pool_t *pool = &m->r->h2o->pool;
    size_t cap = 256, len = 0, n = 0, i = from;
    for (size_t k = from; k < tf_tools_count; k++)
        cap += strlen(tf_tools[k].listing) + 1;
    char *out = h2o_mem_alloc_pool(pool, cap + 256);
    char *idj = json_dumps(m->id ? m->id : json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
    len += (size_t)snprintf(out, cap, m->rest ? "{\"tools\":[" : "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"tools\":[", idj);
    free(idj);
    size_t page = m->rest ? tf_tools_count : m->r->conf->mcp_page_size;
    for (; i < tf_tools_count && n < page; i++) {
        if (!tf_toolprof_visible(m->r, prof, &tf_tools[i]))
            continue;
        size_t l = strlen(tf_tools[i].listing);
        if (n++ > 0)
            out[len++] = ',';
        memcpy(out + len, tf_tools[i].listing, l);
        len += l;
    }
    /* More that this tier may see? */
    size_t more = i;
    while (more < tf_tools_count && !tf_toolprof_visible(m->r, prof, &tf_tools[more]))
        more++;
    if (more < tf_tools_count)
        len += (size_t)snprintf(out + len, 64, "],\"nextCursor\":\"t%zu\"", i);
    else
        out[len++] = ']';
    out[len++] = '}';
    if (!m->rest)
        out[len++] = '}';
    out[len++] = '\n';
    if (m->sid[0])
        tf_add_header(m->r, "mcp-session-id", m->sid);
    tf_respond_raw(m->r, 200, "application/json", h2o_iovec_init(out, len));
}

static void tool_done(tf_tool_call_t *call, json_t *result)
{
    mcp_req_t *m = call->ud;
    json_t *sc = json_object_get(result, "structuredContent");
    if (call->tool->validate_output != NULL && !json_is_true(json_object_get(result, "isError"))) {
        tf_verr_t ve;
        if (sc == NULL || call->tool->validate_output(sc, &ve) != 0) {
            tf_log(TF_LOG_ERROR, "mcp", m->r->id, "tool %s: output does not match its schema: %s %s", call->tool->name,
                   sc ? ve.pointer : "(none)", sc ? ve.message : "no structuredContent");
            json_decref(result);
            rpc_error(m, 200, RPC_INTERNAL, NULL, "tool %s produced output that does not match its output schema", call->tool->name);
            return;
        }
    }
    rpc_result(m, result);
}

static void m_tools_call(mcp_req_t *m)
{
    const char *name = json_string_value(json_object_get(m->params, "name"));
    if (name == NULL) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/name", "rule", "required"), "tools/call: params.name is required");
        return;
    }
    int k = tf_tool_find(name), unknown;
    const tf_conf_profile_t *prof = tf_toolprof_for(m->r, &unknown);
    if (k < 0 || unknown || !tf_toolprof_visible(m->r, prof, &tf_tools[k])) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s}", "tool", name), "Unknown tool: %s", name);
        return;
    }
    const tf_tool_t *t = &tf_tools[k];
    json_t *args = json_object_get(m->params, "arguments");
    if (args != NULL && !json_is_object(args)) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/arguments", "rule", "type"),
                  "tools/call: params.arguments must be an object");
        return;
    }
    /* A copy: defaults are written into it, and the message stays as sent. */
    json_t *a = args ? json_deep_copy(args) : json_object();
    json_object_set_new(m->msg, "_args", a);
    tf_verr_t ve;
    if (t->validate_input(a, &ve) != 0) {
        /* 2025-11-25: bad arguments are a tool error the model can correct, not a protocol error. */
        const char *field = ve.pointer[0] ? ve.pointer : "(arguments)";
        json_t *res = json_pack("{s:[{s:s, s:s}], s:b, s:{s:s, s:s, s:s}}", "content", "type", "text", "text", "", "isError", 1,
                                "structuredContent", "field", field, "rule", ve.rule, "message", ve.message);
        char text[700];
        snprintf(text, sizeof(text), "invalid arguments: %s %s (rule: %s)", field, ve.message, ve.rule);
        json_object_set_new(json_array_get(json_object_get(res, "content"), 0), "text", json_string(text));
        json_object_del(res, "structuredContent");
        json_object_set_new(res, "_meta", json_pack("{s:s, s:s}", "field", field, "rule", ve.rule));
        rpc_result(m, res);
        return;
    }
    m->call.r = m->r;
    m->call.tool = t;
    m->call.args = a;
    m->call.done = tool_done;
    m->call.ud = m;
    if (t->handler(&m->call) != 0 && !m->call.answered) {
        tf_log(TF_LOG_ERROR, "mcp", m->r->id, "tool %s failed internally", t->name);
        m->call.answered = 1;
        rpc_error(m, 200, RPC_INTERNAL, NULL, "tool %s failed", t->name);
    }
}

static const char *const log_levels[] = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", NULL};

static void on_level_set(void *ud, PGresult *res, const char *err)
{
    mcp_req_t *m = ud;
    m->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rpc_error(m, 503, RPC_INTERNAL, NULL, "the log level could not be stored");
        return;
    }
    rpc_result(m, json_object());
}

static void m_logging_set_level(mcp_req_t *m)
{
    const char *lv = json_string_value(json_object_get(m->params, "level"));
    int ok = 0;
    for (const char *const *p = log_levels; lv && *p; p++)
        ok |= strcmp(*p, lv) == 0;
    if (!ok) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/level", "rule", "enum"),
                  "logging/setLevel: level must be one of debug, info, notice, warning, error, critical, alert, emergency");
        return;
    }
    const char *p[2] = {lv, m->sid};
    m->r->dbq = tf_db_query(m->r->thr->db, "UPDATE mcp_sessions SET log_level = $1 WHERE id = $2", 2, p, on_level_set, m);
    if (m->r->dbq == NULL)
        tf_respond_db_unavailable(m->r);
}

static void dispatch(mcp_req_t *m)
{
    const char *me = m->method;
    if (m->id == NULL) {
        /* Notifications: nothing to answer (cancellation of a request on
         * another connection finds nothing to stop: answers are short). */
        if (strcmp(me, "notifications/cancelled") == 0)
            tf_log(TF_LOG_INFO, "mcp", m->r->id, "session %.8s cancelled a request", m->sid);
        accepted(m);
        return;
    }
    if (strcmp(me, "ping") == 0)
        rpc_result(m, json_object());
    else if (strcmp(me, "tools/list") == 0)
        m_tools_list(m);
    else if (strcmp(me, "tools/call") == 0)
        m_tools_call(m);
    else if (strcmp(me, "logging/setLevel") == 0)
        m_logging_set_level(m);
    else if (tf_mcp_catalog_dispatch(m, me))
        ;
    else if (strcmp(me, "initialize") == 0)
        rpc_error(m, 200, RPC_INVALID, NULL, "the session is already initialized");
    else
        rpc_error(m, 200, RPC_NO_METHOD, json_pack("{s:s}", "method", me), "Method not found: %s", me);
}

/* --- sessions on each request ------------------------------------------------------------ */

static void on_session(void *ud, PGresult *res, const char *err)
{
    mcp_req_t *m = ud;
    m->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_respond_db_unavailable(m->r);
        return;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), m->r->who.user_id) != 0) {
        m->sid[0] = '\0';
        rpc_error(m, 404, RPC_INVALID, NULL, "unknown or ended session: initialize a new one");
        return;
    }
    snprintf(m->proto, sizeof(m->proto), "%s", PQgetvalue(res, 0, 1));
    cache_put(m->sid, PQgetvalue(res, 0, 0), m->proto);
    dispatch(m);
}

/* Looks the session up (cache, then PostgreSQL), then runs `next`. */
static void with_session(mcp_req_t *m, void (*next)(mcp_req_t *m))
{
    sess_entry_t ce, *e = cache_find(m->sid, &ce) ? &ce : NULL;
    if (e != NULL) {
        if (strcmp(e->user_id, m->r->who.user_id) != 0) {
            m->sid[0] = '\0';
            rpc_error(m, 404, RPC_INVALID, NULL, "unknown or ended session: initialize a new one");
            return;
        }
        memcpy(m->proto, e->proto, sizeof(m->proto));
        next(m);
        return;
    }
    const char *p[1] = {m->sid};
    m->r->dbq = tf_db_query(m->r->thr->db,
                            "UPDATE mcp_sessions SET last_seen = now() WHERE id = $1 AND ended_at IS NULL "
                            "RETURNING user_id::text, protocol_version",
                            1, p, on_session, m);
    if (m->r->dbq == NULL)
        tf_respond_db_unavailable(m->r);
}

/* --- HTTP ------------------------------------------------------------------------------------ */

/* DNS rebinding: a browser page on another origin must not reach the server. */
static int origin_ok(tf_req_t *r)
{
    char origin[512], host[512];
    if (header(r, "origin", origin, sizeof(origin)) == NULL)
        return 1; /* not a browser */
    const char *o = strstr(origin, "://");
    o = o ? o + 3 : origin;
    h2o_iovec_t auth = r->h2o->authority;
    snprintf(host, sizeof(host), "%.*s", (int)auth.len, auth.base);
    if (strcmp(o, host) == 0)
        return 1;
    for (unsigned i = 0; i < r->conf->mcp_allowed_origins_count; i++)
        if (strcmp(r->conf->mcp_allowed_origins[i], origin) == 0)
            return 1;
    return 0;
}

static mcp_req_t *begin(tf_req_t *r)
{
    mcp_req_t *m = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->r = r;
    if (!origin_ok(r)) {
        rpc_error(m, 403, RPC_INVALID, NULL, "Origin not allowed");
        return NULL;
    }
    char v[64];
    const char *pv = header(r, "mcp-protocol-version", v, sizeof(v));
    if (pv != NULL && !supported(pv)) {
        rpc_error(m, 400, RPC_INVALID, json_pack("{s:[s,s,s]}", "supported", versions[0], versions[1], versions[2]),
                  "Unsupported MCP-Protocol-Version: %s", pv);
        return NULL;
    }
    char sid[128];
    if (header(r, "mcp-session-id", sid, sizeof(sid)) != NULL) {
        size_t n = strlen(sid);
        int ok = n > 0 && n < sizeof(m->sid);
        for (size_t i = 0; ok && i < n; i++)
            ok = sid[i] >= 0x21 && sid[i] <= 0x7e;
        if (!ok) {
            rpc_error(m, 400, RPC_INVALID, NULL, "malformed Mcp-Session-Id");
            return NULL;
        }
        memcpy(m->sid, sid, n + 1); /* n < sizeof(m->sid), checked above */
    }
    return m;
}

/* The request ends (answered, or the client left). A tool still working
 * is told (on_gone) and must not touch its call afterwards: it lives in
 * the request's pool. */
static void mcp_dispose(tf_req_t *r)
{
    mcp_req_t *m = r->hctx;
    if (m->call.tool != NULL && !m->call.answered) {
        m->call.gone = 1;
        if (m->call.on_gone != NULL)
            m->call.on_gone(&m->call);
    }
    json_decref(m->msg);
    m->msg = NULL;
}

int tf_mcp_post(tf_req_t *r)
{
    mcp_req_t *m = begin(r);
    if (m == NULL)
        return 0;
    h2o_iovec_t body = r->h2o->entity;
    json_error_t je;
    m->msg = body.base ? json_loadb(body.base, body.len, JSON_REJECT_DUPLICATES, &je) : NULL;
    r->hctx = m;
    r->on_dispose = mcp_dispose;
    if (m->msg == NULL) {
        rpc_error(m, 400, RPC_PARSE, NULL, "Parse error: %s", body.base ? je.text : "empty body");
        return 0;
    }
    if (json_is_array(m->msg)) {
        rpc_error(m, 400, RPC_INVALID, NULL, "JSON-RPC batches are not supported (one message per POST)");
        return 0;
    }
    json_t *ver = json_object_get(m->msg, "jsonrpc");
    json_t *id = json_object_get(m->msg, "id");
    json_t *method = json_object_get(m->msg, "method");
    if (!json_is_object(m->msg) || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
        (id != NULL && !json_is_string(id) && !json_is_integer(id)) || (method != NULL && !json_is_string(method))) {
        rpc_error(m, 400, RPC_INVALID, NULL, "Invalid Request: a JSON-RPC 2.0 object with a string method and a string or integer id");
        return 0;
    }
    m->id = id;
    if (method == NULL) {
        /* A response to a server request, or nonsense. */
        if (id != NULL && (json_object_get(m->msg, "result") != NULL || json_object_get(m->msg, "error") != NULL)) {
            accepted(m);
            return 0;
        }
        rpc_error(m, 400, RPC_INVALID, NULL, "Invalid Request: no method");
        return 0;
    }
    m->method = json_string_value(method);
    m->params = json_object_get(m->msg, "params");
    if (m->params != NULL && !json_is_object(m->params)) {
        rpc_error(m, 200, RPC_PARAMS, NULL, "params must be an object");
        return 0;
    }
    if (strcmp(m->method, "initialize") == 0) {
        if (id == NULL) {
            rpc_error(m, 400, RPC_INVALID, NULL, "initialize is a request: it needs an id");
            return 0;
        }
        m->sid[0] = '\0'; /* a new session, whatever was sent */
        m_initialize(m);
        return 0;
    }
    if (m->sid[0] == '\0') {
        rpc_error(m, 400, RPC_INVALID, NULL, "Mcp-Session-Id is required (send initialize first)");
        return 0;
    }
    with_session(m, dispatch);
    return 0;
}

/* --- DELETE ------------------------------------------------------------------------------- */

static void on_ended(void *ud, PGresult *res, const char *err)
{
    mcp_req_t *m = ud;
    m->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_respond_db_unavailable(m->r);
        return;
    }
    cache_drop(m->sid);
    if (PQntuples(res) != 1) {
        m->sid[0] = '\0';
        rpc_error(m, 404, RPC_INVALID, NULL, "unknown or ended session");
        return;
    }
    tf_respond_raw(m->r, 204, "application/json", h2o_iovec_init("", 0));
}

int tf_mcp_delete(tf_req_t *r)
{
    mcp_req_t *m = begin(r);
    if (m == NULL)
        return 0;
    if (m->sid[0] == '\0') {
        rpc_error(m, 400, RPC_INVALID, NULL, "Mcp-Session-Id is required");
        return 0;
    }
    const char *p[2] = {m->sid, r->who.user_id};
    r->dbq = tf_db_query(r->thr->db,
                         "UPDATE mcp_sessions SET ended_at = now() WHERE id = $1 AND user_id = $2::uuid AND ended_at IS NULL RETURNING id",
                         2, p, on_ended, m);
    if (r->dbq == NULL)
        tf_respond_db_unavailable(r);
    return 0;
}

/* --- GET: the server's stream ---------------------------------------------------------------- */

/* Nothing is pushed unasked yet (no list changes at run time); the stream
 * stays open with a comment every 15 s so proxies keep it. */
typedef struct mcp_stream {
    h2o_generator_t gen;
    tf_req_t *r;
    h2o_timeout_entry_t tick;
    int sending;
} mcp_stream_t;

static __thread h2o_timeout_t keepalive;
static __thread int keepalive_ready;

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    mcp_stream_t *s = H2O_STRUCT_FROM_MEMBER(mcp_stream_t, gen, g);
    s->sending = 0;
}

static void stream_tick(h2o_timeout_entry_t *e)
{
    mcp_stream_t *s = H2O_STRUCT_FROM_MEMBER(mcp_stream_t, tick, e);
    if (s->r == NULL || s->r->h2o == NULL)
        return;
    if (!s->sending) {
        static h2o_iovec_t ping = {": keepalive\n\n", 13};
        s->sending = 1;
        h2o_send(s->r->h2o, &ping, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
    h2o_timeout_link(s->r->thr->ctx.loop, &keepalive, &s->tick);
}

static void stream_dispose(tf_req_t *r)
{
    mcp_stream_t *s = r->hctx;
    if (h2o_timeout_is_linked(&s->tick))
        h2o_timeout_unlink(&s->tick);
    s->r = NULL;
}

static void stream_open(mcp_req_t *m)
{
    tf_req_t *r = m->r;
    mcp_stream_t *s = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->r = r;
    s->gen.proceed = stream_proceed;
    if (!keepalive_ready) {
        h2o_timeout_init(r->thr->ctx.loop, &keepalive, 15000);
        keepalive_ready = 1;
    }
    r->hctx = s;
    r->on_dispose = stream_dispose;
    tf_add_header(r, "mcp-session-id", m->sid);
    tf_respond_stream_start(r, 200, "text/event-stream", &s->gen);
    static h2o_iovec_t hello = {": triforce mcp stream\n\n", 23};
    s->sending = 1;
    h2o_send(r->h2o, &hello, 1, H2O_SEND_STATE_IN_PROGRESS);
    s->tick.cb = stream_tick;
    h2o_timeout_link(r->thr->ctx.loop, &keepalive, &s->tick);
}

static void stream_after_session(mcp_req_t *m)
{
    stream_open(m);
}

static void on_stream_session(void *ud, PGresult *res, const char *err)
{
    mcp_req_t *m = ud;
    m->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_respond_db_unavailable(m->r);
        return;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), m->r->who.user_id) != 0) {
        m->sid[0] = '\0';
        rpc_error(m, 404, RPC_INVALID, NULL, "unknown or ended session");
        return;
    }
    cache_put(m->sid, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    stream_open(m);
}

int tf_mcp_get(tf_req_t *r)
{
    mcp_req_t *m = begin(r);
    if (m == NULL)
        return 0;
    char acc[256];
    const char *a = header(r, "accept", acc, sizeof(acc));
    if (a != NULL && strstr(a, "text/event-stream") == NULL && strstr(a, "*/*") == NULL) {
        rpc_error(m, 406, RPC_INVALID, NULL, "GET opens an SSE stream: Accept must include text/event-stream");
        return 0;
    }
    if (m->sid[0] == '\0') {
        rpc_error(m, 400, RPC_INVALID, NULL, "Mcp-Session-Id is required");
        return 0;
    }
    sess_entry_t ce, *e = cache_find(m->sid, &ce) ? &ce : NULL;
    if (e != NULL && strcmp(e->user_id, r->who.user_id) == 0) {
        stream_after_session(m);
        return 0;
    }
    const char *p[1] = {m->sid};
    r->dbq = tf_db_query(r->thr->db, "SELECT user_id::text, protocol_version FROM mcp_sessions WHERE id = $1 AND ended_at IS NULL", 1, p,
                         on_stream_session, m);
    if (r->dbq == NULL)
        tf_respond_db_unavailable(r);
    return 0;
}

/* --- REST views ---------------------------------------------------------------------------------- */

int tf_mcp_rest_tools(tf_req_t *r)
{
    mcp_req_t *m = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->r = r;
    m->rest = 1;
    m_tools_list(m);
    return 0;
}

int tf_mcp_rest_call(tf_req_t *r)
{
    mcp_req_t *m = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->r = r;
    m->rest = 1;
    /* {name, arguments}: the same shape as tools/call's params. */
    m->msg = json_incref(r->body);
    m->params = r->body;
    r->hctx = m;
    r->on_dispose = mcp_dispose;
    m_tools_call(m);
    return 0;
}
