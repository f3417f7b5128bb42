/* tools/call: unknown tool -> -32602; arguments validated against the compiled inputSchema
 * (a failure is an isError result naming the field and the rule, so the model can correct
 * itself); the downstream request built from the arguments and sent through the worker's
 * libcurl pool; progress notifications (when the client gave a progressToken) and log
 * notifications (when it chose a logging level) while the call runs; the answer mapped to
 * content by tool_result.c. Local (helper) tools are answered in-process by helper_tools.c;
 * its call_tool hands an operation back to this pipeline. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/gateway.h"
#include "common/log.h"
#include "auth/token_fetch.h"
#include "guard/guard_stats.h"
#include "limits/circuit.h"
#include "limits/ratelimit.h"
#include "limits/redis_limiter.h"
#include "mcp/helper_tools.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_internal.h"
#include "mcp/tool_result.h"
#include "observability/audit.h"
#include "observability/call_stats.h"
#include "observability/payload_mask.h"
#include "process/runtime.h"
#include "upstream/upstream.h"

#define MB_MAX_DOWNSTREAM_HEADERS 64
#define MB_PROGRESS_MIN_INTERVAL_MS 100
#define MB_GUARD_SLACK 4096  /* guard output buffer beyond max_response_bytes */
/* Input kept aside while a JSON body streams, so that a body declared JSON that is not (an
 * HTML error page, a text message) can be returned as text instead. A constant, so one call
 * holds at most max_response_bytes + MB_GUARD_SLACK + this while it streams; JSON that turns
 * invalid later than this is answered with an error naming the byte. */
#define MB_GUARD_RAW_PREFIX (64u * 1024u)

static uint64_t now_ms(const struct mb_mcp_request *req)
{
    return uv_now(req->srv->loop);
}

/* Sends notifications/message when the client's chosen level lets this level through. */
/* True when the client's chosen level lets a message of this level through (check before
 * building the message: most clients never set a level, and the call path stays allocation-free). */
static bool log_wanted(const struct mb_mcp_request *req, int level)
{
    return req->log_level >= 0 && level >= req->log_level;
}

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
        if (log_wanted(req, 1))
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


static struct mb_mcp_request *step_rate_limit(struct mb_mcp_request *req);
static struct mb_mcp_request *step_credentials(struct mb_mcp_request *req);
static struct mb_mcp_request *step_call(struct mb_mcp_request *req);
static struct mb_mcp_request *end_early(struct mb_mcp_request *req, json_t *result);

/* ---- response guard ------------------------------------------------------------------- */

static int guard_start(struct mb_mcp_request *req, enum mb_guard_input input)
{
    struct mb_mcp_guarded *G = req->guard;
    struct mb_guard_limits lim;
    mb_guard_limits_default(&lim);
    lim.max_output_bytes = G->max;
    lim.max_array_items = G->policy->max_array_items ? G->policy->max_array_items : 50;
    lim.max_string_bytes = G->policy->max_string_bytes;
    lim.max_depth = G->policy->max_depth ? G->policy->max_depth : 64;
    mb_buf_dispose(&G->out);
    /* warn copies everything: max_response_bytes stays its hard memory cap. */
    mb_buf_init(&G->out, G->mode == MB_GUARD_WARN ? G->max : G->max + MB_GUARD_SLACK);
    G->input = input;
    G->kind = MB_BODY_GUARD;
    return mb_guard_init(&G->g, G->mode, input, &lim, &G->out);
}

/* Invalid JSON under a JSON type: guard what was received as text instead (later chunks then
 * go to the text guard), when raw still holds all of it; else the call ends with an error
 * naming where the JSON broke (G->invalid_late). */
static int guard_fall_back(struct mb_mcp_request *req)
{
    struct mb_mcp_guarded *G = req->guard;
    uint64_t at = 0;
    const char *why = mb_guard_error(&G->g, &at);
    G->bad_json_offset = at;
    G->bad_json_reason = why;  /* static strings of guard.c */
    if (G->raw_overflow) {
        G->invalid_late = true;
        mb_buf_dispose(&G->raw);
        return -EBADMSG;
    }
    G->fell_back = true;
    int rc = guard_start(req, MB_GUARD_TEXT);
    if (rc == 0)
        rc = mb_guard_feed(&G->g, G->raw.data ? G->raw.data : "", G->raw.len);
    mb_buf_dispose(&G->raw);
    return rc;
}

static int on_body(void *data, const char *chunk, size_t len)
{
    struct mb_mcp_request *req = data;
    struct mb_mcp_guarded *G = req->guard;
    if (G->kind == MB_BODY_UNDECIDED) {
        long status = mb_upstream_call_status(req->call);
        int input = status >= 200 && status <= 299
                        ? mb_tool_result_guard_input(mb_upstream_call_content_type(req->call)) : -1;
        if (input < 0) {
            G->kind = MB_BODY_PLAIN;
            mb_buf_init(&G->out, G->max);
        } else {
            if (input == MB_GUARD_JSON)
                mb_buf_init(&G->raw, MB_GUARD_RAW_PREFIX);
            if (guard_start(req, (enum mb_guard_input)input) != 0) {
                G->rc = -EINVAL;
                return 1;
            }
        }
    }
    G->bytes_in += len;
    if (G->kind == MB_BODY_PLAIN) {
        int err = mb_buf_append(&G->out, chunk, len);
        if (err) {
            G->too_big = err == -E2BIG;
            G->rc = err;
            return 1;
        }
        return 0;
    }
    if (G->input == MB_GUARD_JSON && !G->fell_back && !G->raw_overflow) {
        /* raw keeps the body only while it fits whole; past that it is useless and released. */
        if (len > G->raw.max - G->raw.len || mb_buf_append(&G->raw, chunk, len) != 0) {
            G->raw_overflow = true;
            mb_buf_dispose(&G->raw);
        }
    }
    uint64_t t0 = uv_hrtime();
    int rc = mb_guard_feed(&G->g, chunk, len);
    if (rc == -EBADMSG && G->input == MB_GUARD_JSON && !G->fell_back)
        rc = guard_fall_back(req);
    req->guard_ns += uv_hrtime() - t0;
    G->rc = rc;
    return rc != 0;
}

static bool ieq_any(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0)
            return true;
    return false;
}

static const char *const size_names[] = { "limit", "per_page", "page_size", "pagesize", "count", "size", "top", NULL };
static const char *const offset_names[] = { "offset", "start", "skip", NULL };
static const char *const page_names[] = { "page", "page_number", NULL };
static const char *const cursor_names[] = { "cursor", "next", "page_token", "pagetoken", "after", NULL };

/* The paging parameters of a tool (query parameters with the usual names), by argument name. */
struct paging_params {
    const char *size, *offset, *page, *cursor;
};

static void find_paging_params(const struct mb_tool *tool, struct paging_params *pp)
{
    memset(pp, 0, sizeof *pp);
    for (size_t i = 0; i < tool->param_count; i++) {
        const struct mb_tool_param *p = &tool->params[i];
        if (p->location != MB_PARAM_QUERY)
            continue;
        const char *n = p->arg_name ? p->arg_name : p->name;
        if (!pp->size && ieq_any(p->name, size_names))
            pp->size = n;
        else if (!pp->offset && ieq_any(p->name, offset_names))
            pp->offset = n;
        else if (!pp->page && ieq_any(p->name, page_names))
            pp->page = n;
        else if (!pp->cursor && ieq_any(p->name, cursor_names))
            pp->cursor = n;
    }
}

static uint64_t arg_uint(const json_t *args, const char *name)
{
    const json_t *v = name ? json_object_get(args, name) : NULL;
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return (uint64_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        unsigned long long n = strtoull(json_string_value(v), &end, 10);
        if (*json_string_value(v) && !*end)
            return n;
    }
    return 0;
}

/* Where this call starts (its offset and page arguments), so the advice names the next page. */
static void paging_position(const struct mb_tool *tool, const json_t *args, uint64_t *offset, uint64_t *page)
{
    struct paging_params pp;
    find_paging_params(tool, &pp);
    *offset = arg_uint(args, pp.offset);
    *page = arg_uint(args, pp.page);
}

/* One sentence on how to get the rest, from the tool's query parameters; "" when none. kept:
 * items this call returned; offset/page: where this call started. */
static void paging_advice(const struct mb_tool *tool, uint64_t kept, uint64_t offset, uint64_t page,
                          char *out, size_t cap)
{
    struct paging_params pp;
    find_paging_params(tool, &pp);
    out[0] = '\0';
    if (!pp.size && !pp.offset && !pp.page && !pp.cursor)
        return;
    char sz[96] = "";
    if (pp.size)
        snprintf(sz, sizeof sz, "%s=%" PRIu64, pp.size, kept);
    const char *and = pp.size ? " and " : "";
    if (pp.offset)
        snprintf(out, cap, " This operation supports paging: call it again with %s%s%s=%" PRIu64
                 " (then %" PRIu64 ", and so on) to get the next items.", sz, and, pp.offset,
                 offset + kept, offset + 2 * kept);
    else if (pp.page)
        snprintf(out, cap, " This operation supports paging: call it again with %s%s%s=%" PRIu64 " (then %" PRIu64
                 ", and so on) to get the next items.", sz, and, pp.page, page ? page + 1 : 2, page ? page + 2 : 3);
    else if (pp.cursor)
        snprintf(out, cap, " This operation supports paging: call it again with %s%s%s set to the cursor"
                 " the response gives for the next page.", sz, and, pp.cursor);
    else
        snprintf(out, cap, " This operation supports paging: call it again with a smaller %s and narrower"
                 " filters to get the rest in parts.", pp.size);
}

/* The trim marker for _meta and the note for the model. */
static json_t *trim_meta(const struct mb_mcp_request *req, const struct mb_guard_report *rep,
                         char *note, size_t cap)
{
    const struct mb_mcp_guarded *G = req->guard;
    const char *limit = mb_guard_limit_name(rep->first_limit);
    json_t *m = json_pack("{s:s,s:b,s:s,s:I,s:I}", "mode", "trim", "truncated", 1, "limit", limit,
                          "bytesRead", (json_int_t)rep->bytes_in, "bytesKept", (json_int_t)rep->bytes_out);
    if (!m)
        return NULL;
    uint64_t orig = 0, kept = 0;
    bool exact = true, items = false;
    if (rep->top_items > rep->top_items_kept) {
        orig = rep->top_items;
        exact = rep->top_items_exact;
        kept = rep->top_items_kept;
        items = true;
    } else if (rep->largest_trimmed_items) {
        orig = rep->largest_trimmed_items;
        exact = rep->largest_trimmed_exact;
        kept = rep->first_limit == MB_GUARD_LIMIT_ITEMS ? rep->first_limit_max : 0;
        items = true;
    }
    if (items) {
        json_object_set_new(m, exact ? "originalItems" : "atLeast", json_integer((json_int_t)orig));
        if (kept)
            json_object_set_new(m, "keptItems", json_integer((json_int_t)kept));
    }
    if (rep->has_pointer)
        json_object_set_new(m, "pointer", json_string(rep->first_trimmed_pointer));
    /* The arguments that fetch the next page, when the operation pages by offset or page number
     * and the cut was on the top-level list (machine-readable twin of the note's advice). */
    if (items && kept && rep->top_items > rep->top_items_kept) {
        struct paging_params pp;
        find_paging_params(req->tool, &pp);
        json_t *next = json_object();
        if (pp.offset)
            json_object_set_new(next, pp.offset, json_integer((json_int_t)(G->page_offset + kept)));
        else if (pp.page)
            json_object_set_new(next, pp.page, json_integer((json_int_t)(G->page_number ? G->page_number + 1 : 2)));
        if (json_object_size(next) && pp.size)
            json_object_set_new(next, pp.size, json_integer((json_int_t)kept));
        if (json_object_size(next))
            json_object_set_new(m, "nextArguments", next);
        else
            json_decref(next);
    }
    if (G->fell_back)
        json_object_set_new(m, "invalidJson", json_true());
    char what[640];
    if (items && kept)
        snprintf(what, sizeof what, "the array at %s had %s%" PRIu64 " items and only the first %" PRIu64
                 " are included", rep->has_pointer && rep->first_trimmed_pointer[0] ? rep->first_trimmed_pointer : "the top level",
                 exact ? "" : "at least ", orig, kept);
    else if (rep->first_limit == MB_GUARD_LIMIT_BYTES || rep->first_limit == MB_GUARD_LIMIT_SCAN)
        snprintf(what, sizeof what, "the response exceeded max_response_bytes (%zu bytes): %" PRIu64
                 " bytes were read%s and %" PRIu64 " are included", G->max, rep->bytes_in,
                 rep->complete ? "" : " (the rest was not read)", rep->bytes_out);
    else
        snprintf(what, sizeof what, "the response crossed %s (%" PRIu64 ")", limit, rep->first_limit_max);
    char advice[512] = "";
    paging_advice(req->tool, items && kept ? kept : G->policy->max_array_items, G->page_offset, G->page_number,
                  advice, sizeof advice);
    snprintf(note, cap, "Note: this result is partial. The response guard cut it: %s%s.%s%s",
             what, rep->arrays_trimmed > 1 ? " (other arrays were cut too)" : "",
             rep->strings_shortened ? " Long strings were shortened." : "", advice);
    return json_pack("{s:o}", "mcpbridge/guard", m);
}

/* Counts the call in the tool's shared guard statistics and logs when the tool starts (or stops)
 * looking like an API that needs paging. */
static void guard_record(struct mb_mcp_request *req, const struct mb_guard_report *rep, bool trimmed,
                         bool blocked, bool warned)
{
    const struct mb_config *cfg = req->srv->rt->config;
    const struct mb_mcp_guarded *G = req->guard;
    double near = cfg->guard_near_ratio > 0 ? cfg->guard_near_ratio : 0.8;
    req->guard_outcome = blocked ? "blocked" : trimmed ? "trimmed" : warned ? "warned" : NULL;
    struct mb_guard_outcome o = {
        .trimmed = trimmed, .blocked = blocked, .warned = warned,
        .bytes = rep ? rep->bytes_in : G->bytes_in,
    };
    uint64_t items = 0;
    if (rep)
        items = rep->top_items > rep->largest_trimmed_items ? rep->top_items : rep->largest_trimmed_items;
    o.near = trimmed || blocked || warned || G->too_big ||
             (double)o.bytes >= near * (double)G->max ||
             (double)items >= near * (double)G->policy->max_array_items;
    unsigned window = cfg->guard_signal_window ? cfg->guard_signal_window : 100;
    int flag = mb_guard_stats_record(req->srv->rt->guard_stats, req->tool->name, &o, window,
                                     cfg->guard_signal_ratio);
    if (flag) {
        struct mb_guard_tool_stats ts;
        if (mb_guard_stats_get(req->srv->rt->guard_stats, req->tool->name, window, &ts) && flag > 0)
            mb_warn("response_guard", "%s needs pagination: %u of its last %u calls came within %.0f%% of a "
                    "response guard limit or crossed one (largest body %" PRIu64 " bytes). Page the operation "
                    "(limit/offset parameters) or raise its limits in response_guard.tools.", req->tool->name,
                    ts.recent_near, ts.recent_calls, near * 100, ts.max_bytes);
        else if (flag < 0)
            mb_info("response_guard", "%s no longer comes near the response guard limits", req->tool->name);
    }
}

/* Interprets the guarded body into resp2 (body, error) and the extras of the result. Returns an
 * error result (new reference) for block and unreadable bodies, else NULL. */
static json_t *guard_conclude(struct mb_mcp_request *req, const struct mb_upstream_response *resp,
                              struct mb_upstream_response *resp2, json_t **meta, char *note, size_t cap)
{
    struct mb_mcp_guarded *G = req->guard;
    *resp2 = *resp;
    if (resp->error == MB_UPSTREAM_ESTOPPED)
        resp2->error = MB_UPSTREAM_OK;
    if (G->kind == MB_BODY_PLAIN) {
        if (G->too_big) {
            resp2->error = MB_UPSTREAM_ETOOBIG;
            resp2->error_message = "response exceeded max_response_bytes";
        } else if (G->rc) {
            resp2->error = MB_UPSTREAM_EINTERNAL;
            resp2->error_message = "out of memory while reading the response";
        }
        resp2->body = G->out.data ? G->out.data : "";
        resp2->body_len = G->out.len;
        guard_record(req, NULL, false, G->too_big && G->mode == MB_GUARD_BLOCK, false);
        return NULL;
    }
    if (G->kind == MB_BODY_UNDECIDED || resp2->error)
        return NULL;  /* no body; or timeout, connection lost: the transport error wins */
    struct mb_guard_report rep;
    int frc = mb_guard_finish(&G->g, &rep);
    if (frc == -EBADMSG && G->input == MB_GUARD_JSON && !G->fell_back && !G->invalid_late) {
        frc = guard_fall_back(req);
        if (frc >= 0)
            frc = mb_guard_finish(&G->g, &rep);
    }
    if (frc < 0) {
        guard_record(req, NULL, false, false, false);
        if (frc == -E2BIG)
            return mb_tool_error_result("The downstream response was too large and was not returned "
                                        "(response exceeded max_response_bytes (%zu bytes)). Ask for less data, "
                                        "for example with paging or filter parameters.", G->max);
        if (frc == -EBADMSG)
            return mb_tool_error_result("The downstream API answered %ld with a JSON Content-Type, but the body is "
                                        "not valid JSON: %s at byte %" PRIu64 " (%" PRIu64 " bytes received). "
                                        "The result was dropped rather than returned half-parsed.", resp->status,
                                        G->bad_json_reason ? G->bad_json_reason : "invalid JSON",
                                        G->bad_json_offset, G->bytes_in);
        return mb_tool_error_result("The downstream response could not be read (%s).",
                                    frc == -ENOMEM ? "out of memory" : "invalid response");
    }
    resp2->body = G->out.data ? G->out.data : "";
    resp2->body_len = G->out.len;
    if (G->fell_back)
        resp2->content_type = "text/plain; charset=utf-8";
    const char *name = mb_guard_limit_name(rep.first_limit);
    bool crossed = rep.first_limit != MB_GUARD_LIMIT_NONE;
    guard_record(req, &rep, G->mode == MB_GUARD_TRIM && rep.truncated, G->mode == MB_GUARD_BLOCK && crossed,
                 G->mode == MB_GUARD_WARN && crossed);
    if (G->mode == MB_GUARD_BLOCK && crossed) {
        mb_warn("response_guard", "%s: blocked: %s (%" PRIu64 ") crossed", req->tool->name, name, rep.first_limit_max);
        if (rep.first_limit == MB_GUARD_LIMIT_BYTES || rep.first_limit == MB_GUARD_LIMIT_SCAN)
            return mb_tool_error_result("The downstream response was too large and was blocked: it exceeded "
                                        "max_response_bytes (%zu bytes); %" PRIu64 " bytes had arrived when the "
                                        "transfer was stopped. Ask for less data, for example with paging or filter "
                                        "parameters.", G->max, rep.bytes_in);
        if (rep.first_limit == MB_GUARD_LIMIT_ITEMS)
            return mb_tool_error_result("The downstream response was too large and was blocked: it exceeded %s (%" PRIu64
                                        "): the array at %s had at least %" PRIu64 " items when the transfer was "
                                        "stopped. Ask for less data, for example with paging or filter parameters.",
                                        name, rep.first_limit_max,
                                        rep.has_pointer && rep.first_trimmed_pointer[0] ? rep.first_trimmed_pointer : "the top level",
                                        rep.first_limit_observed);
        return mb_tool_error_result("The downstream response was too large and was blocked: it exceeded %s (%" PRIu64
                                    "): %" PRIu64 " seen when the transfer was stopped. Ask for less data, "
                                    "for example with paging or filter parameters.", name, rep.first_limit_max,
                                    rep.first_limit_observed);
    }
    if (G->mode == MB_GUARD_WARN && crossed)
        mb_warn("response_guard", "%s: response crossed %s (%" PRIu64 "), passed through (warn mode): %" PRIu64 " bytes",
                req->tool->name, name, rep.first_limit_max, rep.bytes_in);
    if (G->mode == MB_GUARD_TRIM && rep.truncated) {
        *meta = trim_meta(req, &rep, note, cap);
        mb_info("response_guard", "%s: trimmed (%s): %" PRIu64 " bytes read, %" PRIu64 " kept", req->tool->name,
                name, rep.bytes_in, rep.bytes_out);
    }
    return NULL;
}

void mb_mcp_guard_dispose(struct mb_mcp_request *req)
{
    if (!req->guard)
        return;
    mb_buf_dispose(&req->guard->out);
    mb_buf_dispose(&req->guard->raw);
    free(req->guard);
    req->guard = NULL;
}

static int dump_json(const char *buffer, size_t size, void *data)
{
    return mb_buf_append(data, buffer, size) ? -1 : 0;
}

/* include_payloads: adds `"<what>":<masked payload>` to the tool_call audit event (at most
 * 4 KiB per payload; payload_mask.h says what is masked). */
#define MB_PAYLOAD_LOG_MAX 4096
static void log_payload(struct mb_mcp_request *req, const char *what, const char *body, size_t len)
{
    char *masked = mb_payload_mask_body(body, len, MB_PAYLOAD_LOG_MAX);
    if (!masked)
        return;
    char *joined = NULL;
    int n = req->payload_log ? asprintf(&joined, "%s,\"%s\":%s", req->payload_log, what, masked)
                             : asprintf(&joined, "\"%s\":%s", what, masked);
    free(masked);
    if (n < 0)
        return;
    free(req->payload_log);
    req->payload_log = joined;
}

static void log_arguments(struct mb_mcp_request *req, const json_t *args)
{
    char *masked = args ? mb_payload_mask_json(args, MB_PAYLOAD_LOG_MAX) : NULL;
    free(req->payload_log);
    req->payload_log = NULL;
    if (masked && asprintf(&req->payload_log, "\"arguments\":%s", masked) < 0)
        req->payload_log = NULL;
    free(masked);
}

/* Counts a state change of the call's circuit breaker (before -> now) in the instance's
 * statistics. */
static void count_circuit_change(struct mb_mcp_request *req, enum mb_circuit_state before)
{
    enum mb_circuit_state now = mb_circuit_state(req->srv->circuits, req->circuit_host);
    if (now == before)
        return;
    static const enum mb_circuit_event entered[] = {
        [MB_CIRCUIT_CLOSED] = MB_CIRCUIT_EVENT_CLOSED,
        [MB_CIRCUIT_OPEN] = MB_CIRCUIT_EVENT_OPENED,
        [MB_CIRCUIT_HALF_OPEN] = MB_CIRCUIT_EVENT_HALF_OPENED,
    };
    mb_call_stats_count_circuit(req->srv->rt->call_stats, entered[now]);
    if (now == MB_CIRCUIT_OPEN)
        mb_warn("tools", "circuit breaker for %s opened: too many downstream failures", req->circuit_host);
    else if (now == MB_CIRCUIT_CLOSED)
        mb_info("tools", "circuit breaker for %s closed: the probe call succeeded", req->circuit_host);
}

/* The downstream phases of one call (call_stats.h): connection set-up only when the call made
 * one, the exchange whenever an answer came, and the guard's own scanning time. */
static void record_downstream(struct mb_mcp_request *req, const struct mb_upstream_response *resp)
{
    struct mb_call_stats *cs = req->srv->rt->call_stats;
    const struct mb_upstream_timing *t = &resp->timing;
    req->downstream_status = resp->status;
    req->downstream_bytes = req->guard ? req->guard->bytes_in : resp->body_len;
    if (t->new_connection) {
        mb_call_stats_record_phase(cs, MB_PHASE_DNS, t->dns_us);
        mb_call_stats_record_phase(cs, MB_PHASE_CONNECT, t->connect_us);
    }
    if (t->tls_handshake)
        mb_call_stats_record_phase(cs, MB_PHASE_TLS, t->tls_us);
    if (resp->status > 0) {
        mb_call_stats_record_phase(cs, MB_PHASE_FIRST_BYTE, t->first_byte_us);
        mb_call_stats_record_phase(cs, MB_PHASE_DOWNSTREAM, t->total_us);
    }
    if (req->guard)
        mb_call_stats_record_phase(cs, MB_PHASE_GUARD, req->guard_ns / 1000);
}

static void on_done(void *data, const struct mb_upstream_response *resp)
{
    struct mb_mcp_request *req = data;
    req->call = NULL;
    uint64_t elapsed = now_ms(req) - req->started_ms;
    if (req->srv->circuits && req->circuit_host) {
        /* Transport failures and 5xx count against the host; a body the guard stopped does not. */
        bool ok = (resp->error == MB_UPSTREAM_OK || resp->error == MB_UPSTREAM_ESTOPPED) && resp->status < 500;
        enum mb_circuit_state before = mb_circuit_state(req->srv->circuits, req->circuit_host);
        mb_circuit_record(req->srv->circuits, req->circuit_host, ok, now_ms(req));
        count_circuit_change(req, before);
    }
    record_downstream(req, resp);
    struct mb_upstream_response guarded;
    json_t *meta = NULL, *blocked = NULL;
    char note[2048];
    note[0] = '\0';
    if (req->guard) {
        blocked = guard_conclude(req, resp, &guarded, &meta, note, sizeof note);
        resp = &guarded;
    }
    struct mb_buf result;
    mb_buf_init(&result, MB_MCP_MAX_RESPONSE);
    /* Text (escaped, at most 6x but usually ~1.1x) plus structuredContent: one allocation. */
    mb_buf_reserve(&result, resp->body_len + resp->body_len / 4 + resp->body_len + 128);
    bool failed = false;
    int rc;
    if (blocked) {
        failed = true;
        rc = json_dump_callback(blocked, dump_json, &result, JSON_COMPACT) ? -E2BIG : 0;
        json_decref(blocked);
    } else {
        rc = mb_tool_result_write_ex(req->tool, resp, req->url, &result, &failed, meta ? note : NULL, meta);
    }
    json_decref(meta);
    if (failed)
        req->outcome = MB_OUTCOME_TOOL_ERROR;
    if (req->srv->rt->config->include_payloads)
        log_payload(req, "response", resp->body, resp->body_len);
    mb_mcp_guard_dispose(req);
    if (resp->error)
        mb_warn("errors", "%s: downstream %s %s failed after %llu ms: %s", req->tool->name,
                req->tool->method, req->tool->path_template, (unsigned long long)elapsed,
                resp->error_message ? resp->error_message : "error");
    else
        mb_debug("tools", "%s: downstream %s %s -> %ld in %llu ms, %zu bytes", req->tool->name,
                 req->tool->method, req->tool->path_template, resp->status,
                 (unsigned long long)elapsed, resp->body_len);
    send_progress(req, 100.0, "done");
    if (log_wanted(req, failed ? 4 : 1))
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

/* security.authorization.tools: a caller without the tool's scopes gets a JSON-RPC error (the
 * HTTP transport already answered 403 for a single tools/call; this covers batches and
 * call_tool). Returns true when it answered. */
static bool refuse_scope(struct mb_mcp_request *req, const struct mb_tool *tool)
{
    char missing[512];
    const struct mb_security_config *sec = &req->srv->rt->config->security;
    if (!req->principal || mb_principal_may_use(sec, req->principal, tool->name, missing, sizeof missing))
        return false;
    char text[700];
    snprintf(text, sizeof text, "Forbidden: insufficient_scope: tool %.100s requires the scopes: %s", tool->name, missing);
    struct mb_audit_event ev = { .category = "auth", .action = "authorize", .status = "deny",
                                 .reason = "insufficient_scope", .client_id = req->principal->client_id,
                                 .tool = tool->name };
    mb_audit(&ev);
    req->outcome = MB_OUTCOME_DENIED;
    mb_mcp_finish_error(req, MB_JSONRPC_FORBIDDEN, text);
    return true;
}

/* The caller's view for the helper tools (they never reveal a tool it may not use). */
struct helper_view {
    const struct mb_security_config *sec;
    const struct mb_principal *p;
};

static bool helper_visible(void *data, const struct mb_tool *t)
{
    const struct helper_view *hv = data;
    return mb_principal_may_use(hv->sec, hv->p, t->name, NULL, 0);
}

/* Strips the query from a URL for messages and resource URIs (queries may carry keys). */
static char *url_without_query(const char *url)
{
    return strndup(url, strcspn(url, "?#"));
}

struct mb_mcp_request *mb_mcp_tools_call(struct mb_mcp_request *req, const json_t *params)
{
    struct mb_mcp_server *srv = req->srv;
    const json_t *name = json_object_get(params, "name");
    if (!json_is_string(name)) {
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, "tools/call: params.name must be a string");
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
        mb_mcp_finish_error(req, MB_JSONRPC_INVALID_PARAMS, problem);
        return NULL;
    }
    req->tool = tool;
    if (srv->rt->config->include_payloads)
        log_arguments(req, args);
    if (json_is_null(args))
        args = NULL;
    if (refuse_scope(req, tool))
        return NULL;

    char msg[1024];
    if (mb_tool_validate_args(tool, args, msg, sizeof msg) != 0) {
        mb_info("tools.validation", "%s: invalid arguments: %s", tool->name, msg);
        req->outcome = MB_OUTCOME_TOOL_ERROR;
        mb_mcp_finish_result(req, mb_tool_error_result("Invalid arguments for tool %s: %s", tool->name, msg));
        return NULL;
    }
    /* ---- local (helper) tools: answered in-process, no downstream (helper_tools.c) ---- */
    if (tool->kind != MB_TOOL_HTTP) {
        struct helper_view hv = { &srv->rt->config->security, req->principal };
        const struct mb_helper_env env = { srv->rt->catalog, srv->rt->prompts, req->principal ? helper_visible : NULL,
                                           &hv };
        const struct mb_tool *target = NULL;
        const json_t *target_args = NULL;
        json_t *result = mb_helper_tool_call(&env, tool, args, &target, &target_args);
        if (!target) {
            if (json_is_true(json_object_get(result, "isError")))
                req->outcome = MB_OUTCOME_TOOL_ERROR;
            mb_mcp_finish_result(req, result);
            return NULL;
        }
        /* call_tool named an operation: check, validate and call it exactly as tools/call would. */
        tool = req->tool = target;
        if (refuse_scope(req, tool))
            return NULL;
        args = json_is_null(target_args) ? NULL : target_args;
        if (mb_tool_validate_args(tool, args, msg, sizeof msg) != 0) {
            mb_info("tools.validation", "%s: invalid arguments: %s", tool->name, msg);
            mb_mcp_finish_result(req, mb_tool_error_result("Invalid arguments for tool %s: %s", tool->name, msg));
            return NULL;
        }
    }
    /* ---- end of local tools ---- */
    const json_t *meta = json_object_get(params, "_meta");
    const json_t *token = json_object_get(meta, "progressToken");
    if (json_is_string(token) || json_is_integer(token))
        req->progress_token = json_incref((json_t *)token);
    req->last_progress = -1;
    req->started_ms = now_ms(req);
    req->args = args ? json_incref((json_t *)args) : NULL;
    return step_rate_limit(req);
}

/* ---- admission: rate limit, downstream credential, circuit breaker ---------------------- */

static void audit_rate(const struct mb_mcp_request *req, const char *key, const struct mb_ratelimit_decision *d,
                       const char *reason)
{
    struct mb_audit_event ev = {
        .category = "rate_limit", .action = "check", .status = d->allowed ? "allow" : "deny", .key = key,
        .reason = reason, .client_id = req->principal && req->principal->client_id[0] ? req->principal->client_id : NULL,
        .tool = req->tool->name, .retry_after_ms = d->allowed ? 0 : (int64_t)d->retry_after_ms,
    };
    mb_audit(&ev);
}

/* Applies a decision: continues the call, or answers with the rate-limit error. */
static struct mb_mcp_request *apply_rate(struct mb_mcp_request *req, const char *key,
                                         const struct mb_ratelimit_decision *d, const char *where)
{
    mb_call_stats_record_phase(req->srv->rt->call_stats, MB_PHASE_RATE_LIMIT, (uv_hrtime() - req->step_ns) / 1000);
    audit_rate(req, key, d, d->overflow ? "overflow_bucket" : where);
    if (d->allowed) {
        req->srv->rate_allowed++;
        return step_credentials(req);
    }
    req->srv->rate_limited++;
    req->outcome = MB_OUTCOME_DENIED;
    const struct mb_rate_limit_config *rc = &req->srv->rt->config->security.rate;
    char text[300];
    snprintf(text, sizeof text, "Rate limit exceeded: at most %g calls per second (burst %u) for %s; retry in %llu ms",
             rc->max_rps, rc->burst, rc->global ? "this server" : key[0] == 'c' ? "this client" : "this session",
             (unsigned long long)d->retry_after_ms);
    json_t *data = json_pack("{s:I,s:I,s:f,s:s}", "retryAfterMs", (json_int_t)d->retry_after_ms, "limit",
                             (json_int_t)d->limit, "ratePerSecond", rc->max_rps, "scope",
                             rc->global ? "global" : key[0] == 'c' ? "client" : "session");
    mb_mcp_finish_error_data(req, MB_JSONRPC_RATE_LIMITED, text, data);
    return NULL;
}

/* The bucket key by the documented hierarchy: client_id, else session, else global. */
static size_t rate_key(const struct mb_mcp_request *req, char out[MB_RATELIMIT_KEY_MAX])
{
    const struct mb_rate_limit_config *rc = &req->srv->rt->config->security.rate;
    const char *client = req->principal && req->principal->client_id[0] ? req->principal->client_id : NULL;
    char session[24] = "";
    if (req->session_key)
        snprintf(session, sizeof session, "%016llx", (unsigned long long)req->session_key);
    size_t len = 0;
    mb_ratelimit_key(rc->global, client, client ? strlen(client) : 0, session[0] ? session : NULL, strlen(session),
                     out, &len);
    return len;
}

static void on_redis_rate(void *data, const struct mb_ratelimit_decision *d, int error)
{
    struct mb_mcp_request *req = data;
    req->waiting_rate = false;
    const struct mb_rate_limit_config *rc = &req->srv->rt->config->security.rate;
    char key[MB_RATELIMIT_KEY_MAX + 1];
    size_t len = rate_key(req, key);
    key[len] = '\0';
    struct mb_ratelimit_decision local;
    if (error) {
        /* Redis unreachable: the instance's own buckets decide (limits then hold per instance). */
        mb_ratelimit_take(req->srv->rt->ratelimit, key, len, rc->max_rps, rc->burst, mb_ratelimit_now_ns(), &local);
        d = &local;
    }
    apply_rate(req, key, d, error ? "redis_unavailable_local_fallback" : NULL);
}

static struct mb_mcp_request *step_rate_limit(struct mb_mcp_request *req)
{
    struct mb_mcp_server *srv = req->srv;
    const struct mb_rate_limit_config *rc = &srv->rt->config->security.rate;
    if (!rc->enabled)
        return step_credentials(req);
    req->step_ns = uv_hrtime();
    char key[MB_RATELIMIT_KEY_MAX + 1];
    size_t len = rate_key(req, key);
    key[len] = '\0';
    if (srv->redis_limiter &&
        mb_redis_limiter_take(srv->redis_limiter, key, len, rc->max_rps, rc->burst, on_redis_rate, req) == 0) {
        req->waiting_rate = true;
        if (!req->async)
            mb_mcp_request_link(req);
        return req;
    }
    struct mb_ratelimit_decision d;
    if (mb_ratelimit_take(srv->rt->ratelimit, key, len, rc->max_rps, rc->burst, mb_ratelimit_now_ns(), &d) != 0) {
        mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "the rate limiter failed");
        return NULL;
    }
    return apply_rate(req, key, &d, NULL);
}

static void on_downstream_token(void *data, const char *token, size_t len, const char *error)
{
    struct mb_mcp_request *req = data;
    req->waiting_token = NULL;
    mb_call_stats_record_phase(req->srv->rt->call_stats, MB_PHASE_TOKEN_EXCHANGE, (uv_hrtime() - req->step_ns) / 1000);
    const struct mb_security_config *sec = &req->srv->rt->config->security;
    bool exchange = req->srv->exchange != NULL;
    const char *header = exchange ? sec->user.exchange.header : sec->downstream.client_credentials.header;
    const char *prefix = exchange ? sec->user.exchange.prefix : sec->downstream.client_credentials.prefix;
    if (error || !token) {
        struct mb_audit_event ev = {
            .category = "auth", .action = exchange ? "token_exchange" : "client_credentials", .status = "deny",
            .reason = "token_endpoint_failed", .tool = req->tool->name,
            .client_id = req->principal && req->principal->client_id[0] ? req->principal->client_id : NULL,
        };
        mb_audit(&ev);
        mb_warn("auth", "%s: %s failed: %s", req->tool->name, exchange ? "token exchange" : "client_credentials",
                error ? error : "no token");
        req->outcome = MB_OUTCOME_DENIED;
        mb_mcp_finish_result(req, mb_tool_error_result("The call was denied: mcpbridge could not obtain a credential "
                                                       "for the downstream API (%s failed: %s). Nothing was sent to "
                                                       "the API; retry later.", exchange ? "token exchange" :
                                                       "client_credentials", error ? error : "no token"));
        return;
    }
    if (asprintf(&req->downstream_auth, "%s: %s%.*s", header, prefix, (int)len, token) < 0) {
        req->downstream_auth = NULL;
        mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    step_call(req);
}

/* The credential the API gets: an exchanged token (user_auth.token_exchange), mcpbridge's own
 * client_credentials token, or (explicit opt-in) the user's token as received. Tokens come from
 * the fetchers' caches; a miss parks the call until the token endpoint answers (concurrent
 * calls for the same key share one request). A failure denies: nothing is sent downstream. */
static struct mb_mcp_request *step_credentials(struct mb_mcp_request *req)
{
    struct mb_mcp_server *srv = req->srv;
    const struct mb_security_config *sec = &srv->rt->config->security;
    const struct mb_principal *p = req->principal;
    req->step_ns = uv_hrtime();
    if (srv->exchange) {
        if (!p || !p->user_token) {
            req->outcome = MB_OUTCOME_DENIED;
            return end_early(req, mb_tool_error_result("The call was denied: token exchange needs the user's token, "
                                                       "and this request carried none."));
        }
        req->waiting_token = mb_token_fetch_get(srv->exchange, MB_TOKEN_EXCHANGE, p->user_token, p->user_token_len,
                                                on_downstream_token, req);
    } else if (srv->client_credentials) {
        req->waiting_token = mb_token_fetch_get(srv->client_credentials, MB_TOKEN_CLIENT_CREDENTIALS, NULL, 0,
                                                on_downstream_token, req);
    } else {
        if (sec->user.forward_downstream && p && p->user_token &&
            asprintf(&req->downstream_auth, "%s: %s%s%.*s", sec->user.header, sec->user.prefix,
                     *sec->user.prefix ? " " : "", (int)p->user_token_len, p->user_token) < 0)
            req->downstream_auth = NULL;
        return step_call(req);
    }
    if (!req->waiting_token) {
        mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "could not start fetching the downstream credential");
        return NULL;
    }
    if (!req->async)
        mb_mcp_request_link(req);
    return req;
}

/* Answers a call that ended before the downstream request was sent. */
static struct mb_mcp_request *end_early(struct mb_mcp_request *req, json_t *result)
{
    mb_mcp_finish_result(req, result);
    return NULL;
}

/* Host and port of a URL ("api.example.com:443"), for the circuit breaker. */
static char *url_host(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return NULL;
    p += 3;
    const char *at = NULL;
    size_t n = strcspn(p, "/?#");
    for (size_t i = 0; i < n; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    return strndup(p, n);
}

static struct mb_mcp_request *step_call(struct mb_mcp_request *req)
{
    struct mb_mcp_server *srv = req->srv;
    const struct mb_config *cfg = srv->rt->config;
    const struct mb_tool *tool = req->tool;
    char msg[1024];
    struct mb_built_request built;
    memset(&built, 0, sizeof built);
    if (mb_tool_build_request(tool, srv->rt->catalog->base_url, req->args, &built, msg, sizeof msg) != 0) {
        mb_built_request_dispose(&built);
        req->outcome = MB_OUTCOME_TOOL_ERROR;
        return end_early(req, mb_tool_error_result("Could not build the request for tool %s: %s", tool->name, msg));
    }
    if (srv->circuits) {
        req->circuit_host = url_host(built.url);
        uint64_t retry = 0;
        enum mb_circuit_state before = req->circuit_host ? mb_circuit_state(srv->circuits, req->circuit_host)
                                                         : MB_CIRCUIT_CLOSED;
        bool allowed = !req->circuit_host || mb_circuit_allow(srv->circuits, req->circuit_host, now_ms(req), &retry);
        if (req->circuit_host)
            count_circuit_change(req, before);
        if (!allowed) {
            mb_call_stats_count_circuit(srv->rt->call_stats, MB_CIRCUIT_EVENT_REFUSED);
            mb_built_request_dispose(&built);
            mb_warn("tools", "%s: circuit open for %s; call refused", tool->name, req->circuit_host);
            req->outcome = MB_OUTCOME_DENIED;
            return end_early(req, mb_tool_error_result("The downstream API (%s) is failing and calls to it are paused "
                                                       "by the circuit breaker; retry in %llu ms.", req->circuit_host,
                                                       (unsigned long long)retry));
        }
    }

    /* Headers: the configured defaults first, the credential for the API, then what the
     * operation needs. Nothing of the client's own request is forwarded. */
    const char *headers[MB_MAX_DOWNSTREAM_HEADERS];
    size_t header_count = 0;
    for (size_t i = 0; i < srv->default_header_count && header_count < MB_MAX_DOWNSTREAM_HEADERS / 2; i++)
        headers[header_count++] = srv->default_headers[i];
    if (srv->api_key_header && header_count < MB_MAX_DOWNSTREAM_HEADERS)
        headers[header_count++] = srv->api_key_header;
    if (req->downstream_auth && header_count < MB_MAX_DOWNSTREAM_HEADERS)
        headers[header_count++] = req->downstream_auth;
    for (size_t i = 0; i < built.header_count && header_count < MB_MAX_DOWNSTREAM_HEADERS; i++)
        headers[header_count++] = built.headers[i];

    free(req->url);
    req->url = url_without_query(built.url);

    struct mb_upstream_request up_req = {
        .method = built.method,
        .url = built.url,
        .headers = headers,
        .header_count = header_count,
        .body = built.body,
        .body_len = built.body_len,
        .timeout_ms = cfg->request_timeout_enabled ? cfg->request_timeout_ms : 0,
    };
    const struct mb_guard_policy *policy = mb_config_guard_policy(cfg, tool->name);
    up_req.max_response_bytes = policy->max_response_bytes;
    if (policy->enabled) {
        /* The body goes through the response guard (on_body), never into upstream's buffer.
         * Allocated only for calls that go downstream: cheap methods never pay for it. */
        req->guard = calloc(1, sizeof *req->guard);
        if (!req->guard) {
            mb_built_request_dispose(&built);
            mb_mcp_finish_error(req, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
            return NULL;
        }
        req->guard->policy = policy;
        req->guard->mode = (enum mb_guard_mode)policy->mode;
        req->guard->max = policy->max_response_bytes ? policy->max_response_bytes : 1024u * 1024u;
        paging_position(tool, req->args, &req->guard->page_offset, &req->guard->page_number);
        mb_buf_init(&req->guard->out, req->guard->max);
        up_req.on_body = on_body;
        up_req.body_data = req;
    }
    bool wants_phases = req->progress_token || (req->log_level >= 0 && req->log_level <= 1);
    req->call = mb_upstream_start(srv->up, &up_req, on_done, wants_phases ? on_progress : NULL, req);
    mb_built_request_dispose(&built);
    if (!req->call) {
        mb_mcp_guard_dispose(req);
        req->outcome = MB_OUTCOME_TOOL_ERROR;
        return end_early(req, mb_tool_error_result("Could not start the downstream request for tool %s.", tool->name));
    }
    /* In flight: link it so cancellation and shutdown can find it (once). */
    if (!req->async)
        mb_mcp_request_link(req);
    send_progress(req, 0.0, "request sent to the downstream API");
    if (log_wanted(req, 1))
        send_log(req, 1, json_pack("{s:s,s:s,s:s,s:s}", "message", "calling the downstream API", "tool",
                               tool->name, "method", tool->method, "path", tool->path_template));
    return req;
}

void mb_mcp_tools_call_stop(struct mb_mcp_request *req)
{
    if (req->call) {
        mb_upstream_cancel(req->call);
        req->call = NULL;
    }
    if (req->waiting_rate) {
        mb_redis_limiter_cancel(req->srv->redis_limiter, req);
        req->waiting_rate = false;
    }
    if (req->waiting_token) {
        mb_token_fetch_cancel(req->waiting_token);
        req->waiting_token = NULL;
    }
}
