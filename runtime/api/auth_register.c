/*
 * POST /v1/auth/register, POST /v1/client/register
 *
 * Creates a user in the registered tier. The body was validated against
 * spec/schemas/register_request.yaml before we get here. The password is
 * hashed with argon2id (libsodium) on a worker thread, because a slow hash
 * is slow on purpose and must not stall an event loop; the insert then runs
 * through the loop's asynchronous database pool.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tf_api.h"
#include "tf_db.h"
#include "tf_http.h"
#include "tf_server.h"
#include "tf_work.h"

typedef struct reg_job {
    tf_req_t *r;
    char email[256];
    char *password; /* wiped after hashing */
    char hash[crypto_pwhash_STRBYTES];
    int hash_ok;
} reg_job_t;

static void hash_password(void *arg)
{
    reg_job_t *j = arg;
    j->hash_ok = crypto_pwhash_str(j->hash, j->password, strlen(j->password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                   crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
    sodium_memzero(j->password, strlen(j->password));
}

static void on_inserted(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    if (!tf_api_rows(r, res, err))
        return;
    if (PQntuples(res) == 0) {
        tf_respond_error(r, 409, "email_taken", "/email", "a user with this email already exists");
        return;
    }
    tf_respond_json(r, 201,
                    json_pack("{s:s, s:s, s:s, s:s}", "user_id", PQgetvalue(res, 0, 0), "email", PQgetvalue(res, 0, 1), "tier",
                              PQgetvalue(res, 0, 2), "created_at", PQgetvalue(res, 0, 3)));
}

static void on_hashed(void *arg, int cancelled)
{
    reg_job_t *j = arg;
    tf_req_t *r = j->r;
    if (!cancelled) {
        r->job = NULL;
        if (!j->hash_ok) {
            tf_respond_error(r, 500, "internal_error", NULL, "could not hash the password (request %s)", r->id);
        } else {
            json_t *dn = json_object_get(r->body, "display_name");
            const char *params[3] = {j->email, j->hash, dn != NULL ? json_string_value(dn) : NULL};
            tf_api_query(r,
                         "INSERT INTO users (email, password_hash, display_name, tier) VALUES ($1, $2, $3, 'registered') "
                         "ON CONFLICT DO NOTHING RETURNING id::text, email, tier, "
                         "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                         3, params, on_inserted);
        }
    }
    sodium_memzero(j->hash, sizeof(j->hash));
    free(j->password);
    free(j);
}

int tf_api_auth_register(tf_req_t *r)
{
    const char *email = json_string_value(json_object_get(r->body, "email"));
    const char *password = json_string_value(json_object_get(r->body, "password"));
    reg_job_t *j = calloc(1, sizeof(*j));
    j->r = r;
    tf_api_lower_email(j->email, sizeof(j->email), email);
    j->password = strdup(password);
    r->job = tf_work_submit(&r->thr->work, hash_password, on_hashed, j);
    return 0;
}
