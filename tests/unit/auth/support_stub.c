/* The test HTTP server of support_stub.h (see there). */
#include "support_stub.h"

#include "upstream/upstream.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void stub_set(struct stub *s, int status, const char *body)
{
    s->status = status;
    s->body_len = strlen(body);
    assert_true(s->body_len < sizeof s->body);
    memcpy(s->body, body, s->body_len + 1);
}

static void stub_conn_closed(uv_handle_t *h)
{
    struct stub_conn *c = h->data;
    if (--c->handles == 0)
        free(c);
}

static void stub_conn_close(struct stub_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->stub->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->delay, stub_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, stub_conn_closed);
}

struct stub_write {
    uv_write_t req;
    char data[];
};

static void stub_on_write(uv_write_t *req, int status)
{
    free(req);
}

static void stub_process(struct stub_conn *c);

static void stub_answer(struct stub_conn *c)
{
    struct stub *s = c->stub;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     s->status, s->body_len);
    struct stub_write *w = malloc(sizeof *w + (size_t)n + s->body_len);
    assert_non_null(w);
    memcpy(w->data, head, (size_t)n);
    memcpy(w->data + n, s->body, s->body_len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)((size_t)n + s->body_len));
    assert_int_equal(uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, stub_on_write), 0);
    c->waiting = false;
    stub_process(c);  /* pipelined requests */
}

static void stub_on_delay(uv_timer_t *t)
{
    struct stub_conn *c = t->data;
    uv_stop(c->stub->loop);
    stub_answer(c);
}

static void stub_copy_header(const char *head, size_t head_len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    out[0] = '\0';
    const char *p = head, *end = head + head_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(eol - v);
            if (vlen && v[vlen - 1] == '\r')
                vlen--;
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return;
        }
        p = eol + 1;
    }
}

static void stub_process(struct stub_conn *c)
{
    struct stub *s = c->stub;
    while (!c->waiting && !c->closing) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t head_len = (size_t)(end - c->in) + 4;
        char clen[32];
        stub_copy_header(c->in, head_len, "Content-Length", clen, sizeof clen);
        size_t body_len = clen[0] ? strtoul(clen, NULL, 10) : 0;
        if (head_len + body_len > c->in_len)
            return;
        char fmt[32];
        snprintf(fmt, sizeof fmt, "%%%zus %%%zus", sizeof s->last_method - 1, sizeof s->last_path - 1);
        assert_int_equal(sscanf(c->in, fmt, s->last_method, s->last_path), 2);
        stub_copy_header(c->in, head_len, "Authorization", s->last_auth, sizeof s->last_auth);
        stub_copy_header(c->in, head_len, "Content-Type", s->last_ctype, sizeof s->last_ctype);
        size_t keep = body_len < sizeof s->last_body - 1 ? body_len : sizeof s->last_body - 1;
        memcpy(s->last_body, c->in + head_len, keep);
        s->last_body[keep] = '\0';
        if (s->requests < STUB_TIMES_MAX)
            s->times[s->requests] = uv_now(s->loop);
        s->requests++;
        uv_stop(s->loop);
        size_t used = head_len + body_len;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->waiting = true;
        if (s->hold)
            return;
        if (s->delay_ms) {
            uv_timer_start(&c->delay, stub_on_delay, s->delay_ms, 0);
            return;
        }
        stub_answer(c);
    }
}

static void stub_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct stub_conn *c = h->data;
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(STUB_IN_MAX - c->in_len));
}

static void stub_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct stub_conn *c = st->data;
    if (n < 0) {
        stub_conn_close(c);
        return;
    }
    c->in_len += (size_t)n;
    stub_process(c);
}

static void stub_on_connection(uv_stream_t *server, int status)
{
    struct stub *s = server->data;
    assert_int_equal(status, 0);
    struct stub_conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->stub = s;
    assert_int_equal(uv_tcp_init(s->loop, &c->tcp), 0);
    assert_int_equal(uv_timer_init(s->loop, &c->delay), 0);
    c->tcp.data = c->delay.data = c;
    c->handles = 2;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, stub_on_alloc, stub_on_read), 0);
}

void stub_start(struct stub *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    assert_int_equal(uv_tcp_init(loop, &s->tcp), 0);
    s->tcp.data = s;
    struct sockaddr_in addr;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 128, stub_on_connection), 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    assert_int_equal(uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &len), 0);
    s->port = ntohs(bound.sin_port);
    s->listening = true;
    stub_set(s, 200, "{}");
}

void stub_stop(struct stub *s)
{
    while (s->conns)
        stub_conn_close(s->conns);
    if (s->listening)
        uv_close((uv_handle_t *)&s->tcp, NULL);
    s->listening = false;
}

/* ---- the shared fixture ---- */

void fx_on_deadline(uv_timer_t *t)
{
    struct fx *f = t->data;
    f->expired = true;
}

void fx_on_ticker(uv_timer_t *t)
{
    uv_stop(t->loop);
}


int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->deadline), 0);
    f->deadline.data = f;
    assert_int_equal(uv_timer_init(&f->loop, &f->ticker), 0);
    uv_timer_start(&f->ticker, fx_on_ticker, 10, 10);
    uv_unref((uv_handle_t *)&f->ticker);
    stub_start(&f->stub, &f->loop);
    f->up = mb_upstream_create(&f->loop, NULL);
    assert_non_null(f->up);
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    struct fx *f = *state;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    mb_upstream_destroy(f->up);
    stub_stop(&f->stub);
    uv_close((uv_handle_t *)&f->deadline, NULL);
    uv_close((uv_handle_t *)&f->ticker, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);  /* fails when a handle was left open */
    free(f);
    return 0;
}

