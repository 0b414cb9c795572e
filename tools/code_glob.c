/*
 * tools/code_glob.c - code_glob (spec/tools/code.yaml): the files of the
 * caller's workspace whose path matches a glob, on the worker pool like
 * the other code tools (code_int.h), through tf_fsbox only.
 *
 * fnmatch knows no "**", so a pattern is cut at '/' into segments: "**"
 * stands for any number of directories, every other segment is one
 * fnmatch with FNM_PERIOD (a leading '.' must be spelt, as in a shell).
 * The same segments decide which directories are worth entering at all:
 * a pattern that starts with "src/" never walks the rest of the workspace,
 * and dot directories (.git) are entered only when the pattern names them.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_int.h"

#define GLOB_MAX_PATTERNS 16 /* after the {a,b} group is expanded */
#define GLOB_MAX_SEGS 64
#define GLOB_MAX_STARS 3     /* "**" segments per pattern: matching costs grow with their power */
#define GLOB_MAX_DEPTH 64    /* directory levels walked below the start */
#define GLOB_COLLECT_MAX 100000 /* matches kept for sorting; more: truncated */

typedef struct gpat {
    char *buf;  /* the segments point into it */
    const char *seg[GLOB_MAX_SEGS];
    size_t n;
} gpat_t;

typedef struct gfile {
    char *rel;
    json_int_t size, mtime;
} gfile_t;

typedef struct glob {
    gpat_t pat[GLOB_MAX_PATTERNS];
    size_t npat;
    gfile_t *files;
    size_t n, cap;
    int full;    /* GLOB_COLLECT_MAX reached */
    int not_dir; /* the start is a file */
} gwalk_t;

static int is_star2(const char *s)
{
    return strcmp(s, "**") == 0;
}

/* Do the pattern's segments match all of the path's? */
static int match(const char *const *ps, size_t np, char *const *ss, size_t ns)
{
    if (np == 0)
        return ns == 0;
    if (is_star2(ps[0]))
        /* none of the path's directories, or one more (not a dot one) */
        return match(ps + 1, np - 1, ss, ns) || (ns > 0 && ss[0][0] != '.' && match(ps, np, ss + 1, ns - 1));
    return ns > 0 && fnmatch(ps[0], ss[0], FNM_PERIOD) == 0 && match(ps + 1, np - 1, ss + 1, ns - 1);
}

/* Could a path below the directory ss (its segments) match? Decides whether to enter it. */
static int may_contain(const char *const *ps, size_t np, char *const *ss, size_t ns)
{
    if (ns == 0)
        return np > 0;
    if (np == 0)
        return 0;
    if (is_star2(ps[0]))
        return may_contain(ps + 1, np - 1, ss, ns) || (ss[0][0] != '.' && may_contain(ps, np, ss + 1, ns - 1));
    return fnmatch(ps[0], ss[0], FNM_PERIOD) == 0 && may_contain(ps + 1, np - 1, ss + 1, ns - 1);
}

/* Cuts pattern s into p's segments ("a//b" and "./a/b" are "a/b", "**" repeated is one); -1 with a reason. */
static int split_pattern(gpat_t *p, const char *s, const char **why)
{
    p->buf = strdup(s);
    p->n = 0;
    int stars = 0;
    for (char *save = NULL, *t = strtok_r(p->buf, "/", &save); t != NULL; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0 || (is_star2(t) && p->n > 0 && is_star2(p->seg[p->n - 1])))
            continue;
        if (strcmp(t, "..") == 0) {
            *why = "cannot climb with '..': it matches below `path` only";
            return -1;
        }
        if (p->n == GLOB_MAX_SEGS) {
            *why = "has too many '/' levels (at most 64)";
            return -1;
        }
        if (is_star2(t) && ++stars > GLOB_MAX_STARS) {
            *why = "has more than 3 '**' (each one multiplies the work)";
            return -1;
        }
        p->seg[p->n++] = t;
    }
    if (p->n == 0) {
        *why = "names no file";
        return -1;
    }
    return 0;
}

/* The path's segments, in place (rel is copied into buf first). */
static size_t split_path(char *buf, char **ss)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, "/", &save); t != NULL && n < GLOB_MAX_DEPTH + 1; t = strtok_r(NULL, "/", &save))
        ss[n++] = t;
    return n;
}

static int glob_visit(void *ud, const tf_fsbox_entry_t *e)
{
    gwalk_t *g = ud;
    if (e->depth == 0) { /* the start is a file */
        g->not_dir = 1;
        return TF_FSBOX_WALK_STOP;
    }
    int dir = S_ISDIR(e->st.st_mode);
    if (!dir && !S_ISREG(e->st.st_mode))
        return TF_FSBOX_WALK_NEXT; /* symlinks and devices are not files to find */
    char buf[TF_FSBOX_PATH_MAX], *ss[GLOB_MAX_DEPTH + 1];
    snprintf(buf, sizeof(buf), "%s", e->rel);
    size_t ns = split_path(buf, ss);
    for (size_t i = 0; i < g->npat; i++) {
        const gpat_t *p = &g->pat[i];
        if (dir && may_contain(p->seg, p->n, ss, ns))
            return TF_FSBOX_WALK_NEXT;
        if (!dir && match(p->seg, p->n, ss, ns)) {
            if (g->n == GLOB_COLLECT_MAX) {
                g->full = 1;
                return TF_FSBOX_WALK_STOP;
            }
            if (g->n == g->cap) {
                g->cap = g->cap ? 2 * g->cap : 64;
                g->files = realloc(g->files, g->cap * sizeof(*g->files));
            }
            g->files[g->n++] = (gfile_t){strdup(e->rel), (json_int_t)e->st.st_size, (json_int_t)e->st.st_mtime};
            return TF_FSBOX_WALK_NEXT;
        }
    }
    return dir ? TF_FSBOX_WALK_PRUNE : TF_FSBOX_WALK_NEXT;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const gfile_t *)a)->rel, ((const gfile_t *)b)->rel);
}

static int by_newest(const void *a, const void *b)
{
    const gfile_t *x = a, *y = b;
    return x->mtime != y->mtime ? (x->mtime < y->mtime ? 1 : -1) : strcmp(x->rel, y->rel);
}

static void run_glob(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 1, p) == NULL)
        return;
    const char *pattern = json_string_value(json_object_get(j->args, "pattern"));
    const char *sort = json_string_value(json_object_get(j->args, "sort"));
    json_t *mv = json_object_get(j->args, "max_results"); /* the schema's integers include 3.0 */
    json_int_t max = json_is_real(mv) ? (json_int_t)json_real_value(mv) : json_integer_value(mv);
    gwalk_t g = {0};
    char *alt[GLOB_MAX_PATTERNS];
    const char *why = NULL;
    if (pattern[0] == '/')
        why = "is matched against paths relative to `path`: it cannot start with '/'";
    else
        g.npat = tf_code_expand_braces(pattern, alt, GLOB_MAX_PATTERNS);
    for (size_t i = 0; i < g.npat; i++) {
        if (why == NULL)
            split_pattern(&g.pat[i], alt[i], &why);
        free(alt[i]);
    }
    if (why != NULL)
        tf_code_fail(j, "pattern '%.200s' %s", pattern, why);
    else if (tf_fsbox_walk(b, p, GLOB_MAX_DEPTH, glob_visit, &g) != 0)
        tf_code_fail(j, "path '%s' %s", p[0] ? p : ".", b->msg);
    else if (g.not_dir)
        tf_code_fail(j, "path '%s' is a file, not a directory (code_stat describes it)", p);
    else {
        if (g.n > 1)
            qsort(g.files, g.n, sizeof(*g.files), sort && strcmp(sort, "newest") == 0 ? by_newest : by_path);
        json_t *files = json_array();
        for (size_t i = 0; i < g.n && (json_int_t)i < max; i++) {
            char *path = NULL;
            if (asprintf(&path, "%s%s%s", p, p[0] ? "/" : "", g.files[i].rel) < 0)
                continue;
            json_array_append_new(files, json_pack("{s:o, s:I, s:I}", "path", tf_code_text(path), "size", g.files[i].size, "modified",
                                                   g.files[i].mtime));
            free(path);
        }
        j->out = json_pack("{s:s, s:o, s:I, s:I, s:b, s:o}", "path", p[0] ? p : ".", "pattern", tf_code_text(pattern), "matched",
                           (json_int_t)g.n, "count", (json_int_t)json_array_size(files), "truncated",
                           (json_int_t)g.n > max || g.full || b->truncated, "files", files);
    }
    for (size_t i = 0; i < g.n; i++)
        free(g.files[i].rel);
    free(g.files);
    for (size_t i = 0; i < g.npat; i++)
        free(g.pat[i].buf);
}

/* code_glob: Find files by name */
int tf_tool_code_glob(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_glob);
}
