/* Private to src/mcp/: the core's state shared by mcp_server.c (dispatch and the cheap
 * methods) and tool_call.c (the downstream pipeline of tools/call). */
#ifndef MB_MCP_INTERNAL_H
#define MB_MCP_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "guard/guard.h"
#include "mcp/mcp_server.h"

#define MB_MCP_MAX_RESPONSE (64u * 1024 * 1024)

#define MB_MCP_VIEW_CACHE 16

struct mb_mcp_server {
    uv_loop_t *loop;
    struct mb_runtime *rt;
    struct mb_upstream *up;
    char *initialize_results[MB_MCP_PROTOCOL_COUNT]; /* prepared result objects */
    size_t initialize_lens[MB_MCP_PROTOCOL_COUNT];
    struct mb_mcp_request *inflight;                 /* doubly linked list */
    unsigned inflight_count;
    int stdio_log_level;                             /* logging level without a session (-1 = unset) */
    char **default_headers;                          /* runtime.http.default_headers as "Name: value", formatted once */
    size_t default_header_count;
    uv_timer_t *cancel_timer;                        /* polls the shared cancel ring while calls are in flight */
    uint64_t cancel_cursor;                          /* last cancel-ring sequence number seen */
    char *api_key_header;                            /* security.downstream.api_key as "Name: value", or NULL */
    struct mb_redis_limiter *redis_limiter;          /* rate limits across instances, or NULL */
    struct mb_redis_state *redis_state;              /* state/redis_state.h: sessions, levels, cancels,
                                                      * exchanged tokens and SSE logs across instances;
                                                      * NULL without runtime.redis.url */
    const struct mb_mcp_stream_hooks *stream_hooks;  /* the transport's SSE replay receivers, or NULL */
    void *stream_hooks_data;
    uint64_t rate_allowed, rate_limited;             /* rate-limit decisions of this worker */
    struct mb_circuit_set *circuits;                 /* per downstream host, or NULL (breaker off) */
    struct mb_token_fetcher *exchange;               /* RFC 8693 token exchange of the user's token, or NULL */
    struct mb_token_fetcher *client_credentials;     /* mcpbridge's own token for the API, or NULL */
    struct {                                         /* tools/list pages per scope set (auth on) */
        uint64_t key;                                /* mb_principal_visibility_key; 0 = empty slot */
        struct mb_catalog_view *view;
    } views[MB_MCP_VIEW_CACHE];
    unsigned next_view;                              /* round-robin replacement */
};

/* The response guard of one tools/call (tool_call.c): the downstream body goes through the
 * streaming guard (JSON or text by Content-Type) or, for other types, into a capped buffer. */
enum mb_mcp_body_kind {
    MB_BODY_UNDECIDED = 0,  /* no body byte yet */
    MB_BODY_GUARD,          /* fed to the guard; out holds the guarded body */
    MB_BODY_PLAIN,          /* accumulated in out, capped at max_response_bytes */
};

struct mb_mcp_guarded {
    enum mb_mcp_body_kind kind;
    enum mb_guard_mode mode;
    enum mb_guard_input input;
    bool fell_back;                    /* invalid JSON: guarded as text */
    bool raw_overflow;                 /* raw could not keep the whole input */
    bool invalid_late;                 /* invalid JSON past what raw holds: no text fallback */
    uint64_t bad_json_offset;          /* where the JSON broke (input byte), when it did */
    const char *bad_json_reason;       /* the guard's static message, or NULL */
    const struct mb_guard_policy *policy; /* the tool's settings (config.h), points into the config */
    uint64_t page_offset;              /* the call's offset argument (0 when absent), for paging advice */
    uint64_t page_number;              /* the call's page argument (0 when absent) */
    bool too_big;                      /* plain: past max_response_bytes */
    int rc;                            /* last guard answer (0, MB_GUARD_STOP, negative) */
    size_t max;                        /* max_response_bytes */
    uint64_t bytes_in;
    struct mb_buf out;
    struct mb_buf raw;                 /* JSON: the input's first MB_GUARD_RAW_PREFIX bytes, for the
                                        * text fallback when the JSON turns out invalid early */
    struct mb_guard g;
};

struct mb_mcp_request {
    struct mb_mcp_server *srv;
    struct mb_mcp_request *prev, *next;
    json_t *id;                        /* owned reference */
    const struct mb_mcp_sink_ops *ops;
    void *sink;
    uint64_t session_key;              /* 0 without a session */
    const struct mb_principal *principal; /* the caller (see struct mb_mcp_session), or NULL */
    int log_level;                     /* client's level at the start, -1 = none */
    json_t *progress_token;            /* owned reference or NULL */
    double last_progress;
    uint64_t last_progress_ms;
    uint64_t started_ms;
    struct mb_upstream_call *call;
    bool waiting_rate;                 /* a Redis rate-limit decision is pending */
    struct mb_token_request *waiting_token; /* a downstream token is being fetched (token_fetch.h) */
    json_t *args;                      /* tools/call arguments kept across asynchronous steps (owned) */
    char *downstream_auth;             /* "Header: value" of the credential for the API, or NULL */
    char *circuit_host;                /* downstream host:port the circuit breaker counts, or NULL */
    const struct mb_tool *tool;
    char *url;                         /* downstream URL, for messages */
    bool async;                        /* linked into srv->inflight, freed when finished */
    struct mb_mcp_guarded *guard;      /* owned; only for a tools/call that goes downstream with
                                        * the guard on (released by mb_mcp_guard_dispose) */
    bool finished;                     /* the final message went to the sink */
    /* observability (call_stats.h, audit.h): what the request's end records */
    uint64_t started_ns;               /* uv_hrtime() at dispatch */
    uint64_t step_ns;                  /* start of the admission step waiting now (rate limit, token) */
    uint64_t guard_ns;                 /* time spent in the response guard's scanner */
    int method_index;                  /* mb_call_stats_method_index */
    int outcome;                       /* enum mb_call_outcome of a tools/call (OK until set) */
    const char *end_status;            /* audit status when not the outcome's name ("cancelled") */
    const char *guard_outcome;         /* "trimmed", "blocked", "warned" or NULL */
    long downstream_status;            /* HTTP status of the downstream answer, 0 = none */
    uint64_t downstream_bytes;         /* downstream body bytes read */
    char *payload_log;                 /* include_payloads: masked arguments/response members (owned) */
};

/* MCP logging levels, lowest first. */
extern const char *const mb_mcp_log_levels[8];
int mb_mcp_log_level_index(const char *name);

/* Sends a final JSON-RPC result built from a DOM value (consumed: json_decref'd) and frees req
 * when it is heap-allocated (in flight). */
void mb_mcp_finish_result(struct mb_mcp_request *req, json_t *result);
/* Sends a final JSON-RPC result given as ready JSON text (one valid value). */
void mb_mcp_finish_raw(struct mb_mcp_request *req, const char *raw, size_t len);
/* Sends a final JSON-RPC error. */
void mb_mcp_finish_error(struct mb_mcp_request *req, int code, const char *message);
/* The same with error.data (consumed: json_decref'd; may be NULL). */
void mb_mcp_finish_error_data(struct mb_mcp_request *req, int code, const char *message, json_t *data);
/* Stops whatever a tools/call is waiting for (rate-limit decision, token, downstream call);
 * no callback of those runs afterwards. Idempotent. */
void mb_mcp_tools_call_stop(struct mb_mcp_request *req);
/* Sends a notification tied to req. */
void mb_mcp_send_notification(struct mb_mcp_request *req, const char *method, json_t *params);
/* tools/call: starts the pipeline; returns NULL when answered synchronously, else req. */
struct mb_mcp_request *mb_mcp_tools_call(struct mb_mcp_request *req, const json_t *params);
/* Links req into the in-flight list (it answers later, from the loop). */
void mb_mcp_request_link(struct mb_mcp_request *req);
/* Releases the response guard's buffers of a tools/call (idempotent; every way a request ends
 * goes through mb_mcp_request_free, which calls it). */
void mb_mcp_guard_dispose(struct mb_mcp_request *req);
/* Frees an in-flight request (unlinks it). */
void mb_mcp_request_free(struct mb_mcp_request *req);

#endif
