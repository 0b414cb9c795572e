/*
 * tf_yaml_lines - where each node of a YAML file is, by path.
 *
 * libcyaml loads a file into C structs but forgets positions; checks that
 * run after loading (port out of range, unknown log level) still have to
 * say `file:line`. This module walks the file once with libyaml's event
 * parser and records the line of every node under a path such as
 * "listen[1].port".
 */
#ifndef TF_YAML_LINES_H
#define TF_YAML_LINES_H

#include <cyaml/cyaml.h>
#include <stdarg.h>
#include <stddef.h>

typedef struct tf_yaml_lines tf_yaml_lines_t;

/* NULL when the file cannot be read or parsed (cyaml will report why). */
tf_yaml_lines_t *tf_yaml_lines_load(const char *file);
/* Line (1-based) of the node at `path`, or of its nearest recorded parent; 0 if unknown. */
unsigned tf_yaml_lines_get(const tf_yaml_lines_t *yl, const char *path);
/* Line of the first mapping key named `key` at any depth; 0 if none. (libcyaml
 * reports an unknown key with the line of its mapping, not of the key.) */
unsigned tf_yaml_lines_find_key(const tf_yaml_lines_t *yl, const char *key);
void tf_yaml_lines_free(tf_yaml_lines_t *yl);

/*
 * libcyaml's errors as "file:line: reason". Install tf_yaml_cyaml_log as
 * cyaml_config_t.log_fn with a tf_yaml_cyaml_err_t as log_ctx; after a
 * failed load, tf_yaml_cyaml_line gives the line to report.
 */
typedef struct tf_yaml_cyaml_err {
    char msg[512];  /* the first reason cyaml gave */
    unsigned line;  /* the innermost line of its backtrace */
} tf_yaml_cyaml_err_t;

void tf_yaml_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args);
/* The line for e: for "Unexpected key: k" the key's own line, not its mapping's. */
unsigned tf_yaml_cyaml_line(const tf_yaml_cyaml_err_t *e, const char *file);

#endif
