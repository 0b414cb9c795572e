/*
 * tf_http - the request pipeline and response helpers.
 *
 * Every request goes router -> auth policy -> tier gate -> body limit ->
 * JSON body + validator -> handler. The route table, validators and tiers
 * are generated from spec/. Handlers are plain functions `tf_api_<name>`.
 *
 * A tf_req_t lives in the h2o request's memory pool. When the client goes
 * away h2o frees that pool: anything asynchronous a handler started must be
 * registered here (dbq, job) so the pipeline cancels it instead of letting
 * it answer into freed memory.
 */
#ifndef TF_HTTP_H
#define TF_HTTP_H

#include <h2o.h>
#include <jansson.h>
#include <stdint.h>

#include "tf_addr.h"
#include "tf_clock.h"
#include "tf_conf.h"
#include "tf_spec.h"

struct tf_thread;
struct tf_db_query;
struct tf_work;

/* Who is calling. */
typedef struct tf_identity {
    int authenticated;  /* 0: guest (identified by address) */
    char user_id[40];   /* uuid text; "" for guests */
    char subject[256];  /* user email; "" for guests (see tf_req_client_addr) */
    int tier;           /* index into tf_tiers[] */
    int is_admin;
} tf_identity_t;

struct tf_req {
    h2o_req_t *h2o;
    struct tf_thread *thr;
    tf_conf_t *conf;          /* snapshot held from start to end */
    struct tf_conf_hold *hold; /* what keeps `conf` alive (tf_server.h) */
    size_t route;             /* index into tf_routes[], tf_routes_count when unmatched */
    tf_route_params_t params;
    json_t *body;             /* validated request body, or NULL */
    unsigned body_defaults;   /* schema defaults the validator added to body (tf_verr_t.defaults) */
    tf_identity_t who;
    char id[32];              /* request id, also in X-Request-Id */
    char client_addr[TF_ADDR_TEXT_MAX]; /* tf_req_client_addr's cache */
    char limit_key[TF_ADDR_TEXT_MAX];   /* tf_req_limit_key's, filled with client_addr */
    char peer_addr[TF_ADDR_TEXT_MAX];   /* tf_req_peer_addr's cache */
    tf_addr_t peer;           /* the TCP peer (family 0: none), with peer_addr */
    uint64_t start_ns;
    int status;               /* 0 until answered */
    struct tf_db_query *dbq;  /* pending query, cancelled if the client leaves */
    struct tf_work *job;      /* pending worker job, cancelled likewise */
    void *hctx;               /* handler state */
    void *auth_ctx;           /* tf_auth's state during a lookup */
    void (*on_dispose)(tf_req_t *r); /* handler cleanup when the request ends, answered or not */
};

/* Installs the pipeline as the single handler of `pathconf`. */
void tf_http_register(h2o_pathconf_t *pathconf);

/* Answers with `body` (reference stolen). */
void tf_respond_json(tf_req_t *r, int status, json_t *body);
/*
 * Answers 200 with r->conf->rendered[slot]: an answer that depends only on
 * the conf snapshot, made on first use by render(ud, arg, &body) (a JSON
 * value, rendered as tf_respond_json would) and kept with the snapshot.
 * Threads that race both render; one copy wins, the other is dropped.
 */
void tf_respond_rendered(tf_req_t *r, size_t slot, void (*render)(void *ud, int arg, json_t **body), void *ud, int arg);
/* Answers with bytes already in the request pool (or static). */
void tf_respond_raw(tf_req_t *r, int status, const char *content_type, h2o_iovec_t body);
/*
 * Starts a streamed answer (SSE): status and headers now, the body through
 * h2o_send with `gen` (one h2o_send in flight at a time: the next after
 * gen->proceed). Counts as answered for logs and metrics.
 */
void tf_respond_stream_start(tf_req_t *r, int status, const char *content_type, h2o_generator_t *gen);

/*
 * The error format of PRODUCT.md:
 * {"error":{"type":..., "code":..., "message":..., "param":...}}.
 * `param` may be NULL.
 */
void tf_respond_error(tf_req_t *r, int status, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* 503 database_unavailable with Retry-After: the database could not be used. */
void tf_respond_db_unavailable(tf_req_t *r);

/* Adds a response header (name lower-case, value copied into the pool). */
void tf_add_header(tf_req_t *r, const char *name, const char *value);

/* A path parameter by name, as a NUL-terminated copy in the pool; NULL if absent. */
const char *tf_req_param(tf_req_t *r, const char *name);

/*
 * The client's address as text ("127.0.0.1", "2001:db8::1"), computed on
 * first use. It is the TCP peer, except when the peer is a trusted proxy
 * (auth.trusted_proxies): then X-Forwarded-For is walked from the right past
 * the entries that are trusted proxies too, and the first one that is not is
 * the client (tf_addr_forwarded_client); the peer again when the header is
 * missing or its right-most entry is no address.
 */
const char *tf_req_client_addr(tf_req_t *r);

/* What per-address limits (login throttle, unknown-key limit) and guest
 * subjects count under: the client's address, an IPv6 one as its /64. */
const char *tf_req_limit_key(tf_req_t *r);

/* The TCP peer's address as text ("unknown" when it has none), whatever
 * headers say: for decisions about the connection itself. */
const char *tf_req_peer_addr(tf_req_t *r);
/* The same, as an address (family 0 when it has none). */
const tf_addr_t *tf_req_peer(tf_req_t *r);


#endif
