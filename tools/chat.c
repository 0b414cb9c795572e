/*
 * tools/chat.c - the MCP tools of spec/tools/chat.yaml: chat and
 * specialist, over the same Mesh Brain as /v1/chat/completions (tf_chat in
 * callback mode: tier-filtered models, failover, metering).
 */
#include <string.h>

#include "tf_chat.h"
#include "tf_catalog.h"
#include "tf_tool.h"

typedef struct chat_tool {
    tf_tool_call_t *call;
    tf_chat_t *chat; /* running; NULL once answered */
    int answered;
} chat_tool_t;

static void on_answer(void *ud, int status, json_t *a)
{
    chat_tool_t *t = ud;
    t->chat = NULL;
    t->answered = 1;
    if (status == 200) {
        tf_tool_result(t->call, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "response", json_object_get(a, "response"), "model",
                                          json_object_get(a, "model"), "provider", json_object_get(a, "provider"), "total_tokens",
                                          json_object_get(a, "total_tokens"), "usage_estimated", json_object_get(a, "usage_estimated"),
                                          "fallback_used", json_object_get(a, "fallback_used")));
    } else {
        json_t *e = json_object_get(a, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        json_t *ra = json_object_get(e, "retry_after");
        if (json_is_integer(ra))
            tf_tool_fail(t->call, "%s (%s; retry after %lld s)", json_string_value(json_object_get(e, "message")), code ? code : "error",
                         (long long)json_integer_value(ra));
        else
            tf_tool_fail(t->call, "%s (%s)", json_string_value(json_object_get(e, "message")), code ? code : "error");
    }
    json_decref(a);
}

/* The client left: the chat (and its upstream transfer) goes too. */
static void on_gone(tf_tool_call_t *call)
{
    chat_tool_t *t = call->hctx;
    if (t->chat != NULL)
        tf_chat_cancel(t->chat);
    t->chat = NULL;
}

static int run(tf_tool_call_t *call, json_t *req)
{
    chat_tool_t *t = h2o_mem_alloc_pool(&call->r->h2o->pool, sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->call = call;
    call->hctx = t;
    call->on_gone = on_gone;
    tf_chat_t *c = tf_chat_start(call->r, req, on_answer, t);
    if (!t->answered)
        t->chat = c;
    json_decref(req);
    return 0;
}

static json_t *messages(const char *system, const char *user)
{
    json_t *m = json_array();
    if (system != NULL && system[0])
        json_array_append_new(m, json_pack("{s:s, s:s}", "role", "system", "content", system));
    json_array_append_new(m, json_pack("{s:s, s:s}", "role", "user", "content", user));
    return m;
}

/* chat: Chat with a model */
int tf_tool_chat(tf_tool_call_t *call)
{
    json_t *req = json_pack("{s:s, s:o}", "model", tf_tool_arg_str(call, "model", "auto"), "messages",
                            messages(tf_tool_arg_str(call, "system", NULL), tf_tool_arg_str(call, "message", "")));
    const char *copy[] = {"temperature", "max_tokens", "strategy"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(call->args, copy[i]);
        if (v != NULL)
            json_object_set(req, copy[i], v);
    }
    return run(call, req);
}

/* The experts' system prompts. */
static const struct {
    const char *name, *prompt;
} experts[] = {
    {"coder", "You are a senior software engineer. Answer with correct, idiomatic, tested code and explain only what is not obvious."},
    {"reviewer", "You are a meticulous code reviewer. Find bugs, security problems and unclear code; say what to change and why."},
    {"architect", "You are a software architect. Weigh designs by their failure modes, costs and operability; recommend one and say why."},
    {"researcher", "You are a careful researcher. Separate what is known from what is guessed, and say how sure you are."},
    {"mathematician", "You are a mathematician. Reason step by step, check each step, and state the result precisely."},
    {"writer", "You are a professional writer and editor. Write clearly and concisely for the reader the user names."},
    {"translator", "You are a translator. Translate faithfully, keep tone and register, and note idioms that do not carry over."},
    {"teacher", "You are a patient teacher. Explain from what the learner knows, one idea at a time, with a small example."},
    {"brumo", NULL}, /* the persona of spec/prompts.yaml's brumo prompt: one text for both */
};

/* specialist: Ask a specialist */
int tf_tool_specialist(tf_tool_call_t *call)
{
    const char *who = tf_tool_arg_str(call, "expert", "brumo");
    const char *prompt = experts[0].prompt;
    for (size_t i = 0; i < sizeof(experts) / sizeof(experts[0]); i++)
        if (strcmp(experts[i].name, who) == 0)
            prompt = experts[i].prompt;
    if (prompt == NULL) {
        int k = tf_prompt_find("brumo");
        prompt = k >= 0 && tf_prompts[k].persona ? tf_prompts[k].persona : "You are Brumo, the TriForce house assistant.";
    }
    const char *context = tf_tool_arg_str(call, "context", NULL);
    const char *question = tf_tool_arg_str(call, "question", "");
    json_t *msgs = json_array();
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", prompt));
    if (context != NULL && context[0])
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", context));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", question));
    return run(call, json_pack("{s:s, s:o}", "model", tf_tool_arg_str(call, "model", "auto"), "messages", msgs));
}

/* One system prompt and one user message through run(). */
static int prompt_run(tf_tool_call_t *call, const char *system, const char *user)
{
    return run(call, json_pack("{s:s, s:o}", "model", tf_tool_arg_str(call, "model", "auto"), "messages", messages(system, user)));
}

/* summarize: Summarize text */
int tf_tool_summarize(tf_tool_call_t *call)
{
    char sys[256];
    snprintf(sys, sizeof(sys),
             "Summarize the user's text in at most %lld sentences. Keep names, numbers and conclusions; add nothing that is not in it.",
             tf_tool_arg_int(call, "sentences", 3));
    return prompt_run(call, sys, tf_tool_arg_str(call, "text", ""));
}

/* translate: Translate text */
int tf_tool_translate(tf_tool_call_t *call)
{
    char sys[256];
    snprintf(sys, sizeof(sys), "Translate the user's text into %s. Keep tone, register and formatting; answer with the translation only.",
             tf_tool_arg_str(call, "target", "English"));
    return prompt_run(call, sys, tf_tool_arg_str(call, "text", ""));
}

/* explain_code: Explain code */
int tf_tool_explain_code(tf_tool_call_t *call)
{
    char sys[256];
    const char *lang = tf_tool_arg_str(call, "language", NULL);
    snprintf(sys, sizeof(sys), "Explain what this %s code does, step by step, then list any bugs or risks you see.",
             lang && lang[0] ? lang : "");
    return prompt_run(call, sys, tf_tool_arg_str(call, "code", ""));
}

/* compare_models: Compare models - the chats run at once; the answer comes when all ended. */
typedef struct compare {
    tf_tool_call_t *call;
    size_t n, left;
    struct slot {
        struct compare *c;
        tf_chat_t *chat;
        json_t *out;
        int done;
    } slot[4];
} compare_t;

static void on_compared(void *ud, int status, json_t *a)
{
    struct slot *s = ud;
    compare_t *c = s->c;
    s->chat = NULL;
    s->done = 1;
    if (status == 200) {
        json_t *got = json_pack("{s:O, s:O, s:O}", "answered_by", json_object_get(a, "model"), "response", json_object_get(a, "response"),
                                "total_tokens", json_object_get(a, "total_tokens"));
        json_object_update(s->out, got);
        json_decref(got);
    } else
        json_object_set(s->out, "error", json_object_get(json_object_get(a, "error"), "message"));
    json_decref(a);
    if (--c->left == 0) {
        json_t *list = json_array();
        for (size_t i = 0; i < c->n; i++)
            json_array_append_new(list, c->slot[i].out);
        tf_tool_result(c->call, json_pack("{s:o}", "answers", list));
    }
}

static void compare_gone(tf_tool_call_t *call)
{
    compare_t *c = call->hctx;
    for (size_t i = 0; i < c->n; i++) {
        if (c->slot[i].chat != NULL)
            tf_chat_cancel(c->slot[i].chat);
        c->slot[i].chat = NULL;
        if (!c->slot[i].done)
            json_decref(c->slot[i].out);
    }
}

int tf_tool_compare_models(tf_tool_call_t *call)
{
    json_t *models = json_object_get(call->args, "models");
    compare_t *c = h2o_mem_alloc_pool(&call->r->h2o->pool, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->call = call;
    c->n = c->left = json_array_size(models);
    call->hctx = c;
    call->on_gone = compare_gone;
    for (size_t i = 0; i < c->n; i++) {
        c->slot[i].c = c;
        c->slot[i].out = json_pack("{s:O}", "model", json_array_get(models, i));
    }
    /* Started after every slot exists: an answer may come back at once. */
    for (size_t i = 0; i < c->n; i++) {
        json_t *req = json_pack("{s:O, s:o}", "model", json_array_get(models, i), "messages",
                                messages(NULL, tf_tool_arg_str(call, "message", "")));
        tf_chat_t *ch = tf_chat_start(call->r, req, on_compared, &c->slot[i]);
        json_decref(req);
        if (!c->slot[i].done)
            c->slot[i].chat = ch;
    }
    return 0;
}

/* chat_messages: Chat with a conversation */
int tf_tool_chat_messages(tf_tool_call_t *call)
{
    json_t *req = json_pack("{s:s, s:O}", "model", tf_tool_arg_str(call, "model", "auto"), "messages",
                            json_object_get(call->args, "messages"));
    const char *copy[] = {"temperature", "max_tokens"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(call->args, copy[i]);
        if (v != NULL)
            json_object_set(req, copy[i], v);
    }
    return run(call, req);
}
