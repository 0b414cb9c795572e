/*
 * curl_probe - tf_curl against a local HTTP server on the loop:
 *   curl_probe PORT
 * Many concurrent transfers complete while a 10 ms timer keeps its pace (the
 * loop is never blocked); cancelled transfers never call back; a refused
 * connection reports an error; destroy with transfers in flight is clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tf_curl.h"

static int n, failed;
static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

static int done_ok, done_bad, done_cancelled, refused_rc = -1, outstanding, timed_out, slow_other;
static uint64_t last_tick, max_gap;
static h2o_timeout_t tick10;
static h2o_timeout_entry_t tick_entry;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static h2o_loop_t *loop;

static void relink_tick(h2o_timeout_entry_t *e)
{
    uint64_t t = now_ms();
    if (last_tick != 0 && t - last_tick > max_gap)
        max_gap = t - last_tick;
    last_tick = t;
    h2o_timeout_link(loop, &tick10, e);
}

static void on_done(void *ud, CURLcode rc, long status, const char *body, size_t len)
{
    outstanding--;
    if (ud == (void *)1)
        done_cancelled++;
    else if (ud == (void *)2)
        refused_rc = (int)rc;
    else if (ud == (void *)3)
        rc == CURLE_OPERATION_TIMEDOUT ? timed_out++ : slow_other++;
    else if (rc == CURLE_OK && status == 200 && len > 0 && strstr(body, "ok") != NULL)
        done_ok++;
    else
        done_bad++;
}

static CURL *get(const char *url)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    return e;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%s/health", argv[1]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    loop = h2o_evloop_create();
    tf_curl_t *c = tf_curl_create(loop);
    h2o_timeout_init(loop, &tick10, 10);
    tick_entry.cb = relink_tick;
    h2o_timeout_link(loop, &tick10, &tick_entry);

    int started = 0;
    for (int i = 0; i < 200; i++) {
        outstanding++;
        started += tf_curl_start(c, get(url), 1 << 20, on_done, NULL) != NULL;
    }
    ok(started == 200, "start 200 transfers");
    tf_curl_req_t *cancel[20];
    for (int i = 0; i < 20; i++)
        cancel[i] = tf_curl_start(c, get(url), 1 << 20, on_done, (void *)1);
    for (int i = 0; i < 20; i++)
        tf_curl_cancel(cancel[i]);
    outstanding++;
    tf_curl_start(c, get("http://127.0.0.1:1/refused"), 1 << 20, on_done, (void *)2);

    /* A silent upstream: the kernel completes the handshakes (backlog), nobody
     * ever answers. Each transfer must time out on its own after 500 ms while
     * the loop keeps serving its timer. */
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(silent, (struct sockaddr *)&sa, sizeof(sa));
    listen(silent, 128);
    getsockname(silent, (struct sockaddr *)&sa, &sl);
    char slow_url[128];
    snprintf(slow_url, sizeof(slow_url), "http://127.0.0.1:%d/never", ntohs(sa.sin_port));
    for (int i = 0; i < 50; i++) {
        CURL *e = get(slow_url);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
        outstanding++;
        tf_curl_start(c, e, 1 << 20, on_done, (void *)3);
    }

    uint64_t start = now_ms();
    while ((outstanding > 0 || tf_curl_active(c) > 0) && now_ms() - start < 15000)
        h2o_evloop_run(loop, 100);
    printf("# %d ok, %d bad in %llu ms, max timer gap %llu ms\n", done_ok, done_bad, (unsigned long long)(now_ms() - start),
           (unsigned long long)max_gap);
    ok(done_ok == 200 && done_bad == 0, "200 transfers answered 200 with the body");
    ok(done_cancelled == 0, "cancelled transfers never call back");
    ok(refused_rc == CURLE_COULDNT_CONNECT, "a refused connection reports CURLE_COULDNT_CONNECT");
    ok(timed_out == 50 && slow_other == 0, "50 transfers to a silent upstream each time out (CURLE_OPERATION_TIMEDOUT)");
    ok(now_ms() - start >= 450, "  ... after their 500 ms, not at once");
    ok(max_gap < 60, "the loop kept a 10 ms timer within 60 ms while transfers waited");
    close(silent);
    ok(tf_curl_active(c) == 0, "nothing left in flight");

    for (int i = 0; i < 10; i++)
        tf_curl_start(c, get(url), 1 << 20, on_done, (void *)1);
    h2o_evloop_run(loop, 1);
    tf_curl_destroy(c);
    ok(1, "destroy with transfers in flight");
    h2o_timeout_unlink(&tick_entry);
    h2o_timeout_dispose(loop, &tick10);
    h2o_evloop_destroy(loop);
    curl_global_cleanup();
    ok(1, "the loop is destroyed without an assertion (nothing left linked)");
    printf("1..%d\n", n);
    return failed != 0;
}
