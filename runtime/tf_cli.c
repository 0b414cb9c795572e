/*
 * tf_cli.c - see tf_cli.h. Blocking libpq is fine here: nothing else runs.
 */
#include "tf_cli.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_crypto.h"
#include "tf_tiers.h"

static const char *arg(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static int run(PGconn *db, const char *sql, int n, const char *const *p, char *out, size_t outlen)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "triforce: %s", PQresultErrorMessage(res));
    else if (out != NULL)
        snprintf(out, outlen, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return ok ? 0 : -1;
}

int tf_cli_user(tf_conf_t *conf, int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *email_in = arg(argc, argv, "--email");
    if (email_in == NULL || (strcmp(cmd, "add") && strcmp(cmd, "set-tier") && strcmp(cmd, "disable") && strcmp(cmd, "enable"))) {
        fprintf(stderr, "usage: triforce user add --email E [--tier T] [--admin] [--password-stdin]\n"
                        "       triforce user set-tier --email E --tier T\n"
                        "       triforce user disable|enable --email E\n");
        return 2;
    }
    char email[256];
    size_t n = strlen(email_in);
    if (n == 0 || n >= sizeof(email) || strchr(email_in, '@') == NULL) {
        fprintf(stderr, "triforce: --email must be an email address\n");
        return 2;
    }
    for (size_t i = 0; i <= n; i++)
        email[i] = (char)tolower((unsigned char)email_in[i]);
    const char *tier = arg(argc, argv, "--tier");
    int t = tf_tier_find(tier != NULL ? tier : "registered");
    if (t < 0) {
        fprintf(stderr, "triforce: unknown tier '%s'\n", tier);
        return 2;
    }
    PGconn *db = PQconnectdb(conf->db_url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "triforce: database: %s", PQerrorMessage(db));
        PQfinish(db);
        return 1;
    }
    int rc = 1;
    char out[256] = "";
    if (strcmp(cmd, "add") == 0) {
        char password[512], generated[33] = "";
        if (flag(argc, argv, "--password-stdin")) {
            if (fgets(password, sizeof(password), stdin) == NULL)
                password[0] = '\0';
            password[strcspn(password, "\r\n")] = '\0';
        } else {
            tf_crypto_random_hex(generated, 16);
            snprintf(password, sizeof(password), "%s", generated);
        }
        if (strlen(password) < 8) {
            fprintf(stderr, "triforce: the password must have at least 8 characters\n");
            PQfinish(db);
            return 2;
        }
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) !=
            0) {
            fprintf(stderr, "triforce: out of memory hashing the password\n");
            PQfinish(db);
            return 1;
        }
        sodium_memzero(password, sizeof(password));
        const char *p[4] = {email, hash, tf_tiers[t].id, flag(argc, argv, "--admin") ? "true" : "false"};
        if (run(db,
                "WITH u AS (INSERT INTO users (email, password_hash, tier, is_admin) VALUES ($1, $2, $3, $4::boolean) "
                "RETURNING id, email, tier, is_admin), "
                "a AS (INSERT INTO audit_log (actor, action, target, details) SELECT 'cli', 'add_user', u.id::text, "
                "json_build_object('email', u.email, 'tier', u.tier, 'is_admin', u.is_admin) FROM u) "
                "SELECT id::text FROM u",
                4, p, out, sizeof(out)) == 0) {
            printf("user %s created: id %s, tier %s%s\n", email, out, tf_tiers[t].id, p[3][0] == 't' ? ", admin" : "");
            if (generated[0] != '\0')
                printf("generated password (shown once): %s\n", generated);
            rc = 0;
        }
    } else {
        const char *field = strcmp(cmd, "set-tier") == 0 ? "tier" : "disabled";
        if (strcmp(cmd, "set-tier") == 0 && tier == NULL) {
            fprintf(stderr, "triforce: set-tier needs --tier\n");
            PQfinish(db);
            return 2;
        }
        const char *value = strcmp(cmd, "set-tier") == 0 ? tf_tiers[t].id : strcmp(cmd, "disable") == 0 ? "true" : "false";
        const char *p[3] = {email, value, field};
        if (run(db,
                "WITH u AS (UPDATE users SET tier = CASE WHEN $3 = 'tier' THEN $2 ELSE tier END, "
                "disabled = CASE WHEN $3 = 'disabled' THEN $2::boolean ELSE disabled END "
                "WHERE lower(email) = $1 RETURNING id), "
                "a AS (INSERT INTO audit_log (actor, action, target, details) SELECT 'cli', 'update_user', u.id::text, "
                "json_build_object($3, $2) FROM u) SELECT id::text FROM u",
                3, p, out, sizeof(out)) == 0) {
            if (out[0] == '\0') {
                fprintf(stderr, "triforce: no user %s\n", email);
            } else {
                printf("user %s: %s = %s\n", email, field, value);
                rc = 0;
            }
        }
    }
    PQfinish(db);
    return rc;
}
