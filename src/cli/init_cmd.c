/* `mcpbridge init`: makes a ready-to-serve profile (layout in profile.h) from an OpenAPI spec and
 * proves it works with a smoke check (init_smoke.h). The generated config.yaml is safe by
 * default: loopback only, read-only tools (GET/HEAD), the response guard trimming, every request
 * authenticated with a service-account token (EdDSA, verified with the profile's public key),
 * one scope required for every tool, rate limiting on, a fixed session secret. The secret is
 * written into config.yaml, which is therefore mode 0600; `mcpbridge export` moves it into an
 * environment variable for production. Nothing is written before the spec has been read and
 * converted, and an existing profile is only replaced with --force. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/init_smoke.h"
#include "cli/pki.h"
#include "cli/profile.h"
#include "cli/profile_yaml.h"
#include "common/buf.h"
#include "common/diag.h"
#include "mcp/mcp_server.h"
#include "openapi/catalog.h"

#define DEFAULT_DIR  "mcpbridge-profile"
#define DEFAULT_PORT 8500
#define SPEC_MAX     (64u * 1024u * 1024u)
#define CA_DAYS      825
#define LEAF_DAYS    365

struct options {
    const char *spec;
    const char *dir;
    const char *base_url;
    int port;
    bool tls, mtls, force, smoke;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge init --spec FILE [--dir DIR] [--tls] [--mtls] [--port N] [--base-url "
        "URL]\n"
        "                      [--force] [--no-smoke]\n"
        "  Makes a ready profile in DIR (default ./" DEFAULT_DIR
        "): config.yaml with safe defaults\n"
        "  (127.0.0.1, read-only GET/HEAD tools, response guard trimming, service-account tokens\n"
        "  required, scope " MB_PROFILE_DEFAULT_SCOPE
        " for every tool, rate limiting), the spec copied in,\n"
        "  an Ed25519 key pair and a token valid 30 days (sa-tokens/" MB_PROFILE_DEFAULT_ACCOUNT
        ".jwt),\n"
        "  README.txt; then a smoke check: serves the profile on a free port, lists the tools and\n"
        "  calls the first read-only one that needs no arguments.\n"
        "  --spec FILE      the OpenAPI 3.x document (JSON or YAML)\n"
        "  --dir DIR        where the profile goes; refused when it exists, unless --force\n"
        "  --tls            a development CA and a server certificate (127.0.0.1, localhost); "
        "HTTPS\n"
        "  --mtls           --tls plus a client certificate; the server requires one\n"
        "  --port N         the port config.yaml listens on (default %d; the smoke check uses a "
        "free one)\n"
        "  --base-url URL   the API's base URL (default: the spec's servers[0])\n"
        "  --force          replace the profile in DIR (keys and tokens are made anew)\n"
        "  --no-smoke       skip the smoke check\n"
        "exit status: 0 profile made (and smoke check passed), 1 failure, 2 usage\n",
        DEFAULT_PORT);
}

static const struct mb_cli_command command = {"init", usage};

/* Returns -1 to go on, or the exit code to return now. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"spec", required_argument, NULL, 's'}, {"dir", required_argument, NULL, 'd'},
        {"tls", no_argument, NULL, 't'},        {"mtls", no_argument, NULL, 'm'},
        {"port", required_argument, NULL, 'p'}, {"base-url", required_argument, NULL, 'b'},
        {"force", no_argument, NULL, 'f'},      {"no-smoke", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->dir = DEFAULT_DIR;
    o->port = DEFAULT_PORT;
    o->smoke = true;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":s:d:tmp:b:fnh", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->spec = optarg;
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 't':
            o->tls = true;
            break;
        case 'm':
            o->tls = o->mtls = true;
            break;
        case 'b':
            o->base_url = optarg;
            break;
        case 'f':
            o->force = true;
            break;
        case 'n':
            o->smoke = false;
            break;
        case 'p': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 65535) {
                fprintf(stderr, "mcpbridge init: --port '%s': expected a number from 1 to 65535\n",
                        optarg);
                return 2;
            }
            o->port = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            return mb_cli_option_error(&command, c, argv);
        }
    }
    if (optind < argc)
        return mb_cli_unexpected_argument(&command, argv[optind]);
    if (!o->spec)
        return mb_cli_usage_error(&command,
                                  "--spec FILE is required (the OpenAPI document to serve)");
    if (o->base_url && strncmp(o->base_url, "http://", 7) != 0 &&
        strncmp(o->base_url, "https://", 8) != 0) {
        fprintf(
            stderr,
            "mcpbridge init: --base-url '%s': expected http://HOST[:PORT][/PATH] or https://...\n",
            o->base_url);
        return 2;
    }
    return -1;
}

/* ---- the directory ---- */

enum dir_state { DIR_MISSING, DIR_EMPTY, DIR_PROFILE, DIR_OTHER, DIR_NOT_A_DIR };

static enum dir_state dir_state(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return DIR_MISSING;
    if (!S_ISDIR(st.st_mode))
        return DIR_NOT_A_DIR;
    if (mb_profile_exists(path))
        return DIR_PROFILE;
    DIR *d = opendir(path);
    struct dirent *e;
    enum dir_state state = DIR_EMPTY;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            state = DIR_OTHER;
    if (d)
        closedir(d);
    return state;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Removes what a profile consists of (and nothing else a user may have put beside it). */
static int clear_profile(const char *dir, char *err, size_t errlen)
{
    static const char *const files[] = {MB_PROFILE_CONFIG,
                                        MB_PROFILE_META,
                                        MB_PROFILE_README,
                                        MB_PROFILE_SMOKE_LOG,
                                        "openapi.yaml",
                                        "openapi.json",
                                        NULL};
    static const char *const trees[] = {MB_PROFILE_KEYS_DIR, MB_PROFILE_TOKENS_DIR,
                                        MB_PROFILE_TLS_DIR, NULL};
    int rc = 0;
    for (size_t i = 0; files[i] && rc == 0; i++) {
        char *path = mb_profile_join(dir, files[i]);
        if (!path || (unlink(path) != 0 && errno != ENOENT)) {
            snprintf(err, errlen, "cannot remove %s: %s", path ? path : files[i], strerror(errno));
            rc = -1;
        }
        free(path);
    }
    for (size_t i = 0; trees[i] && rc == 0; i++) {
        char *path = mb_profile_join(dir, trees[i]);
        struct stat st;
        if (!path ||
            (stat(path, &st) == 0 && nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)) {
            snprintf(err, errlen, "cannot remove %s: %s", path ? path : trees[i], strerror(errno));
            rc = -1;
        }
        free(path);
    }
    return rc;
}

/* Checks that dir may receive a new profile and empties the old one with --force. */
static int prepare_dir(const struct options *o, char *err, size_t errlen)
{
    switch (dir_state(o->dir)) {
    case DIR_MISSING:
    case DIR_EMPTY:
        return 0;
    case DIR_NOT_A_DIR:
        snprintf(err, errlen, "%s exists and is not a directory: choose another --dir", o->dir);
        return -1;
    case DIR_OTHER:
        snprintf(err, errlen,
                 "%s is not empty and is not an mcpbridge profile; init writes only into a new or "
                 "empty directory or over a profile (--force): choose another --dir",
                 o->dir);
        return -1;
    case DIR_PROFILE:
        if (!o->force) {
            snprintf(
                err, errlen,
                "%s already holds a profile; refusing to overwrite it. Use --force to replace it "
                "(its keys and tokens are made anew), or choose another --dir",
                o->dir);
            return -1;
        }
        return clear_profile(o->dir, err, errlen);
    }
    return 0;
}

/* ---- what is generated ---- */

struct generated {
    char dir[PATH_MAX]; /* absolute */
    char name[65];
    char spec_file[16]; /* "openapi.yaml" or "openapi.json" */
    char issuer[128], audience[128];
    char secret[65]; /* the session secret, hex */
    size_t tool_count;
    char *spec_text; /* the spec's bytes, read before anything is written */
    size_t spec_len;
};

/* The profile's name: the directory's base name, reduced to [A-Za-z0-9._-]. */
static void profile_name(const char *dir, char *out, size_t cap)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", dir);
    const char *base = basename(copy);
    size_t n = 0;
    for (const char *c = base; *c && n + 1 < cap; c++)
        out[n++] = (isalnum((unsigned char)*c) || strchr("._-", *c)) ? *c : '-';
    out[n] = '\0';
    if (n == 0 || out[0] == '.')
        snprintf(out, cap, "profile");
}

/* Writes rel inside the profile. */
static int write_in(const struct generated *g, const char *rel, const char *text, mode_t mode,
                    char *err, size_t errlen)
{
    char *path = mb_profile_join(g->dir, rel);
    int rc = path ? mb_profile_write_file(path, text, strlen(text), mode, err, errlen) : -1;
    if (!path)
        snprintf(err, errlen, "out of memory");
    free(path);
    return rc;
}

static int make_dirs(const struct options *o, struct generated *g, char *err, size_t errlen)
{
    if (mb_profile_mkdir(o->dir, 0700, err, errlen) != 0 || !realpath(o->dir, g->dir)) {
        if (!err[0])
            snprintf(err, errlen, "cannot resolve %s: %s", o->dir, strerror(errno));
        return -1;
    }
    const char *subdirs[] = {MB_PROFILE_KEYS_DIR, MB_PROFILE_RETIRED_DIR, MB_PROFILE_TOKENS_DIR,
                             o->tls ? MB_PROFILE_TLS_DIR : NULL};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0] && subdirs[i]; i++) {
        char *path = mb_profile_join(g->dir, subdirs[i]);
        int rc = path ? mb_profile_mkdir(path, 0700, err, errlen) : -1;
        free(path);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Writes the spec read at the start (before --force could remove a spec kept in the profile). */
static int copy_spec(const struct options *o, struct generated *g, char *err, size_t errlen)
{
    size_t len = strlen(o->spec);
    bool json = len > 5 && strcmp(o->spec + len - 5, ".json") == 0;
    snprintf(g->spec_file, sizeof g->spec_file, "%s", json ? "openapi.json" : "openapi.yaml");
    char *path = mb_profile_join(g->dir, g->spec_file);
    int rc = path ? mb_profile_write_file(path, g->spec_text, g->spec_len, 0644, err, errlen) : -1;
    if (!path)
        snprintf(err, errlen, "out of memory");
    free(path);
    return rc;
}

static int make_service_account_keys(struct generated *g, char *err, size_t errlen)
{
    EVP_PKEY *key = mb_pki_ed25519_generate(err, errlen);
    char *private_pem = key ? mb_pki_private_key_pem(key, err, errlen) : NULL;
    char *public_pem = private_pem ? mb_pki_public_key_pem(key, err, errlen) : NULL;
    int rc = public_pem &&
                     write_in(g, MB_PROFILE_SA_PRIVATE, private_pem, 0600, err, errlen) == 0 &&
                     write_in(g, MB_PROFILE_SA_PUBLIC, public_pem, 0644, err, errlen) == 0
                 ? 0
                 : -1;
    mb_pki_free_secret(private_pem);
    free(public_pem);
    EVP_PKEY_free(key);
    return rc;
}

/* Writes a certificate and its key (0600). */
static int write_pair(const struct generated *g, const char *cert_rel, X509 *cert,
                      const char *key_rel, EVP_PKEY *key, char *err, size_t errlen)
{
    char *cert_pem = mb_pki_cert_pem(cert, err, errlen);
    char *key_pem = cert_pem ? mb_pki_private_key_pem(key, err, errlen) : NULL;
    int rc = key_pem && write_in(g, cert_rel, cert_pem, 0644, err, errlen) == 0 &&
                     write_in(g, key_rel, key_pem, 0600, err, errlen) == 0
                 ? 0
                 : -1;
    free(cert_pem);
    mb_pki_free_secret(key_pem);
    return rc;
}

static int make_certificates(const struct options *o, const struct generated *g, char *err,
                             size_t errlen)
{
    static const char *const dns[] = {"localhost", NULL};
    static const char *const ips[] = {"127.0.0.1", NULL};
    char ca_name[160], client_name[160];
    snprintf(ca_name, sizeof ca_name, "mcpbridge development CA (%s)", g->name);
    snprintf(client_name, sizeof client_name, "%s-client", g->name);
    struct mb_pki_cert_request ca_req = {MB_PKI_CERT_CA, ca_name, "mcpbridge development",
                                         CA_DAYS,        NULL,    NULL};
    struct mb_pki_cert_request server_req = {
        MB_PKI_CERT_SERVER, "localhost", "mcpbridge development", LEAF_DAYS, dns, ips};
    struct mb_pki_cert_request client_req = {
        MB_PKI_CERT_CLIENT, client_name, "mcpbridge development", LEAF_DAYS, NULL, NULL};
    EVP_PKEY *ca_key = NULL, *server_key = NULL, *client_key = NULL;
    X509 *ca = NULL, *server = NULL, *client = NULL;
    int rc = -1;
    if (!(ca_key = mb_pki_ec_generate(err, errlen)) ||
        !(ca = mb_pki_issue_cert(&ca_req, ca_key, NULL, NULL, err, errlen)) ||
        !(server_key = mb_pki_ec_generate(err, errlen)) ||
        !(server = mb_pki_issue_cert(&server_req, server_key, ca, ca_key, err, errlen)) ||
        write_pair(g, MB_PROFILE_CA_CERT, ca, MB_PROFILE_CA_KEY, ca_key, err, errlen) != 0 ||
        write_pair(g, MB_PROFILE_SERVER_CERT, server, MB_PROFILE_SERVER_KEY, server_key, err,
                   errlen) != 0)
        goto done;
    if (o->mtls &&
        (!(client_key = mb_pki_ec_generate(err, errlen)) ||
         !(client = mb_pki_issue_cert(&client_req, client_key, ca, ca_key, err, errlen)) ||
         write_pair(g, MB_PROFILE_CLIENT_CERT, client, MB_PROFILE_CLIENT_KEY, client_key, err,
                    errlen) != 0))
        goto done;
    rc = 0;
done:
    X509_free(ca);
    X509_free(server);
    X509_free(client);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
    return rc;
}

/* ---- config.yaml ---- */

static const struct mb_yaml_comment config_comments[] = {
    {"/api/openapi/spec_file",
     "The OpenAPI document, copied into the profile (relative paths are read from this "
     "directory)."},
    {"/api/openapi/base_url", "Where tool calls go."},
    {"/api/routes",
     "Read-only: only GET and HEAD operations become tools. To expose a write operation on\n"
     "purpose, add a rule above the EXCLUDE one, e.g.\n"
     "  - {pattern: \"^/orders$\", methods: [POST], mcp_type: TOOL}"},
    {"/runtime/server/transport/host",
     "Loopback only. `mcpbridge export` makes a production configuration that "
     "binds 0.0.0.0."},
    {"/runtime/server/transport/tls",
     "Development certificates made by mcpbridge init; clients trust tls/ca.crt."},
    {"/runtime/server/transport/tls/require_client_cert",
     "mTLS: clients present a certificate signed by tls/ca.crt (tls/client.crt, tls/client.key)."},
    {"/runtime/server/session/secret",
     "Signs session ids (generated, 64 hex digits). Because of it this file is mode 0600;\n"
     "`mcpbridge export` moves it into the MCPBRIDGE_SESSION_SECRET environment variable."},
    {"/runtime/http/response_guard",
     "Oversized API answers are trimmed (marked, with paging advice) instead of "
     "filling the model's context."},
    {"/runtime/middleware/request_timeout",
     "The longest a tool call may take, the API's answer included."},
    {"/runtime/middleware/rate_limiting",
     "Per service account: 10 calls per second on average, bursts of 20."},
    {"/security/authentication/service_account",
     "Every request carries a service-account token: \"Authorization: Bearer <token>\". Tokens "
     "are\n"
     "EdDSA JWTs signed by keys/service-account.key.pem and verified with public_key below.\n"
     "Mint more with: mcpbridge sa-token mint --profile DIR --name NAME"},
    {"/security/authentication/service_account/issuer",
     "Tokens must carry exactly this iss and aud; mcpbridge sa-token reads them from here."},
    {"/security/authentication/service_account/leeway_seconds",
     "Clock skew accepted on exp, nbf and iat."},
    {"/security/authorization/tools", "The scopes a token needs, per tool; \"default\" applies to "
                                      "every tool without an entry of its own."},
};

static json_t *build_config(const struct options *o, const struct generated *g)
{
    json_t *openapi = json_pack("{s:s}", "spec_file", g->spec_file);
    if (o->base_url)
        json_object_set_new(openapi, "base_url", json_string(o->base_url));
    json_t *routes = json_pack("{s:[{s:s,s:[s,s],s:s},{s:s,s:s}]}", "maps", "comment",
                               "read-only: GET and HEAD operations become tools", "methods", "GET",
                               "HEAD", "mcp_type", "TOOL", "comment",
                               "every other operation stays out", "mcp_type", "EXCLUDE");
    json_t *transport = json_pack("{s:s,s:s,s:i,s:s}", "type", "streamable-http", "host",
                                  "127.0.0.1", "port", o->port, "path", "/mcp");
    if (o->tls) {
        json_t *tls = json_pack("{s:s,s:s}", "certfile", MB_PROFILE_SERVER_CERT, "keyfile",
                                MB_PROFILE_SERVER_KEY);
        if (o->mtls) {
            json_object_set_new(tls, "client_cafile", json_string(MB_PROFILE_CA_CERT));
            json_object_set_new(tls, "require_client_cert", json_true());
        }
        json_object_set_new(transport, "tls", tls);
    }
    json_t *server =
        json_pack("{s:o,s:{s:s}}", "transport", transport, "session", "secret", g->secret);
    json_t *guard = json_pack("{s:b,s:s,s:i,s:i}", "enabled", 1, "mode", "trim", "max_array_items",
                              50, "max_response_bytes", 1048576);
    json_t *middleware = json_pack("{s:{s:b,s:i},s:{s:b,s:f,s:i},s:{s:b}}", "request_timeout",
                                   "enabled", 1, "timeout_ms", 10000, "rate_limiting", "enabled", 1,
                                   "max_rps", 10.0, "burst", 20, "logging", "include_payloads", 0);
    json_t *runtime = json_pack("{s:o,s:i,s:{s:o},s:o}", "server", server, "max_request_bytes",
                                10240, "http", "response_guard", guard, "middleware", middleware);
    json_t *service_account =
        json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:i,s:[s]}", "enabled", 1, "mode", "token",
                  "header", "Authorization", "prefix", "Bearer", "public_key", MB_PROFILE_SA_PUBLIC,
                  "issuer", g->issuer, "audience", g->audience, "algorithms", "EdDSA",
                  "leeway_seconds", 60, "advertised_scopes", MB_PROFILE_DEFAULT_SCOPE);
    json_t *security =
        json_pack("{s:{s:b,s:o},s:{s:{s:[s]}}}", "authentication", "enabled", 1, "service_account",
                  service_account, "authorization", "tools", "default", MB_PROFILE_DEFAULT_SCOPE);
    return json_pack("{s:{s:o,s:o},s:o,s:o,s:{s:{s:s}}}", "api", "openapi", openapi, "routes",
                     routes, "runtime", runtime, "security", security, "observability", "logging",
                     "level", "INFO");
}

static int write_config(const struct options *o, const struct generated *g, char *err,
                        size_t errlen)
{
    json_t *config = build_config(o, g);
    char header[PATH_MAX + 512], created[32];
    mb_profile_format_time(time(NULL), created, sizeof created);
    snprintf(header, sizeof header,
             "mcpbridge profile \"%s\", made by `mcpbridge init` on %s.\n"
             "Start: mcpbridge serve --config %s/%s\n"
             "Every key: docs/configuration.md. Validate after editing: mcpbridge check --config "
             "<this file>",
             g->name, created, g->dir, MB_PROFILE_CONFIG);
    struct mb_buf out;
    mb_buf_init(&out, 1024 * 1024);
    int rc = -1;
    if (!config || mb_yaml_emit(config, header, config_comments,
                                sizeof config_comments / sizeof config_comments[0], &out) != 0)
        snprintf(err, errlen, "out of memory");
    else
        rc = write_in(g, MB_PROFILE_CONFIG, out.data, 0600, err, errlen);
    explicit_bzero(out.data, out.len); /* it holds the session secret */
    mb_buf_dispose(&out);
    json_decref(config);
    return rc;
}

static int write_meta(const struct options *o, const struct generated *g, char *err, size_t errlen)
{
    char created[32], source[PATH_MAX];
    mb_profile_format_time(time(NULL), created, sizeof created);
    if (!realpath(o->spec, source))
        snprintf(source, sizeof source, "%s", o->spec);
    json_t *meta = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:b,s:b,s:s,s:s}", "format", 1, "name", g->name, "created",
        created, "created_by", "mcpbridge " MB_VERSION, "spec_file", g->spec_file, "spec_source",
        source, "port", o->port, "tls", o->tls, "mtls", o->mtls, "default_scope",
        MB_PROFILE_DEFAULT_SCOPE, "default_account", MB_PROFILE_DEFAULT_ACCOUNT);
    char *text = meta ? json_dumps(meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    int rc = -1;
    if (!text)
        snprintf(err, errlen, "out of memory");
    else
        rc = write_in(g, MB_PROFILE_META, text, 0644, err, errlen);
    free(text);
    json_decref(meta);
    return rc;
}

/* Mints the default account's token into the freshly made profile. */
static int mint_default(const struct generated *g, char *err, size_t errlen)
{
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_profile *p = NULL;
    EVP_PKEY *key = NULL;
    json_t *index = NULL, *scopes = json_pack("[s]", MB_PROFILE_DEFAULT_SCOPE);
    int rc = -1;
    if (mb_profile_open(g->dir, &p, &diags, err, errlen) != 0) {
        mb_diags_print(&diags,
                       stderr); /* a config init wrote and the loader refuses: a bug, say what */
        goto done;
    }
    struct mb_token_request req = {MB_PROFILE_DEFAULT_ACCOUNT, scopes, MB_PROFILE_DEFAULT_LIFETIME,
                                   NULL, NULL};
    if (!(key = mb_profile_load_private_key(p, err, errlen)) ||
        !(index = mb_profile_load_index(p, err, errlen)) ||
        !mb_profile_mint(p, key, index, &req, err, errlen) ||
        mb_profile_save_index(p, index, err, errlen) != 0)
        goto done;
    rc = 0;
done:
    json_decref(scopes);
    json_decref(index);
    EVP_PKEY_free(key);
    mb_profile_close(p);
    mb_diags_dispose(&diags);
    return rc;
}

static int write_readme(const struct options *o, const struct generated *g, char *err,
                        size_t errlen)
{
    const char *scheme = o->tls ? "https" : "http";
    char tls_args[PATH_MAX * 3 + 64] = "";
    if (o->tls)
        snprintf(tls_args, sizeof tls_args, " --cacert %s/%s", g->dir, MB_PROFILE_CA_CERT);
    if (o->mtls)
        snprintf(tls_args + strlen(tls_args), sizeof tls_args - strlen(tls_args),
                 " \\\n      --cert %s/%s --key %s/%s", g->dir, MB_PROFILE_CLIENT_CERT, g->dir,
                 MB_PROFILE_CLIENT_KEY);
    struct mb_buf t;
    mb_buf_init(&t, 64 * 1024);
    mb_buf_printf(
        &t,
        "mcpbridge profile \"%s\"\n"
        "==========================\n\n"
        "Made by `mcpbridge init` from %s (%zu read-only tools).\n\n"
        "START THE SERVER\n\n"
        "  mcpbridge serve --config %s/%s\n\n"
        "  It listens on %s://127.0.0.1:%d/mcp (MCP over Streamable HTTP). Ctrl-C or SIGTERM "
        "stops\n"
        "  it; SIGHUP reloads config.yaml (and the public key) without dropping connections.\n\n",
        g->name, o->spec, g->tool_count, g->dir, MB_PROFILE_CONFIG, scheme, o->port);
    mb_buf_printf(
        &t,
        "CALL IT\n\n"
        "  Every request needs the service-account token:  Authorization: Bearer <token>\n"
        "  The token of the \"%s\" account is in %s/sa-tokens/%s.jwt (valid 30 days).\n\n"
        "  With curl (initialize; then send the Mcp-Session-Id it returns with tools/list, "
        "tools/call):\n"
        "    TOKEN=$(cat %s/sa-tokens/%s.jwt)\n"
        "    curl -si%s %s://127.0.0.1:%d/mcp \\\n"
        "      -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n"
        "      -H 'Accept: application/json, text/event-stream' \\\n"
        "      -d "
        "'{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
        "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"curl\",\"version\":\"1\"}}}'"
        "\n\n"
        "  Any MCP client that speaks Streamable HTTP works: give it the URL and the header "
        "above.\n",
        MB_PROFILE_DEFAULT_ACCOUNT, g->dir, MB_PROFILE_DEFAULT_ACCOUNT, g->dir,
        MB_PROFILE_DEFAULT_ACCOUNT, tls_args, scheme, o->port);
    if (o->tls)
        mb_buf_printf(
            &t,
            "  The server certificate is signed by a development CA: clients must trust %s/%s%s.\n",
            g->dir, MB_PROFILE_CA_CERT,
            o->mtls ? " and present tls/client.crt with tls/client.key (mTLS)" : "");
    mb_buf_printf(
        &t,
        "\nTOKENS\n\n"
        "  mcpbridge sa-token list --profile %s\n"
        "  mcpbridge sa-token mint --profile %s --name NAME [--scopes %s] [--lifetime 30d]\n"
        "  mcpbridge sa-token rotate --profile %s      (new key pair: existing tokens stop "
        "working)\n"
        "  mcpbridge sa-token remint-all --profile %s  (new tokens for every account, current "
        "key)\n\n"
        "PRODUCTION\n\n"
        "  mcpbridge export --profile %s --out BUNDLE_DIR\n"
        "  writes a production configuration (0.0.0.0, secrets in environment variables), a "
        "systemd\n"
        "  unit, Kubernetes manifests and a Dockerfile, with MANIFEST.txt saying what each file "
        "is.\n\n",
        g->dir, g->dir, MB_PROFILE_DEFAULT_SCOPE, g->dir, g->dir, g->dir);
    mb_buf_printf(
        &t,
        "FILES\n\n"
        "  profile.json                  what this profile is (read by sa-token and export)\n"
        "  config.yaml                   the server's configuration; mode 0600: it holds the "
        "session secret\n"
        "  %-29s the OpenAPI document\n"
        "  keys/service-account.key.pem  signs tokens (0600); keep it private, never deploy it\n"
        "  keys/service-account.pub.pem  verifies tokens (config.yaml's public_key)\n"
        "  keys/retired/                 public keys replaced by sa-token rotate\n"
        "  sa-tokens/NAME.jwt            minted tokens (0600); sa-tokens/index.json lists them\n",
        g->spec_file);
    if (o->tls)
        mb_buf_printf(
            &t,
            "  tls/ca.crt, tls/ca.key        the development CA (key 0600)\n"
            "  tls/server.crt, server.key    the server certificate for 127.0.0.1 and localhost\n");
    if (o->mtls)
        mb_buf_printf(&t, "  tls/client.crt, client.key    a client certificate for mTLS\n");
    mb_buf_printf(&t, "  smoke.log                     the server's log from init's smoke check\n");
    int rc = -1;
    if (!t.data || t.len + 1 >= t.max)
        snprintf(err, errlen, "out of memory");
    else
        rc = write_in(g, MB_PROFILE_README, t.data, 0644, err, errlen);
    mb_buf_dispose(&t);
    return rc;
}

static void print_summary(const struct options *o, const struct generated *g)
{
    printf("profile \"%s\" made in %s\n", g->name, g->dir);
    printf("  %-30s %s\n", MB_PROFILE_CONFIG,
           "the server's configuration (0600: holds the session secret)");
    printf("  %-30s the spec: %zu read-only tool%s\n", g->spec_file, g->tool_count,
           g->tool_count == 1 ? "" : "s");
    printf("  %-30s %s\n", MB_PROFILE_SA_PRIVATE, "signs service-account tokens (0600)");
    printf("  %-30s %s\n", MB_PROFILE_SA_PUBLIC, "verifies them (config.yaml's public_key)");
    printf("  sa-tokens/%-20s token of \"%s\", scope %s, valid 30d (0600)\n",
           MB_PROFILE_DEFAULT_ACCOUNT ".jwt", MB_PROFILE_DEFAULT_ACCOUNT, MB_PROFILE_DEFAULT_SCOPE);
    if (o->tls)
        printf("  %-30s %s\n", "tls/",
               o->mtls ? "development CA, server and client certificates (keys 0600)"
                       : "development CA and server certificate (keys 0600)");
    printf("  %-30s %s\n", MB_PROFILE_README, "how to start and call it");
    printf("start it with: mcpbridge serve --config %s/%s\n", g->dir, MB_PROFILE_CONFIG);
}

static int run_smoke(const struct options *o, const struct generated *g)
{
    char err[512];
    char *config = mb_profile_join(g->dir, MB_PROFILE_CONFIG);
    char *token_path =
        mb_profile_join(g->dir, MB_PROFILE_TOKENS_DIR "/" MB_PROFILE_DEFAULT_ACCOUNT ".jwt");
    char *log = mb_profile_join(g->dir, MB_PROFILE_SMOKE_LOG);
    char *ca = o->tls ? mb_profile_join(g->dir, MB_PROFILE_CA_CERT) : NULL;
    char *cert = o->mtls ? mb_profile_join(g->dir, MB_PROFILE_CLIENT_CERT) : NULL;
    char *key = o->mtls ? mb_profile_join(g->dir, MB_PROFILE_CLIENT_KEY) : NULL;
    size_t len = 0;
    char *token =
        token_path ? mb_profile_read_file(token_path, 64 * 1024, &len, err, sizeof err) : NULL;
    int rc = -1;
    if (!config || !log || !token || (o->tls && !ca) || (o->mtls && (!cert || !key))) {
        fprintf(stderr, "mcpbridge init: cannot run the smoke check: %s\n",
                token ? "out of memory" : err);
        goto done;
    }
    while (len && (token[len - 1] == '\n' || token[len - 1] == '\r'))
        token[--len] = '\0';
    struct mb_smoke_options so = {config, token, ca, cert, key, "/mcp", log};
    rc = mb_smoke_run(&so, stdout);
done:
    mb_pki_free_secret(token);
    free(config);
    free(token_path);
    free(log);
    free(ca);
    free(cert);
    free(key);
    return rc;
}

int mb_cli_init(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    char err[1024] = "";
    struct generated g;
    memset(&g, 0, sizeof g);
    struct mb_diags diags;
    mb_diags_init(&diags);
    /* The spec first: nothing is written for a spec that cannot be served. */
    struct mb_catalog *catalog =
        mb_catalog_create_from_spec(o.spec, o.base_url, NULL, false, 100, &diags);
    if (!catalog) {
        mb_diags_print(&diags, stderr);
        fprintf(stderr,
                "mcpbridge init: %s cannot be served (findings above); fix the spec (see "
                "`mcpbridge tools --spec %s`) and run init again\n",
                o.spec, o.spec);
        goto done;
    }
    g.tool_count = catalog->tool_count;
    mb_catalog_destroy(catalog);
    if (!(g.spec_text = mb_profile_read_file(o.spec, SPEC_MAX, &g.spec_len, err, sizeof err)))
        goto fail;
    if (g.tool_count == 0)
        fprintf(
            stderr,
            "mcpbridge init: warning: %s has no GET or HEAD operations, so the read-only profile "
            "serves no tools; add routes rules in config.yaml to expose others on purpose\n",
            o.spec);
    if (prepare_dir(&o, err, sizeof err) != 0)
        goto fail;
    profile_name(o.dir, g.name, sizeof g.name);
    snprintf(g.issuer, sizeof g.issuer, "mcpbridge:profile:%s", g.name);
    snprintf(g.audience, sizeof g.audience, "mcpbridge:%s", g.name);
    if (make_dirs(&o, &g, err, sizeof err) != 0 || copy_spec(&o, &g, err, sizeof err) != 0 ||
        mb_pki_random_hex(32, g.secret, sizeof g.secret, err, sizeof err) != 0 ||
        make_service_account_keys(&g, err, sizeof err) != 0 ||
        (o.tls && make_certificates(&o, &g, err, sizeof err) != 0) ||
        write_config(&o, &g, err, sizeof err) != 0 || write_meta(&o, &g, err, sizeof err) != 0 ||
        mint_default(&g, err, sizeof err) != 0 || write_readme(&o, &g, err, sizeof err) != 0)
        goto fail;
    explicit_bzero(g.secret, sizeof g.secret);
    print_summary(&o, &g);
    if (!o.smoke) {
        printf("smoke check skipped (--no-smoke)\n");
        rc = 0;
        goto done;
    }
    fflush(stdout);
    if (run_smoke(&o, &g) == 0) {
        rc = 0;
    } else {
        fprintf(
            stderr,
            "mcpbridge init: the profile is made, but the smoke check failed: fix what the report "
            "says, then try it with: mcpbridge serve --config %s/%s\n",
            g.dir, MB_PROFILE_CONFIG);
    }
    goto done;
fail:
    explicit_bzero(g.secret, sizeof g.secret);
    fprintf(stderr, "mcpbridge init: %s\n", err);
done:
    free(g.spec_text);
    mb_diags_dispose(&diags);
    return rc;
}
