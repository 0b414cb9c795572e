/*
 * tf-codegen - spec/ in, generated/ out.
 *
 *   tf-codegen --spec DIR --out DIR --handlers DIR
 *
 * Reads DIR/endpoints.yaml, DIR/tiers.yaml, DIR/providers.yaml and every DIR/schemas/NAME.yaml, checks
 * them against each other and against the handler sources, and writes the
 * router, validators, tier and provider tables and handler prototypes. On any error it
 * prints every "file:line: reason" it found, writes nothing, exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tf_cg.h"

static void usage(void)
{
    fprintf(stderr, "usage: tf-codegen --spec DIR --out DIR --handlers DIR [--tools DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *out = NULL, *handlers = NULL, *tools = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--spec") && i + 1 < argc)
            spec = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--handlers") && i + 1 < argc)
            handlers = argv[++i];
        else if (!strcmp(argv[i], "--tools") && i + 1 < argc)
            tools = argv[++i];
        else
            usage();
    }
    if (spec == NULL || out == NULL || handlers == NULL)
        usage();

    tf_cg_spec_t s;
    memset(&s, 0, sizeof(s));
    s.dir = strdup(spec);
    char path[4096];
    snprintf(path, sizeof(path), "%s/tiers.yaml", spec);
    int loaded = tf_cg_load_tiers(&s, path) == 0;
    snprintf(path, sizeof(path), "%s/schemas", spec);
    tf_cg_load_schemas(&s, path);
    snprintf(path, sizeof(path), "%s/endpoints.yaml", spec);
    loaded &= tf_cg_load_endpoints(&s, path) == 0;
    loaded &= tf_cg_scan_handlers(&s, handlers) == 0;
    snprintf(path, sizeof(path), "%s/providers.yaml", spec);
    loaded &= tf_cg_load_providers(&s, path) == 0;
    snprintf(path, sizeof(path), "%s/tools", spec);
    tf_cg_load_tools(&s, path);
    if (tools != NULL)
        tf_cg_scan_tools(&s, tools);
    if (loaded)
        tf_cg_load_catalog(&s, spec); /* needs the tiers */
    /* Cross-checks need both files; a broken schema still has its name,
     * so they run past schema errors and every problem shows at once. */
    if (loaded) {
        tf_cg_check(&s);
        tf_cg_check_providers(&s);
        tf_cg_check_tools(&s);
    }
    /* Only a spec that is otherwise right gets stubs written for its new
     * tools; and any stub (new or old) stops the build. */
    if (tf_cg_error_count() == 0 && s.ntools > 0) {
        if (tools == NULL)
            tf_cg_error(spec, 0, "spec/tools/ holds tools: pass --tools DIR (their handlers)");
        else
            tf_cg_write_tool_stubs(&s, tools);
    }
    if (tf_cg_error_count() > 0) {
        fprintf(stderr, "tf-codegen: %d error(s); nothing written\n", tf_cg_error_count());
        return 1;
    }
    mkdir(out, 0755);
    int rc = tf_cg_emit_validators(&s, out);
    rc |= tf_cg_emit_tiers(&s, out);
    rc |= tf_cg_emit_handlers(&s, out);
    rc |= tf_cg_emit_routes(&s, out);
    rc |= tf_cg_emit_providers(&s, out);
    rc |= tf_cg_emit_tools(&s, out);
    rc |= tf_cg_emit_catalog(&s, out);
    if (rc != 0 || tf_cg_error_count() > 0)
        return 1;
    tf_cg_remove_stale(out);
    return 0;
}
