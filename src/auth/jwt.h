/* Inbound JWT verification: a hardened parser for compact JWS tokens (RFC 7515/7519) signed
 * with an asymmetric algorithm, checked against a key set (jwk.h) and a policy (algorithm
 * allow-list, issuer, audiences, leeway, size). Pure: no I/O, no clock read (the caller passes
 * `now`), no global state; safe to call from any worker. The signature is verified before any
 * claim is read; the payload is not even decoded until then. Order of the checks, limits and
 * decisions: docs/internals/jwt.md. */
#ifndef MB_JWT_H
#define MB_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwk.h"

#define MB_JWT_DEFAULT_MAX_BYTES 8192  /* token size when the policy says 0 */
#define MB_JWT_HARD_MAX_BYTES    65536 /* larger max_token_bytes are lowered to this */
#define MB_JWT_MAX_HEADER_CHARS  4096  /* base64url characters of the header segment */
#define MB_JWT_MAX_SCOPES        64
#define MB_JWT_MAX_SCOPE_BYTES   256
#define MB_JWT_MAX_TIME          253402300799LL /* 9999-12-31T23:59:59Z: later exp/nbf/iat refused */

enum mb_jwt_status {
    MB_JWT_OK = 0,
    MB_JWT_MALFORMED = -1,     /* not a well-formed compact JWS, bad JSON, bad claim type, crit */
    MB_JWT_TOO_LARGE = -2,     /* longer than max_token_bytes */
    MB_JWT_ALG_REFUSED = -3,   /* none, HS*, unknown, not allowed by policy or by the key */
    MB_JWT_UNKNOWN_KID = -4,   /* no key for that kid: the caller may refresh the JWKS once */
    MB_JWT_BAD_SIGNATURE = -5, /* wrong length or does not verify */
    MB_JWT_EXPIRED = -6,       /* now >= exp + leeway */
    MB_JWT_NOT_YET_VALID = -7, /* now + leeway < nbf, or iat > now + leeway */
    MB_JWT_BAD_ISSUER = -8,
    MB_JWT_BAD_AUDIENCE = -9,
    MB_JWT_MISSING_CLAIM = -10, /* exp (require_exp), iss or aud required by the policy */
    MB_JWT_INTERNAL = -11,      /* out of memory or an OpenSSL failure: fail closed */
};

struct mb_jwt_policy {
    unsigned algs;                /* MB_JWT_ALG_BIT allow-list; 0 = all supported */
    const char *issuer;           /* exact match of "iss"; NULL = not checked */
    const char *const *audiences; /* any one must appear in "aud" (string or array) */
    size_t audience_count;        /* 0 = "aud" not checked */
    unsigned leeway_seconds;      /* clock skew allowed on exp, nbf and iat */
    size_t max_token_bytes;       /* 0 = MB_JWT_DEFAULT_MAX_BYTES; at most MB_JWT_HARD_MAX_BYTES */
    bool require_exp;             /* a token without "exp" is MISSING_CLAIM */
};

/* What a verified token says. Strings point into payload (or scope_data) and live until
 * mb_jwt_claims_dispose. */
struct mb_jwt_claims {
    json_t *payload;       /* the whole claims object; owned (decref'd by dispose) */
    const char *subject;   /* "sub", or NULL */
    const char *client_id; /* "client_id", else "azp", else "cid"; NULL when none */
    const char *issuer;    /* "iss", or NULL */
    int64_t expiry;        /* "exp" in unix seconds, 0 when absent */
    int64_t not_before;    /* "nbf", 0 when absent */
    int64_t issued_at;     /* "iat", 0 when absent */
    enum mb_jwt_alg alg;   /* the algorithm that verified the signature */
    size_t scope_count;    /* distinct scopes from "scope" and "scp", in order of appearance */
    const char *scopes[MB_JWT_MAX_SCOPES];
    char *scope_data; /* owned storage of the scope strings */
};

/* Verifies the compact JWS token (len bytes, need not be NUL-terminated) against keys and
 * policy at time now (unix seconds). policy NULL means the defaults (every supported algorithm,
 * nothing but the signature and present time claims checked, 8192 bytes). keys NULL answers
 * MB_JWT_UNKNOWN_KID. On MB_JWT_OK, *out (may be NULL) holds the claims and must be released
 * with mb_jwt_claims_dispose; on any other status *out is zeroed and owns nothing. err (may be
 * NULL, errlen bytes at most) receives a one-line message for the operator: never the token,
 * at most short, sanitized excerpts of header fields (alg, kid) or claims (iss). */
enum mb_jwt_status mb_jwt_verify(const char *token, size_t len, const struct mb_jwk_set *keys,
                                 const struct mb_jwt_policy *policy, int64_t now,
                                 struct mb_jwt_claims *out, char *err, size_t errlen);

/* Releases what a successful verification put in *claims and zeroes it. NULL and zeroed claims
 * are fine. */
void mb_jwt_claims_dispose(struct mb_jwt_claims *claims);

/* True when scope is one of the claims' scopes (exact, case-sensitive). */
bool mb_jwt_claims_has_scope(const struct mb_jwt_claims *claims, const char *scope);

/* A short stable snake_case name for logs and metrics ("ok", "malformed", "too_large",
 * "alg_refused", "unknown_kid", "bad_signature", "expired", "not_yet_valid", "bad_issuer",
 * "bad_audience", "missing_claim", "internal"); "unknown" for other values. */
const char *mb_jwt_status_name(enum mb_jwt_status status);

#endif
