/* Unit tests for guard/guard.c: exact rewrites per limit and mode, every input split at every
 * byte boundary (output and report identical to one-shot feeding), invalid JSON, text cutting,
 * and random documents whose trimmed output must be valid JSON within the byte limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_scan.h"
#include "guard/guard.h"

struct run {
    int rc;       /* last non-zero feed answer, else finish's */
    char *out;    /* heap copy */
    size_t len;
    struct mb_guard_report rep;
    const char *err;
    uint64_t err_off;
};

/* Feeds s in pieces: split==0 one shot, split==SIZE_MAX byte by byte, else at that offset. */
static struct run guard(enum mb_guard_mode mode, enum mb_guard_input in,
                        const struct mb_guard_limits *lim, const char *s, size_t len, size_t split)
{
    struct run r = {0};
    struct mb_buf b;
    struct mb_guard g;
    mb_buf_init(&b, SIZE_MAX / 2);
    assert_int_equal(mb_guard_init(&g, mode, in, lim, &b), 0);
    int rc = 0;
    if (split == SIZE_MAX) {
        for (size_t k = 0; k < len && rc == 0; k++)
            rc = mb_guard_feed(&g, s + k, 1);
    } else if (split > 0 && split < len) {
        rc = mb_guard_feed(&g, s, split);
        if (rc == 0)
            rc = mb_guard_feed(&g, s + split, len - split);
    } else {
        rc = mb_guard_feed(&g, s, len);
    }
    int frc = mb_guard_finish(&g, &r.rep);
    r.rc = rc ? rc : frc;
    r.err = mb_guard_error(&g, &r.err_off);
    r.len = b.len;
    r.out = malloc(b.len + 1);
    memcpy(r.out, b.data ? b.data : "", b.len);
    r.out[b.len] = 0;
    mb_buf_dispose(&b);
    return r;
}

static struct mb_guard_limits lims(size_t bytes, size_t items, size_t str, unsigned depth)
{
    struct mb_guard_limits l;
    mb_guard_limits_default(&l);
    l.max_output_bytes = bytes;
    l.max_array_items = items;
    l.max_string_bytes = str;
    l.max_depth = depth;
    return l;
}

static struct run trim(const struct mb_guard_limits *l, const char *s)
{
    return guard(MB_GUARD_TRIM, MB_GUARD_JSON, l, s, strlen(s), 0);
}

static void expect_trim(const struct mb_guard_limits *l, const char *in, const char *want)
{
    struct run r = trim(l, in);
    if (r.rc != 0 || strcmp(r.out, want) != 0)
        fail_msg("input %s: rc %d, got %s, want %s", in, r.rc, r.out, want);
    free(r.out);
}

static bool valid_json(const char *s, size_t len)
{
    return mb_json_validate(s, len, MB_JSON_MAX_DEPTH) != MB_JSON_TOP_INVALID;
}

static void test_small_is_copy(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}", "[]", "0", "-1.5e+30", "true", "null", "\"\"", "[[],{},[[]]]",
        "{\"a\":[1,2,{\"b\":\"c\\\"d\\\\\"}],\"e\":null}",
        "[ 1 , 2 ,\n\t3 ]", "\"caf\xc3\xa9 \\u00e9 \xf0\x9f\x98\x80\"",
        "123456789012345678901234567890123456789012345678901234567890e999",
    };
    for (size_t k = 0; k < sizeof docs / sizeof *docs; k++) {
        struct run r = trim(NULL, docs[k]);
        assert_int_equal(r.rc, 0);
        assert_string_equal(r.out, docs[k]);
        assert_false(r.rep.truncated);
        assert_true(r.rep.complete);
        assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_NONE);
        free(r.out);
    }
    /* Whitespace around the document is not copied. */
    expect_trim(NULL, " \n [1] \r\n", "[1]");
    expect_trim(NULL, "  7  ", "7");
}

static void test_items(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(4096, 2, 0, 64);
    struct run r = trim(&l, "[1, 2, 3, 4, 5]");
    assert_string_equal(r.out, "[1, 2]");
    assert_true(r.rep.truncated);
    assert_int_equal(r.rep.arrays_trimmed, 1);
    assert_int_equal(r.rep.top_items, 5);
    assert_true(r.rep.top_items_exact);
    assert_int_equal(r.rep.top_items_kept, 2);
    assert_int_equal(r.rep.largest_trimmed_items, 5);
    assert_true(r.rep.has_pointer);
    assert_string_equal(r.rep.first_trimmed_pointer, "");
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_ITEMS);
    assert_int_equal(r.rep.first_limit_offset, 5); /* the second ',' */
    free(r.out);
    expect_trim(&l, "[[1,2,3],[4,5,6],[7]]", "[[1,2],[4,5]]");
    expect_trim(&l, "[{\"a\":[1,[2,3,4],3]},{},{}]", "[{\"a\":[1,[2,3]]},{}]");
    r = trim(&l, "{\"x\":1,\"d\":{\"a/b~c\\u00e9\":[0,[1,2,3],5]}}");
    assert_string_equal(r.out, "{\"x\":1,\"d\":{\"a/b~c\\u00e9\":[0,[1,2]]}}");
    assert_int_equal(r.rep.arrays_trimmed, 2);
    assert_string_equal(r.rep.first_trimmed_pointer, "/d/a~1b~0c\xc3\xa9/1");
    assert_int_equal(r.rep.largest_trimmed_items, 3);
    free(r.out);
    l.max_array_items = 0;
    expect_trim(&l, "[1,2]", "[]");
    expect_trim(&l, "{\"a\":[ 1 ],\"b\":[]}", "{\"a\":[],\"b\":[]}");
}

static void test_strings(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(4096, 50, 10, 64);
    expect_trim(&l, "\"abcdefghijklmnop\"", "\"abcdefghij\xe2\x80\xa6[truncated 6 bytes]\"");
    expect_trim(&l, "\"abcdefghij\"", "\"abcdefghij\"");
    /* Cut at a UTF-8 boundary: five 2-byte characters, the cut falls inside the fifth. */
    expect_trim(&l, "[\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"]",
                "[\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6[truncated 2 bytes]\"]");
    /* ... and never inside an escape. */
    expect_trim(&l, "{\"k\":\"abcdef\\u00e9xyz\"}", "{\"k\":\"abcdef\xe2\x80\xa6[truncated 9 bytes]\"}");
    expect_trim(&l, "\"abcdefghi\\\"xx\"", "\"abcdefghi\xe2\x80\xa6[truncated 4 bytes]\"");
    /* Keys are never shortened. */
    expect_trim(&l, "{\"abcdefghijklmnop\":1}", "{\"abcdefghijklmnop\":1}");
    struct run r = trim(&l, "[\"aaaaaaaaaaaa\",\"bbbbbbbbbbbbbb\"]");
    assert_int_equal(r.rep.strings_shortened, 2);
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_STRING);
    assert_int_equal(r.rep.first_limit_offset, 12);
    free(r.out);
}

static void test_depth(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(4096, 50, 0, 2);
    expect_trim(&l, "[[[1,[2]]],[3],{\"a\":{\"b\":1}}]",
                "[[\"\xe2\x80\xa6[depth limit]\"],[3],{\"a\":\"\xe2\x80\xa6[depth limit]\"}]");
    struct run r = trim(&l, "[[[1,[2]]],[3],{\"a\":{\"b\":1}}]");
    assert_int_equal(r.rep.depth_exceeded, 2);
    free(r.out);
    /* 100,000 levels: no recursion; the scanner follows 2048 and stops reading there. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = 0;
    l.max_depth = 64;
    r = guard(MB_GUARD_TRIM, MB_GUARD_JSON, &l, deep, 2 * n, 0);
    assert_int_equal(r.rc, MB_GUARD_STOP);
    assert_true(valid_json(r.out, r.len));
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_DEPTH);
    free(r.out);
    r = guard(MB_GUARD_BLOCK, MB_GUARD_JSON, &l, deep, 2 * n, 0);
    assert_int_equal(r.rc, MB_GUARD_STOP);
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_DEPTH);
    assert_int_equal(r.rep.first_limit_offset, 64);
    free(r.out);
    free(deep);
}

static void test_bytes(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(64, 1000, 0, 64);
    const char *doc = "[\"aaaaaaaaaa\",\"bbbbbbbbbb\",\"cccccccccc\",\"dddddddddd\",\"eeeeeeeeee\",\"ffff\"]";
    struct run r = trim(&l, doc);
    assert_int_equal(r.rc, 0);
    assert_true(r.len <= 64);
    assert_true(valid_json(r.out, r.len));
    assert_true(r.rep.truncated);
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_BYTES);
    assert_int_equal(r.rep.top_items, 6);
    assert_true(r.rep.top_items_exact);
    assert_true(r.rep.top_items_kept >= 4);
    assert_true(r.rep.has_pointer);
    free(r.out);
    /* A top-level string keeps what fits, with a marker. */
    char big[300];
    big[0] = '"';
    memset(big + 1, 'x', 297);
    big[298] = '"';
    big[299] = 0;
    r = trim(&l, big);
    assert_int_equal(r.len, 64);
    assert_memory_equal(r.out + 64 - 15, "\xe2\x80\xa6[truncated]\"", 15);
    free(r.out);
    /* A huge number that does not fit is dropped; a top-level one becomes null. */
    char num[300];
    memset(num, '9', 299);
    num[299] = 0;
    expect_trim(&l, num, "null");
    char arr[310];
    snprintf(arr, sizeof arr, "[1,%s]", num);
    expect_trim(&l, arr, "[1]");
    snprintf(arr, sizeof arr, "{\"a\":[1,{\"b\":%.200s}]}", num);
    expect_trim(&l, arr, "{\"a\":[1,{}]}");
}

static void test_block(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(64, 2, 10, 3);
    struct run r = guard(MB_GUARD_BLOCK, MB_GUARD_JSON, &l, "[1,2,3]", 7, 0);
    assert_int_equal(r.rc, MB_GUARD_STOP);
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_ITEMS);
    assert_int_equal(r.rep.first_limit_offset, 4);
    assert_int_equal(r.rep.first_limit_observed, 3);
    free(r.out);
    r = guard(MB_GUARD_BLOCK, MB_GUARD_JSON, &l, "[\"0123456789a\"]", 15, 0);
    assert_int_equal(r.rc, MB_GUARD_STOP);
    assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_STRING);
    assert_int_equal(r.rep.first_limit_offset, 12);
    free(r.out);
    char doc[201];
    memset(doc, ' ', 200);
    doc[0] = '[';
    doc[199] = ']';
    doc[200] = 0;
    for (size_t split = 0; split < 200; split += 7) {
        r = guard(MB_GUARD_BLOCK, MB_GUARD_JSON, &l, doc, 200, split);
        assert_int_equal(r.rc, MB_GUARD_STOP);
        assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_BYTES);
        assert_int_equal(r.rep.first_limit_offset, 64);
        assert_true(r.len <= 64);
        free(r.out);
    }
    r = guard(MB_GUARD_BLOCK, MB_GUARD_JSON, &l, "[1,[2]]", 7, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "[1,[2]]");
    free(r.out);
}

static void test_warn(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(64, 2, 5, 2);
    const char *doc = " [1,2,3,\"abcdefgh\",[[[]]],{\"a\":[4,5,6,7]}] \n";
    for (size_t split = 0; split <= strlen(doc); split++) {
        struct run r = guard(MB_GUARD_WARN, MB_GUARD_JSON, &l, doc, strlen(doc), split);
        assert_int_equal(r.rc, 0);
        assert_string_equal(r.out, doc);
        assert_int_equal(r.rep.arrays_trimmed, 2);
        assert_int_equal(r.rep.strings_shortened, 1);
        assert_int_equal(r.rep.depth_exceeded, 2);
        assert_int_equal(r.rep.first_limit, MB_GUARD_LIMIT_ITEMS);
        assert_int_equal(r.rep.top_items, 6);
        assert_int_equal(r.rep.largest_trimmed_items, 6);
        assert_false(r.rep.truncated);
        free(r.out);
    }
}

static void test_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        uint64_t off;
    } cases[] = {
        {"", 0}, {"[", 1}, {"[1,]", 3}, {"{\"a\" 1}", 5}, {"[1}", 2}, {"01", 1}, {"1.", 2},
        {"-", 1}, {"tru", 3}, {"trux", 3}, {"\"a\\x\"", 3}, {"\"\\u12g4\"", 5}, {"\"\x01\"", 1},
        {"\"\xc3(\"", 2}, {"\"\xed\xa0\x80\"", 2}, {"\"\xf5\"", 1}, {"{} x", 3}, {"[1 2]", 3},
        {"{a:1}", 1}, {"NaN", 0}, {"{\"a\":1,}", 7}, {"\"abc", 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        for (int m = 0; m < 3; m++) {
            struct run r = guard((enum mb_guard_mode)m, MB_GUARD_JSON, NULL, cases[k].doc,
                                 strlen(cases[k].doc), SIZE_MAX);
            if (r.rc != -EBADMSG || r.err_off != cases[k].off)
                fail_msg("%s (mode %d): rc %d offset %llu (%s)", cases[k].doc, m, r.rc,
                         (unsigned long long)r.err_off, r.err ? r.err : "-");
            assert_non_null(r.err);
            free(r.out);
        }
    }
}

static void test_text(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(64, 50, 0, 64);
    char doc[200];
    size_t n = 0;
    while (n + 3 <= 150) {
        memcpy(doc + n, "\xe2\x82\xac", 3);
        n += 3;
    }
    for (size_t split = 0; split < n; split++) {
        struct run r = guard(MB_GUARD_TRIM, MB_GUARD_TEXT, &l, doc, n, split);
        assert_int_equal(r.rc, 0);
        assert_true(r.len <= 64);
        /* 64 - 14 marker bytes = 50: cut back to 48, a multiple of 3. */
        assert_int_equal(r.len, 48 + 14);
        assert_memory_equal(r.out + 48, "\xe2\x80\xa6[truncated]", 14);
        assert_true(r.rep.truncated);
        free(r.out);
    }
    struct run r = guard(MB_GUARD_TRIM, MB_GUARD_TEXT, &l, "short", 5, 0);
    assert_string_equal(r.out, "short");
    free(r.out);
    assert_int_equal(mb_guard_utf8_cut("a\xc3\xa9", 3, 2), 1);
    assert_int_equal(mb_guard_utf8_cut("a\xc3\xa9", 3, 3), 3);
    assert_int_equal(mb_guard_utf8_cut("\xf0\x9f\x98\x80x", 5, 3), 0);
}

static void test_scan_cap(void **state)
{
    (void)state;
    struct mb_guard_limits l = lims(64, 3, 0, 64);
    l.max_scan_bytes = 1000;
    size_t n = 10000;
    char *doc = malloc(n + 1);
    doc[0] = '[';
    for (size_t k = 1; k < n - 1; k += 2)
        memcpy(doc + k, "1,", 2);
    doc[n - 1] = '1';
    doc[n] = ']';
    struct run r = guard(MB_GUARD_TRIM, MB_GUARD_JSON, &l, doc, n + 1, 0);
    assert_int_equal(r.rc, MB_GUARD_STOP);
    assert_string_equal(r.out, "[1,1,1]");
    assert_false(r.rep.top_items_exact);
    assert_int_equal(r.rep.top_items, 500);
    assert_int_equal(r.rep.largest_trimmed_items, 500);
    assert_false(r.rep.largest_trimmed_exact);
    assert_false(r.rep.complete);
    free(r.out);
    free(doc);
}

/* The adversarial set: every split point and byte-by-byte must match one-shot feeding. */
static void test_every_split(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{\"a\\\"b\":[1,-2.5e-3,true,false,null,\"x\\u00e9\\n\\\"\",{},[],[[{}]]],\"c\":{\"d\":\"\xf0\x9f\x98\x80\xe2\x82\xac\"}}",
        "[\"\\ud83d\\ude00\",\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"\\\\\\\\\\\\\\\\\\\\\\\\\"]",
        " [ [ [ [ [ 1 ] ] ] ] , [ ] , { } , 12345678901234567890123456789 , \"s\" ] ",
        "[1,2,3,4,5,6,7,8,9,10,11,12,{\"k\":[1,2,3,4,5,6,7]},\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]",
        "{\"items\":[{\"id\":1,\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"},{\"id\":2},{\"id\":3},{\"id\":4}],\"next\":\"/p?page=2\"}",
        "\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00 tail tail tail tail tail tail tail tail tail tail tail\"",
        "-0.0e+0", "[1,2,3", "{\"a\":tru}", "[\"\xc3\"]",
    };
    struct mb_guard_limits ls[] = {
        lims(1 << 20, 50, 0, 64), lims(64, 3, 8, 3), lims(80, 2, 5, 2), lims(64, 0, 1, 1),
        lims(100, 1, 20, 4),
    };
    for (size_t d = 0; d < sizeof docs / sizeof *docs; d++) {
        size_t len = strlen(docs[d]);
        for (size_t li = 0; li < sizeof ls / sizeof *ls; li++) {
            for (int m = 0; m < 3; m++) {
                struct run a = guard((enum mb_guard_mode)m, MB_GUARD_JSON, &ls[li], docs[d], len, 0);
                if (m == MB_GUARD_TRIM && a.rc >= 0) {
                    assert_true(a.len <= ls[li].max_output_bytes);
                    assert_true(valid_json(a.out, a.len));
                }
                for (size_t split = 1; split <= len; split++) {
                    struct run b = guard((enum mb_guard_mode)m, MB_GUARD_JSON, &ls[li], docs[d], len,
                                         split == len ? SIZE_MAX : split);
                    if (a.rc != b.rc || (a.rc >= 0 && (a.len != b.len || memcmp(a.out, b.out, a.len))) ||
                        a.rep.first_limit != b.rep.first_limit ||
                        a.rep.first_limit_offset != b.rep.first_limit_offset ||
                        a.rep.arrays_trimmed != b.rep.arrays_trimmed ||
                        a.rep.top_items != b.rep.top_items || a.err_off != b.err_off ||
                        strcmp(a.rep.first_trimmed_pointer, b.rep.first_trimmed_pointer))
                        fail_msg("doc %zu limits %zu mode %d split %zu: %d %s vs %d %s", d, li, m,
                                 split, a.rc, a.out, b.rc, b.out);
                    free(b.out);
                }
                free(a.out);
            }
        }
    }
}

/* ---- random documents ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static json_t *random_value(int depth)
{
    static const char *const pieces[] = {"a", "bc", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "\"", "\\", "\n", "\x01", "/", "~", " "};
    int k = rnd(depth > 5 ? 5 : 8);
    switch (k) {
    case 0: return json_integer((json_int_t)rnd(1000000) - 500000);
    case 1: return json_real(rnd(100000) / 7.0);
    case 2: return rnd(2) ? json_true() : json_null();
    case 3:
    case 4: {
        char s[400] = "";
        size_t n = rnd(30);
        for (size_t i = 0; i < n; i++)
            strcat(s, pieces[rnd(sizeof pieces / sizeof *pieces)]);
        return json_string(s);
    }
    case 5:
    case 6: {
        json_t *a = json_array();
        size_t n = rnd(4) == 0 ? rnd(60) : rnd(5);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        size_t n = rnd(6);
        for (size_t i = 0; i < n; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%u%s", rnd(100), rnd(3) ? "" : "/~\xc3\xa9");
            json_object_set_new(o, key, random_value(depth + 1));
        }
        return o;
    }
    }
}

static void test_random_documents(void **state)
{
    (void)state;
    for (int it = 0; it < 3000; it++) {
        json_t *v = random_value(0);
        char *doc = json_dumps(v, JSON_ENCODE_ANY | (rnd(2) ? JSON_INDENT(rnd(3)) : JSON_COMPACT));
        json_decref(v);
        size_t len = strlen(doc);
        struct mb_guard_limits l = lims(64 + rnd(1500), rnd(12), rnd(3) ? rnd(40) : 0, 1 + rnd(7));
        if (rnd(4) == 0)
            l.max_scan_bytes = l.max_output_bytes + rnd(2000);
        struct run a = guard(MB_GUARD_TRIM, MB_GUARD_JSON, &l, doc, len, 0);
        struct run b = guard(MB_GUARD_TRIM, MB_GUARD_JSON, &l, doc, len, 1 + rnd((uint32_t)len));
        if (a.rc < 0 || a.len > l.max_output_bytes)
            fail_msg("rc %d len %zu max %zu for %s", a.rc, a.len, l.max_output_bytes, doc);
        json_error_t err;
        json_t *p = json_loadb(a.out, a.len, JSON_DECODE_ANY, &err);
        if (!p)
            fail_msg("invalid output (%s) %s from %s", err.text, a.out, doc);
        json_decref(p);
        assert_int_equal(a.rc, b.rc);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.out, b.out, a.len);
        if (!a.rep.truncated) {
            /* Nothing cut: the output is the document without surrounding whitespace. */
            json_t *x = json_loadb(doc, len, JSON_DECODE_ANY, &err);
            json_t *y = json_loadb(a.out, a.len, JSON_DECODE_ANY, &err);
            assert_true(json_equal(x, y));
            json_decref(x);
            json_decref(y);
        }
        free(a.out);
        free(b.out);
        struct run w = guard(MB_GUARD_WARN, MB_GUARD_JSON, &l, doc, len, 1 + rnd((uint32_t)len));
        assert_int_equal(w.rc, 0);
        assert_int_equal(w.len, len);
        assert_memory_equal(w.out, doc, len);
        free(w.out);
        free(doc);
    }
}

static void test_bad_limits(void **state)
{
    (void)state;
    struct mb_buf b;
    struct mb_guard g;
    mb_buf_init(&b, 1 << 20);
    struct mb_guard_limits l = lims(10, 1, 1, 1);
    assert_int_equal(mb_guard_init(&g, MB_GUARD_TRIM, MB_GUARD_JSON, &l, &b), -EINVAL);
    l = lims(1024, 1, 1, MB_GUARD_MAX_DEPTH + 1);
    assert_int_equal(mb_guard_init(&g, MB_GUARD_TRIM, MB_GUARD_JSON, &l, &b), -EINVAL);
    l = lims(2 << 20, 1, 1, 8);
    assert_int_equal(mb_guard_init(&g, MB_GUARD_TRIM, MB_GUARD_JSON, &l, &b), -EINVAL);
    assert_int_equal(mb_guard_init(&g, MB_GUARD_TRIM, MB_GUARD_JSON, NULL, &b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_is_copy), cmocka_unit_test(test_items),
        cmocka_unit_test(test_strings),       cmocka_unit_test(test_depth),
        cmocka_unit_test(test_bytes),         cmocka_unit_test(test_block),
        cmocka_unit_test(test_warn),          cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_text),          cmocka_unit_test(test_scan_cap),
        cmocka_unit_test(test_every_split),   cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_bad_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
