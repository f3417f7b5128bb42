/* Capacity signals and the scale-out verdict (the seed page's triggers, measured instead of
 * guessed). The master samples once a second: per worker CPU utilization and RSS from
 * /proc/<pid>/stat and statm, connections against the per-worker cap; per instance CPU (the
 * cgroup's quota when one is set, else /proc/stat), memory (meminfo, cgroup memory.max), Linux
 * pressure stall information (/proc/pressure/{cpu,memory,io}), network throughput
 * (/proc/net/dev, against the link speed from /sys/class/net/<if>/speed when known). From these
 * it derives a verdict (ok / tune workers / scale out, with reasons) and a worker-count
 * recommendation (dev/io/cpu/ha and a number) from CPU time against wall time per tools/call.
 * The result lives in a small shared region (single writer: the master; readers copy it under
 * a sequence counter), rendered into /metrics, /readyz details and `mcpbridge capacity`. */
#ifndef MB_CAPACITY_H
#define MB_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"

#define MB_CAPACITY_MAX_WORKERS 256

/* observability.capacity (docs/configuration.md); defaults from the seed page. */
struct mb_capacity_thresholds {
    double cpu_ratio;            /* 0.70: CPU utilization that counts as high */
    unsigned sustain_seconds;    /* 300: how long CPU must stay high before "scale out" */
    double memory_pressure_pct;  /* 10.0: PSI memory "some" avg60 (percent) that hurts latency */
    double network_ratio;        /* 0.80: throughput / link speed that counts as saturated */
    uint64_t link_bytes_per_s;   /* 0 = from /sys/class/net/<if>/speed (unknown: no network verdict) */
    double connections_ratio;    /* 0.80: connections / max_connections_per_worker that counts as near the cap */
};
void mb_capacity_thresholds_default(struct mb_capacity_thresholds *t);

enum mb_capacity_verdict {
    MB_VERDICT_WARMING_UP,   /* fewer than two samples */
    MB_VERDICT_OK,
    MB_VERDICT_TUNE_WORKERS, /* a trigger fired but more workers on this machine would still help */
    MB_VERDICT_SCALE_OUT,    /* a trigger fired and tuning cannot help: add instances */
};
/* "warming_up", "ok", "tune_workers", "scale_out". */
const char *mb_capacity_verdict_name(enum mb_capacity_verdict v);

/* Reasons (bit mask). */
#define MB_REASON_CPU_SUSTAINED    0x01u /* CPU above cpu_ratio for sustain_seconds */
#define MB_REASON_MEMORY_PRESSURE  0x02u /* PSI memory some avg60 above memory_pressure_pct */
#define MB_REASON_NETWORK_SATURATED 0x04u /* throughput above network_ratio of the link */
#define MB_REASON_CONNECTIONS_NEAR_CAP 0x08u /* a worker above connections_ratio of its cap */
#define MB_REASON_CPU_HIGH         0x10u /* CPU above cpu_ratio now, not yet for sustain_seconds */

enum mb_worker_profile { MB_PROFILE_DEV, MB_PROFILE_IO, MB_PROFILE_CPU, MB_PROFILE_HA };
/* "dev", "io", "cpu", "ha". */
const char *mb_worker_profile_name(enum mb_worker_profile p);

struct mb_capacity_worker {
    int id, pid;
    double cpu_ratio;          /* CPU time / wall time over the last interval (1.0 = one core) */
    uint64_t rss_bytes;
    uint64_t connections, connection_cap;
};

struct mb_capacity_snapshot {
    uint64_t sampled_unix_ms;  /* 0 = never sampled */
    unsigned samples;          /* how many samples so far */
    unsigned ncpu;             /* usable CPUs (cgroup quota rounded up, else online CPUs) */
    unsigned nworkers;
    struct mb_capacity_worker workers[MB_CAPACITY_MAX_WORKERS];
    double instance_cpu_ratio; /* busy share of the usable CPUs, 0..1, last interval */
    double process_cpu_ratio;  /* mcpbridge's workers + master, share of the usable CPUs */
    uint64_t mem_total_bytes, mem_available_bytes, rss_total_bytes;
    bool psi_available;
    double psi_cpu_some_avg10, psi_memory_some_avg10, psi_memory_some_avg60, psi_memory_full_avg10,
        psi_io_some_avg10;
    double net_rx_bytes_per_s, net_tx_bytes_per_s;
    uint64_t link_bytes_per_s;  /* 0 = unknown */
    double network_ratio;       /* max(rx, tx) / link, 0 when unknown */
    uint64_t cpu_high_since_unix_ms; /* 0 = CPU not high now */
    enum mb_capacity_verdict verdict;
    unsigned reasons;
    /* recommendation: rates smoothed over about a minute (EWMA), so one quiet second does not
     * flip it */
    double calls_per_s;         /* tools/call per second */
    double cpu_us_per_call;     /* workers' CPU time per tools/call (0 = no calls) */
    double wall_us_per_call;    /* mean tools/call duration */
    enum mb_worker_profile profile;
    unsigned recommended_workers;
    char explanation[320];      /* one or two sentences an operator can act on */
};

/* What the master knows at a sample. */
struct mb_capacity_input {
    uint64_t now_unix_ms;
    const char *proc_root;       /* "/proc" (tests: a fixture directory with the same layout) */
    const char *sys_root;        /* "/sys" (cgroup files under fs/cgroup, net under class/net) */
    int master_pid;
    size_t nworkers;
    const struct mb_capacity_worker *workers; /* id, pid, connections, connection_cap filled in */
    uint64_t tool_calls_total;   /* cumulative (call_stats.h) */
    uint64_t tool_call_us_total; /* cumulative */
};

struct mb_capacity;

/* Maps the shared region (before fork). NULL on failure. */
struct mb_capacity *mb_capacity_create(const struct mb_capacity_thresholds *t);
void mb_capacity_destroy(struct mb_capacity *c);
/* Replaces the thresholds (after a reload). */
void mb_capacity_set_thresholds(struct mb_capacity *c, const struct mb_capacity_thresholds *t);

/* Takes one sample (reads the files under in->proc_root / in->sys_root), updates the verdict
 * and the recommendation and publishes the snapshot. Missing files (no PSI, no cgroup) are not
 * errors: the figures stay 0 and the verdict ignores them. Master only (single writer). */
void mb_capacity_sample(struct mb_capacity *c, const struct mb_capacity_input *in);

/* Copies the latest published snapshot (any process). */
void mb_capacity_read(const struct mb_capacity *c, struct mb_capacity_snapshot *out);

/* Prometheus families: mcpbridge_capacity_verdict{verdict} (1 for the current one),
 * mcpbridge_capacity_reason{reason} (0/1), mcpbridge_worker_cpu_ratio{worker},
 * mcpbridge_worker_rss_bytes{worker}, mcpbridge_worker_connections{worker},
 * mcpbridge_worker_connection_cap{worker}, mcpbridge_instance_cpu_ratio,
 * mcpbridge_process_cpu_ratio, mcpbridge_memory_available_bytes, mcpbridge_memory_total_bytes,
 * mcpbridge_psi_{cpu_some,memory_some,memory_full,io_some}_avg10_ratio (when available),
 * mcpbridge_network_{receive,transmit}_bytes_per_second, mcpbridge_network_saturation_ratio,
 * mcpbridge_tool_calls_per_second, mcpbridge_cpu_seconds_per_call,
 * mcpbridge_recommended_workers{profile}. Returns 0 or a buffer error. */
int mb_capacity_render_metrics(const struct mb_capacity_snapshot *s, struct mb_buf *out);

/* The snapshot as JSON for /readyz and `mcpbridge capacity`:
 * {"verdict":..,"reasons":[..],"samples":N,
 *  "cpu":{usable,instance_ratio,process_ratio,high_since: RFC 3339|null},
 *  "memory":{total_bytes,available_bytes,rss_total_bytes},
 *  "psi":{cpu_some_avg10,memory_some_avg10,memory_some_avg60,memory_full_avg10,io_some_avg10}|null,
 *  "network":{rx_bytes_per_s,tx_bytes_per_s,link_bytes_per_s|null,saturation_ratio|null},
 *  "workers":[{id,pid,cpu,rss_bytes,connections,connection_cap}],
 *  "recommendation":{"profile":..,"workers":N,"cpu_ms_per_call":..,"wall_ms_per_call":..,
 *  "calls_per_s":..,"explanation":..}, "sampled_at": RFC 3339|null}. Reasons by name:
 * "cpu_sustained", "memory_pressure", "network_saturated", "connections_near_cap", "cpu_high".
 * New reference; NULL on ENOMEM. */
json_t *mb_capacity_to_json(const struct mb_capacity_snapshot *s);

#endif
