/* The operator's HTML status page: one self-contained document (inline CSS and JS, charts drawn
 * as inline SVG, no external assets) that polls the instance's Prometheus endpoint every 2 s
 * and shows throughput, latency percentiles per phase, guard hits, tools needing pagination,
 * the capacity verdict and the workers (docs/internals/status-page.md). The page's source is
 * assets/status/status.html, compiled into the binary at build time (cmake/embed.cmake); the
 * only thing filled in per instance is the metrics URL path the page polls. Serving and
 * protecting the page (observability.status_page.path, loopback or admin token, like /metrics)
 * is the HTTP transport's job. */
#ifndef MB_STATUS_PAGE_H
#define MB_STATUS_PAGE_H

#include "common/buf.h"

/* The marker in status.html that mb_status_page_render replaces with the metrics path. It
 * sits inside a double-quoted JavaScript string literal in a <script> element. */
#define MB_STATUS_PAGE_METRICS_PLACEHOLDER "__MCPBRIDGE_METRICS_PATH__"

/* Appends the page (text/html; charset=utf-8) to out, with every occurrence of the placeholder
 * replaced by metrics_path (e.g. "/metrics" or "/admin/metrics", from the configuration),
 * escaped for a JavaScript string inside HTML: letters, digits and "/_.~-" are copied, other
 * ASCII becomes \u00XX (so quotes, backslashes, "<" and line breaks cannot end the string or
 * the script), bytes of multi-byte UTF-8 characters are copied. The page is the same bytes on
 * every call for a given path, so a caller may render it once and keep it.
 * Returns 0; -EINVAL when metrics_path is NULL or empty (out unchanged); -E2BIG or -ENOMEM
 * from out (out then holds a partial page: the caller discards or truncates it). */
int mb_status_page_render(const char *metrics_path, struct mb_buf *out);

#endif
