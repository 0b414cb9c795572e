/*
 * tf_cg_out.c - diagnostics and deterministic output files.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tf_cg.h"

static int nerrors;

void tf_cg_error(const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;
    if (line)
        fprintf(stderr, "%s:%u: ", file, line);
    else
        fprintf(stderr, "%s: ", file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    nerrors++;
}

int tf_cg_error_count(void)
{
    return nerrors;
}

void tf_cg_printf(tf_cg_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->data = realloc(b->data, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tf_cg_cstr(tf_cg_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tf_cg_printf(b, "\\%c", c);
        else if (c == '\n')
            tf_cg_printf(b, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            tf_cg_printf(b, "\\%03o", c); /* octal: never swallows the next hex digit */
        else
            tf_cg_printf(b, "%c", c);
    }
}

/* Names produced by this run, for tf_cg_remove_stale. */
static char *produced[64];
static size_t nproduced;

static void note_produced(const char *name)
{
    for (size_t i = 0; i < nproduced; i++)
        if (strcmp(produced[i], name) == 0)
            return;
    if (nproduced < 64)
        produced[nproduced++] = strdup(name);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *d = malloc(cap);
    size_t r;
    while ((r = fread(d + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            d = realloc(d, cap *= 2);
    }
    fclose(f);
    *len = n;
    return d;
}

/* Moves tmp over path unless path already holds the same bytes. */
static int replace_if_changed(const char *tmp, const char *path)
{
    size_t a_len = 0, b_len = 0;
    char *a = slurp(tmp, &a_len), *b = slurp(path, &b_len);
    int same = a != NULL && b != NULL && a_len == b_len && memcmp(a, b, a_len) == 0;
    free(a);
    free(b);
    if (same)
        return unlink(tmp);
    if (rename(tmp, path) != 0) {
        tf_cg_error(path, 0, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int tf_cg_write(const char *dir, const char *name, tf_cg_buf_t *b)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        tf_cg_error(tmp, 0, "cannot write: %s", strerror(errno));
        free(b->data);
        return -1;
    }
    free(b->data);
    memset(b, 0, sizeof(*b));
    note_produced(name);
    return replace_if_changed(tmp, path);
}

int tf_cg_re2c(const char *dir, const char *in_name, const char *out_name)
{
    char in[4096], out[4096], tmp[4200];
    snprintf(in, sizeof(in), "%s/%s", dir, in_name);
    snprintf(out, sizeof(out), "%s/%s", dir, out_name);
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", out, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        /* No dates, versions or #line paths: the output must not depend on
         * when or where it was generated (ninja does the same). */
        execlp("re2c", "re2c", "--no-generation-date", "--no-version", "--no-debug-info", "-W", "-Werror", "--tags", "-o", tmp,
               in, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        tf_cg_error(in, 0, "re2c failed (is re2c installed?)");
        unlink(tmp);
        return -1;
    }
    note_produced(out_name);
    return replace_if_changed(tmp, out);
}

void tf_cg_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int keep = 0;
        for (size_t i = 0; i < nproduced && !keep; i++)
            keep = strcmp(produced[i], e->d_name) == 0;
        if (keep)
            continue;
        char path[4096], head[256] = "";
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        size_t n = fread(head, 1, sizeof(head) - 1, f);
        head[n] = '\0';
        fclose(f);
        /* Only files we wrote: anything else in the folder is not ours to delete. */
        if (strstr(head, TF_CG_BANNER) != NULL)
            unlink(path);
    }
    closedir(d);
}
