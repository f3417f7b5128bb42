/* mb_hmac_sha256 against the RFC 4231 test vectors (short key, key longer than a block) and
 * against OpenSSL's one-shot HMAC() for many lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/hmac.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_rfc4231(void **state)
{
    (void)state;
    uint8_t key[131], out[32];
    char text[65];
    memset(key, 0x0b, 20);
    assert_int_equal(mb_hmac_sha256(key, 20, "Hi There", 8, out), 0);
    hex(out, 32, text);
    assert_string_equal(text, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    memset(key, 0xaa, sizeof key);
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_int_equal(mb_hmac_sha256(key, sizeof key, msg, strlen(msg), out), 0);
    hex(out, 32, text);
    assert_string_equal(text, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_matches_openssl(void **state)
{
    (void)state;
    uint8_t key[100], data[300], a[32], b[EVP_MAX_MD_SIZE];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 5);
    for (size_t klen = 0; klen <= sizeof key; klen += 9) {
        for (size_t dlen = 0; dlen <= sizeof data; dlen += 37) {
            unsigned int n = 0;
            assert_int_equal(mb_hmac_sha256(key, klen, data, dlen, a), 0);
            assert_non_null(HMAC(EVP_sha256(), key, (int)klen, data, dlen, b, &n));
            assert_int_equal(n, 32);
            assert_memory_equal(a, b, 32);
        }
    }
}

static void test_sha256(void **state)
{
    (void)state;
    uint8_t out[32];
    char text[65];
    assert_int_equal(mb_sha256("abc", 3, out), 0);
    hex(out, 32, text);
    assert_string_equal(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(mb_sha256("", 0, out), 0);
    hex(out, 32, text);
    assert_string_equal(text, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_matches_openssl),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
