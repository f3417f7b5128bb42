/* Loading JSON and YAML documents (configs, OpenAPI specs) into jansson values while keeping
 * where each value came from, so validators can report "file:line: message".
 * YAML goes through libyaml's event parser: YAML 1.2 core schema (plain true/false, null/~,
 * integers and floats become those JSON types; yes/no stay strings; quoted scalars stay
 * strings; .inf/.nan are refused), aliases deep-copied with a bound on total expanded nodes
 * (billion laughs), merge keys "<<", duplicate keys refused, one document per file.
 * JSON goes through jansson; positions come from a scan of the same text. */
#ifndef MB_DOC_H
#define MB_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "common/diag.h"

enum mb_doc_format { MB_DOC_AUTO = 0, MB_DOC_JSON, MB_DOC_YAML };

struct mb_doc;

/* Reads and parses a file; the format comes from the extension (.json, .yaml, .yml) or, for
 * others, from the first non-space byte ('{' or '[' means JSON). Files over max_bytes are refused.
 * Returns NULL after adding a "file:line: reason" diagnostic on any failure. */
struct mb_doc *mb_doc_load_file(const char *path, size_t max_bytes, struct mb_diags *diags);
/* Same for text in memory; name is used in diagnostics. The text need not be NUL-terminated. */
struct mb_doc *mb_doc_load_buffer(const char *name, const char *text, size_t len,
                                  enum mb_doc_format format, struct mb_diags *diags);
/* The parsed root value, borrowed (valid until mb_doc_destroy). */
json_t *mb_doc_root(const struct mb_doc *doc);
/* The file name or buffer name given at load time, borrowed. */
const char *mb_doc_name(const struct mb_doc *doc);
/* The 1-based line where the value at this RFC 6901 JSON pointer starts ("" is the root,
 * "/runtime/server/transport/port", "/paths/~1pets~1{id}/get"). For an object member this
 * is the line of its key. Returns 0 when the pointer names nothing. */
int mb_doc_line(const struct mb_doc *doc, const char *json_pointer);
void mb_doc_destroy(struct mb_doc *doc);

#endif
