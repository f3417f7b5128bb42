/* Implementation of ratelimit.h: GCRA over one 64-bit word per key in a shared, lock-free
 * open-addressing table. A slot is {key hash, TAT}; key 0 means empty; a claimed slot never
 * becomes empty again, it can only change owner (when its bucket is idle and full), so a
 * lookup may stop at the first empty slot of its probe window. */
#include "limits/ratelimit.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
/* Longest emission interval or tolerance we compute with (about 36 years): keeps every sum
 * below 2^63 for any clock value below 2^62. */
#define HORIZON_NS ((uint64_t)1 << 60)
/* A slot changes owner only when its bucket has been full for this long. */
#define IDLE_GRACE_NS NS_PER_S
#define OVERFLOW_KINDS 3

struct rl_slot {
    _Atomic uint64_t key;   /* 0 = empty; else the key's hash (never 0) */
    _Atomic uint64_t tat;   /* theoretical arrival time, ns; 0 = never written */
};

struct mb_ratelimit {
    size_t mapped_bytes;
    size_t mask;
    uint64_t sip_k0, sip_k1;                    /* drawn before fork: every worker agrees */
    _Atomic uint64_t overflow[OVERFLOW_KINDS];  /* TAT of each kind's overflow bucket */
    struct rl_slot slots[];
};

/* --- SipHash-2-4 (Aumasson, Bernstein), 64-bit output --- */

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                                  \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                                     \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                                     \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                                  \
    } while (0)

static uint64_t siphash(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = 0;
        for (int b = 0; b < 8; b++)
            m |= (uint64_t)in[i + b] << (8 * b);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t b = 0; b < (len & 7); b++)
        last |= (uint64_t)in[full + b] << (8 * b);
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t mb_ratelimit_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

struct mb_ratelimit *mb_ratelimit_create(size_t slot_count)
{
    size_t n = 16;
    while (n < slot_count && n < ((size_t)1 << 24))
        n <<= 1;
    size_t bytes = sizeof(struct mb_ratelimit) + n * sizeof(struct rl_slot);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct mb_ratelimit *rl = p; /* anonymous mappings are zero-filled: every slot empty */
    rl->mapped_bytes = bytes;
    rl->mask = n - 1;
    uint64_t k[2];
    if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k) {
        /* Without randomness the keys are still hashed, only predictably. */
        k[0] = mb_ratelimit_now_ns() ^ 0x9e3779b97f4a7c15ull;
        k[1] = (uint64_t)(uintptr_t)p ^ 0xc2b2ae3d27d4eb4full;
    }
    rl->sip_k0 = k[0];
    rl->sip_k1 = k[1];
    return rl;
}

void mb_ratelimit_destroy(struct mb_ratelimit *rl)
{
    if (rl)
        munmap(rl, rl->mapped_bytes);
}

size_t mb_ratelimit_capacity(const struct mb_ratelimit *rl)
{
    return rl ? rl->mask + 1 : 0;
}

size_t mb_ratelimit_used(const struct mb_ratelimit *rl)
{
    size_t used = 0;
    if (rl)
        for (size_t i = 0; i <= rl->mask; i++)
            used += atomic_load_explicit(&rl->slots[i].key, memory_order_relaxed) != 0;
    return used;
}

static uint64_t ceil_ms(uint64_t ns)
{
    return ns / NS_PER_MS + (ns % NS_PER_MS != 0);
}

/* The GCRA step on one word. Allowed when the new TAT, max(tat, now) + T, is at most now + tau
 * with tau = burst * T: the bucket then had at least one whole token. A denial writes nothing. */
static void gcra(_Atomic uint64_t *word, uint64_t interval, uint64_t tau, unsigned burst,
                 uint64_t now, struct mb_ratelimit_decision *out)
{
    uint64_t tat = atomic_load(word);
    for (;;) {
        uint64_t base = tat > now ? tat : now;
        uint64_t next = base + interval;
        if (next > now + tau) {
            out->allowed = false;
            out->remaining = 0;
            out->retry_after_ms = ceil_ms(next - tau - now);
            out->reset_ms = ceil_ms(base - now);
            return;
        }
        if (atomic_compare_exchange_weak(word, &tat, next)) {
            uint64_t left = (now + tau - next) / interval;
            out->allowed = true;
            out->remaining = left > burst ? burst : (uint32_t)left;
            out->retry_after_ms = 0;
            out->reset_ms = ceil_ms(next - now);
            return;
        }
        /* tat now holds the value that won the race: recompute from it. */
    }
}

static unsigned overflow_kind(const void *key, size_t key_len)
{
    if (key_len == 0)
        return 2;
    char c = *(const char *)key;
    return c == 'c' ? 0 : c == 's' ? 1 : 2;
}

/* Finds or claims the slot of hash h; NULL when the probe window holds only live buckets of
 * other keys. */
static struct rl_slot *find_slot(struct mb_ratelimit *rl, uint64_t h, uint64_t now)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        struct rl_slot *idle = NULL;
        uint64_t idle_key = 0;
        size_t window = rl->mask + 1 < MB_RATELIMIT_PROBE ? rl->mask + 1 : MB_RATELIMIT_PROBE;
        bool raced = false;
        for (size_t i = 0; i < window; i++) {
            struct rl_slot *s = &rl->slots[(h + i) & rl->mask];
            uint64_t k = atomic_load(&s->key);
            if (k == h)
                return s;
            if (k == 0) {
                if (atomic_compare_exchange_strong(&s->key, &k, h) || k == h)
                    return s;
                raced = true; /* another key took it: look at the window again */
                break;
            }
            if (!idle) {
                uint64_t tat = atomic_load(&s->tat);
                /* tat 0: claimed, first take not yet published; never taken over. */
                if (tat != 0 && tat + IDLE_GRACE_NS <= now) {
                    idle = s;
                    idle_key = k;
                }
            }
        }
        if (raced)
            continue;
        if (!idle)
            return NULL;
        /* The idle bucket is full, which is also the state of a fresh one: the new owner
         * simply starts from its TAT (in the past, so max(tat, now) = now). */
        if (atomic_compare_exchange_strong(&idle->key, &idle_key, h))
            return idle;
    }
    return NULL;
}

int mb_ratelimit_take(struct mb_ratelimit *rl, const void *key, size_t key_len, double rate_per_s,
                      unsigned burst, uint64_t now_ns, struct mb_ratelimit_decision *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->limit = burst;
    if (!rl || (!key && key_len > 0) || burst == 0 || !isfinite(rate_per_s) || rate_per_s <= 0)
        return -EINVAL;
    if (now_ns >= HORIZON_NS * 4)
        return -EINVAL;
    /* Emission interval T and tolerance tau = burst * T <= HORIZON_NS: a rate slower than burst
     * tokens per HORIZON_NS (36 years) is treated as exactly that. */
    double t = (double)NS_PER_S / rate_per_s;
    uint64_t max_interval = HORIZON_NS / burst;
    uint64_t interval = t >= (double)max_interval ? max_interval : (uint64_t)llround(t);
    if (interval == 0)
        interval = 1;
    uint64_t tau = interval * burst;

    uint64_t h = siphash(rl->sip_k0, rl->sip_k1, key, key_len);
    if (h == 0)
        h = 1;
    struct rl_slot *s = find_slot(rl, h, now_ns);
    if (s) {
        gcra(&s->tat, interval, tau, burst, now_ns, out);
    } else {
        gcra(&rl->overflow[overflow_kind(key, key_len)], interval, tau, burst, now_ns, out);
        out->overflow = true;
    }
    return 0;
}

static size_t put_id(char *out, size_t o, const char *id, size_t len)
{
    if (len <= 256) {
        memcpy(out + o, id, len);
        return o + len;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t h = siphash(0x6d6270726c6b6579ull, 0x6c6f6e6769646b79ull, (const uint8_t *)id, len);
    out[o++] = '#';
    for (int i = 15; i >= 0; i--)
        out[o++] = hex[(h >> (4 * i)) & 15];
    return o;
}

enum mb_ratelimit_kind mb_ratelimit_key(bool global, const char *client_id, size_t client_len,
                                        const char *session_id, size_t session_len,
                                        char out[MB_RATELIMIT_KEY_MAX], size_t *out_len)
{
    if (!global && client_id && client_len > 0) {
        out[0] = 'c';
        out[1] = ':';
        *out_len = put_id(out, 2, client_id, client_len);
        return MB_RATELIMIT_CLIENT;
    }
    if (!global && session_id && session_len > 0) {
        out[0] = 's';
        out[1] = ':';
        *out_len = put_id(out, 2, session_id, session_len);
        return MB_RATELIMIT_SESSION;
    }
    out[0] = 'g';
    *out_len = 1;
    return MB_RATELIMIT_GLOBAL;
}
