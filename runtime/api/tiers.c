/*
 * GET /v1/tiers - every tier with prices, limits and features, straight
 * from spec/tiers.yaml (the generated table). Public.
 */
#include "tf_http.h"
#include "tf_api.h"
#include "tf_tiers.h"

static json_t *string_list(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *limit(long long v)
{
    return v < 0 ? json_null() : json_integer(v);
}

json_t *tf_tier_to_json(const tf_tier_t *t)
{
    return json_pack("{s:s, s:s, s:o, s:f, s:o, s:o, s:o, s:b, s:o, s:b, s:b, s:o, s:o}", "tier", t->id, "name", t->name,
                     "aliases", string_list(t->aliases), "price_monthly", t->price_monthly, "price_yearly",
                     t->price_yearly < 0 ? json_null() : json_real(t->price_yearly), "daily_token_limit", limit(t->daily_tokens),
                     "requests_per_hour", limit(t->requests_per_hour), "ollama_unlimited", t->ollama_unlimited, "mcp_access",
                     t->mcp_access ? json_true() : json_false(), "priority", t->priority, "unlimited", t->daily_tokens < 0,
                     "models", string_list(t->models), "features", string_list(t->features));
}

/* The answer depends on the conf snapshot only: rendered once per snapshot, served as bytes. */
static void render_tiers(void *ud, int unused, json_t **body)
{
    json_t *a = json_array();
    for (size_t i = 0; i < tf_tiers_count; i++)
        json_array_append_new(a, tf_tier_to_json(tf_conf_tier(ud, (int)i)));
    *body = a;
}

int tf_api_tiers_list(tf_req_t *r)
{
    tf_respond_rendered(r, tf_tiers_count, render_tiers, r->conf, 0);
    return 0;
}
