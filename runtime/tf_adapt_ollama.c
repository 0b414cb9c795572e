/*
 * tf_adapt_ollama.c - Ollama's native chat API (POST {base}/api/chat).
 *
 * Request: OpenAI-like messages with string contents, "stream" always
 * explicit (Ollama streams unless told not to), sampling options under
 * "options". Answer: message.content, done_reason, prompt_eval_count and
 * eval_count. Stream: NDJSON, one object per line, the last "done":true.
 */
#include <string.h>

#include "tf_adapt_int.h"

static json_t *message(const json_t *m)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    tf_adapt_buf_t text = {0};
    json_t *o = NULL;
    if (tf_adapt_content_text(json_object_get(m, "content"), &text) == 0)
        o = json_pack("{s:s, s:s%}", "role", strcmp(role, "developer") == 0 ? "system" : role, "content",
                      text.p ? text.p : "", text.len);
    tf_adapt_buf_free(&text);
    return o;
}

static json_t *messages(const json_t *req)
{
    json_t *arr = json_array(), *msgs = json_object_get(req, "messages"), *m;
    size_t i;
    json_array_foreach(msgs, i, m) {
        json_t *o = message(m);
        if (arr == NULL || o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int options(const json_t *req, json_t *b, char *err, size_t errlen)
{
    json_t *o = json_object();
    if (o == NULL)
        return -1;
    if (tf_adapt_opt_number(req, "temperature", o, "temperature", err, errlen) < 0
        || tf_adapt_opt_number(req, "top_p", o, "top_p", err, errlen) < 0
        || tf_adapt_opt_max_tokens(req, o, "num_predict", err, errlen) < 0
        || tf_adapt_opt_stop(req, o, "stop", err, errlen) < 0 || tf_adapt_opt_integer(req, "seed", o, "seed", err, errlen) < 0
        || tf_adapt_opt_number(req, "presence_penalty", o, "presence_penalty", err, errlen) < 0
        || tf_adapt_opt_number(req, "frequency_penalty", o, "frequency_penalty", err, errlen) < 0) {
        json_decref(o);
        return -1;
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        return 0;
    }
    return tf_adapt_set(b, "options", o);
}

int tf_adapt_ollama_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen)
{
    json_t *b = json_object();
    *body = b;
    if (err != NULL && errlen > 0)
        err[0] = '\0'; /* to tell a reason given below from a failure without one */
    if (b == NULL || tf_adapt_set(b, "model", json_string(in->model)) < 0 || tf_adapt_set(b, "messages", messages(in->req)) < 0
        || tf_adapt_set(b, "stream", json_boolean(in->stream)) < 0 || options(in->req, b, err, errlen) < 0
        || tf_adapt_url(out, in, "/api/chat") < 0 || (in->key && tf_adapt_header(out, "Authorization", "Bearer ", in->key) < 0)) {
        if (err != NULL && errlen > 0 && err[0] == '\0')
            tf_adapt_seterr(err, errlen, "cannot build the request (model name not UTF-8, or out of memory)");
        return -1;
    }
    return 0;
}

const char *tf_adapt_ollama_reason(const char *r, size_t n)
{
    return tf_adapt_is(r, n, "length") ? "length" : "stop"; /* stop, and load/unload for empty requests */
}

static const char *reason(const json_t *o)
{
    json_t *dr = tf_adapt_get(o, "done_reason", JSON_STRING);
    return dr ? tf_adapt_ollama_reason(json_string_value(dr), json_string_length(dr)) : "stop";
}

int tf_adapt_ollama_parse(const json_t *root, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen)
{
    json_t *msg = tf_adapt_get(root, "message", JSON_OBJECT);
    json_t *content = json_object_get(msg, "content");
    if (msg == NULL || (content != NULL && !json_is_string(content) && !json_is_null(content))) {
        tf_adapt_seterr(err, errlen, "not an Ollama chat answer: no message with text content");
        return -1;
    }
    if (json_is_string(content) && tf_adapt_buf_add(text, json_string_value(content), json_string_length(content), 0) < 0) {
        tf_adapt_seterr(err, errlen, "out of memory");
        return -1;
    }
    tf_adapt_set_reason(out, reason(root));
    out->prompt_tokens = tf_adapt_count(json_object_get(root, "prompt_eval_count"));
    out->completion_tokens = tf_adapt_count(json_object_get(root, "eval_count"));
    return 0;
}

static int blank(const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] != ' ' && d[i] != '\t' && d[i] != '\r')
            return 0;
    return 1;
}

/* Stream lines are scanned, not parsed into trees (see tf_adapt_doc_t);
 * this mirrors the tree-reading code above. */
int tf_adapt_ollama_line(tf_adapt_stream_t *s, const char *line, size_t len, char *err, size_t errlen)
{
    if (blank(line, len))
        return 0;
    tf_adapt_doc_t d;
    if (tf_adapt_doc_load(s, &d, line, len, "a stream line", err, errlen) < 0 || tf_adapt_doc_error(&d, err, errlen))
        return -1;
    const tf_jscan_t *js = &d.js;
    size_t n;
    int content = tf_jscan_member_of(js, tf_jscan_member_of(js, 0, "message", TF_JSCAN_OBJECT), "content", TF_JSCAN_STRING);
    if (content >= 0) {
        const char *text = tf_adapt_doc_str(&d, content, &n);
        tf_adapt_emit_delta(s, text, n);
    }
    if (tf_jscan_type(js, tf_jscan_member(js, 0, "done")) != TF_JSCAN_TRUE)
        return 0;
    int dr = tf_jscan_member_of(js, 0, "done_reason", TF_JSCAN_STRING);
    const char *r = dr >= 0 ? tf_adapt_doc_str(&d, dr, &n) : NULL;
    tf_adapt_emit_finish(s, r != NULL ? tf_adapt_ollama_reason(r, n) : "stop");
    tf_adapt_emit_usage(s, tf_adapt_doc_count(&d, tf_jscan_member(js, 0, "prompt_eval_count")),
                        tf_adapt_doc_count(&d, tf_jscan_member(js, 0, "eval_count")));
    tf_adapt_emit_done(s);
    return 1;
}
