/* Helpers shared by the files of the config module (not for other modules): environment
 * variable substitution in string values. */
#ifndef MB_CONFIG_INTERNAL_H
#define MB_CONFIG_INTERNAL_H

#include <jansson.h>
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

#endif
