/* A programmable HTTP/1.1 server on 127.0.0.1 (port 0) running on a test's libuv loop, shared
 * by the auth unit tests that fetch over HTTP (test_jwks_fetch.c, test_token_fetch.c): it answers
 * every request with the status and body set by stub_set (optionally late), and records what it
 * saw (counts, the last request's headers and body) for the test to assert on. Test support
 * only; tests/unit/<module>/support_*.c are linked into every test of that module. Also the
 * fixture those tests share (struct fx). */
#ifndef MB_TEST_SUPPORT_STUB_H
#define MB_TEST_SUPPORT_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>


#define STUB_IN_MAX (64u * 1024u)
#define STUB_BODY_MAX (32u * 1024u)
#define STUB_TIMES_MAX 64

struct stub;

struct stub_conn {
    uv_tcp_t tcp;
    uv_timer_t delay;           /* a delayed answer */
    struct stub *stub;
    char in[STUB_IN_MAX];
    size_t in_len;
    bool waiting;               /* an answer is due (delayed or held) */
    bool closing;
    int handles;                /* handles to close before the memory goes */
    struct stub_conn *prev, *next;
};

struct stub {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    bool listening;
    int port;
    /* what to answer */
    int status;
    char body[STUB_BODY_MAX];
    size_t body_len;
    unsigned delay_ms;          /* answer this late */
    bool hold;                  /* never answer */
    /* what came */
    unsigned requests;
    uint64_t times[STUB_TIMES_MAX];  /* uv_now of each request */
    char last_method[16];
    char last_path[256];
    char last_auth[512];
    char last_ctype[128];
    char last_body[STUB_BODY_MAX];
    struct stub_conn *conns;
};

/* Sets the answer for the next requests: status and body (NUL-terminated, copied). */
void stub_set(struct stub *s, int status, const char *body);
/* Listens on 127.0.0.1, any port (s->port), on loop. Fails the test on error. */
void stub_start(struct stub *s, uv_loop_t *loop);
/* Closes the listener and every connection (the loop finishes the closes). */
void stub_stop(struct stub *s);

/* ---- the fixture both tests use: a loop, the stub, an upstream client (fx_setup/fx_teardown
 * as cmocka setup/teardown; RUN_UNTIL bounds every wait) ---- */

struct mb_upstream;

struct fx {
    uv_loop_t loop;
    struct stub stub;
    struct mb_upstream *up;
    uv_timer_t deadline;
    uv_timer_t ticker;          /* wakes RUN_UNTIL every 10 ms for conditions nothing signals */
    bool expired;
    char url[128];
};

/* Timer callbacks of the fixture: the deadline marks f->expired; the ticker stops the loop. */
void fx_on_deadline(uv_timer_t *t);
void fx_on_ticker(uv_timer_t *t);

/* Runs the loop until cond holds or ms pass; the caller asserts cond afterwards. */
#define RUN_UNTIL(f, cond, ms)                                                   \
    do {                                                                         \
        (f)->expired = false;                                                    \
        uv_timer_start(&(f)->deadline, fx_on_deadline, (ms), 0);                 \
        while (!(cond) && !(f)->expired)                                         \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                     \
        uv_timer_stop(&(f)->deadline);                                           \
    } while (0)

/* Runs the loop for ms. */
#define RUN_FOR(f, ms) RUN_UNTIL(f, false, ms)

/* cmocka setup/teardown: *state is a struct fx; teardown fails when a handle was left open. */
int fx_setup(void **state);
int fx_teardown(void **state);

#endif
