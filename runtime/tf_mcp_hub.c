/*
 * tf_mcp_hub.c - what an MCP session carries besides plain answers: SSE
 * streams with event ids and resumption, notifications and server requests
 * sent by tools during a call, the client's answers routed back to the
 * waiting call, cancellation, and resource subscriptions. See tf_mcp_int.h
 * and tf_tool.h.
 *
 * Everything here is shared by the loop threads under one mutex (`mu`):
 * MCP traffic is light next to chat traffic, and each critical section is a
 * short list walk or an append. Writes to an HTTP response happen only on
 * the loop thread that owns it; other threads append the event and post a
 * wake-up to that thread (tf_server_post).
 */
#include "tf_mcp_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_crypto.h"
#include "tf_db.h"
#include "tf_mcp.h"
#include "tf_log.h"
#include "tf_server.h"

#define EVENTS_MAX 256                            /* events a stream keeps for a resumption */
#define LINGER_NS (60ull * 1000000000ull)        /* an unattended stream is kept this long */
#define KEEPALIVE_MS 15000                        /* a comment on idle GET streams, for proxies */
#define PRIMING_RETRY_MS 1000

typedef struct hub_event {
    uint64_t seq;
    char *frame; /* "id: ...\ndata: ...\n\n" */
    size_t len;
} hub_event_t;

typedef struct carrier carrier_t;

struct tf_mcp_stream {
    char id[20];
    char sid[80], user_id[40];
    unsigned refs;
    int standalone; /* a GET stream: notifications of the session */
    hub_event_t *ev;
    size_t nev, cap;
    uint64_t next_seq;
    int finished;   /* the last event is in */
    /* The HTTP response carrying it now, on thread thr; NULL when none. */
    tf_thread_t *thr;
    carrier_t *car;
    uint64_t sent;  /* events before this seq went to the carrier */
    int ending;     /* end the response after what is pending (detach) */
    int retry_ms;
    uint64_t idle_since;
    struct tf_mcp_stream *next;
};

/* In the carrying request's pool. */
struct carrier {
    h2o_generator_t gen;
    tf_req_t *r;
    tf_mcp_stream_t *s; /* NULL once the response ended or another took the stream */
    h2o_timeout_entry_t keep;
    int writing;        /* an h2o_send waits for its proceed */
    int orphaned;       /* a resumption took the stream: end this response when it can */
    int ended;          /* the final send went */
    int fresh;          /* nothing sent yet: the headers wait for a first write */
};

typedef struct live {
    uint64_t xid;
    tf_mcp_xchg_t *x; /* touched only on thr */
    tf_thread_t *thr;
    char sid[80];
    char *rid;        /* the JSON-RPC id as JSON text */
    struct live *next;
} live_t;

typedef struct ask {
    char id[48];
    char sid[80], user_id[40];
    uint64_t xid;
    tf_thread_t *thr;
    tf_tool_answer_fn cb;
    char *answer;     /* the client's message as JSON text, once it came */
    struct ask *next;
} ask_t;

typedef struct sub {
    char sid[80], user_id[40];
    char *uri;
    struct sub *next;
} sub_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static tf_mcp_stream_t *streams;
static live_t *lives;
static ask_t *asks;
static sub_t *subs;
static uint64_t next_xid = 1;

const char *const tf_mcp_log_levels[] = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", NULL};

int tf_mcp_log_level(const char *name)
{
    for (int i = 0; name != NULL && tf_mcp_log_levels[i] != NULL; i++)
        if (strcmp(tf_mcp_log_levels[i], name) == 0)
            return i;
    return -1;
}

/* --- streams ------------------------------------------------------------------ */

static void stream_free_locked(tf_mcp_stream_t *s)
{
    for (tf_mcp_stream_t **p = &streams; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    for (size_t i = 0; i < s->nev; i++)
        free(s->ev[i].frame);
    free(s->ev);
    free(s);
}

static int delivered(const tf_mcp_stream_t *s)
{
    return s->finished && s->sent >= s->next_seq;
}

/* Streams nobody holds that are delivered, or were left unattended too long. */
static void sweep_locked(void)
{
    uint64_t now = tf_now_ns();
    tf_mcp_stream_t *s = streams;
    while (s != NULL) {
        tf_mcp_stream_t *nx = s->next;
        if (s->refs == 0 && (delivered(s) || now - s->idle_since > LINGER_NS))
            stream_free_locked(s);
        s = nx;
    }
}

static void release_locked(tf_mcp_stream_t *s);

void tf_mcp_stream_release(tf_mcp_stream_t *s)
{
    pthread_mutex_lock(&mu);
    release_locked(s);
    pthread_mutex_unlock(&mu);
}

static void append_locked(tf_mcp_stream_t *s, const char *json, size_t len, int with_retry)
{
    if (s->nev == EVENTS_MAX) {
        /* Oldest out: a client that far behind resumes from what is left. */
        free(s->ev[0].frame);
        memmove(s->ev, s->ev + 1, (s->nev - 1) * sizeof(*s->ev));
        s->nev--;
    }
    if (s->nev == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->ev = realloc(s->ev, s->cap * sizeof(*s->ev));
    }
    hub_event_t *e = &s->ev[s->nev++];
    e->seq = s->next_seq++;
    size_t cap = len + 96;
    e->frame = malloc(cap);
    int n = snprintf(e->frame, cap, "id: %s_%llu\n", s->id, (unsigned long long)e->seq);
    if (with_retry)
        n += snprintf(e->frame + n, cap - (size_t)n, "retry: %d\n", PRIMING_RETRY_MS);
    memcpy(e->frame + n, "data: ", 6);
    n += 6;
    memcpy(e->frame + n, json, len);
    n += (int)len;
    memcpy(e->frame + n, "\n\n", 2);
    e->len = (size_t)n + 2;
}

static void pump(tf_mcp_stream_t *s);

static void on_wake(void *arg, int alive)
{
    tf_mcp_stream_t *s = arg;
    if (alive)
        pump(s);
    tf_mcp_stream_release(s);
}

/*
 * Writes what the carrier has not had yet. Runs on the carrier's thread; a
 * call on another thread (the carrier moved) is passed on.
 */
static void pump(tf_mcp_stream_t *s)
{
    pthread_mutex_lock(&mu);
    carrier_t *car = s->car;
    if (car == NULL || car->writing) {
        pthread_mutex_unlock(&mu);
        return;
    }
    if (s->thr != tf_thread) {
        tf_thread_t *thr = s->thr;
        s->refs++;
        pthread_mutex_unlock(&mu);
        tf_server_post(thr, on_wake, s);
        return;
    }
    size_t total = 0, first = s->nev;
    for (size_t i = 0; i < s->nev; i++)
        if (s->ev[i].seq >= s->sent) {
            if (first == s->nev)
                first = i;
            total += s->ev[i].len;
        }
    int end = s->ending || s->finished; /* a finished stream has nothing after what goes now */
    char retry[40] = "";
    if (s->ending && s->retry_ms > 0)
        snprintf(retry, sizeof(retry), "retry: %d\n\n", s->retry_ms);
    if (total == 0 && !end && !car->fresh) {
        pthread_mutex_unlock(&mu);
        return;
    }
    /* A resumed stream with nothing new yet still answers at once. */
    if (total == 0 && !end)
        snprintf(retry, sizeof(retry), ": resumed\n\n");
    car->fresh = 0;
    size_t rl = strlen(retry);
    char *buf = h2o_mem_alloc_pool(&car->r->h2o->pool, total + rl + 1);
    size_t off = 0;
    for (size_t i = first; i < s->nev; i++) {
        memcpy(buf + off, s->ev[i].frame, s->ev[i].len);
        off += s->ev[i].len;
    }
    memcpy(buf + off, retry, rl);
    off += rl;
    s->sent = s->next_seq;
    tf_req_t *r = car->r;
    if (end) {
        /* The response ends here; the stream stays for a resumption unless delivered. */
        s->car = NULL;
        car->s = NULL;
        car->ended = 1;
        s->ending = 0;
        s->idle_since = tf_now_ns();
        if (h2o_timeout_is_linked(&car->keep))
            h2o_timeout_unlink(&car->keep);
    } else {
        car->writing = 1;
    }
    pthread_mutex_unlock(&mu);
    h2o_iovec_t v = h2o_iovec_init(buf, off);
    h2o_send(r->h2o, &v, 1, end ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
    if (end)
        tf_mcp_stream_release(s); /* the carrier's reference */
}

/* Ends an orphaned carrier's response (under mu: returns 1 when the caller must send FINAL). */
static int orphan_end_locked(carrier_t *car)
{
    if (!car->orphaned || car->writing || car->ended)
        return 0;
    car->ended = 1;
    if (h2o_timeout_is_linked(&car->keep))
        h2o_timeout_unlink(&car->keep);
    return 1;
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    carrier_t *car = H2O_STRUCT_FROM_MEMBER(carrier_t, gen, g);
    pthread_mutex_lock(&mu);
    car->writing = 0;
    tf_mcp_stream_t *s = car->s;
    int fin = orphan_end_locked(car);
    pthread_mutex_unlock(&mu);
    if (fin)
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else if (s != NULL)
        pump(s);
}

static __thread h2o_timeout_t keepalive;
static __thread int keepalive_ready;

static void on_keepalive(h2o_timeout_entry_t *e)
{
    carrier_t *car = H2O_STRUCT_FROM_MEMBER(carrier_t, keep, e);
    pthread_mutex_lock(&mu);
    int fin = orphan_end_locked(car);
    int send = !fin && car->s != NULL && !car->writing;
    if (send)
        car->writing = 1;
    pthread_mutex_unlock(&mu);
    if (fin) {
        /* The client resumed elsewhere: this response (likely to a dead connection) ends. */
        h2o_send(car->r->h2o, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    if (send) {
        static h2o_iovec_t ping = {": keepalive\n\n", 13};
        h2o_send(car->r->h2o, &ping, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
    if (!car->ended)
        h2o_timeout_link(car->r->thr->ctx.loop, &keepalive, &car->keep);
}

static void release_locked(tf_mcp_stream_t *s)
{
    if (--s->refs == 0) {
        if (delivered(s))
            stream_free_locked(s);
        else
            s->idle_since = tf_now_ns();
    }
}

/* The carrying request's memory goes (it ended, answered or not): whatever
 * state the carrier is in, it lets go of the stream and its timer. */
static void carrier_dispose(void *p)
{
    carrier_t *car = p;
    pthread_mutex_lock(&mu);
    if (h2o_timeout_is_linked(&car->keep))
        h2o_timeout_unlink(&car->keep);
    tf_mcp_stream_t *s = car->s;
    if (s != NULL && s->car == car) {
        s->car = NULL;
        car->s = NULL;
        release_locked(s);
    }
    pthread_mutex_unlock(&mu);
}

/* Makes r the carrier of s (under mu; s->refs counts the carrier). */
static carrier_t *bind_locked(tf_mcp_stream_t *s, tf_req_t *r)
{
    carrier_t *car = h2o_mem_alloc_shared(&r->h2o->pool, sizeof(*car), carrier_dispose);
    memset(car, 0, sizeof(*car));
    car->gen.proceed = on_proceed;
    car->r = r;
    car->s = s;
    car->keep.cb = on_keepalive;
    car->fresh = 1;
    s->car = car;
    s->thr = tf_thread;
    s->ending = 0;
    s->refs++;
    return car;
}

/* Every carrier ticks: GET streams send keepalives, orphaned ones end. */
static void start_response(tf_req_t *r, carrier_t *car, const char *sid)
{
    tf_add_header(r, "mcp-session-id", sid);
    tf_respond_stream_start(r, 200, "text/event-stream", &car->gen);
    if (!keepalive_ready) {
        h2o_timeout_init(r->thr->ctx.loop, &keepalive, KEEPALIVE_MS);
        keepalive_ready = 1;
    }
    h2o_timeout_link(r->thr->ctx.loop, &keepalive, &car->keep);
}

tf_mcp_stream_t *tf_mcp_stream_open(tf_req_t *r, const char *sid, const char *user_id, int standalone, int priming)
{
    tf_mcp_stream_t *s = calloc(1, sizeof(*s));
    tf_crypto_random_hex(s->id, 8);
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
    s->standalone = standalone;
    s->refs = 1; /* the caller's */
    pthread_mutex_lock(&mu);
    sweep_locked();
    s->next = streams;
    streams = s;
    carrier_t *car = bind_locked(s, r);
    if (priming)
        append_locked(s, "", 0, 1);
    pthread_mutex_unlock(&mu);
    start_response(r, car, sid);
    pump(s);
    return s;
}

void tf_mcp_stream_send(tf_mcp_stream_t *s, const char *json, size_t len, int final)
{
    pthread_mutex_lock(&mu);
    if (s->finished) {
        pthread_mutex_unlock(&mu);
        return;
    }
    if (json != NULL)
        append_locked(s, json, len, 0);
    if (final)
        s->finished = 1;
    int carried = s->car != NULL;
    pthread_mutex_unlock(&mu);
    if (carried)
        pump(s);
}

void tf_mcp_stream_detach(tf_mcp_stream_t *s, int retry_ms)
{
    pthread_mutex_lock(&mu);
    int carried = s->car != NULL;
    if (carried) {
        s->ending = 1;
        s->retry_ms = retry_ms;
    }
    pthread_mutex_unlock(&mu);
    if (carried)
        pump(s);
}

void tf_mcp_stream_unbind(tf_mcp_stream_t *s, tf_req_t *r)
{
    int had = 0;
    pthread_mutex_lock(&mu);
    carrier_t *car = s->car;
    if (car != NULL && car->r == r) {
        if (h2o_timeout_is_linked(&car->keep))
            h2o_timeout_unlink(&car->keep);
        car->s = NULL;
        car->ended = 1;
        s->car = NULL;
        s->idle_since = tf_now_ns();
        had = 1;
    }
    pthread_mutex_unlock(&mu);
    if (had)
        tf_mcp_stream_release(s);
}

int tf_mcp_stream_resume(tf_req_t *r, const char *sid, const char *user_id, const char *last_event_id, tf_mcp_stream_t **out)
{
    const char *us = strrchr(last_event_id, '_');
    if (us == NULL || (size_t)(us - last_event_id) >= sizeof(((tf_mcp_stream_t *)0)->id))
        return -1;
    char *end = NULL;
    unsigned long long seq = strtoull(us + 1, &end, 10);
    if (end == us + 1 || *end != '\0')
        return -1;
    pthread_mutex_lock(&mu);
    tf_mcp_stream_t *s = streams;
    while (s != NULL && !(strncmp(s->id, last_event_id, (size_t)(us - last_event_id)) == 0 && s->id[us - last_event_id] == '\0'))
        s = s->next;
    /* Only the session (and user) that owns it. */
    if (s == NULL || strcmp(s->sid, sid) != 0 || strcmp(s->user_id, user_id) != 0) {
        pthread_mutex_unlock(&mu);
        return -1;
    }
    if (s->car != NULL) {
        /* Still carried: the client lost that response before the server
         * noticed. The resumption takes the stream; the old response (on
         * its own thread) ends at its next tick. */
        s->car->s = NULL;
        s->car->orphaned = 1;
        s->car = NULL;
        s->refs--; /* the old carrier's; the caller's and the new carrier's follow */
    }
    carrier_t *car = bind_locked(s, r);
    s->sent = seq + 1;
    s->refs++; /* the caller's */
    pthread_mutex_unlock(&mu);
    start_response(r, car, sid);
    pump(s);
    *out = s;
    return 0;
}

/* --- calls in flight ---------------------------------------------------------- */

void tf_mcp_hub_enter(tf_mcp_xchg_t *x)
{
    live_t *l = calloc(1, sizeof(*l));
    l->x = x;
    l->thr = x->thr;
    snprintf(l->sid, sizeof(l->sid), "%s", x->sid);
    l->rid = json_dumps(x->id, JSON_ENCODE_ANY | JSON_COMPACT);
    pthread_mutex_lock(&mu);
    x->xid = l->xid = next_xid++;
    l->next = lives;
    lives = l;
    pthread_mutex_unlock(&mu);
}

void tf_mcp_hub_leave(tf_mcp_xchg_t *x)
{
    pthread_mutex_lock(&mu);
    for (live_t **p = &lives; *p; p = &(*p)->next)
        if ((*p)->xid == x->xid) {
            live_t *l = *p;
            *p = l->next;
            free(l->rid);
            free(l);
            break;
        }
    for (ask_t **p = &asks; *p;) {
        ask_t *a = *p;
        if (a->xid == x->xid) {
            *p = a->next;
            free(a->answer);
            free(a);
        } else {
            p = &a->next;
        }
    }
    pthread_mutex_unlock(&mu);
}

/* The call with this xid if it is still running; on its own thread only. */
static tf_mcp_xchg_t *live_find(uint64_t xid)
{
    tf_mcp_xchg_t *x = NULL;
    pthread_mutex_lock(&mu);
    for (live_t *l = lives; l != NULL && x == NULL; l = l->next)
        if (l->xid == xid && l->thr == tf_thread)
            x = l->x;
    pthread_mutex_unlock(&mu);
    return x;
}

tf_mcp_stream_t *tf_mcp_xchg_stream(tf_mcp_xchg_t *x)
{
    /* After a detach x->s stays: later events wait there for the client's GET. */
    if (x->s == NULL && x->m != NULL && x->sse_ok && !x->detached)
        x->s = tf_mcp_stream_open(tf_mcp_ctx_req(x->m), x->sid, x->user_id, 0, strcmp(x->proto, "2025-11-25") >= 0);
    return x->s;
}

static void send_json(tf_mcp_stream_t *s, json_t *msg)
{
    char *t = json_dumps(msg, JSON_COMPACT);
    if (t != NULL)
        tf_mcp_stream_send(s, t, strlen(t), 0);
    free(t);
    json_decref(msg);
}

/* --- what tools send (tf_tool.h) ------------------------------------------------ */

void tf_tool_progress(tf_tool_call_t *call, double progress, double total, const char *message)
{
    tf_mcp_xchg_t *x = call->x;
    if (x == NULL || x->progress_token == NULL || call->gone)
        return;
    tf_mcp_stream_t *s = tf_mcp_xchg_stream(x);
    if (s == NULL)
        return;
    json_t *p = json_pack("{s:O, s:f}", "progressToken", x->progress_token, "progress", progress);
    if (total >= 0)
        json_object_set_new(p, "total", json_real(total));
    if (message != NULL)
        json_object_set_new(p, "message", json_string(message));
    send_json(s, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/progress", "params", p));
}

json_t *tf_tool_progress_token(const tf_tool_call_t *call)
{
    return call->x != NULL ? call->x->progress_token : NULL;
}

void tf_tool_log(tf_tool_call_t *call, const char *level, const char *logger, json_t *data)
{
    tf_mcp_xchg_t *x = call->x;
    int lv = tf_mcp_log_level(level);
    if (x == NULL || lv < 0 || lv < x->log_level || call->gone) {
        json_decref(data);
        return;
    }
    tf_mcp_stream_t *s = tf_mcp_xchg_stream(x);
    if (s == NULL) {
        json_decref(data);
        return;
    }
    json_t *p = json_pack("{s:s, s:o}", "level", tf_mcp_log_levels[lv], "data", data ? data : json_null());
    if (logger != NULL)
        json_object_set_new(p, "logger", json_string(logger));
    send_json(s, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/message", "params", p));
}

int tf_tool_client_has(const tf_tool_call_t *call, const char *capability)
{
    const tf_mcp_xchg_t *x = call->x;
    if (x == NULL)
        return 0;
    int bit = strcmp(capability, "sampling") == 0      ? TF_MCP_CAP_SAMPLING
              : strcmp(capability, "elicitation") == 0 ? TF_MCP_CAP_ELICITATION
              : strcmp(capability, "roots") == 0       ? TF_MCP_CAP_ROOTS
                                                       : 0;
    return (x->caps & bit) != 0;
}

int tf_tool_ask(tf_tool_call_t *call, const char *method, json_t *params, tf_tool_answer_fn cb)
{
    tf_mcp_xchg_t *x = call->x;
    const char *cap = strncmp(method, "sampling/", 9) == 0 ? "sampling" : strncmp(method, "elicitation/", 12) == 0 ? "elicitation" : "roots";
    tf_mcp_stream_t *s = x != NULL && !call->gone && tf_tool_client_has(call, cap) ? tf_mcp_xchg_stream(x) : NULL;
    if (s == NULL) {
        json_decref(params);
        cb(call, NULL, NULL);
        return -1;
    }
    ask_t *a = calloc(1, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "tf-%llu-%u", (unsigned long long)x->xid, ++x->asks);
    snprintf(a->sid, sizeof(a->sid), "%s", x->sid);
    snprintf(a->user_id, sizeof(a->user_id), "%s", x->user_id);
    a->xid = x->xid;
    a->thr = x->thr;
    a->cb = cb;
    pthread_mutex_lock(&mu);
    a->next = asks;
    asks = a;
    pthread_mutex_unlock(&mu);
    json_t *msg = json_pack("{s:s, s:s, s:s, s:o}", "jsonrpc", "2.0", "id", a->id, "method", method, "params", params ? params : json_object());
    send_json(s, msg);
    return 0;
}

void tf_tool_close_stream(tf_tool_call_t *call, int retry_ms)
{
    tf_mcp_xchg_t *x = call->x;
    if (x == NULL || call->gone)
        return;
    tf_mcp_stream_t *s = tf_mcp_xchg_stream(x);
    if (s == NULL)
        return; /* a plain JSON answer: nothing to close early */
    x->detached = 1;
    call->r = NULL;
    tf_mcp_stream_detach(s, retry_ms);
}

/* --- the client's answers and cancellations ------------------------------------------ */

static void on_answer(void *arg, int alive)
{
    ask_t *a = arg;
    tf_mcp_xchg_t *x = alive ? live_find(a->xid) : NULL;
    if (x != NULL && !x->call.gone) {
        json_t *msg = json_loads(a->answer, 0, NULL);
        json_t *res = json_object_get(msg, "result"), *err = json_object_get(msg, "error");
        a->cb(&x->call, res, res == NULL ? (err ? err : json_null()) : NULL);
        json_decref(msg);
    }
    free(a->answer);
    free(a);
}

int tf_mcp_hub_answer_local(const char *sid, const char *user_id, json_t *msg)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    if (id == NULL)
        return -1;
    pthread_mutex_lock(&mu);
    ask_t *a = NULL;
    for (ask_t **p = &asks; *p; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0 && strcmp((*p)->sid, sid) == 0 && strcmp((*p)->user_id, user_id) == 0) {
            a = *p;
            *p = a->next;
            break;
        }
    pthread_mutex_unlock(&mu);
    if (a == NULL)
        return -1;
    a->answer = json_dumps(msg, JSON_COMPACT);
    tf_server_post(a->thr, on_answer, a);
    return 0;
}

typedef struct cancel_msg {
    uint64_t xid;
} cancel_msg_t;

static void on_cancel(void *arg, int alive)
{
    cancel_msg_t *c = arg;
    tf_mcp_xchg_t *x = alive ? live_find(c->xid) : NULL;
    if (x != NULL)
        tf_mcp_xchg_cancelled(x);
    free(c);
}

static int cancel_local(const char *sid, json_t *request_id)
{
    char *rid = request_id ? json_dumps(request_id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (rid == NULL)
        return 0; /* nothing to pass on either */
    uint64_t xid = 0;
    tf_thread_t *thr = NULL;
    pthread_mutex_lock(&mu);
    for (live_t *l = lives; l != NULL; l = l->next)
        if (strcmp(l->sid, sid) == 0 && strcmp(l->rid, rid) == 0) {
            xid = l->xid;
            thr = l->thr;
            break;
        }
    pthread_mutex_unlock(&mu);
    free(rid);
    if (thr == NULL)
        return -1; /* not here, or already answered */
    cancel_msg_t *c = malloc(sizeof(*c));
    c->xid = xid;
    tf_server_post(thr, on_cancel, c);
    return 0;
}

/* --- subscriptions ----------------------------------------------------------------- */

void tf_mcp_hub_subscribe(const char *sid, const char *user_id, const char *uri, int on)
{
    pthread_mutex_lock(&mu);
    sub_t **p = &subs;
    while (*p && !(strcmp((*p)->sid, sid) == 0 && strcmp((*p)->uri, uri) == 0))
        p = &(*p)->next;
    if (on && *p == NULL) {
        sub_t *b = calloc(1, sizeof(*b));
        snprintf(b->sid, sizeof(b->sid), "%s", sid);
        snprintf(b->user_id, sizeof(b->user_id), "%s", user_id);
        b->uri = strdup(uri);
        b->next = subs;
        subs = b;
    } else if (!on && *p != NULL) {
        sub_t *b = *p;
        *p = b->next;
        free(b->uri);
        free(b);
    }
    pthread_mutex_unlock(&mu);
}

static void updated_local(const char *user_id, const char *uri)
{
    enum { MAXN = 64 };
    tf_mcp_stream_t *to[MAXN];
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (sub_t *b = subs; b != NULL && n < MAXN; b = b->next) {
        if (strcmp(b->uri, uri) != 0 || (user_id != NULL && strcmp(b->user_id, user_id) != 0))
            continue;
        /* The session's GET stream: the one carried now, else the newest. */
        tf_mcp_stream_t *best = NULL;
        for (tf_mcp_stream_t *s = streams; s != NULL; s = s->next)
            if (s->standalone && strcmp(s->sid, b->sid) == 0 && (best == NULL || (best->car == NULL && s->car != NULL)))
                best = s;
        if (best != NULL) {
            best->refs++;
            to[n++] = best;
        }
    }
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < n; i++) {
        send_json(to[i], json_pack("{s:s, s:s, s:{s:s}}", "jsonrpc", "2.0", "method", "notifications/resources/updated", "params", "uri", uri));
        tf_mcp_stream_release(to[i]);
    }
}

void tf_mcp_hub_session_ended(const char *sid)
{
    enum { MAXN = 64 };
    tf_mcp_stream_t *open[MAXN];
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (sub_t **p = &subs; *p;) {
        sub_t *b = *p;
        if (strcmp(b->sid, sid) == 0) {
            *p = b->next;
            free(b->uri);
            free(b);
        } else {
            p = &b->next;
        }
    }
    /* Its streams end now (a GET would otherwise stay open on a dead session). */
    for (tf_mcp_stream_t *s = streams; s != NULL && n < MAXN; s = s->next)
        if (strcmp(s->sid, sid) == 0 && s->car != NULL) {
            s->ending = 1;
            s->retry_ms = 0;
            s->refs++;
            open[n++] = s;
        }
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < n; i++) {
        pump(open[i]);
        tf_mcp_stream_release(open[i]);
    }
}

/* --- several nodes: PostgreSQL's channel tf_mcp --------------------------------------------- */

static char instance[20];
static pthread_once_t instance_once = PTHREAD_ONCE_INIT;

static void instance_init(void)
{
    tf_crypto_random_hex(instance, 8);
}

static void on_published(void *ud, PGresult *res, const char *err)
{
    (void)ud;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
        tf_log(TF_LOG_WARN, "mcp", NULL, "an MCP message for another node could not be published: %s", err ? err : PQresultErrorMessage(res));
}

/* Publishes msg (owned) for the other nodes, from a loop thread. */
static void publish(json_t *msg)
{
    pthread_once(&instance_once, instance_init);
    json_object_set_new(msg, "from", json_string(instance));
    char *t = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (t == NULL || tf_thread == NULL || tf_thread->db == NULL) {
        free(t);
        return;
    }
    if (strlen(t) > 7900) {
        /* PostgreSQL's NOTIFY payload limit is 8000 bytes. */
        tf_log(TF_LOG_WARN, "mcp", NULL, "an MCP message of %zu bytes is too large to pass to another node; dropped", strlen(t));
        free(t);
        return;
    }
    const char *p[1] = {t};
    tf_db_query(tf_thread->db, "SELECT pg_notify('tf_mcp', $1)", 1, p, on_published, NULL);
    free(t);
}

int tf_mcp_hub_answer(const char *sid, const char *user_id, json_t *msg)
{
    if (tf_mcp_hub_answer_local(sid, user_id, msg) == 0)
        return 0;
    publish(json_pack("{s:s, s:s, s:s, s:O}", "k", "answer", "sid", sid, "user", user_id, "msg", msg));
    return -1;
}

void tf_mcp_hub_cancel(const char *sid, const char *user_id, json_t *request_id)
{
    if (cancel_local(sid, request_id) != 0)
        publish(json_pack("{s:s, s:s, s:s, s:O}", "k", "cancel", "sid", sid, "user", user_id, "rid", request_id));
}

void tf_mcp_resource_updated(const char *user_id, const char *uri)
{
    updated_local(user_id, uri);
    json_t *m = json_pack("{s:s, s:s}", "k", "updated", "uri", uri);
    if (user_id != NULL)
        json_object_set_new(m, "user", json_string(user_id));
    publish(m);
}

void tf_mcp_relay_receive(const char *payload)
{
    pthread_once(&instance_once, instance_init);
    json_t *m = json_loads(payload, 0, NULL);
    const char *from = json_string_value(json_object_get(m, "from")), *k = json_string_value(json_object_get(m, "k"));
    const char *sid = json_string_value(json_object_get(m, "sid")), *user = json_string_value(json_object_get(m, "user"));
    if (from == NULL || k == NULL || strcmp(from, instance) == 0) {
        json_decref(m);
        return;
    }
    if (strcmp(k, "answer") == 0 && sid != NULL && user != NULL)
        tf_mcp_hub_answer_local(sid, user, json_object_get(m, "msg"));
    else if (strcmp(k, "cancel") == 0 && sid != NULL)
        cancel_local(sid, json_object_get(m, "rid"));
    else if (strcmp(k, "updated") == 0 && json_is_string(json_object_get(m, "uri")))
        updated_local(user, json_string_value(json_object_get(m, "uri")));
    json_decref(m);
}
