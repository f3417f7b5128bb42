/* Private interfaces between the files of the OpenAPI converter: spec loading and $ref
 * resolution (spec.c), tool building and naming (tools.c), routes (routes.c), the compiled
 * argument validator (validate.c), request building (request.c) and tools/list pages and
 * the name index (pages.c). Nothing here is visible outside src/openapi. */
#ifndef MB_CATALOG_INTERNAL_H
#define MB_CATALOG_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/doc.h"
#include "openapi/catalog.h"

#define MB_OA_MAX_SPEC_BYTES   (64u * 1024 * 1024) /* refuse larger spec files */
#define MB_OA_MAX_REF_HOPS     16      /* $ref -> $ref chains followed for one object */
#define MB_OA_MAX_SCHEMA_DEPTH 32      /* nesting of a resolved schema before it is cut */
#define MB_OA_MAX_SCHEMA_NODES 20000   /* objects produced while resolving one schema */
#define MB_OA_PTR_MAX          1024    /* JSON pointer buffers */
#define MB_OA_DESC_MAX         1024    /* tool description bytes, ellipsis included */
#define MB_OA_TITLE_MAX        256
#define MB_OA_NAME_MAX         64      /* default tool name length (api.openapi.tool_name_max_length) */
#define MB_OA_NAME_MIN_LIMIT   16      /* allowed range of tool_name_max_length */
#define MB_OA_NAME_LIMIT       128

/* ---- spec.c: the loaded document and $ref resolution ---- */

#define MB_OA_MAX_REF_FILES    64      /* other files reached through $ref, per catalog build */

/* A file reached through a $ref to another file ("common.yaml#/components/schemas/X"). */
struct mb_oa_extdoc {
    char *path;               /* canonical (realpath), heap */
    struct mb_doc *doc;       /* owned; NULL when it could not be loaded */
};

/* Locations ("ptr" arguments below) are RFC 6901 pointers into the spec, or "@<n>:<pointer>"
 * for a pointer into ext[n - 1]; mb_oa_ptr_push appends to either form. */
struct mb_oa_spec {
    struct mb_doc *doc;       /* owned; may be NULL when the root was given directly */
    const json_t *root;
    const char *file;         /* for diagnostics */
    int version;              /* 2 (Swagger 2.0), 30 or 31 */
    struct mb_diags *diags;
    int errors;               /* fatal findings so far */
    bool base_overridden;     /* the configuration gave the base URL (set by mb_oa_base_url) */
    json_t *cache;            /* resolved $ref schemas: "<mode><doc>#<ptr>" -> [schema, nodes,
                               * height]; NULL until first use, freed by mb_oa_spec_cache_clear */
    char spec_real[PATH_MAX]; /* realpath of the spec ("" for a spec given in memory) and of */
    char root_dir[PATH_MAX];  /* its directory, the tree $refs to other files must stay in;
                               * both set on the first such $ref ("" before) */
    struct mb_oa_extdoc *ext; /* files loaded for $refs, at most MB_OA_MAX_REF_FILES */
    size_t ext_count;
    bool ext_closed;          /* set by mb_oa_spec_cache_clear: refs into other files are no
                               * longer followed (mb_oa_deref returns NULL, no diagnostic) */
};

/* Schema resolution modes: input drops readOnly properties, output drops writeOnly ones. */
enum mb_oa_mode { MB_OA_INPUT, MB_OA_OUTPUT };

/* Checks the root ("openapi" 3.0.x/3.1.x or "swagger" 2.0, "paths") and fills version.
 * Returns 0 or -1 after a diagnostic. */
int mb_oa_spec_init(struct mb_oa_spec *s, struct mb_doc *doc, struct mb_diags *diags);
/* Line of a JSON pointer in the document (0 when unknown). */
int mb_oa_line(const struct mb_oa_spec *s, const char *ptr);
/* Adds a fatal "file:line: message" finding located at ptr. */
void mb_oa_error(struct mb_oa_spec *s, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends one RFC 6901 escaped token to the pointer in buf (bufsize bytes). Returns 0 or -1
 * when it does not fit (buf unchanged). */
int mb_oa_ptr_push(char *buf, size_t bufsize, const char *token);
/* Follows "$ref" chains of a non-schema object (parameter, requestBody, response, path
 * item). ptr holds the node's pointer on entry and the target's on return. Returns the
 * borrowed target, or NULL after a diagnostic. */
const json_t *mb_oa_deref(struct mb_oa_spec *s, const json_t *node, char *ptr, size_t ptrsize);
/* A new, self-contained JSON Schema for node: local $refs inlined (cycles and excessive depth
 * replaced by a description-only schema), nullable turned into a "null" type, 3.0 boolean
 * exclusive bounds turned into numbers, OpenAPI-only keywords dropped, readOnly (input) or
 * writeOnly (output) properties dropped. Returns NULL after a diagnostic on a bad $ref or
 * when out of memory. */
json_t *mb_oa_schema_resolve(struct mb_oa_spec *s, const json_t *node, const char *ptr,
                             enum mb_oa_mode mode);
/* Frees the resolved-schema cache (schemas already handed out keep their references) and the
 * files loaded for $refs to other files (see ext_closed). */
void mb_oa_spec_cache_clear(struct mb_oa_spec *s);
/* The base URL: override, else servers[0] (3.x) or schemes/host/basePath (2.0), without a
 * trailing '/'. Returns a heap string or NULL after a diagnostic. */
char *mb_oa_base_url(struct mb_oa_spec *s, const char *override);
/* The base URL of an operation from its own or its path item's "servers" (3.x), or NULL
 * (no such servers, the configuration overrides, or a diagnostic was added: check s->errors).
 * root is the catalog's base URL: a server URL starting with '/' is taken relative to its
 * origin. Heap string. */
char *mb_oa_operation_base_url(struct mb_oa_spec *s, const json_t *item, const char *item_ptr, const json_t *op,
                               const char *op_ptr, const char *root);

/* ---- routes.c ---- */

/* The path and method condition shared by maps, entity_rules and tags entries. */
struct mb_oa_route_match {
    regex_t re;
    bool re_ok;
    bool all_methods;
    char methods[8][8];       /* upper case */
    size_t method_count;
};

/* One api.routes.maps rule: matches when pattern, methods and (if any) tags all match. */
struct mb_oa_route_rule {
    struct mb_oa_route_match m;
    char **tags;              /* canonical (mb_oa_tag_canon); the operation needs one of them */
    size_t tag_count;         /* 0: no tag condition */
    bool tool;                /* TOOL vs anything else */
};

/* One entity_rules entry (a single "entity:<slug>" tag) or tags entry (its tags, canonical). */
struct mb_oa_tag_rule {
    struct mb_oa_route_match m;
    char **tags;
    size_t tag_count;
};

struct mb_oa_routes {
    bool present;             /* a routes section was given */
    bool all;                 /* all_methods: keep everything */
    struct mb_oa_route_rule *rules;
    size_t rule_count;
    struct mb_oa_tag_rule *entity_rules;
    size_t entity_rule_count;
    struct mb_oa_tag_rule *tag_rules;
    size_t tag_rule_count;
    char **name_patterns;     /* fnmatch patterns */
    size_t name_pattern_count;
    size_t name_max;          /* tool name length cap, MB_OA_NAME_MIN_LIMIT..MB_OA_NAME_LIMIT;
                               * routes_init sets MB_OA_NAME_MAX, the caller may change it */
};

/* Compiles the api.routes object (or a bare maps array). routes NULL = no section.
 * Returns 0 or -1 after diagnostics (file names the config source). The plain-string form
 * of "tags" (a filter in earlier versions) is refused with a diagnostic that points to maps
 * rules with "tags". */
int mb_oa_routes_init(struct mb_oa_routes *r, const json_t *routes, bool all_methods,
                      const char *file, struct mb_diags *diags);
/* The same, with diagnostics located in the config document: doc (may be NULL) is the parsed
 * config and ptr the JSON pointer of routes in it ("/api/routes"). */
int mb_oa_routes_init_doc(struct mb_oa_routes *r, const json_t *routes, bool all_methods, const char *file,
                          const struct mb_doc *doc, const char *ptr, struct mb_diags *diags);
void mb_oa_routes_dispose(struct mb_oa_routes *r);
/* The tags of an operation (upper-case method, path template, spec "tags" array or NULL):
 * the spec tags normalized, then the tag of every matching entity_rules entry, then those of
 * every matching tags entry, without duplicates, in that order. Stores a heap array of heap
 * strings in *out (NULL when *count is 0; the caller frees both). Returns 0 or -ENOMEM. */
int mb_oa_routes_tags(const struct mb_oa_routes *r, const char *method, const char *path, const json_t *spec_tags,
                      char ***out, size_t *count);
/* True when the operation becomes a tool: the first maps rule matching method, path and
 * (when the rule lists tags) one of the operation's tags (from mb_oa_routes_tags) decides;
 * no match, or no routes section, keeps GET and HEAD only. */
bool mb_oa_routes_keep(const struct mb_oa_routes *r, const char *method, const char *path, char *const *tags,
                       size_t tag_count);
/* True when a tool name is excluded by exclude_tool_name_patterns. */
bool mb_oa_routes_name_excluded(const struct mb_oa_routes *r, const char *name);
/* "APSV Transport" -> "group:apsv-transport"; "group:x" stays (lower-cased). Heap string. */
char *mb_oa_tag_normalize(const char *tag);
/* A tag written in the configuration or by a client: one with a prefix other than "group:"
 * ("entity:orders", "team:billing") is kept as written, any other is mb_oa_tag_normalize'd.
 * Heap string, NULL when out of memory. */
char *mb_oa_tag_canon(const char *tag);

/* ---- tools.c: naming ---- */

uint32_t mb_oa_hash(const char *s, size_t len);
/* Sanitizes to [A-Za-z0-9_.-] and truncates to 64 with a hash suffix. Writes into out
 * (at least 65 bytes). Empty input gives "". */
void mb_oa_name_sanitize(const char *in, char *out);
/* "<method>_<path>" (lower-case method, braces dropped, runs of '_' collapsed), sanitized. */
void mb_oa_name_from_path(const char *method, const char *path, char *out);
/* Makes names unique: every member of a clash gets "<prefix>_<8 hex of method+path>". */
void mb_oa_names_unique(char **names, const char *const *methods, const char *const *paths,
                        size_t n);
/* The same three with a length cap max (16..128) instead of 64; out holds max + 1 bytes and
 * names[] entries MB_OA_NAME_LIMIT + 1. */
void mb_oa_name_sanitize_n(const char *in, char *out, size_t max);
void mb_oa_name_from_path_n(const char *method, const char *path, char *out, size_t max);
void mb_oa_names_unique_n(char **names, const char *const *methods, const char *const *paths, size_t n,
                          size_t max);
/* summary + "\n\n" + description, cut to max bytes at a UTF-8 boundary with "…". */
char *mb_oa_text_bounded(const char *a, const char *b, size_t max);

/* How a request body is encoded, from its media type (see mb_oa_body_kind). */
enum mb_oa_body_kind {
    MB_OA_BODY_JSON = 0,      /* application/json and +json types: compact JSON */
    MB_OA_BODY_FORM,          /* application/x-www-form-urlencoded: object -> k=v&k=v */
    MB_OA_BODY_MULTIPART,     /* multipart/form-data: object -> parts; base64 parts decoded */
    MB_OA_BODY_TEXT,          /* text types, application/xml and +xml types: the string as is */
    MB_OA_BODY_BINARY         /* anything else: a base64 string, decoded before sending */
};
/* Classifies a media type ("application/json; charset=utf-8", "image/png", ...). */
enum mb_oa_body_kind mb_oa_body_kind(const char *media);

/* Builds every tool of the spec into cat. Returns 0 or -1 after diagnostics. */
int mb_oa_build_tools(struct mb_catalog *cat, struct mb_oa_spec *s, const struct mb_oa_routes *r);
void mb_oa_tool_dispose(struct mb_tool *t);

/* ---- validate.c: compiled per-tool data behind mb_tool.priv ---- */

enum mb_oa_style {
    MB_OA_STYLE_DEFAULT = 0, MB_OA_STYLE_FORM, MB_OA_STYLE_SIMPLE, MB_OA_STYLE_SPACE,
    MB_OA_STYLE_PIPE, MB_OA_STYLE_DEEP, MB_OA_STYLE_LABEL, MB_OA_STYLE_MATRIX
};

struct mb_oa_param_style {
    enum mb_oa_style style;
    bool explode;
    bool allow_reserved;      /* query: RFC 3986 reserved characters sent as they are */
    bool json_content;        /* declared with "content": the value is sent as JSON text */
};

struct mb_oa_regex {
    char *source;             /* the schema's pattern text */
    regex_t re;
    bool ok;                  /* false: the pattern could not be compiled, it is skipped */
};

struct mb_oa_tool_priv {
    struct mb_oa_param_style *styles; /* one per tool param */
    struct mb_oa_regex *regexes;      /* every "pattern" of the input schema, compiled */
    size_t regex_count;
};

/* Translates an ECMA-262 pattern to POSIX ERE (\d \w \s and escapes). Returns 0, or -1 when
 * the pattern uses constructs ERE lacks. */
int mb_oa_ecma_to_ere(const char *src, char *out, size_t outsize);
/* Rewrites an ECMA-262 pattern written for non-Unicode mode (Annex B: lone '{' '}' ']',
 * identity escapes such as \- or \_, incomplete \x/\u, '-' next to a class escape in a class)
 * so that it compiles in Unicode mode (the "u" flag of JSON Schema 2020-12 validators) with
 * the same meaning. Returns 0 (already valid, *out NULL), 1 (*out a heap string to free),
 * -1 (no Unicode-mode equivalent: unbalanced groups, inline flags, octal escapes, quantified
 * lookarounds...) or -ENOMEM. */
int mb_oa_pattern_unicode(const char *src, char **out);
/* Compiles every pattern found in schema into priv. Returns 0 or -ENOMEM. */
int mb_oa_priv_compile(struct mb_oa_tool_priv *priv, const json_t *schema);
void mb_oa_priv_free(struct mb_oa_tool_priv *priv);

/* ---- pages.c ---- */

/* Builds the name index and the tools/list pages. Returns 0 or -ENOMEM / -EEXIST (dup). */
int mb_oa_index_build(struct mb_catalog *cat);
int mb_oa_pages_build(struct mb_catalog *cat, size_t page_size);
void mb_oa_pages_free(struct mb_catalog *cat);

#endif
