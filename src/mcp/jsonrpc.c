/* Implementation of jsonrpc.h. */
#include "mcp/jsonrpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum mb_jsonrpc_kind mb_jsonrpc_classify(const json_t *msg, char *why, size_t whylen)
{
    if (!json_is_object(msg)) {
        snprintf(why, whylen, "a JSON-RPC message must be an object");
        return MB_JSONRPC_INVALID;
    }
    const json_t *version = json_object_get(msg, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
        snprintf(why, whylen, "\"jsonrpc\" must be \"2.0\"");
        return MB_JSONRPC_INVALID;
    }
    const json_t *id = json_object_get(msg, "id");
    if (id) {
        if (json_is_null(id)) {
            snprintf(why, whylen, "\"id\" must not be null");
            return MB_JSONRPC_INVALID;
        }
        if (!json_is_string(id) && !json_is_integer(id)) {
            snprintf(why, whylen, "\"id\" must be a string or an integer");
            return MB_JSONRPC_INVALID;
        }
    }
    const json_t *method = json_object_get(msg, "method");
    if (method) {
        if (!json_is_string(method) || json_string_length(method) == 0) {
            snprintf(why, whylen, "\"method\" must be a non-empty string");
            return MB_JSONRPC_INVALID;
        }
        const json_t *params = json_object_get(msg, "params");
        if (params && !json_is_object(params) && !json_is_array(params)) {
            snprintf(why, whylen, "\"params\" must be an object or an array");
            return MB_JSONRPC_INVALID;
        }
        return id ? MB_JSONRPC_REQUEST : MB_JSONRPC_NOTIFICATION;
    }
    bool has_result = json_object_get(msg, "result") != NULL;
    bool has_error = json_object_get(msg, "error") != NULL;
    if (id && has_result != has_error)
        return MB_JSONRPC_RESPONSE;
    snprintf(why, whylen, "a request needs \"method\"; a response needs \"id\" and one of \"result\" or \"error\"");
    return MB_JSONRPC_INVALID;
}

int mb_jsonrpc_write_id(struct mb_buf *out, const json_t *id)
{
    if (json_is_integer(id))
        return mb_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    if (json_is_string(id)) {
        int rc = mb_buf_append(out, "\"", 1);
        if (!rc)
            rc = mb_buf_append_json_escaped(out, json_string_value(id), json_string_length(id));
        if (!rc)
            rc = mb_buf_append(out, "\"", 1);
        return rc;
    }
    return mb_buf_append_str(out, "null");
}

static int write_head(struct mb_buf *out, const json_t *id)
{
    int rc = mb_buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (!rc)
        rc = mb_jsonrpc_write_id(out, id);
    return rc;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return mb_buf_append(data, buffer, size) ? -1 : 0;
}

static int write_value(struct mb_buf *out, const json_t *value)
{
    return json_dump_callback(value, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) ? -E2BIG : 0;
}

int mb_jsonrpc_write_result(struct mb_buf *out, const json_t *id, const json_t *result)
{
    size_t start = out->len;
    int rc = write_head(out, id);
    if (!rc)
        rc = mb_buf_append_str(out, ",\"result\":");
    if (!rc)
        rc = write_value(out, result);
    if (!rc)
        rc = mb_buf_append(out, "}", 1);
    if (rc)
        mb_buf_truncate(out, start);
    return rc;
}

int mb_jsonrpc_write_result_raw(struct mb_buf *out, const json_t *id, const char *raw, size_t len)
{
    size_t start = out->len;
    int rc = write_head(out, id);
    if (!rc)
        rc = mb_buf_append_str(out, ",\"result\":");
    if (!rc)
        rc = mb_buf_append(out, raw, len);
    if (!rc)
        rc = mb_buf_append(out, "}", 1);
    if (rc)
        mb_buf_truncate(out, start);
    return rc;
}

int mb_jsonrpc_write_error(struct mb_buf *out, const json_t *id, int code, const char *message,
                           const json_t *data)
{
    size_t start = out->len;
    int rc = write_head(out, id);
    if (!rc)
        rc = mb_buf_printf(out, ",\"error\":{\"code\":%d,\"message\":\"", code);
    if (!rc)
        rc = mb_buf_append_json_escaped(out, message, strlen(message));
    if (!rc)
        rc = mb_buf_append(out, "\"", 1);
    if (!rc && data) {
        rc = mb_buf_append_str(out, ",\"data\":");
        if (!rc)
            rc = write_value(out, data);
    }
    if (!rc)
        rc = mb_buf_append_str(out, "}}");
    if (rc)
        mb_buf_truncate(out, start);
    return rc;
}

int mb_jsonrpc_write_notification(struct mb_buf *out, const char *method, const json_t *params)
{
    size_t start = out->len;
    int rc = mb_buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"method\":\"");
    if (!rc)
        rc = mb_buf_append_json_escaped(out, method, strlen(method));
    if (!rc)
        rc = mb_buf_append(out, "\"", 1);
    if (!rc && params) {
        rc = mb_buf_append_str(out, ",\"params\":");
        if (!rc)
            rc = write_value(out, params);
    }
    if (!rc)
        rc = mb_buf_append(out, "}", 1);
    if (rc)
        mb_buf_truncate(out, start);
    return rc;
}

char *mb_jsonrpc_error_text(int code, const char *message, size_t *len)
{
    struct mb_buf b;
    mb_buf_init(&b, 64 * 1024);
    if (mb_jsonrpc_write_error(&b, NULL, code, message, NULL)) {
        mb_buf_dispose(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return mb_buf_steal(&b);
}
