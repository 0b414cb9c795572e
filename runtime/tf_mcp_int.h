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

/*
 * A resource changed: sessions subscribed to `uri` (of user_id, or of
 * every user when user_id is NULL) get notifications/resources/updated
 * on their GET stream. Any thread.
 */
void tf_mcp_resource_updated(const char *user_id, const char *uri);

#endif
