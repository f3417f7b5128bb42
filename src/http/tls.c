/* Implementation of tls.h on OpenSSL 3. Each engine's SSL object talks to one small custom BIO
 * instead of a pair of BIO_s_mem buffers: reads come straight from the slice the caller fed
 * (the server's shared read buffer, so ciphertext is never copied into a per-connection
 * buffer), writes are appended to the engine's capped output buffer, which the caller takes
 * whole for one socket write. With SSL_MODE_RELEASE_BUFFERS an idle connection then holds no
 * record buffer at all: only the SSL object, its session and this struct. */
#include "http/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/log.h"

#define LOGGER "http.tls"
/* Plaintext going in is bounded by the HTTP layer's backlog; this is the backstop. */
#define TLS_OUT_MAX (SIZE_MAX / 4)
/* Worst-case bytes a record adds to 16 KiB of plaintext (header, IV/nonce, tag, padding). */
#define RECORD_OVERHEAD 64
#define VERIFY_DEPTH 5
#define SESSION_CACHE_SIZE 2048
/* Mozilla "intermediate" TLS 1.2 suites (forward secrecy and AEAD only); TLS 1.3 keeps
 * OpenSSL's default suites. */
#define TLS12_CIPHERS                                                                         \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct mb_tls_context {
    SSL_CTX *ctx;
};

struct mb_tls_conn {
    SSL *ssl;
    const char *in;     /* fed ciphertext not used yet (borrowed) */
    size_t in_len;
    struct mb_buf out;  /* ciphertext to write */
    char *identity;     /* CN, else first SAN; NULL when none */
    char *san;          /* first URI/DNS/email SAN; NULL when none */
    const char *error;  /* static reason once failed */
    bool done, failed, closed, shut;
};

/* ---- the BIO between SSL and the engine ---- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *data, int len)
{
    struct mb_tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (mb_buf_append(&t->out, data, (size_t)len) != 0)
        return -1; /* not a retry: SSL fails the write */
    return len;
}

static int bio_read(BIO *b, char *data, int len)
{
    struct mb_tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (!t->in_len) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = t->in_len < (size_t)len ? t->in_len : (size_t)len;
    memcpy(data, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct mb_tls_conn *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return t ? (long)t->in_len : 0;
    case BIO_CTRL_WPENDING:
        return t ? (long)t->out.len : 0;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy(BIO *b)
{
    BIO_set_data(b, NULL);
    return 1;
}

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mcpbridge-tls");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
        !BIO_meth_set_destroy(m, bio_destroy)) {
        BIO_meth_free(m);
        return;
    }
    bio_method = m;
}

/* ---- the context ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The reason of the most recent OpenSSL error, for messages; "unknown error" when none. */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unknown error";
}

/* Refuses to decrypt a key: no prompt on the terminal, ever. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    if (userdata)
        *(bool *)userdata = true;
    return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    unsigned i = 0;
    while (i < inlen) {
        unsigned l = in[i];
        if (l == 0 || l > inlen - i - 1)
            break;
        if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    /* No overlap (an h2-only client): go on without ALPN rather than fail the handshake. */
    return SSL_TLSEXT_ERR_NOACK;
}

static bool file_readable(const char *what, const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        set_err(err, errlen, "%s is not set", what);
        return false;
    }
    if (access(path, R_OK) != 0) {
        set_err(err, errlen, "%s '%s': %s", what, path, strerror(errno));
        return false;
    }
    return true;
}

static void warn_if_expired(SSL_CTX *ctx, const char *certfile)
{
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (!cert)
        return;
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
        mb_warn(LOGGER, "the certificate in '%s' has expired; clients will refuse it", certfile);
    else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
        mb_warn(LOGGER, "the certificate in '%s' is not valid yet; clients will refuse it", certfile);
}

struct mb_tls_context *mb_tls_context_create(const struct mb_tls_options *opts, char *err, size_t errlen)
{
    struct mb_tls_context *tc = NULL;
    SSL_CTX *ctx = NULL;
    bool encrypted = false;
    set_err(err, errlen, "no error");
    if (!opts) {
        set_err(err, errlen, "no TLS options");
        return NULL;
    }
    if (!file_readable("certfile", opts->certfile, err, errlen) ||
        !file_readable("keyfile", opts->keyfile, err, errlen))
        return NULL;
    if (opts->require_client_cert && (!opts->client_cafile || !*opts->client_cafile)) {
        set_err(err, errlen, "require_client_cert needs client_cafile to verify client certificates");
        return NULL;
    }
    if (opts->client_cafile && *opts->client_cafile &&
        !file_readable("client_cafile", opts->client_cafile, err, errlen))
        return NULL;
    pthread_once(&bio_once, bio_method_init);
    ERR_clear_error();
    tc = calloc(1, sizeof(*tc));
    ctx = SSL_CTX_new(TLS_server_method());
    if (!tc || !ctx || !bio_method) {
        set_err(err, errlen, "out of memory creating the TLS context");
        goto fail;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
        set_err(err, errlen, "cannot set the TLS versions or ciphers: %s", ssl_reason());
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &encrypted);
    if (SSL_CTX_use_certificate_chain_file(ctx, opts->certfile) != 1) {
        set_err(err, errlen, "certfile '%s': cannot load a PEM certificate chain: %s", opts->certfile,
                ssl_reason());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, opts->keyfile, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            set_err(err, errlen, "keyfile '%s' does not match the certificate in certfile '%s'", opts->keyfile,
                    opts->certfile);
        else if (encrypted)
            set_err(err, errlen, "keyfile '%s' is encrypted; give an unencrypted key (protect it with file "
                    "permissions)", opts->keyfile);
        else
            set_err(err, errlen, "keyfile '%s': cannot load a PEM private key: %s", opts->keyfile, ssl_reason());
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_err(err, errlen, "keyfile '%s' does not match the certificate in certfile '%s'", opts->keyfile,
                opts->certfile);
        goto fail;
    }
    /* The default callback is done with: none may point at this stack frame afterwards. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    warn_if_expired(ctx, opts->certfile);
    /* Required for resumption once client certificates are verified; harmless otherwise. */
    static const unsigned char sid_ctx[] = "mcpbridge";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE_SIZE);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (opts->client_cafile && *opts->client_cafile) {
        if (SSL_CTX_load_verify_locations(ctx, opts->client_cafile, NULL) != 1) {
            set_err(err, errlen, "client_cafile '%s': cannot load PEM CA certificates: %s", opts->client_cafile,
                    ssl_reason());
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opts->client_cafile);
        if (!names) {
            set_err(err, errlen, "client_cafile '%s': no CA certificate in it", opts->client_cafile);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (opts->require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
        SSL_CTX_set_verify_depth(ctx, VERIFY_DEPTH);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    ERR_clear_error();
    tc->ctx = ctx;
    set_err(err, errlen, "no error");
    return tc;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    free(tc);
    return NULL;
}

void mb_tls_context_destroy(struct mb_tls_context *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ctx);
    free(ctx);
}

/* ---- the engine ---- */

struct mb_tls_conn *mb_tls_conn_create(struct mb_tls_context *ctx)
{
    if (!ctx || !bio_method)
        return NULL;
    struct mb_tls_conn *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    mb_buf_init(&t->out, TLS_OUT_MAX);
    t->ssl = SSL_new(ctx->ctx);
    BIO *b = t->ssl ? BIO_new(bio_method) : NULL;
    if (!b) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b); /* one reference, used both ways */
    SSL_set_accept_state(t->ssl);
    return t;
}

void mb_tls_conn_destroy(struct mb_tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* also frees the BIO */
    mb_buf_dispose(&t->out);
    free(t->identity);
    free(t->san);
    free(t);
}

void mb_tls_conn_feed(struct mb_tls_conn *t, const char *data, size_t len)
{
    t->in = data;
    t->in_len = data ? len : 0;
}

/* Copies an identity string, or returns NULL when it must not be used: empty, too long, an
 * embedded NUL (a "CN=good\0.evil" trick). Control bytes (and, for IA5 strings, any byte
 * above 0x7e) become '?', so the result is safe to log and to use as a key. */
static char *identity_dup(const unsigned char *s, size_t n, bool ascii_only)
{
    if (!s || n == 0 || n > MB_TLS_IDENTITY_MAX || memchr(s, 0, n))
        return NULL;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        d[i] = (ch < 0x20 || ch == 0x7f || (ascii_only && ch > 0x7e)) ? '?' : (char)ch;
    }
    d[n] = 0;
    return d;
}

/* The subject CN; NULL when absent, ambiguous (more than one CN) or unusable. */
static char *cert_cn(X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
        return NULL;
    ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = data ? ASN1_STRING_to_UTF8(&utf8, data) : -1;
    char *r = n > 0 ? identity_dup(utf8, (size_t)n, false) : NULL;
    OPENSSL_free(utf8);
    return r;
}

/* The first URI, DNS or email subjectAltName; NULL when none. */
static char *cert_san(X509 *cert)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    char *r = NULL;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !r; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_IA5STRING *s = NULL;
        if (g->type == GEN_URI)
            s = g->d.uniformResourceIdentifier;
        else if (g->type == GEN_DNS)
            s = g->d.dNSName;
        else if (g->type == GEN_EMAIL)
            s = g->d.rfc822Name;
        else
            continue;
        if (s)
            r = identity_dup(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), true);
        if (!r)
            break; /* the first name of these types is the one: a bad one is not skipped */
    }
    GENERAL_NAMES_free(gens);
    return r;
}

static void on_handshake_done(struct mb_tls_conn *t)
{
    t->done = true;
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    if (!peer || SSL_get_verify_result(t->ssl) != X509_V_OK)
        return;
    char *cn = cert_cn(peer);
    t->san = cert_san(peer);
    t->identity = cn ? cn : (t->san ? strdup(t->san) : NULL);
}

static void conn_fail(struct mb_tls_conn *t, int ssl_error)
{
    t->failed = true;
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK)
        t->error = X509_verify_cert_error_string(vr);
    else if (ssl_error == SSL_ERROR_SYSCALL)
        t->error = "unexpected end of input";
    else
        t->error = ssl_reason();
    ERR_clear_error();
}

ssize_t mb_tls_conn_read(struct mb_tls_conn *t, char *buf, size_t cap)
{
    if (t->failed)
        return MB_TLS_ERROR;
    if (t->closed)
        return MB_TLS_CLOSED;
    /* WANT_READ comes from the BIO finding no input; should it ever come with input left
     * (a record that produced nothing), try again a few times before calling it broken. */
    for (int tries = 0;; tries++) {
        int r, e;
        size_t n = 0;
        ERR_clear_error();
        if (!t->done) {
            r = SSL_do_handshake(t->ssl);
            if (r == 1) {
                on_handshake_done(t);
                continue;
            }
        } else {
            r = SSL_read_ex(t->ssl, buf, cap, &n);
            if (r == 1)
                return (ssize_t)n;
        }
        e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ && !t->in_len)
            return MB_TLS_WANT_INPUT;
        if (e == SSL_ERROR_WANT_READ && tries < 8)
            continue;
        if (e == SSL_ERROR_ZERO_RETURN) {
            t->closed = true;
            ERR_clear_error();
            return MB_TLS_CLOSED;
        }
        conn_fail(t, e);
        return MB_TLS_ERROR;
    }
}

int mb_tls_conn_write(struct mb_tls_conn *t, const char *data, size_t len)
{
    if (!t->done || t->failed || t->shut)
        return MB_TLS_ERROR;
    if (!len)
        return 0;
    /* One allocation for the whole output when possible; growth by append still works. */
    size_t records = len / 16384 + 1;
    if (records <= (TLS_OUT_MAX - len) / RECORD_OVERHEAD)
        (void)mb_buf_reserve(&t->out, len + records * RECORD_OVERHEAD);
    ERR_clear_error();
    size_t written = 0;
    if (SSL_write_ex(t->ssl, data, len, &written) != 1 || written != len) {
        conn_fail(t, SSL_get_error(t->ssl, 0));
        return MB_TLS_ERROR;
    }
    return 0;
}

int mb_tls_conn_shutdown(struct mb_tls_conn *t)
{
    if (!t->done || t->failed)
        return MB_TLS_ERROR;
    if (t->shut)
        return 0;
    t->shut = true;
    ERR_clear_error();
    int r = SSL_shutdown(t->ssl);
    ERR_clear_error();
    return r >= 0 ? 0 : MB_TLS_ERROR;
}

size_t mb_tls_conn_output_len(const struct mb_tls_conn *t)
{
    return t->out.len;
}

char *mb_tls_conn_take_output(struct mb_tls_conn *t, size_t *len)
{
    *len = 0;
    if (!t->out.len)
        return NULL;
    size_t n = t->out.len;
    char *d = mb_buf_steal(&t->out);
    if (d)
        *len = n;
    return d;
}

bool mb_tls_conn_handshake_done(const struct mb_tls_conn *t)
{
    return t && t->done;
}

bool mb_tls_conn_resumed(const struct mb_tls_conn *t)
{
    return t && t->done && SSL_session_reused(t->ssl) == 1;
}

const char *mb_tls_conn_version(const struct mb_tls_conn *t)
{
    return t && t->done ? SSL_get_version(t->ssl) : "";
}

const char *mb_tls_conn_error(const struct mb_tls_conn *t)
{
    return t ? t->error : NULL;
}

static int copy_out(const char *s, char *buf, size_t len)
{
    if (!s || !buf)
        return -1;
    if (len)
        snprintf(buf, len, "%s", s);
    return (int)strlen(s);
}

int mb_tls_peer_identity(const struct mb_tls_conn *t, char *buf, size_t len)
{
    return t ? copy_out(t->identity, buf, len) : -1;
}

int mb_tls_peer_san(const struct mb_tls_conn *t, char *buf, size_t len)
{
    return t ? copy_out(t->san, buf, len) : -1;
}

const char *mb_tls_conn_identity(const struct mb_tls_conn *t)
{
    return t ? t->identity : NULL;
}
