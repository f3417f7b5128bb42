/* The security gateway's configuration: security.authentication (service account and user),
 * security.authorization (scopes per tool), security.downstream (credentials mcpbridge sends
 * to the API: API key, OAuth client_credentials), runtime.middleware.rate_limiting and
 * circuit_breaker, runtime.redis. Parsed and validated by security_config.c as part of
 * mb_config_load, with the same file:line diagnostics. Unknown keys in these groups are errors,
 * not warnings: a misspelt security key must not silently turn a protection off.
 * Immutable once loaded, like the rest of struct mb_config. */
#ifndef MB_SECURITY_CONFIG_H
#define MB_SECURITY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* JWT verification settings shared by the service account (oauth mode) and user_auth (jwt). */
struct mb_jwt_settings {
    char *jwks_uri;              /* NULL: no JWKS (token mode uses public_key_pem instead) */
    unsigned jwks_cache_seconds; /* default 600 (documented advice: 300-900) */
    char *issuer;                /* NULL: not checked */
    char **audiences; size_t audience_count; /* any of them; none: not checked (a warning) */
    char **algorithms; size_t algorithm_count; /* allow-list; none: every supported asymmetric one */
    unsigned leeway_seconds;     /* clock skew accepted on exp/nbf/iat, default 60 */
    size_t max_token_bytes;      /* default 8192 */
};

enum mb_sa_mode { MB_SA_TOKEN = 0, MB_SA_OAUTH = 1 };
enum mb_user_mode { MB_USER_TOKEN = 0, MB_USER_JWT = 1 };

struct mb_service_account_config {
    bool enabled;
    bool required;               /* default true: a request without it is refused */
    enum mb_sa_mode mode;        /* token: a JWT signed by public_key; oauth: a JWT from the JWKS */
    char *header;                /* default "X-OEMCP-SERVICEACCOUNT" (sso_mode: "Authorization") */
    char *prefix;                /* default "" (sso_mode: "Bearer") */
    char *public_key_pem;        /* token mode: the PEM text (from a file path or inline) */
    struct mb_jwt_settings jwt;
    char *client_id;             /* advertised in metadata; not a secret */
    char **required_scopes; size_t required_scope_count;
    char **advertised_scopes; size_t advertised_scope_count;
    bool sso_mode;
    char **bearer_methods; size_t bearer_method_count; /* default ["header"] */
    bool require_metadata_on_401; /* default true */
    char *resource_documentation;
    char **authorization_servers; size_t authorization_server_count;
    char *resource;              /* mcpbridge: the RFC 8707 resource id; default: the MCP endpoint URL */
};

struct mb_token_exchange_config {
    bool enabled;
    char *token_url;             /* the RFC 8693 endpoint (required when enabled) */
    char *client_id, *client_secret; /* client authentication at the endpoint (may be NULL) */
    bool client_auth_basic;      /* true (default): HTTP Basic; false: client_id/secret form fields */
    char *audience, *scope, *resource; /* may be NULL */
    char *subject_token_type;    /* default urn:ietf:params:oauth:token-type:access_token */
    char *requested_token_type;  /* may be NULL */
    char *token_path;            /* dotted JSON path of the new token, default "access_token" */
    unsigned skew_seconds;       /* cache until expiry minus this, default 30 */
    unsigned timeout_ms;         /* default 5000 */
    char *header;                /* downstream header for the new token, default "Authorization" */
    char *prefix;                /* default "Bearer " */
};

struct mb_user_auth_config {
    bool enabled;
    enum mb_user_mode mode;      /* token (opaque, default) or jwt */
    char *header;                /* default "Authorization" */
    char *prefix;                /* default "Bearer" (compared case-insensitively, then one space) */
    bool forward_downstream;     /* explicit opt-in: send the user's token to the API (warned) */
    struct mb_jwt_settings jwt;  /* jwks_uri set: signature, time, issuer, audience, algorithms, scopes */
    struct mb_token_exchange_config exchange;
};

/* security.downstream (mcpbridge): credentials of mcpbridge itself towards the API. */
struct mb_downstream_auth_config {
    char *api_key_header;        /* e.g. "X-API-Key"; NULL: none */
    char *api_key_value;         /* the key (use ${ENV}); never logged */
    struct {
        bool enabled;
        char *token_url, *client_id, *client_secret, *scope, *audience;
        char *token_path;        /* default "access_token" */
        unsigned skew_seconds;   /* default 30 */
        unsigned timeout_ms;     /* default 5000 */
        char *header, *prefix;   /* default "Authorization", "Bearer " */
    } client_credentials;
};

struct mb_scope_rule {
    char *tool;                  /* a tool name, or "default" */
    char **scopes; size_t scope_count; /* all of them are required */
};

struct mb_rate_limit_config {
    bool enabled;                /* default false */
    double max_rps;              /* default 10 */
    unsigned burst;              /* default 20 */
    bool global;                 /* default false: one bucket per client_id, else session */
};

struct mb_circuit_config {
    bool enabled;                /* default false */
    double error_threshold;      /* default 0.5 */
    unsigned window_seconds;     /* default 60 */
    unsigned min_requests;       /* default 10 */
    unsigned open_seconds;       /* mcpbridge: cool-down before a half-open probe, default 30 */
};

struct mb_redis_config {
    char *url;                   /* runtime.redis.url, "redis://[:password@]host:port[/db]"; NULL: none */
    char *key_prefix;            /* default "mcpbridge:" */
    unsigned timeout_ms;         /* default 200 */
};

struct mb_security_config {
    bool auth_enabled;           /* security.authentication.enabled */
    struct mb_service_account_config sa;
    struct mb_user_auth_config user;
    struct mb_scope_rule *scope_rules; size_t scope_rule_count; /* security.authorization.tools */
    const struct mb_scope_rule *default_rule; /* the "default" entry, or NULL */
    struct mb_downstream_auth_config downstream;
    struct mb_rate_limit_config rate;
    struct mb_circuit_config circuit;
    struct mb_redis_config redis;
};

/* The scopes a tool requires: its own entry, else "default", else NULL (no scope needed). */
const struct mb_scope_rule *mb_security_tool_rule(const struct mb_security_config *sec, const char *tool);

/* Releases what sec owns (not sec itself). */
void mb_security_config_dispose(struct mb_security_config *sec);

#endif
