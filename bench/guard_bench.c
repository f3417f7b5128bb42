/* Throughput of the streaming response guard against jansson on the same document, same run.
 * Generates a JSON array of objects (strings and numbers) of about SIZE bytes (default 1 MiB),
 * then measures, as the median of REPS repetitions:
 *   trim_default  trim mode with the default limits, fed in 16 KiB chunks (curl's write size):
 *                 the array is cut to 50 items, the rest is scanned and counted;
 *   trim_copy     trim mode with limits above the document: the no-limit common case (a copy);
 *   jansson       json_loadb + json_dumpb of the same bytes.
 * Prints one JSON line; bench/guard_bench.sh also writes it to bench/results/latest-guard.json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard/guard.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *make_doc(size_t target, size_t *len)
{
    size_t cap = target + 4096, n = 0;
    char *d = malloc(cap);
    d[n++] = '[';
    for (unsigned i = 0; n < target - 300; i++) {
        n += (size_t)snprintf(d + n, cap - n,
                              "%s{\"id\":%u,\"name\":\"Customer %u\",\"email\":\"customer%u@example.com\","
                              "\"balance\":%u.%02u,\"active\":%s,\"city\":\"Z\\u00fcrich\","
                              "\"note\":\"Lorem ipsum dolor sit amet, consectetur adipiscing elit\"}",
                              i ? "," : "", i, i, i, i * 37 % 100000, i % 100,
                              i % 3 ? "true" : "false");
    }
    d[n++] = ']';
    d[n] = 0;
    *len = n;
    return d;
}

static double run_guard(const char *doc, size_t len, const struct mb_guard_limits *lim,
                        size_t *out_len)
{
    struct mb_buf out;
    struct mb_guard g;
    mb_buf_init(&out, lim->max_output_bytes);
    double t0 = now();
    if (mb_guard_init(&g, MB_GUARD_TRIM, MB_GUARD_JSON, lim, &out))
        abort();
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += 16384)
        rc = mb_guard_feed(&g, doc + off, len - off < 16384 ? len - off : 16384);
    if (mb_guard_finish(&g, NULL) < 0)
        abort();
    double t = now() - t0;
    *out_len = out.len;
    mb_buf_dispose(&out);
    return t;
}

static double run_jansson(const char *doc, size_t len, char *dst, size_t dcap)
{
    double t0 = now();
    json_error_t err;
    json_t *j = json_loadb(doc, len, 0, &err);
    if (!j)
        abort();
    size_t n = json_dumpb(j, dst, dcap, JSON_COMPACT);
    if (n == 0 || n > dcap)
        abort();
    json_decref(j);
    return now() - t0;
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 1 << 20;
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    size_t len, out_default = 0, out_copy = 0;
    char *doc = make_doc(size, &len);
    char *dst = malloc(2 * len);
    double *a = calloc((size_t)reps, sizeof *a), *b = calloc((size_t)reps, sizeof *b),
           *c = calloc((size_t)reps, sizeof *c);
    struct mb_guard_limits def, big;
    mb_guard_limits_default(&def);
    big = def;
    big.max_output_bytes = 2 * len;
    big.max_array_items = SIZE_MAX - 1;
    for (int r = 0; r < reps; r++) {
        a[r] = run_guard(doc, len, &def, &out_default);
        b[r] = run_guard(doc, len, &big, &out_copy);
        c[r] = run_jansson(doc, len, dst, 2 * len);
    }
    qsort(a, (size_t)reps, sizeof *a, cmp);
    qsort(b, (size_t)reps, sizeof *b, cmp);
    qsort(c, (size_t)reps, sizeof *c, cmp);
    double mb = (double)len / 1e6;
    printf("{\"bench\":\"guard\",\"doc_bytes\":%zu,\"reps\":%d,\"chunk_bytes\":16384,"
           "\"trim_default_mb_s\":%.0f,\"trim_default_out_bytes\":%zu,"
           "\"trim_copy_mb_s\":%.0f,\"trim_copy_out_bytes\":%zu,"
           "\"jansson_load_dump_mb_s\":%.0f,\"speedup_vs_jansson\":%.1f}\n",
           len, reps, mb / a[reps / 2], out_default, mb / b[reps / 2], out_copy, mb / c[reps / 2],
           c[reps / 2] / a[reps / 2]);
    free(a);
    free(b);
    free(c);
    free(dst);
    free(doc);
    return 0;
}
