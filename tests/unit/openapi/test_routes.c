/* Unit tests of api.routes (src/openapi/routes.c and its use in tools.c and catalog.c): the
 * tags every tool carries (spec tags normalized, entity_rules, injected tags), maps rules with
 * tag conditions, the order of the steps (tags, maps, tool names, exclude_tool_name_patterns)
 * and the configuration errors with their file:line. Fixtures: tests/fixtures/openapi/routes.yaml
 * (the spec) and the configs routes_config.yaml, routes_old_tags.yaml and routes_bad.yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "openapi/catalog.h"
#include "openapi/catalog_internal.h"

static const char *fixture(const char *name)
{
    static char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/%s", src ? src : ".", name);
    return path;
}

/* A catalog of routes.yaml with the api.routes value routes_json (NULL: no section). */
static struct mb_catalog *load_inline(const char *routes_json, struct mb_diags *d)
{
    json_t *routes = routes_json ? json_loads(routes_json, 0, NULL) : NULL;
    if (routes_json)
        assert_non_null(routes);
    struct mb_catalog *c =
        mb_catalog_create_from_spec(fixture("routes.yaml"), NULL, routes, false, 0, d);
    json_decref(routes);
    return c;
}

/* A catalog from one of the config fixtures; *cfg is set for the caller to destroy. */
static struct mb_catalog *load_config(const char *name, struct mb_config **cfg, struct mb_diags *d)
{
    *cfg = NULL;
    if (mb_config_load(fixture(name), cfg, d) != 0) {
        mb_diags_print(d, stderr);
        fail_msg("%s did not load", name);
    }
    return mb_catalog_create(*cfg, d);
}

/* The tool's tags joined with ',' ("" when it has none); fails when the tool is absent. */
static const char *tags_of(const struct mb_catalog *c, const char *name)
{
    static char out[512];
    const struct mb_tool *t = mb_catalog_find(c, name);
    if (!t)
        fail_msg("no tool %s", name);
    out[0] = '\0';
    for (size_t i = 0; i < t->tag_count; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "," : "", t->tags[i]);
    return out;
}

/* The diagnostic whose message contains needle, or NULL. */
static const struct mb_diag *diag_with(const struct mb_diags *d, const char *needle)
{
    for (size_t i = 0; i < d->count; i++)
        if (strstr(d->items[i].message, needle))
            return &d->items[i];
    return NULL;
}

static void assert_diag_at(const struct mb_diags *d, const char *needle, const char *file, int line)
{
    const struct mb_diag *g = diag_with(d, needle);
    if (!g) {
        mb_diags_print(d, stderr);
        fail_msg("no diagnostic with '%s'", needle);
    }
    assert_non_null(g->file);
    assert_non_null(strstr(g->file, file));
    assert_int_equal(g->line, line);
}

/* Every rule kind together (routes_config.yaml). */
static void test_config_all_kinds(void **state)
{
    (void)state;
    struct mb_config *cfg;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = load_config("routes_config.yaml", &cfg, &d);
    if (!c)
        mb_diags_print(&d, stderr);
    assert_non_null(c);
    assert_int_equal(d.count, 0);
    /* spec tags normalized first, then entity tags, then injected tags, no duplicates */
    assert_string_equal(tags_of(c, "listOrders"), "group:orders,entity:sales-order");
    assert_string_equal(tags_of(c, "createOrder"), "group:orders,entity:sales-order");
    assert_string_equal(tags_of(c, "getOrder"), "group:orders,entity:sales-order,group:detail");
    /* every matching entity rule adds its tag, methods restrict a rule */
    assert_string_equal(tags_of(c, "listCustomers"), "entity:customer");
    assert_string_equal(tags_of(c, "updateCustomer"), "entity:customer,entity:record");
    /* injected tags: normalized unless they carry their own prefix */
    assert_string_equal(tags_of(c, "adminStats"),
                        "group:apsv-transport,group:internal-ops,team:platform");
    assert_string_equal(tags_of(c, "adminReindex"), "group:internal-ops,team:platform");
    /* maps: rule 1 (entity tag + DELETE) excludes deleteOrder; rule 2 keeps the writes on
     * orders and customers by entity tag; rule 3 keeps POST under /admin/ by an injected tag;
     * rule 4 needs both its pattern and its tag, so health falls to the read-only default */
    assert_null(mb_catalog_find(c, "deleteOrder"));
    assert_string_equal(tags_of(c, "health"), "");
    /* exclude_tool_name_patterns comes last: adminPurge was kept by rule 3, then dropped */
    assert_null(mb_catalog_find(c, "adminPurge"));
    assert_int_equal(c->operation_count, 8);
    mb_catalog_destroy(c);
    mb_config_destroy(cfg);
    mb_diags_dispose(&d);
}

static void test_entity_rules(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    /* not first-match: both rules apply; "entity:" written in the entity is not doubled;
     * methods limit a rule; the same entity twice gives one tag */
    struct mb_catalog *c =
        load_inline("{\"entity_rules\":["
                    "{\"pattern\":\"^/orders\",\"entity\":\"Order\"},"
                    "{\"pattern\":\"[{]id[}]\",\"entity\":\"entity:Single Item\"},"
                    "{\"pattern\":\"^/orders$\",\"methods\":[\"post\"],\"entity\":\"draft\"},"
                    "{\"pattern\":\"^/orders/\",\"entity\":\"ORDER\"}]}",
                    &d);
    assert_non_null(c);
    assert_string_equal(tags_of(c, "listOrders"), "group:orders,entity:order");
    assert_string_equal(tags_of(c, "getOrder"), "group:orders,entity:order,entity:single-item");
    assert_string_equal(tags_of(c, "listCustomers"), "");
    /* no maps: the read-only default, so the POST that would carry entity:draft is not a tool */
    assert_null(mb_catalog_find(c, "createOrder"));
    mb_catalog_destroy(c);
    c = load_inline("{\"entity_rules\":[{\"pattern\":\"^/"
                    "orders$\",\"methods\":[\"post\"],\"entity\":\"draft\"}],"
                    "\"maps\":[{\"pattern\":\"^/orders$\",\"mcp_type\":\"TOOL\"}]}",
                    &d);
    assert_non_null(c);
    assert_string_equal(tags_of(c, "createOrder"), "group:orders,entity:draft");
    assert_string_equal(tags_of(c, "listOrders"), "group:orders");
    mb_catalog_destroy(c);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
}

static void test_injected_tags(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    /* every matching entry adds its tags; a tag equal to a spec tag (in any spelling) is not
     * repeated; "group:" tags are normalized, other prefixes kept as written */
    struct mb_catalog *c = load_inline(
        "{\"tags\":["
        "{\"pattern\":\"^/orders\",\"tags\":[\"ORDERS\",\"Sales Desk\",\"Sales desk\"]},"
        "{\"pattern\":\".\",\"methods\":[\"GET\"],\"tags\":[\"Group:Read Only\",\"scope:Read\"]},"
        "{\"pattern\":\"^/nothing\",\"tags\":[\"never\"]}]}",
        &d);
    assert_non_null(c);
    assert_string_equal(tags_of(c, "listOrders"),
                        "group:orders,group:sales-desk,group:read-only,scope:Read");
    assert_string_equal(tags_of(c, "health"), "group:read-only,scope:Read");
    mb_catalog_destroy(c);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
}

static void test_maps_tag_condition(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    /* a tag condition alone; the spec tag in another spelling */
    struct mb_catalog *c =
        load_inline("{\"maps\":[{\"tags\":[\"group:ORDERS\"],\"mcp_type\":\"TOOL\"},"
                    "{\"pattern\":\".\",\"mcp_type\":\"EXCLUDE\"}]}",
                    &d);
    assert_non_null(c);
    assert_int_equal(c->operation_count, 4);
    assert_non_null(mb_catalog_find(c, "deleteOrder"));
    assert_null(mb_catalog_find(c, "health"));
    mb_catalog_destroy(c);
    /* pattern, methods and tags must all hold; a rule that fails one is skipped and the next
     * decides (the bare maps array form accepts tags too) */
    c = load_inline(
        "[{\"pattern\":\"^/"
        "orders$\",\"methods\":[\"POST\"],\"tags\":[\"Orders\"],\"mcp_type\":\"TOOL\"},"
        "{\"pattern\":\"^/customers\",\"tags\":[\"Orders\"],\"mcp_type\":\"TOOL\"},"
        "{\"methods\":[\"DELETE\"],\"tags\":[\"nope\",\"orders\"],\"mcp_type\":\"EXCLUDE\"},"
        "{\"pattern\":\".\",\"methods\":[\"DELETE\",\"PUT\"],\"mcp_type\":\"TOOL\"}]",
        &d);
    assert_non_null(c);
    assert_non_null(mb_catalog_find(c, "createOrder"));    /* rule 1 */
    assert_non_null(mb_catalog_find(c, "updateCustomer")); /* rule 2 lacks the tag: rule 4 */
    assert_null(mb_catalog_find(c, "deleteOrder"));        /* rule 3 before rule 4 */
    assert_null(mb_catalog_find(c, "adminReindex"));       /* no rule: read-only default */
    assert_non_null(mb_catalog_find(c, "health"));
    mb_catalog_destroy(c);
    /* an empty tags list is no condition, like an empty methods list */
    c = load_inline(
        "{\"maps\":[{\"pattern\":\"^/admin/purge$\",\"tags\":[],\"mcp_type\":\"TOOL\"}]}", &d);
    assert_non_null(c);
    assert_non_null(mb_catalog_find(c, "adminPurge"));
    mb_catalog_destroy(c);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
}

static void test_order_of_steps(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    /* maps see the entity and injected tags whatever the key order in the object; the name
     * patterns see only what maps kept and do not change other tools' tags */
    struct mb_catalog *c = load_inline(
        "{\"maps\":[{\"tags\":[\"entity:customer\"],\"mcp_type\":\"TOOL\"},"
        "{\"tags\":[\"risk:high\"],\"mcp_type\":\"TOOL\"}],"
        "\"tags\":[{\"pattern\":\"^/admin/\",\"methods\":[\"POST\"],\"tags\":[\"risk:high\"]}],"
        "\"entity_rules\":[{\"pattern\":\"^/customers\",\"entity\":\"customer\"}],"
        "\"exclude_tool_name_patterns\":[\"admin[P]*\",\"list*\"]}",
        &d);
    assert_non_null(c);
    assert_string_equal(tags_of(c, "updateCustomer"), "entity:customer");
    assert_string_equal(tags_of(c, "adminReindex"), "risk:high");
    assert_null(mb_catalog_find(c, "adminPurge"));
    assert_null(mb_catalog_find(c, "listOrders"));
    assert_null(mb_catalog_find(c, "listCustomers"));
    assert_non_null(mb_catalog_find(c, "getOrder"));
    mb_catalog_destroy(c);
    /* without a routes section, or with every method asked for, spec tags are still attached */
    c = load_inline(NULL, &d);
    assert_non_null(c);
    assert_string_equal(tags_of(c, "adminStats"), "group:apsv-transport");
    assert_null(mb_catalog_find(c, "createOrder"));
    mb_catalog_destroy(c);
    c = mb_catalog_create_from_spec(fixture("routes.yaml"), NULL, NULL, true, 0, &d);
    assert_non_null(c);
    assert_string_equal(tags_of(c, "deleteOrder"), "group:orders");
    mb_catalog_destroy(c);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
}

static void test_old_tags_form(void **state)
{
    (void)state;
    struct mb_config *cfg;
    struct mb_diags d;
    mb_diags_init(&d);
    assert_null(load_config("routes_old_tags.yaml", &cfg, &d));
    assert_int_equal(d.count, 1); /* one explanation, not one per string */
    assert_diag_at(&d, "api.routes.tags[0] is a plain string", "routes_old_tags.yaml", 9);
    assert_non_null(strstr(d.items[0].message, "use a maps rule with \"tags\""));
    assert_non_null(strstr(d.items[0].message, "\"tags\": [\"Orders\"]"));
    mb_config_destroy(cfg);
    mb_diags_dispose(&d);
    /* the same without a config document: no line, still refused */
    mb_diags_init(&d);
    assert_null(load_inline("{\"tags\":[\"Orders\"]}", &d));
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 0);
    assert_string_equal(d.items[0].file, "api.routes");
    mb_diags_dispose(&d);
}

static void test_diagnostics(void **state)
{
    (void)state;
    struct mb_config *cfg;
    struct mb_diags d;
    mb_diags_init(&d);
    assert_null(load_config("routes_bad.yaml", &cfg, &d));
    const char *f = "routes_bad.yaml";
    assert_diag_at(&d, "entity_rules[0].entity is required", f, 7);
    assert_diag_at(&d, "entity_rules[1].pattern '(' is not a valid regex", f, 8);
    assert_diag_at(&d, "entity_rules[2].pattern must be a string", f, 10);
    assert_diag_at(&d, "api.routes.tags[0].tags must be a non-empty array", f, 12);
    assert_diag_at(&d, "api.routes.tags[1].tags[0] must be a tag name", f, 13);
    assert_diag_at(&d, "api.routes.maps[0].tags must be an array of strings", f, 15);
    assert_int_equal(d.count, 6);
    mb_config_destroy(cfg);
    mb_diags_dispose(&d);
    /* more shapes, without a document */
    static const char *const bad[][2] = {
        {"{\"entity_rules\":{}}", "api.routes.entity_rules must be an array"},
        {"{\"entity_rules\":[\"orders\"]}", "entity_rules[0] must be an object"},
        {"{\"entity_rules\":[{\"pattern\":\".\",\"entity\":\" - \"}]}", "has no letters or digits"},
        {"{\"entity_rules\":[{\"pattern\":\".\",\"entity\":\"x\",\"methods\":\"GET\"}]}",
         "methods must be an array"},
        {"{\"tags\":[{\"pattern\":\".\"}]}", "api.routes.tags[0].tags is required"},
        {"{\"tags\":[{\"pattern\":\".\",\"tags\":[\"scope:\"]}]}", "tags[0] must be a tag name"},
        {"{\"tags\":[{\"pattern\":\".\",\"tags\":[7]}]}", "tags[0] must be a tag name"},
        {"{\"tags\":7}", "api.routes.tags must be an array"},
        {"{\"maps\":[{\"tags\":[\"x\"],\"mcp_type\":\"MAYBE\"}]}", "is not TOOL or EXCLUDE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mb_diags_init(&d);
        assert_null(load_inline(bad[i][0], &d));
        if (!diag_with(&d, bad[i][1])) {
            mb_diags_print(&d, stderr);
            fail_msg("%s: expected '%s'", bad[i][0], bad[i][1]);
        }
        mb_diags_dispose(&d);
    }
}

static void test_tag_spelling(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"APSV Transport", "group:apsv-transport"},
        {"Group:Pets", "group:pets"},
        {"entity:sales-order", "entity:sales-order"},
        {"team:Platform", "team:Platform"},
        {"Orders", "group:orders"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *n = mb_catalog_tag_normalize(cases[i][0]);
        assert_non_null(n);
        assert_string_equal(n, cases[i][1]);
        free(n);
    }
    /* spec tags are always group tags, whatever they contain */
    char *n = mb_oa_tag_normalize("v2: beta");
    assert_string_equal(n, "group:v2-beta");
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_all_kinds), cmocka_unit_test(test_entity_rules),
        cmocka_unit_test(test_injected_tags),    cmocka_unit_test(test_maps_tag_condition),
        cmocka_unit_test(test_order_of_steps),   cmocka_unit_test(test_old_tags_form),
        cmocka_unit_test(test_diagnostics),      cmocka_unit_test(test_tag_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
