/*
 * tf_health.c - per-node latency, error rate and circuit breaker.
 *
 * One mutex per entry: attempts end a few thousand times a second at most,
 * and each holds the lock for a handful of arithmetic steps. The registry
 * itself is a short list under one mutex, searched only when a conf
 * snapshot is built (tf_mesh keeps the pointers).
 */
#include "tf_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Moving averages weigh the newest attempt by 1/5. */
#define ALPHA 0.2

struct tf_health {
    struct tf_health *next;
    pthread_mutex_t mu;
    char key[128];
    int circuit;
    double latency_ms; /* < 0: none yet */
    double error_rate;
    unsigned consecutive;
    uint64_t requests, failures;
    uint64_t open_until_ns;
    int probe_out; /* a half-open probe is in flight */
    uint64_t counter;
    char last_error[96];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static tf_health_t *reg;

tf_health_t *tf_health_get(const char *key)
{
    pthread_mutex_lock(&reg_mu);
    tf_health_t *h = reg;
    while (h != NULL && strcmp(h->key, key) != 0)
        h = h->next;
    if (h == NULL) {
        h = calloc(1, sizeof(*h));
        pthread_mutex_init(&h->mu, NULL);
        snprintf(h->key, sizeof(h->key), "%s", key);
        h->latency_ms = -1;
        h->next = reg;
        reg = h;
    }
    pthread_mutex_unlock(&reg_mu);
    return h;
}

int tf_health_admit(tf_health_t *h, uint64_t now_ns, unsigned open_ms)
{
    int ok = 1;
    pthread_mutex_lock(&h->mu);
    if (h->circuit == TF_CIRCUIT_OPEN) {
        if (now_ns >= h->open_until_ns) {
            h->circuit = TF_CIRCUIT_HALF_OPEN;
            h->probe_out = 1;
        } else {
            ok = 0;
        }
    } else if (h->circuit == TF_CIRCUIT_HALF_OPEN) {
        /* One probe at a time; a probe lost without an outcome (a client
         * that left) frees the slot in tf_health_abandon. */
        if (h->probe_out)
            ok = 0;
        else
            h->probe_out = 1;
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

void tf_health_report(tf_health_t *h, int ok, double latency_ms, const char *error, unsigned failures_to_open, unsigned open_ms,
                      uint64_t now_ns)
{
    pthread_mutex_lock(&h->mu);
    h->requests++;
    h->error_rate = h->error_rate * (1 - ALPHA) + (ok ? 0 : ALPHA);
    if (ok) {
        h->latency_ms = h->latency_ms < 0 ? latency_ms : h->latency_ms * (1 - ALPHA) + latency_ms * ALPHA;
        h->consecutive = 0;
        h->circuit = TF_CIRCUIT_CLOSED;
        h->probe_out = 0;
    } else {
        h->failures++;
        h->consecutive++;
        snprintf(h->last_error, sizeof(h->last_error), "%s", error ? error : "error");
        /* A timeout is a latency too: `fastest` should learn from it. */
        if (latency_ms > 0)
            h->latency_ms = h->latency_ms < 0 ? latency_ms : h->latency_ms * (1 - ALPHA) + latency_ms * ALPHA;
        if (h->circuit == TF_CIRCUIT_HALF_OPEN || h->consecutive >= failures_to_open) {
            h->circuit = TF_CIRCUIT_OPEN;
            h->open_until_ns = now_ns + (uint64_t)open_ms * 1000000ull;
            h->probe_out = 0;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void tf_health_abandon(tf_health_t *h)
{
    pthread_mutex_lock(&h->mu);
    if (h->circuit == TF_CIRCUIT_HALF_OPEN)
        h->probe_out = 0;
    pthread_mutex_unlock(&h->mu);
}

void tf_health_read(tf_health_t *h, uint64_t now_ns, tf_health_view_t *out)
{
    pthread_mutex_lock(&h->mu);
    out->circuit = h->circuit;
    out->latency_ms = h->latency_ms;
    out->error_rate = h->error_rate;
    out->consecutive_failures = h->consecutive;
    out->requests = h->requests;
    out->failures = h->failures;
    out->retry_in_ms = h->circuit == TF_CIRCUIT_OPEN && h->open_until_ns > now_ns ? (h->open_until_ns - now_ns) / 1000000ull : 0;
    snprintf(out->last_error, sizeof(out->last_error), "%s", h->last_error);
    pthread_mutex_unlock(&h->mu);
}

uint64_t tf_health_next(const char *key)
{
    tf_health_t *h = tf_health_get(key);
    return __atomic_fetch_add(&h->counter, 1, __ATOMIC_RELAXED);
}

void tf_health_reset_all(void)
{
    pthread_mutex_lock(&reg_mu);
    for (tf_health_t *h = reg; h != NULL; h = h->next) {
        pthread_mutex_lock(&h->mu);
        h->circuit = TF_CIRCUIT_CLOSED;
        h->latency_ms = -1;
        h->error_rate = 0;
        h->consecutive = 0;
        h->requests = h->failures = 0;
        h->probe_out = 0;
        h->last_error[0] = '\0';
        __atomic_store_n(&h->counter, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&h->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}
