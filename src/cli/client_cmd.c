/* `mcpbridge client`: a small MCP client for scripts and smoke tests. It connects to an MCP
 * endpoint over Streamable HTTP (cli/mcp_client.h does the protocol), then lists the tools or
 * calls one, and prints the answer for a person (the tool's text content) or, with --json, as
 * the whole JSON result. Exit codes let a script tell a failed call from a broken connection:
 * 0 the call succeeded, 1 the tool answered isError or the server a JSON-RPC error, 2 a bad
 * command line, 3 a transport or HTTP failure (with what to pass on 401/403). Credentials
 * (--token, --header) are sent, never printed. */
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/mcp_client.h"
#include "common/buf.h"

#define EXIT_OK        0
#define EXIT_CALL      1 /* isError result or JSON-RPC error */
#define EXIT_TRANSPORT 3 /* after MB_CLI_EXIT_USAGE, 2 */

#define MAX_HEADERS    64
#define MAX_ARGS_BYTES (16u * 1024u * 1024u)
#define SUMMARY_MAX    100 /* bytes of a tool's summary in the --list table */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mcpbridge client --url URL (--list | --tool NAME [--args JSON|@FILE]) [options]\n"
        "  A small MCP client over Streamable HTTP: initialize, then list the tools or call one,\n"
        "  then end the session. URL is the MCP endpoint (e.g. http://127.0.0.1:8500/mcp).\n"
        "  --list                 list the tools (every page)\n"
        "  --tool NAME            call the tool NAME\n"
        "  --args JSON|@FILE      its arguments: a JSON object, or @FILE to read it from a file\n"
        "                         (@- reads standard input); default {}\n"
        "  --token TOKEN          sent as 'Authorization: Bearer TOKEN'\n"
        "  --header 'Name: value' an extra header, repeatable (e.g. a service-account token:\n"
        "                         --header 'X-OEMCP-SERVICEACCOUNT: TOKEN')\n"
        "  --json                 print the whole JSON result (the tool list, or the "
        "CallToolResult)\n"
        "  --timeout SECONDS      per HTTP exchange, default 30\n"
        "  --cacert FILE          CA certificate(s) to verify an https server with\n"
        "  --cert FILE --key FILE a client certificate and its key, for a server that asks (mTLS)\n"
        "  --verbose              progress and log notifications, and the session's steps, on "
        "stderr\n"
        "exit status: 0 success, 1 the tool returned isError or the server a JSON-RPC error,\n"
        "             2 bad command line, 3 connection or HTTP failure\n");
}

struct options {
    const char *url;
    bool list;
    const char *tool;
    const char *args;
    const char *token;
    const char *headers[MAX_HEADERS];
    size_t header_count;
    bool json;
    bool verbose;
    long timeout_ms;
    const char *cafile;
    const char *certfile, *keyfile;
};

static const struct mb_cli_command command = {"client", NULL};

/* A header line "Name: value": a token name, a colon, no CR, LF or NUL. Returns 0 or -1. */
static int check_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return -1;
    for (const char *p = h; p < colon; p++)
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
            return -1;
    return strpbrk(h, "\r\n") ? -1 : 0;
}

/* Returns -1 to go on, or the exit code to return now. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option options[] = {
        {"url", required_argument, NULL, 'u'},    {"list", no_argument, NULL, 'l'},
        {"tool", required_argument, NULL, 't'},   {"args", required_argument, NULL, 'a'},
        {"token", required_argument, NULL, 'k'},  {"header", required_argument, NULL, 'H'},
        {"json", no_argument, NULL, 'j'},         {"timeout", required_argument, NULL, 'T'},
        {"cacert", required_argument, NULL, 'C'}, {"verbose", no_argument, NULL, 'v'},
        {"cert", required_argument, NULL, 'E'},   {"key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->timeout_ms = 30000;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":u:lt:a:k:H:jT:C:E:K:vh", options, NULL)) != -1) {
        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 'l':
            o->list = true;
            break;
        case 't':
            o->tool = optarg;
            break;
        case 'a':
            o->args = optarg;
            break;
        case 'k':
            o->token = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'C':
            o->cafile = optarg;
            break;
        case 'E':
            o->certfile = optarg;
            break;
        case 'K':
            o->keyfile = optarg;
            break;
        case 'H':
            if (check_header(optarg) != 0)
                return mb_cli_usage_error(
                    &command,
                    "--header expects 'Name: value' (a header name, a colon, no line breaks), "
                    "got '%s'",
                    optarg);
            if (o->header_count == MAX_HEADERS)
                return mb_cli_usage_error(&command, "at most %d --header options", MAX_HEADERS);
            o->headers[o->header_count++] = optarg;
            break;
        case 'T': {
            char *end;
            errno = 0;
            double s = strtod(optarg, &end);
            if (errno || *end || !(s > 0) || s > 3600 || isnan(s))
                return mb_cli_usage_error(
                    &command, "--timeout '%s': expected seconds, more than 0 and at most 3600",
                    optarg);
            o->timeout_ms = (long)ceil(s * 1000);
            break;
        }
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return mb_cli_option_error(&command, c, argv);
        }
    }
    if (optind < argc)
        return mb_cli_unexpected_argument(&command, argv[optind]);
    if (!o->url)
        return mb_cli_usage_error(&command, "--url URL is required (the MCP endpoint, e.g. %s)",
                                  "http://127.0.0.1:8500/mcp");
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return mb_cli_usage_error(
            &command, "--url '%s': expected http://HOST:PORT/PATH or https://HOST:PORT/PATH",
            o->url);
    if (o->list == (o->tool != NULL))
        return mb_cli_usage_error(&command, "give either --list or --tool NAME");
    if ((o->certfile != NULL) != (o->keyfile != NULL))
        return mb_cli_usage_error(&command, "--cert FILE and --key FILE go together");
    if (o->args && !o->tool)
        return mb_cli_usage_error(&command, "--args goes with --tool NAME");
    for (size_t i = 0; o->token && i < o->header_count; i++)
        if (strncasecmp(o->headers[i], "Authorization:", 14) == 0)
            return mb_cli_usage_error(
                &command,
                "--token and --header 'Authorization: ...' both set the Authorization header; "
                "keep one");
    return -1;
}

/* Reads --args (inline JSON, @FILE or @-) into a JSON object. Returns it, or NULL after printing
 * why. */
static json_t *load_arguments(const char *spec)
{
    if (!spec)
        return json_object();
    json_error_t jerr;
    json_t *args = NULL;
    const char *source = "--args";
    if (spec[0] == '@') {
        const char *path = spec + 1;
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "mcpbridge client: --args %s: cannot open '%s': %s\n", spec, path,
                    strerror(errno));
            return NULL;
        }
        struct mb_buf text;
        mb_buf_init(&text, MAX_ARGS_BYTES);
        char chunk[65536];
        size_t n;
        int too_big = 0;
        while (!too_big && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
            too_big = mb_buf_append(&text, chunk, n) != 0;
        bool read_error = ferror(f) != 0;
        if (f != stdin)
            fclose(f);
        if (too_big || read_error) {
            fprintf(stderr, "mcpbridge client: --args %s: %s\n", spec,
                    too_big ? "the file is larger than 16 MiB" : "read error");
            mb_buf_dispose(&text);
            return NULL;
        }
        args = json_loadb(text.data ? text.data : "", text.len, 0, &jerr);
        mb_buf_dispose(&text);
        source = path;
    } else {
        args = json_loads(spec, 0, &jerr);
    }
    if (!args) {
        fprintf(stderr, "mcpbridge client: %s is not valid JSON: %s (line %d, column %d)\n", source,
                jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(args)) {
        fprintf(stderr,
                "mcpbridge client: %s must be a JSON object of arguments, e.g. '{\"id\": 3}'\n",
                source);
        json_decref(args);
        return NULL;
    }
    return args;
}

/* ---- notifications (--verbose) */

static void on_notification(void *data, const char *method, const json_t *params)
{
    (void)data;
    if (strcmp(method, "notifications/progress") == 0) {
        double progress = json_number_value(json_object_get(params, "progress"));
        const json_t *total = json_object_get(params, "total");
        const char *message = json_string_value(json_object_get(params, "message"));
        fprintf(stderr, "progress: %g", progress);
        if (json_is_number(total))
            fprintf(stderr, "/%g", json_number_value(total));
        fprintf(stderr, "%s%s\n", message ? " " : "", message ? message : "");
    } else if (strcmp(method, "notifications/message") == 0) {
        const char *level = json_string_value(json_object_get(params, "level"));
        const char *logger = json_string_value(json_object_get(params, "logger"));
        const json_t *d = json_object_get(params, "data");
        char *text = json_is_string(d) ? NULL : json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(stderr, "log %s%s%s: %s\n", level ? level : "?", logger ? " " : "",
                logger ? logger : "",
                json_is_string(d) ? json_string_value(d)
                : text            ? text
                                  : "");
        free(text);
    } else {
        fprintf(stderr, "notification: %s\n", method);
    }
    fflush(stderr);
}

/* ---- output */

static int print_json(FILE *out, const json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!text)
        return -1;
    fprintf(out, "%s\n", text);
    free(text);
    return 0;
}

/* The first line of s, cut to at most max bytes at a UTF-8 character boundary, into out. */
static void summary_of(const char *s, char *out, size_t max)
{
    size_t n = strcspn(s, "\r\n");
    bool cut = n > max;
    if (cut) {
        n = max - 3;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(out, max + 1, "%.*s%s", (int)n, s, cut ? "..." : "");
}

static void print_tool_table(const json_t *tools)
{
    size_t width = 4, i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        size_t len = name ? strlen(name) : 0;
        if (len > width)
            width = len > 48 ? 48 : len;
    }
    printf("%-*s  %s\n", (int)width, "NAME", "DESCRIPTION");
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *title = json_string_value(json_object_get(t, "title"));
        const char *desc = json_string_value(json_object_get(t, "description"));
        char summary[SUMMARY_MAX + 1];
        summary_of(title ? title : desc ? desc : "", summary, SUMMARY_MAX);
        printf("%-*s  %s\n", (int)width, name ? name : "(no name)", summary);
    }
}

/* Writes the content of a CallToolResult for a person: text as it is, other kinds as a short
 * bracketed line; structuredContent when there is no content. */
static void print_content(FILE *out, const json_t *result)
{
    const json_t *content = json_object_get(result, "content");
    size_t i;
    json_t *item;
    bool printed = false;
    json_array_foreach(content, i, item)
    {
        const char *type = json_string_value(json_object_get(item, "type"));
        if (!type)
            continue;
        printed = true;
        if (strcmp(type, "text") == 0) {
            const char *text = json_string_value(json_object_get(item, "text"));
            size_t len = text ? strlen(text) : 0;
            fprintf(out, "%s%s", text ? text : "", len && text[len - 1] == '\n' ? "" : "\n");
        } else if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
            const char *mime = json_string_value(json_object_get(item, "mimeType"));
            const char *data = json_string_value(json_object_get(item, "data"));
            fprintf(out, "[%s %s, %zu bytes of base64]\n", type, mime ? mime : "",
                    data ? strlen(data) : 0);
        } else if (strcmp(type, "resource") == 0) {
            const json_t *r = json_object_get(item, "resource");
            const char *text = json_string_value(json_object_get(r, "text"));
            const char *uri = json_string_value(json_object_get(r, "uri"));
            if (text)
                fprintf(out, "%s\n", text);
            else
                fprintf(out, "[resource %s, binary]\n", uri ? uri : "");
        } else if (strcmp(type, "resource_link") == 0) {
            const char *uri = json_string_value(json_object_get(item, "uri"));
            fprintf(out, "[resource link %s]\n", uri ? uri : "");
        } else {
            fprintf(out, "[%s content]\n", type);
        }
    }
    const json_t *structured = json_object_get(result, "structuredContent");
    if (!printed && structured)
        print_json(out, structured);
}

/* What to pass after a 401 or 403, from what the server said. */
static void print_auth_hint(const struct mb_mcp_error *e, const struct options *o)
{
    bool sent = o->token || o->header_count > 0;
    const char *h = e->auth_header;
    if (e->http_status == 403) {
        if (strcmp(e->auth_error, "insufficient_scope") == 0)
            fprintf(stderr,
                    "  The credential is valid but lacks the scope(s) this needs%s%s%s: use a "
                    "token that "
                    "grants them.\n",
                    e->auth_scope[0] ? " ('" : "", e->auth_scope, e->auth_scope[0] ? "')" : "");
        else
            fprintf(stderr, "  The server refuses this request whatever the credential (a Host or "
                            "Origin it does "
                            "not accept, or a policy); see its log.\n");
        return;
    }
    if (strcmp(e->auth_error, "invalid_token") == 0 ||
        strcmp(e->auth_error, "invalid_request") == 0) {
        bool said = !e->auth_description[0] || strstr(e->message, e->auth_description);
        fprintf(stderr,
                "  The credential you passed was refused%s%s. Pass a valid, unexpired token%s.\n",
                said ? "" : ": ", said ? "" : e->auth_description,
                e->authorization_server[0]
                    ? " from the authorization server below"
                    : " (`mcpbridge sa-token` mints service-account tokens)");
    } else if (h[0] && strcasecmp(h, "Authorization") != 0) {
        fprintf(stderr, "  Pass the service-account token in that header: --header '%s: TOKEN'%s\n",
                h, sent ? " (the headers you sent did not include it)" : "");
    } else if (h[0]) {
        fprintf(stderr,
                "  Pass a bearer token: --token TOKEN (sent as 'Authorization: Bearer TOKEN').\n");
    } else {
        fprintf(stderr,
                "  Pass a credential: --token TOKEN (sent as 'Authorization: Bearer TOKEN'), or a "
                "service-account token with --header 'X-OEMCP-SERVICEACCOUNT: TOKEN'.\n");
    }
    if (e->authorization_server[0])
        fprintf(stderr,
                "  Tokens for this server come from the authorization server %s (resource metadata "
                "%s).\n",
                e->authorization_server, e->resource_metadata);
    else if (e->resource_metadata[0])
        fprintf(stderr, "  The server describes what it accepts at %s.\n", e->resource_metadata);
}

/* Prints a failure and returns its exit code. */
static int report_failure(const struct mb_mcp_error *e, const struct options *o)
{
    fprintf(stderr, "mcpbridge client: %s\n", e->message[0] ? e->message : "failed");
    if (e->kind == MB_MCP_FAIL_HTTP && (e->http_status == 401 || e->http_status == 403))
        print_auth_hint(e, o);
    else if (e->kind == MB_MCP_FAIL_TRANSPORT && e->curl_code != 0 && strstr(e->message, "TLS"))
        fprintf(stderr,
                "  Pass it with --cacert FILE (the CA that signed the server's certificate).\n");
    return e->kind == MB_MCP_FAIL_RPC ? EXIT_CALL : EXIT_TRANSPORT;
}

/* The client's header lines: "Authorization: Bearer TOKEN" (heap, wiped and freed by the
 * caller) followed by the --header values. */
static char *bearer_header(const char *token)
{
    size_t len = strlen(token) + 32;
    char *line = malloc(len);
    if (line)
        snprintf(line, len, "Authorization: Bearer %s", token);
    return line;
}

static int run(const struct options *o, json_t *arguments)
{
    const char *headers[MAX_HEADERS + 1];
    size_t n = 0;
    char *bearer = NULL;
    if (o->token) {
        if (strpbrk(o->token, "\r\n") || !(bearer = bearer_header(o->token))) {
            fprintf(stderr, "mcpbridge client: --token must be one line\n");
            return MB_CLI_EXIT_USAGE;
        }
        headers[n++] = bearer;
    }
    for (size_t i = 0; i < o->header_count; i++)
        headers[n++] = o->headers[i];
    struct mb_mcp_client_options copts = {
        .url = o->url,
        .headers = headers,
        .header_count = n,
        .timeout_ms = o->timeout_ms,
        .cafile = o->cafile,
        .certfile = o->certfile,
        .keyfile = o->keyfile,
        .on_notification = o->verbose ? on_notification : NULL,
    };
    struct mb_mcp_error err;
    int rc = EXIT_TRANSPORT;
    json_t *answer = NULL;
    struct mb_mcp_client *client = mb_mcp_client_create(&copts, &err);
    if (!client || mb_mcp_client_initialize(client, &err) != 0) {
        rc = report_failure(&err, o);
        goto done;
    }
    const json_t *server = mb_mcp_client_server(client);
    if (o->verbose) {
        const json_t *info = json_object_get(server, "serverInfo");
        const char *name = json_string_value(json_object_get(info, "name"));
        const char *version = json_string_value(json_object_get(info, "version"));
        fprintf(stderr, "initialized: %s %s, protocol %s\n", name ? name : "(unnamed server)",
                version ? version : "", mb_mcp_client_protocol(client));
        if (json_object_get(json_object_get(server, "capabilities"), "logging")) {
            json_t *level = json_pack("{s:s}", "level", "debug");
            json_t *ignored = NULL;
            if (level &&
                mb_mcp_client_request(client, "logging/setLevel", level, &ignored, &err) != 0)
                fprintf(stderr, "logging/setLevel refused: %s\n", err.message);
            json_decref(ignored);
            json_decref(level);
        }
    }
    if (o->list) {
        if (mb_mcp_client_list_tools(client, &answer, &err) != 0) {
            rc = report_failure(&err, o);
            goto done;
        }
        if (o->json)
            print_json(stdout, answer);
        else
            print_tool_table(answer);
        if (o->verbose)
            fprintf(stderr, "%zu tools\n", json_array_size(answer));
        rc = EXIT_OK;
    } else {
        if (mb_mcp_client_call_tool(client, o->tool, arguments, o->verbose, &answer, &err) != 0) {
            rc = report_failure(&err, o);
            goto done;
        }
        bool is_error = json_is_true(json_object_get(answer, "isError"));
        if (o->json) {
            print_json(stdout, answer);
        } else if (is_error) {
            fprintf(stderr, "mcpbridge client: the tool '%s' returned an error:\n", o->tool);
            print_content(stderr, answer);
        } else {
            print_content(stdout, answer);
        }
        rc = is_error ? EXIT_CALL : EXIT_OK;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mcpbridge client: cannot write the output: %s\n", strerror(errno));
        rc = EXIT_TRANSPORT;
    }
done:
    json_decref(answer);
    mb_mcp_client_destroy(client);
    if (bearer) {
        memset(bearer, 0, strlen(bearer));
        free(bearer);
    }
    return rc;
}

int mb_cli_client(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    json_t *arguments = load_arguments(o.args);
    if (!arguments)
        return MB_CLI_EXIT_USAGE;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "mcpbridge client: libcurl failed to initialize\n");
        json_decref(arguments);
        return EXIT_TRANSPORT;
    }
    rc = run(&o, arguments);
    curl_global_cleanup();
    json_decref(arguments);
    return rc;
}
