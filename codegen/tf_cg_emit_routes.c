/*
 * tf_cg_emit_routes.c - the route table and its re2c path matcher.
 *
 * Routes with the same path shape ("/v1/task/{}") share one re2c rule and
 * one path id; a small table maps (path id, method) to the route, which
 * tells 404 (no path) from 405 (path, other method) and builds Allow.
 * Output: generated/tf_routes.h, tf_routes.re and, through re2c,
 * tf_routes.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"

static void shape_of(const char *path, char *shape, size_t cap)
{
    size_t o = 0;
    for (const char *p = path; *p && o + 3 < cap; p++) {
        if (*p == '{') {
            shape[o++] = '{';
            shape[o++] = '}';
            p = strchr(p, '}');
        } else {
            shape[o++] = *p;
        }
    }
    shape[o] = '\0';
}

static void upper(tf_cg_buf_t *b, const char *s)
{
    for (; *s; s++)
        tf_cg_printf(b, "%c", (*s >= 'a' && *s <= 'z') ? *s - 32 : *s);
}

static int cmp_str(const void *a, const void *b)
{
    static const char *const order[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    int ia = 0, ib = 0;
    for (int i = 0; i < 6; i++) {
        if (!strcmp(*(const char *const *)a, order[i]))
            ia = i;
        if (!strcmp(*(const char *const *)b, order[i]))
            ib = i;
    }
    return ia - ib;
}

/* Parameter names of a path, in order. */
static int param_names(const char *path, char names[][64])
{
    int n = 0;
    for (const char *p = strchr(path, '{'); p != NULL && n < 8; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        snprintf(names[n++], 64, "%.*s", (int)(end - p - 1), p + 1);
    }
    return n;
}

int tf_cg_emit_routes(const tf_cg_spec_t *s, const char *out)
{
    size_t n = s->nroutes;
    char **shapes = calloc(n, sizeof(char *));
    int *pid = calloc(n, sizeof(int));
    int npaths = 0;
    for (size_t i = 0; i < n; i++) {
        char sh[1024];
        shape_of(s->routes[i].path, sh, sizeof(sh));
        shapes[i] = strdup(sh);
        pid[i] = -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(shapes[j], sh)) {
                pid[i] = pid[j];
                break;
            }
        if (pid[i] < 0)
            pid[i] = npaths++;
    }

    /* --- header --- */
    tf_cg_buf_t h = {0};
    tf_cg_printf(&h, "/* " TF_CG_BANNER "spec/endpoints.yaml */\n#ifndef TF_ROUTES_H\n#define TF_ROUTES_H\n\n#include <stddef.h>\n\n"
                     "#include \"tf_spec.h\"\n\n");
    for (size_t i = 0; i < n; i++) {
        tf_cg_printf(&h, "#define TF_ROUTE_");
        upper(&h, s->routes[i].name);
        tf_cg_printf(&h, " %zu\n", i);
    }
    tf_cg_printf(&h, "\nextern const tf_route_t tf_routes[];\nextern const size_t tf_routes_count;\n\n"
                     "/*\n * Matches a request. `path` is the raw path without the query string.\n"
                     " * Returns the route index, TF_ROUTE_NOT_FOUND, or TF_ROUTE_METHOD_NOT_ALLOWED\n"
                     " * with *allow set to the methods the path accepts. HEAD is served by GET routes.\n */\n"
                     "int tf_route_match(const char *method, size_t method_len, const char *path, size_t path_len,\n"
                     "                   tf_route_params_t *params, const char **allow);\n\n#endif\n");

    /* --- re2c input --- */
    tf_cg_buf_t r = {0};
    tf_cg_printf(&r, "/* " TF_CG_BANNER "spec/endpoints.yaml (re2c input for tf_routes.c) */\n"
                     "#include <string.h>\n\n#include \"tf_handlers.h\"\n#include \"tf_routes.h\"\n#include \"tf_validators.h\"\n\n");
    tf_cg_printf(&r, "const tf_route_t tf_routes[] = {\n");
    for (size_t i = 0; i < n; i++) {
        const tf_cg_route_t *rt = &s->routes[i];
        char names[8][64];
        int np = param_names(rt->path, names);
        int tier = rt->min_tier ? tf_cg_tier_index(s, rt->min_tier) : 0;
        tf_cg_printf(&r, "    {\"%s\", \"%s\", \"", rt->name, rt->method);
        tf_cg_cstr(&r, rt->path);
        tf_cg_printf(&r, "\", %s, %d, %s, ",
                     !strcmp(rt->auth, "admin") ? "TF_AUTH_ADMIN" : !strcmp(rt->auth, "user") ? "TF_AUTH_USER" : "TF_AUTH_PUBLIC", tier,
                     rt->needs_db ? "TF_ROUTE_NEEDS_DB" : "0");
        if (rt->request)
            tf_cg_printf(&r, "tf_validate_%s, \"%s\", ", rt->request, rt->request);
        else
            tf_cg_printf(&r, "NULL, NULL, ");
        tf_cg_printf(&r, "tf_api_%s, \"tf_api_%s\", %d, {", rt->handler, rt->handler, np);
        for (int k = 0; k < np; k++)
            tf_cg_printf(&r, "%s\"%s\"", k ? ", " : "", names[k]);
        if (np == 0)
            tf_cg_printf(&r, "NULL");
        tf_cg_printf(&r, "}},\n");
    }
    tf_cg_printf(&r, "};\nconst size_t tf_routes_count = %zu;\n\n", n);

    /* (path id, method) -> route, in spec order. */
    tf_cg_printf(&r, "static const struct {\n    int path;\n    const char *method;\n    int route;\n} by_path[] = {\n");
    for (size_t i = 0; i < n; i++)
        tf_cg_printf(&r, "    {%d, \"%s\", %zu},\n", pid[i], s->routes[i].method, i);
    tf_cg_printf(&r, "};\n\n/* The Allow header of each path. */\nstatic const char *const allow_of[] = {\n");
    for (int p = 0; p < npaths; p++) {
        const char *ms[16];
        int nm = 0;
        for (size_t i = 0; i < n && nm < 15; i++)
            if (pid[i] == p) {
                int dup = 0;
                for (int k = 0; k < nm; k++)
                    dup |= !strcmp(ms[k], s->routes[i].method);
                if (!dup) {
                    ms[nm++] = s->routes[i].method;
                    if (!strcmp(s->routes[i].method, "GET"))
                        ms[nm++] = "HEAD";
                }
            }
        qsort(ms, (size_t)nm, sizeof(ms[0]), cmp_str);
        tf_cg_printf(&r, "    \"");
        for (int k = 0; k < nm; k++)
            tf_cg_printf(&r, "%s%s", k ? ", " : "", ms[k]);
        tf_cg_printf(&r, "\",\n");
    }
    if (npaths == 0)
        tf_cg_printf(&r, "    \"\",\n");
    tf_cg_printf(&r, "};\n\n");

    /* The matcher: the path is copied NUL-terminated (sentinel method);
     * paths with an embedded NUL never get here. */
    tf_cg_printf(&r, "/* Path id for a NUL-terminated path, or -1; parameter spans point into `in`. */\n"
                     "static int match_path(const unsigned char *in, tf_route_params_t *params)\n{\n"
                     "    const unsigned char *YYCURSOR = in;\n"
                     "    const unsigned char *YYMARKER __attribute__((unused));\n"
                     "    /*!stags:re2c format = 'const unsigned char *@@ = NULL;\\n'; */\n");
    /* The named tags are ours to declare; re2c declares only its own (yyt*). */
    for (int p = 0; p < npaths; p++) {
        size_t first = 0;
        while (pid[first] != p)
            first++;
        char names[8][64];
        int np = param_names(s->routes[first].path, names);
        for (int k = 0; k < np; k++)
            tf_cg_printf(&r, "    const unsigned char *p%d_%ds = NULL, *p%d_%de = NULL;\n", p, k, p, k);
    }
    tf_cg_printf(&r, "    params->count = 0;\n"
                     "    /*!re2c\n"
                     "        re2c:define:YYCTYPE = \"unsigned char\";\n"
                     "        re2c:yyfill:enable = 0;\n"
                     "        re2c:flags:tags = 1;\n\n");
    /* Rules without parameters first: re2c prefers the earlier of two rules
     * matching the same text, and /v1/task/search must beat /v1/task/{id}. */
    for (int pass = 0; pass < 2; pass++)
    for (int p = 0; p < npaths; p++) {
        size_t first = 0;
        while (pid[first] != p)
            first++;
        const char *path = s->routes[first].path;
        if ((strchr(path, '{') != NULL) != pass)
            continue;
        tf_cg_printf(&r, "        ");
        int k = 0, in_lit = 0;
        for (const char *c = path; *c; c++) {
            if (*c == '{') {
                if (in_lit)
                    tf_cg_printf(&r, "\" ");
                in_lit = 0;
                tf_cg_printf(&r, "@p%d_%ds [^/\\x00]+ @p%d_%de ", p, k, p, k);
                k++;
                c = strchr(c, '}');
            } else {
                if (!in_lit)
                    tf_cg_printf(&r, "\"");
                in_lit = 1;
                tf_cg_printf(&r, "%c", *c);
            }
        }
        if (in_lit)
            tf_cg_printf(&r, "\" ");
        tf_cg_printf(&r, "\"\\x00\" {");
        for (int j = 0; j < k; j++)
            tf_cg_printf(&r, " params->values[%d].base = (const char *)p%d_%ds; params->values[%d].len = (size_t)(p%d_%de - p%d_%ds);",
                         j, p, j, j, p, j, p, j);
        tf_cg_printf(&r, " params->count = %d; return %d; }\n", k, p);
    }
    tf_cg_printf(&r, "        * { return -1; }\n    */\n}\n\n");

    tf_cg_printf(&r,
                 "int tf_route_match(const char *method, size_t method_len, const char *path, size_t path_len,\n"
                 "                   tf_route_params_t *params, const char **allow)\n{\n"
                 "    unsigned char buf[2048];\n"
                 "    if (path_len >= sizeof(buf) || memchr(path, 0, path_len) != NULL)\n        return TF_ROUTE_NOT_FOUND;\n"
                 "    memcpy(buf, path, path_len);\n    buf[path_len] = 0;\n"
                 "    int pid = match_path(buf, params);\n    if (pid < 0)\n        return TF_ROUTE_NOT_FOUND;\n"
                 "    for (int i = 0; i < params->count; i++) /* back from the copy into the caller's path */\n"
                 "        params->values[i].base = path + (params->values[i].base - (const char *)buf);\n"
                 "    if (method_len == 4 && memcmp(method, \"HEAD\", 4) == 0) {\n        method = \"GET\";\n        method_len = 3;\n    }\n"
                 "    for (size_t i = 0; i < sizeof(by_path) / sizeof(by_path[0]); i++)\n"
                 "        if (by_path[i].path == pid && strlen(by_path[i].method) == method_len &&\n"
                 "            memcmp(by_path[i].method, method, method_len) == 0)\n"
                 "            return by_path[i].route;\n"
                 "    *allow = allow_of[pid];\n    return TF_ROUTE_METHOD_NOT_ALLOWED;\n}\n");

    for (size_t i = 0; i < n; i++)
        free(shapes[i]);
    free(shapes);
    free(pid);
    int rc = tf_cg_write(out, "tf_routes.h", &h);
    rc |= tf_cg_write(out, "tf_routes.re", &r);
    if (rc == 0)
        rc = tf_cg_re2c(out, "tf_routes.re", "tf_routes.c");
    return rc;
}

int tf_cg_emit_handlers(const tf_cg_spec_t *s, const char *out)
{
    tf_cg_buf_t h = {0};
    tf_cg_printf(&h, "/* " TF_CG_BANNER "spec/endpoints.yaml */\n#ifndef TF_HANDLERS_H\n#define TF_HANDLERS_H\n\n#include \"tf_spec.h\"\n\n");
    for (size_t i = 0; i < s->nroutes; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= !strcmp(s->routes[j].handler, s->routes[i].handler);
        if (!seen)
            tf_cg_printf(&h, "int tf_api_%s(tf_req_t *req);\n", s->routes[i].handler);
    }
    tf_cg_printf(&h, "\n#endif\n");
    return tf_cg_write(out, "tf_handlers.h", &h);
}
