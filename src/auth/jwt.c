/* Implementation of jwt.h. One pass over the token checks its shape (three non-empty base64url
 * segments, nothing else), then the header is decoded and judged, the key chosen, the signature
 * verified with EVP_DigestVerify over the ASCII "header.payload", and only then is the payload
 * decoded and its claims read. Scratch lives on the stack (header, signature) or in one heap
 * buffer (payload) released before returning. */
#include "auth/jwt.h"

#include <errno.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIG_BYTES (MB_JWK_RSA_MAX_BITS / 8)

struct segment {
    const char *p;
    size_t len;
};

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
static const char *safe(char dst[72], const char *src)
{
    size_t o = 0;
    for (size_t i = 0; src && src[i] && i < 64; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    if (src && strlen(src) > 64)
        dst[o++] = '~';
    dst[o] = '\0';
    return dst;
}

static bool is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool ascii_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return *a == *b;
}

const char *mb_jwt_status_name(enum mb_jwt_status status)
{
    switch (status) {
    case MB_JWT_OK:
        return "ok";
    case MB_JWT_MALFORMED:
        return "malformed";
    case MB_JWT_TOO_LARGE:
        return "too_large";
    case MB_JWT_ALG_REFUSED:
        return "alg_refused";
    case MB_JWT_UNKNOWN_KID:
        return "unknown_kid";
    case MB_JWT_BAD_SIGNATURE:
        return "bad_signature";
    case MB_JWT_EXPIRED:
        return "expired";
    case MB_JWT_NOT_YET_VALID:
        return "not_yet_valid";
    case MB_JWT_BAD_ISSUER:
        return "bad_issuer";
    case MB_JWT_BAD_AUDIENCE:
        return "bad_audience";
    case MB_JWT_MISSING_CLAIM:
        return "missing_claim";
    case MB_JWT_INTERNAL:
        return "internal";
    }
    return "unknown";
}

void mb_jwt_claims_dispose(struct mb_jwt_claims *claims)
{
    if (!claims)
        return;
    json_decref(claims->payload);
    free(claims->scope_data);
    memset(claims, 0, sizeof *claims);
}

bool mb_jwt_claims_has_scope(const struct mb_jwt_claims *claims, const char *scope)
{
    if (!claims || !scope)
        return false;
    for (size_t i = 0; i < claims->scope_count; i++)
        if (strcmp(claims->scopes[i], scope) == 0)
            return true;
    return false;
}

/* ---- signature ---- */

static const EVP_MD *alg_md(enum mb_jwt_alg alg)
{
    switch (alg) {
    case MB_JWT_RS256:
    case MB_JWT_PS256:
    case MB_JWT_ES256:
        return EVP_sha256();
    case MB_JWT_RS384:
    case MB_JWT_ES384:
        return EVP_sha384();
    case MB_JWT_RS512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/* The signature length alg requires with this key, or 0 when key and alg do not belong
 * together (checked again here although mb_jwk_set_find already matched them). */
static size_t expected_sig_len(const struct mb_jwk *key, enum mb_jwt_alg alg)
{
    int id = EVP_PKEY_get_base_id(key->pkey);
    switch (alg) {
    case MB_JWT_RS256:
    case MB_JWT_RS384:
    case MB_JWT_RS512:
    case MB_JWT_PS256:
        return id == EVP_PKEY_RSA && key->kty == MB_JWK_RSA ? (size_t)EVP_PKEY_get_size(key->pkey)
                                                            : 0;
    case MB_JWT_ES256:
        return id == EVP_PKEY_EC && key->bits == 256 ? 64 : 0;
    case MB_JWT_ES384:
        return id == EVP_PKEY_EC && key->bits == 384 ? 96 : 0;
    case MB_JWT_EDDSA:
        return id == EVP_PKEY_ED25519 ? 64 : 0;
    default:
        return 0;
    }
}

/* JOSE r||s (two big-endian halves) to the DER ECDSA-Sig-Value EVP expects. Returns the DER
 * length and *der (OPENSSL_free), or -1. */
static int ecdsa_raw_to_der(const uint8_t *sig, size_t len, unsigned char **der)
{
    size_t half = len / 2;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
    int dlen = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es */
        *der = NULL;
        dlen = i2d_ECDSA_SIG(es, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return dlen;
}

/* Returns 1 when sig verifies over tbs, 0 when it does not, -1 on an internal failure. */
static int verify_signature(const struct mb_jwk *key, enum mb_jwt_alg alg, const char *tbs,
                            size_t tbslen, const uint8_t *sig, size_t siglen)
{
    unsigned char *der = NULL;
    int rc = -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (!ctx)
        goto done;
    if (EVP_DigestVerifyInit(ctx, &pctx, alg_md(alg), NULL, key->pkey) != 1)
        goto done;
    if (alg == MB_JWT_PS256) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)
            goto done;
    } else if (key->kty == MB_JWK_RSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
            goto done;
    }
    if (alg == MB_JWT_ES256 || alg == MB_JWT_ES384) {
        int dlen = ecdsa_raw_to_der(sig, siglen, &der);
        if (dlen <= 0)
            goto done;
        sig = der;
        siglen = (size_t)dlen;
    }
    rc = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)tbs, tbslen) == 1 ? 1 : 0;
done:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* ---- claims ---- */

/* Reads a NumericDate. Integers are taken as they are; finite non-integral numbers are rounded
 * towards refusal (exp down, nbf/iat up). Returns 0 (absent: *v = 0, *present = false) or -1
 * when not a number or outside 0..MB_JWT_MAX_TIME. */
static int get_time(json_t *obj, const char *name, bool round_up, int64_t *v, bool *present)
{
    json_t *j = json_object_get(obj, name);
    *v = 0;
    *present = j != NULL;
    if (!j)
        return 0;
    if (json_is_integer(j)) {
        json_int_t i = json_integer_value(j);
        if (i < 0 || i > MB_JWT_MAX_TIME)
            return -1;
        *v = (int64_t)i;
        return 0;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!isfinite(d))
            return -1;
        d = round_up ? ceil(d) : floor(d);
        if (d < 0 || d > (double)MB_JWT_MAX_TIME)
            return -1;
        *v = (int64_t)d;
        return 0;
    }
    return -1;
}

/* Optional string claim: 0 with *s NULL when absent, -1 when present but not a string. */
static int get_string(json_t *obj, const char *name, const char **s)
{
    json_t *j = json_object_get(obj, name);
    *s = NULL;
    if (!j)
        return 0;
    if (!json_is_string(j))
        return -1;
    *s = json_string_value(j);
    return 0;
}

/* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 section 3.3). */
static bool scope_token_ok(const char *s, size_t n)
{
    if (n == 0 || n > MB_JWT_MAX_SCOPE_BYTES)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return true;
}

struct scope_builder {
    struct mb_jwt_claims *claims;
    size_t used, cap; /* in claims->scope_data */
};

/* Adds one scope unless already present. Returns 0, -EINVAL (not a scope-token or too long),
 * -E2BIG (more than MB_JWT_MAX_SCOPES). */
static int add_scope(struct scope_builder *b, const char *s, size_t n)
{
    if (!scope_token_ok(s, n))
        return -EINVAL;
    struct mb_jwt_claims *c = b->claims;
    for (size_t i = 0; i < c->scope_count; i++)
        if (strncmp(c->scopes[i], s, n) == 0 && c->scopes[i][n] == '\0')
            return 0;
    if (c->scope_count == MB_JWT_MAX_SCOPES || b->used + n + 1 > b->cap)
        return -E2BIG;
    char *dst = c->scope_data + b->used;
    memcpy(dst, s, n);
    dst[n] = '\0';
    b->used += n + 1;
    c->scopes[c->scope_count++] = dst;
    return 0;
}

/* Splits a space-separated scope string. Same returns as add_scope. */
static int add_scope_string(struct scope_builder *b, const char *s)
{
    while (*s) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, " ");
        if (n) {
            int rc = add_scope(b, s, n);
            if (rc < 0)
                return rc;
        }
        s += n;
    }
    return 0;
}

/* Reads "scope" (space-separated string) and "scp" (array of strings, or a space-separated
 * string) into claims. Returns 0 or a status with err filled. */
static enum mb_jwt_status read_scopes(json_t *payload, struct mb_jwt_claims *claims, char *err,
                                      size_t errlen)
{
    json_t *scope = json_object_get(payload, "scope");
    json_t *scp = json_object_get(payload, "scp");
    if (scope && !json_is_string(scope)) {
        set_err(err, errlen, "claim \"scope\" is not a string");
        return MB_JWT_MALFORMED;
    }
    if (scp && !json_is_string(scp) && !json_is_array(scp)) {
        set_err(err, errlen, "claim \"scp\" is neither a string nor an array");
        return MB_JWT_MALFORMED;
    }
    size_t need = scope ? json_string_length(scope) + 1 : 0;
    size_t i;
    json_t *v;
    if (json_is_string(scp)) {
        need += json_string_length(scp) + 1;
    } else if (scp) {
        json_array_foreach(scp, i, v)
        {
            if (!json_is_string(v)) {
                set_err(err, errlen, "claim \"scp\" has a non-string element");
                return MB_JWT_MALFORMED;
            }
            need += json_string_length(v) + 1;
        }
    }
    if (need == 0)
        return MB_JWT_OK;
    claims->scope_data = malloc(need);
    if (!claims->scope_data) {
        set_err(err, errlen, "out of memory");
        return MB_JWT_INTERNAL;
    }
    struct scope_builder b = {.claims = claims, .cap = need};
    int rc = 0;
    if (scope)
        rc = add_scope_string(&b, json_string_value(scope));
    if (rc == 0 && json_is_string(scp)) {
        rc = add_scope_string(&b, json_string_value(scp));
    } else if (rc == 0 && scp) {
        json_array_foreach(scp, i, v)
        {
            if (rc == 0)
                rc = add_scope(&b, json_string_value(v), json_string_length(v));
        }
    }
    if (rc == -E2BIG) {
        set_err(err, errlen, "more than %d scopes", MB_JWT_MAX_SCOPES);
        return MB_JWT_MALFORMED;
    }
    if (rc < 0) {
        set_err(err, errlen, "a scope is empty, longer than %d bytes or not a scope-token",
                MB_JWT_MAX_SCOPE_BYTES);
        return MB_JWT_MALFORMED;
    }
    return MB_JWT_OK;
}

static bool audience_match(const struct mb_jwt_policy *policy, const char *aud)
{
    for (size_t i = 0; i < policy->audience_count; i++)
        if (policy->audiences[i] && strcmp(policy->audiences[i], aud) == 0)
            return true;
    return false;
}

/* Type checks of every registered claim we read, then iss, aud, exp, nbf, iat in that order.
 * Fills claims (payload excepted). */
static enum mb_jwt_status check_claims(json_t *payload, const struct mb_jwt_policy *policy,
                                       int64_t now, struct mb_jwt_claims *claims, char *err,
                                       size_t errlen)
{
    char a[72], b[72];
    bool has_exp, has_nbf, has_iat;
    if (get_time(payload, "exp", false, &claims->expiry, &has_exp) < 0 ||
        get_time(payload, "nbf", true, &claims->not_before, &has_nbf) < 0 ||
        get_time(payload, "iat", true, &claims->issued_at, &has_iat) < 0) {
        set_err(err, errlen, "claim exp, nbf or iat is not a number in 0..%lld",
                (long long)MB_JWT_MAX_TIME);
        return MB_JWT_MALFORMED;
    }
    const char *cid = NULL, *azp = NULL, *cid2 = NULL;
    if (get_string(payload, "sub", &claims->subject) < 0 ||
        get_string(payload, "iss", &claims->issuer) < 0 ||
        get_string(payload, "client_id", &cid) < 0 || get_string(payload, "azp", &azp) < 0 ||
        get_string(payload, "cid", &cid2) < 0) {
        set_err(err, errlen, "claim sub, iss, client_id, azp or cid is not a string");
        return MB_JWT_MALFORMED;
    }
    claims->client_id = cid ? cid : azp ? azp : cid2;
    json_t *aud = json_object_get(payload, "aud");
    if (aud && !json_is_string(aud)) {
        bool ok = json_is_array(aud);
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (!json_is_string(v))
                ok = false;
        }
        if (!ok) {
            set_err(err, errlen, "claim \"aud\" is neither a string nor an array of strings");
            return MB_JWT_MALFORMED;
        }
    }
    enum mb_jwt_status st = read_scopes(payload, claims, err, errlen);
    if (st != MB_JWT_OK)
        return st;

    if (policy->issuer) {
        if (!claims->issuer) {
            set_err(err, errlen, "claim \"iss\" missing (expected \"%s\")",
                    safe(b, policy->issuer));
            return MB_JWT_MISSING_CLAIM;
        }
        if (strcmp(claims->issuer, policy->issuer) != 0) {
            set_err(err, errlen, "issuer \"%s\" is not \"%s\"", safe(a, claims->issuer),
                    safe(b, policy->issuer));
            return MB_JWT_BAD_ISSUER;
        }
    }
    if (policy->audience_count > 0) {
        if (!aud) {
            set_err(err, errlen, "claim \"aud\" missing");
            return MB_JWT_MISSING_CLAIM;
        }
        bool match = false;
        if (json_is_string(aud)) {
            match = audience_match(policy, json_string_value(aud));
        } else {
            size_t i;
            json_t *v;
            json_array_foreach(aud, i, v)
            {
                if (!match && audience_match(policy, json_string_value(v)))
                    match = true;
            }
        }
        if (!match) {
            set_err(err, errlen, "no audience of the token is accepted (first: \"%s\")",
                    safe(a, json_is_string(aud) ? json_string_value(aud)
                                                : json_string_value(json_array_get(aud, 0))));
            return MB_JWT_BAD_AUDIENCE;
        }
    }
    /* Times are within 0..MB_JWT_MAX_TIME and leeway below 2^32: no sum overflows. */
    int64_t leeway = (int64_t)policy->leeway_seconds;
    if (!has_exp && policy->require_exp) {
        set_err(err, errlen, "claim \"exp\" missing");
        return MB_JWT_MISSING_CLAIM;
    }
    if (has_exp && now >= claims->expiry + leeway) {
        set_err(err, errlen, "expired at %lld, now %lld, leeway %lld s", (long long)claims->expiry,
                (long long)now, (long long)leeway);
        return MB_JWT_EXPIRED;
    }
    if (has_nbf && claims->not_before - leeway > now) {
        set_err(err, errlen, "not valid before %lld, now %lld, leeway %lld s",
                (long long)claims->not_before, (long long)now, (long long)leeway);
        return MB_JWT_NOT_YET_VALID;
    }
    if (has_iat && claims->issued_at - leeway > now) {
        set_err(err, errlen, "issued in the future at %lld, now %lld, leeway %lld s",
                (long long)claims->issued_at, (long long)now, (long long)leeway);
        return MB_JWT_NOT_YET_VALID;
    }
    return MB_JWT_OK;
}

/* ---- header ---- */

static bool typ_ok(const char *typ)
{
    return ascii_caseeq(typ, "JWT") || ascii_caseeq(typ, "application/jwt") ||
           ascii_caseeq(typ, "at+jwt") || ascii_caseeq(typ, "application/at+jwt");
}

/* Judges the decoded header; sets *alg and *kid (into header, or NULL). */
static enum mb_jwt_status check_header(json_t *header, unsigned allowed, enum mb_jwt_alg *alg,
                                       const char **kid, char *err, size_t errlen)
{
    char a[72];
    if (!json_is_object(header)) {
        set_err(err, errlen, "header is not a JSON object");
        return MB_JWT_MALFORMED;
    }
    json_t *jalg = json_object_get(header, "alg");
    if (!json_is_string(jalg)) {
        set_err(err, errlen, "header has no string \"alg\"");
        return MB_JWT_MALFORMED;
    }
    int ialg = mb_jwt_alg_from_name(json_string_value(jalg));
    if (ialg < 0) {
        set_err(err, errlen, "alg \"%s\" is refused (only RS256/384/512, PS256, ES256/384, EdDSA)",
                safe(a, json_string_value(jalg)));
        return MB_JWT_ALG_REFUSED;
    }
    if (!(allowed & MB_JWT_ALG_BIT(ialg))) {
        set_err(err, errlen, "alg %s is not in the allowed algorithms", mb_jwt_alg_name(ialg));
        return MB_JWT_ALG_REFUSED;
    }
    *alg = (enum mb_jwt_alg)ialg;
    if (json_object_get(header, "crit")) {
        set_err(err, errlen, "header has \"crit\": no extension is supported");
        return MB_JWT_MALFORMED;
    }
    if (json_object_get(header, "zip")) {
        set_err(err, errlen, "header has \"zip\": compressed tokens are not supported");
        return MB_JWT_MALFORMED;
    }
    json_t *typ = json_object_get(header, "typ");
    if (typ && (!json_is_string(typ) || !typ_ok(json_string_value(typ)))) {
        set_err(err, errlen, "header \"typ\" \"%s\" is not JWT or at+jwt",
                json_is_string(typ) ? safe(a, json_string_value(typ)) : "(not a string)");
        return MB_JWT_MALFORMED;
    }
    json_t *jkid = json_object_get(header, "kid");
    *kid = NULL;
    if (jkid) {
        if (!json_is_string(jkid) || json_string_length(jkid) == 0 ||
            json_string_length(jkid) > MB_JWK_KID_MAX) {
            set_err(err, errlen, "header \"kid\" is not a string of 1..%d bytes", MB_JWK_KID_MAX);
            return MB_JWT_MALFORMED;
        }
        *kid = json_string_value(jkid);
    }
    return MB_JWT_OK;
}

/* ---- the verification ---- */

enum mb_jwt_status mb_jwt_verify(const char *token, size_t len, const struct mb_jwk_set *keys,
                                 const struct mb_jwt_policy *policy, int64_t now,
                                 struct mb_jwt_claims *out, char *err, size_t errlen)
{
    static const struct mb_jwt_policy defaults = {0};
    struct mb_jwt_claims claims;
    memset(&claims, 0, sizeof claims);
    if (out)
        memset(out, 0, sizeof *out);
    set_err(err, errlen, "%s", "");
    if (!policy)
        policy = &defaults;
    enum mb_jwt_status st = MB_JWT_MALFORMED;
    json_t *header = NULL;
    uint8_t *payload_buf = NULL;
    size_t pcap = 0;
    uint8_t sig[MAX_SIG_BYTES];
    size_t siglen = 0;
    char a[72];

    /* 1. Size, then shape: exactly three non-empty base64url segments. */
    size_t max = policy->max_token_bytes ? policy->max_token_bytes : MB_JWT_DEFAULT_MAX_BYTES;
    if (max > MB_JWT_HARD_MAX_BYTES)
        max = MB_JWT_HARD_MAX_BYTES;
    if (len > max) {
        set_err(err, errlen, "token of %zu bytes exceeds %zu", len, max);
        return MB_JWT_TOO_LARGE;
    }
    if (!token || len == 0) {
        set_err(err, errlen, "empty token");
        return MB_JWT_MALFORMED;
    }
    struct segment seg[3];
    size_t nseg = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || token[i] == '.') {
            if (nseg == 3) {
                set_err(err, errlen, "more than three segments");
                return MB_JWT_MALFORMED;
            }
            seg[nseg].p = token + start;
            seg[nseg++].len = i - start;
            start = i + 1;
        } else if (!is_b64url((unsigned char)token[i])) {
            set_err(err, errlen,
                    "byte 0x%02x at offset %zu is not base64url (no padding, no "
                    "whitespace)",
                    (unsigned char)token[i], i);
            return MB_JWT_MALFORMED;
        }
    }
    if (nseg != 3) {
        set_err(err, errlen, "%zu segments, a compact JWS has three", nseg);
        return MB_JWT_MALFORMED;
    }
    for (size_t i = 0; i < 3; i++) {
        if (seg[i].len == 0 || seg[i].len % 4 == 1) {
            set_err(err, errlen, "segment %zu has an impossible base64url length %zu", i + 1,
                    seg[i].len);
            return MB_JWT_MALFORMED;
        }
    }
    if (seg[0].len > MB_JWT_MAX_HEADER_CHARS) {
        set_err(err, errlen, "header segment of %zu characters exceeds %d", seg[0].len,
                MB_JWT_MAX_HEADER_CHARS);
        return MB_JWT_MALFORMED;
    }

    /* 2. Header: a JSON object without duplicate names, a supported, allowed alg. */
    uint8_t hbuf[MB_JWT_MAX_HEADER_CHARS / 4 * 3];
    size_t hlen = 0;
    if (mb_jwk_base64url_decode(seg[0].p, seg[0].len, hbuf, sizeof hbuf, &hlen) < 0) {
        set_err(err, errlen, "header is not canonical base64url");
        return MB_JWT_MALFORMED;
    }
    json_error_t jerr;
    header = json_loadb((const char *)hbuf, hlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!header) {
        set_err(err, errlen, "header is not valid JSON: %s", jerr.text);
        return MB_JWT_MALFORMED;
    }
    unsigned allowed = policy->algs ? policy->algs & MB_JWT_ALGS_ALL : MB_JWT_ALGS_ALL;
    enum mb_jwt_alg alg = MB_JWT_RS256;
    const char *kid = NULL;
    st = check_header(header, allowed, &alg, &kid, err, errlen);
    if (st != MB_JWT_OK)
        goto done;

    /* 3. The key: chosen by kid and alg; its type must fit the alg family. */
    const struct mb_jwk *key = mb_jwk_set_find(keys, kid, alg);
    if (!key) {
        if (!keys) {
            set_err(err, errlen, "no key set");
            st = MB_JWT_UNKNOWN_KID;
        } else if (kid && !mb_jwk_set_has_kid(keys, kid)) {
            set_err(err, errlen, "no key with kid \"%s\"", safe(a, kid));
            st = MB_JWT_UNKNOWN_KID;
        } else if (kid) {
            set_err(err, errlen, "key \"%s\" does not allow alg %s", safe(a, kid),
                    mb_jwt_alg_name(alg));
            st = MB_JWT_ALG_REFUSED;
        } else {
            set_err(err, errlen, "no key in the set allows alg %s", mb_jwt_alg_name(alg));
            st = MB_JWT_ALG_REFUSED;
        }
        goto done;
    }

    /* 4. The signature: exact length for key and alg, then EVP over "header.payload". */
    size_t want = expected_sig_len(key, alg);
    if (want == 0) {
        set_err(err, errlen, "key type does not fit alg %s", mb_jwt_alg_name(alg));
        st = MB_JWT_ALG_REFUSED;
        goto done;
    }
    int drc = mb_jwk_base64url_decode(seg[2].p, seg[2].len, sig, sizeof sig, &siglen);
    if (drc == -EINVAL) {
        set_err(err, errlen, "signature is not canonical base64url");
        st = MB_JWT_MALFORMED;
        goto done;
    }
    if (drc < 0 || siglen != want) {
        set_err(err, errlen, "signature of %s bytes, %s needs %zu",
                drc < 0 ? "too many" : "a wrong number of", mb_jwt_alg_name(alg), want);
        st = MB_JWT_BAD_SIGNATURE;
        goto done;
    }
    int vrc = verify_signature(key, alg, token, seg[0].len + 1 + seg[1].len, sig, siglen);
    if (vrc < 0) {
        set_err(err, errlen, "OpenSSL could not run the %s verification", mb_jwt_alg_name(alg));
        st = MB_JWT_INTERNAL;
        goto done;
    }
    if (vrc == 0) {
        set_err(err, errlen, "%s signature does not verify with key%s%s%s", mb_jwt_alg_name(alg),
                key->kid ? " \"" : "", key->kid ? safe(a, key->kid) : "", key->kid ? "\"" : "");
        st = MB_JWT_BAD_SIGNATURE;
        goto done;
    }

    /* 5. Only now the payload: a JSON object without duplicate names, then the claims. */
    pcap = seg[1].len / 4 * 3 + 3;
    size_t plen = 0;
    payload_buf = malloc(pcap);
    if (!payload_buf) {
        set_err(err, errlen, "out of memory");
        st = MB_JWT_INTERNAL;
        goto done;
    }
    if (mb_jwk_base64url_decode(seg[1].p, seg[1].len, payload_buf, pcap, &plen) < 0) {
        set_err(err, errlen, "payload is not canonical base64url");
        st = MB_JWT_MALFORMED;
        goto done;
    }
    claims.payload = json_loadb((const char *)payload_buf, plen,
                                JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!claims.payload) {
        set_err(err, errlen, "payload is not valid JSON: %s", jerr.text);
        st = MB_JWT_MALFORMED;
        goto done;
    }
    if (!json_is_object(claims.payload)) {
        set_err(err, errlen, "payload is not a JSON object");
        st = MB_JWT_MALFORMED;
        goto done;
    }
    claims.alg = alg;
    st = check_claims(claims.payload, policy, now, &claims, err, errlen);
done:
    OPENSSL_cleanse(sig, sizeof sig);
    if (payload_buf) {
        OPENSSL_cleanse(payload_buf, pcap);
        free(payload_buf);
    }
    json_decref(header);
    if (st == MB_JWT_OK && out)
        *out = claims;
    else
        mb_jwt_claims_dispose(&claims);
    return st;
}
