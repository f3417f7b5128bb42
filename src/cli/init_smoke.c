/* The smoke check of `mcpbridge init` (contract in init_smoke.h). The server is this binary
 * (/proc/self/exe) in its own process group, so stopping it reaches the master and its workers.
 * The MCP exchanges are blocking libcurl requests (a command line tool may block): JSON-RPC over
 * Streamable HTTP, the answer read as JSON or as an SSE stream (the message with our id). Steps
 * after a failed one are skipped, except stopping the server, which always runs. */
#include "cli/init_smoke.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "mcp/mcp_server.h"

#define READY_TIMEOUT_MS   20000
#define STOP_TIMEOUT_MS    15000
#define REQUEST_TIMEOUT_MS 15000
#define MAX_BODY           (16u * 1024u * 1024u)
#define PROTOCOL_VERSION   "2025-11-25"
#define MAX_STEPS          8

enum step_state { STEP_OK, STEP_FAILED, STEP_SKIPPED };

struct step {
    char name[80];
    enum step_state state;
    double seconds;
    char detail[512];
    char fix[512];
};

struct smoke {
    const struct mb_smoke_options *o;
    struct step steps[MAX_STEPS];
    size_t step_count;
    bool failed;
    char base[128];     /* scheme://127.0.0.1:port */
    char endpoint[512]; /* base + MCP path */
    pid_t pid;          /* the server (leader of its process group), 0 when not running */
    char session[256];  /* Mcp-Session-Id from initialize */
    char protocol[32];  /* negotiated protocol version */
    json_t *tool;       /* the tool chosen for the call (borrowed from tools) */
    json_t *tools;      /* every tool listed, owned */
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct step *step_begin(struct smoke *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct step *step_begin(struct smoke *s, const char *fmt, ...)
{
    struct step *st = &s->steps[s->step_count < MAX_STEPS ? s->step_count++ : MAX_STEPS - 1];
    memset(st, 0, sizeof *st);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->name, sizeof st->name, fmt, ap);
    va_end(ap);
    st->seconds = now_seconds(); /* the start; step_end turns it into a duration */
    st->state = s->failed ? STEP_SKIPPED : STEP_OK;
    if (s->failed)
        snprintf(st->detail, sizeof st->detail, "not run: an earlier step failed");
    return st;
}

static void step_end(struct step *st)
{
    st->seconds = now_seconds() - st->seconds;
}

static void step_fail(struct smoke *s, struct step *st, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void step_fail(struct smoke *s, struct step *st, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->detail, sizeof st->detail, fmt, ap);
    va_end(ap);
    snprintf(st->fix, sizeof st->fix, "%s", fix ? fix : "");
    st->state = STEP_FAILED;
    s->failed = true;
}

/* ---- the server process ---- */

/* A TCP port nobody listens on right now on 127.0.0.1, or -1. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The last lines of the server's log, indented, for a failure report. */
static void log_tail(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char lines[6][240];
    size_t n = 0;
    char line[240];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        memmove(lines[0], lines[1], sizeof lines - sizeof lines[0]);
        snprintf(lines[5], sizeof lines[5], "%s", line);
        if (n < 6)
            n++;
    }
    fclose(f);
    for (size_t i = 6 - n; i < 6; i++)
        snprintf(out + strlen(out), cap - strlen(out), "\n      | %s", lines[i]);
}

static void start_server(struct smoke *s)
{
    struct step *st = step_begin(s, "start the server");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int port = free_port();
    if (n <= 0 || port <= 0) {
        step_fail(s, st,
                  "run mcpbridge init on Linux with /proc mounted, or start the server yourself",
                  "cannot find this program (/proc/self/exe) or a free port: %s", strerror(errno));
        goto done;
    }
    exe[n] = '\0';
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", s->o->ca_file ? "https" : "http", port);
    snprintf(s->endpoint, sizeof s->endpoint, "%s%s", s->base, s->o->mcp_path);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    int log_fd = open(s->o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        step_fail(s, st, "check the profile directory's permissions",
                  "cannot write the server log %s: %s", s->o->log_path, strerror(errno));
        goto done;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        step_fail(s, st, "the machine is out of processes or memory; retry", "fork failed: %s",
                  strerror(errno));
        goto done;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* If init dies (killed, interrupted), the server stops too instead of lingering. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, STDIN_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        char *argv[] = {"mcpbridge", "serve",   "--config",  (char *)s->o->config_path,
                        "--port",    port_text, "--workers", "1",
                        NULL};
        execv(exe, argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the first kill */
    close(log_fd);
    s->pid = pid;
    snprintf(st->detail, sizeof st->detail, "pid %d on port %d, log %s", (int)pid, port,
             s->o->log_path);
done:
    step_end(st);
}

/* Collects the server when it has exited. Returns true and its status text when it has. */
static bool server_exited(struct smoke *s, char *why, size_t cap)
{
    int status;
    if (s->pid <= 0 || waitpid(s->pid, &status, WNOHANG) != s->pid)
        return false;
    if (WIFEXITED(status))
        snprintf(why, cap, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(why, cap, "was killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    s->pid = 0;
    return true;
}

static void stop_server(struct smoke *s)
{
    struct step *st = step_begin(s, "stop the server");
    st->state = STEP_OK;
    st->detail[0] = '\0';
    if (s->pid <= 0) {
        st->state = STEP_SKIPPED;
        snprintf(st->detail, sizeof st->detail, "not running");
        step_end(st);
        return;
    }
    kill(-s->pid, SIGTERM);
    double deadline = now_seconds() + STOP_TIMEOUT_MS / 1000.0;
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(s->pid, &status, WNOHANG)) == 0 && now_seconds() < deadline)
        usleep(20 * 1000);
    if (done == 0) {
        kill(-s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        step_fail(s, st, "see the server log for what it was doing",
                  "did not stop within %d s of SIGTERM; killed", STOP_TIMEOUT_MS / 1000);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        snprintf(st->detail, sizeof st->detail, "SIGTERM, exit status 0");
    } else {
        step_fail(s, st, "see the server log", "the server ended with %s %d after SIGTERM",
                  WIFEXITED(status) ? "exit status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    kill(-s->pid, SIGKILL); /* workers left behind by a master that died, if any */
    s->pid = 0;
    step_end(st);
}

/* ---- HTTP ---- */

struct response {
    long status;
    struct mb_buf body;
    char content_type[128];
    char session[256];
    char error[CURL_ERROR_SIZE];
    CURLcode code;
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct response *r = userdata;
    return mb_buf_append(&r->body, data, size * n) == 0 ? size * n : 0;
}

/* Copies the value of header "name" into out when line is that header. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    snprintf(out, cap, "%.*s", (int)vl, v);
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
    struct response *r = userdata;
    header_value(data, size * n, "content-type", r->content_type, sizeof r->content_type);
    header_value(data, size * n, "mcp-session-id", r->session, sizeof r->session);
    return size * n;
}

/* One request: GET when body is NULL, else POST of a JSON body. with_token: send the bearer
 * token. Returns the curl result (r->status set on CURLE_OK). */
static CURLcode request(struct smoke *s, const char *url, const char *body, bool with_token,
                        struct response *r)
{
    memset(r, 0, sizeof *r);
    mb_buf_init(&r->body, MAX_BODY);
    struct curl_slist *headers = NULL;
    char line[8192 + 64];
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(r->error, sizeof r->error, "libcurl could not start a transfer (out of memory?)");
        return r->code = CURLE_OUT_OF_MEMORY;
    }
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, "Accept: application/json, text/event-stream");
        if (s->session[0]) {
            snprintf(line, sizeof line, "Mcp-Session-Id: %s", s->session);
            headers = curl_slist_append(headers, line);
            snprintf(line, sizeof line, "MCP-Protocol-Version: %s", s->protocol);
            headers = curl_slist_append(headers, line);
        }
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    if (with_token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", s->o->token);
        headers = curl_slist_append(headers, line);
        explicit_bzero(line, sizeof line);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mcpbridge-init-smoke/" MB_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    if (s->o->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, s->o->ca_file);
    if (s->o->client_cert) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, s->o->client_cert);
        curl_easy_setopt(curl, CURLOPT_SSLKEY, s->o->client_key);
    }
    r->code = curl_easy_perform(curl);
    if (r->code == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    else if (!r->error[0])
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(r->code));
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return r->code;
}

/* The JSON-RPC message with this id from a JSON or SSE answer; NULL when none. Caller decrefs. */
static json_t *rpc_answer(const struct response *r, int id)
{
    const char *text = r->body.data ? r->body.data : "";
    if (strncasecmp(r->content_type, "text/event-stream", 17) != 0) {
        json_t *msg = json_loads(text, 0, NULL);
        if (json_is_object(msg) && json_integer_value(json_object_get(msg, "id")) == id)
            return msg;
        json_decref(msg);
        return NULL;
    }
    /* SSE: events separated by blank lines; an event's data lines joined by '\n'. */
    struct mb_buf data;
    mb_buf_init(&data, MAX_BODY);
    json_t *found = NULL;
    const char *p = text;
    while (!found) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) { /* end of an event */
            if (data.len) {
                json_t *msg = json_loads(data.data, 0, NULL);
                if (json_is_object(msg) && json_integer_value(json_object_get(msg, "id")) == id)
                    found = msg;
                else
                    json_decref(msg);
                mb_buf_reset(&data);
            }
        } else if (n >= 5 && strncmp(p, "data:", 5) == 0) {
            const char *v = p + 5;
            size_t vl = n - 5;
            if (vl && *v == ' ')
                v++, vl--;
            if (data.len)
                mb_buf_append(&data, "\n", 1);
            mb_buf_append(&data, v, vl);
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    if (!found && data.len) {
        json_t *msg = json_loads(data.data, 0, NULL);
        if (json_is_object(msg) && json_integer_value(json_object_get(msg, "id")) == id)
            found = msg;
        else
            json_decref(msg);
    }
    mb_buf_dispose(&data);
    return found;
}

/* Sends a JSON-RPC request and returns its result (caller decrefs), or NULL after failing the
 * step with what went wrong. */
static json_t *rpc(struct smoke *s, struct step *st, int id, const char *method, json_t *params)
{
    json_t *msg = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                            "params", params ? params : json_object());
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    json_t *result = NULL, *answer = NULL;
    struct response r;
    if (!body) {
        step_fail(s, st, NULL, "out of memory");
        return NULL;
    }
    if (request(s, s->endpoint, body, true, &r) != CURLE_OK) {
        step_fail(s, st, "see the server log", "%s: %s", method, r.error);
        goto done;
    }
    if (r.status == 401 || r.status == 403) {
        step_fail(s, st,
                  "the minted token was refused: check security.authentication.service_account "
                  "(public_key, "
                  "issuer, audience) and security.authorization.tools in config.yaml, then mint a "
                  "new token "
                  "with mcpbridge sa-token mint",
                  "%s: HTTP %ld: %.200s", method, r.status, r.body.data ? r.body.data : "");
        goto done;
    }
    answer = rpc_answer(&r, id);
    if (!answer) {
        step_fail(s, st, "see the server log", "%s: HTTP %ld without a JSON-RPC answer: %.200s",
                  method, r.status, r.body.data ? r.body.data : "");
        goto done;
    }
    json_t *error = json_object_get(answer, "error");
    if (error) {
        step_fail(s, st, "see the server log", "%s: JSON-RPC error %lld: %.200s", method,
                  (long long)json_integer_value(json_object_get(error, "code")),
                  json_string_value(json_object_get(error, "message")) ?: "");
        goto done;
    }
    result = json_incref(json_object_get(answer, "result"));
    if (!json_is_object(result)) {
        json_decref(result);
        result = NULL;
        step_fail(s, st, "see the server log", "%s: the answer has no result object", method);
        goto done;
    }
    if (r.session[0] && !s->session[0])
        snprintf(s->session, sizeof s->session, "%s", r.session);
done:
    json_decref(answer);
    free(body);
    mb_buf_dispose(&r.body);
    return result;
}

/* ---- the steps ---- */

static void wait_ready(struct smoke *s)
{
    struct step *st = step_begin(s, "ready (GET /readyz)");
    if (s->failed)
        goto done;
    char url[256], why[128];
    snprintf(url, sizeof url, "%s/readyz", s->base);
    double deadline = now_seconds() + READY_TIMEOUT_MS / 1000.0;
    struct response r = {0};
    for (;;) {
        if (server_exited(s, why, sizeof why)) {
            char tail[2048];
            log_tail(s->o->log_path, tail, sizeof tail);
            step_fail(s, st,
                      "fix what the server log says (mcpbridge check --config shows configuration "
                      "errors)",
                      "the server %s before it was ready; last lines of %s:%s", why, s->o->log_path,
                      tail);
            break;
        }
        CURLcode rc = request(s, url, NULL, false, &r);
        long status = r.status;
        char error[CURL_ERROR_SIZE];
        snprintf(error, sizeof error, "%s", r.error);
        mb_buf_dispose(&r.body);
        if (rc == CURLE_OK && status == 200) {
            snprintf(st->detail, sizeof st->detail, "HTTP 200");
            break;
        }
        if (rc == CURLE_OK && status != 503) {
            step_fail(s, st, "see the server log", "%s answered HTTP %ld", url, status);
            break;
        }
        if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
            rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE) {
            step_fail(s, st,
                      "check the certificates under tls/ and runtime.server.transport.tls in "
                      "config.yaml (init "
                      "--force --tls makes new ones)",
                      "TLS with %s failed: %s", url, error);
            break;
        }
        if (now_seconds() > deadline) {
            step_fail(s, st, "see the server log", "%s did not answer 200 within %d s", url,
                      READY_TIMEOUT_MS / 1000);
            break;
        }
        usleep(50 * 1000);
    }
done:
    step_end(st);
}

static void check_refusal(struct smoke *s)
{
    struct step *st = step_begin(s, "a call without the token is refused");
    if (s->failed)
        goto done;
    struct response r;
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                       "\"protocolVersion\":\"" PROTOCOL_VERSION
                       "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mcpbridge-init-smoke\","
                       "\"version\":\"" MB_VERSION "\"}}}";
    if (request(s, s->endpoint, init, false, &r) != CURLE_OK)
        step_fail(s, st, "see the server log", "%s", r.error);
    else if (r.status != 401)
        step_fail(
            s, st,
            "set security.authentication.enabled: true with the service account in config.yaml",
            "expected HTTP 401, got %ld: authentication is not enforced", r.status);
    else
        snprintf(st->detail, sizeof st->detail, "HTTP 401");
    mb_buf_dispose(&r.body);
done:
    step_end(st);
}

static void initialize(struct smoke *s)
{
    struct step *st = step_begin(s, "initialize");
    if (s->failed)
        goto done;
    json_t *params =
        json_pack("{s:s,s:{},s:{s:s,s:s}}", "protocolVersion", PROTOCOL_VERSION, "capabilities",
                  "clientInfo", "name", "mcpbridge-init-smoke", "version", MB_VERSION);
    json_t *result = rpc(s, st, 1, "initialize", params);
    if (!result)
        goto done;
    const char *version = json_string_value(json_object_get(result, "protocolVersion"));
    const char *name =
        json_string_value(json_object_get(json_object_get(result, "serverInfo"), "name"));
    snprintf(s->protocol, sizeof s->protocol, "%s", version ? version : PROTOCOL_VERSION);
    snprintf(st->detail, sizeof st->detail, "protocol %s, server \"%s\"%s", s->protocol,
             name ? name : "?", s->session[0] ? ", session opened" : "");
    json_decref(result);
    /* The notification gets 202 and no body; a failure here shows up in the next step. */
    struct response r;
    request(s, s->endpoint, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", true,
            &r);
    mb_buf_dispose(&r.body);
done:
    step_end(st);
}

/* True when the tool is read-only (readOnlyHint) and its inputSchema requires nothing. */
static bool callable_without_arguments(const json_t *tool, const char **why)
{
    json_t *ro = json_object_get(json_object_get(tool, "annotations"), "readOnlyHint");
    json_t *required = json_object_get(json_object_get(tool, "inputSchema"), "required");
    if (!json_is_true(ro)) {
        *why = "not marked read-only";
        return false;
    }
    if (json_array_size(required) > 0) {
        *why = json_string_value(json_array_get(required, 0));
        return false;
    }
    return true;
}

static void list_tools(struct smoke *s)
{
    struct step *st = step_begin(s, "tools/list");
    if (s->failed)
        goto done;
    s->tools = json_array();
    char cursor[1024] = "";
    for (int page = 0; page < 100; page++) {
        json_t *params = cursor[0] ? json_pack("{s:s}", "cursor", cursor) : json_object();
        json_t *result = rpc(s, st, 2 + page, "tools/list", params);
        if (!result)
            goto done;
        json_array_extend(s->tools, json_object_get(result, "tools"));
        const char *next = json_string_value(json_object_get(result, "nextCursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(result);
        if (!cursor[0])
            break;
    }
    size_t i;
    json_t *tool;
    const char *why;
    json_array_foreach(s->tools, i, tool)
    {
        if (!s->tool && callable_without_arguments(tool, &why))
            s->tool = tool;
    }
    snprintf(st->detail, sizeof st->detail, "%zu tool%s", json_array_size(s->tools),
             json_array_size(s->tools) == 1 ? "" : "s");
done:
    step_end(st);
}

/* Why no tool qualifies, for the report: "get_product needs product_id; ...". */
static void explain_no_tool(const json_t *tools, char *out, size_t cap)
{
    if (json_array_size(tools) == 0) {
        snprintf(out, cap,
                 "the token sees no tools: the spec has no GET/HEAD operations (the profile is "
                 "read-only), "
                 "or security.authorization.tools requires scopes the token lacks");
        return;
    }
    snprintf(out, cap, "no read-only tool can be called without arguments:");
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool)
    {
        const char *why = "";
        callable_without_arguments(tool, &why);
        const char *name = json_string_value(json_object_get(tool, "name"));
        bool ro =
            json_is_true(json_object_get(json_object_get(tool, "annotations"), "readOnlyHint"));
        if (i == 4) {
            snprintf(out + strlen(out), cap - strlen(out), " ... (%zu more)",
                     json_array_size(tools) - 4);
            break;
        }
        snprintf(out + strlen(out), cap - strlen(out), "%s %s %s%s", i ? ";" : "",
                 name ? name : "?", ro ? "needs " : "is ", why);
    }
}

static void call_tool(struct smoke *s)
{
    const char *name = s->tool ? json_string_value(json_object_get(s->tool, "name")) : NULL;
    struct step *st = name ? step_begin(s, "tools/call %s", name) : step_begin(s, "tools/call");
    if (s->failed)
        goto done;
    if (!name) {
        st->state = STEP_SKIPPED;
        explain_no_tool(s->tools, st->detail, sizeof st->detail);
        goto done;
    }
    json_t *result =
        rpc(s, st, 200, "tools/call", json_pack("{s:s,s:{}}", "name", name, "arguments"));
    if (!result)
        goto done;
    if (json_is_true(json_object_get(result, "isError"))) {
        json_t *first = json_array_get(json_object_get(result, "content"), 0);
        step_fail(
            s, st,
            "the API behind the tool failed or could not be reached: check api.openapi.base_url in "
            "config.yaml (init --base-url URL) and that the API is up",
            "the tool answered an error: %.300s",
            json_string_value(json_object_get(first, "text")) ?: "");
    } else {
        snprintf(st->detail, sizeof st->detail,
                 "the first read-only tool without required arguments; %zu content "
                 "item%s",
                 json_array_size(json_object_get(result, "content")),
                 json_array_size(json_object_get(result, "content")) == 1 ? "" : "s");
    }
    json_decref(result);
done:
    step_end(st);
}

static void print_report(const struct smoke *s, double total, FILE *out)
{
    static const char *const labels[] = {"ok", "FAILED", "skipped"};
    fprintf(out, "\nsmoke check: mcpbridge serve --config %s (%s)\n", s->o->config_path,
            s->endpoint[0] ? s->endpoint : "not started");
    for (size_t i = 0; i < s->step_count; i++) {
        const struct step *st = &s->steps[i];
        fprintf(out, "  %-8s %-40s %6.2f s  %s\n", labels[st->state], st->name, st->seconds,
                st->detail);
        if (st->state == STEP_FAILED && st->fix[0])
            fprintf(out, "           fix: %s\n", st->fix);
    }
    fprintf(out, "smoke check %s (%.1f s)\n", s->failed ? "FAILED" : "passed", total);
}

int mb_smoke_run(const struct mb_smoke_options *o, FILE *out)
{
    struct smoke s = {.o = o};
    double started = now_seconds();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(out, "smoke check: libcurl failed to initialize\n");
        return -1;
    }
    start_server(&s);
    wait_ready(&s);
    check_refusal(&s);
    initialize(&s);
    list_tools(&s);
    call_tool(&s);
    stop_server(&s);
    curl_global_cleanup();
    print_report(&s, now_seconds() - started, out);
    json_decref(s.tools);
    return s.failed ? -1 : 0;
}
