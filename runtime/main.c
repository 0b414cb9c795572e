/*
 * main.c - the triforce binary: argument handling and start-up order.
 *
 *   triforce [--conf FILE]        serve (default conf/triforce.yaml)
 *   triforce --check-conf FILE    validate a configuration and exit
 *   triforce --migrate [--conf F] apply database migrations and exit
 */
#include <signal.h>
#include <sodium.h>
#include <pthread.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cli.h"
#include "tf_conf.h"
#include "tf_log.h"
#include "tf_migrate.h"
#include "tf_server.h"
#include "tf_validators.h"
#include "tf_work.h"

#ifndef TF_VERSION
#define TF_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: triforce [--conf FILE]\n"
                 "       triforce --check-conf FILE\n"
                 "       triforce --migrate [--conf FILE]\n"
                 "       triforce [--conf FILE] user add --email E [--tier T] [--admin] [--password-stdin]\n"
                 "       triforce [--conf FILE] user set-tier --email E --tier T\n"
                 "       triforce [--conf FILE] user disable|enable --email E\n"
                 "       triforce --version\n");
}

int main(int argc, char **argv)
{
    /* Before any thread: curl's global state (OpenSSL, DNS) is not thread-safe to set up. */
    curl_global_init(CURL_GLOBAL_ALL);
    const char *conf_file = "conf/triforce.yaml";
    int check_only = 0, migrate_only = 0, user_cmd = 0;
    for (int i = 1; i < argc && !user_cmd; i++) {
        if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc) {
            conf_file = argv[++i];
        } else if (strcmp(argv[i], "--check-conf") == 0 && i + 1 < argc) {
            conf_file = argv[++i];
            check_only = 1;
        } else if (strcmp(argv[i], "user") == 0) {
            user_cmd = i;
        } else if (strcmp(argv[i], "--migrate") == 0) {
            migrate_only = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("triforce %s\n", TF_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    char err[8192];
    tf_conf_t *conf = tf_conf_load(conf_file, err, sizeof(err));
    if (conf == NULL) {
        fputs(err, stderr);
        return 2;
    }
    if (check_only) {
        printf("%s: ok\n", conf_file);
        tf_conf_unref(conf);
        return 0;
    }
    tf_log_set_level(conf->log_level);
    if (tf_log_open(conf->log_file) != 0) {
        fprintf(stderr, "cannot open log file %s\n", conf->log_file);
        return 1;
    }
    if (sodium_init() < 0 || tf_validators_init() != 0) {
        tf_log(TF_LOG_ERROR, "error", NULL, "start-up: cannot initialise libsodium or the validators");
        return 1;
    }
    if (tf_migrate_run(conf->db_url, conf->db_migrations, (int)conf->db_startup_wait_seconds, err, sizeof(err)) != 0) {
        tf_log(TF_LOG_ERROR, "error", NULL, "database migrations: %s", err);
        return 1;
    }
    if (user_cmd) {
        int rc = tf_cli_user(conf, argc - user_cmd, argv + user_cmd);
        tf_conf_unref(conf);
        return rc;
    }
    if (migrate_only) {
        tf_conf_unref(conf);
        return 0;
    }
    tf_conf_publish(tf_conf_ref(conf));
    sigset_t set;
    tf_server_block_signals(&set); /* before the worker threads exist */
    if (tf_work_start(conf->threads) != 0) {
        tf_log(TF_LOG_ERROR, "error", NULL, "cannot start worker threads");
        return 1;
    }
    tf_log(TF_LOG_INFO, "system", NULL, "triforce %s starting as node '%s'", TF_VERSION, conf->node_name);
    int rc = tf_server_run(conf);
    tf_work_stop();
    tf_conf_unref(conf);
    return rc;
}
