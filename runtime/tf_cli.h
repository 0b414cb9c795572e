/*
 * tf_cli - operator commands that run once and exit (no event loop):
 *
 *   triforce [--conf F] user add --email E [--tier T] [--admin] [--password-stdin]
 *   triforce [--conf F] user set-tier --email E --tier T
 *   triforce [--conf F] user disable|enable --email E
 *
 * Each change is written to the audit log with actor "cli".
 */
#ifndef TF_CLI_H
#define TF_CLI_H

#include "tf_conf.h"

/* argv starts at "user"; returns the process exit status. */
int tf_cli_user(tf_conf_t *conf, int argc, char **argv);

#endif
