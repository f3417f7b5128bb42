/* Unit tests for state/redis_state.c against a real redis-server started by the test on a free
 * loopback port (password, database 3, no persistence). Several clients on one loop stand for
 * several instances: an ended session, a logging level, a cancellation and the SSE stream
 * notices written by one reach the others through the channel; a client that connects later catches up from the sets (and
 * the expired members are removed first, paging past 1000 members); while Redis is down
 * session writes wait in a bounded backlog and reach Redis after it restarts; a frozen server
 * is noticed by the liveness check; values and lists work and fail promptly without a link; a wrong password never connects; destroy with work in
 * flight runs no callback. Skipped when redis-server is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
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

#include "state/redis_state.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define PASSWORD "s3cret pass"       /* a space: AUTH must send it as one argument */
#define PASSWORD_URL "s3cret%20pass"
#define DB 3

static int redis_port;
static pid_t redis_pid = -1;
static char url[160];
static unsigned prefix_serial;

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
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/%d", PASSWORD_URL, redis_port, DB);
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

/* ---------- a blocking side channel to look at Redis (fine in a test) ---------- */

static redisContext *raw_open(void)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, "AUTH %s", PASSWORD);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(c, "SELECT %d", DB);
    assert_non_null(r);
    freeReplyObject(r);
    return c;
}

/* The reply of one command given as a format, as an integer (LLONG_MIN when not one). */
static long long raw_integer(const char *fmt, ...)
{
    redisContext *c = raw_open();
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : (long long)INT64_MIN;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* The string reply of one command into out (empty for nil). */
static void raw_string(char *out, size_t cap, const char *fmt, ...)
{
    redisContext *c = raw_open();
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    out[0] = '\0';
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, cap, "%.*s", (int)r->len, r->str);
    freeReplyObject(r);
    redisFree(c);
}

static void unique_prefix(char *out, size_t cap)
{
    snprintf(out, cap, "t%d-%u:", (int)getpid(), ++prefix_serial);
}

/* ---------- driving the loop ---------- */

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

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void run_for(uv_loop_t *loop, unsigned ms)
{
    run_until(loop, never, NULL, ms);
}

static bool is_synced(void *arg)
{
    struct mb_redis_state_health h;
    mb_redis_state_health(arg, &h);
    return h.synced;
}

static bool is_down(void *arg)
{
    struct mb_redis_state_health h;
    mb_redis_state_health(arg, &h);
    return !h.connected;
}

static void wait_synced(uv_loop_t *loop, struct mb_redis_state *st, unsigned max_ms)
{
    if (!run_until(loop, is_synced, st, max_ms))
        fail_msg("not connected and caught up after %u ms", max_ms);
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT); /* close callbacks of destroyed clients */
    assert_int_equal(uv_loop_close(loop), 0);
}

/* What one client's events callbacks saw. */
#define SEEN_MAX 4096
struct seen {
    unsigned ended, levels, cancels, stream_events, resumes;
    char stream_id[80];
    uint64_t stream_key, stream_seq;
    uint64_t ended_keys[SEEN_MAX], ended_expires[SEEN_MAX];
    uint64_t level_key, level_expires;
    int level;
    uint64_t cancel_key, cancel_hash;
};

static void on_ended(void *data, uint64_t key, uint64_t expires)
{
    struct seen *s = data;
    if (s->ended < SEEN_MAX) {
        s->ended_keys[s->ended] = key;
        s->ended_expires[s->ended] = expires;
    }
    s->ended++;
}

static void on_level(void *data, uint64_t key, uint64_t expires, int level)
{
    struct seen *s = data;
    s->levels++;
    s->level_key = key;
    s->level_expires = expires;
    s->level = level;
}

static void on_cancel(void *data, uint64_t key, uint64_t hash)
{
    struct seen *s = data;
    s->cancels++;
    s->cancel_key = key;
    s->cancel_hash = hash;
}

static void on_stream_event(void *data, uint64_t key, const char *id, uint64_t seq)
{
    struct seen *s = data;
    s->stream_events++;
    s->stream_key = key;
    s->stream_seq = seq;
    snprintf(s->stream_id, sizeof s->stream_id, "%s", id);
}

static void on_stream_resumed(void *data, uint64_t key, const char *id)
{
    struct seen *s = data;
    s->resumes++;
    s->stream_key = key;
    snprintf(s->stream_id, sizeof s->stream_id, "%s", id);
}

static bool seen_key(const struct seen *s, uint64_t key, uint64_t *expires)
{
    for (unsigned i = 0; i < s->ended && i < SEEN_MAX; i++)
        if (s->ended_keys[i] == key) {
            if (expires)
                *expires = s->ended_expires[i];
            return true;
        }
    return false;
}

static struct mb_redis_state *client(uv_loop_t *loop, const char *prefix, struct seen *s, unsigned backlog)
{
    struct mb_redis_state_options o = {
        .url = url, .key_prefix = prefix, .timeout_ms = 300, .backlog_max = backlog, .ping_ms = 100,
        .events = {on_ended, on_level, on_cancel, on_stream_event, on_stream_resumed}, .data = s,
    };
    struct mb_redis_state *st = mb_redis_state_create(loop, &o);
    assert_non_null(st);
    return st;
}

struct key_goal {
    struct seen *s;
    uint64_t key;
};

static bool got_key(void *arg)
{
    struct key_goal *g = arg;
    return seen_key(g->s, g->key, NULL);
}

/* ---------- tests ---------- */

static void on_value(void *data, const void *value, size_t len, int error);

static void test_bad_options(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *bad[] = {"", "http://x", "rediss://127.0.0.1:6379", "redis://", "redis://:pw@", "redis://h:0",
                         "redis://h:99999", "redis://h/abc", "redis://h?x=1", "redis://[::1", "redis://:%zz@h",
                         "redis://:%4@h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mb_redis_state_options o = {.url = bad[i]};
        if (mb_redis_state_create(&loop, &o))
            fail_msg("accepted %s", bad[i]);
    }
    char prefix[200];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    struct mb_redis_state_options o = {.url = "redis://127.0.0.1:1", .key_prefix = prefix};
    assert_null(mb_redis_state_create(&loop, &o));
    assert_null(mb_redis_state_create(NULL, &o));
    o.key_prefix = NULL;
    struct mb_redis_state *st = mb_redis_state_create(&loop, &o);
    assert_non_null(st);
    assert_int_equal(mb_redis_state_get(st, "", 0, on_value, NULL), -EINVAL);
    assert_int_equal(mb_redis_state_get(st, "k", 1, NULL, NULL), -EINVAL);
    assert_int_equal(mb_redis_state_set(st, "k", 1, "v", 1, 0), -EINVAL);
    assert_int_equal(mb_redis_state_list_append(st, "k", 1, "v", 1, 0, 10), -EINVAL);
    assert_int_equal(mb_redis_state_stream_notice(st, 1, "bad id", 1), -EINVAL);
    assert_int_equal(mb_redis_state_stream_resumed(st, 1, ""), -EINVAL);
    mb_redis_state_destroy(st);
    close_loop(&loop);
}

/* Two clients (two instances): what one writes reaches the other through the channel, and
 * lands in the sets with the documented scores. */
static void test_events_cross_instances(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char prefix[64];
    unique_prefix(prefix, sizeof prefix);
    struct seen sa = {0}, sb = {0};
    struct mb_redis_state *a = client(&loop, prefix, &sa, 0), *b = client(&loop, prefix, &sb, 0);
    wait_synced(&loop, a, 3000);
    wait_synced(&loop, b, 3000);
    uint64_t expires = (uint64_t)time(NULL) + 3600;
    uint64_t key = 0x0123456789abcdefull;
    mb_redis_state_session_ended(a, key, expires);
    struct key_goal g = {&sb, key};
    assert_true(run_until(&loop, got_key, &g, 2000));
    uint64_t got = 0;
    assert_true(seen_key(&sb, key, &got));
    assert_int_equal(got, expires);
    assert_true(seen_key(&sa, key, NULL)); /* the writer hears its own event too (harmless) */
    char score[64];
    raw_string(score, sizeof score, "ZSCORE %ssessions:ended 0123456789abcdef", prefix);
    assert_int_equal(strtoull(score, NULL, 10), expires);

    mb_redis_state_log_level(a, key, expires, 3);
    mb_redis_state_log_level(a, key, expires, 9); /* ignored: not a level */
    run_until(&loop, never, NULL, 300);
    assert_int_equal(sb.levels, 1);
    assert_int_equal(sb.level, 3);
    assert_int_equal(sb.level_key, key);
    assert_int_equal(sb.level_expires, expires);
    raw_string(score, sizeof score, "ZSCORE %ssessions:levels 0123456789abcdef", prefix);
    assert_int_equal(strtoull(score, NULL, 10), expires * 8 + 3);

    mb_redis_state_request_cancelled(b, key, 0xfeedull);
    run_until(&loop, never, NULL, 300);
    assert_int_equal(sa.cancels, 1);
    assert_int_equal(sa.cancel_key, key);
    assert_int_equal(sa.cancel_hash, 0xfeedull);

    /* A foreign message on the channel is ignored. */
    raw_integer("PUBLISH %sevents %s", prefix, "end zz 12");
    raw_integer("PUBLISH %sevents %s", prefix, "level 01 12 8");
    run_until(&loop, never, NULL, 200);
    assert_int_equal(sb.levels, 1);

    struct mb_redis_state_health h;
    mb_redis_state_health(a, &h);
    assert_true(h.connected);
    assert_int_equal(h.reconnects, 0);
    assert_int_equal(h.backlog, 0);
    mb_redis_state_destroy(a);
    mb_redis_state_destroy(b);
    close_loop(&loop);
}

/* A client that connects later catches up: expired members are removed first, live ones are
 * loaded (more than one page of them), levels decoded from their scores. */
static void test_catch_up(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    char prefix[64];
    unique_prefix(prefix, sizeof prefix);
    uint64_t now = (uint64_t)time(NULL);
    /* 2500 live ended sessions in one ZADD, one expired, one level live, one level expired. */
    size_t n = 2500;
    const char **argv = calloc(2 + 2 * n, sizeof *argv);
    char (*scores)[24] = calloc(n, sizeof *scores), (*members)[17] = calloc(n, sizeof *members);
    char set[96];
    snprintf(set, sizeof set, "%ssessions:ended", prefix);
    argv[0] = "ZADD";
    argv[1] = set;
    for (size_t i = 0; i < n; i++) {
        snprintf(scores[i], sizeof scores[i], "%" PRIu64, now + 600 + i);
        snprintf(members[i], sizeof members[i], "%016zx", i + 1);
        argv[2 + 2 * i] = scores[i];
        argv[3 + 2 * i] = members[i];
    }
    redisContext *c = raw_open();
    redisReply *r = redisCommandArgv(c, (int)(2 + 2 * n), argv, NULL);
    assert_non_null(r);
    assert_int_equal(r->integer, (long long)n);
    freeReplyObject(r);
    redisFree(c);
    free(argv);
    free(scores);
    free(members);
    assert_int_equal(raw_integer("ZADD %s %llu %s", set, (unsigned long long)(now - 10), "00000000deadbeef"), 1);
    assert_int_equal(raw_integer("ZADD %ssessions:levels %llu %s", prefix, (unsigned long long)((now + 900) * 8 + 6),
                                 "00000000000000aa"), 1);
    assert_int_equal(raw_integer("ZADD %ssessions:levels %llu %s", prefix, (unsigned long long)((now - 5) * 8 + 2),
                                 "00000000000000bb"), 1);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct seen *s = calloc(1, sizeof *s);
    struct mb_redis_state *st = client(&loop, prefix, s, 0);
    wait_synced(&loop, st, 5000);
    assert_int_equal(s->ended, n);
    uint64_t expires = 0;
    assert_true(seen_key(s, 1, &expires));
    assert_int_equal(expires, now + 600);
    assert_true(seen_key(s, n, &expires));
    assert_int_equal(expires, now + 600 + n - 1);
    assert_false(seen_key(s, 0xdeadbeef, NULL));
    assert_int_equal(raw_integer("ZCARD %s", set), (long long)n); /* the expired one is gone */
    assert_int_equal(s->levels, 1);
    assert_int_equal(s->level_key, 0xaa);
    assert_int_equal(s->level, 6);
    assert_int_equal(s->level_expires, now + 900);
    assert_int_equal(raw_integer("ZCARD %ssessions:levels", prefix), 1);
    mb_redis_state_destroy(st);
    close_loop(&loop);
    free(s);
}

/* Redis goes away: session writes wait in the bounded backlog (the oldest dropped past it),
 * gets fail at once; after a restart the link comes back, the backlog reaches Redis and the
 * other instance learns of it. */
static void test_outage_backlog_and_recovery(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char prefix[64];
    unique_prefix(prefix, sizeof prefix);
    struct seen sa = {0}, sb = {0};
    struct mb_redis_state *a = client(&loop, prefix, &sa, 4), *b = client(&loop, prefix, &sb, 0);
    wait_synced(&loop, a, 3000);
    wait_synced(&loop, b, 3000);
    stop_redis();
    assert_true(run_until(&loop, is_down, a, 3000));
    assert_true(run_until(&loop, is_down, b, 3000));
    uint64_t expires = (uint64_t)time(NULL) + 3600;
    for (uint64_t k = 1; k <= 6; k++)
        mb_redis_state_session_ended(a, 0x100 + k, expires);
    mb_redis_state_log_level(a, 0x105, expires, 2);
    mb_redis_state_log_level(a, 0x106, expires, 1);
    mb_redis_state_log_level(a, 0x106, expires, 4); /* replaces the waiting level of 0x106 */
    struct mb_redis_state_health h;
    mb_redis_state_health(a, &h);
    assert_false(h.connected);
    assert_int_equal(h.backlog, 4);
    assert_int_equal(h.backlog_dropped, 4); /* 0x101..0x104 ended: the oldest went */
    assert_true(h.errors > 0);
    assert_int_equal(mb_redis_state_set(a, "k", 1, "v", 1, 1000), -ENOTCONN);

    start_redis(); /* empty: no persistence */
    wait_synced(&loop, a, 8000);
    wait_synced(&loop, b, 8000);
    struct key_goal g = {&sb, 0x106};
    assert_true(run_until(&loop, got_key, &g, 3000));
    g.key = 0x105;
    assert_true(run_until(&loop, got_key, &g, 3000));
    assert_false(seen_key(&sb, 0x101, NULL));
    run_until(&loop, never, NULL, 200);
    assert_int_equal(sb.level_key, 0x106);
    assert_int_equal(sb.level, 4);
    assert_int_equal(raw_integer("ZCARD %ssessions:ended", prefix), 2);
    assert_int_equal(raw_integer("ZCARD %ssessions:levels", prefix), 2);
    mb_redis_state_health(a, &h);
    assert_true(h.connected);
    assert_int_equal(h.backlog, 0);
    assert_true(h.reconnects >= 1);
    mb_redis_state_destroy(a);
    mb_redis_state_destroy(b);
    close_loop(&loop);
}

/* A frozen server (SIGSTOP) answers nothing: the liveness check drops the link; after SIGCONT
 * it is made again. */
static void test_frozen_server(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char prefix[64];
    unique_prefix(prefix, sizeof prefix);
    struct seen s = {0};
    struct mb_redis_state *st = client(&loop, prefix, &s, 0);
    wait_synced(&loop, st, 3000);
    kill(redis_pid, SIGSTOP);
    assert_true(run_until(&loop, is_down, st, 3000));
    kill(redis_pid, SIGCONT);
    wait_synced(&loop, st, 8000);
    struct mb_redis_state_health h;
    mb_redis_state_health(st, &h);
    assert_true(h.reconnects >= 1);
    mb_redis_state_destroy(st);
    close_loop(&loop);
}

struct value_result {
    unsigned calls;
    int error;
    bool found;
    char value[64];
};

static void on_value(void *data, const void *value, size_t len, int error)
{
    struct value_result *v = data;
    v->calls++;
    v->error = error;
    v->found = value != NULL;
    snprintf(v->value, sizeof v->value, "%.*s", (int)len, value ? (const char *)value : "");
}

static bool value_done(void *arg)
{
    return ((struct value_result *)arg)->calls > 0;
}

struct list_result {
    unsigned calls;
    int error;
    size_t count;
    char joined[256];
};

static void on_list(void *data, const struct mb_redis_state_item *items, size_t count, int error)
{
    struct list_result *l = data;
    l->calls++;
    l->error = error;
    l->count = count;
    l->joined[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(l->joined);
        snprintf(l->joined + used, sizeof l->joined - used, "%s%.*s", i ? "," : "", (int)items[i].len,
                 (const char *)items[i].value);
    }
}

static bool list_done(void *arg)
{
    return ((struct list_result *)arg)->calls > 0;
}

/* Values and lists: get/set with expiry, binary values, list append with trimming and expiry,
 * ranges; the SSE stream notices reach the other instance; without a link everything fails
 * promptly. */
static void test_values_lists_notices(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char prefix[64];
    unique_prefix(prefix, sizeof prefix);
    struct seen sa = {0}, sb = {0};
    struct mb_redis_state *a = client(&loop, prefix, &sa, 0), *b = client(&loop, prefix, &sb, 0);
    wait_synced(&loop, a, 3000);
    wait_synced(&loop, b, 3000);

    struct value_result v = {0};
    assert_int_equal(mb_redis_state_get(a, "tok:x", 5, on_value, &v), 0);
    assert_int_equal(v.calls, 0); /* never from inside get */
    assert_true(run_until(&loop, value_done, &v, 2000));
    assert_int_equal(v.error, 0);
    assert_false(v.found);
    assert_int_equal(mb_redis_state_set(a, "tok:x", 5, "va\0lue", 6, 60000), 0);
    memset(&v, 0, sizeof v);
    assert_int_equal(mb_redis_state_get(b, "tok:x", 5, on_value, &v), 0);
    assert_true(run_until(&loop, value_done, &v, 2000));
    assert_int_equal(v.error, 0);
    assert_true(v.found);
    assert_memory_equal(v.value, "va", 3); /* the NUL came through: the value is binary */
    long long pttl = raw_integer("PTTL %stok:x", prefix);
    assert_true(pttl > 50000 && pttl <= 60000);
    /* a forgotten get never calls back */
    memset(&v, 0, sizeof v);
    assert_int_equal(mb_redis_state_get(b, "tok:x", 5, on_value, &v), 0);
    mb_redis_state_forget(b, &v);
    run_for(&loop, 200);
    assert_int_equal(v.calls, 0);

    for (int i = 1; i <= 5; i++) {
        char value[16];
        int len = snprintf(value, sizeof value, "e%d", i);
        assert_int_equal(mb_redis_state_list_append(a, "sse:s1", 6, value, (size_t)len, 3, 5000), 0);
    }
    struct list_result l = {0};
    assert_int_equal(mb_redis_state_list_range(b, "sse:s1", 6, 0, on_list, &l), 0);
    assert_true(run_until(&loop, list_done, &l, 2000));
    assert_int_equal(l.error, 0);
    assert_string_equal(l.joined, "e3,e4,e5"); /* the newest 3 kept */
    memset(&l, 0, sizeof l);
    assert_int_equal(mb_redis_state_list_range(b, "sse:s1", 6, -1, on_list, &l), 0);
    assert_true(run_until(&loop, list_done, &l, 2000));
    assert_string_equal(l.joined, "e5");
    memset(&l, 0, sizeof l);
    assert_int_equal(mb_redis_state_list_range(b, "sse:none", 8, 0, on_list, &l), 0);
    assert_true(run_until(&loop, list_done, &l, 2000));
    assert_int_equal(l.error, 0);
    assert_int_equal(l.count, 0);
    long long ttl = raw_integer("PTTL %ssse:s1", prefix);
    assert_true(ttl > 3000 && ttl <= 5000);
    assert_int_equal(mb_redis_state_expire(a, "sse:s1", 6, 60000), 0);
    run_for(&loop, 100);
    ttl = raw_integer("PTTL %ssse:s1", prefix);
    assert_true(ttl > 50000 && ttl <= 60000);

    assert_int_equal(mb_redis_state_stream_notice(a, 0xabcull, "pStream_1-x", 42), 0);
    run_for(&loop, 200);
    assert_int_equal(sb.stream_events, 1);
    assert_int_equal(sb.stream_key, 0xabc);
    assert_string_equal(sb.stream_id, "pStream_1-x");
    assert_int_equal(sb.stream_seq, 42);
    assert_int_equal(mb_redis_state_stream_resumed(b, 0xdefull, "pOther"), 0);
    run_for(&loop, 200);
    assert_int_equal(sa.resumes, 1);
    assert_int_equal(sa.stream_key, 0xdef);
    assert_string_equal(sa.stream_id, "pOther");

    stop_redis();
    assert_true(run_until(&loop, is_down, b, 3000));
    assert_true(run_until(&loop, is_down, a, 3000));
    memset(&v, 0, sizeof v);
    assert_int_equal(mb_redis_state_get(b, "tok:x", 5, on_value, &v), 0);
    assert_int_equal(v.calls, 0);
    assert_true(run_until(&loop, value_done, &v, 200));
    assert_int_equal(v.error, -ENOTCONN);
    memset(&l, 0, sizeof l);
    assert_int_equal(mb_redis_state_list_range(b, "sse:s1", 6, 0, on_list, &l), 0);
    assert_true(run_until(&loop, list_done, &l, 200));
    assert_int_equal(l.error, -ENOTCONN);
    assert_int_equal(mb_redis_state_list_append(a, "sse:s2", 6, "x", 1, 3, 5000), -ENOTCONN);
    assert_int_equal(mb_redis_state_expire(a, "sse:s2", 6, 5000), -ENOTCONN);
    assert_int_equal(mb_redis_state_stream_notice(a, 1, "p1", 1), -ENOTCONN);
    start_redis();
    wait_synced(&loop, a, 8000);
    wait_synced(&loop, b, 8000);
    mb_redis_state_destroy(a);
    mb_redis_state_destroy(b);
    close_loop(&loop);
}

static void test_wrong_password(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char bad[160];
    snprintf(bad, sizeof bad, "redis://:wrong@127.0.0.1:%d/%d", redis_port, DB);
    struct mb_redis_state_options o = {.url = bad, .timeout_ms = 200};
    struct mb_redis_state *st = mb_redis_state_create(&loop, &o);
    assert_non_null(st);
    run_for(&loop, 800);
    struct mb_redis_state_health h;
    mb_redis_state_health(st, &h);
    assert_false(h.connected);
    assert_true(h.errors >= 1);
    mb_redis_state_destroy(st);
    close_loop(&loop);
}

/* Destroy with a get in flight, and with a backlog: no callback runs afterwards and everything is released (ASan checks the memory). */
static void test_destroy_with_work_in_flight(void **state)
{
    (void)state;
    SKIP_WITHOUT_REDIS();
    uv_loop_t loop;
    uv_loop_init(&loop);
    char prefix[64];
    unique_prefix(prefix, sizeof prefix);
    struct seen s = {0};
    struct mb_redis_state *st = client(&loop, prefix, &s, 0);
    wait_synced(&loop, st, 3000);
    struct value_result v = {0};
    assert_int_equal(mb_redis_state_get(st, "k", 1, on_value, &v), 0);
    mb_redis_state_destroy(st);
    run_for(&loop, 200);
    assert_int_equal(v.calls, 0);
    close_loop(&loop);

    /* and while never connected, with a backlog */
    uv_loop_init(&loop);
    struct mb_redis_state_options o = {.url = "redis://127.0.0.1:1", .timeout_ms = 100};
    st = mb_redis_state_create(&loop, &o);
    mb_redis_state_session_ended(st, 1, 2);
    assert_int_equal(mb_redis_state_get(st, "k", 1, on_value, &v), 0);
    mb_redis_state_destroy(st);
    run_for(&loop, 100);
    assert_int_equal(v.calls, 0);
    close_loop(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_events_cross_instances),
        cmocka_unit_test(test_catch_up),
        cmocka_unit_test(test_outage_backlog_and_recovery),
        cmocka_unit_test(test_frozen_server),
        cmocka_unit_test(test_values_lists_notices),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_destroy_with_work_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
