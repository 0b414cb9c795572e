/*
 * tf_mcp.c - the MCP server over Streamable HTTP. See tf_mcp.h.
 */
#include "tf_mcp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tf_crypto.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_mcp_int.h"
#include "tf_server.h"
#include "tf_tiers.h"
#include "tf_tool.h"
#include "tf_toolprof.h"
#include "tf_tools.h"
#include "tf_utf8.h"

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
    int log_level;      /* the session's (index into tf_mcp_log_levels) */
    int caps;           /* TF_MCP_CAP_* the client declared */
    tf_tool_call_t call; /* REST calls (no session); session calls use x */
    tf_mcp_xchg_t *x;   /* a session's tools/call while it runs */
    tf_mcp_stream_t *gs; /* GET: the stream this request carries */
    void (*next)(struct tf_mcp_ctx *m); /* after the session look-up */
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
    char msg[TF_UTF8_FORMAT_CAP];
    va_list ap;
    va_start(ap, fmt);
    /* Messages quote headers (MCP-Protocol-Version) and may be cut
     * mid-sequence: jansson takes only UTF-8, and would leave no answer. */
    tf_utf8_vformat(msg, sizeof(msg), fmt, ap);
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
    int log_level, caps;
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

static void cache_put(const char *sid, const char *user_id, const char *proto, int log_level, int caps)
{
    pthread_mutex_lock(&scache_mu);
    sess_entry_t *e = NULL;
    for (unsigned i = 0; i < SESSION_CACHE && e == NULL; i++)
        if (strcmp(scache[i].sid, sid) == 0)
            e = &scache[i]; /* one entry per session: setLevel updates it in place */
    if (e == NULL)
        e = &scache[snext++ % SESSION_CACHE];
    snprintf(e->sid, sizeof(e->sid), "%s", sid);
    snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
    snprintf(e->proto, sizeof(e->proto), "%s", proto);
    e->log_level = log_level;
    e->caps = caps;
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
    cache_put(m->sid, m->r->who.user_id, m->proto, tf_mcp_log_level("info"), m->caps);
    /* Only what is served: each of these has its methods (tf_mcp_catalog.c, tf_mcp_hub.c). */
    json_t *caps = json_pack("{s:{s:b}, s:{}, s:{s:b}, s:{s:b, s:b}, s:{}}", "tools", "listChanged", 0, "logging", "prompts", "listChanged", 0,
                             "resources", "subscribe", 1, "listChanged", 0, "completions");
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
    json_t *cc = json_object_get(m->params, "capabilities");
    m->caps = (json_object_get(cc, "sampling") ? TF_MCP_CAP_SAMPLING : 0) | (json_object_get(cc, "elicitation") ? TF_MCP_CAP_ELICITATION : 0) |
              (json_object_get(cc, "roots") ? TF_MCP_CAP_ROOTS : 0);
    char capsbuf[16];
    snprintf(capsbuf, sizeof(capsbuf), "%d", m->caps);
    const char *p[5] = {m->sid, m->r->who.user_id, m->proto, cij ? cij : "{}", capsbuf};
    m->r->dbq = tf_db_query(m->r->thr->db,
                            "INSERT INTO mcp_sessions (id, user_id, protocol_version, client_info, client_caps) "
                            "VALUES ($1, $2::uuid, $3, $4::jsonb, $5::int)",
                            5, p, on_session_created, m);
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

/* The tool's result checked against its output schema; NULL (logged) when it does not match. */
static json_t *checked_result(tf_tool_call_t *call, json_t *result, const char *rid)
{
    json_t *sc = json_object_get(result, "structuredContent");
    if (call->tool->validate_output != NULL && !json_is_true(json_object_get(result, "isError"))) {
        tf_verr_t ve;
        if (sc == NULL || call->tool->validate_output(sc, &ve) != 0) {
            tf_log(TF_LOG_ERROR, "mcp", rid, "tool %s: output does not match its schema: %s %s", call->tool->name, sc ? ve.pointer : "(none)",
                   sc ? ve.message : "no structuredContent");
            json_decref(result);
            return NULL;
        }
    }
    return result;
}

/* REST calls: the request's own call. */
static void tool_done(tf_tool_call_t *call, json_t *result)
{
    mcp_req_t *m = call->ud;
    result = checked_result(call, result, m->r->id);
    if (result == NULL)
        rpc_error(m, 200, RPC_INTERNAL, NULL, "tool %s produced output that does not match its output schema", call->tool->name);
    else
        rpc_result(m, result);
}

static void xchg_free(tf_mcp_xchg_t *x)
{
    tf_mcp_hub_leave(x);
    if (x->m != NULL)
        x->m->x = NULL;
    if (x->s != NULL)
        tf_mcp_stream_release(x->s);
    json_decref(x->id);
    json_decref(x->args);
    json_decref(x->progress_token);
    free(x);
}

static void xchg_finish(tf_mcp_xchg_t *x, json_t *body);

/*
 * A session's call answered: the response goes as the last event of its
 * stream when it has one (even with no HTTP response attached: it waits
 * for the client's GET), else as the JSON body.
 */
static void xchg_done(tf_tool_call_t *call, json_t *result)
{
    tf_mcp_xchg_t *x = call->x;
    result = checked_result(call, result, x->m ? x->m->r->id : NULL);
    xchg_finish(x, result != NULL ? json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", x->id, "result", result)
                                  : json_pack("{s:s, s:O, s:{s:i, s:s+}}", "jsonrpc", "2.0", "id", x->id, "error", "code", RPC_INTERNAL,
                                              "message", "output does not match the output schema of tool ", call->tool->name));
}

/* The JSON-RPC response `body` (owned) ends x. */
static void xchg_finish(tf_mcp_xchg_t *x, json_t *body)
{
    if (x->s != NULL) {
        char *t = json_dumps(body, JSON_COMPACT);
        tf_mcp_stream_send(x->s, t, strlen(t), 1);
        free(t);
        json_decref(body);
    } else if (x->m != NULL) {
        reply_raw(x->m, 200, body);
    } else {
        json_decref(body);
    }
    xchg_free(x);
}

void tf_mcp_xchg_cancelled(tf_mcp_xchg_t *x)
{
    tf_log(TF_LOG_INFO, "mcp", x->m ? x->m->r->id : NULL, "session %.8s cancelled a call of %s", x->sid, x->call.tool->name);
    x->call.gone = 1;
    if (x->call.on_gone != NULL)
        x->call.on_gone(&x->call);
    if (x->call.r != NULL && x->call.r->dbq != NULL) {
        tf_db_cancel(x->call.r->dbq);
        x->call.r->dbq = NULL;
    }
    /* No result follows (the client stopped waiting); its HTTP answer ends. */
    if (x->s != NULL)
        tf_mcp_stream_send(x->s, NULL, 0, 1);
    else if (x->m != NULL)
        rpc_error(x->m, 200, -32800, NULL, "request cancelled");
    xchg_free(x);
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
    if (k < 0 || unknown || !tf_toolprof_callable(m->r, prof, &tf_tools[k])) {
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
    tf_verr_t ve;
    if (t->validate_input(a, &ve) != 0) {
        json_decref(a);
        /* 2025-11-25: bad arguments are a tool error the model can correct, not a protocol error. */
        const char *field = ve.pointer[0] ? ve.pointer : "(arguments)";
        char text[700];
        snprintf(text, sizeof(text), "invalid arguments: %s %s (rule: %s)", field, ve.message, ve.rule);
        json_t *res = json_pack("{s:[{s:s, s:s}], s:b, s:{s:s, s:s}}", "content", "type", "text", "text", text, "isError", 1, "_meta", "field",
                                field, "rule", ve.rule);
        rpc_result(m, res);
        return;
    }
    tf_tool_call_t *call;
    if (m->rest) {
        json_object_set_new(m->msg, "_args", a);
        call = &m->call;
        call->done = tool_done;
        call->ud = m;
    } else {
        tf_mcp_xchg_t *x = calloc(1, sizeof(*x));
        x->thr = m->r->thr;
        x->m = m;
        x->id = json_incref(m->id);
        x->args = a;
        json_t *tok = json_object_get(json_object_get(m->params, "_meta"), "progressToken");
        x->progress_token = json_is_string(tok) || json_is_integer(tok) ? json_incref(tok) : NULL;
        snprintf(x->sid, sizeof(x->sid), "%s", m->sid);
        snprintf(x->user_id, sizeof(x->user_id), "%s", m->r->who.user_id);
        memcpy(x->proto, m->proto, sizeof(x->proto));
        x->log_level = m->log_level;
        x->caps = m->caps;
        char acc[256];
        const char *ah = header(m->r, "accept", acc, sizeof(acc));
        x->sse_ok = ah != NULL && strstr(ah, "text/event-stream") != NULL;
        tf_mcp_hub_enter(x);
        m->x = x;
        call = &x->call;
        call->x = x;
        call->done = xchg_done;
    }
    call->r = m->r;
    call->tool = t;
    call->args = a;
    if (t->handler(call) != 0 && !call->answered) {
        tf_log(TF_LOG_ERROR, "mcp", m->r->id, "tool %s failed internally", t->name);
        call->answered = 1;
        if (m->rest)
            rpc_error(m, 200, RPC_INTERNAL, NULL, "tool %s failed", t->name);
        else
            xchg_finish(call->x, json_pack("{s:s, s:O, s:{s:i, s:s+}}", "jsonrpc", "2.0", "id", m->id, "error", "code", RPC_INTERNAL, "message",
                                           "tool failed: ", t->name));
    }
}

static void on_level_set(void *ud, PGresult *res, const char *err)
{
    mcp_req_t *m = ud;
    m->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rpc_error(m, 503, RPC_INTERNAL, NULL, "the log level could not be stored");
        return;
    }
    cache_put(m->sid, m->r->who.user_id, m->proto, m->log_level, m->caps);
    rpc_result(m, json_object());
}

static void m_logging_set_level(mcp_req_t *m)
{
    const char *lv = json_string_value(json_object_get(m->params, "level"));
    int k = tf_mcp_log_level(lv);
    if (k < 0) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/level", "rule", "enum"),
                  "logging/setLevel: level must be one of debug, info, notice, warning, error, critical, alert, emergency");
        return;
    }
    m->log_level = k;
    const char *p[2] = {lv, m->sid};
    m->r->dbq = tf_db_query(m->r->thr->db, "UPDATE mcp_sessions SET log_level = $1 WHERE id = $2", 2, p, on_level_set, m);
    if (m->r->dbq == NULL)
        tf_respond_db_unavailable(m->r);
}

/* resources/subscribe and resources/unsubscribe: updates come on the session's GET stream. */
static void m_subscribe(mcp_req_t *m, int on)
{
    const char *uri = json_string_value(json_object_get(m->params, "uri"));
    if (uri == NULL) {
        rpc_error(m, 200, RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/uri", "rule", "required"), "params.uri is required");
        return;
    }
    if (on && !tf_mcp_catalog_has_resource(m->r, uri)) {
        rpc_error(m, 200, TF_RPC_NOT_FOUND, json_pack("{s:s}", "uri", uri), "Resource not found: %s", uri);
        return;
    }
    tf_mcp_hub_subscribe(m->sid, m->r->who.user_id, uri, on);
    rpc_result(m, json_object());
}

static void dispatch(mcp_req_t *m)
{
    const char *me = m->method;
    if (m->id == NULL) {
        /* Notifications: nothing to answer. A cancellation stops the call
         * wherever it runs (any thread of this node). */
        if (strcmp(me, "notifications/cancelled") == 0) {
            json_t *rid = json_object_get(m->params, "requestId");
            if (json_is_string(rid) || json_is_integer(rid))
                tf_mcp_hub_cancel(m->sid, m->r->who.user_id, rid);
        }
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
    else if (strcmp(me, "resources/subscribe") == 0)
        m_subscribe(m, 1);
    else if (strcmp(me, "resources/unsubscribe") == 0)
        m_subscribe(m, 0);
    else if (tf_mcp_catalog_dispatch(m, me))
        ;
    else if (strcmp(me, "initialize") == 0)
        rpc_error(m, 200, RPC_INVALID, NULL, "the session is already initialized");
    else
        rpc_error(m, 200, RPC_NO_METHOD, json_pack("{s:s}", "method", me), "Method not found: %s", me);
}

/* A client's answer to one of our requests (sampling, elicitation): to the waiting call. */
static void deliver_answer(mcp_req_t *m)
{
    if (tf_mcp_hub_answer(m->sid, m->r->who.user_id, m->msg) != 0)
        tf_log(TF_LOG_INFO, "mcp", m->r->id, "session %.8s answered a request nobody waits for", m->sid);
    accepted(m);
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
    m->log_level = tf_mcp_log_level(PQgetvalue(res, 0, 2));
    m->caps = atoi(PQgetvalue(res, 0, 3));
    cache_put(m->sid, PQgetvalue(res, 0, 0), m->proto, m->log_level, m->caps);
    m->next(m);
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
        m->log_level = e->log_level;
        m->caps = e->caps;
        next(m);
        return;
    }
    m->next = next;
    const char *p[1] = {m->sid};
    m->r->dbq = tf_db_query(m->r->thr->db,
                            "UPDATE mcp_sessions SET last_seen = now() WHERE id = $1 AND ended_at IS NULL "
                            "RETURNING user_id::text, protocol_version, log_level, client_caps",
                            1, p, on_session, m);
    if (m->r->dbq == NULL)
        tf_respond_db_unavailable(m->r);
}

/* --- HTTP ------------------------------------------------------------------------------------ */

/* Is the connection's local address loopback (a server for this machine only)? */
static int local_is_loopback(tf_req_t *r)
{
    struct sockaddr_storage ss;
    socklen_t n = r->h2o->conn->callbacks->get_sockname(r->h2o->conn, (struct sockaddr *)&ss);
    if (n == 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    return 0;
}

/* host[:port] without the port ("[::1]:80" -> "[::1]"). */
static void host_only(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = len;
    if (len > 0 && in[0] == '[') {
        const char *rb = memchr(in, ']', len);
        n = rb ? (size_t)(rb - in) + 1 : len;
    } else {
        const char *colon = memchr(in, ':', len);
        if (colon != NULL)
            n = (size_t)(colon - in);
    }
    snprintf(out, cap, "%.*s", (int)n, in);
}

static int host_allowed(tf_req_t *r, const char *host)
{
    if (r->conf->mcp_allowed_hosts_count > 0) {
        for (unsigned i = 0; i < r->conf->mcp_allowed_hosts_count; i++)
            if (strcasecmp(r->conf->mcp_allowed_hosts[i], host) == 0)
                return 1;
        return 0;
    }
    if (!local_is_loopback(r))
        return 1;
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
}

/*
 * DNS rebinding: a page of evil.example whose name now resolves to
 * 127.0.0.1 reaches a local server with Host: evil.example. So the Host
 * must be one this server is known by (loopback names on a loopback
 * connection, or conf mcp.allowed_hosts), and a browser's Origin must be
 * that host or one conf allows.
 */
static int origin_ok(tf_req_t *r)
{
    char origin[512], host[512], ohost[512];
    h2o_iovec_t auth = r->h2o->authority;
    host_only(auth.base, auth.len, host, sizeof(host));
    if (!host_allowed(r, host))
        return 0;
    if (header(r, "origin", origin, sizeof(origin)) == NULL)
        return 1; /* not a browser */
    for (unsigned i = 0; i < r->conf->mcp_allowed_origins_count; i++)
        if (strcmp(r->conf->mcp_allowed_origins[i], origin) == 0)
            return 1;
    const char *o = strstr(origin, "://");
    o = o ? o + 3 : origin;
    host_only(o, strlen(o), ohost, sizeof(ohost));
    return strcasecmp(ohost, host) == 0;
}

static mcp_req_t *begin(tf_req_t *r)
{
    mcp_req_t *m = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->r = r;
    if (!origin_ok(r)) {
        rpc_error(m, 403, RPC_INVALID, NULL, "Host or Origin not allowed (DNS rebinding protection; see mcp.allowed_hosts)");
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

/*
 * The request ends (answered, or the client left). A session call still
 * running stops (on_gone; the handler must not touch its call afterwards)
 * unless the tool ended the response itself to be polled
 * (tf_tool_close_stream): then it goes on without a request.
 */
static void mcp_dispose(tf_req_t *r)
{
    mcp_req_t *m = r->hctx;
    tf_mcp_xchg_t *x = m->x;
    if (x != NULL) {
        m->x = NULL;
        x->m = NULL;
        if (x->s != NULL)
            tf_mcp_stream_unbind(x->s, r);
        if (!x->detached && !x->call.answered) {
            x->call.gone = 1;
            if (x->call.on_gone != NULL)
                x->call.on_gone(&x->call);
            xchg_free(x);
        }
    } else if (m->call.tool != NULL && !m->call.answered) {
        m->call.gone = 1;
        if (m->call.on_gone != NULL)
            m->call.on_gone(&m->call);
    }
    if (m->gs != NULL) {
        tf_mcp_stream_unbind(m->gs, r);
        tf_mcp_stream_release(m->gs);
        m->gs = NULL;
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
            if (m->sid[0] == '\0') {
                rpc_error(m, 400, RPC_INVALID, NULL, "Mcp-Session-Id is required");
                return 0;
            }
            with_session(m, deliver_answer);
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
    tf_mcp_hub_session_ended(m->sid);
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

/* The session's stream for notifications (resources/updated), or with
 * Last-Event-ID the rest of a stream the client lost. */
static void stream_after_session(mcp_req_t *m)
{
    tf_req_t *r = m->r;
    char last[128];
    r->hctx = m;
    r->on_dispose = mcp_dispose;
    if (header(r, "last-event-id", last, sizeof(last)) != NULL) {
        if (tf_mcp_stream_resume(r, m->sid, r->who.user_id, last, &m->gs) != 0)
            rpc_error(m, 404, RPC_INVALID, json_pack("{s:s}", "lastEventId", last), "no stream to resume for this Last-Event-ID");
        return;
    }
    m->gs = tf_mcp_stream_open(r, m->sid, r->who.user_id, 1, strcmp(m->proto, "2025-11-25") >= 0);
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
    with_session(m, stream_after_session);
    return 0;
}

void tf_mcp_base_url(tf_req_t *r, char *out, size_t cap)
{
    h2o_iovec_t a = r->h2o->authority;
    const char *scheme = r->h2o->scheme != NULL && r->h2o->scheme->name.len == 5 ? "https" : "http";
    /* The authority is the client's; keep it only if it is a plain host[:port]. */
    int ok = a.len > 0 && a.len < 256;
    for (size_t i = 0; ok && i < a.len; i++)
        ok = isalnum((unsigned char)a.base[i]) || strchr(".-:[]_", a.base[i]) != NULL;
    snprintf(out, cap, "%s://%.*s", scheme, ok ? (int)a.len : 9, ok ? a.base : "localhost");
}

/* --- REST views ---------------------------------------------------------------------------------- */

tf_mcp_ctx_t *tf_mcp_rest_ctx(tf_req_t *r)
{
    mcp_req_t *m = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->r = r;
    m->rest = 1;
    return m;
}

int tf_mcp_rest_tools(tf_req_t *r)
{
    m_tools_list(tf_mcp_rest_ctx(r));
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
