/* Audit events: one structured line per security-relevant decision on logger "audit"
 * (observability.logging.loggers.audit sets its level; INFO by default). Fields follow the
 * documented system: ts (UTC), category (auth, rate_limit, startup_inventory, tool_call),
 * action, status, key, reason, client_id / session_id, plus what the category needs (tool,
 * duration, bytes, guard outcome). Never a token, secret or payload. */
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
    const char *session_id; /* may be NULL: pass the session's short fingerprint, not the id */
    const char *peer;       /* remote address (may be NULL) */
    const char *tool;       /* may be NULL */
    int64_t duration_ms;    /* -1 or 0 = not set */
    int64_t bytes;          /* -1 or 0 = not set */
    int64_t retry_after_ms; /* rate_limit denials */
    const char *guard;      /* guard outcome: "trimmed", "blocked", ... (may be NULL) */
};

/* Writes ev as one JSON object on logger "audit" at INFO (nothing when that logger is off). */
void mb_audit(const struct mb_audit_event *ev);

#endif
