/*
 * tf_metrics - Prometheus counters and histograms.
 *
 * Each event-loop thread owns a tf_metrics_thread_t and is its only writer,
 * so recording is a few relaxed atomic adds on memory no other core writes.
 * A scrape sums the threads. Routes come from the generated route table;
 * index tf_routes_count stands for "no route matched".
 */
#ifndef TF_METRICS_H
#define TF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <h2o/memory.h>

enum { TF_HTTPV_1 = 0, TF_HTTPV_2 = 1, TF_HTTPV_COUNT = 2 };

typedef struct tf_metrics_thread tf_metrics_thread_t;

/* Registers the calling thread's counters (at thread start). */
tf_metrics_thread_t *tf_metrics_thread_new(void);

/* Records one finished request. `route` may be tf_routes_count (unmatched). */
void tf_metrics_request(tf_metrics_thread_t *m, size_t route, int status, int proto, uint64_t duration_ns);

/* Gauges and counters set from elsewhere. */
void tf_metrics_set_db(tf_metrics_thread_t *m, int up, uint64_t queries, uint64_t errors);
void tf_metrics_conf_reload(int ok);
void tf_metrics_conn(tf_metrics_thread_t *m, int delta);

/* Appends the Prometheus text exposition to `buf`. */
void tf_metrics_render(h2o_buffer_t **buf);

#endif
