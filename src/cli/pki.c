/* Key material for the management CLI (contract in pki.h): OpenSSL 3 EVP for keys and
 * signatures, X509 and X509V3 for the development certificates, BIOs in memory for PEM. Each
 * failure names the step that failed and OpenSSL's first queued reason. */
#include "cli/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

/* Writes "what: <OpenSSL's reason>" into err and empties OpenSSL's error queue. */
static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    unsigned long code = ERR_peek_error();
    if (code) {
        char reason[256];
        ERR_error_string_n(code, reason, sizeof reason);
        snprintf(err, errlen, "%s (%s)", what, reason);
    } else {
        snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
}

int mb_pki_random_hex(size_t bytes, char *out, size_t cap, char *err, size_t errlen)
{
    unsigned char raw[256];
    if (bytes > sizeof raw || cap < 2 * bytes + 1) {
        snprintf(err, errlen, "internal: %zu random bytes do not fit", bytes);
        return -1;
    }
    if (RAND_bytes(raw, (int)bytes) != 1) {
        fail(err, errlen, "the random generator failed");
        return -1;
    }
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

char *mb_pki_base64url(const void *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = data;
    char *out = malloc(len / 3 * 4 + 5);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

EVP_PKEY *mb_pki_ed25519_generate(char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!key)
        fail(err, errlen, "could not generate an Ed25519 key pair");
    return key;
}

EVP_PKEY *mb_pki_ec_generate(char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key)
        fail(err, errlen, "could not generate a P-256 key pair");
    return key;
}

/* The bytes a memory BIO holds as a heap string. */
static char *bio_text(BIO *bio, char *err, size_t errlen)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(text, data, (size_t)n);
    text[n] = '\0';
    return text;
}

char *mb_pki_private_key_pem(EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *text = NULL;
    if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
        fail(err, errlen, "could not encode the private key as PEM");
    else
        text = bio_text(bio, err, errlen);
    BIO_free(bio);
    return text;
}

char *mb_pki_public_key_pem(EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL;
    if (!bio || PEM_write_bio_PUBKEY(bio, key) != 1)
        fail(err, errlen, "could not encode the public key as PEM");
    else
        text = bio_text(bio, err, errlen);
    BIO_free(bio);
    return text;
}

EVP_PKEY *mb_pki_private_key_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    if (!key)
        fail(err, errlen, "no PEM private key found");
    BIO_free(bio);
    return key;
}

EVP_PKEY *mb_pki_public_key_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    if (!key)
        fail(err, errlen, "no PEM public key (BEGIN PUBLIC KEY) found");
    BIO_free(bio);
    return key;
}

bool mb_pki_same_public_key(EVP_PKEY *a, EVP_PKEY *b)
{
    return a && b && EVP_PKEY_eq(a, b) == 1;
}

int mb_pki_key_id(EVP_PKEY *key, char *out, size_t cap, char *err, size_t errlen)
{
    unsigned char raw[32], digest[32];
    size_t raw_len = sizeof raw;
    if (cap < MB_PKI_KEY_ID_LEN + 1 || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1 || raw_len != sizeof raw) {
        fail(err, errlen, "the service-account key is not an Ed25519 key");
        return -1;
    }
    char *x = mb_pki_base64url(raw, raw_len);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* RFC 7638 section 3.2: the required members in lexicographic order, no whitespace. */
    char jwk[128];
    int n = snprintf(jwk, sizeof jwk, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
    free(x);
    if (EVP_Digest(jwk, (size_t)n, digest, NULL, EVP_sha256(), NULL) != 1) {
        fail(err, errlen, "SHA-256 failed");
        return -1;
    }
    char *id = mb_pki_base64url(digest, sizeof digest);
    if (!id) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(out, cap, "%s", id);
    free(id);
    return 0;
}

/* base64url of a JSON value's compact serialization, keys in insertion order. */
static char *encode_segment(const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return NULL;
    char *segment = mb_pki_base64url(text, strlen(text));
    free(text);
    return segment;
}

char *mb_pki_jwt_sign_eddsa(EVP_PKEY *key, const char *kid, const json_t *claims, char *err,
                            size_t errlen)
{
    char *token = NULL, *header_seg = NULL, *claims_seg = NULL, *sig_seg = NULL;
    EVP_MD_CTX *md = NULL;
    struct mb_buf input;
    mb_buf_init(&input, 64 * 1024);
    json_t *header = json_pack("{s:s,s:s}", "alg", "EdDSA", "typ", "JWT");
    if (header && kid)
        json_object_set_new(header, "kid", json_string(kid));
    if (!header || !(header_seg = encode_segment(header)) ||
        !(claims_seg = encode_segment(claims)) ||
        mb_buf_printf(&input, "%s.%s", header_seg, claims_seg) != 0) {
        snprintf(err, errlen, "out of memory (or claims over 48 KiB)");
        goto done;
    }
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input.data, input.len) != 1) {
        fail(err, errlen, "could not sign the token with the Ed25519 key");
        goto done;
    }
    if (!(sig_seg = mb_pki_base64url(sig, sig_len)) || mb_buf_printf(&input, ".%s", sig_seg) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    token = mb_buf_steal(&input);
    if (!token)
        snprintf(err, errlen, "out of memory");
done:
    EVP_MD_CTX_free(md);
    json_decref(header);
    free(header_seg);
    free(claims_seg);
    free(sig_seg);
    mb_buf_dispose(&input);
    return token;
}

void mb_pki_free_secret(char *secret)
{
    if (!secret)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
}

/* Adds one X509v3 extension written in OpenSSL's configuration syntax. */
static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value, char *err,
                   size_t errlen)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!ok)
        fail(err, errlen, "could not add the certificate extension %s = %s", OBJ_nid2sn(nid),
             value);
    return ok ? 0 : -1;
}

/* "DNS:a,DNS:b,IP:c" from the request's lists; "" when both are empty. */
static int san_text(const struct mb_pki_cert_request *req, struct mb_buf *out)
{
    int rc = 0;
    for (size_t i = 0; req->dns_names && req->dns_names[i] && rc == 0; i++)
        rc = mb_buf_printf(out, "%sDNS:%s", out->len ? "," : "", req->dns_names[i]);
    for (size_t i = 0; req->ip_addresses && req->ip_addresses[i] && rc == 0; i++)
        rc = mb_buf_printf(out, "%sIP:%s", out->len ? "," : "", req->ip_addresses[i]);
    return rc;
}

static int set_subject(X509 *cert, const struct mb_pki_cert_request *req, char *err, size_t errlen)
{
    X509_NAME *name = X509_get_subject_name(cert);
    if ((req->organization &&
         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                    (const unsigned char *)req->organization, -1, -1, 0) != 1) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)req->common_name, -1, -1, 0) != 1) {
        fail(err, errlen, "could not set the certificate subject \"%s\"", req->common_name);
        return -1;
    }
    return 0;
}

static int set_serial(X509 *cert, char *err, size_t errlen)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    if (!ok)
        fail(err, errlen, "could not make a certificate serial number");
    return ok ? 0 : -1;
}

X509 *mb_pki_issue_cert(const struct mb_pki_cert_request *req, EVP_PKEY *key, X509 *issuer_cert,
                        EVP_PKEY *issuer_key, char *err, size_t errlen)
{
    bool self_signed = req->kind == MB_PKI_CERT_CA;
    if (self_signed) {
        issuer_key = key;
    } else if (!issuer_cert || !issuer_key) {
        snprintf(err, errlen, "internal: a leaf certificate needs its CA");
        return NULL;
    }
    struct mb_buf san;
    mb_buf_init(&san, 4096);
    X509 *cert = X509_new();
    if (!cert || X509_set_version(cert, X509_VERSION_3) != 1 ||
        set_serial(cert, err, errlen) != 0 || set_subject(cert, req, err, errlen) != 0)
        goto fail;
    if (X509_set_issuer_name(cert, self_signed ? X509_get_subject_name(cert)
                                               : X509_get_subject_name(issuer_cert)) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), (long)req->days * 86400L) ||
        X509_set_pubkey(cert, key) != 1) {
        fail(err, errlen, "could not fill in the certificate \"%s\"", req->common_name);
        goto fail;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, self_signed ? cert : issuer_cert, cert, NULL, NULL, 0);
    if (add_ext(cert, &ctx, NID_subject_key_identifier, "hash", err, errlen) != 0 ||
        add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always", err, errlen) != 0)
        goto fail;
    switch (req->kind) {
    case MB_PKI_CERT_CA:
        if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err, errlen) !=
                0 ||
            add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err, errlen) != 0)
            goto fail;
        break;
    case MB_PKI_CERT_SERVER:
    case MB_PKI_CERT_CLIENT:
        if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE", err, errlen) != 0 ||
            add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature", err, errlen) != 0 ||
            add_ext(cert, &ctx, NID_ext_key_usage,
                    req->kind == MB_PKI_CERT_SERVER ? "serverAuth" : "clientAuth", err,
                    errlen) != 0)
            goto fail;
        break;
    }
    if (san_text(req, &san) != 0) {
        snprintf(err, errlen, "too many subject alternative names");
        goto fail;
    }
    if (san.len && add_ext(cert, &ctx, NID_subject_alt_name, san.data, err, errlen) != 0)
        goto fail;
    if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
        fail(err, errlen, "could not sign the certificate \"%s\"", req->common_name);
        goto fail;
    }
    mb_buf_dispose(&san);
    return cert;
fail:
    mb_buf_dispose(&san);
    X509_free(cert);
    return NULL;
}

char *mb_pki_cert_pem(X509 *cert, char *err, size_t errlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL;
    if (!bio || PEM_write_bio_X509(bio, cert) != 1)
        fail(err, errlen, "could not encode the certificate as PEM");
    else
        text = bio_text(bio, err, errlen);
    BIO_free(bio);
    return text;
}
