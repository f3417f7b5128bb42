/* `mcpbridge sa-token mint|list|rotate|remint-all --profile DIR`: the service-account tokens of a
 * profile (profile.h). mint signs an EdDSA token with the profile's private key and the claims
 * the server checks (issuer and audience read from config.yaml); list verifies every token in
 * the index as the server would; rotate makes a new key pair, writes the public key where
 * config.yaml's public_key points (so the server uses it after a reload or restart) and keeps
 * the old public key under keys/retired/; remint-all mints every indexed token again, same
 * names, scopes and lifetimes, under the current key. Tokens are only ever written to their
 * 0600 files, never printed. */
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/pki.h"
#include "cli/profile.h"
#include "common/diag.h"

#define KEY_ID_SHOWN 12 /* characters of a key id shown in listings */

enum action { MINT, LIST, ROTATE, REMINT_ALL };

struct options {
    enum action action;
    const char *profile;
    const char *name;
    const char *scopes;
    const char *lifetime;
    const char *issuer;
    const char *audience;
    long long lifetime_seconds; /* from lifetime, else the default */
    json_t *scope_list;         /* from scopes (owned), else NULL: the profile's default scope */
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge sa-token mint --profile DIR [--name N] [--scopes a,b] [--lifetime 30d]\n"
        "                               [--issuer ISS] [--audience AUD]\n"
        "       mcpbridge sa-token list --profile DIR\n"
        "       mcpbridge sa-token rotate --profile DIR\n"
        "       mcpbridge sa-token remint-all --profile DIR\n"
        "  Service-account tokens of a profile made by `mcpbridge init` (EdDSA JWTs signed by\n"
        "  DIR/" MB_PROFILE_SA_PRIVATE ", stored in DIR/" MB_PROFILE_TOKENS_DIR
        "/NAME.jwt, mode 0600).\n"
        "  mint        a token for account N (default \"" MB_PROFILE_DEFAULT_ACCOUNT
        "\"); replaces N's previous one\n"
        "  list        every minted token: scopes, expiry, key id, and whether the server would "
        "accept it\n"
        "  rotate      a new key pair; the server's public key file is replaced, the old one kept "
        "in\n"
        "              keys/retired/; every existing token stops working (remint-all makes new "
        "ones)\n"
        "  remint-all  mints every listed token again under the current key (same names, scopes, "
        "lifetimes)\n"
        "  --scopes a,b      comma-separated scopes (default: the "
        "profile's, " MB_PROFILE_DEFAULT_SCOPE ")\n"
        "  --lifetime T      a number with s, m, h, d or w (default 30d, at most 3650d)\n"
        "  --issuer ISS      iss claim (default: config.yaml's service_account.issuer)\n"
        "  --audience AUD    aud claim (default: config.yaml's service_account.audience)\n"
        "exit status: 0 ok, 1 failure, 2 usage\n");
}

static const struct mb_cli_command command = {"sa-token", usage};

/* Returns -1 to go on, or the exit code to return now. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"profile", required_argument, NULL, 'p'}, {"name", required_argument, NULL, 'n'},
        {"scopes", required_argument, NULL, 's'},  {"lifetime", required_argument, NULL, 'l'},
        {"issuer", required_argument, NULL, 'i'},  {"audience", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *word;
        enum action action;
    } actions[] = {{"mint", MINT}, {"list", LIST}, {"rotate", ROTATE}, {"remint-all", REMINT_ALL}};
    memset(o, 0, sizeof *o);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-')
        return mb_cli_usage_error(&command,
                                  "expected an action first: mint, list, rotate or remint-all");
    size_t k = 0;
    while (k < sizeof actions / sizeof actions[0] && strcmp(argv[1], actions[k].word) != 0)
        k++;
    if (k == sizeof actions / sizeof actions[0])
        return mb_cli_usage_error(
            &command, "unknown action '%s' (expected mint, list, rotate or remint-all)", argv[1]);
    o->action = actions[k].action;
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":p:n:s:l:i:a:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->profile = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 's':
            o->scopes = optarg;
            break;
        case 'l':
            o->lifetime = optarg;
            break;
        case 'i':
            o->issuer = optarg;
            break;
        case 'a':
            o->audience = optarg;
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
    if (!o->profile)
        return mb_cli_usage_error(&command,
                                  "--profile DIR is required (a directory made by mcpbridge init)");
    if (o->action != MINT && (o->name || o->scopes || o->lifetime || o->issuer || o->audience))
        return mb_cli_usage_error(
            &command,
            "--name, --scopes, --lifetime, --issuer and --audience belong to mint, not %s",
            argv[1]);
    if (o->name && !mb_profile_account_name_ok(o->name))
        return mb_cli_usage_error(
            &command,
            "--name '%s': expected 1 to 64 letters, digits, '.', '_' or '-' (not "
            "starting with '.')",
            o->name);
    char err[512];
    o->lifetime_seconds = MB_PROFILE_DEFAULT_LIFETIME;
    if (o->lifetime &&
        mb_profile_parse_lifetime(o->lifetime, &o->lifetime_seconds, err, sizeof err) != 0)
        return mb_cli_usage_error(&command, "--%s", err);
    if (o->scopes && !(o->scope_list = mb_profile_parse_scopes(o->scopes, err, sizeof err)))
        return mb_cli_usage_error(&command, "--%s", err);
    return -1;
}

/* "29d 23h", "5h 12m", "42m", "17s"; "expired 3m ago" for the past. */
static void expires_in(time_t expires, time_t now, char *out, size_t cap)
{
    long long d = (long long)expires - (long long)now;
    long long a = d < 0 ? -d : d;
    char span[48];
    if (a >= 86400 && a % 86400 >= 3600)
        snprintf(span, sizeof span, "%lldd %lldh", a / 86400, a % 86400 / 3600);
    else if (a >= 86400)
        snprintf(span, sizeof span, "%lldd", a / 86400);
    else if (a >= 3600 && a % 3600 >= 60)
        snprintf(span, sizeof span, "%lldh %lldm", a / 3600, a % 3600 / 60);
    else if (a >= 3600)
        snprintf(span, sizeof span, "%lldh", a / 3600);
    else if (a >= 60)
        snprintf(span, sizeof span, "%lldm", a / 60);
    else
        snprintf(span, sizeof span, "%llds", a);
    if (d <= 0)
        snprintf(out, cap, "expired %s ago", span);
    else
        snprintf(out, cap, "%s", span);
}

static void join_scopes(const json_t *scopes, char *out, size_t cap)
{
    size_t i;
    json_t *s;
    out[0] = '\0';
    json_array_foreach(scopes, i, s)
    {
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "",
                 json_string_value(s) ? json_string_value(s) : "?");
    }
}

static void print_minted(const struct mb_profile *p, const json_t *entry, const char *verb)
{
    char scopes[512], in[64];
    time_t expires = 0, now = time(NULL);
    const char *name = json_string_value(json_object_get(entry, "name"));
    mb_profile_parse_time(json_string_value(json_object_get(entry, "expires_at")), &expires);
    join_scopes(json_object_get(entry, "scopes"), scopes, sizeof scopes);
    expires_in(expires, now, in, sizeof in);
    printf("%s a token for \"%s\": scopes %s, expires %s (in %s), key id %.*s\n", verb, name,
           scopes, json_string_value(json_object_get(entry, "expires_at")), in, KEY_ID_SHOWN,
           json_string_value(json_object_get(entry, "key_id")));
    printf("  file: %s/%s (0600); send it as: Authorization: Bearer $(cat %s/%s)\n", p->dir,
           json_string_value(json_object_get(entry, "file")), p->dir,
           json_string_value(json_object_get(entry, "file")));
}

/* A warning when a claim override differs from what the server checks. */
static void warn_override(const char *what, const char *given, char *const *configured,
                          size_t count)
{
    if (!given)
        return;
    for (size_t i = 0; i < count; i++)
        if (strcmp(configured[i], given) == 0)
            return;
    if (count)
        fprintf(stderr,
                "mcpbridge sa-token: warning: the server checks %s \"%s\" (config.yaml); a token "
                "with %s "
                "\"%s\" will be refused there\n",
                what, configured[0], what, given);
}

static int cmd_mint(const struct options *o, struct mb_profile *p, char *err, size_t errlen)
{
    const char *default_scope = json_string_value(json_object_get(p->meta, "default_scope"));
    const char *default_name = json_string_value(json_object_get(p->meta, "default_account"));
    json_t *scopes =
        o->scope_list ? json_incref(o->scope_list)
                      : mb_profile_parse_scopes(
                            default_scope ? default_scope : MB_PROFILE_DEFAULT_SCOPE, err, errlen);
    json_t *index = NULL, *entry = NULL;
    EVP_PKEY *key = NULL;
    int rc = 1;
    if (!scopes)
        goto done;
    const struct mb_jwt_settings *jwt = &p->cfg->security.sa.jwt;
    char *issuer_list[1] = {jwt->issuer};
    warn_override("issuer", o->issuer, issuer_list, jwt->issuer ? 1 : 0);
    warn_override("audience", o->audience, jwt->audiences, jwt->audience_count);
    struct mb_token_request req = {o->name        ? o->name
                                   : default_name ? default_name
                                                  : MB_PROFILE_DEFAULT_ACCOUNT,
                                   scopes, o->lifetime_seconds, o->issuer, o->audience};
    if (!(key = mb_profile_load_private_key(p, err, errlen)) ||
        !(index = mb_profile_load_index(p, err, errlen)) ||
        !(entry = mb_profile_mint(p, key, index, &req, err, errlen)) ||
        mb_profile_save_index(p, index, err, errlen) != 0)
        goto done;
    print_minted(p, entry, "minted");
    rc = 0;
done:
    json_decref(scopes);
    json_decref(index);
    EVP_PKEY_free(key);
    return rc;
}

static int cmd_list(struct mb_profile *p, char *err, size_t errlen)
{
    json_t *index = mb_profile_load_index(p, err, errlen);
    if (!index)
        return 1;
    char current[MB_PKI_KEY_ID_LEN + 1] = "?";
    mb_pki_key_id(p->public_key, current, sizeof current, err, errlen);
    err[0] = '\0';
    json_t *tokens = json_object_get(index, "tokens");
    printf("profile \"%s\" (%s); current key id %.*s\n", p->name, p->dir, KEY_ID_SHOWN, current);
    if (json_array_size(tokens) == 0) {
        printf("no tokens yet; mint one with: mcpbridge sa-token mint --profile %s --name NAME\n",
               p->dir);
        json_decref(index);
        return 0;
    }
    printf("%-20s %-24s %-18s %-13s %s\n", "NAME", "SCOPES", "EXPIRES IN", "KEY ID", "STATUS");
    time_t now = time(NULL);
    size_t i, stale = 0;
    json_t *e;
    json_array_foreach(tokens, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *kid = json_string_value(json_object_get(e, "key_id"));
        char scopes[512], in[64], status[256];
        time_t expires = 0;
        if (!name || !mb_profile_account_name_ok(name)) {
            printf("%-20s (a damaged index entry: no usable name)\n", "?");
            continue;
        }
        join_scopes(json_object_get(e, "scopes"), scopes, sizeof scopes);
        if (mb_profile_parse_time(json_string_value(json_object_get(e, "expires_at")), &expires) ==
            0)
            expires_in(expires, now, in, sizeof in);
        else
            snprintf(in, sizeof in, "?");
        mb_profile_token_status(p, name, now, status, sizeof status);
        bool old_key = kid && strcmp(kid, current) != 0;
        if (old_key || strcmp(status, "valid") != 0)
            stale++;
        printf("%-20s %-24s %-18s %-13.*s %s%s\n", name, scopes, in, KEY_ID_SHOWN, kid ? kid : "?",
               status, old_key ? " (minted under a retired key)" : "");
    }
    if (stale)
        printf("%zu token%s will be refused; make new ones with: mcpbridge sa-token remint-all "
               "--profile %s\n",
               stale, stale == 1 ? "" : "s", p->dir);
    json_decref(index);
    return 0;
}

static int cmd_rotate(struct mb_profile *p, char *err, size_t errlen)
{
    if (!p->public_key_path) {
        snprintf(
            err, errlen,
            "config.yaml holds the service-account public key inline; rotate replaces a key file. "
            "Set security.authentication.service_account.public_key: %s and run rotate again",
            MB_PROFILE_SA_PUBLIC);
        return 1;
    }
    char old_id[MB_PKI_KEY_ID_LEN + 1], new_id[MB_PKI_KEY_ID_LEN + 1], stamp[32], retired_rel[160];
    char *old_pem = NULL, *private_pem = NULL, *public_pem = NULL, *retired = NULL,
         *private_path = NULL;
    EVP_PKEY *key = NULL;
    json_t *index = NULL;
    int rc = 1;
    if (mb_pki_key_id(p->public_key, old_id, sizeof old_id, err, errlen) != 0 ||
        !(index = mb_profile_load_index(p, err, errlen)) ||
        !(old_pem = mb_pki_public_key_pem(p->public_key, err, errlen)) ||
        !(key = mb_pki_ed25519_generate(err, errlen)) ||
        mb_pki_key_id(key, new_id, sizeof new_id, err, errlen) != 0 ||
        !(private_pem = mb_pki_private_key_pem(key, err, errlen)) ||
        !(public_pem = mb_pki_public_key_pem(key, err, errlen)))
        goto done;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(retired_rel, sizeof retired_rel, "%s/service-account-%s-%.*s.pub.pem",
             MB_PROFILE_RETIRED_DIR, stamp, KEY_ID_SHOWN, old_id);
    char *retired_dir = mb_profile_join(p->dir, MB_PROFILE_RETIRED_DIR);
    int made = retired_dir ? mb_profile_mkdir(retired_dir, 0700, err, errlen) : -1;
    free(retired_dir);
    /* The old public key is kept before anything is replaced; the private key goes before the
     * public one, so an interruption leaves a pair that mint detects as mismatched. */
    if (made != 0 || !(retired = mb_profile_join(p->dir, retired_rel)) ||
        !(private_path = mb_profile_join(p->dir, MB_PROFILE_SA_PRIVATE)) ||
        mb_profile_write_file(retired, old_pem, strlen(old_pem), 0644, err, errlen) != 0 ||
        mb_profile_write_file(private_path, private_pem, strlen(private_pem), 0600, err, errlen) !=
            0 ||
        mb_profile_write_file(p->public_key_path, public_pem, strlen(public_pem), 0644, err,
                              errlen) != 0)
        goto done;
    size_t count = json_array_size(json_object_get(index, "tokens"));
    printf("rotated the service-account key of profile \"%s\"\n", p->name);
    printf("  new key id %.*s: %s/%s signs, %s verifies (config.yaml's public_key)\n", KEY_ID_SHOWN,
           new_id, p->dir, MB_PROFILE_SA_PRIVATE, p->public_key_path);
    printf("  old key id %.*s: public key kept as %s/%s\n", KEY_ID_SHOWN, old_id, p->dir,
           retired_rel);
    printf("  every token minted before is invalid now (%zu in the index): a running server "
           "refuses them once it\n"
           "  reloads (SIGHUP, systemctl reload) or restarts. Make new ones with:\n"
           "    mcpbridge sa-token remint-all --profile %s\n",
           count, p->dir);
    rc = 0;
done:
    mb_pki_free_secret(private_pem);
    free(public_pem);
    free(old_pem);
    free(retired);
    free(private_path);
    EVP_PKEY_free(key);
    json_decref(index);
    return rc;
}

static int cmd_remint_all(struct mb_profile *p, char *err, size_t errlen)
{
    json_t *index = mb_profile_load_index(p, err, errlen);
    EVP_PKEY *key = NULL;
    int rc = 1;
    if (!index || !(key = mb_profile_load_private_key(p, err, errlen)))
        goto done;
    json_t *tokens = json_object_get(index, "tokens");
    size_t count = json_array_size(tokens), done_count = 0, skipped = 0;
    if (count == 0) {
        printf("no tokens in %s/%s: nothing to re-mint\n", p->dir, MB_PROFILE_TOKEN_INDEX);
        rc = 0;
        goto done;
    }
    /* Entries are replaced in place by name, so walk a snapshot of the names. */
    json_t *snapshot = json_deep_copy(tokens);
    size_t i;
    json_t *e;
    json_array_foreach(snapshot, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *scopes = json_object_get(e, "scopes");
        json_int_t lifetime = json_integer_value(json_object_get(e, "lifetime_seconds"));
        bool scopes_ok = json_is_array(scopes) && json_array_size(scopes) > 0;
        for (size_t k = 0; scopes_ok && k < json_array_size(scopes); k++)
            scopes_ok = json_is_string(json_array_get(scopes, k));
        if (!mb_profile_account_name_ok(name) || !scopes_ok || lifetime <= 0 ||
            lifetime > MB_PROFILE_MAX_LIFETIME) {
            fprintf(stderr,
                    "mcpbridge sa-token: skipping index entry %zu (%s): it lacks a usable name, "
                    "scopes or "
                    "lifetime_seconds; mint it again with sa-token mint\n",
                    i, name ? name : "no name");
            skipped++;
            continue;
        }
        struct mb_token_request req = {name, scopes, lifetime, NULL, NULL};
        json_t *entry = mb_profile_mint(p, key, index, &req, err, errlen);
        if (!entry) {
            json_decref(snapshot);
            goto done;
        }
        print_minted(p, entry, "re-minted");
        done_count++;
    }
    json_decref(snapshot);
    if (mb_profile_save_index(p, index, err, errlen) != 0)
        goto done;
    printf("%zu token%s re-minted under the current key%s\n", done_count,
           done_count == 1 ? "" : "s", skipped ? "; some entries were skipped (above)" : "");
    rc = skipped ? 1 : 0;
done:
    EVP_PKEY_free(key);
    json_decref(index);
    return rc;
}

int mb_cli_sa_token(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) {
        json_decref(o.scope_list);
        return rc;
    }
    char err[1024] = "";
    struct mb_diags diags;
    mb_diags_init(&diags);
    struct mb_profile *p = NULL;
    if (mb_profile_open(o.profile, &p, &diags, err, sizeof err) != 0) {
        mb_diags_print(&diags, stderr);
        rc = 1;
    } else {
        switch (o.action) {
        case MINT:
            rc = cmd_mint(&o, p, err, sizeof err);
            break;
        case LIST:
            rc = cmd_list(p, err, sizeof err);
            break;
        case ROTATE:
            rc = cmd_rotate(p, err, sizeof err);
            break;
        case REMINT_ALL:
            rc = cmd_remint_all(p, err, sizeof err);
            break;
        }
    }
    if (rc != 0 && err[0])
        fprintf(stderr, "mcpbridge sa-token: %s\n", err);
    mb_profile_close(p);
    mb_diags_dispose(&diags);
    json_decref(o.scope_list);
    return rc;
}
