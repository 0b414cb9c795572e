/*
 * tf_auth.c - see tf_auth.h.
 */
#include "tf_auth.h"

#include <stdio.h>
#include <string.h>

#include "tf_tiers.h"

/* Guests are identified by address, looked up only when something needs it. */
static void guest_identity(tf_req_t *r)
{
    r->who.authenticated = 0;
    r->who.user_id = 0;
    r->who.subject[0] = '\0';
    r->who.tier = TF_TIER_GUEST;
    r->who.is_admin = 0;
}

int tf_auth_identify(tf_req_t *r)
{
    guest_identity(r);
    ssize_t i = h2o_find_header(&r->h2o->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return 0;
    /* Token verification (JWT, API keys) arrives with the users issue; until
     * then no credential can be valid, and one that is presented must not
     * quietly fall back to guest. */
    h2o_add_header_by_str(&r->h2o->pool, &r->h2o->res.headers, H2O_STRLIT("www-authenticate"), 0, NULL,
                          H2O_STRLIT("Bearer realm=\"triforce\", error=\"invalid_token\""));
    tf_respond_error(r, 401, "invalid_credentials", NULL, "the credentials are not valid");
    return -1;
}
