/* The MCP protocol core of one worker, independent of the transport (Streamable HTTP or stdio).
 * A transport decodes JSON-RPC messages and hands each request here together with a sink;
 * the core answers through the sink: zero or more notifications that belong to the request
 * (progress, log messages) and then exactly one final response. Cheap methods answer before
 * mb_mcp_handle_request returns; tools/call answers later from the loop, when the downstream
 * call completes. Everything the answers are built from (catalog pages, initialize results)
 * was prepared before the first request. */
#ifndef MB_MCP_SERVER_H
#define MB_MCP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mcp/session.h"

#define MB_VERSION "0.1.0"
#define MB_MCP_PROTOCOL_COUNT 3

/* Supported protocol versions, newest first: 2025-11-25, 2025-06-18, 2025-03-26. */
extern const char *const mb_mcp_protocol_versions[MB_MCP_PROTOCOL_COUNT];
/* The index of a supported version string, or -1. */
int mb_mcp_protocol_index(const char *version, size_t len);
/* The index of 2025-03-26, the only version that allows JSON-RPC batches. */
#define MB_MCP_PROTOCOL_2025_03_26 2

struct mb_runtime;
struct mb_principal;
struct mb_upstream;
struct mb_mcp_server;
struct mb_mcp_request;

/* Who is speaking: filled by the transport from the Mcp-Session-Id header (HTTP) or left
 * without a session (stdio, stateless HTTP). initialize fills id/info and sets created. */
struct mb_mcp_session {
    bool has_session;
    bool created;                     /* set by initialize: the transport returns the id */
    struct mb_session_info info;
    char id[MB_SESSION_ID_MAX];
    int protocol_index;               /* negotiated or declared version */
    bool has_mac_key;                 /* mac_key (bound to the principal) signs and checks the id */
    uint8_t mac_key[32];
    const struct mb_principal *principal; /* auth/gateway.h: the authenticated caller, or NULL when
                                       * authentication is off (HTTP) or not applicable (stdio:
                                       * the local user); borrowed, must outlive the request */
};

struct mb_mcp_sink_ops {
    /* One serialized JSON-RPC message for the request's client. final=false: a notification
     * tied to the request; final=true: the response, after which the sink is never used again.
     * json==NULL with final=true: the request ended without a response (cancelled). */
    void (*message)(void *sink, const char *json, size_t len, bool final);
};

/* Creates the core for one worker. rt and up are borrowed and must outlive the server.
 * Returns NULL on allocation failure. */
struct mb_mcp_server *mb_mcp_server_create(uv_loop_t *loop, struct mb_runtime *rt,
                                           struct mb_upstream *up);
/* Abandons every request in flight (their sinks are not called again) and frees the core. */
void mb_mcp_server_destroy(struct mb_mcp_server *srv);
/* Rate-limit decisions this worker made (for metrics). */
void mb_mcp_server_rate_counts(const struct mb_mcp_server *srv, uint64_t *allowed, uint64_t *limited);
/* Requests waiting for a downstream answer. */
unsigned mb_mcp_server_inflight(const struct mb_mcp_server *srv);

struct mb_redis_state;
struct mb_redis_state_health;
/* The worker's Redis state client (state/redis_state.h), or NULL when runtime.redis.url is not
 * set (or the client could not be made). Borrowed: it lives as long as srv. */
struct mb_redis_state *mb_mcp_server_redis(const struct mb_mcp_server *srv);
/* Fills *out with the client's health (all zero without one); returns whether Redis is
 * configured for this worker. */
bool mb_mcp_server_redis_health(const struct mb_mcp_server *srv, struct mb_redis_state_health *out);
/* Ends a session (DELETE): the tombstone in this instance's shared memory at once, and, with
 * Redis, the same on every other instance (docs/internals/shared-state.md). */
void mb_mcp_server_end_session(struct mb_mcp_server *srv, const struct mb_session_info *info);

/* Receivers of the SSE replay notices other workers and instances publish through Redis (the
 * HTTP transport's resumed streams): a new event in a stream's list, a client that resumed a
 * stream elsewhere (state/redis_state.h, stream_event and stream_resumed). Run from the loop. */
struct mb_mcp_stream_hooks {
    void (*event)(void *data, uint64_t session_key, const char *stream_id, uint64_t seq);
    void (*resumed)(void *data, uint64_t session_key, const char *stream_id);
};
/* Sets the receivers (hooks borrowed; NULL: none). */
void mb_mcp_server_set_stream_hooks(struct mb_mcp_server *srv, const struct mb_mcp_stream_hooks *hooks, void *data);

/* Handles one JSON-RPC request (already classified as a request). msg is borrowed. Returns
 * NULL when the final response was already delivered to the sink, else a handle valid until
 * the final response is delivered or mb_mcp_request_abandon is called. */
struct mb_mcp_request *mb_mcp_handle_request(struct mb_mcp_server *srv, struct mb_mcp_session *session,
                                             const json_t *msg, const struct mb_mcp_sink_ops *ops,
                                             void *sink);
/* The client is gone: cancels the downstream call; the sink is never called again. */
void mb_mcp_request_abandon(struct mb_mcp_request *req);
/* Handles a notification (notifications/initialized, notifications/cancelled, ...). */
void mb_mcp_handle_notification(struct mb_mcp_server *srv, const struct mb_mcp_session *session,
                                const json_t *msg);

#endif
