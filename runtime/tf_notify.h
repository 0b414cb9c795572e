/*
 * tf_notify - this node's ear on PostgreSQL's channel tf_invalidate (see
 * migration 0005): when any node, the CLI or an operator changes a user's
 * tier, admin flag or status, logs them out or revokes a key, every node
 * drops its user and key caches at once (tf_auth_invalidate_all).
 *
 * Runs on the main thread, which owns no event loop: the connection is
 * driven with libpq's non-blocking calls from the main thread's poll(), so
 * a database that hangs never delays signal handling. While disconnected it
 * retries every two seconds; a reconnect also invalidates (notifications
 * sent meanwhile were lost), and the caches' own 3 s expiry stays the
 * backstop.
 *
 * The same connection listens on tf_mcp: MCP messages another node got for
 * a call running here (a client's answer to a server request, a
 * cancellation, a resource change), handed to tf_mcp_relay_receive.
 */
#ifndef TF_NOTIFY_H
#define TF_NOTIFY_H

#include <poll.h>

typedef struct tf_notify tf_notify_t;

tf_notify_t *tf_notify_create(const char *conninfo);
void tf_notify_destroy(tf_notify_t *n);
/* A new conninfo (reload): reconnects when it differs. */
void tf_notify_set_conninfo(tf_notify_t *n, const char *conninfo);

/* What to poll: fills *pfd (fd -1 when there is nothing to wait for) and returns the poll timeout in ms (-1: none). */
int tf_notify_prepare(tf_notify_t *n, struct pollfd *pfd);
/* After poll: pfd as poll returned it. */
void tf_notify_handle(tf_notify_t *n, const struct pollfd *pfd);

/* Notifications received (tests and metrics). */
unsigned long tf_notify_count(const tf_notify_t *n);

#endif
