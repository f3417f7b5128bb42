/* HMAC-SHA256 (RFC 2104) and SHA-256 without a per-call allocation: OpenSSL 3's one-shot HMAC() fetches
 * the algorithm and builds a MAC context on every call, which shows up in a profile when every
 * request checks a session id. This keeps one fetched SHA-256 and one digest context per
 * process (workers are single-threaded; not for use from several threads at once). */
#ifndef MB_HMAC_H
#define MB_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define MB_HMAC_SHA256_LEN 32

/* out = HMAC-SHA256(key, data). key may be up to 64 bytes (longer keys are hashed first, as
 * RFC 2104 says). Returns 0, or -1 when OpenSSL fails (out is then zeroed). */
int mb_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[MB_HMAC_SHA256_LEN]);

/* out = SHA-256(data), on the same reused context. Returns 0 or -1 (out zeroed). */
int mb_sha256(const void *data, size_t len, uint8_t out[MB_HMAC_SHA256_LEN]);

#endif
