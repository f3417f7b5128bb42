/* A byte-level JSON validator: checks that a buffer holds exactly one valid JSON value
 * (RFC 8259, UTF-8 checked, nesting bounded) without building a DOM. Iterative with an
 * explicit stack, so hostile nesting cannot exhaust the C stack. The hot path uses it to splice
 * a downstream JSON body into the MCP result as structuredContent without parsing it into
 * jansson and dumping it again. */
#ifndef MB_JSON_SCAN_H
#define MB_JSON_SCAN_H

#include <stddef.h>

#define MB_JSON_MAX_DEPTH 512

enum mb_json_top {
    MB_JSON_TOP_INVALID = 0,
    MB_JSON_TOP_OBJECT,
    MB_JSON_TOP_ARRAY,
    MB_JSON_TOP_SCALAR,
};

/* Returns the kind of the single top-level value in s[0..len), or MB_JSON_TOP_INVALID when the
 * text is not valid JSON, not valid UTF-8, nested deeper than max_depth (<= MB_JSON_MAX_DEPTH),
 * or has anything but whitespace after the value. */
enum mb_json_top mb_json_validate(const char *s, size_t len, unsigned max_depth);

#endif
