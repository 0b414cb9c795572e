/*
 * tf_cg_yaml.c - YAML to jansson, remembering where each node was.
 *
 * Schemas are free-form maps (property names are data), which libcyaml
 * cannot load into C structs; they become json_t values instead. Scalars
 * follow the YAML 1.2 core schema: quoted scalars are strings, plain ones
 * may be null, booleans, integers or floats.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "tf_cg.h"

typedef struct pos {
    const json_t *node;
    unsigned line;
} pos_t;

static pos_t *positions;
static size_t npositions, cappositions;

static void remember(const json_t *node, unsigned line)
{
    if (npositions == cappositions) {
        cappositions = cappositions ? cappositions * 2 : 256;
        positions = realloc(positions, cappositions * sizeof(*positions));
    }
    positions[npositions].node = node;
    positions[npositions].line = line;
    npositions++;
}

unsigned tf_cg_yaml_line(const json_t *node)
{
    for (size_t i = npositions; i > 0; i--)
        if (positions[i - 1].node == node)
            return positions[i - 1].line;
    return 0;
}

static int matches(const char *s, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int m = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

/* A plain (unquoted) scalar by the YAML 1.2 core schema; NULL with *why. */
static json_t *plain_scalar(const char *s, const char **why)
{
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    int base = matches(s, "^[-+]?[0-9]+$") ? 10 : matches(s, "^0x[0-9a-fA-F]+$") ? 16 : matches(s, "^0o[0-7]+$") ? 8 : 0;
    if (base != 0) {
        errno = 0;
        long long v = strtoll(base == 8 ? s + 2 : s, NULL, base);
        if (errno == 0)
            return json_integer(v);
        *why = "integer out of range (64-bit)";
        return NULL;
    }
    if (matches(s, "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$"))
        return json_real(strtod(s, NULL));
    if (matches(s, "^[-+]?\\.(inf|Inf|INF)$|^\\.(nan|NaN|NAN)$")) {
        *why = "infinity and NaN have no JSON form";
        return NULL;
    }
    json_t *str = json_string(s);
    if (str == NULL)
        *why = "scalar is not valid UTF-8";
    return str;
}

typedef struct anchor {
    char *name;
    json_t *node;
} anchor_t;

typedef struct loader {
    yaml_parser_t parser;
    const char *file;
    anchor_t anchors[128];
    size_t nanchors;
    int failed; /* the parser gave up: stop reading */
    int bad;    /* some value was refused: read to the end, return nothing */
} loader_t;

static void add_anchor(loader_t *l, const yaml_char_t *name, json_t *node)
{
    if (name != NULL && l->nanchors < 128) {
        l->anchors[l->nanchors].name = strdup((const char *)name);
        l->anchors[l->nanchors].node = node;
        l->nanchors++;
    }
}

/* Parses the node starting with event `ev` (already taken). */
static json_t *parse_node(loader_t *l, yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1;
    json_t *node = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        const char *why = "scalar is not valid UTF-8";
        if (memchr(v, 0, ev->data.scalar.length) != NULL) /* "\0" in a quoted scalar */
            why = "a NUL character cannot be used in a spec", node = NULL;
        else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            node = plain_scalar(v, &why);
        else
            node = json_string(v); /* quoted: always a string */
        if (node == NULL) {
            /* A bad value, not a broken file: report it, read on for more. */
            tf_cg_error(l->file, line, "%s", why);
            l->bad = 1;
            node = json_null();
        }
        add_anchor(l, ev->data.scalar.anchor, node);
        break;
    }
    case YAML_ALIAS_EVENT:
        for (size_t i = 0; i < l->nanchors; i++)
            if (strcmp(l->anchors[i].name, (const char *)ev->data.alias.anchor) == 0)
                return json_incref(l->anchors[i].node);
        tf_cg_error(l->file, line, "unknown alias *%s", ev->data.alias.anchor);
        l->failed = 1;
        return NULL;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        node = is_map ? json_object() : json_array();
        add_anchor(l, is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor, node);
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(&l->parser, &e)) {
                l->failed = 1;
                return node;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            if (!is_map) {
                json_t *item = parse_node(l, &e);
                yaml_event_delete(&e);
                if (item == NULL)
                    return node;
                json_array_append_new(node, item);
                if (l->failed) /* the parser is done for: read no further */
                    return node;
                continue;
            }
            unsigned kline = (unsigned)e.start_mark.line + 1;
            if (e.type != YAML_SCALAR_EVENT) {
                tf_cg_error(l->file, kline, "mapping keys must be plain strings");
                l->failed = 1;
                yaml_event_delete(&e);
                return node;
            }
            char *key = strdup((const char *)e.data.scalar.value);
            yaml_event_delete(&e);
            yaml_event_t ve;
            if (!yaml_parser_parse(&l->parser, &ve)) {
                free(key);
                l->failed = 1;
                return node;
            }
            json_t *val = parse_node(l, &ve);
            yaml_event_delete(&ve);
            if (val == NULL) {
                free(key);
                return node;
            }
            if (json_object_get(node, key) != NULL) {
                tf_cg_error(l->file, kline, "duplicate key '%s'", key);
                l->failed = 1;
            }
            json_object_set_new(node, key, val);
            free(key);
            if (l->failed)
                return node;
        }
        break;
    }
    default:
        tf_cg_error(l->file, line, "unexpected YAML event");
        l->failed = 1;
        return NULL;
    }
    remember(node, line);
    return node;
}

json_t *tf_cg_yaml_load(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        tf_cg_error(file, 0, "cannot read: %s", strerror(errno));
        return NULL;
    }
    loader_t l = {.file = file};
    yaml_parser_initialize(&l.parser);
    yaml_parser_set_input_file(&l.parser, f);
    json_t *doc = NULL;
    yaml_event_t ev;
    int done = 0;
    while (!done && !l.failed) {
        if (!yaml_parser_parse(&l.parser, &ev)) {
            l.failed = 1;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (doc != NULL) {
                tf_cg_error(file, (unsigned)ev.start_mark.line + 1, "only one YAML document per file");
                l.failed = 1;
            } else {
                doc = parse_node(&l, &ev);
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    if (l.failed && l.parser.error != YAML_NO_ERROR)
        tf_cg_error(file, (unsigned)l.parser.problem_mark.line + 1, "YAML: %s", l.parser.problem);
    yaml_parser_delete(&l.parser);
    fclose(f);
    for (size_t i = 0; i < l.nanchors; i++)
        free(l.anchors[i].name);
    if (l.failed || l.bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

unsigned tf_cg_line_or(const json_t *node, unsigned fallback)
{
    unsigned l = tf_cg_yaml_line(node);
    return l ? l : fallback;
}

int tf_cg_in(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int tf_cg_snake(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}
