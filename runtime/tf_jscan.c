/*
 * tf_jscan.c - the zero-allocation JSON scanner; see tf_jscan.h for what
 * it accepts (jansson 2.14's rules) and how tokens are laid out.
 *
 * One loop over the bytes with no recursion: the kinds of the open
 * containers sit in a bit stack (2048 bits), and an open container's token
 * keeps its parent's index in `next` until its closing bracket, when `next`
 * gets its real value. When the caller's token array fills up the scan
 * goes on only counting, so the caller learns both that the input is valid
 * and how many tokens it needs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tf_jscan.h"
#include "tf_utf8.h"

/* A real's significant digits handed to strtod when its size is close to
 * DBL_MAX; more cannot change the answer (see real_overflows). */
enum { REAL_DIGITS = 400 };

typedef struct scan {
    tf_jscan_t *js;
    const unsigned char *s;
    size_t len;
    size_t cap; /* tokens the caller gave room for */
    size_t n;   /* tokens seen; once over cap nothing more is written */
    uint32_t open;  /* token of the innermost open container (while n <= cap) */
    size_t depth;   /* open containers */
    uint64_t object[TF_JSCAN_MAX_DEPTH / 64]; /* bit d: the container at depth d is an object */
} scan_t;

static int refuse(scan_t *sc, size_t at, const char *why)
{
    sc->js->err = why;
    sc->js->err_pos = at;
    return TF_JSCAN_INVALID;
}

/* JSON whitespace is exactly these four (jansson too). */
static size_t skip_ws(const scan_t *sc, size_t i)
{
    while (i < sc->len && (sc->s[i] == ' ' || sc->s[i] == '\n' || sc->s[i] == '\r' || sc->s[i] == '\t'))
        i++;
    return i;
}

static int in_object(const scan_t *sc)
{
    size_t d = sc->depth - 1;
    return (int)((sc->object[d / 64] >> (d % 64)) & 1);
}

static void add_token(scan_t *sc, tf_jscan_type_t type, size_t start, size_t len, int escaped)
{
    if (sc->n < sc->cap) {
        tf_jscan_tok_t *t = &sc->js->tok[sc->n];
        t->type = (uint8_t)type;
        t->escaped = (uint8_t)escaped;
        t->start = (uint32_t)start;
        t->len = (uint32_t)len;
        t->next = (uint32_t)(sc->n + 1);
    }
    sc->n++;
}

static void open_container(scan_t *sc, size_t at, int object)
{
    size_t d = sc->depth++;
    if (object)
        sc->object[d / 64] |= (uint64_t)1 << (d % 64);
    else
        sc->object[d / 64] &= ~((uint64_t)1 << (d % 64));
    if (sc->n < sc->cap) {
        add_token(sc, object ? TF_JSCAN_OBJECT : TF_JSCAN_ARRAY, at, 0, 0);
        sc->js->tok[sc->n - 1].next = sc->open; /* the parent, until the close */
        sc->open = (uint32_t)(sc->n - 1);
    } else {
        sc->n++;
    }
}

static void close_container(scan_t *sc, size_t at)
{
    sc->depth--;
    if (sc->n > sc->cap) /* only counting now: the parent chain is incomplete and unneeded */
        return;
    tf_jscan_tok_t *t = &sc->js->tok[sc->open];
    sc->open = t->next;
    t->next = (uint32_t)sc->n;
    t->len = (uint32_t)(at + 1 - t->start);
}

/* ---- strings ---------------------------------------------------------------- */

static int hex4(const unsigned char *p, size_t avail)
{
    if (avail < 4)
        return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v += c - '0';
        else if (c >= 'a' && c <= 'f')
            v += c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v += c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* The escape at s[*i] (a backslash); *i moves past it. */
static int escape(scan_t *sc, size_t *i)
{
    const unsigned char *s = sc->s;
    size_t at = *i + 1;
    if (at == sc->len)
        return refuse(sc, at, "premature end of input");
    switch (s[at]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *i = at + 1;
        return 0;
    case 'u':
        break;
    default:
        return refuse(sc, at, "invalid escape");
    }
    int cp = hex4(s + at + 1, sc->len - at - 1);
    if (cp < 0)
        return refuse(sc, at, "invalid escape");
    at += 5;
    /* Text goes on as C strings: a NUL would cut it short. */
    if (cp == 0)
        return refuse(sc, at, "\\u0000 is not allowed");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return refuse(sc, at, "unpaired low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (sc->len - at < 2 || s[at] != '\\' || s[at + 1] != 'u')
            return refuse(sc, at, "unpaired high surrogate");
        int lo = hex4(s + at + 2, sc->len - at - 2);
        if (lo < 0)
            return refuse(sc, at, "invalid escape");
        if (lo < 0xDC00 || lo > 0xDFFF)
            return refuse(sc, at, "unpaired high surrogate");
        at += 6;
    }
    *i = at;
    return 0;
}

/*
 * The bytes a string is mostly made of (printable ASCII other than '"' and
 * '\\') are skipped eight at a time. special8 flags, in each byte's high
 * bit, the bytes that are not such: the classic "has a zero byte" test
 * ((x - 0x01..) & ~x & 0x80..) on x = w ^ '"' and x = w ^ '\\', the same
 * as "has a byte below 0x20" on w, and w's own high bits for bytes above
 * 0x7F. A test can also flag bytes after a real match (a borrow moves up),
 * never before one, so the lowest flag is exact.
 */
static uint64_t special8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    /* byte k in bits 8k..8k+7 whatever the machine's byte order (one load on x86) */
    uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32
                 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    return (((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | ((w - ones * 0x20) & ~w) | w) & high;
}

/* The offset of the first byte from `at` on that is not plain string text, or len. */
static size_t skip_plain(const unsigned char *s, size_t at, size_t len)
{
    while (len - at >= 8) {
        uint64_t m = special8(s + at);
        if (m != 0)
            return at + (size_t)__builtin_ctzll(m) / 8;
        at += 8;
    }
    while (at < len && s[at] >= 0x20 && s[at] < 0x80 && s[at] != '"' && s[at] != '\\')
        at++;
    return at;
}

/* The string whose opening quote is s[*i]; *i moves past its closing quote. */
static int string(scan_t *sc, size_t *i)
{
    const unsigned char *s = sc->s;
    size_t start = *i + 1, at = start;
    int escaped = 0;
    for (;;) {
        at = skip_plain(s, at, sc->len);
        if (at == sc->len)
            return refuse(sc, at, "premature end of input in a string");
        if (s[at] == '"')
            break;
        if (s[at] == '\\') {
            escaped = 1;
            if (escape(sc, &at) < 0)
                return TF_JSCAN_INVALID;
        } else if (s[at] < 0x20) {
            return refuse(sc, at, "control character in a string");
        } else {
            size_t n = tf_utf8_seq(s + at, sc->len - at); /* as jansson's utf8_check_full */
            if (n == 0)
                return refuse(sc, at, "invalid UTF-8");
            at += n;
        }
    }
    add_token(sc, TF_JSCAN_STRING, start, at - start, escaped);
    sc->js->escapes |= escaped;
    *i = at + 1;
    return 0;
}

/* ---- numbers ---------------------------------------------------------------- */

static int digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Whether the real s[0..n) (its grammar checked) is too big for a double:
 * jansson refuses those ("real number overflow") but takes underflow as 0.
 * With the first significant digit at 10^(e-1), the value is below
 * 10^308 < DBL_MAX when e <= 308 and above it when e >= 310; only e == 309
 * needs strtod, which gets at most REAL_DIGITS significant digits plus a
 * 1 when a later digit is not 0 (enough: the overflow threshold
 * 2^1024 - 2^970 is an integer of 309 digits) and no decimal point, so
 * neither the length of the input nor the locale matters.
 */
static int real_overflows(const unsigned char *s, size_t n)
{
    size_t i = s[0] == '-', first = SIZE_MAX, ndigits = 0;
    long long intdigits = 0;
    int in_fraction = 0;
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            in_fraction = 1;
            continue;
        }
        if (first == SIZE_MAX && s[i] != '0')
            first = ndigits;
        ndigits++;
        intdigits += !in_fraction;
    }
    if (first == SIZE_MAX) /* zero, whatever its exponent */
        return 0;
    long long exp = 0;
    if (i < n) {
        int neg = s[++i] == '-';
        if (s[i] == '-' || s[i] == '+')
            i++;
        for (; i < n; i++)
            if (exp < 1000000000000LL) /* far beyond any double, and no overflow of exp */
                exp = exp * 10 + (s[i] - '0');
        if (neg)
            exp = -exp;
    }
    long long e = intdigits - (long long)first + exp;
    if (e <= 308)
        return 0;
    if (e >= 310)
        return 1;
    char buf[REAL_DIGITS + 16];
    size_t k = 0, seen = 0;
    for (i = s[0] == '-'; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.' || seen++ < first)
            continue;
        if (k < REAL_DIGITS)
            buf[k++] = (char)s[i];
        else if (s[i] != '0') {
            buf[k++] = '1';
            break;
        }
    }
    buf[k] = 'e';
    /* 0.DIGITS x 10^309 == DIGITS x 10^(309-k) */
    int ek = 309 - (int)k, at = (int)k + 1;
    if (ek < 0) {
        buf[at++] = '-';
        ek = -ek;
    }
    char tmp[8];
    int nt = 0;
    do
        tmp[nt++] = (char)('0' + ek % 10);
    while ((ek /= 10) > 0);
    while (nt > 0)
        buf[at++] = tmp[--nt];
    buf[at] = '\0';
    return isinf(strtod(buf, NULL));
}

/* The number starting at s[*i] ('-' or a digit); *i moves past it. */
static int number(scan_t *sc, size_t *i)
{
    const unsigned char *s = sc->s;
    size_t start = *i, at = start;
    int neg = s[at] == '-', real = 0;
    at += neg;
    if (at == sc->len || !digit(s[at]))
        return refuse(sc, at, "invalid number");
    size_t int_start = at;
    if (s[at] == '0') {
        at++;
        if (at < sc->len && digit(s[at]))
            return refuse(sc, at, "invalid number: a leading zero");
    } else {
        while (at < sc->len && digit(s[at]))
            at++;
    }
    size_t int_digits = at - int_start;
    if (at < sc->len && s[at] == '.') {
        at++;
        if (at == sc->len || !digit(s[at]))
            return refuse(sc, at, "invalid number");
        while (at < sc->len && digit(s[at]))
            at++;
        real = 1;
    }
    if (at < sc->len && (s[at] == 'e' || s[at] == 'E')) {
        at++;
        if (at < sc->len && (s[at] == '+' || s[at] == '-'))
            at++;
        if (at == sc->len || !digit(s[at]))
            return refuse(sc, at, "invalid number");
        while (at < sc->len && digit(s[at]))
            at++;
        real = 1;
    }
    if (!real) {
        /* strtoll's range, which jansson uses: no leading zeros here, so
         * the digit count and one comparison decide */
        const char *limit = neg ? "9223372036854775808" : "9223372036854775807";
        if (int_digits > 19 || (int_digits == 19 && memcmp(s + int_start, limit, 19) > 0))
            return refuse(sc, start, "integer out of range");
    } else if (real_overflows(s + start, at - start)) {
        return refuse(sc, start, "real number overflow");
    }
    add_token(sc, real ? TF_JSCAN_REAL : TF_JSCAN_INTEGER, start, at - start, 0);
    *i = at;
    return 0;
}

/* ---- values ----------------------------------------------------------------- */

static int literal(scan_t *sc, size_t *i, const char *word, tf_jscan_type_t type)
{
    size_t n = strlen(word);
    if (sc->len - *i < n || memcmp(sc->s + *i, word, n) != 0)
        return refuse(sc, *i, "invalid token");
    add_token(sc, type, *i, n, 0);
    *i += n;
    return 0;
}

/* A number, true, false or null at s[*i]. */
static int bare_word(scan_t *sc, size_t *i)
{
    unsigned char c = sc->s[*i];
    int rc;
    if (c == '-' || digit(c))
        rc = number(sc, i);
    else if (c == 't')
        rc = literal(sc, i, "true", TF_JSCAN_TRUE);
    else if (c == 'f')
        rc = literal(sc, i, "false", TF_JSCAN_FALSE);
    else if (c == 'n')
        rc = literal(sc, i, "null", TF_JSCAN_NULL);
    else
        return refuse(sc, *i, "invalid token");
    /* jansson's quirk, kept so that both accept the same inputs: its lexer
     * reads one byte past a number or a word and puts it back, and a NUL
     * put back looks like its empty buffer, so that one byte is lost. */
    if (rc == 0 && *i < sc->len && sc->s[*i] == '\0')
        (*i)++;
    return rc;
}

/* A value other than an object or array, at s[*i]. */
static int scalar(scan_t *sc, size_t *i)
{
    if (sc->s[*i] == '"')
        return string(sc, i);
    return bare_word(sc, i);
}

/* A member's key and its colon, at s[*i] (whitespace skipped). */
static int member_key(scan_t *sc, size_t *i)
{
    if (*i == sc->len || sc->s[*i] != '"')
        return refuse(sc, *i, "string or '}' expected");
    if (string(sc, i) < 0)
        return TF_JSCAN_INVALID;
    *i = skip_ws(sc, *i);
    if (*i == sc->len || sc->s[*i] != ':')
        return refuse(sc, *i, "':' expected");
    (*i)++;
    return 0;
}

int tf_jscan_parse(tf_jscan_t *js, const char *src, size_t len, tf_jscan_tok_t *tok, size_t cap)
{
    memset(js, 0, sizeof(*js));
    js->src = src;
    js->len = len;
    js->tok = tok;
    scan_t sc = {.js = js, .s = (const unsigned char *)src, .len = len, .cap = tok != NULL ? cap : 0, .open = UINT32_MAX};
    if (len >= UINT32_MAX) /* offsets are 32 bits */
        return refuse(&sc, 0, "input of 4 GiB or more");
    if (sc.cap > UINT32_MAX - 1)
        sc.cap = UINT32_MAX - 1;

    size_t i = skip_ws(&sc, 0);
    if (i == len || (src[i] != '{' && src[i] != '['))
        return refuse(&sc, i, "'[' or '{' expected");
    int after = 0; /* 0: a value starts at i; 1: a value ended before i */
    for (;;) {
        i = skip_ws(&sc, i);
        if (!after) {
            if (i == len)
                return refuse(&sc, i, "premature end of input");
            if (sc.depth == TF_JSCAN_MAX_DEPTH)
                return refuse(&sc, i, "maximum nesting depth reached");
            unsigned char c = sc.s[i];
            if (c != '{' && c != '[') {
                if (scalar(&sc, &i) < 0)
                    return TF_JSCAN_INVALID;
                after = 1;
                continue;
            }
            open_container(&sc, i, c == '{');
            i = skip_ws(&sc, i + 1);
            if (i < len && sc.s[i] == (c == '{' ? '}' : ']')) {
                close_container(&sc, i);
                i++;
                after = 1;
            } else if (c == '{' && member_key(&sc, &i) < 0) {
                return TF_JSCAN_INVALID;
            }
            continue;
        }
        if (sc.depth == 0) {
            if (i != len)
                return refuse(&sc, i, "end of input expected");
            break;
        }
        if (i == len)
            return refuse(&sc, i, "premature end of input");
        int object = in_object(&sc);
        if (sc.s[i] == ',') {
            i = skip_ws(&sc, i + 1);
            after = 0;
            if (object && member_key(&sc, &i) < 0)
                return TF_JSCAN_INVALID;
        } else if (sc.s[i] == (object ? '}' : ']')) {
            close_container(&sc, i);
            i++;
        } else {
            return refuse(&sc, i, object ? "',' or '}' expected" : "',' or ']' expected");
        }
    }
    js->ntok = sc.n;
    return sc.n > sc.cap ? TF_JSCAN_NOSPACE : TF_JSCAN_OK;
}

/* ---- lookups ---------------------------------------------------------------- */

tf_jscan_type_t tf_jscan_type(const tf_jscan_t *js, int t)
{
    return t >= 0 && (size_t)t < js->ntok ? (tf_jscan_type_t)js->tok[t].type : TF_JSCAN_NONE;
}

/* The escape at raw[*i] (a backslash) as UTF-8 in out; *i moves past it.
 * The input was scanned, so the escape is well-formed. */
static size_t unescape_one(const char *raw, size_t *i, char *out)
{
    char c = raw[*i + 1];
    *i += 2;
    switch (c) {
    case 'b':
        *out = '\b';
        return 1;
    case 'f':
        *out = '\f';
        return 1;
    case 'n':
        *out = '\n';
        return 1;
    case 'r':
        *out = '\r';
        return 1;
    case 't':
        *out = '\t';
        return 1;
    case 'u':
        break;
    default: /* " \ / */
        *out = c;
        return 1;
    }
    long cp = hex4((const unsigned char *)raw + *i, 4);
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* the scan made sure a low surrogate follows */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4((const unsigned char *)raw + *i + 2, 4) - 0xDC00);
        *i += 6;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t tf_jscan_unescape(const char *raw, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        const char *bs = memchr(raw + i, '\\', n - i);
        size_t run = bs != NULL ? (size_t)(bs - raw) - i : n - i;
        memcpy(out + o, raw + i, run);
        o += run;
        i += run;
        if (i < n)
            o += unescape_one(raw, &i, out + o);
    }
    return o;
}

/* Compares an escaped string with s[0..n) a piece at a time, writing nothing. */
static int escaped_eq(const char *raw, size_t rawlen, const char *s, size_t n)
{
    size_t i = 0, o = 0;
    while (i < rawlen) {
        char piece[4];
        size_t k = 1;
        if (raw[i] == '\\')
            k = unescape_one(raw, &i, piece);
        else
            piece[0] = raw[i++];
        if (n - o < k || memcmp(s + o, piece, k) != 0)
            return 0;
        o += k;
    }
    return o == n;
}

/* String token k's text is s[0..n). Most keys looked at differ in length
 * from the one wanted, which settles it without reading their bytes. */
static int tok_eq(const tf_jscan_t *js, const tf_jscan_tok_t *k, const char *s, size_t n)
{
    if (!k->escaped) /* the first byte before memcmp: "model" and "usage" have one length */
        return k->len == n && (n == 0 || (js->src[k->start] == s[0] && memcmp(js->src + k->start, s, n) == 0));
    /* an escape shortens the text: a raw form shorter than s cannot match */
    return k->len >= n && escaped_eq(js->src + k->start, k->len, s, n);
}

int tf_jscan_str_eq(const tf_jscan_t *js, int t, const char *s, size_t n)
{
    return tf_jscan_type(js, t) == TF_JSCAN_STRING && tok_eq(js, &js->tok[t], s, n);
}

int tf_jscan_member(const tf_jscan_t *js, int obj, const char *key)
{
    if (tf_jscan_type(js, obj) != TF_JSCAN_OBJECT)
        return -1;
    const tf_jscan_tok_t *tok = js->tok;
    size_t n = strlen(key);
    int found = -1;
    /* every member, not the first match: the last of a name counts */
    for (uint32_t k = (uint32_t)obj + 1; k < tok[obj].next; k = tok[k + 1].next) {
        if (!tok[k].escaped && tok[k].len != n) /* most keys: settled by the length alone */
            continue;
        if (tok_eq(js, &tok[k], key, n))
            found = (int)k + 1;
    }
    return found;
}

int tf_jscan_member_of(const tf_jscan_t *js, int obj, const char *key, tf_jscan_type_t type)
{
    int v = tf_jscan_member(js, obj, key);
    return tf_jscan_type(js, v) == type ? v : -1;
}

int tf_jscan_first(const tf_jscan_t *js, int arr)
{
    if (tf_jscan_type(js, arr) != TF_JSCAN_ARRAY || js->tok[arr].next == (uint32_t)arr + 1)
        return -1;
    return arr + 1;
}

int tf_jscan_next(const tf_jscan_t *js, int arr, int elem)
{
    if (elem < 0 || tf_jscan_type(js, arr) != TF_JSCAN_ARRAY)
        return -1;
    uint32_t n = js->tok[elem].next;
    return n < js->tok[arr].next ? (int)n : -1;
}

int tf_jscan_index(const tf_jscan_t *js, int arr, size_t i)
{
    int e = tf_jscan_first(js, arr);
    while (e >= 0 && i-- > 0)
        e = tf_jscan_next(js, arr, e);
    return e;
}

int tf_jscan_integer(const tf_jscan_t *js, int t, long long *out)
{
    if (tf_jscan_type(js, t) != TF_JSCAN_INTEGER)
        return -1;
    const char *p = js->src + js->tok[t].start, *end = p + js->tok[t].len;
    int neg = *p == '-';
    unsigned long long v = 0;
    for (p += neg; p < end; p++)
        v = v * 10 + (unsigned long long)(*p - '0');
    /* the scan kept v within 2^63 (negative) or 2^63 - 1 */
    *out = neg ? (v == 0 ? 0 : -(long long)(v - 1) - 1) : (long long)v;
    return 0;
}
