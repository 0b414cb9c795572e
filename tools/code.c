/*
 * tools/code.c - the MCP tools of spec/tools/code.yaml: files in the
 * caller's workspace, <tools.workspace_root>/<user id>/.
 *
 * Every handler does the same on the event loop: copy what the job needs
 * (arguments, workspace root, size cap, user id) and submit it to the
 * worker pool, because file system calls may block (a slow disk, a huge
 * directory) and an event loop must never wait. The worker opens the
 * sandbox (runtime/tf_fsbox: openat2 RESOLVE_BENEATH from the workspace
 * fd) and builds the answer; `done`, back on the loop, sends it. The job
 * sits in r->job, so a client that leaves cancels it: `done` then only
 * frees.
 *
 * Nothing here opens a path by itself: every file system access goes
 * through tf_fsbox, which refuses absolute paths, '..' and escapes.
 */
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "code_int.h"
#include "tf_server.h"
#include "tf_tool.h"
#include "tf_utf8.h"
#include "tf_work.h"

/* --- the job (code_int.h) ---------------------------------------------------------------------- */

void tf_code_fail(code_job_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(j->err);
    if (vasprintf(&j->err, fmt, ap) < 0)
        j->err = NULL;
    va_end(ap);
}

static void job_run(void *arg)
{
    code_job_t *j = arg;
    tf_fsbox_t b;
    if (tf_fsbox_open(&b, j->root, j->user, j->max_bytes) != 0)
        tf_code_fail(j, "%s", b.msg);
    else
        j->run(j, &b);
    tf_fsbox_close(&b);
}

static void job_free(code_job_t *j)
{
    json_decref(j->out);
    json_decref(j->args);
    free(j->err);
    free(j->root);
    free(j);
}

static void job_done(void *arg, int cancelled)
{
    code_job_t *j = arg;
    if (!cancelled) {
        j->call->r->job = NULL;
        if (j->out != NULL) {
            tf_tool_result(j->call, j->out);
            j->out = NULL;
        } else {
            json_t *m = tf_code_text(j->err ? j->err : "the operation failed");
            tf_tool_fail(j->call, "%s", json_string_value(m));
            json_decref(m);
        }
    }
    job_free(j);
}

int tf_code_submit(tf_tool_call_t *call, code_run_fn run)
{
    tf_req_t *r = call->r;
    if (!r->who.authenticated || r->who.user_id[0] == '\0') {
        tf_tool_fail(call, "the code tools work in a user's own workspace: sign in (a JWT or a tf_ API key)");
        return 0;
    }
    code_job_t *j = calloc(1, sizeof(*j));
    j->call = call;
    j->args = json_deep_copy(call->args);
    j->root = strdup(r->conf->tools_workspace_root);
    snprintf(j->user, sizeof(j->user), "%s", r->who.user_id);
    j->max_bytes = r->conf->tools_max_file_bytes;
    j->run = run;
    r->job = tf_work_submit(&r->thr->work, job_run, job_done, j);
    if (r->job == NULL) {
        job_free(j);
        tf_tool_fail(call, "no worker is available right now; try again");
    }
    return 0;
}

/* --- small helpers ----------------------------------------------------------------------------- */

static const char *arg_str(code_job_t *j, const char *name)
{
    return json_string_value(json_object_get(j->args, name));
}

static size_t arg_len(code_job_t *j, const char *name)
{
    return json_string_length(json_object_get(j->args, name));
}

static long long arg_int(code_job_t *j, const char *name, long long fallback)
{
    json_t *v = json_object_get(j->args, name);
    return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (long long)json_real_value(v) : fallback;
}

static int arg_bool(code_job_t *j, const char *name, int fallback)
{
    json_t *v = json_object_get(j->args, name);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

/*
 * The argument `field` as a checked path in normal form (into out).
 * The length comes from JSON, not strlen: a NUL inside is caught.
 */
const char *tf_code_arg_path(code_job_t *j, tf_fsbox_t *b, const char *field, int allow_root, char *out)
{
    const char *s = arg_str(j, field);
    if (tf_fsbox_norm(b, s, arg_len(j, field), allow_root, out) < 0) {
        tf_code_fail(j, "%s '%.200s' %s", field, s ? s : "", b->msg);
        return NULL;
    }
    return out;
}

/* Text the tools may return as a JSON string: no NUL byte, valid UTF-8. */
static int text_ok(const char *data, size_t n)
{
    const unsigned char *s = (const unsigned char *)data;
    for (size_t i = 0, l; i < n; i += l)
        if (s[i] == 0 || (l = tf_utf8_seq(s + i, n - i)) == 0)
            return 0;
    return 1;
}

/*
 * A JSON string for text that may not be UTF-8 (a file name made outside
 * the tools, a line quoted in an error): invalid bytes become '?', since
 * jansson refuses such strings outright.
 */
json_t *tf_code_text(const char *s)
{
    size_t n = strlen(s);
    if (text_ok(s, n))
        return json_stringn(s, n);
    char *c = malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0, l; i < n; i += l) {
        l = tf_utf8_seq((const unsigned char *)s + i, n - i);
        if (l == 0) {
            c[o++] = '?';
            l = 1;
        } else {
            memcpy(c + o, s + i, l);
            o += l;
        }
    }
    json_t *v = json_stringn(c, o);
    free(c);
    return v;
}

/* A prefix of at most `max` bytes that does not cut a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* base joined with rel for answers (display only: never opened). */
static char *join(const char *base, const char *rel)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s%s", base, base[0] && rel[0] ? "/" : "", rel) < 0)
        return NULL;
    return s;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf_t;

static void buf_add(buf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_fmt(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_fmt(buf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A file's lines; each includes its '\n', the last one may lack it. */
typedef struct line {
    const char *p;
    size_t n;
} line_t;

static line_t *split_lines(const char *data, size_t len, size_t *count)
{
    size_t n = 0, cap = 64;
    line_t *v = malloc(cap * sizeof(*v));
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof(*v));
        }
        v[n++] = (line_t){data + i, l};
        i += l;
    }
    *count = n;
    return v;
}

static int has_nl(const line_t *l)
{
    return l->n > 0 && l->p[l->n - 1] == '\n';
}

/* --- code_read ---------------------------------------------------------------------------------- */

static void run_read(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 0, p) == NULL)
        return;
    char *data;
    size_t len;
    if (tf_fsbox_read(b, p, &data, &len, NULL) != 0) {
        tf_code_fail(j, "path '%s' %s", p, b->msg);
        return;
    }
    if (!text_ok(data, len)) {
        tf_code_fail(j, "path '%s' is a binary file (it holds a NUL byte or is not UTF-8 text); refused", p);
        free(data);
        return;
    }
    size_t total;
    line_t *lines = split_lines(data, len, &total);
    long long start = arg_int(j, "start_line", 1), end = arg_int(j, "end_line", (long long)total);
    if (total > 0 && (size_t)start > total)
        tf_code_fail(j, "start_line %lld is past the end of '%s' (it has %zu lines)", start, p, total);
    else if (end < start && total > 0)
        tf_code_fail(j, "end_line %lld is before start_line %lld", end, start);
    else {
        if (total == 0)
            start = 1, end = 0;
        if ((size_t)end > total)
            end = (long long)total;
        size_t from = total ? (size_t)(lines[start - 1].p - data) : 0;
        size_t to = total ? (size_t)(lines[end - 1].p - data) + lines[end - 1].n : 0;
        j->out = json_pack("{s:s, s:s%, s:I, s:I, s:I, s:I}", "path", p, "content", data + from, to - from, "size", (json_int_t)len,
                           "total_lines", (json_int_t)total, "start_line", (json_int_t)start, "end_line", (json_int_t)end);
    }
    free(lines);
    free(data);
}

int tf_tool_code_read(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_read);
}

/* --- code_write --------------------------------------------------------------------------------- */

static void run_write(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 0, p) == NULL)
        return;
    int overwrite = arg_bool(j, "overwrite", 1);
    int flags = (arg_bool(j, "create_dirs", 0) ? TF_FSBOX_MKDIRS : 0) | (overwrite ? 0 : TF_FSBOX_NO_REPLACE);
    size_t len = arg_len(j, "content");
    int created = tf_fsbox_write(b, p, arg_str(j, "content"), len, flags);
    if (created < 0) {
        tf_code_fail(j, "%s%s", b->msg, b->err == EEXIST && !overwrite ? " (overwrite is false)" : "");
        return;
    }
    j->out = json_pack("{s:s, s:I, s:b}", "path", p, "bytes", (json_int_t)len, "created", created);
}

int tf_tool_code_write(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_write);
}

/* --- code_edit ----------------------------------------------------------------------------------- */

static void run_edit(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 0, p) == NULL)
        return;
    const char *old = arg_str(j, "old_string"), *new = arg_str(j, "new_string");
    size_t ol = arg_len(j, "old_string"), nl = arg_len(j, "new_string");
    if (ol == nl && memcmp(old, new, ol) == 0) {
        tf_code_fail(j, "new_string is the same as old_string: nothing to change");
        return;
    }
    char *data;
    size_t len;
    if (tf_fsbox_read(b, p, &data, &len, NULL) != 0) {
        tf_code_fail(j, "path '%s' %s", p, b->msg);
        return;
    }
    if (!text_ok(data, len)) {
        tf_code_fail(j, "path '%s' is a binary file; refused", p);
        free(data);
        return;
    }
    size_t count = 0;
    for (const char *s = data; (s = memmem(s, len - (size_t)(s - data), old, ol)) != NULL; s += ol)
        count++;
    int all = arg_bool(j, "replace_all", 0);
    if (count == 0) {
        tf_code_fail(j, "old_string was not found in '%s' (it must match exactly, whitespace and indentation included)", p);
    } else if (count > 1 && !all) {
        tf_code_fail(j, "old_string occurs %zu times in '%s'; include more surrounding text to make it unique, or set replace_all: true", count,
                 p);
    } else {
        buf_t out = {0};
        const char *s = data, *hit;
        while ((hit = memmem(s, len - (size_t)(s - data), old, ol)) != NULL) {
            buf_add(&out, s, (size_t)(hit - s));
            buf_add(&out, new, nl);
            s = hit + ol;
        }
        buf_add(&out, s, len - (size_t)(s - data));
        tf_fsbox_change_t c;
        memset(&c, 0, sizeof(c));
        c.path = p;
        c.data = out.p ? out.p : "";
        c.len = out.n;
        c.expect = TF_FSBOX_EXISTING;
        if (tf_fsbox_commit(b, &c, 1, 0) != 0)
            tf_code_fail(j, "%s", b->msg);
        else
            j->out = json_pack("{s:s, s:I, s:I}", "path", p, "replacements", (json_int_t)count, "bytes", (json_int_t)out.n);
        free(out.p);
    }
    free(data);
}

int tf_tool_code_edit(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_edit);
}

/* --- code_patch: parsing ------------------------------------------------------------------------ */

/* One line of a hunk: op ' ', '-' or '+', the text without its newline, and whether it had one. */
typedef struct pline {
    char op;
    int nl;
    const char *p;
    size_t n;
} pline_t;

typedef struct phunk {
    long old_start, old_len, new_start, new_len;
    size_t first, count; /* its lines in pfile.lines */
} phunk_t;

typedef struct pfile {
    char *path; /* normal form */
    int create, delete;
    phunk_t *hunks;
    size_t nhunks;
    pline_t *lines;
    size_t nlines;
    /* results */
    buf_t out;
    long added, removed;
} pfile_t;

typedef struct patch {
    pfile_t *files;
    size_t n;
    /* the text being read */
    const char *text;
    size_t len, pos;
    long lineno;
    char err[400];
} patch_t;

/* The next line of the patch (without '\n'); 0 at the end. */
static int next_line(patch_t *pt, const char **p, size_t *n)
{
    if (pt->pos >= pt->len)
        return 0;
    const char *s = pt->text + pt->pos, *nl = memchr(s, '\n', pt->len - pt->pos);
    *p = s;
    *n = nl ? (size_t)(nl - s) : pt->len - pt->pos;
    pt->pos += *n + (nl != NULL);
    pt->lineno++;
    return 1;
}

static int peek_starts(const patch_t *pt, const char *prefix)
{
    size_t l = strlen(prefix);
    return pt->pos + l <= pt->len && memcmp(pt->text + pt->pos, prefix, l) == 0;
}

static int perr(patch_t *pt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(patch_t *pt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pt->err, sizeof(pt->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* A name from a ---/+++ line: up to a tab (diff puts timestamps there); git quotes unusual names C-style. */
static char *header_name(const char *s, size_t n)
{
    buf_t b = {0};
    if (n > 0 && s[0] == '"') {
        for (size_t i = 1; i < n && s[i] != '"'; i++) {
            char c = s[i];
            if (c == '\\' && i + 1 < n) {
                c = s[++i];
                if (c >= '0' && c <= '7' && i + 2 < n) {
                    c = (char)(((s[i] - '0') << 6) | ((s[i + 1] - '0') << 3) | (s[i + 2] - '0'));
                    i += 2;
                } else {
                    c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
                }
            }
            buf_add(&b, &c, 1);
        }
    } else {
        const char *tab = memchr(s, '\t', n);
        size_t l = tab ? (size_t)(tab - s) : n;
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\r'))
            l--;
        buf_add(&b, s, l);
    }
    if (b.p == NULL)
        buf_add(&b, "", 0);
    return b.p;
}

static void add_pline(pfile_t *f, char op, const char *p, size_t n)
{
    if ((f->nlines & (f->nlines - 1)) == 0) /* grows at powers of two */
        f->lines = realloc(f->lines, (f->nlines ? f->nlines * 2 : 8) * sizeof(*f->lines));
    f->lines[f->nlines++] = (pline_t){op, 1, p, n};
}

/* "@@ -a[,b] +c[,d] @@..." */
static int parse_range(const char **s, char sign, long *start, long *len)
{
    if (**s != sign)
        return -1;
    char *e;
    (*s)++;
    *start = strtol(*s, &e, 10);
    if (e == *s || *start < 0)
        return -1;
    *len = 1;
    if (*e == ',') {
        const char *l = e + 1;
        *len = strtol(l, &e, 10);
        if (e == l || *len < 0)
            return -1;
    }
    *s = e;
    return 0;
}

static int parse_hunk(patch_t *pt, pfile_t *f, const char *hdr, size_t hn)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(hn < 127 ? hn : 127), hdr);
    const char *s = tmp + 3;
    phunk_t h;
    memset(&h, 0, sizeof(h));
    if (parse_range(&s, '-', &h.old_start, &h.old_len) != 0 || *s++ != ' ' || parse_range(&s, '+', &h.new_start, &h.new_len) != 0 ||
        strncmp(s, " @@", 3) != 0)
        return perr(pt, "patch line %ld: malformed hunk header '%.80s' (expected @@ -l,n +l,n @@)", pt->lineno, tmp);
    if (h.old_len > 100000000 || h.new_len > 100000000)
        return perr(pt, "patch line %ld: hunk too large", pt->lineno);
    h.first = f->nlines;
    long ro = h.old_len, rn = h.new_len;
    while (ro > 0 || rn > 0) {
        const char *p;
        size_t n;
        if (!next_line(pt, &p, &n))
            return perr(pt, "the patch ends inside a hunk of '%s' (%ld old and %ld new lines missing; is it cut short?)", f->path, ro, rn);
        if (n > 0 && p[0] == '\\') { /* "\ No newline at end of file": about the line before */
            if (f->nlines > h.first)
                f->lines[f->nlines - 1].nl = 0;
            continue;
        }
        /* An empty line: a context line whose space an editor stripped. */
        char op = n == 0 ? ' ' : p[0];
        if (op == ' ')
            ro--, rn--;
        else if (op == '-')
            ro--;
        else if (op == '+')
            rn--;
        else
            return perr(pt, "patch line %ld: '%.60s' inside a hunk of '%s' (lines start with ' ', '-' or '+'; %ld old and %ld new lines were still due)",
                        pt->lineno, p, f->path, ro, rn);
        if (ro < 0 || rn < 0)
            return perr(pt, "patch line %ld: the hunk of '%s' has more lines than its header @@ -%ld,%ld +%ld,%ld @@ says", pt->lineno,
                        f->path, h.old_start, h.old_len, h.new_start, h.new_len);
        add_pline(f, op, n ? p + 1 : p, n ? n - 1 : 0);
    }
    if (peek_starts(pt, "\\")) {
        const char *p;
        size_t n;
        next_line(pt, &p, &n);
        if (f->nlines > h.first)
            f->lines[f->nlines - 1].nl = 0;
    }
    h.count = f->nlines - h.first;
    f->hunks = realloc(f->hunks, (f->nhunks + 1) * sizeof(*f->hunks));
    f->hunks[f->nhunks++] = h;
    return 0;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Which file a ---/+++ pair names: git's a/ and b/ prefixes go; /dev/null creates or deletes. */
static int file_target(patch_t *pt, tf_fsbox_t *b, pfile_t *f, char *old, char *new)
{
    const char *o = strcmp(old, "/dev/null") == 0 ? NULL : old, *n = strcmp(new, "/dev/null") == 0 ? NULL : new;
    if (o == NULL && n == NULL)
        return perr(pt, "patch line %ld: both names are /dev/null", pt->lineno);
    if ((o == NULL || starts(o, "a/")) && (n == NULL || starts(n, "b/"))) {
        o = o ? o + 2 : NULL;
        n = n ? n + 2 : NULL;
    }
    if (o != NULL && n != NULL && strcmp(o, n) != 0)
        return perr(pt, "patch line %ld: renames are not supported ('%.150s' -> '%.150s'); patch the file in place, then use code_move",
                    pt->lineno, o, n);
    const char *name = n ? n : o;
    char norm[TF_FSBOX_PATH_MAX];
    if (tf_fsbox_norm(b, name, strlen(name), 0, norm) < 0)
        return perr(pt, "patch line %ld: path '%.200s' %s", pt->lineno, name, b->msg);
    f->path = strdup(norm);
    f->create = o == NULL;
    f->delete = n == NULL;
    return 0;
}

static int parse_patch(patch_t *pt, tf_fsbox_t *b)
{
    const char *p;
    size_t n;
    while (next_line(pt, &p, &n)) {
        if ((n >= 12 && (memcmp(p, "rename from ", 12) == 0)) || (n >= 10 && memcmp(p, "copy from ", 10) == 0))
            return perr(pt, "patch line %ld: git renames and copies are not supported; use code_move, then patch in place", pt->lineno);
        if (n >= 16 && memcmp(p, "GIT binary patch", 16) == 0)
            return perr(pt, "patch line %ld: binary patches are not supported", pt->lineno);
        if (!(n >= 4 && memcmp(p, "--- ", 4) == 0 && peek_starts(pt, "+++ ")))
            continue; /* diff --git, index, mode lines, prose: not ours */
        char *old = header_name(p + 4, n - 4);
        next_line(pt, &p, &n);
        char *new = header_name(p + 4, n - 4);
        pt->files = realloc(pt->files, (pt->n + 1) * sizeof(*pt->files));
        pfile_t *f = &pt->files[pt->n++];
        memset(f, 0, sizeof(*f));
        int rc = file_target(pt, b, f, old, new);
        free(old);
        free(new);
        if (rc != 0)
            return -1;
        for (size_t k = 0; k + 1 < pt->n; k++)
            if (strcmp(pt->files[k].path, f->path) == 0)
                return perr(pt, "patch line %ld: '%s' is named twice; put all its hunks under one ---/+++ header", pt->lineno, f->path);
        while (peek_starts(pt, "@@ ")) {
            next_line(pt, &p, &n);
            if (parse_hunk(pt, f, p, n) != 0)
                return -1;
        }
        if (f->nhunks == 0)
            return perr(pt, "patch line %ld: '%s' has no @@ hunk after its ---/+++ lines", pt->lineno, f->path);
    }
    if (pt->n == 0)
        return perr(pt, "no file diff found: expected '--- a/path' and '+++ b/path' lines, each followed by @@ hunks");
    return 0;
}

static void patch_free(patch_t *pt)
{
    for (size_t i = 0; i < pt->n; i++) {
        free(pt->files[i].path);
        free(pt->files[i].hunks);
        free(pt->files[i].lines);
        free(pt->files[i].out.p);
    }
    free(pt->files);
}

/* --- code_patch: applying ----------------------------------------------------------------------- */

/* Does the hunk's old side (' ' and '-' lines) match the file at line index `at`? Newlines count. */
static int hunk_fits(const pfile_t *f, const phunk_t *h, const line_t *a, size_t na, size_t at)
{
    size_t k = at;
    for (size_t i = h->first; i < h->first + h->count; i++) {
        const pline_t *pl = &f->lines[i];
        if (pl->op == '+')
            continue;
        if (k >= na)
            return 0;
        const line_t *l = &a[k++];
        size_t tl = l->n - (size_t)has_nl(l);
        if (tl != pl->n || has_nl(l) != pl->nl || memcmp(l->p, pl->p, tl) != 0)
            return 0;
    }
    return 1;
}

/* Why a hunk does not fit at its stated place: the first line that differs, for the model to correct itself. */
static void hunk_mismatch(const pfile_t *f, const phunk_t *h, const line_t *a, size_t na, size_t at, char *out, size_t size)
{
    size_t k = at;
    for (size_t i = h->first; i < h->first + h->count; i++) {
        const pline_t *pl = &f->lines[i];
        if (pl->op == '+')
            continue;
        if (k >= na) {
            snprintf(out, size, "the file has only %zu lines", na);
            return;
        }
        const line_t *l = &a[k];
        size_t tl = l->n - (size_t)has_nl(l);
        if (tl != pl->n || memcmp(l->p, pl->p, tl) != 0) {
            snprintf(out, size, "line %zu is \"%.*s\" where the hunk expects \"%.*s\"", k + 1, (int)utf8_cut(l->p, tl, 80), l->p,
                     (int)utf8_cut(pl->p, pl->n, 80), pl->p);
            return;
        }
        if (has_nl(l) != pl->nl) {
            snprintf(out, size, "line %zu %s a newline at its end, the hunk says otherwise", k + 1, has_nl(l) ? "has" : "lacks");
            return;
        }
        k++;
    }
    snprintf(out, size, "its context matches nowhere after the previous hunk");
}

/* Applies f's hunks to `data` (fuzz 0: exact context; a hunk may move, as GNU patch's offsets). */
static int apply_file(patch_t *pt, pfile_t *f, const char *data, size_t len)
{
    size_t na;
    line_t *a = split_lines(data, len, &na);
    size_t last = 0;
    long offset = 0;
    int rc = 0;
    for (size_t hi = 0; hi < f->nhunks && rc == 0; hi++) {
        const phunk_t *h = &f->hunks[hi];
        /* Where the header says, moved by how far earlier hunks were found from theirs. */
        long base = h->old_len == 0 ? h->old_start : h->old_start - 1, want = base + offset;
        long found = -1;
        if (h->old_len == 0) {
            /* Pure insertion: no context to search by, so only the stated place. */
            if (want >= (long)last && want <= (long)na)
                found = want;
        } else {
            long lo = (long)last, hi_pos = (long)na - h->old_len;
            for (long d = 0; found < 0 && (want - d >= lo || want + d <= hi_pos); d++) {
                if (want - d >= lo && want - d <= hi_pos && hunk_fits(f, h, a, na, (size_t)(want - d)))
                    found = want - d;
                else if (d > 0 && want + d >= lo && want + d <= hi_pos && hunk_fits(f, h, a, na, (size_t)(want + d)))
                    found = want + d;
            }
        }
        if (found < 0) {
            char why[240];
            size_t at = want < (long)last ? last : (size_t)want;
            hunk_mismatch(f, h, a, na, at, why, sizeof(why));
            rc = perr(pt, "hunk %zu of '%s' (@@ -%ld,%ld +%ld,%ld @@) does not apply: %s (context must match exactly); nothing was changed",
                      hi + 1, f->path, h->old_start, h->old_len, h->new_start, h->new_len, why);
            break;
        }
        for (size_t k = last; k < (size_t)found; k++)
            buf_add(&f->out, a[k].p, a[k].n);
        size_t k = (size_t)found;
        for (size_t i = h->first; i < h->first + h->count; i++) {
            const pline_t *pl = &f->lines[i];
            if (pl->op == ' ') {
                buf_add(&f->out, a[k].p, a[k].n);
                k++;
            } else if (pl->op == '-') {
                k++;
                f->removed++;
            } else {
                buf_add(&f->out, pl->p, pl->n);
                if (pl->nl)
                    buf_add(&f->out, "\n", 1);
                f->added++;
            }
        }
        last = k;
        offset = found - base;
    }
    if (rc == 0) {
        for (size_t k = last; k < na; k++)
            buf_add(&f->out, a[k].p, a[k].n);
        if (f->delete && f->out.n > 0)
            rc = perr(pt, "'%s': the patch deletes the file (+++ /dev/null) but its hunks do not remove all of its lines; nothing was changed",
                      f->path);
    }
    free(a);
    return rc;
}

static void run_patch(code_job_t *j, tf_fsbox_t *b)
{
    patch_t pt;
    memset(&pt, 0, sizeof(pt));
    pt.text = arg_str(j, "patch");
    pt.len = arg_len(j, "patch");
    int dry = arg_bool(j, "dry_run", 0);
    if (parse_patch(&pt, b) != 0) {
        tf_code_fail(j, "patch: %s", pt.err);
        patch_free(&pt);
        return;
    }
    int rc = 0;
    for (size_t i = 0; i < pt.n && rc == 0; i++) {
        pfile_t *f = &pt.files[i];
        struct stat st;
        int exists = tf_fsbox_lstat(b, f->path, &st) == 0;
        if (!exists && b->err != ENOENT) {
            rc = perr(&pt, "'%s' %s; nothing was changed", f->path, b->msg);
        } else if (f->create && exists) {
            rc = perr(&pt, "'%s' already exists, but the patch creates it (--- /dev/null); nothing was changed", f->path);
        } else if (!f->create && !exists) {
            rc = perr(&pt, "'%s' does not exist (a new file needs --- /dev/null); nothing was changed", f->path);
        } else if (exists && S_ISLNK(st.st_mode)) {
            rc = perr(&pt, "'%s' is a symlink; files are never written through symlinks; nothing was changed", f->path);
        } else if (f->create) {
            rc = apply_file(&pt, f, "", 0);
        } else {
            char *data;
            size_t len;
            if (tf_fsbox_read(b, f->path, &data, &len, NULL) != 0) {
                rc = perr(&pt, "'%s' %s; nothing was changed", f->path, b->msg);
            } else {
                rc = apply_file(&pt, f, data, len);
                free(data);
            }
        }
    }
    if (rc != 0) {
        tf_code_fail(j, "patch: %s", pt.err);
        patch_free(&pt);
        return;
    }
    if (!dry) {
        tf_fsbox_change_t *c = calloc(pt.n, sizeof(*c));
        for (size_t i = 0; i < pt.n; i++) {
            c[i].path = pt.files[i].path;
            c[i].data = pt.files[i].out.p ? pt.files[i].out.p : "";
            c[i].len = pt.files[i].out.n;
            c[i].remove = pt.files[i].delete;
            c[i].expect = pt.files[i].create ? TF_FSBOX_NEW : TF_FSBOX_EXISTING;
        }
        rc = tf_fsbox_commit(b, c, pt.n, arg_bool(j, "create_dirs", 1) ? TF_FSBOX_MKDIRS : 0);
        free(c);
        if (rc != 0) {
            tf_code_fail(j, "patch: %s; nothing was changed", b->msg);
            patch_free(&pt);
            return;
        }
    }
    json_t *files = json_array();
    long hunks = 0;
    for (size_t i = 0; i < pt.n; i++) {
        pfile_t *f = &pt.files[i];
        hunks += (long)f->nhunks;
        json_array_append_new(files, json_pack("{s:s, s:s, s:I, s:I, s:I}", "path", f->path, "action",
                                               f->create ? "created" : f->delete ? "deleted" : "modified", "hunks", (json_int_t)f->nhunks,
                                               "added", (json_int_t)f->added, "removed", (json_int_t)f->removed));
    }
    j->out = json_pack("{s:b, s:I, s:o}", "applied", !dry, "hunks", (json_int_t)hunks, "files", files);
    patch_free(&pt);
}

int tf_tool_code_patch(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_patch);
}

/* --- code_grep ----------------------------------------------------------------------------------- */

#define GREP_ENTRIES_MAX 200000 /* entries visited: bounds the time of one search */
#define GREP_TEXT_MAX 500       /* bytes of a matching line returned */

typedef struct grep {
    code_job_t *j;
    tf_fsbox_t *b;
    regex_t re;
    char *globs[16];
    size_t nglobs;
    const char *base;
    json_t *matches;
    size_t count, max, searched, skipped, visited;
    int truncated;
} grep_t;

/* "*.{c,h}" -> "*.c", "*.h": fnmatch has no braces; one group is what include filters need. */
size_t tf_code_expand_braces(const char *glob, char **out, size_t max)
{
    const char *open = strchr(glob, '{'), *close = open ? strchr(open, '}') : NULL;
    if (open == NULL || close == NULL) {
        out[0] = strdup(glob);
        return 1;
    }
    size_t n = 0;
    for (const char *s = open + 1; s <= close && n < max;) {
        const char *e = s;
        while (e < close && *e != ',')
            e++;
        if (asprintf(&out[n], "%.*s%.*s%s", (int)(open - glob), glob, (int)(e - s), s, close + 1) >= 0)
            n++;
        s = e + 1;
    }
    return n;
}

static int include_ok(const grep_t *g, const tf_fsbox_entry_t *e)
{
    if (g->nglobs == 0)
        return 1;
    for (size_t i = 0; i < g->nglobs; i++) {
        /* With a '/', the glob is about the path under the search start; otherwise about the name. */
        const char *subject = strchr(g->globs[i], '/') && e->rel[0] ? e->rel : e->name;
        if (fnmatch(g->globs[i], subject, strchr(g->globs[i], '/') ? FNM_PATHNAME : 0) == 0)
            return 1;
    }
    return 0;
}

static int grep_file(grep_t *g, const tf_fsbox_entry_t *e)
{
    char *data = NULL;
    size_t len = 0;
    if (tf_fsbox_entry_read(g->b, e, &data, &len) != 0) {
        g->skipped++; /* over the size cap, or gone meanwhile */
        return TF_FSBOX_WALK_NEXT;
    }
    if (!text_ok(data, len)) {
        free(data);
        g->skipped++; /* binary */
        return TF_FSBOX_WALK_NEXT;
    }
    g->searched++;
    char *path = NULL;
    long lineno = 0;
    int r = TF_FSBOX_WALK_NEXT;
    for (size_t i = 0; i < len && r == TF_FSBOX_WALK_NEXT;) {
        char *nl = memchr(data + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (data + i)) : len - i;
        lineno++;
        data[i + l] = '\0'; /* our own copy: each line becomes a C string for regexec */
        if (regexec(&g->re, data + i, 0, NULL, 0) == 0) {
            if (g->count == g->max) {
                g->truncated = 1;
                r = TF_FSBOX_WALK_STOP;
                break;
            }
            if (path == NULL)
                path = join(g->base, e->rel);
            json_array_append_new(g->matches, json_pack("{s:o, s:I, s:s%}", "path", tf_code_text(path), "line", (json_int_t)lineno, "text", data + i,
                                                        utf8_cut(data + i, l, GREP_TEXT_MAX)));
            g->count++;
        }
        i += l + 1;
    }
    free(path);
    free(data);
    return r;
}

static int grep_visit(void *ud, const tf_fsbox_entry_t *e)
{
    grep_t *g = ud;
    if (++g->visited > GREP_ENTRIES_MAX) {
        g->truncated = 1;
        return TF_FSBOX_WALK_STOP;
    }
    if (S_ISDIR(e->st.st_mode))
        return strcmp(e->name, ".git") == 0 ? TF_FSBOX_WALK_PRUNE : TF_FSBOX_WALK_NEXT;
    if (!S_ISREG(e->st.st_mode) || !include_ok(g, e))
        return TF_FSBOX_WALK_NEXT;
    return grep_file(g, e);
}

static void run_grep(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 1, p) == NULL)
        return;
    grep_t g;
    memset(&g, 0, sizeof(g));
    g.j = j;
    g.b = b;
    g.base = p;
    g.max = (size_t)arg_int(j, "max_results", 100);
    int rc = regcomp(&g.re, arg_str(j, "pattern"), REG_EXTENDED | REG_NOSUB | (arg_bool(j, "ignore_case", 0) ? REG_ICASE : 0));
    if (rc != 0) {
        char msg[200];
        regerror(rc, &g.re, msg, sizeof(msg));
        tf_code_fail(j, "pattern is not a valid POSIX extended regular expression: %s", msg);
        return;
    }
    if (arg_str(j, "include") != NULL)
        g.nglobs = tf_code_expand_braces(arg_str(j, "include"), g.globs, sizeof(g.globs) / sizeof(g.globs[0]));
    g.matches = json_array();
    if (tf_fsbox_walk(b, p, TF_FSBOX_DEPTH_MAX, grep_visit, &g) != 0) {
        tf_code_fail(j, "path '%s' %s", p[0] ? p : ".", b->msg);
        json_decref(g.matches);
    } else {
        j->out = json_pack("{s:I, s:I, s:I, s:b, s:o}", "count", (json_int_t)g.count, "files_searched", (json_int_t)g.searched,
                           "files_skipped", (json_int_t)g.skipped, "truncated", g.truncated || b->truncated, "matches", g.matches);
    }
    for (size_t i = 0; i < g.nglobs; i++)
        free(g.globs[i]);
    regfree(&g.re);
}

int tf_tool_code_grep(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_grep);
}

/* --- code_list and code_tree --------------------------------------------------------------------- */

typedef struct listing {
    const char *base;
    json_t *entries;
    size_t count, max;
    int tree, truncated, not_dir;
} listing_t;

static json_int_t entry_size(const struct stat *st)
{
    return S_ISREG(st->st_mode) ? (json_int_t)st->st_size : 0;
}

static int list_visit(void *ud, const tf_fsbox_entry_t *e)
{
    listing_t *l = ud;
    if (e->depth == 0) { /* the start is a file */
        l->not_dir = 1;
        return TF_FSBOX_WALK_STOP;
    }
    if (l->count == l->max) {
        l->truncated = 1;
        return TF_FSBOX_WALK_STOP;
    }
    l->count++;
    if (l->tree) {
        char *path = join(l->base, e->rel);
        json_array_append_new(l->entries, json_pack("{s:o, s:s, s:I, s:i}", "path", tf_code_text(path), "type", tf_fsbox_type(e->st.st_mode), "size",
                                                    entry_size(&e->st), "depth", e->depth));
        free(path);
        /* .git is shown, not entered: it would drown the tree of a repository. */
        return S_ISDIR(e->st.st_mode) && strcmp(e->name, ".git") == 0 ? TF_FSBOX_WALK_PRUNE : TF_FSBOX_WALK_NEXT;
    }
    json_array_append_new(l->entries,
                          json_pack("{s:o, s:s, s:I}", "name", tf_code_text(e->name), "type", tf_fsbox_type(e->st.st_mode), "size", entry_size(&e->st)));
    return TF_FSBOX_WALK_NEXT;
}

static void run_listing(code_job_t *j, tf_fsbox_t *b, int tree)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 1, p) == NULL)
        return;
    listing_t l = {.base = p, .entries = json_array(), .tree = tree};
    l.max = (size_t)arg_int(j, "max_entries", tree ? 500 : 1000);
    int depth = tree ? (int)arg_int(j, "depth", 3) : 1;
    if (tf_fsbox_walk(b, p, depth, list_visit, &l) != 0)
        tf_code_fail(j, "path '%s' %s", p[0] ? p : ".", b->msg);
    else if (l.not_dir)
        tf_code_fail(j, "path '%s' is a file, not a directory (code_read reads it, code_stat describes it)", p);
    else
        j->out = json_pack("{s:s, s:I, s:b, s:O}", "path", p[0] ? p : ".", "count", (json_int_t)l.count, "truncated",
                           l.truncated || b->truncated, "entries", l.entries);
    json_decref(l.entries);
}

static void run_list(code_job_t *j, tf_fsbox_t *b)
{
    run_listing(j, b, 0);
}

static void run_tree(code_job_t *j, tf_fsbox_t *b)
{
    run_listing(j, b, 1);
}

int tf_tool_code_list(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_list);
}

int tf_tool_code_tree(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_tree);
}

/* --- code_stat ------------------------------------------------------------------------------------ */

static void run_stat(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 1, p) == NULL)
        return;
    struct stat st;
    if (tf_fsbox_lstat(b, p, &st) != 0) {
        tf_code_fail(j, "path '%s' %s", p[0] ? p : ".", b->msg);
        return;
    }
    char mtime[32], mode[16];
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(mtime, sizeof(mtime), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(mode, sizeof(mode), "0%03o", (unsigned)(st.st_mode & 07777));
    j->out = json_pack("{s:s, s:s, s:I, s:s, s:s}", "path", p[0] ? p : ".", "type", tf_fsbox_type(st.st_mode), "size",
                       (json_int_t)st.st_size, "mtime", mtime, "mode", mode);
    char target[TF_FSBOX_PATH_MAX];
    /* The target is text the user's own symlink holds: shown, not followed. */
    if (S_ISLNK(st.st_mode) && tf_fsbox_readlink(b, p, target, sizeof(target)) == 0)
        json_object_set_new(j->out, "target", tf_code_text(target));
}

int tf_tool_code_stat(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_stat);
}

/* --- code_move ------------------------------------------------------------------------------------ */

static void run_move(code_job_t *j, tf_fsbox_t *b)
{
    char from[TF_FSBOX_PATH_MAX], to[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "from", 1, from) == NULL || tf_code_arg_path(j, b, "to", 1, to) == NULL)
        return;
    struct stat st;
    memset(&st, 0, sizeof(st));
    if (from[0] != '\0' && tf_fsbox_lstat(b, from, &st) != 0) {
        tf_code_fail(j, "from '%s' %s", from, b->msg);
        return;
    }
    int flags = (arg_bool(j, "overwrite", 0) ? 0 : TF_FSBOX_NO_REPLACE) | (arg_bool(j, "create_dirs", 0) ? TF_FSBOX_MKDIRS : 0);
    int replaced;
    if (tf_fsbox_rename(b, from, to, flags, &replaced) != 0) {
        tf_code_fail(j, "%s", b->msg);
        return;
    }
    j->out = json_pack("{s:s, s:s, s:s, s:b}", "from", from, "to", to, "type", tf_fsbox_type(st.st_mode), "overwritten", replaced);
}

int tf_tool_code_move(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_move);
}

/* --- code_delete ---------------------------------------------------------------------------------- */

static void run_delete(code_job_t *j, tf_fsbox_t *b)
{
    char p[TF_FSBOX_PATH_MAX];
    if (tf_code_arg_path(j, b, "path", 1, p) == NULL)
        return;
    struct stat st;
    memset(&st, 0, sizeof(st));
    if (p[0] != '\0' && tf_fsbox_lstat(b, p, &st) != 0) {
        tf_code_fail(j, "path '%s' %s", p, b->msg);
        return;
    }
    unsigned long removed;
    if (tf_fsbox_remove(b, p, arg_bool(j, "recursive", 0), &removed) != 0) {
        tf_code_fail(j, "path '%s' %s", p[0] ? p : arg_str(j, "path"), b->msg);
        return;
    }
    j->out = json_pack("{s:s, s:s, s:I}", "path", p, "type", tf_fsbox_type(st.st_mode), "removed", (json_int_t)removed);
}

int tf_tool_code_delete(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_delete);
}

/* --- code_diff: Myers' O(ND) difference algorithm, linear space ---------------------------------- */

/* Lines become small integers (equal text, equal id) so the search compares ints. */
typedef struct interner {
    size_t *slot; /* index+1 into keys, 0 = empty */
    size_t mask;
    const line_t **keys;
    size_t n;
} interner_t;

static uint64_t line_hash(const line_t *l)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < l->n; i++)
        h = (h ^ (unsigned char)l->p[i]) * 1099511628211ull;
    return h;
}

static long intern(interner_t *t, const line_t *l)
{
    for (size_t i = line_hash(l) & t->mask;; i = (i + 1) & t->mask) {
        if (t->slot[i] == 0) {
            t->keys[t->n] = l;
            t->slot[i] = ++t->n;
            return (long)t->n - 1;
        }
        const line_t *k = t->keys[t->slot[i] - 1];
        if (k->n == l->n && memcmp(k->p, l->p, l->n) == 0)
            return (long)t->slot[i] - 1;
    }
}

typedef struct myers {
    const long *a, *b;
    char *da, *db; /* 1: line deleted from a / inserted into b */
    long *vf, *vb;
    long budget;  /* work left; past it, a region is reported as replaced whole (still a correct diff) */
    long maxcost; /* edit cost after which one search settles for a good split instead of the best */
} myers_t;

/* After `maxcost` rounds without the paths meeting: the furthest point either path reached (xdiff does the same). */
static void good_enough(const myers_t *m, long d, long off, long n, long mm, long a0, long a1, long b0, long b1, long *sx, long *sy)
{
    long best = -1;
    for (long k = -d; k <= d; k += 2) {
        long x = m->vf[off + k], y = x - k;
        if (x >= 0 && x <= n && y >= 0 && y <= mm && x + y > best)
            best = x + y, *sx = a0 + x, *sy = b0 + y;
    }
    for (long k = -d; k <= d; k += 2) {
        long x = m->vb[off + k], y = x - k;
        if (x >= 0 && x <= n && y >= 0 && y <= mm && x + y > best)
            best = x + y, *sx = a1 - x, *sy = b1 - y;
    }
}

/*
 * The middle snake of a[a0,a1) and b[b0,b1): walks D-paths from both ends
 * until they overlap (the bisection of diff-match-patch, after Myers 1986
 * section 4b). Returns 1 and the split point, or 0 when out of budget.
 * Past maxcost the split is a good one rather than the optimal one, so a
 * huge, thoroughly changed file costs O((N+M) * maxcost), not O((N+M) * D):
 * the diff stays correct, and minimal for all but such pathological inputs.
 */
static int bisect(myers_t *m, long a0, long a1, long b0, long b1, long *sx, long *sy)
{
    long n = a1 - a0, mm = b1 - b0, max_d = (n + mm + 1) / 2, off = max_d, vlen = 2 * max_d + 2;
    for (long i = 0; i < vlen; i++)
        m->vf[i] = m->vb[i] = -1;
    m->vf[off + 1] = m->vb[off + 1] = 0;
    long delta = n - mm, k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    int front = (delta % 2) != 0; /* odd: the forward path meets the reverse one */
    for (long d = 0; d < max_d; d++) {
        if ((m->budget -= 2 * d + 2) < 0)
            return 0;
        if (d >= m->maxcost) {
            good_enough(m, d - 1, off, n, mm, a0, a1, b0, b1, sx, sy);
            return 1;
        }
        for (long k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
            long ko = off + k1, x1;
            x1 = (k1 == -d || (k1 != d && m->vf[ko - 1] < m->vf[ko + 1])) ? m->vf[ko + 1] : m->vf[ko - 1] + 1;
            long y1 = x1 - k1;
            while (x1 < n && y1 < mm && m->a[a0 + x1] == m->b[b0 + y1])
                x1++, y1++, m->budget--;
            m->vf[ko] = x1;
            if (x1 > n) {
                k1end += 2;
            } else if (y1 > mm) {
                k1start += 2;
            } else if (front) {
                long k2o = off + delta - k1;
                if (k2o >= 0 && k2o < vlen && m->vb[k2o] != -1 && x1 >= n - m->vb[k2o]) {
                    *sx = a0 + x1;
                    *sy = b0 + y1;
                    return 1;
                }
            }
        }
        for (long k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
            long ko = off + k2, x2;
            x2 = (k2 == -d || (k2 != d && m->vb[ko - 1] < m->vb[ko + 1])) ? m->vb[ko + 1] : m->vb[ko - 1] + 1;
            long y2 = x2 - k2;
            while (x2 < n && y2 < mm && m->a[a1 - 1 - x2] == m->b[b1 - 1 - y2])
                x2++, y2++, m->budget--;
            m->vb[ko] = x2;
            if (x2 > n) {
                k2end += 2;
            } else if (y2 > mm) {
                k2start += 2;
            } else if (!front) {
                long k1o = off + delta - k2;
                if (k1o >= 0 && k1o < vlen && m->vf[k1o] != -1) {
                    long x1 = m->vf[k1o], y1 = off + x1 - k1o;
                    if (x1 >= n - x2) {
                        *sx = a0 + x1;
                        *sy = b0 + y1;
                        return 1;
                    }
                }
            }
        }
    }
    return 0;
}

static void mark_all(myers_t *m, long a0, long a1, long b0, long b1)
{
    if (a1 > a0)
        memset(m->da + a0, 1, (size_t)(a1 - a0));
    if (b1 > b0)
        memset(m->db + b0, 1, (size_t)(b1 - b0));
}

static void compare(myers_t *m, long a0, long a1, long b0, long b1)
{
    while (a0 < a1 && b0 < b1 && m->a[a0] == m->b[b0])
        a0++, b0++;
    while (a0 < a1 && b0 < b1 && m->a[a1 - 1] == m->b[b1 - 1])
        a1--, b1--;
    long x = a0, y = b0; /* good_enough may find no point: then the split is trivial and refused */
    if (a0 == a1 || b0 == b1 || m->budget <= 0 || !bisect(m, a0, a1, b0, b1, &x, &y) || (x == a0 && y == b0) || (x == a1 && y == b1)) {
        mark_all(m, a0, a1, b0, b1);
        return;
    }
    compare(m, a0, x, b0, y);
    compare(m, x, a1, y, b1);
}

/*
 * Marks in dela/insb the lines of a (ids ia) deleted and of b inserted.
 * Lines that occur on one side only can never be common: they are marked
 * at once and left out of the search (GNU diff discards them too), which
 * keeps the result minimal and makes a rewritten file cheap.
 */
static void myers_diff(const long *ia, size_t na, const long *ib, size_t nb, size_t nids, char *dela, char *insb)
{
    char *in_a = calloc(nids + 1, 1), *in_b = calloc(nids + 1, 1);
    for (size_t i = 0; i < na; i++)
        in_a[ia[i]] = 1;
    for (size_t i = 0; i < nb; i++)
        in_b[ib[i]] = 1;
    size_t *ka = malloc((na + 1) * sizeof(*ka)), *kb = malloc((nb + 1) * sizeof(*kb)), ma = 0, mb = 0;
    long *xa = malloc((na + 1) * sizeof(*xa)), *xb = malloc((nb + 1) * sizeof(*xb));
    for (size_t i = 0; i < na; i++) {
        if (in_b[ia[i]])
            ka[ma] = i, xa[ma++] = ia[i];
        else
            dela[i] = 1;
    }
    for (size_t i = 0; i < nb; i++) {
        if (in_a[ib[i]])
            kb[mb] = i, xb[mb++] = ib[i];
        else
            insb[i] = 1;
    }
    long diags = (long)(ma + mb) + 3, root = 1;
    while (root * root < diags)
        root++;
    myers_t m = {.a = xa, .b = xb, .da = calloc(ma + 1, 1), .db = calloc(mb + 1, 1), .budget = 400000000, .maxcost = root > 2048 ? root : 2048};
    m.vf = malloc((2 * (ma + mb) + 8) * sizeof(long));
    m.vb = malloc((2 * (ma + mb) + 8) * sizeof(long));
    compare(&m, 0, (long)ma, 0, (long)mb);
    for (size_t k = 0; k < ma; k++)
        dela[ka[k]] |= m.da[k];
    for (size_t k = 0; k < mb; k++)
        insb[kb[k]] |= m.db[k];
    free(m.da);
    free(m.db);
    free(m.vf);
    free(m.vb);
    free(xa);
    free(xb);
    free(ka);
    free(kb);
    free(in_a);
    free(in_b);
}

enum { OP_EQ, OP_DEL, OP_INS };
typedef struct op {
    int kind;
    size_t i, j; /* positions in a and b before the op */
} op_t;

static void diff_line(buf_t *out, char prefix, const line_t *l)
{
    buf_add(out, &prefix, 1);
    buf_add(out, l->p, l->n);
    if (!has_nl(l))
        buf_str(out, "\n\\ No newline at end of file\n");
}

/* GNU's header form: ",1" is left out; an empty range names the line before it. */
static void range(buf_t *out, char sign, size_t start, size_t len)
{
    if (len == 1)
        buf_fmt(out, "%c%zu", sign, start + 1);
    else
        buf_fmt(out, "%c%zu,%zu", sign, len ? start + 1 : start, len);
}

/* Turns the marks into hunks with `ctx` lines of context; changes closer than 2*ctx share a hunk. */
static size_t unified(buf_t *out, const line_t *a, size_t na, const line_t *b, size_t nb, const char *da, const char *db, size_t ctx)
{
    op_t *ops = malloc((na + nb + 1) * sizeof(*ops));
    size_t n = 0, i = 0, j = 0, hunks = 0;
    while (i < na || j < nb) {
        if (i < na && da[i])
            ops[n++] = (op_t){OP_DEL, i++, j};
        else if (j < nb && db[j])
            ops[n++] = (op_t){OP_INS, i, j++};
        else if (i < na && j < nb)
            ops[n++] = (op_t){OP_EQ, i++, j++};
        else
            break; /* unreachable with consistent marks */
    }
    for (size_t k = 0; k < n;) {
        size_t s = k;
        while (s < n && ops[s].kind == OP_EQ)
            s++;
        if (s == n)
            break;
        size_t last = s, e = s;
        for (; e < n; e++) {
            if (ops[e].kind != OP_EQ)
                last = e;
            else if (e - last > 2 * ctx)
                break;
        }
        size_t start = s - k > ctx ? s - ctx : k, end = last + ctx + 1 < n ? last + ctx + 1 : n;
        size_t ol = 0, nl = 0;
        for (size_t q = start; q < end; q++) {
            ol += ops[q].kind != OP_INS;
            nl += ops[q].kind != OP_DEL;
        }
        buf_str(out, "@@ ");
        range(out, '-', ops[start].i, ol);
        buf_str(out, " ");
        range(out, '+', ops[start].j, nl);
        buf_str(out, " @@\n");
        for (size_t q = start; q < end; q++) {
            if (ops[q].kind == OP_EQ)
                diff_line(out, ' ', &a[ops[q].i]);
            else if (ops[q].kind == OP_DEL)
                diff_line(out, '-', &a[ops[q].i]);
            else
                diff_line(out, '+', &b[ops[q].j]);
        }
        hunks++;
        k = end;
    }
    free(ops);
    return hunks;
}

static void run_diff(code_job_t *j, tf_fsbox_t *b)
{
    char pa[TF_FSBOX_PATH_MAX], pb[TF_FSBOX_PATH_MAX];
    const char *btext = arg_str(j, "b_text");
    int has_b = json_object_get(j->args, "b") != NULL;
    if (has_b == (btext != NULL)) {
        tf_code_fail(j, "give exactly one of b (a second file) and b_text (a text to compare with)");
        return;
    }
    if (tf_code_arg_path(j, b, "a", 0, pa) == NULL || (has_b && tf_code_arg_path(j, b, "b", 0, pb) == NULL))
        return;
    char *da = NULL, *db = NULL;
    size_t la, lb;
    if (tf_fsbox_read(b, pa, &da, &la, NULL) != 0) {
        tf_code_fail(j, "a '%s' %s", pa, b->msg);
        return;
    }
    if (has_b && tf_fsbox_read(b, pb, &db, &lb, NULL) != 0) {
        tf_code_fail(j, "b '%s' %s", pb, b->msg);
        free(da);
        return;
    }
    const char *tb = has_b ? db : btext;
    lb = has_b ? lb : arg_len(j, "b_text");
    if (!text_ok(da, la) || !text_ok(tb, lb)) {
        tf_code_fail(j, "%s is binary (a NUL byte or not UTF-8); only text files are compared", !text_ok(da, la) ? "a" : has_b ? "b" : "b_text");
        free(da);
        free(db);
        return;
    }
    size_t na, nb;
    line_t *A = split_lines(da, la, &na), *B = split_lines(tb, lb, &nb);
    interner_t t;
    size_t cap = 16;
    while (cap < 2 * (na + nb) + 2)
        cap *= 2;
    t.slot = calloc(cap, sizeof(*t.slot));
    t.mask = cap - 1;
    t.keys = malloc((na + nb + 1) * sizeof(*t.keys));
    t.n = 0;
    long *ia = malloc((na + 1) * sizeof(long)), *ib = malloc((nb + 1) * sizeof(long));
    for (size_t i = 0; i < na; i++)
        ia[i] = intern(&t, &A[i]);
    for (size_t i = 0; i < nb; i++)
        ib[i] = intern(&t, &B[i]);
    char *dela = calloc(na + 1, 1), *insb = calloc(nb + 1, 1);
    myers_diff(ia, na, ib, nb, t.n, dela, insb);
    long added = 0, removed = 0;
    for (size_t i = 0; i < na; i++)
        removed += dela[i];
    for (size_t i = 0; i < nb; i++)
        added += insb[i];
    buf_t out = {0};
    size_t hunks = 0;
    if (added || removed) {
        buf_fmt(&out, "--- a/%.200s\n+++ b/%.200s\n", pa, has_b ? pb : pa);
        hunks = unified(&out, A, na, B, nb, dela, insb, (size_t)arg_int(j, "context", 3));
    }
    j->out = json_pack("{s:b, s:I, s:I, s:I, s:s%}", "identical", !(added || removed), "added", (json_int_t)added, "removed",
                       (json_int_t)removed, "hunks", (json_int_t)hunks, "diff", out.p ? out.p : "", out.n);
    free(out.p);
    free(dela);
    free(insb);
    free(ia);
    free(ib);
    free(t.slot);
    free(t.keys);
    free(A);
    free(B);
    free(da);
    free(db);
}

int tf_tool_code_diff(tf_tool_call_t *call)
{
    return tf_code_submit(call, run_diff);
}
