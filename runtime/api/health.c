/*
 * GET /health - liveness and readiness: database, version, configuration.
 * 200 when the database works, 503 ("degraded") when it does not, so a
 * load balancer stops sending traffic that would fail anyway.
 *
 * Load balancers call this constantly, so the body is written directly into
 * the request pool rather than built as a jansson tree (which cost more than
 * the rest of the request).
 */
#include <stdio.h>
#include <string.h>

#include "tf_db.h"
#include "tf_http.h"
#include "tf_log.h"
#include "tf_server.h"

#ifndef TF_VERSION
#define TF_VERSION "0.1.0"
#endif

int tf_api_health(tf_req_t *r)
{
    int up = tf_db_is_up(r->thr->db);
    const char *dberr = up ? "" : tf_db_last_error(r->thr->db);
    size_t cap = 256 + 6 * (strlen(r->conf->node_name) + strlen(dberr));
    char *b = h2o_mem_alloc_pool(&r->h2o->pool, cap);
    size_t len = (size_t)snprintf(b, cap, "{\"status\":\"%s\",\"version\":\"" TF_VERSION "\",\"node\":\"", up ? "ok" : "degraded");
    len = tf_log_json_escape(b, len, cap, r->conf->node_name, strlen(r->conf->node_name));
    len += (size_t)snprintf(b + len, cap - len, "\",\"conf_generation\":%llu,\"database\":{\"status\":\"%s\"",
                            (unsigned long long)r->conf->generation, up ? "up" : "down");
    if (dberr[0] != '\0') {
        len += (size_t)snprintf(b + len, cap - len, ",\"error\":\"");
        len = tf_log_json_escape(b, len, cap, dberr, strlen(dberr));
        len += (size_t)snprintf(b + len, cap - len, "\"");
    }
    len += (size_t)snprintf(b + len, cap - len, "}}\n");
    tf_respond_raw(r, up ? 200 : 503, "application/json", h2o_iovec_init(b, len));
    return 0;
}
