/*
 * tf_adapt_lines.c - framing of streamed answers: bytes split anywhere ->
 * lines (SSE or NDJSON) -> SSE events. See tf_adapt_int.h.
 *
 * SSE follows the WHATWG event-stream rules: lines end with CRLF, LF or a
 * lone CR; "field: value" with one optional space after the colon; lines
 * starting with ':' are comments; data: lines accumulate (joined by LF)
 * and a blank line dispatches the event; an unfinished event at the end of
 * input is not dispatched. NDJSON lines end with LF (a CR before it is
 * dropped); a lone CR is JSON whitespace there, not a line end.
 */
#include <string.h>

#include "tf_adapt_int.h"

static int too_long(char *err, size_t errlen)
{
    tf_adapt_seterr(err, errlen, "malformed stream: a line longer than %d bytes", TF_ADAPT_MAX_LINE);
    return -1;
}

/* Hands one complete line to fn: skips a UTF-8 BOM on the very first line,
 * drops the CR of an NDJSON CRLF, refuses a line over the limit. */
static int deliver(tf_adapt_lines_t *l, const char *line, size_t n, tf_adapt_line_fn fn, void *ctx, char *err, size_t errlen)
{
    if (!l->started) {
        l->started = 1;
        if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            n -= 3;
        }
    }
    if (!l->sse && n > 0 && line[n - 1] == '\r')
        n--;
    if (n > TF_ADAPT_MAX_LINE)
        return too_long(err, errlen);
    return fn(ctx, line, n, err, errlen);
}

/* Index of the first line terminator in data[from..len), or len. */
static size_t line_end(const tf_adapt_lines_t *l, const char *data, size_t from, size_t len)
{
    /* memchr, not a loop over bytes: this runs over every byte of every
     * streamed answer. SSE lines end at an LF or a CR, whichever comes first. */
    const char *nl = memchr(data + from, '\n', len - from);
    size_t end = nl ? (size_t)(nl - data) : len;
    if (!l->sse)
        return end;
    const char *cr = memchr(data + from, '\r', end - from);
    return cr ? (size_t)(cr - data) : end;
}

int tf_adapt_lines_feed(tf_adapt_lines_t *l, const char *data, size_t len, tf_adapt_line_fn fn, void *ctx, char *err,
                        size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        if (l->after_cr) {
            l->after_cr = 0;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = line_end(l, data, i, len);
        size_t piece = j - i;
        /* Bounds what is kept; deliver() checks the exact length (an NDJSON
         * line's CR may be the one byte over). */
        size_t limit = TF_ADAPT_MAX_LINE + (l->sse ? 0 : 1);
        if (piece > limit || l->part.len + piece > limit)
            return too_long(err, errlen);
        if (j == len) { /* no terminator yet: keep the piece for later */
            if (tf_adapt_buf_add(&l->part, data + i, piece, 0) < 0) {
                tf_adapt_seterr(err, errlen, "out of memory");
                return -1;
            }
            return 0;
        }
        if (data[j] == '\r')
            l->after_cr = 1;
        int rc;
        if (l->part.len == 0) { /* the usual case: the whole line is in this chunk */
            rc = deliver(l, data + i, piece, fn, ctx, err, errlen);
        } else {
            if (tf_adapt_buf_add(&l->part, data + i, piece, 0) < 0) {
                tf_adapt_seterr(err, errlen, "out of memory");
                return -1;
            }
            rc = deliver(l, l->part.p, l->part.len, fn, ctx, err, errlen);
            l->part.len = 0;
        }
        if (rc != 0)
            return rc;
        i = j + 1;
    }
    return 0;
}

int tf_adapt_lines_flush(tf_adapt_lines_t *l, tf_adapt_line_fn fn, void *ctx, char *err, size_t errlen)
{
    if (l->part.len == 0)
        return 0;
    int rc = deliver(l, l->part.p, l->part.len, fn, ctx, err, errlen);
    l->part.len = 0;
    return rc;
}

void tf_adapt_lines_free(tf_adapt_lines_t *l)
{
    tf_adapt_buf_free(&l->part);
}

/* ---- SSE events ------------------------------------------------------------- */

static int dispatch(tf_adapt_sse_t *s, tf_adapt_event_fn fn, void *ctx, char *err, size_t errlen)
{
    int rc = 0;
    if (s->has_data)
        rc = fn(ctx, s->event, s->data.len ? s->data.p : "", s->data.len, err, errlen);
    s->data.len = 0;
    s->has_data = 0;
    s->event[0] = '\0';
    return rc;
}

/* An event name that does not fit, or holds a NUL, becomes "?" so that it
 * matches no name a handler knows rather than a truncated one. */
static void set_event(tf_adapt_sse_t *s, const char *v, size_t n)
{
    if (n >= sizeof(s->event) || memchr(v, '\0', n) != NULL) {
        strcpy(s->event, "?");
        return;
    }
    memcpy(s->event, v, n);
    s->event[n] = '\0';
}

int tf_adapt_sse_line(tf_adapt_sse_t *s, const char *line, size_t len, tf_adapt_event_fn fn, void *ctx, char *err,
                      size_t errlen)
{
    if (len == 0)
        return dispatch(s, fn, ctx, err, errlen);
    if (line[0] == ':')
        return 0;
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if ((s->has_data && tf_adapt_buf_add(&s->data, "\n", 1, TF_ADAPT_MAX_EVENT) < 0)
            || tf_adapt_buf_add(&s->data, v, vlen, TF_ADAPT_MAX_EVENT) < 0) {
            tf_adapt_seterr(err, errlen, "malformed stream: an event over %d bytes", TF_ADAPT_MAX_EVENT);
            return -1;
        }
        s->has_data = 1;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        set_event(s, v, vlen);
    }
    /* id:, retry: and unknown fields mean nothing here */
    return 0;
}

void tf_adapt_sse_free(tf_adapt_sse_t *s)
{
    tf_adapt_buf_free(&s->data);
}
