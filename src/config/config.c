/* Implementation of config.h: parse the file with common/doc (JSON or YAML), copy the tree,
 * expand ${VAR} references, resolve relative paths against the file's directory, then read
 * every known key with a typed getter that reports "file:line: dotted.key: problem" and keeps
 * going, so one run lists every problem. Unknown keys inside the groups mcpbridge reads are
 * only warned about (logger "http.config"), since the documented system has more keys than
 * we implement and operators share files between versions. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "config/config_internal.h"

#define LOGGER            "http.config"
#define MAX_CONFIG_BYTES  (4u * 1024 * 1024)
#define MAX_WORKERS       1024
#define PROD_REQUEST_WARN 102400


/* ---- reporting ---- */

/* Line of the value at pointer, else of its nearest ancestor that exists (missing keys). */
static int line_of(const struct mb_config_loader *L, const char *pointer)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", pointer);
    for (;;) {
        int line = mb_doc_line(L->doc, tmp);
        if (line > 0 || !*tmp)
            return line;
        char *slash = strrchr(tmp, '/');
        if (!slash)
            return 0;
        *slash = '\0';
    }
}

void mb_cfg_report(struct mb_config_loader *L, int is_error, const char *pointer, const char *fmt, ...)
{
    char msg[768], name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mb_config_pointer_name(pointer, name, sizeof name);
    int line = line_of(L, pointer);
    if (is_error) {
        mb_diags_add(L->diags, L->file, line, "%s: %s", name, msg);
        L->errors++;
    } else if (line > 0) {
        mb_warn(LOGGER, "%s:%d: %s: %s", L->file, line, name, msg);
    } else {
        mb_warn(LOGGER, "%s: %s: %s", L->file, name, msg);
    }
}


const char *mb_cfg_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* ---- lookup ---- */

/* The value at a pointer of plain keys ("/a/b"), or NULL when absent or when an ancestor is
 * not an object (the group check reports that once). JSON null counts as absent. */
json_t *mb_cfg_lookup(const struct mb_config_loader *L, const char *pointer)
{
    json_t *v = L->cfg->root;
    const char *p = pointer;
    while (v && *p == '/') {
        p++;
        size_t n = strcspn(p, "/");
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n;
    }
    return json_is_null(v) ? NULL : v;
}

int mb_cfg_from_env(const struct mb_config_loader *L, const char *pointer)
{
    return json_object_get(L->changed, pointer) != NULL;
}

/* ---- typed getters: absent -> default; wrong -> error, default kept ---- */

void mb_cfg_get_string(struct mb_config_loader *L, const char *ptr, const char *def, char **out)
{
    json_t *v = mb_cfg_lookup(L, ptr);
    const char *s = def;
    if (v && !json_is_string(v))
        ERR(L, ptr, "expected a string, got %s", mb_cfg_type_name(v));
    else if (v)
        s = json_string_value(v);
    free(*out);
    *out = s ? strdup(s) : NULL;
    if (s && !*out)
        ERR(L, ptr, "out of memory");
}

void mb_cfg_get_bool(struct mb_config_loader *L, const char *ptr, bool def, bool *out)
{
    json_t *v = mb_cfg_lookup(L, ptr);
    *out = def;
    if (!v)
        return;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
    } else if (json_is_string(v) && mb_cfg_from_env(L, ptr) &&
               (!strcasecmp(json_string_value(v), "true") ||
                !strcasecmp(json_string_value(v), "false"))) {
        *out = !strcasecmp(json_string_value(v), "true");
    } else {
        ERR(L, ptr, "expected true or false, got %s", mb_cfg_type_name(v));
    }
}

/* Reads an integer in [min, max]; returns 1 when the key was present and valid. */
int mb_cfg_get_int(struct mb_config_loader *L, const char *ptr, long long min, long long max,
                   long long def, long long *out)
{
    json_t *v = mb_cfg_lookup(L, ptr);
    *out = def;
    if (!v)
        return 0;
    long long n;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v) && mb_cfg_from_env(L, ptr)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (!*s || *end || errno) {
            ERR(L, ptr, "expected an integer from %lld to %lld, got \"%.40s\"", min, max, s);
            return 0;
        }
    } else {
        ERR(L, ptr, "expected an integer from %lld to %lld, got %s", min, max, mb_cfg_type_name(v));
        return 0;
    }
    if (n < min || n > max) {
        ERR(L, ptr, "%lld is out of range (%lld to %lld)", n, min, max);
        return 0;
    }
    *out = n;
    return 1;
}

void mb_cfg_get_uint(struct mb_config_loader *L, const char *ptr, long long min, long long max,
                     long long def, unsigned *out)
{
    long long n;
    mb_cfg_get_int(L, ptr, min, max, def, &n);
    *out = (unsigned)n;
}

void mb_cfg_get_size(struct mb_config_loader *L, const char *ptr, long long min, long long max,
                     long long def, size_t *out)
{
    long long n;
    mb_cfg_get_int(L, ptr, min, max, def, &n);
    *out = (size_t)n;
}

/* A number (integer or fraction) in [min, max]. */
void mb_cfg_get_ratio(struct mb_config_loader *L, const char *ptr, double min, double max, double def, double *out)
{
    json_t *v = mb_cfg_lookup(L, ptr);
    *out = def;
    if (!v)
        return;
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v) && mb_cfg_from_env(L, ptr)) {
        char *end;
        d = strtod(json_string_value(v), &end);
        if (end == json_string_value(v) || *end) {
            ERR(L, ptr, "expected a number from %g to %g, got \"%.40s\"", min, max, json_string_value(v));
            return;
        }
    } else {
        ERR(L, ptr, "expected a number from %g to %g, got %s", min, max, mb_cfg_type_name(v));
        return;
    }
    if (!(d >= min && d <= max)) {
        ERR(L, ptr, "%g is out of range (%g to %g)", d, min, max);
        return;
    }
    *out = d;
}

/* One of a fixed set of words (case-insensitive); stores the canonical spelling. */
void mb_cfg_get_enum(struct mb_config_loader *L, const char *ptr, const char *const *words, const char *def,
                     char **out)
{
    char *s = NULL;
    mb_cfg_get_string(L, ptr, def, &s);
    if (!s)
        return;
    for (size_t i = 0; words[i]; i++) {
        if (strcasecmp(s, words[i]) == 0) {
            free(*out);
            *out = strdup(words[i]);
            free(s);
            return;
        }
    }
    char list[256] = "";
    for (size_t i = 0; words[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
    ERR(L, ptr, "unknown value \"%.40s\" (expected one of: %s)", s, list);
    free(s);
    free(*out);
    *out = strdup(def);
}

void mb_cfg_get_string_list(struct mb_config_loader *L, const char *ptr, char ***items, size_t *count)
{
    json_t *v = mb_cfg_lookup(L, ptr);
    *items = NULL;
    *count = 0;
    if (!v)
        return;
    if (!json_is_array(v)) {
        ERR(L, ptr, "expected an array of strings, got %s", mb_cfg_type_name(v));
        return;
    }
    size_t n = json_array_size(v);
    *items = calloc(n ? n : 1, sizeof **items);
    if (!*items) {
        ERR(L, ptr, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char ep[300];
        snprintf(ep, sizeof ep, "%s/%zu", ptr, i);
        if (!json_is_string(e) || !*json_string_value(e)) {
            ERR(L, ep, "expected a non-empty string, got %s", mb_cfg_type_name(e));
            continue;
        }
        (*items)[(*count)++] = strdup(json_string_value(e));
        if (!(*items)[*count - 1]) {
            (*count)--;
            ERR(L, ep, "out of memory");
        }
    }
}

/* ---- groups and unknown keys ---- */

struct group {
    const char *pointer;
    const char *const *keys; /* NULL: members are not checked */
};

#define KEYS(...) (const char *const[]){ __VA_ARGS__, NULL }

static const struct group groups[] = {
    { "", KEYS("api", "security", "runtime", "assistant", "observability", "openapi_visibility",
               "server") },
    { "/api", KEYS("openapi", "routes", "tools", "helper_tools") },
    { "/api/openapi", KEYS("spec_file", "base_url", "spec_name", "tool_name_max_length") },
    { "/runtime", KEYS("server", "http", "max_request_bytes", "middleware", "redis") },
    { "/runtime/server", KEYS("transport", "max_connections_per_worker", "max_header_bytes",
                              "timeouts", "shutdown_grace_seconds", "drain_delay_ms", "workers",
                              "session", "sse") },
    { "/runtime/server/transport", KEYS("type", "host", "port", "path", "tls", "allowed_origins",
                                        "allowed_hosts") },
    { "/runtime/server/transport/tls", KEYS("certfile", "keyfile", "client_cafile",
                                            "require_client_cert") },
    { "/runtime/server/timeouts", KEYS("header_ms", "body_ms", "idle_ms") },
    { "/runtime/server/session", KEYS("secret", "ttl_seconds", "enabled") },
    { "/runtime/server/sse", KEYS("replay_seconds", "max_stream_bytes", "max_worker_bytes") },
    { "/runtime/http", KEYS("base_url", "default_headers", "accept_encoding", "debug_raw", "tls",
                            "limits", "response_guard") },
    { "/runtime/http/tls", NULL },
    { "/runtime/http/default_headers", NULL },
    { "/runtime/http/limits", KEYS("max_connections", "max_keepalive_connections",
                                   "connect_timeout_ms") },
    { "/runtime/http/response_guard", KEYS("enabled", "mode", "max_array_items",
                                           "max_response_bytes", "max_string_bytes", "max_depth",
                                           "near_limit_ratio", "pagination_signal", "tools") },
    { "/runtime/http/response_guard/pagination_signal", KEYS("window", "ratio") },
    { "/runtime/http/response_guard/tools", NULL },
    { "/runtime/middleware", KEYS("error_handling", "logging", "timing", "rate_limiting",
                                  "request_timeout", "method_validation", "circuit_breaker",
                                  "validation_diagnostics") },
    { "/runtime/middleware/error_handling", KEYS("enabled", "transform_errors", "include_traceback") },
    { "/runtime/middleware/logging", KEYS("enabled", "structured", "include_payloads") },
    { "/runtime/middleware/timing", KEYS("enabled") },
    { "/runtime/middleware/rate_limiting", KEYS("enabled", "max_rps", "burst", "global") },
    { "/runtime/middleware/request_timeout", KEYS("enabled", "timeout_ms") },
    { "/runtime/middleware/method_validation", KEYS("enabled") },
    { "/runtime/middleware/circuit_breaker", KEYS("enabled", "error_threshold", "window_seconds",
                                                  "min_requests", "open_seconds") },
    { "/runtime/middleware/validation_diagnostics", NULL },
    { "/assistant", KEYS("prompts", "resources") },
    { "/assistant/prompts", KEYS("dir", "max_total_bytes") },
    { "/assistant/resources", KEYS("dir", "max_file_bytes") },
    { "/observability", KEYS("logging", "metrics", "status_page", "admin", "capacity") },
    { "/observability/metrics", NULL },     /* these four: strict key checks in observability_config.c */
    { "/observability/status_page", NULL },
    { "/observability/admin", NULL },
    { "/observability/capacity", NULL },
    { "/observability/logging", KEYS("level", "json", "loggers", "format") },
    { "/observability/logging/loggers", NULL },
    { "/server", KEYS("name", "instructions") },
};

/* Keys that are comments by convention: "_note", "$schema", "x-owner", "comment". */
static int is_comment_key(const char *k)
{
    return k[0] == '_' || k[0] == '$' || strncmp(k, "x-", 2) == 0 || strcmp(k, "comment") == 0;
}

static void check_groups(struct mb_config_loader *L)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        const struct group *gr = &groups[g];
        json_t *v = *gr->pointer ? mb_cfg_lookup(L, gr->pointer) : L->cfg->root;
        if (!v)
            continue;
        if (!json_is_object(v)) {
            ERR(L, gr->pointer, "expected an object, got %s", mb_cfg_type_name(v));
            continue;
        }
        if (!gr->keys)
            continue;
        const char *key;
        json_t *member;
        json_object_foreach(v, key, member) {
            size_t i = 0;
            while (gr->keys[i] && strcmp(gr->keys[i], key) != 0)
                i++;
            if (gr->keys[i] || is_comment_key(key))
                continue;
            char ptr[512];
            snprintf(ptr, sizeof ptr, "%s/%s", gr->pointer, key);
            if (strpbrk(key, "/~"))
                snprintf(ptr, sizeof ptr, "%s", gr->pointer);
            WARN(L, ptr, "unknown key \"%.60s\" in %s (ignored)", key,
                 *gr->pointer ? gr->pointer + 1 : "the top level");
        }
    }
}

/* ---- paths ---- */

/* Reads a path option: relative ones are joined to the base directory, and the resolved
 * string is written back into root so modules reading root see the same path. */
void mb_cfg_get_path(struct mb_config_loader *L, const char *ptr, char **out)
{
    char *s = NULL;
    mb_cfg_get_string(L, ptr, NULL, &s);
    free(*out);
    *out = NULL;
    if (!s)
        return;
    if (!*s) {
        ERR(L, ptr, "the path is empty");
        free(s);
        return;
    }
    if (s[0] != '/') {
        char *joined = NULL;
        if (asprintf(&joined, "%s/%s", L->cfg->base_dir, s) < 0)
            joined = NULL;
        free(s);
        s = joined;
        if (!s) {
            ERR(L, ptr, "out of memory");
            return;
        }
        char parent[512];
        snprintf(parent, sizeof parent, "%s", ptr);
        char *slash = strrchr(parent, '/');
        *slash = '\0';
        json_t *obj = *parent ? mb_cfg_lookup(L, parent) : L->cfg->root;
        if (json_is_object(obj))
            json_object_set_new(obj, slash + 1, json_string(s));
    }
    *out = s;
}

void mb_cfg_check_readable(struct mb_config_loader *L, const char *ptr, const char *path, int want_dir)
{
    struct stat st;
    if (!path)
        return;
    if (stat(path, &st) != 0)
        ERR(L, ptr, "cannot access '%s': %s", path, strerror(errno));
    else if (want_dir && !S_ISDIR(st.st_mode))
        ERR(L, ptr, "'%s' is not a directory", path);
    else if (!want_dir && S_ISDIR(st.st_mode))
        ERR(L, ptr, "'%s' is a directory, expected a file", path);
}

/* ---- sections ---- */

int mb_cfg_is_http_url(const char *s)
{
    return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

static int is_loopback(const char *h)
{
    return !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcmp(h, "[::1]") ||
           !strcasecmp(h, "localhost");
}

static void read_api(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    json_t *spec = mb_cfg_lookup(L, "/api/openapi/spec_file");
    if (!spec)
        ERR(L, "/api/openapi/spec_file", "required: the path of the OpenAPI document (JSON or YAML)");
    mb_cfg_get_path(L, "/api/openapi/spec_file", &c->spec_file);
    if (c->spec_file)
        mb_cfg_check_readable(L, "/api/openapi/spec_file", c->spec_file, 0);
    mb_cfg_get_string(L, "/api/openapi/spec_name", NULL, &c->spec_name);

    char *api_url = NULL, *http_url = NULL;
    mb_cfg_get_string(L, "/api/openapi/base_url", NULL, &api_url);
    mb_cfg_get_string(L, "/runtime/http/base_url", NULL, &http_url);
    if (api_url && !mb_cfg_is_http_url(api_url))
        ERR(L, "/api/openapi/base_url", "expected an http:// or https:// URL, got \"%.60s\"", api_url);
    if (http_url && !mb_cfg_is_http_url(http_url))
        ERR(L, "/runtime/http/base_url", "expected an http:// or https:// URL, got \"%.60s\"", http_url);
    c->base_url = api_url ? api_url : http_url;
    if (api_url)
        free(http_url);
}

/* A server reachable from the network should authenticate its callers and encrypt: says which
 * of the two is missing (after security and TLS are read). */
static void warn_exposed(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    if (!c->host || !*c->host || is_loopback(c->host))
        return;
    bool auth = c->security.auth_enabled, tls = c->tls_certfile != NULL;
    if (!auth || !tls)
        WARN(L, "/runtime/server/transport/host",
             "binding to \"%s\" makes the server reachable from the network without %s; turn %s on, "
             "or use 127.0.0.1 behind a proxy that does it", c->host,
             !auth && !tls ? "authentication or TLS" : !auth ? "authentication" : "TLS",
             !auth && !tls ? "both" : "it");
}

static void read_transport(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    static const char *const types[] = { "streamable-http", "sse", NULL };
    mb_cfg_get_enum(L, "/runtime/server/transport/type", types, "streamable-http", &c->transport_type);
    if (c->transport_type && strcmp(c->transport_type, "sse") == 0)
        ERR(L, "/runtime/server/transport/type",
            "the sse transport is not implemented; use \"streamable-http\" (clients of the "
            "2025-03-26 protocol and later speak it)");
    mb_cfg_get_string(L, "/runtime/server/transport/host", "127.0.0.1", &c->host);
    if (c->host && !*c->host)
        ERR(L, "/runtime/server/transport/host", "the host is empty");
    long long port;
    mb_cfg_get_int(L, "/runtime/server/transport/port", 0, 65535, 8500, &port);
    c->port = (int)port;
    mb_cfg_get_string(L, "/runtime/server/transport/path", "/mcp", &c->path);
    if (c->path && (c->path[0] != '/' || strlen(c->path) > 256 || strpbrk(c->path, "?# \t\r\n")))
        ERR(L, "/runtime/server/transport/path",
            "expected an absolute URL path such as \"/mcp\" (no query, fragment or spaces)");
    mb_cfg_get_string_list(L, "/runtime/server/transport/allowed_origins", &c->allowed_origins,
                    &c->allowed_origin_count);
    mb_cfg_get_string_list(L, "/runtime/server/transport/allowed_hosts", &c->allowed_hosts,
                    &c->allowed_host_count);

    /* TLS: stored in root for the HTTP layer; paths resolved and checked here. */
    json_t *tls = mb_cfg_lookup(L, "/runtime/server/transport/tls");
    if (json_is_object(tls) && json_object_size(tls)) {
        static const char *const files[] = { "certfile", "keyfile", "client_cafile" };
        char *paths[3] = { NULL, NULL, NULL };
        for (size_t i = 0; i < 3; i++) {
            char ptr[128];
            snprintf(ptr, sizeof ptr, "/runtime/server/transport/tls/%s", files[i]);
            mb_cfg_get_path(L, ptr, &paths[i]);
            mb_cfg_check_readable(L, ptr, paths[i], 0);
            if (paths[i] && access(paths[i], F_OK) == 0 && access(paths[i], R_OK) != 0)
                ERR(L, ptr, "cannot read '%s': %s", paths[i], strerror(errno));
        }
        bool require_cert;
        mb_cfg_get_bool(L, "/runtime/server/transport/tls/require_client_cert", false, &require_cert);
        if (!paths[0] || !paths[1])
            ERR(L, "/runtime/server/transport/tls", "needs both certfile and keyfile");
        if (require_cert && !paths[2])
            ERR(L, "/runtime/server/transport/tls/require_client_cert",
                "needs client_cafile to verify client certificates");
        c->tls_certfile = paths[0];
        c->tls_keyfile = paths[1];
        c->tls_client_cafile = paths[2];
        c->tls_require_client_cert = require_cert;
    }
}

/* The CPUs this process may use: online CPUs, narrowed by the affinity mask (taskset, cpusets)
 * and by a cgroup v2 quota (/sys/fs/cgroup/cpu.max, rounded up), so the "cpu" and "ha"
 * profiles size themselves to a container's share, not to the node. */
static long usable_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 && CPU_COUNT(&set) < n)
        n = CPU_COUNT(&set);
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char quota[32];
        long long period = 0;
        if (fscanf(f, "%31s %lld", quota, &period) == 2 && strcmp(quota, "max") != 0 && period > 0) {
            long long q = atoll(quota);
            long c = q > 0 ? (long)((q + period - 1) / period) : 0;
            if (c > 0 && c < n)
                n = c;
        }
        fclose(f);
    }
    return n;
}

/* Worker count from an integer or a profile name; -1 when invalid. */
static int parse_workers(const char *s)
{
    long nproc = usable_cpus();
    if (nproc < 1)
        nproc = 1;
    if (nproc > MAX_WORKERS)
        nproc = MAX_WORKERS;
    while (isspace((unsigned char)*s))
        s++;
    if (!strcasecmp(s, "dev"))
        return 1;
    if (!strcasecmp(s, "io"))
        return 2;
    if (!strcasecmp(s, "cpu"))
        return (int)nproc;
    if (!strcasecmp(s, "ha"))
        return (int)(2 * nproc > MAX_WORKERS ? MAX_WORKERS : 2 * nproc);
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (!isdigit((unsigned char)*s) || *end || errno || n < 1 || n > MAX_WORKERS)
        return -1;
    return (int)n;
}

static void read_server(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    mb_cfg_get_uint(L, "/runtime/server/max_connections_per_worker", 1, 1000000, 10000,
             &c->max_connections_per_worker);
    mb_cfg_get_size(L, "/runtime/server/max_header_bytes", 1024, 1048576, 16384, &c->max_header_bytes);
    mb_cfg_get_uint(L, "/runtime/server/timeouts/header_ms", 100, 3600000, 10000, &c->header_timeout_ms);
    mb_cfg_get_uint(L, "/runtime/server/timeouts/body_ms", 100, 3600000, 10000, &c->body_timeout_ms);
    mb_cfg_get_uint(L, "/runtime/server/timeouts/idle_ms", 100, 86400000, 60000, &c->idle_timeout_ms);
    long long grace;
    mb_cfg_get_int(L, "/runtime/server/shutdown_grace_seconds", 0, 3600, 10, &grace);
    c->shutdown_grace_ms = (unsigned)grace * 1000u;
    mb_cfg_get_uint(L, "/runtime/server/drain_delay_ms", 0, 3600000, 0, &c->drain_delay_ms);
    if (c->drain_delay_ms && c->drain_delay_ms >= c->shutdown_grace_ms) {
        ERR(L, "/runtime/server/drain_delay_ms",
            "%u ms is not shorter than shutdown_grace_seconds (%u s): the grace period counts from "
            "the stop signal and includes the drain delay; raise shutdown_grace_seconds",
            c->drain_delay_ms, c->shutdown_grace_ms / 1000u);
        c->drain_delay_ms = 0;
    }

    json_t *w = mb_cfg_lookup(L, "/runtime/server/workers");
    c->workers = 0;
    if (json_is_string(w)) {
        c->workers = parse_workers(json_string_value(w));
        if (c->workers < 0) {
            ERR(L, "/runtime/server/workers",
                "\"%.40s\": expected a positive integer up to %d or dev|io|cpu|ha",
                json_string_value(w), MAX_WORKERS);
            c->workers = 0;
        }
    } else if (w) {
        long long n;
        if (mb_cfg_get_int(L, "/runtime/server/workers", 1, MAX_WORKERS, 0, &n))
            c->workers = (int)n;
    }

    mb_cfg_get_string(L, "/runtime/server/session/secret", NULL, &c->session_secret);
    if (c->session_secret && strlen(c->session_secret) < 16)
        ERR(L, "/runtime/server/session/secret",
            "too short: use at least 16 characters (32 random bytes in hex is best)");
    mb_cfg_get_uint(L, "/runtime/server/session/ttl_seconds", 1, 31536000, 86400, &c->session_ttl_seconds);
    mb_cfg_get_bool(L, "/runtime/server/session/enabled", true, &c->sessions_enabled);
    /* SSE resumability (docs/internals/shared-state.md): 0 s = no event ids, no replay. */
    mb_cfg_get_uint(L, "/runtime/server/sse/replay_seconds", 0, 86400, 60, &c->sse_replay_seconds);
    mb_cfg_get_uint(L, "/runtime/server/sse/max_stream_bytes", 1024, 1073741824, 1048576, &c->sse_max_stream_bytes);
    mb_cfg_get_uint(L, "/runtime/server/sse/max_worker_bytes", 65536, 4294967295LL, 67108864, &c->sse_max_worker_bytes);

    mb_cfg_get_size(L, "/runtime/max_request_bytes", 256, 104857600, 10240, &c->max_request_bytes);
    if (c->max_request_bytes > PROD_REQUEST_WARN)
        WARN(L, "/runtime/max_request_bytes",
             "%zu bytes is above the 100 KB recommended for production", c->max_request_bytes);
}

/* Header names are RFC 9110 tokens; values may not break the header block. */
static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

/* One guard policy read from the group at prefix (global, or one tools entry inheriting base). */
static void read_guard_policy(struct mb_config_loader *L, const char *prefix, const struct mb_guard_policy *base,
                              struct mb_guard_policy *out)
{
    static const char *const modes[] = { "trim", "block", "warn", NULL };
    char ptr[512];
    *out = *base;
    snprintf(ptr, sizeof ptr, "%s/enabled", prefix);
    if (mb_cfg_lookup(L, ptr))
        mb_cfg_get_bool(L, ptr, base->enabled, &out->enabled);
    snprintf(ptr, sizeof ptr, "%s/mode", prefix);
    if (mb_cfg_lookup(L, ptr)) {
        char *mode = NULL;
        mb_cfg_get_enum(L, ptr, modes, modes[base->mode], &mode);
        for (int i = 0; mode && modes[i]; i++)
            if (strcmp(mode, modes[i]) == 0)
                out->mode = i;
        free(mode);
    }
    long long n;
    snprintf(ptr, sizeof ptr, "%s/max_array_items", prefix);
    if (mb_cfg_get_int(L, ptr, 1, 1000000, base->max_array_items, &n))
        out->max_array_items = (unsigned)n;
    snprintf(ptr, sizeof ptr, "%s/max_response_bytes", prefix);
    if (mb_cfg_get_int(L, ptr, 1024, 1073741824, (long long)base->max_response_bytes, &n))
        out->max_response_bytes = (size_t)n;
    snprintf(ptr, sizeof ptr, "%s/max_string_bytes", prefix);
    if (mb_cfg_get_int(L, ptr, 0, 1073741824, (long long)base->max_string_bytes, &n))
        out->max_string_bytes = (size_t)n;
    snprintf(ptr, sizeof ptr, "%s/max_depth", prefix);
    if (mb_cfg_get_int(L, ptr, 1, 256, base->max_depth, &n))
        out->max_depth = (unsigned)n;
}

/* runtime.http.response_guard beyond the four documented keys: string and depth caps, the
 * pagination signal and per-tool overrides ("tools": {"<name or pattern>": {...}}). */
static void load_guard(struct mb_config_loader *L, struct mb_config *c)
{
    static const char *const modes[] = { "trim", "block", "warn", NULL };
    struct mb_guard_policy base = {
        .enabled = c->guard_enabled, .mode = 0, .max_array_items = c->guard_max_array_items,
        .max_response_bytes = c->max_response_bytes, .max_string_bytes = 65536, .max_depth = 64,
    };
    for (int i = 0; modes[i]; i++)
        if (c->guard_mode && strcmp(c->guard_mode, modes[i]) == 0)
            base.mode = i;
    /* The four documented keys were read above; only the additions are read here. */
    c->guard = base;
    mb_cfg_get_size(L, "/runtime/http/response_guard/max_string_bytes", 0, 1073741824, 65536,
             &c->guard.max_string_bytes);
    mb_cfg_get_uint(L, "/runtime/http/response_guard/max_depth", 1, 256, 64, &c->guard.max_depth);
    mb_cfg_get_ratio(L, "/runtime/http/response_guard/near_limit_ratio", 0.05, 1.0, 0.8, &c->guard_near_ratio);
    mb_cfg_get_uint(L, "/runtime/http/response_guard/pagination_signal/window", 1, 10000, 100,
             &c->guard_signal_window);
    mb_cfg_get_ratio(L, "/runtime/http/response_guard/pagination_signal/ratio", 0.01, 1.0, 0.5,
              &c->guard_signal_ratio);
    json_t *tools = mb_cfg_lookup(L, "/runtime/http/response_guard/tools");
    if (!tools)
        return;
    if (!json_is_object(tools)) {
        ERR(L, "/runtime/http/response_guard/tools", "expected an object of tool name -> guard settings, got %s",
            mb_cfg_type_name(tools));
        return;
    }
    c->guard_overrides = calloc(json_object_size(tools) + 1, sizeof *c->guard_overrides);
    if (!c->guard_overrides) {
        ERR(L, "/runtime/http/response_guard/tools", "out of memory");
        return;
    }
    static const char *const keys[] = { "enabled", "mode", "max_array_items", "max_response_bytes",
                                         "max_string_bytes", "max_depth", NULL };
    const char *name;
    json_t *entry;
    json_object_foreach(tools, name, entry) {
        char prefix[400];
        snprintf(prefix, sizeof prefix, "/runtime/http/response_guard/tools/%.300s", name);
        if (!*name || strpbrk(name, "/~") || strlen(name) > 300) {
            ERR(L, "/runtime/http/response_guard/tools", "\"%.60s\" is not a usable tool name or pattern "
                "(1 to 300 characters, no '/' or '~')", name);
            continue;
        }
        if (!json_is_object(entry)) {
            ERR(L, prefix, "expected an object of guard settings (enabled, mode, max_array_items, "
                "max_response_bytes, max_string_bytes, max_depth), got %s", mb_cfg_type_name(entry));
            continue;
        }
        const char *k;
        json_t *ignored;
        json_object_foreach(entry, k, ignored) {
            size_t i = 0;
            while (keys[i] && strcmp(keys[i], k) != 0)
                i++;
            if (!keys[i] && !is_comment_key(k))
                ERR(L, prefix, "unknown key \"%.60s\" (expected enabled, mode, max_array_items, "
                    "max_response_bytes, max_string_bytes or max_depth)", k);
        }
        struct mb_guard_override *o = &c->guard_overrides[c->guard_override_count];
        o->pattern = strdup(name);
        if (!o->pattern) {
            ERR(L, prefix, "out of memory");
            return;
        }
        read_guard_policy(L, prefix, &c->guard, &o->policy);
        c->guard_override_count++;
    }
}

const struct mb_guard_policy *mb_config_guard_policy(const struct mb_config *cfg, const char *tool_name)
{
    for (size_t i = 0; i < cfg->guard_override_count; i++)
        if (strcmp(cfg->guard_overrides[i].pattern, tool_name) == 0)
            return &cfg->guard_overrides[i].policy;
    for (size_t i = 0; i < cfg->guard_override_count; i++)
        if (fnmatch(cfg->guard_overrides[i].pattern, tool_name, 0) == 0)
            return &cfg->guard_overrides[i].policy;
    return &cfg->guard;
}

static void read_http(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    json_t *h = mb_cfg_lookup(L, "/runtime/http/default_headers");
    c->default_headers = json_is_object(h) ? h : NULL;
    const char *name;
    json_t *v;
    if (c->default_headers) {
        json_object_foreach(c->default_headers, name, v) {
            char ptr[300];
            snprintf(ptr, sizeof ptr, "/runtime/http/default_headers/%s",
                     strpbrk(name, "/~") ? "" : name);
            if (!is_token(name))
                ERR(L, ptr, "\"%.60s\" is not a valid header name", name);
            else if (!json_is_string(v))
                ERR(L, ptr, "expected a string, got %s", mb_cfg_type_name(v));
            else if (strpbrk(json_string_value(v), "\r\n"))
                ERR(L, ptr, "header values may not contain line breaks");
        }
    }
    mb_cfg_get_bool(L, "/runtime/http/accept_encoding", false, &c->accept_encoding);
    mb_cfg_get_uint(L, "/runtime/http/limits/max_connections", 1, 100000, 100, &c->http_max_connections);
    mb_cfg_get_uint(L, "/runtime/http/limits/max_keepalive_connections", 0, 100000, 20,
             &c->http_max_keepalive);
    mb_cfg_get_uint(L, "/runtime/http/limits/connect_timeout_ms", 1, 600000, 5000,
             &c->http_connect_timeout_ms);
    mb_cfg_get_bool(L, "/runtime/http/response_guard/enabled", true, &c->guard_enabled);
    static const char *const modes[] = { "trim", "block", "warn", NULL };
    mb_cfg_get_enum(L, "/runtime/http/response_guard/mode", modes, "trim", &c->guard_mode);
    mb_cfg_get_uint(L, "/runtime/http/response_guard/max_array_items", 1, 1000000, 50,
             &c->guard_max_array_items);
    mb_cfg_get_size(L, "/runtime/http/response_guard/max_response_bytes", 1024, 1073741824, 1048576,
             &c->max_response_bytes);
    load_guard(L, c);
    /* TLS towards upstreams: file options resolved like the others. */
    json_t *tls = mb_cfg_lookup(L, "/runtime/http/tls");
    if (json_is_object(tls)) {
        static const char *const files[] = { "certfile", "keyfile", "cafile", "ca_file",
                                             "client_cafile", "ca_bundle" };
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            char ptr[128], *p = NULL;
            snprintf(ptr, sizeof ptr, "/runtime/http/tls/%s", files[i]);
            if (json_is_string(mb_cfg_lookup(L, ptr))) {
                mb_cfg_get_path(L, ptr, &p);
                mb_cfg_check_readable(L, ptr, p, 0);
                /* certfile/keyfile: the client certificate; cafile, ca_file, ca_bundle: the
                 * CAs that verify the API (client_cafile is accepted as an old spelling). */
                char **slot = i == 0 ? &c->http_tls_certfile : i == 1 ? &c->http_tls_keyfile : &c->http_tls_cafile;
                if (!*slot) {
                    *slot = p;
                    p = NULL;
                }
                free(p);
            }
        }
        mb_cfg_get_string(L, "/runtime/http/tls/key_password", NULL, &c->http_tls_key_password);
        if (!c->http_tls_certfile != !c->http_tls_keyfile)
            ERR(L, "/runtime/http/tls", "set both certfile and keyfile for a client certificate");
    }
}

static void read_middleware(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    mb_cfg_get_bool(L, "/runtime/middleware/request_timeout/enabled", true, &c->request_timeout_enabled);
    mb_cfg_get_uint(L, "/runtime/middleware/request_timeout/timeout_ms", 1, 3600000, 500,
             &c->request_timeout_ms);
    mb_cfg_get_bool(L, "/runtime/middleware/method_validation/enabled", true, &c->method_validation);
    mb_cfg_get_bool(L, "/runtime/middleware/error_handling/include_traceback", false,
             &c->include_traceback);
    mb_cfg_get_bool(L, "/runtime/middleware/logging/include_payloads", false, &c->include_payloads);
    if (c->include_payloads)
        WARN(L, "/runtime/middleware/logging/include_payloads",
             "payload logging may write personal data to the logs");
    /* Documented switches other modules read from root: type-check them here. */
    static const char *const subs[] = { "error_handling", "logging", "timing", "rate_limiting",
                                        "request_timeout", "method_validation", "circuit_breaker" };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char ptr[128];
        bool ignored;
        snprintf(ptr, sizeof ptr, "/runtime/middleware/%s/enabled", subs[i]);
        mb_cfg_get_bool(L, ptr, false, &ignored);
    }
}

static void read_assistant(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    mb_cfg_get_path(L, "/assistant/prompts/dir", &c->prompts_dir);
    mb_cfg_check_readable(L, "/assistant/prompts/dir", c->prompts_dir, 1);
    mb_cfg_get_size(L, "/assistant/prompts/max_total_bytes", 1, 1073741824, 262144,
             &c->prompts_max_total_bytes);
    mb_cfg_get_path(L, "/assistant/resources/dir", &c->resources_dir);
    mb_cfg_check_readable(L, "/assistant/resources/dir", c->resources_dir, 1);
    mb_cfg_get_size(L, "/assistant/resources/max_file_bytes", 1, 1073741824, 1048576,
             &c->resources_max_file_bytes);
    char *ctx = NULL;
    if (json_is_string(mb_cfg_lookup(L, "/openapi_visibility/context_dir")))
        mb_cfg_get_path(L, "/openapi_visibility/context_dir", &ctx);
    free(ctx);
}

static void read_logging(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    mb_cfg_get_string(L, "/observability/logging/level", "INFO", &c->log_level);
    if (c->log_level && mb_log_level_parse(c->log_level) < 0) {
        ERR(L, "/observability/logging/level",
            "unknown level \"%.40s\" (expected DEBUG, INFO, WARNING, ERROR, CRITICAL or OFF)",
            c->log_level);
    } else if (c->log_level) {
        for (char *p = c->log_level; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    char *format = NULL;
    static const char *const formats[] = { "text", "json", NULL };
    mb_cfg_get_enum(L, "/observability/logging/format", formats, "text", &format);
    mb_cfg_get_bool(L, "/observability/logging/json", format && !strcmp(format, "json"), &c->log_json);
    free(format);
    json_t *loggers = mb_cfg_lookup(L, "/observability/logging/loggers");
    c->log_loggers = json_is_object(loggers) ? loggers : NULL;
    const char *name;
    json_t *v;
    if (c->log_loggers) {
        json_object_foreach(c->log_loggers, name, v) {
            char ptr[300];
            snprintf(ptr, sizeof ptr, "/observability/logging/loggers/%s",
                     strpbrk(name, "/~") ? "" : name);
            if (!json_is_string(v) || mb_log_level_parse(json_string_value(v)) < 0)
                ERR(L, ptr, "expected a level name (DEBUG, INFO, WARNING, ERROR, CRITICAL, OFF)");
        }
    }
}

static void read_identity(struct mb_config_loader *L)
{
    struct mb_config *c = L->cfg;
    mb_cfg_get_string(L, "/server/name", "mcpbridge", &c->server_name);
    if (c->server_name && !*c->server_name)
        ERR(L, "/server/name", "the name is empty");
    mb_cfg_get_string(L, "/server/instructions", NULL, &c->instructions);
}

/* ---- load ---- */

static char *absolute_dir(const char *dir)
{
    char *real = realpath(dir && *dir ? dir : ".", NULL);
    if (real)
        return real;
    if (dir && dir[0] == '/')
        return strdup(dir);
    char cwd[PATH_MAX];
    char *out = NULL;
    if (!getcwd(cwd, sizeof cwd) || asprintf(&out, "%s/%s", cwd, dir && *dir ? dir : ".") < 0)
        return NULL;
    return out;
}

/* Takes ownership of doc. */
static int build(const char *source, struct mb_doc *doc, const char *base_dir,
                 struct mb_config **out, struct mb_diags *diags)
{
    int rc = -1;
    struct mb_config *c = calloc(1, sizeof *c);
    struct mb_config_loader L = { .cfg = c, .doc = doc, .file = source, .diags = diags };
    *out = NULL;
    if (!c) {
        mb_doc_destroy(doc);
        mb_diags_add(diags, source, 0, "out of memory");
        return -1;
    }
    c->doc = doc;
    c->source = strdup(source);
    c->base_dir = absolute_dir(base_dir);
    c->root = json_deep_copy(mb_doc_root(doc));
    L.changed = json_object();
    if (!c->source || !c->base_dir || !c->root || !L.changed) {
        mb_diags_add(diags, source, 0, "out of memory");
        goto done;
    }
    if (!json_is_object(c->root)) {
        mb_diags_add(diags, source, mb_doc_line(doc, ""), "the configuration must be an object, got %s",
                     mb_cfg_type_name(c->root));
        goto done;
    }
    L.errors += mb_config_expand_env(c->root, doc, source, L.changed, diags);
    check_groups(&L);
    read_api(&L);
    read_transport(&L);
    read_server(&L);
    read_http(&L);
    read_middleware(&L);
    read_assistant(&L);
    read_logging(&L);
    read_identity(&L);
    mb_config_read_security(&L, &c->security);
    mb_config_read_observability(&L, &c->observability);
    warn_exposed(&L);
    if (L.errors == 0)
        rc = 0;
done:
    json_decref(L.changed);
    if (rc != 0)
        mb_config_destroy(c);
    else
        *out = c;
    return rc;
}

int mb_config_load(const char *path, struct mb_config **out, struct mb_diags *diags)
{
    *out = NULL;
    struct mb_doc *doc = mb_doc_load_file(path, MAX_CONFIG_BYTES, diags);
    if (!doc)
        return -1;
    char *dir = strdup(path);
    if (!dir) {
        mb_doc_destroy(doc);
        mb_diags_add(diags, path, 0, "out of memory");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int rc = build(path, doc, dir, out, diags);
    free(dir);
    return rc;
}

int mb_config_load_text(const char *name, const char *text, const char *base_dir,
                        struct mb_config **out, struct mb_diags *diags)
{
    *out = NULL;
    if (!name)
        name = "<embedded default>";
    struct mb_doc *doc = mb_doc_load_buffer(name, text ? text : "", text ? strlen(text) : 0,
                                            MB_DOC_AUTO, diags);
    if (!doc)
        return -1;
    return build(name, doc, base_dir ? base_dir : ".", out, diags);
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

void mb_config_destroy(struct mb_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->source);
    free(cfg->spec_file);
    free(cfg->base_url);
    free(cfg->spec_name);
    free(cfg->transport_type);
    free(cfg->host);
    free(cfg->path);
    free(cfg->tls_certfile);
    free(cfg->tls_keyfile);
    free(cfg->tls_client_cafile);
    free_list(cfg->allowed_origins, cfg->allowed_origin_count);
    free_list(cfg->allowed_hosts, cfg->allowed_host_count);
    free(cfg->session_secret);
    free(cfg->guard_mode);
    free(cfg->http_tls_cafile);
    free(cfg->http_tls_certfile);
    free(cfg->http_tls_keyfile);
    if (cfg->http_tls_key_password)
        memset(cfg->http_tls_key_password, 0, strlen(cfg->http_tls_key_password));
    free(cfg->http_tls_key_password);
    mb_security_config_dispose(&cfg->security);
    mb_observability_config_dispose(&cfg->observability);
    for (size_t i = 0; i < cfg->guard_override_count; i++)
        free(cfg->guard_overrides[i].pattern);
    free(cfg->guard_overrides);
    free(cfg->prompts_dir);
    free(cfg->resources_dir);
    free(cfg->log_level);
    free(cfg->server_name);
    free(cfg->instructions);
    free(cfg->base_dir);
    json_decref(cfg->root);
    mb_doc_destroy(cfg->doc);
    free(cfg);
}

int mb_config_resolve_workers(const struct mb_config *cfg, const char *cli_value, char *err,
                              size_t errlen)
{
    const char *src = NULL, *val = NULL;
    if (cli_value) {
        src = "--workers";
        val = cli_value;
    } else if ((val = getenv("MCPBRIDGE_WORKERS")) && *val) {
        src = "MCPBRIDGE_WORKERS";
    } else if ((val = getenv("UVICORN_WORKERS")) && *val) {
        src = "UVICORN_WORKERS";
    }
    if (!src)
        return cfg && cfg->workers > 0 ? cfg->workers : 1;
    int n = parse_workers(val);
    if (n < 0 && err && errlen)
        snprintf(err, errlen, "%s='%.40s': expected a positive integer or dev|io|cpu|ha (at most %d)",
                 src, val, MAX_WORKERS);
    return n;
}
