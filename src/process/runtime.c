/* Implementation of runtime.h: the one place that turns a config path into everything a
 * worker needs, used alike by `serve` (master, before fork and on SIGHUP), `stdio` and `check`. */
#include "process/runtime.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "config/default_config.h"
#include "mcp/mcp_server.h"
#include "auth/gateway.h"
#include "guard/guard_stats.h"
#include "http/tls.h"
#include "limits/ratelimit.h"
#include "observability/audit.h"
#include "observability/call_stats.h"
#include "observability/capacity.h"
#include "observability/worker_stats.h"
#include "mcp/session.h"

#define MB_SHARED_SLOTS 65536
#define MB_GUARD_STATS_SLOTS 4096
#define MB_RATELIMIT_SLOTS 65536   /* rate-limit buckets (1 MiB); more keys share an overflow bucket */  /* tools with guard counters; more tools than this are not counted */

#ifndef MB_SOURCE_DIR
#define MB_SOURCE_DIR "."
#endif

/* Where the embedded demo config finds demo/: $MCPBRIDGE_HOME, else the source tree the
 * binary was built from, else the current directory. */
static const char *demo_base_dir(void)
{
    const char *home = getenv("MCPBRIDGE_HOME");
    if (home && *home)
        return home;
    struct stat sb;
    if (stat(MB_SOURCE_DIR "/demo/openapi.yaml", &sb) == 0)
        return MB_SOURCE_DIR;
    return ".";
}

static int derive_key(const char *secret, uint8_t key[32])
{
    unsigned int len = 0;
    return EVP_Digest(secret, strlen(secret), key, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

/* observability.capacity as the sampler's thresholds. */
static void capacity_thresholds(const struct mb_config *cfg, struct mb_capacity_thresholds *t)
{
    const struct mb_observability_config *o = &cfg->observability;
    mb_capacity_thresholds_default(t);
    t->cpu_ratio = o->cpu_threshold;
    t->sustain_seconds = o->sustain_seconds;
    t->memory_pressure_pct = o->memory_pressure_pct;
    t->network_ratio = o->network_ratio;
    t->link_bytes_per_s = (uint64_t)o->link_speed_mbps * 125000u; /* 1 Mbit/s = 125,000 bytes/s */
    t->connections_ratio = o->connections_ratio;
}

/* The request statistics region, one row per tool of the catalog (operations, then helpers). */
static struct mb_call_stats *call_stats_for(const struct mb_catalog *catalog)
{
    size_t n = catalog->tool_count;
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = catalog->tools[i].name;
    struct mb_call_stats *cs = mb_call_stats_create(names, n);
    free(names);
    return cs;
}

int mb_runtime_build(const char *config_path, int port_override, const struct mb_runtime *prev,
                     struct mb_runtime **out, struct mb_diags *diags)
{
    int rc = -1;
    struct mb_runtime *rt = calloc(1, sizeof *rt);
    *out = NULL;
    if (!rt)
        return -1;
    rt->port_override = port_override;
    int loaded = config_path
                     ? mb_config_load(config_path, &rt->config, diags)
                     : mb_config_load_text("<embedded demo config>", mb_default_config_text,
                                           demo_base_dir(), &rt->config, diags);
    if (loaded != 0)
        goto done;
    if (rt->config->tls_certfile) {
        struct mb_tls_options to = {
            .certfile = rt->config->tls_certfile,
            .keyfile = rt->config->tls_keyfile,
            .client_cafile = rt->config->tls_client_cafile,
            .require_client_cert = rt->config->tls_require_client_cert,
        };
        char tls_err[512];
        rt->tls = mb_tls_context_create(&to, tls_err, sizeof tls_err);
        if (!rt->tls) {
            mb_diags_add(diags, rt->config->source,
                         rt->config->doc ? mb_doc_line(rt->config->doc, "/runtime/server/transport/tls") : 0,
                         "runtime.server.transport.tls: %s", tls_err);
            goto done;
        }
    }
    rt->catalog = mb_catalog_create(rt->config, diags);
    rt->prompts = mb_prompts_load(rt->config->prompts_dir, rt->config->prompts_max_total_bytes, diags);
    rt->resources = mb_resources_load(rt->config->resources_dir, rt->config->resources_max_file_bytes, diags);
    if (!rt->catalog || !rt->prompts || !rt->resources)
        goto done;
    if (prev) {
        rt->shared = prev->shared;
        rt->guard_stats = prev->guard_stats;
        rt->ratelimit = prev->ratelimit;
        rt->worker_stats = prev->worker_stats;
        rt->capacity = prev->capacity;
        rt->owns_shared = false;
        rt->generation = prev->generation + 1;
        memcpy(rt->session_key, prev->session_key, sizeof rt->session_key);
    } else {
        rt->shared = mb_shared_create(MB_SHARED_SLOTS);
        rt->guard_stats = mb_guard_stats_create(MB_GUARD_STATS_SLOTS);
        rt->ratelimit = mb_ratelimit_create(MB_RATELIMIT_SLOTS);
        rt->worker_stats = mb_worker_stats_create();
        struct mb_capacity_thresholds th;
        capacity_thresholds(rt->config, &th);
        rt->capacity = mb_capacity_create(&th);
        rt->owns_shared = true;
        rt->generation = 1;
        if (!rt->shared || !rt->guard_stats || !rt->ratelimit || !rt->worker_stats || !rt->capacity) {
            mb_diags_add(diags, rt->config->source, 0, "could not map the shared memory region");
            goto done;
        }
        if (RAND_bytes(rt->session_key, sizeof rt->session_key) != 1) {
            mb_diags_add(diags, rt->config->source, 0, "the random generator failed");
            goto done;
        }
    }
    if (prev) {
        struct mb_capacity_thresholds th;
        capacity_thresholds(rt->config, &th);
        mb_capacity_set_thresholds(rt->capacity, &th);
    }
    if (!(rt->call_stats = call_stats_for(rt->catalog))) {
        mb_diags_add(diags, rt->config->source, 0, "could not map the request statistics region");
        goto done;
    }
    char err[256];
    rt->gateway_shared = mb_gateway_shared_create(&rt->config->security, err, sizeof err);
    if (!rt->gateway_shared) {
        mb_diags_add(diags, rt->config->source, 0, "%s", err);
        goto done;
    }
    if (rt->config->session_secret && derive_key(rt->config->session_secret, rt->session_key)) {
        mb_diags_add(diags, rt->config->source, 0, "could not derive the session key");
        goto done;
    }
    rc = 0;
done:
    if (rc) {
        mb_runtime_destroy(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

void mb_runtime_destroy(struct mb_runtime *rt)
{
    if (!rt)
        return;
    if (rt->catalog)
        mb_catalog_destroy(rt->catalog);
    if (rt->prompts)
        mb_prompts_destroy(rt->prompts);
    if (rt->resources)
        mb_resources_destroy(rt->resources);
    if (rt->owns_shared) {
        mb_shared_destroy(rt->shared);
        mb_guard_stats_destroy(rt->guard_stats);
        mb_ratelimit_destroy(rt->ratelimit);
        mb_worker_stats_destroy(rt->worker_stats);
        mb_capacity_destroy(rt->capacity);
    }
    mb_call_stats_destroy(rt->call_stats);
    mb_gateway_shared_destroy(rt->gateway_shared);
    mb_tls_context_destroy(rt->tls);
    if (rt->config)
        mb_config_destroy(rt->config);
    OPENSSL_cleanse(rt->session_key, sizeof rt->session_key);
    free(rt);
}

int mb_runtime_port(const struct mb_runtime *rt)
{
    return rt->port_override >= 0 ? rt->port_override : rt->config->port;
}

void mb_runtime_apply_logging(const struct mb_runtime *rt)
{
    const struct mb_config *cfg = rt->config;
    int level = mb_log_level_parse(cfg->log_level);
    mb_log_setup(level < 0 ? MB_LOG_INFO : (enum mb_log_level)level, cfg->log_json);
    const char *name;
    json_t *value;
    if (json_is_object(cfg->log_loggers)) {
        json_object_foreach(cfg->log_loggers, name, value) {
            int l = mb_log_level_parse(json_string_value(value));
            if (l >= 0)
                mb_log_set_logger_level(name, (enum mb_log_level)l);
        }
    }
}

/* Appends `,"<key>":[names...]` with at most budget bytes of names; the rest is counted in
 * `"<key>_not_listed":N`, so a 1000-tool inventory stays one readable line. */
static void inventory_names(struct mb_buf *b, const char *key, const char *const *names, size_t n, size_t budget)
{
    mb_buf_printf(b, ",\"%s\":[", key);
    size_t used = 0, listed = 0;
    for (; listed < n && used < budget; listed++) {
        size_t len = strlen(names[listed]);
        mb_buf_append_str(b, listed ? ",\"" : "\"");
        mb_buf_append_json_escaped(b, names[listed], len);
        mb_buf_append_str(b, "\"");
        used += len + 3;
    }
    mb_buf_append_str(b, "]");
    if (listed < n)
        mb_buf_printf(b, ",\"%s_not_listed\":%zu", key, n - listed);
}

/* Logger "http.config": how downstream calls will be made (the documented logger of that name).
 * The base URL is shown without userinfo or query; header values are never shown. */
static void log_http_config(const struct mb_runtime *rt)
{
    const struct mb_config *c = rt->config;
    const char *base = rt->catalog->base_url ? rt->catalog->base_url : "(from each operation's servers)";
    const char *at = strchr(base, '@'), *scheme = strstr(base, "://");
    char shown[512];
    if (at && scheme && at > scheme)
        snprintf(shown, sizeof shown, "%.*s%s", (int)(scheme + 3 - base), base, at + 1);
    else
        snprintf(shown, sizeof shown, "%s", base);
    shown[strcspn(shown, "?#")] = '\0';
    mb_info("http.config",
            "downstream %s: pool %u connections (%u kept alive) per worker, connect timeout %u ms, request "
            "timeout %s%u ms, TLS CA %s%s, default headers %zu, compression %s; response guard %s (%s, %zu "
            "bytes, %u items)",
            shown, c->http_max_connections, c->http_max_keepalive, c->http_connect_timeout_ms,
            c->request_timeout_enabled ? "" : "off, was ", c->request_timeout_ms,
            c->http_tls_cafile ? c->http_tls_cafile : "system", c->http_tls_certfile ? ", client certificate" : "",
            json_object_size(c->default_headers), c->accept_encoding ? "on" : "off",
            c->guard_enabled ? "on" : "off", c->guard_mode ? c->guard_mode : "trim", c->max_response_bytes,
            c->guard_max_array_items);
}

void mb_runtime_audit_inventory(const struct mb_runtime *rt, const char *action)
{
    if (!rt)
        return;
    log_http_config(rt);
    if (!mb_log_enabled(MB_LOG_INFO, "audit"))
        return;
    const struct mb_config *cfg = rt->config;
    const struct mb_security_config *sec = &cfg->security;
    struct mb_buf b;
    mb_buf_init(&b, 11u * 1024u);
    mb_buf_printf(&b, "\"generation\":%u,\"tool_count\":%zu,\"operation_count\":%zu", rt->generation,
                  rt->catalog->tool_count, rt->catalog->operation_count);
    const char **names = calloc(rt->catalog->tool_count + 1, sizeof *names);
    if (names) {
        for (size_t i = 0; i < rt->catalog->tool_count; i++)
            names[i] = rt->catalog->tools[i].name;
        inventory_names(&b, "tools", names, rt->catalog->tool_count, 6144);
        free(names);
    }
    json_t *prompts = mb_prompts_list(rt->prompts);
    json_t *plist = json_object_get(prompts, "prompts");
    size_t np = json_array_size(plist);
    const char **pnames = calloc(np + 1, sizeof *pnames);
    if (pnames) {
        for (size_t i = 0; i < np; i++) {
            const char *name = json_string_value(json_object_get(json_array_get(plist, i), "name"));
            pnames[i] = name ? name : "";
        }
        inventory_names(&b, "prompts", pnames, np, 1024);
        free(pnames);
    }
    json_decref(prompts);
    mb_buf_printf(&b, ",\"resource_count\":%zu,\"authentication\":%s,\"rate_limiting\":%s", 
                  mb_resources_count(rt->resources), sec->auth_enabled ? "true" : "false",
                  sec->rate.enabled ? "true" : "false");
    mb_buf_append_str(&b, ",\"scopes\":{");
    size_t rules = 0;
    for (; rules < sec->scope_rule_count && b.len < 9u * 1024u; rules++) {
        size_t i = rules;
        const struct mb_scope_rule *r = &sec->scope_rules[i];
        mb_buf_append_str(&b, i ? ",\"" : "\"");
        mb_buf_append_json_escaped(&b, r->tool, strlen(r->tool));
        mb_buf_append_str(&b, "\":[");
        for (size_t k = 0; k < r->scope_count; k++) {
            mb_buf_append_str(&b, k ? ",\"" : "\"");
            mb_buf_append_json_escaped(&b, r->scopes[k], strlen(r->scopes[k]));
            mb_buf_append_str(&b, "\"");
        }
        mb_buf_append_str(&b, "]");
    }
    mb_buf_append_str(&b, "}");
    if (rules < sec->scope_rule_count)
        mb_buf_printf(&b, ",\"scope_rules_not_listed\":%zu", sec->scope_rule_count - rules);
    struct mb_audit_event ev = {
        .category = "startup_inventory", .action = action ? action : "start", .status = "ok",
        .extra = b.data,
    };
    mb_audit(&ev);
    mb_buf_dispose(&b);
}
