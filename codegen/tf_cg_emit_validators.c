/*
 * tf_cg_emit_validators.c - one straight-line C function per schema node.
 *
 * Output: generated/tf_validators.h and .c. Nothing interprets a schema at
 * run time: a schema becomes type checks and comparisons. Constants that
 * are JSON values (enum members, defaults) and regular expressions are
 * prepared once by tf_validators_init().
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"

typedef struct emitter {
    tf_cg_buf_t protos, bodies, consts, init;
    int next_fn, next_k, next_re;
    const char *prefix; /* schema name */
} emitter_t;

/* A JSON constant available at run time as k<N>. */
static int add_const(emitter_t *e, const json_t *value)
{
    int k = e->next_k++;
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    tf_cg_printf(&e->consts, "static json_t *k%d; /* %s */\n", k, "constant");
    tf_cg_printf(&e->init, "    if ((k%d = json_loads(\"", k);
    tf_cg_cstr(&e->init, text);
    tf_cg_printf(&e->init, "\", JSON_DECODE_ANY, NULL)) == NULL)\n        return -1;\n");
    free(text);
    return k;
}

static const char *type_check(const char *type)
{
    if (!strcmp(type, "string"))
        return "json_is_string(v)";
    if (!strcmp(type, "integer"))
        return "tf_v_is_integer(v)";
    if (!strcmp(type, "number"))
        return "json_is_number(v)";
    if (!strcmp(type, "boolean"))
        return "json_is_boolean(v)";
    if (!strcmp(type, "object"))
        return "json_is_object(v)";
    if (!strcmp(type, "array"))
        return "json_is_array(v)";
    return "json_is_null(v)";
}

static const char *type_article(const char *type)
{
    return (!strcmp(type, "integer") || !strcmp(type, "object") || !strcmp(type, "array")) ? "an" : "a";
}

static long long ival(json_t *s, const char *key)
{
    return json_integer_value(json_object_get(s, key));
}

/*
 * One bound check. An integer bound compares a JSON integer exactly (no
 * rounding through double above 2^53); reals compare as doubles.
 */
static void emit_bound(tf_cg_buf_t *b, json_t *bound, const char *op, const char *rule, const char *words)
{
    if (json_is_integer(bound)) {
        long long n = json_integer_value(bound);
        /* LLONG_MIN has no literal: -9223372036854775808 is minus an unsigned constant. */
        char lit[64];
        if (n == LLONG_MIN)
            snprintf(lit, sizeof(lit), "(%lldLL - 1)", n + 1);
        else
            snprintf(lit, sizeof(lit), "%lldLL", n);
        tf_cg_printf(b, "        if (json_is_integer(v) ? json_integer_value(v) %s %s : json_real_value(v) %s (double)%s)\n"
                        "            return tf_v_fail(err, p, \"%s\", \"must be %s %lld\");\n",
                     op, lit, op, lit, rule, words, n);
    } else {
        double d = json_real_value(bound);
        tf_cg_printf(b, "        if (tf_v_number(v) %s %.17g)\n            return tf_v_fail(err, p, \"%s\", \"must be %s %g\");\n", op, d,
                     rule, words, d);
    }
}

/* Emits the function for `s` and returns its number. */
static int emit_node(emitter_t *e, json_t *s)
{
    int fn = e->next_fn++;
    tf_cg_buf_t b = {0};
    /* Children first, so their numbers are known. */
    json_t *props = json_object_get(s, "properties");
    int *child = NULL;
    size_t nprops = props != NULL ? json_object_size(props) : 0;
    if (nprops) {
        child = calloc(nprops, sizeof(int));
        const char *key;
        json_t *ps;
        size_t i = 0;
        json_object_foreach(props, key, ps) child[i++] = emit_node(e, ps);
    }
    json_t *items = json_object_get(s, "items");
    int items_fn = items != NULL ? emit_node(e, items) : -1;

    tf_cg_printf(&e->protos, "static int v_%s_%d(json_t *v, tf_verr_t *err, tf_vpath_t *p);\n", e->prefix, fn);
    tf_cg_printf(&b, "static int v_%s_%d(json_t *v, tf_verr_t *err, tf_vpath_t *p)\n{\n", e->prefix, fn);

    json_t *t = json_object_get(s, "type");
    if (t != NULL) {
        const char *type = json_string_value(t);
        tf_cg_printf(&b, "    if (!%s)\n        return tf_v_fail(err, p, \"type\", \"must be %s %s\");\n", type_check(type),
                     type_article(type), type);
    }
    json_t *en = json_object_get(s, "enum");
    if (en != NULL) {
        size_t i;
        json_t *m;
        int all_strings = 1;
        json_array_foreach(en, i, m) all_strings &= json_is_string(m);
        /* The message lists strings bare ("must be one of: a, b"), other
         * members as JSON. */
        tf_cg_buf_t list = {0};
        json_array_foreach(en, i, m) {
            if (json_is_string(m)) {
                tf_cg_printf(&list, "%s%s", i ? ", " : "", json_string_value(m));
            } else {
                char *text = json_dumps(m, JSON_ENCODE_ANY | JSON_COMPACT);
                tf_cg_printf(&list, "%s%s", i ? ", " : "", text);
                free(text);
            }
        }
        if (all_strings) {
            /* Strings compare in place, length first (a member may hold a NUL). */
            tf_cg_printf(&b, "    if (!(json_is_string(v) && (");
            json_array_foreach(en, i, m) {
                size_t len = json_string_length(m);
                tf_cg_printf(&b, "%s(json_string_length(v) == %zu && memcmp(json_string_value(v), \"", i ? " ||\n          " : "", len);
                tf_cg_cstrn(&b, json_string_value(m), len);
                tf_cg_printf(&b, "\", %zu) == 0)", len);
            }
            tf_cg_printf(&b, ")))\n");
        } else {
            tf_cg_printf(&b, "    if (!(");
            json_array_foreach(en, i, m) {
                int k = add_const(e, m);
                tf_cg_printf(&b, "%sjson_equal(v, k%d)", i ? " || " : "", k);
            }
            tf_cg_printf(&b, "))\n");
        }
        tf_cg_printf(&b, "        return tf_v_fail(err, p, \"enum\", \"must be one of: %%s\", \"");
        tf_cg_cstr(&b, list.data);
        tf_cg_printf(&b, "\");\n");
        free(list.data);
    }
    /* String rules. */
    json_t *minl = json_object_get(s, "minLength"), *maxl = json_object_get(s, "maxLength"), *pat = json_object_get(s, "pattern");
    if (minl || maxl || pat) {
        tf_cg_printf(&b, "    if (json_is_string(v)) {\n        const char *s = json_string_value(v);\n"
                         "        size_t n = json_string_length(v);\n");
        if (minl || maxl)
            tf_cg_printf(&b, "        size_t chars = tf_v_utf8_len(s, n);\n");
        if (minl)
            tf_cg_printf(&b,
                         "        if (chars < %lldu)\n            return tf_v_fail(err, p, \"minLength\", \"must be at least %lld "
                         "characters\");\n",
                         ival(s, "minLength"), ival(s, "minLength"));
        if (maxl)
            tf_cg_printf(&b,
                         "        if (chars > %lldu)\n            return tf_v_fail(err, p, \"maxLength\", \"must be at most %lld "
                         "characters\");\n",
                         ival(s, "maxLength"), ival(s, "maxLength"));
        if (pat) {
            int r = e->next_re++;
            tf_cg_printf(&e->consts, "static regex_t re%d;\n", r);
            tf_cg_printf(&e->init, "    if (regcomp(&re%d, \"", r);
            tf_cg_cstr(&e->init, json_string_value(pat));
            tf_cg_printf(&e->init, "\", REG_EXTENDED | REG_NOSUB) != 0)\n        return -1;\n");
            /* regexec stops at NUL: a string with an embedded NUL never matches. */
            tf_cg_printf(&b, "        if (strlen(s) != n || regexec(&re%d, s, 0, NULL, 0) != 0)\n"
                             "            return tf_v_fail(err, p, \"pattern\", \"must match the pattern %%s\", \"",
                         r);
            tf_cg_cstr(&b, json_string_value(pat));
            tf_cg_printf(&b, "\");\n");
        }
        tf_cg_printf(&b, "    }\n");
    }
    /* Number rules. */
    json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    if (mn || mx) {
        tf_cg_printf(&b, "    if (json_is_number(v)) {\n");
        if (mn)
            emit_bound(&b, mn, "<", "minimum", "at least");
        if (mx)
            emit_bound(&b, mx, ">", "maximum", "at most");
        tf_cg_printf(&b, "    }\n");
    }
    /* Array rules. */
    json_t *mni = json_object_get(s, "minItems"), *mxi = json_object_get(s, "maxItems");
    if (mni || mxi || items_fn >= 0) {
        tf_cg_printf(&b, "    if (json_is_array(v)) {\n");
        if (mni)
            tf_cg_printf(&b, "        if (json_array_size(v) < %lldu)\n            return tf_v_fail(err, p, \"minItems\", \"must have at least %lld items\");\n",
                         ival(s, "minItems"), ival(s, "minItems"));
        if (mxi)
            tf_cg_printf(&b, "        if (json_array_size(v) > %lldu)\n            return tf_v_fail(err, p, \"maxItems\", \"must have at most %lld items\");\n",
                         ival(s, "maxItems"), ival(s, "maxItems"));
        if (items_fn >= 0)
            tf_cg_printf(&b,
                         "        for (size_t i = 0; i < json_array_size(v); i++) {\n            tf_v_push_idx(p, i);\n"
                         "            if (v_%s_%d(json_array_get(v, i), err, p) != 0)\n                return -1;\n"
                         "            tf_v_pop(p);\n        }\n",
                         e->prefix, items_fn);
        tf_cg_printf(&b, "    }\n");
    }
    /* Object rules: properties in spec order, then required ones not
     * described, then unknown properties. */
    json_t *req = json_object_get(s, "required");
    json_t *ap = json_object_get(s, "additionalProperties");
    if (nprops || json_array_size(req) || json_is_false(ap)) {
        tf_cg_printf(&b, "    if (json_is_object(v)) {\n        json_t *c;\n");
        const char *key;
        json_t *ps;
        size_t i = 0;
        json_object_foreach(props, key, ps) {
            int required = 0;
            size_t j;
            json_t *r;
            json_array_foreach(req, j, r) required |= strcmp(json_string_value(r), key) == 0;
            json_t *dflt = json_object_get(ps, "default");
            tf_cg_printf(&b, "        if ((c = json_object_get(v, \"");
            tf_cg_cstr(&b, key);
            tf_cg_printf(&b, "\")) != NULL) {\n            tf_v_push_key(p, \"");
            tf_cg_cstr(&b, key);
            tf_cg_printf(&b, "\");\n            if (v_%s_%d(c, err, p) != 0)\n                return -1;\n            tf_v_pop(p);\n        }",
                         e->prefix, child[i]);
            if (required) {
                tf_cg_printf(&b, " else {\n            tf_v_push_key(p, \"");
                tf_cg_cstr(&b, key);
                tf_cg_printf(&b, "\");\n            return tf_v_fail(err, p, \"required\", \"is required\");\n        }\n");
            } else if (dflt != NULL) {
                int k = add_const(e, dflt);
                tf_cg_printf(&b, " else {\n            json_object_set_new(v, \"");
                tf_cg_cstr(&b, key);
                tf_cg_printf(&b, "\", json_deep_copy(k%d));\n            err->defaults++;\n        }\n", k);
            } else {
                tf_cg_printf(&b, "\n");
            }
            i++;
        }
        size_t j;
        json_t *r;
        json_array_foreach(req, j, r) {
            if (props != NULL && json_object_get(props, json_string_value(r)) != NULL)
                continue;
            tf_cg_printf(&b, "        if (json_object_get(v, \"");
            tf_cg_cstr(&b, json_string_value(r));
            tf_cg_printf(&b, "\") == NULL) {\n            tf_v_push_key(p, \"");
            tf_cg_cstr(&b, json_string_value(r));
            tf_cg_printf(&b, "\");\n            return tf_v_fail(err, p, \"required\", \"is required\");\n        }\n");
        }
        if (json_is_false(ap)) {
            tf_cg_printf(&b, "        const char *key;\n        json_object_foreach(v, key, c) {\n            if (");
            i = 0;
            json_object_foreach(props, key, ps) {
                tf_cg_printf(&b, "%sstrcmp(key, \"", i++ ? " && " : "");
                tf_cg_cstr(&b, key);
                tf_cg_printf(&b, "\") != 0");
            }
            if (i == 0)
                tf_cg_printf(&b, "1");
            tf_cg_printf(&b, ") {\n                tf_v_push_key(p, key);\n"
                             "                return tf_v_fail(err, p, \"additionalProperties\", \"is an unknown property "
                             "(additionalProperties is false)\");\n            }\n        }\n");
        }
        tf_cg_printf(&b, "    }\n");
    }
    tf_cg_printf(&b, "    (void)v;\n    (void)err;\n    (void)p;\n    return 0;\n}\n\n");
    tf_cg_printf(&e->bodies, "%s", b.data);
    free(b.data);
    free(child);
    return fn;
}

int tf_cg_emit_validators(const tf_cg_spec_t *s, const char *out)
{
    emitter_t e = {0};
    tf_cg_buf_t tops = {0}, h = {0}, c = {0}, srcs = {0};
    for (size_t i = 0; i < s->nschemas; i++) {
        const tf_cg_schema_t *sc = &s->schemas[i];
        e.prefix = sc->name;
        e.next_fn = 0;
        int root = emit_node(&e, sc->doc);
        tf_cg_printf(&tops,
                     "int tf_validate_%s(json_t *v, tf_verr_t *err)\n{\n    tf_vpath_t p;\n    p.depth = 0;\n    err->defaults = 0;\n"
                     "    return v_%s_%d(v, err, &p);\n}\n\n",
                     e.prefix, e.prefix, root);
        tf_cg_printf(&h, "/* %s */\nint tf_validate_%s(json_t *v, tf_verr_t *err);\n", sc->src, e.prefix);
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(s->schemas[j].src, sc->src) == 0;
        if (!seen)
            tf_cg_printf(&srcs, "%s%s", srcs.len ? ", " : "", sc->src);
    }
    const char *from = srcs.len ? srcs.data : "spec/schemas/ (none)";
    tf_cg_buf_t hh = {0};
    tf_cg_printf(&hh, "/* " TF_CG_BANNER "%s */\n#ifndef TF_VALIDATORS_H\n#define TF_VALIDATORS_H\n\n"
                      "#include <jansson.h>\n\n#include \"tf_spec.h\"\n\n"
                      "/*\n * Compiles the patterns (POSIX ERE, REG_EXTENDED | REG_NOSUB) and loads the\n"
                      " * constants the validators use. Call once at start-up, before any thread\n"
                      " * validates; later calls do nothing. 0, or -1 when something failed.\n */\n"
                      "int tf_validators_init(void);\n\n"
                      "/* Each validates one request body and applies its defaults; 0, or -1 with *err. */\n%s\n#endif\n",
                 from, h.data ? h.data : "");
    free(h.data);
    tf_cg_printf(&c, "/* " TF_CG_BANNER "%s */\n#include <regex.h>\n#include <string.h>\n\n#include \"tf_validate.h\"\n"
                     "#include \"tf_validators.h\"\n\n%s\n%s\n"
                     "int tf_validators_init(void)\n{\n    static int ready;\n    if (ready)\n        return 0;\n%s    ready = 1;\n"
                     "    return 0;\n}\n\n%s%s",
                 from, e.consts.data ? e.consts.data : "", e.protos.data ? e.protos.data : "", e.init.data ? e.init.data : "",
                 e.bodies.data ? e.bodies.data : "", tops.data ? tops.data : "");
    free(srcs.data);
    free(e.consts.data);
    free(e.protos.data);
    free(e.init.data);
    free(e.bodies.data);
    free(tops.data);
    int rc = tf_cg_write(out, "tf_validators.h", &hh);
    return tf_cg_write(out, "tf_validators.c", &c) | rc;
}
