/* Unit tests for src/auth/jwks_fetch: a programmable HTTP server on 127.0.0.1 runs on the test's
 * loop and serves the JWKS. Two sources on one loop stand for two workers sharing a region (and
 * one test forks a real second process); the tests check that one fetch serves every source,
 * the refresh ahead of expiry, that the keys in use survive a failing IdP and an unusable
 * document, the back-off, the unknown-kid rate limit, that the generation moves only when the
 * bytes change, and the ready/refreshed waits. Every wait is bounded by a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/jwks_fetch.h"
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
#include <sys/wait.h>
#include <unistd.h>

#define DOC1 "{\"keys\":[{\"kid\":\"k1\",\"kty\":\"EC\"}]}"
#define DOC2 "{\"keys\":[{\"kid\":\"k1\",\"kty\":\"EC\"},{\"kid\":\"k2\",\"kty\":\"EC\"}]}"

#include "support_stub.h"

/* --- helpers ----------------------------------------------------------------------------------- */

#define FX_MAX_SOURCES 8
static struct mb_jwks_source *fx_sources[FX_MAX_SOURCES];

static unsigned validate_calls;

/* A stand-in for the JWK parser: a document is usable when it starts like a key set. */
static int validate_doc(void *data, const char *bytes, size_t len)
{
    validate_calls++;
    return len > 8 && strncmp(bytes, "{\"keys\":", 8) == 0 ? 0 : -1;
}

struct changes {
    unsigned calls;
    uint64_t last;
};

static void on_change(void *data, uint64_t generation)
{
    struct changes *c = data;
    c->calls++;
    c->last = generation;
}

struct waitres {
    int calls;
    int status;
    struct mb_jwks_source *destroy;  /* destroyed from the callback when set */
};

static void on_wait(void *data, int status)
{
    struct waitres *w = data;
    w->calls++;
    w->status = status;
    if (w->destroy)
        mb_jwks_source_destroy(w->destroy);
}

static struct mb_jwks_shared *fx_region(struct fx *f)
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/jwks?client=secret", f->stub.port);
    struct mb_jwks_shared *sh = mb_jwks_shared_create(f->url, 0);
    assert_non_null(sh);
    assert_string_equal(mb_jwks_shared_uri(sh), f->url);
    return sh;
}

static struct mb_jwks_source *fx_source(struct fx *f, struct mb_jwks_shared *sh,
                                        struct mb_jwks_options *o, struct changes *c)
{
    o->validate = validate_doc;
    o->on_change = on_change;
    o->change_data = c;
    struct mb_jwks_source *s = mb_jwks_source_create(&f->loop, f->up, sh, o);
    assert_non_null(s);
    for (size_t i = 0; i < FX_MAX_SOURCES; i++) {
        if (!fx_sources[i]) {
            fx_sources[i] = s;
            return s;
        }
    }
    fail_msg("too many sources");
    return NULL;
}

/* Destroys a source made by fx_source (the teardown destroys those a failed test left). */
static void fx_drop(struct mb_jwks_source *s)
{
    for (size_t i = 0; i < FX_MAX_SOURCES; i++)
        if (fx_sources[i] == s)
            fx_sources[i] = NULL;
    mb_jwks_source_destroy(s);
}

/* Forgets a source without destroying it (a test that destroys it from a callback). */
static void fx_forget(struct mb_jwks_source *s)
{
    for (size_t i = 0; i < FX_MAX_SOURCES; i++)
        if (fx_sources[i] == s)
            fx_sources[i] = NULL;
}

static int fx_teardown_sources(void **state)
{
    for (size_t i = 0; i < FX_MAX_SOURCES; i++) {
        mb_jwks_source_destroy(fx_sources[i]);
        fx_sources[i] = NULL;
    }
    return fx_teardown(state);
}

static void assert_doc(struct mb_jwks_source *s, const char *doc, uint64_t gen)
{
    const char *b = NULL;
    size_t n = 0;
    uint64_t g = 0;
    assert_int_equal(mb_jwks_source_current(s, &b, &n, &g), 0);
    assert_int_equal(g, gen);
    assert_int_equal(n, strlen(doc));
    assert_memory_equal(b, doc, n);
    assert_int_equal(b[n], '\0');
}

/* Both sources ready on the first document. */
static void wait_ready(struct fx *f, struct mb_jwks_source *a, struct mb_jwks_source *b)
{
    struct waitres ra = {0}, rb = {0};
    assert_non_null(mb_jwks_source_when_ready(a, 5000, on_wait, &ra));
    assert_non_null(mb_jwks_source_when_ready(b, 5000, on_wait, &rb));
    assert_int_equal(ra.calls + rb.calls, 0);  /* never from inside the call */
    RUN_UNTIL(f, ra.calls && rb.calls, 5000);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(ra.status, 0);
    assert_int_equal(rb.status, 0);
}

/* Every poll: both sources still have a document (the keys in use never go away). */
struct watch {
    struct mb_jwks_source *a, *b;
    bool always;
};

static bool both_at(struct watch *w, uint64_t gen)
{
    uint64_t ga = 0, gb = 0;
    if (mb_jwks_source_current(w->a, NULL, NULL, &ga) != 0 ||
        mb_jwks_source_current(w->b, NULL, NULL, &gb) != 0)
        w->always = false;
    return ga == gen && gb == gen;
}

/* --- tests ------------------------------------------------------------------------------------- */

/* Two workers' sources on one region: one fetch, the same bytes and generation for both. */
static void test_two_sources_share_one_fetch(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.cache_seconds = 300};
    struct changes ca = {0}, cb = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &ca);
    struct mb_jwks_source *b = fx_source(f, sh, &o, &cb);
    assert_int_equal(mb_jwks_source_current(a, NULL, NULL, NULL), -EAGAIN);
    wait_ready(f, a, b);
    assert_int_equal(f->stub.requests, 1);
    assert_string_equal(f->stub.last_path, "/jwks?client=secret");
    assert_int_equal(mb_jwks_shared_fetches(sh), 1);
    assert_doc(a, DOC1, 1);
    assert_doc(b, DOC1, 1);
    struct mb_jwks_stats sa, sb;
    mb_jwks_source_stats(a, &sa);
    mb_jwks_source_stats(b, &sb);
    assert_int_equal(sa.fetches + sb.fetches, 1);
    assert_int_equal(sa.fetch_ok + sb.fetch_ok, 1);
    RUN_UNTIL(f, ca.calls && cb.calls, 1000);
    assert_int_equal(ca.calls, 1);
    assert_int_equal(ca.last, 1);
    assert_int_equal(cb.calls, 1);
    RUN_FOR(f, 200);
    assert_int_equal(f->stub.requests, 1);  /* nothing more until the refresh is due */
    fx_drop(a);
    fx_drop(b);
    mb_jwks_shared_destroy(sh);
}

static bool child_exited(pid_t pid, int *status)
{
    return waitpid(pid, status, WNOHANG) == pid;
}

/* A real second process (a forked "worker" with its own loop and client) on the same region:
 * still one fetch between the two, and the child reads the document the other fetched, or the
 * other way round. */
static void test_forked_worker_shares_the_region(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.cache_seconds = 300};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uv_loop_t loop;
        int ok = 0;
        if (uv_loop_init(&loop) == 0) {
            struct mb_upstream *up = mb_upstream_create(&loop, NULL);
            o.validate = validate_doc;
            struct mb_jwks_source *s = up ? mb_jwks_source_create(&loop, up, sh, &o) : NULL;
            struct waitres r = {0};
            if (s && mb_jwks_source_when_ready(s, 5000, on_wait, &r)) {
                uv_timer_t tick;  /* timer callbacks do not end UV_RUN_ONCE: wake it */
                uv_timer_init(&loop, &tick);
                uv_timer_start(&tick, fx_on_ticker, 10, 10);
                while (!r.calls)
                    uv_run(&loop, UV_RUN_ONCE);
                const char *b = NULL;
                size_t n = 0;
                uint64_t g = 0;
                ok = r.status == 0 && mb_jwks_source_current(s, &b, &n, &g) == 0 && g == 1 &&
                     n == strlen(DOC1) && memcmp(b, DOC1, n) == 0;
            }
        }
        _exit(ok ? 0 : 1);
    }
    struct changes c = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &c);
    struct waitres r = {0};
    assert_non_null(mb_jwks_source_when_ready(a, 5000, on_wait, &r));
    int status = -1;
    bool exited = false;
    RUN_UNTIL(f, r.calls && (exited || (exited = child_exited(pid, &status))), 8000);
    assert_true(exited);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(r.status, 0);
    assert_doc(a, DOC1, 1);
    assert_int_equal(f->stub.requests, 1);
    assert_int_equal(mb_jwks_shared_fetches(sh), 1);
    fx_drop(a);
    mb_jwks_shared_destroy(sh);
}

/* cache_seconds = 1: one refresh between 0.8 s and 0.9 s (+ scheduling), for both sources, while
 * the old keys stay available; then the new generation everywhere. */
static void test_refresh_ahead_of_expiry(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.cache_seconds = 1};
    struct changes ca = {0}, cb = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &ca);
    struct mb_jwks_source *b = fx_source(f, sh, &o, &cb);
    wait_ready(f, a, b);
    assert_int_equal(f->stub.requests, 1);
    stub_set(&f->stub, 200, DOC2);
    struct watch w = {.a = a, .b = b, .always = true};
    RUN_UNTIL(f, both_at(&w, 2), 3000);
    assert_true(w.always);
    assert_doc(a, DOC2, 2);
    assert_doc(b, DOC2, 2);
    assert_int_equal(f->stub.requests, 2);
    uint64_t gap = f->stub.times[1] - f->stub.times[0];
    assert_true(gap >= 780);
    assert_true(gap <= 1300);
    RUN_UNTIL(f, ca.last == 2 && cb.last == 2, 1000);
    assert_int_equal(ca.last, 2);
    assert_int_equal(cb.last, 2);
    RUN_FOR(f, 300);
    assert_int_equal(f->stub.requests, 2);  /* the next refresh is 0.8 s away again */
    fx_drop(a);
    fx_drop(b);
    mb_jwks_shared_destroy(sh);
}

/* The IdP fails (500, then an unusable document): the keys in use stay, with one generation;
 * retries back off (200 ms, then 400 ms); a good document is taken once the IdP recovers. */
static void test_old_keys_kept_while_idp_fails(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.cache_seconds = 1, .retry_min_ms = 200, .retry_max_ms = 400};
    struct changes ca = {0}, cb = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &ca);
    struct mb_jwks_source *b = fx_source(f, sh, &o, &cb);
    wait_ready(f, a, b);
    stub_set(&f->stub, 500, "{\"error\":\"down\"}");
    struct watch w = {.a = a, .b = b, .always = true};
    RUN_UNTIL(f, (both_at(&w, 1), f->stub.requests >= 3), 4000);
    assert_int_equal(f->stub.requests, 3);
    assert_true(f->stub.times[2] - f->stub.times[1] >= 190);  /* first back-off: 200 ms */
    assert_doc(a, DOC1, 1);
    assert_doc(b, DOC1, 1);
    stub_set(&f->stub, 200, "<html>maintenance</html>");  /* 200, but not a key set */
    unsigned before = validate_calls;
    RUN_UNTIL(f, (both_at(&w, 1), f->stub.requests >= 4), 4000);
    assert_int_equal(f->stub.requests, 4);
    assert_true(f->stub.times[3] - f->stub.times[2] >= 390);  /* doubled, capped at 400 */
    RUN_UNTIL(f, validate_calls > before, 1000);
    assert_doc(a, DOC1, 1);
    assert_doc(b, DOC1, 1);
    struct mb_jwks_stats sa, sb;
    mb_jwks_source_stats(a, &sa);
    mb_jwks_source_stats(b, &sb);
    assert_int_equal(sa.fetch_failed + sb.fetch_failed, 3);
    stub_set(&f->stub, 200, DOC2);
    RUN_UNTIL(f, both_at(&w, 2), 4000);
    assert_true(w.always);
    assert_doc(a, DOC2, 2);
    assert_doc(b, DOC2, 2);
    assert_int_equal(f->stub.requests, 5);
    RUN_UNTIL(f, ca.calls == 2 && cb.calls == 2, 1000);  /* on_change runs from the loop */
    RUN_FOR(f, 20);
    assert_int_equal(ca.calls, 2);  /* generation 1, generation 2: nothing for the failures */
    assert_int_equal(cb.calls, 2);
    fx_drop(a);
    fx_drop(b);
    mb_jwks_shared_destroy(sh);
}

/* Unknown kid: one refresh per interval for all sources; a second ask while it runs joins it;
 * asks after it completed are refused until the interval has passed. An unchanged document
 * does not move the generation. */
static void test_unknown_kid_refresh_rate_limited(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.cache_seconds = 300, .min_refresh_interval_ms = 400};
    struct changes ca = {0}, cb = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &ca);
    struct mb_jwks_source *b = fx_source(f, sh, &o, &cb);
    wait_ready(f, a, b);
    assert_int_equal(f->stub.requests, 1);

    assert_int_equal(mb_jwks_source_request_refresh(a), 0);
    assert_int_equal(mb_jwks_source_request_refresh(b), 0);  /* under way: wait for it */
    struct waitres rb = {0};
    assert_non_null(mb_jwks_source_when_refreshed(b, 3000, on_wait, &rb));
    RUN_UNTIL(f, rb.calls, 3000);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rb.status, 0);
    assert_int_equal(f->stub.requests, 2);
    assert_doc(a, DOC1, 1);  /* same bytes: same generation */
    assert_doc(b, DOC1, 1);

    assert_int_equal(mb_jwks_source_request_refresh(a), -EAGAIN);
    assert_int_equal(mb_jwks_source_request_refresh(b), -EAGAIN);
    RUN_FOR(f, 150);
    assert_int_equal(f->stub.requests, 2);
    RUN_FOR(f, 300);  /* the interval has passed */
    stub_set(&f->stub, 200, DOC2);
    assert_int_equal(mb_jwks_source_request_refresh(b), 0);
    struct waitres ra = {0};
    assert_non_null(mb_jwks_source_when_refreshed(a, 3000, on_wait, &ra));
    RUN_UNTIL(f, ra.calls, 3000);
    assert_int_equal(ra.status, 0);
    assert_int_equal(f->stub.requests, 3);
    assert_doc(a, DOC2, 2);
    assert_doc(b, DOC2, 2);
    struct mb_jwks_stats sa, sb;
    mb_jwks_source_stats(a, &sa);
    mb_jwks_source_stats(b, &sb);
    assert_int_equal(sa.refreshes_limited, 1);
    assert_int_equal(sb.refreshes_limited, 1);
    RUN_UNTIL(f, ca.calls == 2 && cb.calls == 2, 1000);
    assert_int_equal(ca.calls, 2);
    assert_int_equal(cb.calls, 2);
    fx_drop(a);
    fx_drop(b);
    mb_jwks_shared_destroy(sh);
}

/* Several refreshes of an identical document: fetched each time, one generation, one on_change. */
static void test_generation_moves_only_on_change(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.cache_seconds = 300, .min_refresh_interval_ms = 20};
    struct changes c = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &c);
    struct waitres r = {0};
    assert_non_null(mb_jwks_source_when_ready(a, 5000, on_wait, &r));
    RUN_UNTIL(f, r.calls, 5000);
    for (int i = 0; i < 3; i++) {
        RUN_FOR(f, 30);
        assert_int_equal(mb_jwks_source_request_refresh(a), 0);
        struct waitres rr = {0};
        assert_non_null(mb_jwks_source_when_refreshed(a, 3000, on_wait, &rr));
        RUN_UNTIL(f, rr.calls, 3000);
        assert_int_equal(rr.status, 0);
    }
    assert_int_equal(f->stub.requests, 4);
    assert_doc(a, DOC1, 1);
    RUN_FOR(f, 50);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.last, 1);
    fx_drop(a);
    mb_jwks_shared_destroy(sh);
}

/* The first fetch fails: no keys, when_ready keeps waiting through the retry and succeeds. */
static void test_first_fetch_fails_then_ready(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 503, "{}");
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.retry_min_ms = 150};
    struct changes c = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &c);
    struct waitres r = {0};
    assert_non_null(mb_jwks_source_when_ready(a, 3000, on_wait, &r));
    RUN_UNTIL(f, f->stub.requests == 1, 3000);
    RUN_FOR(f, 20);
    assert_int_equal(r.calls, 0);
    assert_int_equal(mb_jwks_source_current(a, NULL, NULL, NULL), -EAGAIN);
    stub_set(&f->stub, 200, DOC1);
    RUN_UNTIL(f, r.calls, 3000);
    assert_int_equal(r.status, 0);
    assert_int_equal(f->stub.requests, 2);
    assert_true(f->stub.times[1] - f->stub.times[0] >= 140);
    assert_doc(a, DOC1, 1);
    fx_drop(a);
    mb_jwks_shared_destroy(sh);
}

/* An IdP that never answers: when_ready times out; destroying the source cancels its waits and
 * releases the fetch lease at once (a new source fetches without waiting for it to expire). */
static void test_ready_timeout_and_destroy_releases_lease(void **state)
{
    struct fx *f = *state;
    f->stub.hold = true;
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {.timeout_ms = 3000};
    struct changes c = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &c);
    struct waitres r1 = {0}, r2 = {0};
    assert_non_null(mb_jwks_source_when_ready(a, 200, on_wait, &r1));
    assert_non_null(mb_jwks_source_when_ready(a, 10000, on_wait, &r2));
    RUN_UNTIL(f, r1.calls, 2000);
    assert_int_equal(r1.status, -ETIMEDOUT);
    assert_int_equal(r2.calls, 0);
    assert_int_equal(f->stub.requests, 1);
    fx_drop(a);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.status, -ECANCELED);

    f->stub.hold = false;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_source *b = fx_source(f, sh, &o, &c);
    struct waitres r3 = {0};
    assert_non_null(mb_jwks_source_when_ready(b, 1000, on_wait, &r3));
    RUN_UNTIL(f, r3.calls, 1000);
    assert_int_equal(r3.status, 0);  /* well before the 5 s lease of a would have expired */
    assert_int_equal(f->stub.requests, 2);
    fx_drop(b);
    mb_jwks_shared_destroy(sh);
}

/* A wait callback may destroy its source; waits cancelled before they fire never run. */
static void test_destroy_from_callback_and_cancel(void **state)
{
    struct fx *f = *state;
    stub_set(&f->stub, 200, DOC1);
    struct mb_jwks_shared *sh = fx_region(f);
    struct mb_jwks_options o = {0};
    struct changes c = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &c);
    fx_forget(a);  /* r3's callback destroys it */
    struct waitres r1 = {0}, r2 = {0}, r3 = {.destroy = a};
    struct mb_jwks_wait *w1 = mb_jwks_source_when_ready(a, 3000, on_wait, &r1);
    assert_non_null(w1);
    assert_non_null(mb_jwks_source_when_ready(a, 3000, on_wait, &r3));
    assert_non_null(mb_jwks_source_when_ready(a, 3000, on_wait, &r2));
    mb_jwks_wait_cancel(w1);
    RUN_UNTIL(f, r3.calls, 3000);
    assert_int_equal(r3.status, 0);
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.calls, 1);  /* ready (fired with r3) or cancelled by the destroy */
    RUN_FOR(f, 50);
    assert_int_equal(r1.calls, 0);
    mb_jwks_shared_destroy(sh);
}

static void test_region_arguments(void **state)
{
    (void)state;
    assert_null(mb_jwks_shared_create(NULL, 0));
    assert_null(mb_jwks_shared_create("", 0));
    assert_null(mb_jwks_shared_create("ftp://idp/jwks", 0));
    char *longuri = malloc(MB_JWKS_URI_MAX + 16);
    assert_non_null(longuri);
    memset(longuri, 'a', MB_JWKS_URI_MAX + 15);
    memcpy(longuri, "https://", 8);
    longuri[MB_JWKS_URI_MAX + 15] = '\0';
    assert_null(mb_jwks_shared_create(longuri, 0));
    free(longuri);
    struct mb_jwks_shared *sh = mb_jwks_shared_create("https://idp.example/jwks", 1024);
    assert_non_null(sh);
    struct mb_jwks_options o = {0};  /* no validate */
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct mb_upstream *up = mb_upstream_create(&loop, NULL);
    assert_null(mb_jwks_source_create(&loop, up, sh, &o));
    mb_upstream_destroy(up);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    mb_jwks_shared_destroy(sh);
}

/* A document over the region's cap is a failed fetch, not a truncated key set. */
static void test_document_over_cap_refused(void **state)
{
    struct fx *f = *state;
    char big[2048];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, "{\"keys\":[]", 10);
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    stub_set(&f->stub, 200, big);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/jwks", f->stub.port);
    struct mb_jwks_shared *sh = mb_jwks_shared_create(f->url, 1024);
    assert_non_null(sh);
    struct mb_jwks_options o = {.retry_min_ms = 5000};
    struct changes c = {0};
    struct mb_jwks_source *a = fx_source(f, sh, &o, &c);
    struct waitres r = {0};
    assert_non_null(mb_jwks_source_when_ready(a, 300, on_wait, &r));
    RUN_UNTIL(f, r.calls, 2000);
    assert_int_equal(r.status, -ETIMEDOUT);
    struct mb_jwks_stats st;
    mb_jwks_source_stats(a, &st);
    assert_int_equal(st.fetch_failed, 1);
    fx_drop(a);
    mb_jwks_shared_destroy(sh);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(110);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("MB_TEST_FILTER"))
        cmocka_set_test_filter(getenv("MB_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_sources_share_one_fetch, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_forked_worker_shares_the_region, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_refresh_ahead_of_expiry, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_old_keys_kept_while_idp_fails, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_unknown_kid_refresh_rate_limited, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_generation_moves_only_on_change, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_first_fetch_fails_then_ready, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_ready_timeout_and_destroy_releases_lease, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_destroy_from_callback_and_cancel, fx_setup, fx_teardown_sources),
        cmocka_unit_test_setup_teardown(test_document_over_cap_refused, fx_setup, fx_teardown_sources),
        cmocka_unit_test(test_region_arguments),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
