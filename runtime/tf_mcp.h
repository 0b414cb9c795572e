/*
 * tf_mcp - the MCP server: JSON-RPC 2.0 over Streamable HTTP at /v1/mcp
 * (and /mcp), revision 2025-11-25, accepting clients of 2025-06-18 and
 * 2025-03-26.
 *
 *   POST    one JSON-RPC message (batches refused). Requests get a JSON
 *           answer; notifications and responses get 202.
 *   GET     the server's SSE stream for the session.
 *   DELETE  ends the session; it answers 404 afterwards.
 *
 * Sessions (Mcp-Session-Id, issued by initialize) live in PostgreSQL, so a
 * session survives a restart and works on any gateway node; each loop
 * thread caches the ones it saw for a few seconds. A session belongs to the
 * user who opened it. MCP-Protocol-Version and Origin are checked on every
 * request (400 / 403).
 */
#ifndef TF_MCP_H
#define TF_MCP_H

#include "tf_http.h"

int tf_mcp_post(tf_req_t *r);
int tf_mcp_get(tf_req_t *r);
int tf_mcp_delete(tf_req_t *r);

/* REST views: GET /v1/mcp/tools, POST /v1/mcp/call {name, arguments}. */
int tf_mcp_rest_tools(tf_req_t *r);
int tf_mcp_rest_call(tf_req_t *r);
/* GET /v1/mcp/prompts, GET /v1/mcp/resources (resources and templates). */
int tf_mcp_rest_prompts(tf_req_t *r);
int tf_mcp_rest_resources(tf_req_t *r);

/*
 * Renders prompt `name` (spec/prompts.yaml) with args for r: the MCP
 * PromptMessage array (a new reference), or NULL with *why saying which
 * field ("/name", "/arguments/x") and rule. tf_mcp_prompts_visible: the
 * prompts/list entries r may use (a new array).
 */
json_t *tf_mcp_prompt_render(tf_req_t *r, const char *name, json_t *args, tf_verr_t *why);
json_t *tf_mcp_prompts_visible(tf_req_t *r);

/*
 * A resource changed: sessions subscribed to `uri` (of user_id, or of
 * every user when user_id is NULL) get notifications/resources/updated on
 * their GET stream, on this node and the others. Loop threads.
 */
void tf_mcp_resource_updated(const char *user_id, const char *uri);

/* "http://host:port" as the client addressed this server (for URLs in answers). */
void tf_mcp_base_url(tf_req_t *r, char *out, size_t cap);

/*
 * Several gateway nodes: a client's POST may reach another node than the
 * one running the call it is about. What a node cannot deliver itself it
 * publishes on PostgreSQL's channel tf_mcp; every node's tf_notify hands
 * what it hears to this (main thread). Messages from this process are
 * ignored (it tried itself first).
 */
void tf_mcp_relay_receive(const char *payload);

#endif
