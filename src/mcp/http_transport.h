/* MCP Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25) on top of the HTTP server:
 * POST carries JSON-RPC (answered as application/json, or as an SSE stream once a
 * notification such as progress has to precede the result), GET opens an SSE stream for
 * server-initiated messages, DELETE ends a session. Also serves /healthz and /readyz.
 * Guards every request first: Host and Origin against DNS rebinding (403), Accept (406),
 * Content-Type (415), session presence (400) and validity (404), MCP-Protocol-Version (400). */
#ifndef MB_HTTP_TRANSPORT_H
#define MB_HTTP_TRANSPORT_H

#include <stdbool.h>
#include <uv.h>

#include "http/http_server.h"

struct mb_runtime;
struct mb_mcp_server;
struct mb_gateway;
struct mb_http_transport;

/* Creates the transport for one worker; rt, mcp and gw are borrowed (gw NULL: no
 * authentication). NULL on allocation failure. */
struct mb_http_transport *mb_http_transport_create(uv_loop_t *loop, struct mb_runtime *rt,
                                                   struct mb_mcp_server *mcp, struct mb_gateway *gw,
                                                   int worker_id);
/* The mb_http_request_cb to give mb_http_server_create, with the transport as data. */
void mb_http_transport_on_request(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                  void *data);
/* Marks the worker as draining: /readyz answers 503, open GET streams are ended. */
void mb_http_transport_drain(struct mb_http_transport *t);
/* Open GET (SSE) streams. */
unsigned mb_http_transport_stream_count(const struct mb_http_transport *t);
/* Frees the transport; the HTTP server must have been destroyed (or drained) first. */
void mb_http_transport_destroy(struct mb_http_transport *t);

#endif
