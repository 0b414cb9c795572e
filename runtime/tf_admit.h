/*
 * tf_admit - a cap on concurrent upstream calls per provider node, with a
 * queue in front of it (the tiers' "priority queue").
 *
 * A gate exists per node key ("provider/node") for nodes the operator
 * capped (providers.settings[].max_concurrent); uncapped nodes have none and
 * pay nothing. Gates are shared by every loop thread, kept across reloads
 * (calls in flight under an old snapshot still count) and never freed.
 *
 *   tf_admit_enter   under the cap and nobody waiting: the slot is taken
 *                    at once. Otherwise the caller waits in the node's
 *                    queue: callers of a priority tier before every caller
 *                    without it, first come first served within each class.
 *   tf_admit_leave   a call ends (answer, error, timeout, cancel): the next
 *                    waiter gets the slot, and its callback runs on the
 *                    waiter's own loop thread (tf_server_post).
 *   tf_admit_cancel  the waiter gives up (queue timeout, client gone): after
 *                    it the callback never runs. A slot granted to it in the
 *                    meantime passes on to the next waiter.
 *
 * A waiter handle belongs to tf_admit; its owner may only pass it to
 * tf_admit_cancel, and not after its callback ran.
 */
#ifndef TF_ADMIT_H
#define TF_ADMIT_H

#include <stdint.h>

struct tf_thread;

typedef struct tf_admit tf_admit_t;
typedef struct tf_admit_wait tf_admit_wait_t;

/* The slot is the caller's now; it calls tf_admit_leave when its call ends. */
typedef void (*tf_admit_fn)(void *ud);

enum { TF_ADMIT_NOW = 0, TF_ADMIT_QUEUED = 1 };
enum { TF_ADMIT_TIMEOUT = 0, TF_ADMIT_GONE = 1 }; /* why a waiter gave up (metrics) */

/* The gate for key, made on first use. */
tf_admit_t *tf_admit_get(const char *key);

/*
 * Asks for a slot under `cap` (> 0; the newest caller's cap is the gate's).
 * TF_ADMIT_NOW: taken. TF_ADMIT_QUEUED: *w is the place in the queue, and
 * cb(ud) will run on loop thread thr once the slot is granted.
 */
int tf_admit_enter(tf_admit_t *a, unsigned cap, int priority, struct tf_thread *thr, tf_admit_fn cb, void *ud,
                   tf_admit_wait_t **w);

/* A slot taken by tf_admit_enter or granted through the callback ends. */
void tf_admit_leave(tf_admit_t *a);

/* Called on the waiter's own thread. `why`: TF_ADMIT_TIMEOUT or TF_ADMIT_GONE. */
void tf_admit_cancel(tf_admit_wait_t *w, int why);

/* What /metrics shows of a gate. */
typedef struct tf_admit_view {
    const char *key;
    unsigned cap, inflight, waiting[2]; /* [0] without priority, [1] with */
    uint64_t queued[2];                 /* callers that had to wait, by class */
    uint64_t granted, timeouts, gone;   /* how waits ended */
    uint64_t wait_ns;                   /* total wait of the granted ones */
} tf_admit_view_t;

/* Calls fn for every gate (under that gate's lock: fn must not call tf_admit). */
void tf_admit_each(void (*fn)(void *ctx, const tf_admit_view_t *v), void *ctx);

#endif
