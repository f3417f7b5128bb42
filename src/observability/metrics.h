/* Prometheus text exposition (format 0.0.4) of what an instance measures, for GET /metrics.
 * Every figure comes from shared memory, so any worker answers for the whole instance, never
 * with its own partial view. Here: the response guard's per-tool counters and the "needs
 * pagination" signal (docs/internals/guard.md) and the workers' sums; call_stats.h and
 * capacity.h render their own families. The operator's list is docs/internals/metrics.md. */
#ifndef MB_METRICS_H
#define MB_METRICS_H

#include "common/buf.h"
#include "guard/guard_stats.h"

/* Appends the guard families to out: mcpbridge_guard_calls_total, _near_limit_total,
 * _trimmed_total, _blocked_total, _warned_total, _max_body_bytes, _recent_near_limit_calls,
 * mcpbridge_tool_needs_pagination (0/1), each labelled {tool="..."}, plus
 * mcpbridge_guard_stats_dropped_total. stats may be NULL (no samples, headers only).
 * window: the pagination-signal window. Returns 0, or -E2BIG / -ENOMEM from out. */
int mb_metrics_render_guard(const struct mb_guard_stats *stats, unsigned window, struct mb_buf *out);

/* Appends the instance-wide sums of the workers' figures (worker_stats.h): connections, inbound
 * and downstream TLS handshakes, downstream connection reuse, authentication and rate-limit
 * decisions. ws may be NULL (nothing written). Returns 0 or a buffer error. */
struct mb_worker_stats;
int mb_metrics_render_workers(const struct mb_worker_stats *ws, struct mb_buf *out);

/* Appends s to out escaped as a Prometheus label value (backslash, quote, newline). */
int mb_metrics_label_escape(struct mb_buf *out, const char *s);

#endif
