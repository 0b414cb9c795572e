/*
 * tf_cg_check.c - do the spec files fit together, and with the code?
 *
 * Every problem is reported with the file and line of the offending entry;
 * the generator writes nothing when any check fails.
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cg.h"
#include "tf_spec.h"

int tf_cg_tier_index(const tf_cg_spec_t *s, const char *id)
{
    for (size_t i = 0; i < s->ntiers; i++)
        if (strcmp(s->tiers[i].id, id) == 0)
            return (int)i;
    return -1;
}

/*
 * Handlers are plain functions; a route may name only one that exists.
 * We look for definitions "int tf_api_NAME(" at the start of a line in
 * the handler sources, the form the README asks for.
 */
int tf_cg_scan_handlers(tf_cg_spec_t *s, const char *dir)
{
    regex_t re;
    regcomp(&re, "^int[ \t]+tf_api_([a-z0-9_]+)[ \t]*\\(", REG_EXTENDED | REG_NEWLINE);
    DIR *d = opendir(dir);
    if (d == NULL) {
        tf_cg_error(dir, 0, "cannot open the handler directory");
        regfree(&re);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        char line[1024];
        while (fgets(line, sizeof(line), f) != NULL) {
            regmatch_t m[2];
            if (regexec(&re, line, 2, m, 0) == 0) {
                s->handlers = realloc(s->handlers, (s->nhandlers + 1) * sizeof(char *));
                s->handlers[s->nhandlers++] = strndup(line + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
            }
        }
        fclose(f);
    }
    closedir(d);
    regfree(&re);
    return 0;
}

static int has_handler(const tf_cg_spec_t *s, const char *name)
{
    for (size_t i = 0; i < s->nhandlers; i++)
        if (strcmp(s->handlers[i], name) == 0)
            return 1;
    return 0;
}

static int is_ident(const char *s)
{
    if (s == NULL || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Checks a path and writes its shape ("{}" for each parameter) into shape. */
static int check_path(const char *file, unsigned line, const char *path, char *shape, size_t cap)
{
    if (path[0] != '/') {
        tf_cg_error(file, line, "path '%s' must start with /", path);
        return -1;
    }
    size_t o = 0;
    int nparams = 0;
    for (const char *p = path; *p; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end == NULL || end == p + 1 || p[-1] != '/' || (end[1] != '/' && end[1] != '\0')) {
                tf_cg_error(file, line, "path '%s': a parameter is a whole segment like /{id}", path);
                return -1;
            }
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
            if (!is_ident(name)) {
                tf_cg_error(file, line, "path '%s': parameter name '%s' must be lower_snake_case", path, name);
                return -1;
            }
            if (++nparams > TF_ROUTE_MAX_PARAMS) {
                tf_cg_error(file, line, "path '%s' has more than %d parameters", path, TF_ROUTE_MAX_PARAMS);
                return -1;
            }
            if (o + 3 < cap) {
                shape[o++] = '{';
                shape[o++] = '}';
            }
            p = end;
        } else if (*p == '}' || *p == '"' || *p == '\\' || (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '?' ||
                   *p == '#') {
            tf_cg_error(file, line, "path '%s': character '%c' is not allowed", path, *p);
            return -1;
        } else if (o + 1 < cap) {
            shape[o++] = *p;
        }
    }
    shape[o] = '\0';
    return 0;
}

void tf_cg_check(tf_cg_spec_t *s)
{
    char file[4096];
    snprintf(file, sizeof(file), "%s/tiers.yaml", s->dir);
    for (size_t i = 0; i < s->ntiers; i++) {
        tf_cg_tier_t *t = &s->tiers[i];
        if (!is_ident(t->id))
            tf_cg_error(file, t->line, "tier id '%s' must be lower_snake_case", t->id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->tiers[j].id, t->id) == 0)
                tf_cg_error(file, t->line, "tier '%s' is defined twice", t->id);
        for (unsigned a = 0; a < t->aliases_count; a++)
            if (tf_cg_tier_index(s, t->aliases[a]) >= 0)
                tf_cg_error(file, t->line, "alias '%s' is also a tier id", t->aliases[a]);
        const char *lim[2] = {t->daily_tokens, t->requests_per_hour};
        const char *limn[2] = {"daily_tokens", "requests_per_hour"};
        for (int k = 0; k < 2; k++) {
            char *end;
            if (strcmp(lim[k], "unlimited") != 0 && (strtoll(lim[k], &end, 10) < 0 || *end != '\0' || end == lim[k]))
                tf_cg_error(file, t->line, "tier '%s': %s must be a non-negative number or \"unlimited\", not '%s'", t->id, limn[k],
                            lim[k]);
        }
        if (t->price_monthly < 0)
            tf_cg_error(file, t->line, "tier '%s': price_monthly is negative", t->id);
    }
    if (tf_cg_tier_index(s, "guest") != 0)
        tf_cg_error(file, 0, "the first tier must be 'guest' (requests without credentials get it)");

    snprintf(file, sizeof(file), "%s/endpoints.yaml", s->dir);
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    char **shapes = calloc(s->nroutes, sizeof(char *));
    for (size_t i = 0; i < s->nroutes; i++) {
        tf_cg_route_t *r = &s->routes[i];
        if (!is_ident(r->name))
            tf_cg_error(file, r->line, "route name '%s' must be lower_snake_case", r->name);
        int mok = 0;
        for (int m = 0; methods[m]; m++)
            mok |= strcmp(methods[m], r->method) == 0;
        if (!mok)
            tf_cg_error(file, r->line, "route '%s': method '%s' is not one of GET, POST, PUT, PATCH, DELETE", r->name, r->method);
        if (strcmp(r->auth, "public") && strcmp(r->auth, "user") && strcmp(r->auth, "admin"))
            tf_cg_error(file, r->line, "route '%s': auth '%s' is not one of public, user, admin", r->name, r->auth);
        if (r->min_tier != NULL && tf_cg_tier_index(s, r->min_tier) < 0)
            tf_cg_error(file, r->line, "route '%s': min_tier '%s' is not a tier in tiers.yaml", r->name, r->min_tier);
        if (r->request != NULL && tf_cg_find_schema(s, r->request) == NULL)
            tf_cg_error(file, r->line, "route '%s': request schema '%s' is not in schemas/", r->name, r->request);
        if (!is_ident(r->handler))
            tf_cg_error(file, r->line, "route '%s': handler '%s' must be lower_snake_case", r->name, r->handler);
        else if (!has_handler(s, r->handler))
            tf_cg_error(file, r->line, "route '%s': unknown handler '%s' (no int tf_api_%s(tf_req_t *) in the handler sources)",
                        r->name, r->handler, r->handler);
        char shape[1024];
        if (check_path(file, r->line, r->path, shape, sizeof(shape)) == 0)
            shapes[i] = strdup(shape);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->routes[j].name, r->name) == 0)
                tf_cg_error(file, r->line, "route name '%s' is used twice (first at line %u)", r->name, s->routes[j].line);
            if (shapes[i] && shapes[j] && strcmp(shapes[i], shapes[j]) == 0 && strcmp(s->routes[j].method, r->method) == 0)
                tf_cg_error(file, r->line, "duplicate route %s %s (same as '%s' at line %u)", r->method, r->path, s->routes[j].name,
                            s->routes[j].line);
        }
    }
    for (size_t i = 0; i < s->nroutes; i++)
        free(shapes[i]);
    free(shapes);
}
