/*
 * Operator routes.
 *
 * POST /v1/admin/reload - load conf/ again and swap it in, exactly as SIGHUP
 * does; answers with the outcome (a broken file: 422 with its file:line),
 * which is audited once known (tf_api_reload, shared with the admin_reload tool).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_api.h"
#include "tf_auth.h"
#include "tf_tiers.h"

#include "tf_http.h"

static void on_reloaded(void *ud, int ok, const char *msg)
{
    tf_req_t *r = ud;
    r->on_dispose = NULL;
    if (ok)
        tf_respond_json(r, 200, json_pack("{s:b, s:s}", "reloaded", 1, "message", msg));
    else
        tf_respond_error(r, 422, "invalid_configuration", NULL, "%s", msg);
}

/* The client left before the outcome: nobody to answer (it is audited still). */
static void on_dispose(tf_req_t *r)
{
    tf_api_reload_forget(r->hctx);
}

int tf_api_admin_reload(tf_req_t *r)
{
    r->hctx = tf_api_reload(r, on_reloaded, r);
    r->on_dispose = on_dispose;
    return 0;
}

/*
 * GET /v1/admin/users?limit=&offset=
 */
static long query_long(tf_req_t *r, const char *name, long dflt, long max)
{
    h2o_req_t *req = r->h2o;
    if (req->query_at == SIZE_MAX)
        return dflt;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nl = strlen(name);
    while (q < end) {
        if ((size_t)(end - q) > nl && memcmp(q, name, nl) == 0 && q[nl] == '=') {
            long v = strtol(q + nl + 1, NULL, 10);
            return v < 0 ? 0 : v > max ? max : v;
        }
        const char *amp = memchr(q, '&', (size_t)(end - q));
        q = amp != NULL ? amp + 1 : end;
    }
    return dflt;
}

int tf_api_admin_users_list(tf_req_t *r)
{
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", query_long(r, "limit", 100, 1000));
    snprintf(off, sizeof(off), "%ld", query_long(r, "offset", 0, 100000000));
    const char *p[2] = {lim, off};
    tf_api_query(r,
                 "SELECT json_build_object('users', coalesce(json_agg(x), '[]'), 'total', (SELECT count(*) FROM users))::text FROM "
                 "(SELECT id, email, display_name, tier, is_admin, disabled, created_at FROM users "
                 "ORDER BY created_at DESC, id LIMIT $1::int OFFSET $2::int) x",
                 2, p, tf_api_on_json_row);
    return 0;
}

static void on_user_updated(void *ud, PGresult *res, const char *err)
{
    /* Every thread forgets cached users: the new tier or status applies to
     * the user's next request. */
    if (err == NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        tf_auth_invalidate_all();
    tf_api_on_json_row(ud, res, err);
}

/*
 * PATCH /v1/admin/users/{id}: {"tier": "...", "disabled": true|false}
 */
int tf_api_admin_user_update(tf_req_t *r)
{
    const char *id = tf_req_param(r, "id");
    if (!tf_api_is_uuid(id)) {
        tf_respond_error(r, 404, "not_found", NULL, "no such user");
        return 0;
    }
    const char *tier = json_string_value(json_object_get(r->body, "tier"));
    json_t *dis = json_object_get(r->body, "disabled");
    if (tier == NULL && dis == NULL) {
        tf_respond_error(r, 400, "invalid_field", NULL, "nothing to change: give tier and/or disabled");
        return 0;
    }
    int t = tier != NULL ? tf_tier_find(tier) : -1;
    char *details = json_dumps(r->body, JSON_COMPACT);
    const char *p[6] = {id, t >= 0 ? tf_tiers[t].id : NULL, dis != NULL ? (json_is_true(dis) ? "true" : "false") : NULL,
                        r->who.subject, r->who.user_id, h2o_strdup(&r->h2o->pool, details, strlen(details)).base};
    free(details);
    tf_api_query(r,
                 "WITH u AS (UPDATE users SET tier = coalesce($2, tier), disabled = coalesce($3::boolean, disabled) "
                 "WHERE id = $1::uuid RETURNING id, email, tier, is_admin, disabled), "
                 "a AS (INSERT INTO audit_log (actor_id, actor, action, target, details) SELECT $5::uuid, $4, 'update_user', "
                 "u.id::text, $6::jsonb FROM u) "
                 "SELECT row_to_json(u)::text FROM u",
                 6, p, on_user_updated);
    return 0;
}
