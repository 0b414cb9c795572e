/*
 * models.c - what the caller's tier may use, and how the providers are:
 * GET /v1/models, /v1/client/models, /v1/client/models/availability,
 * /v1/client/ollama/status.
 */
#include <stdio.h>
#include <string.h>

#include "tf_adapt.h"
#include "tf_api.h"
#include "tf_curl.h"
#include "tf_log.h"
#include "tf_mesh.h"
#include "tf_ollama.h"
#include "tf_providers.h"
#include "tf_server.h"
#include "tf_tiers.h"

/* Calls fn for every model the tier allows, in spec order. */
static void each_allowed(const tf_tier_t *t, void (*fn)(void *ud, const tf_spec_provider_t *p, const tf_spec_model_t *m), void *ud)
{
    for (size_t k = 0; k < tf_providers_count; k++)
        for (size_t i = 0; i < tf_providers[k].nmodels; i++)
            if (tf_mesh_tier_allows(t, tf_providers[k].models[i].name))
                fn(ud, &tf_providers[k], &tf_providers[k].models[i]);
}

static void add_openai(void *ud, const tf_spec_provider_t *p, const tf_spec_model_t *m)
{
    json_array_append_new(ud, json_pack("{s:s, s:s, s:i, s:s}", "id", m->name, "object", "model", "created", 0, "owned_by", p->id));
}

/*
 * GET /v1/models is what every OpenAI client asks first, and its answer
 * depends only on the conf snapshot (tiers) and the generated provider
 * table: each tier's body is rendered on first use and kept with the
 * snapshot (the glob matching over every model costs tens of microseconds),
 * then served as bytes. A reload brings a new snapshot, rendered afresh.
 */
static void render_models(void *ud, int tier, json_t **body)
{
    json_t *data = json_array();
    json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", "auto", "object", "model", "created", 0, "owned_by", "triforce"));
    each_allowed(tf_conf_tier(ud, tier), add_openai, data);
    *body = json_pack("{s:s, s:o}", "object", "list", "data", data);
}

int tf_api_models_list(tf_req_t *r)
{
    tf_respond_rendered(r, (size_t)r->who.tier, render_models, r->conf, r->who.tier);
    return 0;
}

typedef struct names {
    json_t *list;
    int ollama_only;
} names_t;

static void add_name(void *ud, const tf_spec_provider_t *p, const tf_spec_model_t *m)
{
    names_t *n = ud;
    json_array_append_new(n->list, json_string(m->name));
    if (strcmp(p->id, "ollama") != 0)
        n->ollama_only = 0;
}

int tf_api_client_models(tf_req_t *r)
{
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    names_t n = {json_array(), 1};
    each_allowed(t, add_name, &n);
    tf_respond_json(r, 200,
                    json_pack("{s:s, s:s, s:I, s:o, s:s, s:b}", "tier", t->id, "tier_name", t->name, "model_count",
                              (json_int_t)json_array_size(n.list), "models", n.list, "backend", n.ollama_only ? "ollama" : "mixed",
                              "upgrade_available", (size_t)t->rank + 1 < tf_tiers_count));
    return 0;
}

int tf_api_client_models_availability(tf_req_t *r)
{
    const tf_tier_t *t = tf_conf_tier(r->conf, r->who.tier);
    const tf_mesh_t *m = r->conf->mesh;
    uint64_t now = tf_now_ns();
    json_t *models = json_array();
    for (size_t k = 0; k < m->nproviders; k++) {
        const tf_mesh_provider_t *mp = &m->providers[k];
        for (size_t i = 0; i < mp->spec->nmodels; i++) {
            const tf_spec_model_t *md = &mp->spec->models[i];
            if (!tf_mesh_tier_allows(t, md->name))
                continue;
            json_t *nodes = json_array();
            int available = 0;
            for (size_t n = 0; n < mp->nnodes; n++) {
                json_t *nj = tf_mesh_node_json(&mp->nodes[n], now);
                available |= json_is_true(json_object_get(nj, "healthy"));
                json_array_append_new(nodes, nj);
            }
            json_array_append_new(models, json_pack("{s:s, s:s, s:b, s:o}", "model", md->name, "family", md->family, "available",
                                                    available, "providers", nodes));
        }
    }
    tf_respond_json(r, 200, json_pack("{s:s, s:s, s:o}", "tier", t->id, "strategy", tf_strategy_name(m->strategy), "models", models));
    return 0;
}

/* GET /v1/client/ollama/status: the nodes, asked live (tf_ollama). */
static void on_ollama(void *ud, json_t *status)
{
    tf_req_t *r = ud;
    r->on_dispose = NULL;
    tf_respond_json(r, 200, status);
}

static void ollama_dispose(tf_req_t *r)
{
    tf_ollama_cancel(r->hctx);
}

int tf_api_client_ollama_status(tf_req_t *r)
{
    r->on_dispose = ollama_dispose;
    r->hctx = tf_ollama_probe(r, on_ollama, r);
    return 0;
}

/* POST /v1/admin/providers/reset: forget measured latency, errors and open circuits. */
int tf_api_admin_providers_reset(tf_req_t *r)
{
    tf_health_reset_all();
    tf_log(TF_LOG_INFO, "audit", r->id, "%s reset the provider health", r->who.subject);
    tf_api_audit(r, "reset_providers", NULL);
    tf_respond_json(r, 200, json_pack("{s:b}", "reset", 1));
    return 0;
}
