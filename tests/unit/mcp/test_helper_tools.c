/* Unit tests of the helper tools (src/mcp/helper_tools.c) on a meta-mode catalog of
 * tests/fixtures/visibility/spec.yaml with the prompts of tests/fixtures/visibility/prompts:
 * list_all_tags, get_tool_schema, get_filter_fields, select_prompts, search_tools ranking and
 * call_tool (delegation of operations, helpers run inline, close matches for unknown names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "mcp/helper_tools.h"
#include "mcp/prompts.h"
#include "openapi/catalog.h"

struct fixture {
    struct mb_config *cfg;
    struct mb_catalog *cat;
    struct mb_prompt_set *prompts;
    struct mb_helper_env env;
};

static int setup(void **state)
{
    static struct fixture f;
    char dir[1024], text[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/visibility", src ? src : ".");
    snprintf(text, sizeof text,
             "{\"api\":{\"openapi\":{\"spec_file\":\"spec.yaml\"},\"tools\":{\"mode\":\"meta\"},"
             "\"routes\":{\"maps\":[{\"pattern\":\".*\",\"mcp_type\":\"TOOL\"}]}},"
             "\"assistant\":{\"prompts\":{\"dir\":\"prompts\"}}}");
    struct mb_diags d;
    mb_diags_init(&d);
    if (mb_config_load_text("test.json", text, dir, &f.cfg, &d) != 0)
        goto fail;
    f.cat = mb_catalog_create(f.cfg, &d);
    f.prompts = mb_prompts_load(f.cfg->prompts_dir, 1 << 20, &d);
    if (!f.cat || !f.prompts)
        goto fail;
    f.env = (struct mb_helper_env){ .catalog = f.cat, .prompts = f.prompts };
    mb_diags_dispose(&d);
    *state = &f;
    return 0;
fail:
    mb_diags_print(&d, stderr);
    mb_diags_dispose(&d);
    return -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mb_prompts_destroy(f->prompts);
    mb_catalog_destroy(f->cat);
    mb_config_destroy(f->cfg);
    return 0;
}

/* Calls helper `name` with args given as JSON text; returns the result (caller decrefs). */
static json_t *run(struct fixture *f, const char *name, const char *args_json)
{
    const struct mb_tool *tool = mb_catalog_find(f->cat, name);
    assert_non_null(tool);
    assert_int_equal(tool->kind, MB_TOOL_LOCAL);
    json_t *args = json_loads(args_json, 0, NULL);
    assert_non_null(args);
    char msg[512];
    assert_int_equal(mb_tool_validate_args(tool, args, msg, sizeof msg), 0);
    const struct mb_tool *call = (const void *)1;
    const json_t *call_args = (const void *)1;
    json_t *result = mb_helper_tool_call(&f->env, tool, args, &call, &call_args);
    assert_non_null(result);
    assert_null(call);
    /* text content and structuredContent say the same */
    const char *text = json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
    assert_non_null(text);
    json_t *sc = json_object_get(result, "structuredContent");
    if (sc) {
        json_t *parsed = json_loads(text, 0, NULL);
        assert_true(json_equal(parsed, sc));
        json_decref(parsed);
    }
    json_decref(args);
    return result;
}

static const char *error_text(const json_t *result)
{
    assert_true(json_is_true(json_object_get(result, "isError")));
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

static void test_list_all_tags(void **state)
{
    json_t *r = run(*state, "list_all_tags", "{}");
    json_t *sc = json_object_get(r, "structuredContent");
    json_t *tags = json_object_get(sc, "tags");
    assert_int_equal(json_array_size(tags), 3);
    json_t *first = json_array_get(tags, 0);
    assert_string_equal(json_string_value(json_object_get(first, "tag")), "group:inventory-items");
    assert_int_equal(json_integer_value(json_object_get(first, "count")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(first, "tools"), 1)), "getItem");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 1), "tag")), "group:lookup");
    json_t *orders = json_array_get(tags, 2);
    assert_int_equal(json_integer_value(json_object_get(orders, "count")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(sc, "untagged"), 0)), "ping");
    assert_int_equal(json_integer_value(json_object_get(sc, "tool_count")), 5);
    json_decref(r);
}

static void test_get_tool_schema(void **state)
{
    json_t *r = run(*state, "get_tool_schema", "{\"name\":\"getItem\"}");
    json_t *sc = json_object_get(r, "structuredContent");
    assert_string_equal(json_string_value(json_object_get(sc, "name")), "getItem");
    assert_string_equal(json_string_value(json_object_get(sc, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(sc, "path")), "/items/{itemId}");
    assert_string_equal(json_string_value(json_object_get(sc, "kind")), "operation");
    assert_non_null(json_object_get(json_object_get(json_object_get(sc, "inputSchema"), "properties"), "itemId"));
    assert_non_null(json_object_get(sc, "outputSchema"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(sc, "tags"), 1)), "group:lookup");
    json_decref(r);
    /* a helper describes itself too */
    r = run(*state, "get_tool_schema", "{\"name\":\"call_tool\"}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "structuredContent"), "kind")), "helper");
    json_decref(r);
    /* a misspelt name: isError naming the close matches */
    r = run(*state, "get_tool_schema", "{\"name\":\"getitems\"}");
    assert_non_null(strstr(error_text(r), "Unknown tool 'getitems'. Did you mean: getItem"));
    json_decref(r);
}

static void test_get_filter_fields(void **state)
{
    json_t *r = run(*state, "get_filter_fields", "{\"name\":\"listItems\"}");
    json_t *filters = json_object_get(json_object_get(r, "structuredContent"), "filters");
    assert_int_equal(json_array_size(filters), 3); /* color, limit, q; not the header */
    json_t *color = json_array_get(filters, 0);
    assert_string_equal(json_string_value(json_object_get(color, "name")), "color");
    assert_string_equal(json_string_value(json_object_get(color, "type")), "string");
    assert_int_equal(json_array_size(json_object_get(color, "enum")), 3);
    assert_string_equal(json_string_value(json_object_get(color, "description")), "Only items of this color.");
    json_t *limit = json_array_get(filters, 1);
    assert_int_equal(json_integer_value(json_object_get(limit, "default")), 20);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(limit, "examples"), 0)), 25);
    assert_int_equal(json_integer_value(json_object_get(limit, "maximum")), 100);
    json_t *q = json_array_get(filters, 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(q, "examples"), 1)), "nut");
    json_decref(r);
    r = run(*state, "get_filter_fields", "{\"name\":\"getItem\"}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "structuredContent"), "filters")), 0);
    assert_non_null(json_object_get(json_object_get(r, "structuredContent"), "note"));
    json_decref(r);
    r = run(*state, "get_filter_fields", "{\"name\":\"search_tools\"}");
    assert_non_null(strstr(error_text(r), "helper tool"));
    json_decref(r);
}

static const char *hit(const json_t *r, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(r, "structuredContent"), "tools"), i), "name"));
}

static void test_search_tools(void **state)
{
    json_t *r = run(*state, "search_tools", "{\"query\":\"list orders\"}");
    assert_string_equal(hit(r, 0), "listOrders");   /* both words in the name */
    json_t *sc = json_object_get(r, "structuredContent");
    assert_true(json_integer_value(json_object_get(sc, "total")) >= 3);
    json_t *first = json_array_get(json_object_get(sc, "tools"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "path")), "/orders");
    assert_string_equal(json_string_value(json_object_get(first, "title")), "List orders");
    json_decref(r);
    /* plural and case folded, stop words ignored; limit honoured */
    r = run(*state, "search_tools", "{\"query\":\"LIST all the ITEMS\",\"limit\":1}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "structuredContent"), "tools")), 1);
    assert_string_equal(hit(r, 0), "listItems");
    json_decref(r);
    /* tag filter (any spelling of the tag) */
    r = run(*state, "search_tools", "{\"query\":\"item\",\"tag\":\"Lookup\"}");
    assert_string_equal(hit(r, 0), "getItem");
    assert_null(hit(r, 1));
    json_decref(r);
    /* nothing found: an empty list and a hint */
    r = run(*state, "search_tools", "{\"query\":\"zebra\"}");
    assert_null(hit(r, 0));
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "structuredContent"), "note")), "list_all_tags"));
    json_decref(r);
}

static void test_select_prompts(void **state)
{
    json_t *r = run(*state, "select_prompts", "{}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "structuredContent"), "total")), 2);
    json_decref(r);
    r = run(*state, "select_prompts", "{\"query\":\"stock\"}");
    json_t *prompts = json_object_get(json_object_get(r, "structuredContent"), "prompts");
    assert_int_equal(json_array_size(prompts), 1);
    json_t *p = json_array_get(prompts, 0);
    assert_string_equal(json_string_value(json_object_get(p, "name")), "restock");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(p, "arguments"), 0), "name")), "color");
    json_decref(r);
    /* by tag: every word of the tag mentioned ("restock order" counts for group:orders) */
    r = run(*state, "select_prompts", "{\"tag\":\"Orders\"}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "structuredContent"), "prompts")), 2);
    json_decref(r);
    r = run(*state, "select_prompts", "{\"tag\":\"group:inventory-items\"}");
    prompts = json_object_get(json_object_get(r, "structuredContent"), "prompts");
    assert_int_equal(json_array_size(prompts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(prompts, 0), "name")), "restock");
    json_decref(r);
    r = run(*state, "select_prompts", "{\"tag\":\"Lookup\",\"query\":\"stock\"}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "structuredContent"), "prompts")), 0);
    json_decref(r);
    r = run(*state, "select_prompts", "{\"query\":\"nothing-like-this\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "structuredContent"), "total")), 0);
    json_decref(r);
}

static void test_call_tool(void **state)
{
    struct fixture *f = *state;
    const struct mb_tool *ct = mb_catalog_find(f->cat, "call_tool");
    /* an operation: handed back to the pipeline with its arguments */
    json_t *args = json_pack("{s:s,s:{s:s}}", "name", "getItem", "arguments", "itemId", "I-1");
    const struct mb_tool *call = NULL;
    const json_t *call_args = NULL;
    assert_null(mb_helper_tool_call(&f->env, ct, args, &call, &call_args));
    assert_ptr_equal(call, mb_catalog_find(f->cat, "getItem"));
    assert_ptr_equal(call_args, json_object_get(args, "arguments"));
    json_decref(args);
    /* a helper runs inline, its arguments validated */
    json_t *r = run(f, "call_tool", "{\"name\":\"get_tool_schema\",\"arguments\":{\"name\":\"ping\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "structuredContent"), "path")), "/health");
    json_decref(r);
    r = run(f, "call_tool", "{\"name\":\"get_tool_schema\",\"arguments\":{}}");
    assert_non_null(strstr(error_text(r), "Invalid arguments for tool get_tool_schema"));
    json_decref(r);
    r = run(f, "call_tool", "{\"name\":\"call_tool\"}");
    assert_non_null(strstr(error_text(r), "cannot call itself"));
    json_decref(r);
    /* unknown: close matches named */
    r = run(f, "call_tool", "{\"name\":\"list_order\"}");
    assert_non_null(strstr(error_text(r), "Did you mean: listOrders"));
    json_decref(r);
    r = run(f, "call_tool", "{\"name\":\"qqqqqqqq\"}");
    assert_null(strstr(error_text(r), "Did you mean"));
    json_decref(r);
}

static void test_suggest(void **state)
{
    struct fixture *f = *state;
    const struct mb_tool *out[3];
    size_t n = mb_helper_suggest(f->cat, "getitem", out, 3);
    assert_true(n >= 1);
    assert_string_equal(out[0]->name, "getItem");
    n = mb_helper_suggest(f->cat, "list", out, 3); /* prefix/substring matches */
    assert_true(n >= 2);
    assert_int_equal(mb_helper_suggest(f->cat, "zzzzzzzzzzzz", out, 3), 0);
}

/* A caller's view (security.authorization.tools) hides tools from every helper: listing,
 * schema, search and call_tool treat a hidden tool as unknown. */
static bool hide_orders(void *data, const struct mb_tool *t)
{
    (void)data;
    return strstr(t->name, "Order") == NULL;
}

static void test_hidden_tools(void **state)
{
    struct fixture *f = *state;
    f->env.visible = hide_orders;
    json_t *r = run(f, "list_all_tags", "{}");
    char *dump = json_dumps(json_object_get(r, "structuredContent"), 0);
    assert_null(strstr(dump, "listOrders"));
    assert_non_null(strstr(dump, "listItems"));
    free(dump);
    json_decref(r);
    const struct mb_tool *schema = mb_catalog_find(f->cat, "get_tool_schema");
    json_t *args = json_pack("{s:s}", "name", "listOrders");
    const struct mb_tool *call = NULL;
    const json_t *call_args = NULL;
    r = mb_helper_tool_call(&f->env, schema, args, &call, &call_args);
    assert_true(json_is_true(json_object_get(r, "isError")));
    dump = json_dumps(r, 0);
    assert_null(strstr(dump, "Did you mean: listOrders"));  /* not even as a suggestion */
    free(dump);
    json_decref(r);
    json_decref(args);
    r = run(f, "search_tools", "{\"query\":\"list orders\"}");
    dump = json_dumps(r, 0);
    assert_null(strstr(dump, "listOrders"));
    free(dump);
    json_decref(r);
    const struct mb_tool *ct = mb_catalog_find(f->cat, "call_tool");
    args = json_pack("{s:s,s:{}}", "name", "listOrders", "arguments");
    r = mb_helper_tool_call(&f->env, ct, args, &call, &call_args);
    assert_null(call);
    assert_true(json_is_true(json_object_get(r, "isError")));
    json_decref(r);
    json_decref(args);
    f->env.visible = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_all_tags),
        cmocka_unit_test(test_get_tool_schema),
        cmocka_unit_test(test_get_filter_fields),
        cmocka_unit_test(test_search_tools),
        cmocka_unit_test(test_select_prompts),
        cmocka_unit_test(test_call_tool),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_hidden_tools),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
