/* Audit lines (contract in audit.h): the members are composed into a stack buffer with JSON
 * escaping, no DOM, because one is written per tools/call. */
#include "observability/audit.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"

#define AUDIT_STRING_MAX 512
#define AUDIT_EVENT_MAX (12u * 1024u)

static void add_str(struct mb_buf *b, const char *k, const char *v)
{
    if (!v)
        return;
    size_t n = strlen(v);
    mb_buf_printf(b, "%s\"%s\":\"", b->len ? "," : "", k);
    mb_buf_append_json_escaped(b, v, n > AUDIT_STRING_MAX ? AUDIT_STRING_MAX : n);
    mb_buf_append(b, "\"", 1);
}

static void add_int(struct mb_buf *b, const char *k, int64_t v)
{
    if (v > 0)
        mb_buf_printf(b, "%s\"%s\":%lld", b->len ? "," : "", k, (long long)v);
}

void mb_audit(const struct mb_audit_event *ev)
{
    if (!ev || !mb_log_enabled(MB_LOG_INFO, "audit"))
        return;
    struct mb_buf b;
    mb_buf_init(&b, AUDIT_EVENT_MAX);
    add_str(&b, "category", ev->category);
    add_str(&b, "action", ev->action);
    add_str(&b, "status", ev->status);
    add_str(&b, "key", ev->key);
    add_str(&b, "reason", ev->reason);
    add_str(&b, "client_id", ev->client_id);
    add_str(&b, "principal", ev->principal);
    add_str(&b, "session_id", ev->session_id);
    add_str(&b, "peer", ev->peer);
    add_str(&b, "tool", ev->tool);
    if (ev->duration_ms > 0)
        mb_buf_printf(&b, ",\"duration_ms\":%.3f", ev->duration_ms);
    add_int(&b, "bytes", ev->bytes);
    add_int(&b, "http_status", ev->http_status);
    add_int(&b, "retry_after_ms", ev->retry_after_ms);
    add_str(&b, "guard", ev->guard);
    if (ev->extra && *ev->extra)
        mb_buf_printf(&b, ",%s", ev->extra);
    if (b.data)
        mb_log_structured(MB_LOG_INFO, "audit", b.data, b.len);
    mb_buf_dispose(&b);
}

void mb_audit_session_tag(uint64_t session_key, char out[9])
{
    snprintf(out, 9, "%08x", (unsigned)(session_key >> 32));
}
