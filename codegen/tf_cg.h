/*
 * tf_cg.h - the code generator's internals: spec model, diagnostics, output.
 *
 * tf-codegen reads spec/ (endpoints.yaml and tiers.yaml through libcyaml,
 * schemas/ through libyaml into jansson values), checks that everything
 * fits together, and writes deterministic C into generated/.
 */
#ifndef TF_CG_H
#define TF_CG_H

#include <jansson.h>
#include <stddef.h>

#include "tf_yaml_lines.h"

/* ------------------------------------------------------------------ */
/* Diagnostics: "file:line: reason", all of them, then exit 1.         */

void tf_cg_error(const char *file, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tf_cg_error_count(void);

/* ------------------------------------------------------------------ */
/* The spec model                                                      */

typedef struct tf_cg_route {
    char *name, *method, *path, *auth, *min_tier, *request, *handler, *summary;
    int needs_db;
    int mcp;       /* an MCP route: open only to tiers with mcp_access */
    unsigned line; /* of the entry */
} tf_cg_route_t;

typedef struct tf_cg_tier {
    char *id, *name;
    char **aliases;
    unsigned aliases_count;
    double price_monthly;
    double *price_yearly;
    char **models;
    unsigned models_count;
    char *daily_tokens, *requests_per_hour;
    int ollama_unlimited, mcp_access, priority;
    char **features;
    unsigned features_count;
    unsigned line;
} tf_cg_tier_t;

/*
 * A schema to turn into tf_validate_NAME(). Request schemas come one per
 * file (spec/schemas/NAME.yaml); tool schemas will sit inside other YAML
 * files, so a schema is any json_t loaded by tf_cg_yaml_load (which knows
 * its lines) plus the file it came from.
 */
typedef struct tf_cg_schema {
    char *name;  /* C name part: tf_validate_NAME */
    char *file;  /* the path read, for diagnostics: DIR/schemas/NAME.yaml */
    char *src;   /* the same under its spec/ name, for banners: spec/schemas/NAME.yaml */
    json_t *doc; /* the schema as JSON */
} tf_cg_schema_t;

/* spec/providers.yaml (optional: without it the tables are empty). */
typedef struct tf_cg_node {
    char *name, *base_url;
    int enabled; /* B_* while loading, then 0/1 */
} tf_cg_node_t;

typedef struct tf_cg_model {
    char *id, *upstream, *family;
    int quality;                       /* 0: the provider's */
    double *cost_input, *cost_output;  /* NULL: the provider's */
} tf_cg_model_t;

typedef struct tf_cg_provider {
    char *id, *name, *protocol, *base_url, *key_env;
    int key_required, enabled;
    int priority, speed, quality;
    double cost_input, cost_output;
    tf_cg_node_t *nodes;
    unsigned nodes_count;
    tf_cg_model_t *models;
    unsigned models_count;
} tf_cg_provider_t;

typedef struct tf_cg_task {
    char *task;
    char **keywords;
    unsigned keywords_count;
    char **models;
    unsigned models_count;
} tf_cg_task_t;

/* spec/tools/<category>.yaml: one MCP tool. */
typedef struct tf_cg_tool {
    char *name, *title, *description, *category, *handler, *min_tier;
    int read_only, destructive, idempotent, open_world; /* annotations: -1 when not given */
    int fixture;            /* a conformance-suite fixture: listed only with conf mcp.conformance */
    int admin;              /* listed to administrators only */
    json_t *input, *output; /* schemas as written (output may be NULL) */
    char *file;             /* spec/tools/<category>.yaml as read */
    unsigned line;
} tf_cg_tool_t;

typedef struct tf_cg_spec {
    char *dir;
    tf_cg_tool_t *tools;
    size_t ntools;
    char **tool_handlers;    /* tf_tool_* definitions found in --tools sources */
    size_t ntool_handlers;
    char **tool_stubs;       /* of those, the ones still calling tf_tool_stub() */
    char **tool_stub_where;  /* "tools/x.c:LINE" of each stub */
    size_t ntool_stubs;
    json_t *prompts, *resources, *templates; /* spec/prompts.yaml, spec/resources.yaml (checked) */
    char *prompts_file;
    int have_providers;
    char *strategy;
    tf_cg_provider_t *providers;
    size_t nproviders;
    tf_cg_task_t *tasks;
    size_t ntasks;
    tf_yaml_lines_t *provider_lines;
    tf_cg_route_t *routes;
    size_t nroutes;
    tf_cg_tier_t *tiers;
    size_t ntiers;
    tf_cg_schema_t *schemas;
    size_t nschemas;
    char **handlers; /* tf_api_* definitions found in --handlers sources */
    size_t nhandlers;
    tf_yaml_lines_t *route_lines, *tier_lines; /* where each key is, for messages */
} tf_cg_spec_t;

/* tf_cg_spec.c: endpoints.yaml and tiers.yaml (libcyaml). */
int tf_cg_load_endpoints(tf_cg_spec_t *s, const char *file);
int tf_cg_load_tiers(tf_cg_spec_t *s, const char *file);
/* Line of `key` in route / tier i (a problem with min_tier points at
 * min_tier:), or of the entry when the key is absent. */
unsigned tf_cg_route_line(const tf_cg_spec_t *s, size_t i, const char *key);
unsigned tf_cg_tier_line(const tf_cg_spec_t *s, size_t i, const char *key);
/* providers.yaml; a missing file is not an error (empty tables). */
int tf_cg_load_providers(tf_cg_spec_t *s, const char *file);
/* Line of a dotted path in providers.yaml ("providers[2].models[1].id"). */
unsigned tf_cg_provider_line(const tf_cg_spec_t *s, const char *path);

/* tf_cg_tools.c: spec/tools/ (optional), the tools/ sources, stubs. */
int tf_cg_load_tools(tf_cg_spec_t *s, const char *dir);
int tf_cg_scan_tools(tf_cg_spec_t *s, const char *dir);
void tf_cg_check_tools(tf_cg_spec_t *s);
/* Appends a stub to tools/<category>.c for each tool without a handler;
 * then every stub (new or old) is an error: the build does not ship them. */
void tf_cg_write_tool_stubs(tf_cg_spec_t *s, const char *dir);

/* tf_cg_yaml.c: any YAML file as JSON, remembering each node's line. */
json_t *tf_cg_yaml_load(const char *file);
unsigned tf_cg_yaml_line(const json_t *node); /* 0 when unknown */
/* The node's line, or fallback when unknown. */
unsigned tf_cg_line_or(const json_t *node, unsigned fallback);
/* Is s one of the NULL-terminated list? */
int tf_cg_in(const char *s, const char *const *list);
/* lower_snake_case: [a-z][a-z0-9_]* */
int tf_cg_snake(const char *s);

/* tf_cg_schema.c: loads spec/schemas/ and checks each schema. */
int tf_cg_load_schemas(tf_cg_spec_t *s, const char *dir);
/* Checks one schema (any json_t from tf_cg_yaml_load), nested ones included;
 * reports with file:line, `where` names it in messages ("register_request/email"). */
void tf_cg_check_schema(const char *file, json_t *schema, const char *where);
#define TF_CG_SCHEMA_DIALECT "https://json-schema.org/draft/2020-12/schema"
/* The schema the validator checks: $refs replaced by their $defs (new reference). */
json_t *tf_cg_schema_resolve(const char *file, json_t *schema);
/* Adds a checked schema for the validator emitter (takes a reference to doc;
 * doc NULL records a schema that failed to load, for name look-ups only). */
void tf_cg_add_schema(tf_cg_spec_t *s, const char *name, const char *file, const char *src, json_t *doc);
const tf_cg_schema_t *tf_cg_find_schema(const tf_cg_spec_t *s, const char *name);

/* tf_cg_check.c: cross-file consistency. */
int tf_cg_scan_handlers(tf_cg_spec_t *s, const char *dir);
/* A C file's text with comments and string/char literals blanked (newlines kept); NULL if unreadable. */
char *tf_cg_read_code(const char *path);
void tf_cg_check(tf_cg_spec_t *s);
int tf_cg_tier_index(const tf_cg_spec_t *s, const char *id);
/* An entry's min_tier as C: the tier's index, or TF_MIN_TIER_MCP when the
 * spec names none (whichever tiers the running conf gives MCP access). */
const char *tf_cg_min_tier_c(const tf_cg_spec_t *s, const char *id, char buf[24]);
/* tf_cg_check_providers.c: providers.yaml alone and against tiers.yaml. */
void tf_cg_check_providers(tf_cg_spec_t *s);

/* ------------------------------------------------------------------ */
/* Output                                                              */

typedef struct tf_cg_buf {
    char *data;
    size_t len, cap;
} tf_cg_buf_t;

void tf_cg_printf(tf_cg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a C string literal (escaped, no quotes). */
void tf_cg_cstr(tf_cg_buf_t *b, const char *s);
void tf_cg_cstrn(tf_cg_buf_t *b, const char *s, size_t len);

/* The first line of every generated file. */
#define TF_CG_BANNER "DO NOT EDIT: generated by codegen/ from "

/*
 * Writes `b` to DIR/NAME through a temporary file, replacing the old file
 * only when the contents differ (so make sees no change when nothing
 * changed). Records NAME as produced. Frees b.
 */
int tf_cg_write(const char *dir, const char *name, tf_cg_buf_t *b);
/* Runs re2c on DIR/in_name to DIR/out_name with the same write-if-changed rule. */
int tf_cg_re2c(const char *dir, const char *in_name, const char *out_name);
/* Deletes generated files in DIR that this run did not produce. */
void tf_cg_remove_stale(const char *dir);

/* Emitters. */
int tf_cg_emit_validators(const tf_cg_spec_t *s, const char *out);
int tf_cg_emit_routes(const tf_cg_spec_t *s, const char *out);
int tf_cg_emit_tiers(const tf_cg_spec_t *s, const char *out);
int tf_cg_emit_handlers(const tf_cg_spec_t *s, const char *out);
int tf_cg_emit_providers(const tf_cg_spec_t *s, const char *out);
int tf_cg_emit_tools(const tf_cg_spec_t *s, const char *out);
/* tf_cg_catalog.c: MCP prompts and resources. */
int tf_cg_load_catalog(tf_cg_spec_t *s, const char *spec_dir);
int tf_cg_emit_catalog(const tf_cg_spec_t *s, const char *out);

#endif
