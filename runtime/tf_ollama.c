/*
 * tf_ollama.c - see tf_ollama.h.
 */
#include "tf_ollama.h"

#include <stdio.h>
#include <string.h>

#include "tf_curl.h"
#include "tf_mesh.h"
#include "tf_server.h"

typedef struct node_probe {
    tf_ollama_probe_t *st;
    json_t *node;
    tf_curl_req_t *xfer;
    struct curl_slist *headers;
} node_probe_t;

struct tf_ollama_probe {
    json_t *nodes;
    size_t waiting, nprobes;
    node_probe_t *probes;
    tf_ollama_done_fn done;
    void *ud;
    int finished;
};

static void finish(tf_ollama_probe_t *st)
{
    json_t *nodes = st->nodes;
    st->nodes = NULL;
    st->finished = 1;
    size_t online = 0, i;
    json_t *n;
    json_array_foreach(nodes, i, n) online += json_is_true(json_object_get(n, "online"));
    st->done(st->ud, json_pack("{s:I, s:I, s:o}", "nodes_total", (json_int_t)json_array_size(nodes), "nodes_online", (json_int_t)online,
                               "nodes", nodes));
}

static void on_tags(void *ud, CURLcode rc, long status, const char *body, size_t len)
{
    node_probe_t *p = ud;
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
        finish(p->st);
}

void tf_ollama_cancel(tf_ollama_probe_t *st)
{
    if (st == NULL || st->finished)
        return;
    for (size_t i = 0; i < st->nprobes; i++) {
        if (st->probes[i].xfer != NULL)
            tf_curl_cancel(st->probes[i].xfer);
        st->probes[i].xfer = NULL;
        curl_slist_free_all(st->probes[i].headers);
        st->probes[i].headers = NULL;
    }
    json_decref(st->nodes);
    st->nodes = NULL;
    st->finished = 1;
}

tf_ollama_probe_t *tf_ollama_probe(tf_req_t *r, tf_ollama_done_fn done, void *ud)
{
    const tf_mesh_t *m = r->conf->mesh;
    tf_ollama_probe_t *st = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->done = done;
    st->ud = ud;
    st->nodes = json_array();
    uint64_t now = tf_now_ns();
    for (size_t k = 0; k < m->nproviders; k++)
        if (strcmp(m->providers[k].spec->protocol, "ollama") == 0)
            st->nprobes += m->providers[k].nnodes;
    st->probes = h2o_mem_alloc_pool(&r->h2o->pool, (st->nprobes + 1) * sizeof(*st->probes));
    memset(st->probes, 0, (st->nprobes + 1) * sizeof(*st->probes));
    size_t np = 0;
    for (size_t k = 0; k < m->nproviders; k++) {
        if (strcmp(m->providers[k].spec->protocol, "ollama") != 0)
            continue;
        for (size_t n = 0; n < m->providers[k].nnodes; n++) {
            const tf_mesh_node_t *nd = &m->providers[k].nodes[n];
            json_t *nj = tf_mesh_node_json(nd, now);
            json_object_set_new(nj, "url", json_string(nd->base_url));
            json_array_append_new(st->nodes, nj);
            if (!nd->usable) {
                json_object_set_new(nj, "online", json_false());
                continue;
            }
            node_probe_t *p = &st->probes[np++];
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
    if (st->waiting == 0) {
        finish(st);
        return NULL;
    }
    return st;
}
