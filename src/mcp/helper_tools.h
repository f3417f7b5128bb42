/* The local (helper) tools: catalog entries of kind MB_TOOL_LOCAL that tools/call answers
 * in-process, without a downstream call. list_all_tags, get_tool_schema, get_filter_fields
 * and select_prompts help a model find its way in a large API; in meta mode (api.tools.mode)
 * search_tools and call_tool stand in for the unlisted operations. The catalog builds their
 * definitions (src/openapi/catalog.c); this file runs them. See docs/openapi-mapping.md,
 * "Helper tools, visibility and meta mode". */
#ifndef MB_HELPER_TOOLS_H
#define MB_HELPER_TOOLS_H

#include <jansson.h>
#include <stddef.h>

#include "mcp/prompts.h"
#include "openapi/catalog.h"

#define MB_HELPER_SUGGESTIONS 3    /* close matches named for an unknown tool */

/* What the helpers read: both borrowed, immutable after start-up. prompts may be NULL. */
struct mb_helper_env {
    const struct mb_catalog *catalog;
    const struct mb_prompt_set *prompts;
    /* The caller's view of the catalog (security.authorization.tools): helpers never list,
     * describe or search a tool for which this returns false. NULL: every tool is visible. */
    bool (*visible)(void *data, const struct mb_tool *tool);
    void *visible_data;
};

/* Runs the local tool `tool` with arguments already validated against its inputSchema (args
 * may be NULL). Returns the CallToolResult (new reference; an unknown name or a bad target is
 * an isError result naming close matches), or NULL when out of memory.
 * call_tool is the exception: when it names an HTTP operation it returns NULL and sets *call
 * to that tool and *call_args to its arguments (borrowed from args, may be NULL), and the
 * caller runs the operation through the ordinary tools/call pipeline (validation included).
 * *call is NULL in every other case. */
json_t *mb_helper_tool_call(const struct mb_helper_env *env, const struct mb_tool *tool, const json_t *args,
                            const struct mb_tool **call, const json_t **call_args);

/* Fills out with up to max tools whose names are close to name (case-insensitive edit
 * distance, prefix or substring), closest first. Returns how many. */
size_t mb_helper_suggest(const struct mb_catalog *cat, const char *name, const struct mb_tool **out, size_t max);

#endif
