/* Unit tests for limits/circuit.c: the breaker opens at the error threshold only once
 * min_requests outcomes are in the window, stays closed below the threshold, lets exactly one
 * half-open probe through after the cool-down, closes on a good probe and reopens on a bad one,
 * forgets errors that rolled out of the window, and stays bounded in hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "limits/circuit.h"

#define H "api.example.com:443"

static struct mb_circuit_set *make(unsigned window, unsigned min_requests, unsigned open_seconds)
{
    struct mb_circuit_options o;
    mb_circuit_options_default(&o);
    o.window_seconds = window;
    o.min_requests = min_requests;
    o.open_seconds = open_seconds;
    struct mb_circuit_set *set = mb_circuit_create(&o);
    assert_non_null(set);
    return set;
}

static void test_defaults_and_validation(void **state)
{
    (void)state;
    struct mb_circuit_options o;
    mb_circuit_options_default(&o);
    assert_true(o.error_threshold == 0.5);
    assert_int_equal(o.window_seconds, 60);
    assert_int_equal(o.min_requests, 10);
    assert_int_equal(o.open_seconds, 30);
    assert_int_equal(o.max_hosts, 256);
    struct mb_circuit_options bad = o;
    bad.error_threshold = 0;
    assert_null(mb_circuit_create(&bad));
    bad = o;
    bad.error_threshold = 1.5;
    assert_null(mb_circuit_create(&bad));
    bad = o;
    bad.window_seconds = 0;
    assert_null(mb_circuit_create(&bad));
    bad = o;
    bad.min_requests = 0;
    assert_null(mb_circuit_create(&bad));
    bad = o;
    bad.max_hosts = 0;
    assert_null(mb_circuit_create(&bad));
    struct mb_circuit_set *set = mb_circuit_create(NULL);
    assert_non_null(set);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    assert_true(mb_circuit_allow(set, NULL, 0, NULL));
    assert_true(mb_circuit_allow(set, "", 0, NULL));
    assert_int_equal(mb_circuit_count(set), 0);
    assert_string_equal(mb_circuit_state_name(MB_CIRCUIT_HALF_OPEN), "half_open");
    assert_string_equal(mb_circuit_state_name(MB_CIRCUIT_OPEN), "open");
    assert_string_equal(mb_circuit_state_name(MB_CIRCUIT_CLOSED), "closed");
    mb_circuit_destroy(set);
    mb_circuit_destroy(NULL);
}

/* Nine failures out of nine stay closed with min_requests 10; the tenth opens. */
static void test_opens_only_after_min_requests(void **state)
{
    (void)state;
    struct mb_circuit_set *set = make(60, 10, 30);
    uint64_t now = 1000000;
    for (int i = 0; i < 9; i++) {
        assert_true(mb_circuit_allow(set, H, now, NULL));
        mb_circuit_record(set, H, false, now);
        assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
        now += 10;
    }
    assert_true(mb_circuit_allow(set, H, now, NULL));
    mb_circuit_record(set, H, false, now);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_OPEN);
    uint64_t retry = 0;
    assert_false(mb_circuit_allow(set, H, now + 1000, &retry));
    assert_int_equal(retry, 29000);
    /* Another host is unaffected. */
    assert_true(mb_circuit_allow(set, "other:80", now, NULL));
    assert_int_equal(mb_circuit_state(set, "other:80"), MB_CIRCUIT_CLOSED);
    mb_circuit_destroy(set);
}

/* 0.4 and 0.45 stay closed; reaching 0.5 opens, also when the last outcome is a success that
 * brings the count to min_requests. */
static void test_threshold(void **state)
{
    (void)state;
    struct mb_circuit_set *set = make(60, 10, 30);
    uint64_t now = 5000;
    for (int i = 0; i < 10; i++)
        mb_circuit_record(set, H, i < 6, now); /* 6 ok, 4 errors */
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    mb_circuit_record(set, H, false, now); /* 5 / 11 */
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    mb_circuit_record(set, H, false, now); /* 6 / 12 */
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_OPEN);

    struct mb_circuit_set *set2 = make(60, 10, 30);
    for (int i = 0; i < 5; i++)
        mb_circuit_record(set2, H, false, now);
    for (int i = 0; i < 4; i++)
        mb_circuit_record(set2, H, true, now);
    assert_int_equal(mb_circuit_state(set2, H), MB_CIRCUIT_CLOSED); /* 9 < min_requests */
    mb_circuit_record(set2, H, true, now); /* 5 / 10 = 0.5 */
    assert_int_equal(mb_circuit_state(set2, H), MB_CIRCUIT_OPEN);
    mb_circuit_destroy(set);
    mb_circuit_destroy(set2);
}

static uint64_t open_it(struct mb_circuit_set *set, uint64_t now)
{
    for (int i = 0; i < 10; i++)
        mb_circuit_record(set, H, false, now);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_OPEN);
    return now;
}

static void test_half_open_single_probe_success_closes(void **state)
{
    (void)state;
    struct mb_circuit_set *set = make(60, 10, 30);
    uint64_t opened = open_it(set, 100000);
    uint64_t retry;
    assert_false(mb_circuit_allow(set, H, opened + 29999, &retry));
    assert_int_equal(retry, 1);
    /* Outcomes of calls started before it opened are ignored. */
    mb_circuit_record(set, H, true, opened + 100);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_OPEN);
    /* Cool-down over: exactly one probe. */
    assert_true(mb_circuit_allow(set, H, opened + 30000, NULL));
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_HALF_OPEN);
    for (int i = 0; i < 5; i++) {
        retry = 0;
        assert_false(mb_circuit_allow(set, H, opened + 30001 + (uint64_t)i, &retry));
        assert_true(retry >= 1 && retry <= 1000);
    }
    mb_circuit_record(set, H, true, opened + 30200);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    /* Counters were reset: nine fresh failures do not reopen it. */
    for (int i = 0; i < 9; i++) {
        assert_true(mb_circuit_allow(set, H, opened + 30300, NULL));
        mb_circuit_record(set, H, false, opened + 30300);
    }
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    mb_circuit_destroy(set);
}

static void test_probe_failure_reopens(void **state)
{
    (void)state;
    struct mb_circuit_set *set = make(60, 10, 30);
    uint64_t opened = open_it(set, 100000);
    uint64_t t = opened + 31000;
    assert_true(mb_circuit_allow(set, H, t, NULL));
    mb_circuit_record(set, H, false, t + 50);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_OPEN);
    uint64_t retry = 0;
    assert_false(mb_circuit_allow(set, H, t + 50, &retry));
    assert_int_equal(retry, 30000);
    assert_false(mb_circuit_allow(set, H, t + 50 + 29999, NULL));
    assert_true(mb_circuit_allow(set, H, t + 50 + 30000, NULL));
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_HALF_OPEN);
    mb_circuit_destroy(set);
}

/* A probe never reported (its call was cancelled) stops blocking after open_seconds. */
static void test_lost_probe_expires(void **state)
{
    (void)state;
    struct mb_circuit_set *set = make(60, 10, 5);
    uint64_t opened = open_it(set, 100000);
    assert_true(mb_circuit_allow(set, H, opened + 5000, NULL));
    assert_false(mb_circuit_allow(set, H, opened + 9999, NULL));
    assert_true(mb_circuit_allow(set, H, opened + 10000, NULL));
    assert_false(mb_circuit_allow(set, H, opened + 10001, NULL));
    mb_circuit_record(set, H, true, opened + 10100);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    mb_circuit_destroy(set);
}

/* Window of 10 s in 1 s buckets: errors older than the window no longer count. */
static void test_window_rolls(void **state)
{
    (void)state;
    struct mb_circuit_set *set = make(10, 10, 30);
    uint64_t t0 = 1000000; /* a bucket boundary */
    for (int i = 0; i < 9; i++)
        mb_circuit_record(set, H, false, t0);
    /* 9.9 s later the old errors are still in the window: the tenth opens. */
    struct mb_circuit_set *twin = make(10, 10, 30);
    for (int i = 0; i < 9; i++)
        mb_circuit_record(twin, H, false, t0);
    mb_circuit_record(twin, H, false, t0 + 9900);
    assert_int_equal(mb_circuit_state(twin, H), MB_CIRCUIT_OPEN);
    /* 10 s later they rolled out: one error in the window, closed. */
    mb_circuit_record(set, H, false, t0 + 10000);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    /* Errors spread over the window add up: 9 more, one per second. */
    for (int i = 1; i <= 8; i++) {
        mb_circuit_record(set, H, false, t0 + 10000 + (uint64_t)i * 1000);
        assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_CLOSED);
    }
    mb_circuit_record(set, H, false, t0 + 19000);
    assert_int_equal(mb_circuit_state(set, H), MB_CIRCUIT_OPEN);
    /* A bucket reused after a long pause does not carry stale counts. */
    struct mb_circuit_set *third = make(10, 10, 30);
    for (int i = 0; i < 9; i++)
        mb_circuit_record(third, H, false, t0);
    mb_circuit_record(third, H, false, t0 + 100000); /* same bucket index, 100 s later */
    assert_int_equal(mb_circuit_state(third, H), MB_CIRCUIT_CLOSED);
    mb_circuit_destroy(set);
    mb_circuit_destroy(twin);
    mb_circuit_destroy(third);
}

/* Two hosts at most: a third evicts the least recently used closed breaker; when every breaker
 * is open a new host passes untracked. */
static void test_bounded_hosts(void **state)
{
    (void)state;
    struct mb_circuit_options o;
    mb_circuit_options_default(&o);
    o.max_hosts = 2;
    struct mb_circuit_set *set = mb_circuit_create(&o);
    assert_non_null(set);
    for (int i = 0; i < 10; i++)
        mb_circuit_record(set, "a:1", false, 100);
    mb_circuit_record(set, "b:1", false, 200);
    assert_int_equal(mb_circuit_count(set), 2);
    assert_true(mb_circuit_allow(set, "c:1", 300, NULL)); /* evicts b:1 */
    assert_int_equal(mb_circuit_count(set), 2);
    assert_int_equal(mb_circuit_state(set, "a:1"), MB_CIRCUIT_OPEN);
    for (int i = 0; i < 10; i++)
        mb_circuit_record(set, "c:1", false, 400);
    assert_int_equal(mb_circuit_state(set, "c:1"), MB_CIRCUIT_OPEN);
    assert_true(mb_circuit_allow(set, "d:1", 500, NULL));
    mb_circuit_record(set, "d:1", false, 500);
    assert_int_equal(mb_circuit_state(set, "d:1"), MB_CIRCUIT_CLOSED);
    assert_int_equal(mb_circuit_count(set), 2);
    assert_false(mb_circuit_allow(set, "a:1", 600, NULL));
    /* Long names are compared on their first MB_CIRCUIT_HOST_MAX bytes. */
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_true(mb_circuit_allow(set, longname, 700, NULL));
    mb_circuit_destroy(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_validation),
        cmocka_unit_test(test_opens_only_after_min_requests),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_half_open_single_probe_success_closes),
        cmocka_unit_test(test_probe_failure_reopens),
        cmocka_unit_test(test_lost_probe_expires),
        cmocka_unit_test(test_window_rolls),
        cmocka_unit_test(test_bounded_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
