/*
 * tf_cg_check_providers.c - providers.yaml on its own and against tiers.yaml.
 *
 * The Mesh Brain trusts these tables at run time (a model named twice, a
 * routing rule naming a model nobody serves, a tier pattern that matches
 * nothing), so each of those is a build error with its line, not a
 * surprise in production.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "tf_cg.h"

static const char *const protocols[] = {"openai", "anthropic", "gemini", "ollama", NULL};
static const char *const strategies[] = {"fallback", "round_robin", "fastest", "cheapest", "best", "random", NULL};


/* Provider ids become URL-ish public names and C identifiers in metrics. */
static int is_id(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Model ids: what upstreams use (":", ".", "-", "_", "@", "/" in upstream names only). */
static int is_model_id(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("._:-", *s)))
            return 0;
    return 1;
}

static int is_url(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) && u[strlen(u) - 1] != '/' && !strchr(u, ' ');
}

static unsigned line(const tf_cg_spec_t *s, const char *fmt, size_t a, size_t b, const char *key)
{
    char path[256];
    int n = snprintf(path, sizeof(path), fmt, a, b);
    if (key != NULL && n > 0 && (size_t)n < sizeof(path))
        snprintf(path + n, sizeof(path) - (size_t)n, ".%s", key);
    return tf_cg_provider_line(s, path);
}
#define PL(key) line(s, "providers[%zu]", i, 0, key)
#define ML(key) line(s, "providers[%zu].models[%zu]", i, m, key)
#define NL(key) line(s, "providers[%zu].nodes[%zu]", i, n, key)

/* Is "provider/model" served by someone? */
static int model_exists(const tf_cg_spec_t *s, const char *name)
{
    for (size_t i = 0; i < s->nproviders; i++) {
        size_t l = strlen(s->providers[i].id);
        if (strncmp(name, s->providers[i].id, l) != 0 || name[l] != '/')
            continue;
        for (unsigned m = 0; m < s->providers[i].models_count; m++)
            if (strcmp(name + l + 1, s->providers[i].models[m].id) == 0)
                return 1;
    }
    return 0;
}

void tf_cg_check_providers(tf_cg_spec_t *s)
{
    if (!s->have_providers)
        return;
    char file[4096];
    snprintf(file, sizeof(file), "%s/providers.yaml", s->dir);
    if (!tf_cg_in(s->strategy, strategies))
        tf_cg_error(file, tf_cg_provider_line(s, "strategy"),
                    "strategy '%s' is not one of fallback, round_robin, fastest, cheapest, best, random", s->strategy);
    for (size_t i = 0; i < s->nproviders; i++) {
        const tf_cg_provider_t *p = &s->providers[i];
        if (!is_id(p->id))
            tf_cg_error(file, PL("id"), "provider id '%s' must be lower-case letters, digits, _ and -", p->id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->providers[j].id, p->id) == 0)
                tf_cg_error(file, PL("id"), "provider '%s' is defined twice", p->id);
        if (!tf_cg_in(p->protocol, protocols))
            tf_cg_error(file, PL("protocol"), "protocol '%s' is not one of openai, anthropic, gemini, ollama", p->protocol);
        if (p->base_url == NULL && p->nodes_count == 0)
            tf_cg_error(file, PL(NULL), "provider '%s' needs a base_url or nodes", p->id);
        if (p->base_url != NULL && p->nodes_count > 0)
            tf_cg_error(file, PL("base_url"), "provider '%s': base_url and nodes exclude each other (give each node its URL)", p->id);
        if (p->base_url != NULL && !is_url(p->base_url))
            tf_cg_error(file, PL("base_url"), "base_url '%s' must start with http:// or https:// and not end with /", p->base_url);
        if (p->priority < 1 || p->priority > 4)
            tf_cg_error(file, PL("priority"), "priority must be 1..4, not %d", p->priority);
        if (p->speed < 1 || p->speed > 5)
            tf_cg_error(file, PL("speed"), "speed must be 1..5, not %d", p->speed);
        if (p->quality < 1 || p->quality > 5)
            tf_cg_error(file, PL("quality"), "quality must be 1..5, not %d", p->quality);
        if (p->cost_input < 0 || p->cost_output < 0)
            tf_cg_error(file, PL(p->cost_input < 0 ? "cost_input" : "cost_output"), "costs must not be negative");
        if (p->key_env != NULL && p->key_env[strspn(p->key_env, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] != '\0')
            tf_cg_error(file, PL("key_env"), "key_env '%s' must be an environment variable name (A-Z, 0-9, _)", p->key_env);
        for (unsigned n = 0; n < p->nodes_count; n++) {
            if (!is_id(p->nodes[n].name))
                tf_cg_error(file, NL("name"), "node name '%s' must be lower-case letters, digits, _ and -", p->nodes[n].name);
            for (unsigned k = 0; k < n; k++)
                if (strcmp(p->nodes[k].name, p->nodes[n].name) == 0)
                    tf_cg_error(file, NL("name"), "node '%s' is defined twice", p->nodes[n].name);
            if (!is_url(p->nodes[n].base_url))
                tf_cg_error(file, NL("base_url"), "base_url '%s' must start with http:// or https:// and not end with /",
                            p->nodes[n].base_url);
        }
        for (unsigned m = 0; m < p->models_count; m++) {
            const tf_cg_model_t *md = &p->models[m];
            if (!is_model_id(md->id))
                tf_cg_error(file, ML("id"), "model id '%s' may hold letters, digits and . _ : - only", md->id);
            if (strcmp(md->id, "auto") == 0)
                tf_cg_error(file, ML("id"), "model id 'auto' is reserved for task routing");
            if (!is_model_id(md->family))
                tf_cg_error(file, ML("family"), "family '%s' may hold letters, digits and . _ : - only", md->family);
            for (unsigned k = 0; k < m; k++)
                if (strcmp(p->models[k].id, md->id) == 0)
                    tf_cg_error(file, ML("id"), "model '%s/%s' is listed twice", p->id, md->id);
            if (md->quality != 0 && (md->quality < 1 || md->quality > 5))
                tf_cg_error(file, ML("quality"), "quality must be 1..5, not %d", md->quality);
            if ((md->cost_input && *md->cost_input < 0) || (md->cost_output && *md->cost_output < 0))
                tf_cg_error(file, ML(NULL), "costs must not be negative");
        }
    }
    int general = 0;
    for (size_t t = 0; t < s->ntasks; t++) {
        const tf_cg_task_t *k = &s->tasks[t];
        unsigned tl = line(s, "routing.tasks[%zu]", t, 0, NULL);
        general |= strcmp(k->task, "general") == 0;
        for (size_t j = 0; j < t; j++)
            if (strcmp(s->tasks[j].task, k->task) == 0)
                tf_cg_error(file, tl, "task '%s' is defined twice", k->task);
        if (k->models_count == 0)
            tf_cg_error(file, tl, "task '%s' has no models", k->task);
        for (unsigned m = 0; m < k->models_count; m++)
            if (!model_exists(s, k->models[m]))
                tf_cg_error(file, line(s, "routing.tasks[%zu].models[%zu]", t, m, NULL),
                            "task '%s': model '%s' is not served by any provider (write provider/model)", k->task, k->models[m]);
    }
    if (!general)
        tf_cg_error(file, tf_cg_provider_line(s, "routing"), "routing needs a task named 'general' (used when nothing matches)");

    /* A tier pattern that matches no model is a typo that silently takes models away. */
    char tfile[4096];
    snprintf(tfile, sizeof(tfile), "%s/tiers.yaml", s->dir);
    for (size_t ti = 0; ti < s->ntiers; ti++) {
        const tf_cg_tier_t *tr = &s->tiers[ti];
        for (unsigned g = 0; g < tr->models_count; g++) {
            int hit = 0;
            for (size_t i = 0; i < s->nproviders && !hit; i++)
                for (unsigned m = 0; m < s->providers[i].models_count && !hit; m++) {
                    char name[512];
                    snprintf(name, sizeof(name), "%s/%s", s->providers[i].id, s->providers[i].models[m].id);
                    hit = fnmatch(tr->models[g], name, 0) == 0;
                }
            if (!hit) {
                char key[64];
                snprintf(key, sizeof(key), "models[%u]", g);
                tf_cg_error(tfile, tf_cg_tier_line(s, ti, key), "tier '%s': pattern '%s' matches no model of providers.yaml", tr->id,
                            tr->models[g]);
            }
        }
    }
}
