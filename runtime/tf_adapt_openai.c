/*
 * tf_adapt_openai.c - OpenAI-compatible upstreams (POST {base}/chat/completions).
 *
 * The request goes out nearly as it came in: the model replaced, the
 * gateway's own routing members removed, streaming asked for with
 * stream_options.include_usage so the last chunk (with empty choices)
 * carries the usage. Streams are SSE "data: {chunk}" ending "data: [DONE]".
 */
#include <string.h>

#include "tf_adapt_int.h"

/* TriForce's extension members: meaningful to the gateway, unknown upstream. */
static const char *const own_members[] = {"strategy", "fallback", "triforce"};

int tf_adapt_openai_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen)
{
    /* A shallow copy: only top-level members are replaced or removed, and
     * stream_options, the one nested object changed, is copied on its own. */
    json_t *b = json_copy((json_t *)in->req);
    if (b == NULL)
        goto oom;
    *body = b;
    for (size_t i = 0; i < sizeof(own_members) / sizeof(own_members[0]); i++)
        json_object_del(b, own_members[i]);
    if (tf_adapt_set(b, "model", json_string(in->model)) < 0) {
        tf_adapt_seterr(err, errlen, "the model name is not UTF-8");
        return -1;
    }
    if (in->stream) {
        /* keep any other stream option the client set */
        json_t *so = tf_adapt_get(b, "stream_options", JSON_OBJECT);
        so = so ? json_deep_copy(so) : json_object();
        if (tf_adapt_set(b, "stream", json_true()) < 0 || so == NULL || json_object_set_new(so, "include_usage", json_true()) < 0
            || tf_adapt_set(b, "stream_options", so) < 0)
            goto oom;
    } else {
        json_object_del(b, "stream");
        json_object_del(b, "stream_options"); /* refused upstream without stream */
    }
    if (tf_adapt_url(out, in, "/chat/completions") < 0)
        goto oom;
    if (in->key != NULL && tf_adapt_header(out, "Authorization", "Bearer ", in->key) < 0)
        goto oom;
    return 0;
oom:
    tf_adapt_seterr(err, errlen, "out of memory");
    return -1;
}

const char *tf_adapt_openai_reason(const char *r, size_t n)
{
    /* OpenAI-compatible servers are not all careful: anything unknown is a stop */
    static const char *const known[] = {"stop", "length", "content_filter", "tool_calls", "function_call"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (tf_adapt_is(r, n, known[i]))
            return known[i];
    return "stop";
}

/* The non-streamed answer, scanned as stream chunks are (tf_adapt_doc_t):
 * building its jansson tree was 40% of the gateway's instructions for a
 * non-streamed chat. Same rules, same words as the tree-based reader had
 * (tests/unit/test_adapt.c keeps that one as the differential reference). */
int tf_adapt_openai_scan(const tf_adapt_doc_t *d, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen)
{
    const tf_jscan_t *js = &d->js;
    int c0 = tf_jscan_index(js, tf_jscan_member_of(js, 0, "choices", TF_JSCAN_ARRAY), 0);
    int msg = tf_jscan_member_of(js, c0, "message", TF_JSCAN_OBJECT);
    if (msg < 0) {
        tf_adapt_seterr(err, errlen, "not a chat completion: no choices[0].message");
        return -1;
    }
    if (tf_adapt_doc_content_text(d, tf_jscan_member(js, msg, "content"), text) < 0) {
        tf_adapt_seterr(err, errlen, "not a chat completion: choices[0].message.content is not text");
        return -1;
    }
    int fr = tf_jscan_member_of(js, c0, "finish_reason", TF_JSCAN_STRING);
    size_t n = 0;
    const char *r = fr >= 0 ? tf_adapt_doc_str(d, fr, &n) : NULL;
    tf_adapt_set_reason(out, r != NULL ? tf_adapt_openai_reason(r, n) : "stop");
    int u = tf_jscan_member_of(js, 0, "usage", TF_JSCAN_OBJECT);
    out->prompt_tokens = tf_adapt_doc_count(d, tf_jscan_member(js, u, "prompt_tokens"));
    out->completion_tokens = tf_adapt_doc_count(d, tf_jscan_member(js, u, "completion_tokens"));
    return 0;
}

/* "[DONE]", allowing for stray whitespace around it */
static int is_done(const char *d, size_t n)
{
    while (n > 0 && (*d == ' ' || *d == '\t')) {
        d++;
        n--;
    }
    while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\t'))
        n--;
    return n == 6 && memcmp(d, "[DONE]", 6) == 0;
}

static int blank(const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] != ' ' && d[i] != '\t' && d[i] != '\n')
            return 0;
    return 1;
}

int tf_adapt_openai_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    if (is_done(data, len)) {
        tf_adapt_emit_done(s);
        return 1;
    }
    if (blank(data, len)) /* an empty data: keep-alive */
        return 0;
    tf_adapt_doc_t d;
    if (tf_adapt_doc_load(s, &d, data, len, "a stream chunk", err, errlen) < 0 || tf_adapt_doc_error(&d, err, errlen))
        return -1;
    const tf_jscan_t *js = &d.js;
    size_t n;
    int c0 = tf_jscan_index(js, tf_jscan_member_of(js, 0, "choices", TF_JSCAN_ARRAY), 0);
    int content = tf_jscan_member_of(js, tf_jscan_member_of(js, c0, "delta", TF_JSCAN_OBJECT), "content", TF_JSCAN_STRING);
    if (content >= 0) {
        const char *text = tf_adapt_doc_str(&d, content, &n);
        tf_adapt_emit_delta(s, text, n);
    }
    int fr = tf_jscan_member_of(js, c0, "finish_reason", TF_JSCAN_STRING);
    if (fr >= 0) {
        const char *r = tf_adapt_doc_str(&d, fr, &n);
        tf_adapt_emit_finish(s, tf_adapt_openai_reason(r, n));
    }
    int u = tf_jscan_member_of(js, 0, "usage", TF_JSCAN_OBJECT);
    if (u >= 0)
        tf_adapt_emit_usage(s, tf_adapt_doc_count(&d, tf_jscan_member(js, u, "prompt_tokens")),
                            tf_adapt_doc_count(&d, tf_jscan_member(js, u, "completion_tokens")));
    return 0;
}
