/* Unit tests for src/auth/token_fetch: a programmable HTTP server on 127.0.0.1 plays the token
 * endpoint on the test's loop. Checked: the RFC 8693 and client_credentials forms and client
 * authentication, the cache (a second call sends nothing), coalescing (ten concurrent calls, one
 * request), expiry minus skew, failures that deny every waiter with a safe message and are
 * remembered only for the back-off, the JSON path, timeouts, the LRU bound, cancel and destroy.
 * Every wait is bounded by a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/token_fetch.h"
#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "support_stub.h"

/* --- helpers ----------------------------------------------------------------------------------- */

struct tres {
    int calls;
    bool ok;
    char token[4096];
    char error[256];
    struct mb_token_fetcher *destroy;   /* destroyed from the callback when set */
    struct mb_token_request *cancel;    /* cancelled from the callback when set */
};

static void on_token(void *data, const char *token, size_t len, const char *error)
{
    struct tres *r = data;
    r->calls++;
    assert_true((token == NULL) != (error == NULL));
    r->ok = token != NULL;
    if (token) {
        assert_int_equal(strlen(token), len);
        assert_true(len < sizeof r->token);
        memcpy(r->token, token, len + 1);
    } else {
        assert_int_equal(len, 0);
        snprintf(r->error, sizeof r->error, "%s", error);
    }
    if (r->cancel)
        mb_token_fetch_cancel(r->cancel);
    if (r->destroy)
        mb_token_fetcher_destroy(r->destroy);
}

static struct mb_token_fetcher *fx_fetcher(struct fx *f, struct mb_token_fetch_options *o)
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/oauth/token", f->stub.port);
    o->token_url = f->url;
    struct mb_token_fetcher *t = mb_token_fetcher_create(&f->loop, f->up, o);
    assert_non_null(t);
    return t;
}

static struct mb_token_request *get(struct mb_token_fetcher *t, const char *subject, struct tres *r)
{
    struct mb_token_request *q =
        mb_token_fetch_get(t, MB_TOKEN_EXCHANGE, subject, subject ? strlen(subject) : 0, on_token, r);
    assert_non_null(q);
    assert_int_equal(r->calls, 0);  /* never from inside the call */
    return q;
}

static struct mb_token_stats stats(struct mb_token_fetcher *t)
{
    struct mb_token_stats st;
    mb_token_fetcher_stats(t, &st);
    return st;
}

static bool has_field(const char *form, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = form; (p = strstr(p, field)); p += n)
        if ((p == form || p[-1] == '&') && (p[n] == '&' || p[n] == '\0'))
            return true;
    return false;
}

#define ANSWER1 "{\"access_token\":\"xchg-1\",\"token_type\":\"Bearer\",\"expires_in\":3600}"

/* --- tests ------------------------------------------------------------------------------------- */

/* The RFC 8693 form (encoded), HTTP Basic client authentication, the answer, and the cache. */
static void test_exchange_form_and_cache(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, ANSWER1);
    struct mb_token_fetch_options o = {.client_id = "client", .client_secret = "s3cr:t",
                                       .audience = "orders-api", .scope = "orders:read orders:write"};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0};
    get(t, "tok+A/b=", &a);
    RUN_UNTIL(f, a.calls, 5000);
    assert_int_equal(a.calls, 1);
    assert_true(a.ok);
    assert_string_equal(a.token, "xchg-1");
    assert_int_equal(f->stub.requests, 1);
    assert_string_equal(f->stub.last_method, "POST");
    assert_string_equal(f->stub.last_path, "/oauth/token");
    assert_string_equal(f->stub.last_ctype, "application/x-www-form-urlencoded");
    assert_string_equal(f->stub.last_auth, "Basic Y2xpZW50OnMzY3IlM0F0");  /* client:s3cr%3At */
    const char *form = f->stub.last_body;
    assert_true(has_field(form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"));
    assert_true(has_field(form, "subject_token=tok%2BA%2Fb%3D"));
    assert_true(has_field(form, "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"));
    assert_true(has_field(form, "audience=orders-api"));
    assert_true(has_field(form, "scope=orders%3Aread+orders%3Awrite"));
    assert_null(strstr(form, "client_secret"));
    assert_null(strstr(form, "resource="));

    get(t, "tok+A/b=", &b);
    RUN_UNTIL(f, b.calls, 5000);
    assert_int_equal(b.calls, 1);
    assert_string_equal(b.token, "xchg-1");
    assert_int_equal(f->stub.requests, 1);  /* from the cache */
    struct mb_token_stats st = stats(t);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.http_requests, 1);
    assert_int_equal(st.entries, 1);
    mb_token_fetcher_destroy(t);
}

/* Ten concurrent requests for one subject: one HTTP request, ten answers. */
static void test_concurrent_requests_coalesced(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, ANSWER1);
    f->stub.delay_ms = 100;
    struct mb_token_fetch_options o = {0};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres r[10];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 10; i++)
        get(t, "subject-1", &r[i]);
    int done = 0;
    RUN_UNTIL(f, (done = r[0].calls + r[1].calls + r[2].calls + r[3].calls + r[4].calls + r[5].calls +
                         r[6].calls + r[7].calls + r[8].calls + r[9].calls) == 10, 5000);
    assert_int_equal(done, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_string_equal(r[i].token, "xchg-1");
    }
    assert_int_equal(f->stub.requests, 1);
    struct mb_token_stats st = stats(t);
    assert_int_equal(st.coalesced, 9);
    assert_int_equal(st.http_requests, 1);
    /* Another subject is another key: another request. */
    struct tres other = {0};
    get(t, "subject-2", &other);
    RUN_UNTIL(f, other.calls, 5000);
    assert_int_equal(f->stub.requests, 2);
    mb_token_fetcher_destroy(t);
}

/* expires_in 2 with a skew of 1 s: reused for about one second, then fetched again. */
static void test_expiry_minus_skew_refetches(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, "{\"access_token\":\"short-1\",\"expires_in\":2}");
    struct mb_token_fetch_options o = {.skew_seconds = 1};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0}, c = {0};
    get(t, "s", &a);
    RUN_UNTIL(f, a.calls, 5000);
    assert_string_equal(a.token, "short-1");
    RUN_FOR(f, 600);
    get(t, "s", &b);
    RUN_UNTIL(f, b.calls, 5000);
    assert_string_equal(b.token, "short-1");
    assert_int_equal(f->stub.requests, 1);
    stub_set(&f->stub, 200, "{\"access_token\":\"short-2\",\"expires_in\":2}");
    RUN_FOR(f, 500);  /* 1.1 s after the answer: past expiry minus skew */
    get(t, "s", &c);
    RUN_UNTIL(f, c.calls, 5000);
    assert_string_equal(c.token, "short-2");
    assert_int_equal(f->stub.requests, 2);
    /* expires_in not above the skew: handed out, never reused. */
    stub_set(&f->stub, 200, "{\"access_token\":\"brief\",\"expires_in\":1}");
    struct tres d = {0}, e = {0};
    get(t, "t", &d);
    RUN_UNTIL(f, d.calls, 5000);
    assert_string_equal(d.token, "brief");
    get(t, "t", &e);
    RUN_UNTIL(f, e.calls, 5000);
    assert_int_equal(f->stub.requests, 4);
    mb_token_fetcher_destroy(t);
}

/* A refused exchange denies every waiter with a safe message (the OAuth error code, no token
 * material), is repeated from memory during the back-off only, then asked again. */
static void test_failure_denies_and_backs_off_briefly(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"token secret-subject is revoked\"}");
    f->stub.delay_ms = 50;
    struct mb_token_fetch_options o = {.failure_backoff_ms = 400};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0}, c = {0};
    get(t, "secret-subject", &a);
    get(t, "secret-subject", &b);
    RUN_UNTIL(f, a.calls && b.calls, 5000);
    struct tres *both[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(both[i]->calls, 1);
        assert_false(both[i]->ok);
        assert_string_equal(both[i]->error,
                            "token exchange failed: the token endpoint answered HTTP 400 (invalid_grant)");
        assert_null(strstr(both[i]->error, "secret"));
    }
    assert_int_equal(f->stub.requests, 1);
    get(t, "secret-subject", &c);  /* within the back-off */
    RUN_UNTIL(f, c.calls, 5000);
    assert_false(c.ok);
    assert_int_equal(f->stub.requests, 1);
    assert_int_equal(stats(t).failure_hits, 1);
    RUN_FOR(f, 450);
    stub_set(&f->stub, 200, ANSWER1);
    struct tres d = {0};
    get(t, "secret-subject", &d);
    RUN_UNTIL(f, d.calls, 5000);
    assert_true(d.ok);
    assert_string_equal(d.token, "xchg-1");
    assert_int_equal(f->stub.requests, 2);
    assert_int_equal(stats(t).failures, 1);
    mb_token_fetcher_destroy(t);
}

/* Failures of every kind deny: not JSON, no token at the path, a token that could not go in a
 * header, an unreachable endpoint. */
static void test_bad_answers_deny(void **state)
{
    struct fx *f = *state;
    struct mb_token_fetch_options o = {.failure_backoff_ms = 1};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    static const struct {
        const char *body;
        const char *error;
    } cases[] = {
        {"<html>", "token exchange failed: the token endpoint's answer is not a JSON object"},
        {"[\"access_token\"]", "token exchange failed: the token endpoint's answer is not a JSON object"},
        {"{\"token\":\"x\"}", "token exchange failed: no token at 'access_token' in the answer"},
        {"{\"access_token\":42}", "token exchange failed: no token at 'access_token' in the answer"},
        {"{\"access_token\":\"\"}", "token exchange failed: the token at 'access_token' is not usable"},
        {"{\"access_token\":\"a\\r\\nX-Injected: 1\"}",
         "token exchange failed: the token at 'access_token' is not usable"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stub_set(&f->stub, 200, cases[i].body);
        struct tres r = {0};
        RUN_FOR(f, 5);  /* past the 1 ms back-off of the previous case */
        get(t, "s", &r);
        RUN_UNTIL(f, r.calls, 5000);
        assert_int_equal(r.calls, 1);
        assert_false(r.ok);
        assert_string_equal(r.error, cases[i].error);
    }
    assert_int_equal(f->stub.requests, sizeof cases / sizeof cases[0]);
    mb_token_fetcher_destroy(t);

    /* Nobody listens on the port any more. */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", f->stub.port);
    stub_stop(&f->stub);
    struct mb_token_fetch_options o2 = {.token_url = url};
    t = mb_token_fetcher_create(&f->loop, f->up, &o2);
    assert_non_null(t);
    struct tres r = {0};
    get(t, "s", &r);
    RUN_UNTIL(f, r.calls, 5000);
    assert_false(r.ok);
    assert_string_equal(r.error, "token exchange failed: the token endpoint is unreachable");
    mb_token_fetcher_destroy(t);
}

/* A dotted path (with an array index) finds the token; expires_in is read beside it. */
static void test_json_path(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, "{\"data\":{\"token\":\"deep-1\",\"expires_in\":1},\"expires_in\":3600}");
    struct mb_token_fetch_options o = {.token_path = "data.token", .skew_seconds = 1};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0};
    get(t, "s", &a);
    RUN_UNTIL(f, a.calls, 5000);
    assert_string_equal(a.token, "deep-1");
    get(t, "s", &b);  /* the nested expires_in (1 s, not above the skew) won: not reused */
    RUN_UNTIL(f, b.calls, 5000);
    assert_int_equal(f->stub.requests, 2);
    mb_token_fetcher_destroy(t);

    stub_set(&f->stub, 200, "{\"items\":[{\"t\":\"zero\"},{\"t\":\"one\"}],\"expires_in\":\"120\"}");
    struct mb_token_fetch_options o2 = {.token_path = "items.1.t"};
    t = fx_fetcher(f, &o2);
    struct tres c = {0}, d = {0};
    get(t, "s", &c);
    RUN_UNTIL(f, c.calls, 5000);
    assert_string_equal(c.token, "one");
    get(t, "s", &d);  /* expires_in "120" at the top: cached */
    RUN_UNTIL(f, d.calls, 5000);
    assert_string_equal(d.token, "one");
    assert_int_equal(f->stub.requests, 3);
    mb_token_fetcher_destroy(t);

    struct mb_token_fetch_options bad = {.token_url = f->url, .token_path = "data..token"};
    assert_null(mb_token_fetcher_create(&f->loop, f->up, &bad));
    bad.token_path = "";
    assert_null(mb_token_fetcher_create(&f->loop, f->up, &bad));
}

/* client_credentials with the secret in the form; cached like an exchange. */
static void test_client_credentials(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, "{\"access_token\":\"gw-token\",\"expires_in\":600}");
    struct mb_token_fetch_options o = {.client_id = "my app", .client_secret = "pw",
                                       .client_auth = MB_TOKEN_AUTH_POST, .scope = "inventory"};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0};
    assert_non_null(mb_token_fetch_get(t, MB_TOKEN_CLIENT_CREDENTIALS, NULL, 0, on_token, &a));
    RUN_UNTIL(f, a.calls, 5000);
    assert_true(a.ok);
    assert_string_equal(a.token, "gw-token");
    const char *form = f->stub.last_body;
    assert_true(has_field(form, "grant_type=client_credentials"));
    assert_true(has_field(form, "scope=inventory"));
    assert_true(has_field(form, "client_id=my+app"));
    assert_true(has_field(form, "client_secret=pw"));
    assert_null(strstr(form, "subject_token"));
    assert_string_equal(f->stub.last_auth, "");
    assert_non_null(mb_token_fetch_get(t, MB_TOKEN_CLIENT_CREDENTIALS, "ignored", 7, on_token, &b));
    RUN_UNTIL(f, b.calls, 5000);
    assert_string_equal(b.token, "gw-token");
    assert_int_equal(f->stub.requests, 1);
    /* A per-request scope is another key. */
    struct mb_token_params p = {.scope = "inventory:write"};
    struct tres c = {0};
    assert_non_null(mb_token_fetch_get_with(t, MB_TOKEN_CLIENT_CREDENTIALS, NULL, 0, &p, on_token, &c));
    RUN_UNTIL(f, c.calls, 5000);
    assert_int_equal(f->stub.requests, 2);
    assert_true(has_field(f->stub.last_body, "scope=inventory%3Awrite"));
    mb_token_fetcher_destroy(t);
}

/* A token endpoint that never answers: every waiter is denied at the timeout. */
static void test_timeout_denies_all_waiters(void **state)
{
    struct fx *f = *state;
    f->stub.hold = true;
    struct mb_token_fetch_options o = {.timeout_ms = 200};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0};
    get(t, "s", &a);
    get(t, "s", &b);
    RUN_UNTIL(f, a.calls && b.calls, 3000);
    assert_string_equal(a.error, "token exchange failed: the token endpoint timed out");
    assert_string_equal(b.error, "token exchange failed: the token endpoint timed out");
    assert_int_equal(f->stub.requests, 1);
    mb_token_fetcher_destroy(t);
}

/* The cache stays under max_entries; the least recently used entry goes. */
static void test_lru_bound(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, ANSWER1);
    struct mb_token_fetch_options o = {.max_entries = 2};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    const char *subjects[] = {"s1", "s2", "s1", "s3", "s1", "s2"};
    /* s1, s2 fetched; s1 hit (s2 now least recent); s3 evicts s2; s1 hit; s2 fetched again. */
    for (size_t i = 0; i < 6; i++) {
        struct tres r = {0};
        get(t, subjects[i], &r);
        RUN_UNTIL(f, r.calls, 5000);
        assert_true(r.ok);
        assert_true(stats(t).entries <= 2);
    }
    struct mb_token_stats st = stats(t);
    assert_int_equal(f->stub.requests, 4);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.entries, 2);
    mb_token_fetcher_destroy(t);
}

/* Cancelled requests never hear back; the others still get the token; destroy denies the rest;
 * a callback may destroy the fetcher. */
static void test_cancel_and_destroy(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, ANSWER1);
    f->stub.delay_ms = 50;
    struct mb_token_fetch_options o = {0};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0}, c = {0};
    struct mb_token_request *qa = get(t, "s", &a);
    get(t, "s", &b);
    struct mb_token_request *qc = get(t, "s", &c);
    b.cancel = qc;  /* b's callback cancels c, which has not run yet */
    mb_token_fetch_cancel(qa);
    RUN_UNTIL(f, b.calls, 5000);
    RUN_FOR(f, 20);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 0);
    assert_string_equal(b.token, "xchg-1");

    /* Pending at destroy: the waiter of an HTTP request and a queued cache hit. */
    struct tres d = {0}, e = {0};
    get(t, "other", &d);
    get(t, "s", &e);
    mb_token_fetcher_destroy(t);
    assert_int_equal(d.calls, 1);
    assert_int_equal(e.calls, 1);
    assert_string_equal(d.error, "the token service is shutting down");
    assert_string_equal(e.error, "the token service is shutting down");

    t = fx_fetcher(f, &o);
    struct tres g = {.destroy = t}, h = {0};
    get(t, "s", &g);
    get(t, "s", &h);
    RUN_UNTIL(f, g.calls && h.calls, 5000);
    assert_true(g.ok);
    assert_true(h.ok);  /* delivered with g's answer before the destroy took effect */
}

/* Input refused without a request, answered from the loop. */
static void test_refused_input(void **state)
{
    struct fx *f = *state;
    struct mb_token_fetch_options o = {.max_subject_bytes = 64};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0}, b = {0};
    assert_non_null(mb_token_fetch_get(t, MB_TOKEN_EXCHANGE, NULL, 0, on_token, &a));
    char big[65];
    memset(big, 'x', sizeof big);
    assert_non_null(mb_token_fetch_get(t, MB_TOKEN_EXCHANGE, big, sizeof big, on_token, &b));
    assert_int_equal(a.calls + b.calls, 0);
    RUN_UNTIL(f, a.calls && b.calls, 5000);
    assert_string_equal(a.error, "token exchange failed: no subject token");
    assert_string_equal(b.error, "token exchange failed: the subject token is too large");
    assert_int_equal(f->stub.requests, 0);
    assert_null(mb_token_fetch_get(t, (enum mb_token_kind)7, "s", 1, on_token, &a));
    assert_null(mb_token_fetch_get(t, MB_TOKEN_EXCHANGE, "s", 1, NULL, &a));
    assert_null(mb_token_fetch_get(NULL, MB_TOKEN_EXCHANGE, "s", 1, on_token, &a));
    mb_token_fetcher_destroy(t);
    struct mb_token_fetch_options bad = {.token_url = "ftp://x/token"};
    assert_null(mb_token_fetcher_create(&f->loop, f->up, &bad));
}

/* Basic authentication form-encodes the parts first (RFC 6749 2.3.1); requested_token_type and
 * resource go in the form when configured. */
static void test_basic_auth_encoding_and_optional_fields(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, ANSWER1);
    struct mb_token_fetch_options o = {.client_id = "my app", .client_secret = "pw",
                                       .requested_token_type = "urn:ietf:params:oauth:token-type:jwt",
                                       .subject_token_type = "urn:ietf:params:oauth:token-type:id_token",
                                       .resource = "https://api.example/orders"};
    struct mb_token_fetcher *t = fx_fetcher(f, &o);
    struct tres a = {0};
    get(t, "s", &a);
    RUN_UNTIL(f, a.calls, 5000);
    assert_true(a.ok);
    assert_string_equal(f->stub.last_auth, "Basic bXkrYXBwOnB3");  /* my+app:pw */
    const char *form = f->stub.last_body;
    assert_true(has_field(form, "requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"));
    assert_true(has_field(form, "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"));
    assert_true(has_field(form, "resource=https%3A%2F%2Fapi.example%2Forders"));
    assert_null(strstr(form, "client_id"));
    mb_token_fetcher_destroy(t);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(110);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("MB_TEST_FILTER"))
        cmocka_set_test_filter(getenv("MB_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exchange_form_and_cache, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_requests_coalesced, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_minus_skew_refetches, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failure_denies_and_backs_off_briefly, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_answers_deny, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_json_path, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_credentials, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_denies_all_waiters, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_lru_bound, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_destroy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_input, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_basic_auth_encoding_and_optional_fields, fx_setup, fx_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
