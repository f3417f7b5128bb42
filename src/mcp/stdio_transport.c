/* Implementation of stdio_transport.h. */
#include "mcp/stdio_transport.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"
#include "process/runtime.h"
#include "upstream/upstream.h"

#define STDIO_MAX_QUEUED (8u * 1024 * 1024)

struct stdio_state {
    uv_loop_t *loop;
    struct mb_runtime *rt;
    struct mb_mcp_server *mcp;
    struct mb_upstream *up;
    union { uv_pipe_t pipe; uv_tty_t tty; } in;
    union { uv_pipe_t pipe; uv_tty_t tty; } out;
    bool out_is_stream;
    struct mb_buf line;
    bool skipping;              /* discarding the rest of an oversized line */
    bool eof;
    bool reading;
    unsigned pending;           /* requests not yet answered */
    struct mb_mcp_session session;
    uv_signal_t sigterm, sigint;
};

struct write_req {
    uv_write_t req;
    char *data;
};

static void maybe_finish(struct stdio_state *st);
static void start_reading(struct stdio_state *st);

static void on_written(uv_write_t *req, int status)
{
    struct write_req *wr = (struct write_req *)req;
    struct stdio_state *st = req->data;
    free(wr->data);
    free(wr);
    if (status < 0)
        mb_warn("stdio", "write to stdout failed: %s", uv_strerror(status));
    if (!st->reading && !st->eof &&
        uv_stream_get_write_queue_size((uv_stream_t *)&st->out) < STDIO_MAX_QUEUED / 2)
        start_reading(st);
    maybe_finish(st);
}

static void emit(struct stdio_state *st, const char *json, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, json, len);
    copy[len] = '\n';
    if (!st->out_is_stream) {
        /* stdout is a regular file: plain blocking writes cannot stall on a reader. */
        size_t off = 0;
        while (off < len + 1) {
            ssize_t w = write(STDOUT_FILENO, copy + off, len + 1 - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        free(copy);
        return;
    }
    struct write_req *wr = malloc(sizeof *wr);
    if (!wr) {
        free(copy);
        return;
    }
    wr->data = copy;
    wr->req.data = st;
    uv_buf_t buf = uv_buf_init(copy, (unsigned)(len + 1));
    if (uv_write(&wr->req, (uv_stream_t *)&st->out, &buf, 1, on_written) < 0) {
        free(copy);
        free(wr);
    }
}

struct stdio_sink {
    struct stdio_state *st;
};

static void on_message(void *sink, const char *json, size_t len, bool final)
{
    struct stdio_sink *s = sink;
    struct stdio_state *st = s->st;
    if (json)
        emit(st, json, len);
    if (final) {
        st->pending--;
        free(s);
        maybe_finish(st);
    }
}

static const struct mb_mcp_sink_ops stdio_sink_ops = {on_message};

static void emit_error(struct stdio_state *st, int code, const char *message)
{
    size_t len = 0;
    char *text = mb_jsonrpc_error_text(code, message, &len);
    if (text)
        emit(st, text, len);
    free(text);
}

static void dispatch_one(struct stdio_state *st, const json_t *msg)
{
    char why[200];
    enum mb_jsonrpc_kind kind = mb_jsonrpc_classify(msg, why, sizeof why);
    if (kind == MB_JSONRPC_INVALID) {
        char text[300];
        snprintf(text, sizeof text, "Invalid Request: %s", why);
        emit_error(st, MB_JSONRPC_INVALID_REQUEST, text);
    } else if (kind == MB_JSONRPC_NOTIFICATION) {
        mb_mcp_handle_notification(st->mcp, &st->session, msg);
    } else if (kind == MB_JSONRPC_REQUEST) {
        struct stdio_sink *s = malloc(sizeof *s);
        if (!s) {
            emit_error(st, MB_JSONRPC_INTERNAL_ERROR, "out of memory");
            return;
        }
        s->st = st;
        st->pending++;
        mb_mcp_handle_request(st->mcp, &st->session, msg, &stdio_sink_ops, s);
    }
}

static void handle_line(struct stdio_state *st, const char *text, size_t len)
{
    while (len && (text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;
    json_error_t err;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!msg) {
        char message[300];
        snprintf(message, sizeof message, "Parse error: %s at column %d", err.text, err.column);
        emit_error(st, MB_JSONRPC_PARSE_ERROR, message);
        return;
    }
    if (json_is_array(msg)) {
        if (st->session.protocol_index != MB_MCP_PROTOCOL_2025_03_26 || json_array_size(msg) == 0) {
            emit_error(st, MB_JSONRPC_INVALID_REQUEST,
                       "Invalid Request: JSON-RPC batches are only supported in protocol version 2025-03-26");
        } else {
            size_t i;
            json_t *one;
            json_array_foreach(msg, i, one)
                dispatch_one(st, one);
        }
    } else {
        dispatch_one(st, msg);
    }
    json_decref(msg);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];
    (void)handle;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct stdio_state *st = stream->data;
    if (nread < 0) {
        if (st->line.len && !st->skipping)
            handle_line(st, st->line.data, st->line.len);
        mb_buf_reset(&st->line);
        st->eof = true;
        uv_read_stop(stream);
        st->reading = false;
        maybe_finish(st);
        return;
    }
    const char *p = buf->base;
    size_t left = (size_t)nread;
    while (left) {
        const char *nl = memchr(p, '\n', left);
        size_t chunk = nl ? (size_t)(nl - p) : left;
        if (!st->skipping && mb_buf_append(&st->line, p, chunk) != 0) {
            char message[200];
            snprintf(message, sizeof message,
                     "Invalid Request: message exceeds the limit of %zu bytes (runtime.max_request_bytes)",
                     st->line.max);
            emit_error(st, MB_JSONRPC_INVALID_REQUEST, message);
            mb_buf_reset(&st->line);
            st->skipping = true;
        }
        if (nl) {
            if (!st->skipping)
                handle_line(st, st->line.data ? st->line.data : "", st->line.len);
            mb_buf_reset(&st->line);
            st->skipping = false;
            chunk++;
        }
        p += chunk;
        left -= chunk;
    }
    if (st->out_is_stream && uv_stream_get_write_queue_size((uv_stream_t *)&st->out) > STDIO_MAX_QUEUED) {
        uv_read_stop(stream);
        st->reading = false;
    }
}

static void start_reading(struct stdio_state *st)
{
    if (uv_read_start((uv_stream_t *)&st->in, on_alloc, on_read) == 0)
        st->reading = true;
}

static void close_all(struct stdio_state *st)
{
    uv_signal_stop(&st->sigterm);
    uv_signal_stop(&st->sigint);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&st->in))
        uv_close((uv_handle_t *)&st->in, NULL);
    if (st->out_is_stream && !uv_is_closing((uv_handle_t *)&st->out))
        uv_close((uv_handle_t *)&st->out, NULL);
}

static void maybe_finish(struct stdio_state *st)
{
    if (!st->eof || st->pending)
        return;
    if (st->out_is_stream && uv_stream_get_write_queue_size((uv_stream_t *)&st->out) > 0)
        return;
    close_all(st);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct stdio_state *st = sig->data;
    mb_info("stdio", "signal %d: finishing the requests in progress, then exiting", signum);
    st->eof = true;
    if (st->reading) {
        uv_read_stop((uv_stream_t *)&st->in);
        st->reading = false;
    }
    maybe_finish(st);
}

static int open_stream(uv_loop_t *loop, int fd, void *handle, bool readable)
{
    uv_handle_type type = uv_guess_handle(fd);
    if (type == UV_TTY)
        return uv_tty_init(loop, handle, fd, readable);
    if (type == UV_NAMED_PIPE || type == UV_TCP) {
        int rc = uv_pipe_init(loop, handle, 0);
        return rc ? rc : uv_pipe_open(handle, fd);
    }
    return UV_EINVAL;
}

int mb_stdio_serve(struct mb_runtime *rt)
{
    int rc = 1;
    struct stdio_state st;
    memset(&st, 0, sizeof st);
    st.loop = uv_default_loop();
    st.rt = rt;
    st.session.protocol_index = MB_MCP_PROTOCOL_2025_03_26;
    mb_buf_init(&st.line, rt->config->max_request_bytes);
    signal(SIGPIPE, SIG_IGN);

    struct mb_upstream_options opts = {
        .max_connections = rt->config->http_max_connections,
        .max_keepalive = rt->config->http_max_keepalive,
        .connect_timeout_ms = rt->config->http_connect_timeout_ms,
        .accept_encoding = rt->config->accept_encoding,
    };
    st.up = mb_upstream_create(st.loop, &opts);
    st.mcp = st.up ? mb_mcp_server_create(st.loop, rt, st.up) : NULL;
    if (!st.mcp) {
        mb_error("stdio", "could not create the MCP server");
        goto done;
    }
    if (open_stream(st.loop, STDIN_FILENO, &st.in, true) != 0) {
        mb_error("stdio", "stdin must be a pipe, socket or terminal");
        goto done;
    }
    st.in.pipe.data = &st;
    st.out_is_stream = open_stream(st.loop, STDOUT_FILENO, &st.out, false) == 0;
    uv_signal_init(st.loop, &st.sigterm);
    uv_signal_init(st.loop, &st.sigint);
    st.sigterm.data = st.sigint.data = &st;
    uv_signal_start(&st.sigterm, on_signal, SIGTERM);
    uv_signal_start(&st.sigint, on_signal, SIGINT);
    mb_info("stdio", "serving MCP on stdin/stdout with %zu tools", rt->catalog->tool_count);
    start_reading(&st);
    uv_run(st.loop, UV_RUN_DEFAULT);
    rc = 0;
done:
    if (st.mcp)
        mb_mcp_server_destroy(st.mcp);
    if (st.up)
        mb_upstream_destroy(st.up);
    uv_run(st.loop, UV_RUN_DEFAULT);
    mb_buf_dispose(&st.line);
    return rc;
}
