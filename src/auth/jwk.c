/* Implementation of jwk.h: JWKS and PEM keys to EVP_PKEYs through the OpenSSL 3 provider API
 * (EVP_PKEY_fromdata), with the size, curve and on-curve checks done once at load. A set is one
 * allocation of keys plus their kid strings; nothing changes after creation. */
#include "auth/jwk.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSA_N_MAX_BYTES (MB_JWK_RSA_MAX_BITS / 8 + 1) /* one leading zero tolerated */
#define RSA_E_MAX_BYTES 8
#define EC_COORD_MAX    48

struct mb_jwk_set {
    size_t count;
    struct mb_jwk keys[MB_JWKS_MAX_KEYS];
    uint8_t fingerprint[MB_JWK_FINGERPRINT_LEN];
    struct mb_jwk_set_stats stats;
};

static const char *const alg_names[MB_JWT_ALG_COUNT] = {
    [MB_JWT_RS256] = "RS256", [MB_JWT_RS384] = "RS384", [MB_JWT_RS512] = "RS512",
    [MB_JWT_PS256] = "PS256", [MB_JWT_ES256] = "ES256", [MB_JWT_ES384] = "ES384",
    [MB_JWT_EDDSA] = "EdDSA",
};

const char *mb_jwt_alg_name(enum mb_jwt_alg alg)
{
    if ((unsigned)alg >= MB_JWT_ALG_COUNT)
        return "?";
    return alg_names[alg];
}

int mb_jwt_alg_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < MB_JWT_ALG_COUNT; i++)
        if (strcmp(name, alg_names[i]) == 0)
            return i;
    return -1;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies at most 64 bytes of an untrusted string for a message: printable ASCII only. */
static void safe_copy(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (size_t i = 0; src && src[i] && o + 1 < cap && i < 64; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    if (cap)
        dst[o] = '\0';
}

/* ---- base64url ---- */

static const int8_t b64url_value[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
}; /* value + 1; 0 = not in the alphabet */

int mb_jwk_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    if (len % 4 == 1 || (!in && len))
        return -EINVAL;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap)
        return -E2BIG;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned nbits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value[(unsigned char)in[i]];
        if (!v)
            return -EINVAL;
        acc = (acc << 6) | (uint32_t)(v - 1);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[o++] = (uint8_t)(acc >> nbits);
            acc &= (1u << nbits) - 1u;
        }
    }
    if (acc != 0) /* leftover bits must be zero: one encoding per value */
        return -EINVAL;
    *outlen = o;
    return 0;
}

/* Decodes a JSON string member as base64url into out (at most cap bytes).
 * Returns 0, -ENOENT when absent, -EINVAL when not a string or not base64url, -E2BIG. */
static int member_b64(json_t *obj, const char *name, uint8_t *out, size_t cap, size_t *outlen)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return -ENOENT;
    if (!json_is_string(v))
        return -EINVAL;
    return mb_jwk_base64url_decode(json_string_value(v), json_string_length(v), out, cap, outlen);
}

/* ---- key construction ---- */

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* The full public-key check OpenSSL offers (EC: not infinity, on the curve, right order). */
static bool pkey_public_check(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* Builds an RSA public key from big-endian n and e. Returns NULL with why. */
static EVP_PKEY *rsa_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
                             unsigned *bits, char *why, size_t whylen)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
    if (!bn_n || !bn_e) {
        set_err(why, whylen, "out of memory");
        goto done;
    }
    int nbits = BN_num_bits(bn_n);
    if (nbits < MB_JWK_RSA_MIN_BITS || nbits > MB_JWK_RSA_MAX_BITS) {
        set_err(why, whylen, "RSA modulus of %d bits (accepted: %d..%d)", nbits,
                MB_JWK_RSA_MIN_BITS, MB_JWK_RSA_MAX_BITS);
        goto done;
    }
    if (!BN_is_odd(bn_n)) {
        set_err(why, whylen, "RSA modulus is even");
        goto done;
    }
    if (!BN_is_odd(bn_e) || BN_num_bits(bn_e) < 2) {
        set_err(why, whylen, "RSA exponent must be odd and at least 3");
        goto done;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        set_err(why, whylen, "out of memory");
        goto done;
    }
    pkey = pkey_from_params("RSA", params);
    if (!pkey)
        set_err(why, whylen, "OpenSSL refused the RSA key");
    else
        *bits = (unsigned)nbits;
done:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* Builds an EC public key on a named group from the uncompressed point 04||x||y and checks it. */
static EVP_PKEY *ec_from_point(const char *group, const uint8_t *point, size_t plen, char *why,
                               size_t whylen)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, plen),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pkey = pkey_from_params("EC", params);
    if (!pkey || !pkey_public_check(pkey)) {
        set_err(why, whylen, "EC point is not on curve %s", group);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* The group name of an EC key ("prime256v1", "secp384r1") into buf; false when none. */
static bool ec_group_name(EVP_PKEY *pkey, char *buf, size_t cap)
{
    size_t len = 0;
    return EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, buf, cap, &len) == 1;
}

/* ---- JWKS ---- */

enum key_outcome { KEY_LOADED, KEY_SKIPPED_USE, KEY_SKIPPED_UNSUPPORTED, KEY_REJECTED };

/* Turns one JWK object into *key (kid not yet set). why receives the reason of a rejection. */
static enum key_outcome jwk_load(json_t *jwk, struct mb_jwk *key, char *why, size_t whylen)
{
    if (!json_is_object(jwk)) {
        set_err(why, whylen, "entry is not an object");
        return KEY_REJECTED;
    }
    json_t *use = json_object_get(jwk, "use");
    if (use && !json_is_string(use)) {
        set_err(why, whylen, "\"use\" is not a string");
        return KEY_REJECTED;
    }
    if (use && strcmp(json_string_value(use), "sig") != 0)
        return KEY_SKIPPED_USE;
    json_t *ops = json_object_get(jwk, "key_ops");
    if (ops) {
        if (!json_is_array(ops)) {
            set_err(why, whylen, "\"key_ops\" is not an array");
            return KEY_REJECTED;
        }
        bool verify = false;
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = true;
        }
        if (!verify)
            return KEY_SKIPPED_USE;
    }
    json_t *kty = json_object_get(jwk, "kty");
    if (!json_is_string(kty)) {
        set_err(why, whylen, "\"kty\" missing or not a string");
        return KEY_REJECTED;
    }
    json_t *jalg = json_object_get(jwk, "alg");
    if (jalg && !json_is_string(jalg)) {
        set_err(why, whylen, "\"alg\" is not a string");
        return KEY_REJECTED;
    }
    int alg = -1;
    if (jalg) {
        alg = mb_jwt_alg_from_name(json_string_value(jalg));
        if (alg < 0)
            return KEY_SKIPPED_UNSUPPORTED; /* e.g. RSA-OAEP, HS256, PS512: not ours to use */
    }
    const char *t = json_string_value(kty);
    uint8_t buf[1 + 2 * RSA_N_MAX_BYTES];
    size_t len = 0;
    int rc;
    memset(key, 0, sizeof *key);
    if (strcmp(t, "RSA") == 0) {
        uint8_t e[RSA_E_MAX_BYTES];
        size_t elen = 0;
        rc = member_b64(jwk, "n", buf, RSA_N_MAX_BYTES, &len);
        if (rc == -E2BIG) {
            set_err(why, whylen, "RSA modulus longer than %d bits", MB_JWK_RSA_MAX_BITS);
            return KEY_REJECTED;
        }
        if (rc < 0 || len == 0) {
            set_err(why, whylen, "RSA \"n\" missing or not base64url");
            return KEY_REJECTED;
        }
        rc = member_b64(jwk, "e", e, sizeof e, &elen);
        if (rc < 0 || elen == 0) {
            set_err(why, whylen, "RSA \"e\" missing, not base64url or longer than %d bytes",
                    RSA_E_MAX_BYTES);
            return KEY_REJECTED;
        }
        key->kty = MB_JWK_RSA;
        key->algs = MB_JWT_ALGS_RSA;
        key->pkey = rsa_from_ne(buf, len, e, elen, &key->bits, why, whylen);
    } else if (strcmp(t, "EC") == 0) {
        json_t *crv = json_object_get(jwk, "crv");
        if (!json_is_string(crv)) {
            set_err(why, whylen, "EC \"crv\" missing or not a string");
            return KEY_REJECTED;
        }
        const char *group;
        size_t clen;
        if (strcmp(json_string_value(crv), "P-256") == 0) {
            group = "prime256v1", clen = 32, key->algs = MB_JWT_ALG_BIT(MB_JWT_ES256);
        } else if (strcmp(json_string_value(crv), "P-384") == 0) {
            group = "secp384r1", clen = 48, key->algs = MB_JWT_ALG_BIT(MB_JWT_ES384);
        } else {
            return KEY_SKIPPED_UNSUPPORTED;
        }
        size_t xlen = 0, ylen = 0;
        buf[0] = 0x04; /* uncompressed point */
        if (member_b64(jwk, "x", buf + 1, EC_COORD_MAX, &xlen) < 0 || xlen != clen ||
            member_b64(jwk, "y", buf + 1 + clen, EC_COORD_MAX, &ylen) < 0 || ylen != clen) {
            set_err(why, whylen, "EC \"x\"/\"y\" missing, not base64url or not %zu bytes", clen);
            return KEY_REJECTED;
        }
        key->kty = MB_JWK_EC;
        key->bits = (unsigned)clen * 8;
        key->pkey = ec_from_point(group, buf, 1 + 2 * clen, why, whylen);
    } else if (strcmp(t, "OKP") == 0) {
        json_t *crv = json_object_get(jwk, "crv");
        if (!json_is_string(crv)) {
            set_err(why, whylen, "OKP \"crv\" missing or not a string");
            return KEY_REJECTED;
        }
        if (strcmp(json_string_value(crv), "Ed25519") != 0)
            return KEY_SKIPPED_UNSUPPORTED;
        if (member_b64(jwk, "x", buf, 32, &len) < 0 || len != 32) {
            set_err(why, whylen, "Ed25519 \"x\" missing, not base64url or not 32 bytes");
            return KEY_REJECTED;
        }
        key->kty = MB_JWK_OKP;
        key->bits = 256;
        key->algs = MB_JWT_ALG_BIT(MB_JWT_EDDSA);
        key->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, buf, 32);
        if (!key->pkey)
            set_err(why, whylen, "OpenSSL refused the Ed25519 key");
    } else {
        return KEY_SKIPPED_UNSUPPORTED; /* "oct" (shared secrets) among others: never used */
    }
    if (!key->pkey)
        return KEY_REJECTED;
    if (alg >= 0) {
        if (!(key->algs & MB_JWT_ALG_BIT(alg))) {
            set_err(why, whylen, "\"alg\" %s does not fit a %s key", alg_names[alg], t);
            EVP_PKEY_free(key->pkey);
            key->pkey = NULL;
            return KEY_REJECTED;
        }
        key->algs = MB_JWT_ALG_BIT(alg);
    }
    return KEY_LOADED;
}

/* SHA-256 of (kid presence, kid, algs, DER SubjectPublicKeyInfo) for one key. */
static int key_digest(const struct mb_jwk *key, uint8_t out[32])
{
    unsigned char *der = NULL;
    int derlen = i2d_PUBKEY(key->pkey, &der);
    if (derlen <= 0)
        return -ENOMEM;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t head[5] = {key->kid ? 1 : 0, (uint8_t)(key->algs >> 24), (uint8_t)(key->algs >> 16),
                       (uint8_t)(key->algs >> 8), (uint8_t)key->algs};
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(md, head, sizeof head) &&
             (!key->kid || EVP_DigestUpdate(md, key->kid, strlen(key->kid) + 1)) &&
             EVP_DigestUpdate(md, der, (size_t)derlen) && EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok ? 0 : -ENOMEM;
}

static int cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int set_fingerprint(struct mb_jwk_set *set)
{
    uint8_t digests[MB_JWKS_MAX_KEYS][32];
    for (size_t i = 0; i < set->count; i++)
        if (key_digest(&set->keys[i], digests[i]) < 0)
            return -ENOMEM;
    qsort(digests, set->count, 32, cmp_digest);
    unsigned int mdlen = 0;
    if (!EVP_Digest(digests, set->count * 32, set->fingerprint, &mdlen, EVP_sha256(), NULL))
        return -ENOMEM;
    return 0;
}

struct mb_jwk_set *mb_jwk_set_parse_jwks(const char *json, size_t len, char *err, size_t errlen)
{
    struct mb_jwk_set *set = NULL;
    json_t *doc = NULL;
    set_err(err, errlen, "%s", "");
    if (!json) {
        set_err(err, errlen, "JWKS: no document");
        goto fail;
    }
    if (len > MB_JWKS_MAX_BYTES) {
        set_err(err, errlen, "JWKS: document of %zu bytes exceeds %d", len, MB_JWKS_MAX_BYTES);
        goto fail;
    }
    json_error_t jerr;
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        set_err(err, errlen, "JWKS: invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                jerr.text);
        goto fail;
    }
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        set_err(err, errlen, "JWKS: not an object with a \"keys\" array");
        goto fail;
    }
    if (json_array_size(keys) > MB_JWKS_MAX_KEYS) {
        set_err(err, errlen, "JWKS: %zu keys, more than the %d accepted", json_array_size(keys),
                MB_JWKS_MAX_KEYS);
        goto fail;
    }
    /* kid strings go into one block after the struct; their total is bounded by the document. */
    size_t kid_bytes = 0;
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        json_t *kid = json_object_get(jwk, "kid");
        if (json_is_string(kid))
            kid_bytes += json_string_length(kid) + 1;
    }
    set = calloc(1, sizeof *set + kid_bytes);
    if (!set) {
        set_err(err, errlen, "JWKS: out of memory");
        goto fail;
    }
    char *kids = (char *)(set + 1);
    set->stats.listed = (unsigned)json_array_size(keys);
    json_array_foreach(keys, i, jwk)
    {
        char why[160] = "";
        struct mb_jwk key;
        json_t *kid = json_is_object(jwk) ? json_object_get(jwk, "kid") : NULL;
        enum key_outcome out;
        if (kid && (!json_is_string(kid) || json_string_length(kid) == 0 ||
                    json_string_length(kid) > MB_JWK_KID_MAX ||
                    strlen(json_string_value(kid)) != json_string_length(kid))) {
            set_err(why, sizeof why, "\"kid\" is not a string of 1..%d bytes", MB_JWK_KID_MAX);
            out = KEY_REJECTED;
        } else {
            out = jwk_load(jwk, &key, why, sizeof why);
        }
        switch (out) {
        case KEY_LOADED:
            if (kid) {
                size_t klen = json_string_length(kid);
                memcpy(kids, json_string_value(kid), klen + 1);
                key.kid = kids;
                kids += klen + 1;
            }
            set->keys[set->count++] = key;
            break;
        case KEY_SKIPPED_USE:
            set->stats.skipped_use++;
            break;
        case KEY_SKIPPED_UNSUPPORTED:
            set->stats.skipped_unsupported++;
            break;
        case KEY_REJECTED:
            if (set->stats.rejected++ == 0) {
                char kidbuf[72] = "";
                safe_copy(kidbuf, sizeof kidbuf, json_is_string(kid) ? json_string_value(kid) : "");
                snprintf(set->stats.first_rejection, sizeof set->stats.first_rejection,
                         "key %zu%s%s%s: %s", i, kidbuf[0] ? " (kid \"" : "", kidbuf,
                         kidbuf[0] ? "\")" : "", why);
            }
            break;
        }
        ERR_clear_error();
    }
    set->stats.loaded = (unsigned)set->count;
    if (set->count == 0) {
        set_err(err, errlen,
                "JWKS: no usable key (%u listed, %u not for signatures, %u unsupported, "
                "%u rejected%s%s)",
                set->stats.listed, set->stats.skipped_use, set->stats.skipped_unsupported,
                set->stats.rejected, set->stats.rejected ? "; first: " : "",
                set->stats.first_rejection);
        goto fail;
    }
    if (set_fingerprint(set) < 0) {
        set_err(err, errlen, "JWKS: out of memory");
        goto fail;
    }
    json_decref(doc);
    return set;
fail:
    ERR_clear_error();
    mb_jwk_set_destroy(set);
    json_decref(doc);
    return NULL;
}

/* ---- PEM ---- */

struct mb_jwk_set *mb_jwk_set_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    struct mb_jwk_set *set = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    set_err(err, errlen, "%s", "");
    if (!pem || len == 0 || len > MB_JWK_PEM_MAX_BYTES) {
        set_err(err, errlen, "PEM: empty or larger than %d bytes", MB_JWK_PEM_MAX_BYTES);
        goto fail;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        set_err(err, errlen, "PEM: out of memory");
        goto fail;
    }
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (!pkey) {
        set_err(err, errlen, "PEM: no \"PUBLIC KEY\" block that OpenSSL can read");
        goto fail;
    }
    struct mb_jwk key = {.pkey = pkey};
    char group[32] = "";
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519:
        key.kty = MB_JWK_OKP, key.bits = 256, key.algs = MB_JWT_ALG_BIT(MB_JWT_EDDSA);
        break;
    case EVP_PKEY_RSA: {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < MB_JWK_RSA_MIN_BITS || bits > MB_JWK_RSA_MAX_BITS) {
            set_err(err, errlen, "PEM: RSA modulus of %d bits (accepted: %d..%d)", bits,
                    MB_JWK_RSA_MIN_BITS, MB_JWK_RSA_MAX_BITS);
            goto fail;
        }
        key.kty = MB_JWK_RSA, key.bits = (unsigned)bits, key.algs = MB_JWT_ALGS_RSA;
        break;
    }
    case EVP_PKEY_EC:
        if (!ec_group_name(pkey, group, sizeof group)) {
            set_err(err, errlen, "PEM: EC key without a named curve");
            goto fail;
        }
        if (strcmp(group, "prime256v1") == 0) {
            key.bits = 256, key.algs = MB_JWT_ALG_BIT(MB_JWT_ES256);
        } else if (strcmp(group, "secp384r1") == 0) {
            key.bits = 384, key.algs = MB_JWT_ALG_BIT(MB_JWT_ES384);
        } else {
            set_err(err, errlen, "PEM: EC curve %.31s not supported (P-256, P-384)", group);
            goto fail;
        }
        if (!pkey_public_check(pkey)) {
            set_err(err, errlen, "PEM: EC point is not on curve %s", group);
            goto fail;
        }
        key.kty = MB_JWK_EC;
        break;
    default:
        set_err(err, errlen, "PEM: key type %.32s not supported (Ed25519, RSA, EC)",
                EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
        goto fail;
    }
    set = calloc(1, sizeof *set);
    if (!set) {
        set_err(err, errlen, "PEM: out of memory");
        goto fail;
    }
    set->keys[0] = key;
    set->count = 1;
    pkey = NULL; /* owned by the set now */
    set->stats.listed = set->stats.loaded = 1;
    if (set_fingerprint(set) < 0) {
        set_err(err, errlen, "PEM: out of memory");
        goto fail;
    }
    BIO_free(bio);
    return set;
fail:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    mb_jwk_set_destroy(set);
    return NULL;
}

/* ---- lookup ---- */

const struct mb_jwk *mb_jwk_set_find(const struct mb_jwk_set *set, const char *kid,
                                     enum mb_jwt_alg alg)
{
    if (!set || (unsigned)alg >= MB_JWT_ALG_COUNT)
        return NULL;
    unsigned bit = MB_JWT_ALG_BIT(alg);
    if (kid) {
        bool named = false;
        for (size_t i = 0; i < set->count; i++) {
            const struct mb_jwk *k = &set->keys[i];
            if (k->kid && strcmp(k->kid, kid) == 0) {
                if (k->algs & bit)
                    return k;
                named = true;
            }
        }
        if (named)
            return NULL;
    }
    for (size_t i = 0; i < set->count; i++)
        if (!set->keys[i].kid && (set->keys[i].algs & bit))
            return &set->keys[i];
    if (!kid)
        for (size_t i = 0; i < set->count; i++)
            if (set->keys[i].algs & bit)
                return &set->keys[i];
    return NULL;
}

bool mb_jwk_set_has_kid(const struct mb_jwk_set *set, const char *kid)
{
    if (!set || !kid)
        return false;
    for (size_t i = 0; i < set->count; i++)
        if (set->keys[i].kid && strcmp(set->keys[i].kid, kid) == 0)
            return true;
    return false;
}

size_t mb_jwk_set_count(const struct mb_jwk_set *set)
{
    return set ? set->count : 0;
}

const struct mb_jwk *mb_jwk_set_key(const struct mb_jwk_set *set, size_t i)
{
    return set && i < set->count ? &set->keys[i] : NULL;
}

const uint8_t *mb_jwk_set_fingerprint(const struct mb_jwk_set *set)
{
    return set ? set->fingerprint : NULL;
}

bool mb_jwk_set_same(const struct mb_jwk_set *a, const struct mb_jwk_set *b)
{
    return a && b && memcmp(a->fingerprint, b->fingerprint, MB_JWK_FINGERPRINT_LEN) == 0;
}

const struct mb_jwk_set_stats *mb_jwk_set_stats(const struct mb_jwk_set *set)
{
    return set ? &set->stats : NULL;
}

void mb_jwk_set_destroy(struct mb_jwk_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        EVP_PKEY_free(set->keys[i].pkey);
    free(set);
}
