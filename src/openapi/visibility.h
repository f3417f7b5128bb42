/* Private to src/openapi: the catalog options mcpbridge reads from the configuration
 * (api.helper_tools, api.tools, openapi_visibility) and the openapi_visibility features that
 * rewrite tool descriptions before the tools/list pages are prepared: parameter and filter
 * examples, per-tool context files (<operationId>.md or .txt) and global.md, shaped by the
 * context directory's _index.json. Everything here runs once, before the workers fork. */
#ifndef MB_OA_VISIBILITY_H
#define MB_OA_VISIBILITY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "config/config.h"
#include "openapi/catalog.h"

#define MB_OA_CONTEXT_FILE_MAX    (64u * 1024) /* bytes read from one context file */
#define MB_OA_CONTEXT_INDEX_MAX   (1024u * 1024) /* _index.json size cap */
#define MB_OA_CONTEXT_GLOBAL_CHARS 8000         /* global.md default char_limit */

struct mb_oa_options {
    int helpers_enabled;         /* api.helper_tools.enabled: 1, 0, or -1 when not set (then
                                  * on in meta mode, off in full mode) */
    enum mb_tools_mode mode;     /* api.tools.mode, default full */
    size_t meta_threshold;       /* api.tools.meta_threshold, default 200 */
    size_t tool_name_max;        /* api.openapi.tool_name_max_length, 16..128, default 64 */
    bool add_filter_examples;    /* openapi_visibility.*, defaults false */
    bool add_param_examples;
    bool context_enabled;        /* per_tool_context_enabled */
    size_t context_max_files;    /* per_tool_context_max_files, default 500 */
    size_t context_char_limit;   /* per_tool_context_char_limit, default 1000 */
    const char *context_dir;     /* borrowed from the config tree (absolute); NULL = none */
    const char *instructions;    /* server.instructions, borrowed; may be NULL */
    bool with_prompts;           /* assistant.prompts.dir is set: select_prompts is offered */
    const char *source;          /* config file name for diagnostics */
};

/* How one context file is shaped (an _index.json entry). */
struct mb_oa_context_rules {
    long priority;               /* higher first when more files match than max_files */
    bool preserve_newlines;      /* false: every run of white space becomes one space */
    size_t max_lines;            /* non-blank lines kept; 0 = no limit */
    size_t char_limit;           /* characters (code points) kept, "…" included */
};

/* Defaults used by catalogs built without a configuration (tests, `tools --spec`): no
 * helpers, full mode, no visibility feature. */
void mb_oa_options_defaults(struct mb_oa_options *o);
/* Reads and checks the options of cfg. Returns 0, or -1 after "file:line: key: problem"
 * diagnostics. */
int mb_oa_options_read(struct mb_oa_options *o, const struct mb_config *cfg, struct mb_diags *diags);

/* Applies openapi_visibility to the operation tools of cat (descriptions and definitions)
 * and sets cat->instructions from global.md. Returns 0, or -1 after diagnostics (a bad
 * _index.json, an unreadable context_dir) or -ENOMEM. */
int mb_oa_visibility_apply(struct mb_catalog *cat, const struct mb_oa_options *o, struct mb_diags *diags);

/* Shapes context text by rules: invalid UTF-8 and control characters replaced, lines cut to
 * max_lines, white space collapsed unless preserve_newlines, cut to char_limit code points
 * with a trailing "…". Returns a heap string (maybe empty), or NULL when out of memory. */
char *mb_oa_context_shape(const char *text, size_t len, const struct mb_oa_context_rules *rules);

#endif
