/* libFuzzer target for the inbound token library (auth/jwt.c, auth/jwk.c, auth/token_cache.c).
 * Keys (RSA 2048, P-256, P-384, Ed25519) are made once; the first byte chooses what the rest is:
 *   0: a token, verified against the fixed JWKS under a strict policy and looked up in / added
 *      to a small token cache;
 *   1: a JWKS document (and the same bytes as a PEM public key);
 *   2: "header\xffpayload", both signed here with the Ed25519 key, so the fuzzer reaches the
 *      header rules and, past a valid signature, the claim parsing;
 *   3: a payload signed under a fixed valid EdDSA header: the signature must then never be the
 *      reason for a refusal (trap on BAD_SIGNATURE, ALG_REFUSED, UNKNOWN_KID, TOO_LARGE).
 * Any input: no crash, no leak, claims only on MB_JWT_OK and within their bounds. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwk.h"
#include "auth/jwt.h"
#include "auth/token_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW      1700000000LL
#define MAX_PART 20000

static struct mb_jwk_set *keys;
static EVP_PKEY *ed_key;
static struct mb_token_cache *cache;

static size_t b64url(const void *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[n] = '\0';
    return (size_t)n;
}

static void bn_b64(EVP_PKEY *k, const char *param, int pad, char *out)
{
    BIGNUM *bn = NULL;
    unsigned char buf[512];
    if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
        __builtin_trap();
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    b64url(buf, (size_t)n, out);
}

static void init(void)
{
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!rsa || !p256 || !p384 || !ed_key)
        __builtin_trap();
    char n[400], e[16], x1[64], y1[64], x2[80], y2[80], ed[64];
    bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
    bn_b64(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e);
    bn_b64(p256, OSSL_PKEY_PARAM_EC_PUB_X, 32, x1);
    bn_b64(p256, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y1);
    bn_b64(p384, OSSL_PKEY_PARAM_EC_PUB_X, 48, x2);
    bn_b64(p384, OSSL_PKEY_PARAM_EC_PUB_Y, 48, y2);
    unsigned char raw[32];
    size_t rl = sizeof raw;
    EVP_PKEY_get_raw_public_key(ed_key, raw, &rl);
    b64url(raw, rl, ed);
    char doc[4096];
    snprintf(
        doc, sizeof doc,
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa\",\"n\":\"%s\",\"e\":\"%s\"},"
        "{\"kty\":\"EC\",\"kid\":\"p256\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kty\":\"EC\",\"kid\":\"p384\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\","
        "\"alg\":\"ES384\"},{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}",
        n, e, x1, y1, x2, y2, ed);
    keys = mb_jwk_set_parse_jwks(doc, strlen(doc), NULL, 0);
    cache = mb_token_cache_create(64, 600);
    if (!keys || mb_jwk_set_count(keys) != 4 || !cache)
        __builtin_trap();
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
}

static const char *const auds[] = {"mcpbridge", "api://x"};

/* Verifies and checks the invariants of the answer. */
static enum mb_jwt_status check(const char *token, size_t len, const struct mb_jwt_policy *p)
{
    struct mb_jwt_claims c;
    char err[256];
    memset(err, 'z', sizeof err);
    enum mb_jwt_status st = mb_jwt_verify(token, len, keys, p, NOW, &c, err, sizeof err);
    if (!memchr(err, '\0', sizeof err))
        __builtin_trap();
    if (st > MB_JWT_OK || st < MB_JWT_INTERNAL)
        __builtin_trap();
    if (st != MB_JWT_OK) {
        if (c.payload || c.scope_data || c.scope_count)
            __builtin_trap();
        return st;
    }
    if (!json_is_object(c.payload) || c.scope_count > MB_JWT_MAX_SCOPES)
        __builtin_trap();
    for (size_t i = 0; i < c.scope_count; i++)
        if (strlen(c.scopes[i]) == 0 || strlen(c.scopes[i]) > MB_JWT_MAX_SCOPE_BYTES)
            __builtin_trap();
    if (p->require_exp && c.expiry <= NOW - (int64_t)p->leeway_seconds)
        __builtin_trap();
    if (mb_token_cache_put_claims(cache, token, len, NOW, &c) == 0 &&
        !mb_token_cache_get(cache, token, len, NOW, NULL))
        __builtin_trap();
    mb_jwt_claims_dispose(&c);
    return st;
}

/* Signs b64(header).b64(payload) with the Ed25519 key into a malloc'd token. */
static char *sign(const uint8_t *h, size_t hl, const uint8_t *pl, size_t pll, size_t *len)
{
    char *t = malloc(4 * (hl + pll) / 3 + 256);
    size_t n = b64url(h, hl, t);
    t[n++] = '.';
    n += b64url(pl, pll, t + n);
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, ed_key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)t, n) != 1)
        __builtin_trap();
    EVP_MD_CTX_free(ctx);
    t[n++] = '.';
    n += b64url(sig, siglen, t + n);
    *len = n;
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys)
        init();
    if (size < 1)
        return 0;
    unsigned mode = data[0] & 3;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    struct mb_jwt_policy strict = {
        .issuer = "https://idp",
        .audiences = auds,
        .audience_count = 2,
        .leeway_seconds = data[0] >> 4,
        .require_exp = data[0] & 4,
        .algs = data[0] & 8 ? MB_JWT_ALGS_ALL : 0,
        .max_token_bytes = 65536,
    };
    struct mb_jwt_policy open = {.max_token_bytes = 65536};

    if (mode == 0) {
        check((const char *)body, len, &strict);
        check((const char *)body, len, &open);
        mb_token_cache_get(cache, (const char *)body, len, NOW, NULL);
    } else if (mode == 1) {
        char err[256];
        struct mb_jwk_set *s = mb_jwk_set_parse_jwks((const char *)body, len, err, sizeof err);
        if (s) {
            size_t n = mb_jwk_set_count(s);
            if (n == 0 || n > MB_JWKS_MAX_KEYS)
                __builtin_trap();
            for (int a = 0; a < MB_JWT_ALG_COUNT; a++) {
                const struct mb_jwk *k = mb_jwk_set_find(s, NULL, (enum mb_jwt_alg)a);
                if (k && !(k->algs & MB_JWT_ALG_BIT(a)))
                    __builtin_trap();
                if (mb_jwk_set_key(s, 0)->kid)
                    mb_jwk_set_find(s, mb_jwk_set_key(s, 0)->kid, (enum mb_jwt_alg)a);
            }
            mb_jwk_set_destroy(s);
        } else if (!memchr(err, '\0', sizeof err) || err[0] == '\0') {
            __builtin_trap();
        }
        s = mb_jwk_set_from_pem((const char *)body, len, err, sizeof err);
        mb_jwk_set_destroy(s);
    } else if (len <= MAX_PART * 2) {
        const uint8_t *h, *pl;
        size_t hl, pll;
        static const char fixed[] = "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"JWT\"}";
        if (mode == 2) {
            const uint8_t *sep = memchr(body, 0xff, len);
            if (!sep)
                return 0;
            h = body, hl = (size_t)(sep - body);
            pl = sep + 1, pll = len - hl - 1;
        } else {
            h = (const uint8_t *)fixed, hl = sizeof fixed - 1;
            pl = body, pll = len;
        }
        size_t tl;
        char *t = sign(h, hl, pl, pll, &tl);
        enum mb_jwt_status st = check(t, tl, &open);
        if (mode == 3 && (st == MB_JWT_BAD_SIGNATURE || st == MB_JWT_ALG_REFUSED ||
                          st == MB_JWT_UNKNOWN_KID || st == MB_JWT_TOO_LARGE))
            __builtin_trap();
        check(t, tl, &strict);
        free(t);
    }
    return 0;
}
