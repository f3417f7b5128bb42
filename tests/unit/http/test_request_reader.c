/* Unit tests for the request reader (src/http/request_reader.c): parsing results, limits
 * and their statuses, pipelining, and the same results whatever the split of the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/request_reader_internal.h"

struct collected {
    int count;
    int error;
    char summary[8][512];
};

static void summarize(const struct mb_http_request *q, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s|%s|%s|%s|%u.%u|%d|%zu:", q->method_name, q->target, q->path, q->query,
                     q->http_major, q->http_minor, q->keep_alive, q->header_count);
    for (size_t i = 0; i < q->header_count && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "[%.*s=%.*s]", (int)q->headers[i].name_len, q->headers[i].name,
                      (int)q->headers[i].value_len, q->headers[i].value);
    if (n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "|%zu|%.*s", q->body_len, (int)q->body_len, q->body);
}

/* Feeds the input in pieces cut at the given positions; collects requests or the error. */
static void feed_split(const struct mb_http_limits *l, const char *in, size_t len, const size_t *cuts,
                       size_t ncuts, struct collected *out)
{
    struct mb_http_reader r;
    mb_http_reader_init(&r, l);
    memset(out, 0, sizeof(*out));
    size_t start = 0;
    for (size_t k = 0; k <= ncuts && !out->error; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        const char *p = in + start;
        size_t n = end - start;
        while (n > 0 || k == ncuts) {
            size_t used = 0;
            int ev = mb_http_reader_feed(&r, p, n, &used);
            assert_true(used <= n);
            p += used;
            n -= used;
            if (ev == MB_HTTP_READ_REQUEST) {
                struct mb_http_parsed *q = mb_http_reader_take(&r);
                assert_non_null(q);
                assert_true(out->count < 8);
                summarize(&q->req, out->summary[out->count++], sizeof(out->summary[0]));
                mb_http_parsed_free(q);
                continue;
            }
            if (ev == MB_HTTP_READ_ERROR) {
                out->error = mb_http_reader_error(&r, NULL);
                break;
            }
            assert_int_equal(n, 0);
            break;
        }
        start = end;
    }
    mb_http_reader_dispose(&r);
}

static void limits_small(struct mb_http_limits *l)
{
    mb_http_limits_default(l);
    l->max_header_bytes = 256;
    l->max_body_bytes = 64;
}

static void test_simple_get(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    static const char in[] = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example\r\nX-Pad:   spaced value  \r\n\r\n";
    struct collected c;
    feed_split(&l, in, sizeof(in) - 1, NULL, 0, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.summary[0],
                        "GET|/a/b?x=1&y=2|/a/b|x=1&y=2|1.1|1|2:[Host=example][X-Pad=spaced value]|0|");
}

static void test_header_get(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    static const char in[] = "POST /p HTTP/1.0\r\ncontent-TYPE: text/plain\r\nContent-Length: 3\r\n\r\nabc";
    struct mb_http_reader r;
    mb_http_reader_init(&r, &l);
    size_t used;
    assert_int_equal(mb_http_reader_feed(&r, in, sizeof(in) - 1, &used), MB_HTTP_READ_REQUEST);
    assert_int_equal(used, sizeof(in) - 1);
    struct mb_http_parsed *p = mb_http_reader_take(&r);
    size_t vl = 0;
    const char *v = mb_http_header_get(&p->req, "Content-Type", &vl);
    assert_non_null(v);
    assert_int_equal(vl, 10);
    assert_memory_equal(v, "text/plain", 10);
    assert_null(mb_http_header_get(&p->req, "Missing", NULL));
    assert_false(p->req.keep_alive); /* HTTP/1.0 without keep-alive */
    assert_int_equal(p->req.body_len, 3);
    assert_string_equal(p->req.body, "abc");
    assert_string_equal(p->req.query, "");
    mb_http_parsed_free(p);
    mb_http_reader_dispose(&r);
}

/* Every request of this set must parse identically whatever the split. */
static const char *const split_inputs[] = {
    "GET /x?q=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
    "POST /rpc HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET / HTTP/1.1\r\nX-Empty:\r\nX-B: b\r\n\r\n",
};

static void test_split_everywhere(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    for (size_t t = 0; t < sizeof(split_inputs) / sizeof(split_inputs[0]); t++) {
        const char *in = split_inputs[t];
        size_t len = strlen(in);
        struct collected whole, part;
        feed_split(&l, in, len, NULL, 0, &whole);
        assert_int_equal(whole.error, 0);
        assert_true(whole.count >= 1);
        for (size_t i = 0; i <= len; i++) {
            feed_split(&l, in, len, &i, 1, &part);
            assert_int_equal(part.error, 0);
            assert_int_equal(part.count, whole.count);
            for (int k = 0; k < whole.count; k++)
                assert_string_equal(part.summary[k], whole.summary[k]);
        }
        /* Byte by byte. */
        size_t cuts[512];
        assert_true(len < 512);
        for (size_t i = 0; i < len; i++)
            cuts[i] = i + 1;
        feed_split(&l, in, len, cuts, len - 1, &part);
        assert_int_equal(part.count, whole.count);
        for (int k = 0; k < whole.count; k++)
            assert_string_equal(part.summary[k], whole.summary[k]);
    }
}

static void test_pipelined_stop_after_each(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    static const char in[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
    struct mb_http_reader r;
    mb_http_reader_init(&r, &l);
    size_t used;
    assert_int_equal(mb_http_reader_feed(&r, in, sizeof(in) - 1, &used), MB_HTTP_READ_REQUEST);
    assert_int_equal(used, 19);
    struct mb_http_parsed *p = mb_http_reader_take(&r);
    assert_string_equal(p->req.path, "/1");
    mb_http_parsed_free(p);
    assert_int_equal(mb_http_reader_phase(&r), MB_HTTP_PHASE_IDLE);
    size_t used2;
    assert_int_equal(mb_http_reader_feed(&r, in + used, sizeof(in) - 1 - used, &used2), MB_HTTP_READ_REQUEST);
    assert_int_equal(used + used2, sizeof(in) - 1);
    p = mb_http_reader_take(&r);
    assert_string_equal(p->req.path, "/2");
    mb_http_parsed_free(p);
    mb_http_reader_dispose(&r);
}

/* The header limit is exact, whatever the split. */
static void test_header_limit_exact(void **state)
{
    char in[400];
    size_t hl = 0;
    struct mb_http_limits l;
    limits_small(&l);
    hl = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nX-Fill: ");
    while (hl < 252)
        in[hl++] = 'a';
    memcpy(in + hl, "\r\n\r\n", 4);
    hl += 4; /* 256 bytes exactly */
    assert_int_equal(hl, 256);
    for (size_t cut = 0; cut <= hl; cut += 17) {
        struct collected c;
        l.max_header_bytes = 256;
        feed_split(&l, in, hl, &cut, 1, &c);
        assert_int_equal(c.error, 0);
        assert_int_equal(c.count, 1);
        l.max_header_bytes = 255;
        feed_split(&l, in, hl, &cut, 1, &c);
        assert_int_equal(c.error, 431);
        assert_int_equal(c.count, 0);
    }
}

static void test_too_many_headers(void **state)
{
    struct mb_http_limits l;
    mb_http_limits_default(&l);
    char in[4096];
    size_t n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= MB_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(in + n, sizeof(in) - n, "H%d: v\r\n", i);
    n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
    struct collected c;
    feed_split(&l, in, n, NULL, 0, &c);
    assert_int_equal(c.error, 431);
}

static void test_body_limits(void **state)
{
    struct mb_http_limits l;
    limits_small(&l); /* 64 bytes */
    char in[512];
    char body[100];
    memset(body, 'b', sizeof(body));
    struct collected c;
    /* Content-Length exactly the limit: fine. */
    int n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nContent-Length: 64\r\n\r\n%.64s", body);
    feed_split(&l, in, (size_t)n, NULL, 0, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.count, 1);
    /* Declared one more: refused at the headers, before any body byte. */
    n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n");
    feed_split(&l, in, (size_t)n, NULL, 0, &c);
    assert_int_equal(c.error, 413);
    /* Chunked: 40 + 24 fits, 40 + 25 does not, at any split. */
    n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n%.40s\r\n18\r\n%.24s\r\n0\r\n\r\n",
                 body, body);
    feed_split(&l, in, (size_t)n, NULL, 0, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.count, 1);
    n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n%.40s\r\n19\r\n%.25s\r\n0\r\n\r\n",
                 body, body);
    for (size_t cut = 0; cut <= (size_t)n; cut++) {
        feed_split(&l, in, (size_t)n, &cut, 1, &c);
        assert_int_equal(c.error, 413);
        assert_int_equal(c.count, 0);
    }
}

static void test_garbage_is_400(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    static const char *const bad[] = {
        "BLAH\x01 / HTTP/1.1\r\n\r\n",
        "GET / HTTP/9.Z\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mb_http_reader r;
        mb_http_reader_init(&r, &l);
        size_t used;
        assert_int_equal(mb_http_reader_feed(&r, bad[i], strlen(bad[i]), &used), MB_HTTP_READ_ERROR);
        const char *msg = NULL;
        assert_int_equal(mb_http_reader_error(&r, &msg), 400);
        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        /* Sticky. */
        assert_int_equal(mb_http_reader_feed(&r, "GET / HTTP/1.1\r\n\r\n", 18, &used), MB_HTTP_READ_ERROR);
        mb_http_reader_dispose(&r);
    }
}

static void test_expect(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    struct mb_http_reader r;
    size_t used;
    static const char ok[] = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n";
    mb_http_reader_init(&r, &l);
    assert_int_equal(mb_http_reader_feed(&r, ok, sizeof(ok) - 1, &used), MB_HTTP_READ_MORE);
    assert_int_equal(mb_http_reader_phase(&r), MB_HTTP_PHASE_BODY);
    assert_true(mb_http_reader_take_continue(&r));
    assert_false(mb_http_reader_take_continue(&r));
    assert_int_equal(mb_http_reader_feed(&r, "hello", 5, &used), MB_HTTP_READ_REQUEST);
    mb_http_parsed_free(mb_http_reader_take(&r));
    mb_http_reader_dispose(&r);

    static const char big[] = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 65\r\n\r\n";
    mb_http_reader_init(&r, &l);
    assert_int_equal(mb_http_reader_feed(&r, big, sizeof(big) - 1, &used), MB_HTTP_READ_ERROR);
    assert_int_equal(mb_http_reader_error(&r, NULL), 413);
    assert_false(mb_http_reader_take_continue(&r));
    mb_http_reader_dispose(&r);

    static const char odd[] = "POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 5\r\n\r\n";
    mb_http_reader_init(&r, &l);
    assert_int_equal(mb_http_reader_feed(&r, odd, sizeof(odd) - 1, &used), MB_HTTP_READ_ERROR);
    assert_int_equal(mb_http_reader_error(&r, NULL), 417);
    mb_http_reader_dispose(&r);

    /* Body already there: no 100 Continue owed. */
    static const char eager[] = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhel";
    mb_http_reader_init(&r, &l);
    assert_int_equal(mb_http_reader_feed(&r, eager, sizeof(eager) - 1, &used), MB_HTTP_READ_MORE);
    assert_false(mb_http_reader_take_continue(&r));
    mb_http_reader_dispose(&r);
}

static void test_upgrade_stops(void **state)
{
    struct mb_http_limits l;
    limits_small(&l);
    static const char in[] = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
    struct mb_http_reader r;
    mb_http_reader_init(&r, &l);
    size_t used;
    assert_int_equal(mb_http_reader_feed(&r, in, sizeof(in) - 1, &used), MB_HTTP_READ_REQUEST);
    mb_http_parsed_free(mb_http_reader_take(&r));
    assert_int_equal(mb_http_reader_phase(&r), MB_HTTP_PHASE_STOPPED);
    assert_int_equal(mb_http_reader_feed(&r, in + used, sizeof(in) - 1 - used, &used), MB_HTTP_READ_MORE);
    mb_http_reader_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_header_get),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_pipelined_stop_after_each),
        cmocka_unit_test(test_header_limit_exact),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_garbage_is_400),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_upgrade_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
