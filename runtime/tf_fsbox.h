/*
 * tf_fsbox - a user's workspace directory as a sandbox for the code tools.
 *
 * Every path a tool receives is relative to <workspace_root>/<user_id>/.
 * The sandbox never builds an absolute path out of what the user sent and
 * opens it: it keeps a directory fd of the workspace and resolves each
 * path with openat2(2) from that fd, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
 * so the kernel refuses anything that would leave the workspace (a `..`,
 * an absolute symlink, a symlink whose target is outside), even if the
 * tree changes between our checks. Before that, paths are checked as text:
 * no NUL byte, not absolute, no `..` component, not too long.
 *
 * Rules the tools rely on:
 *  - reads may follow symlinks that stay inside the workspace;
 *  - writes, deletes and moves act on the entry itself and never through a
 *    final symlink (a symlink as the target of a write is refused; deleting
 *    or moving a symlink acts on the link, not on what it points to);
 *  - directory walks (list, tree, grep, recursive delete) never follow
 *    symlinks;
 *  - the workspace root itself can be listed and searched, never written,
 *    deleted or moved;
 *  - files are replaced through a temporary file and renameat(2), so a
 *    reader sees the old or the new content, never half of it.
 *
 * Not thread-affine: one tf_fsbox_t per job, used by one thread at a time.
 * Every call that can fail returns -1 and leaves the reason, for the user,
 * in b->msg (and errno's value in b->err).
 */
#ifndef TF_FSBOX_H
#define TF_FSBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define TF_FSBOX_PATH_MAX 4096 /* bytes of a relative path, NUL included */
#define TF_FSBOX_NAME_MAX 255  /* bytes of one component */
#define TF_FSBOX_DEPTH_MAX 64  /* deepest walk or recursive delete */

typedef struct tf_fsbox {
    int root;                /* O_PATH directory fd of the user's workspace, -1 when closed */
    uint64_t max_file_bytes; /* largest file read or written */
    int err;                 /* errno of the last failure (0: a rule, not a system error) */
    int truncated;           /* the last walk skipped entries (a huge directory, an overlong path) */
    char msg[320];           /* why the last call failed */
} tf_fsbox_t;

/*
 * Opens (creating them, 0700, if missing) <workspace_root>/ and
 * <workspace_root>/<user_id>/. workspace_root is the operator's (conf),
 * user_id must look like a uuid (hex digits and '-'); the user's
 * directory must not be a symlink.
 */
int tf_fsbox_open(tf_fsbox_t *b, const char *workspace_root, const char *user_id, uint64_t max_file_bytes);
void tf_fsbox_close(tf_fsbox_t *b);

/*
 * Checks a relative path as text and writes its normal form into out
 * (TF_FSBOX_PATH_MAX bytes): components joined by single '/', without
 * "." or empty ones; "" for the workspace root. `len` is the length the
 * caller received (a JSON string may carry a NUL before its end).
 * allow_root: whether "", "." or "./" are acceptable (the root).
 * Returns the number of components (0: the root), or -1.
 */
int tf_fsbox_norm(tf_fsbox_t *b, const char *path, size_t len, int allow_root, char *out);

/* lstat(2) of a path (the root for ""); a final symlink is not followed. */
int tf_fsbox_lstat(tf_fsbox_t *b, const char *path, struct stat *st);
/* The target of a symlink, NUL-terminated, into buf. */
int tf_fsbox_readlink(tf_fsbox_t *b, const char *path, char *buf, size_t size);

/*
 * A regular file's bytes (a symlink inside the workspace is followed),
 * NUL-terminated for convenience (*len excludes it). Refused: directories,
 * devices and FIFOs, files over max_file_bytes. Free *data with free().
 */
int tf_fsbox_read(tf_fsbox_t *b, const char *path, char **data, size_t *len, struct stat *st);

/* Flags of tf_fsbox_commit and tf_fsbox_rename. */
enum {
    TF_FSBOX_MKDIRS = 1,     /* create missing parent directories (0755) */
    TF_FSBOX_NO_REPLACE = 2, /* fail if the destination exists */
};

/* What a change expects to find. */
enum { TF_FSBOX_ANY = 0, TF_FSBOX_NEW, TF_FSBOX_EXISTING };

/*
 * One file to write (or remove) in a commit. The caller fills path
 * (normal form), data/len or remove, and expect; commit fills `created`.
 */
typedef struct tf_fsbox_change {
    const char *path;
    const char *data;
    size_t len;
    int remove;  /* delete the file instead of writing it */
    int expect;  /* TF_FSBOX_ANY, TF_FSBOX_NEW, TF_FSBOX_EXISTING */
    int created; /* out: the file did not exist before */
    /* private to tf_fsbox */
    int dir;
    int existed;
    int state;
    char name[TF_FSBOX_NAME_MAX + 1];
    char tmp[32];
    char bak[32];
} tf_fsbox_change_t;

/*
 * Writes or removes n files atomically as a group: every new content is
 * written to a temporary file next to its target first; then each target
 * is swapped in with renameat(2), the old one kept as a hard link until
 * all succeeded. Any failure puts back every file already swapped and
 * removes the directories MKDIRS created: either all change or none.
 * A target that is a symlink, a directory or another special file is
 * refused, and so is a content over max_file_bytes.
 */
int tf_fsbox_commit(tf_fsbox_t *b, tf_fsbox_change_t *c, size_t n, int flags);

/* Convenience: one file. Returns 1 when created, 0 when replaced, -1. */
int tf_fsbox_write(tf_fsbox_t *b, const char *path, const char *data, size_t len, int flags);

/*
 * Renames from -> to inside the workspace (a symlink is moved as itself).
 * NO_REPLACE: an existing destination is an error (RENAME_NOREPLACE, so
 * there is no window between the check and the rename). *replaced tells
 * whether something was overwritten.
 */
int tf_fsbox_rename(tf_fsbox_t *b, const char *from, const char *to, int flags, int *replaced);

/*
 * Removes a file or symlink, or a directory with recursive (its symlinks
 * are removed, never followed). *count: entries removed.
 */
int tf_fsbox_remove(tf_fsbox_t *b, const char *path, int recursive, unsigned long *count);

/* One entry seen by a walk. */
typedef struct tf_fsbox_entry {
    int dirfd;         /* the directory holding it (for tf_fsbox_entry_read) */
    const char *name;  /* its name in dirfd */
    const char *rel;   /* its path relative to the walk's start ("" for a file start) */
    struct stat st;    /* lstat */
    int depth;         /* 1 for the start's children */
    int fd;            /* private: the open file when the start is a file, else -1 */
} tf_fsbox_entry_t;

enum { TF_FSBOX_WALK_NEXT = 0, TF_FSBOX_WALK_STOP = 1, TF_FSBOX_WALK_PRUNE = 2 };
typedef int (*tf_fsbox_walk_fn)(void *ud, const tf_fsbox_entry_t *e);

/*
 * Visits what is under `path`, depth first, names in byte order, at most
 * max_depth levels deep (1: only the direct children). A file as start is
 * visited once, as depth 0 with rel "". Symlinks are reported, never
 * followed. The callback returns NEXT, STOP, or PRUNE (do not enter this
 * directory). Returns 0 (STOP included) or -1.
 */
int tf_fsbox_walk(tf_fsbox_t *b, const char *path, int max_depth, tf_fsbox_walk_fn fn, void *ud);

/* Reads a regular file a walk reported, with tf_fsbox_read's rules. */
int tf_fsbox_entry_read(tf_fsbox_t *b, const tf_fsbox_entry_t *e, char **data, size_t *len);

/* "file", "dir", "symlink" or "other". */
const char *tf_fsbox_type(mode_t mode);

#endif
