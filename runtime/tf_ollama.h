/*
 * tf_ollama - the Ollama nodes asked, live and at once, for their models
 * (GET /api/tags). Used by GET /v1/client/ollama/status and the
 * ollama_status / ollama_models tools.
 */
#ifndef TF_OLLAMA_H
#define TF_OLLAMA_H

#include <jansson.h>

#include "tf_http.h"

/* status: {nodes_total, nodes_online, nodes: [{provider, node, url, online, models: [...], error?, health...}]}, owned by the callee. */
typedef void (*tf_ollama_done_fn)(void *ud, json_t *status);
typedef struct tf_ollama_probe tf_ollama_probe_t;

/*
 * Starts the probes (each with a 3 s cap); `done` runs once, maybe before
 * this returns (no node to ask: then NULL is returned). The probe lives in
 * r's memory: cancel it (tf_ollama_cancel) when r goes away first.
 */
tf_ollama_probe_t *tf_ollama_probe(tf_req_t *r, tf_ollama_done_fn done, void *ud);
void tf_ollama_cancel(tf_ollama_probe_t *p);

#endif
