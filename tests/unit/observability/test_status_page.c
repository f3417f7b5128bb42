/* mb_status_page_render: the embedded page with the metrics path filled in, escaped so a path
 * cannot end the JavaScript string or the <script> element; buffer errors reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "observability/status_page.h"

static void test_plain_path_fills_the_placeholder(void **state)
{
    (void)state;
    struct mb_buf out;
    mb_buf_init(&out, 1 << 20);
    assert_int_equal(mb_status_page_render("/admin/metrics", &out), 0);
    assert_non_null(strstr(out.data, "<!DOCTYPE html>"));
    assert_non_null(strstr(out.data, "const METRICS_PATH = \"/admin/metrics\";"));
    assert_null(strstr(out.data, MB_STATUS_PAGE_METRICS_PLACEHOLDER));
    assert_null(strstr(out.data, "src=\"http"));
    assert_null(strstr(out.data, "href=\"http"));
    mb_buf_dispose(&out);
}

static void test_hostile_path_is_escaped(void **state)
{
    (void)state;
    struct mb_buf out;
    mb_buf_init(&out, 1 << 20);
    assert_int_equal(mb_status_page_render("/m\"</script><b>'\\\n\xc3\xa9", &out), 0);
    assert_non_null(strstr(out.data, "const METRICS_PATH = \"/m\\u0022\\u003c/script\\u003e\\u003cb\\u003e"
                                     "\\u0027\\u005c\\u000a\xc3\xa9\";"));
    /* The page's own </script> is the only one. */
    const char *first = strstr(out.data, "</script>");
    assert_non_null(first);
    assert_null(strstr(first + 1, "</script>"));
    mb_buf_dispose(&out);
}

static void test_errors(void **state)
{
    (void)state;
    struct mb_buf out;
    mb_buf_init(&out, 1 << 20);
    assert_int_equal(mb_status_page_render(NULL, &out), -EINVAL);
    assert_int_equal(mb_status_page_render("", &out), -EINVAL);
    assert_int_equal(out.len, 0);
    mb_buf_dispose(&out);
    mb_buf_init(&out, 1000);
    assert_int_equal(mb_status_page_render("/metrics", &out), -E2BIG);
    mb_buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_path_fills_the_placeholder),
        cmocka_unit_test(test_hostile_path_is_escaped),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
