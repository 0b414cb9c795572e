/*
 * tf_cg_emit_routes.c - the route table and its re2c path matcher.
 *
 * Routes with the same path shape ("/v1/task/{}") share one re2c rule and
 * one path id; a generated switch maps (path id, method) to the route,
 * which tells 404 (no path) from 405 (path, other method) and gives Allow.
 * Output: generated/tf_routes.h, tf_routes.re and, through re2c,
 * tf_routes.c; generated/tf_handlers.h.
 *
 * End of input: the request path is a span inside h2o's buffer, neither
 * NUL-terminated nor padded, so the lexer reads through YYPEEK with a
 * bounds check (re2c's custom API) and sees a 0 at the end. No rule can
 * consume a 0 (parameters are [^/\x00]+, literal paths hold no control
 * bytes), so a real NUL inside the path also stops every rule; each
 * action then accepts only when the whole path was consumed. No copy, no
 * length limit, no read past the span.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"
#include "tf_spec.h"

/* The methods a route may have (tf_cg_check.c enforces it), plus HEAD. */
static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", NULL};

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
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Parameter names of a path, in order (at most TF_ROUTE_MAX_PARAMS). */
static int param_names(const char *path, char names[][64])
{
    int n = 0;
    for (const char *p = strchr(path, '{'); p != NULL && n < TF_ROUTE_MAX_PARAMS; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        snprintf(names[n++], 64, "%.*s", (int)(end - p - 1), p + 1);
    }
    return n;
}

static void emit_header(const tf_cg_spec_t *s, tf_cg_buf_t *h)
{
    tf_cg_printf(h, "/* " TF_CG_BANNER "spec/endpoints.yaml */\n#ifndef TF_ROUTES_H\n#define TF_ROUTES_H\n\n#include <stddef.h>\n\n"
                    "#include \"tf_spec.h\"\n\n/* Index of each route in tf_routes[]. */\n");
    for (size_t i = 0; i < s->nroutes; i++) {
        tf_cg_printf(h, "#define TF_ROUTE_");
        upper(h, s->routes[i].name);
        tf_cg_printf(h, " %zu\n", i);
    }
    tf_cg_printf(h, "\nextern const tf_route_t tf_routes[];\nextern const size_t tf_routes_count;\n\n"
                    "/*\n"
                    " * Matches a request. `path` is the raw request path without the query\n"
                    " * string (the caller strips \"?...\"); it need not be NUL-terminated and may\n"
                    " * hold any bytes. A {param} matches one non-empty segment; its span in\n"
                    " * params points into `path`, still percent-encoded. Matching is exact\n"
                    " * (\"/health/\" is not \"/health\") and case-sensitive.\n"
                    " *\n"
                    " * Returns the route index; TF_ROUTE_NOT_FOUND; or\n"
                    " * TF_ROUTE_METHOD_NOT_ALLOWED with *allow set to a static list such as\n"
                    " * \"GET, HEAD, POST\" (sorted). HEAD is served by a path's GET route.\n"
                    " */\n"
                    "int tf_route_match(const char *method, size_t method_len, const char *path, size_t path_len,\n"
                    "                   tf_route_params_t *params, const char **allow);\n\n#endif\n");
}

static void emit_table(const tf_cg_spec_t *s, tf_cg_buf_t *r)
{
    tf_cg_printf(r, "const tf_route_t tf_routes[] = {\n");
    for (size_t i = 0; i < s->nroutes; i++) {
        const tf_cg_route_t *rt = &s->routes[i];
        char names[TF_ROUTE_MAX_PARAMS][64];
        int np = param_names(rt->path, names);
        int tier = rt->min_tier ? tf_cg_tier_index(s, rt->min_tier) : 0;
        tf_cg_printf(r, "    {\"%s\", \"%s\", \"", rt->name, rt->method);
        tf_cg_cstr(r, rt->path);
        tf_cg_printf(r, "\", %s, %d, %s, ",
                     !strcmp(rt->auth, "admin") ? "TF_AUTH_ADMIN" : !strcmp(rt->auth, "user") ? "TF_AUTH_USER" : "TF_AUTH_PUBLIC", tier,
                     rt->needs_db && rt->mcp ? "TF_ROUTE_NEEDS_DB | TF_ROUTE_MCP"
                     : rt->needs_db          ? "TF_ROUTE_NEEDS_DB"
                     : rt->mcp               ? "TF_ROUTE_MCP"
                                             : "0");
        if (rt->request)
            tf_cg_printf(r, "tf_validate_%s, \"%s\", ", rt->request, rt->request);
        else
            tf_cg_printf(r, "NULL, NULL, ");
        tf_cg_printf(r, "tf_api_%s, \"tf_api_%s\", %d, {", rt->handler, rt->handler, np);
        for (int k = 0; k < np; k++)
            tf_cg_printf(r, "%s\"%s\"", k ? ", " : "", names[k]);
        if (np == 0)
            tf_cg_printf(r, "NULL");
        tf_cg_printf(r, "}},\n");
    }
    tf_cg_printf(r, "};\nconst size_t tf_routes_count = %zu;\n\n", s->nroutes);
}

/* The re2c rule for path id `p` whose first route is `path`. */
static void emit_rule(tf_cg_buf_t *r, int p, const char *path)
{
    tf_cg_printf(r, "        ");
    int k = 0, in_lit = 0;
    for (const char *c = path; *c; c++) {
        if (*c == '{') {
            if (in_lit)
                tf_cg_printf(r, "\" ");
            in_lit = 0;
            tf_cg_printf(r, "@p%d_%ds [^/\\x00]+ @p%d_%de ", p, k, p, k);
            k++;
            c = strchr(c, '}');
        } else {
            if (!in_lit)
                tf_cg_printf(r, "\"");
            in_lit = 1;
            tf_cg_printf(r, "%c", *c); /* checked: printable ASCII, no quote or backslash */
        }
    }
    if (in_lit)
        tf_cg_printf(r, "\" ");
    tf_cg_printf(r, "{\n            if (cur != lim)\n                return -1;\n");
    for (int j = 0; j < k; j++)
        tf_cg_printf(r, "            params->values[%d].base = (const char *)p%d_%ds;\n"
                        "            params->values[%d].len = (size_t)(p%d_%de - p%d_%ds);\n",
                     j, p, j, j, p, j, p, j);
    tf_cg_printf(r, "            params->count = %d;\n            return %d;\n        }\n", k, p);
}

static void emit_matcher(const tf_cg_spec_t *s, tf_cg_buf_t *r, const int *pid, int npaths)
{
    tf_cg_printf(r, "/* Path id of [cur, lim), or -1; parameter spans point into it. */\n"
                    "static int match_path(const unsigned char *cur, const unsigned char *lim, tf_route_params_t *params)\n{\n"
                    "    const unsigned char *mar = cur;\n"
                    "    /*!stags:re2c format = 'const unsigned char *@@ = NULL;\\n'; */\n");
    /* The named tags are ours to declare; re2c declares only its own (yyt*). */
    for (int p = 0; p < npaths; p++) {
        size_t first = 0;
        while (pid[first] != p)
            first++;
        char names[TF_ROUTE_MAX_PARAMS][64];
        int np = param_names(s->routes[first].path, names);
        for (int k = 0; k < np; k++)
            tf_cg_printf(r, "    const unsigned char *p%d_%ds = NULL, *p%d_%de = NULL;\n", p, k, p, k);
    }
    tf_cg_printf(r, "    (void)mar;\n"
                    "    /*!re2c\n"
                    "        re2c:api = custom;\n"
                    "        re2c:api:style = free-form;\n"
                    "        re2c:define:YYCTYPE = \"unsigned char\";\n"
                    "        re2c:define:YYPEEK = \"(cur < lim ? *cur : 0)\";\n"
                    "        re2c:define:YYSKIP = \"++cur;\";\n"
                    "        re2c:define:YYBACKUP = \"mar = cur;\";\n"
                    "        re2c:define:YYRESTORE = \"cur = mar;\";\n"
                    "        re2c:define:YYSTAGP = \"@@{tag} = cur;\";\n"
                    "        re2c:define:YYSTAGN = \"@@{tag} = NULL;\";\n"
                    "        re2c:define:YYSHIFT = \"cur += @@{shift};\";\n"
                    "        re2c:define:YYSHIFTSTAG = \"@@{tag} += @@{shift};\";\n"
                    "        re2c:yyfill:enable = 0;\n"
                    "        re2c:flags:tags = 1;\n\n");
    /* Rules without parameters first: of two rules matching the same text
     * re2c takes the earlier, and /v1/task/search must beat /v1/task/{id}. */
    for (int pass = 0; pass < 2; pass++)
        for (int p = 0; p < npaths; p++) {
            size_t first = 0;
            while (pid[first] != p)
                first++;
            const char *path = s->routes[first].path;
            if ((strchr(path, '{') != NULL) == pass)
                emit_rule(r, p, path);
        }
    tf_cg_printf(r, "        * { return -1; }\n    */\n}\n\n");
}

/* The methods' codes: one comparison per request instead of one per route. */
static void emit_methods(tf_cg_buf_t *r)
{
    tf_cg_printf(r, "enum { M_OTHER");
    for (int i = 0; methods[i]; i++)
        tf_cg_printf(r, ", M_%s", methods[i]);
    tf_cg_printf(r, " };\n\nstatic int method_code(const char *m, size_t n)\n{\n");
    for (int i = 0; methods[i]; i++)
        tf_cg_printf(r, "    if (n == %zu && memcmp(m, \"%s\", %zu) == 0)\n        return M_%s;\n", strlen(methods[i]), methods[i],
                     strlen(methods[i]), methods[i]);
    tf_cg_printf(r, "    return M_OTHER;\n}\n\n");
}

static void emit_dispatch(const tf_cg_spec_t *s, tf_cg_buf_t *r, const int *pid, int npaths)
{
    tf_cg_printf(r, "int tf_route_match(const char *method, size_t method_len, const char *path, size_t path_len,\n"
                    "                   tf_route_params_t *params, const char **allow)\n{\n"
                    "    params->count = 0;\n"
                    "    if (path_len == 0)\n        return TF_ROUTE_NOT_FOUND;\n"
                    "    const unsigned char *p = (const unsigned char *)path;\n"
                    "    int id = match_path(p, p + path_len, params);\n"
                    "    int m = method_code(method, method_len);\n"
                    "    switch (id) {\n");
    for (int p = 0; p < npaths; p++) {
        const char *ms[16];
        int nm = 0;
        size_t first = 0;
        while (pid[first] != p)
            first++;
        tf_cg_printf(r, "    case %d: /* ", p);
        tf_cg_cstr(r, s->routes[first].path);
        tf_cg_printf(r, " */\n");
        for (size_t i = 0; i < s->nroutes && nm < 14; i++) {
            if (pid[i] != p)
                continue;
            const char *mt = s->routes[i].method;
            int get = !strcmp(mt, "GET");
            tf_cg_printf(r, "        if (m == M_%s%s)\n            return %zu;\n", mt, get ? " || m == M_HEAD" : "", i);
            ms[nm++] = mt;
            if (get)
                ms[nm++] = "HEAD";
        }
        qsort(ms, (size_t)nm, sizeof(ms[0]), cmp_str);
        tf_cg_printf(r, "        *allow = \"");
        for (int k = 0; k < nm; k++)
            tf_cg_printf(r, "%s%s", k ? ", " : "", ms[k]);
        tf_cg_printf(r, "\";\n        return TF_ROUTE_METHOD_NOT_ALLOWED;\n");
    }
    tf_cg_printf(r, "    default:\n        (void)m;\n        (void)allow;\n        return TF_ROUTE_NOT_FOUND;\n    }\n}\n");
}

int tf_cg_emit_routes(const tf_cg_spec_t *s, const char *out)
{
    size_t n = s->nroutes;
    char **shapes = calloc(n + 1, sizeof(char *));
    int *pid = calloc(n + 1, sizeof(int));
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

    tf_cg_buf_t h = {0};
    emit_header(s, &h);

    tf_cg_buf_t r = {0};
    /* This banner is also the first line of tf_routes.c (tf_cg_re2c drops re2c's own). */
    tf_cg_printf(&r, "/* " TF_CG_BANNER "spec/endpoints.yaml, spec/tiers.yaml (tf_routes.c: re2c of tf_routes.re) */\n"
                     "#include <string.h>\n\n#include \"tf_handlers.h\"\n#include \"tf_routes.h\"\n#include \"tf_validators.h\"\n\n");
    emit_table(s, &r);
    emit_matcher(s, &r, pid, npaths);
    emit_methods(&r);
    emit_dispatch(s, &r, pid, npaths);

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
    tf_cg_printf(&h, "/* " TF_CG_BANNER "spec/endpoints.yaml */\n#ifndef TF_HANDLERS_H\n#define TF_HANDLERS_H\n\n#include \"tf_spec.h\"\n\n"
                     "/* One per distinct handler of spec/endpoints.yaml; defined in runtime/api/. */\n");
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
