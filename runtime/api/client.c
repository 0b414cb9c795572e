/*
 * The caller's own account: GET /v1/client/tier, GET /v1/client/tokens/usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_api.h"
#include "tf_tiers.h"

int tf_api_client_tier(tf_req_t *r)
{
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    json_t *j = tf_tier_to_json(t);
    size_t nmodels = 0;
    int all = 0;
    for (const char *const *m = t->models; *m != NULL; m++, nmodels++)
        all |= strcmp(*m, "*") == 0;
    json_object_set_new(j, "model_count", all ? json_string("all") : json_integer((json_int_t)nmodels));
    json_object_set_new(j, "user_id", json_string(r->who.user_id));
    tf_respond_json(r, 200, j);
    return 0;
}

static void on_usage(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    if (!tf_api_rows(r, res, err))
        return;
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    long long used = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    json_t *models = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    json_t *j = json_pack("{s:s, s:s, s:I, s:o, s:o, s:b, s:o}", "tier", t->id, "day", PQgetvalue(res, 0, 0), "used", (json_int_t)used,
                          "limit", t->daily_tokens < 0 ? json_null() : json_integer(t->daily_tokens), "remaining",
                          t->daily_tokens < 0 ? json_null() : json_integer(used >= t->daily_tokens ? 0 : t->daily_tokens - used),
                          "ollama_unlimited", t->ollama_unlimited, "models", models != NULL ? models : json_array());
    tf_respond_json(r, 200, j);
}

int tf_api_tokens_usage(tf_req_t *r)
{
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    const char *p[2] = {r->who.user_id, t->ollama_unlimited ? "true" : "false"};
    /* Days are UTC. With "Ollama unlimited", ollama/ models are listed but not counted. */
    tf_api_query(r,
                 "SELECT (now() AT TIME ZONE 'UTC')::date::text, "
                 "coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE NOT ($2::boolean AND model LIKE 'ollama/%')), 0), "
                 "coalesce(json_agg(json_build_object('model', model, 'prompt_tokens', prompt_tokens, 'completion_tokens', "
                 "completion_tokens, 'requests', requests) ORDER BY model), '[]')::text "
                 "FROM usage_daily WHERE subject = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
                 2, p, on_usage);
    return 0;
}
