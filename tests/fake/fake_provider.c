/*
 * fake_provider - an LLM provider on loopback for tests and benchmarks.
 *
 *   fake_provider --port P [--latency-ms N] [--fail-status S]
 *                 [--prompt-tokens N] [--completion-tokens N]
 *                 [--chunk-delay-ms N] [--model NAME]
 *
 * Speaks the OpenAI wire format: POST /v1/chat/completions, JSON or, with
 * "stream": true, server-sent events ("data: {chunk}" ... "data: [DONE]"),
 * with a final usage chunk when stream_options.include_usage is set.
 * Behaviour can be changed while running (a provider that recovers):
 *   POST /_fake/config {"latency_ms":..,"fail_status":..,"completion_tokens":..,"chunk_delay_ms":..}
 *   GET  /_fake/stats  -> {"requests":..,"completed":..,"client_closed":..}
 * The other wire protocols (Anthropic, Gemini, Ollama) join with the
 * provider adapters.
 */
#include <errno.h>
#include <h2o.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static struct {
    long latency_ms, fail_status, prompt_tokens, completion_tokens, chunk_delay_ms;
    char model[128];
} cfg = {0, 0, 12, 30, 5, "fake-model"};

static struct {
    long requests, completed, client_closed;
} stats;

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

/* --- a request waiting for its next step -------------------------------- */

typedef struct pending {
    h2o_generator_t gen; /* first: h2o hands us this pointer */
    h2o_req_t *req;
    h2o_socket_t *timer; /* timerfd for latency and chunk delays */
    int stream, include_usage, chunks_left, sent_first, done;
    long completion_tokens;
    char id[32];
    char model[128];
    char buf[1024];
} pending_t;

static void arm(pending_t *p, long ms)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000L + (ms == 0 ? 1 : 0);
    timerfd_settime(h2o_socket_get_fd(p->timer), 0, &its, NULL);
}

static void send_json(h2o_req_t *req, int status, json_t *body)
{
    static h2o_generator_t gen = {NULL, NULL};
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    h2o_iovec_t b = h2o_strdup(&req->pool, s, strlen(s));
    free(s);
    req->res.status = status;
    req->res.reason = "OK";
    req->res.content_length = b.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_start_response(req, &gen);
    h2o_send(req, &b, 1, H2O_SEND_STATE_FINAL);
}

static json_t *usage(long completion)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)cfg.prompt_tokens, "completion_tokens", (json_int_t)completion,
                     "total_tokens", (json_int_t)(cfg.prompt_tokens + completion));
}

static void send_chunk(pending_t *p)
{
    json_t *chunk;
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;
    size_t len;
    if (p->chunks_left > 0) {
        json_t *delta = p->sent_first ? json_pack("{s:s}", "content", "tok ") : json_pack("{s:s, s:s}", "role", "assistant", "content", "tok ");
        chunk = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n}]}", "id", p->id, "object", "chat.completion.chunk", "created",
                          (json_int_t)time(NULL), "model", p->model, "choices", "index", 0, "delta", delta, "finish_reason");
        p->sent_first = 1;
        p->chunks_left--;
        char *s = json_dumps(chunk, JSON_COMPACT);
        len = (size_t)snprintf(p->buf, sizeof(p->buf), "data: %s\n\n", s);
        free(s);
        json_decref(chunk);
    } else {
        /* The last chunk carries finish_reason (and usage when asked), then [DONE]. */
        chunk = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{}, s:s}]}", "id", p->id, "object", "chat.completion.chunk", "created",
                          (json_int_t)time(NULL), "model", p->model, "choices", "index", 0, "delta", "finish_reason", "stop");
        if (p->include_usage)
            json_object_set_new(chunk, "usage", usage(p->completion_tokens));
        char *s = json_dumps(chunk, JSON_COMPACT);
        len = (size_t)snprintf(p->buf, sizeof(p->buf), "data: %s\n\ndata: [DONE]\n\n", s);
        free(s);
        json_decref(chunk);
        state = H2O_SEND_STATE_FINAL;
        p->done = 1;
        stats.completed++;
    }
    h2o_iovec_t b = h2o_iovec_init(p->buf, len);
    h2o_send(p->req, &b, 1, state);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    pending_t *p = (pending_t *)gen;
    if (!p->done)
        arm(p, cfg.chunk_delay_ms);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    pending_t *p = (pending_t *)gen;
    if (!p->done)
        stats.client_closed++;
    p->done = 1;
    p->req = NULL;
}

static void on_timer(h2o_socket_t *sock, const char *err)
{
    pending_t *p = sock->data;
    uint64_t n;
    if (read(h2o_socket_get_fd(sock), &n, sizeof(n)) < 0)
        return;
    if (p->req == NULL)
        return;
    if (!p->stream) {
        json_t *body = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:o}", "id", p->id, "object", "chat.completion",
                                 "created", (json_int_t)time(NULL), "model", p->model, "choices", "index", 0, "message", "role",
                                 "assistant", "content", "This is the fake provider's answer.", "finish_reason", "stop", "usage",
                                 usage(p->completion_tokens));
        p->done = 1;
        stats.completed++;
        send_json(p->req, 200, body);
        return;
    }
    if (!p->sent_first && p->chunks_left == (int)p->completion_tokens) {
        /* first step: response headers */
        p->req->res.status = 200;
        p->req->res.reason = "OK";
        h2o_add_header(&p->req->pool, &p->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
        h2o_start_response(p->req, &p->gen);
    }
    send_chunk(p);
}

static void pending_dispose(void *obj)
{
    pending_t *p = obj;
    h2o_socket_read_stop(p->timer);
    h2o_socket_close(p->timer);
}

static void error_json(h2o_req_t *req, int status, const char *type, const char *msg)
{
    send_json(req, status, json_pack("{s:{s:s, s:s}}", "error", "message", msg, "type", type));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/_fake/stats"))) {
        send_json(req, 200, json_pack("{s:I, s:I, s:I}", "requests", (json_int_t)stats.requests, "completed", (json_int_t)stats.completed,
                                      "client_closed", (json_int_t)stats.client_closed));
        return 0;
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/_fake/config"))) {
        json_t *c = json_loadb(req->entity.base, req->entity.len, 0, NULL);
        json_t *v;
        if ((v = json_object_get(c, "latency_ms")) != NULL)
            cfg.latency_ms = (long)json_integer_value(v);
        if ((v = json_object_get(c, "fail_status")) != NULL)
            cfg.fail_status = (long)json_integer_value(v);
        if ((v = json_object_get(c, "completion_tokens")) != NULL)
            cfg.completion_tokens = (long)json_integer_value(v);
        if ((v = json_object_get(c, "prompt_tokens")) != NULL)
            cfg.prompt_tokens = (long)json_integer_value(v);
        if ((v = json_object_get(c, "chunk_delay_ms")) != NULL)
            cfg.chunk_delay_ms = (long)json_integer_value(v);
        json_decref(c);
        send_json(req, 200, json_pack("{s:b}", "ok", 1));
        return 0;
    }
    if (!h2o_memis(path.base, path.len, H2O_STRLIT("/v1/chat/completions")) ||
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        error_json(req, 404, "invalid_request_error", "unknown path");
        return 0;
    }
    stats.requests++;
    if (cfg.fail_status != 0) {
        error_json(req, (int)cfg.fail_status, cfg.fail_status == 429 ? "rate_limit_error" : "server_error", "fake failure");
        return 0;
    }
    json_t *body = json_loadb(req->entity.base, req->entity.len, 0, NULL);
    if (!json_is_array(json_object_get(body, "messages"))) {
        json_decref(body);
        error_json(req, 400, "invalid_request_error", "messages is required");
        return 0;
    }
    pending_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), pending_dispose);
    memset(p, 0, sizeof(*p));
    p->gen.proceed = on_proceed;
    p->gen.stop = on_stop;
    p->req = req;
    p->stream = json_is_true(json_object_get(body, "stream"));
    p->include_usage = json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    p->completion_tokens = cfg.completion_tokens;
    p->chunks_left = (int)cfg.completion_tokens;
    const char *m = json_string_value(json_object_get(body, "model"));
    snprintf(p->model, sizeof(p->model), "%s", m != NULL ? m : cfg.model);
    snprintf(p->id, sizeof(p->id), "chatcmpl-fake-%ld", stats.requests);
    json_decref(body);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    p->timer = h2o_evloop_socket_create(ctx.loop, tfd, H2O_SOCKET_FLAG_DONT_READ);
    p->timer->data = p;
    h2o_socket_read_start(p->timer, on_timer);
    arm(p, cfg.latency_ms);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&accept_ctx, sock);
}

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--port"))
            port = (int)v;
        else if (!strcmp(argv[i], "--latency-ms"))
            cfg.latency_ms = v;
        else if (!strcmp(argv[i], "--fail-status"))
            cfg.fail_status = v;
        else if (!strcmp(argv[i], "--prompt-tokens"))
            cfg.prompt_tokens = v;
        else if (!strcmp(argv[i], "--completion-tokens"))
            cfg.completion_tokens = v;
        else if (!strcmp(argv[i], "--chunk-delay-ms"))
            cfg.chunk_delay_ms = v;
        else if (!strcmp(argv[i], "--model"))
            snprintf(cfg.model, sizeof(cfg.model), "%s", argv[i + 1]);
    }
    if (port <= 0) {
        fprintf(stderr, "usage: fake_provider --port P [options]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    config.max_request_entity_size = 8 << 20;
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        perror("fake_provider: listen");
        return 1;
    }
    h2o_socket_t *ls = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(ls, on_accept);
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0 || errno == EINTR)
        ;
    return 0;
}
