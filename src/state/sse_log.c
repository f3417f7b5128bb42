/* Implementation of sse_log.h. Streams sit in a hash table by id (chained, fixed bucket count)
 * and on one list in the order they were opened or released (a release moves a stream to the
 * end), so the oldest released stream is the first released one from the head. Byte counts
 * include a fixed overhead per stream and per event, so max_total_bytes bounds the memory, not
 * only the payload. */
#include "state/sse_log.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024
#define STREAM_OVERHEAD 160u
#define EVENT_OVERHEAD (sizeof(struct mb_sse_event) + 16u)

struct mb_sse_stream {
    struct mb_sse_stream *hnext;         /* bucket chain */
    struct mb_sse_stream *prev, *next;   /* open/release order */
    uint64_t session_key;
    struct mb_sse_event *head, *tail;
    size_t bytes;                        /* event bytes with overhead */
    unsigned count;
    uint64_t last_seq;
    uint64_t expires_ms;                 /* released: when it goes */
    bool held;
    bool complete;
    char id[MB_SSE_STREAM_ID_LEN + 1];
};

struct mb_sse_log {
    uint64_t replay_ms;
    size_t max_stream_bytes, max_total_bytes;
    size_t bytes;                        /* every stream's bytes plus their overhead */
    unsigned streams;
    struct mb_sse_stream *head, *tail;
    struct mb_sse_stream *buckets[BUCKETS];
};

static size_t bucket_of(const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h % BUCKETS);
}

static void order_unlink(struct mb_sse_log *log, struct mb_sse_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        log->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        log->tail = s->prev;
    s->prev = s->next = NULL;
}

static void order_append(struct mb_sse_log *log, struct mb_sse_stream *s)
{
    s->prev = log->tail;
    s->next = NULL;
    if (log->tail)
        log->tail->next = s;
    else
        log->head = s;
    log->tail = s;
}

static void drop_oldest_event(struct mb_sse_log *log, struct mb_sse_stream *s)
{
    struct mb_sse_event *e = s->head;
    if (!e)
        return;
    s->head = e->next;
    if (!s->head)
        s->tail = NULL;
    size_t cost = e->len + EVENT_OVERHEAD;
    s->bytes -= cost;
    log->bytes -= cost;
    s->count--;
    free(e);
}

static void stream_free(struct mb_sse_log *log, struct mb_sse_stream *s)
{
    struct mb_sse_stream **pp = &log->buckets[bucket_of(s->id, MB_SSE_STREAM_ID_LEN)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    order_unlink(log, s);
    while (s->head)
        drop_oldest_event(log, s);
    log->bytes -= STREAM_OVERHEAD;
    log->streams--;
    free(s);
}

struct mb_sse_log *mb_sse_log_create(uint64_t replay_ms, size_t max_stream_bytes, size_t max_total_bytes)
{
    if (!replay_ms || !max_stream_bytes || !max_total_bytes)
        return NULL;
    struct mb_sse_log *log = calloc(1, sizeof *log);
    if (!log)
        return NULL;
    log->replay_ms = replay_ms;
    log->max_stream_bytes = max_stream_bytes;
    log->max_total_bytes = max_total_bytes;
    return log;
}

void mb_sse_log_destroy(struct mb_sse_log *log)
{
    if (!log)
        return;
    while (log->head)
        stream_free(log, log->head);
    free(log);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int mb_sse_new_stream_id(char kind, char out[MB_SSE_STREAM_ID_LEN + 1])
{
    unsigned char raw[16];
    if ((kind != MB_SSE_KIND_POST && kind != MB_SSE_KIND_GET) || RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    out[0] = kind;
    /* 16 bytes = 128 bits as 22 characters (the last one carries 2 bits). */
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 1;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return 0;
}

struct mb_sse_stream *mb_sse_log_open(struct mb_sse_log *log, char kind, uint64_t session_key)
{
    if (!log)
        return NULL;
    struct mb_sse_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (mb_sse_new_stream_id(kind, s->id) != 0) {
        free(s);
        return NULL;
    }
    s->session_key = session_key;
    s->held = true;
    size_t b = bucket_of(s->id, MB_SSE_STREAM_ID_LEN);
    s->hnext = log->buckets[b];
    log->buckets[b] = s;
    order_append(log, s);
    log->streams++;
    log->bytes += STREAM_OVERHEAD;
    return s;
}

/* Brings the log under max_total_bytes: released streams go first (oldest first, never `keep`),
 * then the oldest events of `keep`. */
static void enforce_total(struct mb_sse_log *log, struct mb_sse_stream *keep)
{
    struct mb_sse_stream *s = log->head;
    while (log->bytes > log->max_total_bytes && s) {
        struct mb_sse_stream *next = s->next;
        if (!s->held && s != keep)
            stream_free(log, s);
        s = next;
    }
    while (log->bytes > log->max_total_bytes && keep && keep->head)
        drop_oldest_event(log, keep);
}

uint64_t mb_sse_stream_append(struct mb_sse_log *log, struct mb_sse_stream *s, const char *data, size_t len,
                              uint64_t now_ms)
{
    uint64_t seq = ++s->last_seq;
    if (!s->held)
        s->expires_ms = now_ms + log->replay_ms;
    size_t cost = len + EVENT_OVERHEAD;
    if (cost > log->max_stream_bytes)
        return seq; /* too large to keep: a gap for readers */
    struct mb_sse_event *e = malloc(sizeof *e + len);
    if (!e)
        return seq;
    e->next = NULL;
    e->seq = seq;
    e->len = len;
    memcpy(e->data, data, len);
    while (s->head && s->bytes + cost > log->max_stream_bytes)
        drop_oldest_event(log, s);
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->bytes += cost;
    s->count++;
    log->bytes += cost;
    enforce_total(log, s);
    return seq;
}

void mb_sse_stream_complete(struct mb_sse_stream *s)
{
    s->complete = true;
}

void mb_sse_stream_release(struct mb_sse_log *log, struct mb_sse_stream *s, uint64_t now_ms)
{
    s->held = false;
    s->expires_ms = now_ms + log->replay_ms;
    order_unlink(log, s);
    order_append(log, s);
    enforce_total(log, NULL);
}

const char *mb_sse_stream_id(const struct mb_sse_stream *s)
{
    return s->id;
}

const struct mb_sse_event *mb_sse_stream_after(const struct mb_sse_stream *s, uint64_t seq)
{
    const struct mb_sse_event *e = s->head;
    while (e && e->seq <= seq)
        e = e->next;
    return e;
}

uint64_t mb_sse_stream_last_seq(const struct mb_sse_stream *s)
{
    return s->last_seq;
}

unsigned mb_sse_stream_count(const struct mb_sse_stream *s)
{
    return s->count;
}

bool mb_sse_stream_is_complete(const struct mb_sse_stream *s)
{
    return s->complete;
}

bool mb_sse_stream_is_held(const struct mb_sse_stream *s)
{
    return s->held;
}

struct mb_sse_stream *mb_sse_log_find(const struct mb_sse_log *log, uint64_t session_key, const char *id,
                                      size_t id_len)
{
    if (!log || !id || id_len != MB_SSE_STREAM_ID_LEN)
        return NULL;
    for (struct mb_sse_stream *s = log->buckets[bucket_of(id, id_len)]; s; s = s->hnext)
        if (s->session_key == session_key && memcmp(s->id, id, id_len) == 0)
            return s;
    return NULL;
}

void mb_sse_log_expire(struct mb_sse_log *log, uint64_t now_ms)
{
    struct mb_sse_stream *s = log ? log->head : NULL;
    while (s) {
        struct mb_sse_stream *next = s->next;
        if (!s->held && s->expires_ms <= now_ms)
            stream_free(log, s);
        s = next;
    }
}

void mb_sse_log_usage(const struct mb_sse_log *log, unsigned *streams, size_t *bytes)
{
    *streams = log ? log->streams : 0;
    *bytes = log ? log->bytes : 0;
}

size_t mb_sse_event_id(const char *stream_id, uint64_t seq, char out[MB_SSE_EVENT_ID_MAX])
{
    int n = snprintf(out, MB_SSE_EVENT_ID_MAX, "%s-%llu", stream_id, (unsigned long long)seq);
    return n > 0 ? (size_t)n : 0;
}

int mb_sse_parse_event_id(const char *text, size_t len, char stream_id[MB_SSE_STREAM_ID_LEN + 1], uint64_t *seq)
{
    if (!text || len < MB_SSE_STREAM_ID_LEN + 2 || len > MB_SSE_STREAM_ID_LEN + 1 + 20 ||
        (text[0] != MB_SSE_KIND_POST && text[0] != MB_SSE_KIND_GET) || text[MB_SSE_STREAM_ID_LEN] != '-')
        return -1;
    for (size_t i = 1; i < MB_SSE_STREAM_ID_LEN; i++)
        if (!strchr(b64url, text[i]) || text[i] == '\0')
            return -1;
    uint64_t v = 0;
    for (size_t i = MB_SSE_STREAM_ID_LEN + 1; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    memcpy(stream_id, text, MB_SSE_STREAM_ID_LEN);
    stream_id[MB_SSE_STREAM_ID_LEN] = '\0';
    *seq = v;
    return 0;
}
