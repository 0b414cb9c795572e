/*
 * tools/account.c - the MCP tools of spec/tools/account.yaml: the caller's
 * API keys (the same rules as /v1/client/keys) and usage history.
 */
#include <stdio.h>
#include <string.h>

#include "tf_crypto.h"
#include "tf_db.h"
#include "tf_server.h"
#include "tf_tool.h"

#define KEY_JSON                                                                                                                    \
    "json_build_object('id', k.id, 'name', k.name, 'prefix', k.prefix, 'created_at', k.created_at, 'last_used_at', "              \
    "k.last_used_at, 'revoked_at', k.revoked_at)"

/* One row, one text column of JSON: the result. */
static void on_json(void *ud, PGresult *res, const char *err)
{
    tf_tool_call_t *call = ud;
    call->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_tool_fail(call, "the database could not answer (%s)", err ? err : PQresultErrorMessage(res));
        return;
    }
    if (PQntuples(res) == 0) {
        tf_tool_fail(call, "no such key");
        return;
    }
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (j == NULL)
        tf_tool_fail(call, "unreadable answer from the database");
    else
        tf_tool_result(call, j);
}

static int query(tf_tool_call_t *call, const char *sql, int n, const char *const *p)
{
    call->r->dbq = tf_db_query(call->r->thr->db, sql, n, p, on_json, call);
    if (call->r->dbq == NULL)
        tf_tool_fail(call, "the database is unavailable; try again shortly");
    return 0;
}

/* keys_list: My API keys */
int tf_tool_keys_list(tf_tool_call_t *call)
{
    const char *p[1] = {call->r->who.user_id};
    return query(call,
                 "SELECT json_build_object('keys', coalesce(json_agg(" KEY_JSON " ORDER BY k.created_at DESC), '[]'))::text "
                 "FROM api_keys k WHERE k.user_id = $1::uuid",
                 1, p);
}

/* key_create: Create an API key ("tf_" + 256 random bits; SHA-256 stored) */
int tf_tool_key_create(tf_tool_call_t *call)
{
    char key[72], hash[67], prefix[16];
    memcpy(key, "tf_", 3);
    tf_crypto_random_hex(key + 3, 32);
    snprintf(prefix, sizeof(prefix), "%.12s", key);
    tf_crypto_sha256_bytea(key, strlen(key), hash);
    const char *p[5] = {call->r->who.user_id, tf_tool_arg_str(call, "name", ""), prefix, hash, key};
    query(call,
          "WITH k AS (INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES ($1::uuid, $2, $3, $4::bytea) RETURNING *) "
          "SELECT (" KEY_JSON "::jsonb || jsonb_build_object('key', $5::text))::text FROM k",
          5, p);
    explicit_bzero(key, sizeof(key));
    return 0;
}

/* key_revoke: Revoke an API key (only the caller's own) */
int tf_tool_key_revoke(tf_tool_call_t *call)
{
    const char *p[2] = {tf_tool_arg_str(call, "id", ""), call->r->who.user_id};
    return query(call,
                 "UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now()) WHERE k.id = $1::uuid AND k.user_id = $2::uuid "
                 "RETURNING " KEY_JSON "::text",
                 2, p);
}

/* usage_history: Usage history */
int tf_tool_usage_history(tf_tool_call_t *call)
{
    char days[24];
    snprintf(days, sizeof(days), "%lld", tf_tool_arg_int(call, "days", 7));
    const char *p[2] = {call->r->who.user_id, days};
    return query(call,
                 "SELECT json_build_object('days', coalesce(json_agg(json_build_object('day', day, 'model', model, 'prompt_tokens', "
                 "prompt_tokens, 'completion_tokens', completion_tokens, 'requests', requests) ORDER BY day DESC, model), '[]'))::text "
                 "FROM usage_daily WHERE subject = $1 AND day > (now() AT TIME ZONE 'UTC')::date - $2::int",
                 2, p);
}
