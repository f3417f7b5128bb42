/* Inbound authentication and scope checks (contract in gateway.h). One job per request walks
 * two stages, service account then user; each stage strips the header prefix, looks the token
 * up in the verified-token cache, and on a miss verifies it against the current keys. A job
 * that must wait for keys (first JWKS fetch, or the one refresh an unknown kid earns) parks on
 * the JWKS source and resumes from its callback; everything else finishes before
 * mb_gateway_authenticate returns. Fail closed: any doubt is a denial. */
#include "auth/gateway.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "auth/jwk.h"
#include "auth/jwks_fetch.h"
#include "auth/jwt.h"
#include "auth/token_cache.h"
#include "common/log.h"

#define LOGGER "auth"
#define FIRST_FETCH_WAIT_MS 5000
#define REFRESH_WAIT_MS 3000

struct mb_gateway_shared {
    struct mb_jwks_shared *sa_jwks;    /* service account oauth mode, or NULL */
    struct mb_jwks_shared *user_jwks;  /* user jwt mode, or NULL; may equal sa_jwks */
};

/* Keys and rules for one kind of credential. */
struct verifier {
    const char *kind;                  /* "service account" / "user": for messages */
    struct mb_jwks_source *src;        /* NULL: static keys */
    struct mb_jwk_set *keys;           /* current parsed set; NULL until the first document */
    uint64_t generation;               /* of keys */
    struct mb_jwt_policy policy;
    const char *audiences[16];
    struct mb_token_cache *cache;
    bool keys_timed_out;               /* a wait for the first keys timed out: until keys arrive,
                                        * deny at once instead of parking every request again */
};

struct mb_gateway {
    uv_loop_t *loop;
    const struct mb_security_config *sec;
    struct verifier sa, user;
    struct mb_auth_pending *pending;   /* doubly linked list of parked jobs */
    struct mb_gateway_stats stats;
};

struct mb_auth_pending {
    struct mb_gateway *gw;
    struct mb_auth_pending *prev, *next;
    struct mb_auth_input in;
    struct mb_principal *p;
    struct mb_auth_denial *d;
    mb_auth_cb cb;
    void *data;
    int stage;                         /* 0 service account, 1 user, 2 done */
    bool refreshed;                    /* this stage already waited for a refresh */
    bool parked;
    struct mb_jwks_wait *wait;
};

/* ---- shared regions ---- */

struct mb_gateway_shared *mb_gateway_shared_create(const struct mb_security_config *sec, char *err, size_t errlen)
{
    struct mb_gateway_shared *sh = calloc(1, sizeof *sh);
    if (!sh) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!sec->auth_enabled)
        return sh;
    const char *sa_uri = sec->sa.enabled && sec->sa.mode == MB_SA_OAUTH ? sec->sa.jwt.jwks_uri : NULL;
    const char *user_uri = sec->user.enabled && sec->user.jwt.jwks_uri ? sec->user.jwt.jwks_uri : NULL;
    if (sa_uri && !(sh->sa_jwks = mb_jwks_shared_create(sa_uri, 0)))
        goto fail;
    if (user_uri && sa_uri && strcmp(sa_uri, user_uri) == 0)
        sh->user_jwks = sh->sa_jwks;
    else if (user_uri && !(sh->user_jwks = mb_jwks_shared_create(user_uri, 0)))
        goto fail;
    return sh;
fail:
    snprintf(err, errlen, "could not map the shared memory for the JWKS cache");
    mb_gateway_shared_destroy(sh);
    return NULL;
}

void mb_gateway_shared_destroy(struct mb_gateway_shared *sh)
{
    if (!sh)
        return;
    if (sh->user_jwks && sh->user_jwks != sh->sa_jwks)
        mb_jwks_shared_destroy(sh->user_jwks);
    mb_jwks_shared_destroy(sh->sa_jwks);
    free(sh);
}

/* ---- keys ---- */

static int validate_jwks(void *data, const char *bytes, size_t len)
{
    (void)data;
    char err[200];
    struct mb_jwk_set *set = mb_jwk_set_parse_jwks(bytes, len, err, sizeof err);
    if (!set) {
        mb_warn(LOGGER, "the identity provider's JWKS was refused: %s (keeping the previous keys)", err);
        return -1;
    }
    mb_jwk_set_destroy(set);
    return 0;
}

/* Brings v->keys up to the source's newest document. */
static void refresh_keys(struct verifier *v)
{
    if (!v->src)
        return;
    const char *bytes;
    size_t len;
    uint64_t gen;
    if (mb_jwks_source_current(v->src, &bytes, &len, &gen) != 0 || (v->keys && gen == v->generation))
        return;
    char err[200];
    struct mb_jwk_set *set = mb_jwk_set_parse_jwks(bytes, len, err, sizeof err);
    if (!set) {
        mb_warn(LOGGER, "%s keys: JWKS generation %llu unusable: %s", v->kind, (unsigned long long)gen, err);
        return;
    }
    mb_jwk_set_destroy(v->keys);
    v->keys = set;
    v->generation = gen;
    mb_info(LOGGER, "%s keys: JWKS generation %llu loaded (%zu keys)", v->kind, (unsigned long long)gen,
            mb_jwk_set_count(set));
}

static unsigned alg_mask(const struct mb_jwt_settings *j)
{
    unsigned mask = 0;
    for (size_t i = 0; i < j->algorithm_count; i++) {
        int a = mb_jwt_alg_from_name(j->algorithms[i]);
        if (a < 0)
            return 1u << 31;  /* config validation refuses these; if one slips through, accept nothing */
        mask |= MB_JWT_ALG_BIT(a);
    }
    return mask;  /* 0 = every supported asymmetric algorithm */
}

static int verifier_init(struct mb_gateway *gw, struct verifier *v, const char *kind, const struct mb_jwt_settings *j,
                         const char *resource, struct mb_jwks_shared *shared, struct mb_upstream *up, char *err,
                         size_t errlen)
{
    v->kind = kind;
    v->policy.algs = alg_mask(j);
    v->policy.issuer = j->issuer;
    size_t n = 0;
    for (size_t i = 0; i < j->audience_count && n < 16; i++)
        v->audiences[n++] = j->audiences[i];
    if (!n && resource)
        v->audiences[n++] = resource;  /* RFC 8707: the token must be meant for this resource */
    v->policy.audiences = v->audiences;
    v->policy.audience_count = n;
    v->policy.leeway_seconds = j->leeway_seconds;
    v->policy.max_token_bytes = j->max_token_bytes;
    v->policy.require_exp = true;
    /* A cache hit skips the signature check, so an entry lives no longer than the keys it was
     * checked with are cached: a key removed from the JWKS stops working within that time. */
    v->cache = mb_token_cache_create(MB_TOKEN_CACHE_DEFAULT_CAPACITY,
                                     shared ? j->jwks_cache_seconds : MB_TOKEN_CACHE_DEFAULT_TTL);
    if (!v->cache) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (shared) {
        struct mb_jwks_options o = {
            .cache_seconds = j->jwks_cache_seconds,
            /* The kid is read before any signature can be checked, so anyone can ask for the
             * unknown-kid refresh: keep the window short so a genuine rotation right after such
             * a token waits seconds, not the default 30 s. */
            .min_refresh_interval_ms = 5000,
            .validate = validate_jwks,
            .validate_data = gw,
        };
        v->src = mb_jwks_source_create(gw->loop, up, shared, &o);
        if (!v->src) {
            snprintf(err, errlen, "could not start fetching %s keys from %s", kind, j->jwks_uri);
            return -1;
        }
    }
    return 0;
}

static void verifier_dispose(struct verifier *v)
{
    mb_jwks_source_destroy(v->src);
    mb_jwk_set_destroy(v->keys);
    mb_token_cache_destroy(v->cache);
    memset(v, 0, sizeof *v);
}

struct mb_gateway *mb_gateway_create(uv_loop_t *loop, struct mb_upstream *up, const struct mb_security_config *sec,
                                     struct mb_gateway_shared *shared, char *err, size_t errlen)
{
    struct mb_gateway *gw = calloc(1, sizeof *gw);
    if (!gw) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    gw->loop = loop;
    gw->sec = sec;
    if (!sec->auth_enabled)
        return gw;
    const char *resource = sec->sa.resource;
    if (sec->sa.enabled) {
        if (verifier_init(gw, &gw->sa, "service account", &sec->sa.jwt, resource,
                          sec->sa.mode == MB_SA_OAUTH && shared ? shared->sa_jwks : NULL, up, err, errlen) != 0)
            goto fail;
        if (sec->sa.mode == MB_SA_TOKEN) {
            gw->sa.keys = mb_jwk_set_from_pem(sec->sa.public_key_pem, strlen(sec->sa.public_key_pem), err, errlen);
            if (!gw->sa.keys)
                goto fail;
            /* Tokens minted for this server by its own key: no audience unless configured. */
            if (!sec->sa.jwt.audience_count)
                gw->sa.policy.audience_count = 0;
        }
    }
    if (sec->user.enabled && sec->user.mode == MB_USER_JWT) {
        if (verifier_init(gw, &gw->user, "user", &sec->user.jwt, resource, shared ? shared->user_jwks : NULL, up,
                          err, errlen) != 0)
            goto fail;
    }
    return gw;
fail:
    mb_gateway_destroy(gw);
    return NULL;
}

void mb_gateway_destroy(struct mb_gateway *gw)
{
    if (!gw)
        return;
    while (gw->pending)
        mb_auth_cancel(gw->pending);
    verifier_dispose(&gw->sa);
    verifier_dispose(&gw->user);
    free(gw);
}

void mb_gateway_stats(const struct mb_gateway *gw, struct mb_gateway_stats *out)
{
    *out = gw->stats;
}

/* ---- principal ---- */

static bool has_scope(const struct mb_principal *p, const char *scope)
{
    for (size_t i = 0; i < p->scope_count; i++)
        if (strcmp(p->scopes[i], scope) == 0)
            return true;
    return false;
}

static void add_scope(struct mb_principal *p, const char *scope)
{
    if (has_scope(p, scope) || p->scope_count >= MB_PRINCIPAL_MAX_SCOPES)
        return;
    size_t used = 0;
    if (p->scope_count) {
        const char *last = p->scopes[p->scope_count - 1];
        used = (size_t)(last - p->scope_data) + strlen(last) + 1;
    }
    size_t n = strlen(scope) + 1;
    if (used + n > sizeof p->scope_data)
        return;
    memcpy(p->scope_data + used, scope, n);
    p->scopes[p->scope_count++] = p->scope_data + used;
}

static void copy_name(char *dst, const char *src)
{
    if (src && !*dst)
        snprintf(dst, MB_PRINCIPAL_NAME_MAX, "%s", src);
}

/* ---- denial ---- */

static enum mb_auth_outcome deny(struct mb_auth_pending *job, int status, const char *error, const char *reason,
                                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum mb_auth_outcome deny(struct mb_auth_pending *job, int status, const char *error, const char *reason,
                                 const char *fmt, ...)
{
    struct mb_auth_denial *d = job->d;
    d->status = status;
    d->error = error;
    snprintf(d->reason, sizeof d->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->description, sizeof d->description, fmt, ap);
    va_end(ap);
    /* The challenge advertises what a fresh token should carry. */
    const struct mb_service_account_config *sa = &job->gw->sec->sa;
    d->scope[0] = '\0';
    for (size_t i = 0; i < sa->advertised_scope_count; i++)
        snprintf(d->scope + strlen(d->scope), sizeof d->scope - strlen(d->scope), "%s%s", i ? " " : "",
                 sa->advertised_scopes[i]);
    job->stage = 2;
    job->gw->stats.denied++;
    return MB_AUTH_DENY;
}

/* ---- one stage ---- */

/* Strips "prefix" (case-insensitive) and the spaces after it. NULL when the value does not
 * carry the prefix or nothing follows it. */
static const char *strip_prefix(const char *v, size_t len, const char *prefix, size_t *out_len)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    while (pl && prefix[pl - 1] == ' ')
        pl--;
    if (pl) {
        if (len <= pl || strncasecmp(v, prefix, pl) != 0 || v[pl] != ' ')
            return NULL;
        v += pl;
        len -= pl;
    }
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    *out_len = len;
    return len ? v : NULL;
}

static void fill_from_entry(struct mb_principal *p, const struct mb_token_cache_entry *e, bool service_account)
{
    if (service_account) {
        copy_name(p->client_id, e->client_id);
        copy_name(p->client_id, e->subject);
    } else {
        copy_name(p->subject, e->subject);
    }
    for (size_t i = 0; i < e->scope_count; i++)
        add_scope(p, e->scopes[i]);
}

static void on_keys(void *data, int status);

/* Parks the job until the source has keys (first fetch) or finished a refresh. */
static enum mb_auth_outcome park(struct mb_auth_pending *job, struct verifier *v, bool refresh)
{
    struct mb_gateway *gw = job->gw;
    job->wait = refresh ? mb_jwks_source_when_refreshed(v->src, REFRESH_WAIT_MS, on_keys, job)
                        : mb_jwks_source_when_ready(v->src, FIRST_FETCH_WAIT_MS, on_keys, job);
    if (!job->wait)
        return deny(job, 503, NULL, "keys_unavailable", "the identity provider's keys are not available; retry later");
    gw->stats.waited_for_keys++;
    return MB_AUTH_PENDING;
}

/* Verifies one credential. ALLOW: the stage is done (next stage); DENY; PENDING: parked. */
static enum mb_auth_outcome run_stage(struct mb_auth_pending *job)
{
    struct mb_gateway *gw = job->gw;
    const struct mb_security_config *sec = gw->sec;
    bool sa_stage = job->stage == 0;
    struct verifier *v = sa_stage ? &gw->sa : &gw->user;
    if (sa_stage ? !sec->sa.enabled : !sec->user.enabled)
        return MB_AUTH_ALLOW;
    const char *raw = sa_stage ? job->in.service_account : job->in.user;
    size_t raw_len = sa_stage ? job->in.service_account_len : job->in.user_len;
    const char *header = sa_stage ? sec->sa.header : sec->user.header;
    size_t len = 0;
    const char *token = raw ? strip_prefix(raw, raw_len, sa_stage ? sec->sa.prefix : sec->user.prefix, &len) : NULL;
    if (!token) {
        if (sa_stage && !sec->sa.required)
            return MB_AUTH_ALLOW;
        if (raw)
            return deny(job, 401, "invalid_request", "malformed_credentials", "the %s header does not hold a %s%s token",
                        header, sa_stage ? sec->sa.prefix : sec->user.prefix,
                        (sa_stage ? *sec->sa.prefix : *sec->user.prefix) ? "" : "bearer");
        return deny(job, 401, NULL, "missing_credentials", "this server requires the %s header", header);
    }
    if (!sa_stage) {
        job->p->user_token = token;
        job->p->user_token_len = len;
        if (sec->user.mode == MB_USER_TOKEN)
            return MB_AUTH_ALLOW;  /* opaque: its presence is the check; exchange or the API decides */
    }
    int64_t now = (int64_t)time(NULL);
    struct mb_token_cache_entry e;
    if (mb_token_cache_get(v->cache, token, len, now, &e)) {
        gw->stats.cache_hits++;
        fill_from_entry(job->p, &e, sa_stage);
        return MB_AUTH_ALLOW;
    }
    refresh_keys(v);
    if (!v->keys && !v->src)
        return deny(job, 503, NULL, "keys_unavailable", "no keys are configured for the %s", v->kind);
    if (!v->keys && v->keys_timed_out)  /* the source keeps retrying in the background */
        return deny(job, 503, NULL, "keys_unavailable",
                    "the identity provider's keys could not be fetched; retry later");
    if (!v->keys)
        return park(job, v, false);
    struct mb_jwt_claims claims;
    char why[256];
    gw->stats.signature_checks++;
    enum mb_jwt_status st = mb_jwt_verify(token, len, v->keys, &v->policy, now, &claims, why, sizeof why);
    if (st == MB_JWT_UNKNOWN_KID && v->src && !job->refreshed) {
        job->refreshed = true;
        if (mb_jwks_source_request_refresh(v->src) == 0)
            return park(job, v, true);
    }
    if (st != MB_JWT_OK) {
        mb_info(LOGGER, "%s token refused: %s (%s)", v->kind, mb_jwt_status_name(st), why);
        if (st == MB_JWT_INTERNAL)
            return deny(job, 503, NULL, "internal", "the token could not be checked; retry later");
        return deny(job, 401, "invalid_token", mb_jwt_status_name(st), "the %s token was refused: %s", v->kind,
                    mb_jwt_status_name(st));
    }
    if (sa_stage) {
        for (size_t i = 0; i < sec->sa.required_scope_count; i++) {
            if (!mb_jwt_claims_has_scope(&claims, sec->sa.required_scopes[i])) {
                mb_jwt_claims_dispose(&claims);
                enum mb_auth_outcome o = deny(job, 403, "insufficient_scope", "missing_required_scope",
                                              "the service account token lacks the scope %s",
                                              sec->sa.required_scopes[i]);
                snprintf(job->d->scope, sizeof job->d->scope, "%s", sec->sa.required_scopes[i]);
                return o;
            }
        }
    }
    mb_token_cache_put_claims(v->cache, token, len, now, &claims);
    struct mb_token_cache_entry fresh = {
        .subject = claims.subject, .client_id = claims.client_id, .scopes = claims.scopes,
        .scope_count = claims.scope_count,
    };
    fill_from_entry(job->p, &fresh, sa_stage);
    mb_jwt_claims_dispose(&claims);
    return MB_AUTH_ALLOW;
}

/* Runs stages until done or parked. */
static enum mb_auth_outcome run_job(struct mb_auth_pending *job)
{
    while (job->stage < 2) {
        enum mb_auth_outcome o = run_stage(job);
        if (o != MB_AUTH_ALLOW)
            return o;
        job->stage++;
        job->refreshed = false;
    }
    struct mb_principal *p = job->p;
    p->authenticated = true;
    copy_name(p->client_id, job->in.tls_identity);
    job->gw->stats.allowed++;
    return MB_AUTH_ALLOW;
}

static void unlink_job(struct mb_auth_pending *job)
{
    struct mb_gateway *gw = job->gw;
    if (job->prev)
        job->prev->next = job->next;
    else
        gw->pending = job->next;
    if (job->next)
        job->next->prev = job->prev;
}

static void on_keys(void *data, int status)
{
    struct mb_auth_pending *job = data;
    job->wait = NULL;
    enum mb_auth_outcome o;
    struct verifier *v = job->stage == 0 ? &job->gw->sa : &job->gw->user;
    refresh_keys(v);
    if (status != 0 && !v->keys) {
        v->keys_timed_out = true;
        o = deny(job, 503, NULL, "keys_unavailable",
                 "the identity provider's keys could not be fetched; retry later");
    } else {
        o = run_job(job);
    }
    if (o == MB_AUTH_PENDING)
        return;
    unlink_job(job);
    mb_auth_cb cb = job->cb;
    void *cb_data = job->data;
    free(job);
    cb(cb_data, o);
}

enum mb_auth_outcome mb_gateway_authenticate(struct mb_gateway *gw, const struct mb_auth_input *in,
                                             struct mb_principal *p, struct mb_auth_denial *d,
                                             mb_auth_cb cb, void *data, struct mb_auth_pending **pending)
{
    memset(p, 0, sizeof *p);
    memset(d, 0, sizeof *d);
    if (pending)
        *pending = NULL;
    if (!gw->sec->auth_enabled)
        return MB_AUTH_ALLOW;
    struct mb_auth_pending local = { .gw = gw, .in = *in, .p = p, .d = d, .cb = cb, .data = data };
    enum mb_auth_outcome o = run_job(&local);
    if (o != MB_AUTH_PENDING)
        return o;
    /* Parked: move the job to the heap and point the wait at the copy. */
    struct mb_auth_pending *job = malloc(sizeof *job);
    if (!job) {
        mb_jwks_wait_cancel(local.wait);
        return deny(&local, 503, NULL, "internal", "out of memory");
    }
    *job = local;
    mb_jwks_wait_cancel(local.wait);
    struct verifier *v = job->stage == 0 ? &gw->sa : &gw->user;
    job->wait = job->refreshed ? mb_jwks_source_when_refreshed(v->src, REFRESH_WAIT_MS, on_keys, job)
                               : mb_jwks_source_when_ready(v->src, FIRST_FETCH_WAIT_MS, on_keys, job);
    if (!job->wait) {
        free(job);
        return deny(&local, 503, NULL, "keys_unavailable", "the identity provider's keys are not available");
    }
    job->next = gw->pending;
    if (gw->pending)
        gw->pending->prev = job;
    gw->pending = job;
    if (pending)
        *pending = job;
    return MB_AUTH_PENDING;
}

void mb_auth_cancel(struct mb_auth_pending *job)
{
    if (!job)
        return;
    mb_jwks_wait_cancel(job->wait);
    unlink_job(job);
    free(job);
}

/* ---- scopes ---- */

bool mb_principal_may_use(const struct mb_security_config *sec, const struct mb_principal *p, const char *tool,
                          char *missing, size_t missing_len)
{
    if (!sec->auth_enabled || !sec->scope_rule_count)
        return true;
    const struct mb_scope_rule *r = mb_security_tool_rule(sec, tool);
    if (!r)
        return true;
    bool ok = true;
    if (missing && missing_len)
        missing[0] = '\0';
    for (size_t i = 0; i < r->scope_count; i++) {
        if (p && has_scope(p, r->scopes[i]))
            continue;
        ok = false;
        if (missing && missing_len)
            snprintf(missing + strlen(missing), missing_len - strlen(missing), "%s%s", *missing ? " " : "",
                     r->scopes[i]);
    }
    if (!ok && missing && missing_len) {
        /* The challenge lists every scope the tool needs, not only the missing ones. */
        missing[0] = '\0';
        for (size_t i = 0; i < r->scope_count; i++)
            snprintf(missing + strlen(missing), missing_len - strlen(missing), "%s%s", i ? " " : "", r->scopes[i]);
    }
    return ok;
}

uint64_t mb_principal_visibility_key(const struct mb_security_config *sec, const struct mb_principal *p)
{
    if (!sec->auth_enabled || !sec->scope_rule_count)
        return 0;
    uint64_t key = 1469598103934665603ull;
    for (size_t i = 0; i < sec->scope_rule_count; i++) {
        const struct mb_scope_rule *r = &sec->scope_rules[i];
        bool ok = true;
        for (size_t k = 0; k < r->scope_count && ok; k++)
            ok = p && has_scope(p, r->scopes[k]);
        key = (key ^ (ok ? 0x9e3779b97f4a7c15ull : 0x51ed270b27ca5fd1ull) ^ i) * 1099511628211ull;
    }
    return key ? key : 1;
}

/* ---- RFC 9728 ---- */

static json_t *string_array(char **items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

char *mb_gateway_metadata_json(const struct mb_security_config *sec, const char *resource, const char *name)
{
    const struct mb_service_account_config *sa = &sec->sa;
    json_t *doc = json_object();
    json_object_set_new(doc, "resource", json_string(sa->resource ? sa->resource : resource));
    if (sa->authorization_server_count)
        json_object_set_new(doc, "authorization_servers", string_array(sa->authorization_servers,
                                                                       sa->authorization_server_count));
    json_t *scopes = string_array(sa->advertised_scopes, sa->advertised_scope_count);
    if (!sa->advertised_scope_count) {
        /* Default: every scope the authorization rules mention, each once. */
        for (size_t i = 0; i < sec->scope_rule_count; i++)
            for (size_t k = 0; k < sec->scope_rules[i].scope_count; k++) {
                const char *s = sec->scope_rules[i].scopes[k];
                bool seen = false;
                for (size_t j = 0; j < json_array_size(scopes) && !seen; j++)
                    seen = strcmp(json_string_value(json_array_get(scopes, j)), s) == 0;
                if (!seen)
                    json_array_append_new(scopes, json_string(s));
            }
    }
    json_object_set_new(doc, "scopes_supported", scopes);
    json_t *methods = json_array();
    json_array_append_new(methods, json_string("header"));
    json_object_set_new(doc, "bearer_methods_supported", methods);
    if (sa->resource_documentation)
        json_object_set_new(doc, "resource_documentation", json_string(sa->resource_documentation));
    if (name)
        json_object_set_new(doc, "resource_name", json_string(name));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}
