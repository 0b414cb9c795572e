/*
 * tf_metrics.c - see tf_metrics.h.
 */
#include "tf_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_admit.h"
#include "tf_conf.h"
#include "tf_routes.h"

#ifndef TF_VERSION
#define TF_VERSION "0.1.0"
#endif

/* The statuses we expect; anything else is counted under "other". */
static const int statuses[] = {200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409,
                               413, 415, 422, 429, 500, 501, 502, 503, 504, 0};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Latency buckets in seconds, as upper bounds; +Inf is implicit. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10, 30, 60};
#define NBUCKET (sizeof(buckets) / sizeof(buckets[0]))
static uint64_t bucket_ns[NBUCKET];

typedef struct route_hist {
    uint64_t b[NBUCKET + 1]; /* non-cumulative; last is +Inf */
    uint64_t sum_ns;
    uint64_t count;
} route_hist_t;

struct tf_metrics_thread {
    uint64_t *req;      /* [route][status][proto] */
    route_hist_t *hist; /* [route] */
    uint64_t db_up, db_queries, db_errors;
    int64_t conns;
};

#define MAX_THREADS 512
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static tf_metrics_thread_t *threads[MAX_THREADS];
static size_t nthreads;
static uint64_t reloads_ok, reloads_failed;

static size_t nroutes(void)
{
    return tf_routes_count + 1;
}

tf_metrics_thread_t *tf_metrics_thread_new(void)
{
    tf_metrics_thread_t *m = calloc(1, sizeof(*m));
    m->req = calloc(nroutes() * NSTATUS * TF_HTTPV_COUNT, sizeof(uint64_t));
    m->hist = calloc(nroutes(), sizeof(route_hist_t));
    pthread_mutex_lock(&reg_mu);
    if (bucket_ns[0] == 0)
        for (size_t i = 0; i < NBUCKET; i++)
            bucket_ns[i] = (uint64_t)(buckets[i] * 1e9);
    if (nthreads < MAX_THREADS)
        threads[nthreads++] = m;
    pthread_mutex_unlock(&reg_mu);
    return m;
}

static size_t status_index(int status)
{
    for (size_t i = 0; i + 1 < NSTATUS; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1;
}

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void tf_metrics_request(tf_metrics_thread_t *m, size_t route, int status, int proto, uint64_t duration_ns)
{
    if (route > tf_routes_count)
        route = tf_routes_count;
    ADD(&m->req[(route * NSTATUS + status_index(status)) * TF_HTTPV_COUNT + (size_t)proto], 1);
    route_hist_t *h = &m->hist[route];
    size_t b = 0;
    while (b < NBUCKET && duration_ns > bucket_ns[b])
        b++;
    ADD(&h->b[b], 1);
    ADD(&h->sum_ns, duration_ns);
    ADD(&h->count, 1);
}

void tf_metrics_set_db(tf_metrics_thread_t *m, int up, uint64_t queries, uint64_t errors)
{
    __atomic_store_n(&m->db_up, (uint64_t)up, __ATOMIC_RELAXED);
    __atomic_store_n(&m->db_queries, queries, __ATOMIC_RELAXED);
    __atomic_store_n(&m->db_errors, errors, __ATOMIC_RELAXED);
}

void tf_metrics_conf_reload(int ok)
{
    ADD(ok ? &reloads_ok : &reloads_failed, 1);
}

void tf_metrics_conn(tf_metrics_thread_t *m, int delta)
{
    ADD(&m->conns, delta);
}

static void out(h2o_buffer_t **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(h2o_buffer_t **buf, const char *fmt, ...)
{
    /* Every piece we print is bounded (names are at most 128 bytes). */
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    h2o_iovec_t room = h2o_buffer_reserve(buf, len);
    memcpy(room.base, line, len);
    (*buf)->size += len;
}

static const char *route_label(size_t r)
{
    return r < tf_routes_count ? tf_routes[r].name : "none";
}

static const char *route_method(size_t r)
{
    return r < tf_routes_count ? tf_routes[r].method : "";
}

/* --- capped provider nodes (tf_admit): one family at a time, as the format wants --- */

typedef struct admit_views {
    tf_admit_view_t *v;
    size_t n, cap;
} admit_views_t;

static void admit_collect(void *ctx, const tf_admit_view_t *v)
{
    admit_views_t *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = *v; /* key points into the gate, which lives as long as the process */
}

static void render_admit(h2o_buffer_t **buf)
{
    admit_views_t a = {0};
    tf_admit_each(admit_collect, &a);
    if (a.n == 0)
        return; /* no node was ever capped */
    static const char *const cls[2] = {"standard", "priority"};
    out(buf, "# HELP tf_upstream_max_concurrent The cap on concurrent upstream calls of a provider node.\n"
             "# TYPE tf_upstream_max_concurrent gauge\n");
    for (size_t i = 0; i < a.n; i++)
        out(buf, "tf_upstream_max_concurrent{node=\"%s\"} %u\n", a.v[i].key, a.v[i].cap);
    out(buf, "# HELP tf_upstream_inflight Upstream calls running on a capped provider node.\n"
             "# TYPE tf_upstream_inflight gauge\n");
    for (size_t i = 0; i < a.n; i++)
        out(buf, "tf_upstream_inflight{node=\"%s\"} %u\n", a.v[i].key, a.v[i].inflight);
    out(buf, "# HELP tf_upstream_queue_depth Requests waiting for a slot of a capped node, by class (priority tiers first).\n"
             "# TYPE tf_upstream_queue_depth gauge\n");
    for (size_t i = 0; i < a.n; i++)
        for (int k = 0; k < 2; k++)
            out(buf, "tf_upstream_queue_depth{node=\"%s\",class=\"%s\"} %u\n", a.v[i].key, cls[k], a.v[i].waiting[k]);
    out(buf, "# HELP tf_upstream_queued_total Requests that had to wait for a slot, by class.\n"
             "# TYPE tf_upstream_queued_total counter\n");
    for (size_t i = 0; i < a.n; i++)
        for (int k = 0; k < 2; k++)
            out(buf, "tf_upstream_queued_total{node=\"%s\",class=\"%s\"} %llu\n", a.v[i].key, cls[k],
                (unsigned long long)a.v[i].queued[k]);
    out(buf, "# HELP tf_upstream_queue_exits_total How waits ended: granted a slot, timed out, client gone.\n"
             "# TYPE tf_upstream_queue_exits_total counter\n");
    for (size_t i = 0; i < a.n; i++)
        out(buf,
            "tf_upstream_queue_exits_total{node=\"%s\",outcome=\"granted\"} %llu\n"
            "tf_upstream_queue_exits_total{node=\"%s\",outcome=\"timeout\"} %llu\n"
            "tf_upstream_queue_exits_total{node=\"%s\",outcome=\"gone\"} %llu\n",
            a.v[i].key, (unsigned long long)a.v[i].granted, a.v[i].key, (unsigned long long)a.v[i].timeouts, a.v[i].key,
            (unsigned long long)a.v[i].gone);
    out(buf, "# HELP tf_upstream_queue_wait_seconds_total Time granted requests spent waiting for a slot.\n"
             "# TYPE tf_upstream_queue_wait_seconds_total counter\n");
    for (size_t i = 0; i < a.n; i++)
        out(buf, "tf_upstream_queue_wait_seconds_total{node=\"%s\"} %.6f\n", a.v[i].key, (double)a.v[i].wait_ns / 1e9);
    free(a.v);
}

void tf_metrics_render(h2o_buffer_t **buf)
{
    static const char *const protos[] = {"http/1.1", "h2"};
    pthread_mutex_lock(&reg_mu);
    size_t nt = nthreads;
    pthread_mutex_unlock(&reg_mu);
    size_t nr = nroutes();

    out(buf, "# HELP tf_http_requests_total HTTP requests by route, status and protocol.\n"
             "# TYPE tf_http_requests_total counter\n");
    for (size_t r = 0; r < nr; r++)
        for (size_t s = 0; s < NSTATUS; s++)
            for (int p = 0; p < TF_HTTPV_COUNT; p++) {
                uint64_t v = 0;
                for (size_t t = 0; t < nt; t++)
                    v += LOAD(&threads[t]->req[(r * NSTATUS + s) * TF_HTTPV_COUNT + (size_t)p]);
                if (v == 0)
                    continue;
                char st[8];
                if (statuses[s] != 0)
                    snprintf(st, sizeof(st), "%d", statuses[s]);
                else
                    snprintf(st, sizeof(st), "other");
                out(buf, "tf_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\",protocol=\"%s\"} %llu\n",
                    route_label(r), route_method(r), st, protos[p], (unsigned long long)v);
            }

    out(buf, "# HELP tf_http_request_duration_seconds Time from routing to the last byte handed to the protocol layer.\n"
             "# TYPE tf_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < nr; r++) {
        uint64_t cum = 0, sum = 0, count = 0, b[NBUCKET + 1] = {0};
        for (size_t t = 0; t < nt; t++) {
            route_hist_t *h = &threads[t]->hist[r];
            for (size_t i = 0; i <= NBUCKET; i++)
                b[i] += LOAD(&h->b[i]);
            sum += LOAD(&h->sum_ns);
            count += LOAD(&h->count);
        }
        if (count == 0)
            continue;
        for (size_t i = 0; i < NBUCKET; i++) {
            cum += b[i];
            out(buf, "tf_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route_label(r), buckets[i],
                (unsigned long long)cum);
        }
        out(buf, "tf_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route_label(r),
            (unsigned long long)count);
        out(buf, "tf_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", route_label(r), (double)sum / 1e9);
        out(buf, "tf_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route_label(r), (unsigned long long)count);
    }

    uint64_t up = 0, q = 0, e = 0;
    int64_t conns = 0;
    for (size_t t = 0; t < nt; t++) {
        up += LOAD(&threads[t]->db_up);
        q += LOAD(&threads[t]->db_queries);
        e += LOAD(&threads[t]->db_errors);
        conns += LOAD(&threads[t]->conns);
    }
    out(buf,
        "# HELP tf_db_up 1 when every event-loop thread has a working database connection.\n"
        "# TYPE tf_db_up gauge\ntf_db_up %d\n"
        "# HELP tf_db_threads_up Event-loop threads with a working database connection.\n"
        "# TYPE tf_db_threads_up gauge\ntf_db_threads_up %llu\n"
        "# HELP tf_db_queries_total Database queries sent.\n# TYPE tf_db_queries_total counter\ntf_db_queries_total %llu\n"
        "# HELP tf_db_errors_total Database queries that failed.\n# TYPE tf_db_errors_total counter\ntf_db_errors_total %llu\n"
        "# HELP tf_http_connections Open client connections.\n# TYPE tf_http_connections gauge\ntf_http_connections %lld\n",
        up == nt && nt > 0, (unsigned long long)up, (unsigned long long)q, (unsigned long long)e, (long long)conns);

    render_admit(buf);

    tf_conf_t *c = tf_conf_current();
    out(buf,
        "# HELP tf_build_info Build and node information.\n# TYPE tf_build_info gauge\n"
        "tf_build_info{version=\"%s\",node=\"%s\"} 1\n"
        "# HELP tf_conf_generation Configuration snapshots loaded so far.\n# TYPE tf_conf_generation gauge\n"
        "tf_conf_generation %llu\n"
        "# HELP tf_conf_reloads_total Configuration reloads by result.\n# TYPE tf_conf_reloads_total counter\n"
        "tf_conf_reloads_total{result=\"ok\"} %llu\ntf_conf_reloads_total{result=\"failed\"} %llu\n",
        TF_VERSION, c != NULL ? c->node_name : "", c != NULL ? (unsigned long long)c->generation : 0ULL,
        (unsigned long long)LOAD(&reloads_ok), (unsigned long long)LOAD(&reloads_failed));
    tf_conf_unref(c);
}
