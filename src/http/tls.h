/* Inbound TLS for the HTTP server: a server context (OpenSSL SSL_CTX) built once from
 * runtime.server.transport.tls, and a per-connection engine that never touches a socket. The
 * caller feeds ciphertext read from the socket and gets plaintext out; it puts plaintext in and
 * takes the ciphertext to write. The handshake is driven from reads. Nothing here blocks or
 * does I/O, so the engine fits any loop (the HTTP server drives it from libuv callbacks).
 *
 * The context: TLS 1.2 and 1.3 only, server cipher preference, no renegotiation, session
 * tickets and a server-side session cache (resumption), ALPN "http/1.1", certificate chain and
 * key loaded and checked to match. With client_cafile, client certificates are requested and
 * verified against it (SSL_VERIFY_PEER); require_client_cert also refuses clients without one.
 * A context made before fork() is shared by every worker, and so are its ticket keys: a ticket
 * issued by one worker resumes on any other. See docs/internals/tls.md. */
#ifndef MB_HTTP_TLS_H
#define MB_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest identity kept for a peer certificate (bytes, NUL excluded); longer ones are refused. */
#define MB_TLS_IDENTITY_MAX 255

/* mb_tls_conn_read results besides a positive byte count. */
#define MB_TLS_WANT_INPUT 0   /* every byte fed so far is used: feed more ciphertext */
#define MB_TLS_CLOSED (-1)    /* the peer sent close_notify: no more plaintext will come */
#define MB_TLS_ERROR (-2)     /* fatal: failed handshake or protocol error (an alert may be in the output) */

struct mb_tls_options {
    const char *certfile;       /* PEM: the server certificate, then its intermediates; required */
    const char *keyfile;        /* PEM private key (not encrypted); required */
    const char *client_cafile;  /* PEM CA certificates that sign client certificates; NULL = none asked */
    bool require_client_cert;   /* refuse clients without a certificate; needs client_cafile */
};

struct mb_tls_context;
struct mb_tls_conn;

/* Builds a server context from opts. Returns it (free with mb_tls_context_destroy), or NULL
 * with a one-line reason in err (errlen bytes; err may be NULL) naming the file at fault:
 * unreadable file, bad PEM, encrypted key, key not matching the certificate,
 * require_client_cert without client_cafile. Never prompts for a passphrase. */
struct mb_tls_context *mb_tls_context_create(const struct mb_tls_options *opts, char *err, size_t errlen);
/* Frees a context. Connections made from it keep their own reference and may outlive it.
 * NULL is ignored. */
void mb_tls_context_destroy(struct mb_tls_context *ctx);

/* A server-side engine for one accepted connection. Returns NULL on allocation failure. Free
 * with mb_tls_conn_destroy. */
struct mb_tls_conn *mb_tls_conn_create(struct mb_tls_context *ctx);
/* Frees the engine, its pending output and its identity. NULL is ignored. */
void mb_tls_conn_destroy(struct mb_tls_conn *t);

/* Hands the engine len bytes of ciphertext from the socket. They are borrowed, not copied:
 * keep them valid and call mb_tls_conn_read until it returns MB_TLS_WANT_INPUT, which means
 * every byte was used (a partial record is kept inside OpenSSL). Bytes of an earlier feed not
 * used yet (only possible after MB_TLS_CLOSED or MB_TLS_ERROR) are dropped. */
void mb_tls_conn_feed(struct mb_tls_conn *t, const char *data, size_t len);
/* Runs the handshake and decrypts into buf (cap bytes). Returns the number of plaintext bytes
 * (> 0), MB_TLS_WANT_INPUT, MB_TLS_CLOSED or MB_TLS_ERROR. Handshake messages, session
 * tickets and alerts it produces go to the pending output (mb_tls_conn_take_output). */
ssize_t mb_tls_conn_read(struct mb_tls_conn *t, char *buf, size_t cap);
/* Encrypts len bytes of plaintext into the pending output. Returns 0, or MB_TLS_ERROR when the
 * handshake is not complete, the connection failed or was shut down, or memory ran out. */
int mb_tls_conn_write(struct mb_tls_conn *t, const char *data, size_t len);
/* Queues close_notify (once, and only after a successful handshake). Returns 0 when queued or
 * already sent, MB_TLS_ERROR when there is nothing to shut down cleanly. */
int mb_tls_conn_shutdown(struct mb_tls_conn *t);
/* Bytes of ciphertext waiting to be written. */
size_t mb_tls_conn_output_len(const struct mb_tls_conn *t);
/* Takes the pending ciphertext: returns a malloc'd buffer (caller frees) with its length in
 * *len, or NULL with *len = 0 when nothing is pending or memory ran out (then the output is
 * kept). */
char *mb_tls_conn_take_output(struct mb_tls_conn *t, size_t *len);

/* True once the handshake completed. */
bool mb_tls_conn_handshake_done(const struct mb_tls_conn *t);
/* True when the completed handshake resumed an earlier session (ticket or session id). */
bool mb_tls_conn_resumed(const struct mb_tls_conn *t);
/* "TLSv1.3" etc., or "" before the handshake. Static storage. */
const char *mb_tls_conn_version(const struct mb_tls_conn *t);
/* A short static text naming why the connection failed ("certificate required", ...), or NULL. */
const char *mb_tls_conn_error(const struct mb_tls_conn *t);

/* The verified client certificate's identity: its subject CN, or when it has none the first
 * subjectAltName of type URI, DNS or email (in certificate order). Control bytes are replaced
 * by '?'; a CN with an embedded NUL or longer than MB_TLS_IDENTITY_MAX counts as absent.
 * Copies it into buf (len bytes, NUL-terminated, truncated to fit) and returns its full length,
 * or -1 when there is none: no certificate, not verified, handshake not done, or buf NULL. */
int mb_tls_peer_identity(const struct mb_tls_conn *t, char *buf, size_t len);
/* Same for the first URI, DNS or email subjectAltName alone (e.g. a SPIFFE id). */
int mb_tls_peer_san(const struct mb_tls_conn *t, char *buf, size_t len);
/* The identity of mb_tls_peer_identity as a string owned by the engine (valid until
 * mb_tls_conn_destroy), or NULL when there is none. */
const char *mb_tls_conn_identity(const struct mb_tls_conn *t);

#endif
