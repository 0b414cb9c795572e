/*
 * tools/system.c - the MCP tools of spec/tools/system.yaml, one tf_tool_<handler> each.
 * tf-codegen appends a stub here for a tool without a handler; the build
 * refuses stubs, so each must become a real handler (README: Adding a tool).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/tf_api.h"
#include "tf_adapt.h"
#include "tf_db.h"
#include "tf_mcp.h"
#include "tf_mesh.h"
#include "tf_providers.h"
#include "tf_server.h"
#include "tf_tiers.h"
#include "tf_tool.h"
#include "tf_toolprof.h"
#include "tf_tools.h"

#ifndef TF_VERSION
#define TF_VERSION "0.1.0"
#endif

/* Is some node of provider k usable now (configured, circuit not open)? */
static int provider_up(const tf_mesh_provider_t *p, uint64_t now)
{
    for (size_t n = 0; n < p->nnodes; n++) {
        tf_health_view_t v;
        tf_health_read(p->nodes[n].health, now, &v);
        if (p->nodes[n].usable && !(v.circuit == TF_CIRCUIT_OPEN && v.retry_in_ms > 0))
            return 1;
    }
    return 0;
}

/* status: Gateway status */
int tf_tool_status(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    const tf_mesh_t *m = r->conf->mesh;
    uint64_t now = tf_now_ns();
    long long providers = 0, models = 0;
    for (size_t k = 0; k < m->nproviders; k++)
        if (provider_up(&m->providers[k], now)) {
            providers++;
            for (size_t i = 0; i < m->providers[k].spec->nmodels; i++)
                models += tf_mesh_tier_allows(tf_conf_tier(r->conf, r->who.tier), m->providers[k].spec->models[i].name);
        }
    tf_tool_result(call, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "node", r->conf->node_name, "version", TF_VERSION, "database",
                                   tf_db_is_up(r->thr->db) ? "up" : "down", "providers_usable", (json_int_t)providers,
                                   "models_available", (json_int_t)models, "conf_generation", (json_int_t)r->conf->generation));
    return 0;
}

/* version: Version */
int tf_tool_version(tf_tool_call_t *call)
{
    tf_tool_result(call, json_pack("{s:s, s:[s,s,s]}", "version", TF_VERSION, "mcp_protocol_versions", "2025-11-25", "2025-06-18",
                                   "2025-03-26"));
    return 0;
}

/* whoami: Who am I */
int tf_tool_whoami(tf_tool_call_t *call)
{
    const tf_identity_t *w = &call->r->who;
    tf_tool_result(call, json_pack("{s:s, s:s, s:s, s:b}", "user_id", w->user_id, "email", w->subject, "tier", tf_tiers[w->tier].id,
                                   "is_admin", w->is_admin));
    return 0;
}

/* tiers: Tiers */
int tf_tool_tiers(tf_tool_call_t *call)
{
    json_t *list = json_array();
    for (size_t i = 0; i < tf_tiers_count; i++)
        json_array_append_new(list, tf_tier_to_json(tf_conf_tier(call->r->conf, (int)i)));
    tf_tool_result(call, json_pack("{s:o}", "tiers", list));
    return 0;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* models: Models */
int tf_tool_models(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    const char *only = tf_tool_arg_str(call, "provider", NULL);
    const char *word = tf_tool_arg_str(call, "search", "");
    const tf_mesh_t *m = r->conf->mesh;
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    uint64_t now = tf_now_ns();
    json_t *list = json_array();
    for (size_t k = 0; k < m->nproviders; k++) {
        const tf_mesh_provider_t *p = &m->providers[k];
        if (only != NULL && strcmp(only, p->spec->id) != 0)
            continue;
        int up = provider_up(p, now);
        for (size_t i = 0; i < p->spec->nmodels; i++) {
            const tf_spec_model_t *md = &p->spec->models[i];
            if (tf_mesh_tier_allows(t, md->name) && contains_ci(md->name, word))
                json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "name", md->name, "family", md->family, "available", up));
        }
    }
    tf_tool_result(call, json_pack("{s:s, s:I, s:o}", "tier", t->id, "count", (json_int_t)json_array_size(list), "models", list));
    return 0;
}

/* usage: Token usage today */
static void on_usage(void *ud, PGresult *res, const char *err)
{
    tf_tool_call_t *call = ud;
    call->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        tf_tool_fail(call, "usage is unavailable right now (database: %s)", err ? err : PQresultErrorMessage(res));
        return;
    }
    const tf_tier_t *t = tf_conf_tier(call->r->conf, call->r->who.tier);
    json_t *models = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    tf_tool_result(call, json_pack("{s:s, s:I, s:I, s:o}", "day", PQgetvalue(res, 0, 0), "used", (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                                   "limit", (json_int_t)t->daily_tokens, "models", models ? models : json_array()));
}

int tf_tool_usage(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    const char *p[2] = {r->who.user_id, t->ollama_unlimited ? "true" : "false"};
    r->dbq = tf_db_query(r->thr->db,
                         "SELECT (now() AT TIME ZONE 'UTC')::date::text, "
                         "coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE NOT ($2::boolean AND model LIKE 'ollama/%')), 0), "
                         "coalesce(json_agg(json_build_object('model', model, 'prompt_tokens', prompt_tokens, 'completion_tokens', "
                         "completion_tokens, 'requests', requests) ORDER BY model), '[]')::text "
                         "FROM usage_daily WHERE subject = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
                         2, p, on_usage, call);
    if (r->dbq == NULL)
        tf_tool_fail(call, "usage is unavailable right now (database down)");
    return 0;
}

/* find_tools: Find tools. Scores: a word in the name 5, in the title 3, in the description 1. */
typedef struct hit {
    size_t tool;
    int score;
} hit_t;

static int by_score(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    return x->score != y->score ? y->score - x->score : strcmp(tf_tools[x->tool].name, tf_tools[y->tool].name);
}

int tf_tool_find_tools(tf_tool_call_t *call)
{
    const char *q = tf_tool_arg_str(call, "query", "");
    const char *cat = tf_tool_arg_str(call, "category", NULL);
    long long limit = tf_tool_arg_int(call, "limit", 20);
    int unknown;
    const tf_conf_profile_t *prof = tf_toolprof_for(call->r, &unknown);
    hit_t *hits = calloc(tf_tools_count + 1, sizeof(*hits));
    size_t n = 0;
    for (size_t i = 0; i < tf_tools_count; i++) {
        const tf_tool_t *t = &tf_tools[i];
        if ((cat != NULL && strcmp(cat, t->category) != 0) || !tf_toolprof_visible(call->r, prof, t))
            continue;
        int score = 0, words = 0;
        for (const char *p = q; *p;) {
            while (*p && !isalnum((unsigned char)*p))
                p++;
            char w[64];
            size_t l = 0;
            while (*p && (isalnum((unsigned char)*p) || *p == '_') && l + 1 < sizeof(w))
                w[l++] = *p++;
            while (*p && (isalnum((unsigned char)*p) || *p == '_'))
                p++;
            w[l] = '\0';
            if (l == 0)
                continue;
            words++;
            score += 5 * contains_ci(t->name, w) + 3 * contains_ci(t->title, w) + contains_ci(t->description, w);
        }
        if (words == 0 || score > 0)
            hits[n++] = (hit_t){i, score};
    }
    qsort(hits, n, sizeof(*hits), by_score);
    json_t *list = json_array();
    for (size_t i = 0; i < n && (long long)i < limit; i++) {
        const tf_tool_t *t = &tf_tools[hits[i].tool];
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}", "name", t->name, "title", t->title, "category", t->category,
                                              "score", hits[i].score));
    }
    free(hits);
    tf_tool_result(call, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list), "tools", list));
    return 0;
}

/* health: Health */
int tf_tool_health(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    int up = tf_db_is_up(r->thr->db);
    tf_tool_result(call, json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", up ? "ok" : "degraded", "database", up ? "up" : "down",
                                   "version", TF_VERSION, "node", r->conf->node_name, "conf_generation", (json_int_t)r->conf->generation));
    return 0;
}

/* limits: My limits (-1: unlimited) */
int tf_tool_limits(tf_tool_call_t *call)
{
    const tf_tier_t *t = tf_conf_tier(call->r->conf, call->r->who.tier);
    tf_tool_result(call, json_pack("{s:s, s:I, s:b, s:I, s:b, s:b}", "tier", t->id, "daily_tokens", (json_int_t)t->daily_tokens,
                                   "ollama_unlimited", t->ollama_unlimited, "requests_per_hour", (json_int_t)t->requests_per_hour,
                                   "mcp_access", t->mcp_access, "priority", t->priority));
    return 0;
}

/* estimate_tokens: Estimate tokens */
int tf_tool_estimate_tokens(tf_tool_call_t *call)
{
    size_t n = strlen(tf_tool_arg_str(call, "text", ""));
    tf_tool_result(call, json_pack("{s:I, s:I}", "bytes", (json_int_t)n, "tokens", (json_int_t)tf_adapt_estimate_tokens(n)));
    return 0;
}

/* prompt_get: Render a prompt (the MCP prompts, for clients without prompt support). */
int tf_tool_prompt_get(tf_tool_call_t *call)
{
    const char *name = tf_tool_arg_str(call, "name", NULL);
    if (name == NULL) {
        tf_tool_result(call, json_pack("{s:o}", "prompts", tf_mcp_prompts_visible(call->r)));
        return 0;
    }
    tf_verr_t why;
    json_t *msgs = tf_mcp_prompt_render(call->r, name, json_object_get(call->args, "arguments"), &why);
    if (msgs == NULL) {
        tf_tool_answer(call, json_pack("{s:[{s:s, s:s}], s:b, s:{s:s, s:s}}", "content", "type", "text", "text", why.message, "isError", 1,
                                       "_meta", "field", why.pointer, "rule", why.rule));
        return 0;
    }
    /* Text only in the answer: images and embedded resources of a prompt stay in prompts/get. */
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *content = json_object_get(m, "content");
        const char *text = json_string_value(json_object_get(content, "text"));
        if (text == NULL)
            text = json_string_value(json_object_get(json_object_get(content, "resource"), "text"));
        if (text != NULL)
            json_array_append_new(out, json_pack("{s:O, s:s}", "role", json_object_get(m, "role"), "text", text));
    }
    json_decref(msgs);
    tf_tool_result(call, json_pack("{s:s, s:o}", "name", name, "messages", out));
    return 0;
}

/* tool_info: Describe a tool. The listing is the tools/list entry the generator wrote; the category comes with it. */
int tf_tool_tool_info(tf_tool_call_t *call)
{
    const char *name = tf_tool_arg_str(call, "name", "");
    int k = tf_tool_find(name), unknown;
    const tf_conf_profile_t *prof = tf_toolprof_for(call->r, &unknown);
    /* A tool the caller may not see is described as missing, the same as in tools/list and find_tools. */
    if (k < 0 || unknown || !tf_toolprof_visible(call->r, prof, &tf_tools[k])) {
        tf_tool_fail(call, "no tool '%s' here (find_tools searches the ones you may use)", name);
        return 0;
    }
    json_error_t je;
    json_t *t = json_loads(tf_tools[k].listing, 0, &je);
    if (t == NULL) {
        tf_tool_fail(call, "the listing of '%s' is unreadable (%s)", name, je.text);
        return 0;
    }
    json_object_set_new(t, "category", json_string(tf_tools[k].category));
    tf_tool_result(call, t);
    return 0;
}
