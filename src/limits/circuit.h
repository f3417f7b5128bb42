/* Circuit breakers for downstream hosts, one set per worker (no shared state). A breaker per
 * "host:port" counts outcomes in a rolling window of window_seconds made of
 * MB_CIRCUIT_BUCKETS time buckets. Closed -> open when, within the window, at least
 * min_requests outcomes were recorded and errors / requests >= error_threshold. Open -> after
 * open_seconds, the next mb_circuit_allow turns it half-open and lets exactly one probe through;
 * the probe's outcome closes it (counters reset) or opens it again for open_seconds. A probe
 * whose outcome is never recorded (the call was cancelled) stops counting as in flight after
 * open_seconds, and another probe is allowed.
 *
 * Per worker on purpose: an outcome is known only in the worker that made the call, a shared
 * table would need cross-process probe leases that a dying worker could hold, and a worker
 * that opens a little later than its siblings costs at most min_requests calls. See
 * docs/internals/limits.md. At most max_hosts hosts are tracked; when the set is full, the
 * least recently used closed breaker is forgotten, and if every breaker is open or half-open
 * a new host is allowed untracked (a breaker is a protection, not an access control). */
#ifndef MB_CIRCUIT_H
#define MB_CIRCUIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_CIRCUIT_BUCKETS 10
#define MB_CIRCUIT_HOST_MAX 256     /* bytes of "host:port" compared; longer names are cut */

enum mb_circuit_state {
    MB_CIRCUIT_CLOSED = 0,
    MB_CIRCUIT_OPEN,
    MB_CIRCUIT_HALF_OPEN,
};

struct mb_circuit_options {
    double error_threshold;   /* 0 < x <= 1; default 0.5 */
    unsigned window_seconds;  /* >= 1; default 60 */
    unsigned min_requests;    /* >= 1; default 10 */
    unsigned open_seconds;    /* cool-down before a probe, >= 1; default 30 */
    unsigned max_hosts;       /* 1..65536; default 256 */
};

struct mb_circuit_set;

/* The documented defaults. */
void mb_circuit_options_default(struct mb_circuit_options *opts);
/* Creates a set (opts NULL = defaults). Returns NULL on out of memory or invalid options.
 * Free with mb_circuit_destroy. */
struct mb_circuit_set *mb_circuit_create(const struct mb_circuit_options *opts);
/* Frees the set. NULL is ignored. */
void mb_circuit_destroy(struct mb_circuit_set *set);

/* May a call to host go out now (now_ms: any millisecond clock, e.g. uv_now)? True when the
 * breaker is closed, or when this call is the half-open probe; every true must be followed by
 * exactly one mb_circuit_record for that call (or none if it was cancelled). False when open
 * or when the probe is in flight; then *retry_after_ms (may be NULL) is the time until a probe
 * could be allowed (at least 1). host NULL or empty: true, nothing tracked. */
bool mb_circuit_allow(struct mb_circuit_set *set, const char *host, uint64_t now_ms,
                      uint64_t *retry_after_ms);
/* Records the outcome of a call that mb_circuit_allow let through (ok false: the caller counts
 * it as a downstream failure, e.g. connect error, timeout, 5xx; 4xx answers are the client's
 * fault and should be recorded as ok). Outcomes arriving while open are ignored (calls that
 * started before the breaker opened). */
void mb_circuit_record(struct mb_circuit_set *set, const char *host, bool ok, uint64_t now_ms);
/* The breaker's state for metrics; CLOSED for a host not tracked. An open breaker reads OPEN
 * until a call asks after the cool-down. */
enum mb_circuit_state mb_circuit_state(const struct mb_circuit_set *set, const char *host);
/* "closed", "open", "half_open". */
const char *mb_circuit_state_name(enum mb_circuit_state state);
/* Hosts tracked. */
size_t mb_circuit_count(const struct mb_circuit_set *set);

#endif
