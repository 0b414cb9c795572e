/*
 * tf_mcp_hub.c - notifications and client requests during an MCP call.
 * See tf_mcp_int.h and tf_tool.h. (Being written: for now a call has no
 * stream, so notifications are dropped and requests fail at once.)
 */
#include "tf_mcp_int.h"
#include "tf_tool.h"

void tf_tool_progress(tf_tool_call_t *call, double progress, double total, const char *message)
{
    (void)call, (void)progress, (void)total, (void)message;
}

void tf_tool_log(tf_tool_call_t *call, const char *level, const char *logger, json_t *data)
{
    (void)call, (void)level, (void)logger;
    json_decref(data);
}

int tf_tool_ask(tf_tool_call_t *call, const char *method, json_t *params, tf_tool_answer_fn cb)
{
    (void)method;
    json_decref(params);
    cb(call, NULL, NULL);
    return -1;
}

int tf_tool_client_has(const tf_tool_call_t *call, const char *capability)
{
    (void)call, (void)capability;
    return 0;
}

void tf_tool_close_stream(tf_tool_call_t *call, int retry_ms)
{
    (void)call, (void)retry_ms;
}

void tf_mcp_resource_updated(const char *user_id, const char *uri)
{
    (void)user_id, (void)uri;
}
