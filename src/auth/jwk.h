/* Verification key sets for inbound JWTs: a JWKS document (RFC 7517) or one static PEM public
 * key (the service account's "token mode") turned into OpenSSL EVP_PKEYs, checked once at load
 * (RSA modulus of 2048..8192 bits, EC points on P-256/P-384, Ed25519 raw keys) and immutable
 * afterwards, so a set may be shared read-only and swapped whole when a refetched JWKS differs
 * (compare fingerprints). Pure: no I/O, no clock. Also home of the algorithm enum shared with
 * jwt.h, because which algorithms a key may verify is a property of the key.
 * See docs/internals/jwt.md. */
#ifndef MB_JWK_H
#define MB_JWK_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The signature algorithms we verify. Everything else ("none", HS*, PS384, ES512, ...) is
 * refused; there is deliberately no symmetric algorithm, so an HS/RS confusion is impossible. */
enum mb_jwt_alg {
    MB_JWT_RS256 = 0,
    MB_JWT_RS384,
    MB_JWT_RS512,
    MB_JWT_PS256,
    MB_JWT_ES256,
    MB_JWT_ES384,
    MB_JWT_EDDSA,
    MB_JWT_ALG_COUNT
};

#define MB_JWT_ALG_BIT(a) (1u << (unsigned)(a))
#define MB_JWT_ALGS_ALL   ((1u << MB_JWT_ALG_COUNT) - 1u)
#define MB_JWT_ALGS_RSA                                                                            \
    (MB_JWT_ALG_BIT(MB_JWT_RS256) | MB_JWT_ALG_BIT(MB_JWT_RS384) | MB_JWT_ALG_BIT(MB_JWT_RS512) |  \
     MB_JWT_ALG_BIT(MB_JWT_PS256))

/* The JOSE name ("RS256", ..., "EdDSA") of alg; "?" for a value outside the enum. */
const char *mb_jwt_alg_name(enum mb_jwt_alg alg);
/* The algorithm a JOSE name stands for (exact, case-sensitive), or -1 for any name this library
 * does not verify, "none" and "HS256" included. name may be NULL (-1). */
int mb_jwt_alg_from_name(const char *name);

#define MB_JWKS_MAX_BYTES      (256 * 1024) /* largest JWKS document accepted */
#define MB_JWKS_MAX_KEYS       64           /* most entries in "keys" */
#define MB_JWK_PEM_MAX_BYTES   (16 * 1024)  /* largest PEM text accepted */
#define MB_JWK_KID_MAX         256          /* longest kid, in bytes */
#define MB_JWK_RSA_MIN_BITS    2048
#define MB_JWK_RSA_MAX_BITS    8192
#define MB_JWK_FINGERPRINT_LEN 32

enum mb_jwk_kty {
    MB_JWK_RSA = 1,
    MB_JWK_EC,
    MB_JWK_OKP, /* Ed25519 */
};

/* One usable key. Read-only for callers; owned by its set. */
struct mb_jwk {
    EVP_PKEY *pkey;  /* public key */
    const char *kid; /* NUL-terminated, or NULL when the key has none */
    enum mb_jwk_kty kty;
    unsigned bits; /* RSA modulus bits, EC field bits (256/384), 256 for Ed25519 */
    unsigned algs; /* MB_JWT_ALG_BIT mask of the algorithms this key may verify: the
                    * key type's family (RSA: RS256/384/512, PS256; P-256: ES256;
                    * P-384: ES384; Ed25519: EdDSA), narrowed to one by the JWK "alg" */
};

/* What a JWKS parse kept and skipped, for the operator's log. */
struct mb_jwk_set_stats {
    unsigned listed;              /* entries in "keys" */
    unsigned loaded;              /* usable keys in the set */
    unsigned skipped_use;         /* "use" other than "sig", or "key_ops" without "verify" */
    unsigned skipped_unsupported; /* unknown kty, crv, or an "alg" we do not verify */
    unsigned rejected;            /* invalid keys: weak RSA, point off the curve, bad encoding */
    char first_rejection[192];    /* why the first rejected key was refused; "" when none */
};

struct mb_jwk_set;

/* Parses a JWKS document ({"keys":[...]}) of len bytes (need not be NUL-terminated).
 * Duplicate member names make the document malformed. Keys with an unknown kty/crv/alg or a
 * "use" other than "sig" are skipped; keys of a known type that fail a check (RSA modulus under
 * MB_JWK_RSA_MIN_BITS, EC point not on its curve, wrong coordinate length, non-string kid,
 * "alg" not matching the key type) are rejected; both are counted in the stats and neither
 * fails the document. Returns a new set the caller destroys, or NULL with a message in err
 * (err may be NULL; errlen bytes at most, NUL included) when the JSON is malformed, the
 * document is larger than MB_JWKS_MAX_BYTES, "keys" has more than MB_JWKS_MAX_KEYS entries,
 * no key is usable, or memory runs out. */
struct mb_jwk_set *mb_jwk_set_parse_jwks(const char *json, size_t len, char *err, size_t errlen);

/* Makes a one-key set from a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block: Ed25519 (the
 * documented token mode), RSA (>= MB_JWK_RSA_MIN_BITS) or EC on P-256/P-384. The key has no
 * kid. Returns a new set the caller destroys, or NULL with a message in err. */
struct mb_jwk_set *mb_jwk_set_from_pem(const char *pem, size_t len, char *err, size_t errlen);

/* The key to verify a token with the given kid (NUL-terminated, or NULL when the token has
 * none) and alg, in this order:
 *   1. kid given: the first key whose kid equals it and whose algs include alg. When a key has
 *      that kid but none of them allows alg, NULL (a kid names one key; no fallback).
 *   2. no key has that kid, or kid NULL: the first key without a kid that allows alg (so a
 *      one-key PEM set verifies tokens whatever kid they carry).
 *   3. kid NULL only: the first key (in document order) that allows alg.
 * NULL when none fits or set is NULL. The key lives as long as the set. */
const struct mb_jwk *mb_jwk_set_find(const struct mb_jwk_set *set, const char *kid,
                                     enum mb_jwt_alg alg);
/* True when some key of the set carries this kid (kid NULL or set NULL: false). Tells "no key
 * for this kid" (refresh the JWKS) from "the key exists but does not allow this alg". */
bool mb_jwk_set_has_kid(const struct mb_jwk_set *set, const char *kid);
/* Number of usable keys (0 for NULL). */
size_t mb_jwk_set_count(const struct mb_jwk_set *set);
/* The i-th key in document order, or NULL when i >= count. */
const struct mb_jwk *mb_jwk_set_key(const struct mb_jwk_set *set, size_t i);
/* MB_JWK_FINGERPRINT_LEN bytes: SHA-256 over the sorted per-key digests of (kid, allowed
 * algorithms, DER SubjectPublicKeyInfo). Independent of key order, whitespace and members we
 * ignore; changes when a key, its kid or its alg changes. Lives as long as the set. */
const uint8_t *mb_jwk_set_fingerprint(const struct mb_jwk_set *set);
/* True when both sets are non-NULL and have the same fingerprint. */
bool mb_jwk_set_same(const struct mb_jwk_set *a, const struct mb_jwk_set *b);
/* What the parse kept and skipped (all zero but loaded for a PEM set). Lives as long as the set. */
const struct mb_jwk_set_stats *mb_jwk_set_stats(const struct mb_jwk_set *set);
/* Frees the set and its keys. NULL is ignored. */
void mb_jwk_set_destroy(struct mb_jwk_set *set);

/* Strict base64url (RFC 4648 section 5) decoding as JOSE requires: alphabet A-Z a-z 0-9 - _,
 * no padding, no whitespace, length mod 4 never 1, unused trailing bits zero (one encoding per
 * value). Writes at most cap bytes to out and the decoded length to *outlen.
 * Returns 0, -EINVAL for bad input, -E2BIG when the result would not fit in cap. */
int mb_jwk_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif
