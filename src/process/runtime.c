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
    mb_capacity_thresholds_default(t);
    (void)cfg; /* TODO(admin-surface helper): copy cfg's observability.capacity fields here */
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
