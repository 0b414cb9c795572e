/*
 * tf_cg_emit_tools.c - the tool table (generated/tf_tools.h, tf_tools.c):
 * each tool's tools/list entry pre-rendered as JSON, its validators and its
 * handler, so tools/list is string concatenation and tools/call a lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"

static json_t *listing(const tf_cg_tool_t *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "name", t->name, "title", t->title, "description", t->description, "inputSchema",
                          t->input);
    if (t->output != NULL)
        json_object_set(o, "outputSchema", t->output);
    json_t *a = json_pack("{s:s}", "title", t->title);
    const char *hk[4] = {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"};
    int hv[4] = {t->read_only, t->destructive, t->idempotent, t->open_world};
    for (int i = 0; i < 4; i++)
        if (hv[i] >= 0)
            json_object_set_new(a, hk[i], json_boolean(hv[i]));
    json_object_set_new(o, "annotations", a);
    return o;
}

int tf_cg_emit_tools(const tf_cg_spec_t *s, const char *out)
{
    tf_cg_buf_t h = {0}, c = {0}, p = {0}, src = {0};
    /* The banner names every tools file read ("spec/tools/" when none). */
    for (size_t i = 0; i < s->ntools; i++) {
        char f[300];
        snprintf(f, sizeof(f), "spec/tools/%s.yaml", s->tools[i].category);
        if (src.data == NULL || strstr(src.data, f) == NULL)
            tf_cg_printf(&src, "%s%s", src.len ? ", " : "", f);
    }
    const char *from = src.len ? src.data : "spec/tools/ (none)";
    tf_cg_printf(&h, "/* " TF_CG_BANNER "%s */\n#ifndef TF_TOOLS_H\n#define TF_TOOLS_H\n\n#include <stddef.h>\n\n"
                     "#include \"tf_spec.h\"\n\nextern const tf_tool_t tf_tools[];\nextern const size_t tf_tools_count;\n\n"
                     "/* Index of a tool by name, or -1. */\nint tf_tool_find(const char *name);\n\n#endif\n", from);
    tf_cg_printf(&p, "/* " TF_CG_BANNER "%s */\n#ifndef TF_TOOL_HANDLERS_H\n#define TF_TOOL_HANDLERS_H\n\n#include \"tf_spec.h\"\n\n", from);
    tf_cg_printf(&c, "/* " TF_CG_BANNER "%s */\n#include <string.h>\n\n#include \"tf_tool_handlers.h\"\n#include \"tf_tools.h\"\n"
                     "#include \"tf_validators.h\"\n\n", from);
    /* Sorted by name: tools/list pages and lookups are stable whatever the file order. */
    size_t *ord = calloc(s->ntools + 1, sizeof(size_t));
    for (size_t i = 0; i < s->ntools; i++)
        ord[i] = i;
    for (size_t i = 1; i < s->ntools; i++)
        for (size_t j = i; j > 0 && strcmp(s->tools[ord[j - 1]].name, s->tools[ord[j]].name) > 0; j--) {
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    /* Prototypes, once per handler. */
    for (size_t i = 0; i < s->ntools; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(s->tools[j].handler, s->tools[i].handler) == 0;
        if (!seen)
            tf_cg_printf(&p, "int tf_tool_%s(tf_tool_call_t *call);\n", s->tools[i].handler);
    }
    tf_cg_printf(&p, "\n#endif\n");
    tf_cg_printf(&c, "const tf_tool_t tf_tools[] = {\n");
    for (size_t k = 0; k < s->ntools; k++) {
        const tf_cg_tool_t *t = &s->tools[ord[k]];
        json_t *l = listing(t);
        char *txt = json_dumps(l, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(l);
        /* No min_tier: whichever tiers the running conf gives MCP access,
         * decided per request (a baked-in index would not follow the conf). */
        char tb[24];
        const char *tier = tf_cg_min_tier_c(s, t->min_tier, tb);
        tf_cg_printf(&c, "    {\"%s\", \"", t->name);
        tf_cg_cstr(&c, t->title);
        tf_cg_printf(&c, "\",\n     \"");
        tf_cg_cstr(&c, t->description);
        tf_cg_printf(&c, "\",\n     \"%s\",\n     \"", t->category);
        tf_cg_cstr(&c, txt);
        tf_cg_printf(&c, "\",\n     %s, %d, %d, %d, %d, tf_validate_tool_%s_input, ", tier, t->read_only, t->destructive, t->idempotent,
                     t->open_world, t->name);
        if (t->output != NULL)
            tf_cg_printf(&c, "tf_validate_tool_%s_output, ", t->name);
        else
            tf_cg_printf(&c, "NULL, ");
        tf_cg_printf(&c, "tf_tool_%s, \"tf_tool_%s\", %d, %d},\n", t->handler, t->handler, t->fixture, t->admin);
        free(txt);
    }
    if (s->ntools == 0)
        tf_cg_printf(&c, "    {NULL, NULL, NULL, NULL, NULL, 0, -1, -1, -1, -1, NULL, NULL, NULL, NULL, 0, 0},\n");
    tf_cg_printf(&c, "};\nconst size_t tf_tools_count = %zu;\n\n", s->ntools);
    tf_cg_printf(&c, "int tf_tool_find(const char *name)\n{\n    size_t lo = 0, hi = tf_tools_count;\n    if (name == NULL)\n        return -1;\n"
                     "    while (lo < hi) {\n        size_t mid = (lo + hi) / 2;\n        int c = strcmp(tf_tools[mid].name, name);\n"
                     "        if (c == 0)\n            return (int)mid;\n        if (c < 0)\n            lo = mid + 1;\n        else\n"
                     "            hi = mid;\n    }\n    return -1;\n}\n");
    free(ord);
    free(src.data);
    int rc = tf_cg_write(out, "tf_tools.h", &h);
    rc |= tf_cg_write(out, "tf_tool_handlers.h", &p);
    return tf_cg_write(out, "tf_tools.c", &c) | rc;
}
