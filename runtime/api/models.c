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

int tf_api_models_list(tf_req_t *r)
{
    json_t *data = json_array();
    json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", "auto", "object", "model", "created", 0, "owned_by", "triforce"));
    each_allowed(&tf_tiers[r->who.tier], add_openai, data);
    tf_respond_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
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
    const tf_tier_t *t = &tf_tiers[r->who.tier];
    names_t n = {json_array(), 1};
    each_allowed(t, add_name, &n);
    tf_respond_json(r, 200,
                    json_pack("{s:s, s:s, s:I, s:o, s:s, s:b}", "tier", t->id, "tier_name", t->name, "model_count",
                              (json_int_t)json_array_size(n.list), "models", n.list, "backend", n.ollama_only ? "ollama" : "mixed",
                              "upgrade_available", (size_t)t->rank + 1 < tf_tiers_count));
    return 0;
}

static const char *circuit_name(int c)
{
    return c == TF_CIRCUIT_OPEN ? "open" : c == TF_CIRCUIT_HALF_OPEN ? "half_open" : "closed";
}

static json_t *node_json(const tf_mesh_node_t *n, uint64_t now)
{
    tf_health_view_t v;
    tf_health_read(n->health, now, &v);
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:f, s:I, s:I}", "provider", n->provider->id, "node", n->name, "usable", n->usable,
                          "circuit", circuit_name(v.circuit), "error_rate", v.error_rate, "requests", (json_int_t)v.requests,
                          "failures", (json_int_t)v.failures);
    json_object_set_new(o, "healthy", json_boolean(n->usable && v.circuit != TF_CIRCUIT_OPEN));
    json_object_set_new(o, "latency_ms", v.latency_ms >= 0 ? json_real(v.latency_ms) : json_null());
    if (n->why_not != NULL)
        json_object_set_new(o, "reason", json_string(n->why_not));
    if (v.last_error[0] && v.failures > 0)
        json_object_set_new(o, "last_error", json_string(v.last_error));
    return o;
}

int tf_api_client_models_availability(tf_req_t *r)
{
    const tf_tier_t *t = &tf_tiers[r->who.tier];
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
                json_t *nj = node_json(&mp->nodes[n], now);
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

/* --- Ollama status: each node asked for its models (GET /api/tags), at once --- */

typedef struct ollama_probe ollama_probe_t;
typedef struct ollama_status {
    tf_req_t *r;
    json_t *nodes;
    size_t waiting;
    ollama_probe_t *probes;
    size_t nprobes;
} ollama_status_t;

struct ollama_probe {
    ollama_status_t *st;
    json_t *node;
    tf_curl_req_t *xfer;
    struct curl_slist *headers;
};

static void ollama_answer(ollama_status_t *st)
{
    json_t *nodes = st->nodes;
    st->nodes = NULL;
    size_t online = 0, i;
    json_t *n;
    json_array_foreach(nodes, i, n) online += json_is_true(json_object_get(n, "online"));
    tf_respond_json(st->r, 200, json_pack("{s:I, s:I, s:o}", "nodes_total", (json_int_t)json_array_size(nodes), "nodes_online",
                                          (json_int_t)online, "nodes", nodes));
}

static void on_tags(void *ud, CURLcode rc, long status, const char *body, size_t len)
{
    ollama_probe_t *p = ud;
    p->xfer = NULL;
    curl_slist_free_all(p->headers);
    p->headers = NULL;
    json_t *doc = rc == CURLE_OK && status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *models = json_array(), *m;
    size_t i;
    json_array_foreach(json_object_get(doc, "models"), i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (name != NULL)
            json_array_append_new(models, json_string(name));
    }
    json_object_set_new(p->node, "online", json_boolean(doc != NULL));
    json_object_set_new(p->node, "models", models);
    if (doc == NULL)
        json_object_set_new(p->node, "error", json_string(rc != CURLE_OK ? curl_easy_strerror(rc) : "unexpected answer"));
    json_decref(doc);
    if (--p->st->waiting == 0)
        ollama_answer(p->st);
}

static void ollama_dispose(tf_req_t *r)
{
    ollama_status_t *st = r->hctx;
    for (size_t i = 0; i < st->nprobes; i++) {
        if (st->probes[i].xfer != NULL)
            tf_curl_cancel(st->probes[i].xfer);
        curl_slist_free_all(st->probes[i].headers);
    }
    json_decref(st->nodes);
}

int tf_api_client_ollama_status(tf_req_t *r)
{
    const tf_mesh_t *m = r->conf->mesh;
    ollama_status_t *st = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->r = r;
    st->nodes = json_array();
    uint64_t now = tf_now_ns();
    for (size_t k = 0; k < m->nproviders; k++)
        if (m->providers[k].spec->protocol != NULL && strcmp(m->providers[k].spec->protocol, "ollama") == 0)
            st->nprobes += m->providers[k].nnodes;
    st->probes = h2o_mem_alloc_pool(&r->h2o->pool, (st->nprobes + 1) * sizeof(*st->probes));
    memset(st->probes, 0, (st->nprobes + 1) * sizeof(*st->probes));
    r->hctx = st;
    r->on_dispose = ollama_dispose;
    size_t np = 0;
    for (size_t k = 0; k < m->nproviders; k++) {
        if (strcmp(m->providers[k].spec->protocol, "ollama") != 0)
            continue;
        for (size_t n = 0; n < m->providers[k].nnodes; n++) {
            const tf_mesh_node_t *nd = &m->providers[k].nodes[n];
            json_t *nj = node_json(nd, now);
            json_object_set_new(nj, "url", json_string(nd->base_url));
            json_array_append_new(st->nodes, nj);
            if (!nd->usable) {
                json_object_set_new(nj, "online", json_false());
                continue;
            }
            ollama_probe_t *p = &st->probes[np++];
            p->st = st;
            p->node = nj;
            char url[2048];
            snprintf(url, sizeof(url), "%s/api/tags", nd->base_url);
            CURL *e = tf_curl_easy(r->thr->curl);
            curl_easy_setopt(e, CURLOPT_URL, url);
            if (nd->api_key != NULL) {
                char h[4200];
                snprintf(h, sizeof(h), "Authorization: Bearer %s", nd->api_key);
                p->headers = curl_slist_append(NULL, h);
                curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
            }
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->conf->connect_timeout_ms);
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
            st->waiting++;
            p->xfer = tf_curl_start(r->thr->curl, e, 4u << 20, on_tags, p);
            if (p->xfer == NULL) {
                st->waiting--;
                json_object_set_new(nj, "online", json_false());
            }
        }
    }
    if (st->waiting == 0)
        ollama_answer(st);
    return 0;
}

/* POST /v1/admin/providers/reset: forget measured latency, errors and open circuits. */
int tf_api_admin_providers_reset(tf_req_t *r)
{
    tf_health_reset_all();
    tf_log(TF_LOG_INFO, "audit", r->id, "%s reset the provider health", r->who.subject);
    tf_respond_json(r, 200, json_pack("{s:b}", "reset", 1));
    return 0;
}
