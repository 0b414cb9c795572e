/*
 * tf_fsbox.c - the code tools' workspace sandbox. See tf_fsbox.h.
 *
 * Every lookup of a user's path goes through tf_fsbox_resolve (openat2
 * from the workspace fd with RESOLVE_BENEATH); every change then works on
 * a (directory fd, single name) pair with the *at(2) calls, which do not
 * follow a final symlink. No absolute path is ever built from user input.
 */
#include "tf_fsbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESOLVE_IN_BOX (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
/* Walks and recursive deletes open one component at a time and follow no symlink at all. */
#define RESOLVE_NO_LINKS (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)
#define DIR_ENTRIES_MAX 100000 /* names read from one directory: bounds memory */

static int fail(tf_fsbox_t *b, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(tf_fsbox_t *b, int err, const char *fmt, ...)
{
    /* Through a copy: callers often wrap the previous message (b->msg is then also an argument). */
    char tmp[sizeof(b->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    memcpy(b->msg, tmp, sizeof(tmp));
    b->err = err;
    return -1;
}

/* The user-facing reason for an errno; EXDEV is what RESOLVE_BENEATH answers for an escape. */
static const char *why(int e)
{
    static __thread char other[96];
    switch (e) {
    case EXDEV:
        return "leads outside your workspace (through a symlink); refused";
    case ELOOP:
        return "is a symlink, or goes through too many symlinks; refused";
    case ENOENT:
        return "does not exist";
    case ENOTDIR:
        return "has a component that is not a directory";
    case EEXIST:
        return "already exists";
    case EISDIR:
        return "is a directory";
    case ENOTEMPTY:
        return "is a directory that is not empty";
    case EACCES:
    case EPERM:
        return "is not accessible (permission denied)";
    case ENOSPC:
    case EDQUOT:
        return "cannot be written: no space left";
    case ENAMETOOLONG:
        return "is too long";
    case ENOSYS:
        return "cannot be resolved safely: this kernel lacks openat2(2) (Linux 5.6 or later), so file tools are disabled";
    default:
        snprintf(other, sizeof(other), "failed: %s", strerror(e));
        return other;
    }
}

static int sysfail(tf_fsbox_t *b, int e)
{
    return fail(b, e, "%s", why(e));
}

/* openat2(2) has no glibc wrapper before 2.39. EAGAIN: a rename raced the lookup; the kernel asks us to retry. */
static int open2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
    how.mode = mode;
    how.resolve = resolve;
    for (int i = 0; i < 16; i++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            return (int)fd;
    }
    return -1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

const char *tf_fsbox_type(mode_t mode)
{
    return S_ISREG(mode) ? "file" : S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "symlink" : "other";
}

/* --- opening the workspace ------------------------------------------------------------------ */

/* The operator's root: trusted text from conf, so plain mkdir along it is fine. */
static int mkdir_p(const char *path)
{
    char buf[TF_FSBOX_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

/* A user id names a directory: only what a uuid is made of, so it cannot be "..", "" or hold a '/'. */
static int user_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f') || (id[i] >= 'A' && id[i] <= 'F') || id[i] == '-'))
            return 0;
    return 1;
}

int tf_fsbox_open(tf_fsbox_t *b, const char *workspace_root, const char *user_id, uint64_t max_file_bytes)
{
    memset(b, 0, sizeof(*b));
    b->root = -1;
    b->max_file_bytes = max_file_bytes;
    if (user_id == NULL || !user_id_ok(user_id))
        return fail(b, EINVAL, "no workspace for this caller (a signed-in user is needed)");
    if (workspace_root == NULL || mkdir_p(workspace_root) != 0)
        return fail(b, errno, "the workspace root cannot be created: %s", strerror(errno));
    int top = open(workspace_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (top < 0)
        return fail(b, errno, "the workspace root cannot be opened: %s", strerror(errno));
    /* 0700: workspaces of different users must not be readable by each other's processes. */
    if (mkdirat(top, user_id, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        close(top);
        return fail(b, e, "your workspace cannot be created: %s", strerror(e));
    }
    /* No symlinks at all here: the user's directory itself must be a real directory under the root. */
    b->root = open2(top, user_id, O_PATH | O_DIRECTORY, 0, RESOLVE_NO_LINKS);
    int e = errno;
    close(top);
    if (b->root < 0)
        return fail(b, e, "your workspace cannot be opened: %s", why(e));
    return 0;
}

void tf_fsbox_close(tf_fsbox_t *b)
{
    close_fd(&b->root);
}

/* --- paths as text ------------------------------------------------------------------------------ */

int tf_fsbox_norm(tf_fsbox_t *b, const char *path, size_t len, int allow_root, char *out)
{
    out[0] = '\0';
    if (path == NULL)
        return fail(b, EINVAL, "is missing");
    /* A NUL inside would make the kernel see a shorter path than the one we checked. */
    if (strnlen(path, len) != len)
        return fail(b, EINVAL, "contains a NUL byte; refused");
    if (len >= TF_FSBOX_PATH_MAX)
        return fail(b, ENAMETOOLONG, "is longer than %d bytes", TF_FSBOX_PATH_MAX - 1);
    if (path[0] == '/')
        return fail(b, EINVAL, "is absolute; paths are relative to your workspace (for example src/main.c)");
    size_t o = 0;
    int n = 0;
    const char *p = path;
    while (*p) {
        const char *q = strchr(p, '/');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return fail(b, EINVAL, "contains a '..' component; paths must stay inside your workspace");
        if (l > TF_FSBOX_NAME_MAX)
            return fail(b, ENAMETOOLONG, "has a component longer than %d bytes", TF_FSBOX_NAME_MAX);
        if (l > 0 && !(l == 1 && p[0] == '.')) {
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, l);
            o += l;
            n++;
        }
        p += l;
        if (*p == '/')
            p++;
    }
    out[o] = '\0';
    if (n == 0 && !allow_root)
        return fail(b, EINVAL, len == 0 ? "is empty; a file path is needed" : "names the workspace root itself; a path inside it is needed");
    return n;
}

/* Normalizes a path the caller passes as a C string. */
static int norm(tf_fsbox_t *b, const char *path, int allow_root, char *out)
{
    return tf_fsbox_norm(b, path, path ? strlen(path) : 0, allow_root, out);
}

/* --- directories ------------------------------------------------------------------------------- */

/* Directories MKDIRS created, removed again (if still empty) when a change is undone. */
typedef struct made_dirs {
    size_t n, cap;
    struct made {
        int parent;
        char name[TF_FSBOX_NAME_MAX + 1];
    } *v;
} made_dirs_t;

static void made_add(made_dirs_t *m, int parent, const char *name)
{
    if (m == NULL)
        return;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
    }
    m->v[m->n].parent = fcntl(parent, F_DUPFD_CLOEXEC, 0);
    snprintf(m->v[m->n].name, sizeof(m->v[m->n].name), "%s", name);
    m->n++;
}

static void made_done(made_dirs_t *m, int undo)
{
    for (size_t i = m->n; i-- > 0;) {
        if (undo && m->v[i].parent >= 0)
            unlinkat(m->v[i].parent, m->v[i].name, AT_REMOVEDIR);
        close_fd(&m->v[i].parent);
    }
    free(m->v);
    memset(m, 0, sizeof(*m));
}

/*
 * Opens (O_PATH) the directory `dir` (normal form) under the root,
 * creating missing components when `made` is given. Each component is
 * made with mkdirat in its already-resolved parent, then the whole prefix
 * is resolved again from the root, so a symlink planted on the way is
 * still judged by RESOLVE_BENEATH.
 */
static int open_dir_path(tf_fsbox_t *b, const char *dir, made_dirs_t *made)
{
    if (dir[0] == '\0')
        return fcntl(b->root, F_DUPFD_CLOEXEC, 0);
    int fd = open2(b->root, dir, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_BOX);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT || made == NULL)
        return sysfail(b, errno);
    char prefix[TF_FSBOX_PATH_MAX];
    int cur = fcntl(b->root, F_DUPFD_CLOEXEC, 0);
    const char *p = dir;
    while (*p) {
        const char *q = strchr(p, '/');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        size_t plen = (size_t)(p - dir) + l;
        memcpy(prefix, dir, plen);
        prefix[plen] = '\0';
        int next = open2(b->root, prefix, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_BOX);
        if (next < 0 && errno == ENOENT) {
            char name[TF_FSBOX_NAME_MAX + 1];
            memcpy(name, p, l);
            name[l] = '\0';
            if (mkdirat(cur, name, 0755) == 0)
                made_add(made, cur, name);
            else if (errno != EEXIST) {
                int e = errno;
                close(cur);
                return fail(b, e, "cannot create directory '%s': %s", prefix, why(e));
            }
            next = open2(b->root, prefix, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_BOX);
        }
        int e = errno;
        close(cur);
        if (next < 0)
            return fail(b, e, "directory '%s' %s", prefix, why(e));
        cur = next;
        p += l;
        if (*p == '/')
            p++;
    }
    return cur;
}

/* Splits a normal path (not the root) into its parent directory (opened O_PATH) and its last name. */
static int open_parent(tf_fsbox_t *b, const char *path, char *name, made_dirs_t *made)
{
    const char *slash = strrchr(path, '/');
    char dir[TF_FSBOX_PATH_MAX];
    size_t dl = slash ? (size_t)(slash - path) : 0;
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    snprintf(name, TF_FSBOX_NAME_MAX + 1, "%s", slash ? slash + 1 : path);
    int fd = open_dir_path(b, dir, made);
    if (fd < 0 && b->err == ENOENT && made == NULL)
        return fail(b, ENOENT, "has a parent directory that does not exist");
    return fd;
}

/* --- reading ------------------------------------------------------------------------------------- */

int tf_fsbox_lstat(tf_fsbox_t *b, const char *path, struct stat *st)
{
    char p[TF_FSBOX_PATH_MAX], name[TF_FSBOX_NAME_MAX + 1];
    int n = norm(b, path, 1, p);
    if (n < 0)
        return -1;
    if (n == 0)
        return fstatat(b->root, "", st, AT_EMPTY_PATH) == 0 ? 0 : sysfail(b, errno);
    int dir = open_parent(b, p, name, NULL);
    if (dir < 0)
        return -1;
    int rc = fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    close(dir);
    return rc == 0 ? 0 : sysfail(b, e);
}

int tf_fsbox_readlink(tf_fsbox_t *b, const char *path, char *buf, size_t size)
{
    char p[TF_FSBOX_PATH_MAX], name[TF_FSBOX_NAME_MAX + 1];
    if (norm(b, path, 0, p) < 0)
        return -1;
    int dir = open_parent(b, p, name, NULL);
    if (dir < 0)
        return -1;
    ssize_t n = readlinkat(dir, name, buf, size - 1);
    int e = errno;
    close(dir);
    if (n < 0 && e == EINVAL)
        return fail(b, EINVAL, "is not a symlink");
    if (n < 0)
        return sysfail(b, e);
    buf[n] = '\0';
    return 0;
}

/* Reads an open file under the size cap. The cap is checked on what is read too: the file may grow meanwhile. */
static int read_fd(tf_fsbox_t *b, int fd, char **data, size_t *len, struct stat *st_out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sysfail(b, errno);
    if (st_out)
        *st_out = st;
    if (S_ISDIR(st.st_mode))
        return fail(b, EISDIR, "is a directory, not a file");
    if (!S_ISREG(st.st_mode))
        return fail(b, EINVAL, "is not a regular file (a device, FIFO or socket); refused");
    if ((uint64_t)st.st_size > b->max_file_bytes)
        return fail(b, EFBIG, "is %lld bytes, over the limit of %llu bytes (tools.max_file_bytes)", (long long)st.st_size,
                    (unsigned long long)b->max_file_bytes);
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return fail(b, ENOMEM, "out of memory");
    for (;;) {
        if (n == cap) {
            if (n > b->max_file_bytes)
                break;
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                return fail(b, ENOMEM, "out of memory");
            }
            buf = nb;
        }
        ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return sysfail(b, e);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > b->max_file_bytes) {
        free(buf);
        return fail(b, EFBIG, "grew over the limit of %llu bytes (tools.max_file_bytes) while being read",
                    (unsigned long long)b->max_file_bytes);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int tf_fsbox_read(tf_fsbox_t *b, const char *path, char **data, size_t *len, struct stat *st)
{
    char p[TF_FSBOX_PATH_MAX];
    int n = norm(b, path, 1, p);
    if (n < 0)
        return -1;
    /* O_NONBLOCK: opening a FIFO must not hang a worker; read_fd refuses it afterwards. */
    int fd = open2(b->root, n ? p : ".", O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, RESOLVE_IN_BOX);
    if (fd < 0)
        return sysfail(b, errno);
    int rc = read_fd(b, fd, data, len, st);
    close(fd);
    return rc;
}

/* --- writing ----------------------------------------------------------------------------------- */

/* A fresh name (".tf-<tag>-<hex>") in dir that nothing else uses; O_EXCL or linkat guarantees it. */
static void random_name(char *out, size_t size, const char *tag)
{
    unsigned char r[6];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        static unsigned counter;
        unsigned v = (unsigned)getpid() ^ (unsigned)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 2654435761u;
        memcpy(r, &v, sizeof(v));
        r[4] = r[5] = 0;
    }
    snprintf(out, size, ".tf-%s-%02x%02x%02x%02x%02x%02x", tag, r[0], r[1], r[2], r[3], r[4], r[5]);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes the new content to a temporary file next to the target (same file system, so renameat can swap it in). */
static int stage(tf_fsbox_t *b, tf_fsbox_change_t *c, mode_t mode)
{
    int fd = -1;
    for (int i = 0; i < 16 && fd < 0; i++) {
        random_name(c->tmp, sizeof(c->tmp), "tmp");
        fd = openat(c->dir, c->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        c->tmp[0] = '\0';
        return fail(b, e, "%s: cannot write: %s", c->path, why(e));
    }
    /* fchmod, not the open mode: the umask must not change an existing file's mode. fsync: rename after data. */
    if (write_all(fd, c->data, c->len) != 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return fail(b, e, "%s: cannot write: %s", c->path, why(e));
    }
    if (close(fd) != 0)
        return fail(b, errno, "%s: cannot write: %s", c->path, why(errno));
    return 0;
}

/* Checks one change's target and stages its content. */
static int prepare(tf_fsbox_t *b, tf_fsbox_change_t *c, int flags, made_dirs_t *made)
{
    char p[TF_FSBOX_PATH_MAX];
    if (norm(b, c->path, 0, p) < 0)
        return fail(b, b->err, "%s: %.250s", c->path, b->msg);
    if (!c->remove && c->len > b->max_file_bytes)
        return fail(b, EFBIG, "%s: the new content is %zu bytes, over the limit of %llu bytes (tools.max_file_bytes)", c->path, c->len,
                    (unsigned long long)b->max_file_bytes);
    c->dir = open_parent(b, p, c->name, (flags & TF_FSBOX_MKDIRS) && !c->remove ? made : NULL);
    if (c->dir < 0)
        return fail(b, b->err, "%s: %.250s%s", c->path, b->msg, b->err == ENOENT && !(flags & TF_FSBOX_MKDIRS) ? " (create_dirs creates it)" : "");
    struct stat st;
    c->existed = fstatat(c->dir, c->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!c->existed && errno != ENOENT)
        return fail(b, errno, "%s: %s", c->path, why(errno));
    if (c->existed && S_ISLNK(st.st_mode))
        return fail(b, ELOOP, "%s: is a symlink; files are never written through symlinks (use the path of the file itself)", c->path);
    if (c->existed && S_ISDIR(st.st_mode))
        return fail(b, EISDIR, "%s: is a directory", c->path);
    if (c->existed && !S_ISREG(st.st_mode))
        return fail(b, EINVAL, "%s: is not a regular file; refused", c->path);
    if (!c->existed && (c->remove || c->expect == TF_FSBOX_EXISTING))
        return fail(b, ENOENT, "%s: does not exist", c->path);
    if (c->existed && !c->remove && (c->expect == TF_FSBOX_NEW || (flags & TF_FSBOX_NO_REPLACE)))
        return fail(b, EEXIST, "%s: already exists", c->path);
    c->created = !c->existed && !c->remove;
    if (c->remove)
        return 0;
    return stage(b, c, c->existed ? (st.st_mode & 07777) : 0644);
}

enum { ST_NONE, ST_BACKED_UP, ST_SWAPPED };

/* Swaps one staged change in, keeping the old file as a hard link for the undo. */
static int swap_in(tf_fsbox_t *b, tf_fsbox_change_t *c, int flags)
{
    if (c->existed) {
        int rc = -1;
        for (int i = 0; i < 16; i++) {
            random_name(c->bak, sizeof(c->bak), "bak");
            rc = linkat(c->dir, c->name, c->dir, c->bak, 0);
            if (rc == 0 || errno != EEXIST)
                break;
        }
        if (rc != 0) {
            int e = errno;
            c->bak[0] = '\0';
            return fail(b, e, "%s: cannot keep the old version for the all-or-nothing swap: %s", c->path, why(e));
        }
        c->state = ST_BACKED_UP;
    }
    int rc;
    if (c->remove)
        rc = unlinkat(c->dir, c->name, 0);
    else if (!c->existed || c->expect == TF_FSBOX_NEW || (flags & TF_FSBOX_NO_REPLACE))
        rc = renameat2(c->dir, c->tmp, c->dir, c->name, RENAME_NOREPLACE); /* something appeared meanwhile: do not clobber it */
    else
        rc = renameat(c->dir, c->tmp, c->dir, c->name);
    if (rc != 0)
        return fail(b, errno, "%s: %s", c->path, why(errno));
    if (!c->remove)
        c->tmp[0] = '\0';
    c->state = ST_SWAPPED;
    return 0;
}

/* Puts a change back as it was; used for every change when any of them failed. */
static void undo(tf_fsbox_change_t *c)
{
    if (c->dir < 0)
        return;
    if (c->state == ST_SWAPPED) {
        if (c->existed)
            renameat(c->dir, c->bak, c->dir, c->name); /* restores the old inode atomically */
        else
            unlinkat(c->dir, c->name, 0);
    } else if (c->state == ST_BACKED_UP) {
        unlinkat(c->dir, c->bak, 0);
    }
    if (c->tmp[0])
        unlinkat(c->dir, c->tmp, 0);
}

int tf_fsbox_commit(tf_fsbox_t *b, tf_fsbox_change_t *c, size_t n, int flags)
{
    made_dirs_t made = {0};
    size_t i;
    int rc = 0;
    for (i = 0; i < n; i++) {
        c[i].dir = -1;
        c[i].state = ST_NONE;
        c[i].tmp[0] = c[i].bak[0] = '\0';
        c[i].created = c[i].existed = 0;
    }
    for (i = 0; i < n && rc == 0; i++)
        rc = prepare(b, &c[i], flags, &made);
    for (i = 0; i < n && rc == 0; i++)
        rc = swap_in(b, &c[i], flags);
    for (i = 0; i < n; i++) {
        if (rc != 0)
            undo(&c[i]);
        else if (c[i].bak[0])
            unlinkat(c[i].dir, c[i].bak, 0);
        close_fd(&c[i].dir);
    }
    made_done(&made, rc != 0);
    return rc;
}

int tf_fsbox_write(tf_fsbox_t *b, const char *path, const char *data, size_t len, int flags)
{
    tf_fsbox_change_t c;
    memset(&c, 0, sizeof(c));
    c.path = path;
    c.data = data;
    c.len = len;
    if (tf_fsbox_commit(b, &c, 1, flags) != 0)
        return -1;
    return c.created;
}

/* --- moving and removing ---------------------------------------------------------------------- */

int tf_fsbox_rename(tf_fsbox_t *b, const char *from, const char *to, int flags, int *replaced)
{
    char pf[TF_FSBOX_PATH_MAX], pt[TF_FSBOX_PATH_MAX], nf[TF_FSBOX_NAME_MAX + 1], nt[TF_FSBOX_NAME_MAX + 1];
    *replaced = 0;
    int kf = norm(b, from, 1, pf);
    if (kf < 0)
        return fail(b, b->err, "from '%.200s' %.250s", from ? from : "", b->msg);
    int kt = norm(b, to, 1, pt);
    if (kt < 0)
        return fail(b, b->err, "to '%.200s' %.250s", to ? to : "", b->msg);
    if (kf == 0 || kt == 0)
        return fail(b, EPERM, "the workspace root itself cannot be moved or replaced");
    if (strcmp(pf, pt) == 0)
        return fail(b, EINVAL, "from and to are the same path");
    int df = open_parent(b, pf, nf, NULL);
    if (df < 0)
        return fail(b, b->err, "from '%.200s' %.250s", pf, b->msg);
    struct stat st;
    if (fstatat(df, nf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int e = errno;
        close(df);
        return fail(b, e, "from '%.200s' %s", pf, why(e));
    }
    made_dirs_t made = {0};
    int dt = open_parent(b, pt, nt, (flags & TF_FSBOX_MKDIRS) ? &made : NULL);
    if (dt < 0) {
        int e = b->err;
        close(df);
        made_done(&made, 1);
        return fail(b, e, "to '%.200s' %.250s%s", pt, b->msg, e == ENOENT && !(flags & TF_FSBOX_MKDIRS) ? " (create_dirs creates it)" : "");
    }
    struct stat dst;
    int existed = fstatat(dt, nt, &dst, AT_SYMLINK_NOFOLLOW) == 0;
    int rc = (flags & TF_FSBOX_NO_REPLACE) ? renameat2(df, nf, dt, nt, RENAME_NOREPLACE) : renameat(df, nf, dt, nt);
    int e = errno;
    close(df);
    close(dt);
    made_done(&made, rc != 0);
    if (rc != 0) {
        if (e == EEXIST || (e == ENOTEMPTY && (flags & TF_FSBOX_NO_REPLACE)))
            return fail(b, e, "to '%.200s' already exists (set overwrite: true to replace it)", pt);
        if (e == EINVAL)
            return fail(b, e, "cannot move '%.200s' into itself", pf);
        return fail(b, e, "cannot move '%.200s' to '%.200s': %s", pf, pt, why(e));
    }
    *replaced = existed;
    return 0;
}

typedef struct names {
    size_t n, cap;
    char **v;
} names_t;

static void names_free(names_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* All names of a directory but "." and "..", at most `max` (the rest sets *more). */
static int read_names(DIR *d, names_t *l, size_t max, int *more)
{
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (l->n == max) {
            *more = 1;
            break;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->v = realloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n++] = strdup(de->d_name);
    }
    return errno == 0 ? 0 : -1;
}

/*
 * Removes the directory `name` in `parent` and everything below it. Names
 * are read first and removed afterwards (removing while readdir runs is
 * unspecified); subdirectories are entered without following symlinks.
 */
static int remove_tree(tf_fsbox_t *b, int parent, const char *name, int depth, unsigned long *count)
{
    if (depth > TF_FSBOX_DEPTH_MAX)
        return fail(b, ELOOP, "is nested more than %d directories deep; refused", TF_FSBOX_DEPTH_MAX);
    int fd = open2(parent, name, O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_LINKS);
    if (fd < 0)
        return sysfail(b, errno);
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return sysfail(b, errno);
    }
    int rc = 0, more = 0;
    do {
        names_t l = {0};
        more = 0;
        if (read_names(d, &l, DIR_ENTRIES_MAX, &more) != 0)
            rc = sysfail(b, errno);
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            struct stat st;
            if (fstatat(dirfd(d), l.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue; /* gone meanwhile */
            if (S_ISDIR(st.st_mode))
                rc = remove_tree(b, dirfd(d), l.v[i], depth + 1, count);
            else if (unlinkat(dirfd(d), l.v[i], 0) == 0)
                (*count)++;
            else if (errno != ENOENT)
                rc = sysfail(b, errno);
        }
        names_free(&l);
        if (more)
            rewinddir(d);
    } while (more && rc == 0);
    closedir(d);
    if (rc != 0)
        return rc;
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0)
        return sysfail(b, errno);
    (*count)++;
    return 0;
}

int tf_fsbox_remove(tf_fsbox_t *b, const char *path, int recursive, unsigned long *count)
{
    char p[TF_FSBOX_PATH_MAX], name[TF_FSBOX_NAME_MAX + 1];
    *count = 0;
    int n = norm(b, path, 1, p);
    if (n < 0)
        return -1;
    if (n == 0)
        return fail(b, EPERM, "is the workspace root itself, which cannot be deleted");
    int dir = open_parent(b, p, name, NULL);
    if (dir < 0)
        return -1;
    struct stat st;
    int rc;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = sysfail(b, errno);
    } else if (S_ISDIR(st.st_mode)) {
        rc = recursive ? remove_tree(b, dir, name, 1, count)
                       : fail(b, EISDIR, "is a directory; set recursive: true to delete it with everything in it");
    } else {
        /* A symlink is removed as itself: unlinkat never follows it. */
        rc = unlinkat(dir, name, 0) == 0 ? 0 : sysfail(b, errno);
        *count = rc == 0;
    }
    close(dir);
    return rc;
}

/* --- walking ------------------------------------------------------------------------------------ */

typedef struct walk {
    tf_fsbox_t *b;
    int max_depth;
    tf_fsbox_walk_fn fn;
    void *ud;
    int stop;
    char rel[TF_FSBOX_PATH_MAX];
} walk_t;

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Visits the directory open as fd (owned), whose path from the start is w->rel[0..rlen). */
static void walk_dir(walk_t *w, int fd, size_t rlen, int depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    names_t l = {0};
    int more = 0;
    read_names(d, &l, DIR_ENTRIES_MAX, &more);
    if (more)
        w->b->truncated = 1;
    if (l.n > 1) /* qsort with a NULL base (an empty directory) is undefined */
        qsort(l.v, l.n, sizeof(*l.v), by_name);
    for (size_t i = 0; i < l.n && !w->stop; i++) {
        tf_fsbox_entry_t e;
        memset(&e, 0, sizeof(e));
        if (fstatat(dirfd(d), l.v[i], &e.st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        size_t nl = strlen(l.v[i]);
        if (rlen + 1 + nl >= sizeof(w->rel)) {
            w->b->truncated = 1;
            continue;
        }
        if (rlen > 0)
            w->rel[rlen] = '/';
        memcpy(w->rel + rlen + (rlen > 0), l.v[i], nl + 1);
        e.dirfd = dirfd(d);
        e.name = l.v[i];
        e.rel = w->rel;
        e.depth = depth;
        e.fd = -1;
        int r = w->fn(w->ud, &e);
        if (r == TF_FSBOX_WALK_STOP) {
            w->stop = 1;
        } else if (S_ISDIR(e.st.st_mode) && r != TF_FSBOX_WALK_PRUNE && depth < w->max_depth) {
            int cfd = open2(dirfd(d), l.v[i], O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_LINKS);
            if (cfd >= 0)
                walk_dir(w, cfd, rlen + (rlen > 0) + nl, depth + 1);
        }
        w->rel[rlen] = '\0';
    }
    names_free(&l);
    closedir(d);
}

int tf_fsbox_walk(tf_fsbox_t *b, const char *path, int max_depth, tf_fsbox_walk_fn fn, void *ud)
{
    char p[TF_FSBOX_PATH_MAX];
    b->truncated = 0;
    int n = norm(b, path, 1, p);
    if (n < 0)
        return -1;
    /* The start may be reached through a symlink that stays inside; below it nothing is followed. */
    int fd = open2(b->root, n ? p : ".", O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, RESOLVE_IN_BOX);
    if (fd < 0)
        return sysfail(b, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sysfail(b, e);
    }
    if (!S_ISDIR(st.st_mode)) {
        tf_fsbox_entry_t e;
        memset(&e, 0, sizeof(e));
        const char *slash = strrchr(p, '/');
        e.dirfd = -1;
        e.name = slash ? slash + 1 : p;
        e.rel = "";
        e.st = st;
        e.fd = fd;
        fn(ud, &e);
        close(fd);
        return 0;
    }
    walk_t *w = calloc(1, sizeof(*w));
    w->b = b;
    w->max_depth = max_depth < 1 ? 1 : max_depth > TF_FSBOX_DEPTH_MAX ? TF_FSBOX_DEPTH_MAX : max_depth;
    w->fn = fn;
    w->ud = ud;
    walk_dir(w, fd, 0, 1);
    free(w);
    return 0;
}

int tf_fsbox_entry_read(tf_fsbox_t *b, const tf_fsbox_entry_t *e, char **data, size_t *len)
{
    if (e->fd >= 0)
        return read_fd(b, e->fd, data, len, NULL);
    if (!S_ISREG(e->st.st_mode))
        return fail(b, EINVAL, "is not a regular file");
    int fd = open2(e->dirfd, e->name, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, RESOLVE_NO_LINKS);
    if (fd < 0)
        return sysfail(b, errno);
    int rc = read_fd(b, fd, data, len, NULL);
    close(fd);
    return rc;
}
