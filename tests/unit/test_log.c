/*
 * tf_log_json_escape and tf_utf8 unit test: what goes between the quotes of a JSON log
 * line (and of /health's node and database error). Every output must be
 * valid JSON text that jansson decodes back to the input - exactly for
 * well-formed UTF-8, with U+FFFD for each byte that does not start a
 * well-formed sequence (request paths and client headers can hold any bytes).
 *
 * Build: cc -Iruntime tests/unit/test_log.c runtime/tf_log.c runtime/tf_utf8.c $(pkg-config --cflags --libs jansson)
 */
#include "tap.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tf_log.h"
#include "tf_utf8.h"

/* Escapes s into a JSON string and decodes it with jansson: the decoded text, or NULL when invalid. */
static char *roundtrip(const char *s, size_t n, char *escaped, size_t cap)
{
    escaped[0] = '"';
    size_t len = tf_log_json_escape(escaped, 1, cap - 2, s, n);
    escaped[len++] = '"';
    escaped[len] = '\0';
    json_error_t err;
    json_t *j = json_loadb(escaped, len, JSON_DECODE_ANY, &err);
    if (j == NULL || !json_is_string(j)) {
        json_decref(j);
        return NULL;
    }
    char *out = strdup(json_string_value(j));
    json_decref(j);
    return out;
}

static void check(const char *what, const char *in, size_t n, const char *want)
{
    char esc[512];
    char *got = roundtrip(in, n, esc, sizeof(esc));
    ok(got != NULL && strcmp(got, want) == 0, "%s: escaped as %s", what, esc);
    free(got);
}

#define R "\xef\xbf\xbd" /* U+FFFD as UTF-8 */

int main(void)
{
    check("ASCII", "/v1/models", 10, "/v1/models");
    check("quote, backslash, newline, tab", "a\"b\\c\nd\te", 9, "a\"b\\c\nd\te");
    check("control bytes and DEL", "\x01\x1f\x7f", 3, "\x01\x1f\x7f");
    check("2-byte UTF-8", "caf\xc3\xa9", 5, "caf\xc3\xa9");
    check("3-byte UTF-8", "\xe2\x82\xac", 3, "\xe2\x82\xac");
    check("4-byte UTF-8", "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");
    check("last code point U+10FFFF", "\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf");
    check("a lone 0xff", "/a\xff/b", 5, "/a" R "/b");
    check("a lone continuation byte", "\x80", 1, R);
    check("overlong '/' (0xc0 0xaf)", "\xc0\xaf", 2, R R);
    check("overlong 3-byte", "\xe0\x80\xaf", 3, R R R);
    check("a surrogate (U+D800)", "\xed\xa0\x80", 3, R R R);
    check("past U+10FFFF", "\xf4\x90\x80\x80", 4, R R R R);
    check("a sequence cut short by the end", "ok\xe2\x82", 4, "ok" R R);
    check("a sequence cut short by ASCII", "\xe2\x82z", 3, R R "z");
    {
        /* (jansson refuses \u0000 without JSON_ALLOW_NUL: checked as text.) */
        char esc[64];
        esc[0] = '"';
        size_t len = tf_log_json_escape(esc, 1, sizeof(esc) - 2, "a\0b", 3);
        esc[len] = '\0';
        ok(strcmp(esc, "\"a\\u0000b") == 0, "a NUL byte is \\u0000 (%s)", esc);
    }
    {
        /* A full buffer: never past cap-1, never half a sequence or escape. */
        char big[600];
        for (size_t i = 0; i < sizeof(big); i += 3)
            memcpy(big + i, "\xe2\x82\xac", 3);
        for (size_t cap = 8; cap < 40; cap++) {
            char out[64];
            memset(out, 'X', sizeof(out));
            size_t len = tf_log_json_escape(out, 0, cap, big, sizeof(big));
            int whole = len % 3 == 0 && len < cap && out[len] == '\0' && out[cap] == 'X';
            if (!whole) {
                ok(0, "cap %zu: %zu bytes, whole sequences only", cap, len);
                break;
            }
            if (cap == 39)
                ok(1, "a full buffer ends on a whole sequence, within cap (caps 8..39)");
        }
        char out[16];
        size_t len = tf_log_json_escape(out, 0, sizeof(out), "\xff\xff\xff\xff", 4);
        ok(len % 6 == 0 && len < sizeof(out), "a full buffer ends on a whole \\ufffd (%zu bytes)", len);
    }
    /* tf_utf8_fix: what error bodies put through jansson. */
    {
        char out[64];
        size_t n = tf_utf8_fix(out, sizeof(out), "/v1/\xff\xc3\xa9", 7);
        ok(n == 9 && strcmp(out, "/v1/" R "\xc3\xa9") == 0, "tf_utf8_fix: a bad byte becomes U+FFFD, a good sequence stays");
        json_t *j = json_string(out);
        ok(j != NULL, "  ... and jansson takes the result");
        json_decref(j);
        n = tf_utf8_fix(out, sizeof(out), "ab\xe2\x82", 4);
        ok(n == 8 && strcmp(out, "ab" R R) == 0, "tf_utf8_fix: a sequence cut by a truncated message");
        n = tf_utf8_fix(out, 6, "abcd\xe2\x82\xac", 7);
        ok(n == 4 && strcmp(out, "abcd") == 0, "tf_utf8_fix: no half sequence at cap (%zu bytes)", n);
        n = tf_utf8_fix(out, 7, "abc\xff", 4);
        ok(n == 6 && strcmp(out, "abc" R) == 0, "tf_utf8_fix: a replacement that just fits");
        n = tf_utf8_fix(out, 6, "abc\xff", 4);
        ok(n == 3 && strcmp(out, "abc") == 0, "tf_utf8_fix: one that does not is left out");
        ok(tf_utf8_fix(out, 1, "abc", 3) == 0 && out[0] == '\0', "tf_utf8_fix: cap 1 is the empty string");
        ok(tf_utf8_seq((const unsigned char *)"", 0) == 0 && tf_utf8_seq((const unsigned char *)"a", 1) == 1,
           "tf_utf8_seq: empty input 0, ASCII 1");
    }
    return tap_end();
}
