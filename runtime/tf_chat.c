/*
 * tf_chat.c - one chat request through the Mesh Brain. See tf_chat.h.
 *
 * Ownership: the chat_t is malloc'd, not in the request pool, because it
 * can outlive the request: a client that leaves mid-stream still owes the
 * tokens it was sent, and that write finishes after h2o freed the pool.
 * It is freed when the request is gone (ch->r == NULL) and no database
 * write is pending.
 */
#include "tf_chat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tf_adapt.h"
#include "tf_admit.h"
#include "tf_curl.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_mesh.h"
#include "tf_server.h"
#include "tf_tiers.h"
#include "tf_usage.h"
#include "tf_utf8.h"

#define MAX_CANDIDATES 16
#define MAX_ANSWER_BYTES (16u << 20)
/* A stream whose client reads slower than its provider writes: past this
 * many bytes waiting behind the write in flight, the provider's bytes are
 * refused (curl stops reading its socket) until that write is done, so a
 * slow or stalled reader costs this much memory, not the whole answer.
 * Over HTTP/1.1 upstreams only (tf_curl_can_pause). */
#define STREAM_PENDING_MAX (256u << 10)
#define MAX_ERROR_BYTES (64u << 10)

typedef struct outbuf {
    char *data;
    size_t len, cap;
} outbuf_t;

typedef struct chat {
    tf_req_t *r; /* NULL once the request is gone */
    tf_thread_t *thr;
    json_t *req;
    /* the JSON text req was parsed from (the request's body, in its pool),
     * when it was: the openai upstream body is then spliced from it */
    const char *raw;
    size_t raw_len;
    int shape, stream, include_usage, strategy, allow_fallback;
    char model_req[256];
    const tf_tier_t *tier;
    char subject[300];
    tf_candidate_t cand[MAX_CANDIDATES];
    size_t ncand, next;
    tf_pick_t pick;
    uint64_t start_ns, deadline_ns, attempt_ns;
    unsigned connect_ms, attempt_ms, idle_ms, coalesce_ms, breaker_failures, breaker_open_ms;
    tf_usage_admit_t admit;

    /* the attempt in flight */
    const tf_candidate_t *cur;
    int outcome_pending; /* cur's health slot awaits a report */
    tf_curl_req_t *xfer;
    tf_adapt_stream_t *parser;
    int parse_failed;
    char parse_err[160];
    h2o_timeout_entry_t attempt_timer;  /* attempt timeout, then stream idle timeout */
    h2o_timeout_entry_t deadline_timer; /* the whole request, to its first byte */
    int attempts;
    size_t cur_index;   /* of cur in cand[]: > 0 means a fallback answered */
    unsigned max_attempts;
    char tried[600]; /* "groq/default: HTTP 500; cerebras/default: timeout" */
    /* a capped node (tf_admit): the place in its queue, or the slot held */
    tf_admit_wait_t *waiting;
    const tf_candidate_t *wait_cand;
    struct tf_admit *slot;
    uint64_t wait_ns, queued_ns;
    int busy; /* candidates given up on after waiting for a slot */

    /* the answer */
    char answered[256], backend[64], node[128];
    long long prompt_tokens, completion_tokens, prompt_estimate;
    int usage_estimated;
    size_t text_bytes;
    char finish_reason[24];
    char *content;
    uint64_t first_event_ns;

    /* streaming out */
    int committed, upstream_done, sending, final_queued, db_pending, recorded, failed_midstream;
    int upstream_paused; /* the provider's bytes are refused until the client catches up */
    h2o_generator_t gen;
    outbuf_t pending, inflight;
    h2o_timeout_entry_t flush_timer; /* hands `pending` to h2o (on_data says when) */
    int sends;                       /* h2o_send calls made for this answer */
    char id[64];
    long long created;
    /* `data: {"id":..,"object":..,"created":..,"model":..,"choices":[`,
     * the same for every chunk of the answer: formatted once, at commit */
    char chunk_head[448];
    size_t chunk_head_len;

    /* callback mode (tf_chat_start): the answer goes to cb, not to r */
    tf_chat_done_fn cb;
    void *cb_ud;
    int cb_called;
    int release_now; /* callback mode: freed on the tick after the callback, never under a caller's feet */
    tf_db_query_t *adq; /* callback mode: the admission query (several chats may share one request) */
} chat_t;

static void try_next(chat_t *ch);
static void slot_leave(chat_t *ch);
static void queue_drop(chat_t *ch, int why);
static void queued_header(chat_t *ch);
static void finalize(chat_t *ch, int ok, const char *error);

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

/* Room for n more bytes. Out of memory aborts (as redis does): a half
 * written answer would be worse, and a process that cannot get a few KB
 * cannot answer anyone. */
static void out_reserve(outbuf_t *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            tf_log(TF_LOG_ERROR, "system", NULL, "out of memory (%zu bytes for an answer)", cap);
            abort();
        }
        b->data = p;
        b->cap = cap;
    }
}

static void out_append(outbuf_t *b, const char *s, size_t n)
{
    out_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void out_str(outbuf_t *b, const char *s)
{
    out_append(b, s, strlen(s));
}

/* A decimal integer, as %lld writes it. */
static void out_lld(outbuf_t *b, long long v)
{
    char t[24], *p = t + sizeof(t);
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    out_append(b, p, (size_t)(t + sizeof(t) - p));
}

/* snprintf(dst, n, "%s", src) without the format parsing (many per chat). */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static void out_json(outbuf_t *b, json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    out_append(b, "data: ", 6);
    out_reserve(b, n + 2);
    json_dumpb(v, b->data + b->len, n, JSON_COMPACT);
    b->len += n;
    out_append(b, "\n\n", 2);
    json_decref(v);
}

static void note_tried(chat_t *ch, const char *who, const char *what)
{
    size_t l = strlen(ch->tried);
    snprintf(ch->tried + l, sizeof(ch->tried) - l, "%s%s: %s", l ? "; " : "", who, what);
}

/*
 * A refusal or failure: an HTTP error answer, or in callback mode
 * {"error":{code, message, param, status, retry_after}} to the callback
 * (`extra` members, if any, are merged into the error object; stolen).
 */
static void chat_fail(chat_t *ch, int status, const char *retry_after, json_t *extra, const char *code, const char *param,
                      const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static h2o_timeout_t *timeout_for(h2o_loop_t *loop, uint64_t ms);
static void maybe_free(chat_t *ch);

static void on_free_later(h2o_timeout_entry_t *e)
{
    chat_t *ch = H2O_STRUCT_FROM_MEMBER(chat_t, deadline_timer, e);
    ch->release_now = 1;
    maybe_free(ch);
}

static void maybe_free(chat_t *ch)
{
    if (ch->r != NULL || ch->db_pending)
        return;
    if (ch->cb != NULL && !ch->release_now) {
        /* Whoever called us may still touch ch after the callback returned. */
        if (!h2o_timeout_is_linked(&ch->deadline_timer)) {
            ch->deadline_timer.cb = on_free_later;
            h2o_timeout_link(ch->thr->ctx.loop, timeout_for(ch->thr->ctx.loop, 0), &ch->deadline_timer);
        }
        return;
    }
    json_decref(ch->req);
    if (ch->parser != NULL)
        tf_adapt_stream_free(ch->parser);
    free(ch->pending.data);
    free(ch->inflight.data);
    free(ch->content);
    free(ch);
}

/* --- timers ---------------------------------------------------------------
 *
 * h2o 2.2's timeouts have one duration each, so each loop thread keeps one
 * per duration in use (attempt, stream idle, deadline: three values per conf
 * snapshot). They live as long as the thread's loop. No syscall per request,
 * unlike a timerfd each. */

#define TIMEOUTS_PER_THREAD 32
static __thread struct {
    uint64_t ms;
    h2o_timeout_t t;
} tcache[TIMEOUTS_PER_THREAD];
static __thread size_t ntcache;

static h2o_timeout_t *timeout_for(h2o_loop_t *loop, uint64_t ms)
{
    size_t best = 0;
    for (size_t i = 0; i < ntcache; i++) {
        if (tcache[i].ms == ms)
            return &tcache[i].t;
        if (tcache[i].ms <= ms && (tcache[best].ms > ms || tcache[i].ms > tcache[best].ms))
            best = i;
    }
    if (ntcache == TIMEOUTS_PER_THREAD) /* many reloads with new values: the nearest shorter one */
        return &tcache[best].t;
    tcache[ntcache].ms = ms;
    h2o_timeout_init(loop, &tcache[ntcache].t, ms);
    return &tcache[ntcache++].t;
}

static void on_attempt_timeout(h2o_timeout_entry_t *e);
static void on_deadline(h2o_timeout_entry_t *e);

static void entry_stop(h2o_timeout_entry_t *e)
{
    if (h2o_timeout_is_linked(e))
        h2o_timeout_unlink(e);
}

static void timer_arm(chat_t *ch, uint64_t ms)
{
    entry_stop(&ch->attempt_timer);
    ch->attempt_timer.cb = on_attempt_timeout;
    h2o_timeout_link(ch->thr->ctx.loop, timeout_for(ch->thr->ctx.loop, ms), &ch->attempt_timer);
}

static void timer_stop(chat_t *ch)
{
    entry_stop(&ch->attempt_timer);
}

static void timer_close(chat_t *ch)
{
    entry_stop(&ch->attempt_timer);
    entry_stop(&ch->deadline_timer);
    entry_stop(&ch->flush_timer);
}

static uint64_t remaining_ms(const chat_t *ch)
{
    uint64_t now = tf_now_ns();
    return now >= ch->deadline_ns ? 0 : (ch->deadline_ns - now) / 1000000ull;
}

static void detach(chat_t *ch);

static void chat_fail(chat_t *ch, int status, const char *retry_after, json_t *extra, const char *code, const char *param,
                      const char *fmt, ...)
{
    char msg[TF_UTF8_FORMAT_CAP];
    va_list ap;
    va_start(ap, fmt);
    /* A model name near the cut could leave half a sequence: jansson takes only UTF-8. */
    tf_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ch->r == NULL) {
        json_decref(extra);
        return;
    }
    if (ch->cb != NULL) {
        json_t *e = json_pack("{s:s, s:s, s:i}", "code", code, "message", msg, "status", status);
        if (param != NULL)
            json_object_set_new(e, "param", json_string(param));
        if (retry_after != NULL)
            json_object_set_new(e, "retry_after", json_integer(atoi(retry_after)));
        if (extra != NULL)
            json_object_update(e, extra);
        json_decref(extra);
        ch->cb_called = 1;
        ch->cb(ch->cb_ud, status, json_pack("{s:o}", "error", e));
        detach(ch);
        maybe_free(ch);
        return;
    }
    if (retry_after != NULL)
        tf_add_header(ch->r, "retry-after", retry_after);
    if (extra != NULL) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:O?}", "type", status == 429 ? "rate_limit_error" : status >= 500 ? "upstream_error" : "invalid_request_error",
                              "code", code, "message", msg, "param", param ? json_string(param) : json_null());
        json_object_update(e, extra);
        json_decref(extra);
        tf_respond_json(ch->r, status, json_pack("{s:o}", "error", e));
        return;
    }
    tf_respond_error(ch->r, status, code, param, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* Streaming out                                                       */

static void flush(chat_t *ch);

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    chat_t *ch = H2O_STRUCT_FROM_MEMBER(chat_t, gen, gen);
    ch->sending = 0;
    ch->inflight.len = 0;
    /* What came during the write waits for its timer (on_data), unless the
     * answer has ended or the timer fired while the write was out. */
    if (ch->final_queued || !h2o_timeout_is_linked(&ch->flush_timer) || ch->upstream_paused)
        flush(ch);
    if (ch->upstream_paused && ch->xfer != NULL) {
        /* The client took a write: the provider may go on (its silence
         * while refused was ours, so the idle timer starts again). */
        ch->upstream_paused = 0;
        timer_arm(ch, ch->idle_ms);
        tf_curl_resume(ch->xfer);
    }
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    /* The request is being disposed: on_dispose does the cleanup. */
}

/* Hands what is pending to h2o; one send in flight at a time. */
static void flush(chat_t *ch)
{
    if (ch->r == NULL || ch->sending || !ch->committed)
        return;
    if (ch->pending.len == 0 && !ch->final_queued)
        return;
    entry_stop(&ch->flush_timer);
    outbuf_t t = ch->inflight;
    ch->inflight = ch->pending;
    ch->pending = t;
    ch->pending.len = 0;
    h2o_iovec_t b = h2o_iovec_init(ch->inflight.data, ch->inflight.len);
    h2o_send_state_t st = ch->final_queued ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
    ch->sending = st == H2O_SEND_STATE_IN_PROGRESS;
    if (st == H2O_SEND_STATE_FINAL)
        ch->final_queued = 2; /* sent */
    ch->sends++;
    h2o_send(ch->r->h2o, &b, b.len ? 1 : 0, st);
}

/* Appends text as the body of a JSON string (the text is UTF-8 from a JSON parser). */
static void out_json_text(outbuf_t *b, const char *t, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    out_reserve(b, n * 6 + 2); /* every byte may become \u00XX */
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    b->len = (size_t)(o - b->data);
}

/*
 * The chunks are written directly, not built with jansson: packing and
 * dumping a tree for each was a tenth of the gateway's time per streamed
 * answer. Only the text and the finish reason need escaping; the id, the
 * model name and the numbers hold nothing JSON must escape (codegen checks
 * model names; ids are ours). The layout is what json_dumpb(JSON_COMPACT)
 * made of the same objects, member order included.
 */
static void chunk_open(chat_t *ch)
{
    out_append(&ch->pending, ch->chunk_head, ch->chunk_head_len);
}

/* A text delta: the hot path of every stream. */
static void out_delta(chat_t *ch, const char *text, size_t len)
{
    static const char open[] = "{\"index\":0,\"delta\":{\"content\":\"";
    static const char close[] = "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    chunk_open(ch);
    out_append(&ch->pending, open, sizeof(open) - 1);
    out_json_text(&ch->pending, text, len);
    out_append(&ch->pending, close, sizeof(close) - 1);
}

/* The first chunk: the assistant's role, no text yet (as OpenAI sends it). */
static void out_role(chat_t *ch)
{
    static const char body[] =
        "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    chunk_open(ch);
    out_append(&ch->pending, body, sizeof(body) - 1);
}

static void out_finish(chat_t *ch, const char *reason)
{
    static const char open[] = "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
    static const char close[] = "\"}]}\n\n";
    chunk_open(ch);
    out_append(&ch->pending, open, sizeof(open) - 1);
    out_json_text(&ch->pending, reason, strlen(reason));
    out_append(&ch->pending, close, sizeof(close) - 1);
}

/* The usage chunk of stream_options.include_usage: empty choices. */
static void out_usage(chat_t *ch)
{
    char tail[160];
    int n = snprintf(tail, sizeof(tail), "],\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld}}\n\n",
                     ch->prompt_tokens, ch->completion_tokens, ch->prompt_tokens + ch->completion_tokens);
    chunk_open(ch);
    out_append(&ch->pending, tail, (size_t)n);
}

/* The first byte to the client: from here on, no other candidate. */
static void commit(chat_t *ch)
{
    if (ch->committed || ch->r == NULL)
        return;
    ch->committed = 1;
    entry_stop(&ch->deadline_timer);
    ch->gen.proceed = on_proceed;
    ch->gen.stop = on_stop;
    tf_add_header(ch->r, "x-triforce-provider", ch->node);
    tf_add_header(ch->r, "x-triforce-model", ch->answered);
    tf_add_header(ch->r, "x-triforce-fallback-used", ch->cur_index > 0 ? "true" : "false");
    queued_header(ch);
    tf_respond_stream_start(ch->r, 200, "text/event-stream; charset=utf-8", &ch->gen);
    int n = snprintf(ch->chunk_head, sizeof(ch->chunk_head),
                     "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":\"%s\",\"choices\":[",
                     ch->id, ch->created, ch->answered);
    /* cannot be cut: id is at most 63 bytes, the model name 255 */
    ch->chunk_head_len = (size_t)n < sizeof(ch->chunk_head) ? (size_t)n : sizeof(ch->chunk_head) - 1;
    out_role(ch);
}

static void on_event(void *ud, const tf_adapt_event_t *ev)
{
    chat_t *ch = ud;
    switch (ev->kind) {
    case TF_ADAPT_EV_DELTA:
        if (ch->first_event_ns == 0) {
            ch->first_event_ns = tf_now_ns();
            commit(ch);
        }
        ch->text_bytes += ev->len;
        out_delta(ch, ev->text, ev->len);
        break;
    case TF_ADAPT_EV_FINISH:
        copy_str(ch->finish_reason, sizeof(ch->finish_reason), ev->finish_reason ? ev->finish_reason : "stop");
        break;
    case TF_ADAPT_EV_USAGE:
        if (ev->prompt_tokens >= 0)
            ch->prompt_tokens = ev->prompt_tokens;
        if (ev->completion_tokens >= 0)
            ch->completion_tokens = ev->completion_tokens;
        break;
    case TF_ADAPT_EV_DONE:
        ch->upstream_done = 1;
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Attempts                                                            */

static void health_report(chat_t *ch, int ok, const char *error)
{
    if (!ch->outcome_pending)
        return;
    ch->outcome_pending = 0;
    double ms = (double)(tf_now_ns() - ch->attempt_ns) / 1e6;
    if (ok && ch->first_event_ns)
        ms = (double)(ch->first_event_ns - ch->attempt_ns) / 1e6;
    tf_health_report(ch->cur->node->health, ok, ms, error, ch->breaker_failures, ch->breaker_open_ms, tf_now_ns());
}

/* The current attempt failed: report it, then the next candidate or the end. */
static void attempt_failed(chat_t *ch, const char *why)
{
    timer_stop(ch);
    health_report(ch, 0, why);
    note_tried(ch, ch->cur->node->key, why);
    tf_log(TF_LOG_WARN, "upstream", ch->r ? ch->r->id : NULL, "%s (%s) failed: %s", ch->cur->node->key, ch->cur->model->name, why);
    if (ch->committed) {
        ch->failed_midstream = 1;
        finalize(ch, 0, why);
        return;
    }
    try_next(ch);
}

static void on_flush_timer(h2o_timeout_entry_t *e)
{
    flush(H2O_STRUCT_FROM_MEMBER(chat_t, flush_timer, e));
}

static int on_data(void *ud, const char *data, size_t len)
{
    chat_t *ch = ud;
    if (ch->parser == NULL)
        return -1;
    if (ch->sending && ch->pending.len >= STREAM_PENDING_MAX && ch->xfer != NULL && tf_curl_can_pause(ch->xfer)) {
        /* The client is behind: these bytes stay with curl (on_proceed
         * takes them up again). A paused provider is not an idle one. */
        ch->upstream_paused = 1;
        timer_stop(ch);
        return TF_CURL_PAUSE;
    }
    if (tf_adapt_stream_feed(ch->parser, data, len, ch->parse_err, sizeof(ch->parse_err)) != 0) {
        ch->parse_failed = 1;
        return -1;
    }
    if (ch->first_event_ns != 0)
        timer_arm(ch, ch->idle_ms); /* from now on, silence is the failure */
    /* Not sent yet: curl hands over one HTTP chunk per call, and an answer
     * that arrived in one read would otherwise leave in two writes (the
     * first chunk now, the rest after h2o's proceed), which the client
     * wakes up for twice. The answer's first write goes at the end of this
     * loop turn (time to first token is what a reader sees); later chunks
     * wait up to coalesce_ms for the ones behind them (a provider sends a
     * token per event, often several per millisecond: one write and one
     * client wake-up each otherwise, measured at 5-7 writes for a 16-token
     * answer against 2 now). The end of the answer flushes at once. */
    if (ch->pending.len > 0 && !h2o_timeout_is_linked(&ch->flush_timer)) {
        ch->flush_timer.cb = on_flush_timer;
        h2o_timeout_link(ch->thr->ctx.loop, timeout_for(ch->thr->ctx.loop, ch->sends > 0 ? ch->coalesce_ms : 0), &ch->flush_timer);
    }
    return 0;
}

static void on_done(void *ud, CURLcode rc, long status, const char *body, size_t len)
{
    chat_t *ch = ud;
    ch->xfer = NULL;
    slot_leave(ch);
    timer_stop(ch);
    char why[200];
    if (ch->parse_failed) {
        snprintf(why, sizeof(why), "bad answer: %s", ch->parse_err);
        attempt_failed(ch, why);
        return;
    }
    if (rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc));
        attempt_failed(ch, why);
        return;
    }
    if (status < 200 || status > 299) {
        snprintf(why, sizeof(why), "HTTP %ld", status);
        attempt_failed(ch, why);
        return;
    }
    if (ch->stream) {
        if (!tf_adapt_stream_end(ch->parser) && !ch->upstream_done) {
            attempt_failed(ch, "stream ended early");
            return;
        }
        health_report(ch, 1, NULL);
        finalize(ch, 1, NULL);
        return;
    }
    tf_adapt_result_t res;
    memset(&res, 0, sizeof(res));
    char err[160];
    if (tf_adapt_parse((tf_proto_t)ch->cur->node->proto, body, len, &res, err, sizeof(err)) != 0) {
        snprintf(why, sizeof(why), "bad answer: %s", err);
        attempt_failed(ch, why);
        return;
    }
    health_report(ch, 1, NULL);
    ch->content = res.content;
    res.content = NULL;
    ch->text_bytes = strlen(ch->content);
    copy_str(ch->finish_reason, sizeof(ch->finish_reason), res.finish_reason[0] ? res.finish_reason : "stop");
    ch->prompt_tokens = res.prompt_tokens;
    ch->completion_tokens = res.completion_tokens;
    tf_adapt_result_free(&res);
    finalize(ch, 1, NULL);
}

static void on_attempt_timeout(h2o_timeout_entry_t *e)
{
    chat_t *ch = H2O_STRUCT_FROM_MEMBER(chat_t, attempt_timer, e);
    if (ch->xfer == NULL)
        return;
    tf_curl_cancel(ch->xfer);
    ch->xfer = NULL;
    slot_leave(ch);
    attempt_failed(ch, ch->first_event_ns ? "stream idle timeout" : "timeout");
}

/* The deadline passed before anything reached the client: no more attempts. */
static void on_deadline(h2o_timeout_entry_t *e)
{
    chat_t *ch = H2O_STRUCT_FROM_MEMBER(chat_t, deadline_timer, e);
    if (ch->committed || ch->r == NULL)
        return;
    ch->next = ch->ncand;
    if (ch->xfer != NULL) {
        tf_curl_cancel(ch->xfer);
        ch->xfer = NULL;
        slot_leave(ch);
        attempt_failed(ch, "timeout (deadline)");
    } else if (ch->waiting != NULL) {
        queue_drop(ch, TF_ADMIT_TIMEOUT);
        note_tried(ch, ch->wait_cand->node->key, "queue timeout (deadline)");
        try_next(ch);
    }
}

/* The upstream request (URL, headers, body): curl reads it until the
 * transfer is off the multi handle, which for a cancelled one is the next
 * tick, after the chat may be gone, or on to its next attempt. So the
 * transfer owns it (tf_curl_attach). */
static void http_release(void *p)
{
    tf_adapt_http_free(p);
    free(p);
}

/* The node's http2 setting (tf_conf.h); returns the tf_curl_t to start the
 * call on. Where HTTP/2 may come over TLS, a call waits for a connection
 * being opened to the node rather than opening its own, so concurrent
 * calls become streams of one connection; h2c nodes go through
 * tf_curl_h2c_prepare, which upgrades one connection at a time on the
 * thread's tf_curl_t for h2c (curl_h2c, see tf_curl.h for why it is apart).
 *
 * On an h2c node only streams take HTTP/2, and only those that overlap
 * others to the node on this thread (a lone one takes HTTP/1.1, see
 * tf_curl.h). curl 7.88's HTTP/2 path costs a call about 25-30 us p50 at
 * concurrency 1 in tests/bench/chat.sh, and a whole answer gains nothing
 * from sharing a connection (the same requests/s at concurrency 64). A
 * stream's many small events are what multiplexing saves. */
static tf_curl_t *set_http_version(chat_t *ch, CURL *e, const tf_mesh_node_t *n)
{
    int tls = strncmp(n->base_url, "https://", 8) == 0;
    if (n->http2 == TF_CONF_HTTP2_OFF || (n->http2 == TF_CONF_HTTP2_H2C && !tls && !ch->stream)) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    } else if (n->http2 == TF_CONF_HTTP2_H2C && !tls) {
        return tf_curl_h2c_prepare(ch->thr->curl_h2c, ch->thr->curl, e, n->key);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        if (tls)
            curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    }
    return ch->thr->curl;
}

static int start_attempt(chat_t *ch, const tf_candidate_t *c)
{
    char err[200];
    tf_adapt_http_t *http = calloc(1, sizeof(*http));
    if (http == NULL || tf_adapt_build_raw((tf_proto_t)c->node->proto, c->node->base_url, c->node->api_key, c->model->upstream,
                                           ch->req, ch->raw, ch->raw_len, ch->stream, http, err, sizeof(err)) != 0) {
        free(http);
        note_tried(ch, c->node->key, http == NULL ? "out of memory" : err);
        return -1;
    }
    if (ch->parser != NULL)
        tf_adapt_stream_free(ch->parser);
    ch->parser = ch->stream ? tf_adapt_stream_new((tf_proto_t)c->node->proto, on_event, ch) : NULL;
    ch->parse_failed = 0;
    ch->upstream_done = 0;
    ch->first_event_ns = 0;
    ch->prompt_tokens = ch->completion_tokens = -1;
    ch->finish_reason[0] = '\0';

    uint64_t left = remaining_ms(ch);
    uint64_t attempt = ch->attempt_ms < left ? ch->attempt_ms : left; /* for curl's backstop */
    CURL *e = tf_curl_easy(ch->thr->curl);
    if (e == NULL) {
        http_release(http);
        note_tried(ch, c->node->key, "out of memory");
        return -1;
    }
    curl_easy_setopt(e, CURLOPT_URL, http->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, http->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, http->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)http->body_len);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ch->connect_ms < attempt ? ch->connect_ms : attempt));
    /* Our timer ends the attempt; curl's total timeout is only a backstop
     * (none for streams, which may run long: the idle timer covers them). */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ch->stream ? 0L : (long)attempt + 1000L);
    tf_curl_t *tc = set_http_version(ch, e, c->node);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "TriForce/1");
    ch->cur = c;
    ch->attempts++;
    ch->attempt_ns = tf_now_ns();
    ch->xfer = ch->stream ? tf_curl_start_stream(tc, e, MAX_ERROR_BYTES, on_data, on_done, ch)
                          : tf_curl_start(tc, e, MAX_ANSWER_BYTES, on_done, ch);
    if (ch->xfer == NULL) { /* the easy handle is gone already: nothing points at http */
        http_release(http);
        note_tried(ch, c->node->key, "could not start the transfer");
        return -1;
    }
    tf_curl_attach(ch->xfer, http_release, http);
    ch->outcome_pending = 1;
    timer_arm(ch, ch->attempt_ms);
    copy_str(ch->answered, sizeof(ch->answered), c->model->name);
    copy_str(ch->backend, sizeof(ch->backend), c->node->provider->id);
    copy_str(ch->node, sizeof(ch->node), c->node->key);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Capped nodes (tf_admit): wait for a slot before the upstream call   */

/* The slot this chat holds (its upstream call ended) goes to the next waiter. No-op when uncapped. */
static void slot_leave(chat_t *ch)
{
    if (ch->slot != NULL) {
        tf_admit_leave(ch->slot);
        ch->slot = NULL;
    }
}

/* Leaves the queue (timeout, deadline, client gone): no slot will come. */
static void queue_drop(chat_t *ch, int why)
{
    if (ch->waiting == NULL)
        return;
    tf_admit_cancel(ch->waiting, why);
    ch->waiting = NULL;
    ch->queued_ns += tf_now_ns() - ch->wait_ns;
    timer_stop(ch);
    tf_health_abandon(ch->wait_cand->node->health); /* tf_health_admit let it through */
    ch->busy++;
}

static void queued_header(chat_t *ch)
{
    if (ch->queued_ns == 0)
        return;
    char v[24];
    snprintf(v, sizeof(v), "%" PRIu64, ch->queued_ns / 1000000u);
    tf_add_header(ch->r, "x-triforce-queued-ms", v);
}

/* Every candidate left was busy: 503 upstream_busy, come back in about a queue timeout. */
static void queue_busy(chat_t *ch)
{
    char ra[24];
    snprintf(ra, sizeof(ra), "%u", ch->r->conf->queue_timeout_ms / 1000 + 1);
    chat_fail(ch, 503, ra, NULL, "upstream_busy", "model", "every provider for '%s' is at its limit of concurrent requests: %s",
              ch->model_req, ch->tried);
}

static void on_queue_timeout(h2o_timeout_entry_t *e)
{
    chat_t *ch = H2O_STRUCT_FROM_MEMBER(chat_t, attempt_timer, e);
    const tf_candidate_t *c = ch->wait_cand;
    queue_drop(ch, TF_ADMIT_TIMEOUT);
    note_tried(ch, c->node->key, "queue timeout");
    tf_log(TF_LOG_WARN, "upstream", ch->r ? ch->r->id : NULL, "%s (%s): no free slot in time", c->node->key, c->model->name);
    try_next(ch); /* like a failed attempt: the next candidate, or the end */
}

/* The slot arrived, on this chat's own thread (tf_admit never calls a chat that gave up). */
static void on_slot(void *ud)
{
    chat_t *ch = ud;
    const tf_candidate_t *c = ch->wait_cand;
    ch->waiting = NULL;
    ch->slot = c->node->admit;
    ch->queued_ns += tf_now_ns() - ch->wait_ns;
    timer_stop(ch);
    if (remaining_ms(ch) == 0) { /* the deadline is due this very tick: no call without time for it */
        note_tried(ch, c->node->key, "queue timeout (deadline)");
        ch->busy++;
    } else if (start_attempt(ch, c) == 0) {
        return;
    }
    slot_leave(ch);
    tf_health_abandon(c->node->health);
    try_next(ch);
}

/* Right before an upstream call to c: 0 to go on now (uncapped: no lock
 * taken, or a slot was free), 1 when the chat now waits in c's queue. */
static int queue_enter(chat_t *ch, const tf_candidate_t *c)
{
    tf_admit_t *a = c->node->admit;
    if (a == NULL)
        return 0;
    if (tf_admit_enter(a, c->node->max_concurrent, ch->tier->priority, ch->thr, on_slot, ch, &ch->waiting) == TF_ADMIT_NOW) {
        ch->slot = a;
        return 0;
    }
    ch->wait_cand = c;
    ch->wait_ns = tf_now_ns();
    /* The deadline timer still bounds the wait by the request's own deadline. */
    entry_stop(&ch->attempt_timer);
    ch->attempt_timer.cb = on_queue_timeout;
    h2o_timeout_link(ch->thr->ctx.loop, timeout_for(ch->thr->ctx.loop, ch->r->conf->queue_timeout_ms), &ch->attempt_timer);
    return 1;
}

/* Every candidate failed (or none could be tried): 502, or 503 when nothing was tried. */
static void fail_all(chat_t *ch)
{
    timer_close(ch);
    if (ch->r == NULL)
        return;
    if (ch->attempts == 0 && ch->busy > 0) {
        queue_busy(ch);
        return;
    }
    if (ch->attempts == 0) {
        /* Every candidate's circuit is open: come back when the first one lets a probe through. */
        char ra[24];
        snprintf(ra, sizeof(ra), "%" PRIu64, ch->pick.retry_in_ms ? ch->pick.retry_in_ms / 1000 + 1 : 5);
        chat_fail(ch, 503, ra, NULL, "no_provider_available", "model", "no provider for '%s' could be tried%s%s", ch->model_req,
                         ch->tried[0] ? ": " : " (all are failing; retry shortly)", ch->tried);
        return;
    }
    if (remaining_ms(ch) == 0)
        note_tried(ch, "deadline", "reached");
    chat_fail(ch, 502, NULL, NULL, "upstream_failed", NULL, "every provider failed for '%s' (%d attempt%s): %s", ch->model_req,
                     ch->attempts, ch->attempts == 1 ? "" : "s", ch->tried);
}

static void try_next(chat_t *ch)
{
    if (ch->r == NULL)
        return;
    while (ch->next < ch->ncand && remaining_ms(ch) > 0 && (unsigned)ch->attempts < ch->max_attempts) {
        ch->cur_index = ch->next;
        const tf_candidate_t *c = &ch->cand[ch->next++];
        if (!tf_health_admit(c->node->health, tf_now_ns(), ch->breaker_open_ms)) {
            note_tried(ch, c->node->key, "circuit open");
            continue;
        }
        if (queue_enter(ch, c)) /* waits for a slot of a capped node: on_slot goes on */
            return;
        if (start_attempt(ch, c) == 0)
            return;
        slot_leave(ch);
        tf_health_abandon(c->node->health);
    }
    fail_all(ch);
}

/* ------------------------------------------------------------------ */
/* The end: record the tokens, then answer                              */

static void respond_full(chat_t *ch)
{
    tf_req_t *r = ch->r;
    long long total = ch->prompt_tokens + ch->completion_tokens;
    if (ch->cb != NULL) {
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b, s:i, s:s?}", "response", ch->content, "model",
                              ch->answered, "provider", ch->backend, "node", ch->node, "finish_reason", ch->finish_reason,
                              "prompt_tokens", (json_int_t)ch->prompt_tokens, "completion_tokens", (json_int_t)ch->completion_tokens,
                              "total_tokens", (json_int_t)total, "usage_estimated", ch->usage_estimated, "fallback_used",
                              ch->cur_index > 0, "attempts", ch->attempts, "task", ch->pick.task);
        ch->cb_called = 1;
        ch->cb(ch->cb_ud, 200, a);
        detach(ch);
        maybe_free(ch);
        return;
    }
    tf_add_header(r, "x-triforce-provider", ch->node);
    tf_add_header(r, "x-triforce-fallback-used", ch->cur_index > 0 ? "true" : "false");
    queued_header(ch);
    if (ch->shape == TF_CHAT_CLIENT) {
        tf_respond_json(r, 200,
                        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:b, s:s?}", "response", ch->content, "model",
                                  ch->answered, "tier", ch->tier->id, "backend", ch->backend, "tokens_used", (json_int_t)total,
                                  "prompt_tokens", (json_int_t)ch->prompt_tokens, "completion_tokens",
                                  (json_int_t)ch->completion_tokens, "latency_ms",
                                  (json_int_t)((tf_now_ns() - ch->start_ns) / 1000000ull), "fallback_used", ch->cur_index > 0,
                                  "usage_estimated", ch->usage_estimated, "task", ch->pick.task));
        return;
    }
    /* chat.completion written directly (jansson's pack and dump were a tenth
     * of the gateway's time per answer, snprintf's format parsing then half
     * of what was left). Everything but the text is ours: ids, model and
     * provider names, finish reasons, numbers, none needing escapes. */
    outbuf_t b = {0};
    size_t text_len = strlen(ch->content);
    out_reserve(&b, text_len + 1024);
    out_str(&b, "{\"id\":\"");
    out_str(&b, ch->id);
    out_str(&b, "\",\"object\":\"chat.completion\",\"created\":");
    out_lld(&b, ch->created);
    out_str(&b, ",\"model\":\"");
    out_str(&b, ch->answered);
    out_str(&b, "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
    out_json_text(&b, ch->content, text_len);
    out_str(&b, "\"},\"logprobs\":null,\"finish_reason\":\"");
    out_str(&b, ch->finish_reason);
    out_str(&b, "\"}],\"usage\":{\"prompt_tokens\":");
    out_lld(&b, ch->prompt_tokens);
    out_str(&b, ",\"completion_tokens\":");
    out_lld(&b, ch->completion_tokens);
    out_str(&b, ",\"total_tokens\":");
    out_lld(&b, total);
    out_str(&b, "},\"triforce\":{\"provider\":\"");
    out_str(&b, ch->backend);
    out_str(&b, "\",\"node\":\"");
    out_str(&b, ch->node);
    out_str(&b, ch->cur_index > 0 ? "\",\"fallback_used\":true,\"attempts\":" : "\",\"fallback_used\":false,\"attempts\":");
    out_lld(&b, ch->attempts);
    out_str(&b, ",\"strategy\":\"");
    out_str(&b, tf_strategy_name(ch->strategy));
    out_str(&b, ch->usage_estimated ? "\",\"usage_estimated\":true" : "\",\"usage_estimated\":false");
    if (ch->pick.task) {
        out_str(&b, ",\"task\":\"");
        out_str(&b, ch->pick.task);
        out_str(&b, "\"");
    }
    out_str(&b, "}}\n");
    h2o_iovec_t body = h2o_strdup(&r->h2o->pool, b.data, b.len);
    free(b.data);
    tf_respond_raw(r, 200, "application/json", body);
}

static void end_stream(chat_t *ch, const char *error)
{
    if (ch->r == NULL)
        return;
    commit(ch);
    if (error != NULL) {
        out_json(&ch->pending, json_pack("{s:{s:s, s:s, s:s}}", "error", "message", error, "type", "upstream_error", "code",
                                         "upstream_failed"));
    } else {
        out_finish(ch, ch->finish_reason[0] ? ch->finish_reason : "stop");
        if (ch->include_usage)
            out_usage(ch);
        out_append(&ch->pending, "data: [DONE]\n\n", 14);
    }
    ch->final_queued = 1;
    flush(ch);
}

static void on_recorded(void *ud, PGresult *res, const char *err)
{
    chat_t *ch = ud;
    ch->db_pending = 0;
    if (res == NULL && err == NULL) {
        /* batched: nothing to check */
    } else if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        tf_log(TF_LOG_ERROR, "usage", ch->r ? ch->r->id : NULL, "usage of %s not recorded (%lld+%lld tokens, %s): %s", ch->subject,
               ch->prompt_tokens, ch->completion_tokens, ch->answered, err ? err : PQresultErrorMessage(res));
    if (ch->r != NULL) {
        if (ch->stream)
            end_stream(ch, ch->failed_midstream ? "the provider failed during the answer" : NULL);
        else
            respond_full(ch);
    }
    maybe_free(ch);
}

/* Fills in what the provider did not say about tokens. */
static void settle_usage(chat_t *ch)
{
    if (ch->prompt_tokens < 0) {
        ch->prompt_tokens = ch->prompt_estimate;
        ch->usage_estimated = 1;
    }
    if (ch->completion_tokens < 0) {
        ch->completion_tokens = tf_adapt_estimate_tokens(ch->text_bytes);
        ch->usage_estimated = 1;
    }
}

static void finalize(chat_t *ch, int ok, const char *error)
{
    timer_close(ch);
    settle_usage(ch);
    ch->recorded = 1;
    /* No limit depends on these tokens: batched, and the answer goes now. */
    if (!tf_usage_counts_tokens(ch->tier, ch->answered)) {
        tf_usage_batch_add(ch->thr->usage, ch->subject, ch->answered, ch->prompt_tokens, ch->completion_tokens);
        ch->db_pending = 1; /* on_recorded clears it */
        on_recorded(ch, NULL, NULL);
        return;
    }
    if (tf_usage_record(ch->thr->db, ch->subject, ch->answered, ch->prompt_tokens, ch->completion_tokens, on_recorded, ch) != NULL) {
        ch->db_pending = 1;
        return;
    }
    /* The database is down: the answer is already paid for upstream, so
     * the client gets it; the loss is logged for the operator. */
    on_recorded(ch, NULL, "database unavailable");
}

/* ------------------------------------------------------------------ */
/* Admission                                                           */

static void on_admitted(void *ud, const tf_usage_verdict_t *v)
{
    chat_t *ch = ud;
    if (ch->cb != NULL)
        ch->adq = NULL;
    else
        ch->r->dbq = NULL;
    if (v->verdict == TF_USAGE_UNAVAILABLE) {
        chat_fail(ch, 503, "5", NULL, "database_unavailable", NULL, "the database is unavailable; try again shortly");
        return;
    }
    if (v->verdict != TF_USAGE_OK) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", v->retry_after);
        int rate = v->verdict == TF_USAGE_RATE_LIMITED;
        json_t *extra = json_pack("{s:s, s:I, s:I, s:i, s:s}", "limit", v->limit, "limit_value",
                                  (json_int_t)(rate ? v->requests_limit : v->tokens_limit), "used",
                                  (json_int_t)(rate ? v->requests_this_hour : v->tokens_used), "retry_after", (int)v->retry_after,
                                  "tier", ch->tier->id);
        chat_fail(ch, 429, ra, extra, rate ? "rate_limit_exceeded" : "daily_token_limit_exceeded", NULL, "%s",
                  rate ? "too many requests this hour for your tier" : "the daily token limit of your tier is used up");
        return;
    }
    try_next(ch);
}

/* The request is gone, or (callback mode) the answer was delivered: stop
 * everything still running for it and free what no write still needs. */
static void detach(chat_t *ch)
{
    if (ch->adq != NULL) {
        tf_db_cancel(ch->adq); /* the admission query */
        ch->adq = NULL;
    }
    ch->r = NULL;
    if (ch->xfer != NULL) {
        /* The client left: the upstream transfer goes too. */
        tf_curl_cancel(ch->xfer);
        ch->xfer = NULL;
        if (ch->outcome_pending)
            tf_health_abandon(ch->cur->node->health);
        ch->outcome_pending = 0;
    }
    slot_leave(ch);
    queue_drop(ch, TF_ADMIT_GONE);
    timer_close(ch);
    /* Tokens already streamed are owed even though the client left. */
    if (ch->committed && !ch->recorded) {
        ch->recorded = 1;
        settle_usage(ch);
        tf_usage_batch_add(ch->thr->usage, ch->subject, ch->answered, ch->prompt_tokens, ch->completion_tokens);
    }
}

static void on_dispose(tf_req_t *r)
{
    chat_t *ch = r->hctx;
    detach(ch);
    maybe_free(ch);
}

void tf_chat_cancel(tf_chat_t *ch)
{
    if (ch == NULL || ch->cb_called)
        return;
    ch->cb_called = 1; /* done is not called any more */
    detach(ch);
    maybe_free(ch);
}

/* ------------------------------------------------------------------ */
/* The request                                                         */

static void content_ptr(char *buf, size_t n, size_t i)
{
    snprintf(buf, n, "/messages/%zu/content", i);
}

/* Content checks the schema subset cannot say (string, null or an array of parts). */
static int check_messages(chat_t *ch, json_t *msgs, const char **last_user)
{
    size_t i;
    json_t *m;
    *last_user = NULL;
    json_array_foreach(msgs, i, m) {
        json_t *c = json_object_get(m, "content");
        char ptr[64];
        /* the pointer is formatted only for an error: this loop runs for
         * every message of every chat */
        if (c != NULL && !json_is_string(c) && !json_is_null(c) && !json_is_array(c)) {
            content_ptr(ptr, sizeof(ptr), i);
            chat_fail(ch, 400, NULL, NULL, "invalid_type", ptr, "%s must be a string, null or an array of content parts", ptr);
            return -1;
        }
        if (json_is_array(c)) {
            size_t k;
            json_t *part;
            json_array_foreach(c, k, part) {
                json_t *t = json_object_get(part, "type");
                if (!json_is_object(part) || !json_is_string(t)) {
                    content_ptr(ptr, sizeof(ptr), i);
                    chat_fail(ch, 400, NULL, NULL, "invalid_type", ptr, "%s/%zu must be an object with a string \"type\"", ptr, k);
                    return -1;
                }
                if (strcmp(json_string_value(t), "text") == 0 && !json_is_string(json_object_get(part, "text"))) {
                    content_ptr(ptr, sizeof(ptr), i);
                    chat_fail(ch, 400, NULL, NULL, "invalid_type", ptr, "%s/%zu/text must be a string", ptr, k);
                    return -1;
                }
            }
        }
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role != NULL && strcmp(role, "user") == 0) {
            if (json_is_string(c))
                *last_user = json_string_value(c);
            else if (json_is_array(c) && json_array_size(c) > 0 && json_is_string(json_object_get(json_array_get(c, 0), "text")))
                *last_user = json_string_value(json_object_get(json_array_get(c, 0), "text"));
        }
    }
    return 0;
}

/* Everything up to the first attempt (or the admission query). Returns
 * NULL when the chat already ended (an error; in callback mode the
 * callback has run and the chat is freed). */
static chat_t *start(tf_req_t *r, json_t *req, int shape, tf_chat_done_fn cb, void *ud)
{
    tf_conf_t *conf = r->conf;
    const char *model = json_string_value(json_object_get(req, "model"));
    if (model == NULL || model[0] == '\0')
        model = "auto";
    chat_t *ch = calloc(1, sizeof(*ch));
    ch->thr = r->thr;
    ch->req = json_incref(req);
    /* Attempts run only while the request (and so its body) is alive. The
     * client's bytes stand for the body only while the validator added
     * nothing to it (a schema default, at any depth). */
    if (cb == NULL && shape == TF_CHAT_OPENAI && req == r->body && r->body_defaults == 0 && r->h2o->entity.base != NULL) {
        ch->raw = r->h2o->entity.base;
        ch->raw_len = r->h2o->entity.len;
    }
    ch->shape = shape;
    ch->cb = cb;
    ch->cb_ud = ud;
    ch->stream = cb == NULL && shape == TF_CHAT_OPENAI && json_is_true(json_object_get(req, "stream"));
    ch->include_usage = json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
    ch->allow_fallback = !json_is_false(json_object_get(req, "fallback"));
    copy_str(ch->model_req, sizeof(ch->model_req), model);
    ch->tier = tf_conf_tier(r->conf, r->who.tier);
    if (r->who.authenticated)
        copy_str(ch->subject, sizeof(ch->subject), r->who.user_id);
    else
        snprintf(ch->subject, sizeof(ch->subject), "guest:%s", tf_req_limit_key(r));
    ch->start_ns = tf_now_ns();
    ch->deadline_ns = ch->start_ns + (uint64_t)conf->deadline_ms * 1000000ull;
    ch->connect_ms = conf->connect_timeout_ms;
    ch->attempt_ms = conf->attempt_timeout_ms;
    ch->idle_ms = conf->stream_idle_ms;
    ch->coalesce_ms = conf->stream_coalesce_ms;
    ch->breaker_failures = conf->breaker_failures;
    ch->breaker_open_ms = conf->breaker_open_ms;
    ch->max_attempts = conf->max_attempts ? conf->max_attempts : 4;
    ch->prompt_estimate = tf_adapt_estimate_prompt(req);
    ch->prompt_tokens = ch->completion_tokens = -1;
    memcpy(ch->id, "chatcmpl-", 9);
    copy_str(ch->id + 9, sizeof(ch->id) - 9, r->id);
    ch->created = (long long)time(NULL);
    ch->r = r;
    /* The HTTP request owns the chat only when the chat answers it. */
    if (cb == NULL) {
        r->hctx = ch;
        r->on_dispose = on_dispose;
    }
    ch->deadline_timer.cb = on_deadline;
    h2o_timeout_link(r->thr->ctx.loop, timeout_for(r->thr->ctx.loop, conf->deadline_ms), &ch->deadline_timer);

    const char *last_user = NULL;
    if (check_messages(ch, json_object_get(req, "messages"), &last_user) != 0)
        return NULL;
    int strategy = -1;
    const char *sname = json_string_value(json_object_get(req, "strategy"));
    if (sname != NULL && (strategy = tf_strategy_from_name(sname)) < 0) {
        chat_fail(ch, 400, NULL, NULL, "invalid_value", "/strategy", "/strategy must be one of fallback, round_robin, fastest, cheapest, best, random");
        return NULL;
    }
    ch->strategy = strategy < 0 ? conf->mesh->strategy : strategy;
    tf_mesh_candidates(conf->mesh, conf, model, last_user, ch->tier, ch->strategy, ch->allow_fallback, tf_now_ns(), ch->cand,
                       MAX_CANDIDATES, &ch->pick);
    ch->ncand = ch->pick.count;
    if (!ch->pick.known) {
        chat_fail(ch, 404, NULL, NULL, "model_not_found", "model", "the model '%s' does not exist (GET /v1/models lists them)", model);
        return NULL;
    }
    if (!ch->pick.allowed) {
        chat_fail(ch, 403, NULL, NULL, "model_not_allowed", "model", "the %s tier cannot use '%s' (GET /v1/client/models lists yours)",
                  ch->tier->id, model);
        return NULL;
    }
    if (!ch->pick.usable || ch->ncand == 0) {
        chat_fail(ch, 503, "60", NULL, "no_provider_available", "model", "no configured provider serves '%s' now", model);
        return NULL;
    }
    if (!tf_usage_needs_admission(ch->tier, ch->cand[0].model->name)) {
        try_next(ch); /* no hourly rate, no token limit: nothing to ask the database */
        return ch->r != NULL ? ch : NULL;
    }
    tf_db_query_t *q = tf_usage_admit(r->thr->db, &ch->admit, ch->subject, ch->tier, ch->cand[0].model->name, on_admitted, ch);
    if (cb != NULL)
        ch->adq = q;
    else
        r->dbq = q;
    if (q == NULL) {
        chat_fail(ch, 503, "5", NULL, "database_unavailable", NULL, "the database is unavailable; try again shortly");
        return NULL;
    }
    return ch;
}

int tf_chat_run(tf_req_t *r, json_t *req, int shape)
{
    start(r, req, shape, NULL, NULL);
    return 0;
}

tf_chat_t *tf_chat_start(tf_req_t *r, json_t *req, tf_chat_done_fn done, void *ud)
{
    return start(r, req, TF_CHAT_CLIENT, done, ud);
}
