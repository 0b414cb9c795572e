/*
 * tf_tool.c - answers of MCP tool handlers. See tf_tool.h.
 */
#include "tf_tool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tf_log.h"

void tf_tool_answer(tf_tool_call_t *call, json_t *result)
{
    if (call->answered) {
        /* A handler that answers twice is a bug; the first answer stands. */
        tf_log(TF_LOG_ERROR, "mcp", call->r ? call->r->id : NULL, "tool %s answered twice", call->tool->name);
        json_decref(result);
        return;
    }
    call->answered = 1;
    if (call->gone) {
        json_decref(result);
        return;
    }
    call->done(call, result);
}

void tf_tool_result(tf_tool_call_t *call, json_t *structured)
{
    char *text = json_dumps(structured, JSON_COMPACT);
    json_t *res = json_pack("{s:[{s:s, s:s}], s:o}", "content", "type", "text", "text", text ? text : "{}", "structuredContent", structured);
    free(text);
    tf_tool_answer(call, res);
}

static json_t *text_result(int is_error, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    json_t *res = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", msg ? msg : "", "isError", is_error);
    free(msg);
    return res;
}

void tf_tool_text(tf_tool_call_t *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *res = text_result(0, fmt, ap);
    va_end(ap);
    tf_tool_answer(call, res);
}

void tf_tool_fail(tf_tool_call_t *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *res = text_result(1, fmt, ap);
    va_end(ap);
    tf_tool_answer(call, res);
}

int tf_tool_stub(tf_tool_call_t *call)
{
    tf_tool_fail(call, "tool %s is not implemented", call->tool->name);
    return 0;
}

const char *tf_tool_arg_str(const tf_tool_call_t *call, const char *name, const char *fallback)
{
    const char *v = json_string_value(json_object_get(call->args, name));
    return v != NULL ? v : fallback;
}

long long tf_tool_arg_int(const tf_tool_call_t *call, const char *name, long long fallback)
{
    json_t *v = json_object_get(call->args, name);
    return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (long long)json_real_value(v) : fallback;
}

int tf_tool_arg_bool(const tf_tool_call_t *call, const char *name, int fallback)
{
    json_t *v = json_object_get(call->args, name);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}
