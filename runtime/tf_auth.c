/*
 * tf_auth.c - see tf_auth.h.
 */
#include "tf_auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "tf_tiers.h"

static void guest_identity(tf_req_t *r)
{
    struct sockaddr_storage ss;
    char host[INET6_ADDRSTRLEN] = "unknown";
    h2o_conn_t *conn = r->h2o->conn;
    socklen_t sl = conn->callbacks->get_peername != NULL ? conn->callbacks->get_peername(conn, (struct sockaddr *)&ss) : 0;
    if (sl > 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
    else if (sl > 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
    memset(&r->who, 0, sizeof(r->who));
    snprintf(r->who.subject, sizeof(r->who.subject), "%s", host);
    r->who.tier = TF_TIER_GUEST;
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
