/* Unit tests for the shared (second-level) cache of src/auth/token_fetch: an in-memory cache
 * that answers from the loop stands for Redis, the stub HTTP server for the token endpoint.
 * Checked: a token fetched by one fetcher (instance) is found by another with the same key and
 * the endpoint sees one request; what is stored is sealed (no token bytes, lifetime minus skew as
 * TTL); a value under another key, a tampered one, one sealed under another key, or one about to
 * expire is a miss that fetches; an error or an unreachable cache is a miss, never a failure;
 * concurrent requests make one lookup; destroy with a lookup in flight runs no callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/token_fetch.h"
#include "upstream/upstream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support_stub.h"

/* --- an in-memory shared cache answering from the loop ------------------------------------------ */

#define MEM_SLOTS 16
#define MEM_VALUE_MAX 8192
#define MEM_WAIT_MAX 16

struct mem_cache {
    uv_loop_t *loop;
    uv_timer_t answer;                 /* answers the lookups on the next iteration */
    struct {
        bool used;
        char key[65];
        unsigned char value[MEM_VALUE_MAX];
        size_t len;
        unsigned ttl;
    } slots[MEM_SLOTS];
    struct {
        char key[65];
        mb_token_shared_done done;
        void *ctx;
    } waiting[MEM_WAIT_MAX];
    unsigned nwaiting;
    unsigned gets, sets, forgets;
    int error;                         /* answer every lookup with this error (0: normally) */
    bool refuse;                       /* get returns nonzero (a miss at once) */
    bool hold;                         /* never answer */
};

static int mem_find(struct mem_cache *m, const char *key)
{
    for (int i = 0; i < MEM_SLOTS; i++)
        if (m->slots[i].used && strcmp(m->slots[i].key, key) == 0)
            return i;
    return -1;
}

static void mem_on_answer(uv_timer_t *t)
{
    struct mem_cache *m = t->data;
    while (m->nwaiting) {
        unsigned i = --m->nwaiting;
        int s = mem_find(m, m->waiting[i].key);
        if (m->error)
            m->waiting[i].done(m->waiting[i].ctx, NULL, 0, m->error);
        else if (s < 0)
            m->waiting[i].done(m->waiting[i].ctx, NULL, 0, 0);
        else
            m->waiting[i].done(m->waiting[i].ctx, m->slots[s].value, m->slots[s].len, 0);
    }
}

static int mem_get(void *cache, const char *key, mb_token_shared_done done, void *ctx)
{
    struct mem_cache *m = cache;
    m->gets++;
    assert_int_equal(strlen(key), 64);
    if (m->refuse)
        return -ENOTCONN;
    assert_true(m->nwaiting < MEM_WAIT_MAX);
    snprintf(m->waiting[m->nwaiting].key, 65, "%s", key);
    m->waiting[m->nwaiting].done = done;
    m->waiting[m->nwaiting].ctx = ctx;
    m->nwaiting++;
    if (!m->hold)
        uv_timer_start(&m->answer, mem_on_answer, 0, 0);
    return 0;
}

static void mem_forget(void *cache, void *ctx)
{
    struct mem_cache *m = cache;
    m->forgets++;
    for (unsigned i = 0; i < m->nwaiting; i++) {
        if (m->waiting[i].ctx == ctx) {
            m->waiting[i] = m->waiting[--m->nwaiting];
            i--;
        }
    }
}

static void mem_set(void *cache, const char *key, const void *value, size_t len, unsigned ttl)
{
    struct mem_cache *m = cache;
    m->sets++;
    assert_true(len <= MEM_VALUE_MAX);
    int s = mem_find(m, key);
    for (int i = 0; s < 0 && i < MEM_SLOTS; i++)
        if (!m->slots[i].used)
            s = i;
    assert_true(s >= 0);
    m->slots[s].used = true;
    snprintf(m->slots[s].key, 65, "%s", key);
    memcpy(m->slots[s].value, value, len);
    m->slots[s].len = len;
    m->slots[s].ttl = ttl;
}

static const struct mb_token_shared_cache mem_ops = {mem_get, mem_forget, mem_set};

static void mem_init(struct mem_cache *m, uv_loop_t *loop)
{
    memset(m, 0, sizeof *m);
    m->loop = loop;
    uv_timer_init(loop, &m->answer);
    m->answer.data = m;
}

static void mem_dispose(struct mem_cache *m)
{
    uv_close((uv_handle_t *)&m->answer, NULL);
}

/* --- helpers ----------------------------------------------------------------------------------- */

static const uint8_t KEY_A[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t KEY_B[32] = {9};

struct tres {
    int calls;
    bool ok;
    char token[512];
    char error[256];
};

static void on_token(void *data, const char *token, size_t len, const char *error)
{
    struct tres *r = data;
    r->calls++;
    r->ok = token != NULL;
    if (token)
        snprintf(r->token, sizeof r->token, "%.*s", (int)len, token);
    else
        snprintf(r->error, sizeof r->error, "%s", error);
}

static struct mb_token_fetcher *fetcher(struct fx *f, struct mem_cache *m, const uint8_t key[32])
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/oauth/token", f->stub.port);
    struct mb_token_fetch_options o = {.token_url = f->url, .client_id = "mcpbridge", .client_secret = "s",
                                       .audience = "api", .skew_seconds = 30};
    struct mb_token_fetcher *t = mb_token_fetcher_create(&f->loop, f->up, &o);
    assert_non_null(t);
    if (m)
        assert_int_equal(mb_token_fetcher_set_shared_cache(t, &mem_ops, m, key), 0);
    return t;
}

static void get(struct mb_token_fetcher *t, const char *subject, struct tres *r)
{
    assert_non_null(mb_token_fetch_get(t, MB_TOKEN_EXCHANGE, subject, strlen(subject), on_token, r));
    assert_int_equal(r->calls, 0);
}

static struct mb_token_stats stats(struct mb_token_fetcher *t)
{
    struct mb_token_stats st;
    mb_token_fetcher_stats(t, &st);
    return st;
}

static bool contains(const unsigned char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

#define TOKEN1 "exchanged-token-for-alice"
#define ANSWER1 "{\"access_token\":\"" TOKEN1 "\",\"expires_in\":3600}"

/* --- tests ------------------------------------------------------------------------------------- */

/* Instance A fetches and stores; instance B finds it: one request to the endpoint. */
static void test_shared_between_instances(void **state)
{
    struct fx *f = *state;
    struct mem_cache m;
    mem_init(&m, &f->loop);
    stub_set(&f->stub, 200, ANSWER1);
    struct mb_token_fetcher *a = fetcher(f, &m, KEY_A), *b = fetcher(f, &m, KEY_A);
    struct tres ra = {0}, rb = {0};
    get(a, "alice-token", &ra);
    RUN_UNTIL(f, ra.calls, 5000);
    assert_true(ra.ok);
    assert_string_equal(ra.token, TOKEN1);
    assert_int_equal(f->stub.requests, 1);
    assert_int_equal(m.gets, 1); /* asked before the endpoint: a miss */
    assert_int_equal(m.sets, 1);
    assert_int_equal(stats(a).shared_stores, 1);
    /* Sealed: neither the token nor the subject in the stored bytes; TTL = life - skew. */
    assert_false(contains(m.slots[0].value, m.slots[0].len, TOKEN1));
    assert_false(contains(m.slots[0].value, m.slots[0].len, "alice"));
    assert_int_equal(m.slots[0].ttl, 3600 - 30);
    assert_false(contains((const unsigned char *)m.slots[0].key, 64, "alice"));

    get(b, "alice-token", &rb);
    RUN_UNTIL(f, rb.calls, 5000);
    assert_true(rb.ok);
    assert_string_equal(rb.token, TOKEN1);
    assert_int_equal(f->stub.requests, 1); /* from the shared cache */
    struct mb_token_stats st = stats(b);
    assert_int_equal(st.shared_lookups, 1);
    assert_int_equal(st.shared_hits, 1);
    assert_int_equal(st.http_requests, 0);
    /* B now has it locally: no more lookups. */
    struct tres again = {0};
    get(b, "alice-token", &again);
    RUN_UNTIL(f, again.calls, 5000);
    assert_int_equal(m.gets, 2);
    assert_int_equal(stats(b).hits, 1);
    /* Another user is another key. */
    struct tres bob = {0};
    get(b, "bob-token", &bob);
    RUN_UNTIL(f, bob.calls, 5000);
    assert_int_equal(f->stub.requests, 2);
    mb_token_fetcher_destroy(a);
    mb_token_fetcher_destroy(b);
    mem_dispose(&m);
}

/* Fetches subject with a fresh fetcher sealing under key; returns whether the endpoint was asked. */
static bool fetch_once(struct fx *f, struct mem_cache *m, const uint8_t key[32], const char *subject,
                       unsigned long *shared_hits)
{
    unsigned before = f->stub.requests;
    struct mb_token_fetcher *t = fetcher(f, m, key);
    struct tres r = {0};
    get(t, subject, &r);
    RUN_UNTIL(f, r.calls, 5000);
    assert_true(r.ok);
    if (shared_hits)
        *shared_hits = stats(t).shared_hits;
    mb_token_fetcher_destroy(t);
    return f->stub.requests != before;
}

/* What must not open: a value moved to another lookup key, a flipped byte, a value sealed under
 * another key, a token about to expire. Each is a miss that fetches. */
static void test_values_that_do_not_open(void **state)
{
    struct fx *f = *state;
    struct mem_cache m;
    mem_init(&m, &f->loop);
    stub_set(&f->stub, 200, ANSWER1);
    unsigned long hits = 0;
    assert_true(fetch_once(f, &m, KEY_A, "alice-token", NULL)); /* slot 0 */
    assert_true(fetch_once(f, &m, KEY_A, "dave-token", NULL));  /* slot 1 */
    assert_false(fetch_once(f, &m, KEY_A, "dave-token", &hits)); /* as stored: opens */
    assert_int_equal(hits, 1);

    /* alice's valid value under dave's key: the associated data does not match. */
    memcpy(m.slots[1].value, m.slots[0].value, m.slots[0].len);
    m.slots[1].len = m.slots[0].len;
    assert_true(fetch_once(f, &m, KEY_A, "dave-token", &hits));
    assert_int_equal(hits, 0);
    /* (the fetch stored dave's own value again) one flipped ciphertext byte */
    assert_false(fetch_once(f, &m, KEY_A, "dave-token", NULL));
    m.slots[1].value[20] ^= 1;
    assert_true(fetch_once(f, &m, KEY_A, "dave-token", &hits));
    assert_int_equal(hits, 0);
    /* sealed under another key */
    assert_true(fetch_once(f, &m, KEY_B, "alice-token", &hits));
    assert_int_equal(hits, 0);

    /* A token that outlives the skew by less than a second is not stored at all. */
    stub_set(&f->stub, 200, "{\"access_token\":\"brief\",\"expires_in\":30}");
    unsigned sets = m.sets;
    assert_true(fetch_once(f, &m, KEY_A, "erin-token", NULL));
    assert_int_equal(m.sets, sets);
    mem_dispose(&m);
}

/* The cache answering an error, or refusing at once, is a miss: the call still gets its token. */
static void test_cache_failures_are_misses(void **state)
{
    struct fx *f = *state;
    struct mem_cache m;
    mem_init(&m, &f->loop);
    stub_set(&f->stub, 200, ANSWER1);
    m.error = -ETIMEDOUT;
    struct mb_token_fetcher *a = fetcher(f, &m, KEY_A);
    struct tres r = {0};
    get(a, "alice-token", &r);
    RUN_UNTIL(f, r.calls, 5000);
    assert_true(r.ok);
    assert_string_equal(r.token, TOKEN1);
    assert_int_equal(f->stub.requests, 1);
    mb_token_fetcher_destroy(a);
    m.error = 0;
    m.refuse = true;
    a = fetcher(f, &m, KEY_A);
    struct tres r2 = {0};
    get(a, "bob-token", &r2);
    RUN_UNTIL(f, r2.calls, 5000);
    assert_true(r2.ok);
    assert_int_equal(f->stub.requests, 2);
    /* The endpoint failing is still a failure (nothing stored). */
    m.refuse = false;
    unsigned sets = m.sets;
    stub_set(&f->stub, 400, "{\"error\":\"invalid_grant\"}");
    struct tres r3 = {0};
    get(a, "carol-token", &r3);
    RUN_UNTIL(f, r3.calls, 5000);
    assert_false(r3.ok);
    assert_string_equal(r3.error, "token exchange failed: the token endpoint answered HTTP 400 (invalid_grant)");
    assert_int_equal(m.sets, sets);
    mb_token_fetcher_destroy(a);
    mem_dispose(&m);
}

/* Five concurrent requests for one subject: one lookup, one HTTP request, five answers; destroy
 * with a lookup in flight forgets it and denies the waiter. */
static void test_coalescing_and_destroy(void **state)
{
    struct fx *f = *state;
    struct mem_cache m;
    mem_init(&m, &f->loop);
    stub_set(&f->stub, 200, ANSWER1);
    struct mb_token_fetcher *a = fetcher(f, &m, KEY_A);
    struct tres r[5];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 5; i++)
        get(a, "alice-token", &r[i]);
    RUN_UNTIL(f, r[0].calls + r[1].calls + r[2].calls + r[3].calls + r[4].calls == 5, 5000);
    for (int i = 0; i < 5; i++)
        assert_string_equal(r[i].token, TOKEN1);
    assert_int_equal(m.gets, 1);
    assert_int_equal(f->stub.requests, 1);
    assert_int_equal(stats(a).coalesced, 4);

    m.hold = true;
    struct tres held = {0};
    get(a, "zoe-token", &held);
    RUN_FOR(f, 30);
    assert_int_equal(held.calls, 0);
    assert_int_equal(m.nwaiting, 1);
    mb_token_fetcher_destroy(a);
    assert_int_equal(held.calls, 1);
    assert_false(held.ok);
    assert_int_equal(m.forgets, 1);
    assert_int_equal(m.nwaiting, 0);
    assert_int_equal(f->stub.requests, 1);
    /* a second attach is refused */
    a = fetcher(f, &m, KEY_A);
    assert_int_equal(mb_token_fetcher_set_shared_cache(a, &mem_ops, &m, KEY_A), -EINVAL);
    mb_token_fetcher_destroy(a);
    mem_dispose(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_between_instances, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_values_that_do_not_open, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cache_failures_are_misses, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_coalescing_and_destroy, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
