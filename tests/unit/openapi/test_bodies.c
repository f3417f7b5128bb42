/* Unit tests of request bodies beyond JSON: media type choice (JSON, form, multipart, text,
 * binary), the body property's schema for each, and the encoded bytes on the wire
 * (urlencoded fields, multipart parts with a generated boundary and decoded base64 files,
 * raw text, decoded binary), Swagger 2.0 formData and consumes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "openapi/catalog.h"

static struct mb_catalog *load(const char *name)
{
    char path[1024];
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/openapi/%s", src ? src : ".", name);
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_catalog *c = mb_catalog_create_from_spec(path, NULL, NULL, true, 0, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s\n", d.items[i].message);
    mb_diags_dispose(&d);
    assert_non_null(c);
    return c;
}

static const json_t *body_schema(const struct mb_tool *t)
{
    return json_object_get(json_object_get(t->input_schema, "properties"), "body");
}

static const char *header(const struct mb_built_request *r, const char *prefix)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strncmp(r->headers[i], prefix, strlen(prefix)) == 0)
            return r->headers[i] + strlen(prefix);
    return NULL;
}

static int build(const struct mb_catalog *c, const char *tool, const char *args, struct mb_built_request *r,
                 char *msg, size_t msglen)
{
    const struct mb_tool *t = mb_catalog_find(c, tool);
    assert_non_null(t);
    json_t *a = json_loads(args, 0, NULL);
    assert_non_null(a);
    int rc = mb_tool_validate_args(t, a, msg, msglen);
    if (rc == 0)
        rc = mb_tool_build_request(t, c->base_url, a, r, msg, msglen);
    json_decref(a);
    return rc;
}

static void test_media_choice(void **state)
{
    (void)state;
    struct mb_catalog *c = load("bodies.yaml");
    static const struct { const char *tool, *ct; } want[] = {
        {"postForm", "application/x-www-form-urlencoded"}, {"upload", "multipart/form-data"},
        {"postText", "text/plain"}, {"putBlob", "application/octet-stream"},
        {"putAny", "application/octet-stream"}, {"chooseJson", "application/json"},
        {"chooseForm", "application/x-www-form-urlencoded"}, {"chooseText", "application/xml"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct mb_tool *t = mb_catalog_find(c, want[i].tool);
        assert_non_null(t);
        assert_true(t->has_body);
        assert_string_equal(t->body_content_type, want[i].ct);
    }
    /* JSON chosen over xml/form/multipart and over +json; its schema kept */
    const json_t *b = body_schema(mb_catalog_find(c, "chooseJson"));
    assert_non_null(json_object_get(json_object_get(b, "properties"), "a"));
    /* text: a string schema with its bounds; binary: base64 string */
    b = body_schema(mb_catalog_find(c, "postText"));
    assert_string_equal(json_string_value(json_object_get(b, "type")), "string");
    assert_int_equal(json_integer_value(json_object_get(b, "maxLength")), 100);
    b = body_schema(mb_catalog_find(c, "putBlob"));
    assert_string_equal(json_string_value(json_object_get(b, "contentEncoding")), "base64");
    assert_string_equal(json_string_value(json_object_get(b, "contentMediaType")), "application/octet-stream");
    b = body_schema(mb_catalog_find(c, "putAny"));
    assert_string_equal(json_string_value(json_object_get(b, "contentEncoding")), "base64");
    assert_null(json_object_get(b, "contentMediaType")); /* a range is not announced */
    assert_null(json_object_get(b, "format"));
    b = body_schema(mb_catalog_find(c, "chooseText"));
    assert_string_equal(json_string_value(json_object_get(b, "type")), "string");
    /* multipart: binary parts become base64 strings, encoding's contentType announced */
    b = json_object_get(body_schema(mb_catalog_find(c, "upload")), "properties");
    const json_t *file = json_object_get(b, "file");
    assert_string_equal(json_string_value(json_object_get(file, "contentEncoding")), "base64");
    assert_string_equal(json_string_value(json_object_get(file, "contentMediaType")), "image/png");
    assert_null(json_object_get(file, "format"));
    assert_non_null(strstr(json_string_value(json_object_get(file, "description")), "The picture"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(b, "files"), "items"),
                                                          "contentEncoding")), "base64");
    /* format: byte is already text: left alone */
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "digest"), "format")), "byte");
    mb_catalog_destroy(c);
}

static void test_form_and_text(void **state)
{
    (void)state;
    struct mb_catalog *c = load("bodies.yaml");
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(build(c, "postForm", "{\"body\":{\"name\":\"a b&c=d\",\"tags\":[\"x\",\"y\"],\"n\":3}}", &r, msg,
                           sizeof msg), 0);
    assert_string_equal(r.body, "name=a%20b%26c%3Dd&tags=x&tags=y&n=3");
    assert_int_equal(r.body_len, strlen(r.body));
    assert_string_equal(header(&r, "Content-Type: "), "application/x-www-form-urlencoded");
    mb_built_request_dispose(&r);
    assert_int_equal(build(c, "postForm", "{\"body\":{\"n\":3}}", &r, msg, sizeof msg), -1);
    assert_string_equal(msg, "argument 'body.name': required property missing");

    assert_int_equal(build(c, "postText", "{\"body\":\"hello\\nworld\"}", &r, msg, sizeof msg), 0);
    assert_string_equal(r.body, "hello\nworld");
    assert_string_equal(header(&r, "Content-Type: "), "text/plain");
    mb_built_request_dispose(&r);
    assert_int_equal(build(c, "postText", "{\"body\":{}}", &r, msg, sizeof msg), -1);
    assert_string_equal(msg, "argument 'body': expected string, got object");
    mb_catalog_destroy(c);
}

static void test_binary(void **state)
{
    (void)state;
    struct mb_catalog *c = load("bodies.yaml");
    struct mb_built_request r;
    char msg[256];
    /* "AAEC/w==" is 00 01 02 ff */
    assert_int_equal(build(c, "putBlob", "{\"body\":\"AAEC/w==\"}", &r, msg, sizeof msg), 0);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "\x00\x01\x02\xff", 4);
    assert_string_equal(header(&r, "Content-Type: "), "application/octet-stream");
    mb_built_request_dispose(&r);
    /* URL-safe alphabet and missing padding are accepted */
    assert_int_equal(build(c, "putAny", "{\"body\":\"AAEC_w\"}", &r, msg, sizeof msg), 0);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "\x00\x01\x02\xff", 4);
    mb_built_request_dispose(&r);
    assert_int_equal(build(c, "putBlob", "{\"body\":\"not base64!\"}", &r, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "base64"));
    assert_int_equal(build(c, "putBlob", "{\"body\":\"\"}", &r, msg, sizeof msg), 0);
    assert_int_equal(r.body_len, 0);
    mb_built_request_dispose(&r);
    mb_catalog_destroy(c);
}

static void test_multipart(void **state)
{
    (void)state;
    struct mb_catalog *c = load("bodies.yaml");
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(build(c, "upload",
                           "{\"body\":{\"file\":\"iVBO\",\"files\":[\"AA==\",\"AQ==\"],\"meta\":{\"a\":1},"
                           "\"note\":\"hi \\\"you\\\"\",\"digest\":\"AAEC\"}}",
                           &r, msg, sizeof msg), 0);
    const char *ct = header(&r, "Content-Type: ");
    assert_non_null(ct);
    const char *bp = "multipart/form-data; boundary=";
    assert_memory_equal(ct, bp, strlen(bp));
    const char *boundary = ct + strlen(bp);
    assert_int_equal(strlen(boundary), 34);
    char expect[2048];
    snprintf(expect, sizeof expect,
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\nContent-Type: image/png\r\n\r\n"
             "\x89PN\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"files\"; filename=\"files\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n%c\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"files\"; filename=\"files\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n\x01\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi \"you\"\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"digest\"\r\n\r\nAAEC\r\n"
             "--%s--\r\n",
             boundary, boundary, 'X', boundary, boundary, boundary, boundary, boundary);
    /* the first "files" part holds one NUL byte: patch the placeholder */
    size_t elen = strlen(expect);
    char *x = strchr(expect, 'X');
    assert_non_null(x);
    *x = '\0';
    assert_int_equal(r.body_len, elen);
    assert_memory_equal(r.body, expect, elen);
    mb_built_request_dispose(&r);

    /* two builds use two boundaries */
    assert_int_equal(build(c, "upload", "{\"body\":{\"note\":\"a\"}}", &r, msg, sizeof msg), 0);
    struct mb_built_request r2;
    assert_int_equal(build(c, "upload", "{\"body\":{\"note\":\"a\"}}", &r2, msg, sizeof msg), 0);
    assert_string_not_equal(header(&r, "Content-Type: "), header(&r2, "Content-Type: "));
    mb_built_request_dispose(&r);
    mb_built_request_dispose(&r2);
    assert_int_equal(build(c, "upload", "{\"body\":{\"file\":\"@@@\"}}", &r, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "base64"));
    mb_catalog_destroy(c);
}

static void test_swagger2_forms(void **state)
{
    (void)state;
    struct mb_catalog *c = load("swagger2_form.yaml");
    assert_string_equal(c->base_url, "http://forms.example.com/v2");
    const struct mb_tool *t = mb_catalog_find(c, "uploadFile");
    assert_non_null(t);
    assert_string_equal(t->body_content_type, "multipart/form-data");
    assert_true(t->body_required);
    const json_t *b = body_schema(t);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(b, "properties"), "file"),
                                                          "contentEncoding")), "base64");
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "required"), 0)), "file");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(b, "properties"),
                                          "additionalMetadata"), "description")), "Extra data");
    t = mb_catalog_find(c, "updatePetWithForm");
    assert_string_equal(t->body_content_type, "application/x-www-form-urlencoded");
    assert_false(t->body_required);
    struct mb_built_request r;
    char msg[256];
    assert_int_equal(build(c, "updatePetWithForm", "{\"id\":3,\"body\":{\"name\":\"Rex\",\"status\":\"sold\"}}", &r, msg,
                           sizeof msg), 0);
    assert_string_equal(r.url, "http://forms.example.com/v2/pet/3");
    assert_string_equal(r.body, "name=Rex&status=sold");
    mb_built_request_dispose(&r);
    assert_int_equal(build(c, "updatePetWithForm", "{\"id\":3,\"body\":{\"status\":\"lost\"}}", &r, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "body.status"));
    /* consumes: octet-stream body param -> base64; no consumes on the operation -> root's JSON */
    assert_string_equal(mb_catalog_find(c, "postRaw")->body_content_type, "application/octet-stream");
    assert_string_equal(json_string_value(json_object_get(body_schema(mb_catalog_find(c, "postRaw")),
                                                          "contentEncoding")), "base64");
    assert_string_equal(mb_catalog_find(c, "postJson")->body_content_type, "application/json");
    mb_catalog_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_media_choice),
        cmocka_unit_test(test_form_and_text),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_swagger2_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
