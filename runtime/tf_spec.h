/*
 * tf_spec.h - the contract between the code generator's output
 * (generated/) and the runtime (runtime/).
 *
 * codegen reads the YAML under spec/ and emits C tables of the types declared here;
 * the runtime walks those tables. Nothing in this header depends on h2o so
 * the generated code and its unit tests build without the server.
 */
#ifndef TF_SPEC_H
#define TF_SPEC_H

#include <stddef.h>
#include <jansson.h>

/* Request handling context, defined by the runtime (tf_http.h). */
typedef struct tf_req tf_req_t;

/*
 * A route handler. Returns 0 when it has answered or will answer later
 * (asynchronously, via tf_respond_*), -1 on an internal fault (the pipeline
 * then answers 500).
 */
typedef int (*tf_handler_fn)(tf_req_t *req);

/* A byte range inside a buffer that outlives its use (the request path). */
typedef struct tf_span {
    const char *base;
    size_t len;
} tf_span_t;

/* ------------------------------------------------------------------ */
/* Validators                                                          */

/* Why a JSON value was refused: where (JSON pointer) and which rule. */
typedef struct tf_verr {
    char pointer[256]; /* RFC 6901 pointer, "" for the document root */
    const char *rule;  /* schema keyword: "type", "required", "maxLength", ... */
    char message[256]; /* a sentence for humans */
    unsigned defaults; /* schema defaults the validator added (the value is no longer the text it came from) */
} tf_verr_t;

/*
 * Validates `v` against one schema. Applies `default` values of absent
 * properties into `v` (so `v` is not const). Returns 0 when valid, -1 with
 * *err filled otherwise. Stops at the first violation.
 */
typedef int (*tf_validator_fn)(json_t *v, tf_verr_t *err);

/* ------------------------------------------------------------------ */
/* Routes                                                              */

typedef enum tf_auth_policy {
    TF_AUTH_PUBLIC = 0, /* anyone, guests included */
    TF_AUTH_USER = 1,   /* an authenticated user */
    TF_AUTH_ADMIN = 2   /* an authenticated admin */
} tf_auth_policy_t;

#define TF_ROUTE_MAX_PARAMS 4

/* Route flags. */
#define TF_ROUTE_NEEDS_DB 0x1u /* answer 503 at once when the database is down */
#define TF_ROUTE_MCP 0x2u      /* MCP: only tiers with mcp_access (in the conf snapshot) */

typedef struct tf_route {
    const char *name;    /* spec name, unique: "health", "tiers_list" */
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;    /* as written in the spec: "/v1/mesh/task/{id}" */
    tf_auth_policy_t auth;
    int min_tier;        /* index into tf_tiers[] */
    unsigned flags;      /* TF_ROUTE_* */
    tf_validator_fn validate; /* request body schema, NULL when none */
    const char *schema;  /* schema name, NULL when none */
    tf_handler_fn handler;
    const char *handler_name; /* "tf_api_health" */
    int nparams;
    const char *param_names[TF_ROUTE_MAX_PARAMS];
} tf_route_t;

/* Path parameters of a matched route, in the order of param_names. */
typedef struct tf_route_params {
    int count;
    tf_span_t values[TF_ROUTE_MAX_PARAMS];
} tf_route_params_t;

#define TF_ROUTE_NOT_FOUND (-1)          /* no route has this path: 404 */
#define TF_ROUTE_METHOD_NOT_ALLOWED (-2) /* path known, method not: 405 */

/* ------------------------------------------------------------------ */
/* Tiers                                                               */

typedef struct tf_tier {
    const char *id;           /* "guest", "registered", "pro", "unlimited" */
    const char *name;         /* display name */
    const char *const *aliases; /* NULL-terminated: "enterprise" */
    int rank;                 /* position in the spec; higher is more */
    double price_monthly;     /* EUR */
    double price_yearly;      /* EUR, < 0 when not offered */
    const char *const *models; /* NULL-terminated glob patterns */
    long long daily_tokens;   /* < 0: unlimited */
    int ollama_unlimited;     /* ollama/ models do not count against daily_tokens */
    long long requests_per_hour; /* < 0: unlimited */
    int mcp_access;
    int priority;             /* priority queue */
    const char *const *features; /* NULL-terminated, shown to users */
} tf_tier_t;

/* ------------------------------------------------------------------ */
/* MCP tools (spec/tools/<category>.yaml, handlers in tools/<category>.c) */

typedef struct tf_tool_call tf_tool_call_t; /* defined by the runtime (tf_tool.h) */

/* A tool handler: answers through tf_tool_result or tf_tool_fail, now or later; -1 on an internal fault. */
typedef int (*tf_tool_fn)(tf_tool_call_t *call);

/*
 * The min_tier of a tool, prompt or resource whose spec names none: every
 * tier with MCP access, as the running conf says (tiers: mcp_access), so an
 * operator who opens MCP to a tier opens its default catalogue too.
 */
#define TF_MIN_TIER_MCP (-1)

typedef struct tf_tool {
    const char *name, *title, *description, *category;
    const char *listing;   /* its tools/list entry as JSON text */
    int min_tier;          /* index into tf_tiers[], or TF_MIN_TIER_MCP */
    int read_only, destructive, idempotent, open_world; /* annotations; -1 when not given */
    tf_validator_fn validate_input;
    tf_validator_fn validate_output; /* NULL: no output schema */
    tf_tool_fn handler;
    const char *handler_name;
    int fixture;           /* conformance-suite fixture: only with conf mcp.conformance */
    int admin;             /* listed to administrators only */
} tf_tool_t;

/* ------------------------------------------------------------------ */
/* MCP prompts and resources (spec/prompts.yaml, spec/resources.yaml) */

typedef struct tf_prompt {
    const char *name;
    const char *listing;     /* its prompts/list entry as JSON text */
    const char *messages;    /* MCP PromptMessage[] as JSON text, with {{argument}} placeholders */
    const char *required;    /* JSON array of the required arguments' names */
    const char *completions; /* JSON object argument -> [values], or NULL */
    const char *persona;     /* the persona text ({{persona}}), or NULL */
    int min_tier;            /* index into tf_tiers[], or TF_MIN_TIER_MCP */
    int fixture;
} tf_prompt_t;

typedef struct tf_resource_read tf_resource_read_t; /* defined by the runtime (tf_resource.h) */
typedef int (*tf_resource_fn)(tf_resource_read_t *rd);

typedef struct tf_resource {
    const char *uri;         /* the URI, or the URI template ({var}) */
    int is_template;
    const char *listing;     /* its resources/list or resources/templates/list entry */
    const char *mime_type;
    const char *text, *blob; /* static contents (blob: base64), or NULL */
    tf_resource_fn handler;  /* dynamic contents, or NULL */
    const char *completions; /* templates: JSON object variable -> [values], or NULL */
    int min_tier;            /* index into tf_tiers[], or TF_MIN_TIER_MCP */
    int fixture;
} tf_resource_t;

/* ------------------------------------------------------------------ */
/* Providers (spec/providers.yaml; conf may override URLs, keys, nodes) */

typedef struct tf_spec_node {
    const char *name;     /* "default" when the spec gives a base_url only */
    const char *base_url; /* no trailing slash */
    int enabled;
} tf_spec_node_t;

typedef struct tf_spec_model {
    const char *id;       /* after "provider/": "llama-3.3-70b" */
    const char *name;     /* public: "groq/llama-3.3-70b" */
    const char *upstream; /* the provider's own name */
    const char *family;   /* shared by providers serving the same model */
    int quality;          /* 1..5 (the provider's unless overridden) */
    double cost_input, cost_output; /* USD per million tokens */
} tf_spec_model_t;

typedef struct tf_spec_provider {
    const char *id, *name;
    const char *protocol; /* "openai", "anthropic", "gemini", "ollama" */
    const char *key_env;  /* NULL: none */
    int key_required, enabled;
    int priority, speed, quality; /* 1..4, 1..5, 1..5 */
    const tf_spec_node_t *nodes;
    size_t nnodes;
    const tf_spec_model_t *models;
    size_t nmodels;
} tf_spec_provider_t;

/* Task routing for model "auto". */
typedef struct tf_spec_task {
    const char *task;
    const char *const *keywords; /* NULL-terminated, lower-case */
    const char *const *models;   /* NULL-terminated "provider/model" */
} tf_spec_task_t;

#endif
