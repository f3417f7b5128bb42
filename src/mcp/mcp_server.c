/* The MCP core: dispatch of JSON-RPC requests by method, and the methods that answer at once
 * (initialize, ping, tools/list, prompts/..., resources/..., logging/setLevel, completion/complete).
 * tools/call lives in tool_call.c. */
#include "mcp/mcp_server.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/gateway.h"
#include "common/hmac.h"
#include "common/log.h"
#include "auth/token_fetch.h"
#include "limits/circuit.h"
#include "limits/redis_limiter.h"
#include "mcp/http_auth.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_internal.h"
#include "mcp/prompts.h"
#include "mcp/resources.h"
#include "observability/audit.h"
#include "observability/call_stats.h"
#include "openapi/catalog.h"
#include "process/runtime.h"
#include "state/redis_state.h"
#include "upstream/upstream.h"

const char *const mb_mcp_protocol_versions[MB_MCP_PROTOCOL_COUNT] = {
    "2025-11-25", "2025-06-18", "2025-03-26",
};

const char *const mb_mcp_log_levels[8] = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
};

int mb_mcp_protocol_index(const char *version, size_t len)
{
    for (int i = 0; version && i < MB_MCP_PROTOCOL_COUNT; i++)
        if (strlen(mb_mcp_protocol_versions[i]) == len &&
            memcmp(mb_mcp_protocol_versions[i], version, len) == 0)
            return i;
    return -1;
}

int mb_mcp_log_level_index(const char *name)
{
    for (int i = 0; name && i < 8; i++)
        if (strcmp(name, mb_mcp_log_levels[i]) == 0)
            return i;
    return -1;
}

static char *build_initialize_result(const struct mb_runtime *rt, int version_index, size_t *len)
{
    const struct mb_config *cfg = rt->config;
    json_t *caps = json_pack("{s:{s:b}}", "tools", "listChanged", 0);
    if (rt->prompts && mb_prompts_count(rt->prompts))
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 0));
    if (rt->resources && mb_resources_count(rt->resources))
        json_object_set_new(caps, "resources", json_pack("{s:b,s:b}", "subscribe", 1, "listChanged", 0));
    json_object_set_new(caps, "logging", json_object());
    json_object_set_new(caps, "completions", json_object());
    const char *name = cfg->server_name ? cfg->server_name : "mcpbridge";
    json_t *info = json_pack("{s:s,s:s}", "name", name, "version", MB_VERSION);
    if (rt->catalog && rt->catalog->spec_title && version_index != MB_MCP_PROTOCOL_2025_03_26)
        json_object_set_new(info, "title", json_string(rt->catalog->spec_title));
    json_t *result = json_pack("{s:s,s:o,s:o}", "protocolVersion",
                               mb_mcp_protocol_versions[version_index], "capabilities", caps,
                               "serverInfo", info);
    /* The catalog's instructions add openapi_visibility's global.md to server.instructions. */
    const char *instructions =
        rt->catalog && rt->catalog->instructions ? rt->catalog->instructions : cfg->instructions;
    if (instructions)
        json_object_set_new(result, "instructions", json_string(instructions));
    char *text = json_dumps(result, JSON_COMPACT);
    json_decref(result);
    *len = text ? strlen(text) : 0;
    return text;
}

static void on_remote_cancel(void *data, uint64_t session_key, uint64_t id_hash);

/* ---- state from other instances (state/redis_state.h): applied to this instance's shared
 * memory. Every worker applies what it hears; the writes are idempotent. ---- */

static void on_redis_session_ended(void *data, uint64_t session_key, uint64_t expires)
{
    struct mb_mcp_server *srv = data;
    mb_session_end_key(srv->rt->shared, session_key, expires);
}

static void on_redis_log_level(void *data, uint64_t session_key, uint64_t expires, int level)
{
    struct mb_mcp_server *srv = data;
    mb_session_set_log_level_key(srv->rt->shared, session_key, expires, level);
}

/* A client cancelled, on another instance, a request that instance does not hold: every worker
 * of every instance hears it and looks among its own calls (a worker that does not hold it
 * does nothing). */
static void on_redis_cancelled(void *data, uint64_t session_key, uint64_t request_hash)
{
    on_remote_cancel(data, session_key, request_hash);
}

static void on_redis_stream_event(void *data, uint64_t session_key, const char *stream_id, uint64_t seq)
{
    struct mb_mcp_server *srv = data;
    if (srv->stream_hooks && srv->stream_hooks->event)
        srv->stream_hooks->event(srv->stream_hooks_data, session_key, stream_id, seq);
}

static void on_redis_stream_resumed(void *data, uint64_t session_key, const char *stream_id)
{
    struct mb_mcp_server *srv = data;
    if (srv->stream_hooks && srv->stream_hooks->resumed)
        srv->stream_hooks->resumed(srv->stream_hooks_data, session_key, stream_id);
}

static void start_redis_state(struct mb_mcp_server *srv)
{
    const struct mb_redis_config *r = &srv->rt->config->security.redis;
    struct mb_redis_state_options o = {
        .url = r->url, .key_prefix = r->key_prefix, .timeout_ms = r->timeout_ms,
        .events = {on_redis_session_ended, on_redis_log_level, on_redis_cancelled, on_redis_stream_event,
                   on_redis_stream_resumed},
        .data = srv,
    };
    srv->redis_state = mb_redis_state_create(srv->loop, &o);
    if (!srv->redis_state)
        mb_warn("state", "could not set up the Redis state client (bad URL, key prefix too long, or built "
                         "without hiredis); sessions, levels and tokens stay instance-local");
}

/* ---- exchanged tokens shared across instances: token_fetch's shared cache on Redis, keys
 * <prefix>tok:<64 hex>, values sealed by token_fetch under a key derived from the session
 * secret ---- */

static int shared_token_name(const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "tok:%s", key);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static int shared_token_get(void *cache, const char *key, mb_token_shared_done done, void *ctx)
{
    char name[80];
    int n = shared_token_name(key, name, sizeof name);
    return n < 0 ? -EINVAL : mb_redis_state_get(cache, name, (size_t)n, done, ctx);
}

static void shared_token_forget(void *cache, void *ctx)
{
    mb_redis_state_forget(cache, ctx);
}

static void shared_token_set(void *cache, const char *key, const void *value, size_t len, unsigned ttl_seconds)
{
    char name[80];
    int n = shared_token_name(key, name, sizeof name);
    if (n > 0)
        mb_redis_state_set(cache, name, (size_t)n, value, len, (uint64_t)ttl_seconds * 1000u);
}

static const struct mb_token_shared_cache shared_tokens = {shared_token_get, shared_token_forget, shared_token_set};

/* HKDF-SHA256 (RFC 5869), one output block: the AES-256-GCM key for shared tokens. 0 or -1. */
static int derive_token_key(const char *secret, uint8_t out[32])
{
    static const char salt[] = "mcpbridge shared token cache";
    static const char info[] = "aes-256-gcm v1";
    uint8_t prk[MB_HMAC_SHA256_LEN], block[sizeof info];
    int rc = mb_hmac_sha256(salt, sizeof salt - 1, secret, strlen(secret), prk);
    memcpy(block, info, sizeof info - 1);
    block[sizeof info - 1] = 1;
    if (rc == 0)
        rc = mb_hmac_sha256(prk, sizeof prk, block, sizeof block, out);
    OPENSSL_cleanse(prk, sizeof prk);
    return rc;
}

/* Attaches the Redis client as the fetchers' shared cache. Only with a configured session
 * secret: without one each instance has its own random key and could not open the others'
 * values (and should not be trusted to share them). */
static void share_tokens(struct mb_mcp_server *srv)
{
    if (!srv->redis_state || (!srv->exchange && !srv->client_credentials))
        return;
    const char *secret = srv->rt->config->session_secret;
    if (!secret) {
        mb_info("auth", "exchanged tokens are not shared through Redis: runtime.server.session.secret is not "
                        "set, so instances share no key to seal them with");
        return;
    }
    uint8_t key[32];
    if (derive_token_key(secret, key) != 0) {
        mb_warn("auth", "exchanged tokens are not shared through Redis: the key derivation failed");
        return;
    }
    if (srv->exchange)
        mb_token_fetcher_set_shared_cache(srv->exchange, &shared_tokens, srv->redis_state, key);
    if (srv->client_credentials)
        mb_token_fetcher_set_shared_cache(srv->client_credentials, &shared_tokens, srv->redis_state, key);
    OPENSSL_cleanse(key, sizeof key);
}

struct mb_mcp_server *mb_mcp_server_create(uv_loop_t *loop, struct mb_runtime *rt,
                                           struct mb_upstream *up)
{
    struct mb_mcp_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->loop = loop;
    srv->rt = rt;
    srv->up = up;
    srv->stdio_log_level = -1;
    mb_http_auth_set_stats(rt->call_stats);
    /* The configured downstream headers are the same for every call: format them once. */
    const json_t *defaults = rt->config->default_headers;
    if (json_is_object(defaults) && json_object_size(defaults)) {
        srv->default_headers = calloc(json_object_size(defaults), sizeof *srv->default_headers);
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)defaults, key, value) {
            if (!srv->default_headers || !json_is_string(value))
                continue;
            char *line;
            if (asprintf(&line, "%s: %s", key, json_string_value(value)) >= 0)
                srv->default_headers[srv->default_header_count++] = line;
        }
    }
    const struct mb_security_config *sec = &rt->config->security;
    if (sec->downstream.api_key_header &&
        asprintf(&srv->api_key_header, "%s: %s", sec->downstream.api_key_header, sec->downstream.api_key_value) < 0)
        srv->api_key_header = NULL;
    if (sec->rate.enabled && sec->redis.url) {
        srv->redis_limiter = mb_redis_limiter_create(loop, sec->redis.url, sec->redis.key_prefix, sec->redis.timeout_ms);
        if (!srv->redis_limiter)
            mb_warn("rate_limit", "could not set up the Redis rate limiter (%s); limits apply per instance",
                    "bad URL or no hiredis");
    }
    if (sec->redis.url)
        start_redis_state(srv);
    const struct mb_token_exchange_config *x = &sec->user.exchange;
    if (sec->auth_enabled && sec->user.enabled && x->enabled) {
        struct mb_token_fetch_options o = {
            .token_url = x->token_url, .client_id = x->client_id, .client_secret = x->client_secret,
            .client_auth = !x->client_id ? MB_TOKEN_AUTH_NONE : x->client_auth_basic ? MB_TOKEN_AUTH_BASIC
                                                                                  : MB_TOKEN_AUTH_POST,
            .subject_token_type = x->subject_token_type, .requested_token_type = x->requested_token_type,
            .audience = x->audience, .scope = x->scope, .resource = x->resource, .token_path = x->token_path,
            .skew_seconds = x->skew_seconds, .timeout_ms = x->timeout_ms,
        };
        srv->exchange = mb_token_fetcher_create(loop, up, &o);
        if (!srv->exchange) {
            mb_mcp_server_destroy(srv);
            return NULL;
        }
    }
    const typeof(sec->downstream.client_credentials) *cc = &sec->downstream.client_credentials;
    if (cc->enabled) {
        struct mb_token_fetch_options o = {
            .token_url = cc->token_url, .client_id = cc->client_id, .client_secret = cc->client_secret,
            .client_auth = MB_TOKEN_AUTH_BASIC, .audience = cc->audience, .scope = cc->scope,
            .token_path = cc->token_path, .skew_seconds = cc->skew_seconds, .timeout_ms = cc->timeout_ms,
        };
        srv->client_credentials = mb_token_fetcher_create(loop, up, &o);
        if (!srv->client_credentials) {
            mb_mcp_server_destroy(srv);
            return NULL;
        }
    }
    share_tokens(srv);
    if (sec->circuit.enabled) {
        struct mb_circuit_options co;
        mb_circuit_options_default(&co);
        co.error_threshold = sec->circuit.error_threshold;
        co.window_seconds = sec->circuit.window_seconds;
        co.min_requests = sec->circuit.min_requests;
        co.open_seconds = sec->circuit.open_seconds;
        srv->circuits = mb_circuit_create(&co);
    }
    srv->cancel_timer = malloc(sizeof *srv->cancel_timer);
    if (!srv->cancel_timer || uv_timer_init(loop, srv->cancel_timer) != 0) {
        free(srv->cancel_timer);
        srv->cancel_timer = NULL;
        mb_mcp_server_destroy(srv);
        return NULL;
    }
    srv->cancel_timer->data = srv;
    uv_unref((uv_handle_t *)srv->cancel_timer);
    for (int i = 0; i < MB_MCP_PROTOCOL_COUNT; i++) {
        srv->initialize_results[i] = build_initialize_result(rt, i, &srv->initialize_lens[i]);
        if (!srv->initialize_results[i]) {
            mb_mcp_server_destroy(srv);
            return NULL;
        }
    }
    return srv;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

void mb_mcp_server_destroy(struct mb_mcp_server *srv)
{
    if (!srv)
        return;
    while (srv->inflight)
        mb_mcp_request_abandon(srv->inflight);
    if (srv->cancel_timer) {
        uv_timer_stop(srv->cancel_timer);
        uv_close((uv_handle_t *)srv->cancel_timer, on_timer_closed); /* freed by the loop */
    }
    for (int i = 0; i < MB_MCP_PROTOCOL_COUNT; i++)
        free(srv->initialize_results[i]);
    for (size_t i = 0; i < srv->default_header_count; i++)
        free(srv->default_headers[i]);
    free(srv->default_headers);
    for (size_t i = 0; i < MB_MCP_VIEW_CACHE; i++)
        mb_catalog_view_destroy(srv->views[i].view);
    mb_redis_limiter_destroy(srv->redis_limiter);
    mb_token_fetcher_destroy(srv->exchange);
    mb_token_fetcher_destroy(srv->client_credentials);
    mb_redis_state_destroy(srv->redis_state); /* after the fetchers: they may hold lookups in it */
    mb_circuit_destroy(srv->circuits);
    if (srv->api_key_header) {
        OPENSSL_cleanse(srv->api_key_header, strlen(srv->api_key_header));
        free(srv->api_key_header);
    }
    free(srv);
}

void mb_mcp_server_rate_counts(const struct mb_mcp_server *srv, uint64_t *allowed, uint64_t *limited)
{
    *allowed = srv->rate_allowed;
    *limited = srv->rate_limited;
}

unsigned mb_mcp_server_inflight(const struct mb_mcp_server *srv)
{
    return srv->inflight_count;
}

struct mb_redis_state *mb_mcp_server_redis(const struct mb_mcp_server *srv)
{
    return srv->redis_state;
}

bool mb_mcp_server_redis_health(const struct mb_mcp_server *srv, struct mb_redis_state_health *out)
{
    mb_redis_state_health(srv->redis_state, out);
    return srv->rt->config->security.redis.url != NULL;
}

void mb_mcp_server_set_stream_hooks(struct mb_mcp_server *srv, const struct mb_mcp_stream_hooks *hooks, void *data)
{
    srv->stream_hooks = hooks;
    srv->stream_hooks_data = data;
}

void mb_mcp_server_end_session(struct mb_mcp_server *srv, const struct mb_session_info *info)
{
    unsigned ttl = srv->rt->config->session_ttl_seconds;
    mb_session_end(srv->rt->shared, info, ttl); /* refused here at once, Redis or not */
    mb_redis_state_session_ended(srv->redis_state, info->key, mb_session_expires(info, ttl));
}

#define MB_CANCEL_POLL_MS 50

/* A hash of a request id's JSON text: the key remote cancellations are matched by. */
static uint64_t request_id_hash(const json_t *id)
{
    char *text = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    uint64_t h = text ? mb_hash64(text, strlen(text)) : 0;
    free(text);
    return h;
}

static void cancel_request(struct mb_mcp_request *req);

static void on_remote_cancel(void *data, uint64_t session_key, uint64_t id_hash)
{
    struct mb_mcp_server *srv = data;
    for (struct mb_mcp_request *req = srv->inflight; req; req = req->next) {
        if (req->session_key == session_key && session_key != 0 && request_id_hash(req->id) == id_hash) {
            mb_info("mcp", "request cancelled by the client through another worker (%s)",
                    req->tool ? req->tool->name : "?");
            cancel_request(req);
            return;
        }
    }
}

static void on_cancel_tick(uv_timer_t *timer)
{
    struct mb_mcp_server *srv = timer->data;
    mb_shared_cancel_poll(srv->rt->shared, &srv->cancel_cursor, on_remote_cancel, srv);
}

void mb_mcp_request_link(struct mb_mcp_request *req)
{
    struct mb_mcp_server *srv = req->srv;
    req->async = true;
    req->next = srv->inflight;
    if (srv->inflight)
        srv->inflight->prev = req;
    srv->inflight = req;
    if (srv->inflight_count++ == 0 && srv->cancel_timer) {
        /* Only cancellations posted from now on can concern calls that start now. */
        srv->cancel_cursor = mb_shared_cancel_head(srv->rt->shared);
        uv_timer_start(srv->cancel_timer, on_cancel_tick, MB_CANCEL_POLL_MS, MB_CANCEL_POLL_MS);
    }
}

void mb_mcp_request_free(struct mb_mcp_request *req)
{
    struct mb_mcp_server *srv = req->srv;
    if (req->async) {
        if (req->prev)
            req->prev->next = req->next;
        else
            srv->inflight = req->next;
        if (req->next)
            req->next->prev = req->prev;
        if (--srv->inflight_count == 0 && srv->cancel_timer)
            uv_timer_stop(srv->cancel_timer);
    }
    mb_mcp_guard_dispose(req); /* a call cancelled or abandoned mid-body */
    json_decref(req->args);
    if (req->downstream_auth) {
        OPENSSL_cleanse(req->downstream_auth, strlen(req->downstream_auth));
        free(req->downstream_auth);
    }
    json_decref(req->id);
    json_decref(req->progress_token);
    free(req->payload_log);
    free(req->url);
    free(req->circuit_host);
    free(req);
}

static const char *const method_names[MB_METHOD_COUNT] = MB_METHOD_NAMES;

/* Records the end of a request: method counter, request latency and, for tools/call, the
 * tool's outcome, duration and bytes and the tool_call audit event. ok = answered with a result. */
static void record_end(struct mb_mcp_request *req, bool ok)
{
    struct mb_call_stats *cs = req->srv->rt->call_stats;
    uint64_t us = (uv_hrtime() - req->started_ns) / 1000;
    mb_call_stats_count_method(cs, req->method_index, ok);
    mb_call_stats_record_phase(cs, MB_PHASE_REQUEST, us);
    if (!req->tool)
        return;
    if (!ok && req->outcome == MB_OUTCOME_OK)
        req->outcome = MB_OUTCOME_ERROR;
    const struct mb_catalog *catalog = req->srv->rt->catalog;
    mb_call_stats_record_tool(cs, (size_t)(req->tool - catalog->tools), (enum mb_call_outcome)req->outcome, us,
                              req->downstream_bytes);
    mb_call_stats_record_phase(cs, MB_PHASE_TOOL_CALL, us);
    if (!mb_log_enabled(MB_LOG_INFO, "audit"))
        return;
    const struct mb_principal *p = req->principal;
    char session[9] = "";
    if (req->session_key)
        mb_audit_session_tag(req->session_key, session);
    struct mb_audit_event ev = {
        .category = "tool_call", .action = "call",
        .status = req->end_status ? req->end_status : mb_call_outcome_name((enum mb_call_outcome)req->outcome),
        .client_id = p && p->client_id[0] ? p->client_id : NULL,
        .principal = p && p->subject[0] ? p->subject : NULL,
        .session_id = session[0] ? session : NULL,
        .tool = req->tool->name,
        .duration_ms = (double)us / 1000.0 + 0.0005,
        .bytes = (int64_t)req->downstream_bytes,
        .http_status = req->downstream_status,
        .guard = req->guard_outcome,
        .extra = req->payload_log,
    };
    mb_audit(&ev);
}

/* Delivers the final bytes and, for an in-flight request, frees it. */
static void deliver_final(struct mb_mcp_request *req, const char *json, size_t len, bool ok)
{
    record_end(req, ok);
    req->finished = true;
    req->ops->message(req->sink, json, len, true);
    if (req->async)
        mb_mcp_request_free(req);
}

void mb_mcp_finish_error_data(struct mb_mcp_request *req, int code, const char *message, json_t *data)
{
    if (code == MB_JSONRPC_INTERNAL_ERROR)  /* the server's own failures, on the documented "errors" logger */
        mb_error("errors", "%s%s%s: %s", method_names[req->method_index], req->tool ? " " : "",
                 req->tool ? req->tool->name : "", message);
    struct mb_buf out;
    mb_buf_init(&out, MB_MCP_MAX_RESPONSE);
    if (mb_jsonrpc_write_error(&out, req->id, code, message, data) == 0)
        deliver_final(req, out.data, out.len, false);
    else
        deliver_final(req, NULL, 0, false);
    mb_buf_dispose(&out);
    json_decref(data);
}

void mb_mcp_finish_error(struct mb_mcp_request *req, int code, const char *message)
{
    mb_mcp_finish_error_data(req, code, message, NULL);
}

void mb_mcp_finish_raw(struct mb_mcp_request *req, const char *raw, size_t len)
{
    struct mb_buf out;
    mb_buf_init(&out, MB_MCP_MAX_RESPONSE);
    mb_buf_reserve(&out, len + 64);
    if (mb_jsonrpc_write_result_raw(&out, req->id, raw, len) == 0)
        deliver_final(req, out.data, out.len, true);
    else
        mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "response too large");
    mb_buf_dispose(&out);
}

void mb_mcp_finish_result(struct mb_mcp_request *req, json_t *result)
{
    struct mb_buf out;
    mb_buf_init(&out, MB_MCP_MAX_RESPONSE);
    if (result && mb_jsonrpc_write_result(&out, req->id, result) == 0)
        deliver_final(req, out.data, out.len, true);
    else
        mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, result ? "response too large" : "out of memory");
    mb_buf_dispose(&out);
    json_decref(result);
}

void mb_mcp_send_notification(struct mb_mcp_request *req, const char *method, json_t *params)
{
    struct mb_buf out;
    mb_buf_init(&out, 1024 * 1024);
    if (mb_jsonrpc_write_notification(&out, method, params) == 0)
        req->ops->message(req->sink, out.data, out.len, false);
    mb_buf_dispose(&out);
    json_decref(params);
}

void mb_mcp_request_abandon(struct mb_mcp_request *req)
{
    req->end_status = "abandoned";  /* the client went away: no answer, but it counts */
    record_end(req, false);
    mb_mcp_tools_call_stop(req);
    mb_mcp_request_free(req);
}

/* ---- methods that answer at once ---- */

static void do_initialize(struct mb_mcp_request *req, struct mb_mcp_session *session,
                          const json_t *params)
{
    struct mb_mcp_server *srv = req->srv;
    const json_t *requested = json_object_get(params, "protocolVersion");
    if (!json_is_string(requested)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "initialize: params.protocolVersion must be a string");
        return;
    }
    /* Echo a supported version; otherwise offer our newest, as the specification says. */
    int index = mb_mcp_protocol_index(json_string_value(requested), json_string_length(requested));
    if (index < 0)
        index = 0;
    if (srv->rt->config->sessions_enabled && session && !session->has_session) {
        if (mb_session_issue(session->has_mac_key ? session->mac_key : srv->rt->session_key, index, session->id,
                             &session->info)) {
            mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "could not create a session");
            return;
        }
        session->has_session = true;
        session->created = true;
    }
    if (session)
        session->protocol_index = index;
    const json_t *client = json_object_get(params, "clientInfo");
    mb_debug("mcp", "initialize from %s, protocol %s",
             json_is_string(json_object_get(client, "name"))
                 ? json_string_value(json_object_get(client, "name")) : "unknown client",
             mb_mcp_protocol_versions[index]);
    mb_mcp_finish_raw(req, srv->initialize_results[index], srv->initialize_lens[index]);
}

/* Reads an optional string cursor; returns 0, or -1 when present but not a string. */
static int get_cursor(const json_t *params, const char **cursor)
{
    const json_t *c = json_object_get(params, "cursor");
    *cursor = NULL;
    if (!c || json_is_null(c))
        return 0;
    if (!json_is_string(c))
        return -1;
    *cursor = json_string_value(c);
    return 0;
}

struct view_filter {
    const struct mb_security_config *sec;
    const struct mb_principal *p;
};

static bool tool_visible(void *data, const struct mb_tool *t)
{
    const struct view_filter *f = data;
    return mb_principal_may_use(f->sec, f->p, t->name, NULL, 0);
}

/* The tools/list view for the caller's scopes: built once per scope set and kept (a few sets
 * per deployment), NULL when every tool is visible (no authorization rules) or on failure. */
static const struct mb_catalog_view *view_for(struct mb_mcp_request *req)
{
    struct mb_mcp_server *srv = req->srv;
    const struct mb_security_config *sec = &srv->rt->config->security;
    if (!req->principal)
        return NULL;
    uint64_t key = mb_principal_visibility_key(sec, req->principal);
    if (!key)
        return NULL;
    for (size_t i = 0; i < MB_MCP_VIEW_CACHE; i++)
        if (srv->views[i].key == key)
            return srv->views[i].view;
    struct view_filter f = { sec, req->principal };
    struct mb_catalog_view *v = mb_catalog_view_create(srv->rt->catalog, tool_visible, &f, (uint32_t)(key ^ (key >> 32)));
    if (!v)
        return NULL;
    unsigned slot = srv->next_view++ % MB_MCP_VIEW_CACHE;
    mb_catalog_view_destroy(srv->views[slot].view);
    srv->views[slot].key = key;
    srv->views[slot].view = v;
    return v;
}

static void do_tools_list(struct mb_mcp_request *req, const json_t *params)
{
    const char *cursor;
    size_t len = 0;
    const char *page = NULL;
    const struct mb_catalog_view *view = view_for(req);
    if (get_cursor(params, &cursor) == 0)
        page = view ? mb_catalog_view_page(view, cursor, &len) : mb_catalog_page(req->srv->rt->catalog, cursor, &len);
    if (!page) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "tools/list: invalid cursor");
        return;
    }
    mb_mcp_finish_raw(req, page, len);
}

static void do_prompts_get(struct mb_mcp_request *req, const json_t *params)
{
    const json_t *name = json_object_get(params, "name");
    if (!json_is_string(name)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "prompts/get: params.name must be a string");
        return;
    }
    const json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "prompts/get: params.arguments must be an object");
        return;
    }
    json_t *result = NULL;
    char msg[512] = "";
    int rc = mb_prompts_get(req->srv->rt->prompts, json_string_value(name), args, &result, msg, sizeof msg);
    if (rc == -ENOENT) {
        char text[600];
        snprintf(text, sizeof text, "Unknown prompt: %s", json_string_value(name));
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, text);
    } else if (rc) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, msg[0] ? msg : "invalid prompt arguments");
    } else {
        mb_mcp_finish_result(req, result);
    }
}

static void do_resources_read(struct mb_mcp_request *req, const json_t *params)
{
    const json_t *uri = json_object_get(params, "uri");
    if (!json_is_string(uri)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "resources/read: params.uri must be a string");
        return;
    }
    json_t *result = NULL;
    int rc = mb_resources_read(req->srv->rt->resources, json_string_value(uri), &result);
    if (rc == 0) {
        mb_mcp_finish_result(req, result);
        return;
    }
    char text[600];
    if (rc == -ENOENT) {
        struct mb_buf out;
        mb_buf_init(&out, 8192);
        json_t *data = json_pack("{s:O}", "uri", uri);
        snprintf(text, sizeof text, "Resource not found: %s", json_string_value(uri));
        if (mb_jsonrpc_write_error(&out, req->id, MB_JSONRPC_RESOURCE_NOT_FOUND, text, data) == 0)
            deliver_final(req, out.data, out.len, false);
        else
            mb_mcp_finish_error(req, MB_JSONRPC_RESOURCE_NOT_FOUND, "Resource not found");
        json_decref(data);
        mb_buf_dispose(&out);
        return;
    }
    snprintf(text, sizeof text, "Resource %s could not be read (%s)", json_string_value(uri),
             rc == -EFBIG ? "larger than assistant.resources.max_file_bytes" : "I/O error");
    mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, text);
}

static void do_resources_subscribe(struct mb_mcp_request *req, const json_t *params)
{
    const json_t *uri = json_object_get(params, "uri");
    if (!json_is_string(uri)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "params.uri must be a string");
        return;
    }
    if (!mb_resources_exists(req->srv->rt->resources, json_string_value(uri))) {
        char text[600];
        snprintf(text, sizeof text, "Resource not found: %s", json_string_value(uri));
        mb_mcp_finish_error(req, MB_JSONRPC_RESOURCE_NOT_FOUND, text);
        return;
    }
    mb_mcp_finish_result(req, json_object());
}

static void do_set_level(struct mb_mcp_request *req, const struct mb_mcp_session *session,
                         const json_t *params)
{
    const json_t *level = json_object_get(params, "level");
    int index = json_is_string(level) ? mb_mcp_log_level_index(json_string_value(level)) : -1;
    if (index < 0) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS,
                     "logging/setLevel: params.level must be one of debug, info, notice, warning, "
                     "error, critical, alert, emergency");
        return;
    }
    struct mb_mcp_server *srv = req->srv;
    unsigned ttl = srv->rt->config->session_ttl_seconds;
    if (session && session->has_session) {
        mb_session_set_log_level(srv->rt->shared, &session->info, ttl, index);
        mb_redis_state_log_level(srv->redis_state, session->info.key, mb_session_expires(&session->info, ttl), index);
    } else
        srv->stdio_log_level = index;
    mb_mcp_finish_result(req, json_object());
}

static void do_complete(struct mb_mcp_request *req, const json_t *params)
{
    const json_t *ref = json_object_get(params, "ref");
    const json_t *argument = json_object_get(params, "argument");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *arg_name = json_string_value(json_object_get(argument, "name"));
    const char *value = json_string_value(json_object_get(argument, "value"));
    if (!type || !arg_name || !value) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS,
                     "completion/complete: params.ref.type, params.argument.name and params.argument.value are required");
        return;
    }
    json_t *values = NULL;
    if (strcmp(type, "ref/prompt") == 0) {
        const char *name = json_string_value(json_object_get(ref, "name"));
        if (!name || !mb_prompts_count(req->srv->rt->prompts)) {
            mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "completion/complete: unknown prompt");
            return;
        }
        values = mb_prompts_complete(req->srv->rt->prompts, name, arg_name, value);
    } else if (strcmp(type, "ref/resource") == 0) {
        const char *uri = json_string_value(json_object_get(ref, "uri"));
        if (!uri) {
            mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "completion/complete: params.ref.uri is required");
            return;
        }
        values = mb_resources_complete(req->srv->rt->resources, uri, arg_name, value);
    } else {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "completion/complete: params.ref.type must be ref/prompt or ref/resource");
        return;
    }
    if (!values)
        values = json_array();
    size_t total = json_array_size(values);
    while (json_array_size(values) > 100)
        json_array_remove(values, json_array_size(values) - 1);
    mb_mcp_finish_result(req, json_pack("{s:{s:o,s:I,s:b}}", "completion", "values", values, "total",
                                        (json_int_t)total, "hasMore", total > 100));
}

struct mb_mcp_request *mb_mcp_handle_request(struct mb_mcp_server *srv, struct mb_mcp_session *session,
                                             const json_t *msg, const struct mb_mcp_sink_ops *ops,
                                             void *sink)
{
    struct mb_mcp_request *req = calloc(1, sizeof *req);
    if (!req) {
        size_t len = 0;
        char *text = mb_jsonrpc_error_text(MB_JSONRPC_INTERNAL_ERROR, "out of memory", &len);
        ops->message(sink, text, len, true);
        free(text);
        return NULL;
    }
    req->srv = srv;
    req->id = json_incref(json_object_get(msg, "id"));
    req->ops = ops;
    req->sink = sink;
    req->log_level = -1;
    req->started_ns = uv_hrtime();
    req->principal = session ? session->principal : NULL;
    if (session && session->has_session) {
        req->session_key = session->info.key;
        req->log_level = mb_session_log_level(srv->rt->shared, &session->info);
    } else {
        req->log_level = srv->stdio_log_level;
    }

    const char *method = json_string_value(json_object_get(msg, "method"));
    req->method_index = mb_call_stats_method_index(method);
    const json_t *params = json_object_get(msg, "params");
    static json_t *empty;
    if (!empty)
        empty = json_object();
    if (!params)
        params = empty;
    const struct mb_runtime *rt = srv->rt;
    struct mb_mcp_request *pending = NULL;

    if (!json_is_object(params)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "params must be an object for MCP methods");
    } else if (strcmp(method, "tools/call") == 0) {
        pending = mb_mcp_tools_call(req, params);
    } else if (strcmp(method, "tools/list") == 0) {
        do_tools_list(req, params);
    } else if (strcmp(method, "ping") == 0) {
        mb_mcp_finish_result(req, json_object());
    } else if (strcmp(method, "initialize") == 0) {
        do_initialize(req, session, params);
    } else if (strcmp(method, "prompts/list") == 0 && mb_prompts_count(rt->prompts)) {
        mb_mcp_finish_result(req, mb_prompts_list(rt->prompts));
    } else if (strcmp(method, "prompts/get") == 0 && mb_prompts_count(rt->prompts)) {
        do_prompts_get(req, params);
    } else if (strcmp(method, "resources/list") == 0 && mb_resources_count(rt->resources)) {
        mb_mcp_finish_result(req, mb_resources_list(rt->resources));
    } else if (strcmp(method, "resources/templates/list") == 0 && mb_resources_count(rt->resources)) {
        mb_mcp_finish_result(req, mb_resources_templates(rt->resources));
    } else if (strcmp(method, "resources/read") == 0 && mb_resources_count(rt->resources)) {
        do_resources_read(req, params);
    } else if ((strcmp(method, "resources/subscribe") == 0 || strcmp(method, "resources/unsubscribe") == 0) &&
               mb_resources_count(rt->resources)) {
        do_resources_subscribe(req, params);
    } else if (strcmp(method, "logging/setLevel") == 0) {
        do_set_level(req, session, params);
    } else if (strcmp(method, "completion/complete") == 0) {
        do_complete(req, params);
    } else {
        char text[300];
        snprintf(text, sizeof text, "Method not found: %.200s", method);
        mb_mcp_finish_error(req, MB_JSONRPC_METHOD_NOT_FOUND, text);
    }

    if (pending)
        return pending;
    if (!req->async)
        mb_mcp_request_free(req);
    return NULL;
}

/* Cancels a request in flight: stops the downstream transfer and ends the exchange without a
 * response, as the specification asks. */
static void cancel_request(struct mb_mcp_request *req)
{
    mb_mcp_tools_call_stop(req);
    req->end_status = "cancelled";
    deliver_final(req, NULL, 0, false);
}

void mb_mcp_handle_notification(struct mb_mcp_server *srv, const struct mb_mcp_session *session,
                                const json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (strcmp(method, "notifications/cancelled") != 0)
        return; /* initialized, roots/list_changed, progress from the client: nothing to do */
    const json_t *params = json_object_get(msg, "params");
    const json_t *request_id = json_object_get(params, "requestId");
    if (!json_is_string(request_id) && !json_is_integer(request_id))
        return;
    uint64_t key = session && session->has_session ? session->info.key : 0;
    for (struct mb_mcp_request *req = srv->inflight; req; req = req->next) {
        if (req->session_key == key && json_equal(req->id, request_id)) {
            mb_info("mcp", "request cancelled by the client (%s)", req->tool ? req->tool->name : "?");
            cancel_request(req);
            return;
        }
    }
    /* Not here: the call may run on another worker (clients use several connections), or on
     * another instance behind the same load balancer. */
    if (key) {
        uint64_t hash = request_id_hash(request_id);
        mb_shared_cancel_post(srv->rt->shared, key, hash);
        mb_redis_state_request_cancelled(srv->redis_state, key, hash);
    }
}
