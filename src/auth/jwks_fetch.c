/* Implementation of jwks_fetch.h. The shared region is one anonymous MAP_SHARED mapping per
 * jwks_uri: a header of lock-free 64-bit atomics followed by the document bytes. Writers (only
 * the lease holder, after a good fetch) take the seqlock by moving seq from even to odd with a
 * CAS, copy, bump the generation when the bytes differ, and make seq even again; readers copy into
 * a scratch buffer and keep the copy only when seq was even and unchanged around it. The lease is
 * one word, owner id << 40 | expiry in monotonic milliseconds (CLOCK_MONOTONIC is the same clock
 * in every process), taken with a CAS when free or expired and released with a CAS from our own
 * word, so a lease that expired and was taken over is never released by its old holder. Each
 * source runs everything from one uv_timer (tick): copy a new generation, start a fetch when one
 * is due and the lease is ours, settle waits, re-arm for the next deadline. */
#include "auth/jwks_fetch.h"

#include "common/log.h"
#include "upstream/upstream.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define JW_DEFAULT_CACHE_SECONDS 300u
#define JW_DEFAULT_MIN_REFRESH_MS 30000u
#define JW_DEFAULT_TIMEOUT_MS 5000u
#define JW_DEFAULT_RETRY_MIN_MS 1000u
#define JW_DEFAULT_RETRY_MAX_MS 60000u
#define JW_POLL_MS 50u              /* looking at the region while another worker fetches */
#define JW_LEASE_MARGIN_MS 2000u    /* lease = fetch timeout + this */
#define JW_STALE_WRITE_MS 2000u     /* a write this old with seq still odd: its writer died */
#define JW_READ_TRIES 64
#define JW_OWNER_SHIFT 40
#define JW_TIME_MASK ((UINT64_C(1) << JW_OWNER_SHIFT) - 1)
#define JW_LOG_URI_MAX 200

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "shared memory needs lock-free 64-bit atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "shared memory needs lock-free 32-bit atomics");

/* Lives in the mapping; every field but the constants is an atomic. */
struct mb_jwks_shared {
    size_t map_len;
    size_t max_bytes;
    _Atomic uint64_t seq;               /* seqlock over len, generation and bytes: odd = writing */
    _Atomic uint64_t write_started_ms;
    _Atomic uint64_t generation;        /* 0 = no document yet */
    _Atomic uint64_t len;
    _Atomic uint64_t fetched_at_ms;     /* last good fetch (changed or not); 0 = never */
    _Atomic uint64_t attempt_started_ms;
    _Atomic uint64_t attempts;          /* fetch attempts completed, good or not */
    _Atomic uint64_t lease;             /* 0 = free, else owner << 40 | expiry */
    _Atomic uint64_t forced_at_ms;      /* last unknown-kid refresh granted */
    _Atomic uint64_t forced_done_ms;    /* when an attempt after that grant completed */
    _Atomic uint64_t next_attempt_ms;   /* back-off: no fetch before this; 0 = any time */
    _Atomic uint64_t fetches;           /* fetches started by anyone */
    _Atomic uint32_t failures;          /* consecutive failed attempts */
    _Atomic uint32_t next_owner;
    char uri[MB_JWKS_URI_MAX + 1];
    char bytes[];
};

enum wait_kind { WAIT_READY, WAIT_REFRESHED };

struct wait_list {
    struct mb_jwks_wait *head;
};

struct mb_jwks_wait {
    struct mb_jwks_source *src;
    struct wait_list *list;             /* the list it is on */
    struct mb_jwks_wait *prev, *next;
    enum wait_kind kind;
    uint64_t deadline_ms;
    uint64_t attempts_at_start;
    uint64_t gen_at_start;
    int status;                         /* set when moved to the firing list */
    mb_jwks_wait_cb cb;
    void *data;
};

struct mb_jwks_source {
    uv_loop_t *loop;
    struct mb_upstream *up;
    struct mb_jwks_shared *sh;
    struct mb_jwks_options opts;
    uv_timer_t timer;
    uint32_t owner;                     /* our lease owner id, unique on the region */
    uint64_t lease;                     /* our lease word while we hold it, else 0 */
    struct mb_upstream_call *call;      /* our fetch in flight */
    char *doc;                          /* our copy of the newest generation */
    size_t doc_len, doc_cap;
    uint64_t doc_gen;
    char *scratch;                      /* seqlock reads land here first */
    size_t scratch_cap;
    uint64_t refresh_after_ms;          /* this cycle's refresh age, jitter included */
    bool forced;                        /* an unknown-kid refresh we were granted is due */
    uint64_t forced_at;
    bool change_pending;                /* on_change is due */
    struct wait_list waits;
    struct wait_list firing;            /* settled waits whose callbacks are being run */
    uint64_t rng;
    struct mb_jwks_stats stats;
    unsigned depth;                     /* > 0 while our callbacks are on the stack */
    bool destroy_requested;
    bool closed;
    char log_uri[JW_LOG_URI_MAX + 1];
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1u;  /* never 0 */
}

/* xorshift64*: jitter only, seeded per source from the CSPRNG so forked workers differ. */
static uint64_t rng_next(struct mb_jwks_source *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * UINT64_C(2685821657736338717);
}

static uint64_t rng_below(struct mb_jwks_source *s, uint64_t n)
{
    return n ? rng_next(s) % n : 0;
}

/* scheme://host[:port]/path: no user info, query or fragment, in logs. */
static void redact_uri(const char *uri, char *out, size_t cap)
{
    const char *p = strstr(uri, "://");
    size_t o = 0;
    const char *host = p ? p + 3 : uri;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (p) {
        size_t n = (size_t)(host - uri);
        if (n >= cap)
            n = cap - 1;
        memcpy(out, uri, n);
        o = n;
    }
    if (at)
        host = at + 1;
    size_t rest = strcspn(host, "?#");
    if (rest > cap - 1 - o)
        rest = cap - 1 - o;
    memcpy(out + o, host, rest);
    out[o + rest] = '\0';
}

/* --- the shared region --------------------------------------------------------------------- */

struct mb_jwks_shared *mb_jwks_shared_create(const char *uri, size_t max_bytes)
{
    if (!uri || !uri[0] || strlen(uri) > MB_JWKS_URI_MAX)
        return NULL;
    if (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)
        return NULL;
    if (!max_bytes)
        max_bytes = MB_JWKS_DEFAULT_MAX_BYTES;
    if (max_bytes > (size_t)64 * 1024 * 1024)
        return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = sizeof(struct mb_jwks_shared) + max_bytes;
    len = (len + page - 1) / page * page;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct mb_jwks_shared *sh = m;  /* zero-filled by mmap */
    sh->map_len = len;
    sh->max_bytes = max_bytes;
    memcpy(sh->uri, uri, strlen(uri) + 1);
    return sh;
}

void mb_jwks_shared_destroy(struct mb_jwks_shared *shared)
{
    if (shared)
        munmap(shared, shared->map_len);
}

const char *mb_jwks_shared_uri(const struct mb_jwks_shared *shared)
{
    return shared ? shared->uri : NULL;
}

uint64_t mb_jwks_shared_fetches(const struct mb_jwks_shared *shared)
{
    return shared ? atomic_load(&((struct mb_jwks_shared *)shared)->fetches) : 0;
}

/* Publishes a good document. Returns 0 (*changed says whether the generation moved) or -EBUSY
 * when another writer holds the seqlock (only possible after a lease was taken over). */
static int region_write(struct mb_jwks_shared *sh, const char *bytes, size_t len, uint64_t now,
                        bool *changed)
{
    uint64_t s0 = atomic_load(&sh->seq);
    *changed = false;
    if (s0 & 1u) {
        if (now - atomic_load(&sh->write_started_ms) < JW_STALE_WRITE_MS)
            return -EBUSY;
        /* The writer died between its two seq updates: take the lock over, still odd. */
        if (!atomic_compare_exchange_strong(&sh->seq, &s0, s0 + 2))
            return -EBUSY;
        s0 += 2;
    } else {
        if (!atomic_compare_exchange_strong(&sh->seq, &s0, s0 + 1))
            return -EBUSY;
        s0 += 1;
    }
    atomic_store(&sh->write_started_ms, now);
    atomic_thread_fence(memory_order_release);
    uint64_t gen = atomic_load_explicit(&sh->generation, memory_order_relaxed);
    bool same = gen != 0 && atomic_load_explicit(&sh->len, memory_order_relaxed) == len &&
                memcmp(sh->bytes, bytes, len) == 0;
    if (!same) {
        memcpy(sh->bytes, bytes, len);
        atomic_store_explicit(&sh->len, len, memory_order_relaxed);
        atomic_store_explicit(&sh->generation, gen + 1, memory_order_relaxed);
        *changed = true;
    }
    atomic_store_explicit(&sh->seq, s0 + 1, memory_order_release);
    atomic_store(&sh->fetched_at_ms, now);
    return 0;
}

/* Copies the region's generation into the source when it moved. Returns 0 (also when nothing
 * moved), -EAGAIN when a writer kept the seqlock busy, -ENOMEM. */
static int sync_doc(struct mb_jwks_source *s)
{
    struct mb_jwks_shared *sh = s->sh;
    if (atomic_load_explicit(&sh->generation, memory_order_acquire) == s->doc_gen)
        return 0;
    for (int i = 0; i < JW_READ_TRIES; i++) {
        uint64_t s1 = atomic_load_explicit(&sh->seq, memory_order_acquire);
        if (s1 & 1u)
            continue;
        uint64_t len = atomic_load_explicit(&sh->len, memory_order_relaxed);
        uint64_t gen = atomic_load_explicit(&sh->generation, memory_order_relaxed);
        if (len > sh->max_bytes)
            continue;
        if (len + 1 > s->scratch_cap) {
            char *n = realloc(s->scratch, len + 1);
            if (!n)
                return -ENOMEM;
            s->scratch = n;
            s->scratch_cap = len + 1;
        }
        memcpy(s->scratch, sh->bytes, len);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sh->seq, memory_order_relaxed) != s1)
            continue;
        if (gen == s->doc_gen)
            return 0;
        s->scratch[len] = '\0';
        char *t = s->doc;
        size_t tcap = s->doc_cap;
        s->doc = s->scratch;
        s->doc_cap = s->scratch_cap;
        s->doc_len = (size_t)len;
        s->doc_gen = gen;
        s->scratch = t;
        s->scratch_cap = tcap;
        s->stats.generations_seen++;
        s->change_pending = true;
        return 0;
    }
    return -EAGAIN;
}

static bool lease_take(struct mb_jwks_source *s, uint64_t now)
{
    struct mb_jwks_shared *sh = s->sh;
    uint64_t cur = atomic_load(&sh->lease);
    if (cur != 0 && (cur & JW_TIME_MASK) > (now & JW_TIME_MASK))
        return false;  /* held and not expired */
    uint64_t mine = ((uint64_t)s->owner << JW_OWNER_SHIFT) |
                    ((now + s->opts.timeout_ms + JW_LEASE_MARGIN_MS) & JW_TIME_MASK);
    if (!atomic_compare_exchange_strong(&sh->lease, &cur, mine))
        return false;
    s->lease = mine;
    return true;
}

static void lease_release(struct mb_jwks_source *s)
{
    if (!s->lease)
        return;
    uint64_t mine = s->lease;
    atomic_compare_exchange_strong(&s->sh->lease, &mine, 0);  /* fails if it was taken over */
    s->lease = 0;
}

/* --- waits ----------------------------------------------------------------------------------- */

static void wait_link(struct wait_list *l, struct mb_jwks_wait *w)
{
    w->list = l;
    w->prev = NULL;
    w->next = l->head;
    if (l->head)
        l->head->prev = w;
    l->head = w;
}

static void wait_unlink(struct mb_jwks_wait *w)
{
    struct wait_list *l = w->list;
    if (!l)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->list = NULL;
}

static bool wait_satisfied(const struct mb_jwks_source *s, const struct mb_jwks_wait *w)
{
    if (w->kind == WAIT_READY)
        return s->doc_gen > 0;
    return atomic_load(&s->sh->attempts) > w->attempts_at_start || s->doc_gen > w->gen_at_start;
}

/* Runs the callbacks of settled waits; each wait is freed before its callback runs. */
static void run_firing(struct mb_jwks_source *s)
{
    struct mb_jwks_wait *w;
    while ((w = s->firing.head)) {
        wait_unlink(w);
        mb_jwks_wait_cb cb = w->cb;
        void *data = w->data;
        int status = w->status;
        free(w);
        cb(data, status);
    }
}

static void settle_waits(struct mb_jwks_source *s, uint64_t now)
{
    struct mb_jwks_wait *w = s->waits.head;
    while (w) {
        struct mb_jwks_wait *next = w->next;
        int status = 1;
        if (wait_satisfied(s, w))
            status = 0;
        else if (now >= w->deadline_ms)
            status = -ETIMEDOUT;
        if (status <= 0) {
            wait_unlink(w);
            w->status = status;
            wait_link(&s->firing, w);
        }
        w = next;
    }
    run_firing(s);
}

/* --- fetching -------------------------------------------------------------------------------- */

static void tick(struct mb_jwks_source *s);
static void finish_destroy(struct mb_jwks_source *s);

static void enter(struct mb_jwks_source *s)
{
    s->depth++;
}

static void leave(struct mb_jwks_source *s)
{
    if (--s->depth == 0 && s->destroy_requested && !s->closed)
        finish_destroy(s);
}

static uint64_t pick_refresh_after(struct mb_jwks_source *s)
{
    uint64_t cache_ms = (uint64_t)s->opts.cache_seconds * 1000u;
    return cache_ms * 8u / 10u + rng_below(s, cache_ms / 10u + 1u);
}

static uint64_t backoff_ms(struct mb_jwks_source *s, uint32_t failures)
{
    uint64_t d = s->opts.retry_min_ms;
    for (uint32_t i = 1; i < failures && d < s->opts.retry_max_ms; i++)
        d *= 2;
    if (d > s->opts.retry_max_ms)
        d = s->opts.retry_max_ms;
    return d + rng_below(s, d / 10u + 1u);
}

static void record_attempt(struct mb_jwks_source *s, uint64_t now, const char *failure)
{
    struct mb_jwks_shared *sh = s->sh;
    if (failure) {
        uint32_t n = atomic_fetch_add(&sh->failures, 1) + 1;
        uint64_t delay = backoff_ms(s, n);
        atomic_store(&sh->next_attempt_ms, now + delay);
        s->stats.fetch_failed++;
        uint64_t gen = atomic_load(&sh->generation);
        if (gen)
            mb_warn("auth", "JWKS fetch from %s failed (%s); keeping the key set of generation %llu, "
                    "%llu s old; next try in %llu ms", s->log_uri, failure, (unsigned long long)gen,
                    (unsigned long long)((now - atomic_load(&sh->fetched_at_ms)) / 1000u),
                    (unsigned long long)delay);
        else
            mb_warn("auth", "JWKS fetch from %s failed (%s); no keys yet; next try in %llu ms",
                    s->log_uri, failure, (unsigned long long)delay);
    } else {
        atomic_store(&sh->failures, 0);
        atomic_store(&sh->next_attempt_ms, 0);
        s->stats.fetch_ok++;
    }
    if (atomic_load(&sh->forced_at_ms) <= atomic_load(&sh->attempt_started_ms))
        atomic_store(&sh->forced_done_ms, now);
    atomic_fetch_add(&sh->attempts, 1);
}

static void on_fetch_done(void *data, const struct mb_upstream_response *resp)
{
    struct mb_jwks_source *s = data;
    struct mb_jwks_shared *sh = s->sh;
    char why[96];
    const char *failure = NULL;
    s->call = NULL;
    enter(s);
    uint64_t now = mono_ms();
    if (resp->error != MB_UPSTREAM_OK) {
        failure = resp->error_message ? resp->error_message : "transport error";
    } else if (resp->status != 200) {
        snprintf(why, sizeof why, "HTTP %ld", resp->status);
        failure = why;
    } else if (s->opts.validate(s->opts.validate_data, resp->body, resp->body_len) != 0) {
        failure = "not a usable JWKS document";
    } else {
        bool changed = false;
        if (region_write(sh, resp->body, resp->body_len, now, &changed) == 0 && changed)
            mb_info("auth", "JWKS from %s: key set generation %llu (%zu bytes)", s->log_uri,
                    (unsigned long long)atomic_load(&sh->generation), resp->body_len);
    }
    record_attempt(s, now, failure);
    lease_release(s);
    s->forced = false;
    s->refresh_after_ms = pick_refresh_after(s);
    if (!s->destroy_requested)
        tick(s);
    leave(s);
}

static void start_fetch(struct mb_jwks_source *s, uint64_t now)
{
    struct mb_jwks_shared *sh = s->sh;
    static const char *const headers[] = {"Accept: application/jwk-set+json, application/json"};
    struct mb_upstream_request req = {
        .method = "GET",
        .url = sh->uri,
        .headers = headers,
        .header_count = 1,
        .timeout_ms = s->opts.timeout_ms,
        .max_response_bytes = sh->max_bytes,
    };
    atomic_store(&sh->attempt_started_ms, now);
    atomic_fetch_add(&sh->fetches, 1);
    s->stats.fetches++;
    s->call = mb_upstream_start(s->up, &req, on_fetch_done, NULL, s);
    if (!s->call) {
        record_attempt(s, now, "could not start the request");
        lease_release(s);
        s->forced = false;
    }
}

/* Is a fetch due, as far as this source knows? */
static bool fetch_due(struct mb_jwks_source *s, uint64_t now)
{
    struct mb_jwks_shared *sh = s->sh;
    if (s->forced && atomic_load(&sh->attempt_started_ms) > s->forced_at)
        s->forced = false;  /* someone fetched after our grant */
    if (atomic_load(&sh->generation) == 0 || s->forced)
        return true;
    return now >= atomic_load(&sh->fetched_at_ms) + s->refresh_after_ms;
}

static void maybe_fetch(struct mb_jwks_source *s, uint64_t now)
{
    struct mb_jwks_shared *sh = s->sh;
    if (s->call || s->destroy_requested)
        return;
    if (!fetch_due(s, now) || now < atomic_load(&sh->next_attempt_ms))
        return;
    if (!lease_take(s, now))
        return;
    /* Look again with the lease held: the previous holder may have finished just now. */
    if (!fetch_due(s, now) || now < atomic_load(&sh->next_attempt_ms)) {
        lease_release(s);
        return;
    }
    start_fetch(s, now);
}

static void on_timer(uv_timer_t *t)
{
    tick(t->data);
}

static void schedule(struct mb_jwks_source *s, uint64_t now)
{
    struct mb_jwks_shared *sh = s->sh;
    uint64_t due = UINT64_MAX;
    if (!s->call) {
        uint64_t want;
        if (atomic_load(&sh->generation) == 0 || s->forced)
            want = now;
        else
            want = atomic_load(&sh->fetched_at_ms) + s->refresh_after_ms;
        uint64_t not_before = atomic_load(&sh->next_attempt_ms);
        if (want < not_before)
            want = not_before;
        if (want <= now)
            want = now + JW_POLL_MS;  /* due, but another worker holds the lease: look again */
        due = want;
    }
    for (struct mb_jwks_wait *w = s->waits.head; w; w = w->next) {
        if (now + JW_POLL_MS < due)
            due = now + JW_POLL_MS;  /* another worker's fetch shows only in the region */
        if (w->deadline_ms < due)
            due = w->deadline_ms;
    }
    if (due == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

static void tick(struct mb_jwks_source *s)
{
    enter(s);
    uint64_t now = mono_ms();
    sync_doc(s);
    if (s->change_pending) {
        s->change_pending = false;
        if (s->opts.on_change && !s->destroy_requested)
            s->opts.on_change(s->opts.change_data, s->doc_gen);
    }
    if (!s->destroy_requested)
        maybe_fetch(s, now);
    if (!s->destroy_requested)
        settle_waits(s, mono_ms());
    if (!s->destroy_requested)
        schedule(s, mono_ms());
    leave(s);
}

/* Runs tick from the loop as soon as possible (never from inside an API call). */
static void poke(struct mb_jwks_source *s)
{
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* --- public API ------------------------------------------------------------------------------ */

struct mb_jwks_source *mb_jwks_source_create(uv_loop_t *loop, struct mb_upstream *up,
                                             struct mb_jwks_shared *shared,
                                             const struct mb_jwks_options *opts)
{
    if (!loop || !up || !shared || !opts || !opts->validate)
        return NULL;
    struct mb_jwks_source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->up = up;
    s->sh = shared;
    s->opts = *opts;
    if (!s->opts.cache_seconds)
        s->opts.cache_seconds = JW_DEFAULT_CACHE_SECONDS;
    if (!s->opts.min_refresh_interval_ms)
        s->opts.min_refresh_interval_ms = JW_DEFAULT_MIN_REFRESH_MS;
    if (!s->opts.timeout_ms)
        s->opts.timeout_ms = JW_DEFAULT_TIMEOUT_MS;
    if (!s->opts.retry_min_ms)
        s->opts.retry_min_ms = JW_DEFAULT_RETRY_MIN_MS;
    if (!s->opts.retry_max_ms)
        s->opts.retry_max_ms = JW_DEFAULT_RETRY_MAX_MS;
    if (s->opts.retry_max_ms < s->opts.retry_min_ms)
        s->opts.retry_max_ms = s->opts.retry_min_ms;
    uint32_t owner = (atomic_fetch_add(&shared->next_owner, 1) + 1) & 0xFFFFFFu;
    s->owner = owner ? owner : 1;
    if (RAND_bytes((unsigned char *)&s->rng, sizeof s->rng) != 1 || !s->rng)
        s->rng = mono_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
    if (!s->rng)
        s->rng = 1;
    s->refresh_after_ms = pick_refresh_after(s);
    redact_uri(shared->uri, s->log_uri, sizeof s->log_uri);
    if (uv_timer_init(loop, &s->timer) != 0) {
        free(s);
        return NULL;
    }
    s->timer.data = s;
    poke(s);  /* the first fetch (or the first copy of another worker's) */
    return s;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mb_jwks_source *s = h->data;
    free(s->doc);
    free(s->scratch);
    free(s);
}

static void finish_destroy(struct mb_jwks_source *s)
{
    if (s->call) {
        mb_upstream_cancel(s->call);
        s->call = NULL;
    }
    lease_release(s);
    struct mb_jwks_wait *w;
    while ((w = s->waits.head)) {
        wait_unlink(w);
        w->status = -ECANCELED;
        wait_link(&s->firing, w);
    }
    s->depth++;
    run_firing(s);
    s->depth--;
    s->closed = true;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

void mb_jwks_source_destroy(struct mb_jwks_source *src)
{
    if (!src || src->destroy_requested)
        return;
    src->destroy_requested = true;
    if (src->depth == 0)
        finish_destroy(src);
}

int mb_jwks_source_current(struct mb_jwks_source *src, const char **bytes, size_t *len,
                           uint64_t *generation)
{
    if (bytes)
        *bytes = NULL;
    if (len)
        *len = 0;
    if (generation)
        *generation = 0;
    if (!src || src->destroy_requested)
        return -EAGAIN;
    sync_doc(src);
    if (src->change_pending)
        poke(src);  /* on_change runs from the loop */
    if (src->doc_gen == 0)
        return -EAGAIN;
    if (bytes)
        *bytes = src->doc;
    if (len)
        *len = src->doc_len;
    if (generation)
        *generation = src->doc_gen;
    return 0;
}

int mb_jwks_source_request_refresh(struct mb_jwks_source *src)
{
    if (!src || src->destroy_requested)
        return -EAGAIN;
    struct mb_jwks_shared *sh = src->sh;
    uint64_t now = mono_ms();
    uint64_t last = atomic_load(&sh->forced_at_ms);
    if (last && now - last < src->opts.min_refresh_interval_ms) {
        /* Granted recently. Still running (no attempt completed since)? Then it is under way. */
        if (atomic_load(&sh->forced_done_ms) < last)
            return 0;
        src->stats.refreshes_limited++;
        return -EAGAIN;
    }
    if (!atomic_compare_exchange_strong(&sh->forced_at_ms, &last, now))
        return 0;  /* another worker was granted one this instant */
    src->forced = true;
    src->forced_at = now;
    poke(src);
    return 0;
}

static struct mb_jwks_wait *wait_add(struct mb_jwks_source *src, enum wait_kind kind,
                                     unsigned timeout_ms, mb_jwks_wait_cb cb, void *data)
{
    if (!src || !cb || src->destroy_requested)
        return NULL;
    struct mb_jwks_wait *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    sync_doc(src);
    w->src = src;
    w->kind = kind;
    w->cb = cb;
    w->data = data;
    w->deadline_ms = mono_ms() + (timeout_ms ? timeout_ms : src->opts.timeout_ms);
    w->attempts_at_start = atomic_load(&src->sh->attempts);
    w->gen_at_start = src->doc_gen;
    wait_link(&src->waits, w);
    poke(src);
    return w;
}

struct mb_jwks_wait *mb_jwks_source_when_ready(struct mb_jwks_source *src, unsigned timeout_ms,
                                               mb_jwks_wait_cb cb, void *data)
{
    return wait_add(src, WAIT_READY, timeout_ms, cb, data);
}

struct mb_jwks_wait *mb_jwks_source_when_refreshed(struct mb_jwks_source *src, unsigned timeout_ms,
                                                   mb_jwks_wait_cb cb, void *data)
{
    return wait_add(src, WAIT_REFRESHED, timeout_ms, cb, data);
}

void mb_jwks_wait_cancel(struct mb_jwks_wait *w)
{
    if (!w)
        return;
    wait_unlink(w);
    free(w);
}

void mb_jwks_source_stats(const struct mb_jwks_source *src, struct mb_jwks_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (src)
        *out = src->stats;
}
