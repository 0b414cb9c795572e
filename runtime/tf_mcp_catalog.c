/*
 * tf_mcp_catalog.c - prompts, resources and completion for the MCP server.
 * See tf_mcp_int.h. (Being written: until then no catalog method exists.)
 */
#include "tf_mcp_int.h"

int tf_mcp_catalog_dispatch(tf_mcp_ctx_t *c, const char *method)
{
    (void)c;
    (void)method;
    return 0;
}

int tf_mcp_catalog_has_resource(tf_req_t *r, const char *uri)
{
    (void)r;
    (void)uri;
    return 0;
}
