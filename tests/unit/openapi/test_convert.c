/* Unit tests of the converter's deeper mapping: operation- and path-level servers (and the
 * request using them), schema rewriting (example -> examples, discriminator hint, x-
 * extensions dropped), name stability when the spec is reordered, argument formats, and
 * $refs into other files (loaded once, confined to the spec's directory). */
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

static const char *fixture(const char *name)
{
    static char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/%s", src ? src : ".", name);
    return path;
}

static struct mb_catalog *load(const char *name, const char *base_url, struct mb_diags *d)
{
    return mb_catalog_create_from_spec(fixture(name), base_url, NULL, true, 0, d);
}

static char *url_of(const struct mb_catalog *c, const char *tool)
{
    const struct mb_tool *t = mb_catalog_find(c, tool);
    assert_non_null(t);
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(mb_tool_build_request(t, c->base_url, NULL, &r, msg, sizeof msg), 0);
    char *u = strdup(r.url);
    mb_built_request_dispose(&r);
    return u;
}

static void test_servers(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("servers.yaml", NULL, &d);
    assert_non_null(c);
    assert_string_equal(c->base_url, "https://api.example.com:8443/v1");
    static const struct { const char *tool, *url; } want[] = {
        {"onRoot", "https://api.example.com:8443/v1/root"},
        {"onPath", "https://path.example.com/p/pathlevel"},
        {"onOperation", "https://eu.op.example.com/pathlevel"},
        {"onRelative", "https://api.example.com:8443/v2/relative"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *u = url_of(c, want[i].tool);
        assert_string_equal(u, want[i].url);
        free(u);
    }
    assert_null(mb_catalog_find(c, "onRoot")->base_url);
    mb_catalog_destroy(c);

    /* the configuration's base_url wins over every server */
    c = load("servers.yaml", "http://override/x/", &d);
    assert_non_null(c);
    char *u = url_of(c, "onOperation");
    assert_string_equal(u, "http://override/x/pathlevel");
    free(u);
    mb_catalog_destroy(c);

    /* a relative operation server that is not origin-relative: a clear error */
    static const char bad[] = "openapi: 3.0.0\ninfo: {title: r, version: '1'}\nservers: [{url: 'https://h'}]\n"
                              "paths:\n  /a:\n    get:\n      servers: [{url: 'v2'}]\n      responses: {}\n";
    c = mb_catalog_create_from_buffer("bad.yaml", bad, sizeof bad - 1, NULL, NULL, true, 0, &d);
    assert_null(c);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 7);
    assert_string_equal(d.items[0].message, "server url 'v2' is relative; set api.openapi.base_url");
    mb_diags_dispose(&d);
}

static void test_schema_rewrites(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("servers.yaml", NULL, &d);
    assert_non_null(c);
    struct mb_oa_spec s;
    struct mb_doc *doc = mb_doc_load_file(fixture("servers.yaml"), MB_OA_MAX_SPEC_BYTES, &d);
    assert_non_null(doc);
    assert_int_equal(mb_oa_spec_init(&s, doc, &d), 0);
    json_t *ref = json_pack("{s:s}", "$ref", "#/components/schemas/Pet");
    json_t *pet = mb_oa_schema_resolve(&s, ref, "", MB_OA_INPUT);
    assert_non_null(pet);
    /* oneOf kept, discriminator dropped and turned into a hint */
    assert_int_equal(json_array_size(json_object_get(pet, "oneOf")), 2);
    assert_null(json_object_get(pet, "discriminator"));
    assert_string_equal(json_string_value(json_object_get(pet, "description")),
                        "The property 'petType' tells which alternative applies.");
    const json_t *cat = json_array_get(json_object_get(pet, "oneOf"), 0);
    const json_t *lives = json_object_get(json_object_get(cat, "properties"), "lives");
    assert_null(json_object_get(lives, "example"));
    assert_int_equal(json_integer_value(json_array_get(json_object_get(lives, "examples"), 0)), 9);
    const json_t *dog = json_array_get(json_object_get(pet, "oneOf"), 1);
    assert_null(json_object_get(dog, "x-vendor"));
    /* a property *named* x-internal is data, not an extension: kept */
    assert_non_null(json_object_get(json_object_get(dog, "properties"), "x-internal"));
    /* resolving twice gives equal, independent top levels (the cache shares the insides) */
    json_t *again = mb_oa_schema_resolve(&s, ref, "", MB_OA_INPUT);
    assert_true(json_equal(pet, again));
    json_object_set_new(again, "title", json_string("changed"));
    assert_null(json_object_get(pet, "title"));
    json_decref(again);
    json_decref(pet);
    json_decref(ref);
    mb_oa_spec_cache_clear(&s);
    mb_doc_destroy(doc);
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

/* Builds the tools of a spec text with a given name cap; returns a JSON object name -> "METHOD path". */
static json_t *names_of(const char *text, size_t max)
{
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_doc *doc = mb_doc_load_buffer("n.json", text, strlen(text), MB_DOC_JSON, &d);
    assert_non_null(doc);
    struct mb_oa_spec s;
    assert_int_equal(mb_oa_spec_init(&s, doc, &d), 0);
    struct mb_oa_routes r;
    assert_int_equal(mb_oa_routes_init(&r, NULL, true, "t", &d), 0);
    r.name_max = max;
    struct mb_catalog cat;
    memset(&cat, 0, sizeof cat);
    assert_int_equal(mb_oa_build_tools(&cat, &s, &r), 0);
    json_t *out = json_object();
    for (size_t i = 0; i < cat.tool_count; i++) {
        char v[256];
        snprintf(v, sizeof v, "%s %s", cat.tools[i].method, cat.tools[i].path_template);
        assert_true(strlen(cat.tools[i].name) <= max);
        json_object_set_new(out, cat.tools[i].name, json_string(v));
        mb_oa_tool_dispose(&cat.tools[i]);
    }
    free(cat.tools);
    mb_oa_routes_dispose(&r);
    mb_doc_destroy(doc);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
    return out;
}

static void test_names_stable_when_reordered(void **state)
{
    (void)state;
    /* operations with clashing ids, long ids, missing ids, in several orders */
    static const char *const ops[] = {
        "\"/a\":{\"get\":{\"operationId\":\"dup\"},\"post\":{\"operationId\":\"dup\"}}",
        "\"/b\":{\"get\":{\"operationId\":\"dup\"}}",
        "\"/c/{id}\":{\"get\":{},\"delete\":{}}",
        "\"/d\":{\"get\":{\"operationId\":\"anOperationIdThatIsCertainlyLongerThanTwentyFourCharacters_x\"}}",
        "\"/e\":{\"get\":{\"operationId\":\"anOperationIdThatIsCertainlyLongerThanTwentyFourCharacters_y\"}}",
        "\"/f\":{\"get\":{\"operationId\":\"get_c_id\"}}",
    };
    static const int orders[][6] = {{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {2, 0, 5, 1, 4, 3}, {3, 5, 1, 0, 2, 4}};
    json_t *first[2] = {NULL, NULL};
    static const size_t caps[2] = {64, 24};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        char text[4096];
        size_t n = (size_t)snprintf(text, sizeof text,
                                    "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"t\",\"version\":\"1\"},\"paths\":{");
        for (int k = 0; k < 6; k++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", k ? "," : "", ops[orders[o][k]]);
        snprintf(text + n, sizeof text - n, "}}");
        for (int m = 0; m < 2; m++) {
            json_t *names = names_of(text, caps[m]);
            assert_int_equal(json_object_size(names), 8);
            if (!first[m])
                first[m] = names;
            else {
                assert_true(json_equal(first[m], names)); /* same name -> same operation */
                json_decref(names);
            }
        }
    }
    /* a 24-character cap: 15-character prefix, '_' and 8 hex digits */
    const char *k;
    json_t *v;
    size_t long_ones = 0;
    json_object_foreach(first[1], k, v) {
        if (strncmp(k, "anOperationId", 13) == 0) {
            assert_int_equal(strlen(k), 24);
            assert_memory_equal(k, "anOperationIdTh_", 16);
            long_ones++;
        }
    }
    assert_int_equal(long_ones, 2);
    json_decref(first[0]);
    json_decref(first[1]);
    /* caps outside 16..128 are clamped */
    char out[MB_OA_NAME_LIMIT + 1];
    mb_oa_name_sanitize_n("abcdefghijklmnopqrstuvwxyz", out, 4);
    assert_int_equal(strlen(out), 16);
    mb_oa_name_sanitize_n("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
                          "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", out, 500);
    assert_int_equal(strlen(out), 128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_servers),
        cmocka_unit_test(test_schema_rewrites),
        cmocka_unit_test(test_names_stable_when_reordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
