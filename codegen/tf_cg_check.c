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

const char *tf_cg_min_tier_c(const tf_cg_spec_t *s, const char *id, char buf[24])
{
    if (id == NULL)
        return "TF_MIN_TIER_MCP";
    snprintf(buf, 24, "%d", tf_cg_tier_index(s, id));
    return buf;
}

/*
 * A C source with comments and string/character literals blanked to
 * spaces (newlines kept), so "int tf_api_x(" inside a comment, a string or
 * an #if-less example block in a comment is not taken for a definition.
 */
char *tf_cg_read_code(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 8192, n = 0, r;
    char *d = malloc(cap);
    while ((r = fread(d + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap)
            d = realloc(d, cap *= 2);
    }
    fclose(f);
    d[n] = '\0';
    enum { CODE, LINE_COMMENT, BLOCK_COMMENT, STRING, CHAR } st = CODE;
    for (size_t i = 0; i < n; i++) {
        char c = d[i], next = i + 1 < n ? d[i + 1] : '\0';
        switch (st) {
        case CODE:
            if (c == '/' && next == '/')
                st = LINE_COMMENT;
            else if (c == '/' && next == '*')
                st = BLOCK_COMMENT, d[i++] = ' ';
            else if (c == '"')
                st = STRING;
            else if (c == '\'')
                st = CHAR;
            else
                continue;
            break;
        case LINE_COMMENT:
            if (c == '\n')
                st = CODE;
            break;
        case BLOCK_COMMENT:
            if (c == '*' && next == '/')
                st = CODE, d[i++] = ' ';
            break;
        case STRING:
        case CHAR:
            if (c == '\\' && next != '\0') /* an escape, or a line splice */
                d[i++] = ' ';
            else if (c == (st == STRING ? '"' : '\'') || c == '\n')
                st = CODE;
            break;
        }
        if (d[i] != '\n')
            d[i] = ' ';
    }
    return d;
}

/*
 * Handlers are plain functions; a route may name only one that exists.
 * A definition is "int tf_api_NAME(" at the start of a line (the form
 * runtime/api/ uses) whose parameter list is followed by a body, not by
 * ";" (a prototype defines nothing).
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
        char *code = tf_cg_read_code(path);
        if (code == NULL)
            continue;
        regmatch_t m[2];
        for (const char *at = code; regexec(&re, at, 2, m, at == code ? 0 : REG_NOTBOL) == 0; at += m[0].rm_eo) {
            /* The parameter list, then the first thing after it. */
            const char *c = at + m[0].rm_eo;
            int depth = 1;
            for (; *c && depth > 0; c++)
                depth += *c == '(' ? 1 : *c == ')' ? -1 : 0;
            while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
                c++;
            if (*c != '{')
                continue;
            s->handlers = realloc(s->handlers, (s->nhandlers + 1) * sizeof(char *));
            s->handlers[s->nhandlers++] = strndup(at + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
        }
        free(code);
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

#define PATH_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~!$&'()+,;=:@%"

/* Checks a path and writes its shape ("{}" for each parameter) into shape. */
static int check_path(const char *file, unsigned line, const char *path, char *shape, size_t cap)
{
    if (path[0] != '/') {
        tf_cg_error(file, line, "path '%s' must start with /", path);
        return -1;
    }
    size_t o = 0;
    int nparams = 0;
    char names[TF_ROUTE_MAX_PARAMS][64];
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
            if (nparams == TF_ROUTE_MAX_PARAMS) {
                tf_cg_error(file, line, "path '%s' has more than %d parameters (TF_ROUTE_MAX_PARAMS)", path, TF_ROUTE_MAX_PARAMS);
                return -1;
            }
            for (int k = 0; k < nparams; k++)
                if (strcmp(names[k], name) == 0) {
                    tf_cg_error(file, line, "path '%s': parameter '%s' appears twice", path, name);
                    return -1;
                }
            snprintf(names[nparams++], sizeof(names[0]), "%s", name);
            if (o + 3 < cap) {
                shape[o++] = '{';
                shape[o++] = '}';
            }
            p = end;
        } else if (!strchr(PATH_CHARS, *p)) {
            /* RFC 3986 pchar less '*': paths also land in re2c strings and C comments. */
            tf_cg_error(file, line, "path '%s': character '%c' is not allowed (only letters, digits, / and -._~!$&'()+,;=:@%%)",
                        path, *p);
            return -1;
        } else if (*p == '/' && p[1] == '/') {
            tf_cg_error(file, line, "path '%s': empty segment (//)", path);
            return -1;
        } else if (o + 1 < cap) {
            shape[o++] = *p;
        }
    }
    shape[o] = '\0';
    return 0;
}

/* The line of a key of the tier / route being checked (tiers.yaml:12: ...). */
#define TL(key) tf_cg_tier_line(s, i, key)
#define RL(key) tf_cg_route_line(s, i, key)

void tf_cg_check(tf_cg_spec_t *s)
{
    char file[4096];
    snprintf(file, sizeof(file), "%s/tiers.yaml", s->dir);
    for (size_t i = 0; i < s->ntiers; i++) {
        tf_cg_tier_t *t = &s->tiers[i];
        if (!is_ident(t->id))
            tf_cg_error(file, TL("id"), "tier id '%s' must be lower_snake_case", t->id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->tiers[j].id, t->id) == 0)
                tf_cg_error(file, TL("id"), "tier '%s' is defined twice", t->id);
        for (unsigned a = 0; a < t->aliases_count; a++) {
            char alias_key[64];
            snprintf(alias_key, sizeof(alias_key), "aliases[%u]", a);
            if (tf_cg_tier_index(s, t->aliases[a]) >= 0)
                tf_cg_error(file, TL(alias_key), "alias '%s' is also a tier id", t->aliases[a]);
            for (size_t j = 0; j <= i; j++)
                for (unsigned b = 0; b < (j < i ? s->tiers[j].aliases_count : a); b++)
                    if (strcmp(s->tiers[j].aliases[b], t->aliases[a]) == 0)
                        tf_cg_error(file, TL(alias_key), "alias '%s' is used twice", t->aliases[a]);
        }
        if (t->models_count == 0)
            tf_cg_error(file, TL("models"), "tier '%s' has no models", t->id);
        const char *lim[2] = {t->daily_tokens, t->requests_per_hour};
        const char *limn[2] = {"daily_tokens", "requests_per_hour"};
        for (int k = 0; k < 2; k++) {
            char *end;
            if (strcmp(lim[k], "unlimited") != 0 && (strtoll(lim[k], &end, 10) < 0 || *end != '\0' || end == lim[k]))
                tf_cg_error(file, TL(limn[k]), "tier '%s': %s must be a non-negative number or \"unlimited\", not '%s'", t->id, limn[k],
                            lim[k]);
        }
        /* Prices are euros and cents; the table stores them with %.2f. */
        const double *price[2] = {&t->price_monthly, t->price_yearly};
        const char *pricen[2] = {"price_monthly", "price_yearly"};
        for (int k = 0; k < 2; k++) {
            if (price[k] == NULL)
                continue;
            double cents = *price[k] * 100;
            if (*price[k] < 0 || cents > 1e12 || cents - (double)(long long)(cents + 0.5) > 1e-6 ||
                (double)(long long)(cents + 0.5) - cents > 1e-6)
                tf_cg_error(file, TL(pricen[k]), "tier '%s': %s must be a non-negative amount in euros and cents", t->id, pricen[k]);
        }
    }
    if (tf_cg_tier_index(s, "guest") != 0)
        tf_cg_error(file, 0, "the first tier must be 'guest' (requests without credentials get it)");

    snprintf(file, sizeof(file), "%s/endpoints.yaml", s->dir);
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    char **shapes = calloc(s->nroutes, sizeof(char *));
    for (size_t i = 0; i < s->nroutes; i++) {
        tf_cg_route_t *r = &s->routes[i];
        if (!is_ident(r->name))
            tf_cg_error(file, RL("name"), "route name '%s' must be lower_snake_case", r->name);
        /* TF_ROUTE_<NAME> must not collide with tf_spec.h's own macros. */
        static const char *const reserved[] = {"not_found", "method_not_allowed", "max_params", "needs_db", "mcp", NULL};
        for (int k = 0; reserved[k]; k++)
            if (strcmp(r->name, reserved[k]) == 0)
                tf_cg_error(file, RL("name"), "route name '%s' is reserved (TF_ROUTE_%s is in tf_spec.h)", r->name, reserved[k]);
        int mok = 0;
        for (int m = 0; methods[m]; m++)
            mok |= strcmp(methods[m], r->method) == 0;
        if (!mok)
            tf_cg_error(file, RL("method"), "route '%s': method '%s' is not one of GET, POST, PUT, PATCH, DELETE", r->name, r->method);
        if (strcmp(r->auth, "public") && strcmp(r->auth, "user") && strcmp(r->auth, "admin"))
            tf_cg_error(file, RL("auth"), "route '%s': auth '%s' is not one of public, user, admin", r->name, r->auth);
        if (r->min_tier != NULL && tf_cg_tier_index(s, r->min_tier) < 0)
            tf_cg_error(file, RL("min_tier"), "route '%s': min_tier '%s' is not a tier in tiers.yaml", r->name, r->min_tier);
        if (r->request != NULL && tf_cg_find_schema(s, r->request) == NULL)
            tf_cg_error(file, RL("request"), "route '%s': request schema '%s' is not in schemas/", r->name, r->request);
        if (!is_ident(r->handler))
            tf_cg_error(file, RL("handler"), "route '%s': handler '%s' must be lower_snake_case", r->name, r->handler);
        else if (!has_handler(s, r->handler))
            tf_cg_error(file, RL("handler"), "route '%s': unknown handler '%s' (no int tf_api_%s(tf_req_t *) in the handler sources)",
                        r->name, r->handler, r->handler);
        char shape[1024];
        if (check_path(file, RL("path"), r->path, shape, sizeof(shape)) == 0)
            shapes[i] = strdup(shape);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->routes[j].name, r->name) == 0)
                tf_cg_error(file, RL("name"), "route name '%s' is used twice (first at line %u)", r->name, s->routes[j].line);
            if (shapes[i] && shapes[j] && strcmp(shapes[i], shapes[j]) == 0 && strcmp(s->routes[j].method, r->method) == 0)
                tf_cg_error(file, RL("path"), "duplicate route %s %s (same as '%s' at line %u)", r->method, r->path, s->routes[j].name,
                            s->routes[j].line);
        }
    }
    for (size_t i = 0; i < s->nroutes; i++)
        free(shapes[i]);
    free(shapes);
}
