/* Per-tool guard statistics and the "needs pagination" signal (src/guard/guard_stats.h):
 * counting, the flag's threshold and hysteresis, one transition per flag change across
 * processes, and the full-table path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard/guard_stats.h"

static const struct mb_guard_outcome NEAR = { .near = true, .trimmed = true, .bytes = 900 };
static const struct mb_guard_outcome FAR = { .near = false, .bytes = 10 };

static void test_counts_per_tool(void **state)
{
    (void)state;
    struct mb_guard_stats *st = mb_guard_stats_create(64);
    assert_non_null(st);
    struct mb_guard_outcome blocked = { .near = true, .blocked = true, .bytes = 5000 };
    struct mb_guard_outcome warned = { .near = true, .warned = true, .bytes = 7000 };
    mb_guard_stats_record(st, "a", &NEAR, 100, 0.5);
    mb_guard_stats_record(st, "a", &blocked, 100, 0.5);
    mb_guard_stats_record(st, "a", &FAR, 100, 0.5);
    mb_guard_stats_record(st, "b", &warned, 100, 0.5);
    struct mb_guard_tool_stats ts;
    assert_true(mb_guard_stats_get(st, "a", 100, &ts));
    assert_string_equal(ts.name, "a");
    assert_int_equal(ts.calls, 3);
    assert_int_equal(ts.near, 2);
    assert_int_equal(ts.trimmed, 1);
    assert_int_equal(ts.blocked, 1);
    assert_int_equal(ts.warned, 0);
    assert_int_equal(ts.max_bytes, 5000);
    assert_int_equal(ts.recent_near, 2);
    assert_int_equal(ts.recent_calls, 3);
    assert_true(mb_guard_stats_get(st, "b", 100, &ts));
    assert_int_equal(ts.warned, 1);
    assert_false(mb_guard_stats_get(st, "c", 100, &ts));
    mb_guard_stats_destroy(st);
}

/* window 10, ratio 0.5: flagged at the 5th near call in the window; cleared when the near
 * calls in the window fall below 3 (half the threshold, rounded up). */
static void test_flag_threshold_and_hysteresis(void **state)
{
    (void)state;
    struct mb_guard_stats *st = mb_guard_stats_create(64);
    for (int i = 0; i < 5; i++)
        assert_int_equal(mb_guard_stats_record(st, "t", &FAR, 10, 0.5), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mb_guard_stats_record(st, "t", &NEAR, 10, 0.5), 0);
    assert_int_equal(mb_guard_stats_record(st, "t", &NEAR, 10, 0.5), 1);  /* 5 of the last 10 */
    struct mb_guard_tool_stats ts;
    assert_true(mb_guard_stats_get(st, "t", 10, &ts));
    assert_true(ts.needs_pagination);
    assert_int_equal(mb_guard_stats_record(st, "t", &NEAR, 10, 0.5), 0);  /* still flagged: no new transition */
    /* Now far calls push the near ones out of the ring: 6 near at positions 5..10 (mod 10). */
    int cleared_at = -1;
    for (int i = 0; i < 10; i++) {
        int rc = mb_guard_stats_record(st, "t", &FAR, 10, 0.5);
        assert_true(rc == 0 || rc == -1);
        if (rc == -1) {
            cleared_at = i;
            break;
        }
    }
    /* The ring (positions 0..9) holds near calls at 0 and 5..9. Far calls go to 1, 2, 3, 4 (no
     * change), then 5, 6, 7, 8: after the 8th far call two near ones remain, below 3. */
    assert_int_equal(cleared_at, 7);
    assert_true(mb_guard_stats_get(st, "t", 10, &ts));
    assert_false(ts.needs_pagination);
    mb_guard_stats_destroy(st);
}

static void count_cb(void *data, const struct mb_guard_tool_stats *ts)
{
    int *n = data;
    if (ts->calls > 0)
        (*n)++;
}

static void test_table_full_and_foreach(void **state)
{
    (void)state;
    struct mb_guard_stats *st = mb_guard_stats_create(1);  /* 64 slots */
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "tool_%d", i);
        mb_guard_stats_record(st, name, &FAR, 100, 0.5);
    }
    int n = 0;
    mb_guard_stats_foreach(st, 100, count_cb, &n);
    assert_int_equal(n, 64);
    assert_int_equal(mb_guard_stats_dropped(st), 200 - 64);
    mb_guard_stats_destroy(st);
}

static void test_long_names_are_truncated_consistently(void **state)
{
    (void)state;
    struct mb_guard_stats *st = mb_guard_stats_create(64);
    char name[400];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    mb_guard_stats_record(st, name, &FAR, 100, 0.5);
    mb_guard_stats_record(st, name, &FAR, 100, 0.5);
    struct mb_guard_tool_stats ts;
    assert_true(mb_guard_stats_get(st, name, 100, &ts));
    assert_int_equal(ts.calls, 2);
    assert_int_equal(strlen(ts.name), MB_GUARD_STATS_NAME_MAX - 1);
    mb_guard_stats_destroy(st);
}

/* Four processes record near calls for one tool at once: every call is counted and exactly
 * one of them observes the flag turning on. */
static void test_across_processes(void **state)
{
    (void)state;
    struct mb_guard_stats *st = mb_guard_stats_create(64);
    enum { CHILDREN = 4, CALLS = 2000 };
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            int flags_on = 0;
            for (int i = 0; i < CALLS; i++)
                if (mb_guard_stats_record(st, "shared_tool", &NEAR, 100, 0.5) == 1)
                    flags_on++;
            _exit(flags_on);
        }
    }
    int total_on = 0;
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status));
        total_on += WEXITSTATUS(status);
    }
    assert_int_equal(total_on, 1);
    struct mb_guard_tool_stats ts;
    assert_true(mb_guard_stats_get(st, "shared_tool", 100, &ts));
    assert_int_equal(ts.calls, CHILDREN * CALLS);
    assert_int_equal(ts.near, CHILDREN * CALLS);
    assert_true(ts.needs_pagination);
    mb_guard_stats_destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_per_tool),
        cmocka_unit_test(test_flag_threshold_and_hysteresis),
        cmocka_unit_test(test_table_full_and_foreach),
        cmocka_unit_test(test_long_names_are_truncated_consistently),
        cmocka_unit_test(test_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
