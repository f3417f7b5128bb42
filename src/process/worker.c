/* A worker process: one libuv loop with the HTTP server on the inherited listening socket,
 * the MCP transport and core, and the downstream client; when the master opened a separate
 * admin listener (observability.metrics.port), a second HTTP server on it that only knows the
 * admin routes. SIGTERM/SIGINT start a graceful stop: /readyz turns 503 and every response
 * from then on closes its connection; after runtime.server.drain_delay_ms (the time a load
 * balancer needs to see the 503; default 0) the listeners close, idle connections close,
 * requests in flight finish, then the loop ends and the process exits 0. The whole stop is
 * bounded by shutdown_grace_ms from the signal (docs/internals/scale-out.md). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "auth/gateway.h"
#include "common/log.h"
#include "observability/worker_stats.h"
#include "http/http_server.h"
#include "mcp/admin_http.h"
#include "mcp/http_transport.h"
#include "mcp/mcp_server.h"
#include "process/runtime.h"
#include "state/redis_state.h"
#include "upstream/upstream.h"

#define MB_ADMIN_MAX_CONNECTIONS 256  /* operators and scrapers, not clients */
#define MB_ADMIN_MAX_BODY_BYTES 1024  /* the admin routes take GET only */

struct worker {
    uv_loop_t loop;
    struct mb_runtime *rt;
    int id;
    struct mb_upstream *up;
    struct mb_gateway *gw;
    struct mb_mcp_server *mcp;
    struct mb_http_transport *transport;
    struct mb_http_server *http;
    struct mb_admin_http *admin;     /* the separate admin listener's routes, or NULL */
    struct mb_http_server *admin_http;
    unsigned draining_servers;       /* servers still draining after the stop signal */
    uv_signal_t sigterm, sigint;
    uv_timer_t grace;                /* from the stop signal: everything still open is closed */
    uv_timer_t drain_delay;          /* from the stop signal: the listeners close */
    uv_timer_t publish;              /* republishes this worker's figures into its shared slot */
    bool stopping;
};

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void finish(struct worker *w)
{
    if (w->http) {
        mb_http_server_destroy(w->http);
        w->http = NULL;
    }
    if (w->admin_http) {
        mb_http_server_destroy(w->admin_http);
        w->admin_http = NULL;
    }
    mb_admin_http_destroy(w->admin); /* after its server: pending exchanges abort first */
    w->admin = NULL;
    if (w->mcp) {
        mb_mcp_server_destroy(w->mcp);
        w->mcp = NULL;
    }
    if (w->transport) {
        mb_http_transport_destroy(w->transport);
        w->transport = NULL;
    }
    if (w->gw) {
        mb_gateway_destroy(w->gw);  /* before upstream: its JWKS fetches are upstream calls */
        w->gw = NULL;
    }
    if (w->up) {
        mb_upstream_destroy(w->up);
        w->up = NULL;
    }
    uv_walk(&w->loop, close_handle, NULL);
}

/* Copies this worker's counters into its shared statistics slot (for /metrics). */
static void publish_figures(struct worker *w)
{
    struct mb_worker_figures f;
    memset(&f, 0, sizeof f);
    if (w->http) {
        struct mb_http_tls_stats ts;
        mb_http_server_tls_stats(w->http, &ts);
        f.connections_open = mb_http_server_connection_count(w->http);
        f.tls_handshakes = ts.handshakes;
        f.tls_resumed = ts.resumed;
        f.tls_failures = ts.handshake_failures;
        mb_http_server_response_counts(w->http, f.http_responses);
    }
    if (w->up) {
        struct mb_upstream_stats us;
        mb_upstream_stats(w->up, &us);
        f.downstream_connections_new = us.connections_new;
        f.downstream_connections_reused = us.connections_reused;
        f.downstream_tls_handshakes = us.tls_handshakes;
        f.downstream_tls_resumed = us.tls_resumed;
    }
    if (w->gw) {
        struct mb_gateway_stats gs;
        mb_gateway_stats(w->gw, &gs);
        f.auth_allowed = gs.allowed;
        f.auth_denied = gs.denied;
        f.auth_cache_hits = gs.cache_hits;
        f.auth_signature_checks = gs.signature_checks;
        f.auth_waited_for_keys = gs.waited_for_keys;
    }
    if (w->mcp) {
        mb_mcp_server_rate_counts(w->mcp, &f.rate_allowed, &f.rate_limited);
        struct mb_redis_state_health rh;
        f.redis_configured = mb_mcp_server_redis_health(w->mcp, &rh);
        f.redis_connected = rh.connected;
        f.redis_reconnects = rh.reconnects;
        f.redis_errors = rh.errors;
    }
    mb_worker_stats_publish(w->rt->worker_stats, w->id, (int)getpid(), &f);
}

static void on_publish(uv_timer_t *timer)
{
    publish_figures(timer->data);
}

static void on_drained(void *data)
{
    struct worker *w = data;
    if (--w->draining_servers > 0)
        return;
    mb_info("worker", "drained; exiting");
    finish(w);
}

static void on_grace_expired(uv_timer_t *timer)
{
    struct worker *w = timer->data;
    mb_warn("worker", "grace period of %u ms over with %u requests in flight; closing them",
            w->rt->config->shutdown_grace_ms, w->mcp ? mb_mcp_server_inflight(w->mcp) : 0);
    finish(w);
}

/* The second step of the stop: no more connections; idle ones close, busy ones finish. */
static void stop_accepting(struct worker *w)
{
    mb_debug("worker", "closing the listener(s) (%u connections open)", mb_http_server_connection_count(w->http));
    w->draining_servers = w->admin_http ? 2 : 1;
    if (w->admin_http)
        mb_http_server_shutdown(w->admin_http, on_drained, w);
    mb_http_server_shutdown(w->http, on_drained, w);
}

static void on_drain_delay_over(uv_timer_t *timer)
{
    stop_accepting(timer->data);
}

/* The first step: /readyz answers 503 (a load balancer's health check takes the instance out)
 * while the listeners stay open and every request that still arrives, on a new or a kept-alive
 * connection, is answered with "Connection: close". Closing a kept-alive connection while the
 * balancer is sending a request on it would lose that request, so connections are left to go
 * away as they are used until the delay is over. */
static void on_stop_signal(uv_signal_t *sig, int signum)
{
    struct worker *w = sig->data;
    if (w->stopping)
        return;
    w->stopping = true;
    const struct mb_config *cfg = w->rt->config;
    mb_info("worker", "signal %d: draining (%u connections open, drain delay %u ms, grace %u ms)", signum,
            mb_http_server_connection_count(w->http), cfg->drain_delay_ms, cfg->shutdown_grace_ms);
    uv_timer_start(&w->grace, on_grace_expired, cfg->shutdown_grace_ms, 0);
    mb_http_transport_drain(w->transport);
    mb_http_server_begin_drain(w->http);
    mb_http_server_begin_drain(w->admin_http);
    if (cfg->drain_delay_ms)
        uv_timer_start(&w->drain_delay, on_drain_delay_over, cfg->drain_delay_ms, 0);
    else
        stop_accepting(w);
}

/* The separate admin listener: plain limits of its own (no request bodies, few connections),
 * the MCP listener's TLS when it has one. Returns 0 or -1 (logged). */
static int start_admin_listener(struct worker *w, const struct mb_http_limits *mcp_limits, int admin_fd)
{
    const struct mb_config *cfg = w->rt->config;
    struct mb_http_limits limits = *mcp_limits;
    limits.max_body_bytes = MB_ADMIN_MAX_BODY_BYTES;
    limits.max_connections = MB_ADMIN_MAX_CONNECTIONS;
    w->admin = mb_admin_http_create(w->rt, w->gw, cfg->observability.admin_host);
    w->admin_http = w->admin ? mb_http_server_create(&w->loop, &limits, mb_admin_http_on_request, w->admin) : NULL;
    if (!w->admin_http) {
        mb_error("worker", "could not set up the admin listener: out of memory");
        return -1;
    }
    int err = mb_http_server_listen_fd(w->admin_http, admin_fd);
    if (err) {
        mb_error("worker", "cannot accept on the admin listening socket: %s", uv_strerror(err));
        return -1;
    }
    return 0;
}

int mb_worker_main(struct mb_runtime *rt, int worker_id, int listen_fd, int admin_fd, int ready_fd)
{
    int rc = 1;
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return 1;
    w->rt = rt;
    w->id = worker_id;
    signal(SIGPIPE, SIG_IGN);
    mb_log_set_worker(worker_id);
    if (uv_loop_init(&w->loop) != 0) {
        free(w);
        return 1;
    }
    const struct mb_config *cfg = rt->config;
    struct mb_upstream_options opts = {
        .max_connections = cfg->http_max_connections,
        .max_keepalive = cfg->http_max_keepalive,
        .connect_timeout_ms = cfg->http_connect_timeout_ms,
        .accept_encoding = cfg->accept_encoding,
        .tls_ca_file = cfg->http_tls_cafile,
        .tls_cert_file = cfg->http_tls_certfile,
        .tls_key_file = cfg->http_tls_keyfile,
        .tls_key_password = cfg->http_tls_key_password,
    };
    struct mb_http_limits limits;
    mb_http_limits_default(&limits);
    limits.max_header_bytes = cfg->max_header_bytes;
    limits.max_body_bytes = cfg->max_request_bytes;
    limits.header_timeout_ms = cfg->header_timeout_ms;
    limits.body_timeout_ms = cfg->body_timeout_ms;
    limits.idle_timeout_ms = cfg->idle_timeout_ms;
    limits.max_connections = cfg->max_connections_per_worker;
    limits.tls = rt->tls;

    w->up = mb_upstream_create(&w->loop, &opts);
    if (w->up && cfg->security.auth_enabled) {
        char err[256];
        w->gw = mb_gateway_create(&w->loop, w->up, &cfg->security, rt->gateway_shared, err, sizeof err);
        if (!w->gw) {
            mb_error("worker", "authentication could not start: %s", err);
            goto done;
        }
    }
    w->mcp = w->up ? mb_mcp_server_create(&w->loop, rt, w->up) : NULL;
    w->transport = w->mcp ? mb_http_transport_create(&w->loop, rt, w->mcp, w->gw, worker_id) : NULL;
    w->http = w->transport ? mb_http_server_create(&w->loop, &limits, mb_http_transport_on_request, w->transport) : NULL;
    if (!w->http) {
        mb_error("worker", "could not set up the worker");
        goto done;
    }
    int err = mb_http_server_listen_fd(w->http, listen_fd);
    if (err) {
        mb_error("worker", "cannot accept on the listening socket: %s", uv_strerror(err));
        goto done;
    }
    if (admin_fd >= 0 && start_admin_listener(w, &limits, admin_fd) != 0)
        goto done;
    uv_signal_init(&w->loop, &w->sigterm);
    uv_signal_init(&w->loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_stop_signal, SIGINT);
    uv_timer_init(&w->loop, &w->grace);
    w->grace.data = w;
    uv_timer_init(&w->loop, &w->drain_delay);
    w->drain_delay.data = w;
    uv_timer_init(&w->loop, &w->publish);
    w->publish.data = w;
    uv_timer_start(&w->publish, on_publish, 1000, 1000);
    uv_unref((uv_handle_t *)&w->publish);
    publish_figures(w); /* before "ready": a ready worker is always counted in /metrics */
    if (ready_fd >= 0) {
        ssize_t n = write(ready_fd, "R", 1);
        (void)n;
        close(ready_fd);
    }
    mb_debug("worker", "serving %zu tools (generation %u)", rt->catalog->tool_count, rt->generation);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    rc = 0;
done:
    finish(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        mb_debug("worker", "loop closed with handles still open");
    free(w);
    return rc;
}
