/*
 * tf_toolprof.c - see tf_toolprof.h.
 */
#include "tf_toolprof.h"

#include <fnmatch.h>
#include <string.h>

#include "tf_tiers.h"

/* The value of ?profile= in the request's query, copied into buf; NULL when absent. */
static const char *query_profile(tf_req_t *r, char *buf, size_t cap)
{
    h2o_req_t *req = r->h2o;
    if (req == NULL || req->query_at == SIZE_MAX)
        return NULL;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > 8 && memcmp(q, "profile=", 8) == 0) {
            size_t n = (size_t)(stop - q) - 8;
            if (n == 0 || n >= cap)
                return "";
            memcpy(buf, q + 8, n);
            buf[n] = '\0';
            return buf;
        }
        q = stop + (amp ? 1 : 0);
    }
    return NULL;
}

const tf_conf_profile_t *tf_toolprof_for(tf_req_t *r, int *unknown)
{
    const tf_conf_t *c = r->conf;
    char buf[72];
    const char *name = query_profile(r, buf, sizeof(buf));
    *unknown = 0;
    if (name != NULL) {
        for (unsigned i = 0; i < c->mcp_profiles_count; i++)
            if (strcmp(c->mcp_profiles[i].name, name) == 0)
                return &c->mcp_profiles[i];
        *unknown = 1;
        return NULL;
    }
    int t = c->mcp_tier_profile != NULL ? c->mcp_tier_profile[r->who.tier] : -1;
    return t >= 0 ? &c->mcp_profiles[t] : NULL;
}

int tf_toolprof_allows(const tf_conf_profile_t *p, const char *tool)
{
    if (p == NULL)
        return 1;
    for (unsigned i = 0; i < p->tools_count; i++)
        if (fnmatch(p->tools[i], tool, 0) == 0)
            return 1;
    return 0;
}

int tf_toolprof_callable(tf_req_t *r, const tf_conf_profile_t *p, const tf_tool_t *t)
{
    if (t->fixture && !r->conf->mcp_conformance)
        return 0;
    return tf_conf_tier_reaches(r->conf, r->who.tier, t->min_tier) && tf_toolprof_allows(p, t->name);
}

int tf_toolprof_visible(tf_req_t *r, const tf_conf_profile_t *p, const tf_tool_t *t)
{
    return (!t->admin || r->who.is_admin) && tf_toolprof_callable(r, p, t);
}
