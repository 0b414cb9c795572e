/*
 * Small helpers shared by the handlers (tf_api.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_api.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_server.h"

void tf_api_db_ignore(void *ud, PGresult *res, const char *err)
{
}

static void on_audited(void *ud, PGresult *res, const char *err)
{
    char *action = ud;
    if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        tf_log(TF_LOG_ERROR, "audit", NULL, "audit log entry for %s not written: %s", action, err != NULL ? err : PQresultErrorMessage(res));
    free(action);
}

/* One audit_log row, written on the side. Takes the actor as values, not a
 * request: an outcome may be known only after the request ended. */
static void audit_write(tf_db_pool_t *db, const char *req_id, const char *actor_id, const char *actor, const char *action,
                        const char *target, const char *details)
{
    const char *p[5] = {actor_id[0] ? actor_id : NULL, actor, action, target, details};
    char *a = strdup(action);
    if (tf_db_query(db, "INSERT INTO audit_log (actor_id, actor, action, target, details) "
                        "VALUES ($1::uuid, $2, $3, $4, coalesce($5::jsonb, '{}'))",
                    5, p, on_audited, a) == NULL) {
        tf_log(TF_LOG_ERROR, "audit", req_id, "audit log entry for %s not written: database unavailable", action);
        free(a);
    }
}

void tf_api_audit(tf_req_t *r, const char *action, const char *target)
{
    audit_write(r->thr->db, r->id, r->who.user_id, r->who.subject, action, target, NULL);
}

/* A reload asked for by an admin (route or tool). It finishes on the main
 * thread and comes back to this one, maybe after the request ended: what
 * the audit row needs is copied here. */
struct tf_api_reload {
    void (*done)(void *ud, int ok, const char *msg); /* NULL once forgotten */
    void *ud;
    tf_db_pool_t *db; /* this thread's, where the outcome arrives */
    char req_id[32], actor_id[40], actor[256];
};

static void on_reload_done(void *ud, int ok, const char *msg)
{
    tf_api_reload_t *rl = ud;
    /* The row says what happened, not what was asked: a refused conf is
     * an event an operator looks for too. */
    json_t *d = json_pack("{s:s, s:s}", "outcome", ok ? "ok" : "error", ok ? "message" : "error", msg);
    char *details = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    audit_write(rl->db, rl->req_id, rl->actor_id, rl->actor, "reload", NULL, details);
    free(details);
    if (rl->done != NULL)
        rl->done(rl->ud, ok, msg);
    free(rl);
}

tf_api_reload_t *tf_api_reload(tf_req_t *r, void (*done)(void *ud, int ok, const char *msg), void *ud)
{
    tf_api_reload_t *rl = calloc(1, sizeof(*rl));
    rl->done = done;
    rl->ud = ud;
    rl->db = r->thr->db;
    snprintf(rl->req_id, sizeof(rl->req_id), "%s", r->id);
    snprintf(rl->actor_id, sizeof(rl->actor_id), "%s", r->who.user_id);
    snprintf(rl->actor, sizeof(rl->actor), "%s", r->who.subject);
    tf_server_request_reload(on_reload_done, rl);
    return rl;
}

void tf_api_reload_forget(tf_api_reload_t *rl)
{
    rl->done = NULL;
}

int tf_api_query(tf_req_t *r, const char *sql, int n, const char *const *params, void (*cb)(void *ud, PGresult *res, const char *err))
{
    r->dbq = tf_db_query(r->thr->db, sql, n, params, cb, r);
    if (r->dbq == NULL) {
        tf_respond_db_unavailable(r);
        return -1;
    }
    return 0;
}

int tf_api_rows(tf_req_t *r, PGresult *res, const char *err)
{
    r->dbq = NULL;
    if (err != NULL) {
        tf_respond_db_unavailable(r);
        return 0;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_log(TF_LOG_ERROR, "error", r->id, "query failed: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        tf_respond_error(r, 500, "internal_error", NULL, "database error (request %s)", r->id);
        return 0;
    }
    return 1;
}

void tf_api_lower_email(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] != '\0' && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

int tf_api_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}
