/*
 * tf_curl.c - see tf_curl.h.
 */
#include "tf_curl.h"
#include "tf_clock.h"
#include "tf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct sock_ctx {
    tf_curl_t *c;
    curl_socket_t s;
    h2o_socket_t *sock; /* wraps a dup of s */
    int want_write;
    int dead;           /* curl is done with s; closed on the next tick */
    int idle;           /* curl watches nothing on s (a kept-alive connection) */
    int corked;         /* TCP_CORK set for the duration of one curl call (cork_run) */
    int repoke;         /* HTTP/2 answers came in on it: run curl on it again (on_repoke); 2: next round */
    struct sock_ctx *next_dead;
    h2o_linklist_t live; /* in tf_curl.live until buried */
} sock_ctx_t;

struct tf_curl_req {
    tf_curl_t *c;
    CURL *easy;
    tf_curl_done_fn done;
    tf_curl_data_fn data; /* streaming: 2xx bytes go here, not into body */
    void *ud;
    char *body;
    size_t len, cap, max;
    int cancelled, finished;
    int paused;           /* the data callback said TF_CURL_PAUSE: curl holds the bytes */
    int h2;               /* 0: not known yet, 1: its answer comes over HTTP/2, 2: not */
    void (*release)(void *); /* tf_curl_attach */
    void *release_arg;
    struct tf_curl_req *next_dead;
    h2o_linklist_t link; /* in tf_curl.reqs while added to the multi handle */
    tf_curl_t *h2c_home; /* whose h2c table h2c_origin indexes (the thread's h2c tf_curl_t) */
    int h2c_origin;      /* index there when tf_curl_h2c_prepare chose for it, else -1 */
    int h2c_role;        /* H2C_* */
};

/* tf_curl_h2c_prepare's state per cleartext origin (a node key). */
typedef struct h2c_origin {
    char key[128];
    int upgraded;              /* a call here completed over HTTP/2: others may join */
    int probing;               /* a call here is upgrading a connection now */
    uint64_t refused_until_ns; /* it answered a probe over HTTP/1.1: no probe before then */
    unsigned calls;            /* calls to it in flight on this thread, over either protocol */
} h2c_origin_t;

/* How long an origin that ignored the upgrade is called over HTTP/1.1
 * before it is asked again (it may be restarted with h2c on). */
#define H2C_RETRY_NS (60ull * 1000000000ull)

enum { H2C_H1, H2C_PROBE, H2C_JOIN };

struct tf_curl {
    h2o_loop_t *loop;
    CURLM *multi;
    h2o_socket_t *timer;  /* timerfd */
    uint64_t armed_ns;    /* when the timerfd fires, 0 when not armed */
    h2o_timeout_t zero;   /* "next tick" for deferred work */
    h2o_timeout_entry_t zero_entry;
    h2o_timeout_entry_t kick_entry; /* curl's "timeout 0": run it next tick, no timerfd */
    h2o_timeout_entry_t repoke_entry; /* on_repoke */
    int h2_read;                      /* a transfer got HTTP/2 answer bytes during this curl call */
    uint64_t turn_ms;                 /* the loop's clock when zero_runs started counting */
    unsigned zero_runs;               /* kicks and repokes run since (zero_run_allowed) */
    int repoke_deferred;              /* a repoke waits for the timerfd (on_timer) */
    sock_ctx_t *dead_socks;
    tf_curl_req_t *dead_reqs;
    h2o_linklist_t reqs;
    size_t active;
    h2o_linklist_t live; /* every socket curl has open */
    size_t nlive;
    int joins;           /* HTTP/2 streams started since curl last ran (cork_run) */
    /* curl's descriptor -> our wrapper, for as long as curl keeps the socket
     * open (CURLOPT_CLOSESOCKETFUNCTION), so a kept-alive connection is not
     * dup'ed, registered and closed again for every transfer. */
    sock_ctx_t **byfd;
    size_t nbyfd;
    int closing; /* tf_curl_destroy: the tick is gone */
    CURL *spare[64]; /* easy handles kept for reuse (curl_easy_reset) */
    size_t nspare;
    h2c_origin_t *h2c;
    size_t nh2c;
    /* tf_curl_h2c_prepare's choice, taken up by tf_curl_start of that easy
     * handle on this tf_curl_t (the h2c one, or the thread's general one for
     * HTTP/1.1); the choice's origin is in h2c_home's table */
    CURL *h2c_easy;
    tf_curl_t *h2c_home;
    int h2c_origin, h2c_role;
};

static void schedule_tick(tf_curl_t *c)
{
    if (!c->closing && !h2o_timeout_is_linked(&c->zero_entry))
        h2o_timeout_link(c->loop, &c->zero, &c->zero_entry);
}

static void req_free(tf_curl_req_t *r)
{
    /* An easy handle costs a few KB of setup: reset and keep it. */
    if (!r->c->closing && r->c->nspare < sizeof(r->c->spare) / sizeof(r->c->spare[0])) {
        curl_easy_reset(r->easy);
        r->c->spare[r->c->nspare++] = r->easy;
    } else {
        curl_easy_cleanup(r->easy);
    }
    if (r->release != NULL) /* the handle no longer points at it */
        r->release(r->release_arg);
    free(r->body);
    free(r);
}

/* What a finished or dropped call tells about its origin's HTTP/2. */
static void h2c_done(tf_curl_t *c, tf_curl_req_t *r, CURLcode rc)
{
    if (r->h2c_origin < 0)
        return;
    h2c_origin_t *o = &r->h2c_home->h2c[r->h2c_origin];
    int role = r->h2c_role;
    r->h2c_origin = -1;
    o->calls--;
    if (role == H2C_H1)
        return; /* asked for HTTP/1.1: tells nothing about the origin's HTTP/2 */
    long v = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &v);
    if (role == H2C_PROBE)
        o->probing = 0;
    if (rc == CURLE_OK && v != CURL_HTTP_VERSION_2_0) {
        /* Answered over HTTP/1.1: a probe whose upgrade was ignored, or a
         * join that found no HTTP/2 connection (the upstream restarted
         * without h2c) and asked on a new one. */
        o->upgraded = 0;
        o->refused_until_ns = tf_now_ns() + H2C_RETRY_NS;
        tf_log(TF_LOG_WARN, "upstream", NULL, "%s has http2: h2c but answered the upgrade over HTTP/1.1; calling it over HTTP/1.1 for %llu s",
               o->key, H2C_RETRY_NS / 1000000000ull);
    } else if (role == H2C_PROBE) {
        o->upgraded = rc == CURLE_OK;
    } else if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
        /* A join failed: the shared connection may be gone (a failure, or
         * our own close of a cancelled call's connection): the next call
         * upgrades anew. */
        o->upgraded = 0;
    }
}

/* Reports finished transfers; never called from inside a curl callback. */
static void check_done(tf_curl_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        tf_curl_req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = m->data.result;
        h2c_done(c, r, rc);
        curl_multi_remove_handle(c->multi, r->easy);
        h2o_linklist_unlink(&r->link);
        c->active--;
        r->finished = 1;
        if (r->cancelled)
            continue; /* on the tick's list, which frees it */
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        r->done(r->ud, rc, status, r->body != NULL ? r->body : "", r->len);
        req_free(r);
    }
}

static void on_writable(h2o_socket_t *sock, const char *err);

/*
 * curl 7.88 sends a new HTTP/2 stream's HEADERS and its body's DATA in two
 * send() calls. On a connection to the same host (or a VM's virtual
 * network) each send runs the receiver's whole TCP path and the first wakes
 * it for half a request: measured ~15 µs of the gateway's time per streamed
 * chat at concurrency 1. While curl starts streams on an existing HTTP/2
 * connection, its sockets are corked, and uncorking sends both frames in
 * one segment. Only for few sockets (an h2c handle has one or two per
 * origin): two setsockopt calls each. Uncorking pushes at once, so nothing
 * is held past this call.
 */
#define CORK_MAX_SOCKETS 8

static void cork_all(tf_curl_t *c, int on)
{
    for (h2o_linklist_t *n = c->live.next; n != &c->live; n = n->next) {
        sock_ctx_t *x = H2O_STRUCT_FROM_MEMBER(sock_ctx_t, live, n);
        if (x->corked == on)
            continue;
        int v = on;
        if (setsockopt(x->s, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) == 0)
            x->corked = on;
    }
}

static void cork_run(tf_curl_t *c, curl_socket_t s, int what)
{
    int running;
    int cork = c->joins > 0 && c->nlive <= CORK_MAX_SOCKETS;
    c->joins = 0;
    if (cork)
        cork_all(c, 1);
    curl_multi_socket_action(c->multi, s, what, &running);
    if (cork)
        cork_all(c, 0); /* curl may have closed some: those left the list */
}

static void arm(tf_curl_t *c, long timeout_ms);

/*
 * Zero-delay runs - curl's "run now" (on_kick) and the HTTP/2 repokes - are
 * h2o timeouts of 0 ms, and h2o 2.2.5 runs one linked while it runs the
 * others in the same pass: a chain of them never goes back to the poll. A
 * provider that always had more to give kept its thread in that chain for
 * the whole answer: no other socket served, no timer run (the stream's own
 * flush timer included, so a slow client's bytes piled up unsent: 65 MB
 * for a 300,000-token answer under ASan). So at most ZERO_RUNS_PER_TURN of
 * them run per loop turn (per tick of the loop's clock); the next one waits
 * for the timerfd, set to fire at once, so the loop polls first.
 */
#define ZERO_RUNS_PER_TURN 16

static int zero_run_allowed(tf_curl_t *c)
{
    uint64_t now = h2o_now(c->loop);
    if (c->turn_ms != now) {
        c->turn_ms = now;
        c->zero_runs = 0;
    }
    return c->zero_runs < ZERO_RUNS_PER_TURN;
}

/* curl wants to run now: this turn while allowed, else the next. */
static void kick_soon(tf_curl_t *c)
{
    if (c->closing || h2o_timeout_is_linked(&c->kick_entry))
        return;
    if (zero_run_allowed(c))
        h2o_timeout_link(c->loop, &c->zero, &c->kick_entry);
    else
        arm(c, 0);
}

/*
 * curl 7.88 can leave HTTP/2 answer bytes it has read with no call coming
 * to hand them over: when a stream's buffer fills while another stream is
 * being read, nghttp2 is paused and that stream marked "drained" but not
 * scheduled, and the rest of what was read waits behind it. With no more
 * bytes arriving on the socket, the streams stalled until curl's next
 * timer for one of them: the connect timeout, 3 s, measured on 64-token
 * answers at 4 concurrent streams (fixed in curl 8.x). So after a call in
 * which HTTP/2 bytes came in on a socket, curl runs on that socket once
 * more in the same loop turn (every transfer on it gets a turn), and again
 * while that hands over more, within ZERO_RUNS_PER_TURN.
 */
static void repoke_later(tf_curl_t *c, sock_ctx_t *x)
{
    x->repoke = 1;
    if (c->closing || h2o_timeout_is_linked(&c->repoke_entry))
        return;
    if (zero_run_allowed(c)) {
        h2o_timeout_link(c->loop, &c->zero, &c->repoke_entry);
    } else {
        c->repoke_deferred = 1;
        arm(c, 0);
    }
}

static void on_repoke(h2o_timeout_entry_t *entry)
{
    tf_curl_t *c = H2O_STRUCT_FROM_MEMBER(tf_curl_t, repoke_entry, entry);
    int again = 0;
    c->zero_runs++;
    for (;;) {
        /* From the head each time: curl may close sockets (bury unlinks them). */
        sock_ctx_t *x = NULL;
        for (h2o_linklist_t *n = c->live.next; n != &c->live && x == NULL; n = n->next) {
            sock_ctx_t *y = H2O_STRUCT_FROM_MEMBER(sock_ctx_t, live, n);
            if (y->repoke == 1)
                x = y;
        }
        if (x == NULL)
            break;
        x->repoke = 0;
        c->h2_read = 0;
        cork_run(c, x->s, CURL_CSELECT_IN);
        if (c->h2_read && !x->dead) {
            x->repoke = 2; /* handed over more: another round after this one */
            again = 1;
        }
    }
    if (again)
        for (h2o_linklist_t *n = c->live.next; n != &c->live; n = n->next) {
            sock_ctx_t *y = H2O_STRUCT_FROM_MEMBER(sock_ctx_t, live, n);
            if (y->repoke == 2)
                repoke_later(c, y);
        }
    check_done(c);
}

static void action(tf_curl_t *c, sock_ctx_t *x, int what)
{
    c->h2_read = 0;
    cork_run(c, x->s, what);
    if (c->h2_read && !x->dead)
        repoke_later(c, x);
    /* notify_write is one-shot in h2o 2.2: re-arm while curl wants it. */
    if (!x->dead && x->want_write && !h2o_socket_is_writing(x->sock))
        h2o_socket_notify_write(x->sock, on_writable);
    check_done(c);
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    sock_ctx_t *x = sock->data;
    if (x->idle) {
        /* An idle connection spoke (the server closed it): stop watching
         * until curl wants it again; curl checks it before reuse. */
        h2o_socket_read_stop(x->sock);
        return;
    }
    if (!x->dead)
        action(x->c, x, err != NULL ? CURL_CSELECT_ERR : CURL_CSELECT_IN);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    sock_ctx_t *x = sock->data;
    if (!x->dead)
        action(x->c, x, err != NULL ? CURL_CSELECT_ERR : CURL_CSELECT_OUT);
}

static void bury(tf_curl_t *c, sock_ctx_t *x)
{
    /* We may be inside this socket's own callback: close on the next tick. */
    h2o_socket_read_stop(x->sock);
    x->dead = 1;
    h2o_linklist_unlink(&x->live);
    c->nlive--;
    x->next_dead = c->dead_socks;
    c->dead_socks = x;
    schedule_tick(c);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    tf_curl_t *c = userp;
    sock_ctx_t *x = socketp;
    if (x == NULL && s >= 0 && (size_t)s < c->nbyfd)
        x = c->byfd[s];
    if (what == CURL_POLL_REMOVE) {
        /* Idle (back in curl's connection cache) or about to close: stop
         * watching; the wrapper stays until curl closes the socket. */
        /* Reading stays on (an epoll_ctl pair per transfer saved); an idle
         * socket that turns readable is stopped in on_readable. */
        if (x != NULL) {
            x->idle = 1;
            x->want_write = 0;
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    if (x == NULL) {
        int fd = fcntl(s, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        x = calloc(1, sizeof(*x));
        x->c = c;
        x->s = s;
        x->sock = h2o_evloop_socket_create(c->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        x->sock->data = x;
        h2o_linklist_insert(&c->live, &x->live);
        c->nlive++;
        if ((size_t)s >= c->nbyfd) {
            size_t n = (size_t)s * 2 + 64;
            c->byfd = realloc(c->byfd, n * sizeof(*c->byfd));
            memset(c->byfd + c->nbyfd, 0, (n - c->nbyfd) * sizeof(*c->byfd));
            c->nbyfd = n;
        }
        c->byfd[s] = x;
    }
    curl_multi_assign(c->multi, s, x);
    x->idle = 0;
    /* Readable while curl only writes is harmless (curl reads an early
     * answer); keeping reads on avoids an epoll_ctl per direction change. */
    h2o_socket_read_start(x->sock, on_readable);
    x->want_write = what == CURL_POLL_OUT || what == CURL_POLL_INOUT;
    if (x->want_write && !h2o_socket_is_writing(x->sock))
        h2o_socket_notify_write(x->sock, on_writable);
    return 0;
}

/* curl closes a socket (CURLOPT_CLOSESOCKETFUNCTION): our dup goes too. */
static int close_cb(void *clientp, curl_socket_t s)
{
    tf_curl_t *c = clientp;
    if (s >= 0 && (size_t)s < c->nbyfd && c->byfd[s] != NULL) {
        bury(c, c->byfd[s]);
        c->byfd[s] = NULL;
    }
    return close(s);
}

/*
 * curl moves its timer on nearly every call, and each timerfd_settime is a
 * kernel hrtimer update (it was 15% of the gateway's CPU under load). So
 * the timerfd is only moved earlier, never later or off: waking too early
 * costs one cheap curl_multi_socket_action, after which on_timer asks curl
 * for its real next timeout (curl does not repeat an unchanged one).
 */
static void arm(tf_curl_t *c, long timeout_ms)
{
    uint64_t now = tf_now_ns(), at = now + (uint64_t)timeout_ms * 1000000ull;
    if (c->closing)
        return;
    /* Armed to fire no later (perhaps already due, not yet read): keep it.
     * Setting it later would drop a due expiry, such as a kick or repoke
     * deferred to the next turn (kick_soon, repoke_later). */
    if (c->armed_ns != 0 && c->armed_ns <= at)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    /* 0 means "soon", never "now from inside this callback". */
    its.it_value.tv_sec = timeout_ms / 1000;
    its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L;
    if (timeout_ms == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(h2o_socket_get_fd(c->timer), 0, &its, NULL);
    c->armed_ns = at;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    tf_curl_t *c = userp;
    if (timeout_ms == 0) {
        kick_soon(c);
    } else if (timeout_ms > 0) {
        arm(c, timeout_ms);
    }
    return 0;
}

static void run_timeouts(tf_curl_t *c)
{
    c->h2_read = 0;
    cork_run(c, CURL_SOCKET_TIMEOUT, 0);
    /* Read on some socket: which one, curl does not say. Not the idle ones
     * (kept-alive connections no transfer uses: the general handle may hold
     * hundreds, and a kick runs this for every stream's "run now"). */
    if (c->h2_read)
        for (h2o_linklist_t *n = c->live.next; n != &c->live; n = n->next) {
            sock_ctx_t *x = H2O_STRUCT_FROM_MEMBER(sock_ctx_t, live, n);
            if (!x->idle)
                repoke_later(c, x);
        }
    long next = -1;
    curl_multi_timeout(c->multi, &next);
    if (next > 0)
        arm(c, next);
    else if (next == 0)
        kick_soon(c);
    check_done(c);
}

static void on_kick(h2o_timeout_entry_t *entry)
{
    tf_curl_t *c = H2O_STRUCT_FROM_MEMBER(tf_curl_t, kick_entry, entry);
    c->zero_runs++;
    run_timeouts(c);
}

static void on_timer(h2o_socket_t *sock, const char *err)
{
    tf_curl_t *c = sock->data;
    uint64_t n;
    if (read(h2o_socket_get_fd(sock), &n, sizeof(n)) < 0 && errno == EAGAIN) {
        /* Nothing to read: the expiry was replaced by a new one. That is
         * only wrong when armed_ns is already due: arm() keeps any expiry
         * no later than the one asked for, so a stale due armed_ns would
         * keep every later one out. Go on as if it fired. */
        if (c->armed_ns == 0 || c->armed_ns > tf_now_ns())
            return;
    }
    c->armed_ns = 0;
    /* A new loop turn: the repoke that waited for it runs in this one. */
    if (c->repoke_deferred && !c->closing) {
        c->repoke_deferred = 0;
        if (!h2o_timeout_is_linked(&c->repoke_entry))
            h2o_timeout_link(c->loop, &c->zero, &c->repoke_entry);
    }
    run_timeouts(c);
}

/* The next tick: close sockets curl dropped, drop cancelled transfers. */
static void on_tick(h2o_timeout_entry_t *entry)
{
    tf_curl_t *c = H2O_STRUCT_FROM_MEMBER(tf_curl_t, zero_entry, entry);
    while (c->dead_socks != NULL) {
        sock_ctx_t *x = c->dead_socks;
        c->dead_socks = x->next_dead;
        h2o_socket_close(x->sock);
        free(x);
    }
    while (c->dead_reqs != NULL) {
        tf_curl_req_t *r = c->dead_reqs;
        c->dead_reqs = r->next_dead;
        if (!r->finished) {
            h2c_done(c, r, CURLE_ABORTED_BY_CALLBACK);
            /* An HTTP/2 stream's RST_STREAM waits in curl 7.88's output
             * buffer until the connection next reads or sends, so upstream
             * would go on answering nobody. Forbidding reuse makes curl
             * close the connection when no other stream uses it (HTTP/1.1
             * closes it anyway); when others do, their next read sends it. */
            curl_easy_setopt(r->easy, CURLOPT_FORBID_REUSE, 1L);
            curl_multi_remove_handle(c->multi, r->easy);
            h2o_linklist_unlink(&r->link);
            c->active--;
        }
        req_free(r);
    }
    check_done(c);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    tf_curl_req_t *r = ud;
    size_t n = size * nmemb;
    if (r->cancelled)
        return 0; /* abort: nobody wants it */
    if (r->h2 == 0) {
        long v = 0;
        curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &v);
        r->h2 = v == CURL_HTTP_VERSION_2_0 ? 1 : 2;
    }
    if (r->h2 == 1)
        r->c->h2_read = 1; /* see on_repoke */
    if (r->data != NULL) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        /* An error answer is kept whole for the done callback. */
        if (status >= 200 && status < 300) {
            int rc = r->data(r->ud, p, n);
            if (rc == TF_CURL_PAUSE && !r->cancelled) {
                r->paused = 1;
                return CURL_WRITEFUNC_PAUSE; /* curl keeps these bytes and stops reading */
            }
            return rc == 0 && !r->cancelled ? n : 0;
        }
    }
    if (r->len + n > r->max)
        return 0; /* CURLE_WRITE_ERROR */
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        if (r->cap > r->max + 1)
            r->cap = r->max + 1;
        r->body = realloc(r->body, r->cap);
    }
    memcpy(r->body + r->len, p, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

tf_curl_t *tf_curl_create(h2o_loop_t *loop)
{
    tf_curl_t *c = calloc(1, sizeof(*c));
    c->loop = loop;
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* Reuse connections to each provider; HTTP/2 multiplexes when offered. */
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    /* HTTP/1.1 upstreams need a connection per stream in flight (hundreds
     * of slow streams); HTTP/2 ones multiplex over few. Idle ones kept: 256. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4096L);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 256L);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    c->timer = h2o_evloop_socket_create(loop, tfd, H2O_SOCKET_FLAG_DONT_READ);
    c->timer->data = c;
    h2o_socket_read_start(c->timer, on_timer);
    h2o_timeout_init(loop, &c->zero, 0);
    c->zero_entry.cb = on_tick;
    c->kick_entry.cb = on_kick;
    c->repoke_entry.cb = on_repoke;
    h2o_linklist_init_anchor(&c->reqs);
    h2o_linklist_init_anchor(&c->live);
    return c;
}

static int env_proxy = -1;

static void read_env_proxy(void)
{
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    int any = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);
        any |= v != NULL && v[0] != '\0';
    }
    env_proxy = any;
}

static int env_proxy_set(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_env_proxy);
    return env_proxy;
}

CURL *tf_curl_easy(tf_curl_t *c)
{
    CURL *e = c->nspare > 0 ? c->spare[--c->nspare] : curl_easy_init();
    /* With no proxy in the environment, tell curl so: it spares its six
     * getenv calls and their parsing per transfer, with the same outcome.
     * A caller may still set its own CURLOPT_PROXY afterwards. */
    if (e != NULL && !env_proxy_set()) {
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    return e;
}

/* A choice tf_curl_h2c_prepare made for a handle other than `easy` (any,
 * when NULL) was never started: a probe it reserved is released. */
static void h2c_drop_other(tf_curl_t *c, CURL *easy)
{
    if (c->h2c_easy != NULL && c->h2c_easy != easy) {
        if (c->h2c_role == H2C_PROBE)
            c->h2c_home->h2c[c->h2c_origin].probing = 0;
        c->h2c_easy = NULL;
    }
}

tf_curl_req_t *tf_curl_start(tf_curl_t *c, CURL *easy, size_t max_body, tf_curl_done_fn done, void *ud)
{
    tf_curl_req_t *r = calloc(1, sizeof(*r));
    r->c = c;
    r->easy = easy;
    h2c_drop_other(c, easy);
    r->h2c_origin = -1;
    if (c->h2c_easy == easy) {
        r->h2c_home = c->h2c_home;
        r->h2c_origin = c->h2c_origin;
        r->h2c_role = c->h2c_role;
        r->h2c_home->h2c[r->h2c_origin].calls++;
        c->h2c_easy = NULL;
        c->joins += r->h2c_role == H2C_JOIN;
    }
    r->done = done;
    r->ud = ud;
    r->max = max_body;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, c);
    if (curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
        h2c_done(c, r, CURLE_FAILED_INIT);
        req_free(r);
        return NULL;
    }
    h2o_linklist_insert(&c->reqs, &r->link);
    c->active++;
    return r;
}

tf_curl_t *tf_curl_h2c_prepare(tf_curl_t *c, tf_curl_t *h1, CURL *easy, const char *key)
{
    h2c_drop_other(c, NULL);
    h2c_drop_other(h1, NULL);
    size_t i = 0;
    while (i < c->nh2c && strcmp(c->h2c[i].key, key) != 0)
        i++;
    if (i == c->nh2c) {
        h2c_origin_t *n = realloc(c->h2c, (c->nh2c + 1) * sizeof(*n));
        if (n == NULL) {
            curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
            return h1;
        }
        c->h2c = n;
        memset(&c->h2c[i], 0, sizeof(c->h2c[i]));
        snprintf(c->h2c[i].key, sizeof(c->h2c[i].key), "%s", key);
        c->nh2c++;
    }
    h2c_origin_t *o = &c->h2c[i];
    int role;
    if (o->calls == 0)
        role = H2C_H1; /* alone: see tf_curl.h */
    else if (o->upgraded)
        role = H2C_JOIN;
    else
        role = o->probing || tf_now_ns() < o->refused_until_ns ? H2C_H1 : H2C_PROBE;
    tf_curl_t *on = role == H2C_H1 ? h1 : c;
    if (role == H2C_H1) {
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
        if (role == H2C_PROBE) {
            /* On a new connection: one kept alive here may be one that
             * answered over HTTP/1.1, which would mark the bundle "cannot
             * multiplex" again when it answers this probe the same way. */
            o->probing = 1;
            curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        } else {
            curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
        }
    }
    on->h2c_easy = easy;
    on->h2c_home = c;
    on->h2c_origin = (int)i;
    on->h2c_role = role;
    return on;
}

tf_curl_req_t *tf_curl_start_stream(tf_curl_t *c, CURL *easy, size_t max_error_body, tf_curl_data_fn data, tf_curl_done_fn done,
                                    void *ud)
{
    tf_curl_req_t *r = tf_curl_start(c, easy, max_error_body, done, ud);
    if (r != NULL)
        r->data = data;
    return r;
}

void tf_curl_cancel(tf_curl_req_t *r)
{
    if (r->cancelled)
        return;
    r->cancelled = 1;
    r->next_dead = r->c->dead_reqs;
    r->c->dead_reqs = r;
    schedule_tick(r->c);
}

int tf_curl_can_pause(const tf_curl_req_t *r)
{
    return r->h2 == 2;
}

void tf_curl_resume(tf_curl_req_t *r)
{
    if (!r->paused || r->cancelled || r->finished)
        return;
    r->paused = 0;
    /* curl may hand the bytes it kept to the data callback before this
     * returns (which may pause again), and sets a run-now timer for the
     * rest: the transfer goes on from the loop. */
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

void tf_curl_attach(tf_curl_req_t *r, void (*release)(void *), void *arg)
{
    r->release = release;
    r->release_arg = arg;
}

size_t tf_curl_active(const tf_curl_t *c)
{
    return c->active;
}

void tf_curl_destroy(tf_curl_t *c)
{
    /* Drop every transfer (cancelled ones wait on the tick list, the rest
     * are still on the multi handle); curl then reports their sockets as
     * removed, and the tick closes them. */
    on_tick(&c->zero_entry);
    while (!h2o_linklist_is_empty(&c->reqs)) {
        tf_curl_req_t *r = H2O_STRUCT_FROM_MEMBER(tf_curl_req_t, link, c->reqs.next);
        curl_multi_remove_handle(c->multi, r->easy);
        h2o_linklist_unlink(&r->link);
        c->active--;
        req_free(r);
    }
    on_tick(&c->zero_entry);
    if (h2o_timeout_is_linked(&c->zero_entry))
        h2o_timeout_unlink(&c->zero_entry);
    if (h2o_timeout_is_linked(&c->kick_entry))
        h2o_timeout_unlink(&c->kick_entry);
    if (h2o_timeout_is_linked(&c->repoke_entry))
        h2o_timeout_unlink(&c->repoke_entry);
    h2o_timeout_dispose(c->loop, &c->zero);
    c->closing = 1;
    h2o_socket_read_stop(c->timer);
    h2o_socket_close(c->timer);
    /* Closes the cached connections through close_cb, which buries their wrappers. */
    curl_multi_cleanup(c->multi);
    for (size_t i = 0; i < c->nbyfd; i++)
        if (c->byfd[i] != NULL)
            bury(c, c->byfd[i]);
    while (c->dead_socks != NULL) {
        sock_ctx_t *x = c->dead_socks;
        c->dead_socks = x->next_dead;
        h2o_socket_close(x->sock);
        free(x);
    }
    free(c->byfd);
    free(c->h2c);
    while (c->nspare > 0)
        curl_easy_cleanup(c->spare[--c->nspare]);
    free(c);
}
