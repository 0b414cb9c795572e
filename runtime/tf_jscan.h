/*
 * tf_jscan - a JSON scanner that builds no tree and allocates nothing: one
 * pass over the bytes writes a flat array of tokens (offsets into the
 * input, jsmn style) into memory the caller provides, then small lookups
 * walk that array. It exists for the streamed-answer parsers (tf_adapt),
 * where building a jansson tree for every chunk cost more than all the
 * rest of the gateway.
 *
 * What it accepts is exactly what jansson 2.14's json_loadb(buf, len, 0)
 * accepts, because the stream parsers must refuse the same chunks they
 * refused when they used jansson:
 *   - the top level is an object or an array, followed only by whitespace
 *     (space, tab, LF, CR);
 *   - a value may sit inside at most 2047 containers, and at most 2048
 *     containers nest (jansson's JSON_PARSER_MAX_DEPTH counts every value);
 *   - strings: no raw byte below 0x20, escapes \" \\ \/ \b \f \n \r \t and
 *     \uXXXX only, surrogates only as a high-low pair, no \u0000 (neither
 *     in values nor in keys), bytes above 0x7F only as well-formed UTF-8
 *     (no overlong forms, no encoded surrogates, nothing above U+10FFFF);
 *   - numbers: the JSON grammar; an integer (no '.', 'e' or 'E') must fit
 *     in 64 bits signed; a real must not overflow a double (underflow to
 *     zero is fine);
 *   - true, false, null spelled exactly;
 *   - one quirk of jansson's lexer, kept: a single NUL byte right after a
 *     number or true/false/null is skipped ("[1\0]" is valid, "[1\0\0]",
 *     "[1 \0]" and "[\"a\"\0]" are not).
 * Duplicate keys are allowed, and lookups give the LAST member of a name,
 * as jansson's json_object_get does (its parser replaces earlier ones).
 *
 * Tokens: objects hold key (a string token), value, key, value, ...;
 * arrays hold their elements; `next` skips a value with all it contains.
 * Token 0 is the top-level value. Offsets are 32 bits: inputs of 4 GiB or
 * more are refused.
 */
#ifndef TF_JSCAN_H
#define TF_JSCAN_H

#include <stddef.h>
#include <stdint.h>

enum { TF_JSCAN_MAX_DEPTH = 2048 };

typedef enum tf_jscan_type {
    TF_JSCAN_NONE = 0, /* what a lookup of something absent gives */
    TF_JSCAN_OBJECT,
    TF_JSCAN_ARRAY,
    TF_JSCAN_STRING,
    TF_JSCAN_INTEGER,
    TF_JSCAN_REAL,
    TF_JSCAN_TRUE,
    TF_JSCAN_FALSE,
    TF_JSCAN_NULL
} tf_jscan_type_t;

typedef struct tf_jscan_tok {
    uint8_t type;    /* tf_jscan_type_t */
    uint8_t escaped; /* a string with a backslash in it: read it with tf_jscan_unescape */
    uint32_t start;  /* offset of the first byte; for a string, the first after the quote */
    uint32_t len;    /* bytes; a string's without its quotes, a container's with its brackets */
    uint32_t next;   /* index of the token after this value and everything inside it */
} tf_jscan_tok_t;

typedef struct tf_jscan {
    const char *src;
    size_t len;
    tf_jscan_tok_t *tok;
    size_t ntok;      /* tokens written; after TF_JSCAN_NOSPACE, how many are needed */
    int escapes;      /* some string holds an escape */
    size_t err_pos;   /* TF_JSCAN_INVALID: the offset where scanning stopped */
    const char *err;  /* TF_JSCAN_INVALID: why (static text) */
} tf_jscan_t;

enum {
    TF_JSCAN_OK = 0,
    TF_JSCAN_INVALID = -1, /* not JSON as jansson reads it; err, err_pos say where and why */
    TF_JSCAN_NOSPACE = -2  /* valid, but more than `cap` tokens: ntok is the number needed */
};

/* Scans src[0..len) into tok[0..cap). Always validates the whole input,
 * so NOSPACE means "valid, retry with ntok tokens". */
int tf_jscan_parse(tf_jscan_t *js, const char *src, size_t len, tf_jscan_tok_t *tok, size_t cap);

/* ---- lookups: t < 0 means "no value" everywhere, and gives -1 / NONE ---- */

tf_jscan_type_t tf_jscan_type(const tf_jscan_t *js, int t);
/* The value of the last member named `key` when obj is an object, else -1. */
int tf_jscan_member(const tf_jscan_t *js, int obj, const char *key);
/* The same, but -1 unless that value has the given type. */
int tf_jscan_member_of(const tf_jscan_t *js, int obj, const char *key, tf_jscan_type_t type);
/* Element i of an array, else -1. */
int tf_jscan_index(const tf_jscan_t *js, int arr, size_t i);
/* Walking an array: the first element, and the element after `elem`; -1 at the end. */
int tf_jscan_first(const tf_jscan_t *js, int arr);
int tf_jscan_next(const tf_jscan_t *js, int arr, int elem);

/* 0 with the value when t is an integer token (always within 64 bits), else -1. */
int tf_jscan_integer(const tf_jscan_t *js, int t, long long *out);
/* Whether t is a string whose unescaped text is s[0..n). */
int tf_jscan_str_eq(const tf_jscan_t *js, int t, const char *s, size_t n);
/* Unescapes a scanned string's bytes (raw[0..n), without quotes) into
 * out, which has room for n bytes (the text is never longer); returns the
 * text's length. */
size_t tf_jscan_unescape(const char *raw, size_t n, char *out);

#endif
