/* Implementation of redis_limiter.h with hiredis's asynchronous API on libuv.
 *
 * Every take is a struct rl_call on one of two lists of the limiter: `calls` (waiting for the
 * connection or for Redis, in deadline order since every call gets the same timeout) and
 * `failed` (to be completed with an error on the next loop iteration). A call hiredis holds a
 * pointer to (in_redis) is freed only by its reply callback, which hiredis always runs, with a
 * NULL reply when the connection goes away. User callbacks run from the loop only: from a
 * reply, or from the `failed` list drained by a zero timeout.
 *
 * Connection states: no context (back-off timer pending), resolving the host name, a context
 * (connecting, then AUTH/SELECT, then ready). Commands sent before the context is connected are
 * buffered by hiredis and written once it is. */
#include "limits/redis_limiter.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/redis_url.h"

#if defined(MB_HAVE_HIREDIS) || (!defined(MB_NO_HIREDIS) && __has_include(<hiredis/adapters/libuv.h>))
#define RL_WITH_HIREDIS 1
#endif

#ifdef RL_WITH_HIREDIS

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libuv.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/evp.h>

#define LOGGER "ratelimit"
#define HOST_MAX MB_REDIS_URL_HOST_MAX
#define USER_MAX MB_REDIS_URL_USER_MAX
#define PASSWORD_MAX MB_REDIS_URL_PASSWORD_MAX
#define DEFAULT_TIMEOUT_MS 50
/* Largest emission interval / tolerance sent (microseconds): exact in the script's doubles. */
#define MAX_SPAN_US ((uint64_t)1 << 50)

/* KEYS[1] = bucket; ARGV[1] = emission interval (us), ARGV[2] = tolerance burst * interval (us).
 * Returns {allowed, retry_after_us, remaining, reset_after_us}. */
static const char gcra_script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local interval = tonumber(ARGV[1])\n"
    "local tau = tonumber(ARGV[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]))\n"
    "if not tat or tat < now then tat = now end\n"
    "local new = tat + interval\n"
    "if new - tau > now then\n"
    "  return {0, new - tau - now, 0, tat - now}\n"
    "end\n"
    "redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.floor((new - now) / 1000) + 1)\n"
    "return {1, 0, math.floor((now + tau - new) / interval), new - now}\n";

enum call_list { ON_NONE = 0, ON_CALLS, ON_FAILED };

struct rl_call {
    struct rl_call *prev, *next;
    struct mb_redis_limiter *lim;
    mb_redis_limiter_cb cb;
    void *data;
    uint64_t deadline;          /* clock_ms() */
    enum call_list list;
    int error;                  /* ON_FAILED: what the callback will get */
    bool in_redis;              /* hiredis holds the pointer; its reply callback frees */
    bool sent;                  /* handed to a context at least once */
    bool eval_sent;             /* the EVAL fallback was used */
    unsigned burst;
    char interval[24];
    char tau[24];
    size_t key_len;
    char key[];                 /* prefix + key */
};

struct call_queue {
    struct rl_call *head, *tail;
};

enum conn_state { CONN_NONE = 0, CONN_RESOLVING, CONN_OPEN };

struct mb_redis_limiter {
    uv_loop_t *loop;
    redisAsyncContext *ac;      /* CONN_OPEN */
    enum conn_state state;
    bool ready;                 /* connected, handshake answered */
    bool destroying;
    bool loss_logged;           /* a loss was logged at warning level since the last connect */
    unsigned handshake_left;
    unsigned timeout_ms;
    unsigned backoff_ms;
    unsigned pending;
    unsigned closes_pending;
    uint64_t generation;        /* bumped when a connection attempt is abandoned */
    bool gai_active;
    uint64_t gai_generation;
    uv_getaddrinfo_t gai;
    uv_timer_t retry_timer;
    uv_timer_t deadline_timer;
    uv_timer_t defer_timer;
    struct call_queue calls;
    struct call_queue failed;
    char sha[41];
    int port;
    int db;
    size_t prefix_len;
    char prefix[MB_REDIS_PREFIX_MAX];
    char host[HOST_MAX];
    char user[USER_MAX];
    char password[PASSWORD_MAX];
};

/* ---------- lists ---------- */

static void queue_push(struct call_queue *q, struct rl_call *c)
{
    c->next = NULL;
    c->prev = q->tail;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

static void queue_remove(struct call_queue *q, struct rl_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        q->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        q->tail = c->prev;
    c->prev = c->next = NULL;
}

static void unlist(struct mb_redis_limiter *lim, struct rl_call *c)
{
    if (c->list == ON_CALLS)
        queue_remove(&lim->calls, c);
    else if (c->list == ON_FAILED)
        queue_remove(&lim->failed, c);
    if (c->list != ON_NONE)
        lim->pending--;
    c->list = ON_NONE;
}

/* Forgets a call without running its callback; frees it unless hiredis still holds it. */
static void drop_call(struct mb_redis_limiter *lim, struct rl_call *c)
{
    unlist(lim, c);
    if (!c->in_redis)
        free(c);
}

/* ---------- completing calls ---------- */

static void on_defer(uv_timer_t *t);

static void fail_later(struct mb_redis_limiter *lim, struct rl_call *c, int error)
{
    unlist(lim, c);
    c->error = error;
    c->list = ON_FAILED;
    lim->pending++;
    queue_push(&lim->failed, c);
    if (!lim->destroying && !uv_is_active((uv_handle_t *)&lim->defer_timer))
        uv_timer_start(&lim->defer_timer, on_defer, 0, 0);
}

/* Runs the failed calls' callbacks. Each is taken off the list before its callback, which may
 * take, cancel or destroy. */
static void on_defer(uv_timer_t *t)
{
    struct mb_redis_limiter *lim = t->data;
    struct rl_call *c;
    while (!lim->destroying && (c = lim->failed.head) != NULL) {
        unlist(lim, c);
        mb_redis_limiter_cb cb = c->cb;
        void *data = c->data;
        int error = c->error;
        if (!c->in_redis)
            free(c); /* else hiredis still holds it (a timeout): its reply callback frees it */
        cb(data, NULL, error);
    }
}

/* ---------- connection ---------- */

static void start_connect(struct mb_redis_limiter *lim);
static void send_call(struct mb_redis_limiter *lim, struct rl_call *c);

static void on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

/* No connection (any more): fail the calls waiting for one, try again after the back-off. */
static void connection_lost(struct mb_redis_limiter *lim, const char *why)
{
    lim->state = CONN_NONE;
    lim->ready = false;
    lim->handshake_left = 0;
    if (lim->destroying)
        return;
    if (!lim->loss_logged) {
        mb_warn(LOGGER, "redis %s:%d unavailable (%s); instance-local limits apply until it is back",
                lim->host, lim->port, why);
        lim->loss_logged = true;
    } else {
        mb_debug(LOGGER, "redis %s:%d: %s; retry in %u ms", lim->host, lim->port, why, lim->backoff_ms);
    }
    /* Calls that were never handed to a context (they waited for the name lookup). Calls in a
     * context are answered by hiredis with NULL replies. */
    struct rl_call *c = lim->calls.head;
    while (c) {
        struct rl_call *next = c->next;
        if (!c->in_redis)
            fail_later(lim, c, -ENOTCONN);
        c = next;
    }
    uv_timer_start(&lim->retry_timer, on_retry, lim->backoff_ms, 0);
    lim->backoff_ms = lim->backoff_ms * 2 > MB_REDIS_BACKOFF_MAX_MS ? MB_REDIS_BACKOFF_MAX_MS
                                                                     : lim->backoff_ms * 2;
}

/* Gives up the current connection or attempt on our side. */
static void drop_connection(struct mb_redis_limiter *lim, const char *why)
{
    lim->generation++;
    redisAsyncContext *ac = lim->ac;
    lim->ac = NULL;
    connection_lost(lim, why);
    if (ac) {
        ac->data = NULL; /* its connect/disconnect callbacks are no longer ours */
        redisAsyncFree(ac); /* NULL replies for the calls it holds (deferred inside a callback) */
    }
}

static void became_ready(struct mb_redis_limiter *lim)
{
    lim->ready = true;
    lim->backoff_ms = MB_REDIS_BACKOFF_MIN_MS;
    mb_info(LOGGER, "redis %s:%d connected", lim->host, lim->port);
    lim->loss_logged = false;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct mb_redis_limiter *lim = ac->data;
    if (!lim || lim->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns and answers its calls with NULL. */
        lim->ac = NULL;
        lim->generation++;
        ((redisAsyncContext *)ac)->data = NULL;
        connection_lost(lim, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
        return;
    }
    if (lim->handshake_left == 0)
        became_ready(lim);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct mb_redis_limiter *lim = ac->data;
    if (!lim || lim->ac != ac)
        return;
    lim->ac = NULL;
    lim->generation++;
    connection_lost(lim, status == REDIS_OK ? "connection closed" : "connection lost");
}

static void on_handshake(redisAsyncContext *ac, void *r, void *privdata)
{
    struct mb_redis_limiter *lim = privdata;
    redisReply *reply = r;
    if (!reply || lim->destroying || lim->ac != ac)
        return; /* the connection went away: its own callbacks say so */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* AUTH / SELECT refused; the server's message names no secret. */
        char why[160];
        snprintf(why, sizeof why, "handshake refused: %.120s", reply->str ? reply->str : "");
        lim->loss_logged = false; /* a refusal is worth a warning every time */
        drop_connection(lim, why);
        return;
    }
    if (--lim->handshake_left == 0 && (ac->c.flags & REDIS_CONNECTED))
        became_ready(lim);
}

static void connect_to(struct mb_redis_limiter *lim, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, lim->port);
    if (!ac || ac->err) {
        char why[160];
        snprintf(why, sizeof why, "connect: %.120s", ac ? ac->c.errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        connection_lost(lim, why);
        return;
    }
    if (redisLibuvAttach(ac, lim->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        connection_lost(lim, "cannot watch the socket");
        return;
    }
    ac->data = lim;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    lim->ac = ac;
    lim->state = CONN_OPEN;
    lim->handshake_left = 0;
    if (lim->password[0]) {
        int rc = lim->user[0] ? redisAsyncCommand(ac, on_handshake, lim, "AUTH %s %s", lim->user, lim->password)
                              : redisAsyncCommand(ac, on_handshake, lim, "AUTH %s", lim->password);
        if (rc == REDIS_OK)
            lim->handshake_left++;
    }
    if (lim->db != 0 && redisAsyncCommand(ac, on_handshake, lim, "SELECT %d", lim->db) == REDIS_OK)
        lim->handshake_left++;
    /* Calls that waited for the connection go out behind the handshake. */
    struct rl_call *c = lim->calls.head;
    while (c) {
        struct rl_call *next = c->next; /* send_call may move c to the failed list */
        if (!c->sent)
            send_call(lim, c);
        c = next;
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct mb_redis_limiter *lim = req->data;
    lim->gai_active = false;
    if (lim->destroying) {
        if (res)
            uv_freeaddrinfo(res);
        if (lim->closes_pending == 0)
            free(lim);
        return;
    }
    if (lim->gai_generation != lim->generation || lim->state != CONN_RESOLVING) {
        if (res)
            uv_freeaddrinfo(res); /* an attempt given up (timeout) */
        return;
    }
    char ip[64];
    bool found = status == 0 && mb_redis_pick_address(res, ip, sizeof ip);
    if (res)
        uv_freeaddrinfo(res);
    if (!found) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve host: %s", status ? uv_strerror(status) : "no address");
        connection_lost(lim, why);
        return;
    }
    connect_to(lim, ip);
}

static void start_connect(struct mb_redis_limiter *lim)
{
    if (lim->destroying || lim->state != CONN_NONE)
        return;
    if (mb_redis_host_is_literal(lim->host)) {
        connect_to(lim, lim->host);
        return;
    }
    if (lim->gai_active) {
        /* An abandoned lookup has not returned yet; try again shortly. */
        uv_timer_start(&lim->retry_timer, on_retry, MB_REDIS_BACKOFF_MIN_MS, 0);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    lim->gai.data = lim;
    lim->gai_generation = lim->generation;
    int rc = uv_getaddrinfo(lim->loop, &lim->gai, on_resolved, lim->host, NULL, &hints);
    if (rc != 0) {
        connection_lost(lim, uv_strerror(rc));
        return;
    }
    lim->gai_active = true;
    lim->state = CONN_RESOLVING;
}

/* ---------- calls ---------- */

static void on_reply(redisAsyncContext *ac, void *r, void *privdata);

static int send_eval(struct mb_redis_limiter *lim, struct rl_call *c)
{
    const char *argv[6];
    size_t lens[6];
    if (c->eval_sent) {
        argv[0] = "EVAL";
        argv[1] = gcra_script;
        lens[1] = sizeof gcra_script - 1;
    } else {
        argv[0] = "EVALSHA";
        argv[1] = lim->sha;
        lens[1] = 40;
    }
    lens[0] = strlen(argv[0]);
    argv[2] = "1";
    lens[2] = 1;
    argv[3] = c->key;
    lens[3] = c->key_len;
    argv[4] = c->interval;
    lens[4] = strlen(c->interval);
    argv[5] = c->tau;
    lens[5] = strlen(c->tau);
    if (redisAsyncCommandArgv(lim->ac, on_reply, c, 6, argv, lens) != REDIS_OK)
        return -1;
    c->in_redis = true;
    c->sent = true;
    return 0;
}

static void send_call(struct mb_redis_limiter *lim, struct rl_call *c)
{
    if (send_eval(lim, c) != 0)
        fail_later(lim, c, -ENOTCONN);
}

static uint64_t ceil_ms(long long us)
{
    if (us <= 0)
        return 0;
    return (uint64_t)(us / 1000 + (us % 1000 != 0));
}

/* Reads the script's answer; 0 or -EIO / -EPROTO. */
static int parse_reply(const redisReply *reply, unsigned burst, struct mb_ratelimit_decision *d)
{
    if (reply->type == REDIS_REPLY_ERROR)
        return -EIO;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4)
        return -EPROTO;
    for (size_t i = 0; i < 4; i++)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return -EPROTO;
    memset(d, 0, sizeof *d);
    d->allowed = reply->element[0]->integer == 1;
    d->limit = burst;
    d->retry_after_ms = d->allowed ? 0 : ceil_ms(reply->element[1]->integer);
    if (!d->allowed && d->retry_after_ms == 0)
        d->retry_after_ms = 1;
    long long left = reply->element[2]->integer;
    d->remaining = left < 0 ? 0 : left > (long long)burst ? burst : (uint32_t)left;
    d->reset_ms = ceil_ms(reply->element[3]->integer);
    return 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rl_call *c = privdata;
    redisReply *reply = r;
    c->in_redis = false;
    if (c->list == ON_NONE) {
        free(c); /* cancelled, timed out and reported, or the limiter is being destroyed */
        return;
    }
    struct mb_redis_limiter *lim = c->lim;
    if (c->list == ON_FAILED)
        return; /* timed out; on_defer reports and frees it */
    if (!reply) {
        fail_later(lim, c, -ENOTCONN);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && !c->eval_sent && reply->str &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        c->eval_sent = true; /* the server lost its script cache: send the body once */
        if (ac == lim->ac && send_eval(lim, c) == 0)
            return;
        fail_later(lim, c, -ENOTCONN);
        return;
    }
    struct mb_ratelimit_decision d;
    int error = parse_reply(reply, c->burst, &d);
    if (error == -EIO)
        mb_debug(LOGGER, "redis answered the limiter script with an error: %.200s",
                 reply->str ? reply->str : "");
    unlist(lim, c);
    mb_redis_limiter_cb cb = c->cb;
    void *data = c->data;
    free(c);
    cb(data, error ? NULL : &d, error);
}

static uint64_t clock_ms(void)
{
    return uv_hrtime() / 1000000; /* not uv_now: a take late in a long loop iteration */
}

static void on_deadline(uv_timer_t *t)
{
    struct mb_redis_limiter *lim = t->data;
    uint64_t now = clock_ms();
    bool expired = false;
    while (lim->calls.head && lim->calls.head->deadline <= now) {
        fail_later(lim, lim->calls.head, -ETIMEDOUT);
        expired = true;
    }
    if (expired && lim->state != CONN_NONE) /* the server (or the path to it) stopped answering */
        drop_connection(lim, "no answer in time");
    if (!lim->destroying && lim->calls.head)
        uv_timer_start(&lim->deadline_timer, on_deadline, lim->calls.head->deadline - now, 0);
}

int mb_redis_limiter_take(struct mb_redis_limiter *lim, const void *key, size_t key_len,
                          double rate_per_s, unsigned burst, mb_redis_limiter_cb cb, void *data)
{
    if (!lim || lim->destroying || !cb || (!key && key_len) || key_len > MB_RATELIMIT_KEY_MAX ||
        burst == 0 || !isfinite(rate_per_s) || rate_per_s <= 0)
        return -EINVAL;
    struct rl_call *c = calloc(1, sizeof *c + lim->prefix_len + key_len);
    if (!c)
        return -ENOMEM;
    c->lim = lim;
    c->cb = cb;
    c->data = data;
    c->burst = burst;
    memcpy(c->key, lim->prefix, lim->prefix_len);
    if (key_len)
        memcpy(c->key + lim->prefix_len, key, key_len);
    c->key_len = lim->prefix_len + key_len;
    double us = 1e6 / rate_per_s;
    uint64_t max_interval = MAX_SPAN_US / burst; /* as in ratelimit.c: tau = burst * T bounded */
    uint64_t interval = us >= (double)max_interval ? max_interval : (uint64_t)llround(us);
    if (interval == 0)
        interval = 1;
    uint64_t tau = interval * burst;
    snprintf(c->interval, sizeof c->interval, "%llu", (unsigned long long)interval);
    snprintf(c->tau, sizeof c->tau, "%llu", (unsigned long long)tau);

    if (lim->state == CONN_NONE) {
        fail_later(lim, c, -ENOTCONN);
        return 0;
    }
    c->deadline = clock_ms() + lim->timeout_ms;
    c->list = ON_CALLS;
    lim->pending++;
    queue_push(&lim->calls, c);
    if (!uv_is_active((uv_handle_t *)&lim->deadline_timer))
        uv_timer_start(&lim->deadline_timer, on_deadline, lim->timeout_ms, 0);
    if (lim->state == CONN_OPEN)
        send_call(lim, c);
    return 0;
}

void mb_redis_limiter_cancel(struct mb_redis_limiter *lim, void *data)
{
    if (!lim)
        return;
    struct call_queue *lists[2] = {&lim->calls, &lim->failed};
    for (int i = 0; i < 2; i++) {
        struct rl_call *c = lists[i]->head;
        while (c) {
            struct rl_call *next = c->next;
            if (c->data == data)
                drop_call(lim, c);
            c = next;
        }
    }
}

bool mb_redis_limiter_connected(const struct mb_redis_limiter *lim)
{
    return lim && lim->ready;
}

unsigned mb_redis_limiter_pending(const struct mb_redis_limiter *lim)
{
    return lim ? lim->pending : 0;
}

/* ---------- create / destroy ---------- */

/* Fills the connection fields from the URL (common/redis_url.h). */
static int parse_url(struct mb_redis_limiter *lim, const char *url)
{
    struct mb_redis_url u;
    if (mb_redis_url_parse(url, &u) != 0)
        return -1;
    memcpy(lim->host, u.host, sizeof lim->host);
    memcpy(lim->user, u.user, sizeof lim->user);
    memcpy(lim->password, u.password, sizeof lim->password);
    lim->port = u.port;
    lim->db = u.db;
    mb_redis_url_wipe(&u);
    return 0;
}

static int script_sha1(char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(gcra_script, sizeof gcra_script - 1, md, &len, EVP_sha1(), NULL) != 1 || len != 20)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
    return 0;
}

static void secure_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

struct mb_redis_limiter *mb_redis_limiter_create(uv_loop_t *loop, const char *url,
                                                 const char *key_prefix, unsigned timeout_ms)
{
    if (!loop || !url)
        return NULL;
    if (!key_prefix)
        key_prefix = MB_REDIS_DEFAULT_PREFIX;
    size_t plen = strlen(key_prefix);
    if (plen >= MB_REDIS_PREFIX_MAX)
        return NULL;
    struct mb_redis_limiter *lim = calloc(1, sizeof *lim);
    if (!lim)
        return NULL;
    if (parse_url(lim, url) != 0 || script_sha1(lim->sha) != 0) {
        secure_wipe(lim->password, sizeof lim->password);
        free(lim);
        return NULL;
    }
    lim->loop = loop;
    memcpy(lim->prefix, key_prefix, plen);
    lim->prefix_len = plen;
    lim->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    lim->backoff_ms = MB_REDIS_BACKOFF_MIN_MS;
    uv_timer_init(loop, &lim->retry_timer);
    uv_timer_init(loop, &lim->deadline_timer);
    uv_timer_init(loop, &lim->defer_timer);
    lim->retry_timer.data = lim->deadline_timer.data = lim->defer_timer.data = lim;
    start_connect(lim);
    return lim;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mb_redis_limiter *lim = h->data;
    if (--lim->closes_pending == 0 && !lim->gai_active)
        free(lim);
}

void mb_redis_limiter_destroy(struct mb_redis_limiter *lim)
{
    if (!lim || lim->destroying)
        return;
    lim->destroying = true;
    while (lim->calls.head)
        drop_call(lim, lim->calls.head);
    while (lim->failed.head)
        drop_call(lim, lim->failed.head);
    redisAsyncContext *ac = lim->ac;
    lim->ac = NULL;
    lim->ready = false;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac); /* hiredis answers what it holds with NULL: those calls are freed */
    }
    if (lim->gai_active)
        uv_cancel((uv_req_t *)&lim->gai);
    secure_wipe(lim->password, sizeof lim->password);
    lim->closes_pending = 3;
    uv_close((uv_handle_t *)&lim->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&lim->deadline_timer, on_timer_closed);
    uv_close((uv_handle_t *)&lim->defer_timer, on_timer_closed);
}

#else /* no hiredis: the limiter cannot be created; callers use the local limiter */

struct mb_redis_limiter *mb_redis_limiter_create(uv_loop_t *loop, const char *url,
                                                 const char *key_prefix, unsigned timeout_ms)
{
    (void)loop;
    (void)url;
    (void)key_prefix;
    (void)timeout_ms;
    return NULL;
}

void mb_redis_limiter_destroy(struct mb_redis_limiter *lim)
{
    (void)lim;
}

int mb_redis_limiter_take(struct mb_redis_limiter *lim, const void *key, size_t key_len,
                          double rate_per_s, unsigned burst, mb_redis_limiter_cb cb, void *data)
{
    (void)lim, (void)key, (void)key_len, (void)rate_per_s, (void)burst, (void)cb, (void)data;
    return -ENOTSUP;
}

void mb_redis_limiter_cancel(struct mb_redis_limiter *lim, void *data)
{
    (void)lim;
    (void)data;
}

bool mb_redis_limiter_connected(const struct mb_redis_limiter *lim)
{
    (void)lim;
    return false;
}

unsigned mb_redis_limiter_pending(const struct mb_redis_limiter *lim)
{
    (void)lim;
    return 0;
}

#endif
