/* Unit tests of mb_tool_validate_args: every supported keyword, the wording of messages
 * (JSON path + rule), the ECMA -> ERE pattern translation and the depth/work bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "openapi/catalog.h"
#include "openapi/catalog_internal.h"

static struct mb_catalog *cat_pet, *cat_31;

static char *fixture(const char *name)
{
    static char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/%s", src ? src : ".", name);
    return path;
}

static int setup(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    cat_pet = mb_catalog_create_from_spec(fixture("petstore.yaml"), NULL, NULL, true, 0, &d);
    cat_31 = mb_catalog_create_from_spec(fixture("types31.json"), NULL, NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    mb_diags_dispose(&d);
    return cat_pet && cat_31 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mb_catalog_destroy(cat_pet);
    mb_catalog_destroy(cat_31);
    return 0;
}

/* Validates args (JSON text) against a tool; returns the message or "" when valid. */
static const char *check(const struct mb_catalog *c, const char *tool, const char *args)
{
    static char msg[512];
    const struct mb_tool *t = mb_catalog_find(c, tool);
    assert_non_null(t);
    json_t *a = args ? json_loads(args, JSON_DECODE_ANY, NULL) : NULL;
    if (args)
        assert_non_null(a);
    msg[0] = '\0';
    int rc = mb_tool_validate_args(t, a, msg, sizeof msg);
    json_decref(a);
    if (rc == 0)
        assert_string_equal(msg, "");
    else
        assert_true(msg[0] != '\0');
    return rc == 0 ? "" : msg;
}

/* Same against a hand-built tool with the given input schema (no compiled data). */
static const char *check_schema(const char *schema, const char *args)
{
    static char msg[512];
    struct mb_tool t;
    memset(&t, 0, sizeof t);
    t.input_schema = json_loads(schema, 0, NULL);
    assert_non_null(t.input_schema);
    json_t *a = json_loads(args, JSON_DECODE_ANY, NULL);
    assert_non_null(a);
    msg[0] = '\0';
    int rc = mb_tool_validate_args(&t, a, msg, sizeof msg);
    json_decref(a);
    json_decref(t.input_schema);
    return rc == 0 ? "" : msg;
}

static void test_basic(void **state)
{
    (void)state;
    assert_string_equal(check(cat_pet, "listPets", NULL), "");
    assert_string_equal(check(cat_pet, "listPets", "{}"), "");
    assert_string_equal(check(cat_pet, "listPets", "{\"limit\":100,\"status\":\"sold\",\"tags\":[\"a\"]}"), "");
    assert_string_equal(check(cat_pet, "listPets", "[]"), "arguments: must be an object, got array");
    assert_string_equal(check(cat_pet, "listPets", "{\"limit\":500}"),
                        "argument 'limit': 500 is greater than the maximum 100");
    assert_string_equal(check(cat_pet, "listPets", "{\"limit\":0}"), "argument 'limit': 0 is less than the minimum 1");
    assert_string_equal(check(cat_pet, "listPets", "{\"limit\":2.5}"), "argument 'limit': expected integer, got number");
    assert_string_equal(check(cat_pet, "listPets", "{\"limit\":5.0}"), ""); /* integral real is an integer */
    assert_string_equal(check(cat_pet, "listPets", "{\"limit\":\"5\"}"), "argument 'limit': expected integer, got string");
    assert_string_equal(check(cat_pet, "listPets", "{\"status\":\"lost\"}"),
                        "argument 'status': value is not one of [\"available\",\"pending\",\"sold\"]");
    assert_string_equal(check(cat_pet, "listPets", "{\"tags\":[\"a\",1]}"), "argument 'tags[1]': expected string, got integer");
    assert_string_equal(check(cat_pet, "listPets", "{\"bogus\":1}"),
                        "argument 'bogus': unexpected property (not in the schema; additionalProperties is false)");
}

static void test_body(void **state)
{
    (void)state;
    assert_string_equal(check(cat_pet, "createPet", "{}"), "argument 'body': required property missing");
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{}}"), "argument 'body.name': required property missing");
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{\"name\":\"Rex\",\"tag\":null,\"status\":null}}"), "");
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{\"name\":\"\"}}"),
                        "argument 'body.name': length 0 is shorter than minLength 1");
    /* code points, not bytes: 5 x "é" is 10 bytes but 5 characters */
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}}"), "");
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}}"),
                        "argument 'body.name': length 6 is longer than maxLength 5");
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{\"name\":\"a\",\"tag\":3}}"),
                        "argument 'body.tag': expected string or null, got integer");
    assert_string_equal(check(cat_pet, "createPet", "{\"body\":{\"name\":\"a\",\"status\":\"x\"}}"),
                        "argument 'body.status': value is not one of [\"available\",\"pending\",\"sold\",null]");
}

static void test_patterns_and_bounds(void **state)
{
    (void)state;
    assert_string_equal(check(cat_pet, "search_pets_by_filter", "{\"q\":\"abc12\"}"), "");
    assert_string_equal(check(cat_pet, "search_pets_by_filter", "{\"q\":\"abc1x\"}"),
                        "argument 'q': does not match the pattern '^[a-z]+\\d*$'");
    assert_string_equal(check(cat_pet, "search_pets_by_filter", "{\"q\":\"a\",\"score\":10}"),
                        "argument 'score': 10 is not less than the exclusive maximum 10");
    assert_string_equal(check(cat_pet, "search_pets_by_filter", "{\"q\":\"a\",\"score\":9.5}"), "");
    assert_string_equal(check(cat_pet, "search_pets_by_filter", "{\"q\":\"a\",\"filter\":{\"age\":\"x\"}}"),
                        "argument 'filter.age': expected integer, got string");
    /* 3.0 boolean form on a hand-built schema */
    assert_string_equal(check_schema("{\"properties\":{\"x\":{\"minimum\":0,\"exclusiveMinimum\":true}}}", "{\"x\":0}"),
                        "argument 'x': 0 is not greater than the exclusive minimum 0");
    assert_string_equal(check_schema("{\"properties\":{\"x\":{\"minimum\":0,\"exclusiveMinimum\":false}}}", "{\"x\":0}"), "");
    /* an uncompilable ECMA pattern is skipped, not an error */
    assert_string_equal(check_schema("{\"properties\":{\"x\":{\"pattern\":\"^(?=a)b\"}}}", "{\"x\":\"zzz\"}"), "");
    /* hand-built tool: pattern compiled per call */
    assert_string_equal(check_schema("{\"properties\":{\"x\":{\"pattern\":\"^\\\\w+-[A-Z]{2}$\"}}}", "{\"x\":\"ab_1-FR\"}"), "");
    assert_string_equal(check_schema("{\"properties\":{\"x\":{\"pattern\":\"^\\\\w+-[A-Z]{2}$\"}}}", "{\"x\":\"ab-F\"}"),
                        "argument 'x': does not match the pattern '^\\w+-[A-Z]{2}$'");
    assert_string_equal(check_schema("{\"properties\":{\"n\":{\"multipleOf\":0.5}}}", "{\"n\":1.5}"), "");
    assert_string_equal(check_schema("{\"properties\":{\"n\":{\"multipleOf\":0.5}}}", "{\"n\":1.2}"),
                        "argument 'n': 1.2 is not a multiple of 0.5");
}

static void test_31_keywords(void **state)
{
    (void)state;
    const char *ok = "{\"body\":{\"label\":\"abc\",\"point\":[1,2.5],\"tags\":[\"a\",\"b\"],\"kind\":\"a\",\"extra\":true,"
                     "\"meta\":{\"v\":3}}}";
    assert_string_equal(check(cat_31, "makeThing", ok), "");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":null,\"point\":[1,2]}}"), "");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"abcd\",\"point\":[1,2]}}"),
                        "argument 'body.label': length 4 is longer than maxLength 3");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"point\":[1]}}"),
                        "argument 'body.label': required property missing");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1]}}"),
                        "argument 'body.point': has 1 items, fewer than minItems 2");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,\"x\"]}}"),
                        "argument 'body.point[1]': expected number, got string");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"tags\":[\"a\",\"a\"]}}"),
                        "argument 'body.tags': items 0 and 1 are equal (uniqueItems)");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"kind\":5}}"),
                        "argument 'body.kind': matches none of the oneOf alternatives (first: argument 'body.kind': "
                        "expected string, got integer)");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"kind\":12}}"), "");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"extra\":4}}"),
                        "argument 'body.extra': matches none of the anyOf alternatives (first: argument 'body.extra': "
                        "expected boolean, got integer)");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"meta\":{\"v\":0}}}"),
                        "argument 'body.meta.v': 0 is less than the minimum 1");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"meta\":{\"w\":\"s\"}}}"),
                        "argument 'body.meta.w': expected integer, got string");
    assert_string_equal(check(cat_31, "makeThing", "{\"body\":{\"label\":\"a\",\"point\":[1,2],\"zz\":1}}"),
                        "argument 'body.zz': unexpected property (not in the schema; additionalProperties is false)");
    assert_string_equal(check(cat_31, "listThings", "{\"size\":null,\"mode\":\"fast\"}"), "");
    assert_string_equal(check(cat_31, "listThings", "{\"size\":0}"),
                        "argument 'size': 0 is not greater than the exclusive minimum 0");
    assert_string_equal(check(cat_31, "listThings", "{\"mode\":\"slow\"}"), "argument 'mode': must be \"fast\" (const)");
    assert_string_equal(check_schema("{\"properties\":{\"o\":{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}}}",
                                     "{\"o\":1}"),
                        "argument 'o': matches 2 of the oneOf alternatives (exactly one allowed)");
    assert_string_equal(check_schema("{\"properties\":{\"o\":{\"not\":{\"type\":\"string\"}}}}", "{\"o\":\"s\"}"),
                        "argument 'o': matches a schema it must not match (not)");
    assert_string_equal(check_schema("{\"properties\":{\"o\":false}}", "{\"o\":1}"), "argument 'o': no value is allowed here");
    assert_string_equal(check_schema("{\"properties\":{\"e\":{\"enum\":[1,\"a\"]}}}", "{\"e\":1.0}"), "");
}

static void test_ere_translation(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(mb_oa_ecma_to_ere("^\\d{3}-\\w+$", out, sizeof out), 0);
    assert_string_equal(out, "^[0-9]{3}-[A-Za-z0-9_]+$");
    assert_int_equal(mb_oa_ecma_to_ere("[\\d\\-.]+?", out, sizeof out), 0);
    assert_string_equal(out, "[0-9.-]+");
    assert_int_equal(mb_oa_ecma_to_ere("a\\.b\\/c", out, sizeof out), 0);
    assert_string_equal(out, "a\\.b/c");
    assert_int_equal(mb_oa_ecma_to_ere("x{", out, sizeof out), 0);
    assert_string_equal(out, "x\\{");
    assert_int_equal(mb_oa_ecma_to_ere("[\\]a]", out, sizeof out), 0);
    assert_string_equal(out, "[]a]");
    /* Non-capturing groups become plain groups; lookarounds and named groups stay refused. */
    assert_int_equal(mb_oa_ecma_to_ere("^(?:ab|cd)+$", out, sizeof out), 0);
    assert_string_equal(out, "^(ab|cd)+$");
    assert_int_equal(mb_oa_ecma_to_ere("^a(?=b)", out, sizeof out), -1);
    assert_int_equal(mb_oa_ecma_to_ere("(?<n>a)", out, sizeof out), -1);
    assert_int_equal(mb_oa_ecma_to_ere("(?:a)", out, sizeof out), 0);
    assert_string_equal(out, "(a)");
    assert_int_equal(mb_oa_ecma_to_ere("(a)\\1", out, sizeof out), -1);
    assert_int_equal(mb_oa_ecma_to_ere("[\\D]", out, sizeof out), -1);
    assert_int_equal(mb_oa_ecma_to_ere("aaaaaaaaaa", out, 4), -1);
}

static void test_bounds(void **state)
{
    (void)state;
    /* deeply nested arguments against a self-similar schema: bounded, no crash */
    char schema[64 * 1024], args[64 * 1024];
    size_t n = 0, m = 0;
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(schema + n, sizeof schema - n, "{\"properties\":{\"a\":");
        m += (size_t)snprintf(args + m, sizeof args - m, "{\"a\":");
    }
    n += (size_t)snprintf(schema + n, sizeof schema - n, "{}");
    m += (size_t)snprintf(args + m, sizeof args - m, "1");
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(schema + n, sizeof schema - n, "}}");
        m += (size_t)snprintf(args + m, sizeof args - m, "}");
    }
    const char *msg = check_schema(schema, args);
    assert_non_null(strstr(msg, "nested too deeply"));
    /* exponential anyOf nesting: the work budget stops it */
    n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(schema + n, sizeof schema - n, "{\"anyOf\":[{\"type\":\"string\"},");
    n += (size_t)snprintf(schema + n, sizeof schema - n, "{\"type\":\"string\"}");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(schema + n, sizeof schema - n, ",{\"type\":\"boolean\"}]}");
    char wrapped[70 * 1024];
    snprintf(wrapped, sizeof wrapped, "{\"properties\":{\"x\":%s}}", schema);
    msg = check_schema(wrapped, "{\"x\":1}");
    assert_true(msg[0] != '\0');
}

/* Validates {"v": value} against {"properties": {"v": schema}} on a hand-built tool; returns
 * the message or "" when valid. */
static const char *check_prop(const char *schema, const char *value)
{
    static char msg[512];
    char text[1024];
    snprintf(text, sizeof text, "{\"type\":\"object\",\"properties\":{\"v\":%s}}", schema);
    json_t *is = json_loads(text, 0, NULL);
    assert_non_null(is);
    snprintf(text, sizeof text, "{\"v\":%s}", value);
    json_t *a = json_loads(text, 0, NULL);
    assert_non_null(a);
    struct mb_tool t = {.name = "t", .method = "GET", .path_template = "/", .input_schema = is};
    msg[0] = '\0';
    int rc = mb_tool_validate_args(&t, a, msg, sizeof msg);
    assert_int_equal(rc == 0, msg[0] == '\0');
    json_decref(a);
    json_decref(is);
    return msg;
}

static void test_formats(void **state)
{
    (void)state;
    static const struct { const char *fmt, *good, *bad; } cases[] = {
        {"date", "\"2024-02-29\"", "\"2023-02-29\""},
        {"date", "\"1999-12-31\"", "\"1999-13-01\""},
        {"date-time", "\"2024-01-02T03:04:05Z\"", "\"2024-01-02\""},
        {"date-time", "\"2024-01-02t03:04:05.123+02:00\"", "\"2024-01-02T25:04:05Z\""},
        {"time", "\"23:59:60Z\"", "\"23:59\""},
        {"email", "\"a.b+c@example.com\"", "\"a@b@example.com\""},
        {"email", "\"x@localhost\"", "\"@example.com\""},
        {"uuid", "\"123e4567-E89B-12d3-a456-426614174000\"", "\"123e4567e89b12d3a456426614174000\""},
        {"uri", "\"https://example.com/a?b=c#d\"", "\"/relative/path\""},
        {"uri", "\"urn:isbn:0451450523\"", "\"http://exa mple.com\""},
        {"ipv4", "\"192.168.0.1\"", "\"192.168.0.256\""},
        {"ipv4", "\"0.0.0.0\"", "\"01.2.3.4\""},
        {"ipv6", "\"2001:db8::1\"", "\"2001:db8:::1\""},
        {"ipv6", "\"::ffff:192.0.2.1\"", "\"1.2.3.4\""},
        {"hostname", "\"api-1.example.com\"", "\"-bad.example.com\""},
        {"hostname", "\"localhost\"", "\"a..b\""},
        {"byte", "\"SGVsbG8=\"", "\"SGVsbG8\""},
        {"byte", "\"\"", "\"S\""},
        {"int32", "2147483647", "2147483648"},
        {"int32", "-2147483648", "-2147483649"},
        {"int64", "9223372036854775807", "1e19"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char schema[128];
        snprintf(schema, sizeof schema, "{\"format\":\"%s\"}", cases[i].fmt);
        const char *m = check_prop(schema, cases[i].good);
        if (*m)
            fail_msg("%s: %s rejected: %s", cases[i].fmt, cases[i].good, m);
        m = check_prop(schema, cases[i].bad);
        if (!*m)
            fail_msg("%s: %s accepted", cases[i].fmt, cases[i].bad);
        char want[128];
        snprintf(want, sizeof want, "(format)");
        assert_non_null(strstr(m, want));
        assert_non_null(strstr(m, "argument 'v': "));
    }
    assert_string_equal(check_prop("{\"format\":\"date\"}", "\"2023-02-29\""),
                        "argument 'v': is not a valid date (format)");
    assert_string_equal(check_prop("{\"format\":\"int32\"}", "2147483648"),
                        "argument 'v': 2147483648 is out of the int32 range (format)");
    /* unknown formats are annotations */
    assert_string_equal(check_prop("{\"format\":\"password\"}", "\"x\""), "");
    /* contentEncoding base64 */
    assert_string_equal(check_prop("{\"contentEncoding\":\"base64\"}", "\"AAEC/w==\""), "");
    assert_string_equal(check_prop("{\"contentEncoding\":\"base64\"}", "\"not base64!\""),
                        "argument 'v': is not valid base64 (contentEncoding)");
    /* lengths count code points, not bytes */
    assert_string_equal(check_prop("{\"maxLength\":2}", "\"\u00e9\u00e9\""), "");
    assert_string_equal(check_prop("{\"minLength\":3}", "\"\u00e9\u00e9\""),
                        "argument 'v': length 2 is shorter than minLength 3");
}

static void expect_unicode(const char *src, int rc, const char *want)
{
    char *out = NULL;
    assert_int_equal(mb_oa_pattern_unicode(src, &out), rc);
    if (rc == 1)
        assert_string_equal(out, want);
    else
        assert_null(out);
    free(out);
}

static void test_unicode_patterns(void **state)
{
    (void)state;
    /* already valid in Unicode mode */
    expect_unicode("^[a-z]{2,3}$", 0, NULL);
    expect_unicode("^(?:a|b)+?\\d{4,}\\.(?<y>x)\\k<y>\\u00e9\\u{1F600}\\p{L}[\\d\\-z]$", 0, NULL);
    expect_unicode("(a)\\1", 0, NULL);
    /* lone braces and brackets become escapes; quantifier braces stay */
    expect_unicode("^(?:{[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}}|[0-9a-fA-F]{32})$", 1,
                   "^(?:\\{[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}\\}|[0-9a-fA-F]{32})$");
    expect_unicode("{x}", 1, "\\{x\\}");
    expect_unicode("a{,2}]", 1, "a\\{,2\\}\\]");
    expect_unicode("[{}]", 0, NULL); /* literal inside a class in both modes */
    /* identity escapes of non-syntax characters, incomplete \x/\u */
    expect_unicode("\\-\\_\\@\\a", 1, "-_@a");
    expect_unicode("\\x4\\u12", 1, "x4u12");
    expect_unicode("\\/", 0, NULL);
    /* '-' next to a class escape is a literal '-' */
    expect_unicode("[\\w-.]", 1, "[\\w\\-.]");
    expect_unicode("[a-\\d]", 1, "[a\\-\\d]");
    /* no Unicode-mode equivalent */
    expect_unicode("(?i)abc", -1, NULL);
    expect_unicode("(ab", -1, NULL);
    expect_unicode("ab)", -1, NULL);
    expect_unicode("[ab", -1, NULL);
    expect_unicode("\\1(a)\\2", -1, NULL);
    expect_unicode("\\01", -1, NULL);
    expect_unicode("(?=a)*", -1, NULL);
    expect_unicode("*a", -1, NULL);
    expect_unicode("a**", -1, NULL);
    expect_unicode("\\c", -1, NULL);
    expect_unicode("\\", -1, NULL);

    /* in a built catalog */
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_spec(fixture("patterns.yaml"), NULL, NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    mb_diags_dispose(&d);
    assert_non_null(c);
    const struct mb_tool *t = mb_catalog_find(c, "strings");
    assert_non_null(t);
    const json_t *props = json_object_get(t->input_schema, "properties");
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "guid"), "pattern")),
                        "^(?:\\{[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}\\}|[0-9a-fA-F]{32})$");
    const json_t *flagged = json_object_get(props, "flagged");
    assert_null(json_object_get(flagged, "pattern"));
    assert_non_null(strstr(json_string_value(json_object_get(flagged, "description")), "(?i)^abc$"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "plain"), "pattern")),
                        "^[a-z]{2,3}$");
    assert_non_null(json_object_get(json_object_get(t->output_schema, "patternProperties"), "^x-\\{id\\}$"));
    /* escaped braces still translate to ERE for the argument validator */
    char ere[128];
    assert_int_equal(mb_oa_ecma_to_ere("^x\\{[0-9]{2}\\}$", ere, sizeof ere), 0);
    assert_string_equal(ere, "^x\\{[0-9]{2}\\}$");
    mb_catalog_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_patterns_and_bounds),
        cmocka_unit_test(test_31_keywords),
        cmocka_unit_test(test_ere_translation),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_unicode_patterns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
