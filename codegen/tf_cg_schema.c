/*
 * tf_cg_schema.c - request schemas: loading spec/schemas/ and checking that
 * each one stays inside the JSON Schema subset the validator emitter knows.
 *
 * The subset: type, properties, required, additionalProperties (boolean),
 * enum, minimum, maximum, minLength, maxLength (Unicode code points),
 * pattern, items, minItems, maxItems, default, title, description. Any
 * other keyword is an error rather than ignored: a schema that says more
 * than the validator checks would promise what is not enforced.
 *
 * Also JSON Schema 2020-12's $schema (only that dialect), $defs and $ref
 * ("#/$defs/NAME"): the listing keeps them as written, the validators see
 * the schema with each $ref replaced by its definition
 * (tf_cg_schema_resolve).
 *
 * pattern is a POSIX extended regular expression, compiled with
 * regcomp(REG_EXTENDED | REG_NOSUB) here (to refuse bad ones) and again by
 * tf_validators_init() at run time. Like JSON Schema it searches: anchor
 * with ^...$ to match the whole string. No \d, \w or lookaround; use
 * [0-9], [[:alnum:]_], [[:space:]].
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"

static const char *const keywords[] = {"type",     "properties", "required", "additionalProperties",
                                       "enum",     "minimum",    "maximum",  "minLength",
                                       "maxLength", "pattern",   "items",    "minItems",
                                       "maxItems", "default",    "title",    "description",
                                       "$schema",  "$defs",      "$ref",     NULL};
static const char *const types[] = {"string", "integer", "number", "boolean", "object", "array", "null", NULL};


static unsigned line_of(const json_t *v, const json_t *fallback)
{
    unsigned l = tf_cg_yaml_line(v);
    return l ? l : tf_cg_yaml_line(fallback);
}

static int type_accepts(const char *type, const json_t *v)
{
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    return json_is_null(v);
}

static void check_count(const char *file, json_t *schema, const char *where, const char *key)
{
    json_t *v = json_object_get(schema, key);
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
        tf_cg_error(file, line_of(v, schema), "%s: %s must be a non-negative integer", where, key);
}

static void check_order(const char *file, json_t *schema, const char *where, const char *lo, const char *hi)
{
    json_t *a = json_object_get(schema, lo), *b = json_object_get(schema, hi);
    if (json_is_number(a) && json_is_number(b) && json_number_value(a) > json_number_value(b))
        tf_cg_error(file, line_of(a, schema), "%s: %s is greater than %s", where, lo, hi);
}

void tf_cg_check_schema(const char *file, json_t *schema, const char *where)
{
    if (!json_is_object(schema)) {
        tf_cg_error(file, tf_cg_yaml_line(schema), "%s: a schema must be a mapping", where);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(schema, key, v) {
        if (!tf_cg_in(key, keywords))
            tf_cg_error(file, line_of(v, schema), "%s: unknown schema keyword '%s'", where, key);
    }
    const char *type = NULL;
    json_t *t = json_object_get(schema, "type");
    if (t != NULL) {
        if (!json_is_string(t) || !tf_cg_in(json_string_value(t), types))
            tf_cg_error(file, line_of(t, schema), "%s: type must be one of string, integer, number, boolean, object, array, null",
                        where);
        else
            type = json_string_value(t);
    }
    check_count(file, schema, where, "minLength");
    check_count(file, schema, where, "maxLength");
    check_count(file, schema, where, "minItems");
    check_count(file, schema, where, "maxItems");
    check_order(file, schema, where, "minLength", "maxLength");
    check_order(file, schema, where, "minItems", "maxItems");
    check_order(file, schema, where, "minimum", "maximum");
    const char *nums[] = {"minimum", "maximum"};
    for (int i = 0; i < 2; i++) {
        json_t *n = json_object_get(schema, nums[i]);
        if (n != NULL && !json_is_number(n))
            tf_cg_error(file, line_of(n, schema), "%s: %s must be a number", where, nums[i]);
    }
    const char *texts[] = {"title", "description"};
    for (int i = 0; i < 2; i++) {
        json_t *x = json_object_get(schema, texts[i]);
        if (x != NULL && !json_is_string(x))
            tf_cg_error(file, line_of(x, schema), "%s: %s must be a string", where, texts[i]);
    }
    /* A keyword for another type is silently ignored by JSON Schema; here it
     * is almost always a mistake (maxLength on an integer), so refuse it. */
    if (type != NULL) {
        static const struct {
            const char *keyword, *types;
        } applies[] = {{"minLength", "string"}, {"maxLength", "string"},  {"pattern", "string"},
                       {"minimum", "integer number"}, {"maximum", "integer number"},
                       {"items", "array"},      {"minItems", "array"},   {"maxItems", "array"},
                       {"properties", "object"}, {"required", "object"}, {"additionalProperties", "object"}};
        for (size_t i = 0; i < sizeof(applies) / sizeof(applies[0]); i++) {
            json_t *x = json_object_get(schema, applies[i].keyword);
            if (x != NULL && strstr(applies[i].types, type) == NULL)
                tf_cg_error(file, line_of(x, schema), "%s: %s applies to %s, not to type %s", where, applies[i].keyword,
                            applies[i].types, type);
        }
    }
    json_t *p = json_object_get(schema, "pattern");
    if (p != NULL) {
        regex_t re;
        int rc;
        if (!json_is_string(p))
            tf_cg_error(file, line_of(p, schema), "%s: pattern must be a string", where);
        else if ((rc = regcomp(&re, json_string_value(p), REG_EXTENDED | REG_NOSUB)) != 0) {
            char msg[256];
            regerror(rc, &re, msg, sizeof(msg));
            tf_cg_error(file, line_of(p, schema), "%s: pattern does not compile (POSIX ERE): %s", where, msg);
        } else {
            regfree(&re);
        }
    }
    json_t *dialect = json_object_get(schema, "$schema");
    if (dialect != NULL && (!json_is_string(dialect) || strcmp(json_string_value(dialect), TF_CG_SCHEMA_DIALECT) != 0))
        tf_cg_error(file, line_of(dialect, schema), "%s: $schema must be \"" TF_CG_SCHEMA_DIALECT "\"", where);
    json_t *ref = json_object_get(schema, "$ref");
    if (ref != NULL && (!json_is_string(ref) || strncmp(json_string_value(ref), "#/$defs/", 8) != 0))
        tf_cg_error(file, line_of(ref, schema), "%s: $ref must be \"#/$defs/NAME\"", where);
    json_t *defs = json_object_get(schema, "$defs");
    if (defs != NULL) {
        if (!json_is_object(defs))
            tf_cg_error(file, line_of(defs, schema), "%s: $defs must be a mapping", where);
        else
            json_object_foreach(defs, key, v) {
                char sub[512];
                snprintf(sub, sizeof(sub), "%s/$defs/%s", where, key);
                tf_cg_check_schema(file, v, sub);
            }
    }
    json_t *ap = json_object_get(schema, "additionalProperties");
    if (ap != NULL && !json_is_boolean(ap))
        tf_cg_error(file, line_of(ap, schema), "%s: additionalProperties must be true or false", where);
    json_t *en = json_object_get(schema, "enum");
    if (en != NULL) {
        if (!json_is_array(en) || json_array_size(en) == 0)
            tf_cg_error(file, line_of(en, schema), "%s: enum must be a non-empty list", where);
        else if (type != NULL) {
            size_t i;
            json_t *e;
            json_array_foreach(en, i, e) if (!type_accepts(type, e))
                tf_cg_error(file, line_of(e, en), "%s: enum value %zu is not of type %s", where, i, type);
        }
    }
    json_t *d = json_object_get(schema, "default");
    if (d != NULL && type != NULL && !type_accepts(type, d))
        tf_cg_error(file, line_of(d, schema), "%s: default is not of type %s", where, type);

    json_t *props = json_object_get(schema, "properties");
    if (props != NULL) {
        if (!json_is_object(props))
            tf_cg_error(file, line_of(props, schema), "%s: properties must be a mapping", where);
        else {
            json_object_foreach(props, key, v) {
                char sub[512];
                snprintf(sub, sizeof(sub), "%s/%s", where, key);
                tf_cg_check_schema(file, v, sub);
            }
        }
    }
    json_t *req = json_object_get(schema, "required");
    if (req != NULL) {
        size_t i;
        json_t *e;
        if (!json_is_array(req))
            tf_cg_error(file, line_of(req, schema), "%s: required must be a list", where);
        else
            json_array_foreach(req, i, e) {
                if (!json_is_string(e)) {
                    tf_cg_error(file, line_of(e, req), "%s: required entries must be strings", where);
                    continue;
                }
                for (size_t j = 0; j < i; j++)
                    if (json_equal(json_array_get(req, j), e))
                        tf_cg_error(file, line_of(e, req), "%s: '%s' is required twice", where, json_string_value(e));
                if (json_is_false(ap) && json_object_get(props, json_string_value(e)) == NULL)
                    tf_cg_error(file, line_of(e, req), "%s: required property '%s' is not in properties", where,
                                json_string_value(e));
            }
    }
    json_t *items = json_object_get(schema, "items");
    if (items != NULL) {
        char sub[512];
        snprintf(sub, sizeof(sub), "%s/items", where);
        tf_cg_check_schema(file, items, sub);
    }
}

/* A copy of node with its $refs (into root's $defs) replaced, $schema and $defs dropped. */
static json_t *resolve(const char *file, json_t *root, json_t *node, int depth)
{
    if (json_is_array(node)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e) json_array_append_new(a, resolve(file, root, e, depth));
        return a;
    }
    if (!json_is_object(node))
        return json_deep_copy(node);
    json_t *ref = json_object_get(node, "$ref");
    if (json_is_string(ref) && strncmp(json_string_value(ref), "#/$defs/", 8) == 0) {
        json_t *def = json_object_get(json_object_get(root, "$defs"), json_string_value(ref) + 8);
        if (def == NULL || depth > 16) {
            tf_cg_error(file, line_of(ref, node), "$ref %s: %s", json_string_value(ref), def ? "refers to itself" : "no such definition in $defs");
            return json_object();
        }
        return resolve(file, root, def, depth + 1);
    }
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v) {
        if (strcmp(k, "$schema") == 0 || strcmp(k, "$defs") == 0)
            continue;
        /* Values of these are data, not schemas. */
        int data = !strcmp(k, "enum") || !strcmp(k, "default") || !strcmp(k, "required");
        json_object_set_new(o, k, data ? json_deep_copy(v) : resolve(file, root, v, depth));
    }
    return o;
}

json_t *tf_cg_schema_resolve(const char *file, json_t *schema)
{
    return resolve(file, schema, schema, 0);
}

void tf_cg_add_schema(tf_cg_spec_t *s, const char *name, const char *file, const char *src, json_t *doc)
{
    s->schemas = realloc(s->schemas, (s->nschemas + 1) * sizeof(*s->schemas));
    tf_cg_schema_t *sc = &s->schemas[s->nschemas++];
    sc->name = strdup(name);
    sc->file = strdup(file);
    sc->src = strdup(src);
    sc->doc = json_incref(doc);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tf_cg_load_schemas(tf_cg_spec_t *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* no schemas yet */
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || e->d_name[0] == '.' || strcmp(e->d_name + l - 5, ".yaml") != 0)
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    /* readdir order is arbitrary; output must not be. */
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        char file[4096], src[4096], name[256];
        snprintf(file, sizeof(file), "%s/%s", dir, names[i]);
        snprintf(src, sizeof(src), "spec/schemas/%s", names[i]);
        snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
        free(names[i]);
        int ok = name[0] < '0' || name[0] > '9';
        for (const char *c = name; *c; c++)
            ok &= (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok) {
            tf_cg_error(file, 0, "schema file names must be lower_snake_case (they become C names: tf_validate_NAME)");
            continue;
        }
        json_t *doc = tf_cg_yaml_load(file);
        if (doc != NULL)
            tf_cg_check_schema(file, doc, name);
        /* Added even when broken (doc NULL: unreadable), so routes naming it
         * get no second, misleading "unknown schema" error; nothing is
         * emitted anyway. */
        tf_cg_add_schema(s, name, file, src, doc);
        json_decref(doc);
    }
    free(names);
    return 0;
}

const tf_cg_schema_t *tf_cg_find_schema(const tf_cg_spec_t *s, const char *name)
{
    for (size_t i = 0; i < s->nschemas; i++)
        if (strcmp(s->schemas[i].name, name) == 0)
            return &s->schemas[i];
    return NULL;
}
