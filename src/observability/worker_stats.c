/* Per-worker statistics slots (contract in worker_stats.h). Fields are copied word by word with
 * relaxed atomics; a reader may see one slot mid-update (some fields new, some old), which a
 * counter sum tolerates. */
#include "observability/worker_stats.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

struct slot {
    _Atomic int pid;
    _Atomic uint64_t v[MB_WORKER_FIGURE_COUNT];
};

struct mb_worker_stats {
    struct slot slots[MB_WORKER_STATS_MAX];
};

struct mb_worker_stats *mb_worker_stats_create(void)
{
    void *p = mmap(NULL, sizeof(struct mb_worker_stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mb_worker_stats_destroy(struct mb_worker_stats *ws)
{
    if (ws)
        munmap(ws, sizeof *ws);
}

void mb_worker_stats_publish(struct mb_worker_stats *ws, int id, int pid, const struct mb_worker_figures *f)
{
    if (!ws || id < 0 || id >= MB_WORKER_STATS_MAX)
        return;
    struct slot *s = &ws->slots[id];
    uint64_t v[MB_WORKER_FIGURE_COUNT];
    memcpy(v, f, sizeof v);
    for (size_t i = 0; i < MB_WORKER_FIGURE_COUNT; i++)
        atomic_store_explicit(&s->v[i], v[i], memory_order_relaxed);
    atomic_store_explicit(&s->pid, pid, memory_order_release);
}

void mb_worker_stats_sum(const struct mb_worker_stats *cws, struct mb_worker_figures *sum, unsigned *workers)
{
    struct mb_worker_stats *ws = (struct mb_worker_stats *)cws;
    uint64_t total[MB_WORKER_FIGURE_COUNT] = {0};
    unsigned n = 0;
    for (size_t i = 0; ws && i < MB_WORKER_STATS_MAX; i++) {
        struct slot *s = &ws->slots[i];
        int pid = atomic_load_explicit(&s->pid, memory_order_acquire);
        if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
            continue;
        n++;
        for (size_t k = 0; k < MB_WORKER_FIGURE_COUNT; k++)
            total[k] += atomic_load_explicit(&s->v[k], memory_order_relaxed);
    }
    memcpy(sum, total, sizeof total);
    if (workers)
        *workers = n;
}

bool mb_worker_stats_get(const struct mb_worker_stats *cws, int id, struct mb_worker_figures *f, int *pid)
{
    struct mb_worker_stats *ws = (struct mb_worker_stats *)cws;
    if (!ws || id < 0 || id >= MB_WORKER_STATS_MAX)
        return false;
    struct slot *s = &ws->slots[id];
    int p = atomic_load_explicit(&s->pid, memory_order_acquire);
    if (p <= 0 || (kill(p, 0) != 0 && errno == ESRCH))
        return false;
    uint64_t v[MB_WORKER_FIGURE_COUNT];
    for (size_t k = 0; k < MB_WORKER_FIGURE_COUNT; k++)
        v[k] = atomic_load_explicit(&s->v[k], memory_order_relaxed);
    memcpy(f, v, sizeof v);
    if (pid)
        *pid = p;
    return true;
}
