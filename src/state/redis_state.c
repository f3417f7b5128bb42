/* Implementation of redis_state.h with hiredis's asynchronous API on libuv.
 *
 * The link is two hiredis contexts made and dropped together: `cmd` for commands, `sub` for
 * subscriptions. States: DOWN (no contexts; the retry timer runs), RESOLVING (uv_getaddrinfo),
 * OPEN (contexts exist; hiredis buffers what is sent before the socket connects). The link is
 * ready when cmd answered its handshake and sub confirmed the events channel; then the
 * catch-up runs (commands chained through their replies), then the backlog is written.
 *
 * Every command sent on cmd is a struct rs_cmd on `cmds` (deadline order: every command gets
 * the same timeout) until its reply, or on `failed` until a zero timer completes it with an
 * error: handlers never run inside the call that asked. A command hiredis holds a pointer to
 * (in_redis) is freed only by its reply callback, which hiredis always runs (with a NULL reply
 * when the context goes). The subscriber context holds one subscription, the events channel,
 * whose callback gets st (alive until the context is freed). */
#include "state/redis_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/redis_url.h"

#if defined(MB_HAVE_HIREDIS) || (!defined(MB_NO_HIREDIS) && __has_include(<hiredis/adapters/libuv.h>))
#define RS_WITH_HIREDIS 1
#endif

#ifdef RS_WITH_HIREDIS

#include <arpa/inet.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/crypto.h>

#define LOGGER "state"
#define HOST_MAX MB_REDIS_URL_HOST_MAX
#define USER_MAX MB_REDIS_URL_USER_MAX
#define PASSWORD_MAX MB_REDIS_URL_PASSWORD_MAX
#define MIN_CONNECT_DEADLINE_MS 1000
#define EVENT_MAX 128              /* bytes of one message on the events channel */
#define LEVEL_SCORE_FACTOR 8       /* sessions:levels score = expires * 8 + level */

enum cmd_list { ON_NONE = 0, ON_CMDS, ON_FAILED };
enum link_state { LINK_DOWN = 0, LINK_RESOLVING, LINK_OPEN };
enum backlog_kind { BACKLOG_END = 1, BACKLOG_LEVEL = 2 };

struct backlog_item {
    enum backlog_kind kind;
    int level;
    uint64_t key;
    uint64_t expires;
};

struct rs_cmd;
/* Completes a command: reply is NULL when error != 0. Runs once; the command is freed after. */
typedef void (*rs_handler)(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error);

struct rs_cmd {
    struct rs_cmd *prev, *next;
    struct mb_redis_state *st;
    rs_handler handler;
    uint64_t deadline;             /* clock_ms() */
    uint64_t generation;           /* the link it was sent on */
    enum cmd_list list;
    int error;                     /* ON_FAILED: what the handler will get */
    bool in_redis;                 /* hiredis holds the pointer; its reply callback frees */
    bool user;                     /* a get / list_range: forget() may drop it */
    void *data;
    mb_redis_state_value_cb value_cb;
    mb_redis_state_list_cb list_cb;
    struct backlog_item item;      /* session writes: what to keep again when the write fails */
};

struct cmd_queue {
    struct rs_cmd *head, *tail;
};

struct mb_redis_state {
    uv_loop_t *loop;
    struct mb_redis_state_events events;
    void *events_data;
    enum link_state state;
    redisAsyncContext *cmd, *sub;
    bool cmd_ready, sub_ready, ready, synced;
    bool ever_ready;
    bool loss_logged;
    bool destroying;
    bool ping_pending;
    bool backlog_full_logged;
    unsigned cmd_handshake_left;
    unsigned timeout_ms, ping_ms, backoff_ms;
    unsigned closes_pending;
    uint64_t generation;           /* bumped whenever a link is abandoned */
    bool gai_active;
    uint64_t gai_generation;
    uv_getaddrinfo_t gai;
    uv_timer_t retry_timer, deadline_timer, defer_timer, ping_timer, connect_timer;
    struct cmd_queue cmds, failed;
    /* catch-up */
    uint64_t catchup_now;
    unsigned catchup_offset;
    /* backlog: a ring of session writes */
    struct backlog_item *backlog;
    unsigned backlog_max, backlog_head, backlog_count;
    /* health */
    uint64_t since_ms, reconnects, errors, backlog_dropped;
    int port, db;
    size_t prefix_len;
    char prefix[MB_REDIS_STATE_PREFIX_MAX];
    char host[HOST_MAX];
    char user[USER_MAX];
    char password[PASSWORD_MAX];
};

/* ---------- small helpers ---------- */

static uint64_t clock_ms(void)
{
    return uv_hrtime() / 1000000; /* not uv_now: a command late in a long loop iteration */
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* prefix + name into out (cap bytes); the length, or 0 when it does not fit. */
static size_t full_name(const struct mb_redis_state *st, const char *name, size_t name_len, char *out, size_t cap)
{
    if (st->prefix_len + name_len + 1 > cap)
        return 0;
    memcpy(out, st->prefix, st->prefix_len);
    memcpy(out + st->prefix_len, name, name_len);
    out[st->prefix_len + name_len] = '\0';
    return st->prefix_len + name_len;
}

/* ---------- command lists ---------- */

static void queue_push(struct cmd_queue *q, struct rs_cmd *c)
{
    c->next = NULL;
    c->prev = q->tail;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

static void queue_remove(struct cmd_queue *q, struct rs_cmd *c)
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

static void unlist(struct mb_redis_state *st, struct rs_cmd *c)
{
    if (c->list == ON_CMDS)
        queue_remove(&st->cmds, c);
    else if (c->list == ON_FAILED)
        queue_remove(&st->failed, c);
    c->list = ON_NONE;
}

/* Forgets a command without running its handler; frees it unless hiredis still holds it. */
static void drop_cmd(struct mb_redis_state *st, struct rs_cmd *c)
{
    unlist(st, c);
    if (!c->in_redis)
        free(c);
}

static void on_defer(uv_timer_t *t);

static void fail_later(struct mb_redis_state *st, struct rs_cmd *c, int error)
{
    unlist(st, c);
    c->error = error;
    c->list = ON_FAILED;
    queue_push(&st->failed, c);
    if (!st->destroying && !uv_is_active((uv_handle_t *)&st->defer_timer))
        uv_timer_start(&st->defer_timer, on_defer, 0, 0);
}

/* Completes the failed commands. Each leaves the list before its handler, which may send,
 * forget or destroy. */
static void on_defer(uv_timer_t *t)
{
    struct mb_redis_state *st = t->data;
    struct rs_cmd *c;
    while (!st->destroying && (c = st->failed.head) != NULL) {
        unlist(st, c);
        st->errors++;
        c->handler(st, c, NULL, c->error);
        if (!c->in_redis)
            free(c); /* else hiredis still holds it (a timeout): its reply callback frees it */
    }
}

/* ---------- the link ---------- */

static void start_connect(struct mb_redis_state *st);
static void start_catchup(struct mb_redis_state *st);

static void on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

/* The link is gone (or an attempt failed): try again after the back-off. */
static void link_lost(struct mb_redis_state *st, const char *why)
{
    bool was_ready = st->ready;
    st->state = LINK_DOWN;
    st->cmd_ready = st->sub_ready = st->ready = st->synced = false;
    st->cmd_handshake_left = 0;
    st->ping_pending = false;
    uv_timer_stop(&st->connect_timer);
    if (st->destroying)
        return;
    st->errors++;
    if (was_ready)
        st->since_ms = unix_ms();
    if (!st->loss_logged) {
        mb_warn(LOGGER, "redis %s:%d unavailable (%s); sessions, levels and tokens stay instance-local "
                        "until it is back", st->host, st->port, why);
        st->loss_logged = true;
    } else {
        mb_debug(LOGGER, "redis %s:%d: %s; retry in %u ms", st->host, st->port, why, st->backoff_ms);
    }
    uv_timer_start(&st->retry_timer, on_retry, st->backoff_ms, 0);
    st->backoff_ms = st->backoff_ms * 2 > MB_REDIS_STATE_BACKOFF_MAX_MS ? MB_REDIS_STATE_BACKOFF_MAX_MS
                                                                         : st->backoff_ms * 2;
}

/* Gives up both contexts on our side. Commands they hold get NULL replies (-ENOTCONN). */
static void drop_link(struct mb_redis_state *st, const char *why)
{
    st->generation++;
    redisAsyncContext *cmd = st->cmd, *sub = st->sub;
    st->cmd = st->sub = NULL;
    link_lost(st, why);
    if (cmd) {
        cmd->data = NULL; /* its connect/disconnect callbacks are no longer ours */
        redisAsyncFree(cmd);
    }
    if (sub) {
        sub->data = NULL;
        redisAsyncFree(sub);
    }
}

static void became_ready(struct mb_redis_state *st)
{
    if (st->ready || !st->cmd_ready || !st->sub_ready)
        return;
    st->ready = true;
    st->since_ms = unix_ms();
    if (st->ever_ready)
        st->reconnects++;
    st->ever_ready = true;
    st->backoff_ms = MB_REDIS_STATE_BACKOFF_MIN_MS;
    st->backlog_full_logged = false;
    uv_timer_stop(&st->connect_timer);
    mb_info(LOGGER, "redis %s:%d connected; catching up on ended sessions and levels", st->host, st->port);
    st->loss_logged = false;
    start_catchup(st);
}

/* A context's connect or disconnect: which one, and is it still ours? */
static redisAsyncContext **ctx_slot(struct mb_redis_state *st, const redisAsyncContext *ac)
{
    if (!st)
        return NULL;
    if (st->cmd == ac)
        return &st->cmd;
    if (st->sub == ac)
        return &st->sub;
    return NULL;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct mb_redis_state *st = ac->data;
    redisAsyncContext **slot = ctx_slot(st, ac);
    if (!slot)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees this context when we return: forget it, drop the other one. */
        char why[160];
        snprintf(why, sizeof why, "%.120s", ac->c.errstr[0] ? ac->c.errstr : "connect failed");
        *slot = NULL;
        ((redisAsyncContext *)ac)->data = NULL;
        drop_link(st, why);
        return;
    }
    if (ac == st->cmd && st->cmd_handshake_left == 0) {
        st->cmd_ready = true;
        became_ready(st);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct mb_redis_state *st = ac->data;
    redisAsyncContext **slot = ctx_slot(st, ac);
    if (!slot)
        return;
    *slot = NULL; /* being freed by hiredis */
    ((redisAsyncContext *)ac)->data = NULL;
    drop_link(st, status == REDIS_OK ? "connection closed" : "connection lost");
}

static void on_handshake(redisAsyncContext *ac, void *r, void *privdata)
{
    struct mb_redis_state *st = privdata;
    redisReply *reply = r;
    if (!reply || st->destroying || (ac != st->cmd && ac != st->sub))
        return; /* the context went away: its own callbacks say so */
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[160]; /* the server's message names no secret */
        snprintf(why, sizeof why, "handshake refused: %.120s", reply->str ? reply->str : "");
        st->loss_logged = false; /* a refusal is worth a warning every time */
        drop_link(st, why);
        return;
    }
    if (ac == st->cmd && --st->cmd_handshake_left == 0 && (ac->c.flags & REDIS_CONNECTED)) {
        st->cmd_ready = true;
        became_ready(st);
    }
}

/* ---------- the events channel ---------- */

static int parse_hex64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 16)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int parse_dec64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static bool stream_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > MB_REDIS_STATE_STREAM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Splits "w0 w1 w2 w3" (single spaces) into at most 4 words; returns the count, -1 if more. */
static int split_words(const char *s, size_t len, const char *w[4], size_t wl[4])
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        if (n == 4 || j == i)
            return -1;
        w[n] = s + i;
        wl[n] = j - i;
        n++;
        i = j + 1;
    }
    return n;
}

static void apply_event(struct mb_redis_state *st, const char *msg, size_t len)
{
    const char *w[4];
    size_t wl[4];
    uint64_t key = 0, a = 0, b = 0;
    int n = len <= EVENT_MAX ? split_words(msg, len, w, wl) : -1;
    if (n == 3 && wl[0] == 3 && memcmp(w[0], "end", 3) == 0 && parse_hex64(w[1], wl[1], &key) == 0 &&
        parse_dec64(w[2], wl[2], &a) == 0) {
        if (st->events.session_ended)
            st->events.session_ended(st->events_data, key, a);
    } else if (n == 4 && wl[0] == 5 && memcmp(w[0], "level", 5) == 0 && parse_hex64(w[1], wl[1], &key) == 0 &&
               parse_dec64(w[2], wl[2], &a) == 0 && parse_dec64(w[3], wl[3], &b) == 0 && b <= 7) {
        if (st->events.log_level)
            st->events.log_level(st->events_data, key, a, (int)b);
    } else if (n == 3 && wl[0] == 6 && memcmp(w[0], "cancel", 6) == 0 && parse_hex64(w[1], wl[1], &key) == 0 &&
               parse_hex64(w[2], wl[2], &a) == 0) {
        if (st->events.request_cancelled)
            st->events.request_cancelled(st->events_data, key, a);
    } else if (n == 4 && wl[0] == 3 && memcmp(w[0], "sse", 3) == 0 && parse_hex64(w[1], wl[1], &key) == 0 &&
               stream_id_ok(w[2], wl[2]) && parse_dec64(w[3], wl[3], &a) == 0) {
        char id[MB_REDIS_STATE_STREAM_ID_MAX + 1];
        memcpy(id, w[2], wl[2]);
        id[wl[2]] = '\0';
        if (st->events.stream_event)
            st->events.stream_event(st->events_data, key, id, a);
    } else if (n == 3 && wl[0] == 6 && memcmp(w[0], "resume", 6) == 0 && parse_hex64(w[1], wl[1], &key) == 0 &&
               stream_id_ok(w[2], wl[2])) {
        char id[MB_REDIS_STATE_STREAM_ID_MAX + 1];
        memcpy(id, w[2], wl[2]);
        id[wl[2]] = '\0';
        if (st->events.stream_resumed)
            st->events.stream_resumed(st->events_data, key, id);
    } else {
        mb_debug(LOGGER, "ignored a malformed message on the events channel (%zu bytes)", len);
    }
}

/* "subscribe" confirmations and "message"s of the events channel (privdata = st). */
static void on_event_message(redisAsyncContext *ac, void *r, void *privdata)
{
    struct mb_redis_state *st = privdata;
    redisReply *reply = r;
    if (!reply || st->destroying || ac != st->sub)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = reply->element[0]->str;
    if (strcasecmp(kind, "subscribe") == 0) {
        st->sub_ready = true;
        became_ready(st);
    } else if (strcasecmp(kind, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING) {
        apply_event(st, reply->element[2]->str, reply->element[2]->len);
    }
}

/* ---------- connecting ---------- */

static int handshake(struct mb_redis_state *st, redisAsyncContext *ac, unsigned *count)
{
    unsigned n = 0;
    if (st->password[0]) {
        int rc = st->user[0] ? redisAsyncCommand(ac, on_handshake, st, "AUTH %s %s", st->user, st->password)
                             : redisAsyncCommand(ac, on_handshake, st, "AUTH %s", st->password);
        if (rc != REDIS_OK)
            return -1;
        n++;
    }
    if (st->db != 0) {
        if (redisAsyncCommand(ac, on_handshake, st, "SELECT %d", st->db) != REDIS_OK)
            return -1;
        n++;
    }
    if (count)
        *count = n;
    return 0;
}

static redisAsyncContext *open_ctx(struct mb_redis_state *st, const char *ip, char *why, size_t whycap)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, st->port);
    if (!ac || ac->err) {
        snprintf(why, whycap, "connect: %.120s", ac ? ac->c.errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return NULL;
    }
    if (redisLibuvAttach(ac, st->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        snprintf(why, whycap, "cannot watch the socket");
        return NULL;
    }
    ac->data = st;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void on_connect_deadline(uv_timer_t *t)
{
    struct mb_redis_state *st = t->data;
    if (st->state == LINK_OPEN && !st->ready)
        drop_link(st, "no answer while connecting");
}

static void connect_to(struct mb_redis_state *st, const char *ip)
{
    char why[160] = "";
    st->cmd = open_ctx(st, ip, why, sizeof why);
    st->sub = st->cmd ? open_ctx(st, ip, why, sizeof why) : NULL;
    if (!st->sub) {
        drop_link(st, why);
        return;
    }
    st->state = LINK_OPEN;
    char channel[MB_REDIS_STATE_PREFIX_MAX + 8];
    size_t clen = full_name(st, "events", 6, channel, sizeof channel);
    const char *argv[2] = {"SUBSCRIBE", channel};
    size_t lens[2] = {9, clen};
    /* Handshakes first: hiredis answers them before it treats sub as subscribed. */
    if (handshake(st, st->cmd, &st->cmd_handshake_left) != 0 || handshake(st, st->sub, NULL) != 0 ||
        redisAsyncCommandArgv(st->sub, on_event_message, st, 2, argv, lens) != REDIS_OK) {
        drop_link(st, "cannot queue the handshake");
        return;
    }
    unsigned deadline = st->timeout_ms * 5 > MIN_CONNECT_DEADLINE_MS ? st->timeout_ms * 5 : MIN_CONNECT_DEADLINE_MS;
    uv_timer_start(&st->connect_timer, on_connect_deadline, deadline, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct mb_redis_state *st = req->data;
    st->gai_active = false;
    if (st->destroying) {
        if (res)
            uv_freeaddrinfo(res);
        if (st->closes_pending == 0)
            free(st);
        return;
    }
    if (st->gai_generation != st->generation || st->state != LINK_RESOLVING) {
        if (res)
            uv_freeaddrinfo(res); /* an abandoned attempt */
        return;
    }
    char ip[64];
    bool found = status == 0 && mb_redis_pick_address(res, ip, sizeof ip);
    if (res)
        uv_freeaddrinfo(res);
    if (!found) {
        char why[160];
        snprintf(why, sizeof why, "cannot resolve host: %s", status ? uv_strerror(status) : "no address");
        link_lost(st, why);
        return;
    }
    connect_to(st, ip);
}

static void start_connect(struct mb_redis_state *st)
{
    if (st->destroying || st->state != LINK_DOWN)
        return;
    if (mb_redis_host_is_literal(st->host)) {
        connect_to(st, st->host);
        return;
    }
    if (st->gai_active) {
        /* An abandoned lookup has not returned yet; try again shortly. */
        uv_timer_start(&st->retry_timer, on_retry, MB_REDIS_STATE_BACKOFF_MIN_MS, 0);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    st->gai.data = st;
    st->gai_generation = st->generation;
    int rc = uv_getaddrinfo(st->loop, &st->gai, on_resolved, st->host, NULL, &hints);
    if (rc != 0) {
        link_lost(st, uv_strerror(rc));
        return;
    }
    st->gai_active = true;
    st->state = LINK_RESOLVING;
}

/* ---------- commands ---------- */

static void on_cmd_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rs_cmd *c = privdata;
    redisReply *reply = r;
    (void)ac;
    c->in_redis = false;
    if (c->list == ON_NONE) {
        free(c); /* forgotten, or the client is being destroyed */
        return;
    }
    if (c->list == ON_FAILED)
        return; /* timed out; on_defer completes and frees it */
    struct mb_redis_state *st = c->st;
    if (!reply) {
        fail_later(st, c, -ENOTCONN);
        return;
    }
    unlist(st, c);
    int error = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        error = -EIO;
        st->errors++;
        mb_debug(LOGGER, "redis answered a command with an error: %.200s", reply->str ? reply->str : "");
    }
    c->handler(st, c, error ? NULL : reply, error);
    free(c);
}

static void on_deadline(uv_timer_t *t)
{
    struct mb_redis_state *st = t->data;
    uint64_t now = clock_ms();
    bool expired = false;
    while (st->cmds.head && st->cmds.head->deadline <= now) {
        fail_later(st, st->cmds.head, -ETIMEDOUT);
        expired = true;
    }
    if (expired && st->state != LINK_DOWN) /* the server (or the path to it) stopped answering */
        drop_link(st, "no answer in time");
    if (!st->destroying && st->cmds.head)
        uv_timer_start(&st->deadline_timer, on_deadline, st->cmds.head->deadline - now, 0);
}

static struct rs_cmd *cmd_new(struct mb_redis_state *st, rs_handler handler)
{
    struct rs_cmd *c = calloc(1, sizeof *c);
    if (c) {
        c->st = st;
        c->handler = handler;
    }
    return c;
}

/* Sends c on the command connection, or fails it on the next loop iteration when there is
 * none (or hiredis refuses it). Takes ownership of c. */
static void send_cmd(struct mb_redis_state *st, struct rs_cmd *c, int argc, const char **argv, const size_t *lens)
{
    if (!st->cmd || st->state != LINK_OPEN ||
        redisAsyncCommandArgv(st->cmd, on_cmd_reply, c, argc, argv, lens) != REDIS_OK) {
        fail_later(st, c, -ENOTCONN);
        return;
    }
    c->in_redis = true;
    c->generation = st->generation;
    c->deadline = clock_ms() + st->timeout_ms;
    c->list = ON_CMDS;
    queue_push(&st->cmds, c);
    if (!uv_is_active((uv_handle_t *)&st->deadline_timer))
        uv_timer_start(&st->deadline_timer, on_deadline, st->timeout_ms, 0);
}

/* A command whose answer nobody waits for: failures are counted, nothing else. */
static void on_ignored(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)st, (void)c, (void)reply, (void)error;
}

static int send_ignored(struct mb_redis_state *st, int argc, const char **argv, const size_t *lens)
{
    struct rs_cmd *c = cmd_new(st, on_ignored);
    if (!c)
        return -ENOMEM;
    send_cmd(st, c, argc, argv, lens);
    return 0;
}

static void on_ping(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)c, (void)reply, (void)error;
    st->ping_pending = false;
}

static void flush_backlog(struct mb_redis_state *st);

/* Checks that a connected server still answers, and retries session writes it refused. */
static void on_ping_tick(uv_timer_t *t)
{
    struct mb_redis_state *st = t->data;
    if (st->synced && st->backlog_count)
        flush_backlog(st);
    if (!st->ready || st->ping_pending)
        return;
    struct rs_cmd *c = cmd_new(st, on_ping);
    if (!c)
        return;
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    st->ping_pending = true;
    send_cmd(st, c, 1, argv, lens);
}

/* ---------- session writes and the backlog ---------- */

static void backlog_push(struct mb_redis_state *st, const struct backlog_item *item)
{
    for (unsigned i = 0; i < st->backlog_count; i++) {
        struct backlog_item *b = &st->backlog[(st->backlog_head + i) % st->backlog_max];
        if (b->kind == item->kind && b->key == item->key) {
            *b = *item; /* the newest level wins; an end is an end */
            return;
        }
    }
    if (st->backlog_count == st->backlog_max) {
        st->backlog_head = (st->backlog_head + 1) % st->backlog_max; /* drop the oldest */
        st->backlog_count--;
        st->backlog_dropped++;
        if (!st->backlog_full_logged) {
            mb_warn(LOGGER, "redis backlog full (%u session writes): dropping the oldest; other instances "
                            "will not learn of them", st->backlog_max);
            st->backlog_full_logged = true;
        }
    }
    st->backlog[(st->backlog_head + st->backlog_count) % st->backlog_max] = *item;
    st->backlog_count++;
}

/* A session write failed: keep it for the next connection. */
static void on_session_write(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)reply;
    if (error && !st->destroying)
        backlog_push(st, &c->item);
}

static void hex64(uint64_t v, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, v);
}

/* ZADD the item into its set and PUBLISH it; both answers are watched (a failure of either
 * puts the item back in the backlog; writing it twice is harmless). */
static void send_session_write(struct mb_redis_state *st, const struct backlog_item *item)
{
    char set[MB_REDIS_STATE_PREFIX_MAX + 32], channel[MB_REDIS_STATE_PREFIX_MAX + 8];
    char key[17], score[32], msg[EVENT_MAX];
    hex64(item->key, key);
    size_t slen, mlen;
    if (item->kind == BACKLOG_END) {
        slen = full_name(st, "sessions:ended", 14, set, sizeof set);
        snprintf(score, sizeof score, "%" PRIu64, item->expires);
        mlen = (size_t)snprintf(msg, sizeof msg, "end %s %" PRIu64, key, item->expires);
    } else {
        slen = full_name(st, "sessions:levels", 15, set, sizeof set);
        snprintf(score, sizeof score, "%" PRIu64, item->expires * LEVEL_SCORE_FACTOR + (uint64_t)item->level);
        mlen = (size_t)snprintf(msg, sizeof msg, "level %s %" PRIu64 " %d", key, item->expires, item->level);
    }
    size_t clen = full_name(st, "events", 6, channel, sizeof channel);
    const char *zadd[4] = {"ZADD", set, score, key};
    size_t zlens[4] = {4, slen, strlen(score), 16};
    const char *pub[3] = {"PUBLISH", channel, msg};
    size_t plens[3] = {7, clen, mlen};
    struct rs_cmd *a = cmd_new(st, on_session_write), *b = cmd_new(st, on_session_write);
    if (!a || !b) {
        free(a);
        free(b);
        backlog_push(st, item);
        return;
    }
    a->item = b->item = *item;
    send_cmd(st, a, 4, zadd, zlens);
    send_cmd(st, b, 3, pub, plens);
}

static void session_write(struct mb_redis_state *st, const struct backlog_item *item)
{
    if (!st || st->destroying)
        return;
    if (!st->synced) {
        backlog_push(st, item); /* written after the next catch-up */
        return;
    }
    send_session_write(st, item);
}

static void flush_backlog(struct mb_redis_state *st)
{
    unsigned n = st->backlog_count;
    if (n)
        mb_info(LOGGER, "redis: writing %u session change(s) kept while it was away", n);
    /* Take the items out first: a write that fails comes back through the deferred handler. */
    while (n-- && st->synced) {
        struct backlog_item item = st->backlog[st->backlog_head];
        st->backlog_head = (st->backlog_head + 1) % st->backlog_max;
        st->backlog_count--;
        send_session_write(st, &item);
    }
}

void mb_redis_state_session_ended(struct mb_redis_state *st, uint64_t session_key, uint64_t expires)
{
    struct backlog_item item = {.kind = BACKLOG_END, .key = session_key, .expires = expires};
    session_write(st, &item);
}

void mb_redis_state_log_level(struct mb_redis_state *st, uint64_t session_key, uint64_t expires, int level)
{
    if (level < 0 || level > 7)
        return;
    struct backlog_item item = {.kind = BACKLOG_LEVEL, .key = session_key, .expires = expires, .level = level};
    session_write(st, &item);
}

/* PUBLISHes msg on the events channel without waiting. 0, -ENOTCONN or -ENOMEM. */
static int publish_event(struct mb_redis_state *st, const char *msg, size_t len)
{
    if (!st->ready)
        return -ENOTCONN;
    char channel[MB_REDIS_STATE_PREFIX_MAX + 8];
    size_t clen = full_name(st, "events", 6, channel, sizeof channel);
    const char *argv[3] = {"PUBLISH", channel, msg};
    size_t lens[3] = {7, clen, len};
    return send_ignored(st, 3, argv, lens);
}

void mb_redis_state_request_cancelled(struct mb_redis_state *st, uint64_t session_key, uint64_t request_hash)
{
    if (!st || st->destroying)
        return;
    char key[17], hash[17], msg[EVENT_MAX];
    hex64(session_key, key);
    hex64(request_hash, hash);
    int n = snprintf(msg, sizeof msg, "cancel %s %s", key, hash);
    publish_event(st, msg, (size_t)n);
}

int mb_redis_state_stream_notice(struct mb_redis_state *st, uint64_t session_key, const char *stream_id,
                                 uint64_t seq)
{
    if (!st || st->destroying || !stream_id || !stream_id_ok(stream_id, strlen(stream_id)))
        return -EINVAL;
    char key[17], msg[EVENT_MAX];
    hex64(session_key, key);
    int n = snprintf(msg, sizeof msg, "sse %s %s %" PRIu64, key, stream_id, seq);
    return publish_event(st, msg, (size_t)n);
}

int mb_redis_state_stream_resumed(struct mb_redis_state *st, uint64_t session_key, const char *stream_id)
{
    if (!st || st->destroying || !stream_id || !stream_id_ok(stream_id, strlen(stream_id)))
        return -EINVAL;
    char key[17], msg[EVENT_MAX];
    hex64(session_key, key);
    int n = snprintf(msg, sizeof msg, "resume %s %s", key, stream_id);
    return publish_event(st, msg, (size_t)n);
}

/* ---------- catch-up ---------- */

static void catchup_page(struct mb_redis_state *st, bool levels);

static void finish_catchup(struct mb_redis_state *st)
{
    st->synced = true;
    flush_backlog(st);
}

/* One page of ZRANGEBYSCORE ... WITHSCORES: member, score pairs. */
static void apply_page(struct mb_redis_state *st, const redisReply *reply, bool levels, size_t *pairs)
{
    *pairs = reply->elements / 2;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *m = reply->element[i], *s = reply->element[i + 1];
        uint64_t key = 0, score = 0;
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING ||
            parse_hex64(m->str, m->len, &key) != 0 || parse_dec64(s->str, s->len, &score) != 0)
            continue; /* not ours: a score written in another notation, or a foreign member */
        if (!levels && st->events.session_ended)
            st->events.session_ended(st->events_data, key, score);
        else if (levels && st->events.log_level)
            st->events.log_level(st->events_data, key, score / LEVEL_SCORE_FACTOR, (int)(score % LEVEL_SCORE_FACTOR));
    }
}

static void on_catchup_page(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, bool levels)
{
    if (c->generation != st->generation || !st->ready || st->destroying)
        return; /* an answer for a link that is gone */
    size_t pairs = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        mb_warn(LOGGER, "redis: could not load the %s (%s); continuing without", levels ? "session levels" : "ended sessions",
                reply ? "unexpected answer" : "error");
    } else {
        apply_page(st, reply, levels, &pairs);
    }
    if (pairs == MB_REDIS_STATE_CATCHUP_PAGE) {
        st->catchup_offset += MB_REDIS_STATE_CATCHUP_PAGE;
        catchup_page(st, levels);
    } else if (!levels) {
        st->catchup_offset = 0;
        catchup_page(st, true);
    } else {
        finish_catchup(st);
    }
}

static void on_ended_page(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)error;
    on_catchup_page(st, c, reply, false);
}

static void on_levels_page(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)error;
    on_catchup_page(st, c, reply, true);
}

static void catchup_page(struct mb_redis_state *st, bool levels)
{
    char set[MB_REDIS_STATE_PREFIX_MAX + 32], min[32], offset[16], count[16];
    size_t slen = levels ? full_name(st, "sessions:levels", 15, set, sizeof set)
                         : full_name(st, "sessions:ended", 14, set, sizeof set);
    snprintf(min, sizeof min, "%" PRIu64, levels ? st->catchup_now * LEVEL_SCORE_FACTOR : st->catchup_now);
    snprintf(offset, sizeof offset, "%u", st->catchup_offset);
    snprintf(count, sizeof count, "%u", MB_REDIS_STATE_CATCHUP_PAGE);
    const char *argv[8] = {"ZRANGEBYSCORE", set, min, "+inf", "WITHSCORES", "LIMIT", offset, count};
    size_t lens[8] = {13, slen, strlen(min), 4, 10, 5, strlen(offset), strlen(count)};
    struct rs_cmd *c = cmd_new(st, levels ? on_levels_page : on_ended_page);
    if (!c) {
        drop_link(st, "out of memory");
        return;
    }
    send_cmd(st, c, 8, argv, lens);
}

/* Removes what expired, then loads what lives: ended sessions, then levels. */
static void start_catchup(struct mb_redis_state *st)
{
    char set[MB_REDIS_STATE_PREFIX_MAX + 32], max[40];
    st->catchup_now = (uint64_t)time(NULL);
    st->catchup_offset = 0;
    size_t slen = full_name(st, "sessions:ended", 14, set, sizeof set);
    snprintf(max, sizeof max, "(%" PRIu64, st->catchup_now);
    const char *argv[4] = {"ZREMRANGEBYSCORE", set, "-inf", max};
    size_t lens[4] = {16, slen, 4, strlen(max)};
    send_ignored(st, 4, argv, lens);
    slen = full_name(st, "sessions:levels", 15, set, sizeof set);
    snprintf(max, sizeof max, "(%" PRIu64, st->catchup_now * LEVEL_SCORE_FACTOR);
    argv[1] = set;
    lens[1] = slen;
    lens[3] = strlen(max);
    send_ignored(st, 4, argv, lens);
    catchup_page(st, false);
}

/* ---------- values and lists ---------- */

static void on_get(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)st;
    if (!error && reply->type == REDIS_REPLY_NIL)
        c->value_cb(c->data, NULL, 0, 0);
    else if (!error && reply->type == REDIS_REPLY_STRING)
        c->value_cb(c->data, reply->str, reply->len, 0);
    else
        c->value_cb(c->data, NULL, 0, error ? error : -EPROTO);
}

static bool key_ok(const void *key, size_t len)
{
    return key && len > 0 && len <= MB_REDIS_STATE_KEY_MAX;
}

int mb_redis_state_get(struct mb_redis_state *st, const void *key, size_t key_len, mb_redis_state_value_cb cb,
                       void *data)
{
    if (!st || st->destroying || !cb || !key_ok(key, key_len))
        return -EINVAL;
    char name[MB_REDIS_STATE_PREFIX_MAX + MB_REDIS_STATE_KEY_MAX + 1];
    size_t nlen = full_name(st, key, key_len, name, sizeof name);
    struct rs_cmd *c = cmd_new(st, on_get);
    if (!c)
        return -ENOMEM;
    c->user = true;
    c->value_cb = cb;
    c->data = data;
    if (!st->ready) {
        fail_later(st, c, -ENOTCONN);
        return 0;
    }
    const char *argv[2] = {"GET", name};
    size_t lens[2] = {3, nlen};
    send_cmd(st, c, 2, argv, lens);
    return 0;
}

int mb_redis_state_set(struct mb_redis_state *st, const void *key, size_t key_len, const void *value,
                       size_t value_len, uint64_t ttl_ms)
{
    if (!st || st->destroying || !key_ok(key, key_len) || (!value && value_len) || ttl_ms == 0)
        return -EINVAL;
    if (!st->ready)
        return -ENOTCONN;
    char name[MB_REDIS_STATE_PREFIX_MAX + MB_REDIS_STATE_KEY_MAX + 1], ttl[24];
    size_t nlen = full_name(st, key, key_len, name, sizeof name);
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    const char *argv[5] = {"SET", name, value ? value : "", "PX", ttl};
    size_t lens[5] = {3, nlen, value_len, 2, strlen(ttl)};
    return send_ignored(st, 5, argv, lens);
}

int mb_redis_state_list_append(struct mb_redis_state *st, const void *key, size_t key_len, const void *value,
                               size_t value_len, unsigned keep, uint64_t ttl_ms)
{
    if (!st || st->destroying || !key_ok(key, key_len) || (!value && value_len) || keep == 0 || ttl_ms == 0)
        return -EINVAL;
    if (!st->ready)
        return -ENOTCONN;
    char name[MB_REDIS_STATE_PREFIX_MAX + MB_REDIS_STATE_KEY_MAX + 1], ttl[24], start[24];
    size_t nlen = full_name(st, key, key_len, name, sizeof name);
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    snprintf(start, sizeof start, "-%u", keep);
    const char *push[3] = {"RPUSH", name, value ? value : ""};
    size_t push_lens[3] = {5, nlen, value_len};
    const char *trim[4] = {"LTRIM", name, start, "-1"};
    size_t trim_lens[4] = {5, nlen, strlen(start), 2};
    const char *expire[3] = {"PEXPIRE", name, ttl};
    size_t expire_lens[3] = {7, nlen, strlen(ttl)};
    int rc = send_ignored(st, 3, push, push_lens);
    if (!rc)
        rc = send_ignored(st, 4, trim, trim_lens);
    if (!rc)
        rc = send_ignored(st, 3, expire, expire_lens);
    return rc;
}

int mb_redis_state_expire(struct mb_redis_state *st, const void *key, size_t key_len, uint64_t ttl_ms)
{
    if (!st || st->destroying || !key_ok(key, key_len) || ttl_ms == 0)
        return -EINVAL;
    if (!st->ready)
        return -ENOTCONN;
    char name[MB_REDIS_STATE_PREFIX_MAX + MB_REDIS_STATE_KEY_MAX + 1], ttl[24];
    size_t nlen = full_name(st, key, key_len, name, sizeof name);
    snprintf(ttl, sizeof ttl, "%" PRIu64, ttl_ms);
    const char *argv[3] = {"PEXPIRE", name, ttl};
    size_t lens[3] = {7, nlen, strlen(ttl)};
    return send_ignored(st, 3, argv, lens);
}

static void on_range(struct mb_redis_state *st, struct rs_cmd *c, const redisReply *reply, int error)
{
    (void)st;
    if (!error && reply->type != REDIS_REPLY_ARRAY)
        error = -EPROTO;
    size_t n = error ? 0 : reply->elements;
    struct mb_redis_state_item *items = n ? calloc(n, sizeof *items) : NULL;
    if (n && !items)
        error = -ENOMEM;
    for (size_t i = 0; !error && i < n; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            error = -EPROTO;
            break;
        }
        items[i].value = reply->element[i]->str;
        items[i].len = reply->element[i]->len;
    }
    c->list_cb(c->data, error ? NULL : items, error ? 0 : n, error);
    free(items);
}

int mb_redis_state_list_range(struct mb_redis_state *st, const void *key, size_t key_len, long start,
                              mb_redis_state_list_cb cb, void *data)
{
    if (!st || st->destroying || !cb || !key_ok(key, key_len))
        return -EINVAL;
    char name[MB_REDIS_STATE_PREFIX_MAX + MB_REDIS_STATE_KEY_MAX + 1], from[24];
    size_t nlen = full_name(st, key, key_len, name, sizeof name);
    snprintf(from, sizeof from, "%ld", start);
    struct rs_cmd *c = cmd_new(st, on_range);
    if (!c)
        return -ENOMEM;
    c->user = true;
    c->list_cb = cb;
    c->data = data;
    if (!st->ready) {
        fail_later(st, c, -ENOTCONN);
        return 0;
    }
    const char *argv[4] = {"LRANGE", name, from, "-1"};
    size_t lens[4] = {6, nlen, strlen(from), 2};
    send_cmd(st, c, 4, argv, lens);
    return 0;
}

void mb_redis_state_forget(struct mb_redis_state *st, void *data)
{
    if (!st)
        return;
    struct cmd_queue *lists[2] = {&st->cmds, &st->failed};
    for (int i = 0; i < 2; i++) {
        struct rs_cmd *c = lists[i]->head;
        while (c) {
            struct rs_cmd *next = c->next;
            if (c->user && c->data == data)
                drop_cmd(st, c);
            c = next;
        }
    }
}

/* ---------- health, create, destroy ---------- */

void mb_redis_state_health(const struct mb_redis_state *st, struct mb_redis_state_health *out)
{
    memset(out, 0, sizeof *out);
    if (!st)
        return;
    out->connected = st->ready;
    out->synced = st->synced;
    out->since_ms = st->since_ms;
    out->reconnects = st->reconnects;
    out->errors = st->errors;
    out->backlog = st->backlog_count;
    out->backlog_dropped = st->backlog_dropped;
}

/* Fills the connection fields from the URL (common/redis_url.h). */
static int parse_url(struct mb_redis_state *st, const char *url)
{
    struct mb_redis_url u;
    if (mb_redis_url_parse(url, &u) != 0)
        return -1;
    memcpy(st->host, u.host, sizeof st->host);
    memcpy(st->user, u.user, sizeof st->user);
    memcpy(st->password, u.password, sizeof st->password);
    st->port = u.port;
    st->db = u.db;
    mb_redis_url_wipe(&u);
    return 0;
}

struct mb_redis_state *mb_redis_state_create(uv_loop_t *loop, const struct mb_redis_state_options *opts)
{
    if (!loop || !opts || !opts->url)
        return NULL;
    const char *prefix = opts->key_prefix ? opts->key_prefix : MB_REDIS_STATE_DEFAULT_PREFIX;
    size_t plen = strlen(prefix);
    if (plen >= MB_REDIS_STATE_PREFIX_MAX)
        return NULL;
    struct mb_redis_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->backlog_max = opts->backlog_max ? opts->backlog_max : MB_REDIS_STATE_DEFAULT_BACKLOG;
    st->backlog = calloc(st->backlog_max, sizeof *st->backlog);
    if (!st->backlog || parse_url(st, opts->url) != 0) {
        OPENSSL_cleanse(st->password, sizeof st->password);
        free(st->backlog);
        free(st);
        return NULL;
    }
    st->loop = loop;
    st->events = opts->events;
    st->events_data = opts->data;
    memcpy(st->prefix, prefix, plen);
    st->prefix_len = plen;
    st->timeout_ms = opts->timeout_ms ? opts->timeout_ms : MB_REDIS_STATE_DEFAULT_TIMEOUT_MS;
    st->ping_ms = opts->ping_ms ? opts->ping_ms : MB_REDIS_STATE_DEFAULT_PING_MS;
    st->backoff_ms = MB_REDIS_STATE_BACKOFF_MIN_MS;
    st->since_ms = unix_ms();
    uv_timer_t *timers[5] = {&st->retry_timer, &st->deadline_timer, &st->defer_timer, &st->ping_timer,
                             &st->connect_timer};
    for (int i = 0; i < 5; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = st;
    }
    uv_timer_start(&st->ping_timer, on_ping_tick, st->ping_ms, st->ping_ms);
    uv_unref((uv_handle_t *)&st->ping_timer); /* the liveness check alone keeps no loop alive */
    start_connect(st);
    return st;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mb_redis_state *st = h->data;
    if (--st->closes_pending == 0 && !st->gai_active)
        free(st);
}

void mb_redis_state_destroy(struct mb_redis_state *st)
{
    if (!st || st->destroying)
        return;
    st->destroying = true;
    if (st->backlog_count)
        mb_warn(LOGGER, "redis: %u session change(s) never reached it (shutting down)", st->backlog_count);
    while (st->cmds.head)
        drop_cmd(st, st->cmds.head);
    while (st->failed.head)
        drop_cmd(st, st->failed.head);
    redisAsyncContext *cmd = st->cmd, *sub = st->sub;
    st->cmd = st->sub = NULL;
    st->ready = st->synced = false;
    if (cmd) {
        cmd->data = NULL;
        redisAsyncFree(cmd);
    }
    if (sub) {
        sub->data = NULL;
        redisAsyncFree(sub);
    }
    if (st->gai_active)
        uv_cancel((uv_req_t *)&st->gai);
    OPENSSL_cleanse(st->password, sizeof st->password);
    free(st->backlog);
    st->backlog = NULL;
    st->backlog_count = 0;
    uv_timer_t *timers[5] = {&st->retry_timer, &st->deadline_timer, &st->defer_timer, &st->ping_timer,
                             &st->connect_timer};
    st->closes_pending = 5;
    for (int i = 0; i < 5; i++)
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
}

#else /* no hiredis: the client cannot be created; every instance keeps its state to itself */

struct mb_redis_state *mb_redis_state_create(uv_loop_t *loop, const struct mb_redis_state_options *opts)
{
    (void)loop, (void)opts;
    return NULL;
}

void mb_redis_state_destroy(struct mb_redis_state *st)
{
    (void)st;
}

void mb_redis_state_health(const struct mb_redis_state *st, struct mb_redis_state_health *out)
{
    (void)st;
    memset(out, 0, sizeof *out);
}

void mb_redis_state_session_ended(struct mb_redis_state *st, uint64_t session_key, uint64_t expires)
{
    (void)st, (void)session_key, (void)expires;
}

void mb_redis_state_log_level(struct mb_redis_state *st, uint64_t session_key, uint64_t expires, int level)
{
    (void)st, (void)session_key, (void)expires, (void)level;
}

void mb_redis_state_request_cancelled(struct mb_redis_state *st, uint64_t session_key, uint64_t request_hash)
{
    (void)st, (void)session_key, (void)request_hash;
}

int mb_redis_state_get(struct mb_redis_state *st, const void *key, size_t key_len, mb_redis_state_value_cb cb,
                       void *data)
{
    (void)st, (void)key, (void)key_len, (void)cb, (void)data;
    return -ENOTSUP;
}

int mb_redis_state_set(struct mb_redis_state *st, const void *key, size_t key_len, const void *value,
                       size_t value_len, uint64_t ttl_ms)
{
    (void)st, (void)key, (void)key_len, (void)value, (void)value_len, (void)ttl_ms;
    return -ENOTSUP;
}

int mb_redis_state_list_append(struct mb_redis_state *st, const void *key, size_t key_len, const void *value,
                               size_t value_len, unsigned keep, uint64_t ttl_ms)
{
    (void)st, (void)key, (void)key_len, (void)value, (void)value_len, (void)keep, (void)ttl_ms;
    return -ENOTSUP;
}

int mb_redis_state_stream_notice(struct mb_redis_state *st, uint64_t session_key, const char *stream_id,
                                 uint64_t seq)
{
    (void)st, (void)session_key, (void)stream_id, (void)seq;
    return -ENOTSUP;
}

int mb_redis_state_stream_resumed(struct mb_redis_state *st, uint64_t session_key, const char *stream_id)
{
    (void)st, (void)session_key, (void)stream_id;
    return -ENOTSUP;
}

int mb_redis_state_list_range(struct mb_redis_state *st, const void *key, size_t key_len, long start,
                              mb_redis_state_list_cb cb, void *data)
{
    (void)st, (void)key, (void)key_len, (void)start, (void)cb, (void)data;
    return -ENOTSUP;
}

int mb_redis_state_expire(struct mb_redis_state *st, const void *key, size_t key_len, uint64_t ttl_ms)
{
    (void)st, (void)key, (void)key_len, (void)ttl_ms;
    return -ENOTSUP;
}

void mb_redis_state_forget(struct mb_redis_state *st, void *data)
{
    (void)st, (void)data;
}

#endif
