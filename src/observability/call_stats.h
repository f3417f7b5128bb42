/* Instance-wide request statistics in shared memory, for /metrics and the status page:
 * MCP requests by method and outcome, tools/call by tool and outcome with a duration histogram
 * and bytes, and one latency histogram per phase of a call (auth, JWKS wait, token exchange,
 * rate limit, downstream DNS / connect / TLS / first byte / total, guard, whole request).
 * Every worker adds into the same region with relaxed atomic fetch_add (no locks, no per-worker
 * slots), so readers see the whole instance and counters survive worker restarts. The region
 * belongs to one runtime: a reload builds a new one (the tool set may change), so counters
 * restart from zero after a reload, like a process restart for Prometheus. */
#ifndef MB_CALL_STATS_H
#define MB_CALL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Histogram bucket upper bounds in microseconds; the last bucket is +Inf. Prometheus renders
 * them in seconds (le="0.0001" ... le="10", le="+Inf"). */
#define MB_HIST_BOUNDS_US                                                                     \
    { 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, \
      2500000, 5000000, 10000000 }
#define MB_HIST_BUCKETS 17 /* 16 bounds + the +Inf bucket */

enum mb_phase {
    MB_PHASE_REQUEST,        /* a JSON-RPC request in the core, dispatch to answer (any method) */
    MB_PHASE_AUTH,           /* inbound authentication of an HTTP request (cache hit or verify) */
    MB_PHASE_JWKS_WAIT,      /* time a request waited for a JWKS fetch/refresh (only when it did) */
    MB_PHASE_TOKEN_EXCHANGE, /* downstream credential: token exchange / client_credentials wait */
    MB_PHASE_RATE_LIMIT,     /* the rate-limit decision (shared memory or Redis round trip) */
    MB_PHASE_DNS,            /* downstream name resolution (libcurl) */
    MB_PHASE_CONNECT,        /* downstream TCP connect (only calls that opened a connection) */
    MB_PHASE_TLS,            /* downstream TLS handshake (only calls that made one) */
    MB_PHASE_FIRST_BYTE,     /* downstream: request sent until the first response byte */
    MB_PHASE_DOWNSTREAM,     /* downstream: the whole HTTP exchange as libcurl measured it */
    MB_PHASE_GUARD,          /* CPU time spent in the response guard scanning the body */
    MB_PHASE_TOOL_CALL,      /* tools/call end to end in the core (admission + downstream + result) */
    MB_PHASE_COUNT
};

/* Prometheus label value of a phase ("request", "auth", "jwks_wait", "token_exchange",
 * "rate_limit", "dns", "connect", "tls", "first_byte", "downstream", "guard", "tool_call").
 * NULL for an out-of-range value. */
const char *mb_phase_name(enum mb_phase phase);

/* How a tools/call ended. */
enum mb_call_outcome {
    MB_OUTCOME_OK,           /* a result without isError */
    MB_OUTCOME_TOOL_ERROR,   /* a result with isError (invalid arguments, downstream non-2xx,
                              * transport failure, guard block) */
    MB_OUTCOME_DENIED,       /* refused before any downstream call: scope, rate limit, circuit open */
    MB_OUTCOME_ERROR,        /* a JSON-RPC error (unknown tool, internal error, cancelled) */
    MB_OUTCOME_COUNT
};
/* "ok", "tool_error", "denied", "error"; NULL when out of range. */
const char *mb_call_outcome_name(enum mb_call_outcome outcome);

/* MCP methods counted by name; anything else is "other". */
#define MB_METHOD_NAMES                                                                        \
    { "initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",     \
      "resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list", \
      "prompts/get", "completion/complete", "logging/setLevel", "other" }
#define MB_METHOD_COUNT 14
/* Index of method in MB_METHOD_NAMES (the "other" index when unknown or NULL). */
int mb_call_stats_method_index(const char *method);

struct mb_histogram {
    uint64_t buckets[MB_HIST_BUCKETS]; /* NOT cumulative: buckets[i] counts values in
                                        * (bound[i-1], bound[i]] */
    uint64_t count;
    uint64_t sum_us;
};

struct mb_call_stats;

/* Maps a region for ntools tools named tool_names[0..ntools-1] (names are copied; at most 128
 * bytes each, longer ones truncated). Call before fork. NULL on failure (ENOMEM). */
struct mb_call_stats *mb_call_stats_create(const char *const *tool_names, size_t ntools);
void mb_call_stats_destroy(struct mb_call_stats *cs);

/* Writers (any worker, any time; cs may be NULL: nothing happens). ok = answered with a result
 * (not a JSON-RPC error). method_index from mb_call_stats_method_index. */
void mb_call_stats_count_method(struct mb_call_stats *cs, int method_index, bool ok);
void mb_call_stats_record_phase(struct mb_call_stats *cs, enum mb_phase phase, uint64_t us);
/* tool_index < ntools (others are ignored); us = the call's duration; bytes = downstream body
 * bytes read (0 when none). */
void mb_call_stats_record_tool(struct mb_call_stats *cs, size_t tool_index, enum mb_call_outcome outcome,
                               uint64_t us, uint64_t bytes);

/* Circuit-breaker events (limits/circuit.h; breakers are per worker, these counters add up
 * the instance): a call refused because its host's breaker was open, and state changes. */
enum mb_circuit_event {
    MB_CIRCUIT_EVENT_REFUSED,     /* a call not sent: the breaker was open (or its probe in flight) */
    MB_CIRCUIT_EVENT_OPENED,      /* closed or half-open -> open */
    MB_CIRCUIT_EVENT_HALF_OPENED, /* open -> half-open (a probe went out) */
    MB_CIRCUIT_EVENT_CLOSED,      /* half-open -> closed (the probe succeeded) */
    MB_CIRCUIT_EVENT_COUNT
};
void mb_call_stats_count_circuit(struct mb_call_stats *cs, enum mb_circuit_event event);
uint64_t mb_call_stats_circuit_total(const struct mb_call_stats *cs, enum mb_circuit_event event);

/* Readers: consistent enough for monitoring (each word read atomically, not the set). */
void mb_call_stats_phase(const struct mb_call_stats *cs, enum mb_phase phase, struct mb_histogram *out);
uint64_t mb_call_stats_method_total(const struct mb_call_stats *cs, int method_index, bool ok);
/* Sum of tools/call (all outcomes) and of their durations, for the capacity sampler. */
void mb_call_stats_tool_totals(const struct mb_call_stats *cs, uint64_t *calls, uint64_t *sum_us);

/* The q-quantile (0 < q < 1) in microseconds of h, linear within the bucket that holds it
 * (Prometheus histogram_quantile semantics; the +Inf bucket answers its lower bound). 0 when
 * h is empty. */
double mb_histogram_quantile(const struct mb_histogram *h, double q);

/* Appends the Prometheus families:
 *   mcpbridge_mcp_requests_total{method,outcome="ok"|"error"}             counter
 *   mcpbridge_tool_calls_total{tool,outcome}                               counter
 *   mcpbridge_tool_call_duration_seconds{tool} (histogram: _bucket{le}, _sum, _count)
 *   mcpbridge_tool_response_bytes_total{tool}                              counter
 *   mcpbridge_phase_duration_seconds{phase} (histogram)
 *   mcpbridge_circuit_refused_total, mcpbridge_circuit_transitions_total{to="open"|"half_open"|"closed"}
 * Tools that were never called are left out of the per-tool families (1000-tool specs).
 * Returns 0 or a buffer error. cs may be NULL (headers only). */
int mb_metrics_render_calls(const struct mb_call_stats *cs, struct mb_buf *out);

#endif
