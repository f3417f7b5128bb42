/* Implementation of buf.h: doubling growth clamped to the buffer's maximum. */
#include "common/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mb_buf_init(struct mb_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int buf_reserve(struct mb_buf *b, size_t extra)
{
    if (extra > b->max - b->len || b->len > b->max)
        return -E2BIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    if (cap < need)
        cap = need;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int mb_buf_reserve(struct mb_buf *b, size_t extra)
{
    return buf_reserve(b, extra);
}

int mb_buf_append(struct mb_buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int mb_buf_append_str(struct mb_buf *b, const char *s)
{
    return mb_buf_append(b, s, strlen(s));
}

int mb_buf_vprintf(struct mb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int mb_buf_printf(struct mb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mb_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int mb_buf_append_json_escaped(struct mb_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start_len = b->len;
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[6];
        size_t elen = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            elen = 6;
        }
        if (mb_buf_append(b, s + run, i - run) || mb_buf_append(b, esc, elen))
            goto too_big;
        run = i + 1;
    }
    if (mb_buf_append(b, s + run, len - run))
        goto too_big;
    return 0;
too_big:
    mb_buf_truncate(b, start_len);
    return -E2BIG;
}

void mb_buf_consume(struct mb_buf *b, size_t n)
{
    if (n >= b->len) {
        mb_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void mb_buf_truncate(struct mb_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

void mb_buf_reset(struct mb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void mb_buf_dispose(struct mb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *mb_buf_steal(struct mb_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
