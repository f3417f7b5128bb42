/* The checks of `mcpbridge doctor` (doctor_cmd.c runs them and prints the report). Each check
 * looks at one thing a deployment depends on, outside what `mcpbridge check` validates: files
 * (TLS certificates and keys), the network (the downstream API, the identity provider's JWKS
 * and token endpoints, Redis), the host (open-file limit, listening ports) and the clock. Each
 * adds findings to a report: a check name, ok/warning/error, what was seen, and for a warning or
 * an error one sentence on what to do. Checks never print and never fail as a whole; a probe
 * that cannot run is itself a finding. Secrets (key passwords, Redis passwords, tokens) are
 * never put into a finding. Network probes block with short timeouts (a command line tool). */
#ifndef MB_CLI_DOCTOR_H
#define MB_CLI_DOCTOR_H

#include <stddef.h>

#include "config/config.h"

enum mb_doctor_status { MB_DOCTOR_OK = 0, MB_DOCTOR_WARNING, MB_DOCTOR_ERROR };

struct mb_doctor_finding {
    char *check; /* stable name: "config", "downstream", "inbound_tls.expiry", ... */
    enum mb_doctor_status status;
    char *detail; /* what was seen */
    char *fix;    /* what to do; NULL for ok */
};

struct mb_doctor_report {
    struct mb_doctor_finding *items;
    size_t count, cap;
};

/* Adds a finding (check and fix are copied; fix may be NULL). Out of memory drops it. */
void mb_doctor_add(struct mb_doctor_report *r, const char *check, enum mb_doctor_status status,
                   const char *fix, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The number of findings with this status. */
size_t mb_doctor_count(const struct mb_doctor_report *r, enum mb_doctor_status status);
/* Frees the findings; the report is then empty. */
void mb_doctor_report_dispose(struct mb_doctor_report *r);

/* Clock samples: the Date header of each server a check talked to, compared with the local clock
 * by mb_doctor_check_clock. */
#define MB_DOCTOR_MAX_CLOCKS 8
struct mb_doctor_clocks {
    size_t count;
    struct {
        char source[48]; /* "downstream", "jwks (service account)", ... */
        long skew_s;     /* server Date minus the local time at the answer, seconds */
    } samples[MB_DOCTOR_MAX_CLOCKS];
};

/* ---- doctor_tls.c */

/* One set of TLS files: the inbound listener's or the downstream client's. Paths may be NULL. */
struct mb_doctor_tls_files {
    const char *name; /* check prefix: "inbound_tls" or "downstream_tls" */
    const char
        *config_key; /* where they are configured, for fixes: "runtime.server.transport.tls" */
    const char *certfile, *keyfile, *key_password, *cafile;
    const char *cafile_role; /* "client CA" or "CA" */
};

/* Certificate readable and parsable (with its subject and issuer), key readable and matching it,
 * expiry (warning under 30 days, error when expired or not yet valid), the CA file parsing into
 * at least one certificate. Adds nothing when no file is configured. */
void mb_doctor_check_tls(struct mb_doctor_report *r, const struct mb_doctor_tls_files *files);

/* ---- doctor_net.c */

/* The downstream base URL: DNS, TCP connect and an HTTP GET with a short timeout (any HTTP status
 * means reachable), with the downstream TLS settings of cfg. base_url NULL adds a warning (no
 * base URL known). Records the Date header in clocks. */
void mb_doctor_check_downstream(struct mb_doctor_report *r, const struct mb_config *cfg,
                                const char *base_url, struct mb_doctor_clocks *clocks);

/* The identity side of security: the service account's static public key parses; each JWKS URI
 * answers and parses as a key set the server would accept (mb_jwk_set_parse_jwks); each token
 * endpoint (token exchange, client_credentials) answers a GET (no credential is sent). Adds
 * nothing when authentication and downstream credentials are off. Records Date headers. */
void mb_doctor_check_identity(struct mb_doctor_report *r, const struct mb_config *cfg,
                              struct mb_doctor_clocks *clocks);

/* One finding "clock_skew": the largest difference between the local clock and the servers'
 * Date headers (warning above 30 s: JWT exp/nbf checks and token caching depend on it). */
void mb_doctor_check_clock(struct mb_doctor_report *r, const struct mb_config *cfg,
                           const struct mb_doctor_clocks *clocks);

/* ---- doctor_host.c */

/* The open-file limit (RLIMIT_NOFILE) against what one worker needs
 * (max_connections_per_worker + runtime.http.limits.max_connections + 64, the figure the master
 * uses: each worker is its own process), whether `serve` can raise the soft limit to the hard
 * one, and the system-wide fs.file-max against workers x that. */
void mb_doctor_check_fd_limit(struct mb_doctor_report *r, const struct mb_config *cfg, int workers);

/* The MCP listener's host:port (and the separate admin listener's, when configured): free, in
 * use by a running mcpbridge (a warning), in use by something else or not bindable (an error). */
void mb_doctor_check_ports(struct mb_doctor_report *r, const struct mb_config *cfg);

/* runtime.redis.url, when set: TCP connect, AUTH when the URL has a password, PING. */
void mb_doctor_check_redis(struct mb_doctor_report *r, const struct mb_config *cfg);

#endif
