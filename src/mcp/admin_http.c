/* Implementation of admin_http.h. A metrics request goes guard (Host/Origin) -> method ->
 * protection -> render; only the protection step may wait (for the gateway's keys), in a small
 * heap context tied to the exchange. The status page's bytes are rendered once per listener
 * and kept. */
#include "mcp/admin_http.h"
#include "mcp/http_auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/gateway.h"
#include "common/buf.h"
#include "common/hmac.h"
#include "common/log.h"
#include "config/config.h"
#include "mcp/mcp_server.h"
#include "observability/audit.h"
#include "observability/call_stats.h"
#include "observability/capacity.h"
#include "observability/metrics.h"
#include "observability/status_page.h"
#include "process/runtime.h"

#define LOGGER "admin"
#define MAX_METRICS_BYTES (16u * 1024 * 1024)
#define MAX_PAGE_BYTES (1u * 1024 * 1024)
#define MAX_BEARER_BYTES 4096
#define REALM "Bearer realm=\"mcpbridge-admin\""

static const char STATUS_CSP[] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                 "connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

struct mb_admin_http {
    struct mb_runtime *rt;
    struct mb_gateway *gw;
    char *bound_host;
    struct mb_buf page;          /* the status page, rendered on first use */
    double master_started_boot_s; /* the master's start, CLOCK_BOOTTIME seconds; < 0 = unknown */
};

/* A metrics request waiting for the gateway. */

/* ---- the Host / Origin guard ---- */

static bool is_loopback_name(const char *host, size_t len)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]", "::1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncasecmp(host, names[i], len) == 0)
            return true;
    return len > 4 && strncmp(host, "127.", 4) == 0;
}

/* Splits "host:port" / "[v6]:port" and returns the host part's length. */
static size_t host_part(const char *value, size_t len)
{
    if (len && value[0] == '[') {
        const char *end = memchr(value, ']', len);
        return end ? (size_t)(end - value) + 1 : len;
    }
    const char *colon = memchr(value, ':', len);
    return colon ? (size_t)(colon - value) : len;
}

static bool list_has(char **list, size_t count, const char *value, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], "*") == 0 || (strlen(list[i]) == len && strncasecmp(list[i], value, len) == 0))
            return true;
    return false;
}

const char *mb_http_host_origin_refusal(const struct mb_config *cfg, const char *bound_host,
                                        const struct mb_http_request *req)
{
    size_t hlen = 0;
    const char *host = mb_http_header_get(req, "host", &hlen);
    if (host) {
        size_t hp = host_part(host, hlen);
        bool ok;
        if (cfg->allowed_host_count)
            ok = list_has(cfg->allowed_hosts, cfg->allowed_host_count, host, hlen) ||
                 list_has(cfg->allowed_hosts, cfg->allowed_host_count, host, hp);
        else if (strcmp(bound_host, "0.0.0.0") == 0 || strcmp(bound_host, "::") == 0)
            ok = true; /* bound to every interface without an allow-list: warned at start */
        else
            ok = is_loopback_name(host, hp) || (strlen(bound_host) == hp && strncasecmp(bound_host, host, hp) == 0);
        if (!ok)
            return "Forbidden: Host header not allowed (runtime.server.transport.allowed_hosts)";
    }
    size_t olen = 0;
    const char *origin = mb_http_header_get(req, "origin", &olen);
    if (origin) {
        bool ok;
        if (cfg->allowed_origin_count) {
            ok = list_has(cfg->allowed_origins, cfg->allowed_origin_count, origin, olen);
        } else {
            /* Without a list only loopback origins: http(s)://localhost[:port] and friends. */
            const char *p = memmem(origin, olen, "://", 3);
            ok = false;
            if (p) {
                p += 3;
                size_t rest = olen - (size_t)(p - origin);
                ok = is_loopback_name(p, host_part(p, rest));
            }
        }
        if (!ok)
            return "Forbidden: Origin not allowed (runtime.server.transport.allowed_origins)";
    }
    return NULL;
}

/* ---- answers ---- */

/* A JSON error body {"error": code, "error_description": text}; www: a WWW-Authenticate value
 * or NULL. */
static void respond_problem(struct mb_http_exchange *ex, int status, const char *code, const char *text,
                            const char *www)
{
    struct mb_buf body;
    mb_buf_init(&body, 2048);
    mb_buf_printf(&body, "{\"error\":\"%s\",\"error_description\":\"", code);
    mb_buf_append_json_escaped(&body, text, strlen(text));
    mb_buf_append_str(&body, "\"}");
    struct mb_http_header h[4] = {{"Content-Type", 12, "application/json", 16},
                                  {"Cache-Control", 13, "no-store", 8}};
    size_t n = 2;
    if (www)
        h[n++] = (struct mb_http_header){"WWW-Authenticate", 16, www, strlen(www)};
    if (status == 503)
        h[n++] = (struct mb_http_header){"Retry-After", 11, "5", 1};
    mb_http_respond(ex, status, h, n, body.data ? body.data : "", body.len);
    mb_buf_dispose(&body);
}

/* Audits a refusal (before answering: req->peer lives as long as the exchange) and answers. */
static void deny(struct mb_http_exchange *ex, const struct mb_http_request *req, int status, const char *code,
                 const char *reason, const char *text, const char *www, const struct mb_principal *p)
{
    struct mb_audit_event ev = {
        .category = "admin", .action = status == 403 ? "authorize" : "authenticate", .status = "deny",
        .reason = reason, .peer = req->peer, .key = req->path,
        .client_id = p && p->client_id[0] ? p->client_id : NULL,
        .principal = p && p->subject[0] ? p->subject : NULL,
    };
    mb_audit(&ev);
    respond_problem(ex, status, code, text, www);
}

/* Seconds since the master process started, or -1 when unknown. */
static double uptime_seconds(const struct mb_admin_http *a)
{
    struct timespec ts;
    if (a->master_started_boot_s < 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
        return -1;
    double up = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - a->master_started_boot_s;
    return up > 0 ? up : 0;
}

static int render_identity(const struct mb_admin_http *a, struct mb_buf *out)
{
    int rc = mb_buf_append_str(out, "# HELP mcpbridge_build_info The mcpbridge version serving (always 1).\n"
                                    "# TYPE mcpbridge_build_info gauge\n"
                                    "mcpbridge_build_info{version=\"");
    if (!rc)
        rc = mb_metrics_label_escape(out, MB_VERSION);
    if (!rc)
        rc = mb_buf_printf(out, "\"} 1\n"
                                "# HELP mcpbridge_generation The configuration generation serving (1 at start, "
                                "+1 per successful reload).\n"
                                "# TYPE mcpbridge_generation gauge\n"
                                "mcpbridge_generation %u\n", a->rt->generation);
    double up = uptime_seconds(a);
    if (!rc && up >= 0)
        rc = mb_buf_printf(out, "# HELP mcpbridge_uptime_seconds Seconds since the master process started.\n"
                                "# TYPE mcpbridge_uptime_seconds gauge\n"
                                "mcpbridge_uptime_seconds %.3f\n", up);
    return rc;
}

static void serve_metrics(struct mb_admin_http *a, struct mb_http_exchange *ex)
{
    const struct mb_runtime *rt = a->rt;
    struct mb_buf out;
    mb_buf_init(&out, MAX_METRICS_BYTES);
    struct mb_capacity_snapshot *snap = rt->capacity ? malloc(sizeof *snap) : NULL;
    int rc = render_identity(a, &out);
    if (!rc)
        rc = mb_metrics_render_workers(rt->worker_stats, &out);
    if (!rc)
        rc = mb_metrics_render_guard(rt->guard_stats, rt->config->guard_signal_window, &out);
    if (!rc)
        rc = mb_metrics_render_calls(rt->call_stats, &out);
    if (!rc && rt->capacity) {
        if (!snap) {
            rc = -ENOMEM;
        } else {
            mb_capacity_read(rt->capacity, snap);
            rc = mb_capacity_render_metrics(snap, &out);
        }
    }
    free(snap);
    if (rc) {
        mb_error(LOGGER, "metrics could not be rendered: %s", strerror(-rc));
        respond_problem(ex, 500, "internal_error", "the metrics could not be rendered", NULL);
        mb_buf_dispose(&out);
        return;
    }
    static const char type[] = "text/plain; version=0.0.4; charset=utf-8";
    struct mb_http_header h[3] = {{"Content-Type", 12, type, sizeof type - 1},
                                  {"Cache-Control", 13, "no-store", 8},
                                  {"X-Content-Type-Options", 22, "nosniff", 7}};
    mb_http_respond(ex, 200, h, 3, out.data ? out.data : "", out.len);
    mb_buf_dispose(&out);
}

static void serve_status(struct mb_admin_http *a, struct mb_http_exchange *ex)
{
    if (!a->page.len) {
        int rc = mb_status_page_render(a->rt->config->observability.metrics_path, &a->page);
        if (rc) {
            mb_buf_reset(&a->page);
            mb_error(LOGGER, "the status page could not be rendered: %s", strerror(-rc));
            respond_problem(ex, 500, "internal_error", "the status page could not be rendered", NULL);
            return;
        }
    }
    struct mb_http_header h[5] = {{"Content-Type", 12, "text/html; charset=utf-8", 24},
                                  {"Content-Security-Policy", 23, STATUS_CSP, sizeof STATUS_CSP - 1},
                                  {"X-Content-Type-Options", 22, "nosniff", 7},
                                  {"Cache-Control", 13, "no-store", 8},
                                  {"Referrer-Policy", 15, "no-referrer", 11}};
    mb_http_respond(ex, 200, h, 5, a->page.data, a->page.len);
}

/* ---- protection ---- */

/* "127.0.0.1:5000", "[::1]:5000" and "[::ffff:127.0.0.1]:5000" are loopback peers. */
static bool peer_is_loopback(const char *peer)
{
    return peer && (strncmp(peer, "127.", 4) == 0 || strncmp(peer, "[::1]:", 6) == 0 ||
                    strncasecmp(peer, "[::ffff:127.", 12) == 0);
}

static size_t header_lines(const struct mb_http_request *req, const char *name)
{
    size_t n = 0, nl = strlen(name);
    for (size_t i = 0; i < req->header_count; i++)
        if (req->headers[i].name_len == nl && strncasecmp(req->headers[i].name, name, nl) == 0)
            n++;
    return n;
}

/* The admin token presented as "Authorization: Bearer <token>", or NULL. */
static const char *bearer_token(const struct mb_http_request *req, size_t *len)
{
    size_t alen = 0;
    const char *v = mb_http_header_get(req, "authorization", &alen);
    if (!v || alen <= 7 || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    alen -= 7;
    while (alen && *v == ' ') {
        v++;
        alen--;
    }
    *len = alen;
    return alen ? v : NULL;
}

/* Digests first, so the comparison neither depends on nor reveals the token's length. */
static bool token_matches(const struct mb_observability_config *o, const char *token, size_t len)
{
    uint8_t digest[MB_HMAC_SHA256_LEN];
    if (len > MAX_BEARER_BYTES || mb_sha256(token, len, digest) != 0)
        return false;
    bool same = CRYPTO_memcmp(digest, o->admin_token_sha256, sizeof digest) == 0;
    OPENSSL_cleanse(digest, sizeof digest);
    return same;
}

static bool has_scope(const struct mb_principal *p, const char *scope)
{
    for (size_t i = 0; i < p->scope_count; i++)
        if (strcmp(p->scopes[i], scope) == 0)
            return true;
    return false;
}

/* The gateway's verdict on a metrics request: the principal needs the admin scope. */
static void decide(struct mb_admin_http *a, struct mb_http_exchange *ex, const struct mb_http_request *req,
                   enum mb_auth_outcome outcome, const struct mb_principal *p, const struct mb_auth_denial *d)
{
    const char *scope = a->rt->config->observability.admin_scope;
    char www[256], text[300];
    if (outcome != MB_AUTH_ALLOW) {
        if (d->status == 503) {
            deny(ex, req, 503, "temporarily_unavailable", d->reason, d->description, NULL, NULL);
            return;
        }
        if (d->error)
            snprintf(www, sizeof www, REALM ", error=\"%s\"", d->error);
        else
            snprintf(www, sizeof www, REALM);
        deny(ex, req, d->status == 403 ? 403 : 401, d->status == 403 ? "forbidden" : "unauthorized", d->reason,
             d->description, www, NULL);
        return;
    }
    if (has_scope(p, scope)) {
        serve_metrics(a, ex);
        return;
    }
    if (!p->authenticated) {
        snprintf(text, sizeof text, "the metrics need a credential: a token with the scope %s, or the admin token",
                 scope);
        deny(ex, req, 401, "unauthorized", "missing_credentials", text, REALM, p);
        return;
    }
    snprintf(www, sizeof www, REALM ", error=\"insufficient_scope\", scope=\"%s\"", scope);
    snprintf(text, sizeof text, "the caller lacks the scope %s (observability.admin.scope)", scope);
    deny(ex, req, 403, "insufficient_scope", "insufficient_scope", text, www, p);
}

static void on_decided(void *data, struct mb_http_exchange *ex, const struct mb_http_request *req,
                       enum mb_auth_outcome outcome, const struct mb_principal *p, const struct mb_auth_denial *d)
{
    decide(data, ex, req, outcome, p, d);
}

/* Through the security gateway, with the MCP endpoint's credential headers (http_auth.h). */
static void authenticate(struct mb_admin_http *a, struct mb_http_exchange *ex, const struct mb_http_request *req)
{
    if (!a->gw) {
        deny(ex, req, 503, "temporarily_unavailable", "no_gateway", "authentication is not available", NULL, NULL);
        return;
    }
    mb_http_auth_decide(a->gw, a->rt->config, ex, req, on_decided, a);
}

/* With no credential method configured, only loopback peers (and only when allow_loopback)
 * reach the admin surface. Returns true when it refused. */
static bool refuse_without_credentials(struct mb_admin_http *a, struct mb_http_exchange *ex,
                                       const struct mb_http_request *req)
{
    const struct mb_observability_config *o = &a->rt->config->observability;
    if (o->admin_allow_loopback && peer_is_loopback(req->peer))
        return false;
    deny(ex, req, 403, "forbidden", "no_admin_credentials",
         o->admin_allow_loopback
             ? "the admin surface answers loopback peers only: set observability.admin.token_env (or enable "
               "security.authentication and grant observability.admin.scope) to open it to others"
             : "observability.admin.allow_loopback is false and no credential is configured: set "
               "observability.admin.token_env (or enable security.authentication)",
         NULL, NULL);
    return true;
}

/* The protection rule of the metrics (admin_http.h): credentials when a method is configured,
 * from every peer; loopback peers only when none is. */
static void protect(struct mb_admin_http *a, struct mb_http_exchange *ex, const struct mb_http_request *req)
{
    const struct mb_config *cfg = a->rt->config;
    const struct mb_observability_config *o = &cfg->observability;
    bool token_method = o->admin_token_set;
    bool auth_method = cfg->security.auth_enabled;
    if (!token_method && !auth_method) {
        if (!refuse_without_credentials(a, ex, req))
            serve_metrics(a, ex);
        return;
    }
    if (header_lines(req, "authorization") > 1) {
        deny(ex, req, 401, "invalid_request", "repeated_credentials", "the Authorization header appears more than once",
             REALM ", error=\"invalid_request\"", NULL);
        return;
    }
    size_t len = 0;
    const char *token = bearer_token(req, &len);
    if (token_method && token && token_matches(o, token, len)) {
        serve_metrics(a, ex);
        return;
    }
    if (auth_method) {
        authenticate(a, ex, req);
        return;
    }
    if (token)
        deny(ex, req, 401, "invalid_token", "invalid_admin_token", "the admin token is not valid",
             REALM ", error=\"invalid_token\"", NULL);
    else
        deny(ex, req, 401, "unauthorized", "missing_credentials",
             "send the admin token (the value of observability.admin.token_env) as Authorization: Bearer", REALM,
             NULL);
}

/* ---- routes ---- */

bool mb_admin_http_route(struct mb_admin_http *a, struct mb_http_exchange *ex, const struct mb_http_request *req)
{
    const struct mb_config *cfg = a->rt->config;
    const struct mb_observability_config *o = &cfg->observability;
    bool metrics = o->metrics_enabled && strcmp(req->path, o->metrics_path) == 0;
    if (!metrics && !(o->status_enabled && strcmp(req->path, o->status_path) == 0))
        return false;
    const char *refused = mb_http_host_origin_refusal(cfg, a->bound_host, req);
    if (refused) {
        mb_info("http", "refused %s %s from %s: %s", req->method_name, req->path, req->peer, refused);
        respond_problem(ex, 403, "forbidden", refused, NULL);
        return true;
    }
    if (strcmp(req->method_name, "GET") != 0) {
        char text[320];
        snprintf(text, sizeof text, "Method Not Allowed: GET %s", req->path);
        struct mb_http_header h[2] = {{"Allow", 5, "GET", 3}, {"Content-Type", 12, "application/json", 16}};
        struct mb_buf body;
        mb_buf_init(&body, 1024);
        mb_buf_append_str(&body, "{\"error\":\"method_not_allowed\",\"error_description\":\"");
        mb_buf_append_json_escaped(&body, text, strlen(text));
        mb_buf_append_str(&body, "\"}");
        mb_http_respond(ex, 405, h, 2, body.data ? body.data : "", body.len);
        mb_buf_dispose(&body);
        return true;
    }
    if (metrics)
        protect(a, ex, req);
    else if (o->admin_token_set || cfg->security.auth_enabled)
        serve_status(a, ex); /* the shell holds no figures and a browser cannot attach a bearer
                              * token to a page load: the page asks for the token and sends it
                              * with every metrics request, which protect() checks */
    else if (!refuse_without_credentials(a, ex, req))
        serve_status(a, ex);  /* no credential method: the loopback rule, as for the metrics */
    return true;
}

void mb_admin_http_on_request(struct mb_http_exchange *ex, const struct mb_http_request *req, void *data)
{
    if (!mb_admin_http_route(data, ex, req))
        respond_problem(ex, 404, "not_found", "Not Found: this listener serves only the admin routes", NULL);
}

/* The master's start in CLOCK_BOOTTIME seconds, from field 22 of /proc/<ppid>/stat (a worker's
 * parent is the master), or -1. */
static double master_start(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)getppid());
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p)
        return -1;
    p++; /* at the space before field 3 */
    for (int field = 3; field < 22 && p; field++) /* then at the space before field + 1 */
        p = strchr(p + 1, ' ');
    long ticks = sysconf(_SC_CLK_TCK);
    unsigned long long start;
    if (!p || ticks <= 0 || sscanf(p, " %llu", &start) != 1)
        return -1;
    return (double)start / (double)ticks;
}

struct mb_admin_http *mb_admin_http_create(struct mb_runtime *rt, struct mb_gateway *gw, const char *bound_host)
{
    struct mb_admin_http *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->rt = rt;
    a->gw = gw;
    a->bound_host = strdup(bound_host ? bound_host : "127.0.0.1");
    if (!a->bound_host) {
        free(a);
        return NULL;
    }
    mb_buf_init(&a->page, MAX_PAGE_BYTES);
    a->master_started_boot_s = master_start();
    return a;
}

void mb_admin_http_destroy(struct mb_admin_http *a)
{
    if (!a)
        return;
    mb_buf_dispose(&a->page);
    free(a->bound_host);
    free(a);
}
