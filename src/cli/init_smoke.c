/* The smoke check of `mcpbridge init` (contract in init_smoke.h). The server is this binary
 * (/proc/self/exe) in its own process group, so stopping it reaches the master and its workers.
 * Readiness is one blocking libcurl GET of /readyz, polled; the MCP exchanges go through the
 * command line's MCP client (mcp_client.h), which presents the profile's CA and client
 * certificate. Steps after a failed one are skipped, except stopping the server, which always
 * runs. */
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/mcp_client.h"

#define READY_TIMEOUT_MS   20000
#define STOP_TIMEOUT_MS    15000
#define REQUEST_TIMEOUT_MS 15000
#define CLIENT_NAME        "mcpbridge-init-smoke"
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
    char base[128];               /* scheme://127.0.0.1:port */
    char endpoint[512];           /* base + MCP path */
    pid_t pid;                    /* the server (leader of its process group), 0 when not running */
    char *auth_header;            /* "Authorization: Bearer <token>", wiped when freed */
    const char *headers[1];       /* {auth_header}: borrowed by client for its life */
    struct mb_mcp_client *client; /* the session with the minted token, NULL when not open */
    json_t *tool;                 /* the tool chosen for the call (borrowed from tools) */
    json_t *tools;                /* every tool listed, owned */
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

/* ---- readiness ---- */

static size_t discard_body(char *data, size_t size, size_t n, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * n;
}

/* One GET of url with the profile's TLS files. Returns the curl result; *status is the HTTP
 * status on CURLE_OK, error what went wrong otherwise. */
static CURLcode probe(const struct smoke *s, const char *url, long *status,
                      char error[CURL_ERROR_SIZE])
{
    error[0] = '\0';
    *status = 0;
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(error, CURL_ERROR_SIZE, "libcurl could not start a transfer (out of memory?)");
        return CURLE_OUT_OF_MEMORY;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    if (s->o->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, s->o->ca_file);
    if (s->o->client_cert) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, s->o->client_cert);
        curl_easy_setopt(curl, CURLOPT_SSLKEY, s->o->client_key);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    else if (!error[0])
        snprintf(error, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
    curl_easy_cleanup(curl);
    return rc;
}

/* ---- MCP ---- */

/* A client of the endpoint with the profile's TLS files; headers may be NULL. NULL after
 * filling err. */
static struct mb_mcp_client *open_client(const struct smoke *s, const char *const *headers,
                                         size_t header_count, struct mb_mcp_error *err)
{
    struct mb_mcp_client_options opts = {
        .url = s->endpoint,
        .headers = headers,
        .header_count = header_count,
        .timeout_ms = REQUEST_TIMEOUT_MS,
        .cafile = s->o->ca_file,
        .certfile = s->o->client_cert,
        .keyfile = s->o->client_key,
        .no_proxy = true,
        .client_name = CLIENT_NAME,
    };
    return mb_mcp_client_create(&opts, err);
}

/* Fails the step with what the MCP client reported and what to do about it. */
static void fail_mcp(struct smoke *s, struct step *st, const struct mb_mcp_error *err)
{
    if (err->kind == MB_MCP_FAIL_HTTP && (err->http_status == 401 || err->http_status == 403))
        step_fail(s, st,
                  "the minted token was refused: check security.authentication.service_account "
                  "(public_key, issuer, audience) and security.authorization.tools in "
                  "config.yaml, then mint a new token with mcpbridge sa-token mint",
                  "%.450s", err->message);
    else if (err->kind == MB_MCP_FAIL_RPC)
        step_fail(s, st, "see the server log", "%.400s (JSON-RPC error %ld)", err->message,
                  err->rpc_code);
    else
        step_fail(s, st, "see the server log", "%.450s", err->message);
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
        long status;
        char error[CURL_ERROR_SIZE];
        CURLcode rc = probe(s, url, &status, error);
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
    struct mb_mcp_error err;
    struct mb_mcp_client *anonymous = open_client(s, NULL, 0, &err);
    if (anonymous && mb_mcp_client_initialize(anonymous, &err) == 0)
        step_fail(
            s, st,
            "set security.authentication.enabled: true with the service account in config.yaml",
            "expected HTTP 401, got 200: authentication is not enforced");
    else if (err.kind == MB_MCP_FAIL_HTTP && err.http_status == 401)
        snprintf(st->detail, sizeof st->detail, "HTTP 401");
    else if (err.kind == MB_MCP_FAIL_HTTP)
        step_fail(
            s, st,
            "set security.authentication.enabled: true with the service account in config.yaml",
            "expected HTTP 401, got %ld: authentication is not enforced", err.http_status);
    else
        step_fail(s, st, "see the server log", "%.450s", err.message);
    mb_mcp_client_destroy(anonymous);
done:
    step_end(st);
}

static void initialize(struct smoke *s)
{
    struct step *st = step_begin(s, "initialize");
    if (s->failed)
        goto done;
    struct mb_mcp_error err;
    size_t len = strlen("Authorization: Bearer ") + strlen(s->o->token) + 1;
    s->auth_header = malloc(len);
    if (!s->auth_header) {
        step_fail(s, st, NULL, "out of memory");
        goto done;
    }
    snprintf(s->auth_header, len, "Authorization: Bearer %s", s->o->token);
    s->headers[0] = s->auth_header;
    s->client = open_client(s, s->headers, 1, &err);
    if (!s->client || mb_mcp_client_initialize(s->client, &err) != 0) {
        fail_mcp(s, st, &err);
        goto done;
    }
    const char *name = json_string_value(
        json_object_get(json_object_get(mb_mcp_client_server(s->client), "serverInfo"), "name"));
    snprintf(st->detail, sizeof st->detail, "protocol %s, server \"%s\"%s",
             mb_mcp_client_protocol(s->client), name ? name : "?",
             mb_mcp_client_has_session(s->client) ? ", session opened" : "");
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
    struct mb_mcp_error err;
    if (mb_mcp_client_list_tools(s->client, &s->tools, &err) != 0) {
        fail_mcp(s, st, &err);
        goto done;
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
    struct mb_mcp_error err;
    json_t *result = NULL;
    if (mb_mcp_client_call_tool(s->client, name, NULL, false, &result, &err) != 0) {
        fail_mcp(s, st, &err);
        goto done;
    }
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
    mb_mcp_client_destroy(s.client); /* ends the session while the server still runs */
    stop_server(&s);
    curl_global_cleanup();
    print_report(&s, now_seconds() - started, out);
    json_decref(s.tools);
    if (s.auth_header) {
        explicit_bzero(s.auth_header, strlen(s.auth_header));
        free(s.auth_header);
    }
    return s.failed ? -1 : 0;
}
