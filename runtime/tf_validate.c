/*
 * tf_validate.c - see tf_validate.h.
 */
#include "tf_validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static size_t append_escaped(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 3 < cap; s++) {
        if (*s == '~') {
            buf[len++] = '~';
            buf[len++] = '0';
        } else if (*s == '/') {
            buf[len++] = '~';
            buf[len++] = '1';
        } else {
            buf[len++] = *s;
        }
    }
    buf[len] = '\0';
    return len;
}

int tf_v_fail(tf_verr_t *err, const tf_vpath_t *p, const char *rule, const char *fmt, ...)
{
    size_t len = 0, cap = sizeof(err->pointer);
    err->pointer[0] = '\0';
    int depth = p->depth < TF_VPATH_MAX ? p->depth : TF_VPATH_MAX;
    for (int i = 0; i < depth && len + 2 < cap; i++) {
        err->pointer[len++] = '/';
        if (p->key[i] != NULL)
            len = append_escaped(err->pointer, len, cap, p->key[i]);
        else
            len += (size_t)snprintf(err->pointer + len, cap - len, "%zu", p->idx[i]);
        if (len >= cap)
            len = cap - 1;
    }
    err->pointer[len] = '\0';
    err->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

size_t tf_v_utf8_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

int tf_v_is_integer(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return isfinite(d) && floor(d) == d;
    }
    return 0;
}

double tf_v_number(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}
