/* Parsing and validation of the security gateway's configuration (contract in
 * security_config.h). Runs inside mb_config_load with the shared loader, so every problem is
 * one "file:line: key: message" diagnostic. Fail-closed rules live here: unknown keys are
 * errors; enabling authentication without a usable credential source, asking for an algorithm
 * outside the asymmetric allow-list, or a token exchange without an endpoint refuse the load. */
#include "config/security_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/config_internal.h"

#define MAX_PEM_BYTES 16384

static const char *const SECURITY_KEYS[] = { "authentication", "authorization", "downstream", NULL };
static const char *const AUTHN_KEYS[] = { "enabled", "service_account", "user_auth", NULL };
static const char *const SA_KEYS[] = {
    "enabled", "required", "mode", "header", "prefix", "public_key", "jwks_uri", "jwks_cache_seconds",
    "issuer", "audience", "algorithms", "client_id", "client_secret", "required_scopes",
    "advertised_scopes", "sso_mode", "bearer_methods_supported", "require_metadata_on_401",
    "resource_documentation", "authorization_servers", "resource", "leeway_seconds", "max_token_bytes", NULL };
static const char *const USER_KEYS[] = {
    "enabled", "mode", "header", "prefix", "forward_downstream", "jwks_uri", "jwks_cache_seconds", "issuer",
    "audience", "algorithms", "leeway_seconds", "max_token_bytes", "token_exchange", NULL };
static const char *const EXCHANGE_KEYS[] = {
    "enabled", "token_url", "endpoint", "client_id", "client_secret", "client_auth", "audience", "scope",
    "resource", "subject_token_type", "requested_token_type", "token_path", "skew_seconds", "timeout_ms",
    "header", "prefix", NULL };
static const char *const AUTHZ_KEYS[] = { "tools", NULL };
static const char *const DOWNSTREAM_KEYS[] = { "api_key", "client_credentials", NULL };
static const char *const API_KEY_KEYS[] = { "header", "value", NULL };
static const char *const CC_KEYS[] = { "enabled", "token_url", "client_id", "client_secret", "scope", "audience",
                                       "token_path", "skew_seconds", "timeout_ms", "header", "prefix", NULL };
static const char *const REDIS_KEYS[] = { "url", "key_prefix", "timeout_ms", NULL };

static const char *const SUPPORTED_ALGS[] = { "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA", NULL };

/* Errors for members of the object at ptr that are not in keys (comment keys aside). */
static void check_keys(struct mb_config_loader *L, const char *ptr, const char *const *keys)
{
    json_t *obj = mb_cfg_lookup(L, ptr);
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        ERR(L, ptr, "expected an object, got %s", mb_cfg_type_name(obj));
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] || key[0] == '_' || key[0] == '$' || strncmp(key, "x-", 2) == 0 || !strcmp(key, "comment"))
            continue;
        char list[512] = "";
        for (size_t k = 0; keys[k]; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", keys[k]);
        ERR(L, ptr, "unknown key \"%.60s\" (security settings are checked strictly; expected one of: %s)", key, list);
    }
}

static void str_at(struct mb_config_loader *L, const char *base, const char *key, const char *def, char **out)
{
    char ptr[256];
    snprintf(ptr, sizeof ptr, "%s/%s", base, key);
    mb_cfg_get_string(L, ptr, def, out);
}

static void list_at(struct mb_config_loader *L, const char *base, const char *key, char ***items, size_t *count)
{
    char ptr[256];
    snprintf(ptr, sizeof ptr, "%s/%s", base, key);
    json_t *v = mb_cfg_lookup(L, ptr);
    if (json_is_string(v)) {  /* "audience": "x" and "scope": "a b" are common spellings */
        *items = calloc(2, sizeof **items);
        if (*items && ((*items)[0] = strdup(json_string_value(v))))
            *count = 1;
        return;
    }
    mb_cfg_get_string_list(L, ptr, items, count);
}

static void url_at(struct mb_config_loader *L, const char *base, const char *key, char **out)
{
    char ptr[256];
    snprintf(ptr, sizeof ptr, "%s/%s", base, key);
    mb_cfg_get_string(L, ptr, NULL, out);
    if (*out && !mb_cfg_is_http_url(*out))
        ERR(L, ptr, "expected an http:// or https:// URL, got \"%.80s\"", *out);
}

static void read_jwt(struct mb_config_loader *L, const char *base, struct mb_jwt_settings *j)
{
    char ptr[256];
    url_at(L, base, "jwks_uri", &j->jwks_uri);
    snprintf(ptr, sizeof ptr, "%s/jwks_cache_seconds", base);
    mb_cfg_get_uint(L, ptr, 10, 86400, 600, &j->jwks_cache_seconds);
    str_at(L, base, "issuer", NULL, &j->issuer);
    list_at(L, base, "audience", &j->audiences, &j->audience_count);
    list_at(L, base, "algorithms", &j->algorithms, &j->algorithm_count);
    snprintf(ptr, sizeof ptr, "%s/algorithms", base);
    for (size_t i = 0; i < j->algorithm_count; i++) {
        size_t k = 0;
        while (SUPPORTED_ALGS[k] && strcmp(SUPPORTED_ALGS[k], j->algorithms[i]) != 0)
            k++;
        if (!SUPPORTED_ALGS[k])
            ERR(L, ptr, "algorithm \"%.40s\" is refused (allowed: RS256, RS384, RS512, PS256, ES256, ES384, EdDSA; "
                "\"none\" and shared-secret HS* algorithms are never accepted)", j->algorithms[i]);
    }
    snprintf(ptr, sizeof ptr, "%s/leeway_seconds", base);
    mb_cfg_get_uint(L, ptr, 0, 600, 60, &j->leeway_seconds);
    snprintf(ptr, sizeof ptr, "%s/max_token_bytes", base);
    mb_cfg_get_size(L, ptr, 256, 65536, 8192, &j->max_token_bytes);
}

/* public_key: inline PEM text, or a path (relative to the config file) to one. */
static void read_public_key(struct mb_config_loader *L, const char *ptr, char **pem)
{
    json_t *v = mb_cfg_lookup(L, ptr);
    if (!v)
        return;
    if (!json_is_string(v)) {
        ERR(L, ptr, "expected PEM text or a path to a PEM file, got %s", mb_cfg_type_name(v));
        return;
    }
    if (strstr(json_string_value(v), "-----BEGIN")) {
        *pem = strdup(json_string_value(v));
        return;
    }
    char *path = NULL;
    mb_cfg_get_path(L, ptr, &path);
    if (!path)
        return;
    FILE *f = fopen(path, "r");
    if (!f) {
        mb_cfg_check_readable(L, ptr, path, 0);
        free(path);
        return;
    }
    char *buf = calloc(1, MAX_PEM_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > MAX_PEM_BYTES || !strstr(buf, "-----BEGIN"))
        ERR(L, ptr, "'%s' is not a PEM public key (empty, over %d bytes, or no BEGIN line)", path, MAX_PEM_BYTES);
    else
        *pem = buf, buf = NULL;
    free(buf);
    free(path);
}

static void read_service_account(struct mb_config_loader *L, struct mb_service_account_config *sa)
{
    static const char *const modes[] = { "token", "oauth", NULL };
    const char *base = "/security/authentication/service_account";
    char ptr[256];
    check_keys(L, base, SA_KEYS);
    mb_cfg_get_bool(L, "/security/authentication/service_account/enabled", false, &sa->enabled);
    mb_cfg_get_bool(L, "/security/authentication/service_account/required", true, &sa->required);
    mb_cfg_get_bool(L, "/security/authentication/service_account/sso_mode", false, &sa->sso_mode);
    char *mode = NULL;
    mb_cfg_get_enum(L, "/security/authentication/service_account/mode", modes, "token", &mode);
    sa->mode = mode && strcmp(mode, "oauth") == 0 ? MB_SA_OAUTH : MB_SA_TOKEN;
    free(mode);
    str_at(L, base, "header", "X-OEMCP-SERVICEACCOUNT", &sa->header);
    str_at(L, base, "prefix", "", &sa->prefix);
    read_public_key(L, "/security/authentication/service_account/public_key", &sa->public_key_pem);
    read_jwt(L, base, &sa->jwt);
    str_at(L, base, "client_id", NULL, &sa->client_id);
    list_at(L, base, "required_scopes", &sa->required_scopes, &sa->required_scope_count);
    list_at(L, base, "advertised_scopes", &sa->advertised_scopes, &sa->advertised_scope_count);
    list_at(L, base, "bearer_methods_supported", &sa->bearer_methods, &sa->bearer_method_count);
    mb_cfg_get_bool(L, "/security/authentication/service_account/require_metadata_on_401", true,
                    &sa->require_metadata_on_401);
    url_at(L, base, "resource_documentation", &sa->resource_documentation);
    list_at(L, base, "authorization_servers", &sa->authorization_servers, &sa->authorization_server_count);
    str_at(L, base, "resource", NULL, &sa->resource);
    snprintf(ptr, sizeof ptr, "%s/bearer_methods_supported", base);
    for (size_t i = 0; i < sa->bearer_method_count; i++)
        if (strcmp(sa->bearer_methods[i], "header") != 0)
            ERR(L, ptr, "\"%.40s\" is not supported: tokens are only accepted in headers (RFC 6750 2.1; "
                "query and body tokens leak into logs)", sa->bearer_methods[i]);
    if (mb_cfg_lookup(L, "/security/authentication/service_account/client_secret"))
        WARN(L, "/security/authentication/service_account/client_secret",
             "not used for inbound authentication (only client_id is published); remove it from this file");
    if (sa->sso_mode) {
        /* One token authenticates and authorizes: OAuth on the Authorization header. */
        sa->mode = MB_SA_OAUTH;
        free(sa->header);
        sa->header = strdup("Authorization");
        free(sa->prefix);
        sa->prefix = strdup("Bearer");
    }
    if (!sa->enabled)
        return;
    if (sa->mode == MB_SA_TOKEN && !sa->public_key_pem)
        ERR(L, base, "mode \"token\" needs public_key (the Ed25519 public key, PEM, that service-account tokens "
            "are signed with)");
    if (sa->mode == MB_SA_OAUTH && !sa->jwt.jwks_uri)
        ERR(L, base, "mode \"oauth\"%s needs jwks_uri (where the identity provider publishes its keys)",
            sa->sso_mode ? " (forced by sso_mode)" : "");
    if (sa->mode == MB_SA_OAUTH && !sa->jwt.audience_count)
        WARN(L, base, "no audience: tokens issued for any other service of this identity provider will be accepted; "
             "set audience to this server's resource identifier");
}

static void read_exchange(struct mb_config_loader *L, struct mb_token_exchange_config *x)
{
    static const char *const auths[] = { "basic", "post", NULL };
    const char *base = "/security/authentication/user_auth/token_exchange";
    char ptr[256];
    check_keys(L, base, EXCHANGE_KEYS);
    mb_cfg_get_bool(L, "/security/authentication/user_auth/token_exchange/enabled",
                    mb_cfg_lookup(L, base) != NULL, &x->enabled);
    url_at(L, base, "token_url", &x->token_url);
    if (!x->token_url)
        url_at(L, base, "endpoint", &x->token_url);
    str_at(L, base, "client_id", NULL, &x->client_id);
    str_at(L, base, "client_secret", NULL, &x->client_secret);
    char *auth = NULL;
    mb_cfg_get_enum(L, "/security/authentication/user_auth/token_exchange/client_auth", auths, "basic", &auth);
    x->client_auth_basic = !auth || strcmp(auth, "basic") == 0;
    free(auth);
    str_at(L, base, "audience", NULL, &x->audience);
    str_at(L, base, "scope", NULL, &x->scope);
    str_at(L, base, "resource", NULL, &x->resource);
    str_at(L, base, "subject_token_type", "urn:ietf:params:oauth:token-type:access_token", &x->subject_token_type);
    str_at(L, base, "requested_token_type", NULL, &x->requested_token_type);
    str_at(L, base, "token_path", "access_token", &x->token_path);
    snprintf(ptr, sizeof ptr, "%s/skew_seconds", base);
    mb_cfg_get_uint(L, ptr, 0, 3600, 30, &x->skew_seconds);
    snprintf(ptr, sizeof ptr, "%s/timeout_ms", base);
    mb_cfg_get_uint(L, ptr, 1, 60000, 5000, &x->timeout_ms);
    str_at(L, base, "header", "Authorization", &x->header);
    str_at(L, base, "prefix", "Bearer ", &x->prefix);
    if (x->enabled && !x->token_url)
        ERR(L, base, "token exchange is enabled but token_url (the RFC 8693 endpoint) is missing");
}

static void read_user_auth(struct mb_config_loader *L, struct mb_user_auth_config *u, bool sso)
{
    static const char *const modes[] = { "token", "jwt", NULL };
    const char *base = "/security/authentication/user_auth";
    check_keys(L, base, USER_KEYS);
    mb_cfg_get_bool(L, "/security/authentication/user_auth/enabled", false, &u->enabled);
    char *mode = NULL;
    mb_cfg_get_enum(L, "/security/authentication/user_auth/mode", modes, "token", &mode);
    u->mode = mode && strcmp(mode, "jwt") == 0 ? MB_USER_JWT : MB_USER_TOKEN;
    free(mode);
    str_at(L, base, "header", "Authorization", &u->header);
    str_at(L, base, "prefix", "Bearer", &u->prefix);
    mb_cfg_get_bool(L, "/security/authentication/user_auth/forward_downstream", false, &u->forward_downstream);
    read_jwt(L, base, &u->jwt);
    read_exchange(L, &u->exchange);
    if (sso && u->enabled) {
        WARN(L, base, "sso_mode is on: user_auth is turned off (one token authenticates and authorizes)");
        u->enabled = false;
    }
    if (!u->enabled)
        return;
    if (u->mode == MB_USER_JWT && !u->jwt.jwks_uri)
        ERR(L, base, "mode \"jwt\" needs jwks_uri (signature, time, issuer and audience checks)");
    if (u->forward_downstream)
        WARN(L, "/security/authentication/user_auth/forward_downstream",
             "the user's token will be sent to the downstream API as is; prefer token_exchange so the API gets "
             "a token meant for it");
    if (u->forward_downstream && u->exchange.enabled)
        ERR(L, "/security/authentication/user_auth/forward_downstream",
            "forward_downstream and token_exchange are both on: choose one (the exchanged token is what goes "
            "downstream)");
}

static void read_authorization(struct mb_config_loader *L, struct mb_security_config *sec)
{
    check_keys(L, "/security/authorization", AUTHZ_KEYS);
    json_t *tools = mb_cfg_lookup(L, "/security/authorization/tools");
    if (!tools)
        return;
    if (!json_is_object(tools)) {
        ERR(L, "/security/authorization/tools", "expected an object of tool name (or \"default\") -> [scopes], got %s",
            mb_cfg_type_name(tools));
        return;
    }
    sec->scope_rules = calloc(json_object_size(tools) + 1, sizeof *sec->scope_rules);
    if (!sec->scope_rules) {
        ERR(L, "/security/authorization/tools", "out of memory");
        return;
    }
    const char *name;
    json_t *v;
    json_object_foreach(tools, name, v) {
        char ptr[400];
        if (!*name || strpbrk(name, "/~") || strlen(name) > 300) {
            ERR(L, "/security/authorization/tools", "\"%.60s\" is not a usable tool name", name);
            continue;
        }
        snprintf(ptr, sizeof ptr, "/security/authorization/tools/%s", name);
        struct mb_scope_rule *r = &sec->scope_rules[sec->scope_rule_count];
        list_at(L, "/security/authorization/tools", name, &r->scopes, &r->scope_count);
        if (!json_is_array(v) && !json_is_string(v))
            continue;  /* reported by the list getter */
        for (size_t i = 0; i < r->scope_count; i++)
            if (!*r->scopes[i] || strpbrk(r->scopes[i], " \"\\"))
                ERR(L, ptr, "\"%.60s\" is not a valid scope (no spaces, quotes or backslashes)", r->scopes[i]);
        r->tool = strdup(name);
        sec->scope_rule_count++;
    }
    for (size_t i = 0; i < sec->scope_rule_count; i++)
        if (strcmp(sec->scope_rules[i].tool, "default") == 0)
            sec->default_rule = &sec->scope_rules[i];
}

static void read_downstream(struct mb_config_loader *L, struct mb_downstream_auth_config *d)
{
    const char *cc = "/security/downstream/client_credentials";
    char ptr[256];
    check_keys(L, "/security/downstream", DOWNSTREAM_KEYS);
    check_keys(L, "/security/downstream/api_key", API_KEY_KEYS);
    check_keys(L, cc, CC_KEYS);
    mb_cfg_get_string(L, "/security/downstream/api_key/header", NULL, &d->api_key_header);
    mb_cfg_get_string(L, "/security/downstream/api_key/value", NULL, &d->api_key_value);
    if (!d->api_key_header != !d->api_key_value)
        ERR(L, "/security/downstream/api_key", "set both header and value (use ${ENV_VAR} for the value)");
    else if (d->api_key_header && strpbrk(d->api_key_header, " :\r\n"))
        ERR(L, "/security/downstream/api_key/header", "\"%.60s\" is not a header name", d->api_key_header);
    else if (d->api_key_value && strpbrk(d->api_key_value, "\r\n"))
        ERR(L, "/security/downstream/api_key/value", "the value may not contain line breaks");
    mb_cfg_get_bool(L, "/security/downstream/client_credentials/enabled", mb_cfg_lookup(L, cc) != NULL,
                    &d->client_credentials.enabled);
    url_at(L, cc, "token_url", &d->client_credentials.token_url);
    str_at(L, cc, "client_id", NULL, &d->client_credentials.client_id);
    str_at(L, cc, "client_secret", NULL, &d->client_credentials.client_secret);
    str_at(L, cc, "scope", NULL, &d->client_credentials.scope);
    str_at(L, cc, "audience", NULL, &d->client_credentials.audience);
    str_at(L, cc, "token_path", "access_token", &d->client_credentials.token_path);
    snprintf(ptr, sizeof ptr, "%s/skew_seconds", cc);
    mb_cfg_get_uint(L, ptr, 0, 3600, 30, &d->client_credentials.skew_seconds);
    snprintf(ptr, sizeof ptr, "%s/timeout_ms", cc);
    mb_cfg_get_uint(L, ptr, 1, 60000, 5000, &d->client_credentials.timeout_ms);
    str_at(L, cc, "header", "Authorization", &d->client_credentials.header);
    str_at(L, cc, "prefix", "Bearer ", &d->client_credentials.prefix);
    if (d->client_credentials.enabled && (!d->client_credentials.token_url || !d->client_credentials.client_id))
        ERR(L, cc, "client_credentials needs token_url and client_id (and usually client_secret)");
}

static void read_limits(struct mb_config_loader *L, struct mb_security_config *sec)
{
    const char *rl = "/runtime/middleware/rate_limiting";
    mb_cfg_get_bool(L, "/runtime/middleware/rate_limiting/enabled", false, &sec->rate.enabled);
    mb_cfg_get_ratio(L, "/runtime/middleware/rate_limiting/max_rps", 0.001, 1000000, 10, &sec->rate.max_rps);
    mb_cfg_get_uint(L, "/runtime/middleware/rate_limiting/burst", 1, 1000000, 20, &sec->rate.burst);
    mb_cfg_get_bool(L, "/runtime/middleware/rate_limiting/global", false, &sec->rate.global);
    (void)rl;
    mb_cfg_get_bool(L, "/runtime/middleware/circuit_breaker/enabled", false, &sec->circuit.enabled);
    mb_cfg_get_ratio(L, "/runtime/middleware/circuit_breaker/error_threshold", 0.01, 1.0, 0.5,
                     &sec->circuit.error_threshold);
    mb_cfg_get_uint(L, "/runtime/middleware/circuit_breaker/window_seconds", 1, 3600, 60, &sec->circuit.window_seconds);
    mb_cfg_get_uint(L, "/runtime/middleware/circuit_breaker/min_requests", 1, 1000000, 10, &sec->circuit.min_requests);
    mb_cfg_get_uint(L, "/runtime/middleware/circuit_breaker/open_seconds", 1, 3600, 30, &sec->circuit.open_seconds);
    check_keys(L, "/runtime/redis", REDIS_KEYS);
    mb_cfg_get_string(L, "/runtime/redis/url", NULL, &sec->redis.url);
    if (sec->redis.url && strncmp(sec->redis.url, "redis://", 8) != 0)
        ERR(L, "/runtime/redis/url", "expected redis://[:password@]host:port[/db], got a URL of another scheme");
    mb_cfg_get_string(L, "/runtime/redis/key_prefix", "mcpbridge:", &sec->redis.key_prefix);
    mb_cfg_get_uint(L, "/runtime/redis/timeout_ms", 1, 10000, 200, &sec->redis.timeout_ms);
}

void mb_config_read_security(struct mb_config_loader *L, struct mb_security_config *sec)
{
    check_keys(L, "/security", SECURITY_KEYS);
    check_keys(L, "/security/authentication", AUTHN_KEYS);
    mb_cfg_get_bool(L, "/security/authentication/enabled", false, &sec->auth_enabled);
    read_service_account(L, &sec->sa);
    read_user_auth(L, &sec->user, sec->sa.sso_mode);
    read_authorization(L, sec);
    read_downstream(L, &sec->downstream);
    read_limits(L, sec);
    if (!sec->auth_enabled)
        return;
    if (!sec->sa.enabled && !sec->user.enabled)
        ERR(L, "/security/authentication", "authentication is enabled but neither service_account nor user_auth is "
            "(enable one, or set enabled: false to run without authentication)");
    if (!sec->scope_rule_count)
        WARN(L, "/security/authentication", "authentication is on but security.authorization.tools is empty: every "
             "authenticated caller may use every tool");
    if (sec->user.exchange.enabled && !sec->user.enabled)
        ERR(L, "/security/authentication/user_auth/token_exchange", "token exchange needs user_auth enabled (it "
            "exchanges the user's token)");
}

const struct mb_scope_rule *mb_security_tool_rule(const struct mb_security_config *sec, const char *tool)
{
    for (size_t i = 0; i < sec->scope_rule_count; i++)
        if (strcmp(sec->scope_rules[i].tool, tool) == 0)
            return &sec->scope_rules[i];
    return sec->default_rule;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

static void free_secret(char *s)
{
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

static void jwt_dispose(struct mb_jwt_settings *j)
{
    free(j->jwks_uri);
    free(j->issuer);
    free_list(j->audiences, j->audience_count);
    free_list(j->algorithms, j->algorithm_count);
}

void mb_security_config_dispose(struct mb_security_config *sec)
{
    struct mb_service_account_config *sa = &sec->sa;
    free(sa->header);
    free(sa->prefix);
    free(sa->public_key_pem);
    jwt_dispose(&sa->jwt);
    free(sa->client_id);
    free_list(sa->required_scopes, sa->required_scope_count);
    free_list(sa->advertised_scopes, sa->advertised_scope_count);
    free_list(sa->bearer_methods, sa->bearer_method_count);
    free(sa->resource_documentation);
    free_list(sa->authorization_servers, sa->authorization_server_count);
    free(sa->resource);
    struct mb_user_auth_config *u = &sec->user;
    free(u->header);
    free(u->prefix);
    jwt_dispose(&u->jwt);
    struct mb_token_exchange_config *x = &u->exchange;
    free(x->token_url);
    free(x->client_id);
    free_secret(x->client_secret);
    free(x->audience);
    free(x->scope);
    free(x->resource);
    free(x->subject_token_type);
    free(x->requested_token_type);
    free(x->token_path);
    free(x->header);
    free(x->prefix);
    for (size_t i = 0; i < sec->scope_rule_count; i++) {
        free(sec->scope_rules[i].tool);
        free_list(sec->scope_rules[i].scopes, sec->scope_rules[i].scope_count);
    }
    free(sec->scope_rules);
    struct mb_downstream_auth_config *d = &sec->downstream;
    free(d->api_key_header);
    free_secret(d->api_key_value);
    free(d->client_credentials.token_url);
    free(d->client_credentials.client_id);
    free_secret(d->client_credentials.client_secret);
    free(d->client_credentials.scope);
    free(d->client_credentials.audience);
    free(d->client_credentials.token_path);
    free(d->client_credentials.header);
    free(d->client_credentials.prefix);
    free(sec->redis.url);
    free(sec->redis.key_prefix);
    memset(sec, 0, sizeof *sec);
}
