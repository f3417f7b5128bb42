/* Implementation of base64.h on OpenSSL's EVP_EncodeBlock, fed in chunks so inputs beyond
 * INT_MAX bytes are fine. */
#include "common/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>

char *mb_base64_encode(const void *data, size_t len)
{
    const size_t chunk = 3u << 20; /* a multiple of 3, well below INT_MAX */
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    const unsigned char *in = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, in + i, (int)n);
    }
    out[o] = '\0';
    return out;
}
