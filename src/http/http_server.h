/* HTTP/1.1 server on one libuv loop (one per worker), with http-parser doing the parsing.
 *
 * It owns connections: keep-alive, pipelining (responses always leave in request order,
 * at most MB_HTTP_MAX_PIPELINE requests parsed ahead), chunked request bodies,
 * "Expect: 100-continue" (answered before the body is read, or refused with 413/417),
 * limits (header bytes -> 431, body bytes -> 413 with a JSON-RPC error body, header/body/idle
 * timeouts -> 408 or a quiet close, connection cap -> 503 + Retry-After), and write
 * backpressure (reads pause while a connection has more than max_write_backlog queued; a
 * streaming response whose reader falls behind gets -ENOBUFS from mb_http_stream_write).
 *
 * A complete request (headers and whole body) is handed to the on_request callback as a
 * struct mb_http_exchange. The handler answers it now or later, exactly once, with either
 * mb_http_respond() or mb_http_stream_start() ... mb_http_stream_end(). Until answered the
 * exchange stays valid; if the client goes away first the on_abort callback (if set) runs
 * and the exchange is freed right after it returns — the handler must forget it there.
 *
 * With a TLS context in the limits (http/tls.h), every connection is TLS: bytes read are
 * decrypted before parsing and every write is encrypted, with the same limits, ordering and
 * backpressure; the handshake must finish within header_timeout_ms. The verified client
 * certificate's identity is on each request (mb_http_request_client_identity). */
#ifndef MB_HTTP_SERVER_H
#define MB_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define MB_HTTP_MAX_PIPELINE 16

struct mb_tls_context;

struct mb_http_limits {
    size_t max_header_bytes;        /* whole header block; default 16384 */
    size_t max_body_bytes;          /* runtime.max_request_bytes; default 10240 */
    unsigned header_timeout_ms;     /* from first byte of a request to end of headers; default 10000 */
    unsigned body_timeout_ms;       /* from end of headers to end of body; default 10000 */
    unsigned idle_timeout_ms;       /* keep-alive wait for the next request; default 60000 */
    unsigned max_connections;       /* per worker; default 10000 */
    size_t max_write_backlog;       /* queued response bytes per connection before reads pause; default 1 MiB */
    struct mb_tls_context *tls;     /* not a limit but set the same way: serve TLS with this context
                                     * (borrowed; must outlive the server); NULL (default) = plain HTTP */
};

/* Fills limits with the defaults above. */
void mb_http_limits_default(struct mb_http_limits *limits);

struct mb_http_header {
    const char *name;   /* as received; compare case-insensitively */
    size_t name_len;
    const char *value;  /* leading/trailing whitespace removed */
    size_t value_len;
};

struct mb_http_request {
    int method;                     /* enum http_method from http_parser.h (HTTP_GET, HTTP_POST, ...) */
    const char *method_name;        /* "GET", ... */
    const char *target;             /* request-target as received, NUL-terminated */
    const char *path;               /* target up to '?', NUL-terminated (copy) */
    size_t path_len;
    const char *query;              /* after '?', NUL-terminated, "" when none */
    const struct mb_http_header *headers;
    size_t header_count;
    const char *body;               /* NUL-terminated for convenience; body_len excludes it */
    size_t body_len;
    unsigned short http_major, http_minor;
    bool keep_alive;                /* what the client asked for */
    const char *peer;               /* "127.0.0.1:53120" */
    const char *client_identity;    /* see mb_http_request_client_identity; NULL when none */
};

/* The identity of the client's verified TLS certificate (subject CN, else its first URI, DNS
 * or email subjectAltName; control bytes replaced by '?', at most MB_TLS_IDENTITY_MAX bytes),
 * or NULL: plain HTTP, no certificate asked or sent. The same for every request of a
 * connection; valid as long as the request. NULL req gives NULL. */
const char *mb_http_request_client_identity(const struct mb_http_request *req);

/* Returns the value of the first header with this name (case-insensitive) and its length
 * in *len (may be NULL), or NULL when absent. The pointer is valid as long as the request. */
const char *mb_http_header_get(const struct mb_http_request *req, const char *name, size_t *len);

struct mb_http_server;
struct mb_http_exchange;

/* Called once per complete request. req is valid until the exchange is answered or aborted. */
typedef void (*mb_http_request_cb)(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                   void *data);
/* Called when the client disconnects before the exchange was fully answered. */
typedef void (*mb_http_abort_cb)(struct mb_http_exchange *ex, void *data);
/* Called once a streaming response has drained below the backlog after -ENOBUFS. */
typedef void (*mb_http_drain_cb)(struct mb_http_exchange *ex, void *data);

/* Creates a server on loop. It does not listen until mb_http_server_listen_fd/_bind.
 * Returns NULL on allocation failure. */
struct mb_http_server *mb_http_server_create(uv_loop_t *loop, const struct mb_http_limits *limits,
                                             mb_http_request_cb on_request, void *data);
/* Accepts on an already bound and listening socket (inherited from the master). Returns 0 or
 * a negative libuv error. */
int mb_http_server_listen_fd(struct mb_http_server *srv, int fd);
/* Binds host:port (port 0 = any; see mb_http_server_port) and listens. For tests and stdio-less
 * single-process use. Returns 0 or a negative libuv error. */
int mb_http_server_bind(struct mb_http_server *srv, const char *host, int port);
/* The bound port, or -1. */
int mb_http_server_port(const struct mb_http_server *srv);
/* The first step of a drain, for the time a load balancer needs to notice that this server is
 * going away: every response from now on carries "Connection: close" and its connection reads
 * no further request, but nothing is closed. Idle keep-alive connections stay open, so a
 * request a client sends on one at this moment is answered instead of meeting a closed socket;
 * the listener keeps accepting, and each new connection serves one request. Connections
 * therefore leave as they are used. No-op when already draining, stopped or NULL. */
void mb_http_server_begin_drain(struct mb_http_server *srv);
/* Stops accepting: connections the kernel has already completed are accepted first (closing
 * the listener would reset them; they may send one request, within 1 s), then the listener
 * closes; idle keep-alive connections are closed; connections with a request in progress
 * finish it and then close (responses carry "Connection: close"). Implies begin_drain.
 * on_drained runs once no connection is left (possibly before this returns). Called again
 * or after destroy: no-op. */
void mb_http_server_shutdown(struct mb_http_server *srv, void (*on_drained)(void *data), void *data);
/* Closes everything at once (answered or not) and frees the server after the loop has run
 * the close callbacks. Handlers get on_abort for unanswered exchanges. */
void mb_http_server_destroy(struct mb_http_server *srv);
/* Open connections right now. */
unsigned mb_http_server_connection_count(const struct mb_http_server *srv);

/* TLS counters of one server (one worker), since it was created. */
struct mb_http_tls_stats {
    uint64_t handshakes;          /* completed */
    uint64_t resumed;             /* of those, resumed sessions (ticket or session id) */
    uint64_t handshake_failures;  /* connections that sent bytes but never completed a handshake:
                                   * refused certificates, protocol errors, timeouts, plain HTTP */
    uint64_t plain_http;          /* of those, plain HTTP requests (answered 400 in plain text) */
};
/* Copies the counters into *out (all zero for a plain HTTP server). Call on the loop's thread. */
void mb_http_server_tls_stats(const struct mb_http_server *srv, struct mb_http_tls_stats *out);

/* Responses written since the server was created, by status class: out[1] 1xx .. out[5] 5xx,
 * out[0] anything else. Counted when the status line is composed (every response, including
 * the server's own 400/408/413/431/503). Call on the loop's thread. */
void mb_http_server_response_counts(const struct mb_http_server *srv, uint64_t out[6]);

/* Per-exchange handler state and callbacks. */
void mb_http_exchange_set_data(struct mb_http_exchange *ex, void *data);
void *mb_http_exchange_get_data(const struct mb_http_exchange *ex);
void mb_http_exchange_on_abort(struct mb_http_exchange *ex, mb_http_abort_cb cb);
void mb_http_exchange_on_drain(struct mb_http_exchange *ex, mb_http_drain_cb cb);

/* Sends a complete response. Content-Length, Date and Connection are added by the server;
 * headers may be NULL when n is 0. The body is copied. After this the exchange must not be used. */
void mb_http_respond(struct mb_http_exchange *ex, int status, const struct mb_http_header *headers,
                     size_t n, const char *body, size_t len);
/* Starts a streaming response (Transfer-Encoding: chunked on HTTP/1.1, close-delimited on 1.0).
 * Returns 0. Headers are sent at once (or when the earlier pipelined responses are done). */
int mb_http_stream_start(struct mb_http_exchange *ex, int status, const struct mb_http_header *headers,
                         size_t n);
/* Queues bytes of a streaming response (copied). Returns 0, -ENOBUFS when the connection's
 * backlog exceeds max_write_backlog (the bytes were NOT queued; wait for on_drain), or
 * -ECONNRESET when the client is gone (on_abort has run or will run). */
int mb_http_stream_write(struct mb_http_exchange *ex, const char *data, size_t len);
/* Ends a streaming response. After this the exchange must not be used. */
void mb_http_stream_end(struct mb_http_exchange *ex);

/* A reason phrase for a status ("Not Found"); "Unknown" for others. */
const char *mb_http_status_text(int status);

#endif
