/* Prometheus rendering of the shared counters (contract in metrics.h). One pass over the guard
 * statistics region per family; families are written in a fixed order with HELP and TYPE. */
#include "observability/metrics.h"
#include "observability/worker_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int mb_metrics_label_escape(struct mb_buf *out, const char *s)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\')
            rc = mb_buf_append(out, "\\\\", 2);
        else if (*s == '"')
            rc = mb_buf_append(out, "\\\"", 2);
        else if (*s == '\n')
            rc = mb_buf_append(out, "\\n", 2);
        else
            rc = mb_buf_append(out, s, 1);
        if (rc)
            return rc;
    }
    return 0;
}

enum family { CALLS, NEAR, TRIMMED, BLOCKED, WARNED, MAX_BYTES, RECENT, NEEDS, FAMILY_COUNT };

static const struct {
    const char *name, *type, *help;
} families[FAMILY_COUNT] = {
    [CALLS] = { "mcpbridge_guard_calls_total", "counter", "Guarded tools/call downstream responses." },
    [NEAR] = { "mcpbridge_guard_near_limit_total", "counter",
               "Responses within near_limit_ratio of a response guard limit, or over one." },
    [TRIMMED] = { "mcpbridge_guard_trimmed_total", "counter", "Responses the guard cut (trim mode)." },
    [BLOCKED] = { "mcpbridge_guard_blocked_total", "counter", "Responses the guard refused (block mode)." },
    [WARNED] = { "mcpbridge_guard_warned_total", "counter",
                 "Over-limit responses passed through (warn mode)." },
    [MAX_BYTES] = { "mcpbridge_guard_max_body_bytes", "gauge", "Largest downstream body read for the tool." },
    [RECENT] = { "mcpbridge_guard_recent_near_limit_calls", "gauge",
                 "Near-limit calls among the tool's last pagination_signal.window calls." },
    [NEEDS] = { "mcpbridge_tool_needs_pagination", "gauge",
                "1 when the tool consistently comes near the guard limits (pagination_signal)." },
};

struct render {
    struct mb_buf *out;
    enum family f;
    int rc;
};

static void on_tool(void *data, const struct mb_guard_tool_stats *ts)
{
    struct render *r = data;
    if (r->rc)
        return;
    uint64_t v = 0;
    switch (r->f) {
    case CALLS: v = ts->calls; break;
    case NEAR: v = ts->near; break;
    case TRIMMED: v = ts->trimmed; break;
    case BLOCKED: v = ts->blocked; break;
    case WARNED: v = ts->warned; break;
    case MAX_BYTES: v = ts->max_bytes; break;
    case RECENT: v = ts->recent_near; break;
    case NEEDS: v = ts->needs_pagination; break;
    default: break;
    }
    char num[32];
    int n = snprintf(num, sizeof num, "\"} %" PRIu64 "\n", v);
    const char *name = families[r->f].name;
    r->rc = mb_buf_append(r->out, name, strlen(name));
    if (!r->rc)
        r->rc = mb_buf_append(r->out, "{tool=\"", 7);
    if (!r->rc)
        r->rc = mb_metrics_label_escape(r->out, ts->name);
    if (!r->rc)
        r->rc = mb_buf_append(r->out, num, (size_t)n);
}

int mb_metrics_render_guard(const struct mb_guard_stats *stats, unsigned window, struct mb_buf *out)
{
    struct render r = { out, CALLS, 0 };
    char line[256];
    for (int f = 0; f < FAMILY_COUNT && !r.rc; f++) {
        int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                         families[f].name, families[f].type);
        r.rc = mb_buf_append(out, line, (size_t)n);
        r.f = (enum family)f;
        if (!r.rc)
            mb_guard_stats_foreach(stats, window, on_tool, &r);
    }
    if (!r.rc) {
        int n = snprintf(line, sizeof line,
                         "# HELP mcpbridge_guard_stats_dropped_total Guarded calls not counted per tool "
                         "(the statistics table was full).\n# TYPE mcpbridge_guard_stats_dropped_total counter\n"
                         "mcpbridge_guard_stats_dropped_total %" PRIu64 "\n", mb_guard_stats_dropped(stats));
        r.rc = mb_buf_append(out, line, (size_t)n);
    }
    return r.rc;
}

int mb_metrics_render_workers(const struct mb_worker_stats *ws, struct mb_buf *out)
{
    if (!ws)
        return 0;
    struct mb_worker_figures f;
    unsigned workers = 0;
    mb_worker_stats_sum(ws, &f, &workers);
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } rows[] = {
        { "mcpbridge_workers", "gauge", "Workers publishing statistics.", workers },
        { "mcpbridge_connections_open", "gauge", "Inbound connections open now.", f.connections_open },
        { "mcpbridge_tls_handshakes_total", "counter", "Inbound TLS handshakes completed.", f.tls_handshakes },
        { "mcpbridge_tls_resumed_total", "counter", "Inbound TLS handshakes that resumed a session.", f.tls_resumed },
        { "mcpbridge_tls_handshake_failures_total", "counter", "Inbound TLS handshakes that failed.", f.tls_failures },
        { "mcpbridge_downstream_connections_new_total", "counter", "Downstream calls that opened a connection.",
          f.downstream_connections_new },
        { "mcpbridge_downstream_connections_reused_total", "counter",
          "Downstream calls that reused a keep-alive connection.", f.downstream_connections_reused },
        { "mcpbridge_downstream_tls_handshakes_total", "counter", "Downstream TLS handshakes (full or resumed).",
          f.downstream_tls_handshakes },
        { "mcpbridge_downstream_tls_resumed_total", "counter", "Downstream TLS handshakes that resumed a session.",
          f.downstream_tls_resumed },
        { "mcpbridge_auth_allowed_total", "counter", "Requests authenticated.", f.auth_allowed },
        { "mcpbridge_auth_denied_total", "counter", "Requests refused by authentication.", f.auth_denied },
        { "mcpbridge_auth_token_cache_hits_total", "counter", "Tokens accepted from the verified-token cache.",
          f.auth_cache_hits },
        { "mcpbridge_auth_signature_checks_total", "counter", "Token signatures verified.", f.auth_signature_checks },
        { "mcpbridge_auth_waited_for_keys_total", "counter", "Requests that waited for a JWKS fetch or refresh.",
          f.auth_waited_for_keys },
        { "mcpbridge_rate_limit_allowed_total", "counter", "tools/call allowed by the rate limiter.", f.rate_allowed },
        { "mcpbridge_rate_limit_denied_total", "counter", "tools/call denied by the rate limiter.", f.rate_limited },
        { "mcpbridge_redis_configured_workers", "gauge", "Workers with runtime.redis.url set (shared state).",
          f.redis_configured },
        { "mcpbridge_redis_connected_workers", "gauge",
          "Workers whose shared-state link to Redis is connected (fewer than configured: degraded, instance-local).",
          f.redis_connected },
        { "mcpbridge_redis_reconnects_total", "counter", "Shared-state links to Redis made again after a loss.",
          f.redis_reconnects },
        { "mcpbridge_redis_errors_total", "counter",
          "Shared-state Redis failures: connection attempts, lost links, failed commands.", f.redis_errors },
    };
    char line[512];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", rows[i].name,
                         rows[i].help, rows[i].name, rows[i].type, rows[i].name, rows[i].value);
        int rc = mb_buf_append(out, line, (size_t)n);
        if (rc)
            return rc;
    }
    int rc = mb_buf_append_str(out, "# HELP mcpbridge_http_responses_total Inbound HTTP responses by status class.\n"
                                    "# TYPE mcpbridge_http_responses_total counter\n");
    static const char *const classes[6] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
    for (int i = 0; !rc && i < 6; i++) {
        int n = snprintf(line, sizeof line, "mcpbridge_http_responses_total{code=\"%s\"} %" PRIu64 "\n",
                         classes[i], f.http_responses[i]);
        rc = mb_buf_append(out, line, (size_t)n);
    }
    return rc;
}
