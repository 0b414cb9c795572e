/*
 * tf_jscan unit test. jansson 2.14 (json_loadb, flags 0) is the oracle:
 * the scanner must accept exactly what it accepts and read the same
 * values, because the stream parsers moved from one to the other.
 *
 *   - a corpus of valid and invalid texts, each with the expected verdict
 *     (checked against both the scanner and jansson);
 *   - every escape, every \uXXXX, surrogate pairs, every 1- and 2-byte and
 *     3-byte UTF-8 sequence, a large set of 4-byte ones, truncated ones;
 *   - nesting at and around the 2048 limit, numbers at the 64-bit and
 *     double limits;
 *   - token layout, lookups (the last duplicate key wins), NOSPACE;
 *   - random texts and mutations of them, compared with jansson value by
 *     value.
 *
 * Build: cc -Iruntime tests/unit/test_jscan.c runtime/tf_jscan.c $(pkg-config --cflags --libs jansson)
 */
#include "tap.h"
#include <float.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_jscan.h"


/* xorshift: the same "random" texts on every run */
static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum { TOKS = 4096 };
static tf_jscan_tok_t toks[TOKS];

/* The scanner's verdict: 1 valid (with room enough), 0 refused. */
static int scan_ok(const char *s, size_t len, tf_jscan_t *js)
{
    return tf_jscan_parse(js, s, len, toks, TOKS) == TF_JSCAN_OK;
}

static int jansson_ok(const char *s, size_t len)
{
    json_t *j = json_loadb(s, len, 0, NULL);
    json_decref(j);
    return j != NULL;
}

/* Shows bytes readably in diagnostics. */
static void show(const char *what, const char *s, size_t len)
{
    printf("# %s: \"", what);
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\')
            putchar(c);
        else
            printf("\\x%02X", c);
    }
    printf("%s\" (%zu bytes)\n", len > 200 ? "..." : "", len);
}

/* ---- value-by-value comparison with jansson ---------------------------------- */

static int same(const tf_jscan_t *js, int t, const json_t *j);

static int same_string(const tf_jscan_t *js, int t, const json_t *j)
{
    const tf_jscan_tok_t *k = &js->tok[t];
    char *buf = malloc(k->len + 1);
    size_t len = k->escaped ? tf_jscan_unescape(js->src + k->start, k->len, buf) : k->len;
    if (!k->escaped)
        memcpy(buf, js->src + k->start, len);
    int eq = len == json_string_length(j) && memcmp(buf, json_string_value(j), len) == 0
             && tf_jscan_str_eq(js, t, json_string_value(j), json_string_length(j));
    free(buf);
    return eq;
}

static int same_object(const tf_jscan_t *js, int t, const json_t *j)
{
    const char *key;
    json_t *v;
    /* every member jansson kept is the scanner's last of that name ... */
    json_object_foreach((json_t *)j, key, v) {
        int m = tf_jscan_member(js, t, key);
        if (m < 0 || !same(js, m, v))
            return 0;
    }
    /* ... and the scanner has no member jansson lacks */
    for (uint32_t k = (uint32_t)t + 1; k < js->tok[t].next; k = js->tok[k + 1].next) {
        char *name = malloc(js->tok[k].len + 1);
        size_t len = tf_jscan_unescape(js->src + js->tok[k].start, js->tok[k].len, name);
        int known = json_object_getn(j, name, len) != NULL;
        free(name);
        if (!known)
            return 0;
    }
    return 1;
}

static int same(const tf_jscan_t *js, int t, const json_t *j)
{
    long long iv;
    switch (tf_jscan_type(js, t)) {
    case TF_JSCAN_OBJECT:
        return json_is_object(j) && same_object(js, t, j);
    case TF_JSCAN_ARRAY: {
        if (!json_is_array(j))
            return 0;
        size_t i = 0;
        for (int e = tf_jscan_first(js, t); e >= 0; e = tf_jscan_next(js, t, e), i++)
            if (i >= json_array_size(j) || !same(js, e, json_array_get(j, i)) || tf_jscan_index(js, t, i) != e)
                return 0;
        return i == json_array_size(j);
    }
    case TF_JSCAN_STRING:
        return json_is_string(j) && same_string(js, t, j);
    case TF_JSCAN_INTEGER:
        return json_is_integer(j) && tf_jscan_integer(js, t, &iv) == 0 && iv == json_integer_value(j);
    case TF_JSCAN_REAL: {
        if (!json_is_real(j))
            return 0;
        size_t len = js->tok[t].len;
        char *buf = malloc(len + 1);
        memcpy(buf, js->src + js->tok[t].start, len);
        buf[len] = '\0';
        int eq = strtod(buf, NULL) == json_real_value(j);
        free(buf);
        return eq;
    }
    case TF_JSCAN_TRUE:
        return json_is_true(j);
    case TF_JSCAN_FALSE:
        return json_is_false(j);
    case TF_JSCAN_NULL:
        return json_is_null(j);
    default:
        return 0;
    }
}

/* The scanner and jansson agree on s: both refuse it, or both read the same values. */
static int agrees(const char *s, size_t len)
{
    tf_jscan_t js;
    int mine = scan_ok(s, len, &js);
    json_t *j = json_loadb(s, len, 0, NULL);
    int eq = mine == (j != NULL) && (!mine || same(&js, 0, j));
    json_decref(j);
    return eq;
}

/* ---- corpus ---------------------------------------------------------------- */

typedef struct {
    const char *text;
    size_t len; /* 0: strlen */
    int valid;
} case_t;

#define C(s, v) {s, sizeof(s) - 1, v}

static const case_t corpus[] = {
    /* valid */
    C("{}", 1), C("[]", 1), C(" \t\r\n{ \t\r\n} \t\r\n", 1), C("[1,2,3]", 1), C("{\"a\":1}", 1),
    C("{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":[[],{}]}", 1), C("[true,false,null]", 1),
    C("[0,-0,1,-1,0.5,-0.5,1e5,1E5,1e+5,1e-5,1.5e3,-0.0e-0]", 1), C("[9223372036854775807,-9223372036854775808]", 1),
    C("[1.7976931348623157e308,-1.7976931348623157e308,1.7976931348623158e308]", 1), C("[1e-400,-1e-400,4.9e-324,2.5e-324]", 1),
    C("[0e999999999999999999999,0.0000e400,1e308,9.99e308]", 0) /* 9.99e308 overflows */,
    C("[0e999999999999999999999,0.0000e400,1e308]", 1), C("[0.0001e312]", 1), C("[0.001e312]", 0),
    C("[\"\"]", 1), C("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 1), C("[\"\\u0041\\u00e9\\u20AC\\uFFFF\"]", 1),
    C("[\"\\uD83D\\uDE00\"]", 1), C("[\"\\udbff\\udfff\"]", 1), C("[\"\\uD800\\uDC00\"]", 1), C("{\"\":\"\"}", 1),
    C("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"]", 1), C("{\"a\":1,\"a\":2}", 1), C("[\"\x7f\"]", 1),
    C("{\"k\\u0065y\":\"v\"}", 1), C("[[[[[[[[[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]]]]]]]]]", 1),
    /* invalid: structure */
    C("", 0), C(" ", 0), C("1", 0), C("\"s\"", 0), C("true", 0), C("null", 0), C("{", 0), C("[", 0), C("}", 0), C("]", 0),
    C("{]", 0), C("[}", 0), C("[1,]", 0), C("{\"a\":1,}", 0), C("[,1]", 0), C("{,}", 0), C("[1 2]", 0), C("{\"a\" 1}", 0),
    C("{\"a\":}", 0), C("{\"a\"}", 0), C("{1:2}", 0), C("{a:1}", 0), C("{'a':1}", 0), C("['a']", 0), C("{}{}", 0),
    C("[]]", 0), C("[] x", 0), C("[]\x00", 0), C("\xEF\xBB\xBF{}", 0), C("{} // c", 0), C("[/* c */]", 0), C("[1]\f", 0),
    C("\f[1]", 0), C("[\v1]", 0), C("[1\xc2\xa0]", 0), C("[1,,2]", 0), C("{\"a\":1\"b\":2}", 0), C("[[]", 0), C("[{}", 0),
    /* invalid: literals */
    C("[tru]", 0), C("[truex]", 0), C("[True]", 0), C("[nul]", 0), C("[NULL]", 0), C("[fals]", 0), C("[true1]", 0), C("[nan]", 0),
    C("[NaN]", 0), C("[Infinity]", 0), C("[-Infinity]", 0), C("[undefined]", 0),
    /* invalid: numbers */
    C("[01]", 0), C("[-01]", 0), C("[00]", 0), C("[1.]", 0), C("[.5]", 0), C("[-]", 0), C("[-.5]", 0), C("[+1]", 0), C("[1e]", 0),
    C("[1e+]", 0), C("[1E-]", 0), C("[1.e5]", 0), C("[0x10]", 0), C("[1_000]", 0), C("[--1]", 0), C("[1-2]", 0), C("[1.5.5]", 0),
    C("[9223372036854775808]", 0), C("[-9223372036854775809]", 0), C("[99999999999999999999]", 0), C("[1e309]", 0), C("[-1e309]", 0),
    C("[1.797693134862315808e308]", 0), C("[17976931348623159e292]", 0), C("[1e99999999999999999999999]", 0),
    /* invalid: strings */
    C("[\"abc]", 0), C("[\"abc", 0), C("[\"\\\"]", 0), C("[\"\\x41\"]", 0), C("[\"\\a\"]", 0), C("[\"\\'\"]", 0), C("[\"\\U0041\"]", 0),
    C("[\"\\u041\"]", 0), C("[\"\\u004G\"]", 0), C("[\"\\u\"]", 0), C("[\"\\", 0), C("[\"\\u0000\"]", 0), C("{\"\\u0000\":1}", 0),
    C("{\"a\\u0000b\":1}", 0), C("[\"\\uD800\"]", 0), C("[\"\\uDC00\"]", 0), C("[\"\\uD800\\u0041\"]", 0), C("[\"\\uD800\\uD800\"]", 0),
    C("[\"\\uD800\\n\"]", 0), C("[\"\\uD800x\"]", 0), C("[\"\\uD800\\\"]", 0), C("[\"\\uD800\\uDC0\"]", 0), C("[\"\\uDFFF\\uD800\"]", 0),
    C("[\"a\x00b\"]", 0), C("[\"a\nb\"]", 0), C("[\"a\tb\"]", 0), C("[\"a\rb\"]", 0), C("[\"\x1f\"]", 0), C("[\"\x01\"]", 0),
    /* invalid: UTF-8 */
    C("[\"\x80\"]", 0), C("[\"\xbf\"]", 0), C("[\"\xc0\x80\"]", 0), C("[\"\xc1\xbf\"]", 0), C("[\"\xc2\"]", 0), C("[\"\xc2\x41\"]", 0),
    C("[\"\xe0\x80\x80\"]", 0), C("[\"\xe0\x9f\xbf\"]", 0), C("[\"\xed\xa0\x80\"]", 0), C("[\"\xed\xbf\xbf\"]", 0), C("[\"\xe2\x82\"]", 0),
    C("[\"\xf0\x80\x80\x80\"]", 0), C("[\"\xf0\x8f\xbf\xbf\"]", 0), C("[\"\xf4\x90\x80\x80\"]", 0), C("[\"\xf5\x80\x80\x80\"]", 0),
    C("[\"\xf8\x88\x80\x80\x80\"]", 0), C("[\"\xfe\"]", 0), C("[\"\xff\"]", 0), C("[\"\xf0\x9f\x98\"]", 0), C("[\xc3\xa9]", 0),
    C("[\"\xe2\x82\xac", 0), C("[\"\xe2\x82", 0),
    /* jansson's lexer loses one NUL byte right after a number or a word, nowhere else */
    C("[1\0]", 1), C("[1.5e3\0]", 1), C("[-0\0,0\0]", 1), C("[true\0,false\0]", 1), C("{\"a\":null\0}", 1), C("[1\0 ]", 1),
    C("[1\0\0]", 0), C("[\"a\"\0]", 0), C("[1 \0]", 0), C("[\0 1]", 0), C("[-\0]", 0), C("[]\0", 0), C("[1\0x]", 0), C("[1\0" "2]", 0),
    C("{\"a\"\0:1}", 0), C("{\0}", 0), C("[{}\0]", 0), C("[tr\0ue]", 0), C("[1.\0" "5]", 0), C("[1e\0" "5]", 0),
};

static void test_corpus(void)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const case_t *c = &corpus[i];
        tf_jscan_t js;
        int mine = scan_ok(c->text, c->len, &js), theirs = jansson_ok(c->text, c->len);
        if (mine != c->valid || theirs != c->valid || !agrees(c->text, c->len)) {
            show(c->valid ? "should be valid" : "should be invalid", c->text, c->len);
            printf("#   scanner %d (%s at %zu), jansson %d\n", mine, mine ? "-" : js.err, js.err_pos, theirs);
            bad++;
        }
    }
    ok(bad == 0, "corpus: %zu texts, the expected verdict from the scanner and from jansson, same values",
       sizeof(corpus) / sizeof(corpus[0]));

    tf_jscan_t js;
    ok(tf_jscan_parse(&js, "[\"\\q\"]", 6, toks, TOKS) == TF_JSCAN_INVALID && js.err != NULL && strstr(js.err, "escape") && js.err_pos == 3,
       "a refusal says why and where");
    ok(tf_jscan_parse(&js, "{\"a\":1} x", 9, toks, TOKS) == TF_JSCAN_INVALID && js.err_pos == 8, "trailing garbage: refused at its offset");
}

/* ---- escapes, \u, surrogates ---------------------------------------------- */

static void test_escapes(void)
{
    static const struct {
        const char *esc;
        char want;
    } simple[] = {{"\\\"", '"'}, {"\\\\", '\\'}, {"\\/", '/'}, {"\\b", '\b'}, {"\\f", '\f'}, {"\\n", '\n'}, {"\\r", '\r'}, {"\\t", '\t'}};
    int bad = 0;
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        char text[32], out[8];
        int len = snprintf(text, sizeof(text), "[\"x%sy\"]", simple[i].esc);
        tf_jscan_t js;
        if (!scan_ok(text, (size_t)len, &js) || !js.tok[1].escaped || tf_jscan_unescape(js.src + js.tok[1].start, js.tok[1].len, out) != 3
            || out[0] != 'x' || out[1] != simple[i].want || out[2] != 'y' || !agrees(text, (size_t)len))
            bad++;
    }
    ok(bad == 0, "the eight short escapes decode to their bytes");

    /* every other backslash-byte pair is refused, as by jansson */
    bad = 0;
    for (int c = 0; c < 256; c++) {
        char text[8] = {'[', '"', '\\', (char)c, '"', ']'};
        if (!agrees(text, 6))
            bad++;
        if (strchr("\"\\/bfnrt", c) == NULL || c == 0) {
            tf_jscan_t js;
            if (scan_ok(text, 6, &js))
                bad++;
        }
    }
    ok(bad == 0, "backslash followed by each of the 256 bytes: only the eight escapes accepted, same as jansson");

    /* all 65536 \uXXXX, in lower and upper case: same verdict, same bytes */
    bad = 0;
    for (long cp = 0; cp < 0x10000; cp++) {
        char text[32];
        int len = snprintf(text, sizeof(text), cp & 1 ? "[\"\\u%04lX\"]" : "[\"\\u%04lx\"]", cp);
        if (!agrees(text, (size_t)len)) {
            if (bad++ < 5)
                show("\\u disagreement", text, (size_t)len);
        }
    }
    ok(bad == 0, "all 65536 \\uXXXX escapes: accepted and decoded as jansson does (\\u0000 and lone surrogates refused)");

    /* surrogate pairs: every high with some lows, every low with some highs, random pairs, and non-low seconds */
    bad = 0;
    long pairs = 0;
    for (long hi = 0xD800; hi <= 0xDBFF; hi++)
        for (int k = 0; k < 4; k++) {
            long los[] = {0xDC00, 0xDFFF, 0xDC00 + (long)(rnd() % 0x400), (long)(rnd() % 0x10000)};
            char text[40];
            int len = snprintf(text, sizeof(text), "[\"a\\u%04lX\\u%04lxb\"]", hi, los[k]);
            bad += !agrees(text, (size_t)len);
            pairs++;
        }
    for (long lo = 0xDC00; lo <= 0xDFFF; lo++) {
        char text[40];
        int len = snprintf(text, sizeof(text), "[\"\\u%04lx\\u%04lX\"]", 0xD800 + (long)(rnd() % 0x400), lo);
        bad += !agrees(text, (size_t)len);
        pairs++;
    }
    ok(bad == 0, "%ld surrogate pairs and near-pairs: same verdict and UTF-8 as jansson", pairs);

    tf_jscan_t js;
    char out[16];
    const char *t = "[\"\\uD83D\\uDE00 \\u00e9\\u20ac\\u0041\"]";
    ok(scan_ok(t, strlen(t), &js) && tf_jscan_unescape(js.src + js.tok[1].start, js.tok[1].len, out) == 11
           && memcmp(out, "\xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac" "A", 11) == 0,
       "\\u escapes become 1- to 4-byte UTF-8");
    ok(tf_jscan_str_eq(&js, 1, "\xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac" "A", 11) && !tf_jscan_str_eq(&js, 1, "\xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac", 10)
           && !tf_jscan_str_eq(&js, 1, "\xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac" "AB", 12) && !tf_jscan_str_eq(&js, 0, "x", 1),
       "tf_jscan_str_eq compares the unescaped text, not a prefix");
}

/* ---- UTF-8 ----------------------------------------------------------------- */

static int utf8_agrees(const unsigned char *seq, size_t k, int close)
{
    char text[16] = "[\"";
    memcpy(text + 2, seq, k);
    size_t len = 2 + k;
    if (close) {
        memcpy(text + len, "\"]", 2);
        len += 2;
    }
    return agrees(text, len);
}

static void test_utf8(void)
{
    int bad = 0;
    long checked = 0;
    unsigned char seq[4];
    for (int a = 0; a < 256; a++) {
        seq[0] = (unsigned char)a;
        bad += !utf8_agrees(seq, 1, 1);
        checked++;
        for (int b = 0; b < 256; b++) {
            seq[1] = (unsigned char)b;
            bad += !utf8_agrees(seq, 2, 1);
            checked++;
        }
    }
    ok(bad == 0, "every 1- and 2-byte sequence in a string (%ld): same verdict as jansson", checked);

    bad = 0;
    checked = 0;
    for (int a = 0xC0; a < 0x100; a++)
        for (int b = 0; b < 256; b++)
            for (int c = 0; c < 256; c++) {
                seq[0] = (unsigned char)a;
                seq[1] = (unsigned char)b;
                seq[2] = (unsigned char)c;
                /* beyond the lead bytes that start 3-byte sequences, a sample */
                if ((a < 0xE0 || a > 0xEF) && (b & 0x0F) != 0 && b != 0xBF && b != 0x8F)
                    continue;
                bad += !utf8_agrees(seq, 3, 1);
                checked++;
            }
    ok(bad == 0, "every 3-byte sequence led by E0..EF, and a sample of others (%ld): same verdict as jansson", checked);

    static const unsigned char edge[] = {0x00, 0x20, 0x22, 0x5C, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF};
    bad = 0;
    checked = 0;
    for (int a = 0xE0; a < 0x100; a++)
        for (int b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof(edge); c++)
                for (size_t d = 0; d < sizeof(edge); d++) {
                    seq[0] = (unsigned char)a;
                    seq[1] = (unsigned char)b;
                    seq[2] = edge[c];
                    seq[3] = edge[d];
                    bad += !utf8_agrees(seq, 4, 1);
                    checked++;
                }
    ok(bad == 0, "4-byte sequences: every lead E0..FF and second byte with edge third and fourth bytes (%ld): same as jansson", checked);

    /* cut short by the end of the input */
    static const char *const cut[] = {"\xc3", "\xe2\x82", "\xe2", "\xf0\x9f\x98", "\xf0\x9f", "\xf0"};
    bad = 0;
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        tf_jscan_t js;
        char text[16] = "[\"";
        size_t k = strlen(cut[i]);
        memcpy(text + 2, cut[i], k);
        bad += scan_ok(text, 2 + k, &js) || !utf8_agrees((const unsigned char *)cut[i], k, 0);
    }
    ok(bad == 0, "sequences cut by the end of the input are refused");
}

/* ---- nesting --------------------------------------------------------------- */

/* `depth` containers (objects when obj), holding `inner` (may be ""). */
static char *nest(int depth, int obj, const char *inner, size_t *len)
{
    size_t il = strlen(inner), per = obj ? 6 : 1;
    char *s = malloc(depth * (per + 1) + il + 1), *w = s;
    for (int i = 0; i < depth; i++) {
        if (obj && i > 0) {
            memcpy(w, "\"k\":", 4);
            w += 4;
        }
        *w++ = obj ? '{' : '[';
    }
    if (obj && *inner && depth > 0) {
        memcpy(w, "\"k\":", 4);
        w += 4;
    }
    memcpy(w, inner, il);
    w += il;
    for (int i = 0; i < depth; i++)
        *w++ = obj ? '}' : ']';
    *len = (size_t)(w - s);
    return s;
}

static void test_nesting(void)
{
    static const struct {
        int depth, obj;
        const char *inner;
        int valid;
    } cases[] = {
        {2047, 0, "1", 1},  {2048, 0, "", 1},  {2048, 0, "1", 0},   {2049, 0, "", 0},  {2048, 1, "", 1},     {2048, 1, "1", 0},
        {2047, 1, "1", 1},  {2049, 1, "", 0},  {2047, 0, "[]", 1},  {2047, 0, "{}", 1}, {2048, 0, "[]", 0},  {100000, 0, "", 0},
        {2047, 0, "\"s\"", 1}, {2048, 0, "\"s\"", 0},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *s = nest(cases[i].depth, cases[i].obj, cases[i].inner, &len);
        tf_jscan_t js;
        int rc = tf_jscan_parse(&js, s, len, NULL, 0); /* counting only: depth does not depend on tokens */
        int mine = rc == TF_JSCAN_NOSPACE, theirs = jansson_ok(s, len);
        if (mine != cases[i].valid || theirs != cases[i].valid) {
            printf("# depth %d %s inner '%s': scanner %d (%s), jansson %d\n", cases[i].depth, cases[i].obj ? "objects" : "arrays",
                   cases[i].inner, mine, mine ? "-" : js.err, theirs);
            bad++;
        }
        free(s);
    }
    ok(bad == 0, "nesting: 2048 containers, a value inside at most 2047 (jansson's limit); deeper refused, also 100000 deep");

    /* mixed object/array nesting pops the right kind */
    const char *mixed = "{\"a\":[{\"b\":[[{}],{\"c\":[1,{\"d\":2}]}]}],\"e\":{\"f\":[]}}";
    ok(agrees(mixed, strlen(mixed)), "mixed nesting read as jansson reads it");
    const char *wrong = "{\"a\":[{\"b\":[[{}],{\"c\":[1,{\"d\":2}]]}]}],\"e\":{\"f\":[]}}";
    tf_jscan_t js;
    ok(!scan_ok(wrong, strlen(wrong), &js) && !jansson_ok(wrong, strlen(wrong)), "a mismatched bracket deep inside is refused");
    /* the kind stack is 64-bit words: random kinds around the word edges,
     * closed right, and closed with one wrong bracket */
    int kind_bad = 0;
    for (int d = 60; d < 200; d++) {
        char *kinds = malloc((size_t)d), *s = malloc(6 * (size_t)d + 16), *w = s;
        for (int i = 0; i < d; i++) {
            kinds[i] = rnd() % 2 ? '{' : '[';
            if (i > 0 && kinds[i - 1] == '{')
                w += sprintf(w, "\"k\":");
            *w++ = kinds[i];
        }
        w += sprintf(w, "%s", kinds[d - 1] == '{' ? "\"x\":1" : "1");
        for (int i = d - 1; i >= 0; i--)
            *w++ = kinds[i] == '{' ? '}' : ']';
        size_t len = (size_t)(w - s);
        kind_bad += !scan_ok(s, len, &js) || !agrees(s, len);
        size_t flip = len - 1 - rnd() % (size_t)d; /* one closing bracket of the wrong kind */
        s[flip] = s[flip] == '}' ? ']' : '}';
        kind_bad += scan_ok(s, len, &js) || !agrees(s, len);
        free(kinds);
        free(s);
    }
    ok(kind_bad == 0, "alternating kinds across the 64-bit words of the kind stack: same verdict as jansson");
}

/* ---- numbers --------------------------------------------------------------- */

static void test_numbers(void)
{
    static const char *const nums[] = {
        "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
        "9223372036854775806", "10000000000000000000", "922337203685477580", "-922337203685477580", "1000000000000000",
        "1.0", "1e0", "1E+0", "-1e-0", "1e308", "1e309", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.79769313486231580793728971405303415079934894185924850940395553437302758245913316733e308",
        "1.797693134862315807937289714053034150799341327710760", "1.7976931348623158079372897140530341507993413271003782693617377898044496829276475094664e308",
        "1.7976931348623158079372897140530341507993413271003782693617377898044496829276475094665e308",
        "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070"
        "9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447"
        "5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904"
        "174497791",
        "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070"
        "9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447"
        "5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904"
        "174497792",
        "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070"
        "9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447"
        "5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904"
        "174497791.9999999999999999999999",
        "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070"
        "9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447"
        "5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904"
        "174497791e0",
        "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070"
        "9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447"
        "5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904"
        "174497792e0",
        "-1.8e308", "2e308", "1.5e308", "9.9e307", "0.1e310", "0.01e310", "10e307", "100e306", "0.00000000000000000001e329",
        "1e-324", "1e-400", "2.4703282292062327e-324", "0e9999999999999999999999", "0.0e-9999999999999999999999", "1e-9999999999999999999999",
        "1e9999999999999999999999", "-0.0", "123456789012345678901234567890.5", "0.000001", "5e-1",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        char text[512];
        int len = snprintf(text, sizeof(text), "[%s]", nums[i]);
        if (!agrees(text, (size_t)len)) {
            tf_jscan_t js;
            printf("# %s: scanner %d, jansson %d\n", nums[i], scan_ok(text, (size_t)len, &js), jansson_ok(text, (size_t)len));
            bad++;
        }
    }
    ok(bad == 0, "%zu numbers at the 64-bit integer and double limits: same verdict and value as jansson", sizeof(nums) / sizeof(nums[0]));

    /* the overflow band, digit by digit: reals around DBL_MAX with ever longer mantissas */
    bad = 0;
    char text[1200];
    for (int len = 1; len < 330; len++)
        for (int v = 0; v < 6; v++) {
            /* 1797693134862315807937289714053... truncated/perturbed, then scaled to e308 */
            static const char dmax[] = "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070"
        "9633028641669288791094655554785194040263065748867150582068190890200070838367627385484581771153176447"
        "5730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904"
        "17449779";
            size_t k = (size_t)len < sizeof(dmax) - 1 ? (size_t)len : sizeof(dmax) - 1;
            int at = snprintf(text, sizeof(text), "[");
            memcpy(text + at, dmax, k);
            at += (int)k;
            if (v == 1 && k > 1)
                text[at - 1] = text[at - 1] == '9' ? '0' : (char)(text[at - 1] + 1);
            if (v == 2)
                at += sprintf(text + at, "0000000000001");
            if (v == 3)
                at += sprintf(text + at, "9");
            if (v == 4)
                at += sprintf(text + at, ".%d", len);
            at += sprintf(text + at, "e%d]", 309 - (int)k - (v == 2 ? 13 : v == 3 ? 1 : 0) - (v == 5 ? 1 : 0));
            if (!agrees(text, (size_t)at)) {
                if (bad++ < 3)
                    printf("# %s\n", text);
            }
        }
    ok(bad == 0, "reals around DBL_MAX with 1..330 significant digits: the overflow verdict is jansson's (strtod's)");

    tf_jscan_t js;
    long long v;
    const char *ints = "[0,-0,9223372036854775807,-9223372036854775808,42,1.0,\"7\"]";
    ok(scan_ok(ints, strlen(ints), &js) && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 0), &v) == 0 && v == 0
           && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 1), &v) == 0 && v == 0
           && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 2), &v) == 0 && v == INT64_MAX
           && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 3), &v) == 0 && v == INT64_MIN
           && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 4), &v) == 0 && v == 42 && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 5), &v) == -1
           && tf_jscan_integer(&js, tf_jscan_index(&js, 0, 6), &v) == -1 && tf_jscan_integer(&js, -1, &v) == -1,
       "tf_jscan_integer: the 64-bit extremes and -0; reals, strings and nothing are not integers");
}

/* ---- tokens and lookups ---------------------------------------------------- */

static void test_tokens(void)
{
    tf_jscan_t js;
    const char *t = "{\"a\":1,\"b\":[true,{\"c\":\"x\"},[]],\"a\":\"last\",\"d\":{}}";
    int rc = tf_jscan_parse(&js, t, strlen(t), toks, TOKS);
    /* {  a 1  b [ true { c "x" } [ ]  a "last"  d { } */
    ok(rc == TF_JSCAN_OK && js.ntok == 14, "token count: objects hold keys and values (%zu)", js.ntok);
    ok(js.tok[0].type == TF_JSCAN_OBJECT && js.tok[0].start == 0 && js.tok[0].len == strlen(t) && js.tok[0].next == 14,
       "token 0 is the whole top-level object");
    int b = tf_jscan_member(&js, 0, "b");
    ok(b == 4 && js.tok[b].type == TF_JSCAN_ARRAY && js.tok[b].next == 10 && memcmp(t + js.tok[b].start, "[true", 5) == 0
           && js.tok[b].len == strlen("[true,{\"c\":\"x\"},[]]"),
       "an array token spans its brackets and `next` skips what it holds");
    int a = tf_jscan_member(&js, 0, "a");
    ok(tf_jscan_str_eq(&js, a, "last", 4), "a duplicate key: the last member wins (as jansson keeps it)");
    ok(tf_jscan_member_of(&js, 0, "a", TF_JSCAN_STRING) == a && tf_jscan_member_of(&js, 0, "a", TF_JSCAN_INTEGER) == -1,
       "member_of checks the type of the member that counts");
    ok(tf_jscan_member(&js, 0, "zz") == -1 && tf_jscan_member(&js, b, "a") == -1 && tf_jscan_member(&js, -1, "a") == -1
           && tf_jscan_member(&js, 0, "") == -1,
       "missing members, members of arrays and of nothing: -1");
    int e1 = tf_jscan_index(&js, b, 1);
    ok(tf_jscan_type(&js, tf_jscan_index(&js, b, 0)) == TF_JSCAN_TRUE && tf_jscan_type(&js, e1) == TF_JSCAN_OBJECT
           && tf_jscan_str_eq(&js, tf_jscan_member(&js, e1, "c"), "x", 1) && tf_jscan_type(&js, tf_jscan_index(&js, b, 2)) == TF_JSCAN_ARRAY
           && tf_jscan_index(&js, b, 3) == -1 && tf_jscan_index(&js, 0, 0) == -1 && tf_jscan_index(&js, -1, 0) == -1,
       "tf_jscan_index: elements in order; past the end, of an object, of nothing: -1");
    int empty = tf_jscan_index(&js, b, 2);
    ok(tf_jscan_first(&js, empty) == -1 && tf_jscan_next(&js, b, tf_jscan_index(&js, b, 2)) == -1 && tf_jscan_next(&js, b, -1) == -1,
       "walking: an empty array has no first element, the last has no next");
    ok(tf_jscan_type(&js, -1) == TF_JSCAN_NONE && tf_jscan_type(&js, 14) == TF_JSCAN_NONE, "types of no token: NONE");

    const char *dup = "{\"c\\u006fntent\":\"A\",\"content\":\"B\",\"co\\ntent\":\"C\"}";
    ok(scan_ok(dup, strlen(dup), &js) && tf_jscan_str_eq(&js, tf_jscan_member(&js, 0, "content"), "B", 1)
           && tf_jscan_str_eq(&js, tf_jscan_member(&js, 0, "co\ntent"), "C", 1) && agrees(dup, strlen(dup)),
       "keys compare unescaped: \"c\\u006fntent\" and \"content\" are one name, the later wins");
    const char *dup2 = "{\"content\":\"B\",\"c\\u006fntent\":\"A\"}";
    ok(scan_ok(dup2, strlen(dup2), &js) && tf_jscan_str_eq(&js, tf_jscan_member(&js, 0, "content"), "A", 1), "... in either order");

    /* NOSPACE: the scan goes on counting and still validates */
    tf_jscan_tok_t few[3];
    rc = tf_jscan_parse(&js, t, strlen(t), few, 3);
    ok(rc == TF_JSCAN_NOSPACE && js.ntok == 14, "too few tokens: NOSPACE with the number needed");
    rc = tf_jscan_parse(&js, "[1,2,3,x]", 9, few, 3);
    ok(rc == TF_JSCAN_INVALID, "too few tokens and invalid: INVALID (nobody allocates for junk)");
    rc = tf_jscan_parse(&js, t, strlen(t), NULL, 0);
    ok(rc == TF_JSCAN_NOSPACE && js.ntok == 14, "no tokens at all: a pure validating count");
    tf_jscan_tok_t fourteen[14];
    rc = tf_jscan_parse(&js, t, strlen(t), fourteen, 14);
    ok(rc == TF_JSCAN_OK && tf_jscan_str_eq(&js, tf_jscan_member(&js, 0, "a"), "last", 4), "exactly enough tokens: OK");
    ok(js.escapes == 0 && scan_ok(dup, strlen(dup), &js) && js.escapes == 1, "escapes says whether any string needs unescaping");
    int caps_bad = 0;
    for (size_t cap = 0; cap < 14; cap++) {
        tf_jscan_tok_t some[14];
        caps_bad += tf_jscan_parse(&js, t, strlen(t), some, cap) != TF_JSCAN_NOSPACE || js.ntok != 14;
    }
    ok(caps_bad == 0, "every too-small capacity (0..13) gives NOSPACE and 14");
}

/* ---- random texts ------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *s, size_t k)
{
    if (o->len + k + 1 > o->cap) {
        o->cap = (o->len + k + 1) * 2;
        o->p = realloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, s, k);
    o->len += k;
    o->p[o->len] = '\0';
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void ws(out_t *o)
{
    static const char *const w[] = {"", "", "", "", " ", "\n", "\t", "\r\n  "};
    puts_(o, w[rnd() % 8]);
}

static void gen_string(out_t *o)
{
    static const char *const bits[] = {"content", "text", "a", "b", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\uD83D\\uDE00",
                                       "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\u0041", "\\t", " ", "x", "stop"};
    put(o, "\"", 1);
    int k = (int)(rnd() % 5);
    for (int i = 0; i < k; i++)
        puts_(o, bits[rnd() % (sizeof(bits) / sizeof(bits[0]))]);
    put(o, "\"", 1);
}

static void gen_value(out_t *o, int depth)
{
    static const char *const scalars[] = {"0", "-0", "1", "-7", "3.25", "1e3", "-2E-2", "9223372036854775807", "-9223372036854775808",
                                          "1e308", "1e-320", "true", "false", "null", "1000000000000000", "1000000000000001"};
    int pick = (int)(rnd() % (depth > 6 ? 3 : 6));
    if (pick == 0) {
        puts_(o, scalars[rnd() % (sizeof(scalars) / sizeof(scalars[0]))]);
    } else if (pick == 1 || pick == 2) {
        gen_string(o);
    } else if (pick == 3 || pick == 4) {
        static const char *const keys[] = {"\"a\"", "\"b\"", "\"content\"", "\"c\\u006fntent\"", "\"\"", "\"text\"", "\"a\""};
        put(o, "{", 1);
        int k = (int)(rnd() % 5);
        for (int i = 0; i < k; i++) {
            if (i)
                put(o, ",", 1);
            ws(o);
            puts_(o, keys[rnd() % (sizeof(keys) / sizeof(keys[0]))]);
            ws(o);
            put(o, ":", 1);
            ws(o);
            gen_value(o, depth + 1);
            ws(o);
        }
        put(o, "}", 1);
    } else {
        put(o, "[", 1);
        int k = (int)(rnd() % 5);
        for (int i = 0; i < k; i++) {
            if (i)
                put(o, ",", 1);
            ws(o);
            gen_value(o, depth + 1);
            ws(o);
        }
        put(o, "]", 1);
    }
}

/* Flips, inserts, deletes or duplicates a few bytes, or cuts the text. */
static void mutate(out_t *o)
{
    static const char special[] = "{}[]:,\"\\ -+.eE0129tfnu\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xff";
    int k = 1 + (int)(rnd() % 3);
    for (int m = 0; m < k && o->len > 0; m++) {
        size_t at = rnd() % o->len;
        char c = special[rnd() % (sizeof(special) - 1)];
        switch (rnd() % 5) {
        case 0:
            o->p[at] = c;
            break;
        case 1:
            put(o, " ", 1); /* room for one more */
            memmove(o->p + at + 1, o->p + at, o->len - at - 1);
            o->p[at] = c;
            break;
        case 2:
            memmove(o->p + at, o->p + at + 1, o->len - at - 1);
            o->len--;
            break;
        case 3:
            o->len = at;
            break;
        default:
            o->p[at] = (char)(rnd() & 0xFF);
        }
    }
}

static void test_random(void)
{
    out_t o = {0};
    int bad = 0, valid = 0, total = 0;
    for (int i = 0; i < 30000; i++) {
        o.len = 0;
        ws(&o);
        if (rnd() % 2)
            gen_value(&o, 0);
        else { /* mostly objects and arrays at the top */
            put(&o, "{\"k\":", 5);
            gen_value(&o, 1);
            put(&o, "}", 1);
        }
        ws(&o);
        if (i % 3 == 0)
            mutate(&o);
        total++;
        tf_jscan_t js;
        valid += scan_ok(o.p, o.len, &js);
        if (!agrees(o.p, o.len)) {
            if (bad++ < 5) {
                show("disagreement", o.p, o.len);
                printf("#   scanner: %s at %zu\n", scan_ok(o.p, o.len, &js) ? "valid" : js.err, js.err_pos);
            }
        }
    }
    free(o.p);
    ok(bad == 0, "%d random and mutated texts (%d valid): the scanner and jansson agree on every one, value by value", total, valid);
    ok(valid > total / 4 && valid < total, "the random texts are a mix of valid and invalid (%d of %d valid)", valid, total);
}

int main(void)
{
    test_corpus();
    test_escapes();
    test_utf8();
    test_nesting();
    test_numbers();
    test_tokens();
    test_random();
    return tap_end();
}
