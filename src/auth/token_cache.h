/* A per-worker cache of verified bearer tokens, so a client that sends the same JWT on every
 * request pays for one signature verification, not one per request. The key is the SHA-256 of
 * the token bytes (the token itself is never stored); the value is what authorization needs:
 * subject, client id, scopes and when the entry stops being valid, min(token exp, put time +
 * max_ttl). Fixed capacity chosen at create, a chained hash index over a slot array with an LRU
 * list: get and put are O(1); a full cache evicts its least recently used entry. Only successful
 * verifications are cached (no negative caching: see docs/internals/jwt.md). Single-threaded:
 * one cache per worker loop, no locks. */
#ifndef MB_TOKEN_CACHE_H
#define MB_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"

#define MB_TOKEN_CACHE_DEFAULT_CAPACITY 4096
#define MB_TOKEN_CACHE_MAX_CAPACITY     (1u << 20)
#define MB_TOKEN_CACHE_DEFAULT_TTL      300   /* seconds, when create is given 0 */
#define MB_TOKEN_CACHE_MAX_VALUE_BYTES  16384 /* strings of one entry, NULs included */

/* A cached principal. In mb_token_cache_get's answer every pointer refers to memory of the
 * cache, valid until the next put or destroy on that cache; copy what must live longer. */
struct mb_token_cache_entry {
    const char *subject;       /* NULL when the token had no "sub" */
    const char *client_id;     /* NULL when none */
    const char *const *scopes; /* scope_count strings */
    size_t scope_count;
    int64_t expires_at; /* get: when the entry expires; put: the token's exp (0 = none) */
};

struct mb_token_cache;

/* Makes a cache of capacity entries (0 = MB_TOKEN_CACHE_DEFAULT_CAPACITY, at most
 * MB_TOKEN_CACHE_MAX_CAPACITY) whose entries live at most max_ttl seconds (0 =
 * MB_TOKEN_CACHE_DEFAULT_TTL). Allocates slots and index up front (about 100 bytes per entry
 * plus each entry's strings). Returns NULL when out of memory or capacity is too large. */
struct mb_token_cache *mb_token_cache_create(size_t capacity, unsigned max_ttl);
/* Frees the cache and every entry. NULL is ignored. */
void mb_token_cache_destroy(struct mb_token_cache *cache);

/* Looks the token up at time now. Returns true and fills *out (may be NULL) on a fresh hit
 * (now < expires_at), marking the entry most recently used; false on a miss. An expired entry
 * found on the way is removed. */
bool mb_token_cache_get(struct mb_token_cache *cache, const char *token, size_t len, int64_t now,
                        struct mb_token_cache_entry *out);

/* Stores (or replaces) the entry for a token that was just verified at time now. value's
 * strings are copied; value->expires_at is the token's exp (0 = none) and the entry expires at
 * min(exp, now + max_ttl). Returns 0, -EINVAL (NULL argument, or the token already expired),
 * -E2BIG (strings beyond MB_TOKEN_CACHE_MAX_VALUE_BYTES: not cached) or -ENOMEM. */
int mb_token_cache_put(struct mb_token_cache *cache, const char *token, size_t len, int64_t now,
                       const struct mb_token_cache_entry *value);
/* mb_token_cache_put with the subject, client id, scopes and exp of verified claims. */
int mb_token_cache_put_claims(struct mb_token_cache *cache, const char *token, size_t len,
                              int64_t now, const struct mb_jwt_claims *claims);

/* Entries currently held (fresh or not yet noticed expired). */
size_t mb_token_cache_count(const struct mb_token_cache *cache);
/* The capacity the cache was made with. */
size_t mb_token_cache_capacity(const struct mb_token_cache *cache);
/* Drops every entry (after a key-set change an operator wants to take effect at once). */
void mb_token_cache_clear(struct mb_token_cache *cache);

#endif
