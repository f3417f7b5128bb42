/* Request assembly on top of http_parser (see request_reader_internal.h). The header block is
 * fed in slices no longer than what the header limit still allows, so the limit is exact
 * whatever the split of the input; the parser is paused at each message end so that
 * pipelined requests come out one at a time. Storage for a request is allocated at its first
 * byte and handed over whole when it is complete. */
#include "http/request_reader_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mb_http_field {
    size_t name_off, name_len, value_off, value_len;
};

static int reader_fail(struct mb_http_reader *r, int status, const char *message)
{
    if (!r->error_status) {
        r->error_status = status;
        r->error_message = message;
    }
    return -1;
}

void mb_http_parsed_free(struct mb_http_parsed *p)
{
    if (!p)
        return;
    mb_buf_dispose(&p->head);
    mb_buf_dispose(&p->body);
    free(p->fields);
    free(p->headers);
    free(p);
}

static int on_message_begin(http_parser *hp)
{
    struct mb_http_reader *r = hp->data;
    mb_http_parsed_free(r->cur);
    r->cur = calloc(1, sizeof(*r->cur));
    if (!r->cur)
        return reader_fail(r, 503, "Out of memory");
    /* Room for the block itself plus the NULs and the path/query copies added later. */
    mb_buf_init(&r->cur->head, 2 * r->limits->max_header_bytes + 64);
    mb_buf_init(&r->cur->body, r->limits->max_body_bytes);
    r->phase = MB_HTTP_PHASE_HEADERS;
    r->in_value = false;
    r->trailer_bytes = 0;
    r->expect_continue = false;
    return 0;
}

static int head_append(struct mb_http_reader *r, const char *at, size_t len)
{
    if (mb_buf_append(&r->cur->head, at, len) == 0)
        return 0;
    return reader_fail(r, 431, "Request header block too large");
}

/* Appends n NUL bytes. */
static int head_grow(struct mb_http_reader *r, size_t n)
{
    static const char zeros[256];
    while (n) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        if (head_append(r, zeros, k))
            return -1;
        n -= k;
    }
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    struct mb_http_reader *r = hp->data;
    if (head_append(r, at, len))
        return -1;
    r->cur->target_len += len;
    return 0;
}

/* Trailer fields of a chunked body are counted against the header limit and dropped. */
static int count_trailer(struct mb_http_reader *r, size_t len)
{
    r->trailer_bytes += len;
    if (r->trailer_bytes > r->limits->max_header_bytes)
        return reader_fail(r, 431, "Request trailer fields too large");
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct mb_http_reader *r = hp->data;
    struct mb_http_parsed *p = r->cur;
    if (r->phase == MB_HTTP_PHASE_BODY)
        return count_trailer(r, len);
    if (p->nfields == 0 || r->in_value) {
        if (p->nfields && head_append(r, "", 1)) /* terminate the previous value */
            return -1;
        if (p->nfields == 0 && head_append(r, "", 1)) /* terminate the target */
            return -1;
        if (p->nfields >= MB_HTTP_MAX_HEADERS)
            return reader_fail(r, 431, "Too many request header fields");
        if (p->nfields == p->capfields) {
            size_t cap = p->capfields ? p->capfields * 2 : 16;
            struct mb_http_field *f = realloc(p->fields, cap * sizeof(*f));
            if (!f)
                return reader_fail(r, 503, "Out of memory");
            p->fields = f;
            p->capfields = cap;
        }
        p->fields[p->nfields++] = (struct mb_http_field){.name_off = p->head.len};
        r->in_value = false;
    }
    if (head_append(r, at, len))
        return -1;
    p->fields[p->nfields - 1].name_len += len;
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct mb_http_reader *r = hp->data;
    struct mb_http_parsed *p = r->cur;
    if (r->phase == MB_HTTP_PHASE_BODY)
        return count_trailer(r, len);
    if (p->nfields == 0)
        return reader_fail(r, 400, "Header value without a name");
    struct mb_http_field *f = &p->fields[p->nfields - 1];
    if (!r->in_value) {
        if (head_append(r, "", 1)) /* terminate the name */
            return -1;
        f->value_off = p->head.len;
        r->in_value = true;
    }
    if (head_append(r, at, len))
        return -1;
    f->value_len += len;
    return 0;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Resolves offsets into pointers, splits the target, and fills the fixed request fields. */
static int finish_head(struct mb_http_reader *r)
{
    struct mb_http_parsed *p = r->cur;
    http_parser *hp = &r->parser;
    if (p->nfields == 0 && head_append(r, "", 1)) /* terminate the target */
        return -1;
    if (p->nfields && !r->in_value) {
        /* A name without a value (the parser reports an empty value as no callback). */
        if (head_append(r, "", 1))
            return -1;
        p->fields[p->nfields - 1].value_off = p->head.len;
    }
    if (head_append(r, "", 1))
        return -1;
    /* Path and query copies, appended before any pointer into head is taken. */
    size_t tlen = p->target_len;
    size_t cut = 0;
    while (cut < tlen && p->head.data[cut] != '?' && p->head.data[cut] != '#')
        cut++;
    size_t qstart = cut < tlen && p->head.data[cut] == '?' ? cut + 1 : tlen;
    size_t qend = qstart;
    while (qend < tlen && p->head.data[qend] != '#')
        qend++;
    /* Grow first (the copies come from the same buffer, which may move), then copy. */
    size_t path_off = p->head.len;
    size_t query_off = path_off + cut + 1;
    if (head_grow(r, cut + 1 + (qend - qstart) + 1))
        return -1;
    memcpy(p->head.data + path_off, p->head.data, cut);
    memcpy(p->head.data + query_off, p->head.data + qstart, qend - qstart);

    if (p->nfields) {
        p->headers = calloc(p->nfields, sizeof(*p->headers));
        if (!p->headers)
            return reader_fail(r, 503, "Out of memory");
    }
    for (size_t i = 0; i < p->nfields; i++) {
        struct mb_http_field *f = &p->fields[i];
        const char *v = p->head.data + f->value_off;
        size_t vl = f->value_len;
        while (vl && is_ows(*v)) {
            v++;
            vl--;
        }
        while (vl && is_ows(v[vl - 1]))
            vl--;
        p->headers[i] = (struct mb_http_header){
            .name = p->head.data + f->name_off, .name_len = f->name_len, .value = v, .value_len = vl};
    }
    struct mb_http_request *q = &p->req;
    q->method = hp->method;
    q->method_name = http_method_str((enum http_method)hp->method);
    q->target = p->head.data;
    q->path = p->head.data + path_off;
    q->path_len = cut;
    q->query = p->head.data + query_off;
    q->headers = p->headers;
    q->header_count = p->nfields;
    q->http_major = hp->http_major;
    q->http_minor = hp->http_minor;
    q->keep_alive = http_should_keep_alive(hp) != 0;
    q->body = "";
    q->body_len = 0;
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    struct mb_http_reader *r = hp->data;
    if (finish_head(r))
        return -1;
    r->phase = MB_HTTP_PHASE_BODY;
    bool chunked = (hp->flags & F_CHUNKED) != 0;
    bool has_length = hp->content_length != ULLONG_MAX && !chunked;
    if (has_length && hp->content_length > r->limits->max_body_bytes)
        return reader_fail(r, 413, "Request body too large");
    size_t elen = 0;
    const char *expect = mb_http_header_get(&r->cur->req, "Expect", &elen);
    if (expect) {
        if (elen != 12 || strncasecmp(expect, "100-continue", 12) != 0)
            return reader_fail(r, 417, "Unsupported expectation");
        if (hp->http_major == 1 && hp->http_minor >= 1 &&
            (chunked || (has_length && hp->content_length > 0)))
            r->expect_continue = true;
    }
    if (hp->upgrade)
        r->upgrade = true;
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct mb_http_reader *r = hp->data;
    r->expect_continue = false;
    int rc = mb_buf_append(&r->cur->body, at, len);
    if (rc == -E2BIG)
        return reader_fail(r, 413, "Request body too large");
    if (rc)
        return reader_fail(r, 503, "Out of memory");
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    struct mb_http_reader *r = hp->data;
    struct mb_http_parsed *p = r->cur;
    r->expect_continue = false;
    if (p->body.data) {
        p->req.body = p->body.data;
        p->req.body_len = p->body.len;
    }
    r->complete = true;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings reader_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void mb_http_reader_init(struct mb_http_reader *r, const struct mb_http_limits *limits)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->parser.data = r;
    r->limits = limits;
}

void mb_http_reader_dispose(struct mb_http_reader *r)
{
    mb_http_parsed_free(r->cur);
    r->cur = NULL;
    r->complete = false;
    r->expect_continue = false;
    r->phase = MB_HTTP_PHASE_STOPPED;
}

static void map_parser_error(struct mb_http_reader *r)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (e == HPE_HEADER_OVERFLOW)
        reader_fail(r, 431, "Request header block too large");
    else
        reader_fail(r, 400, http_errno_description(e));
}

int mb_http_reader_feed(struct mb_http_reader *r, const char *data, size_t len, size_t *consumed)
{
    size_t off = 0;
    int rc = MB_HTTP_READ_MORE;
    if (r->error_status) {
        rc = MB_HTTP_READ_ERROR;
        goto done;
    }
    if (r->complete) {
        rc = MB_HTTP_READ_REQUEST;
        goto done;
    }
    if (r->phase == MB_HTTP_PHASE_STOPPED) {
        off = len;
        goto done;
    }
    while (off < len) {
        size_t n = len - off;
        bool in_head = r->phase == MB_HTTP_PHASE_IDLE || r->phase == MB_HTTP_PHASE_HEADERS;
        if (in_head) {
            if (r->header_bytes >= r->limits->max_header_bytes) {
                reader_fail(r, 431, "Request header block too large");
                rc = MB_HTTP_READ_ERROR;
                break;
            }
            size_t allow = r->limits->max_header_bytes - r->header_bytes;
            if (n > allow)
                n = allow;
        }
        size_t used = http_parser_execute(&r->parser, &reader_settings, data + off, n);
        if (used > n)
            used = n;
        off += used;
        if (r->complete) {
            http_parser_pause(&r->parser, 0);
            rc = MB_HTTP_READ_REQUEST;
            break;
        }
        if (r->error_status || HTTP_PARSER_ERRNO(&r->parser) != HPE_OK) {
            map_parser_error(r);
            rc = MB_HTTP_READ_ERROR;
            break;
        }
        if (used < n) {
            reader_fail(r, 400, "Unexpected end of parsing");
            rc = MB_HTTP_READ_ERROR;
            break;
        }
        if (in_head && (r->phase == MB_HTTP_PHASE_IDLE || r->phase == MB_HTTP_PHASE_HEADERS))
            r->header_bytes += used;
    }
done:
    if (rc == MB_HTTP_READ_ERROR) {
        r->phase = MB_HTTP_PHASE_STOPPED;
        r->expect_continue = false;
        mb_http_parsed_free(r->cur);
        r->cur = NULL;
    }
    *consumed = off;
    return rc;
}

struct mb_http_parsed *mb_http_reader_take(struct mb_http_reader *r)
{
    if (!r->complete)
        return NULL;
    struct mb_http_parsed *p = r->cur;
    r->cur = NULL;
    r->complete = false;
    r->header_bytes = 0;
    r->expect_continue = false;
    r->phase = r->upgrade ? MB_HTTP_PHASE_STOPPED : MB_HTTP_PHASE_IDLE;
    return p;
}

int mb_http_reader_phase(const struct mb_http_reader *r)
{
    return r->phase;
}

bool mb_http_reader_take_continue(struct mb_http_reader *r)
{
    bool v = r->expect_continue;
    r->expect_continue = false;
    return v;
}

int mb_http_reader_error(const struct mb_http_reader *r, const char **message)
{
    if (message)
        *message = r->error_message;
    return r->error_status;
}

const char *mb_http_header_get(const struct mb_http_request *req, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->header_count; i++) {
        const struct mb_http_header *h = &req->headers[i];
        if (h->name_len == nl && strncasecmp(h->name, name, nl) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}
