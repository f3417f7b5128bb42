/* JWKS documents fetched off the request path. One shared region per jwks_uri is mapped by the
 * master before fork (mb_jwks_shared_create); every worker then runs one source on it
 * (mb_jwks_source_create). The region holds the latest good document under a seqlock with a
 * generation number, and a fetch lease, so that one worker at a time fetches while the others
 * copy the bytes when the generation moves. Fetches go through the worker's mb_upstream (never
 * blocking): a first one at start, a refresh once the document is 80% of cache_seconds old (plus
 * per-worker jitter, so one timer fires first and takes the lease), at most one per
 * min_refresh_interval_ms when the caller meets an unknown key id, and retries with back-off
 * when the IdP fails. A failed or unusable fetch never replaces the keys in use.
 *
 * The bytes are opaque here: the caller's validate callback decides what a usable document is
 * (and parses the keys itself when the generation changes). See docs/internals/outbound-auth.md. */
#ifndef MB_AUTH_JWKS_FETCH_H
#define MB_AUTH_JWKS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mb_upstream;
struct mb_jwks_shared;
struct mb_jwks_source;
struct mb_jwks_wait;

#define MB_JWKS_DEFAULT_MAX_BYTES (256u * 1024u)
#define MB_JWKS_URI_MAX 2048

/* Maps the shared region for one jwks_uri (anonymous MAP_SHARED memory: call it before fork so
 * every worker inherits it). uri is copied (at most MB_JWKS_URI_MAX bytes, http or https);
 * max_bytes caps the document (0 = MB_JWKS_DEFAULT_MAX_BYTES). Returns NULL on bad arguments or
 * when mmap fails. */
struct mb_jwks_shared *mb_jwks_shared_create(const char *uri, size_t max_bytes);
/* Unmaps the region in this process; sources on it must be destroyed first. NULL is ignored. */
void mb_jwks_shared_destroy(struct mb_jwks_shared *shared);
/* The URI the region was made for (owned by the region). */
const char *mb_jwks_shared_uri(const struct mb_jwks_shared *shared);
/* Fetches started by any process on this region: for tests and diagnostics. */
uint64_t mb_jwks_shared_fetches(const struct mb_jwks_shared *shared);

/* Returns 0 when bytes is a usable JWKS, negative otherwise. Runs on the loop of the worker that
 * fetched; must not keep the pointer. */
typedef int (*mb_jwks_validate_cb)(void *data, const char *bytes, size_t len);
/* The source copied in a new generation: call mb_jwks_source_current and re-parse. Runs from the
 * loop, never from inside a call into this API. */
typedef void (*mb_jwks_change_cb)(void *data, uint64_t generation);
/* Ends a wait: 0 when the condition holds, -ETIMEDOUT, or -ECANCELED when the source is being
 * destroyed. Runs from the loop, never from inside the call that registered the wait. */
typedef void (*mb_jwks_wait_cb)(void *data, int status);

struct mb_jwks_options {
    unsigned cache_seconds;             /* jwks_cache_seconds; 0 = 300. Refreshed in the
                                         * background once 80-90% of it has passed */
    unsigned min_refresh_interval_ms;   /* unknown-kid refreshes: at most one per interval for
                                         * all workers; 0 = 30000 */
    unsigned timeout_ms;                /* per fetch; 0 = 5000 */
    unsigned retry_min_ms;              /* first delay after a failed fetch; 0 = 1000 */
    unsigned retry_max_ms;              /* the delay doubles up to this; 0 = 60000 */
    mb_jwks_validate_cb validate;       /* required */
    void *validate_data;
    mb_jwks_change_cb on_change;        /* may be NULL */
    void *change_data;
};

/* Per-source counters. */
struct mb_jwks_stats {
    unsigned long fetches;              /* fetches this source started */
    unsigned long fetch_ok;             /* ... that brought a usable document */
    unsigned long fetch_failed;         /* ... that failed (transport, HTTP status, validate) */
    unsigned long generations_seen;     /* new generations copied into this source */
    unsigned long refreshes_limited;    /* request_refresh calls refused by the rate limit */
};

/* Creates a source on loop for shared's URI, fetching through up (which must outlive it). The
 * first fetch starts from the loop right away. opts is copied; validate is required. Returns
 * NULL on bad arguments or out of memory. */
struct mb_jwks_source *mb_jwks_source_create(uv_loop_t *loop, struct mb_upstream *up,
                                             struct mb_jwks_shared *shared,
                                             const struct mb_jwks_options *opts);
/* Cancels the fetch in flight (releasing the lease), runs pending waits with -ECANCELED and
 * releases the source once the loop has closed its timer. May be called from this source's
 * callbacks. NULL is ignored. */
void mb_jwks_source_destroy(struct mb_jwks_source *src);

/* The newest good document, copied from the shared region when its generation moved (a cheap
 * check: one atomic load when nothing changed). *bytes stays valid until the next call into this
 * source or the next turn of the loop; it is owned by the source. Returns 0, or -EAGAIN when no
 * document has been fetched yet (then the outputs are NULL, 0, 0). */
int mb_jwks_source_current(struct mb_jwks_source *src, const char **bytes, size_t *len,
                           uint64_t *generation);

/* Asks for a refresh because a token named a key id the current keys lack. Returns 0 when a
 * refresh was started or is under way (wait for it with mb_jwks_source_when_refreshed), or
 * -EAGAIN when one was already granted within min_refresh_interval_ms (to any worker) and has
 * completed: nothing newer is to be expected, deny. */
int mb_jwks_source_request_refresh(struct mb_jwks_source *src);

/* Runs cb once a document is available (0), at once (from the loop) when one already is, or
 * with -ETIMEDOUT after timeout_ms (0 = the fetch timeout). Returns a handle for
 * mb_jwks_wait_cancel, valid until cb runs; NULL on bad arguments or out of memory (then cb never
 * runs). */
struct mb_jwks_wait *mb_jwks_source_when_ready(struct mb_jwks_source *src, unsigned timeout_ms,
                                               mb_jwks_wait_cb cb, void *data);
/* Like when_ready, but waits for the next fetch attempt (by any worker) to complete after this
 * call, or a new generation, whichever comes first; cb gets 0 even when that attempt failed:
 * look at mb_jwks_source_current. */
struct mb_jwks_wait *mb_jwks_source_when_refreshed(struct mb_jwks_source *src, unsigned timeout_ms,
                                                   mb_jwks_wait_cb cb, void *data);
/* Forgets a wait; its callback never runs. NULL is ignored. */
void mb_jwks_wait_cancel(struct mb_jwks_wait *w);

/* Copies the source's counters into out. */
void mb_jwks_source_stats(const struct mb_jwks_source *src, struct mb_jwks_stats *out);

#endif
