/*
 * tf_utf8 - see tf_utf8.h.
 */
#include "tf_utf8.h"

#include <stdio.h>
#include <string.h>

size_t tf_utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 (overlong), 0xf5.. */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

size_t tf_utf8_fix(char *out, size_t cap, const char *s, size_t n)
{
    static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    const unsigned char *u = (const unsigned char *)s;
    size_t len = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        size_t k = tf_utf8_seq(u + i, n - i);
        const char *src = k != 0 ? s + i : fffd;
        size_t w = k != 0 ? k : 3;
        if (len + w > cap - 1)
            break;
        memcpy(out + len, src, w);
        len += w;
        i += k != 0 ? k : 1;
    }
    out[len] = '\0';
    return len;
}

size_t tf_utf8_vformat(char *out, size_t cap, const char *fmt, va_list ap)
{
    char raw[TF_UTF8_FORMAT_MAX];
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
    return tf_utf8_fix(out, cap, raw, len);
}

size_t tf_utf8_format(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = tf_utf8_vformat(out, cap, fmt, ap);
    va_end(ap);
    return n;
}
