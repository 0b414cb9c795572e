/*
 * tf_mesh.c - the provider table of one conf snapshot, and candidate choice.
 */
#include "tf_mesh.h"

#include <ctype.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_adapt.h"
#include "tf_admit.h"
#include "tf_providers.h"

static const char *const strategy_names[TF_STRATEGY_COUNT] = {"fallback", "round_robin", "fastest", "cheapest", "best", "random"};

int tf_strategy_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < TF_STRATEGY_COUNT; i++)
        if (strcmp(strategy_names[i], name) == 0)
            return i;
    return -1;
}

const char *tf_strategy_name(int s)
{
    return s >= 0 && s < TF_STRATEGY_COUNT ? strategy_names[s] : "?";
}

/* ------------------------------------------------------------------ */
/* Building                                                            */

static void errf(tf_mesh_err_fn fn, void *ctx, unsigned line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void errf(tf_mesh_err_fn fn, void *ctx, unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn(ctx, line, msg);
}

static int url_ok(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) && strcspn(u, " \t\r\n") == strlen(u);
}

static char *url_dup(const char *u)
{
    char *d = strdup(u);
    size_t l = strlen(d);
    while (l > 0 && d[l - 1] == '/')
        d[--l] = '\0';
    return d;
}

static const tf_conf_provider_t *setting(const tf_conf_t *c, const char *id)
{
    for (unsigned i = 0; i < c->providers_count; i++)
        if (strcmp(c->providers[i].id, id) == 0)
            return &c->providers[i];
    return NULL;
}

static void node_init(tf_mesh_node_t *n, const tf_spec_provider_t *p, const char *name, const char *url, const char *key, int enabled,
                      unsigned max_concurrent, int http2)
{
    n->http2 = http2 >= 0 ? http2 : TF_CONF_HTTP2_AUTO;
    n->provider = p;
    n->name = name;
    snprintf(n->key, sizeof(n->key), "%s/%s", p->id, name);
    n->base_url = url_dup(url);
    n->api_key = key != NULL && *key ? strdup(key) : NULL;
    n->proto = tf_proto_from_name(p->protocol);
    n->usable = enabled && (n->api_key != NULL || !p->key_required);
    n->why_not = !enabled ? "disabled" : n->usable ? NULL : "no API key";
    n->health = tf_health_get(n->key);
    /* Uncapped nodes get no gate: their calls take no lock at all. */
    n->max_concurrent = max_concurrent;
    n->admit = max_concurrent > 0 ? tf_admit_get(n->key) : NULL;
}

tf_mesh_t *tf_mesh_new(const tf_conf_t *c, unsigned line_strategy, unsigned line_only, tf_mesh_err_fn fn, void *ctx)
{
    tf_mesh_t *m = calloc(1, sizeof(*m));
    m->strategy = tf_strategy_from_name(c->strategy ? c->strategy : tf_default_strategy);
    if (m->strategy < 0) {
        errf(fn, ctx, line_strategy, "providers.strategy: '%s' is not one of fallback, round_robin, fastest, cheapest, best, random",
             c->strategy);
        m->strategy = 0;
    }
    for (unsigned i = 0; i < c->providers_only_count; i++) {
        size_t k = 0;
        while (k < tf_providers_count && strcmp(tf_providers[k].id, c->providers_only[i]) != 0)
            k++;
        if (k == tf_providers_count)
            errf(fn, ctx, line_only, "providers.only: no provider '%s' in spec/providers.yaml", c->providers_only[i]);
    }
    for (unsigned i = 0; i < c->providers_count; i++) {
        const tf_conf_provider_t *s = &c->providers[i];
        size_t k = 0;
        while (k < tf_providers_count && strcmp(tf_providers[k].id, s->id) != 0)
            k++;
        if (k == tf_providers_count) {
            errf(fn, ctx, s->line, "providers.settings: no provider '%s' in spec/providers.yaml", s->id);
            continue;
        }
        if (s->base_url != NULL && tf_providers[k].nnodes > 1)
            errf(fn, ctx, s->line, "providers.settings: '%s' has several nodes: give each node its base_url", s->id);
        if (s->base_url != NULL && !url_ok(s->base_url))
            errf(fn, ctx, s->line, "providers.settings: '%s': base_url must start with http:// or https://", s->id);
        for (unsigned j = 0; j < i; j++)
            if (strcmp(c->providers[j].id, s->id) == 0)
                errf(fn, ctx, s->line, "providers.settings: '%s' is set twice", s->id);
        for (unsigned n = 0; n < s->nodes_count; n++) {
            const tf_conf_node_t *cn = &s->nodes[n];
            int in_spec = 0;
            for (size_t sn = 0; sn < tf_providers[k].nnodes; sn++)
                in_spec |= strcmp(tf_providers[k].nodes[sn].name, cn->name) == 0;
            if (!in_spec && cn->base_url == NULL)
                errf(fn, ctx, cn->line, "providers.settings: node '%s' of '%s' is new: it needs a base_url", cn->name, s->id);
            if (cn->base_url != NULL && !url_ok(cn->base_url))
                errf(fn, ctx, cn->line, "providers.settings: node '%s': base_url must start with http:// or https://", cn->name);
            for (unsigned j = 0; j < n; j++)
                if (strcmp(s->nodes[j].name, cn->name) == 0)
                    errf(fn, ctx, cn->line, "providers.settings: node '%s' of '%s' is listed twice", cn->name, s->id);
        }
    }

    m->nproviders = tf_providers_count;
    m->providers = calloc(m->nproviders + 1, sizeof(*m->providers));
    for (size_t k = 0; k < tf_providers_count; k++) {
        const tf_spec_provider_t *p = &tf_providers[k];
        const tf_conf_provider_t *s = setting(c, p->id);
        tf_mesh_provider_t *mp = &m->providers[k];
        mp->spec = p;
        mp->enabled = s != NULL && s->enabled >= 0 ? s->enabled : p->enabled;
        if (c->providers_only_count > 0) {
            int listed = 0;
            for (unsigned i = 0; i < c->providers_only_count; i++)
                listed |= strcmp(c->providers_only[i], p->id) == 0;
            mp->enabled = mp->enabled && listed;
            if (listed && s != NULL && s->enabled < 0)
                mp->enabled = 1; /* "only" names it: on, unless the settings say off */
        }
        const char *env = p->key_env ? getenv(p->key_env) : NULL;
        const char *pkey = s != NULL && s->api_key != NULL ? s->api_key : env;
        /* Conf nodes replace the spec's node list, keeping spec URLs for names it knows. */
        if (s != NULL && s->nodes_count > 0) {
            mp->nnodes = s->nodes_count;
            mp->nodes = calloc(mp->nnodes, sizeof(*mp->nodes));
            for (unsigned n = 0; n < s->nodes_count; n++) {
                const tf_conf_node_t *cn = &s->nodes[n];
                const tf_spec_node_t *sn = NULL;
                for (size_t j = 0; j < p->nnodes; j++)
                    if (strcmp(p->nodes[j].name, cn->name) == 0)
                        sn = &p->nodes[j];
                const char *url = cn->base_url ? cn->base_url : sn ? sn->base_url : "http://invalid";
                int en = cn->enabled >= 0 ? cn->enabled : (sn ? sn->enabled : 1);
                node_init(&mp->nodes[n], p, cn->name, url, cn->api_key ? cn->api_key : pkey, en && mp->enabled,
                          cn->max_concurrent ? cn->max_concurrent : s->max_concurrent, cn->http2 >= 0 ? cn->http2 : s->http2);
            }
        } else {
            mp->nnodes = p->nnodes;
            mp->nodes = calloc(mp->nnodes, sizeof(*mp->nodes));
            for (size_t n = 0; n < p->nnodes; n++) {
                const char *url = (s != NULL && s->base_url != NULL) ? s->base_url : p->nodes[n].base_url;
                node_init(&mp->nodes[n], p, p->nodes[n].name, url, pkey, p->nodes[n].enabled && mp->enabled,
                          s != NULL ? s->max_concurrent : 0, s != NULL ? s->http2 : -1);
            }
        }
    }
    return m;
}

void tf_mesh_free(tf_mesh_t *m)
{
    if (m == NULL)
        return;
    for (size_t k = 0; k < m->nproviders; k++) {
        for (size_t n = 0; n < m->providers[k].nnodes; n++) {
            tf_mesh_node_t *nd = &m->providers[k].nodes[n];
            free(nd->base_url);
            if (nd->api_key != NULL)
                explicit_bzero(nd->api_key, strlen(nd->api_key));
            free(nd->api_key);
        }
        free(m->providers[k].nodes);
    }
    free(m->providers);
    free(m);
}

/* ------------------------------------------------------------------ */
/* Choosing                                                            */

int tf_mesh_tier_allows(const tf_tier_t *tier, const char *model_name)
{
    for (const char *const *g = tier->models; *g != NULL; g++)
        if (fnmatch(*g, model_name, 0) == 0)
            return 1;
    return 0;
}

const char *tf_mesh_classify(const char *text)
{
    const char *best = "general";
    int best_hits = 0;
    for (size_t t = 0; t < tf_tasks_count; t++) {
        int hits = 0;
        for (const char *p = text ? text : ""; *p;) {
            while (*p && !isalnum((unsigned char)*p))
                p++;
            const char *w = p;
            while (*p && (isalnum((unsigned char)*p) || *p == '_'))
                p++;
            size_t wl = (size_t)(p - w);
            if (wl == 0 || wl > 64)
                continue;
            for (const char *const *k = tf_tasks[t].keywords; *k != NULL; k++)
                if (strlen(*k) == wl && strncasecmp(*k, w, wl) == 0)
                    hits++;
        }
        if (hits > best_hits) {
            best_hits = hits;
            best = tf_tasks[t].task;
        }
    }
    return best;
}

typedef struct scored {
    tf_candidate_t c;
    double score; /* lower first */
    size_t order; /* stable tie-break */
} scored_t;

static __thread uint64_t rng_state;
static uint64_t rng(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 17) ^ (uint64_t)(uintptr_t)&rng_state ^ (uint64_t)ts.tv_sec;
        rng_state |= 1;
    }
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/*
 * Expected latency: the moving average. A node never measured goes first
 * (ties broken by the spec's speed), so every candidate gets measured once
 * instead of the first measured one winning for good.
 */
static double latency_of(const tf_mesh_node_t *n)
{
    tf_health_view_t v;
    tf_health_read(n->health, 0, &v);
    return v.latency_ms >= 0 ? v.latency_ms : -(double)n->provider->speed;
}

static double score(int strategy, const tf_candidate_t *c)
{
    switch (strategy) {
    case TF_STRATEGY_FASTEST:
        return latency_of(c->node);
    case TF_STRATEGY_CHEAPEST:
        return c->model->cost_input + c->model->cost_output;
    case TF_STRATEGY_BEST:
        return -(double)c->model->quality;
    case TF_STRATEGY_RANDOM:
        return (double)(rng() >> 11);
    default: /* fallback and round_robin start from priority order */
        return (double)c->node->provider->priority;
    }
}

static void sort(scored_t *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        scored_t x = s[i];
        size_t j = i;
        while (j > 0 && (s[j - 1].score > x.score || (s[j - 1].score == x.score && s[j - 1].order > x.order))) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = x;
    }
}

typedef struct collect {
    scored_t *s;
    size_t n, cap;
    const tf_tier_t *tier;
    tf_pick_t *pick;
    uint64_t now_ns;
} collect_t;

/* Adds every node of provider k serving model md, if the tier and health allow. */
static void add_model(collect_t *co, const tf_mesh_t *m, size_t k, const tf_spec_model_t *md)
{
    co->pick->known = 1;
    if (!tf_mesh_tier_allows(co->tier, md->name))
        return;
    co->pick->allowed = 1;
    const tf_mesh_provider_t *mp = &m->providers[k];
    for (size_t n = 0; n < mp->nnodes; n++) {
        const tf_mesh_node_t *nd = &mp->nodes[n];
        if (!nd->usable)
            continue;
        co->pick->usable = 1;
        /* Open circuits stay in the order (the caller skips them), so an
         * answer from anyone but the first is a fallback. */
        tf_health_view_t v;
        tf_health_read(nd->health, co->now_ns, &v);
        if (v.circuit == TF_CIRCUIT_OPEN && v.retry_in_ms > 0 &&
            (co->pick->retry_in_ms == 0 || v.retry_in_ms < co->pick->retry_in_ms))
            co->pick->retry_in_ms = v.retry_in_ms;
        for (size_t i = 0; i < co->n; i++)
            if (co->s[i].c.node == nd && co->s[i].c.model == md)
                return;
        if (co->n == co->cap) {
            co->cap = co->cap ? co->cap * 2 : 16;
            co->s = realloc(co->s, co->cap * sizeof(*co->s));
        }
        co->s[co->n].c.node = nd;
        co->s[co->n].c.model = md;
        co->s[co->n].order = co->n;
        co->n++;
    }
}

/* "groq/llama-3.3-70b" -> provider index and model, or -1. */
static int find_named(const tf_mesh_t *m, const char *name, const tf_spec_model_t **md)
{
    const char *slash = strchr(name, '/');
    if (slash == NULL)
        return -1;
    for (size_t k = 0; k < m->nproviders; k++) {
        const tf_spec_provider_t *p = m->providers[k].spec;
        if (strlen(p->id) != (size_t)(slash - name) || strncmp(p->id, name, (size_t)(slash - name)) != 0)
            continue;
        for (size_t i = 0; i < p->nmodels; i++)
            if (strcmp(p->models[i].id, slash + 1) == 0) {
                *md = &p->models[i];
                return (int)k;
            }
    }
    return -1;
}

static void add_family(collect_t *co, const tf_mesh_t *m, const char *family, int skip_k)
{
    for (size_t k = 0; k < m->nproviders; k++) {
        if ((int)k == skip_k)
            continue;
        const tf_spec_provider_t *p = m->providers[k].spec;
        for (size_t i = 0; i < p->nmodels; i++)
            if (strcmp(p->models[i].family, family) == 0)
                add_model(co, m, k, &p->models[i]);
    }
}

/* Orders co->s[from..] by the strategy. */
static void order(collect_t *co, size_t from, int strategy, const char *rr_key)
{
    size_t n = co->n - from;
    scored_t *s = co->s + from;
    for (size_t i = 0; i < n; i++)
        s[i].score = score(strategy, &s[i].c);
    sort(s, n);
    if (strategy == TF_STRATEGY_ROUND_ROBIN && n > 1) {
        size_t r = (size_t)(tf_health_next(rr_key) % n);
        scored_t *tmp = malloc(n * sizeof(*tmp));
        for (size_t i = 0; i < n; i++)
            tmp[i] = s[(i + r) % n];
        memcpy(s, tmp, n * sizeof(*tmp));
        free(tmp);
    }
}

void tf_mesh_candidates(const tf_mesh_t *m, const tf_conf_t *c, const char *model, const char *text, const tf_tier_t *tier,
                        int strategy, int allow_fallback, uint64_t now_ns, tf_candidate_t *out, size_t max, tf_pick_t *pick)
{
    memset(pick, 0, sizeof(*pick));
    if (strategy < 0)
        strategy = m->strategy;
    collect_t co = {.tier = tier, .pick = pick, .now_ns = now_ns};
    char rr_key[300];
    snprintf(rr_key, sizeof(rr_key), "rr:%s", model);
    const tf_spec_model_t *md = NULL;
    int k;
    if (strcmp(model, "auto") == 0) {
        /* The task's list is an order of preference: kept as written. */
        pick->task = tf_mesh_classify(text);
        const tf_spec_task_t *task = NULL;
        for (size_t t = 0; t < tf_tasks_count; t++)
            if (strcmp(tf_tasks[t].task, pick->task) == 0)
                task = &tf_tasks[t];
        for (const char *const *name = task ? task->models : NULL; name != NULL && *name != NULL; name++)
            if ((k = find_named(m, *name, &md)) >= 0)
                add_model(&co, m, (size_t)k, md);
        /* Nothing of the task's list for this tier: the general list. */
        if (co.n == 0 && strcmp(pick->task, "general") != 0) {
            for (size_t t = 0; t < tf_tasks_count; t++)
                if (strcmp(tf_tasks[t].task, "general") == 0)
                    for (const char *const *name = tf_tasks[t].models; *name != NULL; name++)
                        if ((k = find_named(m, *name, &md)) >= 0)
                            add_model(&co, m, (size_t)k, md);
        }
        pick->known = 1;
    } else if ((k = find_named(m, model, &md)) >= 0) {
        add_model(&co, m, (size_t)k, md);
        order(&co, 0, strategy, rr_key);
        if (allow_fallback) {
            size_t from = co.n;
            add_family(&co, m, md->family, k);
            order(&co, from, strategy, rr_key);
        }
    } else {
        add_family(&co, m, model, -1);
        order(&co, 0, strategy, rr_key);
    }
    pick->count = co.n < max ? co.n : max;
    for (size_t i = 0; i < pick->count; i++)
        out[i] = co.s[i].c;
    free(co.s);
}

const char *tf_circuit_name(int c)
{
    return c == TF_CIRCUIT_OPEN ? "open" : c == TF_CIRCUIT_HALF_OPEN ? "half_open" : "closed";
}

json_t *tf_mesh_node_json(const tf_mesh_node_t *n, uint64_t now)
{
    tf_health_view_t v;
    tf_health_read(n->health, now, &v);
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:f, s:I, s:I}", "provider", n->provider->id, "node", n->name, "usable", n->usable,
                          "circuit", tf_circuit_name(v.circuit), "error_rate", v.error_rate, "requests", (json_int_t)v.requests,
                          "failures", (json_int_t)v.failures);
    json_object_set_new(o, "healthy", json_boolean(n->usable && !(v.circuit == TF_CIRCUIT_OPEN && v.retry_in_ms > 0)));
    json_object_set_new(o, "latency_ms", v.latency_ms >= 0 ? json_real(v.latency_ms) : json_null());
    if (n->why_not != NULL)
        json_object_set_new(o, "reason", json_string(n->why_not));
    if (n->max_concurrent > 0)
        json_object_set_new(o, "max_concurrent", json_integer(n->max_concurrent));
    if (n->http2 != TF_CONF_HTTP2_AUTO)
        json_object_set_new(o, "http2", json_string(n->http2 == TF_CONF_HTTP2_OFF ? "off" : "h2c"));
    if (v.last_error[0] && v.failures > 0)
        json_object_set_new(o, "last_error", json_string(v.last_error));
    return o;
}
