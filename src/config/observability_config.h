/* The admin surface's configuration: observability.metrics (the Prometheus endpoint and the
 * optional separate admin listener), observability.status_page, observability.admin (who may
 * read them) and observability.capacity (the master's capacity sampler and its thresholds).
 * Parsed and validated by observability_config.c as part of mb_config_load, with the same
 * file:line diagnostics. Unknown keys in these four groups are errors, not warnings: a misspelt
 * admin key must not silently leave the admin routes open. The admin token itself is never
 * kept: only its SHA-256, taken from the environment variable token_env names at load time.
 * Immutable once loaded, like the rest of struct mb_config. See docs/internals/admin-surface.md. */
#ifndef MB_OBSERVABILITY_CONFIG_H
#define MB_OBSERVABILITY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define MB_ADMIN_TOKEN_HASH_LEN 32

struct mb_observability_config {
    /* observability.metrics */
    bool metrics_enabled;        /* default true */
    char *metrics_path;          /* default "/metrics" */
    char *admin_host;            /* metrics.host, default "127.0.0.1": the separate admin listener's address */
    int admin_port;              /* metrics.port, default 0 = the admin routes are served on the MCP
                                  * listener; 1..65535 = only on a separate listener at admin_host */
    /* observability.status_page */
    bool status_enabled;         /* default true */
    char *status_path;           /* default "/status" */
    /* observability.admin */
    char *admin_token_env;       /* the variable's name (not secret), NULL = no admin token */
    bool admin_token_set;        /* token_env was set: admin_token_sha256 holds the token's digest */
    uint8_t admin_token_sha256[MB_ADMIN_TOKEN_HASH_LEN];
    char *admin_scope;           /* default "mcpbridge:admin": the scope a principal needs */
    bool admin_allow_loopback;   /* default true: loopback peers are let in when no credential
                                  * method (token or authentication) is configured */
    /* observability.capacity */
    double cpu_threshold;        /* default 0.70, in (0, 1] */
    unsigned sustain_seconds;    /* default 300 */
    double memory_pressure_pct;  /* default 10, in (0, 100] */
    double network_ratio;        /* default 0.8, in (0, 1] */
    unsigned link_speed_mbps;    /* default 0 = read from /sys/class/net/<if>/speed */
    double connections_ratio;    /* default 0.8, in (0, 1] */
    unsigned sample_interval_ms; /* default 1000 */
};

/* Releases what obs owns (not obs itself) and wipes the token digest. */
void mb_observability_config_dispose(struct mb_observability_config *obs);

/* For mb_config_load only (config_internal.h has the loader): reads the four groups into obs,
 * reporting problems through L. Runs after the transport and security groups were read. */
struct mb_config_loader;
void mb_config_read_observability(struct mb_config_loader *L, struct mb_observability_config *obs);

#endif
