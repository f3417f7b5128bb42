/* The inbound half of the security gateway for one worker: turns the credentials of a request
 * (service-account header, user header, TLS client certificate) into a principal (client id,
 * subject, scopes) or a denial (401/403/503 with what a WWW-Authenticate challenge needs),
 * following security.authentication (config/security_config.h). Signature checks happen once
 * per token: verified tokens are cached by SHA-256 until they expire (token_cache.h). Keys come
 * from a static PEM (service-account token mode) or a JWKS fetched through the loop and shared
 * by the instance's workers (jwks_fetch.h). Authentication answers at once in the common case;
 * it waits (never blocks) only for the first JWKS fetch, or for one refresh when a token names
 * a key id the current keys lack (key rotation), then answers through the callback.
 * Scope checks for tools (security.authorization.tools) are here too. See docs/internals/auth.md. */
#ifndef MB_GATEWAY_H
#define MB_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/security_config.h"

struct mb_upstream;

#define MB_PRINCIPAL_MAX_SCOPES 64
#define MB_PRINCIPAL_NAME_MAX 256

/* Who is calling, once authenticated. Owned by the caller (embedded); strings are copies. */
struct mb_principal {
    bool authenticated;                  /* false: authentication is off */
    char client_id[MB_PRINCIPAL_NAME_MAX]; /* service account client_id/sub, else mTLS identity, else "" */
    char subject[MB_PRINCIPAL_NAME_MAX];   /* the user's "sub" (jwt mode), else "" */
    size_t scope_count;                  /* granted scopes: union of the verified tokens' scopes */
    const char *scopes[MB_PRINCIPAL_MAX_SCOPES];
    char scope_data[4096];
    const char *user_token;              /* the user's raw token (after the prefix), pointing into the
                                          * request's headers: for token exchange or forward_downstream
                                          * only, never logged; NULL when none */
    size_t user_token_len;
};

/* Why a request is refused. status 401: no or bad credentials; 403: insufficient scope;
 * 503: the identity provider's keys could not be loaded (fail closed, retry later). */
struct mb_auth_denial {
    int status;
    const char *error;          /* RFC 6750 error code ("invalid_token", "insufficient_scope"), or
                                 * NULL for a request without credentials (RFC 6750 3.1) */
    char description[200];      /* safe for the client: names the check, never echoes the token */
    char reason[48];            /* short code for audit and metrics: "missing_credentials", "expired", ... */
    char scope[512];            /* scopes for the challenge ("" when none) */
};

/* The credentials of one request, extracted by the transport. Pointers stay valid until the
 * authentication answered (they point into the request). Values are the whole header values;
 * the gateway strips the configured prefixes. */
struct mb_auth_input {
    const char *service_account; size_t service_account_len; /* NULL: header absent */
    const char *user; size_t user_len;                       /* NULL: header absent */
    const char *tls_identity;                                /* verified client certificate, or NULL */
};

/* State that crosses workers, mapped by the master before fork: the fetched JWKS documents. */
struct mb_gateway_shared;
/* NULL with a message in err when a region cannot be mapped; a config without JWKS gives an
 * empty (valid) object. */
struct mb_gateway_shared *mb_gateway_shared_create(const struct mb_security_config *sec, char *err, size_t errlen);
void mb_gateway_shared_destroy(struct mb_gateway_shared *shared);

struct mb_gateway;
/* Creates the worker's gateway (starts the JWKS fetches when JWKS are configured). sec, shared
 * and up are borrowed and must outlive it. NULL with a message in err when the static public
 * key is unusable or memory runs out. */
struct mb_gateway *mb_gateway_create(uv_loop_t *loop, struct mb_upstream *up, const struct mb_security_config *sec,
                                     struct mb_gateway_shared *shared, char *err, size_t errlen);
/* Cancels pending authentications (their callbacks never run) and frees the gateway. */
void mb_gateway_destroy(struct mb_gateway *gw);

enum mb_auth_outcome {
    MB_AUTH_ALLOW = 0,   /* *p filled */
    MB_AUTH_DENY = 1,    /* *d filled */
    MB_AUTH_PENDING = 2, /* cb runs later from the loop with the outcome */
};

typedef void (*mb_auth_cb)(void *data, enum mb_auth_outcome outcome);
struct mb_auth_pending;

/* Authenticates one request. p and d must stay valid until the outcome is known. Returns ALLOW
 * or DENY at once, or PENDING (then *pending is a handle for mb_auth_cancel and cb runs exactly
 * once, from the loop, with ALLOW or DENY, p or d filled). With authentication off it returns
 * ALLOW with p->authenticated false. */
enum mb_auth_outcome mb_gateway_authenticate(struct mb_gateway *gw, const struct mb_auth_input *in,
                                             struct mb_principal *p, struct mb_auth_denial *d,
                                             mb_auth_cb cb, void *data, struct mb_auth_pending **pending);
/* Forgets a pending authentication; its callback never runs. */
void mb_auth_cancel(struct mb_auth_pending *pending);

/* Whether p may see and call tool (security.authorization.tools: its entry, else "default").
 * True when authorization is not configured or p is NULL/unauthenticated with authentication
 * off. When false and missing is given, the required scopes (space-separated) go there. */
bool mb_principal_may_use(const struct mb_security_config *sec, const struct mb_principal *p, const char *tool,
                          char *missing, size_t missing_len);

/* A 64-bit key of which authorization rules p satisfies (same key = same visible tools), for
 * caching tools/list views per scope set. 0 when authorization is not configured. */
uint64_t mb_principal_visibility_key(const struct mb_security_config *sec, const struct mb_principal *p);

/* The RFC 9728 protected-resource metadata document (JSON, caller frees) for resource (the
 * resource identifier: security...resource, else the URL of the MCP endpoint the caller gives). */
char *mb_gateway_metadata_json(const struct mb_security_config *sec, const char *resource, const char *name);

/* Counters of this worker's gateway (tests, metrics). */
struct mb_gateway_stats {
    unsigned long allowed, denied, cache_hits, signature_checks, waited_for_keys;
};
void mb_gateway_stats(const struct mb_gateway *gw, struct mb_gateway_stats *out);

#endif
