/* Unit tests for the HTTP server over real loopback sockets: the server runs on its own
 * libuv loop in a background thread; the test thread is the client, with blocking sockets
 * and receive timeouts. Handlers are chosen by request path (see on_request). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http_server.h"

/* ---- the server side (loop thread) ---- */

struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    struct mb_http_server *srv;
    pthread_t thread;
    int port;
    atomic_int requests;
    atomic_int aborted;
    atomic_int drained;
    atomic_int enobufs;
    atomic_int drains;
    atomic_int answer_seq[8];
    atomic_int answers;
    atomic_long streamed;
    atomic_int errors;
};

static struct fixture *F;

struct delayed {
    uv_timer_t timer;
    struct mb_http_exchange *ex;
    int id;
    char body[64];
};

static void delayed_closed(uv_handle_t *h)
{
    free(h->data);
}

static void delayed_fire(uv_timer_t *t)
{
    struct delayed *d = t->data;
    int k = atomic_fetch_add(&F->answers, 1);
    if (k < 8)
        atomic_store(&F->answer_seq[k], d->id);
    struct mb_http_header h = {"Content-Type", 12, "text/plain", 10};
    mb_http_respond(d->ex, 200, &h, 1, d->body, strlen(d->body));
    uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

static void delayed_abort(struct mb_http_exchange *ex, void *data)
{
    struct delayed *d = data;
    atomic_fetch_add(&F->aborted, 1);
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

static void respond_later(struct mb_http_exchange *ex, unsigned ms, int id, const char *body)
{
    struct delayed *d = calloc(1, sizeof(*d));
    d->ex = ex;
    d->id = id;
    snprintf(d->body, sizeof(d->body), "%s", body);
    uv_timer_init(&F->loop, &d->timer);
    d->timer.data = d;
    mb_http_exchange_set_data(ex, d);
    mb_http_exchange_on_abort(ex, delayed_abort);
    uv_timer_start(&d->timer, delayed_fire, ms, 0);
}

static void count_abort(struct mb_http_exchange *ex, void *data)
{
    atomic_fetch_add(&F->aborted, 1);
}

#define STREAM_TOTAL (24L * 1024 * 1024)
#define STREAM_CHUNK 65536

static void stream_pump(struct mb_http_exchange *ex)
{
    static char chunk[STREAM_CHUNK];
    memset(chunk, 'z', sizeof(chunk));
    for (;;) {
        long done = atomic_load(&F->streamed);
        if (done >= STREAM_TOTAL) {
            mb_http_stream_end(ex);
            return;
        }
        int rc = mb_http_stream_write(ex, chunk, sizeof(chunk));
        if (rc == -ENOBUFS) {
            atomic_fetch_add(&F->enobufs, 1);
            return;
        }
        if (rc != 0) {
            atomic_fetch_add(&F->errors, 1);
            return;
        }
        atomic_fetch_add(&F->streamed, STREAM_CHUNK);
    }
}

static void stream_drain(struct mb_http_exchange *ex, void *data)
{
    atomic_fetch_add(&F->drains, 1);
    stream_pump(ex);
}

static void on_drained(void *data)
{
    atomic_fetch_add(&F->drained, 1);
}

static void on_request(struct mb_http_exchange *ex, const struct mb_http_request *req, void *data)
{
    atomic_fetch_add(&F->requests, 1);
    const char *p = req->path;
    if (strncmp(p, "/delay/", 7) == 0) {
        int ms = atoi(p + 7);
        char body[64];
        snprintf(body, sizeof(body), "delay-%d", ms);
        respond_later(ex, (unsigned)ms, ms, body);
    } else if (strcmp(p, "/hang") == 0) {
        mb_http_exchange_on_abort(ex, count_abort);
    } else if (strcmp(p, "/stream") == 0) {
        mb_http_exchange_on_drain(ex, stream_drain);
        mb_http_exchange_on_abort(ex, count_abort);
        struct mb_http_header h = {"Content-Type", 12, "application/octet-stream", 24};
        mb_http_stream_start(ex, 200, &h, 1);
        stream_pump(ex);
    } else if (strcmp(p, "/sse") == 0) {
        struct mb_http_header h = {"Content-Type", 12, "text/event-stream", 17};
        mb_http_stream_start(ex, 200, &h, 1);
        mb_http_stream_write(ex, "data: one\n\n", 11);
        mb_http_stream_write(ex, "data: two\n\n", 11);
        mb_http_stream_end(ex);
    } else if (strcmp(p, "/shutdown") == 0) {
        mb_http_server_shutdown(F->srv, on_drained, NULL);
        mb_http_respond(ex, 200, NULL, 0, "bye", 3);
    } else if (strcmp(p, "/begin-drain") == 0) {
        mb_http_server_begin_drain(F->srv);
        mb_http_respond(ex, 200, NULL, 0, "draining", 8);
    } else if (strcmp(p, "/stall-then-shutdown") == 0) {
        /* The loop stalls: connections made meanwhile wait in the kernel's accept queue. */
        usleep(300 * 1000);
        mb_http_server_shutdown(F->srv, on_drained, NULL);
        mb_http_respond(ex, 200, NULL, 0, "bye", 3);
    } else {
        /* Echo: method, path, query, body. */
        char head[512];
        int n = snprintf(head, sizeof(head), "%s %s ?%s peer=%s body=", req->method_name, req->path, req->query,
                         req->peer);
        size_t total = (size_t)n + req->body_len;
        char *out = malloc(total + 1);
        memcpy(out, head, (size_t)n);
        memcpy(out + n, req->body, req->body_len);
        mb_http_respond(ex, 200, NULL, 0, out, total);
        free(out);
    }
}

static void on_stop(uv_async_t *a)
{
    mb_http_server_destroy(F->srv);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    uv_run(&F->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void server_start(const struct mb_http_limits *l)
{
    F = calloc(1, sizeof(*F));
    assert_int_equal(uv_loop_init(&F->loop), 0);
    assert_int_equal(uv_async_init(&F->loop, &F->stop, on_stop), 0);
    F->srv = mb_http_server_create(&F->loop, l, on_request, NULL);
    assert_non_null(F->srv);
    assert_int_equal(mb_http_server_bind(F->srv, "127.0.0.1", 0), 0);
    F->port = mb_http_server_port(F->srv);
    assert_true(F->port > 0);
    assert_int_equal(pthread_create(&F->thread, NULL, loop_main, NULL), 0);
}

static void server_stop(void)
{
    uv_async_send(&F->stop);
    pthread_join(F->thread, NULL);
    assert_int_equal(uv_loop_close(&F->loop), 0);
    free(F);
    F = NULL;
}

static void limits_test(struct mb_http_limits *l)
{
    mb_http_limits_default(l);
}

/* ---- the client side ---- */

struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
};

struct response {
    int status;
    char headers[4096];
    char *body;
    size_t body_len;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int client_open(struct client *c, int rcvbuf)
{
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (rcvbuf)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(c->fd, (struct sockaddr *)&a, sizeof(a));
}

static void client_close(struct client *c)
{
    close(c->fd);
    c->fd = -1;
}

static void client_send(struct client *c, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void client_sends(struct client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Reads more input; returns bytes read, 0 on EOF, -1 on error/timeout. */
static ssize_t client_fill(struct client *c)
{
    if (c->len == sizeof(c->buf))
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

static void client_take(struct client *c, char *out, size_t n)
{
    if (out)
        memcpy(out, c->buf, n);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads up to and including the next CRLF; returns the line length (without CRLF) or -1. */
static ssize_t client_line(struct client *c, char *out, size_t cap)
{
    for (;;) {
        char *e = memmem(c->buf, c->len, "\r\n", 2);
        if (e) {
            size_t n = (size_t)(e - c->buf);
            if (n >= cap)
                return -1;
            client_take(c, out, n);
            out[n] = 0;
            client_take(c, NULL, 2);
            return (ssize_t)n;
        }
        if (client_fill(c) <= 0)
            return -1;
    }
}

static const char *resp_header(const struct response *r, const char *name)
{
    static char val[256];
    const char *p = r->headers;
    size_t nl = strlen(name);
    while (*p) {
        const char *e = strchr(p, '\n');
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(e - v);
            snprintf(val, sizeof(val), "%.*s", (int)vl, v);
            return val;
        }
        p = e + 1;
    }
    return NULL;
}

/* Reads one response (skipping nothing: a 100 comes back as status 100). Returns 0 or -1. */
static int client_response(struct client *c, struct response *r)
{
    char line[8192];
    memset(r, 0, sizeof(*r));
    if (client_line(c, line, sizeof(line)) < 0)
        return -1;
    if (sscanf(line, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    size_t hl = 0;
    for (;;) {
        ssize_t n = client_line(c, line, sizeof(line));
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        hl += (size_t)snprintf(r->headers + hl, sizeof(r->headers) - hl, "%s\n", line);
    }
    if (r->status == 100)
        return 0;
    const char *cl = resp_header(r, "Content-Length");
    const char *te = resp_header(r, "Transfer-Encoding");
    if (cl) {
        size_t want = strtoul(cl, NULL, 10);
        r->body = malloc(want + 1);
        while (c->len < want) {
            size_t have = c->len;
            client_take(c, r->body + r->body_len, have);
            r->body_len += have;
            want -= have;
            if (client_fill(c) <= 0)
                return -1;
        }
        client_take(c, r->body + r->body_len, want);
        r->body_len += want;
        r->body[r->body_len] = 0;
    } else if (te && strcasecmp(te, "chunked") == 0) {
        size_t cap = 1024;
        r->body = malloc(cap);
        for (;;) {
            if (client_line(c, line, sizeof(line)) < 0)
                return -1;
            size_t n = strtoul(line, NULL, 16);
            if (n == 0) {
                if (client_line(c, line, sizeof(line)) != 0)
                    return -1;
                break;
            }
            while (n) {
                if (!c->len && client_fill(c) <= 0)
                    return -1;
                size_t k = c->len < n ? c->len : n;
                if (r->body_len + k + 1 > cap) {
                    while (r->body_len + k + 1 > cap)
                        cap *= 2;
                    r->body = realloc(r->body, cap);
                }
                client_take(c, r->body + r->body_len, k);
                r->body_len += k;
                n -= k;
            }
            if (client_line(c, line, sizeof(line)) != 0)
                return -1;
        }
        r->body[r->body_len] = 0;
    }
    return 0;
}

static void response_free(struct response *r)
{
    free(r->body);
    r->body = NULL;
}

/* True when the server closed the connection (EOF or reset) within the receive timeout. */
static bool client_sees_close(struct client *c)
{
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof(b), 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static bool wait_for(atomic_int *v, int want, unsigned ms)
{
    for (unsigned i = 0; i < ms / 10; i++) {
        if (atomic_load(v) >= want)
            return true;
        sleep_ms(10);
    }
    return atomic_load(v) >= want;
}

/* ---- tests ---- */

static void test_get_post_keepalive(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    assert_non_null(resp_header(&r, "Date"));
    assert_non_null(strstr(r.body, "GET /hello ?x=1 peer=127.0.0.1:"));
    char peer[64];
    snprintf(peer, sizeof(peer), "%s", strstr(r.body, "peer="));
    response_free(&r);
    /* Same connection, a POST. */
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "POST /echo ?"));
    assert_non_null(strstr(r.body, "body=hello"));
    assert_non_null(strstr(r.body, peer)); /* same peer: the connection was reused */
    response_free(&r);
    assert_int_equal(atomic_load(&F->requests), 2);
    assert_int_equal(mb_http_server_connection_count(F->srv), 1);
    client_close(&c);
    server_stop();
}

static void test_http10(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    response_free(&r);
    client_sends(&c, "GET /b HTTP/1.0\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
    server_stop();
}

static void test_pipeline_order(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /delay/300 HTTP/1.1\r\n\r\nGET /delay/1 HTTP/1.1\r\n\r\n"
                     "GET /delay/100 HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
    static const char *const want[] = {"delay-300", "delay-1", "delay-100"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(client_response(&c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
        response_free(&r);
    }
    assert_int_equal(client_response(&c, &r), 0);
    assert_non_null(strstr(r.body, "GET /x"));
    response_free(&r);
    /* The handler really answered out of order. */
    assert_int_equal(atomic_load(&F->answer_seq[0]), 1);
    assert_int_equal(atomic_load(&F->answer_seq[1]), 100);
    assert_int_equal(atomic_load(&F->answer_seq[2]), 300);
    client_close(&c);
    server_stop();
}

static void test_pipeline_many(void **state)
{
    /* More than MB_HTTP_MAX_PIPELINE requests in one write: all answered, in order. */
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    char req[64 * 40];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(req + n, sizeof(req) - n, "GET /delay/%d HTTP/1.1\r\n\r\n", (i % 3) * 5);
    client_send(&c, req, n);
    for (int i = 0; i < 40; i++) {
        char want[32];
        snprintf(want, sizeof(want), "delay-%d", (i % 3) * 5);
        assert_int_equal(client_response(&c, &r), 0);
        assert_string_equal(r.body, want);
        response_free(&r);
    }
    client_close(&c);
    server_stop();
}

static void test_chunked_body(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    sleep_ms(50);
    client_sends(&c, "6\r\n world\r\n0\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "body=hello world"));
    response_free(&r);
    client_close(&c);
    server_stop();
}

static void test_expect_continue(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 100);
    response_free(&r);
    client_sends(&c, "data");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "body=data"));
    response_free(&r);
    client_close(&c);

    /* Behind a slower pipelined request, the 100 Continue waits for its response. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /delay/200 HTTP/1.1\r\n\r\n"
                     "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "delay-200");
    response_free(&r);
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 100);
    response_free(&r);
    client_sends(&c, "more");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "body=more"));
    response_free(&r);
    client_close(&c);

    /* Refused: the declared body is over the limit; no 100, a 413, then close. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
    assert_int_equal(atomic_load(&F->requests), 3);
    server_stop();
}

static void test_413_json(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    l.max_body_bytes = 1000;
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    char body[3000];
    memset(body, 'x', sizeof(body));
    client_sends(&c, "POST /big HTTP/1.1\r\nContent-Length: 3000\r\n\r\n");
    client_send(&c, body, sizeof(body));
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
                                "\"Request body exceeds the limit of 1000 bytes (runtime.max_request_bytes)\"}}");
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);

    /* Chunked, growing past the limit. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        client_sends(&c, "1f4\r\n");
        client_send(&c, body, 500);
        client_sends(&c, "\r\n");
    }
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 413);
    response_free(&r);
    client_close(&c);
    assert_int_equal(atomic_load(&F->requests), 0);
    server_stop();
}

static void test_431_and_400(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    l.max_header_bytes = 1024;
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    char big[2048];
    memset(big, 'h', sizeof(big));
    client_sends(&c, "GET / HTTP/1.1\r\nX-Big: ");
    client_send(&c, big, sizeof(big));
    client_sends(&c, "\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 431);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);

    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "BL\x01H / garbage\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_non_null(strstr(r.body, "\"jsonrpc\":\"2.0\""));
    assert_non_null(strstr(r.body, "invalid HTTP method"));
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
    assert_int_equal(atomic_load(&F->requests), 0);
    server_stop();
}

static void test_408_and_idle(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    l.header_timeout_ms = 200;
    l.body_timeout_ms = 200;
    l.idle_timeout_ms = 300;
    server_start(&l);
    struct client c;
    struct response r;
    /* A stalled header block. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET / HTTP/1.1\r\nHost: x\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 408);
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
    /* A stalled body. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 408);
    response_free(&r);
    client_close(&c);
    /* Idle keep-alive: closed quietly, with no bytes. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    char b[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(recv(c.fd, b, sizeof(b), 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 200); /* not before the idle timeout (300 ms, some slack) */
    client_close(&c);
    server_stop();
}

static void test_connection_cap(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    l.max_connections = 2;
    server_start(&l);
    struct client a, b, c;
    struct response r;
    assert_int_equal(client_open(&a, 0), 0);
    assert_int_equal(client_open(&b, 0), 0);
    client_sends(&a, "GET / HTTP/1.1\r\n\r\n");
    client_sends(&b, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&a, &r), 0);
    response_free(&r);
    assert_int_equal(client_response(&b, &r), 0);
    response_free(&r);
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(resp_header(&r, "Retry-After"), "1");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
    assert_int_equal(atomic_load(&F->requests), 2);
    /* Once one leaves, a new one is served. */
    client_close(&a);
    sleep_ms(100);
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    client_close(&c);
    client_close(&b);
    server_stop();
}

static void test_backpressure(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    l.max_write_backlog = 256 * 1024;
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 32 * 1024), 0);
    client_sends(&c, "GET /stream HTTP/1.1\r\n\r\n");
    /* Do not read: the server must refuse bytes instead of buffering them. */
    assert_true(wait_for(&F->enobufs, 1, 3000));
    /* Kernel buffers absorb some more; then the stream must stall well short of the end. */
    long queued = -1;
    for (int i = 0; i < 50 && atomic_load(&F->streamed) != queued; i++) {
        queued = atomic_load(&F->streamed);
        sleep_ms(200);
    }
    assert_int_equal(atomic_load(&F->streamed), queued);
    assert_true(queued < STREAM_TOTAL / 2);
    int drains = atomic_load(&F->drains);
    assert_int_equal(client_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, STREAM_TOTAL);
    for (size_t i = 0; i < r.body_len; i += 4096)
        assert_int_equal(r.body[i], 'z');
    response_free(&r);
    assert_true(atomic_load(&F->drains) > drains); /* reading resumed the writer */
    assert_int_equal(atomic_load(&F->errors), 0);
    client_close(&c);
    assert_int_equal(atomic_load(&F->aborted), 0);
    server_stop();
}

static void test_sse_stream(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    struct response r;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /sse HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&c, &r), 0);
    assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
    assert_string_equal(resp_header(&r, "Content-Type"), "text/event-stream");
    assert_string_equal(r.body, "data: one\n\ndata: two\n\n");
    response_free(&r);
    assert_int_equal(client_response(&c, &r), 0);
    assert_non_null(strstr(r.body, "GET /after"));
    response_free(&r);
    client_close(&c);
    server_stop();
}

static void test_abort_on_disconnect(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client c;
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /hang HTTP/1.1\r\n\r\n");
    assert_true(wait_for(&F->requests, 1, 2000));
    assert_int_equal(atomic_load(&F->aborted), 0);
    client_close(&c);
    assert_true(wait_for(&F->aborted, 1, 2000));
    /* A delayed answer that never comes: its abort cancels the timer. */
    assert_int_equal(client_open(&c, 0), 0);
    client_sends(&c, "GET /delay/5000 HTTP/1.1\r\n\r\n");
    assert_true(wait_for(&F->requests, 2, 2000));
    client_close(&c);
    assert_true(wait_for(&F->aborted, 2, 2000));
    assert_int_equal(atomic_load(&F->answers), 0);
    server_stop();
}

static void test_shutdown_drains(void **state)
{
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client a, idle, ctl;
    struct response r;
    assert_int_equal(client_open(&idle, 0), 0);
    client_sends(&idle, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&idle, &r), 0);
    response_free(&r);
    assert_int_equal(client_open(&a, 0), 0);
    client_sends(&a, "GET /delay/400 HTTP/1.1\r\n\r\n");
    assert_true(wait_for(&F->requests, 2, 2000));
    assert_int_equal(client_open(&ctl, 0), 0);
    client_sends(&ctl, "GET /shutdown HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&ctl, &r), 0);
    assert_string_equal(r.body, "bye");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&ctl));
    client_close(&ctl);
    assert_true(client_sees_close(&idle)); /* idle connections are closed at once */
    client_close(&idle);
    assert_int_equal(atomic_load(&F->drained), 0); /* a request is still in flight */
    assert_int_equal(client_response(&a, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "delay-400");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&a));
    client_close(&a);
    assert_true(wait_for(&F->drained, 1, 2000));
    sleep_ms(50);
    assert_int_equal(atomic_load(&F->drained), 1);
    assert_int_equal(atomic_load(&F->aborted), 0);
    /* No longer accepting. */
    struct client late;
    assert_int_not_equal(client_open(&late, 0), 0);
    close(late.fd);
    server_stop();
}

/* A connection accepted just before a drain, whose first request arrives after the drain
 * began (a reload, a scale-down), is served once with Connection: close instead of being
 * closed unanswered; one that never sends is closed within a second. */
static void test_shutdown_serves_fresh_connection(void **state)
{
    (void)state;
    struct mb_http_limits l;
    limits_test(&l);
    l.header_timeout_ms = 5000;
    server_start(&l);
    struct client fresh, silent, ctl;
    struct response r;
    assert_int_equal(client_open(&fresh, 0), 0);
    assert_int_equal(client_open(&silent, 0), 0);
    sleep_ms(100); /* both accepted by the server */
    assert_int_equal(client_open(&ctl, 0), 0);
    client_sends(&ctl, "GET /shutdown HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&ctl, &r), 0);
    response_free(&r);
    client_close(&ctl);
    sleep_ms(50);
    client_sends(&fresh, "GET /late HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&fresh, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&fresh));
    client_close(&fresh);
    assert_true(client_sees_close(&silent)); /* after about a second, not the 5 s header timeout */
    client_close(&silent);
    assert_true(wait_for(&F->drained, 1, 3000));
    server_stop();
}

/* The drain delay's first step: nothing is closed. An idle kept-alive connection stays open
 * and its next request is answered with Connection: close; a new connection is still accepted
 * and served once; the listener only closes at mb_http_server_shutdown. */
static void test_begin_drain_keeps_serving(void **state)
{
    (void)state;
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client idle, ctl, fresh, late;
    struct response r;
    assert_int_equal(client_open(&idle, 0), 0);
    client_sends(&idle, "GET /first HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&idle, &r), 0);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    response_free(&r);
    assert_int_equal(client_open(&ctl, 0), 0);
    client_sends(&ctl, "GET /begin-drain HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&ctl, &r), 0);
    assert_string_equal(r.body, "draining");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&ctl));
    client_close(&ctl);
    sleep_ms(200); /* the idle connection is not closed */
    client_sends(&idle, "GET /second HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&idle, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&idle));
    client_close(&idle);
    assert_int_equal(client_open(&fresh, 0), 0);
    client_sends(&fresh, "GET /new HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&fresh, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&fresh));
    client_close(&fresh);
    assert_int_equal(atomic_load(&F->drained), 0);
    assert_int_equal(client_open(&ctl, 0), 0);
    client_sends(&ctl, "GET /shutdown HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&ctl, &r), 0);
    response_free(&r);
    assert_true(client_sees_close(&ctl));
    client_close(&ctl);
    assert_true(wait_for(&F->drained, 1, 2000));
    assert_int_not_equal(client_open(&late, 0), 0);
    close(late.fd);
    server_stop();
}

/* A connection the kernel completed while the loop was busy, still in the accept queue when
 * the listener closes, is accepted and served rather than reset. */
static void test_shutdown_accepts_queued_connection(void **state)
{
    (void)state;
    struct mb_http_limits l;
    limits_test(&l);
    server_start(&l);
    struct client queued, ctl;
    struct response r;
    assert_int_equal(client_open(&ctl, 0), 0);
    client_sends(&ctl, "GET /stall-then-shutdown HTTP/1.1\r\n\r\n");
    assert_true(wait_for(&F->requests, 1, 2000));
    assert_int_equal(client_open(&queued, 0), 0); /* completes in the kernel while the loop stalls */
    client_sends(&queued, "GET /queued HTTP/1.1\r\n\r\n");
    assert_int_equal(client_response(&ctl, &r), 0);
    response_free(&r);
    client_close(&ctl);
    assert_int_equal(client_response(&queued, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_true(client_sees_close(&queued));
    client_close(&queued);
    assert_true(wait_for(&F->drained, 1, 3000));
    server_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_post_keepalive),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_pipeline_order),
        cmocka_unit_test(test_pipeline_many),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_413_json),
        cmocka_unit_test(test_431_and_400),
        cmocka_unit_test(test_408_and_idle),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_sse_stream),
        cmocka_unit_test(test_abort_on_disconnect),
        cmocka_unit_test(test_shutdown_drains),
        cmocka_unit_test(test_shutdown_serves_fresh_connection),
        cmocka_unit_test(test_begin_drain_keeps_serving),
        cmocka_unit_test(test_shutdown_accepts_queued_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
