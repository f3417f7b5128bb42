/* The SSE replay log of one worker: the events of each SSE stream it wrote (a POST's answer
 * stream, or a GET stream), kept for a bounded time and size, so that a client that lost the
 * connection can resume the stream with GET + Last-Event-ID (MCP Streamable HTTP,
 * "Resumability and Redelivery"). Plain memory, no loop, no locks: the transport owns one per
 * worker and passes the time in. With Redis the transport mirrors each stream there too
 * (docs/internals/shared-state.md); this log is what a reconnection to the same worker reads.
 *
 * A stream has an id made of a kind character ('p': a POST's stream, 'g': a GET stream) and
 * MB_SSE_RANDOM_CHARS base64url characters from the CSPRNG (128 bits): unguessable. Each event
 * gets the next sequence number (from 1); its SSE id is "<stream id>-<seq>". A stream belongs to
 * one session: lookups name the session, so another session's stream is "not found".
 *
 * Bounds: a stream keeps its newest events within max_stream_bytes (an event larger than that
 * is not kept at all); the log keeps at most max_total_bytes, dropping whole released streams,
 * oldest first, then the oldest events of the stream being appended to. A stream still held by
 * its writer is never freed; a released one is kept replay_ms after its release (or its last
 * event, whichever is later) and then freed by mb_sse_log_expire. */
#ifndef MB_SSE_LOG_H
#define MB_SSE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_SSE_RANDOM_CHARS 22                        /* base64url of 16 random bytes */
#define MB_SSE_STREAM_ID_LEN (1 + MB_SSE_RANDOM_CHARS) /* kind + random */
#define MB_SSE_EVENT_ID_MAX (MB_SSE_STREAM_ID_LEN + 1 + 20 + 1) /* "<id>-<seq>" and the NUL */
#define MB_SSE_KIND_POST 'p'
#define MB_SSE_KIND_GET 'g'

struct mb_sse_log;
struct mb_sse_stream;

/* One kept event: its sequence number and the message bytes (a JSON-RPC message), in order. */
struct mb_sse_event {
    struct mb_sse_event *next;
    uint64_t seq;
    size_t len;
    char data[];
};

/* Creates a log. replay_ms: how long released streams are kept (> 0); max_stream_bytes and
 * max_total_bytes bound the event bytes (> 0). NULL on bad arguments or out of memory. */
struct mb_sse_log *mb_sse_log_create(uint64_t replay_ms, size_t max_stream_bytes, size_t max_total_bytes);
/* Frees the log and every stream in it (held ones too: their writers must be gone). NULL is
 * ignored. */
void mb_sse_log_destroy(struct mb_sse_log *log);

/* Opens a new stream of kind (MB_SSE_KIND_POST or _GET) for session_key, held by the caller
 * (its writer) until mb_sse_stream_release. NULL on a bad kind, when the random generator
 * fails, or out of memory. */
struct mb_sse_stream *mb_sse_log_open(struct mb_sse_log *log, char kind, uint64_t session_key);
/* Appends one event (data copied) and returns its sequence number. The number is consumed even
 * when the event could not be kept (larger than max_stream_bytes, or out of memory): a reader
 * then sees a gap. now_ms: a monotonic clock in milliseconds. */
uint64_t mb_sse_stream_append(struct mb_sse_log *log, struct mb_sse_stream *s, const char *data, size_t len,
                              uint64_t now_ms);
/* Marks the stream complete: every message it will carry has been appended. */
void mb_sse_stream_complete(struct mb_sse_stream *s);
/* The writer lets go: the stream is kept replay_ms from now, then freed by mb_sse_log_expire.
 * The caller must not use s afterwards (look it up again). */
void mb_sse_stream_release(struct mb_sse_log *log, struct mb_sse_stream *s, uint64_t now_ms);

/* The stream id (NUL-terminated, MB_SSE_STREAM_ID_LEN characters). */
const char *mb_sse_stream_id(const struct mb_sse_stream *s);
/* The first kept event with a sequence number above seq, or NULL; follow ->next for the rest. */
const struct mb_sse_event *mb_sse_stream_after(const struct mb_sse_stream *s, uint64_t seq);
/* The newest sequence number given out (0 before the first event). */
uint64_t mb_sse_stream_last_seq(const struct mb_sse_stream *s);
/* Events kept now. */
unsigned mb_sse_stream_count(const struct mb_sse_stream *s);
bool mb_sse_stream_is_complete(const struct mb_sse_stream *s);
/* Whether its writer still holds it. */
bool mb_sse_stream_is_held(const struct mb_sse_stream *s);

/* The stream with this id (id_len bytes) of this session, or NULL (unknown, expired, or
 * another session's). */
struct mb_sse_stream *mb_sse_log_find(const struct mb_sse_log *log, uint64_t session_key, const char *id,
                                      size_t id_len);
/* Frees the released streams whose time is over. */
void mb_sse_log_expire(struct mb_sse_log *log, uint64_t now_ms);
/* Streams and event bytes kept now. */
void mb_sse_log_usage(const struct mb_sse_log *log, unsigned *streams, size_t *bytes);

/* Makes a fresh stream id of kind (MB_SSE_KIND_POST or _GET) into out, as mb_sse_log_open does,
 * for a stream that keeps no events. 0, or -1 on a bad kind or when the random generator fails. */
int mb_sse_new_stream_id(char kind, char out[MB_SSE_STREAM_ID_LEN + 1]);
/* Writes "<stream id>-<seq>" into out (MB_SSE_EVENT_ID_MAX bytes); returns its length. */
size_t mb_sse_event_id(const char *stream_id, uint64_t seq, char out[MB_SSE_EVENT_ID_MAX]);
/* Parses a Last-Event-ID: 0 with the stream id (copied into stream_id, NUL-terminated) and the
 * sequence number, or -1 when it is not an id this server could have made. */
int mb_sse_parse_event_id(const char *text, size_t len, char stream_id[MB_SSE_STREAM_ID_LEN + 1], uint64_t *seq);

#endif
