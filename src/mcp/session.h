/* MCP sessions without a session table. A session id is its own proof: it carries a format
 * version, the negotiated protocol version, the issue time and a random part, and ends with an
 * HMAC-SHA256 (truncated to 128 bits) over those bytes under a key the master holds (random per
 * start, or derived from runtime.server.session.secret so several instances agree). Any
 * worker validates an id with one HMAC, no lookup.
 *
 * The little state that must cross workers lives in struct mb_shared, one anonymous
 * MAP_SHARED region mapped before fork: a lossy open-addressing table keyed by a 64-bit hash of
 * the id, holding "ended" tombstones (DELETE) and the client's logging level. Slots are claimed
 * with compare-and-swap; when a probe window is full the entry closest to expiry is replaced
 * (an ended session could then be accepted again until it expires; documented). */
#ifndef MB_SESSION_H
#define MB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_SESSION_ID_MAX 64

struct mb_session_info {
    uint64_t key;              /* 64-bit hash of the id: the key into shared state */
    uint64_t issued;           /* unix seconds */
    int protocol_index;        /* index into the server's supported protocol versions */
};

enum mb_session_status {
    MB_SESSION_VALID = 0,
    MB_SESSION_MALFORMED = -1, /* not an id we could have issued (bad length, base64, version) */
    MB_SESSION_FORGED = -2,    /* MAC mismatch: issued under another key, or tampered */
    MB_SESSION_EXPIRED = -3,   /* older than ttl */
    MB_SESSION_ENDED = -4,     /* terminated by DELETE */
};

struct mb_shared;

/* Maps the shared region (MAP_SHARED | MAP_ANONYMOUS) with room for slot_count entries
 * (rounded up to a power of two, at least 1024). Call before fork. NULL on failure. */
struct mb_shared *mb_shared_create(size_t slot_count);
void mb_shared_destroy(struct mb_shared *shared);

/* Writes a new NUL-terminated id (at most MB_SESSION_ID_MAX bytes with the NUL) into out.
 * Returns 0, or -EIO when the random generator fails. */
int mb_session_issue(const uint8_t key[32], int protocol_index, char out[MB_SESSION_ID_MAX],
                     struct mb_session_info *info);
/* Checks an id against the key, the ttl (seconds, 0 = none) and the shared tombstones
 * (shared may be NULL). Fills *info when the id is well formed and authentic. */
enum mb_session_status mb_session_check(const uint8_t key[32], const struct mb_shared *shared,
                                        const char *id, size_t len, unsigned ttl,
                                        struct mb_session_info *info);
/* When a session expires: issued + ttl, or issued + 1 day when ttl is 0 (unix seconds). */
uint64_t mb_session_expires(const struct mb_session_info *info, unsigned ttl);
/* Marks a session ended until it would have expired (mb_session_expires). */
void mb_session_end(struct mb_shared *shared, const struct mb_session_info *info, unsigned ttl);
/* The same by session key and expiry, for an end learnt from another instance (both as in
 * struct mb_session_info / mb_session_expires). Idempotent; shared may be NULL (no-op). */
void mb_session_end_key(struct mb_shared *shared, uint64_t key, uint64_t expires);
/* Stores the MCP logging level (0..7, debug..emergency) a client chose for its session. */
void mb_session_set_log_level(struct mb_shared *shared, const struct mb_session_info *info,
                              unsigned ttl, int level);
/* The same by session key and expiry (another instance's choice). Idempotent; levels outside
 * 0..7 are ignored; shared may be NULL (no-op). */
void mb_session_set_log_level_key(struct mb_shared *shared, uint64_t key, uint64_t expires, int level);
/* The logging level a client chose, or -1 when it never chose one. */
int mb_session_log_level(const struct mb_shared *shared, const struct mb_session_info *info);

/* Cancellations that cross workers: a worker that receives notifications/cancelled for a
 * request it does not hold posts (session key, hash of the request id) to a ring of
 * MB_CANCEL_RING entries in the shared region; workers with requests in flight poll it.
 * Lock-free: each entry carries its sequence number; a reader that falls more than the ring
 * behind loses the oldest entries (a cancellation is advisory in MCP). */
#define MB_CANCEL_RING 256
/* Posts one cancellation. shared may be NULL (no-op). */
void mb_shared_cancel_post(struct mb_shared *shared, uint64_t session_key, uint64_t id_hash);
/* The sequence number of the newest posted cancellation (a reader's starting cursor). */
uint64_t mb_shared_cancel_head(const struct mb_shared *shared);
/* Calls cb for each cancellation posted after *cursor and advances *cursor. */
void mb_shared_cancel_poll(const struct mb_shared *shared, uint64_t *cursor,
                           void (*cb)(void *data, uint64_t session_key, uint64_t id_hash), void *data);
/* A 64-bit hash (FNV-1a) of bytes, for request ids. */
uint64_t mb_hash64(const void *data, size_t len);

#endif
