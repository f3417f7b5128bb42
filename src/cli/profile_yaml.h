/* Writes a JSON value as block-style YAML that mcpbridge's loader (common/doc.h, YAML 1.2 core
 * schema) reads back to the same value, with comment lines attached to object members by JSON
 * pointer. Used for the config.yaml files `mcpbridge init` and `mcpbridge export` write: a person
 * reads and edits them, so they are YAML with comments rather than JSON.
 * Strings are plain when that cannot change their type or meaning (mcp:tools, /mcp, GET,
 * http://127.0.0.1:8501), double-quoted JSON-style otherwise ("8500", "true", "${VAR}"), and
 * literal blocks (|) when they span lines (PEM text). Arrays of scalars are written in flow style
 * ([GET, HEAD]), everything else in block style with two-space indentation. */
#ifndef MB_CLI_PROFILE_YAML_H
#define MB_CLI_PROFILE_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"

/* A comment written on its own lines just above the object member at pointer (RFC 6901, e.g.
 * "/runtime/server/session/secret"), at the member's indentation. text may hold several lines
 * separated by '\n'; each becomes "# line". */
struct mb_yaml_comment {
    const char *pointer;
    const char *text;
};

/* Appends the YAML form of root (an object) to out, preceded by header (comment lines, '\n'
 * separated, may be NULL). Top-level members are separated by a blank line. comments (may be
 * NULL when count is 0) are matched by pointer; a pointer that names nothing is ignored.
 * Keys keep the object's order. Returns 0, or the error of mb_buf_append (-E2BIG, -ENOMEM). */
int mb_yaml_emit(const json_t *root, const char *header, const struct mb_yaml_comment *comments,
                 size_t count, struct mb_buf *out);

#endif
