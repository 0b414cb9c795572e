/*
 * tf_server - threads, listeners, signals and configuration reload.
 *
 * One h2o event loop per thread; every thread opens its own listening
 * sockets with SO_REUSEPORT so the kernel spreads connections. The main
 * thread owns no loop: it waits for signals (signalfd) and reload requests
 * and swaps configuration snapshots, telling each loop thread by message.
 */
#ifndef TF_SERVER_H
#define TF_SERVER_H

#include <h2o.h>
#include <signal.h>
#include <openssl/ssl.h>

#include "tf_conf.h"
#include "tf_metrics.h"

struct tf_db_pool;

#define TF_MAX_LISTEN 16

/*
 * A loop thread's hold on a configuration snapshot. Requests count
 * themselves here instead of on the snapshot's atomic refcount, which every
 * thread would otherwise bounce between cores on every request.
 */
typedef struct tf_conf_hold {
    tf_conf_t *conf; /* one reference on the snapshot */
    long users;      /* requests using it, +1 while it is the thread's current one */
} tf_conf_hold_t;

void tf_conf_hold_release(tf_conf_hold_t *h);

typedef struct tf_thread {
    int index;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_plain, accept_tls;
    h2o_socket_t *listeners[TF_MAX_LISTEN];
    size_t nlisteners;
    tf_conf_t *conf;             /* this thread's snapshot (== hold->conf) */
    tf_conf_hold_t *hold;        /* requests hold this while they run */
    struct tf_db_pool *db;
    struct tf_curl *curl;        /* upstream HTTP (providers) */
    struct tf_curl *curl_h2c;    /* HTTP/2 to h2c nodes only (tf_curl_h2c_prepare) */
    struct tf_usage_batch *usage; /* usage no limit depends on, written every 100 ms */
    tf_metrics_thread_t *metrics;
    h2o_multithread_receiver_t ctl;  /* control messages from the main thread */
    h2o_multithread_receiver_t work; /* finished tf_work jobs */
    h2o_multithread_receiver_t calls; /* tf_server_post from other threads */
    int calls_open;              /* under the posting mutex: 0 once the loop is ending */
    uint64_t req_seq;
    long nconns;
    int shutting_down;
    int exit_loop;
    int drain_ticks;
    h2o_timeout_entry_t db_stats_tick;
} tf_thread_t;

/* The loop thread running the caller (NULL on other threads). */
extern __thread tf_thread_t *tf_thread;

/*
 * Blocks SIGHUP, SIGTERM and SIGINT (filling *set) and ignores SIGPIPE.
 * Call before any thread starts: every thread inherits the mask, so these
 * signals reach only the main thread's signalfd in tf_server_run.
 */
void tf_server_block_signals(sigset_t *set);

/* Runs the server until SIGTERM/SIGINT; returns the exit status. */
int tf_server_run(tf_conf_t *conf);

/*
 * Asks the main thread to reload conf from its file. `done` is called on
 * the calling loop thread with ok=1 or ok=0 and the error text.
 */
typedef void (*tf_reload_cb)(void *ud, int ok, const char *msg);
void tf_server_request_reload(tf_reload_cb done, void *ud);

/*
 * Runs fn(arg, 1) on loop thread `thr` soon, from any thread (an MCP
 * client's answer arriving on one thread for a call running on another).
 * When thr's loop is ending, fn(arg, 0) runs instead (at once, or there
 * while it drains) so arg is always released. Returns 0 when queued.
 */
typedef void (*tf_post_fn)(void *arg, int alive);
int tf_server_post(tf_thread_t *thr, tf_post_fn fn, void *arg);

#endif
