/*
 * tf_migrate - versioned SQL migrations, applied once each at start-up.
 *
 * DIR holds files named like 0001_users.sql. They are applied in byte
 * order of their names; each one not yet listed in tf_schema_migrations
 * runs inside its own transaction together with the insert of its version
 * (the name without ".sql"), so a file is either applied and recorded or
 * not at all. A file must therefore not contain BEGIN/COMMIT of its own,
 * nor statements that cannot run in a transaction (CREATE INDEX
 * CONCURRENTLY, ALTER TYPE ... ADD VALUE before PG 12).
 *
 * Several gateway nodes may start together against one database: the
 * whole run holds a session advisory lock (TF_MIGRATE_LOCK_KEY), so one
 * applies and the others then find nothing left to do.
 *
 * This is blocking code (libpq's synchronous API, sleeps while waiting for
 * the server): call it before any event loop starts. Progress is logged
 * through tf_log (category "system").
 */
#ifndef TF_MIGRATE_H
#define TF_MIGRATE_H

#include <stddef.h>

/* pg_advisory_lock key for the migration run: "TRIF" in ASCII. */
#define TF_MIGRATE_LOCK_KEY 0x54524946

/*
 * Connects (retrying every 250 ms until `wait_seconds` have passed, so the
 * gateway may start before PostgreSQL), then applies the pending files of
 * `dir`. A NULL or empty `dir` only waits for the database.
 * Returns 0, or -1 with a one-line reason in err: for a failed file,
 * "DIR/NAME.sql:LINE: PostgreSQL's message (SQLSTATE xxxxx)"; that file's
 * transaction was rolled back and the files after it were not tried.
 */
int tf_migrate_run(const char *conninfo, const char *dir, int wait_seconds, char *err, size_t errlen);

#endif
