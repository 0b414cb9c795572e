/*
 * tf_log.c - JSON-lines logger. See tf_log.h.
 */
#include "tf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tf_utf8.h"

static int log_level = TF_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int tf_log_level_parse(const char *s)
{
    for (int i = 0; i <= TF_LOG_OFF; i++)
        if (s != NULL && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void tf_log_set_level(int level)
{
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int tf_log_enabled(int level)
{
    return level >= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int tf_log_open(const char *path)
{
    int fd = 2;
    if (path != NULL && path[0] != '\0') {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -1;
    }
    int old = __atomic_exchange_n(&log_fd, fd, __ATOMIC_ACQ_REL);
    /* A line being written on another thread may still use `old`; closing
     * it could make that write land in a reused descriptor. Log targets
     * change only on reload, so leaking one fd per change is the safer cost. */
    (void)old;
    return 0;
}

size_t tf_log_json_escape(char *buf, size_t len, size_t cap, const char *s, size_t slen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < slen && len + 7 < cap; i++) {
        unsigned char c = u[i];
        switch (c) {
        case '"': buf[len++] = '\\'; buf[len++] = '"'; break;
        case '\\': buf[len++] = '\\'; buf[len++] = '\\'; break;
        case '\n': buf[len++] = '\\'; buf[len++] = 'n'; break;
        case '\r': buf[len++] = '\\'; buf[len++] = 'r'; break;
        case '\t': buf[len++] = '\\'; buf[len++] = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(buf + len, "\\u00", 4);
                buf[len + 4] = hex[c >> 4];
                buf[len + 5] = hex[c & 15];
                len += 6;
            } else if (c < 0x80) {
                buf[len++] = (char)c;
            } else {
                /* A request path or a client's header can hold any bytes; a
                 * log line must stay valid JSON (UTF-8) for every reader, so
                 * a byte that does not start a well-formed sequence becomes
                 * U+FFFD. The loop's bound leaves room for 4 bytes. */
                size_t n = tf_utf8_seq(u + i, slen - i);
                if (n == 0) {
                    memcpy(buf + len, "\\ufffd", 6);
                    len += 6;
                } else {
                    memcpy(buf + len, u + i, n);
                    len += n;
                    i += n - 1;
                }
            }
        }
    }
    buf[len] = '\0';
    return len;
}

/* Small appenders: the access log runs once per request, and printf's
 * format parsing was the largest cost of serving /health. */
static size_t app(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
    if (len + n >= cap)
        n = len < cap - 1 ? cap - 1 - len : 0;
    memcpy(buf + len, s, n);
    return len + n;
}

static size_t app_u64(char *buf, size_t len, size_t cap, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return app(buf, len, cap, tmp + sizeof(tmp) - n, n);
}

#define APP_LIT(buf, len, cap, lit) app(buf, len, cap, lit, sizeof(lit) - 1)

/* "2026-11-23T01:02:03" for the current second, cached per thread. */
static __thread time_t ts_sec = -1;
static __thread char ts_text[64];

/* Writes `{"ts":"...","level":"...","cat":"...","req":"..."` into buf. */
static size_t line_head(char *buf, size_t cap, int level, const char *category, const char *req_id)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != ts_sec) {
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        snprintf(ts_text, sizeof(ts_text), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        ts_sec = now.tv_sec;
    }
    int ms = (int)(now.tv_nsec / 1000000);
    char msbuf[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 0};
    size_t len = APP_LIT(buf, 0, cap, "{\"ts\":\"");
    len = app(buf, len, cap, ts_text, strlen(ts_text));
    len = app(buf, len, cap, msbuf, 4);
    len = APP_LIT(buf, len, cap, "Z\",\"level\":\"");
    len = app(buf, len, cap, level_names[level], strlen(level_names[level]));
    len = APP_LIT(buf, len, cap, "\",\"cat\":\"");
    len = app(buf, len, cap, category, strlen(category));
    len = APP_LIT(buf, len, cap, "\"");
    if (req_id != NULL) {
        len = APP_LIT(buf, len, cap, ",\"req\":\"");
        len = tf_log_json_escape(buf, len, cap, req_id, strlen(req_id));
        len = APP_LIT(buf, len, cap, "\"");
    }
    return len;
}

#define TBUF_SIZE 65536
static __thread char *tbuf;
static __thread size_t tbuf_len;

static void write_all(const char *buf, size_t len)
{
    int fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
    /* Logging must never take the server down; a failed write is dropped.
     * Lines are whole within one write, so threads never interleave. */
    while (len > 0) {
        ssize_t r = write(fd, buf, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        buf += r;
        len -= (size_t)r;
    }
}

void tf_log_thread_buffered(int on)
{
    if (on && tbuf == NULL) {
        tbuf = malloc(TBUF_SIZE);
        tbuf_len = 0;
    } else if (!on && tbuf != NULL) {
        tf_log_flush();
        free(tbuf);
        tbuf = NULL;
    }
}

void tf_log_flush(void)
{
    if (tbuf != NULL && tbuf_len > 0) {
        write_all(tbuf, tbuf_len);
        tbuf_len = 0;
    }
}

static void line_emit(char *buf, size_t len, size_t cap)
{
    if (len + 2 >= cap)
        len = cap - 3;
    buf[len++] = '}';
    buf[len++] = '\n';
    if (tbuf == NULL) {
        write_all(buf, len);
        return;
    }
    if (tbuf_len + len > TBUF_SIZE)
        tf_log_flush();
    memcpy(tbuf + tbuf_len, buf, len);
    tbuf_len += len;
}

void tf_log(int level, const char *category, const char *req_id, const char *fmt, ...)
{
    if (!tf_log_enabled(level) || level >= TF_LOG_OFF)
        return;
    char msg[2048], buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int mlen = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (mlen < 0)
        return;
    if ((size_t)mlen >= sizeof(msg))
        mlen = sizeof(msg) - 1;
    size_t len = line_head(buf, sizeof(buf), level, category, req_id);
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",\"msg\":\"");
    len = tf_log_json_escape(buf, len, sizeof(buf) - 2, msg, (size_t)mlen);
    buf[len++] = '"';
    line_emit(buf, len, sizeof(buf));
}

void tf_log_access(const char *req_id, const char *method, size_t method_len, const char *path, size_t path_len,
                   const char *route, int status, const char *protocol, double duration_ms, size_t bytes_in)
{
    if (!tf_log_enabled(TF_LOG_INFO))
        return;
    char buf[4096];
    size_t cap = sizeof(buf) - 256; /* room for the fixed tail */
    size_t len = line_head(buf, cap, TF_LOG_INFO, "api", req_id);
    len = APP_LIT(buf, len, cap, ",\"method\":\"");
    len = tf_log_json_escape(buf, len, cap, method, method_len);
    len = APP_LIT(buf, len, cap, "\",\"path\":\"");
    /* The query string may carry secrets (?key=...): log the path only. */
    len = tf_log_json_escape(buf, len, cap, path, path_len);
    cap = sizeof(buf);
    len = APP_LIT(buf, len, cap, "\",\"route\":\"");
    len = app(buf, len, cap, route, strlen(route));
    len = APP_LIT(buf, len, cap, "\",\"status\":");
    len = app_u64(buf, len, cap, (uint64_t)status);
    len = APP_LIT(buf, len, cap, ",\"proto\":\"");
    len = app(buf, len, cap, protocol, strlen(protocol));
    len = APP_LIT(buf, len, cap, "\",\"ms\":");
    uint64_t us = duration_ms > 0 ? (uint64_t)(duration_ms * 1000.0 + 0.5) : 0;
    len = app_u64(buf, len, cap, us / 1000);
    char frac[4] = {'.', (char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10), (char)('0' + us % 10)};
    len = app(buf, len, cap, frac, 4);
    len = APP_LIT(buf, len, cap, ",\"bytes_in\":");
    len = app_u64(buf, len, cap, bytes_in);
    line_emit(buf, len, sizeof(buf));
}
