/* The state several mcpbridge instances share through Redis, so that any instance can serve
 * any request of any session: ended sessions, the client's logging level, cancellations of
 * requests running elsewhere, a second-level cache (exchanged tokens, opaque encrypted bytes
 * to this module) and the SSE replay logs (lists, with notices on the events channel). Optional: without runtime.redis.url nothing here
 * runs and every instance keeps its state to itself.
 *
 * One client per worker, on the worker's libuv loop (hiredis's asynchronous API and libuv
 * adapter): never a blocking call. It holds two connections: a command connection and a
 * subscriber connection on the channel <prefix>events. Both are (re)made together, with
 * back-off (MB_REDIS_STATE_BACKOFF_MIN_MS doubling to MB_REDIS_STATE_BACKOFF_MAX_MS); the link
 * is "connected" once both answered their handshake (AUTH, SELECT) and the subscription is
 * confirmed. Every command has a deadline (timeout_ms); a command that misses it, or a PING
 * (every health_interval_ms) that does, drops the link: a server that stopped answering.
 *
 * On every (re)connect the client first removes the expired entries of the two session sets
 * (<prefix>sessions:ended and <prefix>sessions:levels) and then loads the live ones, handing
 * each to the events callbacks, so a worker that was cut off catches up; then it writes what
 * it had to keep while Redis was away (a bounded backlog: ended sessions and levels, newest
 * level per session). Callbacks may see the same event twice (their own events come back on
 * the channel, a catch-up repeats what a message said): they must be idempotent.
 *
 * Without hiredis at build time, create returns NULL. See docs/internals/shared-state.md. */
#ifndef MB_REDIS_STATE_H
#define MB_REDIS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define MB_REDIS_STATE_BACKOFF_MIN_MS 100
#define MB_REDIS_STATE_BACKOFF_MAX_MS 5000
#define MB_REDIS_STATE_PREFIX_MAX 128          /* bytes of key_prefix */
#define MB_REDIS_STATE_DEFAULT_PREFIX "mcpbridge:"
#define MB_REDIS_STATE_DEFAULT_TIMEOUT_MS 200
#define MB_REDIS_STATE_DEFAULT_BACKLOG 1024    /* session writes kept while Redis is away */
#define MB_REDIS_STATE_DEFAULT_PING_MS 2000
#define MB_REDIS_STATE_KEY_MAX 512             /* bytes of a key or channel after the prefix */
#define MB_REDIS_STATE_CATCHUP_PAGE 1000       /* set members read per catch-up command */

struct mb_redis_state;

/* What other workers and instances report on <prefix>events (and what a catch-up loads).
 * Each runs from the loop; any may be NULL. session_key is the 64-bit session hash
 * (mcp/session.h), expires unix seconds; level 0..7 (debug..emergency); request_hash the
 * 64-bit hash of the cancelled request id's JSON text. */
struct mb_redis_state_events {
    void (*session_ended)(void *data, uint64_t session_key, uint64_t expires);
    void (*log_level)(void *data, uint64_t session_key, uint64_t expires, int level);
    void (*request_cancelled)(void *data, uint64_t session_key, uint64_t request_hash);
    /* SSE replay: stream_id (NUL-terminated, 1..MB_REDIS_STATE_STREAM_ID_MAX characters of
     * [A-Za-z0-9_-]) of session_key has a new event seq in its list (see stream_notice), or a
     * client resumed it on some worker (see stream_resumed). */
    void (*stream_event)(void *data, uint64_t session_key, const char *stream_id, uint64_t seq);
    void (*stream_resumed)(void *data, uint64_t session_key, const char *stream_id);
};

#define MB_REDIS_STATE_STREAM_ID_MAX 64

struct mb_redis_state_options {
    const char *url;               /* "redis://[[user]:password@]host[:port][/db]", required */
    const char *key_prefix;        /* NULL: MB_REDIS_STATE_DEFAULT_PREFIX */
    unsigned timeout_ms;           /* per command; 0: MB_REDIS_STATE_DEFAULT_TIMEOUT_MS */
    unsigned backlog_max;          /* 0: MB_REDIS_STATE_DEFAULT_BACKLOG */
    unsigned ping_ms;              /* liveness check of a connected link; 0: MB_REDIS_STATE_DEFAULT_PING_MS */
    struct mb_redis_state_events events;
    void *data;                    /* passed to the events callbacks */
};

/* A worker's view of its link, for /readyz and /metrics. */
struct mb_redis_state_health {
    bool connected;                /* both connections ready and subscribed */
    bool synced;                   /* and the catch-up of this connection finished */
    uint64_t since_ms;             /* unix ms of the last change of connected (creation at first) */
    uint64_t reconnects;           /* times the link became connected after the first */
    uint64_t errors;               /* failed connection attempts, lost links, failed commands */
    unsigned backlog;              /* session writes waiting for Redis */
    uint64_t backlog_dropped;      /* session writes dropped because the backlog was full */
};

/* Creates the client and starts connecting. Strings are copied (the password is wiped at
 * destroy and never logged). Returns NULL on an invalid URL ("rediss://" included: TLS is not
 * supported), a prefix over MB_REDIS_STATE_PREFIX_MAX, out of memory, or without hiredis. */
struct mb_redis_state *mb_redis_state_create(uv_loop_t *loop, const struct mb_redis_state_options *opts);
/* Stops everything: pending operations are dropped without their callbacks, subscriptions
 * end, the backlog is lost (logged when not empty). The memory goes once the loop has closed
 * the timers (and a host-name lookup in flight has returned). May be called from any callback
 * of this module. NULL is ignored. */
void mb_redis_state_destroy(struct mb_redis_state *st);
/* Fills *out. st may be NULL (then all zero). */
void mb_redis_state_health(const struct mb_redis_state *st, struct mb_redis_state_health *out);

/* ---- session state ---- */

/* A session ended (DELETE): ZADD <prefix>sessions:ended expires <key hex> and PUBLISH
 * "end <key hex> <expires>". While the link is not connected (or when the write fails) the
 * write waits in the backlog and goes out after the next catch-up. */
void mb_redis_state_session_ended(struct mb_redis_state *st, uint64_t session_key, uint64_t expires);
/* A client chose a logging level (0..7): kept in <prefix>sessions:levels (score
 * expires * 8 + level) and published as "level <key hex> <expires> <level>"; backlogged like
 * ended sessions (only the newest level per session). Other levels are ignored. */
void mb_redis_state_log_level(struct mb_redis_state *st, uint64_t session_key, uint64_t expires, int level);
/* A request this worker does not hold was cancelled: PUBLISH "cancel <key hex> <hash hex>".
 * Advisory: not kept and not backlogged (a late cancellation is worthless). */
void mb_redis_state_request_cancelled(struct mb_redis_state *st, uint64_t session_key, uint64_t request_hash);

/* ---- values, lists, channels (keys are relative to the prefix) ---- */

/* error 0: value/len hold the value (valid during the callback), or value is NULL when the key
 * does not exist. Else -ENOTCONN (no link), -ETIMEDOUT, -EIO (Redis answered an error) or
 * -EPROTO (not a string); then value is NULL. Runs exactly once, always from the loop. */
typedef void (*mb_redis_state_value_cb)(void *data, const void *value, size_t len, int error);

/* One list element, valid during the callback. */
struct mb_redis_state_item {
    const void *value;
    size_t len;
};
/* error as for values; items are the list's elements from start to its end (count 0 when the
 * list does not exist). Runs exactly once, always from the loop. */
typedef void (*mb_redis_state_list_cb)(void *data, const struct mb_redis_state_item *items, size_t count,
                                       int error);

/* GET key. cb runs exactly once, from the loop (-ENOTCONN on the next iteration when there is
 * no link). Returns 0, or -EINVAL (bad arguments) / -ENOMEM, and then cb never runs. */
int mb_redis_state_get(struct mb_redis_state *st, const void *key, size_t key_len, mb_redis_state_value_cb cb,
                       void *data);
/* SET key value PX ttl_ms, without waiting for the answer (failures are counted in errors).
 * Returns 0, -ENOTCONN (no link: nothing is sent), -EINVAL or -ENOMEM. */
int mb_redis_state_set(struct mb_redis_state *st, const void *key, size_t key_len, const void *value,
                       size_t value_len, uint64_t ttl_ms);
/* Appends value to the list key and keeps its newest keep elements (RPUSH, LTRIM, PEXPIRE
 * ttl_ms), without waiting for the answers. Returns 0, -ENOTCONN, -EINVAL or -ENOMEM. */
int mb_redis_state_list_append(struct mb_redis_state *st, const void *key, size_t key_len, const void *value,
                               size_t value_len, unsigned keep, uint64_t ttl_ms);
/* PEXPIRE key ttl_ms, without waiting for the answer. Returns 0, -ENOTCONN, -EINVAL or -ENOMEM. */
int mb_redis_state_expire(struct mb_redis_state *st, const void *key, size_t key_len, uint64_t ttl_ms);
/* LRANGE key start -1 (start < 0 counts from the end). cb as for get. Returns 0, -EINVAL,
 * -ENOMEM (cb never runs then). */
int mb_redis_state_list_range(struct mb_redis_state *st, const void *key, size_t key_len, long start,
                              mb_redis_state_list_cb cb, void *data);
/* Forgets every get and list_range whose data is data: their callbacks never run. */
void mb_redis_state_forget(struct mb_redis_state *st, void *data);

/* SSE replay: PUBLISH "sse <key hex> <stream id> <seq>" (the stream's list has event seq) or
 * "resume <key hex> <stream id>" (a client resumed the stream here) on the events channel.
 * Advisory, not backlogged. Returns 0, -ENOTCONN, -EINVAL (a stream id outside the grammar of
 * stream_event) or -ENOMEM. */
int mb_redis_state_stream_notice(struct mb_redis_state *st, uint64_t session_key, const char *stream_id,
                                 uint64_t seq);
int mb_redis_state_stream_resumed(struct mb_redis_state *st, uint64_t session_key, const char *stream_id);

#endif
