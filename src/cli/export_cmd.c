/* `mcpbridge export --profile DIR --out DIR2 [--with-certs] [--with-secrets]`: a production bundle
 * from a profile (profile.h). The profile's config.yaml (as written, before ${VAR} substitution)
 * becomes a production configuration: bound to 0.0.0.0 with allowed_hosts, every secret moved
 * to an environment variable (${VAR}), metrics on their own token-protected port, JSON logs.
 * Around it, the canonical deployment files (deploy/ of the mcpbridge tree: the systemd unit,
 * the Kubernetes manifests, the Dockerfile) are copied unchanged and adapted beside them: a
 * systemd drop-in, a kustomize overlay (ConfigMap from the profile, Secret from an env file, a
 * Deployment patch for ports, TLS and extra secrets), env files for the secrets. Secret values
 * are written only with --with-secrets (files 0600); otherwise the env files are examples with
 * REPLACE-ME, which the server refuses to start with. Certificates only with --with-certs.
 * MANIFEST.txt lists every file with its mode and purpose. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/pki.h"
#include "cli/profile.h"
#include "cli/profile_yaml.h"
#include "common/buf.h"
#include "common/diag.h"
#include "common/doc.h"
#include "mcp/mcp_server.h"

#define TEMPLATE_MAX    (1024 * 1024)
#define SPEC_MAX        (64u * 1024u * 1024u)
#define CANONICAL_PORT  8500 /* the port deploy/kubernetes declares */
#define METRICS_PORT    9464
#define PLACEHOLDER     "REPLACE-ME"
#define PUBLIC_HOST_VAR "MCPBRIDGE_PUBLIC_HOST"
#define TLS_DIR_VAR     "MCPBRIDGE_TLS_DIR"
#define ADMIN_TOKEN_VAR "MCPBRIDGE_ADMIN_TOKEN"
#define K8S_TLS_DIR     "/etc/mcpbridge-tls"
#define MAX_SECRETS     16
#define MAX_ENTRIES     64

struct options {
    const char *profile;
    const char *out;
    bool with_certs, with_secrets;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge export --profile DIR --out DIR2 [--with-certs] [--with-secrets]\n"
        "  Writes a production bundle for a profile made by `mcpbridge init` into DIR2 (new or "
        "empty):\n"
        "  config/config.yaml (0.0.0.0 with allowed_hosts, secrets as ${VARIABLES}, metrics on "
        "port %d\n"
        "  with a token), the spec and the service-account public key; the systemd unit with a "
        "drop-in;\n"
        "  a kustomize overlay over the Kubernetes manifests (kubectl apply -k DIR2); the "
        "Dockerfile;\n"
        "  env files for the secrets; README.txt (how to deploy) and MANIFEST.txt (every file).\n"
        "  --with-certs     copy the profile's TLS certificate and key (development certificates)\n"
        "  --with-secrets   write the profile's secrets into the env files (mode 0600); without it "
        "they\n"
        "                   are examples with " PLACEHOLDER
        ", which the server refuses to start with\n"
        "  The deployment templates come from deploy/ of the mcpbridge tree ($MCPBRIDGE_HOME, "
        "else\n"
        "  beside the binary's directory).\n"
        "exit status: 0 written, 1 failure (not a profile, DIR2 not empty, ...), 2 usage\n",
        METRICS_PORT);
}

static const struct mb_cli_command command = {"export", usage};

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"profile", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
        {"with-certs", no_argument, NULL, 'c'},    {"with-secrets", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":p:o:csh", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->profile = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'c':
            o->with_certs = true;
            break;
        case 's':
            o->with_secrets = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return mb_cli_option_error(&command, c, argv);
        }
    }
    if (optind < argc)
        return mb_cli_unexpected_argument(&command, argv[optind]);
    if (!o->profile || !o->out)
        return mb_cli_usage_error(&command, "--profile DIR and --out DIR2 are required");
    return -1;
}

/* ---- the bundle being written ---- */

struct secret {
    char env[64];   /* the environment variable the config refers to */
    char key[64];   /* its key in the Kubernetes Secret mcpbridge-secrets */
    char what[160]; /* for the env files' comments */
    char *value;    /* the profile's value, or NULL when unknown (a ${VAR} already) */
};

struct entry {
    char path[256]; /* relative to the bundle */
    mode_t mode;
    char purpose[256];
};

struct bundle {
    const struct options *o;
    struct mb_profile *p;
    char out[PATH_MAX];  /* absolute */
    char home[PATH_MAX]; /* holds deploy/ and Dockerfile */
    json_t *config;      /* the production configuration (systemd, Docker) */
    json_t *k8s_config;  /* the same with the in-cluster host names, for the ConfigMap */
    struct secret secrets[MAX_SECRETS];
    size_t secret_count;
    struct entry entries[MAX_ENTRIES];
    size_t entry_count;
    char spec_name[32]; /* the spec's name in config/ */
    bool tls, mtls, redis;
    int port, metrics_port;
    char notes[2048]; /* what the operator must do by hand, one line each */
};

static void note(struct bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct bundle *b, const char *fmt, ...)
{
    size_t used = strlen(b->notes);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->notes + used, sizeof b->notes - used, fmt, ap);
    va_end(ap);
    used = strlen(b->notes);
    if (used + 1 < sizeof b->notes)
        strcat(b->notes, "\n");
}

/* Writes rel in the bundle and records it for MANIFEST.txt. */
static int emit(struct bundle *b, const char *rel, const void *data, size_t len, mode_t mode,
                const char *purpose, char *err, size_t errlen)
{
    if (b->entry_count == MAX_ENTRIES) {
        snprintf(err, errlen, "internal: more than %d files", MAX_ENTRIES);
        return -1;
    }
    char *path = mb_profile_join(b->out, rel);
    int rc = path ? mb_profile_write_file(path, data, len, mode, err, errlen) : -1;
    free(path);
    if (rc != 0)
        return -1;
    struct entry *e = &b->entries[b->entry_count++];
    snprintf(e->path, sizeof e->path, "%s", rel);
    e->mode = mode;
    snprintf(e->purpose, sizeof e->purpose, "%s", purpose);
    return 0;
}

static int emit_buf(struct bundle *b, const char *rel, struct mb_buf *text, mode_t mode,
                    const char *purpose, char *err, size_t errlen)
{
    if (!text->data || text->len + 1 >= text->max) {
        snprintf(err, errlen, "out of memory writing %s", rel);
        return -1;
    }
    return emit(b, rel, text->data, text->len, mode, purpose, err, errlen);
}

/* Copies a file (a template or a profile file) into the bundle. */
static int copy_in(struct bundle *b, const char *from, const char *rel, mode_t mode,
                   const char *purpose, char *err, size_t errlen)
{
    size_t len = 0;
    char *data = mb_profile_read_file(from, SPEC_MAX, &len, err, errlen);
    int rc = data ? emit(b, rel, data, len, mode, purpose, err, errlen) : -1;
    if (data && mode == 0600)
        explicit_bzero(data, len);
    free(data);
    return rc;
}

static int make_dir(struct bundle *b, const char *rel, mode_t mode, char *err, size_t errlen)
{
    char *path = rel ? mb_profile_join(b->out, rel) : strdup(b->out);
    int rc = path ? mb_profile_mkdir(path, mode, err, errlen) : -1;
    free(path);
    return rc;
}

/* ---- where the deployment templates are ---- */

static bool has_templates(const char *home)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/deploy/systemd/mcpbridge.service", home);
    if (stat(path, &st) != 0)
        return false;
    snprintf(path, sizeof path, "%s/deploy/kubernetes/kustomization.yaml", home);
    if (stat(path, &st) != 0)
        return false;
    snprintf(path, sizeof path, "%s/Dockerfile", home);
    return stat(path, &st) == 0;
}

/* $MCPBRIDGE_HOME, else the directory above the binary's (a build directory in the source tree),
 * else ../share/mcpbridge beside it (an installation). */
static int find_templates(struct bundle *b, char *err, size_t errlen)
{
    const char *env = getenv("MCPBRIDGE_HOME");
    if (env && *env) {
        if (has_templates(env) && realpath(env, b->home))
            return 0;
        snprintf(err, errlen,
                 "MCPBRIDGE_HOME=%s has no deploy/systemd/mcpbridge.service, "
                 "deploy/kubernetes/kustomization.yaml and Dockerfile: point it at the mcpbridge "
                 "source tree",
                 env);
        return -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *const candidates[] = {"..", "../share/mcpbridge"};
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/%s", exe, candidates[i]);
            if (has_templates(path) && realpath(path, b->home))
                return 0;
        }
    }
    snprintf(err, errlen,
             "cannot find the deployment templates (deploy/systemd/mcpbridge.service, "
             "deploy/kubernetes/, "
             "Dockerfile) beside this binary; set MCPBRIDGE_HOME to the mcpbridge source tree (or "
             "its install "
             "share directory) that holds them");
    return -1;
}

/* ---- the production configuration ---- */

/* Secrets a configuration may hold, and where each goes. */
static const struct {
    const char *pointer, *env, *key, *what;
} SECRET_KEYS[] = {
    {"/runtime/server/session/secret", "MCPBRIDGE_SESSION_SECRET", "session-secret",
     "runtime.server.session.secret: signs session ids; the same on every instance"},
    {"/runtime/redis/url", "MCPBRIDGE_REDIS_URL", "redis-url",
     "runtime.redis.url: Redis with its password"},
    {"/security/downstream/api_key/value", "MCPBRIDGE_API_KEY", "api-key",
     "security.downstream.api_key.value: the key mcpbridge sends to the API"},
    {"/security/downstream/client_credentials/client_secret", "MCPBRIDGE_CLIENT_SECRET",
     "client-secret", "security.downstream.client_credentials.client_secret"},
    {"/security/authentication/user_auth/token_exchange/client_secret",
     "MCPBRIDGE_EXCHANGE_CLIENT_SECRET", "exchange-client-secret",
     "security.authentication.user_auth.token_exchange.client_secret"},
    {"/runtime/http/tls/key_password", "MCPBRIDGE_HTTP_KEY_PASSWORD", "http-key-password",
     "runtime.http.tls.key_password: the client key's password towards the API"},
};

/* The member at an RFC 6901 pointer without escapes (ours have none), or NULL. */
static json_t *at(json_t *root, const char *pointer)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", pointer);
    json_t *v = root;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok && v;
         tok = strtok_r(NULL, "/", &save))
        v = json_object_get(v, tok);
    return v;
}

/* The object at pointer, created (with its parents) when missing; NULL when a non-object is in
 * the way. */
static json_t *object_at(json_t *root, const char *pointer)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", pointer);
    json_t *v = root;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok && v;
         tok = strtok_r(NULL, "/", &save)) {
        json_t *next = json_object_get(v, tok);
        if (!next) {
            next = json_object();
            json_object_set_new(v, tok, next);
        }
        v = json_is_object(next) ? next : NULL;
    }
    return v;
}

/* NAME when text is exactly "${NAME}" or "${NAME:-default}", else "". */
static void reference_name(const char *text, char *out, size_t cap)
{
    out[0] = '\0';
    if (!text || strncmp(text, "${", 2) != 0)
        return;
    size_t n = strcspn(text + 2, ":}");
    const char *end = strchr(text, '}');
    if (n && n < cap && end && !end[1])
        snprintf(out, cap, "%.*s", (int)n, text + 2);
}

static struct secret *add_secret(struct bundle *b, const char *env, const char *key,
                                 const char *what, const char *value)
{
    if (b->secret_count == MAX_SECRETS)
        return NULL;
    struct secret *s = &b->secrets[b->secret_count++];
    snprintf(s->env, sizeof s->env, "%s", env);
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->what, sizeof s->what, "%s", what);
    s->value = value ? strdup(value) : NULL;
    return s;
}

/* "MY_VAR" -> "my-var": a Secret key for a variable the profile already named. */
static void key_for(const char *env, char *out, size_t cap)
{
    size_t i = 0;
    for (; env[i] && i + 1 < cap; i++)
        out[i] = env[i] == '_'
                     ? '-'
                     : (char)(env[i] >= 'A' && env[i] <= 'Z' ? env[i] - 'A' + 'a' : env[i]);
    out[i] = '\0';
}

/* Moves every literal secret of config into an environment variable. */
static int move_secrets(struct bundle *b, json_t *config, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof SECRET_KEYS / sizeof SECRET_KEYS[0]; i++) {
        char *last = strrchr(SECRET_KEYS[i].pointer, '/');
        char parent_ptr[256];
        snprintf(parent_ptr, sizeof parent_ptr, "%.*s", (int)(last - SECRET_KEYS[i].pointer),
                 SECRET_KEYS[i].pointer);
        json_t *parent = at(config, parent_ptr);
        const char *value = json_string_value(json_object_get(parent, last + 1));
        if (!value)
            continue;
        char name[64], key[64], ref[96];
        reference_name(value, name, sizeof name);
        if (name[0]) { /* already from the environment: keep the reference, ask for the variable */
            if (strcmp(name, SECRET_KEYS[i].env) == 0)
                snprintf(key, sizeof key, "%s", SECRET_KEYS[i].key);
            else
                key_for(name, key, sizeof key);
            if (!add_secret(b, name, key, SECRET_KEYS[i].what, NULL))
                goto full;
            continue;
        }
        if (!add_secret(b, SECRET_KEYS[i].env, SECRET_KEYS[i].key, SECRET_KEYS[i].what, value))
            goto full;
        snprintf(ref, sizeof ref, "${%s}", SECRET_KEYS[i].env);
        json_object_set_new(parent, last + 1, json_string(ref));
    }
    return 0;
full:
    snprintf(err, errlen, "internal: more than %d secrets", MAX_SECRETS);
    return -1;
}

/* observability: JSON logs; metrics and the status page on their own port behind a token,
 * unless the profile chose otherwise. */
static int production_observability(struct bundle *b, json_t *config, char *err, size_t errlen)
{
    json_t *logging = object_at(config, "/observability/logging");
    json_t *metrics = object_at(config, "/observability/metrics");
    json_t *admin = object_at(config, "/observability/admin");
    if (!logging || !metrics || !admin) {
        snprintf(
            err, errlen,
            "config.yaml's observability section is not made of objects; fix it (mcpbridge check)");
        return -1;
    }
    if (!json_object_get(logging, "json") && !json_object_get(logging, "format"))
        json_object_set_new(logging, "json", json_true());
    if (!json_object_get(metrics, "port")) {
        json_object_set_new(metrics, "host", json_string("0.0.0.0"));
        json_object_set_new(metrics, "port", json_integer(METRICS_PORT));
    }
    json_t *port = json_object_get(metrics, "port");
    b->metrics_port = json_is_integer(port) ? (int)json_integer_value(port) : METRICS_PORT;
    const char *token_env = json_string_value(json_object_get(admin, "token_env"));
    if (!token_env) {
        json_object_set_new(admin, "token_env", json_string(ADMIN_TOKEN_VAR));
        if (!json_object_get(admin, "allow_loopback"))
            json_object_set_new(admin, "allow_loopback", json_false());
        token_env = ADMIN_TOKEN_VAR;
    }
    char token[65];
    if (mb_pki_random_hex(32, token, sizeof token, err, errlen) != 0)
        return -1;
    struct secret *s = add_secret(
        b, token_env, "admin-token",
        "observability.admin.token_env: the bearer token for /metrics and /status", token);
    explicit_bzero(token, sizeof token);
    if (!s) {
        snprintf(err, errlen, "internal: more than %d secrets", MAX_SECRETS);
        return -1;
    }
    return 0;
}

static void set_tls_paths(json_t *tls, bool mtls)
{
    json_object_set_new(tls, "certfile", json_string("${" TLS_DIR_VAR "}/server.crt"));
    json_object_set_new(tls, "keyfile", json_string("${" TLS_DIR_VAR "}/server.key"));
    if (mtls)
        json_object_set_new(tls, "client_cafile", json_string("${" TLS_DIR_VAR "}/ca.crt"));
}

/* Builds b->config and b->k8s_config from the profile's config.yaml as written. */
static int build_configs(struct bundle *b, char *err, size_t errlen)
{
    char *path = mb_profile_join(b->p->dir, MB_PROFILE_CONFIG);
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_doc *doc = path ? mb_doc_load_file(path, 4 * 1024 * 1024, &diags) : NULL;
    int rc = -1;
    if (!doc) {
        char *why = mb_diags_join(&diags);
        snprintf(err, errlen, "cannot read %s: %s", path ? path : MB_PROFILE_CONFIG,
                 why ? why : "out of memory");
        free(why);
        goto done;
    }
    json_t *config = b->config = json_deep_copy(mb_doc_root(doc));
    json_t *transport = object_at(config, "/runtime/server/transport");
    json_t *openapi = object_at(config, "/api/openapi");
    if (!transport || !openapi) {
        snprintf(err, errlen, "%s: runtime.server.transport or api.openapi is not an object", path);
        goto done;
    }
    json_object_set_new(transport, "host", json_string("0.0.0.0"));
    json_t *port = json_object_get(transport, "port");
    b->port = json_is_integer(port) ? (int)json_integer_value(port) : CANONICAL_PORT;
    json_object_set_new(openapi, "spec_file", json_string(b->spec_name));
    const char *pk =
        json_string_value(at(config, "/security/authentication/service_account/public_key"));
    if (pk && !strstr(pk, "-----BEGIN"))
        json_object_set_new(at(config, "/security/authentication/service_account"), "public_key",
                            json_string("service-account.pub.pem"));
    json_t *tls = json_object_get(transport, "tls");
    b->tls = json_is_object(tls);
    b->mtls = b->tls && json_is_true(json_object_get(tls, "require_client_cert"));
    if (b->tls)
        set_tls_paths(tls, b->mtls || json_object_get(tls, "client_cafile") != NULL);
    b->redis = at(config, "/runtime/redis/url") != NULL;
    if (move_secrets(b, config, err, errlen) != 0 ||
        production_observability(b, config, err, errlen) != 0)
        goto done;
    if (at(config, "/assistant/prompts/dir") || at(config, "/assistant/resources/dir") ||
        at(config, "/openapi_visibility/context_dir"))
        note(b, "The profile's prompt, resource or context directories are not copied: put them "
                "beside config.yaml "
                "and check their paths.");
    if (at(config, "/runtime/http/tls"))
        note(b, "runtime.http.tls names files for the API connection: install them and check the "
                "paths.");
    /* The Kubernetes variant names the Service and the pod too (Prometheus scrapes pods by IP). */
    b->k8s_config = json_deep_copy(config);
    if (!json_object_get(transport, "allowed_hosts")) {
        json_object_set_new(
            transport, "allowed_hosts",
            json_pack("[s,s,s]", "localhost", "127.0.0.1", "${" PUBLIC_HOST_VAR "}"));
        json_object_set_new(
            at(b->k8s_config, "/runtime/server/transport"), "allowed_hosts",
            json_pack("[s,s,s,s,s,s,s,s,s]", "mcpbridge", "mcpbridge.${POD_NAMESPACE}",
                      "mcpbridge.${POD_NAMESPACE}.svc",
                      "mcpbridge.${POD_NAMESPACE}.svc.cluster.local", "${POD_IP}", "[${POD_IP}]",
                      "localhost", "127.0.0.1", "${" PUBLIC_HOST_VAR "}"));
    }
    rc = 0;
done:
    mb_doc_destroy(doc);
    mb_diags_dispose(&diags);
    free(path);
    return rc;
}

static const struct mb_yaml_comment PRODUCTION_COMMENTS[] = {
    {"/api/openapi/base_url",
     "The API the tools call, as in the profile: make sure it is the production one."},
    {"/runtime/server/transport/host",
     "Every interface: a firewall, a Service or a proxy in front decides who reaches it."},
    {"/runtime/server/transport/allowed_hosts",
     "Host headers accepted (DNS rebinding guard): add every name clients use. " PUBLIC_HOST_VAR
     " is the\n"
     "public one (mcpbridge.env, or the Deployment's environment in Kubernetes)."},
    {"/runtime/server/transport/tls",
     "Certificate files from ${" TLS_DIR_VAR
     "}: systemd credentials (mcpbridge.service.d/profile.conf), the\n"
     "mcpbridge-tls Secret mounted at " K8S_TLS_DIR
     " in Kubernetes, a read-only mount for Docker."},
    {"/runtime/server/session/secret",
     "From the environment (mcpbridge.env, the mcpbridge-secrets Secret), never in this file."},
    {"/security/authentication/service_account/public_key",
     "The profile's service-account public key: tokens from `mcpbridge sa-token mint --profile` "
     "are accepted.\n"
     "The private key that signs them stays with the profile; it is not part of this bundle."},
    {"/observability/metrics", "/metrics and /status on their own port; readers send the token of "
                               "the variable token_env names."},
};

static int write_config(struct bundle *b, const json_t *config, const char *rel,
                        const char *variant, const char *purpose, char *err, size_t errlen)
{
    char header[PATH_MAX + 1024], created[32];
    mb_profile_format_time(time(NULL), created, sizeof created);
    snprintf(header, sizeof header,
             "mcpbridge production configuration%s for profile \"%s\", made by `mcpbridge export` "
             "on %s\n"
             "from %s/%s (whose comments are not carried over).\n"
             "No secrets here: ${VARIABLES} come from the environment. Validate with the variables "
             "set:\n"
             "  mcpbridge check --config <this file>\n"
             "Every key: docs/configuration.md.",
             variant, b->p->name, created, b->p->dir, MB_PROFILE_CONFIG);
    struct mb_buf out;
    mb_buf_init(&out, 4 * 1024 * 1024);
    int rc = -1;
    if (mb_yaml_emit(config, header, PRODUCTION_COMMENTS,
                     sizeof PRODUCTION_COMMENTS / sizeof PRODUCTION_COMMENTS[0], &out) != 0)
        snprintf(err, errlen, "out of memory writing %s", rel);
    else
        rc = emit_buf(b, rel, &out, 0644, purpose, err, errlen);
    mb_buf_dispose(&out);
    return rc;
}

/* ---- secrets files ---- */

static const char *secret_value(const struct bundle *b, const struct secret *s)
{
    return b->o->with_secrets && s->value ? s->value : PLACEHOLDER;
}

static int write_env_files(struct bundle *b, char *err, size_t errlen)
{
    bool real = b->o->with_secrets;
    struct mb_buf env, k8s;
    mb_buf_init(&env, 256 * 1024);
    mb_buf_init(&k8s, 256 * 1024);
    mb_buf_printf(&env,
                  "# Environment of mcpbridge (profile \"%s\") for systemd and Docker: config.yaml "
                  "refers to these\n"
                  "# as ${NAME}. Install as /etc/mcpbridge/mcpbridge.env, owned by root, mode "
                  "0600: systemd reads it\n"
                  "# as root (EnvironmentFile=) and the service cannot read the file itself.\n"
                  "# Docker: docker run --env-file <this file> ...\n",
                  b->p->name);
    mb_buf_printf(&k8s,
                  "# The keys of the Kubernetes Secret mcpbridge-secrets (profile \"%s\"), read by "
                  "kustomization.yaml's\n"
                  "# secretGenerator. Keep this file out of version control.\n",
                  b->p->name);
    if (!real) {
        const char *hint = "# EXAMPLE VALUES: replace every " PLACEHOLDER
                           " (generate with: openssl rand -hex 32) and\n"
                           "# save the result without .example. The session secret " PLACEHOLDER
                           " is too short to be\n"
                           "# accepted, so an unedited copy refuses to start.\n";
        mb_buf_append_str(&env, hint);
        mb_buf_append_str(&k8s, hint);
    }
    for (size_t i = 0; i < b->secret_count; i++) {
        const struct secret *s = &b->secrets[i];
        mb_buf_printf(&env, "\n# %s\n%s=%s\n", s->what, s->env, secret_value(b, s));
        mb_buf_printf(&k8s, "\n# %s (%s)\n%s=%s\n", s->what, s->env, s->key, secret_value(b, s));
    }
    mb_buf_printf(&env,
                  "\n# Not a secret: the public host name clients use "
                  "(runtime.server.transport.allowed_hosts).\n"
                  "%s=mcp.example.com\n",
                  PUBLIC_HOST_VAR);
    if (b->tls)
        mb_buf_printf(
            &env,
            "\n# Docker only (systemd sets it in mcpbridge.service.d/profile.conf): where the TLS "
            "files are mounted.\n# %s=%s\n",
            TLS_DIR_VAR, K8S_TLS_DIR);
    int rc = emit_buf(b, real ? "config/mcpbridge.env" : "config/mcpbridge.env.example", &env,
                      real ? 0600 : 0644,
                      real ? "secrets and settings for systemd (/etc/mcpbridge/mcpbridge.env, 0600 "
                             "root) and Docker "
                             "(--env-file): the profile's values"
                           : "example of /etc/mcpbridge/mcpbridge.env for systemd and Docker "
                             "(--env-file): replace "
                             "REPLACE-ME, save as mcpbridge.env, mode 0600",
                      err, errlen);
    if (rc == 0)
        rc = emit_buf(b, real ? "kubernetes/secrets.env" : "kubernetes/secrets.env.example", &k8s,
                      real ? 0600 : 0644,
                      real ? "the keys of the Secret mcpbridge-secrets (kustomize "
                             "secretGenerator): the profile's "
                             "values"
                           : "example of kubernetes/secrets.env, the keys of the Secret "
                             "mcpbridge-secrets: replace "
                             "REPLACE-ME and save as kubernetes/secrets.env",
                      err, errlen);
    if (real) {
        explicit_bzero(env.data, env.len);
        explicit_bzero(k8s.data, k8s.len);
    }
    mb_buf_dispose(&env);
    mb_buf_dispose(&k8s);
    return rc;
}

/* ---- systemd ---- */

static int write_systemd(struct bundle *b, char *err, size_t errlen)
{
    char from[PATH_MAX + 64];
    snprintf(from, sizeof from, "%s/deploy/systemd/mcpbridge.service", b->home);
    if (copy_in(
            b, from, "systemd/mcpbridge.service", 0644,
            "the systemd unit as shipped (deploy/systemd): /etc/systemd/system/mcpbridge.service",
            err, errlen) != 0)
        return -1;
    struct mb_buf t;
    mb_buf_init(&t, 64 * 1024);
    mb_buf_printf(
        &t,
        "# What profile \"%s\" adds to mcpbridge.service (made by mcpbridge export). Install as\n"
        "# /etc/systemd/system/mcpbridge.service.d/profile.conf, then: systemctl daemon-reload\n\n"
        "[Unit]\nDescription=mcpbridge MCP server (profile %s)\n",
        b->p->name, b->p->name);
    if (b->tls) {
        mb_buf_printf(
            &t,
            "\n[Service]\n"
            "# TLS files: systemd reads them as root and hands the service private copies in its\n"
            "# credentials directory (%%d); config.yaml names them ${%s}/NAME.\n"
            "LoadCredential=server.crt:/etc/mcpbridge/tls/server.crt\n"
            "LoadCredential=server.key:/etc/mcpbridge/tls/server.key\n",
            TLS_DIR_VAR);
        if (b->mtls)
            mb_buf_printf(&t, "LoadCredential=ca.crt:/etc/mcpbridge/tls/ca.crt\n");
        mb_buf_printf(&t, "Environment=%s=%%d\n", TLS_DIR_VAR);
    }
    int rc =
        emit_buf(b, "systemd/mcpbridge.service.d/profile.conf", &t, 0644,
                 b->tls ? "systemd drop-in: the profile's name and its TLS files as credentials"
                        : "systemd drop-in: the profile's name in the unit's description",
                 err, errlen);
    mb_buf_dispose(&t);
    return rc;
}

/* ---- Kubernetes ---- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int copy_kubernetes_base(struct bundle *b, char *err, size_t errlen)
{
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/deploy/kubernetes", b->home);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read %.900s: %s", dir, strerror(errno));
        return -1;
    }
    /* Sorted, so the manifest does not depend on the directory's order. */
    char names[32][128];
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < 32) {
        size_t n = strlen(e->d_name);
        if (n > 5 && n < sizeof names[0] && strcmp(e->d_name + n - 5, ".yaml") == 0)
            snprintf(names[count++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof names[0], compare_names);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        char from[PATH_MAX + 256], rel[256], purpose[256];
        snprintf(from, sizeof from, "%s/%s", dir, names[i]);
        snprintf(rel, sizeof rel, "kubernetes/base/%s", names[i]);
        snprintf(purpose, sizeof purpose, "deploy/kubernetes/%s as shipped (the overlay's base)%s",
                 names[i],
                 strcmp(names[i], "configmap.yaml") == 0 || strcmp(names[i], "secret.yaml") == 0
                     ? "; replaced by the overlay"
                     : "");
        rc = copy_in(b, from, rel, 0644, purpose, err, errlen);
    }
    return rc;
}

/* The Deployment patch: ports, extra secrets, TLS; strategic merge by container and env name. */
static int write_deployment_patch(struct bundle *b, char *err, size_t errlen)
{
    static const char *const canonical_env[] = {"MCPBRIDGE_SESSION_SECRET", ADMIN_TOKEN_VAR,
                                                "MCPBRIDGE_REDIS_URL"};
    struct mb_buf t;
    mb_buf_init(&t, 64 * 1024);
    mb_buf_printf(
        &t,
        "# Profile \"%s\": what the Deployment of kubernetes/base needs changed (strategic merge "
        "patch,\n"
        "# made by mcpbridge export).\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mcpbridge\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: mcpbridge\n",
        b->p->name);
    if (b->port != CANONICAL_PORT || b->metrics_port != METRICS_PORT) {
        /* Container ports merge by containerPort and protocol: delete the shipped one, add ours. */
        mb_buf_printf(&t, "          ports:\n");
        if (b->port != CANONICAL_PORT)
            mb_buf_printf(&t,
                          "            # runtime.server.transport.port of the profile\n"
                          "            - containerPort: %d\n              protocol: TCP\n          "
                          "    $patch: delete\n"
                          "            - name: mcp\n              containerPort: %d\n              "
                          "protocol: TCP\n",
                          CANONICAL_PORT, b->port);
        if (b->metrics_port != METRICS_PORT)
            mb_buf_printf(&t,
                          "            # observability.metrics.port of the profile\n"
                          "            - containerPort: %d\n              protocol: TCP\n          "
                          "    $patch: delete\n"
                          "            - name: metrics\n              containerPort: %d\n          "
                          "    protocol: TCP\n",
                          METRICS_PORT, b->metrics_port);
    }
    mb_buf_printf(&t,
                  "          env:\n"
                  "            # REPLACE: the public host name clients use "
                  "(runtime.server.transport.allowed_hosts)\n"
                  "            - name: %s\n              value: mcp.example.com\n",
                  PUBLIC_HOST_VAR);
    if (!b->redis)
        mb_buf_printf(&t,
                      "            # The profile has no runtime.redis: no Redis URL in the Secret\n"
                      "            - name: MCPBRIDGE_REDIS_URL\n              $patch: delete\n");
    for (size_t i = 0; i < b->secret_count; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof canonical_env / sizeof canonical_env[0]; k++)
            known = known || strcmp(b->secrets[i].env, canonical_env[k]) == 0;
        if (!known)
            mb_buf_printf(
                &t,
                "            - name: %s\n              valueFrom:\n                secretKeyRef:\n"
                "                  name: mcpbridge-secrets\n                  key: %s\n",
                b->secrets[i].env, b->secrets[i].key);
    }
    if (b->tls) {
        mb_buf_printf(&t, "            - name: %s\n              value: %s\n", TLS_DIR_VAR,
                      K8S_TLS_DIR);
        mb_buf_printf(
            &t,
            "          volumeMounts:\n            - name: tls\n              mountPath: %s\n"
            "              readOnly: true\n",
            K8S_TLS_DIR);
        /* Probes: HTTPS with TLS; with mTLS the handshake needs a client certificate the kubelet
         * does not have, so the probes only check that the port accepts connections. */
        static const char *const probes[] = {"startupProbe", "livenessProbe", "readinessProbe"};
        for (size_t i = 0; i < 3; i++) {
            if (b->mtls)
                mb_buf_printf(&t,
                              "          %s:\n            httpGet: null\n            tcpSocket:\n"
                              "              port: mcp\n",
                              probes[i]);
            else
                mb_buf_printf(&t,
                              "          %s:\n            httpGet:\n              scheme: HTTPS\n",
                              probes[i]);
        }
        mb_buf_printf(&t, "      # The key is readable by the pod's group (runAsGroup of "
                          "kubernetes/base), not by others.\n"
                          "      securityContext:\n        fsGroup: 10001\n"
                          "      volumes:\n        - name: tls\n          secret:\n            "
                          "secretName: mcpbridge-tls\n"
                          "            defaultMode: 0440\n");
    }
    int rc =
        emit_buf(b, "kubernetes/deployment-patch.yaml", &t, 0644,
                 "the overlay's patch of the Deployment: ports, environment, TLS secret and probes",
                 err, errlen);
    mb_buf_dispose(&t);
    return rc;
}

static int write_kustomization(struct bundle *b, char *err, size_t errlen)
{
    struct mb_buf t;
    mb_buf_init(&t, 64 * 1024);
    mb_buf_printf(
        &t,
        "# mcpbridge for profile \"%s\" on Kubernetes (made by mcpbridge export):\n"
        "#   kubectl apply -k .          (render only: kubectl kustomize .)\n"
        "# kubernetes/base is deploy/kubernetes as shipped; this overlay replaces its ConfigMap "
        "with the\n"
        "# profile's configuration and its example Secret with kubernetes/secrets.env, and patches "
        "the\n"
        "# Deployment (kubernetes/deployment-patch.yaml). Set the image in "
        "kubernetes/base/kustomization.yaml\n"
        "# or with an images: entry here.\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - kubernetes/base\n"
        "configMapGenerator:\n  - name: mcpbridge-config\n    behavior: replace\n    files:\n"
        "      - config.yaml=kubernetes/config.yaml\n      - %s=config/%s\n"
        "      - service-account.pub.pem=config/service-account.pub.pem\n"
        "secretGenerator:\n  - name: mcpbridge-secrets\n    behavior: replace\n    envs:\n"
        "      # Made from kubernetes/secrets.env.example, or written by export --with-secrets\n"
        "      - kubernetes/secrets.env\n",
        b->p->name, b->spec_name, b->spec_name);
    if (b->tls) {
        mb_buf_printf(
            &t,
            "  # The server certificate (tls/ comes from export --with-certs, or put yours there)\n"
            "  - name: mcpbridge-tls\n    files:\n      - server.crt=tls/server.crt\n"
            "      - server.key=tls/server.key\n");
        if (b->mtls)
            mb_buf_printf(&t, "      - ca.crt=tls/ca.crt\n");
    }
    mb_buf_printf(&t, "patches:\n  - path: kubernetes/deployment-patch.yaml\n");
    int rc = emit_buf(b, "kustomization.yaml", &t, 0644,
                      "the Kubernetes overlay: kubectl apply -k <bundle directory>", err, errlen);
    mb_buf_dispose(&t);
    return rc;
}

/* ---- files from the profile ---- */

static int write_profile_files(struct bundle *b, char *err, size_t errlen)
{
    char purpose[256];
    snprintf(purpose, sizeof purpose,
             "the OpenAPI document (/etc/mcpbridge/%s, the ConfigMap's %s)", b->spec_name,
             b->spec_name);
    char rel[64];
    snprintf(rel, sizeof rel, "config/%s", b->spec_name);
    if (copy_in(b, b->p->cfg->spec_file, rel, 0644, purpose, err, errlen) != 0)
        return -1;
    char *pem = mb_pki_public_key_pem(b->p->public_key, err, errlen);
    int rc =
        pem ? emit(b, "config/service-account.pub.pem", pem, strlen(pem), 0644,
                   "the profile's service-account public key: verifies the tokens sa-token mints",
                   err, errlen)
            : -1;
    free(pem);
    if (rc != 0 || !b->o->with_certs)
        return rc;
    if (!b->tls) {
        note(b, "--with-certs: the profile has no TLS (init --tls), so there are no certificates "
                "to copy.");
        return 0;
    }
    if (make_dir(b, "tls", 0700, err, errlen) != 0)
        return -1;
    const struct mb_config *cfg = b->p->cfg;
    if (copy_in(b, cfg->tls_certfile, "tls/server.crt", 0644,
                "the profile's server certificate (development CA; use a real one in production)",
                err, errlen) != 0 ||
        copy_in(b, cfg->tls_keyfile, "tls/server.key", 0600, "the server certificate's private key",
                err, errlen) != 0)
        return -1;
    if (cfg->tls_client_cafile &&
        copy_in(b, cfg->tls_client_cafile, "tls/ca.crt", 0644,
                "the CA client certificates must be signed by (mTLS)", err, errlen) != 0)
        return -1;
    return 0;
}

/* ---- README.txt and MANIFEST.txt ---- */

static int write_readme(struct bundle *b, char *err, size_t errlen)
{
    struct mb_buf t;
    mb_buf_init(&t, 128 * 1024);
    mb_buf_printf(&t,
                  "mcpbridge production bundle for profile \"%s\"\n"
                  "=============================================\n\n"
                  "Made by `mcpbridge export` from %s. MANIFEST.txt lists every file.\n"
                  "docs/deployment.md (mcpbridge tree) explains the choices of the unit and the "
                  "manifests.\n\n",
                  b->p->name, b->p->dir);
    mb_buf_printf(
        &t,
        "BEFORE ANY DEPLOYMENT\n\n"
        "  1. Secrets: %s\n"
        "  2. The public host name: %s (env file, Deployment patch) and, if clients use more\n"
        "     names, runtime.server.transport.allowed_hosts in config/config.yaml and "
        "kubernetes/config.yaml.\n"
        "  3. Tokens: clients authenticate with service-account tokens minted from the profile:\n"
        "       mcpbridge sa-token mint --profile %s --name NAME\n"
        "     The signing key stays with the profile and is not in this bundle.\n",
        b->o->with_secrets
            ? "the env files hold the profile's values (mode 0600); keep them private."
            : "copy each *.example to the name without .example and replace REPLACE-ME.",
        PUBLIC_HOST_VAR, b->p->dir);
    if (b->tls)
        mb_buf_printf(
            &t, "  4. TLS: %s\n",
            b->o->with_certs
                ? "tls/ holds the profile's development certificate; replace it with a real "
                  "one for production."
                : "put server.crt and server.key (and ca.crt for mTLS) into tls/.");
    mb_buf_printf(
        &t,
        "\nSINGLE HOST (systemd)\n\n"
        "  install -m 0755 mcpbridge /usr/local/bin/mcpbridge\n"
        "  install -d -m 0755 /etc/mcpbridge\n"
        "  install -m 0644 config/config.yaml config/%s config/service-account.pub.pem "
        "/etc/mcpbridge/\n"
        "  install -m 0600 -o root -g root config/mcpbridge.env /etc/mcpbridge/mcpbridge.env\n",
        b->spec_name);
    if (b->tls)
        mb_buf_printf(&t, "  install -d -m 0700 /etc/mcpbridge/tls && install -m 0600 tls/* "
                          "/etc/mcpbridge/tls/\n");
    mb_buf_printf(&t,
                  "  install -m 0644 systemd/mcpbridge.service /etc/systemd/system/\n"
                  "  install -D -m 0644 systemd/mcpbridge.service.d/profile.conf "
                  "/etc/systemd/system/mcpbridge.service.d/profile.conf\n"
                  "  systemctl daemon-reload && systemctl enable --now mcpbridge\n\n"
                  "CONTAINER (Docker)\n\n"
                  "  docker build -t mcpbridge:%s -f docker/Dockerfile <mcpbridge source tree>\n"
                  "  docker run --rm -p %d:%d -p %d:%d -v \"$PWD/config:/etc/mcpbridge:ro\" \\\n"
                  "    --env-file config/mcpbridge.env",
                  MB_VERSION, b->port, b->port, b->metrics_port, b->metrics_port);
    if (b->tls)
        mb_buf_printf(&t, " -v \"$PWD/tls:%s:ro\" -e %s=%s", K8S_TLS_DIR, TLS_DIR_VAR, K8S_TLS_DIR);
    mb_buf_printf(&t, " mcpbridge:%s\n", MB_VERSION);
    if (b->tls)
        mb_buf_printf(
            &t, "  (the container runs as uid 10001: tls/server.key must be readable by it)\n");
    mb_buf_printf(
        &t,
        "\nKUBERNETES\n\n"
        "  kubectl kustomize .     # render and review\n"
        "  kubectl apply -k .\n"
        "  kubernetes/base is deploy/kubernetes unchanged; kustomization.yaml (here) replaces the\n"
        "  ConfigMap with kubernetes/config.yaml (the configuration plus the Service's host names) "
        "and\n"
        "  the spec, the Secret with kubernetes/secrets.env, and patches the Deployment.\n"
        "  The image: set its registry in kubernetes/base/kustomization.yaml (images).\n");
    mb_buf_printf(&t,
                  "\nCHECK THE CONFIGURATION\n\n"
                  "  set -a; . config/mcpbridge.env; set +a%s\n"
                  "  mcpbridge check --config config/config.yaml\n",
                  b->tls ? "; export " TLS_DIR_VAR "=$PWD/tls" : "");
    if (b->notes[0])
        mb_buf_printf(&t, "\nBY HAND\n\n%s", b->notes);
    int rc = emit_buf(b, "README.txt", &t, 0644,
                      "how to deploy this bundle (systemd, Docker, Kubernetes)", err, errlen);
    mb_buf_dispose(&t);
    return rc;
}

static int write_manifest(struct bundle *b, char *err, size_t errlen)
{
    char created[32];
    mb_profile_format_time(time(NULL), created, sizeof created);
    struct mb_buf t;
    mb_buf_init(&t, 128 * 1024);
    mb_buf_printf(&t,
                  "# mcpbridge production bundle for profile \"%s\" (%s), made by mcpbridge export "
                  "%s on %s.\n"
                  "# Every file of the bundle: path, mode, purpose.\n",
                  b->p->name, b->p->dir, MB_VERSION, created);
    mb_buf_printf(&t, "%-44s %04o  %s\n", "MANIFEST.txt", 0644, "this list");
    for (size_t i = 0; i < b->entry_count; i++)
        mb_buf_printf(&t, "%-44s %04o  %s\n", b->entries[i].path, (unsigned)b->entries[i].mode,
                      b->entries[i].purpose);
    char *path = mb_profile_join(b->out, "MANIFEST.txt");
    int rc = -1;
    if (!path || !t.data || t.len + 1 >= t.max)
        snprintf(err, errlen, "out of memory writing MANIFEST.txt");
    else
        rc = mb_profile_write_file(path, t.data, t.len, 0644, err, errlen);
    free(path);
    mb_buf_dispose(&t);
    return rc;
}

/* ---- the command ---- */

static int check_out_dir(const char *out, char *err, size_t errlen)
{
    struct stat st;
    if (stat(out, &st) != 0)
        return 0;
    DIR *d = S_ISDIR(st.st_mode) ? opendir(out) : NULL;
    bool empty = d != NULL;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    if (d)
        closedir(d);
    if (!empty)
        snprintf(
            err, errlen,
            "%s exists and is not an empty directory; export writes only into a new or empty one "
            "(remove it or choose another --out)",
            out);
    return empty ? 0 : -1;
}

static int write_bundle(struct bundle *b, char *err, size_t errlen)
{
    static const char *const dirs[] = {
        "config",     "systemd",         "systemd/mcpbridge.service.d",
        "kubernetes", "kubernetes/base", "docker"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (make_dir(b, dirs[i], 0755, err, errlen) != 0)
            return -1;
    char from[PATH_MAX + 32];
    snprintf(from, sizeof from, "%s/Dockerfile", b->home);
    if (build_configs(b, err, errlen) != 0 || write_profile_files(b, err, errlen) != 0 ||
        write_config(b, b->config, "config/config.yaml", "",
                     "the production configuration (/etc/mcpbridge/config.yaml)", err,
                     errlen) != 0 ||
        write_env_files(b, err, errlen) != 0 || write_systemd(b, err, errlen) != 0 ||
        copy_kubernetes_base(b, err, errlen) != 0 ||
        write_config(b, b->k8s_config, "kubernetes/config.yaml", " (Kubernetes)",
                     "the ConfigMap's config.yaml: config/config.yaml plus the Service's and the "
                     "pod's host names",
                     err, errlen) != 0 ||
        write_deployment_patch(b, err, errlen) != 0 || write_kustomization(b, err, errlen) != 0 ||
        copy_in(b, from, "docker/Dockerfile", 0644,
                "the image as shipped (Dockerfile of the mcpbridge tree; build it from that tree)",
                err, errlen) != 0 ||
        write_readme(b, err, errlen) != 0 || write_manifest(b, err, errlen) != 0)
        return -1;
    return 0;
}

int mb_cli_export(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    char err[1024] = "";
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct bundle *b = calloc(1, sizeof *b);
    if (!b) {
        fprintf(stderr, "mcpbridge export: out of memory\n");
        return 1;
    }
    b->o = &o;
    if (mb_profile_open(o.profile, &b->p, &diags, err, sizeof err) != 0) {
        mb_diags_print(&diags, stderr);
        goto done;
    }
    snprintf(b->spec_name, sizeof b->spec_name, "%s",
             json_string_value(json_object_get(b->p->meta, "spec_file")) ?: "openapi.yaml");
    if (strchr(b->spec_name, '/') || b->spec_name[0] == '.')
        snprintf(b->spec_name, sizeof b->spec_name, "openapi.yaml");
    if (find_templates(b, err, sizeof err) != 0 || check_out_dir(o.out, err, sizeof err) != 0 ||
        mb_profile_mkdir(o.out, 0755, err, sizeof err) != 0 || !realpath(o.out, b->out))
        goto done;
    if (write_bundle(b, err, sizeof err) != 0)
        goto done;
    printf("bundle for profile \"%s\" written to %s (%zu files, listed in MANIFEST.txt)\n",
           b->p->name, b->out, b->entry_count + 1);
    printf("  secrets: %s\n", o.with_secrets ? "the profile's values in config/mcpbridge.env and "
                                               "kubernetes/secrets.env (0600)"
                                             : "examples with " PLACEHOLDER
                                               " (*.env.example): fill them in before "
                                               "deploying");
    if (b->tls)
        printf("  TLS: %s\n", o.with_certs
                                  ? "the profile's development certificate in tls/"
                                  : "put server.crt and server.key (mTLS: ca.crt) into tls/");
    if (b->notes[0])
        printf("  by hand:\n%s", b->notes);
    printf("  next: read %s/README.txt\n", b->out);
    rc = 0;
done:
    if (rc != 0 && err[0])
        fprintf(stderr, "mcpbridge export: %s\n", err);
    for (size_t i = 0; i < b->secret_count; i++)
        mb_pki_free_secret(b->secrets[i].value);
    json_decref(b->config);
    json_decref(b->k8s_config);
    mb_profile_close(b->p);
    free(b);
    mb_diags_dispose(&diags);
    return rc;
}
