/* Unit tests for state/sse_log.c: stream ids (kind + 128 random bits, distinct), sequence numbers
 * and event ids, replay after a sequence number, lookups bound to the session, the per-stream and
 * total byte caps (released streams go first, held ones never), expiry after release, and the
 * Last-Event-ID parser (cases as data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/sse_log.h"

static void append_text(struct mb_sse_log *log, struct mb_sse_stream *s, const char *text, uint64_t want_seq)
{
    assert_int_equal(mb_sse_stream_append(log, s, text, strlen(text), 0), want_seq);
}

/* The events after seq, joined with ','. */
static void joined_after(const struct mb_sse_stream *s, uint64_t seq, char *out, size_t cap)
{
    out[0] = '\0';
    for (const struct mb_sse_event *e = mb_sse_stream_after(s, seq); e; e = e->next) {
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%llu:%.*s", used ? "," : "", (unsigned long long)e->seq, (int)e->len,
                 e->data);
    }
}

static void test_ids_and_replay(void **state)
{
    (void)state;
    struct mb_sse_log *log = mb_sse_log_create(60000, 4096, 1 << 20);
    assert_non_null(log);
    struct mb_sse_stream *s = mb_sse_log_open(log, MB_SSE_KIND_POST, 42);
    struct mb_sse_stream *t = mb_sse_log_open(log, MB_SSE_KIND_GET, 42);
    assert_non_null(s);
    assert_non_null(t);
    assert_null(mb_sse_log_open(log, 'x', 42));
    const char *id = mb_sse_stream_id(s);
    assert_int_equal(strlen(id), MB_SSE_STREAM_ID_LEN);
    assert_int_equal(id[0], 'p');
    assert_int_equal(mb_sse_stream_id(t)[0], 'g');
    assert_int_not_equal(strcmp(id + 1, mb_sse_stream_id(t) + 1), 0);
    for (size_t i = 1; i < MB_SSE_STREAM_ID_LEN; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", id[i]));

    assert_int_equal(mb_sse_stream_last_seq(s), 0);
    append_text(log, s, "{\"a\":1}", 1);
    append_text(log, s, "{\"b\":2}", 2);
    append_text(log, s, "{\"c\":3}", 3);
    char out[256];
    joined_after(s, 0, out, sizeof out);
    assert_string_equal(out, "1:{\"a\":1},2:{\"b\":2},3:{\"c\":3}");
    joined_after(s, 2, out, sizeof out);
    assert_string_equal(out, "3:{\"c\":3}");
    assert_null(mb_sse_stream_after(s, 3));
    assert_null(mb_sse_stream_after(s, 99));

    assert_ptr_equal(mb_sse_log_find(log, 42, id, strlen(id)), s);
    assert_null(mb_sse_log_find(log, 43, id, strlen(id))); /* another session's stream */
    assert_null(mb_sse_log_find(log, 42, id, strlen(id) - 1));
    char other[MB_SSE_STREAM_ID_LEN + 1];
    memcpy(other, id, sizeof other);
    other[5] = other[5] == 'A' ? 'B' : 'A';
    assert_null(mb_sse_log_find(log, 42, other, strlen(other)));

    char eid[MB_SSE_EVENT_ID_MAX];
    size_t n = mb_sse_event_id(id, 3, eid);
    assert_int_equal(n, MB_SSE_STREAM_ID_LEN + 2);
    char parsed[MB_SSE_STREAM_ID_LEN + 1];
    uint64_t seq = 0;
    assert_int_equal(mb_sse_parse_event_id(eid, n, parsed, &seq), 0);
    assert_string_equal(parsed, id);
    assert_int_equal(seq, 3);
    mb_sse_log_destroy(log);
}

static void test_parse_cases(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        uint64_t seq;
    } cases[] = {
        {"pABCDEFGHIJKLMNOPQRSTUv-0", 0, 0},
        {"gABCDEFGHIJKLMNOPQRSTU_-18446744073709551615", 0, UINT64_MAX},
        {"pABCDEFGHIJKLMNOPQRSTUv-18446744073709551616", -1, 0}, /* overflow */
        {"pABCDEFGHIJKLMNOPQRSTUv-", -1, 0},
        {"pABCDEFGHIJKLMNOPQRSTUv-1x", -1, 0},
        {"xABCDEFGHIJKLMNOPQRSTUv-1", -1, 0},
        {"pABCDEFGHIJKLMNOPQRSTU-1", -1, 0},   /* id too short */
        {"pABCDEFGHIJKLMNOPQRST.v-1", -1, 0},  /* not base64url */
        {"", -1, 0},
        {"p-1", -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[MB_SSE_STREAM_ID_LEN + 1];
        uint64_t seq = 7;
        int rc = mb_sse_parse_event_id(cases[i].text, strlen(cases[i].text), id, &seq);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d", i, cases[i].text, rc);
        if (rc == 0)
            assert_int_equal(seq, cases[i].seq);
    }
    char id[MB_SSE_STREAM_ID_LEN + 1];
    uint64_t seq;
    assert_int_equal(mb_sse_parse_event_id(NULL, 0, id, &seq), -1);
}

/* The per-stream cap keeps the newest events; one larger than the cap is not kept (a gap). */
static void test_stream_cap(void **state)
{
    (void)state;
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* three events of 399 bytes fit in 1400 with their overhead, four do not */
    struct mb_sse_log *log = mb_sse_log_create(60000, 1400, 1 << 20);
    struct mb_sse_stream *s = mb_sse_log_open(log, MB_SSE_KIND_POST, 1);
    for (uint64_t i = 1; i <= 5; i++)
        append_text(log, s, big, i);
    assert_int_equal(mb_sse_stream_count(s), 3);
    assert_int_equal(mb_sse_stream_after(s, 0)->seq, 3);
    char huge[2000];
    memset(huge, 'y', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    append_text(log, s, huge, 6);
    assert_int_equal(mb_sse_stream_count(s), 3); /* not kept, and nothing dropped for it */
    append_text(log, s, "small", 7);
    const struct mb_sse_event *e = mb_sse_stream_after(s, 5);
    assert_int_equal(e->seq, 7); /* 6 is the gap */
    mb_sse_log_destroy(log);
}

/* The total cap drops released streams (oldest first), never held ones; past that the stream
 * being appended to loses its oldest events. */
static void test_total_cap(void **state)
{
    (void)state;
    char ev[300];
    memset(ev, 'z', sizeof ev - 1);
    ev[sizeof ev - 1] = '\0';
    struct mb_sse_log *log = mb_sse_log_create(60000, 100000, 3000);
    struct mb_sse_stream *a = mb_sse_log_open(log, MB_SSE_KIND_POST, 1);
    struct mb_sse_stream *b = mb_sse_log_open(log, MB_SSE_KIND_POST, 1);
    struct mb_sse_stream *c = mb_sse_log_open(log, MB_SSE_KIND_POST, 1);
    char ida[MB_SSE_STREAM_ID_LEN + 1], idb[MB_SSE_STREAM_ID_LEN + 1];
    strcpy(ida, mb_sse_stream_id(a));
    strcpy(idb, mb_sse_stream_id(b));
    for (int i = 0; i < 2; i++) {
        mb_sse_stream_append(log, a, ev, strlen(ev), 0);
        mb_sse_stream_append(log, b, ev, strlen(ev), 0);
    }
    mb_sse_stream_release(log, a, 0);
    mb_sse_stream_release(log, b, 0);
    unsigned streams;
    size_t bytes;
    mb_sse_log_usage(log, &streams, &bytes);
    assert_int_equal(streams, 3);
    /* c grows: a (released first) goes, then b, then c's own oldest events */
    for (int i = 0; i < 4; i++)
        mb_sse_stream_append(log, c, ev, strlen(ev), 0);
    assert_null(mb_sse_log_find(log, 1, ida, strlen(ida)));
    assert_non_null(mb_sse_log_find(log, 1, idb, strlen(idb)));
    for (int i = 0; i < 6; i++)
        mb_sse_stream_append(log, c, ev, strlen(ev), 0);
    assert_null(mb_sse_log_find(log, 1, idb, strlen(idb)));
    mb_sse_log_usage(log, &streams, &bytes);
    assert_int_equal(streams, 1);
    assert_true(bytes <= 3000);
    assert_true(mb_sse_stream_count(c) < 10);
    assert_int_equal(mb_sse_stream_last_seq(c), 10);
    assert_int_equal(mb_sse_stream_after(c, 0)->seq, 10 - mb_sse_stream_count(c) + 1);
    mb_sse_log_destroy(log);
}

/* Released streams go replay_ms after their release; held ones stay. */
static void test_expiry(void **state)
{
    (void)state;
    struct mb_sse_log *log = mb_sse_log_create(1000, 4096, 1 << 20);
    struct mb_sse_stream *held = mb_sse_log_open(log, MB_SSE_KIND_POST, 9);
    struct mb_sse_stream *done = mb_sse_log_open(log, MB_SSE_KIND_POST, 9);
    char idh[MB_SSE_STREAM_ID_LEN + 1], idd[MB_SSE_STREAM_ID_LEN + 1];
    strcpy(idh, mb_sse_stream_id(held));
    strcpy(idd, mb_sse_stream_id(done));
    mb_sse_stream_append(log, done, "{}", 2, 100);
    assert_false(mb_sse_stream_is_complete(done));
    mb_sse_stream_complete(done);
    assert_true(mb_sse_stream_is_complete(done));
    assert_true(mb_sse_stream_is_held(done));
    mb_sse_stream_release(log, done, 500);
    mb_sse_log_expire(log, 1499);
    struct mb_sse_stream *found = mb_sse_log_find(log, 9, idd, strlen(idd));
    assert_non_null(found);
    assert_false(mb_sse_stream_is_held(found));
    mb_sse_log_expire(log, 1500);
    assert_null(mb_sse_log_find(log, 9, idd, strlen(idd)));
    mb_sse_log_expire(log, 1000000);
    assert_ptr_equal(mb_sse_log_find(log, 9, idh, strlen(idh)), held);
    mb_sse_log_destroy(log);
    assert_null(mb_sse_log_create(0, 1, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_replay),
        cmocka_unit_test(test_parse_cases),
        cmocka_unit_test(test_stream_cap),
        cmocka_unit_test(test_total_cap),
        cmocka_unit_test(test_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
