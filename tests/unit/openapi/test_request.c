/* Unit tests of mb_tool_build_request: path expansion and percent-encoding, query styles,
 * header and cookie lines (CR/LF refused), JSON bodies and the fixed Accept header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "openapi/catalog.h"

static struct mb_catalog *cat;

static int setup(void **state)
{
    (void)state;
    char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/petstore.yaml", src ? src : ".");
    struct mb_diags d;
    mb_diags_init(&d);
    cat = mb_catalog_create_from_spec(path, "http://api.test/v1/", NULL, true, 0, &d);
    mb_diags_dispose(&d);
    return cat ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mb_catalog_destroy(cat);
    return 0;
}

static int build(const char *tool, const char *args, struct mb_built_request *req, char *msg, size_t msglen)
{
    const struct mb_tool *t = mb_catalog_find(cat, tool);
    assert_non_null(t);
    json_t *a = json_loads(args, 0, NULL);
    assert_non_null(a);
    int rc = mb_tool_build_request(t, cat->base_url, a, req, msg, msglen);
    json_decref(a);
    return rc;
}

static bool has_header(const struct mb_built_request *r, const char *line)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcmp(r->headers[i], line) == 0)
            return true;
    return false;
}

static void test_query_styles(void **state)
{
    (void)state;
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(build("listPets", "{\"limit\":10,\"status\":\"sold\",\"tags\":[\"a b\",\"c&d\"],\"ids\":[1,2,3]}",
                           &r, msg, sizeof msg), 0);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "http://api.test/v1/pets?limit=10&status=sold&tags=a%20b&tags=c%26d&ids=1,2,3");
    assert_null(r.body);
    assert_true(has_header(&r, "Accept: application/json, */*;q=0.5"));
    assert_int_equal(r.header_count, 1);
    mb_built_request_dispose(&r);

    assert_int_equal(build("listPets", "{}", &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "http://api.test/v1/pets");
    mb_built_request_dispose(&r);

    assert_int_equal(build("search_pets_by_filter", "{\"q\":\"x\",\"filter\":{\"color\":\"red/blue\",\"age\":3},\"score\":0.1}",
                           &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "http://api.test/v1/search?filter[color]=red%2Fblue&filter[age]=3&q=x&score=0.1");
    mb_built_request_dispose(&r);

    assert_int_equal(build("search_pets_by_filter", "{\"q\":\"x\",\"score\":true}", &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "http://api.test/v1/search?q=x&score=true");
    mb_built_request_dispose(&r);
}

static void test_path_headers_cookies(void **state)
{
    (void)state;
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(build("showPetById",
                           "{\"petId\":\"a b/c?d~e\",\"petId__query\":false,\"X-Request-Id\":\"r-1\",\"session\":\"s; x\"}",
                           &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "http://api.test/v1/pets/a%20b%2Fc%3Fd~e?petId=false");
    assert_true(has_header(&r, "X-Request-Id: r-1"));
    assert_true(has_header(&r, "Cookie: session=s%3B%20x"));
    assert_true(has_header(&r, "Accept: application/json, */*;q=0.5"));
    mb_built_request_dispose(&r);

    assert_int_equal(build("showPetById", "{\"petId\":42}", &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "http://api.test/v1/pets/42");
    mb_built_request_dispose(&r);

    assert_int_equal(build("showPetById", "{}", &r, msg, sizeof msg), -1);
    assert_string_equal(msg, "argument 'petId': required path parameter missing");
    assert_null(r.url);
    assert_int_equal(build("showPetById", "{\"petId\":\"1\",\"X-Request-Id\":\"a\\r\\nEvil: 1\"}", &r, msg, sizeof msg), -1);
    assert_string_equal(msg, "argument 'X-Request-Id': header value must not contain CR, LF or NUL");
    assert_int_equal(build("showPetById", "{\"petId\":\"1\",\"session\":\"a\\nb\"}", &r, msg, sizeof msg), -1);
    assert_string_equal(msg, "argument 'session': cookie value must not contain CR, LF or NUL");
}

static void test_body(void **state)
{
    (void)state;
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(build("createPet", "{\"body\":{\"name\":\"Rex\",\"tag\":null}}", &r, msg, sizeof msg), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "http://api.test/v1/pets");
    assert_string_equal(r.body, "{\"name\":\"Rex\",\"tag\":null}");
    assert_int_equal(r.body_len, strlen(r.body));
    assert_true(has_header(&r, "Content-Type: application/json"));
    mb_built_request_dispose(&r);

    assert_int_equal(build("createPet", "{}", &r, msg, sizeof msg), -1);
    assert_string_equal(msg, "argument 'body': required request body missing");

    assert_int_equal(build("updatePet", "{\"petId\":\"7\",\"body\":{\"name\":\"n\"}}", &r, msg, sizeof msg), 0);
    assert_string_equal(r.method, "PUT");
    assert_true(has_header(&r, "Content-Type: application/merge-patch+json"));
    mb_built_request_dispose(&r);

    assert_int_equal(build("updatePet", "{\"petId\":\"7\"}", &r, msg, sizeof msg), 0);
    assert_null(r.body);
    assert_int_equal(r.header_count, 1);
    mb_built_request_dispose(&r);
    mb_built_request_dispose(NULL);
}

static void test_hand_built(void **state)
{
    (void)state;
    /* a tool made by hand (no compiled styles): defaults apply */
    struct mb_tool_param params[2] = {
        {.name = "id", .arg_name = "id", .location = MB_PARAM_PATH, .required = true},
        {.name = "q", .arg_name = "q", .location = MB_PARAM_QUERY},
    };
    struct mb_tool t = {.name = "t", .method = "GET", .path_template = "/x/{id}/{undeclared}", .params = params,
                        .param_count = 2};
    struct mb_built_request r;
    char msg[256];
    json_t *a = json_pack("{s:s,s:[ii]}", "id", "1", "q", 1, 2);
    assert_int_equal(mb_tool_build_request(&t, "http://h", a, &r, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "'undeclared'"));
    t.path_template = "/x/{id}";
    assert_int_equal(mb_tool_build_request(&t, "http://h", a, &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "http://h/x/1?q=1&q=2");
    mb_built_request_dispose(&r);
    json_decref(a);
}

static void test_param_styles(void **state)
{
    (void)state;
    char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/params.yaml", src ? src : ".");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_spec(path, NULL, NULL, true, 0, &d);
    mb_diags_dispose(&d);
    assert_non_null(c);
    const struct mb_tool *t = mb_catalog_find(c, "styles");
    assert_non_null(t);
    /* Accept is not a parameter (the specification says so) */
    assert_null(json_object_get(json_object_get(t->input_schema, "properties"), "Accept"));
    json_t *a = json_loads("{\"ids\":[1,2],\"obj\":{\"a\":1,\"b\":\"x y\"},\"lbl\":[\"p\",\"q\"],\"mtx\":[3,4],"
                           "\"sp\":[\"a\",\"b c\"],\"pp\":[\"a\",\"b\"],\"raw\":\"/x?y=1&z=[2]#f\","
                           "\"enc\":\"/x?y=1\",\"filter\":{\"a\":1},\"pos\":{\"x\":1,\"y\":2},"
                           "\"X-List\":[\"a\",\"b\"],\"X-Obj\":{\"k\":\"v\",\"n\":2},\"prefs\":[\"d ark\",\"w\"]}",
                           0, NULL);
    assert_non_null(a);
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(mb_tool_validate_args(t, a, msg, sizeof msg), 0);
    assert_int_equal(mb_tool_build_request(t, c->base_url, a, &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "https://params.example.com/items/1,2/a=1,b=x%20y/.p.q/;mtx=3,4"
                               "?sp=a%20b%20c&pp=a%7Cb&raw=/x?y=1&z=[2]%23f&enc=%2Fx%3Fy%3D1"
                               "&filter=%7B%22a%22%3A1%7D&x=1&y=2");
    assert_true(has_header(&r, "X-List: a,b"));
    assert_true(has_header(&r, "X-Obj: k=v,n=2"));
    assert_true(has_header(&r, "Cookie: prefs=d%20ark,w"));
    mb_built_request_dispose(&r);
    json_decref(a);

    /* matrix style, RFC 6570 {;x*} and {;x} */
    t = mb_catalog_find(c, "matrix_exploded");
    assert_non_null(t);
    a = json_loads("{\"p\":\"a b/c\",\"a\":[\"a b/c\",\"d e\"],\"o\":{\"name\":\"a b/c\",\"description\":\"x\"},"
                   "\"e\":\"\"}", 0, NULL);
    assert_non_null(a);
    assert_int_equal(mb_tool_build_request(t, c->base_url, a, &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "https://params.example.com/matrix/;p=a%20b%2Fc/;a=a%20b%2Fc;a=d%20e"
                               "/;name=a%20b%2Fc;description=x/;e");
    mb_built_request_dispose(&r);
    json_decref(a);
    t = mb_catalog_find(c, "matrix_flat");
    assert_non_null(t);
    a = json_loads("{\"a\":[\"x\",\"y\"],\"o\":{\"k\":\"v\",\"n\":2}}", 0, NULL);
    assert_non_null(a);
    assert_int_equal(mb_tool_build_request(t, c->base_url, a, &r, msg, sizeof msg), 0);
    assert_string_equal(r.url, "https://params.example.com/matrix-flat/;a=x,y/;o=k,v,n,2");
    mb_built_request_dispose(&r);
    json_decref(a);
    mb_catalog_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_styles),
        cmocka_unit_test(test_path_headers_cookies),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_hand_built),
        cmocka_unit_test(test_param_styles),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
