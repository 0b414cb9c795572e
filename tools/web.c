/*
 * tools/web.c - the MCP tools of spec/tools/web.yaml: web_search (the
 * operator's SearXNG, JSON API) and web_crawl (one page as readable text).
 *
 * Both go through libcurl's multi interface on the loop (tf_curl); names
 * are resolved by libcurl's threaded resolver, never on the loop (the tools
 * refuse to run on a libcurl without AsynchDNS).
 *
 * web_crawl and SSRF: every connection attempt is checked by tf_netguard
 * (CURLOPT_OPENSOCKETFUNCTION sees each resolved address), on a fresh
 * connection that is not kept. Redirects are followed here, not by curl:
 * curl may reuse a cached connection for a redirect hop (one a provider
 * transfer opened), which would open no socket and so escape the check.
 * Each hop is a new transfer: its URL is checked (http/https, no userinfo)
 * and its connection too. The SearXNG URL is the operator's and is not
 * address-filtered.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tf_curl.h"
#include "tf_netguard.h"
#include "tf_server.h"
#include "tf_tool.h"
#include "tf_work.h"

#define MAX_REDIRECTS 5
#define SEARCH_MAX_BODY (4u << 20)
#define USER_AGENT "TriForce-web/0.1"

/* Header lists live as long as the process: a cancelled transfer may still
 * send its request before tf_curl drops it on the next tick. */
static struct curl_slist *accept_page, *accept_json;
static pthread_once_t headers_once = PTHREAD_ONCE_INIT;

static void headers_init(void)
{
    accept_page = curl_slist_append(NULL, "Accept: text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.1");
    accept_json = curl_slist_append(NULL, "Accept: application/json");
}

/* Name resolution must not block the loop. */
static int dns_refused(tf_tool_call_t *call)
{
    const char *which;
    if (tf_netguard_async_dns(&which))
        return 0;
    tf_tool_fail(call, "web tools are unavailable: this libcurl resolves host names synchronously (%s), which would block the server", which);
    return 1;
}

/* --- growing buffers and UTF-8 ----------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        cp = 0xfffd;
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One strictly valid UTF-8 sequence at p: its length and code point, or 0. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* windows-1252's 0x80..0x9f (what browsers use for ISO-8859-1 too, and for &#128;..&#159;). */
static const uint16_t cp1252[32] = {0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
                                    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
                                    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178};

/* A character for the output: control characters become spaces (tab,
 * newline kept), anything invalid U+FFFD. */
static uint32_t clean_cp(uint32_t cp)
{
    if (cp == '\t' || cp == '\n')
        return cp;
    if (cp == '\r')
        return '\n';
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
        return ' ';
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0xfffd;
    return cp;
}

/* The body as clean UTF-8 (malloc'ed): windows-1252 decoded when `latin`, else invalid bytes as U+FFFD. */
static char *to_utf8(const char *s, size_t n, int latin, size_t *outlen)
{
    buf_t b = {0};
    buf_add(&b, "", 0);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    if (!latin && n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        i = 3; /* BOM */
    char enc[4];
    while (i < n) {
        uint32_t cp;
        size_t l;
        if (latin) {
            cp = p[i] >= 0x80 && p[i] <= 0x9f ? cp1252[p[i] - 0x80] : p[i];
            l = 1;
        } else if ((l = utf8_next(p + i, n - i, &cp)) == 0) {
            cp = 0xfffd;
            l = 1;
        }
        i += l;
        if (cp == '\r' && i < n && p[i] == '\n')
            continue; /* CRLF: one line end */
        buf_add(&b, enc, utf8_put(enc, clean_cp(cp)));
    }
    *outlen = b.len;
    return b.p;
}

/* A string for JSON (always valid UTF-8), in the request's pool. */
static const char *safe(tf_tool_call_t *call, const char *s)
{
    size_t n;
    char *u = to_utf8(s ? s : "", s ? strlen(s) : 0, 0, &n);
    char *p = h2o_mem_alloc_pool(&call->r->h2o->pool, n + 1);
    memcpy(p, u, n + 1);
    free(u);
    return p;
}

/* --- HTML to text ------------------------------------------------------------------------------- */

typedef struct entity {
    const char *name;
    uint32_t cp;
} entity_t;

/* Named character references: the HTML 3.2 set (also valid without ';'), and the common rest. */
static entity_t entities[] = {
    {"amp", 0x26}, {"lt", 0x3c}, {"gt", 0x3e}, {"quot", 0x22}, {"apos", 0x27}, {"nbsp", 0xa0}, {"iexcl", 0xa1}, {"cent", 0xa2},
    {"pound", 0xa3}, {"curren", 0xa4}, {"yen", 0xa5}, {"brvbar", 0xa6}, {"sect", 0xa7}, {"uml", 0xa8}, {"copy", 0xa9},
    {"ordf", 0xaa}, {"laquo", 0xab}, {"not", 0xac}, {"shy", 0xad}, {"reg", 0xae}, {"macr", 0xaf}, {"deg", 0xb0},
    {"plusmn", 0xb1}, {"sup2", 0xb2}, {"sup3", 0xb3}, {"acute", 0xb4}, {"micro", 0xb5}, {"para", 0xb6}, {"middot", 0xb7},
    {"cedil", 0xb8}, {"sup1", 0xb9}, {"ordm", 0xba}, {"raquo", 0xbb}, {"frac14", 0xbc}, {"frac12", 0xbd}, {"frac34", 0xbe},
    {"iquest", 0xbf}, {"Agrave", 0xc0}, {"Aacute", 0xc1}, {"Acirc", 0xc2}, {"Atilde", 0xc3}, {"Auml", 0xc4}, {"Aring", 0xc5},
    {"AElig", 0xc6}, {"Ccedil", 0xc7}, {"Egrave", 0xc8}, {"Eacute", 0xc9}, {"Ecirc", 0xca}, {"Euml", 0xcb}, {"Igrave", 0xcc},
    {"Iacute", 0xcd}, {"Icirc", 0xce}, {"Iuml", 0xcf}, {"ETH", 0xd0}, {"Ntilde", 0xd1}, {"Ograve", 0xd2}, {"Oacute", 0xd3},
    {"Ocirc", 0xd4}, {"Otilde", 0xd5}, {"Ouml", 0xd6}, {"times", 0xd7}, {"Oslash", 0xd8}, {"Ugrave", 0xd9}, {"Uacute", 0xda},
    {"Ucirc", 0xdb}, {"Uuml", 0xdc}, {"Yacute", 0xdd}, {"THORN", 0xde}, {"szlig", 0xdf}, {"agrave", 0xe0}, {"aacute", 0xe1},
    {"acirc", 0xe2}, {"atilde", 0xe3}, {"auml", 0xe4}, {"aring", 0xe5}, {"aelig", 0xe6}, {"ccedil", 0xe7}, {"egrave", 0xe8},
    {"eacute", 0xe9}, {"ecirc", 0xea}, {"euml", 0xeb}, {"igrave", 0xec}, {"iacute", 0xed}, {"icirc", 0xee}, {"iuml", 0xef},
    {"eth", 0xf0}, {"ntilde", 0xf1}, {"ograve", 0xf2}, {"oacute", 0xf3}, {"ocirc", 0xf4}, {"otilde", 0xf5}, {"ouml", 0xf6},
    {"divide", 0xf7}, {"oslash", 0xf8}, {"ugrave", 0xf9}, {"uacute", 0xfa}, {"ucirc", 0xfb}, {"uuml", 0xfc}, {"yacute", 0xfd},
    {"thorn", 0xfe}, {"yuml", 0xff}, {"OElig", 0x152}, {"oelig", 0x153}, {"Scaron", 0x160}, {"scaron", 0x161}, {"Yuml", 0x178},
    {"fnof", 0x192}, {"circ", 0x2c6}, {"tilde", 0x2dc}, {"Alpha", 0x391}, {"Beta", 0x392}, {"Gamma", 0x393}, {"Delta", 0x394},
    {"Theta", 0x398}, {"Lambda", 0x39b}, {"Pi", 0x3a0}, {"Sigma", 0x3a3}, {"Phi", 0x3a6}, {"Psi", 0x3a8}, {"Omega", 0x3a9},
    {"alpha", 0x3b1}, {"beta", 0x3b2}, {"gamma", 0x3b3}, {"delta", 0x3b4}, {"epsilon", 0x3b5}, {"zeta", 0x3b6}, {"eta", 0x3b7},
    {"theta", 0x3b8}, {"iota", 0x3b9}, {"kappa", 0x3ba}, {"lambda", 0x3bb}, {"mu", 0x3bc}, {"nu", 0x3bd}, {"xi", 0x3be},
    {"omicron", 0x3bf}, {"pi", 0x3c0}, {"rho", 0x3c1}, {"sigmaf", 0x3c2}, {"sigma", 0x3c3}, {"tau", 0x3c4}, {"upsilon", 0x3c5},
    {"phi", 0x3c6}, {"chi", 0x3c7}, {"psi", 0x3c8}, {"omega", 0x3c9}, {"ensp", 0x2002}, {"emsp", 0x2003}, {"thinsp", 0x2009},
    {"zwnj", 0x200c}, {"zwj", 0x200d}, {"lrm", 0x200e}, {"rlm", 0x200f}, {"hyphen", 0x2010}, {"dash", 0x2010}, {"ndash", 0x2013},
    {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"sbquo", 0x201a}, {"ldquo", 0x201c}, {"rdquo", 0x201d},
    {"bdquo", 0x201e}, {"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022}, {"hellip", 0x2026}, {"permil", 0x2030},
    {"prime", 0x2032}, {"Prime", 0x2033}, {"lsaquo", 0x2039}, {"rsaquo", 0x203a}, {"oline", 0x203e}, {"frasl", 0x2044},
    {"euro", 0x20ac}, {"trade", 0x2122}, {"larr", 0x2190}, {"uarr", 0x2191}, {"rarr", 0x2192}, {"darr", 0x2193},
    {"harr", 0x2194}, {"lArr", 0x21d0}, {"rArr", 0x21d2}, {"hArr", 0x21d4}, {"forall", 0x2200}, {"part", 0x2202},
    {"exist", 0x2203}, {"empty", 0x2205}, {"nabla", 0x2207}, {"isin", 0x2208}, {"prod", 0x220f}, {"sum", 0x2211},
    {"minus", 0x2212}, {"radic", 0x221a}, {"infin", 0x221e}, {"and", 0x2227}, {"or", 0x2228}, {"cap", 0x2229}, {"cup", 0x222a},
    {"int", 0x222b}, {"there4", 0x2234}, {"sim", 0x223c}, {"asymp", 0x2248}, {"ne", 0x2260}, {"equiv", 0x2261}, {"le", 0x2264},
    {"ge", 0x2265}, {"sub", 0x2282}, {"sup", 0x2283}, {"sube", 0x2286}, {"supe", 0x2287}, {"lceil", 0x2308}, {"rceil", 0x2309},
    {"lfloor", 0x230a}, {"rfloor", 0x230b}, {"lang", 0x27e8}, {"rang", 0x27e9}, {"loz", 0x25ca}, {"spades", 0x2660},
    {"clubs", 0x2663}, {"hearts", 0x2665}, {"diams", 0x2666}, {"starf", 0x2605}, {"star", 0x2606}, {"check", 0x2713},
    {"cross", 0x2717}, {"Tab", 0x09}, {"NewLine", 0x0a}, {"excl", 0x21}, {"num", 0x23}, {"dollar", 0x24}, {"percnt", 0x25},
    {"lpar", 0x28}, {"rpar", 0x29}, {"ast", 0x2a}, {"plus", 0x2b}, {"comma", 0x2c}, {"period", 0x2e}, {"sol", 0x2f},
    {"colon", 0x3a}, {"semi", 0x3b}, {"equals", 0x3d}, {"quest", 0x3f}, {"commat", 0x40}, {"lsqb", 0x5b}, {"bsol", 0x5c},
    {"rsqb", 0x5d}, {"lowbar", 0x5f}, {"grave", 0x60}, {"lcub", 0x7b}, {"verbar", 0x7c}, {"vert", 0x7c}, {"rcub", 0x7d},
};
#define NENTITIES (sizeof(entities) / sizeof(entities[0]))
static pthread_once_t entities_once = PTHREAD_ONCE_INIT;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entity_t *)a)->name, ((const entity_t *)b)->name);
}

static void entities_init(void)
{
    qsort(entities, NENTITIES, sizeof(entities[0]), by_name);
}

static const entity_t *entity_find(const char *name)
{
    entity_t key = {name, 0};
    return bsearch(&key, entities, NENTITIES, sizeof(entities[0]), by_name);
}

/* Legacy references may stand without ';' (&amp, &copy2024). */
static int legacy(const entity_t *e)
{
    return e->cp == 0x22 || e->cp == 0x26 || e->cp == 0x3c || e->cp == 0x3e || (e->cp >= 0xa0 && e->cp <= 0xff);
}

/* A character reference at s[0] == '&': bytes consumed (0: not one) and its code point. */
static size_t entity(const char *s, size_t n, uint32_t *cp)
{
    size_t i = 1;
    if (i < n && s[i] == '#') {
        i++;
        int hex = i < n && (s[i] == 'x' || s[i] == 'X');
        i += hex;
        size_t start = i;
        uint32_t v = 0;
        int big = 0;
        while (i < n && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
            unsigned d = isdigit((unsigned char)s[i]) ? (unsigned)(s[i] - '0') : (unsigned)(tolower((unsigned char)s[i]) - 'a' + 10);
            if (v > 0x10ffff)
                big = 1;
            else
                v = v * (hex ? 16 : 10) + d;
            i++;
        }
        if (i == start)
            return 0;
        if (i < n && s[i] == ';')
            i++;
        if (big || v > 0x10ffff || v == 0 || (v >= 0xd800 && v <= 0xdfff))
            v = 0xfffd;
        else if (v >= 0x80 && v <= 0x9f)
            v = cp1252[v - 0x80];
        *cp = v;
        return i;
    }
    char name[33];
    size_t l = 0;
    while (i + l < n && l < sizeof(name) - 1 && isalnum((unsigned char)s[i + l])) {
        name[l] = s[i + l];
        l++;
    }
    name[l] = '\0';
    if (l == 0)
        return 0;
    pthread_once(&entities_once, entities_init);
    if (i + l < n && s[i + l] == ';') {
        const entity_t *e = entity_find(name);
        if (e != NULL) {
            *cp = e->cp;
            return i + l + 1;
        }
    }
    /* Without ';': the longest legacy name that starts the run. */
    for (size_t k = l; k >= 2; k--) {
        name[k] = '\0';
        const entity_t *e = entity_find(name);
        if (e != NULL && legacy(e)) {
            *cp = e->cp;
            return i + k;
        }
    }
    return 0;
}

/* Text with collapsed whitespace: blanks become one space, a block boundary one line break. */
typedef struct out {
    buf_t b;
    int space, nl;
} out_t;

static void out_visible(out_t *o, const char *s, size_t n)
{
    if (o->b.len > 0 && (o->nl || o->space))
        buf_add(&o->b, o->nl ? "\n" : " ", 1);
    o->nl = o->space = 0;
    buf_add(&o->b, s, n);
}

static void out_cp(out_t *o, uint32_t cp)
{
    cp = clean_cp(cp);
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == 0xa0) {
        o->space = 1;
        return;
    }
    char enc[4];
    out_visible(o, enc, utf8_put(enc, cp));
}

static void out_break(out_t *o)
{
    o->nl = 1;
}

/* A run of text (clean UTF-8) with character references. */
static void out_text(out_t *o, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t l;
        if (c == '&' && (l = entity(s + i, n - i, &cp)) > 0) {
            out_cp(o, cp);
            i += l;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            o->space = 1;
            i++;
        } else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0xa0) {
            o->space = 1; /* U+00A0 */
            i += 2;
        } else {
            l = utf8_next((const unsigned char *)s + i, n - i, &cp);
            if (l == 0)
                l = 1; /* cannot happen on clean input */
            out_visible(o, s + i, l);
            i += l;
        }
    }
}

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return 1;
    return 0;
}

/* Contents never parsed as markup, never shown (title is taken as the title). */
static const char *const raw_tags[] = {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", NULL};
/* Elements left out with everything inside them. */
static const char *const skip_tags[] = {"nav", "svg", "math", "template", "object", "canvas", "select", "datalist", "dialog", NULL};
/* Elements that start a new line of text. */
static const char *const block_tags[] = {"address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
                                         "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
                                         "h4", "h5", "h6", "header", "hr", "html", "legend", "li", "main", "ol", "p", "pre",
                                         "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul", NULL};

/* The '>' ending a tag whose attributes start at k (quoted values may hold '>'), or n. */
static size_t tag_end(const char *s, size_t n, size_t k)
{
    int value = 0;
    while (k < n) {
        char c = s[k];
        if (c == '>')
            return k;
        if (c == '=') {
            value = 1;
        } else if (value && (c == '"' || c == '\'')) {
            const char *q = memchr(s + k + 1, c, n - k - 1);
            if (q == NULL)
                return n;
            k = (size_t)(q - s);
            value = 0;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f') {
            value = 0;
        }
        k++;
    }
    return n;
}

/* Where "</name" (any case) closing a raw text element starts, from i; n if none. */
static size_t raw_close(const char *s, size_t n, size_t i, const char *name)
{
    size_t l = strlen(name);
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (lt == NULL)
            return n;
        size_t j = (size_t)(lt - s);
        if (j + 2 + l <= n && s[j + 1] == '/' && strncasecmp(s + j + 2, name, l) == 0 &&
            (j + 2 + l == n || strchr(" \t\n\r\f/>", s[j + 2 + l]) != NULL))
            return j;
        i = j + 1;
    }
    return n;
}

static size_t skip_past(const char *s, size_t n, size_t i, const char *end)
{
    const char *p = memmem(s + i, n - i, end, strlen(end));
    return p == NULL ? n : (size_t)(p - s) + strlen(end);
}

#define MAX_DEPTH 64

/* HTML (clean UTF-8) to a title and text, both malloc'ed. */
static void html_text(const char *s, size_t n, char **title_out, char **text_out)
{
    out_t text = {0}, title = {0};
    int have_title = 0;
    char stack[MAX_DEPTH][16];
    int depth = 0;
    size_t i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        size_t j = lt ? (size_t)(lt - s) : n;
        if (depth == 0)
            out_text(&text, s + i, j - i);
        i = j;
        if (i >= n)
            break;
        if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            i = skip_past(s, n, i + 4, "-->");
            continue;
        }
        if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?')) {
            i = skip_past(s, n, i + 1, ">");
            continue;
        }
        int end = i + 1 < n && s[i + 1] == '/';
        size_t k = i + 1 + (size_t)end;
        if (k >= n || !isalpha((unsigned char)s[k])) {
            if (depth == 0)
                out_text(&text, "<", 1);
            i++;
            continue;
        }
        char name[16];
        size_t l = 0;
        while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '-' || s[k] == ':' || s[k] == '_')) {
            if (l < sizeof(name) - 1)
                name[l++] = (char)tolower((unsigned char)s[k]);
            k++;
        }
        name[l] = '\0';
        size_t gt = tag_end(s, n, k);
        int self_closing = gt < n && gt > k && s[gt - 1] == '/';
        i = gt < n ? gt + 1 : n;
        if (end) {
            for (int d = depth - 1; d >= 0; d--)
                if (strcmp(stack[d], name) == 0) {
                    depth = d;
                    break;
                }
            if (in_list(name, block_tags))
                out_break(&text);
            else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
                text.space = 1;
            continue;
        }
        if (in_list(name, raw_tags)) {
            size_t close = raw_close(s, n, i, name);
            if (strcmp(name, "title") == 0 && !have_title) {
                int foreign = 0;
                for (int d = 0; d < depth; d++)
                    foreign |= strcmp(stack[d], "svg") == 0 || strcmp(stack[d], "math") == 0;
                if (!foreign) {
                    out_text(&title, s + i, close - i);
                    have_title = 1;
                }
            }
            i = close < n ? skip_past(s, n, close, ">") : n;
            continue;
        }
        if (in_list(name, skip_tags)) {
            if (!self_closing && depth < MAX_DEPTH)
                memcpy(stack[depth++], name, l + 1);
            continue;
        }
        if (in_list(name, block_tags))
            out_break(&text);
        else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
            text.space = 1;
    }
    buf_add(&text.b, "", 0);
    buf_add(&title.b, "", 0);
    *text_out = text.b.p;
    *title_out = title.b.p;
}

/* Plain text and JSON: line ends normalized, blank runs at most one empty line, trimmed. */
static char *plain_text(const char *s, size_t n)
{
    buf_t b = {0};
    buf_add(&b, "", 0);
    size_t nl = 0, i = 0;
    while (i < n && (s[i] == '\n' || s[i] == ' ' || s[i] == '\t'))
        i++;
    for (; i < n; i++) {
        if (s[i] == '\n') {
            while (b.len > 0 && (b.p[b.len - 1] == ' ' || b.p[b.len - 1] == '\t'))
                b.p[--b.len] = '\0';
            nl++;
            continue;
        }
        if (nl > 0)
            buf_add(&b, "\n\n", nl > 1 ? 2 : 1);
        nl = 0;
        buf_add(&b, s + i, 1);
    }
    while (b.len > 0 && (b.p[b.len - 1] == ' ' || b.p[b.len - 1] == '\t'))
        b.p[--b.len] = '\0';
    return b.p;
}

/* --- content types ------------------------------------------------------------------------------ */

enum { KIND_REFUSED = 0, KIND_HTML, KIND_TEXT, KIND_JSON };

static int media_is(const char *ct, const char *type)
{
    size_t l = strlen(type);
    if (strncasecmp(ct, type, l) != 0)
        return 0;
    char c = ct[l];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

static int content_kind(const char *ct)
{
    if (ct == NULL)
        return KIND_REFUSED;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (media_is(ct, "text/html") || media_is(ct, "application/xhtml+xml"))
        return KIND_HTML;
    if (media_is(ct, "text/plain"))
        return KIND_TEXT;
    if (media_is(ct, "application/json"))
        return KIND_JSON;
    return KIND_REFUSED;
}

/* The charset= value in `s` (a header, or the start of an HTML page), lower-cased, or "". */
static void charset_of(const char *s, size_t n, char *out, size_t outlen)
{
    out[0] = '\0';
    for (size_t i = 0; i + 8 <= n; i++) {
        if (strncasecmp(s + i, "charset=", 8) != 0)
            continue;
        size_t k = i + 8, l = 0;
        while (k < n && (s[k] == '"' || s[k] == '\'' || s[k] == ' '))
            k++;
        while (k < n && l + 1 < outlen && (isalnum((unsigned char)s[k]) || s[k] == '-' || s[k] == '_' || s[k] == '.' || s[k] == ':'))
            out[l++] = (char)tolower((unsigned char)s[k++]);
        out[l] = '\0';
        return;
    }
}

static int is_latin(const char *cs)
{
    static const char *const labels[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "windows-1252",
                                         "cp1252", "x-cp1252", "us-ascii", "ascii", "cp819", "ibm819", NULL};
    return in_list(cs, labels);
}

/* --- web_search ------------------------------------------------------------------------------------- */

typedef struct search {
    tf_tool_call_t *call;
    tf_curl_req_t *xfer;
} search_t;

static void search_gone(tf_tool_call_t *call)
{
    search_t *s = call->hctx;
    if (s->xfer != NULL)
        tf_curl_cancel(s->xfer);
    s->xfer = NULL;
}

static json_t *jstr(json_t *v)
{
    const char *s = json_string_value(v);
    return json_string(s ? s : "");
}

static void on_search(void *ud, CURLcode rc, long status, const char *body, size_t len)
{
    search_t *s = ud;
    tf_tool_call_t *call = s->call;
    s->xfer = NULL;
    const char *base = safe(call, call->r->conf->tools_searxng_url);
    if (rc != CURLE_OK) {
        tf_tool_fail(call, "the search service (SearXNG at %s) could not be reached: %s", base, curl_easy_strerror(rc));
        return;
    }
    if (status != 200) {
        tf_tool_fail(call, "the search service (SearXNG at %s) answered HTTP %ld%s", base, status,
                     status == 403 ? " (is the json format enabled in its settings.yml, search: formats: [html, json]?)" : "");
        return;
    }
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *results = json_object_get(doc, "results");
    if (!json_is_array(results)) {
        json_decref(doc);
        tf_tool_fail(call, "the search service (SearXNG at %s) did not answer with its JSON results", base);
        return;
    }
    long long limit = tf_tool_arg_int(call, "limit", 10);
    json_t *list = json_array(), *r;
    size_t i;
    json_array_foreach(results, i, r) {
        if ((long long)json_array_size(list) >= limit)
            break;
        const char *url = json_string_value(json_object_get(r, "url"));
        if (url == NULL || url[0] == '\0')
            continue;
        json_t *item = json_pack("{s:s, s:o, s:o}", "url", url, "title", jstr(json_object_get(r, "title")), "snippet",
                                 jstr(json_object_get(r, "content")));
        const char *engine = json_string_value(json_object_get(r, "engine"));
        if (engine != NULL)
            json_object_set_new(item, "engine", json_string(engine));
        json_array_append_new(list, item);
    }
    json_decref(doc);
    tf_tool_result(call, json_pack("{s:s, s:I, s:o}", "query", tf_tool_arg_str(call, "query", ""), "count",
                                   (json_int_t)json_array_size(list), "results", list));
}

/* web_search: Web search */
int tf_tool_web_search(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    const char *base = r->conf->tools_searxng_url;
    if (base == NULL || base[0] == '\0') {
        tf_tool_fail(call, "web search is off: the operator has not configured a search service (tools.searxng_url, a SearXNG instance)");
        return 0;
    }
    if (dns_refused(call))
        return 0;
    pthread_once(&headers_once, headers_init);
    CURL *e = tf_curl_easy(r->thr->curl);
    const char *q = tf_tool_arg_str(call, "query", "");
    const char *lang = tf_tool_arg_str(call, "language", NULL);
    char *eq = curl_easy_escape(e, q, 0);
    char *el = lang ? curl_easy_escape(e, lang, 0) : NULL;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    char *url = NULL;
    if (eq == NULL || (lang != NULL && el == NULL) ||
        asprintf(&url, "%.*s/search?q=%s&format=json&pageno=%lld%s%s", (int)bl, base, eq, tf_tool_arg_int(call, "page", 1),
                 el ? "&language=" : "", el ? el : "") < 0)
        url = NULL;
    curl_free(eq);
    curl_free(el);
    if (url == NULL) {
        curl_easy_cleanup(e);
        tf_tool_fail(call, "out of memory");
        return 0;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, accept_json);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->conf->tools_crawl_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->conf->tools_crawl_timeout_ms);
    search_t *s = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->call = call;
    call->hctx = s;
    call->on_gone = search_gone;
    s->xfer = tf_curl_start(r->thr->curl, e, SEARCH_MAX_BODY, on_search, s);
    if (s->xfer == NULL)
        tf_tool_fail(call, "the search could not be started");
    return 0;
}

/* --- web_crawl -------------------------------------------------------------------------------------- */

typedef struct crawl {
    tf_tool_call_t *call;
    tf_curl_t *curl;
    tf_curl_req_t *xfer;
    CURL *easy;           /* the current hop's handle, while xfer runs */
    tf_netguard_t guard;  /* checks every connection of the current hop */
    char *url;            /* the current hop (pool) */
    unsigned hops;
    uint64_t deadline_ns;
    unsigned timeout_ms;
    size_t max_bytes;
    long long max_chars;
    char refused[256];    /* the header check refused the page */
} crawl_t;

static void crawl_gone(tf_tool_call_t *call)
{
    crawl_t *c = call->hctx;
    if (c->xfer != NULL) {
        /* curl may still run our callbacks until tf_curl drops the transfer
         * on the next tick; they must not see `c` (freed with the request). */
        tf_netguard_curl_detach(c->easy);
        curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, NULL);
        tf_curl_cancel(c->xfer);
    }
    c->xfer = NULL;
}

/* End of a response's headers: a 2xx page must be of a readable type. */
static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    crawl_t *c = ud;
    size_t len = size * n;
    if (c == NULL)
        return 0;
    if (len <= 2 && len > 0 && (b[0] == '\r' || b[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            char *ct = NULL;
            curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
            if (content_kind(ct) == KIND_REFUSED) {
                if (ct == NULL)
                    snprintf(c->refused, sizeof(c->refused), "the page has no Content-Type (HTML, plain text and JSON are read)");
                else
                    snprintf(c->refused, sizeof(c->refused), "content type %.120s is not read (HTML, plain text and JSON are)", ct);
                return 0;
            }
        }
    }
    return len;
}

static void on_page(void *ud, CURLcode rc, long status, const char *body, size_t len);

/* Fetches `url` (the first one, or a redirect's target). Answers the call on failure. */
static void hop(crawl_t *c, const char *url)
{
    tf_tool_call_t *call = c->call;
    char why[256];
    char *norm = NULL;
    if (!tf_netguard_url_ok(url, &norm, why, sizeof(why))) {
        if (c->hops > 0)
            tf_tool_fail(call, "refused: redirect %u from %s: %s", c->hops, safe(call, c->url), why);
        else
            tf_tool_fail(call, "refused: %s", why);
        return;
    }
    uint64_t now = tf_now_ns();
    if (now >= c->deadline_ns) {
        curl_free(norm);
        tf_tool_fail(call, "timed out: no page within %u ms (tools.crawl_timeout_ms)", c->timeout_ms);
        return;
    }
    long left_ms = (long)((c->deadline_ns - now) / 1000000u);
    if (left_ms < 1)
        left_ms = 1;
    size_t l = strlen(norm);
    c->url = h2o_mem_alloc_pool(&call->r->h2o->pool, l + 1);
    memcpy(c->url, norm, l + 1);
    curl_free(norm);
    c->guard.refused = 0;
    c->guard.why[0] = '\0';
    c->refused[0] = '\0';
    CURL *e = tf_curl_easy(c->curl);
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    tf_netguard_curl(e, &c->guard);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, accept_page);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, left_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    c->easy = e;
    c->xfer = tf_curl_start(c->curl, e, c->max_bytes, on_page, c);
    if (c->xfer == NULL)
        tf_tool_fail(call, "the transfer could not be started");
}

static void crawl_error(crawl_t *c, CURLcode rc)
{
    tf_tool_call_t *call = c->call;
    const char *url = safe(call, c->url);
    if (c->refused[0])
        tf_tool_fail(call, "refused: %s: %s", url, safe(call, c->refused));
    else if (c->guard.refused > 0 && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST))
        tf_tool_fail(call, "refused: %s%s: %s; web_crawl reads pages on public addresses only", c->hops ? "the redirect to " : "", url,
                     c->guard.why);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        tf_tool_fail(call, "timed out: %s did not deliver the page within %u ms (tools.crawl_timeout_ms)", url, c->timeout_ms);
    else if (rc == CURLE_FILESIZE_EXCEEDED || rc == CURLE_WRITE_ERROR)
        tf_tool_fail(call, "refused: %s is larger than %zu bytes (tools.crawl_max_bytes); it was not read", url, c->max_bytes);
    else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
        tf_tool_fail(call, "refused: %s: only http and https are fetched", url);
    else
        tf_tool_fail(call, "could not fetch %s: %s", url, curl_easy_strerror(rc));
}

static long long cut_chars(char *s, long long max, int *truncated)
{
    long long count = 0;
    size_t i = 0;
    *truncated = 0;
    while (s[i]) {
        if (count == max) {
            s[i] = '\0';
            *truncated = 1;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        i += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        count++;
    }
    return count;
}

/* Readable text of a fetched page, made on a worker thread. */
typedef struct extract {
    tf_tool_call_t *call;
    char *body, *ct, *url;
    size_t len;
    int kind;
    long status;
    unsigned hops;
    long long max_chars, chars;
    int truncated;
    char *title, *text, *ct_clean; /* results */
} extract_t;

static void extract_run(void *arg)
{
    extract_t *x = arg;
    char cs[40];
    charset_of(x->ct, strlen(x->ct), cs, sizeof(cs));
    if (cs[0] == '\0' && x->kind == KIND_HTML)
        charset_of(x->body, x->len < 4096 ? x->len : 4096, cs, sizeof(cs));
    size_t ulen;
    char *u = to_utf8(x->body, x->len, is_latin(cs), &ulen);
    if (x->kind == KIND_HTML) {
        html_text(u, ulen, &x->title, &x->text);
    } else {
        x->title = strdup("");
        x->text = plain_text(u, ulen);
    }
    free(u);
    x->ct_clean = to_utf8(x->ct, strlen(x->ct), 0, &ulen);
    x->chars = cut_chars(x->text, x->max_chars, &x->truncated);
}

static void extract_done(void *arg, int cancelled)
{
    extract_t *x = arg;
    if (!cancelled) {
        tf_tool_call_t *call = x->call;
        call->r->job = NULL;
        json_t *res = json_object();
        json_object_set_new(res, "url", json_string(x->url));
        json_object_set_new(res, "status", json_integer(x->status));
        json_object_set_new(res, "content_type", json_string(x->ct_clean));
        json_object_set_new(res, "title", json_string(x->title));
        json_object_set_new(res, "text", json_string(x->text));
        json_object_set_new(res, "length", json_integer(x->chars));
        json_object_set_new(res, "truncated", json_boolean(x->truncated));
        json_object_set_new(res, "bytes", json_integer((json_int_t)x->len));
        json_object_set_new(res, "redirects", json_integer(x->hops));
        tf_tool_result(call, res);
    }
    free(x->body);
    free(x->ct);
    free(x->url);
    free(x->title);
    free(x->text);
    free(x->ct_clean);
    free(x);
}

static void on_page(void *ud, CURLcode rc, long status, const char *body, size_t len)
{
    crawl_t *c = ud;
    tf_tool_call_t *call = c->call;
    c->xfer = NULL;
    if (rc != CURLE_OK) {
        crawl_error(c, rc);
        return;
    }
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        char *loc = NULL;
        curl_easy_getinfo(c->easy, CURLINFO_REDIRECT_URL, &loc);
        if (loc == NULL || loc[0] == '\0') {
            tf_tool_fail(call, "%s answered %ld without a usable Location", safe(call, c->url), status);
            return;
        }
        if (c->hops >= MAX_REDIRECTS) {
            tf_tool_fail(call, "refused: too many redirects (more than %d), the last from %s", MAX_REDIRECTS, safe(call, c->url));
            return;
        }
        c->hops++;
        hop(c, loc); /* copies loc before this handle is recycled */
        return;
    }
    if (status < 200 || status > 299) {
        tf_tool_fail(call, "%s answered HTTP %ld", safe(call, c->url), status);
        return;
    }
    char *ct = NULL;
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
    int kind = content_kind(ct);
    if (kind == KIND_REFUSED) { /* the header check saw it first; kept as a guard */
        tf_tool_fail(call, "refused: %s: content type %s is not read", safe(call, c->url), safe(call, ct ? ct : "(none)"));
        return;
    }
    /* Decoding and HTML parsing of up to crawl_max_bytes run on a worker,
     * not on the loop; the pipeline cancels the job if the client leaves. */
    extract_t *x = calloc(1, sizeof(*x));
    x->call = call;
    x->body = malloc(len + 1);
    memcpy(x->body, body, len);
    x->body[len] = '\0';
    x->len = len;
    x->ct = strdup(ct);
    x->kind = kind;
    x->status = status;
    x->max_chars = c->max_chars;
    x->hops = c->hops;
    x->url = strdup(safe(call, c->url));
    call->r->job = tf_work_submit(&call->r->thr->work, extract_run, extract_done, x);
    if (call->r->job == NULL) {
        extract_run(x); /* no worker: here, then */
        extract_done(x, 0);
    }
}

/* web_crawl: Read a web page */
int tf_tool_web_crawl(tf_tool_call_t *call)
{
    tf_req_t *r = call->r;
    if (dns_refused(call))
        return 0;
    pthread_once(&headers_once, headers_init);
    crawl_t *c = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->call = call;
    c->curl = r->thr->curl;
    c->guard.allow_private = r->conf->tools_crawl_allow_private;
    c->timeout_ms = r->conf->tools_crawl_timeout_ms;
    c->max_bytes = (size_t)r->conf->tools_crawl_max_bytes;
    c->deadline_ns = tf_now_ns() + (uint64_t)c->timeout_ms * 1000000u;
    c->max_chars = tf_tool_arg_int(call, "max_chars", 20000);
    call->hctx = c;
    call->on_gone = crawl_gone;
    hop(c, tf_tool_arg_str(call, "url", ""));
    return 0;
}
