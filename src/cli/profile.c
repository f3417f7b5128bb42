/* The profile layout, its files and its tokens (contract in profile.h). Files are replaced
 * atomically (temporary file, fsync, rename) with their mode set before any byte is written, so
 * a private key is never readable by others, not even for a moment. Tokens are minted with the
 * claims the gateway checks in token mode (auth/gateway.c): the signature by the configured
 * public key, exp (required), nbf and iat within the leeway, iss when service_account.issuer is
 * set, aud when service_account.audience is set, and the scopes security.authorization needs. */
#include "cli/profile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/jwk.h"
#include "auth/jwt.h"
#include "cli/pki.h"

#define META_MAX  (64 * 1024)
#define INDEX_MAX (4 * 1024 * 1024)
#define TOKEN_MAX (64 * 1024)

char *mb_profile_join(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    return path;
}

int mb_profile_write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
                          size_t errlen)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file beside %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = -1;
    const char *p = data;
    size_t left = len;
    if (fchmod(fd, mode) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s: %s", path, strerror(errno));
        goto done;
    }
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

char *mb_profile_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    if (!buf || read_error || n > max) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 !buf         ? "out of memory"
                 : read_error ? "read error"
                              : "larger than expected");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int mb_profile_mkdir(const char *path, mode_t mode, char *err, size_t errlen)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the directory %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a directory", path);
        return -1;
    }
    if (chmod(path, mode) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- times ---- */

void mb_profile_format_time(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mb_profile_parse_time(const char *text, time_t *out)
{
    struct tm tm = {0};
    const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return -1;
    *out = timegm(&tm);
    return 0;
}

int mb_profile_parse_lifetime(const char *text, long long *out, char *err, size_t errlen)
{
    static const struct {
        char unit;
        long long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    char *end = NULL;
    errno = 0;
    long long n = text && isdigit((unsigned char)text[0]) ? strtoll(text, &end, 10) : -1;
    long long factor = 0;
    for (size_t i = 0; end && end[0] && !end[1] && i < sizeof units / sizeof units[0]; i++)
        if (end[0] == units[i].unit)
            factor = units[i].seconds;
    if (errno || n <= 0 || !factor || n > MB_PROFILE_MAX_LIFETIME / factor) {
        snprintf(err, errlen,
                 "lifetime '%s': expected a positive number with a unit s, m, h, d or w (e.g. 30d, "
                 "12h), "
                 "at most 3650d",
                 text ? text : "");
        return -1;
    }
    *out = n * factor;
    return 0;
}

/* "30d", "12h", "1d 6h", "45s": the shortest exact form of a number of seconds. */
static void format_duration(long long s, char *out, size_t cap)
{
    if (s % 86400 == 0)
        snprintf(out, cap, "%lldd", s / 86400);
    else if (s >= 86400 && s % 3600 == 0)
        snprintf(out, cap, "%lldd %lldh", s / 86400, s % 86400 / 3600);
    else if (s % 3600 == 0)
        snprintf(out, cap, "%lldh", s / 3600);
    else if (s % 60 == 0 && s < 86400)
        snprintf(out, cap, "%lldm", s / 60);
    else
        snprintf(out, cap, "%llds", s);
}

json_t *mb_profile_parse_scopes(const char *list, char *err, size_t errlen)
{
    json_t *scopes = json_array();
    const char *p = list ? list : "";
    while (scopes) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool ok = n > 0 && n <= MB_JWT_MAX_SCOPE_BYTES;
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            ok = c > 0x20 && c < 0x7f && c != '"' && c != '\\';
        }
        if (!ok) {
            snprintf(err, errlen,
                     "scopes '%s': expected scope names separated by commas (e.g. "
                     "mcp:tools,orders:read); a name "
                     "is 1 to %d printable characters without spaces, quotes or backslashes",
                     list ? list : "", MB_JWT_MAX_SCOPE_BYTES);
            json_decref(scopes);
            return NULL;
        }
        for (size_t i = 0; i < json_array_size(scopes); i++) {
            const char *have = json_string_value(json_array_get(scopes, i));
            if (strlen(have) == n && strncmp(have, p, n) == 0) {
                snprintf(err, errlen, "scopes '%s': '%.*s' is listed twice", list, (int)n, p);
                json_decref(scopes);
                return NULL;
            }
        }
        if (json_array_size(scopes) == MB_PROFILE_MAX_SCOPES) {
            snprintf(err, errlen, "scopes: at most %d", MB_PROFILE_MAX_SCOPES);
            json_decref(scopes);
            return NULL;
        }
        json_array_append_new(scopes, json_stringn(p, n));
        if (!comma)
            return scopes;
        p = comma + 1;
    }
    snprintf(err, errlen, "out of memory");
    return NULL;
}

bool mb_profile_account_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || strchr("._-", name[i])))
            return false;
    return true;
}

/* ---- opening ---- */

bool mb_profile_exists(const char *dir)
{
    char *meta = mb_profile_join(dir, MB_PROFILE_META);
    struct stat st;
    bool yes = meta && stat(meta, &st) == 0 && S_ISREG(st.st_mode);
    free(meta);
    return yes;
}

void mb_profile_close(struct mb_profile *p)
{
    if (!p)
        return;
    free(p->dir);
    json_decref(p->meta);
    mb_config_destroy(p->cfg);
    free(p->public_key_path);
    EVP_PKEY_free(p->public_key);
    free(p);
}

static int read_meta(struct mb_profile *p, char *err, size_t errlen)
{
    char *path = mb_profile_join(p->dir, MB_PROFILE_META);
    char *text = path ? mb_profile_read_file(path, META_MAX, NULL, err, errlen) : NULL;
    int rc = -1;
    if (!text)
        goto done;
    json_error_t jerr;
    p->meta = json_loads(text, 0, &jerr);
    p->name = json_string_value(json_object_get(p->meta, "name"));
    if (!json_is_object(p->meta) || !p->name) {
        snprintf(err, errlen,
                 "%s is damaged (%s): it must be a JSON object with a \"name\"; run mcpbridge init "
                 "--force on this directory to make the profile again",
                 path, p->meta ? "no \"name\"" : jerr.text);
        goto done;
    }
    rc = 0;
done:
    free(text);
    free(path);
    return rc;
}

int mb_profile_open(const char *dir, struct mb_profile **out, struct mb_diags *diags, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (!mb_profile_exists(dir)) {
        snprintf(err, errlen,
                 "%s is not an mcpbridge profile (it has no %s); make one with: mcpbridge init "
                 "--spec FILE --dir %s",
                 dir, MB_PROFILE_META, dir);
        return -1;
    }
    struct mb_profile *p = calloc(1, sizeof *p);
    char resolved[PATH_MAX];
    if (!p || !realpath(dir, resolved) || !(p->dir = strdup(resolved))) {
        snprintf(err, errlen, "cannot open the profile %s: %s", dir,
                 p ? strerror(errno) : "out of memory");
        goto fail;
    }
    if (read_meta(p, err, errlen) != 0)
        goto fail;
    char *config = mb_profile_join(p->dir, MB_PROFILE_CONFIG);
    int loaded = config ? mb_config_load(config, &p->cfg, diags) : -1;
    if (loaded != 0) {
        snprintf(err, errlen,
                 "the profile's %s does not load (findings above); fix it, then check it with: "
                 "mcpbridge check --config %s",
                 config ? config : MB_PROFILE_CONFIG, config ? config : MB_PROFILE_CONFIG);
        free(config);
        goto fail;
    }
    free(config);
    const struct mb_security_config *sec = &p->cfg->security;
    if (!sec->auth_enabled || !sec->sa.enabled || sec->sa.mode != MB_SA_TOKEN ||
        !sec->sa.public_key_pem) {
        snprintf(err, errlen,
                 "the profile's config.yaml does not authenticate service accounts with tokens (it "
                 "needs "
                 "security.authentication.enabled: true and service_account {enabled: true, mode: "
                 "token, "
                 "public_key: %s})",
                 MB_PROFILE_SA_PUBLIC);
        goto fail;
    }
    p->public_key = mb_pki_public_key_from_pem(sec->sa.public_key_pem,
                                               strlen(sec->sa.public_key_pem), err, errlen);
    if (!p->public_key)
        goto fail;
    if (EVP_PKEY_get_id(p->public_key) != EVP_PKEY_ED25519) {
        snprintf(err, errlen,
                 "service_account.public_key in config.yaml is not an Ed25519 key; the profile's "
                 "tokens are EdDSA: point it at %s",
                 MB_PROFILE_SA_PUBLIC);
        goto fail;
    }
    /* After loading, a path value holds the resolved absolute path (config.h). */
    json_t *pk =
        json_object_get(json_object_get(json_object_get(json_object_get(p->cfg->root, "security"),
                                                        "authentication"),
                                        "service_account"),
                        "public_key");
    if (json_is_string(pk) && !strstr(json_string_value(pk), "-----BEGIN") &&
        !(p->public_key_path = strdup(json_string_value(pk)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *out = p;
    return 0;
fail:
    mb_profile_close(p);
    return -1;
}

EVP_PKEY *mb_profile_load_private_key(const struct mb_profile *p, char *err, size_t errlen)
{
    char *path = mb_profile_join(p->dir, MB_PROFILE_SA_PRIVATE);
    size_t len = 0;
    char *pem = path ? mb_profile_read_file(path, 16 * 1024, &len, err, errlen) : NULL;
    EVP_PKEY *key = NULL;
    if (pem) {
        key = mb_pki_private_key_from_pem(pem, len, err, errlen);
        if (key && EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
            snprintf(
                err, errlen,
                "%s is not an Ed25519 key; run mcpbridge sa-token rotate --profile %s for a new "
                "pair",
                path, p->dir);
            EVP_PKEY_free(key);
            key = NULL;
        }
        OPENSSL_cleanse(pem, len);
    }
    free(pem);
    free(path);
    return key;
}

/* ---- tokens ---- */

json_t *mb_profile_load_index(const struct mb_profile *p, char *err, size_t errlen)
{
    char *path = mb_profile_join(p->dir, MB_PROFILE_TOKEN_INDEX);
    json_t *index = NULL;
    struct stat st;
    if (!path) {
        snprintf(err, errlen, "out of memory");
    } else if (stat(path, &st) != 0 && errno == ENOENT) {
        index = json_pack("{s:i,s:[]}", "format", 1, "tokens");
    } else {
        char *text = mb_profile_read_file(path, INDEX_MAX, NULL, err, errlen);
        json_error_t jerr;
        index = text ? json_loads(text, 0, &jerr) : NULL;
        if (text && (!json_is_object(index) || !json_is_array(json_object_get(index, "tokens")))) {
            snprintf(err, errlen, "%s is damaged (%s); remove it and mint the tokens again", path,
                     index ? "no \"tokens\" array" : jerr.text);
            json_decref(index);
            index = NULL;
        }
        free(text);
    }
    free(path);
    return index;
}

int mb_profile_save_index(const struct mb_profile *p, const json_t *index, char *err, size_t errlen)
{
    char *path = mb_profile_join(p->dir, MB_PROFILE_TOKEN_INDEX);
    char *text = json_dumps(index, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = -1;
    if (!path || !text)
        snprintf(err, errlen, "out of memory");
    else
        rc = mb_profile_write_file(path, text, strlen(text), 0644, err, errlen);
    free(text);
    free(path);
    return rc;
}

/* "sa-tokens/<name>.jwt" as a heap string, or NULL. */
static char *token_file(const char *name)
{
    size_t n = strlen(MB_PROFILE_TOKENS_DIR) + strlen(name) + 6;
    char *rel = malloc(n);
    if (rel)
        snprintf(rel, n, "%s/%s.jwt", MB_PROFILE_TOKENS_DIR, name);
    return rel;
}

static char *join_scopes(const json_t *scopes)
{
    size_t total = 1, i;
    json_t *s;
    json_array_foreach(scopes, i, s)
    {
        total += json_string_length(s) + 1;
    }
    char *out = calloc(1, total);
    if (!out)
        return NULL;
    json_array_foreach(scopes, i, s)
    {
        if (i)
            strcat(out, " ");
        strcat(out, json_string_value(s));
    }
    return out;
}

json_t *mb_profile_mint(const struct mb_profile *p, EVP_PKEY *key, json_t *index,
                        const struct mb_token_request *req, char *err, size_t errlen)
{
    const struct mb_service_account_config *sa = &p->cfg->security.sa;
    if (!mb_pki_same_public_key(key, p->public_key)) {
        snprintf(err, errlen,
                 "%s is not the private half of the public key config.yaml names (%s): tokens it "
                 "signs would be "
                 "refused. Make a matching pair with: mcpbridge sa-token rotate --profile %s",
                 MB_PROFILE_SA_PRIVATE, p->public_key_path ? p->public_key_path : "inline PEM",
                 p->dir);
        return NULL;
    }
    char kid[MB_PKI_KEY_ID_LEN + 1], jti[33], issued[32], expires[32], lifetime[32];
    if (mb_pki_key_id(key, kid, sizeof kid, err, errlen) != 0 ||
        mb_pki_random_hex(16, jti, sizeof jti, err, errlen) != 0)
        return NULL;
    const char *issuer = req->issuer ? req->issuer : sa->jwt.issuer;
    const char *audience = req->audience            ? req->audience
                           : sa->jwt.audience_count ? sa->jwt.audiences[0]
                                                    : NULL;
    time_t now = time(NULL);
    long long exp = (long long)now + req->lifetime;
    char *scope = join_scopes(req->scopes);
    json_t *claims = json_object();
    char *token = NULL, *token_path = NULL, *rel = NULL, *line = NULL;
    json_t *entry = NULL;
    if (!scope || !claims) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (issuer)
        json_object_set_new(claims, "iss", json_string(issuer));
    json_object_set_new(claims, "sub", json_string(req->name));
    if (audience)
        json_object_set_new(claims, "aud", json_string(audience));
    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "nbf", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(exp));
    json_object_set_new(claims, "jti", json_string(jti));
    json_object_set_new(claims, "scope", json_string(scope));
    token = mb_pki_jwt_sign_eddsa(key, kid, claims, err, errlen);
    if (!token)
        goto done;
    rel = token_file(req->name);
    if (!rel || !(token_path = mb_profile_join(p->dir, rel)) ||
        !(line = malloc(strlen(token) + 2))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    snprintf(line, strlen(token) + 2, "%s\n", token);
    if (mb_profile_write_file(token_path, line, strlen(line), 0600, err, errlen) != 0)
        goto done;
    mb_profile_format_time(now, issued, sizeof issued);
    mb_profile_format_time((time_t)exp, expires, sizeof expires);
    format_duration(req->lifetime, lifetime, sizeof lifetime);
    entry = json_pack("{s:s,s:O,s:I,s:s,s:s,s:s,s:s,s:s}", "name", req->name, "scopes", req->scopes,
                      "lifetime_seconds", (json_int_t)req->lifetime, "lifetime", lifetime,
                      "issued_at", issued, "expires_at", expires, "jti", jti, "key_id", kid);
    if (entry && issuer)
        json_object_set_new(entry, "issuer", json_string(issuer));
    if (entry && audience)
        json_object_set_new(entry, "audience", json_string(audience));
    if (entry)
        json_object_set_new(entry, "file", json_string(rel));
    json_t *tokens = json_object_get(index, "tokens");
    if (!entry || !json_is_array(tokens)) {
        snprintf(err, errlen, "out of memory");
        json_decref(entry);
        entry = NULL;
        goto done;
    }
    size_t i;
    json_t *old;
    json_array_foreach(tokens, i, old)
    {
        const char *name = json_string_value(json_object_get(old, "name"));
        if (name && strcmp(name, req->name) == 0) {
            json_array_set_new(tokens, i, entry);
            goto done;
        }
    }
    json_array_append_new(tokens, entry);
done:
    free(scope);
    json_decref(claims);
    mb_pki_free_secret(token);
    mb_pki_free_secret(line);
    free(token_path);
    free(rel);
    return entry;
}

/* The verification policy the gateway builds for service-account tokens in token mode. */
static void sa_policy(const struct mb_service_account_config *sa, struct mb_jwt_policy *policy)
{
    memset(policy, 0, sizeof *policy);
    for (size_t i = 0; i < sa->jwt.algorithm_count; i++) {
        int a = mb_jwt_alg_from_name(sa->jwt.algorithms[i]);
        if (a >= 0)
            policy->algs |= MB_JWT_ALG_BIT(a);
    }
    policy->issuer = sa->jwt.issuer;
    policy->audiences = (const char *const *)sa->jwt.audiences;
    policy->audience_count = sa->jwt.audience_count;
    policy->leeway_seconds = sa->jwt.leeway_seconds;
    policy->max_token_bytes = sa->jwt.max_token_bytes;
    policy->require_exp = true;
}

const char *mb_profile_token_status(const struct mb_profile *p, const char *name, time_t now,
                                    char *buf, size_t cap)
{
    char err[256];
    char *rel = token_file(name), *path = NULL, *token = NULL;
    struct mb_jwk_set *keys = NULL;
    size_t len = 0;
    snprintf(buf, cap, "missing");
    if (!rel || !(path = mb_profile_join(p->dir, rel)) ||
        !(token = mb_profile_read_file(path, TOKEN_MAX, &len, err, sizeof err)))
        goto done;
    while (len && isspace((unsigned char)token[len - 1]))
        token[--len] = '\0';
    const char *pem = p->cfg->security.sa.public_key_pem;
    keys = mb_jwk_set_from_pem(pem, strlen(pem), err, sizeof err);
    if (!keys) {
        snprintf(buf, cap, "refused: %s", err);
        goto done;
    }
    struct mb_jwt_policy policy;
    sa_policy(&p->cfg->security.sa, &policy);
    struct mb_jwt_claims claims;
    enum mb_jwt_status st =
        mb_jwt_verify(token, len, keys, &policy, (int64_t)now, &claims, err, sizeof err);
    if (st == MB_JWT_OK) {
        snprintf(buf, cap, "valid");
        mb_jwt_claims_dispose(&claims);
    } else if (st == MB_JWT_EXPIRED) {
        snprintf(buf, cap, "expired");
    } else if (st == MB_JWT_BAD_SIGNATURE) {
        snprintf(buf, cap, "signed by another key");
    } else {
        snprintf(buf, cap, "refused: %s", mb_jwt_status_name(st));
    }
done:
    mb_jwk_set_destroy(keys);
    mb_pki_free_secret(token);
    free(path);
    free(rel);
    return buf;
}
