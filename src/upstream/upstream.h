/* Outbound HTTP for one worker: libcurl's multi-socket API driven from the worker's libuv loop
 * (uv_poll per socket, one uv_timer), never a blocking call. A pool of connections is kept
 * alive per worker (CURLMOPT_MAX_TOTAL_CONNECTIONS = runtime.http.limits.max_connections,
 * CURLMOPT_MAXCONNECTS = max_keepalive_connections); easy handles are reused.
 *
 * The response body is accumulated up to max_response_bytes; past that the transfer is aborted
 * at once and the call completes with MB_UPSTREAM_ETOOBIG. With a body hook (on_body) the
 * bytes go to the caller instead (for the streaming response guard) and no cap applies here.
 *
 * HTTPS: servers are always verified (peer and host name) against tls_ca_file or the system
 * store; a client certificate is presented when configured. The easy handles of one client share
 * TLS sessions and the DNS cache (one CURLSH), so a new connection to a known host resumes its
 * TLS session; handshakes and connection reuse are counted (mb_upstream_stats) and each call
 * reports its phase timings (docs/internals/outbound-auth.md). */
#ifndef MB_UPSTREAM_H
#define MB_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mb_upstream_options {
    unsigned max_connections;       /* total per worker; default 100 */
    unsigned max_keepalive;         /* idle connections kept; default 20 */
    unsigned connect_timeout_ms;    /* default 5000 */
    bool accept_encoding;           /* ask for gzip/deflate and decode (decoded size is what counts) */
    /* Downstream TLS (runtime.http.tls). Every string is copied by mb_upstream_create; NULL =
     * not set. There is no switch to turn verification off. */
    const char *tls_ca_file;        /* PEM bundle of trusted CAs; NULL = the system store */
    const char *tls_cert_file;      /* PEM client certificate presented to servers that ask */
    const char *tls_key_file;       /* its PEM private key; NULL = the key is in tls_cert_file */
    const char *tls_key_password;   /* passphrase of an encrypted key (wiped at destroy) */
};

enum mb_upstream_error {
    MB_UPSTREAM_OK = 0,
    MB_UPSTREAM_ETIMEDOUT = -1,     /* connect or total timeout */
    MB_UPSTREAM_ECONNECT = -2,      /* DNS, refused, reset, TLS failure */
    MB_UPSTREAM_ETOOBIG = -3,       /* body exceeded max_response_bytes */
    MB_UPSTREAM_EINVAL = -4,        /* bad URL or request */
    MB_UPSTREAM_EINTERNAL = -5,     /* out of memory, curl refused the handle */
    MB_UPSTREAM_ESTOPPED = -6,      /* the body hook asked to stop ("stopped by the caller") */
};

/* Optional body hook: receives the body bytes as they arrive (decoded when accept_encoding is
 * on), instead of the internal buffer. Return 0 to go on; non-zero aborts the transfer at once
 * and the call completes with MB_UPSTREAM_ESTOPPED (the caller knows why it stopped). Runs from
 * inside curl: it must not start, cancel or destroy calls. */
typedef int (*mb_upstream_body_cb)(void *data, const char *chunk, size_t len);

struct mb_upstream_request {
    const char *method;             /* "GET", "POST", ... */
    const char *url;                /* absolute, already percent-encoded */
    const char *const *headers;     /* "Name: value" lines, may be NULL */
    size_t header_count;
    const char *body;               /* may be NULL; copied before mb_upstream_start returns */
    size_t body_len;
    unsigned timeout_ms;            /* total; 0 = none */
    size_t max_response_bytes;      /* 0 = default 1 MiB; not applied when on_body is set */
    mb_upstream_body_cb on_body;    /* NULL: the body is accumulated (response body/body_len) */
    void *body_data;                /* on_body's data */
    bool sensitive;                 /* request body, headers or response carry secrets: our
                                     * copies are wiped (OPENSSL_cleanse) when the call ends */
};

/* Where the time of one call went, in microseconds; each field is the duration of that phase
 * alone. dns, connect and tls are 0 when the call rode a pooled connection. */
struct mb_upstream_timing {
    uint64_t dns_us;                /* name resolution */
    uint64_t connect_us;            /* TCP connect */
    uint64_t tls_us;                /* TLS handshake (0 for http://) */
    uint64_t first_byte_us;         /* request sent until the first response byte */
    uint64_t total_us;              /* the whole call, as curl measured it */
    bool new_connection;            /* the call opened a connection */
    bool tls_handshake;             /* ... and completed a TLS handshake on it */
    bool tls_resumed;               /* ... which resumed an earlier TLS session */
};

struct mb_upstream_response {
    enum mb_upstream_error error;
    const char *error_message;      /* human readable when error != 0 (no secrets, no URLs with credentials) */
    long status;                    /* HTTP status, 0 when none was received */
    const char *content_type;       /* may be NULL */
    const char *body;               /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    size_t content_length;          /* from the header, or (size_t)-1 when unknown */
    double total_seconds;           /* curl's CURLINFO_TOTAL_TIME */
    struct mb_upstream_timing timing;
};

enum mb_upstream_phase {
    MB_UPSTREAM_PHASE_STARTED,      /* request handed to curl */
    MB_UPSTREAM_PHASE_HEADERS,      /* status line and headers received */
    MB_UPSTREAM_PHASE_BODY,         /* more body bytes arrived */
};

/* Runs once when the call completes (success or error). resp and what it points to are
 * valid only during the callback. Never runs after mb_upstream_cancel, never runs from inside
 * mb_upstream_start (always from the loop). */
typedef void (*mb_upstream_done_cb)(void *data, const struct mb_upstream_response *resp);
/* Optional progress: received body bytes so far, and the expected total or (size_t)-1. */
typedef void (*mb_upstream_progress_cb)(void *data, enum mb_upstream_phase phase, size_t received,
                                        size_t total);

struct mb_upstream;
struct mb_upstream_call;

/* Creates the client on loop. Returns NULL on failure (also when the TLS strings cannot be
 * copied). The TLS files are read by curl when a connection needs them: a missing or bad file
 * makes those calls fail with MB_UPSTREAM_ECONNECT. curl_global_init must have been called once
 * by the process (main does it before forking). */
struct mb_upstream *mb_upstream_create(uv_loop_t *loop, const struct mb_upstream_options *opts);
/* Cancels all calls (their callbacks do not run), closes handles; the memory is released once
 * the loop has run the close callbacks. */
void mb_upstream_destroy(struct mb_upstream *up);
/* Starts a call. Returns a handle valid until done_cb runs or mb_upstream_cancel is called,
 * or NULL when it could not start (then no callback runs). progress_cb may be NULL. */
struct mb_upstream_call *mb_upstream_start(struct mb_upstream *up, const struct mb_upstream_request *req,
                                           mb_upstream_done_cb done_cb,
                                           mb_upstream_progress_cb progress_cb, void *data);
/* While a call runs (from its body hook or progress callback): the HTTP status and the
 * Content-Type of the response being received (NULL when none yet). */
long mb_upstream_call_status(const struct mb_upstream_call *call);
const char *mb_upstream_call_content_type(const struct mb_upstream_call *call);
/* Aborts a call in flight; its callbacks never run afterwards. */
void mb_upstream_cancel(struct mb_upstream_call *call);
/* Calls in flight. */
unsigned mb_upstream_active(const struct mb_upstream *up);

/* Socket and poll counters, for tests and diagnostics (docs/internals/upstream.md). */
struct mb_upstream_stats {
    unsigned long sockets_opened;   /* created by our CURLOPT_OPENSOCKETFUNCTION */
    unsigned long sockets_closed;   /* closed by our CURLOPT_CLOSESOCKETFUNCTION */
    unsigned long polls_created;    /* uv_poll_t handles initialised (any socket) */
    unsigned long parked_wakeups;   /* events on idle pooled sockets (peer closed or sent bytes) */
    unsigned long connections_new;  /* completed calls that opened a connection */
    unsigned long connections_reused; /* completed calls that rode a pooled keep-alive connection */
    unsigned long tls_handshakes;   /* TLS handshakes completed (full or resumed) */
    unsigned long tls_resumed;      /* of those, abbreviated handshakes (session resumed) */
    unsigned sockets_tracked;       /* now: sockets in the fd table */
    unsigned sockets_parked;        /* now: idle pooled sockets still watched for readability */
};
void mb_upstream_stats(const struct mb_upstream *up, struct mb_upstream_stats *out);

#endif
