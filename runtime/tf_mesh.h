/*
 * tf_mesh - the Mesh Brain's view of the providers: the spec's table
 * (generated/tf_providers.c) merged with conf (URLs, keys, nodes, on/off),
 * built once per conf snapshot, and the choice of candidates for a request.
 *
 * A model is asked for as
 *   "provider/model"  that provider's nodes first, then (unless the request
 *                     says "fallback": false) the other providers serving
 *                     the same family;
 *   "family"          every provider serving it (e.g. "llama-3.3-70b");
 *   "auto"            the task-routing rules of providers.yaml pick a list.
 * Candidates the caller's tier may not use are dropped; the rest are
 * ordered by the strategy. Nodes whose circuit is open keep their place:
 * the caller skips them (tf_health_admit), and an answer from anyone but
 * the first candidate is a fallback.
 */
#ifndef TF_MESH_H
#define TF_MESH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tf_conf.h"
#include "tf_health.h"
#include "tf_spec.h"

enum { TF_STRATEGY_FALLBACK = 0, TF_STRATEGY_ROUND_ROBIN, TF_STRATEGY_FASTEST, TF_STRATEGY_CHEAPEST, TF_STRATEGY_BEST,
       TF_STRATEGY_RANDOM, TF_STRATEGY_COUNT };

int tf_strategy_from_name(const char *name); /* -1 when unknown */
const char *tf_strategy_name(int s);

typedef struct tf_mesh_node {
    const tf_spec_provider_t *provider;
    const char *name;     /* node name */
    char key[128];        /* "provider/node": tf_health key and log label */
    char *base_url;
    char *api_key;        /* NULL: none */
    int proto;            /* tf_proto_t */
    int usable;           /* enabled, and has a key when one is required */
    const char *why_not;  /* "disabled", "no API key" */
    tf_health_t *health;
    unsigned max_concurrent; /* upstream calls at once; 0: no cap */
    struct tf_admit *admit;  /* the cap's gate and queue (tf_admit); NULL when uncapped */
    int http2;               /* TF_CONF_HTTP2_* (tf_conf.h) */
} tf_mesh_node_t;

typedef struct tf_mesh_provider {
    const tf_spec_provider_t *spec;
    int enabled;
    tf_mesh_node_t *nodes;
    size_t nnodes;
} tf_mesh_provider_t;

typedef struct tf_mesh {
    tf_mesh_provider_t *providers;
    size_t nproviders;
    int strategy; /* default */
} tf_mesh_t;

typedef struct tf_candidate {
    const tf_mesh_node_t *node;
    const tf_spec_model_t *model;
} tf_candidate_t;

typedef void (*tf_mesh_err_fn)(void *ctx, unsigned line, const char *msg);

/* Builds the table for conf `c`; errors (unknown provider or node, bad URL, strategy) go to fn with their lines. */
tf_mesh_t *tf_mesh_new(const tf_conf_t *c, unsigned line_strategy, unsigned line_only, tf_mesh_err_fn fn, void *ctx);
void tf_mesh_free(tf_mesh_t *m);

/* Does the tier's model list (glob patterns) admit "provider/model"? */
int tf_mesh_tier_allows(const tf_tier_t *tier, const char *model_name);

/* What tf_mesh_candidates found. */
typedef struct tf_pick {
    size_t count;          /* candidates written */
    int known;             /* the model name means something */
    int allowed;           /* some candidate is allowed for the tier (before health) */
    int usable;            /* some allowed candidate is configured (before health) */
    const char *task;      /* "auto": the task chosen */
    uint64_t retry_in_ms;  /* the soonest an open circuit lets a probe through (0: none open) */
} tf_pick_t;

/*
 * Fills `out` (room for max) for a request for `model` by a caller of
 * `tier`. `text` is the last user message (for "auto"). `strategy` < 0
 * means the mesh's default.
 */
void tf_mesh_candidates(const tf_mesh_t *m, const tf_conf_t *c, const char *model, const char *text, const tf_tier_t *tier,
                        int strategy, int allow_fallback, uint64_t now_ns, tf_candidate_t *out, size_t max, tf_pick_t *pick);

/* A node as the API and tools show it: provider, node, usable, circuit,
 * latency_ms, error_rate, requests, failures, healthy, reason?, last_error?. */
json_t *tf_mesh_node_json(const tf_mesh_node_t *n, uint64_t now_ns);
const char *tf_circuit_name(int circuit);

/* The task "auto" would pick for this text. */
const char *tf_mesh_classify(const char *text);

#endif
