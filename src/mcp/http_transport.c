/* Implementation of http_transport.h. One struct post_exchange per POST in progress holds the
 * decoded message(s), one sink per JSON-RPC request, and either the collected JSON responses
 * or the SSE stream they are written to. The admin routes (metrics, status page) are
 * admin_http.c's; this listener serves them unless observability.metrics.port moves them to a
 * listener of their own. */
#include "mcp/http_transport.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "auth/gateway.h"
#include "common/hmac.h"
#include "common/log.h"
#include "mcp/admin_http.h"
#include "mcp/http_auth.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"
#include "mcp/session.h"
#include "observability/capacity.h"
#include "process/runtime.h"
#include "state/redis_state.h"
#include "state/sse_log.h"

#define SSE_KEEPALIVE_MS 15000
#define SSE_RETRY_MS 1000          /* the retry field sent before the server closes an SSE connection */
#define REPLAY_TICK_MS 1000        /* replay upkeep: expiry, Redis TTLs, re-reading watched streams */
#define MAX_BATCH 100

struct post_exchange;

/* A GET (SSE) stream: the session's own stream, or one that resumes a POST's stream after a
 * Last-Event-ID (then `resumed`; its events come from this worker's log and, while the POST
 * still runs here, from it (`source`), or from Redis when the POST ran elsewhere (`watching`)). */
struct get_stream {
    struct get_stream *prev, *next;
    struct mb_http_transport *t;
    struct mb_http_exchange *ex;
    uint64_t session_key;
    bool resumed;
    bool started;                  /* the SSE response has begun */
    bool ending;                   /* end it once its backlog drained */
    struct post_exchange *source;  /* the POST on this worker whose events it relays, or NULL */
    bool watching;                 /* the stream's events are read from Redis */
    bool reading, read_again;      /* a Redis read in flight / another one wanted after it */
    uint64_t delivered;            /* the newest sequence number written to the client */
    unsigned replayed;             /* events written to the client */
    char stream_id[MB_SSE_STREAM_ID_LEN + 1];
    struct mb_buf backlog;         /* events the connection could not take yet */
};

#define BOUND_KEY_CACHE 64         /* principals whose session MAC key is remembered */
#define BOUND_WHO_MAX (2 * MB_PRINCIPAL_NAME_MAX + 32)

struct mb_http_transport {
    uv_loop_t *loop;
    struct {                           /* direct-mapped: HMAC(session key, who) per principal */
        size_t len;                    /* 0 = empty */
        char who[BOUND_WHO_MAX];
        uint8_t key[32];
    } *bound;                          /* BOUND_KEY_CACHE entries, allocated on first use */
    struct mb_runtime *rt;
    struct mb_mcp_server *mcp;
    struct mb_gateway *gw;             /* NULL: authentication off */
    struct mb_admin_http *admin;       /* the admin routes on this listener; NULL when they have
                                        * their own (observability.metrics.port) */
    int worker_id;
    bool draining;
    struct get_stream *streams;
    unsigned stream_count;
    uv_timer_t keepalive;
    struct mb_sse_log *replay;         /* POST streams' events for resumption (state/sse_log.h); NULL:
                                        * events carry no ids (sse.replay_seconds 0, or no sessions) */
    uint64_t replay_ms;
    struct post_exchange *live;        /* POSTs whose stream is being recorded (replay != NULL) */
    uv_timer_t *replay_timer;          /* REPLAY_TICK_MS upkeep while there is a log */
};

struct request_sink {
    struct post_exchange *px;
    struct mb_mcp_request *handle; /* while the core works on it asynchronously */
    bool done;
    bool collected;               /* its response waits in px->collected at [off, off + len) */
    size_t off, len;
};

struct post_exchange {
    struct mb_http_transport *t;
    struct mb_http_exchange *ex;
    json_t *body;
    bool batch;
    bool dispatching;
    bool streaming;
    bool ending;                  /* all answered; waiting for the stream to drain */
    struct mb_mcp_session session;
    struct mb_principal principal;     /* copy of the caller; session.principal points here */
    struct request_sink *sinks;
    size_t sink_count;
    size_t pending;
    struct mb_buf collected;      /* JSON mode: responses, comma-separated (each sink knows its span) */
    size_t collected_count;
    struct mb_buf backlog;        /* SSE mode: final events the connection could not take yet */
    /* resumability (docs/internals/shared-state.md) */
    struct post_exchange *lprev, *lnext; /* on t->live while replay is set */
    struct mb_sse_stream *replay;       /* its events in the worker's log (held), or NULL */
    bool detached;                      /* the client's connection is gone (or was taken over by a
                                         * resumption): answers go to the log (and Redis) only */
    struct get_stream *reader;          /* a GET on this worker that resumed this stream, or NULL */
    char *user_token;                   /* principal.user_token, copied when detached (wiped) */
    size_t user_token_len;
    uint64_t ttl_refreshed_ms;          /* last PEXPIRE of its Redis list */
};

/* ---- small helpers ---- */

static bool header_has_token(const char *value, size_t len, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; value && i + tl <= len; i++)
        if (strncasecmp(value + i, token, tl) == 0)
            return true;
    return false;
}

static void respond_json(struct mb_http_exchange *ex, int status, const char *body, size_t len,
                         const struct mb_http_header *extra, size_t extra_count)
{
    struct mb_http_header headers[4] = {{"Content-Type", 12, "application/json", 16}};
    size_t n = 1;
    for (size_t i = 0; i < extra_count && n < 4; i++)
        headers[n++] = extra[i];
    mb_http_respond(ex, status, headers, n, body, len);
}

static void respond_error(struct mb_http_exchange *ex, int status, int code, const char *message)
{
    size_t len = 0;
    char *body = mb_jsonrpc_error_text(code, message, &len);
    if (!body) {
        mb_http_respond(ex, 500, NULL, 0, NULL, 0);
        return;
    }
    respond_json(ex, status, body, len, NULL, 0);
    free(body);
}

/* Binds sessions to the caller: with authentication on, session ids are signed and checked
 * under HMAC(session key, client id, subject), so an id issued to one principal is "not found"
 * for any other (a stolen id is useless without the credentials that made it). */
static void bind_session_key(struct mb_http_transport *t, const struct mb_principal *p, struct mb_mcp_session *session)
{
    session->has_mac_key = false;
    if (!p || (!p->client_id[0] && !p->subject[0]))
        return;
    char who[BOUND_WHO_MAX];
    int n = snprintf(who, sizeof who, "mcpbridge session v1%c%s%c%s", 0, p->client_id, 0, p->subject);
    if (n <= 0)
        return;
    size_t wlen = (size_t)n < sizeof who ? (size_t)n : sizeof who - 1;
    /* Repeat callers skip the HMAC: the derived key is remembered per exact identity. */
    if (!t->bound)
        t->bound = calloc(BOUND_KEY_CACHE, sizeof *t->bound);
    uint64_t h = mb_hash64(who, wlen);
    __typeof__(&t->bound[0]) slot = t->bound ? &t->bound[h % BOUND_KEY_CACHE] : NULL;
    if (slot && slot->len == wlen && memcmp(slot->who, who, wlen) == 0) {
        memcpy(session->mac_key, slot->key, sizeof session->mac_key);
        session->has_mac_key = true;
        return;
    }
    if (mb_hmac_sha256(t->rt->session_key, sizeof t->rt->session_key, who, wlen, session->mac_key) != 0)
        return;
    session->has_mac_key = true;
    if (slot) {
        memcpy(slot->who, who, wlen);
        slot->len = wlen;
        memcpy(slot->key, session->mac_key, sizeof slot->key);
    }
}

/* Reads and checks Mcp-Session-Id. Returns 0 when valid (session filled), or an HTTP status
 * after answering the exchange. p: the authenticated caller (NULL: authentication off). */
static int load_session(struct mb_http_transport *t, struct mb_http_exchange *ex,
                        const struct mb_http_request *req, struct mb_mcp_session *session,
                        const struct mb_principal *p)
{
    const struct mb_config *cfg = t->rt->config;
    memset(session, 0, sizeof *session);
    bind_session_key(t, p, session);
    session->protocol_index = MB_MCP_PROTOCOL_2025_03_26;
    if (!cfg->sessions_enabled)
        return 0;
    size_t len = 0;
    const char *id = mb_http_header_get(req, "mcp-session-id", &len);
    if (!id) {
        respond_error(ex, 400, MB_JSONRPC_INVALID_REQUEST,
                      "Bad Request: Mcp-Session-Id header is required (send initialize first)");
        return 400;
    }
    enum mb_session_status st = mb_session_check(session->has_mac_key ? session->mac_key : t->rt->session_key,
                                                 t->rt->shared, id, len,
                                                 cfg->session_ttl_seconds, &session->info);
    if (st != MB_SESSION_VALID) {
        const char *why = st == MB_SESSION_EXPIRED ? "Session expired: initialize a new session"
                          : st == MB_SESSION_ENDED ? "Session not found: it was ended"
                                                   : "Session not found";
        respond_error(ex, 404, MB_JSONRPC_SESSION_NOT_FOUND, why);
        return 404;
    }
    session->has_session = true;
    session->protocol_index = session->info.protocol_index < MB_MCP_PROTOCOL_COUNT
                                  ? session->info.protocol_index : 0;
    snprintf(session->id, sizeof session->id, "%.*s", (int)len, id);
    return 0;
}

/* Applies MCP-Protocol-Version when present. Returns 0, or 400 after answering. */
static int load_protocol_version(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                 struct mb_mcp_session *session)
{
    size_t len = 0;
    const char *v = mb_http_header_get(req, "mcp-protocol-version", &len);
    if (!v)
        return 0;
    int index = mb_mcp_protocol_index(v, len);
    if (index < 0) {
        char text[200];
        snprintf(text, sizeof text, "Bad Request: unsupported MCP-Protocol-Version '%.40s' (supported: %s, %s, %s)",
                 v, mb_mcp_protocol_versions[0], mb_mcp_protocol_versions[1], mb_mcp_protocol_versions[2]);
        respond_error(ex, 400, MB_JSONRPC_INVALID_REQUEST, text);
        return 400;
    }
    session->protocol_index = index;
    return 0;
}

/* ---- SSE events, ids and the replay log ---- */

static bool is_2025_11_25(int protocol_index)
{
    return protocol_index >= 0 && protocol_index < MB_MCP_PROTOCOL_COUNT &&
           strcmp(mb_mcp_protocol_versions[protocol_index], "2025-11-25") == 0;
}

/* One SSE event: "id: <stream>-<seq>" when the stream has an id, then the message. */
static void format_event(struct mb_buf *ev, const char *stream_id, uint64_t seq, const char *json, size_t len)
{
    mb_buf_init(ev, len + 128);
    if (stream_id) {
        char id[MB_SSE_EVENT_ID_MAX];
        mb_buf_append_str(ev, "id: ");
        mb_buf_append(ev, id, mb_sse_event_id(stream_id, seq, id));
        mb_buf_append(ev, "\n", 1);
    }
    mb_buf_append_str(ev, "event: message\ndata: ");
    mb_buf_append(ev, json, len);
    mb_buf_append_str(ev, "\n\n");
}

/* The priming event the 2025-11-25 text asks for when a stream starts: an id and empty data, so
 * a client that loses the connection before the first message can still resume. */
static void prime(struct mb_http_exchange *ex, const char *stream_id)
{
    char id[MB_SSE_EVENT_ID_MAX], ev[MB_SSE_EVENT_ID_MAX + 32];
    mb_sse_event_id(stream_id, 0, id);
    int n = snprintf(ev, sizeof ev, "id: %s\ndata: \n\n", id);
    mb_http_stream_write(ex, ev, (size_t)n);
}

/* Writes to a streaming exchange keeping the order: behind a backlog, or refused for now
 * (-ENOBUFS), the bytes wait in backlog for the drain callback. 0, or -1 (the client is gone,
 * or the backlog is full). */
static int send_ordered(struct mb_http_exchange *ex, struct mb_buf *backlog, const char *data, size_t len)
{
    if (backlog->len == 0) {
        int rc = mb_http_stream_write(ex, data, len);
        if (rc != -ENOBUFS)
            return rc == 0 ? 0 : -1;
    }
    return mb_buf_append(backlog, data, len) == 0 ? 0 : -1;
}

/* The Redis list of a stream: sse:<session key hex>:<stream id> (under the prefix). */
static size_t redis_stream_key(uint64_t session_key, const char *stream_id, char out[64])
{
    int n = snprintf(out, 64, "sse:%016" PRIx64 ":%s", session_key, stream_id);
    return n > 0 && n < 64 ? (size_t)n : 0;
}

/* Mirrors one entry of a stream into Redis: "<seq> m <message>" or the end mark "<seq> e". The
 * list keeps as many entries as the worker's log (plus the end mark) and lives replay_ms after
 * its last entry. Nothing happens without a connected link (readers elsewhere see a gap). */
static void mirror_entry(struct post_exchange *px, uint64_t seq, const char *json, size_t len)
{
    struct mb_http_transport *t = px->t;
    struct mb_redis_state *st = mb_mcp_server_redis(t->mcp);
    if (!st || (json && len > t->rt->config->sse_max_stream_bytes))
        return;
    char key[64];
    size_t klen = redis_stream_key(px->session.info.key, mb_sse_stream_id(px->replay), key);
    struct mb_buf v;
    mb_buf_init(&v, len + 32);
    mb_buf_printf(&v, "%" PRIu64 " %s", seq, json ? "m " : "e");
    if (json)
        mb_buf_append(&v, json, len);
    if (v.data && mb_redis_state_list_append(st, key, klen, v.data, v.len, mb_sse_stream_count(px->replay) + 1,
                                             t->replay_ms) == 0) {
        px->ttl_refreshed_ms = uv_now(t->loop);
        if (px->detached) /* a reader elsewhere may be waiting for it */
            mb_redis_state_stream_notice(st, px->session.info.key, mb_sse_stream_id(px->replay), seq);
    }
    mb_buf_dispose(&v);
}

static void end_stream(struct get_stream *gs);

/* Writes one event to a GET that relays a stream. */
static void reader_write(struct get_stream *gs, uint64_t seq, const char *data, size_t len)
{
    if (send_ordered(gs->ex, &gs->backlog, data, len) == 0) {
        gs->delivered = seq;
        gs->replayed++;
    }
}

/* Nothing more will come on the stream a GET relays: it ends once its backlog drained. */
static void reader_finish(struct get_stream *gs)
{
    gs->source = NULL;
    if (gs->backlog.len)
        gs->ending = true; /* on_get_drain ends it */
    else
        end_stream(gs);
}

static void live_unlink(struct post_exchange *px)
{
    struct mb_http_transport *t = px->t;
    if (px->lprev)
        px->lprev->lnext = px->lnext;
    else if (t->live == px)
        t->live = px->lnext;
    if (px->lnext)
        px->lnext->lprev = px->lprev;
    px->lprev = px->lnext = NULL;
}

/* The writer lets go of its stream: complete (every answer is in it: the end mark goes to
 * Redis) or not (the requests were abandoned). The log keeps it replay_ms. */
static void close_replay(struct post_exchange *px, bool complete)
{
    if (!px->replay)
        return;
    struct mb_http_transport *t = px->t;
    if (complete) {
        mb_sse_stream_complete(px->replay);
        mirror_entry(px, mb_sse_stream_last_seq(px->replay), NULL, 0);
    }
    live_unlink(px);
    mb_sse_stream_release(t->replay, px->replay, uv_now(t->loop));
    px->replay = NULL;
}

/* Records one message of a POST's stream and sends it: to the client's connection when it is
 * still there, to a GET that resumed the stream. droppable: a notification, which a slow
 * connection may lose (a result never is); the log keeps it either way. */
static void emit(struct post_exchange *px, const char *json, size_t len, bool droppable)
{
    struct mb_http_transport *t = px->t;
    uint64_t seq = 0;
    if (px->replay) {
        seq = mb_sse_stream_append(t->replay, px->replay, json, len, uv_now(t->loop));
        mirror_entry(px, seq, json, len);
    }
    struct mb_buf ev;
    format_event(&ev, px->replay ? mb_sse_stream_id(px->replay) : NULL, seq, json, len);
    if (px->ex && ev.data) {
        if (!droppable)
            send_ordered(px->ex, &px->backlog, ev.data, ev.len);
        else if (!px->backlog.len)
            mb_http_stream_write(px->ex, ev.data, ev.len); /* -ENOBUFS: this notification is lost here */
    }
    if (px->reader && ev.data)
        reader_write(px->reader, seq, ev.data, ev.len);
    mb_buf_dispose(&ev);
}

/* The client's connection is gone (or a resumption took the stream over): the requests go on
 * and their answers go to the log. What pointed into the request is copied first. */
static void detach(struct post_exchange *px)
{
    px->ex = NULL;
    px->detached = true;
    mb_buf_reset(&px->backlog);
    const struct mb_principal *p = &px->principal;
    if (p->user_token && !px->user_token) {
        px->user_token = malloc(p->user_token_len + 1);
        if (px->user_token) {
            memcpy(px->user_token, p->user_token, p->user_token_len);
            px->user_token[p->user_token_len] = '\0';
            px->user_token_len = p->user_token_len;
        }
        px->principal.user_token = px->user_token; /* NULL when the copy failed: no exchange then */
    }
}

/* ---- POST ---- */

static void post_free(struct post_exchange *px)
{
    close_replay(px, false);
    if (px->reader) {
        struct get_stream *gs = px->reader;
        px->reader = NULL;
        reader_finish(gs);
    }
    if (px->user_token) {
        OPENSSL_cleanse(px->user_token, px->user_token_len);
        free(px->user_token);
    }
    json_decref(px->body);
    mb_buf_dispose(&px->collected);
    mb_buf_dispose(&px->backlog);
    free(px->sinks);
    free(px);
}

static void session_header(const struct post_exchange *px, struct mb_http_header *h)
{
    h->name = "Mcp-Session-Id";
    h->name_len = 14;
    h->value = px->session.id;
    h->value_len = strlen(px->session.id);
}

static void start_stream(struct post_exchange *px)
{
    struct mb_http_transport *t = px->t;
    struct mb_http_header headers[3] = {
        {"Content-Type", 12, "text/event-stream", 17},
        {"Cache-Control", 13, "no-cache", 8},
    };
    size_t n = 2;
    if (px->session.created)
        session_header(px, &headers[n++]);
    mb_http_stream_start(px->ex, 200, headers, n);
    px->streaming = true;
    if (t->replay && px->session.has_session) {
        px->replay = mb_sse_log_open(t->replay, MB_SSE_KIND_POST, px->session.info.key);
        if (px->replay) {
            px->lnext = t->live;
            if (t->live)
                t->live->lprev = px;
            t->live = px;
            if (is_2025_11_25(px->session.protocol_index))
                prime(px->ex, mb_sse_stream_id(px->replay));
        }
    }
    /* Responses already collected (earlier requests of a batch) go out first. */
    if (px->collected_count) {
        for (size_t i = 0; i < px->sink_count; i++) {
            struct request_sink *sk = &px->sinks[i];
            if (sk->collected) {
                emit(px, px->collected.data + sk->off, sk->len, false);
                sk->collected = false;
            }
        }
        mb_buf_reset(&px->collected);
        px->collected_count = 0;
    }
}

static void finish_post(struct post_exchange *px)
{
    if (px->streaming) {
        close_replay(px, true);
        if (px->reader) {
            struct get_stream *gs = px->reader;
            px->reader = NULL;
            reader_finish(gs);
        }
        if (px->detached) {
            post_free(px);
            return;
        }
        if (px->backlog.len) {
            px->ending = true; /* on_post_drain ends it */
            return;
        }
        mb_http_stream_end(px->ex);
        post_free(px);
        return;
    }
    struct mb_http_header extra[1];
    size_t n = 0;
    if (px->session.created)
        session_header(px, &extra[n++]);
    if (px->collected_count == 0) {
        mb_http_respond(px->ex, 202, extra, n, NULL, 0);
    } else if (px->batch) {
        struct mb_buf out;
        mb_buf_init(&out, px->collected.len + 2);
        mb_buf_append(&out, "[", 1);
        mb_buf_append(&out, px->collected.data, px->collected.len);
        mb_buf_append(&out, "]", 1);
        respond_json(px->ex, 200, out.data, out.len, extra, n);
        mb_buf_dispose(&out);
    } else {
        respond_json(px->ex, 200, px->collected.data, px->collected.len, extra, n);
    }
    post_free(px);
}

static void on_post_drain(struct mb_http_exchange *ex, void *data)
{
    struct post_exchange *px = mb_http_exchange_get_data(ex);
    (void)data;
    if (!px || !px->backlog.len)
        return;
    int rc = mb_http_stream_write(ex, px->backlog.data, px->backlog.len);
    if (rc == 0)
        mb_buf_reset(&px->backlog);
    if (!px->backlog.len && px->ending) {
        mb_http_stream_end(ex);
        post_free(px);
    }
}

static void on_sink_message(void *sink, const char *json, size_t len, bool final)
{
    struct request_sink *s = sink;
    struct post_exchange *px = s->px;
    if (!final) {
        if (!px->streaming)
            start_stream(px);
        emit(px, json, len, true);
        return;
    }
    s->done = true;
    s->handle = NULL;
    px->pending--;
    if (json) {
        if (px->streaming) {
            emit(px, json, len, false);
        } else {
            mb_buf_reserve(&px->collected, len + 1);
            if (px->collected_count)
                mb_buf_append(&px->collected, ",", 1);
            size_t off = px->collected.len;
            if (mb_buf_append(&px->collected, json, len) == 0) {
                px->collected_count++;
                s->collected = true;
                s->off = off;
                s->len = len;
            }
        }
    }
    if (px->pending == 0 && !px->dispatching)
        finish_post(px);
}

static const struct mb_mcp_sink_ops sink_ops = {on_sink_message};

/* The client went away. A stream that is being recorded outlives its connection ("disconnection
 * SHOULD NOT be interpreted as the client cancelling its request"): its requests go on and
 * the client may resume it with GET + Last-Event-ID. Otherwise the requests are abandoned. */
static void on_post_abort(struct mb_http_exchange *ex, void *data)
{
    struct post_exchange *px = mb_http_exchange_get_data(ex);
    (void)data;
    if (!px)
        return;
    if (px->replay && px->pending > 0) {
        detach(px);
        return;
    }
    for (size_t i = 0; i < px->sink_count; i++)
        if (px->sinks[i].handle)
            mb_mcp_request_abandon(px->sinks[i].handle);
    post_free(px);
}

/* A single tools/call for a tool the caller's scopes do not allow: 403 insufficient_scope
 * with the challenge, before anything else happens. Returns true when it answered. */
static bool refuse_tool_scope(struct mb_http_transport *t, struct mb_http_exchange *ex,
                              const struct mb_http_request *req, const struct mb_principal *p, const json_t *msg)
{
    const struct mb_security_config *sec = &t->rt->config->security;
    if (!p || !sec->scope_rule_count || !json_is_object(msg))
        return false;
    const json_t *method = json_object_get(msg, "method");
    if (!json_is_string(method) || strcmp(json_string_value(method), "tools/call") != 0)
        return false;
    const json_t *name = json_object_get(json_object_get(msg, "params"), "name");
    if (!json_is_string(name))
        return false;
    struct mb_auth_denial d = { .status = 403, .error = "insufficient_scope" };
    if (mb_principal_may_use(sec, p, json_string_value(name), d.scope, sizeof d.scope))
        return false;
    int n = snprintf(d.description, sizeof d.description, "the tool %.80s requires the scopes: ",
                     json_string_value(name));
    if (n > 0 && (size_t)n < sizeof d.description) {
        size_t room = sizeof d.description - (size_t)n - 1;
        size_t len = strlen(d.scope) < room ? strlen(d.scope) : room;
        memcpy(d.description + n, d.scope, len);
        d.description[(size_t)n + len] = '\0';
    }
    snprintf(d.reason, sizeof d.reason, "insufficient_scope");
    mb_http_auth_respond_denial(ex, req, t->rt->config, &d);
    return true;
}

static void handle_post(struct mb_http_transport *t, struct mb_http_exchange *ex,
                        const struct mb_http_request *req, const struct mb_principal *principal)
{
    const struct mb_config *cfg = t->rt->config;
    size_t alen = 0;
    const char *accept = mb_http_header_get(req, "accept", &alen);
    bool any = accept && (header_has_token(accept, alen, "*/*"));
    if (!accept || (!any && (!header_has_token(accept, alen, "application/json") ||
                             !header_has_token(accept, alen, "text/event-stream")))) {
        respond_error(ex, 406, MB_JSONRPC_INVALID_REQUEST,
                      "Not Acceptable: the Accept header must list application/json and text/event-stream");
        return;
    }
    size_t clen = 0;
    const char *ctype = mb_http_header_get(req, "content-type", &clen);
    if (!ctype || !header_has_token(ctype, clen, "application/json")) {
        respond_error(ex, 415, MB_JSONRPC_INVALID_REQUEST,
                      "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        char text[300];
        snprintf(text, sizeof text, "Parse error: %s at line %d, column %d", jerr.text, jerr.line, jerr.column);
        respond_error(ex, 400, MB_JSONRPC_PARSE_ERROR, text);
        return;
    }
    struct post_exchange *px = calloc(1, sizeof *px);
    if (!px) {
        json_decref(body);
        respond_error(ex, 500, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    px->t = t;
    px->ex = ex;
    px->body = body;
    if (principal) {
        px->principal = *principal;
        /* scopes[] point into scope_data: re-point them at the copy's own storage. user_token
         * points into the request, which lives as long as this exchange. */
        for (size_t i = 0; i < px->principal.scope_count; i++)
            px->principal.scopes[i] = px->principal.scope_data + (principal->scopes[i] - principal->scope_data);
    }
    mb_buf_init(&px->collected, 64u * 1024 * 1024);
    mb_buf_init(&px->backlog, 64u * 1024 * 1024);
    px->batch = json_is_array(body);
    size_t count = px->batch ? json_array_size(body) : 1;
    char why[200];

    /* initialize: alone, no session needed; it creates one. */
    const json_t *first = px->batch ? json_array_get(body, 0) : body;
    bool is_init = !px->batch && json_is_object(first) &&
                   json_is_string(json_object_get(first, "method")) &&
                   strcmp(json_string_value(json_object_get(first, "method")), "initialize") == 0;
    if (is_init) {
        memset(&px->session, 0, sizeof px->session);
        bind_session_key(t, principal, &px->session);
    } else {
        if (load_session(t, ex, req, &px->session, principal) || load_protocol_version(ex, req, &px->session)) {
            post_free(px);
            return;
        }
    }
    px->session.principal = principal ? &px->principal : NULL;
    if (!px->batch && refuse_tool_scope(t, ex, req, principal, body)) {
        post_free(px);
        return;
    }
    if (px->batch) {
        if (px->session.protocol_index != MB_MCP_PROTOCOL_2025_03_26 && !is_init) {
            snprintf(why, sizeof why, "Invalid Request: JSON-RPC batches are not supported in protocol version %s",
                     mb_mcp_protocol_versions[px->session.protocol_index]);
            respond_error(ex, 400, MB_JSONRPC_INVALID_REQUEST, why);
            post_free(px);
            return;
        }
        if (count == 0 || count > MAX_BATCH) {
            respond_error(ex, 400, MB_JSONRPC_INVALID_REQUEST,
                          count ? "Invalid Request: a batch holds at most 100 messages" : "Invalid Request: empty batch");
            post_free(px);
            return;
        }
    }
    if (!px->batch) {
        if (mb_jsonrpc_classify(body, why, sizeof why) == MB_JSONRPC_INVALID) {
            char text[300];
            snprintf(text, sizeof text, "Invalid Request: %s", why);
            respond_error(ex, 400, MB_JSONRPC_INVALID_REQUEST, text);
            post_free(px);
            return;
        }
    }
    px->sinks = calloc(count, sizeof *px->sinks);
    if (!px->sinks) {
        respond_error(ex, 500, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
        post_free(px);
        return;
    }
    px->sink_count = count;
    mb_http_exchange_set_data(ex, px);
    mb_http_exchange_on_abort(ex, on_post_abort);
    mb_http_exchange_on_drain(ex, on_post_drain);

    px->dispatching = true;
    for (size_t i = 0; i < count; i++) {
        const json_t *msg = px->batch ? json_array_get(body, i) : body;
        struct request_sink *s = &px->sinks[i];
        s->px = px;
        enum mb_jsonrpc_kind kind = mb_jsonrpc_classify(msg, why, sizeof why);
        if (kind == MB_JSONRPC_INVALID) {
            /* Only inside a batch: answer this element with an error, id null. */
            char text[300];
            snprintf(text, sizeof text, "Invalid Request: %s", why);
            size_t len = 0;
            char *err = mb_jsonrpc_error_text(MB_JSONRPC_INVALID_REQUEST, text, &len);
            px->pending++;
            on_sink_message(s, err, len, true);
            free(err);
        } else if (kind == MB_JSONRPC_REQUEST) {
            const char *method = json_string_value(json_object_get(msg, "method"));
            if (px->batch && strcmp(method, "initialize") == 0) {
                size_t len = 0;
                char *err = mb_jsonrpc_error_text(MB_JSONRPC_INVALID_REQUEST,
                                                  "Invalid Request: initialize must not be part of a batch", &len);
                px->pending++;
                on_sink_message(s, err, len, true);
                free(err);
                continue;
            }
            px->pending++;
            s->handle = mb_mcp_handle_request(t->mcp, &px->session, msg, &sink_ops, s);
            if (s->done)
                s->handle = NULL;
        } else if (kind == MB_JSONRPC_NOTIFICATION) {
            mb_mcp_handle_notification(t->mcp, &px->session, msg);
            s->done = true;
        } else {
            s->done = true; /* a response to a server request: we send none, so nothing waits */
        }
    }
    px->dispatching = false;
    (void)cfg;
    if (px->pending == 0)
        finish_post(px);
}

/* ---- GET: the session's stream, and resumption of a POST's stream ---- */

static void stream_unlink(struct get_stream *gs)
{
    struct mb_http_transport *t = gs->t;
    if (gs->prev)
        gs->prev->next = gs->next;
    else
        t->streams = gs->next;
    if (gs->next)
        gs->next->prev = gs->prev;
    gs->prev = gs->next = NULL;
    t->stream_count--;
}

/* Unlinks and frees a GET stream (its exchange is answered, aborted or not ours any more). */
static void stream_free(struct get_stream *gs)
{
    stream_unlink(gs);
    if (gs->source && gs->source->reader == gs)
        gs->source->reader = NULL;
    if (gs->reading)
        mb_redis_state_forget(mb_mcp_server_redis(gs->t->mcp), gs);
    mb_buf_dispose(&gs->backlog);
    free(gs);
}

static void on_stream_abort(struct mb_http_exchange *ex, void *data)
{
    struct get_stream *gs = mb_http_exchange_get_data(ex);
    (void)data;
    if (gs)
        stream_free(gs);
}

/* Ends a GET stream: the response ends (one that has not begun is answered 503: the server is
 * ending it, try again), then it is freed. */
static void end_stream(struct get_stream *gs)
{
    struct mb_http_exchange *ex = gs->ex;
    mb_http_exchange_set_data(ex, NULL);
    if (gs->started)
        mb_http_stream_end(ex);
    else
        respond_error(ex, 503, MB_JSONRPC_INVALID_REQUEST, "Service Unavailable: the stream was ended; try again");
    stream_free(gs);
}

static void on_get_drain(struct mb_http_exchange *ex, void *data)
{
    struct get_stream *gs = mb_http_exchange_get_data(ex);
    (void)data;
    if (!gs || !gs->backlog.len)
        return;
    if (mb_http_stream_write(ex, gs->backlog.data, gs->backlog.len) == 0)
        mb_buf_reset(&gs->backlog);
    if (!gs->backlog.len && gs->ending)
        end_stream(gs);
}

static void on_keepalive(uv_timer_t *timer)
{
    struct mb_http_transport *t = timer->data;
    for (struct get_stream *gs = t->streams; gs; gs = gs->next)
        if (gs->started && !gs->backlog.len)
            mb_http_stream_write(gs->ex, ": keepalive\n\n", 13);
}

static struct get_stream *stream_new(struct mb_http_transport *t, struct mb_http_exchange *ex, uint64_t session_key)
{
    struct get_stream *gs = calloc(1, sizeof *gs);
    if (!gs) {
        respond_error(ex, 500, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
        return NULL;
    }
    gs->t = t;
    gs->ex = ex;
    gs->session_key = session_key;
    mb_buf_init(&gs->backlog, 64u * 1024 * 1024);
    gs->next = t->streams;
    if (t->streams)
        t->streams->prev = gs;
    t->streams = gs;
    t->stream_count++;
    mb_http_exchange_set_data(ex, gs);
    mb_http_exchange_on_abort(ex, on_stream_abort);
    mb_http_exchange_on_drain(ex, on_get_drain);
    return gs;
}

static void stream_start(struct get_stream *gs)
{
    struct mb_http_header headers[2] = {
        {"Content-Type", 12, "text/event-stream", 17},
        {"Cache-Control", 13, "no-cache", 8},
    };
    mb_http_stream_start(gs->ex, 200, headers, 2);
    gs->started = true;
}

/* Answers a GET stream that has not begun with an error, and frees it. */
static void stream_refuse(struct get_stream *gs, int status, const char *message)
{
    mb_http_exchange_set_data(gs->ex, NULL);
    respond_error(gs->ex, status, MB_JSONRPC_INVALID_REQUEST, message);
    stream_free(gs);
}

static struct post_exchange *live_find(struct mb_http_transport *t, uint64_t session_key, const char *stream_id)
{
    for (struct post_exchange *px = t->live; px; px = px->lnext)
        if (px->session.info.key == session_key && strcmp(mb_sse_stream_id(px->replay), stream_id) == 0)
            return px;
    return NULL;
}

/* A resumption takes a stream that is still being written here: its original connection (the
 * client thinks it dead; it may be half-open) ends, and so does an earlier resumption; the
 * POST's next events go to gs. */
static void take_over(struct post_exchange *px, struct get_stream *gs)
{
    if (px->ex) {
        struct mb_http_exchange *old = px->ex;
        mb_http_exchange_set_data(old, NULL); /* its abort and drain callbacks find nothing now */
        detach(px);
        mb_http_stream_end(old);
    }
    if (px->reader) {
        struct get_stream *old = px->reader;
        px->reader = NULL;
        old->source = NULL;
        end_stream(old);
    }
    px->reader = gs;
    gs->source = px;
}

static const char *const not_kept =
    "Bad Request: Last-Event-ID names no stream of this session that is still kept (events are kept "
    "runtime.server.sse.replay_seconds; without runtime.redis a stream is resumed on the worker that wrote it)";

static void read_remote(struct get_stream *gs);

/* Entries of a stream's Redis list ("<seq> m <message>" / "<seq> e"): the messages after
 * what was delivered go to the client; the end mark ends the stream. */
static void on_remote_entries(void *data, const struct mb_redis_state_item *items, size_t count, int error)
{
    struct get_stream *gs = data;
    gs->reading = false;
    if (error) {
        if (!gs->started)
            stream_refuse(gs, 503, "Service Unavailable: the stream's events are in Redis, which did not answer; retry");
        else if (error != -ENOTCONN && error != -ETIMEDOUT)
            end_stream(gs);
        return; /* a link that comes back is read again on the next upkeep tick */
    }
    if (!gs->started) {
        if (count == 0) {
            stream_refuse(gs, 400, not_kept);
            return;
        }
        stream_start(gs);
    }
    bool ended = false;
    for (size_t i = 0; i < count; i++) {
        const char *v = items[i].value;
        size_t len = items[i].len, digits = 0;
        uint64_t seq = 0;
        while (digits < len && digits < 20 && v[digits] >= '0' && v[digits] <= '9')
            seq = seq * 10 + (uint64_t)(v[digits++] - '0');
        if (digits == 0 || digits + 2 > len || v[digits] != ' ')
            continue; /* not an entry we wrote */
        if (v[digits + 1] == 'e') {
            ended = true;
        } else if (v[digits + 1] == 'm' && digits + 3 <= len && seq > gs->delivered) {
            struct mb_buf ev;
            format_event(&ev, gs->stream_id, seq, v + digits + 3, len - digits - 3);
            if (ev.data)
                reader_write(gs, seq, ev.data, ev.len);
            mb_buf_dispose(&ev);
        }
    }
    if (ended || count == 0) {
        /* Complete, or its list expired (the writer is gone). A stream with nothing after the
         * client's id stays open as a listening stream, so the client does not poll again. */
        gs->watching = false;
        if (count == 0 || gs->replayed)
            reader_finish(gs);
        return;
    }
    if (gs->read_again) {
        gs->read_again = false;
        read_remote(gs);
    }
}

/* Reads the stream's whole list (bounded by max_stream_bytes; offsets from its end would move
 * while the writer appends) and delivers what is new. One read at a time: notices that arrive
 * meanwhile ask for one more. */
static void read_remote(struct get_stream *gs)
{
    if (gs->reading) {
        gs->read_again = true;
        return;
    }
    struct mb_redis_state *st = mb_mcp_server_redis(gs->t->mcp);
    char key[64];
    size_t klen = redis_stream_key(gs->session_key, gs->stream_id, key);
    if (mb_redis_state_list_range(st, key, klen, 0, on_remote_entries, gs) == 0)
        gs->reading = true;
    else if (!gs->started)
        stream_refuse(gs, 503, "Service Unavailable: the stream's events could not be read; retry");
}

/* GET with Last-Event-ID naming a POST's stream of this session. */
static void resume_post_stream(struct mb_http_transport *t, struct mb_http_exchange *ex,
                               const struct mb_mcp_session *session, const char *stream_id, uint64_t seq)
{
    struct get_stream *gs = stream_new(t, ex, session->info.key);
    if (!gs)
        return;
    gs->resumed = true;
    gs->delivered = seq;
    memcpy(gs->stream_id, stream_id, sizeof gs->stream_id);
    struct mb_sse_stream *local = mb_sse_log_find(t->replay, session->info.key, stream_id, strlen(stream_id));
    if (local) {
        stream_start(gs);
        for (const struct mb_sse_event *e = mb_sse_stream_after(local, seq); e; e = e->next) {
            struct mb_buf ev;
            format_event(&ev, stream_id, e->seq, e->data, e->len);
            if (ev.data)
                reader_write(gs, e->seq, ev.data, ev.len);
            mb_buf_dispose(&ev);
        }
        struct post_exchange *px = mb_sse_stream_is_held(local) ? live_find(t, session->info.key, stream_id) : NULL;
        if (px)
            take_over(px, gs);
        else if (!mb_sse_stream_is_complete(local) || gs->replayed)
            reader_finish(gs); /* else: complete, nothing after the id: a listening stream */
        return;
    }
    struct mb_redis_state *st = mb_mcp_server_redis(t->mcp);
    struct mb_redis_state_health h;
    mb_redis_state_health(st, &h);
    if (!st) {
        stream_refuse(gs, 400, not_kept);
        return;
    }
    if (!h.connected) {
        stream_refuse(gs, 503, "Service Unavailable: the stream may have been written by another instance and "
                               "Redis is not reachable now; retry");
        return;
    }
    /* The worker that writes it, if any, detaches the old connection and announces what follows. */
    mb_redis_state_stream_resumed(st, session->info.key, stream_id);
    gs->watching = true;
    read_remote(gs);
}

/* Receivers of the replay notices from other workers and instances (mcp_server.h hooks). */
static void on_stream_event(void *data, uint64_t session_key, const char *stream_id, uint64_t seq)
{
    struct mb_http_transport *t = data;
    for (struct get_stream *gs = t->streams; gs; gs = gs->next) {
        if (gs->watching && gs->session_key == session_key && strcmp(gs->stream_id, stream_id) == 0 &&
            seq >= gs->delivered)
            read_remote(gs);
    }
}

static void on_stream_resumed(void *data, uint64_t session_key, const char *stream_id)
{
    struct mb_http_transport *t = data;
    struct post_exchange *px = live_find(t, session_key, stream_id);
    if (!px)
        return;
    if (px->ex) {
        struct mb_http_exchange *old = px->ex;
        mb_http_exchange_set_data(old, NULL);
        detach(px);
        mb_http_stream_end(old);
    }
    if (px->reader) { /* resumed here before, and now elsewhere: the client moved on */
        struct get_stream *old = px->reader;
        px->reader = NULL;
        old->source = NULL;
        end_stream(old);
    }
    /* What it wrote before it knew: the reader elsewhere reads up to here. */
    struct mb_redis_state *st = mb_mcp_server_redis(t->mcp);
    mb_redis_state_stream_notice(st, session_key, stream_id, mb_sse_stream_last_seq(px->replay));
}

static const struct mb_mcp_stream_hooks stream_hooks = {on_stream_event, on_stream_resumed};

/* Replay upkeep: expired streams go; the Redis lists of streams still being written are kept
 * alive (a call may run longer than replay_seconds without an event); streams watched through
 * Redis are read again (a notice may have been lost with a link). */
static void on_replay_tick(uv_timer_t *timer)
{
    struct mb_http_transport *t = timer->data;
    uint64_t now = uv_now(t->loop);
    mb_sse_log_expire(t->replay, now);
    struct mb_redis_state *st = mb_mcp_server_redis(t->mcp);
    if (!st)
        return;
    for (struct post_exchange *px = t->live; px; px = px->lnext) {
        if (now - px->ttl_refreshed_ms >= t->replay_ms / 3) {
            char key[64];
            size_t klen = redis_stream_key(px->session.info.key, mb_sse_stream_id(px->replay), key);
            if (mb_redis_state_expire(st, key, klen, t->replay_ms) == 0)
                px->ttl_refreshed_ms = now;
        }
    }
    for (struct get_stream *gs = t->streams; gs; gs = gs->next)
        if (gs->watching && gs->started && !gs->reading)
            read_remote(gs);
}

static void handle_get(struct mb_http_transport *t, struct mb_http_exchange *ex,
                       const struct mb_http_request *req, const struct mb_principal *p)
{
    if (t->draining) {
        /* A stream opened now would be cut at the end of the grace period: send the client
         * elsewhere at once (behind a load balancer its retry reaches another instance). */
        respond_error(ex, 503, MB_JSONRPC_INVALID_REQUEST,
                      "Service Unavailable: this instance is shutting down; open the stream again");
        return;
    }
    size_t alen = 0;
    const char *accept = mb_http_header_get(req, "accept", &alen);
    if (!accept || !(header_has_token(accept, alen, "text/event-stream") || header_has_token(accept, alen, "*/*"))) {
        respond_error(ex, 406, MB_JSONRPC_INVALID_REQUEST, "Not Acceptable: the Accept header must list text/event-stream");
        return;
    }
    struct mb_mcp_session session;
    if (load_session(t, ex, req, &session, p) || load_protocol_version(ex, req, &session))
        return;
    if (!session.has_session) {
        struct mb_http_header allow = {"Allow", 5, "POST", 4};
        mb_http_respond(ex, 405, &allow, 1, NULL, 0);
        return;
    }
    size_t llen = 0;
    const char *last = t->replay ? mb_http_header_get(req, "last-event-id", &llen) : NULL;
    bool reconnecting = false;
    if (last) {
        char stream_id[MB_SSE_STREAM_ID_LEN + 1];
        uint64_t seq = 0;
        if (mb_sse_parse_event_id(last, llen, stream_id, &seq) != 0) {
            respond_error(ex, 400, MB_JSONRPC_INVALID_REQUEST, "Bad Request: Last-Event-ID is not an event id of this server");
            return;
        }
        if (stream_id[0] == MB_SSE_KIND_POST) {
            resume_post_stream(t, ex, &session, stream_id, seq);
            return;
        }
        /* The session's own GET stream carries no messages (the server sends none unasked), so
         * nothing was lost: it is opened again, replacing one this worker may still hold. */
        reconnecting = true;
    }
    for (struct get_stream *gs = t->streams; gs; gs = gs->next) {
        if (gs->session_key == session.info.key && !gs->resumed) {
            if (reconnecting) {
                end_stream(gs);
                break;
            }
            respond_error(ex, 409, MB_JSONRPC_INVALID_REQUEST,
                          "Conflict: this session already has an open event stream");
            return;
        }
    }
    struct get_stream *gs = stream_new(t, ex, session.info.key);
    if (!gs)
        return;
    stream_start(gs);
    mb_http_stream_write(ex, ": stream open\n\n", 15);
    char id[MB_SSE_STREAM_ID_LEN + 1];
    if (t->replay && is_2025_11_25(session.protocol_index) && mb_sse_new_stream_id(MB_SSE_KIND_GET, id) == 0)
        prime(ex, id);
}

static void handle_delete(struct mb_http_transport *t, struct mb_http_exchange *ex,
                          const struct mb_http_request *req, const struct mb_principal *p)
{
    struct mb_mcp_session session;
    if (load_session(t, ex, req, &session, p))
        return;
    if (!session.has_session) {
        struct mb_http_header allow = {"Allow", 5, "POST", 4};
        mb_http_respond(ex, 405, &allow, 1, NULL, 0);
        return;
    }
    mb_mcp_server_end_session(t->mcp, &session.info);
    struct get_stream *gs = t->streams;
    while (gs) { /* its own stream and its resumed ones */
        struct get_stream *next = gs->next;
        if (gs->session_key == session.info.key)
            end_stream(gs);
        gs = next;
    }
    mb_http_respond(ex, 200, NULL, 0, NULL, 0);
}

/* ---- health ---- */

/* /healthz: the worker's loop answers. /readyz: 503 while draining, else 200, with the
 * generation, the tool count, the master's latest capacity sample (capacity.h) and this
 * worker's Redis link ("redis": configured, connected). A Redis outage leaves /readyz at 200:
 * the instance degrades to instance-local state but serves (docs/internals/shared-state.md).
 * Neither is authenticated: probes must reach them, and the figures are not secrets. */
static void handle_health(struct mb_http_transport *t, struct mb_http_exchange *ex, bool ready)
{
    if (!ready) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"status\":\"alive\",\"worker\":%d}", t->worker_id);
        respond_json(ex, 200, body, (size_t)n, NULL, 0);
        return;
    }
    json_t *capacity = NULL;
    struct mb_capacity_snapshot *snap = t->rt->capacity ? malloc(sizeof *snap) : NULL;
    if (snap) {
        mb_capacity_read(t->rt->capacity, snap);
        capacity = mb_capacity_to_json(snap);
        free(snap);
    }
    struct mb_redis_state_health rh;
    bool redis_configured = mb_mcp_server_redis_health(t->mcp, &rh);
    json_t *doc = json_pack("{s:s, s:i, s:I, s:I, s:o, s:{s:b, s:b}}", "status", t->draining ? "draining" : "ready",
                            "worker", t->worker_id, "generation", (json_int_t)t->rt->generation,
                            "tools", (json_int_t)(t->rt->catalog ? t->rt->catalog->tool_count : 0),
                            "capacity", capacity ? capacity : json_null(),
                            "redis", "configured", redis_configured, "connected", rh.connected);
    char *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(doc);
    if (!body) {
        respond_error(ex, 500, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    respond_json(ex, t->draining ? 503 : 200, body, strlen(body), NULL, 0);
    free(body);
}

/* The MCP endpoint, once the caller is known (p NULL: authentication off). */
static void on_authenticated(void *data, struct mb_http_exchange *ex, const struct mb_http_request *req,
                             const struct mb_principal *p)
{
    struct mb_http_transport *t = data;
    if (strcmp(req->method_name, "POST") == 0)
        handle_post(t, ex, req, p);
    else if (strcmp(req->method_name, "GET") == 0)
        handle_get(t, ex, req, p);
    else
        handle_delete(t, ex, req, p);
}

void mb_http_transport_on_request(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                  void *data)
{
    struct mb_http_transport *t = data;
    const struct mb_config *cfg = t->rt->config;
    if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/readyz") == 0) {
        handle_health(t, ex, req->path[1] == 'r');
        return;
    }
    if (t->admin && mb_admin_http_route(t->admin, ex, req))
        return;
    if (mb_http_auth_is_metadata_path(cfg, req->path)) {
        if (strcmp(req->method_name, "GET") != 0)
            respond_error(ex, 405, MB_JSONRPC_INVALID_REQUEST, "Method Not Allowed: GET the metadata");
        else
            mb_http_auth_respond_metadata(ex, req, cfg);
        return;
    }
    if (strcmp(req->path, cfg->path) != 0) {
        respond_error(ex, 404, MB_JSONRPC_INVALID_REQUEST, "Not Found: the MCP endpoint is elsewhere");
        return;
    }
    const char *forbidden = mb_http_host_origin_refusal(cfg, cfg->host, req);
    if (forbidden) {
        mb_info("http", "refused %s from %s: %s", req->method_name, req->peer, forbidden);
        respond_error(ex, 403, MB_JSONRPC_INVALID_REQUEST, forbidden);
        return;
    }
    if (strcmp(req->method_name, "POST") == 0 || strcmp(req->method_name, "GET") == 0 ||
        strcmp(req->method_name, "DELETE") == 0) {
        mb_http_auth_run(t->gw, cfg, ex, req, on_authenticated, t);
    } else {
        struct mb_http_header allow = {"Allow", 5, "GET, POST, DELETE", 17};
        size_t len = 0;
        char *body = mb_jsonrpc_error_text(MB_JSONRPC_INVALID_REQUEST, "Method Not Allowed", &len);
        struct mb_http_header headers[2] = {{"Content-Type", 12, "application/json", 16}, allow};
        mb_http_respond(ex, 405, headers, 2, body, body ? len : 0);
        free(body);
    }
}

static void on_handle_closed(uv_handle_t *handle)
{
    free(handle);
}

/* The worker's replay log and its upkeep timer (docs/internals/shared-state.md). Without one,
 * SSE events carry no ids. 0, or -1 out of memory. */
static int start_replay(struct mb_http_transport *t)
{
    const struct mb_config *cfg = t->rt->config;
    if (!cfg->sse_replay_seconds || !cfg->sessions_enabled)
        return 0;
    t->replay_ms = (uint64_t)cfg->sse_replay_seconds * 1000u;
    t->replay = mb_sse_log_create(t->replay_ms, cfg->sse_max_stream_bytes, cfg->sse_max_worker_bytes);
    t->replay_timer = malloc(sizeof *t->replay_timer);
    if (!t->replay || !t->replay_timer || uv_timer_init(t->loop, t->replay_timer) != 0) {
        mb_sse_log_destroy(t->replay);
        t->replay = NULL;
        free(t->replay_timer);
        t->replay_timer = NULL;
        return -1;
    }
    t->replay_timer->data = t;
    uv_timer_start(t->replay_timer, on_replay_tick, REPLAY_TICK_MS, REPLAY_TICK_MS);
    uv_unref((uv_handle_t *)t->replay_timer);
    mb_mcp_server_set_stream_hooks(t->mcp, &stream_hooks, t);
    return 0;
}

struct mb_http_transport *mb_http_transport_create(uv_loop_t *loop, struct mb_runtime *rt,
                                                   struct mb_mcp_server *mcp, struct mb_gateway *gw,
                                                   int worker_id)
{
    struct mb_http_transport *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->loop = loop;
    t->rt = rt;
    t->mcp = mcp;
    t->gw = gw;
    t->worker_id = worker_id;
    if (rt->config->observability.admin_port == 0 && !(t->admin = mb_admin_http_create(rt, gw, rt->config->host))) {
        free(t);
        return NULL;
    }
    if (start_replay(t) != 0) {
        mb_admin_http_destroy(t->admin);
        free(t);
        return NULL;
    }
    uv_timer_init(loop, &t->keepalive);
    t->keepalive.data = t;
    uv_timer_start(&t->keepalive, on_keepalive, SSE_KEEPALIVE_MS, SSE_KEEPALIVE_MS);
    uv_unref((uv_handle_t *)&t->keepalive);
    return t;
}

void mb_http_transport_drain(struct mb_http_transport *t)
{
    t->draining = true;
    /* The connections end, not the streams: with ids, the client may come back (elsewhere) and
     * resume; the retry field tells it when. */
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %d\n\n", SSE_RETRY_MS);
    while (t->streams) {
        struct get_stream *gs = t->streams;
        if (t->replay && gs->started && !gs->backlog.len)
            mb_http_stream_write(gs->ex, retry, (size_t)n);
        end_stream(gs);
    }
}

unsigned mb_http_transport_stream_count(const struct mb_http_transport *t)
{
    return t->stream_count;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void mb_http_transport_destroy(struct mb_http_transport *t)
{
    if (!t)
        return;
    /* The HTTP server and the MCP core are gone: exchanges aborted, requests abandoned, Redis
     * closed. What remains is memory: streams, detached POSTs, the log. */
    while (t->streams) {
        struct get_stream *gs = t->streams;
        stream_unlink(gs);
        if (gs->source)
            gs->source->reader = NULL;
        mb_buf_dispose(&gs->backlog);
        free(gs);
    }
    while (t->live)
        post_free(t->live); /* detached: their requests were abandoned with the core */
    mb_sse_log_destroy(t->replay);
    t->replay = NULL;
    if (t->replay_timer) {
        uv_timer_stop(t->replay_timer);
        uv_close((uv_handle_t *)t->replay_timer, on_handle_closed);
        t->replay_timer = NULL;
    }
    if (t->bound) {
        OPENSSL_cleanse(t->bound, BOUND_KEY_CACHE * sizeof *t->bound);
        free(t->bound);
        t->bound = NULL;
    }
    mb_admin_http_destroy(t->admin);
    t->admin = NULL;
    uv_timer_stop(&t->keepalive);
    uv_close((uv_handle_t *)&t->keepalive, on_timer_closed);
}
