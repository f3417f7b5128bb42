/* The instance-wide rate limiter: one anonymous MAP_SHARED region mapped by the master before
 * fork, so every worker of an instance draws from the same buckets. The algorithm is GCRA (the
 * generic cell rate algorithm), which behaves exactly like a token bucket of capacity `burst`
 * refilled at `rate` tokens per second but keeps a single 64-bit word per key: the
 * "theoretical arrival time" (TAT) in nanoseconds. A take reads the word, computes the new
 * TAT and publishes it with one compare-and-swap; a lost race retries with the value that won.
 * No lock is held at any time, so a worker that dies mid-update cannot wedge a bucket.
 *
 * Keys are 64-bit SipHash values (secret random key drawn at create) of the key bytes, in an
 * open-addressing table whose slots are claimed by compare-and-swap. When the 16-slot probe
 * window of a key is full, a slot whose bucket has been full (idle) for a second is taken
 * over; when none is, the key draws from an overflow bucket shared by every key of its kind
 * (client, session, other), and the decision says so (`overflow`): stricter, never open.
 * See docs/internals/limits.md. */
#ifndef MB_RATELIMIT_H
#define MB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest key mb_ratelimit_key writes (bytes, no NUL needed; the buffer it fills). */
#define MB_RATELIMIT_KEY_MAX 272
/* Probe window of a key in the table. */
#define MB_RATELIMIT_PROBE 16

struct mb_ratelimit_decision {
    bool allowed;             /* the request may proceed (one token was taken) */
    bool overflow;            /* the table was full: the kind's shared overflow bucket decided */
    uint32_t limit;           /* the burst (bucket capacity) */
    uint32_t remaining;       /* whole tokens left after this decision (0 when denied) */
    uint64_t retry_after_ms;  /* denied: time until one token is available, rounded up; else 0 */
    uint64_t reset_ms;        /* time until the bucket is full again, rounded up */
};

/* Which level of the documented hierarchy a key stands for. */
enum mb_ratelimit_kind {
    MB_RATELIMIT_CLIENT = 0,  /* "c:" + client_id (authenticated client) */
    MB_RATELIMIT_SESSION,     /* "s:" + MCP session id */
    MB_RATELIMIT_GLOBAL,      /* "g": one bucket for everyone */
};

struct mb_ratelimit;

/* Maps the shared region (MAP_SHARED | MAP_ANONYMOUS) with room for slot_count keys (rounded up
 * to a power of two, between 16 and 2^24; 16 bytes each) and draws the hash key. Call before
 * fork. NULL on failure. */
struct mb_ratelimit *mb_ratelimit_create(size_t slot_count);
/* Unmaps the region (in the calling process only). NULL is ignored. */
void mb_ratelimit_destroy(struct mb_ratelimit *rl);

/* Takes one token from the bucket of key (key_len bytes, any content; 0 bytes allowed) with
 * the given refill rate (tokens per second, > 0) and capacity burst (>= 1) at time now_ns
 * (nanoseconds on a clock shared by all workers: mb_ratelimit_now_ns(); tests pass their own).
 * Fills *out. Returns 0, or -EINVAL (rl, out or key NULL with key_len > 0, rate not positive
 * and finite, burst 0, now_ns >= 2^62), then *out says denied. A rate slower than burst tokens
 * per 2^60 ns (36 years) counts as exactly that. Rate and burst may differ between calls for a
 * key (a reload): the stored TAT stays meaningful. Never blocks, never allocates. */
int mb_ratelimit_take(struct mb_ratelimit *rl, const void *key, size_t key_len, double rate_per_s,
                      unsigned burst, uint64_t now_ns, struct mb_ratelimit_decision *out);

/* Forms the key of a request by the documented hierarchy: global -> "g"; else a non-empty
 * client_id -> "c:" + client_id; else a non-empty session id -> "s:" + session id; else "g".
 * A client_id or session id longer than 256 bytes is replaced by "#" + 16 hex digits of its
 * hash (so the key still fits). client_id / session_id may be NULL (then their length is
 * ignored). Writes at most MB_RATELIMIT_KEY_MAX bytes into out (not NUL-terminated), sets
 * *out_len and returns the kind. */
enum mb_ratelimit_kind mb_ratelimit_key(bool global, const char *client_id, size_t client_len,
                                        const char *session_id, size_t session_len,
                                        char out[MB_RATELIMIT_KEY_MAX], size_t *out_len);

/* CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine. */
uint64_t mb_ratelimit_now_ns(void);

/* Diagnostics: slots in the table, slots holding a key. */
size_t mb_ratelimit_capacity(const struct mb_ratelimit *rl);
size_t mb_ratelimit_used(const struct mb_ratelimit *rl);

#endif
