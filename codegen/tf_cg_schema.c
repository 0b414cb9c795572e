/*
 * tf_cg_schema.c - request schemas: loading spec/schemas/ and checking that
 * each one stays inside the JSON Schema subset the validator emitter knows.
 *
 * The subset: type, properties, required, additionalProperties (boolean),
 * enum, minimum, maximum, minLength, maxLength, pattern (POSIX ERE),
 * items, minItems, maxItems, default, title, description.
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
                                       NULL};
static const char *const types[] = {"string", "integer", "number", "boolean", "object", "array", "null", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

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

static void check_count(const char *file, json_t *schema, const char *key)
{
    json_t *v = json_object_get(schema, key);
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
        tf_cg_error(file, line_of(v, schema), "%s must be a non-negative integer", key);
}

static void check_order(const char *file, json_t *schema, const char *lo, const char *hi)
{
    json_t *a = json_object_get(schema, lo), *b = json_object_get(schema, hi);
    if (json_is_number(a) && json_is_number(b) && json_number_value(a) > json_number_value(b))
        tf_cg_error(file, line_of(a, schema), "%s is greater than %s", lo, hi);
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
        if (!in_list(key, keywords))
            tf_cg_error(file, line_of(v, schema), "%s: unknown schema keyword '%s'", where, key);
    }
    const char *type = NULL;
    json_t *t = json_object_get(schema, "type");
    if (t != NULL) {
        if (!json_is_string(t) || !in_list(json_string_value(t), types))
            tf_cg_error(file, line_of(t, schema), "%s: type must be one of string, integer, number, boolean, object, array, null",
                        where);
        else
            type = json_string_value(t);
    }
    check_count(file, schema, "minLength");
    check_count(file, schema, "maxLength");
    check_count(file, schema, "minItems");
    check_count(file, schema, "maxItems");
    check_order(file, schema, "minLength", "maxLength");
    check_order(file, schema, "minItems", "maxItems");
    check_order(file, schema, "minimum", "maximum");
    const char *nums[] = {"minimum", "maximum"};
    for (int i = 0; i < 2; i++) {
        json_t *n = json_object_get(schema, nums[i]);
        if (n != NULL && !json_is_number(n))
            tf_cg_error(file, line_of(n, schema), "%s: %s must be a number", where, nums[i]);
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
                if (!json_is_string(e))
                    tf_cg_error(file, line_of(e, req), "%s: required entries must be strings", where);
                else if (json_is_false(ap) && json_object_get(props, json_string_value(e)) == NULL)
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

static int by_name(const void *a, const void *b)
{
    return strcmp(((const tf_cg_schema_t *)a)->name, ((const tf_cg_schema_t *)b)->name);
}

int tf_cg_load_schemas(tf_cg_spec_t *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* no schemas yet */
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        if (s->nschemas == cap)
            s->schemas = realloc(s->schemas, (cap = cap ? cap * 2 : 16) * sizeof(*s->schemas));
        tf_cg_schema_t *sc = &s->schemas[s->nschemas++];
        sc->name = strndup(e->d_name, n - 5);
        size_t fl = strlen(dir) + n + 2;
        sc->file = malloc(fl);
        snprintf(sc->file, fl, "%s/%s", dir, e->d_name);
        sc->doc = NULL;
    }
    closedir(d);
    /* readdir order is arbitrary; output must not be. */
    qsort(s->schemas, s->nschemas, sizeof(*s->schemas), by_name);
    for (size_t i = 0; i < s->nschemas; i++) {
        tf_cg_schema_t *sc = &s->schemas[i];
        for (const char *c = sc->name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
                tf_cg_error(sc->file, 0, "schema file names must be lower_snake_case (they become C names)");
                break;
            }
        sc->doc = tf_cg_yaml_load(sc->file);
        if (sc->doc != NULL)
            tf_cg_check_schema(sc->file, sc->doc, sc->name);
    }
    return 0;
}

const tf_cg_schema_t *tf_cg_find_schema(const tf_cg_spec_t *s, const char *name)
{
    for (size_t i = 0; i < s->nschemas; i++)
        if (strcmp(s->schemas[i].name, name) == 0)
            return &s->schemas[i];
    return NULL;
}
