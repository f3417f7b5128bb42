/* Unit tests for auth/token_cache.c: a hit returns the stored principal and scopes, entries
 * expire at min(exp, put time + max_ttl), a full cache evicts the least recently used entry,
 * different tokens are different entries (and one token replaced in place), and a long random
 * run keeps the cache consistent with a simple model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token_cache.h"

#define NOW 1700000000LL

static const char *const scopes_rw[] = {"read", "write"};

static struct mb_token_cache_entry entry(const char *sub, int64_t exp)
{
    struct mb_token_cache_entry e = {.subject = sub,
                                     .client_id = "cli",
                                     .scopes = scopes_rw,
                                     .scope_count = 2,
                                     .expires_at = exp};
    return e;
}

static int put(struct mb_token_cache *c, const char *tok, const char *sub, int64_t exp, int64_t now)
{
    struct mb_token_cache_entry e = entry(sub, exp);
    return mb_token_cache_put(c, tok, strlen(tok), now, &e);
}

static bool get(struct mb_token_cache *c, const char *tok, int64_t now,
                struct mb_token_cache_entry *out)
{
    return mb_token_cache_get(c, tok, strlen(tok), now, out);
}

static void test_hit(void **state)
{
    (void)state;
    struct mb_token_cache *c = mb_token_cache_create(16, 300);
    assert_non_null(c);
    assert_int_equal(mb_token_cache_capacity(c), 16);
    struct mb_token_cache_entry out;
    assert_false(get(c, "tok-a", NOW, &out));
    char sub[16] = "alice";
    assert_int_equal(put(c, "tok-a", sub, NOW + 100, NOW), 0);
    strcpy(sub, "mallory"); /* the cache copied the strings */
    assert_true(get(c, "tok-a", NOW + 1, &out));
    assert_string_equal(out.subject, "alice");
    assert_string_equal(out.client_id, "cli");
    assert_int_equal(out.scope_count, 2);
    assert_string_equal(out.scopes[0], "read");
    assert_string_equal(out.scopes[1], "write");
    assert_int_equal(out.expires_at, NOW + 100);
    assert_true(get(c, "tok-a", NOW + 2, NULL));
    /* A prefix, an extension or another token is a miss. */
    assert_false(get(c, "tok-", NOW, &out));
    assert_false(get(c, "tok-ab", NOW, &out));
    assert_false(mb_token_cache_get(c, "tok-a", 4, NOW, &out));
    /* NULL subject and client id, no scopes. */
    struct mb_token_cache_entry bare = {.expires_at = 0};
    assert_int_equal(mb_token_cache_put(c, "tok-b", 5, NOW, &bare), 0);
    assert_true(get(c, "tok-b", NOW, &out));
    assert_null(out.subject);
    assert_null(out.client_id);
    assert_int_equal(out.scope_count, 0);
    assert_int_equal(out.expires_at, NOW + 300); /* no exp: max_ttl */
    mb_token_cache_destroy(c);
}

static void test_miss_after_expiry(void **state)
{
    (void)state;
    struct mb_token_cache *c = mb_token_cache_create(16, 60);
    /* exp sooner than max_ttl. */
    assert_int_equal(put(c, "short", "a", NOW + 10, NOW), 0);
    assert_true(get(c, "short", NOW + 9, NULL));
    assert_false(get(c, "short", NOW + 10, NULL));
    assert_int_equal(mb_token_cache_count(c), 0); /* removed when seen expired */
    assert_false(get(c, "short", NOW + 5, NULL)); /* and gone for good */
    /* max_ttl sooner than exp. */
    assert_int_equal(put(c, "long", "b", NOW + 3600, NOW), 0);
    struct mb_token_cache_entry out;
    assert_true(get(c, "long", NOW + 59, &out));
    assert_int_equal(out.expires_at, NOW + 60);
    assert_false(get(c, "long", NOW + 60, NULL));
    /* Already expired tokens are not stored. */
    assert_int_equal(put(c, "old", "c", NOW, NOW), -EINVAL);
    assert_int_equal(put(c, "old", "c", NOW - 5, NOW), -EINVAL);
    assert_false(get(c, "old", NOW - 10, NULL));
    assert_int_equal(mb_token_cache_count(c), 0);
    mb_token_cache_destroy(c);
}

static void test_eviction_at_capacity(void **state)
{
    (void)state;
    struct mb_token_cache *c = mb_token_cache_create(4, 300);
    char tok[16];
    for (int i = 0; i < 4; i++) {
        snprintf(tok, sizeof tok, "t%d", i);
        assert_int_equal(put(c, tok, tok, 0, NOW), 0);
    }
    assert_int_equal(mb_token_cache_count(c), 4);
    /* t0 is used again: t1 is now the least recently used. */
    assert_true(get(c, "t0", NOW, NULL));
    assert_int_equal(put(c, "t4", "t4", 0, NOW), 0);
    assert_int_equal(mb_token_cache_count(c), 4);
    assert_false(get(c, "t1", NOW, NULL));
    assert_true(get(c, "t0", NOW, NULL));
    assert_true(get(c, "t2", NOW, NULL));
    assert_true(get(c, "t3", NOW, NULL));
    assert_true(get(c, "t4", NOW, NULL));
    /* Order now t0 t2 t3 t4 (oldest first): two more evict t0 and t2. */
    assert_int_equal(put(c, "t5", "t5", 0, NOW), 0);
    assert_int_equal(put(c, "t6", "t6", 0, NOW), 0);
    assert_false(get(c, "t0", NOW, NULL));
    assert_false(get(c, "t2", NOW, NULL));
    struct mb_token_cache_entry out;
    assert_true(get(c, "t6", NOW, &out));
    assert_string_equal(out.subject, "t6");
    mb_token_cache_clear(c);
    assert_int_equal(mb_token_cache_count(c), 0);
    assert_false(get(c, "t6", NOW, NULL));
    assert_int_equal(put(c, "t7", "t7", 0, NOW), 0);
    assert_true(get(c, "t7", NOW, NULL));
    mb_token_cache_destroy(c);
}

static void test_different_tokens_different_entries(void **state)
{
    (void)state;
    struct mb_token_cache *c = mb_token_cache_create(0, 0);
    assert_int_equal(mb_token_cache_capacity(c), MB_TOKEN_CACHE_DEFAULT_CAPACITY);
    char tok[32], sub[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(tok, sizeof tok, "eyJ.token.%d", i);
        snprintf(sub, sizeof sub, "user-%d", i);
        assert_int_equal(put(c, tok, sub, NOW + 1000 + i, NOW), 0);
    }
    assert_int_equal(mb_token_cache_count(c), 1000);
    for (int i = 999; i >= 0; i--) {
        struct mb_token_cache_entry out;
        snprintf(tok, sizeof tok, "eyJ.token.%d", i);
        snprintf(sub, sizeof sub, "user-%d", i);
        assert_true(get(c, tok, NOW, &out));
        assert_string_equal(out.subject, sub);
        assert_int_equal(out.expires_at, NOW + 300 < NOW + 1000 + i ? NOW + 300 : NOW + 1000 + i);
    }
    /* The same token again replaces its entry. */
    assert_int_equal(put(c, "eyJ.token.7", "someone-else", 0, NOW), 0);
    assert_int_equal(mb_token_cache_count(c), 1000);
    struct mb_token_cache_entry out;
    assert_true(get(c, "eyJ.token.7", NOW, &out));
    assert_string_equal(out.subject, "someone-else");
    /* Tokens with bytes the hash must see (NUL inside). */
    assert_int_equal(mb_token_cache_put(c, "a\0b", 3, NOW, &out), 0);
    assert_false(mb_token_cache_get(c, "a\0c", 3, NOW, NULL));
    assert_true(mb_token_cache_get(c, "a\0b", 3, NOW, NULL));
    mb_token_cache_destroy(c);
}

static void test_limits_and_claims(void **state)
{
    (void)state;
    struct mb_token_cache *c = mb_token_cache_create(8, 300);
    assert_null(mb_token_cache_create(MB_TOKEN_CACHE_MAX_CAPACITY + 1, 0));
    /* Too many bytes of strings: not cached. */
    char *big = malloc(MB_TOKEN_CACHE_MAX_VALUE_BYTES + 1);
    memset(big, 's', MB_TOKEN_CACHE_MAX_VALUE_BYTES);
    big[MB_TOKEN_CACHE_MAX_VALUE_BYTES] = '\0';
    assert_int_equal(put(c, "big", big, 0, NOW), -E2BIG);
    assert_false(get(c, "big", NOW, NULL));
    free(big);
    assert_int_equal(mb_token_cache_put(c, "x", 1, NOW, NULL), -EINVAL);
    assert_false(mb_token_cache_get(NULL, "x", 1, NOW, NULL));
    /* From verified claims. */
    struct mb_jwt_claims claims;
    memset(&claims, 0, sizeof claims);
    claims.subject = "svc";
    claims.client_id = "client-9";
    claims.expiry = NOW + 30;
    claims.scope_count = 1;
    claims.scopes[0] = "tools:call";
    assert_int_equal(mb_token_cache_put_claims(c, "jwt", 3, NOW, &claims), 0);
    struct mb_token_cache_entry out;
    assert_true(mb_token_cache_get(c, "jwt", 3, NOW + 29, &out));
    assert_string_equal(out.client_id, "client-9");
    assert_string_equal(out.scopes[0], "tools:call");
    assert_int_equal(out.expires_at, NOW + 30);
    assert_false(mb_token_cache_get(c, "jwt", 3, NOW + 30, &out));
    mb_token_cache_destroy(c);
    mb_token_cache_destroy(NULL);
}

/* A random walk of puts and gets against a model: what the cache says it holds must be what
 * the model holds, and the model evicts by recency exactly like an LRU should. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { CAP = 32, KEYS = 100, STEPS = 20000 };
    struct mb_token_cache *c = mb_token_cache_create(CAP, 1000000);
    int64_t last_use[KEYS];
    bool present[KEYS];
    memset(present, 0, sizeof present);
    unsigned seed = 12345;
    int64_t clock = 1;
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % KEYS);
        char tok[16];
        snprintf(tok, sizeof tok, "k%d", k);
        clock++;
        if ((seed >> 20) & 1) {
            bool hit = get(c, tok, NOW, NULL);
            if (hit != present[k])
                fail_msg("step %d: get k%d hit=%d model=%d", step, k, hit, present[k]);
            if (hit)
                last_use[k] = clock;
        } else {
            size_t held = 0;
            for (int i = 0; i < KEYS; i++)
                held += present[i];
            if (!present[k] && held == CAP) {
                int victim = -1;
                for (int i = 0; i < KEYS; i++)
                    if (present[i] && (victim < 0 || last_use[i] < last_use[victim]))
                        victim = i;
                present[victim] = false;
            }
            assert_int_equal(put(c, tok, tok, 0, NOW), 0);
            present[k] = true;
            last_use[k] = clock;
        }
        size_t held = 0;
        for (int i = 0; i < KEYS; i++)
            held += present[i];
        assert_int_equal(mb_token_cache_count(c), held);
    }
    mb_token_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit),
        cmocka_unit_test(test_miss_after_expiry),
        cmocka_unit_test(test_eviction_at_capacity),
        cmocka_unit_test(test_different_tokens_different_entries),
        cmocka_unit_test(test_limits_and_claims),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
