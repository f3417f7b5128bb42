/* Unit tests for auth/jwt.c. Keys are generated at test time with OpenSSL and tokens signed
 * here by a small signer (RS*, PS256, ES* in JOSE r||s form, EdDSA, and HMAC for the confusion
 * attack), so every case exercises real signatures: each algorithm verifies; forged, modified,
 * none, HS256-with-the-RSA-key, unknown kid, wrong key type, pinned key alg, time claims with
 * and without leeway, issuer, audience (string and array), size, shape, header rules, duplicate
 * names, ES signature length, scopes and client id extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"

#define NOW 1700000000LL

/* ---- helpers: encoding, keys, JWKs, signing ---- */

static char *b64url(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    assert_non_null(out);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

static char *bn_b64(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    unsigned char buf[1100];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url(buf, (size_t)n);
}

/* One JWK object for a public key; kid and alg may be NULL. */
static char *jwk_of(EVP_PKEY *k, const char *kid, const char *alg)
{
    char *out = malloc(4096);
    char extra[256] = "";
    assert_non_null(out);
    if (kid)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ",\"kid\":\"%s\"", kid);
    if (alg)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ",\"alg\":\"%s\"", alg);
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        char *n = bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0);
        snprintf(out, 4096, "{\"kty\":\"RSA\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"%s}", n, e,
                 extra);
        free(n), free(e);
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        int bits = EVP_PKEY_get_bits(k);
        int clen = bits / 8;
        char *x = bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, clen);
        char *y = bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, clen);
        snprintf(out, 4096, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}",
                 bits == 256 ? "P-256" : "P-384", x, y, extra);
        free(x), free(y);
    } else {
        unsigned char raw[32];
        size_t rl = sizeof raw;
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &rl), 1);
        char *x = b64url(raw, rl);
        snprintf(out, 4096, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}", x, extra);
        free(x);
    }
    return out;
}

/* Raw signature of data; alg is a JOSE name (RS*, PS256, ES*, EdDSA). For PS256, pss_salt is
 * the salt length to sign with (-1: digest length). */
static unsigned char *sign_raw(EVP_PKEY *k, const char *alg, const char *data, size_t len,
                               size_t *siglen, int pss_salt)
{
    const EVP_MD *md = NULL;
    if (strstr(alg, "256") && strcmp(alg, "EdDSA") != 0)
        md = EVP_sha256();
    else if (strstr(alg, "384"))
        md = EVP_sha384();
    else if (strstr(alg, "512"))
        md = EVP_sha512();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, k), 1);
    if (alg[0] == 'P') {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0);
    }
    size_t n = 0;
    assert_int_equal(EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)data, len), 1);
    unsigned char *sig = malloc(n);
    assert_int_equal(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)data, len), 1);
    EVP_MD_CTX_free(ctx);
    if (alg[0] == 'E' && alg[1] == 'S') { /* DER to JOSE r||s */
        size_t half = strcmp(alg, "ES256") == 0 ? 32 : 48;
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        assert_non_null(es);
        unsigned char *raw = malloc(2 * half);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)half);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, (int)half);
        ECDSA_SIG_free(es);
        free(sig);
        sig = raw;
        n = 2 * half;
    }
    *siglen = n;
    return sig;
}

/* Signs header.payload with k under alg (a JOSE name; the header is taken as given). */
static char *sign_token_salt(EVP_PKEY *k, const char *alg, const char *header, const char *payload,
                             int pss_salt)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    snprintf(input, n, "%s.%s", h, p);
    size_t siglen;
    unsigned char *sig = sign_raw(k, alg, input, strlen(input), &siglen, pss_salt);
    char *s = b64url(sig, siglen);
    char *t = malloc(strlen(input) + strlen(s) + 2);
    sprintf(t, "%s.%s", input, s);
    free(h), free(p), free(input), free(sig), free(s);
    return t;
}

static char *sign_token(EVP_PKEY *k, const char *alg, const char *header, const char *payload)
{
    return sign_token_salt(k, alg, header, payload, RSA_PSS_SALTLEN_DIGEST);
}

/* Header {"alg":alg,"kid":kid,"typ":"JWT"} (kid NULL: none) signed with k. */
static char *sign_simple(EVP_PKEY *k, const char *alg, const char *kid, const char *payload)
{
    char header[256];
    if (kid)
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg,
                 kid);
    else
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return sign_token(k, alg, header, payload);
}

/* ---- fixture: keys and one JWKS with all of them ---- */

static EVP_PKEY *rsa_key, *rsa_other, *rsa_pinned, *ec256, *ec384, *ed_key;
static struct mb_jwk_set *set;

static int group_setup(void **state)
{
    (void)state;
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_pinned = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!rsa_key || !rsa_other || !rsa_pinned || !ec256 || !ec384 || !ed_key)
        return -1;
    char *j[5] = {jwk_of(rsa_key, "rsa1", NULL), jwk_of(rsa_pinned, "rsa-rs256", "RS256"),
                  jwk_of(ec256, "ec256", NULL), jwk_of(ec384, "ec384", "ES384"),
                  jwk_of(ed_key, "ed1", "EdDSA")};
    char doc[16384];
    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s,%s,%s,%s]}", j[0], j[1], j[2], j[3], j[4]);
    for (int i = 0; i < 5; i++)
        free(j[i]);
    char err[256];
    set = mb_jwk_set_parse_jwks(doc, strlen(doc), err, sizeof err);
    if (!set) {
        fprintf(stderr, "JWKS: %s\n", err);
        return -1;
    }
    return mb_jwk_set_count(set) == 5 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    mb_jwk_set_destroy(set);
    EVP_PKEY_free(rsa_key), EVP_PKEY_free(rsa_other), EVP_PKEY_free(rsa_pinned);
    EVP_PKEY_free(ec256), EVP_PKEY_free(ec384), EVP_PKEY_free(ed_key);
    return 0;
}

static const char *const audiences[] = {"api://mcp", "mcpbridge"};

static struct mb_jwt_policy strict_policy(void)
{
    struct mb_jwt_policy p = {
        .issuer = "https://idp.example",
        .audiences = audiences,
        .audience_count = 2,
        .require_exp = true,
    };
    return p;
}

#define GOOD_PAYLOAD                                                                               \
    "{\"iss\":\"https://idp.example\",\"sub\":\"alice\",\"aud\":\"mcpbridge\",\"exp\":1700003600," \
    "\"iat\":1699999000,\"nbf\":1699999000,\"client_id\":\"cli-1\",\"scope\":\"read write\"}"

static enum mb_jwt_status verify(const char *token, const struct mb_jwt_policy *p, int64_t now,
                                 char *err, size_t errlen)
{
    struct mb_jwt_claims c;
    enum mb_jwt_status st = mb_jwt_verify(token, strlen(token), set, p, now, &c, err, errlen);
    if (st == MB_JWT_OK)
        assert_non_null(c.payload);
    else
        assert_null(c.payload);
    mb_jwt_claims_dispose(&c);
    return st;
}

static enum mb_jwt_status v(const char *token, const struct mb_jwt_policy *p)
{
    char err[256];
    return verify(token, p, NOW, err, sizeof err);
}

/* ---- tests ---- */

struct alg_case {
    const char *alg;
    EVP_PKEY **key;
    const char *kid;
    enum mb_jwt_alg id;
};

static const struct alg_case alg_cases[] = {
    {"RS256", &rsa_key, "rsa1", MB_JWT_RS256}, {"RS384", &rsa_key, "rsa1", MB_JWT_RS384},
    {"RS512", &rsa_key, "rsa1", MB_JWT_RS512}, {"PS256", &rsa_key, "rsa1", MB_JWT_PS256},
    {"ES256", &ec256, "ec256", MB_JWT_ES256},  {"ES384", &ec384, "ec384", MB_JWT_ES384},
    {"EdDSA", &ed_key, "ed1", MB_JWT_EDDSA},
};
#define N_ALG (sizeof alg_cases / sizeof alg_cases[0])

static void test_every_algorithm_verifies(void **state)
{
    (void)state;
    struct mb_jwt_policy p = strict_policy();
    for (size_t i = 0; i < N_ALG; i++) {
        const struct alg_case *ac = &alg_cases[i];
        char *t = sign_simple(*ac->key, ac->alg, ac->kid, GOOD_PAYLOAD);
        struct mb_jwt_claims c;
        char err[256];
        enum mb_jwt_status st = mb_jwt_verify(t, strlen(t), set, &p, NOW, &c, err, sizeof err);
        if (st != MB_JWT_OK)
            fail_msg("%s: %s (%s)", ac->alg, mb_jwt_status_name(st), err);
        assert_int_equal(c.alg, ac->id);
        assert_string_equal(c.subject, "alice");
        assert_string_equal(c.client_id, "cli-1");
        assert_string_equal(c.issuer, "https://idp.example");
        assert_int_equal(c.expiry, 1700003600);
        assert_int_equal(c.issued_at, 1699999000);
        assert_int_equal(c.scope_count, 2);
        assert_string_equal(c.scopes[0], "read");
        assert_string_equal(c.scopes[1], "write");
        assert_true(mb_jwt_claims_has_scope(&c, "write"));
        assert_false(mb_jwt_claims_has_scope(&c, "admin"));
        assert_string_equal(json_string_value(json_object_get(c.payload, "sub")), "alice");
        mb_jwt_claims_dispose(&c);
        assert_null(c.payload);
        /* Without kid: the first key that allows the algorithm. */
        char *t2 = sign_simple(*ac->key, ac->alg, NULL, GOOD_PAYLOAD);
        assert_int_equal(v(t2, &p), MB_JWT_OK);
        /* out may be NULL. */
        assert_int_equal(mb_jwt_verify(t, strlen(t), set, &p, NOW, NULL, NULL, 0), MB_JWT_OK);
        free(t), free(t2);
    }
}

static void test_forged_signature(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALG; i++) {
        const struct alg_case *ac = &alg_cases[i];
        char *t = sign_simple(*ac->key, ac->alg, ac->kid, GOOD_PAYLOAD);
        /* Flip bits in the middle of the signature segment (keeps canonical base64url). */
        char *sig = strrchr(t, '.') + 1;
        size_t mid = strlen(sig) / 2;
        sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
        char err[256];
        enum mb_jwt_status st = verify(t, NULL, NOW, err, sizeof err);
        if (st != MB_JWT_BAD_SIGNATURE)
            fail_msg("%s flipped: %s (%s)", ac->alg, mb_jwt_status_name(st), err);
        free(t);
    }
    /* Signed by another RSA key under the kid of ours. */
    char *t = sign_simple(rsa_other, "RS256", "rsa1", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(t);
    t = sign_simple(rsa_other, "PS256", "rsa1", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(t);
    /* An RS256 signature presented as RS384 (same key) does not verify. */
    char *h384 = b64url_str("{\"alg\":\"RS384\",\"kid\":\"rsa1\"}");
    t = sign_simple(rsa_key, "RS256", "rsa1", GOOD_PAYLOAD);
    char *rest = strchr(t, '.');
    char forged[4096];
    snprintf(forged, sizeof forged, "%s%s", h384, rest);
    assert_int_equal(v(forged, NULL), MB_JWT_BAD_SIGNATURE);
    free(t), free(h384);
}

static void test_payload_modified_after_signing(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALG; i++) {
        const struct alg_case *ac = &alg_cases[i];
        char *t = sign_simple(*ac->key, ac->alg, ac->kid, GOOD_PAYLOAD);
        char *evil = b64url_str("{\"iss\":\"https://idp.example\",\"sub\":\"admin\","
                                "\"aud\":\"mcpbridge\",\"exp\":1700003600}");
        char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
        char forged[4096];
        snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - t), t, evil, dot2);
        assert_int_equal(v(forged, NULL), MB_JWT_BAD_SIGNATURE);
        free(t), free(evil);
    }
}

static void test_alg_none_refused(void **state)
{
    (void)state;
    const char *names[] = {"none", "None", "NONE", "nOnE"};
    for (size_t i = 0; i < 4; i++) {
        char header[64];
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", names[i]);
        char *h = b64url_str(header), *p = b64url_str(GOOD_PAYLOAD);
        char t[2048];
        /* The RFC's unsecured form: empty signature segment. */
        snprintf(t, sizeof t, "%s.%s.", h, p);
        assert_int_equal(v(t, NULL), MB_JWT_MALFORMED);
        /* With some signature bytes: still refused, by alg. */
        snprintf(t, sizeof t, "%s.%s.AAAA", h, p);
        assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
        free(h), free(p);
    }
}

static void test_hs256_with_rsa_public_key_refused(void **state)
{
    (void)state;
    /* The classic confusion: HMAC keyed with the bytes of the RSA public key (PEM and DER). */
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa_key), 1);
    char *pem;
    long pemlen = BIO_get_mem_data(bio, &pem);
    unsigned char *der = NULL;
    int derlen = i2d_PUBKEY(rsa_key, &der);
    struct {
        const void *secret;
        size_t len;
    } secrets[] = {{pem, (size_t)pemlen}, {der, (size_t)derlen}};
    const char *headers[] = {"{\"alg\":\"HS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}",
                             "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                             "{\"alg\":\"HS384\",\"kid\":\"rsa1\"}",
                             "{\"alg\":\"HS512\",\"kid\":\"rsa1\"}"};
    struct mb_jwt_policy all = {.algs = 0xffffffffu}; /* even a policy asking for "everything" */
    for (size_t s = 0; s < 2; s++) {
        for (size_t h = 0; h < 4; h++) {
            char *hb = b64url_str(headers[h]), *pb = b64url_str(GOOD_PAYLOAD);
            char input[2048];
            snprintf(input, sizeof input, "%s.%s", hb, pb);
            unsigned char mac[EVP_MAX_MD_SIZE];
            unsigned int maclen = 0;
            const EVP_MD *md = h == 2 ? EVP_sha384() : h == 3 ? EVP_sha512() : EVP_sha256();
            assert_non_null(HMAC(md, secrets[s].secret, (int)secrets[s].len,
                                 (const unsigned char *)input, strlen(input), mac, &maclen));
            char *sig = b64url(mac, maclen);
            char t[4096];
            snprintf(t, sizeof t, "%s.%s", input, sig);
            char err[256];
            assert_int_equal(verify(t, &all, NOW, err, sizeof err), MB_JWT_ALG_REFUSED);
            assert_int_equal(verify(t, NULL, NOW, err, sizeof err), MB_JWT_ALG_REFUSED);
            assert_non_null(strstr(err, "HS"));
            free(hb), free(pb), free(sig);
        }
    }
    OPENSSL_free(der);
    BIO_free(bio);
}

static void test_kid_and_key_type(void **state)
{
    (void)state;
    char err[256];
    /* Unknown kid: the caller may refresh the JWKS. */
    char *t = sign_simple(rsa_key, "RS256", "rotated-away", GOOD_PAYLOAD);
    assert_int_equal(verify(t, NULL, NOW, err, sizeof err), MB_JWT_UNKNOWN_KID);
    assert_non_null(strstr(err, "rotated-away"));
    free(t);
    /* A kid of an EC key with an RSA algorithm: the key type must fit the family. */
    t = sign_simple(rsa_key, "RS256", "ec256", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
    free(t);
    /* ES384 under the P-256 key's kid, ES256 under the P-384 key's kid: curve must match. */
    t = sign_simple(ec384, "ES384", "ec256", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
    free(t);
    t = sign_simple(ec256, "ES256", "ec384", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
    free(t);
    /* EdDSA under an RSA kid. */
    t = sign_simple(ed_key, "EdDSA", "rsa1", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
    free(t);
    /* No key set at all. */
    t = sign_simple(rsa_key, "RS256", "rsa1", GOOD_PAYLOAD);
    assert_int_equal(mb_jwt_verify(t, strlen(t), NULL, NULL, NOW, NULL, err, sizeof err),
                     MB_JWT_UNKNOWN_KID);
    free(t);
}

static void test_key_pinned_to_rs256_refuses_ps256(void **state)
{
    (void)state;
    char *t = sign_simple(rsa_pinned, "RS256", "rsa-rs256", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_OK);
    free(t);
    t = sign_simple(rsa_pinned, "PS256", "rsa-rs256", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
    free(t);
    t = sign_simple(rsa_pinned, "RS512", "rsa-rs256", GOOD_PAYLOAD);
    assert_int_equal(v(t, NULL), MB_JWT_ALG_REFUSED);
    free(t);
}

static void test_policy_allow_list(void **state)
{
    (void)state;
    struct mb_jwt_policy p = {.algs = MB_JWT_ALG_BIT(MB_JWT_ES256) | MB_JWT_ALG_BIT(MB_JWT_EDDSA)};
    char *t = sign_simple(rsa_key, "RS256", "rsa1", GOOD_PAYLOAD);
    assert_int_equal(v(t, &p), MB_JWT_ALG_REFUSED);
    free(t);
    t = sign_simple(ec256, "ES256", "ec256", GOOD_PAYLOAD);
    assert_int_equal(v(t, &p), MB_JWT_OK);
    free(t);
    t = sign_simple(ed_key, "EdDSA", NULL, GOOD_PAYLOAD);
    assert_int_equal(v(t, &p), MB_JWT_OK);
    free(t);
    /* Unsupported names are refused whatever the policy, and the name match is exact. */
    const char *bad[] = {"rs256", "PS384", "PS512", "ES512", "Ed25519", "RSA-OAEP", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char header[96];
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", bad[i]);
        char *tt = sign_token(rsa_key, "RS256", header, GOOD_PAYLOAD);
        assert_int_equal(v(tt, NULL), MB_JWT_ALG_REFUSED);
        free(tt);
    }
}

static void test_pss_salt_must_be_digest_length(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}";
    char *t = sign_token_salt(rsa_key, "PS256", h, GOOD_PAYLOAD, 32);
    assert_int_equal(v(t, NULL), MB_JWT_OK);
    free(t);
    t = sign_token_salt(rsa_key, "PS256", h, GOOD_PAYLOAD, 20);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(t);
    t = sign_token_salt(rsa_key, "PS256", h, GOOD_PAYLOAD, RSA_PSS_SALTLEN_MAX);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(t);
}

static char *sign_claims(const char *payload)
{
    return sign_simple(ed_key, "EdDSA", "ed1", payload);
}

static void test_time_claims(void **state)
{
    (void)state;
    struct mb_jwt_policy p = {0};
    struct mb_jwt_policy lee = {.leeway_seconds = 60};
    char err[256];
    /* exp in the past. */
    char *t = sign_claims("{\"exp\":1699999990}");
    assert_int_equal(verify(t, &p, NOW, err, sizeof err), MB_JWT_EXPIRED);
    assert_non_null(strstr(err, "1699999990"));
    assert_int_equal(v(t, &lee), MB_JWT_OK); /* 10 s late, 60 s leeway */
    assert_int_equal(verify(t, &lee, NOW + 50, err, sizeof err), MB_JWT_EXPIRED); /* exp+60 */
    assert_int_equal(verify(t, &p, 1699999989, err, sizeof err), MB_JWT_OK);
    free(t);
    /* exp == now is expired. */
    t = sign_claims("{\"exp\":1700000000}");
    assert_int_equal(v(t, &p), MB_JWT_EXPIRED);
    free(t);
    /* nbf in the future. */
    t = sign_claims("{\"exp\":1700003600,\"nbf\":1700000030}");
    assert_int_equal(v(t, &p), MB_JWT_NOT_YET_VALID);
    assert_int_equal(v(t, &lee), MB_JWT_OK);
    assert_int_equal(verify(t, &p, 1700000030, err, sizeof err), MB_JWT_OK);
    free(t);
    t = sign_claims("{\"nbf\":1700000100}");
    assert_int_equal(v(t, &lee), MB_JWT_NOT_YET_VALID);
    free(t);
    /* iat in the future. */
    t = sign_claims("{\"exp\":1700003600,\"iat\":1700000045}");
    assert_int_equal(verify(t, &p, NOW, err, sizeof err), MB_JWT_NOT_YET_VALID);
    assert_non_null(strstr(err, "future"));
    assert_int_equal(v(t, &lee), MB_JWT_OK);
    free(t);
    t = sign_claims("{\"iat\":1700000061}");
    assert_int_equal(v(t, &lee), MB_JWT_NOT_YET_VALID);
    free(t);
    /* require_exp. */
    struct mb_jwt_policy req = {.require_exp = true};
    t = sign_claims("{\"sub\":\"x\"}");
    assert_int_equal(v(t, &p), MB_JWT_OK);
    assert_int_equal(v(t, &req), MB_JWT_MISSING_CLAIM);
    free(t);
    /* Non-integral numbers are accepted and rounded towards refusal. */
    t = sign_claims("{\"exp\":1700000000.5}");
    assert_int_equal(v(t, &p), MB_JWT_EXPIRED); /* floor: 1700000000 <= now */
    free(t);
    t = sign_claims("{\"exp\":1700000001.5,\"nbf\":1699999999.2}");
    assert_int_equal(v(t, &p), MB_JWT_OK);
    free(t);
    t = sign_claims("{\"nbf\":1700000000.2}");
    assert_int_equal(v(t, &p), MB_JWT_NOT_YET_VALID); /* ceil: 1700000001 > now */
    free(t);
    /* Wrong types and ranges are malformed. */
    const char *bad[] = {"{\"exp\":\"1700003600\"}", "{\"exp\":-1}",           "{\"nbf\":true}",
                         "{\"iat\":null}",           "{\"exp\":253402300800}", "{\"exp\":1e300}",
                         "{\"exp\":[1700003600]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = sign_claims(bad[i]);
        enum mb_jwt_status st = v(t, &p);
        if (st != MB_JWT_MALFORMED)
            fail_msg("%s: %s", bad[i], mb_jwt_status_name(st));
        free(t);
    }
}

static void test_issuer(void **state)
{
    (void)state;
    struct mb_jwt_policy p = {.issuer = "https://idp.example"};
    char err[256];
    char *t = sign_claims("{\"iss\":\"https://evil.example\"}");
    assert_int_equal(verify(t, &p, NOW, err, sizeof err), MB_JWT_BAD_ISSUER);
    assert_non_null(strstr(err, "evil.example"));
    free(t);
    t = sign_claims("{\"iss\":\"https://idp.example/\"}");
    assert_int_equal(v(t, &p), MB_JWT_BAD_ISSUER);
    free(t);
    t = sign_claims("{\"sub\":\"a\"}");
    assert_int_equal(v(t, &p), MB_JWT_MISSING_CLAIM);
    free(t);
    t = sign_claims("{\"iss\":42}");
    assert_int_equal(v(t, &p), MB_JWT_MALFORMED);
    free(t);
    t = sign_claims("{\"iss\":\"https://idp.example\"}");
    assert_int_equal(v(t, &p), MB_JWT_OK);
    free(t);
}

static void test_audience(void **state)
{
    (void)state;
    struct mb_jwt_policy p = {.audiences = audiences, .audience_count = 2};
    struct {
        const char *payload;
        enum mb_jwt_status want;
    } cases[] = {
        {"{\"aud\":\"mcpbridge\"}", MB_JWT_OK},
        {"{\"aud\":\"api://mcp\"}", MB_JWT_OK},
        {"{\"aud\":\"other\"}", MB_JWT_BAD_AUDIENCE},
        {"{\"aud\":\"MCPBRIDGE\"}", MB_JWT_BAD_AUDIENCE},
        {"{\"aud\":[\"x\",\"y\",\"api://mcp\"]}", MB_JWT_OK},
        {"{\"aud\":[\"x\",\"y\"]}", MB_JWT_BAD_AUDIENCE},
        {"{\"aud\":[]}", MB_JWT_BAD_AUDIENCE},
        {"{\"sub\":\"a\"}", MB_JWT_MISSING_CLAIM},
        {"{\"aud\":7}", MB_JWT_MALFORMED},
        {"{\"aud\":[\"mcpbridge\",7]}", MB_JWT_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = sign_claims(cases[i].payload);
        enum mb_jwt_status st = v(t, &p);
        if (st != cases[i].want)
            fail_msg("%s: %s", cases[i].payload, mb_jwt_status_name(st));
        /* Not checked when the policy lists no audience (types still are). */
        if (cases[i].want != MB_JWT_MALFORMED)
            assert_int_equal(v(t, NULL), MB_JWT_OK);
        free(t);
    }
}

static void test_oversized_token(void **state)
{
    (void)state;
    char payload[9000];
    memset(payload, 0, sizeof payload);
    strcpy(payload, "{\"pad\":\"");
    memset(payload + 8, 'x', 7000);
    strcat(payload, "\"}");
    char *t = sign_claims(payload);
    assert_true(strlen(t) > 8192);
    char err[256];
    assert_int_equal(verify(t, NULL, NOW, err, sizeof err), MB_JWT_TOO_LARGE);
    struct mb_jwt_policy big = {.max_token_bytes = 16384};
    assert_int_equal(v(t, &big), MB_JWT_OK);
    struct mb_jwt_policy small = {.max_token_bytes = 100};
    free(t);
    t = sign_claims("{\"sub\":\"a\"}");
    assert_int_equal(v(t, &small), MB_JWT_TOO_LARGE);
    assert_int_equal(v(t, NULL), MB_JWT_OK);
    free(t);
    /* Above the hard maximum, whatever the policy says. */
    size_t n = MB_JWT_HARD_MAX_BYTES + 1;
    char *huge = malloc(n + 1);
    memset(huge, 'A', n);
    huge[n] = '\0';
    struct mb_jwt_policy unbounded = {.max_token_bytes = (size_t)-1};
    assert_int_equal(v(huge, &unbounded), MB_JWT_TOO_LARGE);
    free(huge);
}

static void test_shape(void **state)
{
    (void)state;
    char *t = sign_claims("{\"sub\":\"a\"}");
    size_t len = strlen(t);
    char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    char buf[4096];
    char err[256];
    /* Two and four segments; empty segments. */
    snprintf(buf, sizeof buf, "%.*s", (int)(d2 - t), t);
    assert_int_equal(verify(buf, NULL, NOW, err, sizeof err), MB_JWT_MALFORMED);
    assert_non_null(strstr(err, "segments"));
    snprintf(buf, sizeof buf, "%s.AAAA", t);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s.", t);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    snprintf(buf, sizeof buf, ".%s", d1 + 1);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s..%s", (int)(d1 - t), t, d2 + 1);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    assert_int_equal(v("", NULL), MB_JWT_MALFORMED);
    assert_int_equal(v("..", NULL), MB_JWT_MALFORMED);
    /* Padding, standard-alphabet characters, whitespace anywhere. */
    snprintf(buf, sizeof buf, "%s==", t);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s=%s", (int)(d1 - t), t, d1);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    const char inject[] = {'+', '/', ' ', '\n', '\t', '\0', '*', (char)0xc3};
    for (size_t i = 0; i < sizeof inject; i++) {
        for (size_t at = 0; at < len; at += len / 7) {
            memcpy(buf, t, len);
            buf[at] = inject[i];
            enum mb_jwt_status st = mb_jwt_verify(buf, len, set, NULL, NOW, NULL, err, sizeof err);
            if (st != MB_JWT_MALFORMED)
                fail_msg("byte 0x%02x at %zu: %s", (unsigned char)inject[i], at,
                         mb_jwt_status_name(st));
        }
    }
    snprintf(buf, sizeof buf, " %s", t);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s\r\n", t);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    /* A segment of impossible base64 length (4n+1). */
    size_t siglen = strlen(d2 + 1), extra = (5 - siglen % 4) % 4;
    snprintf(buf, sizeof buf, "%s%.*s", t, (int)(extra ? extra : 4), "AAAA");
    assert_int_equal((strlen(buf) - (size_t)(d2 + 1 - t)) % 4, 1);
    assert_int_equal(verify(buf, NULL, NOW, err, sizeof err), MB_JWT_MALFORMED);
    assert_non_null(strstr(err, "length"));
    /* Non-canonical trailing bits in the header ("e30" is "{}", "e31" decodes the same). */
    snprintf(buf, sizeof buf, "e31%s", d1);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    /* Header that is not base64 of JSON. */
    snprintf(buf, sizeof buf, "AAAA%s", d1);
    assert_int_equal(v(buf, NULL), MB_JWT_MALFORMED);
    free(t);
}

/* Signs a token whose header and payload are exactly the given texts with the Ed25519 key. */
static enum mb_jwt_status v_raw(const char *header, const char *payload)
{
    char *t = sign_token(ed_key, "EdDSA", header, payload);
    enum mb_jwt_status st = v(t, NULL);
    free(t);
    return st;
}

static void test_header_rules(void **state)
{
    (void)state;
    const char *ok = "{\"sub\":\"a\"}";
    /* Non-object headers. */
    assert_int_equal(v_raw("[\"EdDSA\"]", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("\"EdDSA\"", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("42", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"} x", ok), MB_JWT_MALFORMED);
    /* alg missing or not a string. */
    assert_int_equal(v_raw("{\"kid\":\"ed1\"}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":[\"EdDSA\"]}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":null}", ok), MB_JWT_MALFORMED);
    /* crit present, whatever it lists. */
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1}", ok),
                     MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"crit\":[]}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"b64\":false,\"crit\":[\"b64\"]}", ok),
                     MB_JWT_MALFORMED);
    /* typ. */
    const char *typ_ok[] = {
        "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "application/jwt"};
    for (size_t i = 0; i < sizeof typ_ok / sizeof typ_ok[0]; i++) {
        char h[96];
        snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"typ\":\"%s\"}", typ_ok[i]);
        assert_int_equal(v_raw(h, ok), MB_JWT_OK);
    }
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"typ\":\"JOSE\"}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"typ\":\"dpop+jwt\"}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"typ\":1}", ok), MB_JWT_MALFORMED);
    /* kid must be a non-empty string. */
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"kid\":7}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"kid\":\"\"}", ok), MB_JWT_MALFORMED);
    /* Embedded keys are ignored: a jwk header does not make a foreign key trusted. */
    char *jwk = jwk_of(rsa_other, NULL, NULL);
    char h[4200];
    snprintf(h, sizeof h, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jwk\":%s}", jwk);
    char *t = sign_token(rsa_other, "RS256", h, ok);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(t), free(jwk);
    /* Duplicate names: header and payload. */
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"none\",\"alg\":\"EdDSA\"}", ok), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"}", "{\"sub\":\"a\",\"sub\":\"admin\"}"),
                     MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"}", "{\"exp\":1,\"exp\":1800000000}"),
                     MB_JWT_MALFORMED);
    /* Payload that is not a JSON object. */
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"}", "[1,2]"), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"}", "\"sub\""), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"}", "{\"sub\":"), MB_JWT_MALFORMED);
    assert_int_equal(v_raw("{\"alg\":\"EdDSA\"}", "{\"sub\":\"a\"}"), MB_JWT_OK);
}

static void test_signature_length(void **state)
{
    (void)state;
    char *h = b64url_str("{\"alg\":\"ES256\",\"kid\":\"ec256\"}");
    char *p = b64url_str(GOOD_PAYLOAD);
    char input[2048];
    snprintf(input, sizeof input, "%s.%s", h, p);
    /* The DER form EVP produces is refused: JOSE wants raw r||s. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec256), 1);
    unsigned char der[128];
    size_t derlen = sizeof der;
    assert_int_equal(EVP_DigestSign(ctx, der, &derlen, (unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    char *s = b64url(der, derlen);
    char t[4096];
    snprintf(t, sizeof t, "%s.%s", input, s);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(s);
    /* Raw signature one byte short, one byte long, P-384 length. */
    size_t siglen;
    unsigned char *raw = sign_raw(ec256, "ES256", input, strlen(input), &siglen, 0);
    assert_int_equal(siglen, 64);
    unsigned char longer[97] = {0};
    memcpy(longer, raw, 64);
    size_t lens[] = {63, 65, 96, 32};
    for (size_t i = 0; i < 4; i++) {
        s = b64url(longer, lens[i]);
        snprintf(t, sizeof t, "%s.%s", input, s);
        char err[256];
        assert_int_equal(verify(t, NULL, NOW, err, sizeof err), MB_JWT_BAD_SIGNATURE);
        assert_non_null(strstr(err, "64"));
        free(s);
    }
    s = b64url(raw, 64);
    snprintf(t, sizeof t, "%s.%s", input, s);
    assert_int_equal(v(t, NULL), MB_JWT_OK);
    free(s), free(raw);
    /* All-zero r||s of the right length. */
    memset(longer, 0, sizeof longer);
    s = b64url(longer, 64);
    snprintf(t, sizeof t, "%s.%s", input, s);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(s);
    free(h), free(p);
    /* RSA: a signature shorter than the modulus (leading byte dropped) is refused. */
    char *rt = sign_simple(rsa_key, "RS256", "rsa1", GOOD_PAYLOAD);
    char *dot = strrchr(rt, '.');
    char *shortsig = b64url_str("short");
    snprintf(t, sizeof t, "%.*s.%s", (int)(dot - rt), rt, shortsig);
    assert_int_equal(v(t, NULL), MB_JWT_BAD_SIGNATURE);
    free(rt), free(shortsig);
}

static void test_scopes_and_client_id(void **state)
{
    (void)state;
    struct mb_jwt_claims c;
    char err[256];
    char *t = sign_claims("{\"scope\":\" read  write \",\"scp\":[\"write\",\"admin\"],"
                          "\"azp\":\"azp-1\",\"cid\":\"cid-1\"}");
    assert_int_equal(mb_jwt_verify(t, strlen(t), set, NULL, NOW, &c, err, sizeof err), MB_JWT_OK);
    assert_int_equal(c.scope_count, 3);
    assert_string_equal(c.scopes[0], "read");
    assert_string_equal(c.scopes[1], "write");
    assert_string_equal(c.scopes[2], "admin");
    assert_string_equal(c.client_id, "azp-1");
    assert_null(c.subject);
    assert_int_equal(c.expiry, 0);
    mb_jwt_claims_dispose(&c);
    mb_jwt_claims_dispose(&c); /* twice is fine */
    free(t);
    t = sign_claims("{\"scp\":\"a b\",\"cid\":\"cid-1\"}");
    assert_int_equal(mb_jwt_verify(t, strlen(t), set, NULL, NOW, &c, err, sizeof err), MB_JWT_OK);
    assert_int_equal(c.scope_count, 2);
    assert_string_equal(c.client_id, "cid-1");
    mb_jwt_claims_dispose(&c);
    free(t);
    /* 64 scopes pass, 65 do not; one scope of 257 bytes does not; bad characters do not. */
    char payload[8192] = "{\"scope\":\"";
    for (int i = 0; i < 64; i++)
        sprintf(payload + strlen(payload), "%ss%d", i ? " " : "", i);
    strcat(payload, "\"}");
    t = sign_claims(payload);
    assert_int_equal(mb_jwt_verify(t, strlen(t), set, NULL, NOW, &c, err, sizeof err), MB_JWT_OK);
    assert_int_equal(c.scope_count, 64);
    mb_jwt_claims_dispose(&c);
    free(t);
    strcpy(payload + strlen(payload) - 2, " s64\"}");
    t = sign_claims(payload);
    assert_int_equal(verify(t, NULL, NOW, err, sizeof err), MB_JWT_MALFORMED);
    assert_non_null(strstr(err, "64"));
    free(t);
    strcpy(payload, "{\"scp\":[\"");
    memset(payload + strlen(payload), 'x', 257);
    strcpy(payload + 9 + 257, "\"]}");
    t = sign_claims(payload);
    assert_int_equal(v(t, NULL), MB_JWT_MALFORMED);
    free(t);
    const char *bad[] = {"{\"scope\":\"a\\\"b\"}", "{\"scope\":\"caf\\u00e9\"}",
                         "{\"scp\":[\"a b\"]}",    "{\"scp\":[\"\"]}",
                         "{\"scope\":[\"a\"]}",    "{\"scp\":{\"a\":1}}",
                         "{\"scp\":[1]}",          "{\"sub\":1}",
                         "{\"client_id\":false}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = sign_claims(bad[i]);
        enum mb_jwt_status st = v(t, NULL);
        if (st != MB_JWT_MALFORMED)
            fail_msg("%s: %s", bad[i], mb_jwt_status_name(st));
        free(t);
    }
}

static void test_err_never_holds_the_token(void **state)
{
    (void)state;
    struct mb_jwt_policy p = strict_policy();
    const char *payloads[] = {"{\"exp\":1}", "{\"iss\":\"x\",\"exp\":1800000000}",
                              "{\"iss\":\"https://idp.example\",\"aud\":\"x\",\"exp\":1800000000}"};
    for (size_t i = 0; i < 3; i++) {
        char *t = sign_claims(payloads[i]);
        char *sig = strrchr(t, '.') + 1;
        char err[512];
        assert_int_not_equal(verify(t, &p, NOW, err, sizeof err), MB_JWT_OK);
        assert_true(strlen(err) > 0);
        assert_null(strstr(err, sig));
        assert_null(strstr(err, strchr(t, '.') + 1));
        /* A forged one too. */
        sig[3] = sig[3] == 'A' ? 'B' : 'A';
        assert_int_equal(verify(t, &p, NOW, err, sizeof err), MB_JWT_BAD_SIGNATURE);
        assert_null(strstr(err, sig));
        free(t);
    }
    /* err is always NUL-terminated within errlen. */
    char small[8];
    memset(small, 'z', sizeof small);
    assert_int_equal(verify("a.b", NULL, NOW, small, sizeof small), MB_JWT_MALFORMED);
    assert_true(memchr(small, '\0', sizeof small) != NULL);
}

static void test_pem_token_mode(void **state)
{
    (void)state;
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, ed_key), 1);
    char *pem;
    long pemlen = BIO_get_mem_data(bio, &pem);
    char err[256];
    struct mb_jwk_set *pset = mb_jwk_set_from_pem(pem, (size_t)pemlen, err, sizeof err);
    assert_non_null(pset);
    BIO_free(bio);
    struct mb_jwt_policy p = {.algs = MB_JWT_ALG_BIT(MB_JWT_EDDSA), .require_exp = true};
    char *t = sign_simple(ed_key, "EdDSA", NULL, "{\"sub\":\"sa\",\"exp\":1700000600}");
    assert_int_equal(mb_jwt_verify(t, strlen(t), pset, &p, NOW, NULL, err, sizeof err), MB_JWT_OK);
    free(t);
    /* Any kid matches the kid-less static key. */
    t = sign_simple(ed_key, "EdDSA", "sa-2024", "{\"sub\":\"sa\",\"exp\":1700000600}");
    assert_int_equal(mb_jwt_verify(t, strlen(t), pset, &p, NOW, NULL, err, sizeof err), MB_JWT_OK);
    free(t);
    /* Another Ed25519 key's token does not verify; an RSA token finds no key. */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    t = sign_simple(other, "EdDSA", NULL, "{\"sub\":\"sa\",\"exp\":1700000600}");
    assert_int_equal(mb_jwt_verify(t, strlen(t), pset, &p, NOW, NULL, err, sizeof err),
                     MB_JWT_BAD_SIGNATURE);
    free(t);
    EVP_PKEY_free(other);
    t = sign_simple(rsa_key, "RS256", NULL, "{\"sub\":\"sa\",\"exp\":1700000600}");
    assert_int_equal(mb_jwt_verify(t, strlen(t), pset, NULL, NOW, NULL, err, sizeof err),
                     MB_JWT_ALG_REFUSED);
    free(t);
    mb_jwk_set_destroy(pset);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(mb_jwt_status_name(MB_JWT_OK), "ok");
    assert_string_equal(mb_jwt_status_name(MB_JWT_UNKNOWN_KID), "unknown_kid");
    assert_string_equal(mb_jwt_status_name(MB_JWT_NOT_YET_VALID), "not_yet_valid");
    assert_string_equal(mb_jwt_status_name((enum mb_jwt_status)5), "unknown");
    const char *seen[16];
    for (int s = 0; s >= MB_JWT_INTERNAL; s--) {
        const char *n = mb_jwt_status_name((enum mb_jwt_status)s);
        assert_string_not_equal(n, "unknown");
        for (const char *c = n; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
        for (int j = 0; j < -s; j++)
            assert_string_not_equal(seen[j], n);
        seen[-s] = n;
    }
    assert_string_equal(mb_jwt_alg_name(MB_JWT_EDDSA), "EdDSA");
    assert_int_equal(mb_jwt_alg_from_name("PS256"), MB_JWT_PS256);
    assert_int_equal(mb_jwt_alg_from_name("none"), -1);
    assert_int_equal(mb_jwt_alg_from_name("HS256"), -1);
    assert_int_equal(mb_jwt_alg_from_name(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_algorithm_verifies),
        cmocka_unit_test(test_forged_signature),
        cmocka_unit_test(test_payload_modified_after_signing),
        cmocka_unit_test(test_alg_none_refused),
        cmocka_unit_test(test_hs256_with_rsa_public_key_refused),
        cmocka_unit_test(test_kid_and_key_type),
        cmocka_unit_test(test_key_pinned_to_rs256_refuses_ps256),
        cmocka_unit_test(test_policy_allow_list),
        cmocka_unit_test(test_pss_salt_must_be_digest_length),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_oversized_token),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_signature_length),
        cmocka_unit_test(test_scopes_and_client_id),
        cmocka_unit_test(test_err_never_holds_the_token),
        cmocka_unit_test(test_pem_token_mode),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
