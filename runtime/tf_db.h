/*
 * tf_db - an asynchronous PostgreSQL pool for one event-loop thread.
 *
 * Each event-loop thread owns one pool of N libpq connections driven by its
 * h2o loop: connecting (PQconnectStartParams/PQconnectPoll), sending
 * (PQsendQueryParams + PQflush) and reading results (PQconsumeInput,
 * PQisBusy, PQgetResult) all happen on readiness callbacks, so nothing here
 * blocks the loop after tf_db_pool_create. There are no locks: a pool must
 * only be used from the thread that runs its loop.
 *
 * libpq's socket is watched through a dup of it (h2o owns and closes the fds
 * it wraps; see ENGINEERING.md B.4), so libpq keeps full control of its own.
 *
 * Health: a lost connection (EOF, a FATAL from the server, a failed write)
 * fails its running query with tf_db_error_lost and is retried every second.
 * Idle connections send "SELECT 1" every 2 s; one unanswered for 3 s counts
 * as lost, so tf_db_is_up turns false within a few seconds even with no
 * traffic and even when the server hangs instead of closing. A stopped
 * server is noticed at once: it closes the sockets.
 *
 * Blocking caveat: libpq resolves host names synchronously inside
 * PQconnectPoll. Use a unix socket directory, an IP address or `hostaddr=`
 * in the conninfo, as `make run` does, to keep reconnects off the loop.
 */
#ifndef TF_DB_H
#define TF_DB_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>
#include <libpq-fe.h>

typedef struct tf_db_pool tf_db_pool_t;
typedef struct tf_db_query tf_db_query_t; /* a queued or running query */

/* Most queries waiting for a connection; tf_db_query refuses beyond it. */
#define TF_DB_QUEUE_MAX 1024
/* Reconnect attempts (and the pool's housekeeping tick), in ms. */
#define TF_DB_RETRY_MS 1000
/* An idle connection sends a probe after this long without traffic. */
#define TF_DB_KEEPALIVE_MS 2000
/* A probe unanswered for this long means the server hangs: reconnect. */
#define TF_DB_PROBE_TIMEOUT_MS 3000
/* A connection attempt that has not finished by then is abandoned. */
#define TF_DB_CONNECT_TIMEOUT_MS 5000
/* A query running longer fails with tf_db_error_timeout and its
 * connection is replaced (the server may be hung; see above). */
#define TF_DB_QUERY_TIMEOUT_MS 30000

/* Transport errors passed as `err` (compare by pointer or by text). */
extern const char *tf_db_error_lost;        /* "database connection lost" */
extern const char *tf_db_error_unavailable; /* "database unavailable": queued, then every connection went down */
extern const char *tf_db_error_timeout;     /* "database query timed out" */
extern const char *tf_db_error_closed;      /* "database pool closed": tf_db_pool_destroy */

/*
 * Completion callback; called exactly once per query that tf_db_query
 * accepted, unless tf_db_cancel was called first, and never from inside
 * tf_db_query itself.
 *  - err == NULL: `res` is the query's result. SQL errors (constraint
 *    violations, syntax errors...) arrive this way, as a result with status
 *    PGRES_FATAL_ERROR; check PQresultStatus.
 *  - err != NULL: `res` is NULL; the query did not run, or ran on a
 *    connection that died, so its outcome is unknown (answer 503).
 * The pool PQclear()s `res` after the callback returns: copy what you keep.
 * The callback may call tf_db_query and tf_db_cancel, not tf_db_pool_destroy.
 */
typedef void (*tf_db_cb)(void *ud, PGresult *res, const char *err);

typedef struct tf_db_stats {
    uint64_t queries_total;  /* accepted by tf_db_query */
    uint64_t errors_total;   /* of those, finished with `err` or an SQL error */
    uint64_t rejected_total; /* tf_db_query returned NULL (down or queue full) */
    int up;                  /* tf_db_is_up */
    int conns_up;            /* connections ready or running a query */
    int conns_total;
    size_t queue_len;        /* queries waiting for a connection */
} tf_db_stats_t;

/*
 * Creates a pool of `nconns` connections (2 when <= 0) on `loop` and starts
 * connecting at once; it is usually up a few ms later. `conninfo` is a
 * libpq connection string or URI (copied). Never NULL.
 */
tf_db_pool_t *tf_db_pool_create(h2o_loop_t *loop, const char *conninfo, int nconns);

/*
 * Switches to a new conninfo (configuration reload): idle and connecting
 * connections reconnect now, busy ones right after their current query.
 */
void tf_db_pool_set_conninfo(tf_db_pool_t *p, const char *conninfo);

/* 1 when at least one connection is ready (or running a query). */
int tf_db_is_up(tf_db_pool_t *p);

/*
 * The last connection error, one line, "" when none; the pointer is valid
 * until the loop runs again. Clears when a connection comes up.
 */
const char *tf_db_last_error(tf_db_pool_t *p);

/*
 * Queues `sql` with text parameters $1..$n (params[i] may be NULL for SQL
 * NULL); results come back in text format. `sql` and `params` are copied.
 * Returns NULL, without calling cb, when the database is down or
 * TF_DB_QUEUE_MAX queries are already waiting: answer 503 directly.
 */
tf_db_query_t *tf_db_query(tf_db_pool_t *p, const char *sql, int nparams, const char *const *params, tf_db_cb cb, void *ud);

/*
 * The requester went away: `cb` will not be called. A waiting query is
 * dropped; a running one finishes on the wire and its result is discarded.
 * `q` is invalid afterwards. A no-op when called from q's own callback.
 */
void tf_db_cancel(tf_db_query_t *q);

void tf_db_get_stats(tf_db_pool_t *p, tf_db_stats_t *st);

/*
 * Closes every connection and frees the pool, on the loop's thread before
 * h2o_evloop_destroy: afterwards no socket or timeout of the pool is linked
 * to the loop. Queries still pending get their callback with
 * tf_db_error_closed, so their owners drop their handles.
 */
void tf_db_pool_destroy(tf_db_pool_t *p);

#endif
