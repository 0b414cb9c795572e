/*
 * tools/conformance.c - the fixture tools of the official MCP conformance
 * suite (spec/tools/conformance.yaml; only with conf mcp.conformance). They
 * exercise what real tools use rarely or not yet: every content type, log
 * and progress notifications, sampling and elicitation requests to the
 * client, and a response closed mid-call for the client to poll (SEP-1699).
 * Texts are the ones the suite checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_server.h"
#include "tf_tool.h"
#include "tf_tool_handlers.h"

/* A 1x1 red PNG and a minimal WAV, as the suite's reference server sends. */
#define TEST_IMAGE_BASE64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
#define TEST_AUDIO_BASE64 "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
#define STEP_MS 50

static json_t *content_result(json_t *content)
{
    return json_pack("{s:o, s:b}", "content", content, "isError", 0);
}

int tf_tool_test_simple_text(tf_tool_call_t *call)
{
    tf_tool_text(call, "This is a simple text response for testing.");
    return 0;
}

int tf_tool_test_image_content(tf_tool_call_t *call)
{
    tf_tool_answer(call, content_result(json_pack("[{s:s, s:s, s:s}]", "type", "image", "data", TEST_IMAGE_BASE64, "mimeType", "image/png")));
    return 0;
}

int tf_tool_test_audio_content(tf_tool_call_t *call)
{
    tf_tool_answer(call, content_result(json_pack("[{s:s, s:s, s:s}]", "type", "audio", "data", TEST_AUDIO_BASE64, "mimeType", "audio/wav")));
    return 0;
}

int tf_tool_test_embedded_resource(tf_tool_call_t *call)
{
    tf_tool_answer(call, content_result(json_pack("[{s:s, s:{s:s, s:s, s:s}}]", "type", "resource", "resource", "uri", "test://embedded-resource",
                                                  "mimeType", "text/plain", "text", "This is an embedded resource content.")));
    return 0;
}

int tf_tool_test_multiple_content_types(tf_tool_call_t *call)
{
    tf_tool_answer(call, content_result(json_pack("[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:{s:s, s:s, s:s}}]", "type", "text", "text",
                                                  "Multiple content types test:", "type", "image", "data", TEST_IMAGE_BASE64, "mimeType",
                                                  "image/png", "type", "resource", "resource", "uri", "test://mixed-content-resource",
                                                  "mimeType", "application/json", "text", "{\"test\":\"data\",\"value\":123}")));
    return 0;
}

int tf_tool_test_error_handling(tf_tool_call_t *call)
{
    tf_tool_fail(call, "This tool intentionally returns an error for testing");
    return 0;
}

/* --- tools that take their time: a few steps STEP_MS apart ------------------------------------ */

typedef struct paced {
    h2o_timeout_entry_t tick; /* first: the timeout callback gets this */
    tf_tool_call_t *call;
    int step;
    void (*run)(struct paced *p); /* one step; the last one answers and frees */
} paced_t;

static __thread h2o_timeout_t pace;
static __thread int pace_ready;

static void paced_next(paced_t *p)
{
    if (!pace_ready) {
        h2o_timeout_init(tf_thread->ctx.loop, &pace, STEP_MS);
        pace_ready = 1;
    }
    h2o_timeout_link(tf_thread->ctx.loop, &pace, &p->tick);
}

static void paced_tick(h2o_timeout_entry_t *e)
{
    paced_t *p = (paced_t *)e;
    p->run(p);
}

/* The client left: the call is gone and the timer must not fire into it. */
static void paced_gone(tf_tool_call_t *call)
{
    paced_t *p = call->hctx;
    if (h2o_timeout_is_linked(&p->tick))
        h2o_timeout_unlink(&p->tick);
    free(p);
}

static paced_t *paced_start(tf_tool_call_t *call, void (*run)(paced_t *p))
{
    paced_t *p = calloc(1, sizeof(*p));
    p->tick.cb = paced_tick;
    p->call = call;
    p->run = run;
    call->hctx = p;
    call->on_gone = paced_gone;
    return p;
}

static void paced_finish(paced_t *p)
{
    p->call->on_gone = NULL;
    free(p);
}

static void logging_step(paced_t *p)
{
    static const char *const msgs[] = {"Tool execution started", "Tool processing data", "Tool execution completed"};
    tf_tool_log(p->call, "info", NULL, json_string(msgs[p->step]));
    if (++p->step < 3) {
        paced_next(p);
        return;
    }
    tf_tool_call_t *call = p->call;
    paced_finish(p);
    tf_tool_text(call, "Tool with logging executed successfully");
}

int tf_tool_test_tool_with_logging(tf_tool_call_t *call)
{
    logging_step(paced_start(call, logging_step));
    return 0;
}

static void progress_step(paced_t *p)
{
    char msg[64];
    int done = p->step * 50;
    snprintf(msg, sizeof(msg), "Completed step %d of 100", done);
    tf_tool_progress(p->call, done, 100, msg);
    if (++p->step < 3) {
        paced_next(p);
        return;
    }
    tf_tool_call_t *call = p->call;
    paced_finish(p);
    /* The answer names the token it reported under. */
    json_t *tok = tf_tool_progress_token(call);
    char *t = tok ? json_dumps(tok, JSON_ENCODE_ANY) : NULL;
    const char *plain = json_is_string(tok) ? json_string_value(tok) : t ? t : "0";
    tf_tool_text(call, "%s", plain);
    free(t);
}

int tf_tool_test_tool_with_progress(tf_tool_call_t *call)
{
    progress_step(paced_start(call, progress_step));
    return 0;
}

/* Closes the response at once; the result follows after the client's reconnection. */
static void reconnection_done(paced_t *p)
{
    tf_tool_call_t *call = p->call;
    paced_finish(p);
    tf_tool_text(call, "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.");
}

int tf_tool_test_reconnection(tf_tool_call_t *call)
{
    paced_t *p = paced_start(call, reconnection_done);
    tf_tool_close_stream(call, 500);
    paced_next(p);
    return 0;
}

/* --- requests to the client ------------------------------------------------------------------- */

static void on_sampled(tf_tool_call_t *call, json_t *result, json_t *error)
{
    if (result == NULL) {
        tf_tool_text(call, "Sampling not supported or error: %s",
                     error ? json_string_value(json_object_get(error, "message")) ?: "the client refused" : "the client cannot sample");
        return;
    }
    const char *text = json_string_value(json_object_get(json_object_get(result, "content"), "text"));
    if (text == NULL)
        text = json_string_value(json_object_get(json_object_get(json_object_get(result, "message"), "content"), "text"));
    tf_tool_text(call, "LLM response: %s", text ? text : "No response");
}

int tf_tool_test_sampling(tf_tool_call_t *call)
{
    const char *prompt = tf_tool_arg_str(call, "prompt", "");
    tf_tool_ask(call, "sampling/createMessage",
                json_pack("{s:[{s:s, s:{s:s, s:s}}], s:i}", "messages", "role", "user", "content", "type", "text", "text", prompt, "maxTokens", 100),
                on_sampled);
    return 0;
}

static void answer_elicited(tf_tool_call_t *call, json_t *result, json_t *error, const char *prefix)
{
    if (result == NULL) {
        tf_tool_text(call, "Elicitation not supported or error: %s",
                     error ? json_string_value(json_object_get(error, "message")) ?: "the client refused" : "the client cannot elicit");
        return;
    }
    json_t *content = json_object_get(result, "content");
    char *c = json_dumps(content ? content : json_object(), JSON_COMPACT | JSON_ENCODE_ANY);
    tf_tool_text(call, "%s: action=%s, content=%s", prefix, json_string_value(json_object_get(result, "action")) ?: "", c ? c : "{}");
    free(c);
}

static void on_elicited(tf_tool_call_t *call, json_t *result, json_t *error)
{
    answer_elicited(call, result, error, "User response");
}

static void on_elicited_form(tf_tool_call_t *call, json_t *result, json_t *error)
{
    answer_elicited(call, result, error, "Elicitation completed");
}

int tf_tool_test_elicitation(tf_tool_call_t *call)
{
    tf_tool_ask(call, "elicitation/create",
                json_pack("{s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s]}}", "message", tf_tool_arg_str(call, "message", ""), "requestedSchema",
                          "type", "object", "properties", "response", "type", "string", "description", "User's response", "required",
                          "response"),
                on_elicited);
    return 0;
}

int tf_tool_test_elicitation_sep1034_defaults(tf_tool_call_t *call)
{
    json_t *props = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:i}, s:{s:s, s:s, s:f}, s:{s:s, s:s, s:[s,s,s], s:s}, s:{s:s, s:s, s:b}}",
                              "name", "type", "string", "description", "User name", "default", "John Doe",
                              "age", "type", "integer", "description", "User age", "default", 30,
                              "score", "type", "number", "description", "User score", "default", 95.5,
                              "status", "type", "string", "description", "User status", "enum", "active", "inactive", "pending",
                              "default", "active",
                              "verified", "type", "boolean", "description", "Verification status", "default", 1);
    tf_tool_ask(call, "elicitation/create",
                json_pack("{s:s, s:{s:s, s:o, s:[]}}", "message", "Please review and update the form fields with defaults", "requestedSchema",
                          "type", "object", "properties", props, "required"),
                on_elicited_form);
    return 0;
}

int tf_tool_test_elicitation_sep1330_enums(tf_tool_call_t *call)
{
    json_t *titled = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "const", "value1", "title", "First Option", "const", "value2", "title",
                               "Second Option", "const", "value3", "title", "Third Option");
    json_t *titled_multi = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "const", "value1", "title", "First Choice", "const", "value2",
                                     "title", "Second Choice", "const", "value3", "title", "Third Choice");
    json_t *props = json_object();
    json_object_set_new(props, "untitledSingle",
                        json_pack("{s:s, s:s, s:[s,s,s]}", "type", "string", "description", "Select one option", "enum", "option1", "option2",
                                  "option3"));
    json_object_set_new(props, "titledSingle", json_pack("{s:s, s:s, s:o}", "type", "string", "description", "Select one option with titles",
                                                         "oneOf", titled));
    json_object_set_new(props, "legacyEnum",
                        json_pack("{s:s, s:s, s:[s,s,s], s:[s,s,s]}", "type", "string", "description", "Select one option (legacy)", "enum",
                                  "opt1", "opt2", "opt3", "enumNames", "Option One", "Option Two", "Option Three"));
    json_object_set_new(props, "untitledMulti",
                        json_pack("{s:s, s:s, s:i, s:i, s:{s:s, s:[s,s,s]}}", "type", "array", "description", "Select multiple options",
                                  "minItems", 1, "maxItems", 3, "items", "type", "string", "enum", "option1", "option2", "option3"));
    json_object_set_new(props, "titledMulti",
                        json_pack("{s:s, s:s, s:i, s:i, s:{s:o}}", "type", "array", "description", "Select multiple options with titles",
                                  "minItems", 1, "maxItems", 3, "items", "anyOf", titled_multi));
    tf_tool_ask(call, "elicitation/create",
                json_pack("{s:s, s:{s:s, s:o, s:[]}}", "message", "Please select options from the enum fields", "requestedSchema", "type",
                          "object", "properties", props, "required"),
                on_elicited_form);
    return 0;
}

int tf_tool_json_schema_2020_12_tool(tf_tool_call_t *call)
{
    char *a = json_dumps(call->args, JSON_COMPACT);
    tf_tool_text(call, "JSON Schema 2020-12 tool called with: %s", a ? a : "{}");
    free(a);
    return 0;
}
