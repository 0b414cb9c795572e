/*
 * tf_mcp_catalog.c - MCP prompts, resources and completion, served from
 * the generated catalog (spec/prompts.yaml, spec/resources.yaml ->
 * generated/tf_catalog.c). See tf_mcp_int.h.
 *
 * What a caller sees is gated like tools: the entry's min_tier (by default
 * any tier with MCP access in the running conf), and
 * conformance fixtures only with conf mcp.conformance. Lists page with
 * opaque cursors ("p<offset>", "r<offset>", "t<offset>"), like tools/list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_catalog.h"
#include "tf_mcp.h"
#include "tf_mcp_int.h"
#include "tf_resource.h"
#include "tf_tiers.h"

#define COMPLETION_MAX 100

static int may_see(tf_req_t *r, int min_tier, int fixture)
{
    if (fixture && !r->conf->mcp_conformance)
        return 0;
    return tf_conf_tier_reaches(r->conf, r->who.tier, min_tier);
}

static const tf_prompt_t *prompt_for(tf_req_t *r, const char *name)
{
    int k = tf_prompt_find(name);
    return k >= 0 && may_see(r, tf_prompts[k].min_tier, tf_prompts[k].fixture) ? &tf_prompts[k] : NULL;
}

/* The cursor "<c><offset>" of params (0 without one); -1 (answered) when malformed. */
static long cursor_of(tf_mcp_ctx_t *c, char kind, size_t limit)
{
    json_t *cur = json_object_get(tf_mcp_ctx_params(c), "cursor");
    if (cur == NULL)
        return 0;
    const char *s = json_string_value(cur);
    char *end = NULL;
    unsigned long long v = s && s[0] == kind ? strtoull(s + 1, &end, 10) : 0;
    if (s == NULL || s[0] != kind || end == s + 1 || *end != '\0' || v > limit) {
        tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/cursor", "rule", "cursor"), "invalid cursor");
        return -1;
    }
    return (long)v;
}

/*
 * One page of entries (JSON texts) that r may see, from `from`: fills
 * `list` and returns the cursor of the next page (or NULL, freed by the
 * caller).
 */
typedef int (*pick_fn)(tf_req_t *r, size_t i, const char **listing);

static char *page(tf_mcp_ctx_t *c, pick_fn pick, size_t count, size_t from, char kind, json_t *list)
{
    tf_req_t *r = tf_mcp_ctx_req(c);
    size_t size = tf_mcp_ctx_is_rest(c) ? count : r->conf->mcp_page_size, n = 0, i = from;
    const char *l;
    for (; i < count && n < size; i++)
        if (pick(r, i, &l)) {
            json_array_append_new(list, json_loads(l, 0, NULL));
            n++;
        }
    for (size_t more = i; more < count; more++)
        if (pick(r, more, &l)) {
            char *cur = malloc(32);
            snprintf(cur, 32, "%c%zu", kind, i);
            return cur;
        }
    return NULL;
}

static int pick_prompt(tf_req_t *r, size_t i, const char **listing)
{
    *listing = tf_prompts[i].listing;
    return may_see(r, tf_prompts[i].min_tier, tf_prompts[i].fixture);
}

static int pick_resource(tf_req_t *r, size_t i, const char **listing)
{
    *listing = tf_resources[i].listing;
    return !tf_resources[i].is_template && may_see(r, tf_resources[i].min_tier, tf_resources[i].fixture);
}

static int pick_template(tf_req_t *r, size_t i, const char **listing)
{
    *listing = tf_resources[i].listing;
    return tf_resources[i].is_template && may_see(r, tf_resources[i].min_tier, tf_resources[i].fixture);
}

static void list_method(tf_mcp_ctx_t *c, pick_fn pick, size_t count, char kind, const char *key)
{
    long from = cursor_of(c, kind, count);
    if (from < 0)
        return;
    json_t *list = json_array();
    char *next = page(c, pick, count, (size_t)from, kind, list);
    json_t *res = json_pack("{s:o}", key, list);
    if (next != NULL)
        json_object_set_new(res, "nextCursor", json_string(next));
    free(next);
    tf_mcp_ctx_result(c, res);
}

/* --- prompts/get ------------------------------------------------------------------------ */

/* s with each {{name}} replaced from vals (absent: ""). */
static char *substitute(const char *s, json_t *vals)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = malloc(cap);
    for (const char *p = s; *p;) {
        const char *e = p[0] == '{' && p[1] == '{' ? strstr(p + 2, "}}") : NULL;
        const char *add = p;
        size_t n = 1;
        if (e != NULL) {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(e - p - 2), p + 2);
            const char *v = json_string_value(json_object_get(vals, name));
            add = v ? v : "";
            n = strlen(add);
            p = e + 2;
        } else {
            p++;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = realloc(out, cap);
        }
        memcpy(out + len, add, n);
        len += n;
    }
    out[len] = '\0';
    return out;
}

static json_t *fill(json_t *v, json_t *vals)
{
    if (json_is_string(v)) {
        char *t = substitute(json_string_value(v), vals);
        json_t *s = json_string(t);
        free(t);
        return s;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(a, fill(e, vals));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) json_object_set_new(o, k, fill(e, vals));
        return o;
    }
    return json_incref(v);
}

json_t *tf_mcp_prompt_render(tf_req_t *r, const char *name, json_t *args, tf_verr_t *why)
{
    memset(why, 0, sizeof(*why));
    const tf_prompt_t *p = name ? prompt_for(r, name) : NULL;
    if (p == NULL) {
        snprintf(why->pointer, sizeof(why->pointer), "/name");
        why->rule = name ? "enum" : "required";
        snprintf(why->message, sizeof(why->message), name ? "Unknown prompt: %s" : "the prompt's name is required", name ? name : "");
        return NULL;
    }
    if (args != NULL && !json_is_object(args)) {
        snprintf(why->pointer, sizeof(why->pointer), "/arguments");
        why->rule = "type";
        snprintf(why->message, sizeof(why->message), "arguments must be an object");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) {
        if (!json_is_string(v)) {
            snprintf(why->pointer, sizeof(why->pointer), "/arguments/%s", k);
            why->rule = "type";
            snprintf(why->message, sizeof(why->message), "prompt arguments are strings: %s is not", k);
            return NULL;
        }
    }
    json_t *req = json_loads(p->required, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(req, i, e) {
        if (!json_is_string(json_object_get(args, json_string_value(e)))) {
            snprintf(why->pointer, sizeof(why->pointer), "/arguments/%s", json_string_value(e));
            why->rule = "required";
            snprintf(why->message, sizeof(why->message), "prompt %s: argument %s is required", name, json_string_value(e));
            json_decref(req);
            return NULL;
        }
    }
    json_decref(req);
    json_t *vals = args ? json_deep_copy(args) : json_object();
    if (p->persona != NULL)
        json_object_set_new(vals, "persona", json_string(p->persona));
    json_t *tmpl = json_loads(p->messages, 0, NULL);
    json_t *msgs = fill(tmpl, vals);
    json_decref(tmpl);
    json_decref(vals);
    return msgs;
}

static void prompts_get(tf_mcp_ctx_t *c)
{
    json_t *params = tf_mcp_ctx_params(c);
    const char *name = json_string_value(json_object_get(params, "name"));
    tf_verr_t why;
    json_t *msgs = tf_mcp_prompt_render(tf_mcp_ctx_req(c), name, json_object_get(params, "arguments"), &why);
    if (msgs == NULL) {
        char f[300];
        snprintf(f, sizeof(f), "/params%s", why.pointer);
        tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s, s:s}", "field", f, "rule", why.rule), "prompts/get: %s", why.message);
        return;
    }
    json_t *listing = json_loads(tf_prompts[tf_prompt_find(name)].listing, 0, NULL);
    tf_mcp_ctx_result(c, json_pack("{s:O, s:o}", "description", json_object_get(listing, "description"), "messages", msgs));
    json_decref(listing);
}

json_t *tf_mcp_prompts_visible(tf_req_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < tf_prompts_count; i++)
        if (may_see(r, tf_prompts[i].min_tier, tf_prompts[i].fixture))
            json_array_append_new(a, json_loads(tf_prompts[i].listing, 0, NULL));
    return a;
}

/* --- resources/read --------------------------------------------------------------------- */

/* Does uri match template t ("a://b/{x}/c")? Fills vars; a variable is one or more characters other than '/'. */
static int template_match(const char *t, const char *uri, json_t *vars)
{
    while (*t) {
        if (*t == '{') {
            const char *e = strchr(t, '}');
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(e - t - 1), t + 1);
            t = e + 1;
            const char *stop = *t ? strchr(uri, *t) : uri + strlen(uri);
            const char *slash = strchr(uri, '/');
            if (stop == NULL || stop == uri || (slash != NULL && slash < stop))
                return 0;
            json_object_set_new(vars, name, json_stringn(uri, (size_t)(stop - uri)));
            uri = stop;
        } else {
            if (*t != *uri)
                return 0;
            t++, uri++;
        }
    }
    return *uri == '\0';
}

/* The resource r may read at uri (vars filled for a template), or NULL. */
static const tf_resource_t *resource_for(tf_req_t *r, const char *uri, json_t *vars)
{
    for (size_t i = 0; i < tf_resources_count; i++) {
        const tf_resource_t *res = &tf_resources[i];
        if (!may_see(r, res->min_tier, res->fixture))
            continue;
        if (!res->is_template && strcmp(res->uri, uri) == 0)
            return res;
        if (res->is_template && template_match(res->uri, uri, vars))
            return res;
        json_object_clear(vars);
    }
    return NULL;
}

int tf_mcp_catalog_has_resource(tf_req_t *r, const char *uri)
{
    json_t *vars = json_object();
    int found = resource_for(r, uri, vars) != NULL;
    json_decref(vars);
    return found;
}

typedef struct reading {
    tf_resource_read_t rd;
    tf_mcp_ctx_t *c;
} reading_t;

static void read_done(tf_resource_read_t *rd, json_t *contents)
{
    reading_t *rg = rd->ud;
    if (contents == NULL)
        tf_mcp_ctx_error(rg->c, TF_RPC_NOT_FOUND, json_pack("{s:s}", "uri", rd->uri), "Resource not found: %s", rd->uri);
    else
        tf_mcp_ctx_result(rg->c, json_pack("{s:o}", "contents", contents));
    json_decref(rd->vars);
    rd->vars = NULL;
}

static void resources_read(tf_mcp_ctx_t *c)
{
    tf_req_t *r = tf_mcp_ctx_req(c);
    const char *uri = json_string_value(json_object_get(tf_mcp_ctx_params(c), "uri"));
    if (uri == NULL) {
        tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/uri", "rule", "required"), "resources/read: params.uri is required");
        return;
    }
    json_t *vars = json_object();
    const tf_resource_t *res = resource_for(r, uri, vars);
    if (res == NULL) {
        json_decref(vars);
        tf_mcp_ctx_error(c, TF_RPC_NOT_FOUND, json_pack("{s:s}", "uri", uri), "Resource not found: %s", uri);
        return;
    }
    if (res->handler == NULL) {
        json_decref(vars);
        json_t *one = json_pack("{s:s, s:s}", "uri", uri, "mimeType", res->mime_type);
        json_object_set_new(one, res->text ? "text" : "blob", json_string(res->text ? res->text : res->blob));
        tf_mcp_ctx_result(c, json_pack("{s:[o]}", "contents", one));
        return;
    }
    reading_t *rg = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*rg));
    memset(rg, 0, sizeof(*rg));
    rg->c = c;
    rg->rd.r = r;
    rg->rd.res = res;
    rg->rd.uri = h2o_strdup(&r->h2o->pool, uri, SIZE_MAX).base;
    rg->rd.vars = vars;
    rg->rd.done = read_done;
    rg->rd.ud = rg;
    if (res->handler(&rg->rd) != 0 && !rg->rd.answered) {
        rg->rd.answered = 1;
        json_decref(rg->rd.vars);
        rg->rd.vars = NULL;
        tf_mcp_ctx_error(c, TF_RPC_INTERNAL, NULL, "resource %s could not be read", uri);
    }
}

void tf_resource_json(tf_resource_read_t *rd, json_t *value)
{
    char *t = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(value);
    tf_resource_text(rd, "application/json", t ? t : "null");
    free(t);
}

void tf_resource_text(tf_resource_read_t *rd, const char *mime, const char *text)
{
    if (rd->answered)
        return;
    rd->answered = 1;
    rd->done(rd, json_pack("[{s:s, s:s, s:s}]", "uri", rd->uri, "mimeType", mime, "text", text));
}

void tf_resource_not_found(tf_resource_read_t *rd)
{
    if (rd->answered)
        return;
    rd->answered = 1;
    rd->done(rd, NULL);
}

/* --- completion/complete ------------------------------------------------------------------- */

static void complete(tf_mcp_ctx_t *c)
{
    tf_req_t *r = tf_mcp_ctx_req(c);
    json_t *params = tf_mcp_ctx_params(c);
    json_t *ref = json_object_get(params, "ref"), *arg = json_object_get(params, "argument");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *aname = json_string_value(json_object_get(arg, "name"));
    const char *value = json_string_value(json_object_get(arg, "value"));
    if (type == NULL || (strcmp(type, "ref/prompt") != 0 && strcmp(type, "ref/resource") != 0)) {
        tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s, s:s}", "field", "/params/ref/type", "rule", "enum"),
                         "completion/complete: ref.type must be ref/prompt or ref/resource");
        return;
    }
    if (aname == NULL || value == NULL) {
        tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s, s:s}", "field", aname ? "/params/argument/value" : "/params/argument/name", "rule", "required"),
                         "completion/complete: argument.name and argument.value are required");
        return;
    }
    const char *comps = NULL;
    if (strcmp(type, "ref/prompt") == 0) {
        const char *name = json_string_value(json_object_get(ref, "name"));
        const tf_prompt_t *p = name ? prompt_for(r, name) : NULL;
        if (p == NULL) {
            tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s}", "field", "/params/ref/name"), "Unknown prompt: %s", name ? name : "(none)");
            return;
        }
        comps = p->completions;
    } else {
        const char *uri = json_string_value(json_object_get(ref, "uri"));
        const tf_resource_t *found = NULL;
        for (size_t i = 0; uri && i < tf_resources_count && !found; i++)
            if (tf_resources[i].is_template && strcmp(tf_resources[i].uri, uri) == 0 &&
                may_see(r, tf_resources[i].min_tier, tf_resources[i].fixture))
                found = &tf_resources[i];
        if (found == NULL) {
            tf_mcp_ctx_error(c, TF_RPC_PARAMS, json_pack("{s:s}", "field", "/params/ref/uri"), "Unknown resource template: %s", uri ? uri : "(none)");
            return;
        }
        comps = found->completions;
    }
    json_t *all = comps ? json_loads(comps, 0, NULL) : NULL;
    json_t *values = json_array();
    size_t total = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(all, aname), i, e) {
        const char *s = json_string_value(e);
        if (strncmp(s, value, strlen(value)) == 0) {
            if (total < COMPLETION_MAX)
                json_array_append(values, e);
            total++;
        }
    }
    json_decref(all);
    tf_mcp_ctx_result(c, json_pack("{s:{s:o, s:I, s:b}}", "completion", "values", values, "total", (json_int_t)total, "hasMore",
                                   total > COMPLETION_MAX));
}

/* --- dispatch and REST -------------------------------------------------------------------------- */

int tf_mcp_catalog_dispatch(tf_mcp_ctx_t *c, const char *method)
{
    if (strcmp(method, "prompts/list") == 0)
        list_method(c, pick_prompt, tf_prompts_count, 'p', "prompts");
    else if (strcmp(method, "prompts/get") == 0)
        prompts_get(c);
    else if (strcmp(method, "resources/list") == 0)
        list_method(c, pick_resource, tf_resources_count, 'r', "resources");
    else if (strcmp(method, "resources/templates/list") == 0)
        list_method(c, pick_template, tf_resources_count, 't', "resourceTemplates");
    else if (strcmp(method, "resources/read") == 0)
        resources_read(c);
    else if (strcmp(method, "completion/complete") == 0)
        complete(c);
    else
        return 0;
    return 1;
}

int tf_mcp_rest_prompts(tf_req_t *r)
{
    tf_mcp_ctx_t *c = tf_mcp_rest_ctx(r);
    list_method(c, pick_prompt, tf_prompts_count, 'p', "prompts");
    return 0;
}

int tf_mcp_rest_resources(tf_req_t *r)
{
    tf_mcp_ctx_t *c = tf_mcp_rest_ctx(r);
    json_t *res = json_array(), *tpl = json_array();
    char *n1 = page(c, pick_resource, tf_resources_count, 0, 'r', res);
    char *n2 = page(c, pick_template, tf_resources_count, 0, 't', tpl);
    free(n1);
    free(n2);
    tf_respond_json(r, 200, json_pack("{s:o, s:o}", "resources", res, "resourceTemplates", tpl));
    return 0;
}
