/* Unit tests of the catalog options and openapi_visibility (src/openapi/visibility.c) and of
 * the helper-tool entries and meta mode of the catalog (src/openapi/catalog.c, pages.c):
 * catalogs are built through mb_config_load_text + mb_catalog_create from
 * tests/fixtures/visibility (spec.yaml, context/ with _index.json and global.md, bad_index/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "openapi/catalog.h"
#include "openapi/visibility.h"

static const char *fixtures(void)
{
    static char dir[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/visibility", src ? src : ".");
    return dir;
}

/* A catalog from spec.yaml with every method as a tool, plus the given JSON members merged
 * into the config's root ("extra" is the text after the api object, e.g.
 * ",\"openapi_visibility\":{...}"), and api members in api_extra. */
static struct mb_catalog *build_with(const char *spec, const char *api_extra, const char *extra,
                                     struct mb_config **cfg_out, struct mb_diags *d)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"api\":{\"openapi\":{\"spec_file\":\"%s\"},"
             "\"routes\":{\"maps\":[{\"pattern\":\".*\",\"mcp_type\":\"TOOL\"}]}%s},"
             "\"server\":{\"instructions\":\"Be brief.\"}%s}",
             spec, api_extra ? api_extra : "", extra ? extra : "");
    struct mb_config *cfg = NULL;
    mb_diags_init(d);
    if (mb_config_load_text("test.json", text, fixtures(), &cfg, d) != 0) {
        mb_diags_print(d, stderr);
        fail_msg("config did not load");
    }
    struct mb_catalog *cat = mb_catalog_create(cfg, d);
    if (cfg_out)
        *cfg_out = cfg;
    else
        mb_config_destroy(cfg);
    return cat;
}

static struct mb_catalog *build(const char *api_extra, const char *extra)
{
    struct mb_diags d;
    struct mb_catalog *cat = build_with("spec.yaml", api_extra, extra, NULL, &d);
    if (!cat)
        mb_diags_print(&d, stderr);
    assert_non_null(cat);
    mb_diags_dispose(&d);
    return cat;
}

static const char *desc(const struct mb_catalog *cat, const char *name)
{
    const struct mb_tool *t = mb_catalog_find(cat, name);
    assert_non_null(t);
    /* the definition served by tools/list always says the same */
    assert_string_equal(json_string_value(json_object_get(t->definition, "description")), t->description);
    return t->description;
}

static bool page_has(const struct mb_catalog *cat, const char *name)
{
    size_t len;
    const char *page = mb_catalog_page(cat, NULL, &len);
    char needle[160];
    snprintf(needle, sizeof needle, "\"name\":\"%s\"", name);
    return page && strstr(page, needle) != NULL;
}

static void test_defaults_tags_and_helpers(void **state)
{
    (void)state;
    /* full mode: no helper unless asked for */
    struct mb_catalog *cat = build(NULL, NULL);
    assert_int_equal(cat->tool_count, cat->operation_count);
    assert_null(mb_catalog_find(cat, "list_all_tags"));
    mb_catalog_destroy(cat);
    cat = build(",\"helper_tools\":{\"enabled\":true}", NULL);
    assert_int_equal(cat->operation_count, 5);
    assert_false(cat->meta_mode);
    assert_null(cat->instructions);
    /* descriptions untouched by default */
    assert_string_equal(desc(cat, "listItems"), "List items\n\nLists the items of the inventory, with paging.");
    /* tags normalized, operationId kept */
    const struct mb_tool *t = mb_catalog_find(cat, "getItem");
    assert_int_equal(t->tag_count, 2);
    assert_string_equal(t->tags[0], "group:inventory-items");
    assert_string_equal(t->tags[1], "group:lookup");
    assert_string_equal(t->operation_id, "getItem");
    assert_int_equal(mb_catalog_find(cat, "ping")->tag_count, 0);
    /* helpers: after the operations, listed; no select_prompts without prompts */
    assert_int_equal(cat->tool_count, 5 + 3);
    const char *helpers[] = { "get_tool_schema", "list_all_tags", "get_filter_fields" };
    for (size_t i = 0; i < 3; i++) {
        const struct mb_tool *h = mb_catalog_find(cat, helpers[i]);
        assert_non_null(h);
        assert_int_equal(h->kind, MB_TOOL_LOCAL);
        assert_true(h >= cat->tools + cat->operation_count);
        assert_true(page_has(cat, helpers[i]));
        assert_true(json_is_true(json_object_get(json_object_get(h->definition, "annotations"), "readOnlyHint")));
    }
    assert_null(mb_catalog_find(cat, "select_prompts"));
    assert_null(mb_catalog_find(cat, "search_tools"));
    assert_null(mb_catalog_find(cat, "call_tool"));
    assert_true(page_has(cat, "listItems"));
    assert_int_equal(mb_catalog_find(cat, "listItems")->kind, MB_TOOL_HTTP);
    /* `mcpbridge tools` prints the operations only */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(mb_catalog_write_tools(cat, f, true), 0);
    fclose(f);
    json_t *arr = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(arr), 5);
    json_decref(arr);
    free(out);
    mb_catalog_destroy(cat);
}

static void test_helpers_disabled_and_prompts(void **state)
{
    (void)state;
    struct mb_catalog *cat = build(",\"helper_tools\":{\"enabled\":false}", NULL);
    assert_int_equal(cat->tool_count, cat->operation_count);
    assert_null(mb_catalog_find(cat, "list_all_tags"));
    mb_catalog_destroy(cat);
    cat = build(",\"helper_tools\":{\"enabled\":true}", ",\"assistant\":{\"prompts\":{\"dir\":\"prompts\"}}");
    assert_non_null(mb_catalog_find(cat, "select_prompts"));
    assert_true(page_has(cat, "select_prompts"));
    mb_catalog_destroy(cat);
}

static void test_param_and_filter_examples(void **state)
{
    (void)state;
    struct mb_catalog *cat = build(NULL, ",\"openapi_visibility\":{\"add_param_examples\":true}");
    assert_string_equal(desc(cat, "listItems"), "List items\n\nLists the items of the inventory, with paging.\n\n"
                                                "Parameter examples: limit=25, q=\"bolt\"");
    assert_string_equal(desc(cat, "getItem"), "Get one item\n\nParameter examples: itemId=\"I-100\"");
    assert_string_equal(desc(cat, "createOrder"),
                        "Create an order\n\nParameter examples: body={\"item\":\"I-100\",\"quantity\":2}");
    assert_string_equal(desc(cat, "ping"), "Health check"); /* nothing to add */
    mb_catalog_destroy(cat);

    cat = build(NULL, ",\"openapi_visibility\":{\"add_filter_examples\":true}");
    assert_string_equal(desc(cat, "listItems"), "List items\n\nLists the items of the inventory, with paging.\n\n"
                                                "Filter example (arguments): {\"color\":\"red\",\"limit\":25,\"q\":\"bolt\"}");
    assert_string_equal(desc(cat, "listOrders"),
                        "List orders\n\nLists customer orders, newest first.\n\n"
                        "Filter example (arguments): {\"status\":\"open\"}");
    assert_string_equal(desc(cat, "getItem"), "Get one item"); /* no query parameters */
    mb_catalog_destroy(cat);

    cat = build(NULL, ",\"openapi_visibility\":{\"add_filter_examples\":true,\"add_param_examples\":true}");
    assert_non_null(strstr(desc(cat, "listItems"), "q=\"bolt\"\n\nFilter example (arguments): "));
    mb_catalog_destroy(cat);
}

static void test_context_files_and_global(void **state)
{
    (void)state;
    struct mb_catalog *cat = build(NULL, ",\"openapi_visibility\":{\"per_tool_context_enabled\":true,"
                                         "\"context_dir\":\"context\"}");
    /* defaults: 5 non-blank lines, white space collapsed */
    assert_string_equal(desc(cat, "listItems"),
                        "List items\n\nLists the items of the inventory, with paging.\n\n"
                        "Line one of the item context. Line two has extra spaces. Line three. Line four. Line five.");
    /* .txt with preserve_newlines from _index.json (keyed by file name) */
    assert_string_equal(desc(cat, "getItem"), "Get one item\n\nItem ids look like I-100.\n\nThey never change.");
    /* char_limit 40 from the entry keyed by stem, ellipsis included */
    assert_string_equal(desc(cat, "listOrders"), "List orders\n\nLists customer orders, newest first.\n\n"
                                                 "Orders older than a year are archived a\xE2\x80\xA6");
    assert_string_equal(desc(cat, "ping"), "Health check");
    /* global.md, 3 lines kept, newlines preserved, after server.instructions */
    assert_string_equal(cat->instructions, "Be brief.\n\n# Inventory API\nUse listItems before getItem.\nPrices are in cents.");
    /* the prepared page carries the new description */
    size_t len;
    assert_non_null(strstr(mb_catalog_page(cat, NULL, &len), "Line five."));
    mb_catalog_destroy(cat);
}

static void test_context_limits(void **state)
{
    (void)state;
    /* max_files 2: the lowest priority (listOrders, -1) is dropped */
    struct mb_catalog *cat = build(NULL, ",\"openapi_visibility\":{\"per_tool_context_enabled\":true,"
                                         "\"context_dir\":\"context\",\"per_tool_context_max_files\":2}");
    assert_string_equal(desc(cat, "listOrders"), "List orders\n\nLists customer orders, newest first.");
    assert_non_null(strstr(desc(cat, "getItem"), "They never change."));
    assert_non_null(strstr(desc(cat, "listItems"), "Line five."));
    mb_catalog_destroy(cat);
    /* per_tool_context_char_limit caps every file below its own char_limit */
    cat = build(NULL, ",\"openapi_visibility\":{\"per_tool_context_enabled\":true,"
                      "\"context_dir\":\"context\",\"per_tool_context_char_limit\":10}");
    assert_string_equal(desc(cat, "getItem"), "Get one item\n\nItem ids\xE2\x80\xA6");
    mb_catalog_destroy(cat);
    /* context files off: descriptions unchanged, global.md still becomes the instructions */
    cat = build(NULL, ",\"openapi_visibility\":{\"context_dir\":\"context\"}");
    assert_string_equal(desc(cat, "getItem"), "Get one item");
    assert_non_null(cat->instructions);
    assert_non_null(strstr(cat->instructions, "# Inventory API"));
    mb_catalog_destroy(cat);
}

static void test_bad_index_and_options(void **state)
{
    (void)state;
    struct mb_diags d;
    struct mb_catalog *cat = build_with("spec.yaml", NULL,
                                        ",\"openapi_visibility\":{\"per_tool_context_enabled\":true,"
                                        "\"context_dir\":\"bad_index\"}", NULL, &d);
    assert_null(cat);
    char *all = mb_diags_join(&d);
    assert_non_null(strstr(all, "bad_index/_index.json"));
    assert_int_equal(d.items[0].line, 4);
    assert_non_null(strstr(all, "/files/getItem.md/max_lines: expected an integer"));
    free(all);
    mb_diags_dispose(&d);

    cat = build_with("spec.yaml", ",\"tools\":{\"mode\":\"bogus\",\"meta_threshold\":0}", NULL, NULL, &d);
    assert_null(cat);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.items[0].message, "api.tools.mode: expected \"full\", \"meta\" or \"auto\""));
    assert_int_equal(d.items[0].line, 1);
    assert_non_null(strstr(d.items[1].message, "api.tools.meta_threshold"));
    mb_diags_dispose(&d);

    cat = build_with("spec.yaml", NULL, ",\"openapi_visibility\":{\"per_tool_context_enabled\":true}", NULL, &d);
    assert_null(cat);
    assert_non_null(strstr(d.items[0].message, "needs openapi_visibility.context_dir"));
    mb_diags_dispose(&d);

    cat = build_with("spec.yaml", NULL, ",\"openapi_visibility\":{\"context_dir\":\"no-such-dir\"}", NULL, &d);
    assert_null(cat);
    assert_non_null(strstr(d.items[0].message, "cannot open"));
    mb_diags_dispose(&d);
}

/* A context file that is a symbolic link (to a file outside the directory) is not read. */
static void test_context_confined(void **state)
{
    (void)state;
    char dir[] = "/tmp/mbvis.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char target[1200], link_path[1200], text[2048];
    snprintf(target, sizeof target, "%s/context/listOrders.md", fixtures());
    snprintf(link_path, sizeof link_path, "%s/listItems.md", dir);
    assert_int_equal(symlink(target, link_path), 0);
    snprintf(text, sizeof text, ",\"openapi_visibility\":{\"per_tool_context_enabled\":true,\"context_dir\":\"%s\"}", dir);
    struct mb_catalog *cat = build(NULL, text);
    assert_string_equal(desc(cat, "listItems"), "List items\n\nLists the items of the inventory, with paging.");
    mb_catalog_destroy(cat);
    unlink(link_path);
    rmdir(dir);
}

static void test_meta_mode(void **state)
{
    (void)state;
    struct mb_catalog *cat = build(",\"tools\":{\"mode\":\"meta\"}", NULL);
    assert_true(cat->meta_mode);
    const char *listed[] = { "search_tools", "get_tool_schema", "call_tool", "list_all_tags", "get_filter_fields" };
    for (size_t i = 0; i < 5; i++)
        assert_true(page_has(cat, listed[i]));
    for (size_t i = 0; i < cat->operation_count; i++) {
        assert_true(cat->tools[i].unlisted);
        assert_false(page_has(cat, cat->tools[i].name));
        assert_ptr_equal(mb_catalog_find(cat, cat->tools[i].name), &cat->tools[i]); /* still callable */
    }
    /* call_tool can reach a POST: not read-only */
    const json_t *ann = json_object_get(mb_catalog_find(cat, "call_tool")->definition, "annotations");
    assert_true(json_is_false(json_object_get(ann, "readOnlyHint")));
    assert_non_null(strstr(mb_catalog_find(cat, "search_tools")->description, "5 API tools"));
    mb_catalog_destroy(cat);

    /* meta mode turns the other helpers on unless they are disabled: then the three meta tools only */
    cat = build(",\"tools\":{\"mode\":\"meta\"},\"helper_tools\":{\"enabled\":false}", NULL);
    assert_int_equal(cat->tool_count, cat->operation_count + 3);
    assert_null(mb_catalog_find(cat, "list_all_tags"));
    assert_non_null(mb_catalog_find(cat, "get_tool_schema"));
    mb_catalog_destroy(cat);

    /* auto: meta above the threshold, full at or below it */
    cat = build(",\"tools\":{\"mode\":\"auto\",\"meta_threshold\":4}", NULL);
    assert_true(cat->meta_mode);
    mb_catalog_destroy(cat);
    cat = build(",\"tools\":{\"mode\":\"auto\",\"meta_threshold\":5}", NULL);
    assert_false(cat->meta_mode);
    assert_null(mb_catalog_find(cat, "call_tool"));
    mb_catalog_destroy(cat);
}

static void test_helper_name_clash(void **state)
{
    (void)state;
    struct mb_diags d;
    struct mb_catalog *cat = build_with("clash.yaml", ",\"helper_tools\":{\"enabled\":true}", NULL, NULL, &d);
    assert_non_null(cat);
    const struct mb_tool *op = mb_catalog_find(cat, "get_tool_schema");
    assert_int_equal(op->kind, MB_TOOL_HTTP); /* the operation keeps its name */
    const struct mb_tool *h = mb_catalog_find(cat, "mcpbridge_get_tool_schema");
    assert_non_null(h);
    assert_int_equal(h->helper, MB_HELPER_GET_TOOL_SCHEMA);
    mb_catalog_destroy(cat);
    mb_diags_dispose(&d);
}

static void test_shape(void **state)
{
    (void)state;
    struct mb_oa_context_rules r = { .max_lines = 2, .char_limit = 100, .preserve_newlines = false };
    const char in[] = "\n\n  first\tline \r\n\nsecond\x01line\nthird\n";
    char *out = mb_oa_context_shape(in, sizeof in - 1, &r);
    assert_string_equal(out, "first line second line");
    free(out);
    r.preserve_newlines = true;
    r.max_lines = 0;
    out = mb_oa_context_shape(in, sizeof in - 1, &r);
    assert_string_equal(out, "first line\n\nsecond line\nthird");
    free(out);
    /* invalid UTF-8 replaced; char_limit counts code points */
    r = (struct mb_oa_context_rules){ .char_limit = 4 };
    const char utf[] = "\xC3\xA9t\xC3\xA9s\xFF";
    out = mb_oa_context_shape(utf, sizeof utf - 1, &r);
    assert_string_equal(out, "\xC3\xA9t\xC3\xA9\xE2\x80\xA6");
    free(out);
    r.char_limit = 5;
    out = mb_oa_context_shape(utf, sizeof utf - 1, &r);
    assert_string_equal(out, "\xC3\xA9t\xC3\xA9s?");
    free(out);
    r.char_limit = 1;
    out = mb_oa_context_shape("ab", 2, &r);
    assert_string_equal(out, "\xE2\x80\xA6");
    free(out);
    out = mb_oa_context_shape("", 0, &r);
    assert_string_equal(out, "");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_tags_and_helpers),
        cmocka_unit_test(test_helpers_disabled_and_prompts),
        cmocka_unit_test(test_param_and_filter_examples),
        cmocka_unit_test(test_context_files_and_global),
        cmocka_unit_test(test_context_limits),
        cmocka_unit_test(test_bad_index_and_options),
        cmocka_unit_test(test_context_confined),
        cmocka_unit_test(test_meta_mode),
        cmocka_unit_test(test_helper_name_clash),
        cmocka_unit_test(test_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
