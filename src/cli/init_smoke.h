/* The smoke check `mcpbridge init` runs on the profile it made: start `mcpbridge serve` on the
 * profile's config.yaml (this same binary, a child process on a free loopback port, one worker),
 * wait for GET /readyz, make sure a request without a token is refused (401), then as an MCP
 * client with the minted service-account token: initialize, tools/list, and tools/call of the
 * first read-only tool that needs no arguments; finally stop the server (SIGTERM, then SIGKILL
 * after 15 s). Each step is reported with ok/failed/skipped, its duration and, when it failed,
 * what to do about it. */
#ifndef MB_CLI_INIT_SMOKE_H
#define MB_CLI_INIT_SMOKE_H

#include <stdio.h>

struct mb_smoke_options {
    const char *config_path; /* the profile's config.yaml */
    const char
        *token; /* the service-account token, sent as "Authorization: Bearer"; never printed */
    const char *ca_file;     /* inbound TLS: the CA the server certificate is checked against; NULL:
                                plain HTTP */
    const char *client_cert; /* mTLS: the client certificate and key presented; NULL: none */
    const char *client_key;
    const char *mcp_path; /* the MCP endpoint's path, e.g. "/mcp" */
    const char *log_path; /* the server's stderr goes to this file (replaced) */
};

/* Runs the check and prints the report to out. Initializes and cleans up libcurl itself.
 * Returns 0 when every step passed (a call skipped because no tool qualifies counts as passed:
 * the report says why), -1 otherwise. The server is stopped on every path. */
int mb_smoke_run(const struct mb_smoke_options *o, FILE *out);

#endif
