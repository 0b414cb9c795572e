/*
 * tf_log - structured logs as JSON lines.
 *
 * One line per event, written with a single write(2) so lines from several
 * threads never interleave. Every line carries a category (api, llm, mcp,
 * error, agent, system) and, when there is one, the request id that the
 * client also sees in the X-Request-Id response header.
 *
 * Secrets never go through here: callers log ids, never credentials.
 */
#ifndef TF_LOG_H
#define TF_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum tf_log_level {
    TF_LOG_DEBUG = 0,
    TF_LOG_INFO = 1,
    TF_LOG_WARN = 2,
    TF_LOG_ERROR = 3,
    TF_LOG_OFF = 4
} tf_log_level_t;

/* Parses "debug", "info", "warn", "error", "off"; -1 when unknown. */
int tf_log_level_parse(const char *s);

/* Sets the minimum level; safe from any thread (reload). */
void tf_log_set_level(int level);
int tf_log_enabled(int level);

/*
 * Sends lines to `path` (appending) or to stderr when path is NULL/"".
 * Returns -1 with errno when the file cannot be opened; the old target stays.
 */
int tf_log_open(const char *path);

/* A free-form message; `req_id` may be NULL. */
void tf_log(int level, const char *category, const char *req_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Event-loop threads buffer their lines and write them in one call per
 * loop iteration (tf_log_flush after h2o_evloop_run returns): a write(2)
 * per request would cost more than serving /health. Other threads write
 * each line at once.
 */
void tf_log_thread_buffered(int on);
void tf_log_flush(void);

/* One access-log line for a finished request (category "api"). */
void tf_log_access(const char *req_id, const char *method, size_t method_len, const char *path, size_t path_len,
                   const char *route, int status, const char *protocol, double duration_ms, size_t bytes_in);

/* Appends `s` JSON-escaped (without quotes) to buf; returns new length, never exceeds cap-1. */
size_t tf_log_json_escape(char *buf, size_t len, size_t cap, const char *s, size_t slen);

#endif
