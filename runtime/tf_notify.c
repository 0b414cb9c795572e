/*
 * tf_notify.c - see tf_notify.h.
 */
#include "tf_notify.h"
#include "tf_clock.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_auth.h"
#include "tf_log.h"
#include "tf_mcp.h"

#define RETRY_MS 2000

typedef enum { N_DOWN, N_CONNECTING, N_LISTEN_SENT, N_LISTENING } nstate_t;

struct tf_notify {
    char *conninfo;
    PGconn *pg;
    nstate_t st;
    PostgresPollingStatusType poll; /* while connecting */
    unsigned long long retry_at_ms;
    unsigned long count;
};

static void drop(tf_notify_t *n, const char *why)
{
    if (n->pg != NULL) {
        if (n->st == N_LISTENING)
            tf_log(TF_LOG_WARN, "system", NULL, "cache invalidation channel lost (%s); retrying", why);
        PQfinish(n->pg);
    }
    n->pg = NULL;
    n->st = N_DOWN;
    n->retry_at_ms = (unsigned long long)(tf_now_ns() / 1000000u) + RETRY_MS;
}

static void start(tf_notify_t *n)
{
    n->pg = PQconnectStart(n->conninfo);
    if (n->pg == NULL || PQstatus(n->pg) == CONNECTION_BAD) {
        drop(n, "connect");
        return;
    }
    n->st = N_CONNECTING;
    n->poll = PGRES_POLLING_WRITING;
}

tf_notify_t *tf_notify_create(const char *conninfo)
{
    tf_notify_t *n = calloc(1, sizeof(*n));
    n->conninfo = strdup(conninfo);
    start(n);
    return n;
}

void tf_notify_destroy(tf_notify_t *n)
{
    if (n == NULL)
        return;
    if (n->pg != NULL)
        PQfinish(n->pg);
    free(n->conninfo);
    free(n);
}

void tf_notify_set_conninfo(tf_notify_t *n, const char *conninfo)
{
    if (strcmp(n->conninfo, conninfo) == 0)
        return;
    free(n->conninfo);
    n->conninfo = strdup(conninfo);
    if (n->pg != NULL) {
        PQfinish(n->pg);
        n->pg = NULL;
    }
    start(n);
}

int tf_notify_prepare(tf_notify_t *n, struct pollfd *pfd)
{
    pfd->fd = -1;
    pfd->events = 0;
    pfd->revents = 0;
    if (n->st == N_DOWN) {
        unsigned long long t = (unsigned long long)(tf_now_ns() / 1000000u);
        if (t < n->retry_at_ms)
            return (int)(n->retry_at_ms - t);
        start(n);
        if (n->st == N_DOWN)
            return RETRY_MS;
    }
    pfd->fd = PQsocket(n->pg);
    if (n->st == N_CONNECTING)
        pfd->events = n->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    else
        pfd->events = POLLIN;
    return -1;
}

static void read_notifications(tf_notify_t *n)
{
    if (!PQconsumeInput(n->pg)) {
        drop(n, PQerrorMessage(n->pg));
        return;
    }
    PGnotify *nt;
    int seen = 0;
    while ((nt = PQnotifies(n->pg)) != NULL) {
        if (strcmp(nt->relname, "tf_mcp") == 0)
            tf_mcp_relay_receive(nt->extra); /* another node's MCP message for a session here */
        else
            seen++;
        PQfreemem(nt);
    }
    while (!PQisBusy(n->pg)) {
        PGresult *r = PQgetResult(n->pg);
        if (r == NULL)
            break;
        if (n->st == N_LISTEN_SENT && PQresultStatus(r) == PGRES_COMMAND_OK) {
            n->st = N_LISTENING;
            /* Anything changed while we were not listening is unknown: start clean. */
            tf_auth_invalidate_all();
            tf_log(TF_LOG_INFO, "system", NULL, "listening for cache invalidations (channel tf_invalidate)");
        }
        PQclear(r);
    }
    if (seen > 0) {
        n->count += (unsigned long)seen;
        tf_auth_invalidate_all();
    }
    if (PQstatus(n->pg) == CONNECTION_BAD)
        drop(n, "connection closed");
}

void tf_notify_handle(tf_notify_t *n, const struct pollfd *pfd)
{
    if (n->pg == NULL || pfd->fd < 0 || pfd->revents == 0)
        return;
    if (n->st == N_CONNECTING) {
        n->poll = PQconnectPoll(n->pg);
        if (n->poll == PGRES_POLLING_FAILED) {
            drop(n, PQerrorMessage(n->pg));
        } else if (n->poll == PGRES_POLLING_OK) {
            PQsetnonblocking(n->pg, 1);
            if (!PQsendQuery(n->pg, "LISTEN tf_invalidate; LISTEN tf_mcp"))
                drop(n, PQerrorMessage(n->pg));
            else
                n->st = N_LISTEN_SENT;
        }
        return;
    }
    if (pfd->revents & (POLLERR | POLLHUP | POLLNVAL)) {
        drop(n, "socket error");
        return;
    }
    read_notifications(n);
}

unsigned long tf_notify_count(const tf_notify_t *n)
{
    return n->count;
}
