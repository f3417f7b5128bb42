/* A profile: the directory `mcpbridge init` makes and `mcpbridge sa-token` and `mcpbridge export`
 * work on. Its layout (paths relative to the profile directory):
 *
 *   profile.json                  marker and metadata (name, created, tls, mtls, default scope,
 *                                 spec file name); its presence is what makes a directory a profile
 *   config.yaml           0600    the server's configuration (holds the session secret)
 *   openapi.yaml|.json            the copied OpenAPI document
 *   keys/service-account.key.pem  0600  Ed25519 private key that signs service-account tokens
 *   keys/service-account.pub.pem        its public key; config.yaml's public_key names this file
 *   keys/retired/                       public keys replaced by `sa-token rotate`, timestamped
 *   sa-tokens/<name>.jwt  0600    minted tokens
 *   sa-tokens/index.json          what was minted (name, scopes, lifetime, times, jti, key id),
 *                                 never a token
 *   tls/ (--tls)                  development CA, server certificate, client certificate (--mtls);
 *                                 private keys 0600
 *   README.txt                    how to start the server and call it
 *
 * This module owns the layout, file writing with modes (atomic replace), opening and validating a
 * profile, and minting tokens into it. Functions that can fail return -1 (or NULL) with a
 * one-line reason in err (errlen bytes, never NULL) that says what to do next. */
#ifndef MB_CLI_PROFILE_H
#define MB_CLI_PROFILE_H

#include <jansson.h>
#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "common/diag.h"
#include "config/config.h"

#define MB_PROFILE_META        "profile.json"
#define MB_PROFILE_CONFIG      "config.yaml"
#define MB_PROFILE_README      "README.txt"
#define MB_PROFILE_SMOKE_LOG   "smoke.log"
#define MB_PROFILE_KEYS_DIR    "keys"
#define MB_PROFILE_SA_PRIVATE  "keys/service-account.key.pem"
#define MB_PROFILE_SA_PUBLIC   "keys/service-account.pub.pem"
#define MB_PROFILE_RETIRED_DIR "keys/retired"
#define MB_PROFILE_TOKENS_DIR  "sa-tokens"
#define MB_PROFILE_TOKEN_INDEX "sa-tokens/index.json"
#define MB_PROFILE_TLS_DIR     "tls"
#define MB_PROFILE_CA_CERT     "tls/ca.crt"
#define MB_PROFILE_CA_KEY      "tls/ca.key"
#define MB_PROFILE_SERVER_CERT "tls/server.crt"
#define MB_PROFILE_SERVER_KEY  "tls/server.key"
#define MB_PROFILE_CLIENT_CERT "tls/client.crt"
#define MB_PROFILE_CLIENT_KEY  "tls/client.key"

#define MB_PROFILE_DEFAULT_SCOPE    "mcp:tools"
#define MB_PROFILE_DEFAULT_ACCOUNT  "default"
#define MB_PROFILE_DEFAULT_LIFETIME (30LL * 86400) /* seconds */
#define MB_PROFILE_MAX_LIFETIME     (3650LL * 86400)
#define MB_PROFILE_MAX_SCOPES       32

/* ---- files ---- */

/* dir + "/" + rel as a heap string (caller frees); NULL when out of memory. */
char *mb_profile_join(const char *dir, const char *rel);

/* Writes len bytes to path through a temporary file in the same directory, fsync and rename, so
 * a reader sees the old or the new content, never a part; the file gets exactly mode (umask
 * aside from nothing: fchmod). Returns 0 or -1. */
int mb_profile_write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
                          size_t errlen);

/* Reads a whole file of at most max bytes into a NUL-terminated heap buffer (caller frees) and
 * its length into *len (may be NULL). NULL with the reason (missing, unreadable, too large). */
char *mb_profile_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* Creates dir with mode unless it exists as a directory (then its mode is set to mode). */
int mb_profile_mkdir(const char *path, mode_t mode, char *err, size_t errlen);

/* ---- times and lifetimes ---- */

/* "2025-01-31T12:00:00Z" into out (at least 21 bytes). */
void mb_profile_format_time(time_t t, char *out, size_t cap);
/* Parses the form above. Returns 0 and *out, or -1. */
int mb_profile_parse_time(const char *text, time_t *out);
/* Parses a lifetime: a positive number with a unit s, m, h, d or w ("30d", "12h", "90s"); at most
 * MB_PROFILE_MAX_LIFETIME. Returns 0 and seconds in *out, or -1 with the reason. */
int mb_profile_parse_lifetime(const char *text, long long *out, char *err, size_t errlen);

/* Checks a comma-separated scope list ("mcp:tools,orders:read"): each a scope-token of RFC 6749
 * (printable ASCII without space, '"' and '\'), at most MB_PROFILE_MAX_SCOPES, none repeated.
 * Returns a new JSON array of the scopes, or NULL with the reason. */
json_t *mb_profile_parse_scopes(const char *list, char *err, size_t errlen);

/* True for a usable service-account name: 1 to 64 of [A-Za-z0-9._-], not starting with '.'. It
 * names the token file, so nothing that could walk out of sa-tokens/ is accepted. */
bool mb_profile_account_name_ok(const char *name);

/* ---- an opened profile ---- */

struct mb_profile {
    char *dir;             /* absolute path of the profile directory */
    json_t *meta;          /* profile.json, owned */
    const char *name;      /* meta "name" */
    struct mb_config *cfg; /* config.yaml, loaded and validated */
    char *public_key_path; /* absolute path of the file service_account.public_key names, or NULL
                            * when the config holds the PEM text inline */
    EVP_PKEY *public_key;  /* the key the server verifies service-account tokens with */
};

/* True when dir holds a profile.json (what makes a directory a profile). */
bool mb_profile_exists(const char *dir);

/* Opens the profile in dir: reads profile.json, loads config.yaml with the server's own loader
 * (mb_config_load: every problem goes to diags as file:line) and checks that the service account
 * is on in token mode with an Ed25519 public key. Returns 0 and *out (free with mb_profile_close),
 * or -1 with a reason in err and possibly findings in diags. */
int mb_profile_open(const char *dir, struct mb_profile **out, struct mb_diags *diags, char *err,
                    size_t errlen);
void mb_profile_close(struct mb_profile *p);

/* The profile's signing key (keys/service-account.key.pem); caller frees. NULL with the reason. */
EVP_PKEY *mb_profile_load_private_key(const struct mb_profile *p, char *err, size_t errlen);

/* ---- tokens ---- */

struct mb_token_request {
    const char *name;     /* service-account name (sub), mb_profile_account_name_ok */
    const json_t *scopes; /* array of scope strings, borrowed */
    long long lifetime;   /* seconds, 1..MB_PROFILE_MAX_LIFETIME */
    const char *issuer;   /* NULL: the config's service_account.issuer (none: no iss claim) */
    const char *audience; /* NULL: the config's first audience (none: no aud claim) */
};

/* The index (sa-tokens/index.json) as {"format":1,"tokens":[...]}; an empty one when the file does
 * not exist. Caller decrefs. NULL with the reason when the file is unreadable or malformed. */
json_t *mb_profile_load_index(const struct mb_profile *p, char *err, size_t errlen);

/* Mints a token signed by key (the profile's private key, which must match the public key the
 * config names, else -1: the token could not be verified): claims iss, sub, aud, iat, nbf, exp,
 * jti, scope as the server's gateway checks them (auth/gateway.c, token mode). Writes
 * sa-tokens/<name>.jwt (0600) and replaces the entry of that name in index (which the caller
 * saves with mb_profile_save_index). Returns the new entry (borrowed from index) or NULL. */
json_t *mb_profile_mint(const struct mb_profile *p, EVP_PKEY *key, json_t *index,
                        const struct mb_token_request *req, char *err, size_t errlen);

/* Writes index to sa-tokens/index.json (0644: it holds no secret). */
int mb_profile_save_index(const struct mb_profile *p, const json_t *index, char *err,
                          size_t errlen);

/* Verifies the token in sa-tokens/<name>.jwt under the profile's current configuration and key,
 * as the server would at time now. Returns a short status for a person: "valid", "expired",
 * "signed by another key", "missing", or "refused: <reason>". */
const char *mb_profile_token_status(const struct mb_profile *p, const char *name, time_t now,
                                    char *buf, size_t cap);

#endif
