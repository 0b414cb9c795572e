/*
 * GET /metrics - Prometheus text exposition format 0.0.4.
 */
#include <string.h>

#include "tf_http.h"
#include "tf_metrics.h"

int tf_api_metrics(tf_req_t *r)
{
    h2o_buffer_t *buf;
    h2o_buffer_init(&buf, &h2o_socket_buffer_prototype);
    tf_metrics_render(&buf);
    h2o_iovec_t body = h2o_strdup(&r->h2o->pool, buf->bytes, buf->size);
    h2o_buffer_dispose(&buf);
    tf_respond_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    return 0;
}
