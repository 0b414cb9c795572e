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
#include "tf_metrics.h"
#include "tf_work.h"
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
    tf_api_audit(call->r, "reset_providers", NULL);
    tf_tool_result(call, json_pack("{s:b}", "reset", 1));
    return 0;
}

/* admin_reload: Reload the configuration (admin). Audited with its outcome
 * by tf_api_reload, like the route. */
static void on_reloaded(void *ud, int ok, const char *msg)
{
    tf_tool_call_t *call = ud;
    call->on_gone = NULL;
    if (ok)
        tf_tool_result(call, json_pack("{s:b, s:s}", "reloaded", 1, "message", msg));
    else
        tf_tool_fail(call, "the configuration was refused: %s", msg);
}

static void reload_gone(tf_tool_call_t *call)
{
    tf_api_reload_forget(call->hctx);
}

int tf_tool_admin_reload(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    call->hctx = tf_api_reload(call->r, on_reloaded, call);
    call->on_gone = reload_gone;
    return 0;
}

/* admin_metrics: Metrics (admin) */
int tf_tool_admin_metrics(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    const char *filter = tf_tool_arg_str(call, "filter", "");
    h2o_buffer_t *buf;
    h2o_buffer_init(&buf, &h2o_socket_buffer_prototype);
    tf_metrics_render(&buf);
    /* Whole lines that contain the filter. */
    size_t cap = buf->size + 1, o = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < buf->size;) {
        const char *nl = memchr(buf->bytes + i, '\n', buf->size - i);
        size_t len = nl ? (size_t)(nl - (buf->bytes + i)) + 1 : buf->size - i;
        if (filter[0] == '\0' || memmem(buf->bytes + i, len, filter, strlen(filter)) != NULL) {
            memcpy(out + o, buf->bytes + i, len);
            o += len;
        }
        i += len;
    }
    out[o] = '\0';
    h2o_buffer_dispose(&buf);
    tf_tool_text(call, "%s", out);
    free(out);
    return 0;
}

/* admin_logs: Logs (admin). Reading the file is a job for a worker thread. */
typedef struct logs_job {
    tf_tool_call_t *call;
    char path[4096], contains[256];
    long lines;
    char *text; /* result, or NULL with err */
    char err[256];
} logs_job_t;

#define LOG_TAIL_BYTES (1u << 20)

static void logs_run(void *arg)
{
    logs_job_t *j = arg;
    FILE *f = fopen(j->path, "rb");
    if (f == NULL) {
        snprintf(j->err, sizeof(j->err), "cannot open the log file: %m");
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f), from = size > (long)LOG_TAIL_BYTES ? size - (long)LOG_TAIL_BYTES : 0;
    fseek(f, from, SEEK_SET);
    char *buf = malloc((size_t)(size - from) + 1);
    size_t n = fread(buf, 1, (size_t)(size - from), f);
    fclose(f);
    buf[n] = '\0';
    /* The matching lines' starts; the last `lines` of them are the answer. */
    size_t cap = 1024, count = 0;
    size_t *at = malloc(cap * sizeof(*at)), *len = malloc(cap * sizeof(*len));
    size_t i = 0;
    if (from > 0) { /* the first line was cut in the middle: skip it */
        const char *nl0 = memchr(buf, '\n', n);
        i = nl0 ? (size_t)(nl0 - buf) + 1 : n;
    }
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
        if (j->contains[0] == '\0' || memmem(buf + i, l, j->contains, strlen(j->contains)) != NULL) {
            if (count == cap) {
                cap *= 2;
                at = realloc(at, cap * sizeof(*at));
                len = realloc(len, cap * sizeof(*len));
            }
            at[count] = i;
            len[count++] = l;
        }
        i += l;
    }
    size_t first = count > (size_t)j->lines ? count - (size_t)j->lines : 0, o = 0;
    char *out = malloc(n + 1);
    for (size_t k = first; k < count; k++) {
        memcpy(out + o, buf + at[k], len[k]);
        o += len[k];
    }
    out[o] = '\0';
    free(at);
    free(len);
    free(buf);
    buf = out;
    j->text = buf;
}

static void logs_done(void *arg, int cancelled)
{
    logs_job_t *j = arg;
    if (!cancelled) {
        j->call->r->job = NULL;
        if (j->text != NULL)
            tf_tool_text(j->call, "%s", j->text);
        else
            tf_tool_fail(j->call, "%s", j->err);
    }
    free(j->text);
    free(j);
}

int tf_tool_admin_logs(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    const char *file = call->r->conf->log_file;
    if (file == NULL || file[0] == '\0') {
        tf_tool_fail(call, "this node logs to stderr (log.file is empty): there is no file to read");
        return 0;
    }
    logs_job_t *j = calloc(1, sizeof(*j));
    j->call = call;
    j->lines = tf_tool_arg_int(call, "lines", 100);
    snprintf(j->path, sizeof(j->path), "%s", file);
    snprintf(j->contains, sizeof(j->contains), "%s", tf_tool_arg_str(call, "contains", ""));
    call->r->job = tf_work_submit(&call->r->thr->work, logs_run, logs_done, j);
    if (call->r->job == NULL) {
        free(j);
        tf_tool_fail(call, "no worker available; try again");
    }
    return 0;
}

/* admin_node: This node (admin). Nothing secret: no URLs with passwords, no keys. */
int tf_tool_admin_node(tf_tool_call_t *call)
{
    if (!admin_only(call))
        return 0;
    const tf_conf_t *c = call->r->conf;
    json_t *listen = json_array();
    for (unsigned i = 0; i < c->listen_count; i++)
        json_array_append_new(listen, json_pack("{s:s, s:i, s:b}", "address", c->listen[i].address, "port", (int)c->listen[i].port, "tls",
                                                c->listen[i].tls));
    tf_tool_result(call, json_pack("{s:s, s:i, s:o, s:i, s:s, s:I, s:s, s:b}", "node", c->node_name, "threads", (int)c->threads, "listen",
                                   listen, "db_connections_per_thread", (int)c->db_connections_per_thread, "conf_file", c->path,
                                   "conf_generation", (json_int_t)c->generation, "log_file", c->log_file, "database_up",
                                   tf_db_is_up(call->r->thr->db)));
    return 0;
}
