/*
 * tf_usage - daily token limits and hourly request rates, per tier, kept
 * in PostgreSQL so every gateway node sees the same counts.
 *
 * A metered request is admitted before its upstream call: the hour's
 * request count goes up (fixed one-hour windows, UTC) and today's tokens
 * are read. A request is refused when the count is over the tier's
 * requests_per_hour or today's tokens already reach daily_tokens (models
 * under ollama/ do not count for a tier with ollama_unlimited). Requests
 * admitted together may overrun the token limit by what they use
 * themselves, never more. When the answer is complete its tokens are
 * recorded before the client sees it, so what a client was told it used is
 * always in the table, across restarts.
 */
#ifndef TF_USAGE_H
#define TF_USAGE_H

#include "tf_db.h"
#include "tf_spec.h"

enum { TF_USAGE_OK = 0, TF_USAGE_RATE_LIMITED = 1, TF_USAGE_TOKENS_EXHAUSTED = 2, TF_USAGE_UNAVAILABLE = 3 };

typedef struct tf_usage_verdict {
    int verdict;           /* TF_USAGE_* */
    long long tokens_used, tokens_limit;     /* limit < 0: unlimited */
    long long requests_this_hour, requests_limit;
    long retry_after;      /* seconds until the window that refused resets */
    const char *limit;     /* "requests_per_hour" or "daily_tokens" when refused */
} tf_usage_verdict_t;

typedef void (*tf_usage_admit_cb)(void *ud, const tf_usage_verdict_t *v);

/* The state of one admission; the caller owns it (a request's pool is a good
 * home), so cancelling the query with tf_db_cancel leaks nothing. */
typedef struct tf_usage_admit {
    tf_usage_admit_cb cb;
    void *ud;
    long long tokens_limit, requests_limit;
    int tokens_count; /* 0 when the model is free for the tier */
} tf_usage_admit_t;

/* subject: a user id, or "guest:<address>". NULL when the query cannot be queued. */
tf_db_query_t *tf_usage_admit(tf_db_pool_t *db, tf_usage_admit_t *a, const char *subject, const tf_tier_t *tier, const char *model,
                              tf_usage_admit_cb cb, void *ud);

/* Adds tokens to today's row (UTC) for subject and model; cb as for tf_db_query. */
tf_db_query_t *tf_usage_record(tf_db_pool_t *db, const char *subject, const char *model, long long prompt_tokens,
                               long long completion_tokens, tf_db_cb cb, void *ud);

/*
 * Which requests need the database on their path. A request of a tier
 * without an hourly rate and whose tokens count against no limit (the
 * unlimited tier; pro's ollama/ models) needs no admission query, and its
 * usage goes into a per-thread batch written every 100 ms (exact and
 * synchronous accounting is kept where a limit depends on it).
 */
int tf_usage_needs_admission(const tf_tier_t *tier, const char *model);
int tf_usage_counts_tokens(const tf_tier_t *tier, const char *model);

/* The per-thread batch (tf_usage_batch.c). */
typedef struct tf_usage_batch tf_usage_batch_t;
tf_usage_batch_t *tf_usage_batch_create(h2o_loop_t *loop, tf_db_pool_t *db);
void tf_usage_batch_add(tf_usage_batch_t *b, const char *subject, const char *model, long long prompt_tokens,
                        long long completion_tokens);
size_t tf_usage_batch_pending(const tf_usage_batch_t *b);
/* Writes what is held, running the loop for up to timeout_ms, then frees. */
void tf_usage_batch_destroy(tf_usage_batch_t *b, unsigned timeout_ms);

#endif
