/* Unit tests for auth/jwk.c: JWKS parsing of every supported key type from keys generated at
 * test time; weak RSA, EC points off the curve, wrong coordinate lengths and alg/kty mismatches
 * rejected; unknown kty/crv/alg and non-signature keys skipped and counted; document limits;
 * key lookup by kid and alg; fingerprints (stable under reordering, sensitive to changes);
 * PEM public keys; the strict base64url decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwk.h"

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

static char *bn_b64(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    unsigned char buf[1100];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url(buf, (size_t)n);
}

/* One JWK object; extra is appended inside the object (e.g. ",\"kid\":\"a\""). */
static char *jwk_of(EVP_PKEY *k, const char *extra)
{
    char *out = malloc(4096);
    assert_non_null(out);
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        char *n = bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0);
        snprintf(out, 4096, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}", n, e, extra);
        free(n), free(e);
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        int clen = EVP_PKEY_get_bits(k) / 8;
        char *x = bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, clen);
        char *y = bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, clen);
        snprintf(out, 4096, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}",
                 clen == 32 ? "P-256" : "P-384", x, y, extra);
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

static EVP_PKEY *rsa2048, *rsa1024, *p256, *p384, *ed;

static int group_setup(void **state)
{
    (void)state;
    rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return rsa2048 && rsa1024 && p256 && p384 && ed ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa2048), EVP_PKEY_free(rsa1024), EVP_PKEY_free(p256);
    EVP_PKEY_free(p384), EVP_PKEY_free(ed);
    return 0;
}

static struct mb_jwk_set *parse(const char *doc, char *err, size_t errlen)
{
    return mb_jwk_set_parse_jwks(doc, strlen(doc), err, errlen);
}

/* {"keys":[a,b,...]} from up to 6 JWK strings (NULL-terminated list); frees them. */
static char *jwks(char *a, char *b, char *c, char *d, char *e)
{
    char *parts[] = {a, b, c, d, e};
    size_t n = 16;
    for (int i = 0; i < 5 && parts[i]; i++)
        n += strlen(parts[i]) + 1;
    char *doc = malloc(n);
    strcpy(doc, "{\"keys\":[");
    for (int i = 0; i < 5 && parts[i]; i++) {
        if (i)
            strcat(doc, ",");
        strcat(doc, parts[i]);
        free(parts[i]);
    }
    strcat(doc, "]}");
    return doc;
}

static void test_parse_every_type(void **state)
{
    (void)state;
    char *doc = jwks(jwk_of(rsa2048, ",\"kid\":\"r\",\"use\":\"sig\""),
                     jwk_of(p256, ",\"kid\":\"e1\",\"key_ops\":[\"verify\"]"),
                     jwk_of(p384, ",\"kid\":\"e2\",\"alg\":\"ES384\""), jwk_of(ed, ""), NULL);
    char err[256];
    struct mb_jwk_set *s = parse(doc, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(mb_jwk_set_count(s), 4);
    const struct mb_jwk_set_stats *st = mb_jwk_set_stats(s);
    assert_int_equal(st->listed, 4);
    assert_int_equal(st->loaded, 4);
    assert_int_equal(st->rejected + st->skipped_use + st->skipped_unsupported, 0);
    const struct mb_jwk *k = mb_jwk_set_key(s, 0);
    assert_int_equal(k->kty, MB_JWK_RSA);
    assert_int_equal(k->bits, 2048);
    assert_string_equal(k->kid, "r");
    assert_int_equal(k->algs, MB_JWT_ALGS_RSA);
    assert_true(EVP_PKEY_eq(k->pkey, rsa2048) == 1);
    k = mb_jwk_set_key(s, 1);
    assert_int_equal(k->kty, MB_JWK_EC);
    assert_int_equal(k->algs, MB_JWT_ALG_BIT(MB_JWT_ES256));
    assert_true(EVP_PKEY_eq(k->pkey, p256) == 1);
    k = mb_jwk_set_key(s, 2);
    assert_int_equal(k->bits, 384);
    assert_int_equal(k->algs, MB_JWT_ALG_BIT(MB_JWT_ES384));
    assert_true(EVP_PKEY_eq(k->pkey, p384) == 1);
    k = mb_jwk_set_key(s, 3);
    assert_int_equal(k->kty, MB_JWK_OKP);
    assert_null(k->kid);
    assert_true(EVP_PKEY_eq(k->pkey, ed) == 1);
    assert_null(mb_jwk_set_key(s, 4));
    mb_jwk_set_destroy(s);
    free(doc);
}

static void test_weak_and_invalid_keys_rejected(void **state)
{
    (void)state;
    char err[256];
    /* RSA 1024 alone: no usable key, the message says why. */
    char *doc = jwks(jwk_of(rsa1024, ",\"kid\":\"weak\""), NULL, NULL, NULL, NULL);
    assert_null(parse(doc, err, sizeof err));
    assert_non_null(strstr(err, "no usable key"));
    assert_non_null(strstr(err, "1024"));
    assert_non_null(strstr(err, "weak"));
    free(doc);
    /* RSA 1024 beside a good key: the set holds only the good one. */
    doc =
        jwks(jwk_of(rsa1024, ",\"kid\":\"weak\""), jwk_of(ed, ",\"kid\":\"ok\""), NULL, NULL, NULL);
    struct mb_jwk_set *s = parse(doc, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(mb_jwk_set_count(s), 1);
    assert_int_equal(mb_jwk_set_stats(s)->rejected, 1);
    assert_non_null(strstr(mb_jwk_set_stats(s)->first_rejection, "1024 bits"));
    assert_false(mb_jwk_set_has_kid(s, "weak"));
    assert_null(mb_jwk_set_find(s, "weak", MB_JWT_RS256));
    mb_jwk_set_destroy(s);
    free(doc);

    /* EC point not on the curve: y changed. */
    char *good = jwk_of(p256, ",\"kid\":\"e\"");
    char *y = strstr(good, "\"y\":\"") + 5;
    y[10] = y[10] == 'A' ? 'B' : 'A';
    doc = jwks(good, NULL, NULL, NULL, NULL);
    assert_null(parse(doc, err, sizeof err));
    assert_non_null(strstr(err, "not on curve"));
    free(doc);
    /* The P-256 point declared as P-384 (wrong length), and P-384 coordinates as P-256. */
    good = jwk_of(p256, "");
    char *crv = strstr(good, "P-256");
    memcpy(crv, "P-384", 5);
    doc = jwks(good, NULL, NULL, NULL, NULL);
    assert_null(parse(doc, err, sizeof err));
    free(doc);
    good = jwk_of(p384, "");
    crv = strstr(good, "P-384");
    memcpy(crv, "P-256", 5);
    doc = jwks(good, NULL, NULL, NULL, NULL);
    assert_null(parse(doc, err, sizeof err));
    free(doc);

    /* Bad members of known key types. */
    const char *bad[] = {
        "{\"kty\":\"RSA\",\"n\":\"AQAB\"}",                     /* e missing */
        "{\"kty\":\"RSA\",\"n\":\"AQ+B\",\"e\":\"AQAB\"}",      /* n not base64url */
        "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",      /* 17-bit modulus */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}",      /* y missing */
        "{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}",           /* crv missing */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}", /* 3 bytes */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}",
        "{\"kty\":1}",
        "{\"n\":\"AQAB\"}",
        "[]",
        "\"RSA\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char d[512];
        snprintf(d, sizeof d, "{\"keys\":[%s]}", bad[i]);
        s = parse(d, err, sizeof err);
        if (s)
            fail_msg("%s was accepted", bad[i]);
        assert_non_null(strstr(err, "1 rejected"));
    }
    /* alg that does not fit the key type, kid not a string, use not a string. */
    const char *extras[] = {",\"alg\":\"ES256\"", ",\"alg\":\"EdDSA\"", ",\"kid\":5",
                            ",\"kid\":\"\"",      ",\"use\":1",         ",\"key_ops\":\"verify\""};
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
        doc = jwks(jwk_of(rsa2048, extras[i]), NULL, NULL, NULL, NULL);
        s = parse(doc, err, sizeof err);
        if (s)
            fail_msg("RSA key with %s was accepted", extras[i]);
        free(doc);
    }
    doc = jwks(jwk_of(p384, ",\"alg\":\"ES256\""), NULL, NULL, NULL, NULL);
    assert_null(parse(doc, err, sizeof err));
    free(doc);
}

static void test_unknown_and_foreign_keys_skipped(void **state)
{
    (void)state;
    char err[256];
    char *doc =
        jwks(strdup("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"hmac\"}"),
             strdup("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}"),
             strdup("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}"),
             jwk_of(rsa2048, ",\"use\":\"enc\",\"kid\":\"enc\""), jwk_of(ed, ",\"kid\":\"ed\""));
    struct mb_jwk_set *s = parse(doc, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(mb_jwk_set_count(s), 1);
    const struct mb_jwk_set_stats *st = mb_jwk_set_stats(s);
    assert_int_equal(st->listed, 5);
    assert_int_equal(st->skipped_unsupported, 3);
    assert_int_equal(st->skipped_use, 1);
    assert_int_equal(st->rejected, 0);
    assert_string_equal(st->first_rejection, "");
    assert_false(mb_jwk_set_has_kid(s, "hmac"));
    assert_false(mb_jwk_set_has_kid(s, "enc"));
    mb_jwk_set_destroy(s);
    free(doc);
    /* Keys meant for encryption or for algorithms we do not verify. */
    doc = jwks(jwk_of(rsa2048, ",\"alg\":\"RSA-OAEP\""), jwk_of(rsa2048, ",\"alg\":\"PS512\""),
               jwk_of(rsa2048, ",\"key_ops\":[\"encrypt\",\"wrapKey\"]"),
               jwk_of(rsa2048, ",\"alg\":\"HS256\""), NULL);
    assert_null(parse(doc, err, sizeof err));
    assert_non_null(strstr(err, "1 not for signatures, 3 unsupported"));
    free(doc);
}

static void test_document_limits(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{\"keys\":{}}",
                         "{\"keys\":[]}",
                         "{\"kees\":[]}",
                         "{\"keys\":[],\"keys\":[]}",
                         "{\"keys\":[]} trailing",
                         "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (parse(bad[i], err, sizeof err))
            fail_msg("accepted: %s", bad[i]);
        assert_true(strncmp(err, "JWKS: ", 6) == 0);
    }
    assert_null(mb_jwk_set_parse_jwks(NULL, 0, NULL, 0));
    /* Duplicate names inside a key. */
    char *j = jwk_of(ed, ",\"kid\":\"a\",\"kid\":\"b\"");
    char *doc = jwks(j, NULL, NULL, NULL, NULL);
    assert_null(parse(doc, err, sizeof err));
    assert_non_null(strstr(err, "duplicate"));
    free(doc);
    /* 64 keys accepted, 65 refused. */
    char *one = jwk_of(ed, "");
    size_t cap = 66 * (strlen(one) + 1) + 32;
    char *many = malloc(cap);
    strcpy(many, "{\"keys\":[");
    for (int i = 0; i < 64; i++) {
        if (i)
            strcat(many, ",");
        strcat(many, one);
    }
    strcat(many, "]}");
    struct mb_jwk_set *s = parse(many, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(mb_jwk_set_count(s), 64);
    mb_jwk_set_destroy(s);
    strcpy(many + strlen(many) - 2, ",");
    strcat(many, one);
    strcat(many, "]}");
    assert_null(parse(many, err, sizeof err));
    assert_non_null(strstr(err, "65 keys"));
    free(many);
    /* Larger than 256 KiB, even as valid JSON. */
    size_t big = MB_JWKS_MAX_BYTES + 100;
    char *huge = malloc(big + 1);
    int n = snprintf(huge, big, "{\"keys\":[%s],\"pad\":\"", one);
    memset(huge + n, 'x', big - (size_t)n - 2);
    memcpy(huge + big - 2, "\"}", 3);
    assert_null(parse(huge, err, sizeof err));
    assert_non_null(strstr(err, "exceeds"));
    free(huge);
    free(one);
}

static void test_find(void **state)
{
    (void)state;
    char err[256];
    char *doc = jwks(jwk_of(rsa2048, ",\"kid\":\"r1\",\"alg\":\"RS256\""),
                     jwk_of(rsa2048, ",\"kid\":\"r2\""), jwk_of(p256, ",\"kid\":\"e1\""),
                     jwk_of(p256, ""), jwk_of(rsa2048, ""));
    struct mb_jwk_set *s = parse(doc, err, sizeof err);
    assert_non_null(s);
    const struct mb_jwk *k0 = mb_jwk_set_key(s, 0), *k1 = mb_jwk_set_key(s, 1);
    const struct mb_jwk *k2 = mb_jwk_set_key(s, 2), *k3 = mb_jwk_set_key(s, 3);
    const struct mb_jwk *k4 = mb_jwk_set_key(s, 4);
    /* By kid. */
    assert_ptr_equal(mb_jwk_set_find(s, "r1", MB_JWT_RS256), k0);
    assert_ptr_equal(mb_jwk_set_find(s, "r2", MB_JWT_PS256), k1);
    assert_ptr_equal(mb_jwk_set_find(s, "e1", MB_JWT_ES256), k2);
    assert_null(mb_jwk_set_find(s, "e1", MB_JWT_ES384));
    /* Without kid: kid-less keys first, then the first compatible. */
    assert_ptr_equal(mb_jwk_set_find(s, NULL, MB_JWT_ES256), k3);
    assert_ptr_equal(mb_jwk_set_find(s, NULL, MB_JWT_RS256), k4);
    assert_ptr_equal(mb_jwk_set_find(s, NULL, MB_JWT_PS256), k4);
    assert_null(mb_jwk_set_find(s, NULL, MB_JWT_EDDSA));
    /* Unknown kid: only a kid-less key may answer. */
    assert_ptr_equal(mb_jwk_set_find(s, "zzz", MB_JWT_ES256), k3);
    assert_ptr_equal(mb_jwk_set_find(s, "zzz", MB_JWT_RS384), k4);
    assert_null(mb_jwk_set_find(s, "zzz", MB_JWT_EDDSA));
    /* A named key that does not allow the alg: no fallback to the kid-less RSA key. */
    assert_null(mb_jwk_set_find(s, "r1", MB_JWT_PS256));
    assert_null(mb_jwk_set_find(s, "e1", MB_JWT_RS256));
    mb_jwk_set_destroy(s);
    free(doc);
    /* Without any kid-less key, the first compatible key answers a kid-less token. */
    doc = jwks(jwk_of(p256, ",\"kid\":\"a\""), jwk_of(rsa2048, ",\"kid\":\"b\""),
               jwk_of(rsa2048, ",\"kid\":\"c\""), NULL, NULL);
    s = parse(doc, err, sizeof err);
    assert_ptr_equal(mb_jwk_set_find(s, NULL, MB_JWT_RS256), mb_jwk_set_key(s, 1));
    assert_null(mb_jwk_set_find(s, "zzz", MB_JWT_RS256));
    assert_true(mb_jwk_set_has_kid(s, "b"));
    assert_false(mb_jwk_set_has_kid(s, "zzz"));
    assert_false(mb_jwk_set_has_kid(s, NULL));
    assert_null(mb_jwk_set_find(NULL, "r1", MB_JWT_RS256));
    assert_null(mb_jwk_set_find(s, "b", (enum mb_jwt_alg)99));
    mb_jwk_set_destroy(s);
    free(doc);
}

static void test_fingerprint(void **state)
{
    (void)state;
    char err[256];
    char *a =
        jwks(jwk_of(rsa2048, ",\"kid\":\"r\""), jwk_of(ed, ",\"kid\":\"e\""), NULL, NULL, NULL);
    char *b = jwks(jwk_of(ed, ",\"kid\":\"e\",\"use\":\"sig\",\"x5t\":\"ignored\""),
                   jwk_of(rsa2048, ",\"kid\":\"r\""), NULL, NULL, NULL);
    char *c =
        jwks(jwk_of(rsa2048, ",\"kid\":\"r\""), jwk_of(ed, ",\"kid\":\"e2\""), NULL, NULL, NULL);
    char *d = jwks(jwk_of(rsa2048, ",\"kid\":\"r\",\"alg\":\"RS256\""),
                   jwk_of(ed, ",\"kid\":\"e\""), NULL, NULL, NULL);
    char *e = jwks(jwk_of(rsa1024, ",\"kid\":\"x\""), jwk_of(ed, ",\"kid\":\"e\""),
                   jwk_of(rsa2048, ",\"kid\":\"r\""), NULL, NULL);
    struct mb_jwk_set *sa = parse(a, err, sizeof err), *sb = parse(b, err, sizeof err);
    struct mb_jwk_set *sc = parse(c, err, sizeof err), *sd = parse(d, err, sizeof err);
    struct mb_jwk_set *se = parse(e, err, sizeof err);
    assert_non_null(sa), assert_non_null(sb), assert_non_null(sc), assert_non_null(sd);
    assert_non_null(se);
    assert_true(mb_jwk_set_same(sa, sb));  /* order and ignored members do not matter */
    assert_true(mb_jwk_set_same(sa, se));  /* neither do rejected keys */
    assert_false(mb_jwk_set_same(sa, sc)); /* a kid changed */
    assert_false(mb_jwk_set_same(sa, sd)); /* an alg was pinned */
    assert_false(mb_jwk_set_same(sa, NULL));
    assert_memory_not_equal(mb_jwk_set_fingerprint(sa), mb_jwk_set_fingerprint(sc),
                            MB_JWK_FINGERPRINT_LEN);
    /* A different key under the same kid. */
    EVP_PKEY *ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *f =
        jwks(jwk_of(rsa2048, ",\"kid\":\"r\""), jwk_of(ed2, ",\"kid\":\"e\""), NULL, NULL, NULL);
    struct mb_jwk_set *sf = parse(f, err, sizeof err);
    assert_false(mb_jwk_set_same(sa, sf));
    /* A PEM key equals the same key in a JWKS without kid or alg. */
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, ed2);
    char *pem;
    long pemlen = BIO_get_mem_data(bio, &pem);
    struct mb_jwk_set *sp = mb_jwk_set_from_pem(pem, (size_t)pemlen, err, sizeof err);
    char *g = jwks(jwk_of(ed2, ""), NULL, NULL, NULL, NULL);
    struct mb_jwk_set *sg = parse(g, err, sizeof err);
    assert_true(mb_jwk_set_same(sp, sg));
    BIO_free(bio);
    EVP_PKEY_free(ed2);
    mb_jwk_set_destroy(sa), mb_jwk_set_destroy(sb), mb_jwk_set_destroy(sc);
    mb_jwk_set_destroy(sd), mb_jwk_set_destroy(se), mb_jwk_set_destroy(sf);
    mb_jwk_set_destroy(sp), mb_jwk_set_destroy(sg);
    free(a), free(b), free(c), free(d), free(e), free(f), free(g);
}

static struct mb_jwk_set *pem_of(EVP_PKEY *k, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    char *pem;
    long len = BIO_get_mem_data(bio, &pem);
    struct mb_jwk_set *s = mb_jwk_set_from_pem(pem, (size_t)len, err, errlen);
    BIO_free(bio);
    return s;
}

static void test_pem(void **state)
{
    (void)state;
    char err[256];
    struct {
        EVP_PKEY *key;
        enum mb_jwk_kty kty;
        unsigned algs;
    } ok[] = {
        {ed, MB_JWK_OKP, MB_JWT_ALG_BIT(MB_JWT_EDDSA)},
        {rsa2048, MB_JWK_RSA, MB_JWT_ALGS_RSA},
        {p256, MB_JWK_EC, MB_JWT_ALG_BIT(MB_JWT_ES256)},
        {p384, MB_JWK_EC, MB_JWT_ALG_BIT(MB_JWT_ES384)},
    };
    for (size_t i = 0; i < 4; i++) {
        struct mb_jwk_set *s = pem_of(ok[i].key, err, sizeof err);
        assert_non_null(s);
        assert_int_equal(mb_jwk_set_count(s), 1);
        const struct mb_jwk *k = mb_jwk_set_key(s, 0);
        assert_null(k->kid);
        assert_int_equal(k->kty, ok[i].kty);
        assert_int_equal(k->algs, ok[i].algs);
        assert_true(EVP_PKEY_eq(k->pkey, ok[i].key) == 1);
        mb_jwk_set_destroy(s);
    }
    assert_null(pem_of(rsa1024, err, sizeof err));
    assert_non_null(strstr(err, "1024"));
    EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    assert_null(pem_of(p521, err, sizeof err));
    assert_non_null(strstr(err, "not supported"));
    EVP_PKEY_free(p521);
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_null(pem_of(x25519, err, sizeof err));
    EVP_PKEY_free(x25519);
    /* A private key PEM is not a public key. */
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, ed, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long len = BIO_get_mem_data(bio, &pem);
    assert_null(mb_jwk_set_from_pem(pem, (size_t)len, err, sizeof err));
    BIO_free(bio);
    const char *junk = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    assert_null(mb_jwk_set_from_pem(junk, strlen(junk), err, sizeof err));
    assert_null(mb_jwk_set_from_pem("", 0, err, sizeof err));
    assert_null(mb_jwk_set_from_pem(NULL, 10, NULL, 0));
}

static void test_base64url(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 99;
    assert_int_equal(mb_jwk_base64url_decode("", 0, out, sizeof out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mb_jwk_base64url_decode("Zg", 2, out, sizeof out, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(out, "f", 1);
    assert_int_equal(mb_jwk_base64url_decode("Zm9vYmE", 7, out, sizeof out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "fooba", 5);
    assert_int_equal(mb_jwk_base64url_decode("-_-_", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0xfb), assert_int_equal(out[1], 0xff), assert_int_equal(out[2], 0xbf);
    /* Invalid: 4n+1 length, padding, standard alphabet, whitespace, non-canonical bits. */
    const char *bad[] = {"Z", "Zg==", "Zm+v", "Zm/v", "Zm9 v", "Zh", "Zm9", "Zm9vYmF"};
    const int valid_len[] = {1, 4, 4, 4, 5, 2, 3, 7};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (i == 6 || i == 7) /* "Zm9" and "Zm9vYmF": last char has low bits set */
            assert_int_equal(mb_jwk_base64url_decode(bad[i], strlen(bad[i]), out, sizeof out, &n),
                             -EINVAL);
        else
            assert_int_equal(
                mb_jwk_base64url_decode(bad[i], (size_t)valid_len[i], out, sizeof out, &n),
                -EINVAL);
    }
    assert_int_equal(mb_jwk_base64url_decode("Zm8", 3, out, sizeof out, &n), 0);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(mb_jwk_base64url_decode("Zm9vYmFy", 8, out, 5, &n), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_every_type),
        cmocka_unit_test(test_weak_and_invalid_keys_rejected),
        cmocka_unit_test(test_unknown_and_foreign_keys_skipped),
        cmocka_unit_test(test_document_limits),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_pem),
        cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
