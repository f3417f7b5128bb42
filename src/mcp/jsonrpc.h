/* JSON-RPC 2.0 framing for MCP: classifying and validating decoded messages, and writing
 * responses and errors as bytes. Responses are written straight into a capped buffer, so a
 * prepared result (the tools/list pages) is spliced in without building a DOM. */
#ifndef MB_JSONRPC_H
#define MB_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Standard and MCP error codes. */
#define MB_JSONRPC_PARSE_ERROR       (-32700)
#define MB_JSONRPC_INVALID_REQUEST   (-32600)
#define MB_JSONRPC_METHOD_NOT_FOUND  (-32601)
#define MB_JSONRPC_INVALID_PARAMS    (-32602)
#define MB_JSONRPC_INTERNAL_ERROR    (-32603)
#define MB_JSONRPC_SESSION_NOT_FOUND (-32001)
#define MB_JSONRPC_RESOURCE_NOT_FOUND (-32002)
/* mcpbridge's server-defined codes (JSON-RPC reserves -32000..-32099 for them). */
#define MB_JSONRPC_UNAUTHORIZED      (-32010) /* no or bad credentials (HTTP 401 beside it) */
#define MB_JSONRPC_FORBIDDEN         (-32011) /* insufficient scope (HTTP 403 beside it, or in a batch) */
#define MB_JSONRPC_RATE_LIMITED      (-32029) /* rate limit: data.retryAfterMs says when to retry */

enum mb_jsonrpc_kind {
    MB_JSONRPC_INVALID = 0,
    MB_JSONRPC_REQUEST,       /* method + id */
    MB_JSONRPC_NOTIFICATION,  /* method, no id */
    MB_JSONRPC_RESPONSE,      /* result or error + id (a client answering a server request) */
};

/* Classifies one decoded message. On MB_JSONRPC_INVALID, writes a reason for the client
 * into why (whylen bytes). Checks: an object, "jsonrpc":"2.0", "method" a string, "id" a
 * string or integer (never null, never fractional) when present, "params" an object or
 * array when present, a response has exactly one of result/error. */
enum mb_jsonrpc_kind mb_jsonrpc_classify(const json_t *msg, char *why, size_t whylen);

/* Appends the id as JSON text (a string escaped, an integer in decimal, null for NULL). */
int mb_jsonrpc_write_id(struct mb_buf *out, const json_t *id);

/* Appends {"jsonrpc":"2.0","id":<id>,"result":<result>} where result is a DOM value. */
int mb_jsonrpc_write_result(struct mb_buf *out, const json_t *id, const json_t *result);
/* Same, with the result given as ready JSON text (must be one valid JSON value). */
int mb_jsonrpc_write_result_raw(struct mb_buf *out, const json_t *id, const char *raw, size_t len);
/* Appends {"jsonrpc":"2.0","id":<id or null>,"error":{"code":..,"message":..,"data"?:..}}. */
int mb_jsonrpc_write_error(struct mb_buf *out, const json_t *id, int code, const char *message,
                           const json_t *data);
/* Appends {"jsonrpc":"2.0","method":<method>,"params":<params>}. */
int mb_jsonrpc_write_notification(struct mb_buf *out, const char *method, const json_t *params);

/* A heap string holding a complete error envelope (id null) for transport-level failures.
 * Never NULL (falls back to a static-shaped message on allocation failure is impossible:
 * returns NULL only when out of memory). Caller frees. */
char *mb_jsonrpc_error_text(int code, const char *message, size_t *len);

#endif
