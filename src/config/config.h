/* The loaded, validated configuration (mcp_server_config.json vocabulary, JSON or YAML).
 * Immutable once loaded: a reload builds and validates a whole new struct mb_config and
 * swaps it in; nothing ever mutates a loaded one. Every documented key keeps its documented
 * default; keys mcpbridge adds are listed in docs/configuration.md.
 * Relative paths in the file (spec_file, prompts dir, resources dir, TLS files) are resolved
 * against the directory of the config file at load time, so every path here is usable as is. */
#ifndef MB_CONFIG_H
#define MB_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "common/doc.h"
#include "config/observability_config.h"
#include "config/security_config.h"

/* The response guard's settings for one tool (runtime.http.response_guard, or an entry of its
 * "tools" object, which inherits every key it does not set from the global group). */
struct mb_guard_policy {
    bool enabled;
    int mode;                  /* 0 trim, 1 block, 2 warn (the order of enum mb_guard_mode) */
    unsigned max_array_items;  /* default 50 */
    size_t max_response_bytes; /* default 1 MiB */
    size_t max_string_bytes;   /* default 65536; 0 = no string cap */
    unsigned max_depth;        /* default 64 (1..256) */
};

struct mb_guard_override {
    char *pattern;             /* a tool name, or an fnmatch pattern ("list_*") */
    struct mb_guard_policy policy;
};

struct mb_config {
    char *source;          /* path of the file, or "<embedded default>" */
    json_t *root;          /* the whole document, for modules with their own sections (routes, security) */

    /* api.openapi */
    char *spec_file;       /* required; absolute or relative to cwd after resolution */
    char *base_url;        /* api.openapi.base_url, else runtime.http.base_url, else NULL (spec servers[]) */
    char *spec_name;       /* may be NULL */

    /* runtime.server.transport */
    char *transport_type;  /* "streamable-http" (only one implemented) or "sse" (refused with a clear error for now) */
    char *host;            /* default "127.0.0.1" (documented system: 0.0.0.0; we bind loopback unless told) */
    int port;              /* default 8500 */
    char *path;            /* default "/mcp"; always starts with '/' */
    char **allowed_origins; size_t allowed_origin_count; /* transport.allowed_origins; empty = only loopback origins */
    char **allowed_hosts;   size_t allowed_host_count;   /* transport.allowed_hosts; empty = loopback names + bound host */
    /* runtime.server.transport.tls (inbound TLS); paths resolved, files checked readable */
    char *tls_certfile;                   /* NULL = plain HTTP; set together with tls_keyfile */
    char *tls_keyfile;
    char *tls_client_cafile;              /* NULL = client certificates are not asked for */
    bool tls_require_client_cert;         /* default false; true needs tls_client_cafile */

    /* runtime.server.* additions (mcpbridge) */
    unsigned max_connections_per_worker; /* runtime.server.max_connections_per_worker, default 10000 */
    size_t max_header_bytes;              /* runtime.server.max_header_bytes, default 16384 */
    unsigned header_timeout_ms;           /* runtime.server.timeouts.header_ms, default 10000 */
    unsigned body_timeout_ms;             /* runtime.server.timeouts.body_ms, default 10000 */
    unsigned idle_timeout_ms;             /* runtime.server.timeouts.idle_ms, default 60000 */
    unsigned shutdown_grace_ms;           /* runtime.server.shutdown_grace_seconds * 1000, default 10000 */
    unsigned drain_delay_ms;              /* runtime.server.drain_delay_ms, default 0: after a stop signal, keep
                                           * accepting (responses close their connection) this long
                                           * before the listener closes; less than shutdown_grace_ms */
    int workers;                          /* runtime.server.workers (0 = not set; CLI/env decide) */
    char *session_secret;                 /* runtime.server.session.secret (hex or text); NULL = random per start */
    unsigned session_ttl_seconds;         /* runtime.server.session.ttl_seconds, default 86400 */
    bool sessions_enabled;                /* runtime.server.session.enabled, default true (false = stateless) */
    unsigned sse_replay_seconds;          /* runtime.server.sse.replay_seconds, default 60; 0 = SSE events carry
                                           * no ids and streams cannot be resumed */
    unsigned sse_max_stream_bytes;        /* runtime.server.sse.max_stream_bytes, default 1 MiB: events kept per stream */
    unsigned sse_max_worker_bytes;        /* runtime.server.sse.max_worker_bytes, default 64 MiB: per worker */

    /* runtime.* */
    size_t max_request_bytes;             /* runtime.max_request_bytes, default 10240 */

    /* runtime.http */
    json_t *default_headers;              /* runtime.http.default_headers, object of strings, borrowed from root; may be NULL */
    bool accept_encoding;                 /* runtime.http.accept_encoding, default false */
    char *http_tls_cafile;                /* runtime.http.tls.cafile (ca_file, ca_bundle): CAs for the API; NULL = system */
    char *http_tls_certfile;              /* runtime.http.tls.certfile: client certificate; NULL = none */
    char *http_tls_keyfile;               /* runtime.http.tls.keyfile */
    char *http_tls_key_password;          /* runtime.http.tls.key_password (use ${ENV}); NULL = none */
    unsigned http_max_connections;        /* runtime.http.limits.max_connections, default 100 */
    unsigned http_max_keepalive;          /* runtime.http.limits.max_keepalive_connections, default 20 */
    unsigned http_connect_timeout_ms;     /* runtime.http.limits.connect_timeout_ms, default 5000 */
    size_t max_response_bytes;            /* runtime.http.response_guard.max_response_bytes, default 1048576 */
    bool guard_enabled;                   /* runtime.http.response_guard.enabled, default true */
    char *guard_mode;                     /* "trim" (default), "block", "warn" */
    unsigned guard_max_array_items;       /* default 50 */
    struct mb_guard_policy guard;         /* the fields above plus max_string_bytes, max_depth */
    struct mb_guard_override *guard_overrides; size_t guard_override_count; /* response_guard.tools */
    double guard_near_ratio;              /* response_guard.near_limit_ratio, default 0.8 */
    unsigned guard_signal_window;         /* response_guard.pagination_signal.window, default 100 */
    double guard_signal_ratio;            /* response_guard.pagination_signal.ratio, default 0.5 */

    /* runtime.middleware */
    bool request_timeout_enabled;         /* middleware.request_timeout.enabled, default true */
    unsigned request_timeout_ms;          /* middleware.request_timeout.timeout_ms, default 500 (documented) */
    bool method_validation;               /* middleware.method_validation.enabled, default true */
    bool include_traceback;               /* middleware.error_handling.include_traceback, default false */

    /* security.*, runtime.middleware.rate_limiting / circuit_breaker, runtime.redis */
    struct mb_security_config security;

    /* assistant / resources */
    char *prompts_dir;                    /* assistant.prompts.dir, may be NULL */
    size_t prompts_max_total_bytes;       /* assistant.prompts.max_total_bytes, default 262144 */
    char *resources_dir;                  /* assistant.resources.dir (mcpbridge), may be NULL */
    size_t resources_max_file_bytes;      /* assistant.resources.max_file_bytes, default 1048576 */

    /* observability.logging */
    char *log_level;                      /* default "INFO" */
    bool log_json;                        /* default false */
    json_t *log_loggers;                  /* object name -> level string, borrowed; may be NULL */
    bool include_payloads;                /* runtime.middleware.logging.include_payloads, default false */

    /* observability.metrics, status_page, admin, capacity: the admin surface */
    struct mb_observability_config observability;

    /* server identity reported in initialize */
    char *server_name;                    /* server.name, default "mcpbridge" */
    char *instructions;                   /* server.instructions, may be NULL */

    /* where the config came from (mcpbridge additions for modules validating their own sections) */
    char *base_dir;                       /* absolute directory relative paths were resolved against */
    struct mb_doc *doc;                   /* the parsed document, owned: mb_doc_line(cfg->doc, "/security/...")
                                           * gives lines for diagnostics; its root is the document
                                           * before ${VAR} substitution and path resolution, root above after */
};

/* Loads, resolves and validates a config file (JSON, or YAML by extension/content).
 * On success returns 0 and stores a new config in *out (caller frees with mb_config_destroy).
 * On failure returns -1, stores NULL, and adds one "file:line: message" diagnostic per
 * problem found (all problems, not just the first): unknown types, out-of-range values,
 * a missing spec_file, unknown keys in groups mcpbridge owns (as warnings it does not fail on). */
int mb_config_load(const char *path, struct mb_config **out, struct mb_diags *diags);

/* Builds the config of the demo from text embedded in the binary (spec path given by caller,
 * since the bundled spec lives in the source tree or install prefix). Same returns. */
int mb_config_load_text(const char *name, const char *text, const char *base_dir,
                        struct mb_config **out, struct mb_diags *diags);

void mb_config_destroy(struct mb_config *cfg);

/* The guard policy for a tool: the first entry of response_guard.tools whose pattern equals the
 * name, else the first whose fnmatch pattern matches it (in file order), else the global one.
 * Never NULL; points into cfg. */
const struct mb_guard_policy *mb_config_guard_policy(const struct mb_config *cfg, const char *tool_name);

/* Worker count: the --workers argument (may be NULL), else MCPBRIDGE_WORKERS, else
 * UVICORN_WORKERS, else cfg->workers, else 1. Accepts a positive integer or a profile name:
 * dev=1, io=2, cpu=nproc, ha=2*nproc. Returns the count (1..1024) or -1 with a message in
 * err (errlen bytes) naming which source held the bad value. */
int mb_config_resolve_workers(const struct mb_config *cfg, const char *cli_value, char *err, size_t errlen);

#endif
