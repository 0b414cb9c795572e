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
};

/* The handler's answer; each takes ownership of what it is given. */
void tf_tool_result(tf_tool_call_t *call, json_t *structured);
void tf_tool_text(tf_tool_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tf_tool_fail(tf_tool_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A full CallToolResult (content, structuredContent, isError) built by the handler. */
void tf_tool_answer(tf_tool_call_t *call, json_t *result);

/* The body of a generated stub: the build refuses to ship a handler that calls it. */
int tf_tool_stub(tf_tool_call_t *call);

/* The argument `name` as a string / integer / boolean, or the fallback. */
const char *tf_tool_arg_str(const tf_tool_call_t *call, const char *name, const char *fallback);
long long tf_tool_arg_int(const tf_tool_call_t *call, const char *name, long long fallback);
int tf_tool_arg_bool(const tf_tool_call_t *call, const char *name, int fallback);

#endif
