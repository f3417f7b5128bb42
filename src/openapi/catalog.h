/* The tool catalog: every MCP tool generated from the OpenAPI spec, built once before the
 * workers fork (shared copy-on-write) and immutable afterwards.
 *
 * The first slice (issue "Serve MCP end to end"): OpenAPI 3.x in JSON or YAML, one tool per
 * operation named by operationId (else "<method>_<path>", sanitized), inputSchema built from
 * path/query/header parameters plus a JSON request body under the property "body", routes
 * (api.routes.maps, read-only default) applied, and tools/list result pages serialized to
 * bytes at build time. The converter issue extends this file's implementation, not its shape. */
#ifndef MB_CATALOG_H
#define MB_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/diag.h"
#include "config/config.h"

enum mb_param_location { MB_PARAM_PATH, MB_PARAM_QUERY, MB_PARAM_HEADER, MB_PARAM_COOKIE };

/* What a tools/call of a tool does: an HTTP operation goes downstream; a local helper is
 * answered in-process by src/mcp/helper_tools.c (docs/openapi-mapping.md, "Helper tools,
 * visibility and meta mode"). Zero is HTTP, so a hand-built tool is an operation. */
enum mb_tool_kind { MB_TOOL_HTTP = 0, MB_TOOL_LOCAL };

enum mb_helper_id {
    MB_HELPER_NONE = 0,
    MB_HELPER_LIST_ALL_TAGS,
    MB_HELPER_GET_TOOL_SCHEMA,
    MB_HELPER_GET_FILTER_FIELDS,
    MB_HELPER_SELECT_PROMPTS,
    MB_HELPER_SEARCH_TOOLS,      /* meta mode only */
    MB_HELPER_CALL_TOOL,         /* meta mode only */
};

/* api.tools.mode: "full" lists every tool; "meta" lists only the helpers (search_tools,
 * get_tool_schema, call_tool, ...) while every operation stays callable; "auto" is meta when
 * the spec yields more operations than api.tools.meta_threshold. */
enum mb_tools_mode { MB_TOOLS_FULL = 0, MB_TOOLS_META, MB_TOOLS_AUTO };

struct mb_tool_param {
    char *name;                     /* name in the API */
    char *arg_name;                 /* property name in the tool's arguments (usually == name) */
    enum mb_param_location location;
    bool required;
    json_t *schema;                 /* owned */
};

struct mb_tool {
    char *name;                     /* unique, [A-Za-z0-9_.-]{1,64} */
    char *title;                    /* summary or NULL */
    char *description;
    char *method;                   /* upper case: "GET" */
    char *path_template;            /* "/pets/{petId}" */
    struct mb_tool_param *params;
    size_t param_count;
    bool has_body;
    bool body_required;
    char *body_content_type;        /* "application/json" */
    char *body_arg_name;            /* "body" */
    json_t *input_schema;           /* owned; an object schema */
    json_t *output_schema;          /* owned or NULL */
    json_t *definition;             /* owned; the complete tools/list entry */
    void *priv;                     /* compiled validator and parameter styles, private; NULL
                                     * for a hand-built tool (defaults apply, patterns are
                                     * compiled per call) */
    /* Helper tools, tags and meta mode (catalog.c, visibility.c). */
    enum mb_tool_kind kind;
    enum mb_helper_id helper;       /* which helper when kind == MB_TOOL_LOCAL */
    bool unlisted;                  /* left out of tools/list (meta mode), still callable */
    char **tags;                    /* the operation's tags, owned: spec tags normalized to
                                     * "group:x", "entity:x" from api.routes.entity_rules, and
                                     * tags injected by api.routes.tags (kept as written when they
                                     * carry their own "kind:" prefix) */
    size_t tag_count;
    char *operation_id;             /* the spec's operationId as written, or NULL */
    /* The operation's own base URL (operation- or path-level "servers", resolved, no trailing
     * '/'), owned; NULL = the catalog's base_url. Never set when the configuration overrides
     * the base URL. mb_tool_build_request uses it instead of its base_url argument. */
    char *base_url;
};

struct mb_catalog {
    struct mb_tool *tools;
    size_t tool_count;
    char *base_url;                 /* resolved: config override, else spec servers[0]; no trailing '/' */
    char *spec_title;               /* info.title */
    /* Prepared tools/list results: page i is the serialized result object
     * {"tools":[...],"nextCursor":"..."} for the tools from i*page_size. */
    char **pages;
    size_t *page_lens;
    size_t page_count;
    size_t page_size;
    void *index;                    /* name -> tool lookup, private */
    /* Helper tools, visibility and meta mode. Operations come first in tools[], helpers after. */
    size_t operation_count;         /* tools[0 .. operation_count-1] are HTTP operations */
    bool meta_mode;                 /* tools/list shows only the helpers */
    char *instructions;             /* server.instructions plus the context dir's global.md;
                                     * NULL = use the config's instructions as they are */
};

/* Builds the catalog from cfg->spec_file (and cfg->base_url, cfg->root's api.routes).
 * Returns NULL and adds "file:line: reason" diagnostics when the spec cannot be used. */
struct mb_catalog *mb_catalog_create(const struct mb_config *cfg, struct mb_diags *diags);
/* Builds a catalog from a spec file (for tests and `tools --spec`). routes is the api.routes
 * object ({maps, tags, exclude_tool_name_patterns}; a bare maps array is accepted too) or
 * NULL when the config has no routes section (then only GET and HEAD become tools).
 * all_methods=true ignores routes and keeps every operation. base_url NULL = the spec's
 * servers[0]. page_size 0 = 100. Same returns as mb_catalog_create. */
struct mb_catalog *mb_catalog_create_from_spec(const char *spec_path, const char *base_url,
                                               const json_t *routes, bool all_methods,
                                               size_t page_size, struct mb_diags *diags);
/* Same from spec text in memory (JSON or YAML, detected from the first byte; name is used in
 * diagnostics; text need not be NUL-terminated). For the fuzzer and tests. */
struct mb_catalog *mb_catalog_create_from_buffer(const char *name, const char *text, size_t len,
                                                 const char *base_url, const json_t *routes,
                                                 bool all_methods, size_t page_size,
                                                 struct mb_diags *diags);
/* Frees everything; NULL is a no-op. */
void mb_catalog_destroy(struct mb_catalog *cat);

/* Writes the catalog for `mcpbridge tools`: a human table (name, method, path, summary) or,
 * with json, a JSON array of {name,title,description,inputSchema,outputSchema,annotations,
 * method,path}. Returns 0, -EIO on a write error or -ENOMEM. */
int mb_catalog_write_tools(const struct mb_catalog *cat, FILE *out, bool json);

/* Finds a tool by exact name in O(1). Returns NULL when unknown. */
const struct mb_tool *mb_catalog_find(const struct mb_catalog *cat, const char *name);

/* A tag in the normalized form tools carry: "APSV Transport" -> "group:apsv-transport";
 * "group:x" stays (lower-cased); a tag with another "kind:" prefix ("entity:orders",
 * "team:platform") is kept as written. Returns a heap string, NULL when out of memory. */
char *mb_catalog_tag_normalize(const char *tag);

/* The prepared tools/list result for a cursor (NULL or "" = first page). Returns the bytes of
 * the result object and its length in *len, or NULL when the cursor is not one we issued. */
const char *mb_catalog_page(const struct mb_catalog *cat, const char *cursor, size_t *len);

/* A tools/list for a subset of the catalog (the tools a caller's scopes allow): pages built
 * once from the listed tools for which visible() returns true, with cursors salted by salt so
 * they are only valid in this view. The view borrows cat, which must outlive it. NULL on
 * allocation failure. */
struct mb_catalog_view;
struct mb_catalog_view *mb_catalog_view_create(const struct mb_catalog *cat,
                                               bool (*visible)(void *data, const struct mb_tool *t),
                                               void *data, uint32_t salt);
/* Same contract as mb_catalog_page, for the view. */
const char *mb_catalog_view_page(const struct mb_catalog_view *v, const char *cursor, size_t *len);
void mb_catalog_view_destroy(struct mb_catalog_view *v);

/* Checks arguments against the tool's inputSchema (types, required, enum, bounds, string
 * lengths and patterns, additionalProperties). Returns 0, or -1 with a message for the model
 * in msg naming the field and the rule, e.g. "argument 'limit': must be <= 100 (maximum)". */
int mb_tool_validate_args(const struct mb_tool *tool, const json_t *args, char *msg, size_t msglen);

/* A downstream request built from validated arguments. Everything is heap-owned. */
struct mb_built_request {
    char *method;
    char *url;                      /* base_url + expanded, percent-encoded path + query */
    char **headers;                 /* "Name: value" lines (params of location header/cookie, Content-Type, Accept) */
    size_t header_count;
    char *body;                     /* NULL when none */
    size_t body_len;
};

/* Builds the downstream request. Returns 0, or -1 with a message in msg. */
int mb_tool_build_request(const struct mb_tool *tool, const char *base_url, const json_t *args,
                          struct mb_built_request *out, char *msg, size_t msglen);
void mb_built_request_dispose(struct mb_built_request *req);

#endif
