/*
 * tf_work.c - see tf_work.h.
 */
#include "tf_work.h"

#include <pthread.h>
#include <stdlib.h>

struct tf_work {
    h2o_multithread_message_t super; /* first: the receiver gets this pointer */
    h2o_multithread_receiver_t *origin;
    tf_work_run_fn run;
    tf_work_done_fn done;
    void *arg;
    int cancelled; /* touched only on the origin loop thread */
    struct tf_work *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static tf_work_t *head, *tail;
static int stopping;
static pthread_t *workers;
static unsigned nworkers_started;

static void *worker_main(void *unused)
{
    for (;;) {
        pthread_mutex_lock(&mu);
        while (head == NULL && !stopping)
            pthread_cond_wait(&cv, &mu);
        tf_work_t *w = head;
        if (w == NULL) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        head = w->next;
        if (head == NULL)
            tail = NULL;
        pthread_mutex_unlock(&mu);
        w->run(w->arg);
        h2o_multithread_send_message(w->origin, &w->super);
    }
}

int tf_work_start(unsigned n)
{
    workers = calloc(n, sizeof(*workers));
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0)
            return -1;
        nworkers_started++;
    }
    return 0;
}

void tf_work_stop(void)
{
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (unsigned i = 0; i < nworkers_started; i++)
        pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    nworkers_started = 0;
}

static void on_finished(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        tf_work_t *w = H2O_STRUCT_FROM_MEMBER(tf_work_t, super.link, messages->next);
        h2o_linklist_unlink(&w->super.link);
        w->done(w->arg, w->cancelled);
        free(w);
    }
}

void tf_work_register_loop(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *receiver)
{
    h2o_multithread_register_receiver(queue, receiver, on_finished);
}

void tf_work_unregister_loop(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *receiver)
{
    h2o_multithread_unregister_receiver(queue, receiver);
}

tf_work_t *tf_work_submit(h2o_multithread_receiver_t *origin, tf_work_run_fn run, tf_work_done_fn done, void *arg)
{
    tf_work_t *w = calloc(1, sizeof(*w));
    w->origin = origin;
    w->run = run;
    w->done = done;
    w->arg = arg;
    pthread_mutex_lock(&mu);
    if (tail != NULL)
        tail->next = w;
    else
        head = w;
    tail = w;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return w;
}

void tf_work_cancel(tf_work_t *w)
{
    w->cancelled = 1;
}
