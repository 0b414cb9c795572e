/*
 * Small helpers shared by the handlers (tf_api.h).
 */
#include <ctype.h>
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

void tf_api_audit(tf_req_t *r, const char *action, const char *target)
{
    const char *p[4] = {r->who.user_id[0] ? r->who.user_id : NULL, r->who.subject, action, target};
    char *a = strdup(action);
    if (tf_db_query(r->thr->db,
                    "INSERT INTO audit_log (actor_id, actor, action, target) VALUES ($1::uuid, $2, $3, $4)", 4, p, on_audited, a) == NULL) {
        tf_log(TF_LOG_ERROR, "audit", r->id, "audit log entry for %s not written: database unavailable", action);
        free(a);
    }
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
