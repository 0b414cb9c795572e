/*
 * tf_yaml_lines.c - path -> line index of a YAML file. See tf_yaml_lines.h.
 */
#include "tf_yaml_lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 32

typedef struct entry {
    char *path;
    unsigned line;
} entry_t;

struct tf_yaml_lines {
    entry_t *v;
    size_t n, cap;
};

typedef struct frame {
    int is_seq;
    int index;          /* next sequence index */
    int expect_key;     /* mapping: next scalar is a key */
    size_t path_len;    /* length of the path of this collection */
} frame_t;

static void add(tf_yaml_lines_t *yl, const char *path, unsigned line)
{
    if (yl->n == yl->cap) {
        yl->cap = yl->cap ? yl->cap * 2 : 64;
        yl->v = realloc(yl->v, yl->cap * sizeof(*yl->v));
        if (yl->v == NULL)
            abort();
    }
    yl->v[yl->n].path = strdup(path);
    yl->v[yl->n].line = line;
    yl->n++;
}

/* Extends `path` (of length frame->path_len) with the child name for the
 * next node in `f`; returns the child's path length. */
static size_t child_path(char *path, size_t cap, frame_t *f, const char *key)
{
    int n;
    if (f->is_seq)
        n = snprintf(path + f->path_len, cap - f->path_len, "[%d]", f->index++);
    else
        n = snprintf(path + f->path_len, cap - f->path_len, "%s%s", f->path_len ? "." : "", key);
    if (n < 0 || (size_t)n >= cap - f->path_len)
        return f->path_len;
    return f->path_len + (size_t)n;
}

tf_yaml_lines_t *tf_yaml_lines_load(const char *file)
{
    FILE *fp = fopen(file, "rb");
    if (fp == NULL)
        return NULL;
    yaml_parser_t parser;
    yaml_event_t ev;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    tf_yaml_lines_t *yl = calloc(1, sizeof(*yl));
    frame_t stack[MAX_DEPTH];
    int depth = 0;
    char path[512] = "", key[256] = "";
    int ok = 1, done = 0;

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            ok = 0;
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        frame_t *top = depth > 0 ? &stack[depth - 1] : NULL;
        switch (ev.type) {
        case YAML_ALIAS_EVENT: /* a value like a scalar: *anchor */
        case YAML_SCALAR_EVENT:
            if (ev.type == YAML_SCALAR_EVENT && top != NULL && !top->is_seq && top->expect_key) {
                snprintf(key, sizeof(key), "%s", (const char *)ev.data.scalar.value);
                top->expect_key = 0;
                size_t l = child_path(path, sizeof(path), top, key);
                add(yl, path, line); /* the key's line: where a reader looks */
                path[top->path_len] = '\0';
                (void)l;
            } else if (top != NULL) {
                size_t l = child_path(path, sizeof(path), top, key);
                if (top->is_seq)
                    add(yl, path, line);
                path[l] = '\0';
                path[top->path_len] = '\0';
                if (!top->is_seq)
                    top->expect_key = 1;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            size_t l = 0;
            if (top != NULL) {
                l = child_path(path, sizeof(path), top, key);
                if (top->is_seq)
                    add(yl, path, line);
                if (!top->is_seq)
                    top->expect_key = 1;
            }
            if (depth == MAX_DEPTH) {
                ok = 0;
                done = 1;
                break;
            }
            stack[depth].is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
            stack[depth].index = 0;
            stack[depth].expect_key = 1;
            stack[depth].path_len = l;
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            path[depth > 0 ? stack[depth - 1].path_len : 0] = '\0';
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(fp);
    if (!ok) {
        tf_yaml_lines_free(yl);
        return NULL;
    }
    return yl;
}

unsigned tf_yaml_lines_get(const tf_yaml_lines_t *yl, const char *path)
{
    if (yl == NULL)
        return 0;
    char p[512];
    snprintf(p, sizeof(p), "%s", path);
    for (;;) {
        for (size_t i = 0; i < yl->n; i++)
            if (strcmp(yl->v[i].path, p) == 0)
                return yl->v[i].line;
        /* Fall back to the parent: "a.b[2].c" -> "a.b[2]" -> "a.b" -> "a". */
        char *cut = strrchr(p, '.');
        char *br = strrchr(p, '[');
        if (br != NULL && (cut == NULL || br > cut))
            cut = br;
        if (cut == NULL)
            return 0;
        *cut = '\0';
    }
}

unsigned tf_yaml_lines_find_key(const tf_yaml_lines_t *yl, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; yl != NULL && i < yl->n; i++) {
        const char *p = yl->v[i].path;
        size_t pl = strlen(p);
        if (pl >= kl && strcmp(p + pl - kl, key) == 0 && (pl == kl || p[pl - kl - 1] == '.'))
            return yl->v[i].line;
    }
    return 0;
}

void tf_yaml_lines_free(tf_yaml_lines_t *yl)
{
    if (yl == NULL)
        return;
    for (size_t i = 0; i < yl->n; i++)
        free(yl->v[i].path);
    free(yl->v);
    free(yl);
}

/*
 * cyaml logs an error as "Load: <reason>" followed by backtrace lines
 * "Load: Backtrace:" / "  in mapping field 'x' (line: N, column: M)". We keep
 * the reason and the innermost line, which is the first backtrace entry.
 */
void tf_yaml_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    tf_yaml_cyaml_err_t *e = ctx;
    if (level < CYAML_LOG_ERROR)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, args);
    size_t l = strlen(msg);
    while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
        msg[--l] = '\0';
    const char *p = strncmp(msg, "Load: ", 6) == 0 ? msg + 6 : msg;
    while (*p == ' ')
        p++;
    const char *ln = strstr(p, "(line: ");
    if (ln != NULL) {
        if (e->line == 0)
            e->line = (unsigned)strtoul(ln + 7, NULL, 10);
        return;
    }
    if (strncmp(p, "Backtrace", 9) != 0 && *p != '\0' && e->msg[0] == '\0')
        snprintf(e->msg, sizeof(e->msg), "%s", p);
}

unsigned tf_yaml_cyaml_line(const tf_yaml_cyaml_err_t *e, const char *file)
{
    if (strncmp(e->msg, "Unexpected key: ", 16) != 0)
        return e->line;
    tf_yaml_lines_t *yl = tf_yaml_lines_load(file);
    unsigned kl = tf_yaml_lines_find_key(yl, e->msg + 16);
    tf_yaml_lines_free(yl);
    return kl ? kl : e->line;
}
