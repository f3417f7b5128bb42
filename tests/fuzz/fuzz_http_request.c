/* libFuzzer target for the HTTP request reader (src/http/request_reader.c). The first bytes
 * pick the limits and a split point; the rest is fed as client input in two pieces, and in
 * small pieces again, the same way the server feeds it. Checks: no crash or leak, every
 * request handed out respects the limits, and the split does not change the outcome. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/request_reader_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    unsigned requests;
    int error;
    size_t body_total;
};

static void check_request(const struct mb_http_limits *l, const struct mb_http_request *q)
{
    if (q->body_len > l->max_body_bytes || q->header_count > MB_HTTP_MAX_HEADERS)
        abort();
    if (strlen(q->target) > l->max_header_bytes || q->body[q->body_len] != '\0')
        abort();
    if (strlen(q->path) != q->path_len || strncmp(q->target, q->path, q->path_len) != 0)
        abort();
    for (size_t i = 0; i < q->header_count; i++) {
        size_t vl = 0;
        if (!mb_http_header_get(q, q->headers[i].name, &vl) && q->headers[i].name[q->headers[i].name_len] == '\0')
            abort();
    }
}

static void run(const struct mb_http_limits *l, const char *in, size_t len, size_t step, struct outcome *o)
{
    struct mb_http_reader r;
    mb_http_reader_init(&r, l);
    memset(o, 0, sizeof(*o));
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        int ev = mb_http_reader_feed(&r, in + off, n, &used);
        if (used > n)
            abort();
        off += used;
        if (ev == MB_HTTP_READ_REQUEST) {
            struct mb_http_parsed *p = mb_http_reader_take(&r);
            if (!p)
                abort();
            check_request(l, &p->req);
            o->requests++;
            o->body_total += p->req.body_len;
            mb_http_parsed_free(p);
        } else if (ev == MB_HTTP_READ_ERROR) {
            o->error = mb_http_reader_error(&r, NULL);
            if (o->error != 400 && o->error != 413 && o->error != 417 && o->error != 431 && o->error != 503)
                abort();
            break;
        } else if (used != n) {
            abort();
        }
        (void)mb_http_reader_take_continue(&r);
    }
    mb_http_reader_dispose(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct mb_http_limits l;
    mb_http_limits_default(&l);
    l.max_header_bytes = 64 + (size_t)data[0] * 8; /* 64 .. 2104 */
    l.max_body_bytes = (size_t)data[1] * 4;         /* 0 .. 1020 */
    size_t step = 1 + data[2] % 64;
    const char *in = (const char *)data + 3;
    size_t len = size - 3;
    struct outcome whole, pieces;
    run(&l, in, len, len ? len : 1, &whole);
    run(&l, in, len, step, &pieces);
    /* The split must not change which requests complete nor whether the input is refused.
     * (Which error comes first may differ: a limit can trip on a partial field before a
     * syntax error later in that field is seen.) */
    if (whole.requests != pieces.requests || !whole.error != !pieces.error || whole.body_total != pieces.body_total)
        abort();
    return 0;
}
