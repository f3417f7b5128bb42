/* Resources from assistant.resources.dir. Every regular file below the directory is a
 * resource with URI "file:///<relative path>" unless the directory's _index.json (or
 * _index.yaml) maps it: {"resources":[{"uri","file","name","title","description","mimeType"}],
 * "templates":[{"uriTemplate","name","description","mimeType","file"}]} where a template's
 * "file" may contain the same {variables} as the URI template (RFC 6570 level 1) and the
 * text of the file may contain {{variable}} placeholders. mimeType is guessed from the
 * extension when not given; text types are returned as "text", others base64 "blob".
 * Loaded once before fork (the listing, not the contents; contents are read per request,
 * capped at resources.max_file_bytes). */
#ifndef MB_RESOURCES_H
#define MB_RESOURCES_H

#include <jansson.h>
#include <stddef.h>

#include "common/diag.h"

struct mb_resource_set;

/* dir NULL -> an empty set. Returns NULL after adding diagnostics on failure. */
struct mb_resource_set *mb_resources_load(const char *dir, size_t max_file_bytes, struct mb_diags *diags);
void mb_resources_destroy(struct mb_resource_set *set);
size_t mb_resources_count(const struct mb_resource_set *set);
/* {"resources":[...]} (new reference). */
json_t *mb_resources_list(const struct mb_resource_set *set);
/* {"resourceTemplates":[...]} (new reference). */
json_t *mb_resources_templates(const struct mb_resource_set *set);
/* resources/read: {"contents":[{uri, mimeType, text|blob}]} in *result. Returns 0, -ENOENT
 * when no resource or template matches uri, -EFBIG when the file is over the cap, -EIO. */
int mb_resources_read(const struct mb_resource_set *set, const char *uri, json_t **result);
/* True when uri names a resource (static or template match); for resources/subscribe. */
int mb_resources_exists(const struct mb_resource_set *set, const char *uri);
/* Completion values for a template variable (from the template's "values": {var: [..]}
 * in _index.json) starting with prefix. New array or NULL when unknown. */
json_t *mb_resources_complete(const struct mb_resource_set *set, const char *uri_template,
                              const char *variable, const char *prefix);

/* Helpers shared with prompts.c (files beside prompts are read the same confined way). */
struct mb_buf;
/* The MIME type for a file name by its extension, case-insensitive (txt, md, json, html, csv,
 * xml, png, jpg/jpeg, gif, svg, webp, wav, mp3, pdf, yaml; anything else, bin included,
 * "application/octet-stream"). Returns a static string; never NULL. */
const char *mb_resources_mime_type(const char *path);
/* True when content of this MIME type is served as "text" (text types, JSON, XML, YAML, SVG and
 * any +json/+xml type); other types go out base64 as "blob". */
int mb_resources_mime_is_text(const char *mime);
/* Reads the regular file rel (a relative path: no leading '/', no "." or ".." component)
 * below the directory open as dirfd, whose canonical path is root. Symbolic links are
 * followed only while they stay below root (openat2 RESOLVE_BENEATH, or a realpath check on
 * kernels without it). On 0, *data is a NUL-terminated heap copy (caller frees) of *len bytes.
 * Returns -EACCES for a path that is invalid or escapes root, -ENOENT when missing or not a
 * regular file, -EFBIG when over max_bytes (then *len holds the file's size), -ENOMEM, -EIO. */
int mb_resources_read_beneath(int dirfd, const char *root, const char *rel, size_t max_bytes,
                              char **data, size_t *len);
/* Appends text to out with every "{{name}}" (spaces inside the braces allowed) whose name is a
 * member of the object values (string members only) replaced by that string, literally: the
 * inserted values are not scanned again. Other placeholders stay as they are. values may be
 * NULL. Returns 0 or the error of mb_buf_append (-E2BIG past out's max, -ENOMEM). */
int mb_resources_substitute(const char *text, size_t len, const json_t *values, struct mb_buf *out);

#endif
