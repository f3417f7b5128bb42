/* Unit tests of $refs to other files: schemas, parameters and path items in files next to the
 * spec (each loaded once, relative refs taken from the referring file's directory), cycles
 * across files, refs back into the spec, and the refusals (absolute paths, URLs, '..' or
 * symbolic links leading out of the spec's directory, more than MB_OA_MAX_REF_FILES files)
 * with diagnostics naming the file and line that hold the bad $ref. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "openapi/catalog.h"
#include "openapi/catalog_internal.h"

static char *fixture(const char *name)
{
    static char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/multifile/%s", src ? src : ".", name);
    return path;
}

static const json_t *prop(const json_t *schema, const char *name)
{
    return json_object_get(json_object_get(schema, "properties"), name);
}

static void test_multifile(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_spec(fixture("openapi.yaml"), NULL, NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    assert_non_null(c);
    assert_int_equal(d.count, 0);
    assert_int_equal(c->tool_count, 4);

    /* a parameter from common.yaml, a schema from ./schemas/pet.json */
    const struct mb_tool *t = mb_catalog_find(c, "listPets");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(prop(t->input_schema, "limit"), "maximum")), 100);
    const json_t *pet = json_object_get(prop(t->output_schema, "items"), "items");
    assert_string_equal(json_string_value(json_object_get(prop(pet, "name"), "type")), "string");
    /* pet.json -> ../common.yaml Owner -> schemas/pet.json (relative to common.yaml): a cycle */
    const json_t *owner = prop(pet, "owner");
    assert_string_equal(json_string_value(json_object_get(prop(owner, "name"), "type")), "string");
    const json_t *again = json_object_get(prop(owner, "pets"), "items");
    assert_non_null(strstr(json_string_value(json_object_get(again, "description")), "recursive reference"));

    /* a path item in paths/pet-item.yaml, whose refs are relative to paths/ */
    t = mb_catalog_find(c, "getPet");
    assert_non_null(t);
    assert_string_equal(t->path_template, "/pets/{id}");
    assert_string_equal(json_string_value(json_object_get(prop(t->input_schema, "id"), "type")), "integer");
    assert_non_null(prop(t->output_schema, "owner"));
    assert_string_equal(t->operation_id, "getPet");
    assert_int_equal(t->tag_count, 1);
    assert_string_equal(t->tags[0], "group:pets");

    /* Owner: a local ref inside common.yaml, then pet.json, then Owner again (cut) */
    t = mb_catalog_find(c, "listOwners");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(prop(t->output_schema, "name"), "minLength")), 1);
    pet = json_object_get(prop(t->output_schema, "pets"), "items");
    assert_non_null(strstr(json_string_value(json_object_get(prop(pet, "owner"), "description")), "recursive"));

    /* common.yaml refers back into the spec by its file name */
    t = mb_catalog_find(c, "local");
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(prop(t->output_schema, "tag"), "maxLength")), 10);
    mb_catalog_destroy(c);
    mb_diags_dispose(&d);
}

static const struct mb_diag *find_diag(const struct mb_diags *d, const char *needle)
{
    for (size_t i = 0; i < d->count; i++)
        if (strstr(d->items[i].message, needle))
            return &d->items[i];
    return NULL;
}

static void test_refused(void **state)
{
    (void)state;
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_spec(fixture("bad/openapi.yaml"), NULL, NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    assert_null(c);
    const struct mb_diag *g = find_diag(&d, "../common.yaml");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "must stay inside the spec's directory"));
    assert_non_null(strstr(g->file, "bad/openapi.yaml"));
    assert_int_equal(g->line, 8);
    g = find_diag(&d, "'/etc/hosts'");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "absolute paths and URLs are not followed"));
    assert_int_equal(g->line, 13);
    g = find_diag(&d, "https://example.com");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "absolute paths and URLs are not followed"));
    assert_int_equal(g->line, 18);
    g = find_diag(&d, "missing.yaml#/x");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "cannot open"));
    assert_int_equal(g->line, 23);
    /* the bad $ref inside inner.yaml is reported at inner.yaml's line */
    g = find_diag(&d, "#/Nope");
    assert_non_null(g);
    assert_non_null(strstr(g->file, "bad/inner.yaml"));
    assert_int_equal(g->line, 5);
    mb_diags_dispose(&d);
}

static void test_in_memory(void **state)
{
    (void)state;
    static const char spec[] = "openapi: 3.0.3\ninfo: {title: m, version: '1'}\nservers: [{url: 'https://m.example'}]\n"
                               "paths:\n  /x:\n    get:\n      parameters:\n        - $ref: 'common.yaml#/a'\n"
                               "      responses: {'200': {description: ok}}\n";
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_buffer("mem.yaml", spec, sizeof spec - 1, NULL, NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    assert_null(c);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].message, "a spec given in memory cannot refer to other files"));
    assert_int_equal(d.items[0].line, 8);
    mb_diags_dispose(&d);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_limits(void **state)
{
    (void)state;
    char top[] = "/tmp/mb_multifile_XXXXXX";
    assert_non_null(mkdtemp(top));
    char dir[256], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/spec", top);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(top, "outside.yaml", "X: {type: string}\n");
    snprintf(path, sizeof path, "%s/link.yaml", dir);
    assert_int_equal(symlink("../outside.yaml", path), 0);

    /* MB_OA_MAX_REF_FILES + 1 files */
    char spec[16384];
    size_t n = (size_t)snprintf(spec, sizeof spec,
                                "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://t.example'}]\n"
                                "paths:\n  /many:\n    get:\n      responses:\n        '200':\n          description: ok\n"
                                "          content:\n            application/json:\n              schema:\n"
                                "                type: object\n                properties:\n");
    for (int i = 0; i <= MB_OA_MAX_REF_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.json", i);
        write_file(dir, name, "{\"type\": \"string\"}\n");
        n += (size_t)snprintf(spec + n, sizeof spec - n, "                  p%d: {$ref: 'f%d.json'}\n", i, i);
    }
    n += (size_t)snprintf(spec + n, sizeof spec - n,
                          "  /link:\n    get:\n      responses:\n        '200':\n          description: ok\n"
                          "          content:\n            application/json:\n              schema: {$ref: 'link.yaml#/X'}\n");
    assert_true(n < sizeof spec);
    write_file(dir, "openapi.yaml", spec);
    snprintf(path, sizeof path, "%s/openapi.yaml", dir);
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_spec(path, NULL, NULL, true, 0, &d);
    mb_diags_print(&d, stderr);
    assert_null(c);
    const struct mb_diag *g = find_diag(&d, "too many files");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "f64.json"));
    g = find_diag(&d, "symbolic link");
    assert_non_null(g);
    assert_non_null(strstr(g->message, "link.yaml"));
    mb_diags_dispose(&d);

    /* cleanup */
    for (int i = 0; i <= MB_OA_MAX_REF_FILES; i++) {
        snprintf(path, sizeof path, "%s/f%d.json", dir, i);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/openapi.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/link.yaml", dir);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/outside.yaml", top);
    unlink(path);
    rmdir(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multifile),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_in_memory),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
