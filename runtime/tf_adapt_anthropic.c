/*
 * tf_adapt_anthropic.c - the Anthropic Messages API (POST {base}/v1/messages).
 *
 * Request: top-level "system", strictly alternating user/assistant turns
 * with string contents, max_tokens required. Answer: a list of content
 * blocks of which the text ones are the reply (thinking, tool_use skipped).
 * Stream: SSE with named events message_start (input usage),
 * content_block_delta (text_delta), message_delta (stop_reason, output
 * usage), message_stop, plus ping and error.
 */
#include <string.h>

#include "tf_adapt_int.h"

enum { DEFAULT_MAX_TOKENS = 4096 };

static json_t *messages(const tf_adapt_conv_t *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < c->n; i++) {
        json_t *m = json_pack("{s:s, s:s%}", "role", c->turn[i].assistant ? "assistant" : "user", "content",
                              c->turn[i].text.p, c->turn[i].text.len);
        if (m == NULL || json_array_append_new(arr, m) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Anthropic's temperature range is 0..1 where OpenAI's is 0..2; a value
 * above 1 is sent as 1 rather than have the request refused. */
static int temperature(const json_t *req, json_t *b, char *err, size_t errlen)
{
    if (tf_adapt_opt_number(req, "temperature", b, "temperature", err, errlen) < 0)
        return -1;
    json_t *t = json_object_get(b, "temperature");
    if (t != NULL && json_number_value(t) > 1.0)
        return tf_adapt_set(b, "temperature", json_real(1.0));
    return 0;
}

static int options(const json_t *req, json_t *b, char *err, size_t errlen)
{
    int mt = tf_adapt_opt_max_tokens(req, b, "max_tokens", err, errlen);
    if (mt < 0)
        return -1;
    if (mt == 0 && tf_adapt_set(b, "max_tokens", json_integer(DEFAULT_MAX_TOKENS)) < 0)
        return -1;
    if (temperature(req, b, err, errlen) < 0 || tf_adapt_opt_number(req, "top_p", b, "top_p", err, errlen) < 0
        || tf_adapt_opt_stop(req, b, "stop_sequences", err, errlen) < 0)
        return -1;
    /* seed, presence_penalty, frequency_penalty: the API has none */
    return 0;
}

int tf_adapt_anthropic_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen)
{
    tf_adapt_conv_t c;
    if (tf_adapt_conv_build(in->req, &c, err, errlen) < 0)
        return -1;
    json_t *b = json_object();
    *body = b;
    if (err != NULL && errlen > 0)
        err[0] = '\0'; /* to tell a reason given below from a failure without one */
    int rc = -1;
    if (b == NULL || tf_adapt_set(b, "model", json_string(in->model)) < 0)
        goto done;
    if (options(in->req, b, err, errlen) < 0)
        goto done;
    if (c.system.len > 0 && tf_adapt_set(b, "system", json_stringn(c.system.p, c.system.len)) < 0)
        goto done;
    if (tf_adapt_set(b, "messages", messages(&c)) < 0)
        goto done;
    if (in->stream && tf_adapt_set(b, "stream", json_true()) < 0)
        goto done;
    if (tf_adapt_url(out, in, "/v1/messages") < 0 || (in->key && tf_adapt_header(out, "x-api-key", "", in->key) < 0)
        || tf_adapt_header(out, "anthropic-version", "", "2023-06-01") < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0 && err != NULL && errlen > 0 && err[0] == '\0')
        tf_adapt_seterr(err, errlen, "cannot build the request (model name not UTF-8, or out of memory)");
    tf_adapt_conv_free(&c);
    return rc;
}

const char *tf_adapt_anthropic_reason(const char *r, size_t n)
{
    if (tf_adapt_is(r, n, "max_tokens") || tf_adapt_is(r, n, "model_context_window_exceeded"))
        return "length";
    if (tf_adapt_is(r, n, "tool_use"))
        return "tool_calls";
    if (tf_adapt_is(r, n, "refusal"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn, and what comes later */
}

/* The whole prompt: input_tokens counts only what was not read from or
 * written to the prompt cache. */
static long long prompt_tokens(const json_t *u)
{
    long long n = tf_adapt_count(json_object_get(u, "input_tokens"));
    if (n < 0)
        return -1;
    n = tf_adapt_count_add(n, tf_adapt_count(json_object_get(u, "cache_creation_input_tokens")));
    return tf_adapt_count_add(n, tf_adapt_count(json_object_get(u, "cache_read_input_tokens")));
}

int tf_adapt_anthropic_parse(const json_t *root, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen)
{
    json_t *content = tf_adapt_get(root, "content", JSON_ARRAY);
    if (content == NULL) {
        tf_adapt_seterr(err, errlen, "not an Anthropic message: no content array");
        return -1;
    }
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block) {
        json_t *type = tf_adapt_get(block, "type", JSON_STRING);
        json_t *t = tf_adapt_get(block, "text", JSON_STRING);
        if (type != NULL && strcmp(json_string_value(type), "text") == 0 && t != NULL
            && tf_adapt_buf_add(text, json_string_value(t), json_string_length(t), 0) < 0) {
            tf_adapt_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    json_t *sr = tf_adapt_get(root, "stop_reason", JSON_STRING);
    tf_adapt_set_reason(out, sr ? tf_adapt_anthropic_reason(json_string_value(sr), json_string_length(sr)) : "stop");
    json_t *u = tf_adapt_get(root, "usage", JSON_OBJECT);
    out->prompt_tokens = prompt_tokens(u);
    out->completion_tokens = tf_adapt_count(json_object_get(u, "output_tokens"));
    return 0;
}

/* The stream's events are scanned, not parsed into trees (see tf_adapt_doc_t);
 * what follows mirrors the tree-reading code above. */

static long long doc_prompt_tokens(const tf_adapt_doc_t *d, int u)
{
    long long n = tf_adapt_doc_count(d, tf_jscan_member(&d->js, u, "input_tokens"));
    if (n < 0)
        return -1;
    n = tf_adapt_count_add(n, tf_adapt_doc_count(d, tf_jscan_member(&d->js, u, "cache_creation_input_tokens")));
    return tf_adapt_count_add(n, tf_adapt_doc_count(d, tf_jscan_member(&d->js, u, "cache_read_input_tokens")));
}

static int stream_error(const tf_adapt_doc_t *d, char *err, size_t errlen)
{
    if (!tf_adapt_doc_error(d, err, errlen))
        tf_adapt_seterr(err, errlen, "upstream error: (no message)");
    return -1;
}

static void text_out(tf_adapt_stream_t *s, const tf_adapt_doc_t *d, int holder, const char *want_type)
{
    int type = tf_jscan_member_of(&d->js, holder, "type", TF_JSCAN_STRING);
    int t = tf_jscan_member_of(&d->js, holder, "text", TF_JSCAN_STRING);
    if (t >= 0 && tf_jscan_str_eq(&d->js, type, want_type, strlen(want_type))) {
        size_t n;
        const char *text = tf_adapt_doc_str(d, t, &n);
        tf_adapt_emit_delta(s, text, n);
    }
}

static void message_delta(tf_adapt_stream_t *s, const tf_adapt_doc_t *d)
{
    const tf_jscan_t *js = &d->js;
    int sr = tf_jscan_member_of(js, tf_jscan_member_of(js, 0, "delta", TF_JSCAN_OBJECT), "stop_reason", TF_JSCAN_STRING);
    if (sr >= 0) {
        size_t n;
        const char *r = tf_adapt_doc_str(d, sr, &n);
        tf_adapt_emit_finish(s, tf_adapt_anthropic_reason(r, n));
    }
    int u = tf_jscan_member_of(js, 0, "usage", TF_JSCAN_OBJECT);
    if (u < 0)
        return;
    /* message_delta's usage is cumulative; newer API versions repeat the
     * input counts there, older ones leave them to message_start. */
    long long p = doc_prompt_tokens(d, u);
    tf_adapt_emit_usage(s, p >= 0 ? p : s->input_tokens, tf_adapt_doc_count(d, tf_jscan_member(js, u, "output_tokens")));
}

/* The SSE event name says what the data is; without one, its "type" does
 * (jt, the "type" member when it is a string, else -1). */
static int type_is(const tf_adapt_doc_t *d, const char *event, int jt, const char *name)
{
    if (*event)
        return strcmp(event, name) == 0;
    return tf_jscan_str_eq(&d->js, jt, name, strlen(name));
}

int tf_adapt_anthropic_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    if (strcmp(event, "ping") == 0)
        return 0;
    tf_adapt_doc_t d;
    if (tf_adapt_doc_load(s, &d, data, len, "a stream event", err, errlen) < 0)
        return -1;
    const tf_jscan_t *js = &d.js;
    int jt = *event ? -1 : tf_jscan_member_of(js, 0, "type", TF_JSCAN_STRING);
    if (type_is(&d, event, jt, "error") || tf_adapt_doc_error(&d, err, errlen))
        return stream_error(&d, err, errlen);
    if (type_is(&d, event, jt, "message_start")) {
        int message = tf_jscan_member_of(js, 0, "message", TF_JSCAN_OBJECT);
        s->input_tokens = doc_prompt_tokens(&d, tf_jscan_member_of(js, message, "usage", TF_JSCAN_OBJECT));
    } else if (type_is(&d, event, jt, "content_block_start")) {
        text_out(s, &d, tf_jscan_member_of(js, 0, "content_block", TF_JSCAN_OBJECT), "text");
    } else if (type_is(&d, event, jt, "content_block_delta")) { /* text_delta; not thinking_delta, input_json_delta */
        text_out(s, &d, tf_jscan_member_of(js, 0, "delta", TF_JSCAN_OBJECT), "text_delta");
    } else if (type_is(&d, event, jt, "message_delta")) {
        message_delta(s, &d);
    } else if (type_is(&d, event, jt, "message_stop")) {
        tf_adapt_emit_done(s);
        return 1;
    }
    return 0;
}
