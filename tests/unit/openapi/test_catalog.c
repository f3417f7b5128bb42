/* Unit tests of the catalog: loading the fixtures, tool names, input/output schemas,
 * annotations, routes (first match wins, read-only default, tag conditions, name patterns), base URLs,
 * tools/list pages and cursors, the name index and diagnostics with line numbers. */
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

static char *fixture(const char *name)
{
    static char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/%s", src ? src : ".", name);
    return path;
}

static struct mb_catalog *load(const char *name, const char *routes_json, bool all, size_t page, struct mb_diags *d)
{
    json_t *routes = routes_json ? json_loads(routes_json, 0, NULL) : NULL;
    if (routes_json)
        assert_non_null(routes);
    struct mb_catalog *c = mb_catalog_create_from_spec(fixture(name), NULL, routes, all, page, d);
    json_decref(routes);
    return c;
}

static const json_t *prop(const struct mb_tool *t, const char *name)
{
    return json_object_get(json_object_get(t->input_schema, "properties"), name);
}

static bool required_has(const json_t *schema, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(schema, "required"), i, v) {
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

static void test_petstore_all(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("petstore.yaml", NULL, true, 0, &d);
    assert_non_null(c);
    assert_int_equal(d.count, 0);
    assert_int_equal(c->tool_count, 8);
    assert_string_equal(c->base_url, "https://api.example.com/v1");
    assert_string_equal(c->spec_title, "Petstore");

    const struct mb_tool *t = mb_catalog_find(c, "listPets");
    assert_non_null(t);
    assert_string_equal(t->method, "GET");
    assert_string_equal(t->path_template, "/pets");
    assert_string_equal(t->title, "List all pets");
    assert_string_equal(t->description, "List all pets\n\nReturns pets, newest first.");
    /* $ref parameter resolved, description/example/default/bounds kept */
    const json_t *limit = prop(t, "limit");
    assert_string_equal(json_string_value(json_object_get(limit, "type")), "integer");
    assert_int_equal(json_integer_value(json_object_get(limit, "maximum")), 100);
    assert_int_equal(json_integer_value(json_object_get(limit, "default")), 20);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(limit, "examples"), 0)), 20);
    assert_null(json_object_get(limit, "example"));
    assert_non_null(json_object_get(limit, "description"));
    assert_int_equal(json_array_size(json_object_get(prop(t, "status"), "enum")), 3);
    assert_true(json_is_false(json_object_get(t->input_schema, "additionalProperties")));
    assert_null(json_object_get(t->input_schema, "required"));
    /* output schema: object, $ref resolved deep inside, nullable turned into a type union */
    assert_non_null(t->output_schema);
    const json_t *item = json_object_get(json_object_get(json_object_get(t->output_schema, "properties"), "items"), "items");
    const json_t *tag = json_object_get(json_object_get(item, "properties"), "tag");
    assert_true(json_is_array(json_object_get(tag, "type")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(tag, "type"), 1)), "null");
    assert_null(json_object_get(tag, "nullable"));
    const json_t *status = json_object_get(json_object_get(item, "properties"), "status");
    assert_true(json_is_null(json_array_get(json_object_get(status, "enum"), 3)));

    /* body: required, readOnly id dropped (and out of "required"), writeOnly kept */
    t = mb_catalog_find(c, "createPet");
    assert_non_null(t);
    assert_true(t->has_body);
    assert_true(t->body_required);
    assert_string_equal(t->body_arg_name, "body");
    assert_string_equal(t->body_content_type, "application/json");
    const json_t *body = prop(t, "body");
    assert_null(json_object_get(json_object_get(body, "properties"), "id"));
    assert_non_null(json_object_get(json_object_get(body, "properties"), "secret"));
    assert_false(required_has(body, "id"));
    assert_true(required_has(body, "name"));
    assert_true(required_has(t->input_schema, "body"));
    /* output drops writeOnly, keeps readOnly */
    assert_null(json_object_get(json_object_get(t->output_schema, "properties"), "secret"));
    assert_non_null(json_object_get(json_object_get(t->output_schema, "properties"), "id"));

    /* path-level + operation-level merge, name clash across locations, cookie param */
    t = mb_catalog_find(c, "showPetById");
    assert_non_null(t);
    assert_int_equal(t->param_count, 4);
    assert_string_equal(json_string_value(json_object_get(prop(t, "petId"), "description")), "The pet id");
    assert_string_equal(json_string_value(json_object_get(prop(t, "petId"), "type")), "string");
    assert_string_equal(json_string_value(json_object_get(prop(t, "petId__query"), "type")), "boolean");
    assert_string_equal(json_string_value(json_object_get(prop(t, "X-Request-Id"), "description")),
                        "Operation-level wins");
    assert_int_equal(json_integer_value(json_object_get(prop(t, "X-Request-Id"), "maxLength")), 64);
    assert_non_null(prop(t, "session"));
    assert_true(required_has(t->input_schema, "petId"));
    assert_false(required_has(t->input_schema, "petId__query"));

    /* a +json body media type, no summary -> method/path description, no output (204) */
    t = mb_catalog_find(c, "updatePet");
    assert_non_null(t);
    assert_null(t->title);
    assert_string_equal(t->description, "PUT /pets/{petId}");
    assert_string_equal(t->body_content_type, "application/merge-patch+json");
    assert_false(t->body_required);
    assert_null(t->output_schema);
    assert_null(json_object_get(t->definition, "outputSchema"));
    assert_null(json_object_get(t->definition, "title"));

    /* no operationId; Accept header param ignored; undeclared {petId} synthesized */
    t = mb_catalog_find(c, "get_pets_petId_photos");
    assert_non_null(t);
    assert_null(prop(t, "Accept"));
    assert_non_null(prop(t, "petId"));
    assert_null(t->output_schema); /* an array, not an object */

    /* 3.0 boolean exclusiveMaximum becomes the numeric form */
    t = mb_catalog_find(c, "search_pets_by_filter");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(prop(t, "score"), "exclusiveMaximum")), 10);
    assert_null(json_object_get(prop(t, "score"), "maximum"));

    /* the definition is the tools/list entry */
    t = mb_catalog_find(c, "listPets");
    assert_string_equal(json_string_value(json_object_get(t->definition, "name")), "listPets");
    assert_ptr_equal(json_object_get(t->definition, "inputSchema"), t->input_schema);
    assert_null(mb_catalog_find(c, "nope"));
    assert_null(mb_catalog_find(c, "listpets"));

    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_annotations(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("petstore.yaml", NULL, true, 0, &d);
    assert_non_null(c);
    static const struct { const char *tool; bool ro, destr, idem; } want[] = {
        {"listPets", true, false, true}, {"createPet", false, false, false}, {"updatePet", false, false, true},
        {"deletePet", false, true, true}, {"searchHead", true, false, true}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct mb_tool *t = mb_catalog_find(c, want[i].tool);
        assert_non_null(t);
        const json_t *a = json_object_get(t->definition, "annotations");
        assert_int_equal(json_is_true(json_object_get(a, "readOnlyHint")), want[i].ro);
        assert_int_equal(json_is_true(json_object_get(a, "destructiveHint")), want[i].destr);
        assert_int_equal(json_is_true(json_object_get(a, "idempotentHint")), want[i].idem);
        assert_true(json_is_true(json_object_get(a, "openWorldHint")));
    }
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_types31(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("types31.json", NULL, true, 0, &d);
    assert_non_null(c);
    assert_string_equal(c->base_url, "http://localhost:8080");
    const struct mb_tool *t = mb_catalog_find(c, "makeThing");
    assert_non_null(t);
    assert_string_equal(t->body_content_type, "application/json; charset=utf-8");
    const json_t *body = prop(t, "body");
    const json_t *meta = json_object_get(json_object_get(body, "properties"), "meta");
    assert_string_equal(json_string_value(json_object_get(meta, "description")), "sibling description wins");
    assert_string_equal(json_string_value(json_object_get(meta, "type")), "object");
    t = mb_catalog_find(c, "listThings");
    assert_non_null(t);
    assert_true(json_is_array(json_object_get(prop(t, "size"), "type")));
    assert_non_null(t->output_schema); /* from "2XX" */
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_recursive(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("recursive.yaml", NULL, true, 0, &d);
    assert_non_null(c);
    const struct mb_tool *t = mb_catalog_find(c, "addNode");
    assert_non_null(t);
    const json_t *children = json_object_get(json_object_get(prop(t, "body"), "properties"), "children");
    assert_string_equal(json_string_value(json_object_get(json_object_get(children, "items"), "description")),
                        "(recursive reference to Node omitted)");
    const json_t *a = json_object_get(json_object_get(json_object_get(json_object_get(t->output_schema, "properties"), "b"),
                                                      "properties"), "a");
    assert_string_equal(json_string_value(json_object_get(a, "description")), "(recursive reference to A omitted)");
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_names(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("names.yaml", NULL, true, 0, &d);
    assert_non_null(c);
    assert_int_equal(c->tool_count, 7);
    for (size_t i = 0; i < c->tool_count; i++) {
        const char *n = c->tools[i].name;
        assert_true(strlen(n) >= 1 && strlen(n) <= 64);
        assert_int_equal(strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"), strlen(n));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(n, c->tools[j].name);
    }
    /* long ids: 55-char prefix + '_' + 8 hex of the full name; the two differ */
    const char *a = c->tools[0].name, *b = c->tools[1].name;
    assert_int_equal(strlen(a), 64);
    assert_memory_equal(a, "aVeryLongOperationIdentifierThatGoesOnAndOnBeyondTheSix_", 56);
    char expect[32];
    const char *full = "aVeryLongOperationIdentifierThatGoesOnAndOnBeyondTheSixtyFourCharLimit1";
    snprintf(expect, sizeof expect, "%08x", mb_oa_hash(full, strlen(full)));
    assert_string_equal(a + 56, expect);
    assert_string_not_equal(a, b);
    /* duplicates: both renamed with the hash of method+path, not by order */
    snprintf(expect, sizeof expect, "getThing_%08x", mb_oa_hash("GET /c", 6));
    assert_non_null(mb_catalog_find(c, expect));
    snprintf(expect, sizeof expect, "getThing_%08x", mb_oa_hash("GET /d", 6));
    assert_non_null(mb_catalog_find(c, expect));
    assert_null(mb_catalog_find(c, "getThing"));
    assert_non_null(mb_catalog_find(c, "get_f"));
    assert_non_null(mb_catalog_find(c, "get_users_userId_items"));
    assert_non_null(mb_catalog_find(c, "weird_name_with_chars___"));
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_naming_helpers(void **state)
{
    (void)state;
    char out[MB_OA_NAME_MAX + 1];
    mb_oa_name_sanitize("a b/c:d.e-f_g", out);
    assert_string_equal(out, "a_b_c_d.e-f_g");
    mb_oa_name_from_path("get", "/pets/{petId}", out);
    assert_string_equal(out, "get_pets_petId");
    mb_oa_name_from_path("DELETE", "/a//b/{c}/", out);
    assert_string_equal(out, "delete_a_b_c");
    /* order independence: the same set in another order gives the same names */
    char n1[2][MB_OA_NAME_MAX + 1] = {"x", "x"}, n2[2][MB_OA_NAME_MAX + 1] = {"x", "x"};
    char *p1[2] = {n1[0], n1[1]}, *p2[2] = {n2[0], n2[1]};
    const char *m[2] = {"GET", "POST"}, *pa[2] = {"/a", "/a"};
    const char *m2[2] = {"POST", "GET"};
    mb_oa_names_unique(p1, m, pa, 2);
    mb_oa_names_unique(p2, m2, pa, 2);
    assert_string_equal(n1[0], n2[1]);
    assert_string_equal(n1[1], n2[0]);
    assert_string_not_equal(n1[0], n1[1]);
    /* description bound: cut at a UTF-8 boundary with an ellipsis */
    char big[2000];
    memset(big, 'a', sizeof big);
    memcpy(big + 1020, "\xC3\xA9\xC3\xA9", 4); /* é é spanning the cut */
    big[sizeof big - 1] = '\0';
    char *t = mb_oa_text_bounded("Sum", big, 1024);
    assert_true(strlen(t) <= 1024);
    assert_string_equal(t + strlen(t) - 3, "\xE2\x80\xA6");
    assert_memory_equal(t, "Sum\n\naaa", 8);
    /* no broken sequence before the ellipsis */
    size_t n = strlen(t) - 3;
    assert_true(((unsigned char)t[n - 1] & 0xC0) != 0xC0);
    free(t);
    t = mb_oa_text_bounded(NULL, "only description\n", 1024);
    assert_string_equal(t, "only description");
    free(t);
}

static size_t count_tools(struct mb_catalog *c, const char *method)
{
    size_t n = 0;
    for (size_t i = 0; i < c->tool_count; i++)
        n += strcmp(c->tools[i].method, method) == 0;
    return n;
}

static void test_routes_default_read_only(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("petstore.yaml", NULL, false, 0, &d);
    assert_non_null(c);
    assert_int_equal(c->tool_count, 5);
    assert_int_equal(count_tools(c, "GET") + count_tools(c, "HEAD"), 5);
    assert_null(mb_catalog_find(c, "createPet"));
    mb_catalog_destroy(c);
    /* a routes section with no matching rule: still the read-only default */
    c = load("petstore.yaml", "{\"maps\":[{\"pattern\":\"^/nothing$\",\"mcp_type\":\"TOOL\"}]}", false, 0, &d);
    assert_non_null(c);
    assert_int_equal(c->tool_count, 5);
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_routes_first_match(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    /* rule 1 excludes DELETE on pets, rule 2 turns every other /pets method into a tool,
     * rule 3 (never reached for /pets) would exclude all */
    struct mb_catalog *c = load("petstore.yaml",
                                "{\"maps\":["
                                "{\"pattern\":\"^/pets\",\"methods\":[\"delete\"],\"mcp_type\":\"EXCLUDE\"},"
                                "{\"pattern\":\"^/pets\",\"mcp_type\":\"TOOL\"},"
                                "{\"pattern\":\".*\",\"mcp_type\":\"EXCLUDE\"}]}",
                                false, 0, &d);
    assert_non_null(c);
    assert_null(mb_catalog_find(c, "deletePet"));
    assert_non_null(mb_catalog_find(c, "createPet"));
    assert_non_null(mb_catalog_find(c, "updatePet"));
    assert_non_null(mb_catalog_find(c, "listPets"));
    assert_null(mb_catalog_find(c, "searchHead")); /* /search hit rule 3 */
    assert_int_equal(c->tool_count, 5);
    mb_catalog_destroy(c);

    /* maps rules selecting by tag (either spelling), and exclude_tool_name_patterns
     * (tests/unit/openapi/test_routes.c covers entity_rules and tags) */
    c = load("petstore.yaml",
             "{\"maps\":[{\"pattern\":\".\",\"methods\":[\"POST\",\"GET\"],"
             "\"tags\":[\"group:apsv-transport\",\"Nope\"],\"mcp_type\":\"TOOL\"},"
             "{\"pattern\":\".\",\"mcp_type\":\"EXCLUDE\"}]}", false, 0, &d);
    assert_non_null(c);
    assert_int_equal(c->tool_count, 1);
    assert_non_null(mb_catalog_find(c, "createPet"));
    mb_catalog_destroy(c);
    c = load("petstore.yaml", "{\"maps\":[{\"tags\":[\"APSV  Transport\"],\"mcp_type\":\"TOOL\"}]}", false, 0, &d);
    assert_non_null(c);
    assert_int_equal(c->tool_count, 6); /* the tagged POST, plus the read-only default */
    assert_non_null(mb_catalog_find(c, "createPet"));
    mb_catalog_destroy(c);
    c = load("petstore.yaml", "{\"exclude_tool_name_patterns\":[\"show*\",\"search?ead\"]}", false, 0, &d);
    assert_non_null(c);
    assert_null(mb_catalog_find(c, "showPetById"));
    assert_null(mb_catalog_find(c, "searchHead"));
    assert_non_null(mb_catalog_find(c, "listPets"));
    mb_catalog_destroy(c);
    assert_int_equal(d.count, 0);

    /* a bad regex is a diagnostic */
    c = load("petstore.yaml", "{\"maps\":[{\"pattern\":\"(\",\"mcp_type\":\"TOOL\"}]}", false, 0, &d);
    assert_null(c);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].message, "maps[0].pattern"));
    mb_diags_dispose(&d);

    char *n = mb_oa_tag_normalize("APSV Transport");
    assert_string_equal(n, "group:apsv-transport");
    free(n);
    n = mb_oa_tag_normalize("Group:Pets");
    assert_string_equal(n, "group:pets");
    free(n);
}

static void test_pages(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("petstore.yaml", NULL, true, 3, &d);
    assert_non_null(c);
    assert_int_equal(c->page_count, 3);
    size_t len = 0, seen = 0;
    const char *page = mb_catalog_page(c, NULL, &len);
    const char *first = page;
    assert_ptr_equal(mb_catalog_page(c, "", &len), first);
    char cursor[64];
    for (int i = 0; page; i++) {
        json_t *j = json_loadb(page, len, 0, NULL);
        assert_non_null(j);
        json_t *tools = json_object_get(j, "tools");
        for (size_t k = 0; k < json_array_size(tools); k++, seen++)
            assert_string_equal(json_string_value(json_object_get(json_array_get(tools, k), "name")),
                                c->tools[seen].name);
        const char *next = json_string_value(json_object_get(j, "nextCursor"));
        if (next) {
            snprintf(cursor, sizeof cursor, "%s", next);
            page = mb_catalog_page(c, cursor, &len);
            assert_non_null(page);
        } else {
            page = NULL;
            assert_int_equal(i, 2);
        }
        json_decref(j);
    }
    assert_int_equal(seen, c->tool_count);
    assert_null(mb_catalog_page(c, "c0", &len));
    assert_null(mb_catalog_page(c, "c9.00000000", &len));
    assert_null(mb_catalog_page(c, "bogus", &len));
    cursor[strlen(cursor) - 1] ^= 1; /* a cursor from another catalog */
    assert_null(mb_catalog_page(c, cursor, &len));
    mb_catalog_destroy(c);

    /* an empty catalog has one page with no tools */
    c = load("petstore.yaml", "{\"maps\":[{\"pattern\":\".*\",\"mcp_type\":\"EXCLUDE\"}]}", false, 0, &d);
    assert_non_null(c);
    page = mb_catalog_page(c, NULL, &len);
    assert_string_equal(page, "{\"tools\":[]}");
    assert_int_equal(len, strlen(page));
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_diagnostics(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("broken.yaml", NULL, true, 0, &d);
    assert_null(c);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.items[0].line, 15);
    assert_non_null(strstr(d.items[0].message, "#/components/schemas/Missing"));
    assert_non_null(strstr(d.items[0].file, "broken.yaml"));
    assert_int_equal(d.items[1].line, 28);
    assert_non_null(strstr(d.items[1].message, "'other.yaml#/Thing': cannot open"));
    mb_diags_dispose(&d);

    /* routes exclude the broken operations: the rest builds */
    mb_diags_init(&d);
    c = load("broken.yaml", "{\"maps\":[{\"pattern\":\".\",\"mcp_type\":\"EXCLUDE\"}]}", false, 0, &d);
    assert_non_null(c);
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);

    static const char relative[] = "openapi: 3.0.0\ninfo: {title: r, version: '1'}\nservers:\n  - url: /api\npaths: {}\n";
    mb_diags_init(&d);
    c = mb_catalog_create_from_buffer("rel.yaml", relative, sizeof relative - 1, NULL, NULL, false, 0, &d);
    assert_null(c);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0].message, "servers[0].url '/api' is relative; set api.openapi.base_url");
    assert_int_equal(d.items[0].line, 4);
    mb_diags_dispose(&d);
    mb_diags_init(&d);
    c = mb_catalog_create_from_buffer("rel.yaml", relative, sizeof relative - 1, "http://h:1/x//", NULL, false, 0, &d);
    assert_non_null(c);
    assert_string_equal(c->base_url, "http://h:1/x");
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);

    static const char noserver[] = "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"n\"},\"paths\":{}}";
    mb_diags_init(&d);
    c = mb_catalog_create_from_buffer("n.json", noserver, sizeof noserver - 1, NULL, NULL, false, 0, &d);
    assert_null(c);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].message, "base_url"));
    mb_diags_dispose(&d);

    static const char notoa[] = "{\"hello\":1}";
    mb_diags_init(&d);
    c = mb_catalog_create_from_buffer("x.json", notoa, sizeof notoa - 1, "http://x", NULL, false, 0, &d);
    assert_null(c);
    assert_int_equal(d.count, 1);
    mb_diags_dispose(&d);
}

static void test_swagger2(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("swagger2.json", NULL, true, 0, &d);
    assert_non_null(c);
    assert_string_equal(c->base_url, "https://old.example.com/api");
    const struct mb_tool *t = mb_catalog_find(c, "putUser");
    assert_non_null(t);
    assert_true(t->has_body);
    assert_true(t->body_required);
    assert_string_equal(json_string_value(json_object_get(prop(t, "id"), "type")), "integer");
    assert_null(json_object_get(json_object_get(prop(t, "body"), "properties"), "id"));
    assert_non_null(t->output_schema);
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_write_tools(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("petstore.yaml", NULL, false, 0, &d);
    assert_non_null(c);
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_int_equal(mb_catalog_write_tools(c, f, true), 0);
    fclose(f);
    json_t *arr = json_loads(buf, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), c->tool_count);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "path")), "/pets");
    assert_non_null(json_object_get(json_array_get(arr, 0), "inputSchema"));
    json_decref(arr);
    free(buf);
    f = open_memstream(&buf, &size);
    assert_int_equal(mb_catalog_write_tools(c, f, false), 0);
    fclose(f);
    assert_non_null(strstr(buf, "listPets"));
    assert_non_null(strstr(buf, "List all pets"));
    free(buf);
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static void test_from_config(void **state)
{
    (void)state;
    struct mb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.source = "cfg.json";
    cfg.spec_file = fixture("petstore.yaml");
    cfg.base_url = "https://override.test/";
    cfg.root = json_loads("{\"api\":{\"routes\":{\"maps\":[{\"pattern\":\"^/pets$\",\"methods\":[\"post\"],"
                          "\"mcp_type\":\"TOOL\"}]}}}", 0, NULL);
    assert_non_null(cfg.root);
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create(&cfg, &d);
    assert_non_null(c);
    assert_string_equal(c->base_url, "https://override.test");
    assert_int_equal(c->page_size, 100);
    assert_non_null(mb_catalog_find(c, "createPet"));
    assert_null(mb_catalog_find(c, "deletePet"));
    assert_int_equal(c->tool_count, 6);
    mb_catalog_destroy(c);
    cfg.spec_file = fixture("does-not-exist.yaml");
    assert_null(mb_catalog_create(&cfg, &d));
    assert_true(d.count > 0);
    mb_diags_dispose(&d);
    json_decref(cfg.root);
}

static void test_output_composed(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load("composed.yaml", NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    assert_non_null(c);
    const struct mb_tool *t = mb_catalog_find(c, "getPet");
    assert_non_null(t);
    assert_non_null(t->output_schema); /* allOf with an object member */
    assert_string_equal(json_string_value(json_object_get(t->output_schema, "type")), "object");
    assert_int_equal(json_array_size(json_object_get(t->output_schema, "allOf")), 2);
    assert_non_null(json_object_get(t->definition, "outputSchema"));
    t = mb_catalog_find(c, "getEither");
    assert_non_null(t);
    assert_non_null(t->output_schema); /* oneOf whose branches are all objects */
    assert_string_equal(json_string_value(json_object_get(t->output_schema, "type")), "object");
    t = mb_catalog_find(c, "getMixed");
    assert_non_null(t);
    assert_null(t->output_schema); /* one branch is a string */
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_petstore_all),
        cmocka_unit_test(test_output_composed),
        cmocka_unit_test(test_annotations),
        cmocka_unit_test(test_types31),
        cmocka_unit_test(test_recursive),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_naming_helpers),
        cmocka_unit_test(test_routes_default_read_only),
        cmocka_unit_test(test_routes_first_match),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_diagnostics),
        cmocka_unit_test(test_swagger2),
        cmocka_unit_test(test_write_tools),
        cmocka_unit_test(test_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
