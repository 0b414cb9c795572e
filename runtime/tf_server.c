/*
 * tf_server.c - see tf_server.h.
 */
#include "tf_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tf_auth.h"
#include "tf_clock.h"
#include "tf_curl.h"
#include "tf_notify.h"
#include "tf_usage.h"
#include "tf_db.h"
#include "tf_http.h"
#include "tf_log.h"
#include "tf_tls.h"
#include "tf_work.h"

#define DRAIN_SECONDS 10

__thread tf_thread_t *tf_thread;

static h2o_globalconf_t globalconf;
static SSL_CTX *ssl_ctx;
static tf_thread_t *threads;
static unsigned nthreads;
static pthread_barrier_t start_barrier;

/* ------------------------------------------------------------------ */
/* Control messages between the main thread and loop threads           */

enum { CTL_CONF_SWAP, CTL_SHUTDOWN, CTL_RELOAD_DONE };

typedef struct ctl_msg {
    h2o_multithread_message_t super;
    int kind;
    tf_conf_t *conf;   /* CTL_CONF_SWAP: a reference for the thread */
    tf_reload_cb cb;   /* CTL_RELOAD_DONE */
    void *ud;
    int ok;
    char text[1024];
} ctl_msg_t;

static void send_ctl(tf_thread_t *thr, ctl_msg_t *m)
{
    h2o_multithread_send_message(&thr->ctl, &m->super);
}

/* Reload requests from loop threads (POST /v1/admin/reload). */
typedef struct reload_req {
    tf_thread_t *origin;
    tf_reload_cb cb;
    void *ud;
    struct reload_req *next;
} reload_req_t;

static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static reload_req_t *reload_queue;
static int reload_efd = -1;

void tf_server_request_reload(tf_reload_cb done, void *ud)
{
    reload_req_t *rr = calloc(1, sizeof(*rr));
    rr->origin = tf_thread;
    rr->cb = done;
    rr->ud = ud;
    pthread_mutex_lock(&reload_mu);
    rr->next = reload_queue;
    reload_queue = rr;
    pthread_mutex_unlock(&reload_mu);
    uint64_t one = 1;
    if (write(reload_efd, &one, sizeof(one)) < 0)
        tf_log(TF_LOG_ERROR, "error", NULL, "cannot wake the main thread for a reload: %m");
}

/* ------------------------------------------------------------------ */
/* Loop-thread side                                                    */

static tf_conf_hold_t *hold_new(tf_conf_t *conf)
{
    tf_conf_hold_t *h = malloc(sizeof(*h));
    h->conf = conf;
    h->users = 1;
    return h;
}

void tf_conf_hold_release(tf_conf_hold_t *h)
{
    if (--h->users == 0) {
        tf_conf_unref(h->conf);
        free(h);
    }
}

static void check_drained(tf_thread_t *thr)
{
    if (thr->shutting_down && thr->nconns == 0)
        thr->exit_loop = 1;
}

static void on_conn_close(void *data)
{
    tf_thread_t *thr = data;
    thr->nconns--;
    tf_metrics_conn(thr->metrics, -1);
    check_drained(thr);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    tf_thread_t *thr = tf_thread;
    if (err != NULL)
        return;
    /* Accept a bounded batch so one busy listener cannot starve the loop. */
    for (int i = 0; i < 32; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        thr->nconns++;
        tf_metrics_conn(thr->metrics, 1);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = thr;
        h2o_accept(listener->data, sock);
    }
}

static void close_listeners(tf_thread_t *thr)
{
    for (size_t i = 0; i < thr->nlisteners; i++) {
        h2o_socket_read_stop(thr->listeners[i]);
        h2o_socket_close(thr->listeners[i]);
    }
    thr->nlisteners = 0;
}

static void publish_db_state(tf_thread_t *thr)
{
    tf_db_stats_t st;
    tf_db_get_stats(thr->db, &st);
    tf_metrics_set_db(thr->metrics, tf_db_is_up(thr->db), st.queries_total, st.errors_total);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    tf_thread_t *thr = H2O_STRUCT_FROM_MEMBER(tf_thread_t, db_stats_tick, entry);
    publish_db_state(thr);
    if (thr->shutting_down && ++thr->drain_ticks >= DRAIN_SECONDS) {
        tf_log(TF_LOG_WARN, "system", NULL, "thread %d: %ld connections still open after %d s; closing", thr->index, thr->nconns,
               DRAIN_SECONDS);
        thr->exit_loop = 1;
        return;
    }
    h2o_timeout_link(thr->ctx.loop, &thr->ctx.one_sec_timeout, &thr->db_stats_tick);
}

static void on_ctl(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    tf_thread_t *thr = tf_thread;
    while (!h2o_linklist_is_empty(messages)) {
        ctl_msg_t *m = H2O_STRUCT_FROM_MEMBER(ctl_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        switch (m->kind) {
        case CTL_CONF_SWAP: {
            tf_conf_hold_t *old = thr->hold;
            thr->hold = hold_new(m->conf);
            thr->conf = m->conf;
            if (strcmp(old->conf->db_url, m->conf->db_url) != 0)
                tf_db_pool_set_conninfo(thr->db, m->conf->db_url);
            tf_conf_hold_release(old); /* freed when its last request ends */
            break;
        }
        case CTL_SHUTDOWN:
            thr->shutting_down = 1;
            close_listeners(thr);
            /* HTTP/1 keep-alive connections close after their current
             * response, HTTP/2 ones get GOAWAY. */
            h2o_context_request_shutdown(&thr->ctx);
            check_drained(thr);
            break;
        case CTL_RELOAD_DONE:
            m->cb(m->ud, m->ok, m->text);
            break;
        }
        free(m);
    }
}

/* ------------------------------------------------------------------ */
/* Calls posted from other threads                                     */

typedef struct post_msg {
    h2o_multithread_message_t super;
    tf_post_fn fn;
    void *arg;
} post_msg_t;

static pthread_mutex_t post_mu = PTHREAD_MUTEX_INITIALIZER;

int tf_server_post(tf_thread_t *thr, tf_post_fn fn, void *arg)
{
    post_msg_t *m = malloc(sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->fn = fn;
    m->arg = arg;
    pthread_mutex_lock(&post_mu);
    int open = thr->calls_open;
    if (open)
        h2o_multithread_send_message(&thr->calls, &m->super);
    pthread_mutex_unlock(&post_mu);
    if (!open) {
        fn(arg, 0);
        free(m);
        return -1;
    }
    return 0;
}

static void on_posted(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        post_msg_t *m = H2O_STRUCT_FROM_MEMBER(post_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        m->fn(m->arg, !tf_thread->exit_loop);
        free(m);
    }
}

static int open_listener(const tf_conf_listen_t *l, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, l->address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)l->port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, l->address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)l->port);
        sl = sizeof(*sin6);
    } else {
        snprintf(err, errlen, "listen %s:%u: not an IPv4 or IPv6 address", l->address, l->port);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen %s:%u: %s", l->address, l->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

typedef struct thread_start {
    tf_thread_t *thr;
    int fds[TF_MAX_LISTEN];
    int tls[TF_MAX_LISTEN];
    size_t nfds;
} thread_start_t;

/*
 * Busy polling (conf busy_poll_us). A sleeping thread is woken by the
 * kernel when its next event arrives, and on a VM that wake-up (an
 * inter-processor interrupt and a halt exit) costs tens of microseconds:
 * more than the gateway's own work on a chat. A chat waits twice (for the
 * upstream's answer, then for the client's next request), so after an
 * iteration that handled events the loop keeps polling epoll without a
 * timeout for busy_poll_us before it sleeps again. Idle threads sleep as
 * before; a busy thread never sleeps anyway; the cost is at most
 * busy_poll_us of CPU after each burst of activity.
 *
 * "Handled events" is read from h2o's own bookkeeping: the evloop starts
 * exec_time_counter when epoll returned events and stops it at the end of
 * the iteration, which advances prev.index (h2o/socket.h, 2.2.5).
 */
static int run_once(tf_thread_t *thr, uint64_t *poll_until)
{
    h2o_loop_t *loop = thr->ctx.loop;
    size_t seen = loop->exec_time_counter.prev.index;
    int32_t wait = *poll_until != 0 && tf_now_ns() < *poll_until ? 0 : INT32_MAX;
    int rc = h2o_evloop_run(loop, wait);
    /* HTTP/2 writes wait on the context's zero timeout, which h2o runs
     * first among the loop's timeouts. An answer finished from one of our
     * own zero timers (curl's "run now", a chat's flush) comes after it and
     * would wait for the next turn: one more epoll_wait, and the log write,
     * before the client sees its last bytes. Write it now. */
    if (rc == 0)
        h2o_timeout_run(loop, &thr->ctx.zero_timeout, h2o_now(loop));
    if (loop->exec_time_counter.prev.index != seen && thr->conf->busy_poll_us != 0)
        *poll_until = tf_now_ns() + (uint64_t)thr->conf->busy_poll_us * 1000u;
    return rc;
}

static void *thread_main(void *arg)
{
    thread_start_t *ts = arg;
    tf_thread_t *thr = ts->thr;
    tf_thread = thr;
    thr->hold = hold_new(thr->conf);
    h2o_context_init(&thr->ctx, h2o_evloop_create(), &globalconf);
    thr->accept_plain.ctx = &thr->ctx;
    thr->accept_plain.hosts = globalconf.hosts;
    thr->accept_tls = thr->accept_plain;
    thr->accept_tls.ssl_ctx = ssl_ctx;
    h2o_multithread_register_receiver(thr->ctx.queue, &thr->ctl, on_ctl);
    tf_work_register_loop(thr->ctx.queue, &thr->work);
    h2o_multithread_register_receiver(thr->ctx.queue, &thr->calls, on_posted);
    pthread_mutex_lock(&post_mu);
    thr->calls_open = 1;
    pthread_mutex_unlock(&post_mu);
    thr->metrics = tf_metrics_thread_new();
    thr->db = tf_db_pool_create(thr->ctx.loop, thr->conf->db_url, (int)thr->conf->db_connections_per_thread);
    thr->curl = tf_curl_create(thr->ctx.loop);
    thr->curl_h2c = tf_curl_create(thr->ctx.loop);
    thr->usage = tf_usage_batch_create(thr->ctx.loop, thr->db);
    for (size_t i = 0; i < ts->nfds; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_create(thr->ctx.loop, ts->fds[i], H2O_SOCKET_FLAG_DONT_READ);
        sock->data = ts->tls[i] ? &thr->accept_tls : &thr->accept_plain;
        h2o_socket_read_start(sock, on_accept);
        thr->listeners[thr->nlisteners++] = sock;
    }
    free(ts);
    thr->db_stats_tick.cb = on_tick;
    h2o_timeout_link(thr->ctx.loop, &thr->ctx.one_sec_timeout, &thr->db_stats_tick);

    pthread_barrier_wait(&start_barrier);
    tf_log_thread_buffered(1);
    /* h2o_evloop_run returns after each iteration: flush the lines that
     * iteration produced in one write. */
    uint64_t poll_until = 0;
    while (!thr->exit_loop) {
        int rc = run_once(thr, &poll_until);
        tf_log_flush();
        if (rc != 0 && errno != EINTR) {
            tf_log(TF_LOG_ERROR, "error", NULL, "thread %d: event loop failed: %m", thr->index);
            break;
        }
    }
    if (h2o_timeout_is_linked(&thr->db_stats_tick))
        h2o_timeout_unlink(&thr->db_stats_tick);
    /* No more posts; those already queued run (with alive = 0) in one last turn. */
    pthread_mutex_lock(&post_mu);
    thr->calls_open = 0;
    pthread_mutex_unlock(&post_mu);
    h2o_evloop_run(thr->ctx.loop, 0);
    h2o_multithread_unregister_receiver(thr->ctx.queue, &thr->calls);
    close_listeners(thr);
    /* curl first: its HTTP/1.1 calls to h2c nodes count in curl_h2c's table. */
    tf_curl_destroy(thr->curl);
    thr->curl = NULL;
    tf_curl_destroy(thr->curl_h2c);
    thr->curl_h2c = NULL;
    /* Connections have drained: write the usage still held, then close the pool. */
    tf_usage_batch_destroy(thr->usage, 5000);
    thr->usage = NULL;
    tf_db_pool_destroy(thr->db);
    thr->db = NULL;
    tf_work_unregister_loop(thr->ctx.queue, &thr->work);
    h2o_multithread_unregister_receiver(thr->ctx.queue, &thr->ctl);
    tf_conf_hold_release(thr->hold);
    thr->hold = NULL;
    tf_auth_thread_exit();
    thr->conf = NULL;
    tf_log_thread_buffered(0);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Main-thread side                                                    */

/* The main thread's LISTEN connection (cache invalidations). */
static tf_notify_t *notify;

static void reload(char *msg, size_t msglen, int *ok)
{
    char err[4096];
    tf_conf_t *cur = tf_conf_current();
    tf_conf_t *next = tf_conf_load(cur->path, err, sizeof(err));
    *ok = next != NULL;
    tf_metrics_conf_reload(*ok);
    if (next == NULL) {
        size_t l = strlen(err);
        while (l > 0 && err[l - 1] == '\n')
            err[--l] = '\0';
        tf_log(TF_LOG_ERROR, "error", NULL, "configuration reload refused, keeping generation %llu: %s",
               (unsigned long long)cur->generation, err);
        snprintf(msg, msglen, "%s", err);
        tf_conf_unref(cur);
        return;
    }
    const char *restart = tf_conf_restart_needed(cur, next);
    tf_log_set_level(next->log_level);
    if (strcmp(cur->log_file, next->log_file) != 0 && tf_log_open(next->log_file) != 0)
        tf_log(TF_LOG_ERROR, "error", NULL, "cannot open log file %s: %m; logging stays where it was", next->log_file);
    tf_conf_publish(tf_conf_ref(next));
    if (notify != NULL)
        tf_notify_set_conninfo(notify, next->db_url);
    for (unsigned i = 0; i < nthreads; i++) {
        ctl_msg_t *m = calloc(1, sizeof(*m));
        m->kind = CTL_CONF_SWAP;
        m->conf = tf_conf_ref(next);
        send_ctl(&threads[i], m);
    }
    if (restart != NULL)
        snprintf(msg, msglen, "configuration generation %llu loaded; '%s' changed and takes effect at the next restart",
                 (unsigned long long)next->generation, restart);
    else
        snprintf(msg, msglen, "configuration generation %llu loaded", (unsigned long long)next->generation);
    tf_log(restart != NULL ? TF_LOG_WARN : TF_LOG_INFO, "system", NULL, "%s", msg);
    tf_conf_unref(next);
    tf_conf_unref(cur);
}

static void answer_reload_requests(void)
{
    pthread_mutex_lock(&reload_mu);
    reload_req_t *list = reload_queue;
    reload_queue = NULL;
    pthread_mutex_unlock(&reload_mu);
    if (list == NULL)
        return;
    /* One reload serves every request queued so far. */
    char msg[1024];
    int ok;
    reload(msg, sizeof(msg), &ok);
    while (list != NULL) {
        reload_req_t *rr = list;
        list = rr->next;
        ctl_msg_t *m = calloc(1, sizeof(*m));
        m->kind = CTL_RELOAD_DONE;
        m->cb = rr->cb;
        m->ud = rr->ud;
        m->ok = ok;
        snprintf(m->text, sizeof(m->text), "%s", msg);
        send_ctl(rr->origin, m);
        free(rr);
    }
}

static int setup_globalconf(tf_conf_t *conf)
{
    h2o_config_init(&globalconf);
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("triforce"));
    /* h2o answers bodies over its own cap with a plain 413 (HTTP/1) or a
     * stream reset (HTTP/2); keep its cap above ours so clients get the
     * JSON 413 from the pipeline, yet bounded so memory stays bounded. */
    globalconf.max_request_entity_size = conf->max_body_bytes * 4 + 65536;
    h2o_hostconf_t *host = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    tf_http_register(path);
    return 0;
}

void tf_server_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int tf_server_run(tf_conf_t *conf)
{
    char err[1024];
    setup_globalconf(conf);

    int need_tls = 0;
    for (unsigned i = 0; i < conf->listen_count; i++)
        need_tls |= conf->listen[i].tls;
    if (need_tls &&
        (ssl_ctx = tf_tls_ctx_create(conf->tls_cert_file, conf->tls_key_file, conf->tls_create_self_signed, err, sizeof(err))) ==
            NULL) {
        tf_log(TF_LOG_ERROR, "error", NULL, "TLS: %s", err);
        return 1;
    }

    sigset_t set;
    tf_server_block_signals(&set);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    reload_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    nthreads = conf->threads;
    threads = calloc(nthreads, sizeof(*threads));
    pthread_barrier_init(&start_barrier, NULL, nthreads + 1);
    for (unsigned i = 0; i < nthreads; i++) {
        thread_start_t *ts = calloc(1, sizeof(*ts));
        ts->thr = &threads[i];
        threads[i].index = (int)i;
        threads[i].conf = tf_conf_ref(conf);
        for (unsigned l = 0; l < conf->listen_count && l < TF_MAX_LISTEN; l++) {
            if ((ts->fds[ts->nfds] = open_listener(&conf->listen[l], err, sizeof(err))) < 0) {
                tf_log(TF_LOG_ERROR, "error", NULL, "%s", err);
                return 1;
            }
            ts->tls[ts->nfds++] = conf->listen[l].tls;
        }
        if (pthread_create(&threads[i].tid, NULL, thread_main, ts) != 0) {
            tf_log(TF_LOG_ERROR, "error", NULL, "cannot start thread %u", i);
            return 1;
        }
    }
    pthread_barrier_wait(&start_barrier);
    for (unsigned l = 0; l < conf->listen_count; l++)
        tf_log(TF_LOG_INFO, "system", NULL, "listening on %s%s:%u (%s), %u threads",
               strchr(conf->listen[l].address, ':') ? "[" : "", conf->listen[l].address, conf->listen[l].port,
               conf->listen[l].tls ? "TLS: h2, http/1.1" : "cleartext: http/1.1, h2c", nthreads);

    /* Cache invalidations from other nodes, the CLI or SQL (tf_notify). */
    notify = tf_notify_create(conf->db_url);
    int stopping = 0;
    while (!stopping) {
        struct pollfd pfd[3] = {{.fd = sfd, .events = POLLIN}, {.fd = reload_efd, .events = POLLIN}};
        int timeout = tf_notify_prepare(notify, &pfd[2]);
        int rc = poll(pfd, 3, timeout);
        if (rc > 0)
            tf_notify_handle(notify, &pfd[2]);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            tf_log(TF_LOG_ERROR, "error", NULL, "poll: %m");
            break;
        }
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            if (read(reload_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                tf_log(TF_LOG_ERROR, "error", NULL, "eventfd: %m");
            answer_reload_requests();
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) != sizeof(si))
                continue;
            if (si.ssi_signo == SIGHUP) {
                char msg[1024];
                int ok;
                reload(msg, sizeof(msg), &ok);
            } else {
                tf_log(TF_LOG_INFO, "system", NULL, "%s: draining connections (up to %d s)",
                       si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", DRAIN_SECONDS);
                stopping = 1;
            }
        }
    }
    tf_notify_destroy(notify);
    notify = NULL;
    for (unsigned i = 0; i < nthreads; i++) {
        ctl_msg_t *m = calloc(1, sizeof(*m));
        m->kind = CTL_SHUTDOWN;
        send_ctl(&threads[i], m);
    }
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(threads[i].tid, NULL);
    if (ssl_ctx != NULL)
        SSL_CTX_free(ssl_ctx);
    tf_log(TF_LOG_INFO, "system", NULL, "stopped");
    return 0;
}
