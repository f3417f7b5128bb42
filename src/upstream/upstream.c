/* Implementation of upstream.h: libcurl's multi-socket API driven from one libuv loop.
 * curl creates and closes its sockets through us (on_open_socket, on_close_socket), so each
 * socket has one record in an fd-indexed table and one uv_poll_t for its whole life: curl says
 * which events to watch (on_curl_socket); when a transfer ends and the connection goes idle in
 * curl's pool, the poll is parked (left registered for reading, no syscall) instead of being
 * torn down and rebuilt for the next call. Timeouts come through on_curl_timer -> one uv_timer_t.
 * Every wake-up goes through drive(), which runs curl_multi_socket_action, then finishes what
 * had to wait until curl returned (cancels asked for from inside curl callbacks, calls started
 * from them, a destroy), then reads the completed transfers and runs their done callbacks,
 * outside any curl callback. Calls and their easy handles are recycled through a bounded free
 * list; connections stay in the multi's cache. Every easy handle is attached to one CURLSH that
 * holds the TLS session cache and the DNS cache (the worker is single-threaded, so it needs no
 * lock callbacks); complete() reads curl's connection and timing counters into the stats. */
#include "upstream/upstream.h"

#include "common/buf.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define UP_DEFAULT_MAX_CONNECTIONS 100u
#define UP_DEFAULT_MAX_KEEPALIVE 20u
#define UP_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define UP_DEFAULT_MAX_RESPONSE (1024u * 1024u)
#define UP_ERRMSG_MAX 160

enum call_state {
    CALL_FREE,      /* on the free list, easy handle kept for reuse */
    CALL_PENDING,   /* started from inside a curl callback, not yet added to the multi */
    CALL_ACTIVE,    /* in the multi */
    CALL_DONE,      /* on no list: its done callback is running */
};

struct mb_upstream_call {
    struct mb_upstream *up;
    CURL *easy;
    enum call_state state;
    struct mb_upstream_call *prev, *next;  /* pending, active or free list */
    struct curl_slist *headers;
    struct mb_buf body;
    size_t content_length;      /* from the header, or SIZE_MAX */
    long header_status;         /* status of the last status line seen */
    bool fresh;                 /* STARTED not reported yet */
    bool headers_done;          /* HEADERS reported */
    bool encoded;               /* Content-Encoding other than identity */
    bool cancelled;             /* removal deferred until curl returns */
    bool completing;            /* its done callback is running */
    bool too_big;
    bool no_memory;
    bool stopped;               /* the body hook asked to stop */
    bool sensitive;             /* wipe the headers, the request and the response when done */
    bool tls_checked;           /* the TLS state was looked at (first status line) */
    bool tls_resumed;           /* the connection's TLS session was resumed */
    char *req_body;             /* our copy of a sensitive request body (curl does not copy it) */
    size_t req_body_len;
    size_t received;            /* body bytes received */
    mb_upstream_body_cb on_body;
    void *body_data;
    mb_upstream_done_cb done_cb;
    mb_upstream_progress_cb progress_cb;
    void *data;
    char errmsg[UP_ERRMSG_MAX];
};

struct up_list {
    struct mb_upstream_call *head;
    struct mb_upstream_call *tail;
    unsigned count;
};

/* One socket curl uses. A tracked one (opened by on_open_socket, in the fd table) lives until
 * on_close_socket, and so does its poll handle; an untracked one lives while curl watches it. */
struct up_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct mb_upstream *up;
    int events;                 /* mask registered with libuv; 0 = poll stopped */
    bool poll_ready;            /* poll initialised (then released with uv_close) */
    bool tracked;               /* in up->by_fd */
    bool parked;                /* idle in curl's pool: events are not curl's business */
    struct up_sock *prev, *next;
};

struct mb_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    uv_timer_t kick;            /* starts pending calls after a cancel freed a slot */
    struct mb_upstream_options opts;  /* TLS strings point to our own copies */
    CURLSH *share;              /* TLS sessions and DNS, shared by every easy handle */
    struct up_list active;
    struct up_list pending;
    struct up_list free_calls;
    struct up_sock *socks;      /* every up_sock, tracked or not */
    struct up_sock **by_fd;     /* fd -> tracked up_sock; the source of truth for our sockets */
    size_t by_fd_cap;
    unsigned tracked;           /* entries in by_fd */
    unsigned untracked;         /* records in socks that are not in by_fd */
    long maxconnects;           /* CURLMOPT_MAXCONNECTS as last set (see tune_pool) */
    struct mb_upstream_stats stats;
    unsigned in_flight;         /* active or pending, not cancelled */
    unsigned deferred_cancels;  /* cancelled calls still in the multi */
    unsigned fresh;             /* calls whose STARTED is due */
    unsigned in_curl;           /* > 0 while curl (or a callback run from it) is on the stack */
    unsigned depth;             /* > 0 while drive() is on the stack */
    unsigned pending_closes;
    bool destroy_requested;
    bool destroyed;
};

static void list_push(struct up_list *l, struct mb_upstream_call *c)
{
    c->prev = NULL;
    c->next = l->head;
    if (l->head)
        l->head->prev = c;
    else
        l->tail = c;
    l->head = c;
    l->count++;
}

/* Adds at the end (the pending list is first in, first out). */
static void list_append(struct up_list *l, struct mb_upstream_call *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->count++;
}

static void list_unlink(struct up_list *l, struct mb_upstream_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->count--;
}

/* Releases what one call carried: headers, request copy, response body; wiped first when the
 * call was marked sensitive. */
static void call_release_data(struct mb_upstream_call *c)
{
    if (c->sensitive) {
        for (struct curl_slist *h = c->headers; h; h = h->next)
            OPENSSL_cleanse(h->data, strlen(h->data));
        if (c->body.data)
            OPENSSL_cleanse(c->body.data, c->body.cap);
        if (c->req_body)
            OPENSSL_cleanse(c->req_body, c->req_body_len);
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    mb_buf_dispose(&c->body);
    free(c->req_body);
    c->req_body = NULL;
    c->req_body_len = 0;
    c->sensitive = false;
}

static void call_free(struct mb_upstream_call *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    call_release_data(c);
    free(c);
}

/* Takes the call out of whichever list it is on (and out of the multi) and keeps it, with its
 * easy handle, for reuse; beyond max_keepalive idle calls it is freed. Never called while curl
 * is on the stack for an active call. */
static void call_recycle(struct mb_upstream_call *c)
{
    struct mb_upstream *up = c->up;
    if (c->state == CALL_ACTIVE) {
        curl_multi_remove_handle(up->multi, c->easy);
        list_unlink(&up->active, c);
    } else if (c->state == CALL_PENDING) {
        list_unlink(&up->pending, c);
    }
    if (c->fresh)
        up->fresh--;
    call_release_data(c);
    c->done_cb = NULL;
    c->progress_cb = NULL;
    c->data = NULL;
    c->state = CALL_FREE;
    if (up->destroyed || up->destroy_requested || up->free_calls.count >= up->opts.max_keepalive) {
        call_free(c);
        return;
    }
    list_push(&up->free_calls, c);
}

/* --- errors ------------------------------------------------------------------------------ */

static enum mb_upstream_error map_curl_error(CURLcode res)
{
    switch (res) {
    case CURLE_OK:
        return MB_UPSTREAM_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return MB_UPSTREAM_ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_SSL_CLIENTCERT:
        return MB_UPSTREAM_ECONNECT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return MB_UPSTREAM_EINVAL;
    default:
        return MB_UPSTREAM_EINTERNAL;
    }
}

/* --- curl data callbacks (curl is on the stack: no multi calls here) --------------------- */

static void report_headers(struct mb_upstream_call *c)
{
    if (c->headers_done)
        return;
    c->headers_done = true;
    if (c->progress_cb)
        c->progress_cb(c->data, MB_UPSTREAM_PHASE_HEADERS, 0, c->encoded ? SIZE_MAX : c->content_length);
}

static bool header_is(const char *line, size_t len, const char *name, const char **value, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}

static size_t on_curl_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct mb_upstream_call *c = userdata;
    size_t len = size * nmemb;
    const char *v;
    size_t vlen;
    if (c->cancelled)
        return 0;
    if (c->headers_done)
        return len;  /* trailers */
    if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        if (!c->tls_checked) {
            /* The connection is attached only while the transfer runs: look at its TLS state
             * now (complete() keeps it only when this call opened the connection). */
            struct curl_tlssessioninfo *ti = NULL;
            c->tls_checked = true;
            if (curl_easy_getinfo(c->easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
                ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals)
                c->tls_resumed = SSL_session_reused((SSL *)ti->internals) == 1;
        }
        /* A new response (after a 1xx): forget what the previous one said. */
        const char *sp = memchr(ptr, ' ', len);
        c->header_status = 0;
        if (sp && (size_t)(ptr + len - sp) > 3) {
            long st = 0;
            for (int i = 1; i <= 3 && sp[i] >= '0' && sp[i] <= '9'; i++)
                st = st * 10 + (sp[i] - '0');
            c->header_status = st;
        }
        c->content_length = SIZE_MAX;
        c->encoded = false;
    } else if (header_is(ptr, len, "Content-Length", &v, &vlen)) {
        size_t n = 0;
        bool ok = vlen > 0 && vlen <= 19;
        for (size_t i = 0; ok && i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                ok = false;
            else
                n = n * 10 + (size_t)(v[i] - '0');
        }
        c->content_length = ok ? n : SIZE_MAX;
    } else if (header_is(ptr, len, "Content-Encoding", &v, &vlen)) {
        c->encoded = !(vlen == 8 && strncasecmp(v, "identity", 8) == 0) && vlen > 0;
    } else if ((len == 2 && ptr[0] == '\r' && ptr[1] == '\n') || (len == 1 && ptr[0] == '\n')) {
        if (c->header_status >= 200 || c->header_status == 0)
            report_headers(c);
    }
    return c->cancelled ? 0 : len;
}

/* mb_buf_append for secrets: growing moves the bytes to a new block and wipes the old one, so
 * no copy is left behind in freed memory. */
static int sensitive_append(struct mb_buf *b, const char *p, size_t n)
{
    if (n > b->max - b->len)
        return -E2BIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *d = malloc(cap);
        if (!d)
            return -ENOMEM;
        if (b->data) {
            memcpy(d, b->data, b->len);
            OPENSSL_cleanse(b->data, b->cap);
            free(b->data);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct mb_upstream_call *c = userdata;
    size_t len = size * nmemb;
    size_t rc = 0;
    if (c->cancelled)
        goto done;
    report_headers(c);
    if (c->cancelled)
        goto done;
    c->received += len;
    if (c->on_body) {
        if (c->on_body(c->body_data, ptr, len) != 0) {
            c->stopped = true;
            goto done;
        }
    } else {
        int err = c->sensitive ? sensitive_append(&c->body, ptr, len) : mb_buf_append(&c->body, ptr, len);
        if (err) {
            if (err == -E2BIG)
                c->too_big = true;
            else
                c->no_memory = true;
            goto done;  /* returning less than len aborts the transfer at once */
        }
    }
    if (c->cancelled)
        goto done;
    if (c->progress_cb)
        c->progress_cb(c->data, MB_UPSTREAM_PHASE_BODY, c->received,
                       c->encoded ? SIZE_MAX : c->content_length);
    if (!c->cancelled)
        rc = len;
done:
    return rc;
}

/* --- completion ---------------------------------------------------------------------------- */

static uint64_t span_us(curl_off_t from, curl_off_t to)
{
    return to > from ? (uint64_t)(to - from) : 0;
}

/* curl's times are cumulative from the start of the call; we report each phase alone. On a
 * pooled connection curl still stamps the connect phases (close to zero): they are left at 0. */
static void read_timing(struct mb_upstream_call *c, struct mb_upstream_timing *t)
{
    curl_off_t dns = 0, conn = 0, app = 0, pre = 0, start = 0, total = 0;
    long connects = 0;
    curl_easy_getinfo(c->easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &conn);
    curl_easy_getinfo(c->easy, CURLINFO_APPCONNECT_TIME_T, &app);
    curl_easy_getinfo(c->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(c->easy, CURLINFO_STARTTRANSFER_TIME_T, &start);
    curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
    memset(t, 0, sizeof *t);
    t->total_us = total > 0 ? (uint64_t)total : 0;
    t->first_byte_us = start > 0 ? span_us(pre, start) : 0;
    if (connects <= 0)
        return;
    t->new_connection = true;
    t->dns_us = dns > 0 ? (uint64_t)dns : 0;
    t->connect_us = span_us(dns, conn);
    if (app > 0) {
        t->tls_handshake = true;
        t->tls_us = span_us(conn, app);
        t->tls_resumed = c->tls_resumed;
    }
}

static void complete(struct mb_upstream_call *c, CURLcode res)
{
    struct mb_upstream *up = c->up;
    struct mb_upstream_response resp;
    memset(&resp, 0, sizeof resp);
    resp.error = map_curl_error(res);
    resp.content_length = c->content_length;
    c->errmsg[0] = '\0';
    if (res != CURLE_OK) {
        if (c->stopped) {
            resp.error = MB_UPSTREAM_ESTOPPED;
            snprintf(c->errmsg, sizeof c->errmsg, "stopped by the caller");
        } else if (c->too_big) {
            resp.error = MB_UPSTREAM_ETOOBIG;
            snprintf(c->errmsg, sizeof c->errmsg, "response exceeded %zu bytes", c->body.max);
        } else if (c->no_memory) {
            resp.error = MB_UPSTREAM_EINTERNAL;
            snprintf(c->errmsg, sizeof c->errmsg, "out of memory while reading the response");
        } else if (res == CURLE_OPERATION_TIMEDOUT) {
            snprintf(c->errmsg, sizeof c->errmsg, "%s (%s)", curl_easy_strerror(res),
                     c->header_status ? "while reading the response" : "before the response");
        } else {
            const char *ctx = resp.error == MB_UPSTREAM_ECONNECT ? "upstream connection failed"
                              : resp.error == MB_UPSTREAM_EINVAL ? "invalid upstream request"
                                                                 : "upstream call failed";
            snprintf(c->errmsg, sizeof c->errmsg, "%s: %s", ctx, curl_easy_strerror(res));
        }
        resp.error_message = c->errmsg;
    }
    long status = 0;
    char *ctype = NULL;
    curl_off_t total_us = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ctype);
    curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    resp.status = status;
    resp.content_type = ctype;
    resp.total_seconds = (double)total_us / 1e6;
    read_timing(c, &resp.timing);
    if (resp.timing.new_connection)
        up->stats.connections_new++;
    else if (status > 0)
        up->stats.connections_reused++;
    if (resp.timing.tls_handshake)
        up->stats.tls_handshakes++;
    if (resp.timing.tls_resumed)
        up->stats.tls_resumed++;
    resp.body = c->body.data ? c->body.data : "";
    resp.body_len = c->body.len;

    /* Out of the multi before the callback, so the callback may start, cancel or destroy. */
    curl_multi_remove_handle(up->multi, c->easy);
    list_unlink(&up->active, c);
    c->state = CALL_DONE;
    up->in_flight--;
    c->completing = true;
    if (c->done_cb)
        c->done_cb(c->data, &resp);
    c->completing = false;
    call_recycle(c);
}

/* --- driving curl ---------------------------------------------------------------------------- */

static void do_destroy(struct mb_upstream *up);

static int add_to_multi(struct mb_upstream_call *c)
{
    struct mb_upstream *up = c->up;
    if (curl_multi_add_handle(up->multi, c->easy) != CURLM_OK)
        return -EIO;
    c->state = CALL_ACTIVE;
    list_push(&up->active, c);
    return 0;
}

/* True when max_connections transfers are in the multi: more calls wait in our pending list
 * (first in, first out) instead of curl's, whose per-event work grows with its queue (at
 * 10,000 queued transfers curl_multi_remove_handle alone took a third of the worker). */
static bool multi_full(const struct mb_upstream *up)
{
    return up->opts.max_connections && up->active.count >= up->opts.max_connections;
}

/* curl closes a connection as soon as its cache holds more than MAXCONNECTS, idle or not. While
 * calls wait or more than max_keepalive transfers run, every connection is about to be reused:
 * allow up to max_connections so that none is closed and reopened per call (at 1,000 client
 * connections that churn was most of the work). When the demand falls back, the idle pool
 * shrinks to max_keepalive again (curl trims as connections are returned). */
static void tune_pool(struct mb_upstream *up)
{
    long want = (long)up->opts.max_keepalive;
    if (up->pending.count || up->active.count > up->opts.max_keepalive)
        want = (long)(up->opts.max_connections > up->opts.max_keepalive ? up->opts.max_connections
                                                                        : up->opts.max_keepalive);
    if (want != up->maxconnects && curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, want) == CURLM_OK)
        up->maxconnects = want;
}

/* Runs everything that had to wait for curl to return. */
static void settle(struct mb_upstream *up)
{
    if (up->deferred_cancels) {
        struct mb_upstream_call *c = up->active.head;
        while (c) {
            struct mb_upstream_call *next = c->next;
            if (c->cancelled)
                call_recycle(c);
            c = next;
        }
        up->deferred_cancels = 0;
    }
    while (!up->destroy_requested && up->pending.head && !multi_full(up)) {
        struct mb_upstream_call *c = up->pending.head;
        list_unlink(&up->pending, c);
        c->state = CALL_FREE;
        if (add_to_multi(c) != 0) {
            /* The caller already holds the handle, so it learns through its callback. */
            struct mb_upstream_response resp;
            memset(&resp, 0, sizeof resp);
            resp.error = MB_UPSTREAM_EINTERNAL;
            resp.error_message = "curl refused the transfer";
            resp.body = "";
            resp.content_length = SIZE_MAX;
            up->in_flight--;
            c->state = CALL_DONE;
            c->completing = true;
            if (c->done_cb)
                c->done_cb(c->data, &resp);
            c->completing = false;
            call_recycle(c);
        }
    }
    if (!up->destroy_requested && up->multi)
        tune_pool(up);
}

static void drive(struct mb_upstream *up, curl_socket_t fd, int flags)
{
    int running = 0;
    up->depth++;
    if (up->fresh) {
        up->in_curl++;  /* cancels and starts from STARTED callbacks are deferred */
        for (struct mb_upstream_call *c = up->active.head; c && up->fresh; c = c->next) {
            if (!c->fresh)
                continue;
            c->fresh = false;
            up->fresh--;
            if (c->progress_cb && !c->cancelled)
                c->progress_cb(c->data, MB_UPSTREAM_PHASE_STARTED, 0, SIZE_MAX);
        }
        up->in_curl--;
        settle(up);
    }
    if (!up->destroy_requested) {
        up->in_curl++;
        curl_multi_socket_action(up->multi, fd, flags, &running);
        up->in_curl--;
        settle(up);
    }
    CURLMsg *msg;
    int left;
    while (!up->destroy_requested && (msg = curl_multi_info_read(up->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode res = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        struct mb_upstream_call *c = (struct mb_upstream_call *)priv;
        if (!c || c->state != CALL_ACTIVE)
            continue;
        if (c->cancelled) {
            call_recycle(c);
            continue;
        }
        complete(c, res);
    }
    if (!up->destroy_requested)
        settle(up);
    up->depth--;
    if (up->depth == 0 && up->destroy_requested && !up->destroyed)
        do_destroy(up);
}

/* Starts pending calls after a cancel freed a slot outside drive(). */
static void on_kick(uv_timer_t *t)
{
    struct mb_upstream *up = t->data;
    if (!up->destroy_requested && !up->in_curl) {
        up->depth++;
        settle(up);
        up->depth--;
        drive(up, CURL_SOCKET_TIMEOUT, 0);  /* let curl begin the transfers it was just given */
    }
}

static void on_timer(uv_timer_t *t)
{
    struct mb_upstream *up = t->data;
    drive(up, CURL_SOCKET_TIMEOUT, 0);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct up_sock *s = p->data;
    struct mb_upstream *up = s->up;
    int flags = 0;
    if (s->parked) {
        /* An idle pooled connection woke up: the server closed it, or sent bytes it should not
         * have. curl is not watching it, so it is not told; it finds the connection dead when it
         * next looks (the liveness check before reuse, or its cache pruning) and closes it
         * through on_close_socket. We only stop watching (one epoll DEL), since the readiness
         * is level-triggered and would wake the loop on every iteration. */
        s->parked = false;
        s->events = 0;
        uv_poll_stop(&s->poll);
        up->stats.parked_wakeups++;
        return;
    }
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    drive(up, s->fd, flags);  /* s may be closed by now; its memory lives until on_close */
}

static void on_handle_closed(uv_handle_t *h)
{
    struct mb_upstream *up;
    if (h->type == UV_POLL) {
        struct up_sock *s = h->data;
        up = s->up;
        free(s);
    } else {
        up = h->data;
    }
    up->pending_closes--;
    if (up->destroyed && up->pending_closes == 0)
        free(up);
}

static struct up_sock *sock_lookup(const struct mb_upstream *up, curl_socket_t fd)
{
    if (fd < 0 || (size_t)fd >= up->by_fd_cap)
        return NULL;
    return up->by_fd[fd];
}

static struct up_sock *sock_new(struct mb_upstream *up, curl_socket_t fd)
{
    struct up_sock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    s->up = up;
    s->poll.data = s;
    s->next = up->socks;
    if (up->socks)
        up->socks->prev = s;
    up->socks = s;
    up->untracked++;  /* until sock_track */
    return s;
}

/* Forgets the record and releases its poll handle; never touches the fd itself. uv_poll_stop
 * takes the fd out of epoll synchronously, so the fd may be closed as soon as this returns. */
static void sock_close(struct mb_upstream *up, struct up_sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        up->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->tracked) {
        up->by_fd[s->fd] = NULL;
        up->tracked--;
    } else {
        up->untracked--;
    }
    if (!s->poll_ready) {
        free(s);
        return;
    }
    if (s->events)
        uv_poll_stop(&s->poll);
    up->pending_closes++;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static int sock_track(struct mb_upstream *up, struct up_sock *s)
{
    size_t fd = (size_t)s->fd;
    if (fd >= up->by_fd_cap) {
        size_t cap = up->by_fd_cap ? up->by_fd_cap : 64;
        while (cap <= fd)
            cap *= 2;
        struct up_sock **t = realloc(up->by_fd, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        memset(t + up->by_fd_cap, 0, (cap - up->by_fd_cap) * sizeof *t);
        up->by_fd = t;
        up->by_fd_cap = cap;
    }
    up->by_fd[fd] = s;
    s->tracked = true;
    up->untracked--;
    up->tracked++;
    return 0;
}

/* Registers the mask with libuv only when it changes: in libuv 1.44 every uv_poll_start is an
 * epoll DEL (synchronous) plus an ADD (next loop iteration), even for the same mask. */
static int sock_watch(struct mb_upstream *up, struct up_sock *s, int events)
{
    if (!s->poll_ready) {
        if (uv_poll_init_socket(up->loop, &s->poll, s->fd) != 0) {
            mb_warn("upstream", "cannot watch socket %d", (int)s->fd);
            return -1;
        }
        s->poll_ready = true;
        up->stats.polls_created++;
    }
    if (s->events == events)
        return 0;
    if (uv_poll_start(&s->poll, events, on_poll) != 0) {
        uv_poll_stop(&s->poll);
        s->events = 0;
        return -1;
    }
    s->events = events;
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: the socket curl would have made, recorded in the fd table so that
 * its poll handle can outlive single transfers (on_curl_socket parks it between them). */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct mb_upstream *up = clientp;
    curl_socket_t fd = socket(addr->family, addr->socktype, addr->protocol);
    if (fd == CURL_SOCKET_BAD)
        return CURL_SOCKET_BAD;
    up->stats.sockets_opened++;
    if (up->destroyed || purpose != CURLSOCKTYPE_IPCXN)
        return fd;  /* untracked: on_curl_socket falls back to a per-transfer poll */
    /* A record already holding this number is stale: curl closed that socket without our
     * callback (a connect attempt it abandons before publishing it, its resolver's socketpair)
     * and the kernel reused the number. Release it. If curl was still watching the old socket,
     * its socket hash keeps that entry and action for the number and may never repeat the
     * mask, so the new socket inherits it (registered anew: epoll dropped the closed file). */
    struct up_sock *old = sock_lookup(up, fd);
    /* Untracked records are rare (sockets curl made without on_open_socket): walk the list
     * only when there is one, not on every new connection. */
    for (struct up_sock *l = up->untracked ? up->socks : NULL; !old && l; l = l->next)
        if (!l->tracked && l->fd == fd)
            old = l;
    int carry = 0;
    if (old) {
        carry = old->parked ? 0 : old->events;
        if (!old->tracked)
            curl_multi_assign(up->multi, fd, NULL);  /* it was curl's socketp */
        sock_close(up, old);
    }
    struct up_sock *s = sock_new(up, fd);
    if (s && sock_track(up, s) != 0) {
        sock_close(up, s);
        s = NULL;
    }
    if (s && carry)
        sock_watch(up, s, carry);
    return fd;  /* without a record when out of memory: still usable, untracked */
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl calls the one of the easy handle that opened the connection
 * (conn->fclosesocket), also when the pool closes it much later or from curl_multi_cleanup, so
 * clientp is always the client (which outlives its multi). The poll leaves epoll first, then
 * the fd is closed: libuv aborts if epoll_ctl meets a closed fd. */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    struct mb_upstream *up = clientp;
    struct up_sock *s = sock_lookup(up, fd);
    if (s)
        sock_close(up, s);
    up->stats.sockets_closed++;
    return close(fd);
}

/* CURLMOPT_SOCKETFUNCTION. A socket from on_open_socket is found in the fd table; its poll
 * handle lives as long as the socket. Any other socket gets the previous treatment: a poll
 * handle attached with curl_multi_assign for as long as curl watches it, so an fd number that
 * curl closed and reopened always starts with a fresh poll handle. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct mb_upstream *up = userp;
    struct up_sock *s = sock_lookup(up, fd);
    struct up_sock *loose = socketp;
    int rc = -1;
    if (s && loose) {
        /* A per-transfer poll left on curl's entry for an fd number that is now a tracked
         * socket (its old socket was closed behind our back): drop it. */
        if (!up->destroyed)
            curl_multi_assign(up->multi, fd, NULL);
        sock_close(up, loose);
        loose = NULL;
    }
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (s->events == UV_READABLE) {
                /* The transfer is over and the connection goes idle in curl's pool: keep the
                 * poll registered as it is (no syscall), and only note that events are no
                 * longer curl's business (on_poll). */
                s->parked = true;
            } else if (s->events) {
                /* Watched for writing: a connect curl gives up (it may close that socket
                 * without our callback) or a send cut short. Drop the record rather than
                 * leave a poll on an fd we cannot vouch for; if curl uses the socket again it
                 * falls back to a per-transfer poll. */
                sock_close(up, s);
            }
        } else if (loose) {
            if (!up->destroyed)
                curl_multi_assign(up->multi, fd, NULL);
            sock_close(up, loose);
        }
        rc = 0;
        goto done;
    }
    if (up->destroyed)
        goto done;
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (s) {
        s->parked = false;
        rc = sock_watch(up, s, events);
        goto done;
    }
    if (!loose) {
        loose = sock_new(up, fd);
        if (!loose)
            goto done;
        curl_multi_assign(up->multi, fd, loose);
    }
    if (sock_watch(up, loose, events) != 0)
        goto done;
    rc = 0;
done:
    return rc;
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 fires it on the next loop iteration. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct mb_upstream *up = userp;
    if (up->destroyed)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&up->timer);
    else
        uv_timer_start(&up->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* --- TLS options ----------------------------------------------------------------------------- */

static int copy_tls_string(const char *in, const char **out)
{
    *out = NULL;
    if (!in)
        return 0;
    char *d = strdup(in);
    if (!d)
        return -ENOMEM;
    *out = d;
    return 0;
}

/* up->opts already holds the caller's pointers: replace them with our own copies. */
static int copy_tls_options(struct mb_upstream *up, const struct mb_upstream_options *opts)
{
    up->opts.tls_ca_file = up->opts.tls_cert_file = NULL;
    up->opts.tls_key_file = up->opts.tls_key_password = NULL;
    if (!opts)
        return 0;
    if (copy_tls_string(opts->tls_ca_file, &up->opts.tls_ca_file) != 0 ||
        copy_tls_string(opts->tls_cert_file, &up->opts.tls_cert_file) != 0 ||
        copy_tls_string(opts->tls_key_file, &up->opts.tls_key_file) != 0 ||
        copy_tls_string(opts->tls_key_password, &up->opts.tls_key_password) != 0)
        return -ENOMEM;
    return 0;
}

static void free_tls_options(struct mb_upstream *up)
{
    if (up->opts.tls_key_password)
        OPENSSL_cleanse((char *)up->opts.tls_key_password, strlen(up->opts.tls_key_password));
    free((char *)up->opts.tls_ca_file);
    free((char *)up->opts.tls_cert_file);
    free((char *)up->opts.tls_key_file);
    free((char *)up->opts.tls_key_password);
    up->opts.tls_ca_file = up->opts.tls_cert_file = NULL;
    up->opts.tls_key_file = up->opts.tls_key_password = NULL;
}

/* --- public API ------------------------------------------------------------------------------ */

struct mb_upstream *mb_upstream_create(uv_loop_t *loop, const struct mb_upstream_options *opts)
{
    struct mb_upstream *up = NULL;
    if (!loop)
        goto fail;
    up = calloc(1, sizeof *up);
    if (!up)
        goto fail;
    up->loop = loop;
    if (opts)
        up->opts = *opts;
    if (!up->opts.max_connections)
        up->opts.max_connections = UP_DEFAULT_MAX_CONNECTIONS;
    if (!up->opts.max_keepalive)
        up->opts.max_keepalive = UP_DEFAULT_MAX_KEEPALIVE;
    if (!up->opts.connect_timeout_ms)
        up->opts.connect_timeout_ms = UP_DEFAULT_CONNECT_TIMEOUT_MS;
    if (copy_tls_options(up, opts) != 0)
        goto fail;
    up->share = curl_share_init();
    if (!up->share ||
        curl_share_setopt(up->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(up->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        goto fail;
    up->multi = curl_multi_init();
    if (!up->multi)
        goto fail;
    if (uv_timer_init(loop, &up->timer) != 0)
        goto fail;
    up->timer.data = up;
    if (uv_timer_init(loop, &up->kick) != 0) {
        /* timer is initialised: close it through the normal path */
        up->pending_closes++;
        uv_close((uv_handle_t *)&up->timer, on_handle_closed);
        up->destroyed = true;
        curl_multi_cleanup(up->multi);
        curl_share_cleanup(up->share);
        free_tls_options(up);
        return NULL;  /* freed by on_handle_closed */
    }
    up->kick.data = up;
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)up->opts.max_connections);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)up->opts.max_keepalive);
    up->maxconnects = (long)up->opts.max_keepalive;
    return up;
fail:
    if (up) {
        if (up->multi)
            curl_multi_cleanup(up->multi);
        if (up->share)
            curl_share_cleanup(up->share);
        free_tls_options(up);
        free(up);
    }
    return NULL;
}

static struct mb_upstream_call *call_get(struct mb_upstream *up)
{
    struct mb_upstream_call *c = up->free_calls.head;
    if (c) {
        list_unlink(&up->free_calls, c);
        curl_easy_reset(c->easy);
    } else {
        c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->up = up;
        c->easy = curl_easy_init();
        if (!c->easy) {
            free(c);
            return NULL;
        }
    }
    c->state = CALL_FREE;
    c->headers = NULL;
    mb_buf_init(&c->body, UP_DEFAULT_MAX_RESPONSE);
    c->content_length = SIZE_MAX;
    c->header_status = 0;
    c->fresh = c->headers_done = c->encoded = false;
    c->cancelled = c->completing = c->too_big = c->no_memory = c->stopped = false;
    c->sensitive = c->tls_checked = c->tls_resumed = false;
    c->req_body = NULL;
    c->req_body_len = 0;
    c->received = 0;
    c->on_body = NULL;
    c->body_data = NULL;
    c->errmsg[0] = '\0';
    return c;
}

static bool line_is_safe(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

static int headers_add(struct mb_upstream_call *c, const char *line)
{
    struct curl_slist *n = curl_slist_append(c->headers, line);
    if (!n)
        return -ENOMEM;
    c->headers = n;
    return 0;
}

/* POST, PUT and PATCH always carry a body (maybe empty); other verbs only when given one. */
static bool sends_body(const struct mb_upstream_request *req)
{
    return req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
           strcmp(req->method, "PATCH") == 0;
}

static int call_configure(struct mb_upstream_call *c, const struct mb_upstream_request *req)
{
    struct mb_upstream *up = c->up;
    CURL *e = c->easy;
    bool has_expect = false, has_ctype = false;
    int rc = -EINVAL;
    if (!req->method || !req->method[0] || !line_is_safe(req->method) || strpbrk(req->method, " \t"))
        goto done;
    if (!req->url || !req->url[0] || !line_is_safe(req->url))
        goto done;
    if (req->body_len && !req->body)
        goto done;
    for (size_t i = 0; i < req->header_count; i++) {
        const char *h = req->headers ? req->headers[i] : NULL;
        if (!line_is_safe(h) || !strchr(h, ':'))
            goto done;
        if (strncasecmp(h, "Expect:", 7) == 0)
            has_expect = true;
        if (strncasecmp(h, "Content-Type:", 13) == 0)
            has_ctype = true;
        if (headers_add(c, h) != 0) {
            rc = -ENOMEM;
            goto done;
        }
    }
    rc = -ENOMEM;
    c->sensitive = req->sensitive;
    bool body = sends_body(req);
    /* No 100-continue round trip, and no form-urlencoded type the caller did not ask for. */
    if (body && !has_expect && headers_add(c, "Expect:") != 0)
        goto done;
    if (body && !has_ctype && headers_add(c, "Content-Type:") != 0)
        goto done;
    mb_buf_init(&c->body, req->max_response_bytes ? req->max_response_bytes : UP_DEFAULT_MAX_RESPONSE);
    bool ok = true;
    ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)c) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
    /* Socket lifetime, so a pooled connection keeps its poll handle between transfers. curl
     * keeps the close callback and its data with the connection, so up must outlive the multi. */
    ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, up) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, up) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
    ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    /* curl_easy_reset keeps the share attached but not its settings: attach it every time. */
    ok &= curl_easy_setopt(e, CURLOPT_SHARE, up->share) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    if (up->opts.tls_ca_file)
        ok &= curl_easy_setopt(e, CURLOPT_CAINFO, up->opts.tls_ca_file) == CURLE_OK;
    if (up->opts.tls_cert_file) {
        ok &= curl_easy_setopt(e, CURLOPT_SSLCERT, up->opts.tls_cert_file) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK;
        if (up->opts.tls_key_file)
            ok &= curl_easy_setopt(e, CURLOPT_SSLKEY, up->opts.tls_key_file) == CURLE_OK;
        if (up->opts.tls_key_password)
            ok &= curl_easy_setopt(e, CURLOPT_KEYPASSWD, up->opts.tls_key_password) == CURLE_OK;
    }
    ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)up->opts.connect_timeout_ms) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms) == CURLE_OK;
    if (up->opts.accept_encoding)
        ok &= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_write) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, c) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_curl_header) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, c) == CURLE_OK;
    if (c->headers)
        ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK;
    if (strcmp(req->method, "HEAD") == 0 && !req->body) {
        ok &= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
    } else if (!body) {
        ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
        if (strcmp(req->method, "GET") != 0)
            ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK;
    } else {
        /* POST semantics carry the body (copied by curl); other verbs ride on CUSTOMREQUEST. */
        ok &= curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) == CURLE_OK;
        if (c->sensitive) {
            /* Our own copy, which we can wipe (curl's COPYPOSTFIELDS copy we could not). */
            c->req_body = malloc(req->body_len + 1);
            if (!c->req_body)
                goto done;
            if (req->body_len)
                memcpy(c->req_body, req->body, req->body_len);
            c->req_body[req->body_len] = '\0';
            c->req_body_len = req->body_len;
            ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->req_body) == CURLE_OK;
        } else {
            ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") == CURLE_OK;
        }
        if (strcmp(req->method, "POST") != 0)
            ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK;
    }
    if (!ok)
        goto done;
    rc = 0;
done:
    return rc;
}

struct mb_upstream_call *mb_upstream_start(struct mb_upstream *up, const struct mb_upstream_request *req,
                                           mb_upstream_done_cb done_cb,
                                           mb_upstream_progress_cb progress_cb, void *data)
{
    struct mb_upstream_call *c = NULL;
    if (!up || !req || up->destroy_requested || up->destroyed)
        goto fail;
    c = call_get(up);
    if (!c)
        goto fail;
    if (call_configure(c, req) != 0)
        goto fail;
    c->done_cb = done_cb;
    c->progress_cb = progress_cb;
    c->data = data;
    c->on_body = req->on_body;
    c->body_data = req->body_data;
    if (up->in_curl || multi_full(up) || up->pending.head) {
        /* curl forbids adding from inside its callbacks, and past max_connections calls wait
         * their turn: settle() adds them, in order, once curl returns and a slot is free. */
        c->state = CALL_PENDING;
        list_append(&up->pending, c);
    } else if (add_to_multi(c) != 0) {
        goto fail;
    }
    c->fresh = true;
    up->fresh++;
    up->in_flight++;
    return c;
fail:
    if (c)
        call_recycle(c);
    return NULL;
}

long mb_upstream_call_status(const struct mb_upstream_call *call)
{
    return call ? call->header_status : 0;
}

const char *mb_upstream_call_content_type(const struct mb_upstream_call *call)
{
    char *ct = NULL;
    if (!call || !call->easy || curl_easy_getinfo(call->easy, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK)
        return NULL;
    return ct;
}

void mb_upstream_cancel(struct mb_upstream_call *call)
{
    if (!call || call->state == CALL_FREE || call->cancelled || call->completing)
        return;
    struct mb_upstream *up = call->up;
    call->cancelled = true;
    call->done_cb = NULL;
    call->progress_cb = NULL;
    up->in_flight--;
    if (call->state == CALL_ACTIVE && up->in_curl) {
        up->deferred_cancels++;  /* settle() removes it once curl has returned */
        return;
    }
    bool freed_slot = call->state == CALL_ACTIVE;
    call_recycle(call);
    /* A waiting call may take the slot: from the loop, never from inside this call. */
    if (freed_slot && up->pending.head && !up->depth)
        uv_timer_start(&up->kick, on_kick, 0, 0);
}

unsigned mb_upstream_active(const struct mb_upstream *up)
{
    return up ? up->in_flight : 0;
}

void mb_upstream_stats(const struct mb_upstream *up, struct mb_upstream_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!up)
        return;
    *out = up->stats;
    out->sockets_tracked = up->tracked;
    for (const struct up_sock *s = up->socks; s; s = s->next)
        if (s->parked)
            out->sockets_parked++;
}

static void do_destroy(struct mb_upstream *up)
{
    struct mb_upstream_call *c;
    up->destroy_requested = true;
    while ((c = up->active.head)) {
        curl_multi_remove_handle(up->multi, c->easy);
        list_unlink(&up->active, c);
        call_free(c);
    }
    while ((c = up->pending.head)) {
        list_unlink(&up->pending, c);
        call_free(c);
    }
    while ((c = up->free_calls.head)) {
        list_unlink(&up->free_calls, c);
        call_free(c);
    }
    up->destroyed = true;  /* curl callbacks from cleanup only close polls and sockets from here on */
    curl_multi_cleanup(up->multi);  /* closes the pooled connections through on_close_socket */
    up->multi = NULL;
    if (up->share)
        curl_share_cleanup(up->share);  /* no easy handle is left attached */
    up->share = NULL;
    free_tls_options(up);
    while (up->socks)
        sock_close(up, up->socks);  /* records curl closed without telling us: polls only */
    free(up->by_fd);
    up->by_fd = NULL;
    up->by_fd_cap = 0;
    uv_timer_stop(&up->timer);
    uv_timer_stop(&up->kick);
    up->pending_closes += 2;
    uv_close((uv_handle_t *)&up->timer, on_handle_closed);
    uv_close((uv_handle_t *)&up->kick, on_handle_closed);
}

void mb_upstream_destroy(struct mb_upstream *up)
{
    if (!up || up->destroy_requested)
        return;
    up->destroy_requested = true;
    for (struct mb_upstream_call *c = up->active.head; c; c = c->next) {
        c->cancelled = true;
        c->done_cb = NULL;
        c->progress_cb = NULL;
    }
    for (struct mb_upstream_call *c = up->pending.head; c; c = c->next) {
        c->cancelled = true;
        c->done_cb = NULL;
        c->progress_cb = NULL;
    }
    up->in_flight = 0;
    if (up->depth == 0)
        do_destroy(up);
}
