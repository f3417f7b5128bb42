/* Prometheus rendering of the shared counters (contract in metrics.h). One pass over the guard
 * statistics region per family; families are written in a fixed order with HELP and TYPE. */
#include "observability/metrics.h"

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
