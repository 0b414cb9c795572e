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

/* ---- the body from the client's own bytes --------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Past the string whose opening quote is at p. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* Past the value that starts at p (text jansson accepted: well formed). */
static const char *skip_value(const char *p, const char *end)
{
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
        p++; /* a number, true, false, null */
    return p;
}

static int key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* One of own_members[]: dropped on the way upstream, on both paths. */
static int own_member(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof(own_members) / sizeof(own_members[0]); i++)
        if (key_is(k, n, own_members[i]))
            return 1;
    return 0;
}

static int add(tf_adapt_buf_t *b, const char *s, size_t n)
{
    return tf_adapt_buf_add(b, s, n, 0);
}

static int add_member(tf_adapt_buf_t *b, int *first, const char *key, const json_t *v)
{
    if ((!*first && add(b, ",", 1) < 0) || add(b, "\"", 1) < 0 || add(b, key, strlen(key)) < 0 || add(b, "\":", 2) < 0)
        return -1;
    *first = 0;
    return tf_adapt_dump_to(b, v);
}

/*
 * The upstream body made of in->raw: members copied as the client wrote
 * them, except "model" (ours), the gateway's own members (dropped) and
 * "stream"/"stream_options" (set or dropped), each changed where it was,
 * the missing ones appended in the order the tree-based build appends
 * them. The decisions are the tree's (in->req), so both builds agree.
 * 1: out->body written; 0: a text this reader leaves to the tree (a key
 * with an escape, a NUL byte anywhere, or members the text does not have,
 * such as a schema default added after parsing); -1: out of memory.
 */
static int splice(const tf_adapt_in_t *in, const json_t *model, const json_t *stream_options, tf_adapt_http_t *out)
{
    const char *p = in->raw, *end = in->raw + in->raw_len;
    if (memchr(p, '\0', in->raw_len) != NULL)
        return 0;
    p = skip_ws(p, end);
    if (p == end || *p != '{')
        return 0;
    tf_adapt_buf_t b = {0};
    int first = 1, have_model = 0, have_stream = 0, have_so = 0;
    size_t members = 0;
    if (add(&b, "{", 1) < 0)
        goto oom;
    for (p = skip_ws(p + 1, end); p < end && *p == '"';) {
        const char *k = p + 1, *ke = skip_string(p, end) - 1;
        if (memchr(k, '\\', (size_t)(ke - k)) != NULL) {
            tf_adapt_buf_free(&b);
            return 0;
        }
        size_t kn = (size_t)(ke - k);
        members++;
        const char *v = skip_ws(skip_ws(ke + 1, end) + 1, end); /* past ':' */
        const char *ve = skip_value(v, end);
        int rc = 0;
        if (key_is(k, kn, "model")) {
            have_model = 1;
            rc = add_member(&b, &first, "model", model);
        } else if (key_is(k, kn, "stream")) {
            have_stream = 1;
            if (in->stream)
                rc = add_member(&b, &first, "stream", json_true());
        } else if (key_is(k, kn, "stream_options")) {
            have_so = 1;
            if (in->stream)
                rc = add_member(&b, &first, "stream_options", stream_options);
        } else if (!own_member(k, kn)) {
            rc = (!first && add(&b, ",", 1) < 0) || add(&b, k - 1, kn + 2) < 0 || add(&b, ":", 1) < 0
                         || add(&b, v, (size_t)(ve - v)) < 0
                     ? -1
                     : 0;
            first = 0;
        }
        if (rc < 0)
            goto oom;
        p = skip_ws(ve, end);
        if (p < end && *p == ',')
            p = skip_ws(p + 1, end);
    }
    if (members != json_object_size(in->req)) {
        /* the tree is not this text. Callers pass no text once a validator
         * added a default (tf_verr_t.defaults); this only guards the top level. */
        tf_adapt_buf_free(&b);
        return 0;
    }
    if ((!have_model && add_member(&b, &first, "model", model) < 0)
        || (in->stream && !have_stream && add_member(&b, &first, "stream", json_true()) < 0)
        || (in->stream && !have_so && add_member(&b, &first, "stream_options", stream_options) < 0) || add(&b, "}", 1) < 0)
        goto oom;
    out->body_len = b.len;
    out->body = b.p;
    return 1;
oom:
    tf_adapt_buf_free(&b);
    return -1;
}

/* The body from in->raw (1), or 0 to build it from the tree. */
static int build_raw(const tf_adapt_in_t *in, tf_adapt_http_t *out, char *err, size_t errlen)
{
    json_t *model = json_string(in->model), *so = NULL;
    if (model == NULL) {
        tf_adapt_seterr(err, errlen, "the model name is not UTF-8");
        return -1;
    }
    if (in->stream) {
        so = tf_adapt_get(in->req, "stream_options", JSON_OBJECT);
        so = so ? json_deep_copy(so) : json_object();
        if (so == NULL || json_object_set_new(so, "include_usage", json_true()) < 0) {
            json_decref(model);
            json_decref(so);
            tf_adapt_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    int rc = splice(in, model, so, out);
    json_decref(model);
    json_decref(so);
    if (rc < 0)
        tf_adapt_seterr(err, errlen, "out of memory");
    return rc;
}

int tf_adapt_openai_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen)
{
    if (in->raw != NULL) {
        int rc = build_raw(in, out, err, errlen);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (tf_adapt_url(out, in, "/chat/completions") < 0
                || (in->key != NULL && tf_adapt_header(out, "Authorization", "Bearer ", in->key) < 0)) {
                tf_adapt_seterr(err, errlen, "out of memory");
                return -1;
            }
            return 0;
        }
    }
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
