/*
 * tf_adapt.c - the public side of tf_adapt: checks, dispatch to the
 * protocol files, and the helpers they share (JSON reading, request
 * options, the conversation shape, event emission). See tf_adapt.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_adapt_int.h"

static const char *const proto_names[TF_PROTO_COUNT] = {"openai", "anthropic", "gemini", "ollama"};

int tf_proto_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < TF_PROTO_COUNT; i++)
        if (strcmp(proto_names[i], name) == 0)
            return i;
    return -1;
}

const char *tf_proto_name(tf_proto_t p)
{
    return (unsigned)p < TF_PROTO_COUNT ? proto_names[p] : "unknown";
}

/* ---- utilities ----------------------------------------------------------------- */

void tf_adapt_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int tf_adapt_buf_add(tf_adapt_buf_t *b, const char *s, size_t n, size_t limit)
{
    if (limit != 0 && (n > limit || b->len > limit - n))
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

char *tf_adapt_buf_take(tf_adapt_buf_t *b)
{
    char *s = b->p ? b->p : strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

void tf_adapt_buf_free(tf_adapt_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- JSON helpers ------------------------------------------------------------------ */

json_t *tf_adapt_json_object(const char *data, size_t len, const char *what, char *err, size_t errlen)
{
    json_error_t je;
    /* No JSON_ALLOW_NUL: text goes on as C strings, so "\u0000" is refused
     * here rather than silently cutting the text short later. */
    json_t *o = json_loadb(data, len, 0, &je);
    if (o == NULL) {
        tf_adapt_seterr(err, errlen, "%s is not valid JSON: %s", what, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        tf_adapt_seterr(err, errlen, "%s is not a JSON object", what);
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *tf_adapt_get(const json_t *o, const char *key, json_type type)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return v != NULL && json_typeof(v) == type ? v : NULL;
}

/* Above 10^15 a count is nonsense, and keeping counts that small means
 * sums of them cannot overflow. */
static long long count_of(long long n)
{
    return n >= 0 && n <= 1000000000000000LL ? n : -1;
}

long long tf_adapt_count(const json_t *v)
{
    return json_is_integer(v) ? count_of((long long)json_integer_value(v)) : -1;
}

int tf_adapt_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(p, name, n) == 0;
}

long long tf_adapt_count_add(long long a, long long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a + b;
}

int tf_adapt_upstream_error(const json_t *root, char *err, size_t errlen)
{
    json_t *e = json_object_get(root, "error");
    if (e == NULL || json_is_null(e))
        return 0;
    /* {"error":{"message":..}} (openai, anthropic, gemini) or {"error":"..."} (ollama) */
    const char *msg = json_is_string(e) ? json_string_value(e) : NULL;
    json_t *m = tf_adapt_get(e, "message", JSON_STRING);
    if (m != NULL)
        msg = json_string_value(m);
    tf_adapt_seterr(err, errlen, "upstream error: %.300s", msg != NULL && *msg ? msg : "(no message)");
    return 1;
}

int tf_adapt_content_text(const json_t *content, tf_adapt_buf_t *out)
{
    if (content == NULL || json_is_null(content))
        return 0;
    if (json_is_string(content))
        return tf_adapt_buf_add(out, json_string_value(content), json_string_length(content), 0);
    if (!json_is_array(content))
        return -1;
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *type = tf_adapt_get(part, "type", JSON_STRING);
        json_t *text = tf_adapt_get(part, "text", JSON_STRING);
        if (type != NULL && strcmp(json_string_value(type), "text") == 0 && text != NULL
            && tf_adapt_buf_add(out, json_string_value(text), json_string_length(text), 0) < 0)
            return -1;
    }
    return 0;
}

void tf_adapt_set_reason(tf_adapt_result_t *out, const char *reason)
{
    snprintf(out->finish_reason, sizeof(out->finish_reason), "%s", reason);
}

/* ---- request options ---------------------------------------------------------------- */

/* The member, or NULL when absent or null (OpenAI treats null as "not given"). */
static json_t *opt(const json_t *req, const char *name)
{
    json_t *v = json_object_get(req, name);
    return json_is_null(v) ? NULL : v;
}

int tf_adapt_set(json_t *o, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(o, key, value) == 0 ? 0 : -1;
}

int tf_adapt_opt_number(const json_t *req, const char *name, json_t *dst, const char *as, char *err, size_t errlen)
{
    json_t *v = opt(req, name);
    if (v == NULL)
        return 0;
    if (!json_is_number(v)) {
        tf_adapt_seterr(err, errlen, "%s must be a number", name);
        return -1;
    }
    return tf_adapt_set(dst, as, json_deep_copy(v));
}

int tf_adapt_opt_integer(const json_t *req, const char *name, json_t *dst, const char *as, char *err, size_t errlen)
{
    json_t *v = opt(req, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        tf_adapt_seterr(err, errlen, "%s must be an integer", name);
        return -1;
    }
    return tf_adapt_set(dst, as, json_integer(json_integer_value(v)));
}

int tf_adapt_opt_max_tokens(const json_t *req, json_t *dst, const char *as, char *err, size_t errlen)
{
    /* max_completion_tokens is OpenAI's current name, max_tokens the older one */
    const char *name = opt(req, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    json_t *v = opt(req, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        tf_adapt_seterr(err, errlen, "%s must be a positive integer", name);
        return -1;
    }
    return tf_adapt_set(dst, as, json_integer(json_integer_value(v))) < 0 ? -1 : 1;
}

int tf_adapt_opt_stop(const json_t *req, json_t *dst, const char *as, char *err, size_t errlen)
{
    json_t *v = opt(req, "stop");
    if (v == NULL)
        return 0;
    json_t *arr = json_array();
    if (arr == NULL)
        return -1;
    if (json_is_string(v)) {
        if (json_string_length(v) > 0)
            json_array_append_new(arr, json_deep_copy(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s)) {
                tf_adapt_seterr(err, errlen, "stop[%zu] must be a string", i);
                json_decref(arr);
                return -1;
            }
            if (json_string_length(s) > 0)
                json_array_append_new(arr, json_deep_copy(s));
        }
    } else {
        tf_adapt_seterr(err, errlen, "stop must be a string or an array of strings");
        json_decref(arr);
        return -1;
    }
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return 0;
    }
    return tf_adapt_set(dst, as, arr);
}

int tf_adapt_url(tf_adapt_http_t *out, const tf_adapt_in_t *in, const char *fmt, ...)
{
    if (strchr(fmt, '%') == NULL) {
        /* A constant path (openai, anthropic, ollama): two copies, not two
         * printf runs (most of what a chat's URL cost). */
        size_t fl = strlen(fmt);
        out->url = malloc(in->base_len + fl + 1);
        if (out->url == NULL)
            return -1;
        memcpy(out->url, in->base, in->base_len);
        memcpy(out->url + in->base_len, fmt, fl + 1);
        return 0;
    }
    char *rest = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&rest, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    n = asprintf(&out->url, "%.*s%s", (int)in->base_len, in->base, rest);
    free(rest);
    if (n < 0) {
        out->url = NULL;
        return -1;
    }
    return 0;
}

int tf_adapt_header(tf_adapt_http_t *out, const char *name, const char *prefix, const char *value)
{
    /* "name: prefix value" by copies (asprintf's format parsing cost more) */
    size_t nl = strlen(name), pl = strlen(prefix), vl = strlen(value);
    char *line = malloc(nl + 2 + pl + vl + 1);
    if (line == NULL)
        return -1;
    memcpy(line, name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, prefix, pl);
    memcpy(line + nl + 2 + pl, value, vl + 1);
    struct curl_slist *h = curl_slist_append(out->headers, line);
    free(line);
    if (h == NULL)
        return -1;
    out->headers = h;
    return 0;
}

/* ---- the conversation shape (anthropic, gemini) --------------------------------- */

static int join(tf_adapt_buf_t *b, const tf_adapt_buf_t *text)
{
    if (b->len > 0 && tf_adapt_buf_add(b, "\n\n", 2, 0) < 0)
        return -1;
    return tf_adapt_buf_add(b, text->p, text->len, 0);
}

static int add_turn(tf_adapt_conv_t *c, int assistant, const tf_adapt_buf_t *text)
{
    if (c->n > 0 && c->turn[c->n - 1].assistant == assistant)
        return join(&c->turn[c->n - 1].text, text);
    tf_adapt_turn_t *t = realloc(c->turn, (c->n + 1) * sizeof(*t));
    if (t == NULL)
        return -1;
    c->turn = t;
    memset(&t[c->n], 0, sizeof(t[c->n]));
    t[c->n].assistant = assistant;
    c->n++;
    return join(&t[c->n - 1].text, text);
}

int tf_adapt_conv_build(const json_t *req, tf_adapt_conv_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    json_t *msgs = json_object_get(req, "messages");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        tf_adapt_buf_t text = {0};
        int rc = tf_adapt_content_text(json_object_get(m, "content"), &text);
        if (rc == 0 && text.len > 0) { /* upstreams refuse empty turns; drop them */
            if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
                rc = join(&c->system, &text);
            else if (strcmp(role, "user") == 0 || strcmp(role, "tool") == 0)
                rc = add_turn(c, 0, &text);
            else if (strcmp(role, "assistant") == 0)
                rc = add_turn(c, 1, &text);
            else {
                tf_adapt_seterr(err, errlen, "messages[%zu]: unknown role \"%.40s\"", i, role);
                rc = -2;
            }
        }
        tf_adapt_buf_free(&text);
        if (rc < 0) {
            if (rc == -1)
                tf_adapt_seterr(err, errlen, "out of memory");
            tf_adapt_conv_free(c);
            return -1;
        }
    }
    /* Only system text: both upstreams want at least one turn, and OpenAI
     * answers such a request, so the instructions become the user's turn. */
    if (c->n == 0 && c->system.len > 0) {
        if (add_turn(c, 0, &c->system) < 0) {
            tf_adapt_seterr(err, errlen, "out of memory");
            tf_adapt_conv_free(c);
            return -1;
        }
        tf_adapt_buf_free(&c->system);
    }
    if (c->n == 0) {
        tf_adapt_seterr(err, errlen, "messages: no message has any text");
        tf_adapt_conv_free(c);
        return -1;
    }
    return 0;
}

void tf_adapt_conv_free(tf_adapt_conv_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        tf_adapt_buf_free(&c->turn[i].text);
    free(c->turn);
    tf_adapt_buf_free(&c->system);
    memset(c, 0, sizeof(*c));
}

/* ---- build ---------------------------------------------------------------------- */

static const char *const known_roles[] = {"system", "developer", "user", "assistant", "tool"};

static int check_messages(tf_proto_t proto, const json_t *req, char *err, size_t errlen)
{
    json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        tf_adapt_seterr(err, errlen, "messages must be a non-empty array");
        return -1;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *role = tf_adapt_get(m, "role", JSON_STRING);
        if (role == NULL) {
            tf_adapt_seterr(err, errlen, "messages[%zu] must be an object with a string role", i);
            return -1;
        }
        json_t *content = json_object_get(m, "content");
        if (content != NULL && !json_is_string(content) && !json_is_null(content) && !json_is_array(content)) {
            tf_adapt_seterr(err, errlen, "messages[%zu].content must be a string, null or an array of parts", i);
            return -1;
        }
        /* OpenAI-compatible upstreams get the messages as they are, roles included */
        if (proto == TF_PROTO_OPENAI)
            continue;
        size_t k = 0;
        while (k < sizeof(known_roles) / sizeof(known_roles[0]) && strcmp(known_roles[k], json_string_value(role)) != 0)
            k++;
        if (k == sizeof(known_roles) / sizeof(known_roles[0])) {
            tf_adapt_seterr(err, errlen, "messages[%zu]: unknown role \"%.40s\"", i, json_string_value(role));
            return -1;
        }
    }
    return 0;
}

/* ---- writing the body ---------------------------------------------------------- */

/* Room for n more bytes (and a NUL) at b->p + b->len; NULL when out of memory. */
static char *room(tf_adapt_buf_t *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return NULL;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

/* A string as json_dumps writes it: " \ and control characters escaped
 * (\b \f \n \r \t, else \u00XX), everything else as it is. A jansson
 * string is valid UTF-8 (checked when it was made), so it is not checked
 * again. */
static int dump_string(tf_adapt_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = room(b, n * 6 + 2);
    if (o == NULL)
        return -1;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    *o = '\0'; /* room() keeps a byte for it */
    b->len = (size_t)(o - b->p);
    return 0;
}

static int dump_value(tf_adapt_buf_t *b, const json_t *v)
{
    char num[64];
    int k;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (tf_adapt_buf_add(b, "{", 1, 0) < 0)
            return -1;
        for (void *it = json_object_iter((json_t *)v); it != NULL;) {
            if (dump_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) < 0 || tf_adapt_buf_add(b, ":", 1, 0) < 0
                || dump_value(b, json_object_iter_value(it)) < 0)
                return -1;
            it = json_object_iter_next((json_t *)v, it);
            if (it != NULL && tf_adapt_buf_add(b, ",", 1, 0) < 0)
                return -1;
        }
        return tf_adapt_buf_add(b, "}", 1, 0);
    }
    case JSON_ARRAY:
        if (tf_adapt_buf_add(b, "[", 1, 0) < 0)
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i > 0 && tf_adapt_buf_add(b, ",", 1, 0) < 0) || dump_value(b, json_array_get(v, i)) < 0)
                return -1;
        return tf_adapt_buf_add(b, "]", 1, 0);
    case JSON_STRING:
        return dump_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        k = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return tf_adapt_buf_add(b, num, (size_t)k, 0);
    case JSON_REAL: /* rare (temperature, top_p): jansson's own digits */
        k = (int)json_dumpb(v, num, sizeof(num), JSON_ENCODE_ANY);
        return k > 0 && (size_t)k < sizeof(num) ? tf_adapt_buf_add(b, num, (size_t)k, 0) : -1;
    case JSON_TRUE:
        return tf_adapt_buf_add(b, "true", 4, 0);
    case JSON_FALSE:
        return tf_adapt_buf_add(b, "false", 5, 0);
    default:
        return tf_adapt_buf_add(b, "null", 4, 0);
    }
}

int tf_adapt_dump_to(tf_adapt_buf_t *b, const json_t *v)
{
    return dump_value(b, v);
}

char *tf_adapt_dump(const json_t *v, size_t *len)
{
    tf_adapt_buf_t b = {0};
    if (dump_value(&b, v) < 0) {
        tf_adapt_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* Keys go into a header line: a line break in one would forge headers. */
static int key_ok(const char *key)
{
    return key == NULL || strpbrk(key, "\r\n") == NULL;
}

int tf_adapt_build(tf_proto_t proto, const char *base_url, const char *api_key, const char *model, const json_t *req, int stream,
                   tf_adapt_http_t *out, char *err, size_t errlen)
{
    return tf_adapt_build_raw(proto, base_url, api_key, model, req, NULL, 0, stream, out, err, errlen);
}

int tf_adapt_build_raw(tf_proto_t proto, const char *base_url, const char *api_key, const char *model, const json_t *req,
                       const char *raw, size_t raw_len, int stream, tf_adapt_http_t *out, char *err, size_t errlen)
{
    static int (*const build[TF_PROTO_COUNT])(const tf_adapt_in_t *, tf_adapt_http_t *, json_t **, char *, size_t) = {
        tf_adapt_openai_build, tf_adapt_anthropic_build, tf_adapt_gemini_build, tf_adapt_ollama_build};
    if (out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    if ((unsigned)proto >= TF_PROTO_COUNT) {
        tf_adapt_seterr(err, errlen, "unknown protocol %d", (int)proto);
        return -1;
    }
    if (base_url == NULL || *base_url == '\0' || model == NULL || *model == '\0') {
        tf_adapt_seterr(err, errlen, "%s", base_url == NULL || *base_url == '\0' ? "no base URL" : "no model");
        return -1;
    }
    if (!key_ok(api_key)) {
        tf_adapt_seterr(err, errlen, "the API key contains a line break");
        return -1;
    }
    if (!json_is_object(req)) {
        tf_adapt_seterr(err, errlen, "the request is not a JSON object");
        return -1;
    }
    if (check_messages(proto, req, err, errlen) < 0)
        return -1;

    tf_adapt_in_t in = {.base = base_url, .base_len = strlen(base_url), .key = api_key && *api_key ? api_key : NULL,
                        .model = model, .req = req, .stream = stream != 0, .raw = raw, .raw_len = raw_len};
    while (in.base_len > 0 && in.base[in.base_len - 1] == '/')
        in.base_len--;
    if (in.base_len == 0) {
        tf_adapt_seterr(err, errlen, "no base URL");
        return -1;
    }

    json_t *body = NULL;
    if (tf_adapt_header(out, "Content-Type", "", "application/json") < 0) {
        tf_adapt_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (build[proto](&in, out, &body, err, errlen) < 0)
        goto fail;
    if (out->body == NULL) /* else written from the raw text */
        out->body = tf_adapt_dump(body, &out->body_len);
    if (out->body == NULL) {
        tf_adapt_seterr(err, errlen, "out of memory");
        goto fail;
    }
    json_decref(body);
    return 0;
fail:
    json_decref(body); /* a protocol may leave a partly built body */
    tf_adapt_http_free(out);
    return -1;
}

void tf_adapt_http_free(tf_adapt_http_t *h)
{
    if (h == NULL)
        return;
    free(h->url);
    curl_slist_free_all(h->headers);
    free(h->body);
    memset(h, 0, sizeof(*h));
}

/* ---- parse ---------------------------------------------------------------------- */

/* A body read with tf_jscan: a stream of one chunk, as far as the doc
 * reader is concerned (its spill and scratch buffers, freed here). */
static int parse_scanned(int (*scan)(const tf_adapt_doc_t *, tf_adapt_result_t *, tf_adapt_buf_t *, char *, size_t),
                         const char *body, size_t len, tf_adapt_result_t *out, tf_adapt_buf_t *text, char *err, size_t errlen)
{
    tf_adapt_stream_t s;
    memset(&s, 0, sizeof(s));
    tf_adapt_doc_t d;
    int rc = tf_adapt_doc_load(&s, &d, body, len, "the body", err, errlen) < 0 || tf_adapt_doc_error(&d, err, errlen)
                 ? -1
                 : scan(&d, out, text, err, errlen);
    free(s.spill);
    tf_adapt_buf_free(&s.scratch);
    return rc;
}

int tf_adapt_parse(tf_proto_t proto, const char *body, size_t len, tf_adapt_result_t *out, char *err, size_t errlen)
{
    /* openai, the wire format of most providers, is scanned (no tree); the
     * others still read a jansson tree. */
    static int (*const parse[TF_PROTO_COUNT])(const json_t *, tf_adapt_result_t *, tf_adapt_buf_t *, char *, size_t) = {
        NULL, tf_adapt_anthropic_parse, tf_adapt_gemini_parse, tf_adapt_ollama_parse};
    static int (*const scan[TF_PROTO_COUNT])(const tf_adapt_doc_t *, tf_adapt_result_t *, tf_adapt_buf_t *, char *, size_t) = {
        tf_adapt_openai_scan, NULL, NULL, NULL};
    if (out == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    out->prompt_tokens = out->completion_tokens = -1;
    if ((unsigned)proto >= TF_PROTO_COUNT) {
        tf_adapt_seterr(err, errlen, "unknown protocol %d", (int)proto);
        return -1;
    }
    if (body == NULL || len == 0) {
        tf_adapt_seterr(err, errlen, "empty body");
        return -1;
    }
    tf_adapt_buf_t text = {0};
    int rc;
    if (scan[proto] != NULL) {
        rc = parse_scanned(scan[proto], body, len, out, &text, err, errlen);
    } else {
        json_t *root = tf_adapt_json_object(body, len, "the body", err, errlen);
        if (root == NULL)
            return -1;
        rc = tf_adapt_upstream_error(root, err, errlen) ? -1 : parse[proto](root, out, &text, err, errlen);
        json_decref(root);
    }
    if (rc == 0 && (out->content = tf_adapt_buf_take(&text)) == NULL) {
        tf_adapt_seterr(err, errlen, "out of memory");
        rc = -1;
    }
    tf_adapt_buf_free(&text);
    if (rc < 0) {
        out->finish_reason[0] = '\0';
        out->prompt_tokens = out->completion_tokens = -1;
    }
    return rc;
}

void tf_adapt_result_free(tf_adapt_result_t *r)
{
    if (r == NULL)
        return;
    free(r->content);
    r->content = NULL;
}

/* ---- scanned stream chunks ---------------------------------------------------------- */

/* Room for n bytes in b, whatever it held, kept for later chunks; -1 when out of memory. */
static int reserve(tf_adapt_buf_t *b, size_t n)
{
    if (n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* The scanner refused the chunk, and the stream fails: jansson, which
 * refuses exactly the same inputs, words the reason as it always did. Were
 * it ever to accept one (the differential tests say it does not), the
 * chunk is refused all the same, with the scanner's reason. */
static int invalid(const tf_jscan_t *js, const char *data, size_t len, const char *what, char *err, size_t errlen)
{
    json_t *o = tf_adapt_json_object(data, len, what, err, errlen);
    if (o != NULL) {
        json_decref(o);
        tf_adapt_seterr(err, errlen, "%s is not valid JSON: %s at offset %zu", what, js->err, js->err_pos);
    }
    return -1;
}

int tf_adapt_doc_load(tf_adapt_stream_t *s, tf_adapt_doc_t *d, const char *data, size_t len, const char *what, char *err,
                      size_t errlen)
{
    d->s = s;
    int rc = tf_jscan_parse(&d->js, data, len, d->tok, TF_ADAPT_DOC_TOKENS);
    if (rc == TF_JSCAN_NOSPACE) { /* valid but big: the stream's own array, grown once and kept */
        size_t need = d->js.ntok;
        if (need > s->spill_cap) {
            size_t cap = s->spill_cap * 2 > need ? s->spill_cap * 2 : need;
            tf_jscan_tok_t *t = realloc(s->spill, cap * sizeof(*t));
            if (t == NULL) {
                tf_adapt_seterr(err, errlen, "out of memory");
                return -1;
            }
            s->spill = t;
            s->spill_cap = cap;
        }
        rc = tf_jscan_parse(&d->js, data, len, s->spill, s->spill_cap);
    }
    if (rc == TF_JSCAN_INVALID)
        return invalid(&d->js, data, len, what, err, errlen);
    if (rc != TF_JSCAN_OK) { /* cannot happen: the spill array has the room the first scan asked for */
        tf_adapt_seterr(err, errlen, "%s could not be scanned", what);
        return -1;
    }
    if (tf_jscan_type(&d->js, 0) != TF_JSCAN_OBJECT) {
        tf_adapt_seterr(err, errlen, "%s is not a JSON object", what);
        return -1;
    }
    /* an unescaped string is never longer than the chunk */
    if (d->js.escapes && reserve(&s->scratch, len) < 0) {
        tf_adapt_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

const char *tf_adapt_doc_str(const tf_adapt_doc_t *d, int t, size_t *len)
{
    const tf_jscan_tok_t *k = &d->js.tok[t];
    if (!k->escaped) {
        *len = k->len;
        return d->js.src + k->start;
    }
    *len = tf_jscan_unescape(d->js.src + k->start, k->len, d->s->scratch.p);
    return d->s->scratch.p;
}

long long tf_adapt_doc_count(const tf_adapt_doc_t *d, int t)
{
    long long n;
    return tf_jscan_integer(&d->js, t, &n) == 0 ? count_of(n) : -1;
}

int tf_adapt_doc_error(const tf_adapt_doc_t *d, char *err, size_t errlen)
{
    const tf_jscan_t *js = &d->js;
    int e = tf_jscan_member(js, 0, "error");
    if (e < 0 || tf_jscan_type(js, e) == TF_JSCAN_NULL)
        return 0;
    /* {"error":{"message":..}} (openai, anthropic, gemini) or {"error":"..."} (ollama) */
    int m = tf_jscan_member_of(js, e, "message", TF_JSCAN_STRING);
    if (m < 0 && tf_jscan_type(js, e) == TF_JSCAN_STRING)
        m = e;
    size_t n = 0;
    const char *msg = m >= 0 ? tf_adapt_doc_str(d, m, &n) : NULL;
    if (n == 0)
        tf_adapt_seterr(err, errlen, "upstream error: (no message)");
    else
        tf_adapt_seterr(err, errlen, "upstream error: %.*s", n > 300 ? 300 : (int)n, msg);
    return 1;
}

int tf_adapt_doc_content_text(const tf_adapt_doc_t *d, int t, tf_adapt_buf_t *out)
{
    const tf_jscan_t *js = &d->js;
    const char *s;
    size_t n;
    switch (tf_jscan_type(js, t)) {
    case TF_JSCAN_NONE:
    case TF_JSCAN_NULL:
        return 0;
    case TF_JSCAN_STRING:
        s = tf_adapt_doc_str(d, t, &n);
        return tf_adapt_buf_add(out, s, n, 0);
    case TF_JSCAN_ARRAY:
        for (int part = tf_jscan_first(js, t); part >= 0; part = tf_jscan_next(js, t, part)) {
            int type = tf_jscan_member_of(js, part, "type", TF_JSCAN_STRING);
            int text = tf_jscan_member_of(js, part, "text", TF_JSCAN_STRING);
            if (type < 0 || text < 0 || !tf_jscan_str_eq(js, type, "text", 4))
                continue;
            s = tf_adapt_doc_str(d, text, &n);
            if (tf_adapt_buf_add(out, s, n, 0) < 0)
                return -1;
        }
        return 0;
    default:
        return -1;
    }
}

/* ---- stream --------------------------------------------------------------------- */

void tf_adapt_emit_delta(tf_adapt_stream_t *s, const char *text, size_t len)
{
    if (s->done || len == 0)
        return;
    tf_adapt_event_t ev = {.kind = TF_ADAPT_EV_DELTA, .text = text, .len = len};
    s->emit(s->ud, &ev);
}

void tf_adapt_emit_finish(tf_adapt_stream_t *s, const char *reason)
{
    /* Some upstreams repeat the reason (e.g. on the usage chunk); the caller
     * gets it once. */
    if (s->done || s->finished)
        return;
    s->finished = 1;
    tf_adapt_event_t ev = {.kind = TF_ADAPT_EV_FINISH, .finish_reason = reason};
    s->emit(s->ud, &ev);
}

void tf_adapt_emit_usage(tf_adapt_stream_t *s, long long prompt_tokens, long long completion_tokens)
{
    if (s->done)
        return;
    tf_adapt_event_t ev = {.kind = TF_ADAPT_EV_USAGE, .prompt_tokens = prompt_tokens, .completion_tokens = completion_tokens};
    s->emit(s->ud, &ev);
}

void tf_adapt_emit_done(tf_adapt_stream_t *s)
{
    if (s->done)
        return;
    s->done = 1;
    tf_adapt_event_t ev = {.kind = TF_ADAPT_EV_DONE};
    s->emit(s->ud, &ev);
}

static int on_event(void *ctx, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    tf_adapt_stream_t *s = ctx;
    switch (s->proto) {
    case TF_PROTO_OPENAI:
        return tf_adapt_openai_event(s, event, data, len, err, errlen);
    case TF_PROTO_ANTHROPIC:
        return tf_adapt_anthropic_event(s, event, data, len, err, errlen);
    case TF_PROTO_GEMINI:
        return tf_adapt_gemini_event(s, event, data, len, err, errlen);
    default:
        return -1;
    }
}

static int on_line(void *ctx, const char *line, size_t len, char *err, size_t errlen)
{
    tf_adapt_stream_t *s = ctx;
    if (s->proto == TF_PROTO_OLLAMA)
        return tf_adapt_ollama_line(s, line, len, err, errlen);
    return tf_adapt_sse_line(&s->sse, line, len, on_event, s, err, errlen);
}

tf_adapt_stream_t *tf_adapt_stream_new(tf_proto_t proto, tf_adapt_emit_fn emit, void *ud)
{
    if ((unsigned)proto >= TF_PROTO_COUNT || emit == NULL)
        return NULL;
    tf_adapt_stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->proto = proto;
    s->emit = emit;
    s->ud = ud;
    s->lines.sse = proto != TF_PROTO_OLLAMA;
    s->input_tokens = -1;
    return s;
}

int tf_adapt_stream_feed(tf_adapt_stream_t *s, const char *data, size_t len, char *err, size_t errlen)
{
    if (s == NULL || (data == NULL && len > 0)) {
        tf_adapt_seterr(err, errlen, "no stream");
        return -1;
    }
    if (s->failed) {
        tf_adapt_seterr(err, errlen, "the stream already failed");
        return -1;
    }
    if (s->done || s->ended) /* what trails the end of the stream is ignored */
        return 0;
    if (tf_adapt_lines_feed(&s->lines, data, len, on_line, s, err, errlen) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

int tf_adapt_stream_end(tf_adapt_stream_t *s)
{
    if (s == NULL || s->failed)
        return 0;
    if (!s->done && !s->ended) {
        s->ended = 1;
        char err[8];
        /* Ollama's last line normally ends with LF, but a complete object
         * without one is still the end of the answer. An unfinished SSE
         * event is dropped, as the SSE rules say. */
        if (s->proto == TF_PROTO_OLLAMA && tf_adapt_lines_flush(&s->lines, on_line, s, err, sizeof(err)) < 0) {
            s->failed = 1;
            return 0;
        }
        /* Gemini has no end marker: a finish reason is the end. */
        if (s->proto == TF_PROTO_GEMINI && s->finished)
            tf_adapt_emit_done(s);
    }
    return s->done;
}

void tf_adapt_stream_free(tf_adapt_stream_t *s)
{
    if (s == NULL)
        return;
    tf_adapt_lines_free(&s->lines);
    tf_adapt_sse_free(&s->sse);
    tf_adapt_buf_free(&s->scratch);
    free(s->spill);
    free(s);
}

/* ---- estimates ------------------------------------------------------------------ */

long long tf_adapt_estimate_tokens(size_t text_bytes)
{
    return (long long)(text_bytes / 4 + (text_bytes % 4 != 0));
}

long long tf_adapt_estimate_prompt(const json_t *req)
{
    json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs))
        return 0;
    size_t bytes = 0, n = 0, i, k;
    json_t *m, *part;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m))
            continue;
        n++;
        json_t *c = json_object_get(m, "content");
        if (json_is_string(c))
            bytes += json_string_length(c);
        json_array_foreach(c, k, part) {
            json_t *type = tf_adapt_get(part, "type", JSON_STRING);
            json_t *text = tf_adapt_get(part, "text", JSON_STRING);
            if (type != NULL && strcmp(json_string_value(type), "text") == 0 && text != NULL)
                bytes += json_string_length(text);
        }
    }
    return tf_adapt_estimate_tokens(bytes) + 4 * (long long)n;
}
