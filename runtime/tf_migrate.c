/*
 * tf_migrate - versioned SQL migrations. See tf_migrate.h.
 */
#include "tf_migrate.h"
#include "tf_clock.h"
#include "tf_log.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_STEP_MS 250

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* libpq messages end with a newline and may span lines; keep one line. */
static void one_line(char *s)
{
    char *w = s;
    int space = 0;
    for (char *r = s; *r != '\0'; r++) {
        if (*r == '\n' || *r == '\r' || *r == '\t' || *r == ' ') {
            space = w != s;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = 0;
        *w++ = *r;
    }
    *w = '\0';
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    one_line(err);
}

static void ignore_notice(void *arg, const char *msg)
{
    /* "relation ... already exists, skipping" and the like. */
}

static PGconn *connect_wait(const char *conninfo, int wait_seconds, char *err, size_t errlen)
{
    const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", "connect_timeout", NULL};
    const char *const vals[] = {conninfo, "triforce-migrate", "UTF8", "5", NULL};
    double deadline = ((double)tf_now_ns() / 1e9) + (wait_seconds > 0 ? wait_seconds : 0);
    int logged = 0;
    for (;;) {
        PGconn *pg = PQconnectdbParams(keys, vals, 1);
        if (pg != NULL && PQstatus(pg) == CONNECTION_OK) {
            PQsetNoticeProcessor(pg, ignore_notice, NULL);
            return pg;
        }
        set_err(err, errlen, "cannot connect to the database: %s", pg != NULL ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        double left_ms = (deadline - ((double)tf_now_ns() / 1e9)) * 1000;
        if (left_ms <= 0)
            return NULL;
        if (!logged) {
            tf_log(TF_LOG_INFO, "system", NULL, "migrations: waiting up to %d s for the database (%s)", wait_seconds, err);
            logged = 1;
        }
        sleep_ms(left_ms < WAIT_STEP_MS ? (long)left_ms + 1 : WAIT_STEP_MS);
    }
}

/* Runs `sql`; 0, or -1 with "what: message" in err. */
static int exec_ok(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
    if (!ok)
        set_err(err, errlen, "%s: %s", what, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    PQclear(r);
    return ok ? 0 : -1;
}

/* 1-based line of the 1-based character `pos` of `text` (UTF-8). */
static int line_of(const char *text, long pos)
{
    int line = 1;
    long ch = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s != '\0'; s++) {
        if ((*s & 0xC0) != 0x80 && ++ch >= pos)
            break;
        if (*s == '\n')
            line++;
    }
    return line;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int failed = ferror(f) || buf == NULL;
    fclose(f);
    if (failed) {
        free(buf);
        set_err(err, errlen, "%s: cannot read the file", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Applies one file in a transaction together with its version row. */
static int apply_file(PGconn *pg, const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096], version[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(version, sizeof(version), "%.*s", (int)(strlen(name) - 4), name);
    char *sql = read_file(path, err, errlen);
    if (sql == NULL)
        return -1;
    int rc = -1;
    if (exec_ok(pg, "BEGIN", path, err, errlen) != 0)
        goto out;
    PGresult *r = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
        if (msg != NULL)
            set_err(err, errlen, "%s:%d: %s (SQLSTATE %s)", path, pos != NULL ? line_of(sql, atol(pos)) : 1, msg,
                    code != NULL ? code : "?");
        else
            set_err(err, errlen, "%s: %s", path, PQerrorMessage(pg));
        PQclear(r);
        PQclear(PQexec(pg, "ROLLBACK"));
        goto out;
    }
    PQclear(r);
    const char *params[1] = {version};
    r = PQexecParams(pg, "INSERT INTO tf_schema_migrations (version) VALUES ($1)", 1, NULL, params, NULL, NULL, 0);
    s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK) {
        set_err(err, errlen, "%s: recording version %s: %s", path, version, PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(pg, "ROLLBACK"));
        goto out;
    }
    PQclear(r);
    if (exec_ok(pg, "COMMIT", path, err, errlen) != 0)
        goto out;
    tf_log(TF_LOG_INFO, "system", NULL, "migrations: applied %s", version);
    rc = 0;
out:
    free(sql);
    return rc;
}

static int is_sql_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0;
}

/* Byte order, whatever the locale: 0001_ < 0002_ < 0010_. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_applied(PGresult *applied, const char *name)
{
    size_t n = strlen(name) - 4;
    for (int i = 0; i < PQntuples(applied); i++) {
        const char *v = PQgetvalue(applied, i, 0);
        if (strlen(v) == n && memcmp(v, name, n) == 0)
            return 1;
    }
    return 0;
}

static int migrate(PGconn *pg, const char *dir, char *err, size_t errlen)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, is_sql_file, by_name);
    if (n < 0) {
        set_err(err, errlen, "migrations directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = -1, applied_now = 0;
    PGresult *applied = NULL;
    char sql[128];
    /* Try first, so a node that has to wait says why it seems stuck. */
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%d)", TF_MIGRATE_LOCK_KEY);
    PGresult *r = PQexec(pg, sql);
    int got = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!got) {
        tf_log(TF_LOG_INFO, "system", NULL, "migrations: another node is migrating; waiting for it");
        snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d)", TF_MIGRATE_LOCK_KEY);
        if (exec_ok(pg, sql, "taking the migration lock", err, errlen) != 0)
            goto out;
    }
    if (exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS tf_schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                "creating tf_schema_migrations", err, errlen) != 0)
        goto out;
    applied = PQexec(pg, "SELECT version FROM tf_schema_migrations");
    if (PQresultStatus(applied) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "reading tf_schema_migrations: %s", PQresultErrorMessage(applied));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (is_applied(applied, ents[i]->d_name))
            continue;
        if (apply_file(pg, dir, ents[i]->d_name, err, errlen) != 0)
            goto out;
        applied_now++;
    }
    if (applied_now == 0)
        tf_log(TF_LOG_INFO, "system", NULL, "migrations: up to date (%d files in %s)", n, dir);
    rc = 0;
out:
    PQclear(applied);
    /* The lock is released with the session anyway; be explicit. */
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock_all()");
    PQclear(PQexec(pg, sql));
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

int tf_migrate_run(const char *conninfo, const char *dir, int wait_seconds, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    PGconn *pg = connect_wait(conninfo != NULL ? conninfo : "", wait_seconds, err, errlen);
    if (pg == NULL)
        return -1;
    int rc = dir == NULL || dir[0] == '\0' ? 0 : migrate(pg, dir, err, errlen);
    PQfinish(pg);
    return rc;
}
