/*
 * tools/mesh.c - the MCP tools of spec/tools/mesh.yaml: the Mesh Brain's
 * providers, routes and strategies, read from the caller's conf snapshot.
 */
#include <string.h>

#include "tf_http.h"
#include "tf_mesh.h"
#include "tf_providers.h"
#include "tf_tiers.h"
#include "tf_tool.h"

#define PREVIEW_MAX 16

/* providers: Providers and their health */
int tf_tool_providers(tf_tool_call_t *call)
{
    const tf_mesh_t *m = call->r->conf->mesh;
    const char *only = tf_tool_arg_str(call, "provider", NULL);
    uint64_t now = tf_now_ns();
    json_t *list = json_array();
    for (size_t k = 0; k < m->nproviders; k++) {
        const tf_mesh_provider_t *p = &m->providers[k];
        if (only != NULL && strcmp(only, p->spec->id) != 0)
            continue;
        json_t *nodes = json_array();
        for (size_t n = 0; n < p->nnodes; n++)
            json_array_append_new(nodes, tf_mesh_node_json(&p->nodes[n], now));
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b, s:i, s:I, s:o}", "id", p->spec->id, "name", p->spec->name,
                                              "protocol", p->spec->protocol, "enabled", p->enabled, "priority", p->spec->priority,
                                              "models", (json_int_t)p->spec->nmodels, "nodes", nodes));
    }
    if (only != NULL && json_array_size(list) == 0) {
        json_decref(list);
        tf_tool_fail(call, "no provider '%s' (the providers tool without arguments lists them)", only);
        return 0;
    }
    tf_tool_result(call, json_pack("{s:o}", "providers", list));
    return 0;
}

/* route_preview: Preview a route */
int tf_tool_route_preview(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    const char *model = tf_tool_arg_str(call, "model", "auto");
    const char *sname = tf_tool_arg_str(call, "strategy", NULL);
    int strategy = sname ? tf_strategy_from_name(sname) : r->conf->mesh->strategy;
    tf_candidate_t cand[PREVIEW_MAX];
    tf_pick_t pick;
    uint64_t now = tf_now_ns();
    tf_mesh_candidates(r->conf->mesh, r->conf, model, tf_tool_arg_str(call, "text", ""), tf_conf_tier(r->conf, r->who.tier), strategy, 1, now,
                       cand, PREVIEW_MAX, &pick);
    if (!pick.known) {
        tf_tool_fail(call, "no model '%s' (the models tool lists them)", model);
        return 0;
    }
    if (!pick.allowed) {
        tf_tool_fail(call, "the %s tier cannot use '%s'", tf_tiers[r->who.tier].id, model);
        return 0;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < pick.count; i++) {
        tf_health_view_t v;
        tf_health_read(cand[i].node->health, now, &v);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "model", cand[i].model->name, "node", cand[i].node->key, "circuit",
                                              tf_circuit_name(v.circuit)));
    }
    json_t *out = json_pack("{s:s, s:s, s:o}", "model", model, "strategy", tf_strategy_name(strategy), "candidates", list);
    if (pick.task != NULL)
        json_object_set_new(out, "task", json_string(pick.task));
    tf_tool_result(call, out);
    return 0;
}

/* classify_task: Classify a task */
int tf_tool_classify_task(tf_tool_call_t *call)
{
    const char *task = tf_mesh_classify(tf_tool_arg_str(call, "text", ""));
    json_t *models = json_array();
    for (size_t t = 0; t < tf_tasks_count; t++)
        if (strcmp(tf_tasks[t].task, task) == 0)
            for (const char *const *m = tf_tasks[t].models; *m != NULL; m++)
                json_array_append_new(models, json_string(*m));
    tf_tool_result(call, json_pack("{s:s, s:o}", "task", task, "models", models));
    return 0;
}

/* strategies: Routing strategies */
int tf_tool_strategies(tf_tool_call_t *call)
{
    static const char *const what[TF_STRATEGY_COUNT] = {
        "priority order of the providers (free and fast first, premium last); the next one when one fails",
        "each request starts at the next provider in turn, spreading load evenly",
        "lowest moving average of measured latency first; providers never measured are tried once first",
        "lowest cost per million tokens first",
        "highest quality first",
        "a random order for every request",
    };
    json_t *list = json_array();
    for (int i = 0; i < TF_STRATEGY_COUNT; i++)
        json_array_append_new(list, json_pack("{s:s, s:s}", "name", tf_strategy_name(i), "description", what[i]));
    tf_tool_result(call, json_pack("{s:s, s:o}", "default", tf_strategy_name(call->r->conf->mesh->strategy), "strategies", list));
    return 0;
}

/* model_info: Model information */
int tf_tool_model_info(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    const tf_mesh_t *m = r->conf->mesh;
    const char *model = tf_tool_arg_str(call, "model", "");
    const char *family = NULL;
    /* provider/model names its family; a bare name is the family. */
    for (size_t k = 0; k < m->nproviders && family == NULL; k++)
        for (size_t i = 0; i < m->providers[k].spec->nmodels; i++)
            if (strcmp(m->providers[k].spec->models[i].name, model) == 0)
                family = m->providers[k].spec->models[i].family;
    if (family == NULL)
        family = model;
    uint64_t now = tf_now_ns();
    json_t *list = json_array();
    for (size_t k = 0; k < m->nproviders; k++) {
        const tf_mesh_provider_t *p = &m->providers[k];
        for (size_t i = 0; i < p->spec->nmodels; i++) {
            const tf_spec_model_t *md = &p->spec->models[i];
            if (strcmp(md->family, family) != 0)
                continue;
            int up = 0;
            for (size_t n = 0; n < p->nnodes; n++) {
                tf_health_view_t v;
                tf_health_read(p->nodes[n].health, now, &v);
                up |= p->nodes[n].usable && !(v.circuit == TF_CIRCUIT_OPEN && v.retry_in_ms > 0);
            }
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:f, s:f, s:b, s:b}", "name", md->name, "provider", p->spec->id,
                                                  "upstream", md->upstream, "quality", md->quality, "cost_input", md->cost_input,
                                                  "cost_output", md->cost_output, "allowed",
                                                  tf_mesh_tier_allows(tf_conf_tier(r->conf, r->who.tier), md->name), "available", up));
        }
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        tf_tool_fail(call, "no model or family '%s' (the models tool lists them)", model);
        return 0;
    }
    tf_tool_result(call, json_pack("{s:s, s:o}", "family", family, "models", list));
    return 0;
}
