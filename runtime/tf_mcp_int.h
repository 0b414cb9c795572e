/*
 * tf_mcp_int.h - what the files of the MCP module share (not a public
 * header: other modules use tf_mcp.h).
 *
 *   tf_mcp.c          transport: POST/GET/DELETE, sessions, dispatch, tools
 *   tf_mcp_hub.c      streams, event ids and resumption, client responses
 *                     routed back to the waiting call, cancellation,
 *                     subscriptions (shared by all loop threads)
 *   tf_mcp_catalog.c  prompts, resources, completion
 *
 * A tf_mcp_ctx_t is one JSON-RPC request being answered (or a REST view's
 * request); it lives in the HTTP request's memory pool. Each request is
 * answered exactly once, with tf_mcp_ctx_result or tf_mcp_ctx_error.
 */
#ifndef TF_MCP_INT_H
#define TF_MCP_INT_H

#include <jansson.h>

#include "tf_http.h"
#include "tf_tool.h"

struct tf_thread;

enum {
    TF_RPC_PARSE = -32700,
    TF_RPC_INVALID = -32600,
    TF_RPC_NO_METHOD = -32601,
    TF_RPC_PARAMS = -32602,
    TF_RPC_INTERNAL = -32603,
    TF_RPC_NOT_FOUND = -32002, /* resources/read of an unknown URI */
};

typedef struct tf_mcp_ctx tf_mcp_ctx_t;

tf_req_t *tf_mcp_ctx_req(tf_mcp_ctx_t *c);
json_t *tf_mcp_ctx_params(tf_mcp_ctx_t *c); /* the request's params object (may be NULL) */
int tf_mcp_ctx_is_rest(tf_mcp_ctx_t *c);    /* a REST view: answer the bare result */
const char *tf_mcp_ctx_session(tf_mcp_ctx_t *c); /* Mcp-Session-Id ("" for REST) */

/* A context for a REST view (GET /v1/mcp/...): answers are bare results. */
tf_mcp_ctx_t *tf_mcp_rest_ctx(tf_req_t *r);

/* The answer; takes ownership of result / data. For REST views an error
 * becomes an HTTP 4xx JSON error (404 for TF_RPC_NOT_FOUND). */
void tf_mcp_ctx_result(tf_mcp_ctx_t *c, json_t *result);
void tf_mcp_ctx_error(tf_mcp_ctx_t *c, int code, json_t *data, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The catalog (tf_mcp_catalog.c): prompts/list, prompts/get,
 * resources/list, resources/read, resources/templates/list,
 * completion/complete. Returns 1 when `method` is one of these (c is then
 * answered, now or later), 0 otherwise.
 */
int tf_mcp_catalog_dispatch(tf_mcp_ctx_t *c, const char *method);

/* Is the resource URI one the catalog serves to r (resources/subscribe accepts only those)? */
int tf_mcp_catalog_has_resource(tf_req_t *r, const char *uri);

/* tf_mcp_resource_updated is public: tf_mcp.h. */

/* --- streams (tf_mcp_hub.c) --------------------------------------------------
 *
 * An SSE stream of a session: the answer to one POST that sent messages
 * before its result, or a GET (the session's stream for notifications).
 * Every event has an id "<stream>_<seq>"; a stream whose HTTP response
 * ended before its last event (the client lost it, or the server closed it
 * to make the client poll) is kept for a while, and a GET with that
 * Last-Event-ID gets the events after it, then the rest as they come. A
 * stream is shared by the loop threads: messages for it may be produced on
 * one thread while its HTTP response is on another.
 */
typedef struct tf_mcp_stream tf_mcp_stream_t;

/* Starts r's answer as an SSE stream (200, text/event-stream); the caller
 * holds one reference. priming: send an event with an id and no data first
 * (2025-11-25), with retry_ms. The owner of r->on_dispose must call
 * tf_mcp_stream_unbind(s, r) when r ends. */
tf_mcp_stream_t *tf_mcp_stream_open(tf_req_t *r, const char *sid, const char *user_id, int standalone, int priming);
/* Appends one JSON-RPC message (compact JSON text) as an event; final: the
 * stream ends after it. Any thread. */
void tf_mcp_stream_send(tf_mcp_stream_t *s, const char *json, size_t len, int final);
/* Ends the HTTP response now (after a retry hint), keeping the stream for a
 * reconnection. */
void tf_mcp_stream_detach(tf_mcp_stream_t *s, int retry_ms);
void tf_mcp_stream_unbind(tf_mcp_stream_t *s, tf_req_t *r);
void tf_mcp_stream_release(tf_mcp_stream_t *s);
/* GET with Last-Event-ID: resumes that stream on r. 0: r answers it;
 * -1: no such stream for this session (the caller answers 404). */
int tf_mcp_stream_resume(tf_req_t *r, const char *sid, const char *user_id, const char *last_event_id, tf_mcp_stream_t **out);

/* --- calls in flight (tf_mcp_hub.c) ---------------------------------------------
 *
 * A tools/call of a session. It lives on the heap (not in the request's
 * pool) because it can outlive its HTTP response (tf_tool_close_stream);
 * it is touched only on its loop thread `thr`. The hub indexes it so that
 * a cancellation or the client's answer to a server request, arriving on
 * any thread, reaches it.
 */
enum { TF_MCP_CAP_SAMPLING = 1, TF_MCP_CAP_ELICITATION = 2, TF_MCP_CAP_ROOTS = 4 };

typedef struct tf_mcp_xchg {
    uint64_t xid;
    struct tf_thread *thr;
    tf_mcp_ctx_t *m;          /* the request it answers; NULL once that ended */
    tf_tool_call_t call;      /* call.x == this */
    json_t *id;               /* the JSON-RPC id (owned) */
    json_t *args;             /* validated arguments (owned; call.args) */
    json_t *progress_token;   /* params._meta.progressToken (owned), or NULL */
    char sid[80], user_id[40], proto[16];
    int log_level;            /* index into tf_mcp_log_levels: quieter ones are not sent */
    int caps;                 /* TF_MCP_CAP_* declared at initialize */
    int sse_ok;               /* the POST accepted text/event-stream */
    int detached;             /* tf_tool_close_stream ended its response */
    unsigned asks;            /* server requests sent so far */
    tf_mcp_stream_t *s;       /* once the answer became a stream */
} tf_mcp_xchg_t;

extern const char *const tf_mcp_log_levels[]; /* debug ... emergency, NULL */
int tf_mcp_log_level(const char *name);       /* index, or -1 */

/* Indexes x (after its fields are set) under (sid, JSON-RPC id). */
void tf_mcp_hub_enter(tf_mcp_xchg_t *x);
/* Removes x and its pending server requests; on x's thread. */
void tf_mcp_hub_leave(tf_mcp_xchg_t *x);
/* The stream of x's answer, started now if need be; NULL when the client
 * does not accept one or the response has ended. */
tf_mcp_stream_t *tf_mcp_xchg_stream(tf_mcp_xchg_t *x);

/* A client's JSON-RPC response (msg) to a server request, on a loop thread:
 * handed to the waiting call, on this node or (through PostgreSQL) another.
 * 0 when one was waiting here. */
int tf_mcp_hub_answer(const char *sid, const char *user_id, json_t *msg);
int tf_mcp_hub_answer_local(const char *sid, const char *user_id, json_t *msg);
/* notifications/cancelled from the client: the call stops (answered with
 * nothing more), on this node or another. Loop thread. */
void tf_mcp_hub_cancel(const char *sid, const char *user_id, json_t *request_id);
/* Called on x's thread by the hub when a cancellation reaches it; defined
 * in tf_mcp.c (ends the HTTP answer and frees x). */
void tf_mcp_xchg_cancelled(tf_mcp_xchg_t *x);

/* resources/subscribe and unsubscribe of a session. */
void tf_mcp_hub_subscribe(const char *sid, const char *user_id, const char *uri, int on);
/* The session ended (DELETE): its streams and subscriptions go. */
void tf_mcp_hub_session_ended(const char *sid);

#endif
