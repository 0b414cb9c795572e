/*
 * chat.c - POST /v1/chat/completions, /v1/chat (OpenAI shape) and
 * /v1/client/chat (seed 002 shape). The work is in tf_chat.
 */
#include "tf_api.h"
#include "tf_chat.h"

int tf_api_chat_completions(tf_req_t *r)
{
    return tf_chat_run(r, r->body, TF_CHAT_OPENAI);
}

/* {message, system?, model, temperature?, max_tokens?, strategy?} -> an OpenAI request. */
int tf_api_client_chat(tf_req_t *r)
{
    json_t *b = r->body;
    json_t *msgs = json_array();
    const char *sys = json_string_value(json_object_get(b, "system"));
    if (sys != NULL)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", sys));
    json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "user", "content", json_object_get(b, "message")));
    json_t *req = json_pack("{s:O, s:o}", "model", json_object_get(b, "model"), "messages", msgs);
    const char *copy[] = {"temperature", "max_tokens", "strategy"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(b, copy[i]);
        if (v != NULL)
            json_object_set(req, copy[i], v);
    }
    int rc = tf_chat_run(r, req, TF_CHAT_CLIENT);
    json_decref(req);
    return rc;
}
