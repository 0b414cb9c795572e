/*
 * Router unit test: the matcher generated from tests/unit/fixture/ (path
 * parameters, 404 vs 405 with Allow, HEAD, hostile paths).
 */
#include <stdio.h>
#include <string.h>

#include "tf_routes.h"
#include "tf_tiers.h"

static int n, failed;

static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

static int match(const char *method, const char *path, tf_route_params_t *p, const char **allow)
{
    return tf_route_match(method, strlen(method), path, strlen(path), p, allow);
}

static int param_is(const tf_route_params_t *p, int i, const char *v)
{
    return i < p->count && p->values[i].len == strlen(v) && memcmp(p->values[i].base, v, p->values[i].len) == 0;
}

int main(void)
{
    tf_route_params_t p;
    const char *allow = NULL;

    ok(match("GET", "/health", &p, &allow) == TF_ROUTE_ROOT_HEALTH && p.count == 0, "GET /health");
    ok(match("GET", "/v1/items", &p, &allow) == TF_ROUTE_ITEMS_LIST, "GET /v1/items");
    ok(match("POST", "/v1/items", &p, &allow) == TF_ROUTE_ITEMS_CREATE, "POST /v1/items");
    ok(match("GET", "/v1/items/42", &p, &allow) == TF_ROUTE_ITEM_GET && param_is(&p, 0, "42"), "GET /v1/items/{id} extracts id");
    ok(match("DELETE", "/v1/items/k-9", &p, &allow) == TF_ROUTE_ITEM_DELETE && param_is(&p, 0, "k-9"),
       "same shape, other method and param name");
    ok(match("GET", "/v1/items/7/parts/x%2Fy", &p, &allow) == TF_ROUTE_ITEM_SUB && param_is(&p, 0, "7") && param_is(&p, 1, "x%2Fy"),
       "two params, percent-encoding kept raw");
    ok(match("GET", "/v1/items/search", &p, &allow) == TF_ROUTE_ITEMS_SEARCH || match("GET", "/v1/items/search", &p, &allow) == TF_ROUTE_ITEM_GET,
       "literal segment vs parameter: matches one of them");
    ok(match("HEAD", "/health", &p, &allow) == TF_ROUTE_ROOT_HEALTH, "HEAD is served by GET");

    ok(match("GET", "/nope", &p, &allow) == TF_ROUTE_NOT_FOUND, "unknown path is 404");
    ok(match("GET", "/health/", &p, &allow) == TF_ROUTE_NOT_FOUND, "trailing slash is another path");
    ok(match("GET", "/v1/items//parts/x", &p, &allow) == TF_ROUTE_NOT_FOUND, "empty segment is not a parameter");
    ok(match("GET", "/v1/items/a/b", &p, &allow) == TF_ROUTE_NOT_FOUND, "a parameter is one segment");
    ok(match("GET", "", &p, &allow) == TF_ROUTE_NOT_FOUND, "empty path");
    ok(match("GET", "/HEALTH", &p, &allow) == TF_ROUTE_NOT_FOUND, "paths are case-sensitive");
    ok(tf_route_match("GET", 3, "/health\0/x", 10, &p, &allow) == TF_ROUTE_NOT_FOUND, "embedded NUL never matches a prefix");
    ok(tf_route_match("GET", 3, "/health", 6, &p, &allow) == TF_ROUTE_NOT_FOUND, "length is honoured, not NUL");
    char big[5000];
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    ok(tf_route_match("GET", 3, big, sizeof(big), &p, &allow) == TF_ROUTE_NOT_FOUND, "very long path is 404");

    allow = NULL;
    ok(match("PUT", "/v1/items", &p, &allow) == TF_ROUTE_METHOD_NOT_ALLOWED && allow && !strcmp(allow, "GET, HEAD, POST"),
       "405 with Allow: GET, HEAD, POST");
    allow = NULL;
    ok(match("POST", "/v1/items/1", &p, &allow) == TF_ROUTE_METHOD_NOT_ALLOWED && allow && !strcmp(allow, "GET, HEAD, DELETE"),
       "405 on a parameter path");
    ok(match("get", "/health", &p, &allow) == TF_ROUTE_METHOD_NOT_ALLOWED, "methods are case-sensitive");

    const tf_route_t *r = &tf_routes[TF_ROUTE_ITEM_DELETE];
    ok(r->auth == TF_AUTH_ADMIN && r->min_tier == TF_TIER_MEMBER && r->nparams == 1 && !strcmp(r->param_names[0], "key"),
       "route table: auth, min_tier, params");
    ok(tf_routes[TF_ROUTE_ITEM_SUB].flags & TF_ROUTE_NEEDS_DB, "route table: needs_db flag");
    ok(tf_routes[TF_ROUTE_ITEMS_CREATE].validate != NULL && tf_routes[TF_ROUTE_ITEMS_LIST].validate == NULL, "route table: validators");
    ok(tf_routes[TF_ROUTE_ITEM_GET].handler(NULL) == 1 && tf_routes[TF_ROUTE_ITEMS_CREATE].handler(NULL) == 2, "route table: handlers");
    ok(tf_tier_find("friend") == TF_TIER_MEMBER && tf_tier_find("guest") == 0 && tf_tier_find("x") == -1, "tiers: find by id and alias");
    ok(tf_tiers[TF_TIER_MEMBER].daily_tokens < 0 && tf_tiers[TF_TIER_GUEST].daily_tokens == 10, "tiers: limits");
    ok(tf_tiers[TF_TIER_GUEST].price_yearly < 0 && tf_tiers[TF_TIER_MEMBER].price_yearly == 15, "tiers: yearly price optional");
    return failed != 0;
}
