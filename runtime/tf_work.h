/*
 * tf_work - a small thread pool for CPU-bound work (password hashing)
 * that must not run on an event-loop thread.
 *
 * A job's `run` executes on a worker; its `done` then executes back on the
 * event-loop thread that submitted it, so `done` may touch that thread's
 * state without locks. Cancelling (the client went away) is also done on
 * that loop thread: `done` still runs, with cancelled = 1, so it can free
 * `arg`, but must not answer the request.
 */
#ifndef TF_WORK_H
#define TF_WORK_H

#include <h2o.h>

typedef struct tf_work tf_work_t;
typedef void (*tf_work_run_fn)(void *arg);
typedef void (*tf_work_done_fn)(void *arg, int cancelled);

/* Starts `nworkers` threads; call once before the event loops start. */
int tf_work_start(unsigned nworkers);
/* Stops the workers after the queue drains (at exit). */
void tf_work_stop(void);

/* Per event-loop thread: where finished jobs are delivered. */
void tf_work_register_loop(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *receiver);
void tf_work_unregister_loop(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *receiver);

/* Called on an event-loop thread that registered its receiver. */
tf_work_t *tf_work_submit(h2o_multithread_receiver_t *origin, tf_work_run_fn run, tf_work_done_fn done, void *arg);
void tf_work_cancel(tf_work_t *w);

#endif
