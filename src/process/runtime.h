/* Everything the master builds before forking workers: the config, the tool catalog, the
 * prompt and resource sets, and the shared-memory region (session tombstones, per-worker stat
 * slots). Workers inherit it copy-on-write and never modify the immutable parts. A reload
 * builds a complete new runtime (inheriting the shared region and the session key from the
 * old one) and only swaps it in when every part validated. */
#ifndef MB_RUNTIME_H
#define MB_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "common/diag.h"
#include "config/config.h"
#include "mcp/prompts.h"
#include "mcp/resources.h"
#include "openapi/catalog.h"

struct mb_shared;   /* mcp/session.h: tombstones and stats, MAP_SHARED before fork */
struct mb_guard_stats;
struct mb_gateway_shared;
struct mb_tls_context;   /* http/tls.h */
struct mb_ratelimit;
struct mb_worker_stats;
struct mb_call_stats;
struct mb_capacity;

struct mb_runtime {
    struct mb_config *config;
    struct mb_catalog *catalog;
    struct mb_prompt_set *prompts;
    struct mb_resource_set *resources;
    struct mb_shared *shared;        /* one region for the life of the master */
    struct mb_guard_stats *guard_stats; /* guard/guard_stats.h: per-tool guard counters (shared,
                                      * same owner as shared) */
    struct mb_gateway_shared *gateway_shared; /* auth/gateway.h: fetched JWKS shared by the workers;
                                      * owned by this runtime (a reload fetches again) */
    struct mb_tls_context *tls;      /* inbound TLS (runtime.server.transport.tls), NULL = plain HTTP;
                                      * made before fork so workers share session-ticket keys */
    struct mb_ratelimit *ratelimit;  /* limits/ratelimit.h: token buckets (shared, same owner as shared) */
    struct mb_worker_stats *worker_stats; /* observability/worker_stats.h: one slot per worker (shared) */
    struct mb_capacity *capacity;    /* observability/capacity.h: the master's samples and verdict
                                      * (shared, same owner as shared) */
    struct mb_call_stats *call_stats; /* observability/call_stats.h: requests, tools, phase
                                      * histograms (shared; owned by this runtime: a reload
                                      * builds a new one for its tool set) */
    bool owns_shared;                /* true in the first runtime; a reload's runtime borrows it
                                      * and the master moves ownership to the new runtime when
                                      * it retires the old one (after the new workers are ready) */
    uint8_t session_key[32];         /* HMAC key for session ids */
    unsigned generation;             /* 1 for the first build, +1 per successful reload */
    int port_override;               /* --port, or -1 */
};

/* Loads config_path (NULL = the embedded demo config), builds the catalog, prompts and
 * resources. prev (may be NULL) donates its shared region, session key and generation+1.
 * Returns 0 and *out, or -1 with diagnostics. */
int mb_runtime_build(const char *config_path, int port_override, const struct mb_runtime *prev,
                     struct mb_runtime **out, struct mb_diags *diags);
void mb_runtime_destroy(struct mb_runtime *rt);
/* Announces a runtime: one "http.config" line (how downstream calls are made) and the
 * startup_inventory audit event (generation, the tools (names, capped), prompts, resource
 * count, whether authentication and rate limiting are on, the scope rules). The master calls
 * it once at start (action "start") and after each committed reload ("reload"). */
void mb_runtime_audit_inventory(const struct mb_runtime *rt, const char *action);
/* Applies observability.logging (level, json, per-logger levels) to this process. */
void mb_runtime_apply_logging(const struct mb_runtime *rt);
/* The effective listening port (port_override when >= 0, else config). */
int mb_runtime_port(const struct mb_runtime *rt);

/* A worker's whole life: its own libuv loop, HTTP server on listen_fd, downstream client, MCP
 * server, and a second HTTP server with only the admin routes on admin_fd (the separate admin
 * listener of observability.metrics.port; -1 = none, the admin routes are on listen_fd).
 * Writes one byte to ready_fd (when >= 0) and closes it once it accepts connections.
 * Returns the process exit code when the loop ends (after SIGTERM: stop accepting,
 * finish in-flight exchanges within config->shutdown_grace_ms, then exit 0). */
int mb_worker_main(struct mb_runtime *rt, int worker_id, int listen_fd, int admin_fd, int ready_fd);

#endif
