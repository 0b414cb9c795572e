/*
 * tf_curl - upstream HTTP through libcurl's multi interface, driven by an
 * h2o event loop (one tf_curl_t per loop thread).
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to wake it (CURLMOPT_TIMERFUNCTION). Sockets are watched through h2o
 * sockets wrapped around a dup of curl's descriptor (h2o closes what it
 * wraps; curl must close its own). The timer is a timerfd on the loop.
 * Nothing here blocks: a slow upstream never stalls the loop.
 *
 * Multi-handle calls are never made from inside a curl callback: removals
 * and cancellations are deferred to the loop's next tick.
 */
#ifndef TF_CURL_H
#define TF_CURL_H

#include <curl/curl.h>
#include <h2o.h>

typedef struct tf_curl tf_curl_t;
typedef struct tf_curl_req tf_curl_req_t;

/*
 * The transfer ended: rc is CURLE_OK or curl's error, status the HTTP status
 * (0 when none), body/len the response body (valid during the call only).
 */
typedef void (*tf_curl_done_fn)(void *ud, CURLcode rc, long status, const char *body, size_t len);

tf_curl_t *tf_curl_create(h2o_loop_t *loop);
/* Ends every transfer without calling back; leaves nothing linked on the loop. */
void tf_curl_destroy(tf_curl_t *c);

/* A fresh easy handle (a reset one kept from an earlier transfer, or new);
 * with no proxy in the environment it is already told "no proxy". */
CURL *tf_curl_easy(tf_curl_t *c);

/*
 * Starts `easy` (configured by the caller: URL, headers, body, timeouts).
 * tf_curl owns it from now on. The body is collected up to max_body bytes
 * (beyond that the transfer fails with CURLE_WRITE_ERROR). NULL on failure
 * (the easy handle is then cleaned up).
 */
tf_curl_req_t *tf_curl_start(tf_curl_t *c, CURL *easy, size_t max_body, tf_curl_done_fn done, void *ud);

/*
 * A streamed transfer: the bytes of a 2xx answer go to `data` as they
 * arrive (return 0 to go on, -1 to abort: the transfer then ends with
 * CURLE_WRITE_ERROR, or TF_CURL_PAUSE to refuse them for now: curl keeps
 * them, stops reading the answer and hands them again after
 * tf_curl_resume). Any other answer is collected, up to max_error_body,
 * and handed to `done` like tf_curl_start's body. `data` runs inside curl's
 * callback: it may call tf_curl_cancel (deferred) but no other tf_curl call.
 */
#define TF_CURL_PAUSE 1
typedef int (*tf_curl_data_fn)(void *ud, const char *data, size_t len);
tf_curl_req_t *tf_curl_start_stream(tf_curl_t *c, CURL *easy, size_t max_error_body, tf_curl_data_fn data, tf_curl_done_fn done,
                                    void *ud);

/*
 * 1 when TF_CURL_PAUSE may be returned for r's answer: it comes over
 * HTTP/1.x (known from its first bytes on). Not over HTTP/2: as curl
 * 7.88's http2.c reads, a paused stream whose buffer is full pauses the
 * connection's nghttp2 session, which would hold every other stream on it
 * - one slow client stalling other callers' answers (not measured here).
 */
int tf_curl_can_pause(const tf_curl_req_t *r);

/* Takes a transfer paused by TF_CURL_PAUSE up again; nothing when it is
 * not paused. Not from inside a tf_curl callback. The data callback may run
 * before this returns. */
void tf_curl_resume(tf_curl_req_t *r);

/*
 * HTTP/2 to a cleartext origin (a provider node with http2: h2c), by
 * Upgrade: h2c. `c` is a tf_curl_t that makes only these calls (each
 * thread has one besides its general one): curl 7.88 keeps one multi
 * handle's connections to a host:port in one bundle and marks the bundle
 * "cannot multiplex" whenever an answer there comes over HTTP/1.1, so the
 * whole answers that go to the same node over HTTP/1.1 kept streams from
 * joining the upgraded connection and made them open (and upgrade) new
 * ones: 3 to 14 connections for 24 concurrent streams in 75_h2c_upstream,
 * one per server thread since.
 *
 * A call alone to its origin on the thread (no other in flight there, over
 * either protocol) takes HTTP/1.1: HTTP/2 gains it nothing to share, and
 * costs it ~25 us p50 at concurrency 1 in tests/bench/chat.sh (curl 7.88's
 * HTTP/2 path: the request in two sends and more polls, the answer's
 * frames through nghttp2), measured side by side with http2: off.
 *
 * curl 7.88 also breaks a connection (framing errors, partial answers for
 * every stream on it) when a second transfer joins it while its upgrade is
 * under way, which concurrent calls do. So per thread and origin (`key`)
 * one call at a time upgrades a fresh connection (the probe) while the
 * others take HTTP/1.1; once one has completed over HTTP/2 the calls that
 * overlap others join its connection as streams, until one of them fails
 * for want of it. An origin that answers a probe over HTTP/1.1 is called
 * over HTTP/1.1 for a minute before the next probe (logged as a warning).
 *
 * Sets CURLOPT_HTTP_VERSION (and PIPEWAIT or FRESH_CONNECT) on `easy` and
 * returns the tf_curl_t to start it on next with tf_curl_start: `c` when
 * the call takes HTTP/2, `h1` (the thread's general one) when it takes
 * HTTP/1.1. That start takes up the choice: the call counts as in flight
 * to the origin until it ends. `h1`'s calls point into `c`'s table, so
 * `h1` is destroyed first.
 */
tf_curl_t *tf_curl_h2c_prepare(tf_curl_t *c, tf_curl_t *h1, CURL *easy, const char *key);

/* The requester went away: done is not called, the transfer is dropped. */
void tf_curl_cancel(tf_curl_req_t *r);

/*
 * Hands `arg` to the transfer: release(arg) runs once curl is done with the
 * easy handle (after `done`, or when a cancellation took effect on the next
 * tick). For what the handle points at without a copy (CURLOPT_HTTPHEADER
 * lists, CURLOPT_POSTFIELDS): freed by the requester at cancel time, curl
 * could still read it in the same loop turn.
 */
void tf_curl_attach(tf_curl_req_t *r, void (*release)(void *), void *arg);


/* Transfers in flight. */
size_t tf_curl_active(const tf_curl_t *c);

#endif
