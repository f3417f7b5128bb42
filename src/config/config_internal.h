/* Helpers shared by the files of the config module (not for other modules): environment
 * variable substitution in string values, and the loader with its typed getters, so a section
 * parsed in its own file (security_config.c) reports errors exactly like config.c. */
#ifndef MB_CONFIG_INTERNAL_H
#define MB_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "common/doc.h"

/* Longest string a substitution may produce. */
#define MB_CONFIG_MAX_EXPANDED 65536

/* Expands "${VAR}" and "${VAR:-default}" in in (the default applies when VAR is unset or
 * empty); "$${" yields a literal "${"; any other '$' is kept. VAR is [A-Za-z_][A-Za-z0-9_]*.
 * Returns a heap string (caller frees) and sets *changed when anything was substituted, or
 * NULL with a reason in err (unset variable without default, malformed reference, result
 * over MB_CONFIG_MAX_EXPANDED bytes, out of memory). */
char *mb_config_expand_string(const char *in, int *changed, char *err, size_t errlen);

/* Expands every string value below root in place (keys are left alone). The JSON pointer of
 * each string that changed becomes a member (value true) of the object changed, so typed
 * getters can accept "8500" from "${PORT:-8500}" for a number. One diagnostic per bad string,
 * "file:line: <dotted.key>: reason"; returns how many there were. */
int mb_config_expand_env(json_t *root, const struct mb_doc *doc, const char *file,
                         json_t *changed, struct mb_diags *diags);

/* Writes the display name of a JSON pointer ("/a/b~1c" -> "a.b/c") into out. */
void mb_config_pointer_name(const char *pointer, char *out, size_t cap);

/* ---- the loader (config.c) ---- */

struct mb_config;

struct mb_config_loader {
    struct mb_config *cfg;
    const struct mb_doc *doc;
    const char *file;
    struct mb_diags *diags;
    json_t *changed; /* pointers of strings produced by ${...} */
    int errors;
};

/* Adds a diagnostic for the value at pointer (its line, else its nearest existing ancestor's):
 * an error (is_error 1, counted, fails the load) or a warning logged at once. */
void mb_cfg_report(struct mb_config_loader *L, int is_error, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define ERR(L, ptr, ...)  mb_cfg_report(L, 1, ptr, __VA_ARGS__)
#define WARN(L, ptr, ...) mb_cfg_report(L, 0, ptr, __VA_ARGS__)

/* "an object", "a string", ... for messages. */
const char *mb_cfg_type_name(const json_t *v);
/* The value at a pointer of plain keys, NULL when absent, null, or under a non-object. */
json_t *mb_cfg_lookup(const struct mb_config_loader *L, const char *pointer);
/* True when the string at pointer came from ${VAR} substitution (so "8500" may be a number). */
int mb_cfg_from_env(const struct mb_config_loader *L, const char *pointer);

/* Typed getters: an absent key gives the default; a wrong one reports an error and keeps the
 * default. Strings are strdup'ed into *out (previous value freed). */
void mb_cfg_get_string(struct mb_config_loader *L, const char *ptr, const char *def, char **out);
void mb_cfg_get_bool(struct mb_config_loader *L, const char *ptr, bool def, bool *out);
/* Returns 1 when the key was present and valid. */
int mb_cfg_get_int(struct mb_config_loader *L, const char *ptr, long long min, long long max,
                   long long def, long long *out);
void mb_cfg_get_uint(struct mb_config_loader *L, const char *ptr, long long min, long long max,
                     long long def, unsigned *out);
void mb_cfg_get_size(struct mb_config_loader *L, const char *ptr, long long min, long long max,
                     long long def, size_t *out);
void mb_cfg_get_ratio(struct mb_config_loader *L, const char *ptr, double min, double max, double def,
                      double *out);
/* One of words (case-insensitive); stores the canonical spelling. */
void mb_cfg_get_enum(struct mb_config_loader *L, const char *ptr, const char *const *words, const char *def,
                     char **out);
/* An array of strings; *items NULL and *count 0 when absent. Free each item and the array. */
void mb_cfg_get_string_list(struct mb_config_loader *L, const char *ptr, char ***items, size_t *count);
/* A file path resolved against the config's directory (and written back into the root). */
void mb_cfg_get_path(struct mb_config_loader *L, const char *ptr, char **out);
/* Reports an error unless path (may be NULL: nothing to check) is a readable file (or dir). */
void mb_cfg_check_readable(struct mb_config_loader *L, const char *ptr, const char *path, int want_dir);
/* True for http:// and https:// URLs. */
int mb_cfg_is_http_url(const char *s);

/* security_config.c: reads the security groups into sec (errors through L). */
struct mb_security_config;
void mb_config_read_security(struct mb_config_loader *L, struct mb_security_config *sec);

#endif
