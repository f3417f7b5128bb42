/* Unit tests for inbound TLS (http/tls.c and the TLS path of http/http_server.c). A CA, a
 * server certificate (CN localhost, SAN localhost and 127.0.0.1), client certificates and a
 * second CA are made at start with the OpenSSL API in a temporary directory. The engine is
 * driven alone against an in-memory OpenSSL client (ciphertext fed byte by byte); the server
 * runs on its own libuv loop in a background thread and the test thread is an OpenSSL client
 * on blocking loopback sockets: requests, keep-alive, pipelining, 100-continue, a 1 MiB
 * response, a stream under backpressure, resumption (TLS 1.3 tickets, TLS 1.2 tickets and
 * session ids), client certificates (required, optional, foreign CA, identities), close_notify,
 * and what must not hang: plain HTTP, garbage, silence, old protocol versions. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "http/http_server.h"
#include "http/tls.h"

/* ---- certificates ---- */

static char dir[256];

static char *path_of(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void add_ext(X509 *x, X509V3_CTX *v, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A certificate for key: self-signed when issuer is NULL. cn may hold any bytes (cn_len). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, int cn_len, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                       const char *san)
{
    static long serial = 1;
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"mcpbridge test", -1, -1, 0);
    if (cn)
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, cn_len, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509V3_CTX v;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &v, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca)
        add_ext(x, &v, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (san)
        add_ext(x, &v, NID_subject_alt_name, san);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_cert(const char *name, X509 *x)
{
    FILE *f = fopen(path_of(name), "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
}

static void write_key(const char *name, EVP_PKEY *k, const char *pass)
{
    FILE *f = fopen(path_of(name), "w");
    assert_non_null(f);
    if (pass)
        assert_int_equal(PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(), (unsigned char *)pass, (int)strlen(pass),
                                              NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* A client certificate signed by (issuer, ikey), written to <name>.pem and <name>.key. */
static void make_client(const char *name, const char *cn, int cn_len, const char *san, X509 *issuer,
                        EVP_PKEY *ikey)
{
    char f[64];
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509 *x = make_cert(k, cn, cn_len, issuer, ikey, false, san);
    snprintf(f, sizeof(f), "%s.pem", name);
    write_cert(f, x);
    snprintf(f, sizeof(f), "%s.key", name);
    write_key(f, k, NULL);
    X509_free(x);
    EVP_PKEY_free(k);
}

static int make_pki(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/mb-test-tls-XXXXXX");
    assert_non_null(mkdtemp(dir));
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
    assert_true(ca_key && other_key && srv_key);
    X509 *ca = make_cert(ca_key, "mcpbridge test CA", -1, NULL, NULL, true, NULL);
    X509 *other = make_cert(other_key, "another CA", -1, NULL, NULL, true, NULL);
    X509 *srv = make_cert(srv_key, "localhost", -1, ca, ca_key, false, "DNS:localhost,IP:127.0.0.1");
    write_cert("ca.pem", ca);
    write_cert("other-ca.pem", other);
    write_cert("server.pem", srv);
    write_key("server.key", srv_key, NULL);
    write_key("server-enc.key", srv_key, "secret");
    write_key("ca.key", ca_key, NULL); /* a key that does not match server.pem */
    make_client("alice", "alice", -1, "URI:spiffe://test/alice", ca, ca_key);
    make_client("svc", NULL, 0, "URI:spiffe://test/svc,DNS:svc.test", ca, ca_key);
    make_client("ctl", "evil\nname", -1, NULL, ca, ca_key);
    make_client("nul", "bob\0.evil", 9, "email:bob@example.com", ca, ca_key);
    make_client("mallory", "mallory", -1, NULL, other, other_key);
    FILE *f = fopen(path_of("garbage.pem"), "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    X509_free(ca);
    X509_free(other);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(srv_key);
    return 0;
}

static int remove_pki(void **state)
{
    static const char *const files[] = {"ca.pem", "other-ca.pem", "server.pem", "server.key", "server-enc.key",
                                        "ca.key", "alice.pem", "alice.key", "svc.pem", "svc.key", "ctl.pem",
                                        "ctl.key", "nul.pem", "nul.key", "mallory.pem", "mallory.key",
                                        "garbage.pem"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(path_of(files[i]));
    rmdir(dir);
    return 0;
}

/* ---- the server side (loop thread) ---- */

struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    struct mb_http_server *srv;
    struct mb_tls_context *tls;
    pthread_t thread;
    int port;
    atomic_int requests;
    atomic_int enobufs;
    atomic_int drains;
    atomic_int drained;
    atomic_long streamed;
    atomic_int errors;
};

static struct fixture *F;

#define BIG_SIZE (1024 * 1024)
#define STREAM_TOTAL (24L * 1024 * 1024)
#define STREAM_CHUNK 65536

static char big_byte(size_t i)
{
    return (char)('a' + (i * 7 + i / 251) % 26);
}

static void stream_pump(struct mb_http_exchange *ex)
{
    static char chunk[STREAM_CHUNK];
    memset(chunk, 'z', sizeof(chunk));
    for (;;) {
        if (atomic_load(&F->streamed) >= STREAM_TOTAL) {
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
    if (strcmp(p, "/big") == 0) {
        char *body = malloc(BIG_SIZE);
        for (size_t i = 0; i < BIG_SIZE; i++)
            body[i] = big_byte(i);
        mb_http_respond(ex, 200, NULL, 0, body, BIG_SIZE);
        free(body);
    } else if (strcmp(p, "/stream") == 0) {
        mb_http_exchange_on_drain(ex, stream_drain);
        mb_http_stream_start(ex, 200, NULL, 0);
        stream_pump(ex);
    } else if (strcmp(p, "/stats") == 0) {
        struct mb_http_tls_stats st;
        mb_http_server_tls_stats(F->srv, &st);
        char body[256];
        int n = snprintf(body, sizeof(body), "handshakes=%llu resumed=%llu failures=%llu plain=%llu",
                         (unsigned long long)st.handshakes, (unsigned long long)st.resumed,
                         (unsigned long long)st.handshake_failures, (unsigned long long)st.plain_http);
        mb_http_respond(ex, 200, NULL, 0, body, (size_t)n);
    } else if (strcmp(p, "/shutdown") == 0) {
        mb_http_server_shutdown(F->srv, on_drained, NULL);
        mb_http_respond(ex, 200, NULL, 0, "bye", 3);
    } else {
        const char *id = mb_http_request_client_identity(req);
        char head[512];
        int n = snprintf(head, sizeof(head), "%s %s id=%s body=", req->method_name, req->path, id ? id : "-");
        size_t total = (size_t)n + req->body_len;
        char *out = malloc(total);
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

struct server_opts {
    const char *cafile;   /* client_cafile, a name in dir, or NULL */
    bool require;
    unsigned header_timeout_ms;
    size_t max_write_backlog;
    unsigned max_connections;
};

static void server_start(const struct server_opts *o)
{
    F = calloc(1, sizeof(*F));
    struct mb_tls_options to = {
        .certfile = path_of("server.pem"),
        .keyfile = path_of("server.key"),
        .client_cafile = o->cafile ? path_of(o->cafile) : NULL,
        .require_client_cert = o->require,
    };
    char err[256];
    F->tls = mb_tls_context_create(&to, err, sizeof(err));
    if (!F->tls)
        fail_msg("context: %s", err);
    struct mb_http_limits l;
    mb_http_limits_default(&l);
    l.tls = F->tls;
    if (o->header_timeout_ms)
        l.header_timeout_ms = o->header_timeout_ms;
    if (o->max_write_backlog)
        l.max_write_backlog = o->max_write_backlog;
    if (o->max_connections)
        l.max_connections = o->max_connections;
    assert_int_equal(uv_loop_init(&F->loop), 0);
    assert_int_equal(uv_async_init(&F->loop, &F->stop, on_stop), 0);
    F->srv = mb_http_server_create(&F->loop, &l, on_request, NULL);
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
    mb_tls_context_destroy(F->tls);
    free(F);
    F = NULL;
}

/* ---- the client side (test thread) ---- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool wait_for(atomic_int *v, int want, unsigned ms)
{
    for (unsigned i = 0; i < ms / 10 && atomic_load(v) < want; i++)
        sleep_ms(10);
    return atomic_load(v) >= want;
}

static int tcp_open(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)F->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

struct copts {
    const char *cert;       /* name in dir: <cert>.pem and <cert>.key, or NULL */
    int max_version;        /* 0 = any */
    int min_version;
    bool no_ticket;         /* TLS 1.2 session ids instead of tickets */
    SSL_SESSION *session;   /* to resume */
    int rcvbuf;
    const char *alpn;       /* wire format, or NULL for "http/1.1" and "h2" */
};

struct client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[1 << 16];
    size_t len;
};

/* Connects and handshakes. Returns 0 when the client side of the handshake completed. */
static int tls_open(struct client *c, const struct copts *o)
{
    memset(c, 0, sizeof(*c));
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, path_of("ca.pem"), NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (o && o->cert) {
        char f[64];
        snprintf(f, sizeof(f), "%s.pem", o->cert);
        assert_int_equal(SSL_CTX_use_certificate_file(c->ctx, path_of(f), SSL_FILETYPE_PEM), 1);
        snprintf(f, sizeof(f), "%s.key", o->cert);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(c->ctx, path_of(f), SSL_FILETYPE_PEM), 1);
    }
    if (o && o->min_version) {
        SSL_CTX_set_security_level(c->ctx, 0);
        SSL_CTX_set_min_proto_version(c->ctx, o->min_version);
    }
    if (o && o->max_version)
        SSL_CTX_set_max_proto_version(c->ctx, o->max_version);
    if (o && o->no_ticket)
        SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
    c->fd = tcp_open(o ? o->rcvbuf : 0);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    assert_int_equal(SSL_set1_host(c->ssl, "localhost"), 1);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    if (o && o->alpn)
        SSL_set_alpn_protos(c->ssl, (const unsigned char *)o->alpn, (unsigned)strlen(o->alpn));
    else
        SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
    if (o && o->session)
        SSL_set_session(c->ssl, o->session);
    int rc = SSL_connect(c->ssl) == 1 ? 0 : -1;
    ERR_clear_error();
    return rc;
}

static void tls_close(struct client *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    ERR_clear_error();
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static int tls_send(struct client *c, const char *data, size_t len)
{
    size_t w = 0;
    int rc = SSL_write_ex(c->ssl, data, len, &w) == 1 && w == len ? 0 : -1;
    ERR_clear_error();
    return rc;
}

static int tls_sends(struct client *c, const char *s)
{
    return tls_send(c, s, strlen(s));
}

/* Reads more plaintext; > 0 bytes, 0 on close_notify, -1 on error, reset or timeout. */
static int tls_fill(struct client *c)
{
    if (c->len == sizeof(c->buf))
        return -1;
    size_t n = 0;
    int r = SSL_read_ex(c->ssl, c->buf + c->len, sizeof(c->buf) - c->len, &n);
    if (r == 1) {
        c->len += n;
        return (int)n;
    }
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static void take(struct client *c, char *out, size_t n)
{
    if (out)
        memcpy(out, c->buf, n);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static ssize_t read_line(struct client *c, char *out, size_t cap)
{
    for (;;) {
        char *e = memmem(c->buf, c->len, "\r\n", 2);
        if (e) {
            size_t n = (size_t)(e - c->buf);
            if (n >= cap)
                return -1;
            take(c, out, n);
            out[n] = 0;
            take(c, NULL, 2);
            return (ssize_t)n;
        }
        if (tls_fill(c) <= 0)
            return -1;
    }
}

struct response {
    int status;
    char headers[4096];
    char *body;
    size_t body_len;
};

static const char *resp_header(const struct response *r, const char *name)
{
    static char val[256];
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *e = strchr(p, '\n');
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
            return val;
        }
        p = e + 1;
    }
    return NULL;
}

/* Reads one response (Content-Length or chunked). Returns 0 or -1. */
static int read_response(struct client *c, struct response *r)
{
    char line[8192];
    memset(r, 0, sizeof(*r));
    if (read_line(c, line, sizeof(line)) < 0 || sscanf(line, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    size_t hl = 0;
    for (;;) {
        ssize_t n = read_line(c, line, sizeof(line));
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
        while (r->body_len < want) {
            if (!c->len && tls_fill(c) <= 0)
                return -1;
            size_t k = c->len < want - r->body_len ? c->len : want - r->body_len;
            take(c, r->body + r->body_len, k);
            r->body_len += k;
        }
        r->body[r->body_len] = 0;
    } else if (te && strcasecmp(te, "chunked") == 0) {
        size_t cap = 1024;
        r->body = malloc(cap);
        for (;;) {
            if (read_line(c, line, sizeof(line)) < 0)
                return -1;
            size_t n = strtoul(line, NULL, 16);
            if (n == 0) {
                if (read_line(c, line, sizeof(line)) != 0)
                    return -1;
                break;
            }
            while (r->body_len + n + 1 > cap)
                r->body = realloc(r->body, cap *= 2);
            while (n) {
                if (!c->len && tls_fill(c) <= 0)
                    return -1;
                size_t k = c->len < n ? c->len : n;
                take(c, r->body + r->body_len, k);
                r->body_len += k;
                n -= k;
            }
            if (read_line(c, line, sizeof(line)) != 0)
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

/* One GET on a new connection; returns the status (or -1) and the body in out. */
static int get_once(const struct copts *o, const char *path, char *out, size_t cap)
{
    struct client c;
    struct response r;
    char req[256];
    int status = -1;
    if (out && cap)
        out[0] = 0;
    if (tls_open(&c, o) == 0) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
        if (tls_sends(&c, req) == 0 && read_response(&c, &r) == 0) {
            status = r.status;
            if (out && cap)
                snprintf(out, cap, "%s", r.body ? r.body : "");
        }
        response_free(&r);
    }
    tls_close(&c);
    return status;
}

/* The server's TLS counters, read by the loop thread itself through GET /stats. */
static void get_stats(struct mb_http_tls_stats *st)
{
    char body[256];
    unsigned long long h, r, f, p;
    assert_int_equal(get_once(NULL, "/stats", body, sizeof(body)), 200);
    assert_int_equal(sscanf(body, "handshakes=%llu resumed=%llu failures=%llu plain=%llu", &h, &r, &f, &p), 4);
    st->handshakes = h;
    st->resumed = r;
    st->handshake_failures = f;
    st->plain_http = p;
}

/* True when the server closes the raw socket (EOF or reset) within the receive timeout. */
static bool raw_sees_close(int fd, long *elapsed_ms)
{
    long t0 = now_ms();
    char b[4096];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n > 0)
            continue; /* an alert, or the plain 400 */
        if (elapsed_ms)
            *elapsed_ms = now_ms() - t0;
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
}

/* ---- tests: the context ---- */

static void test_context_errors(void **state)
{
    char err[512];
    struct mb_tls_options o = {.certfile = path_of("server.pem"), .keyfile = path_of("server.key")};
    struct mb_tls_context *ctx = mb_tls_context_create(&o, err, sizeof(err));
    assert_non_null(ctx);
    mb_tls_context_destroy(ctx);

    o.certfile = path_of("missing.pem");
    assert_null(mb_tls_context_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "missing.pem"));
    assert_non_null(strstr(err, "No such file"));

    o.certfile = path_of("garbage.pem");
    assert_null(mb_tls_context_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "certfile"));
    assert_non_null(strstr(err, "garbage.pem"));

    o.certfile = path_of("server.pem");
    o.keyfile = path_of("ca.key");
    assert_null(mb_tls_context_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "does not match"));

    o.keyfile = path_of("server-enc.key"); /* must fail at once, never prompt */
    assert_null(mb_tls_context_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "encrypted"));

    o.keyfile = path_of("server.key");
    o.require_client_cert = true;
    assert_null(mb_tls_context_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "client_cafile"));

    o.client_cafile = path_of("garbage.pem");
    assert_null(mb_tls_context_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "client_cafile"));

    o.client_cafile = path_of("ca.pem");
    ctx = mb_tls_context_create(&o, NULL, 0);
    assert_non_null(ctx);
    mb_tls_context_destroy(ctx);
    assert_null(mb_tls_context_create(NULL, err, sizeof(err)));
}

/* ---- tests: the engine alone ---- */

struct plain {
    char data[256];
    size_t len;
    int last;
};

/* Moves everything the client wrote into the engine, one byte per feed. */
static void to_engine(BIO *client_out, struct mb_tls_conn *t, struct plain *p)
{
    char b[8192];
    int n;
    while ((n = BIO_read(client_out, b, sizeof(b))) > 0) {
        for (int i = 0; i < n; i++) {
            mb_tls_conn_feed(t, b + i, 1);
            for (;;) {
                char out[64];
                ssize_t k = mb_tls_conn_read(t, out, sizeof(out));
                p->last = (int)k;
                if (k <= 0)
                    break;
                assert_true(p->len + (size_t)k <= sizeof(p->data));
                memcpy(p->data + p->len, out, (size_t)k);
                p->len += (size_t)k;
            }
            if (p->last < 0)
                return;
        }
    }
}

static void to_client(struct mb_tls_conn *t, BIO *client_in)
{
    size_t len;
    char *d = mb_tls_conn_take_output(t, &len);
    if (d) {
        assert_int_equal(BIO_write(client_in, d, (int)len), (int)len);
        free(d);
    }
    assert_int_equal(mb_tls_conn_output_len(t), 0);
}

static void test_engine_byte_by_byte(void **state)
{
    struct mb_tls_options o = {.certfile = path_of("server.pem"), .keyfile = path_of("server.key"),
                               .client_cafile = path_of("ca.pem")};
    char err[256];
    struct mb_tls_context *ctx = mb_tls_context_create(&o, err, sizeof(err));
    assert_non_null(ctx);
    struct mb_tls_conn *t = mb_tls_conn_create(ctx);
    assert_non_null(t);
    mb_tls_context_destroy(ctx); /* the engine keeps its own reference */
    assert_false(mb_tls_conn_handshake_done(t));
    assert_int_equal(mb_tls_conn_write(t, "x", 1), MB_TLS_ERROR); /* no writes before the handshake */
    assert_int_equal(mb_tls_conn_shutdown(t), MB_TLS_ERROR);
    char id[64];
    assert_int_equal(mb_tls_peer_identity(t, id, sizeof(id)), -1);

    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(cctx, path_of("ca.pem"), NULL);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    assert_int_equal(SSL_CTX_use_certificate_file(cctx, path_of("alice.pem"), SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(cctx, path_of("alice.key"), SSL_FILETYPE_PEM), 1);
    SSL *cl = SSL_new(cctx);
    BIO *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
    SSL_set_bio(cl, cin, cout);
    SSL_set_connect_state(cl);
    struct plain p = {0};
    int rounds = 0;
    while (SSL_do_handshake(cl) != 1) {
        assert_int_equal(SSL_get_error(cl, -1), SSL_ERROR_WANT_READ);
        to_engine(cout, t, &p);
        assert_int_equal(p.last, MB_TLS_WANT_INPUT);
        to_client(t, cin);
        assert_true(++rounds < 10);
    }
    /* TLS 1.3: the client's Finished and certificate reach the server after the client is done. */
    assert_int_equal(SSL_write(cl, "hello", 5), 5);
    to_engine(cout, t, &p);
    assert_true(mb_tls_conn_handshake_done(t));
    assert_string_equal(mb_tls_conn_version(t), "TLSv1.3");
    assert_false(mb_tls_conn_resumed(t));
    assert_int_equal(p.len, 5);
    assert_memory_equal(p.data, "hello", 5);
    assert_int_equal(mb_tls_peer_identity(t, id, sizeof(id)), 5);
    assert_string_equal(id, "alice");
    assert_int_equal(mb_tls_peer_identity(t, id, 3), 5); /* truncated, full length returned */
    assert_string_equal(id, "al");
    assert_int_equal(mb_tls_peer_san(t, id, sizeof(id)), (int)strlen("spiffe://test/alice"));
    assert_string_equal(id, "spiffe://test/alice");
    assert_string_equal(mb_tls_conn_identity(t), "alice");

    assert_int_equal(mb_tls_conn_write(t, "world", 5), 0);
    to_client(t, cin);
    char b[64];
    int n = SSL_read(cl, b, sizeof(b));
    while (n <= 0 && SSL_get_error(cl, n) == SSL_ERROR_WANT_READ)
        n = SSL_read(cl, b, sizeof(b)); /* tickets first */
    assert_int_equal(n, 5);
    assert_memory_equal(b, "world", 5);

    /* close_notify from the client ends the input; ours goes back. */
    SSL_shutdown(cl);
    to_engine(cout, t, &p);
    assert_int_equal(p.last, MB_TLS_CLOSED);
    assert_int_equal(mb_tls_conn_shutdown(t), 0);
    assert_true(mb_tls_conn_output_len(t) > 0);
    to_client(t, cin);
    assert_int_equal(SSL_shutdown(cl), 1);
    assert_int_equal(mb_tls_conn_write(t, "late", 4), MB_TLS_ERROR);

    SSL_free(cl);
    SSL_CTX_free(cctx);
    mb_tls_conn_destroy(t);

    /* Garbage: a fatal error, with no crash and no plaintext. */
    ctx = mb_tls_context_create(&o, err, sizeof(err));
    t = mb_tls_conn_create(ctx);
    static const char junk[] = "\x16\x03\x01\x00\x10" "0123456789abcdef" "more junk after it";
    mb_tls_conn_feed(t, junk, sizeof(junk) - 1);
    char out[64];
    assert_int_equal(mb_tls_conn_read(t, out, sizeof(out)), MB_TLS_ERROR);
    assert_int_equal(mb_tls_conn_read(t, out, sizeof(out)), MB_TLS_ERROR);
    assert_non_null(mb_tls_conn_error(t));
    assert_false(mb_tls_conn_handshake_done(t));
    mb_tls_conn_destroy(t);
    mb_tls_context_destroy(ctx);
    ERR_clear_error();
}

/* ---- tests: the server ---- */

static void test_requests_keepalive_pipeline(void **state)
{
    struct server_opts so = {0};
    server_start(&so);
    struct client c;
    struct response r;
    assert_int_equal(tls_open(&c, NULL), 0);
    const unsigned char *alpn;
    unsigned alpn_len;
    SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
    assert_int_equal(alpn_len, 8);
    assert_memory_equal(alpn, "http/1.1", 8);
    assert_int_equal(SSL_version(c.ssl), TLS1_3_VERSION);
    /* Several requests on one connection. */
    for (int i = 0; i < 5; i++) {
        char req[128], want[64];
        snprintf(req, sizeof(req), "GET /ka/%d HTTP/1.1\r\nHost: localhost\r\n\r\n", i);
        assert_int_equal(tls_sends(&c, req), 0);
        assert_int_equal(read_response(&c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
        snprintf(want, sizeof(want), "GET /ka/%d id=- body=", i);
        assert_string_equal(r.body, want);
        response_free(&r);
    }
    /* Pipelined in one record, with a body. */
    assert_int_equal(tls_sends(&c, "GET /p1 HTTP/1.1\r\n\r\nPOST /p2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                                   "GET /p3 HTTP/1.1\r\n\r\n"), 0);
    static const char *const want[] = {"GET /p1 id=- body=", "POST /p2 id=- body=hello", "GET /p3 id=- body="};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_response(&c, &r), 0);
        assert_string_equal(r.body, want[i]);
        response_free(&r);
    }
    /* 100-continue: the interim response is encrypted like the rest. */
    assert_int_equal(tls_sends(&c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_int_equal(r.status, 100);
    response_free(&r);
    assert_int_equal(tls_sends(&c, "data"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_string_equal(r.body, "POST /e id=- body=data");
    response_free(&r);
    /* An HTTP error is answered inside TLS too. */
    assert_int_equal(tls_sends(&c, "BL\x01H / garbage\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_int_equal(tls_fill(&c), 0); /* then close_notify */
    tls_close(&c);
    assert_int_equal(atomic_load(&F->requests), 9); /* the 400 never reached the handler */
    /* TLS 1.2 works, and a client offering only h2 still gets HTTP/1.1 without ALPN. */
    struct copts o12 = {.max_version = TLS1_2_VERSION};
    assert_int_equal(tls_open(&c, &o12), 0);
    assert_int_equal(SSL_version(c.ssl), TLS1_2_VERSION);
    tls_close(&c);
    struct copts h2 = {.alpn = "\x02h2"};
    assert_int_equal(tls_open(&c, &h2), 0);
    SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
    assert_int_equal(alpn_len, 0);
    assert_int_equal(tls_sends(&c, "GET /noalpn HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    tls_close(&c);
    server_stop();
}

static void test_large_response_and_backpressure(void **state)
{
    struct server_opts so = {.max_write_backlog = 256 * 1024};
    server_start(&so);
    struct client c;
    struct response r;
    struct copts o = {.rcvbuf = 32 * 1024};
    assert_int_equal(tls_open(&c, &o), 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(tls_sends(&c, "GET /big HTTP/1.1\r\n\r\n"), 0);
        if (round == 0)
            sleep_ms(200); /* let the whole response queue up against a full socket */
        assert_int_equal(read_response(&c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, BIG_SIZE);
        size_t bad = 0;
        for (size_t i = 0; i < BIG_SIZE; i++)
            bad += r.body[i] != big_byte(i);
        assert_int_equal(bad, 0);
        response_free(&r);
    }
    /* A stream whose reader stalls: the server must refuse bytes, then resume on drain. */
    assert_int_equal(tls_sends(&c, "GET /stream HTTP/1.1\r\n\r\n"), 0);
    assert_true(wait_for(&F->enobufs, 1, 3000));
    long queued = -1;
    for (int i = 0; i < 50 && atomic_load(&F->streamed) != queued; i++) {
        queued = atomic_load(&F->streamed);
        sleep_ms(100);
    }
    assert_int_equal(atomic_load(&F->streamed), queued);
    assert_true(queued < STREAM_TOTAL / 2);
    int drains = atomic_load(&F->drains);
    assert_int_equal(read_response(&c, &r), 0);
    assert_int_equal(r.body_len, STREAM_TOTAL);
    for (size_t i = 0; i < r.body_len; i += 4096)
        assert_int_equal(r.body[i], 'z');
    response_free(&r);
    assert_true(atomic_load(&F->drains) > drains);
    assert_int_equal(atomic_load(&F->errors), 0);
    tls_close(&c);
    server_stop();
}

/* First connection, a request, its session; then a second connection offering it. */
static void check_resumption(const struct copts *base, const char *cert_id)
{
    struct copts o = *base;
    struct client c;
    struct response r;
    char want[128];
    snprintf(want, sizeof(want), "GET /r id=%s body=", cert_id ? cert_id : "-");
    assert_int_equal(tls_open(&c, &o), 0);
    assert_false(SSL_session_reused(c.ssl));
    assert_int_equal(tls_sends(&c, "GET /r HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_string_equal(r.body, want);
    response_free(&r);
    SSL_SESSION *s = SSL_get1_session(c.ssl);
    assert_non_null(s);
    assert_true(SSL_SESSION_is_resumable(s));
    tls_close(&c);
    o.session = s;
    assert_int_equal(tls_open(&c, &o), 0);
    assert_true(SSL_session_reused(c.ssl));
    assert_int_equal(tls_sends(&c, "GET /r HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_string_equal(r.body, want); /* the identity survives resumption */
    response_free(&r);
    tls_close(&c);
    SSL_SESSION_free(s);
}

static void test_resumption(void **state)
{
    struct server_opts so = {.cafile = "ca.pem"};
    server_start(&so);
    struct copts tls13 = {0}, tls12 = {.max_version = TLS1_2_VERSION},
                 tls12_ids = {.max_version = TLS1_2_VERSION, .no_ticket = true},
                 with_cert = {.cert = "alice"};
    check_resumption(&tls13, NULL);
    check_resumption(&tls12, NULL);
    check_resumption(&tls12_ids, NULL);
    check_resumption(&with_cert, "alice");
    struct mb_http_tls_stats st;
    get_stats(&st);
    assert_int_equal(st.resumed, 4);
    assert_int_equal(st.handshakes, 9); /* 8 above and the /stats one */
    assert_int_equal(st.handshake_failures, 0);
    server_stop();
}

static void test_client_cert_required(void **state)
{
    struct server_opts so = {.cafile = "ca.pem", .require = true};
    server_start(&so);
    char body[256];
    /* Without a certificate: refused (TLS 1.3 reports it at the first read, 1.2 in the handshake). */
    struct copts none = {0}, none12 = {.max_version = TLS1_2_VERSION};
    assert_int_equal(get_once(&none, "/x", body, sizeof(body)), -1);
    assert_int_equal(get_once(&none12, "/x", body, sizeof(body)), -1);
    /* From another CA: refused. */
    struct copts mallory = {.cert = "mallory"};
    assert_int_equal(get_once(&mallory, "/x", body, sizeof(body)), -1);
    assert_int_equal(atomic_load(&F->requests), 0);
    /* Signed by the CA: accepted, and the handler sees who. */
    struct copts alice = {.cert = "alice"}, alice12 = {.cert = "alice", .max_version = TLS1_2_VERSION};
    assert_int_equal(get_once(&alice, "/x", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /x id=alice body=");
    assert_int_equal(get_once(&alice12, "/x", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /x id=alice body=");
    /* No CN: the first URI SAN. */
    struct copts svc = {.cert = "svc"};
    assert_int_equal(get_once(&svc, "/x", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /x id=spiffe://test/svc body=");
    /* A control byte in the CN is neutralised. */
    struct copts ctl = {.cert = "ctl"};
    assert_int_equal(get_once(&ctl, "/x", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /x id=evil?name body=");
    /* A CN with an embedded NUL is not an identity: the SAN is used. */
    struct copts nul = {.cert = "nul"};
    assert_int_equal(get_once(&nul, "/x", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /x id=bob@example.com body=");
    struct client c;
    struct copts alice_stats = {.cert = "alice"};
    assert_int_equal(tls_open(&c, &alice_stats), 0);
    struct response r;
    assert_int_equal(tls_sends(&c, "GET /stats HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    unsigned long long h, res, f, p;
    assert_int_equal(sscanf(r.body, "handshakes=%llu resumed=%llu failures=%llu plain=%llu", &h, &res, &f, &p), 4);
    response_free(&r);
    tls_close(&c);
    assert_int_equal(f, 3);
    assert_int_equal(h, 6); /* the five accepted above and this one: refusals are failures, not handshakes */
    assert_int_equal(atomic_load(&F->requests), 6);
    server_stop();
}

static void test_client_cert_optional(void **state)
{
    struct server_opts so = {.cafile = "ca.pem"};
    server_start(&so);
    char body[256];
    struct copts none = {0}, alice = {.cert = "alice"}, mallory = {.cert = "mallory"};
    assert_int_equal(get_once(&none, "/o", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /o id=- body=");
    assert_int_equal(get_once(&alice, "/o", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /o id=alice body=");
    assert_int_equal(get_once(&mallory, "/o", body, sizeof(body)), -1); /* a bad certificate is not ignored */
    assert_int_equal(atomic_load(&F->requests), 2);
    server_stop();
    /* Without client_cafile no certificate is asked for, so none is seen. */
    struct server_opts plain = {0};
    server_start(&plain);
    assert_int_equal(get_once(&alice, "/o", body, sizeof(body)), 200);
    assert_string_equal(body, "GET /o id=- body=");
    server_stop();
}

static void test_garbage_plain_and_silence(void **state)
{
    struct server_opts so = {.header_timeout_ms = 300};
    server_start(&so);
    long ms;
    /* Plain HTTP: a plain-text 400 that says why, then close. */
    int fd = tcp_open(0);
    static const char plain[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_int_equal(send(fd, plain, sizeof(plain) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(plain) - 1);
    char b[512];
    ssize_t n = recv(fd, b, sizeof(b) - 1, 0);
    assert_true(n > 0);
    b[n] = 0;
    assert_non_null(strstr(b, "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(b, "Connection: close"));
    assert_non_null(strstr(b, "HTTPS"));
    assert_true(raw_sees_close(fd, &ms));
    assert_true(ms < 1000);
    close(fd);
    /* Garbage that looks like a record, and garbage that does not. */
    static const char junk1[] = "\x16\x03\x01\x00\x20" "abcdefghijklmnopqrstuvwxyz012345" "tail";
    static const char junk2[] = "\x00\xff\x13\x37 random bytes \x01\x02\x03";
    const char *junks[] = {junk1, junk2};
    size_t lens[] = {sizeof(junk1) - 1, sizeof(junk2) - 1};
    for (int i = 0; i < 2; i++) {
        fd = tcp_open(0);
        assert_int_equal(send(fd, junks[i], lens[i], MSG_NOSIGNAL), (ssize_t)lens[i]);
        assert_true(raw_sees_close(fd, &ms));
        assert_true(ms < 1000);
        close(fd);
    }
    /* Silence, and a ClientHello cut short: closed at the header timeout, not later. */
    fd = tcp_open(0);
    assert_true(raw_sees_close(fd, &ms));
    assert_true(ms >= 200 && ms < 2000);
    close(fd);
    fd = tcp_open(0);
    static const char partial[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    assert_int_equal(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(partial) - 1);
    assert_true(raw_sees_close(fd, &ms));
    assert_true(ms >= 200 && ms < 2000);
    close(fd);
    /* TLS 1.1 is refused by the server. */
    struct copts old = {.min_version = TLS1_1_VERSION, .max_version = TLS1_1_VERSION};
    struct client c;
    assert_int_equal(tls_open(&c, &old), -1);
    tls_close(&c);
    /* A client that disappears mid-handshake. */
    fd = tcp_open(0);
    assert_int_equal(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(partial) - 1);
    close(fd);
    sleep_ms(100);
    /* The server is fine and counted every failure. */
    struct mb_http_tls_stats st;
    get_stats(&st);
    assert_int_equal(st.plain_http, 1);
    assert_int_equal(st.handshake_failures, 6); /* all but the silent one, which never tried */
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(atomic_load(&F->requests), 1);
    server_stop();
}

static void test_close_notify_and_drain(void **state)
{
    struct server_opts so = {.max_connections = 3};
    server_start(&so);
    struct client c, idle;
    struct response r;
    /* Connection: close -> the response, then close_notify (not a bare FIN). */
    assert_int_equal(tls_open(&c, NULL), 0);
    assert_int_equal(tls_sends(&c, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    response_free(&r);
    assert_int_equal(tls_fill(&c), 0);
    tls_close(&c);
    sleep_ms(100); /* gone from the server's count */
    /* Over the connection cap a TLS connection is closed without a handshake. */
    struct client a, b, x;
    assert_int_equal(tls_open(&a, NULL), 0);
    assert_int_equal(tls_open(&b, NULL), 0);
    assert_int_equal(tls_open(&idle, NULL), 0);
    sleep_ms(100);
    assert_int_equal(tls_open(&x, NULL), -1);
    tls_close(&x);
    tls_close(&a);
    tls_close(&b);
    sleep_ms(100);
    /* A drain closes an idle keep-alive connection with close_notify. */
    assert_int_equal(tls_sends(&idle, "GET /before HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(read_response(&idle, &r), 0);
    response_free(&r);
    assert_int_equal(tls_open(&c, NULL), 0);
    assert_int_equal(tls_sends(&c, "GET /shutdown HTTP/1.1\r\n\r\n"), 0);
    assert_int_equal(read_response(&c, &r), 0);
    assert_string_equal(r.body, "bye");
    response_free(&r);
    assert_int_equal(tls_fill(&c), 0);
    tls_close(&c);
    assert_int_equal(tls_fill(&idle), 0);
    tls_close(&idle);
    assert_true(wait_for(&F->drained, 1, 3000));
    server_stop();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_errors),
        cmocka_unit_test(test_engine_byte_by_byte),
        cmocka_unit_test(test_requests_keepalive_pipeline),
        cmocka_unit_test(test_large_response_and_backpressure),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_client_cert_required),
        cmocka_unit_test(test_client_cert_optional),
        cmocka_unit_test(test_garbage_plain_and_silence),
        cmocka_unit_test(test_close_notify_and_drain),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
