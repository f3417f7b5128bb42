/* Unit tests for mcp/jsonrpc.c: classification of every message shape and byte-exact output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "mcp/jsonrpc.h"

static enum mb_jsonrpc_kind classify_text(const char *text, char *why, size_t whylen)
{
    json_error_t err;
    json_t *msg = json_loads(text, JSON_DECODE_ANY, &err);
    assert_non_null(msg);
    enum mb_jsonrpc_kind kind = mb_jsonrpc_classify(msg, why, whylen);
    json_decref(msg);
    return kind;
}

static void test_classify_valid(void **state)
{
    char why[200];
    (void)state;
    assert_int_equal(classify_text("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", why, sizeof why), MB_JSONRPC_REQUEST);
    assert_int_equal(classify_text("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":{}}", why, sizeof why), MB_JSONRPC_REQUEST);
    assert_int_equal(classify_text("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", why, sizeof why), MB_JSONRPC_NOTIFICATION);
    assert_int_equal(classify_text("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", why, sizeof why), MB_JSONRPC_RESPONSE);
    assert_int_equal(classify_text("{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1,\"message\":\"m\"}}", why, sizeof why), MB_JSONRPC_RESPONSE);
}

static void test_classify_invalid(void **state)
{
    static const struct { const char *text; const char *why_part; } cases[] = {
        {"[1]", "object"},
        {"{\"id\":1,\"method\":\"ping\"}", "jsonrpc"},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", "jsonrpc"},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", "null"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", "integer"},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", "integer"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", "method"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", "method"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}", "params"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}", "response"},
        {"{\"jsonrpc\":\"2.0\"}", "method"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[200] = "";
        assert_int_equal(classify_text(cases[i].text, why, sizeof why), MB_JSONRPC_INVALID);
        if (!strstr(why, cases[i].why_part))
            fail_msg("case %zu: reason '%s' does not mention '%s'", i, why, cases[i].why_part);
    }
}

static void test_write_result_and_error(void **state)
{
    (void)state;
    struct mb_buf b;
    mb_buf_init(&b, 4096);
    json_t *id = json_string("a\"b");
    json_t *result = json_pack("{s:i}", "x", 1);
    assert_int_equal(mb_jsonrpc_write_result(&b, id, result), 0);
    assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"x\":1}}");
    mb_buf_reset(&b);
    json_t *num = json_integer(-42);
    assert_int_equal(mb_jsonrpc_write_result_raw(&b, num, "{\"tools\":[]}", 12), 0);
    assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":-42,\"result\":{\"tools\":[]}}");
    mb_buf_reset(&b);
    assert_int_equal(mb_jsonrpc_write_error(&b, NULL, MB_JSONRPC_PARSE_ERROR, "bad\nline", NULL), 0);
    assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad\\nline\"}}");
    /* The output must parse back to the same id. */
    json_error_t err;
    mb_buf_reset(&b);
    assert_int_equal(mb_jsonrpc_write_error(&b, id, -32602, "m", result), 0);
    json_t *back = json_loads(b.data, 0, &err);
    assert_non_null(back);
    assert_true(json_equal(json_object_get(back, "id"), id));
    assert_true(json_equal(json_object_get(json_object_get(back, "error"), "data"), result));
    json_decref(back);
    json_decref(id);
    json_decref(num);
    json_decref(result);
    mb_buf_dispose(&b);
}

static void test_write_respects_cap(void **state)
{
    (void)state;
    struct mb_buf b;
    mb_buf_init(&b, 30);
    json_t *id = json_integer(1);
    assert_int_equal(mb_jsonrpc_write_result_raw(&b, id, "{\"a\":\"0123456789012345678901234567890\"}", 38), -E2BIG);
    assert_int_equal(b.len, 0); /* nothing half-written */
    json_decref(id);
    mb_buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_valid),
        cmocka_unit_test(test_classify_invalid),
        cmocka_unit_test(test_write_result_and_error),
        cmocka_unit_test(test_write_respects_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
