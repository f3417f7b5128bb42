/* HTTP authentication glue (contract in http_auth.h). One small context per request that has
 * to wait for the gateway; the common case (cache hit or static key) runs straight through. */
#include "mcp/http_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "config/config.h"
#include "mcp/jsonrpc.h"
#include "observability/audit.h"
#include "observability/call_stats.h"

#define WELL_KNOWN "/.well-known/oauth-protected-resource"

struct auth_wait {
    struct mb_http_exchange *ex;
    const struct mb_http_request *req;
    const struct mb_config *cfg;
    mb_http_auth_decided_cb decided; /* mb_http_auth_decide's caller, or NULL: */
    mb_http_auth_next_cb next;       /* mb_http_auth_run's (the refusal is answered here) */
    void *data;
    struct mb_auth_pending *pending;
    struct mb_principal principal;
    struct mb_auth_denial denial;
    uint64_t started_ns;
};

/* Where authentication latencies go: the process's runtime statistics (one runtime per worker
 * process for its whole life), set by mb_http_auth_set_stats. */
static struct mb_call_stats *auth_stats;

void mb_http_auth_set_stats(struct mb_call_stats *cs)
{
    auth_stats = cs;
}

void mb_http_auth_url(const struct mb_config *cfg, const struct mb_http_request *req, const char *path, char *out,
                      size_t cap)
{
    size_t hlen = 0;
    const char *host = mb_http_header_get(req, "host", &hlen);
    const char *scheme = cfg->tls_certfile ? "https" : "http";
    if (!host) {
        host = "localhost";
        hlen = strlen(host);
    }
    snprintf(out, cap, "%s://%.*s%s", scheme, (int)(hlen > 255 ? 255 : hlen), host, path);
}

bool mb_http_auth_is_metadata_path(const struct mb_config *cfg, const char *path)
{
    size_t n = strlen(WELL_KNOWN);
    return strncmp(path, WELL_KNOWN, n) == 0 && (path[n] == '\0' || strcmp(path + n, cfg->path) == 0);
}

void mb_http_auth_respond_metadata(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                   const struct mb_config *cfg)
{
    if (!cfg->security.auth_enabled) {
        static const char body[] = "{\"error\":\"not_found\",\"error_description\":\"this server does not require "
                                   "authorization\"}";
        struct mb_http_header h[1] = {{"Content-Type", 12, "application/json", 16}};
        mb_http_respond(ex, 404, h, 1, body, sizeof body - 1);
        return;
    }
    char resource[512];
    mb_http_auth_url(cfg, req, cfg->path, resource, sizeof resource);
    char *doc = mb_gateway_metadata_json(&cfg->security, resource, cfg->server_name);
    struct mb_http_header h[2] = {{"Content-Type", 12, "application/json", 16},
                                  {"Cache-Control", 13, "max-age=300", 11}};
    if (!doc) {
        mb_http_respond(ex, 500, NULL, 0, NULL, 0);
        return;
    }
    mb_http_respond(ex, 200, h, 2, doc, strlen(doc));
    free(doc);
}

/* Quotes s for a challenge parameter (drops quotes and backslashes, which our texts never need). */
static void append_param(char *out, size_t cap, const char *name, const char *value)
{
    size_t len = strlen(out);
    if (len + 8 >= cap)
        return;
    len += (size_t)snprintf(out + len, cap - len, "%s%s=\"", len > 7 ? ", " : "", name);
    for (; *value && len + 2 < cap; value++)
        if (*value != '"' && *value != '\\' && (unsigned char)*value >= 0x20)
            out[len++] = *value;
    out[len] = '\0';
    snprintf(out + len, cap - len, "\"");
}

void mb_http_auth_respond_denial(struct mb_http_exchange *ex, const struct mb_http_request *req,
                                 const struct mb_config *cfg, const struct mb_auth_denial *d)
{
    const struct mb_service_account_config *sa = &cfg->security.sa;
    char challenge[1400] = "Bearer ";
    char url[600], path[300];
    if (d->error)
        append_param(challenge, sizeof challenge, "error", d->error);
    if (d->error && d->description[0])
        append_param(challenge, sizeof challenge, "error_description", d->description);
    if (sa->require_metadata_on_401 || sa->sso_mode || d->status == 403) {
        snprintf(path, sizeof path, "%s%s", WELL_KNOWN, cfg->path);
        mb_http_auth_url(cfg, req, path, url, sizeof url);
        append_param(challenge, sizeof challenge, "resource_metadata", url);
    }
    if (d->scope[0])
        append_param(challenge, sizeof challenge, "scope", d->scope);
    if (strlen(challenge) == 7)
        snprintf(challenge, sizeof challenge, "Bearer realm=\"mcpbridge\"");
    int code = d->status == 403 ? MB_JSONRPC_FORBIDDEN : d->status == 401 ? MB_JSONRPC_UNAUTHORIZED
                                                                          : MB_JSONRPC_INTERNAL_ERROR;
    char message[320];
    snprintf(message, sizeof message, "%s: %s", d->status == 403 ? "Forbidden" : d->status == 401 ? "Unauthorized"
                                                                                              : "Service Unavailable",
             d->description);
    size_t len = 0;
    char *body = mb_jsonrpc_error_text(code, message, &len);
    struct mb_http_header h[2] = {{"Content-Type", 12, "application/json", 16}};
    size_t n = 1;
    if (d->status == 503)
        h[n++] = (struct mb_http_header){"Retry-After", 11, "5", 1};
    else
        h[n++] = (struct mb_http_header){"WWW-Authenticate", 16, challenge, strlen(challenge)};
    /* Audited before answering: the request (req->peer) may be freed once the exchange is answered. */
    struct mb_audit_event ev = {
        .category = "auth", .action = d->status == 403 ? "authorize" : "authenticate", .status = "deny",
        .reason = d->reason, .peer = req->peer,
    };
    mb_audit(&ev);
    mb_http_respond(ex, d->status, h, n, body ? body : "", body ? len : 0);
    free(body);
}

static void fill_input(const struct mb_config *cfg, const struct mb_http_request *req, struct mb_auth_input *in)
{
    const struct mb_security_config *sec = &cfg->security;
    memset(in, 0, sizeof *in);
    if (sec->sa.enabled)
        in->service_account = mb_http_header_get(req, sec->sa.header, &in->service_account_len);
    if (sec->user.enabled)
        in->user = mb_http_header_get(req, sec->user.header, &in->user_len);
    in->tls_identity = mb_http_request_client_identity(req);
}

/* The number of header lines named name (case-insensitive). */
static size_t header_lines(const struct mb_http_request *req, const char *name)
{
    size_t n = 0, nl = strlen(name);
    for (size_t i = 0; i < req->header_count; i++)
        if (req->headers[i].name_len == nl && strncasecmp(req->headers[i].name, name, nl) == 0)
            n++;
    return n;
}

/* A credential header sent more than once is ambiguous (a proxy in front may have looked at
 * another line than the first, which the gateway would use): refused rather than guessed.
 * Returns the repeated header's name, or NULL. */
static const char *repeated_credential(const struct mb_config *cfg, const struct mb_http_request *req)
{
    const struct mb_security_config *sec = &cfg->security;
    if (sec->sa.enabled && header_lines(req, sec->sa.header) > 1)
        return sec->sa.header;
    if (sec->user.enabled && header_lines(req, sec->user.header) > 1)
        return sec->user.header;
    return NULL;
}

static void on_wait_abort(struct mb_http_exchange *ex, void *data)
{
    struct auth_wait *w = mb_http_exchange_get_data(ex);
    (void)data;
    if (!w)
        return;
    mb_auth_cancel(w->pending);
    free(w);
}

/* Hands the verdict to whoever asked. */
static void finish(struct auth_wait *w, enum mb_auth_outcome outcome)
{
    if (w->decided)
        w->decided(w->data, w->ex, w->req, outcome, &w->principal, &w->denial);
    else if (outcome == MB_AUTH_ALLOW)
        w->next(w->data, w->ex, w->req, &w->principal);
    else
        mb_http_auth_respond_denial(w->ex, w->req, w->cfg, &w->denial);
}

static void on_auth_done(void *data, enum mb_auth_outcome outcome)
{
    struct auth_wait *w = data;
    uint64_t us = (uv_hrtime() - w->started_ns) / 1000;
    /* The gateway only parks a request to wait for signing keys (first fetch or a refresh). */
    mb_call_stats_record_phase(auth_stats, MB_PHASE_JWKS_WAIT, us);
    mb_call_stats_record_phase(auth_stats, MB_PHASE_AUTH, us);
    mb_http_exchange_on_abort(w->ex, NULL);
    mb_http_exchange_set_data(w->ex, NULL);
    finish(w, outcome);
    free(w);
}

/* Asks the gateway; the verdict goes to decided, or (decided NULL) to next / the refusal. */
static void begin(struct mb_gateway *gw, const struct mb_config *cfg, struct mb_http_exchange *ex,
                  const struct mb_http_request *req, mb_http_auth_decided_cb decided, mb_http_auth_next_cb next,
                  void *data)
{
    struct auth_wait early = { .ex = ex, .req = req, .cfg = cfg, .decided = decided, .next = next, .data = data };
    const char *repeated = repeated_credential(cfg, req);
    if (repeated) {
        early.denial = (struct mb_auth_denial){ .status = 401, .error = "invalid_request" };
        snprintf(early.denial.description, sizeof early.denial.description,
                 "the %.100s header appears more than once", repeated);
        snprintf(early.denial.reason, sizeof early.denial.reason, "repeated_credentials");
        finish(&early, MB_AUTH_DENY);
        return;
    }
    struct auth_wait *w = malloc(sizeof *w);
    if (!w) {
        early.denial = (struct mb_auth_denial){ .status = 503 };
        snprintf(early.denial.description, sizeof early.denial.description, "out of memory");
        snprintf(early.denial.reason, sizeof early.denial.reason, "internal");
        finish(&early, MB_AUTH_DENY);
        return;
    }
    *w = early;
    w->started_ns = uv_hrtime();
    struct mb_auth_input in;
    fill_input(cfg, req, &in);
    enum mb_auth_outcome o = mb_gateway_authenticate(gw, &in, &w->principal, &w->denial, on_auth_done, w, &w->pending);
    if (o == MB_AUTH_PENDING) {
        mb_http_exchange_set_data(ex, w);
        mb_http_exchange_on_abort(ex, on_wait_abort);
        return;
    }
    mb_call_stats_record_phase(auth_stats, MB_PHASE_AUTH, (uv_hrtime() - w->started_ns) / 1000);
    finish(w, o);
    free(w);
}

void mb_http_auth_decide(struct mb_gateway *gw, const struct mb_config *cfg, struct mb_http_exchange *ex,
                         const struct mb_http_request *req, mb_http_auth_decided_cb decided, void *data)
{
    begin(gw, cfg, ex, req, decided, NULL, data);
}

void mb_http_auth_run(struct mb_gateway *gw, const struct mb_config *cfg, struct mb_http_exchange *ex,
                      const struct mb_http_request *req, mb_http_auth_next_cb next, void *data)
{
    if (!gw || !cfg->security.auth_enabled) {
        /* Without authentication a verified client certificate still names the caller: its
         * identity is the client id (rate-limit key, audit, session binding). */
        const char *identity = mb_http_request_client_identity(req);
        if (!identity) {
            next(data, ex, req, NULL);
            return;
        }
        struct mb_principal *p = calloc(1, sizeof *p);
        if (!p) {
            next(data, ex, req, NULL);
            return;
        }
        snprintf(p->client_id, sizeof p->client_id, "%s", identity);
        next(data, ex, req, p);
        free(p);
        return;
    }
    begin(gw, cfg, ex, req, NULL, next, data);
}
