/*
 * tf_api.h - helpers shared by the route handlers in runtime/api/.
 */
#ifndef TF_API_H
#define TF_API_H

#include <jansson.h>

#include <libpq-fe.h>

#include "tf_http.h"
#include "tf_spec.h"

/* A tier as the API shows it (GET /v1/tiers, GET /v1/client/tier). */
json_t *tf_tier_to_json(const tf_tier_t *t);

/*
 * For query callbacks: 1 when res holds rows. Otherwise answers - 503 when
 * the database was lost, 500 (and an error log line) for an SQL error,
 * which is a bug here rather than the client's fault - and returns 0.
 * Clears r->dbq either way.
 */
int tf_api_rows(tf_req_t *r, PGresult *res, const char *err);

/* Copies an email lower-cased (emails compare case-insensitively). */
void tf_api_lower_email(char *dst, size_t cap, const char *src);

/* A query whose callback does nothing (writes whose outcome no one waits for). */
void tf_api_db_ignore(void *ud, PGresult *res, const char *err);

/*
 * Records an admin action that touches no row of its own (a reload, a
 * provider reset) in audit_log, as r's user; written on the side (a failure
 * is logged, the action stands). Actions that change rows write their
 * audit entry in the same statement instead.
 */
void tf_api_audit(tf_req_t *r, const char *action, const char *target);

/*
 * Reloads conf/ for r's admin, exactly as SIGHUP does (POST
 * /v1/admin/reload, the admin_reload tool). When the outcome is known it is
 * written to audit_log (action "reload", details {"outcome":"ok",
 * "message":...} or {"outcome":"error","error":...}), then done(ud, ok, msg)
 * runs on this thread, unless tf_api_reload_forget was called first (the
 * request ended; the audit row is written regardless).
 */
typedef struct tf_api_reload tf_api_reload_t;
tf_api_reload_t *tf_api_reload(tf_req_t *r, void (*done)(void *ud, int ok, const char *msg), void *ud);
void tf_api_reload_forget(tf_api_reload_t *rl);

/* Runs a query for r, answering 503 at once if it cannot be queued; 0 or -1. */
int tf_api_query(tf_req_t *r, const char *sql, int n, const char *const *params,
                 void (*cb)(void *ud, PGresult *res, const char *err));

/*
 * Creates a session (refresh token) for the user and answers 200 with the
 * login shape of PRODUCT.md: {user_id, token, refresh_token, tier, client_id, ...}.
 */
void tf_api_issue_tokens(tf_req_t *r, const char *user_id, const char *email, const char *tier, int is_admin);

/* Query callback: answers with the JSON text in row 0, column 0 (404 when
 * no row; 201 when r->hctx == r, i.e. something was created). */
void tf_api_on_json_row(void *ud, PGresult *res, const char *err);

/* 1 when s looks like a uuid (so a bad path parameter is a 404, not an SQL error). */
int tf_api_is_uuid(const char *s);

#endif
