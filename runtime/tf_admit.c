/*
 * tf_admit.c - per-node concurrency caps and their queues. See tf_admit.h.
 *
 * One mutex per gate, held for a few pointer moves; it is taken only for
 * capped nodes. A waiter is malloc'd here, not in the caller's request,
 * because a slot granted on one thread reaches the waiter's thread by
 * message: the waiter may give up while that message is on its way, and
 * the message must still land on memory that exists.
 *
 * A waiter's states (under its gate's mutex):
 *   QUEUED  in a queue; cancel unlinks and frees it.
 *   POSTED  granted (counted in inflight), message on its way. deliver()
 *           runs the callback, or, if the owner gave up meanwhile
 *           (owner_gone), passes the slot on; either way it frees it.
 *   LOST    granted, but its thread's loop was ending (alive = 0): the
 *           slot was passed on; the owner's cancel frees it.
 */
#include "tf_admit.h"
#include "tf_clock.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_server.h"

enum { W_QUEUED = 0, W_POSTED, W_LOST };

struct tf_admit_wait {
    tf_admit_wait_t *prev, *next; /* in the queue; then `next` links a batch of grants */
    tf_admit_t *gate;
    struct tf_thread *thr;
    tf_admit_fn cb;
    void *ud;
    int prio, state, owner_gone;
    uint64_t since_ns;
};

typedef struct waitq {
    tf_admit_wait_t *head, *tail;
    unsigned n;
} waitq_t;

struct tf_admit {
    tf_admit_t *next;
    pthread_mutex_t mu;
    char key[128];
    unsigned cap, inflight;
    waitq_t q[2]; /* [1]: priority tiers, served first */
    uint64_t queued[2], granted, timeouts, gone, wait_ns;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static tf_admit_t *reg;

tf_admit_t *tf_admit_get(const char *key)
{
    pthread_mutex_lock(&reg_mu);
    tf_admit_t *a = reg;
    while (a != NULL && strcmp(a->key, key) != 0)
        a = a->next;
    if (a == NULL) {
        a = calloc(1, sizeof(*a));
        pthread_mutex_init(&a->mu, NULL);
        snprintf(a->key, sizeof(a->key), "%s", key);
        a->next = reg;
        reg = a;
    }
    pthread_mutex_unlock(&reg_mu);
    return a;
}

static void q_push(waitq_t *q, tf_admit_wait_t *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->n++;
}

static void q_unlink(waitq_t *q, tf_admit_wait_t *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    q->n--;
}

/* Under a->mu: hands free slots to waiters, priority class first. Returns
 * them linked by `next`, in grant order, to be posted once the lock is
 * dropped (a post may run deliver at once, which takes the lock). */
static tf_admit_wait_t *pump(tf_admit_t *a)
{
    tf_admit_wait_t *first = NULL, **tail = &first;
    while (a->inflight < a->cap) {
        waitq_t *q = a->q[1].head != NULL ? &a->q[1] : &a->q[0];
        tf_admit_wait_t *w = q->head;
        if (w == NULL)
            break;
        q_unlink(q, w);
        a->inflight++;
        w->state = W_POSTED;
        *tail = w;
        tail = &w->next;
    }
    return first;
}

static void deliver(void *arg, int alive);

static void post_all(tf_admit_wait_t *w)
{
    while (w != NULL) {
        tf_admit_wait_t *next = w->next;
        w->next = NULL;
        tf_server_post(w->thr, deliver, w); /* a loop that is ending runs deliver(w, 0) */
        w = next;
    }
}

/* A granted slot arrives (alive: on the waiter's own thread). */
static void deliver(void *arg, int alive)
{
    tf_admit_wait_t *w = arg;
    tf_admit_t *a = w->gate;
    pthread_mutex_lock(&a->mu);
    if (alive && !w->owner_gone) {
        a->granted++;
        a->wait_ns += tf_now_ns() - w->since_ns;
        pthread_mutex_unlock(&a->mu);
        tf_admit_fn cb = w->cb;
        void *ud = w->ud;
        free(w);
        cb(ud);
        return;
    }
    /* Nobody will use this slot: the next waiter gets it. */
    a->inflight--;
    tf_admit_wait_t *g = pump(a);
    int owner_gone = w->owner_gone;
    if (!owner_gone)
        w->state = W_LOST;
    pthread_mutex_unlock(&a->mu);
    if (owner_gone)
        free(w);
    post_all(g);
}

int tf_admit_enter(tf_admit_t *a, unsigned cap, int priority, struct tf_thread *thr, tf_admit_fn cb, void *ud,
                   tf_admit_wait_t **out)
{
    int p = priority ? 1 : 0;
    *out = NULL;
    pthread_mutex_lock(&a->mu);
    a->cap = cap;
    if (a->inflight < cap && a->q[0].n == 0 && a->q[1].n == 0) {
        a->inflight++;
        pthread_mutex_unlock(&a->mu);
        return TF_ADMIT_NOW;
    }
    tf_admit_wait_t *w = calloc(1, sizeof(*w));
    w->gate = a;
    w->thr = thr;
    w->cb = cb;
    w->ud = ud;
    w->prio = p;
    w->since_ns = tf_now_ns();
    q_push(&a->q[p], w);
    a->queued[p]++;
    /* A reload may have raised the cap: room for waiters, maybe this one. */
    tf_admit_wait_t *g = pump(a), **pp = &g;
    int took = 0;
    while (*pp != NULL && *pp != w)
        pp = &(*pp)->next;
    if (*pp == w) {
        *pp = w->next;
        a->queued[p]--;
        took = 1;
    }
    pthread_mutex_unlock(&a->mu);
    post_all(g);
    if (took) {
        free(w);
        return TF_ADMIT_NOW;
    }
    *out = w;
    return TF_ADMIT_QUEUED;
}

void tf_admit_leave(tf_admit_t *a)
{
    pthread_mutex_lock(&a->mu);
    /* Every leave returns one granted slot. A leave with none granted is a
     * caller's double leave: it would have handed out a slot still in use
     * (more calls than the cap) had another call been running, so it must
     * fail loudly in tests, not be absorbed. Without asserts (NDEBUG) the
     * count at least never wraps. */
    assert(a->inflight > 0 && "tf_admit_leave without a granted slot (double leave?)");
    if (a->inflight > 0)
        a->inflight--;
    tf_admit_wait_t *g = pump(a);
    pthread_mutex_unlock(&a->mu);
    post_all(g);
}

void tf_admit_cancel(tf_admit_wait_t *w, int why)
{
    if (w == NULL)
        return;
    tf_admit_t *a = w->gate;
    int free_now = 1;
    pthread_mutex_lock(&a->mu);
    if (w->state != W_LOST) {
        if (why == TF_ADMIT_GONE)
            a->gone++;
        else
            a->timeouts++;
    }
    if (w->state == W_QUEUED) {
        q_unlink(&a->q[w->prio], w);
    } else if (w->state == W_POSTED) {
        w->owner_gone = 1; /* deliver frees it and passes the slot on */
        free_now = 0;
    }
    pthread_mutex_unlock(&a->mu);
    if (free_now)
        free(w);
}

void tf_admit_each(void (*fn)(void *ctx, const tf_admit_view_t *v), void *ctx)
{
    pthread_mutex_lock(&reg_mu);
    for (tf_admit_t *a = reg; a != NULL; a = a->next) {
        pthread_mutex_lock(&a->mu);
        tf_admit_view_t v = {.key = a->key,
                             .cap = a->cap,
                             .inflight = a->inflight,
                             .waiting = {a->q[0].n, a->q[1].n},
                             .queued = {a->queued[0], a->queued[1]},
                             .granted = a->granted,
                             .timeouts = a->timeouts,
                             .gone = a->gone,
                             .wait_ns = a->wait_ns};
        fn(ctx, &v);
        pthread_mutex_unlock(&a->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}
