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

const char *tf_adapt_anthropic_reason(const char *r)
{
    if (strcmp(r, "max_tokens") == 0 || strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "refusal") == 0)
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
    tf_adapt_set_reason(out, sr ? tf_adapt_anthropic_reason(json_string_value(sr)) : "stop");
    json_t *u = tf_adapt_get(root, "usage", JSON_OBJECT);
    out->prompt_tokens = prompt_tokens(u);
    out->completion_tokens = tf_adapt_count(json_object_get(u, "output_tokens"));
    return 0;
}

static int stream_error(const json_t *o, char *err, size_t errlen)
{
    if (!tf_adapt_upstream_error(o, err, errlen))
        tf_adapt_seterr(err, errlen, "upstream error: (no message)");
    return -1;
}

static void text_out(tf_adapt_stream_t *s, const json_t *holder, const char *want_type)
{
    json_t *type = tf_adapt_get(holder, "type", JSON_STRING);
    json_t *t = tf_adapt_get(holder, "text", JSON_STRING);
    if (type != NULL && strcmp(json_string_value(type), want_type) == 0 && t != NULL)
        tf_adapt_emit_delta(s, json_string_value(t), json_string_length(t));
}

static void message_delta(tf_adapt_stream_t *s, const json_t *o)
{
    json_t *sr = tf_adapt_get(tf_adapt_get(o, "delta", JSON_OBJECT), "stop_reason", JSON_STRING);
    if (sr != NULL)
        tf_adapt_emit_finish(s, tf_adapt_anthropic_reason(json_string_value(sr)));
    json_t *u = tf_adapt_get(o, "usage", JSON_OBJECT);
    if (u == NULL)
        return;
    /* message_delta's usage is cumulative; newer API versions repeat the
     * input counts there, older ones leave them to message_start. */
    long long p = prompt_tokens(u);
    tf_adapt_emit_usage(s, p >= 0 ? p : s->input_tokens, tf_adapt_count(json_object_get(u, "output_tokens")));
}

int tf_adapt_anthropic_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    if (strcmp(event, "ping") == 0)
        return 0;
    json_t *o = tf_adapt_json_object(data, len, "a stream event", err, errlen);
    if (o == NULL)
        return -1;
    /* The SSE event name says what the data is; without one, its "type" does. */
    json_t *jt = tf_adapt_get(o, "type", JSON_STRING);
    const char *type = *event ? event : jt ? json_string_value(jt) : "";
    int rc = 0;
    if (strcmp(type, "error") == 0 || tf_adapt_upstream_error(o, err, errlen))
        rc = stream_error(o, err, errlen);
    else if (strcmp(type, "message_start") == 0)
        s->input_tokens = prompt_tokens(tf_adapt_get(tf_adapt_get(o, "message", JSON_OBJECT), "usage", JSON_OBJECT));
    else if (strcmp(type, "content_block_start") == 0)
        text_out(s, tf_adapt_get(o, "content_block", JSON_OBJECT), "text");
    else if (strcmp(type, "content_block_delta") == 0)
        text_out(s, tf_adapt_get(o, "delta", JSON_OBJECT), "text_delta"); /* not thinking_delta, input_json_delta */
    else if (strcmp(type, "message_delta") == 0)
        message_delta(s, o);
    else if (strcmp(type, "message_stop") == 0) {
        tf_adapt_emit_done(s);
        rc = 1;
    }
    json_decref(o);
    return rc;
}
