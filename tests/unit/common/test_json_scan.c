/* Unit tests for common/json_scan.c: explicit valid/invalid cases, every prefix of valid
 * documents (all must be rejected), and agreement with jansson on a generated corpus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_scan.h"

static enum mb_json_top v(const char *s)
{
    return mb_json_validate(s, strlen(s), MB_JSON_MAX_DEPTH);
}

static void test_valid(void **state)
{
    (void)state;
    assert_int_equal(v("{}"), MB_JSON_TOP_OBJECT);
    assert_int_equal(v(" {\"a\":[1,2.5e-3,-0,true,false,null,\"x\\u00e9\\n\"],\"b\":{}} \n"), MB_JSON_TOP_OBJECT);
    assert_int_equal(v("[]"), MB_JSON_TOP_ARRAY);
    assert_int_equal(v("[[[]],{}]"), MB_JSON_TOP_ARRAY);
    assert_int_equal(v("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""), MB_JSON_TOP_SCALAR);
    assert_int_equal(v("12345678901234567890123"), MB_JSON_TOP_SCALAR);
    assert_int_equal(v("null"), MB_JSON_TOP_SCALAR);
}

static void test_invalid(void **state)
{
    static const char *const cases[] = {
        "", " ", "{", "}", "[", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",
        "[1 2]", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc", "\"a\\x\"",
        "\"\\u12g4\"", "\"tab\there\"", "{} {}", "[] x", "\"\xc3\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "NaN", "Infinity", "{\"a\":1]", "[1}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (v(cases[i]) != MB_JSON_TOP_INVALID)
            fail_msg("accepted invalid JSON #%zu: %s", i, cases[i]);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char doc[2 * 600 + 1];
    for (int depth = 510; depth <= 514; depth++) {
        memset(doc, '[', (size_t)depth);
        memset(doc + depth, ']', (size_t)depth);
        enum mb_json_top top = mb_json_validate(doc, 2 * (size_t)depth, MB_JSON_MAX_DEPTH);
        assert_int_equal(top, depth <= MB_JSON_MAX_DEPTH ? MB_JSON_TOP_ARRAY : MB_JSON_TOP_INVALID);
    }
    assert_int_equal(mb_json_validate("[[1]]", 5, 1), MB_JSON_TOP_INVALID);
    assert_int_equal(mb_json_validate("[[1]]", 5, 2), MB_JSON_TOP_ARRAY);
}

static void test_prefixes_rejected(void **state)
{
    (void)state;
    const char *doc = "{\"items\":[{\"id\":1,\"name\":\"x\\\"y\",\"tags\":[\"a\",\"b\"],\"price\":12.5e2},null,true]}";
    size_t len = strlen(doc);
    assert_int_equal(mb_json_validate(doc, len, 64), MB_JSON_TOP_OBJECT);
    for (size_t n = 0; n < len; n++)
        if (mb_json_validate(doc, n, 64) != MB_JSON_TOP_INVALID)
            fail_msg("accepted the prefix of %zu bytes", n);
}

/* Random documents built from JSON fragments, valid or broken; jansson decides validity. */
static void test_agrees_with_jansson(void **state)
{
    static const char *const frags[] = {"{", "}", "[", "]", ",", ":", "\"k\"", "1", "-2.5e3", "true",
                                        "null", " ", "\"\\u00e9\"", "\"\xc3\xa9\"", "0", "x"};
    (void)state;
    srand(12345);
    unsigned agree = 0;
    for (int round = 0; round < 200000; round++) {
        char doc[256];
        size_t len = 0;
        int parts = 1 + rand() % 12;
        for (int i = 0; i < parts; i++) {
            const char *f = frags[rand() % (int)(sizeof frags / sizeof frags[0])];
            size_t fl = strlen(f);
            if (len + fl >= sizeof doc)
                break;
            memcpy(doc + len, f, fl);
            len += fl;
        }
        json_error_t err;
        json_t *j = json_loadb(doc, len, JSON_DECODE_ANY, &err);
        bool ours = mb_json_validate(doc, len, MB_JSON_MAX_DEPTH) != MB_JSON_TOP_INVALID;
        /* RFC 8259 has no range limit; jansson refuses numbers it cannot represent and stops
         * there, so it is no oracle for such documents: they are skipped. */
        bool range = !j && (strstr(err.text, "overflow") || strstr(err.text, "too big"));
        if (!range && ours != (j != NULL))
            fail_msg("disagree with jansson on '%.*s': ours=%d jansson=%d (%s)", (int)len, doc, ours, j != NULL, err.text);
        json_decref(j);
        agree++;
    }
    assert_int_equal(agree, 200000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_prefixes_rejected),
        cmocka_unit_test(test_agrees_with_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
