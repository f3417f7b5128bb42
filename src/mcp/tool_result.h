/* Turning a downstream HTTP answer into an MCP CallToolResult:
 *   2xx JSON (application/json, *+json)  -> one text content (the body) + structuredContent
 *                                          when the body is an object
 *   2xx application/vnd.mcp.content+json -> the body is an array of MCP content blocks, passed
 *                                          through (lets an API return mixed/embedded content)
 *   2xx text/..., XML, empty               -> text content
 *   2xx image/..., audio/...               -> image / audio content, base64, with its mimeType
 *   2xx anything else                    -> an embedded resource with a base64 blob
 *   non-2xx                              -> isError with "HTTP <status> <reason>: <excerpt>"
 *   transport failure                    -> isError naming the failure (timeout, refused, too big)
 * Text is cut at a UTF-8 boundary when it would exceed the excerpt bound (errors only). */
#ifndef MB_TOOL_RESULT_H
#define MB_TOOL_RESULT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/buf.h"
#include "openapi/catalog.h"
#include "upstream/upstream.h"

#define MB_TOOL_ERROR_EXCERPT 2048

/* Builds the result (new reference, never NULL unless out of memory). url identifies the
 * downstream resource for embedded resources; it must carry no credentials. */
json_t *mb_tool_result_from_response(const struct mb_tool *tool, const struct mb_upstream_response *resp,
                                     const char *url);
/* Writes the same result as JSON text into out. A successful JSON body (the common case) is
 * checked by mb_json_validate and spliced in as bytes: escaped as the text content and, when
 * it is an object, verbatim as structuredContent, with no DOM built. Other answers go through
 * mb_tool_result_from_response. Sets *is_error. Returns 0, -E2BIG past out's cap, -ENOMEM. */
int mb_tool_result_write(const struct mb_tool *tool, const struct mb_upstream_response *resp,
                         const char *url, struct mb_buf *out, bool *is_error);
/* The same, for a guarded body: when the result is not an error, note (may be NULL) is added as
 * a second text content block and meta (may be NULL, not consumed) as the result's "_meta". */
int mb_tool_result_write_ex(const struct mb_tool *tool, const struct mb_upstream_response *resp,
                            const char *url, struct mb_buf *out, bool *is_error, const char *note,
                            const json_t *meta);
/* Which guard input a response Content-Type calls for: 0 = JSON (application/json, *+json,
 * except application/vnd.mcp.content+json), 1 = text (text/...), -1 = not guarded. */
int mb_tool_result_guard_input(const char *content_type);
/* {"content":[{"type":"text","text":<message>}],"isError":true} (new reference). */
json_t *mb_tool_error_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8 boundary. */
size_t mb_utf8_prefix(const char *s, size_t len, size_t max);

#endif
