/*
 * tf_adapt_gemini.c - the Gemini API: POST {base}/v1beta/models/{m}:generateContent,
 * or :streamGenerateContent?alt=sse for SSE "data: {GenerateContentResponse}".
 *
 * Request: "contents" with roles user/model and text parts, the system
 * text as "systemInstruction", sampling options in "generationConfig".
 * Answer: candidates[0].content.parts (thought parts skipped), finishReason,
 * usageMetadata. A prompt blocked before any candidate is an answer, not
 * an error: empty text, content_filter. Streams have no end marker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_adapt_int.h"

static json_t *text_parts(const char *p, size_t n)
{
    return json_pack("{s:[{s:s%}]}", "parts", "text", p, n);
}

static json_t *contents(const tf_adapt_conv_t *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < c->n; i++) {
        json_t *m = text_parts(c->turn[i].text.p, c->turn[i].text.len);
        if (m == NULL || tf_adapt_set(m, "role", json_string(c->turn[i].assistant ? "model" : "user")) < 0
            || json_array_append_new(arr, m) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int generation_config(const json_t *req, json_t *b, char *err, size_t errlen)
{
    json_t *g = json_object();
    if (g == NULL)
        return -1;
    if (tf_adapt_opt_number(req, "temperature", g, "temperature", err, errlen) < 0
        || tf_adapt_opt_number(req, "top_p", g, "topP", err, errlen) < 0
        || tf_adapt_opt_max_tokens(req, g, "maxOutputTokens", err, errlen) < 0
        || tf_adapt_opt_stop(req, g, "stopSequences", err, errlen) < 0
        || tf_adapt_opt_integer(req, "seed", g, "seed", err, errlen) < 0
        || tf_adapt_opt_number(req, "presence_penalty", g, "presencePenalty", err, errlen) < 0
        || tf_adapt_opt_number(req, "frequency_penalty", g, "frequencyPenalty", err, errlen) < 0) {
        json_decref(g);
        return -1;
    }
    if (json_object_size(g) == 0) {
        json_decref(g);
        return 0;
    }
    return tf_adapt_set(b, "generationConfig", g);
}

/* The model as a path segment: bytes outside [A-Za-z0-9._-] percent-encoded
 * (a '/' or '?' would change the path, a ':' the method). */
static char *model_segment(const char *model)
{
    /* Gemini's own listings name models "models/x"; the path adds that part */
    if (strncmp(model, "models/", 7) == 0 && model[7] != '\0')
        model += 7;
    size_t n = strlen(model);
    char *out = malloc(3 * n + 1), *w = out;
    if (out == NULL)
        return NULL;
    for (const unsigned char *r = (const unsigned char *)model; *r; r++) {
        if ((*r >= 'A' && *r <= 'Z') || (*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '.' || *r == '_'
            || *r == '-')
            *w++ = (char)*r;
        else
            w += sprintf(w, "%%%02X", *r);
    }
    *w = '\0';
    return out;
}

int tf_adapt_gemini_build(const tf_adapt_in_t *in, tf_adapt_http_t *out, json_t **body, char *err, size_t errlen)
{
    tf_adapt_conv_t c;
    if (tf_adapt_conv_build(in->req, &c, err, errlen) < 0)
        return -1;
    json_t *b = json_object();
    *body = b;
    char *seg = model_segment(in->model);
    if (err != NULL && errlen > 0)
        err[0] = '\0'; /* to tell a reason given below from a failure without one */
    int rc = -1;
    if (b == NULL || seg == NULL || tf_adapt_set(b, "contents", contents(&c)) < 0)
        goto done;
    if (c.system.len > 0 && tf_adapt_set(b, "systemInstruction", text_parts(c.system.p, c.system.len)) < 0)
        goto done;
    if (generation_config(in->req, b, err, errlen) < 0)
        goto done;
    if (tf_adapt_url(out, in, "/v1beta/models/%s:%s", seg, in->stream ? "streamGenerateContent?alt=sse" : "generateContent") < 0
        || (in->key && tf_adapt_header(out, "x-goog-api-key", "", in->key) < 0))
        goto done;
    rc = 0;
done:
    if (rc < 0 && err != NULL && errlen > 0 && err[0] == '\0')
        tf_adapt_seterr(err, errlen, "out of memory");
    free(seg);
    tf_adapt_conv_free(&c);
    return rc;
}

const char *tf_adapt_gemini_reason(const char *r, size_t n)
{
    static const char *const filtered[] = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                                           "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
    if (tf_adapt_is(r, n, "MAX_TOKENS"))
        return "length";
    for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++)
        if (tf_adapt_is(r, n, filtered[i]))
            return "content_filter";
    return "stop"; /* STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ... */
}

/* Thinking models bill their thoughts as output; OpenAI counts reasoning
 * tokens in completion_tokens too. */
static void usage(const json_t *root, long long *prompt, long long *completion)
{
    json_t *u = tf_adapt_get(root, "usageMetadata", JSON_OBJECT);
    *prompt = tf_adapt_count(json_object_get(u, "promptTokenCount"));
    *completion = tf_adapt_count_add(tf_adapt_count(json_object_get(u, "candidatesTokenCount")),
                                     tf_adapt_count(json_object_get(u, "thoughtsTokenCount")));
}

/* Calls fn on each answer text part of candidates[0], thoughts left out. */
static int each_text(const json_t *c0, int (*fn)(void *, const char *, size_t), void *ctx)
{
    json_t *parts = tf_adapt_get(tf_adapt_get(c0, "content", JSON_OBJECT), "parts", JSON_ARRAY);
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        json_t *t = tf_adapt_get(p, "text", JSON_STRING);
        if (t != NULL && !json_is_true(json_object_get(p, "thought")) && fn(ctx, json_string_value(t), json_string_length(t)) < 0)
            return -1;
    }
    return 0;
}

static const char *blocked(const json_t *root)
{
    json_t *br = tf_adapt_get(tf_adapt_get(root, "promptFeedback", JSON_OBJECT), "blockReason", JSON_STRING);
    return br ? json_string_value(br) : NULL;
}

static int add_text(void *ctx, const char *t, size_t n)
{
    return tf_adapt_buf_add(ctx, t, n, 0);
}

int tf_adapt_gemini_parse(const json_t *root, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen)
{
    json_t *cands = tf_adapt_get(root, "candidates", JSON_ARRAY);
    json_t *c0 = cands ? json_array_get(cands, 0) : NULL;
    if (!json_is_object(c0)) {
        if (blocked(root) == NULL) {
            tf_adapt_seterr(err, errlen, "not a Gemini answer: no candidates");
            return -1;
        }
        tf_adapt_set_reason(out, "content_filter");
    } else {
        if (each_text(c0, add_text, text) < 0) {
            tf_adapt_seterr(err, errlen, "out of memory");
            return -1;
        }
        json_t *fr = tf_adapt_get(c0, "finishReason", JSON_STRING);
        tf_adapt_set_reason(out, fr ? tf_adapt_gemini_reason(json_string_value(fr), json_string_length(fr)) : "stop");
    }
    usage(root, &out->prompt_tokens, &out->completion_tokens);
    return 0;
}

/* The stream's chunks are scanned, not parsed into trees (see
 * tf_adapt_doc_t); what follows mirrors the tree-reading code above. */

static void emit_parts(tf_adapt_stream_t *s, const tf_adapt_doc_t *d, int c0)
{
    const tf_jscan_t *js = &d->js;
    int parts = tf_jscan_member_of(js, tf_jscan_member_of(js, c0, "content", TF_JSCAN_OBJECT), "parts", TF_JSCAN_ARRAY);
    for (int p = tf_jscan_first(js, parts); p >= 0; p = tf_jscan_next(js, parts, p)) {
        int t = tf_jscan_member_of(js, p, "text", TF_JSCAN_STRING);
        if (t >= 0 && tf_jscan_type(js, tf_jscan_member(js, p, "thought")) != TF_JSCAN_TRUE) {
            size_t n;
            const char *text = tf_adapt_doc_str(d, t, &n);
            tf_adapt_emit_delta(s, text, n);
        }
    }
}

int tf_adapt_gemini_event(tf_adapt_stream_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    tf_adapt_doc_t d;
    if (tf_adapt_doc_load(s, &d, data, len, "a stream chunk", err, errlen) < 0 || tf_adapt_doc_error(&d, err, errlen))
        return -1;
    const tf_jscan_t *js = &d.js;
    int c0 = tf_jscan_index(js, tf_jscan_member_of(js, 0, "candidates", TF_JSCAN_ARRAY), 0);
    if (tf_jscan_type(js, c0) == TF_JSCAN_OBJECT) {
        emit_parts(s, &d, c0);
        int fr = tf_jscan_member_of(js, c0, "finishReason", TF_JSCAN_STRING);
        if (fr >= 0) {
            size_t n;
            const char *r = tf_adapt_doc_str(&d, fr, &n);
            tf_adapt_emit_finish(s, tf_adapt_gemini_reason(r, n));
        }
    } else {
        int feedback = tf_jscan_member_of(js, 0, "promptFeedback", TF_JSCAN_OBJECT);
        if (tf_jscan_member_of(js, feedback, "blockReason", TF_JSCAN_STRING) >= 0) /* blocked before any candidate */
            tf_adapt_emit_finish(s, "content_filter");
    }
    int u = tf_jscan_member_of(js, 0, "usageMetadata", TF_JSCAN_OBJECT);
    if (u >= 0) /* thoughts count as output, as in usage() */
        tf_adapt_emit_usage(s, tf_adapt_doc_count(&d, tf_jscan_member(js, u, "promptTokenCount")),
                            tf_adapt_count_add(tf_adapt_doc_count(&d, tf_jscan_member(js, u, "candidatesTokenCount")),
                                               tf_adapt_doc_count(&d, tf_jscan_member(js, u, "thoughtsTokenCount"))));
    return 0;
}
