/*
 * tf_resource - what an MCP resource handler (tools/resources.c) works
 * with. Resources are declared in spec/resources.yaml; one with a
 * `handler: h` is read by int tf_resource_h(tf_resource_read_t *rd), which
 * answers exactly once, now or later:
 *   tf_resource_text(rd, mime, text)   one text content for rd->uri
 *   tf_resource_json(rd, value)        the same, value as application/json
 *   tf_resource_not_found(rd)          -32002: no such resource (for this caller)
 * Database work goes through r->dbq like a tool's (cancelled if the client
 * leaves).
 */
#ifndef TF_RESOURCE_H
#define TF_RESOURCE_H

#include <jansson.h>

#include "tf_http.h"
#include "tf_spec.h"

struct tf_resource_read {
    tf_req_t *r;                 /* identity: r->who; conf: r->conf */
    const tf_resource_t *res;    /* its spec entry */
    const char *uri;             /* as the client asked */
    json_t *vars;                /* a template's variables, e.g. {"id": "..."} (borrowed) */
    void *hctx;                  /* the handler's own state */
    /* private to tf_mcp_catalog */
    void (*done)(tf_resource_read_t *rd, json_t *contents);
    void *ud;
    int answered;
};

void tf_resource_text(tf_resource_read_t *rd, const char *mime, const char *text);
void tf_resource_json(tf_resource_read_t *rd, json_t *value); /* takes ownership */
void tf_resource_not_found(tf_resource_read_t *rd);

#endif
