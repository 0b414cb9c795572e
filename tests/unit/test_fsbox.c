/*
 * tf_fsbox unit test: the code tools' workspace sandbox, on a real file
 * system under a temporary directory. Paths as text (absolute, '..', NUL,
 * overlong), escapes through symlinks (absolute and relative, to a sibling
 * directory outside and to /etc, dangling ones), writes that must not go
 * through links, all-or-nothing commits, moves and deletes that must not
 * reach outside, walks that must not follow links, FIFOs, size caps. After
 * the hostile part, a fingerprint of the outside directory proves that
 * nothing there was touched, and no temporary file is left behind.
 *
 * Build: cc -D_GNU_SOURCE -Iruntime tests/unit/test_fsbox.c runtime/tf_fsbox.c
 */
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tf_fsbox.h"


static char tmp[64], ws[400], outside[300];
static const char *UID = "0b7c1e6a-1111-4222-8333-444455556666";

static void path_of(char *out, size_t size, const char *base, const char *rel)
{
    snprintf(out, size, "%s/%s", base, rel);
}

static void put(const char *base, const char *rel, const char *content)
{
    char p[1024];
    path_of(p, sizeof(p), base, rel);
    FILE *f = fopen(p, "w");
    if (f == NULL) {
        perror(p);
        exit(2);
    }
    fputs(content, f);
    fclose(f);
}

static char *slurp(const char *base, const char *rel)
{
    char p[1024];
    path_of(p, sizeof(p), base, rel);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return NULL;
    static char buf[8192];
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static int exists(const char *base, const char *rel)
{
    char p[1024];
    struct stat st;
    path_of(p, sizeof(p), base, rel);
    return lstat(p, &st) == 0;
}

static void link_to(const char *target, const char *rel)
{
    char p[1024];
    path_of(p, sizeof(p), ws, rel);
    if (symlink(target, p) != 0) {
        perror(p);
        exit(2);
    }
}

/* A fingerprint of a directory tree: every path, type, size, mode and content hash. */
static unsigned long long fp_acc;
static int fp_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    unsigned long long h = 1469598103934665603ull;
    for (const char *s = path; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= (unsigned long long)st->st_size * 31 + st->st_mode + (unsigned long long)st->st_mtime * 7;
    if (S_ISREG(st->st_mode)) {
        FILE *f = fopen(path, "r");
        int c;
        while (f && (c = fgetc(f)) != EOF)
            h = (h ^ (unsigned char)c) * 1099511628211ull;
        if (f)
            fclose(f);
    }
    fp_acc += h * 2654435761u + (unsigned long long)flag; /* order-independent */
    return 0;
}

static unsigned long long fingerprint(const char *dir)
{
    fp_acc = 0;
    nftw(dir, fp_visit, 16, FTW_PHYS);
    return fp_acc;
}

static int rm_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Walk collector. */
typedef struct seen {
    char names[64][256];
    int n, symlinks, escaped, temp;
} seen_t;

static int collect(void *ud, const tf_fsbox_entry_t *e)
{
    seen_t *s = ud;
    if (s->n < 64)
        snprintf(s->names[s->n++], 256, "%s", e->rel);
    s->symlinks += S_ISLNK(e->st.st_mode);
    s->escaped += strncmp(e->rel, "out/", 4) == 0 || strncmp(e->rel, "etc/", 4) == 0;
    s->temp += strncmp(e->name, ".tf-", 4) == 0;
    return TF_FSBOX_WALK_NEXT;
}

static int seen_has(const seen_t *s, const char *rel)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], rel) == 0)
            return 1;
    return 0;
}

static int stop_at_two(void *ud, const tf_fsbox_entry_t *e)
{
    int *c = ud;
    return ++*c >= 2 ? TF_FSBOX_WALK_STOP : TF_FSBOX_WALK_NEXT;
}

int main(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/tf-fsbox-XXXXXX");
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    char root[200];
    snprintf(root, sizeof(root), "%s/ws-root/deeper", tmp);
    snprintf(ws, sizeof(ws), "%s/%s", root, UID);
    snprintf(outside, sizeof(outside), "%s/outside", tmp);
    mkdir(outside, 0755);
    put(outside, "secret.txt", "the secret\n");
    char sub[400];
    path_of(sub, sizeof(sub), outside, "sub");
    mkdir(sub, 0755);
    put(outside, "sub/keep.txt", "keep me\n");

    tf_fsbox_t b;
    char out[TF_FSBOX_PATH_MAX];

    /* ---- opening ---- */
    ok(tf_fsbox_open(&b, root, "../escape", 64) == -1, "a user id with '..' is refused: %s", b.msg);
    ok(tf_fsbox_open(&b, root, "", 64) == -1, "an empty user id is refused");
    ok(tf_fsbox_open(&b, root, "a/b", 64) == -1, "a user id with '/' is refused");
    ok(tf_fsbox_open(&b, root, UID, 64) == 0, "the workspace opens, root created on the way (%s)", b.msg);
    struct stat st;
    memset(&st, 0, sizeof(st));
    stat(ws, &st);
    ok(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "the user's directory is created 0700 (%o)",
       st.st_mode & 0777);
    {
        char r2[400], u2[500];
        snprintf(r2, sizeof(r2), "%s/root2", tmp);
        mkdir(r2, 0700);
        snprintf(u2, sizeof(u2), "%s/%s", r2, UID);
        if (symlink(outside, u2) != 0)
            perror("symlink");
        tf_fsbox_t b2;
        ok(tf_fsbox_open(&b2, r2, UID, 64) == -1, "a user directory that is a symlink is refused: %s", b2.msg);
        tf_fsbox_close(&b2);
    }

    /* ---- paths as text ---- */
    ok(tf_fsbox_norm(&b, "", 0, 0, out) == -1, "an empty path is refused where a file is needed: %s", b.msg);
    ok(tf_fsbox_norm(&b, "", 0, 1, out) == 0 && out[0] == '\0', "an empty path is the root where the root is fine");
    ok(tf_fsbox_norm(&b, "./", 2, 1, out) == 0 && out[0] == '\0', "'./' is the root");
    ok(tf_fsbox_norm(&b, ".", 1, 0, out) == -1, "'.' is refused where a file is needed: %s", b.msg);
    ok(tf_fsbox_norm(&b, "/etc/passwd", 11, 1, out) == -1 && strstr(b.msg, "absolute"), "an absolute path is refused: %s", b.msg);
    ok(tf_fsbox_norm(&b, "../../etc/passwd", 16, 1, out) == -1 && strstr(b.msg, ".."), "'../../etc/passwd' is refused: %s", b.msg);
    ok(tf_fsbox_norm(&b, "a/../../x", 9, 1, out) == -1, "'a/../../x' is refused");
    ok(tf_fsbox_norm(&b, "a/..", 4, 1, out) == -1, "'a/..' is refused (no '..' at all, even one that stays inside)");
    ok(tf_fsbox_norm(&b, "a\0/../../etc", 12, 1, out) == -1 && strstr(b.msg, "NUL"), "a NUL byte inside is refused: %s", b.msg);
    ok(tf_fsbox_norm(&b, "a/./b//c/", 9, 0, out) == 3 && strcmp(out, "a/b/c") == 0, "'a/./b//c/' is 'a/b/c' (%s)", out);
    ok(tf_fsbox_norm(&b, "...", 3, 0, out) == 1 && tf_fsbox_norm(&b, "..a/b..", 7, 0, out) == 2, "'...' and '..a' are plain names");
    {
        static char longp[TF_FSBOX_PATH_MAX + 10];
        memset(longp, 'a', sizeof(longp) - 1);
        for (size_t i = 100; i < sizeof(longp) - 1; i += 100)
            longp[i] = '/';
        ok(tf_fsbox_norm(&b, longp, strlen(longp), 0, out) == -1, "a path of %zu bytes is refused: %s", strlen(longp), b.msg);
        char comp[300];
        memset(comp, 'x', 256);
        comp[256] = '\0';
        ok(tf_fsbox_norm(&b, comp, 256, 0, out) == -1, "a 256-byte name is refused: %s", b.msg);
    }

    /* ---- writing and reading inside ---- */
    ok(tf_fsbox_write(&b, "a.txt", "hello\n", 6, 0) == 1, "write a.txt: created");
    ok(tf_fsbox_write(&b, "a.txt", "hello again\n", 12, 0) == 0, "write a.txt again: replaced");
    ok(strcmp(slurp(ws, "a.txt"), "hello again\n") == 0, "  ... with the new content");
    char *data;
    size_t len;
    ok(tf_fsbox_read(&b, "./a.txt", &data, &len, NULL) == 0 && len == 12 && memcmp(data, "hello again\n", 12) == 0 && data[len] == '\0',
       "read a.txt back (NUL-terminated)");
    free(data);
    ok(tf_fsbox_write(&b, "a.txt", "x", 1, TF_FSBOX_NO_REPLACE) == -1 && b.err == EEXIST, "NO_REPLACE refuses an existing file: %s", b.msg);
    chmod(ws, 0700);
    {
        char p[400];
        path_of(p, sizeof(p), ws, "a.txt");
        chmod(p, 0600);
        tf_fsbox_write(&b, "a.txt", "mode kept\n", 10, 0);
        stat(p, &st);
        ok((st.st_mode & 0777) == 0600, "replacing keeps the file's mode (%o)", st.st_mode & 0777);
    }
    ok(tf_fsbox_write(&b, "d/e/f.txt", "deep\n", 5, 0) == -1 && b.err == ENOENT, "a missing parent is an error without MKDIRS: %s", b.msg);
    ok(tf_fsbox_write(&b, "d/e/f.txt", "deep\n", 5, TF_FSBOX_MKDIRS) == 1 && strcmp(slurp(ws, "d/e/f.txt"), "deep\n") == 0,
       "MKDIRS creates d/e/");
    ok(tf_fsbox_write(&b, "a.txt/x", "x", 1, TF_FSBOX_MKDIRS) == -1, "a file as a parent is refused: %s", b.msg);
    ok(tf_fsbox_write(&b, "d", "x", 1, 0) == -1 && b.err == EISDIR, "writing over a directory is refused: %s", b.msg);
    ok(tf_fsbox_write(&b, "", "x", 1, 0) == -1, "writing the root is refused: %s", b.msg);

    /* ---- size caps ---- */
    {
        char big[100];
        memset(big, 'b', sizeof(big));
        ok(tf_fsbox_write(&b, "big.txt", big, 65, 0) == -1 && b.err == EFBIG && !exists(ws, "big.txt"),
           "writing 65 bytes with a 64-byte cap is refused, nothing created: %s", b.msg);
        ok(tf_fsbox_write(&b, "cap.txt", big, 64, 0) == 1, "  ... 64 bytes are fine");
        big[99] = '\0';
        put(ws, "huge.txt", big);
        ok(tf_fsbox_read(&b, "huge.txt", &data, &len, NULL) == -1 && b.err == EFBIG, "reading a 99-byte file with a 64-byte cap is refused: %s",
           b.msg);
    }

    /* ---- special files ---- */
    {
        char p[400];
        path_of(p, sizeof(p), ws, "fifo");
        mkfifo(p, 0600);
        time_t t0 = time(NULL);
        ok(tf_fsbox_read(&b, "fifo", &data, &len, NULL) == -1 && time(NULL) - t0 < 2, "a FIFO is refused at once, without blocking: %s", b.msg);
        ok(tf_fsbox_write(&b, "fifo", "x", 1, 0) == -1, "  ... and not written: %s", b.msg);
        ok(tf_fsbox_read(&b, "d", &data, &len, NULL) == -1 && b.err == EISDIR, "reading a directory is refused: %s", b.msg);
    }

    /* ---- symlinks ---- */
    unsigned long long before = fingerprint(outside);
    link_to(outside, "out");                        /* absolute, to a sibling directory outside */
    link_to("/etc", "etc");                         /* absolute, to /etc */
    char secret[400];
    path_of(secret, sizeof(secret), outside, "secret.txt");
    link_to(secret, "outfile");                     /* to a file outside */
    link_to("../../../outside", "rel_escape");      /* relative, climbing out */
    {
        char dangling[400];
        path_of(dangling, sizeof(dangling), outside, "created-through-link");
        link_to(dangling, "dangling");              /* to a file that does not exist, outside */
    }
    link_to("a.txt", "inlink");                     /* inside */
    link_to("d", "indir");                          /* inside */
    link_to("nothing-here", "dangling_in");         /* dangling, inside */

    ok(tf_fsbox_read(&b, "out/secret.txt", &data, &len, NULL) == -1 && b.err == EXDEV, "read through a link to a sibling dir: refused (%s)",
       b.msg);
    ok(tf_fsbox_read(&b, "outfile", &data, &len, NULL) == -1 && b.err == EXDEV, "read a link to a file outside: refused");
    ok(tf_fsbox_read(&b, "etc/passwd", &data, &len, NULL) == -1 && b.err == EXDEV, "read etc/passwd through a link to /etc: refused");
    ok(tf_fsbox_read(&b, "rel_escape/secret.txt", &data, &len, NULL) == -1 && b.err == EXDEV, "read through a relative link climbing out: refused");
    ok(tf_fsbox_read(&b, "inlink", &data, &len, NULL) == 0 && len == 10, "read a link that stays inside: fine");
    free(data);
    ok(tf_fsbox_read(&b, "indir/e/f.txt", &data, &len, NULL) == 0, "read through a directory link that stays inside: fine");
    free(data);

    ok(tf_fsbox_write(&b, "out/new.txt", "x", 1, 0) == -1 && b.err == EXDEV, "write into a linked outside dir: refused (%s)", b.msg);
    ok(tf_fsbox_write(&b, "out/deep/new.txt", "x", 1, TF_FSBOX_MKDIRS) == -1, "  ... with MKDIRS too: %s", b.msg);
    ok(tf_fsbox_write(&b, "etc/tf-fsbox-test", "x", 1, TF_FSBOX_MKDIRS) == -1 && !exists("/etc", "tf-fsbox-test"), "write into /etc via a link: refused");
    ok(tf_fsbox_write(&b, "outfile", "pwned\n", 6, 0) == -1 && b.err == ELOOP, "write onto a link to an outside file: refused (%s)", b.msg);
    ok(tf_fsbox_write(&b, "dangling", "pwned\n", 6, 0) == -1 && !exists(outside, "created-through-link"),
       "write onto a dangling link pointing outside: refused, nothing created");
    ok(tf_fsbox_write(&b, "dangling_in/x", "x", 1, TF_FSBOX_MKDIRS) == -1, "MKDIRS does not create through a dangling link: %s", b.msg);
    ok(tf_fsbox_write(&b, "inlink", "x", 1, 0) == -1, "write onto an inside link: refused too (writes never go through links)");
    ok(tf_fsbox_write(&b, "indir/g.txt", "g\n", 2, 0) == 1 && exists(ws, "d/g.txt"), "write through an inside directory link: lands inside");

    ok(tf_fsbox_lstat(&b, "out", &st) == 0 && S_ISLNK(st.st_mode), "lstat of a link: the link itself");
    ok(tf_fsbox_lstat(&b, "out/secret.txt", &st) == -1 && b.err == EXDEV, "lstat through it: refused");
    char target[512];
    ok(tf_fsbox_readlink(&b, "out", target, sizeof(target)) == 0 && strcmp(target, outside) == 0, "readlink shows the target");
    ok(tf_fsbox_readlink(&b, "a.txt", target, sizeof(target)) == -1, "readlink of a file: refused (%s)", b.msg);

    seen_t seen;
    memset(&seen, 0, sizeof(seen));
    int wrc = tf_fsbox_walk(&b, "", 10, collect, &seen);
    ok(wrc == 0 && seen.escaped == 0 && seen.symlinks == 8,
       "a walk of the root reports 8 links and enters none of them (%d entries)", seen.n);
    ok(seen_has(&seen, "d/e/f.txt") && seen_has(&seen, "fifo") && !seen_has(&seen, "indir/e"), "  ... real directories are entered, linked ones not");
    memset(&seen, 0, sizeof(seen));
    ok(tf_fsbox_walk(&b, "out", 10, collect, &seen) == -1 && b.err == EXDEV && seen.n == 0, "a walk starting through a link outside: refused");
    ok(tf_fsbox_walk(&b, "etc", 10, collect, &seen) == -1, "  ... and through the link to /etc");
    memset(&seen, 0, sizeof(seen));
    ok(tf_fsbox_walk(&b, "d", 1, collect, &seen) == 0 && seen.n == 2 && seen_has(&seen, "e") && seen_has(&seen, "g.txt"),
       "max_depth 1: only direct children");
    memset(&seen, 0, sizeof(seen));
    ok(tf_fsbox_walk(&b, "a.txt", 3, collect, &seen) == 0 && seen.n == 1 && seen.names[0][0] == '\0', "a walk of a file visits it once");
    {
        char p[500];
        path_of(p, sizeof(p), ws, "empty");
        mkdir(p, 0755);
        memset(&seen, 0, sizeof(seen));
        ok(tf_fsbox_walk(&b, "empty", 3, collect, &seen) == 0 && seen.n == 0, "a walk of an empty directory visits nothing");
        rmdir(p);
    }
    int cnt = 0;
    ok(tf_fsbox_walk(&b, "", 10, stop_at_two, &cnt) == 0 && cnt == 2, "a walk stops when told");

    int replaced;
    ok(tf_fsbox_rename(&b, "out/secret.txt", "stolen.txt", 0, &replaced) == -1 && !exists(ws, "stolen.txt"), "move from outside via a link: refused (%s)",
       b.msg);
    ok(tf_fsbox_rename(&b, "a.txt", "out/planted.txt", 0, &replaced) == -1 && !exists(outside, "planted.txt"), "move to outside via a link: refused");
    ok(tf_fsbox_rename(&b, "a.txt", "etc/planted", TF_FSBOX_MKDIRS, &replaced) == -1 && !exists("/etc", "planted"), "move into /etc via a link: refused");
    ok(tf_fsbox_rename(&b, "", "x", 0, &replaced) == -1 && tf_fsbox_rename(&b, ".", "x", 0, &replaced) == -1, "moving the root: refused (%s)", b.msg);
    ok(tf_fsbox_rename(&b, "a.txt", "/tmp/x", 0, &replaced) == -1, "move to an absolute path: refused");
    ok(tf_fsbox_rename(&b, "a.txt", "../x", 0, &replaced) == -1, "move to '../x': refused");

    unsigned long removed;
    ok(tf_fsbox_remove(&b, "out/secret.txt", 0, &removed) == -1 && b.err == EXDEV, "delete through a link: refused (%s)", b.msg);
    ok(tf_fsbox_remove(&b, "out/sub", 1, &removed) == -1, "recursive delete through a link: refused");
    ok(tf_fsbox_remove(&b, "", 1, &removed) == -1 && tf_fsbox_remove(&b, "./", 1, &removed) == -1, "deleting the root: refused (%s)", b.msg);
    {
        /* A directory holding links out: a recursive delete removes the links, never what they point to. */
        tf_fsbox_write(&b, "trap/inner/x.txt", "x\n", 2, TF_FSBOX_MKDIRS);
        link_to(outside, "trap/inner/out");
        link_to(secret, "trap/file-out");
        ok(tf_fsbox_remove(&b, "trap", 0, &removed) == -1 && b.err == EISDIR, "a directory without recursive: refused (%s)", b.msg);
        int rrc = tf_fsbox_remove(&b, "trap", 1, &removed);
        ok(rrc == 0 && removed == 5 && !exists(ws, "trap"), "recursive delete of trap/ (%lu removed)", removed);
    }
    ok(tf_fsbox_remove(&b, "out", 1, &removed) == 0 && removed == 1 && !exists(ws, "out") && exists(outside, "secret.txt"),
       "deleting a link to a directory removes the link only");
    ok(fingerprint(outside) == before, "the outside directory is exactly as before (fingerprint)");
    ok(!exists(outside, "created-through-link") && !exists(outside, "planted.txt") && !exists(outside, "new.txt"), "  ... nothing was created in it");

    /* ---- moves inside ---- */
    ok(tf_fsbox_rename(&b, "a.txt", "b.txt", TF_FSBOX_NO_REPLACE, &replaced) == 0 && !replaced && exists(ws, "b.txt"), "move a.txt -> b.txt");
    tf_fsbox_write(&b, "c.txt", "c\n", 2, 0);
    ok(tf_fsbox_rename(&b, "c.txt", "b.txt", TF_FSBOX_NO_REPLACE, &replaced) == -1 && b.err == EEXIST, "NO_REPLACE: refused (%s)", b.msg);
    ok(tf_fsbox_rename(&b, "c.txt", "b.txt", 0, &replaced) == 0 && replaced && strcmp(slurp(ws, "b.txt"), "c\n") == 0, "overwrite: replaced");
    ok(tf_fsbox_rename(&b, "d", "d/e/inside", 0, &replaced) == -1, "a directory into itself: refused (%s)", b.msg);
    ok(tf_fsbox_rename(&b, "b.txt", "n/m/b.txt", 0, &replaced) == -1 && !exists(ws, "n"), "missing destination dirs without MKDIRS: refused");
    ok(tf_fsbox_rename(&b, "b.txt", "n/m/b.txt", TF_FSBOX_MKDIRS, &replaced) == 0 && exists(ws, "n/m/b.txt"), "  ... made with MKDIRS");
    ok(tf_fsbox_rename(&b, "nope", "x", 0, &replaced) == -1 && b.err == ENOENT, "moving what does not exist: %s", b.msg);
    ok(tf_fsbox_rename(&b, "inlink", "inlink2", 0, &replaced) == 0 && tf_fsbox_lstat(&b, "inlink2", &st) == 0 && S_ISLNK(st.st_mode),
       "a link is moved as itself");

    /* ---- all-or-nothing commits ---- */
    tf_fsbox_write(&b, "x.txt", "old x\n", 6, 0);
    {
        tf_fsbox_change_t c[3];
        memset(c, 0, sizeof(c));
        c[0] = (tf_fsbox_change_t){.path = "x.txt", .data = "new x\n", .len = 6, .expect = TF_FSBOX_EXISTING};
        c[1] = (tf_fsbox_change_t){.path = "newdir/sub/y.txt", .data = "y\n", .len = 2, .expect = TF_FSBOX_NEW};
        c[2] = (tf_fsbox_change_t){.path = "dangling", .data = "z\n", .len = 2};
        ok(tf_fsbox_commit(&b, c, 3, TF_FSBOX_MKDIRS) == -1, "a commit whose last file is a link fails (%s)", b.msg);
        ok(strcmp(slurp(ws, "x.txt"), "old x\n") == 0 && !exists(ws, "newdir"), "  ... x.txt unchanged, newdir/ not left behind");
        c[2] = (tf_fsbox_change_t){.path = "x.txt.new", .data = "z\n", .len = 2, .expect = TF_FSBOX_EXISTING};
        ok(tf_fsbox_commit(&b, c, 3, TF_FSBOX_MKDIRS) == -1 && strcmp(slurp(ws, "x.txt"), "old x\n") == 0,
           "a commit expecting a file that is missing fails, nothing changed (%s)", b.msg);
        c[2] = (tf_fsbox_change_t){.path = "b2.txt", .data = NULL, .len = 0, .remove = 1};
        tf_fsbox_write(&b, "b2.txt", "bye\n", 4, 0);
        ok(tf_fsbox_commit(&b, c, 3, TF_FSBOX_MKDIRS) == 0 && strcmp(slurp(ws, "x.txt"), "new x\n") == 0 &&
               strcmp(slurp(ws, "newdir/sub/y.txt"), "y\n") == 0 && !exists(ws, "b2.txt") && c[1].created && !c[0].created,
           "a good commit writes, creates and removes together");
        c[0].data = "third x\n";
        c[0].len = 8;
        c[1].expect = TF_FSBOX_NEW; /* exists now: the whole commit must fail */
        ok(tf_fsbox_commit(&b, c, 2, 0) == -1 && strcmp(slurp(ws, "x.txt"), "new x\n") == 0, "a NEW file that exists fails the commit (%s)", b.msg);
        tf_fsbox_change_t big = {.path = "x.txt", .data = "0123456789012345678901234567890123456789012345678901234567890123456789", .len = 70};
        ok(tf_fsbox_commit(&b, &big, 1, 0) == -1 && b.err == EFBIG, "a commit over the cap fails (%s)", b.msg);
    }

    memset(&seen, 0, sizeof(seen));
    tf_fsbox_walk(&b, "", 10, collect, &seen);
    ok(seen.temp == 0, "no temporary or backup file is left in the workspace");

    /* ---- a concurrent swap of a directory for a link is still judged ---- */
    {
        /* Race a renamer that keeps swapping race/ between a real directory and a link outside. */
        char rdir[400], rlink[400], rtmp[400];
        path_of(rdir, sizeof(rdir), ws, "race");
        path_of(rlink, sizeof(rlink), ws, "race-link");
        path_of(rtmp, sizeof(rtmp), ws, "race-tmp");
        mkdir(rdir, 0755);
        symlink(outside, rlink);
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 20000; i++) {
                rename(rdir, rtmp);
                rename(rlink, rdir);
                rename(rdir, rlink);
                rename(rtmp, rdir);
            }
            _exit(0);
        }
        int escapes = 0;
        for (int i = 0; i < 2000; i++) {
            if (tf_fsbox_write(&b, "race/r.txt", "r\n", 2, 0) >= 0 && exists(outside, "r.txt"))
                escapes++;
            if (tf_fsbox_read(&b, "race/secret.txt", &data, &len, NULL) == 0) {
                escapes++;
                free(data);
            }
        }
        waitpid(pid, NULL, 0);
        ok(escapes == 0 && !exists(outside, "r.txt"), "2000 writes and reads racing a dir/link swap never reach outside");
    }
    ok(fingerprint(outside) == before, "the outside directory is still exactly as before");

    tf_fsbox_close(&b);
    ok(b.root == -1, "close releases the workspace fd");
    nftw(tmp, rm_visit, 16, FTW_DEPTH | FTW_PHYS);
    return tap_end();
}
