/*
 * tf_auth - who is calling: JWT, API key, trusted proxy header, or guest.
 */
#ifndef TF_AUTH_H
#define TF_AUTH_H

#include "tf_http.h"

/*
 * Fills r->who. Requests without credentials are guests identified by
 * their address. Returns 0, or -1 after answering 401 for credentials that
 * are present but not valid (a bad token is never silently a guest).
 */
int tf_auth_identify(tf_req_t *r);

#endif
