/* Unit tests for limits/redis_limiter.c against a real redis-server started by the test on a
 * free loopback port (with a password, database 2, no persistence): two limiters on one loop
 * (two instances) share a bucket exactly; retry-after comes back; the script survives SCRIPT
 * FLUSH; a wrong password never connects; a stopped server gives prompt errors, a frozen one
 * timeouts, and after a restart takes work again; destroy and cancel with calls in flight run
 * no callback. Skipped when redis-server is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "limits/redis_limiter.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define PASSWORD "t0p s3cret"       /* a space: AUTH must send it as one argument */
#define PASSWORD_URL "t0p%20s3cret"

static int redis_port;
static pid_t redis_pid = -1;
static char url[128];
static unsigned key_serial;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* One blocking RESP exchange on a fresh connection (fine in a test): AUTH, SELECT db, then
 * cmd with its args; returns the integer reply of cmd (or LLONG_MIN on anything else). */
static long long raw_integer(int db, const char *cmd, const char *arg)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)redis_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("cannot connect to redis");
    char req[512];
    int n = snprintf(req, sizeof req,
                     "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n%d\r\n"
                     "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                     strlen(PASSWORD), PASSWORD, db, strlen(cmd), cmd, strlen(arg), arg);
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char buf[256];
    size_t got = 0;
    /* "+OK\r\n+OK\r\n" then ":<n>\r\n" */
    while (got < sizeof buf - 1) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (got > 10 && strstr(buf + 10, "\r\n"))
            break;
    }
    close(fd);
    buf[got] = '\0';
    if (strncmp(buf, "+OK\r\n+OK\r\n:", 11) != 0)
        return LLONG_MIN;
    return strtoll(buf + 11, NULL, 10);
}

static void start_redis(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    assert_true(redis_pid >= 0);
    if (redis_pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(REDIS_SERVER, REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--requirepass", PASSWORD, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    uint64_t until = now_ms() + 5000;
    while (!port_open(redis_port)) {
        if (now_ms() > until)
            fail_msg("redis-server did not listen on port %d", redis_port);
        usleep(5000);
    }
}

static void stop_redis(void)
{
    if (redis_pid <= 0)
        return;
    kill(redis_pid, SIGCONT);
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = -1;
}

static int setup(void **state)
{
    (void)state;
    if (access(REDIS_SERVER, X_OK) != 0)
        return 0;
    redis_port = free_port();
    if (redis_port <= 0)
        return -1;
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/2", PASSWORD_URL, redis_port);
    start_redis();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_redis();
    return 0;
}

#define SKIP_WITHOUT_REDIS()                                                                       \
    do {                                                                                           \
        if (access(REDIS_SERVER, X_OK) != 0) {                                                     \
            print_message("# SKIP: " REDIS_SERVER " is not installed\n");                          \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---------- driving the loop ---------- */

struct tally {
    unsigned done, allowed, denied, errors;
    int last_error;
    uint64_t max_retry_ms, min_retry_ms;
    uint32_t last_remaining;
};

static void on_decision(void *data, const struct mb_ratelimit_decision *d, int error)
{
    struct tally *t = data;
    t->done++;
    if (error) {
        assert_null(d);
        t->errors++;
        t->last_error = error;
        return;
    }
    assert_non_null(d);
    if (d->allowed) {
        t->allowed++;
        assert_int_equal(d->retry_after_ms, 0);
    } else {
        t->denied++;
        assert_true(d->retry_after_ms > 0);
        if (d->retry_after_ms > t->max_retry_ms)
            t->max_retry_ms = d->retry_after_ms;
        if (!t->min_retry_ms || d->retry_after_ms < t->min_retry_ms)
            t->min_retry_ms = d->retry_after_ms;
    }
    t->last_remaining = d->remaining;
}

struct waiter {
    bool (*pred)(void *);
    void *arg;
    uint64_t until;
    bool met;
};

static void on_tick(uv_timer_t *t)
{
    struct waiter *w = t->data;
    if (w->pred(w->arg) || now_ms() >= w->until) {
        w->met = w->pred(w->arg);
        uv_stop(t->loop);
    }
}

/* Runs the loop until pred holds or max_ms pass; returns whether it held. */
static bool run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, unsigned max_ms)
{
    struct waiter w = {pred, arg, now_ms() + max_ms, false};
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    tick.data = &w;
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return w.met;
}

struct count_goal {
    struct tally *t;
    unsigned want;
};

static bool tally_reached(void *arg)
{
    struct count_goal *g = arg;
    return g->t->done >= g->want;
}

static bool both_connected(void *arg)
{
    struct mb_redis_limiter **l = arg;
    return mb_redis_limiter_connected(l[0]) && (!l[1] || mb_redis_limiter_connected(l[1]));
}

static void wait_done(uv_loop_t *loop, struct tally *t, unsigned want, unsigned max_ms)
{
    struct count_goal g = {t, want};
    if (!run_until(loop, tally_reached, &g, max_ms))
        fail_msg("%u of %u callbacks after %u ms", t->done, want, max_ms);
}

static void wait_connected(uv_loop_t *loop, struct mb_redis_limiter *a, struct mb_redis_limiter *b,
                           unsigned max_ms)
{
    struct mb_redis_limiter *l[2] = {a, b};
    if (!run_until(loop, both_connected, l, max_ms))
        fail_msg("not connected to redis after %u ms", max_ms);
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT); /* close callbacks of destroyed limiters */
    assert_int_equal(uv_loop_close(loop), 0);
}

static void unique_key(char *out, size_t cap)
{
    snprintf(out, cap, "c:test-%d-%u-%llu", (int)getpid(), ++key_serial, (unsigned long long)now_ms());
}

/* ---------- tests ---------- */

static void test_bad_urls(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *bad[] = {"", "http://x", "rediss://127.0.0.1:6379", "redis://", "redis://:pw@",
                         "redis://h:0", "redis://h:99999", "redis://h:12x", "redis://h/abc",
                         "redis://h?x=1", "redis://[::1", "redis://:%zz@h", "redis://h:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mb_redis_limiter_create(&loop, bad[i], NULL, 50))
            fail_msg("accepted %s", bad[i]);
    char prefix[200];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    assert_null(mb_redis_limiter_create(&loop, "redis://127.0.0.1", prefix, 50));
    assert_null(mb_redis_limiter_create(NULL, "redis://127.0.0.1", NULL, 50));
    /* Valid ones are created (and connect in the background, here to nothing). */
    const char *good[] = {"redis://127.0.0.1", "redis://u:p@127.0.0.1:1/3", "redis://[::1]:1/",
                          "REDIS://secret@localhost:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct mb_redis_limiter *lim = mb_redis_limiter_create(&loop, good[i], "x:", 50);
        if (!lim)
            fail_msg("refused %s", good[i]);
        assert_int_equal(mb_redis_limiter_take(lim, "k", 1, 0, 1, on_decision, NULL), -EINVAL);
        assert_int_equal(mb_redis_limiter_take(lim, "k", 1, 1, 0, on_decision, NULL), -EINVAL);
        assert_int_equal(mb_redis_limiter_take(lim, "k", 1, 1, 1, NULL, NULL), -EINVAL);
        assert_int_equal(mb_redis_limiter_take(lim, "k", MB_RATELIMIT_KEY_MAX + 1, 1, 1, on_decision, NULL), -EINVAL);
        mb_redis_limiter_destroy(lim);
    }
    close_loop(&loop);
}

/* Two instances, one bucket: 3 x burst takes spread over both give exactly burst tokens. */
static void test_two_instances_share_a_bucket(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mb_redis_limiter *a = mb_redis_limiter_create(&loop, url, "mb-test:", 1000);
    struct mb_redis_limiter *b = mb_redis_limiter_create(&loop, url, "mb-test:", 1000);
    assert_non_null(a);
    assert_non_null(b);
    wait_connected(&loop, a, b, 3000);
    char key[64];
    unique_key(key, sizeof key);
    struct tally t = {0};
    const unsigned burst = 25;
    for (unsigned i = 0; i < 3 * burst; i++) {
        struct mb_redis_limiter *lim = (i % 3 == 0) ? a : b;
        assert_int_equal(mb_redis_limiter_take(lim, key, strlen(key), 0.01, burst, on_decision, &t), 0);
    }
    assert_int_equal(t.done, 0); /* never from inside take */
    assert_int_equal(mb_redis_limiter_pending(a) + mb_redis_limiter_pending(b), 3 * burst);
    wait_done(&loop, &t, 3 * burst, 3000);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.allowed, burst);
    assert_int_equal(t.denied, 2 * burst);
    /* One token per 100 s: the denials say so (server time, to the millisecond). */
    assert_true(t.min_retry_ms > 99000 && t.max_retry_ms <= 100000);
    assert_int_equal(mb_redis_limiter_pending(a) + mb_redis_limiter_pending(b), 0);
    /* The bucket lives in database 2 under the prefix and expires when it would be full again:
     * 25 tokens at one per 100 s, 2500 s. */
    char rkey[96];
    snprintf(rkey, sizeof rkey, "mb-test:%s", key);
    assert_int_equal(raw_integer(0, "EXISTS", rkey), 0);
    long long pttl = raw_integer(2, "PTTL", rkey);
    if (pttl <= 2490000 || pttl > 2500001)
        fail_msg("PTTL %lld", pttl);
    mb_redis_limiter_destroy(a);
    mb_redis_limiter_destroy(b);
    close_loop(&loop);
}

/* Refill follows the rate in real time: 20/s, burst 1. Also survives SCRIPT FLUSH (NOSCRIPT
 * answer, EVAL fallback). */
static void test_refill_and_noscript(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mb_redis_limiter *a = mb_redis_limiter_create(&loop, url, NULL, 1000);
    assert_non_null(a);
    wait_connected(&loop, a, NULL, 3000);
    char key[64];
    unique_key(key, sizeof key);
    struct tally t = {0};
    mb_redis_limiter_take(a, key, strlen(key), 20, 1, on_decision, &t);
    mb_redis_limiter_take(a, key, strlen(key), 20, 1, on_decision, &t);
    wait_done(&loop, &t, 2, 2000);
    assert_int_equal(t.allowed, 1);
    assert_int_equal(t.denied, 1);
    assert_true(t.max_retry_ms >= 1 && t.max_retry_ms <= 50);
    uint64_t retry = t.max_retry_ms;

    /* Flush the server's script cache with a plain connection (blocking is fine in a test). */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)redis_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    static const char cmd[] = "*2\r\n$4\r\nAUTH\r\n$10\r\n" PASSWORD "\r\n*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n";
    assert_int_equal(write(fd, cmd, sizeof cmd - 1), (ssize_t)(sizeof cmd - 1));
    char buf[64];
    size_t got = 0;
    while (got < 10) { /* "+OK\r\n+OK\r\n" */
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(buf, "+OK\r\n+OK\r\n", 10);
    close(fd);

    /* Wait out the retry-after (loop time, not sleep: the loop must stay live). */
    struct tally none = {0};
    struct count_goal g = {&none, 1};
    run_until(&loop, tally_reached, &g, (unsigned)retry + 5);
    t = (struct tally){0};
    mb_redis_limiter_take(a, key, strlen(key), 20, 1, on_decision, &t);
    wait_done(&loop, &t, 1, 2000);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.allowed, 1);
    mb_redis_limiter_destroy(a);
    close_loop(&loop);
}

/* A host name is resolved off the loop (uv_getaddrinfo); IPv4 is preferred. */
static void test_host_name(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char named[128];
    snprintf(named, sizeof named, "redis://:%s@localhost:%d/2", PASSWORD_URL, redis_port);
    struct mb_redis_limiter *a = mb_redis_limiter_create(&loop, named, NULL, 1000);
    assert_non_null(a);
    char key[64];
    unique_key(key, sizeof key);
    struct tally t = {0};
    /* Taken while the name is being resolved: waits for the connection. */
    mb_redis_limiter_take(a, key, strlen(key), 1, 2, on_decision, &t);
    mb_redis_limiter_take(a, key, strlen(key), 1, 2, on_decision, &t);
    mb_redis_limiter_take(a, key, strlen(key), 1, 2, on_decision, &t);
    wait_done(&loop, &t, 3, 2000);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.allowed, 2);
    assert_int_equal(t.denied, 1);
    assert_true(mb_redis_limiter_connected(a));
    mb_redis_limiter_destroy(a);
    close_loop(&loop);
}

static void test_wrong_password_never_connects(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char bad_url[128];
    snprintf(bad_url, sizeof bad_url, "redis://:nope@127.0.0.1:%d", redis_port);
    struct mb_redis_limiter *a = mb_redis_limiter_create(&loop, bad_url, NULL, 2000);
    assert_non_null(a);
    struct tally t = {0};
    uint64_t start = now_ms();
    mb_redis_limiter_take(a, "k", 1, 1, 1, on_decision, &t);
    wait_done(&loop, &t, 1, 3000);
    assert_int_equal(t.errors, 1);
    assert_int_equal(t.last_error, -ENOTCONN); /* refused, not timed out */
    assert_true(now_ms() - start < 1000);
    assert_false(mb_redis_limiter_connected(a));
    mb_redis_limiter_destroy(a);

    /* No password at all: the connection is up (nothing to hand-shake), Redis refuses the
     * script (NOAUTH): -EIO, not a decision. */
    snprintf(bad_url, sizeof bad_url, "redis://127.0.0.1:%d", redis_port);
    a = mb_redis_limiter_create(&loop, bad_url, NULL, 500);
    assert_non_null(a);
    wait_connected(&loop, a, NULL, 2000);
    t = (struct tally){0};
    mb_redis_limiter_take(a, "k", 1, 1, 1, on_decision, &t);
    wait_done(&loop, &t, 1, 2000);
    assert_int_equal(t.errors, 1);
    assert_int_equal(t.last_error, -EIO);
    assert_true(mb_redis_limiter_connected(a));
    mb_redis_limiter_destroy(a);
    close_loop(&loop);
}

/* The server goes away: prompt errors, no hang; a frozen server: timeouts; restarted: works. */
static void test_outage_and_recovery(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* A timeout of 1 s: "prompt" below means well under it, so a loaded machine cannot
     * confuse an immediate error with a timeout. */
    struct mb_redis_limiter *a = mb_redis_limiter_create(&loop, url, NULL, 1000);
    assert_non_null(a);
    wait_connected(&loop, a, NULL, 3000);
    char key[64];
    unique_key(key, sizeof key);

    /* Frozen: the take times out after timeout_ms, and the connection is given up. */
    kill(redis_pid, SIGSTOP);
    struct tally t = {0};
    uint64_t start = now_ms();
    mb_redis_limiter_take(a, key, strlen(key), 100, 10, on_decision, &t);
    wait_done(&loop, &t, 1, 3000);
    uint64_t took = now_ms() - start;
    assert_int_equal(t.last_error, -ETIMEDOUT);
    if (took < 990 || took > 2000)
        fail_msg("timed out after %llu ms, timeout 1000", (unsigned long long)took);
    assert_false(mb_redis_limiter_connected(a));
    /* Meanwhile (back-off) takes fail at once, on the next loop iteration. */
    t = (struct tally){0};
    start = now_ms();
    for (int i = 0; i < 5; i++)
        mb_redis_limiter_take(a, key, strlen(key), 100, 10, on_decision, &t);
    assert_int_equal(t.done, 0);
    wait_done(&loop, &t, 5, 1000);
    assert_int_equal(t.errors, 5);
    assert_int_equal(t.last_error, -ENOTCONN);
    assert_true(now_ms() - start < 500);
    kill(redis_pid, SIGCONT);
    wait_connected(&loop, a, NULL, 3000);

    /* Killed with calls in flight: they complete with an error promptly. */
    t = (struct tally){0};
    stop_redis();
    start = now_ms();
    for (int i = 0; i < 3; i++)
        mb_redis_limiter_take(a, key, strlen(key), 100, 10, on_decision, &t);
    wait_done(&loop, &t, 3, 1000);
    assert_int_equal(t.errors, 3);
    assert_true(now_ms() - start < 500);
    assert_false(mb_redis_limiter_connected(a));

    /* Restarted on the same port: reconnects with back-off and works again. */
    start_redis();
    wait_connected(&loop, a, NULL, 6000);
    t = (struct tally){0};
    for (int i = 0; i < 12; i++)
        mb_redis_limiter_take(a, key, strlen(key), 0.01, 10, on_decision, &t);
    wait_done(&loop, &t, 12, 2000);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.allowed, 10); /* a fresh server: the bucket starts full */
    assert_int_equal(t.denied, 2);
    mb_redis_limiter_destroy(a);
    close_loop(&loop);
}

static void must_not_run(void *data, const struct mb_ratelimit_decision *d, int error)
{
    (void)data;
    (void)d;
    fail_msg("callback ran after cancel/destroy (error %d)", error);
}

struct destroyer {
    struct mb_redis_limiter *lim;
    unsigned calls;
};

/* The first callback destroys the limiter: the other calls in flight never call back. */
static void destroy_in_callback(void *data, const struct mb_ratelimit_decision *d, int error)
{
    (void)d;
    (void)error;
    struct destroyer *x = data;
    assert_int_equal(x->calls, 0);
    x->calls++;
    mb_redis_limiter_destroy(x->lim);
}

static bool destroyed_once(void *arg)
{
    return ((struct destroyer *)arg)->calls > 0;
}

static void test_destroy_and_cancel_in_flight(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mb_redis_limiter *a = mb_redis_limiter_create(&loop, url, NULL, 1000);
    assert_non_null(a);
    wait_connected(&loop, a, NULL, 3000);
    char key[64];
    unique_key(key, sizeof key);

    /* Cancel: the cancelled calls never call back, the others do. */
    int tag;
    struct tally t = {0};
    mb_redis_limiter_take(a, key, strlen(key), 1, 100, must_not_run, &tag);
    mb_redis_limiter_take(a, key, strlen(key), 1, 100, on_decision, &t);
    mb_redis_limiter_take(a, key, strlen(key), 1, 100, must_not_run, &tag);
    mb_redis_limiter_cancel(a, &tag);
    assert_int_equal(mb_redis_limiter_pending(a), 1);
    wait_done(&loop, &t, 1, 2000);
    assert_int_equal(t.allowed, 1);

    /* Destroy with calls sent to Redis. */
    for (int i = 0; i < 4; i++)
        mb_redis_limiter_take(a, key, strlen(key), 1, 100, must_not_run, NULL);
    mb_redis_limiter_destroy(a);
    close_loop(&loop);

    /* Destroy from inside a callback, with more replies behind it. */
    uv_loop_init(&loop);
    struct destroyer x = {mb_redis_limiter_create(&loop, url, NULL, 1000), 0};
    assert_non_null(x.lim);
    wait_connected(&loop, x.lim, NULL, 3000);
    for (int i = 0; i < 5; i++)
        mb_redis_limiter_take(x.lim, key, strlen(key), 1, 100, destroy_in_callback, &x);
    run_until(&loop, destroyed_once, &x, 2000);
    assert_int_equal(x.calls, 1);
    close_loop(&loop);

    /* Destroy while the back-off timer runs and calls wait to fail. */
    uv_loop_init(&loop);
    char dead[64];
    snprintf(dead, sizeof dead, "redis://127.0.0.1:%d", free_port());
    struct mb_redis_limiter *d = mb_redis_limiter_create(&loop, dead, NULL, 100);
    assert_non_null(d);
    mb_redis_limiter_take(d, "k", 1, 1, 1, must_not_run, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    mb_redis_limiter_take(d, "k", 1, 1, 1, must_not_run, NULL);
    mb_redis_limiter_destroy(d);
    close_loop(&loop);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_two_instances_share_a_bucket),
        cmocka_unit_test(test_refill_and_noscript),
        cmocka_unit_test(test_host_name),
        cmocka_unit_test(test_wrong_password_never_connects),
        cmocka_unit_test(test_destroy_and_cancel_in_flight),
        cmocka_unit_test(test_outage_and_recovery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
