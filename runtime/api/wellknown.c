/*
 * GET /.well-known/oauth-protected-resource[/v1/mcp] - Protected Resource
 * Metadata (RFC 9728) for the MCP endpoint, as MCP's authorization section
 * asks: a client that got 401 follows WWW-Authenticate's resource_metadata
 * here to learn how to authenticate. TriForce issues its own bearer tokens
 * (JWT from /v1/auth/login, or tf_ API keys), not OAuth: so no
 * authorization server is listed, only that bearer tokens go in the
 * Authorization header and where the documentation of getting one is.
 */
#include <stdio.h>

#include "tf_http.h"
#include "tf_mcp.h"

int tf_api_oauth_resource(tf_req_t *r)
{
    char base[600];
    tf_mcp_base_url(r, base, sizeof(base));
    char res[700], doc[700];
    snprintf(res, sizeof(res), "%s/v1/mcp", base);
    snprintf(doc, sizeof(doc), "%s/v1/auth/login", base);
    tf_respond_json(r, 200,
                    json_pack("{s:s, s:[s], s:[], s:s, s:s}", "resource", res, "bearer_methods_supported", "header", "scopes_supported",
                              "resource_name", "TriForce MCP", "resource_documentation", doc));
    return 0;
}
