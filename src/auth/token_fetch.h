/* Downstream tokens the gateway obtains from an OAuth token endpoint, through the worker's
 * mb_upstream (never blocking): RFC 8693 token exchange (the caller's token in, a token for the
 * downstream out) and the client_credentials grant (a token for the gateway itself). Results are
 * cached per (kind, SHA-256 of the subject token, audience, scope, resource) until their expiry
 * minus a skew, in a bounded LRU; concurrent requests for one key share one HTTP request; a
 * failure reaches every waiter as a terse message without token material, and is remembered
 * only for a short back-off. Tokens and the client secret are wiped (OPENSSL_cleanse) when
 * freed; the subject token is never stored (only its hash). One fetcher per worker and per token
 * endpoint configuration; see docs/internals/outbound-auth.md. */
#ifndef MB_AUTH_TOKEN_FETCH_H
#define MB_AUTH_TOKEN_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mb_upstream;
struct mb_token_fetcher;
struct mb_token_request;

#define MB_TOKEN_TYPE_ACCESS_TOKEN "urn:ietf:params:oauth:token-type:access_token"

enum mb_token_kind {
    MB_TOKEN_EXCHANGE = 1,              /* RFC 8693: the subject token is exchanged */
    MB_TOKEN_CLIENT_CREDENTIALS = 2,    /* RFC 6749 4.4: no subject */
};

/* How the gateway authenticates to the token endpoint (RFC 6749 2.3.1). */
enum mb_token_client_auth {
    MB_TOKEN_AUTH_BASIC = 0,            /* Authorization: Basic (client_secret_basic), default */
    MB_TOKEN_AUTH_POST = 1,             /* client_id and client_secret form fields */
    MB_TOKEN_AUTH_NONE = 2,             /* nothing (a public client, or mTLS at the TLS layer) */
};

struct mb_token_fetch_options {
    const char *token_url;              /* required, http:// or https:// */
    const char *client_id;              /* NULL: no client authentication */
    const char *client_secret;          /* may be NULL */
    enum mb_token_client_auth client_auth;
    const char *subject_token_type;     /* NULL = MB_TOKEN_TYPE_ACCESS_TOKEN */
    const char *requested_token_type;   /* NULL = not sent */
    const char *audience;               /* defaults for every request; NULL = not sent */
    const char *scope;
    const char *resource;
    const char *token_path;             /* dotted JSON path of the token ("data.token"); a
                                         * segment of digits indexes an array; NULL =
                                         * "access_token" */
    unsigned default_expires_in;        /* seconds, when the answer has no expires_in; 0 = 300 */
    unsigned skew_seconds;              /* a token is reused until expiry minus this; 0 = 30 */
    unsigned timeout_ms;                /* per request; 0 = 5000 */
    unsigned failure_backoff_ms;        /* a failure is answered from memory this long; 0 = 1000 */
    unsigned max_entries;               /* cache bound (LRU); 0 = 1024 */
    size_t max_response_bytes;          /* 0 = 64 KiB */
    size_t max_subject_bytes;           /* longer subject tokens are refused; 0 = 16 KiB */
};

/* Per-request overrides of the defaults; a NULL field keeps the default. */
struct mb_token_params {
    const char *audience;
    const char *scope;
    const char *resource;
};

/* Delivers the outcome, exactly once, always from the loop (never from inside the call that
 * asked). On success token/token_len hold the token (NUL-terminated, valid only during the
 * callback: copy it) and error is NULL; on failure token is NULL and error is a short message
 * safe to show a client or log (no token, no secret). */
typedef void (*mb_token_cb)(void *data, const char *token, size_t token_len, const char *error);

/* A second-level cache shared by several instances (Redis in mcpbridge: mcp_server.c connects it
 * to state/redis_state.h). Keys are 64 hex digits (NUL-terminated) that reveal nothing about
 * the subject; values are opaque bytes (AES-256-GCM ciphertext made here). */
typedef void (*mb_token_shared_done)(void *ctx, const void *value, size_t len, int error);
struct mb_token_shared_cache {
    /* Looks key up and calls done(ctx, value, len, error) exactly once, later, from the loop:
     * value NULL means a miss (absent, or error != 0: unreachable, timed out). Returns 0, or
     * nonzero for a miss now (done never runs then). */
    int (*get)(void *cache, const char *key, mb_token_shared_done done, void *ctx);
    /* Forgets the lookups whose ctx is ctx: their done never runs. */
    void (*forget)(void *cache, void *ctx);
    /* Stores value under key for ttl_seconds (>= 1). No answer; failures are the cache's. */
    void (*set)(void *cache, const char *key, const void *value, size_t len, unsigned ttl_seconds);
};

/* Counters for tests and metrics. */
struct mb_token_stats {
    unsigned long requests;             /* mb_token_fetch_get calls accepted */
    unsigned long hits;                 /* answered from a cached token */
    unsigned long coalesced;            /* joined a request already in flight */
    unsigned long http_requests;        /* requests sent to the token endpoint */
    unsigned long failures;             /* of those, failed */
    unsigned long failure_hits;         /* answered from a remembered failure (back-off) */
    unsigned long evictions;            /* entries dropped to stay under max_entries */
    unsigned long shared_lookups;       /* local misses asked of the shared cache */
    unsigned long shared_hits;          /* of those, answered with a usable token */
    unsigned long shared_stores;        /* tokens written to the shared cache */
    unsigned entries;                   /* now: entries in the cache */
};

/* Creates a fetcher on loop that sends through up (which must outlive it). Strings in opts are
 * copied. Returns NULL on bad options (no token_url, a token_path that is empty or has an empty
 * segment) or out of memory. */
struct mb_token_fetcher *mb_token_fetcher_create(uv_loop_t *loop, struct mb_upstream *up,
                                                 const struct mb_token_fetch_options *opts);
/* Cancels the HTTP requests in flight, runs every pending callback with an error, wipes and
 * frees the cache; the memory goes once the loop has closed the fetcher's timer. May be called
 * from a callback. NULL is ignored. */
void mb_token_fetcher_destroy(struct mb_token_fetcher *f);

/* Asks for a token: for MB_TOKEN_EXCHANGE the subject token (subject_len bytes, not kept: only
 * its hash is), for MB_TOKEN_CLIENT_CREDENTIALS subject is ignored (may be NULL). Returns a
 * handle valid until cb runs (for mb_token_fetch_cancel), or NULL when f, cb or kind is invalid
 * or memory ran out; then cb never runs. Every other failure (empty or oversized subject
 * included) reaches cb. */
struct mb_token_request *mb_token_fetch_get(struct mb_token_fetcher *f, enum mb_token_kind kind,
                                            const char *subject, size_t subject_len,
                                            mb_token_cb cb, void *data);
/* The same with per-request audience, scope or resource (params may be NULL). */
struct mb_token_request *mb_token_fetch_get_with(struct mb_token_fetcher *f, enum mb_token_kind kind,
                                                 const char *subject, size_t subject_len,
                                                 const struct mb_token_params *params,
                                                 mb_token_cb cb, void *data);
/* Attaches a shared cache, once, before the first request (ops and cache are borrowed and must
 * outlive f). From then on a local miss asks it before the token endpoint, and a token obtained
 * from the endpoint is stored in it until its expiry minus skew_seconds. Values are sealed with
 * AES-256-GCM under key (32 bytes, copied, wiped at destroy; instances that share the cache
 * must use the same key) with the cache key as associated data, so a value cannot be read
 * without the key nor moved to another key; one that does not open is a miss. The lookup keys
 * are SHA-256 over the token endpoint, client id and the local cache key. While a lookup is in
 * flight the request's subject token is held (wiped afterwards) to send it if the lookup misses.
 * Returns 0, or -EINVAL (an argument NULL, ops without get/forget/set, or already attached). */
int mb_token_fetcher_set_shared_cache(struct mb_token_fetcher *f, const struct mb_token_shared_cache *ops,
                                      void *cache, const uint8_t key[32]);

/* Forgets a request: its callback never runs. The HTTP request it may have started goes on for
 * the others waiting on it (and fills the cache). NULL is ignored. */
void mb_token_fetch_cancel(struct mb_token_request *req);

/* Copies the counters into out. */
void mb_token_fetcher_stats(const struct mb_token_fetcher *f, struct mb_token_stats *out);

#endif
