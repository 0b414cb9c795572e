/*
 * tf_cg_emit_providers.c - the provider, model and task-routing tables
 * (generated/tf_providers.h, tf_providers.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tf_cg.h"

static void str(tf_cg_buf_t *b, const char *s)
{
    if (s == NULL) {
        tf_cg_printf(b, "NULL");
        return;
    }
    tf_cg_printf(b, "\"");
    tf_cg_cstr(b, s);
    tf_cg_printf(b, "\"");
}

/* Keywords are matched against lower-cased words. */
static void list(tf_cg_buf_t *b, const char *name, char **v, unsigned n, int lower)
{
    tf_cg_printf(b, "static const char *const %s[] = {", name);
    for (unsigned i = 0; i < n; i++) {
        char w[256];
        snprintf(w, sizeof(w), "%s", v[i]);
        for (char *p = w; lower && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        str(b, w);
        tf_cg_printf(b, ", ");
    }
    tf_cg_printf(b, "NULL};\n");
}

int tf_cg_emit_providers(const tf_cg_spec_t *s, const char *out)
{
    tf_cg_buf_t h = {0}, c = {0};
    tf_cg_printf(&h, "/* " TF_CG_BANNER "spec/providers.yaml */\n#ifndef TF_PROVIDERS_H\n#define TF_PROVIDERS_H\n\n"
                     "#include <stddef.h>\n\n#include \"tf_spec.h\"\n\n"
                     "extern const tf_spec_provider_t tf_providers[];\nextern const size_t tf_providers_count;\n"
                     "extern const tf_spec_task_t tf_tasks[];\nextern const size_t tf_tasks_count;\n"
                     "/* The strategy when conf names none. */\nextern const char *const tf_default_strategy;\n\n#endif\n");
    tf_cg_printf(&c, "/* " TF_CG_BANNER "spec/providers.yaml */\n#include \"tf_providers.h\"\n\n");
    for (size_t i = 0; i < s->nproviders; i++) {
        const tf_cg_provider_t *p = &s->providers[i];
        tf_cg_printf(&c, "static const tf_spec_node_t p%zu_nodes[] = {\n", i);
        if (p->nodes_count == 0) {
            tf_cg_printf(&c, "    {\"default\", ");
            str(&c, p->base_url);
            tf_cg_printf(&c, ", 1},\n");
        }
        for (unsigned n = 0; n < p->nodes_count; n++) {
            tf_cg_printf(&c, "    {");
            str(&c, p->nodes[n].name);
            tf_cg_printf(&c, ", ");
            str(&c, p->nodes[n].base_url);
            tf_cg_printf(&c, ", %d},\n", p->nodes[n].enabled);
        }
        tf_cg_printf(&c, "};\nstatic const tf_spec_model_t p%zu_models[] = {\n", i);
        for (unsigned m = 0; m < p->models_count; m++) {
            const tf_cg_model_t *md = &p->models[m];
            char name[512];
            snprintf(name, sizeof(name), "%s/%s", p->id, md->id);
            tf_cg_printf(&c, "    {");
            str(&c, md->id);
            tf_cg_printf(&c, ", ");
            str(&c, name);
            tf_cg_printf(&c, ", ");
            str(&c, md->upstream);
            tf_cg_printf(&c, ", ");
            str(&c, md->family);
            tf_cg_printf(&c, ", %d, %.4f, %.4f},\n", md->quality ? md->quality : p->quality,
                         md->cost_input ? *md->cost_input : p->cost_input, md->cost_output ? *md->cost_output : p->cost_output);
        }
        tf_cg_printf(&c, "};\n");
    }
    tf_cg_printf(&c, "\nconst tf_spec_provider_t tf_providers[] = {\n");
    for (size_t i = 0; i < s->nproviders; i++) {
        const tf_cg_provider_t *p = &s->providers[i];
        tf_cg_printf(&c, "    {");
        str(&c, p->id);
        tf_cg_printf(&c, ", ");
        str(&c, p->name);
        tf_cg_printf(&c, ", ");
        str(&c, p->protocol);
        tf_cg_printf(&c, ", ");
        str(&c, p->key_env);
        tf_cg_printf(&c, ", %d, %d, %d, %d, %d, p%zu_nodes, %u, p%zu_models, %u},\n", p->key_required, p->enabled, p->priority, p->speed,
                     p->quality, i, p->nodes_count ? p->nodes_count : 1, i, p->models_count);
    }
    /* An empty array is not C: a sentinel keeps the table well-formed. */
    if (s->nproviders == 0)
        tf_cg_printf(&c, "    {NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, NULL, 0},\n");
    tf_cg_printf(&c, "};\nconst size_t tf_providers_count = %zu;\n\n", s->nproviders);
    for (size_t t = 0; t < s->ntasks; t++) {
        char name[64];
        snprintf(name, sizeof(name), "task%zu_keywords", t);
        list(&c, name, s->tasks[t].keywords, s->tasks[t].keywords_count, 1);
        snprintf(name, sizeof(name), "task%zu_models", t);
        list(&c, name, s->tasks[t].models, s->tasks[t].models_count, 0);
    }
    tf_cg_printf(&c, "\nconst tf_spec_task_t tf_tasks[] = {\n");
    for (size_t t = 0; t < s->ntasks; t++) {
        tf_cg_printf(&c, "    {");
        str(&c, s->tasks[t].task);
        tf_cg_printf(&c, ", task%zu_keywords, task%zu_models},\n", t, t);
    }
    if (s->ntasks == 0)
        tf_cg_printf(&c, "    {NULL, NULL, NULL},\n");
    tf_cg_printf(&c, "};\nconst size_t tf_tasks_count = %zu;\n\nconst char *const tf_default_strategy = ", s->ntasks);
    str(&c, s->strategy ? s->strategy : "fallback");
    tf_cg_printf(&c, ";\n");
    int rc = tf_cg_write(out, "tf_providers.h", &h);
    return tf_cg_write(out, "tf_providers.c", &c) | rc;
}
