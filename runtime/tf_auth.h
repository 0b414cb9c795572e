/*
 * tf_auth - who is calling: a JWT access token, an API key, X-User-ID from
 * a trusted proxy, or a guest.
 *
 * Credentials name a user; the user's current tier, admin flag and status
 * come from PostgreSQL through a small per-thread cache (a few seconds,
 * dropped on every thread when an admin changes a user), so a changed tier
 * or a disabled account applies to the next request. API keys have a
 * per-thread cache of their own (tf_keycache: hash -> user, dropped the
 * same way), so a known key costs no database round trip; its last use is
 * written on the side, at most once a minute.
 */
#ifndef TF_AUTH_H
#define TF_AUTH_H

#include "tf_http.h"

typedef void (*tf_auth_done_fn)(tf_req_t *r);

/*
 * Fills r->who. Returns 1 when done at once, 0 when a database lookup is
 * under way (done(r) follows, unless the request ends first), or -1 after
 * answering (401 for credentials that are present but not valid: a bad
 * token is never silently a guest; 503 when the lookup cannot run).
 */
int tf_auth_identify(tf_req_t *r, tf_auth_done_fn done);

/* Frees the calling loop thread's user cache (at thread exit). */
void tf_auth_thread_exit(void);

/* Forget cached users on every thread (after an admin change). */
void tf_auth_invalidate_all(void);

/*
 * 1 when r's TCP peer (never a forwarded address) is inside one of
 * auth.trusted_proxies (addresses or networks): its X-User-ID and
 * X-Forwarded-For are believed.
 */
int tf_auth_peer_is_trusted_proxy(tf_req_t *r);

/* Fills r->who from a users row: id, email, tier, is_admin, disabled. */
int tf_auth_who_from_row(tf_req_t *r, const char *id, const char *email, const char *tier, int is_admin);

#endif
