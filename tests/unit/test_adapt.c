/*
 * tf_adapt unit test: for each of the four wire protocols, the upstream
 * request built from an OpenAI chat request (URL, headers, body compared as
 * JSON), the non-streamed answer parsed (samples shaped like the providers'
 * documented answers, error bodies, hostile types), and the streamed answer
 * (recorded-format streams fed whole, split at every position, byte by
 * byte and in random chunks, all giving the same events; error events,
 * streams cut short, what DONE and tf_adapt_stream_end mean). What reading
 * chunks with tf_jscan must keep (duplicate keys, escapes, big chunks,
 * jansson's refusals), and a differential test: generated and mutated
 * streams through the stream parsers and through the jansson-based code
 * they replaced (kept here as the reference), events and errors compared
 * byte for byte. Then the estimates, and random bytes into every parser.
 *
 * Build: cc -Iruntime tests/unit/test_adapt.c runtime/tf_adapt*.c runtime/tf_jscan.c
 *        $(pkg-config --cflags --libs jansson libcurl)
 */
#include "tap.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_adapt.h"
#include "tf_adapt_int.h" /* tf_adapt_dump */


/* xorshift: the same "random" chunkings on every run */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL) {
        fprintf(stderr, "bad fixture JSON (%s): %s\n", je.text, text);
        exit(2);
    }
    return j;
}

/* ---- build ------------------------------------------------------------------- */

static int has_header(const struct curl_slist *h, const char *line)
{
    for (; h != NULL; h = h->next)
        if (strcmp(h->data, line) == 0)
            return 1;
    return 0;
}

static int header_count(const struct curl_slist *h)
{
    int c = 0;
    for (; h != NULL; h = h->next)
        c++;
    return c;
}

/* The body, parsed, equals `want` (JSON text); prints both when not. */
static int body_is(const tf_adapt_http_t *h, const char *want)
{
    json_t *got = h->body ? json_loadb(h->body, h->body_len, 0, NULL) : NULL;
    json_t *w = J(want);
    int eq = got != NULL && json_equal(got, w) && strlen(h->body) == h->body_len;
    if (!eq) {
        char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS), *gs = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        printf("# want %s\n#  got %s\n", ws, gs ? gs : h->body ? h->body : "(null)");
        free(ws);
        free(gs);
    }
    json_decref(got);
    json_decref(w);
    return eq;
}

static int build(tf_proto_t p, const char *base, const char *key, const char *model, const char *req, int stream, tf_adapt_http_t *h,
                 char *err, size_t errlen)
{
    json_t *r = J(req);
    err[0] = '\0';
    int rc = tf_adapt_build(p, base, key, model, r, stream, h, err, errlen);
    json_decref(r);
    return rc;
}

static void build_fails(tf_proto_t p, const char *key, const char *model, const char *req, const char *why, const char *desc)
{
    tf_adapt_http_t h;
    char err[256];
    int rc = build(p, "http://u", key, model, req, 0, &h, err, sizeof(err));
    int good = rc == -1 && strstr(err, why) != NULL && h.url == NULL && h.headers == NULL && h.body == NULL;
    if (!good)
        printf("# rc=%d err='%s' (wanted '%s')\n", rc, err, why);
    ok(good, "%s: %s", tf_proto_name(p), desc);
    tf_adapt_http_free(&h);
}

static const char *CHAT = "{\"model\":\"openai/gpt-4o\",\"messages\":["
                          "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                          "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Use \"},{\"type\":\"text\",\"text\":\"English.\"}]},"
                          "{\"role\":\"user\",\"content\":\"Hi\"},"
                          "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is 2+2?\"},"
                          "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}}]},"
                          "{\"role\":\"assistant\",\"content\":null},"
                          "{\"role\":\"assistant\",\"content\":\"4\"},"
                          "{\"role\":\"tool\",\"content\":\"calc: 4\",\"tool_call_id\":\"c1\"},"
                          "{\"role\":\"user\",\"content\":\"Thanks\"}],"
                          "\"temperature\":0.5,\"top_p\":0.9,\"max_tokens\":100,\"stop\":\"END\",\"seed\":7,"
                          "\"presence_penalty\":0.1,\"frequency_penalty\":0.2,"
                          "\"strategy\":\"fastest\",\"fallback\":[\"a\",\"b\"],\"triforce\":{\"x\":1},"
                          "\"user\":\"u-1\",\"response_format\":{\"type\":\"text\"},\"stream\":true}";

static void test_build_openai(void)
{
    tf_adapt_http_t h;
    char err[256];
    int rc = build(TF_PROTO_OPENAI, "https://api.openai.com/v1", "sk-secret", "gpt-4o", CHAT, 0, &h, err, sizeof(err));
    ok(rc == 0, "openai: build");
    ok(h.url && strcmp(h.url, "https://api.openai.com/v1/chat/completions") == 0, "openai: URL {base}/chat/completions");
    ok(has_header(h.headers, "Content-Type: application/json") && has_header(h.headers, "Authorization: Bearer sk-secret")
           && header_count(h.headers) == 2,
       "openai: Content-Type and Authorization: Bearer headers");
    ok(h.url && strstr(h.url, "sk-secret") == NULL, "openai: no key in the URL");
    /* model replaced, own members and stream gone, everything else as is */
    json_t *want = J(CHAT);
    json_object_set_new(want, "model", json_string("gpt-4o"));
    json_object_del(want, "strategy");
    json_object_del(want, "fallback");
    json_object_del(want, "triforce");
    json_object_del(want, "stream");
    char *ws = json_dumps(want, JSON_COMPACT);
    json_decref(want);
    ok(body_is(&h, ws), "openai: body = request with model replaced, strategy/fallback/triforce/stream removed");
    free(ws);
    tf_adapt_http_free(&h);
    ok(h.url == NULL && h.headers == NULL && h.body == NULL, "openai: tf_adapt_http_free clears the struct");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_OPENAI, "http://127.0.0.1:19501/openai/v1/", "", "m",
               "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_obfuscation\":false}}", 1, &h, err,
               sizeof(err));
    ok(rc == 0 && strcmp(h.url, "http://127.0.0.1:19501/openai/v1/chat/completions") == 0, "openai: a trailing slash on the base is dropped");
    ok(header_count(h.headers) == 1 && has_header(h.headers, "Content-Type: application/json"), "openai: no Authorization for an empty key");
    ok(body_is(&h, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
                   "\"stream_options\":{\"include_obfuscation\":false,\"include_usage\":true}}"),
       "openai: stream gets stream:true and stream_options.include_usage (other stream options kept)");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_OPENAI, "http://u", NULL, "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 1, &h, err, sizeof(err));
    ok(rc == 0 && body_is(&h, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
                              "\"stream_options\":{\"include_usage\":true}}"),
       "openai: stream body exactly as specified");
    tf_adapt_http_free(&h);
}

static void test_build_anthropic(void)
{
    tf_adapt_http_t h;
    char err[256];
    int rc = build(TF_PROTO_ANTHROPIC, "https://api.anthropic.com", "sk-ant-secret", "claude-sonnet-4-5", CHAT, 0, &h, err, sizeof(err));
    ok(rc == 0, "anthropic: build");
    ok(h.url && strcmp(h.url, "https://api.anthropic.com/v1/messages") == 0, "anthropic: URL {base}/v1/messages");
    ok(has_header(h.headers, "Content-Type: application/json") && has_header(h.headers, "x-api-key: sk-ant-secret")
           && has_header(h.headers, "anthropic-version: 2023-06-01") && header_count(h.headers) == 3,
       "anthropic: x-api-key and anthropic-version headers");
    ok(h.url && strstr(h.url, "sk-ant") == NULL, "anthropic: no key in the URL");
    ok(body_is(&h, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"system\":\"Be brief.\\n\\nUse English.\","
                   "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\\n\\nWhat is 2+2?\"},"
                   "{\"role\":\"assistant\",\"content\":\"4\"},"
                   "{\"role\":\"user\",\"content\":\"calc: 4\\n\\nThanks\"}],"
                   "\"temperature\":0.5,\"top_p\":0.9,\"stop_sequences\":[\"END\"]}"),
       "anthropic: system joined, turns merged and alternating, tool as user text, stop_sequences, no seed/penalties");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_ANTHROPIC, "http://u", NULL, "c",
               "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":1.7,\"stop\":[\"a\",\"\",\"b\"],"
               "\"max_tokens\":null,\"seed\":null}",
               1, &h, err, sizeof(err));
    ok(rc == 0 && body_is(&h, "{\"model\":\"c\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                              "\"temperature\":1.0,\"stop_sequences\":[\"a\",\"b\"],\"stream\":true}"),
       "anthropic: max_tokens defaults to 4096, temperature capped at 1, stream:true, null options absent");
    ok(header_count(h.headers) == 2 && !has_header(h.headers, "x-api-key: "), "anthropic: no x-api-key without a key");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_ANTHROPIC, "http://u", "k", "c",
               "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":10,\"max_completion_tokens\":20}", 0, &h, err,
               sizeof(err));
    ok(rc == 0 && body_is(&h, "{\"model\":\"c\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"),
       "anthropic: max_completion_tokens wins over max_tokens");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_ANTHROPIC, "http://u", "k", "c", "{\"messages\":[{\"role\":\"system\",\"content\":\"Say hi.\"}]}", 0, &h, err,
               sizeof(err));
    ok(rc == 0 && body_is(&h, "{\"model\":\"c\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\",\"content\":\"Say hi.\"}]}"),
       "anthropic: a request of system text only sends it as the user turn");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_ANTHROPIC, "http://u", "k", "c",
               "{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
               "{\"role\":\"user\",\"content\":\"\"},{\"role\":\"assistant\",\"content\":\"c\"}]}",
               0, &h, err, sizeof(err));
    ok(rc == 0 && body_is(&h, "{\"model\":\"c\",\"max_tokens\":4096,\"messages\":[{\"role\":\"assistant\",\"content\":\"a\\n\\nb\\n\\nc\"}]}"),
       "anthropic: empty turns dropped, the assistant turns around them merged");
    tf_adapt_http_free(&h);
}

static void test_build_gemini(void)
{
    tf_adapt_http_t h;
    char err[256];
    int rc = build(TF_PROTO_GEMINI, "https://generativelanguage.googleapis.com", "AIza-secret", "gemini-2.0-flash", CHAT, 0, &h, err,
                   sizeof(err));
    ok(rc == 0, "gemini: build");
    ok(h.url && strcmp(h.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent") == 0,
       "gemini: URL {base}/v1beta/models/{m}:generateContent");
    ok(has_header(h.headers, "Content-Type: application/json") && has_header(h.headers, "x-goog-api-key: AIza-secret")
           && header_count(h.headers) == 2,
       "gemini: x-goog-api-key header");
    ok(h.url && strstr(h.url, "AIza") == NULL && strstr(h.url, "key=") == NULL, "gemini: no key in the URL");
    ok(body_is(&h, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\\n\\nWhat is 2+2?\"}]},"
                   "{\"role\":\"model\",\"parts\":[{\"text\":\"4\"}]},"
                   "{\"role\":\"user\",\"parts\":[{\"text\":\"calc: 4\\n\\nThanks\"}]}],"
                   "\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\\n\\nUse English.\"}]},"
                   "\"generationConfig\":{\"temperature\":0.5,\"topP\":0.9,\"maxOutputTokens\":100,\"stopSequences\":[\"END\"],"
                   "\"seed\":7,\"presencePenalty\":0.1,\"frequencyPenalty\":0.2}}"),
       "gemini: contents user/model, systemInstruction, generationConfig");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_GEMINI, "http://u/", NULL, "gemini-2.5-pro", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 1, &h, err,
               sizeof(err));
    ok(rc == 0 && strcmp(h.url, "http://u/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse") == 0,
       "gemini: stream URL :streamGenerateContent?alt=sse");
    ok(body_is(&h, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}]}"), "gemini: no generationConfig without options");
    ok(header_count(h.headers) == 1, "gemini: no key header without a key");
    tf_adapt_http_free(&h);

    static const struct {
        const char *model, *seg;
    } enc[] = {{"tuned/my model", "tuned%2Fmy%20model"}, {"a:b?c#d", "a%3Ab%3Fc%23d"}, {"models/gemini-pro", "gemini-pro"},
               {"x.y_z-1", "x.y_z-1"},               {"\xc3\xa9", "%C3%A9"}};
    for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
        rc = build(TF_PROTO_GEMINI, "http://u", "k", enc[i].model, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 0, &h, err,
                   sizeof(err));
        char want[128];
        snprintf(want, sizeof(want), "http://u/v1beta/models/%s:generateContent", enc[i].seg);
        ok(rc == 0 && strcmp(h.url, want) == 0, "gemini: model \"%s\" in the path as %s", enc[i].model, enc[i].seg);
        tf_adapt_http_free(&h);
    }
}

static void test_build_ollama(void)
{
    tf_adapt_http_t h;
    char err[256];
    int rc = build(TF_PROTO_OLLAMA, "http://127.0.0.1:11434", NULL, "llama3.2:3b", CHAT, 0, &h, err, sizeof(err));
    ok(rc == 0, "ollama: build");
    ok(h.url && strcmp(h.url, "http://127.0.0.1:11434/api/chat") == 0, "ollama: URL {base}/api/chat");
    ok(header_count(h.headers) == 1 && has_header(h.headers, "Content-Type: application/json"), "ollama: no Authorization without a key");
    ok(body_is(&h, "{\"model\":\"llama3.2:3b\",\"stream\":false,\"messages\":["
                   "{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"system\",\"content\":\"Use English.\"},"
                   "{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"user\",\"content\":\"What is 2+2?\"},"
                   "{\"role\":\"assistant\",\"content\":\"\"},{\"role\":\"assistant\",\"content\":\"4\"},"
                   "{\"role\":\"tool\",\"content\":\"calc: 4\"},{\"role\":\"user\",\"content\":\"Thanks\"}],"
                   "\"options\":{\"temperature\":0.5,\"top_p\":0.9,\"num_predict\":100,\"stop\":[\"END\"],\"seed\":7,"
                   "\"presence_penalty\":0.1,\"frequency_penalty\":0.2}}"),
       "ollama: messages with text contents, stream:false explicit, options");
    tf_adapt_http_free(&h);

    rc = build(TF_PROTO_OLLAMA, "https://ollama.example", "ol-secret", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 1, &h,
               err, sizeof(err));
    ok(rc == 0 && body_is(&h, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"),
       "ollama: stream:true, no options when none given");
    ok(has_header(h.headers, "Authorization: Bearer ol-secret") && strstr(h.url, "ol-secret") == NULL,
       "ollama: Authorization: Bearer with a key, not in the URL");
    tf_adapt_http_free(&h);
}

static void test_build_errors(void)
{
    static const char *one = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    for (int p = 0; p < TF_PROTO_COUNT; p++) {
        build_fails(p, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"user\",\"content\":42}]}", "messages[1]",
                    "content 42 refused, naming messages[1]");
        build_fails(p, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":{\"text\":\"x\"}}]}", "messages[0]", "content object refused");
        build_fails(p, "k", "m", "{\"messages\":[]}", "messages", "empty messages refused");
        build_fails(p, "k", "m", "{\"messages\":\"hi\"}", "messages", "messages not an array refused");
        build_fails(p, "k", "m", "{}", "messages", "no messages refused");
        build_fails(p, "k", "m", "{\"messages\":[7]}", "messages[0]", "a message that is not an object refused");
        build_fails(p, "k", "m", "{\"messages\":[{\"content\":\"x\"}]}", "messages[0]", "a message without role refused");
        build_fails(p, "k\r\nX-Evil: 1", "m", one, "line break", "a key with CRLF refused (header injection)");
        build_fails(p, "k", "", one, "model", "an empty model refused");
    }
    build_fails(TF_PROTO_ANTHROPIC, "k", "m", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0]", "unknown role refused");
    build_fails(TF_PROTO_GEMINI, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "no message", "no text at all refused");
    build_fails(TF_PROTO_GEMINI, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":5}", "stop", "stop 5 refused");
    build_fails(TF_PROTO_OLLAMA, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",1]}", "stop[1]",
                "stop [\"a\",1] refused");
    build_fails(TF_PROTO_ANTHROPIC, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":\"9\"}", "max_tokens",
                "max_tokens \"9\" refused");
    build_fails(TF_PROTO_OLLAMA, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens",
                "max_tokens 0 refused");
    build_fails(TF_PROTO_GEMINI, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "temperature",
                "temperature \"hot\" refused");
    build_fails(TF_PROTO_GEMINI, "k", "m", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":1.5}", "seed",
                "seed 1.5 refused");
    build_fails(TF_PROTO_OLLAMA, "k", "bad\xff", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "", "a model that is not UTF-8 refused");

    tf_adapt_http_t h;
    char err[128];
    json_t *r = J(one);
    ok(tf_adapt_build(TF_PROTO_COUNT, "http://u", "k", "m", r, 0, &h, err, sizeof(err)) == -1 && h.url == NULL, "unknown protocol refused");
    ok(tf_adapt_build(TF_PROTO_OPENAI, NULL, "k", "m", r, 0, &h, err, sizeof(err)) == -1, "NULL base URL refused");
    ok(tf_adapt_build(TF_PROTO_OPENAI, "http://u", "k", NULL, r, 0, &h, err, sizeof(err)) == -1, "NULL model refused");
    ok(tf_adapt_build(TF_PROTO_OPENAI, "http://u", "k", "m", NULL, 0, &h, err, sizeof(err)) == -1, "NULL request refused");
    ok(tf_adapt_build(TF_PROTO_OPENAI, "http://u", "k", "m", r, 0, &h, NULL, 0) == 0, "a NULL err buffer is fine");
    tf_adapt_http_free(&h);
    json_decref(r);
    ok(tf_proto_from_name("anthropic") == TF_PROTO_ANTHROPIC && tf_proto_from_name("ollama") == TF_PROTO_OLLAMA
           && tf_proto_from_name("Gemini") == -1 && tf_proto_from_name(NULL) == -1 && tf_proto_from_name("") == -1,
       "tf_proto_from_name: exact names only");
    ok(strcmp(tf_proto_name(TF_PROTO_GEMINI), "gemini") == 0 && strcmp(tf_proto_name(TF_PROTO_OPENAI), "openai") == 0
           && tf_proto_name(TF_PROTO_COUNT) != NULL,
       "tf_proto_name");
}

/* ---- parse ------------------------------------------------------------------- */

static void parses(tf_proto_t p, const char *body, const char *content, const char *reason, long long pt, long long ct, const char *desc)
{
    tf_adapt_result_t r;
    char err[256] = "";
    int rc = tf_adapt_parse(p, body, strlen(body), &r, err, sizeof(err));
    int good = rc == 0 && r.content && strcmp(r.content, content) == 0 && strcmp(r.finish_reason, reason) == 0 && r.prompt_tokens == pt
               && r.completion_tokens == ct;
    if (!good)
        printf("# rc=%d err='%s' content='%s' reason='%s' usage=%lld/%lld\n", rc, err, r.content ? r.content : "(null)", r.finish_reason,
               r.prompt_tokens, r.completion_tokens);
    ok(good, "%s parse: %s", tf_proto_name(p), desc);
    tf_adapt_result_free(&r);
}

static void parse_fails(tf_proto_t p, const char *body, const char *why, const char *desc)
{
    tf_adapt_result_t r;
    char err[256] = "";
    int rc = tf_adapt_parse(p, body, strlen(body), &r, err, sizeof(err));
    int good = rc == -1 && r.content == NULL && strstr(err, why) != NULL;
    if (!good)
        printf("# rc=%d err='%s' (wanted '%s')\n", rc, err, why);
    ok(good, "%s parse: %s", tf_proto_name(p), desc);
    tf_adapt_result_free(&r);
}

static void test_parse_openai(void)
{
    tf_proto_t P = TF_PROTO_OPENAI;
    parses(P,
           "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion\",\"created\":1741569952,"
           "\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
           "\"content\":\"Hello! How can I assist you today?\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
           "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
           "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}},"
           "\"service_tier\":\"default\"}",
           "Hello! How can I assist you today?", "stop", 19, 10, "the documented answer");
    parses(P, "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"abc\"},\"finish_reason\":\"length\"}]}", "abc", "length", -1, -1,
           "length, no usage -> -1/-1");
    parses(P, "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},\"finish_reason\":\"tool_calls\"}]}", "",
           "tool_calls", -1, -1, "null content -> \"\"");
    parses(P, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"eos\"}],\"usage\":{\"prompt_tokens\":\"9\",\"completion_tokens\":-3}}",
           "x", "stop", -1, -1, "unknown finish reason -> stop, usage as string/negative -> -1");
    parses(P, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":10000000000000000,\"completion_tokens\":1.5}}",
           "x", "stop", -1, -1, "null finish -> stop, absurd and fractional counts -> -1");
    parses(P, "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}],\"usage\":7}",
           "ab", "stop", -1, -1, "content as parts, usage not an object");
    parses(P, "{\"error\":null,\"choices\":[{\"message\":{\"content\":\"x\"}}]}", "x", "stop", -1, -1, "\"error\":null is no error");
    parse_fails(P, "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
                "Incorrect API key", "an error object in a 2xx body");
    parse_fails(P, "{\"error\":\"boom\"}", "boom", "an error string");
    parse_fails(P, "{\"choices\":{\"0\":{}}}", "not a chat completion", "choices not an array");
    parse_fails(P, "{\"choices\":[]}", "not a chat completion", "choices empty");
    parse_fails(P, "{\"choices\":[7]}", "not a chat completion", "choices[0] a number");
    parse_fails(P, "{\"choices\":[{\"message\":\"hi\"}]}", "not a chat completion", "message a string");
    parse_fails(P, "{\"choices\":[{\"message\":{\"content\":42}}]}", "not text", "content a number");
    parse_fails(P, "[1,2]", "not a JSON object", "a JSON array");
    parse_fails(P, "<html>502 Bad Gateway</html>", "not valid JSON", "HTML");
    parse_fails(P, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":123456789012345678901234567890}}",
                "not valid JSON", "an integer beyond 64 bits");
    parse_fails(P, "{\"choices\":[{\"message\":{\"content\":\"a\\u0000b\"}}]}", "not valid JSON", "a NUL in the content");
    parse_fails(P, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]} trailing", "not valid JSON", "trailing garbage");
    tf_adapt_result_t r;
    char err[64];
    ok(tf_adapt_parse(P, NULL, 0, &r, err, sizeof(err)) == -1 && r.content == NULL && r.prompt_tokens == -1, "openai parse: NULL body");
    ok(tf_adapt_parse(P, "{\"x\":1}\0{", 9, &r, err, sizeof(err)) == -1, "openai parse: a NUL byte in the body");
    ok(tf_adapt_parse(TF_PROTO_COUNT, "{}", 2, &r, err, sizeof(err)) == -1, "parse: unknown protocol");
    tf_adapt_result_free(&r);
    tf_adapt_result_free(NULL);
}

static void test_parse_anthropic(void)
{
    tf_proto_t P = TF_PROTO_ANTHROPIC;
    parses(P,
           "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
           "\"content\":[{\"type\":\"text\",\"text\":\"Hi! My name is Claude.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
           "\"usage\":{\"input_tokens\":2095,\"output_tokens\":503}}",
           "Hi! My name is Claude.", "stop", 2095, 503, "the documented answer");
    parses(P,
           "{\"type\":\"message\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"x\"},"
           "{\"type\":\"text\",\"text\":\"Let me check. \"},{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}},"
           "{\"type\":\"text\",\"text\":\"Done.\"},7,{\"type\":\"text\",\"text\":5}],\"stop_reason\":\"tool_use\","
           "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":20}}",
           "Let me check. Done.", "tool_calls", 115, 20, "text blocks joined, thinking/tool_use/odd blocks skipped, cached input counted");
    parses(P, "{\"content\":[{\"type\":\"text\",\"text\":\"abc\"}],\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":\"x\"}}", "abc",
           "length", -1, -1, "max_tokens -> length, bad usage -> -1");
    parses(P, "{\"content\":[],\"stop_reason\":\"stop_sequence\"}", "", "stop", -1, -1, "stop_sequence -> stop, empty content");
    parses(P, "{\"content\":[{\"type\":\"text\",\"text\":\"no\"}],\"stop_reason\":\"refusal\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}",
           "no", "content_filter", 3, 1, "refusal -> content_filter");
    parse_fails(P, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", "Overloaded",
                "an error object in a 2xx body");
    parse_fails(P, "{\"type\":\"message\",\"content\":\"hi\"}", "no content array", "content a string");
    parse_fails(P, "{\"type\":\"message\"}", "no content array", "no content");
}

static void test_parse_gemini(void)
{
    tf_proto_t P = TF_PROTO_GEMINI;
    parses(P,
           "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"AI learns patterns from data.\"}],\"role\":\"model\"},"
           "\"finishReason\":\"STOP\",\"avgLogprobs\":-0.2,\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":4,"
           "\"candidatesTokenCount\":7,\"totalTokenCount\":11,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":4}]},"
           "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"abc\"}",
           "AI learns patterns from data.", "stop", 4, 7, "the documented answer");
    parses(P,
           "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I think...\",\"thought\":true},{\"text\":\"Part one, \"},"
           "{\"inlineData\":{}},{\"text\":\"part two.\"}],\"role\":\"model\"},\"finishReason\":\"MAX_TOKENS\"}],"
           "\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":20,\"thoughtsTokenCount\":30}}",
           "Part one, part two.", "length", 10, 50, "thought parts skipped, thoughts counted as output, MAX_TOKENS -> length");
    parses(P, "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"safetyRatings\":[]}],\"usageMetadata\":{\"promptTokenCount\":9}}", "",
           "content_filter", 9, -1, "SAFETY with no content -> content_filter");
    parses(P, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":\"PROHIBITED_CONTENT\"}]}", "x", "content_filter",
           -1, -1, "PROHIBITED_CONTENT -> content_filter");
    parses(P, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":\"RECITATION\"}]}", "x", "content_filter", -1, -1,
           "RECITATION -> content_filter");
    parses(P, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":\"OTHER\"}]}", "x", "stop", -1, -1, "OTHER -> stop");
    parses(P,
           "{\"promptFeedback\":{\"blockReason\":\"SAFETY\",\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\","
           "\"probability\":\"HIGH\"}]},\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12}}",
           "", "content_filter", 12, -1, "a blocked prompt is an answer: \"\", content_filter");
    parses(P, "{\"candidates\":[{\"content\":{\"parts\":\"x\"}}],\"usageMetadata\":{\"promptTokenCount\":[1]}}", "", "stop", -1, -1,
           "parts not an array -> no text");
    parse_fails(P, "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\",\"status\":\"INVALID_ARGUMENT\"}}",
                "API key not valid", "an error object");
    parse_fails(P, "{\"candidates\":[]}", "no candidates", "no candidates and no block reason");
    parse_fails(P, "{\"candidates\":\"x\",\"promptFeedback\":{\"blockReason\":7}}", "no candidates", "candidates a string, blockReason a number");
}

static void test_parse_ollama(void)
{
    tf_proto_t P = TF_PROTO_OLLAMA;
    parses(P,
           "{\"model\":\"llama3.2\",\"created_at\":\"2023-12-12T14:13:43.416799Z\",\"message\":{\"role\":\"assistant\","
           "\"content\":\"Hello! How are you today?\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":5191566416,"
           "\"load_duration\":2154458,\"prompt_eval_count\":26,\"prompt_eval_duration\":383809000,\"eval_count\":298,"
           "\"eval_duration\":4799921000}",
           "Hello! How are you today?", "stop", 26, 298, "the documented answer");
    parses(P, "{\"message\":{\"role\":\"assistant\",\"content\":\"abc\",\"thinking\":\"hm\"},\"done\":true,\"done_reason\":\"length\",\"eval_count\":3}",
           "abc", "length", -1, 3, "length; no prompt_eval_count (cached prompt) -> -1");
    parses(P, "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"load\"}", "", "stop", -1, -1, "load -> stop");
    parses(P, "{\"message\":{\"role\":\"assistant\"},\"done\":true,\"done_reason\":7,\"eval_count\":\"5\"}", "", "stop", -1, -1,
           "odd types -> defaults");
    parse_fails(P, "{\"error\":\"model 'llama9' not found, try pulling it first\"}", "not found", "an error string");
    parse_fails(P, "{\"model\":\"m\",\"done\":true}", "not an Ollama", "no message");
    parse_fails(P, "{\"message\":{\"content\":[1]}}", "not an Ollama", "content an array");
}

/* ---- stream ------------------------------------------------------------------- */

typedef struct coll {
    char *log;
    size_t len, cap;
    int bad; /* an empty delta, or anything after DONE */
    int done;
} coll_t;

static void logf_(coll_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(coll_t *c, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k >= sizeof(tmp))
        k = sizeof(tmp) - 1;
    if (c->len + (size_t)k + 1 > c->cap) {
        c->cap = (c->len + (size_t)k + 1) * 2;
        c->log = realloc(c->log, c->cap);
    }
    memcpy(c->log + c->len, tmp, (size_t)k + 1);
    c->len += (size_t)k;
}

static void collect(void *ud, const tf_adapt_event_t *ev)
{
    coll_t *c = ud;
    if (c->done)
        c->bad = 1;
    switch (ev->kind) {
    case TF_ADAPT_EV_DELTA:
        if (ev->len == 0 || ev->text == NULL)
            c->bad = 1;
        logf_(c, "D[%.*s]", (int)ev->len, ev->text);
        break;
    case TF_ADAPT_EV_FINISH:
        logf_(c, "F[%s]", ev->finish_reason);
        break;
    case TF_ADAPT_EV_USAGE:
        logf_(c, "U[%lld,%lld]", ev->prompt_tokens, ev->completion_tokens);
        break;
    case TF_ADAPT_EV_DONE:
        c->done = 1;
        logf_(c, "X");
        break;
    default:
        c->bad = 1;
    }
}

typedef struct run {
    char log[2048];
    int feed_rc; /* -1 when some feed failed */
    int end_rc;
    int bad;
    char err[256];
} run_t;

/* Feeds data cut at the given positions (ascending), then ends the stream. */
static void run_cuts(tf_proto_t p, const char *data, size_t len, const size_t *cuts, size_t ncuts, run_t *r)
{
    coll_t c = {0};
    tf_adapt_stream_t *s = tf_adapt_stream_new(p, collect, &c);
    size_t at = 0;
    r->feed_rc = 0;
    r->err[0] = '\0';
    for (size_t i = 0; i <= ncuts && r->feed_rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        if (tf_adapt_stream_feed(s, data + at, to - at, r->err, sizeof(r->err)) < 0)
            r->feed_rc = -1;
        at = to;
    }
    r->end_rc = tf_adapt_stream_end(s);
    snprintf(r->log, sizeof(r->log), "%s", c.log ? c.log : "");
    r->bad = c.bad;
    tf_adapt_stream_free(s);
    free(c.log);
}

static void run_whole(tf_proto_t p, const char *data, size_t len, run_t *r)
{
    run_cuts(p, data, len, NULL, 0, r);
}

static int same(const run_t *a, const run_t *b)
{
    return strcmp(a->log, b->log) == 0 && a->feed_rc == b->feed_rc && a->end_rc == b->end_rc && !a->bad && !b->bad;
}

/* Whole, then every split in two, byte by byte, and 300 random chunkings:
 * all must match the expected log and results. */
static void stream_case(tf_proto_t p, const char *data, size_t len, const char *want_log, int want_feed, int want_end, const char *desc)
{
    run_t whole, r;
    run_whole(p, data, len, &whole);
    int good = strcmp(whole.log, want_log) == 0 && whole.feed_rc == want_feed && whole.end_rc == want_end && !whole.bad;
    if (!good)
        printf("# want %s feed=%d end=%d\n#  got %s feed=%d end=%d bad=%d err='%s'\n", want_log, want_feed, want_end, whole.log, whole.feed_rc,
               whole.end_rc, whole.bad, whole.err);
    ok(good, "%s stream: %s", tf_proto_name(p), desc);

    int splits_ok = 1;
    for (size_t cut = 0; cut <= len && splits_ok; cut++) {
        run_cuts(p, data, len, &cut, 1, &r);
        if (!same(&r, &whole)) {
            printf("# split at %zu: %s (feed %d end %d)\n", cut, r.log, r.feed_rc, r.end_rc);
            splits_ok = 0;
        }
    }
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    run_cuts(p, data, len, cuts, len, &r);
    int bytes_ok = same(&r, &whole);
    if (!bytes_ok)
        printf("# byte by byte: %s (feed %d end %d)\n", r.log, r.feed_rc, r.end_rc);
    int random_ok = 1;
    for (int t = 0; t < 300 && random_ok; t++) {
        size_t nc = 0, at = 0;
        while (at < len) {
            at += 1 + rnd() % (t % 3 == 0 ? 4 : 64);
            if (at < len)
                cuts[nc++] = at;
        }
        run_cuts(p, data, len, cuts, nc, &r);
        if (!same(&r, &whole)) {
            printf("# random chunking %d: %s\n", t, r.log);
            random_ok = 0;
        }
    }
    free(cuts);
    ok(splits_ok && bytes_ok && random_ok, "%s stream: %s - same events at every split, byte by byte, random chunks", tf_proto_name(p), desc);
}

static void stream_str(tf_proto_t p, const char *data, const char *want_log, int want_feed, int want_end, const char *desc)
{
    stream_case(p, data, strlen(data), want_log, want_feed, want_end, desc);
}

/* The whole stream; err of the failing feed must contain `why`. */
static void stream_error_n(tf_proto_t p, const char *data, size_t len, const char *want_log, const char *why, const char *desc)
{
    run_t r;
    run_whole(p, data, len, &r);
    int good = r.feed_rc == -1 && r.end_rc == 0 && strcmp(r.log, want_log) == 0 && strstr(r.err, why) != NULL && !r.bad;
    if (!good)
        printf("# feed=%d end=%d log=%s err='%s' (wanted %s / '%s')\n", r.feed_rc, r.end_rc, r.log, r.err, want_log, why);
    ok(good, "%s stream: %s", tf_proto_name(p), desc);
}

static void stream_error(tf_proto_t p, const char *data, const char *want_log, const char *why, const char *desc)
{
    stream_error_n(p, data, strlen(data), want_log, why, desc);
}

/* A string literal that may hold NUL bytes, and its length. */
#define LIT(s) s, sizeof(s) - 1

/* Replaces every "\n" of an LF stream with `eol` (for CRLF and CR variants). */
static char *with_eol(const char *s, const char *eol)
{
    size_t el = strlen(eol), k = 0;
    char *o = malloc(strlen(s) * el + 1);
    for (; *s; s++) {
        if (*s == '\n') {
            memcpy(o + k, eol, el);
            k += el;
        } else
            o[k++] = *s;
    }
    o[k] = '\0';
    return o;
}

static const char *OPENAI_STREAM =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\","
    "\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" w\xc3\xb6rld \xe2\x9c\x93\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\n"
    "data: [DONE]\n\n";
static const char *OPENAI_LOG = "D[Hello]D[ w\xc3\xb6rld \xe2\x9c\x93]F[stop]U[9,3]X";

static void test_stream_openai(void)
{
    tf_proto_t P = TF_PROTO_OPENAI;
    stream_str(P, OPENAI_STREAM, OPENAI_LOG, 0, 1, "recorded stream (LF)");
    char *crlf = with_eol(OPENAI_STREAM, "\r\n"), *cr = with_eol(OPENAI_STREAM, "\r");
    stream_str(P, crlf, OPENAI_LOG, 0, 1, "the same with CRLF line ends");
    stream_str(P, cr, OPENAI_LOG, 0, 1, "the same with CR line ends");
    free(crlf);
    free(cr);
    stream_str(P, "\xEF\xBB\xBF" "data:{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                  "data:  {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
                  "id: 7\nretry: 100\nevent: whatever\ndata: {\"choices\":\ndata: [{\"delta\":{\"content\":\"c\"}}]}\n\n"
                  "data\n\ndata: [DONE]\n",
               "D[a]D[b]D[c]", 0, 0, "BOM, no space, two spaces, id/retry/event ignored, multi-line data, no blank line after [DONE] -> not seen");
    stream_str(P, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"length\"}]}\n\n", "D[a]F[length]", 0, 0,
               "ends without [DONE]: stream_end 0");
    stream_str(P, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n"
                  "garbage that is not JSON\n\n",
               "D[a]X", 0, 1, "nothing after [DONE], what follows is ignored");
    stream_str(P, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
                  "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n"
                  "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n",
               "D[a]F[stop]U[1,2]U[3,4]X", 0, 1, "FINISH once, USAGE each time");
    stream_str(P, "data: {\"choices\":{\"delta\":1}}\n\ndata: {\"choices\":[{\"delta\":{\"content\":5},\"finish_reason\":3}]}\n\n"
                  "data: {\"choices\":[7],\"usage\":{\"prompt_tokens\":\"9\",\"completion_tokens\":99999999999999999}}\n\n"
                  "data: {\"choices\":[{\"delta\":\"x\"}]}\n\ndata: [DONE]\n\n",
               "U[-1,-1]X", 0, 1, "wrong JSON types skipped, never trusted");
    stream_error(P, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}\n\n",
                 "D[a]", "Rate limit reached", "an error chunk -> -1 with its message");
    stream_error(P, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}\n\n", "", "not valid JSON", "a chunk that is not JSON -> -1");
    stream_error(P, "data: [1]\n\n", "", "not a JSON object", "a chunk that is an array -> -1");
    stream_error_n(P, LIT("data: {\"choices\":[]}\0\n\n"), "", "not valid JSON", "a NUL byte in a data line -> -1");
    stream_case(P, LIT(": a\0b\n\ndata: [DONE]\n\n"), "X", 0, 1, "a NUL byte in a comment is ignored");
    stream_case(P, LIT("event: a\0b\ndata: {\"choices\":[{\"delta\":{\"content\":\"z\"}}]}\n\ndata: [DONE]\n\n"), "D[z]X", 0, 1,
                "a NUL byte in an event name is harmless");
}

static const char *ANTHROPIC_STREAM =
    "event: message_start\n"
    "data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", "
    "\"role\": \"assistant\", \"content\": [], \"model\": \"claude-opus-4-6\", \"stop_reason\": null, \"stop_sequence\": null, "
    "\"usage\": {\"input_tokens\": 25, \"output_tokens\": 1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"thinking\", \"thinking\": \"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"thinking_delta\", \"thinking\": \"Let me think\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\": \"content_block_start\", \"index\": 1, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 1, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 1, \"delta\": {\"type\": \"text_delta\", \"text\": \"!\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 1}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: message_delta\n"
    "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\n"
    "event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";

static void test_stream_anthropic(void)
{
    tf_proto_t P = TF_PROTO_ANTHROPIC;
    stream_str(P, ANTHROPIC_STREAM, "D[Hello]D[!]F[stop]U[25,15]X", 0, 1, "recorded stream (thinking, text, tool_use blocks, ping)");
    char *crlf = with_eol(ANTHROPIC_STREAM, "\r\n");
    stream_str(P, crlf, "D[Hello]D[!]F[stop]U[25,15]X", 0, 1, "the same with CRLF line ends");
    free(crlf);
    stream_str(P, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":7,"
                  "\"output_tokens\":1}}}\n\n"
                  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}\n\n"
                  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":4}}\n\n"
                  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
               "F[length]U[10,4]X", 0, 1, "cached input counted, empty delta not emitted, max_tokens -> length");
    stream_str(P, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n"
                  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
                  "\"usage\":{\"input_tokens\":30,\"output_tokens\":4}}\n\n",
               "F[tool_calls]U[30,4]", 0, 0, "input_tokens in message_delta (newer API) wins; cut before message_stop: end 0");
    stream_str(P, "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"
                  "data: {\"type\":\"message_stop\"}\n\n",
               "D[x]X", 0, 1, "without event: lines the data's type is used");
    static const char odd[] = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":\"m\"}\n\n"
                              "event: content_block_delta\ndata: {\"delta\":{\"type\":\"text_delta\",\"text\":7}}\n\n"
                              "event: message_delta\ndata: {\"delta\":[],\"usage\":{\"output_tokens\":\"4\"}}\n\n"
                              "event: unknown_future_event\ndata: {\"type\":\"unknown_future_event\"}\n\n"
                              "event: ping\ndata: not json at all\n\n"
                              "event: message_stop\ndata: {}\n\n";
    stream_str(P, odd, "U[-1,-1]X", 0, 1, "wrong types skipped, unknown events and ping ignored");
    /* the event name must survive a CRLF split anywhere: a ping's data is never parsed */
    crlf = with_eol(odd, "\r\n");
    stream_str(P, crlf, "U[-1,-1]X", 0, 1, "the same with CRLF: event names stay with their data");
    free(crlf);
    stream_error(P, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
                    "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n"
                    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                 "D[Hi]", "Overloaded", "an error event -> -1 with its message, nothing after");
    stream_error(P, "event: error\ndata: {\"type\":\"error\"}\n\n", "", "upstream error", "an error event without a message");
    stream_error(P, "event: message_start\ndata: {\"type\":\"message_start\"\n\n", "", "not valid JSON", "a truncated JSON event");
}

static const char *GEMINI_STREAM =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": \"model\"},\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" quick brown fox\"}],\"role\": \"model\"},\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" jumps.\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],"
    "\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 6,\"totalTokenCount\": 14},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n";

static void test_stream_gemini(void)
{
    tf_proto_t P = TF_PROTO_GEMINI;
    stream_str(P, GEMINI_STREAM, "D[The]U[8,-1]D[ quick brown fox]U[8,-1]D[ jumps.]F[stop]U[8,6]X", 0, 1,
               "recorded stream; the end after a finishReason is a proper end (DONE from stream_end)");
    stream_str(P, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hm\",\"thought\":true},{\"text\":\"a\"},{\"text\":\"b\"}]}}]}\n\n"
                  "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]},\"finishReason\":\"MAX_TOKENS\"}],"
                  "\"usageMetadata\":{\"promptTokenCount\":2,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":1}}\n\n",
               "D[a]D[b]F[length]U[2,3]X", 0, 1, "thought parts skipped, several parts, MAX_TOKENS");
    stream_str(P, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n", "D[a]", 0, 0, "cut before a finishReason: end 0, no DONE");
    stream_str(P, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}]}\n", "", 0, 0,
               "an event without its blank line is not dispatched (SSE rules): no finish, end 0");
    stream_str(P, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}]}", "", 0, 0,
               "an event never terminated is not dispatched");
    stream_str(P, "data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":5}}\n\n",
               "F[content_filter]U[5,-1]X", 0, 1, "a blocked prompt: content_filter, then a proper end");
    stream_str(P, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"SAFETY\"}]}\n\n"
                  "data: {\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1,\"candidatesTokenCount\":1}}\n\n",
               "D[a]F[content_filter]U[1,1]X", 0, 1, "the first finish reason stands");
    stream_str(P, "data: {\"candidates\":{\"0\":1}}\n\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":1},7,\"x\"]},\"finishReason\":2}]}\n\n"
                  "data: {\"candidates\":[{\"content\":[]}],\"usageMetadata\":{\"promptTokenCount\":-1,\"candidatesTokenCount\":1e3}}\n\n",
               "U[-1,-1]", 0, 0, "wrong types skipped");
    stream_error(P, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n"
                    "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\",\"status\":\"UNAVAILABLE\"}}\n\n",
                 "D[a]", "overloaded", "an error in the stream -> -1");
}

static const char *OLLAMA_STREAM =
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.485406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\" sky\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.585406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
    "\"done_reason\":\"stop\",\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,"
    "\"prompt_eval_duration\":342546000,\"eval_count\":282,\"eval_duration\":4535599000}\n";

static void test_stream_ollama(void)
{
    tf_proto_t P = TF_PROTO_OLLAMA;
    stream_str(P, OLLAMA_STREAM, "D[The]D[ sky]F[stop]U[26,282]X", 0, 1, "recorded NDJSON stream");
    char *crlf = with_eol(OLLAMA_STREAM, "\r\n");
    stream_str(P, crlf, "D[The]D[ sky]F[stop]U[26,282]X", 0, 1, "the same with CRLF line ends");
    free(crlf);
    stream_str(P, "{\"message\":{\"content\":\"a\"},\"done\":false}\n\n   \n{\"message\":{\"content\":\"b\"},\"done\":true,\"done_reason\":\"length\","
                  "\"eval_count\":2}",
               "D[a]D[b]F[length]U[-1,2]X", 0, 1, "blank lines skipped; the last line without LF still ends the stream");
    stream_str(P, "{\"message\":{\"content\":\"a\"},\"done\":true}\n{\"message\":{\"content\":\"late\"},\"done\":false}\nnot json\n", "D[a]F[stop]U[-1,-1]X", 0,
               1, "done without reason or counts: stop, -1/-1; nothing after done");
    stream_str(P, "{\"message\":{\"content\":\"a\"},\"done\":false}\n", "D[a]", 0, 0, "cut before done: end 0");
    stream_str(P, "{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"message\":{\"cont", "D[a]", 0, 0, "cut inside a line: end 0");
    stream_str(P, "{\"message\":\"x\",\"done\":\"true\"}\n{\"message\":{\"content\":[1]},\"done\":1}\n{\"done\":true,\"prompt_eval_count\":\"3\",\"done_reason\":{}}\n",
               "F[stop]U[-1,-1]X", 0, 1, "wrong types skipped");
    stream_str(P, "{\"message\":\r{\"content\":\"a\\rb\"},\r\"done\":false}\n{\"message\":{\"content\":\"c\"},\"done\":true}\n",
               "D[a\rb]D[c]F[stop]U[-1,-1]X", 0, 1, "a lone CR is JSON whitespace, not a line end");
    stream_error(P, "{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"error\":\"an unknown error was encountered while running the model\"}\n",
                 "D[a]", "unknown error", "an error line -> -1");
    stream_error(P, "{\"message\":{\"content\":\"a\"}}\n[1]\n", "D[a]", "not a JSON object", "a line that is not an object -> -1");
}

/* DONE, end and failure semantics that hold for every protocol. */
static void test_stream_semantics(void)
{
    char err[256];
    coll_t c = {0};
    ok(tf_adapt_stream_new(TF_PROTO_COUNT, collect, &c) == NULL && tf_adapt_stream_new(TF_PROTO_OPENAI, NULL, &c) == NULL,
       "stream_new refuses an unknown protocol or no callback");

    tf_adapt_stream_t *s = tf_adapt_stream_new(TF_PROTO_OPENAI, collect, &c);
    tf_adapt_stream_feed(s, LIT("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"m\"}}\n\n"), err, sizeof(err));
    int rc = tf_adapt_stream_feed(s, LIT("data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"), err, sizeof(err));
    ok(rc == -1 && strstr(err, "already failed") && strcmp(c.log, "D[a]") == 0, "after -1 the stream refuses more input and emits nothing");
    ok(tf_adapt_stream_end(s) == 0, "after -1 stream_end is 0");
    tf_adapt_stream_free(s);
    free(c.log);

    memset(&c, 0, sizeof(c));
    s = tf_adapt_stream_new(TF_PROTO_GEMINI, collect, &c);
    tf_adapt_stream_feed(s, LIT("data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n"), err, sizeof(err));
    int e1 = tf_adapt_stream_end(s), e2 = tf_adapt_stream_end(s);
    ok(e1 == 1 && e2 == 1 && strcmp(c.log, "F[stop]X") == 0 && !c.bad, "stream_end twice: the same answer, DONE once");
    ok(tf_adapt_stream_feed(s, LIT("data: {}\n\n"), err, sizeof(err)) == 0 && strcmp(c.log, "F[stop]X") == 0, "input after the end is ignored");
    tf_adapt_stream_free(s);
    free(c.log);

    tf_adapt_stream_free(NULL);
    ok(tf_adapt_stream_end(NULL) == 0 && tf_adapt_stream_feed(NULL, "x", 1, err, sizeof(err)) == -1, "NULL stream handled");

    /* line length: exactly 1 MiB is a line, one byte more is malformed */
    size_t big = (1u << 20) + 2;
    char *line = malloc(big + 2);
    memset(line, 'x', big);
    line[0] = ':';
    for (int p = 0; p < TF_PROTO_COUNT; p++) {
        memset(&c, 0, sizeof(c));
        s = tf_adapt_stream_new(p, collect, &c);
        int fine = 1;
        if (p == TF_PROTO_OLLAMA) { /* a 1 MiB blank line */
            memset(line, ' ', 1u << 20);
            line[1u << 20] = '\n';
            fine = tf_adapt_stream_feed(s, line, (1u << 20) + 1, err, sizeof(err)) == 0;
        } else {
            line[1u << 20] = '\n';
            for (size_t at = 0; at <= (1u << 20) && fine; at += 4096)
                fine = tf_adapt_stream_feed(s, line + at, at + 4096 > (1u << 20) + 1 ? (1u << 20) + 1 - at : 4096, err, sizeof(err)) == 0;
        }
        ok(fine, "%s stream: a line of exactly 1 MiB is accepted", tf_proto_name(p));
        memset(line, p == TF_PROTO_OLLAMA ? ' ' : 'x', big);
        line[0] = ':';
        int refused = 0;
        for (size_t at = 0; at < big && !refused; at += 65536)
            refused = tf_adapt_stream_feed(s, line + at, at + 65536 > big ? big - at : 65536, err, sizeof(err)) == -1;
        ok(refused && strstr(err, "longer than"), "%s stream: a line over 1 MiB without newline -> -1", tf_proto_name(p));
        tf_adapt_stream_free(s);
        free(c.log);
    }
    memset(&c, 0, sizeof(c));
    s = tf_adapt_stream_new(TF_PROTO_OPENAI, collect, &c);
    memset(line, 'x', big);
    memcpy(line, "data: ", 6);
    ok(tf_adapt_stream_feed(s, line, big, err, sizeof(err)) == -1, "openai stream: an over-long line in one feed -> -1");
    tf_adapt_stream_free(s);
    free(line);

    /* many data: lines accumulate into one event; past 4 MiB it is malformed */
    memset(&c, 0, sizeof(c));
    s = tf_adapt_stream_new(TF_PROTO_OPENAI, collect, &c);
    char *chunk = malloc(65536 + 8);
    memcpy(chunk, "data: ", 6);
    memset(chunk + 6, ' ', 65536);
    chunk[65542] = '\n';
    rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = tf_adapt_stream_feed(s, chunk, 65543, err, sizeof(err));
    ok(rc == -1 && strstr(err, "event over"), "openai stream: an event of many data lines over 4 MiB -> -1");
    tf_adapt_stream_free(s);
    free(chunk);
}

/* ---- estimates ------------------------------------------------------------ */

static void test_estimates(void)
{
    ok(tf_adapt_estimate_tokens(0) == 0 && tf_adapt_estimate_tokens(1) == 1 && tf_adapt_estimate_tokens(4) == 1
           && tf_adapt_estimate_tokens(5) == 2 && tf_adapt_estimate_tokens(400) == 100,
       "estimate_tokens: (bytes+3)/4");
    ok(tf_adapt_estimate_tokens(SIZE_MAX) == (long long)(SIZE_MAX / 4 + 1), "estimate_tokens: no overflow at SIZE_MAX");
    json_t *r = J("{\"messages\":[{\"role\":\"system\",\"content\":\"12345678\"},"
                  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"abcd\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"xxxxxxxxxxxx\"}},"
                  "{\"type\":\"text\",\"text\":\"\xc3\xa9\"}]},{\"role\":\"assistant\",\"content\":null},7]}");
    ok(tf_adapt_estimate_prompt(r) == 4 + 3 * 4, "estimate_prompt: text bytes (14 -> 4 tokens) + 4 per message");
    json_decref(r);
    r = J("{\"messages\":\"x\"}");
    ok(tf_adapt_estimate_prompt(r) == 0 && tf_adapt_estimate_prompt(NULL) == 0, "estimate_prompt: no messages -> 0");
    json_decref(r);
}

/* ---- fuzz ----------------------------------------------------------------- */

static void ignore(void *ud, const tf_adapt_event_t *ev)
{
    coll_t *c = ud;
    if (c->done || (ev->kind == TF_ADAPT_EV_DELTA && ev->len == 0))
        c->bad = 1;
    if (ev->kind == TF_ADAPT_EV_DONE)
        c->done = 1;
}

/* Random bytes biased towards the protocols' own tokens. */
static size_t noise(char *buf, size_t cap)
{
    static const char *const bits[] = {"data: ",  "event: ", "\n",     "\r\n",        "\r",       ":",        "{",         "}",      "[",
                                        "]",       "\"",      ",",      "[DONE]",      "error",    "choices",  "delta",     "content", "text",
                                        "usage",   "done",    "true",   "message_stop", "candidates", "parts", "finishReason", "0",   "-1",
                                        "1e999",   "null",    "\\u00",  "message",     "type",     "text_delta", "\xff",    "\0"};
    size_t len = 0, want = rnd() % cap;
    while (len < want) {
        if (rnd() % 3 == 0) {
            buf[len++] = (char)(rnd() & 0xff);
        } else {
            size_t k = rnd() % (sizeof(bits) / sizeof(bits[0]));
            size_t bl = bits[k][0] ? strlen(bits[k]) : 1;
            if (len + bl > want)
                break;
            memcpy(buf + len, bits[k], bl);
            len += bl;
        }
    }
    return len;
}

static void fuzz_stream(tf_proto_t p, const char *data, size_t len, int *bad)
{
    coll_t c = {0};
    char err[128];
    tf_adapt_stream_t *s = tf_adapt_stream_new(p, ignore, &c);
    size_t at = 0;
    while (at < len) {
        size_t k = 1 + rnd() % 97;
        if (k > len - at)
            k = len - at;
        int rc = tf_adapt_stream_feed(s, data + at, k, err, sizeof(err));
        if (rc == -1 && tf_adapt_stream_feed(s, "\n\n", 2, err, sizeof(err)) != -1)
            *bad = 1;
        if (rc == -1)
            break;
        at += k;
    }
    tf_adapt_stream_end(s);
    tf_adapt_stream_free(s);
    *bad |= c.bad;
}

static void test_fuzz(void)
{
    const char *rec[TF_PROTO_COUNT] = {OPENAI_STREAM, ANTHROPIC_STREAM, GEMINI_STREAM, OLLAMA_STREAM};
    char *buf = malloc(8192);
    for (int p = 0; p < TF_PROTO_COUNT; p++) {
        int bad = 0, parse_bad = 0;
        for (int i = 0; i < 3000; i++) {
            size_t len = noise(buf, 4096);
            fuzz_stream(p, buf, len, &bad);
            tf_adapt_result_t r;
            char err[128];
            int rc = tf_adapt_parse(p, buf, len, &r, err, sizeof(err));
            if ((rc == 0) != (r.content != NULL))
                parse_bad = 1;
            tf_adapt_result_free(&r);
        }
        /* the recorded stream with bytes flipped, dropped and repeated */
        size_t rl = strlen(rec[p]);
        for (int i = 0; i < 1500; i++) {
            size_t len = 0;
            for (size_t k = 0; k < rl && len < 8000; k++) {
                uint64_t x = rnd() % 200;
                if (x == 0)
                    continue;
                buf[len++] = x == 1 ? (char)(rnd() & 0xff) : rec[p][k];
                if (x == 2 && len < 8000)
                    buf[len++] = rec[p][k];
            }
            fuzz_stream(p, buf, len, &bad);
        }
        ok(!bad, "%s: random and mutated streams: no crash, no empty delta, nothing after DONE, -1 sticks", tf_proto_name(p));
        ok(!parse_bad, "%s: random bodies into parse: no crash, content set exactly on success", tf_proto_name(p));
    }
    free(buf);

    /* build with odd request shapes: must not crash, and fail cleanly */
    static const char *const shapes[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":[1,\"x\",null,{\"type\":\"text\"},{\"type\":5,\"text\":\"y\"},{\"type\":\"text\",\"text\":[]}]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":null,\"top_p\":[],\"stop\":{}}",
        "{\"messages\":[{\"role\":7,\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":5,\"max_completion_tokens\":-5}",
        "{\"messages\":[{\"role\":\"tool\"},{\"role\":\"developer\",\"content\":[]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":9223372036854775807,\"presence_penalty\":1e300}",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        for (int p = 0; p < TF_PROTO_COUNT; p++) {
            tf_adapt_http_t h;
            char err[128] = "";
            json_t *r = J(shapes[i]);
            int rc = tf_adapt_build(p, "http://u", "k", "m", r, (int)(i & 1), &h, err, sizeof(err));
            if (rc == 0 ? (h.url == NULL || h.body == NULL) : (h.url != NULL || h.body != NULL || err[0] == '\0'))
                bad = 1;
            tf_adapt_http_free(&h);
            json_decref(r);
        }
    ok(!bad, "build: odd request shapes succeed or fail cleanly with a reason");
}

/* ---- chunks are scanned, not parsed into trees ------------------------------- */

/* A growable byte string for the tests below. */
typedef struct exact {
    char *p;
    size_t len, cap;
} exact_t;

static void exact_put(exact_t *e, const char *s, size_t k)
{
    if (e->len + k + 1 > e->cap) {
        e->cap = (e->len + k + 1) * 2;
        e->p = realloc(e->p, e->cap);
    }
    memcpy(e->p + e->len, s, k);
    e->len += k;
    e->p[e->len] = '\0';
}

static void exact_str(exact_t *e, const char *s)
{
    exact_put(e, s, strlen(s));
}

/* The stream parsers read chunks with tf_jscan; these pin down what that
 * must keep from the jansson days: the last of duplicate keys, escapes in
 * keys and values, chunks with more values than the stack's tokens, and
 * jansson's refusals (the differential test below compares everything
 * else with the old code). */
static void test_stream_scanned(void)
{
    tf_proto_t O = TF_PROTO_OPENAI;
    stream_str(O, "data: {\"choices\":[{\"delta\":{\"content\":\"a\",\"content\":\"b\"},\"finish_reason\":\"length\",\"finish_reason\":null}]}\n\n"
                  "data: {\"choices\":[{\"delta\":{\"content\":\"c\",\"content\":5}}],\"usage\":{\"prompt_tokens\":1},\"usage\":{\"completion_tokens\":2}}\n\n",
               "D[b]U[-1,2]", 0, 0, "duplicate keys: the last one counts, type and all (as jansson kept it)");
    stream_str(O, "data: {\"ch\\u006fices\":[{\"d\\u0065lta\":{\"content\":\"\\ud83d\\ude00\\n\\\"q\\\"\\/\\u00e9\\t\"},\"finish_reason\":\"st\\u006fp\"}]}\n\n",
               "D[\xf0\x9f\x98\x80\n\"q\"/\xc3\xa9\t]F[stop]", 0, 0, "escapes in keys, text and finish reason are decoded");
    stream_error(O, "data: {\"choices\":[{\"delta\":{\"content\":\"a\\u0000b\"}}]}\n\n", "", "not valid JSON", "\\u0000 in the text -> -1, as before");
    stream_error(O, "data: {\"choices\":[{\"delta\":{\"content\":\"\\ud800x\"}}]}\n\n", "", "not valid JSON", "a lone surrogate -> -1");
    stream_error(O, "data: {\"choices\":[{\"delta\":{\"content\":\"\xc0\xaf\"}}]}\n\n", "", "not valid JSON", "an overlong UTF-8 form -> -1");
    stream_error(O, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1e400}}\n\n", "", "not valid JSON", "a real that overflows a double -> -1");
    stream_error(O, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9223372036854775808}}\n\n", "", "not valid JSON",
                 "an integer past 64 bits -> -1");
    stream_str(O, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":-0}}\n\n", "U[-1,0]", 0, 0,
               "counts: 2^63-1 is no count, -0 is 0");
    stream_error(O, "data: {\"error\":{\"message\":\"bad \\\"key\\\" \\u00e9\"}}\n\n", "", "upstream error: bad \"key\" \xc3\xa9",
                 "an upstream error message is unescaped");
    stream_case(O, LIT("data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"index\":0\0}]}\n\ndata: [DONE]\n\n"), "D[a]X", 0, 1,
                "one NUL right after a number is skipped (jansson's lexer does that; kept)");

    /* nesting: jansson's limit of 2048, in a member nobody reads */
    for (int depth = 2047; depth <= 2048; depth++) {
        size_t cap = 2 * (size_t)depth + 128;
        char *chunk = malloc(cap);
        int k = snprintf(chunk, cap, "data: {\"x\":");
        for (int i = 0; i < depth - 1; i++)
            chunk[k++] = '[';
        chunk[k++] = '1';
        for (int i = 0; i < depth - 1; i++)
            chunk[k++] = ']';
        k += snprintf(chunk + k, cap - (size_t)k, ",\"choices\":[{\"delta\":{\"content\":\"deep\"}}]}\n\n");
        run_t r;
        run_whole(O, chunk, (size_t)k, &r);
        /* the 1 sits inside `depth` containers (the chunk's object and
         * depth - 1 arrays): 2047 is the most jansson takes */
        if (depth == 2047)
            ok(r.feed_rc == 0 && strcmp(r.log, "D[deep]") == 0, "a value inside 2047 containers is fine");
        else
            ok(r.feed_rc == -1 && strstr(r.err, "not valid JSON") && strstr(r.err, "depth"), "a value inside 2048 containers -> -1 (%s)",
               r.err);
        free(chunk);
    }

    /* more values than the stack's 256 tokens: the stream's own array, reused */
    exact_t big = {0};
    for (int c = 0; c < 3; c++) {
        char head[128];
        snprintf(head, sizeof(head), "data: {\"choices\":[{\"delta\":{\"content\":\"w%d \"},\"logprobs\":{\"content\":[", c);
        exact_str(&big, head);
        for (int i = 0; i < 60 + 100 * c; i++)
            exact_str(&big, i ? ",{\"token\":\"x\",\"logprob\":-0.5,\"bytes\":[120],\"top_logprobs\":[]}"
                            : "{\"token\":\"x\",\"logprob\":-0.5,\"bytes\":[120],\"top_logprobs\":[]}");
        exact_str(&big, "]},\"finish_reason\":null,\"content\":\"decoy\"}],\"content\":1}\n\n");
        exact_str(&big, "data: {\"choices\":[{\"delta\":{\"content\":\"small \"}}]}\n\n");
    }
    exact_str(&big, "data: [DONE]\n\n");
    run_t r;
    run_whole(O, big.p, big.len, &r);
    ok(r.feed_rc == 0 && r.end_rc == 1 && strcmp(r.log, "D[w0 ]D[small ]D[w1 ]D[small ]D[w2 ]D[small ]X") == 0,
       "chunks of 300 to 1300 values between small ones: same events (%s)", r.log);
    free(big.p);

    tf_proto_t G = TF_PROTO_GEMINI;
    exact_t parts = {0};
    exact_str(&parts, "data: {\"candidates\":[{\"content\":{\"parts\":[");
    for (int i = 0; i < 300; i++) {
        char part[64];
        snprintf(part, sizeof(part), "%s{\"text\":\"%c\"%s}", i ? "," : "", 'a' + i % 26, i % 3 == 2 ? ",\"thought\":true" : "");
        exact_str(&parts, part);
    }
    exact_str(&parts, "]},\"finishReason\":\"STOP\"}]}\n\n");
    run_whole(G, parts.p, parts.len, &r);
    int deltas = 0;
    for (const char *p = r.log; (p = strstr(p, "D[")) != NULL; p++)
        deltas++;
    ok(r.feed_rc == 0 && r.end_rc == 1 && deltas == 200 && strncmp(r.log, "D[a]D[b]D[d]D[e]", 16) == 0 && strstr(r.log, "F[stop]X"),
       "gemini: 300 parts in one chunk, thoughts skipped, in order");
    free(parts.p);

    tf_proto_t A = TF_PROTO_ANTHROPIC;
    stream_str(A, "data: {\"type\":\"content_bl\\u006fck_delta\",\"delta\":{\"type\":\"text_\\u0064elta\",\"text\":\"x\"}}\n\n"
                  "data: {\"type\":\"message_stop\",\"type\":\"ping\"}\n\n"
                  "data: {\"type\":\"ping\",\"type\":\"message_stop\"}\n\n",
               "D[x]X", 0, 1, "the data's type compared unescaped, the last of duplicates counts");
    tf_proto_t L = TF_PROTO_OLLAMA;
    stream_str(L, "{\"message\":{\"content\":\"a\"},\"done\":true,\"done\":false}\n{\"message\":{\"content\":\"b\"},\"done\":false,\"done\":true,"
                  "\"done_reason\":\"length\",\"eval_count\":2}\n",
               "D[a]D[b]F[length]U[-1,2]X", 0, 1, "the last \"done\" counts");
}

/* ---- differential: the stream parsers against the jansson-based reference ---- */

/*
 * The reference is what the stream parsers were before they scanned
 * chunks: the same rules written on jansson trees (copied from the old
 * tf_adapt_<proto>.c, renamed ref_). Generated and mutated streams go
 * through both; events (compared exactly, byte for byte), the result of
 * feeding, the error text and tf_adapt_stream_end must be identical.
 */

/* One event: kind, then text with its length (so any bytes compare), or the counts. */
static void exact_event(exact_t *e, int kind, const char *text, size_t len, long long pt, long long ct)
{
    char head[64];
    int k = kind == TF_ADAPT_EV_USAGE ? snprintf(head, sizeof(head), "U%lld,%lld;", pt, ct)
                                      : snprintf(head, sizeof(head), "%c%zu:", "?DFUX"[kind > 0 && kind < 5 ? kind : 0], len);
    exact_put(e, head, (size_t)k);
    if (kind != TF_ADAPT_EV_USAGE) {
        exact_put(e, text ? text : "", len);
        exact_put(e, ";", 1);
    }
}

static void exact_collect(void *ud, const tf_adapt_event_t *ev)
{
    const char *text = ev->kind == TF_ADAPT_EV_DELTA ? ev->text : ev->kind == TF_ADAPT_EV_FINISH ? ev->finish_reason : "";
    size_t len = ev->kind == TF_ADAPT_EV_DELTA ? ev->len : strlen(text);
    exact_event(ud, ev->kind, text, len, ev->prompt_tokens, ev->completion_tokens);
}

typedef struct ref {
    exact_t log;
    int done, finished;
    long long input_tokens;
} ref_t;

static void ref_emit_delta(ref_t *s, const char *text, size_t len)
{
    if (!s->done && len > 0)
        exact_event(&s->log, TF_ADAPT_EV_DELTA, text, len, 0, 0);
}

static void ref_emit_finish(ref_t *s, const char *reason)
{
    if (s->done || s->finished)
        return;
    s->finished = 1;
    exact_event(&s->log, TF_ADAPT_EV_FINISH, reason, strlen(reason), 0, 0);
}

static void ref_emit_usage(ref_t *s, long long p, long long c)
{
    if (!s->done)
        exact_event(&s->log, TF_ADAPT_EV_USAGE, "", 0, p, c);
}

static void ref_emit_done(ref_t *s)
{
    if (s->done)
        return;
    s->done = 1;
    exact_event(&s->log, TF_ADAPT_EV_DONE, "", 0, 0, 0);
}

static json_t *ref_json_object(const char *data, size_t len, const char *what, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    if (o == NULL) {
        snprintf(err, errlen, "%s is not valid JSON: %s", what, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        snprintf(err, errlen, "%s is not a JSON object", what);
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *ref_get(const json_t *o, const char *key, json_type type)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return v != NULL && json_typeof(v) == type ? v : NULL;
}

static long long ref_count(const json_t *v)
{
    if (!json_is_integer(v))
        return -1;
    json_int_t k = json_integer_value(v);
    return k >= 0 && k <= 1000000000000000LL ? (long long)k : -1;
}

static long long ref_count_add(long long a, long long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a + b;
}

static int ref_upstream_error(const json_t *root, char *err, size_t errlen)
{
    json_t *e = json_object_get(root, "error");
    if (e == NULL || json_is_null(e))
        return 0;
    const char *msg = json_is_string(e) ? json_string_value(e) : NULL;
    json_t *m = ref_get(e, "message", JSON_STRING);
    if (m != NULL)
        msg = json_string_value(m);
    snprintf(err, errlen, "upstream error: %.300s", msg != NULL && *msg ? msg : "(no message)");
    return 1;
}

static const char *ref_openai_reason(const char *r)
{
    static const char *const known[] = {"stop", "length", "content_filter", "tool_calls", "function_call"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(r, known[i]) == 0)
            return known[i];
    return "stop";
}

static int ref_is_done(const char *d, size_t k)
{
    while (k > 0 && (*d == ' ' || *d == '\t')) {
        d++;
        k--;
    }
    while (k > 0 && (d[k - 1] == ' ' || d[k - 1] == '\t'))
        k--;
    return k == 6 && memcmp(d, "[DONE]", 6) == 0;
}

static int ref_blank(const char *d, size_t k, char also)
{
    for (size_t i = 0; i < k; i++)
        if (d[i] != ' ' && d[i] != '\t' && d[i] != also)
            return 0;
    return 1;
}

static int ref_openai_event(ref_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    if (ref_is_done(data, len)) {
        ref_emit_done(s);
        return 1;
    }
    if (ref_blank(data, len, '\n'))
        return 0;
    json_t *o = ref_json_object(data, len, "a stream chunk", err, errlen);
    if (o == NULL)
        return -1;
    if (ref_upstream_error(o, err, errlen)) {
        json_decref(o);
        return -1;
    }
    json_t *choices = ref_get(o, "choices", JSON_ARRAY);
    json_t *c0 = choices ? json_array_get(choices, 0) : NULL;
    json_t *content = ref_get(ref_get(c0, "delta", JSON_OBJECT), "content", JSON_STRING);
    if (content != NULL)
        ref_emit_delta(s, json_string_value(content), json_string_length(content));
    json_t *fr = ref_get(c0, "finish_reason", JSON_STRING);
    if (fr != NULL)
        ref_emit_finish(s, ref_openai_reason(json_string_value(fr)));
    json_t *u = ref_get(o, "usage", JSON_OBJECT);
    if (u != NULL)
        ref_emit_usage(s, ref_count(json_object_get(u, "prompt_tokens")), ref_count(json_object_get(u, "completion_tokens")));
    json_decref(o);
    return 0;
}

static const char *ref_anthropic_reason(const char *r)
{
    if (strcmp(r, "max_tokens") == 0 || strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "refusal") == 0)
        return "content_filter";
    return "stop";
}

static long long ref_prompt_tokens(const json_t *u)
{
    long long k = ref_count(json_object_get(u, "input_tokens"));
    if (k < 0)
        return -1;
    k = ref_count_add(k, ref_count(json_object_get(u, "cache_creation_input_tokens")));
    return ref_count_add(k, ref_count(json_object_get(u, "cache_read_input_tokens")));
}

static void ref_text_out(ref_t *s, const json_t *holder, const char *want_type)
{
    json_t *type = ref_get(holder, "type", JSON_STRING);
    json_t *t = ref_get(holder, "text", JSON_STRING);
    if (type != NULL && strcmp(json_string_value(type), want_type) == 0 && t != NULL)
        ref_emit_delta(s, json_string_value(t), json_string_length(t));
}

static void ref_message_delta(ref_t *s, const json_t *o)
{
    json_t *sr = ref_get(ref_get(o, "delta", JSON_OBJECT), "stop_reason", JSON_STRING);
    if (sr != NULL)
        ref_emit_finish(s, ref_anthropic_reason(json_string_value(sr)));
    json_t *u = ref_get(o, "usage", JSON_OBJECT);
    if (u == NULL)
        return;
    long long p = ref_prompt_tokens(u);
    ref_emit_usage(s, p >= 0 ? p : s->input_tokens, ref_count(json_object_get(u, "output_tokens")));
}

static int ref_anthropic_event(ref_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    if (strcmp(event, "ping") == 0)
        return 0;
    json_t *o = ref_json_object(data, len, "a stream event", err, errlen);
    if (o == NULL)
        return -1;
    json_t *jt = ref_get(o, "type", JSON_STRING);
    const char *type = *event ? event : jt ? json_string_value(jt) : "";
    int rc = 0;
    if (strcmp(type, "error") == 0 || ref_upstream_error(o, err, errlen)) {
        if (!ref_upstream_error(o, err, errlen))
            snprintf(err, errlen, "upstream error: (no message)");
        rc = -1;
    } else if (strcmp(type, "message_start") == 0) {
        s->input_tokens = ref_prompt_tokens(ref_get(ref_get(o, "message", JSON_OBJECT), "usage", JSON_OBJECT));
    } else if (strcmp(type, "content_block_start") == 0) {
        ref_text_out(s, ref_get(o, "content_block", JSON_OBJECT), "text");
    } else if (strcmp(type, "content_block_delta") == 0) {
        ref_text_out(s, ref_get(o, "delta", JSON_OBJECT), "text_delta");
    } else if (strcmp(type, "message_delta") == 0) {
        ref_message_delta(s, o);
    } else if (strcmp(type, "message_stop") == 0) {
        ref_emit_done(s);
        rc = 1;
    }
    json_decref(o);
    return rc;
}

static const char *ref_gemini_reason(const char *r)
{
    static const char *const filtered[] = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                                           "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
    if (strcmp(r, "MAX_TOKENS") == 0)
        return "length";
    for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++)
        if (strcmp(r, filtered[i]) == 0)
            return "content_filter";
    return "stop";
}

static int ref_gemini_event(ref_t *s, const char *event, const char *data, size_t len, char *err, size_t errlen)
{
    json_t *o = ref_json_object(data, len, "a stream chunk", err, errlen);
    if (o == NULL)
        return -1;
    if (ref_upstream_error(o, err, errlen)) {
        json_decref(o);
        return -1;
    }
    json_t *cands = ref_get(o, "candidates", JSON_ARRAY);
    json_t *c0 = cands ? json_array_get(cands, 0) : NULL;
    if (json_is_object(c0)) {
        json_t *parts = ref_get(ref_get(c0, "content", JSON_OBJECT), "parts", JSON_ARRAY), *p;
        size_t i;
        json_array_foreach(parts, i, p) {
            json_t *t = ref_get(p, "text", JSON_STRING);
            if (t != NULL && !json_is_true(json_object_get(p, "thought")))
                ref_emit_delta(s, json_string_value(t), json_string_length(t));
        }
        json_t *fr = ref_get(c0, "finishReason", JSON_STRING);
        if (fr != NULL)
            ref_emit_finish(s, ref_gemini_reason(json_string_value(fr)));
    } else if (ref_get(ref_get(o, "promptFeedback", JSON_OBJECT), "blockReason", JSON_STRING) != NULL) {
        ref_emit_finish(s, "content_filter");
    }
    json_t *u = ref_get(o, "usageMetadata", JSON_OBJECT);
    if (u != NULL)
        ref_emit_usage(s, ref_count(json_object_get(u, "promptTokenCount")),
                       ref_count_add(ref_count(json_object_get(u, "candidatesTokenCount")), ref_count(json_object_get(u, "thoughtsTokenCount"))));
    json_decref(o);
    return 0;
}

static int ref_ollama_line(ref_t *s, const char *line, size_t len, char *err, size_t errlen)
{
    if (ref_blank(line, len, '\r'))
        return 0;
    json_t *o = ref_json_object(line, len, "a stream line", err, errlen);
    if (o == NULL)
        return -1;
    if (ref_upstream_error(o, err, errlen)) {
        json_decref(o);
        return -1;
    }
    json_t *content = ref_get(ref_get(o, "message", JSON_OBJECT), "content", JSON_STRING);
    if (content != NULL)
        ref_emit_delta(s, json_string_value(content), json_string_length(content));
    int rc = 0;
    if (json_is_true(json_object_get(o, "done"))) {
        json_t *dr = ref_get(o, "done_reason", JSON_STRING);
        ref_emit_finish(s, dr && strcmp(json_string_value(dr), "length") == 0 ? "length" : "stop");
        ref_emit_usage(s, ref_count(json_object_get(o, "prompt_eval_count")), ref_count(json_object_get(o, "eval_count")));
        ref_emit_done(s);
        rc = 1;
    }
    json_decref(o);
    return rc;
}

/* A stream as chunks: the SSE event name (ignored but by anthropic) and the data. */
typedef struct chunk {
    const char *event;
    char *data;
    size_t len;
} chunk_t;

typedef struct outcome {
    exact_t log;
    int feed_rc, end_rc;
    char err[512];
} outcome_t;

static void ref_run(tf_proto_t p, const chunk_t *c, size_t nc, outcome_t *o)
{
    ref_t s = {.input_tokens = -1};
    o->feed_rc = 0;
    o->err[0] = '\0';
    for (size_t i = 0; i < nc && !s.done; i++) {
        int rc = p == TF_PROTO_OPENAI      ? ref_openai_event(&s, c[i].event, c[i].data, c[i].len, o->err, sizeof(o->err))
                 : p == TF_PROTO_ANTHROPIC ? ref_anthropic_event(&s, c[i].event, c[i].data, c[i].len, o->err, sizeof(o->err))
                 : p == TF_PROTO_GEMINI    ? ref_gemini_event(&s, c[i].event, c[i].data, c[i].len, o->err, sizeof(o->err))
                                           : ref_ollama_line(&s, c[i].data, c[i].len, o->err, sizeof(o->err));
        if (rc < 0) {
            o->feed_rc = -1;
            break;
        }
        if (rc == 1)
            break;
    }
    if (o->feed_rc == 0 && p == TF_PROTO_GEMINI && s.finished)
        ref_emit_done(&s);
    o->end_rc = o->feed_rc == 0 && s.done;
    o->log = s.log;
}

/* The chunks framed as the protocol sends them, fed in random pieces. */
static void new_run(tf_proto_t p, const chunk_t *c, size_t nc, outcome_t *o)
{
    exact_t wire = {0};
    if (p == TF_PROTO_OLLAMA)
        exact_put(&wire, "\n", 1); /* a blank first line: a BOM-like start of the first chunk stays data */
    for (size_t i = 0; i < nc; i++) {
        if (p == TF_PROTO_OLLAMA) {
            exact_put(&wire, c[i].data, c[i].len);
            exact_put(&wire, "\n", 1);
            continue;
        }
        if (*c[i].event) {
            exact_put(&wire, "event: ", 7);
            exact_put(&wire, c[i].event, strlen(c[i].event));
            exact_put(&wire, "\n", 1);
        }
        /* an LF in the data becomes a new data: line, which the reader joins back with an LF */
        size_t at = 0;
        do {
            const char *nl = memchr(c[i].data + at, '\n', c[i].len - at);
            size_t end = nl ? (size_t)(nl - c[i].data) : c[i].len;
            exact_put(&wire, "data: ", 6);
            exact_put(&wire, c[i].data + at, end - at);
            exact_put(&wire, "\n", 1);
            at = end + 1;
        } while (at <= c[i].len);
        exact_put(&wire, "\n", 1);
    }
    o->log.p = NULL;
    o->log.len = o->log.cap = 0;
    o->feed_rc = 0;
    o->err[0] = '\0';
    tf_adapt_stream_t *s = tf_adapt_stream_new(p, exact_collect, &o->log);
    for (size_t at = 0; at < wire.len;) {
        size_t k = 1 + rnd() % 300;
        if (k > wire.len - at)
            k = wire.len - at;
        if (tf_adapt_stream_feed(s, wire.p + at, k, o->err, sizeof(o->err)) < 0) {
            o->feed_rc = -1;
            break;
        }
        at += k;
    }
    o->end_rc = tf_adapt_stream_end(s);
    tf_adapt_stream_free(s);
    free(wire.p);
}

/* ---- generating chunks ---- */

/* Strings that start with \1 are written raw: numbers jansson cannot hold. */
static const char *const diff_words[] = {
    "stop", "length", "content_filter", "tool_calls", "function_call", "eos", "end_turn", "max_tokens", "stop_sequence", "tool_use",
    "refusal", "model_context_window_exceeded", "pause_turn", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "BLOCKLIST",
    "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "OTHER", "text", "text_delta", "thinking_delta", "input_json_delta", "thinking", "error",
    "message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta", "ping", "", "Hello",
    " w\xc3\xb6rld \xe2\x9c\x93", "\xf0\x9f\x98\x80!", "a\"b\\c/d", "line\nbreak\r\n", "tab\there\b\f", "\xe2\x80\xa8", "x", "assistant",
    "load", "[DONE]", "true", "null", "0", "\x01" "1e400", "\x01" "-1e400", "\x01" "9223372036854775808", "\x01" "-9223372036854775809",
    "\x01" "-0", "\x01" "1.0", "\x01" "1E2", "\x01" "5e-1", "\x01" "1e-400", "\x01" "123456789012345678901234567890", "\x01" "1000000000000000",
    "\x01" "1000000000000001", "\x01" "-1", "\x01" "0.0", "\x01" "2.5e+3", "\x01" "1.7976931348623158e308", "\x01" "1.8e308",
    "\x01" "10000000000000000000", "\x01" "99999999999999999999", "\x01" "-10000000000000000000",
};

static const char *const diff_keys[] = {
    "content", "text", "type", "delta", "choices", "usage", "prompt_tokens", "completion_tokens", "finish_reason", "error", "message",
    "candidates", "parts", "thought", "finishReason", "usageMetadata", "promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
    "promptFeedback", "blockReason", "done", "done_reason", "prompt_eval_count", "eval_count", "input_tokens", "output_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens", "stop_reason", "content_block", "index", "role", "x", "",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static json_t *diff_value(int depth)
{
    switch (rnd() % (depth > 4 ? 5 : 8)) {
    case 0:
        return json_string(diff_words[rnd() % NELEM(diff_words)]);
    case 1: {
        static const long long ints[] = {0, 1, 7, 25, -1, -25, 1000000000000000LL, 1000000000000001LL, INT64_MAX, INT64_MIN, 3};
        return json_integer(ints[rnd() % NELEM(ints)]);
    }
    case 2: {
        static const double reals[] = {1.5, 3.0, -0.25, 1e300, 2.5e-10, 25.0};
        return json_real(reals[rnd() % NELEM(reals)]);
    }
    case 3:
        return rnd() % 2 ? json_true() : json_false();
    case 4:
        return json_null();
    case 5:
    case 6: {
        json_t *o = json_object();
        for (int i = (int)(rnd() % 4); i > 0; i--)
            json_object_set_new(o, diff_keys[rnd() % NELEM(diff_keys)], diff_value(depth + 1));
        return o;
    }
    default: {
        json_t *a = json_array();
        for (int i = (int)(rnd() % 4); i > 0; i--)
            json_array_append_new(a, diff_value(depth + 1));
        return a;
    }
    }
}

/* Replaces, drops and adds members and elements here and there. */
static void diff_mutate(json_t *j, int depth)
{
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, key, v) {
            uint64_t x = rnd() % 100;
            if (x < 4)
                json_object_del(j, key);
            else if (x < 12)
                json_object_set_new(j, key, diff_value(depth + 1));
            else
                diff_mutate(v, depth + 1);
        }
        if (rnd() % 100 < 10)
            json_object_set_new(j, diff_keys[rnd() % NELEM(diff_keys)], diff_value(depth + 1));
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            uint64_t x = rnd() % 100;
            if (x < 4)
                json_array_remove(j, i--);
            else if (x < 12)
                json_array_set_new(j, i, diff_value(depth + 1));
            else
                diff_mutate(json_array_get(j, i), depth + 1);
        }
        if (rnd() % 100 < 6)
            json_array_insert_new(j, rnd() % (json_array_size(j) + 1), diff_value(depth + 1));
    }
}

static void diff_ws(exact_t *o, int wild)
{
    static const char *const w[] = {"", " ", "\t", "\n", "  \n\t "};
    if (wild && rnd() % 4 == 0)
        exact_str(o, w[rnd() % NELEM(w)]);
}

/* A string, its characters randomly escaped: \uXXXX (pairs for the
 * astral plane, either case of hex), the short escapes, or as they are. */
static void diff_string(exact_t *o, const char *s, size_t len, int wild)
{
    exact_put(o, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        long cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t m = 1; m < k; m++)
            cp = (cp << 6) | (s[i + m] & 0x3F);
        const char *sh = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b"
                         : c == '\f' ? "\\f" : c == '/' && rnd() % 2 ? "\\/" : NULL;
        char esc[16];
        if (wild && rnd() % 5 == 0) {
            const char *fmt = rnd() % 2 ? "\\u%04lx" : "\\u%04lX";
            int n1;
            if (cp >= 0x10000) {
                n1 = snprintf(esc, sizeof(esc), fmt, 0xD800 + ((cp - 0x10000) >> 10));
                n1 += snprintf(esc + n1, sizeof(esc) - (size_t)n1, fmt, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                n1 = snprintf(esc, sizeof(esc), fmt, cp);
            }
            exact_put(o, esc, (size_t)n1);
        } else if (sh != NULL) {
            exact_put(o, sh, strlen(sh));
        } else if (c < 0x20) {
            int n1 = snprintf(esc, sizeof(esc), "\\u%04x", c);
            exact_put(o, esc, (size_t)n1);
        } else {
            exact_put(o, s + i, k);
        }
        i += k;
    }
    exact_put(o, "\"", 1);
}

/* Writes j as JSON text, with random whitespace and escapes when wild, and
 * now and then a member twice: a decoy before the real one (which then
 * wins), or after it (and the decoy wins). */
static void diff_write_value(exact_t *o, const json_t *j, int wild, int depth);

/* Now and then a NUL byte after a value: jansson skips one after a number
 * or a word and refuses the rest, and so must the scanner. */
static void diff_write(exact_t *o, const json_t *j, int wild, int depth)
{
    diff_write_value(o, j, wild, depth);
    if (wild && !json_is_object(j) && !json_is_array(j) && rnd() % 60 == 0)
        exact_put(o, "\0", 1);
}

static void diff_write_value(exact_t *o, const json_t *j, int wild, int depth)
{
    char num[64];
    int k;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        exact_put(o, "{", 1);
        const char *key;
        json_t *v;
        int first = 1;
        json_object_foreach((json_t *)j, key, v) {
            int decoy = wild && rnd() % 12 == 0 ? (int)(1 + rnd() % 2) : 0;
            for (int pass = 0; pass < 3; pass++) {
                if ((pass == 0 && decoy != 1) || (pass == 2 && decoy != 2))
                    continue;
                if (!first)
                    exact_put(o, ",", 1);
                first = 0;
                diff_ws(o, wild);
                diff_string(o, key, strlen(key), wild);
                diff_ws(o, wild);
                exact_put(o, ":", 1);
                diff_ws(o, wild);
                if (pass == 1) {
                    diff_write(o, v, wild, depth + 1);
                } else {
                    json_t *d = diff_value(depth + 1);
                    diff_write(o, d, wild, depth + 1);
                    json_decref(d);
                }
                diff_ws(o, wild);
            }
        }
        exact_put(o, "}", 1);
        return;
    }
    case JSON_ARRAY:
        exact_put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                exact_put(o, ",", 1);
            diff_ws(o, wild);
            diff_write(o, json_array_get(j, i), wild, depth + 1);
            diff_ws(o, wild);
        }
        exact_put(o, "]", 1);
        return;
    case JSON_STRING:
        if (json_string_value(j)[0] == '\1')
            exact_put(o, json_string_value(j) + 1, json_string_length(j) - 1);
        else
            diff_string(o, json_string_value(j), json_string_length(j), wild);
        return;
    case JSON_INTEGER:
        k = snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(j));
        exact_put(o, num, (size_t)k);
        return;
    case JSON_REAL:
        k = snprintf(num, sizeof(num), "%.17g", json_real_value(j));
        if (strpbrk(num, ".e") == NULL)
            k += snprintf(num + k, sizeof(num) - (size_t)k, ".0");
        exact_put(o, num, (size_t)k);
        return;
    case JSON_TRUE:
        exact_put(o, "true", 4);
        return;
    case JSON_FALSE:
        exact_put(o, "false", 5);
        return;
    default:
        exact_put(o, "null", 4);
    }
}

/* Flips, inserts, drops bytes or cuts the text short. */
static void diff_bytes(exact_t *o)
{
    static const char special[] = "{}[]:,\"\\ -+.eE019tfnu\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xff";
    for (int m = 1 + (int)(rnd() % 3); m > 0 && o->len > 0; m--) {
        size_t at = rnd() % o->len;
        char c = special[rnd() % (sizeof(special) - 1)];
        switch (rnd() % 4) {
        case 0:
            o->p[at] = c;
            break;
        case 1:
            exact_put(o, " ", 1);
            memmove(o->p + at + 1, o->p + at, o->len - at - 1);
            o->p[at] = c;
            break;
        case 2:
            memmove(o->p + at, o->p + at + 1, o->len - at - 1);
            o->len--;
            break;
        default:
            o->len = at;
        }
    }
}

typedef struct tmpl {
    const char *event; /* the SSE event name it comes with */
    const char *json;  /* "!" + raw data for what is not JSON */
    int rare;          /* ends the stream (an error, not JSON): picked less often */
} tmpl_t;

static const tmpl_t openai_tmpl[] = {
    {"", "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
         "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}", 0},
    {"", "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\","
         "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello \\\"w\\u00f6rld\\\"\\n\"},\"logprobs\":null,\"finish_reason\":null}]}", 0},
    {"", "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\" more\"},\"finish_reason\":null}]}", 0},
    {"", "{\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}", 0},
    {"", "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}", 0},
    {"", "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}", 0},
    {"", "{\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", 0},
    {"", "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}", 1},
    {"", "{\"error\":\"boom\"}", 1},
    {"", "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the "
         "messages, 1000 in the completion). Please reduce the length of the messages or completion, or both of them. \\u00e9\\u00e9\\u00e9 \\\"quoted\\\" "
         "and more words after the three hundredth byte so that the cut shows; \\ud83d\\ude00 \\u2713 end.\",\"type\":\"invalid_request_error\"}}", 1},
    {"", "{\"error\":null,\"choices\":[{\"delta\":{\"content\":\"e\"}}]}", 0},
    {"", "!" "[DONE]", 1},
    {"", "!" " [DONE]\t", 1},
    {"", "!" "", 0},
    {"", "!" " \n ", 0},
    {"", "![1,2]", 1},
    {"whatever", "{\"choices\":[{\"delta\":{\"content\":\"named\"}}]}", 0},
};

static const tmpl_t anthropic_tmpl[] = {
    {"message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
                      "\"model\":\"claude\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}", 0},
    {"content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Hi \"}}", 0},
    {"content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}", 0},
    {"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello \\u2713\"}}", 0},
    {"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}", 0},
    {"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}", 0},
    {"content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}", 0},
    {"message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}", 0},
    {"message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"input_tokens\":30,"
                      "\"cache_creation_input_tokens\":2,\"output_tokens\":4}}", 0},
    {"message_stop", "{\"type\":\"message_stop\"}", 1},
    {"ping", "{\"type\":\"ping\"}", 0},
    {"ping", "!not json at all", 0},
    {"error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", 1},
    {"", "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"untyped\"}}", 0},
    {"", "{\"type\":\"message_stop\"}", 1},
    {"", "{\"type\":\"error\"}", 1},
    {"unknown_future_event", "{\"type\":\"unknown_future_event\"}", 0},
};

static const tmpl_t gemini_tmpl[] = {
    {"", "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The\"}],\"role\":\"model\"},\"index\":0}],"
         "\"usageMetadata\":{\"promptTokenCount\":8,\"totalTokenCount\":8},\"modelVersion\":\"gemini-2.0-flash\"}", 0},
    {"", "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hm\",\"thought\":true},{\"text\":\"a\"},{\"text\":\"b\",\"thought\":false}]}}]}", 0},
    {"", "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" jumps.\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
         "\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":2,\"totalTokenCount\":14}}", 0},
    {"", "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"safetyRatings\":[]}]}", 0},
    {"", "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":\"MAX_TOKENS\"}]}", 0},
    {"", "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":5}}", 0},
    {"", "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}", 1},
    {"", "!", 1},
    {"", "!{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"cut", 1},
};

static const tmpl_t ollama_tmpl[] = {
    {"", "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":\"assistant\",\"content\":\"The\"},"
         "\"done\":false}", 0},
    {"", "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\" sky \\u00e9\"},\"done\":false}", 0},
    {"", "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
         "\"done_reason\":\"stop\",\"total_duration\":4883583458,\"prompt_eval_count\":26,\"eval_count\":282,\"eval_duration\":4535599000}", 0},
    {"", "{\"message\":{\"content\":\"b\"},\"done\":true,\"done_reason\":\"length\",\"eval_count\":2}", 0},
    {"", "{\"error\":\"an unknown error was encountered while running the model\"}", 1},
    {"", "!   \t", 0},
    {"", "![1]", 1},
};

/* A chunk of more values than the stack's tokens hold, for each protocol. */
static char *diff_big(tf_proto_t p)
{
    exact_t o = {0};
    const char *head = p == TF_PROTO_OPENAI      ? "{\"choices\":[{\"delta\":{\"content\":\"big\"},\"logprobs\":{\"content\":["
                       : p == TF_PROTO_ANTHROPIC ? "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"big\",\"x\":["
                       : p == TF_PROTO_GEMINI    ? "{\"candidates\":[{\"content\":{\"parts\":["
                                                 : "{\"message\":{\"content\":\"big\",\"x\":[";
    exact_put(&o, head, strlen(head));
    for (int i = 0; i < 150; i++) {
        const char *item = p == TF_PROTO_GEMINI ? "{\"text\":\"p\"}" : "{\"token\":\"x\",\"logprob\":-0.5,\"bytes\":[120]}";
        if (i)
            exact_put(&o, ",", 1);
        exact_put(&o, item, strlen(item));
    }
    const char *tail = p == TF_PROTO_OPENAI ? "]},\"finish_reason\":null}]}" : p == TF_PROTO_GEMINI ? "]}}]}" : "]}}";
    exact_put(&o, tail, strlen(tail));
    return o.p;
}

/* One chunk from the templates: as it is, rewritten (whitespace, escapes,
 * duplicate members), changed in structure, or with bytes damaged. */
static void diff_chunk(tf_proto_t p, const tmpl_t *t, size_t nt, const char *big, chunk_t *c)
{
    static const char *const events[] = {"", "message_start", "content_block_start", "content_block_delta", "message_delta",
                                         "message_stop", "ping", "error", "unknown", "?"};
    const tmpl_t *pick = &t[rnd() % nt];
    while (pick->rare && rnd() % 4 != 0)
        pick = &t[rnd() % nt];
    c->event = rnd() % 5 ? pick->event : events[rnd() % NELEM(events)];
    exact_t o = {0};
    if (pick->json[0] == '!' || rnd() % 10 == 0) {
        const char *raw = pick->json[0] == '!' ? pick->json + 1 : pick->json;
        exact_put(&o, raw, strlen(raw));
        exact_put(&o, "", 0);
    } else {
        json_t *j = rnd() % 25 == 0 ? J(big) : J(pick->json);
        uint64_t how = rnd() % 10;
        if (how < 5)
            diff_mutate(j, 0);
        diff_ws(&o, how != 9);
        diff_write(&o, j, how != 9, 0);
        diff_ws(&o, how != 9);
        json_decref(j);
    }
    if (rnd() % 25 == 0)
        diff_bytes(&o);
    if (o.p == NULL)
        exact_put(&o, "", 0);
    /* what the framing cannot carry: a CR in SSE data ends the line; in
     * NDJSON an LF ends it and a CR before the LF is dropped */
    for (size_t i = 0; i < o.len; i++)
        if (o.p[i] == '\r' && (p != TF_PROTO_OLLAMA || i + 1 == o.len))
            o.p[i] = ' ';
        else if (o.p[i] == '\n' && p == TF_PROTO_OLLAMA)
            o.p[i] = ' ';
    c->data = o.p;
    c->len = o.len;
}

static void test_differential(void)
{
    static const struct {
        const tmpl_t *t;
        size_t n;
    } tmpl[TF_PROTO_COUNT] = {{openai_tmpl, NELEM(openai_tmpl)},
                              {anthropic_tmpl, NELEM(anthropic_tmpl)},
                              {gemini_tmpl, NELEM(gemini_tmpl)},
                              {ollama_tmpl, NELEM(ollama_tmpl)}};
    for (int p = 0; p < TF_PROTO_COUNT; p++) {
        char *big = diff_big(p);
        int streams = 0, chunks = 0, failed_streams = 0, events = 0, bad = 0;
        for (int k = 0; k < 2500; k++) {
            chunk_t c[8];
            size_t nc = 1 + rnd() % 8;
            for (size_t i = 0; i < nc; i++)
                diff_chunk(p, tmpl[p].t, tmpl[p].n, big, &c[i]);
            outcome_t want, got;
            ref_run(p, c, nc, &want);
            new_run(p, c, nc, &got);
            int eq = want.feed_rc == got.feed_rc && want.end_rc == got.end_rc && strcmp(want.err, got.err) == 0
                     && want.log.len == got.log.len && (want.log.len == 0 || memcmp(want.log.p, got.log.p, want.log.len) == 0);
            if (!eq && bad++ < 3) {
                printf("# %s stream %d differs:\n", tf_proto_name(p), k);
                for (size_t i = 0; i < nc; i++)
                    printf("#   chunk %zu event '%s': %.*s\n", i, c[i].event, (int)(c[i].len < 300 ? c[i].len : 300), c[i].data);
                printf("#   reference feed %d end %d err '%s' log %s\n", want.feed_rc, want.end_rc, want.err, want.log.p ? want.log.p : "");
                printf("#   scanner   feed %d end %d err '%s' log %s\n", got.feed_rc, got.end_rc, got.err, got.log.p ? got.log.p : "");
            }
            streams++;
            chunks += (int)nc;
            failed_streams += want.feed_rc < 0;
            for (size_t i = 0; i < want.log.len; i++)
                events += want.log.p[i] == ';';
            free(want.log.p);
            free(got.log.p);
            for (size_t i = 0; i < nc; i++)
                free(c[i].data);
        }
        free(big);
        ok(bad == 0, "%s: %d generated streams (%d chunks, %d events, %d failing) give the jansson-based reference's events, "
                     "results and error texts",
           tf_proto_name(p), streams, chunks, events, failed_streams);
        ok(events > streams / 2 && failed_streams > streams / 20 && failed_streams < streams * 9 / 10,
           "%s: the generated streams are a mix of good and failing ones", tf_proto_name(p));
    }
}

/* ---- differential: the scanned non-streamed openai answer against jansson ---- */

/*
 * The reference is tf_adapt_parse for openai as it was on a jansson tree
 * (the old tf_adapt_openai_parse and the helpers it used). Generated and
 * mutated bodies go through both; the result, the error text, the content
 * (byte for byte), the finish reason and the counts must be identical.
 */
static int ref_content_text(const json_t *content, exact_t *out)
{
    if (content == NULL || json_is_null(content))
        return 0;
    if (json_is_string(content)) {
        exact_put(out, json_string_value(content), json_string_length(content));
        return 0;
    }
    if (!json_is_array(content))
        return -1;
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *type = ref_get(part, "type", JSON_STRING);
        json_t *text = ref_get(part, "text", JSON_STRING);
        if (type != NULL && strcmp(json_string_value(type), "text") == 0 && text != NULL)
            exact_put(out, json_string_value(text), json_string_length(text));
    }
    return 0;
}

typedef struct body_outcome {
    int rc;
    char err[256];
    exact_t content;
    char reason[24];
    long long pt, ct;
} body_outcome_t;

static void ref_openai_body(const char *body, size_t len, body_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->pt = o->ct = -1;
    o->rc = -1;
    json_t *root = ref_json_object(body, len, "the body", o->err, sizeof(o->err));
    if (root == NULL)
        return;
    if (ref_upstream_error(root, o->err, sizeof(o->err))) {
        json_decref(root);
        return;
    }
    json_t *choices = ref_get(root, "choices", JSON_ARRAY);
    json_t *c0 = choices ? json_array_get(choices, 0) : NULL;
    json_t *msg = ref_get(c0, "message", JSON_OBJECT);
    if (msg == NULL) {
        snprintf(o->err, sizeof(o->err), "not a chat completion: no choices[0].message");
    } else if (ref_content_text(json_object_get(msg, "content"), &o->content) < 0) {
        snprintf(o->err, sizeof(o->err), "not a chat completion: choices[0].message.content is not text");
    } else {
        json_t *fr = ref_get(c0, "finish_reason", JSON_STRING);
        snprintf(o->reason, sizeof(o->reason), "%s", fr ? ref_openai_reason(json_string_value(fr)) : "stop");
        json_t *u = ref_get(root, "usage", JSON_OBJECT);
        o->pt = ref_count(json_object_get(u, "prompt_tokens"));
        o->ct = ref_count(json_object_get(u, "completion_tokens"));
        o->rc = 0;
    }
    if (o->rc < 0) {
        free(o->content.p);
        memset(&o->content, 0, sizeof(o->content));
    }
    json_decref(root);
}

static void new_openai_body(const char *body, size_t len, body_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    tf_adapt_result_t r;
    o->rc = tf_adapt_parse(TF_PROTO_OPENAI, body, len, &r, o->err, sizeof(o->err));
    if (o->rc == 0) {
        exact_put(&o->content, r.content, strlen(r.content));
        snprintf(o->reason, sizeof(o->reason), "%s", r.finish_reason);
    }
    o->pt = r.prompt_tokens;
    o->ct = r.completion_tokens;
    tf_adapt_result_free(&r);
}

static const char *const openai_bodies[] = {
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1741569952,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Hello \\\"w\\u00f6rld\\\"\\n\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}},\"service_tier\":\"default\"}",
    "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\",\"text\":\"no\"},{\"type\":\"text\","
    "\"text\":\"b \\ud83d\\ude00\"},7]},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},\"finish_reason\":\"tool_calls\"}]}",
    "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"content_filter\"},{\"message\":{\"content\":\"second\"}}]}",
    "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}",
    "{\"error\":\"boom\"}",
    "{\"error\":null,\"choices\":[{\"message\":{\"content\":\"e\"}}]}",
};

static void test_differential_body(void)
{
    int bodies = 0, failing = 0, bad = 0;
    for (int k = 0; k < 6000; k++) {
        const char *pick = openai_bodies[rnd() % NELEM(openai_bodies)];
        exact_t b = {0};
        if (rnd() % 10 == 0) {
            exact_put(&b, pick, strlen(pick));
        } else {
            json_t *j = J(pick);
            uint64_t how = rnd() % 10;
            if (how < 6)
                diff_mutate(j, 0);
            diff_ws(&b, how != 9);
            diff_write(&b, j, how != 9, 0);
            diff_ws(&b, how != 9);
            json_decref(j);
        }
        if (rnd() % 20 == 0)
            diff_bytes(&b);
        if (b.p == NULL)
            exact_put(&b, "", 0);
        body_outcome_t want, got;
        ref_openai_body(b.p, b.len, &want);
        if (b.len == 0) { /* tf_adapt_parse refuses an empty body before reading it */
            want.rc = -1;
            snprintf(want.err, sizeof(want.err), "empty body");
        }
        new_openai_body(b.p, b.len, &got);
        int eq = want.rc == got.rc && strcmp(want.err, got.err) == 0 && want.content.len == got.content.len
                 && (want.content.len == 0 || memcmp(want.content.p, got.content.p, want.content.len) == 0)
                 && strcmp(want.reason, got.reason) == 0 && want.pt == got.pt && want.ct == got.ct;
        if (!eq && bad++ < 3)
            printf("# body %d differs: %.*s\n#   reference rc %d err '%s' reason '%s' %lld/%lld\n#   scanner   rc %d err '%s' reason '%s' %lld/%lld\n",
                   k, (int)(b.len < 400 ? b.len : 400), b.p, want.rc, want.err, want.reason, want.pt, want.ct, got.rc, got.err, got.reason,
                   got.pt, got.ct);
        bodies++;
        failing += want.rc < 0;
        free(want.content.p);
        free(got.content.p);
        free(b.p);
    }
    ok(bad == 0, "openai: %d generated answers (%d failing) parse as the jansson-based reference did: result, error text, content, "
                 "finish reason, counts", bodies, failing);
    ok(failing > bodies / 20 && failing < bodies * 9 / 10, "openai: the generated answers are a mix of good and failing ones");
    /* a body of more values than the doc's stack tokens hold (the spill array) */
    exact_t big = {0};
    exact_str(&big, "{\"choices\":[{\"message\":{\"content\":[");
    for (int i = 0; i < 300; i++)
        exact_str(&big, i ? ",{\"type\":\"text\",\"text\":\"p\"}" : "{\"type\":\"text\",\"text\":\"p\"}");
    exact_str(&big, "]},\"finish_reason\":\"stop\"}]}");
    body_outcome_t want, got;
    ref_openai_body(big.p, big.len, &want);
    new_openai_body(big.p, big.len, &got);
    ok(got.rc == 0 && want.rc == 0 && got.content.len == 300 && want.content.len == 300, "openai: an answer of 900 values parses whole");
    free(want.content.p);
    free(got.content.p);
    free(big.p);
}

/* ---- the openai body spliced from the client's bytes (tf_adapt_build_raw) ---- */

static int same_headers(const struct curl_slist *a, const struct curl_slist *b)
{
    for (; a != NULL && b != NULL; a = a->next, b = b->next)
        if (strcmp(a->data, b->data) != 0)
            return 0;
    return a == NULL && b == NULL;
}

/* Builds from the tree and from the text; 1 when both agree (same result,
 * error, URL, headers, and bodies that are the same JSON). *differ: the
 * bodies' bytes differ (the splice kept the client's own spelling). */
static int raw_agrees(const char *raw, size_t len, const json_t *tree, const char *model, int stream, int *differ, int show)
{
    tf_adapt_http_t a, b;
    char ea[256] = "", eb[256] = "";
    int ra = tf_adapt_build(TF_PROTO_OPENAI, "http://u/v1", "k", model, tree, stream, &a, ea, sizeof(ea));
    int rb = tf_adapt_build_raw(TF_PROTO_OPENAI, "http://u/v1", "k", model, tree, raw, len, stream, &b, eb, sizeof(eb));
    int eq = ra == rb && strcmp(ea, eb) == 0;
    *differ = 0;
    if (eq && ra == 0) {
        json_t *ja = json_loadb(a.body, a.body_len, JSON_REJECT_DUPLICATES, NULL);
        json_t *jb = json_loadb(b.body, b.body_len, JSON_REJECT_DUPLICATES, NULL);
        eq = ja != NULL && jb != NULL && json_equal(ja, jb) && strcmp(a.url, b.url) == 0 && same_headers(a.headers, b.headers)
             && strlen(b.body) == b.body_len;
        *differ = a.body_len != b.body_len || memcmp(a.body, b.body, a.body_len) != 0;
        json_decref(ja);
        json_decref(jb);
    }
    if (!eq && show)
        printf("# raw %.*s\n#  tree rc %d '%s' %s\n#  raw  rc %d '%s' %s\n", (int)(len < 300 ? len : 300), raw, ra, ea,
               ra == 0 ? a.body : "", rb, eb, rb == 0 ? b.body : "");
    tf_adapt_http_free(&a);
    tf_adapt_http_free(&b);
    return eq;
}

static void test_build_raw(void)
{
    static const char *const keys[] = {"model", "stream", "stream_options", "strategy", "fallback", "triforce", "temperature", "user",
                                       "n", "messages", "x", ""};
    int cases = 0, spliced = 0, bad = 0, differ;
    for (int k = 0; k < 6000; k++) {
        json_t *r = J("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        for (int i = (int)(rnd() % 7); i > 0; i--) {
            const char *key = keys[rnd() % NELEM(keys)];
            json_t *v = diff_value(1);
            if (strcmp(key, "stream_options") == 0 && rnd() % 2) {
                json_decref(v);
                v = json_pack("{s:b, s:b}", "include_usage", (int)(rnd() % 2), "include_obfuscation", 0);
            }
            json_object_set_new(r, key, v);
        }
        if (rnd() % 4 == 0)
            json_object_set_new(r, "messages", diff_value(1));
        int wild = (int)(rnd() % 2);
        exact_t b = {0};
        diff_ws(&b, wild);
        if (rnd() % 8 == 0) {
            diff_write(&b, r, wild, 0); /* escaped keys and duplicates too */
        } else {
            /* keys as clients write them, values spaced and escaped at random */
            const char *key;
            json_t *v;
            int first = 1;
            exact_put(&b, "{", 1);
            json_object_foreach(r, key, v) {
                if (!first)
                    exact_put(&b, ",", 1);
                first = 0;
                diff_ws(&b, wild);
                diff_string(&b, key, strlen(key), 0);
                diff_ws(&b, wild);
                exact_put(&b, ":", 1);
                diff_ws(&b, wild);
                diff_write(&b, v, wild, 1);
                diff_ws(&b, wild);
            }
            exact_put(&b, "}", 1);
        }
        diff_ws(&b, wild);
        json_decref(r);
        /* what the gateway would have refused never gets here */
        json_t *tree = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL);
        if (tree != NULL && json_is_object(tree)) {
            cases++;
            bad += !raw_agrees(b.p, b.len, tree, rnd() % 8 ? "llama-3.3-70b" : "m\xc3\xa9", (int)(rnd() % 2), &differ, bad < 3);
            spliced += differ;
        }
        json_decref(tree);
        free(b.p);
    }
    ok(bad == 0, "openai: %d generated requests, spaced and escaped at random: the body spliced from the text is the JSON the tree gives",
       cases);
    ok(spliced > cases / 5, "openai: the splice kept the client's spelling in %d of them", spliced);

    /* compact text as jansson writes it: the very same bytes */
    json_t *tree = J(CHAT);
    char *text = json_dumps(tree, JSON_COMPACT);
    int same = raw_agrees(text, strlen(text), tree, "gpt-4o", 0, &differ, 1) && !differ;
    same = same && raw_agrees(text, strlen(text), tree, "gpt-4o", 1, &differ, 1) && !differ;
    ok(same, "openai: compact text gives byte for byte the body the tree gives, streamed or not");
    free(text);
    json_decref(tree);

    /* spaced text: the client's own bytes go out */
    const char *spaced = "{ \"model\" : \"x\",\n \"messages\": [ {\"role\": \"user\", \"content\": \"caf\\u00e9\"} ], \"strategy\": \"best\" }";
    tree = J(spaced);
    tf_adapt_http_t h;
    char err[256];
    int rc = tf_adapt_build_raw(TF_PROTO_OPENAI, "http://u", NULL, "m", tree, spaced, strlen(spaced), 1, &h, err, sizeof(err));
    ok(rc == 0 && strcmp(h.body, "{\"model\":\"m\",\"messages\":[ {\"role\": \"user\", \"content\": \"caf\\u00e9\"} ],\"stream\":true,"
                                 "\"stream_options\":{\"include_usage\":true}}") == 0,
       "openai: members copied as written, model rewritten in place, strategy dropped, stream members appended");
    tf_adapt_http_free(&h);

    /* a member the text does not have (a schema default added to the tree): the tree decides */
    json_object_set_new(tree, "temperature", json_real(0.5));
    ok(raw_agrees(spaced, strlen(spaced), tree, "m", 0, &differ, 1) && !differ, "openai: a tree with members the text lacks is written from the tree");
    json_decref(tree);
    /* an escaped key: read from the tree */
    const char *esc = "{\"mod\\u0065l\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"y\"}], \"fallback\":false}";
    tree = J(esc);
    ok(raw_agrees(esc, strlen(esc), tree, "m", 1, &differ, 1) && !differ, "openai: a text with an escaped key is written from the tree");
    json_decref(tree);
}

/* ---- tf_adapt_dump: json_dumps(JSON_COMPACT), byte for byte ---- */

static int dump_same(const json_t *j, int *differ_shown)
{
    char *want = json_dumps(j, JSON_COMPACT);
    size_t len = 0;
    char *got = tf_adapt_dump(j, &len);
    int eq = want != NULL && got != NULL && len == strlen(want) && memcmp(want, got, len) == 0 && got[len] == '\0';
    if (!eq && (*differ_shown)++ < 3)
        printf("# jansson %s\n#    ours %.*s\n", want ? want : "(null)", got ? (int)len : 6, got ? got : "(null)");
    free(want);
    free(got);
    return eq;
}

static void test_dump(void)
{
    int shown = 0, bad = 0, trees = 0;
    for (int k = 0; k < 4000; k++) {
        json_t *o = json_object();
        for (int i = (int)(rnd() % 6); i >= 0; i--)
            json_object_set_new(o, diff_keys[rnd() % NELEM(diff_keys)], diff_value(0));
        bad += !dump_same(o, &shown);
        json_decref(o);
        trees++;
    }
    json_t *req = J(CHAT);
    bad += !dump_same(req, &shown);
    json_decref(req);
    /* every byte below 0x20, the escapes, UTF-8 of every length, in keys too */
    char all[160];
    size_t al = 0;
    for (int c = 1; c < 0x20; c++)
        all[al++] = (char)c;
    const char *more = "\"\\/ \x7f \xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80 end";
    memcpy(all + al, more, strlen(more));
    al += strlen(more);
    json_t *w = json_object();
    json_object_set_new(w, "s", json_stringn(all, al));
    json_object_setn_new(w, all, al, json_pack("[s, i, I, f, f, f, b, n, {}, []]", "", -7, (json_int_t)INT64_MIN, 0.1, 1e300, -2.5e-8, 1));
    bad += !dump_same(w, &shown);
    json_decref(w);
    ok(bad == 0, "tf_adapt_dump: %d generated objects and the special cases are written as json_dumps(JSON_COMPACT) writes them", trees);
}

int main(void)
{
    test_build_openai();
    test_build_anthropic();
    test_build_gemini();
    test_build_ollama();
    test_build_errors();
    test_parse_openai();
    test_parse_anthropic();
    test_parse_gemini();
    test_parse_ollama();
    test_stream_openai();
    test_stream_anthropic();
    test_stream_gemini();
    test_stream_ollama();
    test_stream_semantics();
    test_stream_scanned();
    test_differential();
    test_differential_body();
    test_dump();
    test_build_raw();
    test_estimates();
    test_fuzz();
    return tap_end();
}
