/*
 * tf_db - asynchronous libpq pool on an h2o 2.2 evloop. See tf_db.h.
 *
 * Each connection is a small state machine:
 *
 *   DOWN --tick/reload--> CONNECTING --PQconnectPoll OK--> IDLE <--> BUSY
 *     ^                        |                             |         |
 *     +------ failure, timeout, EOF, FATAL from the server --+---------+
 *
 * One 1 s h2o_timeout_t bucket holds the pool's tick, which retries DOWN
 * connections, times out connects, probes idle connections and times out
 * probes and queries. A 0 ms bucket defers work that must not run inside
 * an API call (failing queued queries calls their callbacks).
 *
 * Callbacks are always made after the connection's state is consistent,
 * because they may queue or cancel queries.
 */
#include "tf_db.h"
#include "tf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tf_db_error_lost = "database connection lost";
const char *tf_db_error_unavailable = "database unavailable";
const char *tf_db_error_timeout = "database query timed out";
const char *tf_db_error_closed = "database pool closed";

enum { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };
enum { Q_QUEUED, Q_RUNNING, Q_DONE };

struct tf_db_query {
    h2o_linklist_t link; /* in pool->queue while Q_QUEUED */
    tf_db_pool_t *pool;
    int state;
    int probe; /* the pool's own keepalive: no callback, not counted */
    tf_db_cb cb;
    void *ud;
    int nparams;
    const char **params; /* point into the same allocation */
    char *sql;
    size_t size; /* of the allocation, to wipe it: params may be secrets */
};

typedef struct tf_db_conn {
    tf_db_pool_t *pool;
    int state;
    PGconn *pg;
    /* h2o's wrapper of a dup of PQsocket; identified by inode because libpq
     * may close and reopen its socket under the same fd number. */
    h2o_socket_t *sock;
    dev_t sock_dev;
    ino_t sock_ino;
    PostgresPollingStatusType poll;
    unsigned gen;   /* pool->gen of the conninfo it connected with */
    int flushing;   /* PQflush returned 1: waiting to write the rest */
    tf_db_query_t *q;
    PGresult *res;  /* the running query's result so far */
    uint64_t since; /* CONNECTING: attempt start; BUSY: sent; IDLE: last activity */
    char fatal[256]; /* a FATAL the server sent before hanging up */
} tf_db_conn_t;

struct tf_db_pool {
    h2o_loop_t *loop;
    char *conninfo;
    unsigned gen;
    int nconns;
    tf_db_conn_t *conns;
    h2o_linklist_t queue;
    size_t queue_len;
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
    h2o_timeout_t defer_timeout;
    h2o_timeout_entry_t defer;
    int closing;
    int was_up;
    tf_db_stats_t st;
    char last_error[512];
};

static void on_read(h2o_socket_t *sock, const char *err);
static void on_write(h2o_socket_t *sock, const char *err);
static void conn_lost(tf_db_conn_t *c, const char *err);

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static uint64_t elapsed(tf_db_pool_t *p, uint64_t since)
{
    uint64_t now = h2o_now(p->loop);
    return now > since ? now - since : 0; /* wall clock may step back */
}

/* Keeps one line of libpq's (often multi-line) message. */
static void set_error(tf_db_pool_t *p, const char *msg)
{
    size_t n = 0;
    int space = 0;
    for (const char *s = msg != NULL ? msg : ""; *s != '\0' && n + 1 < sizeof(p->last_error); s++) {
        if (*s == '\n' || *s == '\t' || *s == '\r' || *s == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < sizeof(p->last_error))
            p->last_error[n++] = ' ';
        space = 0;
        p->last_error[n++] = *s;
    }
    p->last_error[n] = '\0';
}

static int conn_is_up(const tf_db_conn_t *c)
{
    return c->state == CONN_IDLE || c->state == CONN_BUSY;
}

static int all_down(tf_db_pool_t *p)
{
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state != CONN_DOWN)
            return 0;
    return 1;
}

/* Logs up/down transitions of the pool as a whole, once each. */
static void note_state(tf_db_pool_t *p)
{
    int up = tf_db_is_up(p);
    if (up == p->was_up)
        return;
    p->was_up = up;
    if (up)
        tf_log(TF_LOG_INFO, "system", NULL, "database: connected");
    else
        tf_log(TF_LOG_WARN, "error", NULL, "database: no connection left: %s", p->last_error);
}

static void schedule_defer(tf_db_pool_t *p)
{
    if (!p->closing && !h2o_timeout_is_linked(&p->defer))
        h2o_timeout_link(p->loop, &p->defer_timeout, &p->defer);
}

static tf_db_query_t *query_new(tf_db_pool_t *p, const char *sql, int nparams, const char *const *params, tf_db_cb cb, void *ud)
{
    size_t sqllen = strlen(sql) + 1, size = sizeof(tf_db_query_t) + sizeof(char *) * (size_t)nparams + sqllen;
    for (int i = 0; i < nparams; i++)
        if (params[i] != NULL)
            size += strlen(params[i]) + 1;
    tf_db_query_t *q = h2o_mem_alloc(size);
    memset(q, 0, sizeof(*q));
    q->pool = p;
    q->size = size;
    q->cb = cb;
    q->ud = ud;
    q->nparams = nparams;
    q->params = (const char **)(q + 1);
    char *s = (char *)(q->params + nparams);
    q->sql = memcpy(s, sql, sqllen);
    s += sqllen;
    for (int i = 0; i < nparams; i++) {
        if (params[i] == NULL) {
            q->params[i] = NULL;
        } else {
            size_t n = strlen(params[i]) + 1;
            q->params[i] = memcpy(s, params[i], n);
            s += n;
        }
    }
    q->state = Q_QUEUED;
    return q;
}

static void query_free(tf_db_query_t *q)
{
    explicit_bzero(q, q->size);
    free(q);
}

/* Finishes `q`: callback (unless cancelled), accounting, frees both. */
static void complete(tf_db_pool_t *p, tf_db_query_t *q, PGresult *res, const char *err)
{
    if (!q->probe) {
        ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (err != NULL || s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR)
            p->st.errors_total++;
    }
    tf_db_cb cb = q->cb;
    q->cb = NULL;
    q->state = Q_DONE;
    if (cb != NULL)
        cb(q->ud, res, err);
    PQclear(res);
    query_free(q);
}

static void fail_queue(tf_db_pool_t *p, const char *err)
{
    /* One at a time from the front: a callback may cancel other queued
     * queries (they unlink themselves) or try to queue new ones. */
    while (!h2o_linklist_is_empty(&p->queue)) {
        tf_db_query_t *q = H2O_STRUCT_FROM_MEMBER(tf_db_query_t, link, p->queue.next);
        h2o_linklist_unlink(&q->link);
        p->queue_len--;
        complete(p, q, NULL, err);
    }
}

/* ------------------------------------------------------------------ */
/* the socket wrapper                                                  */

static void sock_close(tf_db_conn_t *c)
{
    if (c->sock != NULL) {
        /* Closes our dup only; libpq's own fd stays its business. A pending
         * write notification dies with the wrapper. */
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
}

/* Makes c->sock wrap the socket libpq uses now; 0 or -1. */
static int sync_socket(tf_db_conn_t *c)
{
    int fd = PQsocket(c->pg);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        sock_close(c);
        return -1;
    }
    if (c->sock != NULL && st.st_dev == c->sock_dev && st.st_ino == c->sock_ino)
        return 0;
    sock_close(c);
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0)
        return -1;
    c->sock = h2o_evloop_socket_create(c->pool->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    c->sock_dev = st.st_dev;
    c->sock_ino = st.st_ino;
    return 0;
}

static void want_write(tf_db_conn_t *c)
{
    /* notify_write is one-shot and asserts that none is pending. */
    if (!h2o_socket_is_writing(c->sock))
        h2o_socket_notify_write(c->sock, on_write);
}

/* ------------------------------------------------------------------ */
/* connecting                                                          */

static void conn_close(tf_db_conn_t *c)
{
    sock_close(c);
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    PQclear(c->res);
    c->res = NULL;
    c->flushing = 0;
}

/* The connection is gone: the next tick retries it. No callbacks here. */
static void conn_down(tf_db_conn_t *c)
{
    tf_db_pool_t *p = c->pool;
    conn_close(c);
    c->state = CONN_DOWN;
    note_state(p);
    schedule_defer(p); /* fails the queue if that was the last one */
}

static void fail_connect(tf_db_conn_t *c, const char *msg)
{
    set_error(c->pool, msg);
    conn_down(c);
}

static void on_notice(void *arg, const PGresult *res)
{
    tf_db_conn_t *c = arg;
    /* The server says why before it hangs up ("terminating connection due
     * to administrator command"); keep it for tf_db_last_error. Ordinary
     * notices are of no interest to the pool. */
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (sev != NULL && msg != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        snprintf(c->fatal, sizeof(c->fatal), "%s", msg);
}

/* Waits for what PQconnectPoll asked for. */
static void connect_arm(tf_db_conn_t *c)
{
    if (sync_socket(c) != 0) {
        fail_connect(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->poll == PGRES_POLLING_READING) {
        h2o_socket_read_start(c->sock, on_read);
    } else {
        /* Stop reading, or a readable socket would spin us while libpq
         * wants to write. */
        h2o_socket_read_stop(c->sock);
        want_write(c);
    }
}

static void pump(tf_db_pool_t *p);

static void connected(tf_db_conn_t *c)
{
    tf_db_pool_t *p = c->pool;
    if (sync_socket(c) != 0 || PQsetnonblocking(c->pg, 1) != 0) {
        fail_connect(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = CONN_IDLE;
    c->since = h2o_now(p->loop);
    c->fatal[0] = '\0';
    p->last_error[0] = '\0';
    h2o_socket_read_start(c->sock, on_read);
    note_state(p);
    pump(p);
}

static void connect_step(tf_db_conn_t *c)
{
    c->poll = PQconnectPoll(c->pg);
    switch (c->poll) {
    case PGRES_POLLING_OK:
        connected(c);
        break;
    case PGRES_POLLING_FAILED:
        fail_connect(c, PQerrorMessage(c->pg));
        break;
    default:
        connect_arm(c);
        break;
    }
}

static void start_connect(tf_db_conn_t *c)
{
    tf_db_pool_t *p = c->pool;
    conn_close(c);
    /* dbname is expanded, so conninfo may be "key=value ..." or a URI;
     * the later keywords override it: we need UTF-8 for JSON. */
    const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
    const char *const vals[] = {p->conninfo, "triforce", "UTF8", NULL};
    c->state = CONN_CONNECTING;
    c->gen = p->gen;
    c->since = h2o_now(p->loop);
    c->fatal[0] = '\0';
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (c->pg == NULL) {
        fail_connect(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        fail_connect(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeReceiver(c->pg, on_notice, c);
    /* libpq: "behave as if PQconnectPoll had last returned WRITING". */
    c->poll = PGRES_POLLING_WRITING;
    connect_arm(c);
}

/* ------------------------------------------------------------------ */
/* queries                                                             */

/* Sends q on an idle connection; 0, or -1 with q untouched (not sent). */
static int dispatch(tf_db_conn_t *c, tf_db_query_t *q)
{
    if (!PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, q->params, NULL, NULL, 0))
        return -1;
    int f = PQflush(c->pg);
    if (f < 0)
        return -1;
    /* Nothing is committed before the Sync that ends the message, so a
     * query whose send failed is safe to retry on another connection. */
    c->q = q;
    q->state = Q_RUNNING;
    c->state = CONN_BUSY;
    c->since = h2o_now(c->pool->loop);
    c->flushing = f == 1;
    if (c->flushing)
        want_write(c);
    return 0;
}

static tf_db_conn_t *idle_conn(tf_db_pool_t *p)
{
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state == CONN_IDLE)
            return &p->conns[i];
    return NULL;
}

/* Hands queued queries to idle connections. Never calls a callback. */
static void pump(tf_db_pool_t *p)
{
    tf_db_conn_t *c;
    while (!h2o_linklist_is_empty(&p->queue) && (c = idle_conn(p)) != NULL) {
        tf_db_query_t *q = H2O_STRUCT_FROM_MEMBER(tf_db_query_t, link, p->queue.next);
        h2o_linklist_unlink(&q->link);
        p->queue_len--;
        if (dispatch(c, q) != 0) {
            h2o_linklist_insert(p->queue.next, &q->link); /* back to the front */
            p->queue_len++;
            fail_connect(c, PQerrorMessage(c->pg));
        }
    }
}

/* A FATAL error result means the server is closing this connection. */
static int is_connection_error(PGresult *res)
{
    if (res == NULL || PQresultStatus(res) != PGRES_FATAL_ERROR)
        return 0;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        return 1;
    /* 08: connection exception; 57P: admin/crash shutdown and friends. */
    return code != NULL && (strncmp(code, "08", 2) == 0 || strncmp(code, "57P", 3) == 0);
}

static void finish_query(tf_db_conn_t *c)
{
    tf_db_pool_t *p = c->pool;
    tf_db_query_t *q = c->q;
    PGresult *res = c->res;
    if (PQstatus(c->pg) == CONNECTION_BAD || is_connection_error(res)) {
        const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        if (msg != NULL && c->fatal[0] == '\0')
            snprintf(c->fatal, sizeof(c->fatal), "%s", msg);
        conn_lost(c, tf_db_error_lost);
        return;
    }
    c->q = NULL;
    c->res = NULL;
    c->state = CONN_IDLE;
    c->since = h2o_now(p->loop);
    if (c->gen != p->gen)
        start_connect(c); /* the conninfo changed while this query ran */
    complete(p, q, res, NULL);
    pump(p);
}

/* Reads what arrived; finishes the running query when its results are in. */
/* Sends more of the query; keeps write interest while libpq has bytes
 * left. -1 when the connection was lost (and handled). */
static int flush_step(tf_db_conn_t *c)
{
    int f = PQflush(c->pg);
    if (f < 0) {
        conn_lost(c, tf_db_error_lost);
        return -1;
    }
    c->flushing = f == 1;
    if (c->flushing)
        want_write(c);
    return 0;
}

static void read_results(tf_db_conn_t *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c, tf_db_error_lost);
        return;
    }
    if (c->flushing && flush_step(c) != 0)
        return;
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            if (c->state == CONN_BUSY)
                finish_query(c);
            else if (PQstatus(c->pg) == CONNECTION_BAD)
                conn_lost(c, tf_db_error_lost);
            return;
        }
        if (c->state != CONN_BUSY) {
            PQclear(r); /* nothing was asked: libpq's own error report */
        } else if (c->res == NULL) {
            c->res = r;
        } else if (PQresultStatus(r) == PGRES_FATAL_ERROR && PQresultStatus(c->res) != PGRES_FATAL_ERROR) {
            PQclear(c->res); /* an error after a result wins */
            c->res = r;
        } else {
            PQclear(r);
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_lost(c, tf_db_error_lost);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    tf_db_conn_t *c = sock->data;
    if (c->state == CONN_CONNECTING)
        connect_step(c);
    else if (conn_is_up(c))
        read_results(c);
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    tf_db_conn_t *c = sock->data;
    if (c->state == CONN_CONNECTING) {
        connect_step(c);
    } else if (c->state == CONN_BUSY && c->flushing) {
        flush_step(c);
    }
    /* else: a stale notification (2.2 cannot cancel them); ignore it. */
}

/* The connection died: it goes down, then its query fails with `err`. */
static void conn_lost(tf_db_conn_t *c, const char *err)
{
    tf_db_pool_t *p = c->pool;
    tf_db_query_t *q = c->q;
    c->q = NULL;
    set_error(p, c->fatal[0] != '\0' ? c->fatal : c->pg != NULL ? PQerrorMessage(c->pg) : err);
    if (p->last_error[0] == '\0')
        set_error(p, err);
    conn_down(c);
    if (q != NULL)
        complete(p, q, NULL, err);
}

/* ------------------------------------------------------------------ */
/* timers                                                              */

static void send_probe(tf_db_conn_t *c)
{
    tf_db_query_t *q = query_new(c->pool, "SELECT 1", 0, NULL, NULL, NULL);
    q->probe = 1;
    if (dispatch(c, q) != 0) {
        query_free(q);
        fail_connect(c, PQerrorMessage(c->pg));
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    tf_db_pool_t *p = H2O_STRUCT_FROM_MEMBER(tf_db_pool_t, tick, entry);
    int hung = 0;
    for (int i = 0; i < p->nconns; i++) {
        tf_db_conn_t *c = &p->conns[i];
        switch (c->state) {
        case CONN_DOWN:
            start_connect(c);
            break;
        case CONN_CONNECTING:
            if (elapsed(p, c->since) >= TF_DB_CONNECT_TIMEOUT_MS)
                fail_connect(c, "timed out connecting to the database");
            break;
        case CONN_IDLE:
            if (h2o_linklist_is_empty(&p->queue) && elapsed(p, c->since) >= TF_DB_KEEPALIVE_MS)
                send_probe(c);
            break;
        case CONN_BUSY:
            if (c->q->probe && elapsed(p, c->since) >= TF_DB_PROBE_TIMEOUT_MS) {
                snprintf(c->fatal, sizeof(c->fatal), "the database did not answer a probe within %d ms",
                         TF_DB_PROBE_TIMEOUT_MS);
                conn_lost(c, tf_db_error_lost);
                hung = 1;
            } else if (!c->q->probe && elapsed(p, c->since) >= TF_DB_QUERY_TIMEOUT_MS) {
                snprintf(c->fatal, sizeof(c->fatal), "a query ran longer than %d ms", TF_DB_QUERY_TIMEOUT_MS);
                conn_lost(c, tf_db_error_timeout);
            }
            break;
        }
    }
    if (hung) {
        /* The server did not answer "SELECT 1": queries that have waited as
         * long on the other connections are most likely stuck behind the
         * same problem. Dropping them is what lets tf_db_is_up say so
         * (instead of after TF_DB_QUERY_TIMEOUT_MS) and lets their callers
         * answer 503 now. */
        for (int i = 0; i < p->nconns; i++) {
            tf_db_conn_t *c = &p->conns[i];
            if (c->state == CONN_BUSY && elapsed(p, c->since) >= TF_DB_PROBE_TIMEOUT_MS) {
                snprintf(c->fatal, sizeof(c->fatal), "the database did not answer a probe within %d ms",
                         TF_DB_PROBE_TIMEOUT_MS);
                conn_lost(c, tf_db_error_lost);
            }
        }
    }
    pump(p);
    h2o_timeout_link(p->loop, &p->tick_timeout, &p->tick);
}

static void on_defer(h2o_timeout_entry_t *entry)
{
    tf_db_pool_t *p = H2O_STRUCT_FROM_MEMBER(tf_db_pool_t, defer, entry);
    /* While a connection is still being attempted, queued queries wait for
     * it (at most TF_DB_CONNECT_TIMEOUT_MS); with none left they fail now. */
    if (all_down(p))
        fail_queue(p, tf_db_error_unavailable);
    pump(p);
}

/* ------------------------------------------------------------------ */
/* API                                                                 */

tf_db_pool_t *tf_db_pool_create(h2o_loop_t *loop, const char *conninfo, int nconns)
{
    tf_db_pool_t *p = h2o_mem_alloc(sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->conninfo = h2o_strdup(NULL, conninfo != NULL ? conninfo : "", SIZE_MAX).base;
    p->nconns = nconns > 0 ? nconns : 2;
    p->conns = h2o_mem_alloc(sizeof(*p->conns) * (size_t)p->nconns);
    memset(p->conns, 0, sizeof(*p->conns) * (size_t)p->nconns);
    h2o_linklist_init_anchor(&p->queue);
    h2o_timeout_init(loop, &p->tick_timeout, TF_DB_RETRY_MS);
    h2o_timeout_init(loop, &p->defer_timeout, 0);
    p->tick.cb = on_tick;
    p->defer.cb = on_defer;
    for (int i = 0; i < p->nconns; i++) {
        p->conns[i].pool = p;
        start_connect(&p->conns[i]);
    }
    h2o_timeout_link(loop, &p->tick_timeout, &p->tick);
    return p;
}

void tf_db_pool_set_conninfo(tf_db_pool_t *p, const char *conninfo)
{
    free(p->conninfo);
    p->conninfo = h2o_strdup(NULL, conninfo != NULL ? conninfo : "", SIZE_MAX).base;
    p->gen++;
    tf_log(TF_LOG_INFO, "system", NULL, "database: settings changed, reconnecting");
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state != CONN_BUSY)
            start_connect(&p->conns[i]);
    p->was_up = tf_db_is_up(p); /* a planned reconnect is not an outage */
}

int tf_db_is_up(tf_db_pool_t *p)
{
    for (int i = 0; i < p->nconns; i++)
        if (conn_is_up(&p->conns[i]))
            return 1;
    return 0;
}

const char *tf_db_last_error(tf_db_pool_t *p)
{
    return p->last_error;
}

tf_db_query_t *tf_db_query(tf_db_pool_t *p, const char *sql, int nparams, const char *const *params, tf_db_cb cb, void *ud)
{
    if (p->closing || !tf_db_is_up(p) || p->queue_len >= TF_DB_QUEUE_MAX || nparams < 0) {
        p->st.rejected_total++;
        return NULL;
    }
    tf_db_query_t *q = query_new(p, sql, nparams, params, cb, ud);
    h2o_linklist_insert(&p->queue, &q->link);
    p->queue_len++;
    pump(p);
    if (q->state == Q_QUEUED && all_down(p)) {
        /* Sending killed the last connection: refuse rather than call back. */
        h2o_linklist_unlink(&q->link);
        p->queue_len--;
        query_free(q);
        p->st.rejected_total++;
        return NULL;
    }
    p->st.queries_total++;
    return q;
}

void tf_db_cancel(tf_db_query_t *q)
{
    if (q == NULL)
        return;
    switch (q->state) {
    case Q_QUEUED:
        h2o_linklist_unlink(&q->link);
        q->pool->queue_len--;
        query_free(q);
        break;
    case Q_RUNNING:
        q->cb = NULL; /* the result is discarded when it arrives */
        break;
    default: /* Q_DONE: inside its own callback */
        break;
    }
}

void tf_db_get_stats(tf_db_pool_t *p, tf_db_stats_t *st)
{
    *st = p->st;
    st->up = tf_db_is_up(p);
    st->conns_total = p->nconns;
    st->conns_up = 0;
    for (int i = 0; i < p->nconns; i++)
        st->conns_up += conn_is_up(&p->conns[i]);
    st->queue_len = p->queue_len;
}

void tf_db_pool_destroy(tf_db_pool_t *p)
{
    if (p == NULL)
        return;
    p->closing = 1;
    h2o_timeout_unlink(&p->tick);
    h2o_timeout_unlink(&p->defer);
    for (int i = 0; i < p->nconns; i++) {
        tf_db_conn_t *c = &p->conns[i];
        tf_db_query_t *q = c->q;
        c->q = NULL;
        conn_close(c);
        c->state = CONN_DOWN;
        if (q != NULL)
            complete(p, q, NULL, tf_db_error_closed);
    }
    fail_queue(p, tf_db_error_closed);
    h2o_timeout_unlink(&p->tick);
    h2o_timeout_unlink(&p->defer);
    h2o_timeout_dispose(p->loop, &p->tick_timeout);
    h2o_timeout_dispose(p->loop, &p->defer_timeout);
    free(p->conns);
    free(p->conninfo);
    free(p);
}
