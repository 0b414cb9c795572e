/*
 * API keys: GET/POST /v1/client/keys, DELETE /v1/client/keys/{id}, and
 * the admin forms POST /v1/admin/users/{id}/keys, DELETE /v1/admin/keys/{id}.
 *
 * A key is "tf_" + 64 hex digits of randomness, shown once at creation;
 * the database keeps its SHA-256 and a 12-character prefix to recognise it.
 */
#include <stdio.h>
#include <string.h>

#include "tf_api.h"
#include "tf_auth.h"
#include "tf_crypto.h"
#include "tf_log.h"

#define KEY_JSON                                                                                                                    \
    "json_build_object('id', k.id, 'name', k.name, 'prefix', k.prefix, 'created_at', k.created_at, 'last_used_at', "              \
    "k.last_used_at, 'revoked_at', k.revoked_at)"

/* Answers with the first column of the first row, which is JSON text. */
static void on_json(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    if (!tf_api_rows(r, res, err))
        return;
    if (PQntuples(res) == 0) {
        tf_respond_error(r, 404, "not_found", NULL, "no such key or user");
        return;
    }
    const char *v = PQgetvalue(res, 0, 0);
    size_t n = strlen(v);
    char *b = h2o_mem_alloc_pool(&r->h2o->pool, n + 1);
    memcpy(b, v, n);
    b[n] = '\n';
    tf_respond_raw(r, r->hctx != NULL ? 201 : 200, "application/json", h2o_iovec_init(b, n + 1));
}

int tf_api_keys_list(tf_req_t *r)
{
    const char *p[1] = {r->who.user_id};
    tf_api_query(r, "SELECT coalesce(json_agg(" KEY_JSON " ORDER BY k.created_at DESC), '[]') FROM api_keys k WHERE k.user_id = $1::uuid", 1,
                 p, on_json);
    return 0;
}

/* Creates a key for user_id; `actor` set means an admin did it (audit log). */
static void create_key(tf_req_t *r, const char *user_id, const char *actor)
{
    char key[72], hash[67], prefix[16];
    memcpy(key, "tf_", 3);
    tf_crypto_random_hex(key + 3, 32);
    snprintf(prefix, sizeof(prefix), "%.12s", key);
    tf_crypto_sha256_bytea(key, strlen(key), hash);
    const char *name = json_string_value(json_object_get(r->body, "name"));
    r->hctx = r; /* marks "created": on_json answers 201 */
    char *k = h2o_strdup(&r->h2o->pool, key, strlen(key)).base;
    const char *p[7] = {user_id, name != NULL ? name : "", prefix, h2o_strdup(&r->h2o->pool, hash, strlen(hash)).base, k,
                        actor, r->who.user_id};
    /* The key itself goes back in the answer only (never stored, never logged). */
    tf_api_query(r,
                 "WITH k AS (INSERT INTO api_keys (user_id, name, prefix, key_hash) SELECT id, $2, $3, $4::bytea FROM users "
                 "WHERE id = $1::uuid RETURNING *), "
                 "a AS (INSERT INTO audit_log (actor_id, actor, action, target, details) SELECT $7::uuid, $6::text, 'create_key', "
                 "k.user_id::text, json_build_object('key_id', k.id, 'prefix', k.prefix) FROM k WHERE $6::text IS NOT NULL) "
                 "SELECT (" KEY_JSON "::jsonb || jsonb_build_object('key', $5::text, 'user_id', k.user_id))::text FROM k",
                 7, p, on_json);
}

int tf_api_keys_create(tf_req_t *r)
{
    create_key(r, r->who.user_id, NULL);
    return 0;
}

int tf_api_admin_keys_create(tf_req_t *r)
{
    const char *id = tf_req_param(r, "id");
    if (!tf_api_is_uuid(id)) {
        tf_respond_error(r, 404, "not_found", NULL, "no such user");
        return 0;
    }
    create_key(r, id, r->who.subject);
    return 0;
}

/* A revoked key must be refused on the next request: this node's threads
 * forget cached keys now; other nodes hear it through the trigger's NOTIFY
 * (migration 0005), which reaches this node too but a little later. */
static void on_revoked(void *ud, PGresult *res, const char *err)
{
    if (err == NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        tf_auth_invalidate_all();
    on_json(ud, res, err);
}

int tf_api_keys_revoke(tf_req_t *r)
{
    const char *id = tf_req_param(r, "id");
    if (!tf_api_is_uuid(id)) {
        tf_respond_error(r, 404, "not_found", NULL, "no such key");
        return 0;
    }
    const char *p[2] = {id, r->who.user_id};
    tf_api_query(r,
                 "UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now()) WHERE k.id = $1::uuid AND k.user_id = $2::uuid "
                 "RETURNING " KEY_JSON "::text",
                 2, p, on_revoked);
    return 0;
}

int tf_api_admin_keys_revoke(tf_req_t *r)
{
    const char *id = tf_req_param(r, "id");
    if (!tf_api_is_uuid(id)) {
        tf_respond_error(r, 404, "not_found", NULL, "no such key");
        return 0;
    }
    const char *p[3] = {id, r->who.subject, r->who.user_id};
    tf_api_query(r,
                 "WITH k AS (UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now()) WHERE k.id = $1::uuid RETURNING *), "
                 "a AS (INSERT INTO audit_log (actor_id, actor, action, target, details) SELECT $3::uuid, $2, 'revoke_key', "
                 "k.user_id::text, json_build_object('key_id', k.id) FROM k) "
                 "SELECT " KEY_JSON "::text FROM k",
                 3, p, on_revoked);
    return 0;
}

/* Shared with admin.c: the same answer-with-JSON-text callback. */
void tf_api_on_json_row(void *ud, PGresult *res, const char *err)
{
    on_json(ud, res, err);
}
