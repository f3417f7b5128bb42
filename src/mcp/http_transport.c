/* Implementation of http_transport.h. One struct post_exchange per POST in progress holds the
 * decoded message(s), one sink per JSON-RPC request, and either the collected JSON responses
 * or the SSE stream they are written to. The admin routes (metrics, status page) are
 * admin_http.c's; this listener serves them unless observability.metrics.port moves them to a
 * listener of their own. */
#include "mcp/http_transport.h"

#include <errno.h>
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

#define SSE_KEEPALIVE_MS 15000
#define MAX_BATCH 100

struct get_stream {
    struct get_stream *prev, *next;
    struct mb_http_transport *t;
    struct mb_http_exchange *ex;
    uint64_t session_key;
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
};

struct post_exchange;

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

/* ---- POST ---- */

static void post_free(struct post_exchange *px)
{
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

static int write_event(struct post_exchange *px, const char *json, size_t len)
{
    struct mb_buf ev;
    mb_buf_init(&ev, len + 64);
    mb_buf_append_str(&ev, "event: message\ndata: ");
    mb_buf_append(&ev, json, len);
    mb_buf_append_str(&ev, "\n\n");
    int rc = mb_http_stream_write(px->ex, ev.data, ev.len);
    if (rc == -ENOBUFS)
        rc = mb_buf_append(&px->backlog, ev.data, ev.len) ? -ENOBUFS : 0;
    mb_buf_dispose(&ev);
    return rc;
}

static void start_stream(struct post_exchange *px)
{
    struct mb_http_header headers[3] = {
        {"Content-Type", 12, "text/event-stream", 17},
        {"Cache-Control", 13, "no-cache", 8},
    };
    size_t n = 2;
    if (px->session.created)
        session_header(px, &headers[n++]);
    mb_http_stream_start(px->ex, 200, headers, n);
    px->streaming = true;
    /* Responses already collected (earlier requests of a batch) go out first. */
    if (px->collected_count) {
        for (size_t i = 0; i < px->sink_count; i++) {
            struct request_sink *sk = &px->sinks[i];
            if (sk->collected) {
                write_event(px, px->collected.data + sk->off, sk->len);
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
        int rc = mb_http_stream_write(px->ex, "event: message\ndata: ", 21);
        if (rc == 0) {
            mb_http_stream_write(px->ex, json, len);
            mb_http_stream_write(px->ex, "\n\n", 2);
        } /* a slow reader loses progress and log notifications, never results */
        return;
    }
    s->done = true;
    s->handle = NULL;
    px->pending--;
    if (json) {
        if (px->streaming) {
            write_event(px, json, len);
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

static void on_post_abort(struct mb_http_exchange *ex, void *data)
{
    struct post_exchange *px = mb_http_exchange_get_data(ex);
    (void)data;
    if (!px)
        return;
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

/* ---- GET (server-initiated stream) and DELETE ---- */

static void stream_unlink(struct get_stream *gs)
{
    struct mb_http_transport *t = gs->t;
    if (gs->prev)
        gs->prev->next = gs->next;
    else
        t->streams = gs->next;
    if (gs->next)
        gs->next->prev = gs->prev;
    t->stream_count--;
}

static void on_stream_abort(struct mb_http_exchange *ex, void *data)
{
    struct get_stream *gs = mb_http_exchange_get_data(ex);
    (void)data;
    if (!gs)
        return;
    stream_unlink(gs);
    free(gs);
}

static void end_stream(struct get_stream *gs)
{
    stream_unlink(gs);
    mb_http_stream_end(gs->ex);
    free(gs);
}

static void on_keepalive(uv_timer_t *timer)
{
    struct mb_http_transport *t = timer->data;
    for (struct get_stream *gs = t->streams; gs; gs = gs->next)
        mb_http_stream_write(gs->ex, ": keepalive\n\n", 13);
}

static void handle_get(struct mb_http_transport *t, struct mb_http_exchange *ex,
                       const struct mb_http_request *req, const struct mb_principal *p)
{
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
    for (struct get_stream *gs = t->streams; gs; gs = gs->next) {
        if (gs->session_key == session.info.key) {
            respond_error(ex, 409, MB_JSONRPC_INVALID_REQUEST,
                          "Conflict: this session already has an open event stream");
            return;
        }
    }
    struct get_stream *gs = calloc(1, sizeof *gs);
    if (!gs) {
        respond_error(ex, 500, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    gs->t = t;
    gs->ex = ex;
    gs->session_key = session.info.key;
    gs->next = t->streams;
    if (t->streams)
        t->streams->prev = gs;
    t->streams = gs;
    t->stream_count++;
    mb_http_exchange_set_data(ex, gs);
    mb_http_exchange_on_abort(ex, on_stream_abort);
    struct mb_http_header headers[2] = {
        {"Content-Type", 12, "text/event-stream", 17},
        {"Cache-Control", 13, "no-cache", 8},
    };
    mb_http_stream_start(ex, 200, headers, 2);
    mb_http_stream_write(ex, ": stream open\n\n", 15);
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
    mb_session_end(t->rt->shared, &session.info, t->rt->config->session_ttl_seconds);
    for (struct get_stream *gs = t->streams; gs; gs = gs->next) {
        if (gs->session_key == session.info.key) {
            end_stream(gs);
            break;
        }
    }
    mb_http_respond(ex, 200, NULL, 0, NULL, 0);
}

/* ---- health ---- */

/* /healthz: the worker's loop answers. /readyz: 503 while draining, else 200, with the
 * generation, the tool count and the master's latest capacity sample (capacity.h). Neither
 * is authenticated: probes must reach them, and the figures are not secrets. */
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
    json_t *doc = json_pack("{s:s, s:i, s:I, s:I, s:o}", "status", t->draining ? "draining" : "ready",
                            "worker", t->worker_id, "generation", (json_int_t)t->rt->generation,
                            "tools", (json_int_t)(t->rt->catalog ? t->rt->catalog->tool_count : 0),
                            "capacity", capacity ? capacity : json_null());
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
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
    uv_timer_init(loop, &t->keepalive);
    t->keepalive.data = t;
    uv_timer_start(&t->keepalive, on_keepalive, SSE_KEEPALIVE_MS, SSE_KEEPALIVE_MS);
    uv_unref((uv_handle_t *)&t->keepalive);
    return t;
}

void mb_http_transport_drain(struct mb_http_transport *t)
{
    t->draining = true;
    while (t->streams)
        end_stream(t->streams);
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
    while (t->streams) {
        struct get_stream *gs = t->streams;
        stream_unlink(gs);
        free(gs);
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
