/*
 * GET /health - liveness and readiness: database, version, configuration.
 * 200 when the database works, 503 ("degraded") when it does not, so a
 * load balancer stops sending traffic that would fail anyway.
 */
#include "tf_db.h"
#include "tf_http.h"
#include "tf_server.h"

#ifndef TF_VERSION
#define TF_VERSION "0.1.0"
#endif

int tf_api_health(tf_req_t *r)
{
    int up = tf_db_is_up(r->thr->db);
    const char *dberr = up ? NULL : tf_db_last_error(r->thr->db);
    json_t *db = json_pack("{s:s}", "status", up ? "up" : "down");
    if (dberr != NULL && dberr[0] != '\0')
        json_object_set_new(db, "error", json_string(dberr));
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:o}", "status", up ? "ok" : "degraded", "version", TF_VERSION, "node",
                             r->conf->node_name, "conf_generation", (json_int_t)r->conf->generation, "database", db);
    tf_respond_json(r, up ? 200 : 503, body);
    return 0;
}
