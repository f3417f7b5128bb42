/* Instance-wide request statistics (src/observability/call_stats.h): method, phase and outcome
 * names, histogram bucket placement at the exact bounds, quantile maths on hand-computed
 * histograms, the Prometheus text checked by parsing it back (one HELP/TYPE per family,
 * contiguous families, cumulative buckets, +Inf = _count, sums in seconds, escaped and
 * truncated tool names, tools never called left out), NULL and out-of-range arguments, and
 * exact totals when four processes record at once. Expected values are computed here from the
 * bounds written out below, never from the implementation's own helpers. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "observability/call_stats.h"

static const uint64_t BOUNDS_US[16] = { 100,    250,    500,     1000,    2500,    5000,    10000,   25000,
                                        50000,  100000, 250000,  500000,  1000000, 2500000, 5000000, 10000000 };
static const char *const LE[17] = { "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                    "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
                                    "1",      "2.5",     "5",      "10",    "+Inf" };

/* The bucket a value belongs to, from the bounds above: the first bound >= us, else +Inf. */
static size_t expected_bucket(uint64_t us)
{
    for (size_t i = 0; i < 16; i++)
        if (us <= BOUNDS_US[i])
            return i;
    return 16;
}

static char *render(const struct mb_call_stats *cs)
{
    struct mb_buf out;
    mb_buf_init(&out, 8u * 1024u * 1024u);
    assert_int_equal(mb_metrics_render_calls(cs, &out), 0);
    char *text = mb_buf_steal(&out);
    assert_non_null(text);
    return text;
}

/* ---- a small reader of the text format ---- */

/* The start of the line that begins with prefix, or NULL. */
static const char *find_line(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; *line;) {
        if (strncmp(line, prefix, n) == 0)
            return line;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return NULL;
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (const char *line = text; *line;) {
        if (strncmp(line, prefix, len) == 0)
            n++;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return n;
}

/* The value of the sample whose series (name and labels) is exactly series. */
static uint64_t value_of(const char *text, const char *series)
{
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s ", series);
    const char *line = find_line(text, prefix);
    if (!line)
        fail_msg("series %s is missing", series);
    char *end;
    uint64_t v = strtoull(line + strlen(prefix), &end, 10);
    assert_true(*end == '\n');
    return v;
}

/* The value text (up to the end of line) of series, copied into dst. */
static void value_text(const char *text, const char *series, char *dst, size_t cap)
{
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s ", series);
    const char *line = find_line(text, prefix);
    if (!line)
        fail_msg("series %s is missing", series);
    const char *v = line + strlen(prefix);
    size_t n = strcspn(v, "\n");
    assert_true(n < cap);
    memcpy(dst, v, n);
    dst[n] = '\0';
}

#define NFAMILIES 7
static const struct {
    const char *name, *type;
} FAMILIES[NFAMILIES] = {
    { "mcpbridge_mcp_requests_total", "counter" },
    { "mcpbridge_tool_calls_total", "counter" },
    { "mcpbridge_tool_call_duration_seconds", "histogram" },
    { "mcpbridge_tool_response_bytes_total", "counter" },
    { "mcpbridge_phase_duration_seconds", "histogram" },
    { "mcpbridge_circuit_refused_total", "counter" },
    { "mcpbridge_circuit_transitions_total", "counter" },
};

/* Checks the exposition's structure: each of the families has exactly one HELP followed
 * by one TYPE of the right kind; every sample belongs to the family declared last (samples of a
 * family are contiguous and come after its TYPE); every sample line is "series value". Returns
 * the number of sample lines. */
static size_t check_structure(const char *text)
{
    int help_seen[NFAMILIES] = { 0 }, type_seen[NFAMILIES] = { 0 };
    int current = -1;
    size_t samples = 0;
    char line[2048];
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        assert_true(p[n] == '\n'); /* every line ends with a newline */
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            int f = -1;
            for (int i = 0; i < NFAMILIES; i++) {
                size_t len = strlen(FAMILIES[i].name);
                if (strncmp(line + 7, FAMILIES[i].name, len) == 0 && line[7 + len] == ' ')
                    f = i;
            }
            if (f < 0)
                fail_msg("HELP for an unexpected family: %s", line);
            help_seen[f]++;
            current = -1; /* a sample before the TYPE line would be an error */
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            int f = -1;
            for (int i = 0; i < NFAMILIES; i++) {
                char want[128];
                snprintf(want, sizeof want, "# TYPE %s %s", FAMILIES[i].name, FAMILIES[i].type);
                if (strcmp(line, want) == 0)
                    f = i;
            }
            if (f < 0)
                fail_msg("unexpected TYPE line: %s", line);
            assert_int_equal(help_seen[f], 1); /* HELP comes first */
            type_seen[f]++;
            current = f;
            continue;
        }
        assert_true(line[0] != '#');
        if (current < 0)
            fail_msg("sample outside a declared family: %s", line);
        const char *family = FAMILIES[current].name;
        size_t flen = strlen(family);
        if (strncmp(line, family, flen) != 0)
            fail_msg("sample %s inside family %s", line, family);
        const char *rest = line + flen;
        if (strcmp(FAMILIES[current].type, "histogram") == 0) {
            if (strncmp(rest, "_bucket{", 8) == 0)
                rest += 7;
            else if (strncmp(rest, "_sum{", 5) == 0)
                rest += 4;
            else if (strncmp(rest, "_count{", 7) == 0)
                rest += 6;
            else
                fail_msg("histogram sample without _bucket/_sum/_count: %s", line);
        }
        assert_true(rest[0] == '{' || rest[0] == ' '); /* labelled, or a family's one sample */
        const char *space = strrchr(line, ' ');
        assert_non_null(space);
        assert_true(rest[0] == ' ' ? space == rest : space[-1] == '}');
        char *end;
        strtod(space + 1, &end);
        assert_true(end != space + 1 && *end == '\0');
        samples++;
    }
    for (int i = 0; i < NFAMILIES; i++) {
        assert_int_equal(help_seen[i], 1);
        assert_int_equal(type_seen[i], 1);
    }
    return samples;
}

/* Checks one histogram series (labels e.g. `tool="a"`): the 17 buckets in order with the
 * expected le values, cumulative (never decreasing), the last (+Inf) equal to _count. Fills
 * cumulative[17] when not NULL. Returns _count. */
static uint64_t check_histogram(const char *text, const char *family, const char *labels, uint64_t *cumulative)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s_bucket{%s,le=\"", family, labels);
    assert_int_equal(count_lines(text, prefix), 17);
    const char *line = find_line(text, prefix);
    uint64_t prev = 0;
    for (size_t i = 0; i < 17; i++) {
        assert_non_null(line);
        char want[640];
        snprintf(want, sizeof want, "%s%s\"} ", prefix, LE[i]);
        if (strncmp(line, want, strlen(want)) != 0)
            fail_msg("bucket %zu of %s{%s}: expected %s...", i, family, labels, want);
        uint64_t v = strtoull(line + strlen(want), NULL, 10);
        assert_true(v >= prev);
        prev = v;
        if (cumulative)
            cumulative[i] = v;
        line = strchr(line, '\n') + 1; /* the buckets are consecutive lines */
    }
    char series[512];
    snprintf(series, sizeof series, "%s_count{%s}", family, labels);
    uint64_t count = value_of(text, series);
    assert_int_equal(prev, count);
    return count;
}

/* ---- names and indices ---- */

static void test_names_and_indices(void **state)
{
    (void)state;
    static const char *const methods[MB_METHOD_COUNT] = MB_METHOD_NAMES;
    for (int i = 0; i < MB_METHOD_COUNT; i++)
        assert_int_equal(mb_call_stats_method_index(methods[i]), i);
    int other = MB_METHOD_COUNT - 1;
    assert_string_equal(methods[other], "other");
    assert_int_equal(mb_call_stats_method_index("tools/call"), 3);
    assert_int_equal(mb_call_stats_method_index("notifications/initialized"), other);
    assert_int_equal(mb_call_stats_method_index("tools/call "), other);
    assert_int_equal(mb_call_stats_method_index("tools"), other);
    assert_int_equal(mb_call_stats_method_index(""), other);
    assert_int_equal(mb_call_stats_method_index(NULL), other);

    static const char *const phases[MB_PHASE_COUNT] = {
        "request", "auth", "jwks_wait", "token_exchange", "rate_limit", "dns",
        "connect", "tls",  "first_byte", "downstream",   "guard",      "tool_call",
    };
    for (int p = 0; p < MB_PHASE_COUNT; p++) {
        assert_non_null(mb_phase_name((enum mb_phase)p));
        assert_string_equal(mb_phase_name((enum mb_phase)p), phases[p]);
    }
    assert_null(mb_phase_name(MB_PHASE_COUNT));
    assert_null(mb_phase_name((enum mb_phase)-1));

    static const char *const outcomes[MB_OUTCOME_COUNT] = { "ok", "tool_error", "denied", "error" };
    for (int o = 0; o < MB_OUTCOME_COUNT; o++) {
        assert_non_null(mb_call_outcome_name((enum mb_call_outcome)o));
        assert_string_equal(mb_call_outcome_name((enum mb_call_outcome)o), outcomes[o]);
    }
    assert_null(mb_call_outcome_name(MB_OUTCOME_COUNT));
    assert_null(mb_call_outcome_name((enum mb_call_outcome)-1));
}

/* ---- recording ---- */

/* A value equal to a bound goes into that bound's bucket (Prometheus "le"), one above it into
 * the next; 0 into the first; anything past the last bound into +Inf. */
static void test_bucket_placement_at_bounds(void **state)
{
    (void)state;
    struct mb_call_stats *cs = mb_call_stats_create(NULL, 0);
    assert_non_null(cs);
    uint64_t sum = 0;
    for (size_t i = 0; i < 16; i++) {
        mb_call_stats_record_phase(cs, MB_PHASE_AUTH, BOUNDS_US[i]);
        sum += BOUNDS_US[i];
    }
    struct mb_histogram h;
    mb_call_stats_phase(cs, MB_PHASE_AUTH, &h);
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(h.buckets[i], 1);
    assert_int_equal(h.buckets[16], 0);
    assert_int_equal(h.count, 16);
    assert_int_equal(h.sum_us, sum);

    for (size_t i = 0; i < 16; i++)
        mb_call_stats_record_phase(cs, MB_PHASE_DNS, BOUNDS_US[i] + 1);
    mb_call_stats_record_phase(cs, MB_PHASE_DNS, 0);
    mb_call_stats_record_phase(cs, MB_PHASE_DNS, UINT64_MAX / 2);
    mb_call_stats_phase(cs, MB_PHASE_DNS, &h);
    assert_int_equal(h.buckets[0], 1); /* 0 */
    for (size_t i = 1; i < 16; i++)
        assert_int_equal(h.buckets[i], 1); /* bound[i-1] + 1 */
    assert_int_equal(h.buckets[16], 2);   /* 10000001 and the huge one */
    assert_int_equal(h.count, 18);

    /* Other phases untouched. */
    mb_call_stats_phase(cs, MB_PHASE_TLS, &h);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.sum_us, 0);
    mb_call_stats_destroy(cs);
}

static void test_methods_and_tool_totals(void **state)
{
    (void)state;
    const char *names[] = { "a", "b", "c" };
    struct mb_call_stats *cs = mb_call_stats_create(names, 3);
    assert_non_null(cs);
    int call = mb_call_stats_method_index("tools/call");
    int ping = mb_call_stats_method_index("ping");
    for (int i = 0; i < 5; i++)
        mb_call_stats_count_method(cs, call, true);
    mb_call_stats_count_method(cs, call, false);
    mb_call_stats_count_method(cs, ping, false);
    mb_call_stats_count_method(cs, ping, false);
    assert_int_equal(mb_call_stats_method_total(cs, call, true), 5);
    assert_int_equal(mb_call_stats_method_total(cs, call, false), 1);
    assert_int_equal(mb_call_stats_method_total(cs, ping, true), 0);
    assert_int_equal(mb_call_stats_method_total(cs, ping, false), 2);
    assert_int_equal(mb_call_stats_method_total(cs, 0, true), 0);

    mb_call_stats_record_tool(cs, 0, MB_OUTCOME_OK, 1000, 10);
    mb_call_stats_record_tool(cs, 0, MB_OUTCOME_DENIED, 7, 0);
    mb_call_stats_record_tool(cs, 2, MB_OUTCOME_TOOL_ERROR, 20000, 5);
    mb_call_stats_record_tool(cs, 2, MB_OUTCOME_ERROR, 3, 0);
    uint64_t calls = 99, sum_us = 99;
    mb_call_stats_tool_totals(cs, &calls, &sum_us);
    assert_int_equal(calls, 4);
    assert_int_equal(sum_us, 1000 + 7 + 20000 + 3);
    mb_call_stats_destroy(cs);
}

/* ---- quantiles ---- */

static void test_quantile_hand_computed(void **state)
{
    (void)state;
    struct mb_histogram h = { 0 };
    assert_true(mb_histogram_quantile(&h, 0.5) == 0); /* empty */

    /* Ten values in (250, 500]: the median is halfway through the bucket. */
    h.buckets[2] = 10;
    h.count = 10;
    assert_float_equal(mb_histogram_quantile(&h, 0.5), 375.0, 1e-9);
    assert_float_equal(mb_histogram_quantile(&h, 0.1), 275.0, 1e-9);

    /* 2 in (0,100], 6 in (500,1000], 2 in (2500,5000]: total 10. */
    h = (struct mb_histogram){ 0 };
    h.buckets[0] = 2;
    h.buckets[3] = 6;
    h.buckets[5] = 2;
    h.count = 10;
    assert_float_equal(mb_histogram_quantile(&h, 0.1), 50.0, 1e-9);   /* rank 1 of 2 in [0,100] */
    assert_float_equal(mb_histogram_quantile(&h, 0.5), 750.0, 1e-9);  /* rank 3 of 6 in (500,1000] */
    assert_float_equal(mb_histogram_quantile(&h, 0.8), 1000.0, 1e-9); /* rank 8 = the bucket's top */
    assert_float_equal(mb_histogram_quantile(&h, 0.9), 3750.0, 1e-9); /* rank 1 of 2 in (2500,5000] */
    assert_float_equal(mb_histogram_quantile(&h, 0.35), 625.0, 1e-9); /* rank 3.5: 1.5 of 6 past 500 */

    /* Half the values above the last bound: a quantile there answers the last finite bound. */
    h = (struct mb_histogram){ 0 };
    h.buckets[0] = 5;
    h.buckets[16] = 5;
    h.count = 10;
    assert_float_equal(mb_histogram_quantile(&h, 0.99), 10000000.0, 1e-9);
    assert_float_equal(mb_histogram_quantile(&h, 0.4), 80.0, 1e-9);
}

/* ---- rendering ---- */

static void test_render_empty_region(void **state)
{
    (void)state;
    const char *names[] = { "a", "b" };
    struct mb_call_stats *cs = mb_call_stats_create(names, 2);
    assert_non_null(cs);
    char *text = render(cs);
    /* methods x 2 outcomes + phases x (17 buckets + _sum + _count); no tool yet */
    assert_int_equal(check_structure(text), MB_METHOD_COUNT * 2 + MB_PHASE_COUNT * 19 + MB_CIRCUIT_EVENT_COUNT);
    static const char *const methods[MB_METHOD_COUNT] = MB_METHOD_NAMES;
    char series[256];
    for (int m = 0; m < MB_METHOD_COUNT; m++) {
        snprintf(series, sizeof series, "mcpbridge_mcp_requests_total{method=\"%s\",outcome=\"ok\"}", methods[m]);
        assert_int_equal(value_of(text, series), 0);
        snprintf(series, sizeof series, "mcpbridge_mcp_requests_total{method=\"%s\",outcome=\"error\"}", methods[m]);
        assert_int_equal(value_of(text, series), 0);
    }
    for (int p = 0; p < MB_PHASE_COUNT; p++) {
        snprintf(series, sizeof series, "phase=\"%s\"", mb_phase_name((enum mb_phase)p));
        assert_int_equal(check_histogram(text, "mcpbridge_phase_duration_seconds", series, NULL), 0);
        char sum[64];
        snprintf(series, sizeof series, "mcpbridge_phase_duration_seconds_sum{phase=\"%s\"}",
                 mb_phase_name((enum mb_phase)p));
        value_text(text, series, sum, sizeof sum);
        assert_string_equal(sum, "0");
    }
    assert_null(strstr(text, "tool=\""));
    free(text);
    mb_call_stats_destroy(cs);
}

static void test_render_values(void **state)
{
    (void)state;
    const char *names[] = { "never_called", "a", "q\"b\\s\nn", "also_never" };
    struct mb_call_stats *cs = mb_call_stats_create(names, 4);
    assert_non_null(cs);
    mb_call_stats_count_method(cs, mb_call_stats_method_index("tools/call"), true);
    mb_call_stats_count_method(cs, mb_call_stats_method_index("tools/call"), true);
    mb_call_stats_count_method(cs, mb_call_stats_method_index("bogus/method"), false);

    /* Tool "a": 100 (first bucket, at its bound), 101 and 250 (second), 5000 (sixth, at its
     * bound), 20 s (+Inf). */
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_OK, 100, 10);
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_OK, 101, 20);
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_OK, 250, 0);
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_TOOL_ERROR, 5000, 300);
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_DENIED, 20000000, 0);
    mb_call_stats_record_tool(cs, 2, MB_OUTCOME_ERROR, 2500000, 0);
    mb_call_stats_record_phase(cs, MB_PHASE_GUARD, 1500);
    mb_call_stats_record_phase(cs, MB_PHASE_GUARD, 250);
    mb_call_stats_count_circuit(cs, MB_CIRCUIT_EVENT_REFUSED);
    mb_call_stats_count_circuit(cs, MB_CIRCUIT_EVENT_REFUSED);
    mb_call_stats_count_circuit(cs, MB_CIRCUIT_EVENT_OPENED);
    mb_call_stats_count_circuit(cs, MB_CIRCUIT_EVENT_COUNT); /* out of range: ignored */

    char *text = render(cs);
    size_t samples = check_structure(text);
    /* + two called tools x (4 outcomes + 19 histogram lines + 1 bytes line) + the circuit lines */
    assert_int_equal(samples, MB_METHOD_COUNT * 2 + MB_PHASE_COUNT * 19 + 2 * 24 + MB_CIRCUIT_EVENT_COUNT);
    assert_int_equal(value_of(text, "mcpbridge_circuit_refused_total"), 2);
    assert_int_equal(value_of(text, "mcpbridge_circuit_transitions_total{to=\"open\"}"), 1);
    assert_int_equal(value_of(text, "mcpbridge_circuit_transitions_total{to=\"closed\"}"), 0);

    assert_int_equal(value_of(text, "mcpbridge_mcp_requests_total{method=\"tools/call\",outcome=\"ok\"}"), 2);
    assert_int_equal(value_of(text, "mcpbridge_mcp_requests_total{method=\"tools/call\",outcome=\"error\"}"), 0);
    assert_int_equal(value_of(text, "mcpbridge_mcp_requests_total{method=\"other\",outcome=\"error\"}"), 1);

    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"a\",outcome=\"ok\"}"), 3);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"a\",outcome=\"tool_error\"}"), 1);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"a\",outcome=\"denied\"}"), 1);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"a\",outcome=\"error\"}"), 0);
    assert_int_equal(value_of(text, "mcpbridge_tool_response_bytes_total{tool=\"a\"}"), 330);

    uint64_t cum[17];
    assert_int_equal(check_histogram(text, "mcpbridge_tool_call_duration_seconds", "tool=\"a\"", cum), 5);
    static const uint64_t want_a[17] = { 1, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5 };
    for (size_t i = 0; i < 17; i++)
        assert_int_equal(cum[i], want_a[i]);
    char sum[64];
    value_text(text, "mcpbridge_tool_call_duration_seconds_sum{tool=\"a\"}", sum, sizeof sum);
    assert_string_equal(sum, "20.005451"); /* 100 + 101 + 250 + 5000 + 20000000 us */

    /* The awkward name, escaped as a label value: q\"b\\s\nn */
    const char *escaped = "tool=\"q\\\"b\\\\s\\nn\"";
    char series[256];
    snprintf(series, sizeof series, "mcpbridge_tool_calls_total{%s,outcome=\"error\"}", escaped);
    assert_int_equal(value_of(text, series), 1);
    assert_int_equal(check_histogram(text, "mcpbridge_tool_call_duration_seconds", escaped, cum), 1);
    assert_int_equal(cum[12], 0); /* 2.5 s is above le="1" */
    assert_int_equal(cum[13], 1); /* and at le="2.5" */
    snprintf(series, sizeof series, "mcpbridge_tool_call_duration_seconds_sum{%s}", escaped);
    value_text(text, series, sum, sizeof sum);
    assert_string_equal(sum, "2.5");
    snprintf(series, sizeof series, "mcpbridge_tool_response_bytes_total{%s}", escaped);
    assert_int_equal(value_of(text, series), 0);

    assert_null(strstr(text, "never_called"));
    assert_null(strstr(text, "also_never"));

    assert_int_equal(check_histogram(text, "mcpbridge_phase_duration_seconds", "phase=\"guard\"", cum), 2);
    assert_int_equal(cum[1], 1); /* 250 at le="0.00025" */
    assert_int_equal(cum[3], 1);
    assert_int_equal(cum[4], 2); /* 1500 at le="0.0025" */
    value_text(text, "mcpbridge_phase_duration_seconds_sum{phase=\"guard\"}", sum, sizeof sum);
    assert_string_equal(sum, "0.00175");
    assert_int_equal(check_histogram(text, "mcpbridge_phase_duration_seconds", "phase=\"auth\"", NULL), 0);
    free(text);
    mb_call_stats_destroy(cs);
}

/* The same counters render the same bytes; a buffer too small reports its error. */
static void test_render_deterministic_and_capped(void **state)
{
    (void)state;
    const char *names[] = { "x", "y" };
    struct mb_call_stats *cs = mb_call_stats_create(names, 2);
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_OK, 333, 1);
    mb_call_stats_record_phase(cs, MB_PHASE_REQUEST, 42);
    char *first = render(cs);
    char *second = render(cs);
    assert_string_equal(first, second);

    struct mb_buf small;
    mb_buf_init(&small, strlen(first) - 1);
    assert_int_equal(mb_metrics_render_calls(cs, &small), -E2BIG);
    mb_buf_dispose(&small);
    struct mb_buf exact;
    mb_buf_init(&exact, strlen(first));
    assert_int_equal(mb_metrics_render_calls(cs, &exact), 0);
    assert_string_equal(exact.data, first);
    mb_buf_dispose(&exact);
    free(first);
    free(second);
    mb_call_stats_destroy(cs);
}

/* Names are kept up to 128 bytes (the catalog's own limit); a longer one is cut, never in the
 * middle of a UTF-8 character. */
static void test_tool_names_truncated(void **state)
{
    (void)state;
    char exact[129], longer[201], utf8[131];
    memset(exact, 'e', 128);
    exact[128] = '\0';
    memset(longer, 'l', 200);
    longer[200] = '\0';
    memset(utf8, 'u', 127);
    memcpy(utf8 + 127, "\xc3\xa9z", 4); /* bytes 127-128 are one character, then 'z' */
    const char *names[] = { exact, longer, utf8 };
    struct mb_call_stats *cs = mb_call_stats_create(names, 3);
    for (size_t i = 0; i < 3; i++)
        mb_call_stats_record_tool(cs, i, MB_OUTCOME_OK, 1, 1);
    char *text = render(cs);
    check_structure(text);
    char series[512];
    snprintf(series, sizeof series, "mcpbridge_tool_response_bytes_total{tool=\"%s\"}", exact);
    assert_int_equal(value_of(text, series), 1);
    snprintf(series, sizeof series, "mcpbridge_tool_response_bytes_total{tool=\"%.128s\"}", longer);
    assert_int_equal(value_of(text, series), 1);
    snprintf(series, sizeof series, "mcpbridge_tool_response_bytes_total{tool=\"%.127s\"}", utf8);
    assert_int_equal(value_of(text, series), 1);
    free(text);
    mb_call_stats_destroy(cs);
}

/* ---- bad arguments ---- */

static void test_out_of_range_ignored(void **state)
{
    (void)state;
    const char *names[] = { "only" };
    struct mb_call_stats *cs = mb_call_stats_create(names, 1);
    mb_call_stats_record_tool(cs, 1, MB_OUTCOME_OK, 10, 10);
    mb_call_stats_record_tool(cs, (size_t)1 << 40, MB_OUTCOME_OK, 10, 10);
    mb_call_stats_record_tool(cs, SIZE_MAX, MB_OUTCOME_OK, 10, 10);
    mb_call_stats_record_tool(cs, 0, MB_OUTCOME_COUNT, 10, 10);
    mb_call_stats_record_tool(cs, 0, (enum mb_call_outcome)-1, 10, 10);
    mb_call_stats_record_phase(cs, MB_PHASE_COUNT, 10);
    mb_call_stats_record_phase(cs, (enum mb_phase)-1, 10);
    mb_call_stats_count_method(cs, MB_METHOD_COUNT, true);
    mb_call_stats_count_method(cs, -1, true);
    mb_call_stats_count_method(cs, 1 << 20, false);

    uint64_t calls = 1, sum_us = 1;
    mb_call_stats_tool_totals(cs, &calls, &sum_us);
    assert_int_equal(calls, 0);
    assert_int_equal(sum_us, 0);
    assert_int_equal(mb_call_stats_method_total(cs, MB_METHOD_COUNT, true), 0);
    assert_int_equal(mb_call_stats_method_total(cs, -1, true), 0);
    struct mb_histogram h;
    memset(&h, 0xff, sizeof h);
    mb_call_stats_phase(cs, MB_PHASE_COUNT, &h);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.buckets[0], 0);
    char *text = render(cs);
    /* nothing counted anywhere: no tool series, every method and phase at zero */
    assert_int_equal(check_structure(text), MB_METHOD_COUNT * 2 + MB_PHASE_COUNT * 19 + MB_CIRCUIT_EVENT_COUNT);
    for (const char *p = strstr(text, "\n"); p; p = strstr(p + 1, "\n")) {
        if (p[1] == '#' || p[1] == '\0')
            continue;
        const char *space = strchr(p + 1, ' ');
        assert_true(space[1] == '0' && space[2] == '\n');
    }
    free(text);
    mb_call_stats_destroy(cs);
}

static void test_null_safe(void **state)
{
    (void)state;
    mb_call_stats_count_method(NULL, 0, true);
    mb_call_stats_record_phase(NULL, MB_PHASE_AUTH, 5);
    mb_call_stats_record_tool(NULL, 0, MB_OUTCOME_OK, 5, 5);
    assert_int_equal(mb_call_stats_method_total(NULL, 0, true), 0);
    struct mb_histogram h;
    memset(&h, 0xff, sizeof h);
    mb_call_stats_phase(NULL, MB_PHASE_AUTH, &h);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.sum_us, 0);
    for (size_t i = 0; i < MB_HIST_BUCKETS; i++)
        assert_int_equal(h.buckets[i], 0);
    uint64_t calls = 1, sum_us = 1;
    mb_call_stats_tool_totals(NULL, &calls, &sum_us);
    assert_int_equal(calls, 0);
    assert_int_equal(sum_us, 0);
    assert_true(mb_histogram_quantile(NULL, 0.5) == 0);
    mb_call_stats_destroy(NULL);

    char *text = render(NULL); /* headers only */
    assert_int_equal(check_structure(text), 0);
    assert_int_equal(count_lines(text, "# HELP "), NFAMILIES);
    assert_int_equal(count_lines(text, "# TYPE "), NFAMILIES);
    free(text);

    /* A catalog without tools still gets a region (method and phase counters). */
    struct mb_call_stats *cs = mb_call_stats_create(NULL, 0);
    assert_non_null(cs);
    mb_call_stats_record_tool(cs, 0, MB_OUTCOME_OK, 5, 5);
    mb_call_stats_count_method(cs, 0, true);
    assert_int_equal(mb_call_stats_method_total(cs, 0, true), 1);
    mb_call_stats_destroy(cs);
}

/* ---- across processes ---- */

/* Four processes record the same pattern at once (they wait for a start flag, so their loops
 * overlap); every add must land. */
static void test_across_processes(void **state)
{
    (void)state;
    enum { CHILDREN = 4, HOT = 1000000, N = 100000 };
    const char *names[] = { "t0", "t1", "hot" };
    struct mb_call_stats *cs = mb_call_stats_create(names, 3);
    assert_non_null(cs);
    _Atomic int *go = mmap(NULL, sizeof *go, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(go != MAP_FAILED);
    int call = mb_call_stats_method_index("tools/call");
    int ping = mb_call_stats_method_index("ping");
    pid_t pids[CHILDREN];
    int forked = 0;
    for (; forked < CHILDREN; forked++) {
        pids[forked] = fork();
        if (pids[forked] < 0)
            break; /* start and reap the ones that exist, then fail */
        if (pids[forked] == 0) {
            while (!atomic_load(go))
                sched_yield();
            /* Tight loops on one counter each: a lost update shows at once. */
            for (uint64_t j = 0; j < HOT; j++)
                mb_call_stats_count_method(cs, ping, true);
            for (uint64_t j = 0; j < HOT; j++)
                mb_call_stats_record_phase(cs, MB_PHASE_AUTH, 50);
            for (uint64_t j = 0; j < HOT; j++)
                mb_call_stats_record_tool(cs, 2, MB_OUTCOME_OK, 50, 3);
            /* Then a mix spread over buckets, outcomes and tools. */
            for (uint64_t j = 0; j < N; j++) {
                mb_call_stats_count_method(cs, call, j % 3 != 0);
                mb_call_stats_record_phase(cs, MB_PHASE_DOWNSTREAM, (j * 7919) % 12000000);
                mb_call_stats_record_tool(cs, j % 2, (enum mb_call_outcome)(j % 4), j % 3000, j);
            }
            _exit(0);
        }
    }
    atomic_store(go, 1);
    int clean_exits = 0;
    for (int c = 0; c < forked; c++) {
        int status;
        if (waitpid(pids[c], &status, 0) == pids[c] && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            clean_exits++;
    }
    assert_int_equal(forked, CHILDREN);
    assert_int_equal(clean_exits, CHILDREN);

    uint64_t want_buckets[17] = { 0 }, want_phase_sum = 0, want_tool_sum = 0, want_ok = 0;
    uint64_t want_bytes[2] = { 0 };
    for (uint64_t j = 0; j < N; j++) {
        uint64_t us = (j * 7919) % 12000000;
        want_buckets[expected_bucket(us)] += CHILDREN;
        want_phase_sum += CHILDREN * us;
        want_tool_sum += CHILDREN * (j % 3000);
        want_bytes[j % 2] += CHILDREN * j;
        if (j % 3 != 0)
            want_ok += CHILDREN;
    }
    uint64_t all = (uint64_t)CHILDREN * N, hot = (uint64_t)CHILDREN * HOT;
    assert_int_equal(mb_call_stats_method_total(cs, ping, true), hot);
    struct mb_histogram h;
    mb_call_stats_phase(cs, MB_PHASE_AUTH, &h);
    assert_int_equal(h.buckets[0], hot);
    assert_int_equal(h.sum_us, 50 * hot);
    assert_int_equal(mb_call_stats_method_total(cs, call, true), want_ok);
    assert_int_equal(mb_call_stats_method_total(cs, call, false), all - want_ok);
    mb_call_stats_phase(cs, MB_PHASE_DOWNSTREAM, &h);
    for (size_t i = 0; i < 17; i++)
        assert_int_equal(h.buckets[i], want_buckets[i]);
    assert_int_equal(h.count, all);
    assert_int_equal(h.sum_us, want_phase_sum);
    uint64_t calls, sum_us;
    mb_call_stats_tool_totals(cs, &calls, &sum_us);
    assert_int_equal(calls, all + hot);
    assert_int_equal(sum_us, want_tool_sum + 50 * hot);

    char *text = render(cs);
    check_structure(text);
    char sum[64];
    /* j % 4 picks the outcome and j % 2 the tool: t0 gets ok and denied, t1 tool_error and error. */
    uint64_t quarter = all / 4;
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"t0\",outcome=\"ok\"}"), quarter);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"t0\",outcome=\"denied\"}"), quarter);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"t0\",outcome=\"tool_error\"}"), 0);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"t1\",outcome=\"tool_error\"}"), quarter);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"t1\",outcome=\"error\"}"), quarter);
    assert_int_equal(value_of(text, "mcpbridge_tool_response_bytes_total{tool=\"t0\"}"), want_bytes[0]);
    assert_int_equal(value_of(text, "mcpbridge_tool_response_bytes_total{tool=\"t1\"}"), want_bytes[1]);
    assert_int_equal(check_histogram(text, "mcpbridge_tool_call_duration_seconds", "tool=\"t0\"", NULL), 2 * quarter);
    assert_int_equal(check_histogram(text, "mcpbridge_phase_duration_seconds", "phase=\"downstream\"", NULL), all);
    assert_int_equal(value_of(text, "mcpbridge_tool_calls_total{tool=\"hot\",outcome=\"ok\"}"), hot);
    assert_int_equal(value_of(text, "mcpbridge_tool_response_bytes_total{tool=\"hot\"}"), 3 * hot);
    uint64_t cum[17];
    assert_int_equal(check_histogram(text, "mcpbridge_tool_call_duration_seconds", "tool=\"hot\"", cum), hot);
    assert_int_equal(cum[0], hot);
    value_text(text, "mcpbridge_tool_call_duration_seconds_sum{tool=\"hot\"}", sum, sizeof sum);
    assert_string_equal(sum, "200"); /* 50 us x 4,000,000 calls */
    free(text);
    munmap(go, sizeof *go);
    mb_call_stats_destroy(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_indices),
        cmocka_unit_test(test_bucket_placement_at_bounds),
        cmocka_unit_test(test_methods_and_tool_totals),
        cmocka_unit_test(test_quantile_hand_computed),
        cmocka_unit_test(test_render_empty_region),
        cmocka_unit_test(test_render_values),
        cmocka_unit_test(test_render_deterministic_and_capped),
        cmocka_unit_test(test_tool_names_truncated),
        cmocka_unit_test(test_out_of_range_ignored),
        cmocka_unit_test(test_null_safe),
        cmocka_unit_test(test_across_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
