/* Implementation of tool_result.h. */
#include "mcp/tool_result.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/json_scan.h"
#include "http/http_server.h"

size_t mb_utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* Step back over continuation bytes (10xxxxxx) to the start of a character. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

json_t *mb_tool_error_result(const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 1);
}

/* Compares the media type (before any ';') of content_type with prefix; exact=false matches
 * "prefix*" (e.g. "image/"). */
static bool media_is(const char *content_type, const char *type, bool exact)
{
    if (!content_type)
        return false;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
        n--;
    size_t tl = strlen(type);
    if (exact)
        return n == tl && strncasecmp(content_type, type, tl) == 0;
    return n >= tl && strncasecmp(content_type, type, tl) == 0;
}

static bool media_is_json(const char *ct)
{
    if (media_is(ct, "application/json", true))
        return true;
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static bool media_is_text(const char *ct)
{
    return !ct || media_is(ct, "text/", false) || media_is(ct, "application/xml", true) ||
           media_is(ct, "application/javascript", true) || media_is(ct, "application/yaml", true) ||
           media_is(ct, "application/x-www-form-urlencoded", true);
}

static char *media_type_only(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return strndup(ct, n);
}

static json_t *text_result(const char *text, size_t len)
{
    return json_pack("{s:[{s:s,s:s%}]}", "content", "type", "text", "text", text, len);
}

static json_t *binary_result(const char *kind, const struct mb_upstream_response *resp, const char *url)
{
    char *data = mb_base64_encode(resp->body, resp->body_len);
    char *mime = media_type_only(resp->content_type ? resp->content_type : "application/octet-stream");
    json_t *block;
    if (strcmp(kind, "resource") == 0)
        block = json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "resource", "resource", "uri", url,
                          "mimeType", mime, "blob", data ? data : "");
    else
        block = json_pack("{s:s,s:s,s:s}", "type", kind, "data", data ? data : "", "mimeType", mime);
    free(data);
    free(mime);
    return json_pack("{s:[o]}", "content", block);
}

/* Checks one MCP content block; returns NULL when valid, else the reason. */
static const char *invalid_block(const json_t *block)
{
    const char *type = json_string_value(json_object_get(block, "type"));
    if (!json_is_object(block) || !type)
        return "every content block must be an object with a string \"type\"";
    if (strcmp(type, "text") == 0)
        return json_is_string(json_object_get(block, "text")) ? NULL : "a text block needs a string \"text\"";
    if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0)
        return json_is_string(json_object_get(block, "data")) && json_is_string(json_object_get(block, "mimeType"))
                   ? NULL : "image and audio blocks need string \"data\" (base64) and \"mimeType\"";
    if (strcmp(type, "resource") == 0) {
        const json_t *res = json_object_get(block, "resource");
        bool has_text = json_is_string(json_object_get(res, "text"));
        bool has_blob = json_is_string(json_object_get(res, "blob"));
        return json_is_string(json_object_get(res, "uri")) && has_text != has_blob
                   ? NULL : "a resource block needs resource.uri and exactly one of resource.text or resource.blob";
    }
    if (strcmp(type, "resource_link") == 0)
        return json_is_string(json_object_get(block, "uri")) && json_is_string(json_object_get(block, "name"))
                   ? NULL : "a resource_link block needs string \"uri\" and \"name\"";
    return "unknown content block type";
}

/* application/vnd.mcp.content+json: an array of content blocks, or an object with "content"
 * (and optionally "structuredContent" and "isError"). Every block is checked. */
static json_t *passthrough_result(const struct mb_upstream_response *resp)
{
    json_error_t err;
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, &err);
    json_t *content = json_is_array(doc) ? doc : json_object_get(doc, "content");
    const char *why = json_is_array(content) ? NULL : "the body must be an array of content blocks or an object with \"content\"";
    size_t i;
    json_t *block;
    if (!why) {
        json_array_foreach(content, i, block) {
            if ((why = invalid_block(block)) != NULL)
                break;
        }
    }
    const json_t *structured = json_is_object(doc) ? json_object_get(doc, "structuredContent") : NULL;
    if (!why && structured && !json_is_object(structured))
        why = "\"structuredContent\" must be an object";
    if (why) {
        json_decref(doc);
        return mb_tool_error_result("invalid MCP content from downstream: %s", why);
    }
    json_t *result = json_pack("{s:O}", "content", content);
    if (structured)
        json_object_set(result, "structuredContent", (json_t *)structured);
    if (json_is_object(doc) && json_is_true(json_object_get(doc, "isError")))
        json_object_set_new(result, "isError", json_true());
    json_decref(doc);
    return result;
}

json_t *mb_tool_result_from_response(const struct mb_tool *tool, const struct mb_upstream_response *resp,
                                     const char *url)
{
    switch (resp->error) {
    case MB_UPSTREAM_OK:
        break;
    case MB_UPSTREAM_ETIMEDOUT:
        return mb_tool_error_result("The downstream API did not answer in time (%s).", resp->error_message);
    case MB_UPSTREAM_ETOOBIG:
        return mb_tool_error_result("The downstream response was too large and was not returned (%s). "
                                    "Ask for less data, for example with paging or filter parameters.",
                                    resp->error_message);
    default:
        return mb_tool_error_result("The downstream request failed: %s", resp->error_message);
    }
    const char *ct = resp->content_type;
    if (resp->status < 200 || resp->status > 299) {
        size_t n = mb_utf8_prefix(resp->body, resp->body_len, MB_TOOL_ERROR_EXCERPT);
        bool textual = media_is_text(ct) || media_is_json(ct);
        return mb_tool_error_result("HTTP %ld %s%s%.*s%s", resp->status,
                                    mb_http_status_text((int)resp->status),
                                    n && textual ? ": " : "", textual ? (int)n : 0, resp->body,
                                    n < resp->body_len && textual ? "…" : "");
    }
    if (resp->body_len == 0) {
        char text[64];
        snprintf(text, sizeof text, "HTTP %ld %s (no content)", resp->status, mb_http_status_text((int)resp->status));
        return text_result(text, strlen(text));
    }
    if (media_is(ct, "application/vnd.mcp.content+json", true))
        return passthrough_result(resp);
    if (media_is_json(ct)) {
        json_t *result = text_result(resp->body, resp->body_len);
        if (!result) /* not UTF-8: hand it over as bytes rather than lose it */
            return binary_result("resource", resp, url);
        json_error_t err;
        json_t *doc = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, &err);
        if (json_is_object(doc))
            json_object_set_new(result, "structuredContent", doc);
        else
            json_decref(doc);
        (void)tool;
        return result;
    }
    if (media_is(ct, "image/", false))
        return binary_result("image", resp, url);
    if (media_is(ct, "audio/", false))
        return binary_result("audio", resp, url);
    json_t *text = media_is_text(ct) ? text_result(resp->body, resp->body_len) : NULL;
    return text ? text : binary_result("resource", resp, url);
}

/* Appends valid JSON text on one line: in valid JSON every raw CR or LF byte is whitespace
 * between tokens (inside strings they must be escaped), so turning them into spaces changes
 * nothing, and keeps newline-delimited stdio and SSE "data:" framing intact. */
static int append_json_one_line(struct mb_buf *out, const char *json, size_t len)
{
    size_t start = out->len;
    int rc = mb_buf_append(out, json, len);
    if (rc)
        return rc;
    char *const end = out->data + out->len;
    for (char *p = out->data + start; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;)
        *p++ = ' ';
    for (char *p = out->data + start; (p = memchr(p, '\r', (size_t)(end - p))) != NULL;)
        *p++ = ' ';
    return 0;
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    return mb_buf_append(data, buffer, size) ? -1 : 0;
}

int mb_tool_result_guard_input(const char *content_type)
{
    if (media_is_json(content_type) && !media_is(content_type, "application/vnd.mcp.content+json", true))
        return 0;
    if (media_is(content_type, "text/", false))
        return 1;
    return -1;
}

int mb_tool_result_write(const struct mb_tool *tool, const struct mb_upstream_response *resp,
                         const char *url, struct mb_buf *out, bool *is_error)
{
    return mb_tool_result_write_ex(tool, resp, url, out, is_error, NULL, NULL);
}

/* Appends ,{"type":"text","text":<note>} when note is set. */
static int append_note(struct mb_buf *out, const char *note)
{
    if (!note)
        return 0;
    int rc = mb_buf_append_str(out, ",{\"type\":\"text\",\"text\":\"");
    if (!rc)
        rc = mb_buf_append_json_escaped(out, note, strlen(note));
    if (!rc)
        rc = mb_buf_append_str(out, "\"}");
    return rc;
}

int mb_tool_result_write_ex(const struct mb_tool *tool, const struct mb_upstream_response *resp,
                            const char *url, struct mb_buf *out, bool *is_error, const char *note,
                            const json_t *meta)
{
    *is_error = false;
    if (resp->error == MB_UPSTREAM_OK && resp->status >= 200 && resp->status <= 299 &&
        resp->body_len > 0 && media_is_json(resp->content_type) &&
        !media_is(resp->content_type, "application/vnd.mcp.content+json", true)) {
        enum mb_json_top top = mb_json_validate(resp->body, resp->body_len, MB_JSON_MAX_DEPTH);
        if (top != MB_JSON_TOP_INVALID) {
            size_t start = out->len;
            int rc = mb_buf_append_str(out, "{\"content\":[{\"type\":\"text\",\"text\":\"");
            if (!rc)
                rc = mb_buf_append_json_escaped(out, resp->body, resp->body_len);
            if (!rc)
                rc = mb_buf_append_str(out, "\"}");
            if (!rc)
                rc = append_note(out, note);
            if (!rc)
                rc = mb_buf_append_str(out, "]");
            if (!rc && top == MB_JSON_TOP_OBJECT) {
                rc = mb_buf_append_str(out, ",\"structuredContent\":");
                if (!rc)
                    rc = append_json_one_line(out, resp->body, resp->body_len);
            }
            if (!rc && meta) {
                rc = mb_buf_append_str(out, ",\"_meta\":");
                if (!rc)
                    rc = json_dump_callback(meta, dump_to_buf, out, JSON_COMPACT) ? -E2BIG : 0;
            }
            if (!rc)
                rc = mb_buf_append(out, "}", 1);
            if (rc) {
                mb_buf_truncate(out, start);
            }
            return rc;
        }
    }
    json_t *result = mb_tool_result_from_response(tool, resp, url);
    if (!result)
        return -ENOMEM;
    *is_error = json_is_true(json_object_get(result, "isError"));
    if (!*is_error && note)
        json_array_append_new(json_object_get(result, "content"), json_pack("{s:s,s:s}", "type", "text", "text", note));
    if (!*is_error && meta)
        json_object_set(result, "_meta", (json_t *)meta);
    int rc = json_dump_callback(result, dump_to_buf, out, JSON_COMPACT) ? -E2BIG : 0;
    json_decref(result);
    return rc;
}
