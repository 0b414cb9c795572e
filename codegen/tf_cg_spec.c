/*
 * tf_cg_spec.c - endpoints.yaml and tiers.yaml through libcyaml.
 *
 * Their shape is fixed, so libcyaml maps them straight onto C structs and
 * rejects unknown keys and wrong types itself; we turn its log into
 * "file:line: reason". Entry lines come from tf_yaml_lines.
 */
#include <cyaml/cyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"
#include "tf_yaml_lines.h"

/*
 * tf_yaml_cyaml_log keeps cyaml's reason and the innermost backtrace line.
 * For a missing field that line is the last field cyaml read, not the entry
 * that lacks one, so we also keep the next backtrace line: the entry.
 */
typedef struct cy_ctx {
    tf_yaml_cyaml_err_t err;
    unsigned lines[2];
    int nlines;
} cy_ctx_t;

static void cy_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    cy_ctx_t *c = ctx;
    va_list copy;
    va_copy(copy, args);
    tf_yaml_cyaml_log(level, &c->err, fmt, copy);
    va_end(copy);
    char m[512];
    vsnprintf(m, sizeof(m), fmt, args);
    const char *ln = strstr(m, "(line: ");
    if (level >= CYAML_LOG_ERROR && ln != NULL && c->nlines < 2)
        c->lines[c->nlines++] = (unsigned)strtoul(ln + 7, NULL, 10);
}

static int cy_load(const char *file, const cyaml_schema_value_t *schema, void **out)
{
    cy_ctx_t lg;
    memset(&lg, 0, sizeof(lg));
    cyaml_config_t cfg = {.log_fn = cy_log, .log_ctx = &lg, .mem_fn = cyaml_mem, .log_level = CYAML_LOG_ERROR};
    cyaml_err_t rc = cyaml_load_file(file, &cfg, schema, (cyaml_data_t **)out, NULL);
    if (rc != CYAML_OK) {
        const char *msg = lg.err.msg[0] ? lg.err.msg : cyaml_strerror(rc);
        unsigned line = tf_yaml_cyaml_line(&lg.err, file);
        if (strncmp(msg, "Missing required mapping field", 30) == 0 && lg.nlines == 2)
            line = lg.lines[1];
        /* Our only enums are the strict booleans below. */
        if (strncmp(msg, "Invalid ENUM value: ", 20) == 0)
            tf_cg_error(file, line, "'%s' is not a boolean (true or false)", msg + 20);
        else
            tf_cg_error(file, line, "%s", msg);
        return -1;
    }
    return 0;
}

/* Strict booleans: libcyaml 1.3 reads an unknown word as true. */
enum { B_UNSET = 0, B_FALSE = 1, B_TRUE = 2 };
static const cyaml_strval_t bool_strings[] = {{"false", B_FALSE}, {"true", B_TRUE}};
#define BOOL_FIELD(key, st, member) CYAML_FIELD_ENUM(key, CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, st, member, bool_strings, 2)
#define STR(key, flags, st, member) CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | (flags), st, member, 1, 4096)
#define OPT CYAML_FLAG_OPTIONAL

/* ------------------------------------------------------------------ */
/* endpoints.yaml                                                      */

/* libcyaml fills the model structs of tf_cg.h directly; their extra fields
 * (line) it leaves alone. The memory stays with the spec for the run. */
typedef struct ep_file {
    tf_cg_route_t *routes;
    unsigned routes_count;
} ep_file_t;

static const cyaml_schema_field_t route_fields[] = {
    STR("name", 0, tf_cg_route_t, name),          STR("method", 0, tf_cg_route_t, method),
    STR("path", 0, tf_cg_route_t, path),          STR("auth", 0, tf_cg_route_t, auth),
    STR("min_tier", OPT, tf_cg_route_t, min_tier), STR("request", OPT, tf_cg_route_t, request),
    STR("handler", 0, tf_cg_route_t, handler),    STR("summary", OPT, tf_cg_route_t, summary),
    BOOL_FIELD("needs_db", tf_cg_route_t, needs_db), BOOL_FIELD("mcp", tf_cg_route_t, mcp), CYAML_FIELD_END};
static const cyaml_schema_value_t route_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, tf_cg_route_t, route_fields)};
static const cyaml_schema_field_t ep_fields[] = {
    CYAML_FIELD_SEQUENCE("routes", CYAML_FLAG_POINTER, ep_file_t, routes, &route_entry, 1, 4096), CYAML_FIELD_END};
static const cyaml_schema_value_t ep_schema = {CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, ep_file_t, ep_fields)};

int tf_cg_load_endpoints(tf_cg_spec_t *s, const char *file)
{
    ep_file_t *f = NULL;
    if (cy_load(file, &ep_schema, (void **)&f) != 0)
        return -1;
    tf_yaml_lines_t *yl = tf_yaml_lines_load(file);
    s->nroutes = f->routes_count;
    s->routes = f->routes;
    s->route_lines = yl;
    for (unsigned i = 0; i < f->routes_count; i++) {
        s->routes[i].line = tf_cg_route_line(s, i, NULL);
        s->routes[i].needs_db = s->routes[i].needs_db == B_TRUE;
        s->routes[i].mcp = s->routes[i].mcp == B_TRUE;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* tiers.yaml                                                          */

typedef struct tr_file {
    tf_cg_tier_t *tiers;
    unsigned tiers_count;
} tr_file_t;

static const cyaml_schema_value_t string_entry = {CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 4096)};
#define STRLIST(key, flags, st, member) CYAML_FIELD_SEQUENCE(key, CYAML_FLAG_POINTER | (flags), st, member, &string_entry, 0, 4096)

static const cyaml_schema_field_t tier_fields[] = {
    STR("id", 0, tf_cg_tier_t, id),
    STR("name", 0, tf_cg_tier_t, name),
    STRLIST("aliases", OPT, tf_cg_tier_t, aliases),
    CYAML_FIELD_FLOAT("price_monthly", CYAML_FLAG_DEFAULT, tf_cg_tier_t, price_monthly),
    CYAML_FIELD_FLOAT_PTR("price_yearly", CYAML_FLAG_POINTER | OPT, tf_cg_tier_t, price_yearly),
    STRLIST("models", 0, tf_cg_tier_t, models),
    STR("daily_tokens", 0, tf_cg_tier_t, daily_tokens),
    STR("requests_per_hour", 0, tf_cg_tier_t, requests_per_hour),
    BOOL_FIELD("ollama_unlimited", tf_cg_tier_t, ollama_unlimited),
    BOOL_FIELD("mcp_access", tf_cg_tier_t, mcp_access),
    BOOL_FIELD("priority", tf_cg_tier_t, priority),
    STRLIST("features", OPT, tf_cg_tier_t, features),
    CYAML_FIELD_END};
static const cyaml_schema_value_t tier_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, tf_cg_tier_t, tier_fields)};
static const cyaml_schema_field_t tr_fields[] = {
    CYAML_FIELD_SEQUENCE("tiers", CYAML_FLAG_POINTER, tr_file_t, tiers, &tier_entry, 1, 64), CYAML_FIELD_END};
static const cyaml_schema_value_t tr_schema = {CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, tr_file_t, tr_fields)};

int tf_cg_load_tiers(tf_cg_spec_t *s, const char *file)
{
    tr_file_t *f = NULL;
    if (cy_load(file, &tr_schema, (void **)&f) != 0)
        return -1;
    s->ntiers = f->tiers_count;
    s->tiers = f->tiers;
    s->tier_lines = tf_yaml_lines_load(file);
    for (unsigned i = 0; i < f->tiers_count; i++) {
        tf_cg_tier_t *t = &s->tiers[i];
        t->line = tf_cg_tier_line(s, i, NULL);
        t->ollama_unlimited = t->ollama_unlimited == B_TRUE;
        t->mcp_access = t->mcp_access == B_TRUE;
        t->priority = t->priority == B_TRUE;
    }
    return 0;
}

/* "routes[3].min_tier" -> its line; tf_yaml_lines falls back to "routes[3]". */
static unsigned key_line(const tf_yaml_lines_t *yl, const char *seq, size_t i, const char *key)
{
    char path[256];
    snprintf(path, sizeof(path), "%s[%zu]%s%s", seq, i, key ? "." : "", key ? key : "");
    return tf_yaml_lines_get(yl, path);
}

unsigned tf_cg_route_line(const tf_cg_spec_t *s, size_t i, const char *key)
{
    return key_line(s->route_lines, "routes", i, key);
}

unsigned tf_cg_tier_line(const tf_cg_spec_t *s, size_t i, const char *key)
{
    return key_line(s->tier_lines, "tiers", i, key);
}

/* ------------------------------------------------------------------ */
/* providers.yaml                                                      */

typedef struct pv_routing {
    tf_cg_task_t *tasks;
    unsigned tasks_count;
} pv_routing_t;

typedef struct pv_file {
    char *strategy;
    tf_cg_provider_t *providers;
    unsigned providers_count;
    pv_routing_t *routing;
} pv_file_t;

static const cyaml_schema_field_t node_fields[] = {
    STR("name", 0, tf_cg_node_t, name), STR("base_url", 0, tf_cg_node_t, base_url), BOOL_FIELD("enabled", tf_cg_node_t, enabled),
    CYAML_FIELD_END};
static const cyaml_schema_value_t node_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, tf_cg_node_t, node_fields)};

static const cyaml_schema_field_t model_fields[] = {
    STR("id", 0, tf_cg_model_t, id),
    STR("upstream", OPT, tf_cg_model_t, upstream),
    STR("family", OPT, tf_cg_model_t, family),
    CYAML_FIELD_INT("quality", OPT, tf_cg_model_t, quality),
    CYAML_FIELD_FLOAT_PTR("cost_input", CYAML_FLAG_POINTER | OPT, tf_cg_model_t, cost_input),
    CYAML_FIELD_FLOAT_PTR("cost_output", CYAML_FLAG_POINTER | OPT, tf_cg_model_t, cost_output),
    CYAML_FIELD_END};
static const cyaml_schema_value_t model_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, tf_cg_model_t, model_fields)};

static const cyaml_schema_field_t provider_fields[] = {
    STR("id", 0, tf_cg_provider_t, id),
    STR("name", 0, tf_cg_provider_t, name),
    STR("protocol", 0, tf_cg_provider_t, protocol),
    STR("base_url", OPT, tf_cg_provider_t, base_url),
    STR("key_env", OPT, tf_cg_provider_t, key_env),
    BOOL_FIELD("key_required", tf_cg_provider_t, key_required),
    BOOL_FIELD("enabled", tf_cg_provider_t, enabled),
    CYAML_FIELD_INT("priority", CYAML_FLAG_DEFAULT, tf_cg_provider_t, priority),
    CYAML_FIELD_INT("speed", CYAML_FLAG_DEFAULT, tf_cg_provider_t, speed),
    CYAML_FIELD_INT("quality", CYAML_FLAG_DEFAULT, tf_cg_provider_t, quality),
    CYAML_FIELD_FLOAT("cost_input", CYAML_FLAG_DEFAULT, tf_cg_provider_t, cost_input),
    CYAML_FIELD_FLOAT("cost_output", CYAML_FLAG_DEFAULT, tf_cg_provider_t, cost_output),
    CYAML_FIELD_SEQUENCE("nodes", CYAML_FLAG_POINTER | OPT, tf_cg_provider_t, nodes, &node_entry, 1, 64),
    CYAML_FIELD_SEQUENCE("models", CYAML_FLAG_POINTER, tf_cg_provider_t, models, &model_entry, 1, 4096),
    CYAML_FIELD_END};
static const cyaml_schema_value_t provider_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, tf_cg_provider_t, provider_fields)};

static const cyaml_schema_field_t task_fields[] = {
    STR("task", 0, tf_cg_task_t, task), STRLIST("keywords", 0, tf_cg_task_t, keywords), STRLIST("models", 0, tf_cg_task_t, models),
    CYAML_FIELD_END};
static const cyaml_schema_value_t task_entry = {CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, tf_cg_task_t, task_fields)};
static const cyaml_schema_field_t routing_fields[] = {
    CYAML_FIELD_SEQUENCE("tasks", CYAML_FLAG_POINTER, pv_routing_t, tasks, &task_entry, 1, 64), CYAML_FIELD_END};

static const cyaml_schema_field_t pv_fields[] = {
    STR("strategy", 0, pv_file_t, strategy),
    CYAML_FIELD_SEQUENCE("providers", CYAML_FLAG_POINTER, pv_file_t, providers, &provider_entry, 1, 256),
    CYAML_FIELD_MAPPING_PTR("routing", CYAML_FLAG_POINTER, pv_file_t, routing, routing_fields),
    CYAML_FIELD_END};
static const cyaml_schema_value_t pv_schema = {CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, pv_file_t, pv_fields)};

int tf_cg_load_providers(tf_cg_spec_t *s, const char *file)
{
    FILE *probe = fopen(file, "r");
    if (probe == NULL)
        return 0; /* no providers: empty tables (fixture specs) */
    fclose(probe);
    pv_file_t *f = NULL;
    if (cy_load(file, &pv_schema, (void **)&f) != 0)
        return -1;
    s->have_providers = 1;
    s->strategy = f->strategy;
    s->providers = f->providers;
    s->nproviders = f->providers_count;
    s->tasks = f->routing->tasks;
    s->ntasks = f->routing->tasks_count;
    s->provider_lines = tf_yaml_lines_load(file);
    for (size_t i = 0; i < s->nproviders; i++) {
        tf_cg_provider_t *p = &s->providers[i];
        p->key_required = p->key_required != B_FALSE; /* default true */
        p->enabled = p->enabled != B_FALSE;
        for (unsigned n = 0; n < p->nodes_count; n++)
            p->nodes[n].enabled = p->nodes[n].enabled != B_FALSE;
        for (unsigned m = 0; m < p->models_count; m++) {
            tf_cg_model_t *md = &p->models[m];
            if (md->upstream == NULL)
                md->upstream = md->id;
            if (md->family == NULL)
                md->family = md->id;
        }
    }
    return 0;
}

unsigned tf_cg_provider_line(const tf_cg_spec_t *s, const char *path)
{
    return tf_yaml_lines_get(s->provider_lines, path);
}
