/*
 * tf_adapt_int.h - what the tf_adapt_*.c files share; not for other modules.
 *
 *   tf_adapt.c           the public entry points, dispatch by protocol, the
 *                        JSON helpers every protocol uses, event emission
 *   tf_adapt_lines.c     framing: bytes -> lines (SSE, NDJSON) -> SSE events
 *   tf_adapt_<proto>.c   one wire protocol each: build, parse, stream events
 *
 * Requests and non-streamed answers go through jansson trees; streamed
 * chunks, which come by the hundred per answer, are read with tf_jscan
 * (no tree, no allocation) through tf_adapt_doc_t.
 */
#ifndef TF_ADAPT_INT_H
#define TF_ADAPT_INT_H

#include <stdarg.h>

#include "tf_adapt.h"
#include "tf_jscan.h"

enum {
    TF_ADAPT_MAX_LINE = 1 << 20,  /* a longer line (without its terminator) is malformed */
    TF_ADAPT_MAX_EVENT = 4 << 20, /* the data of one SSE event, all its data: lines joined */
};

/* ---- small utilities (tf_adapt.c) ----------------------------------------- */

/* A growable byte string, always NUL-terminated once anything was added. */
typedef struct tf_adapt_buf {
    char *p;
    size_t len, cap;
} tf_adapt_buf_t;

/* 0, or -1 when memory ran out or the buffer would pass `limit` bytes (0: no limit). */
int tf_adapt_buf_add(tf_adapt_buf_t *b, const char *s, size_t n, size_t limit);
/* The contents as a malloc'd string ("" when empty), the buffer emptied; NULL when out of memory. */
char *tf_adapt_buf_take(tf_adapt_buf_t *b);
void tf_adapt_buf_free(tf_adapt_buf_t *b);

void tf_adapt_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- JSON helpers (tf_adapt.c) --------------------------------------------- */

/* Parses data[0..len) as one JSON object; NULL (err set, `what` naming it) for anything else. */
json_t *tf_adapt_json_object(const char *data, size_t len, const char *what, char *err, size_t errlen);
/* A token count: a non-negative integer of plausible size, else -1. */
long long tf_adapt_count(const json_t *v);
/* Whether p[0..n) (text without NUL bytes) is the string `name`. */
int tf_adapt_is(const char *p, size_t n, const char *name);
/* a + b where -1 means unknown: unknown only when both are. */
long long tf_adapt_count_add(long long a, long long b);
/* 1 (err set to the upstream's message) when `root` carries a non-null "error" member. */
int tf_adapt_upstream_error(const json_t *root, char *err, size_t errlen);
/* o[key] when o is an object and the member has type `type` (JSON_OBJECT, ...), else NULL. */
json_t *tf_adapt_get(const json_t *o, const char *key, json_type type);
/* Appends the text of a message content (string, null, or array of parts
 * whose {"type":"text","text":..} ones count); -1 for any other type or
 * when memory ran out. */
int tf_adapt_content_text(const json_t *content, tf_adapt_buf_t *out);
/* Copies the finish reason, already in OpenAI vocabulary, into out->finish_reason. */
void tf_adapt_set_reason(tf_adapt_result_t *out, const char *reason);

/* ---- request building (tf_adapt.c) ----------------------------------------- */

typedef struct tf_adapt_in {
    const char *base; /* base_url without trailing slashes: base[0..base_len) */
    size_t base_len;
    const char *key;  /* NULL when there is none */
    const char *model;
    const json_t *req; /* messages already checked: objects with a string role and a valid content */
    int stream;
    const char *raw; /* the JSON text req was parsed from (raw_len bytes), or NULL */
    size_t raw_len;
} tf_adapt_in_t;

/* The conversation for protocols with a separate system text and strict
 * user/assistant turns (anthropic, gemini): system and developer messages
 * joined into `system`, tool messages counted as user text, empty turns
 * dropped and consecutive turns of one role merged, all with "\n\n". */
typedef struct tf_adapt_turn {
    int assistant;
    tf_adapt_buf_t text;
} tf_adapt_turn_t;

typedef struct tf_adapt_conv {
    tf_adapt_buf_t system;
    tf_adapt_turn_t *turn;
    size_t n;
} tf_adapt_conv_t;

int tf_adapt_conv_build(const json_t *req, tf_adapt_conv_t *c, char *err, size_t errlen);
void tf_adapt_conv_free(tf_adapt_conv_t *c);

/*
 * Optional request members, copied into `dst` under the name `as`. Each
 * returns 0 (copied, or absent, or null), or -1 with err when the member
 * has the wrong type.
 */
int tf_adapt_opt_number(const json_t *req, const char *name, json_t *dst, const char *as, char *err, size_t errlen);
int tf_adapt_opt_integer(const json_t *req, const char *name, json_t *dst, const char *as, char *err, size_t errlen);
/* max_completion_tokens, else max_tokens: a positive integer; 1 when one was copied. */
int tf_adapt_opt_max_tokens(const json_t *req, json_t *dst, const char *as, char *err, size_t errlen);
/* "stop": a string or an array of strings, copied as an array (empty strings left out). */
int tf_adapt_opt_stop(const json_t *req, json_t *dst, const char *as, char *err, size_t errlen);

/* url = base + the formatted rest; -1 when out of memory. */
int tf_adapt_url(tf_adapt_http_t *out, const tf_adapt_in_t *in, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends "name: prefix value" to out->headers; -1 when out of memory. */
int tf_adapt_header(tf_adapt_http_t *out, const char *name, const char *prefix, const char *value);
/*
 * json_dumps(v, JSON_COMPACT), byte for byte, into a malloc'd string (its
 * length in *len); NULL when out of memory. jansson's own dump checks every
 * container against loops with a hash table (a snprintf and an insert per
 * object or array) and grows its buffer by callbacks: it was 13k of the
 * 200k instructions a non-streamed chat cost the gateway.
 */
char *tf_adapt_dump(const json_t *v, size_t *len);
/* The same, appended to b; -1 when out of memory. */
int tf_adapt_dump_to(tf_adapt_buf_t *b, const json_t *v);
/* json_object_set_new that reports failure (value NULL, or out of memory) as -1. */
int tf_adapt_set(json_t *o, const char *key, json_t *value);

/* ---- streaming --------------------------------------------------------------- */

/*
 * Framing (tf_adapt_lines.c). Callbacks return 0 to go on, 1 when the
 * stream is over (the rest of the input is ignored), -1 on error (err set).
 */
typedef int (*tf_adapt_line_fn)(void *ctx, const char *line, size_t len, char *err, size_t errlen);
typedef int (*tf_adapt_event_fn)(void *ctx, const char *event, const char *data, size_t len, char *err, size_t errlen);

typedef struct tf_adapt_lines {
    tf_adapt_buf_t part; /* the line begun but not yet ended */
    int sse;             /* SSE: CR, LF and CRLF end lines; NDJSON: LF, a CR before it dropped */
    int after_cr;        /* the last byte ended a line with CR: an LF right after belongs to it */
    int started;         /* a line was delivered (a BOM is skipped on the first one only) */
} tf_adapt_lines_t;

int tf_adapt_lines_feed(tf_adapt_lines_t *l, const char *data, size_t len, tf_adapt_line_fn fn, void *ctx, char *err,
                        size_t errlen);
/* Delivers a last line that had no terminator (NDJSON at the end of input). */
int tf_adapt_lines_flush(tf_adapt_lines_t *l, tf_adapt_line_fn fn, void *ctx, char *err, size_t errlen);
void tf_adapt_lines_free(tf_adapt_lines_t *l);

typedef struct tf_adapt_sse {
    tf_adapt_buf_t data; /* data: lines of the pending event, joined with \n */
    int has_data;
    char event[48];      /* event: field of the pending event ("" when none) */
} tf_adapt_sse_t;

/* One line of an SSE stream; a blank line dispatches the pending event to fn. */
int tf_adapt_sse_line(tf_adapt_sse_t *s, const char *line, size_t len, tf_adapt_event_fn fn, void *ctx, char *err,
                      size_t errlen);
void tf_adapt_sse_free(tf_adapt_sse_t *s);

struct tf_adapt_stream {
    tf_proto_t proto;
    tf_adapt_emit_fn emit;
    void *ud;
    tf_adapt_lines_t lines;
    tf_adapt_sse_t sse;
    /* Kept from chunk to chunk so that, once grown, parsing a chunk
     * allocates nothing (see tf_adapt_doc_t); they keep the size the
     * stream's biggest chunk needed (16 bytes a value, 1 a byte) until the
     * stream is freed, less than the jansson tree of that chunk took. */
    tf_jscan_tok_t *spill; /* tokens of chunks too big for the stack array */
    size_t spill_cap;
    tf_adapt_buf_t scratch; /* unescaped strings; room for the whole chunk */
    int failed;             /* -1 was returned: nothing more is accepted */
    int done;               /* DONE emitted: nothing more is emitted */
    int finished;           /* FINISH emitted (once per stream) */
    int ended;              /* tf_adapt_stream_end ran */
    long long input_tokens; /* anthropic: the prompt size from message_start */
};

/*
 * One streamed chunk, scanned without building a tree (tf_adapt.c). The
 * jansson tree the non-streamed path builds cost more per chunk than the
 * rest of the gateway; tf_jscan accepts exactly what jansson accepted, so
 * the stream parsers behave as before. The tokens live in the struct, on
 * the caller's stack; a chunk with more values spills into the stream's
 * own array. Token 0 is the chunk's top-level object.
 */
enum { TF_ADAPT_DOC_TOKENS = 256 }; /* a typical chunk needs 20 to 40 */

typedef struct tf_adapt_doc {
    tf_jscan_t js;
    tf_adapt_stream_t *s;
    tf_jscan_tok_t tok[TF_ADAPT_DOC_TOKENS];
} tf_adapt_doc_t;

/* Scans data[0..len) as one JSON object; -1 with err set as
 * tf_adapt_json_object sets it (same words, `what` naming the data). */
int tf_adapt_doc_load(tf_adapt_stream_t *s, tf_adapt_doc_t *d, const char *data, size_t len, const char *what, char *err,
                      size_t errlen);
/* The text of string token t: in the chunk itself, or unescaped into the
 * stream's scratch buffer (valid until the next call). */
const char *tf_adapt_doc_str(const tf_adapt_doc_t *d, int t, size_t *len);
/* tf_adapt_count for token t (-1: none). */
long long tf_adapt_doc_count(const tf_adapt_doc_t *d, int t);
/* tf_adapt_upstream_error for the chunk's top-level object. */
int tf_adapt_doc_error(const tf_adapt_doc_t *d, char *err, size_t errlen);
/* tf_adapt_content_text for token t (-1: absent, which adds nothing). */
int tf_adapt_doc_content_text(const tf_adapt_doc_t *d, int t, tf_adapt_buf_t *out);

/* Emission (tf_adapt.c): nothing after DONE, no empty deltas, FINISH once. */
void tf_adapt_emit_delta(tf_adapt_stream_t *s, const char *text, size_t len);
void tf_adapt_emit_finish(tf_adapt_stream_t *s, const char *reason);
void tf_adapt_emit_usage(tf_adapt_stream_t *s, long long prompt_tokens, long long completion_tokens);
void tf_adapt_emit_done(tf_adapt_stream_t *s);

/* ---- the protocols ---------------------------------------------------------- */

/* Build: url, the protocol's key headers, and the body (not yet serialised). */
int tf_adapt_openai_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen);
int tf_adapt_anthropic_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen);
int tf_adapt_gemini_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen);
int tf_adapt_ollama_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen);

/* Parse: `root` is an object without an "error" member; text collects the content. */
int tf_adapt_anthropic_parse(const json_t *root, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen);
int tf_adapt_gemini_parse(const json_t *root, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen);
int tf_adapt_ollama_parse(const json_t *root, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen);
/* The same from a scanned body (the whole body one doc, without an "error" member). */
int tf_adapt_openai_scan(const tf_adapt_doc_t *d, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen);

/* Stream: one SSE event (openai, anthropic, gemini) or one NDJSON line (ollama). */
int tf_adapt_openai_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen);
int tf_adapt_anthropic_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err,
                             size_t errlen);
int tf_adapt_gemini_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen);
int tf_adapt_ollama_line(tf_adapt_stream_t *s, const char *line, size_t len, char *err, size_t errlen);

/* Finish reasons r[0..n) in OpenAI vocabulary (static strings). */
const char *tf_adapt_openai_reason(const char *r, size_t n);
const char *tf_adapt_anthropic_reason(const char *r, size_t n);
const char *tf_adapt_gemini_reason(const char *r, size_t n);
const char *tf_adapt_ollama_reason(const char *r, size_t n);

#endif
