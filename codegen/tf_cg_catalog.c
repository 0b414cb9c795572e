/*
 * tf_cg_catalog.c - MCP prompts and resources as specs, emitted as
 * generated/tf_catalog.{h,c}.
 *
 * spec/prompts.yaml
 *   prompts:
 *     - name: code_review             lower_snake_case, unique
 *       title: ...                    shown by clients
 *       description: ...
 *       min_tier: registered          optional (default: any tier with MCP access in the running conf)
 *       fixture: true                 optional: conformance-suite fixture (conf mcp.conformance)
 *       persona: "You are ..."        optional text, {{persona}} in messages; code may reuse it
 *       arguments:
 *         - {name: code, description: ..., required: true, values: [a, b]}   values: completions
 *       messages:                     role user|assistant, and one of:
 *         - {role: user, text: "Review this {{language}}: {{code}}"}
 *         - {role: user, image: {data: BASE64, mimeType: image/png}}
 *         - {role: user, resource: {uri: ..., mimeType: ..., text: ...}}
 *
 * spec/resources.yaml
 *   resources:                        fixed URIs: static (text or blob) or a handler
 *     - {uri: triforce://tiers, name: tiers, title: ..., description: ..., mimeType: ..., handler: tiers}
 *   templates:                        RFC 6570 level 1 ({var}), always a handler
 *     - {uriTemplate: "triforce://memory/{id}", name: ..., ..., handler: memory, completions: {id: [...]}}
 *
 * A handler h is int tf_resource_h(tf_resource_read_t *) in tools/resources.c.
 * {{placeholders}} must name an argument (or persona); everything else is
 * checked here so the runtime never meets a malformed entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"




static void keys_known(const char *file, json_t *o, const char *const *known, const char *what, unsigned line)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!tf_cg_in(k, known))
            tf_cg_error(file, tf_cg_line_or(v, line), "%s: unknown key '%s'", what, k);
    }
}

static const char *text_member(const char *file, json_t *o, const char *key, int required, const char *what, unsigned line)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (required)
            tf_cg_error(file, line, "%s: '%s' is required", what, key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        tf_cg_error(file, tf_cg_line_or(v, line), "%s: '%s' must be a non-empty string", what, key);
        return NULL;
    }
    return json_string_value(v);
}

static void flag_member(const char *file, json_t *o, const char *key, const char *what, unsigned line)
{
    json_t *v = json_object_get(o, key);
    if (v != NULL && !json_is_boolean(v))
        tf_cg_error(file, tf_cg_line_or(v, line), "%s: %s must be true or false", what, key);
}

static void tier_member(tf_cg_spec_t *s, const char *file, json_t *o, const char *what, unsigned line)
{
    const char *t = text_member(file, o, "min_tier", 0, what, line);
    if (t != NULL && tf_cg_tier_index(s, t) < 0)
        tf_cg_error(file, tf_cg_line_or(json_object_get(o, "min_tier"), line), "%s: min_tier '%s' is not a tier of tiers.yaml", what, t);
}

/* Every {{name}} in text must be allowed (NULL-terminated list). */
static void check_placeholders(const char *file, unsigned line, const char *text, json_t *names, const char *what)
{
    for (const char *p = strstr(text, "{{"); p != NULL; p = strstr(p + 2, "{{")) {
        const char *e = strstr(p + 2, "}}");
        if (e == NULL) {
            tf_cg_error(file, line, "%s: '{{' without '}}'", what);
            return;
        }
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(e - p - 2), p + 2);
        if (json_object_get(names, name) == NULL)
            tf_cg_error(file, line, "%s: placeholder {{%s}} is not an argument of the prompt", what, name);
    }
}

static void check_strings(const char *file, unsigned line, json_t *v, json_t *names, const char *what)
{
    if (json_is_string(v)) {
        check_placeholders(file, line, json_string_value(v), names, what);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) check_strings(file, tf_cg_line_or(x, line), x, names, what);
    }
}

static void load_prompts(tf_cg_spec_t *s, const char *file)
{
    json_t *doc = tf_cg_yaml_load(file);
    if (doc == NULL)
        return;
    static const char *const top[] = {"prompts", NULL};
    keys_known(file, doc, top, "prompts.yaml", 1);
    json_t *list = json_object_get(doc, "prompts");
    if (!json_is_array(list)) {
        tf_cg_error(file, tf_cg_line_or(list, 1), "'prompts' must be a list");
        json_decref(doc);
        return;
    }
    static const char *const pkeys[] = {"name", "title", "description", "min_tier", "fixture", "persona", "arguments", "messages", NULL};
    static const char *const akeys[] = {"name", "description", "required", "values", NULL};
    static const char *const mkeys[] = {"role", "text", "image", "resource", NULL};
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        unsigned line = tf_cg_line_or(p, 1);
        if (!json_is_object(p)) {
            tf_cg_error(file, line, "prompts[%zu] must be a mapping", i);
            continue;
        }
        const char *name = text_member(file, p, "name", 1, "prompt", line);
        char what[200];
        snprintf(what, sizeof(what), "prompt '%s'", name ? name : "?");
        keys_known(file, p, pkeys, what, line);
        if (name != NULL && !tf_cg_snake(name))
            tf_cg_error(file, line, "%s: the name must be lower_snake_case", what);
        for (size_t j = 0; j < i && name; j++)
            if (json_equal(json_object_get(json_array_get(list, j), "name"), json_object_get(p, "name")))
                tf_cg_error(file, line, "%s is defined twice", what);
        text_member(file, p, "title", 1, what, line);
        text_member(file, p, "description", 1, what, line);
        flag_member(file, p, "fixture", what, line);
        tier_member(s, file, p, what, line);
        json_t *names = json_object();
        if (text_member(file, p, "persona", 0, what, line) != NULL)
            json_object_set_new(names, "persona", json_true());
        json_t *args = json_object_get(p, "arguments");
        size_t k;
        json_t *a;
        if (args != NULL && !json_is_array(args))
            tf_cg_error(file, tf_cg_line_or(args, line), "%s: arguments must be a list", what);
        json_array_foreach(args, k, a) {
            unsigned al = tf_cg_line_or(a, line);
            if (!json_is_object(a)) {
                tf_cg_error(file, al, "%s: arguments[%zu] must be a mapping", what, k);
                continue;
            }
            keys_known(file, a, akeys, what, al);
            const char *an = text_member(file, a, "name", 1, what, al);
            text_member(file, a, "description", 0, what, al);
            flag_member(file, a, "required", what, al);
            json_t *vals = json_object_get(a, "values");
            size_t q;
            json_t *v;
            if (vals != NULL && !json_is_array(vals))
                tf_cg_error(file, tf_cg_line_or(vals, al), "%s: values must be a list of strings", what);
            json_array_foreach(vals, q, v) if (!json_is_string(v)) tf_cg_error(file, tf_cg_line_or(v, al), "%s: values must be strings", what);
            if (an != NULL) {
                if (json_object_get(names, an) != NULL)
                    tf_cg_error(file, al, "%s: argument '%s' twice (or named persona)", what, an);
                json_object_set_new(names, an, json_true());
            }
        }
        json_t *msgs = json_object_get(p, "messages");
        if (!json_is_array(msgs) || json_array_size(msgs) == 0)
            tf_cg_error(file, tf_cg_line_or(msgs, line), "%s: messages must be a non-empty list", what);
        json_t *m;
        json_array_foreach(msgs, k, m) {
            unsigned ml = tf_cg_line_or(m, line);
            if (!json_is_object(m)) {
                tf_cg_error(file, ml, "%s: messages[%zu] must be a mapping", what, k);
                continue;
            }
            keys_known(file, m, mkeys, what, ml);
            const char *role = text_member(file, m, "role", 1, what, ml);
            if (role != NULL && strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
                tf_cg_error(file, ml, "%s: role must be user or assistant (MCP prompts have no system role)", what);
            int kinds = !!json_object_get(m, "text") + !!json_object_get(m, "image") + !!json_object_get(m, "resource");
            if (kinds != 1)
                tf_cg_error(file, ml, "%s: messages[%zu] needs exactly one of text, image, resource", what, k);
            json_t *img = json_object_get(m, "image"), *res = json_object_get(m, "resource");
            if (img != NULL && (!json_is_string(json_object_get(img, "data")) || !json_is_string(json_object_get(img, "mimeType"))))
                tf_cg_error(file, ml, "%s: image needs data (base64) and mimeType", what);
            if (res != NULL && (!json_is_string(json_object_get(res, "uri")) || !json_is_string(json_object_get(res, "text"))))
                tf_cg_error(file, ml, "%s: resource needs uri and text", what);
            if (json_object_get(m, "text") != NULL && !json_is_string(json_object_get(m, "text")))
                tf_cg_error(file, ml, "%s: text must be a string", what);
            check_strings(file, ml, m, names, what);
        }
        json_decref(names);
    }
    s->prompts = json_incref(list);
    s->prompts_file = strdup(file);
    json_decref(doc);
}

/* "scheme://rest": the URI forms MCP resources use. */
static int uri_ok(const char *u)
{
    const char *c = strstr(u, "://");
    if (c == NULL || c == u || c[3] == '\0')
        return 0;
    for (const char *p = u; p < c; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))
            return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
            return 0;
    return 1;
}

static void load_resources(tf_cg_spec_t *s, const char *file)
{
    json_t *doc = tf_cg_yaml_load(file);
    if (doc == NULL)
        return;
    static const char *const top[] = {"resources", "templates", NULL};
    keys_known(file, doc, top, "resources.yaml", 1);
    static const char *const rkeys[] = {"uri", "name", "title", "description", "mimeType", "min_tier", "fixture", "handler", "text", "blob", NULL};
    static const char *const tkeys[] = {"uriTemplate", "name", "title", "description", "mimeType", "min_tier", "fixture", "handler", "completions", NULL};
    for (int tpl = 0; tpl < 2; tpl++) {
        json_t *list = json_object_get(doc, tpl ? "templates" : "resources");
        if (list == NULL)
            continue;
        if (!json_is_array(list)) {
            tf_cg_error(file, tf_cg_line_or(list, 1), "'%s' must be a list", tpl ? "templates" : "resources");
            continue;
        }
        size_t i;
        json_t *r;
        json_array_foreach(list, i, r) {
            unsigned line = tf_cg_line_or(r, 1);
            if (!json_is_object(r)) {
                tf_cg_error(file, line, "%s[%zu] must be a mapping", tpl ? "templates" : "resources", i);
                continue;
            }
            const char *uri = text_member(file, r, tpl ? "uriTemplate" : "uri", 1, tpl ? "template" : "resource", line);
            char what[400];
            snprintf(what, sizeof(what), "%s '%s'", tpl ? "template" : "resource", uri ? uri : "?");
            keys_known(file, r, tpl ? tkeys : rkeys, what, line);
            if (uri != NULL && !uri_ok(uri))
                tf_cg_error(file, line, "%s: not a scheme://... URI", what);
            for (size_t j = 0; j < i && uri; j++)
                if (json_equal(json_object_get(json_array_get(list, j), tpl ? "uriTemplate" : "uri"), json_object_get(r, tpl ? "uriTemplate" : "uri")))
                    tf_cg_error(file, line, "%s is defined twice", what);
            text_member(file, r, "name", 1, what, line);
            text_member(file, r, "title", 0, what, line);
            text_member(file, r, "description", 0, what, line);
            text_member(file, r, "mimeType", 1, what, line);
            flag_member(file, r, "fixture", what, line);
            tier_member(s, file, r, what, line);
            const char *h = text_member(file, r, "handler", 0, what, line);
            if (h != NULL && !tf_cg_snake(h))
                tf_cg_error(file, line, "%s: handler '%s' must be lower_snake_case", what, h);
            int content = !!json_object_get(r, "text") + !!json_object_get(r, "blob");
            if (tpl && h == NULL)
                tf_cg_error(file, line, "%s: a template needs a handler", what);
            if (!tpl && (h != NULL) + content != 1)
                tf_cg_error(file, line, "%s: needs exactly one of handler, text, blob", what);
            if (tpl && uri != NULL) {
                /* Level 1 only: {name} with a lower_snake_case name, at least one. */
                int vars = 0;
                for (const char *p = strchr(uri, '{'); p != NULL; p = strchr(p + 1, '{')) {
                    const char *e = strchr(p, '}');
                    char v[64];
                    snprintf(v, sizeof(v), "%.*s", e ? (int)(e - p - 1) : 0, p + 1);
                    if (e == NULL || !tf_cg_snake(v) || e[1] == '{')
                        tf_cg_error(file, line, "%s: variables are {lower_snake_case}, separated by text", what);
                    vars++;
                }
                if (vars == 0)
                    tf_cg_error(file, line, "%s: a template needs a {variable}", what);
                json_t *comp = json_object_get(r, "completions");
                const char *k;
                json_t *v;
                if (comp != NULL && !json_is_object(comp))
                    tf_cg_error(file, tf_cg_line_or(comp, line), "%s: completions must map variables to lists", what);
                json_object_foreach(comp, k, v) {
                    char needle[80];
                    snprintf(needle, sizeof(needle), "{%s}", k);
                    if (strstr(uri, needle) == NULL)
                        tf_cg_error(file, tf_cg_line_or(v, line), "%s: completions for '%s', which is not a variable", what, k);
                    if (!json_is_array(v))
                        tf_cg_error(file, tf_cg_line_or(v, line), "%s: completions of '%s' must be a list", what, k);
                }
            }
        }
    }
    s->resources = json_incref(json_object_get(doc, "resources"));
    s->templates = json_incref(json_object_get(doc, "templates"));
    json_decref(doc);
}

int tf_cg_load_catalog(tf_cg_spec_t *s, const char *spec_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/prompts.yaml", spec_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        fclose(f);
        load_prompts(s, path);
    }
    snprintf(path, sizeof(path), "%s/resources.yaml", spec_dir);
    f = fopen(path, "r");
    if (f != NULL) {
        fclose(f);
        load_resources(s, path);
    }
    return 0;
}

/* --- emission ------------------------------------------------------------------------------- */


static void cstr_or_null(tf_cg_buf_t *c, const char *v)
{
    if (v == NULL) {
        tf_cg_printf(c, "NULL");
        return;
    }
    tf_cg_printf(c, "\"");
    tf_cg_cstr(c, v);
    tf_cg_printf(c, "\"");
}

static void cjson(tf_cg_buf_t *c, json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    cstr_or_null(c, t);
    free(t);
}

/* A message of the spec as MCP has it: {role, content: {type, ...}}. */
static json_t *mcp_message(json_t *m)
{
    json_t *content;
    if (json_object_get(m, "text") != NULL)
        content = json_pack("{s:s, s:O}", "type", "text", "text", json_object_get(m, "text"));
    else if (json_object_get(m, "image") != NULL)
        content = json_pack("{s:s, s:O, s:O}", "type", "image", "data", json_object_get(json_object_get(m, "image"), "data"), "mimeType",
                            json_object_get(json_object_get(m, "image"), "mimeType"));
    else
        content = json_pack("{s:s, s:O}", "type", "resource", "resource", json_object_get(m, "resource"));
    return json_pack("{s:O, s:o}", "role", json_object_get(m, "role"), "content", content);
}

int tf_cg_emit_catalog(const tf_cg_spec_t *s, const char *out)
{
    tf_cg_buf_t h = {0}, c = {0};
    tf_cg_printf(&h, "/* " TF_CG_BANNER "spec/prompts.yaml, spec/resources.yaml */\n#ifndef TF_CATALOG_H\n#define TF_CATALOG_H\n\n"
                     "#include <stddef.h>\n\n#include \"tf_spec.h\"\n\nextern const tf_prompt_t tf_prompts[];\nextern const size_t tf_prompts_count;\n"
                     "extern const tf_resource_t tf_resources[]; /* fixed URIs first, then templates */\nextern const size_t tf_resources_count;\n\n"
                     "/* Index of a prompt by name, or -1. */\nint tf_prompt_find(const char *name);\n\n");
    tf_cg_printf(&c, "/* " TF_CG_BANNER "spec/prompts.yaml, spec/resources.yaml */\n#include <string.h>\n\n#include \"tf_catalog.h\"\n\n");
    /* Handler prototypes, once each. */
    json_t *seen = json_object();
    for (int tpl = 0; tpl < 2; tpl++) {
        size_t i;
        json_t *r;
        json_array_foreach(tpl ? s->templates : s->resources, i, r) {
            const char *hn = json_string_value(json_object_get(r, "handler"));
            if (hn != NULL && json_object_get(seen, hn) == NULL) {
                json_object_set_new(seen, hn, json_true());
                tf_cg_printf(&h, "int tf_resource_%s(tf_resource_read_t *rd);\n", hn);
            }
        }
    }
    json_decref(seen);
    tf_cg_printf(&h, "\n#endif\n");

    /* Prompts, sorted by name: stable pages, binary search. */
    size_t np = json_array_size(s->prompts);
    size_t *ord = calloc(np + 1, sizeof(size_t));
    for (size_t i = 0; i < np; i++)
        ord[i] = i;
    for (size_t i = 1; i < np; i++)
        for (size_t j = i; j > 0 && strcmp(json_string_value(json_object_get(json_array_get(s->prompts, ord[j - 1]), "name")),
                                           json_string_value(json_object_get(json_array_get(s->prompts, ord[j]), "name"))) > 0; j--) {
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    tf_cg_printf(&c, "const tf_prompt_t tf_prompts[] = {\n");
    for (size_t k = 0; k < np; k++) {
        json_t *p = json_array_get(s->prompts, ord[k]);
        json_t *args = json_array(), *required = json_array(), *comps = json_object();
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(p, "arguments"), i, a) {
            json_t *e = json_pack("{s:O}", "name", json_object_get(a, "name"));
            if (json_object_get(a, "description"))
                json_object_set(e, "description", json_object_get(a, "description"));
            json_object_set_new(e, "required", json_boolean(json_is_true(json_object_get(a, "required"))));
            json_array_append_new(args, e);
            if (json_is_true(json_object_get(a, "required")))
                json_array_append(required, json_object_get(a, "name"));
            if (json_object_get(a, "values"))
                json_object_set(comps, json_string_value(json_object_get(a, "name")), json_object_get(a, "values"));
        }
        json_t *listing = json_pack("{s:O, s:O, s:O, s:o}", "name", json_object_get(p, "name"), "title", json_object_get(p, "title"),
                                    "description", json_object_get(p, "description"), "arguments", args);
        json_t *msgs = json_array();
        json_t *m;
        json_array_foreach(json_object_get(p, "messages"), i, m) json_array_append_new(msgs, mcp_message(m));
        tf_cg_printf(&c, "    {\"%s\",\n     ", json_string_value(json_object_get(p, "name")));
        cjson(&c, listing);
        tf_cg_printf(&c, ",\n     ");
        cjson(&c, msgs);
        tf_cg_printf(&c, ",\n     ");
        cjson(&c, required);
        tf_cg_printf(&c, ",\n     ");
        if (json_object_size(comps) > 0)
            cjson(&c, comps);
        else
            tf_cg_printf(&c, "NULL");
        tf_cg_printf(&c, ",\n     ");
        cstr_or_null(&c, json_string_value(json_object_get(p, "persona")));
        char tb[24];
        tf_cg_printf(&c, ", %s, %d},\n", tf_cg_min_tier_c(s, json_string_value(json_object_get(p, "min_tier")), tb), json_is_true(json_object_get(p, "fixture")));
        json_decref(listing);
        json_decref(msgs);
        json_decref(required);
        json_decref(comps);
    }
    if (np == 0)
        tf_cg_printf(&c, "    {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0},\n");
    tf_cg_printf(&c, "};\nconst size_t tf_prompts_count = %zu;\n\n", np);
    free(ord);

    tf_cg_printf(&c, "const tf_resource_t tf_resources[] = {\n");
    size_t nr = 0;
    for (int tpl = 0; tpl < 2; tpl++) {
        size_t i;
        json_t *r;
        json_array_foreach(tpl ? s->templates : s->resources, i, r) {
            const char *uk = tpl ? "uriTemplate" : "uri";
            json_t *listing = json_pack("{s:O, s:O}", uk, json_object_get(r, uk), "name", json_object_get(r, "name"));
            const char *opt[3] = {"title", "description", "mimeType"};
            for (int o = 0; o < 3; o++)
                if (json_object_get(r, opt[o]))
                    json_object_set(listing, opt[o], json_object_get(r, opt[o]));
            tf_cg_printf(&c, "    {");
            cstr_or_null(&c, json_string_value(json_object_get(r, uk)));
            tf_cg_printf(&c, ", %d,\n     ", tpl);
            cjson(&c, listing);
            tf_cg_printf(&c, ",\n     ");
            cstr_or_null(&c, json_string_value(json_object_get(r, "mimeType")));
            tf_cg_printf(&c, ", ");
            cstr_or_null(&c, json_string_value(json_object_get(r, "text")));
            tf_cg_printf(&c, ", ");
            cstr_or_null(&c, json_string_value(json_object_get(r, "blob")));
            const char *hn = json_string_value(json_object_get(r, "handler"));
            if (hn != NULL)
                tf_cg_printf(&c, ", tf_resource_%s, ", hn);
            else
                tf_cg_printf(&c, ", NULL, ");
            if (json_object_get(r, "completions"))
                cjson(&c, json_object_get(r, "completions"));
            else
                tf_cg_printf(&c, "NULL");
            char tb[24];
            tf_cg_printf(&c, ", %s, %d},\n", tf_cg_min_tier_c(s, json_string_value(json_object_get(r, "min_tier")), tb), json_is_true(json_object_get(r, "fixture")));
            json_decref(listing);
            nr++;
        }
    }
    if (nr == 0)
        tf_cg_printf(&c, "    {NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0},\n");
    tf_cg_printf(&c, "};\nconst size_t tf_resources_count = %zu;\n\n", nr);
    tf_cg_printf(&c, "int tf_prompt_find(const char *name)\n{\n    size_t lo = 0, hi = tf_prompts_count;\n    if (name == NULL)\n        return -1;\n"
                     "    while (lo < hi) {\n        size_t mid = (lo + hi) / 2;\n        int c = strcmp(tf_prompts[mid].name, name);\n"
                     "        if (c == 0)\n            return (int)mid;\n        if (c < 0)\n            lo = mid + 1;\n        else\n"
                     "            hi = mid;\n    }\n    return -1;\n}\n");
    int rc = tf_cg_write(out, "tf_catalog.h", &h);
    return tf_cg_write(out, "tf_catalog.c", &c) | rc;
}
