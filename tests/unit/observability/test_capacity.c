/* Capacity signals, verdict and recommendation (src/observability/capacity.h). Two fixture
 * trees (tests/unit/observability/fixtures/capacity/t0 and t1, one second apart) prove the
 * maths from real file formats: CPU shares from /proc/stat and a cgroup quota, per-process CPU
 * and RSS, memory, PSI, network rate and link speed. Verdict and recommendation cases write
 * small /proc trees of their own into a temp directory, sample after sample with a fed clock.
 * Garbage cases truncate every fixture file at every length and write malformed values: the
 * sampler must not crash and unparsable figures must stay 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "observability/capacity.h"

#define T0_MS                      1700000000000ull /* 2023-11-14T22:13:20Z */
#define FIXTURE_PIDS_MASTER_HOST   100 /* its cgroup is the root: /proc/stat and meminfo */
#define FIXTURE_PIDS_MASTER_CGROUP 200 /* in system.slice/mcpbridge.service: quota in the parent   \
                                        */

static long hz(void)
{
    return sysconf(_SC_CLK_TCK);
}

static const char *fixture(const char *name)
{
    static char path[4][1024];
    static int next;
    const char *src = getenv("MB_SOURCE_DIR");
    char *out = path[next++ % 4];
    snprintf(out, sizeof path[0], "%s/tests/unit/observability/fixtures/capacity/%s",
             src ? src : ".", name);
    return out;
}

/* ---- temp trees */

struct tree {
    char root[256], proc[300], sys[300];
};

static void tree_init(struct tree *t)
{
    snprintf(t->root, sizeof t->root, "/tmp/mbcap.XXXXXX");
    assert_non_null(mkdtemp(t->root));
    snprintf(t->proc, sizeof t->proc, "%s/proc", t->root);
    snprintf(t->sys, sizeof t->sys, "%s/sys", t->root);
    assert_int_equal(mkdir(t->proc, 0700), 0);
    assert_int_equal(mkdir(t->sys, 0700), 0);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tree_dispose(struct tree *t)
{
    nftw(t->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs_for(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                fail_msg("mkdir %s: %s", dir, strerror(errno));
            *p = '/';
        }
    }
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    mkdirs_for(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Writes "<root>/<rel>" (root: t->root, so rel starts with proc/ or sys/). */
static void put(const struct tree *t, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(const struct tree *t, const char *rel, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof text);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", t->root, rel);
    write_bytes(path, text, (size_t)n);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(65536);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static const char *copy_root;
static int copy_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    char dst[1024];
    snprintf(dst, sizeof dst, "%s%s", copy_root, path + strlen(fixture("")) + 2 /* "t0" or "t1" */);
    size_t len;
    char *text = slurp(path, &len);
    write_bytes(dst, text, len);
    free(text);
    return 0;
}

/* Copies fixture t0 or t1 into the tree. */
static void tree_copy_fixture(struct tree *t, const char *name)
{
    copy_root = t->root;
    assert_int_equal(nftw(fixture(name), copy_entry, 16, FTW_PHYS), 0);
}

/* ---- sampling helpers */

static const struct mb_capacity_worker FIXTURE_WORKERS[2] = {
    {.id = 0, .pid = 101, .connections = 10, .connection_cap = 10000},
    {.id = 1, .pid = 102, .connections = 20, .connection_cap = 10000},
};

static void sample_fixture(struct mb_capacity *c, const char *proc, const char *sys, uint64_t now,
                           int master)
{
    struct mb_capacity_input in = {
        .now_unix_ms = now,
        .proc_root = proc,
        .sys_root = sys,
        .master_pid = master,
        .nworkers = 2,
        .workers = FIXTURE_WORKERS,
    };
    mb_capacity_sample(c, &in);
}

static void sample_named(struct mb_capacity *c, const char *name, uint64_t now, int master)
{
    char proc[1100], sys[1100];
    snprintf(proc, sizeof proc, "%s/proc", fixture(name));
    snprintf(sys, sizeof sys, "%s/sys", fixture(name));
    sample_fixture(c, proc, sys, now, master);
}

static void assert_near(double actual, double expected, double tolerance)
{
    if (!(fabs(actual - expected) <= tolerance))
        fail_msg("expected %.9g (+/- %g), got %.9g", expected, tolerance, actual);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

/* ---- fixture cases */

static void test_host_cpu_memory_and_processes(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    assert_non_null(c);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    assert_int_equal(s.sampled_unix_ms, 0);
    assert_int_equal(s.samples, 0);
    assert_int_equal(s.verdict, MB_VERDICT_WARMING_UP);

    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_HOST);
    mb_capacity_read(c, &s);
    assert_int_equal(s.samples, 1);
    assert_int_equal(s.verdict, MB_VERDICT_WARMING_UP);
    assert_int_equal(s.ncpu, 4);
    assert_near(s.instance_cpu_ratio, 0, 0); /* no interval yet */
    assert_near(s.workers[0].cpu_ratio, 0, 0);

    sample_named(c, "t1", T0_MS + 1000, FIXTURE_PIDS_MASTER_HOST);
    mb_capacity_read(c, &s);
    assert_int_equal(s.samples, 2);
    assert_int_equal(s.sampled_unix_ms, T0_MS + 1000);
    assert_int_equal(s.ncpu, 4);                            /* cpu0..cpu3 */
    assert_near(s.instance_cpu_ratio, 300.0 / 400.0, 1e-9); /* busy +300 of +400 jiffies */
    assert_int_equal(s.nworkers, 2);
    assert_int_equal(s.workers[0].pid, 101);
    assert_int_equal(s.workers[1].id, 1);
    assert_near(s.workers[0].cpu_ratio, 80.0 / hz(), 1e-9); /* utime+stime +80 ticks in 1 s */
    assert_near(s.workers[1].cpu_ratio, 20.0 / hz(), 1e-9);
    assert_near(s.process_cpu_ratio, (80.0 + 20 + 2) / hz() / 4, 1e-9); /* + the master's 2 ticks */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    assert_int_equal(s.workers[0].rss_bytes, 5000 * page);
    assert_int_equal(s.workers[1].rss_bytes, 6000 * page);
    assert_int_equal(s.rss_total_bytes, (5000 + 6000 + 1000) * page);
    assert_int_equal(s.workers[1].connections, 20);
    assert_int_equal(s.workers[1].connection_cap, 10000);
    assert_int_equal(s.mem_total_bytes, 16318412ull * 1024);
    assert_int_equal(s.mem_available_bytes, 8000000ull * 1024);
    /* 75% >= 70%: high, not yet for 300 s; nothing else fires, so the verdict stays ok */
    assert_int_equal(s.reasons, MB_REASON_CPU_HIGH);
    assert_int_equal(s.cpu_high_since_unix_ms, T0_MS + 1000);
    assert_int_equal(s.verdict, MB_VERDICT_OK);
    mb_capacity_destroy(c);
}

static void test_cgroup_quota_is_the_machine(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_CGROUP);
    sample_named(c, "t1", T0_MS + 1000, FIXTURE_PIDS_MASTER_CGROUP);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    /* system.slice/cpu.max "150000 100000": 1.5 CPUs, rounded up; the service's own "max" is
     * no quota, so the walk goes up one level */
    assert_int_equal(s.ncpu, 2);
    assert_near(s.instance_cpu_ratio, 900000.0 / (1e6 * 1.5), 1e-9); /* usage_usec +900000 */
    assert_near(s.process_cpu_ratio, (80.0 + 20 + 2) / hz() / 1.5, 1e-9);
    /* the service's memory.max 1 GiB, memory.current 512 MiB */
    assert_int_equal(s.mem_total_bytes, 1073741824ull);
    assert_int_equal(s.mem_available_bytes, 536870912ull);
    assert_int_equal(s.reasons, 0); /* 60% < 70% */
    assert_int_equal(s.cpu_high_since_unix_ms, 0);
    mb_capacity_destroy(c);
}

static void test_psi_parse(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_HOST);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    assert_true(s.psi_available);
    assert_near(s.psi_cpu_some_avg10, 5.0, 1e-9);
    assert_near(s.psi_memory_some_avg10, 1.5, 1e-9);
    assert_near(s.psi_memory_some_avg60, 2.25, 1e-9);
    assert_near(s.psi_memory_full_avg10, 0.5, 1e-9);
    assert_near(s.psi_io_some_avg10, 2.0, 1e-9);
    mb_capacity_destroy(c);

    /* The same avg60 over the threshold: memory pressure, and scale out. */
    struct mb_capacity_thresholds t;
    mb_capacity_thresholds_default(&t);
    t.memory_pressure_pct = 2.25;
    c = mb_capacity_create(&t);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_CGROUP);
    sample_named(c, "t1", T0_MS + 1000, FIXTURE_PIDS_MASTER_CGROUP);
    mb_capacity_read(c, &s);
    assert_int_equal(s.reasons, MB_REASON_MEMORY_PRESSURE);
    assert_int_equal(s.verdict, MB_VERDICT_SCALE_OUT);
    mb_capacity_destroy(c);
}

static void test_network_rate_and_link_speed(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_HOST);
    sample_named(c, "t1", T0_MS + 2000, FIXTURE_PIDS_MASTER_HOST); /* over 2 s */
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    /* eth0 +1,250,000 and wlan0 +50,000 received, eth0 +250,000 sent; lo left out */
    assert_near(s.net_rx_bytes_per_s, 1300000.0 / 2, 1e-6);
    assert_near(s.net_tx_bytes_per_s, 250000.0 / 2, 1e-6);
    /* eth0 is up at 100 Mbit/s; eth1 is down, wlan0's speed is -1 (unknown) */
    assert_int_equal(s.link_bytes_per_s, 100ull * 1000 * 1000 / 8);
    assert_near(s.network_ratio, 650000.0 / 12500000.0, 1e-9);
    assert_int_equal(s.reasons & MB_REASON_NETWORK_SATURATED, 0);
    mb_capacity_destroy(c);

    /* link_bytes_per_s from the configuration wins over /sys, and drives the verdict */
    struct mb_capacity_thresholds t;
    mb_capacity_thresholds_default(&t);
    t.link_bytes_per_s = 700000;
    c = mb_capacity_create(&t);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_CGROUP);
    sample_named(c, "t1", T0_MS + 2000, FIXTURE_PIDS_MASTER_CGROUP);
    mb_capacity_read(c, &s);
    assert_int_equal(s.link_bytes_per_s, 700000);
    assert_near(s.network_ratio, 650000.0 / 700000.0, 1e-9);
    assert_int_equal(s.reasons, MB_REASON_NETWORK_SATURATED);
    assert_int_equal(s.verdict, MB_VERDICT_SCALE_OUT);
    mb_capacity_destroy(c);
}

/* A worker restarted between samples (new pid in its slot) starts with no CPU figure instead of
 * a delta against another process's counters. */
static void test_new_pid_starts_fresh(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    char proc0[1100], sys0[1100], proc1[1100], sys1[1100];
    snprintf(proc0, sizeof proc0, "%s/proc", fixture("t0"));
    snprintf(sys0, sizeof sys0, "%s/sys", fixture("t0"));
    snprintf(proc1, sizeof proc1, "%s/proc", fixture("t1"));
    snprintf(sys1, sizeof sys1, "%s/sys", fixture("t1"));
    struct mb_capacity_worker before[1] = {{.id = 0, .pid = 101}};
    struct mb_capacity_worker after[1] = {{.id = 0, .pid = 102}};
    struct mb_capacity_input in = {.now_unix_ms = T0_MS,
                                   .proc_root = proc0,
                                   .sys_root = sys0,
                                   .master_pid = 100,
                                   .nworkers = 1,
                                   .workers = before};
    mb_capacity_sample(c, &in);
    in = (struct mb_capacity_input){.now_unix_ms = T0_MS + 1000,
                                    .proc_root = proc1,
                                    .sys_root = sys1,
                                    .master_pid = 100,
                                    .nworkers = 1,
                                    .workers = after};
    mb_capacity_sample(c, &in);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    assert_int_equal(s.workers[0].pid, 102);
    assert_near(s.workers[0].cpu_ratio, 0, 0);
    /* the master kept its pid: its delta still counts */
    assert_near(s.process_cpu_ratio, 2.0 / hz() / 4, 1e-9);
    /* t1 -> t0: every counter went backwards, nothing is measured */
    in = (struct mb_capacity_input){.now_unix_ms = T0_MS + 2000,
                                    .proc_root = proc0,
                                    .sys_root = sys0,
                                    .master_pid = 100,
                                    .nworkers = 1,
                                    .workers = after};
    mb_capacity_sample(c, &in);
    mb_capacity_read(c, &s);
    assert_near(s.workers[0].cpu_ratio, 0, 0);
    assert_near(s.instance_cpu_ratio, 0, 0);
    assert_near(s.net_rx_bytes_per_s, 0, 0);
    assert_int_equal(s.cpu_high_since_unix_ms, 0);
    mb_capacity_destroy(c);
}

/* ---- synthetic scenarios: a tree rewritten before each sample */

#define SC_MAX_WORKERS 16

struct scenario {
    struct mb_capacity *cap;
    struct tree tree;
    unsigned ncpu;
    uint64_t now, busy, total;
    size_t nworkers;
    uint64_t ticks[SC_MAX_WORKERS];
    struct mb_capacity_worker workers[SC_MAX_WORKERS];
    uint64_t calls, call_us;
    struct mb_capacity_snapshot s;
};

static void sc_write_and_sample(struct scenario *sc)
{
    const struct tree *t = &sc->tree;
    char cpus[1024] = "";
    for (unsigned i = 0; i < sc->ncpu; i++)
        snprintf(cpus + strlen(cpus), sizeof cpus - strlen(cpus), "cpu%u 1 0 1 1 0 0 0 0 0 0\n", i);
    put(t, "proc/stat", "cpu  %llu 0 0 %llu 0 0 0 0 0 0\n%sctxt 1\n", (unsigned long long)sc->busy,
        (unsigned long long)(sc->total - sc->busy), cpus);
    for (size_t i = 0; i < sc->nworkers; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "proc/%d/stat", sc->workers[i].pid);
        put(t, rel, "%d (mcpbridge) S 1 1 1 0 -1 0 0 0 0 0 %llu 0 0 0 20 0 1 0\n",
            sc->workers[i].pid, (unsigned long long)sc->ticks[i]);
    }
    struct mb_capacity_input in = {
        .now_unix_ms = sc->now,
        .proc_root = t->proc,
        .sys_root = t->sys,
        .master_pid = 0,
        .nworkers = sc->nworkers,
        .workers = sc->workers,
        .tool_calls_total = sc->calls,
        .tool_call_us_total = sc->call_us,
    };
    mb_capacity_sample(sc->cap, &in);
    mb_capacity_read(sc->cap, &sc->s);
}

/* ncpu CPUs, nworkers workers; takes the first sample at T0_MS. */
static void sc_init(struct scenario *sc, unsigned ncpu, size_t nworkers,
                    const struct mb_capacity_thresholds *t)
{
    memset(sc, 0, sizeof *sc);
    assert_true(nworkers <= SC_MAX_WORKERS);
    tree_init(&sc->tree);
    sc->cap = mb_capacity_create(t);
    assert_non_null(sc->cap);
    sc->ncpu = ncpu;
    sc->nworkers = nworkers;
    sc->now = T0_MS;
    sc->total = 1000000;
    for (size_t i = 0; i < nworkers; i++)
        sc->workers[i] =
            (struct mb_capacity_worker){.id = (int)i, .pid = 1000 + (int)i, .connection_cap = 1000};
    sc_write_and_sample(sc);
    assert_int_equal(sc->s.verdict, MB_VERDICT_WARMING_UP);
}

/* dt_ms later: the machine busy at instance_ratio, every worker at worker_ratio of a core. */
static void sc_step(struct scenario *sc, uint64_t dt_ms, double instance_ratio, double worker_ratio)
{
    sc->now += dt_ms;
    sc->total += 100000;
    sc->busy += (uint64_t)llround(instance_ratio * 100000);
    for (size_t i = 0; i < sc->nworkers; i++)
        sc->ticks[i] += (uint64_t)llround(worker_ratio * (double)hz() * (double)dt_ms / 1000);
    sc_write_and_sample(sc);
}

/* dt_ms later with calls tools/call of wall_ms each that cost cpu_s seconds of worker 0's CPU. */
static void sc_calls(struct scenario *sc, uint64_t dt_ms, uint64_t calls, double wall_ms,
                     double cpu_s)
{
    sc->now += dt_ms;
    sc->total += 100000;
    sc->calls += calls;
    sc->call_us += (uint64_t)llround((double)calls * wall_ms * 1000);
    sc->ticks[0] += (uint64_t)llround(cpu_s * (double)hz());
    sc_write_and_sample(sc);
}

static void sc_dispose(struct scenario *sc)
{
    mb_capacity_destroy(sc->cap);
    tree_dispose(&sc->tree);
}

static void test_cpu_sustain_timing_and_hysteresis(void **state)
{
    (void)state;
    struct mb_capacity_thresholds t;
    mb_capacity_thresholds_default(&t);
    t.sustain_seconds = 10;
    struct scenario sc;
    sc_init(&sc, 4, 4, &t); /* as many workers as CPUs: tuning cannot help */
    sc_step(&sc, 1000, 0.90, 0.9);
    uint64_t since = sc.now;
    assert_int_equal(sc.s.cpu_high_since_unix_ms, since);
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_HIGH);
    assert_int_equal(sc.s.verdict, MB_VERDICT_OK); /* high, not sustained: not a verdict yet */
    for (int i = 0; i < 8; i++)
        sc_step(&sc, 1000, 0.80, 0.9);
    assert_int_equal(sc.now - since, 8000);
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_HIGH);
    sc_step(&sc, 1999, 0.95, 0.9); /* 9.999 s */
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_HIGH);
    assert_int_equal(sc.s.verdict, MB_VERDICT_OK);
    sc_step(&sc, 1, 0.95, 0.9); /* 10 s */
    assert_int_equal(sc.s.cpu_high_since_unix_ms, since);
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_SUSTAINED);
    assert_int_equal(sc.s.verdict, MB_VERDICT_SCALE_OUT);
    /* one low sample clears it ... */
    sc_step(&sc, 1000, 0.69, 0.9);
    assert_int_equal(sc.s.cpu_high_since_unix_ms, 0);
    assert_int_equal(sc.s.reasons, 0);
    assert_int_equal(sc.s.verdict, MB_VERDICT_OK);
    /* ... and the next high one starts counting again */
    sc_step(&sc, 1000, 0.70, 0.9);
    assert_int_equal(sc.s.cpu_high_since_unix_ms, sc.now);
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_HIGH);
    sc_dispose(&sc);
}

static void test_cpu_sustained_tune_or_scale(void **state)
{
    (void)state;
    struct mb_capacity_thresholds t;
    mb_capacity_thresholds_default(&t);
    t.sustain_seconds = 0;
    struct scenario sc;
    /* one busy worker on 4 CPUs: more workers would use the CPUs it cannot reach */
    sc_init(&sc, 4, 1, &t);
    sc_step(&sc, 1000, 0.75, 0.95);
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_SUSTAINED);
    assert_int_equal(sc.s.verdict, MB_VERDICT_TUNE_WORKERS);
    /* the same machine load with an idle worker: the CPU goes elsewhere, more workers won't help */
    sc_step(&sc, 1000, 0.75, 0.05);
    assert_int_equal(sc.s.reasons, MB_REASON_CPU_SUSTAINED);
    assert_int_equal(sc.s.verdict, MB_VERDICT_SCALE_OUT);
    sc_dispose(&sc);
}

static void test_connections_near_cap(void **state)
{
    (void)state;
    struct scenario sc;
    sc_init(&sc, 2, 1, NULL);
    sc.workers[0].connections = 799; /* cap 1000, ratio 0.80 */
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.reasons, 0);
    assert_int_equal(sc.s.verdict, MB_VERDICT_OK);
    sc.workers[0].connections = 800;
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.reasons, MB_REASON_CONNECTIONS_NEAR_CAP);
    assert_int_equal(sc.s.verdict, MB_VERDICT_TUNE_WORKERS); /* 1 worker < 2 x 2 CPUs */
    sc.workers[0].connection_cap = 0;                        /* unknown cap: no verdict */
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.reasons, 0);
    sc_dispose(&sc);

    sc_init(&sc, 2, 4, NULL); /* already 2 x CPUs workers */
    sc.workers[3].connections = 950;
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.reasons, MB_REASON_CONNECTIONS_NEAR_CAP);
    assert_int_equal(sc.s.verdict, MB_VERDICT_SCALE_OUT);
    sc_dispose(&sc);
}

static void test_memory_pressure_beats_tuning(void **state)
{
    (void)state;
    struct scenario sc;
    sc_init(&sc, 2, 1, NULL);
    put(&sc.tree, "proc/pressure/memory",
        "some avg10=30.00 avg60=10.00 avg300=2.00 total=1\n"
        "full avg10=3.00 avg60=1.00 avg300=0.20 total=1\n");
    sc.workers[0].connections = 900;
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_true(sc.s.psi_available);
    assert_near(sc.s.psi_memory_some_avg60, 10.0, 1e-9);
    assert_int_equal(sc.s.reasons, MB_REASON_MEMORY_PRESSURE | MB_REASON_CONNECTIONS_NEAR_CAP);
    assert_int_equal(sc.s.verdict, MB_VERDICT_SCALE_OUT);
    put(&sc.tree, "proc/pressure/memory", "some avg10=30.00 avg60=9.99 avg300=2.00 total=1\n");
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.reasons, MB_REASON_CONNECTIONS_NEAR_CAP);
    assert_int_equal(sc.s.verdict, MB_VERDICT_TUNE_WORKERS);
    sc_dispose(&sc);
}

static void test_network_saturated_and_unknown_link(void **state)
{
    (void)state;
    struct mb_capacity_thresholds t;
    mb_capacity_thresholds_default(&t);
    t.network_ratio = 0; /* anything counts as saturated, once the link is known */
    struct scenario sc;
    sc_init(&sc, 2, 1, &t);
    put(&sc.tree, "proc/net/dev", "h\nh\n  eth0: 5000 1 0 0 0 0 0 0 5000 1 0 0 0 0 0 0\n");
    put(&sc.tree, "sys/class/net/eth0/operstate", "up\n");
    put(&sc.tree, "sys/class/net/eth0/speed", "-1\n");
    sc_step(&sc, 1000, 0.1, 0.1);
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.link_bytes_per_s, 0);
    assert_near(sc.s.network_ratio, 0, 0);
    assert_int_equal(sc.s.reasons, 0);
    assert_int_equal(sc.s.verdict, MB_VERDICT_OK);
    put(&sc.tree, "sys/class/net/eth0/speed", "1\n"); /* 1 Mbit/s = 125000 B/s */
    put(&sc.tree, "proc/net/dev", "h\nh\n  eth0: 105000 1 0 0 0 0 0 0 5000 1 0 0 0 0 0 0\n");
    sc_step(&sc, 1000, 0.1, 0.1);
    assert_int_equal(sc.s.link_bytes_per_s, 125000);
    assert_near(sc.s.network_ratio, 100000.0 / 125000, 1e-9);
    assert_int_equal(sc.s.reasons, MB_REASON_NETWORK_SATURATED);
    assert_int_equal(sc.s.verdict, MB_VERDICT_SCALE_OUT);
    sc_dispose(&sc);
}

static void test_warming_up_and_missing_data(void **state)
{
    (void)state;
    /* thresholds at 0: anything measured would fire; nothing is, so nothing fires */
    struct mb_capacity_thresholds t = {0};
    struct mb_capacity *c = mb_capacity_create(&t);
    struct tree tree;
    tree_init(&tree);
    struct mb_capacity_worker w[1] = {
        {.id = 0, .pid = 4242, .connections = 5, .connection_cap = 0}};
    struct mb_capacity_input in = {.now_unix_ms = T0_MS,
                                   .proc_root = tree.proc,
                                   .sys_root = tree.sys,
                                   .master_pid = 4241,
                                   .nworkers = 1,
                                   .workers = w};
    mb_capacity_sample(c, &in);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    assert_int_equal(s.verdict, MB_VERDICT_WARMING_UP);
    in.now_unix_ms += 1000;
    mb_capacity_sample(c, &in);
    mb_capacity_read(c, &s);
    assert_int_equal(s.verdict, MB_VERDICT_OK);
    assert_int_equal(s.reasons, 0);
    assert_int_equal(s.ncpu, 1); /* unknown: one */
    assert_false(s.psi_available);
    assert_int_equal(s.mem_total_bytes, 0);
    assert_int_equal(s.link_bytes_per_s, 0);
    assert_int_equal(s.workers[0].rss_bytes, 0);
    mb_capacity_destroy(c);

    /* one sample only: a trigger is reported, the verdict waits */
    struct scenario sc;
    memset(&sc, 0, sizeof sc);
    tree_init(&sc.tree);
    sc.cap = mb_capacity_create(NULL);
    sc.ncpu = 2;
    sc.nworkers = 1;
    sc.now = T0_MS;
    sc.total = 1000;
    sc.workers[0] = (struct mb_capacity_worker){
        .id = 0, .pid = 1000, .connections = 1000, .connection_cap = 1000};
    sc_write_and_sample(&sc);
    assert_int_equal(sc.s.reasons, MB_REASON_CONNECTIONS_NEAR_CAP);
    assert_int_equal(sc.s.verdict, MB_VERDICT_WARMING_UP);
    sc_dispose(&sc);
    tree_dispose(&tree);
}

/* ---- recommendation */

static void test_recommend_without_traffic_keeps_the_profile(void **state)
{
    (void)state;
    static const struct {
        size_t workers;
        enum mb_worker_profile profile;
        const char *says;
    } cases[] = {
        {1, MB_PROFILE_DEV, "keeping 1 worker (profile dev)"},
        {2, MB_PROFILE_IO, "keeping 2 workers (profile io)"},
        {4, MB_PROFILE_CPU, "keeping 4 workers (profile cpu)"},
        {8, MB_PROFILE_HA, "keeping 8 workers (profile ha)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scenario sc;
        sc_init(&sc, 4, cases[i].workers, NULL);
        sc_calls(&sc, 10000, 5, 20, 0.01); /* 0.5 calls/s: too few */
        assert_int_equal(sc.s.profile, cases[i].profile);
        assert_int_equal(sc.s.recommended_workers, cases[i].workers);
        assert_contains(sc.s.explanation, cases[i].says);
        assert_contains(sc.s.explanation, "0.5 calls/s");
        sc_dispose(&sc);
    }
}

static void test_recommend_io_bound(void **state)
{
    (void)state;
    struct scenario sc;
    sc_init(&sc, 4, 1, NULL);
    /* 1200 calls in 10 s, 38 ms each, 0.48 s of worker CPU: 0.4 ms CPU per call */
    sc_calls(&sc, 10000, 1200, 38, 0.48);
    assert_near(sc.s.calls_per_s, 120, 1e-9);
    assert_near(sc.s.cpu_us_per_call, 400, 400 * 0.5 / (0.48 * (double)hz())); /* tick rounding */
    assert_near(sc.s.wall_us_per_call, 38000, 1e-6);
    assert_int_equal(sc.s.profile, MB_PROFILE_IO);
    assert_int_equal(sc.s.recommended_workers, 2);
    assert_contains(sc.s.explanation,
                    "tools/call uses 0.4 ms CPU per 38 ms wall (1.1%): I/O-bound.");
    assert_contains(sc.s.explanation,
                    "2 workers (profile io) carry the measured 120 calls/s at 4.8% of one CPU.");
    /* one quiet second: the smoothed rate barely moves and the advice holds */
    sc_calls(&sc, 1000, 0, 38, 0);
    assert_true(sc.s.calls_per_s > 110 && sc.s.calls_per_s < 120);
    assert_int_equal(sc.s.profile, MB_PROFILE_IO);
    /* a reload restarts the cumulative counters: no negative interval, no change */
    double before = sc.s.calls_per_s;
    sc.calls = 3;
    sc.call_us = 1000;
    sc_calls(&sc, 1000, 0, 38, 0);
    assert_near(sc.s.calls_per_s, before, 1e-9);
    sc_dispose(&sc);
}

static void test_recommend_cpu(void **state)
{
    (void)state;
    struct scenario sc;
    /* I/O-bound (0.5 ms CPU per 10 ms) but 3000 calls/s keep 1.5 CPUs busy: 3 workers at 70% */
    sc_init(&sc, 4, 2, NULL);
    sc_calls(&sc, 10000, 30000, 10, 15);
    assert_near(sc.s.cpu_us_per_call / sc.s.wall_us_per_call, 0.05, 1e-3);
    assert_int_equal(sc.s.profile, MB_PROFILE_CPU);
    assert_int_equal(sc.s.recommended_workers, 4);
    assert_contains(sc.s.explanation, "I/O-bound");
    assert_contains(sc.s.explanation, "4 workers (profile cpu, one per usable CPU)");
    assert_contains(sc.s.explanation, "keeping 1.5 CPUs busy");
    sc_dispose(&sc);

    /* CPU-bound: 3 ms CPU per 4 ms wall, 100 calls/s */
    sc_init(&sc, 4, 2, NULL);
    sc_calls(&sc, 10000, 1000, 4, 3);
    assert_int_equal(sc.s.profile, MB_PROFILE_CPU);
    assert_int_equal(sc.s.recommended_workers, 4);
    assert_contains(sc.s.explanation, "3.0 ms CPU per 4.0 ms wall (75%): CPU-bound.");
    assert_contains(sc.s.explanation, "at 30% of one CPU");
    sc_dispose(&sc);
}

static void test_recommend_ha(void **state)
{
    (void)state;
    struct scenario sc;
    /* 2000 calls/s x 2 ms CPU = 4 CPUs busy; at 70% that needs 6 > 4: over-provision, scale out */
    sc_init(&sc, 4, 4, NULL);
    sc_calls(&sc, 10000, 20000, 5, 40);
    assert_int_equal(sc.s.profile, MB_PROFILE_HA);
    assert_int_equal(sc.s.recommended_workers, 8);
    assert_contains(sc.s.explanation, "need 6 CPUs");
    assert_contains(sc.s.explanation, "adding instances is better");
    sc_dispose(&sc);

    /* an operator already running 2 x CPUs keeps ha; the explanation says what the load needs */
    sc_init(&sc, 4, 8, NULL);
    sc_calls(&sc, 10000, 1200, 38, 0.48);
    assert_int_equal(sc.s.profile, MB_PROFILE_HA);
    assert_int_equal(sc.s.recommended_workers, 8);
    assert_contains(sc.s.explanation,
                    "2 workers (profile io) would carry the measured 120 calls/s");
    assert_contains(sc.s.explanation, "the 8 running (profile ha) add redundancy only");
    sc_dispose(&sc);
}

/* ---- publication */

/* A reader in another process copies while the master publishes thousands of snapshots whose
 * every worker slot carries the sample number: a torn copy would mix two numbers. */
static void test_seqlock_never_tears(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    struct tree tree;
    tree_init(&tree);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        static struct mb_capacity_snapshot s;
        unsigned distinct = 0, last = 0, torn = 0;
        for (long i = 0; i < 3000000 && distinct < 3000; i++) {
            mb_capacity_read(c, &s);
            if (s.samples == 0)
                continue;
            if (s.nworkers != 1 + s.samples % MB_CAPACITY_MAX_WORKERS ||
                s.sampled_unix_ms != s.samples)
                torn++;
            for (unsigned k = 0; k < s.nworkers; k++)
                if (s.workers[k].id != (int)s.samples || s.workers[k].connections != s.samples)
                    torn++;
            if (s.samples != last)
                distinct++;
            last = s.samples;
        }
        _exit(torn == 0 && distinct >= 2 ? 0 : 1);
    }
    static struct mb_capacity_worker w[MB_CAPACITY_MAX_WORKERS];
    int status = 0;
    for (unsigned n = 1; n < 2000000; n++) {
        unsigned count = 1 + n % MB_CAPACITY_MAX_WORKERS;
        for (unsigned k = 0; k < count; k++)
            w[k] = (struct mb_capacity_worker){.id = (int)n, .pid = 0, .connections = n};
        struct mb_capacity_input in = {.now_unix_ms = n,
                                       .proc_root = tree.proc,
                                       .sys_root = tree.sys,
                                       .nworkers = count,
                                       .workers = w};
        mb_capacity_sample(c, &in);
        if (waitpid(child, &status, WNOHANG) == child)
            break;
    }
    if (waitpid(child, &status, WNOHANG) == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        fail_msg("the reader did not finish while the writer published");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tree_dispose(&tree);
    mb_capacity_destroy(c);
}

static void test_json_shape(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_HOST);
    sample_named(c, "t1", T0_MS + 1000, FIXTURE_PIDS_MASTER_HOST);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    json_t *j = mb_capacity_to_json(&s);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "ok");
    json_t *reasons = json_object_get(j, "reasons");
    assert_int_equal(json_array_size(reasons), 1);
    assert_string_equal(json_string_value(json_array_get(reasons, 0)), "cpu_high");
    assert_int_equal(json_integer_value(json_object_get(j, "samples")), 2);
    json_t *cpu = json_object_get(j, "cpu");
    assert_int_equal(json_integer_value(json_object_get(cpu, "usable")), 4);
    assert_near(json_real_value(json_object_get(cpu, "instance_ratio")), 0.75, 1e-9);
    assert_string_equal(json_string_value(json_object_get(cpu, "high_since")),
                        "2023-11-14T22:13:21.000Z");
    json_t *memory = json_object_get(j, "memory");
    assert_int_equal(json_integer_value(json_object_get(memory, "total_bytes")), 16318412ll * 1024);
    json_t *psi = json_object_get(j, "psi");
    assert_true(json_is_object(psi));
    assert_near(json_real_value(json_object_get(psi, "memory_some_avg60")), 2.25, 1e-9);
    json_t *net = json_object_get(j, "network");
    assert_int_equal(json_integer_value(json_object_get(net, "link_bytes_per_s")), 12500000);
    assert_near(json_real_value(json_object_get(net, "rx_bytes_per_s")), 1300000, 1e-9);
    assert_near(json_real_value(json_object_get(net, "saturation_ratio")), 0.104, 1e-9);
    json_t *workers = json_object_get(j, "workers");
    assert_int_equal(json_array_size(workers), 2);
    json_t *w1 = json_array_get(workers, 1);
    assert_int_equal(json_integer_value(json_object_get(w1, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(w1, "pid")), 102);
    assert_true(json_is_real(json_object_get(w1, "cpu")));
    assert_int_equal(json_integer_value(json_object_get(w1, "rss_bytes")),
                     6000 * sysconf(_SC_PAGESIZE));
    assert_int_equal(json_integer_value(json_object_get(w1, "connections")), 20);
    assert_int_equal(json_integer_value(json_object_get(w1, "connection_cap")), 10000);
    json_t *rec = json_object_get(j, "recommendation");
    assert_string_equal(json_string_value(json_object_get(rec, "profile")),
                        "io"); /* 2 workers, no calls */
    assert_int_equal(json_integer_value(json_object_get(rec, "workers")), 2);
    assert_true(json_is_number(json_object_get(rec, "cpu_ms_per_call")));
    assert_true(json_is_number(json_object_get(rec, "wall_ms_per_call")));
    assert_true(json_is_number(json_object_get(rec, "calls_per_s")));
    assert_string_equal(json_string_value(json_object_get(rec, "explanation")), s.explanation);
    assert_string_equal(json_string_value(json_object_get(j, "sampled_at")),
                        "2023-11-14T22:13:21.000Z");
    json_decref(j);

    /* no PSI, unknown link, never sampled: nulls, not zeros */
    struct mb_capacity_snapshot empty;
    memset(&empty, 0, sizeof empty);
    j = mb_capacity_to_json(&empty);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "warming_up");
    assert_true(json_is_null(json_object_get(j, "psi")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "network"), "link_bytes_per_s")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "network"), "saturation_ratio")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "cpu"), "high_since")));
    assert_true(json_is_null(json_object_get(j, "sampled_at")));
    assert_int_equal(json_array_size(json_object_get(j, "workers")), 0);
    json_decref(j);
    mb_capacity_destroy(c);
}

static void test_metrics(void **state)
{
    (void)state;
    struct mb_capacity *c = mb_capacity_create(NULL);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_HOST);
    sample_named(c, "t1", T0_MS + 1000, FIXTURE_PIDS_MASTER_HOST);
    struct mb_capacity_snapshot s;
    mb_capacity_read(c, &s);
    struct mb_buf out;
    mb_buf_init(&out, 1 << 20);
    assert_int_equal(mb_capacity_render_metrics(&s, &out), 0);
    const char *m = out.data;
    assert_contains(m, "# HELP mcpbridge_capacity_verdict ");
    assert_contains(m, "# TYPE mcpbridge_capacity_verdict gauge\n");
    assert_contains(m, "mcpbridge_capacity_verdict{verdict=\"ok\"} 1\n");
    assert_contains(m, "mcpbridge_capacity_verdict{verdict=\"scale_out\"} 0\n");
    assert_contains(m, "mcpbridge_capacity_reason{reason=\"cpu_high\"} 1\n");
    assert_contains(m, "mcpbridge_capacity_reason{reason=\"memory_pressure\"} 0\n");
    char line[128];
    snprintf(line, sizeof line, "mcpbridge_worker_rss_bytes{worker=\"1\"} %ld\n",
             6000 * sysconf(_SC_PAGESIZE));
    assert_contains(m, line);
    assert_contains(m, "mcpbridge_worker_connections{worker=\"0\"} 10\n");
    assert_contains(m, "mcpbridge_worker_connection_cap{worker=\"1\"} 10000\n");
    assert_contains(m, "mcpbridge_instance_cpu_ratio 0.75\n");
    assert_contains(m, "mcpbridge_psi_memory_some_avg10_ratio 0.015\n");
    assert_contains(m, "mcpbridge_network_receive_bytes_per_second 1300000\n");
    assert_contains(m, "mcpbridge_network_saturation_ratio 0.104\n");
    assert_contains(m, "# TYPE mcpbridge_tool_calls_per_second gauge\n");
    assert_contains(m, "# TYPE mcpbridge_cpu_seconds_per_call gauge\n");
    assert_contains(m, "mcpbridge_recommended_workers{profile=\"io\"} 2\n");
    /* every sample line belongs to a family announced before it */
    const char *p = m;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (*p != '#') {
            char name[128];
            size_t n = strcspn(p, "{ ");
            assert_true(n < sizeof name);
            memcpy(name, p, n);
            name[n] = '\0';
            char type[160];
            snprintf(type, sizeof type, "# TYPE %s gauge\n", name);
            const char *declared = strstr(m, type);
            assert_true(declared && declared < p);
        }
        p = nl + 1;
    }
    mb_buf_dispose(&out);

    s.psi_available = false;
    mb_buf_init(&out, 1 << 20);
    assert_int_equal(mb_capacity_render_metrics(&s, &out), 0);
    assert_null(strstr(out.data, "mcpbridge_psi_"));
    mb_buf_dispose(&out);
    /* a buffer too small fails with the buffer's error, not a crash */
    mb_buf_init(&out, 100);
    assert_int_equal(mb_capacity_render_metrics(&s, &out), -E2BIG);
    mb_buf_dispose(&out);
    mb_capacity_destroy(c);
}

/* ---- garbage */

static void assert_sane(const struct mb_capacity_snapshot *s)
{
    assert_true(isfinite(s->instance_cpu_ratio) && s->instance_cpu_ratio >= 0 &&
                s->instance_cpu_ratio <= 1);
    assert_true(isfinite(s->process_cpu_ratio) && s->process_cpu_ratio >= 0 &&
                s->process_cpu_ratio <= 1);
    assert_true(isfinite(s->network_ratio) && s->network_ratio >= 0);
    assert_true(isfinite(s->net_rx_bytes_per_s) && isfinite(s->net_tx_bytes_per_s));
    const double psi[] = {s->psi_cpu_some_avg10, s->psi_memory_some_avg10, s->psi_memory_some_avg60,
                          s->psi_memory_full_avg10, s->psi_io_some_avg10};
    for (size_t i = 0; i < sizeof psi / sizeof psi[0]; i++)
        assert_true(psi[i] >= 0 && psi[i] <= 100);
    for (unsigned i = 0; i < s->nworkers; i++)
        assert_true(isfinite(s->workers[i].cpu_ratio) && s->workers[i].cpu_ratio >= 0);
    assert_true(s->ncpu >= 1);
    assert_true(s->verdict <= MB_VERDICT_SCALE_OUT);
    assert_true(s->profile <= MB_PROFILE_HA);
    assert_true(s->recommended_workers >= 1 && s->recommended_workers <= 2 * s->ncpu);
    assert_true(memchr(s->explanation, '\0', sizeof s->explanation) != NULL);
    assert_true(s->explanation[0] != '\0');
    json_t *j = mb_capacity_to_json(s);
    assert_non_null(j);
    char *text = json_dumps(j, 0);
    assert_non_null(text);
    free(text);
    json_decref(j);
    struct mb_buf out;
    mb_buf_init(&out, 1 << 20);
    assert_int_equal(mb_capacity_render_metrics(s, &out), 0);
    mb_buf_dispose(&out);
}

/* Every fixture file of t1 cut at every length (a file read while the kernel rewrote it, a
 * short read), sampled after a good t0, for both the host and the cgroup master. */
static void test_garbage_truncated_files(void **state)
{
    (void)state;
    static const char *files[] = {
        "proc/stat",
        "proc/meminfo",
        "proc/pressure/cpu",
        "proc/pressure/memory",
        "proc/pressure/io",
        "proc/net/dev",
        "proc/100/stat",
        "proc/100/statm",
        "proc/100/cgroup",
        "proc/101/stat",
        "proc/101/statm",
        "proc/200/cgroup",
        "sys/class/net/eth0/speed",
        "sys/class/net/eth0/operstate",
        "sys/fs/cgroup/system.slice/cpu.max",
        "sys/fs/cgroup/system.slice/cpu.stat",
        "sys/fs/cgroup/system.slice/mcpbridge.service/memory.max",
        "sys/fs/cgroup/system.slice/mcpbridge.service/memory.current",
    };
    struct tree tree;
    tree_init(&tree);
    tree_copy_fixture(&tree, "t1");
    unsigned samples = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", tree.root, files[f]);
        size_t len;
        char *original = slurp(path, &len);
        for (size_t cut = 0; cut < len; cut++) {
            write_bytes(path, original, cut);
            for (int master = FIXTURE_PIDS_MASTER_HOST; master <= FIXTURE_PIDS_MASTER_CGROUP;
                 master += 100) {
                struct mb_capacity *c = mb_capacity_create(NULL);
                sample_named(c, "t0", T0_MS, master);
                sample_fixture(c, tree.proc, tree.sys, T0_MS + 1000, master);
                struct mb_capacity_snapshot s;
                mb_capacity_read(c, &s);
                assert_sane(&s);
                samples++;
                mb_capacity_destroy(c);
            }
        }
        write_bytes(path, original, len);
        free(original);
    }
    assert_true(samples > 1000);
    tree_dispose(&tree);
}

/* Malformed values: each stays 0 (or unknown) instead of becoming a wrong figure. */
static void test_garbage_values(void **state)
{
    (void)state;
    struct tree tree;
    tree_init(&tree);
    tree_copy_fixture(&tree, "t1");
    struct mb_capacity *c;
    struct mb_capacity_snapshot s;
#define RESAMPLE(master)                                                                           \
    do {                                                                                           \
        c = mb_capacity_create(NULL);                                                              \
        sample_named(c, "t0", T0_MS, master);                                                      \
        sample_fixture(c, tree.proc, tree.sys, T0_MS + 1000, master);                              \
        mb_capacity_read(c, &s);                                                                   \
        assert_sane(&s);                                                                           \
        mb_capacity_destroy(c);                                                                    \
    } while (0)

    /* numbers past 2^64, and a kB value that overflows when multiplied */
    put(&tree, "proc/meminfo",
        "MemTotal: 99999999999999999999999 kB\nMemAvailable: 18014398509481984 kB\n");
    put(&tree, "proc/stat", "cpu  18446744073709551616 1 2 3\ncpu0 1\n");
    put(&tree, "proc/101/stat", "101 (w) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999999 1 0\n");
    RESAMPLE(FIXTURE_PIDS_MASTER_HOST);
    assert_int_equal(s.mem_total_bytes, 0);
    assert_int_equal(s.mem_available_bytes, 0);
    assert_near(s.instance_cpu_ratio, 0, 0);
    assert_int_equal(s.ncpu, 1);
    assert_near(s.workers[0].cpu_ratio, 0, 0);

    /* PSI: words, exponents, NaN, values over 100, a missing '=' */
    put(&tree, "proc/pressure/memory",
        "some avg10=abc avg60=1e999 avg300=nan\nfull avg10=250.0 avg60\n");
    put(&tree, "proc/pressure/cpu", "some avg10=-5.00\n");
    put(&tree, "proc/pressure/io", "\n\n\n");
    RESAMPLE(FIXTURE_PIDS_MASTER_HOST);
    assert_false(s.psi_available);
    assert_near(s.psi_memory_some_avg60, 0, 0);
    assert_near(s.psi_memory_full_avg10, 0, 0);

    /* a stat line with no ')' and one cut before utime; statm with letters */
    put(&tree, "proc/101/stat", "101 (mcpbridge S 1 1 1 0 -1 0 0 0 0 0 1050 530\n");
    put(&tree, "proc/102/stat", "102 (w) S 1 1 1 0 -1\n");
    put(&tree, "proc/101/statm", "lots of pages\n");
    RESAMPLE(FIXTURE_PIDS_MASTER_HOST);
    assert_near(s.workers[0].cpu_ratio, 0, 0);
    assert_near(s.workers[1].cpu_ratio, 0, 0);
    assert_int_equal(s.workers[0].rss_bytes, 0);

    /* net/dev: too few fields, an oversized name, a name that would leave /sys; speed garbage */
    put(&tree, "proc/net/dev",
        "h\nh\n  eth0: 1 2 3\naveryveryverylonginterfacename: 1 0 0 0 0 0 0 0 1 0\n"
        "  ..: 5 0 0 0 0 0 0 0 5 0\n");
    put(&tree, "sys/class/net/eth0/speed", "99999999999999999999\n");
    RESAMPLE(FIXTURE_PIDS_MASTER_HOST);
    assert_near(s.net_rx_bytes_per_s, 0, 0);
    assert_int_equal(s.link_bytes_per_s, 0);

    /* cgroup: a zero quota or period is no quota, a path with ".." is ignored */
    tree_dispose(&tree);
    tree_init(&tree);
    tree_copy_fixture(&tree, "t1");
    put(&tree, "sys/fs/cgroup/system.slice/cpu.max", "150000 0\n");
    put(&tree, "sys/fs/cgroup/system.slice/mcpbridge.service/memory.max", "max\n");
    RESAMPLE(FIXTURE_PIDS_MASTER_CGROUP);
    assert_int_equal(s.ncpu, 4); /* back to /proc/stat */
    assert_int_equal(s.mem_total_bytes, 16318412ull * 1024);
    put(&tree, "proc/200/cgroup", "0::/../../etc\n");
    put(&tree, "sys/fs/cgroup/system.slice/cpu.max", "abc\n");
    RESAMPLE(FIXTURE_PIDS_MASTER_CGROUP);
    assert_int_equal(s.ncpu, 4);

    /* binary noise with NULs, and a directory where a file should be */
    static const char noise[] = "cpu  12\0 34 56 78\n\xff\xfe\x01cpu0 \0\n";
    char path[1024];
    snprintf(path, sizeof path, "%s/proc/stat", tree.root);
    write_bytes(path, noise, sizeof noise - 1);
    snprintf(path, sizeof path, "%s/proc/meminfo", tree.root);
    assert_int_equal(remove(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    RESAMPLE(FIXTURE_PIDS_MASTER_HOST);
    assert_int_equal(s.mem_total_bytes, 0);
    assert_near(s.instance_cpu_ratio, 0, 0);

    /* a clock that goes backwards is no interval */
    c = mb_capacity_create(NULL);
    sample_named(c, "t0", T0_MS, FIXTURE_PIDS_MASTER_HOST);
    sample_named(c, "t1", T0_MS - 1000, FIXTURE_PIDS_MASTER_HOST);
    mb_capacity_read(c, &s);
    assert_near(s.instance_cpu_ratio, 0, 0);
    assert_near(s.workers[0].cpu_ratio, 0, 0);
    assert_sane(&s);
    mb_capacity_destroy(c);
#undef RESAMPLE
    tree_dispose(&tree);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mb_capacity_verdict_name(MB_VERDICT_WARMING_UP), "warming_up");
    assert_string_equal(mb_capacity_verdict_name(MB_VERDICT_OK), "ok");
    assert_string_equal(mb_capacity_verdict_name(MB_VERDICT_TUNE_WORKERS), "tune_workers");
    assert_string_equal(mb_capacity_verdict_name(MB_VERDICT_SCALE_OUT), "scale_out");
    assert_string_equal(mb_worker_profile_name(MB_PROFILE_DEV), "dev");
    assert_string_equal(mb_worker_profile_name(MB_PROFILE_IO), "io");
    assert_string_equal(mb_worker_profile_name(MB_PROFILE_CPU), "cpu");
    assert_string_equal(mb_worker_profile_name(MB_PROFILE_HA), "ha");
    struct mb_capacity_thresholds t;
    mb_capacity_thresholds_default(&t);
    assert_near(t.cpu_ratio, 0.70, 0);
    assert_int_equal(t.sustain_seconds, 300);
    assert_near(t.memory_pressure_pct, 10.0, 0);
    assert_near(t.network_ratio, 0.80, 0);
    assert_int_equal(t.link_bytes_per_s, 0);
    assert_near(t.connections_ratio, 0.80, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_cpu_memory_and_processes),
        cmocka_unit_test(test_cgroup_quota_is_the_machine),
        cmocka_unit_test(test_psi_parse),
        cmocka_unit_test(test_network_rate_and_link_speed),
        cmocka_unit_test(test_new_pid_starts_fresh),
        cmocka_unit_test(test_cpu_sustain_timing_and_hysteresis),
        cmocka_unit_test(test_cpu_sustained_tune_or_scale),
        cmocka_unit_test(test_connections_near_cap),
        cmocka_unit_test(test_memory_pressure_beats_tuning),
        cmocka_unit_test(test_network_saturated_and_unknown_link),
        cmocka_unit_test(test_warming_up_and_missing_data),
        cmocka_unit_test(test_recommend_without_traffic_keeps_the_profile),
        cmocka_unit_test(test_recommend_io_bound),
        cmocka_unit_test(test_recommend_cpu),
        cmocka_unit_test(test_recommend_ha),
        cmocka_unit_test(test_seqlock_never_tears),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_garbage_truncated_files),
        cmocka_unit_test(test_garbage_values),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
