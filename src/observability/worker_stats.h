/* One statistics slot per worker in shared memory, so any worker can answer /metrics for the
 * whole instance. Each worker owns its slot (indexed by worker id) and republishes its local
 * counters into it every second and when asked (single writer per slot, relaxed atomic
 * stores, no locks); readers sum the slots of live workers. A restarted worker takes over its
 * slot and starts from zero, so sums are "since each worker started", like any Prometheus
 * counter that resets with its process. */
#ifndef MB_WORKER_STATS_H
#define MB_WORKER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_WORKER_STATS_MAX 1024

/* The figures a worker publishes. Add fields at the end; zero means "none yet". */
struct mb_worker_figures {
    uint64_t connections_open;          /* inbound, now */
    uint64_t tls_handshakes;            /* inbound TLS handshakes completed */
    uint64_t tls_resumed;               /* of those, resumed */
    uint64_t tls_failures;              /* inbound handshakes that failed (incl. plain HTTP on the TLS port) */
    uint64_t downstream_connections_new;
    uint64_t downstream_connections_reused;
    uint64_t downstream_tls_handshakes;
    uint64_t downstream_tls_resumed;
    uint64_t auth_allowed, auth_denied, auth_cache_hits, auth_signature_checks, auth_waited_for_keys;
    uint64_t rate_limited;              /* tools/call denied by the rate limiter */
    uint64_t rate_allowed;
    uint64_t http_responses[6];         /* inbound responses by status class (index status / 100) */
    uint64_t redis_configured;          /* 1 when runtime.redis.url is set for this worker (shared state) */
    uint64_t redis_connected;           /* 1 while its Redis state link is connected (state/redis_state.h) */
    uint64_t redis_reconnects;          /* times that link was made again after the first */
    uint64_t redis_errors;              /* failed connects, lost links, failed commands */
};

#define MB_WORKER_FIGURE_COUNT (sizeof(struct mb_worker_figures) / sizeof(uint64_t))

struct mb_worker_stats;

/* Maps the region (before fork). NULL on failure. */
struct mb_worker_stats *mb_worker_stats_create(void);
void mb_worker_stats_destroy(struct mb_worker_stats *ws);

/* Publishes worker id's figures (id < MB_WORKER_STATS_MAX; others are ignored) with its pid. */
void mb_worker_stats_publish(struct mb_worker_stats *ws, int id, int pid, const struct mb_worker_figures *f);
/* Copies worker id's slot into *f; false when the slot is empty or its publisher is gone. */
bool mb_worker_stats_get(const struct mb_worker_stats *ws, int id, struct mb_worker_figures *f, int *pid);
/* Sums the slots whose publisher is still alive (kill(pid, 0) succeeds); *workers gets how many. */
void mb_worker_stats_sum(const struct mb_worker_stats *ws, struct mb_worker_figures *sum, unsigned *workers);

#endif
