/* Unit tests for mcp/prompts: loading tests/fixtures/prompts, front matter, prompts/get with
 * substitution, images and embedded resources, the aggregate size guard, confinement of
 * referenced files (made in temporary directories), completion, and the conformance fixture
 * tests/conformance/fixture/prompts against what @modelcontextprotocol/conformance expects. */
#include <errno.h>
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

#include "common/diag.h"
#include "mcp/prompts.h"

#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="

static const char *source_dir(void)
{
    const char *s = getenv("MB_SOURCE_DIR");
    return s && *s ? s : ".";
}

static void fixture(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "%s/%s", source_dir(), rel);
}

static off_t file_size(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof p);
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
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

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Loads dir with cap and expects a failure; returns the joined diagnostics (caller frees). */
static char *load_fails(const char *dir, size_t cap)
{
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_prompt_set *set = mb_prompts_load(dir, cap, &d);
    assert_null(set);
    assert_true(d.count > 0);
    char *joined = mb_diags_join(&d);
    mb_diags_dispose(&d);
    assert_non_null(joined);
    return joined;
}

static struct mb_prompt_set *load_ok(const char *rel, size_t cap)
{
    char dir[4096];
    fixture(dir, sizeof dir, rel);
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_prompt_set *set = mb_prompts_load(dir, cap, &d);
    if (!set)
        mb_diags_print(&d, stderr);
    assert_non_null(set);
    assert_int_equal(d.count, 0);
    mb_diags_dispose(&d);
    return set;
}

static json_t *get_ok(const struct mb_prompt_set *set, const char *name, const char *args_json)
{
    json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;
    json_t *result = NULL;
    char msg[256];
    int rc = mb_prompts_get(set, name, args, &result, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "get %s: %d %s\n", name, rc, msg);
    assert_int_equal(rc, 0);
    assert_non_null(result);
    json_decref(args);
    return result;
}

static const char *msg_text(json_t *result, size_t i)
{
    json_t *m = json_array_get(json_object_get(result, "messages"), i);
    return json_string_value(json_object_get(json_object_get(m, "content"), "text"));
}

static void test_null_dir_is_empty(void **state)
{
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_prompt_set *set = mb_prompts_load(NULL, 0, &d);
    assert_non_null(set);
    assert_int_equal(mb_prompts_count(set), 0);
    json_t *list = mb_prompts_list(set);
    assert_int_equal(json_array_size(json_object_get(list, "prompts")), 0);
    assert_true(json_is_array(json_object_get(list, "prompts")));
    json_decref(list);
    mb_prompts_destroy(set);
    mb_diags_dispose(&d);
}

static void test_list(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    assert_int_equal(mb_prompts_count(set), 4); /* bad+name.md is skipped */
    json_t *list = mb_prompts_list(set);
    json_t *prompts = json_object_get(list, "prompts");
    assert_int_equal(json_array_size(prompts), 4);
    const char *names[] = {"embedded", "greet", "simple", "with_image"};
    for (size_t i = 0; i < 4; i++) {
        json_t *p = json_array_get(prompts, i);
        assert_string_equal(json_string_value(json_object_get(p, "name")), names[i]);
        assert_true(json_is_string(json_object_get(p, "description")));
    }
    json_t *greet = json_array_get(prompts, 1);
    assert_string_equal(json_string_value(json_object_get(greet, "title")), "Greeting");
    assert_string_equal(json_string_value(json_object_get(greet, "description")), "Greets someone by name.");
    json_t *args = json_object_get(greet, "arguments");
    assert_int_equal(json_array_size(args), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(args, 0), "name")), "name");
    assert_true(json_is_true(json_object_get(json_array_get(args, 0), "required")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(args, 0), "description")),
                        "Who to greet");
    assert_true(json_is_false(json_object_get(json_array_get(args, 1), "required")));
    /* Without front matter the description is the first line of the body. */
    json_t *simple = json_array_get(prompts, 2);
    assert_string_equal(json_string_value(json_object_get(simple, "description")), "Say hello");
    assert_null(json_object_get(simple, "arguments"));
    json_decref(list);
    mb_prompts_destroy(set);
}

static void test_unknown_prompt(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    json_t *result = (json_t *)1;
    char msg[128];
    assert_int_equal(mb_prompts_get(set, "nope", NULL, &result, msg, sizeof msg), -ENOENT);
    assert_null(result);
    assert_non_null(strstr(msg, "nope"));
    assert_int_equal(mb_prompts_get(set, "bad+name", NULL, &result, msg, sizeof msg), -ENOENT);
    mb_prompts_destroy(set);
}

static void test_missing_and_bad_arguments(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    json_t *result = NULL;
    char msg[128];
    json_t *args = json_pack("{s:s}", "tone", "formal");
    assert_int_equal(mb_prompts_get(set, "greet", args, &result, msg, sizeof msg), -EINVAL);
    assert_null(result);
    assert_non_null(strstr(msg, "missing required argument 'name'"));
    json_decref(args);
    assert_int_equal(mb_prompts_get(set, "greet", NULL, &result, msg, sizeof msg), -EINVAL);
    args = json_pack("{s:i}", "name", 5);
    assert_int_equal(mb_prompts_get(set, "greet", args, &result, msg, sizeof msg), -EINVAL);
    assert_non_null(strstr(msg, "'name' must be a string"));
    json_decref(args);
    args = json_pack("[s]", "x");
    assert_int_equal(mb_prompts_get(set, "greet", args, &result, msg, sizeof msg), -EINVAL);
    json_decref(args);
    mb_prompts_destroy(set);
}

static void test_substitution(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    /* Values are inserted literally (not scanned again); a declared optional argument left
     * out becomes empty; unknown and malformed placeholders stay. */
    json_t *r = get_ok(set, "greet", "{\"name\": \"{{tone}} Bob\"}");
    assert_string_equal(json_string_value(json_object_get(r, "description")), "Greets someone by name.");
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 1);
    assert_string_equal(msg_text(r, 0), "Hello {{tone}} Bob, in a  tone. Keep {{unknown}} and {{ name as they are.");
    json_t *m0 = json_array_get(json_object_get(r, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "role")), "user");
    json_decref(r);
    r = get_ok(set, "greet", "{\"name\": \"Ann\", \"tone\": \"funny\", \"extra\": \"x\"}");
    assert_string_equal(msg_text(r, 0), "Hello Ann, in a funny tone. Keep {{unknown}} and {{ name as they are.");
    json_decref(r);
    /* Getting twice gives the same result: the templates are not changed by a get. */
    r = get_ok(set, "greet", "{\"name\": \"Ann\", \"tone\": \"funny\"}");
    assert_string_equal(msg_text(r, 0), "Hello Ann, in a funny tone. Keep {{unknown}} and {{ name as they are.");
    json_decref(r);
    r = get_ok(set, "simple", NULL);
    assert_string_equal(msg_text(r, 0), "# Say hello\n\nHello from a prompt without front matter.");
    json_decref(r);
    mb_prompts_destroy(set);
}

static void test_image_content(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    json_t *r = get_ok(set, "with_image", NULL);
    json_t *msgs = json_object_get(r, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    json_t *c = json_object_get(json_array_get(msgs, 0), "content");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "image");
    assert_string_equal(json_string_value(json_object_get(c, "mimeType")), "image/png");
    assert_string_equal(json_string_value(json_object_get(c, "data")), PNG_B64);
    assert_string_equal(msg_text(r, 1), "Describe the image above.");
    json_decref(r);
    mb_prompts_destroy(set);
}

static void test_embedded_resource(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    json_t *r = get_ok(set, "embedded", "{\"uri\": \"test://x\"}");
    json_t *msgs = json_object_get(r, "messages");
    assert_int_equal(json_array_size(msgs), 3); /* empty body adds no message */
    json_t *c = json_object_get(json_array_get(msgs, 0), "content");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "resource");
    json_t *res = json_object_get(c, "resource");
    assert_string_equal(json_string_value(json_object_get(res, "uri")), "test://x");
    assert_string_equal(json_string_value(json_object_get(res, "mimeType")), "text/plain");
    assert_string_equal(json_string_value(json_object_get(res, "text")), "Inline text for test://x");
    json_t *m1 = json_array_get(msgs, 1);
    assert_string_equal(json_string_value(json_object_get(m1, "role")), "assistant");
    res = json_object_get(json_object_get(m1, "content"), "resource");
    assert_string_equal(json_string_value(json_object_get(res, "uri")), "notes://fixed");
    assert_string_equal(json_string_value(json_object_get(res, "text")), "Notes beside the prompts.\n");
    assert_string_equal(json_string_value(json_object_get(res, "mimeType")), "text/plain");
    assert_string_equal(msg_text(r, 2), "I have read test://x.");
    json_decref(r);
    mb_prompts_destroy(set);
}

static void test_size_guard(void **state)
{
    char dir[4096];
    fixture(dir, sizeof dir, "tests/fixtures/prompts/ok");
    size_t md = (size_t)(file_size(dir, "embedded.md") + file_size(dir, "greet.md") +
                         file_size(dir, "simple.md") + file_size(dir, "with_image.md"));
    size_t refs = (size_t)(file_size(dir, "notes.txt") + file_size(dir, "pixel.png"));
    char expect[256];

    char *msg = load_fails(dir, 100);
    snprintf(expect, sizeof expect, "prompt files total %zu bytes, over assistant.prompts.max_total_bytes 100", md);
    assert_non_null(strstr(msg, expect));
    snprintf(expect, sizeof expect, "largest: greet.md (%zu bytes), embedded.md (%zu bytes), with_image.md (%zu bytes)",
             (size_t)file_size(dir, "greet.md"), (size_t)file_size(dir, "embedded.md"),
             (size_t)file_size(dir, "with_image.md"));
    assert_non_null(strstr(msg, expect));
    free(msg);

    /* Referenced images and files count too. */
    msg = load_fails(dir, md + refs - 1);
    snprintf(expect, sizeof expect, "total %zu bytes, over assistant.prompts.max_total_bytes %zu", md + refs,
             md + refs - 1);
    assert_non_null(strstr(msg, expect));
    free(msg);

    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", md + refs);
    assert_int_equal(mb_prompts_count(set), 4);
    mb_prompts_destroy(set);
}

static void test_bad_front_matter(void **state)
{
    char dir[4096];
    fixture(dir, sizeof dir, "tests/fixtures/prompts/bad_yaml");
    struct mb_diags d;
    mb_diags_init(&d);
    assert_null(mb_prompts_load(dir, 0, &d));
    assert_true(d.count > 0);
    assert_non_null(d.items[0].file);
    assert_non_null(strstr(d.items[0].file, "broken.md"));
    assert_true(d.items[0].line >= 2 && d.items[0].line <= 4);
    mb_diags_dispose(&d);

    fixture(dir, sizeof dir, "tests/fixtures/prompts/unclosed");
    char *msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "never closed"));
    free(msg);
}

static void test_front_matter_types(void **state)
{
    char dir[] = "/tmp/mb_prompts_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "a.md", "---\narguments: 3\n---\nx\n");
    char *msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "arguments must be a list"));
    free(msg);
    write_file(dir, "a.md", "---\nmessages:\n  - role: system\n    text: hi\n---\n");
    msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "role is user or assistant"));
    free(msg);
    write_file(dir, "a.md", "---\nmessages:\n  - text: hi\n    image: x.png\n---\n");
    msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "exactly one of text, image, resource"));
    free(msg);
    write_file(dir, "a.md", "---\narguments:\n  - name: a b\n---\n");
    msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "[A-Za-z0-9_.-]+"));
    free(msg);
    /* Empty front matter and a plain "---" rule later in the body are fine. */
    write_file(dir, "a.md", "---\n---\nText\n\n---\nmore\n");
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_prompt_set *set = mb_prompts_load(dir, 0, &d);
    assert_non_null(set);
    json_t *r = get_ok(set, "a", NULL);
    assert_string_equal(msg_text(r, 0), "Text\n\n---\nmore");
    json_decref(r);
    mb_prompts_destroy(set);
    mb_diags_dispose(&d);
    rm_tree(dir);
}

static void test_confinement(void **state)
{
    char dir[] = "/tmp/mb_prompts_XXXXXX", out[] = "/tmp/mb_prompts_out_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(out));
    write_file(out, "secret.png", "secret");
    write_file(out, "outside.md", "outside prompt");
    char link[4096], target[4096];

    write_file(dir, "p.md", "---\nmessages:\n  - image: ../mb_x.png\n---\n");
    char *msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "must be a plain relative path inside the prompts directory"));
    free(msg);

    write_file(dir, "p.md", "---\nmessages:\n  - image: /etc/hostname.png\n---\n");
    msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "must be a plain relative path"));
    free(msg);

    write_file(dir, "p.md", "---\nmessages:\n  - resource: {uri: a://b, file: sub/../../x.txt}\n---\n");
    msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "must be a plain relative path"));
    free(msg);

    /* A symbolic link beside the prompt that leads out of the directory. */
    snprintf(link, sizeof link, "%s/img.png", dir);
    snprintf(target, sizeof target, "%s/secret.png", out);
    assert_int_equal(symlink(target, link), 0);
    write_file(dir, "p.md", "---\nmessages:\n  - image: img.png\n---\n");
    msg = load_fails(dir, 0);
    assert_non_null(strstr(msg, "img.png"));
    free(msg);

    /* A prompt file that is a symbolic link out of the directory is skipped. */
    unlink(link);
    write_file(dir, "p.md", "plain\n");
    snprintf(link, sizeof link, "%s/leak.md", dir);
    snprintf(target, sizeof target, "%s/outside.md", out);
    assert_int_equal(symlink(target, link), 0);
    struct mb_diags d;
    mb_diags_init(&d);
    struct mb_prompt_set *set = mb_prompts_load(dir, 0, &d);
    assert_non_null(set);
    assert_int_equal(mb_prompts_count(set), 1);
    json_t *result = NULL;
    char m[64];
    assert_int_equal(mb_prompts_get(set, "leak", NULL, &result, m, sizeof m), -ENOENT);
    mb_prompts_destroy(set);
    mb_diags_dispose(&d);
    rm_tree(dir);
    rm_tree(out);
}

static void test_completion(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/fixtures/prompts/ok", 0);
    json_t *v = mb_prompts_complete(set, "greet", "tone", "f");
    assert_int_equal(json_array_size(v), 4);
    json_decref(v);
    v = mb_prompts_complete(set, "greet", "tone", "fa");
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(json_string_value(json_array_get(v, 0)), "fancy");
    json_decref(v);
    v = mb_prompts_complete(set, "greet", "tone", "x");
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    v = mb_prompts_complete(set, "greet", "name", "");
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    assert_null(mb_prompts_complete(set, "greet", "nope", ""));
    assert_null(mb_prompts_complete(set, "nope", "tone", ""));
    mb_prompts_destroy(set);
}

/* What @modelcontextprotocol/conformance 0.1.16 (prompts-*, completion-complete) expects. */
static void test_conformance_fixture(void **state)
{
    struct mb_prompt_set *set = load_ok("tests/conformance/fixture/prompts", 0);
    assert_int_equal(mb_prompts_count(set), 4);
    json_t *list = mb_prompts_list(set);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "prompts"), i, p) {
        assert_true(json_string_length(json_object_get(p, "name")) > 0);
        assert_true(json_string_length(json_object_get(p, "description")) > 0);
    }
    json_decref(list);

    json_t *r = get_ok(set, "test_simple_prompt", NULL);
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 1);
    assert_string_equal(msg_text(r, 0), "This is a simple prompt for testing.");
    json_decref(r);

    r = get_ok(set, "test_prompt_with_arguments", "{\"arg1\": \"hello\", \"arg2\": \"world\"}");
    assert_string_equal(msg_text(r, 0), "Prompt with arguments: arg1='hello', arg2='world'");
    json_decref(r);

    r = get_ok(set, "test_prompt_with_embedded_resource", "{\"resourceUri\": \"test://example-resource\"}");
    json_t *expect = json_loads(
        "[{\"role\":\"user\",\"content\":{\"type\":\"resource\",\"resource\":{\"uri\":\"test://example-resource\","
        "\"mimeType\":\"text/plain\",\"text\":\"Embedded resource content for testing.\"}}},"
        "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Please process the embedded resource above.\"}}]",
        0, NULL);
    assert_true(json_equal(json_object_get(r, "messages"), expect));
    json_decref(expect);
    json_decref(r);

    r = get_ok(set, "test_prompt_with_image", NULL);
    expect = json_loads("[{\"role\":\"user\",\"content\":{\"type\":\"image\",\"data\":\"" PNG_B64
                        "\",\"mimeType\":\"image/png\"}},"
                        "{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"Please analyze the image above.\"}}]",
                        0, NULL);
    assert_true(json_equal(json_object_get(r, "messages"), expect));
    json_decref(expect);
    json_decref(r);

    json_t *v = mb_prompts_complete(set, "test_prompt_with_arguments", "arg1", "par");
    expect = json_pack("[s,s,s]", "paris", "park", "party");
    assert_true(json_equal(v, expect));
    json_decref(expect);
    json_decref(v);
    v = mb_prompts_complete(set, "test_prompt_with_arguments", "arg1", "test");
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    mb_prompts_destroy(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_dir_is_empty),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_unknown_prompt),
        cmocka_unit_test(test_missing_and_bad_arguments),
        cmocka_unit_test(test_substitution),
        cmocka_unit_test(test_image_content),
        cmocka_unit_test(test_embedded_resource),
        cmocka_unit_test(test_size_guard),
        cmocka_unit_test(test_bad_front_matter),
        cmocka_unit_test(test_front_matter_types),
        cmocka_unit_test(test_confinement),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_conformance_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
