/* Audit lines (contract in audit.h): a compact JSON object built with jansson, only when the
 * "audit" logger would write it. */
#include "observability/audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static void set_int(json_t *o, const char *k, int64_t v)
{
    if (v > 0)
        json_object_set_new(o, k, json_integer((json_int_t)v));
}

void mb_audit(const struct mb_audit_event *ev)
{
    if (!ev || !mb_log_enabled(MB_LOG_INFO, "audit"))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (ts.tv_nsec / 1000000) % 1000);
    json_t *o = json_object();
    if (!o)
        return;
    set_str(o, "ts", when);
    set_str(o, "category", ev->category);
    set_str(o, "action", ev->action);
    set_str(o, "status", ev->status);
    set_str(o, "key", ev->key);
    set_str(o, "reason", ev->reason);
    set_str(o, "client_id", ev->client_id);
    set_str(o, "session_id", ev->session_id);
    set_str(o, "peer", ev->peer);
    set_str(o, "tool", ev->tool);
    set_int(o, "duration_ms", ev->duration_ms);
    set_int(o, "bytes", ev->bytes);
    set_int(o, "retry_after_ms", ev->retry_after_ms);
    set_str(o, "guard", ev->guard);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text)
        mb_log(MB_LOG_INFO, "audit", "%s", text);
    free(text);
}
