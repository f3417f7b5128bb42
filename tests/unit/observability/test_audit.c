/* Audit events and payload masking: the line written to stderr is parsed back (JSON and text
 * log formats) and its members checked; masked payloads never contain the secrets put in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"
#include "observability/audit.h"
#include "observability/payload_mask.h"

/* Runs fn with stderr redirected to a pipe; returns what was written (caller frees). */
static char *capture_stderr(void (*fn)(const void *), const void *arg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn(arg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *out = calloc(1, 65536);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, 65535 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    return out;
}

static void write_event(const void *arg)
{
    mb_audit(arg);
}

/* The JSON object of a line: the whole line (JSON format) or what follows ": {" (text). */
static json_t *parse_line(const char *line, bool json_format)
{
    const char *start = json_format ? line : strstr(line, ": {");
    assert_non_null(start);
    if (!json_format)
        start += 2;
    json_error_t err;
    json_t *v = json_loads(start, JSON_DISABLE_EOF_CHECK, &err);
    if (!v)
        fail_msg("not JSON (%s): %s", err.text, line);
    return v;
}

static void test_tool_call_event_json_format(void **state)
{
    (void)state;
    mb_log_setup(MB_LOG_INFO, true);
    struct mb_audit_event ev = {
        .category = "tool_call", .action = "call", .status = "ok", .client_id = "svc-\"quoted\"",
        .principal = "alice", .session_id = "0011aabb", .tool = "listPets", .duration_ms = 12.3456,
        .bytes = 2048, .http_status = 200, .guard = "trimmed", .extra = "\"arguments\":{\"limit\":5}",
    };
    char *out = capture_stderr(write_event, &ev);
    json_t *o = parse_line(out, true);
    assert_string_equal(json_string_value(json_object_get(o, "logger")), "audit");
    assert_string_equal(json_string_value(json_object_get(o, "category")), "tool_call");
    assert_string_equal(json_string_value(json_object_get(o, "client_id")), "svc-\"quoted\"");
    assert_string_equal(json_string_value(json_object_get(o, "tool")), "listPets");
    assert_true(json_real_value(json_object_get(o, "duration_ms")) > 12.34);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 2048);
    assert_int_equal(json_integer_value(json_object_get(o, "http_status")), 200);
    assert_string_equal(json_string_value(json_object_get(o, "guard")), "trimmed");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "arguments"), "limit")), 5);
    assert_non_null(json_object_get(o, "ts"));
    assert_null(json_object_get(o, "retry_after_ms")); /* unset numbers are left out */
    json_decref(o);
    free(out);
}

static void test_text_format_ends_in_an_object_with_ts(void **state)
{
    (void)state;
    mb_log_setup(MB_LOG_INFO, false);
    struct mb_audit_event ev = { .category = "rate_limit", .action = "check", .status = "deny", .key = "c:svc",
                                 .retry_after_ms = 250 };
    char *out = capture_stderr(write_event, &ev);
    assert_non_null(strstr(out, " INFO "));
    json_t *o = parse_line(out, false);
    assert_non_null(json_string_value(json_object_get(o, "ts")));
    assert_string_equal(json_string_value(json_object_get(o, "status")), "deny");
    assert_int_equal(json_integer_value(json_object_get(o, "retry_after_ms")), 250);
    json_decref(o);
    free(out);
}

static void test_audit_logger_off_writes_nothing(void **state)
{
    (void)state;
    mb_log_setup(MB_LOG_INFO, true);
    assert_int_equal(mb_log_set_logger_level("audit", MB_LOG_OFF), 0);
    struct mb_audit_event ev = { .category = "auth", .action = "authenticate", .status = "deny" };
    char *out = capture_stderr(write_event, &ev);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(mb_log_set_logger_level("audit", MB_LOG_INFO), 0);
}

static void test_long_strings_are_cut_and_line_stays_json(void **state)
{
    (void)state;
    mb_log_setup(MB_LOG_INFO, true);
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    struct mb_audit_event ev = { .category = "auth", .action = "authenticate", .status = "deny", .reason = big };
    char *out = capture_stderr(write_event, &ev);
    json_t *o = parse_line(out, true);
    assert_int_equal(strlen(json_string_value(json_object_get(o, "reason"))), 512);
    json_decref(o);
    free(out);
    free(big);
}

static void test_mask_json_hides_secrets(void **state)
{
    (void)state;
    json_t *args = json_pack("{s:s,s:s,s:{s:s,s:i},s:[{s:s}]}", "user", "bob", "password", "hunter2", "nested",
                             "Api_Key", "k-123", "count", 3, "items", "client_secret", "cs-9");
    char *text = mb_payload_mask_json(args, 4096);
    assert_non_null(text);
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "k-123"));
    assert_null(strstr(text, "cs-9"));
    assert_non_null(strstr(text, "\"bob\""));
    json_error_t err;
    json_t *back = json_loads(text, 0, &err);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "password")), "***");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(back, "nested"), "count")), 3);
    json_decref(back);
    json_decref(args);
    free(text);
}

static void test_mask_caps_size_and_stays_valid(void **state)
{
    (void)state;
    json_t *arr = json_array();
    for (int i = 0; i < 10000; i++)
        json_array_append_new(arr, json_pack("{s:i,s:s}", "id", i, "name", "a fairly long name for an item"));
    char *text = mb_payload_mask_json(arr, 2048);
    assert_non_null(text);
    assert_true(strlen(text) < 4096);
    json_error_t err;
    json_t *back = json_loads(text, 0, &err);
    assert_non_null(back);
    assert_true(json_array_size(back) < 10000);
    const char *last = json_string_value(json_array_get(back, json_array_size(back) - 1));
    assert_non_null(last);
    assert_non_null(strstr(last, "items"));
    json_decref(back);
    json_decref(arr);
    free(text);
}

static void test_mask_body_text_and_credentials(void **state)
{
    (void)state;
    const char *body = "error: upstream said Authorization: Bearer abc.def.ghi was refused";
    char *text = mb_payload_mask_body(body, strlen(body), 4096);
    assert_non_null(text);
    assert_null(strstr(text, "abc.def.ghi"));
    assert_non_null(strstr(text, "refused"));
    free(text);
    const char *json_body = "{\"token\":\"t0p\",\"ok\":true}";
    text = mb_payload_mask_body(json_body, strlen(json_body), 4096);
    assert_null(strstr(text, "t0p"));
    assert_non_null(strstr(text, "\"ok\":true"));
    free(text);
    const char bin[] = { 'a', (char)0xff, (char)0xfe, 'b' };
    text = mb_payload_mask_body(bin, sizeof bin, 4096);
    assert_non_null(strstr(text, "binary"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tool_call_event_json_format),
        cmocka_unit_test(test_text_format_ends_in_an_object_with_ts),
        cmocka_unit_test(test_audit_logger_off_writes_nothing),
        cmocka_unit_test(test_long_strings_are_cut_and_line_stays_json),
        cmocka_unit_test(test_mask_json_hides_secrets),
        cmocka_unit_test(test_mask_caps_size_and_stays_valid),
        cmocka_unit_test(test_mask_body_text_and_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
