/* A JSON value written as YAML, for `mcpbridge openapi-gen --out FILE.yaml`: block style through
 * libyaml's emitter, strings quoted whenever a YAML 1.1 or 1.2 reader could take them for
 * something else (null, true, yes, 0x1F, 1e5, .inf, "<<", "" ...), multi-line strings as
 * literal blocks where libyaml allows it. Reading the output back (common/doc.h, or any YAML
 * 1.2 reader) gives a value json_equal to the input. */
#ifndef MB_CLI_OPENAPI_GEN_YAML_H
#define MB_CLI_OPENAPI_GEN_YAML_H

#include <jansson.h>

#include "common/buf.h"

/* Appends the YAML text of value (one document, UTF-8, ending with a newline) to out.
 * Returns 0, -E2BIG when out's maximum is reached, -ENOMEM, or -EINVAL when the emitter refuses
 * the value (a string that is not valid UTF-8, or nesting deeper than 512 levels). */
int mb_yaml_write(const json_t *value, struct mb_buf *out);

#endif
