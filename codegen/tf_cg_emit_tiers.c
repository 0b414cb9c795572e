/*
 * tf_cg_emit_tiers.c - the tier table (generated/tf_tiers.h, tf_tiers.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"

static void list(tf_cg_buf_t *b, const char *name, char **v, unsigned n)
{
    tf_cg_printf(b, "static const char *const %s[] = {", name);
    for (unsigned i = 0; i < n; i++) {
        tf_cg_printf(b, "\"");
        tf_cg_cstr(b, v[i]);
        tf_cg_printf(b, "\", ");
    }
    tf_cg_printf(b, "NULL};\n");
}

static long long limit(const char *s)
{
    return strcmp(s, "unlimited") == 0 ? -1 : strtoll(s, NULL, 10);
}

int tf_cg_emit_tiers(const tf_cg_spec_t *s, const char *out)
{
    tf_cg_buf_t h = {0}, c = {0};
    tf_cg_printf(&h, "/* " TF_CG_BANNER "spec/tiers.yaml */\n#ifndef TF_TIERS_H\n#define TF_TIERS_H\n\n#include <stddef.h>\n\n"
                     "#include \"tf_spec.h\"\n\n");
    for (size_t i = 0; i < s->ntiers; i++) {
        tf_cg_printf(&h, "#define TF_TIER_");
        for (const char *p = s->tiers[i].id; *p; p++)
            tf_cg_printf(&h, "%c", (*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
        tf_cg_printf(&h, " %zu\n", i);
    }
    tf_cg_printf(&h, "\nextern const tf_tier_t tf_tiers[];\nextern const size_t tf_tiers_count;\n\n"
                     "/* Index of a tier by id or alias, or -1 (also for NULL). */\nint tf_tier_find(const char *id_or_alias);\n\n#endif\n");

    tf_cg_printf(&c, "/* " TF_CG_BANNER "spec/tiers.yaml */\n#include <string.h>\n\n#include \"tf_tiers.h\"\n\n");
    for (size_t i = 0; i < s->ntiers; i++) {
        const tf_cg_tier_t *t = &s->tiers[i];
        char name[128];
        snprintf(name, sizeof(name), "%s_aliases", t->id);
        list(&c, name, t->aliases, t->aliases_count);
        snprintf(name, sizeof(name), "%s_models", t->id);
        list(&c, name, t->models, t->models_count);
        snprintf(name, sizeof(name), "%s_features", t->id);
        list(&c, name, t->features, t->features_count);
    }
    tf_cg_printf(&c, "\nconst tf_tier_t tf_tiers[] = {\n");
    for (size_t i = 0; i < s->ntiers; i++) {
        const tf_cg_tier_t *t = &s->tiers[i];
        tf_cg_printf(&c, "    {\"%s\", \"", t->id);
        tf_cg_cstr(&c, t->name);
        tf_cg_printf(&c, "\", %s_aliases, %zu, %.2f, %.2f, %s_models, %lldLL, %d, %lldLL, %d, %d, %s_features},\n", t->id, i,
                     t->price_monthly, t->price_yearly ? *t->price_yearly : -1.0, t->id, limit(t->daily_tokens), t->ollama_unlimited,
                     limit(t->requests_per_hour), t->mcp_access, t->priority, t->id);
    }
    tf_cg_printf(&c, "};\nconst size_t tf_tiers_count = %zu;\n\n", s->ntiers);
    tf_cg_printf(&c, "int tf_tier_find(const char *id_or_alias)\n{\n    if (id_or_alias == NULL)\n        return -1;\n"
                     "    for (size_t i = 0; i < tf_tiers_count; i++) {\n"
                     "        if (strcmp(tf_tiers[i].id, id_or_alias) == 0)\n            return (int)i;\n"
                     "        for (const char *const *a = tf_tiers[i].aliases; *a != NULL; a++)\n"
                     "            if (strcmp(*a, id_or_alias) == 0)\n                return (int)i;\n    }\n    return -1;\n}\n");
    int rc = tf_cg_write(out, "tf_tiers.h", &h);
    return tf_cg_write(out, "tf_tiers.c", &c) | rc;
}
