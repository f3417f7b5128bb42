/* Instance-wide request statistics (contract in call_stats.h). One anonymous shared mapping,
 * made before fork, holds every counter as a lock-free _Atomic uint64_t; writers in any process
 * add with relaxed fetch_add, readers load word by word. Each method row, phase histogram and
 * tool row starts on its own 64-byte line, so workers recording different phases or tools do
 * not bounce each other's lines. A histogram stores its buckets (not cumulative) and the sum;
 * its count is the sum of the buckets, so the rendered +Inf bucket always equals _count even
 * while other processes write. A tools/call record is four adds (outcome, bucket, sum, bytes);
 * a phase record two; a method count one. */
#include "observability/call_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "observability/metrics.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
               "counters are shared between processes: 64-bit atomics must be lock-free");

#define LINE 64
#define TOOL_NAME_MAX 128 /* bytes of a tool name kept (the catalog's own limit), plus a NUL */
#define BOUND_COUNT (MB_HIST_BUCKETS - 1)

static const uint64_t hist_bounds_us[BOUND_COUNT] = MB_HIST_BOUNDS_US;
_Static_assert(sizeof hist_bounds_us / sizeof hist_bounds_us[0] == BOUND_COUNT,
               "MB_HIST_BUCKETS must be the number of MB_HIST_BOUNDS_US plus one (+Inf)");

static const char *const method_names[MB_METHOD_COUNT] = MB_METHOD_NAMES;
static const char *const phase_names[MB_PHASE_COUNT] = {
    [MB_PHASE_REQUEST] = "request",      [MB_PHASE_AUTH] = "auth",
    [MB_PHASE_JWKS_WAIT] = "jwks_wait",  [MB_PHASE_TOKEN_EXCHANGE] = "token_exchange",
    [MB_PHASE_RATE_LIMIT] = "rate_limit", [MB_PHASE_DNS] = "dns",
    [MB_PHASE_CONNECT] = "connect",      [MB_PHASE_TLS] = "tls",
    [MB_PHASE_FIRST_BYTE] = "first_byte", [MB_PHASE_DOWNSTREAM] = "downstream",
    [MB_PHASE_GUARD] = "guard",          [MB_PHASE_TOOL_CALL] = "tool_call",
};
static const char *const outcome_names[MB_OUTCOME_COUNT] = {
    [MB_OUTCOME_OK] = "ok",
    [MB_OUTCOME_TOOL_ERROR] = "tool_error",
    [MB_OUTCOME_DENIED] = "denied",
    [MB_OUTCOME_ERROR] = "error",
};

/* The sum first, so it shares a cache line with the lowest buckets, where most values land. */
struct hist_counters {
    _Atomic uint64_t sum_us;
    _Atomic uint64_t buckets[MB_HIST_BUCKETS];
};

struct method_row {
    alignas(LINE) _Atomic uint64_t by_outcome[2]; /* [0] answered with a result, [1] a JSON-RPC error */
};

struct phase_row {
    alignas(LINE) struct hist_counters hist;
};

struct tool_row {
    alignas(LINE) _Atomic uint64_t outcomes[MB_OUTCOME_COUNT];
    _Atomic uint64_t bytes;
    struct hist_counters duration;
    char name[TOOL_NAME_MAX + 1]; /* written before fork, read-only afterwards */
};

struct mb_call_stats {
    size_t mapped; /* bytes mapped, for munmap */
    size_t ntools;
    struct method_row methods[MB_METHOD_COUNT];
    struct phase_row phases[MB_PHASE_COUNT];
    alignas(LINE) _Atomic uint64_t circuit[MB_CIRCUIT_EVENT_COUNT];
    struct tool_row tools[];
};

const char *mb_phase_name(enum mb_phase phase)
{
    return (unsigned)phase < MB_PHASE_COUNT ? phase_names[phase] : NULL;
}

const char *mb_call_outcome_name(enum mb_call_outcome outcome)
{
    return (unsigned)outcome < MB_OUTCOME_COUNT ? outcome_names[outcome] : NULL;
}

int mb_call_stats_method_index(const char *method)
{
    if (method)
        for (int i = 0; i < MB_METHOD_COUNT - 1; i++)
            if (strcmp(method, method_names[i]) == 0)
                return i;
    return MB_METHOD_COUNT - 1;
}

/* Copies name into dst (TOOL_NAME_MAX + 1 bytes), cutting a longer one at a UTF-8 character
 * boundary so the label value stays valid UTF-8. */
static void copy_tool_name(char *dst, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n > TOOL_NAME_MAX) {
        n = TOOL_NAME_MAX;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, name, n);
    dst[n] = '\0';
}

struct mb_call_stats *mb_call_stats_create(const char *const *tool_names, size_t ntools)
{
    if (ntools && !tool_names) {
        errno = EINVAL;
        return NULL;
    }
    if (ntools > (SIZE_MAX - sizeof(struct mb_call_stats)) / sizeof(struct tool_row)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t bytes = sizeof(struct mb_call_stats) + ntools * sizeof(struct tool_row);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct mb_call_stats *cs = p; /* anonymous mappings are zero-filled: every counter starts at 0 */
    cs->mapped = bytes;
    cs->ntools = ntools;
    for (size_t i = 0; i < ntools; i++)
        copy_tool_name(cs->tools[i].name, tool_names[i]);
    return cs;
}

void mb_call_stats_destroy(struct mb_call_stats *cs)
{
    if (cs)
        munmap(cs, cs->mapped);
}

/* ---- writers ---- */

/* The bucket of us: the first bound >= us (a value equal to a bound belongs to that bucket, as
 * Prometheus "le"), BOUND_COUNT (+Inf) above the last. Binary search: four comparisons. */
static size_t bucket_of(uint64_t us)
{
    size_t lo = 0, hi = BOUND_COUNT;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (us <= hist_bounds_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void hist_record(struct hist_counters *h, uint64_t us)
{
    atomic_fetch_add_explicit(&h->buckets[bucket_of(us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void mb_call_stats_count_method(struct mb_call_stats *cs, int method_index, bool ok)
{
    if (!cs || method_index < 0 || method_index >= MB_METHOD_COUNT)
        return;
    atomic_fetch_add_explicit(&cs->methods[method_index].by_outcome[ok ? 0 : 1], 1, memory_order_relaxed);
}

void mb_call_stats_record_phase(struct mb_call_stats *cs, enum mb_phase phase, uint64_t us)
{
    if (!cs || (unsigned)phase >= MB_PHASE_COUNT)
        return;
    hist_record(&cs->phases[phase].hist, us);
}

void mb_call_stats_record_tool(struct mb_call_stats *cs, size_t tool_index, enum mb_call_outcome outcome,
                               uint64_t us, uint64_t bytes)
{
    if (!cs || tool_index >= cs->ntools || (unsigned)outcome >= MB_OUTCOME_COUNT)
        return;
    struct tool_row *t = &cs->tools[tool_index];
    atomic_fetch_add_explicit(&t->outcomes[outcome], 1, memory_order_relaxed);
    hist_record(&t->duration, us);
    if (bytes)
        atomic_fetch_add_explicit(&t->bytes, bytes, memory_order_relaxed);
}

/* ---- readers ---- */

static void hist_read(const struct hist_counters *h, struct mb_histogram *out)
{
    uint64_t count = 0;
    for (size_t i = 0; i < MB_HIST_BUCKETS; i++) {
        out->buckets[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        count += out->buckets[i];
    }
    out->count = count;
    out->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

void mb_call_stats_phase(const struct mb_call_stats *cs, enum mb_phase phase, struct mb_histogram *out)
{
    if (!cs || (unsigned)phase >= MB_PHASE_COUNT) {
        *out = (struct mb_histogram){ 0 };
        return;
    }
    hist_read(&cs->phases[phase].hist, out);
}

uint64_t mb_call_stats_method_total(const struct mb_call_stats *cs, int method_index, bool ok)
{
    if (!cs || method_index < 0 || method_index >= MB_METHOD_COUNT)
        return 0;
    return atomic_load_explicit(&cs->methods[method_index].by_outcome[ok ? 0 : 1], memory_order_relaxed);
}

static uint64_t tool_calls(const struct tool_row *t)
{
    uint64_t n = 0;
    for (size_t o = 0; o < MB_OUTCOME_COUNT; o++)
        n += atomic_load_explicit(&t->outcomes[o], memory_order_relaxed);
    return n;
}

void mb_call_stats_tool_totals(const struct mb_call_stats *cs, uint64_t *calls, uint64_t *sum_us)
{
    uint64_t n = 0, us = 0;
    for (size_t i = 0; cs && i < cs->ntools; i++) {
        n += tool_calls(&cs->tools[i]);
        us += atomic_load_explicit(&cs->tools[i].duration.sum_us, memory_order_relaxed);
    }
    *calls = n;
    *sum_us = us;
}

double mb_histogram_quantile(const struct mb_histogram *h, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; h && i < MB_HIST_BUCKETS; i++)
        total += h->buckets[i];
    if (total == 0 || !(q > 0)) /* empty, or q <= 0 (and NaN): the lower bound of everything */
        return 0;
    if (q > 1)
        q = 1;
    double rank = q * (double)total;
    uint64_t below = 0;
    for (size_t i = 0; i < BOUND_COUNT; i++) {
        uint64_t in_bucket = h->buckets[i];
        if ((double)(below + in_bucket) >= rank) {
            /* rank > below here, so in_bucket > 0 */
            double lower = i == 0 ? 0 : (double)hist_bounds_us[i - 1];
            double upper = (double)hist_bounds_us[i];
            return lower + (upper - lower) * ((rank - (double)below) / (double)in_bucket);
        }
        below += in_bucket;
    }
    return (double)hist_bounds_us[BOUND_COUNT - 1]; /* in the +Inf bucket */
}

/* ---- Prometheus rendering ---- */

/* Appends to out until the first error, which it keeps. */
struct writer {
    struct mb_buf *out;
    int rc;
};

static void put(struct writer *w, const char *s, size_t n)
{
    if (!w->rc)
        w->rc = mb_buf_append(w->out, s, n);
}

static void put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_label_value(struct writer *w, const char *s)
{
    if (!w->rc)
        w->rc = mb_metrics_label_escape(w->out, s);
}

/* " <v>\n": the value that ends a sample line. */
static void put_value(struct writer *w, uint64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof num, " %" PRIu64 "\n", v);
    put(w, num, (size_t)n);
}

/* Microseconds as exact decimal seconds without trailing zeros: 250 -> "0.00025",
 * 1000000 -> "1", 1234567 -> "1.234567". dst holds at least 32 bytes. */
static void seconds_text(char *dst, size_t cap, uint64_t us)
{
    int n = snprintf(dst, cap, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    while (n > 0 && dst[n - 1] == '0')
        dst[--n] = '\0';
    if (n > 0 && dst[n - 1] == '.')
        dst[--n] = '\0';
}

static void put_header(struct writer *w, const char *name, const char *type, const char *help)
{
    put_str(w, "# HELP ");
    put_str(w, name);
    put(w, " ", 1);
    put_str(w, help);
    put_str(w, "\n# TYPE ");
    put_str(w, name);
    put(w, " ", 1);
    put_str(w, type);
    put(w, "\n", 1);
}

/* name<suffix>{label="value"  (the caller adds more labels or the closing brace) */
static void put_series_start(struct writer *w, const char *name, const char *suffix, const char *label,
                             const char *value)
{
    put_str(w, name);
    put_str(w, suffix);
    put(w, "{", 1);
    put_str(w, label);
    put(w, "=\"", 2);
    put_label_value(w, value);
    put(w, "\"", 1);
}

/* The _bucket (cumulative), _sum and _count lines of one histogram series. */
static void put_histogram(struct writer *w, const char *name, const char *label, const char *value,
                          const struct hist_counters *h, char le[BOUND_COUNT][32])
{
    struct mb_histogram snap;
    hist_read(h, &snap);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < MB_HIST_BUCKETS; i++) {
        cumulative += snap.buckets[i];
        put_series_start(w, name, "_bucket", label, value);
        put_str(w, ",le=\"");
        put_str(w, i < BOUND_COUNT ? le[i] : "+Inf");
        put(w, "\"}", 2);
        put_value(w, cumulative);
    }
    char sum[32];
    seconds_text(sum, sizeof sum, snap.sum_us);
    put_series_start(w, name, "_sum", label, value);
    put(w, "} ", 2);
    put_str(w, sum);
    put(w, "\n", 1);
    put_series_start(w, name, "_count", label, value);
    put(w, "}", 1);
    put_value(w, snap.count);
}

#define REQUESTS "mcpbridge_mcp_requests_total"
#define TOOL_CALLS "mcpbridge_tool_calls_total"
#define TOOL_DURATION "mcpbridge_tool_call_duration_seconds"
#define TOOL_BYTES "mcpbridge_tool_response_bytes_total"
#define PHASE_DURATION "mcpbridge_phase_duration_seconds"

void mb_call_stats_count_circuit(struct mb_call_stats *cs, enum mb_circuit_event event)
{
    if (cs && (unsigned)event < MB_CIRCUIT_EVENT_COUNT)
        atomic_fetch_add_explicit(&cs->circuit[event], 1, memory_order_relaxed);
}

uint64_t mb_call_stats_circuit_total(const struct mb_call_stats *cs, enum mb_circuit_event event)
{
    if (!cs || (unsigned)event >= MB_CIRCUIT_EVENT_COUNT)
        return 0;
    return atomic_load_explicit(&((struct mb_call_stats *)cs)->circuit[event], memory_order_relaxed);
}

int mb_metrics_render_calls(const struct mb_call_stats *cs, struct mb_buf *out)
{
    struct writer w = { out, 0 };
    char le[BOUND_COUNT][32];
    for (size_t i = 0; i < BOUND_COUNT; i++)
        seconds_text(le[i], sizeof le[i], hist_bounds_us[i]);

    put_header(&w, REQUESTS, "counter",
               "MCP JSON-RPC requests by method and outcome (error: answered with a JSON-RPC error).");
    for (int m = 0; cs && m < MB_METHOD_COUNT; m++) {
        for (int ok = 1; ok >= 0; ok--) {
            put_series_start(&w, REQUESTS, "", "method", method_names[m]);
            put_str(&w, ok ? ",outcome=\"ok\"}" : ",outcome=\"error\"}");
            put_value(&w, mb_call_stats_method_total(cs, m, ok));
        }
    }

    put_header(&w, TOOL_CALLS, "counter",
               "tools/call by tool and outcome (ok; tool_error: an isError result; denied: refused before "
               "the downstream call; error: a JSON-RPC error).");
    for (size_t t = 0; cs && t < cs->ntools; t++) {
        const struct tool_row *row = &cs->tools[t];
        if (tool_calls(row) == 0)
            continue;
        for (size_t o = 0; o < MB_OUTCOME_COUNT; o++) {
            put_series_start(&w, TOOL_CALLS, "", "tool", row->name);
            put_str(&w, ",outcome=\"");
            put_str(&w, outcome_names[o]);
            put(&w, "\"}", 2);
            put_value(&w, atomic_load_explicit(&row->outcomes[o], memory_order_relaxed));
        }
    }

    put_header(&w, TOOL_DURATION, "histogram", "tools/call duration by tool, end to end in the core.");
    for (size_t t = 0; cs && t < cs->ntools; t++)
        if (tool_calls(&cs->tools[t]) > 0)
            put_histogram(&w, TOOL_DURATION, "tool", cs->tools[t].name, &cs->tools[t].duration, le);

    put_header(&w, TOOL_BYTES, "counter", "Downstream response body bytes read by tools/call, by tool.");
    for (size_t t = 0; cs && t < cs->ntools; t++) {
        const struct tool_row *row = &cs->tools[t];
        if (tool_calls(row) == 0)
            continue;
        put_series_start(&w, TOOL_BYTES, "", "tool", row->name);
        put(&w, "}", 1);
        put_value(&w, atomic_load_explicit(&row->bytes, memory_order_relaxed));
    }

    put_header(&w, PHASE_DURATION, "histogram",
               "Time spent in each phase of a request (docs/internals/metrics.md lists the phases).");
    for (int p = 0; cs && p < MB_PHASE_COUNT; p++)
        put_histogram(&w, PHASE_DURATION, "phase", phase_names[p], &cs->phases[p].hist, le);

    put_header(&w, "mcpbridge_circuit_refused_total", "counter",
               "tools/call not sent because the downstream host's circuit breaker was open.");
    if (cs) {
        put_str(&w, "mcpbridge_circuit_refused_total");
        put_value(&w, mb_call_stats_circuit_total(cs, MB_CIRCUIT_EVENT_REFUSED));
    }
    put_header(&w, "mcpbridge_circuit_transitions_total", "counter",
               "Circuit breaker state changes in any worker, by the state entered.");
    static const char *const entered[] = { NULL, "open", "half_open", "closed" };
    for (int e = MB_CIRCUIT_EVENT_OPENED; cs && e < MB_CIRCUIT_EVENT_COUNT; e++) {
        put_str(&w, "mcpbridge_circuit_transitions_total{to=\"");
        put_str(&w, entered[e]);
        put_str(&w, "\"}");
        put_value(&w, mb_call_stats_circuit_total(cs, (enum mb_circuit_event)e));
    }
    return w.rc;
}
