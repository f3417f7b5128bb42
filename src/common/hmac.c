/* HMAC-SHA256 with a reused digest context (contract in hmac.h). */
#include "common/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

static EVP_MD *sha256;
static EVP_MD_CTX *ctx;

static int digest(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[MB_HMAC_SHA256_LEN])
{
    unsigned int n = 0;
    return EVP_DigestInit_ex(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
                   (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
                   n == MB_HMAC_SHA256_LEN
               ? 0
               : -1;
}

static int ready(void)
{
    if (!sha256 && !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        return -1;
    if (!ctx && !(ctx = EVP_MD_CTX_new()))
        return -1;
    return 0;
}

int mb_sha256(const void *data, size_t len, uint8_t out[MB_HMAC_SHA256_LEN])
{
    if (ready() == 0 && digest(data, len, NULL, 0, out) == 0)
        return 0;
    memset(out, 0, MB_HMAC_SHA256_LEN);
    return -1;
}

int mb_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[MB_HMAC_SHA256_LEN])
{
    if (ready() != 0)
        goto fail;
    uint8_t k[64] = {0}, pad[64], inner[MB_HMAC_SHA256_LEN];
    if (key_len > sizeof k) {
        if (digest(key, key_len, NULL, 0, k) != 0)
            goto fail;
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    int rc = digest(pad, sizeof pad, data, len, inner);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    if (rc == 0)
        rc = digest(pad, sizeof pad, inner, sizeof inner, out);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    if (rc == 0)
        return 0;
fail:
    memset(out, 0, MB_HMAC_SHA256_LEN);
    return -1;
}
