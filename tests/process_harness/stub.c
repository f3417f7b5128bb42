/* Stand-ins for runtime.c, worker.c and mb_config_resolve_workers so src/process/master.c can
 * be exercised before the real worker exists. The "config" is a key=value file (host, port,
 * path, workers, grace_ms; a line "invalid" makes the build fail with a diagnostic). The
 * worker answers every HTTP request with "pid=<pid> gen=<generation>", after 1 s when the
 * request line contains /slow; on SIGTERM it closes its listener and exits 0 once in-flight
 * requests are done. Built by hand with build.sh; not part of the CMake build. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "config/config.h"
#include "observability/call_stats.h"
#include "observability/capacity.h"
#include "observability/worker_stats.h"
#include "process/runtime.h"

int mb_runtime_build(const char *config_path, int port_override, const struct mb_runtime *prev,
                     struct mb_runtime **out, struct mb_diags *diags)
{
    struct mb_runtime *rt = calloc(1, sizeof *rt);
    struct mb_config *c = calloc(1, sizeof *c);
    c->host = strdup("127.0.0.1");
    c->port = 8500;
    c->path = strdup("/mcp");
    c->shutdown_grace_ms = 3000;
    c->log_level = strdup("INFO");
    int bad = 0;
    FILE *f = config_path ? fopen(config_path, "r") : NULL;
    char line[256];
    int ln = 0;
    while (f && fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        char *eq = strchr(line, '=');
        if (strcmp(line, "invalid") == 0) {
            mb_diags_add(diags, config_path, ln, "this line makes the config invalid");
            bad = 1;
            continue;
        }
        if (!eq)
            continue;
        *eq = 0;
        const char *v = eq + 1;
        if (!strcmp(line, "host")) { free(c->host); c->host = strdup(v); }
        else if (!strcmp(line, "port")) c->port = atoi(v);
        else if (!strcmp(line, "path")) { free(c->path); c->path = strdup(v); }
        else if (!strcmp(line, "workers")) c->workers = atoi(v);
        else if (!strcmp(line, "grace_ms")) c->shutdown_grace_ms = (unsigned)atoi(v);
        else if (!strcmp(line, "log_level")) { free(c->log_level); c->log_level = strdup(v); }
    }
    if (f)
        fclose(f);
    rt->config = c;
    rt->port_override = port_override;
    rt->generation = prev ? prev->generation + 1 : 1;
    if (bad) {
        mb_runtime_destroy(rt);
        *out = NULL;
        return -1;
    }
    *out = rt;
    return 0;
}

void mb_runtime_destroy(struct mb_runtime *rt)
{
    if (!rt)
        return;
    free(rt->config->host);
    free(rt->config->path);
    free(rt->config->log_level);
    free(rt->config);
    free(rt);
}

int mb_runtime_port(const struct mb_runtime *rt)
{
    return rt->port_override >= 0 ? rt->port_override : rt->config->port;
}

int mb_config_resolve_workers(const struct mb_config *cfg, const char *cli, char *err, size_t errlen)
{
    const char *v = cli;
    if (!v) v = getenv("MCPBRIDGE_WORKERS");
    if (!v) v = getenv("UVICORN_WORKERS");
    int n = v ? atoi(v) : (cfg->workers > 0 ? cfg->workers : 1);
    if (n < 1 || n > 1024) {
        snprintf(err, errlen, "bad worker count '%s'", v ? v : "?");
        return -1;
    }
    return n;
}

/* ---- stub worker ---- */
struct conn { uv_tcp_t tcp; uv_timer_t timer; char buf[4096]; size_t len; int done; };
static uv_tcp_t server;
static int inflight;
static int stopping;
static unsigned gen;
static uv_signal_t sigterm;
static unsigned long accepted;

static void maybe_exit(void)
{
    if (stopping && inflight == 0)
        uv_stop(uv_default_loop());
}
static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->done == 0) {
        free(c);
        inflight--;
        maybe_exit();
    }
}
static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    free(req);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}
static void respond(struct conn *c)
{
    static char out[256];
    char body[64];
    int bl = snprintf(body, sizeof body, "pid=%d gen=%u\n", (int)getpid(), gen);
    int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", bl, body);
    uv_write_t *w = malloc(sizeof *w);
    w->data = c;
    uv_buf_t b = uv_buf_init(out, (unsigned)n);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}
static void on_timer(uv_timer_t *t) { respond(t->data); }
static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    struct conn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        uv_close((uv_handle_t *)&c->timer, on_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = 0;
    if (strstr(c->buf, "\r\n\r\n")) {
        uv_read_stop(s);
        if (strstr(c->buf, "/veryslow"))
            uv_timer_start(&c->timer, on_timer, 10000, 0);
        else if (strstr(c->buf, "/slow"))
            uv_timer_start(&c->timer, on_timer, 1000, 0);
        else
            respond(c);
    }
}
static void on_conn(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof *c);
    uv_tcp_init(uv_default_loop(), &c->tcp);
    uv_timer_init(uv_default_loop(), &c->timer);
    c->tcp.data = c->timer.data = c;
    c->done = 2;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        uv_close((uv_handle_t *)&c->timer, on_closed);
        inflight++;
        return;
    }
    inflight++;
    accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
static void on_term(uv_signal_t *s, int sig)
{
    stopping = 1;
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)s, NULL);
    maybe_exit();
}

int mb_worker_main(struct mb_runtime *rt, int worker_id, int listen_fd, int admin_fd, int ready_fd)
{
    gen = rt->generation;
    const char *crash = getenv("STUB_CRASH_FILE"); /* while it exists, slot 1 exits 3 at once */
    if (crash && worker_id == 1 && access(crash, F_OK) == 0)
        return 3;
    if (getenv("STUB_NEVER_READY") && gen > 1)
        pause();
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    uv_tcp_open(&server, listen_fd);
    uv_listen((uv_stream_t *)&server, 4096, on_conn);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_term, SIGTERM);
    if (ready_fd >= 0) {
        ssize_t w = write(ready_fd, "r", 1);
        (void)w;
        close(ready_fd);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    fprintf(stderr, "stub worker %d accepted %lu\n", worker_id, accepted);
    return 0;
}

void mb_runtime_apply_logging(const struct mb_runtime *rt)
{
    int l = mb_log_level_parse(rt->config->log_level);
    mb_log_setup(l < 0 ? MB_LOG_INFO : (enum mb_log_level)l, false);
}

/* The master's observability hooks: nothing to sample or announce in the harness. */
void mb_runtime_audit_inventory(const struct mb_runtime *rt, const char *action) { (void)rt; (void)action; }
void mb_capacity_sample(struct mb_capacity *c, const struct mb_capacity_input *in) { (void)c; (void)in; }
bool mb_worker_stats_get(const struct mb_worker_stats *ws, int id, struct mb_worker_figures *f, int *pid)
{
    (void)ws; (void)id; (void)f; (void)pid;
    return false;
}
void mb_call_stats_tool_totals(const struct mb_call_stats *cs, uint64_t *calls, uint64_t *sum_us)
{
    (void)cs;
    *calls = 0;
    *sum_us = 0;
}
