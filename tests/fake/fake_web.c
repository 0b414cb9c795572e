/*
 * fake_web - a loopback web server for the web tools' tests: a fake SearXNG
 * and pages to crawl. 127.0.0.1 only; HTTP/1.1, one request per connection
 * (Connection: close), a thread per connection so a slow page holds up
 * nothing else. Build (as tests/integration/88_web_tools.sh does):
 *
 *   cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -o fake_web tests/fake/fake_web.c -ljansson -lpthread
 *
 *   fake_web --port P        (the tests use 19620..19629)
 *
 * ROUTES (GET; the query string is ignored unless said otherwise)
 *   /search?q=..&format=json[&pageno=N][&language=L]
 *                   SearXNG's JSON: {"query","number_of_results","results":[15 x {url,title,
 *                   content,engine}]}; title "Result I for <q decoded>". Without format=json: 403,
 *                   as SearXNG answers when the json format is off.
 *   /forbidden/search   403 (SearXNG with the json format disabled)
 *   /nojson/search      200 text/html (not SearXNG)
 *   /page           an article: title, script, style, nav, comments, entities, odd whitespace
 *   /hop/N          N > 0: 302 to /hop/N-1 (absolute URL when N is odd, relative when even);
 *                   N = 0: a page "Landing" ("arrived after the chain")
 *   /to/zero        302 to http://0.0.0.0:PORT/page     /to/userinfo  302 to http://user:secret@127.0.0.1:PORT/page
 *   /to/ftp         302 to ftp://127.0.0.1:PORT/file    /to/nowhere   302 without Location
 *   /big            200 text/html, Content-Length 300000
 *   /bigstream      200 text/html, 300000 bytes, no Content-Length (ends with the connection)
 *   /slow           5 s of silence, then a page (a client hanging up first is counted:
 *                   slow_closed, slow_closed_ms in the stats)
 *   /drip           headers, then a byte every 200 ms for 10 s
 *   /png            image/png                        /octet application/octet-stream
 *   /nocontenttype  a body without Content-Type      /plain text/plain    /json application/json
 *   /latin1         text/html; charset=iso-8859-1 with bytes E9, EF, 80
 *   /metacharset    windows-1252 declared in <meta charset>, no charset in the header
 *   /notfound       404
 * CONTROL
 *   /_fake/stats    {"requests": N, "last": "<request target>", "slow_closed": N, "slow_closed_ms": MS}
 *                   (control routes are not counted)
 *   /_fake/reset    zero the counters
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int port;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long requests, slow_closed, slow_closed_ms = -1;
static char last[4096];

static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static void respond(int fd, int status, const char *ctype, const char *extra, const void *body, size_t len, int with_length)
{
    char head[1024];
    const char *reason = status == 200 ? "OK" : status == 302 ? "Found" : status == 403 ? "Forbidden" : status == 404 ? "Not Found" : "X";
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nConnection: close\r\n%s%s%s%s", status, reason, ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "", extra ? extra : "");
    if (with_length)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    if (send_all(fd, head, (size_t)n) == 0 && len > 0)
        send_all(fd, body, len);
}

static void page(int fd, const char *ctype, const char *body)
{
    respond(fd, 200, ctype, NULL, body, strlen(body), 1);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of `name` in a query string, form-decoded (malloc'ed), or NULL. */
static char *query_param(const char *q, const char *name)
{
    size_t l = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t seg = amp ? (size_t)(amp - q) : strlen(q);
        if (seg > l && strncmp(q, name, l) == 0 && q[l] == '=') {
            char *out = malloc(seg + 1);
            size_t o = 0;
            for (size_t i = l + 1; i < seg; i++) {
                if (q[i] == '+') {
                    out[o++] = ' ';
                } else if (q[i] == '%' && i + 2 < seg && hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0) {
                    out[o++] = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
                    i += 2;
                } else {
                    out[o++] = q[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static void search(int fd, const char *query)
{
    char *fmt = query_param(query, "format");
    char *q = query_param(query, "q");
    if (fmt == NULL || strcmp(fmt, "json") != 0 || q == NULL) {
        respond(fd, 403, "text/html", NULL, "<h1>403 Forbidden</h1>", 22, 1);
        free(fmt);
        free(q);
        return;
    }
    json_t *results = json_array();
    for (int i = 1; i <= 15; i++) {
        char title[1200], url[64], content[64];
        snprintf(title, sizeof(title), "Result %d for %s", i, q);
        snprintf(url, sizeof(url), "https://example.org/r/%d", i);
        snprintf(content, sizeof(content), "Snippet number %d.", i);
        json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:f}", "url", url, "title", title, "content", content, "engine", "fakeengine",
                              "engines", "fakeengine", "score", 1.0 / i);
        if (r == NULL) /* q not UTF-8 */
            r = json_pack("{s:s, s:s, s:n}", "url", url, "title", "(undecodable)", "content");
        json_array_append_new(results, r);
    }
    /* One result without a url (skipped by the tool), one with null content. */
    json_array_append_new(results, json_pack("{s:s}", "title", "no url"));
    json_array_append_new(results, json_pack("{s:s, s:s, s:n}", "url", "https://example.org/nocontent", "title", "No content", "content"));
    json_t *doc = json_pack("{s:s?, s:i, s:o, s:[], s:[], s:[]}", "query", q, "number_of_results", 17, "results", results, "answers",
                            "suggestions", "unresponsive_engines");
    char *body = json_dumps(doc, JSON_COMPACT);
    page(fd, "application/json", body ? body : "{}");
    free(body);
    json_decref(doc);
    free(fmt);
    free(q);
}

static const char article[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head>\n<meta charset=\"utf-8\">\n"
    "  <title>  Caf&eacute; &amp; Cr&egrave;me   News </title>\n"
    "<style>body { color: red; } .secret-style { display: none }</style>\n"
    "<script>var secretScript = \"</p><p>not text\"; if (a < b) {}</script>\n"
    "<script type=\"application/ld+json\">{\"secretJson\": 1}</script>\n"
    "</head>\n<body>\n"
    "<nav class=\"top\"><a href=\"/\">SecretNavHome</a> <ul><li><a href=\"/x\">SecretNavItem</a></li></ul></nav>\n"
    "<!-- a comment with SecretComment <p>inside</p> -->\n"
    "<header><h1>Hello   &amp;\n\n   welcome, &lt;friend&gt;!</h1></header>\n"
    "<article>\n<p>Fish &amp; chips cost &#163;5 &#x2F; &#39;cheap&#39; &quot;really&quot; &mdash; &hellip; &nbsp;end.</p>\n"
    "<p data-x='a > b'>Second\tparagraph\r\n  with    spaces and an <b>in</b>line <i>tag</i>.</p>\n"
    "<noscript>SecretNoscript</noscript>\n"
    "<svg><title>SecretSvgTitle</title><text>SecretSvg</text></svg>\n"
    "<template><p>SecretTemplate</p></template>\n"
    "<ul><li>one</li><li>two</li></ul>\n"
    "<table><tr><td>cell1</td><td>cell2</td></tr></table>\n"
    "<p>Unicode: \xc3\xbc\xe2\x82\xac &#x1F600; &#0; &#128; bad:&bogus; legacy:&copy2024 a < b, c&d</p>\n"
    "</article>\n"
    "<nav>SecretNavBottom<nav>SecretNested</nav>SecretAfterNested</nav>\n"
    "<footer><p>Footer text</p></footer>\n"
    "</body></html>\n";

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[16384];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    req[n] = '\0';
    char method[16], target[4096];
    if (sscanf(req, "%15s %4095s", method, target) != 2) {
        close(fd);
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s", target);
    char *qs = strchr(path, '?');
    if (qs != NULL)
        *qs++ = '\0';
    if (strncmp(path, "/_fake/", 7) != 0) {
        pthread_mutex_lock(&mu);
        requests++;
        snprintf(last, sizeof(last), "%s", target);
        pthread_mutex_unlock(&mu);
    }
    char extra[512];
    if (strcmp(path, "/_fake/stats") == 0) {
        pthread_mutex_lock(&mu);
        json_t *doc = json_pack("{s:i, s:s, s:i, s:i}", "requests", (int)requests, "last", last, "slow_closed", (int)slow_closed,
                                "slow_closed_ms", (int)slow_closed_ms);
        pthread_mutex_unlock(&mu);
        char *body = json_dumps(doc, JSON_COMPACT);
        page(fd, "application/json", body ? body : "{}");
        free(body);
        json_decref(doc);
    } else if (strcmp(path, "/_fake/reset") == 0) {
        pthread_mutex_lock(&mu);
        requests = slow_closed = 0;
        slow_closed_ms = -1;
        last[0] = '\0';
        pthread_mutex_unlock(&mu);
        page(fd, "application/json", "{\"ok\":true}");
    } else if (strcmp(path, "/search") == 0) {
        search(fd, qs);
    } else if (strcmp(path, "/forbidden/search") == 0) {
        respond(fd, 403, "text/html", NULL, "<h1>403 Forbidden</h1>", 22, 1);
    } else if (strcmp(path, "/nojson/search") == 0) {
        page(fd, "text/html", "<html><body>not searxng</body></html>");
    } else if (strcmp(path, "/page") == 0) {
        page(fd, "text/html; charset=utf-8", article);
    } else if (strncmp(path, "/hop/", 5) == 0) {
        int k = atoi(path + 5);
        if (k <= 0) {
            page(fd, "text/html", "<html><head><title>Landing</title></head><body><p>arrived after the chain</p></body></html>");
        } else {
            if (k % 2)
                snprintf(extra, sizeof(extra), "Location: http://127.0.0.1:%d/hop/%d\r\n", port, k - 1);
            else
                snprintf(extra, sizeof(extra), "Location: /hop/%d\r\n", k - 1);
            respond(fd, 302, "text/html", extra, "moved", 5, 1);
        }
    } else if (strcmp(path, "/to/zero") == 0) {
        snprintf(extra, sizeof(extra), "Location: http://0.0.0.0:%d/page\r\n", port);
        respond(fd, 302, "text/html", extra, "", 0, 1);
    } else if (strcmp(path, "/to/userinfo") == 0) {
        snprintf(extra, sizeof(extra), "Location: http://user:secret@127.0.0.1:%d/page\r\n", port);
        respond(fd, 302, "text/html", extra, "", 0, 1);
    } else if (strcmp(path, "/to/ftp") == 0) {
        snprintf(extra, sizeof(extra), "Location: ftp://127.0.0.1:%d/file\r\n", port);
        respond(fd, 302, "text/html", extra, "", 0, 1);
    } else if (strcmp(path, "/to/nowhere") == 0) {
        respond(fd, 302, "text/html", NULL, "", 0, 1);
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigstream") == 0) {
        size_t len = 300000;
        char *b = malloc(len);
        memset(b, 'x', len);
        memcpy(b, "<html><body><p>", 15);
        respond(fd, 200, "text/html", NULL, b, len, strcmp(path, "/big") == 0);
        free(b);
    } else if (strcmp(path, "/slow") == 0) {
        /* 5 s of silence, watching for the client to hang up (slow_closed, slow_closed_ms). */
        int closed = 0;
        for (int ms = 0; ms < 5000 && !closed; ms += 20) {
            struct pollfd pfd = {fd, POLLIN, 0};
            char c;
            if (poll(&pfd, 1, 20) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0) {
                closed = 1;
                pthread_mutex_lock(&mu);
                slow_closed++;
                slow_closed_ms = ms;
                pthread_mutex_unlock(&mu);
            }
        }
        if (!closed)
            page(fd, "text/html", "<title>Slow</title><p>finally</p>");
    } else if (strcmp(path, "/drip") == 0) {
        respond(fd, 200, "text/html", NULL, "", 0, 0);
        for (int i = 0; i < 50; i++) {
            if (send_all(fd, "x", 1) < 0)
                break;
            usleep(200000);
        }
    } else if (strcmp(path, "/png") == 0) {
        static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
        respond(fd, 200, "image/png", NULL, png, sizeof(png), 1);
    } else if (strcmp(path, "/octet") == 0) {
        respond(fd, 200, "application/octet-stream", NULL, "\x00\x01\x02\x03", 4, 1);
    } else if (strcmp(path, "/nocontenttype") == 0) {
        respond(fd, 200, NULL, NULL, "hello", 5, 1);
    } else if (strcmp(path, "/plain") == 0) {
        page(fd, "text/plain; charset=utf-8", "  line one\r\nline two   \n\n\n\nline three\n");
    } else if (strcmp(path, "/json") == 0) {
        page(fd, "application/json", "{\"a\": 1, \"b\": \"<not html>\"}");
    } else if (strcmp(path, "/latin1") == 0) {
        page(fd, "text/html; charset=ISO-8859-1", "<title>Caf\xe9</title><p>na\xefve \x80 5</p>");
    } else if (strcmp(path, "/metacharset") == 0) {
        page(fd, "text/html", "<html><head><meta charset=\"windows-1252\"><title>Gr\xfc\xdf" "e</title></head><p>\x93quoted\x94</p></html>");
    } else {
        respond(fd, 404, "text/html", NULL, "<h1>not found</h1>", 18, 1);
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
    if (port <= 0) {
        fprintf(stderr, "usage: fake_web --port P\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 128) != 0) {
        perror("fake_web: bind/listen");
        return 1;
    }
    fprintf(stderr, "fake_web listening on 127.0.0.1:%d\n", port);
    for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("fake_web: accept");
            return 1;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
