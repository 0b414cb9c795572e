/*
 * tf_usage.c - see tf_usage.h.
 */
#include "tf_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_admit(void *ud, PGresult *res, const char *err)
{
    tf_usage_admit_t *a = ud;
    tf_usage_verdict_t v;
    memset(&v, 0, sizeof(v));
    v.tokens_limit = a->tokens_limit;
    v.requests_limit = a->requests_limit;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        v.verdict = TF_USAGE_UNAVAILABLE;
    } else {
        v.requests_this_hour = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        v.tokens_used = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        long to_hour = strtol(PQgetvalue(res, 0, 2), NULL, 10), to_day = strtol(PQgetvalue(res, 0, 3), NULL, 10);
        if (a->requests_limit >= 0 && v.requests_this_hour > a->requests_limit) {
            v.verdict = TF_USAGE_RATE_LIMITED;
            v.limit = "requests_per_hour";
            v.retry_after = to_hour > 0 ? to_hour : 1;
        } else if (a->tokens_count && a->tokens_limit >= 0 && v.tokens_used >= a->tokens_limit) {
            v.verdict = TF_USAGE_TOKENS_EXHAUSTED;
            v.limit = "daily_tokens";
            v.retry_after = to_day > 0 ? to_day : 1;
        }
    }
    a->cb(a->ud, &v);
}

tf_db_query_t *tf_usage_admit(tf_db_pool_t *db, tf_usage_admit_t *a, const char *subject, const tf_tier_t *tier, const char *model,
                              tf_usage_admit_cb cb, void *ud)
{
    memset(a, 0, sizeof(*a));
    a->cb = cb;
    a->ud = ud;
    a->tokens_limit = tier->daily_tokens;
    a->requests_limit = tier->requests_per_hour;
    a->tokens_count = !(tier->ollama_unlimited && strncmp(model, "ollama/", 7) == 0);
    const char *p[3] = {subject, a->requests_limit >= 0 ? "true" : "false", tier->ollama_unlimited ? "true" : "false"};
    /* One round trip: count this request in the hour (only when the tier
     * has a rate), read today's tokens, and the seconds left in both windows. */
    tf_db_query_t *q = tf_db_query(db,
                                   "WITH r AS (INSERT INTO rate_windows AS w (subject, window_start, count) "
                                   "SELECT $1, date_trunc('hour', now()), 1 WHERE $2::boolean "
                                   "ON CONFLICT (subject, window_start) DO UPDATE SET count = w.count + 1 RETURNING count) "
                                   "SELECT coalesce((SELECT count FROM r), 0), "
                                   "coalesce((SELECT sum(prompt_tokens + completion_tokens) FROM usage_daily WHERE subject = $1 "
                                   "AND day = (now() AT TIME ZONE 'UTC')::date AND NOT ($3::boolean AND model LIKE 'ollama/%')), 0), "
                                   "ceil(extract(epoch FROM date_trunc('hour', now()) + interval '1 hour' - now()))::int, "
                                   "ceil(extract(epoch FROM ((now() AT TIME ZONE 'UTC')::date + 1) - (now() AT TIME ZONE 'UTC')))::int",
                                   3, p, on_admit, a);
    return q;
}

tf_db_query_t *tf_usage_record(tf_db_pool_t *db, const char *subject, const char *model, long long prompt_tokens,
                               long long completion_tokens, tf_db_cb cb, void *ud)
{
    char pt[24], ct[24];
    snprintf(pt, sizeof(pt), "%lld", prompt_tokens);
    snprintf(ct, sizeof(ct), "%lld", completion_tokens);
    const char *p[4] = {subject, model, pt, ct};
    return tf_db_query(db,
                       "INSERT INTO usage_daily AS u (subject, day, model, prompt_tokens, completion_tokens, requests) "
                       "VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, $3::bigint, $4::bigint, 1) "
                       "ON CONFLICT (subject, day, model) DO UPDATE SET prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens, "
                       "completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, requests = u.requests + 1",
                       4, p, cb, ud);
}

int tf_usage_counts_tokens(const tf_tier_t *tier, const char *model)
{
    return tier->daily_tokens >= 0 && !(tier->ollama_unlimited && strncmp(model, "ollama/", 7) == 0);
}

int tf_usage_needs_admission(const tf_tier_t *tier, const char *model)
{
    return tier->requests_per_hour >= 0 || tf_usage_counts_tokens(tier, model);
}
