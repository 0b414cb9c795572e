/*
 * Router unit test: the matcher generated from tests/unit/codegen/router_spec/
 * (path parameters, literal vs parameter segments, 404 vs 405 with Allow,
 * HEAD, hostile paths), plus the route and tier tables.
 *
 * Paths are passed as (pointer, length) copies in exactly-sized heap
 * buffers, so ASan catches any read past the span (the server's paths
 * are not NUL-terminated).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_routes.h"
#include "tf_tiers.h"

static int n, failed;

static void ok(int cond, const char *desc)
{
    printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
    failed += !cond;
}

static tf_route_params_t p;
static const char *allow;
static char *last; /* the buffer of the last match: params point into it */

/* Matches a path of `len` bytes, copied without a terminator. */
static int match_n(const char *method, const char *path, size_t len)
{
    free(last);
    last = malloc(len ? len : 1);
    memcpy(last, path, len);
    allow = NULL;
    memset(&p, 0xab, sizeof(p));
    return tf_route_match(method, strlen(method), last, len, &p, &allow);
}

static int match(const char *method, const char *path)
{
    return match_n(method, path, strlen(path));
}

static int param_is(int i, const char *v)
{
    return i < p.count && p.values[i].len == strlen(v) && memcmp(p.values[i].base, v, p.values[i].len) == 0 &&
           p.values[i].base >= last; /* into the caller's buffer, not a copy */
}

static int allow_is(const char *want)
{
    return allow != NULL && strcmp(allow, want) == 0;
}

int main(void)
{
    /* Literal paths. */
    ok(match("GET", "/") == TF_ROUTE_ROOT && p.count == 0, "GET / (the root path)");
    ok(match("GET", "/health") == TF_ROUTE_ROOT_HEALTH && p.count == 0, "GET /health");
    ok(match("GET", "/v1/items") == TF_ROUTE_ITEMS_LIST, "GET /v1/items");
    ok(match("POST", "/v1/items") == TF_ROUTE_ITEMS_CREATE, "POST /v1/items: same path, other method");
    ok(match("GET", "/v1/files/report.v2~x") == TF_ROUTE_DOTTED, "literal with . and ~");
    ok(match("GET", "/v1/files/reportXv2~x") == TF_ROUTE_NOT_FOUND, ". is literal, not any character");

    /* Parameters. */
    ok(match("GET", "/v1/items/42") == TF_ROUTE_ITEM_GET && p.count == 1 && param_is(0, "42"), "GET /v1/items/{id} extracts id");
    ok(match("DELETE", "/v1/items/k-9") == TF_ROUTE_ITEM_DELETE && param_is(0, "k-9"), "same shape, other method and param name");
    ok(match("PUT", "/v1/items/7") == TF_ROUTE_ITEM_PUT && match("PATCH", "/v1/items/7") == TF_ROUTE_ITEM_PATCH, "PUT and PATCH");
    ok(match("GET", "/v1/items/7/parts") == TF_ROUTE_ITEM_PARTS && param_is(0, "7"), "parameter then literal");
    ok(match("GET", "/v1/items/7/parts/x%2Fy") == TF_ROUTE_ITEM_SUB && p.count == 2 && param_is(0, "7") && param_is(1, "x%2Fy"),
       "two params, percent-encoding kept raw (%2F is not a separator)");
    ok(match("GET", "/v1/items/search") == TF_ROUTE_ITEMS_SEARCH && p.count == 0, "a literal segment beats a parameter");
    ok(match("GET", "/v1/items/searchx") == TF_ROUTE_ITEM_GET && param_is(0, "searchx"), "... but only the whole segment");
    ok(match("GET", "/v1/items/sea") == TF_ROUTE_ITEM_GET && param_is(0, "sea"), "... and not a prefix of it");
    ok(match("POST", "/v1/four/1/2/x/3/4") == TF_ROUTE_FOUR && p.count == 4 && param_is(0, "1") && param_is(1, "2") &&
           param_is(2, "3") && param_is(3, "4"),
       "four parameters around a literal");
    ok(match("POST", "/v1/four/1/2/y/3/4") == TF_ROUTE_NOT_FOUND, "... the literal between them must match");
    ok(match("GET", "/v1/items/%00") == TF_ROUTE_ITEM_GET && param_is(0, "%00"), "an encoded NUL is just text");
    ok(match("GET", "/v1/items/\xc3\xa9") == TF_ROUTE_ITEM_GET && param_is(0, "\xc3\xa9"), "UTF-8 bytes in a parameter");

    /* HEAD. */
    ok(match("HEAD", "/health") == TF_ROUTE_ROOT_HEALTH, "HEAD is served by GET");
    ok(match("HEAD", "/v1/items/1") == TF_ROUTE_ITEM_GET, "HEAD on a parameter path");
    ok(match("HEAD", "/v1/four/1/2/x/3/4") == TF_ROUTE_METHOD_NOT_ALLOWED && allow_is("POST"), "no HEAD where there is no GET");

    /* Not found. */
    ok(match("GET", "/nope") == TF_ROUTE_NOT_FOUND, "unknown path is 404");
    ok(match("GET", "/health/") == TF_ROUTE_NOT_FOUND, "trailing slash is another path");
    ok(match("GET", "/v1/items/") == TF_ROUTE_NOT_FOUND, "empty last segment is not a parameter");
    ok(match("GET", "/v1/items//parts") == TF_ROUTE_NOT_FOUND, "empty middle segment is not a parameter");
    ok(match("GET", "//health") == TF_ROUTE_NOT_FOUND, "// is not /");
    ok(match("GET", "/v1/items/a/b") == TF_ROUTE_NOT_FOUND, "a parameter is one segment");
    ok(match("GET", "/healt") == TF_ROUTE_NOT_FOUND && match("GET", "/healthz") == TF_ROUTE_NOT_FOUND, "prefixes and extensions");
    ok(match("GET", "") == TF_ROUTE_NOT_FOUND, "empty path");
    ok(match("GET", "health") == TF_ROUTE_NOT_FOUND, "path without /");
    ok(match("GET", "/HEALTH") == TF_ROUTE_NOT_FOUND, "paths are case-sensitive");
    ok(match("GET", "/%68ealth") == TF_ROUTE_NOT_FOUND, "no percent-decoding of literal segments");
    ok(match("GET", "/health?x=1") == TF_ROUTE_NOT_FOUND, "the query string is the caller's to strip");

    /* Embedded NUL and lengths. */
    ok(match_n("GET", "/health\0/x", 10) == TF_ROUTE_NOT_FOUND, "embedded NUL after a full path never matches");
    ok(match_n("GET", "/v1/items/a\0b", 13) == TF_ROUTE_NOT_FOUND, "embedded NUL inside a parameter never matches");
    ok(match_n("GET", "/health\0", 8) == TF_ROUTE_NOT_FOUND, "trailing NUL never matches");
    ok(match_n("GET", "\0", 1) == TF_ROUTE_NOT_FOUND, "a lone NUL");
    ok(match_n("GET", "/healthXYZ", 7) == TF_ROUTE_ROOT_HEALTH, "the length is honoured, not a terminator");
    ok(match_n("GET", "/health", 6) == TF_ROUTE_NOT_FOUND, "a short length is a shorter path");
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    memset(big, 'a', big_len);
    memcpy(big, "/v1/items/", 10);
    ok(match_n("GET", big, big_len) == TF_ROUTE_ITEM_GET && p.values[0].len == big_len - 10, "a 1 MiB parameter (no length limit)");
    big[big_len / 2] = '/';
    ok(match_n("GET", big, big_len) == TF_ROUTE_NOT_FOUND, "a 1 MiB path that matches nothing");
    free(big);

    /* 405 and Allow. */
    ok(match("PUT", "/v1/items") == TF_ROUTE_METHOD_NOT_ALLOWED && allow_is("GET, HEAD, POST"), "405 with Allow: GET, HEAD, POST");
    ok(match("POST", "/v1/items/1") == TF_ROUTE_METHOD_NOT_ALLOWED && allow_is("DELETE, GET, HEAD, PATCH, PUT"),
       "405 on a parameter path: every method of the shape, sorted");
    ok(match("POST", "/v1/items/search") == TF_ROUTE_METHOD_NOT_ALLOWED && allow_is("GET, HEAD"),
       "a literal path's Allow is its own, not its parameter sibling's");
    ok(match("get", "/health") == TF_ROUTE_METHOD_NOT_ALLOWED, "methods are case-sensitive");
    ok(match("GETX", "/health") == TF_ROUTE_METHOD_NOT_ALLOWED && match("", "/health") == TF_ROUTE_METHOD_NOT_ALLOWED,
       "unknown and empty methods");
    ok(tf_route_match("GETX", 3, "/health", 7, &p, &allow) == TF_ROUTE_ROOT_HEALTH, "the method length is honoured");
    ok(match("OPTIONS", "/nope") == TF_ROUTE_NOT_FOUND, "404 beats 405");

    /* The table. */
    const tf_route_t *r = &tf_routes[TF_ROUTE_ITEM_DELETE];
    ok(tf_routes_count == 13 && !strcmp(r->name, "item_delete") && !strcmp(r->method, "DELETE") && !strcmp(r->path, "/v1/items/{key}"),
       "route table: count, name, method, path as written");
    ok(r->auth == TF_AUTH_ADMIN && r->min_tier == TF_TIER_MEMBER && r->nparams == 1 && !strcmp(r->param_names[0], "key"),
       "route table: auth, min_tier, params");
    ok(tf_routes[TF_ROUTE_FOUR].nparams == 4 && !strcmp(tf_routes[TF_ROUTE_FOUR].param_names[3], "d"), "route table: four params");
    ok(tf_routes[TF_ROUTE_ITEMS_LIST].min_tier == TF_TIER_GUEST && tf_routes[TF_ROUTE_ITEMS_LIST].auth == TF_AUTH_PUBLIC,
       "route table: defaults");
    ok((tf_routes[TF_ROUTE_ITEM_SUB].flags & TF_ROUTE_NEEDS_DB) && !(tf_routes[TF_ROUTE_ITEM_GET].flags & TF_ROUTE_NEEDS_DB),
       "route table: needs_db flag");
    ok(tf_routes[TF_ROUTE_ITEMS_CREATE].validate != NULL && !strcmp(tf_routes[TF_ROUTE_ITEMS_CREATE].schema, "everything") &&
           tf_routes[TF_ROUTE_ITEMS_LIST].validate == NULL && tf_routes[TF_ROUTE_ITEMS_LIST].schema == NULL,
       "route table: validators");
    ok(tf_routes[TF_ROUTE_ITEM_GET].handler(NULL) == 1 && tf_routes[TF_ROUTE_ITEMS_CREATE].handler(NULL) == 2 &&
           !strcmp(tf_routes[TF_ROUTE_ITEM_GET].handler_name, "tf_api_a"),
       "route table: handlers");

    /* Tiers. */
    ok(tf_tiers_count == 2 && tf_tier_find("friend") == TF_TIER_MEMBER && tf_tier_find("guest") == TF_TIER_GUEST &&
           tf_tier_find("member") == TF_TIER_MEMBER && tf_tier_find("x") == -1 && tf_tier_find("") == -1 && tf_tier_find(NULL) == -1,
       "tiers: find by id and alias");
    ok(tf_tiers[TF_TIER_MEMBER].daily_tokens < 0 && tf_tiers[TF_TIER_GUEST].daily_tokens == 10 &&
           tf_tiers[TF_TIER_MEMBER].requests_per_hour < 0 && tf_tiers[TF_TIER_GUEST].requests_per_hour == 1,
       "tiers: limits (unlimited < 0)");
    ok(tf_tiers[TF_TIER_GUEST].price_yearly < 0 && tf_tiers[TF_TIER_MEMBER].price_yearly == 15 &&
           tf_tiers[TF_TIER_MEMBER].price_monthly == 1.5,
       "tiers: prices, yearly optional");
    ok(tf_tiers[TF_TIER_MEMBER].rank > tf_tiers[TF_TIER_GUEST].rank && tf_tiers[TF_TIER_MEMBER].mcp_access &&
           !tf_tiers[TF_TIER_GUEST].mcp_access && !strcmp(tf_tiers[TF_TIER_GUEST].models[0], "a/*") &&
           tf_tiers[TF_TIER_GUEST].models[1] == NULL && tf_tiers[TF_TIER_GUEST].aliases[0] == NULL,
       "tiers: rank, flags, NULL-terminated lists");
    free(last);
    printf("1..%d\n", n);
    return failed != 0;
}
