/* Unit tests for mcp/resources: listing tests/fixtures/resources (plain files, _index.json and
 * _index.yaml mappings, templates), reads as text or base64 blob, template matching, the
 * per-file cap, traversal and symbolic-link escapes (in temporary directories), completion,
 * the shared helpers, and tests/conformance/fixture/resources against what
 * @modelcontextprotocol/conformance expects. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/diag.h"
#include "common/base64.h"
#include "mcp/resources.h"

#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="

static const char *source_dir(void)
{
    const char *s = getenv("MB_SOURCE_DIR");
    return s && *s ? s : ".";
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_link(const char *target, const char *dir, const char *name)
{
    char p[4096];
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof p);
    assert_int_equal(symlink(target, p), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct mb_resource_set *load_dir(const char *dir, size_t cap)
{
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_resource_set *set = mb_resources_load(dir, cap, &d);
    if (!set)
        mb_diags_print(&d, stderr);
    assert_non_null(set);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
    return set;
}

static struct mb_resource_set *load_fixture(const char *rel, size_t cap)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", source_dir(), rel);
    return load_dir(dir, cap);
}

static char *load_fails(const char *dir)
{
    struct mb_diags d;
    mb_diags_init(&d);
    assert_null(mb_resources_load(dir, 0, &d));
    assert_true(d.count > 0);
    char *joined = mb_diags_join(&d);
    mb_diags_dispose(&d);
    return joined;
}

/* Reads uri and returns contents[0] (the result is kept alive through *holder). */
static json_t *read_ok(const struct mb_resource_set *set, const char *uri, json_t **holder)
{
    json_t *r = NULL;
    int rc = mb_resources_read(set, uri, &r);
    if (rc != 0)
        fprintf(stderr, "read %s: %d\n", uri, rc);
    assert_int_equal(rc, 0);
    json_t *contents = json_object_get(r, "contents");
    assert_int_equal(json_array_size(contents), 1);
    *holder = r;
    json_t *c = json_array_get(contents, 0);
    assert_string_equal(json_string_value(json_object_get(c, "uri")), uri);
    return c;
}

static int read_rc(const struct mb_resource_set *set, const char *uri)
{
    json_t *r = NULL;
    int rc = mb_resources_read(set, uri, &r);
    if (rc != 0)
        assert_null(r);
    json_decref(r);
    return rc;
}

static const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void test_null_dir_is_empty(void **state)
{
    struct mb_resource_set *set = load_dir(NULL, 0);
    assert_int_equal(mb_resources_count(set), 0);
    json_t *l = mb_resources_list(set);
    assert_true(json_is_array(json_object_get(l, "resources")));
    assert_int_equal(json_array_size(json_object_get(l, "resources")), 0);
    json_decref(l);
    l = mb_resources_templates(set);
    assert_int_equal(json_array_size(json_object_get(l, "resourceTemplates")), 0);
    json_decref(l);
    assert_int_equal(read_rc(set, "file:///x"), -ENOENT);
    assert_false(mb_resources_exists(set, "file:///x"));
    mb_resources_destroy(set);
}

static void test_list(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/fixtures/resources/basic", 0);
    /* _index.json, .hidden, template files (items/{id}.json, greeting.txt) are not listed. */
    const char *uris[] = {"demo://readme", "file:///data/list.json", "file:///logo.png",
                          "file:///my%20notes.csv", "file:///raw.bin"};
    const char *mimes[] = {"text/plain", "application/json", "image/png", "text/csv", "application/octet-stream"};
    assert_int_equal(mb_resources_count(set), 5);
    json_t *l = mb_resources_list(set);
    json_t *arr = json_object_get(l, "resources");
    assert_int_equal(json_array_size(arr), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *e = json_array_get(arr, i);
        assert_string_equal(str(e, "uri"), uris[i]);
        assert_string_equal(str(e, "mimeType"), mimes[i]);
        assert_non_null(str(e, "name"));
    }
    json_t *readme = json_array_get(arr, 0);
    assert_string_equal(str(readme, "name"), "readme");
    assert_string_equal(str(readme, "title"), "Read me");
    assert_string_equal(str(readme, "description"), "What this directory holds");
    assert_string_equal(str(json_array_get(arr, 1), "name"), "data/list.json");
    json_decref(l);

    l = mb_resources_templates(set);
    arr = json_object_get(l, "resourceTemplates");
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(str(json_array_get(arr, 0), "uriTemplate"), "demo://items/{id}");
    assert_string_equal(str(json_array_get(arr, 0), "name"), "item");
    assert_string_equal(str(json_array_get(arr, 0), "mimeType"), "application/json");
    assert_string_equal(str(json_array_get(arr, 0), "description"), "One item by id");
    assert_string_equal(str(json_array_get(arr, 1), "mimeType"), "text/plain");
    json_decref(l);
    mb_resources_destroy(set);
}

static void test_read_text_and_blob(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/fixtures/resources/basic", 0);
    json_t *h;
    json_t *c = read_ok(set, "demo://readme", &h);
    assert_string_equal(str(c, "mimeType"), "text/plain");
    assert_string_equal(str(c, "text"), "Hello resources.\n");
    assert_null(json_object_get(c, "blob"));
    json_decref(h);
    c = read_ok(set, "file:///my%20notes.csv", &h);
    assert_string_equal(str(c, "text"), "a,b\n1,2\n");
    json_decref(h);
    c = read_ok(set, "file:///logo.png", &h);
    assert_string_equal(str(c, "mimeType"), "image/png");
    assert_string_equal(str(c, "blob"), PNG_B64);
    assert_null(json_object_get(c, "text"));
    json_decref(h);
    c = read_ok(set, "file:///raw.bin", &h);
    assert_string_equal(str(c, "mimeType"), "application/octet-stream");
    assert_string_equal(str(c, "blob"), "AAECYmluYXJ5");
    json_decref(h);
    /* Not listed, so not readable. */
    assert_int_equal(read_rc(set, "file:///readme.txt"), -ENOENT);
    assert_int_equal(read_rc(set, "file:///_index.json"), -ENOENT);
    assert_int_equal(read_rc(set, "file:///.hidden"), -ENOENT);
    assert_int_equal(read_rc(set, "file:///items/1.json"), -ENOENT);
    assert_int_equal(read_rc(set, "file:///my notes.csv"), -ENOENT);
    mb_resources_destroy(set);
}

static void test_templates(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/fixtures/resources/basic", 0);
    json_t *h;
    json_t *c = read_ok(set, "demo://items/2", &h);
    assert_string_equal(str(c, "mimeType"), "application/json");
    assert_string_equal(str(c, "text"), "{\"id\": \"2\", \"name\": \"Second item 2\"}\n");
    json_decref(h);
    c = read_ok(set, "demo://greeting/en/Bob", &h);
    assert_string_equal(str(c, "text"), "Hello Bob (en), {{other}} stays.");
    json_decref(h);
    /* A value is inserted literally: "{{name}}" in the URI is not expanded again. */
    c = read_ok(set, "demo://greeting/{{lang}}/x", &h);
    assert_string_equal(str(c, "text"), "Hello x ({{lang}}), {{other}} stays.");
    json_decref(h);

    assert_true(mb_resources_exists(set, "demo://items/7"));   /* matches; the file is missing */
    assert_int_equal(read_rc(set, "demo://items/7"), -ENOENT);
    assert_false(mb_resources_exists(set, "demo://items/"));   /* a variable needs a character */
    assert_false(mb_resources_exists(set, "demo://items/1/x")); /* and never takes a '/' */
    assert_false(mb_resources_exists(set, "demo://item/1"));
    assert_false(mb_resources_exists(set, "demo://greeting/en"));
    assert_false(mb_resources_exists(set, "demo://greeting/en/Bob/"));
    assert_true(mb_resources_exists(set, "demo://readme"));
    assert_int_equal(read_rc(set, "demo://items/"), -ENOENT);
    assert_int_equal(read_rc(set, "demo://items/1/x"), -ENOENT);
    mb_resources_destroy(set);
}

static void test_file_cap(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/fixtures/resources/basic", 10);
    assert_int_equal(read_rc(set, "demo://readme"), -EFBIG); /* 17 bytes */
    json_t *h;
    json_t *c = read_ok(set, "file:///raw.bin", &h); /* 9 bytes */
    assert_non_null(str(c, "blob"));
    json_decref(h);
    mb_resources_destroy(set);
}

static void test_yaml_index(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/fixtures/resources/yaml", 0);
    assert_int_equal(mb_resources_count(set), 1);
    json_t *l = mb_resources_list(set);
    json_t *e = json_array_get(json_object_get(l, "resources"), 0);
    assert_string_equal(str(e, "uri"), "yaml://a");
    assert_string_equal(str(e, "name"), "a.txt");
    assert_string_equal(str(e, "description"), "Mapped by _index.yaml");
    json_decref(l);
    json_t *h;
    json_t *c = read_ok(set, "yaml://a", &h);
    assert_string_equal(str(c, "text"), "From a YAML index.\n");
    json_decref(h);
    mb_resources_destroy(set);
}

static void test_traversal(void **state)
{
    char dir[] = "/tmp/mb_res_XXXXXX", out[] = "/tmp/mb_res_out_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(out));
    char target[4096], sub[4096];
    write_file(out, "secret.txt", "secret");
    write_file(dir, "ok.txt", "ok");
    write_file(dir, ".env", "TOKEN=secret");
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(sub, "deep.txt", "deep");
    snprintf(target, sizeof target, "%s/secret.txt", out);
    make_link(target, dir, "out.txt");    /* leads out */
    make_link(out, dir, "outdir");        /* a directory outside */
    make_link("ok.txt", dir, "in.txt");   /* stays inside */
    make_link("../ok.txt", sub, "up.txt"); /* stays inside through ".." */
    write_file(dir, "_index.json",
               "{\"templates\":[{\"uriTemplate\":\"t://raw/{name}\",\"file\":\"{name}\",\"mimeType\":\"text/plain\"},"
               "{\"uriTemplate\":\"t://sub/{name}\",\"file\":\"sub/{name}\",\"mimeType\":\"text/plain\"}]}");

    /* The template takes every file at the root and below sub/, so nothing is listed as file:/// */
    struct mb_resource_set *set = load_dir(dir, 0);
    assert_int_equal(mb_resources_count(set), 0);
    json_t *h;
    json_t *c = read_ok(set, "t://raw/ok.txt", &h);
    assert_string_equal(str(c, "text"), "ok");
    json_decref(h);
    c = read_ok(set, "t://raw/in.txt", &h);
    assert_string_equal(str(c, "text"), "ok");
    json_decref(h);
    c = read_ok(set, "t://sub/up.txt", &h);
    assert_string_equal(str(c, "text"), "ok");
    json_decref(h);
    assert_int_equal(read_rc(set, "t://raw/.."), -ENOENT);
    assert_int_equal(read_rc(set, "t://raw/."), -ENOENT);
    assert_int_equal(read_rc(set, "t://sub/.."), -ENOENT);
    assert_int_equal(read_rc(set, "t://raw/%2e%2e"), -ENOENT);
    assert_int_equal(read_rc(set, "t://raw/out.txt"), -ENOENT);
    assert_int_equal(read_rc(set, "t://raw/outdir"), -ENOENT);
    assert_int_equal(read_rc(set, "t://raw/_index.json"), -ENOENT); /* hidden from templates too */
    assert_int_equal(read_rc(set, "t://raw/.env"), -ENOENT);
    assert_int_equal(read_rc(set, "t://sub/.env"), -ENOENT);
    mb_resources_destroy(set);

    /* Without an index: the outward links are skipped, the inward ones listed. */
    snprintf(target, sizeof target, "%s/_index.json", dir);
    unlink(target);
    set = load_dir(dir, 0);
    json_t *l = mb_resources_list(set);
    json_t *arr = json_object_get(l, "resources");
    const char *uris[] = {"file:///in.txt", "file:///ok.txt", "file:///sub/deep.txt", "file:///sub/up.txt"};
    assert_int_equal(json_array_size(arr), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(str(json_array_get(arr, i), "uri"), uris[i]);
    json_decref(l);
    assert_int_equal(read_rc(set, "file:///out.txt"), -ENOENT);
    assert_int_equal(read_rc(set, "file:///outdir/secret.txt"), -ENOENT);
    assert_int_equal(read_rc(set, "file:///../ok.txt"), -ENOENT);
    mb_resources_destroy(set);

    /* Index entries that point outside fail the load. */
    const char *bad[] = {"../x.txt", "/etc/passwd", "sub/../../x", "out.txt", "outdir/secret.txt", "./ok.txt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char idx[512];
        snprintf(idx, sizeof idx, "{\"resources\":[{\"uri\":\"x://y\",\"file\":\"%s\"}]}", bad[i]);
        write_file(dir, "_index.json", idx);
        char *msg = load_fails(dir);
        assert_non_null(strstr(msg, bad[i]));
        free(msg);
    }
    write_file(dir, "_index.json", "{\"templates\":[{\"uriTemplate\":\"x://{a}\",\"file\":\"../{a}\"}]}");
    char *msg = load_fails(dir);
    assert_non_null(strstr(msg, "plain relative path"));
    free(msg);

    /* The helper itself. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    char real[4096];
    assert_non_null(realpath(dir, real));
    char *data = NULL;
    size_t len = 0;
    const char *refused[] = {"../ok.txt", "/etc/passwd", "sub/../ok.txt", "out.txt", "outdir/secret.txt", "", "a//b"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(mb_resources_read_beneath(fd, real, refused[i], 100, &data, &len), -EACCES);
        assert_null(data);
    }
    assert_int_equal(mb_resources_read_beneath(fd, real, "sub", 100, &data, &len), -ENOENT);
    assert_int_equal(mb_resources_read_beneath(fd, real, "missing", 100, &data, &len), -ENOENT);
    assert_int_equal(mb_resources_read_beneath(fd, real, "ok.txt", 1, &data, &len), -EFBIG);
    assert_int_equal(len, 2);
    assert_int_equal(mb_resources_read_beneath(fd, real, "sub/deep.txt", 100, &data, &len), 0);
    assert_int_equal(len, 4);
    assert_string_equal(data, "deep");
    free(data);
    close(fd);
    rm_tree(dir);
    rm_tree(out);
}

static void test_bad_index(void **state)
{
    char dir[] = "/tmp/mb_res_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "a.txt", "a");
    const struct {
        const char *index, *expect;
    } cases[] = {
        {"{\"templates\":[{\"uriTemplate\":\"x://{+a}\",\"file\":\"a.txt\"}]}", "level-1"},
        {"{\"templates\":[{\"uriTemplate\":\"x://{a}{b}\",\"file\":\"a.txt\"}]}", "adjacent"},
        {"{\"templates\":[{\"uriTemplate\":\"x://{a\",\"file\":\"a.txt\"}]}", "unclosed"},
        {"{\"templates\":[{\"uriTemplate\":\"x://{a}\",\"file\":\"{b}.txt\"}]}", "'b' is not in the uriTemplate"},
        {"{\"templates\":[{\"uriTemplate\":\"x://{a}\",\"file\":\"a.txt\",\"values\":{\"b\":[\"1\"]}}]}",
         "not a variable"},
        {"{\"templates\":[{\"uriTemplate\":\"x://{a}\",\"file\":\"a.txt\",\"values\":{\"a\":[1]}}]}",
         "list of strings"},
        {"{\"resources\":[{\"uri\":\"x://a\"}]}", "needs \"uri\" and \"file\""},
        {"{\"resources\":[{\"uri\":\"x://a\",\"file\":\"missing.txt\"}]}", "does not exist"},
        {"{\"resources\":[{\"uri\":\"x://a\",\"file\":\"a.txt\",\"name\":3}]}", "name must be a string"},
        {"{\"resources\":{}}", "must be lists"},
        {"[1]", "must be an object"},
        {"{\"resources\":[{\"uri\":\"x://a\",\"file\":\"a.txt\"},{\"uri\":\"x://a\",\"file\":\"a.txt\"}]}",
         "URI 'x://a' names both"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(dir, "_index.json", cases[i].index);
        char *msg = load_fails(dir);
        if (!strstr(msg, cases[i].expect))
            fprintf(stderr, "case %zu: %s\n", i, msg);
        assert_non_null(strstr(msg, cases[i].expect));
        free(msg);
    }
    rm_tree(dir);
    char *msg = load_fails("/nonexistent/mb/resources");
    assert_non_null(strstr(msg, "resources directory"));
    free(msg);
}

static void test_completion(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/fixtures/resources/basic", 0);
    json_t *v = mb_resources_complete(set, "demo://items/{id}", "id", "1");
    json_t *expect = json_pack("[s,s]", "1", "12");
    assert_true(json_equal(v, expect));
    json_decref(expect);
    json_decref(v);
    v = mb_resources_complete(set, "demo://items/{id}", "id", "");
    assert_int_equal(json_array_size(v), 4);
    json_decref(v);
    v = mb_resources_complete(set, "demo://items/{id}", "id", "9");
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    v = mb_resources_complete(set, "demo://greeting/{lang}/{name}", "lang", "e");
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    assert_null(mb_resources_complete(set, "demo://items/{id}", "nope", ""));
    assert_null(mb_resources_complete(set, "demo://nope/{id}", "id", ""));
    mb_resources_destroy(set);
}

static void test_helpers(void **state)
{
    assert_string_equal(mb_resources_mime_type("a.txt"), "text/plain");
    assert_string_equal(mb_resources_mime_type("dir.d/A.MD"), "text/markdown");
    assert_string_equal(mb_resources_mime_type("x.json"), "application/json");
    assert_string_equal(mb_resources_mime_type("x.html"), "text/html");
    assert_string_equal(mb_resources_mime_type("x.csv"), "text/csv");
    assert_string_equal(mb_resources_mime_type("x.xml"), "application/xml");
    assert_string_equal(mb_resources_mime_type("x.png"), "image/png");
    assert_string_equal(mb_resources_mime_type("x.jpg"), "image/jpeg");
    assert_string_equal(mb_resources_mime_type("x.gif"), "image/gif");
    assert_string_equal(mb_resources_mime_type("x.svg"), "image/svg+xml");
    assert_string_equal(mb_resources_mime_type("x.wav"), "audio/wav");
    assert_string_equal(mb_resources_mime_type("x.mp3"), "audio/mpeg");
    assert_string_equal(mb_resources_mime_type("x.pdf"), "application/pdf");
    assert_string_equal(mb_resources_mime_type("x.bin"), "application/octet-stream");
    assert_string_equal(mb_resources_mime_type("x.unknown"), "application/octet-stream");
    assert_string_equal(mb_resources_mime_type(".txt"), "application/octet-stream");
    assert_string_equal(mb_resources_mime_type("a.txt/noext"), "application/octet-stream");
    assert_true(mb_resources_mime_is_text("text/csv"));
    assert_true(mb_resources_mime_is_text("application/json"));
    assert_true(mb_resources_mime_is_text("image/svg+xml"));
    assert_true(mb_resources_mime_is_text("application/ld+json"));
    assert_false(mb_resources_mime_is_text("image/png"));
    assert_false(mb_resources_mime_is_text("application/octet-stream"));

    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *b = mb_base64_encode(in[i], strlen(in[i]));
        assert_string_equal(b, out[i]);
        free(b);
    }

    json_t *vals = json_pack("{s:s, s:i}", "a", "{{b}}", "n", 1);
    struct mb_buf buf;
    mb_buf_init(&buf, 1024);
    const char *t = "x{{a}}y{{ a }}{{b}}{{n}}{{}}{{a";
    assert_int_equal(mb_resources_substitute(t, strlen(t), vals, &buf), 0);
    assert_string_equal(buf.data, "x{{b}}y{{b}}{{b}}{{n}}{{}}{{a");
    mb_buf_dispose(&buf);
    mb_buf_init(&buf, 4);
    assert_int_equal(mb_resources_substitute(t, strlen(t), vals, &buf), -E2BIG);
    mb_buf_dispose(&buf);
    json_decref(vals);
}

/* What @modelcontextprotocol/conformance 0.1.16 (resources-*, completion) expects. */
static void test_conformance_fixture(void **state)
{
    struct mb_resource_set *set = load_fixture("tests/conformance/fixture/resources", 0);
    json_t *l = mb_resources_list(set);
    json_t *arr = json_object_get(l, "resources");
    assert_int_equal(json_array_size(arr), 3);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        assert_true(json_string_length(json_object_get(e, "uri")) > 0);
        assert_true(json_string_length(json_object_get(e, "name")) > 0);
        assert_true(json_string_length(json_object_get(e, "description")) > 0);
    }
    json_decref(l);
    l = mb_resources_templates(set);
    arr = json_object_get(l, "resourceTemplates");
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(str(json_array_get(arr, 0), "uriTemplate"), "test://template/{id}/data");
    json_decref(l);

    json_t *r = NULL;
    assert_int_equal(mb_resources_read(set, "test://static-text", &r), 0);
    json_t *expect = json_loads("{\"contents\":[{\"uri\":\"test://static-text\",\"mimeType\":\"text/plain\","
                                "\"text\":\"This is the content of the static text resource.\"}]}",
                                0, NULL);
    assert_true(json_equal(r, expect));
    json_decref(expect);
    json_decref(r);

    assert_int_equal(mb_resources_read(set, "test://static-binary", &r), 0);
    expect = json_loads("{\"contents\":[{\"uri\":\"test://static-binary\",\"mimeType\":\"image/png\","
                        "\"blob\":\"" PNG_B64 "\"}]}",
                        0, NULL);
    assert_true(json_equal(r, expect));
    json_decref(expect);
    json_decref(r);

    assert_int_equal(mb_resources_read(set, "test://template/123/data", &r), 0);
    expect = json_loads("{\"contents\":[{\"uri\":\"test://template/123/data\",\"mimeType\":\"application/json\","
                        "\"text\":\"{\\\"id\\\":\\\"123\\\",\\\"templateTest\\\":true,"
                        "\\\"data\\\":\\\"Data for ID: 123\\\"}\"}]}",
                        0, NULL);
    assert_non_null(expect);
    assert_true(json_equal(r, expect));
    json_decref(expect);
    json_decref(r);

    assert_true(mb_resources_exists(set, "test://watched-resource"));
    assert_int_equal(mb_resources_read(set, "test://watched-resource", &r), 0);
    assert_string_equal(str(json_array_get(json_object_get(r, "contents"), 0), "text"), "Watched resource content");
    json_decref(r);
    assert_false(mb_resources_exists(set, "test://nothing"));

    json_t *v = mb_resources_complete(set, "test://template/{id}/data", "id", "1");
    assert_int_equal(json_array_size(v), 1);
    json_decref(v);
    mb_resources_destroy(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_dir_is_empty),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_read_text_and_blob),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_file_cap),
        cmocka_unit_test(test_yaml_index),
        cmocka_unit_test(test_traversal),
        cmocka_unit_test(test_bad_index),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_conformance_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
