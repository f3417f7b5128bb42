/* The HTTP side of authentication for the Streamable HTTP transport: picks the credential
 * headers named by the configuration, runs the gateway (auth/gateway.h), and answers refusals
 * the way MCP authorization specifies: 401 with `WWW-Authenticate: Bearer resource_metadata=...,
 * scope=...` (plus error="invalid_token" when a token was refused), 403 with
 * error="insufficient_scope", 503 with Retry-After when the identity provider's keys are
 * unavailable. Serves the RFC 9728 protected-resource metadata. Tokens are read from headers
 * only, never from the query or the body. */
#ifndef MB_HTTP_AUTH_H
#define MB_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/gateway.h"
#include "http/http_server.h"

struct mb_config;

/* Continues a request once its caller is known. p is valid during the call only (copy what
 * outlives it); NULL when authentication is off. */
typedef void (*mb_http_auth_next_cb)(void *data, struct mb_http_exchange *ex, const struct mb_http_request *req,
                                     const struct mb_principal *p);

/* Sets where this process records authentication latencies (phases "auth" and "jwks_wait" of
 * call_stats.h); NULL = nowhere. A worker serves one runtime for its life, so one setting per
 * process (mb_mcp_server_create makes it). */
struct mb_call_stats;
void mb_http_auth_set_stats(struct mb_call_stats *cs);

/* The gateway's verdict on a request: MB_AUTH_ALLOW with p, or MB_AUTH_DENY with d (status,
 * error, description, reason for the answer). p and d are valid during the call only. */
typedef void (*mb_http_auth_decided_cb)(void *data, struct mb_http_exchange *ex, const struct mb_http_request *req,
                                        enum mb_auth_outcome outcome, const struct mb_principal *p,
                                        const struct mb_auth_denial *d);

/* Asks the gateway about req's credentials (the configured credential headers, the client
 * certificate) and calls decided with the verdict, at once or later from the loop when the
 * gateway must wait for keys; the caller answers the exchange. A credential header sent twice
 * and out of memory come back as denials (401 invalid_request, 503). Records the "auth" and
 * "jwks_wait" latencies. While waiting, the exchange's data and abort callback belong to this
 * module (an abort cancels the wait and decided never runs). gw must not be NULL. */
void mb_http_auth_decide(struct mb_gateway *gw, const struct mb_config *cfg, struct mb_http_exchange *ex,
                         const struct mb_http_request *req, mb_http_auth_decided_cb decided, void *data);

/* Authenticates req and then calls next (at once, or later from the loop when the gateway must
 * wait for keys), or answers the exchange with the refusal (mb_http_auth_respond_denial). gw
 * NULL or authentication off: next at once with p NULL (or the client certificate's identity
 * as client id). Built on mb_http_auth_decide; next may install its own exchange data. */
void mb_http_auth_run(struct mb_gateway *gw, const struct mb_config *cfg, struct mb_http_exchange *ex,
                      const struct mb_http_request *req, mb_http_auth_next_cb next, void *data);

/* Answers with a refusal (status, WWW-Authenticate, JSON-RPC error body) and audits it. */
void mb_http_auth_respond_denial(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                 const struct mb_config *cfg, const struct mb_auth_denial *d);

/* True when path is the protected-resource metadata path (bare or suffixed with the MCP path). */
bool mb_http_auth_is_metadata_path(const struct mb_config *cfg, const char *path);
/* Answers GET of the metadata document (404 when authentication is off). */
void mb_http_auth_respond_metadata(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                   const struct mb_config *cfg);

/* Writes "<scheme>://<Host><path>" for this request into out (the resource's URL). */
void mb_http_auth_url(const struct mb_config *cfg, const struct mb_http_request *req, const char *path, char *out,
                      size_t cap);

#endif
