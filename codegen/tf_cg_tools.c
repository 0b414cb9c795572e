/*
 * tf_cg_tools.c - MCP tools as specs: spec/tools/<category>.yaml.
 *
 *   tools:
 *     - name: status                  lower_snake_case, unique across files
 *       title: Gateway status         shown by clients
 *       description: ...              what the model reads to decide
 *       min_tier: registered          default: any tier with mcp_access in the running conf
 *       handler: system_status        C function tf_tool_<handler> in tools/<category>.c (default: name)
 *       annotations: {readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false}
 *       input:  {type: object, ...}   the schema subset of spec/schemas/
 *       output: {type: object, ...}   optional: structuredContent must match it
 *       admin: true                   optional: listed to administrators only
 *       fixture: true                 optional: a conformance-suite fixture, there only
 *                                     with conf mcp.conformance
 *
 * The category is the file's name. A tool whose handler is not written yet
 * gets a stub appended to tools/<category>.c (an author's code is never
 * touched), and any handler still calling tf_tool_stub() fails the build:
 * stubs are for authors, never shipped.
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tf_cg.h"

static const char *const tool_keys[] = {"name", "title", "description", "min_tier", "handler", "annotations", "input", "output", "fixture", "admin", NULL};
static const char *const hint_keys[] = {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", NULL};




static char *str_member(const char *file, json_t *o, const char *key, int required, unsigned line)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (required)
            tf_cg_error(file, line, "tool: '%s' is required", key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        tf_cg_error(file, tf_cg_line_or(v, line), "tool: '%s' must be a non-empty string", key);
        return NULL;
    }
    return strdup(json_string_value(v));
}

static void load_file(tf_cg_spec_t *s, const char *file, const char *category)
{
    json_t *doc = tf_cg_yaml_load(file);
    if (doc == NULL)
        return; /* reported by the loader */
    json_t *tools = json_object_get(doc, "tools");
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "tools") != 0)
            tf_cg_error(file, tf_cg_line_or(v, 1), "unknown key '%s' (a tools file holds 'tools:' only; the category is the file name)", k);
    }
    if (!json_is_array(tools) || json_array_size(tools) == 0) {
        tf_cg_error(file, tf_cg_line_or(tools, 1), "'tools' must be a non-empty list");
        json_decref(doc);
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        unsigned line = tf_cg_line_or(t, 1);
        if (!json_is_object(t)) {
            tf_cg_error(file, line, "tools[%zu] must be a mapping", i);
            continue;
        }
        json_object_foreach(t, k, v) {
            if (!tf_cg_in(k, tool_keys))
                tf_cg_error(file, tf_cg_line_or(v, line), "tool: unknown key '%s'", k);
        }
        tf_cg_tool_t tool;
        memset(&tool, 0, sizeof(tool));
        tool.file = strdup(file);
        tool.category = strdup(category);
        tool.line = line;
        tool.name = str_member(file, t, "name", 1, line);
        tool.title = str_member(file, t, "title", 1, line);
        tool.description = str_member(file, t, "description", 1, line);
        tool.min_tier = str_member(file, t, "min_tier", 0, line);
        tool.handler = str_member(file, t, "handler", 0, line);
        if (tool.handler == NULL && tool.name != NULL)
            tool.handler = strdup(tool.name);
        if (tool.name != NULL && !tf_cg_snake(tool.name))
            tf_cg_error(file, tf_cg_line_or(json_object_get(t, "name"), line), "tool name '%s' must be lower_snake_case", tool.name);
        if (tool.handler != NULL && !tf_cg_snake(tool.handler))
            tf_cg_error(file, tf_cg_line_or(json_object_get(t, "handler"), line), "handler '%s' must be lower_snake_case", tool.handler);
        const char *flags[2] = {"fixture", "admin"};
        for (int f = 0; f < 2; f++) {
            json_t *b = json_object_get(t, flags[f]);
            if (b != NULL && !json_is_boolean(b))
                tf_cg_error(file, tf_cg_line_or(b, line), "tool: %s must be true or false", flags[f]);
            *(f == 0 ? &tool.fixture : &tool.admin) = json_is_true(b);
        }
        tool.read_only = tool.destructive = tool.idempotent = tool.open_world = -1;
        json_t *ann = json_object_get(t, "annotations");
        if (ann != NULL && !json_is_object(ann)) {
            tf_cg_error(file, tf_cg_line_or(ann, line), "annotations must be a mapping");
        } else if (ann != NULL) {
            json_object_foreach(ann, k, v) {
                if (!tf_cg_in(k, hint_keys)) {
                    tf_cg_error(file, tf_cg_line_or(v, line), "annotations: unknown hint '%s' (readOnlyHint, destructiveHint, idempotentHint, openWorldHint)", k);
                    continue;
                }
                if (!json_is_boolean(v)) {
                    tf_cg_error(file, tf_cg_line_or(v, line), "annotations: %s must be true or false", k);
                    continue;
                }
                int b = json_is_true(v);
                if (!strcmp(k, "readOnlyHint"))
                    tool.read_only = b;
                else if (!strcmp(k, "destructiveHint"))
                    tool.destructive = b;
                else if (!strcmp(k, "idempotentHint"))
                    tool.idempotent = b;
                else
                    tool.open_world = b;
            }
        }
        const char *which[2] = {"input", "output"};
        for (int w = 0; w < 2; w++) {
            json_t *sc = json_object_get(t, which[w]);
            if (sc == NULL) {
                if (w == 0)
                    tf_cg_error(file, line, "tool '%s': 'input' (the arguments' schema) is required", tool.name ? tool.name : "?");
                continue;
            }
            char where[300];
            snprintf(where, sizeof(where), "%s/%s", tool.name ? tool.name : "?", which[w]);
            tf_cg_check_schema(file, sc, where);
            if (!json_is_object(sc) || !json_is_string(json_object_get(sc, "type")) ||
                strcmp(json_string_value(json_object_get(sc, "type")), "object") != 0)
                tf_cg_error(file, tf_cg_line_or(sc, line), "tool '%s': %s must be a schema of type object", tool.name ? tool.name : "?", which[w]);
            if (w == 0)
                tool.input = json_incref(sc);
            else
                tool.output = json_incref(sc);
        }
        s->tools = realloc(s->tools, (s->ntools + 1) * sizeof(*s->tools));
        s->tools[s->ntools++] = tool;
    }
    json_decref(doc);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tf_cg_load_tools(tf_cg_spec_t *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* no tools */
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 5 && e->d_name[0] != '.' && strcmp(e->d_name + l - 5, ".yaml") == 0) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        char file[4096], category[256];
        snprintf(file, sizeof(file), "%s/%s", dir, names[i]);
        snprintf(category, sizeof(category), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
        if (!tf_cg_snake(category))
            tf_cg_error(file, 0, "tool file names are categories: lower_snake_case (tools/%s.c holds their handlers)", category);
        else
            load_file(s, file, category);
        free(names[i]);
    }
    free(names);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The handlers in tools/                                              */

static unsigned line_at(const char *code, const char *at)
{
    unsigned l = 1;
    for (const char *p = code; p < at; p++)
        l += *p == '\n';
    return l;
}

int tf_cg_scan_tools(tf_cg_spec_t *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    regex_t re;
    regcomp(&re, "^int[ \t]+tf_tool_([a-z0-9_]+)[ \t]*\\(", REG_EXTENDED | REG_NEWLINE);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *code = tf_cg_read_code(path);
        if (code == NULL)
            continue;
        regmatch_t m[2];
        for (const char *at = code; regexec(&re, at, 2, m, at == code ? 0 : REG_NOTBOL) == 0; at += m[0].rm_eo) {
            const char *c = at + m[0].rm_eo;
            int depth = 1;
            for (; *c && depth > 0; c++)
                depth += *c == '(' ? 1 : *c == ')' ? -1 : 0;
            while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
                c++;
            if (*c != '{')
                continue; /* a prototype */
            char *name = strndup(at + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
            s->tool_handlers = realloc(s->tool_handlers, (s->ntool_handlers + 1) * sizeof(char *));
            s->tool_handlers[s->ntool_handlers++] = name;
            /* The body: a stub still calls tf_tool_stub(). */
            const char *body = c;
            depth = 0;
            const char *end = body;
            for (; *end; end++) {
                depth += *end == '{' ? 1 : *end == '}' ? -1 : 0;
                if (depth == 0)
                    break;
            }
            char *b = strndup(body, (size_t)(end - body));
            if (strstr(b, "tf_tool_stub") != NULL) {
                char where[4200];
                snprintf(where, sizeof(where), "%s:%u", path, line_at(code, at + m[0].rm_so));
                s->tool_stubs = realloc(s->tool_stubs, (s->ntool_stubs + 1) * sizeof(char *));
                s->tool_stub_where = realloc(s->tool_stub_where, (s->ntool_stubs + 1) * sizeof(char *));
                s->tool_stubs[s->ntool_stubs] = strdup(name);
                s->tool_stub_where[s->ntool_stubs++] = strdup(where);
            }
            free(b);
        }
        free(code);
    }
    closedir(d);
    regfree(&re);
    return 0;
}

static int handler_written(const tf_cg_spec_t *s, const char *h)
{
    for (size_t i = 0; i < s->ntool_handlers; i++)
        if (strcmp(s->tool_handlers[i], h) == 0)
            return 1;
    return 0;
}

void tf_cg_check_tools(tf_cg_spec_t *s)
{
    for (size_t i = 0; i < s->ntools; i++) {
        tf_cg_tool_t *t = &s->tools[i];
        if (t->name == NULL)
            continue;
        for (size_t j = 0; j < i; j++)
            if (s->tools[j].name && strcmp(s->tools[j].name, t->name) == 0)
                tf_cg_error(t->file, t->line, "tool '%s' is defined twice (also %s:%u)", t->name, s->tools[j].file, s->tools[j].line);
        if (t->min_tier != NULL && tf_cg_tier_index(s, t->min_tier) < 0)
            tf_cg_error(t->file, t->line, "tool '%s': min_tier '%s' is not a tier of tiers.yaml", t->name, t->min_tier);
        /* One handler name in two categories would be one C symbol in two files. */
        for (size_t j = 0; j < i; j++)
            if (s->tools[j].handler && t->handler && strcmp(s->tools[j].handler, t->handler) == 0 &&
                strcmp(s->tools[j].category, t->category) != 0)
                tf_cg_error(t->file, t->line, "tool '%s': handler '%s' is also used in category '%s'", t->name, t->handler,
                            s->tools[j].category);
        char name[300];
        snprintf(name, sizeof(name), "tool_%s_input", t->name);
        char src[300];
        snprintf(src, sizeof(src), "spec/tools/%s.yaml", t->category);
        json_t *in = tf_cg_schema_resolve(t->file, t->input);
        tf_cg_add_schema(s, name, t->file, src, in);
        json_decref(in);
        if (t->output != NULL) {
            snprintf(name, sizeof(name), "tool_%s_output", t->name);
            json_t *out = tf_cg_schema_resolve(t->file, t->output);
            tf_cg_add_schema(s, name, t->file, src, out);
            json_decref(out);
        }
    }
}

void tf_cg_write_tool_stubs(tf_cg_spec_t *s, const char *dir)
{
    mkdir(dir, 0755);
    for (size_t i = 0; i < s->ntools; i++) {
        tf_cg_tool_t *t = &s->tools[i];
        if (t->handler == NULL || handler_written(s, t->handler))
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.c", dir, t->category);
        struct stat st;
        int fresh = stat(path, &st) != 0;
        FILE *f = fopen(path, "a");
        if (f == NULL) {
            tf_cg_error(path, 0, "cannot write the stub for tool '%s'", t->name);
            continue;
        }
        if (fresh)
            fprintf(f,
                    "/*\n * tools/%s.c - the MCP tools of spec/tools/%s.yaml, one tf_tool_<handler> each.\n"
                    " * tf-codegen appends a stub here for a tool without a handler; the build\n"
                    " * refuses stubs, so each must become a real handler (README: Adding a tool).\n */\n"
                    "#include \"tf_tool.h\"\n",
                    t->category, t->category);
        fflush(f);
        long at = ftell(f);
        unsigned line = 1;
        {
            FILE *r = fopen(path, "r");
            int ch;
            for (long p = 0; r != NULL && p < at && (ch = fgetc(r)) != EOF; p++)
                line += ch == '\n';
            if (r != NULL)
                fclose(r);
        }
        fprintf(f, "\n/* %s: %s */\nint tf_tool_%s(tf_tool_call_t *call)\n{\n    return tf_tool_stub(call);\n}\n", t->name, t->title,
                t->handler);
        fclose(f);
        char where[4200];
        snprintf(where, sizeof(where), "%s:%u", path, line + 2);
        s->tool_stubs = realloc(s->tool_stubs, (s->ntool_stubs + 1) * sizeof(char *));
        s->tool_stub_where = realloc(s->tool_stub_where, (s->ntool_stubs + 1) * sizeof(char *));
        s->tool_stubs[s->ntool_stubs] = strdup(t->handler);
        s->tool_stub_where[s->ntool_stubs++] = strdup(where);
        s->tool_handlers = realloc(s->tool_handlers, (s->ntool_handlers + 1) * sizeof(char *));
        s->tool_handlers[s->ntool_handlers++] = strdup(t->handler);
    }
    for (size_t i = 0; i < s->ntool_stubs; i++) {
        const char *tool = s->tool_stubs[i];
        for (size_t j = 0; j < s->ntools; j++)
            if (s->tools[j].handler && strcmp(s->tools[j].handler, s->tool_stubs[i]) == 0)
                tool = s->tools[j].name;
        fprintf(stderr, "%s: tool '%s': tf_tool_%s is still the generated stub: write the handler (stubs are never shipped)\n",
                s->tool_stub_where[i], tool, s->tool_stubs[i]);
    }
    if (s->ntool_stubs > 0)
        tf_cg_error(dir, 0, "%zu tool handler(s) to write", s->ntool_stubs);
}
