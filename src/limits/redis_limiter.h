/* The rate limiter across instances: the same GCRA as ratelimit.h, kept in Redis and run by one
 * Lua script (EVALSHA, EVAL when the server answers NOSCRIPT), so a take is atomic on the
 * server. The script reads the server's TIME, so instances whose clocks disagree still agree
 * on every bucket; it stores the TAT (microseconds) with an expiry at the moment the bucket
 * would be full again.
 *
 * One limiter per worker, on the worker's libuv loop (hiredis's libuv adapter): never a
 * blocking call. The host name is resolved with uv_getaddrinfo. Each take has a deadline
 * (timeout_ms); a take that misses it completes with -ETIMEDOUT and the connection is dropped
 * (a server that stopped answering). A lost connection is re-established with back-off
 * (MB_REDIS_BACKOFF_MIN_MS doubling to MB_REDIS_BACKOFF_MAX_MS); while there is none, takes
 * complete with -ENOTCONN at once (on the next loop iteration). The caller then falls back to
 * the local shared-memory limiter, which limits per instance only. See
 * docs/internals/limits.md. */
#ifndef MB_REDIS_LIMITER_H
#define MB_REDIS_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "limits/ratelimit.h"

#define MB_REDIS_BACKOFF_MIN_MS 100
#define MB_REDIS_BACKOFF_MAX_MS 5000
#define MB_REDIS_PREFIX_MAX 128        /* bytes of key_prefix */
#define MB_REDIS_DEFAULT_PREFIX "mcpbridge:rl:"

/* Runs exactly once per successful mb_redis_limiter_take, always from the loop (never from
 * inside take), unless the call is cancelled or the limiter destroyed first. error is 0 (then
 * *decision is the answer), -ENOTCONN (no connection to Redis), -ETIMEDOUT (no answer within
 * timeout_ms), -EIO (Redis answered with an error, e.g. out of memory or a read-only replica)
 * or -EPROTO (an answer of the wrong shape). When error != 0, decision is NULL.
 * decision is valid only during the callback. */
typedef void (*mb_redis_limiter_cb)(void *data, const struct mb_ratelimit_decision *decision, int error);

struct mb_redis_limiter;

/* Creates a limiter and starts connecting. url: "redis://[[user]:password@]host[:port][/db]"
 * (port 6379, db 0 by default; IPv6 hosts in brackets; %XX escapes allowed in user and
 * password, which are sent with AUTH and never logged). key_prefix is put before every key
 * (NULL: MB_REDIS_DEFAULT_PREFIX). timeout_ms 0 means 50 ms. Returns NULL on an invalid URL
 * (also "rediss://": TLS is not supported) or out of memory. */
struct mb_redis_limiter *mb_redis_limiter_create(uv_loop_t *loop, const char *url,
                                                 const char *key_prefix, unsigned timeout_ms);
/* Stops everything: calls in flight are dropped and their callbacks never run (like
 * mb_upstream_destroy). Handles are closed; the memory is released once the loop has run the
 * close callbacks (and a host-name lookup in flight has finished). May be called from a take
 * callback. NULL is ignored. */
void mb_redis_limiter_destroy(struct mb_redis_limiter *lim);

/* Asks Redis for one token from the bucket key (key_len bytes, at most MB_RATELIMIT_KEY_MAX)
 * at rate tokens per second (> 0) with capacity burst (>= 1). cb runs later, exactly once.
 * Returns 0, or -EINVAL (bad arguments) / -ENOMEM, and then cb never runs. */
int mb_redis_limiter_take(struct mb_redis_limiter *lim, const void *key, size_t key_len,
                          double rate_per_s, unsigned burst, mb_redis_limiter_cb cb, void *data);
/* Cancels every call in flight whose callback data is data: their callbacks never run. For a
 * caller whose request went away. */
void mb_redis_limiter_cancel(struct mb_redis_limiter *lim, void *data);

/* True while a connection is established and ready (authenticated, database selected). */
bool mb_redis_limiter_connected(const struct mb_redis_limiter *lim);
/* Calls in flight (waiting for the connection or for Redis). */
unsigned mb_redis_limiter_pending(const struct mb_redis_limiter *lim);

#endif
