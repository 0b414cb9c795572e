/*
 * fake_provider - an LLM provider on loopback for tests and benchmarks.
 *
 * One process, one port (HTTP/1.1 and h2c with prior knowledge, 127.0.0.1
 * only), four wire protocols, each as the real API sends it, streaming
 * included. h2o 2.2.5 evloop, one thread, jansson. Build (as the tests do):
 *
 *   cc -std=gnu11 -O2 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
 *      -o fake_provider tests/fake/fake_provider.c -lh2o-evloop -ljansson -lssl -lcrypto -lz -lpthread
 *
 * COMMAND LINE (every switch below can also be changed at run time)
 *   --port P                  required
 *   --name NAME               instance name, default "fake" ([A-Za-z0-9._-]); sent as x-fake-name
 *                             and used in response ids (chatcmpl-NAME-N, msg_NAME_N, NAME-N)
 *   --model NAME              default model when a request names none, default "fake-model"
 *   --models a,b,c            models listed by the model-list routes (default: the --model name)
 *   --require-key             refuse requests without the protocol's key header (below)
 *   --api-key KEY             implies --require-key; any other key gets the protocol's invalid-key error
 *   --latency-ms N            wait before the response headers (default 0)
 *   --chunk-delay-ms N        wait between stream events (default 5)
 *   --fail-status S           answer every chat request with S (400..599) in the protocol's error shape
 *   --prompt-tokens N         reported input tokens (default 12)
 *   --completion-tokens N     tokens per answer (default 30)
 *   --hang                    accept chat requests and never answer them
 *   --word TEXT               every token is TEXT instead of "wN " (escaping tests)
 *   --reset-after-chunks N    cut streams abruptly after N token events
 *   --error-mid-stream N      send the protocol's in-stream error after N token events, then end
 *   --no-usage                leave out every usage/count field
 *   --no-h2c                  answer Upgrade: h2c over HTTP/1.1 (no upgrade)
 *
 * CHAT ROUTES (matched by path suffix, so any base-URL prefix works)
 *   openai     POST .../chat/completions
 *              JSON chat.completion, or with "stream":true SSE ("data: {...}\n\n"): a first chunk
 *              with delta {"role":"assistant","content":""}, one chunk per token, a chunk with
 *              delta {} and finish_reason, a usage chunk ("choices":[]) when
 *              stream_options.include_usage is true (all chunks then carry "usage":null), and
 *              "data: [DONE]". Key: Authorization: Bearer.
 *   anthropic  POST .../v1/messages
 *              Needs anthropic-version (400 without, always), model, max_tokens (>= 1) and
 *              messages. JSON message, or with "stream":true SSE with "event:" lines:
 *              message_start, content_block_start, ping, content_block_delta per token,
 *              content_block_stop, message_delta, message_stop. Key: x-api-key.
 *   gemini     POST .../models/{model}:generateContent
 *              POST .../models/{model}:streamGenerateContent?alt=sse  SSE "data: {...}\r\n\r\n"
 *              POST .../models/{model}:streamGenerateContent          a streamed JSON array
 *                                                                     "[{...},\r\n{...}]"
 *              Needs "contents" (array). One chunk per token; the last token's chunk carries
 *              finishReason and usageMetadata. Key: x-goog-api-key or ?key=.
 *   ollama     POST .../api/chat   "stream" defaults to TRUE (as in Ollama): NDJSON
 *              (application/x-ndjson), one {"message":{..},"done":false} line per token, then
 *              a "done":true line with done_reason and counts. Needs "model". No key check
 *              (Ollama has none), but the Authorization header is recorded in /_fake/last.
 *
 *   The text is completion_tokens tokens "w1 " "w2 " ... "wN " (so "w1 w2 ... wN "), cut to
 *   the request's own limit when it asks for fewer (openai max_completion_tokens or max_tokens,
 *   anthropic max_tokens, gemini generationConfig.maxOutputTokens, ollama options.num_predict
 *   >= 0); the finish reason then is length / max_tokens / MAX_TOKENS / length, else
 *   stop / end_turn / STOP / stop. Input tokens are always prompt_tokens.
 *   Order of checks: hang, latency, key, anthropic-version, fail_status, body validation.
 *
 * OTHER ROUTES
 *   GET .../api/tags        {"models":[{name,model,modified_at,size,digest,details}]}; names without
 *                           a tag get ":latest", as Ollama reports them
 *   GET .../api/version     {"version":"0.12.0"}
 *   GET /                   "Ollama is running"
 *   GET .../models          model list: gemini shape when the path has /v1beta/ or an
 *                           x-goog-api-key header, anthropic when anthropic-version is sent,
 *                           else openai ({"object":"list","data":[...]}). Not counted in stats.
 *
 * CONTROL (/_fake/..., exact paths, never delayed or failed)
 *   POST /_fake/config  JSON object, any of: latency_ms, chunk_delay_ms, fail_status (0 = off),
 *                       prompt_tokens, completion_tokens, reset_after_chunks, error_mid_stream,
 *                       garble (integers), hang, no_usage, require_key (booleans), reset (true: back to
 *                       the start-up settings first). Unknown keys or wrong types: 400 and
 *                       nothing changes. Answers {"ok":true,"config":{...}}.
 *                       Settings are read when a request arrives: a request keeps them.
 *   GET  /_fake/config  the current settings
 *   GET  /_fake/stats   {"name","requests","completed","client_closed","aborted","errors",
 *                        "by_protocol":{"openai","anthropic","gemini","ollama"},"active",
 *                        "by_version":{"1.1","2"},"connections","upgrade_asked","token_events"}
 *                       requests = completed + client_closed + aborted + active (chat routes only).
 *                       completed: answered to the end by the fake (error answers and
 *                       error_mid_stream included); errors: those of them with a non-2xx status
 *                       or an in-stream error; aborted: cut by reset_after_chunks; client_closed:
 *                       the client left first; active: in progress now. by_version: chat
 *                       requests by HTTP version (an h2c upgrade's first request counts as 2);
 *                       connections: distinct connections they came on (up to 4096).
 *                       upgrade_asked: HTTP/1.1 chat requests that asked for h2c (Upgrade)
 *                       and were answered over HTTP/1.1 (--no-h2c). token_events: stream
 *                       token events written (what a reader that stopped reading let through).
 *   POST /_fake/stats/reset  zeroes the counters (not active)
 *   GET  /_fake/last    the last chat request: {"protocol","method","path" (with query),
 *                       "version" ("1.1" or "2"),"headers":{lower-case name: value},
 *                       "body": parsed JSON or null}; null before the first one
 *
 * RESPONSE HEADERS
 *   x-fake-name: NAME on every response; x-fake-protocol: openai|anthropic|gemini|ollama on
 *   chat answers; x-request-id (openai) / request-id (anthropic); retry-after: 1 with 429;
 *   content-type application/json, text/event-stream (SSE) or application/x-ndjson (ollama).
 *
 * FAULTS, PRECISELY
 *   hang                a request taken while hang is on gets no answer until its client leaves
 *                       (counted in client_closed). Over HTTP/1.1 h2o 2.2.5 stops reading the
 *                       socket while a request is processed, so the fake watches a dup of the
 *                       connection fd to see the client leave (h2 sees it by itself).
 *   reset_after_chunks  after N token events the stream is ended with H2O_SEND_STATE_ERROR:
 *                       HTTP/1.1 gets a broken chunk and the connection closed (no terminating
 *                       0-chunk; curl exits 18 or 56), h2 gets RST_STREAM PROTOCOL_ERROR (curl 92).
 *                       N equal to the token count cuts before the end events. Gemini included.
 *   error_mid_stream    after N token events: openai data: {"error":{..,"type":"server_error"}};
 *                       anthropic event: error / overloaded_error; gemini a data (or array
 *                       element) {"error":{"code":500,..,"status":"INTERNAL"}}; ollama a line
 *                       {"error":".."}; then the response ends cleanly without the end marker.
 *   (N larger than the token count: no fault. Both set: the smaller N wins, reset on a tie.
 *   Both only apply to streams.)
 *   garble              non-zero: each piece of an answer (a whole body, each stream event,
 *                       error bodies too), by a coin toss, has 1 to 3 bytes replaced by bytes that spoil JSON,
 *                       SSE or UTF-8 (NUL, 0xff, a lone lead or continuation byte, quotes,
 *                       brackets, newlines...). Lengths stay, so HTTP framing stays valid.
 *                       Seeded by the value and the request number: a run repeats.
 *   A client leaving mid-answer is counted in client_closed and never crashes the fake.
 *   h2o 2.2.5 advertises at most 100 concurrent streams per h2 connection (fixed in the library).
 */
#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- settings ------------------------------------------------------------ */

typedef struct knobs {
    long latency_ms, chunk_delay_ms, fail_status, prompt_tokens, completion_tokens, reset_after_chunks, error_mid_stream;
    long garble; /* 0 = off, else the seed of the byte changes (see FAULTS) */
    int hang, no_usage, require_key;
} knobs_t;

static knobs_t cfg = {0, 5, 0, 12, 30, 0, 0, 0, 0, 0, 0}, cfg0;
static char g_name[64] = "fake", g_model[128] = "fake-model", g_api_key[256] = "";
#define MAX_MODELS 32
static char g_models[MAX_MODELS][128];
static int g_nmodels;

enum { P_OPENAI, P_ANTHROPIC, P_GEMINI, P_OLLAMA, P_COUNT };
static const char *const proto_names[P_COUNT] = {"openai", "anthropic", "gemini", "ollama"};

static struct {
    long requests, completed, client_closed, aborted, errors, by_proto[P_COUNT];
    long h1, h2;               /* chat requests by HTTP version */
    long upgrade_asked;        /* HTTP/1.1 ones with an Upgrade header (--no-h2c) */
    long token_events;         /* stream token events written, all requests */
    uint64_t conn_ids[4096];   /* the distinct connections chat requests came on */
    long connections;
} stats;

/* Counts a chat request's connection once (tests check that calls share one). */
static void count_connection(h2o_conn_t *conn)
{
    for (long i = 0; i < stats.connections; i++)
        if (stats.conn_ids[i] == conn->id)
            return;
    if (stats.connections < (long)(sizeof(stats.conn_ids) / sizeof(stats.conn_ids[0])))
        stats.conn_ids[stats.connections++] = conn->id;
}
static long active;
static unsigned long seq;
static json_t *last_req;

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

/* --- small helpers ------------------------------------------------------- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

/* name must be a lower-case literal (h2o keeps the pointer; h2 wants lower case) */
static void add_hdr(h2o_req_t *req, const char *name, const char *value)
{
    h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, v.base, v.len);
}

static const h2o_header_t *find_hdr(h2o_req_t *req, const char *lname)
{
    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        if (h2o_lcstris(h->name->base, h->name->len, lname, strlen(lname)))
            return h;
    }
    return NULL;
}

static int has_hdr(h2o_req_t *req, const char *lname)
{
    const h2o_header_t *h = find_hdr(req, lname);
    return h != NULL && h->value.len != 0;
}

/* value of query parameter `name` (not decoded); NULL when absent */
static const char *query_param(h2o_req_t *req, const char *name, size_t *len)
{
    if (req->query_at == SIZE_MAX)
        return NULL;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nl = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp != NULL ? amp : end;
        if ((size_t)(pe - q) >= nl && memcmp(q, name, nl) == 0 && ((size_t)(pe - q) == nl || q[nl] == '=')) {
            const char *v = (size_t)(pe - q) == nl ? pe : q + nl + 1;
            *len = (size_t)(pe - v);
            return v;
        }
        q = pe + 1;
    }
    return NULL;
}

static int ends_with(h2o_iovec_t s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.base + s.len - n, suffix, n) == 0;
}

static uint64_t now_ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* RFC 3339 with nanoseconds, as Ollama writes created_at */
static void rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, (long)ts.tv_nsec);
}

static void send_simple(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    static h2o_generator_t gen = {NULL, NULL};
    h2o_iovec_t b = h2o_strdup(&req->pool, body, len);
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = b.len;
    add_hdr(req, "content-type", ctype);
    add_hdr(req, "x-fake-name", g_name);
    h2o_start_response(req, &gen);
    h2o_send(req, &b, 1, H2O_SEND_STATE_FINAL);
}

static void send_json(h2o_req_t *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    send_simple(req, status, "application/json", s, strlen(s));
    free(s);
}

/* --- timers: h2o 2.2 timeouts are fixed-duration buckets, made on demand -- */

typedef struct bucket {
    struct bucket *next;
    long ms;
    h2o_timeout_t t;
} bucket_t;
static bucket_t *buckets;

static h2o_timeout_t *bucket_for(long ms)
{
    if (ms <= 0)
        return &ctx.zero_timeout;
    for (bucket_t *b = buckets; b != NULL; b = b->next)
        if (b->ms == ms)
            return &b->t;
    bucket_t *b = h2o_mem_alloc(sizeof(*b));
    b->ms = ms;
    h2o_timeout_init(ctx.loop, &b->t, (uint64_t)ms);
    b->next = buckets;
    buckets = b;
    return &b->t;
}

/* --- protocol error bodies ---------------------------------------------- */

static const char *gemini_status(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "NOT_IMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status < 500 ? "FAILED_PRECONDITION" : "INTERNAL";
    }
}

static const char *anthropic_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status < 500 ? "invalid_request_error" : "api_error";
    }
}

static const char *default_message(int proto, int status)
{
    switch (proto) {
    case P_OPENAI:
        if (status == 429)
            return "Rate limit reached for requests. Please try again in 1s.";
        if (status >= 500)
            return "The server had an error while processing your request. Sorry about that!";
        return "fake failure";
    case P_ANTHROPIC:
        if (status == 429)
            return "This request would exceed the rate limit for your organization. Please try again later.";
        if (status == 529)
            return "Overloaded";
        if (status >= 500)
            return "Internal server error";
        return "fake failure";
    case P_GEMINI:
        if (status == 429)
            return "Resource has been exhausted (e.g. check quota).";
        if (status == 503)
            return "The model is overloaded. Please try again later.";
        if (status >= 500)
            return "An internal error has occurred. Please retry or report in "
                   "https://developers.generativeai.google/guide/troubleshooting";
        return "fake failure";
    default:
        if (status == 503)
            return "server busy, please try again.  maximum pending requests exceeded";
        if (status >= 500)
            return "an error was encountered while running the model: fake failure";
        return "fake failure";
    }
}

/*
 * The protocol's error body. otype/ocode: openai "type"/"code" (NULL: derived
 * from the status; ocode "" means JSON null).
 */
static json_t *proto_error(int proto, int status, const char *msg, const char *otype, const char *ocode, const char *reqid)
{
    if (msg == NULL)
        msg = default_message(proto, status);
    switch (proto) {
    case P_OPENAI: {
        if (otype == NULL)
            otype = status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
        if (ocode == NULL)
            ocode = status == 429 ? "rate_limit_exceeded" : "";
        return json_pack("{s:{s:s, s:s, s:n, s:o}}", "error", "message", msg, "type", otype, "param", "code",
                         *ocode ? json_string(ocode) : json_null());
    }
    case P_ANTHROPIC:
        return json_pack("{s:s, s:{s:s, s:s}, s:s}", "type", "error", "error", "type", anthropic_type(status), "message", msg,
                         "request_id", reqid != NULL ? reqid : "req_fake");
    case P_GEMINI:
        return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status, "message", msg, "status", gemini_status(status));
    default:
        return json_pack("{s:s}", "error", msg);
    }
}

/* --- a chat request in progress ------------------------------------------ */

enum { FAULT_NONE, FAULT_RESET, FAULT_ERROR };

typedef struct pending {
    h2o_generator_t gen; /* first: h2o hands us this pointer */
    h2o_req_t *req;      /* NULL once h2o stopped the generator */
    h2o_timeout_entry_t tick;
    h2o_socket_t *watch; /* HTTP/1: a dup of the connection's fd, to see the client leave */
    knobs_t k;           /* the settings when the request arrived */
    int proto, stream, gemini_sse, include_usage, truncated;
    int started, inflight, ended, client_gone, gem_opened;
    int fault, err_status;
    long ntok, sent, fault_at;
    char *err_body; /* JSON, in the pool */
    uint64_t t0;    /* CLOCK_MONOTONIC ns at arrival */
    time_t created;
    char id[96], reqid[96];
    char qmodel[272]; /* the model as a JSON string, quotes included */
    char *out;        /* the bytes being sent (one h2o_send in flight at a time) */
    size_t out_len, out_cap;
    uint32_t rng;     /* garble's generator, seeded per request */
} pending_t;

static void outf(pending_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(pending_t *p, const char *fmt, ...)
{
    va_list ap;
    if (p->out == NULL) {
        p->out_cap = 4096;
        p->out = h2o_mem_alloc(p->out_cap);
    }
    for (;;) {
        size_t room = p->out_cap - p->out_len;
        va_start(ap, fmt);
        int n = vsnprintf(p->out + p->out_len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            p->out_len += (size_t)n;
            return;
        }
        while (p->out_cap - p->out_len <= (size_t)n)
            p->out_cap *= 2;
        p->out = h2o_mem_realloc(p->out, p->out_cap);
    }
}

static void finish(pending_t *p, int status_ok)
{
    p->ended = 1;
    active--;
    stats.completed++;
    if (!status_ok)
        stats.errors++;
}

static void start(pending_t *p, int status, const char *ctype, size_t content_length)
{
    h2o_req_t *req = p->req;
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = content_length;
    add_hdr(req, "content-type", ctype);
    add_hdr(req, "x-fake-name", g_name);
    add_hdr(req, "x-fake-protocol", proto_names[p->proto]);
    if (p->proto == P_OPENAI)
        add_hdr(req, "x-request-id", p->reqid);
    else if (p->proto == P_ANTHROPIC)
        add_hdr(req, "request-id", p->reqid);
    if (status == 429)
        add_hdr(req, "retry-after", "1");
    if (content_length == SIZE_MAX)
        add_hdr(req, "cache-control", "no-cache");
    p->started = 1;
    h2o_start_response(req, &p->gen);
}

/* xorshift32: garble's byte changes repeat for the same seed and request number. */
static uint32_t next_rand(pending_t *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 17;
    p->rng ^= p->rng << 5;
    return p->rng;
}

/* garble: 1 to 3 bytes of what is about to be sent replaced by bytes that
 * spoil JSON, SSE or UTF-8. The length stays, so HTTP framing stays valid:
 * what is tested is the gateway's reading of the answer, not of HTTP. */
static void garble(pending_t *p)
{
    static const unsigned char bad[] = {0x00, 0xff, 0xc0, 0x80, 0xe2, '"', '\\', '{', '}', '[', ']', ',', ':', '\n', '\r', ' ', 'x', '0', '-', 'e'};
    for (uint32_t n = 1 + next_rand(p) % 3; n > 0; n--)
        p->out[next_rand(p) % p->out_len] = (char)bad[next_rand(p) % sizeof(bad)];
}

/* sends p->out; FINAL/ERROR end the request (do not touch the request after) */
static void send_out(pending_t *p, h2o_send_state_t state)
{
    if (p->k.garble != 0 && p->out_len != 0 && (next_rand(p) & 1) != 0)
        garble(p);
    h2o_iovec_t b = h2o_iovec_init(p->out, p->out_len);
    if (state == H2O_SEND_STATE_IN_PROGRESS)
        p->inflight = 1;
    h2o_send(p->req, &b, p->out_len != 0 ? 1 : 0, state);
}

/* The client went away (seen on an HTTP/1 socket): count it and let h2o tear the connection down. */
static void abort_response(pending_t *p)
{
    h2o_timeout_unlink(&p->tick);
    if (p->req == NULL)
        return;
    if (!p->started)
        start(p, 500, "text/plain", SIZE_MAX);
    h2o_send(p->req, NULL, 0, H2O_SEND_STATE_ERROR);
}

static void client_left(pending_t *p)
{
    if (p->ended)
        return;
    p->ended = 1;
    p->client_gone = 1;
    active--;
    stats.client_closed++;
    if (!p->inflight)
        abort_response(p);
}

static void on_watch(h2o_socket_t *sock, const char *err)
{
    pending_t *p = sock->data;
    char c;
    ssize_t r = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    h2o_socket_read_stop(sock); /* data (a pipelined request) or the end: stop watching either way */
    if (r <= 0)
        client_left(p);
}

/* --- the answers, per protocol -------------------------------------------- */

static const char *finish_word(pending_t *p)
{
    static const char *const ok[P_COUNT] = {"stop", "end_turn", "STOP", "stop"};
    static const char *const cut[P_COUNT] = {"length", "max_tokens", "MAX_TOKENS", "length"};
    return (p->truncated ? cut : ok)[p->proto];
}

/* --word TEXT: every token is TEXT (JSON-escaped once here) instead of "wN ",
 * so tests can check that quotes, backslashes, newlines and non-ASCII text
 * survive the gateway's translation and re-encoding. */
static char g_word_json[1024];

static void word(pending_t *p, long i)
{
    if (g_word_json[0])
        outf(p, "%s", g_word_json);
    else
        outf(p, "w%ld ", i);
}

static void text_all(pending_t *p)
{
    for (long i = 1; i <= p->ntok; i++)
        word(p, i);
}

static void openai_usage(pending_t *p)
{
    long pt = p->k.prompt_tokens, ct = p->ntok;
    outf(p,
         "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld,"
         "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
         "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
         "\"rejected_prediction_tokens\":0}}",
         pt, ct, pt + ct);
}

static void openai_chunk_head(pending_t *p)
{
    outf(p,
         "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%ld,\"model\":%s,"
         "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\",\"choices\":",
         p->id, (long)p->created, p->qmodel);
}

static void openai_chunk_tail(pending_t *p)
{
    outf(p, "%s}\n\n", p->include_usage && !p->k.no_usage ? ",\"usage\":null" : "");
}

static void gemini_usage(pending_t *p)
{
    long pt = p->k.prompt_tokens, ct = p->ntok;
    outf(p,
         ",\"usageMetadata\":{\"promptTokenCount\":%ld,\"candidatesTokenCount\":%ld,\"totalTokenCount\":%ld,"
         "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":%ld}]}",
         pt, ct, pt + ct, pt);
}

/* one GenerateContentResponse of a stream; i = 0: empty text */
static void gemini_chunk(pending_t *p, long i, int last)
{
    if (p->gemini_sse)
        outf(p, "data: ");
    else
        outf(p, p->gem_opened ? ",\r\n" : "[");
    p->gem_opened = 1;
    outf(p, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"");
    if (i > 0)
        word(p, i);
    outf(p, "\"}],\"role\":\"model\"}");
    if (last)
        outf(p, ",\"finishReason\":\"%s\"", finish_word(p));
    outf(p, ",\"index\":0}]");
    if (last && !p->k.no_usage)
        gemini_usage(p);
    outf(p, ",\"modelVersion\":%s,\"responseId\":\"%s\"}", p->qmodel, p->id);
    if (p->gemini_sse)
        outf(p, "\r\n\r\n");
    else if (last)
        outf(p, "\r\n]");
}

static void ollama_head(pending_t *p)
{
    char ts[48];
    rfc3339(ts, sizeof(ts));
    outf(p, "{\"model\":%s,\"created_at\":\"%s\",\"message\":{\"role\":\"assistant\",\"content\":\"", p->qmodel, ts);
}

static void ollama_done(pending_t *p)
{
    uint64_t total = now_ns(CLOCK_MONOTONIC) - p->t0 + 3000000;
    outf(p, "\"},\"done_reason\":\"%s\",\"done\":true,\"total_duration\":%llu,\"load_duration\":1000000", finish_word(p),
         (unsigned long long)total);
    if (!p->k.no_usage)
        outf(p, ",\"prompt_eval_count\":%ld,\"prompt_eval_duration\":2000000,\"eval_count\":%ld,\"eval_duration\":%llu",
             p->k.prompt_tokens, p->ntok, (unsigned long long)(total - 3000000 > 0 ? total - 3000000 : 1));
    outf(p, "}");
}

static void answer_full(pending_t *p)
{
    switch (p->proto) {
    case P_OPENAI:
        outf(p, "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%ld,\"model\":%s,\"choices\":[{\"index\":0,"
                "\"message\":{\"role\":\"assistant\",\"content\":\"",
             p->id, (long)p->created, p->qmodel);
        text_all(p);
        outf(p, "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"%s\"}]", finish_word(p));
        if (!p->k.no_usage) {
            outf(p, ",");
            openai_usage(p);
        }
        outf(p, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\"}");
        break;
    case P_ANTHROPIC:
        outf(p, "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":%s,\"content\":[{\"type\":\"text\",\"text\":\"",
             p->id, p->qmodel);
        text_all(p);
        outf(p, "\"}],\"stop_reason\":\"%s\",\"stop_sequence\":null", finish_word(p));
        if (!p->k.no_usage)
            outf(p,
                 ",\"usage\":{\"input_tokens\":%ld,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                 "\"output_tokens\":%ld,\"service_tier\":\"standard\"}",
                 p->k.prompt_tokens, p->ntok);
        outf(p, "}");
        break;
    case P_GEMINI:
        outf(p, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"");
        text_all(p);
        outf(p, "\"}],\"role\":\"model\"},\"finishReason\":\"%s\",\"index\":0}]", finish_word(p));
        if (!p->k.no_usage)
            gemini_usage(p);
        outf(p, ",\"modelVersion\":%s,\"responseId\":\"%s\"}", p->qmodel, p->id);
        break;
    default:
        ollama_head(p);
        text_all(p);
        ollama_done(p);
        break;
    }
}

static void stream_prelude(pending_t *p)
{
    switch (p->proto) {
    case P_OPENAI:
        openai_chunk_head(p);
        outf(p, "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
                "\"finish_reason\":null}]");
        openai_chunk_tail(p);
        break;
    case P_ANTHROPIC:
        outf(p,
             "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"%s\",\"type\":\"message\","
             "\"role\":\"assistant\",\"model\":%s,\"content\":[],\"stop_reason\":null,\"stop_sequence\":null",
             p->id, p->qmodel);
        if (!p->k.no_usage)
            outf(p,
                 ",\"usage\":{\"input_tokens\":%ld,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                 "\"output_tokens\":1,\"service_tier\":\"standard\"}",
                 p->k.prompt_tokens);
        outf(p, "}}\n\n");
        outf(p, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        outf(p, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
        break;
    default:
        break;
    }
}

/* token i (1-based); returns 1 when this event ends the response (gemini's last chunk) */
static int stream_token(pending_t *p, long i)
{
    switch (p->proto) {
    case P_OPENAI:
        openai_chunk_head(p);
        outf(p, "[{\"index\":0,\"delta\":{\"content\":\"");
        word(p, i);
        outf(p, "\"},\"logprobs\":null,\"finish_reason\":null}]");
        openai_chunk_tail(p);
        return 0;
    case P_ANTHROPIC:
        outf(p, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                "\"delta\":{\"type\":\"text_delta\",\"text\":\"");
        word(p, i);
        outf(p, "\"}}\n\n");
        return 0;
    case P_GEMINI: {
        int last = i == p->ntok && p->fault_at != p->ntok;
        gemini_chunk(p, i, last);
        return last;
    }
    default:
        ollama_head(p);
        word(p, i);
        outf(p, "\"},\"done\":false}\n");
        return 0;
    }
}

static void stream_end(pending_t *p)
{
    switch (p->proto) {
    case P_OPENAI:
        openai_chunk_head(p);
        outf(p, "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}]", finish_word(p));
        openai_chunk_tail(p);
        if (p->include_usage && !p->k.no_usage) {
            openai_chunk_head(p);
            outf(p, "[],");
            openai_usage(p);
            outf(p, "}\n\n");
        }
        outf(p, "data: [DONE]\n\n");
        break;
    case P_ANTHROPIC:
        outf(p, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
        outf(p,
             "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null}",
             finish_word(p));
        if (!p->k.no_usage)
            outf(p, ",\"usage\":{\"output_tokens\":%ld}", p->ntok);
        outf(p, "}\n\n");
        outf(p, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        break;
    case P_GEMINI:
        gemini_chunk(p, 0, 1);
        break;
    default:
        ollama_head(p);
        ollama_done(p);
        outf(p, "\n");
        break;
    }
}

static void stream_error(pending_t *p)
{
    switch (p->proto) {
    case P_OPENAI:
        outf(p, "data: {\"error\":{\"message\":\"The server had an error while processing your request. Sorry about that!\","
                "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n");
        break;
    case P_ANTHROPIC:
        outf(p, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
        break;
    case P_GEMINI:
        outf(p, "%s{\"error\":{\"code\":500,\"message\":\"An internal error has occurred. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting\",\"status\":\"INTERNAL\"}}%s",
             p->gemini_sse ? "data: " : ",\r\n", p->gemini_sse ? "\r\n\r\n" : "\r\n]");
        break;
    default:
        outf(p, "{\"error\":\"an error was encountered while running the model: fake error mid-stream\"}\n");
        break;
    }
}

static const char *stream_ctype(pending_t *p)
{
    if (p->proto == P_OLLAMA)
        return "application/x-ndjson";
    if (p->proto == P_GEMINI)
        return p->gemini_sse ? "text/event-stream" : "application/json; charset=UTF-8";
    return "text/event-stream; charset=utf-8";
}

/* --- the state machine: one step per timer tick ----------------------------- */

static void on_tick(h2o_timeout_entry_t *entry)
{
    pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, tick, entry);
    if (p->req == NULL || p->ended)
        return;
    p->out_len = 0;
    if (!p->started) {
        if (p->err_status != 0) {
            int st = p->err_status;
            size_t len = strlen(p->err_body);
            finish(p, 0);
            start(p, st, "application/json", len);
            h2o_iovec_t b = h2o_iovec_init(p->err_body, len);
            h2o_send(p->req, &b, 1, H2O_SEND_STATE_FINAL);
            return;
        }
        if (!p->stream) {
            answer_full(p);
            finish(p, 1);
            start(p, 200, p->proto == P_OLLAMA ? "application/json; charset=utf-8" : "application/json", p->out_len);
            send_out(p, H2O_SEND_STATE_FINAL);
            return;
        }
        start(p, 200, stream_ctype(p), SIZE_MAX);
    }
    if (p->fault != FAULT_NONE && p->sent == p->fault_at) {
        if (p->fault == FAULT_RESET) {
            p->ended = 1;
            active--;
            stats.aborted++;
            h2o_send(p->req, NULL, 0, H2O_SEND_STATE_ERROR);
        } else {
            stream_error(p);
            finish(p, 0);
            send_out(p, H2O_SEND_STATE_FINAL);
        }
        return;
    }
    int last;
    if (p->sent == 0)
        stream_prelude(p);
    if (p->sent < p->ntok) {
        last = stream_token(p, ++p->sent);
        stats.token_events++;
    } else {
        stream_end(p);
        last = 1;
    }
    if (last) {
        finish(p, 1);
        send_out(p, H2O_SEND_STATE_FINAL);
    } else {
        send_out(p, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    pending_t *p = (pending_t *)gen;
    p->inflight = 0;
    if (p->client_gone) {
        abort_response(p);
        return;
    }
    if (!p->ended)
        h2o_timeout_link(ctx.loop, bucket_for(p->k.chunk_delay_ms), &p->tick);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    pending_t *p = (pending_t *)gen;
    p->req = NULL;
    h2o_timeout_unlink(&p->tick);
}

static void pending_dispose(void *obj)
{
    pending_t *p = obj;
    h2o_timeout_unlink(&p->tick);
    if (p->watch != NULL) {
        h2o_socket_read_stop(p->watch);
        h2o_socket_close(p->watch);
        p->watch = NULL;
    }
    if (!p->ended) { /* h2o tore the request down before we finished: the client left */
        p->ended = 1;
        active--;
        stats.client_closed++;
    }
    free(p->out);
}

/* --- chat requests: checks, then the plan ------------------------------------- */

static void record_last(h2o_req_t *req, int proto, json_t *body)
{
    json_t *h = json_object();
    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *e = req->headers.entries + i;
        char name[128];
        size_t n = e->name->len < sizeof(name) - 1 ? e->name->len : sizeof(name) - 1;
        for (size_t j = 0; j != n; ++j)
            name[j] = (char)h2o_tolower(e->name->base[j]);
        name[n] = '\0';
        json_t *v = json_stringn(e->value.base, e->value.len);
        if (v == NULL)
            continue;
        json_t *prev = json_object_get(h, name);
        if (prev != NULL) { /* repeated header: joined, as HTTP allows */
            char *joined = NULL;
            if (asprintf(&joined, "%s, %s", json_string_value(prev), json_string_value(v)) >= 0) {
                json_decref(v);
                v = json_string(joined);
                free(joined);
            }
        }
        json_object_set_new(h, name, v);
    }
    /* h2o keeps Host (HTTP/1) and :authority (h2) out of the header list */
    json_t *host = json_object_get(h, "host") == NULL ? json_stringn(req->authority.base, req->authority.len) : NULL;
    if (host != NULL)
        json_object_set_new(h, "host", host);
    json_decref(last_req);
    last_req = json_pack("{s:s, s:s%, s:s%, s:s, s:o, s:O}", "protocol", proto_names[proto], "method", req->method.base,
                         req->method.len, "path", req->path.base, req->path.len, "version", req->version >= 0x200 ? "2" : "1.1",
                         "headers", h, "body", body != NULL ? body : json_null());
}

static json_int_t int_or(json_t *v, json_int_t dflt)
{
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* key check: 0 ok, else sets p->err_* */
static int check_key(pending_t *p, h2o_req_t *req)
{
    if (!p->k.require_key && g_api_key[0] == '\0')
        return 0;
    const h2o_header_t *h = NULL;
    const char *key = NULL;
    size_t klen = 0;
    switch (p->proto) {
    case P_OPENAI:
        if ((h = find_hdr(req, "authorization")) != NULL && h->value.len > 7 && h2o_lcstris(h->value.base, 7, "bearer ", 7)) {
            key = h->value.base + 7;
            klen = h->value.len - 7;
        }
        break;
    case P_ANTHROPIC:
        if ((h = find_hdr(req, "x-api-key")) != NULL && h->value.len != 0) {
            key = h->value.base;
            klen = h->value.len;
        }
        break;
    case P_GEMINI:
        if ((h = find_hdr(req, "x-goog-api-key")) != NULL && h->value.len != 0) {
            key = h->value.base;
            klen = h->value.len;
        } else {
            key = query_param(req, "key", &klen);
            if (key != NULL && klen == 0)
                key = NULL;
        }
        break;
    default:
        return 0; /* Ollama has no keys */
    }
    int missing = key == NULL, wrong = !missing && g_api_key[0] != '\0' && !h2o_memis(key, klen, g_api_key, strlen(g_api_key));
    if (!missing && !wrong)
        return 0;
    json_t *e;
    switch (p->proto) {
    case P_OPENAI:
        p->err_status = 401;
        e = missing ? proto_error(P_OPENAI, 401,
                                  "You didn't provide an API key. You need to provide your API key in an Authorization header "
                                  "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                                  "invalid_request_error", "", NULL)
                    : proto_error(P_OPENAI, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key", NULL);
        break;
    case P_ANTHROPIC:
        p->err_status = 401;
        e = proto_error(P_ANTHROPIC, 401, missing ? "x-api-key header is required" : "invalid x-api-key", NULL, NULL, p->reqid);
        break;
    default:
        if (missing) {
            p->err_status = 403;
            e = proto_error(P_GEMINI, 403,
                            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
                            "or other form of API consumer identity to call this API.",
                            NULL, NULL, NULL);
        } else {
            p->err_status = 400;
            e = proto_error(P_GEMINI, 400, "API key not valid. Please pass a valid API key.", NULL, NULL, NULL);
        }
        break;
    }
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    p->err_body = h2o_strdup(&p->req->pool, s, strlen(s)).base;
    free(s);
    return -1;
}

static void set_error(pending_t *p, int status, const char *msg, const char *otype)
{
    json_t *e = proto_error(p->proto, status, msg, otype, otype != NULL ? "" : NULL, p->reqid);
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    p->err_status = status;
    p->err_body = h2o_strdup(&p->req->pool, s, strlen(s)).base;
    free(s);
}

/* body checks and the plan; 0 ok, -1 error set */
static int plan(pending_t *p, json_t *body, int gemini_stream)
{
    int proto = p->proto;
    if (!json_is_object(body)) {
        static const char *const msg[P_COUNT] = {
            ("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
             "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"),
            "There was an issue with the request body: expected a JSON object",
            "Invalid JSON payload received. Expected an object.", "invalid character looking for beginning of value"};
        set_error(p, 400, msg[proto], proto == P_OPENAI ? "invalid_request_error" : NULL);
        return -1;
    }
    json_int_t limit = -1;
    switch (proto) {
    case P_OPENAI:
        if (!json_is_array(json_object_get(body, "messages"))) {
            set_error(p, 400, "Missing required parameter: 'messages'.", "invalid_request_error");
            return -1;
        }
        p->stream = json_is_true(json_object_get(body, "stream"));
        p->include_usage = p->stream && json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
        limit = int_or(json_object_get(body, "max_completion_tokens"), int_or(json_object_get(body, "max_tokens"), -1));
        break;
    case P_ANTHROPIC: {
        json_t *mt = json_object_get(body, "max_tokens");
        if (!json_is_string(json_object_get(body, "model"))) {
            set_error(p, 400, "model: Field required", NULL);
            return -1;
        }
        if (mt == NULL) {
            set_error(p, 400, "max_tokens: Field required", NULL);
            return -1;
        }
        if (!json_is_integer(mt) || json_integer_value(mt) < 1) {
            set_error(p, 400, "max_tokens: Input should be a valid integer greater than or equal to 1", NULL);
            return -1;
        }
        if (!json_is_array(json_object_get(body, "messages"))) {
            set_error(p, 400, "messages: Field required", NULL);
            return -1;
        }
        p->stream = json_is_true(json_object_get(body, "stream"));
        limit = json_integer_value(mt);
        break;
    }
    case P_GEMINI:
        if (!json_is_array(json_object_get(body, "contents")) || json_array_size(json_object_get(body, "contents")) == 0) {
            set_error(p, 400, "* GenerateContentRequest.contents: contents is not specified\n", NULL);
            return -1;
        }
        p->stream = gemini_stream;
        limit = int_or(json_object_get(json_object_get(body, "generationConfig"), "maxOutputTokens"), -1);
        break;
    default: {
        json_t *m = json_object_get(body, "model");
        if (!json_is_string(m) || json_string_length(m) == 0) {
            set_error(p, 400, "model is required", NULL);
            return -1;
        }
        json_t *s = json_object_get(body, "stream");
        p->stream = s == NULL || json_is_null(s) || json_is_true(s);
        limit = int_or(json_object_get(json_object_get(body, "options"), "num_predict"), -1);
        break;
    }
    }
    p->ntok = p->k.completion_tokens;
    if (limit >= 0 && limit < p->ntok) {
        p->ntok = (long)limit;
        p->truncated = 1;
    }
    if (p->stream) {
        long r = p->k.reset_after_chunks, e = p->k.error_mid_stream;
        if (r > 0 && r <= p->ntok && (e <= 0 || r <= e)) {
            p->fault = FAULT_RESET;
            p->fault_at = r;
        } else if (e > 0 && e <= p->ntok) {
            p->fault = FAULT_ERROR;
            p->fault_at = e;
        }
    }
    return 0;
}

static void set_model(pending_t *p, const char *m, size_t len)
{
    json_t *s = (m != NULL && len != 0 && len <= 200) ? json_stringn(m, len) : NULL;
    if (s == NULL)
        s = json_string(g_model);
    char *q = json_dumps(s, JSON_ENCODE_ANY);
    snprintf(p->qmodel, sizeof(p->qmodel), "%s", q);
    free(q);
    json_decref(s);
}

static int handle_chat(h2o_req_t *req, int proto, h2o_iovec_t path_model, int gemini_stream, int gemini_sse)
{
    seq++;
    stats.requests++;
    stats.by_proto[proto]++;
    if (req->version >= 0x200)
        stats.h2++;
    else
        stats.h1++;
    if (req->version < 0x200 && req->upgrade.base != NULL)
        stats.upgrade_asked++;
    count_connection(req->conn);
    active++;

    json_t *body = req->entity.base != NULL ? json_loadb(req->entity.base, req->entity.len, 0, NULL) : NULL;
    record_last(req, proto, body);

    pending_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), pending_dispose);
    memset(p, 0, sizeof(*p));
    p->gen.proceed = on_proceed;
    p->gen.stop = on_stop;
    p->req = req;
    p->tick.cb = on_tick;
    p->k = cfg;
    p->rng = (uint32_t)((unsigned long)cfg.garble * 2654435761u ^ seq) | 1u; /* never 0: xorshift would stay there */
    p->proto = proto;
    p->gemini_sse = gemini_sse;
    p->t0 = now_ns(CLOCK_MONOTONIC);
    p->created = time(NULL);
    snprintf(p->reqid, sizeof(p->reqid), "req_%s_%lu", g_name, seq);
    switch (proto) {
    case P_OPENAI: snprintf(p->id, sizeof(p->id), "chatcmpl-%s-%lu", g_name, seq); break;
    case P_ANTHROPIC: snprintf(p->id, sizeof(p->id), "msg_%s_%lu", g_name, seq); break;
    default: snprintf(p->id, sizeof(p->id), "%s-%lu", g_name, seq); break;
    }
    if (proto == P_GEMINI) {
        set_model(p, path_model.base, path_model.len);
    } else {
        const char *m = json_string_value(json_object_get(body, "model"));
        set_model(p, m, m != NULL ? strlen(m) : 0);
    }

    if (check_key(p, req) == 0) {
        if (proto == P_ANTHROPIC && !has_hdr(req, "anthropic-version"))
            set_error(p, 400, "anthropic-version: header is required", NULL);
        else if (p->k.fail_status != 0)
            set_error(p, (int)p->k.fail_status, NULL, NULL);
        else
            plan(p, body, gemini_stream);
    }
    json_decref(body);

    /* HTTP/1: h2o stops reading the socket while the request is processed; watch a dup to see the client leave */
    if (req->version < 0x200 && req->conn->callbacks->get_socket != NULL) {
        h2o_socket_t *cs = req->conn->callbacks->get_socket(req->conn);
        int fd = cs != NULL ? fcntl(h2o_socket_get_fd(cs), F_DUPFD_CLOEXEC, 0) : -1;
        if (fd >= 0) {
            p->watch = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
            p->watch->data = p;
            h2o_socket_read_start(p->watch, on_watch);
        }
    }
    if (!p->k.hang)
        h2o_timeout_link(ctx.loop, bucket_for(p->k.latency_ms), &p->tick);
    return 0;
}

/* --- model lists ---------------------------------------------------------------- */

static void model_digest(const char *name, char out[65])
{
    uint64_t h = 1469598103934665603ull;
    for (int part = 0; part < 4; part++) {
        for (const char *c = name; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        h = (h ^ (uint64_t)part) * 1099511628211ull;
        snprintf(out + part * 16, 17, "%016llx", (unsigned long long)h);
    }
}

static void ollama_tags(h2o_req_t *req)
{
    json_t *arr = json_array();
    for (int i = 0; i < g_nmodels; i++) {
        char name[160], digest[65];
        snprintf(name, sizeof(name), strchr(g_models[i], ':') != NULL ? "%s" : "%s:latest", g_models[i]);
        model_digest(name, digest);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:s, s:{s:s, s:s, s:s, s:[s], s:s, s:s}}", "name", name, "model",
                                             name, "modified_at", "2025-01-01T00:00:00.000000000Z", "size",
                                             (json_int_t)(1000000000 + 1000 * i), "digest", digest, "details", "parent_model", "",
                                             "format", "gguf", "family", "llama", "families", "llama", "parameter_size", "8.0B",
                                             "quantization_level", "Q4_K_M"));
    }
    send_json(req, 200, json_pack("{s:o}", "models", arr));
}

static void model_list(h2o_req_t *req, int proto)
{
    json_t *arr = json_array();
    for (int i = 0; i < g_nmodels; i++) {
        const char *m = g_models[i];
        if (proto == P_GEMINI) {
            char name[160];
            snprintf(name, sizeof(name), "models/%.127s", m);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:i, s:[s, s, s]}", "name", name, "version", "001",
                                                 "displayName", m, "inputTokenLimit", 1048576, "outputTokenLimit", 65536,
                                                 "supportedGenerationMethods", "generateContent", "countTokens",
                                                 "streamGenerateContent"));
        } else if (proto == P_ANTHROPIC) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "type", "model", "id", m, "display_name", m, "created_at",
                                                 "2025-01-01T00:00:00Z"));
        } else {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s}", "id", m, "object", "model", "created",
                                                 (json_int_t)1735689600, "owned_by", g_name));
        }
    }
    json_t *out;
    if (proto == P_GEMINI) {
        out = json_pack("{s:o}", "models", arr);
    } else if (proto == P_ANTHROPIC) {
        out = json_pack("{s:o, s:b, s:s, s:s}", "data", arr, "has_more", 0, "first_id", g_models[0], "last_id",
                        g_models[g_nmodels - 1]);
    } else {
        out = json_pack("{s:s, s:o}", "object", "list", "data", arr);
    }
    send_json(req, 200, out);
}

/* --- /_fake ----------------------------------------------------------------------- */

static json_t *knobs_json(const knobs_t *k)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b}", "latency_ms", (json_int_t)k->latency_ms, "chunk_delay_ms",
                     (json_int_t)k->chunk_delay_ms, "fail_status", (json_int_t)k->fail_status, "prompt_tokens",
                     (json_int_t)k->prompt_tokens, "completion_tokens", (json_int_t)k->completion_tokens, "reset_after_chunks",
                     (json_int_t)k->reset_after_chunks, "error_mid_stream", (json_int_t)k->error_mid_stream, "garble", (json_int_t)k->garble, "hang", k->hang,
                     "no_usage", k->no_usage, "require_key", k->require_key || g_api_key[0] != '\0');
}

/* returns NULL on success, else a message (static) */
static const char *apply_knob(knobs_t *k, const char *key, json_t *v)
{
    static const struct {
        const char *name;
        size_t off;
        long min, max;
    } ints[] = {
        {"latency_ms", offsetof(knobs_t, latency_ms), 0, 3600000},
        {"chunk_delay_ms", offsetof(knobs_t, chunk_delay_ms), 0, 3600000},
        {"fail_status", offsetof(knobs_t, fail_status), 0, 599},
        {"prompt_tokens", offsetof(knobs_t, prompt_tokens), 0, 100000000},
        {"completion_tokens", offsetof(knobs_t, completion_tokens), 0, 10000000},
        {"reset_after_chunks", offsetof(knobs_t, reset_after_chunks), 0, 100000000},
        {"error_mid_stream", offsetof(knobs_t, error_mid_stream), 0, 100000000},
        {"garble", offsetof(knobs_t, garble), 0, 1000000000},
    };
    static const struct {
        const char *name;
        size_t off;
    } bools[] = {
        {"hang", offsetof(knobs_t, hang)}, {"no_usage", offsetof(knobs_t, no_usage)}, {"require_key", offsetof(knobs_t, require_key)}};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (strcmp(key, ints[i].name) != 0)
            continue;
        if (!json_is_integer(v))
            return "must be an integer";
        json_int_t n = json_integer_value(v);
        if (n < ints[i].min || n > ints[i].max || (i == 2 && n != 0 && n < 400))
            return "out of range";
        *(long *)((char *)k + ints[i].off) = (long)n;
        return NULL;
    }
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        if (strcmp(key, bools[i].name) != 0)
            continue;
        if (!json_is_boolean(v))
            return "must be a boolean";
        *(int *)((char *)k + bools[i].off) = json_is_true(v);
        return NULL;
    }
    return "unknown setting";
}

static void fake_config(h2o_req_t *req)
{
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        send_json(req, 200, knobs_json(&cfg));
        return;
    }
    json_error_t jerr;
    json_t *c = json_loadb(req->entity.base != NULL ? req->entity.base : "", req->entity.len, 0, &jerr);
    if (!json_is_object(c)) {
        json_decref(c);
        send_json(req, 400, json_pack("{s:s}", "error", "the body must be a JSON object"));
        return;
    }
    knobs_t k = json_is_true(json_object_get(c, "reset")) ? cfg0 : cfg;
    const char *key;
    json_t *v;
    json_object_foreach(c, key, v)
    {
        if (strcmp(key, "reset") == 0) {
            if (!json_is_boolean(v)) {
                send_json(req, 400, json_pack("{s:s}", "error", "reset: must be a boolean"));
                json_decref(c);
                return;
            }
            continue;
        }
        const char *err = apply_knob(&k, key, v);
        if (err != NULL) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s: %s", key, err);
            send_json(req, 400, json_pack("{s:s}", "error", msg));
            json_decref(c);
            return;
        }
    }
    json_decref(c);
    cfg = k;
    send_json(req, 200, json_pack("{s:b, s:o}", "ok", 1, "config", knobs_json(&cfg)));
}

static void fake_stats(h2o_req_t *req)
{
    send_json(req, 200,
              json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:{s:I, s:I}, s:I, s:I, s:I}", "name", g_name, "requests",
                        (json_int_t)stats.requests, "completed", (json_int_t)stats.completed, "client_closed",
                        (json_int_t)stats.client_closed, "aborted", (json_int_t)stats.aborted, "errors", (json_int_t)stats.errors,
                        "by_protocol", "openai", (json_int_t)stats.by_proto[P_OPENAI], "anthropic",
                        (json_int_t)stats.by_proto[P_ANTHROPIC], "gemini", (json_int_t)stats.by_proto[P_GEMINI], "ollama",
                        (json_int_t)stats.by_proto[P_OLLAMA], "active", (json_int_t)active, "by_version", "1.1",
                        (json_int_t)stats.h1, "2", (json_int_t)stats.h2, "connections", (json_int_t)stats.connections, "upgrade_asked", (json_int_t)stats.upgrade_asked, "token_events", (json_int_t)stats.token_events));
}

/* --- routing ------------------------------------------------------------------------ */

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;

    if (path.len > 7 && memcmp(path.base, "/_fake/", 7) == 0) {
        if (h2o_memis(path.base, path.len, H2O_STRLIT("/_fake/stats")))
            fake_stats(req);
        else if (h2o_memis(path.base, path.len, H2O_STRLIT("/_fake/stats/reset")) && is_method(req, "POST")) {
            memset(&stats, 0, sizeof(stats));
            send_json(req, 200, json_pack("{s:b}", "ok", 1));
        } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/_fake/config")))
            fake_config(req);
        else if (h2o_memis(path.base, path.len, H2O_STRLIT("/_fake/last")))
            send_json(req, 200, last_req != NULL ? json_incref(last_req) : json_null());
        else
            send_json(req, 404, json_pack("{s:s}", "error", "unknown /_fake path"));
        return 0;
    }

    int proto = -1, gemini_stream = 0, gemini_sse = 0;
    h2o_iovec_t model = {NULL, 0};
    if (ends_with(path, "/chat/completions")) {
        proto = P_OPENAI;
    } else if (ends_with(path, "/v1/messages")) {
        proto = P_ANTHROPIC;
    } else if (ends_with(path, "/api/chat")) {
        proto = P_OLLAMA;
    } else if (ends_with(path, ":generateContent") || ends_with(path, ":streamGenerateContent")) {
        const char *colon = path.base + path.len - 1;
        while (*colon != ':')
            colon--;
        const char *m = NULL;
        for (const char *s = path.base; s + 8 <= colon; s++)
            if (memcmp(s, "/models/", 8) == 0) {
                m = s + 8;
                break;
            }
        if (m != NULL && m < colon) {
            proto = P_GEMINI;
            model = h2o_iovec_init(m, (size_t)(colon - m));
            gemini_stream = ends_with(path, ":streamGenerateContent");
            size_t alen = 0;
            const char *alt = query_param(req, "alt", &alen);
            gemini_sse = gemini_stream && alt != NULL && h2o_memis(alt, alen, H2O_STRLIT("sse"));
        }
    }
    if (proto >= 0) {
        if (!is_method(req, "POST")) {
            json_t *e = proto_error(proto, 405, "Method Not Allowed", NULL, NULL, NULL);
            send_json(req, 405, e);
            return 0;
        }
        return handle_chat(req, proto, model, gemini_stream, gemini_sse);
    }

    if (is_method(req, "GET") || is_method(req, "HEAD")) {
        if (ends_with(path, "/api/tags")) {
            ollama_tags(req);
            return 0;
        }
        if (ends_with(path, "/api/version")) {
            send_json(req, 200, json_pack("{s:s}", "version", "0.12.0"));
            return 0;
        }
        if (h2o_memis(path.base, path.len, H2O_STRLIT("/"))) {
            send_simple(req, 200, "text/plain; charset=utf-8", H2O_STRLIT("Ollama is running"));
            return 0;
        }
        if (ends_with(path, "/models")) {
            size_t klen;
            int gem = h2o_strstr(path.base, path.len, H2O_STRLIT("/v1beta/")) != SIZE_MAX || has_hdr(req, "x-goog-api-key") ||
                      query_param(req, "key", &klen) != NULL;
            model_list(req, gem ? P_GEMINI : has_hdr(req, "anthropic-version") ? P_ANTHROPIC : P_OPENAI);
            return 0;
        }
    }
    send_json(req, 404, json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", "unknown path", "type", "invalid_request_error",
                                  "param", "code"));
    return 0;
}

/* --- start-up ------------------------------------------------------------------------ */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&accept_ctx, sock);
}

static int usage_exit(const char *why)
{
    fprintf(stderr,
            "fake_provider: %s\n"
            "usage: fake_provider --port P [--name NAME] [--model M] [--models a,b,c] [--require-key] [--api-key K]\n"
            "         [--latency-ms N] [--chunk-delay-ms N] [--fail-status S] [--prompt-tokens N] [--completion-tokens N]\n"
            "         [--hang] [--reset-after-chunks N] [--error-mid-stream N] [--no-usage] [--no-h2c]\n",
            why);
    return 2;
}

static int cli_long(const char *s, long min, long max, long *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno != 0 || e == s || *e != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long port = 0;
    int no_h2c = 0;
    const char *models = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        static const struct {
            const char *opt;
            size_t off;
            long min, max;
        } nums[] = {
            {"--latency-ms", offsetof(knobs_t, latency_ms), 0, 3600000},
            {"--chunk-delay-ms", offsetof(knobs_t, chunk_delay_ms), 0, 3600000},
            {"--fail-status", offsetof(knobs_t, fail_status), 0, 599},
            {"--prompt-tokens", offsetof(knobs_t, prompt_tokens), 0, 100000000},
            {"--completion-tokens", offsetof(knobs_t, completion_tokens), 0, 10000000},
            {"--reset-after-chunks", offsetof(knobs_t, reset_after_chunks), 0, 100000000},
            {"--error-mid-stream", offsetof(knobs_t, error_mid_stream), 0, 100000000},
        };
        int done = 0;
        for (size_t j = 0; j < sizeof(nums) / sizeof(nums[0]) && !done; j++) {
            if (strcmp(o, nums[j].opt) != 0)
                continue;
            long n;
            if (v == NULL || cli_long(v, nums[j].min, nums[j].max, &n) != 0 || (j == 2 && n != 0 && n < 400))
                return usage_exit(o);
            *(long *)((char *)&cfg + nums[j].off) = n;
            i++;
            done = 1;
        }
        if (done)
            continue;
        if (!strcmp(o, "--hang")) {
            cfg.hang = 1;
        } else if (!strcmp(o, "--no-h2c")) {
            no_h2c = 1;
        } else if (!strcmp(o, "--no-usage")) {
            cfg.no_usage = 1;
        } else if (!strcmp(o, "--require-key")) {
            cfg.require_key = 1;
        } else if (v == NULL) {
            return usage_exit(o);
        } else if (!strcmp(o, "--word")) {
            /* JSON-escaped once, without the quotes. */
            json_t *js = json_string(v);
            char *d = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
            json_decref(js);
            if (d == NULL || strlen(d) < 2 || strlen(d) - 2 >= sizeof(g_word_json))
                return usage_exit(o);
            snprintf(g_word_json, sizeof(g_word_json), "%.*s", (int)(strlen(d) - 2), d + 1);
            free(d);
            i++;
        } else if (!strcmp(o, "--port")) {
            if (cli_long(v, 1, 65535, &port) != 0)
                return usage_exit(o);
            i++;
        } else if (!strcmp(o, "--name")) {
            if (strlen(v) == 0 || strlen(v) >= sizeof(g_name) || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(v))
                return usage_exit("--name: 1-63 characters of [A-Za-z0-9._-]");
            snprintf(g_name, sizeof(g_name), "%s", v);
            i++;
        } else if (!strcmp(o, "--model")) {
            if (strlen(v) == 0 || strlen(v) >= sizeof(g_model))
                return usage_exit(o);
            snprintf(g_model, sizeof(g_model), "%s", v);
            i++;
        } else if (!strcmp(o, "--models")) {
            models = v;
            i++;
        } else if (!strcmp(o, "--api-key")) {
            if (strlen(v) == 0 || strlen(v) >= sizeof(g_api_key))
                return usage_exit(o);
            snprintf(g_api_key, sizeof(g_api_key), "%s", v);
            i++;
        } else {
            return usage_exit(o);
        }
    }
    if (port <= 0)
        return usage_exit("--port is required");
    if (models != NULL) {
        const char *s = models;
        while (*s != '\0' && g_nmodels < MAX_MODELS) {
            size_t n = strcspn(s, ",");
            if (n > 0 && n < sizeof(g_models[0]))
                snprintf(g_models[g_nmodels++], sizeof(g_models[0]), "%.*s", (int)n, s);
            s += n + (s[n] == ',');
        }
    }
    if (g_nmodels == 0)
        snprintf(g_models[g_nmodels++], sizeof(g_models[0]), "%s", g_model);
    cfg0 = cfg;

    /* hundreds of slow streams: each HTTP/1 request holds its socket and a watched dup */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    config.max_request_entity_size = 8 << 20;
    /* h2o closes idle connections after 10 s, far sooner than providers do;
     * a new call on a connection closing that moment fails (curl 7.88 does
     * not retry streams a GOAWAY refused), and tests would race it. */
    config.http1.req_timeout = 120000;
    config.http2.idle_timeout = 120000;
    /* --no-h2c: an upstream that ignores Upgrade: h2c, as most do. */
    config.http1.upgrade_to_http2 = !no_h2c;
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0) {
        perror("fake_provider: listen");
        return 1;
    }
    h2o_socket_t *ls = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(ls, on_accept);
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0 || errno == EINTR)
        ;
    return 0;
}
