/* Capacity sampler, verdict and worker-count recommendation (contract in capacity.h; the rules
 * and their reasons in docs/internals/capacity.md). One anonymous shared mapping holds the
 * published snapshot behind a sequence counter (odd while the master writes; readers copy and
 * retry until they saw one even value before and after) and, after it, the master's private
 * state: thresholds, the previous sample's counters (per pid, instance CPU, network, tools/call
 * totals) and the smoothed rates behind the recommendation. Every file is read into a bounded
 * buffer and parsed by small functions that accept garbage: a field that does not parse stays
 * missing, a counter that goes backwards starts a fresh interval, and missing data never drives
 * a verdict. */
#include "observability/capacity.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "observability/metrics.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the sequence counter is shared between processes");

#define PATH_CAP           1024
#define SMALL_FILE_CAP     8192        /* stat, statm, meminfo, pressure, cgroup files */
#define NET_DEV_CAP        (64 * 1024) /* /proc/net/dev; interfaces past this are not counted */
#define MAX_INTERFACES     64
#define CGROUP_DEPTH_MAX   32
#define EWMA_SECONDS       60.0 /* the recommendation's smoothing time constant */
#define MIN_CALLS_PER_S    1.0  /* below this the CPU per call is mostly idle overhead */
#define IO_BOUND_RATIO     0.2  /* CPU time / wall time per call below which a call is I/O-bound */
#define IO_PROFILE_WORKERS 2u
#define READ_SPIN_LIMIT    100000 /* reader attempts before giving up on a stuck writer */

struct pid_ticks {
    int pid;
    uint64_t ticks; /* utime + stime */
};

/* Scratch space for one file: its path and its text. */
struct collect {
    char path[PATH_CAP];
    char buf[SMALL_FILE_CAP];
};

enum cpu_source { CPU_SOURCE_NONE, CPU_SOURCE_PROC_STAT, CPU_SOURCE_CGROUP };

/* What only the master touches. */
struct sampler {
    struct mb_capacity_thresholds thresholds;
    unsigned samples;
    bool have_prev;
    uint64_t prev_ms;
    size_t prev_pid_count;
    struct pid_ticks prev_pids[MB_CAPACITY_MAX_WORKERS + 1]; /* workers and the master */
    enum cpu_source cpu_source;
    char cpu_cgroup[PATH_CAP];              /* the cgroup (under fs/cgroup) whose quota is used */
    uint64_t prev_cpu_busy, prev_cpu_total; /* /proc/stat jiffies, or cgroup usage_usec in busy */
    bool have_prev_net;
    uint64_t prev_rx, prev_tx;
    bool have_prev_calls;
    uint64_t prev_calls, prev_call_us;
    bool have_rates;
    double calls_rate, worker_cpu_us_rate, call_wall_us_rate; /* EWMA, per second */
    uint64_t cpu_high_since_ms;
    /* this sample: which figures were measured (unmeasured ones are 0 and drive no verdict) */
    bool cpu_measured, network_measured, memory_psi_measured;
    long page_size, clock_ticks;      /* sysconf, read at create */
    struct mb_capacity_snapshot work; /* built here, then published */
    struct collect co;
    char net_dev[NET_DEV_CAP];
};

struct mb_capacity {
    _Atomic uint64_t seq;
    struct mb_capacity_snapshot published;
    struct sampler sampler;
};

void mb_capacity_thresholds_default(struct mb_capacity_thresholds *t)
{
    *t = (struct mb_capacity_thresholds){
        .cpu_ratio = 0.70,
        .sustain_seconds = 300,
        .memory_pressure_pct = 10.0,
        .network_ratio = 0.80,
        .link_bytes_per_s = 0,
        .connections_ratio = 0.80,
    };
}

const char *mb_capacity_verdict_name(enum mb_capacity_verdict v)
{
    switch (v) {
    case MB_VERDICT_WARMING_UP:
        return "warming_up";
    case MB_VERDICT_OK:
        return "ok";
    case MB_VERDICT_TUNE_WORKERS:
        return "tune_workers";
    case MB_VERDICT_SCALE_OUT:
        return "scale_out";
    }
    return "warming_up";
}

const char *mb_worker_profile_name(enum mb_worker_profile p)
{
    switch (p) {
    case MB_PROFILE_DEV:
        return "dev";
    case MB_PROFILE_IO:
        return "io";
    case MB_PROFILE_CPU:
        return "cpu";
    case MB_PROFILE_HA:
        return "ha";
    }
    return "dev";
}

static const struct {
    unsigned bit;
    const char *name;
} reason_names[] = {
    {MB_REASON_CPU_SUSTAINED, "cpu_sustained"},
    {MB_REASON_MEMORY_PRESSURE, "memory_pressure"},
    {MB_REASON_NETWORK_SATURATED, "network_saturated"},
    {MB_REASON_CONNECTIONS_NEAR_CAP, "connections_near_cap"},
    {MB_REASON_CPU_HIGH, "cpu_high"},
};
#define REASON_COUNT (sizeof reason_names / sizeof reason_names[0])

struct mb_capacity *mb_capacity_create(const struct mb_capacity_thresholds *t)
{
    void *p = mmap(NULL, sizeof(struct mb_capacity), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct mb_capacity *c = p; /* anonymous mappings start zeroed: seq 0, never sampled */
    if (t)
        c->sampler.thresholds = *t;
    else
        mb_capacity_thresholds_default(&c->sampler.thresholds);
    long page = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
    c->sampler.page_size = page > 0 ? page : 4096;
    c->sampler.clock_ticks = hz > 0 ? hz : 100;
    c->published.verdict = MB_VERDICT_WARMING_UP;
    return c;
}

void mb_capacity_destroy(struct mb_capacity *c)
{
    if (c)
        munmap(c, sizeof *c);
}

void mb_capacity_set_thresholds(struct mb_capacity *c, const struct mb_capacity_thresholds *t)
{
    if (c && t)
        c->sampler.thresholds = *t;
}

/* ---- small parsers: each takes a cursor, never reads past the NUL, fails instead of guessing */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static double finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

static double clamp(double v, double lo, double hi)
{
    v = finite_or_zero(v);
    return v < lo ? lo : v > hi ? hi : v;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Unsigned decimal after optional blanks. False (cursor unchanged) on no digits or overflow. */
static bool parse_u64(const char **cursor, uint64_t *out)
{
    const char *s = skip_blanks(*cursor);
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *cursor = s;
    *out = v;
    return true;
}

/* Decimal "123" or "12.34" (locale-independent, no exponent, no sign). */
static bool parse_decimal(const char **cursor, double *out)
{
    const char *s = *cursor;
    if (*s < '0' || *s > '9')
        return false;
    double v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    if (*s == '.') {
        double scale = 0.1;
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
            v += (*s - '0') * scale;
    }
    if (!isfinite(v))
        return false;
    *cursor = s;
    *out = v;
    return true;
}

/* The line starting at *cursor (without its newline); advances past it. False at the end. */
static bool next_line(const char **cursor, const char **line, size_t *len)
{
    const char *s = *cursor;
    if (!*s)
        return false;
    const char *nl = strchr(s, '\n');
    *line = s;
    *len = nl ? (size_t)(nl - s) : strlen(s);
    *cursor = nl ? nl + 1 : s + *len;
    return true;
}

/* Reads up to cap - 1 bytes of path into buf (NUL-terminated; embedded NULs end the text for
 * the parsers). Returns the length, or -1 when the file cannot be opened or read. */
static ssize_t read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static bool path_join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", a, b);
    return n > 0 && n < PATH_CAP;
}

/* /proc/<pid>/stat: utime + stime (fields 14 and 15) after the last ')' of the comm field. */
static bool parse_pid_stat(const char *text, uint64_t *ticks)
{
    const char *s = strrchr(text, ')');
    if (!s)
        return false;
    s++;
    /* field 3 (state) is a letter; fields 4..13 are numbers that may be negative (tty, tpgid) */
    s = skip_blanks(s);
    if (!*s || *s == '\n')
        return false;
    s++;
    for (int field = 4; field <= 13; field++) {
        s = skip_blanks(s);
        if (*s == '-')
            s++;
        uint64_t ignored;
        if (!parse_u64(&s, &ignored))
            return false;
    }
    uint64_t utime, stime;
    if (!parse_u64(&s, &utime) || !parse_u64(&s, &stime))
        return false;
    *ticks = sat_add(utime, stime);
    return true;
}

/* /proc/<pid>/statm: the second field, resident pages. */
static bool parse_statm_resident(const char *text, uint64_t *pages)
{
    const char *s = text;
    uint64_t size;
    return parse_u64(&s, &size) && parse_u64(&s, pages);
}

/* The first "cpu " line of /proc/stat as busy and total jiffies, and the count of cpuN lines. */
static void parse_proc_stat(const char *text, bool *have_totals, uint64_t *busy, uint64_t *total,
                            unsigned *online)
{
    *have_totals = false;
    *online = 0;
    const char *cursor = text, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) {
        if (len < 4 || strncmp(line, "cpu", 3) != 0)
            continue;
        if (line[3] >= '0' && line[3] <= '9') {
            (*online)++;
            continue;
        }
        if (line[3] != ' ' || *have_totals)
            continue;
        /* user nice system idle iowait irq softirq steal (guest time is already in user) */
        uint64_t f[8] = {0};
        const char *s = line + 3;
        size_t n = 0;
        while (n < 8 && s < line + len && parse_u64(&s, &f[n]))
            n++;
        if (n < 4)
            continue;
        uint64_t b =
            sat_add(sat_add(f[0], f[1]), sat_add(f[2], sat_add(f[5], sat_add(f[6], f[7]))));
        *busy = b;
        *total = sat_add(b, sat_add(f[3], f[4]));
        *have_totals = true;
    }
}

/* "Key:   value kB" from /proc/meminfo, in bytes. */
static bool meminfo_field(const char *text, const char *key, uint64_t *bytes)
{
    size_t klen = strlen(key);
    const char *cursor = text, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) {
        if (len <= klen || strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        const char *s = line + klen + 1;
        uint64_t v;
        if (!parse_u64(&s, &v))
            return false;
        s = skip_blanks(s);
        if (strncmp(s, "kB", 2) == 0) {
            if (v > UINT64_MAX / 1024)
                return false;
            v *= 1024;
        }
        *bytes = v;
        return true;
    }
    return false;
}

/* A number alone in a file ("12345\n"); false for "max" or anything else. */
static bool parse_lone_u64(const char *text, uint64_t *v)
{
    const char *s = text;
    if (!parse_u64(&s, v))
        return false;
    s = skip_blanks(s);
    return *s == '\0' || *s == '\n';
}

/* cgroup v2 cpu.max: "QUOTA PERIOD" (a quota) or "max PERIOD" (none). */
static bool parse_cpu_max(const char *text, uint64_t *quota, uint64_t *period)
{
    const char *s = text;
    return parse_u64(&s, quota) && parse_u64(&s, period) && *quota > 0 && *period > 0;
}

/* "key value" lines (cgroup cpu.stat). */
static bool keyed_u64(const char *text, const char *key, uint64_t *v)
{
    size_t klen = strlen(key);
    const char *cursor = text, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) {
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            const char *s = line + klen;
            return parse_u64(&s, v);
        }
    }
    return false;
}

/* One PSI line ("some avg10=1.00 avg60=2.00 avg300=3.00 total=4"): avg10 and avg60 in percent
 * (0..100). Missing or malformed values stay 0; returns whether the line was recognized. */
static bool parse_psi_line(const char *line, size_t len, const char *kind, double *avg10,
                           double *avg60)
{
    size_t klen = strlen(kind);
    if (len <= klen || strncmp(line, kind, klen) != 0 || line[klen] != ' ')
        return false;
    *avg10 = *avg60 = 0;
    const char *s = line + klen, *end = line + len;
    bool any = false;
    while (s < end) {
        s = skip_blanks(s);
        double *dst = NULL;
        if (end - s > 6 && strncmp(s, "avg10=", 6) == 0) {
            dst = avg10;
            s += 6;
        } else if (end - s > 6 && strncmp(s, "avg60=", 6) == 0) {
            dst = avg60;
            s += 6;
        }
        double v;
        if (dst && parse_decimal(&s, &v) && (s == end || *s == ' ' || *s == '\t') && v <= 100.0) {
            *dst = v;
            any = true;
        }
        while (s < end && *s != ' ' && *s != '\t')
            s++;
    }
    return any;
}

struct psi_file {
    bool some, full;
    double some10, some60, full10, full60;
};

static bool parse_psi(const char *text, struct psi_file *p)
{
    memset(p, 0, sizeof *p);
    const char *cursor = text, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) {
        if (!p->some)
            p->some = parse_psi_line(line, len, "some", &p->some10, &p->some60);
        if (!p->full)
            p->full = parse_psi_line(line, len, "full", &p->full10, &p->full60);
    }
    return p->some || p->full;
}

struct interface {
    char name[16];
    uint64_t rx, tx;
};

/* An interface name that is safe in a path under /sys/class/net. */
static bool interface_name_ok(const char *name)
{
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *s = name; *s; s++)
        if (*s == '/' || (unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* /proc/net/dev: "  name: rx_bytes p e d f f c m tx_bytes ..." per interface, loopback left out. */
static size_t parse_net_dev(const char *text, struct interface *ifs, size_t max)
{
    size_t n = 0;
    const char *cursor = text, *line;
    size_t len;
    while (n < max && next_line(&cursor, &line, &len)) {
        const char *colon = memchr(line, ':', len);
        if (!colon)
            continue;
        const char *name = skip_blanks(line);
        if (name >= colon || (size_t)(colon - name) >= sizeof ifs[n].name)
            continue;
        struct interface *it = &ifs[n];
        memcpy(it->name, name, (size_t)(colon - name));
        it->name[colon - name] = '\0';
        if (!interface_name_ok(it->name) || strcmp(it->name, "lo") == 0)
            continue;
        uint64_t f[9];
        const char *s = colon + 1;
        size_t k = 0;
        while (k < 9 && s < line + len && parse_u64(&s, &f[k]))
            k++;
        if (k < 9)
            continue;
        it->rx = f[0];
        it->tx = f[8];
        n++;
    }
    return n;
}

/* ---- collection */

/* Reads "<root>/<rel>" into co->buf; false when absent. */
static bool read_under(struct collect *co, const char *root, const char *rel)
{
    return path_join(co->path, root, rel) && read_text(co->path, co->buf, sizeof co->buf) >= 0;
}

static bool read_pid_file(struct collect *co, const char *proc_root, int pid, const char *name)
{
    char rel[64];
    snprintf(rel, sizeof rel, "%d/%s", pid, name);
    return pid > 0 && read_under(co, proc_root, rel);
}

/* The unified cgroup of pid ("0::/path" in /proc/<pid>/cgroup), "" for the root or unknown. */
static void own_cgroup(struct collect *co, const char *proc_root, int pid, char *out, size_t cap)
{
    out[0] = '\0';
    if (!read_pid_file(co, proc_root, pid, "cgroup"))
        return;
    const char *cursor = co->buf, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) {
        if (len < 4 || strncmp(line, "0::/", 4) != 0)
            continue;
        const char *path = line + 3;
        size_t plen = len - 3;
        if (plen >= cap || memmem(path, plen, "/..", 3) || memchr(path, '\0', plen))
            return;
        memcpy(out, path, plen);
        out[plen] = '\0';
        while (plen > 0 && out[plen - 1] == '/')
            out[--plen] = '\0';
        return;
    }
}

/* Walks from the process's cgroup up to the root of sys_root/fs/cgroup and stops at the first
 * directory where found() returns true (dir: its path; rel: the cgroup's name, "" for the root). */
static bool walk_cgroups(struct collect *co, const char *sys_root, const char *own,
                         bool (*found)(struct collect *co, const char *dir, const char *rel,
                                       void *data),
                         void *data)
{
    char rel[PATH_CAP];
    int n = snprintf(rel, sizeof rel, "%s", own);
    if (n < 0 || n >= (int)sizeof rel)
        return false;
    for (int depth = 0; depth < CGROUP_DEPTH_MAX; depth++) {
        char dir[PATH_CAP];
        n = snprintf(dir, sizeof dir, "%s/fs/cgroup%s", sys_root, rel);
        if (n > 0 && n < (int)sizeof dir && found(co, dir, rel, data))
            return true;
        char *slash = strrchr(rel, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
    return false;
}

struct cpu_quota {
    double cpus; /* quota / period */
    uint64_t usage_usec;
    bool have_usage;
    char cgroup[PATH_CAP];
};

static bool on_cpu_dir(struct collect *co, const char *dir, const char *rel, void *data)
{
    struct cpu_quota *q = data;
    uint64_t quota, period;
    if (!read_under(co, dir, "cpu.max") || !parse_cpu_max(co->buf, &quota, &period))
        return false;
    q->cpus = (double)quota / (double)period;
    snprintf(q->cgroup, sizeof q->cgroup, "%s", rel);
    q->have_usage =
        read_under(co, dir, "cpu.stat") && keyed_u64(co->buf, "usage_usec", &q->usage_usec);
    return true;
}

struct mem_limit {
    uint64_t max, current;
    bool have_current;
};

static bool on_memory_dir(struct collect *co, const char *dir, const char *rel, void *data)
{
    (void)rel;
    struct mem_limit *m = data;
    if (!read_under(co, dir, "memory.max") || !parse_lone_u64(co->buf, &m->max))
        return false;
    m->have_current = read_under(co, dir, "memory.current") && parse_lone_u64(co->buf, &m->current);
    return true;
}

/* Instance CPU: the cgroup quota when one is set (it is the machine for this process), else
 * /proc/stat. Fills ncpu and instance_cpu_ratio; returns the CPUs the ratios are shares of. */
static double sample_cpu(struct sampler *sp, struct collect *co, const struct mb_capacity_input *in,
                         const char *own, double dt_s)
{
    struct mb_capacity_snapshot *s = &sp->work;
    bool have_totals = false;
    uint64_t busy = 0, total = 0;
    unsigned online = 0;
    if (read_under(co, in->proc_root, "stat"))
        parse_proc_stat(co->buf, &have_totals, &busy, &total, &online);

    struct cpu_quota q = {0};
    if (walk_cgroups(co, in->sys_root, own, on_cpu_dir, &q)) {
        double cpus = online > 0 && q.cpus > online ? (double)online : q.cpus;
        double rounded = ceil(cpus);
        s->ncpu = rounded < 1 ? 1 : rounded > 1e6 ? 1000000u : (unsigned)rounded;
        bool same = sp->cpu_source == CPU_SOURCE_CGROUP && strcmp(sp->cpu_cgroup, q.cgroup) == 0;
        if (q.have_usage && same && dt_s > 0 && q.usage_usec >= sp->prev_cpu_busy) {
            s->instance_cpu_ratio =
                clamp((double)(q.usage_usec - sp->prev_cpu_busy) / (dt_s * 1e6 * cpus), 0, 1);
            sp->cpu_measured = true;
        }
        sp->cpu_source = q.have_usage ? CPU_SOURCE_CGROUP : CPU_SOURCE_NONE;
        snprintf(sp->cpu_cgroup, sizeof sp->cpu_cgroup, "%s", q.cgroup);
        sp->prev_cpu_busy = q.usage_usec;
        return cpus;
    }
    s->ncpu = online > 0 ? online : 1;
    if (have_totals && sp->cpu_source == CPU_SOURCE_PROC_STAT && dt_s > 0 &&
        busy >= sp->prev_cpu_busy && total > sp->prev_cpu_total) {
        s->instance_cpu_ratio =
            clamp((double)(busy - sp->prev_cpu_busy) / (double)(total - sp->prev_cpu_total), 0, 1);
        sp->cpu_measured = true;
    }
    sp->cpu_source = have_totals ? CPU_SOURCE_PROC_STAT : CPU_SOURCE_NONE;
    sp->cpu_cgroup[0] = '\0';
    sp->prev_cpu_busy = busy;
    sp->prev_cpu_total = total;
    return (double)s->ncpu;
}

static bool prev_ticks_of(const struct sampler *sp, int pid, uint64_t *ticks)
{
    for (size_t i = 0; i < sp->prev_pid_count; i++) {
        if (sp->prev_pids[i].pid == pid) {
            *ticks = sp->prev_pids[i].ticks;
            return true;
        }
    }
    return false;
}

struct process_figures {
    bool have_ticks;
    uint64_t ticks, rss;
    double cpu_seconds; /* in this interval; 0 for a pid seen the first time */
};

static void sample_process(const struct sampler *sp, struct collect *co, const char *proc_root,
                           int pid, bool interval, struct process_figures *pf)
{
    uint64_t page_size = (uint64_t)sp->page_size;
    memset(pf, 0, sizeof *pf);
    if (read_pid_file(co, proc_root, pid, "stat"))
        pf->have_ticks = parse_pid_stat(co->buf, &pf->ticks);
    uint64_t pages;
    if (read_pid_file(co, proc_root, pid, "statm") && parse_statm_resident(co->buf, &pages))
        pf->rss = pages > UINT64_MAX / page_size ? UINT64_MAX : pages * page_size;
    uint64_t before;
    if (interval && pf->have_ticks && prev_ticks_of(sp, pid, &before) && pf->ticks >= before)
        pf->cpu_seconds = (double)(pf->ticks - before) / (double)sp->clock_ticks;
}

static void remember_pid(struct pid_ticks *next, size_t *count, int pid,
                         const struct process_figures *pf)
{
    if (pid > 0 && pf->have_ticks && *count < MB_CAPACITY_MAX_WORKERS + 1)
        next[(*count)++] = (struct pid_ticks){pid, pf->ticks};
}

/* Workers and master: per-worker CPU and RSS, the process share and the workers' CPU seconds. */
static double sample_processes(struct sampler *sp, struct collect *co,
                               const struct mb_capacity_input *in, double dt_s, double cpus)
{
    struct mb_capacity_snapshot *s = &sp->work;
    struct pid_ticks next[MB_CAPACITY_MAX_WORKERS + 1];
    size_t next_count = 0;
    size_t n = in->workers ? in->nworkers : 0;
    if (n > MB_CAPACITY_MAX_WORKERS)
        n = MB_CAPACITY_MAX_WORKERS;
    bool interval = dt_s > 0;
    double worker_seconds = 0;
    double worker_ratio_cap = s->ncpu > 0 ? (double)s->ncpu : 1;
    for (size_t i = 0; i < n; i++) {
        const struct mb_capacity_worker *w = &in->workers[i];
        struct mb_capacity_worker *out = &s->workers[i];
        *out = (struct mb_capacity_worker){.id = w->id,
                                           .pid = w->pid,
                                           .connections = w->connections,
                                           .connection_cap = w->connection_cap};
        struct process_figures pf;
        sample_process(sp, co, in->proc_root, w->pid, interval, &pf);
        out->rss_bytes = pf.rss;
        out->cpu_ratio = interval ? clamp(pf.cpu_seconds / dt_s, 0, worker_ratio_cap) : 0;
        worker_seconds += pf.cpu_seconds;
        s->rss_total_bytes = sat_add(s->rss_total_bytes, pf.rss);
        remember_pid(next, &next_count, w->pid, &pf);
    }
    s->nworkers = (unsigned)n;
    struct process_figures master;
    sample_process(sp, co, in->proc_root, in->master_pid, interval, &master);
    s->rss_total_bytes = sat_add(s->rss_total_bytes, master.rss);
    remember_pid(next, &next_count, in->master_pid, &master);
    if (interval && cpus > 0)
        s->process_cpu_ratio = clamp((worker_seconds + master.cpu_seconds) / (dt_s * cpus), 0, 1);
    memcpy(sp->prev_pids, next, next_count * sizeof next[0]);
    sp->prev_pid_count = next_count;
    return worker_seconds;
}

static void sample_memory(struct sampler *sp, struct collect *co,
                          const struct mb_capacity_input *in, const char *own)
{
    struct mb_capacity_snapshot *s = &sp->work;
    uint64_t total = 0, available = 0;
    bool have_total = false, have_available = false;
    if (read_under(co, in->proc_root, "meminfo")) {
        have_total = meminfo_field(co->buf, "MemTotal", &total);
        have_available = meminfo_field(co->buf, "MemAvailable", &available);
    }
    struct mem_limit m = {0};
    if (walk_cgroups(co, in->sys_root, own, on_memory_dir, &m)) {
        uint64_t limit = have_total && total < m.max ? total : m.max;
        uint64_t left = m.have_current ? (m.current < limit ? limit - m.current : 0) : limit;
        if (have_available && available < left)
            left = available;
        total = limit;
        available = left;
        have_total = have_available = true;
    }
    s->mem_total_bytes = have_total ? total : 0;
    s->mem_available_bytes = have_available ? available : 0;
}

/* Pressure stall information of the master's own cgroup (cgroup v2 "<x>.pressure" files: in
 * a container that is the pod's pressure, not the node's), else the whole machine's
 * /proc/pressure. */
static void sample_psi(struct sampler *sp, struct collect *co, const struct mb_capacity_input *in, const char *own)
{
    struct mb_capacity_snapshot *s = &sp->work;
    struct psi_file p;
    char dir[PATH_CAP];
    int n = snprintf(dir, sizeof dir, "%s/fs/cgroup%s", in->sys_root, own);
    bool cgroup = own[0] && n > 0 && n < (int)sizeof dir && read_under(co, dir, "memory.pressure");
    const char *root = cgroup ? dir : in->proc_root;
    const char *cpu = cgroup ? "cpu.pressure" : "pressure/cpu";
    const char *memory = cgroup ? "memory.pressure" : "pressure/memory";
    const char *io = cgroup ? "io.pressure" : "pressure/io";
    if (read_under(co, root, cpu) && parse_psi(co->buf, &p)) {
        s->psi_available = true;
        s->psi_cpu_some_avg10 = p.some10;
    }
    if (read_under(co, root, memory) && parse_psi(co->buf, &p)) {
        s->psi_available = true;
        sp->memory_psi_measured = p.some;
        s->psi_memory_some_avg10 = p.some10;
        s->psi_memory_some_avg60 = p.some60;
        s->psi_memory_full_avg10 = p.full10;
    }
    if (read_under(co, root, io) && parse_psi(co->buf, &p)) {
        s->psi_available = true;
        s->psi_io_some_avg10 = p.some10;
    }
}

/* Link speed of the up, non-loopback interfaces with a known speed, in bytes per second. */
static uint64_t link_speed(struct collect *co, const char *sys_root, const struct interface *ifs,
                           size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "class/net/%s/operstate", ifs[i].name);
        if (!read_under(co, sys_root, rel) || strncmp(co->buf, "up", 2) != 0 ||
            (co->buf[2] != '\0' && co->buf[2] != '\n'))
            continue;
        snprintf(rel, sizeof rel, "class/net/%s/speed", ifs[i].name);
        uint64_t mbit;
        if (!read_under(co, sys_root, rel) || !parse_lone_u64(co->buf, &mbit) || mbit == 0 ||
            mbit > UINT64_MAX / 125000)
            continue; /* "-1", missing, garbage: unknown */
        sum = sat_add(sum, mbit * 125000);
    }
    return sum;
}

static void sample_network(struct sampler *sp, const struct mb_capacity_input *in, double dt_s)
{
    struct mb_capacity_snapshot *s = &sp->work;
    struct interface ifs[MAX_INTERFACES];
    size_t n = 0;
    bool have = path_join(sp->co.path, in->proc_root, "net/dev") &&
                read_text(sp->co.path, sp->net_dev, sizeof sp->net_dev) >= 0;
    if (have)
        n = parse_net_dev(sp->net_dev, ifs, MAX_INTERFACES);
    uint64_t rx = 0, tx = 0;
    for (size_t i = 0; i < n; i++) {
        rx = sat_add(rx, ifs[i].rx);
        tx = sat_add(tx, ifs[i].tx);
    }
    bool rates = have && sp->have_prev_net && dt_s > 0 && rx >= sp->prev_rx && tx >= sp->prev_tx;
    if (rates) {
        s->net_rx_bytes_per_s = finite_or_zero((double)(rx - sp->prev_rx) / dt_s);
        s->net_tx_bytes_per_s = finite_or_zero((double)(tx - sp->prev_tx) / dt_s);
    }
    sp->have_prev_net = have;
    sp->prev_rx = rx;
    sp->prev_tx = tx;
    s->link_bytes_per_s = sp->thresholds.link_bytes_per_s
                              ? sp->thresholds.link_bytes_per_s
                              : link_speed(&sp->co, in->sys_root, ifs, n);
    if (s->link_bytes_per_s)
        s->network_ratio = finite_or_zero(fmax(s->net_rx_bytes_per_s, s->net_tx_bytes_per_s) /
                                          (double)s->link_bytes_per_s);
    sp->network_measured = rates && s->link_bytes_per_s;
}

/* Feeds this interval's tools/call figures into the smoothed rates. */
static void update_rates(struct sampler *sp, const struct mb_capacity_input *in, double dt_s,
                         double worker_seconds)
{
    bool fresh = !sp->have_prev_calls || in->tool_calls_total < sp->prev_calls ||
                 in->tool_call_us_total < sp->prev_call_us; /* a reload restarts the counters */
    if (!fresh && dt_s > 0) {
        double calls = (double)(in->tool_calls_total - sp->prev_calls) / dt_s;
        double wall = (double)(in->tool_call_us_total - sp->prev_call_us) / dt_s;
        double cpu = worker_seconds * 1e6 / dt_s;
        if (!sp->have_rates) {
            sp->calls_rate = calls;
            sp->call_wall_us_rate = wall;
            sp->worker_cpu_us_rate = cpu;
            sp->have_rates = true;
        } else {
            double alpha = 1 - exp(-dt_s / EWMA_SECONDS);
            sp->calls_rate += alpha * (calls - sp->calls_rate);
            sp->call_wall_us_rate += alpha * (wall - sp->call_wall_us_rate);
            sp->worker_cpu_us_rate += alpha * (cpu - sp->worker_cpu_us_rate);
        }
    }
    sp->have_prev_calls = true;
    sp->prev_calls = in->tool_calls_total;
    sp->prev_call_us = in->tool_call_us_total;
    struct mb_capacity_snapshot *s = &sp->work;
    s->calls_per_s = finite_or_zero(sp->calls_rate);
    if (sp->calls_rate > 0) {
        s->cpu_us_per_call = finite_or_zero(sp->worker_cpu_us_rate / sp->calls_rate);
        s->wall_us_per_call = finite_or_zero(sp->call_wall_us_rate / sp->calls_rate);
    }
}

/* ---- verdict and recommendation */

static void decide(struct sampler *sp)
{
    struct mb_capacity_snapshot *s = &sp->work;
    const struct mb_capacity_thresholds *t = &sp->thresholds;
    unsigned reasons = 0;
    uint64_t now = s->sampled_unix_ms;
    bool cpu_high = sp->cpu_measured && s->instance_cpu_ratio >= t->cpu_ratio;
    if (!cpu_high)
        sp->cpu_high_since_ms = 0;
    else if (!sp->cpu_high_since_ms)
        sp->cpu_high_since_ms = now ? now : 1;
    s->cpu_high_since_unix_ms = sp->cpu_high_since_ms;
    if (cpu_high)
        reasons |= now >= sp->cpu_high_since_ms &&
                           now - sp->cpu_high_since_ms >= (uint64_t)t->sustain_seconds * 1000
                       ? MB_REASON_CPU_SUSTAINED
                       : MB_REASON_CPU_HIGH;
    if (sp->memory_psi_measured && s->psi_memory_some_avg60 >= t->memory_pressure_pct)
        reasons |= MB_REASON_MEMORY_PRESSURE;
    if (sp->network_measured && s->network_ratio >= t->network_ratio)
        reasons |= MB_REASON_NETWORK_SATURATED;
    double mean_worker_cpu = 0;
    for (unsigned i = 0; i < s->nworkers; i++) {
        const struct mb_capacity_worker *w = &s->workers[i];
        if (w->connection_cap &&
            (double)w->connections >= t->connections_ratio * (double)w->connection_cap)
            reasons |= MB_REASON_CONNECTIONS_NEAR_CAP;
        mean_worker_cpu += w->cpu_ratio;
    }
    if (s->nworkers)
        mean_worker_cpu /= s->nworkers;
    s->reasons = reasons;

    /* More workers help only where the figures say so: CPU is sustained-high while the workers
     * are themselves busy and fewer than the usable CPUs (more of them would use CPUs the
     * processes cannot reach now); connections are near the per-worker cap while fewer than
     * 2 x CPUs workers run (beyond that CPU efficiency falls). Memory pressure and network
     * saturation are about the machine: more workers make them worse. */
    bool tune = false, scale = false;
    if (reasons & MB_REASON_CPU_SUSTAINED) {
        if (s->nworkers < s->ncpu && s->nworkers > 0 && mean_worker_cpu >= t->cpu_ratio)
            tune = true;
        else
            scale = true;
    }
    if (reasons & MB_REASON_CONNECTIONS_NEAR_CAP) {
        if (s->nworkers < 2 * s->ncpu)
            tune = true;
        else
            scale = true;
    }
    if (reasons & (MB_REASON_MEMORY_PRESSURE | MB_REASON_NETWORK_SATURATED))
        scale = true;
    if (s->samples < 2)
        s->verdict = MB_VERDICT_WARMING_UP;
    else if (scale)
        s->verdict = MB_VERDICT_SCALE_OUT;
    else if (tune)
        s->verdict = MB_VERDICT_TUNE_WORKERS;
    else
        s->verdict = MB_VERDICT_OK;
}

/* snprintf for sentences that may be cut at the buffer's end (an explanation too long for its
 * field is still worth showing). */
static void say(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* "0.4", "3.2", "38": one decimal below 10, none above (capped at a billion). */
static void fmt_num(char *out, size_t cap, double v)
{
    v = clamp(v, 0, 1e9);
    say(out, cap, "%.*f", v < 10 ? 1 : 0, v);
}

/* How busy the measured load keeps the CPUs: "at 5% of one CPU" or "keeping 3.2 CPUs busy". */
static void fmt_load(char *out, size_t cap, double cpus)
{
    char n[32];
    fmt_num(n, sizeof n, cpus < 1 ? cpus * 100 : cpus);
    say(out, cap, cpus < 1 ? "at %s%% of one CPU" : "keeping %s CPUs busy", n);
}

/* The profile that matches a worker count on ncpu usable CPUs. */
static enum mb_worker_profile profile_of(unsigned workers, unsigned ncpu)
{
    if (workers <= 1)
        return MB_PROFILE_DEV;
    if (workers == ncpu)
        return MB_PROFILE_CPU;
    if (workers == IO_PROFILE_WORKERS)
        return MB_PROFILE_IO;
    if (workers >= 2 * ncpu)
        return MB_PROFILE_HA;
    return workers < ncpu ? MB_PROFILE_IO : MB_PROFILE_CPU;
}

/* Profile, worker count and explanation from the smoothed CPU and wall time per tools/call. */
static void recommend(struct sampler *sp)
{
    struct mb_capacity_snapshot *s = &sp->work;
    unsigned ncpu = s->ncpu ? s->ncpu : 1;
    unsigned max_workers = 2 * ncpu;
    char calls[32], cpu_ms[32], wall_ms[32], share[32], load[64];
    fmt_num(calls, sizeof calls, s->calls_per_s);

    if (s->calls_per_s < MIN_CALLS_PER_S || s->wall_us_per_call <= 0) {
        unsigned keep = s->nworkers < 1 ? 1 : s->nworkers > max_workers ? max_workers : s->nworkers;
        s->profile = profile_of(keep, ncpu);
        s->recommended_workers = keep;
        say(s->explanation, sizeof s->explanation,
            "Too few tools/call to measure (%s calls/s over the last minute): keeping %u worker%s "
            "(profile %s).",
            calls, keep, keep == 1 ? "" : "s", mb_worker_profile_name(s->profile));
        return;
    }
    double r = s->cpu_us_per_call / s->wall_us_per_call;
    double load_cpus = s->calls_per_s * s->cpu_us_per_call / 1e6;
    double threshold = sp->thresholds.cpu_ratio > 0 ? sp->thresholds.cpu_ratio : 1;
    double need = ceil(load_cpus / threshold);
    unsigned required = need < 1 ? 1 : need > 1e6 ? 1000000u : (unsigned)need;
    bool io_bound = r < IO_BOUND_RATIO;
    fmt_num(cpu_ms, sizeof cpu_ms, s->cpu_us_per_call / 1000);
    fmt_num(wall_ms, sizeof wall_ms, s->wall_us_per_call / 1000);
    fmt_num(share, sizeof share, r * 100);
    fmt_load(load, sizeof load, load_cpus);
    char measured[128];
    say(measured, sizeof measured, "tools/call uses %s ms CPU per %s ms wall (%s%%): %s.", cpu_ms,
        wall_ms, share, io_bound ? "I/O-bound" : "CPU-bound");

    if (required > ncpu) {
        s->profile = MB_PROFILE_HA;
        s->recommended_workers = max_workers;
        say(s->explanation, sizeof s->explanation,
            "%s The measured %s calls/s need %u CPUs below the CPU threshold, more than the %u "
            "here: %u workers (profile ha) is the last headroom; adding instances is better.",
            measured, calls, required, ncpu, max_workers);
    } else if (s->nworkers >= max_workers) {
        bool io = io_bound && required <= IO_PROFILE_WORKERS;
        s->profile = MB_PROFILE_HA;
        s->recommended_workers = max_workers;
        say(s->explanation, sizeof s->explanation,
            "%s %u workers (profile %s) would carry the measured %s calls/s; the %u running "
            "(profile ha) add redundancy only.",
            measured, io ? IO_PROFILE_WORKERS : ncpu, io ? "io" : "cpu", calls, s->nworkers);
    } else if (io_bound && required <= IO_PROFILE_WORKERS) {
        s->profile = MB_PROFILE_IO;
        s->recommended_workers = IO_PROFILE_WORKERS;
        say(s->explanation, sizeof s->explanation,
            "%s %u workers (profile io) carry the measured %s calls/s %s.", measured,
            IO_PROFILE_WORKERS, calls, load);
    } else {
        s->profile = MB_PROFILE_CPU;
        s->recommended_workers = ncpu;
        say(s->explanation, sizeof s->explanation,
            "%s %u worker%s (profile cpu, one per usable CPU) carry the measured %s calls/s %s.",
            measured, ncpu, ncpu == 1 ? "" : "s", calls, load);
    }
}

/* ---- publication */

static void publish(struct mb_capacity *c, const struct mb_capacity_snapshot *s)
{
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_store_explicit(&c->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy(&c->published, s, sizeof *s);
    atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
}

void mb_capacity_read(const struct mb_capacity *cc, struct mb_capacity_snapshot *out)
{
    struct mb_capacity *c = (struct mb_capacity *)cc;
    for (int attempt = 0; c && attempt < READ_SPIN_LIMIT; attempt++) {
        uint64_t before = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (before & 1) {
            if (attempt % 64 == 63)
                sched_yield();
            continue;
        }
        memcpy(out, &c->published, sizeof *out);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&c->seq, memory_order_relaxed) == before)
            return;
    }
    /* No region, or a writer that stopped mid-update (the master died): nothing consistent. */
    memset(out, 0, sizeof *out);
    out->verdict = MB_VERDICT_WARMING_UP;
}

void mb_capacity_sample(struct mb_capacity *c, const struct mb_capacity_input *in)
{
    if (!c || !in || !in->proc_root || !in->sys_root)
        return;
    struct sampler *sp = &c->sampler;
    struct mb_capacity_snapshot *s = &sp->work;
    struct collect *co = &sp->co;
    memset(s, 0, sizeof *s);
    s->sampled_unix_ms = in->now_unix_ms;
    s->samples = sp->samples < UINT_MAX ? ++sp->samples : sp->samples;
    sp->cpu_measured = sp->network_measured = sp->memory_psi_measured = false;
    /* An interval needs a previous sample and a clock that moved forwards. */
    double dt_s = sp->have_prev && in->now_unix_ms > sp->prev_ms
                      ? (double)(in->now_unix_ms - sp->prev_ms) / 1000
                      : 0;

    char own[PATH_CAP];
    own_cgroup(co, in->proc_root, in->master_pid, own, sizeof own);
    double cpus = sample_cpu(sp, co, in, own, dt_s);
    double worker_seconds = sample_processes(sp, co, in, dt_s, cpus);
    sample_memory(sp, co, in, own);
    sample_psi(sp, co, in, own);
    sample_network(sp, in, dt_s);
    update_rates(sp, in, dt_s, worker_seconds);
    decide(sp);
    recommend(sp);

    sp->have_prev = true;
    sp->prev_ms = in->now_unix_ms;
    publish(c, s);
}

/* ---- rendering */

struct metric_writer {
    struct mb_buf *out;
    int rc;
};

static void put(struct metric_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(struct metric_writer *w, const char *fmt, ...)
{
    if (w->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->rc = mb_buf_vprintf(w->out, fmt, ap);
    va_end(ap);
}

/* Whole numbers (bytes, counts) exactly, fractions with 9 significant digits. */
static void put_value(struct metric_writer *w, const char *suffix, double v)
{
    v = finite_or_zero(v);
    if (v == floor(v) && fabs(v) < 1e15)
        put(w, "%.0f%s", v, suffix);
    else
        put(w, "%.9g%s", v, suffix);
}

static void family(struct metric_writer *w, const char *name, const char *help)
{
    put(w, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void gauge(struct metric_writer *w, const char *name, const char *help, double v)
{
    family(w, name, help);
    put(w, "%s ", name);
    put_value(w, "\n", v);
}

static void labelled(struct metric_writer *w, const char *name, const char *label,
                     const char *value, double v)
{
    put(w, "%s{%s=\"", name, label);
    if (!w->rc)
        w->rc = mb_metrics_label_escape(w->out, value);
    put(w, "\"} ");
    put_value(w, "\n", v);
}

enum worker_field { WORKER_CPU, WORKER_RSS, WORKER_CONNECTIONS, WORKER_CAP };

static void worker_family(struct metric_writer *w, const struct mb_capacity_snapshot *s,
                          enum worker_field f, const char *name, const char *help)
{
    family(w, name, help);
    for (unsigned i = 0; i < s->nworkers && i < MB_CAPACITY_MAX_WORKERS; i++) {
        const struct mb_capacity_worker *wk = &s->workers[i];
        char id[16];
        snprintf(id, sizeof id, "%d", wk->id);
        double v = f == WORKER_CPU           ? wk->cpu_ratio
                   : f == WORKER_RSS         ? (double)wk->rss_bytes
                   : f == WORKER_CONNECTIONS ? (double)wk->connections
                                             : (double)wk->connection_cap;
        labelled(w, name, "worker", id, v);
    }
}

int mb_capacity_render_metrics(const struct mb_capacity_snapshot *s, struct mb_buf *out)
{
    struct metric_writer w = {out, 0};
    family(&w, "mcpbridge_capacity_verdict",
           "1 for the current capacity verdict (docs/internals/capacity.md).");
    for (int v = MB_VERDICT_WARMING_UP; v <= MB_VERDICT_SCALE_OUT; v++)
        labelled(&w, "mcpbridge_capacity_verdict", "verdict",
                 mb_capacity_verdict_name((enum mb_capacity_verdict)v),
                 s->verdict == (enum mb_capacity_verdict)v);
    family(&w, "mcpbridge_capacity_reason", "1 when the capacity trigger fires now.");
    for (size_t i = 0; i < REASON_COUNT; i++)
        labelled(&w, "mcpbridge_capacity_reason", "reason", reason_names[i].name,
                 (s->reasons & reason_names[i].bit) != 0);
    worker_family(&w, s, WORKER_CPU, "mcpbridge_worker_cpu_ratio",
                  "Worker CPU time over wall time in the last interval (1 = one core).");
    worker_family(&w, s, WORKER_RSS, "mcpbridge_worker_rss_bytes", "Worker resident memory.");
    worker_family(&w, s, WORKER_CONNECTIONS, "mcpbridge_worker_connections",
                  "Open client connections of the worker.");
    worker_family(&w, s, WORKER_CAP, "mcpbridge_worker_connection_cap",
                  "runtime.server.max_connections_per_worker.");
    gauge(&w, "mcpbridge_instance_cpu_ratio",
          "Busy share of the usable CPUs (cgroup quota, else all) in the last interval.",
          s->instance_cpu_ratio);
    gauge(&w, "mcpbridge_process_cpu_ratio",
          "mcpbridge's workers and master, share of the usable CPUs.", s->process_cpu_ratio);
    gauge(&w, "mcpbridge_memory_available_bytes",
          "MemAvailable, or the cgroup's memory.max minus memory.current.",
          (double)s->mem_available_bytes);
    gauge(&w, "mcpbridge_memory_total_bytes", "MemTotal, or the cgroup's memory.max.",
          (double)s->mem_total_bytes);
    if (s->psi_available) {
        gauge(&w, "mcpbridge_psi_cpu_some_avg10_ratio",
              "Share of the last 10 s some task waited for CPU (PSI).",
              s->psi_cpu_some_avg10 / 100);
        gauge(&w, "mcpbridge_psi_memory_some_avg10_ratio",
              "Share of the last 10 s some task stalled on memory (PSI).",
              s->psi_memory_some_avg10 / 100);
        gauge(&w, "mcpbridge_psi_memory_full_avg10_ratio",
              "Share of the last 10 s all tasks stalled on memory (PSI).",
              s->psi_memory_full_avg10 / 100);
        gauge(&w, "mcpbridge_psi_io_some_avg10_ratio",
              "Share of the last 10 s some task waited for I/O (PSI).", s->psi_io_some_avg10 / 100);
    }
    gauge(&w, "mcpbridge_network_receive_bytes_per_second",
          "Received on non-loopback interfaces, last interval.", s->net_rx_bytes_per_s);
    gauge(&w, "mcpbridge_network_transmit_bytes_per_second",
          "Sent on non-loopback interfaces, last interval.", s->net_tx_bytes_per_s);
    gauge(&w, "mcpbridge_network_saturation_ratio",
          "max(receive, transmit) over the link speed; 0 when unknown.", s->network_ratio);
    gauge(&w, "mcpbridge_tool_calls_per_second",
          "tools/call per second, smoothed over about a minute.", s->calls_per_s);
    gauge(&w, "mcpbridge_cpu_seconds_per_call",
          "Workers' CPU time per tools/call, smoothed over about a minute.",
          s->cpu_us_per_call / 1e6);
    family(&w, "mcpbridge_recommended_workers",
           "Recommended worker count and its profile (dev, io, cpu, ha).");
    labelled(&w, "mcpbridge_recommended_workers", "profile", mb_worker_profile_name(s->profile),
             s->recommended_workers);
    return w.rc;
}

/* Rounded to 1/scale for display: the JSON is read by people and scripts, not fed back into
 * maths. */
static json_t *real(double v, double scale)
{
    v = finite_or_zero(v);
    double rounded = round(v * scale) / scale;
    return json_real(isfinite(rounded) ? rounded : v);
}

static json_t *rfc3339(uint64_t unix_ms)
{
    if (!unix_ms)
        return json_null();
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return json_null();
    char text[64];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(unix_ms % 1000));
    return json_string(text);
}

static json_t *u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Sets obj[key] = v (taking v, also when it is NULL or the set fails); counts failures. */
static void set(json_t *obj, const char *key, json_t *v, int *failed)
{
    if (!obj || !v || json_object_set_new(obj, key, v) != 0)
        (*failed)++;
}

static json_t *worker_json(const struct mb_capacity_worker *w, int *failed)
{
    json_t *o = json_object();
    set(o, "id", json_integer(w->id), failed);
    set(o, "pid", json_integer(w->pid), failed);
    set(o, "cpu", real(w->cpu_ratio, 1e4), failed);
    set(o, "rss_bytes", u64(w->rss_bytes), failed);
    set(o, "connections", u64(w->connections), failed);
    set(o, "connection_cap", u64(w->connection_cap), failed);
    return o;
}

json_t *mb_capacity_to_json(const struct mb_capacity_snapshot *s)
{
    int failed = 0;
    json_t *root = json_object();
    set(root, "verdict", json_string(mb_capacity_verdict_name(s->verdict)), &failed);
    json_t *reasons = json_array();
    for (size_t i = 0; reasons && i < REASON_COUNT; i++)
        if ((s->reasons & reason_names[i].bit) &&
            json_array_append_new(reasons, json_string(reason_names[i].name)))
            failed++;
    set(root, "reasons", reasons, &failed);
    set(root, "samples", json_integer(s->samples), &failed);

    json_t *cpu = json_object();
    set(cpu, "usable", json_integer(s->ncpu), &failed);
    set(cpu, "instance_ratio", real(s->instance_cpu_ratio, 1e4), &failed);
    set(cpu, "process_ratio", real(s->process_cpu_ratio, 1e4), &failed);
    set(cpu, "high_since", rfc3339(s->cpu_high_since_unix_ms), &failed);
    set(root, "cpu", cpu, &failed);

    json_t *memory = json_object();
    set(memory, "total_bytes", u64(s->mem_total_bytes), &failed);
    set(memory, "available_bytes", u64(s->mem_available_bytes), &failed);
    set(memory, "rss_total_bytes", u64(s->rss_total_bytes), &failed);
    set(root, "memory", memory, &failed);

    json_t *psi = json_null();
    if (s->psi_available) {
        psi = json_object();
        set(psi, "cpu_some_avg10", real(s->psi_cpu_some_avg10, 100), &failed);
        set(psi, "memory_some_avg10", real(s->psi_memory_some_avg10, 100), &failed);
        set(psi, "memory_some_avg60", real(s->psi_memory_some_avg60, 100), &failed);
        set(psi, "memory_full_avg10", real(s->psi_memory_full_avg10, 100), &failed);
        set(psi, "io_some_avg10", real(s->psi_io_some_avg10, 100), &failed);
    }
    set(root, "psi", psi, &failed);

    json_t *network = json_object();
    set(network, "rx_bytes_per_s", real(s->net_rx_bytes_per_s, 1), &failed);
    set(network, "tx_bytes_per_s", real(s->net_tx_bytes_per_s, 1), &failed);
    set(network, "link_bytes_per_s", s->link_bytes_per_s ? u64(s->link_bytes_per_s) : json_null(),
        &failed);
    set(network, "saturation_ratio",
        s->link_bytes_per_s ? real(s->network_ratio, 1e4) : json_null(), &failed);
    set(root, "network", network, &failed);

    json_t *workers = json_array();
    for (unsigned i = 0; workers && i < s->nworkers && i < MB_CAPACITY_MAX_WORKERS; i++)
        if (json_array_append_new(workers, worker_json(&s->workers[i], &failed)))
            failed++;
    set(root, "workers", workers, &failed);

    json_t *rec = json_object();
    set(rec, "profile", json_string(mb_worker_profile_name(s->profile)), &failed);
    set(rec, "workers", json_integer(s->recommended_workers), &failed);
    set(rec, "cpu_ms_per_call", real(s->cpu_us_per_call / 1000, 1e3), &failed);
    set(rec, "wall_ms_per_call", real(s->wall_us_per_call / 1000, 1e3), &failed);
    set(rec, "calls_per_s", real(s->calls_per_s, 100), &failed);
    set(rec, "explanation",
        json_stringn(s->explanation, strnlen(s->explanation, sizeof s->explanation)), &failed);
    set(root, "recommendation", rec, &failed);
    set(root, "sampled_at", rfc3339(s->sampled_unix_ms), &failed);
    if (failed) {
        json_decref(root);
        return NULL;
    }
    return root;
}
