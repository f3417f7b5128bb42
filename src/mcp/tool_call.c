/* tools/call: unknown tool -> -32602; arguments validated against the compiled inputSchema
 * (a failure is an isError result naming the field and the rule, so the model can correct
 * itself); the downstream request built from the arguments and sent through the worker's
 * libcurl pool; progress notifications (when the client gave a progressToken) and log
 * notifications (when it chose a logging level) while the call runs; the answer mapped to
 * content by tool_result.c. Local (helper) tools are answered in-process by helper_tools.c;
 * its call_tool hands an operation back to this pipeline. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "mcp/helper_tools.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_internal.h"
#include "mcp/tool_result.h"
#include "process/runtime.h"
#include "upstream/upstream.h"

#define MB_MAX_DOWNSTREAM_HEADERS 64
#define MB_PROGRESS_MIN_INTERVAL_MS 100

static uint64_t now_ms(const struct mb_mcp_request *req)
{
    return uv_now(req->srv->loop);
}

/* Sends notifications/message when the client's chosen level lets this level through. */
static void send_log(struct mb_mcp_request *req, int level, json_t *data)
{
    if (req->log_level < 0 || level < req->log_level) {
        json_decref(data);
        return;
    }
    mb_mcp_send_notification(req, "notifications/message",
                             json_pack("{s:s,s:s,s:o}", "level", mb_mcp_log_levels[level], "logger",
                                       "mcpbridge.tools", "data", data));
}

/* Sends notifications/progress with a strictly increasing value in [0, 100] (percent). */
static void send_progress(struct mb_mcp_request *req, double progress, const char *message)
{
    if (!req->progress_token || progress <= req->last_progress)
        return;
    req->last_progress = progress;
    req->last_progress_ms = now_ms(req);
    json_t *params = json_pack("{s:O,s:f,s:f}", "progressToken", req->progress_token, "progress",
                               progress, "total", 100.0);
    if (message)
        json_object_set_new(params, "message", json_string(message));
    mb_mcp_send_notification(req, "notifications/progress", params);
}

static void on_progress(void *data, enum mb_upstream_phase phase, size_t received, size_t total)
{
    struct mb_mcp_request *req = data;
    char message[128];
    switch (phase) {
    case MB_UPSTREAM_PHASE_STARTED:
        break;
    case MB_UPSTREAM_PHASE_HEADERS:
        send_progress(req, 10.0, "downstream answered; receiving the response");
        send_log(req, 1, json_pack("{s:s,s:s}", "message", "downstream answered; receiving the response",
                                   "tool", req->tool->name));
        break;
    case MB_UPSTREAM_PHASE_BODY:
        if (total == (size_t)-1 || total == 0)
            break;
        if (now_ms(req) - req->last_progress_ms < MB_PROGRESS_MIN_INTERVAL_MS && received < total)
            break;
        snprintf(message, sizeof message, "received %zu of %zu bytes", received, total);
        send_progress(req, 10.0 + 80.0 * ((double)received / (double)total), message);
        break;
    }
}

static void on_done(void *data, const struct mb_upstream_response *resp)
{
    struct mb_mcp_request *req = data;
    req->call = NULL;
    uint64_t elapsed = now_ms(req) - req->started_ms;
    struct mb_buf result;
    mb_buf_init(&result, MB_MCP_MAX_RESPONSE);
    /* Text (escaped, at most 6x but usually ~1.1x) plus structuredContent: one allocation. */
    mb_buf_reserve(&result, resp->body_len + resp->body_len / 4 + resp->body_len + 128);
    bool failed = false;
    int rc = mb_tool_result_write(req->tool, resp, req->url, &result, &failed);
    if (resp->error)
        mb_warn("tools", "%s: downstream %s %s failed after %llu ms: %s", req->tool->name,
                req->tool->method, req->tool->path_template, (unsigned long long)elapsed,
                resp->error_message ? resp->error_message : "error");
    else
        mb_debug("tools", "%s: downstream %s %s -> %ld in %llu ms, %zu bytes", req->tool->name,
                 req->tool->method, req->tool->path_template, resp->status,
                 (unsigned long long)elapsed, resp->body_len);
    send_progress(req, 100.0, "done");
    send_log(req, failed ? 4 : 1,
             json_pack("{s:s,s:s,s:I,s:I,s:I}", "message", failed ? "tool call failed" : "tool call completed",
                       "tool", req->tool->name, "status", (json_int_t)resp->status, "durationMs",
                       (json_int_t)elapsed, "bytes", (json_int_t)resp->body_len));
    if (rc == 0)
        mb_mcp_finish_raw(req, result.data, result.len);
    else
        mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "the tool result could not be encoded");
    mb_buf_dispose(&result);
}

/* Strips the query from a URL for messages and resource URIs (queries may carry keys). */
static char *url_without_query(const char *url)
{
    return strndup(url, strcspn(url, "?#"));
}

struct mb_mcp_request *mb_mcp_tools_call(struct mb_mcp_request *req, const json_t *params)
{
    struct mb_mcp_server *srv = req->srv;
    const struct mb_config *cfg = srv->rt->config;
    const json_t *name = json_object_get(params, "name");
    if (!json_is_string(name)) {
        struct mb_buf out;
        mb_buf_init(&out, 4096);
        mb_jsonrpc_write_error(&out, req->id, MB_JSONRPC_INVALID_PARAMS,
                               "tools/call: params.name must be a string", NULL);
        req->finished = true;
        req->ops->message(req->sink, out.data, out.len, true);
        mb_buf_dispose(&out);
        return NULL;
    }
    const struct mb_tool *tool = mb_catalog_find(srv->rt->catalog, json_string_value(name));
    const json_t *args = json_object_get(params, "arguments");
    const char *problem = NULL;
    char text[600];
    if (!tool) {
        snprintf(text, sizeof text, "Unknown tool: %.200s", json_string_value(name));
        problem = text;
    } else if (args && !json_is_object(args) && !json_is_null(args)) {
        snprintf(text, sizeof text, "tools/call: params.arguments must be an object");
        problem = text;
    }
    if (problem) {
        struct mb_buf out;
        mb_buf_init(&out, 4096);
        mb_jsonrpc_write_error(&out, req->id, MB_JSONRPC_INVALID_PARAMS, problem, NULL);
        req->finished = true;
        req->ops->message(req->sink, out.data, out.len, true);
        mb_buf_dispose(&out);
        return NULL;
    }
    req->tool = tool;
    if (json_is_null(args))
        args = NULL;

    char msg[1024];
    if (mb_tool_validate_args(tool, args, msg, sizeof msg) != 0) {
        mb_info("tools.validation", "%s: invalid arguments: %s", tool->name, msg);
        mb_mcp_finish_result(req, mb_tool_error_result("Invalid arguments for tool %s: %s", tool->name, msg));
        return NULL;
    }
    /* ---- local (helper) tools: answered in-process, no downstream (helper_tools.c) ---- */
    if (tool->kind != MB_TOOL_HTTP) {
        const struct mb_helper_env env = { srv->rt->catalog, srv->rt->prompts };
        const struct mb_tool *target = NULL;
        const json_t *target_args = NULL;
        json_t *result = mb_helper_tool_call(&env, tool, args, &target, &target_args);
        if (!target) {
            mb_mcp_finish_result(req, result);
            return NULL;
        }
        /* call_tool named an operation: validate and call it exactly as tools/call would. */
        tool = req->tool = target;
        args = json_is_null(target_args) ? NULL : target_args;
        if (mb_tool_validate_args(tool, args, msg, sizeof msg) != 0) {
            mb_info("tools.validation", "%s: invalid arguments: %s", tool->name, msg);
            mb_mcp_finish_result(req, mb_tool_error_result("Invalid arguments for tool %s: %s", tool->name, msg));
            return NULL;
        }
    }
    /* ---- end of local tools ---- */
    struct mb_built_request built;
    memset(&built, 0, sizeof built);
    if (mb_tool_build_request(tool, srv->rt->catalog->base_url, args, &built, msg, sizeof msg) != 0) {
        mb_mcp_finish_result(req, mb_tool_error_result("Could not build the request for tool %s: %s", tool->name, msg));
        mb_built_request_dispose(&built);
        return NULL;
    }

    /* Headers: the configured defaults first, then what the operation needs. */
    const char *headers[MB_MAX_DOWNSTREAM_HEADERS];
    char *owned[MB_MAX_DOWNSTREAM_HEADERS];
    size_t header_count = 0, owned_count = 0;
    const char *key;
    json_t *value;
    if (json_is_object(cfg->default_headers)) {
        json_object_foreach(cfg->default_headers, key, value) {
            if (!json_is_string(value) || owned_count == MB_MAX_DOWNSTREAM_HEADERS / 2)
                continue;
            if (asprintf(&owned[owned_count], "%s: %s", key, json_string_value(value)) < 0)
                continue;
            headers[header_count++] = owned[owned_count++];
        }
    }
    for (size_t i = 0; i < built.header_count && header_count < MB_MAX_DOWNSTREAM_HEADERS; i++)
        headers[header_count++] = built.headers[i];

    const json_t *meta = json_object_get(params, "_meta");
    const json_t *token = json_object_get(meta, "progressToken");
    if (json_is_string(token) || json_is_integer(token))
        req->progress_token = json_incref((json_t *)token);
    req->last_progress = -1;
    req->started_ms = now_ms(req);
    req->url = url_without_query(built.url);

    struct mb_upstream_request up_req = {
        .method = built.method,
        .url = built.url,
        .headers = headers,
        .header_count = header_count,
        .body = built.body,
        .body_len = built.body_len,
        .timeout_ms = cfg->request_timeout_enabled ? cfg->request_timeout_ms : 0,
        .max_response_bytes = cfg->max_response_bytes,
    };
    bool wants_phases = req->progress_token || (req->log_level >= 0 && req->log_level <= 1);
    req->call = mb_upstream_start(srv->up, &up_req, on_done, wants_phases ? on_progress : NULL, req);
    for (size_t i = 0; i < owned_count; i++)
        free(owned[i]);
    mb_built_request_dispose(&built);
    if (!req->call) {
        mb_mcp_finish_result(req, mb_tool_error_result("Could not start the downstream request for tool %s.", tool->name));
        return NULL;
    }
    /* In flight: link it so cancellation and shutdown can find it. */
    mb_mcp_request_link(req);
    send_progress(req, 0.0, "request sent to the downstream API");
    send_log(req, 1, json_pack("{s:s,s:s,s:s,s:s}", "message", "calling the downstream API", "tool",
                               tool->name, "method", tool->method, "path", tool->path_template));
    return req;
}
