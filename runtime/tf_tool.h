/*
 * tf_tool - what an MCP tool handler (tools/<category>.c) works with.
 *
 * A handler receives its arguments already checked against the tool's
 * input schema (defaults applied) and answers exactly once, now or later:
 *   tf_tool_text(call, fmt, ...)       a text result
 *   tf_tool_result(call, structured)   structuredContent (checked against the
 *                                      output schema) plus its JSON as text
 *   tf_tool_fail(call, fmt, ...)       a tool error (isError: true): the model
 *                                      reads it and may correct itself
 * Asynchronous handlers (database, upstream calls) keep `call` and answer
 * from their callback; for database queries, put the query in
 * call->r->dbq and the pipeline cancels it if the client leaves. Other work
 * sets call->on_gone: it runs when the client leaves before the answer,
 * and afterwards the handler must not touch `call` (it lives in the
 * request's memory, which is freed).
 */
#ifndef TF_TOOL_H
#define TF_TOOL_H

#include <jansson.h>

#include "tf_http.h"
#include "tf_spec.h"

struct tf_tool_call {
    tf_req_t *r;            /* the HTTP request (identity: r->who; conf: r->conf) */
    const tf_tool_t *tool;
    json_t *args;           /* validated arguments (borrowed) */
    void *hctx;             /* the handler's own state */
    void (*on_gone)(tf_tool_call_t *call);
    int gone;               /* the client left */
    /* private to tf_mcp */
    void (*done)(tf_tool_call_t *call, json_t *result);
    void *ud;
    int answered;
    struct tf_mcp_xchg *x;  /* the MCP exchange carrying notifications; NULL for REST and chat callers */
};

/* The handler's answer; each takes ownership of what it is given. */
void tf_tool_result(tf_tool_call_t *call, json_t *structured);
void tf_tool_text(tf_tool_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tf_tool_fail(tf_tool_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A full CallToolResult (content, structuredContent, isError) built by the handler. */
void tf_tool_answer(tf_tool_call_t *call, json_t *result);

/*
 * During a call (before its answer), on the loop thread that runs it.
 * The first of these turns the HTTP answer into an SSE stream (when the
 * client accepts one; otherwise notifications are dropped and requests
 * fail at once) and every message carries an event id, so a client that
 * loses the stream resumes it with GET + Last-Event-ID.
 *
 *   tf_tool_progress  notifications/progress, when the caller sent a
 *                     progressToken (total < 0: unknown; message may be NULL)
 *   tf_tool_log       notifications/message at `level` (debug ... emergency),
 *                     sent when the session's logging/setLevel allows it;
 *                     takes ownership of data
 *   tf_tool_ask       a request to the client (sampling/createMessage,
 *                     elicitation/create, roots/list); takes ownership of
 *                     params. cb runs on this thread with the client's
 *                     result or error (the other NULL), or with both NULL
 *                     when the client cannot answer (no such capability,
 *                     no stream). Not called once the call is gone.
 *   tf_tool_client_has  did the client declare the capability at
 *                     initialize ("sampling", "elicitation", "roots")?
 *   tf_tool_close_stream  ends the HTTP response now, keeping the call
 *                     running: the client reconnects (after retry_ms) with
 *                     Last-Event-ID and gets the rest. Afterwards call->r
 *                     is NULL: only handlers that need nothing of the
 *                     request any more may use it (SEP-1699 polling).
 */
void tf_tool_progress(tf_tool_call_t *call, double progress, double total, const char *message);
/* The caller's progressToken (borrowed), or NULL when it sent none. */
json_t *tf_tool_progress_token(const tf_tool_call_t *call);
void tf_tool_log(tf_tool_call_t *call, const char *level, const char *logger, json_t *data);
typedef void (*tf_tool_answer_fn)(tf_tool_call_t *call, json_t *result, json_t *error);
int tf_tool_ask(tf_tool_call_t *call, const char *method, json_t *params, tf_tool_answer_fn cb);
int tf_tool_client_has(const tf_tool_call_t *call, const char *capability);
void tf_tool_close_stream(tf_tool_call_t *call, int retry_ms);

/* The body of a generated stub: the build refuses to ship a handler that calls it. */
int tf_tool_stub(tf_tool_call_t *call);

/* The argument `name` as a string / integer / boolean, or the fallback. */
const char *tf_tool_arg_str(const tf_tool_call_t *call, const char *name, const char *fallback);
long long tf_tool_arg_int(const tf_tool_call_t *call, const char *name, long long fallback);
int tf_tool_arg_bool(const tf_tool_call_t *call, const char *name, int fallback);

#endif
