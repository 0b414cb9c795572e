/*
 * tools/ollama.c - the MCP tools of spec/tools/ollama.yaml: the Ollama
 * nodes asked live (tf_ollama), as GET /v1/client/ollama/status does.
 */
#include <string.h>
#include <strings.h>

#include "tf_mesh.h"
#include "tf_ollama.h"
#include "tf_tiers.h"
#include "tf_tool.h"

static void probe_gone(tf_tool_call_t *call)
{
    tf_ollama_cancel(call->hctx);
}

static void start(tf_tool_call_t *call, tf_ollama_done_fn done)
{
    call->on_gone = probe_gone;
    call->hctx = NULL;
    tf_ollama_probe_t *p = tf_ollama_probe(call->r, done, call);
    if (!call->answered)
        call->hctx = p;
}

/* ollama_status: Ollama nodes */
static void on_status(void *ud, json_t *status)
{
    tf_tool_call_t *call = ud;
    call->hctx = NULL;
    tf_tool_result(call, status);
}

int tf_tool_ollama_status(tf_tool_call_t *call)
{
    start(call, on_status);
    return 0;
}

/* ollama_models: Models on the Ollama nodes (by Ollama's own names; the
 * gateway names them "ollama/<name>"). */
static void on_models(void *ud, json_t *status)
{
    tf_tool_call_t *call = ud;
    call->hctx = NULL;
    const char *word = tf_tool_arg_str(call, "search", "");
    json_t *by = json_object(), *node, *name;
    size_t i, k;
    json_array_foreach(json_object_get(status, "nodes"), i, node) {
        if (!json_is_true(json_object_get(node, "online")))
            continue;
        json_array_foreach(json_object_get(node, "models"), k, name) {
            const char *n = json_string_value(name);
            if (n == NULL || (word[0] && strcasestr(n, word) == NULL))
                continue;
            json_t *e = json_object_get(by, n);
            if (e == NULL) {
                char full[512];
                snprintf(full, sizeof(full), "ollama/%s", n);
                e = json_pack("{s:s, s:[], s:b}", "name", full, "nodes", "allowed",
                              tf_mesh_tier_allows(tf_conf_tier(call->r->conf, call->r->who.tier), full));
                json_object_set_new(by, n, e);
            }
            json_array_append(json_object_get(e, "nodes"), json_object_get(node, "node"));
        }
    }
    json_t *list = json_array(), *v;
    const char *key;
    json_object_foreach(by, key, v) json_array_append(list, v);
    json_decref(by);
    json_decref(status);
    tf_tool_result(call, json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list), "models", list));
}

int tf_tool_ollama_models(tf_tool_call_t *call)
{
    start(call, on_models);
    return 0;
}
