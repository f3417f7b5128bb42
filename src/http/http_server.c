/* Connections, exchanges and the response path of the HTTP server (see http_server.h).
 * Bytes come in through one 64 KiB read buffer per server (per loop) and are fed to the
 * request reader at once; only bytes that cannot be parsed yet (pipeline full, write backlog
 * over the limit) are copied into a per-connection stash. Exchanges form a queue in request
 * order: the head writes straight to the socket, later ones keep their output in memory
 * until they become the head. One timer per connection serves the header, body, idle,
 * linger and close deadlines. Nothing is freed inside a handler's call: connections go away
 * in libuv close callbacks, exchanges when answered (or aborted) and no longer needed.
 * TLS sits at the two ends only (conn_tls_input on the read side, conn_write on the write
 * side): ciphertext from the read buffer is decrypted into a second per-server buffer and fed
 * to the same conn_process, and every plaintext write is encrypted before uv_write, so the
 * parser, the exchange queue and backpressure do not know about it. A plain connection pays
 * one pointer test per read and per write. */
#include "http/http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/log.h"
#include "http/request_reader_internal.h"
#include "http/tls.h"

#define READ_BUF_SIZE 65536
#define STASH_MAX (2 * READ_BUF_SIZE)
#define LINGER_MS 2000
#define LISTEN_BACKLOG 511
#define OUT_MAX (SIZE_MAX / 4)
#define TLS_PLAIN_SIZE 16384 /* one TLS record of plaintext at most per read call */

enum ex_state { EX_PENDING, EX_STREAMING, EX_DONE };

enum timer_mode { TM_NONE, TM_IDLE, TM_HEADER, TM_BODY, TM_FINISH, TM_LINGER, TM_ABORT };

struct mb_http_exchange {
    struct mb_http_conn *conn;
    struct mb_http_exchange *next;
    struct mb_http_parsed *rq; /* freed once answered */
    void *data;
    mb_http_abort_cb on_abort;
    mb_http_drain_cb on_drain;
    struct mb_buf out;         /* response bytes not yet handed to the socket */
    unsigned char state;       /* enum ex_state */
    bool close;                /* the connection closes after this response */
    bool chunked;
    bool no_body;              /* HEAD request: headers only */
    bool want_drain;           /* stream_write returned -ENOBUFS */
};

/* How long a connection that has not sent its first request yet may still send it once the
 * listener has closed (mb_http_server_shutdown). */
#define MB_HTTP_DRAIN_FRESH_MS 1000

struct mb_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct mb_http_server *srv;
    struct mb_http_conn *prev, *next;
    struct mb_http_reader reader;
    struct mb_http_exchange *head, *tail;
    struct mb_buf stash;      /* unparsed input, only while parsing is paused */
    const char *err_message;
    int err_status;           /* error response owed once earlier responses are out */
    unsigned n_ex;
    unsigned char handles;    /* open uv handles (tcp, timer) */
    unsigned char timer_mode; /* enum timer_mode */
    bool reading, processing, reprocess;
    bool no_more;             /* start no new request (close, error, upgrade, shutdown) */
    bool finishing;           /* write side shutting down after the last response */
    bool linger_wanted, lingering, closing, broken, bp_paused, rejected;
    bool used;                /* a request was received (a fresh one waits header_timeout) */
    bool continue_owed;       /* 100 Continue to send once earlier responses are out */
    bool tls_seen;            /* TLS: bytes arrived (a handshake was attempted) */
    struct mb_tls_conn *tls;  /* NULL on a plain HTTP server */
    char peer[64];
};

struct mb_http_server {
    uv_loop_t *loop;
    struct mb_http_limits limits;
    mb_http_request_cb on_request;
    void *data;
    uv_tcp_t listener;
    bool listener_open, destroying, drained_called;
    bool draining;            /* responses close their connection (mb_http_server_begin_drain) */
    bool stopping;            /* no longer accepting; on_drained once empty (mb_http_server_shutdown) */
    int port;
    struct mb_http_conn *conns;
    unsigned n_conns;         /* served connections (not the 503 ones) */
    unsigned n_open;          /* objects whose close callbacks are still due */
    void (*on_drained)(void *data);
    void *drained_data;
    time_t date_sec;
    char date[40];
    struct mb_http_tls_stats tls_stats;
    uint64_t responses[6];    /* responses by status class (index status / 100; 0 = other) */
    char *tls_plain;          /* TLS: decrypted input, TLS_PLAIN_SIZE bytes; NULL when plain */
    char rbuf[READ_BUF_SIZE]; /* the one read buffer of this loop */
};

struct write_req {
    uv_write_t req;
    char *data; /* owned */
};

static void conn_process(struct mb_http_conn *c, const char *data, size_t len);
static void conn_close(struct mb_http_conn *c);
static void conn_check_drain(struct mb_http_conn *c);

void mb_http_limits_default(struct mb_http_limits *limits)
{
    limits->max_header_bytes = 16384;
    limits->max_body_bytes = 10240;
    limits->header_timeout_ms = 10000;
    limits->body_timeout_ms = 10000;
    limits->idle_timeout_ms = 60000;
    limits->max_connections = 10000;
    limits->max_write_backlog = 1024 * 1024;
    limits->tls = NULL;
}

const char *mb_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* ---- response composition ---------------------------------------------------------- */

static const char *server_date(struct mb_http_server *srv)
{
    time_t now = time(NULL);
    if (now != srv->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_sec = now;
    }
    return srv->date;
}

static bool header_is_reserved(const struct mb_http_header *h)
{
    static const char *const names[] = {"Content-Length", "Transfer-Encoding", "Connection", "Date"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (h->name_len == strlen(names[i]) && strncasecmp(h->name, names[i], h->name_len) == 0)
            return true;
    return false;
}

static bool header_is_clean(const struct mb_http_header *h)
{
    if (!h->name || !h->name_len || (h->value_len && !h->value))
        return false;
    if (memchr(h->name, '\r', h->name_len) || memchr(h->name, '\n', h->name_len) ||
        memchr(h->name, ':', h->name_len))
        return false;
    return !h->value_len || (!memchr(h->value, '\r', h->value_len) && !memchr(h->value, '\n', h->value_len));
}

/* Status line, Date, framing (may be NULL), Connection, handler headers, blank line. */
static int compose_head(struct mb_buf *b, struct mb_http_server *srv, int status, const char *framing,
                        bool close, const struct mb_http_header *headers, size_t n)
{
    srv->responses[status >= 100 && status < 600 ? status / 100 : 0]++;
    int rc = mb_buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, mb_http_status_text(status),
                           server_date(srv));
    if (!rc && framing)
        rc = mb_buf_printf(b, "%s\r\n", framing);
    if (!rc)
        rc = mb_buf_append_str(b, close ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
    for (size_t i = 0; !rc && i < n; i++) {
        if (header_is_reserved(&headers[i]))
            continue;
        if (!header_is_clean(&headers[i])) {
            mb_warn("http", "dropping a response header with a bad name or value");
            continue;
        }
        rc = mb_buf_append(b, headers[i].name, headers[i].name_len);
        if (!rc)
            rc = mb_buf_append(b, ": ", 2);
        if (!rc)
            rc = mb_buf_append(b, headers[i].value, headers[i].value_len);
        if (!rc)
            rc = mb_buf_append(b, "\r\n", 2);
    }
    if (!rc)
        rc = mb_buf_append(b, "\r\n", 2);
    return rc;
}

/* ---- socket writes ---------------------------------------------------------------------- */

static size_t conn_backlog(const struct mb_http_conn *c)
{
    size_t n = uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
    for (const struct mb_http_exchange *ex = c->head; ex; ex = ex->next)
        n += ex->out.len;
    return n;
}

static void timer_set(struct mb_http_conn *c, unsigned char mode, uint64_t ms);

/* Marks the connection broken; the abort runs from the timer, outside any handler call. */
static void conn_break(struct mb_http_conn *c)
{
    if (c->closing || c->broken)
        return;
    c->broken = true;
    c->no_more = true;
    timer_set(c, TM_ABORT, 0);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct mb_http_conn *c = req->handle->data;
    free(w->data);
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        mb_debug("http", "write to %s failed: %s", c->peer, uv_strerror(status));
        conn_close(c);
        return;
    }
    conn_check_drain(c);
    conn_process(c, NULL, 0);
}

static bool conn_wants_drain(const struct mb_http_conn *c)
{
    for (const struct mb_http_exchange *ex = c->head; ex; ex = ex->next)
        if (ex->want_drain)
            return true;
    return false;
}

/* Writes len bytes to the socket as they are; takes ownership of data (malloc'd).
 * When nothing is queued before them they are first written at once (uv_try_write): a response
 * that fits the socket buffer - nearly all of them - then costs one write(2) and no write request.
 * (A queued uv_write ends with libuv re-arming the socket in epoll: one epoll_ctl per response.)
 * The rest, if any, is queued as usual; a stream waiting for a drain notification always queues,
 * so on_write keeps delivering it. */
static void conn_write_raw(struct mb_http_conn *c, char *data, size_t len)
{
    if (c->closing || c->broken) {
        free(data);
        if (!c->closing)
            conn_break(c);
        return;
    }
    size_t done = 0;
    if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) == 0 && !conn_wants_drain(c)) {
        uv_buf_t first = uv_buf_init(data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &first, 1);
        if (n == UV_EAGAIN || n == UV_ENOSYS) {
            n = 0;
        } else if (n < 0) {
            free(data);
            conn_break(c);
            return;
        }
        done = (size_t)n;
        if (done == len) {
            free(data);
            if (c->processing)
                c->reprocess = true; /* what on_write would have asked for */
            return;
        }
    }
    struct write_req *w = malloc(sizeof(*w));
    if (!w) {
        free(data);
        conn_break(c);
        return;
    }
    w->data = data;
    uv_buf_t buf = uv_buf_init(data + done, (unsigned)(len - done));
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0) {
        free(w->data);
        free(w);
        conn_break(c);
    }
}

/* TLS: hands the engine's pending ciphertext (handshake, records, alerts) to the socket. */
static void conn_tls_flush(struct mb_http_conn *c)
{
    size_t len;
    char *data = mb_tls_conn_take_output(c->tls, &len);
    if (data)
        conn_write_raw(c, data, len);
    else if (mb_tls_conn_output_len(c->tls))
        conn_break(c); /* out of memory */
}

/* Writes len bytes of response; takes ownership of data (malloc'd). On a TLS connection they
 * are encrypted first (the plaintext is freed at once, the ciphertext written). */
static void conn_write(struct mb_http_conn *c, char *data, size_t len)
{
    if (!c->tls) {
        conn_write_raw(c, data, len);
        return;
    }
    int rc = c->closing || c->broken ? MB_TLS_ERROR : mb_tls_conn_write(c->tls, data, len);
    free(data);
    if (rc) {
        if (!c->closing)
            conn_break(c);
        return;
    }
    conn_tls_flush(c);
}

/* Hands the head exchange's buffered output to the socket. */
static void conn_flush_head(struct mb_http_conn *c)
{
    struct mb_http_exchange *ex = c->head;
    if (!ex || !ex->out.len || c->closing)
        return;
    size_t len = ex->out.len;
    char *data = mb_buf_steal(&ex->out);
    if (!data) {
        conn_break(c);
        return;
    }
    conn_write(c, data, len);
}

static void conn_write_str(struct mb_http_conn *c, struct mb_buf *b)
{
    size_t len = b->len;
    char *data = mb_buf_steal(b);
    if (!data) {
        conn_break(c);
        return;
    }
    conn_write(c, data, len);
}

/* The final error response (Connection: close, JSON-RPC-shaped body). */
static void conn_write_error(struct mb_http_conn *c, int status, const char *message)
{
    struct mb_buf body, out;
    mb_buf_init(&body, 1024);
    mb_buf_init(&out, 2048);
    int rc = mb_buf_append_str(&body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"");
    if (!rc) {
        switch (status) {
        case 413:
            rc = mb_buf_printf(&body, "Request body exceeds the limit of %zu bytes (runtime.max_request_bytes)",
                               c->srv->limits.max_body_bytes);
            break;
        case 431:
            rc = mb_buf_printf(&body, "Request header block exceeds the limit of %zu bytes",
                               c->srv->limits.max_header_bytes);
            break;
        case 408:
            rc = mb_buf_append_str(&body, "Request timeout");
            break;
        case 503:
            rc = mb_buf_append_str(&body, "Server busy, retry later");
            break;
        default:
            rc = mb_buf_append_str(&body, "Bad request: ");
            if (!rc)
                rc = mb_buf_append_json_escaped(&body, message ? message : "malformed",
                                                strlen(message ? message : "malformed"));
            break;
        }
    }
    if (!rc)
        rc = mb_buf_append_str(&body, "\"}}");
    char framing[64];
    snprintf(framing, sizeof(framing), "Content-Length: %zu", body.len);
    struct mb_http_header hs[2] = {{"Content-Type", 12, "application/json", 16}, {"Retry-After", 11, "1", 1}};
    if (!rc)
        rc = compose_head(&out, c->srv, status, framing, true, hs, status == 503 ? 2 : 1);
    if (!rc)
        rc = mb_buf_append(&out, body.data, body.len);
    mb_buf_dispose(&body);
    if (rc) {
        mb_buf_dispose(&out);
        conn_break(c);
        return;
    }
    conn_write_str(c, &out);
}

/* ---- connection lifecycle --------------------------------------------------------------- */

static void srv_maybe_free(struct mb_http_server *srv)
{
    if (srv->destroying && srv->n_open == 0) {
        free(srv->tls_plain);
        free(srv);
    }
}

static void srv_check_drained(struct mb_http_server *srv)
{
    if (!srv->stopping || srv->drained_called || srv->n_conns || srv->destroying)
        return;
    srv->drained_called = true;
    if (srv->on_drained)
        srv->on_drained(srv->drained_data); /* may destroy srv: touch nothing afterwards */
}

static void on_conn_closed(uv_handle_t *h)
{
    struct mb_http_conn *c = h->data;
    if (--c->handles)
        return;
    struct mb_http_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (!c->rejected)
        srv->n_conns--;
    srv->n_open--;
    mb_buf_dispose(&c->stash);
    mb_tls_conn_destroy(c->tls);
    free(c);
    if (srv->destroying)
        srv_maybe_free(srv);
    else
        srv_check_drained(srv);
}

static void ex_free(struct mb_http_exchange *ex)
{
    mb_http_parsed_free(ex->rq);
    mb_buf_dispose(&ex->out);
    free(ex);
}

/* TLS part of closing: a handshake that never completed is counted; a healthy connection
 * gets close_notify if the socket takes it at once (nothing else queued; best effort). */
static void conn_tls_closing(struct mb_http_conn *c)
{
    struct mb_http_server *srv = c->srv;
    if (c->tls_seen && !mb_tls_conn_handshake_done(c->tls)) {
        srv->tls_stats.handshake_failures++;
        const char *why = mb_tls_conn_error(c->tls);
        mb_debug("http", "TLS handshake with %s failed: %s", c->peer, why ? why : "closed or timed out");
        return;
    }
    if (c->broken || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) != 0 ||
        mb_tls_conn_shutdown(c->tls) != 0)
        return;
    size_t len;
    char *data = mb_tls_conn_take_output(c->tls, &len);
    if (data) {
        uv_buf_t b = uv_buf_init(data, (unsigned)len);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        free(data);
    }
}

/* Closes at once. Unanswered exchanges get on_abort, then every exchange is freed. */
static void conn_close(struct mb_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->no_more = true;
    struct mb_http_exchange *ex;
    while ((ex = c->head)) {
        c->head = ex->next;
        if (!c->head)
            c->tail = NULL;
        c->n_ex--;
        if (ex->state != EX_DONE && ex->on_abort) {
            ex->state = EX_DONE;
            ex->on_abort(ex, ex->data);
        }
        ex_free(ex);
    }
    mb_http_reader_dispose(&c->reader);
    mb_buf_dispose(&c->stash);
    if (c->tls)
        conn_tls_closing(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct mb_http_conn *c = req->handle->data;
    free(req);
    if (c->closing)
        return;
    if (status < 0 || !c->linger_wanted) {
        conn_close(c);
        return;
    }
    /* Read and drop what the client still sends, so that closing does not reset the
     * connection before the client has read our last response. */
    c->lingering = true;
    timer_set(c, TM_LINGER, LINGER_MS);
    conn_process(c, NULL, 0);
}

/* Closes the write side once everything queued is written; linger: drain input a while. */
static void conn_finish(struct mb_http_conn *c, bool linger)
{
    if (c->finishing || c->closing)
        return;
    c->finishing = true;
    c->no_more = true;
    c->linger_wanted = linger;
    mb_http_reader_dispose(&c->reader);
    if (c->tls && mb_tls_conn_shutdown(c->tls) == 0)
        conn_tls_flush(c); /* close_notify, queued before the FIN */
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        conn_close(c);
    }
}

/* Stops parsing and owes the client an error response (sent after the earlier ones). */
static void conn_fail(struct mb_http_conn *c, int status, const char *message)
{
    if (!c->err_status) {
        c->err_status = status;
        c->err_message = message;
    }
    c->no_more = true;
}

static void on_timer(uv_timer_t *t)
{
    struct mb_http_conn *c = t->data;
    unsigned char mode = c->timer_mode;
    c->timer_mode = TM_NONE;
    if (c->closing)
        return;
    switch (mode) {
    case TM_HEADER:
    case TM_BODY:
        mb_debug("http", "request timeout from %s", c->peer);
        conn_fail(c, 408, "Request timeout");
        mb_http_reader_dispose(&c->reader);
        conn_process(c, NULL, 0);
        break;
    case TM_ABORT:
    case TM_IDLE:
    case TM_FINISH:
    case TM_LINGER:
        conn_close(c);
        break;
    default:
        break;
    }
}

static void timer_set(struct mb_http_conn *c, unsigned char mode, uint64_t ms)
{
    if (c->closing || c->timer_mode == mode)
        return;
    c->timer_mode = mode;
    if (mode == TM_NONE)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

static bool conn_can_parse(const struct mb_http_conn *c)
{
    if (c->closing || c->finishing || c->err_status || c->broken || c->bp_paused)
        return false;
    if (conn_backlog(c) > c->srv->limits.max_write_backlog)
        return false;
    if (c->n_ex >= MB_HTTP_MAX_PIPELINE)
        return false;
    if (c->no_more && mb_http_reader_phase(&c->reader) == MB_HTTP_PHASE_IDLE)
        return false;
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct mb_http_conn *c = h->data;
    buf->base = c->srv->rbuf;
    buf->len = sizeof(c->srv->rbuf);
}

/* The end of input (UV_EOF, a TLS close_notify) or a read error. */
static void conn_input_end(struct mb_http_conn *c, ssize_t nread)
{
    if (nread != UV_EOF)
        mb_debug("http", "read from %s: %s", c->peer, uv_strerror((int)nread));
    /* The client is gone, or half-closed: we cannot tell, and like most servers take an
     * end of input with a request still unanswered for a disconnect. Answers that are
     * complete and only flushing still go out. */
    int phase = mb_http_reader_phase(&c->reader);
    if (!c->lingering && !c->head && nread == UV_EOF && phase != MB_HTTP_PHASE_HEADERS &&
        phase != MB_HTTP_PHASE_BODY && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0)
        conn_finish(c, false);
    else
        conn_close(c);
}

/* Plain HTTP on the TLS port (a request line where a ClientHello belongs): a short plain-text
 * 400 naming the mistake, then close. It is counted as a failed handshake. */
static void conn_tls_plain_http(struct mb_http_conn *c)
{
    static const char msg[] = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: 52\r\n"
                              "Connection: close\r\n\r\n"
                              "This port speaks HTTPS: plain HTTP is not accepted.\n";
    c->srv->tls_stats.plain_http++;
    mb_debug("http", "plain HTTP from %s on the TLS port", c->peer);
    char *data = malloc(sizeof(msg) - 1);
    if (data) {
        memcpy(data, msg, sizeof(msg) - 1);
        conn_write_raw(c, data, sizeof(msg) - 1);
    }
    conn_finish(c, true); /* no HTTP exchange ever starts on this connection */
}

static void conn_tls_handshake_done(struct mb_http_conn *c)
{
    struct mb_http_server *srv = c->srv;
    srv->tls_stats.handshakes++;
    bool resumed = mb_tls_conn_resumed(c->tls);
    if (resumed)
        srv->tls_stats.resumed++;
    const char *id = mb_tls_conn_identity(c->tls);
    mb_debug("http", "TLS handshake with %s: %s%s, client certificate %s", c->peer, mb_tls_conn_version(c->tls),
             resumed ? " (resumed)" : "", id ? id : "none");
}

/* TLS read side: feeds ciphertext to the engine and each piece of plaintext to conn_process,
 * then writes what the engine produced (handshake messages, tickets, alerts). */
static void conn_tls_input(struct mb_http_conn *c, const char *data, size_t len)
{
    struct mb_http_server *srv = c->srv;
    if (c->finishing)
        return; /* like a plain connection, which stops reading here: input is dropped */
    if (!c->tls_seen) {
        c->tls_seen = true;
        if (data[0] >= 'A' && data[0] <= 'Z') { /* a ClientHello starts with 0x16 */
            conn_tls_plain_http(c);
            return;
        }
    }
    bool done = mb_tls_conn_handshake_done(c->tls);
    mb_tls_conn_feed(c->tls, data, len);
    for (;;) {
        ssize_t n = mb_tls_conn_read(c->tls, srv->tls_plain, TLS_PLAIN_SIZE);
        if (!done && mb_tls_conn_handshake_done(c->tls)) {
            done = true;
            conn_tls_handshake_done(c);
        }
        if (n > 0) {
            conn_process(c, srv->tls_plain, (size_t)n);
            if (c->closing || c->finishing)
                return;
            continue;
        }
        conn_tls_flush(c);
        if (n == MB_TLS_WANT_INPUT)
            break;
        mb_tls_conn_feed(c->tls, NULL, 0);
        if (n == MB_TLS_CLOSED) {
            conn_input_end(c, UV_EOF);
        } else {
            const char *why = mb_tls_conn_error(c->tls);
            if (done)
                mb_debug("http", "TLS error from %s: %s", c->peer, why ? why : "unknown");
            if (c->head)
                conn_close(c); /* exchanges in flight can never be answered: abort them now */
            else
                conn_finish(c, true); /* the alert goes out before the FIN */
        }
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mb_http_conn *c = s->data;
    if (c->closing)
        return;
    if (nread < 0) {
        conn_input_end(c, nread);
        return;
    }
    if (nread == 0 || c->lingering)
        return;
    if (c->tls)
        conn_tls_input(c, buf->base, (size_t)nread);
    else
        conn_process(c, buf->base, (size_t)nread);
}

static void conn_update_reading(struct mb_http_conn *c)
{
    size_t backlog = conn_backlog(c);
    size_t max = c->srv->limits.max_write_backlog;
    if (backlog > max)
        c->bp_paused = true;
    else if (c->bp_paused && backlog <= max / 2)
        c->bp_paused = false;
    bool want;
    if (c->closing || c->broken)
        want = false;
    else if (c->lingering)
        want = true;
    else if (c->finishing || c->stash.len)
        want = false;
    else if (c->err_status || c->no_more)
        want = !c->bp_paused; /* to notice a disconnect; input is dropped */
    else
        want = conn_can_parse(c);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void conn_update_timer(struct mb_http_conn *c)
{
    const struct mb_http_limits *l = &c->srv->limits;
    if (c->closing || c->broken || c->lingering)
        return;
    if (c->finishing) {
        timer_set(c, TM_FINISH, l->idle_timeout_ms);
        return;
    }
    int phase = mb_http_reader_phase(&c->reader);
    if (!c->err_status && c->reading && phase == MB_HTTP_PHASE_HEADERS)
        timer_set(c, TM_HEADER, l->header_timeout_ms);
    else if (!c->err_status && c->reading && phase == MB_HTTP_PHASE_BODY)
        timer_set(c, TM_BODY, l->body_timeout_ms);
    else if (!c->head && !c->err_status && phase == MB_HTTP_PHASE_IDLE && !c->stash.len)
        timer_set(c, TM_IDLE, c->used ? l->idle_timeout_ms : l->header_timeout_ms);
    else
        timer_set(c, TM_NONE, 0);
}

/* Pops finished exchanges from the head, flushing each new head's buffered output. */
static void conn_advance(struct mb_http_conn *c)
{
    struct mb_http_exchange *ex;
    while (!c->closing && (ex = c->head)) {
        conn_flush_head(c);
        if (ex->state != EX_DONE)
            break;
        c->head = ex->next;
        if (!c->head)
            c->tail = NULL;
        c->n_ex--;
        if (ex->close)
            c->no_more = true;
        ex_free(ex);
    }
}

/* After the queue empties: the owed error, or the end of a connection that takes no more. */
static void conn_send_continue(struct mb_http_conn *c);

static void conn_settle(struct mb_http_conn *c)
{
    if (c->closing || c->broken || c->finishing || c->head)
        return;
    if (c->continue_owed) {
        c->continue_owed = false;
        if (!c->err_status && mb_http_reader_phase(&c->reader) == MB_HTTP_PHASE_BODY && c->reader.cur &&
            c->reader.cur->body.len == 0)
            conn_send_continue(c);
    }
    if (c->err_status) {
        conn_write_error(c, c->err_status, c->err_message);
        conn_finish(c, true);
    } else if (c->no_more && mb_http_reader_phase(&c->reader) != MB_HTTP_PHASE_HEADERS &&
               mb_http_reader_phase(&c->reader) != MB_HTTP_PHASE_BODY) {
        conn_finish(c, !c->srv->stopping);
    }
}

static void conn_dispatch(struct mb_http_conn *c, struct mb_http_parsed *p)
{
    struct mb_http_server *srv = c->srv;
    struct mb_http_exchange *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        mb_http_parsed_free(p);
        conn_fail(c, 503, "Out of memory");
        return;
    }
    ex->conn = c;
    ex->rq = p;
    mb_buf_init(&ex->out, OUT_MAX);
    p->req.peer = c->peer;
    p->req.client_identity = c->tls ? mb_tls_conn_identity(c->tls) : NULL;
    c->used = true;
    c->continue_owed = false;
    timer_set(c, TM_NONE, 0); /* the next deadline counts from this request's end */
    ex->no_body = p->req.method == HTTP_HEAD;
    bool upgrade = mb_http_reader_phase(&c->reader) == MB_HTTP_PHASE_STOPPED;
    if (!p->req.keep_alive || upgrade || srv->draining) {
        ex->close = true;
        c->no_more = true;
    }
    if (c->tail)
        c->tail->next = ex;
    else
        c->head = ex;
    c->tail = ex;
    c->n_ex++;
    srv->on_request(ex, &p->req, srv->data);
}

static void conn_send_continue(struct mb_http_conn *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *data = malloc(sizeof(msg) - 1);
    if (!data) {
        conn_break(c);
        return;
    }
    memcpy(data, msg, sizeof(msg) - 1);
    conn_write(c, data, sizeof(msg) - 1);
}

/* Feeds bytes while parsing is allowed; returns how many were used. */
static size_t conn_feed(struct mb_http_conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && conn_can_parse(c)) {
        size_t used = 0;
        int ev = mb_http_reader_feed(&c->reader, data + off, len - off, &used);
        off += used;
        if (mb_http_reader_take_continue(&c->reader) && mb_http_reader_phase(&c->reader) == MB_HTTP_PHASE_BODY) {
            /* An interim response must not overtake earlier responses: owed until then. */
            if (!c->head)
                conn_send_continue(c);
            else
                c->continue_owed = true;
        }
        if (ev == MB_HTTP_READ_REQUEST) {
            conn_dispatch(c, mb_http_reader_take(&c->reader));
        } else if (ev == MB_HTTP_READ_ERROR) {
            const char *msg = NULL;
            int status = mb_http_reader_error(&c->reader, &msg);
            mb_debug("http", "bad request from %s: %d %s", c->peer, status, msg ? msg : "");
            conn_fail(c, status, msg);
            break;
        } else if (used == 0) {
            break;
        }
    }
    return off;
}

/* True when this connection will never parse input again (input can be dropped). */
static bool conn_parsing_over(const struct mb_http_conn *c)
{
    int phase = mb_http_reader_phase(&c->reader);
    return c->closing || c->finishing || c->err_status || c->broken ||
           phase == MB_HTTP_PHASE_STOPPED || (c->no_more && phase == MB_HTTP_PHASE_IDLE);
}

/* The one place input is parsed and state settled. A call from inside a handler (the outer
 * call is further up the stack) only asks the outer call for another round. data/len: fresh
 * input from the shared read buffer; what cannot be parsed now is copied to the stash. */
static void conn_process(struct mb_http_conn *c, const char *data, size_t len)
{
    if (c->processing) {
        c->reprocess = true;
        return;
    }
    c->processing = true;
    if (len && !conn_parsing_over(c)) {
        size_t used = 0;
        if (!c->stash.len && conn_can_parse(c))
            used = conn_feed(c, data, len);
        if (used < len && !conn_parsing_over(c) && mb_buf_append(&c->stash, data + used, len - used))
            conn_fail(c, 431, "Request header block too large"); /* a stash overflow */
    }
    do {
        c->reprocess = false;
        if (c->stash.len && conn_can_parse(c)) {
            size_t used = conn_feed(c, c->stash.data, c->stash.len);
            if (!c->closing && used <= c->stash.len)
                mb_buf_consume(&c->stash, used);
        }
        if (c->stash.len == 0 || conn_parsing_over(c))
            mb_buf_dispose(&c->stash);
        conn_advance(c);
        conn_settle(c);
        conn_update_reading(c);
        conn_update_timer(c);
    } while (c->reprocess && !c->closing);
    c->processing = false;
}

static void conn_check_drain(struct mb_http_conn *c)
{
    size_t half = c->srv->limits.max_write_backlog / 2;
    for (;;) {
        if (c->closing || conn_backlog(c) > half)
            return;
        struct mb_http_exchange *ex = c->head;
        while (ex && !ex->want_drain)
            ex = ex->next;
        if (!ex)
            return;
        ex->want_drain = false;
        if (ex->on_drain && ex->state == EX_STREAMING)
            ex->on_drain(ex, ex->data); /* may end or even free ex: rescan from the head */
    }
}

static void conn_set_peer(struct mb_http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "";
    snprintf(c->peer, sizeof(c->peer), "unknown");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    }
}

/* A connection object in the server's list, not yet holding a socket (rejected until
 * conn_start counts it). Returns NULL when out of memory (logged). */
static struct mb_http_conn *conn_new(struct mb_http_server *srv)
{
    struct mb_http_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        mb_error("http", "out of memory accepting a connection");
        return NULL;
    }
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    mb_http_reader_init(&c->reader, &srv->limits);
    mb_buf_init(&c->stash, STASH_MAX);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_open++;
    c->rejected = true; /* until accepted and counted */
    return c;
}

/* Serves a connection whose socket was just accepted: refused with a 503 over the cap, else
 * counted and read. */
static void conn_start(struct mb_http_conn *c)
{
    struct mb_http_server *srv = c->srv;
    uv_tcp_nodelay(&c->tcp, 1);
    conn_set_peer(c);
    if (srv->n_conns >= srv->limits.max_connections) {
        mb_debug("http", "connection cap reached, refusing %s", c->peer);
        if (srv->tls_plain) {
            /* A 503 would need a whole handshake first: the cost we are refusing. */
            conn_close(c);
            return;
        }
        conn_write_error(c, 503, NULL);
        conn_finish(c, false);
        timer_set(c, TM_FINISH, 1000);
        return;
    }
    if (srv->tls_plain && !(c->tls = mb_tls_conn_create(srv->limits.tls))) {
        mb_error("http", "out of memory starting TLS with %s", c->peer);
        conn_close(c);
        return;
    }
    c->rejected = false;
    srv->n_conns++;
    conn_process(c, NULL, 0);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct mb_http_server *srv = listener->data;
    if (status < 0) {
        mb_warn("http", "accept: %s", uv_strerror(status));
        return;
    }
    struct mb_http_conn *c = conn_new(srv);
    if (!c)
        return;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    conn_start(c);
}

/* Accepts, right before the listener closes, every connection the kernel has completed but
 * libuv not yet taken: closing the listener would reset them, and their client may already
 * have sent a request it believes delivered. Served like any other (one request each, since
 * the server is draining). Returns how many were taken. */
static unsigned srv_accept_pending(struct mb_http_server *srv)
{
    uv_os_fd_t lfd;
    unsigned n = 0;
    if (!srv->listener_open || uv_fileno((uv_handle_t *)&srv->listener, &lfd) != 0)
        return 0;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                mb_warn("http", "accept before closing the listener: %s", strerror(errno));
            break;
        }
        struct mb_http_conn *c = conn_new(srv);
        if (!c) {
            close(fd);
            break;
        }
        int rc = uv_tcp_open(&c->tcp, fd);
        if (rc < 0) {
            mb_warn("http", "cannot serve a connection accepted before closing the listener: %s", uv_strerror(rc));
            close(fd);
            conn_close(c);
            continue;
        }
        n++;
        conn_start(c);
    }
    return n;
}

/* ---- public API ------------------------------------------------------------------------- */

struct mb_http_server *mb_http_server_create(uv_loop_t *loop, const struct mb_http_limits *limits,
                                             mb_http_request_cb on_request, void *data)
{
    struct mb_http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    struct mb_http_limits def;
    mb_http_limits_default(&def);
    srv->limits = limits ? *limits : def;
    /* Zero means "the default" for every limit. */
    if (!srv->limits.max_header_bytes)
        srv->limits.max_header_bytes = def.max_header_bytes;
    if (!srv->limits.max_body_bytes)
        srv->limits.max_body_bytes = def.max_body_bytes;
    if (!srv->limits.header_timeout_ms)
        srv->limits.header_timeout_ms = def.header_timeout_ms;
    if (!srv->limits.body_timeout_ms)
        srv->limits.body_timeout_ms = def.body_timeout_ms;
    if (!srv->limits.idle_timeout_ms)
        srv->limits.idle_timeout_ms = def.idle_timeout_ms;
    if (!srv->limits.max_connections)
        srv->limits.max_connections = def.max_connections;
    if (!srv->limits.max_write_backlog)
        srv->limits.max_write_backlog = def.max_write_backlog;
    if (srv->limits.tls && !(srv->tls_plain = malloc(TLS_PLAIN_SIZE))) {
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    srv->on_request = on_request;
    srv->data = data;
    srv->port = -1;
    return srv;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct mb_http_server *srv = h->data;
    srv->n_open--;
    srv_maybe_free(srv);
}

static int srv_listener_init(struct mb_http_server *srv)
{
    if (srv->listener_open || srv->draining || srv->destroying)
        return UV_EALREADY;
    int rc = uv_tcp_init(srv->loop, &srv->listener);
    if (rc < 0)
        return rc;
    srv->listener.data = srv;
    srv->listener_open = true;
    srv->n_open++;
    return 0;
}

static void srv_listener_close(struct mb_http_server *srv)
{
    if (!srv->listener_open)
        return;
    srv->listener_open = false;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

static void srv_read_port(struct mb_http_server *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    srv->port = -1;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* The common end of listen_fd and bind: given the result of opening or binding the listener,
 * listens and reads back the port; any failure closes the listener. */
static int srv_listen_finish(struct mb_http_server *srv, int rc)
{
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG, on_connection);
    if (rc == 0)
        srv_read_port(srv);
    else
        srv_listener_close(srv);
    return rc;
}

int mb_http_server_listen_fd(struct mb_http_server *srv, int fd)
{
    int rc = srv_listener_init(srv);
    if (rc == 0)
        rc = uv_tcp_open(&srv->listener, fd);
    return srv_listen_finish(srv, rc);
}

int mb_http_server_bind(struct mb_http_server *srv, const char *host, int port)
{
    struct sockaddr_storage ss;
    int rc;
    if (!host)
        host = "127.0.0.1";
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        return rc;
    rc = srv_listener_init(srv);
    if (rc == 0)
        rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    return srv_listen_finish(srv, rc);
}

int mb_http_server_port(const struct mb_http_server *srv)
{
    return srv ? srv->port : -1;
}

unsigned mb_http_server_connection_count(const struct mb_http_server *srv)
{
    return srv ? srv->n_conns : 0;
}

void mb_http_server_tls_stats(const struct mb_http_server *srv, struct mb_http_tls_stats *out)
{
    if (srv)
        *out = srv->tls_stats;
    else
        memset(out, 0, sizeof(*out));
}

const char *mb_http_request_client_identity(const struct mb_http_request *req)
{
    return req ? req->client_identity : NULL;
}

void mb_http_server_response_counts(const struct mb_http_server *srv, uint64_t out[6])
{
    for (int i = 0; i < 6; i++)
        out[i] = srv ? srv->responses[i] : 0;
}

void mb_http_server_begin_drain(struct mb_http_server *srv)
{
    if (!srv || srv->draining || srv->destroying)
        return;
    /* From here ex_closes and conn_dispatch mark every response "Connection: close". Nothing
     * is closed: idle keep-alive connections wait for their next request (or their idle
     * timeout), the listener keeps accepting. */
    srv->draining = true;
}

void mb_http_server_shutdown(struct mb_http_server *srv, void (*on_drained)(void *data), void *data)
{
    if (!srv || srv->stopping || srv->destroying)
        return;
    srv->draining = true;
    srv->stopping = true;
    srv->on_drained = on_drained;
    srv->drained_data = data;
    unsigned late = srv_accept_pending(srv);
    if (late)
        mb_debug("http", "accepted %u queued connection(s) before closing the listener", late);
    srv_listener_close(srv);
    struct mb_http_conn *next;
    for (struct mb_http_conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->closing || c->rejected)
            continue;
        int phase = mb_http_reader_phase(&c->reader);
        bool idle = !c->head && !c->err_status && !c->finishing &&
                    (phase == MB_HTTP_PHASE_IDLE || phase == MB_HTTP_PHASE_STOPPED);
        if (idle && !c->used && phase == MB_HTTP_PHASE_IDLE &&
            uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
            /* Accepted just before the listener closed: its first request is most likely on
             * the wire (a reload or a scale-down must not turn it into an empty reply). It may
             * still send that one request, answered with Connection: close; if nothing comes
             * within MB_HTTP_DRAIN_FRESH_MS it is closed quietly. */
            uint64_t wait = srv->limits.header_timeout_ms < MB_HTTP_DRAIN_FRESH_MS
                                ? srv->limits.header_timeout_ms : MB_HTTP_DRAIN_FRESH_MS;
            timer_set(c, TM_NONE, 0); /* re-arm: its header-timeout wait is TM_IDLE too */
            timer_set(c, TM_IDLE, wait);
            continue;
        }
        c->no_more = true;
        if (idle && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
            conn_close(c);
        else if (idle)
            conn_finish(c, false);
        else
            conn_process(c, NULL, 0);
    }
    srv_check_drained(srv);
}

void mb_http_server_destroy(struct mb_http_server *srv)
{
    if (!srv || srv->destroying)
        return;
    srv->destroying = true;
    srv_listener_close(srv);
    for (struct mb_http_conn *c = srv->conns; c; c = c->next)
        conn_close(c);
    srv_maybe_free(srv);
}

void mb_http_exchange_set_data(struct mb_http_exchange *ex, void *data)
{
    ex->data = data;
}

void *mb_http_exchange_get_data(const struct mb_http_exchange *ex)
{
    return ex->data;
}

void mb_http_exchange_on_abort(struct mb_http_exchange *ex, mb_http_abort_cb cb)
{
    ex->on_abort = cb;
}

void mb_http_exchange_on_drain(struct mb_http_exchange *ex, mb_http_drain_cb cb)
{
    ex->on_drain = cb;
}

/* Whether this response closes the connection; decided when its head is composed. */
static bool ex_closes(struct mb_http_exchange *ex)
{
    struct mb_http_conn *c = ex->conn;
    int phase = mb_http_reader_phase(&c->reader);
    if (!ex->close && c->srv->draining && !ex->next && phase != MB_HTTP_PHASE_HEADERS &&
        phase != MB_HTTP_PHASE_BODY)
        ex->close = true;
    if (ex->close)
        c->no_more = true;
    return ex->close;
}

void mb_http_respond(struct mb_http_exchange *ex, int status, const struct mb_http_header *headers,
                     size_t n, const char *body, size_t len)
{
    if (!ex || ex->state != EX_PENDING) {
        mb_error("http", "mb_http_respond on an exchange that was already answered");
        return;
    }
    struct mb_http_conn *c = ex->conn;
    ex->state = EX_DONE;
    if (c->closing)
        return; /* freed by the abort loop that is running */
    bool bodiless = (status >= 100 && status < 200) || status == 204 || status == 304;
    char framing[48];
    snprintf(framing, sizeof(framing), "Content-Length: %zu", len);
    int rc = compose_head(&ex->out, c->srv, status, bodiless ? NULL : framing, ex_closes(ex), headers,
                          headers ? n : 0);
    if (!rc && !bodiless && !ex->no_body && len)
        rc = mb_buf_append(&ex->out, body, len);
    mb_http_parsed_free(ex->rq); /* after the copy: body may point into the request */
    ex->rq = NULL;
    if (rc)
        conn_break(c);
    conn_process(c, NULL, 0);
}

int mb_http_stream_start(struct mb_http_exchange *ex, int status, const struct mb_http_header *headers,
                         size_t n)
{
    if (!ex || ex->state != EX_PENDING)
        return -EINVAL;
    struct mb_http_conn *c = ex->conn;
    if (c->closing || c->broken)
        return -ECONNRESET;
    const struct mb_http_request *req = &ex->rq->req;
    ex->chunked = req->http_major > 1 || (req->http_major == 1 && req->http_minor >= 1);
    if (!ex->chunked)
        ex->close = true; /* the end of the body is the end of the connection */
    ex->state = EX_STREAMING;
    int rc = compose_head(&ex->out, c->srv, status, ex->chunked ? "Transfer-Encoding: chunked" : NULL,
                          ex_closes(ex), headers, headers ? n : 0);
    if (rc)
        conn_break(c);
    conn_process(c, NULL, 0);
    return 0;
}

int mb_http_stream_write(struct mb_http_exchange *ex, const char *data, size_t len)
{
    if (!ex || ex->state != EX_STREAMING)
        return -EINVAL;
    struct mb_http_conn *c = ex->conn;
    if (c->closing || c->broken)
        return -ECONNRESET;
    if (!len || ex->no_body)
        return 0;
    if (conn_backlog(c) > c->srv->limits.max_write_backlog) {
        ex->want_drain = true;
        return -ENOBUFS;
    }
    int rc = 0;
    if (ex->chunked)
        rc = mb_buf_printf(&ex->out, "%zx\r\n", len);
    if (!rc)
        rc = mb_buf_append(&ex->out, data, len);
    if (!rc && ex->chunked)
        rc = mb_buf_append(&ex->out, "\r\n", 2);
    if (rc) {
        conn_break(c);
        return -ENOMEM;
    }
    conn_process(c, NULL, 0);
    return 0;
}

void mb_http_stream_end(struct mb_http_exchange *ex)
{
    if (!ex || ex->state != EX_STREAMING)
        return;
    struct mb_http_conn *c = ex->conn;
    ex->state = EX_DONE;
    if (c->closing)
        return;
    if (ex->chunked && !ex->no_body && mb_buf_append(&ex->out, "0\r\n\r\n", 5))
        conn_break(c);
    mb_http_parsed_free(ex->rq);
    ex->rq = NULL;
    conn_process(c, NULL, 0);
}
