/*
 * mcp.c - the MCP routes; the protocol is in tf_mcp.
 */
#include "tf_api.h"
#include "tf_mcp.h"

int tf_api_mcp_post(tf_req_t *r)
{
    return tf_mcp_post(r);
}

int tf_api_mcp_get(tf_req_t *r)
{
    return tf_mcp_get(r);
}

int tf_api_mcp_delete(tf_req_t *r)
{
    return tf_mcp_delete(r);
}

int tf_api_mcp_tools(tf_req_t *r)
{
    return tf_mcp_rest_tools(r);
}

int tf_api_mcp_call(tf_req_t *r)
{
    return tf_mcp_rest_call(r);
}

int tf_api_mcp_prompts(tf_req_t *r)
{
    return tf_mcp_rest_prompts(r);
}

int tf_api_mcp_resources(tf_req_t *r)
{
    return tf_mcp_rest_resources(r);
}
