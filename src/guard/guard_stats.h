/* Per-tool response-guard statistics shared by every worker of an instance, and the
 * "needs pagination" signal: a tool whose recent calls keep coming near (or over) the guard's
 * limits is an API that should be paged. One anonymous MAP_SHARED region mapped by the master
 * before fork; slots are claimed per tool with compare-and-swap and never freed (a tool that
 * disappears on reload keeps its counters until restart). Counters are atomics; readers (the
 * metrics endpoint) see a consistent-enough snapshot without locks.
 *
 * The signal: each slot keeps a ring of the last `window` calls as bits (1 = near or over a
 * limit). After recording a call, when the set bits reach ceil(ratio * window) the tool is
 * flagged; the flag clears when they drop below half of that (hysteresis, so a tool on the
 * boundary does not flap). Exactly one worker observes each transition, to log it once. */
#ifndef MB_GUARD_STATS_H
#define MB_GUARD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_GUARD_STATS_WINDOW_MAX 1024 /* largest accepted window (calls) */
#define MB_GUARD_STATS_NAME_MAX 129    /* 128 bytes + NUL: the longest tool name the converter makes (MB_OA_NAME_LIMIT) */

struct mb_guard_stats;

/* What one guarded call did. */
struct mb_guard_outcome {
    bool near;       /* within near_limit_ratio of a limit, or over one */
    bool trimmed;    /* trim mode cut the result */
    bool blocked;    /* block mode refused the result */
    bool warned;     /* warn mode passed an over-limit result through */
    uint64_t bytes;  /* body bytes read */
};

/* A snapshot of one tool's counters (for metrics and status). */
struct mb_guard_tool_stats {
    char name[MB_GUARD_STATS_NAME_MAX];
    uint64_t calls, near, trimmed, blocked, warned;
    uint64_t max_bytes;       /* largest body read */
    unsigned recent_near;     /* near-limit calls among the last `window` */
    unsigned recent_calls;    /* calls in the window (at most window) */
    bool needs_pagination;
};

/* Maps a region with room for slot_count tools (rounded up to a power of two, at least 64).
 * Call before fork. Returns NULL when the mapping fails. */
struct mb_guard_stats *mb_guard_stats_create(size_t slot_count);
void mb_guard_stats_destroy(struct mb_guard_stats *st);

/* Records one call of tool (NUL-terminated). window is clamped to 1..MB_GUARD_STATS_WINDOW_MAX,
 * ratio to (0, 1]. Returns 1 when this call flagged the tool as needing pagination, -1 when it
 * cleared the flag, 0 otherwise (also when st is NULL or the table is full: counted in
 * mb_guard_stats_dropped). */
int mb_guard_stats_record(struct mb_guard_stats *st, const char *tool, const struct mb_guard_outcome *o,
                          unsigned window, double ratio);

/* Fills *out for tool; returns false when the tool has no slot (never called). */
bool mb_guard_stats_get(const struct mb_guard_stats *st, const char *tool, unsigned window,
                        struct mb_guard_tool_stats *out);

/* Calls cb for every tool with a slot, in slot order. window as in record. */
void mb_guard_stats_foreach(const struct mb_guard_stats *st, unsigned window,
                            void (*cb)(void *data, const struct mb_guard_tool_stats *ts), void *data);

/* Calls that could not be recorded because every slot was taken. */
uint64_t mb_guard_stats_dropped(const struct mb_guard_stats *st);

#endif
