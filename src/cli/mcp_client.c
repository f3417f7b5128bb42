/* The blocking MCP client of the command line (contract in mcp_client.h). One curl easy handle
 * per client, reused so the exchanges of a session share a keep-alive connection. Each POST
 * carries one JSON-RPC message; the answer is read as JSON (collected, then parsed) or as an SSE
 * stream (events parsed as they arrive, so progress shows while a call runs; the transfer is
 * stopped once the response to our id has arrived). */
#include "cli/mcp_client.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "mcp/mcp_server.h"

#define DEFAULT_TIMEOUT_MS  30000L
#define MAX_BODY            (64u * 1024u * 1024u) /* a JSON answer or one SSE event */
#define MAX_HEADER_LINE     8192u
#define MAX_PAGES           10000
#define METADATA_TIMEOUT_MS 5000L

/* Protocol versions this client can speak, newest first: what the server may fall back to. */
static const char *const known_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                             "2024-11-05"};

struct mb_mcp_client {
    struct mb_mcp_client_options opts;
    CURL *curl;
    char *session_id;  /* Mcp-Session-Id issued by initialize, or NULL */
    char protocol[32]; /* negotiated version; "" before initialize */
    json_t *server;    /* the initialize result */
    long next_id;
};

/* What one HTTP exchange collected. */
struct exchange {
    struct mb_mcp_client *c;
    long want_id; /* the id whose response ends the exchange; -1 for a notification */
    bool sse;     /* Content-Type: text/event-stream */
    char content_type[128];
    char session_id[256];
    char www_authenticate[2048];
    char location[512];
    struct mb_buf body;  /* JSON body, or SSE bytes not yet parsed */
    struct mb_buf event; /* data lines of the SSE event being read */
    json_t *response;    /* the response to want_id, once seen */
    bool response_bad;   /* an SSE data line that is not JSON */
};

static void set_error(struct mb_mcp_error *err, enum mb_mcp_failure kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct mb_mcp_error *err, enum mb_mcp_failure kind, const char *fmt, ...)
{
    if (!err)
        return;
    err->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void clear_error(struct mb_mcp_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

/* Copies a header value (without the trailing CR LF) into out. */
static void copy_header_value(const char *value, size_t len, char *out, size_t cap)
{
    while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' || value[len - 1] == ' '))
        len--;
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    if (len >= cap)
        len = cap - 1;
    memcpy(out, value, len);
    out[len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *userdata)
{
    struct exchange *x = userdata;
    size_t len = size * n;
    if (len > MAX_HEADER_LINE)
        return len; /* ignored, never one we read */
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, or a redirect): forget the last one's headers. */
        x->content_type[0] = x->session_id[0] = x->www_authenticate[0] = x->location[0] = '\0';
        return len;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return len;
    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
    static const struct {
        const char *name;
        size_t offset, cap;
    } wanted[] = {
        {"content-type", offsetof(struct exchange, content_type),
         sizeof((struct exchange *)0)->content_type},
        {"mcp-session-id", offsetof(struct exchange, session_id),
         sizeof((struct exchange *)0)->session_id},
        {"www-authenticate", offsetof(struct exchange, www_authenticate),
         sizeof((struct exchange *)0)->www_authenticate},
        {"location", offsetof(struct exchange, location), sizeof((struct exchange *)0)->location},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (strlen(wanted[i].name) == name_len && strncasecmp(line, wanted[i].name, name_len) == 0)
            copy_header_value(value, value_len, (char *)x + wanted[i].offset, wanted[i].cap);
    return len;
}

/* True when msg is the response to id: {"id": id, "result"|"error": ...}. */
static bool is_response_to(const json_t *msg, long id)
{
    const json_t *mid = json_object_get(msg, "id");
    return json_is_integer(mid) && json_integer_value(mid) == id &&
           (json_object_get(msg, "result") || json_object_get(msg, "error"));
}

/* One JSON-RPC message from an SSE event: our response is kept; notifications go to the
 * callback; requests from the server (sampling, elicitation, ping) are not answered by this
 * client and are dropped. */
static void on_message(struct exchange *x, json_t *msg)
{
    if (!json_is_object(msg))
        return;
    if (x->want_id >= 0 && !x->response && is_response_to(msg, x->want_id)) {
        x->response = json_incref(msg);
        return;
    }
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method && !json_object_get(msg, "id") && x->c->opts.on_notification)
        x->c->opts.on_notification(x->c->opts.data, method, json_object_get(msg, "params"));
}

static void dispatch_event(struct exchange *x)
{
    if (x->event.len == 0)
        return;
    json_error_t jerr;
    json_t *msg = json_loadb(x->event.data, x->event.len, 0, &jerr);
    if (msg)
        on_message(x, msg);
    else
        x->response_bad = true;
    json_decref(msg);
    mb_buf_reset(&x->event);
}

/* Parses the complete lines of x->body as SSE (WHATWG rules: "data:" lines joined by LF, a
 * blank line dispatches, other fields and comments ignored). Returns 0, or -1 when an event is
 * larger than MAX_BODY. */
static int parse_sse(struct exchange *x)
{
    size_t start = 0;
    if (!x->body.data)
        return 0;
    for (;;) {
        char *base = x->body.data + start;
        size_t avail = x->body.len - start;
        char *nl = memchr(base, '\n', avail);
        if (!nl)
            break;
        size_t line_len = (size_t)(nl - base);
        if (line_len > 0 && base[line_len - 1] == '\r')
            line_len--;
        start += (size_t)(nl - base) + 1;
        if (line_len == 0) {
            dispatch_event(x);
            continue;
        }
        if (line_len >= 5 && strncmp(base, "data:", 5) == 0) {
            const char *v = base + 5;
            size_t vlen = line_len - 5;
            if (vlen > 0 && *v == ' ') {
                v++;
                vlen--;
            }
            if ((x->event.len > 0 && mb_buf_append(&x->event, "\n", 1) != 0) ||
                mb_buf_append(&x->event, v, vlen) != 0)
                return -1;
        }
    }
    mb_buf_consume(&x->body, start);
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct exchange *x = userdata;
    size_t len = size * n;
    if (x->body.len == 0 && x->event.len == 0 && !x->sse)
        x->sse = strncasecmp(x->content_type, "text/event-stream", 17) == 0;
    if (mb_buf_append(&x->body, data, len) != 0)
        return 0; /* too big: curl stops with CURLE_WRITE_ERROR */
    if (x->sse) {
        if (parse_sse(x) != 0)
            return 0;
        if (x->response)
            return 0; /* we have what we came for: stop reading (the stream may stay open) */
    }
    return len;
}

/* Parses `Bearer error="x", error_description="y", ...` into the error's auth fields. */
static void parse_challenge(const char *h, struct mb_mcp_error *err)
{
    const char *p = strchr(h, ' ');
    if (!p)
        return;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ' ' && *p != ',')
            p++;
        size_t name_len = (size_t)(p - name);
        if (*p != '=')
            continue;
        p++;
        char value[1024];
        size_t vlen = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (vlen + 1 < sizeof value)
                    value[vlen++] = *p;
            }
            if (*p == '"')
                p++;
        } else {
            for (; *p && *p != ',' && *p != ' '; p++)
                if (vlen + 1 < sizeof value)
                    value[vlen++] = *p;
        }
        value[vlen] = '\0';
        static const struct {
            const char *name;
            size_t offset, cap;
        } params[] = {
            {"error", offsetof(struct mb_mcp_error, auth_error),
             sizeof((struct mb_mcp_error *)0)->auth_error},
            {"error_description", offsetof(struct mb_mcp_error, auth_description),
             sizeof((struct mb_mcp_error *)0)->auth_description},
            {"scope", offsetof(struct mb_mcp_error, auth_scope),
             sizeof((struct mb_mcp_error *)0)->auth_scope},
            {"resource_metadata", offsetof(struct mb_mcp_error, resource_metadata),
             sizeof((struct mb_mcp_error *)0)->resource_metadata},
        };
        for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
            if (strlen(params[i].name) == name_len &&
                strncasecmp(name, params[i].name, name_len) == 0)
                snprintf((char *)err + params[i].offset, params[i].cap, "%s", value);
    }
}

/* The header a message like "this server requires the X-OEMCP-SERVICEACCOUNT header" names. */
static void header_named_in(const char *message, char *out, size_t cap)
{
    for (const char *p = message; (p = strstr(p, "the ")) != NULL; p++) {
        const char *name = p + 4;
        size_t len =
            strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        if (len > 0 && strncmp(name + len, " header", 7) == 0) {
            snprintf(out, cap, "%.*s", (int)len, name);
            return;
        }
    }
}

/* The options every transfer to the server shares: CA file, client certificate, proxy. */
static void apply_transport_options(const struct mb_mcp_client *c, CURL *curl)
{
    if (c->opts.cafile)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->opts.cafile);
    if (c->opts.certfile)
        curl_easy_setopt(curl, CURLOPT_SSLCERT, c->opts.certfile);
    if (c->opts.keyfile)
        curl_easy_setopt(curl, CURLOPT_SSLKEY, c->opts.keyfile);
    if (c->opts.no_proxy)
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
}

/* GETs the RFC 9728 metadata and keeps its first authorization server. Failures are silent:
 * it only adds a hint to an error already being reported. */
static void fetch_metadata(struct mb_mcp_client *c, struct mb_mcp_error *err)
{
    if (strncmp(err->resource_metadata, "http://", 7) != 0 &&
        strncmp(err->resource_metadata, "https://", 8) != 0)
        return;
    CURL *curl = curl_easy_init();
    if (!curl)
        return;
    struct exchange x = {.c = c, .want_id = -1};
    mb_buf_init(&x.body, 256 * 1024);
    mb_buf_init(&x.event, 1);
    curl_easy_setopt(curl, CURLOPT_URL, err->resource_metadata);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, METADATA_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    apply_transport_options(c, curl);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK &&
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200) {
        json_t *doc = json_loadb(x.body.data ? x.body.data : "", x.body.len, 0, NULL);
        const char *as =
            json_string_value(json_array_get(json_object_get(doc, "authorization_servers"), 0));
        if (as)
            snprintf(err->authorization_server, sizeof err->authorization_server, "%s", as);
        json_decref(doc);
    }
    mb_buf_dispose(&x.body);
    mb_buf_dispose(&x.event);
    curl_easy_cleanup(curl);
}

/* The "error" object of a JSON-RPC body, or NULL. */
static const json_t *rpc_error_of(const json_t *msg)
{
    const json_t *e = json_object_get(msg, "error");
    return json_is_object(e) ? e : NULL;
}

/* Fills err for an HTTP status we did not want, using what the body and headers say. */
static void http_failure(struct mb_mcp_client *c, struct exchange *x, long status, const char *what,
                         struct mb_mcp_error *err)
{
    json_t *doc = x->body.len ? json_loadb(x->body.data, x->body.len, 0, NULL) : NULL;
    const json_t *e = rpc_error_of(doc);
    const char *said = json_string_value(json_object_get(e, "message"));
    if (!said) /* an OAuth-style {"error","error_description"} body (metadata routes, proxies) */
        said = json_string_value(json_object_get(doc, "error_description"));
    err->http_status = status;
    err->rpc_code = e ? (long)json_integer_value(json_object_get(e, "code")) : 0;
    if (status == 401 || status == 403) {
        parse_challenge(x->www_authenticate, err);
        if (!err->auth_description[0] && said)
            snprintf(err->auth_description, sizeof err->auth_description, "%s", said);
        header_named_in(said ? said : err->auth_description, err->auth_header,
                        sizeof err->auth_header);
        if (status == 401)
            fetch_metadata(c, err);
        set_error(err, MB_MCP_FAIL_HTTP, "%s refused %s (HTTP %ld): %s", c->opts.url, what, status,
                  said                       ? said
                  : err->auth_description[0] ? err->auth_description
                                             : "no reason given");
    } else if (status == 404 && c->session_id) {
        set_error(
            err, MB_MCP_FAIL_HTTP,
            "%s no longer knows this session (HTTP 404): it expired or the server restarted with "
            "another session secret; run the command again",
            c->opts.url);
    } else if (status >= 300 && status < 400) {
        set_error(err, MB_MCP_FAIL_HTTP, "%s redirects %s (HTTP %ld) to '%s': use that URL",
                  c->opts.url, what, status, x->location[0] ? x->location : "(no Location)");
    } else if (status == 404 || status == 405) {
        set_error(err, MB_MCP_FAIL_HTTP,
                  "%s answered %s with HTTP %ld%s%s%s: is this the MCP endpoint? It is the "
                  "server's base URL "
                  "plus its path (by default /mcp)",
                  c->opts.url, what, status, said ? " (" : "", said ? said : "", said ? ")" : "");
    } else {
        set_error(err, MB_MCP_FAIL_HTTP, "%s answered %s with HTTP %ld%s%s", c->opts.url, what,
                  status, said ? ": " : "", said ? said : "");
    }
    json_decref(doc);
}

static void transport_failure(struct mb_mcp_client *c, CURLcode res, const char *why,
                              const char *what, struct mb_mcp_error *err)
{
    long timeout_s = (c->opts.timeout_ms ? c->opts.timeout_ms : DEFAULT_TIMEOUT_MS) / 1000;
    switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
        set_error(err, MB_MCP_FAIL_TRANSPORT, "cannot resolve the host of %s (%s): check the URL",
                  c->opts.url, why);
        break;
    case CURLE_COULDNT_CONNECT:
        set_error(err, MB_MCP_FAIL_TRANSPORT,
                  "cannot connect to %s (%s): is the MCP server running there (`mcpbridge serve` "
                  "logs its "
                  "URL in its \"listening on\" line)?",
                  c->opts.url, why);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        set_error(err, MB_MCP_FAIL_TRANSPORT, "%s did not answer %s within %ld s (%s)", c->opts.url,
                  what, timeout_s, why);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        set_error(err, MB_MCP_FAIL_TRANSPORT,
                  "the TLS handshake with %s failed (%s): for a self-signed or private CA "
                  "certificate, pass "
                  "the CA file",
                  c->opts.url, why);
        break;
    case CURLE_WRITE_ERROR:
        set_error(err, MB_MCP_FAIL_TRANSPORT,
                  "%s sent more than %u bytes for %s: not an MCP answer", c->opts.url, MAX_BODY,
                  what);
        break;
    default:
        set_error(err, MB_MCP_FAIL_TRANSPORT, "%s to %s failed: %s", what, c->opts.url, why);
        break;
    }
}

/* One HTTP exchange. http_method "POST" (body = one JSON-RPC message) or "DELETE" (body NULL).
 * want_id: the id of the request sent (-1 for a notification or DELETE). On success returns 0
 * and, for a request, *response (new reference) = the JSON-RPC response object. */
static int exchange(struct mb_mcp_client *c, const char *http_method, const char *body,
                    long want_id, const char *what, json_t **response, struct mb_mcp_error *err)
{
    struct exchange x = {.c = c, .want_id = want_id};
    mb_buf_init(&x.body, MAX_BODY);
    mb_buf_init(&x.event, MAX_BODY);
    struct curl_slist *headers = NULL;
    struct mb_buf line;
    mb_buf_init(&line, 64 * 1024);
    int rc = -1;
    char error[CURL_ERROR_SIZE] = "";

    headers = curl_slist_append(headers, "Accept: application/json, text/event-stream");
    headers = curl_slist_append(headers, "Expect:");
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (c->session_id && mb_buf_printf(&line, "Mcp-Session-Id: %s", c->session_id) == 0)
        headers = curl_slist_append(headers, line.data);
    mb_buf_reset(&line);
    if (c->protocol[0] && mb_buf_printf(&line, "Mcp-Protocol-Version: %s", c->protocol) == 0)
        headers = curl_slist_append(headers, line.data);
    for (size_t i = 0; i < c->opts.header_count; i++)
        headers = curl_slist_append(headers, c->opts.headers[i]);
    if (!headers) {
        set_error(err, MB_MCP_FAIL_TRANSPORT, "out of memory");
        goto done;
    }

    CURL *curl = c->curl;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, c->opts.url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcpbridge-client/" MB_VERSION);
    long timeout_ms = c->opts.timeout_ms ? c->opts.timeout_ms : DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    apply_transport_options(c, curl);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, http_method);
    }
    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK && !(res == CURLE_WRITE_ERROR && x.response)) {
        transport_failure(c, res, error[0] ? error : curl_easy_strerror(res), what, err);
        if (err)
            err->curl_code = (int)res;
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (want_id < 0) {
        if (status == 200 || status == 202 || status == 204)
            rc = 0;
        else
            http_failure(c, &x, status, what, err);
        goto done;
    }
    if (status != 200) {
        http_failure(c, &x, status, what, err);
        goto done;
    }
    if (x.sse) {
        parse_sse(&x);
        dispatch_event(&x); /* a last event without its blank line */
    } else if (x.body.len > 0) {
        json_error_t jerr;
        json_t *doc = json_loadb(x.body.data, x.body.len, 0, &jerr);
        if (!doc) {
            set_error(err, MB_MCP_FAIL_PROTOCOL,
                      "%s answered %s with a body that is not JSON (Content-Type '%s', %s at byte "
                      "%d): is this an "
                      "MCP endpoint?",
                      c->opts.url, what, x.content_type, jerr.text, jerr.position);
            goto done;
        }
        if (json_is_array(doc)) { /* a batch answer: find ours */
            size_t i;
            json_t *m;
            json_array_foreach(doc, i, m)
            {
                on_message(&x, m);
            }
        } else {
            on_message(&x, doc);
        }
        json_decref(doc);
    }
    if (!x.response) {
        set_error(err, MB_MCP_FAIL_PROTOCOL, "%s answered %s without a JSON-RPC response to it%s",
                  c->opts.url, what, x.response_bad ? " (an SSE event was not JSON)" : "");
        goto done;
    }
    if (x.session_id[0] && !c->session_id && !(c->session_id = strdup(x.session_id))) {
        set_error(err, MB_MCP_FAIL_TRANSPORT, "out of memory");
        goto done;
    }
    *response = x.response;
    x.response = NULL;
    rc = 0;
done:
    json_decref(x.response);
    mb_buf_dispose(&x.body);
    mb_buf_dispose(&x.event);
    mb_buf_dispose(&line);
    curl_slist_free_all(headers);
    return rc;
}

struct mb_mcp_client *mb_mcp_client_create(const struct mb_mcp_client_options *opts,
                                           struct mb_mcp_error *err)
{
    clear_error(err);
    if (!opts || !opts->url ||
        (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0)) {
        set_error(err, MB_MCP_FAIL_TRANSPORT, "the URL '%s' is not http:// or https://",
                  opts && opts->url ? opts->url : "");
        return NULL;
    }
    struct mb_mcp_client *c = calloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        set_error(err, MB_MCP_FAIL_TRANSPORT,
                  "libcurl could not start a transfer (out of memory?)");
        return NULL;
    }
    c->opts = *opts;
    c->next_id = 1;
    return c;
}

/* Sends {"jsonrpc":"2.0","id":N,"method":method,"params":params} and returns the response
 * object (new reference) in *response. */
static int send_request(struct mb_mcp_client *c, const char *method, json_t *params,
                        json_t **response, struct mb_mcp_error *err)
{
    long id = c->next_id++;
    json_t *msg = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", (json_int_t)id, "method",
                            method, "params", params ? json_incref(params) : json_object());
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text) {
        set_error(err, MB_MCP_FAIL_TRANSPORT, "out of memory");
        return -1;
    }
    char what[160];
    snprintf(what, sizeof what, "%s", method);
    int rc = exchange(c, "POST", text, id, what, response, err);
    free(text);
    return rc;
}

/* The result of a response, or -1 with err (MB_MCP_FAIL_RPC) for an error response. */
static int take_result(const char *method, json_t *response, json_t **result,
                       struct mb_mcp_error *err)
{
    const json_t *e = rpc_error_of(response);
    if (e || !json_object_get(response, "result")) {
        const char *m = json_string_value(json_object_get(e, "message"));
        if (err)
            err->rpc_code = e ? (long)json_integer_value(json_object_get(e, "code")) : 0;
        set_error(err, MB_MCP_FAIL_RPC, "%s: %s", method,
                  m ? m : "the server answered with an error without a message");
        return -1;
    }
    *result = json_incref(json_object_get(response, "result"));
    return 0;
}

int mb_mcp_client_request(struct mb_mcp_client *c, const char *method, json_t *params,
                          json_t **result, struct mb_mcp_error *err)
{
    clear_error(err);
    json_t *response = NULL;
    *result = NULL;
    if (send_request(c, method, params, &response, err) != 0)
        return -1;
    int rc = take_result(method, response, result, err);
    json_decref(response);
    return rc;
}

static bool known_version(const char *v)
{
    for (size_t i = 0; v && i < sizeof known_versions / sizeof known_versions[0]; i++)
        if (strcmp(v, known_versions[i]) == 0)
            return true;
    return false;
}

int mb_mcp_client_initialize(struct mb_mcp_client *c, struct mb_mcp_error *err)
{
    clear_error(err);
    const char *asked =
        c->opts.protocol_version ? c->opts.protocol_version : MB_MCP_CLIENT_PROTOCOL;
    json_t *params = json_pack(
        "{s:s,s:{},s:{s:s,s:s}}", "protocolVersion", asked, "capabilities", "clientInfo", "name",
        c->opts.client_name ? c->opts.client_name : "mcpbridge-client", "version", MB_VERSION);
    json_t *result = NULL;
    int rc = params ? mb_mcp_client_request(c, "initialize", params, &result, err) : -1;
    json_decref(params);
    if (rc != 0) {
        if (!params)
            set_error(err, MB_MCP_FAIL_TRANSPORT, "out of memory");
        return -1;
    }
    const char *version = json_string_value(json_object_get(result, "protocolVersion"));
    if (!known_version(version)) {
        set_error(
            err, MB_MCP_FAIL_PROTOCOL,
            "%s answered initialize with protocol version '%s', which this client does not speak "
            "(it knows 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)",
            c->opts.url, version ? version : "(none)");
        json_decref(result);
        return -1;
    }
    snprintf(c->protocol, sizeof c->protocol, "%s", version);
    json_decref(c->server);
    c->server = result;
    if (exchange(c, "POST", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", -1,
                 "notifications/initialized", NULL, err) != 0)
        return -1;
    return 0;
}

const char *mb_mcp_client_protocol(const struct mb_mcp_client *c)
{
    return c && c->protocol[0] ? c->protocol : NULL;
}

const json_t *mb_mcp_client_server(const struct mb_mcp_client *c)
{
    return c ? c->server : NULL;
}

bool mb_mcp_client_has_session(const struct mb_mcp_client *c)
{
    return c && c->session_id;
}

int mb_mcp_client_list_tools(struct mb_mcp_client *c, json_t **tools, struct mb_mcp_error *err)
{
    json_t *all = json_array();
    char *cursor = NULL;
    int rc = -1;
    *tools = NULL;
    if (!all) {
        set_error(err, MB_MCP_FAIL_TRANSPORT, "out of memory");
        return -1;
    }
    for (int page = 0;; page++) {
        if (page == MAX_PAGES) {
            set_error(err, MB_MCP_FAIL_PROTOCOL,
                      "%s sent more than %d pages of tools/list: stopped", c->opts.url, MAX_PAGES);
            goto done;
        }
        json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
        json_t *result = NULL;
        int r = mb_mcp_client_request(c, "tools/list", params, &result, err);
        json_decref(params);
        if (r != 0)
            goto done;
        const json_t *list = json_object_get(result, "tools");
        if (!json_is_array(list)) {
            set_error(err, MB_MCP_FAIL_PROTOCOL, "%s answered tools/list without a \"tools\" array",
                      c->opts.url);
            json_decref(result);
            goto done;
        }
        json_array_extend(all, (json_t *)list);
        const char *next = json_string_value(json_object_get(result, "nextCursor"));
        free(cursor);
        cursor = next && *next ? strdup(next) : NULL;
        json_decref(result);
        if (!cursor)
            break;
    }
    *tools = all;
    all = NULL;
    rc = 0;
done:
    free(cursor);
    json_decref(all);
    return rc;
}

int mb_mcp_client_call_tool(struct mb_mcp_client *c, const char *name, const json_t *arguments,
                            bool progress, json_t **result, struct mb_mcp_error *err)
{
    json_t *params = json_pack("{s:s,s:o}", "name", name, "arguments",
                               arguments ? json_incref((json_t *)arguments) : json_object());
    if (params && progress)
        json_object_set_new(params, "_meta",
                            json_pack("{s:I}", "progressToken", (json_int_t)c->next_id));
    if (!params) {
        set_error(err, MB_MCP_FAIL_TRANSPORT, "out of memory");
        return -1;
    }
    int rc = mb_mcp_client_request(c, "tools/call", params, result, err);
    json_decref(params);
    if (rc == 0 && !json_is_object(*result)) {
        json_decref(*result);
        *result = NULL;
        set_error(err, MB_MCP_FAIL_PROTOCOL,
                  "%s answered tools/call with a result that is not an object", c->opts.url);
        return -1;
    }
    return rc;
}

void mb_mcp_client_destroy(struct mb_mcp_client *c)
{
    if (!c)
        return;
    if (c->session_id) {
        struct mb_mcp_error ignored;
        memset(&ignored, 0, sizeof ignored);
        exchange(c, "DELETE", NULL, -1, "DELETE", NULL, &ignored);
        free(c->session_id);
    }
    json_decref(c->server);
    curl_easy_cleanup(c->curl);
    free(c);
}
