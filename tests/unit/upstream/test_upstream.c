/* Unit tests for src/upstream: a small HTTP/1.1 server on 127.0.0.1 (port 0) runs on the same
 * libuv loop as the client and answers a handful of routes (JSON with keep-alive, 404, a body
 * far over the cap, an endless chunked body, a request it never answers, gzip bodies, an echo).
 * The server counts accepts and notices when the client hangs up mid-body, so the tests can
 * check connection reuse and that an oversized transfer really stopped early. Every wait is
 * bounded by a deadline timer; nothing measures speed.
 * Downstream TLS is tested against a second, blocking OpenSSL server (one thread per
 * connection) with a CA, a server and a client certificate made at test time: verification,
 * client certificates, the handshake counter on keep-alive connections and session resumption
 * on a new connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG_TOTAL (64u * 1024u * 1024u)
#define CHUNK (64u * 1024u)
#define IN_MAX (64u * 1024u)

/* --- gzip without zlib: fixed-Huffman deflate, literals plus runs (length 258, distance 1) --- */

struct bits {
    unsigned char *p;
    size_t len, cap;
    unsigned acc, n;
};

static void bits_put(struct bits *b, unsigned v, unsigned count)  /* LSB first */
{
    for (unsigned i = 0; i < count; i++) {
        b->acc |= ((v >> i) & 1u) << b->n;
        if (++b->n == 8) {
            assert_true(b->len < b->cap);
            b->p[b->len++] = (unsigned char)b->acc;
            b->acc = b->n = 0;
        }
    }
}

static void bits_code(struct bits *b, unsigned code, unsigned count)  /* Huffman: MSB first */
{
    for (unsigned i = count; i-- > 0;)
        bits_put(b, (code >> i) & 1u, 1);
}

static void put_symbol(struct bits *b, unsigned v)
{
    if (v <= 143)
        bits_code(b, 0x30 + v, 8);
    else if (v <= 255)
        bits_code(b, 0x190 + (v - 144), 9);
    else if (v <= 279)
        bits_code(b, v - 256, 7);
    else
        bits_code(b, 0xC0 + (v - 280), 8);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Returns a malloc'd gzip member of data; *out_len gets its size. */
static unsigned char *gzip_encode(const unsigned char *data, size_t n, size_t *out_len)
{
    struct bits b = {.cap = n * 9 / 8 + 64};
    b.p = malloc(b.cap);
    assert_non_null(b.p);
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    memcpy(b.p, hdr, sizeof hdr);
    b.len = sizeof hdr;
    bits_put(&b, 1, 1);  /* BFINAL */
    bits_put(&b, 1, 2);  /* BTYPE = fixed Huffman */
    size_t i = 0;
    while (i < n) {
        size_t run = 0;
        while (i > 0 && run < 258 && i + run < n && data[i + run] == data[i - 1])
            run++;
        if (run == 258) {
            put_symbol(&b, 285);  /* length 258 */
            bits_code(&b, 0, 5);  /* distance 1 */
            i += 258;
        } else {
            put_symbol(&b, data[i]);
            i++;
        }
    }
    put_symbol(&b, 256);
    if (b.n)
        bits_put(&b, 0, 8 - b.n);
    uint32_t crc = crc32_of(data, n);
    uint32_t isize = (uint32_t)n;
    assert_true(b.len + 8 <= b.cap);
    for (int k = 0; k < 4; k++)
        b.p[b.len++] = (unsigned char)(crc >> (8 * k));
    for (int k = 0; k < 4; k++)
        b.p[b.len++] = (unsigned char)(isize >> (8 * k));
    *out_len = b.len;
    return b.p;
}

/* --- the test server -------------------------------------------------------------------------- */

enum conn_mode { MODE_IDLE, MODE_BIG, MODE_ENDLESS, MODE_HOLD };

struct srv;

struct conn {
    uv_tcp_t tcp;
    struct srv *srv;
    char in[IN_MAX];
    size_t in_len;
    enum conn_mode mode;
    size_t stream_sent;
    bool is_head;  /* answering a HEAD: headers only */
    bool closing;
    struct conn *prev, *next;
};

struct srv {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    bool listening;
    int port;
    unsigned accepts;
    unsigned requests;
    unsigned peer_closes;     /* client hung up */
    unsigned hold_requests;   /* requests to /slow */
    bool stream_aborted;      /* client hung up during /big or /endless */
    size_t stream_sent_at_close;
    char last_method[16];
    char last_path[64];
    char last_accept_encoding[64];
    char last_xtest[64];
    char last_ctype[64];
    char last_clen[32];
    char last_body[256];
    size_t last_body_len;
    struct conn *conns;
};

/* Built once in main: a JSON text and its gzip, and a gzip that inflates 4 MiB of 'A'. */
static char *plain_small;
static size_t plain_small_len;
static unsigned char *gzip_small;
static size_t gzip_small_len;
static unsigned char *gzip_bomb;
static size_t gzip_bomb_len;

struct wreq {
    uv_write_t req;
    struct conn *c;
    bool streaming;
    char data[];
};

static char chunk_data[CHUNK];

static void conn_on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_on_closed);
}

static void conn_peer_gone(struct conn *c)
{
    if (c->closing)
        return;
    uv_stop(c->srv->loop);
    c->srv->peer_closes++;
    if (c->mode == MODE_BIG || c->mode == MODE_ENDLESS) {
        c->srv->stream_aborted = true;
        c->srv->stream_sent_at_close = c->stream_sent;
    }
    conn_close(c);
}

static void stream_next(struct conn *c);
static void conn_process(struct conn *c);

static void on_srv_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = w->c;
    bool streaming = w->streaming;
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        conn_peer_gone(c);
        return;
    }
    if (streaming)
        stream_next(c);
}

static void conn_send(struct conn *c, const char *data, size_t len)
{
    struct wreq *w = malloc(sizeof *w + len);
    assert_non_null(w);
    w->c = c;
    w->streaming = false;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    assert_int_equal(uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_srv_write), 0);
}

static void send_response(struct conn *c, int status, const char *reason, const char *ctype,
                          const char *extra, const void *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", status,
                     reason, ctype, len, extra ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof head);
    if (c->is_head)
        len = 0;
    char *all = malloc((size_t)n + len);
    assert_non_null(all);
    memcpy(all, head, (size_t)n);
    if (len)
        memcpy(all + n, body, len);
    conn_send(c, all, (size_t)n + len);
    free(all);
}

static void stream_next(struct conn *c)
{
    struct wreq *w = malloc(sizeof *w);
    assert_non_null(w);
    w->c = c;
    w->streaming = true;
    if (c->mode == MODE_BIG) {
        if (c->stream_sent >= BIG_TOTAL) {
            free(w);
            c->mode = MODE_IDLE;
            conn_process(c);
            return;
        }
        uv_buf_t b = uv_buf_init(chunk_data, CHUNK);
        c->stream_sent += CHUNK;
        assert_int_equal(uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_srv_write), 0);
    } else {
        static char size_line[] = "10000\r\n";
        static char crlf[] = "\r\n";
        uv_buf_t b[3] = {uv_buf_init(size_line, 7), uv_buf_init(chunk_data, CHUNK), uv_buf_init(crlf, 2)};
        c->stream_sent += CHUNK;
        assert_int_equal(uv_write(&w->req, (uv_stream_t *)&c->tcp, b, 3, on_srv_write), 0);
    }
}

static void copy_header(const char *head, size_t head_len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    out[0] = '\0';
    const char *p = head;
    const char *end = head + head_len;
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

static void handle_request(struct conn *c, const char *method, const char *path, const char *body,
                           size_t body_len)
{
    struct srv *s = c->srv;
    uv_stop(s->loop);  /* RUN_UNTIL re-checks its condition */
    s->requests++;
    if (strcmp(path, "/json") == 0) {
        static const char js[] = "{\"ok\":true,\"n\":1}";
        send_response(c, 200, "OK", "application/json", NULL, js, sizeof js - 1);
    } else if (strcmp(path, "/notfound") == 0) {
        send_response(c, 404, "Not Found", "text/plain", NULL, "no such thing", 13);
    } else if (strncmp(path, "/sized/", 7) == 0) {
        size_t n = strtoul(path + 7, NULL, 10);
        char *b = malloc(n + 1);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
            b[i] = (char)('a' + i % 26);
        send_response(c, 200, "OK", "text/plain", NULL, b, n);
        free(b);
    } else if (strcmp(path, "/big") == 0) {
        char head[256];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: %u\r\n\r\n", BIG_TOTAL);
        conn_send(c, head, (size_t)n);
        c->mode = MODE_BIG;
        c->stream_sent = 0;
        stream_next(c);
    } else if (strcmp(path, "/endless") == 0) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";
        conn_send(c, head, sizeof head - 1);
        c->mode = MODE_ENDLESS;
        c->stream_sent = 0;
        stream_next(c);
    } else if (strcmp(path, "/slow") == 0) {
        s->hold_requests++;
        c->mode = MODE_HOLD;
    } else if (strcmp(path, "/gzip") == 0) {
        send_response(c, 200, "OK", "application/json", "Content-Encoding: gzip\r\n", gzip_small,
                      gzip_small_len);
    } else if (strcmp(path, "/bomb") == 0) {
        send_response(c, 200, "OK", "text/plain", "Content-Encoding: gzip\r\n", gzip_bomb,
                      gzip_bomb_len);
    } else if (strcmp(path, "/echo") == 0) {
        send_response(c, 200, "OK", "application/json", NULL, body, body_len);
    } else {
        send_response(c, 400, "Bad Request", "text/plain", NULL, "?", 1);
    }
    (void)method;
}

/* Parses and answers every complete request in the buffer (one at a time, HTTP/1.1). */
static void conn_process(struct conn *c)
{
    struct srv *s = c->srv;
    while (c->mode == MODE_IDLE && !c->closing) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t head_len = (size_t)(end - c->in) + 4;
        char clen[32];
        copy_header(c->in, head_len, "Content-Length", clen, sizeof clen);
        size_t body_len = clen[0] ? strtoul(clen, NULL, 10) : 0;
        if (head_len + body_len > c->in_len)
            return;
        char method[16] = "", path[64] = "";
        assert_int_equal(sscanf(c->in, "%15s %63s", method, path), 2);
        snprintf(s->last_method, sizeof s->last_method, "%s", method);
        snprintf(s->last_path, sizeof s->last_path, "%s", path);
        copy_header(c->in, head_len, "Accept-Encoding", s->last_accept_encoding,
                    sizeof s->last_accept_encoding);
        copy_header(c->in, head_len, "X-Test", s->last_xtest, sizeof s->last_xtest);
        copy_header(c->in, head_len, "Content-Type", s->last_ctype, sizeof s->last_ctype);
        snprintf(s->last_clen, sizeof s->last_clen, "%s", clen);
        s->last_body_len = body_len < sizeof s->last_body - 1 ? body_len : sizeof s->last_body - 1;
        memcpy(s->last_body, c->in + head_len, s->last_body_len);
        s->last_body[s->last_body_len] = '\0';
        char *body = malloc(body_len + 1);
        assert_non_null(body);
        memcpy(body, c->in + head_len, body_len);
        size_t used = head_len + body_len;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->is_head = strcmp(method, "HEAD") == 0;
        handle_request(c, method, path, body, body_len);
        free(body);
    }
}

static void on_srv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(IN_MAX - c->in_len));
}

static void on_srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    if (n < 0) {
        conn_peer_gone(c);
        return;
    }
    c->in_len += (size_t)n;
    conn_process(c);
}

static void on_srv_connection(uv_stream_t *server, int status)
{
    struct srv *s = server->data;
    assert_int_equal(status, 0);
    struct conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->srv = s;
    assert_int_equal(uv_tcp_init(s->loop, &c->tcp), 0);
    c->tcp.data = c;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    s->accepts++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_srv_alloc, on_srv_read), 0);
}

static void srv_start(struct srv *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    assert_int_equal(uv_tcp_init(loop, &s->tcp), 0);
    s->tcp.data = s;
    struct sockaddr_in addr;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 128, on_srv_connection), 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    assert_int_equal(uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &len), 0);
    s->port = ntohs(bound.sin_port);
    s->listening = true;
}

static void make_gzip_bodies(void)
{
    char *plain = malloc(8192);
    assert_non_null(plain);
    size_t n = 0;
    n += (size_t)snprintf(plain + n, 8192 - n, "{\"items\":[");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(plain + n, 8192 - n, "%s{\"id\":%d}", i ? "," : "", i);
    n += (size_t)snprintf(plain + n, 8192 - n, "]}");
    plain_small = plain;
    plain_small_len = n;
    gzip_small = gzip_encode((unsigned char *)plain, n, &gzip_small_len);
    size_t bomb_len = 4u * 1024u * 1024u;
    unsigned char *bomb = malloc(bomb_len);
    assert_non_null(bomb);
    memset(bomb, 'A', bomb_len);
    gzip_bomb = gzip_encode(bomb, bomb_len, &gzip_bomb_len);
    free(bomb);
}

/* Closes up to max connections that sit idle between requests (as a server's keep-alive timeout
 * would); returns how many it closed. */
static unsigned srv_close_idle(struct srv *s, unsigned max)
{
    unsigned n = 0;
    struct conn *c = s->conns;
    while (c && n < max) {
        struct conn *next = c->next;
        if (c->mode == MODE_IDLE && c->in_len == 0) {
            conn_close(c);
            n++;
        }
        c = next;
    }
    return n;
}

static void srv_stop(struct srv *s)
{
    while (s->conns)
        conn_close(s->conns);
    if (s->listening)
        uv_close((uv_handle_t *)&s->tcp, NULL);
    s->listening = false;
}

/* --- fixture ----------------------------------------------------------------------------------- */

struct fx {
    uv_loop_t loop;
    struct srv srv;
    struct mb_upstream *up;
    uv_timer_t deadline;
    bool expired;
    uv_check_t iter;
    unsigned long iterations;   /* loop iterations, counted by a check handle */
};

static void on_iteration(uv_check_t *h)
{
    struct fx *f = h->data;
    f->iterations++;
}

static struct mb_upstream_stats stats_of(struct fx *f)
{
    struct mb_upstream_stats st;
    mb_upstream_stats(f->up, &st);
    return st;
}

static void on_deadline(uv_timer_t *t)
{
    struct fx *f = t->data;
    f->expired = true;
}

/* Runs the loop until cond holds or ms pass; the caller asserts cond afterwards. Callbacks that
 * may change a condition call uv_stop so that UV_RUN_ONCE returns instead of sleeping on. */
#define RUN_UNTIL(f, cond, ms)                                                   \
    do {                                                                         \
        (f)->expired = false;                                                    \
        uv_timer_start(&(f)->deadline, on_deadline, (ms), 0);                    \
        while (!(cond) && !(f)->expired)                                         \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                     \
        uv_timer_stop(&(f)->deadline);                                           \
    } while (0)

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->deadline), 0);
    f->deadline.data = f;
    assert_int_equal(uv_check_init(&f->loop, &f->iter), 0);
    f->iter.data = f;
    assert_int_equal(uv_check_start(&f->iter, on_iteration), 0);
    uv_unref((uv_handle_t *)&f->iter);
    srv_start(&f->srv, &f->loop);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    if (f->up)
        mb_upstream_destroy(f->up);
    f->up = NULL;
    srv_stop(&f->srv);
    uv_close((uv_handle_t *)&f->deadline, NULL);
    uv_close((uv_handle_t *)&f->iter, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    /* Fails when the client left a handle open. */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static struct mb_upstream *fx_up(struct fx *f, const struct mb_upstream_options *o)
{
    f->up = mb_upstream_create(&f->loop, o);
    assert_non_null(f->up);
    return f->up;
}

static void url_for(struct fx *f, char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", f->srv.port, path);
}

/* --- call results ------------------------------------------------------------------------------ */

#define MAX_PHASES 4096

struct result {
    struct fx *f;
    int done_calls;
    enum mb_upstream_error error;
    long status;
    char ctype[64];
    char errmsg[128];
    char *body;
    size_t body_len;
    size_t content_length;
    double total_seconds;
    struct mb_upstream_timing timing;
    unsigned nphases;
    enum mb_upstream_phase phases[MAX_PHASES];
    size_t received[MAX_PHASES];
    size_t totals[MAX_PHASES];
    /* actions run from callbacks */
    struct mb_upstream_call *cancel_on_done;       /* cancel this other call from done */
    bool destroy_on_done;
    bool cancel_self_on_body;
    bool start_on_started;
    struct mb_upstream_call *self;
    struct result *started_result;                 /* result of the call started from STARTED */
};

static void result_free(struct result *r)
{
    free(r->body);
    free(r);
}

static struct result *result_new(struct fx *f)
{
    struct result *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->f = f;
    return r;
}

static void on_done(void *data, const struct mb_upstream_response *resp)
{
    struct result *r = data;
    uv_stop(&r->f->loop);
    r->done_calls++;
    r->error = resp->error;
    r->status = resp->status;
    snprintf(r->ctype, sizeof r->ctype, "%s", resp->content_type ? resp->content_type : "");
    snprintf(r->errmsg, sizeof r->errmsg, "%s", resp->error_message ? resp->error_message : "");
    assert_non_null(resp->body);
    assert_int_equal(resp->body[resp->body_len], '\0');
    free(r->body);
    r->body = malloc(resp->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, resp->body, resp->body_len + 1);
    r->body_len = resp->body_len;
    r->content_length = resp->content_length;
    r->total_seconds = resp->total_seconds;
    r->timing = resp->timing;
    if (r->cancel_on_done)
        mb_upstream_cancel(r->cancel_on_done);
    if (r->destroy_on_done) {
        mb_upstream_destroy(r->f->up);
        r->f->up = NULL;
    }
}

static void on_progress(void *data, enum mb_upstream_phase phase, size_t received, size_t total)
{
    struct result *r = data;
    uv_stop(&r->f->loop);
    assert_int_equal(r->done_calls, 0);
    if (r->nphases < MAX_PHASES) {
        r->phases[r->nphases] = phase;
        r->received[r->nphases] = received;
        r->totals[r->nphases] = total;
        r->nphases++;
    }
    if (phase == MB_UPSTREAM_PHASE_BODY && r->cancel_self_on_body) {
        r->cancel_self_on_body = false;
        mb_upstream_cancel(r->self);
    }
    if (phase == MB_UPSTREAM_PHASE_STARTED && r->start_on_started) {
        char url[128];
        url_for(r->f, url, sizeof url, "/json");
        struct mb_upstream_request req = {.method = "GET", .url = url};
        r->started_result = result_new(r->f);
        assert_non_null(mb_upstream_start(r->f->up, &req, on_done, NULL, r->started_result));
    }
}

static struct mb_upstream_call *start_get(struct fx *f, const char *path, struct result *r,
                                          unsigned timeout_ms, size_t cap)
{
    char url[128];
    url_for(f, url, sizeof url, path);
    struct mb_upstream_request req = {.method = "GET", .url = url, .timeout_ms = timeout_ms,
                                      .max_response_bytes = cap};
    struct mb_upstream_call *c = mb_upstream_start(f->up, &req, on_done, on_progress, r);
    assert_non_null(c);
    r->self = c;
    /* Never completes from inside mb_upstream_start. */
    assert_int_equal(r->done_calls, 0);
    return c;
}

/* --- tests ------------------------------------------------------------------------------------- */

/* Past max_connections, calls wait in mcpbridge's own queue (not curl's), first in first out:
 * only max_connections requests reach the server; a waiting call that is cancelled never calls
 * back; a slot freed by a cancel starts the next waiting call. */
static void test_calls_past_max_connections_wait_in_order(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.max_connections = 2, .max_keepalive = 2, .connect_timeout_ms = 5000};
    fx_up(f, &o);
    struct result *slow[2], *q[3];
    for (int i = 0; i < 2; i++) {
        slow[i] = result_new(f);
        start_get(f, "/slow", slow[i], 20000, 0);
    }
    for (int i = 0; i < 3; i++) {
        q[i] = result_new(f);
        start_get(f, "/json", q[i], 20000, 0);
    }
    assert_int_equal(mb_upstream_active(f->up), 5);
    RUN_UNTIL(f, f->srv.hold_requests == 2, 5000);
    assert_int_equal(f->srv.hold_requests, 2);
    RUN_UNTIL(f, q[0]->done_calls, 300);  /* nothing can finish while both slots are held */
    assert_int_equal(q[0]->done_calls, 0);
    assert_int_equal(f->srv.accepts, 2);
    assert_int_equal(f->srv.requests, 2);
    mb_upstream_cancel(q[1]->self);       /* waiting: gone without a callback */
    mb_upstream_cancel(slow[0]->self);    /* frees a slot from outside the loop's curl work */
    RUN_UNTIL(f, q[0]->done_calls && q[2]->done_calls, 5000);
    assert_int_equal(q[0]->done_calls, 1);
    assert_int_equal(q[2]->done_calls, 1);
    assert_int_equal(q[0]->status, 200);
    assert_int_equal(q[2]->status, 200);
    assert_int_equal(q[1]->done_calls, 0);
    assert_int_equal(slow[0]->done_calls, 0);
    assert_int_equal(mb_upstream_active(f->up), 1);  /* slow[1] still held by the server */
    mb_upstream_cancel(slow[1]->self);
    for (int i = 0; i < 2; i++)
        result_free(slow[i]);
    for (int i = 0; i < 3; i++)
        result_free(q[i]);
}


static void test_json_keepalive_reuses_one_connection(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *a = result_new(f), *b = result_new(f);
    start_get(f, "/json", a, 5000, 0);
    assert_int_equal(mb_upstream_active(f->up), 1);
    RUN_UNTIL(f, a->done_calls, 5000);
    assert_int_equal(a->done_calls, 1);
    assert_int_equal(a->error, MB_UPSTREAM_OK);
    assert_int_equal(a->status, 200);
    assert_string_equal(a->ctype, "application/json");
    assert_string_equal(a->body, "{\"ok\":true,\"n\":1}");
    assert_int_equal(a->content_length, a->body_len);
    assert_true(a->total_seconds >= 0.0);
    assert_int_equal(mb_upstream_active(f->up), 0);

    start_get(f, "/json", b, 5000, 0);
    RUN_UNTIL(f, b->done_calls, 5000);
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->status, 200);
    assert_int_equal(f->srv.requests, 2);
    assert_int_equal(f->srv.accepts, 1);
    assert_int_equal(f->srv.peer_closes, 0);
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.sockets_opened, 1);
    assert_int_equal(st.polls_created, 1);
    assert_int_equal(st.sockets_parked, 1);
    /* The first call opened the connection, the second rode it; no TLS on http://. */
    assert_int_equal(st.connections_new, 1);
    assert_int_equal(st.connections_reused, 1);
    assert_int_equal(st.tls_handshakes, 0);
    assert_true(a->timing.new_connection);
    assert_false(a->timing.tls_handshake);
    assert_int_equal(a->timing.tls_us, 0);
    assert_true(a->timing.total_us > 0);
    assert_true(a->timing.total_us >= a->timing.first_byte_us);
    assert_false(b->timing.new_connection);
    assert_int_equal(b->timing.dns_us, 0);
    assert_int_equal(b->timing.connect_us, 0);
    result_free(a);
    result_free(b);
}

static void test_404_with_body(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    start_get(f, "/notfound", r, 5000, 0);
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_OK);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->ctype, "text/plain");
    assert_string_equal(r->body, "no such thing");
    result_free(r);
}

static void test_big_body_over_cap_stops_early(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    start_get(f, "/big", r, 60000, 64 * 1024);
    RUN_UNTIL(f, r->done_calls && f->srv.stream_aborted, 10000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_ETOOBIG);
    assert_string_equal(r->errmsg, "response exceeded 65536 bytes");
    assert_int_equal(r->status, 200);
    assert_true(r->body_len <= 64 * 1024);
    assert_int_equal(r->content_length, BIG_TOTAL);
    assert_true(f->srv.stream_aborted);
    assert_true(f->srv.stream_sent_at_close < BIG_TOTAL);
    result_free(r);
}

static void test_endless_chunked_over_cap(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    /* The wait is shorter than the call's own timeout: only the cap can end this call. */
    start_get(f, "/endless", r, 60000, 100000);
    RUN_UNTIL(f, r->done_calls && f->srv.stream_aborted, 10000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_ETOOBIG);
    assert_string_equal(r->errmsg, "response exceeded 100000 bytes");
    assert_int_equal(r->content_length, (size_t)-1);
    assert_true(r->body_len <= 100000);
    assert_true(f->srv.stream_aborted);
    assert_true(f->srv.stream_sent_at_close < BIG_TOTAL);
    result_free(r);
}


/* The body hook: bytes go to the caller (no cap applies, the response body is empty); the
 * Content-Type and status are known from the first chunk; a non-zero answer stops the transfer
 * at once with MB_UPSTREAM_ESTOPPED. */
struct hook {
    struct result *r;
    size_t got;
    size_t stop_after;      /* 0 = never stop */
    unsigned calls;
    long status;
    char ctype[64];
    char first[32];
};

static int on_hook_body(void *data, const char *chunk, size_t len)
{
    struct hook *h = data;
    if (h->calls++ == 0) {
        h->status = mb_upstream_call_status(h->r->self);
        const char *ct = mb_upstream_call_content_type(h->r->self);
        snprintf(h->ctype, sizeof h->ctype, "%s", ct ? ct : "");
        snprintf(h->first, sizeof h->first, "%.*s", (int)(len < 31 ? len : 31), chunk);
    }
    h->got += len;
    return h->stop_after && h->got >= h->stop_after;
}

static struct mb_upstream_call *start_hooked(struct fx *f, const char *path, struct result *r,
                                             struct hook *h, size_t cap)
{
    char url[128];
    url_for(f, url, sizeof url, path);
    h->r = r;
    struct mb_upstream_request req = {.method = "GET", .url = url, .timeout_ms = 60000,
                                      .max_response_bytes = cap, .on_body = on_hook_body, .body_data = h};
    struct mb_upstream_call *c = mb_upstream_start(f->up, &req, on_done, on_progress, r);
    assert_non_null(c);
    r->self = c;
    return c;
}

static void test_body_hook_receives_and_stops(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    struct hook h = {0};
    start_hooked(f, "/json", r, &h, 0);
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->error, MB_UPSTREAM_OK);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(h.got, strlen("{\"ok\":true,\"n\":1}"));
    assert_string_equal(h.first, "{\"ok\":true,\"n\":1}");
    assert_int_equal(h.status, 200);
    assert_string_equal(h.ctype, "application/json");
    result_free(r);

    /* Past the cap: the hook gets everything (the cap is the caller's business). */
    r = result_new(f);
    struct hook big = {0};
    big.stop_after = 200000;
    start_hooked(f, "/endless", r, &big, 1024);
    RUN_UNTIL(f, r->done_calls && f->srv.stream_aborted, 10000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_ESTOPPED);
    assert_string_equal(r->errmsg, "stopped by the caller");
    assert_int_equal(r->body_len, 0);
    assert_true(big.got >= 200000);
    assert_true(f->srv.stream_aborted);
    result_free(r);
}

static void test_slow_endpoint_times_out(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    start_get(f, "/slow", r, 300, 0);
    RUN_UNTIL(f, r->done_calls, 10000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_ETIMEDOUT);
    assert_int_equal(r->status, 0);
    assert_true(r->errmsg[0] != '\0');
    assert_int_equal(f->srv.hold_requests, 1);
    RUN_UNTIL(f, f->srv.peer_closes == 1, 5000);
    assert_int_equal(f->srv.peer_closes, 1);
    result_free(r);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_connection_refused(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", free_port());
    struct mb_upstream_request req = {.method = "GET", .url = url, .timeout_ms = 5000};
    assert_non_null(mb_upstream_start(f->up, &req, on_done, NULL, r));
    assert_int_equal(r->done_calls, 0);
    RUN_UNTIL(f, r->done_calls, 10000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_ECONNECT);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->errmsg, "connect"));
    /* The failed socket went out through our close callback and left nothing behind. */
    struct mb_upstream_stats st = stats_of(f);
    assert_true(st.sockets_opened >= 1);
    assert_int_equal(st.sockets_closed, st.sockets_opened);
    assert_int_equal(st.sockets_tracked, 0);
    assert_int_equal(st.sockets_parked, 0);
    result_free(r);
}

static void test_invalid_requests(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    char url[128];
    url_for(f, url, sizeof url, "/json");
    const char *bad_headers[] = {"X-Ok: 1", "X-Bad: a\r\nInjected: b"};
    struct mb_upstream_request req = {.method = "GET", .url = url, .headers = bad_headers, .header_count = 2};
    struct result *r = result_new(f);
    assert_null(mb_upstream_start(f->up, &req, on_done, NULL, r));
    struct mb_upstream_request no_url = {.method = "GET"};
    assert_null(mb_upstream_start(f->up, &no_url, on_done, NULL, r));
    struct mb_upstream_request bad_method = {.method = "GE T", .url = url};
    assert_null(mb_upstream_start(f->up, &bad_method, on_done, NULL, r));
    assert_int_equal(mb_upstream_active(f->up), 0);

    /* Protocols other than http(s) fail through the callback, from the loop. */
    struct mb_upstream_request ftp = {.method = "GET", .url = "ftp://127.0.0.1/x"};
    assert_non_null(mb_upstream_start(f->up, &ftp, on_done, NULL, r));
    assert_int_equal(r->done_calls, 0);
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_EINVAL);
    assert_null(strstr(r->errmsg, "127.0.0.1"));

    struct result *r2 = result_new(f);
    struct mb_upstream_request malformed = {.method = "GET", .url = "http://[::1"};
    assert_non_null(mb_upstream_start(f->up, &malformed, on_done, NULL, r2));
    RUN_UNTIL(f, r2->done_calls, 5000);
    assert_int_equal(r2->error, MB_UPSTREAM_EINVAL);
    assert_int_equal(f->srv.requests, 0);
    result_free(r);
    result_free(r2);
}

static void test_post_and_put_with_body_and_headers(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    char url[128];
    url_for(f, url, sizeof url, "/echo");
    const char *hdrs[] = {"Content-Type: application/json", "X-Test: hello"};
    char body[] = "{\"a\":1}";
    struct mb_upstream_request req = {.method = "POST", .url = url, .headers = hdrs, .header_count = 2,
                                      .body = body, .body_len = strlen(body), .timeout_ms = 5000};
    struct result *r = result_new(f);
    assert_non_null(mb_upstream_start(f->up, &req, on_done, NULL, r));
    memset(body, 'X', strlen(body));  /* the body was copied */
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->status, 200);
    assert_string_equal(f->srv.last_method, "POST");
    assert_string_equal(f->srv.last_xtest, "hello");
    assert_string_equal(f->srv.last_ctype, "application/json");
    assert_string_equal(f->srv.last_body, "{\"a\":1}");
    assert_string_equal(r->body, "{\"a\":1}");

    struct result *r2 = result_new(f);
    const char put_body[] = "[1,2]";
    struct mb_upstream_request put = {.method = "PUT", .url = url, .body = put_body, .body_len = 5};
    assert_non_null(mb_upstream_start(f->up, &put, on_done, NULL, r2));
    RUN_UNTIL(f, r2->done_calls, 5000);
    assert_int_equal(r2->status, 200);
    assert_string_equal(f->srv.last_method, "PUT");
    assert_string_equal(f->srv.last_ctype, "");  /* no default form type slipped in */
    assert_string_equal(f->srv.last_clen, "5");
    assert_string_equal(r2->body, "[1,2]");

    struct result *r3 = result_new(f);
    struct mb_upstream_request del = {.method = "DELETE", .url = url};
    assert_non_null(mb_upstream_start(f->up, &del, on_done, NULL, r3));
    RUN_UNTIL(f, r3->done_calls, 5000);
    assert_int_equal(r3->status, 200);
    assert_string_equal(f->srv.last_method, "DELETE");
    assert_string_equal(f->srv.last_ctype, "");
    assert_string_equal(f->srv.last_clen, "");
    assert_int_equal(r3->body_len, 0);
    assert_string_equal(r3->body, "");

    struct result *r4 = result_new(f);
    char json_url[128];
    url_for(f, json_url, sizeof json_url, "/json");
    struct mb_upstream_request head = {.method = "HEAD", .url = json_url};
    assert_non_null(mb_upstream_start(f->up, &head, on_done, on_progress, r4));
    RUN_UNTIL(f, r4->done_calls, 5000);
    assert_int_equal(r4->error, MB_UPSTREAM_OK);
    assert_int_equal(r4->status, 200);
    assert_string_equal(f->srv.last_method, "HEAD");
    assert_int_equal(r4->body_len, 0);
    assert_int_equal(r4->content_length, 17);
    assert_int_equal(r4->nphases, 2);
    assert_int_equal(r4->phases[1], MB_UPSTREAM_PHASE_HEADERS);
    assert_int_equal(f->srv.accepts, 1);
    result_free(r);
    result_free(r2);
    result_free(r3);
    result_free(r4);
}

static void test_cancel_in_flight(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    struct mb_upstream_call *c = start_get(f, "/slow", r, 10000, 0);
    RUN_UNTIL(f, f->srv.hold_requests == 1, 5000);
    assert_int_equal(f->srv.hold_requests, 1);
    mb_upstream_cancel(c);
    assert_int_equal(mb_upstream_active(f->up), 0);
    RUN_UNTIL(f, f->srv.peer_closes == 1, 5000);
    assert_int_equal(f->srv.peer_closes, 1);
    assert_int_equal(r->done_calls, 0);
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.sockets_closed, 1);
    assert_int_equal(st.sockets_tracked, 0);

    /* The client still works afterwards. */
    struct result *r2 = result_new(f);
    start_get(f, "/json", r2, 5000, 0);
    RUN_UNTIL(f, r2->done_calls, 5000);
    assert_int_equal(r2->status, 200);
    assert_int_equal(r->done_calls, 0);
    result_free(r);
    result_free(r2);
}

static void test_cancel_from_own_progress(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    r->cancel_self_on_body = true;
    start_get(f, "/big", r, 20000, 0);
    RUN_UNTIL(f, f->srv.stream_aborted, 20000);
    assert_true(f->srv.stream_aborted);
    assert_true(f->srv.stream_sent_at_close < BIG_TOTAL);
    assert_false(r->cancel_self_on_body);
    assert_int_equal(r->done_calls, 0);
    assert_int_equal(mb_upstream_active(f->up), 0);
    /* No callback after the cancel: the last phase seen is the BODY that cancelled. */
    assert_int_equal(r->phases[r->nphases - 1], MB_UPSTREAM_PHASE_BODY);
    unsigned seen = r->nphases;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(r->nphases, seen);
    result_free(r);
}

static void test_cancel_other_from_done(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *a = result_new(f), *b = result_new(f);
    struct mb_upstream_call *cb = start_get(f, "/slow", b, 10000, 0);
    RUN_UNTIL(f, f->srv.hold_requests == 1, 5000);
    a->cancel_on_done = cb;
    start_get(f, "/json", a, 5000, 0);
    RUN_UNTIL(f, a->done_calls && f->srv.peer_closes == 1, 5000);
    assert_int_equal(a->done_calls, 1);
    assert_int_equal(a->status, 200);
    assert_int_equal(f->srv.peer_closes, 1);
    assert_int_equal(b->done_calls, 0);
    assert_int_equal(mb_upstream_active(f->up), 0);
    result_free(a);
    result_free(b);
}

static void test_start_from_progress_callback(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *a = result_new(f);
    a->start_on_started = true;
    start_get(f, "/json", a, 5000, 0);
    RUN_UNTIL(f, a->done_calls && a->started_result && a->started_result->done_calls, 5000);
    assert_int_equal(a->done_calls, 1);
    assert_non_null(a->started_result);
    assert_int_equal(a->started_result->done_calls, 1);
    assert_int_equal(a->started_result->status, 200);
    result_free(a->started_result);
    result_free(a);
}

static void test_destroy_from_done_with_calls_in_flight(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *a = result_new(f), *b = result_new(f);
    start_get(f, "/slow", b, 10000, 0);
    RUN_UNTIL(f, f->srv.hold_requests == 1, 5000);
    a->destroy_on_done = true;
    start_get(f, "/json", a, 5000, 0);
    /* Both the held call's connection and the idle one in the cache are closed. */
    RUN_UNTIL(f, a->done_calls && f->srv.peer_closes == 2, 5000);
    assert_int_equal(a->done_calls, 1);
    assert_null(f->up);
    assert_int_equal(f->srv.peer_closes, 2);
    assert_int_equal(b->done_calls, 0);
    result_free(a);
    result_free(b);
}

static void test_destroy_with_calls_in_flight(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *a = result_new(f), *b = result_new(f);
    start_get(f, "/slow", a, 10000, 0);
    start_get(f, "/big", b, 10000, 32u * 1024u * 1024u);
    RUN_UNTIL(f, f->srv.hold_requests == 1 && b->nphases > 2, 5000);
    assert_true(b->nphases > 2);
    mb_upstream_destroy(f->up);
    f->up = NULL;
    RUN_UNTIL(f, f->srv.peer_closes == 2, 5000);
    assert_int_equal(f->srv.peer_closes, 2);
    assert_int_equal(a->done_calls, 0);
    assert_int_equal(b->done_calls, 0);
    result_free(a);
    result_free(b);
}

#define CONCURRENT 50

struct many {
    uv_loop_t *loop;
    unsigned done;
    unsigned ok;
};

static void on_many_done(void *data, const struct mb_upstream_response *resp)
{
    struct many *m = data;
    uv_stop(m->loop);
    m->done++;
    if (resp->error == MB_UPSTREAM_OK && resp->status == 200 && resp->body_len == 1000 &&
        resp->body[999] == 'a' + 999 % 26)
        m->ok++;
}

static void test_fifty_concurrent_calls_share_a_small_pool(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.max_connections = 8, .max_keepalive = 8};
    fx_up(f, &o);
    struct many m = {.loop = &f->loop};
    char url[128];
    url_for(f, url, sizeof url, "/sized/1000");
    struct mb_upstream_request req = {.method = "GET", .url = url, .timeout_ms = 20000};
    for (int i = 0; i < CONCURRENT; i++)
        assert_non_null(mb_upstream_start(f->up, &req, on_many_done, NULL, &m));
    assert_int_equal(mb_upstream_active(f->up), CONCURRENT);
    RUN_UNTIL(f, m.done == CONCURRENT, 20000);
    assert_int_equal(m.done, CONCURRENT);
    assert_int_equal(m.ok, CONCURRENT);
    assert_int_equal(mb_upstream_active(f->up), 0);
    assert_int_equal(f->srv.requests, CONCURRENT);
    assert_true(f->srv.accepts >= 1 && f->srv.accepts <= 8);
}

static void test_progress_phases_in_order(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    start_get(f, "/sized/300000", r, 10000, 0);
    RUN_UNTIL(f, r->done_calls, 10000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_OK);
    assert_int_equal(r->body_len, 300000);
    assert_true(r->nphases >= 3);
    assert_int_equal(r->phases[0], MB_UPSTREAM_PHASE_STARTED);
    assert_int_equal(r->phases[1], MB_UPSTREAM_PHASE_HEADERS);
    assert_int_equal(r->totals[1], 300000);
    size_t last = 0;
    for (unsigned i = 2; i < r->nphases; i++) {
        assert_int_equal(r->phases[i], MB_UPSTREAM_PHASE_BODY);
        assert_true(r->received[i] > last);
        assert_int_equal(r->totals[i], 300000);
        last = r->received[i];
    }
    assert_int_equal(last, 300000);
    result_free(r);
}

static bool have_libz(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return (v->features & CURL_VERSION_LIBZ) != 0;
}

static void test_gzip_decoded_when_accept_encoding(void **state)
{
    struct fx *f = *state;
    if (!have_libz()) {
        print_message("libcurl has no zlib: gzip test skipped\n");
        skip();
    }
    struct mb_upstream_options o = {.accept_encoding = true};
    fx_up(f, &o);
    struct result *r = result_new(f);
    start_get(f, "/gzip", r, 5000, 0);
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->done_calls, 1);
    assert_int_equal(r->error, MB_UPSTREAM_OK);
    assert_non_null(strstr(f->srv.last_accept_encoding, "gzip"));
    assert_int_equal(r->body_len, plain_small_len);
    assert_memory_equal(r->body, plain_small, r->body_len);
    assert_int_equal(r->content_length, gzip_small_len);
    /* Progress totals are unknown for encoded bodies (the header counts compressed bytes). */
    assert_int_equal(r->totals[r->nphases - 1], (size_t)-1);

    /* The cap counts decoded bytes: a small compressed body that inflates past it fails. */
    struct result *b = result_new(f);
    start_get(f, "/bomb", b, 5000, 64 * 1024);
    RUN_UNTIL(f, b->done_calls, 5000);
    assert_int_equal(b->error, MB_UPSTREAM_ETOOBIG);
    assert_true(gzip_bomb_len < 64 * 1024);
    result_free(r);
    result_free(b);
}

static void test_no_accept_encoding_by_default(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *r = result_new(f);
    start_get(f, "/json", r, 5000, 0);
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->status, 200);
    assert_string_equal(f->srv.last_accept_encoding, "");
    result_free(r);
}

/* The server closes a pooled connection while it is idle: the parked poll wakes once and is
 * stopped (no busy loop on the level-triggered EOF), and the next call reconnects. */
static void test_server_closes_idle_pooled_connection(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    struct result *a = result_new(f), *b = result_new(f);
    start_get(f, "/json", a, 5000, 0);
    RUN_UNTIL(f, a->done_calls, 5000);
    assert_int_equal(a->status, 200);
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.sockets_parked, 1);
    assert_int_equal(st.sockets_tracked, 1);

    assert_int_equal(srv_close_idle(&f->srv, 1), 1);
    unsigned long before = f->iterations;
    RUN_UNTIL(f, stats_of(f).parked_wakeups == 1, 5000);
    assert_int_equal(stats_of(f).parked_wakeups, 1);
    /* Idle for a while: a poll left on the EOF would wake the loop thousands of times. */
    RUN_UNTIL(f, false, 200);
    assert_true(f->iterations - before < 20);
    st = stats_of(f);
    assert_int_equal(st.parked_wakeups, 1);
    assert_int_equal(st.sockets_parked, 0);
    assert_int_equal(st.sockets_tracked, 1);  /* still curl's until it notices */
    assert_int_equal(st.sockets_closed, 0);

    start_get(f, "/json", b, 5000, 0);
    RUN_UNTIL(f, b->done_calls, 5000);
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->error, MB_UPSTREAM_OK);
    assert_int_equal(b->status, 200);
    assert_int_equal(f->srv.accepts, 2);
    assert_int_equal(f->srv.requests, 2);
    st = stats_of(f);
    assert_int_equal(st.sockets_opened, 2);
    assert_int_equal(st.sockets_closed, 1);  /* the dead one, through our callback */
    assert_int_equal(st.sockets_tracked, 1);
    assert_int_equal(st.polls_created, 2);
    assert_int_equal(st.sockets_parked, 1);
    result_free(a);
    result_free(b);
}

#define SEQUENTIAL 40

/* Sequential calls over one keep-alive connection: one socket, one poll handle for all. */
static void test_sequential_calls_keep_one_poll(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    for (int i = 0; i < SEQUENTIAL; i++) {
        struct result *r = result_new(f);
        start_get(f, i % 2 ? "/json" : "/sized/5000", r, 5000, 0);
        RUN_UNTIL(f, r->done_calls, 5000);
        assert_int_equal(r->done_calls, 1);
        assert_int_equal(r->status, 200);
        result_free(r);
    }
    assert_int_equal(f->srv.accepts, 1);
    assert_int_equal(f->srv.requests, SEQUENTIAL);
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.sockets_opened, 1);
    assert_int_equal(st.polls_created, 1);
    assert_int_equal(st.sockets_closed, 0);
    assert_int_equal(st.sockets_tracked, 1);
    assert_int_equal(st.sockets_parked, 1);
    assert_int_equal(st.parked_wakeups, 0);
}

/* Destroy with several pooled connections, parked and one already woken by the server's
 * close: every connection is closed and every handle released (the teardown closes the loop;
 * ASan and LeakSanitizer check the memory). */
static void test_destroy_with_parked_sockets(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.max_connections = 4, .max_keepalive = 4};
    fx_up(f, &o);
    struct many m = {.loop = &f->loop};
    char url[128];
    url_for(f, url, sizeof url, "/sized/1000");
    struct mb_upstream_request req = {.method = "GET", .url = url, .timeout_ms = 5000};
    for (int i = 0; i < 4; i++)
        assert_non_null(mb_upstream_start(f->up, &req, on_many_done, NULL, &m));
    RUN_UNTIL(f, m.done == 4, 5000);
    assert_int_equal(m.ok, 4);
    unsigned conns = f->srv.accepts;
    assert_true(conns >= 2 && conns <= 4);
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.sockets_parked, conns);
    assert_int_equal(st.polls_created, conns);

    assert_int_equal(srv_close_idle(&f->srv, 1), 1);
    RUN_UNTIL(f, stats_of(f).parked_wakeups == 1, 5000);
    st = stats_of(f);
    assert_int_equal(st.parked_wakeups, 1);
    assert_int_equal(st.sockets_parked, conns - 1);
    assert_int_equal(st.sockets_tracked, conns);

    mb_upstream_destroy(f->up);
    f->up = NULL;
    RUN_UNTIL(f, f->srv.peer_closes == conns - 1, 5000);
    assert_int_equal(f->srv.peer_closes, conns - 1);
}

/* --- downstream TLS: certificates made at test time, a blocking OpenSSL server ----------------- */

#define CLIENT_KEY_PASSWORD "correct horse"
#define TLS_MAX_CONNS 16

static char tls_dir[64];
static char ca_pem[128], other_ca_pem[128], srv_cert_pem[128], srv_key_pem[128];
static char cli_cert_pem[128], cli_key_pem[128];

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT };

/* A P-256 certificate for key, signed by issuer (self-signed when issuer is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, enum cert_kind kind, X509 *issuer,
                       EVP_PKEY *issuer_key, long serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                                                -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
    X509 *iss = issuer ? issuer : x;
    add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (kind == CERT_CA) {
        add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, iss, NID_authority_key_identifier, "keyid");
        add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, iss, NID_key_usage, "critical,digitalSignature");
        add_ext(x, iss, NID_ext_key_usage, kind == CERT_SERVER ? "serverAuth" : "clientAuth");
        if (kind == CERT_SERVER)
            add_ext(x, iss, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key, const char *password)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    if (cert)
        assert_int_equal(PEM_write_X509(fp, cert), 1);
    if (key)
        assert_int_equal(PEM_write_PrivateKey(fp, key, password ? EVP_aes_128_cbc() : NULL, NULL, 0,
                                              NULL, (void *)password), 1);
    assert_int_equal(fclose(fp), 0);
}

static void make_tls_files(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/mb-upstream-tls-XXXXXX");
    assert_non_null(mkdtemp(tls_dir));
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", tls_dir);
    snprintf(other_ca_pem, sizeof other_ca_pem, "%s/other-ca.pem", tls_dir);
    snprintf(srv_cert_pem, sizeof srv_cert_pem, "%s/server.pem", tls_dir);
    snprintf(srv_key_pem, sizeof srv_key_pem, "%s/server.key", tls_dir);
    snprintf(cli_cert_pem, sizeof cli_cert_pem, "%s/client.pem", tls_dir);
    snprintf(cli_key_pem, sizeof cli_key_pem, "%s/client.key", tls_dir);
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256"), *cli_key = EVP_EC_gen("P-256");
    assert_true(ca_key && other_key && srv_key && cli_key);
    X509 *ca = make_cert(ca_key, "mcpbridge test CA", CERT_CA, NULL, NULL, 1);
    X509 *other = make_cert(other_key, "some other CA", CERT_CA, NULL, NULL, 2);
    X509 *srv = make_cert(srv_key, "127.0.0.1", CERT_SERVER, ca, ca_key, 3);
    X509 *cli = make_cert(cli_key, "mcpbridge test client", CERT_CLIENT, ca, ca_key, 4);
    write_pem(ca_pem, ca, NULL, NULL);
    write_pem(other_ca_pem, other, NULL, NULL);
    write_pem(srv_cert_pem, srv, NULL, NULL);
    write_pem(srv_key_pem, NULL, srv_key, NULL);
    write_pem(cli_cert_pem, cli, NULL, NULL);
    write_pem(cli_key_pem, NULL, cli_key, CLIENT_KEY_PASSWORD);  /* encrypted */
    X509_free(ca);
    X509_free(other);
    X509_free(srv);
    X509_free(cli);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(cli_key);
}

static void remove_tls_files(void)
{
    const char *files[] = {ca_pem, other_ca_pem, srv_cert_pem, srv_key_pem, cli_cert_pem, cli_key_pem};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(tls_dir);
}

/* The server: an acceptor thread and one blocking thread per connection (HTTP/1.1 keep-alive;
 * "/close" answers with Connection: close and hangs up). */
struct tls_srv {
    SSL_CTX *ctx;
    int fd;
    int port;
    pthread_t acceptor;
    pthread_t conns[TLS_MAX_CONNS];
    atomic_uint nconns;
    atomic_uint accepts;
    atomic_uint handshakes;
    atomic_uint handshake_failures;
    atomic_uint resumed;
    atomic_uint requests;
    atomic_uint client_certs;      /* handshakes where a verified client certificate came */
    char client_cn[64];            /* written before client_certs is incremented */
};

static struct tls_srv tsrv;

struct tls_conn_arg {
    struct tls_srv *srv;
    int fd;
};

static void *tls_conn_main(void *arg)
{
    struct tls_conn_arg *a = arg;
    struct tls_srv *srv = a->srv;
    int fd = a->fd;
    free(a);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL *ssl = SSL_new(srv->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
        atomic_fetch_add(&srv->handshake_failures, 1);
        goto out;
    }
    if (SSL_session_reused(ssl))
        atomic_fetch_add(&srv->resumed, 1);
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer && SSL_get_verify_result(ssl) == X509_V_OK) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, srv->client_cn,
                                  sizeof srv->client_cn);
        atomic_fetch_add(&srv->client_certs, 1);
    }
    X509_free(peer);
    atomic_fetch_add(&srv->handshakes, 1);
    char buf[8192];
    size_t len = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == sizeof buf - 1)
                goto out;
            int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        size_t head = (size_t)(end - buf) + 4;
        buf[len] = '\0';
        size_t clen = 0;
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl && cl < end)
            clen = strtoul(cl + 17, NULL, 10);
        if (head + clen > sizeof buf - 1)
            goto out;
        while (len < head + clen) {
            int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        char path[64] = "";
        if (sscanf(buf, "%*s %63s", path) != 1)
            goto out;
        atomic_fetch_add(&srv->requests, 1);
        bool close_after = strcmp(path, "/close") == 0;
        if (strcmp(path, "/wait") == 0)
            usleep(300 * 1000);
        static const char body[] = "{\"tls\":true}";
        char resp[256];
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "%s\r\n%s", sizeof body - 1, close_after ? "Connection: close\r\n" : "", body);
        if (SSL_write(ssl, resp, n) != n)
            goto out;
        memmove(buf, buf + head + clen, len - head - clen);
        len -= head + clen;
        if (close_after) {
            SSL_shutdown(ssl);
            break;
        }
    }
out:
    SSL_free(ssl);
    close(fd);
    return NULL;
}

static void *tls_accept_main(void *arg)
{
    struct tls_srv *srv = arg;
    for (;;) {
        int fd = accept(srv->fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;  /* shut down */
        }
        unsigned i = atomic_load(&srv->nconns);
        if (i >= TLS_MAX_CONNS) {
            close(fd);
            continue;
        }
        atomic_fetch_add(&srv->accepts, 1);
        struct tls_conn_arg *a = malloc(sizeof *a);
        assert_non_null(a);
        a->srv = srv;
        a->fd = fd;
        assert_int_equal(pthread_create(&srv->conns[i], NULL, tls_conn_main, a), 0);
        atomic_store(&srv->nconns, i + 1);
    }
    return NULL;
}

static void tls_srv_start(struct tls_srv *srv)
{
    memset(srv, 0, sizeof *srv);
    srv->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(srv->ctx);
    assert_int_equal(SSL_CTX_use_certificate_file(srv->ctx, srv_cert_pem, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(srv->ctx, srv_key_pem, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_load_verify_locations(srv->ctx, ca_pem, NULL), 1);
    /* Ask for a client certificate, do not require one. */
    SSL_CTX_set_verify(srv->ctx, SSL_VERIFY_PEER, NULL);
    assert_int_equal(SSL_CTX_set_session_id_context(srv->ctx, (const unsigned char *)"mbtest", 6), 1);
    srv->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(srv->fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(srv->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(srv->fd, 16), 0);
    socklen_t alen = sizeof addr;
    assert_int_equal(getsockname(srv->fd, (struct sockaddr *)&addr, &alen), 0);
    srv->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&srv->acceptor, NULL, tls_accept_main, srv), 0);
}

/* Call after the client is gone (its connections closed): every thread ends. */
static void tls_srv_stop(struct tls_srv *srv)
{
    shutdown(srv->fd, SHUT_RDWR);
    pthread_join(srv->acceptor, NULL);
    close(srv->fd);
    unsigned n = atomic_load(&srv->nconns);
    for (unsigned i = 0; i < n; i++)
        pthread_join(srv->conns[i], NULL);
    SSL_CTX_free(srv->ctx);
}

static int tls_setup(void **state)
{
    fx_setup(state);
    tls_srv_start(&tsrv);
    return 0;
}

static int tls_teardown(void **state)
{
    fx_teardown(state);  /* destroys the client: its connections close, the threads end */
    tls_srv_stop(&tsrv);
    return 0;
}

static struct result *tls_get(struct fx *f, const char *path)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d%s", tsrv.port, path);
    struct mb_upstream_request req = {.method = "GET", .url = url, .timeout_ms = 10000};
    struct result *r = result_new(f);
    assert_non_null(mb_upstream_start(f->up, &req, on_done, NULL, r));
    RUN_UNTIL(f, r->done_calls, 10000);
    assert_int_equal(r->done_calls, 1);
    return r;
}

/* Verified against the CA bundle; a second call rides the same keep-alive connection and adds
 * no handshake. */
static void test_tls_verified_with_ca_bundle_and_kept_alive(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.tls_ca_file = ca_pem};
    fx_up(f, &o);
    struct result *a = tls_get(f, "/json");
    assert_int_equal(a->error, MB_UPSTREAM_OK);
    assert_int_equal(a->status, 200);
    assert_string_equal(a->body, "{\"tls\":true}");
    assert_true(a->timing.new_connection);
    assert_true(a->timing.tls_handshake);
    assert_false(a->timing.tls_resumed);
    assert_true(a->timing.tls_us > 0);
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.tls_handshakes, 1);
    assert_int_equal(st.connections_new, 1);

    struct result *b = tls_get(f, "/json");
    assert_int_equal(b->error, MB_UPSTREAM_OK);
    assert_int_equal(b->status, 200);
    assert_false(b->timing.new_connection);
    assert_false(b->timing.tls_handshake);
    assert_int_equal(b->timing.tls_us, 0);
    st = stats_of(f);
    assert_int_equal(st.tls_handshakes, 1);
    assert_int_equal(st.connections_reused, 1);
    assert_int_equal(atomic_load(&tsrv.handshakes), 1);
    assert_int_equal(atomic_load(&tsrv.accepts), 1);
    assert_int_equal(atomic_load(&tsrv.requests), 2);
    assert_int_equal(atomic_load(&tsrv.client_certs), 0);  /* none configured */
    result_free(a);
    result_free(b);
}

/* A server whose CA we were not given is refused: with another CA bundle, and with the system
 * store (the test CA is in no system store). No handshake is counted. */
static void test_tls_refused_without_the_ca(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.tls_ca_file = other_ca_pem};
    fx_up(f, &o);
    struct result *r = tls_get(f, "/json");
    assert_int_equal(r->error, MB_UPSTREAM_ECONNECT);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->errmsg, "upstream connection failed"));
    assert_int_equal(stats_of(f).tls_handshakes, 0);
    result_free(r);
    mb_upstream_destroy(f->up);

    fx_up(f, NULL);
    r = tls_get(f, "/json");
    assert_int_equal(r->error, MB_UPSTREAM_ECONNECT);
    assert_int_equal(stats_of(f).tls_handshakes, 0);
    assert_int_equal(atomic_load(&tsrv.handshakes), 0);
    assert_int_equal(atomic_load(&tsrv.requests), 0);
    result_free(r);
}

/* The client certificate (with an encrypted key) reaches the server; a wrong passphrase fails
 * the call instead of going on without a certificate. */
static void test_tls_client_certificate(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.tls_ca_file = ca_pem, .tls_cert_file = cli_cert_pem,
                                    .tls_key_file = cli_key_pem,
                                    .tls_key_password = CLIENT_KEY_PASSWORD};
    fx_up(f, &o);
    struct result *r = tls_get(f, "/json");
    assert_int_equal(r->error, MB_UPSTREAM_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(atomic_load(&tsrv.client_certs), 1);
    assert_string_equal(tsrv.client_cn, "mcpbridge test client");
    result_free(r);
    mb_upstream_destroy(f->up);

    o.tls_key_password = "wrong";
    fx_up(f, &o);
    r = tls_get(f, "/json");
    assert_int_equal(r->error, MB_UPSTREAM_ECONNECT);
    assert_int_equal(atomic_load(&tsrv.requests), 1);
    result_free(r);
}

static void on_tick(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* After the server closes the connection, the next calls open new ones and resume the TLS
 * session kept in the client's share: abbreviated handshakes, counted as such on both sides.
 * The second call starts while the first still holds the recycled easy handle, so it runs on a
 * brand-new one and can only find the session through the share. It starts once the first
 * handshake is over: two connections opened at the same instant may both pick the same
 * session, and then the second one now and then goes without (see outbound-auth.md). */
static void test_tls_new_connection_resumes_session(void **state)
{
    struct fx *f = *state;
    struct mb_upstream_options o = {.tls_ca_file = ca_pem};
    fx_up(f, &o);
    struct result *a = tls_get(f, "/close");
    assert_int_equal(a->error, MB_UPSTREAM_OK);
    assert_true(a->timing.tls_handshake);
    assert_false(a->timing.tls_resumed);

    char url_wait[128], url_json[128];
    snprintf(url_wait, sizeof url_wait, "https://127.0.0.1:%d/wait", tsrv.port);
    snprintf(url_json, sizeof url_json, "https://127.0.0.1:%d/json", tsrv.port);
    struct mb_upstream_request rw = {.method = "GET", .url = url_wait, .timeout_ms = 10000};
    struct mb_upstream_request rj = {.method = "GET", .url = url_json, .timeout_ms = 10000};
    struct result *b = result_new(f), *c = result_new(f);
    static uv_timer_t tick;  /* closed below, released by the teardown's loop run */
    assert_int_equal(uv_timer_init(&f->loop, &tick), 0);
    uv_timer_start(&tick, on_tick, 10, 10);
    assert_non_null(mb_upstream_start(f->up, &rw, on_done, NULL, b));  /* the recycled handle */
    RUN_UNTIL(f, atomic_load(&tsrv.requests) == 2, 5000);  /* b's handshake is over */
    assert_int_equal(atomic_load(&tsrv.requests), 2);
    uint64_t until = uv_now(&f->loop) + 50;  /* and its session tickets read */
    RUN_UNTIL(f, uv_now(&f->loop) >= until, 1000);
    assert_int_equal(b->done_calls, 0);  /* the server holds /wait for 300 ms */
    assert_non_null(mb_upstream_start(f->up, &rj, on_done, NULL, c));  /* a new handle */
    RUN_UNTIL(f, b->done_calls && c->done_calls, 10000);
    uv_close((uv_handle_t *)&tick, NULL);
    struct result *both[] = {b, c};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(both[i]->done_calls, 1);
        assert_int_equal(both[i]->error, MB_UPSTREAM_OK);
        assert_int_equal(both[i]->status, 200);
        assert_true(both[i]->timing.new_connection);
        assert_true(both[i]->timing.tls_handshake);
        assert_true(both[i]->timing.tls_resumed);
    }
    struct mb_upstream_stats st = stats_of(f);
    assert_int_equal(st.connections_new, 3);
    assert_int_equal(st.tls_handshakes, 3);
    assert_int_equal(st.tls_resumed, 2);
    assert_int_equal(atomic_load(&tsrv.accepts), 3);
    assert_int_equal(atomic_load(&tsrv.resumed), 2);
    result_free(a);
    result_free(b);
    result_free(c);
}

/* A sensitive POST behaves like any other (the body is our own copy, wiped afterwards). */
static void test_sensitive_post_round_trip(void **state)
{
    struct fx *f = *state;
    fx_up(f, NULL);
    char url[128];
    url_for(f, url, sizeof url, "/echo");
    static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                                       "Authorization: Basic c2VjcmV0OnNlY3JldA=="};
    char body[] = "grant_type=client_credentials&scope=a+b";
    struct mb_upstream_request req = {.method = "POST", .url = url, .headers = hdrs,
                                      .header_count = 2, .body = body, .body_len = strlen(body),
                                      .timeout_ms = 5000, .sensitive = true};
    struct result *r = result_new(f);
    assert_non_null(mb_upstream_start(f->up, &req, on_done, NULL, r));
    memset(body, 'x', sizeof body - 1);  /* the caller's buffer may go as soon as start returns */
    RUN_UNTIL(f, r->done_calls, 5000);
    assert_int_equal(r->error, MB_UPSTREAM_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "grant_type=client_credentials&scope=a+b");
    assert_string_equal(f->srv.last_ctype, "application/x-www-form-urlencoded");
    result_free(r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(110);  /* a hung loop fails the run instead of stalling it */
    memset(chunk_data, 'x', sizeof chunk_data);
    make_gzip_bodies();
    make_tls_files();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_keepalive_reuses_one_connection, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_calls_past_max_connections_wait_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_404_with_body, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_big_body_over_cap_stops_early, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_endless_chunked_over_cap, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_body_hook_receives_and_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_slow_endpoint_times_out, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_post_and_put_with_body_and_headers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_in_flight, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_own_progress, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_other_from_done, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_start_from_progress_callback, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_from_done_with_calls_in_flight, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_calls_in_flight, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fifty_concurrent_calls_share_a_small_pool, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_progress_phases_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gzip_decoded_when_accept_encoding, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_accept_encoding_by_default, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_server_closes_idle_pooled_connection, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sequential_calls_keep_one_poll, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_parked_sockets, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sensitive_post_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tls_verified_with_ca_bundle_and_kept_alive, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_refused_without_the_ca, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_certificate, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_new_connection_resumes_session, tls_setup, tls_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    free(plain_small);
    free(gzip_small);
    free(gzip_bomb);
    remove_tls_files();
    return rc;
}
