/*
 * Login, refresh and logout.
 *
 * POST /v1/auth/login, /v1/client/login: email + password -> an access
 *   token (JWT, short-lived) and a refresh token (random, stored hashed).
 *   Failures are counted per account and per address; past the limit the
 *   answer is 429 until the window passes. The password check (argon2id)
 *   runs on a worker thread; an unknown email costs the same as a known one.
 * POST /v1/auth/refresh: a refresh token is spent and replaced (rotation);
 *   presenting a spent one again revokes every session of that user.
 * POST /v1/auth/logout: revokes the given refresh token (or all, with
 *   "everywhere") and every access token issued before now.
 */
#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_api.h"
#include "tf_auth.h"
#include "tf_crypto.h"
#include "tf_db.h"
#include "tf_jwt.h"
#include "tf_server.h"
#include "tf_tiers.h"
#include "tf_work.h"

/* --- issuing tokens ------------------------------------------------------- */

typedef struct issue {
    char user_id[40], email[256], tier[32], refresh[72];
    int is_admin;
} issue_t;

static void on_session(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    issue_t *is = r->hctx;
    if (!tf_api_rows(r, res, err))
        return;
    int t = tf_tier_find(is->tier);
    const char *tier = t >= 0 ? tf_tiers[t].id : "registered";
    char *jwt = tf_jwt_sign(r->conf->jwt, is->user_id, tier, is->is_admin, (long)r->conf->access_ttl_seconds, (long long)time(NULL));
    if (jwt == NULL) {
        tf_respond_error(r, 500, "internal_error", NULL, "could not sign a token (request %s)", r->id);
        return;
    }
    char client_id[64];
    snprintf(client_id, sizeof(client_id), "client-%s", is->user_id);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b}", "user_id", is->user_id, "email", is->email,
                             "token", jwt, "access_token", jwt, "refresh_token", is->refresh, "token_type", "Bearer", "expires_in",
                             (json_int_t)r->conf->access_ttl_seconds, "refresh_expires_in", (json_int_t)r->conf->refresh_ttl_seconds,
                             "tier", tier, "client_id", client_id, "is_admin", is->is_admin);
    free(jwt);
    tf_respond_json(r, 200, body);
}

void tf_api_issue_tokens(tf_req_t *r, const char *user_id, const char *email, const char *tier, int is_admin)
{
    if (r->conf->jwt == NULL) {
        tf_respond_error(r, 503, "auth_not_configured", NULL, "token authentication is not configured on this server");
        return;
    }
    issue_t *is = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*is));
    snprintf(is->user_id, sizeof(is->user_id), "%s", user_id);
    snprintf(is->email, sizeof(is->email), "%s", email);
    snprintf(is->tier, sizeof(is->tier), "%s", tier);
    is->is_admin = is_admin;
    memcpy(is->refresh, "tfr_", 4);
    tf_crypto_random_hex(is->refresh + 4, 32);
    r->hctx = is;
    char hash[67], ttl[24];
    tf_crypto_sha256_bytea(is->refresh, strlen(is->refresh), hash);
    snprintf(ttl, sizeof(ttl), "%u", r->conf->refresh_ttl_seconds);
    const char *p[3] = {user_id, hash, ttl};
    tf_api_query(r,
                 "INSERT INTO sessions (user_id, token_hash, expires_at) "
                 "VALUES ($1::uuid, $2::bytea, now() + make_interval(secs => $3::int)) RETURNING id::text",
                 3, p, on_session);
}

/* --- login ---------------------------------------------------------------- */

typedef struct login {
    tf_req_t *r;
    char email[256];
    char keys[2][300]; /* "user:<email>", "addr:<ip>" */
    char *password;
    char *hash;        /* from the database, or NULL for an unknown email */
    char user_id[40], tier[32];
    int is_admin, disabled, ok;
} login_t;

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy(void)
{
    char pw[33];
    tf_crypto_random_hex(pw, 16);
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = '\0';
}

static void verify_password(void *arg)
{
    login_t *l = arg;
    pthread_once(&dummy_once, make_dummy);
    /* An unknown email is checked against a dummy hash so both take as long. */
    const char *h = l->hash != NULL ? l->hash : dummy_hash;
    int match = h[0] != '\0' && crypto_pwhash_str_verify(h, l->password, strlen(l->password)) == 0;
    l->ok = match && l->hash != NULL;
    sodium_memzero(l->password, strlen(l->password));
}

static void login_free(login_t *l)
{
    free(l->password);
    free(l->hash);
    free(l);
}

static void on_failure_counted(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    r->dbq = NULL;
    tf_add_header(r, "www-authenticate", "Bearer realm=\"triforce\"");
    tf_respond_error(r, 401, "invalid_credentials", NULL, "invalid email or password");
}

static void on_verified(void *arg, int cancelled)
{
    login_t *l = arg;
    tf_req_t *r = l->r;
    if (cancelled) {
        login_free(l);
        return;
    }
    r->job = NULL;
    char window[24];
    snprintf(window, sizeof(window), "%u", r->conf->login_window_seconds);
    if (!l->ok) {
        const char *p[3] = {l->keys[0], l->keys[1], window};
        tf_api_query(r,
                     "INSERT INTO login_failures AS f (key, failures, window_start) VALUES ($1, 1, now()), ($2, 1, now()) "
                     "ON CONFLICT (key) DO UPDATE SET "
                     "failures = CASE WHEN f.window_start < now() - make_interval(secs => $3::int) THEN 1 ELSE f.failures + 1 END, "
                     "window_start = CASE WHEN f.window_start < now() - make_interval(secs => $3::int) THEN now() ELSE f.window_start END",
                     3, p, on_failure_counted);
    } else if (l->disabled) {
        tf_respond_error(r, 403, "account_disabled", NULL, "this account is disabled");
    } else {
        const char *p[1] = {l->keys[0]};
        tf_db_query(r->thr->db, "DELETE FROM login_failures WHERE key = $1", 1, p, tf_api_db_ignore, NULL);
        tf_api_issue_tokens(r, l->user_id, l->email, l->tier, l->is_admin);
    }
    login_free(l);
}

static void on_login_row(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    login_t *l = r->hctx;
    if (!tf_api_rows(r, res, err) || PQntuples(res) != 1) {
        login_free(l);
        r->hctx = NULL;
        if (r->status == 0)
            tf_respond_error(r, 500, "internal_error", NULL, "login lookup returned no row (request %s)", r->id);
        return;
    }
    if (atoi(PQgetvalue(res, 0, 0)) >= (int)r->conf->login_max_failures) {
        login_free(l);
        r->hctx = NULL;
        char ra[24];
        snprintf(ra, sizeof(ra), "%u", r->conf->login_window_seconds);
        tf_add_header(r, "retry-after", ra);
        tf_respond_error(r, 429, "too_many_login_failures", NULL, "too many failed logins for this account or address; retry later");
        return;
    }
    if (!PQgetisnull(res, 0, 1)) {
        snprintf(l->user_id, sizeof(l->user_id), "%s", PQgetvalue(res, 0, 1));
        snprintf(l->email, sizeof(l->email), "%s", PQgetvalue(res, 0, 2));
        snprintf(l->tier, sizeof(l->tier), "%s", PQgetvalue(res, 0, 3));
        l->is_admin = PQgetvalue(res, 0, 4)[0] == 't';
        l->disabled = PQgetvalue(res, 0, 5)[0] == 't';
        l->hash = strdup(PQgetvalue(res, 0, 6));
        for (unsigned i = 0; i < r->conf->admins_count; i++)
            l->is_admin |= strcasecmp(r->conf->admins[i], l->email) == 0;
    }
    r->hctx = NULL; /* the job owns it now */
    r->on_dispose = NULL;
    r->job = tf_work_submit(&r->thr->work, verify_password, on_verified, l);
}

/* The client left while the row was being fetched: the login state is ours. */
static void login_dispose(tf_req_t *r)
{
    if (r->hctx != NULL)
        login_free(r->hctx);
    r->hctx = NULL;
}

int tf_api_auth_login(tf_req_t *r)
{
    const char *email = json_string_value(json_object_get(r->body, "email"));
    const char *password = json_string_value(json_object_get(r->body, "password"));
    login_t *l = calloc(1, sizeof(*l));
    l->r = r;
    tf_api_lower_email(l->email, sizeof(l->email), email);
    snprintf(l->keys[0], sizeof(l->keys[0]), "user:%s", l->email);
    snprintf(l->keys[1], sizeof(l->keys[1]), "addr:%s", tf_req_limit_key(r));
    l->password = strdup(password);
    r->hctx = l;
    r->on_dispose = login_dispose;
    char window[24];
    snprintf(window, sizeof(window), "%u", r->conf->login_window_seconds);
    const char *p[4] = {l->keys[0], l->keys[1], window, l->email};
    if (tf_api_query(r,
                     "SELECT (SELECT coalesce(max(failures), 0) FROM login_failures WHERE key IN ($1, $2) "
                     "AND window_start > now() - make_interval(secs => $3::int)), "
                     "u.id::text, u.email, u.tier, u.is_admin, u.disabled, u.password_hash "
                     "FROM (SELECT 1) one LEFT JOIN users u ON lower(u.email) = $4",
                     4, p, on_login_row) != 0)
        login_dispose(r);
    return 0;
}

/* --- refresh -------------------------------------------------------------- */

static void on_refreshed(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    if (!tf_api_rows(r, res, err))
        return;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        tf_respond_error(r, 401, "invalid_refresh_token", "/refresh_token", "the refresh token is not valid (expired, revoked or spent)");
        return;
    }
    if (PQgetvalue(res, 0, 5)[0] == 't') {
        tf_respond_error(r, 403, "account_disabled", NULL, "this account is disabled");
        return;
    }
    tf_api_issue_tokens(r, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4)[0] == 't');
}

int tf_api_auth_refresh(tf_req_t *r)
{
    const char *tok = json_string_value(json_object_get(r->body, "refresh_token"));
    char hash[67];
    tf_crypto_sha256_bytea(tok, strlen(tok), hash);
    char *h = h2o_strdup(&r->h2o->pool, hash, strlen(hash)).base;
    const char *p[1] = {h};
    /* Spend the token; if it was already spent, that is a replay: revoke
     * every live session of its user (the token may have been stolen). */
    tf_api_query(r,
                 "WITH old AS (UPDATE sessions SET revoked_at = now() WHERE token_hash = $1::bytea AND revoked_at IS NULL "
                 "AND expires_at > now() RETURNING id, user_id), "
                 "replay AS (UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM old) "
                 "AND user_id = (SELECT user_id FROM sessions WHERE token_hash = $1::bytea AND revoked_at IS NOT NULL)) "
                 "SELECT old.id::text, u.id::text, u.email, u.tier, u.is_admin, u.disabled FROM old JOIN users u ON u.id = old.user_id",
                 1, p, on_refreshed);
    return 0;
}

/* --- logout --------------------------------------------------------------- */

static void on_logged_out(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    if (!tf_api_rows(r, res, err))
        return;
    tf_auth_invalidate_all();
    tf_respond_json(r, 200, json_pack("{s:b, s:i}", "logged_out", 1, "sessions_revoked", atoi(PQgetvalue(res, 0, 0))));
}

int tf_api_auth_logout(tf_req_t *r)
{
    const char *tok = json_string_value(json_object_get(r->body, "refresh_token"));
    int everywhere = json_is_true(json_object_get(r->body, "everywhere"));
    char hash[67] = "";
    if (tok != NULL)
        tf_crypto_sha256_bytea(tok, strlen(tok), hash);
    const char *p[3] = {r->who.user_id, tok != NULL ? h2o_strdup(&r->h2o->pool, hash, strlen(hash)).base : NULL,
                        everywhere ? "true" : "false"};
    /* Access tokens carry whole seconds (iat): "issued before" means before
     * this second, so a login right after a logout is not caught by it. */
    tf_api_query(r,
                 "WITH s AS (UPDATE sessions SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL "
                 "AND ($3::boolean OR token_hash = $2::bytea) RETURNING 1), "
                 "u AS (UPDATE users SET tokens_valid_after = date_trunc('second', now()) WHERE id = $1::uuid RETURNING 1) "
                 "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM u)",
                 3, p, on_logged_out);
    return 0;
}
