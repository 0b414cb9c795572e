/*
 * usage_probe - tf_usage against a real, migrated PostgreSQL:
 *   usage_probe CONNINFO
 * Daily token limits, the pro tier's free ollama/ models, hourly request
 * rates with Retry-After, concurrent admissions, and that recorded usage is
 * exactly what was reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_usage.h"

static int n, failed;
static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

static h2o_loop_t *loop;
static tf_db_pool_t *db;
static int pending;

static void run_until_idle(void)
{
    for (int i = 0; i < 2000 && pending > 0; i++)
        h2o_evloop_run(loop, 10);
}

static tf_usage_verdict_t last;
static int verdict_count[4];

static void on_verdict(void *ud, const tf_usage_verdict_t *v)
{
    last = *v;
    verdict_count[v->verdict]++;
    pending--;
}

static tf_usage_admit_t admits[256];
static int nadmit;

static int admit(const char *subject, const tf_tier_t *t, const char *model)
{
    pending++;
    if (tf_usage_admit(db, &admits[nadmit++ % 256], subject, t, model, on_verdict, NULL) == NULL) {
        pending--;
        return -1;
    }
    return 0;
}

static void on_recorded(void *ud, PGresult *res, const char *err)
{
    if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        printf("# record failed: %s\n", err ? err : PQresultErrorMessage(res));
    pending--;
}

static void record(const char *subject, const char *model, long long p, long long c)
{
    pending++;
    tf_usage_record(db, subject, model, p, c, on_recorded, NULL);
}

static long long db_sum(const char *conninfo, const char *subject)
{
    PGconn *c = PQconnectdb(conninfo);
    const char *p[1] = {subject};
    PGresult *r = PQexecParams(c, "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM usage_daily WHERE subject = $1", 1,
                               NULL, p, NULL, NULL, 0);
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    loop = h2o_evloop_create();
    db = tf_db_pool_create(loop, argv[1], 2);
    for (int i = 0; i < 300 && !tf_db_is_up(db); i++)
        h2o_evloop_run(loop, 10);
    ok(tf_db_is_up(db), "database pool is up");

    char tag[32], s1[64], s2[64], s3[64], s4[64];
    snprintf(tag, sizeof(tag), "probe-%ld-%d", (long)time(NULL), (int)getpid());
    snprintf(s1, sizeof(s1), "%s-tokens", tag);
    snprintf(s2, sizeof(s2), "%s-burst", tag);
    snprintf(s3, sizeof(s3), "%s-rate", tag);
    snprintf(s4, sizeof(s4), "%s-pro", tag);
    static const char *const none[] = {NULL};
    tf_tier_t small = {"small", "Small", none, 0, 0, -1, none, 100, 0, -1, 1, 0, none};
    tf_tier_t pro = {"pro", "Pro", none, 1, 0, -1, none, 100, 1, -1, 1, 0, none};
    tf_tier_t rated = {"rated", "Rated", none, 0, 0, -1, none, -1, 0, 10, 1, 0, none};

    admit(s1, &small, "groq/m");
    run_until_idle();
    ok(last.verdict == TF_USAGE_OK && last.tokens_used == 0, "fresh subject is admitted");
    record(s1, "groq/m", 20, 40);
    run_until_idle();
    admit(s1, &small, "groq/m");
    run_until_idle();
    ok(last.verdict == TF_USAGE_OK && last.tokens_used == 60, "60 of 100 used: admitted, and the count is read back");
    record(s1, "groq/m", 10, 50);
    run_until_idle();
    admit(s1, &small, "groq/m");
    run_until_idle();
    ok(last.verdict == TF_USAGE_TOKENS_EXHAUSTED && !strcmp(last.limit, "daily_tokens") && last.tokens_used == 120,
       "over the daily limit: refused, naming daily_tokens");
    ok(last.retry_after > 0 && last.retry_after <= 86400, "  ... Retry-After is the time to the next UTC day");

    /* Requests admitted together may each run: the overrun is bounded by them. */
    memset(verdict_count, 0, sizeof(verdict_count));
    for (int i = 0; i < 50; i++)
        admit(s2, &small, "groq/m");
    run_until_idle();
    ok(verdict_count[TF_USAGE_OK] == 50, "50 concurrent admissions with nothing used yet are all admitted");
    for (int i = 0; i < 50; i++)
        record(s2, "groq/m", 1, 9);
    run_until_idle();
    ok(db_sum(argv[1], s2) == 500, "every recorded token is in the table (50 x 10 = 500)");
    admit(s2, &small, "groq/m");
    run_until_idle();
    ok(last.verdict == TF_USAGE_TOKENS_EXHAUSTED, "  ... and the next request is refused");

    /* pro: ollama/ models are free and not counted. */
    record(s4, "ollama/deepseek", 100, 100);
    run_until_idle();
    admit(s4, &pro, "groq/m");
    run_until_idle();
    ok(last.verdict == TF_USAGE_OK && last.tokens_used == 0, "pro: ollama/ tokens do not count against the limit");
    record(s4, "groq/m", 50, 60);
    run_until_idle();
    admit(s4, &pro, "groq/m");
    run_until_idle();
    ok(last.verdict == TF_USAGE_TOKENS_EXHAUSTED, "pro: cloud tokens do");
    admit(s4, &pro, "ollama/deepseek");
    run_until_idle();
    ok(last.verdict == TF_USAGE_OK, "pro: ollama/ models stay unlimited after the cloud limit");

    memset(verdict_count, 0, sizeof(verdict_count));
    for (int i = 0; i < 12; i++)
        admit(s3, &rated, "groq/m");
    run_until_idle();
    ok(verdict_count[TF_USAGE_OK] == 10 && verdict_count[TF_USAGE_RATE_LIMITED] == 2, "10 requests per hour: 10 admitted, 2 refused");
    ok(last.retry_after > 0 && last.retry_after <= 3600, "  ... Retry-After is the time to the next hour");

    tf_db_pool_destroy(db);
    h2o_evloop_destroy(loop);
    printf("1..%d\n", n);
    return failed != 0;
}
