/*
 * tf_adapt - the four upstream wire protocols, translated to and from the
 * OpenAI chat format that TriForce speaks to its clients.
 *
 *   openai     POST {base}/chat/completions            JSON / SSE "data: {chunk}" ... "data: [DONE]"
 *   anthropic  POST {base}/v1/messages                  JSON / SSE "event: x\ndata: {...}" (message_start,
 *                                                       content_block_delta, message_delta, message_stop, error)
 *   gemini     POST {base}/v1beta/models/{m}:generateContent
 *              POST {base}/v1beta/models/{m}:streamGenerateContent?alt=sse   SSE "data: {GenerateContentResponse}"
 *   ollama     POST {base}/api/chat                     JSON / NDJSON, one object per line, last has "done":true
 *
 * Everything here is pure: no I/O, no globals, so each direction is unit
 * tested on bytes (tests/unit/test_adapt.c). The chat engine (tf_chat)
 * moves the bytes with tf_curl.
 *
 * Keys travel in headers, never in URLs (URLs end up in logs):
 * Authorization: Bearer (openai, ollama when a key is set), x-api-key +
 * anthropic-version (anthropic), x-goog-api-key (gemini).
 */
#ifndef TF_ADAPT_H
#define TF_ADAPT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

typedef enum tf_proto { TF_PROTO_OPENAI = 0, TF_PROTO_ANTHROPIC, TF_PROTO_GEMINI, TF_PROTO_OLLAMA, TF_PROTO_COUNT } tf_proto_t;

/* "openai", "anthropic", "gemini", "ollama"; -1 for anything else. */
int tf_proto_from_name(const char *name);
const char *tf_proto_name(tf_proto_t p);

/* --- request: OpenAI chat request -> upstream HTTP request ------------------ */

/* An upstream request; every member malloc'd, released by tf_adapt_http_free. */
typedef struct tf_adapt_http {
    char *url;
    struct curl_slist *headers; /* includes Content-Type: application/json and the key header */
    char *body;
    size_t body_len;
} tf_adapt_http_t;

/*
 * Builds the upstream request for `req`, an OpenAI chat request already
 * checked by the caller: "messages" is a non-empty array of objects with a
 * "role" (system, developer, user, assistant, tool) and a "content" that is
 * a string, null, or an array of parts of which the {"type":"text","text":..}
 * ones are used. Optional members carried over where the protocol has them:
 * temperature, top_p, max_tokens (or max_completion_tokens), stop (string
 * or array), seed, presence_penalty, frequency_penalty; unknown members are
 * passed through for openai only.
 *   base_url   no trailing slash (e.g. http://127.0.0.1:19501/openai/v1)
 *   api_key    NULL or "" for none
 *   model      the upstream's own model name (no "provider/" prefix)
 *   stream     ask for the protocol's streaming form (openai also gets
 *              stream_options.include_usage = true)
 * System/developer messages become anthropic's "system" and gemini's
 * "systemInstruction"; assistant becomes gemini's "model" role; anthropic
 * gets max_tokens 4096 when the request has none (it is required there).
 * Returns 0, or -1 with a reason in err.
 */
int tf_adapt_build(tf_proto_t proto, const char *base_url, const char *api_key, const char *model, const json_t *req, int stream,
                   tf_adapt_http_t *out, char *err, size_t errlen);
/*
 * tf_adapt_build, given also the JSON text req was parsed from (raw,
 * raw_len bytes; NULL for none). The openai body is then the client's own
 * bytes with only the members that change rewritten, in place, instead of
 * a copy of the tree written out again (a tenth of the gateway's work for
 * a chat). It means the same JSON as tf_adapt_build's body, and is the
 * same bytes when raw is compact with jansson's escapes
 * (tests/unit/test_adapt.c compares the two). raw must be what jansson
 * accepted for req, duplicate keys refused.
 */
int tf_adapt_build_raw(tf_proto_t proto, const char *base_url, const char *api_key, const char *model, const json_t *req,
                       const char *raw, size_t raw_len, int stream, tf_adapt_http_t *out, char *err, size_t errlen);
void tf_adapt_http_free(tf_adapt_http_t *h);

/* --- non-streamed answer: upstream body -> normalised result ---------------- */

typedef struct tf_adapt_result {
    char *content;          /* malloc'd assistant text ("" when none); NULL after failure */
    char finish_reason[24]; /* OpenAI vocabulary: stop, length, content_filter, tool_calls */
    long long prompt_tokens;     /* -1 when the upstream did not say */
    long long completion_tokens; /* -1 when the upstream did not say */
} tf_adapt_result_t;

/*
 * Parses a 2xx body. An error object in a 2xx body (some providers do that)
 * or a body that is not the protocol's answer is a failure: -1 with a reason.
 * Finish reasons are mapped: anthropic end_turn/stop_sequence -> stop,
 * max_tokens -> length; gemini STOP -> stop, MAX_TOKENS -> length,
 * SAFETY/RECITATION/BLOCKLIST/PROHIBITED_CONTENT/SPII -> content_filter;
 * ollama done_reason stop/length as is.
 */
int tf_adapt_parse(tf_proto_t proto, const char *body, size_t len, tf_adapt_result_t *out, char *err, size_t errlen);
void tf_adapt_result_free(tf_adapt_result_t *r);

/* --- streamed answer: upstream bytes -> events ------------------------------ */

enum {
    TF_ADAPT_EV_DELTA = 1, /* text, len: a piece of the assistant's text (len > 0) */
    TF_ADAPT_EV_FINISH,    /* finish_reason (OpenAI vocabulary) */
    TF_ADAPT_EV_USAGE,     /* prompt_tokens, completion_tokens (-1 when not given); may come more than once, the last wins */
    TF_ADAPT_EV_DONE       /* the protocol's end of stream was seen; nothing follows */
};

typedef struct tf_adapt_event {
    int kind;
    const char *text; /* DELTA: not NUL-terminated, valid during the call only */
    size_t len;
    const char *finish_reason;
    long long prompt_tokens, completion_tokens;
} tf_adapt_event_t;

typedef void (*tf_adapt_emit_fn)(void *ud, const tf_adapt_event_t *ev);
typedef struct tf_adapt_stream tf_adapt_stream_t;

tf_adapt_stream_t *tf_adapt_stream_new(tf_proto_t proto, tf_adapt_emit_fn emit, void *ud);
/*
 * Feeds bytes as they arrive, split anywhere (inside a line, inside a UTF-8
 * sequence, inside "\r\n"). Events are emitted from inside the call.
 * Returns 0, or -1 when the stream is malformed or carries an upstream
 * error event (err says which); after -1 the stream accepts nothing more.
 * Lines over 1 MiB are malformed.
 */
int tf_adapt_stream_feed(tf_adapt_stream_t *s, const char *data, size_t len, char *err, size_t errlen);
/* The upstream closed: 1 when the protocol's end was seen (DONE emitted), 0 when the stream was cut short. */
int tf_adapt_stream_end(tf_adapt_stream_t *s);
void tf_adapt_stream_free(tf_adapt_stream_t *s);

/* --- estimates, for providers that report no usage ------------------------------ */

/* About 4 bytes of UTF-8 per token, at least 1 for non-empty text. */
long long tf_adapt_estimate_tokens(size_t text_bytes);
/* The text of every message plus 4 tokens of framing per message. */
long long tf_adapt_estimate_prompt(const json_t *req);

#endif
