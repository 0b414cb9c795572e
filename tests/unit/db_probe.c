/*
 * db_probe - tests tf_db (the asynchronous pool) and tf_migrate against a
 * real, throwaway PostgreSQL cluster that this program stops, starts and
 * freezes itself while its event loop keeps running.
 *
 *   db_probe PG_SH PG_DIR MIGRATIONS_DIR
 *
 * PG_SH is scripts/pg.sh, PG_DIR a cluster it already started. Prints TAP
 * ("ok N - ..."), timings as "# ..." lines; exits 1 when a test failed.
 * tests/integration/test_db_pool.sh builds and runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tf_db.h"
#include "tf_log.h"
#include "tf_migrate.h"

extern char **environ;

static int T_n, T_failed;
static const char *pg_sh, *pg_dir;
static char conninfo[1024];
static h2o_loop_t *loop;

static void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++T_n);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (!cond)
        T_failed++;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */
/* the loop, with a 10 ms ticker that measures how late it fires       */

static h2o_timeout_t tick10;
static h2o_timeout_entry_t tick_entry;
static double last_tick, max_gap;

static void on_tick10(h2o_timeout_entry_t *e)
{
    double t = now_ms();
    if (t - last_tick > max_gap)
        max_gap = t - last_tick;
    last_tick = t;
    h2o_timeout_link(loop, &tick10, &tick_entry);
}

/* Runs the loop until cond(arg) holds or timeout_ms pass; 1 when it held. */
static int run_until(int (*cond)(void *), void *arg, double timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    last_tick = now_ms(); /* gaps count only while the loop is ours */
    while (!cond(arg)) {
        if (now_ms() > deadline)
            return 0;
        if (h2o_evloop_run(loop, 10) != 0 && errno != EINTR) {
            perror("h2o_evloop_run");
            exit(2);
        }
    }
    return 1;
}

static int never(void *arg)
{
    return 0;
}

static void run_for(double ms)
{
    run_until(never, NULL, ms);
}

/* ------------------------------------------------------------------ */
/* the cluster                                                         */

static pid_t spawn_pg(const char *cmd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0); /* keep TAP clean */
    char *argv[] = {(char *)pg_sh, (char *)cmd, (char *)pg_dir, NULL};
    pid_t pid;
    if (posix_spawn(&pid, pg_sh, &fa, NULL, argv, environ) != 0) {
        perror("posix_spawn");
        exit(2);
    }
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

typedef struct child {
    pid_t pid;
    int done, status;
} child_t;

static int child_done(void *arg)
{
    child_t *c = arg;
    if (!c->done && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
        c->done = 1;
    return c->done;
}

/* SIGSTOP/SIGCONT the postmaster and its children: a server that hangs. */
static void signal_cluster(int sig)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/data/postmaster.pid", pg_dir);
    FILE *f = fopen(path, "r");
    int pm = 0;
    if (f == NULL || fscanf(f, "%d", &pm) != 1 || pm <= 0) {
        if (f != NULL)
            fclose(f);
        return;
    }
    fclose(f);
    if (sig == SIGSTOP)
        kill(pm, sig); /* first, so it forks nothing new */
    FILE *ps = popen("ps -e -o pid=,ppid=", "r");
    int pid, ppid;
    while (ps != NULL && fscanf(ps, "%d %d", &pid, &ppid) == 2)
        if (ppid == pm)
            kill(pid, sig);
    if (ps != NULL)
        pclose(ps);
    if (sig != SIGSTOP)
        kill(pm, sig);
}

static int frozen;
static void thaw(void)
{
    if (frozen)
        signal_cluster(SIGCONT);
}

/* ------------------------------------------------------------------ */
/* blocking helpers for the migration tests                            */

static PGconn *sync_conn(void)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(pg));
        exit(2);
    }
    return pg;
}

/* First column of the first row, or "(error: ...)". */
static char *sql_value(const char *sql)
{
    static char buf[1024];
    PGconn *pg = sync_conn();
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(buf, sizeof(buf), "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    else
        snprintf(buf, sizeof(buf), "(error: %s)", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(pg);
    return buf;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static void test_migrations(const char *real_dir)
{
    char err[1024];
    char dir[] = "/tmp/tf-mig.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    /* Plain CREATE TABLE: applying it twice would fail. */
    write_file(dir, "0001_a.sql", "CREATE TABLE mig_a (id int);\nINSERT INTO mig_a VALUES (1);\n");
    int rc1 = tf_migrate_run(conninfo, dir, 5, err, sizeof(err));
    check(rc1 == 0, "migrate: first run applies 0001_a (%s)", rc1 == 0 ? "ok" : err);
    int rc2 = tf_migrate_run(conninfo, dir, 5, err, sizeof(err));
    check(rc2 == 0, "migrate: second run succeeds (%s)", rc2 == 0 ? "ok" : err);
    check(strcmp(sql_value("SELECT count(*) FROM mig_a"), "1") == 0, "migrate: 0001_a ran exactly once");
    check(strcmp(sql_value("SELECT count(*) FROM tf_schema_migrations WHERE version = '0001_a'"), "1") == 0,
          "migrate: 0001_a recorded once in tf_schema_migrations");

    write_file(dir, "0002_broken.sql",
               "CREATE TABLE mig_b (id int);\nINSERT INTO mig_b VALUES (1);\nSELECT nosuchcol FROM mig_b;\n");
    write_file(dir, "0003_c.sql", "CREATE TABLE mig_c (id int);\n");
    err[0] = '\0';
    int rc3 = tf_migrate_run(conninfo, dir, 5, err, sizeof(err));
    check(rc3 == -1, "migrate: a broken migration fails the run");
    check(strstr(err, "0002_broken.sql:3:") != NULL && strstr(err, "nosuchcol") != NULL,
          "migrate: the error names the file, the line and PostgreSQL's message [%s]", err);
    check(strcmp(sql_value("SELECT to_regclass('mig_b') IS NULL"), "t") == 0, "migrate: the broken file was rolled back");
    check(strcmp(sql_value("SELECT count(*) FROM tf_schema_migrations WHERE version = '0002_broken'"), "0") == 0,
          "migrate: the broken file is not recorded");
    check(strcmp(sql_value("SELECT to_regclass('mig_c') IS NULL"), "t") == 0, "migrate: files after the broken one are not tried");

    /* Fixed file: the run resumes where it stopped. */
    write_file(dir, "0002_broken.sql", "CREATE TABLE mig_b (id int);\n");
    int rc4 = tf_migrate_run(conninfo, dir, 5, err, sizeof(err));
    check(rc4 == 0 && strcmp(sql_value("SELECT count(*) FROM tf_schema_migrations WHERE version IN ('0002_broken', '0003_c')"),
                             "2") == 0,
          "migrate: after the fix, 0002 and 0003 apply (%s)", rc4 == 0 ? "ok" : err);

    /* Nodes starting together: the advisory lock serialises them. */
    write_file(dir, "0004_race.sql", "CREATE TABLE mig_race (id int);\nSELECT pg_sleep(0.2);\n");
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        if ((kids[i] = fork()) == 0) {
            char e[1024];
            _exit(tf_migrate_run(conninfo, dir, 5, e, sizeof(e)) == 0 ? 0 : (fprintf(stderr, "race: %s\n", e), 1));
        }
    }
    int all_ok = 1;
    for (int i = 0; i < 4; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    check(all_ok && strcmp(sql_value("SELECT count(*) FROM tf_schema_migrations WHERE version = '0004_race'"), "1") == 0,
          "migrate: 4 processes migrating at once all succeed, 0004 applied once");

    double t0 = now_ms();
    int rc5 = tf_migrate_run("host=/nonexistent-tf-dir dbname=x", dir, 1, err, sizeof(err));
    double t = now_ms() - t0;
    check(rc5 == -1 && strstr(err, "cannot connect") != NULL && t >= 1000 && t < 3000,
          "migrate: an unreachable database fails after the wait (%.0f ms) [%s]", t, err);

    int rc6 = tf_migrate_run(conninfo, real_dir, 5, err, sizeof(err));
    check(rc6 == 0, "migrate: %s applies (%s)", real_dir, rc6 == 0 ? "ok" : err);
    /* What the register endpoint does, with the emails in different case. */
    PGconn *pg = sync_conn();
    const char *ins = "INSERT INTO users (email, password_hash, display_name, tier) VALUES ($1, 'x', NULL, 'registered') "
                      "ON CONFLICT DO NOTHING RETURNING id::text, tier, created_at, is_admin, disabled";
    const char *p1[] = {"case@example.com"}, *p2[] = {"CASE@example.com"};
    PGresult *r1 = PQexecParams(pg, ins, 1, NULL, p1, NULL, NULL, 0);
    PGresult *r2 = PQexecParams(pg, ins, 1, NULL, p2, NULL, NULL, 0);
    check(PQresultStatus(r1) == PGRES_TUPLES_OK && PQntuples(r1) == 1 && strlen(PQgetvalue(r1, 0, 0)) == 36 &&
              strcmp(PQgetvalue(r1, 0, 1), "registered") == 0 && strcmp(PQgetvalue(r1, 0, 3), "f") == 0,
          "users: insert returns a uuid, tier registered, not admin [%s]", PQresultErrorMessage(r1));
    check(PQresultStatus(r2) == PGRES_TUPLES_OK && PQntuples(r2) == 0, "users: the same email in another case conflicts");
    PQclear(r1);
    PQclear(r2);
    PGresult *r3 = PQexec(pg, "UPDATE users SET display_name = 'x' WHERE email = 'case@example.com' "
                              "RETURNING updated_at > created_at");
    check(PQresultStatus(r3) == PGRES_TUPLES_OK && PQntuples(r3) == 1 && strcmp(PQgetvalue(r3, 0, 0), "t") == 0,
          "users: updated_at follows updates");
    PQclear(r3);
    PQfinish(pg);

    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* ------------------------------------------------------------------ */
/* the pool                                                            */

static tf_db_pool_t *pool;

typedef struct result {
    int called;
    int status; /* ExecStatusType */
    char value[128];
    char sqlstate[8];
    const char *err;
} result_t;

static void on_result(void *ud, PGresult *res, const char *err)
{
    result_t *r = ud;
    r->called++;
    r->err = err;
    if (res != NULL) {
        r->status = PQresultStatus(res);
        if (r->status == PGRES_TUPLES_OK && PQntuples(res) > 0)
            snprintf(r->value, sizeof(r->value), "%s", PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
        const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", code != NULL ? code : "");
    }
}

static int is_up(void *arg)
{
    return tf_db_is_up(pool);
}

static int is_down(void *arg)
{
    return !tf_db_is_up(pool);
}

static int called(void *arg)
{
    return ((result_t *)arg)->called > 0;
}

typedef struct many {
    result_t *r;
    int n;
} many_t;

static int all_called(void *arg)
{
    many_t *m = arg;
    for (int i = 0; i < m->n; i++)
        if (m->r[i].called == 0)
            return 0;
    return 1;
}

/* Queries `sql` and waits for its callback. */
static result_t query_wait(const char *sql, int n, const char *const *params)
{
    result_t r;
    memset(&r, 0, sizeof(r));
    if (tf_db_query(pool, sql, n, params, on_result, &r) == NULL) {
        r.err = "(refused)";
        return r;
    }
    run_until(called, &r, 10000);
    return r;
}

static void test_pool(void)
{
    double t0 = now_ms();
    pool = tf_db_pool_create(loop, conninfo, 2);
    check(!tf_db_is_up(pool), "pool: not up before the loop ran");
    check(tf_db_query(pool, "SELECT 1", 0, NULL, on_result, NULL) == NULL, "pool: tf_db_query refuses while down");
    int up = run_until(is_up, NULL, 5000);
    check(up, "pool: up %.0f ms after creation", now_ms() - t0);
    run_for(100); /* let the second connection finish too */
    tf_db_stats_t st;
    tf_db_get_stats(pool, &st);
    check(st.conns_up == 2 && st.conns_total == 2, "pool: both connections up (%d/%d)", st.conns_up, st.conns_total);

    /* 200 concurrent queries of 10 ms each on 2 connections. */
    enum { N = 200 };
    static result_t rs[N];
    static char nums[N][16];
    memset(rs, 0, sizeof(rs));
    max_gap = 0;
    t0 = now_ms();
    int queued = 0;
    for (int i = 0; i < N; i++) {
        snprintf(nums[i], sizeof(nums[i]), "%d", i);
        const char *params[] = {nums[i]};
        queued += tf_db_query(pool, "SELECT $1::int, pg_sleep(0.01)", 1, params, on_result, &rs[i]) != NULL;
    }
    tf_db_get_stats(pool, &st);
    check(queued == N && st.queue_len == N - 2, "pool: %d queries accepted, %zu waiting for a connection", queued,
          st.queue_len);
    many_t m = {rs, N};
    int done = run_until(all_called, &m, 20000);
    double took = now_ms() - t0;
    int right = 0;
    for (int i = 0; i < N; i++)
        right += rs[i].called == 1 && rs[i].err == NULL && rs[i].status == PGRES_TUPLES_OK && atoi(rs[i].value) == i;
    check(done && right == N, "pool: all %d callbacks arrived with their own result (%d right) in %.0f ms", N, right, took);
    check(took < N * 10 * 0.8, "pool: both connections worked in parallel (%.0f ms < %d ms)", took, N * 10 * 8 / 10);
    check(max_gap < 50, "pool: the loop was never blocked: 10 ms timer max gap %.1f ms", max_gap);

    /* SQL errors come back as results, not as err. */
    result_t r = query_wait("SELECT 1/0", 0, NULL);
    check(r.called == 1 && r.err == NULL && r.status == PGRES_FATAL_ERROR && strcmp(r.sqlstate, "22012") == 0,
          "pool: an SQL error arrives as a PGresult (status %d, SQLSTATE %s)", r.status, r.sqlstate);
    const char *np[] = {NULL, "h\xc3\xa9llo"};
    r = query_wait("SELECT ($1::text IS NULL)::text || ' ' || $2::text", 2, np);
    check(r.err == NULL && strcmp(r.value, "true h\xc3\xa9llo") == 0, "pool: NULL and UTF-8 parameters [%s]", r.value);

    /* A parameter larger than the socket buffer: PQflush returns 1 and the
     * rest goes out when the socket is writable. */
    size_t big_len = 8u << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = '\0';
    const char *bp[] = {big};
    max_gap = 0;
    r = query_wait("SELECT length($1)", 1, bp);
    free(big);
    check(r.err == NULL && atol(r.value) == (long)big_len, "pool: an 8 MiB parameter is flushed in pieces [%s]", r.value);

    /* Cancelling: one running, one waiting. */
    result_t c1, c2, c3, c4;
    memset(&c1, 0, sizeof(c1));
    c2 = c3 = c4 = c1;
    tf_db_query_t *q1 = tf_db_query(pool, "SELECT pg_sleep(0.2)", 0, NULL, on_result, &c1);
    tf_db_query(pool, "SELECT pg_sleep(0.2)", 0, NULL, on_result, &c2);
    tf_db_query_t *q3 = tf_db_query(pool, "SELECT 3", 0, NULL, on_result, &c3);
    tf_db_cancel(q3);
    tf_db_cancel(q1);
    tf_db_query(pool, "SELECT 4", 0, NULL, on_result, &c4);
    run_until(called, &c4, 5000);
    run_for(300);
    check(c1.called == 0 && c3.called == 0 && c2.called == 1 && c4.called == 1 && strcmp(c4.value, "4") == 0,
          "pool: cancelled queries (running and waiting) get no callback; the others do");

    /* The queue is bounded. */
    result_t s1, s2;
    memset(&s1, 0, sizeof(s1));
    s2 = s1;
    tf_db_query(pool, "SELECT pg_sleep(0.3)", 0, NULL, on_result, &s1);
    tf_db_query(pool, "SELECT pg_sleep(0.3)", 0, NULL, on_result, &s2);
    enum { M = TF_DB_QUEUE_MAX + 76 };
    static result_t qs[M];
    memset(qs, 0, sizeof(qs));
    int accepted = 0;
    tf_db_stats_t before;
    tf_db_get_stats(pool, &before);
    for (int i = 0; i < M; i++)
        accepted += tf_db_query(pool, "SELECT 1", 0, NULL, on_result, &qs[i]) != NULL;
    tf_db_get_stats(pool, &st);
    check(accepted == TF_DB_QUEUE_MAX && st.rejected_total - before.rejected_total == 76,
          "pool: the queue holds %d; %d more were refused", accepted, M - accepted);
    many_t mq = {qs, accepted};
    check(run_until(all_called, &mq, 20000), "pool: every accepted query of the full queue completed");
    run_until(called, &s2, 2000);

    /* Keepalive: idle connections are probed, and probes are not counted. */
    tf_db_get_stats(pool, &before);
    run_for(TF_DB_KEEPALIVE_MS + 1500);
    tf_db_get_stats(pool, &st);
    check(st.up && st.queries_total == before.queries_total, "pool: idle for %d ms, still up, probes not counted",
          TF_DB_KEEPALIVE_MS + 1500);

    /* PostgreSQL stops under a running query. */
    result_t lost;
    memset(&lost, 0, sizeof(lost));
    tf_db_query(pool, "SELECT pg_sleep(30)", 0, NULL, on_result, &lost);
    run_for(100);
    max_gap = 0;
    t0 = now_ms();
    child_t stop = {spawn_pg("stop"), 0, 0};
    int down = run_until(is_down, NULL, 5000);
    double down_ms = now_ms() - t0;
    check(down, "pool: down %.0f ms after `pg.sh stop` began", down_ms);
    printf("# tf_db_last_error: %s\n", tf_db_last_error(pool));
    check(tf_db_last_error(pool)[0] != '\0', "pool: tf_db_last_error explains it");
    run_until(called, &lost, 5000);
    check(lost.called == 1 && lost.err == tf_db_error_lost, "pool: the query in flight failed with \"%s\"",
          lost.err != NULL ? lost.err : "(no error)");
    check(run_until(child_done, &stop, 60000) && WIFEXITED(stop.status) && WEXITSTATUS(stop.status) == 0,
          "pg.sh stop finished");
    check(tf_db_query(pool, "SELECT 1", 0, NULL, on_result, NULL) == NULL, "pool: new queries are refused while down");
    run_for(2500);
    check(!tf_db_is_up(pool), "pool: still down 2.5 s later (reconnects fail quietly)");
    check(max_gap < 50, "pool: the loop was never blocked while down: max gap %.1f ms", max_gap);

    /* PostgreSQL comes back: the pool reconnects by itself. */
    t0 = now_ms();
    child_t start = {spawn_pg("start"), 0, 0};
    int started = run_until(child_done, &start, 60000) && WIFEXITED(start.status) && WEXITSTATUS(start.status) == 0;
    double t1 = now_ms();
    check(started, "pg.sh start finished (%.0f ms)", t1 - t0);
    up = run_until(is_up, NULL, 5000);
    double t2 = now_ms();
    check(up, "pool: up again %.0f ms after PostgreSQL accepted connections (%.0f ms after start began)", t2 - t1, t2 - t0);
    r = query_wait("SELECT 'back'", 0, NULL);
    check(r.err == NULL && strcmp(r.value, "back") == 0, "pool: queries work again without a restart");

    /* Configuration reload. */
    tf_db_pool_set_conninfo(pool, "host=/nonexistent-tf-dir dbname=triforce");
    t0 = now_ms();
    down = run_until(is_down, NULL, 3000);
    check(down, "pool: a bad conninfo takes it down (%.0f ms)", now_ms() - t0);
    printf("# tf_db_last_error: %s\n", tf_db_last_error(pool));
    check(strstr(tf_db_last_error(pool), "nonexistent-tf-dir") != NULL, "pool: the error names the socket");
    tf_db_pool_set_conninfo(pool, conninfo);
    t0 = now_ms();
    up = run_until(is_up, NULL, 3000);
    check(up, "pool: the good conninfo brings it back (%.0f ms)", now_ms() - t0);
    /* Reload under load: busy connections switch after their query. */
    result_t b1, b2;
    memset(&b1, 0, sizeof(b1));
    b2 = b1;
    tf_db_query(pool, "SELECT pg_sleep(0.2)", 0, NULL, on_result, &b1);
    tf_db_pool_set_conninfo(pool, conninfo);
    tf_db_query(pool, "SELECT 2", 0, NULL, on_result, &b2);
    run_until(called, &b1, 3000);
    run_until(called, &b2, 3000);
    check(b1.err == NULL && b2.err == NULL && strcmp(b2.value, "2") == 0, "pool: a reload does not fail queries in flight");

    /* A hung server: probes time out. */
    run_until(is_up, NULL, 3000);
    run_for(200);
    frozen = 1;
    signal_cluster(SIGSTOP);
    t0 = now_ms();
    result_t hung;
    memset(&hung, 0, sizeof(hung));
    int sent = tf_db_query(pool, "SELECT 'hung'", 0, NULL, on_result, &hung) != NULL;
    down = run_until(is_down, NULL, 12000);
    down_ms = now_ms() - t0;
    check(down, "pool: a frozen server is noticed after %.0f ms (probe timeout %d ms)", down_ms, TF_DB_PROBE_TIMEOUT_MS);
    run_until(called, &hung, 5000);
    check(!sent || (hung.called == 1 && hung.err != NULL), "pool: a query sent to it failed with \"%s\"",
          hung.err != NULL ? hung.err : "(none)");
    signal_cluster(SIGCONT);
    frozen = 0;
    t0 = now_ms();
    up = run_until(is_up, NULL, 8000);
    check(up, "pool: up %.0f ms after the server resumed", now_ms() - t0);

    /* Destroy with work pending: callbacks say so, nothing stays linked. */
    result_t d1, d2, d3;
    memset(&d1, 0, sizeof(d1));
    d2 = d3 = d1;
    run_for(100);
    tf_db_query(pool, "SELECT pg_sleep(1)", 0, NULL, on_result, &d1);
    tf_db_query(pool, "SELECT pg_sleep(1)", 0, NULL, on_result, &d2);
    tf_db_query(pool, "SELECT 3", 0, NULL, on_result, &d3);
    run_for(50);
    tf_db_get_stats(pool, &st);
    printf("# stats: queries %llu, errors %llu, rejected %llu\n", (unsigned long long)st.queries_total,
           (unsigned long long)st.errors_total, (unsigned long long)st.rejected_total);
    tf_db_pool_destroy(pool);
    pool = NULL;
    check(d1.called == 1 && d2.called == 1 && d3.called == 1 && d1.err == tf_db_error_closed && d3.err == tf_db_error_closed,
          "pool: destroy calls back pending queries with \"%s\"", tf_db_error_closed);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PG_SH PG_DIR MIGRATIONS_DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pg_sh = argv[1];
    pg_dir = argv[2];
    atexit(thaw);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' url '%s'", pg_sh, pg_dir);
    FILE *f = popen(cmd, "r");
    if (f == NULL || fgets(conninfo, sizeof(conninfo), f) == NULL) {
        fprintf(stderr, "cannot get the conninfo from %s\n", cmd);
        return 2;
    }
    pclose(f);
    conninfo[strcspn(conninfo, "\n")] = '\0';
    printf("# conninfo: %s\n", conninfo);
    tf_log_set_level(TF_LOG_WARN);

    test_migrations(argv[3]);

    loop = h2o_evloop_create();
    h2o_timeout_init(loop, &tick10, 10);
    tick_entry.cb = on_tick10;
    h2o_timeout_link(loop, &tick10, &tick_entry);
    test_pool();
    h2o_timeout_unlink(&tick_entry);
    h2o_timeout_dispose(loop, &tick10);
    h2o_evloop_destroy(loop); /* asserts that no timeout is left linked */
    check(1, "evloop destroyed cleanly after tf_db_pool_destroy");

    printf("1..%d\n", T_n);
    return T_failed == 0 ? 0 : 1;
}
