/*
 * Operator routes.
 *
 * POST /v1/admin/reload - load conf/ again and swap it in, exactly as SIGHUP
 * does; answers with the outcome (a broken file: 422 with its file:line).
 */
#include <stdlib.h>

#include "tf_http.h"
#include "tf_server.h"

/* The reload finishes on the main thread; the request may be gone by then. */
typedef struct reload_wait {
    tf_req_t *r; /* NULL once the request ended */
} reload_wait_t;

static void on_reloaded(void *ud, int ok, const char *msg)
{
    reload_wait_t *w = ud;
    if (w->r != NULL) {
        w->r->on_dispose = NULL;
        if (ok)
            tf_respond_json(w->r, 200, json_pack("{s:b, s:s}", "reloaded", 1, "message", msg));
        else
            tf_respond_error(w->r, 422, "invalid_configuration", NULL, "%s", msg);
    }
    free(w);
}

static void on_dispose(tf_req_t *r)
{
    reload_wait_t *w = r->hctx;
    w->r = NULL;
}

int tf_api_admin_reload(tf_req_t *r)
{
    reload_wait_t *w = calloc(1, sizeof(*w));
    w->r = r;
    r->hctx = w;
    r->on_dispose = on_dispose;
    tf_server_request_reload(on_reloaded, w);
    return 0;
}
