/*
 * tf_usage_batch.c - usage of requests that no limit depends on, written
 * in batches: one multi-row UPSERT per loop thread every 100 ms instead of
 * a committed round trip per answer. See tf_usage.h.
 *
 * Nothing is dropped: a failed write keeps its rows for the next tick, and
 * a thread that stops (SIGTERM, after its connections drained) writes what
 * it holds before the database pool closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_log.h"
#include "tf_usage.h"

#define FLUSH_MS 100
#define FLUSH_ROWS 512

typedef struct row {
    char *subject, *model;
    long long prompt, completion, requests;
} row_t;

struct tf_usage_batch {
    h2o_loop_t *loop;
    tf_db_pool_t *db;
    row_t *rows;     /* gathered since the last write */
    size_t n, cap;
    row_t *sending;  /* in the write in flight */
    size_t nsending;
    int busy;
    h2o_timeout_t tick;
    h2o_timeout_entry_t entry;
};

static void schedule(tf_usage_batch_t *b)
{
    if (!h2o_timeout_is_linked(&b->entry))
        h2o_timeout_link(b->loop, &b->tick, &b->entry);
}

static void rows_free(row_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].subject);
        free(r[i].model);
    }
    free(r);
}

static void merge(tf_usage_batch_t *b, const char *subject, const char *model, long long prompt, long long completion,
                  long long requests)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->rows[i].subject, subject) == 0 && strcmp(b->rows[i].model, model) == 0) {
            b->rows[i].prompt += prompt;
            b->rows[i].completion += completion;
            b->rows[i].requests += requests;
            return;
        }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 32;
        b->rows = realloc(b->rows, b->cap * sizeof(*b->rows));
    }
    b->rows[b->n++] = (row_t){strdup(subject), strdup(model), prompt, completion, requests};
}

void tf_usage_batch_add(tf_usage_batch_t *b, const char *subject, const char *model, long long prompt, long long completion)
{
    merge(b, subject, model, prompt, completion, 1);
    if (b->n >= FLUSH_ROWS && !b->busy) {
        if (h2o_timeout_is_linked(&b->entry))
            h2o_timeout_unlink(&b->entry);
        b->entry.cb(&b->entry);
        return;
    }
    schedule(b);
}

/* A PostgreSQL array literal element: "..." with " and \ escaped. */
static void arr_text(char **buf, size_t *len, size_t *cap, const char *s, int first)
{
    size_t need = strlen(s) * 2 + 4;
    if (*len + need + 2 > *cap) {
        *cap = (*len + need + 2) * 2;
        *buf = realloc(*buf, *cap);
    }
    char *p = *buf + *len;
    if (!first)
        *p++ = ',';
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    *len = (size_t)(p - *buf);
}

static void on_written(void *ud, PGresult *res, const char *err)
{
    tf_usage_batch_t *b = ud;
    b->busy = 0;
    if (err == NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
        rows_free(b->sending, b->nsending);
    } else {
        /* Keep them: merged back in front of what came since, written next tick. */
        tf_log(TF_LOG_WARN, "usage", NULL, "usage batch of %zu rows not written (%s); retrying", b->nsending,
               err ? err : PQresultErrorMessage(res));
        for (size_t i = 0; i < b->nsending; i++) {
            row_t *r = &b->sending[i];
            merge(b, r->subject, r->model, r->prompt, r->completion, r->requests);
        }
        rows_free(b->sending, b->nsending);
    }
    b->sending = NULL;
    b->nsending = 0;
    if (b->n > 0)
        schedule(b);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    tf_usage_batch_t *b = H2O_STRUCT_FROM_MEMBER(tf_usage_batch_t, entry, entry);
    if (b->busy || b->n == 0)
        return; /* on_written reschedules */
    char *a[5] = {NULL};
    size_t len[5] = {0}, cap[5] = {0};
    for (int k = 0; k < 5; k++) {
        cap[k] = 256;
        a[k] = malloc(cap[k]);
        a[k][0] = '{';
        len[k] = 1;
    }
    for (size_t i = 0; i < b->n; i++) {
        char num[3][24];
        snprintf(num[0], sizeof(num[0]), "%lld", b->rows[i].prompt);
        snprintf(num[1], sizeof(num[1]), "%lld", b->rows[i].completion);
        snprintf(num[2], sizeof(num[2]), "%lld", b->rows[i].requests);
        arr_text(&a[0], &len[0], &cap[0], b->rows[i].subject, i == 0);
        arr_text(&a[1], &len[1], &cap[1], b->rows[i].model, i == 0);
        for (int k = 0; k < 3; k++)
            arr_text(&a[2 + k], &len[2 + k], &cap[2 + k], num[k], i == 0);
    }
    for (int k = 0; k < 5; k++) {
        a[k][len[k]++] = '}';
        a[k][len[k]] = '\0';
    }
    const char *p[5] = {a[0], a[1], a[2], a[3], a[4]};
    tf_db_query_t *q = tf_db_query(b->db,
                                   "INSERT INTO usage_daily AS u (subject, day, model, prompt_tokens, completion_tokens, requests) "
                                   "SELECT s, (now() AT TIME ZONE 'UTC')::date, m, pt, ct, rq FROM "
                                   "unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS x(s, m, pt, ct, rq) "
                                   "ON CONFLICT (subject, day, model) DO UPDATE SET prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens, "
                                   "completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, "
                                   "requests = u.requests + EXCLUDED.requests",
                                   5, p, on_written, b);
    for (int k = 0; k < 5; k++)
        free(a[k]);
    if (q == NULL) {
        schedule(b); /* the database is down: hold on to them */
        return;
    }
    b->busy = 1;
    b->sending = b->rows;
    b->nsending = b->n;
    b->rows = NULL;
    b->n = b->cap = 0;
}

tf_usage_batch_t *tf_usage_batch_create(h2o_loop_t *loop, tf_db_pool_t *db)
{
    tf_usage_batch_t *b = calloc(1, sizeof(*b));
    b->loop = loop;
    b->db = db;
    h2o_timeout_init(loop, &b->tick, FLUSH_MS);
    b->entry.cb = on_tick;
    return b;
}

size_t tf_usage_batch_pending(const tf_usage_batch_t *b)
{
    return b->n + b->nsending;
}

void tf_usage_batch_destroy(tf_usage_batch_t *b, unsigned timeout_ms)
{
    if (b == NULL)
        return;
    uint64_t waited = 0;
    while ((b->n > 0 || b->busy) && waited < timeout_ms) {
        if (!b->busy) {
            if (h2o_timeout_is_linked(&b->entry))
                h2o_timeout_unlink(&b->entry);
            on_tick(&b->entry);
        }
        h2o_evloop_run(b->loop, 10);
        waited += 10;
    }
    if (b->n > 0 || b->nsending > 0)
        tf_log(TF_LOG_ERROR, "usage", NULL, "stopping with %zu usage rows not written", b->n + b->nsending);
    if (h2o_timeout_is_linked(&b->entry))
        h2o_timeout_unlink(&b->entry);
    h2o_timeout_dispose(b->loop, &b->tick);
    rows_free(b->rows, b->n);
    rows_free(b->sending, b->nsending);
    free(b);
}
