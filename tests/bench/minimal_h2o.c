/*
 * minimal_h2o.c - the baseline for `make bench`.
 *
 * The acceptance bar is "TriForce's /health reaches at least 50% of the
 * requests/s of a minimal h2o server on the same machine". This is that
 * server: what one would write from h2o 2.2.5's examples/libh2o/simple.c,
 * with the threading model TriForce uses, and nothing else. No logging, no
 * TLS, no router, no per-request allocation of our own. Keep it that way:
 * every feature added here makes the bar easier to pass.
 *
 *   GET /health  ->  200, application/json, {"status":"ok"} (content-length set)
 *   anything else -> h2o's default 404
 *
 * Cleartext HTTP/1.1 and h2c (prior knowledge, and Upgrade: h2c), on
 * 127.0.0.1 only. One h2o_evloop + h2o_context per thread, each thread with
 * its own SO_REUSEPORT listening socket, all sharing one globalconf that is
 * complete before the first context is created.
 *
 *   minimal_h2o --port 19100 --threads 2
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

static const char health_body[] = "{\"status\":\"ok\"}";

static h2o_globalconf_t config;
static unsigned short port = 19100;

static int on_health(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};

    /* The pathconf is a prefix match; answer the exact path only. */
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        !h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/health")))
        return -1;

    /* The body is static and never changes, so it is sent without copying. */
    h2o_iovec_t body = h2o_iovec_init(health_body, sizeof(health_body) - 1);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, 1);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;

    if (err != NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    h2o_accept(listener->data, sock);
}

static int open_listener(void)
{
    struct sockaddr_in addr;
    int fd, on = 1;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);

    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "minimal_h2o: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        return -1;
    }
    return fd;
}

typedef struct thread {
    pthread_t tid;
    int fd;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
} thread_t;

static void *run_thread(void *arg)
{
    thread_t *t = arg;

    h2o_context_init(&t->ctx, h2o_evloop_create(), &config);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = config.hosts;

    h2o_socket_t *sock = h2o_evloop_socket_create(t->ctx.loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = &t->accept_ctx;
    h2o_socket_read_start(sock, on_accept);

    /* h2o_evloop_run returns -1 on EINTR too (epoll_wait); only other errors end the loop. */
    while (h2o_evloop_run(t->ctx.loop, INT32_MAX) == 0 || errno == EINTR)
        ;
    fprintf(stderr, "minimal_h2o: event loop failed: %s\n", strerror(errno));
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: minimal_h2o [--port P] [--threads N] [--proxy http://HOST:PORT/PREFIX]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long nthreads = 1;
    const char *proxy = NULL;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            long p = strtol(argv[++i], &end, 10);
            if (*end != '\0' || p < 1 || p > 65535)
                usage();
            port = (unsigned short)p;
        } else if (strcmp(argv[i], "--proxy") == 0 && i + 1 < argc) {
            proxy = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            nthreads = strtol(argv[++i], &end, 10);
            if (*end != '\0' || nthreads < 1 || nthreads > 256)
                usage();
        } else {
            usage();
        }
    }

    signal(SIGPIPE, SIG_IGN);

    /* All registration is done before any context exists (h2o_context_init
     * walks the pathconfs). */
    h2o_config_init(&config);
    h2o_hostconf_t *hostconf = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/health", 0);
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = on_health;
    /* --proxy: h2o's own reverse proxy on /v1, the floor of what any
     * h2o-based gateway adds to an upstream call (the chat bench's yardstick). */
    static h2o_url_t upstream;
    if (proxy != NULL) {
        if (h2o_url_parse(proxy, strlen(proxy), &upstream) != 0)
            usage();
        h2o_proxy_config_vars_t pc;
        memset(&pc, 0, sizeof(pc));
        pc.io_timeout = 30000;
        pc.keepalive_timeout = 30000;
        h2o_proxy_register_reverse_proxy(h2o_config_register_path(hostconf, "/v1", 0), &upstream, &pc);
    }

    thread_t *threads = calloc((size_t)nthreads, sizeof(*threads));
    if (threads == NULL)
        return 1;
    /* Bind every socket before starting any thread, so a port clash fails
     * the whole start instead of leaving a partial server. */
    for (long i = 0; i < nthreads; i++)
        if ((threads[i].fd = open_listener()) == -1)
            return 1;
    for (long i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i].tid, NULL, run_thread, &threads[i]) != 0) {
            fprintf(stderr, "minimal_h2o: cannot start thread %ld\n", i);
            return 1;
        }
    }
    for (long i = 0; i < nthreads; i++)
        pthread_join(threads[i].tid, NULL);
    return 1;
}
