/*
 * tf_chat - one chat request through the Mesh Brain.
 *
 *   checks the request -> picks candidates (tf_mesh) -> admits it against
 *   the caller's limits (tf_usage) -> tries candidates in order until one
 *   answers (tf_adapt + tf_curl) -> records the tokens -> answers.
 *
 * A candidate that fails (connection refused, timeout, 429, 5xx, a broken
 * answer) is reported to tf_health and the next one is tried, as long as
 * nothing has reached the client yet. For streams that means until the
 * first piece of text: after it, a failure ends the stream with an error
 * event. Tokens are recorded in PostgreSQL before the client sees the end
 * of the answer, so what a client was told it used is in the table.
 */
#ifndef TF_CHAT_H
#define TF_CHAT_H

#include <jansson.h>

#include "tf_http.h"

/* What the answer looks like. */
enum {
    TF_CHAT_OPENAI = 0, /* chat.completion / chat.completion.chunk (also /v1/chat) */
    TF_CHAT_CLIENT = 1  /* seed 002: {response, model, tier, backend, tokens_used, latency_ms, fallback_used} */
};

/*
 * Runs `req` (an OpenAI chat request; a reference is taken) for r and
 * answers r. Returns 0 (answered or will answer).
 */
int tf_chat_run(tf_req_t *r, json_t *req, int shape);

/*
 * The same for callers that are not an HTTP route of their own (MCP
 * tools): the outcome goes to done(ud, status, answer), answer owned by the
 * callee: on success (200) {response, model, provider, node, finish_reason,
 * prompt_tokens, completion_tokens, total_tokens, usage_estimated,
 * fallback_used, attempts, task}; otherwise {"error":{code, message,
 * status, param?, retry_after?, limit?...}}. Never streams. Metered like a
 * chat. It uses none of r's handles (dbq, hctx, on_dispose), so several
 * may run for one request. Returns the running chat, or NULL when done already ran;
 * tf_chat_cancel stops a running one (the request is going away) and done
 * is then not called.
 */
typedef struct chat tf_chat_t;
typedef void (*tf_chat_done_fn)(void *ud, int status, json_t *answer);
tf_chat_t *tf_chat_start(tf_req_t *r, json_t *req, tf_chat_done_fn done, void *ud);
void tf_chat_cancel(tf_chat_t *ch);

#endif
