/*
 * tf_utf8 - well-formed UTF-8 for text that ends up in JSON.
 *
 * JSON text is UTF-8, and jansson refuses to build a string from anything
 * else (json_pack returns NULL). Request paths, methods and header values
 * can hold any bytes, and a message cut to fit a buffer can end inside a
 * sequence; what is put into an error body or a log line goes through here
 * first, so a hostile byte never turns a JSON answer into an empty one.
 */
#ifndef TF_UTF8_H
#define TF_UTF8_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Length of the well-formed sequence at s[0..n) (1 for ASCII, 2 to 4), or 0
 * when s[0] does not start one: overlong forms, surrogates, code points past
 * U+10FFFF and sequences cut short are refused (RFC 3629).
 */
size_t tf_utf8_seq(const unsigned char *s, size_t n);

/*
 * Copies s[0..n) into out (a C string, at most cap-1 bytes), each byte that
 * does not start a well-formed sequence replaced by U+FFFD. Never writes
 * half a sequence. Returns the length written.
 */
size_t tf_utf8_fix(char *out, size_t cap, const char *s, size_t n);

/*
 * printf into out, then tf_utf8_fix: for messages that quote what a client
 * sent and go into JSON. The formatted text is cut at TF_UTF8_FORMAT_MAX
 * bytes first; out needs 3 bytes per such byte to hold it whole
 * (TF_UTF8_FORMAT_CAP). Returns the length written.
 */
#define TF_UTF8_FORMAT_MAX 768
#define TF_UTF8_FORMAT_CAP (TF_UTF8_FORMAT_MAX * 3)
size_t tf_utf8_vformat(char *out, size_t cap, const char *fmt, va_list ap);
size_t tf_utf8_format(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
