/* A small, blocking MCP client over Streamable HTTP for command-line tools: `mcpbridge client`
 * and the smoke check of `mcpbridge init`. One session per client: initialize (protocol
 * MB_MCP_CLIENT_PROTOCOL, falling back to the version the server answers when this client knows
 * it), notifications/initialized, then any number of requests, and a DELETE of the session when
 * the client is destroyed. Answers may be JSON or an SSE stream; notifications that arrive on a
 * stream before the response (progress, log messages) go to a callback. Built on libcurl's easy
 * interface: a command line tool may block; the server never does.
 *
 * Errors are reported in struct mb_mcp_error: what kind of failure (so a caller can map it to an
 * exit code), one sentence for a person, and for 401/403 what the server asked for (the
 * WWW-Authenticate parameters, the credential header its message names, the authorization
 * servers of its resource metadata). Nothing here ever prints or stores a credential in an
 * error: header values are sent, never echoed. */
#ifndef MB_CLI_MCP_CLIENT_H
#define MB_CLI_MCP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The protocol version asked for first. */
#define MB_MCP_CLIENT_PROTOCOL "2025-11-25"

enum mb_mcp_failure {
    MB_MCP_FAIL_NONE = 0,
    MB_MCP_FAIL_TRANSPORT, /* no HTTP answer: DNS, connect, TLS, timeout, or too large */
    MB_MCP_FAIL_HTTP,      /* an HTTP status other than the expected one (http_status set) */
    MB_MCP_FAIL_PROTOCOL,  /* an answer that is not MCP: not JSON-RPC, no response to our id,
                            * a protocol version this client does not know */
    MB_MCP_FAIL_RPC,       /* the server answered with a JSON-RPC error (rpc_code set) */
};

struct mb_mcp_error {
    enum mb_mcp_failure kind;
    long http_status;   /* the HTTP status when one was received, else 0 */
    long rpc_code;      /* the JSON-RPC error code (MB_MCP_FAIL_RPC, or the error
                         * object of an HTTP error's body), else 0 */
    int curl_code;      /* the CURLcode of a transport failure, else 0 */
    char message[1024]; /* one or two sentences for a person: what was tried, what the
                         * server said (its error message), never a credential */
    /* Filled on 401 and 403 from the WWW-Authenticate challenge, the body and the resource
     * metadata; "" when the server did not say. */
    char auth_error[64];            /* "invalid_token", "insufficient_scope", ... */
    char auth_description[512];     /* error_description, else the body's JSON-RPC message */
    char auth_scope[256];           /* scopes the server asks for */
    char auth_header[128];          /* the credential header the server's message names
                                     * ("X-OEMCP-SERVICEACCOUNT", "Authorization") */
    char resource_metadata[512];    /* URL of the RFC 9728 metadata */
    char authorization_server[512]; /* the first authorization_servers entry of the metadata */
};

/* Called for each notification (a JSON-RPC message with a method and no id) that arrives on an
 * SSE stream before the response; params may be NULL. Borrowed values, valid during the call. */
typedef void (*mb_mcp_notification_cb)(void *data, const char *method, const json_t *params);

struct mb_mcp_client_options {
    const char *url;            /* the MCP endpoint, http(s)://host[:port]/path; required */
    const char *const *headers; /* "Name: value" lines sent with every request (credentials,
                                 * custom headers); borrowed for the client's life */
    size_t header_count;
    long timeout_ms;                /* per HTTP exchange (connect included); 0 = 30000 */
    const char *cafile;             /* PEM CA bundle to verify an https server with (a self-signed
                                     * development certificate); NULL = the system store */
    const char *certfile, *keyfile; /* PEM client certificate and its (unencrypted) key, for a
                                     * server that asks for one (mTLS); NULL = none */
    bool no_proxy;                  /* connect directly even when http_proxy/https_proxy are
                                     * set (a server on loopback); false = curl's proxy rules */
    const char *client_name;        /* clientInfo.name; NULL = "mcpbridge-client" */
    const char *protocol_version;   /* asked for in initialize; NULL = MB_MCP_CLIENT_PROTOCOL */
    mb_mcp_notification_cb on_notification; /* NULL = notifications are dropped */
    void *data;                             /* passed to on_notification */
};

struct mb_mcp_client;

/* Creates a client (no network yet). The options' strings are borrowed and must outlive the
 * client. Returns NULL with err filled (MB_MCP_FAIL_TRANSPORT) when libcurl cannot start or the
 * URL is not http(s). The caller has called curl_global_init. */
struct mb_mcp_client *mb_mcp_client_create(const struct mb_mcp_client_options *opts,
                                           struct mb_mcp_error *err);

/* Runs initialize and notifications/initialized, keeping the session id (when the server issues
 * one) and the negotiated protocol version for every later request. Returns 0, or -1 with err
 * filled. Call once, before any other request. */
int mb_mcp_client_initialize(struct mb_mcp_client *c, struct mb_mcp_error *err);

/* After a successful initialize: the protocol version in use, and the server's initialize
 * result (serverInfo, capabilities, instructions), borrowed from the client. NULL before. */
const char *mb_mcp_client_protocol(const struct mb_mcp_client *c);
const json_t *mb_mcp_client_server(const struct mb_mcp_client *c);

/* True when the server issued a session id (Mcp-Session-Id) in initialize; the id itself stays
 * inside the client. */
bool mb_mcp_client_has_session(const struct mb_mcp_client *c);

/* Sends one request and waits for its response. params may be NULL (sent as {}); it is
 * borrowed. On success returns 0 and *result, the "result" member (a new reference the caller
 * releases with json_decref). A JSON-RPC error is -1 with err->kind MB_MCP_FAIL_RPC. */
int mb_mcp_client_request(struct mb_mcp_client *c, const char *method, json_t *params,
                          json_t **result, struct mb_mcp_error *err);

/* tools/list, following nextCursor until the last page (at most 10,000 pages). On success
 * returns 0 and *tools, a new JSON array of every tool definition (caller releases). */
int mb_mcp_client_list_tools(struct mb_mcp_client *c, json_t **tools, struct mb_mcp_error *err);

/* tools/call of name with arguments (a JSON object, borrowed; NULL = {}). progress asks the
 * server for notifications/progress (a progressToken in _meta), which reach on_notification.
 * On success returns 0 and *result, the CallToolResult (caller releases): a result with
 * "isError": true is still a success here; the caller decides what it means. */
int mb_mcp_client_call_tool(struct mb_mcp_client *c, const char *name, const json_t *arguments,
                            bool progress, json_t **result, struct mb_mcp_error *err);

/* Ends the session with DELETE (when the server issued one; a failure there is ignored: the
 * session expires on its own) and frees the client. NULL is a no-op. */
void mb_mcp_client_destroy(struct mb_mcp_client *c);

#endif
