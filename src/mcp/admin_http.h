/* The admin surface over HTTP: GET of the Prometheus metrics (observability.metrics.path) and of
 * the status page (observability.status_page.path), served either on the MCP listener or, when
 * observability.metrics.port is set, only on a separate admin listener whose handler knows
 * nothing else. Every admin request passes the DNS-rebinding guard (Host, Origin) and the
 * method check (GET; else 405 with Allow). The metrics then pass the protection rule before
 * anything is rendered:
 *   - a credential method is configured (observability.admin.token_env, or
 *     security.authentication): the request must present it, from any peer, loopback included:
 *     "Authorization: Bearer <admin token>" (compared by SHA-256 in constant time), or a
 *     principal the security gateway accepts that holds observability.admin.scope;
 *   - none is configured: loopback peers are let in when observability.admin.allow_loopback is
 *     true (the default); everyone else gets 403 naming the keys to set.
 * 401 carries `WWW-Authenticate: Bearer realm="mcpbridge-admin"`; 403 answers an authenticated
 * caller without the scope, and a peer that no configured method could let in. Refusals are
 * audited (category "admin"); the token is never logged. The status page is the same static
 * shell for everyone (no figures: it polls the metrics with the token the operator types in),
 * so it is not behind the rule: a browser cannot attach a bearer token to a page load.
 * docs/internals/admin-surface.md has the reasons. */
#ifndef MB_ADMIN_HTTP_H
#define MB_ADMIN_HTTP_H

#include <stdbool.h>

#include "http/http_server.h"

struct mb_config;
struct mb_runtime;
struct mb_gateway;
struct mb_admin_http;

/* The DNS-rebinding guard shared by every listener: the Host header must name this server
 * (runtime.server.transport.allowed_hosts, else a loopback name or bound_host, the address the
 * listener was bound to; anything when bound to 0.0.0.0 or :: without a list) and an Origin,
 * when sent, must be allowed (allowed_origins, else loopback origins only). Returns NULL when
 * the request passes, else a reason for a 403 that names the key to change. */
const char *mb_http_host_origin_refusal(const struct mb_config *cfg, const char *bound_host,
                                        const struct mb_http_request *req);

/* Creates the admin routes of one listener of a worker. rt and gw (NULL: no gateway, which
 * with security.authentication on means every admin request is refused with 503) are borrowed
 * and must outlive it; bound_host is copied. NULL on allocation failure. */
struct mb_admin_http *mb_admin_http_create(struct mb_runtime *rt, struct mb_gateway *gw, const char *bound_host);
/* Frees it. The HTTP server(s) routing to it must have been destroyed first (their pending
 * exchanges abort, which cancels the authentications they wait for). NULL is ignored. */
void mb_admin_http_destroy(struct mb_admin_http *a);

/* Answers req when its path is an enabled admin route (now, or later from the loop when the
 * gateway waits for keys) and returns true; returns false without touching the exchange
 * otherwise. While an authentication waits, the exchange's data and abort callback belong to
 * this module. */
bool mb_admin_http_route(struct mb_admin_http *a, struct mb_http_exchange *ex, const struct mb_http_request *req);

/* The mb_http_request_cb of the separate admin listener (data: the struct mb_admin_http): the
 * admin routes, 404 for every other path. */
void mb_admin_http_on_request(struct mb_http_exchange *ex, const struct mb_http_request *req, void *data);

#endif
