/*
 * tools/code_int.h - what the code tools' files (code.c, code_glob.c)
 * share: the job that carries one call to the worker pool and back.
 *
 * On the loop, tf_code_submit copies what the job needs (arguments,
 * workspace root, size cap, user id) and hands it to the worker pool,
 * because file system calls may block and an event loop must never wait.
 * On a worker, `run` gets the sandbox (tf_fsbox, opened for the caller's
 * workspace) and sets j->out or fails with tf_code_fail; back on the loop
 * the answer is sent, or only freed when the client has left.
 */
#ifndef TF_CODE_INT_H
#define TF_CODE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_fsbox.h"
#include "tf_tool.h"

typedef struct code_job code_job_t;
typedef void (*code_run_fn)(code_job_t *j, tf_fsbox_t *b);

struct code_job {
    tf_tool_call_t *call; /* loop thread only */
    json_t *args;         /* a private deep copy: jansson values are not shared across threads */
    char *root;           /* tools.workspace_root: the conf snapshot may go away with the request */
    char user[64];
    uint64_t max_bytes;
    code_run_fn run;
    json_t *out; /* the structured answer, or NULL and... */
    char *err;   /* ...why it failed */
};

/* A handler's whole body: runs `run` on a worker for the signed-in caller. */
int tf_code_submit(tf_tool_call_t *call, code_run_fn run);

/* The job fails with this message (the tool error the model reads). */
void tf_code_fail(code_job_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The argument `field` as a checked path in normal form (into out, of
 * TF_FSBOX_PATH_MAX); NULL after failing the job with the reason.
 */
const char *tf_code_arg_path(code_job_t *j, tf_fsbox_t *b, const char *field, int allow_root, char *out);

/* A JSON string of text that may not be UTF-8 (names made outside the tools): invalid bytes become '?'. */
json_t *tf_code_text(const char *s);

/* "*.{c,h}" -> "*.c", "*.h" (one group; fnmatch has none): up to max malloc'd patterns, their count. */
size_t tf_code_expand_braces(const char *glob, char **out, size_t max);

#endif
