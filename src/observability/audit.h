/* Audit events: one structured line per security-relevant decision and per tools/call, on
 * logger "audit" (observability.logging.loggers.audit sets its level; INFO by default, so an
 * audit trail is on unless an operator turns it off). Fields follow the documented system:
 * ts (UTC), category (auth, rate_limit, startup_inventory, tool_call), action, status, key,
 * reason, client_id / session_id, plus what the category needs (principal, tool, duration,
 * bytes, downstream status, guard outcome). Never a token or secret; payloads only when
 * runtime.middleware.logging.include_payloads is set, and then masked (payload_mask.h). With
 * JSON logging the fields are members of the log line's object; with text logging the line
 * ends in one JSON object (log.h, mb_log_structured). */
#ifndef MB_AUDIT_H
#define MB_AUDIT_H

#include <stdint.h>

struct mb_audit_event {
    const char *category;   /* required */
    const char *action;     /* required: "authenticate", "authorize", "check", "call", ... */
    const char *status;     /* required: "allow", "deny", "ok", "error", ... */
    const char *key;        /* the rate-limit key or similar (may be NULL) */
    const char *reason;     /* short code (may be NULL) */
    const char *client_id;  /* may be NULL */
    const char *principal;  /* the caller's subject (may be NULL) */
    const char *session_id; /* may be NULL: pass the session's short fingerprint, not the id */
    const char *peer;       /* remote address (may be NULL) */
    const char *tool;       /* may be NULL */
    double duration_ms;     /* written when > 0 (microsecond precision) */
    int64_t bytes;          /* written when > 0 */
    int64_t http_status;    /* downstream HTTP status, written when > 0 */
    int64_t retry_after_ms; /* rate_limit denials, written when > 0 */
    const char *guard;      /* guard outcome: "trimmed", "blocked", ... (may be NULL) */
    const char *extra;      /* more members, already JSON: `"k":v,...` without braces (may be NULL) */
};

/* Writes ev on logger "audit" at INFO (nothing when that logger is off). Strings are escaped;
 * each is cut at 512 bytes and the whole event at 12 KiB (extra included). */
void mb_audit(const struct mb_audit_event *ev);

/* The session fingerprint audit lines carry instead of the session id: 8 hex digits of its
 * key, enough to correlate lines, useless to replay. out must hold 9 bytes. */
void mb_audit_session_tag(uint64_t session_key, char out[9]);

#endif
