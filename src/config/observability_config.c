/* Parsing and validation of the admin surface's configuration (contract in
 * observability_config.h). Runs inside mb_config_load with the shared loader, after the
 * transport and security groups (it checks its paths and port against the MCP endpoint's and
 * warns about protection that cannot work), so every problem is one "file:line: key: message"
 * diagnostic. The admin token is read from the environment variable named by
 * observability.admin.token_env, hashed at once and wiped; the configuration never holds it. */
#include "config/observability_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/hmac.h"
#include "config/config.h"
#include "config/config_internal.h"

#define MAX_ADMIN_PATH 256
#define SHORT_TOKEN 16 /* fewer characters than this: warned about (guessable) */
#define WELL_KNOWN "/.well-known/"

static const char *const METRICS_KEYS[] = { "enabled", "path", "host", "port", NULL };
static const char *const STATUS_KEYS[] = { "enabled", "path", NULL };
static const char *const ADMIN_KEYS[] = { "token_env", "scope", "allow_loopback", NULL };
static const char *const CAPACITY_KEYS[] = { "cpu_threshold", "sustain_seconds", "memory_pressure_pct",
                                             "network_ratio", "link_speed_mbps", "connections_ratio",
                                             "sample_interval_ms", NULL };

static int is_comment_key(const char *k)
{
    return k[0] == '_' || k[0] == '$' || strncmp(k, "x-", 2) == 0 || strcmp(k, "comment") == 0;
}

/* Errors for members of the group at ptr that are not in keys. The group being an object is
 * checked by config.c's group table. */
static void check_keys(struct mb_config_loader *L, const char *ptr, const char *const *keys)
{
    json_t *obj = mb_cfg_lookup(L, ptr);
    if (!json_is_object(obj))
        return;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] || is_comment_key(key))
            continue;
        char list[256] = "";
        for (size_t k = 0; keys[k]; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", keys[k]);
        ERR(L, ptr, "unknown key \"%.60s\" (admin settings are checked strictly; expected one of: %s)", key, list);
    }
}

/* A number in (0, max]: zero would make a threshold fire on an idle machine. */
static void read_fraction(struct mb_config_loader *L, const char *ptr, double max, double def, double *out)
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
            ERR(L, ptr, "expected a number above 0 and at most %g, got \"%.40s\"", max, json_string_value(v));
            return;
        }
    } else {
        ERR(L, ptr, "expected a number above 0 and at most %g, got %s", max, mb_cfg_type_name(v));
        return;
    }
    if (!(d > 0 && d <= max)) {
        ERR(L, ptr, "%g is out of range (above 0, at most %g)", d, max);
        return;
    }
    *out = d;
}

/* An admin route's path: absolute, no query, fragment or spaces, and none of the paths the
 * server answers otherwise. Returns true when usable. */
static bool read_path(struct mb_config_loader *L, const char *ptr, const char *def, char **out)
{
    mb_cfg_get_string(L, ptr, def, out);
    const char *p = *out;
    if (!p)
        return false;
    if (p[0] != '/' || strlen(p) > MAX_ADMIN_PATH || strpbrk(p, "?# \t\r\n")) {
        ERR(L, ptr, "expected an absolute URL path such as \"%s\" (no query, fragment or spaces, at most %d "
            "bytes)", def, MAX_ADMIN_PATH);
        return false;
    }
    const struct mb_config *c = L->cfg;
    if (c->path && strcmp(p, c->path) == 0) {
        ERR(L, ptr, "\"%.60s\" is the MCP endpoint's path (runtime.server.transport.path); choose another", p);
        return false;
    }
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0) {
        ERR(L, ptr, "\"%s\" is a health endpoint's path; choose another", p);
        return false;
    }
    if (strncmp(p, WELL_KNOWN, strlen(WELL_KNOWN)) == 0) {
        ERR(L, ptr, "paths under %s are reserved (the protected-resource metadata lives there); choose another",
            WELL_KNOWN);
        return false;
    }
    return true;
}

static bool is_env_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static void read_admin(struct mb_config_loader *L, struct mb_observability_config *o)
{
    const char *ptr = "/observability/admin/token_env";
    mb_cfg_get_string(L, ptr, NULL, &o->admin_token_env);
    if (o->admin_token_env) {
        const char *name = o->admin_token_env;
        const char *token = is_env_name(name) ? getenv(name) : NULL;
        if (!is_env_name(name)) {
            ERR(L, ptr, "\"%.60s\" is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*); give the name of "
                "the variable that holds the admin token, not the token", name);
        } else if (!token || !*token) {
            ERR(L, ptr, "the environment variable %s is %s: set it to the admin bearer token before starting "
                "mcpbridge, or remove observability.admin.token_env", name, token ? "empty" : "not set");
        } else if (mb_sha256(token, strlen(token), o->admin_token_sha256) != 0) {
            ERR(L, ptr, "could not hash the admin token (OpenSSL failed)");
        } else {
            o->admin_token_set = true;
            if (strlen(token) < SHORT_TOKEN)
                WARN(L, ptr, "the token in %s has %zu characters; use at least 32 random characters (for "
                     "example: openssl rand -hex 32)", name, strlen(token));
        }
    }
    mb_cfg_get_string(L, "/observability/admin/scope", "mcpbridge:admin", &o->admin_scope);
    if (o->admin_scope && (!*o->admin_scope || strpbrk(o->admin_scope, " \t\r\n\"\\")))
        ERR(L, "/observability/admin/scope", "\"%.60s\" is not a valid scope (no spaces, quotes or backslashes)",
            o->admin_scope);
    mb_cfg_get_bool(L, "/observability/admin/allow_loopback", true, &o->admin_allow_loopback);
}

static void read_metrics(struct mb_config_loader *L, struct mb_observability_config *o)
{
    const struct mb_config *c = L->cfg;
    mb_cfg_get_bool(L, "/observability/metrics/enabled", true, &o->metrics_enabled);
    bool metrics_ok = read_path(L, "/observability/metrics/path", "/metrics", &o->metrics_path);
    mb_cfg_get_string(L, "/observability/metrics/host", "127.0.0.1", &o->admin_host);
    if (o->admin_host && !*o->admin_host)
        ERR(L, "/observability/metrics/host", "the host is empty");
    long long port;
    mb_cfg_get_int(L, "/observability/metrics/port", 0, 65535, 0, &port);
    o->admin_port = (int)port;
    if (o->admin_port && o->admin_port == c->port)
        ERR(L, "/observability/metrics/port", "%d is the MCP listener's port (runtime.server.transport.port); "
            "choose another port, or 0 to serve the admin routes on the MCP listener", o->admin_port);

    mb_cfg_get_bool(L, "/observability/status_page/enabled", true, &o->status_enabled);
    bool status_ok = read_path(L, "/observability/status_page/path", "/status", &o->status_path);
    if (metrics_ok && status_ok && o->metrics_enabled && o->status_enabled &&
        strcmp(o->metrics_path, o->status_path) == 0)
        ERR(L, "/observability/status_page/path", "\"%.60s\" is also observability.metrics.path; give each its own "
            "path", o->status_path);
}

static void read_capacity(struct mb_config_loader *L, struct mb_observability_config *o)
{
    read_fraction(L, "/observability/capacity/cpu_threshold", 1.0, 0.70, &o->cpu_threshold);
    mb_cfg_get_uint(L, "/observability/capacity/sustain_seconds", 1, 86400, 300, &o->sustain_seconds);
    read_fraction(L, "/observability/capacity/memory_pressure_pct", 100.0, 10.0, &o->memory_pressure_pct);
    read_fraction(L, "/observability/capacity/network_ratio", 1.0, 0.8, &o->network_ratio);
    mb_cfg_get_uint(L, "/observability/capacity/link_speed_mbps", 0, 10000000, 0, &o->link_speed_mbps);
    read_fraction(L, "/observability/capacity/connections_ratio", 1.0, 0.8, &o->connections_ratio);
    mb_cfg_get_uint(L, "/observability/capacity/sample_interval_ms", 100, 60000, 1000, &o->sample_interval_ms);
}

/* Protection that cannot work as configured is warned about (it still fails closed). */
static void warn_unreachable(struct mb_config_loader *L, const struct mb_observability_config *o)
{
    bool credentials = o->admin_token_set || L->cfg->security.auth_enabled;
    bool any_route = o->metrics_enabled || o->status_enabled;
    if (!any_route || credentials)
        return;
    if (!o->admin_allow_loopback)
        WARN(L, "/observability/admin/allow_loopback", "false, and neither observability.admin.token_env nor "
             "security.authentication is configured: every request to the metrics and status routes will be "
             "refused (403)");
    else if (o->admin_port && o->admin_host && *o->admin_host && strncmp(o->admin_host, "127.", 4) != 0 &&
             strcmp(o->admin_host, "::1") != 0 && strcmp(o->admin_host, "[::1]") != 0 &&
             strcmp(o->admin_host, "localhost") != 0)
        WARN(L, "/observability/metrics/host", "the admin listener on \"%s\" answers only loopback peers until "
             "observability.admin.token_env (or security.authentication) is configured", o->admin_host);
}

void mb_config_read_observability(struct mb_config_loader *L, struct mb_observability_config *o)
{
    check_keys(L, "/observability/metrics", METRICS_KEYS);
    check_keys(L, "/observability/status_page", STATUS_KEYS);
    check_keys(L, "/observability/admin", ADMIN_KEYS);
    check_keys(L, "/observability/capacity", CAPACITY_KEYS);
    read_metrics(L, o);
    read_admin(L, o);
    read_capacity(L, o);
    warn_unreachable(L, o);
}

void mb_observability_config_dispose(struct mb_observability_config *o)
{
    free(o->metrics_path);
    free(o->admin_host);
    free(o->status_path);
    free(o->admin_token_env);
    free(o->admin_scope);
    OPENSSL_cleanse(o->admin_token_sha256, sizeof o->admin_token_sha256);
    memset(o, 0, sizeof *o);
}
