/*
 * tf_admit unit test, without an event loop: tf_server_post is replaced by
 * a mailbox the test empties by hand, so the order slots are granted in,
 * cancellation before and after a grant, a loop that is ending, a raised
 * cap and the counters can be checked step by step. A last part runs
 * real threads against one gate and checks the cap is never exceeded.
 *
 * Build: cc -Iruntime tests/unit/test_admit.c runtime/tf_admit.c -lpthread
 */
#include "tap.h"
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tf_admit.h"
#include "tf_server.h"


/* --- the mailbox standing in for tf_server_post ------------------------------ */

#define MAXMSG 256
static struct {
    tf_post_fn fn;
    void *arg;
    tf_thread_t *thr;
} box[MAXMSG];
static size_t nbox;
static int loop_ending; /* posts fail: fn(arg, 0) at once, as tf_server_post does */
static int threaded;    /* the threaded part: deliver at once on the posting thread */

int tf_server_post(tf_thread_t *thr, tf_post_fn fn, void *arg)
{
    if (threaded) {
        fn(arg, 1);
        return 0;
    }
    if (loop_ending) {
        fn(arg, 0);
        return -1;
    }
    box[nbox].fn = fn;
    box[nbox].arg = arg;
    box[nbox].thr = thr;
    nbox++;
    return 0;
}

/* Runs every queued message (alive), in posting order. */
static void run_box(void)
{
    while (nbox > 0) {
        tf_post_fn fn = box[0].fn;
        void *arg = box[0].arg;
        memmove(box, box + 1, (nbox - 1) * sizeof(box[0]));
        nbox--;
        fn(arg, 1);
    }
}

/* --- waiters ------------------------------------------------------------------- */

static char order[64];
static size_t norder;

typedef struct who {
    char name;
    tf_admit_wait_t *w;
    int granted;
} who_t;

static void on_granted(void *ud)
{
    who_t *x = ud;
    x->granted++;
    x->w = NULL; /* the handle is gone once the callback runs */
    order[norder++] = x->name;
    order[norder] = '\0';
}

static int enter(tf_admit_t *a, unsigned cap, int prio, who_t *x)
{
    return tf_admit_enter(a, cap, prio, NULL, on_granted, x, &x->w);
}

static tf_admit_view_t seen;
static void grab(void *ctx, const tf_admit_view_t *v)
{
    if (strcmp(v->key, ctx) == 0)
        seen = *v;
}
static const tf_admit_view_t *view(const char *key)
{
    memset(&seen, 0, sizeof(seen));
    tf_admit_each(grab, (void *)key);
    return &seen;
}

/* --- threads ------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 1000
static tf_admit_t *tg;
static int in_use, max_in_use, over;
static pthread_mutex_t use_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct tw {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
} tw_t;

static void t_granted(void *ud)
{
    tw_t *t = ud;
    pthread_mutex_lock(&t->mu);
    t->go = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void *worker(void *arg)
{
    tw_t t;
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    for (int i = 0; i < ROUNDS; i++) {
        tf_admit_wait_t *w;
        t.go = 0;
        if (tf_admit_enter(tg, 2, (i + (int)(long)arg) % 3 == 0, NULL, t_granted, &t, &w) == TF_ADMIT_QUEUED) {
            pthread_mutex_lock(&t.mu);
            while (!t.go)
                pthread_cond_wait(&t.cv, &t.mu);
            pthread_mutex_unlock(&t.mu);
        }
        pthread_mutex_lock(&use_mu);
        if (++in_use > max_in_use)
            max_in_use = in_use;
        over |= in_use > 2;
        pthread_mutex_unlock(&use_mu);
        usleep(20); /* hold the slot a moment: others queue */
        pthread_mutex_lock(&use_mu);
        in_use--;
        pthread_mutex_unlock(&use_mu);
        tf_admit_leave(tg);
    }
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
    return NULL;
}

int main(void)
{
    /* --- priority before FIFO -------------------------------------------------- */
    tf_admit_t *a = tf_admit_get("test/a");
    ok(a == tf_admit_get("test/a") && a != tf_admit_get("test/b"), "one gate per key");
    who_t h = {'h', NULL, 0}, n1 = {'1', NULL, 0}, n2 = {'2', NULL, 0}, n3 = {'3', NULL, 0}, p1 = {'A', NULL, 0},
          p2 = {'B', NULL, 0};
    ok(enter(a, 1, 0, &h) == TF_ADMIT_NOW && h.w == NULL, "under the cap: admitted at once");
    ok(enter(a, 1, 0, &n1) == TF_ADMIT_QUEUED && n1.w != NULL, "at the cap: queued");
    enter(a, 1, 0, &n2);
    enter(a, 1, 1, &p1);
    enter(a, 1, 0, &n3);
    enter(a, 1, 1, &p2);
    const tf_admit_view_t *v = view("test/a");
    ok(v->inflight == 1 && v->waiting[0] == 3 && v->waiting[1] == 2 && v->cap == 1, "view: 1 in flight, 3 + 2 waiting (%u %u %u)",
       v->inflight, v->waiting[0], v->waiting[1]);
    for (int i = 0; i < 5; i++) {
        tf_admit_leave(a);
        ok(nbox == 1, "leave %d: one grant posted, nothing run on the leaving thread (%zu)", i + 1, nbox);
        run_box();
    }
    ok(strcmp(order, "AB123") == 0, "priority waiters first, FIFO within each class: %s", order);
    v = view("test/a");
    ok(v->inflight == 1 && v->waiting[0] == 0 && v->waiting[1] == 0, "the last one holds the slot");
    ok(v->queued[0] == 3 && v->queued[1] == 2 && v->granted == 5, "counters: queued 3 + 2, granted 5");
    tf_admit_leave(a);
    ok(view("test/a")->inflight == 0 && nbox == 0, "free again, nothing posted");

    /* --- cancel while queued --------------------------------------------------- */
    norder = 0;
    order[0] = '\0';
    who_t c1 = {'x', NULL, 0}, c2 = {'y', NULL, 0};
    enter(a, 1, 0, &h);
    enter(a, 1, 1, &c1);
    enter(a, 1, 0, &c2);
    tf_admit_cancel(c1.w, TF_ADMIT_GONE);
    c1.w = NULL;
    v = view("test/a");
    ok(v->waiting[1] == 0 && v->waiting[0] == 1 && v->gone == 1, "a queued waiter that leaves is removed");
    tf_admit_leave(a);
    run_box();
    ok(strcmp(order, "y") == 0 && c1.granted == 0, "the next one gets the slot; the gone one is never called (%s)", order);

    /* --- cancel after the grant was posted ---------------------------------------- */
    norder = 0;
    who_t d1 = {'d', NULL, 0}, d2 = {'e', NULL, 0};
    enter(a, 1, 0, &d1);
    enter(a, 1, 0, &d2);
    tf_admit_leave(a); /* y's call ends: d granted, message on its way */
    ok(nbox == 1 && view("test/a")->inflight == 1, "granted: the slot is counted while the message travels");
    tf_admit_cancel(d1.w, TF_ADMIT_TIMEOUT); /* d timed out before the message arrived */
    d1.w = NULL;
    run_box(); /* d's message: passes the slot on, then e's message */
    run_box();
    ok(d1.granted == 0 && d2.granted == 1 && strcmp(order, "e") == 0, "a waiter that gave up after its grant: the slot passes on (%s)",
       order);
    v = view("test/a");
    ok(v->inflight == 1 && v->timeouts == 1, "one in flight (e), one timeout counted");
    tf_admit_leave(a);
    ok(view("test/a")->inflight == 0, "free again");

    /* --- the waiter's loop is ending -------------------------------------------- */
    who_t l1 = {'l', NULL, 0}, l2 = {'m', NULL, 0};
    enter(a, 1, 0, &h);
    enter(a, 1, 0, &l1);
    loop_ending = 1;
    tf_admit_leave(a); /* l's post fails: deliver(.., 0) at once */
    loop_ending = 0;
    ok(l1.granted == 0 && view("test/a")->inflight == 0, "a grant its loop cannot take is given back");
    ok(enter(a, 1, 0, &l2) == TF_ADMIT_NOW, "  ... and the next caller is admitted");
    tf_admit_cancel(l1.w, TF_ADMIT_GONE); /* the owner lets go later: frees it (ASan: no leak, no double free) */
    l1.w = NULL;
    tf_admit_leave(a);

    /* --- a reload raises the cap ----------------------------------------------- */
    norder = 0;
    order[0] = '\0';
    who_t r1 = {'r', NULL, 0}, r2 = {'s', NULL, 0}, r3 = {'t', NULL, 0};
    enter(a, 1, 0, &h);
    enter(a, 1, 0, &r1);
    ok(enter(a, 3, 0, &r2) == TF_ADMIT_NOW, "cap 1 -> 3: the newcomer fits after the one waiting before it");
    run_box();
    ok(strcmp(order, "r") == 0 && view("test/a")->inflight == 3, "  ... which was granted first (%s)", order);
    ok(enter(a, 3, 0, &r3) == TF_ADMIT_QUEUED, "cap 3 reached: queued");
    tf_admit_cancel(r3.w, TF_ADMIT_GONE);
    for (int i = 0; i < 3; i++)
        tf_admit_leave(a);
    ok(view("test/a")->inflight == 0 && nbox == 0, "all slots back");

    /* --- a double leave is a bug, caught: the process aborts ---------------------- */
    {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            freopen("/dev/null", "w", stderr); /* the assertion message is expected */
            tf_admit_t *d = tf_admit_get("test/double");
            tf_admit_wait_t *w;
            tf_admit_enter(d, 1, 0, NULL, NULL, NULL, &w);
            tf_admit_leave(d);
            tf_admit_leave(d);
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a second leave for one slot aborts (status %d), not absorbed", st);
    }

    /* --- threads ----------------------------------------------------------------- */
    threaded = 1;
    tg = tf_admit_get("test/threads");
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    v = view("test/threads");
    ok(!over && max_in_use <= 2, "%d threads x %d calls, cap 2: never more than 2 at once (max %d)", THREADS, ROUNDS, max_in_use);
    ok(v->inflight == 0 && v->waiting[0] + v->waiting[1] == 0, "every slot returned, nobody left waiting");
    ok(v->granted == v->queued[0] + v->queued[1] && v->granted > 100, "every waiter granted (%llu of %llu)", (unsigned long long)v->granted,
       (unsigned long long)(v->queued[0] + v->queued[1]));

    return tap_end();
}
