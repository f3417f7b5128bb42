/* Unit tests for mcp/session.c: ids validate under their key only, carry the protocol version,
 * expire, end across processes (the shared region survives fork), and keep the log level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcp/session.h"

static const uint8_t key_a[32] = {1, 2, 3};
static const uint8_t key_b[32] = {9, 9, 9};

static void test_issue_and_check(void **state)
{
    (void)state;
    char id[MB_SESSION_ID_MAX];
    struct mb_session_info issued, seen;
    assert_int_equal(mb_session_issue(key_a, 2, id, &issued), 0);
    assert_true(strlen(id) > 40);
    assert_int_equal(mb_session_check(key_a, NULL, id, strlen(id), 3600, &seen), MB_SESSION_VALID);
    assert_int_equal(seen.protocol_index, 2);
    assert_true(seen.key == issued.key);
    /* Another key (another deployment) does not accept it. */
    assert_int_equal(mb_session_check(key_b, NULL, id, strlen(id), 3600, &seen), MB_SESSION_FORGED);
    /* Two ids differ. */
    char id2[MB_SESSION_ID_MAX];
    assert_int_equal(mb_session_issue(key_a, 0, id2, NULL), 0);
    assert_string_not_equal(id, id2);
}

static void test_tampered_and_malformed(void **state)
{
    (void)state;
    char id[MB_SESSION_ID_MAX];
    assert_int_equal(mb_session_issue(key_a, 0, id, NULL), 0);
    size_t len = strlen(id);
    for (size_t i = 0; i < len; i++) {
        char copy[MB_SESSION_ID_MAX];
        memcpy(copy, id, len + 1);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        enum mb_session_status st = mb_session_check(key_a, NULL, copy, len, 0, NULL);
        if (st == MB_SESSION_VALID)
            fail_msg("a change at byte %zu still validated", i);
    }
    assert_int_equal(mb_session_check(key_a, NULL, "", 0, 0, NULL), MB_SESSION_MALFORMED);
    assert_int_equal(mb_session_check(key_a, NULL, "abc!", 4, 0, NULL), MB_SESSION_MALFORMED);
    assert_int_equal(mb_session_check(key_a, NULL, id, len - 1, 0, NULL), MB_SESSION_MALFORMED);
}

static void test_end_is_seen_by_another_process(void **state)
{
    (void)state;
    struct mb_shared *shared = mb_shared_create(1024);
    assert_non_null(shared);
    char id[MB_SESSION_ID_MAX];
    struct mb_session_info info;
    assert_int_equal(mb_session_issue(key_a, 1, id, &info), 0);
    assert_int_equal(mb_session_check(key_a, shared, id, strlen(id), 3600, NULL), MB_SESSION_VALID);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mb_session_set_log_level(shared, &info, 3600, 3);
        mb_session_end(shared, &info, 3600);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(mb_session_check(key_a, shared, id, strlen(id), 3600, NULL), MB_SESSION_ENDED);
    assert_int_equal(mb_session_log_level(shared, &info), 3);
    mb_shared_destroy(shared);
}

static void test_log_level_default_and_many_sessions(void **state)
{
    (void)state;
    struct mb_shared *shared = mb_shared_create(1024);
    assert_non_null(shared);
    struct mb_session_info infos[3000];
    char id[MB_SESSION_ID_MAX];
    /* Below capacity nothing is lost. */
    for (int i = 0; i < 400; i++) {
        assert_int_equal(mb_session_issue(key_a, 0, id, &infos[i]), 0);
        assert_int_equal(mb_session_log_level(shared, &infos[i]), -1);
        mb_session_set_log_level(shared, &infos[i], 3600, i % 8);
    }
    for (int i = 0; i < 400; i++)
        assert_int_equal(mb_session_log_level(shared, &infos[i]), i % 8);
    /* Overloaded (3x the slots), the table is lossy by design: an entry may be gone (-1) but
     * is never wrong, and the latest write is always readable. */
    for (int i = 400; i < 3000; i++) {
        assert_int_equal(mb_session_issue(key_a, 0, id, &infos[i]), 0);
        mb_session_set_log_level(shared, &infos[i], 3600, i % 8);
        assert_int_equal(mb_session_log_level(shared, &infos[i]), i % 8);
    }
    int kept = 0;
    for (int i = 0; i < 3000; i++) {
        int level = mb_session_log_level(shared, &infos[i]);
        if (level != -1) {
            assert_int_equal(level, i % 8);
            kept++;
        }
    }
    assert_true(kept >= 900); /* most slots still hold a live entry */
    mb_shared_destroy(shared);
}

struct seen {
    uint64_t keys[2 * MB_CANCEL_RING];
    uint64_t hashes[2 * MB_CANCEL_RING];
    size_t n;
};

static void collect(void *data, uint64_t key, uint64_t hash)
{
    struct seen *s = data;
    if (s->n < 2 * MB_CANCEL_RING) {
        s->keys[s->n] = key;
        s->hashes[s->n] = hash;
        s->n++;
    }
}

static void test_cancel_ring_across_processes(void **state)
{
    (void)state;
    struct mb_shared *shared = mb_shared_create(1024);
    assert_non_null(shared);
    uint64_t cursor = mb_shared_cancel_head(shared);
    struct seen seen = {{0}, {0}, 0};
    mb_shared_cancel_poll(shared, &cursor, collect, &seen);
    assert_int_equal(seen.n, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mb_shared_cancel_post(shared, 11, mb_hash64("7", 1));
        mb_shared_cancel_post(shared, 12, mb_hash64("\"a\"", 3));
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    mb_shared_cancel_poll(shared, &cursor, collect, &seen);
    assert_int_equal(seen.n, 2);
    assert_true(seen.keys[0] == 11 && seen.hashes[0] == mb_hash64("7", 1));
    assert_true(seen.keys[1] == 12 && seen.hashes[1] == mb_hash64("\"a\"", 3));
    /* Polling again sees nothing new. */
    seen.n = 0;
    mb_shared_cancel_poll(shared, &cursor, collect, &seen);
    assert_int_equal(seen.n, 0);
    /* A reader that falls more than the ring behind gets the newest MB_CANCEL_RING only. */
    for (uint64_t i = 0; i < MB_CANCEL_RING + 40; i++)
        mb_shared_cancel_post(shared, 100 + i, i);
    mb_shared_cancel_poll(shared, &cursor, collect, &seen);
    assert_int_equal(seen.n, MB_CANCEL_RING);
    assert_true(seen.keys[0] == 100 + 40);
    assert_true(seen.keys[MB_CANCEL_RING - 1] == 100 + MB_CANCEL_RING + 39);
    mb_shared_destroy(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_and_check),
        cmocka_unit_test(test_tampered_and_malformed),
        cmocka_unit_test(test_end_is_seen_by_another_process),
        cmocka_unit_test(test_log_level_default_and_many_sessions),
        cmocka_unit_test(test_cancel_ring_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
