/* Implementation of circuit.h: a fixed array of breakers found by hash and name (linear scan of
 * at most max_hosts 64-bit hashes), each with MB_CIRCUIT_BUCKETS counters tagged by the number of
 * the time slice they count, so a stale bucket is recognised and reset when reused. */
#include "limits/circuit.h"

#include <stdlib.h>
#include <string.h>

/* How long a caller is told to wait while the probe is in flight (ms). */
#define PROBE_RETRY_MS 1000

struct cb_bucket {
    uint64_t slice;          /* now_ms / slice_ms of what it counts; valid when in the window */
    uint32_t requests;
    uint32_t errors;
};

struct cb_host {
    uint64_t hash;           /* 0 = free entry */
    uint64_t last_used;      /* for eviction */
    uint64_t opened_at;      /* OPEN: when it opened */
    uint64_t probe_at;       /* HALF_OPEN: when the probe was let through */
    enum mb_circuit_state state;
    bool probe_in_flight;
    size_t name_len;
    char name[MB_CIRCUIT_HOST_MAX];
    struct cb_bucket buckets[MB_CIRCUIT_BUCKETS];
};

struct mb_circuit_set {
    struct mb_circuit_options opts;
    uint64_t slice_ms;
    uint64_t open_ms;
    size_t count;
    struct cb_host hosts[];
};

void mb_circuit_options_default(struct mb_circuit_options *opts)
{
    opts->error_threshold = 0.5;
    opts->window_seconds = 60;
    opts->min_requests = 10;
    opts->open_seconds = 30;
    opts->max_hosts = 256;
}

const char *mb_circuit_state_name(enum mb_circuit_state state)
{
    switch (state) {
    case MB_CIRCUIT_OPEN:
        return "open";
    case MB_CIRCUIT_HALF_OPEN:
        return "half_open";
    default:
        return "closed";
    }
}

struct mb_circuit_set *mb_circuit_create(const struct mb_circuit_options *opts)
{
    struct mb_circuit_options o;
    if (opts)
        o = *opts;
    else
        mb_circuit_options_default(&o);
    if (!(o.error_threshold > 0 && o.error_threshold <= 1) || o.window_seconds == 0 ||
        o.window_seconds > 86400 || o.min_requests == 0 || o.open_seconds == 0 ||
        o.open_seconds > 86400 || o.max_hosts == 0 || o.max_hosts > 65536)
        return NULL;
    struct mb_circuit_set *set = calloc(1, sizeof *set + o.max_hosts * sizeof(struct cb_host));
    if (!set)
        return NULL;
    set->opts = o;
    set->slice_ms = (uint64_t)o.window_seconds * 1000 / MB_CIRCUIT_BUCKETS;
    set->open_ms = (uint64_t)o.open_seconds * 1000;
    return set;
}

void mb_circuit_destroy(struct mb_circuit_set *set)
{
    free(set);
}

size_t mb_circuit_count(const struct mb_circuit_set *set)
{
    return set ? set->count : 0;
}

static size_t name_len(const char *host)
{
    return strnlen(host, MB_CIRCUIT_HOST_MAX);
}

static uint64_t host_hash(const char *host, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: host names come from configuration */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)host[i];
        h *= 0x100000001b3ull;
    }
    return h ? h : 1;
}

static struct cb_host *find(const struct mb_circuit_set *set, const char *host, size_t len, uint64_t h)
{
    for (size_t i = 0; i < set->opts.max_hosts; i++) {
        const struct cb_host *e = &set->hosts[i];
        if (e->hash == h && e->name_len == len && memcmp(e->name, host, len) == 0)
            return (struct cb_host *)e;
    }
    return NULL;
}

/* Finds the breaker of host or makes one (closed, empty), evicting the least recently used
 * closed breaker when the set is full. NULL when every breaker is open or half-open. */
static struct cb_host *lookup(struct mb_circuit_set *set, const char *host, uint64_t now_ms)
{
    size_t len = name_len(host);
    uint64_t h = host_hash(host, len);
    struct cb_host *e = find(set, host, len, h);
    if (e)
        return e;
    struct cb_host *victim = NULL;
    for (size_t i = 0; i < set->opts.max_hosts; i++) {
        struct cb_host *c = &set->hosts[i];
        if (c->hash == 0) {
            victim = c;
            set->count++;
            break;
        }
        if (c->state == MB_CIRCUIT_CLOSED && (!victim || c->last_used < victim->last_used))
            victim = c;
    }
    if (!victim)
        return NULL;
    memset(victim, 0, sizeof *victim);
    victim->hash = h;
    victim->name_len = len;
    memcpy(victim->name, host, len);
    victim->last_used = now_ms;
    return victim;
}

static void reset_counts(struct cb_host *e)
{
    memset(e->buckets, 0, sizeof e->buckets);
}

static bool in_window(const struct cb_bucket *b, uint64_t slice)
{
    return (b->requests > 0) && b->slice <= slice && slice - b->slice < MB_CIRCUIT_BUCKETS;
}

bool mb_circuit_allow(struct mb_circuit_set *set, const char *host, uint64_t now_ms,
                      uint64_t *retry_after_ms)
{
    if (retry_after_ms)
        *retry_after_ms = 0;
    if (!set || !host || !*host)
        return true;
    struct cb_host *e = lookup(set, host, now_ms);
    if (!e)
        return true;
    e->last_used = now_ms;
    uint64_t wait = 0;
    switch (e->state) {
    case MB_CIRCUIT_CLOSED:
        return true;
    case MB_CIRCUIT_OPEN: {
        uint64_t elapsed = now_ms > e->opened_at ? now_ms - e->opened_at : 0;
        if (elapsed >= set->open_ms) {
            e->state = MB_CIRCUIT_HALF_OPEN;
            e->probe_in_flight = true;
            e->probe_at = now_ms;
            return true;
        }
        wait = set->open_ms - elapsed;
        break;
    }
    case MB_CIRCUIT_HALF_OPEN: {
        uint64_t elapsed = now_ms > e->probe_at ? now_ms - e->probe_at : 0;
        if (!e->probe_in_flight || elapsed >= set->open_ms) {
            e->probe_in_flight = true; /* a new probe: the last one was never reported */
            e->probe_at = now_ms;
            return true;
        }
        wait = set->open_ms - elapsed;
        if (wait > PROBE_RETRY_MS)
            wait = PROBE_RETRY_MS;
        break;
    }
    }
    if (retry_after_ms)
        *retry_after_ms = wait ? wait : 1;
    return false;
}

void mb_circuit_record(struct mb_circuit_set *set, const char *host, bool ok, uint64_t now_ms)
{
    if (!set || !host || !*host)
        return;
    struct cb_host *e = lookup(set, host, now_ms);
    if (!e)
        return;
    e->last_used = now_ms;
    switch (e->state) {
    case MB_CIRCUIT_OPEN:
        return; /* a call that started before the breaker opened */
    case MB_CIRCUIT_HALF_OPEN:
        e->probe_in_flight = false;
        if (ok) {
            e->state = MB_CIRCUIT_CLOSED;
            reset_counts(e);
        } else {
            e->state = MB_CIRCUIT_OPEN;
            e->opened_at = now_ms;
        }
        return;
    case MB_CIRCUIT_CLOSED:
        break;
    }
    uint64_t slice = now_ms / set->slice_ms;
    struct cb_bucket *b = &e->buckets[slice % MB_CIRCUIT_BUCKETS];
    if (b->slice != slice) {
        b->slice = slice;
        b->requests = 0;
        b->errors = 0;
    }
    if (b->requests < UINT32_MAX) {
        b->requests++;
        b->errors += !ok;
    }
    uint64_t requests = 0, errors = 0;
    for (size_t i = 0; i < MB_CIRCUIT_BUCKETS; i++) {
        if (in_window(&e->buckets[i], slice)) {
            requests += e->buckets[i].requests;
            errors += e->buckets[i].errors;
        }
    }
    if (requests >= set->opts.min_requests &&
        (double)errors >= set->opts.error_threshold * (double)requests) {
        e->state = MB_CIRCUIT_OPEN;
        e->opened_at = now_ms;
        e->probe_in_flight = false;
        reset_counts(e);
    }
}

enum mb_circuit_state mb_circuit_state(const struct mb_circuit_set *set, const char *host)
{
    if (!set || !host || !*host)
        return MB_CIRCUIT_CLOSED;
    size_t len = name_len(host);
    const struct cb_host *e = find(set, host, len, host_hash(host, len));
    return e ? e->state : MB_CIRCUIT_CLOSED;
}
