/* Per-tool guard statistics in shared memory (contract in guard_stats.h). Open addressing on
 * a 64-bit FNV-1a hash of the tool name, linear probing over at most PROBE slots; a slot is
 * claimed by CAS on its key, then its name is written and `ready` set (release), so readers
 * never see a half-written name. The recent-calls ring is a bitmap updated with atomic
 * fetch_or / fetch_and; its position comes from the slot's own call counter. */
#include "guard/guard_stats.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define PROBE 32
#define WORDS (MB_GUARD_STATS_WINDOW_MAX / 64)

struct slot {
    _Atomic uint64_t key;     /* 0 = free */
    _Atomic uint32_t ready;   /* name written */
    _Atomic uint32_t flagged; /* needs pagination */
    char name[MB_GUARD_STATS_NAME_MAX];
    _Atomic uint64_t calls, near, trimmed, blocked, warned, max_bytes;
    _Atomic uint64_t ring[WORDS];
};

struct mb_guard_stats {
    size_t mapped;            /* bytes mapped, for munmap */
    size_t mask;              /* slot count - 1 */
    _Atomic uint64_t dropped;
    struct slot slots[];
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

struct mb_guard_stats *mb_guard_stats_create(size_t slot_count)
{
    size_t n = 64;
    while (n < slot_count && n < ((size_t)1 << 20))
        n <<= 1;
    size_t bytes = sizeof(struct mb_guard_stats) + n * sizeof(struct slot);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct mb_guard_stats *st = p;  /* anonymous mappings are zero-filled */
    st->mapped = bytes;
    st->mask = n - 1;
    return st;
}

void mb_guard_stats_destroy(struct mb_guard_stats *st)
{
    if (st)
        munmap(st, st->mapped);
}

static bool same_name(const struct slot *s, const char *tool)
{
    if (!atomic_load_explicit(&s->ready, memory_order_acquire))
        return false;
    return strncmp(s->name, tool, MB_GUARD_STATS_NAME_MAX - 1) == 0;
}

/* The slot of tool; claims one when create is set. NULL when absent (or the probe is full). */
static struct slot *find(const struct mb_guard_stats *cst, const char *tool, bool create)
{
    struct mb_guard_stats *st = (struct mb_guard_stats *)cst;
    uint64_t h = name_hash(tool);
    for (size_t i = 0; i < PROBE && i <= st->mask; i++) {
        struct slot *s = &st->slots[(h + i) & st->mask];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == 0) {
            if (!create)
                return NULL;
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&s->key, &expected, h)) {
                size_t n = strlen(tool);
                if (n > MB_GUARD_STATS_NAME_MAX - 1)
                    n = MB_GUARD_STATS_NAME_MAX - 1;
                memcpy(s->name, tool, n);
                s->name[n] = '\0';
                atomic_store_explicit(&s->ready, 1, memory_order_release);
                return s;
            }
            k = expected;  /* another worker claimed it first: check whose it is */
        }
        if (k == h) {
            /* Claimed for this hash: its name is being written (a few instructions after the CAS).
             * Wait for it, yielding the CPU to the writer; never claim another slot meanwhile, or
             * the same tool would end up counted in two. A claimer that died between CAS and
             * name (never seen) leaves the call uncounted (dropped), not duplicated. */
            for (int spin = 0; spin < 100000 && !atomic_load_explicit(&s->ready, memory_order_acquire); spin++)
                sched_yield();
            if (!atomic_load_explicit(&s->ready, memory_order_acquire))
                return NULL;
            if (same_name(s, tool))
                return s;
        }
    }
    return NULL;
}

static unsigned clamp_window(unsigned window)
{
    return window < 1 ? 1 : window > MB_GUARD_STATS_WINDOW_MAX ? MB_GUARD_STATS_WINDOW_MAX : window;
}

/* Set bits among the first window bits of the ring, and calls in the window. */
static unsigned recent_near(const struct slot *s, unsigned window)
{
    unsigned count = 0;
    for (unsigned w = 0; w * 64 < window; w++) {
        uint64_t bits = atomic_load_explicit(&s->ring[w], memory_order_relaxed);
        unsigned valid = window - w * 64;
        if (valid < 64)
            bits &= (1ull << valid) - 1;
        count += (unsigned)__builtin_popcountll(bits);
    }
    return count;
}

int mb_guard_stats_record(struct mb_guard_stats *st, const char *tool, const struct mb_guard_outcome *o,
                          unsigned window, double ratio)
{
    if (!st || !tool || !o)
        return 0;
    struct slot *s = find(st, tool, true);
    if (!s) {
        atomic_fetch_add_explicit(&st->dropped, 1, memory_order_relaxed);
        return 0;
    }
    window = clamp_window(window);
    uint64_t seq = atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
    if (o->near)
        atomic_fetch_add_explicit(&s->near, 1, memory_order_relaxed);
    if (o->trimmed)
        atomic_fetch_add_explicit(&s->trimmed, 1, memory_order_relaxed);
    if (o->blocked)
        atomic_fetch_add_explicit(&s->blocked, 1, memory_order_relaxed);
    if (o->warned)
        atomic_fetch_add_explicit(&s->warned, 1, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&s->max_bytes, memory_order_relaxed);
    while (o->bytes > max &&
           !atomic_compare_exchange_weak_explicit(&s->max_bytes, &max, o->bytes, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    unsigned pos = (unsigned)(seq % window);
    uint64_t bit = 1ull << (pos % 64);
    if (o->near)
        atomic_fetch_or_explicit(&s->ring[pos / 64], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&s->ring[pos / 64], ~bit, memory_order_relaxed);

    if (!(ratio > 0.0))
        ratio = 0.5;
    if (ratio > 1.0)
        ratio = 1.0;
    unsigned threshold = (unsigned)(ratio * window + 0.999999);
    if (threshold < 1)
        threshold = 1;
    unsigned count = recent_near(s, window);
    uint32_t expected;
    if (count >= threshold) {
        expected = 0;
        if (atomic_compare_exchange_strong(&s->flagged, &expected, 1))
            return 1;
    } else if (count < (threshold + 1) / 2) {
        expected = 1;
        if (atomic_compare_exchange_strong(&s->flagged, &expected, 0))
            return -1;
    }
    return 0;
}

static void snapshot(const struct slot *s, unsigned window, struct mb_guard_tool_stats *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->name, s->name, sizeof out->name);
    out->name[sizeof out->name - 1] = '\0';
    out->calls = atomic_load_explicit(&s->calls, memory_order_relaxed);
    out->near = atomic_load_explicit(&s->near, memory_order_relaxed);
    out->trimmed = atomic_load_explicit(&s->trimmed, memory_order_relaxed);
    out->blocked = atomic_load_explicit(&s->blocked, memory_order_relaxed);
    out->warned = atomic_load_explicit(&s->warned, memory_order_relaxed);
    out->max_bytes = atomic_load_explicit(&s->max_bytes, memory_order_relaxed);
    window = clamp_window(window);
    out->recent_near = recent_near(s, window);
    out->recent_calls = out->calls < window ? (unsigned)out->calls : window;
    out->needs_pagination = atomic_load_explicit(&s->flagged, memory_order_relaxed) != 0;
}

bool mb_guard_stats_get(const struct mb_guard_stats *st, const char *tool, unsigned window,
                        struct mb_guard_tool_stats *out)
{
    const struct slot *s = st && tool ? find(st, tool, false) : NULL;
    if (!s)
        return false;
    snapshot(s, window, out);
    return true;
}

void mb_guard_stats_foreach(const struct mb_guard_stats *st, unsigned window,
                            void (*cb)(void *data, const struct mb_guard_tool_stats *ts), void *data)
{
    if (!st)
        return;
    for (size_t i = 0; i <= st->mask; i++) {
        const struct slot *s = &st->slots[i];
        if (!atomic_load_explicit(&s->ready, memory_order_acquire))
            continue;
        struct mb_guard_tool_stats ts;
        snapshot(s, window, &ts);
        cb(data, &ts);
    }
}

uint64_t mb_guard_stats_dropped(const struct mb_guard_stats *st)
{
    return st ? atomic_load_explicit(&((struct mb_guard_stats *)st)->dropped, memory_order_relaxed) : 0;
}
