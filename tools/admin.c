/*
 * tools/admin.c - the MCP tools of spec/tools/admin.yaml: operator actions
 * for admins only, the same as the /v1/admin routes, audited the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/tf_api.h"
#include "tf_auth.h"
#include "tf_db.h"
#include "tf_health.h"
#include "tf_log.h"
#include "tf_server.h"
#include "tf_tool.h"

/* Everyone with MCP access sees these tools; only admins get answers. */
static int admin_only(tf_tool_call_t *call)
{
    if (call->r->who.is_admin)
        return 1;
    tf_tool_fail(call, "%s is for administrators", call->tool->name);
    return 0;
}

static void lower(char *dst, size_t cap, const char *src)
{
    tf_api_lower_email(dst, cap, src);
}

/* A query whose single text column is the tool's JSON result. */
static void on_json(void *ud, PGresult *res, const char *err)
{
    tf_tool_call_t *call = ud;
    call->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_tool_fail(call, "the database could not answer (%s)", err ? err : PQresultErrorMessage(res));
        return;
    }
    if (PQntuples(res) == 0) {
        tf_tool_fail(call, "no such user");
        return;
    }
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (j == NULL) {
        tf_tool_fail(call, "unreadable answer from the database");
        return;
    }
    tf_tool_result(call, j);
}

static void on_user_changed(void *ud, PGresult *res, const char *err)
{
    if (err == NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        tf_auth_invalidate_all(); /* the change applies to the user's next request, on every thread */
    on_json(ud, res, err);
}

static int query(tf_tool_call_t *call, const char *sql, int n, const char *const *p, tf_db_cb cb)
{
    call->r->dbq = tf_db_query(call->r->thr->db, sql, n, p, cb, call);
    if (call->r->dbq == NULL)
        tf_tool_fail(call, "the database is unavailable; try again shortly");
    return 0;
}

/* admin_users: List users (admin) */
int tf_tool_admin_users(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    char lim[24], off[24], like[600];
    snprintf(lim, sizeof(lim), "%lld", tf_tool_arg_int(call, "limit", 50));
    snprintf(off, sizeof(off), "%lld", tf_tool_arg_int(call, "offset", 0));
    /* The search is a plain substring: LIKE's wildcards in it are escaped. */
    const char *s = tf_tool_arg_str(call, "search", "");
    size_t o = 0;
    like[o++] = '%';
    for (; *s && o + 3 < sizeof(like); s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            like[o++] = '\\';
        like[o++] = *s;
    }
    like[o++] = '%';
    like[o] = '\0';
    const char *p[3] = {lim, off, like};
    return query(call,
                 "SELECT json_build_object('users', coalesce(json_agg(x), '[]'), 'total', "
                 "(SELECT count(*) FROM users WHERE email ILIKE $3))::text FROM "
                 "(SELECT id, email, display_name, tier, is_admin, disabled, created_at FROM users WHERE email ILIKE $3 "
                 "ORDER BY created_at DESC, id LIMIT $1::int OFFSET $2::int) x",
                 3, p, on_json);
}

static int update_user(tf_tool_call_t *call, const char *tier, const char *disabled, const char *action)
{
    char email[256];
    lower(email, sizeof(email), tf_tool_arg_str(call, "email", ""));
    char *details = json_dumps(call->args, JSON_COMPACT);
    const char *p[6] = {email, tier, disabled, call->r->who.subject, call->r->who.user_id, details};
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "WITH u AS (UPDATE users SET tier = coalesce($2, tier), disabled = coalesce($3::boolean, disabled) "
             "WHERE email = $1 RETURNING id, email, tier, is_admin, disabled), "
             "a AS (INSERT INTO audit_log (actor_id, actor, action, target, details) SELECT $5::uuid, $4, '%s', u.id::text, $6::jsonb FROM u) "
             "SELECT row_to_json(u)::text FROM u",
             action);
    query(call, sql, 6, p, on_user_changed);
    free(details);
    return 0;
}

/* admin_set_tier: Set a user's tier (admin) */
int tf_tool_admin_set_tier(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    return update_user(call, tf_tool_arg_str(call, "tier", NULL), NULL, "set_tier");
}

/* admin_disable_user: Disable or enable a user (admin) */
int tf_tool_admin_disable_user(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    return update_user(call, NULL, tf_tool_arg_bool(call, "disabled", 1) ? "true" : "false", "set_disabled");
}

/* admin_audit_log: Audit log (admin) */
int tf_tool_admin_audit_log(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    char lim[24];
    snprintf(lim, sizeof(lim), "%lld", tf_tool_arg_int(call, "limit", 50));
    const char *p[1] = {lim};
    return query(call,
                 "SELECT json_build_object('entries', coalesce(json_agg(x), '[]'))::text FROM "
                 "(SELECT at, actor, action, target, details FROM audit_log ORDER BY at DESC LIMIT $1::int) x",
                 1, p, on_json);
}

/* admin_reset_providers: Reset provider health (admin) */
int tf_tool_admin_reset_providers(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    tf_health_reset_all();
    tf_log(TF_LOG_INFO, "audit", call->r->id, "%s reset the provider health (mcp)", call->r->who.subject);
    tf_tool_result(call, json_pack("{s:b}", "reset", 1));
    return 0;
}

/* admin_reload: Reload the configuration (admin). The reload finishes on
 * the main thread, maybe after the client left: the wait lives apart. */
typedef struct reload_wait {
    tf_tool_call_t *call; /* NULL once the client left */
} reload_wait_t;

static void on_reloaded(void *ud, int ok, const char *msg)
{
    reload_wait_t *w = ud;
    if (w->call != NULL) {
        w->call->on_gone = NULL;
        if (ok)
            tf_tool_result(w->call, json_pack("{s:b, s:s}", "reloaded", 1, "message", msg));
        else
            tf_tool_fail(w->call, "the configuration was refused: %s", msg);
    }
    free(w);
}

static void reload_gone(tf_tool_call_t *call)
{
    reload_wait_t *w = call->hctx;
    w->call = NULL;
}

int tf_tool_admin_reload(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    reload_wait_t *w = calloc(1, sizeof(*w));
    w->call = call;
    call->hctx = w;
    call->on_gone = reload_gone;
    tf_server_request_reload(on_reloaded, w);
    return 0;
}
