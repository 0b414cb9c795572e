/*
 * tf_health - what the Mesh Brain knows about each upstream node, shared by
 * every loop thread and kept across reloads (keyed by "provider/node").
 *
 * Measured from real traffic: a moving average of latency (to the whole
 * answer, or to a stream's first event), an error rate, and a circuit
 * breaker. After `failures` consecutive failures the circuit opens: the node
 * is skipped for `open_ms`, then one request is let through as a probe
 * (half-open). The probe's success closes the circuit; its failure opens
 * it again. Entries are few (one per node) and never freed before exit, so
 * a pointer to one stays valid across conf snapshots.
 */
#ifndef TF_HEALTH_H
#define TF_HEALTH_H

#include <stdint.h>

enum { TF_CIRCUIT_CLOSED = 0, TF_CIRCUIT_OPEN = 1, TF_CIRCUIT_HALF_OPEN = 2 };

typedef struct tf_health tf_health_t;

typedef struct tf_health_view {
    int circuit;               /* TF_CIRCUIT_* */
    double latency_ms;         /* moving average; < 0 when nothing measured yet */
    double error_rate;         /* moving average of failures, 0..1 */
    unsigned consecutive_failures;
    uint64_t requests, failures;
    uint64_t retry_in_ms;      /* OPEN: until the next probe may go */
    char last_error[96];
} tf_health_view_t;

/* The entry for key, made on first use. */
tf_health_t *tf_health_get(const char *key);

/*
 * May a request go to this node now? 1: yes (circuit closed, or this call is
 * the half-open probe); 0: skip it. A node that was never asked is closed.
 */
int tf_health_admit(tf_health_t *h, uint64_t now_ns, unsigned open_ms);

/* The outcome of one attempt. `error` is a short reason ("500", "timeout", ...), unused on success. */
void tf_health_report(tf_health_t *h, int ok, double latency_ms, const char *error, unsigned failures_to_open, unsigned open_ms,
                      uint64_t now_ns);

/* An attempt let through by tf_health_admit ended without an outcome (the client left). */
void tf_health_abandon(tf_health_t *h);

void tf_health_read(tf_health_t *h, uint64_t now_ns, tf_health_view_t *out);

/* A per-key counter (round robin), made on first use; atomic. */
uint64_t tf_health_next(const char *key);

/* Forgets every measurement (tests and `POST /v1/admin/providers/reset`). */
void tf_health_reset_all(void);

#endif
